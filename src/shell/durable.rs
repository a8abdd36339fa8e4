//! The strongly consistent revocation store: one Durable Object (class
//! `Revocations`, binding `REVOCATION_DO`, instance named `denylist`) holding the
//! same keys as the `DENYLIST` KV namespace, with expirations.
//!
//! Its HTTP interface is private to the worker (the object is not routable from the
//! internet): `GET /get?key=`, `PUT /put?key=&ttl=` (body = value),
//! `DELETE /delete?key=`. Expired entries are invisible at once and deleted by an
//! alarm. [`DoStore`] implements the core's `KvStore` on top of it.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, js_sys, DurableObject, Env, Method, Request, Response, State};

use super::drive::Io;
use super::{js_error, now};
use crate::b64;
use crate::store::{KvStore, ListedKey, StoreError, MIN_TTL};

const INSTANCE: &str = "denylist";
/// How often the alarm sweeps expired entries.
const SWEEP_MS: f64 = 3_600_000.0;

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    /// base64url of the value.
    v: String,
    /// Expiry, Unix seconds; 0 = never.
    exp: u64,
}

/// The Durable Object class.
#[durable_object]
pub struct Revocations {
    state: State,
}

impl DurableObject for Revocations {
    fn new(state: State, _env: Env) -> Self {
        Revocations { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let head =
            crate::http::RequestHead::new("GET", &req.inner().url(), crate::http::Headers::new());
        // Values here are base64url or digits: no percent-decoding needed.
        let key = crate::http::query_param(&head.query, "key")
            .and_then(b64::decode_url)
            .and_then(|k| String::from_utf8(k).ok());
        let Some(key) = key else {
            return Response::error("missing or malformed key", 400);
        };
        let storage = self.state.storage();
        match (req.method(), head.path.as_str()) {
            (Method::Get, "/get") => match storage.get::<Stored>(&key).await? {
                Some(s) if s.exp == 0 || s.exp > now() => Response::ok(s.v),
                Some(_) => {
                    storage.delete(&key).await?;
                    Response::error("not found", 404)
                }
                None => Response::error("not found", 404),
            },
            (Method::Put, "/put") => {
                let ttl = crate::http::query_param(&head.query, "ttl")
                    .and_then(|t| t.parse::<u64>().ok());
                let value = req.bytes().await?;
                let exp = ttl.map_or(0, |t| now().saturating_add(t.max(MIN_TTL)));
                storage.put(&key, Stored { v: b64::encode_url(&value), exp }).await?;
                if storage.get_alarm().await?.is_none() {
                    storage.set_alarm((worker::js_sys::Date::now() + SWEEP_MS) as i64).await?;
                }
                Response::empty()
            }
            (Method::Delete, "/delete") => {
                storage.delete(&key).await?;
                Response::empty()
            }
            _ => Response::error("unknown operation", 404),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let storage = self.state.storage();
        let all = storage.list().await?;
        let now = now();
        let mut expired = Vec::new();
        let mut remaining = 0usize;
        for entry in all.entries() {
            let Ok(pair) = entry else { continue };
            let pair: worker::js_sys::Array = wasm_bindgen::JsCast::unchecked_into(pair);
            let key = pair.get(0).as_string().unwrap_or_default();
            let stored: Option<Stored> = stored_from_js(pair.get(1));
            match stored {
                Some(s) if s.exp != 0 && s.exp <= now => expired.push(key),
                _ => remaining += 1,
            }
        }
        if !expired.is_empty() {
            storage.delete_multiple(expired).await?;
        }
        if remaining > 0 {
            storage.set_alarm((worker::js_sys::Date::now() + SWEEP_MS) as i64).await?;
        }
        Response::empty()
    }
}

/// Reads a stored entry from its JS form (an object with `v` and `exp`).
fn stored_from_js(value: wasm_bindgen::JsValue) -> Option<Stored> {
    let json = worker::js_sys::JSON::stringify(&value).ok()?.as_string()?;
    serde_json::from_str(&json).ok()
}

// The client side in JavaScript: one crossing per call, and none of `worker`'s
// `Request`/`RequestInit`/`Stub` machinery in the binary (it was 17 KB of the wasm).
#[wasm_bindgen(inline_js = r#"
export function doCall(env, binding, name, method, url, body) {
  const ns = env[binding];
  if (ns == null || typeof ns.idFromName !== "function") {
    throw new Error("it is not defined (wrangler.toml: [[durable_objects.bindings]])");
  }
  const init = { method };
  // A copy: the slice is a view of wasm memory, which the fetch outlives.
  if (method === "PUT") init.body = body.slice();
  return ns.get(ns.idFromName(name)).fetch(url, init).then(async (r) => [r.status, await r.text()]);
}
"#)]
extern "C" {
    /// `fetch(url, {method, body})` on the Durable Object named `name` of the
    /// namespace `env[binding]`, as a promise of `[status, body text]`; the body is
    /// sent for `PUT` only.
    #[wasm_bindgen(catch, js_name = doCall)]
    fn do_call(
        env: &Env,
        binding: &str,
        name: &str,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<js_sys::Promise, JsValue>;
}

/// The Durable Object as the core's [`KvStore`].
pub(crate) struct DoStore<'a> {
    env: &'a Env,
    /// The namespace's binding name (`Bindings::revocation_do`).
    binding: &'a str,
}

impl<'a> DoStore<'a> {
    pub(crate) fn new(env: &'a Env, binding: &'a str) -> Self {
        DoStore { env, binding }
    }

    /// One call: its status and body text.
    async fn call(
        &self,
        op: &'static str,
        key: &str,
        method: &str,
        path: &str,
        query: String,
        body: &[u8],
    ) -> Result<(u16, String), StoreError> {
        let url = format!("https://revocations.internal{path}?{query}");
        let binding = self.binding;
        let promise = do_call(self.env, binding, INSTANCE, method, &url, body).map_err(|e| {
            let e = js_error(&e);
            StoreError::new(
                op,
                key,
                format!("Durable Object binding `{binding}` is not usable: {e}"),
            )
        })?;
        let pair: js_sys::Array = Io::new(promise)
            .await
            .map_err(|e| {
                let e = js_error(&e);
                StoreError::new(op, key, format!("Durable Object `{binding}` did not answer: {e}"))
            })?
            .unchecked_into();
        let status = pair.get(0).as_f64().map_or(0, |s| s as u16);
        Ok((status, pair.get(1).as_string().unwrap_or_default()))
    }
}

/// The query of a call: the key as base64url (URL-safe as is), and the TTL.
fn query(key: &str, ttl: Option<u64>) -> String {
    let key = b64::encode_url(key.as_bytes());
    match ttl {
        Some(t) => format!("key={key}&ttl={t}"),
        None => format!("key={key}"),
    }
}

impl KvStore for DoStore<'_> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.call("get", key, "GET", "/get", query(key, None), &[]).await? {
            (404, _) => Ok(None),
            (200, text) => b64::decode_url(&text)
                .map(Some)
                .ok_or_else(|| StoreError::new("get", key, "corrupt entry")),
            (s, _) => Err(StoreError::new("get", key, format!("Durable Object answered {s}"))),
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        match self.call("put", key, "PUT", "/put", query(key, ttl), value).await? {
            (200..=299, _) => Ok(()),
            (s, _) => Err(StoreError::new("put", key, format!("Durable Object answered {s}"))),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.call("delete", key, "DELETE", "/delete", query(key, None), &[]).await? {
            (200..=299, _) => Ok(()),
            (s, _) => Err(StoreError::new("delete", key, format!("Durable Object answered {s}"))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        Err(StoreError::new(
            "list",
            prefix,
            "listing reads the KV namespace, not the Durable Object",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The binding name the worker uses (`pipeline::Bindings::revocation_do`).
    const BINDING: &str = "REVOCATION_DO";

    // A namespace that answers like `Revocations` (values as base64url, 404 when
    // missing), 500 for the key `boom`, a rejected fetch for `down`, and a broken
    // entry for `bad`; it records every call.
    #[wasm_bindgen(inline_js = r#"
    export function fakeEnv(binding) {
      const calls = [];
      const store = new Map();
      const ns = {
        idFromName: (name) => ({ name }),
        get: (id) => ({
          fetch: async (url, init) => {
            const u = new URL(url);
            const key = Buffer.from(u.searchParams.get("key"), "base64url").toString();
            const b = init.body;
            calls.push({
              object: id.name, method: init.method, path: u.pathname + u.search,
              owned: b === undefined ? null : b.byteOffset === 0 && b.buffer.byteLength === b.byteLength,
            });
            if (key === "boom") return new Response("no", { status: 500 });
            if (key === "down") throw new Error("network lost");
            if (key === "bad") return new Response("*not base64*");
            if (u.pathname === "/put") store.set(key, Buffer.from(b).toString("base64url"));
            if (u.pathname === "/delete") store.delete(key);
            if (u.pathname !== "/get") return new Response(null, { status: 200 });
            return store.has(key) ? new Response(store.get(key)) : new Response("not found", { status: 404 });
          },
        }),
      };
      return { env: { [binding]: ns }, calls };
    }
    "#)]
    extern "C" {
        #[wasm_bindgen(js_name = fakeEnv)]
        fn fake_env(binding: &str) -> JsValue;
    }

    fn field(o: &JsValue, name: &str) -> JsValue {
        js_sys::Reflect::get(o, &JsValue::from_str(name)).unwrap()
    }

    /// The recorded calls as `(object, method, path, owned body)`.
    fn calls(fake: &JsValue) -> Vec<(String, String, String, Option<bool>)> {
        let list: js_sys::Array = field(fake, "calls").unchecked_into();
        let out = list
            .iter()
            .map(|c| {
                let s = |n| field(&c, n).as_string().unwrap();
                (s("object"), s("method"), s("path"), field(&c, "owned").as_bool())
            })
            .collect();
        list.set_length(0);
        out
    }

    #[wasm_bindgen_test]
    async fn the_store_round_trips_through_the_named_object() {
        let fake = fake_env(BINDING);
        let env: Env = field(&fake, "env").unchecked_into();
        let store = DoStore::new(&env, BINDING);
        let k = b64::encode_url(b"sid:x");
        assert_eq!(store.get("sid:x").await.unwrap(), None);
        let get = ("denylist".into(), "GET".into(), format!("/get?key={k}"), None);
        assert_eq!(calls(&fake), std::slice::from_ref(&get));

        let value = [0u8, 255, 1, 128];
        store.put("sid:x", &value, Some(90)).await.unwrap();
        let put = ("denylist".into(), "PUT".into(), format!("/put?key={k}&ttl=90"), Some(true));
        assert_eq!(calls(&fake), [put], "the body is a copy, not a view of wasm memory");
        assert_eq!(store.get("sid:x").await.unwrap().as_deref(), Some(&value[..]));
        store.delete("sid:x").await.unwrap();
        assert_eq!(store.get("sid:x").await.unwrap(), None);
        let del = ("denylist".into(), "DELETE".into(), format!("/delete?key={k}"), None);
        assert_eq!(calls(&fake), [get.clone(), del, get]);
    }

    #[wasm_bindgen_test]
    async fn failures_are_store_errors_that_say_what_went_wrong() {
        let fake = fake_env(BINDING);
        let env: Env = field(&fake, "env").unchecked_into();
        let store = DoStore::new(&env, BINDING);
        fn err<T>(r: Result<T, StoreError>) -> String {
            r.map(|_| ()).unwrap_err().to_string()
        }
        assert!(err(store.get("boom").await).contains("Durable Object answered 500"));
        assert!(err(store.put("boom", b"v", None).await).contains("Durable Object answered 500"));
        assert!(err(store.delete("boom").await).contains("Durable Object answered 500"));
        assert!(err(store.get("bad").await).contains("corrupt entry"));
        let down = err(store.get("down").await);
        assert!(
            down.contains("Durable Object `REVOCATION_DO` did not answer: network lost"),
            "{down}"
        );
        assert!(err(store.list("").await).contains("listing reads the KV namespace"));

        let fake = fake_env("SOMETHING_ELSE");
        let env: Env = field(&fake, "env").unchecked_into();
        let missing = err(DoStore::new(&env, BINDING).get("sid:x").await);
        assert!(
            missing.contains(
                "Durable Object binding `REVOCATION_DO` is not usable: it is not defined"
            ),
            "{missing}"
        );
    }
}
