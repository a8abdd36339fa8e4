//! The request order with in-memory stores and a recorded origin.

use std::cell::RefCell;

use super::*;
use crate::assets::testkit::{publish_tree, Recording};
use crate::assets::PublishOptions;
use crate::config::tests::vars;
use crate::gateway::EntropyError;
use crate::manifest::DeployId;
use crate::store::{block_on_ready, MemoryStore};
use crate::telemetry;

const T0: u64 = 1_700_000_000;

struct Counter(u8);

impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        for b in buf.iter_mut() {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

/// An origin that records what it was sent and answers with fixed headers.
#[derive(Default)]
struct Origin {
    sent: RefCell<Vec<(String, Headers)>>,
    answer: Vec<(&'static str, String)>,
    fails: Option<UpstreamError>,
}

impl Upstream for Origin {
    type Reply = u16;

    async fn send(&self, url: &str, headers: &Headers, timeout: u64) -> Result<u16, UpstreamError> {
        assert_eq!(timeout, 30, "ORIGIN_TIMEOUT's default reaches the origin call");
        self.sent.borrow_mut().push((url.to_owned(), headers.clone()));
        match &self.fails {
            Some(e) => Err(e.clone()),
            None => Ok(200),
        }
    }

    fn headers(&self, _reply: &u16) -> Headers {
        self.answer.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    fn status(&self, reply: &u16) -> u16 {
        *reply
    }
}

/// A pool: each origin (by host) answers a status, or fails.
struct Pool {
    sent: RefCell<Vec<String>>,
    answers: Vec<(&'static str, Result<u16, UpstreamError>)>,
}

impl Upstream for Pool {
    type Reply = u16;

    async fn send(&self, url: &str, _h: &Headers, _t: u64) -> Result<u16, UpstreamError> {
        self.sent.borrow_mut().push(url.to_owned());
        let (_, answer) =
            self.answers.iter().find(|(host, _)| url.contains(host)).expect("a pool origin");
        answer.clone()
    }

    fn headers(&self, _reply: &u16) -> Headers {
        Headers::new()
    }

    fn status(&self, reply: &u16) -> u16 {
        *reply
    }
}

/// The test settings plus `extra`, as a lookup.
fn lookup(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m = vars(extra);
    move |k: &str| m.get(k).cloned()
}

fn worker(extra: &[(&str, &str)]) -> Worker {
    Worker::from_lookup(lookup(extra)).unwrap()
}

fn req(method: &str, url: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead::new(method, url, headers.iter().map(|(n, v)| (*n, v.to_string())).collect())
}

/// Runs one request; the denylist's stores are returned for inspection.
fn run<U: Upstream<Reply = u16>>(
    w: &Worker,
    r: &RequestHead,
    assets: &Recording,
    denylist: &Recording,
    origin: &U,
) -> (Answer<u16>, Vec<String>) {
    let (answer, log, _) = run_recorded(w, r, assets, denylist, origin);
    (answer, log)
}

/// [`run`], with the request log's record.
fn run_recorded<U: Upstream<Reply = u16>>(
    w: &Worker,
    r: &RequestHead,
    assets: &Recording,
    denylist: &Recording,
    origin: &U,
) -> (Answer<u16>, Vec<String>, Record) {
    let mut log = Vec::new();
    let mut record = Record::default();
    let stores = Denylist { fast: denylist, strong: None::<&MemoryStore> };
    let now = T0 + 20;
    let mut entropy = Counter(0);
    let run = w.run(r, assets, stores, origin, &mut entropy, now, &mut log, &mut record);
    (block_on_ready(run).expect("memory futures complete at once"), log, record)
}

fn published() -> Recording {
    let store = Recording::new(T0);
    let opts = PublishOptions {
        deploy_id: Some(DeployId::parse("d1").unwrap()),
        origin: Some("https://v1.origin.test".into()),
        ..PublishOptions::default()
    };
    publish_tree(
        &store,
        &[("index.html", &b"<p>1</p>"[..]), ("assets/app.aaaaaaaa.js", b"1")],
        opts,
        T0,
    );
    store.take();
    store
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn assets_are_answered_before_any_session_work() {
    let w = worker(&[]);
    let (assets, denylist, origin) = (published(), Recording::new(T0), Origin::default());
    let cookie = ("cookie", "__Host-session=v1.k1.garbage");
    for path in ["/assets/app.aaaaaaaa.js", "/assets/missing.bbbbbbbb.js", "/"] {
        let (answer, _) = run(&w, &req("GET", path, &[cookie]), &assets, &denylist, &origin);
        let Answer::Respond(r) = answer else { panic!("{path} went to the origin") };
        assert!(matches!(r.status, 200 | 404), "{path}: {}", r.status);
        assert!(r.headers.get("set-cookie").is_none_or(|c| c.starts_with("__Host-dpl=")));
    }
    assert!(denylist.take().is_empty(), "no denylist read for assets");
    assert!(origin.sent.borrow().is_empty());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_forwarded_request_goes_to_its_deploys_origin_and_gets_the_finish() {
    let w = worker(&[]);
    let (assets, denylist) = (published(), Recording::new(T0));
    let origin = Origin {
        answer: vec![("edge-session-set", r#"{"sub":"ada"}"#.into()), ("x-app", "1".into())],
        ..Origin::default()
    };
    let (answer, _) = run(&w, &req("POST", "/login?next=%2F", &[]), &assets, &denylist, &origin);
    let Answer::Pass { reply, headers, original } = answer else { panic!("not passed") };
    assert_eq!(reply, 200);
    assert_eq!(original.get("edge-session-set"), Some(r#"{"sub":"ada"}"#));
    assert!(headers.get("edge-session-set").is_none(), "instructions stripped");
    assert!(headers.get("set-cookie").is_some_and(|c| c.starts_with("__Host-session=")));
    let sent = origin.sent.borrow();
    assert_eq!(sent[0].0, "https://v1.origin.test/login?next=%2F", "the deploy's origin");
    assert_eq!(sent[0].1.get("x-deploy-id"), Some("d1"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn refusals_and_endpoints_never_reach_the_origin_and_a_dead_origin_is_a_502() {
    let w = worker(&[]);
    let (assets, denylist, origin) = (Recording::new(T0), Recording::new(T0), Origin::default());
    let csrf = req(
        "POST",
        "https://app.test/api/x",
        &[("cookie", "__Host-session=x"), ("origin", "https://evil.test")],
    );
    let endpoint = req("GET", "/_session/jwks.json", &[]);
    for r in [csrf, endpoint] {
        let (answer, _) = run(&w, &r, &assets, &denylist, &origin);
        assert!(matches!(answer, Answer::Respond(_)), "{} {}", r.method, r.path);
    }
    assert!(origin.sent.borrow().is_empty());
    let down = Origin {
        fails: Some(UpstreamError::Failed("connection refused".into())),
        ..Origin::default()
    };
    let (answer, log) = run(&w, &req("GET", "/api/me", &[]), &assets, &denylist, &down);
    let Answer::Respond(r) = answer else { panic!("passed") };
    assert_eq!(r.status, 502);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(body.contains("origin_unreachable") && !body.contains("refused"), "{body}");
    assert!(log.iter().any(|l| l.contains("connection refused")), "{log:?}");
    let slow = Origin { fails: Some(UpstreamError::TimedOut), ..Origin::default() };
    let (answer, _) = run(&w, &req("GET", "/api/me", &[]), &assets, &denylist, &slow);
    let Answer::Respond(r) = answer else { panic!("passed") };
    assert_eq!(r.status, 504);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(body.contains("origin_timeout") && body.contains("ORIGIN_TIMEOUT (30 s)"), "{body}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bindings_and_the_canary_identity_come_from_the_core() {
    let w = worker(&[]);
    let b = w.bindings();
    assert_eq!(
        (b.assets, b.denylist.as_str(), b.revocation_do),
        ("ASSETS", "DENYLIST", "REVOCATION_DO")
    );
    assert!(!w.wants_strong_store());
    let w = worker(&[("DENYLIST_BINDING", "REVOKED"), ("STRONG_REVOCATION_PATHS", "/admin/")]);
    assert_eq!(w.bindings().denylist, "REVOKED");
    assert!(w.wants_strong_store());
    let e = Worker::from_lookup(|n: &str| (n == "ORIGIN_URL").then(|| "x".to_owned())).unwrap_err();
    assert!(e.to_string().contains("ORIGIN_URL"), "{e}");
    let e = Worker::from_lookup(lookup(&[("ASSET_CACHE_TTL", "9999")])).unwrap_err();
    assert!(e.to_string().contains("ASSET_CACHE_TTL"), "{e}");
    let a = req("GET", "/", &[("cf-connecting-ip", "192.0.2.1"), ("user-agent", "ua")]);
    let b = req("GET", "/x", &[("user-agent", "ua"), ("cf-connecting-ip", "192.0.2.1")]);
    assert_eq!(client_id(&a), client_id(&b));
    assert_ne!(client_id(&a), client_id(&req("GET", "/", &[("user-agent", "ua")])));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_failed_idempotent_request_is_retried_once_on_another_origin_and_a_post_is_not() {
    let (assets, denylist) = (Recording::new(T0), Recording::new(T0));
    let refused = || Err(UpstreamError::Failed("connection refused".into()));
    let pool = |a: Result<u16, UpstreamError>,
                b: Result<u16, UpstreamError>,
                c: Result<u16, UpstreamError>| Pool {
        sent: RefCell::default(),
        answers: vec![("a.test", a), ("b.test", b), ("c.test", c)],
    };
    // One origin of three is down (each in turn): every GET gets through, on its
    // first or second try, never a third; once ejected, the dead one is tried no more.
    for down in ["a.test", "b.test", "c.test"] {
        let w = worker(&[("ORIGINS", "http://a.test, http://b.test, http://c.test")]);
        let answer = |h: &str| if h == down { refused() } else { Ok(200) };
        let p = pool(answer("a.test"), answer("b.test"), answer("c.test"));
        for n in 0..30 {
            let r = req("GET", &format!("/api/x{n}"), &[("cookie", &format!("n={n}"))]);
            let (answer, _) = run(&w, &r, &assets, &denylist, &p);
            assert!(matches!(answer, Answer::Pass { reply: 200, .. }), "{down} down, request {n}");
        }
        let sent = p.sent.borrow();
        assert!(sent.len() <= 60, "at most two attempts a request: {}", sent.len());
        let dead = sent.iter().filter(|u| u.contains(down)).count();
        assert!(dead <= EJECT_AFTER as usize, "{down} was tried {dead} times");
    }
    // A 503 is retried for a GET, not for a POST (a body is never replayed).
    let w = worker(&[("ORIGINS", "http://a.test, http://b.test")]);
    let p = pool(Ok(503), Ok(503), Ok(503));
    let (answer, log) = run(&w, &req("GET", "/api/y", &[]), &assets, &denylist, &p);
    assert!(matches!(answer, Answer::Pass { reply: 503, .. }), "the last answer passes on");
    assert_eq!(p.sent.borrow().len(), 2);
    assert!(log.iter().any(|l| l.contains("retrying GET /api/y on another origin")), "{log:?}");
    let p = pool(Ok(503), Ok(503), Ok(503));
    let post = req("POST", "/api/y", &[("content-length", "2")]);
    let (_, _) = run(&w, &post, &assets, &denylist, &p);
    assert_eq!(p.sent.borrow().len(), 1, "a POST is sent once");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_pool_with_every_origin_gone_answers_json_and_ejects_after_repeated_failures() {
    let w = worker(&[("ORIGINS", "http://a.test, http://b.test")]);
    let (assets, denylist) = (Recording::new(T0), Recording::new(T0));
    let p = Pool {
        sent: RefCell::default(),
        answers: vec![
            ("a.test", Err(UpstreamError::TimedOut)),
            ("b.test", Err(UpstreamError::Failed("refused".into()))),
        ],
    };
    let mut logs = Vec::new();
    for _ in 0..4 {
        let (answer, log) = run(&w, &req("GET", "/api/z", &[]), &assets, &denylist, &p);
        let Answer::Respond(r) = answer else { panic!("passed") };
        assert!(matches!(r.status, 502 | 504), "{}", r.status);
        assert!(r.headers.get("content-type").is_some_and(|t| t.starts_with("application/json")));
        logs.extend(log);
    }
    assert!(logs.iter().any(|l| l.contains("ejected after 3 failures")), "{logs:?}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_deploys_pool_serves_its_pages_while_up_then_the_current_pool_takes_over() {
    let w = worker(&[]);
    let (assets, denylist) = (published(), Recording::new(T0));
    let p = |v1: Result<u16, UpstreamError>| Pool {
        sent: RefCell::default(),
        answers: vec![("v1.origin.test", v1), ("127.0.0.1:8788", Ok(200))],
    };
    let up = p(Ok(200));
    for n in 0..5 {
        let (answer, _) = run(&w, &req("GET", &format!("/api/{n}"), &[]), &assets, &denylist, &up);
        assert!(matches!(answer, Answer::Pass { reply: 200, .. }));
    }
    assert!(up.sent.borrow().iter().all(|u| u.starts_with("https://v1.origin.test/")));
    // The deploy's origin goes away: its requests fail over to the pool, and once it
    // is ejected they go to the pool first.
    let down = p(Err(UpstreamError::Failed("Network connection lost.".into())));
    for n in 0..6 {
        let (answer, _) =
            run(&w, &req("GET", &format!("/api/{n}"), &[]), &assets, &denylist, &down);
        assert!(matches!(answer, Answer::Pass { reply: 200, .. }), "request {n}");
    }
    let sent = down.sent.borrow();
    assert_eq!(sent.iter().filter(|u| u.contains("v1.origin")).count(), EJECT_AFTER as usize);
    assert!(sent.iter().rev().take(3).all(|u| u.starts_with("http://127.0.0.1:8788/api/")));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_request_cloudflare_never_connected_is_retried_whatever_its_method_but_a_body_never() {
    let (assets, denylist) = (Recording::new(T0), Recording::new(T0));
    let w = worker(&[("ORIGINS", "http://a.test, http://b.test")]);
    let pool = || Pool {
        sent: RefCell::default(),
        answers: vec![("a.test", Ok(521)), ("b.test", Ok(521))],
    };
    for method in ["POST", "DELETE", "PATCH"] {
        let p = pool();
        let (_, log) = run(&w, &req(method, "/api/logout", &[]), &assets, &denylist, &p);
        assert_eq!(p.sent.borrow().len(), 2, "{method}: {log:?}");
    }
    let p = pool();
    let post = req("POST", "/api/upload", &[("content-length", "5")]);
    let (_, _) = run(&w, &post, &assets, &denylist, &p);
    assert_eq!(p.sent.borrow().len(), 1, "a body is a stream sent once");
    // A 502 from the origin itself may have done the work: a POST is not retried.
    let p =
        Pool { sent: RefCell::default(), answers: vec![("a.test", Ok(502)), ("b.test", Ok(502))] };
    let (_, _) = run(&w, &req("POST", "/api/logout", &[]), &assets, &denylist, &p);
    assert_eq!(p.sent.borrow().len(), 1);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_health_check_stores_what_failed_and_every_isolate_avoids_it() {
    let spec = "http://a.test, http://b.test, http://c.test";
    let checker = worker(&[("ORIGINS", spec), ("HEALTH_CHECK_PATH", "/healthz")]);
    let assets = Recording::new(T0);
    let p = Pool {
        sent: RefCell::default(),
        answers: vec![
            ("a.test", Ok(200)),
            ("b.test", Ok(503)),
            ("c.test", Err(UpstreamError::TimedOut)),
        ],
    };
    let mut log = Vec::new();
    block_on_ready(checker.check_health(&assets, &p, T0, &mut log)).unwrap();
    assert_eq!(
        *p.sent.borrow(),
        ["http://a.test/healthz", "http://b.test/healthz", "http://c.test/healthz"]
    );
    let report = HealthReport::parse(&assets.raw_get(fleet::HEALTH_KEY).unwrap()).unwrap();
    let failing: Vec<&str> = report.failing.iter().map(|(url, _)| url.as_str()).collect();
    assert_eq!(failing, ["http://b.test", "http://c.test"]);
    assert_eq!(report.failing("http://c.test").unwrap().why, "no answer within 5 s");
    // Another isolate, serving: only a.test gets requests while it is up.
    let w = worker(&[("ORIGINS", spec)]);
    let denylist = Recording::new(T0);
    let serving = Pool { sent: RefCell::default(), answers: vec![("a.test", Ok(200))] };
    for n in 0..20 {
        let (answer, _) =
            run(&w, &req("GET", &format!("/x{n}"), &[]), &assets, &denylist, &serving);
        assert!(matches!(answer, Answer::Pass { reply: 200, .. }));
    }
    assert!(serving.sent.borrow().iter().all(|u| u.starts_with("http://a.test/")));
    // The origins of retained deploys are checked too.
    let with_deploy = published();
    let p = Pool {
        sent: RefCell::default(),
        answers: vec![
            ("a.test", Ok(200)),
            ("b.test", Ok(200)),
            ("c.test", Ok(200)),
            ("v1.origin.test", Ok(503)),
        ],
    };
    block_on_ready(checker.check_health(&with_deploy, &p, T0, &mut log)).unwrap();
    assert_eq!(p.sent.borrow().last().map(String::as_str), Some("https://v1.origin.test/healthz"));
    let report = HealthReport::parse(&with_deploy.raw_get(fleet::HEALTH_KEY).unwrap()).unwrap();
    assert!(report.failing("https://v1.origin.test").is_some(), "{report:?}");
    // Without HEALTH_CHECK_PATH the cron trigger checks nothing and says why.
    let mut log = Vec::new();
    block_on_ready(w.check_health(&assets, &p, T0, &mut log)).unwrap();
    assert!(log[0].contains("HEALTH_CHECK_PATH is not set"), "{log:?}");
}

/// A fake Analytics Engine binding: keeps the data points.
#[derive(Default)]
struct Points(RefCell<Vec<telemetry::DataPoint>>);

impl Metrics for Points {
    fn write(&self, point: &telemetry::DataPoint) {
        self.0.borrow_mut().push(point.clone());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_request_gets_a_record_a_sampled_log_line_and_a_data_point() {
    let w = worker(&[("ORIGINS", "http://a.test, http://b.test")]);
    let (assets, denylist) = (published(), Recording::new(T0));
    let p = Pool {
        sent: RefCell::default(),
        answers: vec![
            ("v1.origin.test", Err(UpstreamError::TimedOut)),
            ("a.test", Ok(200)),
            ("b.test", Ok(200)),
        ],
    };
    // An asset, an endpoint, a refused forward and forwards.
    let (_, _, asset) =
        run_recorded(&w, &req("GET", "/assets/app.aaaaaaaa.js", &[]), &assets, &denylist, &p);
    assert_eq!(
        (asset.route, asset.status, asset.deploy.as_deref()),
        (Route::Asset, 200, Some("d1"))
    );
    let (_, _, jwks) =
        run_recorded(&w, &req("GET", "/_session/jwks.json", &[]), &assets, &denylist, &p);
    assert_eq!((jwks.route, jwks.session), (Route::Endpoint, SessionState::None));
    let csrf = req(
        "POST",
        "https://app.test/api/x",
        &[("cookie", "__Host-session=x"), ("origin", "https://evil.test")],
    );
    let (_, _, refused) = run_recorded(&w, &csrf, &assets, &denylist, &p);
    assert_eq!((refused.route, refused.status), (Route::Forward, 403));
    assert_eq!(refused.error.as_deref(), Some("cross_site_request"));
    let bad = req("GET", "/api/me?token=secret", &[("cookie", "__Host-session=tampered")]);
    let (_, _, r) = run_recorded(&w, &bad, &assets, &denylist, &p);
    assert_eq!(
        (r.route, r.session, r.kid.as_deref()),
        (Route::Forward, SessionState::Invalid, None)
    );
    assert_eq!(r.path, "/api/me", "never the query");
    // The deploy's own origin times out: the pool answers, after one retry.
    let (_, _, retried) = run_recorded(&w, &req("GET", "/api/1", &[]), &assets, &denylist, &p);
    assert_eq!((retried.status, retried.retries), (200, 1), "{retried:?}");
    let answered = retried.origin.clone().unwrap();
    assert!(["http://a.test", "http://b.test"].contains(&answered.as_str()), "{answered}");
    // Reported: the data point always, the line as sampled.
    let points = Points::default();
    let line = retried.report(1.0, || unreachable!("no sampling at 1"), Some(&points)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["edge_session"], "request");
    assert_eq!((json["route"].as_str(), json["session"].as_str()), (Some("forward"), Some("none")));
    assert_eq!((json["status"].as_u64(), json["retries"].as_u64()), (Some(200), Some(1)));
    assert_eq!(json["origin"], answered.as_str());
    assert_eq!(json["deploy"], "d1");
    assert!(json["error"].is_null() && json["kid"].is_null());
    let point = points.0.borrow()[0].clone();
    assert_eq!(point.blobs[..6], ["forward", "none", "", "d1", "", answered.as_str()]);
    assert_eq!((point.doubles, point.index.as_str()), ([200.0, 1.0], "d1"));
    assert!(retried.report(0.0, || 0, None::<&Points>).is_none(), "0 turns the line off");
    let taken = (0..1000u32)
        .filter(|n| retried.report(0.1, || n * 4_294_967, None::<&Points>).is_some())
        .count();
    assert!((95..=105).contains(&taken), "a tenth of the requests: {taken}");
    assert_eq!(points.0.borrow().len(), 1, "metrics only when bound");
    assert_eq!(w.report(&retried, || 0, Some(&points)).as_deref(), Some(line.as_str()));
}
