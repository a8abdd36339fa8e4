//! Replays the committed fuzz corpus (`tests/fuzz/corpus/<target>/`) and every crash that
//! fuzzing ever found (`tests/fuzz/regressions/<target>/`) through the same harnesses as
//! the `cargo fuzz` targets, on the stable toolchain, as part of `cargo test`.
//!
//! A failure here is either a panic (a regression of a fixed crash) or a broken
//! property (see `tests/fuzz/harness.rs`). To add a crash found by `make fuzz`, copy it
//! from `tests/fuzz/artifacts/<target>/` to `tests/fuzz/regressions/<target>/` with a name
//! saying what it was, and fix the code until this test passes.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seed_corpus` rewrites the
//! hand-made seeds (`seed-*` files) from the fixed keys of the harness.

#[path = "fuzz/harness.rs"]
mod harness;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fuzz")
}

/// `(target, file)` for every file under `tests/fuzz/<kind>/<target>/`.
fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let dir = root().join(kind);
    let Ok(targets) = fs::read_dir(&dir) else { return Vec::new() };
    let mut out = Vec::new();
    for target in targets {
        let target = target.unwrap().path();
        if !target.is_dir() {
            continue;
        }
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        for file in fs::read_dir(&target).unwrap() {
            let file = file.unwrap().path();
            if file.is_file() {
                out.push((name.clone(), file));
            }
        }
    }
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let all = inputs(kind);
    for (target, file) in &all {
        assert!(
            harness::TARGETS.contains(&target.as_str()),
            "tests/fuzz/{kind}/{target}/ names no harness (known: {:?})",
            harness::TARGETS
        );
        let data = fs::read(file).unwrap();
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(|| harness::run(target, &data));
        assert!(outcome.is_ok(), "{target} panicked on {}", file.display());
        // Bounded time per input (generous: debug build, shared CI machine).
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "{target} took {took:?} on {}", file.display());
    }
    all.len()
}

#[test]
fn committed_corpus_and_regressions_replay_without_panics_or_broken_properties() {
    let all = inputs("corpus");
    for target in harness::TARGETS {
        let n = all.iter().filter(|(t, _)| t == target).count();
        assert!(n >= 3, "tests/fuzz/corpus/{target}/ has {n} inputs; the seeds are missing");
    }
    let total: u64 = all.iter().map(|(_, f)| f.metadata().unwrap().len()).sum();
    assert!(total < 512 * 1024, "the committed corpus is {total} bytes; minimize it");
    assert_eq!(replay("corpus"), all.len());
    // Crashes fuzzing found, once fixed: every one must replay, and losing the folder
    // (a bad path, a cleanup) must fail here rather than replay nothing.
    let regressions = replay("regressions");
    assert!(regressions >= 3, "tests/fuzz/regressions/ replayed {regressions} inputs");
}

/// The seeds reach the success paths (a real seal opens, real tokens verify, real
/// chunks reassemble), so the properties checked there are not vacuous: if the
/// fixed keys or formats change, this fails until the seeds are rewritten.
#[test]
fn seeds_exercise_the_success_paths() {
    use edge_session::cookie::{CookieOptions, SessionCookies};
    use edge_session::seal::{self, SealContext};
    let seed = |target: &str, name: &str| {
        let path = root().join("corpus").join(target).join(format!("seed-{name}"));
        String::from_utf8(fs::read(&path).unwrap()).unwrap()
    };
    let ctx = SealContext { name: harness::COOKIE, purpose: edge_session::session::PURPOSE };
    assert!(seal::open(harness::ring(), &ctx, &seed("open_seal", "session")).is_ok());
    let (hs, ed) = harness::jwt_keys();
    let v = harness::jwt_validation();
    for (name, key) in [("hs256", hs), ("eddsa", ed)] {
        let token = seed("verify_jwt", name);
        let ok =
            edge_session::jwt::verify::<serde_json::Value>(&token, |_| Some(key), &v, harness::NOW);
        assert!(ok.is_ok(), "{name}: {ok:?}");
    }
    let opts = CookieOptions { max_chunks: 16, ..CookieOptions::default() };
    let header = seed("cookie_header", "chunked");
    let chunks = SessionCookies::from_header(&opts, Some(&header)).reassemble();
    assert!(matches!(chunks, Ok(Some(ref v)) if v.len() > 9000), "{chunks:?}");
    let manifest = seed("manifest", "manifest");
    assert!(edge_session::manifest::Manifest::parse(manifest.as_bytes(), "seed").is_ok());
}

/// Writes the hand-made seed inputs (valid seals, chunked cookies, tokens of every
/// algorithm and confusion, manifests, hostile paths) into `tests/fuzz/corpus/`.
#[test]
#[ignore = "rewrites files under tests/fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    use edge_session::cookie::{self, CookieOptions, SessionCookies};
    use edge_session::jwt;
    use edge_session::seal::{self, SealContext};
    use edge_session::session;

    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = root().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    };
    let ring = harness::ring();
    let ctx = SealContext { name: harness::COOKIE, purpose: session::PURPOSE };
    let claims = format!(
        r#"{{"sid":"AAECAwQFBgcICQoLDA0ODw","sub":"ada","iat":{n},"auth_time":{n},"exp":{e},"idle_exp":{e},"gen":0,"data":{{"name":"ada"}}}}"#,
        n = harness::NOW - 10,
        e = harness::NOW + 3600
    );
    let sealed = seal::seal(ring, &ctx, claims.as_bytes(), &[7; 24]).unwrap();
    write("open_seal", "session", sealed.as_bytes());
    write("open_seal", "empty-payload", b"v1.k1.");
    write("open_seal", "unknown-kid", sealed.replacen("v1.k1.", "v1.k9.", 1).as_bytes());
    write("open_seal", "v2", sealed.replacen("v1.", "v2.", 1).as_bytes());
    write("open_seal", "json-array", b"[1,2,3]");

    let opts = CookieOptions { max_chunks: 16, ..CookieOptions::default() };
    let big = seal::seal(ring, &ctx, "x".repeat(9000).as_bytes(), &[8; 24]).unwrap();
    let lines = cookie::encode(&opts, &big, 60, &SessionCookies::default()).unwrap();
    let chunked: Vec<&str> = lines.iter().map(|l| l.as_str().split(';').next().unwrap()).collect();
    write("cookie_header", "chunked", format!("a=1; {}; b=\"q\"", chunked.join("; ")).as_bytes());
    write("cookie_header", "single", format!("__Host-session={sealed}; theme=dark").as_bytes());
    write("cookie_header", "mixed", format!("__Host-session=x; {}", chunked[0]).as_bytes());
    write("cookie_header", "duplicate", b"__Host-session=a; __Host-session=b");
    write(
        "cookie_header",
        "strays",
        b"__Host-session.07=x; __Host-session.99=y; __Host-session.=z",
    );
    write("cookie_header", "oddities", b";;=; =a; b=; \"c\"=d; e=\"f; g\t=\th ;");
    let oversize = format!("a={}; __Host-session={sealed}", "x".repeat(17_000));
    write("cookie_header", "oversize", oversize.as_bytes());

    write("cookie_attributes", "default", b"\0\x01/\x01\x01v1.k1.AAAA");
    write("cookie_attributes", "path-injection", b"\x05x\x01/; Domain=evil\x01\x01v");
    write("cookie_attributes", "domain", b"\x01session\x01/app\x01example.com\x01value");
    write("cookie_attributes", "crlf", b"\x01a\r\nSet-Cookie: b=c\x01/\x01\x01v");

    let (hs, ed) = harness::jwt_keys();
    let body = serde_json::json!({"iss": "edge-session", "aud": "api", "sub": "ada",
        "exp": harness::NOW + 60, "nbf": harness::NOW - 1, "data": {"k": [1, 2]}});
    let hs_token = jwt::mint(&body, hs, Some("k1")).unwrap();
    let ed_token = jwt::mint(&body, ed, Some("k1")).unwrap();
    write("verify_jwt", "hs256", hs_token.as_bytes());
    write("verify_jwt", "eddsa", ed_token.as_bytes());
    let payload = hs_token.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", edge_session::b64::encode_url(br#"{"alg":"none"}"#));
    write("verify_jwt", "alg-none", none.as_bytes());
    let (h, p, _) = {
        let mut it = ed_token.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let hs_header = edge_session::b64::encode_url(br#"{"alg":"HS256","kid":"k1"}"#);
    let sig = hs_token.rsplit('.').next().unwrap();
    write("verify_jwt", "alg-swapped", format!("{hs_header}.{p}.{sig}").as_bytes());
    write("verify_jwt", "eddsa-header-hs-sig", format!("{h}.{p}.{sig}").as_bytes());
    write("verify_jwt", "claims-object", body.to_string().as_bytes());

    let manifest = br#"{"version":1,"id":"20240101-000000-abcdef12","created":1700000000,"files":{"index.html":{"hash":"0000000000000000000000000000000000000000000000000000000000000000","type":"text/html; charset=utf-8","size":10,"etag":"x","immutable":false},"assets/app.0123456789abcdef.js":{"hash":"1111111111111111111111111111111111111111111111111111111111111111","type":"text/javascript","size":5,"immutable":true}}}"#;
    write("manifest", "manifest", manifest);
    write("manifest", "deploys", br#"{"version":1,"deploys":[{"id":"20240101-000000-abcdef12","created":1700000000}],"current":"20240101-000000-abcdef12","retention":{"keep_last":3,"keep_for_secs":86400}}"#);
    write("manifest", "traversal", br#"{"version":1,"id":"x","created":0,"files":{"../etc/passwd":{"hash":"00","type":"a","size":1,"immutable":false}}}"#);

    let huge = format!(r#"{{"sub":"ada","data":{{"blob":"{}"}}}}"#, "x".repeat(20_000)) + "\n";
    for (name, data) in [
        ("set", "{\"sub\":\"bob\",\"data\":{\"theme\":\"dark\"},\"ttl\":600}\n"),
        ("set-and-rotate", "{\"sub\":\"ada\"}\nrotate"),
        ("destroy", "\ndestroy"),
        ("revoke-all", "\nrevoke-all"),
        ("bad-json", "{\"sub\":\n"),
        ("unknown-action", "\nexplode"),
        ("control-in-sub", "{\"sub\":\"a\\u0000b\"}\n"),
        ("huge-data", &huge),
    ] {
        write("origin_instructions", name, data.as_bytes());
    }
    for (name, data) in [
        ("cookie-and-forged", "Cookie\n__Host-session=v1.k1.AAAA; theme=dark\nEdge-Session\nforged\nEdge-Session-Set\n{\"sub\":\"x\"}\n"),
        ("bearer", "authorization\nBearer eyJhbGciOiJIUzI1NiJ9.e30.x\n"),
        ("upgrade", "upgrade\nwebsocket\nconnection\nUpgrade\norigin\nhttps://evil.example\ncookie\n__Host-session=x\n"),
        ("no-trailing-newline", "x-a\n1\nx-b"),
        ("empty-names", "\n\n\n\n"),
    ] {
        write("header_lines", name, data.as_bytes());
    }
    for (name, data) in [
        ("eddsa", "TOKEN_ALG=EdDSA\nASSERTION_ALG=EdDSA\nJWT_ALGORITHMS=HS256,EdDSA\n"),
        ("cookie", "COOKIE_NAME=sid\nCOOKIE_SAMESITE=None\nCOOKIE_MAX_CHUNKS=16\nCOOKIE_SECURE=true\n"),
        ("ttls", "SESSION_ABSOLUTE_TTL=60\nSESSION_IDLE_TTL=30\nSESSION_REFRESH_AFTER=0.5\nTOKEN_TTL=60\nTOKEN_DATA=include\n"),
        ("assets", "ASSET_PREFIXES=/static/,/img/\nSPA_FALLBACK=index.html\nASSET_CACHE_TTL=0\nASSET_PIN_COOKIE=dpl\n"),
        ("bad", "SESSION_KEYS=k1:short\nCOOKIE_MAX_CHUNKS=four\nISSUER=\x01\n"),
    ] {
        write("config", name, data.as_bytes());
    }
    for (name, data) in [
        (
            "vite",
            r#"{"index.html":{"file":"assets/index-BfX3kq_T.js","name":"index","isEntry":true,"css":["assets/index-Dq1fa2bc.css"]},"src/lazy.js":{"file":"assets/lazy--Y7IcKfR.js","name":"lazy","isDynamicEntry":true}}"#,
        ),
        (
            "esbuild",
            r#"{"inputs":{"src/a.js":{"bytes":1,"imports":[]}},"outputs":{"dist/app-5ZUBHDB4.js":{"bytes":9},"dist/chunks/b-abcdefgh.js":{"bytes":3}}}"#,
        ),
        (
            "webpack",
            r#"{"main.js":"auto/main.3f2a1b9c4d5e6f708192.js","index.html":"/index.html"}"#,
        ),
        (
            "cra",
            r#"{"files":{"main.js":"/static/js/main.8c8b27cf.chunk.js"},"entrypoints":["static/js/main.8c8b27cf.chunk.js"]}"#,
        ),
        ("pwa", r#"{"name":"App","icons":[{"src":"icon-192.png"}]}"#),
    ] {
        write("bundler_record", name, data.as_bytes());
    }

    for (name, data) in [
        ("three-failing", &b"http://a, http://b weight=2, http://c\n\x02\x02\x02\x06\x06\x06\x0a\x0a\x0a\x03\xff\x01"[..]),
        ("one", b"http://a\n\x02\x02\x02\x02\x00\x01"),
        ("bad-spec", b"ftp://x, http://y\n\x00"),
    ] {
        write("pool", name, data);
    }

    for (name, path) in [
        ("root", "/"),
        ("hashed", "/assets/app.0123456789abcdef.js"),
        ("dots", "/assets/%2e%2e/secret"),
        ("encoded-slash", "/a%2Fb.css"),
        ("api-css", "/api/me/x.css"),
        ("session", "/_session/jwks.json"),
        ("nul", "/a%00.js"),
        ("deep", "/docs/"),
    ] {
        write("asset_path", name, path.as_bytes());
    }
}
