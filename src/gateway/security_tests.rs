//! Security regression tests of the pipeline (issue #6): EdDSA and the JWKS, algorithm
//! and key-purpose confusion, the rotation drill, header and cookie injection, and
//! abusive inputs. Each names the mistake it guards against.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::tests::{assertion, cookie_header, req, rig, set_cookies, Rig, T0};
use super::*;
use crate::b64;
use crate::config::tests::{KEYS, SECRET};
use crate::jwt::{JwtError, JwtKey};

const EDDSA: &[(&str, &str)] = &[("TOKEN_ALG", "EdDSA"), ("ASSERTION_ALG", "EdDSA")];

fn k1() -> &'static str {
    KEYS.split(',').next().unwrap()
}

fn k0() -> &'static str {
    KEYS.split(',').nth(1).unwrap()
}

/// An HS256 token over `header` and `claims`, signed with any bytes at all.
fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        b64::encode_url(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode_url(&mac.finalize().into_bytes()))
}

/// JSON with every non-ASCII character escaped, as an origin must send it in a header.
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn bearer_claims(aud: &str) -> Value {
    json!({"iss": "edge-session", "aud": aud, "sub": "mallory", "sid": "AAAAAAAAAAAAAAAAAAAAAA",
        "iat": T0, "nbf": T0, "exp": T0 + 600, "auth_time": T0, "gen": 0, "data": {}})
}

impl Rig {
    /// A bearer token from `/_session/token` for this cookie.
    fn token(&mut self, cookie: &str, now: u64) -> String {
        let resp = self.respond(&req("POST", "/_session/token", &[("cookie", cookie)]), now);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Whether a request with this bearer token reaches the origin authenticated.
    fn bearer_accepted(&mut self, token: &str, now: u64) -> bool {
        let auth = format!("Bearer {token}");
        let f = self.forward(&req("GET", "/api/me", &[("authorization", &auth)]), now);
        f.headers.get(ASSERTION_HEADER).is_some()
    }

    /// The published JWKS, checked for shape and caching.
    fn jwks(&mut self) -> Value {
        let resp = self.respond(&req("GET", "/_session/jwks.json", &[]), T0);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers.get("cache-control"), Some("public, max-age=300"));
        serde_json::from_slice(&resp.body).unwrap()
    }
}

fn kids(jwks: &Value) -> Vec<&str> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&b64::decode_url(token.split('.').next().unwrap()).unwrap()).unwrap()
}

/// Verifies an EdDSA token with nothing but the published JWKS, as an origin would.
fn verify_with_jwks(token: &str, jwks: &Value, aud: &str, now: u64) -> Result<Value, JwtError> {
    let keys: Vec<(String, JwtKey)> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), JwtKey::from_jwk(k).unwrap()))
        .collect();
    let v = Validation { algorithms: vec![Alg::EdDSA], ..Validation::new("edge-session", aud) };
    let lookup =
        |kid: Option<&str>| keys.iter().find(|(k, _)| Some(k.as_str()) == kid).map(|p| &p.1);
    jwt::verify(token, lookup, &v, now)
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn eddsa_tokens_and_assertions_verify_with_the_published_jwks_only() {
    let mut r = rig(EDDSA);
    let jwks = r.jwks();
    assert_eq!(kids(&jwks), ["k1", "k0"]);
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
        assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some("EdDSA"), Some("sig")));
        assert!(key.get("d").is_none(), "no private part published");
        assert_eq!(b64::decode_url(key["x"].as_str().unwrap()).unwrap().len(), 32);
    }
    // Public keys differ from every secret the worker holds.
    let text = jwks.to_string();
    assert!(!text.contains(&b64::encode_url(SECRET.as_bytes())[..10]));

    let cookie = r.login("alice", T0);
    let token = r.token(&cookie, T0 + 1);
    assert_eq!(header_of(&token), json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}));
    let claims = verify_with_jwks(&token, &jwks, "api", T0 + 2).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert!(r.bearer_accepted(&token, T0 + 2));

    let f = r.forward(&req("GET", "/api/me", &[("cookie", &cookie)]), T0 + 2);
    let assertion = f.headers.get(ASSERTION_HEADER).unwrap();
    assert_eq!(header_of(assertion)["kid"], "k1");
    assert_eq!(verify_with_jwks(assertion, &jwks, "origin", T0 + 2).unwrap()["sub"], "alice");
    // The origin secret no longer signs it, and audiences keep the two kinds apart.
    let hs = JwtKey::from_bytes(SECRET.as_bytes()).unwrap();
    let v = Validation::new("edge-session", "origin");
    assert!(jwt::verify::<Value>(assertion, |_| Some(&hs), &v, T0 + 2).is_err());
    assert!(!r.bearer_accepted(assertion, T0 + 2), "an assertion is not a bearer token");
    assert_eq!(
        verify_with_jwks(&token, &jwks, "origin", T0 + 2),
        Err(JwtError::WrongAudience),
        "a bearer token is not an assertion"
    );

    // HS256 deployments publish an empty set and keep their tokens secret-keyed.
    let mut hs = rig(&[]);
    assert_eq!(hs.jwks(), json!({"keys": []}));
    let cookie = hs.login("bob", T0);
    assert_eq!(header_of(&hs.token(&cookie, T0 + 1))["alg"], "HS256");
    let resp = hs.respond(&req("POST", "/_session/jwks.json", &[]), T0);
    assert_eq!(resp.status, 405);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn algorithm_confusion_and_alg_none_are_refused() {
    for extra in [EDDSA, &[("TOKEN_ALG", "EdDSA"), ("JWT_ALGORITHMS", "EdDSA HS256")][..]] {
        let mut r = rig(extra);
        let jwks = r.jwks();
        let jwk = &jwks["keys"][0];
        let x = b64::decode_url(jwk["x"].as_str().unwrap()).unwrap();
        let claims = bearer_claims("api");
        let kid = |alg: &str| json!({"alg": alg, "typ": "JWT", "kid": "k1"});
        // HS256 "signed" with the public key in every form an attacker could pick.
        let public_forms: [Vec<u8>; 3] =
            [x.clone(), jwk.to_string().into_bytes(), jwk["x"].as_str().unwrap().into()];
        for secret in &public_forms {
            let forged = hs256(&kid("HS256"), &claims, secret);
            assert!(!r.bearer_accepted(&forged, T0 + 1), "HS256 with the public key: {extra:?}");
        }
        let unsigned = format!(
            "{}.{}.",
            b64::encode_url(kid("none").to_string().as_bytes()),
            b64::encode_url(claims.to_string().as_bytes())
        );
        assert!(!r.bearer_accepted(&unsigned, T0 + 1), "alg none");
        for alg in ["RS256", "ES256", "HS512", "none", "NONE", "Ed25519", "eddsa"] {
            let forged = hs256(&kid(alg), &claims, &x);
            assert!(!r.bearer_accepted(&forged, T0 + 1), "{alg}");
        }
        assert!(r.log.iter().any(|l| l.contains("not allowed")), "{:?}", r.log);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn keys_of_other_purposes_never_sign_bearer_tokens() {
    let mut r = rig(&[("JWT_ALGORITHMS", "HS256")]);
    let ring = &r.gw.config().keys;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "k1"});
    let claims = bearer_claims("api");
    let seal = ring.get("k1", KeyPurpose::CookieSeal).unwrap().as_bytes().to_vec();
    let ed = ring.get("k1", KeyPurpose::JwtEd25519).unwrap().as_bytes().to_vec();
    let right = ring.get("k1", KeyPurpose::BearerJwt).unwrap().as_bytes().to_vec();
    for (what, secret) in [("cookie seal key", seal), ("ed25519 seed", ed)] {
        assert!(!r.bearer_accepted(&hs256(&header, &claims, &secret), T0 + 1), "{what}");
    }
    // The origin secret signs assertions only, even with the bearer audience.
    let origin = hs256(&json!({"alg": "HS256", "typ": "JWT"}), &claims, SECRET.as_bytes());
    assert!(!r.bearer_accepted(&origin, T0 + 1), "ORIGIN_SECRET");
    let origin_kid = hs256(&header, &claims, SECRET.as_bytes());
    assert!(!r.bearer_accepted(&origin_kid, T0 + 1), "ORIGIN_SECRET with a ring kid");
    // Control: the right purpose does verify, so the refusals above are meaningful.
    assert!(r.bearer_accepted(&hs256(&header, &claims, &right), T0 + 1));
    assert!(!r.bearer_accepted(&hs256(&header, &bearer_claims("origin"), &right), T0 + 1));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn rotation_drill_reseals_then_retires_and_the_jwks_follows() {
    // Day 0: only k0.
    let mut day0 = rig(&[EDDSA, &[("SESSION_KEYS", k0())]].concat());
    assert_eq!(kids(&day0.jwks()), ["k0"]);
    let old_cookie = day0.login("alice", T0);
    assert!(old_cookie.contains("=v1.k0."), "{old_cookie}");
    let old_token = day0.token(&old_cookie, T0 + 1);
    assert_eq!(header_of(&old_token)["kid"], "k0");

    // Day 1: k1 prepended. Old cookies open and are re-sealed under k1; old tokens
    // still verify; the JWKS publishes both.
    let mut day1 = rig(&[EDDSA, &[("SESSION_KEYS", KEYS)]].concat());
    let jwks1 = day1.jwks();
    assert_eq!(kids(&jwks1), ["k1", "k0"]);
    assert!(verify_with_jwks(&old_token, &jwks1, "api", T0 + 2).is_ok());
    assert!(day1.bearer_accepted(&old_token, T0 + 2));
    let (up, headers, _) =
        day1.roundtrip(&req("GET", "/api/me", &[("cookie", &old_cookie)]), &[], T0 + 2);
    assert_eq!(assertion_sub(&up.headers, &jwks1), Some("alice".to_owned()));
    let new_cookie = cookie_header(&headers);
    assert!(new_cookie.contains("=v1.k1."), "re-sealed under the new kid: {new_cookie}");
    let new_token = day1.token(&new_cookie, T0 + 3);
    assert_eq!(header_of(&new_token)["kid"], "k1");

    // Day 2: k0 retired. Cookies sealed only under it are anonymous (and cleared),
    // its tokens fail, the JWKS drops it; everything under k1 keeps working.
    let mut day2 = rig(&[EDDSA, &[("SESSION_KEYS", k1())]].concat());
    let jwks2 = day2.jwks();
    assert_eq!(kids(&jwks2), ["k1"]);
    let (up, headers, _) =
        day2.roundtrip(&req("GET", "/api/me", &[("cookie", &old_cookie)]), &[], T0 + 4);
    assert!(up.headers.get(ASSERTION_HEADER).is_none(), "retired-key cookie is anonymous");
    assert!(set_cookies(&headers).iter().any(|c| c.contains("Max-Age=0")));
    assert!(!day2.bearer_accepted(&old_token, T0 + 4));
    assert_eq!(verify_with_jwks(&old_token, &jwks2, "api", T0 + 4), Err(JwtError::UnknownKid));
    let (up, _, _) =
        day2.roundtrip(&req("GET", "/api/me", &[("cookie", &new_cookie)]), &[], T0 + 4);
    assert_eq!(assertion_sub(&up.headers, &jwks2), Some("alice".to_owned()));
    assert!(day2.bearer_accepted(&new_token, T0 + 4));
}

fn assertion_sub(headers: &Headers, jwks: &Value) -> Option<String> {
    let token = headers.get(ASSERTION_HEADER)?;
    let now = T0 + 10;
    let claims = verify_with_jwks(token, jwks, "origin", now).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// Every `Set-Cookie` line is one printable-ASCII line naming a session cookie.
fn assert_clean_set_cookies(headers: &Headers) {
    for (name, value) in headers.iter() {
        assert!(
            value.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "header {name} holds a control or non-ASCII byte"
        );
        if name == "set-cookie" {
            assert!(value.starts_with("__Host-session"), "foreign cookie set: {value}");
            assert_eq!(value.matches("; Path=").count(), 1, "one Path attribute: {value}");
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn session_data_and_origin_instructions_cannot_inject_headers_or_cookies() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let evil = [
        "x\r\nSet-Cookie: evil=1",
        "x; Domain=evil.example; Path=/",
        "x\nLocation: https://evil.example",
        "é\u{2028}\u{0}ö",
        "\"; __Host-session=forged",
    ];
    for (i, value) in evil.iter().enumerate() {
        let set = ascii_json(&json!({"sub": "alice", "data": {"note": value}}));
        let (_, headers, finish) = r.roundtrip(
            &req("POST", "/api/data", &[("cookie", &cookie)]),
            &[("edge-session-set", &set)],
            T0 + 10 + i as u64,
        );
        assert!(matches!(finish, Finish::Pass { .. }), "{value:?}");
        assert_clean_set_cookies(&headers);
        // The data round-trips, sealed, and reaches the origin only inside the JWS.
        let next = cookie_header(&headers);
        let (up, _, _) =
            r.roundtrip(&req("GET", "/", &[("cookie", &next)]), &[], T0 + 10 + i as u64);
        let token = up.headers.get(ASSERTION_HEADER).unwrap();
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(assertion(&up.headers).unwrap().data.to_map()["note"], *value);
    }
    // A `sub` with control characters is refused outright; `;` and non-ASCII are
    // plain data inside the seal.
    for sub in ["eve\r\nSet-Cookie: a=b", "eve\u{0}", "eve\u{85}"] {
        let set = ascii_json(&json!({"sub": sub}));
        let (_, headers, finish) =
            r.roundtrip(&req("POST", "/login", &[]), &[("edge-session-set", &set)], T0 + 20);
        match finish {
            Finish::Replace(resp) => assert_eq!(resp.status, 502, "{sub:?}"),
            Finish::Pass { .. } => panic!("sub {sub:?} accepted"),
        }
        assert!(set_cookies(&headers).is_empty());
    }
    for sub in ["eve; Path=/evil", "ève"] {
        let set = ascii_json(&json!({"sub": sub}));
        let (_, headers, finish) =
            r.roundtrip(&req("POST", "/login", &[]), &[("edge-session-set", &set)], T0 + 21);
        assert!(matches!(finish, Finish::Pass { .. }), "{sub:?}");
        assert_clean_set_cookies(&headers);
        let next = cookie_header(&headers);
        let (up, _, _) = r.roundtrip(&req("GET", "/", &[("cookie", &next)]), &[], T0 + 21);
        assert_eq!(assertion(&up.headers).unwrap().sub, sub);
    }
    // Raw control bytes in the instruction header itself (not JSON-escaped) are
    // invalid JSON: a clear 502, nothing written, and the message echoes no value.
    for raw in [
        "{\"sub\":\"a\r\nb\"}",
        "{\"sub\":\"a\u{0}\"}",
        "{\"sub\":\"alice\",\"data\":{\"x\":\"é\"}}",
    ] {
        let (_, headers, finish) = r.roundtrip(
            &req("POST", "/api/data", &[("cookie", &cookie)]),
            &[("edge-session-set", raw)],
            T0 + 30,
        );
        let Finish::Replace(resp) = finish else { panic!("{raw:?} accepted") };
        assert_eq!(resp.status, 502);
        assert!(!String::from_utf8_lossy(&resp.body).contains("a\r\nb"));
        assert!(set_cookies(&headers).is_empty());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn oversize_cookie_headers_get_431_and_leave_the_session_alone() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let junk: String = (0..2500).map(|i| format!("c{i}={}; ", "x".repeat(24))).collect();
    assert!(junk.len() > 64 * 1024);
    for header in [format!("{junk}{cookie}"), format!("{cookie}; {junk}")] {
        let resp = r.respond(&req("GET", "/api/me", &[("cookie", &header)]), T0 + 1);
        assert_eq!(resp.status, 431);
        assert!(resp.headers.get("set-cookie").is_none(), "nothing cleared");
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        assert!(body.contains("bytes; at most 16384 are read"), "{body}");
        let resp = r.respond(&req("POST", "/_session/token", &[("cookie", &header)]), T0 + 1);
        assert_eq!(resp.status, 431);
    }
    // Thousands of chunk-looking cookies: same answer, nothing cleared.
    let chunks: String = (0..3000).map(|i| format!("__Host-session.{i}=v1.k1.AAAA; ")).collect();
    let resp = r.respond(&req("GET", "/", &[("cookie", &format!("{chunks}{cookie}"))]), T0 + 1);
    assert_eq!(resp.status, 431);
    assert!(resp.headers.get("set-cookie").is_none());
    // Without a session cookie, a big header is none of our business.
    assert!(matches!(r.handle(&req("GET", "/", &[("cookie", &junk)]), T0 + 1), Step::Forward(_)));
    // The session is intact afterwards.
    let f = r.forward(&req("GET", "/api/me", &[("cookie", &cookie)]), T0 + 2);
    assert!(assertion(&f.headers).is_some());
    // Hundreds of ordinary cookies within the limit are simply passed through.
    let many: String = (0..400).map(|i| format!("c{i}=1; ")).collect();
    let f = r.forward(&req("GET", "/api/me", &[("cookie", &format!("{many}{cookie}"))]), T0 + 3);
    assert!(assertion(&f.headers).is_some());
    assert_eq!(f.headers.get("cookie").map(|c| c.matches("; ").count()), Some(399));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn abusive_session_updates_are_refused_quickly_and_keep_the_session() {
    let mut r = rig(&[]);
    let cookie = r.login("alice", T0);
    let deep = format!(
        "{{\"sub\":\"alice\",\"data\":{{\"x\":{}{}}}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let wide = json!({"sub": "alice", "data": {"blob": "y".repeat(60_000)}}).to_string();
    let huge = json!({"sub": "alice", "data": {"blob": "z".repeat(70_000)}}).to_string();
    let many_keys: Value = (0..5000)
        .map(|i| (format!("k{i}"), Value::from(i)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let many = json!({"sub": "alice", "data": many_keys}).to_string();
    for (what, set) in
        [("deep", &deep), ("too big to seal", &wide), ("over 64 KB", &huge), ("many keys", &many)]
    {
        let (_, headers, finish) = r.roundtrip(
            &req("POST", "/api/data", &[("cookie", &cookie)]),
            &[("edge-session-set", set)],
            T0 + 1,
        );
        let Finish::Replace(resp) = finish else { panic!("{what}: accepted") };
        assert_eq!(resp.status, 502, "{what}");
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(body["message"].as_str().unwrap().len() < 400, "{what}: short message");
        assert!(set_cookies(&headers).is_empty(), "{what}: no cookie touched");
    }
    let f = r.forward(&req("GET", "/api/me", &[("cookie", &cookie)]), T0 + 2);
    assert_eq!(assertion(&f.headers).unwrap().data.to_map()["name"], "alice", "session intact");
}
