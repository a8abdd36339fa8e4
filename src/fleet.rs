//! Several origins behind the worker (`ORIGINS`): which one a request goes to, which
//! are failing, and whether a failed attempt may be tried on another. Pure: time and
//! randomness come in as arguments; one [`Fleet`] per isolate keeps the counters.
//!
//! Selection returns every origin in preference order; the pipeline tries the first
//! and a retry takes the next, so choosing, health and retrying stay apart:
//! - **Spread**: a session prefers the origin with the highest weighted rendezvous
//!   score for its `sid` (cache locality only: any origin can serve any session), and
//!   an origin already holding more than [`LOAD_FACTOR`] times its share of the
//!   isolate's requests in flight yields its place (a bounded load, as HAProxy's
//!   `hash-balance-factor`). An anonymous request takes the less busy of two random
//!   origins (by weight). Losing an origin moves only its own sessions, each to its
//!   next-ranked origin: spread over all the others, no buddy inherits them all.
//! - **Health** (passive outlier detection, as Envoy's): [`EJECT_AFTER`] consecutive
//!   failures (no response head, a connect error, a 502 or 503, Cloudflare's 521-523)
//!   eject an origin for
//!   [`BASE_EJECTION`] seconds, doubling with each ejection in a row up to
//!   [`MAX_EJECTION`]; a success resets it. At most half of `ORIGINS` is ejected at
//!   once (a learned deploy origin may always be: the current pool is its fallback),
//!   and an ejected origin is only ever tried after every healthy one.
//! - **Active health** ([`HealthReport`], written by the cron trigger's check, read
//!   from KV): an origin failing its check is ordered with the ejected ones.
//! - **Draining** ([`PoolState`], read from KV): a drained origin gets no new
//!   request while any other can take it (it comes after the ejected ones); an
//!   undrained one starts at a tenth of its weight and reaches all of it over
//!   `ORIGIN_SLOW_START` seconds.
//! - **Deploy pools** ([`Fleet::learn`]): a deploy's own origins, kept beside
//!   `ORIGINS` with their own health, come first for that deploy's requests while
//!   any of them is healthy; then the current pool.
//! - **Retries** ([`may_retry`]): once, on another origin, when the first attempt
//!   failed, the request has no body (a body is a stream sent once, never
//!   replayed), and its method is idempotent (`GET`, `HEAD`, `OPTIONS`) or the
//!   attempt never connected (Cloudflare's 521-523), while the retry budget
//!   lasts: [`RETRY_SHARE`] of the requests of the last [`BUDGET_WINDOW`] seconds,
//!   plus [`RETRY_FLOOR`], so that retries cannot multiply an outage.

use std::cell::RefCell;
use std::fmt;

pub mod health;
mod state;
pub use health::{judge, Failing, HealthReport, HEALTH_KEY};
pub use state::{PoolState, POOL_KEY};

/// Consecutive failures that eject an origin.
pub const EJECT_AFTER: u32 = 3;
/// Seconds of the first ejection; each ejection in a row doubles it.
pub const BASE_EJECTION: u64 = 5;
/// The longest ejection, in seconds.
pub const MAX_EJECTION: u64 = 60;
/// An origin is "full" above this many times its share of the requests in flight.
pub const LOAD_FACTOR: f64 = 1.25;
/// Retries allowed as a share of the requests in the budget window.
pub const RETRY_SHARE: f64 = 0.2;
/// Retries always allowed per window, however few the requests.
pub const RETRY_FLOOR: u32 = 3;
/// Length of the retry budget's window, in seconds.
pub const BUDGET_WINDOW: u64 = 10;

/// One origin of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOrigin {
    /// Base URL, `http(s)://host[:port][/base]`, without a trailing `/`.
    pub url: String,
    /// Relative share of the traffic, 1 to 100. Defaults to 1.
    pub weight: u32,
}

/// What `ORIGINS` may not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolError(pub String);

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an origin base URL (of `ORIGINS`, `ORIGIN_URL`, a deploy's pool or the
/// CLI): `http(s)://host[:port][/path]`, no query, fragment, credentials, spaces or
/// controls, at most 2048 bytes. Returned without a trailing `/`.
///
/// # Errors
/// What is wrong with it, in words for the setting's error.
pub fn check_url(value: &str) -> Result<String, String> {
    let shown: String = value.chars().take(80).collect();
    let shown = crate::escaped::Escaped(&shown);
    let Some(rest) = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"))
    else {
        return Err(format!("must start with http:// or https://, got `{shown}`"));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err("must name a host (and no user:password@)".into());
    }
    if value.contains(['?', '#']) || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain a query, fragment, spaces or control characters".into());
    }
    if value.len() > 2048 {
        return Err(format!("is {} bytes long; at most 2048", value.len()));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// Parses `ORIGINS`: comma-separated entries `URL [weight=N]`, at most 32, each URL
/// checked by `check_url` (which returns it normalized) and named once.
///
/// # Errors
/// An empty list, a bad URL or weight, a repeated URL, or more than 32 origins.
pub fn parse_origins(
    spec: &str,
    check_url: impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<PoolOrigin>, PoolError> {
    let bad = |m: String| PoolError(m);
    let mut out: Vec<PoolOrigin> = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split_whitespace();
        let url = check_url(parts.next().unwrap_or_default()).map_err(bad)?;
        let weight = match parts.next() {
            None => 1,
            Some(w) => w
                .strip_prefix("weight=")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    bad(format!("`{w}` after {url}: expected weight=N with N from 1 to 100"))
                })?,
        };
        if parts.next().is_some() {
            return Err(bad(format!("entry for {url}: expected `URL [weight=N]`")));
        }
        if out.iter().any(|o| o.url == url) {
            return Err(bad(format!("{url} is listed twice")));
        }
        out.push(PoolOrigin { url, weight });
    }
    match out.len() {
        0 => {
            Err(bad("lists no origin; expected `https://a.internal, https://b.internal weight=2`"
                .into()))
        }
        n if n > 32 => Err(bad(format!("lists {n} origins; at most 32 are supported"))),
        _ => Ok(out),
    }
}

/// How an attempt ended, for the health counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A response head that is not 502 or 503.
    Answered,
    /// No response head in time, a connect error, or a 502/503.
    Failed,
}

#[derive(Debug, Clone, Default)]
struct State {
    failures: u32,
    ejections: u32,
    ejected_until: u64,
    in_flight: u32,
    /// Drained through the pool state (`edge-session origins drain`).
    drained: bool,
    /// When it was last undrained, for the slow start.
    undrained_at: Option<u64>,
    /// Failing its active health check, as the last current report says.
    check_failed: bool,
    /// When it was learned (a counter), for replacing the oldest learned origin.
    learned: u64,
}

#[derive(Debug, Default)]
struct Counters {
    /// The configured origins, then the deploy origins learned at run time.
    origins: Vec<PoolOrigin>,
    states: Vec<State>,
    /// Deploy origins learned so far (numbers [`State::learned`]).
    learned: u64,
    window_start: u64,
    requests: u32,
    retries: u32,
}

/// Deploy origins ([`Fleet::learn`]) an isolate keeps health for, beyond `ORIGINS`.
pub const MAX_LEARNED: usize = 32;

/// The origins of one isolate and what it has seen of them.
#[derive(Debug)]
pub struct Fleet {
    /// How many of the origins are `ORIGINS` (the current pool); the rest were learned.
    configured: usize,
    /// Seconds over which an undrained origin's weight ramps up (`ORIGIN_SLOW_START`).
    slow_start: u64,
    counters: RefCell<Counters>,
}

impl Fleet {
    /// A fleet of these origins, all healthy and none drained; an undrained origin
    /// takes `slow_start` seconds to reach its full weight.
    pub fn new(origins: Vec<PoolOrigin>, slow_start: u64) -> Fleet {
        let states = vec![State::default(); origins.len()];
        let configured = origins.len();
        let counters = RefCell::new(Counters { origins, states, ..Counters::default() });
        Fleet { configured, slow_start, counters }
    }

    /// Applies the pool state read from KV: which origins are drained, and since when
    /// the others were undrained.
    pub fn apply(&self, state: &PoolState) {
        let mut c = self.counters.borrow_mut();
        let c = &mut *c;
        for (o, s) in c.origins.iter().zip(c.states.iter_mut()) {
            s.drained = state.drained.contains_key(&o.url);
            s.undrained_at = state.undrained.get(&o.url).copied();
        }
    }

    /// Applies the last health report: an origin it names is failing while the
    /// report is current at `now`.
    pub fn apply_health(&self, report: &HealthReport, now: u64) {
        let current = report.is_current(now);
        let mut c = self.counters.borrow_mut();
        let c = &mut *c;
        for (o, s) in c.origins.iter().zip(c.states.iter_mut()) {
            s.check_failed = current && report.failing(&o.url).is_some();
        }
    }

    /// The indices of a deploy's origins, adding those not yet known (their health
    /// is then kept like any other's). Beyond [`MAX_LEARNED`] learned origins, a new
    /// one replaces the oldest learned origin with no request in flight; when every
    /// one is busy it is left out. Also how many were left out.
    pub fn learn(&self, pool: &[PoolOrigin]) -> (Vec<usize>, usize) {
        let mut c = self.counters.borrow_mut();
        let c = &mut *c;
        let mut out = Vec::with_capacity(pool.len());
        for o in pool {
            if let Some(i) = c.origins.iter().position(|k| k.url == o.url) {
                out.push(i);
                continue;
            }
            c.learned += 1;
            let state = State { learned: c.learned, ..State::default() };
            if c.origins.len() < self.configured + MAX_LEARNED {
                out.push(c.origins.len());
                c.origins.push(o.clone());
                c.states.push(state);
                continue;
            }
            let idle = (self.configured..c.states.len())
                .filter(|i| !out.contains(i))
                .filter(|i| c.states.get(*i).is_some_and(|s| s.in_flight == 0))
                .min_by_key(|i| c.states.get(*i).map_or(0, |s| s.learned));
            if let Some(i) = idle {
                if let (Some(slot), Some(s)) = (c.origins.get_mut(i), c.states.get_mut(i)) {
                    (*slot, *s) = (o.clone(), state);
                    out.push(i);
                }
            }
        }
        let left_out = pool.len() - out.len();
        (out, left_out)
    }

    /// Origin `i`'s weight at `now`: during its slow start, a share of it growing
    /// from a tenth to all of it.
    fn weight(&self, i: usize, c: &Counters, now: u64) -> f64 {
        let w = c.origins.get(i).map_or(1, |o| o.weight);
        let ramp = match c.states.get(i).and_then(|s| s.undrained_at) {
            Some(at) if self.slow_start > 0 => {
                (now.saturating_sub(at) as f64 / self.slow_start as f64).clamp(0.1, 1.0)
            }
            _ => 1.0,
        };
        f64::from(w) * ramp
    }

    /// How many origins it knows: those of `ORIGINS` and those learned.
    pub fn len(&self) -> usize {
        self.counters.borrow().origins.len()
    }

    /// Whether it knows no origin (never: `ORIGINS` lists one at least).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many origins `ORIGINS` lists.
    pub fn configured(&self) -> usize {
        self.configured
    }

    /// The base URL of origin `i`.
    pub fn url(&self, i: usize) -> Option<String> {
        self.counters.borrow().origins.get(i).map(|o| o.url.clone())
    }

    /// The origins `ORIGINS` lists, in its order.
    pub fn configured_urls(&self) -> Vec<String> {
        let c = self.counters.borrow();
        c.origins.iter().take(self.configured).map(|o| o.url.clone()).collect()
    }

    /// The origins to try, in preference order, for a request with this session id
    /// (`None`: anonymous) at `now`; `random` picks the two choices of an anonymous
    /// request. `prefer` (a deploy's origins, from [`Fleet::learn`]) come before the
    /// current pool while they are healthy. Then, after every healthy origin, the
    /// ejected or check-failing ones, and the drained ones last. Listed: the
    /// configured origins and `prefer`.
    pub fn order(&self, sid: Option<&str>, now: u64, random: u64, prefer: &[usize]) -> Vec<usize> {
        let c = self.counters.borrow();
        let health = |i: usize| match c.states.get(i) {
            Some(s) if s.drained => 2,
            Some(s) if s.ejected_until > now || s.check_failed => 1,
            _ => 0,
        };
        let key = sid.map_or_else(|| random.to_string(), str::to_owned);
        let mut out = Vec::with_capacity(c.origins.len());
        for rank in 0..3 {
            for preferred in [true, false] {
                let mut group: Vec<usize> = (0..c.origins.len())
                    .filter(|i| prefer.contains(i) == preferred)
                    .filter(|i| preferred || *i < self.configured)
                    .filter(|i| health(*i) == rank)
                    .collect();
                by_score_descending(&mut group, |i| self.score(&key, i, &c, now));
                if rank == 0 {
                    match sid {
                        Some(_) => self.bound_load(&mut group, &c, now),
                        None => self.two_choices(&mut group, &c, now),
                    }
                }
                out.extend(group);
            }
        }
        out
    }

    /// Weighted rendezvous score of origin `i` for `key`: `-weight / ln(u)`, `u` in
    /// (0, 1) from a hash of both.
    fn score(&self, key: &str, i: usize, c: &Counters, now: u64) -> f64 {
        let Some(o) = c.origins.get(i) else { return 0.0 };
        let h = mix(fnv1a(key.as_bytes(), fnv1a(o.url.as_bytes(), 0xcbf2_9ce4_8422_2325)));
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        -self.weight(i, c, now) / u.ln()
    }

    /// Moves the first origin behind the next when it holds more than its bounded
    /// share of the requests in flight.
    fn bound_load(&self, order: &mut [usize], c: &Counters, now: u64) {
        let states = &c.states;
        let total: u32 = order.iter().filter_map(|i| states.get(*i)).map(|s| s.in_flight).sum();
        let weights: f64 = order.iter().map(|i| self.weight(*i, c, now)).sum();
        let full = |i: usize| {
            let Some(s) = states.get(i) else { return false };
            let share = f64::from(total + 1) * self.weight(i, c, now) / weights.max(1.0);
            f64::from(s.in_flight + 1) > (LOAD_FACTOR * share).ceil()
        };
        if let Some(pos) = order.iter().position(|i| !full(*i)) {
            order[..=pos].rotate_right(1);
        }
    }

    /// Puts the less busy (per weight) of the first two first.
    fn two_choices(&self, order: &mut [usize], c: &Counters, now: u64) {
        let load = |i: usize| {
            let f = c.states.get(i).map_or(0, |s| s.in_flight);
            f64::from(f) / self.weight(i, c, now)
        };
        if let [a, b, ..] = order {
            if load(*b) < load(*a) {
                order.swap(0, 1);
            }
        }
    }

    /// Whether origin `i` is ejected (by failed requests) at `now`.
    pub fn is_ejected(&self, i: usize, now: u64) -> bool {
        self.counters.borrow().states.get(i).is_some_and(|s| s.ejected_until > now)
    }

    /// Whether origin `i` is ejected or failing its health check at `now`.
    pub fn is_failing(&self, i: usize, now: u64) -> bool {
        let c = self.counters.borrow();
        c.states.get(i).is_some_and(|s| s.ejected_until > now || s.check_failed)
    }

    /// Whether origin `i` is drained.
    pub fn is_drained(&self, i: usize) -> bool {
        self.counters.borrow().states.get(i).is_some_and(|s| s.drained)
    }

    /// Counts a request in flight to origin `i`.
    pub fn start(&self, i: usize) {
        if let Some(s) = self.counters.borrow_mut().states.get_mut(i) {
            s.in_flight += 1;
        }
    }

    /// Records how an attempt on origin `i` ended at `now`; true when this failure
    /// ejected it.
    pub fn finish(&self, i: usize, attempt: Attempt, now: u64) -> bool {
        let mut c = self.counters.borrow_mut();
        // At most half of ORIGINS ejected at once. A learned deploy origin may always
        // be ejected (the current pool is its fallback), and never counts against it.
        let configured = self.configured;
        let ejected_now =
            c.states.iter().take(configured).filter(|s| s.ejected_until > now).count();
        let within_bound = i >= configured || (ejected_now + 1) * 2 <= configured;
        let Some(s) = c.states.get_mut(i) else { return false };
        s.in_flight = s.in_flight.saturating_sub(1);
        if attempt == Attempt::Answered {
            *s = State { failures: 0, ejections: 0, ejected_until: 0, ..s.clone() };
            return false;
        }
        s.failures += 1;
        let may_eject = within_bound && s.ejected_until <= now;
        if s.failures < EJECT_AFTER || !may_eject {
            return false;
        }
        s.ejections += 1;
        let secs = BASE_EJECTION.saturating_mul(1 << (s.ejections - 1).min(8)).min(MAX_EJECTION);
        s.ejected_until = now + secs;
        s.failures = 0;
        true
    }

    /// Stops counting a request in flight to origin `i` that will never finish (the
    /// client went away and the runtime dropped the request): no outcome recorded.
    pub fn abandon(&self, i: usize) {
        if let Some(s) = self.counters.borrow_mut().states.get_mut(i) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }

    /// Counts a request against the retry budget (call once per request).
    pub fn count_request(&self, now: u64) {
        let mut c = self.counters.borrow_mut();
        if now >= c.window_start + BUDGET_WINDOW {
            (c.window_start, c.requests, c.retries) = (now, 0, 0);
        }
        c.requests += 1;
    }

    /// Takes one retry from the budget, if any is left.
    pub fn take_retry(&self) -> bool {
        let mut c = self.counters.borrow_mut();
        let allowed = (f64::from(c.requests) * RETRY_SHARE) as u32 + RETRY_FLOOR;
        let ok = c.retries < allowed;
        c.retries += u32::from(ok);
        ok
    }
}

/// Whether a request that failed on one origin may be tried on another: one without
/// a body (a body is a stream sent once), with an idempotent method, or with any
/// method when the failed attempt was `never_connected` (see the module docs).
pub fn may_retry(method: &str, has_body: bool, never_connected: bool) -> bool {
    !has_body && (never_connected || matches!(method, "GET" | "HEAD" | "OPTIONS"))
}

/// Insertion sort by a score, highest first: a pool has at most 32 origins, and the
/// library sorts would add kilobytes of code to the worker for that.
fn by_score_descending(items: &mut [usize], score: impl Fn(usize) -> f64) {
    let scores: Vec<f64> = items.iter().map(|i| score(*i)).collect();
    let mut order: Vec<(f64, usize)> = scores.into_iter().zip(items.iter().copied()).collect();
    for n in 1..order.len() {
        let mut j = n;
        while j > 0 && order.get(j - 1).map(|p| p.0) < order.get(j).map(|p| p.0) {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    for (slot, (_, i)) in items.iter_mut().zip(order) {
        *slot = i;
    }
}

/// SplitMix64's finalizer: FNV-1a alone mixes the last bytes of similar keys
/// (`sid-000001`, `sid-000002`) too weakly for an even spread.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests;
