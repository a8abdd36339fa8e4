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
//!    one retry for what may be retried), waiting at most `ORIGIN_TIMEOUT` for the
//!    response head: past it a 504 JSON answer naming the setting, and a 502 when no
//!    origin can be reached.
//! 4. **Finish** ([`Gateway::finish`]): the origin's session instructions, rolling
//!    refresh, cookies and cache headers on the origin's response head.

use std::fmt;

use crate::assets::{self, AssetCache, AssetConfig, Outcome};
use crate::config::{Config, Lookup};
use crate::fleet::{self, Attempt, Fleet, EJECT_AFTER};
use crate::gateway::{Entropy, Finish, Gateway, Log, Step};
use crate::http::{Headers, RequestHead, Response};
use crate::store::{KvStore, Tiered};

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
    /// failure is an answer, with the reason in `log`.
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
        let deploy_origin = match served.outcome {
            Outcome::Respond(resp) => return Answer::Respond(resp),
            Outcome::Forward { origin } => origin,
        };
        let config = self.gateway.config();
        let denylist = Tiered {
            fast: denylist.fast,
            strong: denylist.strong,
            strong_reads: config.is_strong(&req.path),
        };
        let mut forward = match self.gateway.handle(req, &denylist, entropy, now, log).await {
            Step::Respond(resp) => return Answer::Respond(resp),
            Step::Forward(f) => f,
        };
        let deploy = served.deploy.as_ref().map(|d| d.as_str());
        forward.pin_deploy(req, deploy, deploy_origin.as_deref());
        let timeout = config.origin_timeout;
        // A deploy with its own backend gets that one, as the deploy says; else the pool.
        let pinned = deploy_origin.is_some();
        if !pinned {
            self.refresh_pool(asset_store, now, log).await;
        }
        let result =
            self.send_upstream(req, &mut forward, pinned, upstream, entropy, now, log).await;
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => return Answer::Respond(origin_failed(e, timeout, log)),
        };
        let original = upstream.headers(&reply);
        let mut headers = original.clone();
        let finish =
            self.gateway.finish(forward.pending, &mut headers, &denylist, entropy, now, log).await;
        match finish {
            Finish::Replace(resp) => Answer::Respond(resp),
            Finish::Pass => Answer::Pass { reply, headers, original },
        }
    }
}

impl Worker {
    /// Reads the pool state (drained origins) from KV when this isolate's copy is
    /// older than `POOL_CACHE_TTL`; a pool of one has none to read. A state that
    /// cannot be read or parsed leaves the previous one in force, logged.
    async fn refresh_pool<A: KvStore>(&self, store: &A, now: u64, log: &mut Log) {
        let ttl = self.gateway.config().pool_cache_ttl;
        let fresh = self.pool_read_at.get().is_some_and(|at| ttl > 0 && now < at + ttl);
        if self.fleet.origins().len() < 2 || fresh {
            return;
        }
        self.pool_read_at.set(Some(now));
        match store.get(fleet::POOL_KEY).await {
            Ok(None) => self.fleet.apply(&fleet::PoolState::default()),
            Ok(Some(bytes)) => match fleet::PoolState::parse(&bytes) {
                Ok(state) => self.fleet.apply(&state),
                Err(e) => log.push(format!("pool: {e}; keeping the previous pool state")),
            },
            Err(e) => log.push(format!("pool: {e}; keeping the previous pool state")),
        }
    }

    /// Sends the request to the pool's preferred origin (or, `pinned`, to the URL the
    /// forward already names) and, when that attempt fails and [`fleet::may_retry`]
    /// allows it within the retry budget, once more to the next; records each
    /// outcome for the pool's health. The last attempt's result. One call site of
    /// [`Upstream::send`]: its future is built into this one once.
    #[allow(clippy::too_many_arguments)] // the runtime's pieces, one each
    async fn send_upstream<U: Upstream, E: Entropy>(
        &self,
        req: &RequestHead,
        forward: &mut crate::gateway::Forward,
        pinned: bool,
        upstream: &U,
        entropy: &mut E,
        now: u64,
        log: &mut Log,
    ) -> Result<U::Reply, UpstreamError> {
        let timeout = self.gateway.config().origin_timeout;
        let targets: Vec<Option<usize>> = if pinned {
            vec![None]
        } else if self.fleet.origins().len() == 1 {
            // ORIGIN_URL alone: nothing to choose, no one to retry on.
            vec![Some(0)]
        } else {
            self.fleet.count_request(now);
            let mut random = [0u8; 8];
            let _ = entropy.fill(&mut random); // zeros are a fine (if fixed) choice too
            let order = self.fleet.order(forward.session_id(), now, u64::from_le_bytes(random));
            order.into_iter().take(2).map(Some).collect()
        };
        let body = req.headers.get("content-length").is_some_and(|v| v.trim() != "0")
            || req.headers.get("transfer-encoding").is_some();
        let retry = fleet::may_retry(&req.method, body);
        let mut last = Err(UpstreamError::Failed("the origin pool is empty".into()));
        let mut failed_on: Option<&str> = None;
        for (attempt, target) in targets.into_iter().enumerate() {
            if attempt > 0 && !(retry && self.fleet.take_retry()) {
                break;
            }
            let origin = target.and_then(|i| Some((i, self.fleet.origins().get(i)?)));
            if let Some((i, o)) = origin {
                forward.to_origin(req, &o.url);
                self.fleet.start(i);
            }
            if let Some(previous) = failed_on {
                let why = match &last {
                    Ok(r) => format!("status {}", upstream.status(r)),
                    Err(e) => format!("{e:?}"),
                };
                log.push(format!(
                    "retrying {} {} on {} after {previous}: {why}",
                    req.method, req.path, forward.url
                ));
            }
            let result = upstream.send(&forward.url, &forward.headers, timeout).await;
            let failed = result.as_ref().map_or(true, |r| matches!(upstream.status(r), 502 | 503));
            let outcome = if failed { Attempt::Failed } else { Attempt::Answered };
            if let Some((i, o)) = origin {
                if self.fleet.finish(i, outcome, now) {
                    log.push(format!(
                        "origin {} ejected after {EJECT_AFTER} failures in a row",
                        o.url
                    ));
                }
                failed_on = Some(&o.url);
            }
            last = result;
            if !failed {
                break;
            }
        }
        last
    }
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
