//! Collecting the session cookies a request carried and putting a chunked value back
//! together, all-or-nothing.
//!
//! Bounds: a header longer than [`cookie_header_limit`] is scanned for names only (so
//! the cookies can still be expired) and yields [`ChunkError::OversizeHeader`]; at
//! most [`MAX_RECORDED_NAMES`] distinct names are kept; values are kept only for the
//! unchunked name and chunks `0..MAX_CHUNKS`, once each. Everything is linear in the
//! header length.
//!
//! Duplicates: browsers send one cookie per (name, domain, path), so the same name can
//! come twice, e.g. after a Domain or Path change or when a sibling subdomain plants a
//! cookie (possible without `__Host-`). Picking "the first" would let a planted cookie
//! with a longer Path win (RFC 6265 §5.4 step 2 sorts longer paths first): session
//! fixation. So a duplicated session cookie name is an error ([`ChunkError::Duplicate`]).

use super::chunk::fnv1a32;
use super::parse::{classify, parse_cookie_header, NameKind};
use super::{
    ChunkError, CookieOptions, MAX_CHUNKS, MAX_COOKIE_HEADER, MAX_RECORDED_NAMES,
    MAX_SET_COOKIE_LEN,
};

/// The longest request `Cookie` header read for session values with `opts`:
/// [`MAX_COOKIE_HEADER`] (16 KiB), plus 4096 bytes for every allowed chunk beyond 4,
/// so a session as large as `opts.max_chunks` allows is always readable.
pub fn cookie_header_limit(opts: &CookieOptions) -> usize {
    let extra = opts.max_chunks.min(MAX_CHUNKS).saturating_sub(4);
    MAX_COOKIE_HEADER + extra * MAX_SET_COOKIE_LEN
}

/// The session cookies (unchunked name, chunk names, stray chunk-like names) one
/// request carried, with their values. `Debug` shows names and value lengths only.
///
/// `Default` is "the request carried none".
#[derive(Clone, Default)]
pub struct SessionCookies {
    /// Distinct session cookie names, in header order, at most `MAX_RECORDED_NAMES`.
    names: Vec<String>,
    /// Value of the unchunked cookie.
    base: Option<String>,
    /// `(index, value)` of chunk cookies with canonical index `< MAX_CHUNKS`.
    chunks: Vec<(usize, String)>,
    /// The first duplicated name: `None` for the unchunked one, `Some(i)` for chunk i.
    duplicate: Option<Option<usize>>,
    /// `(len, limit)` when the header was too long to read values from.
    oversize: Option<(usize, usize)>,
}

impl std::fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookies")
            .field("names", &self.names)
            .field("base_len", &self.base.as_ref().map(String::len))
            .field("chunk_lens", &self.chunks.iter().map(|(i, v)| (i, v.len())).collect::<Vec<_>>())
            .field("duplicate", &self.duplicate)
            .field("oversize", &self.oversize)
            .finish()
    }
}

impl SessionCookies {
    /// Collects the session cookies of a request `Cookie` header (`None`: no header).
    ///
    /// Never fails: problems are remembered and reported by
    /// [`reassemble`](Self::reassemble). A header longer than
    /// [`cookie_header_limit`] is only scanned for names (to expire them).
    ///
    /// # Example
    /// ```
    /// use edge_session::cookie::{CookieOptions, SessionCookies};
    /// let opts = CookieOptions::default();
    /// let got = SessionCookies::from_header(&opts, Some("a=1; __Host-session=v1.k.x"));
    /// assert_eq!(got.names().collect::<Vec<_>>(), ["__Host-session"]);
    /// assert_eq!(got.reassemble(), Ok(Some("v1.k.x".to_owned())));
    /// ```
    pub fn from_header(opts: &CookieOptions, header: Option<&str>) -> SessionCookies {
        let mut out = SessionCookies::default();
        let Some(header) = header else {
            return out;
        };
        let limit = cookie_header_limit(opts);
        if header.len() > limit {
            out.oversize = Some((header.len(), limit));
        }
        for (name, value) in parse_cookie_header(header) {
            let Some(kind) = classify(&opts.name, name) else {
                continue;
            };
            out.record_name(name);
            if out.oversize.is_some() {
                continue;
            }
            match kind {
                NameKind::Base if out.base.is_some() => out.note_duplicate(None),
                NameKind::Base => out.base = Some(value.to_owned()),
                NameKind::Chunk(i) if out.chunks.iter().any(|(j, _)| *j == i) => {
                    out.note_duplicate(Some(i));
                }
                NameKind::Chunk(i) => out.chunks.push((i, value.to_owned())),
                NameKind::Stray => {}
            }
        }
        out
    }

    fn record_name(&mut self, name: &str) {
        if self.names.len() < MAX_RECORDED_NAMES && !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_owned());
        }
    }

    fn note_duplicate(&mut self, which: Option<usize>) {
        if self.duplicate.is_none() {
            self.duplicate = Some(which);
        }
    }

    /// Whether the request carried no session cookie of any kind (an oversize header
    /// with no session cookie name in it counts as empty).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The distinct session cookie names carried, in header order (at most
    /// [`MAX_RECORDED_NAMES`]).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The sealed value the cookies carry.
    ///
    /// `Ok(None)` when there is no session cookie; stray chunk-like names that this
    /// crate never writes (`<name>.07`, `<name>.99`) are ignored here (but listed by
    /// [`names`](Self::names) so they get expired).
    ///
    /// # Errors
    /// A [`ChunkError`] when the header was oversize, a session cookie name came twice,
    /// both forms came, or the chunks are incomplete, surplus or from different writes.
    pub fn reassemble(&self) -> Result<Option<String>, ChunkError> {
        if let Some((len, limit)) = self.oversize {
            return Err(ChunkError::OversizeHeader { len, limit });
        }
        if let Some(chunk) = self.duplicate {
            return Err(ChunkError::Duplicate { chunk });
        }
        match (&self.base, self.chunks.is_empty()) {
            (Some(_), false) => Err(ChunkError::Mixed { chunks: self.chunks.len() }),
            (Some(base), true) => Ok(Some(base.clone())),
            (None, true) => Ok(None),
            (None, false) => self.join().map(Some),
        }
    }

    fn chunk(&self, index: usize) -> Option<&str> {
        self.chunks.iter().find(|(i, _)| *i == index).map(|(_, v)| v.as_str())
    }

    fn join(&self) -> Result<String, ChunkError> {
        let first = self.chunk(0).ok_or(ChunkError::FirstMissing { present: self.chunks.len() })?;
        let (count, sum, first_part) = parse_head(first)?;
        if !(2..=MAX_CHUNKS).contains(&count) {
            return Err(ChunkError::BadCount { count });
        }
        let mut value = String::with_capacity(first_part.len().saturating_mul(count));
        value.push_str(first_part);
        for index in 1..count {
            let part = self.chunk(index).ok_or(ChunkError::Missing { index, count })?;
            value.push_str(part);
        }
        if let Some(index) = self.chunks.iter().map(|(i, _)| *i).filter(|&i| i >= count).min() {
            return Err(ChunkError::Extra { index, count });
        }
        if fnv1a32(value.as_bytes()) != sum {
            return Err(ChunkError::Checksum { count });
        }
        Ok(value)
    }
}

/// Splits chunk 0 into `(count, checksum, first piece)`: `<count>~<hex8>~<piece>`,
/// count as 1 or 2 decimal digits without leading zero, checksum lowercase hex.
fn parse_head(first: &str) -> Result<(usize, u32, &str), ChunkError> {
    let (count, rest) = first.split_once('~').ok_or(ChunkError::BadHeader)?;
    let (sum, piece) = rest.split_once('~').ok_or(ChunkError::BadHeader)?;
    let count_ok = matches!(count.len(), 1 | 2)
        && count.bytes().all(|b| b.is_ascii_digit())
        && !(count.len() == 2 && count.starts_with('0'));
    let sum_ok = sum.len() == 8 && sum.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !count_ok || !sum_ok {
        return Err(ChunkError::BadHeader);
    }
    let count = count.parse().map_err(|_| ChunkError::BadHeader)?;
    let sum = u32::from_str_radix(sum, 16).map_err(|_| ChunkError::BadHeader)?;
    Ok((count, sum, piece))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CookieOptions {
        CookieOptions { name: "s".into(), ..CookieOptions::default() }
    }

    fn read(header: &str) -> SessionCookies {
        SessionCookies::from_header(&opts(), Some(header))
    }

    /// Chunk 0's header for `value` split into `n` pieces.
    fn head(n: usize, value: &str) -> String {
        format!("{n}~{:08x}~", fnv1a32(value.as_bytes()))
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn no_header_no_cookies() {
        let none = SessionCookies::from_header(&opts(), None);
        assert!(none.is_empty());
        assert_eq!(none.reassemble(), Ok(None));
        for header in ["", ";;", "a=1; b=2", "S=1; s.x=2; s.=3; ss=4; s", "=s"] {
            let got = read(header);
            assert!(got.is_empty(), "{header:?}");
            assert_eq!(got.reassemble(), Ok(None), "{header:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn single_and_quoted_and_empty() {
        assert_eq!(read("a=1; s=v1.k.x; b=2").reassemble(), Ok(Some("v1.k.x".into())));
        assert_eq!(read("s=\"v1.k.x\"").reassemble(), Ok(Some("v1.k.x".into())));
        assert_eq!(read("s=").reassemble(), Ok(Some(String::new())));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn chunks_in_any_header_order() {
        let value = "AAAABBBBCC";
        let h = head(3, value);
        let expect = Ok(Some(value.to_owned()));
        assert_eq!(read(&format!("s.0={h}AAAA; s.1=BBBB; s.2=CC")).reassemble(), expect);
        assert_eq!(read(&format!("s.2=CC; x=1; s.0={h}AAAA; s.1=BBBB")).reassemble(), expect);
        let got = read(&format!("s.2=CC; s.0={h}AAAA; s.1=BBBB"));
        assert_eq!(got.names().collect::<Vec<_>>(), ["s.2", "s.0", "s.1"]);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn missing_extra_mixed_and_swapped_chunks_are_refused() {
        let value = "AAAABBBBCC";
        let h = head(3, value);
        let err = |header: String| read(&header).reassemble().unwrap_err();
        assert_eq!(err(format!("s.0={h}AAAA; s.2=CC")), ChunkError::Missing { index: 1, count: 3 });
        assert_eq!(
            err(format!("s.0={h}AAAA; s.1=BBBB")),
            ChunkError::Missing { index: 2, count: 3 }
        );
        assert_eq!(err("s.1=BBBB; s.2=CC".into()), ChunkError::FirstMissing { present: 2 });
        assert_eq!(
            err(format!("s.0={h}AAAA; s.1=BBBB; s.2=CC; s.3=DD")),
            ChunkError::Extra { index: 3, count: 3 }
        );
        assert_eq!(
            err(format!("s.0={h}AAAA; s.1=BBBB; s.2=CC; s.15=DD")),
            ChunkError::Extra { index: 15, count: 3 }
        );
        assert_eq!(err(format!("s=x; s.0={h}AAAA")), ChunkError::Mixed { chunks: 1 });
        // Values swapped between names, or one chunk from another write.
        assert_eq!(
            err(format!("s.0={h}AAAA; s.1=CC; s.2=BBBB")),
            ChunkError::Checksum { count: 3 }
        );
        assert_eq!(
            err(format!("s.0={h}AAAA; s.1=BBBB; s.2=CD")),
            ChunkError::Checksum { count: 3 }
        );
        // A count that disagrees with what was written.
        let h2 = head(2, value);
        assert_eq!(
            err(format!("s.0={h2}AAAA; s.1=BBBB; s.2=CC")),
            ChunkError::Extra { index: 2, count: 2 }
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn bad_chunk_zero_headers() {
        for first in [
            "",
            "AAAA",
            "3~",
            "3~~AAAA",
            "3AAAA~00000000~",
            "x~00000000~A",
            "03~00000000~A",
            "-3~00000000~A",
            "+3~00000000~A",
            "3~0000000~A",
            "3~000000000~A",
            "3~0000000G~A",
            "3~ABCDEF01~A",
            "3~00000000A",
            "123~00000000~A",
            "3 ~00000000~A",
        ] {
            let got = read(&format!("s.0={first}; s.1=B; s.2=C"));
            assert_eq!(got.reassemble(), Err(ChunkError::BadHeader), "{first:?}");
        }
        for (count, first) in
            [(0, "0~00000000~A"), (1, "1~00000000~A"), (17, "17~00000000~A"), (99, "99~00000000~A")]
        {
            let got = read(&format!("s.0={first}; s.1=B"));
            assert_eq!(got.reassemble(), Err(ChunkError::BadCount { count }), "{first:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn duplicates_are_refused_not_picked() {
        assert_eq!(read("s=a; s=b").reassemble(), Err(ChunkError::Duplicate { chunk: None }));
        assert_eq!(
            read("s=a; s=a").reassemble(),
            Err(ChunkError::Duplicate { chunk: None }),
            "even identical values"
        );
        let h = head(2, "AB");
        assert_eq!(
            read(&format!("s.0={h}A; s.1=B; s.1=X")).reassemble(),
            Err(ChunkError::Duplicate { chunk: Some(1) })
        );
        let got = read("s=a; s=b; s.1=x; s.1=y");
        assert_eq!(got.names().collect::<Vec<_>>(), ["s", "s.1"], "names are deduplicated");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn stray_chunk_names_are_recorded_but_ignored() {
        let got = read("s=v; s.99=x; s.01=y; s.123456789012345678901234567890=z");
        assert_eq!(got.reassemble(), Ok(Some("v".into())));
        assert_eq!(
            got.names().collect::<Vec<_>>(),
            ["s", "s.99", "s.01", "s.123456789012345678901234567890"]
        );
        let only_stray = read("s.16=x");
        assert!(!only_stray.is_empty());
        assert_eq!(only_stray.reassemble(), Ok(None));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn thousands_of_chunk_looking_cookies_are_bounded() {
        let header: String = (0..3000).map(|i| format!("s.{i}=x")).collect::<Vec<_>>().join("; ");
        assert!(header.len() < MAX_COOKIE_HEADER * 2);
        let o = CookieOptions { max_chunks: 16, ..opts() };
        let got = SessionCookies::from_header(&o, Some(&header));
        assert!(header.len() <= cookie_header_limit(&o), "read for values, not oversize");
        assert_eq!(got.names().count(), MAX_RECORDED_NAMES);
        assert_eq!(got.chunks.len(), MAX_CHUNKS, "values kept for 0..16 only");
        assert_eq!(got.reassemble(), Err(ChunkError::BadHeader));
        // Same names twice over: duplicates noticed, names still capped.
        let twice = format!("{header}; {header}");
        let got = SessionCookies::from_header(&o, Some(&twice));
        assert_eq!(got.names().count(), MAX_RECORDED_NAMES);
        assert!(got.reassemble().is_err());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn oversize_header_is_no_session_but_names_are_kept() {
        let pad = "p=".to_owned() + &"x".repeat(64 * 1024);
        let header = format!("s=v1.k.x; {pad}; s.0=y");
        let got = read(&header);
        assert_eq!(
            got.reassemble(),
            Err(ChunkError::OversizeHeader { len: header.len(), limit: MAX_COOKIE_HEADER })
        );
        assert_eq!(got.names().collect::<Vec<_>>(), ["s", "s.0"]);
        assert!(got.base.is_none() && got.chunks.is_empty(), "no values kept");
        let no_session = read(&pad);
        assert!(no_session.is_empty());
        assert!(matches!(no_session.reassemble(), Err(ChunkError::OversizeHeader { .. })));
        // Exactly at the limit is read.
        let at = format!("s=v; p={}", "x".repeat(MAX_COOKIE_HEADER - "s=v; p=".len()));
        assert_eq!(at.len(), MAX_COOKIE_HEADER);
        assert_eq!(read(&at).reassemble(), Ok(Some("v".into())));
        assert!(matches!(
            read(&format!("{at}x")).reassemble(),
            Err(ChunkError::OversizeHeader { .. })
        ));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn header_limit_grows_with_max_chunks() {
        let limit = |max_chunks| cookie_header_limit(&CookieOptions { max_chunks, ..opts() });
        assert_eq!(limit(1), MAX_COOKIE_HEADER);
        assert_eq!(limit(4), MAX_COOKIE_HEADER);
        assert_eq!(limit(5), MAX_COOKIE_HEADER + 4096);
        assert_eq!(limit(16), MAX_COOKIE_HEADER + 12 * 4096);
        assert_eq!(limit(usize::MAX), limit(16));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn debug_hides_values() {
        let h = head(2, "secretAsecretB");
        let got = read(&format!("s=topsecret; s.0={h}secretA; s.1=secretB"));
        let debug = format!("{got:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("base_len: Some(9)"), "{debug}");
    }
}
