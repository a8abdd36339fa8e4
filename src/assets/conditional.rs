//! Conditional and range requests (RFC 9110 §13 and §14), reduced to what a
//! static file server needs.
//!
//! - `If-None-Match` uses the weak comparison (§13.1.2): `W/"x"` matches `"x"`;
//!   `*` matches any existing file. It is evaluated before `Range`.
//! - `Range` is honoured for `GET` only, and only as one `bytes` range. Several
//!   ranges are answered with the whole file (200): §14.2 lets a server ignore
//!   `Range`, and `multipart/byteranges` is not worth its weight here. A
//!   malformed header, another unit, or `last < first` is ignored (200). A single
//!   well-formed range that starts at or past the end, or a zero suffix, is 416.
//! - `If-Range` (§13.1.5) must equal the strong ETag exactly; a date or another
//!   tag means "send the whole file".

/// What to send for a `Range` header, given the file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable range: the whole file, 200.
    Full,
    /// Bytes `start..=end`, 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// True when `If-None-Match` (the raw header) matches `etag` (quoted).
pub fn none_match(header: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

fn digits(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturate: a position beyond u64 is beyond any file.
    Some(t.bytes().fold(0u64, |acc, b| acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

/// Interprets a `Range` header for a file of `size` bytes; `if_range` is the raw
/// `If-Range` header, `etag` the file's strong ETag.
pub fn range(header: Option<&str>, if_range: Option<&str>, etag: &str, size: u64) -> RangeAnswer {
    let Some(header) = header else { return RangeAnswer::Full };
    if if_range.is_some_and(|v| v.trim() != etag) {
        return RangeAnswer::Full;
    }
    let header = header.trim();
    let Some(spec) =
        header.get(..6).filter(|u| u.eq_ignore_ascii_case("bytes=")).and_then(|_| header.get(6..))
    else {
        return RangeAnswer::Full;
    };
    let mut parts = spec.split(',').map(str::trim).filter(|p| !p.is_empty());
    let (Some(one), None) = (parts.next(), parts.next()) else { return RangeAnswer::Full };
    let Some((first, last)) = one.split_once('-') else { return RangeAnswer::Full };
    match (first.trim().is_empty(), digits(first), digits(last)) {
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial { start: size - suffix.min(size), end: size - 1 }
            }
        }
        (false, Some(start), last_pos) => {
            if last.trim().is_empty() || last_pos.is_some_and(|l| l >= start) {
                if start >= size {
                    return RangeAnswer::Unsatisfiable;
                }
                let end = last_pos.map_or(size - 1, |l| l.min(size - 1));
                RangeAnswer::Partial { start, end }
            } else {
                RangeAnswer::Full
            }
        }
        _ => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "\"abc\"";

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn if_none_match_uses_weak_comparison() {
        assert!(none_match("\"abc\"", E));
        assert!(none_match("W/\"abc\"", E));
        assert!(none_match("\"x\", \"abc\"", E));
        assert!(none_match("*", E));
        assert!(!none_match("\"abcd\"", E));
        assert!(!none_match("abc", E));
        assert!(!none_match("", E));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn ranges() {
        use RangeAnswer::*;
        let p = |start, end| Partial { start, end };
        let cases: &[(Option<&str>, u64, RangeAnswer)] = &[
            (None, 10, Full),
            (Some("bytes=0-4"), 10, p(0, 4)),
            (Some("bytes=5-"), 10, p(5, 9)),
            (Some("bytes=-3"), 10, p(7, 9)),
            (Some("bytes=-30"), 10, p(0, 9)),
            (Some("bytes=2-200"), 10, p(2, 9)),
            (Some("BYTES= 1-1 "), 10, p(1, 1)),
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=10-20"), 10, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            (Some("bytes=0-"), 0, Unsatisfiable),
            (Some("bytes=-5"), 0, Unsatisfiable),
            (Some("bytes=99999999999999999999999-"), 10, Unsatisfiable),
            (Some("bytes=0-99999999999999999999999"), 10, p(0, 9)),
            (Some("bytes=0-1,3-4"), 10, Full),
            (Some("bytes=20-30,40-50"), 10, Full),
            (Some("bytes=5-2"), 10, Full),
            (Some("bytes=a-b"), 10, Full),
            (Some("bytes=-"), 10, Full),
            (Some("bytes=1"), 10, Full),
            (Some("items=0-1"), 10, Full),
            (Some("bytes="), 10, Full),
            (Some("bytes=+1-2"), 10, Full),
            (Some("bytés=0-1"), 10, Full),
        ];
        for (h, size, want) in cases {
            assert_eq!(range(*h, None, E, *size), *want, "{h:?} size {size}");
        }
        assert_eq!(range(Some("bytes=0-1"), Some(E), E, 10), p(0, 1));
        assert_eq!(range(Some("bytes=0-1"), Some("W/\"abc\""), E, 10), Full);
        assert_eq!(range(Some("bytes=0-1"), Some("Wed, 21 Oct 2015 07:28:00 GMT"), E, 10), Full);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranges_stay_inside_the_file(h in "(bytes|BYTES|x)=[0-9, -]{0,24}", size in 0u64..5_000) {
            match range(Some(&h), None, "\"e\"", size) {
                RangeAnswer::Partial { start, end } => prop_assert!(start <= end && end < size),
                RangeAnswer::Unsatisfiable | RangeAnswer::Full => {}
            }
        }
    }
}
