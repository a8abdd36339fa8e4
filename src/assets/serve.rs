//! The router: [`classify`] (no I/O, run before any session work) and [`serve`].
//!
//! Status codes: 400 for a refused path that is asset-looking (an un-asset-looking
//! one goes to the origin untouched), 404 for a miss on an asset-looking path, 405
//! for other methods than `GET`/`HEAD` on asset paths, 416 for an unsatisfiable
//! single range, 503 when KV cannot deliver (retryable). All of these carry
//! `Cache-Control: no-store`.
//!
//! Paths map to manifest keys without the leading `/`; `/` and any path ending
//! in `/` add `index.html`. `/docs` does not map to `docs/index.html` (link with
//! the trailing slash). No `Vary` is sent: un-hashed answers are `no-cache` with a
//! per-deploy ETag, so every reuse is revalidated against the client's pin.

use crate::asset_paths::{decode_path, is_asset_like, key_for, PathError};
use crate::assets::conditional::{none_match, range, RangeAnswer};
use crate::assets::{AssetCache, AssetConfig, DEPLOY_HEADER, IMMUTABLE, PIN_QUERY};
use crate::cookie::parse_cookie_header;
use crate::http::{query_param, Headers, RequestHead, Response};
use crate::manifest::{DeployId, DeploysDoc, FileEntry, PinSource, Pins};
use crate::store::KvStore;

/// What a request is, decided from its method and path alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Under an origin path, or not `GET`/`HEAD` on a non-asset path, or a refused
    /// path that is not asset-looking: session pipeline and origin.
    Origin,
    /// Asset-looking (under an asset prefix, a static extension, or a hashed
    /// name): answered by [`serve`] alone, never the origin, no session work.
    Asset,
    /// Maybe an entry point of the client's deploy (`/`, `/about`, `/index.html`):
    /// [`serve`] answers when the manifest has it, else forwards.
    EntryPoint,
    /// An asset-looking path that fails hygiene: [`serve`] answers 400.
    Invalid(PathError),
}

/// The result of [`serve`].
#[derive(Debug)]
pub struct Served {
    /// Respond, or forward to the origin.
    pub outcome: Outcome,
    /// The deploy that answered, or that the client is pinned/assigned to (send it
    /// to the origin as `X-Deploy-Id` in place of the client's header).
    pub deploy: Option<DeployId>,
    /// Log lines (no secrets; client-supplied values are never echoed).
    pub log: Vec<String>,
}

/// What the shell does next.
#[derive(Debug)]
pub enum Outcome {
    /// Send this response. For `HEAD`, `content-length` holds the size of the
    /// `GET` body while `body` is empty. `Set-Cookie` (the pin) is in `headers`.
    Respond(Response),
    /// Run the session pipeline and proxy to the origin.
    Forward {
        /// The deploy's own origin base URL, when its entry has one.
        origin: Option<String>,
    },
}

fn path_matches(path: &str, rule: &str) -> bool {
    if rule.ends_with('/') {
        path.starts_with(rule)
    } else {
        path == rule || path.strip_prefix(rule).is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Classifies a request from its method and raw path, with no I/O.
pub fn classify(req: &RequestHead, cfg: &AssetConfig) -> Route {
    let raw = req.path.as_str();
    if cfg.origin_paths.iter().any(|p| path_matches(raw, p)) {
        return Route::Origin;
    }
    let prefixed = cfg.asset_prefixes.iter().any(|p| raw.starts_with(p.as_str()));
    let decoded = decode_path(raw);
    let looks = prefixed || is_asset_like(decoded.as_deref().unwrap_or(raw));
    let read = matches!(req.method.as_str(), "GET" | "HEAD");
    match (decoded, looks) {
        (Err(e), true) => Route::Invalid(e),
        (Err(_), false) => Route::Origin,
        (Ok(_), true) => Route::Asset,
        (Ok(_), false) if read => Route::EntryPoint,
        (Ok(_), false) => Route::Origin,
    }
}

/// True for a navigation: `Sec-Fetch-Mode: navigate`, or, without that header,
/// an `Accept` that lists `text/html`.
fn is_navigation(req: &RequestHead) -> bool {
    match req.headers.get("sec-fetch-mode") {
        Some(mode) => mode.trim().eq_ignore_ascii_case("navigate"),
        None => req.headers.get("accept").is_some_and(|a| a.contains("text/html")),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(req: &'a RequestHead, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .filter(|(n, _)| *n == "cookie")
        .find_map(|(_, v)| parse_cookie_header(v).find(|(k, _)| *k == name).map(|(_, v)| v))
}

fn plain(status: u16, message: &str, deploy: Option<&DeployId>) -> Response {
    let mut headers = Headers::new();
    headers.append("content-type", "text/plain; charset=utf-8");
    headers.append("cache-control", "no-store");
    headers.append("x-content-type-options", "nosniff");
    if let Some(d) = deploy {
        headers.append(DEPLOY_HEADER, d.as_str());
    }
    if status == 405 {
        headers.append("allow", "GET, HEAD");
    }
    if status == 503 {
        headers.append("retry-after", "5");
    }
    Response { status, headers, body: format!("{message}\n").into_bytes() }
}

fn respond(r: Response, deploy: Option<DeployId>, log: Vec<String>) -> Served {
    Served { outcome: Outcome::Respond(r), deploy, log }
}

fn forward(deploy: Option<DeployId>, origin: Option<String>, log: Vec<String>) -> Served {
    Served { outcome: Outcome::Forward { origin }, deploy, log }
}

fn source_name(s: PinSource) -> &'static str {
    match s {
        PinSource::Query => "?dpl=",
        PinSource::Header => "X-Deploy-Id",
        PinSource::Cookie => "pin cookie",
        PinSource::Canary => "canary",
        PinSource::Current => "current",
        PinSource::Fallback => "fallback",
    }
}

/// Answers a request from the assets, or says to forward it (with the client's
/// deploy). `client_id` must be stable per client (e.g. the session id, or a
/// long-lived random cookie): it decides canary membership. Never panics; KV
/// failures become 503 on asset paths and forwarding elsewhere, with a log line.
pub async fn serve<S: KvStore>(
    store: &S,
    cache: &AssetCache,
    req: &RequestHead,
    cfg: &AssetConfig,
    now: u64,
    client_id: &str,
) -> Served {
    let mut log = Vec::new();
    let route = classify(req, cfg);
    if let Route::Invalid(e) = route {
        log.push(format!("assets: refused request path: {e}"));
        return respond(plain(400, "bad request path", None), None, log);
    }
    let asset = route == Route::Asset;
    if asset && !matches!(req.method.as_str(), "GET" | "HEAD") {
        return respond(plain(405, "method not allowed", None), None, log);
    }
    let navigation = is_navigation(req);
    let cookie_pin = cookie(req, &cfg.pin_cookie);
    let pins = Pins {
        query: query_param(&req.query, PIN_QUERY),
        header: req.headers.get(DEPLOY_HEADER),
        cookie: cookie_pin.filter(|_| !navigation || cfg.sticky_navigations),
    };
    let doc = match cache.deploys(store, now, &mut log).await {
        Ok(Some(doc)) => doc,
        Ok(None) => match asset {
            // The first publish may have finished since the list was read.
            true => match cache.reread_after_miss(store, now, &mut log).await {
                Some(doc) => doc,
                None => return forward(None, None, log),
            },
            // Nothing published yet: the origin serves the site (dev fallback).
            false => return forward(None, None, log),
        },
        Err(e) => {
            log.push(format!("assets: {e}"));
            return match asset {
                true => respond(plain(503, "asset storage unavailable", None), None, log),
                false => forward(None, None, log),
            };
        }
    };
    let ctx = Ctx { req, cfg, navigation, cookie_pin, pins, client_id, now, route };
    // One call site for `from_deploys` (its future is inlined where it is awaited):
    // a miss reads the deploy list again once, then looks again.
    let (mut doc, mut reread) = (doc, false);
    loop {
        match from_deploys(store, cache, &ctx, &doc, log).await {
            Lookup::Done(served) => return served,
            Lookup::Missing { deploy, log: mut l } => {
                let fresh = match reread {
                    true => None,
                    false => cache.reread_after_miss(store, now, &mut l).await,
                };
                let Some(fresh) = fresh else { return not_found(deploy, l) };
                (doc, reread, log) = (fresh, true, l);
            }
        }
    }
}

fn not_found(deploy: DeployId, log: Vec<String>) -> Served {
    respond(plain(404, "not found", Some(&deploy)), Some(deploy), log)
}

/// What one deploy list gives for a request.
enum Lookup {
    /// The answer.
    Done(Served),
    /// An asset path no retained deploy has: 404 unless a newer list has it.
    Missing { deploy: DeployId, log: Vec<String> },
}

/// Answers from the client's deploy, else (assets) from any retained deploy.
async fn from_deploys<S: KvStore>(
    store: &S,
    cache: &AssetCache,
    ctx: &Ctx<'_>,
    doc: &DeploysDoc,
    mut log: Vec<String>,
) -> Lookup {
    let (now, asset) = (ctx.now, ctx.route == Route::Asset);
    let (candidates, ignored) = doc.candidates(&ctx.pins, ctx.client_id, now);
    for src in ignored {
        log.push(format!(
            "assets: {} pin ignored: malformed, unknown or expired",
            source_name(src)
        ));
    }
    if ctx.route == Route::Origin {
        let deploy = candidates.into_iter().next().map(|(id, _)| id);
        let origin = deploy.as_ref().and_then(|d| doc.entry(d)).and_then(|e| e.origin.clone());
        return Lookup::Done(forward(deploy, origin, log));
    }
    let mut serving = None;
    for (id, _) in &candidates {
        if let Some(m) = cache.manifest(store, id, now, &mut log).await {
            serving = Some(m);
            break;
        }
    }
    let Some(serving) = serving else {
        log.push("assets: no deploy with a usable manifest".to_owned());
        return Lookup::Done(match asset {
            true => respond(plain(503, "asset storage unavailable", None), None, log),
            false => forward(None, None, log),
        });
    };
    let key = key_for(&decode_path(&ctx.req.path).unwrap_or_default());
    let id = serving.id.clone();
    if let Some(entry) = serving.files.get(&key) {
        return Lookup::Done(answer(store, ctx, entry, &key, id, log).await);
    }
    if asset {
        for d in doc.retained(now) {
            if d.id == id {
                continue;
            }
            let Some(m) = cache.manifest(store, &d.id, now, &mut log).await else { continue };
            if let Some(entry) = m.files.get(&key).filter(|e| e.immutable) {
                return Lookup::Done(answer(store, ctx, entry, &key, d.id.clone(), log).await);
            }
        }
        return Lookup::Missing { deploy: id, log };
    }
    if ctx.navigation {
        if let Some(fallback) = &ctx.cfg.spa_fallback {
            match serving.files.get(fallback) {
                Some(entry) => {
                    return Lookup::Done(answer(store, ctx, entry, fallback, id, log).await)
                }
                None => {
                    log.push(format!("assets: SPA fallback `{fallback}` is not in deploy `{id}`"))
                }
            }
        }
    }
    let origin = doc.entry(&id).and_then(|e| e.origin.clone());
    Lookup::Done(forward(Some(id), origin, log))
}

struct Ctx<'a> {
    req: &'a RequestHead,
    cfg: &'a AssetConfig,
    navigation: bool,
    cookie_pin: Option<&'a str>,
    pins: Pins<'a>,
    client_id: &'a str,
    now: u64,
    route: Route,
}

/// Answers one manifest entry: 304, HEAD, 200, 206, 416, or 503 when the blob
/// cannot be read whole.
async fn answer<S: KvStore>(
    store: &S,
    ctx: &Ctx<'_>,
    entry: &FileEntry,
    key: &str,
    deploy: DeployId,
    mut log: Vec<String>,
) -> Served {
    let etag = entry.hash.etag();
    let mut headers = Headers::new();
    headers.append("etag", etag.clone());
    headers.append("cache-control", if entry.immutable { IMMUTABLE } else { "no-cache" });
    headers.append(DEPLOY_HEADER, deploy.as_str());
    headers.append("x-content-type-options", "nosniff");
    let document = ctx.navigation && entry.content_type.starts_with("text/html");
    if document && ctx.cookie_pin != Some(deploy.as_str()) {
        headers.append(
            "set-cookie",
            format!("{}={}; Path=/; Secure; HttpOnly; SameSite=Lax", ctx.cfg.pin_cookie, deploy),
        );
    }
    if ctx.req.headers.get("if-none-match").is_some_and(|h| none_match(h, &etag)) {
        return respond(Response { status: 304, headers, body: Vec::new() }, Some(deploy), log);
    }
    headers.append("content-type", entry.content_type.clone());
    headers.append("accept-ranges", "bytes");
    if ctx.req.method == "HEAD" {
        headers.append("content-length", entry.size.to_string());
        return respond(Response { status: 200, headers, body: Vec::new() }, Some(deploy), log);
    }
    let part =
        range(ctx.req.headers.get("range"), ctx.req.headers.get("if-range"), &etag, entry.size);
    if part == RangeAnswer::Unsatisfiable {
        let mut r = plain(416, "range not satisfiable", Some(&deploy));
        r.headers.append("content-range", format!("bytes */{}", entry.size));
        return respond(r, Some(deploy), log);
    }
    let body = if entry.size == 0 {
        Vec::new()
    } else {
        let blob_key = entry.hash.blob_key();
        match store.get(&blob_key).await {
            Ok(Some(bytes)) if bytes.len() as u64 == entry.size => bytes,
            other => {
                let why = match other {
                    Ok(Some(b)) => format!("has {} bytes, expected {}", b.len(), entry.size),
                    Ok(None) => "is missing".to_owned(),
                    Err(e) => e.to_string(),
                };
                log.push(format!("assets: blob `{blob_key}` of `{key}` (deploy `{deploy}`) {why}"));
                return respond(
                    plain(503, "asset storage unavailable", Some(&deploy)),
                    Some(deploy),
                    log,
                );
            }
        }
    };
    let (status, body) = match part {
        RangeAnswer::Partial { start, end } => {
            let slice = usize::try_from(start)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(s, e)| body.get(s..=e))
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            headers.append("content-range", format!("bytes {start}-{end}/{}", entry.size));
            (206, slice)
        }
        _ => (200, body),
    };
    headers.append("content-length", body.len().to_string());
    respond(Response { status, headers, body }, Some(deploy), log)
}
