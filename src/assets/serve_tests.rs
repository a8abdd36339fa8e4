//! Router tests over a recorded in-memory store.

use crate::assets::testkit::{publish_tree, req, Recording};
use crate::assets::{
    classify, promote, serve, AssetCache, AssetConfig, Outcome, PathError, PublishOptions, Route,
    Served, IMMUTABLE,
};
use crate::http::{RequestHead, Response};
use crate::manifest::{Activation, DeployId};
use crate::store::block_on_ready;

const T0: u64 = 1_700_000_000;
const A_JS: &[u8] = b"console.log('deploy A')";
const B_JS: &[u8] = b"console.log('deploy B')";

fn id(s: &str) -> DeployId {
    DeployId::parse(s).unwrap()
}

fn opts(name: &str) -> PublishOptions {
    PublishOptions { deploy_id: Some(id(name)), ..PublishOptions::default() }
}

/// Deploy `dA` then `dB` (current), each with its own index and hashed chunk.
fn two_deploys() -> Recording {
    let store = Recording::new(T0);
    publish_tree(
        &store,
        &[
            ("index.html", b"<p>A</p>"),
            ("assets/app.aaaaaaaa.js", A_JS),
            ("favicon.ico", b"icon"),
            ("docs/index.html", b"docs A"),
        ],
        opts("dA"),
        T0,
    );
    publish_tree(
        &store,
        &[("index.html", b"<p>B</p>"), ("assets/app.bbbbbbbb.js", B_JS), ("favicon.ico", b"icon")],
        opts("dB"),
        T0 + 10,
    );
    store.take();
    store
}

fn go(store: &Recording, cfg: &AssetConfig, r: &RequestHead) -> Served {
    let cache = AssetCache::new(0);
    block_on_ready(serve(store, &cache, r, cfg, T0 + 20, "client-1")).unwrap()
}

fn get(store: &Recording, url: &str, headers: &[(&str, &str)]) -> Served {
    go(store, &AssetConfig::default(), &req("GET", url, headers))
}

fn response(s: &Served) -> &Response {
    match &s.outcome {
        Outcome::Respond(r) => r,
        Outcome::Forward { .. } => panic!("forwarded: {s:?}"),
    }
}

fn h<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers.get(name)
}

fn deploy(s: &Served) -> &str {
    s.deploy.as_ref().map(DeployId::as_str).unwrap_or("-")
}

const NAV: (&str, &str) = ("sec-fetch-mode", "navigate");

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn hashed_asset_of_an_older_retained_deploy_is_still_served() {
    let store = two_deploys();
    let s = get(&store, "/assets/app.aaaaaaaa.js", &[]);
    let r = response(&s);
    assert_eq!((r.status, r.body.as_slice()), (200, A_JS));
    assert_eq!(h(r, "cache-control"), Some(IMMUTABLE));
    assert_eq!(h(r, "x-deploy-id"), Some("dA"));
    assert_eq!(h(r, "content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(h(r, "content-length"), Some("23"));
    assert_eq!(h(r, "set-cookie"), None, "only documents set the pin");
    let etag = h(r, "etag").unwrap();
    assert_eq!(etag, crate::manifest::AssetHash::of(A_JS).etag());
    let r = get(&store, "/assets/app.bbbbbbbb.js", &[]);
    assert_eq!((response(&r).status, deploy(&r)), (200, "dB"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unknown_hash_and_missing_assets_are_404_no_store_never_html() {
    let store = two_deploys();
    let cfg = AssetConfig { spa_fallback: Some("index.html".into()), ..AssetConfig::default() };
    for url in
        ["/assets/app.cccccccc.js", "/assets/nothing", "/img/missing.png", "/app.3f2a1b9c.js"]
    {
        for headers in [&[][..], &[NAV, ("accept", "text/html")][..]] {
            let s = go(&store, &cfg, &req("GET", url, headers));
            let r = response(&s);
            assert_eq!(r.status, 404, "{url}");
            assert_eq!(h(r, "cache-control"), Some("no-store"), "{url}");
            assert!(h(r, "content-type").unwrap().starts_with("text/plain"), "{url}");
            assert!(!String::from_utf8_lossy(&r.body).contains("<p>"), "{url}");
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn spa_fallback_only_for_navigations() {
    let store = two_deploys();
    let mut cfg = AssetConfig { spa_fallback: Some("index.html".into()), ..AssetConfig::default() };
    let nav = go(&store, &cfg, &req("GET", "/settings/profile", &[NAV]));
    let r = response(&nav);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<p>B</p>"[..]));
    assert_eq!(h(r, "cache-control"), Some("no-cache"));
    let accept = go(&store, &cfg, &req("GET", "/settings", &[("accept", "text/html,*/*")]));
    assert_eq!(response(&accept).status, 200);
    for headers in [
        &[][..],
        &[("sec-fetch-mode", "cors"), ("accept", "text/html")][..],
        &[("accept", "*/*")][..],
    ] {
        let s = go(&store, &cfg, &req("GET", "/settings", headers));
        assert!(matches!(s.outcome, Outcome::Forward { .. }), "{headers:?}");
        assert_eq!(deploy(&s), "dB");
    }
    // Off by default: navigations to unknown paths go to the origin.
    let s = get(&store, "/settings", &[NAV]);
    assert!(matches!(s.outcome, Outcome::Forward { .. }));
    // A fallback missing from the manifest is logged and forwarded.
    cfg.spa_fallback = Some("app.html".into());
    let s = go(&store, &cfg, &req("GET", "/x", &[NAV]));
    assert!(matches!(s.outcome, Outcome::Forward { .. }));
    assert!(s.log.iter().any(|l| l.contains("`app.html` is not in deploy `dB`")), "{:?}", s.log);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn entry_points_follow_query_header_and_cookie_pins() {
    let store = two_deploys();
    let body = |s: &Served| String::from_utf8(response(s).body.clone()).unwrap();
    assert_eq!(body(&get(&store, "/", &[])), "<p>B</p>");
    assert_eq!(body(&get(&store, "/?dpl=dA", &[])), "<p>A</p>");
    assert_eq!(body(&get(&store, "/index.html", &[("x-deploy-id", "dA")])), "<p>A</p>");
    assert_eq!(body(&get(&store, "/", &[("cookie", "x=1; __Host-dpl=dA")])), "<p>A</p>");
    // Query beats header beats cookie.
    let s = get(&store, "/?a=1&dpl=dB", &[("x-deploy-id", "dA"), ("cookie", "__Host-dpl=dA")]);
    assert_eq!(body(&s), "<p>B</p>");
    // Navigations ignore the cookie (a reload reaches the current deploy)...
    let s = get(&store, "/", &[NAV, ("cookie", "__Host-dpl=dA")]);
    assert_eq!(body(&s), "<p>B</p>");
    // ...unless sticky.
    let cfg = AssetConfig { sticky_navigations: true, ..AssetConfig::default() };
    let s = go(&store, &cfg, &req("GET", "/", &[NAV, ("cookie", "__Host-dpl=dA")]));
    assert_eq!(body(&s), "<p>A</p>");
    // Un-hashed files exist only in their own deploy.
    assert_eq!(body(&get(&store, "/docs/?dpl=dA", &[])), "docs A");
    assert!(matches!(get(&store, "/docs/", &[]).outcome, Outcome::Forward { .. }));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unknown_or_malformed_pins_are_ignored_not_400() {
    let store = two_deploys();
    for (url, headers) in [
        ("/?dpl=nope", &[][..]),
        ("/?dpl=..%2F", &[][..]),
        ("/", &[("x-deploy-id", "a b c")][..]),
        ("/", &[("cookie", "__Host-dpl=<script>")][..]),
    ] {
        let s = get(&store, url, headers);
        let r = response(&s);
        assert_eq!((r.status, deploy(&s)), (200, "dB"), "{url} {headers:?}");
        assert!(s.log.iter().any(|l| l.contains("pin ignored")), "{:?}", s.log);
        assert!(!s.log.iter().any(|l| l.contains("script") || l.contains("nope")), "no echo");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn documents_set_the_pin_cookie_when_it_changes() {
    let store = two_deploys();
    let s = get(&store, "/", &[NAV]);
    assert_eq!(
        h(response(&s), "set-cookie"),
        Some("__Host-dpl=dB; Path=/; Secure; HttpOnly; SameSite=Lax")
    );
    let s = get(&store, "/", &[NAV, ("cookie", "__Host-dpl=dB")]);
    assert_eq!(h(response(&s), "set-cookie"), None);
    let s = get(&store, "/", &[]);
    assert_eq!(h(response(&s), "set-cookie"), None, "not a navigation");
    let s = get(&store, "/favicon.ico", &[NAV]);
    assert_eq!(h(response(&s), "set-cookie"), None, "not HTML");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn conditional_head_and_range_requests() {
    let store = two_deploys();
    let url = "/assets/app.aaaaaaaa.js";
    let etag = crate::manifest::AssetHash::of(A_JS).etag();
    let s = get(&store, url, &[("if-none-match", &format!("\"zz\", W/{etag}"))]);
    let r = response(&s);
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(h(r, "etag"), Some(etag.as_str()));
    assert_eq!(h(r, "cache-control"), Some(IMMUTABLE));
    assert!(!store.take().iter().any(|o| o.starts_with("get blob:")), "304 reads no blob");

    let s = go(&store, &AssetConfig::default(), &req("HEAD", url, &[("range", "bytes=0-1")]));
    let r = response(&s);
    assert_eq!((r.status, r.body.len(), h(r, "content-length")), (200, 0, Some("23")));
    assert!(!store.take().iter().any(|o| o.starts_with("get blob:")), "HEAD reads no blob");

    let s = get(&store, url, &[("range", "bytes=0-6")]);
    let r = response(&s);
    assert_eq!((r.status, r.body.as_slice()), (206, &b"console"[..]));
    assert_eq!(h(r, "content-range"), Some("bytes 0-6/23"));
    assert_eq!(h(r, "content-length"), Some("7"));
    let s = get(&store, url, &[("range", "bytes=-3")]);
    assert_eq!(response(&s).body, b"A')");

    let s = get(&store, url, &[("range", "bytes=23-")]);
    let r = response(&s);
    assert_eq!(r.status, 416);
    assert_eq!(h(r, "content-range"), Some("bytes */23"));
    assert_eq!(h(r, "cache-control"), Some("no-store"));

    let s = get(&store, url, &[("range", "bytes=0-1, 4-5")]);
    assert_eq!(
        (response(&s).status, response(&s).body.as_slice()),
        (200, A_JS),
        "multi-range: full"
    );
    let s = get(&store, url, &[("range", "bytes=0-1"), ("if-range", "\"other\"")]);
    assert_eq!(response(&s).status, 200);
    let s = get(&store, "/", &[("if-none-match", "*")]);
    assert_eq!(response(&s).status, 304);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn classification_and_path_hygiene() {
    let cfg = AssetConfig::default();
    let c = |m: &str, url: &str| classify(&req(m, url, &[]), &cfg);
    assert_eq!(c("GET", "/assets/x"), Route::Asset);
    assert_eq!(c("GET", "/app.3f2a1b9c.js"), Route::Asset);
    assert_eq!(c("GET", "/logo.png"), Route::Asset);
    assert_eq!(c("GET", "/"), Route::EntryPoint);
    assert_eq!(c("HEAD", "/about"), Route::EntryPoint);
    assert_eq!(c("POST", "/"), Route::Origin);
    assert_eq!(c("POST", "/assets/x.js"), Route::Asset);
    assert_eq!(c("GET", "/api/x.js"), Route::Origin);
    assert_eq!(c("GET", "/_session/login"), Route::Origin);
    assert_eq!(c("GET", "/assets/..%2f..%2fsecret"), Route::Invalid(PathError::EncodedSeparator));
    assert_eq!(c("GET", "/%2e%2e/x.js"), Route::Invalid(PathError::DotSegment));
    assert_eq!(c("GET", "/assets/a%00.js"), Route::Invalid(PathError::Nul));
    assert_eq!(c("GET", "/assets/a\\b.js"), Route::Invalid(PathError::Backslash));
    assert_eq!(
        c("GET", &format!("/assets/{}", "a".repeat(1100))),
        Route::Invalid(PathError::TooLong(1108))
    );
    assert_eq!(c("GET", "/users/a%2Fb"), Route::Origin, "the origin owns its URL space");
    assert_eq!(c("GET", "/foo%00"), Route::Origin);
    let mut cfg2 = cfg.clone();
    cfg2.origin_paths = vec!["/login".into()];
    assert_eq!(classify(&req("GET", "/login", &[]), &cfg2), Route::Origin);
    assert_eq!(classify(&req("GET", "/login/x", &[]), &cfg2), Route::Origin);
    assert_eq!(classify(&req("GET", "/loginx", &[]), &cfg2), Route::EntryPoint);

    let store = two_deploys();
    let s = get(&store, "/assets/..%2f..%2fsecret.js", &[]);
    let r = response(&s);
    assert_eq!((r.status, h(r, "cache-control")), (400, Some("no-store")));
    assert!(store.take().is_empty(), "refused before any KV read");
    let s = go(&store, &cfg, &req("DELETE", "/assets/app.aaaaaaaa.js", &[]));
    assert_eq!((response(&s).status, h(response(&s), "allow")), (405, Some("GET, HEAD")));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn origin_requests_carry_the_pin_and_the_deploys_origin() {
    let store = Recording::new(T0);
    let mut o = opts("dA");
    o.origin = Some("https://v1.api.test/".into());
    publish_tree(&store, &[("index.html", b"A")], o, T0);
    publish_tree(&store, &[("index.html", b"B")], opts("dB"), T0 + 1);
    let s = get(&store, "/api/me", &[("cookie", "__Host-dpl=dA")]);
    match &s.outcome {
        Outcome::Forward { origin } => assert_eq!(origin.as_deref(), Some("https://v1.api.test")),
        other => panic!("{other:?}"),
    }
    assert_eq!(deploy(&s), "dA");
    let s = get(&store, "/api/me", &[("x-deploy-id", "bogus")]);
    assert!(matches!(&s.outcome, Outcome::Forward { origin: None }));
    assert_eq!(deploy(&s), "dB");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn malformed_manifest_keeps_the_previous_deploy_serving() {
    let store = two_deploys();
    store.raw_put("manifest:dB", b"{\"version\":1,");
    let s = get(&store, "/", &[]);
    assert_eq!((response(&s).status, deploy(&s)), (200, "dA"));
    assert!(
        s.log.iter().any(|l| l.contains("deploy `dB` is unusable") && l.contains("malformed")),
        "{:?}",
        s.log
    );
    // A malformed deploy list keeps the previously cached one.
    let cache = AssetCache::new(5);
    let r = req("GET", "/", &[]);
    let cfg = AssetConfig::default();
    let first = block_on_ready(serve(&store, &cache, &r, &cfg, T0 + 20, "c")).unwrap();
    assert_eq!(deploy(&first), "dA");
    store.raw_put("deploys", b"garbage");
    let later = block_on_ready(serve(&store, &cache, &r, &cfg, T0 + 60, "c")).unwrap();
    assert_eq!((response(&later).status, deploy(&later)), (200, "dA"));
    assert!(
        later.log.iter().any(|l| l.contains("keeping the previous deploy list")),
        "{:?}",
        later.log
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn promote_rolls_back_within_the_cache_ttl() {
    let store = two_deploys();
    let cache = AssetCache::new(5);
    let cfg = AssetConfig::default();
    let r = req("GET", "/", &[NAV]);
    let at = |now| {
        deploy(&block_on_ready(serve(&store, &cache, &r, &cfg, now, "c")).unwrap()).to_owned()
    };
    assert_eq!(at(T0 + 100), "dB");
    block_on_ready(promote(&store, &id("dA"), Activation::Current, T0 + 101)).unwrap().unwrap();
    assert_eq!(at(T0 + 102), "dB", "cached for the TTL");
    assert_eq!(at(T0 + 105), "dA", "rolled back after the TTL");
    assert!(matches!(
        block_on_ready(promote(&store, &id("nope"), Activation::Current, T0)).unwrap(),
        Err(crate::assets::AssetsError::Manifest(_))
    ));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn canary_serves_a_share_of_clients_and_keeps_them() {
    let store = two_deploys();
    block_on_ready(promote(&store, &id("dA"), Activation::Current, T0 + 15)).unwrap().unwrap();
    block_on_ready(promote(&store, &id("dB"), Activation::Canary(30), T0 + 15)).unwrap().unwrap();
    let cfg = AssetConfig::default();
    let r = req("GET", "/", &[NAV]);
    let cache = AssetCache::new(60);
    let on_b = (0..400)
        .filter(|i| {
            let s =
                block_on_ready(serve(&store, &cache, &r, &cfg, T0 + 20, &format!("c{i}"))).unwrap();
            deploy(&s) == "dB"
        })
        .count();
    assert!((100..=140).contains(&on_b), "30 % of 400 is 120, got {on_b}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn storage_trouble_is_503_for_assets_and_forward_for_the_rest() {
    let store = two_deploys();
    let blob = crate::manifest::AssetHash::of(A_JS).blob_key();
    block_on_ready(crate::store::KvStore::delete(&store.inner, &blob)).unwrap().unwrap();
    let s = get(&store, "/assets/app.aaaaaaaa.js", &[]);
    let r = response(&s);
    assert_eq!((r.status, h(r, "cache-control")), (503, Some("no-store")));
    assert!(s.log.iter().any(|l| l.contains("is missing")), "{:?}", s.log);
    store.raw_put(&blob, b"short");
    let s = get(&store, "/assets/app.aaaaaaaa.js", &[]);
    assert_eq!(response(&s).status, 503);
    assert!(s.log.iter().any(|l| l.contains("has 5 bytes, expected 23")), "{:?}", s.log);

    *store.inner.fail.borrow_mut() = Some("KV down".into());
    assert_eq!(response(&get(&store, "/assets/app.bbbbbbbb.js", &[])).status, 503);
    let s = get(&store, "/", &[]);
    assert!(matches!(s.outcome, Outcome::Forward { origin: None }));
    assert!(s.log.iter().any(|l| l.contains("KV down")));

    // Nothing published: everything well-formed goes to the origin (dev fallback).
    let empty = Recording::new(T0);
    for path in ["/assets/a.js", "/app.js", "/"] {
        let s = get(&empty, path, &[]);
        assert!(matches!(s.outcome, Outcome::Forward { origin: None }), "{path}: {s:?}");
        assert!(s.deploy.is_none(), "{path}");
    }
    assert_eq!(response(&get(&empty, "/assets/%2e%2e/x.js", &[])).status, 400);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_deploy_published_after_the_last_read_is_served_at_once() {
    let store = two_deploys();
    let cache = AssetCache::new(5);
    let cfg = AssetConfig::default();
    let at = |path: &str, now| {
        block_on_ready(serve(&store, &cache, &req("GET", path, &[]), &cfg, now, "c")).unwrap()
    };
    assert_eq!(response(&at("/assets/app.bbbbbbbb.js", T0 + 100)).status, 200);
    publish_tree(
        &store,
        &[("index.html", b"C"), ("assets/app.cccccccc.js", b"C")],
        opts("dC"),
        T0 + 100,
    );
    store.take();
    // The cached list (read this very second) does not know dC: the miss reads it again.
    let s = at("/assets/app.cccccccc.js", T0 + 100);
    assert_eq!((response(&s).status, deploy(&s)), (200, "dC"), "{:?}", s.log);
    assert_eq!(store.take().iter().filter(|o| *o == "get deploys").count(), 1);
    // Probes of missing files re-read at most once a second.
    for _ in 0..5 {
        assert_eq!(response(&at("/assets/nope.dddddddd.js", T0 + 101)).status, 404);
    }
    assert_eq!(store.take().iter().filter(|o| *o == "get deploys").count(), 1);
    assert_eq!(response(&at("/assets/nope.dddddddd.js", T0 + 102)).status, 404);
    assert_eq!(store.take().iter().filter(|o| *o == "get deploys").count(), 1);
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// Publish the next deploy after `secs` seconds.
        Publish { secs: u64 },
        /// Request an asset of published deploy `which` (modulo the count), or a
        /// missing file, after `secs` seconds.
        Get { secs: u64, which: usize, missing: bool },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3u64).prop_map(|secs| Step::Publish { secs }),
            (0..3u64, 0..8usize, proptest::bool::weighted(0.3))
                .prop_map(|(secs, which, missing)| Step::Get { secs, which, missing }),
        ]
    }

    proptest! {
        /// With any cache TTL and any interleaving of publishes and requests in
        /// time: an asset of a published deploy is answered 200 unless an earlier
        /// request already re-read the list in that same second, and misses cost at
        /// most one extra read of the deploy list a second.
        #[test]
        fn published_assets_are_found_and_rereads_are_rate_limited(
            ttl in 1..30u64,
            steps in proptest::collection::vec(step(), 1..40),
        ) {
            let store = Recording::new(T0);
            let cache = AssetCache::new(ttl);
            let cfg = AssetConfig::default();
            let (mut now, mut published) = (T0, 0usize);
            let mut reread_in: Option<u64> = None;
            let mut reads: std::collections::BTreeMap<u64, usize> = Default::default();
            for s in steps {
                match s {
                    Step::Publish { secs } => {
                        now += secs;
                        let name = format!("d{published}");
                        let js = format!("assets/app.{:08x}.js", published);
                        let content = name.clone().into_bytes();
                        publish_tree(&store, &[("index.html", &content), (&js, &content)], opts(&name), now);
                        published += 1;
                        store.take();
                    }
                    Step::Get { secs, which, missing } => {
                        now += secs;
                        let path = match (missing, published) {
                            (true, _) | (_, 0) => "/assets/gone.ffffffff.js".to_owned(),
                            (false, n) => format!("/assets/app.{:08x}.js", which % n),
                        };
                        let r = req("GET", &path, &[]);
                        let served = block_on_ready(serve(&store, &cache, &r, &cfg, now, "c")).unwrap();
                        let status = match &served.outcome {
                            Outcome::Respond(r) => r.status,
                            Outcome::Forward { .. } => 0,
                        };
                        let found_expected = !missing && published > 0 && reread_in != Some(now);
                        if found_expected {
                            prop_assert_eq!(status, 200, "{} at {}: {:?}", path, now, served.log);
                        }
                        if served.log.iter().any(|l| l.contains("read the deploy list again")) {
                            reread_in = Some(now);
                        }
                        let n = store.take().iter().filter(|o| *o == "get deploys").count();
                        *reads.entry(now).or_default() += n;
                    }
                }
            }
            for (sec, n) in reads {
                prop_assert!(n <= 2, "{} reads of the deploy list in second {}", n, sec);
            }
        }
    }
}
