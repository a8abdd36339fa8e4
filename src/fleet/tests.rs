//! Selection, health and retry rules of the fleet, with time and randomness passed in.

use super::*;

fn check(url: &str) -> Result<String, String> {
    match url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) {
        Some(host) if !host.is_empty() => Ok(url.trim_end_matches('/').to_owned()),
        _ => Err(format!("`{url}` is not an http(s) URL")),
    }
}

fn fleet(weights: &[u32]) -> Fleet {
    let origins = weights
        .iter()
        .enumerate()
        .map(|(i, w)| PoolOrigin { url: format!("http://o{i}.test"), weight: *w })
        .collect();
    Fleet::new(origins, 30)
}

fn sid(n: u32) -> String {
    format!("sid-{n:06}")
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn origins_parse_with_weights_and_errors_say_what_is_wrong() {
    let got = parse_origins("http://a:1/, https://b weight=3 ,", check).unwrap();
    assert_eq!(
        got,
        [
            PoolOrigin { url: "http://a:1".into(), weight: 1 },
            PoolOrigin { url: "https://b".into(), weight: 3 },
        ]
    );
    for (spec, want) in [
        ("", "lists no origin"),
        (" , ", "lists no origin"),
        ("ftp://x", "not an http(s) URL"),
        ("http://a weight=0", "weight=N with N from 1 to 100"),
        ("http://a weight=101", "weight=N"),
        ("http://a heavy", "weight=N"),
        ("http://a weight=2 extra", "expected `URL [weight=N]`"),
        ("http://a, http://a/", "listed twice"),
    ] {
        let e = parse_origins(spec, check).unwrap_err();
        assert!(e.to_string().contains(want), "{spec:?}: {e}");
    }
    let many = (0..33).map(|i| format!("http://o{i}")).collect::<Vec<_>>().join(",");
    assert!(parse_origins(&many, check).unwrap_err().to_string().contains("at most 32"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn sessions_stick_by_weight_and_losing_an_origin_moves_only_its_share_evenly() {
    let f = fleet(&[1, 1, 2, 1]);
    let first = |f: &Fleet, n: u32| f.order(Some(&sid(n)), 0, 7, &[])[0];
    let mut counts = [0u32; 4];
    for n in 0..5000 {
        let o = first(&f, n);
        counts[o] += 1;
        assert_eq!(first(&f, n), o, "the same sid, the same origin");
        assert_eq!(f.order(Some(&sid(n)), 0, 99, &[]).len(), 4, "every origin is listed");
    }
    // Shares follow the weights (1:1:2:1 of 5000 = 1000, 1000, 2000, 1000).
    for (i, want) in [(0, 1000), (1, 1000), (2, 2000), (3, 1000)] {
        assert!(counts[i].abs_diff(want) < 150, "origin {i}: {counts:?}");
    }
    // Origin 2 is ejected: its sessions spread over all the others, the rest stay.
    for _ in 0..EJECT_AFTER {
        f.start(2);
        f.finish(2, Attempt::Failed, 100);
    }
    let mut moved = [0u32; 4];
    for n in 0..5000 {
        let before = fleet(&[1, 1, 2, 1]).order(Some(&sid(n)), 0, 7, &[])[0];
        let after = f.order(Some(&sid(n)), 101, 7, &[]);
        assert_eq!(*after.last().unwrap(), 2, "the ejected origin comes last");
        if before != 2 {
            assert_eq!(after[0], before, "sid {n} had no reason to move");
        } else {
            moved[after[0]] += 1;
        }
    }
    assert_eq!(moved[2], 0);
    for i in [0, 1, 3] {
        assert!(moved[i] > 400 && moved[i] < 1000, "no buddy takes it all: {moved:?}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_busy_origin_yields_sessions_and_anonymous_requests_take_the_less_busy_of_two() {
    let f = fleet(&[1, 1, 1]);
    let home = f.order(Some("s"), 0, 0, &[])[0];
    for _ in 0..4 {
        f.start(home);
    }
    assert_ne!(f.order(Some("s"), 0, 0, &[])[0], home, "over its bounded share, it yields");
    for _ in 0..4 {
        f.finish(home, Attempt::Answered, 0);
    }
    assert_eq!(f.order(Some("s"), 0, 0, &[])[0], home, "back once the load is gone");
    // Anonymous: of the two random picks, the one with fewer requests in flight.
    let f = fleet(&[1, 1]);
    f.start(0);
    for r in 0..50 {
        assert_eq!(f.order(None, 0, r, &[])[0], 1, "random {r}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn failures_eject_with_a_growing_backoff_and_never_more_than_half_the_pool() {
    let f = fleet(&[1, 1, 1, 1]);
    let fail = |i: usize, now: u64| {
        f.start(i);
        f.finish(i, Attempt::Failed, now)
    };
    assert!(!fail(0, 10) && !fail(0, 10), "two failures are not enough");
    assert!(fail(0, 10), "the third ejects");
    assert_eq!(f.order(None, 12, 1, &[]).last(), Some(&0));
    assert_eq!(f.order(None, 10 + BASE_EJECTION, 1, &[]).len(), 4);
    assert!(
        f.order(None, 10 + BASE_EJECTION, 1, &[])[..4].contains(&0),
        "back after the first ejection"
    );
    // Failing again right away: ejected for twice as long.
    assert!(!fail(0, 20) && !fail(0, 20) && fail(0, 20));
    assert_eq!(*f.order(None, 20 + 2 * BASE_EJECTION - 1, 3, &[]).last().unwrap(), 0);
    // A success resets the backoff.
    f.start(0);
    f.finish(0, Attempt::Answered, 40);
    assert!(!fail(0, 41) && !fail(0, 41) && fail(0, 41));
    assert_eq!(*f.order(None, 41 + BASE_EJECTION - 1, 3, &[]).last().unwrap(), 0);
    // With 0 out, 1 may go too (half of four), a third may not.
    assert!(!fail(1, 42) && !fail(1, 42) && fail(1, 42));
    assert!(!fail(2, 42) && !fail(2, 42) && !fail(2, 42), "at most half ejected");
    let order = f.order(Some("x"), 43, 1, &[]);
    assert!(order[..2].iter().all(|i| *i == 2 || *i == 3), "healthy first: {order:?}");
    let ejected_at = |i: u64| f.order(None, i, 1, &[]);
    assert_eq!(ejected_at(10_000).len(), 4);
    // A pool of one never ejects its only origin.
    let one = fleet(&[1]);
    for _ in 0..10 {
        one.start(0);
        assert!(!one.finish(0, Attempt::Failed, 5));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn retries_only_for_idempotent_bodiless_requests_within_the_budget() {
    for method in ["GET", "HEAD", "OPTIONS"] {
        assert!(may_retry(method, false, false), "{method}");
    }
    for (method, body) in [("POST", false), ("PUT", false), ("DELETE", false), ("GET", true)] {
        assert!(!may_retry(method, body, false), "{method} body={body}");
    }
    // Never connected (Cloudflare's 521-523): any method, but a body is never replayed.
    assert!(may_retry("POST", false, true) && may_retry("DELETE", false, true));
    assert!(!may_retry("POST", true, true));
    let f = fleet(&[1, 1]);
    for _ in 0..100 {
        f.count_request(0);
    }
    let granted = (0..100).filter(|_| f.take_retry()).count();
    assert_eq!(granted, 20 + RETRY_FLOOR as usize, "a fifth of the requests, plus the floor");
    f.count_request(BUDGET_WINDOW);
    assert!(f.take_retry(), "a new window, a new budget");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_drained_origin_gets_no_request_and_an_undrained_one_ramps_up() {
    let f = fleet(&[1, 1, 1]);
    let mut state = PoolState::default();
    state.drain("http://o1.test", 100);
    f.apply(&state);
    for n in 0..300 {
        let order = f.order(Some(&sid(n)), 101, n.into(), &[]);
        assert_eq!(order.last(), Some(&1), "drained comes last");
        assert!(order[..2].iter().all(|i| *i != 1));
    }
    // Drained after the ejected ones, too.
    for _ in 0..EJECT_AFTER {
        f.start(0);
        f.finish(0, Attempt::Failed, 101);
    }
    assert_eq!(f.order(None, 102, 5, &[]), [2, 0, 1]);
    // Undrained at 200 with a 30 s slow start: a few sessions at first, its share later.
    state.undrain("http://o1.test", 200);
    f.apply(&state);
    let share = |now| (0..3000).filter(|n| f.order(Some(&sid(*n)), now, 0, &[])[0] == 1).count();
    let (early, later) = (share(201), share(260));
    assert!(early < 300, "a tenth of its weight at first: {early} of 3000");
    assert!(later > 800, "all of it after the slow start: {later} of 3000");
    let round = PoolState::parse(&state.to_json()).unwrap();
    assert_eq!(round, state);
    assert!(PoolState::parse(b"{\"drained\": 1}").unwrap_err().contains("`pool` is malformed"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_deploys_origins_come_first_while_healthy_then_the_current_pool() {
    let f = fleet(&[1, 1, 1]);
    let old = |n: u32| PoolOrigin { url: format!("http://old{n}.test"), weight: 1 };
    // A deploy naming one configured origin and two of its own.
    let (prefer, left_out) =
        f.learn(&[old(0), PoolOrigin { url: "http://o2.test".into(), weight: 1 }, old(1)]);
    assert_eq!((prefer.as_slice(), left_out), (&[3, 2, 4][..], 0));
    assert_eq!(f.learn(&[old(1)]).0, [4], "learned once");
    for n in 0..200 {
        let order = f.order(Some(&sid(n)), 0, n.into(), &prefer);
        assert_eq!(order.len(), 5);
        let mut head = order[..3].to_vec();
        head.sort_unstable();
        assert_eq!(head, [2, 3, 4], "the deploy's origins first: {order:?}");
        // Other requests never see the learned origins.
        assert_eq!(f.order(Some(&sid(n)), 0, n.into(), &[]).len(), 3);
    }
    // The deploy's origins fail: the current pool comes first, then they.
    for i in [3, 4] {
        for _ in 0..EJECT_AFTER {
            f.start(i);
            f.finish(i, Attempt::Failed, 10);
        }
        assert!(f.is_ejected(i, 11));
    }
    let order = f.order(None, 11, 5, &prefer);
    assert_eq!(order[0], 2, "its healthy origin still first: {order:?}");
    assert!(order[1..3].iter().all(|i| *i < 2), "then the pool: {order:?}");
    assert!(order[3..].iter().all(|i| *i >= 3), "then the ejected: {order:?}");
    // Beyond MAX_LEARNED a new origin replaces the oldest idle learned one; busy
    // ones are kept, and when all are busy the new one is left out.
    let many: Vec<PoolOrigin> = (0..MAX_LEARNED as u32 - 2).map(|n| old(100 + n)).collect();
    assert_eq!(f.learn(&many).1, 0);
    assert_eq!(f.len(), 3 + MAX_LEARNED);
    f.start(3); // old0, the oldest, is busy: old1 (the next oldest) goes
    let (newer, left_out) = f.learn(&[old(999)]);
    assert_eq!((newer.as_slice(), left_out), (&[4][..], 0));
    assert_eq!(f.url(4).as_deref(), Some("http://old999.test"));
    assert!(!f.is_ejected(4, 11), "a fresh state for the newcomer");
    for i in 3..f.len() {
        f.start(i);
    }
    assert_eq!(f.learn(&[old(1000)]), (vec![], 1), "all busy: left out");
    assert_eq!(f.len(), 3 + MAX_LEARNED);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn dead_deploy_origins_never_use_up_the_current_pools_ejection_allowance() {
    let f = fleet(&[1, 1]);
    let (learned, _) = f.learn(&[PoolOrigin { url: "http://old.test".into(), weight: 1 }]);
    let fail = |i: usize| {
        for _ in 0..EJECT_AFTER {
            f.start(i);
            f.finish(i, Attempt::Failed, 10);
        }
    };
    fail(learned[0]);
    assert!(f.is_ejected(learned[0], 11), "a learned origin may always be ejected");
    fail(0);
    assert!(f.is_ejected(0, 11), "one of ORIGINS' two may still go");
    fail(1);
    assert!(!f.is_ejected(1, 11), "but not both");
    // A request that never finishes (the client went away) stops counting.
    f.start(1);
    f.abandon(1);
    assert_eq!(f.order(None, 11, 0, &[])[0], 1);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn an_origin_failing_its_health_check_comes_after_the_healthy_while_the_report_is_current() {
    let f = fleet(&[1, 1, 1]);
    let results = vec![
        ("http://o0.test".to_owned(), Ok(())),
        ("http://o1.test".to_owned(), judge(503)),
        ("http://o2.test".to_owned(), Ok(())),
    ];
    let (report, write) = HealthReport::after_checks(None, results.clone(), 1000);
    assert!(write, "a first report is written");
    assert_eq!(
        report.failing("http://o1.test"),
        Some(&Failing { since: 1000, why: "status 503".into() })
    );
    f.apply_health(&HealthReport::parse(&report.to_text()).unwrap(), 1001);
    assert!(f.is_failing(1, 1001) && !f.is_ejected(1, 1001));
    for n in 0..300 {
        assert_eq!(f.order(Some(&sid(n)), 1001, n.into(), &[]).last(), Some(&1));
    }
    // The same result a minute later: not written again, `since` kept.
    let (again, write) = HealthReport::after_checks(Some(&report), results.clone(), 1060);
    assert!(!write);
    assert_eq!(
        (again.checked_at, again.failing("http://o1.test").map(|f| f.since)),
        (1000, Some(1000))
    );
    // Due for a rewrite, or changed: written.
    assert!(HealthReport::after_checks(Some(&report), results, 1000 + health::HEALTH_REWRITE).1);
    let healed = vec![("http://o1.test".to_owned(), Ok(()))];
    let (healed, write) = HealthReport::after_checks(Some(&report), healed, 1060);
    assert!(write && healed.failing.is_empty());
    // A report nobody refreshed stops counting.
    f.apply_health(&report, 1000 + health::HEALTH_MAX_AGE);
    assert!(!f.is_failing(1, 1000 + health::HEALTH_MAX_AGE));
    assert!(judge(200).is_ok() && judge(204).is_ok() && judge(301).is_err());
    assert_eq!(HealthReport::parse(&again.to_text()).unwrap(), again, "the text round-trips");
    for bad in [&b"{}"[..], b"checked_at x", b"checked_at 1\nfailing http://a", b"\xff"] {
        assert!(HealthReport::parse(bad).unwrap_err().contains("`pool-health` is malformed"));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn an_answer_from_a_drained_origin_keeps_it_drained_and_its_slow_start() {
    // An in-flight request answered by a drained origin once reset all its state,
    // drained flag included, until the next pool read: new requests reached it.
    let f = fleet(&[1, 1]);
    let mut state = PoolState::default();
    state.drain("http://o0.test", 10);
    f.apply(&state);
    f.start(0);
    f.finish(0, Attempt::Answered, 11);
    assert!(f.is_drained(0));
    assert_eq!(f.order(None, 11, 0, &[]), [1, 0]);
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the weights, the failures and the time: every origin is listed
        /// once, and an ejected one never comes before a healthy one.
        #[test]
        fn ejected_origins_come_after_every_healthy_one(
            weights in proptest::collection::vec(1u32..=100, 1..8),
            mut failures in proptest::collection::vec((0usize..8, 0u64..200), 0..60),
            later in 0u64..100,
            sid in proptest::option::of("[a-z0-9]{1,22}"),
            random in any::<u64>(),
        ) {
            let f = fleet(&weights);
            // An isolate's clock runs forwards.
            failures.sort_by_key(|(_, at)| *at);
            let now = failures.last().map_or(0, |(_, at)| *at) + later;
            for (i, at) in failures {
                let i = i % weights.len();
                f.start(i);
                f.finish(i, Attempt::Failed, at);
            }
            let order = f.order(sid.as_deref(), now, random, &[]);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..weights.len()).collect::<Vec<_>>());
            let c = f.counters.borrow();
            let out = |i: &usize| c.states[*i].ejected_until > now;
            let first_out = order.iter().position(out).unwrap_or(order.len());
            prop_assert!(order[first_out..].iter().all(out), "{:?}", order);
            prop_assert!(c.states.iter().filter(|s| s.ejected_until > now).count() * 2 <= weights.len());
        }
    }
}
