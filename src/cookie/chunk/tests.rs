//! Tests of writing (chunking, expiring stale cookies) and of the full round trip
//! `encode` → browser → `SessionCookies::from_header` → `reassemble`.

use super::*;
use crate::cookie::{cookie_header_limit, ChunkError, SameSite, MAX_CHUNKS};
use std::collections::BTreeMap;

/// A browser's cookie jar for one host and path, enough to apply `Set-Cookie` lines
/// and produce the `Cookie` header (in name order, which is as good as any).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn apply(&mut self, lines: &[SetCookie]) {
        for l in lines {
            assert!(l.as_str().len() <= MAX_SET_COOKIE_LEN, "line of {} bytes", l.as_str().len());
            let (pair, _) = l.as_str().split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(name, l.name());
            if l.is_removal() {
                assert_eq!(value, "", "removal lines carry no value");
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn present(&self, opts: &CookieOptions) -> SessionCookies {
        SessionCookies::from_header(opts, Some(&self.header()))
    }
}

fn opts() -> CookieOptions {
    CookieOptions::default()
}

/// A sealed-looking value of `len` bytes.
fn sealed(len: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    (0..len).map(|i| char::from(alphabet[(i * 7 + i / 13) % alphabet.len()])).collect()
}

/// Writes `value` into a fresh jar and reads it back.
fn round_trip(opts: &CookieOptions, value: &str) -> (Vec<SetCookie>, Jar) {
    let lines = encode(opts, value, 3600, &SessionCookies::default()).unwrap();
    let mut jar = Jar::default();
    jar.apply(&lines);
    let read = jar.present(opts);
    assert_eq!(read.reassemble(), Ok(Some(value.to_owned())), "len {}", value.len());
    (lines, jar)
}

/// The sealed-value capacity of `opts`, read from the `TooLarge` error.
fn cap_of(opts: &CookieOptions) -> usize {
    match encode(opts, &sealed(MAX_CHUNKS * 4096 + 1), 3600, &SessionCookies::default()) {
        Err(CookieError::TooLarge { cap, .. }) => cap,
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// Largest value that fits one cookie with default options and Max-Age=3600.
fn single_max() -> usize {
    let attrs = "; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax";
    MAX_SET_COOKIE_LEN - "__Host-session=".len() - attrs.len()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn sizes_zero_and_one_are_single_cookies() {
    for len in [0, 1] {
        let (lines, jar) = round_trip(&opts(), &sealed(len));
        assert_eq!(lines.len(), 1);
        assert_eq!(jar.names(), ["__Host-session"]);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn single_cookie_boundary_is_the_whole_line() {
    let (lines, _) = round_trip(&opts(), &sealed(single_max()));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].as_str().len(), MAX_SET_COOKIE_LEN, "exactly at the budget");
    let (lines, jar) = round_trip(&opts(), &sealed(single_max() + 1));
    assert_eq!(lines.len(), 2);
    assert_eq!(jar.names(), ["__Host-session.0", "__Host-session.1"]);
    assert!(lines[0].as_str().starts_with("__Host-session.0=2~"));
    // Max-Age digits count against the budget too.
    let long_age = encode(&opts(), &sealed(single_max()), 31_536_000, &SessionCookies::default());
    assert_eq!(long_age.unwrap().len(), 2);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn twelve_kilobytes_takes_four_full_lines_or_fewer() {
    let (lines, jar) = round_trip(&opts(), &sealed(12 * 1024));
    assert_eq!(lines.len(), 4);
    assert_eq!(jar.names().len(), 4);
    for l in &lines[..3] {
        assert_eq!(l.as_str().len(), MAX_SET_COOKIE_LEN, "greedy: full but the last");
        assert!(l.as_str().ends_with("; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax"));
    }
    let (lines, _) = round_trip(&opts(), &sealed(12_000));
    assert_eq!(lines.len(), 3);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn at_the_cap_fits_and_one_more_byte_is_too_large() {
    let o = opts();
    let cap = cap_of(&o);
    // 4 lines of 4096 minus name `__Host-session.i=` (17), attributes (54), head `4~hhhhhhhh~` (11).
    assert_eq!(cap, 4 * (4096 - 17 - 54) - 11);
    let (lines, jar) = round_trip(&o, &sealed(cap));
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l.as_str().len() == MAX_SET_COOKIE_LEN));
    assert!(jar.header().len() <= cookie_header_limit(&o), "the session we write is readable");
    let e = encode(&o, &sealed(cap + 1), 3600, &SessionCookies::default()).unwrap_err();
    assert_eq!(e, CookieError::TooLarge { size: cap + 1, cap, max_chunks: 4 });
    assert_eq!(
        e.to_string(),
        format!(
            "session is {} bytes sealed; at most 4 cookies of 4096 bytes (about {cap} bytes) \
             are allowed (COOKIE_MAX_CHUNKS)",
            cap + 1
        )
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn max_chunks_one_and_sixteen() {
    let one = CookieOptions { max_chunks: 1, ..opts() };
    assert_eq!(cap_of(&one), single_max());
    round_trip(&one, &sealed(single_max()));
    assert!(matches!(
        encode(&one, &sealed(single_max() + 1), 3600, &SessionCookies::default()),
        Err(CookieError::TooLarge { max_chunks: 1, .. })
    ));
    let sixteen = CookieOptions { max_chunks: 16, ..opts() };
    let cap = cap_of(&sixteen);
    let (lines, jar) = round_trip(&sixteen, &sealed(cap));
    assert_eq!(lines.len(), 16);
    assert!(lines[0].as_str().starts_with("__Host-session.0=16~"), "two-digit count");
    assert!(jar.names().contains(&"__Host-session.15"));
    assert!(jar.header().len() <= cookie_header_limit(&sixteen));
    let (lines, _) = round_trip(&sixteen, &sealed(10 * 4000));
    assert_eq!(lines.len(), 10);
    assert!(lines[0].as_str().starts_with("__Host-session.0=10~"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn values_with_tilde_and_other_cookie_octets_round_trip() {
    let odd = "~~3~00000000~!#$%&'()*+-./:<=>?@[]^_`{|}~".repeat(200);
    round_trip(&opts(), &odd);
    round_trip(&opts(), "~");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn encode_refuses_values_outside_cookie_octet() {
    let none = SessionCookies::default();
    for (value, offset) in [
        ("v1.k.x\r\nSet-Cookie: evil=1", 6),
        ("v1.k.x\n", 6),
        ("v1;x", 2),
        ("v1 x", 2),
        ("v1,x", 2),
        ("\"v1\"", 0),
        ("v1\\", 2),
        ("v1\u{0}", 2),
        ("v1.é", 3),
    ] {
        let e = encode(&opts(), value, 60, &none).unwrap_err();
        assert!(
            matches!(e, CookieError::InvalidValue { offset: o, .. } if o == offset),
            "{value:?}: {e:?}"
        );
        assert!(!e.to_string().contains("v1"), "no value in the message: {e}");
    }
    // Also deep inside a value that would be chunked.
    let mut big = sealed(9000);
    big.push('\n');
    assert!(matches!(
        encode(&opts(), &big, 60, &none),
        Err(CookieError::InvalidValue { offset: 9000, .. })
    ));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn encode_refuses_invalid_options() {
    let none = SessionCookies::default();
    let bad = CookieOptions { secure: false, ..opts() };
    assert!(matches!(encode(&bad, "v", 60, &none), Err(CookieError::PrefixRequiresSecure { .. })));
    let bad = CookieOptions { max_chunks: 0, ..opts() };
    assert!(matches!(encode(&bad, "v", 60, &none), Err(CookieError::MaxChunksOutOfRange { .. })));
    assert!(clear(&bad, &opts_present("__Host-session=x")).is_empty(), "never malformed lines");
}

fn opts_present(header: &str) -> SessionCookies {
    SessionCookies::from_header(&opts(), Some(header))
}

/// Writes `old`, then `new` with what the browser sends back as `present`.
fn rewrite(o: &CookieOptions, old: usize, new: usize) -> (Vec<SetCookie>, Jar) {
    let (_, mut jar) = round_trip(o, &sealed(old));
    let new_value = sealed(new).to_ascii_lowercase();
    let lines = encode(o, &new_value, 3600, &jar.present(o)).unwrap();
    jar.apply(&lines);
    assert_eq!(jar.present(o).reassemble(), Ok(Some(new_value)));
    (lines, jar)
}

fn removed(lines: &[SetCookie]) -> Vec<&str> {
    lines.iter().filter(|l| l.is_removal()).map(SetCookie::name).collect()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn shrinking_and_growing_expire_exactly_the_stale_cookies() {
    let o = opts();
    // 3 chunks → single: all three chunk names expire.
    let (lines, jar) = rewrite(&o, 10_000, 100);
    assert_eq!(removed(&lines), ["__Host-session.0", "__Host-session.1", "__Host-session.2"]);
    assert_eq!(jar.names(), ["__Host-session"]);
    // 3 chunks → 2: only .2 expires.
    let (lines, jar) = rewrite(&o, 10_000, 5_000);
    assert_eq!(removed(&lines), ["__Host-session.2"]);
    assert_eq!(jar.names(), ["__Host-session.0", "__Host-session.1"]);
    // single → chunked: the unchunked name expires.
    let (lines, jar) = rewrite(&o, 100, 10_000);
    assert_eq!(removed(&lines), ["__Host-session"]);
    assert_eq!(jar.names().len(), 3);
    // same shape: nothing expires.
    let (lines, _) = rewrite(&o, 100, 200);
    assert_eq!(removed(&lines), Vec::<&str>::new());
    let (lines, _) = rewrite(&o, 9_000, 10_000);
    assert_eq!(removed(&lines), Vec::<&str>::new());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn stray_and_broken_leftovers_are_expired_on_write() {
    let present = opts_present(
        "a=1; __Host-session.0=junk; __Host-session.7=x; __Host-session.99=y; \
         __Host-session.01=z; other.0=keep",
    );
    let lines = encode(&opts(), "v1.k.x", 60, &present).unwrap();
    assert_eq!(lines[0].name(), "__Host-session");
    assert_eq!(
        removed(&lines),
        ["__Host-session.0", "__Host-session.7", "__Host-session.99", "__Host-session.01"]
    );
    // Names recorded under other options are not ours to expire.
    let foreign = SessionCookies::from_header(
        &CookieOptions { name: "other".into(), ..opts() },
        Some("other=1; other.1=2"),
    );
    assert_eq!(encode(&opts(), "v", 60, &foreign).unwrap().len(), 1);
    assert!(clear(&opts(), &foreign).is_empty());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn removal_lines_keep_path_domain_and_flags() {
    let o = CookieOptions {
        name: "__Secure-sess".into(),
        path: "/app".into(),
        domain: Some("example.com".into()),
        same_site: SameSite::Strict,
        http_only: false,
        ..opts()
    };
    let present = SessionCookies::from_header(&o, Some("__Secure-sess.0=a; __Secure-sess.1=b"));
    let lines = clear(&o, &present);
    assert_eq!(
        lines.iter().map(SetCookie::as_str).collect::<Vec<_>>(),
        [
            "__Secure-sess.0=; Max-Age=0; Path=/app; Domain=example.com; Secure; SameSite=Strict",
            "__Secure-sess.1=; Max-Age=0; Path=/app; Domain=example.com; Secure; SameSite=Strict",
        ]
    );
    let written = encode(&o, "v1.k.x", 60, &present).unwrap();
    assert_eq!(
        written[0].as_str(),
        "__Secure-sess=v1.k.x; Max-Age=60; Path=/app; Domain=example.com; Secure; SameSite=Strict"
    );
    assert_eq!(removed(&written), ["__Secure-sess.0", "__Secure-sess.1"]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn clear_expires_everything_present_and_nothing_else() {
    assert!(clear(&opts(), &SessionCookies::default()).is_empty());
    assert!(clear(&opts(), &opts_present("a=1; b=2")).is_empty());
    let (_, mut jar) = round_trip(&opts(), &sealed(10_000));
    let lines = clear(&opts(), &jar.present(&opts()));
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(SetCookie::is_removal));
    jar.apply(&lines);
    assert!(jar.names().is_empty());
    // Oversize headers still let us expire the names we saw.
    let big = format!("__Host-session.0=x; p={}; __Host-session.1=y", "x".repeat(70_000));
    let present = opts_present(&big);
    assert!(matches!(present.reassemble(), Err(ChunkError::OversizeHeader { .. })));
    assert_eq!(removed(&clear(&opts(), &present)), ["__Host-session.0", "__Host-session.1"]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn chunks_from_two_writes_never_mix() {
    let o = opts();
    let (a_lines, _) = round_trip(&o, &sealed(10_000));
    let b_value = sealed(10_000).to_ascii_lowercase();
    let (b_lines, _) = round_trip(&o, &b_value);
    let mut jar = Jar::default();
    jar.apply(&a_lines);
    jar.apply(&b_lines[1..2]); // a racing response's chunk 1 lands
    assert_eq!(jar.present(&o).reassemble(), Err(ChunkError::Checksum { count: 3 }));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn long_names_and_attributes_shrink_capacity_but_lines_stay_in_budget() {
    let o = CookieOptions {
        name: "n".repeat(64),
        secure: true,
        path: format!("/{}", "p".repeat(1023)),
        domain: Some(["d".repeat(63), "e".repeat(63), "f".repeat(63), "g".repeat(61)].join(".")),
        same_site: SameSite::None,
        max_chunks: 16,
        ..opts()
    };
    assert_eq!(o.validate(), Ok(()));
    let cap = cap_of(&o);
    assert!(cap > 16 * 2500, "cap {cap}");
    let (lines, _) = round_trip(&o, &sealed(cap));
    assert_eq!(lines.len(), 16);
    assert!(lines.iter().all(|l| l.as_str().len() <= MAX_SET_COOKIE_LEN));
    let long_age = encode(&o, &sealed(1), u64::MAX, &SessionCookies::default()).unwrap();
    assert!(long_age[0].as_str().contains("Max-Age=18446744073709551615"));
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use crate::cookie::{parse_cookie_header, strip};
    use proptest::prelude::prop;
    use proptest::prelude::*;

    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

    fn options() -> impl Strategy<Value = CookieOptions> {
        (1usize..=16, 0usize..200, prop::bool::ANY, "[a-z]{1,20}").prop_map(
            |(max_chunks, path_len, host, name)| {
                let mut o = CookieOptions { max_chunks, ..CookieOptions::default() };
                if !host {
                    o.name = format!("__Secure-{name}");
                    o.path = format!("/{}", "p".repeat(path_len));
                    o.domain = Some("example.com".into());
                }
                o
            },
        )
    }

    /// Options plus a value from 0 to a little over their capacity.
    fn options_and_value() -> impl Strategy<Value = (CookieOptions, String, usize)> {
        options().prop_flat_map(|o| {
            let cap = cap_of(&o);
            let value = prop::collection::vec(prop::sample::select(ALPHABET), 0..=cap + 20)
                .prop_map(|bytes| String::from_utf8(bytes).unwrap());
            (Just(o), value, Just(cap))
        })
    }

    /// Headers built from session-like and other pairs with odd separators.
    fn cookie_header() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("s".to_owned()),
            (0usize..20).prop_map(|i| format!("s.{i}")),
            Just("s.01".to_owned()),
            Just(" s ".to_owned()),
            Just("x".to_owned()),
            "[ -~]{0,6}",
        ];
        let value = prop_oneof![
            "[ -~]{0,12}",
            (0usize..20, "[0-9a-f]{8}", "[A-Za-z]{0,5}")
                .prop_map(|(n, h, v)| format!("{n}~{h}~{v}")),
            Just("\"q\"".to_owned()),
        ];
        let sep = prop_oneof![Just(";"), Just("; "), Just(" ;"), Just(";;"), Just("")];
        prop::collection::vec((name, value, sep), 0..40).prop_map(|pairs| {
            pairs.into_iter().map(|(n, v, s)| format!("{n}={v}{s}")).collect::<String>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn encode_then_read_round_trips((o, value, cap) in options_and_value()) {
            let result = encode(&o, &value, 3600, &SessionCookies::default());
            if value.len() > cap {
                prop_assert!(
                    matches!(result, Err(CookieError::TooLarge { .. })),
                    "expected TooLarge"
                );
            } else {
                let lines = result.unwrap();
                prop_assert!(lines.len() <= o.max_chunks);
                let mut jar = Jar::default();
                jar.apply(&lines);
                prop_assert!(jar.header().len() <= cookie_header_limit(&o));
                prop_assert_eq!(jar.present(&o).reassemble(), Ok(Some(value)));
            }
        }

        #[test]
        fn rewriting_leaves_exactly_the_new_cookies(
            (o, old, cap) in options_and_value(),
            frac in 0.0f64..=1.0,
        ) {
            prop_assume!(old.len() <= cap);
            let new_len = ((cap as f64) * frac) as usize;
            let mut jar = Jar::default();
            jar.apply(&encode(&o, &old, 60, &SessionCookies::default()).unwrap());
            let new = sealed(new_len);
            let lines = encode(&o, &new, 60, &jar.present(&o)).unwrap();
            jar.apply(&lines);
            let mut fresh = Jar::default();
            fresh.apply(&encode(&o, &new, 60, &SessionCookies::default()).unwrap());
            prop_assert_eq!(jar.names(), fresh.names());
            prop_assert_eq!(jar.present(&o).reassemble(), Ok(Some(new)));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_headers_never_panic(header in any::<String>()) {
            let o = CookieOptions { name: "s".into(), ..CookieOptions::default() };
            let got = SessionCookies::from_header(&o, Some(&header));
            let _ = got.reassemble();
            let _ = clear(&o, &got);
            let _ = strip(&header, &o);
            let _ = parse_cookie_header(&header).count();
        }

        #[test]
        fn structured_headers_never_panic_and_strip_is_complete(header in cookie_header()) {
            let o = CookieOptions { name: "s".into(), ..CookieOptions::default() };
            let got = SessionCookies::from_header(&o, Some(&header));
            prop_assert!(got.names().count() <= crate::cookie::MAX_RECORDED_NAMES);
            if let Ok(Some(_)) = got.reassemble() {
                let names: Vec<_> = got.names().collect();
                prop_assert!(names.contains(&"s") != names.contains(&"s.0"), "one form only");
            }
            for line in clear(&o, &got) {
                prop_assert!(line.is_removal());
                prop_assert!(crate::cookie::is_session_cookie_name(&o, line.name()));
            }
            if let Some(rest) = strip(&header, &o) {
                for (name, _) in parse_cookie_header(&rest) {
                    prop_assert!(!crate::cookie::is_session_cookie_name(&o, name), "{name}");
                }
                let kept = parse_cookie_header(&rest).count();
                let others = parse_cookie_header(&header)
                    .filter(|(n, _)| !crate::cookie::is_session_cookie_name(&o, n))
                    .count();
                prop_assert_eq!(kept, others);
            }
        }
    }
}
