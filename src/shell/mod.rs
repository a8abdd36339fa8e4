//! The wasm32 shell: maps the core onto the Workers runtime and holds no policy.
//!
//! Per request: copy the request head into the core, run [`Gateway::handle`], either
//! answer or stream the body to the origin, run [`Gateway::finish`] on the origin's
//! response head, and stream the origin's body back. The clock (`Date.now()`),
//! randomness (Web Crypto via `getrandom`), KV and `fetch` live here and nowhere
//! else. Configuration is parsed once per isolate. Nothing here panics: every
//! fallible runtime call maps to an error response.

use std::cell::RefCell;
use std::rc::Rc;

use worker::wasm_bindgen::{self, JsCast};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, console_log, event, js_sys, web_sys, Context, Env};

use crate::assets::{self, AssetCache, AssetConfig, Outcome};
use crate::config::Config;
use crate::gateway::{Entropy, EntropyError, Finish, Gateway, Step};
use crate::http::{Headers, RequestHead, Response};
use crate::store::{KvStore, ListedKey, StoreError, Tiered, MIN_TTL};

mod durable;

/// Everything built once per isolate from the configuration.
struct Isolate {
    gateway: Gateway,
    assets: AssetConfig,
    asset_cache: AssetCache,
}

thread_local! {
    /// This isolate's state, built on the first request that configures well.
    static ISOLATE: RefCell<Option<Rc<Isolate>>> = const { RefCell::new(None) };
}

/// Reads every setting from vars and secrets once; errors name the setting.
fn isolate(env: &Env) -> Result<Rc<Isolate>, String> {
    if let Some(i) = ISOLATE.with(|i| i.borrow().clone()) {
        return Ok(i);
    }
    let lookup = |name: &str| -> Option<String> {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    let gateway = Gateway::new(Config::from_lookup(&lookup).map_err(|e| e.to_string())?);
    let assets = AssetConfig::from_lookup(lookup).map_err(|e| e.to_string())?;
    let asset_cache = AssetCache::new(assets.cache_ttl);
    let isolate = Rc::new(Isolate { gateway, assets, asset_cache });
    ISOLATE.with(|i| *i.borrow_mut() = Some(isolate.clone()));
    Ok(isolate)
}

/// Web Crypto randomness.
struct WebCrypto;

impl Entropy for WebCrypto {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(buf).map_err(|e| EntropyError(e.to_string()))
    }
}

/// A Workers KV namespace as the core's [`KvStore`]. A missing binding is kept as
/// an error so that every operation fails and the configured fail mode applies.
pub(crate) struct Kv {
    binding: String,
    kv: Result<worker::kv::KvStore, String>,
}

impl Kv {
    fn new(env: &Env, binding: &str) -> Self {
        Kv { binding: binding.to_owned(), kv: env.kv(binding).map_err(|e| e.to_string()) }
    }

    fn kv(&self, op: &'static str, key: &str) -> Result<&worker::kv::KvStore, StoreError> {
        self.kv.as_ref().map_err(|e| {
            StoreError::new(op, key, format!("KV binding `{}` is not usable: {e}", self.binding))
        })
    }
}

impl KvStore for Kv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv("get", key)?
            .get(key)
            .bytes()
            .await
            .map_err(|e| StoreError::new("get", key, e.to_string()))
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let err = |e: worker::kv::KvError| StoreError::new("put", key, e.to_string());
        let mut put = self.kv("put", key)?.put_bytes(key, value).map_err(err)?;
        if let Some(ttl) = ttl {
            put = put.expiration_ttl(ttl.max(MIN_TTL));
        }
        put.execute().await.map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv("delete", key)?
            .delete(key)
            .await
            .map_err(|e| StoreError::new("delete", key, e.to_string()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedKey>, StoreError> {
        let kv = self.kv("list", prefix)?;
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let mut list = kv.list().prefix(prefix.to_owned());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page =
                list.execute().await.map_err(|e| StoreError::new("list", prefix, e.to_string()))?;
            out.extend(
                page.keys.into_iter().map(|k| ListedKey { name: k.name, expiration: k.expiration }),
            );
            match page.cursor {
                Some(c) if !page.list_complete => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }
}

fn now() -> u64 {
    // Date.now() is milliseconds since the epoch as a float; never negative here.
    (js_sys::Date::now() / 1000.0) as u64
}

fn head_of(req: &web_sys::Request) -> RequestHead {
    RequestHead::new(&req.method(), &req.url(), headers_from_js(&req.headers()))
}

fn headers_from_js(js: &web_sys::Headers) -> Headers {
    let mut headers = Headers::new();
    if let Ok(Some(iter)) = js_sys::try_iter(js) {
        for entry in iter.flatten() {
            let pair: js_sys::Array = entry.unchecked_into();
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                headers.append(&name, value);
            }
        }
    }
    headers
}

fn headers_to_js(headers: &Headers) -> Result<web_sys::Headers, wasm_bindgen::JsValue> {
    let js = web_sys::Headers::new()?;
    for (name, value) in headers.iter() {
        js.append(name, value)?;
    }
    Ok(js)
}

fn to_js(resp: Response) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(resp.status);
    init.set_headers(&headers_to_js(&resp.headers)?.into());
    let mut body = resp.body;
    web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut body), &init)
}

fn log_all(lines: &[String]) {
    for line in lines {
        console_log!("edge-session: {line}");
    }
}

/// Sends the request upstream with its original body, without following redirects.
async fn fetch_origin(
    url: &str,
    req: &web_sys::Request,
    headers: &Headers,
) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&headers_to_js(headers)?.into());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let upstream = web_sys::Request::new_with_str_and_init(url, &init)?;
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let resp = JsFuture::from(scope.fetch_with_request(&upstream)).await?;
    resp.dyn_into()
}

async fn serve(
    req: web_sys::Request,
    env: Env,
) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
    let isolate = match isolate(&env) {
        Ok(i) => i,
        Err(e) => {
            console_error!("edge-session: {e}");
            return to_js(Response::error(500, "misconfigured", &e));
        }
    };
    let gateway = &isolate.gateway;
    let head = head_of(&req);
    let now = now();

    // Static assets first: answered from KV with no session work at all.
    let asset_store = Kv::new(&env, "ASSETS");
    let client = client_id(&head);
    let served =
        assets::serve(&asset_store, &isolate.asset_cache, &head, &isolate.assets, now, &client)
            .await;
    log_all(&served.log);
    let deploy_origin = match served.outcome {
        Outcome::Respond(resp) => return to_js(resp),
        Outcome::Forward { origin } => origin,
    };

    let binding =
        env.var("DENYLIST_BINDING").map(|v| v.to_string()).unwrap_or_else(|_| "DENYLIST".into());
    let config = gateway.config();
    let denylist = Tiered {
        fast: Kv::new(&env, &binding),
        strong: config.strong_revocation().then(|| durable::DoStore::new(&env)),
        strong_reads: config.is_strong(&head.path),
    };
    let mut entropy = WebCrypto;
    let mut log = Vec::new();
    let step = gateway.handle(&head, &denylist, &mut entropy, now, &mut log).await;
    let mut forward = match step {
        Step::Respond(resp) => {
            log_all(&log);
            return to_js(resp);
        }
        Step::Forward(f) => f,
    };
    forward.pin_deploy(&head, served.deploy.as_ref().map(|d| d.as_str()), deploy_origin.as_deref());
    let origin = match fetch_origin(&forward.url, &req, &forward.headers).await {
        Ok(r) => r,
        Err(e) => {
            log.push(format!("origin fetch failed: {}", js_error(&e)));
            log_all(&log);
            return to_js(Response::error(
                502,
                "origin_unreachable",
                "the origin server could not be reached",
            ));
        }
    };
    let mut headers = headers_from_js(&origin.headers());
    let status = origin.status();
    let finish =
        gateway.finish(forward.pending, &mut headers, &denylist, &mut entropy, now, &mut log).await;
    log_all(&log);
    match finish {
        Finish::Replace(resp) => to_js(resp),
        Finish::Pass => {
            let init = web_sys::ResponseInit::new();
            init.set_status(status);
            init.set_status_text(&origin.status_text());
            init.set_headers(&headers_to_js(&headers)?.into());
            web_sys::Response::new_with_opt_readable_stream_and_init(origin.body().as_ref(), &init)
        }
    }
}

/// A stable identifier of the client for canary assignment, before any session
/// work: its address and user agent (a new client is then pinned by cookie).
fn client_id(head: &RequestHead) -> String {
    let ip = head.headers.get("cf-connecting-ip").unwrap_or_default();
    let ua = head.headers.get("user-agent").unwrap_or_default();
    format!("{ip}|{ua}")
}

fn js_error(e: &wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

#[event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<web_sys::Response> {
    serve(req, env).await.map_err(|e| worker::Error::RustError(js_error(&e)))
}
