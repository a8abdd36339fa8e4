//! Typed, validated settings, read once per isolate from `wrangler.toml` vars and
//! secrets.
//!
//! Every setting has a documented default (see the README's configuration table,
//! which mirrors the docs of [`Config`]'s fields); a value that is present but wrong is an error
//! naming the setting, never a silent fallback. Secrets (`SESSION_KEYS`,
//! `ORIGIN_SECRET`, `ADMIN_TOKEN`) never appear in an error message.

use std::fmt;

use crate::cookie::{CookieError, CookieOptions, SameSite};
use crate::fleet::{check_url, parse_origins, PoolOrigin};
use crate::jwt::{Alg, JwtKey};
use crate::keyring::KeyRing;
use crate::session::SessionPolicy;

/// A configuration problem, naming the setting so a user can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable or secret name, e.g. `SESSION_IDLE_TTL`.
    pub setting: &'static str,
    /// What is wrong with it, without echoing secret values.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in {}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { setting, problem: problem.into() }
}

/// What to do when the revocation store cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Treat the session as unverified: protected paths answer 503, others go
    /// to the origin anonymous (the cookie is kept). The default.
    Closed,
    /// Treat the session as not revoked and log the failure.
    Open,
}

/// The validated settings of one worker.
#[derive(Debug)]
pub struct Config {
    /// `ORIGIN_URL`: where proxied requests go, without a trailing slash.
    pub origin_url: String,
    /// `ORIGINS`: the pool, `URL [weight=N]` entries separated by commas; when set it
    /// replaces `ORIGIN_URL`, which is otherwise a pool of one. Never empty.
    pub origins: Vec<PoolOrigin>,
    /// `ORIGIN_TIMEOUT`: seconds to wait for the origin's response head (the body may
    /// take longer: streams are never cut). 1 to 300; defaults to 30.
    pub origin_timeout: u64,
    /// `ORIGIN_SLOW_START`: seconds over which an undrained origin's share ramps up to
    /// its weight. 0 to 3600; defaults to 30.
    pub origin_slow_start: u64,
    /// `POOL_CACHE_TTL`: seconds an isolate keeps the pool state (drained origins)
    /// read from KV. 0 to 10; defaults to 10.
    pub pool_cache_ttl: u64,
    /// `HEALTH_CHECK_PATH`: the path (and query) the cron trigger's active health
    /// check asks every origin for, e.g. `/healthz`; unset: no active checks.
    pub health_check_path: Option<String>,
    /// `REQUEST_LOG_SAMPLE`: the share of requests, 0 to 1, that get a JSON request
    /// log line (`crate::telemetry`); 1 by default, 0 turns the log off.
    pub request_log_sample: f64,
    /// `SESSION_KEYS` (secret): the key ring; the first key seals.
    pub keys: KeyRing,
    /// `ORIGIN_SECRET` (secret): HMAC key of the `Edge-Session` assertion.
    pub origin_key: JwtKey,
    /// Cookie settings (`COOKIE_*`).
    pub cookie: CookieOptions,
    /// Lifetimes (`SESSION_*`, `CLOCK_SKEW`).
    pub policy: SessionPolicy,
    /// `ISSUER`: `iss` of every token the worker mints. Defaults to `edge-session`.
    pub issuer: String,
    /// `ORIGIN_AUDIENCE`: `aud` of the assertion. Defaults to `origin`.
    pub origin_audience: String,
    /// `ASSERTION_TTL`: lifetime of the assertion in seconds. Defaults to 60.
    pub assertion_ttl: u64,
    /// `TOKEN_AUDIENCE`: `aud` of bearer tokens. Defaults to `api`.
    pub token_audience: String,
    /// `TOKEN_TTL`: bearer token lifetime in seconds. Defaults to 900.
    pub token_ttl: u64,
    /// `TOKEN_DATA`: whether bearer tokens carry the session's data. Defaults to
    /// [`TokenData::Fit`].
    pub token_data: TokenData,
    /// `JWT_ALGORITHMS`: the allow-list for bearer tokens (`HS256`, `EdDSA`). Defaults
    /// to `TOKEN_ALG`; must contain it.
    pub algorithms: Vec<Alg>,
    /// `TOKEN_ALG`: how `/_session/token` signs bearer tokens: `HS256` (a secret
    /// derived from `SESSION_KEYS`, only the worker verifies) or `EdDSA` (the ring's
    /// Ed25519 key; anyone can verify with `/_session/jwks.json`). Defaults to `HS256`.
    pub token_alg: Alg,
    /// `ASSERTION_ALG`: how the `Edge-Session` assertion is signed: `HS256` with
    /// `ORIGIN_SECRET` (no `kid`), or `EdDSA` with the ring's primary Ed25519 key
    /// (`kid` = its kid; the origin verifies with the JWKS and holds no secret).
    /// Defaults to `HS256`.
    pub assertion_alg: Alg,
    /// `REVOCATION_FAIL_MODE`: `closed` (default) or `open`.
    pub fail_mode: FailMode,
    /// `PROTECTED_PATHS`: path prefixes answered 503 when revocation cannot be
    /// checked in closed mode. Defaults to `/api/`.
    pub protected_paths: Vec<String>,
    /// `ADMIN_TOKEN` (secret, optional): enables `/_session/admin/*` when set.
    pub admin_token: Option<AdminToken>,
    /// `STRONG_REVOCATION_PATHS`: path prefixes (or `*` for all) whose revocation
    /// checks read the strongly consistent Durable Object instead of KV. Defaults
    /// to none. Setting it also makes every revocation write go to the Durable Object.
    pub strong_paths: Vec<String>,
    /// `CSRF_ALLOWED_ORIGINS`: other origins (`https://app.example`) allowed to send
    /// unsafe requests that carry the session cookie. The request's own origin is
    /// always allowed. Defaults to none.
    pub csrf_allowed_origins: Vec<String>,
}

/// What a bearer token from `/_session/token` carries besides the identity claims
/// (`sub`, `sid`, `gen`, `auth_time`, times), which it always carries. Every token
/// must fit in [`crate::jwt::DEFAULT_MAX_TOKEN_LEN`] bytes, the limit the worker reads
/// bearer tokens with (and a common header limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenData {
    /// `fit`: the session data when the token fits; otherwise none, and the token
    /// says `"data_omitted": true`. Every valid session gets a token.
    Fit,
    /// `include`: always the data; a session whose token would not fit gets a 422
    /// `token_too_large` naming both sizes, never a token that would be refused.
    Include,
    /// `omit`: never the data.
    Omit,
}

/// The admin bearer secret; compared in constant time, never printed.
pub struct AdminToken(Vec<u8>);

impl AdminToken {
    /// Constant-time comparison with a presented token.
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        // Hash both sides first so the comparison time does not depend on lengths.
        use sha2::{Digest, Sha256};
        let a = Sha256::digest(&self.0);
        let b = Sha256::digest(presented.as_bytes());
        a.ct_eq(&b).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl Drop for AdminToken {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

/// Reads a setting by name: vars and secrets alike. Absent or empty means unset.
pub trait Lookup {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

struct Reader<'a, L: Lookup>(&'a L);

impl<L: Lookup> Reader<'_, L> {
    fn raw(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &'static str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    fn required(&self, name: &'static str, hint: &str) -> Result<String, ConfigError> {
        self.raw(name).ok_or_else(|| err(name, format!("is not set; {hint}")))
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| {
                err(name, format!("must be a whole number of seconds, got `{}`", shown(&v)))
            }),
        }
    }

    fn count(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| err(name, format!("must be a whole number, got `{}`", shown(&v)))),
        }
    }

    /// A name that goes into every token (`iss`, `aud`): 1 to 256 printable bytes.
    fn name(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let v = self.string(name, default);
        if v.len() > 256 || v.chars().any(char::is_control) {
            return Err(err(
                name,
                format!(
                    "must be at most 256 bytes without control characters, got `{}`",
                    shown(&v)
                ),
            ));
        }
        Ok(v)
    }

    /// One of `options` (matched ignoring case when `any_case`), else an error
    /// saying `expected` and what came.
    fn choice<T: Copy>(
        &self,
        name: &'static str,
        default: &str,
        any_case: bool,
        options: &[(&str, T)],
        expected: &str,
    ) -> Result<T, ConfigError> {
        let v = self.string(name, default);
        let found = options.iter().find(|(o, _)| match any_case {
            true => o.eq_ignore_ascii_case(&v),
            false => *o == v,
        });
        found.map(|(_, t)| *t).ok_or_else(|| err(name, format!("{expected}, got `{}`", shown(&v))))
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(v) => Err(err(name, format!("must be `true` or `false`, got `{}`", shown(v)))),
        }
    }

    fn list(&self, name: &'static str, default: &str) -> Vec<String> {
        self.string(name, default)
            .split([',', ' ', '\n'])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `SESSION_KEYS` and `ORIGIN_SECRET`.
fn secrets<L: Lookup>(r: &Reader<'_, L>) -> Result<(KeyRing, JwtKey), ConfigError> {
    let keys = KeyRing::parse(&r.required(
        "SESSION_KEYS",
        "create keys with `edge-session keygen` and `wrangler secret put SESSION_KEYS`",
    )?)
    .map_err(|e| err("SESSION_KEYS", e.to_string()))?;
    let origin_secret = r.required(
        "ORIGIN_SECRET",
        "create one with `edge-session keygen` and `wrangler secret put ORIGIN_SECRET`",
    )?;
    let origin_key = JwtKey::from_bytes(origin_secret.as_bytes())
        .map_err(|e| err("ORIGIN_SECRET", e.to_string()))?;
    Ok((keys, origin_key))
}

/// The `COOKIE_*` settings, validated together (`__Host-` rules).
fn cookie_options<L: Lookup>(r: &Reader<'_, L>) -> Result<CookieOptions, ConfigError> {
    let same_site = r.choice(
        "COOKIE_SAMESITE",
        "Lax",
        true,
        &[("lax", SameSite::Lax), ("strict", SameSite::Strict), ("none", SameSite::None)],
        "must be Lax, Strict or None",
    )?;
    let max_chunks = r.count("COOKIE_MAX_CHUNKS", 4)?;
    let cookie = CookieOptions {
        name: r.string("COOKIE_NAME", "__Host-session"),
        secure: r.bool("COOKIE_SECURE", true)?,
        http_only: r.bool("COOKIE_HTTPONLY", true)?,
        same_site,
        path: r.string("COOKIE_PATH", "/"),
        domain: r.raw("COOKIE_DOMAIN"),
        max_chunks: usize::try_from(max_chunks).unwrap_or(usize::MAX),
    };
    cookie.validate().map_err(|e| err(cookie_setting(&e), e.to_string()))?;
    Ok(cookie)
}

/// A plain decimal like `0.25`, `.5` or `1` (digits, one `.` at most, at most nine
/// digits each side). Not `str::parse::<f64>`: its general parser (exponents,
/// infinities, exact rounding tables) would cost the worker kilobytes for one setting.
fn decimal(v: &str) -> Option<f64> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return None;
    }
    let int = |s: &str| if s.is_empty() { Some(0) } else { s.parse::<u32>().ok() };
    let scale = (0..frac.len()).fold(1.0, |acc: f64, _| acc * 10.0);
    Some(f64::from(int(whole)?) + f64::from(int(frac)?) / scale)
}

/// The origin pool: `ORIGINS` when set, else `ORIGIN_URL` alone.
fn origins<L: Lookup>(r: &Reader<'_, L>) -> Result<Vec<PoolOrigin>, ConfigError> {
    if let Some(spec) = r.raw("ORIGINS") {
        return parse_origins(&spec, check_url).map_err(|e| err("ORIGINS", e.0));
    }
    let url = origin_url(
        "ORIGIN_URL",
        &r.required(
            "ORIGIN_URL",
            "set it in wrangler.toml [vars] to the origin's base URL, e.g. https://app.internal (or list several in ORIGINS)",
        )?,
    )?;
    Ok(vec![PoolOrigin { url, weight: 1 }])
}

/// `SESSION_ABSOLUTE_TTL`, `SESSION_IDLE_TTL`, `SESSION_REFRESH_AFTER`, `CLOCK_SKEW`.
fn session_policy<L: Lookup>(r: &Reader<'_, L>) -> Result<SessionPolicy, ConfigError> {
    let refresh_after = match r.raw("SESSION_REFRESH_AFTER") {
        None => 0.25,
        Some(v) => decimal(&v).ok_or_else(|| {
            err(
                "SESSION_REFRESH_AFTER",
                format!("must be a fraction like 0.25, got `{}`", shown(&v)),
            )
        })?,
    };
    SessionPolicy::new(
        r.seconds("SESSION_ABSOLUTE_TTL", 7 * 24 * 3600)?,
        r.seconds("SESSION_IDLE_TTL", 24 * 3600)?,
        refresh_after,
        r.seconds("CLOCK_SKEW", 60)?,
    )
    .map_err(|e| {
        let setting = match e.field() {
            "absolute_ttl" => "SESSION_ABSOLUTE_TTL",
            "refresh_after" => "SESSION_REFRESH_AFTER",
            "leeway" => "CLOCK_SKEW",
            _ => "SESSION_IDLE_TTL",
        };
        err(setting, e.to_string())
    })
}

/// What the worker's tokens (assertions and bearer tokens) are made of.
struct Tokens {
    issuer: String,
    origin_audience: String,
    assertion_ttl: u64,
    token_audience: String,
    token_ttl: u64,
    token_data: TokenData,
    algorithms: Vec<Alg>,
    token_alg: Alg,
    assertion_alg: Alg,
}

/// `ISSUER`, the audiences, lifetimes and algorithms of assertions and bearer tokens.
fn tokens<L: Lookup>(r: &Reader<'_, L>, policy: &SessionPolicy) -> Result<Tokens, ConfigError> {
    let alg = |name: &'static str| -> Result<Alg, ConfigError> {
        Alg::parse(&r.string(name, "HS256"))
            .map_err(|e| err(name, format!("must be HS256 or EdDSA; {e}")))
    };
    let (token_alg, assertion_alg) = (alg("TOKEN_ALG")?, alg("ASSERTION_ALG")?);
    let algorithms = r
        .list("JWT_ALGORITHMS", token_alg.name())
        .iter()
        .map(|a| Alg::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("JWT_ALGORITHMS", e.to_string()))?;
    if algorithms.is_empty() {
        return Err(err("JWT_ALGORITHMS", "must list at least one algorithm, e.g. HS256"));
    }
    if !algorithms.contains(&token_alg) {
        return Err(err(
            "JWT_ALGORITHMS",
            format!("must contain TOKEN_ALG ({token_alg}), or the worker's own tokens are refused"),
        ));
    }
    let ttl = |name: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
        let v = r.seconds(name, default)?;
        if v == 0 || v > max {
            return Err(err(name, format!("must be between 1 and {max} seconds, got {v}")));
        }
        Ok(v)
    };
    let origin_audience = r.name("ORIGIN_AUDIENCE", "origin")?;
    let token_audience = r.name("TOKEN_AUDIENCE", "api")?;
    if token_audience == origin_audience {
        // With EdDSA one key signs both kinds: the audience is what keeps an
        // assertion from being replayed as a bearer token (and vice versa).
        return Err(err(
            "TOKEN_AUDIENCE",
            format!(
                "must differ from ORIGIN_AUDIENCE (both are `{}`), so an assertion cannot be used as a bearer token",
                shown(&token_audience)
            ),
        ));
    }
    let token_data = r.choice(
        "TOKEN_DATA",
        "fit",
        true,
        &[("fit", TokenData::Fit), ("include", TokenData::Include), ("omit", TokenData::Omit)],
        "must be fit, include or omit",
    )?;
    Ok(Tokens {
        issuer: r.name("ISSUER", "edge-session")?,
        origin_audience,
        assertion_ttl: ttl("ASSERTION_TTL", 60, 3600)?,
        token_audience,
        token_ttl: ttl("TOKEN_TTL", 900, policy.absolute_ttl)?,
        token_data,
        algorithms,
        token_alg,
        assertion_alg,
    })
}

/// `REVOCATION_FAIL_MODE`, `PROTECTED_PATHS`, `STRONG_REVOCATION_PATHS`.
fn revocation<L: Lookup>(
    r: &Reader<'_, L>,
) -> Result<(FailMode, Vec<String>, Vec<String>), ConfigError> {
    let fail_mode = r.choice(
        "REVOCATION_FAIL_MODE",
        "closed",
        false,
        &[("closed", FailMode::Closed), ("open", FailMode::Open)],
        "must be `closed` or `open`",
    )?;
    let protected_paths = r.list("PROTECTED_PATHS", "/api/");
    if let Some(bad) = protected_paths.iter().find(|p| !p.starts_with('/')) {
        return Err(err(
            "PROTECTED_PATHS",
            format!("prefixes start with `/`, got `{}`", shown(bad)),
        ));
    }
    let strong_paths = r.list("STRONG_REVOCATION_PATHS", "");
    if let Some(bad) = strong_paths.iter().find(|p| !p.starts_with('/') && p.as_str() != "*") {
        return Err(err(
            "STRONG_REVOCATION_PATHS",
            format!("entries are path prefixes starting with `/` or `*`, got `{}`", shown(bad)),
        ));
    }
    Ok((fail_mode, protected_paths, strong_paths))
}

/// `CSRF_ALLOWED_ORIGINS`: `http(s)://` origins without a path.
fn csrf_allowed_origins<L: Lookup>(r: &Reader<'_, L>) -> Result<Vec<String>, ConfigError> {
    let origins = r.list("CSRF_ALLOWED_ORIGINS", "");
    let bad =
        |o: &&String| !(o.starts_with("https://") || o.starts_with("http://")) || o.ends_with('/');
    match origins.iter().find(bad) {
        Some(o) => Err(err(
            "CSRF_ALLOWED_ORIGINS",
            format!("entries are origins like https://app.example (no path), got `{}`", shown(o)),
        )),
        None => Ok(origins),
    }
}

/// `ADMIN_TOKEN`: unset, or at least 32 bytes.
fn admin_token<L: Lookup>(r: &Reader<'_, L>) -> Result<Option<AdminToken>, ConfigError> {
    match r.raw("ADMIN_TOKEN") {
        None => Ok(None),
        Some(t) if t.len() < 32 => {
            Err(err("ADMIN_TOKEN", format!("is {} bytes; at least 32 are required", t.len())))
        }
        Some(t) => Ok(Some(AdminToken(t.into_bytes()))),
    }
}

/// Shows a (non-secret) setting value in an error, cut short and without controls.
fn shown(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The setting a cookie validation error is about.
fn cookie_setting(e: &CookieError) -> &'static str {
    match e {
        CookieError::PrefixRequiresSecure { .. } => "COOKIE_SECURE",
        CookieError::HostPrefixRequiresRootPath { .. } | CookieError::InvalidPath { .. } => {
            "COOKIE_PATH"
        }
        CookieError::HostPrefixForbidsDomain { .. } | CookieError::InvalidDomain { .. } => {
            "COOKIE_DOMAIN"
        }
        CookieError::SameSiteNoneRequiresSecure => "COOKIE_SAMESITE",
        CookieError::MaxChunksOutOfRange { .. } => "COOKIE_MAX_CHUNKS",
        _ => "COOKIE_NAME",
    }
}

/// `REQUEST_LOG_SAMPLE`: a decimal from 0 to 1 (`0.1`: one request in ten).
fn request_log_sample<L: Lookup>(r: &Reader<'_, L>) -> Result<f64, ConfigError> {
    let Some(text) = r.raw("REQUEST_LOG_SAMPLE") else { return Ok(1.0) };
    decimal(&text).filter(|v| *v <= 1.0).ok_or_else(|| {
        let why = format!(
            "must be a share from 0 to 1 such as 0.1 (0 turns the request log off), got `{}`",
            shown(&text)
        );
        err("REQUEST_LOG_SAMPLE", why)
    })
}

/// `HEALTH_CHECK_PATH`: a path from `/`, printable, at most 512 bytes.
fn health_check_path<L: Lookup>(r: &Reader<'_, L>) -> Result<Option<String>, ConfigError> {
    let Some(path) = r.raw("HEALTH_CHECK_PATH") else { return Ok(None) };
    let printable = path.chars().all(|c| c.is_ascii_graphic());
    if !path.starts_with('/') || !printable || path.contains('#') || path.len() > 512 {
        let why = format!(
            "must be a path such as /healthz (from `/`, no spaces or `#`, at most 512 bytes), got `{}`",
            shown(&path)
        );
        return Err(err("HEALTH_CHECK_PATH", why));
    }
    Ok(Some(path))
}

/// Checks an origin URL of `ORIGIN_URL` or `ORIGINS` (`NAME`): [`check_url`].
fn origin_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    check_url(value).map_err(|why| err(name, why))
}

impl Config {
    /// Reads and validates every setting.
    ///
    /// # Errors
    /// The first setting that is missing (where required) or malformed.
    pub fn from_lookup(lookup: &impl Lookup) -> Result<Config, ConfigError> {
        let r = Reader(lookup);
        let origins = origins(&r)?;
        let origin_url = origins.first().map(|o| o.url.clone()).unwrap_or_default();
        let origin_timeout = r.seconds("ORIGIN_TIMEOUT", 30)?;
        if !(1..=300).contains(&origin_timeout) {
            let why = format!("must be between 1 and 300 seconds, got {origin_timeout}");
            return Err(err("ORIGIN_TIMEOUT", why));
        }
        let origin_slow_start = r.seconds("ORIGIN_SLOW_START", 30)?;
        if origin_slow_start > 3600 {
            let why = format!("must be 0 to 3600 seconds, got {origin_slow_start}");
            return Err(err("ORIGIN_SLOW_START", why));
        }
        let pool_cache_ttl = r.seconds("POOL_CACHE_TTL", 10)?;
        if pool_cache_ttl > 10 {
            let why = format!(
                "must be 0 to 10 seconds (a drain must take effect soon), got {pool_cache_ttl}"
            );
            return Err(err("POOL_CACHE_TTL", why));
        }
        let health_check_path = health_check_path(&r)?;
        let request_log_sample = request_log_sample(&r)?;
        let (keys, origin_key) = secrets(&r)?;
        let cookie = cookie_options(&r)?;
        let policy = session_policy(&r)?;
        let tokens = tokens(&r, &policy)?;
        let (fail_mode, protected_paths, strong_paths) = revocation(&r)?;
        Ok(Config {
            origin_url,
            origins,
            origin_timeout,
            origin_slow_start,
            pool_cache_ttl,
            health_check_path,
            request_log_sample,
            keys,
            origin_key,
            cookie,
            issuer: tokens.issuer,
            origin_audience: tokens.origin_audience,
            assertion_ttl: tokens.assertion_ttl,
            token_audience: tokens.token_audience,
            token_ttl: tokens.token_ttl,
            token_data: tokens.token_data,
            policy,
            algorithms: tokens.algorithms,
            token_alg: tokens.token_alg,
            assertion_alg: tokens.assertion_alg,
            fail_mode,
            protected_paths,
            admin_token: admin_token(&r)?,
            strong_paths,
            csrf_allowed_origins: csrf_allowed_origins(&r)?,
        })
    }

    /// Whether the strongly consistent revocation store is configured at all.
    pub fn strong_revocation(&self) -> bool {
        !self.strong_paths.is_empty()
    }

    /// Whether revocation checks for `path` read the strongly consistent store.
    pub fn is_strong(&self, path: &str) -> bool {
        self.strong_paths.iter().any(|p| p == "*" || path.starts_with(p.as_str()))
    }

    /// Whether any setting uses EdDSA (`TOKEN_ALG`, `ASSERTION_ALG`, `JWT_ALGORITHMS`),
    /// so the ring's Ed25519 keys must be derived and published.
    pub fn uses_eddsa(&self) -> bool {
        self.token_alg == Alg::EdDSA
            || self.assertion_alg == Alg::EdDSA
            || self.algorithms.contains(&Alg::EdDSA)
    }

    /// Whether `path` is under one of `PROTECTED_PATHS`.
    pub fn is_protected(&self, path: &str) -> bool {
        self.protected_paths.iter().any(|p| path.starts_with(p.as_str()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) const KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8,k0:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA";
    pub(crate) const SECRET: &str = "origin-secret-of-at-least-32-bytes!!";

    pub(crate) fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = [
            ("ORIGIN_URL", "http://127.0.0.1:8788"),
            ("SESSION_KEYS", KEYS),
            ("ORIGIN_SECRET", SECRET),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    pub(crate) fn load(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m = vars(extra);
        Config::from_lookup(&|k: &str| m.get(k).cloned())
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn defaults_are_secure() {
        let c = load(&[]).unwrap();
        assert_eq!(c.cookie.name, "__Host-session");
        assert!(c.cookie.secure && c.cookie.http_only);
        assert_eq!(c.fail_mode, FailMode::Closed);
        assert_eq!(c.origin_url, "http://127.0.0.1:8788");
        assert_eq!(c.keys.primary_kid().as_str(), "k1");
        assert!(c.admin_token.is_none());
        assert!(c.is_protected("/api/me") && !c.is_protected("/login"));
        assert!(!c.strong_revocation() && !c.is_strong("/api/me"));
        let c = load(&[("STRONG_REVOCATION_PATHS", "/admin/ /billing/")]).unwrap();
        assert!(c.is_strong("/billing/x") && !c.is_strong("/api/me"));
        assert!(load(&[("STRONG_REVOCATION_PATHS", "*")]).unwrap().is_strong("/anything"));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn each_bad_setting_is_named() {
        let cases: &[(&str, &str, &str)] = &[
            ("ORIGIN_URL", "ftp://x", "ORIGIN_URL"),
            ("ORIGIN_URL", "http://x/?q", "ORIGIN_URL"),
            ("SESSION_KEYS", "k1:AAEC", "SESSION_KEYS"),
            ("ORIGIN_SECRET", "short", "ORIGIN_SECRET"),
            ("SESSION_IDLE_TTL", "ten", "SESSION_IDLE_TTL"),
            ("COOKIE_SECURE", "maybe", "COOKIE_SECURE"),
            ("COOKIE_SAMESITE", "sometimes", "COOKIE_SAMESITE"),
            ("JWT_ALGORITHMS", "none", "JWT_ALGORITHMS"),
            ("REVOCATION_FAIL_MODE", "ajar", "REVOCATION_FAIL_MODE"),
            ("TOKEN_TTL", "0", "TOKEN_TTL"),
            ("SESSION_REFRESH_AFTER", "1.5", "SESSION_REFRESH_AFTER"),
            ("CLOCK_SKEW", "3600", "CLOCK_SKEW"),
            ("SESSION_ABSOLUTE_TTL", "0", "SESSION_ABSOLUTE_TTL"),
            ("ADMIN_TOKEN", "tiny", "ADMIN_TOKEN"),
            ("PROTECTED_PATHS", "api", "PROTECTED_PATHS"),
            ("STRONG_REVOCATION_PATHS", "api", "STRONG_REVOCATION_PATHS"),
            ("CSRF_ALLOWED_ORIGINS", "app.example", "CSRF_ALLOWED_ORIGINS"),
            ("TOKEN_ALG", "RS256", "TOKEN_ALG"),
            ("TOKEN_ALG", "none", "TOKEN_ALG"),
            ("ASSERTION_ALG", "HS512", "ASSERTION_ALG"),
            ("ASSERTION_ALG", "eddsa", "ASSERTION_ALG"),
            ("TOKEN_AUDIENCE", "origin", "TOKEN_AUDIENCE"),
            ("TOKEN_DATA", "some", "TOKEN_DATA"),
            ("ORIGIN_TIMEOUT", "0", "ORIGIN_TIMEOUT"),
            ("ORIGINS", "ftp://a", "ORIGINS"),
            ("ORIGIN_SLOW_START", "3601", "ORIGIN_SLOW_START"),
            ("POOL_CACHE_TTL", "11", "POOL_CACHE_TTL"),
            ("HEALTH_CHECK_PATH", "healthz", "HEALTH_CHECK_PATH"),
            ("REQUEST_LOG_SAMPLE", "2", "REQUEST_LOG_SAMPLE"),
            ("REQUEST_LOG_SAMPLE", "10%", "REQUEST_LOG_SAMPLE"),
            ("HEALTH_CHECK_PATH", "/health z", "HEALTH_CHECK_PATH"),
            ("HEALTH_CHECK_PATH", "/h#x", "HEALTH_CHECK_PATH"),
            ("ORIGINS", "http://a weight=0", "ORIGINS"),
            ("ORIGINS", " , ", "ORIGINS"),
            ("ORIGIN_TIMEOUT", "301", "ORIGIN_TIMEOUT"),
            ("ORIGIN_TIMEOUT", "soon", "ORIGIN_TIMEOUT"),
            ("COOKIE_MAX_CHUNKS", "four", "COOKIE_MAX_CHUNKS"),
            ("COOKIE_MAX_CHUNKS", "0", "COOKIE_MAX_CHUNKS"),
        ];
        let long = "i".repeat(257);
        for name in ["ISSUER", "ORIGIN_AUDIENCE", "TOKEN_AUDIENCE"] {
            let e = load(&[(name, &long)]).unwrap_err();
            assert_eq!(e.setting, name, "{e}");
            assert!(e.to_string().contains("at most 256 bytes"), "{e}");
        }
        for (text, value) in [("0.25", 0.25), (".5", 0.5), ("1", 1.0), ("0", 0.0), ("0.125", 0.125)]
        {
            assert_eq!(decimal(text), Some(value), "{text}");
            assert_eq!(
                load(&[("SESSION_REFRESH_AFTER", text)]).unwrap().policy.refresh_after,
                value
            );
        }
        for bad in ["", ".", "1e-1", "NaN", "-0.5", "0.5.1", "0,5", " 0.5", "inf"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        let e = load(&[("COOKIE_MAX_CHUNKS", "four")]).unwrap_err();
        assert!(e.to_string().contains("must be a whole number, got `four`"), "{e}");
        assert!(!e.to_string().contains("seconds"), "{e}");
        assert_eq!(load(&[]).unwrap().token_data, TokenData::Fit);
        assert_eq!(load(&[]).unwrap().origin_timeout, 30);
        let pool = load(&[("ORIGINS", "http://a:1, http://b:2/ weight=3")]).unwrap().origins;
        assert_eq!(
            pool.iter().map(|o| (o.url.as_str(), o.weight)).collect::<Vec<_>>(),
            [("http://a:1", 1), ("http://b:2", 3)]
        );
        assert_eq!(load(&[]).unwrap().origins.len(), 1, "ORIGIN_URL alone is a pool of one");
        assert_eq!(load(&[("ORIGIN_TIMEOUT", "5")]).unwrap().origin_timeout, 5);
        assert_eq!(load(&[("TOKEN_DATA", "Omit")]).unwrap().token_data, TokenData::Omit);
        for (name, value, expected) in cases {
            let e = load(&[(name, value)]).unwrap_err();
            assert_eq!(e.setting, *expected, "{name}={value}: {e}");
        }
        // Secure-prefix rules are enforced, not silently relaxed.
        let e = load(&[("COOKIE_SECURE", "false")]).unwrap_err();
        assert_eq!(e.setting, "COOKIE_SECURE");
        let e = load(&[("COOKIE_DOMAIN", "example.com")]).unwrap_err();
        assert_eq!(e.setting, "COOKIE_DOMAIN");
        let e = load(&[("SESSION_KEYS", "")]).unwrap_err();
        assert!(e.to_string().contains("is not set"), "{e}");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn signing_algorithms_and_their_allow_list() {
        let c = load(&[]).unwrap();
        assert_eq!((c.token_alg, c.assertion_alg), (Alg::HS256, Alg::HS256));
        assert_eq!(c.algorithms, [Alg::HS256]);
        assert!(!c.uses_eddsa());
        // The allow-list follows TOKEN_ALG by default ...
        let c = load(&[("TOKEN_ALG", "EdDSA")]).unwrap();
        assert_eq!((c.token_alg, c.algorithms.as_slice()), (Alg::EdDSA, &[Alg::EdDSA][..]));
        assert!(c.uses_eddsa());
        // ... and an explicit one must contain it.
        let e = load(&[("TOKEN_ALG", "EdDSA"), ("JWT_ALGORITHMS", "HS256")]).unwrap_err();
        assert_eq!(e.setting, "JWT_ALGORITHMS");
        assert!(e.to_string().contains("TOKEN_ALG (EdDSA)"), "{e}");
        let c = load(&[("TOKEN_ALG", "EdDSA"), ("JWT_ALGORITHMS", "HS256, EdDSA")]).unwrap();
        assert_eq!(c.algorithms, [Alg::HS256, Alg::EdDSA]);
        let c = load(&[("ASSERTION_ALG", "EdDSA")]).unwrap();
        assert!(c.uses_eddsa() && c.algorithms == [Alg::HS256]);
        assert!(load(&[("JWT_ALGORITHMS", "EdDSA")]).unwrap_err().setting == "JWT_ALGORITHMS");
        let e = load(&[("ASSERTION_ALG", "none")]).unwrap_err();
        assert!(e.to_string().contains("must be HS256 or EdDSA"), "{e}");
        // Equal audiences would let an assertion pass as a bearer token.
        let e = load(&[("TOKEN_AUDIENCE", "x"), ("ORIGIN_AUDIENCE", "x")]).unwrap_err();
        assert_eq!(e.setting, "TOKEN_AUDIENCE");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn secrets_never_echoed() {
        let secret_like = "k1:!!!!not-base64-but-secret-looking-value!!!!";
        let e = load(&[("SESSION_KEYS", secret_like)]).unwrap_err();
        assert!(!e.to_string().contains("secret-looking"), "{e}");
        let c = load(&[("ADMIN_TOKEN", "an-admin-token-that-is-long-enough-1234")]).unwrap();
        let t = c.admin_token.as_ref().unwrap();
        assert!(t.matches("an-admin-token-that-is-long-enough-1234"));
        assert!(!t.matches("an-admin-token-that-is-long-enough-1235"));
        assert!(!format!("{c:?}").contains("long-enough"));
    }
}
