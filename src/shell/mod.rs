//! The wasm32 shell: maps the core onto the Workers runtime and holds no policy.
//!
//! Per request: copy the request head into the core, hand it to [`Worker::run`]
//! (`crate::pipeline`, which decides everything) with the runtime's pieces (KV, the
//! Durable Object, `fetch` with the client's body as [`Upstream`]), then answer
//! with what it says, streaming the origin's body back. The clock (`Date.now()`),
//! randomness (Web Crypto via `getrandom`), KV and `fetch` live here and nowhere
//! else. Configuration is parsed once per isolate. Nothing here panics: every
//! fallible runtime call maps to an error response. Each request's future is run by
//! [`drive`], with JavaScript awaiting its KV reads and origin fetch.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{self, JsCast, JsValue};
use worker::{console_error, console_log, js_sys, web_sys, Env};

use crate::gateway::{Entropy, EntropyError};
use crate::http::{HeaderChanges, Headers, RequestHead, Response};
use crate::pipeline::{Answer, Denylist, Upstream, UpstreamError, Worker};
use crate::store::{KvStore, ListedKey, StoreError, MIN_TTL};
use crate::telemetry::{DataPoint, Metrics, Record};

mod drive;
mod durable;

use drive::Io;

// Hot-path glue in JavaScript: one wasm↔JS crossing per header list, fetch or
// response instead of one per header, property or init field (each crossing costs
// string copies and V8 API calls, measured with the V8 profiler). Header lists cross as
// `name\nvalue\n…`: no valid header name or value holds `\n`; when one does, the
// callers fall back to the per-header path, so invalid headers fail exactly as before.
#[wasm_bindgen(inline_js = r#"
export function headersText(h) {
  // forEach, not for-of: in workerd it takes half the time (no iterator object and
  // no [name, value] array per entry); it visits the same entries in the same order.
  let s = "";
  let ok = true;
  h.forEach((v, k) => {
    if (typeof k !== "string" || typeof v !== "string" || k.includes("\n") || v.includes("\n")) ok = false;
    else if (ok) s += k + "\n" + v + "\n";
  });
  return ok ? s : undefined;
}
function edit(h, replaced, values) {
  if (replaced) for (const n of replaced.split("\n")) h.delete(n);
  const p = values.split("\n");
  for (let i = 0; i + 1 < p.length; i += 2) h.append(p[i], p[i + 1]);
  return h;
}
// The origin gets `ms` to send its response head; a long body (a stream, a download)
// is never cut. A timeout rejects with TIMED_OUT as its message. The fetch left behind
// is not aborted: an AbortSignal on every origin fetch cost more CPU per request than
// the timer itself (measured A/B in workerd), and the runtime cancels an unfinished
// fetch when the request it belongs to ends; a retry meanwhile goes to another origin.
const TIMED_OUT = "edge-session: no response head within ORIGIN_TIMEOUT";
function boundedFetch(url, init, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(TIMED_OUT)), ms);
    fetch(url, init).then(
      (r) => (clearTimeout(timer), resolve(r)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
export function fetchManual(url, method, headers, body, ms) {
  const init = { method, headers, redirect: "manual" };
  if (body != null) init.body = body;
  return boundedFetch(url, init, ms);
}
export function timedOutMessage() {
  return TIMED_OUT;
}
export function respond(body, status, headers) {
  // A null-body status (304 above all) gets no body at all: workerd warns about an
  // empty one on every such answer.
  if (body.length === 0 && NULL_BODY.includes(status)) body = null;
  return new Response(body, { status, headers: typeof headers === "string" ? edit(new Headers(), "", headers) : headers });
}
const NULL_BODY = [101, 103, 204, 205, 304];
export function pass(origin, headers) {
  return new Response(origin.body, { status: origin.status, statusText: origin.statusText, headers });
}
export function fetchEdited(url, req, replaced, values, ms) {
  const init = { method: req.method, headers: edit(new Headers(req.headers), replaced, values), redirect: "manual" };
  if (req.body != null) init.body = req.body;
  return boundedFetch(url, init, ms);
}
export function passEdited(origin, replaced, values) {
  const r = new Response(origin.body, origin);
  edit(r.headers, replaced, values);
  return r;
}
export function writePoint(ds, blobs, d0, d1, index) {
  ds.writeDataPoint({ blobs, doubles: [d0, d1], indexes: [index] });
}
export function kvPut(ns, key, value, ttl) {
  return ns.put(key, value, ttl > 0 ? { expirationTtl: ttl } : undefined);
}
export function kvDelete(ns, key) {
  return ns.delete(key);
}
export function kvGetBytes(ns, key) {
  return ns.get(key, "arrayBuffer");
}
export function kvGetPair(ns, a, b) {
  return ns.get([a, b], "text").then((m) => [m.get(a) ?? null, m.get(b) ?? null]);
}
"#)]
extern "C" {
    /// `name\nvalue\n…` of a `Headers`, or `None` if an entry cannot be written so.
    #[wasm_bindgen(js_name = headersText)]
    fn headers_text(h: &web_sys::Headers) -> Option<String>;
    /// `fetch(url, {method, headers, body, redirect: "manual"})` (the path for header
    /// lists that cannot cross as text), with at most `ms` for the response head.
    #[wasm_bindgen(catch, js_name = fetchManual)]
    fn fetch_manual(
        url: &str,
        method: &str,
        headers: &web_sys::Headers,
        body: Option<web_sys::ReadableStream>,
        ms: u32,
    ) -> Result<js_sys::Promise, JsValue>;
    /// `ns.put(key, value, {expirationTtl: ttl})` (no expiry when `ttl` is 0).
    #[wasm_bindgen(catch, js_name = kvPut)]
    fn kv_put(ns: &JsValue, key: &str, value: &[u8], ttl: f64) -> Result<js_sys::Promise, JsValue>;
    /// `ns.delete(key)`.
    #[wasm_bindgen(catch, js_name = kvDelete)]
    fn kv_delete(ns: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue>;
    /// `dataset.writeDataPoint({blobs, doubles: [d0, d1], indexes: [index]})`.
    #[wasm_bindgen(catch, js_name = writePoint)]
    fn write_point(
        dataset: &JsValue,
        blobs: js_sys::Array,
        d0: f64,
        d1: f64,
        index: &str,
    ) -> Result<(), JsValue>;
    /// The message of a fetch that gave no response head in time.
    #[wasm_bindgen(js_name = timedOutMessage)]
    fn timed_out_message() -> String;
    /// `new Response(body, {status, headers})`, with no body for an empty one of a
    /// null-body status (204, 304, …); `headers` is a `Headers` or a `name\nvalue\n…`
    /// string.
    #[wasm_bindgen(catch)]
    fn respond(body: &[u8], status: u16, headers: &JsValue) -> Result<web_sys::Response, JsValue>;
    /// `new Response(origin.body, {status, statusText, headers})` of the origin's answer
    /// (the path for header lists that cannot cross as text).
    #[wasm_bindgen(catch)]
    fn pass(
        origin: &web_sys::Response,
        headers: &web_sys::Headers,
    ) -> Result<web_sys::Response, JsValue>;
    /// `fetch(url, {method, headers, body, redirect: "manual"})` with `req`'s method,
    /// body and headers, the headers edited: each name in `replaced` (`\n`-separated)
    /// deleted, then each `name\nvalue\n` pair of `values` appended.
    #[wasm_bindgen(catch, js_name = fetchEdited)]
    fn fetch_edited(
        url: &str,
        req: &web_sys::Request,
        replaced: &str,
        values: &str,
        ms: u32,
    ) -> Result<js_sys::Promise, JsValue>;
    /// `new Response(origin.body, origin)` with its headers edited as in `fetchEdited`.
    #[wasm_bindgen(catch, js_name = passEdited)]
    fn pass_edited(
        origin: &web_sys::Response,
        replaced: &str,
        values: &str,
    ) -> Result<web_sys::Response, JsValue>;
    /// `ns.get(key, "arrayBuffer")`.
    #[wasm_bindgen(catch, js_name = kvGetBytes)]
    fn kv_get_bytes(ns: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue>;
    /// `ns.get([a, b], "text")` (one bulk read), as `[value of a, value of b]`.
    #[wasm_bindgen(catch, js_name = kvGetPair)]
    fn kv_get_pair(ns: &JsValue, a: &str, b: &str) -> Result<js_sys::Promise, JsValue>;
}

thread_local! {
    /// This isolate's worker, built on the first request that configures well.
    static ISOLATE: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
}

/// Reads every setting from secrets and vars once; errors name the setting.
fn isolate(env: &Env) -> Result<Rc<Worker>, String> {
    if let Some(w) = ISOLATE.with(|i| i.borrow().clone()) {
        return Ok(w);
    }
    let lookup = |name: &str| -> Option<String> {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    let worker = Rc::new(Worker::from_lookup(lookup).map_err(|e| e.to_string())?);
    ISOLATE.with(|i| *i.borrow_mut() = Some(worker.clone()));
    Ok(worker)
}

/// Web Crypto randomness.
struct WebCrypto;

impl Entropy for WebCrypto {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(buf).map_err(|e| EntropyError(e.to_string()))
    }
}

/// A Workers KV namespace as the core's [`KvStore`]. The binding is looked up when
/// an operation runs (a cached deploy list needs none); a missing binding fails
/// every operation, so that the configured fail mode applies.
pub(crate) struct Kv<'a> {
    env: &'a Env,
    binding: &'a str,
}

impl<'a> Kv<'a> {
    fn new(env: &'a Env, binding: &'a str) -> Self {
        Kv { env, binding }
    }

    fn unusable(&self, op: &'static str, key: &str, e: impl fmt::Display) -> StoreError {
        StoreError::new(op, key, format!("KV binding `{}` is not usable: {e}", self.binding))
    }

    /// The namespace object, as `worker`'s `Env::kv` finds it (without its method
    /// lookups): only `get` runs per request.
    fn namespace(&self, op: &'static str, key: &str) -> Result<JsValue, StoreError> {
        let ns = js_sys::Reflect::get(self.env, &JsValue::from_str(self.binding))
            .map_err(|e| self.unusable(op, key, js_error(&e)))?;
        if ns.is_undefined() {
            return Err(self.unusable(op, key, "no such binding in wrangler.toml"));
        }
        Ok(ns)
    }

    fn kv(&self, op: &'static str, key: &str) -> Result<worker::kv::KvStore, StoreError> {
        self.env.kv(self.binding).map_err(|e| self.unusable(op, key, e))
    }
}

impl KvStore for Kv<'_> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let ns = self.namespace("get", key)?;
        let err = |e: JsValue| StoreError::new("get", key, js_error(&e));
        let value = Io::new(kv_get_bytes(&ns, key).map_err(err)?).await.map_err(err)?;
        match value.dyn_into::<js_sys::ArrayBuffer>() {
            Ok(buffer) => Ok(Some(js_sys::Uint8Array::new(&buffer).to_vec())),
            Err(_) => Ok(None),
        }
    }

    /// One bulk read (`get([a, b], "text")`): one KV operation instead of two. Values
    /// come back as text; the denylist only writes JSON, and a value that is not
    /// UTF-8 still counts as present.
    async fn get_pair(&self, keys: [&str; 2]) -> Result<[Option<Vec<u8>>; 2], StoreError> {
        let [a, b] = keys;
        let ns = self.namespace("get", a)?;
        let err = |e: JsValue| StoreError::new("get", a, js_error(&e));
        let pair = Io::new(kv_get_pair(&ns, a, b).map_err(err)?).await.map_err(err)?;
        let value = |i: u32| {
            let v = js_sys::Reflect::get_u32(&pair, i).map_err(err)?;
            if v.is_null() || v.is_undefined() {
                return Ok(None);
            }
            // Anything but text would be a runtime change: fail (the fail mode
            // applies) rather than read it as "not revoked".
            let text = v.as_string().ok_or_else(|| {
                StoreError::new(
                    "get",
                    keys[i as usize],
                    "the bulk read returned a value that is not text",
                )
            })?;
            Ok(Some(text.into_bytes()))
        };
        Ok([value(0)?, value(1)?])
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let ns = self.namespace("put", key)?;
        let err = |e: JsValue| StoreError::new("put", key, js_error(&e));
        let ttl = ttl.map_or(0.0, |t| t.max(MIN_TTL) as f64);
        Io::new(kv_put(&ns, key, value, ttl).map_err(err)?).await.map_err(err)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let ns = self.namespace("delete", key)?;
        let err = |e: JsValue| StoreError::new("delete", key, js_error(&e));
        Io::new(kv_delete(&ns, key).map_err(err)?).await.map_err(err)?;
        Ok(())
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

/// The clock of the shell and its Durable Object (Unix seconds).
fn now() -> u64 {
    // Date.now() is milliseconds since the epoch as a float; never negative here.
    (js_sys::Date::now() / 1000.0) as u64
}

fn head_of(req: &web_sys::Request) -> RequestHead {
    RequestHead::new(&req.method(), &req.url(), headers_from_js(&req.headers()))
}

/// Copies a JS header list into the core: as one `name\nvalue\n…` string, else
/// entry by entry.
fn headers_from_js(js: &web_sys::Headers) -> Headers {
    match headers_text(js) {
        Some(text) => Headers::from_lines(text),
        None => headers_from_js_iter(js),
    }
}

fn headers_from_js_iter(js: &web_sys::Headers) -> Headers {
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

/// The `headers` argument of the JS helpers: `name\nvalue\n…` (one crossing), or a
/// `Headers` built entry by entry when an entry holds `\n` (which `append` refuses,
/// as it did before).
fn headers_arg(headers: &Headers) -> Result<JsValue, JsValue> {
    match pairs_text(headers.iter()) {
        Some(text) => Ok(JsValue::from_str(&text)),
        None => headers_to_js(headers).map(JsValue::from),
    }
}

/// `name\nvalue\n…` of `pairs`, or `None` when a name or value holds `\n`.
fn pairs_text<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut text = String::new();
    for (name, value) in pairs {
        if name.contains('\n') || value.contains('\n') {
            return None;
        }
        text.push_str(name);
        text.push('\n');
        text.push_str(value);
        text.push('\n');
    }
    Some(text)
}

fn headers_to_js(headers: &Headers) -> Result<web_sys::Headers, JsValue> {
    let js = web_sys::Headers::new()?;
    for (name, value) in headers.iter() {
        js.append(name, value)?;
    }
    Ok(js)
}

fn to_js(resp: Response) -> Result<web_sys::Response, JsValue> {
    respond(&resp.body, resp.status, &headers_arg(&resp.headers)?)
}

fn log_all(lines: &[String]) {
    for line in lines {
        console_log!("edge-session: {line}");
    }
}

/// `name\n…` of the replaced names and `name\nvalue\n…` of the new entries, or `None`
/// when an entry holds `\n` (then the callers send the whole list entry by entry, so
/// that the runtime refuses the invalid header as it would have).
fn changes_text(changes: &HeaderChanges<'_>) -> Option<(String, String)> {
    if changes.replaced.iter().any(|n| n.contains('\n')) {
        return None;
    }
    Some((changes.replaced.join("\n"), pairs_text(changes.values.iter().copied())?))
}

/// Sends the request upstream with its original body, without following redirects,
/// waiting at most `ms` for the response head.
/// Only the header changes cross into JavaScript; the runtime copies the rest.
async fn fetch_origin(
    url: &str,
    req: &web_sys::Request,
    original: &Headers,
    headers: &Headers,
    ms: u32,
) -> Result<web_sys::Response, JsValue> {
    let promise = match changes_text(&headers.changes_from(original)) {
        Some((replaced, values)) => fetch_edited(url, req, &replaced, &values, ms)?,
        None => fetch_manual(url, &req.method(), &headers_to_js(headers)?, req.body(), ms)?,
    };
    Io::new(promise).await?.dyn_into()
}

/// The origin's response with the core's header changes (status, body and the
/// other headers as the origin sent them).
fn pass_origin(
    origin: &web_sys::Response,
    original: &Headers,
    headers: &Headers,
) -> Result<web_sys::Response, JsValue> {
    match changes_text(&headers.changes_from(original)) {
        Some((replaced, values)) => pass_edited(origin, &replaced, &values),
        None => pass(origin, &headers_to_js(headers)?),
    }
}

async fn serve(req: web_sys::Request, env: Env) -> Result<web_sys::Response, JsValue> {
    let worker = match isolate(&env) {
        Ok(w) => w,
        Err(e) => {
            console_error!("edge-session: {e}");
            return to_js(Response::error(500, "misconfigured", &e));
        }
    };
    let head = head_of(&req);
    let b = worker.bindings();
    let denylist = Denylist {
        fast: Kv::new(&env, &b.denylist),
        strong: worker.wants_strong_store().then(|| durable::DoStore::new(&env, b.revocation_do)),
    };
    let upstream = Fetch { req: &req, head: &head };
    let mut log = Vec::new();
    let mut record = Record::default();
    let assets = Kv::new(&env, b.assets);
    let answer = worker
        .run(&head, &assets, denylist, &upstream, &mut WebCrypto, now(), &mut log, &mut record)
        .await;
    log_all(&log);
    let dataset = Analytics::bound(&env);
    if let Some(line) = worker.report(&record, random_u32, dataset.as_ref()) {
        console_log!("{line}");
    }
    match answer {
        Answer::Respond(resp) => to_js(resp),
        Answer::Pass { reply, headers, original } => pass_origin(&reply, &original, &headers),
    }
}

/// The origin through `fetch`, with the client's request body.
struct Fetch<'a> {
    req: &'a web_sys::Request,
    head: &'a RequestHead,
}

impl Upstream for Fetch<'_> {
    type Reply = web_sys::Response;

    async fn send(
        &self,
        url: &str,
        headers: &Headers,
        timeout: u64,
    ) -> Result<web_sys::Response, UpstreamError> {
        let ms = u32::try_from(timeout.saturating_mul(1000)).unwrap_or(u32::MAX);
        fetch_origin(url, self.req, &self.head.headers, headers, ms).await.map_err(|e| {
            match js_error(&e) {
                why if why == timed_out_message() => UpstreamError::TimedOut,
                why => UpstreamError::Failed(why),
            }
        })
    }

    fn headers(&self, reply: &web_sys::Response) -> Headers {
        headers_from_js(&reply.headers())
    }

    fn status(&self, reply: &web_sys::Response) -> u16 {
        reply.status()
    }
}

/// `ANALYTICS`: the Workers Analytics Engine dataset, when one is bound.
struct Analytics(JsValue);

impl Analytics {
    const BINDING: &'static str = "ANALYTICS";

    fn bound(env: &Env) -> Option<Analytics> {
        let ds = js_sys::Reflect::get(env, &JsValue::from_str(Self::BINDING)).ok()?;
        (!ds.is_undefined() && !ds.is_null()).then_some(Analytics(ds))
    }
}

impl Metrics for Analytics {
    fn write(&self, point: &DataPoint) {
        let blobs: js_sys::Array = point.blobs.iter().map(|b| JsValue::from_str(b)).collect();
        let [d0, d1] = point.doubles;
        if let Err(e) = write_point(&self.0, blobs, d0, d1, &point.index) {
            console_error!(
                "edge-session: {} writeDataPoint failed: {}",
                Self::BINDING,
                js_error(&e)
            );
        }
    }
}

/// A uniform `u32` from Web Crypto (0 if it fails: the line is then logged).
fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// The active health check's requests: a `GET` without a body; the answer's body is
/// dropped unread (only the status counts).
struct Probe;

impl Upstream for Probe {
    type Reply = u16;

    async fn send(&self, url: &str, headers: &Headers, timeout: u64) -> Result<u16, UpstreamError> {
        let ms = u32::try_from(timeout.saturating_mul(1000)).unwrap_or(u32::MAX);
        let sent = async {
            let promise = fetch_manual(url, "GET", &headers_to_js(headers)?, None, ms)?;
            Io::new(promise).await?.dyn_into::<web_sys::Response>()
        };
        match sent.await {
            Ok(reply) => {
                if let Some(body) = reply.body() {
                    let _ = body.cancel();
                }
                Ok(reply.status())
            }
            Err(e) if js_error(&e) == timed_out_message() => Err(UpstreamError::TimedOut),
            Err(e) => Err(UpstreamError::Failed(js_error(&e))),
        }
    }

    fn headers(&self, _reply: &u16) -> Headers {
        Headers::new()
    }

    fn status(&self, reply: &u16) -> u16 {
        *reply
    }
}

/// The Worker's `scheduled` handler (a cron trigger of `[triggers] crons`): the
/// active health check of the pool ([`Worker::check_health`]), its lines logged.
#[wasm_bindgen]
pub fn scheduled(_event: JsValue, env: Env, _ctx: JsValue) -> JsValue {
    drive::run(async move {
        let mut log = Vec::new();
        match isolate(&env) {
            Ok(worker) => {
                let assets = Kv::new(&env, worker.bindings().assets);
                worker.check_health(&assets, &Probe, now(), &mut log).await;
            }
            Err(e) => log.push(e),
        }
        log_all(&log);
        JsValue::UNDEFINED
    })
}

fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// The Worker's `fetch` handler (what worker-build's entry and the thin entry of
/// `scripts/thin-entry.mjs` call): a `Response`, or a promise of one, run by
/// [`drive::run`] instead of `#[event(fetch)]`'s `wasm-bindgen-futures` executor. As
/// with `#[event(fetch)]`, a failure the shell could not turn into an answer itself
/// is logged and answered with a 500.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let answer = async move {
        match serve(req, env).await {
            Ok(resp) => resp.into(),
            Err(e) => {
                let e = js_error(&e);
                console_error!("edge-session: {e}");
                let resp =
                    Response::error(500, "internal_error", "the worker failed on this request");
                to_js(resp).map_or_else(|e| e, JsValue::from)
            }
        }
    };
    #[cfg(not(feature = "bench-wbg-executor"))]
    let answer = drive::run(answer);
    // `make bench`'s comparison build: no driven task, so every `Io` is a `JsFuture`.
    #[cfg(feature = "bench-wbg-executor")]
    let answer =
        worker::wasm_bindgen_futures::future_to_promise(async move { Ok(answer.await) }).into();
    answer
}
