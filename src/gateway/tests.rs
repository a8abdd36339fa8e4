//! Pipeline tests with the in-memory store and a counter-based entropy source.

use super::*;
use crate::config::tests::{load, SECRET};
use crate::store::{block_on_ready, MemoryStore};

pub(super) struct Counter(pub(super) u8);

impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf.iter_mut() {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

pub(super) const T0: u64 = 1_700_000_000;

pub(super) struct Rig {
    pub(super) gw: Gateway,
    pub(super) store: MemoryStore,
    pub(super) entropy: Counter,
    pub(super) log: Log,
}

pub(super) fn rig(extra: &[(&str, &str)]) -> Rig {
    Rig {
        gw: Gateway::new(load(extra).unwrap()),
        store: MemoryStore::new(T0),
        entropy: Counter(0),
        log: Vec::new(),
    }
}

pub(super) fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead::new(method, path, headers.iter().map(|(n, v)| (*n, v.to_string())).collect())
}

pub(super) fn run<F: std::future::Future>(f: F) -> F::Output {
    block_on_ready(f).expect("memory futures complete at once")
}

thread_local! {
    /// The time of the last request, at which its assertion is verified.
    static LAST_NOW: std::cell::Cell<u64> = const { std::cell::Cell::new(T0) };
}

impl Rig {
    pub(super) fn handle(&mut self, r: &RequestHead, now: u64) -> Step {
        self.store.now.set(now);
        LAST_NOW.with(|t| t.set(now));
        run(self.gw.handle(r, &self.store, &mut self.entropy, now, &mut self.log))
    }

    pub(super) fn forward(&mut self, r: &RequestHead, now: u64) -> Forward {
        match self.handle(r, now) {
            Step::Forward(f) => f,
            Step::Respond(resp) => panic!(
                "expected forward, got {} {:?}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            ),
        }
    }

    pub(super) fn respond(&mut self, r: &RequestHead, now: u64) -> Response {
        match self.handle(r, now) {
            Step::Respond(resp) => resp,
            Step::Forward(f) => panic!("expected a response, got a forward to {}", f.url),
        }
    }

    /// Runs a request through both phases with the given origin response headers.
    pub(super) fn roundtrip(
        &mut self,
        r: &RequestHead,
        origin: &[(&str, &str)],
        now: u64,
    ) -> (Forward2, Headers, Finish) {
        let f = self.forward(r, now);
        let mut headers: Headers = origin.iter().map(|(n, v)| (*n, v.to_string())).collect();
        let upstream = Forward2 { headers: f.headers.clone() };
        let finish = run(self.gw.finish(
            f.pending,
            &mut headers,
            &self.store,
            &mut self.entropy,
            now,
            &mut self.log,
        ));
        (upstream, headers, finish)
    }

    /// Logs `user` in and returns the Cookie header a browser would send next.
    pub(super) fn login(&mut self, user: &str, now: u64) -> String {
        let set = format!(r#"{{"sub":"{user}","data":{{"name":"{user}"}}}}"#);
        let (_, headers, finish) =
            self.roundtrip(&req("POST", "/login", &[]), &[("edge-session-set", &set)], now);
        assert!(matches!(finish, Finish::Pass { .. }));
        cookie_header(&headers)
    }
}

pub(super) struct Forward2 {
    pub(super) headers: Headers,
}

/// What a browser sends back after these Set-Cookie lines (ignoring deletions).
pub(super) fn cookie_header(headers: &Headers) -> String {
    headers
        .iter()
        .filter(|(n, _)| *n == "set-cookie")
        .filter(|(_, v)| !v.contains("Max-Age=0"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn set_cookies(headers: &Headers) -> Vec<&str> {
    headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v).collect()
}

pub(super) fn assertion(headers: &Headers) -> Option<TokenClaims> {
    let token = headers.get(ASSERTION_HEADER)?;
    let key = jwt::JwtKey::from_bytes(SECRET.as_bytes()).unwrap();
    let v = Validation {
        issuer: "edge-session".into(),
        audience: "origin".into(),
        algorithms: vec![jwt::Alg::HS256],
        leeway: 0,
        max_token_len: 8192,
    };
    let now = LAST_NOW.with(|t| t.get());
    Some(
        jwt::verify(token, |_| Some(&key), &v, now)
            .expect("assertion verifies with the origin secret"),
    )
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn anonymous_requests_carry_no_assertion_and_no_forged_headers() {
    let mut r = rig(&[]);
    let f = r.forward(
        &req(
            "GET",
            "/api/me?x=1",
            &[
                ("edge-session", "forged"),
                ("Edge-Session-Set", "x"),
                ("cookie", "theme=dark"),
                ("accept", "a/b"),
            ],
        ),
        T0,
    );
    assert_eq!(f.url, "http://127.0.0.1:8788/api/me?x=1");
    assert_eq!(f.headers.get("edge-session"), None);
    assert_eq!(f.headers.get("edge-session-set"), None);
    assert_eq!(f.headers.get("cookie"), Some("theme=dark"));
    assert_eq!(f.headers.get("accept"), Some("a/b"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn login_then_requests_carry_verified_claims_and_no_session_cookie() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    assert!(cookie.starts_with("__Host-session=v1.k1."), "{cookie}");
    let (up, headers, _) = r.roundtrip(
        &req("GET", "/api/me", &[("cookie", &format!("theme=dark; {cookie}"))]),
        &[],
        T0 + 5,
    );
    let claims = assertion(&up.headers).expect("assertion present");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.data.to_map()["name"], "alice");
    assert_eq!(claims.aud, "origin");
    assert!(claims.exp <= T0 + 5 + 60);
    // The session's own ends (defaults: 7 days absolute, 1 day idle), not the assertion's.
    assert_eq!(claims.session_exp, Some(T0 + 7 * 86_400));
    assert_eq!(claims.idle_exp, Some(T0 + 86_400), "no refresh within the window");
    let later = T0 + 86_400 / 2;
    let claims = assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), later).headers);
    assert_eq!(claims.unwrap().idle_exp, Some(later + 86_400), "the refresh this request gets");
    assert_eq!(up.headers.get("cookie"), Some("theme=dark"), "session cookie stripped upstream");
    assert!(set_cookies(&headers).is_empty(), "no re-issue within the refresh window");
    assert_eq!(headers.get("cache-control"), Some("private"));
    assert_eq!(headers.get("vary"), Some("Cookie"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tampered_cookie_is_anonymous_and_cleared() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let mut bytes = cookie.into_bytes();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let (up, headers, _) = r.roundtrip(&req("GET", "/", &[("cookie", &tampered)]), &[], T0 + 1);
    assert!(assertion(&up.headers).is_none());
    let sc = set_cookies(&headers);
    assert_eq!(sc.len(), 1);
    assert!(sc[0].starts_with("__Host-session=;") && sc[0].contains("Max-Age=0"), "{sc:?}");
    assert!(r.log.iter().any(|l| l.contains("rejected")), "{:?}", r.log);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn origin_updates_data_and_destroys() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let set = r#"{"sub":"alice","data":{"name":"alice","theme":"dark"}}"#;
    let (_, headers, _) = r.roundtrip(
        &req("POST", "/api/data", &[("cookie", &cookie)]),
        &[("edge-session-set", set)],
        T0 + 2,
    );
    assert_eq!(headers.get("edge-session-set"), None, "instruction stripped");
    let cookie2 = cookie_header(&headers);
    let (up, _, _) = r.roundtrip(&req("GET", "/api/me", &[("cookie", &cookie2)]), &[], T0 + 3);
    let c = assertion(&up.headers).unwrap();
    assert_eq!(c.data.to_map()["theme"], "dark");
    let first =
        assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), T0 + 3).headers).unwrap();
    assert_eq!(c.sid, first.sid, "same user keeps the session id");
    let (_, headers, _) = r.roundtrip(
        &req("POST", "/logout", &[("cookie", &cookie2)]),
        &[("edge-session-action", "destroy")],
        T0 + 4,
    );
    assert_eq!(headers.get("edge-session-action"), None);
    assert!(set_cookies(&headers).iter().all(|c| c.contains("Max-Age=0")));
    assert!(!set_cookies(&headers).is_empty());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn oversize_update_is_refused_and_previous_session_kept() {
    let mut r = rig(&[("COOKIE_MAX_CHUNKS", "2")]);
    let cookie = r.login("alice", T0);
    let big = "x".repeat(20_000);
    let set = format!(r#"{{"sub":"alice","data":{{"blob":"{big}"}}}}"#);
    let (_, headers, finish) = r.roundtrip(
        &req("POST", "/api/big", &[("cookie", &cookie)]),
        &[("edge-session-set", &set)],
        T0 + 1,
    );
    let Finish::Replace(resp) = finish else { panic!("expected a refusal") };
    assert_eq!(resp.status, 502);
    let body = String::from_utf8(resp.body).unwrap();
    assert!(body.contains("2") && body.contains("bytes"), "names size and cap: {body}");
    assert!(set_cookies(&resp.headers).is_empty() && set_cookies(&headers).is_empty());
    // The old cookie still works.
    assert!(
        assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), T0 + 2).headers).is_some()
    );
    // Moderately large sessions are chunked, and every chunk is sent separately.
    let set = format!(r#"{{"sub":"alice","data":{{"blob":"{}"}}}}"#, "y".repeat(5_000));
    let (_, headers, finish) = r.roundtrip(
        &req("POST", "/api/big", &[("cookie", &cookie)]),
        &[("edge-session-set", &set)],
        T0 + 3,
    );
    assert!(matches!(finish, Finish::Pass { .. }));
    let chunked = cookie_header(&headers);
    assert_eq!(set_cookies(&headers).iter().filter(|c| !c.contains("Max-Age=0")).count(), 2);
    let c =
        assertion(&r.forward(&req("GET", "/", &[("cookie", &chunked)]), T0 + 4).headers).unwrap();
    assert_eq!(c.data.to_map()["blob"].as_str().unwrap().len(), 5_000);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bad_instructions_are_clear_errors() {
    let mut r = rig(&[]);
    for (name, value) in [
        ("edge-session-set", "not json"),
        ("edge-session-set", r#"{"sub":"a","unknown":1}"#),
        ("edge-session-set", r#"{"sub":"a\u0000b"}"#),
        ("edge-session-set", r#"{"sub":"a","ttl":99999999999}"#),
        ("edge-session-set", r#"{"sub":"a","data":{"$serde_json::private::RawValue":1}}"#),
        ("edge-session-set", r#"{"sub":"a","data":{"x":[{"$serde_json::private::RawValue":1}]}}"#),
        ("edge-session-action", "explode"),
    ] {
        let (_, headers, finish) = r.roundtrip(&req("POST", "/x", &[]), &[(name, value)], T0);
        let Finish::Replace(resp) = finish else { panic!("{name}: {value} accepted") };
        assert_eq!(resp.status, 502, "{value}");
        assert!(set_cookies(&headers).is_empty());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn rolling_refresh_is_throttled_and_expiry_enforced() {
    let mut r =
        rig(&[("SESSION_IDLE_TTL", "1000"), ("SESSION_ABSOLUTE_TTL", "3000"), ("CLOCK_SKEW", "0")]);
    let cookie = r.login("alice", T0);
    let (_, h, _) = r.roundtrip(&req("GET", "/", &[("cookie", &cookie)]), &[], T0 + 200);
    assert!(set_cookies(&h).is_empty(), "before 25% of the idle window: no re-issue");
    let (_, h, _) = r.roundtrip(&req("GET", "/", &[("cookie", &cookie)]), &[], T0 + 300);
    let refreshed = cookie_header(&h);
    assert!(!refreshed.is_empty(), "after 25%: re-issued");
    let max_age: u64 = set_cookies(&h)[0]
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(max_age, 1000, "Max-Age = idle window, never past the seal's expiry");
    // The old cookie dies at its idle expiry; the refreshed one lives on.
    assert!(assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), T0 + 1001).headers)
        .is_none());
    assert!(assertion(&r.forward(&req("GET", "/", &[("cookie", &refreshed)]), T0 + 1001).headers)
        .is_some());
    // Absolute expiry cannot be refreshed away.
    assert!(assertion(&r.forward(&req("GET", "/", &[("cookie", &refreshed)]), T0 + 3001).headers)
        .is_none());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn key_rotation_reseals_under_the_new_primary() {
    let mut old = rig(&[("SESSION_KEYS", crate::config::tests::KEYS.split(',').nth(1).unwrap())]);
    let cookie = old.login("alice", T0);
    assert!(cookie.contains("=v1.k0."));
    let mut r = rig(&[]); // k1 primary, k0 still opens
    let (up, h, _) = r.roundtrip(&req("GET", "/", &[("cookie", &cookie)]), &[], T0 + 1);
    assert!(assertion(&up.headers).is_some());
    assert!(cookie_header(&h).contains("=v1.k1."), "re-sealed under k1");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn logout_revokes_copies_of_the_cookie_and_its_tokens() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let resp = r.respond(&req("POST", "/_session/token", &[("cookie", &cookie)]), T0 + 1);
    assert_eq!(resp.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let up = r.forward(&req("GET", "/api/me", &[("authorization", &bearer)]), T0 + 2);
    assert_eq!(assertion(&up.headers).unwrap().sub, "alice");
    assert_eq!(up.headers.get("authorization"), None, "bearer token not forwarded");

    let resp = r.respond(&req("POST", "/_session/logout", &[("cookie", &cookie)]), T0 + 3);
    assert_eq!(resp.status, 200);
    assert!(set_cookies(&resp.headers).iter().any(|c| c.contains("Max-Age=0")));
    assert!(
        assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), T0 + 4).headers).is_none()
    );
    assert!(assertion(&r.forward(&req("GET", "/", &[("authorization", &bearer)]), T0 + 4).headers)
        .is_none());
    assert_eq!(r.respond(&req("GET", "/_session/logout", &[]), T0).status, 405);
    assert_eq!(r.respond(&req("POST", "/_session/token", &[]), T0).status, 401);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn revoke_all_and_rotate() {
    let mut r = rig(&[]);
    let a1 = r.login("alice", T0);
    let a2 = r.login("alice", T0 + 1);
    let b = r.login("bob", T0 + 1);
    let (_, h, _) = r.roundtrip(
        &req("POST", "/x", &[("cookie", &a1)]),
        &[("edge-session-action", "revoke-all")],
        T0 + 2,
    );
    assert!(set_cookies(&h).iter().all(|c| c.contains("Max-Age=0")));
    for (c, alive) in [(&a1, false), (&a2, false), (&b, true)] {
        assert_eq!(
            assertion(&r.forward(&req("GET", "/", &[("cookie", c)]), T0 + 3).headers).is_some(),
            alive
        );
    }
    let a3 = r.login("alice", T0 + 3);
    assert!(
        assertion(&r.forward(&req("GET", "/", &[("cookie", &a3)]), T0 + 4).headers).is_some(),
        "new logins work"
    );

    let before =
        assertion(&r.forward(&req("GET", "/", &[("cookie", &b)]), T0 + 4).headers).unwrap();
    let (_, h, _) = r.roundtrip(
        &req("POST", "/x", &[("cookie", &b)]),
        &[("edge-session-action", "rotate")],
        T0 + 5,
    );
    let rotated = cookie_header(&h);
    let after =
        assertion(&r.forward(&req("GET", "/", &[("cookie", &rotated)]), T0 + 6).headers).unwrap();
    assert_ne!(before.sid, after.sid);
    assert_eq!(after.auth_time, before.auth_time);
    assert!(
        assertion(&r.forward(&req("GET", "/", &[("cookie", &b)]), T0 + 6).headers).is_none(),
        "old sid revoked"
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn kv_failure_fails_closed_on_protected_paths_and_keeps_the_cookie() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    *r.store.fail.borrow_mut() = Some("binding broken".into());
    let resp = r.respond(&req("GET", "/api/me", &[("cookie", &cookie)]), T0 + 1);
    assert_eq!(resp.status, 503);
    let (up, h, _) = r.roundtrip(&req("GET", "/page", &[("cookie", &cookie)]), &[], T0 + 1);
    assert!(assertion(&up.headers).is_none(), "unverified means anonymous");
    assert!(set_cookies(&h).is_empty(), "the cookie is not destroyed by a KV outage");
    assert!(r.log.iter().any(|l| l.contains("failing closed") && l.contains("binding broken")));

    let mut open = rig(&[("REVOCATION_FAIL_MODE", "open")]);
    let cookie = open.login("alice", T0);
    *open.store.fail.borrow_mut() = Some("binding broken".into());
    assert!(assertion(
        &open.forward(&req("GET", "/api/me", &[("cookie", &cookie)]), T0 + 1).headers
    )
    .is_some());
    assert!(open.log.iter().any(|l| l.contains("failing open")));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn admin_endpoint_is_off_by_default_and_authenticated() {
    let mut r = rig(&[]);
    assert_eq!(r.respond(&req("POST", "/_session/admin/revoke?user=alice", &[]), T0).status, 404);
    let token = "admin-token-admin-token-admin-token-42";
    let mut r = rig(&[("ADMIN_TOKEN", token)]);
    let cookie = r.login("alice", T0);
    let wrong =
        req("POST", "/_session/admin/revoke?user=alice", &[("authorization", "Bearer nope")]);
    assert_eq!(r.respond(&wrong, T0 + 1).status, 401);
    let auth = format!("Bearer {token}");
    assert_eq!(
        r.respond(&req("POST", "/_session/admin/revoke", &[("authorization", &auth)]), T0 + 1)
            .status,
        400
    );
    let ok = req("POST", "/_session/admin/revoke?user=alice", &[("authorization", &auth)]);
    assert_eq!(r.respond(&ok, T0 + 1).status, 200);
    assert!(
        assertion(&r.forward(&req("GET", "/", &[("cookie", &cookie)]), T0 + 2).headers).is_none()
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn cache_headers_respect_stricter_origin_choices() {
    let mut h: Headers =
        [("cache-control", "public, max-age=60, s-maxage=600"), ("vary", "Accept")]
            .into_iter()
            .collect();
    origin::privatize(&mut h, true);
    assert_eq!(h.get("cache-control"), Some("private, max-age=60"));
    assert_eq!(h.get("vary"), Some("Accept, Cookie, Authorization"));
    let mut h: Headers = [("cache-control", "no-store"), ("vary", "*")].into_iter().collect();
    origin::privatize(&mut h, false);
    assert_eq!(h.get("cache-control"), Some("no-store"));
    assert_eq!(h.get("vary"), Some("*"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn cross_site_unsafe_requests_with_the_cookie_are_refused() {
    let mut r = rig(&[("CSRF_ALLOWED_ORIGINS", "https://partner.example")]);
    let cookie = r.login("alice", T0);
    let at = |method: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("cookie", cookie.as_str())];
        all.extend_from_slice(headers);
        RequestHead::new(
            method,
            "https://app.example/api/data",
            all.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        )
    };
    let refused: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site"), ("origin", "https://evil.example")],
        &[("origin", "https://evil.example")],
        &[("origin", "null"), ("content-type", "text/plain")],
        &[("sec-fetch-site", "cross-site"), ("origin", "https://app.example.evil")],
    ];
    for h in refused {
        match r.handle(&at("POST", h), T0 + 1) {
            Step::Respond(resp) => {
                assert_eq!(resp.status, 403, "{h:?}");
                assert!(String::from_utf8_lossy(&resp.body).contains("CSRF_ALLOWED_ORIGINS"));
            }
            Step::Forward(_) => panic!("cross-site request forwarded: {h:?}"),
        }
    }
    let allowed: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "same-origin")],
        &[("origin", "https://app.example")],
        &[("sec-fetch-site", "cross-site"), ("origin", "https://partner.example")],
        &[],
    ];
    for h in allowed {
        assert!(matches!(r.handle(&at("POST", h), T0 + 1), Step::Forward(_)), "{h:?}");
    }
    // Safe methods and cookie-less requests are never refused.
    assert!(matches!(
        r.handle(&at("GET", &[("sec-fetch-site", "cross-site")]), T0 + 1),
        Step::Forward(_)
    ));
    let bare = RequestHead::new(
        "POST",
        "https://app.example/x",
        [("origin", "https://evil.example")].into_iter().collect(),
    );
    assert!(matches!(r.handle(&bare, T0 + 1), Step::Forward(_)));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn cross_site_websocket_upgrades_with_the_cookie_are_refused() {
    let mut r = rig(&[("CSRF_ALLOWED_ORIGINS", "https://partner.example")]);
    let cookie = r.login("alice", T0);
    let upgrade = |cookie: Option<&str>, extra: &[(&str, &str)]| {
        let mut all = vec![("upgrade", "websocket"), ("connection", "Upgrade")];
        all.extend(cookie.map(|c| ("cookie", c)));
        all.extend_from_slice(extra);
        RequestHead::new(
            "GET",
            "https://app.example/ws",
            all.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        )
    };
    let refused: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")],
        // A sibling subdomain is same-site: Lax cookies go along.
        &[("sec-fetch-site", "same-site"), ("origin", "https://chat.app.example")],
        &[("origin", "https://evil.example")],
        &[("upgrade", "WebSocket"), ("origin", "https://evil.example")],
    ];
    for h in refused {
        let Step::Respond(resp) = r.handle(&upgrade(Some(&cookie), h), T0 + 1) else {
            panic!("cross-site upgrade forwarded: {h:?}");
        };
        assert_eq!(resp.status, 403, "{h:?}");
        let body = String::from_utf8_lossy(&resp.body);
        assert!(body.contains("cross_site_websocket") && body.contains("CSRF_ALLOWED_ORIGINS"));
    }
    let allowed: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "same-origin"), ("origin", "https://app.example")],
        &[("origin", "https://app.example")],
        &[("sec-fetch-site", "cross-site"), ("origin", "https://partner.example")],
        &[],
    ];
    for h in allowed {
        let f = r.forward(&upgrade(Some(&cookie), h), T0 + 1);
        assert_eq!(assertion(&f.headers).map(|c| c.sub), Some("alice".into()), "{h:?}");
    }
    // Anonymous upgrades pass as before, from anywhere, without an assertion.
    let evil = [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")];
    assert!(assertion(&r.forward(&upgrade(None, &evil), T0 + 1).headers).is_none());
}

/// Stores `data` (a JSON object text) in a new session of `sub`; the Cookie header
/// a browser sends next, or `None` when the cookie would be over the cap.
fn session_with(r: &mut Rig, sub: &str, data: &str, now: u64) -> Option<String> {
    let set = serde_json::json!({"sub": sub, "data": serde_json::from_str::<serde_json::Value>(data).unwrap()});
    let (_, headers, finish) =
        r.roundtrip(&req("POST", "/login", &[]), &[("edge-session-set", &set.to_string())], now);
    matches!(finish, Finish::Pass { .. }).then(|| cookie_header(&headers))
}

/// `POST /_session/token` with `cookie`: the status and the JSON body.
fn token_for(r: &mut Rig, cookie: &str, now: u64) -> (u16, serde_json::Value) {
    let resp = r.respond(&req("POST", "/_session/token", &[("cookie", cookie)]), now);
    (resp.status, serde_json::from_slice(&resp.body).unwrap())
}

/// The claims the origin sees for a request with `Authorization: Bearer token`.
fn bearer_claims(r: &mut Rig, token: &str, now: u64) -> Option<TokenClaims> {
    let auth = format!("Bearer {token}");
    assertion(&r.forward(&req("GET", "/api/me", &[("authorization", &auth)]), now).headers)
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_session_at_the_cookie_cap_gets_a_token_that_verifies() {
    // The largest session the cookie takes (default four chunks).
    let mut r = rig(&[]);
    let mut n = 20_000;
    let cookie = loop {
        let data = format!(r#"{{"blob":"{}"}}"#, "x".repeat(n));
        if let Some(c) = session_with(&mut r, "ada", &data, T0) {
            break c;
        }
        n -= 100;
    };
    assert!(n > 8_192, "the cap holds more than a bearer token: {n}");
    for (mode, status, included) in
        [("fit", 200, Some(false)), ("omit", 200, Some(false)), ("include", 422, None)]
    {
        let mut r = rig(&[("TOKEN_DATA", mode)]);
        let (got, body) = token_for(&mut r, &cookie, T0 + 1);
        assert_eq!(got, status, "{mode}: {body}");
        match included {
            Some(included) => {
                assert_eq!(body["data_included"], included, "{mode}");
                let token = body["access_token"].as_str().unwrap();
                assert!(token.len() <= jwt::DEFAULT_MAX_TOKEN_LEN, "{mode}: {}", token.len());
                let c = bearer_claims(&mut r, token, T0 + 2).expect("the token verifies");
                assert_eq!((c.sub.as_str(), c.data.is_empty()), ("ada", true), "{mode}");
                assert_eq!(c.data_omitted, mode == "fit", "{mode}");
                assert_eq!((c.session_exp, c.idle_exp), (None, None), "bearer: no session ends");
            }
            None => {
                assert_eq!(body["error"], "token_too_large");
                let msg = body["message"].as_str().unwrap();
                assert!(msg.contains("8192 bytes") && msg.contains("TOKEN_DATA"), "{msg}");
            }
        }
    }
    // A small session keeps its data in every mode but omit.
    for (mode, data) in [("fit", true), ("include", true), ("omit", false)] {
        let mut r = rig(&[("TOKEN_DATA", mode)]);
        let cookie = r.login("bob", T0);
        let (_, body) = token_for(&mut r, &cookie, T0 + 1);
        assert_eq!(body["data_included"], data, "{mode}");
        let c = bearer_claims(&mut r, body["access_token"].as_str().unwrap(), T0 + 2).unwrap();
        assert_eq!(!c.data.is_empty(), data, "{mode}");
        assert!(!c.data_omitted);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod bearer_prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// For any session the cookie accepts (up to its cap, with escapes that
        /// grow in JSON, any `sub`, any chunk setting): `fit` and `omit` always mint
        /// a token that the worker then accepts; `include` mints one that it accepts
        /// or refuses with 422, never a token that fails later.
        #[test]
        fn every_token_the_worker_mints_it_accepts(
            sub in "[a-z\\u{e9}\"\\\\]{1,64}",
            text in "[a-zA-Z0-9\"\\\\\\u{1}\\u{e9}\\u{1F600}]{0,3000}",
            repeat in 1usize..6,
            chunks in 1usize..=16,
            mode in prop_oneof![Just("fit"), Just("omit"), Just("include")],
        ) {
            let chunks = chunks.to_string();
            let mut r = rig(&[("TOKEN_DATA", mode), ("COOKIE_MAX_CHUNKS", &chunks)]);
            let data = serde_json::json!({ "t": text.repeat(repeat) }).to_string();
            let Some(cookie) = session_with(&mut r, &sub, &data, T0) else { return Ok(()) };
            let (status, body) = token_for(&mut r, &cookie, T0 + 1);
            if status == 422 {
                prop_assert_eq!(mode, "include");
                return Ok(());
            }
            prop_assert_eq!(status, 200, "{}", body);
            let token = body["access_token"].as_str().unwrap();
            prop_assert!(token.len() <= jwt::DEFAULT_MAX_TOKEN_LEN);
            let c = bearer_claims(&mut r, token, T0 + 2);
            prop_assert!(c.is_some_and(|c| c.sub == sub), "a minted token was refused");
        }
    }
}
