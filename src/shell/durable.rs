//! The strongly consistent revocation store: one Durable Object (class
//! `Revocations`, binding `REVOCATION_DO`, instance named `denylist`) holding the
//! same keys as the `DENYLIST` KV namespace, with expirations.
//!
//! Its HTTP interface is private to the worker (the object is not routable from the
//! internet): `GET /get?key=`, `PUT /put?key=&ttl=` (body = value),
//! `DELETE /delete?key=`. Expired entries are invisible at once and deleted by an
//! alarm. [`DoStore`] implements the core's `KvStore` on top of it.

use worker::{
    durable_object, wasm_bindgen, DurableObject, Env, Method, Request, RequestInit, Response, State,
};

use super::now;
use crate::b64;
use crate::store::{KvStore, ListedKey, StoreError, MIN_TTL};

/// Binding name of the Durable Object namespace.
pub const BINDING: &str = "REVOCATION_DO";
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

/// A query parameter's raw value (`name=value`; values here are base64url or digits,
/// so no percent-decoding and no URL parser — which would link Unicode tables).
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
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
        let key = param(&head.query, "key")
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
                let ttl = param(&head.query, "ttl").and_then(|t| t.parse::<u64>().ok());
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

/// The Durable Object as the core's [`KvStore`].
pub(crate) struct DoStore {
    stub: Result<worker::Stub, String>,
}

impl DoStore {
    pub(crate) fn new(env: &Env) -> Self {
        let stub = env
            .durable_object(BINDING)
            .and_then(|ns| ns.get_by_name(INSTANCE))
            .map_err(|e| format!("Durable Object binding `{BINDING}` is not usable: {e}"));
        DoStore { stub }
    }

    async fn call(
        &self,
        op: &'static str,
        key: &str,
        method: Method,
        path: &str,
        query: String,
        body: Option<&[u8]>,
    ) -> Result<Response, StoreError> {
        let stub = self.stub.as_ref().map_err(|e| StoreError::new(op, key, e.clone()))?;
        let err = |e: worker::Error| StoreError::new(op, key, e.to_string());
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(body) = body {
            init.with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
        }
        let url = format!("https://revocations.internal{path}?{query}");
        let req = Request::new_with_init(&url, &init).map_err(err)?;
        stub.fetch_with_request(req).await.map_err(err)
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

impl KvStore for DoStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut resp = self.call("get", key, Method::Get, "/get", query(key, None), None).await?;
        match resp.status_code() {
            404 => Ok(None),
            200 => {
                let text =
                    resp.text().await.map_err(|e| StoreError::new("get", key, e.to_string()))?;
                b64::decode_url(&text)
                    .map(Some)
                    .ok_or_else(|| StoreError::new("get", key, "corrupt entry"))
            }
            s => Err(StoreError::new("get", key, format!("Durable Object answered {s}"))),
        }
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let resp = self.call("put", key, Method::Put, "/put", query(key, ttl), Some(value)).await?;
        match resp.status_code() {
            200..=299 => Ok(()),
            s => Err(StoreError::new("put", key, format!("Durable Object answered {s}"))),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let resp =
            self.call("delete", key, Method::Delete, "/delete", query(key, None), None).await?;
        match resp.status_code() {
            200..=299 => Ok(()),
            s => Err(StoreError::new("delete", key, format!("Durable Object answered {s}"))),
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
