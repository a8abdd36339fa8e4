//! The fuzz harnesses, shared by the `cargo fuzz` targets (`tests/fuzz/fuzz_targets/*.rs`,
//! nightly or `RUSTC_BOOTSTRAP=1`) and by the stable replay of the committed corpus
//! (`tests/fuzz_corpus.rs`, part of `cargo test`). Both include this file with
//! `#[path]`, so it uses only `edge_session`'s public API and adds nothing to the
//! library or the wasm worker.
//!
//! Each harness takes arbitrary bytes, must never panic (a wasm panic kills the
//! request) and checks a property, so a replayed input can fail for a wrong answer
//! too, not only for a crash. The keys are fixed, so a corpus can hold inputs that
//! really open or verify (see `SEED` in `tests/fuzz_corpus.rs`).

#![allow(dead_code)] // each fuzz target uses one harness

use std::sync::OnceLock;

use edge_session::assets::{self, AssetConfig, BundlerRecord, Immutability, Route};
use edge_session::config::Config;
use edge_session::cookie::{self, CookieOptions, SameSite, SessionCookies};
use edge_session::fleet::{self, Attempt, Fleet};
use edge_session::gateway::{Entropy, EntropyError, Finish, Gateway, Step};
use edge_session::http::{Headers, RequestHead};
use edge_session::jwt::{self, Alg, JwtKey, Validation};
use edge_session::keyring::KeyRing;
use edge_session::manifest::{DeploysDoc, Manifest};
use edge_session::seal::{self, SealContext};
use edge_session::session::{self, SessionPolicy};
use edge_session::store::{block_on_ready, MemoryStore};

/// The harness names, one per fuzz target and corpus directory.
pub const TARGETS: [&str; 11] = [
    "open_seal",
    "cookie_header",
    "cookie_attributes",
    "verify_jwt",
    "manifest",
    "asset_path",
    "origin_instructions",
    "header_lines",
    "config",
    "bundler_record",
    "pool",
];

/// Runs the harness `name` on `data`. `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "open_seal" => open_seal(data),
        "cookie_header" => cookie_header(data),
        "cookie_attributes" => cookie_attributes(data),
        "verify_jwt" => verify_jwt(data),
        "manifest" => manifest(data),
        "asset_path" => asset_path(data),
        "origin_instructions" => origin_instructions(data),
        "header_lines" => header_lines(data),
        "config" => config(data),
        "bundler_record" => bundler_record(data),
        "pool" => pool(data),
        _ => return false,
    }
    true
}

/// The fixed ring of every harness: `k1` (primary) and `k0`.
pub const SESSION_KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8,\
    k0:Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA";
/// Cookie name bound into the seals.
pub const COOKIE: &str = "__Host-session";
/// The time at which seals and tokens are opened.
pub const NOW: u64 = 1_700_000_000;

pub fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| KeyRing::parse(SESSION_KEYS).expect("the fixed ring parses"))
}

/// The fixed JWT keys: an HS256 secret and an Ed25519 pair, both under kid `k1`.
pub fn jwt_keys() -> &'static (JwtKey, JwtKey) {
    static KEYS: OnceLock<(JwtKey, JwtKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let hs = JwtKey::from_bytes(b"fuzz-hs256-secret-of-32-bytes-or-more").expect("32+ bytes");
        (hs, JwtKey::ed25519_from_seed(&[42; 32]))
    })
}

pub fn jwt_validation() -> Validation {
    Validation {
        algorithms: vec![Alg::HS256, Alg::EdDSA],
        ..Validation::new("edge-session", "api")
    }
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Opening arbitrary seals, as sealed values and as sessions; sealing arbitrary
/// plaintext round-trips, and no other cookie name or purpose opens it.
pub fn open_seal(data: &[u8]) {
    let ring = ring();
    let ctx = SealContext { name: COOKIE, purpose: session::PURPOSE };
    let sealed = text(data);
    if let Ok(opened) = seal::open(ring, &ctx, &sealed) {
        // Only a real seal opens; it must open the same way twice.
        let again = seal::open(ring, &ctx, &sealed).expect("deterministic");
        assert_eq!(*opened.plaintext, *again.plaintext);
    }
    let policy = SessionPolicy::new(86_400, 3_600, 0.25, 60).expect("valid policy");
    let _ = session::open_session(ring, COOKIE, &sealed, &policy, NOW);

    let mut nonce = [0u8; 24];
    for (n, b) in nonce.iter_mut().zip(data.iter().rev()) {
        *n = *b;
    }
    if let Ok(value) = seal::seal(ring, &ctx, data, &nonce) {
        let opened = seal::open(ring, &ctx, &value).expect("a fresh seal opens");
        assert_eq!(&**opened.plaintext, data);
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let other = SealContext { name: "__Host-other", purpose: session::PURPOSE };
        assert!(seal::open(ring, &other, &value).is_err(), "seal moved to another cookie");
        let purpose = SealContext { name: COOKIE, purpose: "other" };
        assert!(seal::open(ring, &purpose, &value).is_err(), "seal moved to another purpose");
    }
}

/// Parsing a request `Cookie` header: stripping never forwards a session cookie,
/// and whatever reassembles re-encodes into `Set-Cookie` lines that reassemble to
/// the same value.
pub fn cookie_header(data: &[u8]) {
    let header = text(data);
    let opts = CookieOptions { max_chunks: 16, ..CookieOptions::default() };
    let pairs = cookie::parse_cookie_header(&header).count();
    assert!(pairs <= header.len().saturating_add(1));
    if let Some(rest) = cookie::strip(&header, &opts) {
        assert!(
            cookie::parse_cookie_header(&rest)
                .all(|(n, _)| !cookie::is_session_cookie_name(&opts, n)),
            "a session cookie survived strip"
        );
    }
    let present = SessionCookies::from_header(&opts, Some(&header));
    assert!(present.names().count() <= cookie::MAX_RECORDED_NAMES);
    for line in cookie::clear(&opts, &present) {
        assert!(line.is_removal() && !line.as_str().contains(['\r', '\n']));
    }
    let Ok(Some(value)) = present.reassemble() else { return };
    let Ok(lines) = cookie::encode(&opts, &value, 60, &SessionCookies::default()) else { return };
    let mut back = Vec::new();
    for line in &lines {
        let line = line.as_str();
        assert!(line.len() <= cookie::MAX_SET_COOKIE_LEN, "Set-Cookie over 4096 bytes");
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "control or non-ASCII byte");
        back.push(line.split(';').next().unwrap_or_default().to_owned());
    }
    let again = SessionCookies::from_header(&opts, Some(&back.join("; ")));
    assert_eq!(again.reassemble(), Ok(Some(value)), "chunks do not reassemble");
}

/// Cookie attributes from untrusted settings: whatever `CookieOptions` validate,
/// the `Set-Cookie` lines built with them hold exactly the attributes asked for and
/// no injected ones.
pub fn cookie_attributes(data: &[u8]) {
    let input = text(data);
    let mut fields = input.split('\u{1}');
    let mut next = || fields.next().unwrap_or_default().to_owned();
    let (name, path, domain, value) = (next(), next(), next(), next());
    let flags = data.first().copied().unwrap_or_default();
    let opts = CookieOptions {
        name: if name.is_empty() { "__Host-session".into() } else { name },
        secure: flags & 1 == 0,
        http_only: flags & 2 == 0,
        same_site: match flags >> 2 & 3 {
            0 => SameSite::Lax,
            1 => SameSite::Strict,
            _ => SameSite::None,
        },
        path: if path.is_empty() { "/".into() } else { path },
        domain: (!domain.is_empty()).then_some(domain),
        max_chunks: usize::from(flags >> 4).max(1),
    };
    if opts.validate().is_err() {
        return;
    }
    let lines = match cookie::encode(&opts, &value, 60, &SessionCookies::default()) {
        Ok(lines) => lines,
        Err(_) => return,
    };
    for line in lines {
        let line = line.as_str();
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "control or non-ASCII byte");
        let attrs: Vec<&str> = line.split("; ").skip(1).collect();
        let names: Vec<&str> =
            attrs.iter().map(|a| a.split('=').next().unwrap_or_default()).collect();
        let mut want = vec!["Max-Age", "Path"];
        if opts.domain.is_some() {
            want.push("Domain");
        }
        if opts.secure {
            want.push("Secure");
        }
        if opts.http_only {
            want.push("HttpOnly");
        }
        want.push("SameSite");
        assert_eq!(names, want, "attributes injected or lost in {line:?}");
    }
}

/// Verifying arbitrary tokens; tokens minted from arbitrary JSON objects verify
/// with their own algorithm only.
pub fn verify_jwt(data: &[u8]) {
    let (hs, ed) = jwt_keys();
    let v = jwt_validation();
    let token = text(data);
    let pick = |kid: Option<&str>, alg: Alg| {
        (kid == Some("k1")).then_some(if alg == Alg::HS256 { hs } else { ed })
    };
    if let Ok(claims) = jwt::verify_with::<serde_json::Value>(&token, pick, &v, NOW) {
        assert!(claims.is_object());
        assert!(token.len() <= v.max_token_len);
    }
    // The wrong-family key for whatever the header says never verifies.
    let crossed = |kid: Option<&str>, alg: Alg| {
        (kid == Some("k1")).then_some(if alg == Alg::HS256 { ed } else { hs })
    };
    assert!(jwt::verify_with::<serde_json::Value>(&token, crossed, &v, NOW).is_err());

    let Ok(serde_json::Value::Object(mut claims)) = serde_json::from_slice(data) else { return };
    // serde_json reads an object whose first key is its raw-value marker as a raw
    // value: claims holding it do not read back (tests/fuzz/regressions/verify_jwt/).
    // The worker never mints them: Edge-Session-Set refuses session data with that
    // key (src/gateway/origin.rs), so neither do these tokens.
    if serde_json::to_string(&claims)
        .is_ok_and(|t| t.contains("\"$serde_json::private::RawValue\""))
    {
        return;
    }
    claims.insert("iss".into(), "edge-session".into());
    claims.insert("aud".into(), "api".into());
    claims.insert("sub".into(), "fuzz".into());
    claims.insert("exp".into(), (NOW + 60).into());
    for k in ["nbf", "iat"] {
        claims.remove(k);
    }
    let claims = serde_json::Value::Object(claims);
    for key in [hs, ed] {
        let token = jwt::mint(&claims, key, Some("k1")).expect("objects always mint");
        if token.len() > v.max_token_len {
            continue;
        }
        let back: serde_json::Value = jwt::verify_with(&token, pick, &v, NOW).expect("verifies");
        // Floats need not survive a text round trip bit for bit; everything else must.
        if !has_float(&claims) {
            assert_eq!(back, claims);
        }
        assert!(jwt::verify_with::<serde_json::Value>(&token, crossed, &v, NOW).is_err());
    }
}

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(items) => items.iter().any(has_float),
        serde_json::Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

/// Parsing stored manifests and deploy lists: whatever parses re-serializes to an
/// equal value.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = Manifest::parse(data, "fuzz") {
        let again = Manifest::parse(&m.to_json(), "fuzz").expect("own JSON parses");
        assert_eq!(again, m);
    }
    if let Ok(doc) = DeploysDoc::parse(data) {
        let again = DeploysDoc::parse(&doc.to_json()).expect("own JSON parses");
        assert_eq!(again, doc);
    }
}

/// Routing request paths: decoded paths hold no dot segment, control byte or
/// backslash; asset-looking paths are never entry points (so the SPA fallback can
/// never answer HTML for a missing asset); origin paths never reach the assets.
pub fn asset_path(data: &[u8]) {
    let raw = text(data);
    let path = if raw.starts_with('/') { raw } else { format!("/{raw}") };
    let cfg = AssetConfig { spa_fallback: Some("index.html".into()), ..AssetConfig::default() };
    for method in ["GET", "POST"] {
        let req = RequestHead {
            method: method.into(),
            path: path.clone(),
            query: String::new(),
            origin: String::new(),
            headers: Headers::new(),
        };
        let route = assets::classify(&req, &cfg);
        if path.starts_with("/api/") || path.starts_with("/_session/") {
            assert_eq!(route, Route::Origin, "{path:?}");
        }
        if let Ok(decoded) = assets::decode_path(&path) {
            assert!(decoded.split('/').all(|s| s != "." && s != ".."), "{decoded:?}");
            assert!(!decoded.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\'), "{decoded:?}");
            if assets::is_asset_like(&decoded) {
                assert_ne!(route, Route::EntryPoint, "asset-like {path:?} is an entry point");
            }
            let key = assets::key_for(&decoded);
            assert!(!key.starts_with('/'));
        }
    }
}

/// The settings every gateway harness starts from (fixed keys, as above).
pub fn base_setting(name: &str) -> Option<String> {
    match name {
        "SESSION_KEYS" => Some(SESSION_KEYS.into()),
        "ORIGIN_SECRET" => Some("fuzz-origin-secret-of-32-bytes-or-more".into()),
        "ORIGIN_URL" => Some("http://127.0.0.1:8788".into()),
        _ => None,
    }
}

/// Counter-based randomness: the harnesses must be deterministic.
pub struct Counter(pub u8);

impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf.iter_mut() {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

fn gateway() -> &'static Gateway {
    static GW: OnceLock<Gateway> = OnceLock::new();
    GW.get_or_init(|| Gateway::new(Config::from_lookup(&base_setting).expect("base settings load")))
}

fn run_now<F: std::future::Future>(f: F) -> F::Output {
    block_on_ready(f).expect("memory futures complete at once")
}

/// One request through both phases: the origin answers with `origin_headers`.
/// Returns the final response headers (or the replacement response's) and status.
fn roundtrip(req: &RequestHead, origin_headers: Headers, store: &MemoryStore) -> (u16, Headers) {
    let gw = gateway();
    let (mut entropy, mut log) = (Counter(0), Vec::new());
    match run_now(gw.handle(req, store, &mut entropy, NOW, &mut log)) {
        Step::Respond(r) => (r.status, r.headers),
        Step::Forward(f) => {
            let mut headers = origin_headers;
            match run_now(gw.finish(f.pending, &mut headers, store, &mut entropy, NOW, &mut log)) {
                Finish::Pass { .. } => (200, headers),
                Finish::Replace(r) => (r.status, r.headers),
            }
        }
    }
}

/// What the origin sends back: `Edge-Session-Set` (the first line) and
/// `Edge-Session-Action` (the second), applied to a logged-in session. Never a panic;
/// either a refusal (502, no cookie written) or a response that carries no
/// `Edge-Session*` header and only well-formed `Set-Cookie` lines; a cookie written
/// for a `set` opens again.
pub fn origin_instructions(data: &[u8]) {
    let text = text(data);
    let mut parts = text.splitn(2, '\n');
    let (set, action) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let store = MemoryStore::new(NOW);
    let login: Headers =
        [("edge-session-set", r#"{"sub":"ada","data":{"n":1}}"#)].into_iter().collect();
    let (_, first) = roundtrip(
        &RequestHead::new("POST", "https://app.example/login", Headers::new()),
        login,
        &store,
    );
    let cookie: Vec<&str> = first
        .iter()
        .filter(|(n, _)| *n == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .collect();
    assert!(!cookie.is_empty(), "the fixed login writes a cookie");
    let mut origin = Headers::new();
    if !set.is_empty() {
        origin.append("edge-session-set", set);
    }
    if !action.is_empty() {
        origin.append("edge-session-action", action);
    }
    let req_headers: Headers = [("cookie", cookie.join("; "))].into_iter().collect();
    let req = RequestHead::new("POST", "https://app.example/api/x", req_headers);
    let (status, headers) = roundtrip(&req, origin, &store);
    assert!(headers.iter().all(|(n, _)| !n.starts_with("edge-session")), "{headers:?}");
    for (_, v) in headers.iter().filter(|(n, _)| *n == "set-cookie") {
        assert!(!v.bytes().any(|b| b < 0x20 || b == 0x7f), "control byte in {v:?}");
        assert!(v.len() <= 4096, "a Set-Cookie of {} bytes", v.len());
    }
    if status == 502 {
        assert!(headers.iter().all(|(n, _)| n != "set-cookie"), "a refusal writes no cookie");
    }
    let sub = serde_json::from_str::<serde_json::Value>(set)
        .ok()
        .and_then(|v| v["sub"].as_str().map(str::to_owned));
    if let (200, true, Some(sub)) = (status, action.is_empty(), sub) {
        // The session the origin set opens on the next request as that user.
        let cookie: Vec<&str> = headers
            .iter()
            .filter(|(n, v)| *n == "set-cookie" && !v.contains("Max-Age=0"))
            .filter_map(|(_, v)| v.split(';').next())
            .collect();
        let next: Headers = [("cookie", cookie.join("; "))].into_iter().collect();
        let req = RequestHead::new("GET", "https://app.example/api/me", next);
        let (mut entropy, mut log) = (Counter(0), Vec::new());
        let Step::Forward(f) = run_now(gateway().handle(&req, &store, &mut entropy, NOW, &mut log))
        else {
            panic!("the next request was answered by the worker");
        };
        let token = f.headers.get("edge-session").expect("the new session is verified");
        let key = JwtKey::from_bytes(b"fuzz-origin-secret-of-32-bytes-or-more").expect("32+ bytes");
        // An origin reads assertions as large as a session at the cookie cap makes them
        // (the demo origin allows 64 KiB), not the 8 KiB of a bearer token.
        let v =
            Validation { max_token_len: 64 * 1024, ..Validation::new("edge-session", "origin") };
        let claims =
            jwt::verify::<serde_json::Value>(token, |_| Some(&key), &v, NOW).expect("verifies");
        assert_eq!(claims["sub"].as_str(), Some(sub.as_str()));
    }
}

/// The header list the shell hands the core (`name\nvalue\n…`) as a request: never
/// a panic; the origin never sees a session cookie or a client `Edge-Session*`
/// header, and an assertion it gets verifies.
pub fn header_lines(data: &[u8]) {
    let headers = Headers::from_lines(text(data));
    let rebuilt: Headers = headers.iter().collect();
    assert_eq!(rebuilt, headers, "a list rebuilds from its entries");
    assert!(rebuilt.changes_from(&headers).is_empty());
    let req = RequestHead::new("GET", "https://app.example/api/me", headers);
    let store = MemoryStore::new(NOW);
    let gw = gateway();
    let (mut entropy, mut log) = (Counter(0), Vec::new());
    if let Step::Forward(f) = run_now(gw.handle(&req, &store, &mut entropy, NOW, &mut log)) {
        for (name, value) in f.headers.iter() {
            // What the gateway reads as a bearer token (scheme `Bearer`, any case, a space,
            // a token) never reaches the origin; other Authorization values pass as they
            // are (`Bearer\x13 …` is no bearer token: its scheme is `Bearer\x13`).
            let bearer =
                value.trim().split_once(' ').is_some_and(|(s, _)| s.eq_ignore_ascii_case("bearer"));
            assert!(name != "authorization" || !bearer, "bearer forwarded");
            if name == "edge-session" {
                let key = JwtKey::from_bytes(b"fuzz-origin-secret-of-32-bytes-or-more")
                    .expect("32+ bytes");
                let v = Validation::new("edge-session", "origin");
                let verified = jwt::verify::<serde_json::Value>(value, |_| Some(&key), &v, NOW);
                assert!(verified.is_ok(), "the assertion verifies: {verified:?}");
            } else {
                assert!(!name.starts_with("edge-session"), "client {name} forwarded");
            }
            if name == "cookie" {
                let opts = gw.config().cookie.clone();
                assert!(
                    SessionCookies::from_header(&opts, Some(value)).is_empty(),
                    "session cookie forwarded"
                );
            }
        }
    }
}

/// Settings as `NAME=VALUE` lines over the base settings: loading never panics, and
/// a configuration that loads serves a request without panicking.
pub fn config(data: &[u8]) {
    let text = text(data);
    let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |name: &str| {
        lines
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| base_setting(name))
    };
    let _ = AssetConfig::from_lookup(get);
    let Ok(config) = Config::from_lookup(&get) else { return };
    let gw = Gateway::new(config);
    let store = MemoryStore::new(NOW);
    let (mut entropy, mut log) = (Counter(0), Vec::new());
    for path in ["https://app.example/api/me", "https://app.example/_session/jwks.json"] {
        let _ = run_now(gw.handle(
            &RequestHead::new("GET", path, Headers::new()),
            &store,
            &mut entropy,
            NOW,
            &mut log,
        ));
    }
}

/// A bundler record (what `assets publish` reads): parsing never panics, and a record
/// only ever adds immutable files: a name the last-resort rule calls hashed stays
/// immutable with the record too.
pub fn bundler_record(data: &[u8]) {
    let _ = BundlerRecord::parse_flat_map("fuzz.json", data);
    let Ok(record) = BundlerRecord::parse("fuzz.json", data) else { return };
    let rules = Immutability::new(&[], std::slice::from_ref(&record));
    let json: serde_json::Value = serde_json::from_slice(data).expect("a record is JSON");
    let mut paths = Vec::new();
    collect_strings(&json, &mut paths);
    for p in paths.iter().map(|p| p.trim_start_matches('/')) {
        let rule = rules.rule_for(p);
        if assets::is_content_hashed(p) {
            assert!(rule.is_some(), "{p:?} is hashed by name but not immutable");
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(map) => {
            for (k, i) in map {
                out.push(k.clone());
                collect_strings(i, out);
            }
        }
        _ => {}
    }
}

/// The origin pool: `ORIGINS` from the first line, a deploy's pool from the second,
/// the stored health report from the third (its lines joined by `|`; parsing never
/// panics), then each
/// following byte drives the pool's state (start a request, an answer, a failure,
/// time passing, a drain). Throughout: `order` lists every configured and preferred
/// origin once, failing (ejected or check-failed) origins never before a healthy
/// one, drained ones last, and never more than half of `ORIGINS` ejected.
pub fn pool(data: &[u8]) {
    let text = text(data);
    let mut lines = text.splitn(4, '\n');
    let (spec, deploy, health, ops) =
        (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next(), lines.next());
    let Ok(origins) = fleet::parse_origins(spec, fleet::check_url) else { return };
    let configured = origins.len();
    let f = Fleet::new(origins, 30);
    let prefer = match edge_session::manifest::deploy_pool(deploy) {
        Ok(pool) => f.learn(&pool).0,
        Err(_) => Vec::new(),
    };
    let listed: Vec<usize> =
        (0..f.len()).filter(|i| *i < configured || prefer.contains(i)).collect();
    let mut now = NOW;
    // The report's lines are separated by `|` on its one line here.
    let health = health.map(|h| h.replace('|', "\n"));
    if let Some(Ok(report)) = health.map(|h| fleet::HealthReport::parse(h.as_bytes())) {
        f.apply_health(&report, now);
    }
    let mut state = fleet::PoolState::default();
    for (k, b) in ops.unwrap_or("").bytes().enumerate() {
        let i = usize::from(b >> 2) % f.len();
        match b & 3 {
            0 => f.start(i),
            1 if k % 7 == 0 => {
                let url = f.url(i).unwrap_or_default();
                match state.drained.contains_key(&url) {
                    true => state.undrain(&url, now),
                    false => state.drain(&url, now),
                }
                f.apply(&state);
            }
            1 => {
                f.finish(i, Attempt::Answered, now);
            }
            2 => {
                f.finish(i, Attempt::Failed, now);
            }
            _ => now += u64::from(b >> 2),
        }
        let order = f.order((k % 2 == 0).then_some("sid"), now, b.into(), &prefer);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, listed, "every listed origin once: {order:?}");
        let ejected = (0..configured).filter(|i| f.is_ejected(*i, now)).count();
        assert!(ejected * 2 <= configured, "{ejected} of {configured} ejected");
        let rank = |i: &usize| match (f.is_drained(*i), f.is_failing(*i, now)) {
            (true, _) => 2,
            (false, true) => 1,
            (false, false) => 0,
        };
        let ranks: Vec<u8> = order.iter().map(rank).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{order:?} ranks {ranks:?}");
    }
}
