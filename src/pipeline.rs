//! One request, start to end, as the worker runs it. The shell builds a
//! [`Worker`] once per isolate and hands every request to [`Worker::run`] with the
//! runtime's pieces (KV namespaces, the Durable Object, `fetch`, Web Crypto, the
//! clock); everything that decides lives here and is tested natively.
//!
//! The order, and why:
//! 1. **Assets** ([`assets::serve`]): answered from KV before any session work, so a
//!    script or image never reads the denylist, never sets a cookie, and works while
//!    revocation storage is down. The canary share is decided by [`client_id`].
//! 2. **Session** ([`Gateway::handle`]): CSRF and WebSocket refusals, the
//!    `/_session/*` endpoints, then the cookie or bearer token against the seal and
//!    the denylist (the strongly consistent store on `STRONG_REVOCATION_PATHS`).
//! 3. **Forward**: the upstream head, pinned to the client's deploy (its
//!    `X-Deploy-Id`, and its own origin when the deploy names one), sent through
//!    [`Upstream`] to the pool's preferred origin ([`crate::fleet`]: order, health,
//!    one retry for what may be retried), waiting at most `ORIGIN_TIMEOUT` for each
//!    attempt's response head (so at most twice that with a retry): past it a 504
//!    JSON answer naming the setting, and a 502 when no origin can be reached.
//! 4. **Finish** ([`Gateway::finish`]): the origin's session instructions, rolling
//!    refresh, cookies and cache headers on the origin's response head.

use std::fmt;

use crate::assets::{self, AssetCache, AssetConfig, Outcome};
use crate::config::{Config, Lookup};
use crate::fleet::{self, Attempt, Fleet, HealthReport, EJECT_AFTER};
use crate::gateway::{Entropy, Finish, Gateway, Log, Step};
use crate::http::{Headers, RequestHead, Response};
use crate::manifest;
use crate::store::{KvStore, Tiered};
use crate::telemetry::{self, Metrics, Record, Route, SessionState};

/// The names of the runtime bindings the worker uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bindings {
    /// The KV namespace of the static assets: `ASSETS`.
    pub assets: &'static str,
    /// `DENYLIST_BINDING`: the KV namespace of the denylist. Defaults to `DENYLIST`.
    pub denylist: String,
    /// The Durable Object namespace of strong revocation: `REVOCATION_DO`.
    pub revocation_do: &'static str,
}

/// A setting that is missing or wrong, as the worker reports it (500, named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(String);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

/// The origin side of a request: sends the upstream head (with the client's body,
/// which only the shell holds) and gives back the response head.
#[allow(async_fn_in_trait)] // one thread per isolate: no Send bound wanted
pub trait Upstream {
    /// The runtime's response, passed back to the shell untouched but for headers.
    type Reply;

    /// Sends the request to `url` with `headers`, waiting at most `timeout` seconds
    /// for the response head (never bounding the body: streams go on).
    ///
    /// # Errors
    /// [`UpstreamError`]: no head in time, or the origin could not be reached.
    async fn send(
        &self,
        url: &str,
        headers: &Headers,
        timeout: u64,
    ) -> Result<Self::Reply, UpstreamError>;

    /// The response head's headers.
    fn headers(&self, reply: &Self::Reply) -> Headers;

    /// The response's status code.
    fn status(&self, reply: &Self::Reply) -> u16;
}

/// Why the origin gave no response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// None within `ORIGIN_TIMEOUT` (the request may have reached it).
    TimedOut,
    /// It could not be reached or failed; the reason is for the log only.
    Failed(String),
}

/// What the shell sends the client.
#[derive(Debug)]
pub enum Answer<R> {
    /// A response the worker wrote.
    Respond(Response),
    /// The origin's response (status and body as they came) with these headers.
    Pass {
        /// The origin's response.
        reply: R,
        /// Its headers as the worker changed them.
        headers: Headers,
        /// Its headers as the origin sent them (the shell applies the difference).
        original: Headers,
    },
}

/// The denylist's stores: the KV namespace, and the strongly consistent one when
/// [`Worker::wants_strong_store`].
pub struct Denylist<F, S> {
    /// The KV namespace (`DENYLIST_BINDING`).
    pub fast: F,
    /// The Durable Object store, when configured.
    pub strong: Option<S>,
}

/// Everything built once per isolate from the configuration.
#[derive(Debug)]
pub struct Worker {
    gateway: Gateway,
    fleet: Fleet,
    /// When the pool state was last read from KV.
    pool_read_at: std::cell::Cell<Option<u64>>,
    assets: AssetConfig,
    cache: AssetCache,
    bindings: Bindings,
}

impl Worker {
    /// Reads and checks every setting (secrets and vars through `lookup`).
    ///
    /// # Errors
    /// The first setting that is missing or malformed, named.
    pub fn from_lookup(lookup: impl Lookup) -> Result<Worker, SettingsError> {
        let get = |name: &str| lookup.get(name);
        let config = Config::from_lookup(&get).map_err(|e| SettingsError(e.to_string()))?;
        let assets = AssetConfig::from_lookup(get).map_err(|e| SettingsError(e.to_string()))?;
        let denylist = lookup.get("DENYLIST_BINDING").unwrap_or_else(|| "DENYLIST".into());
        let bindings = Bindings { assets: "ASSETS", denylist, revocation_do: "REVOCATION_DO" };
        let cache = AssetCache::new(assets.cache_ttl);
        let fleet = Fleet::new(config.origins.clone(), config.origin_slow_start);
        let pool_read_at = std::cell::Cell::new(None);
        Ok(Worker { gateway: Gateway::new(config), fleet, pool_read_at, assets, cache, bindings })
    }

    /// The binding names.
    pub fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    /// Whether the denylist needs the Durable Object store at all.
    pub fn wants_strong_store(&self) -> bool {
        self.gateway.config().strong_revocation()
    }

    /// Runs one request (see the module docs for the order). Never panics; every
    /// failure is an answer, with the reason in `log`; `record` gets what the request
    /// log says of it ([`Worker::report`]).
    #[allow(clippy::too_many_arguments)] // the runtime's pieces, one each
    pub async fn run<A, F, S, U, E>(
        &self,
        req: &RequestHead,
        asset_store: &A,
        denylist: Denylist<F, S>,
        upstream: &U,
        entropy: &mut E,
        now: u64,
        log: &mut Log,
        record: &mut Record,
    ) -> Answer<U::Reply>
    where
        A: KvStore,
        F: KvStore,
        S: KvStore,
        U: Upstream,
        E: Entropy,
    {
        record.method.clone_from(&req.method);
        record.path = telemetry::shortened(&req.path);
        let answer =
            self.answer(req, asset_store, denylist, upstream, entropy, now, log, record).await;
        match &answer {
            Answer::Respond(r) => {
                record.status = r.status;
                record.error = if r.status >= 400 { telemetry::error_code(&r.body) } else { None };
                // Refused before the forward because the denylist could not be read.
                if record.error.as_deref() == Some("session_store_unavailable") {
                    record.session = SessionState::Unverified;
                }
            }
            Answer::Pass { reply, .. } => record.status = upstream.status(reply),
        }
        answer
    }

    /// The request log line (when `REQUEST_LOG_SAMPLE` takes this request: `random`
    /// is uniform over `u32`), after writing the data point to `metrics` when an
    /// Analytics Engine dataset is bound.
    pub fn report(
        &self,
        record: &Record,
        random: impl FnOnce() -> u32,
        metrics: Option<&impl Metrics>,
    ) -> Option<String> {
        record.report(self.gateway.config().request_log_sample, random, metrics)
    }

    /// [`Worker::run`] without the record's status.
    #[allow(clippy::too_many_arguments)] // the runtime's pieces, one each
    async fn answer<A, F, S, U, E>(
        &self,
        req: &RequestHead,
        asset_store: &A,
        denylist: Denylist<F, S>,
        upstream: &U,
        entropy: &mut E,
        now: u64,
        log: &mut Log,
        record: &mut Record,
    ) -> Answer<U::Reply>
    where
        A: KvStore,
        F: KvStore,
        S: KvStore,
        U: Upstream,
        E: Entropy,
    {
        let client = client_id(req);
        let served = assets::serve(asset_store, &self.cache, req, &self.assets, now, &client).await;
        log.extend(served.log);
        record.deploy = served.deploy.as_ref().map(|d| d.as_str().to_owned());
        let deploy_origin = match served.outcome {
            Outcome::Respond(resp) => {
                record.route = Route::Asset;
                return Answer::Respond(resp);
            }
            Outcome::Forward { origin } => origin,
        };
        let config = self.gateway.config();
        let denylist = Tiered {
            fast: denylist.fast,
            strong: denylist.strong,
            strong_reads: config.is_strong(&req.path),
        };
        let mut forward = match self.gateway.handle(req, &denylist, entropy, now, log).await {
            Step::Respond(resp) => {
                if req.path.starts_with("/_session/") {
                    record.route = Route::Endpoint;
                }
                return Answer::Respond(resp);
            }
            Step::Forward(f) => f,
        };
        let (state, kid) = forward.session();
        (record.session, record.kid) = (state, kid.map(str::to_owned));
        forward.pin_deploy(record.deploy.as_deref());
        let prefer = match deploy_origin.as_deref().map(manifest::deploy_pool) {
            Some(Ok(pool)) => {
                let (prefer, left_out) = self.fleet.learn(&pool);
                if left_out > 0 {
                    log.push(format!(
                        "{left_out} of the deploy's origins left out: every learned origin is busy"
                    ));
                }
                prefer
            }
            Some(Err(e)) => {
                log.push(format!("the deploy's origin {e}; using the pool"));
                Vec::new()
            }
            None => Vec::new(),
        };
        self.refresh_pool(asset_store, now, log).await;
        let result =
            self.send_upstream(req, &mut forward, &prefer, upstream, entropy, now, log, record);
        let reply = match result.await {
            Ok(reply) => reply,
            Err(e) => return Answer::Respond(origin_failed(e, config.origin_timeout, log)),
        };
        let original = upstream.headers(&reply);
        let mut headers = original.clone();
        let finish =
            self.gateway.finish(forward.pending, &mut headers, &denylist, entropy, now, log).await;
        match finish {
            Finish::Replace(resp) => Answer::Respond(resp),
            Finish::Pass { refreshed } => {
                if refreshed {
                    record.session = SessionState::Refreshed;
                }
                Answer::Pass { reply, headers, original }
            }
        }
    }
}

impl Worker {
    /// Reads the pool state (drained origins) and the last health report from KV
    /// when this isolate's copy is older than `POOL_CACHE_TTL`; a pool of one has
    /// none to read. A failed read is tried again a second later; it, and a
    /// malformed value, leave what the isolate knew in force (logged).
    async fn refresh_pool<A: KvStore>(&self, store: &A, now: u64, log: &mut Log) {
        let ttl = self.gateway.config().pool_cache_ttl;
        let fresh = self.pool_read_at.get().is_some_and(|at| ttl > 0 && now < at + ttl);
        if self.fleet.len() < 2 || fresh {
            return;
        }
        let [pool, health] = match store.get_pair([fleet::POOL_KEY, fleet::HEALTH_KEY]).await {
            Ok(pair) => pair,
            Err(e) => {
                log.push(format!("pool: {e}; keeping the previous pool state for a second"));
                self.pool_read_at.set(Some((now + 1).saturating_sub(ttl)));
                return;
            }
        };
        self.pool_read_at.set(Some(now));
        let pool = pool.map_or(Ok(fleet::PoolState::default()), |b| fleet::PoolState::parse(&b));
        let health = health.map_or(Ok(HealthReport::default()), |b| HealthReport::parse(&b));
        for e in [pool.as_ref().err(), health.as_ref().err()].into_iter().flatten() {
            log.push(format!("pool: {e}; keeping what this isolate knew"));
        }
        if let Ok(state) = pool {
            self.fleet.apply(&state);
        }
        if let Ok(report) = health {
            self.fleet.apply_health(&report, now);
        }
    }

    /// Sends the request to the preferred origin ([`Fleet::order`]: the deploy's
    /// origins `prefer` first while they are healthy) and, when that attempt fails
    /// and [`fleet::may_retry`] allows it within the retry budget, once more to the
    /// next; records each outcome for the pool's health. The last attempt's result.
    /// One call site of [`Upstream::send`]: its future is built into this one once.
    #[allow(clippy::too_many_arguments)] // the runtime's pieces, one each
    async fn send_upstream<U: Upstream, E: Entropy>(
        &self,
        req: &RequestHead,
        forward: &mut crate::gateway::Forward,
        prefer: &[usize],
        upstream: &U,
        entropy: &mut E,
        now: u64,
        log: &mut Log,
        record: &mut Record,
    ) -> Result<U::Reply, UpstreamError> {
        let timeout = self.gateway.config().origin_timeout;
        let mut targets = [Some(0), None];
        if self.fleet.len() > 1 {
            self.fleet.count_request(now);
            let mut random = [0u8; 8];
            let _ = entropy.fill(&mut random); // zeros are a fine (if fixed) choice too
            let random = u64::from_le_bytes(random);
            let order = self.fleet.order(forward.session_id(), now, random, prefer);
            targets = [order.first().copied(), order.get(1).copied()];
        }
        let body = req.headers.get("content-length").is_some_and(|v| v.trim() != "0")
            || req.headers.get("transfer-encoding").is_some();
        let mut last = Err(UpstreamError::Failed("the origin pool is empty".into()));
        let mut failed_on: Option<String> = None;
        for (attempt, i) in targets.into_iter().flatten().enumerate() {
            if let Some(previous) = &failed_on {
                let not_sent = last.as_ref().is_ok_and(|r| never_connected(upstream.status(r)));
                if !(fleet::may_retry(&req.method, body, not_sent) && self.fleet.take_retry()) {
                    break;
                }
                log.push(format!(
                    "retrying {} {} on another origin after {previous} failed",
                    req.method, req.path
                ));
            }
            let Some(url) = self.fleet.url(i) else { break };
            forward.to_origin(req, &url);
            record.retries = attempt as u8;
            let attempting = Attempting::start(&self.fleet, i);
            let result = upstream.send(&forward.url, &forward.headers, timeout).await;
            let failed = result.as_ref().map_or(true, |r| failing_status(upstream.status(r)));
            let outcome = if failed { Attempt::Failed } else { Attempt::Answered };
            if attempting.finish(outcome, now) {
                log.push(format!("origin {url} ejected after {EJECT_AFTER} failures in a row"));
            }
            last = result;
            if !failed || attempt > 0 {
                record.origin = Some(url);
                break;
            }
            failed_on = Some(url);
        }
        if record.origin.is_none() {
            record.origin = failed_on;
        }
        last
    }

    /// The cron trigger's active health check: asks every origin of `ORIGINS`, and
    /// those the retained deploys name ([`Worker::check_targets`]), for
    /// `HEALTH_CHECK_PATH`, one after another, waiting at most
    /// [`HEALTH_CHECK_TIMEOUT`] seconds (or `ORIGIN_TIMEOUT` if shorter) for each,
    /// and stores what failed under [`fleet::HEALTH_KEY`] when that changed or is
    /// due ([`HealthReport::after_checks`]).
    pub async fn check_health<A: KvStore, U: Upstream>(
        &self,
        store: &A,
        upstream: &U,
        now: u64,
        log: &mut Log,
    ) {
        let config = self.gateway.config();
        let Some(path) = &config.health_check_path else {
            log.push("health check: HEALTH_CHECK_PATH is not set; nothing to check".into());
            return;
        };
        let timeout = config.origin_timeout.min(HEALTH_CHECK_TIMEOUT);
        let mut headers = Headers::new();
        headers.append("user-agent", "edge-session-health-check");
        let mut results = Vec::new();
        for url in self.check_targets(store, log).await {
            let answer = upstream.send(&format!("{url}{path}"), &headers, timeout).await;
            let verdict = match &answer {
                Ok(reply) => fleet::judge(upstream.status(reply)),
                Err(UpstreamError::TimedOut) => Err(format!("no answer within {timeout} s")),
                Err(UpstreamError::Failed(why)) => Err(format!("unreachable: {why}")),
            };
            results.push((url, verdict));
        }
        let previous = match store.get(fleet::HEALTH_KEY).await {
            Ok(bytes) => bytes.and_then(|b| HealthReport::parse(&b).ok()),
            Err(e) => {
                log.push(format!("health check: {e}; writing a new report"));
                None
            }
        };
        let (report, write) = HealthReport::after_checks(previous.as_ref(), results, now);
        let failing: Vec<&str> = report.failing.iter().map(|(url, _)| url.as_str()).collect();
        log.push(format!("health check of {path}: failing {failing:?}"));
        if write {
            if let Err(e) = store.put(fleet::HEALTH_KEY, &report.to_text(), None).await {
                log.push(format!("health check: {e}; the report was not stored"));
            }
        }
    }
}

impl Worker {
    /// `ORIGINS`, then the origins the retained deploys name (at most
    /// [`fleet::MAX_LEARNED`] of them), each once.
    async fn check_targets<A: KvStore>(&self, store: &A, log: &mut Log) -> Vec<String> {
        let mut urls = self.fleet.configured_urls();
        let configured = urls.len();
        let doc = match store.get(manifest::DEPLOYS_KEY).await {
            Ok(Some(bytes)) => manifest::DeploysDoc::parse(&bytes).map_err(|e| e.to_string()),
            Ok(None) => return urls,
            Err(e) => Err(e.to_string()),
        };
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                log.push(format!("health check: {e}; checking ORIGINS only"));
                return urls;
            }
        };
        let spec = doc.deploys.iter().filter_map(|d| d.origin.as_deref());
        for o in spec.filter_map(|s| manifest::deploy_pool(s).ok()).flatten() {
            if !urls.contains(&o.url) && urls.len() < configured + fleet::MAX_LEARNED {
                urls.push(o.url);
            }
        }
        urls
    }
}

/// A request in flight to origin `i`, counted until [`Attempting::finish`]; dropped
/// unfinished (the client went away and the runtime dropped the request), it only
/// stops counting, so the origin does not look busy for good.
struct Attempting<'a> {
    fleet: &'a Fleet,
    i: usize,
    open: bool,
}

impl<'a> Attempting<'a> {
    fn start(fleet: &'a Fleet, i: usize) -> Self {
        fleet.start(i);
        Attempting { fleet, i, open: true }
    }

    /// Records the outcome; true when it ejected the origin.
    fn finish(mut self, attempt: Attempt, now: u64) -> bool {
        self.open = false;
        self.fleet.finish(self.i, attempt, now)
    }
}

impl Drop for Attempting<'_> {
    fn drop(&mut self) {
        if self.open {
            self.fleet.abandon(self.i);
        }
    }
}

/// The longest an active health check waits for an origin, in seconds.
pub const HEALTH_CHECK_TIMEOUT: u64 = 5;

/// Statuses that count as the origin failing: 502 and 503 from the origin, and
/// Cloudflare's 521–523 (the edge could not connect to it).
fn failing_status(status: u16) -> bool {
    matches!(status, 502 | 503 | 521..=523)
}

/// Cloudflare's answers for an origin it could not connect to (down, timed out while
/// connecting, unreachable): the request was never sent.
fn never_connected(status: u16) -> bool {
    matches!(status, 521..=523)
}

/// The answer when the origin gave no response head: 504 naming `ORIGIN_TIMEOUT`, or
/// 502 (the reason goes to the log only).
fn origin_failed(e: UpstreamError, timeout: u64, log: &mut Log) -> Response {
    match e {
        UpstreamError::TimedOut => {
            log.push(format!("origin timed out after {timeout} s"));
            let msg = format!(
                "the origin did not answer within ORIGIN_TIMEOUT ({timeout} s); retry shortly"
            );
            Response::error(504, "origin_timeout", &msg)
        }
        UpstreamError::Failed(why) => {
            log.push(format!("origin fetch failed: {why}"));
            let msg = "the origin server could not be reached";
            Response::error(502, "origin_unreachable", msg)
        }
    }
}

/// A stable identifier of the client for canary assignment, before any session
/// work: its address and user agent (a new client is then pinned by cookie).
pub fn client_id(head: &RequestHead) -> String {
    let ip = head.headers.get("cf-connecting-ip").unwrap_or_default();
    let ua = head.headers.get("user-agent").unwrap_or_default();
    format!("{ip}|{ua}")
}

#[cfg(test)]
mod tests;
