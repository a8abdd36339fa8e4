//! Unit tests of the JWS module (run natively and on wasm32) and, natively,
//! property tests.

use super::provider::{new_signer, new_verifier, HmacSha256};
use super::*;
use hmac::Mac;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::json;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-origin";
const NOW: u64 = 1_700_000_030;
const LEEWAY: u64 = DEFAULT_LEEWAY;

fn key() -> JwtKey {
    JwtKey::from_bytes(SECRET).unwrap()
}

fn val() -> Validation {
    Validation::new("edge-session", "origin")
}

fn claims() -> TokenClaims {
    serde_json::from_value(json!({"iss": "edge-session", "aud": "origin", "sub": "ada",
        "sid": "s1", "iat": NOW, "nbf": NOW, "exp": NOW + 60, "auth_time": NOW - 9,
        "gen": 2, "data": {"name": "ada"}}))
    .unwrap()
}

/// An independent HS256 signer over a raw `header.payload` (hmac crate, no jsonwebtoken).
fn sign_message(message: &str, secret: &[u8]) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap();
    mac.update(message.as_bytes());
    format!("{message}.{}", b64::encode_url(&mac.finalize().into_bytes()))
}

fn sign_raw(header: &str, claims: &str) -> String {
    let (h, c) = (b64::encode_url(header.as_bytes()), b64::encode_url(claims.as_bytes()));
    sign_message(&format!("{h}.{c}"), SECRET)
}

/// Base registered claims with `name` set to `value` (`None`: removed), signed.
fn with(name: &str, value: Option<Value>) -> String {
    let mut c = json!({"iss": "edge-session", "aud": "origin", "sub": "ada", "exp": NOW + 60});
    match value {
        Some(v) => c[name] = v,
        None => drop(c.as_object_mut().unwrap().remove(name)),
    }
    sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c.to_string())
}

fn check_at(token: &str, v: &Validation, now: u64) -> Result<Value, JwtError> {
    let k = key();
    verify(token, |_| Some(&k), v, now)
}

fn check(token: &str) -> Result<Value, JwtError> {
    check_at(token, &val(), NOW)
}

fn is_malformed(r: Result<Value, JwtError>) -> bool {
    matches!(r, Err(JwtError::Malformed(_)))
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mint_then_verify_round_trips_with_and_without_kid() {
    let k = key();
    let token = mint(&claims(), &k, None).unwrap();
    assert_eq!(verify(&token, |_| Some(&k), &val(), NOW), Ok(claims()));
    let header = b64::decode_url(token.split('.').next().unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));

    let other = JwtKey::from_bytes(&[7u8; 32]).unwrap();
    let token = mint(&claims(), &k, Some("k2")).unwrap();
    let ring = |kid: Option<&str>| match kid {
        Some("k1") => Some(&other),
        Some("k2") => Some(&k),
        _ => None,
    };
    assert_eq!(verify(&token, ring, &val(), NOW), Ok(claims()));
    // The same token under a ring that maps `k2` to another key fails.
    let swapped = |kid: Option<&str>| kid.map(|_| &other);
    assert_eq!(verify::<Value>(&token, swapped, &val(), NOW), Err(JwtError::BadSignature));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn known_answer_token_minted_by_jose_verifies() {
    // Minted by `jose` 5 (SignJWT, HS256, key = TextEncoder().encode(secret)).
    let secret = b"edge-session-known-answer-secret-0123456789";
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.\
        eyJzaWQiOiJzaWQta2F0LTEiLCJhdXRoX3RpbWUiOjE3MDAwMDAwMDAsImdlbiI6MywiZGF0YSI6eyJuYW1l\
        IjoiYWRhIiwibG9naW5zIjoyfSwiaXNzIjoiZWRnZS1zZXNzaW9uIiwiYXVkIjoib3JpZ2luIiwic3ViIjoi\
        YWRhIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDA2MH0.\
        ym0aXbU6mZl1_d_eSgBsrkI7vnfsMQt-tYsvUVv9OyQ";
    // The signature, recomputed independently with the hmac crate.
    let (message, _) = token.rsplit_once('.').unwrap();
    assert_eq!(sign_message(message, secret), token);

    let k = JwtKey::from_bytes(secret).unwrap();
    let ring = |kid: Option<&str>| (kid == Some("k1")).then_some(&k);
    let got: TokenClaims = verify(token, ring, &val(), 1_700_000_010).unwrap();
    let want: TokenClaims = serde_json::from_value(json!({"iss": "edge-session",
        "aud": "origin", "sub": "ada", "sid": "sid-kat-1", "iat": 1_700_000_000u64,
        "nbf": 1_700_000_000u64, "exp": 1_700_000_060u64, "auth_time": 1_700_000_000u64,
        "gen": 3, "data": {"name": "ada", "logins": 2}}))
    .unwrap();
    assert_eq!(got, want);
    assert_eq!(want.data.to_map().get("logins"), Some(&json!(2)));
    // The same claims minted by us verify under the same ring.
    let ours = mint(&want, &k, Some("k1")).unwrap();
    assert_eq!(verify(&ours, ring, &val(), 1_700_000_010), Ok(want));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn disallowed_algorithms_are_rejected_before_key_lookup() {
    let payload = b64::encode_url(br#"{"iss":"edge-session","aud":"origin","sub":"a","exp":9}"#);
    let none = format!("{}.{payload}.", b64::encode_url(br#"{"alg":"none"}"#));
    let panicking_ring = |_: Option<&str>| -> Option<&JwtKey> { panic!("key looked up") };
    let err = verify::<Value>(&none, panicking_ring, &val(), NOW).unwrap_err();
    assert_eq!(err, JwtError::AlgorithmNotAllowed("none".into()));
    assert!(err.to_string().contains("`none`"), "{err}");

    for alg in ["HS384", "HS512", "RS256", "hs256", "None", ""] {
        let token = sign_raw(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), r#"{"sub":"a"}"#);
        assert_eq!(check(&token), Err(JwtError::AlgorithmNotAllowed(alg.into())));
    }
    // An empty allow-list rejects even HS256.
    let v = Validation { algorithms: vec![], ..val() };
    let err = check_at(&with("sub", None), &v, NOW);
    assert_eq!(err, Err(JwtError::AlgorithmNotAllowed("HS256".into())));
    // A hostile name is truncated and made printable before being echoed.
    let long = format!("{}\n", "X".repeat(100));
    assert_eq!(Alg::parse(&long), Err(JwtError::AlgorithmNotAllowed("X".repeat(32))));
    assert_eq!(Alg::parse("a\u{7}b"), Err(JwtError::AlgorithmNotAllowed("a?b".into())));
    assert_eq!(Alg::HS256.to_string(), "HS256");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tampering_and_wrong_keys_are_bad_signatures() {
    let token = mint(&claims(), &key(), None).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);
    let mut evil = claims();
    evil.sub = "root".into();
    let evil = b64::encode_url(serde_json::to_string(&evil).unwrap().as_bytes());
    assert_eq!(check(&format!("{header}.{evil}.{signature}")), Err(JwtError::BadSignature));

    let mut sig = b64::decode_url(signature).unwrap();
    sig[0] ^= 1;
    for bad in [&sig[..], &sig[..31], &[]] {
        let token = format!("{header}.{payload}.{}", b64::encode_url(bad));
        assert_eq!(check(&token), Err(JwtError::BadSignature));
    }
    let wrong = JwtKey::from_bytes(b"another-secret-that-is-long-enough!!").unwrap();
    let result = verify::<Value>(&token, |_| Some(&wrong), &val(), NOW);
    assert_eq!(result, Err(JwtError::BadSignature));
    // Signature is checked before the claims: unsigned junk claims are BadSignature.
    assert_eq!(check(&format!("{header}.%%%.{signature}")), Err(JwtError::BadSignature));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unknown_kid_is_reported() {
    let k = key();
    let ring = |kid: Option<&str>| (kid == Some("k1")).then_some(&k);
    for kid in [Some("k9"), None] {
        let token = mint(&claims(), &k, kid).unwrap();
        assert_eq!(verify::<Value>(&token, ring, &val(), NOW), Err(JwtError::UnknownKid));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn time_claims_respect_leeway_edges() {
    let token = mint(&claims(), &key(), None).unwrap();
    let exp = claims().exp;
    assert!(check_at(&token, &val(), exp + LEEWAY).is_ok());
    assert_eq!(check_at(&token, &val(), exp + LEEWAY + 1), Err(JwtError::Expired));
    let strict = Validation { leeway: 0, ..val() };
    assert!(check_at(&token, &strict, exp).is_ok());
    assert_eq!(check_at(&token, &strict, exp + 1), Err(JwtError::Expired));
    // nbf = iat = NOW: fine up to `leeway` seconds early, not one more.
    assert!(check_at(&token, &val(), NOW - LEEWAY).is_ok());
    assert_eq!(check_at(&token, &strict, NOW - 1), Err(JwtError::NotYetValid));
    assert_eq!(check(&with("nbf", Some(json!(NOW + LEEWAY + 1)))), Err(JwtError::NotYetValid));
    assert!(check(&with("iat", Some(json!(NOW + LEEWAY)))).is_ok());
    let future = with("iat", Some(json!(NOW + LEEWAY + 1)));
    assert_eq!(check(&future), Err(JwtError::IssuedInFuture));
    // Extreme values do not overflow.
    assert!(check_at(&with("exp", Some(json!(u64::MAX))), &val(), u64::MAX).is_ok());
    assert_eq!(check_at(&with("exp", Some(json!(0))), &val(), u64::MAX), Err(JwtError::Expired));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn issuer_and_audience_must_match() {
    assert_eq!(check(&with("iss", Some(json!("someone")))), Err(JwtError::WrongIssuer));
    assert_eq!(check(&with("aud", Some(json!("bearer")))), Err(JwtError::WrongAudience));
    assert!(check(&with("aud", Some(json!(["api", "origin"])))).is_ok());
    assert_eq!(check(&with("aud", Some(json!(["Origin"])))), Err(JwtError::WrongAudience));
    assert_eq!(check(&with("aud", Some(json!([])))), Err(JwtError::WrongAudience));
    assert!(is_malformed(check(&with("aud", Some(json!(["origin", 5]))))));
    assert!(is_malformed(check(&with("aud", Some(json!({"origin": true}))))));
    assert!(is_malformed(check(&with("iss", Some(json!(["edge-session"]))))));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn required_claims_and_claim_types() {
    for name in ["exp", "iss", "aud", "sub"] {
        assert_eq!(check(&with(name, None)), Err(JwtError::MissingClaim(name)));
        assert_eq!(check(&with(name, Some(Value::Null))), Err(JwtError::MissingClaim(name)));
    }
    let bad = [("exp", json!("soon")), ("exp", json!(-1)), ("exp", json!(1.7e9))];
    let more = [("nbf", json!("x")), ("iat", json!(true)), ("sub", json!("")), ("sub", json!(7))];
    for (name, value) in bad.into_iter().chain(more) {
        assert!(is_malformed(check(&with(name, Some(value)))), "{name}");
    }
    // Valid registered claims but the wrong shape for TokenClaims (no `sid`).
    let k = key();
    let err = verify::<TokenClaims>(&with("sid", None), |_| Some(&k), &val(), NOW);
    assert_eq!(err, Err(JwtError::Malformed("claims do not have the expected shape")));
    assert!(is_malformed(check(&sign_raw(r#"{"alg":"HS256"}"#, "[1,2,3]"))));
    assert!(is_malformed(check(&sign_raw(r#"{"alg":"HS256"}"#, "not json"))));
    let header = b64::encode_url(br#"{"alg":"HS256"}"#);
    assert!(is_malformed(check(&sign_message(&format!("{header}.%%%"), SECRET))));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn garbage_and_bad_headers_are_malformed() {
    for token in ["", ".", "..", "...", "a.b.c", "not a token", "e30.e30.c2ln.c2ln"] {
        assert!(is_malformed(check(token)), "{token:?}");
    }
    // Padded base64, raw JSON instead of base64, and a valid token with a 4th segment.
    let padded = ["eyJhbGciOiJIUzI1NiJ9=.e30.c2ln", "{\"alg\":\"HS256\"}.e30.c2ln"];
    for token in padded.map(String::from).into_iter().chain([with("x", None) + ".x"]) {
        assert!(is_malformed(check(&token)), "{token:?}");
    }
    let headers: [&[u8]; 7] = [
        b"not json",
        b"[\"HS256\"]",
        br#"{"typ":"JWT"}"#,
        br#"{"alg":256}"#,
        br#"{"alg":"HS256","kid":5}"#,
        br#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        br#"{"alg":"HS256","alg":"HS256"}"#,
    ];
    for h in headers {
        let token = format!("{}.e30.c2ln", b64::encode_url(h));
        assert!(is_malformed(check(&token)), "{token:?}");
    }
    let big = format!("{}.{}.", "a".repeat(100_000), "b".repeat(10));
    assert_eq!(check(&big), Err(JwtError::TooLong { len: 100_012, max: 8192 }));
    let capped = Validation { max_token_len: 10, ..val() };
    assert_eq!(check_at("aaaa.bbbb.cc", &capped, NOW), Err(JwtError::TooLong { len: 12, max: 10 }));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn keys_are_checked_and_redacted() {
    assert_eq!(JwtKey::from_bytes(&[1u8; 31]), Err(JwtError::WeakKey { len: 31 }));
    assert_eq!(JwtKey::from_bytes(b""), Err(JwtError::WeakKey { len: 0 }));
    let msg = JwtError::WeakKey { len: 16 }.to_string();
    assert_eq!(msg, "HMAC key is 16 bytes; at least 32 are required");
    assert_eq!(format!("{:?}", key()), "JwtKey([redacted; 39 bytes])");
    assert_eq!(key(), key());
    assert_ne!(key(), JwtKey::from_bytes(&[0u8; 39]).unwrap());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mint_needs_object_claims_and_provider_refuses_other_algorithms() {
    let want = JwtError::Encode("claims must serialize to a JSON object".into());
    assert_eq!(mint(&5u32, &key(), None), Err(want));
    assert!(matches!(mint(&"x", &key(), None), Err(JwtError::Encode(_))));
    provider_ready().unwrap();
    let (enc, dec) = (EncodingKey::from_secret(SECRET), DecodingKey::from_secret(SECRET));
    assert!(new_signer(&Algorithm::HS384, &enc).is_err());
    assert!(new_verifier(&Algorithm::RS256, &dec).is_err());
    let rsa = DecodingKey::from_rsa_raw_components(b"n", b"e");
    assert!(new_verifier(&Algorithm::HS256, &rsa).is_err());
    assert!(new_signer(&Algorithm::HS256, &EncodingKey::from_ec_der(b"k")).is_err());
    // jsonwebtoken's own encode with another algorithm errors instead of panicking.
    let header = Header::new(Algorithm::HS512);
    assert!(jsonwebtoken::encode(&header, &json!({}), &enc).is_err());
}

// ----- EdDSA, keys and algorithm confusion (issue #6) -----

fn hexd(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn seed32(text: &str) -> [u8; 32] {
    hexd(text).try_into().unwrap()
}

fn ed_val() -> Validation {
    Validation { algorithms: vec![Alg::EdDSA], ..val() }
}

/// RFC 8032 §7.1, TEST 1 and TEST 2: the Ed25519 implementation gives the published
/// public keys and signatures.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn ed25519_matches_rfc8032_known_answers() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];
    for (seed, public, message, signature) in cases {
        let key = JwtKey::ed25519_from_seed(&seed32(seed));
        assert_eq!(key.ed25519_public_bytes().unwrap().to_vec(), hexd(public));
        assert_eq!(key.ed25519_sign(&hexd(message)).unwrap().to_vec(), hexd(signature));
        assert_eq!(key.alg(), Alg::EdDSA);
        assert!(key.can_sign());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn eddsa_mint_then_verify_with_the_public_jwk_alone() {
    let pair = JwtKey::ed25519_from_seed(&[3; 32]);
    let token = mint(&claims(), &pair, Some("k7")).unwrap();
    let header: Value =
        serde_json::from_slice(&b64::decode_url(token.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "JWT", "kid": "k7"}));
    let jwk = pair.public_jwk("k7").unwrap();
    assert_eq!(jwk["kid"], "k7");
    assert!(jwk.get("d").is_none());
    let public = JwtKey::from_jwk(&jwk).unwrap();
    assert!(!public.can_sign());
    assert_ne!(public, pair, "a public key is not the pair");
    let ring = |kid: Option<&str>| (kid == Some("k7")).then_some(&public);
    assert_eq!(verify(&token, ring, &ed_val(), NOW), Ok(claims()));
    // The pair verifies too; HS256 keys have no JWK; a public key cannot sign.
    assert_eq!(verify(&token, |_| Some(&pair), &ed_val(), NOW), Ok(claims()));
    assert_eq!(key().public_jwk("k"), None);
    let err = mint(&claims(), &public, None).unwrap_err();
    assert_eq!(err, JwtError::Encode("an EdDSA public key cannot sign".into()));
    // EdDSA is off unless allowed: the default allow-list is HS256.
    assert_eq!(
        verify::<Value>(&token, ring, &val(), NOW),
        Err(JwtError::AlgorithmNotAllowed("EdDSA".into()))
    );
    // Another key pair, same kid: bad signature.
    let other = JwtKey::ed25519_from_seed(&[4; 32]);
    assert_eq!(
        verify::<Value>(&token, |_| Some(&other), &ed_val(), NOW),
        Err(JwtError::BadSignature)
    );
    // Debug never shows the seed.
    let debug = format!("{pair:?}");
    assert!(
        debug.contains("seed redacted") && !debug.contains(&b64::encode_url(&[3; 32])),
        "{debug}"
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_key_only_verifies_its_own_algorithm() {
    let pair = JwtKey::ed25519_from_seed(&[3; 32]);
    let public = pair.ed25519_public_bytes().unwrap();
    let both = Validation { algorithms: vec![Alg::HS256, Alg::EdDSA], ..val() };
    let body = r#"{"iss":"edge-session","aud":"origin","sub":"a","exp":9999999999}"#;
    let payload = b64::encode_url(body.as_bytes());
    // HS256 "signed" with the public key, checked against that public key.
    let header = b64::encode_url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let forged = sign_message(&format!("{header}.{payload}"), &public);
    let err = verify::<Value>(&forged, |_| Some(&pair), &both, NOW).unwrap_err();
    assert_eq!(err, JwtError::KeyAlgorithmMismatch { token: Alg::HS256, key: Alg::EdDSA });
    assert!(
        err.to_string().contains("`HS256` does not match its key, which is a EdDSA key"),
        "{err}"
    );
    // And an EdDSA token against an HMAC key.
    let ed = mint(&claims(), &pair, None).unwrap();
    let hs = key();
    let err = verify::<Value>(&ed, |_| Some(&hs), &both, NOW).unwrap_err();
    assert_eq!(err, JwtError::KeyAlgorithmMismatch { token: Alg::EdDSA, key: Alg::HS256 });
    // verify_with hands the algorithm to the lookup, which picks the right key.
    let pick = |_: Option<&str>, alg: Alg| Some(if alg == Alg::HS256 { &hs } else { &pair });
    assert!(verify_with::<Value>(&ed, pick, &both, NOW).is_ok());
    let hs_token = mint(&claims(), &hs, None).unwrap();
    assert!(verify_with::<Value>(&hs_token, pick, &both, NOW).is_ok());
    assert_eq!(verify_with::<Value>(&forged, pick, &both, NOW), Err(JwtError::BadSignature));
    // The provider refuses cross-family keys by itself too.
    provider_ready().unwrap();
    assert!(new_verifier(&Algorithm::HS256, &DecodingKey::from_ed_der(&public)).is_err());
    assert!(new_verifier(&Algorithm::EdDSA, &DecodingKey::from_secret(&public)).is_err());
    assert!(new_verifier(&Algorithm::EdDSA, &DecodingKey::from_ed_der(&[1; 31])).is_err());
    assert!(new_signer(&Algorithm::EdDSA, &EncodingKey::from_ed_der(&[1; 32])).is_err());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bad_public_keys_and_jwks_are_refused() {
    let good = JwtKey::ed25519_from_seed(&[3; 32]).public_jwk("k").unwrap();
    assert!(JwtKey::from_jwk(&good).is_ok());
    let with = |name: &str, value: Value| {
        let mut jwk = good.clone();
        jwk[name] = value;
        JwtKey::from_jwk(&jwk)
    };
    let bad = [
        ("kty", json!("oct")),
        ("kty", json!("RSA")),
        ("crv", json!("X25519")),
        ("alg", json!("HS256")),
        ("use", json!("enc")),
        ("d", json!(b64::encode_url(&[3; 32]))),
        ("x", json!("not base64!")),
        ("x", json!(b64::encode_url(&[9; 31]))),
        ("x", json!(5)),
    ];
    for (name, value) in bad {
        assert!(
            matches!(with(name, value.clone()), Err(JwtError::InvalidKey(_))),
            "{name}={value}"
        );
    }
    // A symmetric JWK is refused whatever else it says.
    let oct = json!({"kty": "oct", "k": b64::encode_url(&[1; 32]), "alg": "HS256"});
    assert!(JwtKey::from_jwk(&oct).is_err());
    // Small-order points (identity, order 2 and 4, an order-8 point) are weak keys.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    let order4 = [0u8; 32];
    let order8 = hexd("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    for weak in [&identity[..], &order2[..], &order4[..], &order8[..]] {
        let err = JwtKey::ed25519_public(weak).unwrap_err();
        assert!(matches!(err, JwtError::InvalidKey(_)), "{err:?}");
    }
    assert_eq!(
        JwtKey::ed25519_public(&[0; 33]),
        Err(JwtError::InvalidKey("an Ed25519 public key is 32 bytes"))
    );
    assert_eq!(
        JwtError::InvalidKey("x").to_string(),
        "unusable key: x",
        "no key material in messages"
    );
}

/// The committed vectors (tests/vectors/jwt.json, minted by `jose`): the ring derives
/// the same subkeys and JWKS as Node's HKDF and Ed25519, and every case gets exactly
/// the verdict the file states.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn committed_vectors_replay() {
    use crate::keyring::{KeyPurpose, KeyRing};
    let file: Value = serde_json::from_str(include_str!("../../tests/vectors/jwt.json")).unwrap();
    let ring = KeyRing::parse(file["session_keys"].as_str().unwrap()).unwrap();
    let mut hmac_keys = Vec::new();
    let mut ed_keys = Vec::new();
    for kid in ring.kids() {
        let derived = &file["derived"][kid.as_str()];
        let bearer = ring.get(kid.as_str(), KeyPurpose::BearerJwt).unwrap();
        let seed = ring.get(kid.as_str(), KeyPurpose::JwtEd25519).unwrap();
        assert_eq!(bearer.as_bytes().to_vec(), hexd(derived["bearer_jwt_hex"].as_str().unwrap()));
        assert_eq!(
            seed.as_bytes().to_vec(),
            hexd(derived["jwt_ed25519_seed_hex"].as_str().unwrap())
        );
        hmac_keys.push((kid.as_str().to_owned(), JwtKey::from_bytes(bearer.as_bytes()).unwrap()));
        ed_keys.push((kid.as_str().to_owned(), JwtKey::ed25519_from_seed(seed.as_bytes())));
    }
    let ours = jwks(ed_keys.iter().map(|(kid, k)| (kid.as_str(), k)));
    assert_eq!(ours, file["jwks"], "the JWKS follows the ring");
    let published: Vec<(String, JwtKey)> = file["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), JwtKey::from_jwk(k).unwrap()))
        .collect();
    let origin = JwtKey::from_bytes(file["origin_secret"].as_str().unwrap().as_bytes()).unwrap();
    let now = file["now"].as_u64().unwrap();
    let find = |keys: &'_ [(String, JwtKey)], kid: Option<&str>| -> Option<usize> {
        keys.iter().position(|(k, _)| Some(k.as_str()) == kid)
    };
    let mut seen = 0;
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let verifier = case["verifier"].as_str().unwrap();
        let rules = &file["verifiers"][verifier];
        let v = Validation {
            issuer: file["issuer"].as_str().unwrap().to_owned(),
            audience: rules["audience"].as_str().unwrap().to_owned(),
            algorithms: rules["algorithms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| Alg::parse(a.as_str().unwrap()).unwrap())
                .collect(),
            leeway: file["leeway"].as_u64().unwrap(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        };
        let token = case["token"].as_str().unwrap();
        let got: Result<Value, JwtError> = match verifier {
            "bearer" => verify_with(
                token,
                |kid, alg| match alg {
                    Alg::HS256 => find(&hmac_keys, kid).map(|i| &hmac_keys[i].1),
                    Alg::EdDSA => find(&published, kid).map(|i| &published[i].1),
                },
                &v,
                now,
            ),
            "assertion_hs256" => verify(token, |_| Some(&origin), &v, now),
            "assertion_eddsa" => {
                verify(token, |kid| find(&published, kid).map(|i| &published[i].1), &v, now)
            }
            other => panic!("unknown verifier {other}"),
        };
        let verdict = match &got {
            Ok(claims) => {
                assert_eq!(claims["sub"], case["sub"], "{name}");
                "valid"
            }
            Err(JwtError::AlgorithmNotAllowed(_)) => "alg_not_allowed",
            Err(JwtError::UnknownKid) => "unknown_kid",
            Err(JwtError::BadSignature) => "bad_signature",
            Err(JwtError::Expired) => "expired",
            Err(JwtError::NotYetValid) => "not_yet_valid",
            Err(JwtError::WrongIssuer) => "wrong_issuer",
            Err(JwtError::WrongAudience) => "wrong_audience",
            Err(JwtError::KeyAlgorithmMismatch { .. }) => "key_algorithm_mismatch",
            Err(JwtError::Malformed(_)) => "malformed",
            Err(e) => panic!("{name}: unexpected {e:?}"),
        };
        assert_eq!(verdict, case["expect"].as_str().unwrap(), "{name}: {got:?}");
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} cases");
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    fn check(token: &str) -> Result<Value, JwtError> {
        let k = JwtKey::from_bytes(&[9u8; 32]).unwrap();
        verify(token, |_| Some(&k), &Validation::new("i", "a"), 0)
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(token in "\\PC{0,300}") {
            let _ = check(&token);
        }

        #[test]
        fn arbitrary_segments_never_verify(
            h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,80}", s in "[A-Za-z0-9_-]{0,60}",
        ) {
            let token = format!("{h}.{p}.{s}");
            prop_assert!(check(&token).is_err());
        }

        #[test]
        fn any_single_byte_change_is_rejected(index in 0usize..400, byte in 0x21u8..0x7f) {
            let k = JwtKey::from_bytes(&[9u8; 32]).unwrap();
            let claims = serde_json::json!({"iss": "i", "aud": "a", "sub": "s", "exp": 100});
            let token = mint(&claims, &k, Some("k")).unwrap();
            prop_assert!(check(&token).is_ok());
            let mut bytes = token.into_bytes();
            let index = index % bytes.len();
            prop_assume!(bytes[index] != byte);
            bytes[index] = byte;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(check(&changed).is_err(), "accepted {}", changed);
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn protected_headers_are_one_shape_for_both_algorithms() {
    // The HS256 shortcut is the serializer's own output for that header.
    let eddsa = jws_header(Alg::EdDSA, None).unwrap();
    assert_eq!(eddsa, r#"{"alg":"EdDSA","typ":"JWT"}"#);
    assert_eq!(eddsa.replace("EdDSA", "HS256"), hs256::HEADER);
    assert_eq!(jws_header(Alg::HS256, None).unwrap(), hs256::HEADER);
    assert_eq!(
        jws_header(Alg::HS256, Some("k\"1")).unwrap(),
        r#"{"alg":"HS256","kid":"k\"1","typ":"JWT"}"#
    );
    assert_eq!(
        jws_header(Alg::EdDSA, Some("k7")).unwrap(),
        r#"{"alg":"EdDSA","kid":"k7","typ":"JWT"}"#
    );
}
