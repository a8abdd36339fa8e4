//! Reading the request `Cookie` header (RFC 6265 §4.2, §5.4) without allocating, and
//! removing session cookies from it before it goes upstream.
//!
//! Parsing is lenient the way servers must be (RFC 6265 §5.4 leaves the header's
//! syntax to user agents, and real headers contain junk): the header is split on `;`,
//! optional whitespace around names and values is trimmed, segments without `=` or
//! with an empty name are skipped, and one pair of surrounding double quotes is
//! removed from a value (`cookie-value = *cookie-octet / ( DQUOTE *cookie-octet
//! DQUOTE )`, §4.1.1). Duplicate names are all yielded, in header order; deciding what a
//! duplicate means is the caller's job ([`SessionCookies`](super::SessionCookies)
//! refuses duplicates of session cookies). Work is linear in the header length.

use super::options::all_digits;
use super::{CookieOptions, MAX_CHUNKS};

/// Iterator over the `(name, value)` pairs of a `Cookie` header; see
/// [`parse_cookie_header`]. Borrows the header; never allocates.
#[derive(Clone)]
pub struct CookiePairs<'a> {
    rest: &'a str,
}

impl std::fmt::Debug for CookiePairs<'_> {
    /// Shows only how much is left: the header holds secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CookiePairs {{ remaining: {} bytes }}", self.rest.len())
    }
}

impl<'a> Iterator for CookiePairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (segment, tail) = self.rest.split_once(';').unwrap_or((self.rest, ""));
            self.rest = tail;
            if let Some(pair) = split_pair(segment) {
                return Some(pair);
            }
        }
        None
    }
}

impl std::iter::FusedIterator for CookiePairs<'_> {}

/// Iterates over the `(name, value)` pairs of a request `Cookie` header.
///
/// Splits on `;`, trims spaces and tabs, skips segments without `=` or with an empty
/// name, and unquotes values wrapped in double quotes. Duplicate names are all
/// yielded, in order. No allocation; linear in the header length. There is no length
/// limit here: [`SessionCookies::from_header`](super::SessionCookies::from_header)
/// applies one.
///
/// # Example
/// ```
/// use edge_session::cookie::parse_cookie_header;
/// let pairs: Vec<_> = parse_cookie_header(r#"a=1;; junk ; b = "two" ;c="#).collect();
/// assert_eq!(pairs, [("a", "1"), ("b", "two"), ("c", "")]);
/// ```
pub fn parse_cookie_header(header: &str) -> CookiePairs<'_> {
    CookiePairs { rest: header }
}

/// Optional whitespace around names and values (trimmed as RFC 6265 §5.2 does for
/// `Set-Cookie`).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// One `name=value` segment, trimmed and unquoted; `None` without `=` or name.
fn split_pair(segment: &str) -> Option<(&str, &str)> {
    let (name, value) = segment.split_once('=')?;
    let name = trim_ows(name);
    if name.is_empty() {
        return None;
    }
    let value = trim_ows(value);
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => value,
    };
    Some((name, value))
}

/// What a cookie name is relative to the configured session cookie name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameKind {
    /// Exactly the configured name: the unchunked session cookie.
    Base,
    /// `<name>.<n>` with canonical decimal `n < MAX_CHUNKS`: a chunk we may have written.
    Chunk(usize),
    /// `<name>.<digits>` that we never write (leading zero or too large): only cleared.
    Stray,
}

/// Classifies `name` against the session cookie name `base`, byte for byte (user
/// agents compare cookie names exactly, so `__host-session` is another cookie).
pub(super) fn classify(base: &str, name: &str) -> Option<NameKind> {
    if name == base {
        return Some(NameKind::Base);
    }
    let digits = name.strip_prefix(base)?.strip_prefix('.')?;
    if !all_digits(digits) {
        return None;
    }
    let canonical = digits.len() <= 2 && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<usize>() {
        Ok(n) if canonical && n < MAX_CHUNKS => Some(NameKind::Chunk(n)),
        _ => Some(NameKind::Stray),
    }
}

/// Whether `name` is the session cookie or one of its chunk names (`<name>.<digits>`,
/// any number of digits).
///
/// # Example
/// ```
/// use edge_session::cookie::{is_session_cookie_name, CookieOptions};
/// let opts = CookieOptions::default();
/// assert!(is_session_cookie_name(&opts, "__Host-session"));
/// assert!(is_session_cookie_name(&opts, "__Host-session.3"));
/// assert!(!is_session_cookie_name(&opts, "__Host-session.x"));
/// assert!(!is_session_cookie_name(&opts, "__host-session"));
/// ```
pub fn is_session_cookie_name(opts: &CookieOptions, name: &str) -> bool {
    classify(&opts.name, name).is_some()
}

/// The `Cookie` header to send upstream: every session cookie (unchunked, chunks and
/// stray chunk-like names) removed, every other cookie kept byte-for-byte and in
/// order. Pairs are re-joined with `; ` (RFC 6265 §4.2.1), so empty segments and odd
/// spacing around `;` disappear; segments that are not pairs (no `=`) are kept as they
/// are, since they are not ours. Returns `None` when nothing remains.
///
/// Applies no length limit: session cookies must be removed even from a header too
/// long to read them from.
///
/// # Example
/// ```
/// use edge_session::cookie::{strip, CookieOptions};
/// let opts = CookieOptions::default();
/// let header = "a=1; __Host-session.0=2~x; theme=\"dark\"; __Host-session.1=y";
/// assert_eq!(strip(header, &opts).as_deref(), Some("a=1; theme=\"dark\""));
/// assert_eq!(strip("__Host-session=v1.k.x", &opts), None);
/// ```
pub fn strip(header: &str, opts: &CookieOptions) -> Option<String> {
    let mut out = String::with_capacity(header.len());
    for segment in header.split(';') {
        let segment = trim_ows(segment);
        if segment.is_empty() {
            continue;
        }
        if split_pair(segment).is_some_and(|(name, _)| is_session_cookie_name(opts, name)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(segment);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(header: &str) -> Vec<(&str, &str)> {
        parse_cookie_header(header).collect()
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn parse_oddities() {
        assert_eq!(pairs(""), []);
        assert_eq!(pairs(";;"), []);
        assert_eq!(pairs(" ; \t; "), []);
        assert_eq!(pairs("novalue"), []);
        assert_eq!(pairs("=v; =; a=1"), [("a", "1")], "empty names are skipped");
        assert_eq!(pairs("a=1"), [("a", "1")]);
        assert_eq!(pairs("a=1;b=2"), [("a", "1"), ("b", "2")]);
        assert_eq!(pairs("  a  =  1  ;\tb\t=\t2\t"), [("a", "1"), ("b", "2")]);
        assert_eq!(pairs("a="), [("a", "")]);
        assert_eq!(pairs("a=b=c"), [("a", "b=c")], "value keeps later `=`");
        assert_eq!(pairs("a=\"q\""), [("a", "q")]);
        assert_eq!(pairs("a=\"\""), [("a", "")]);
        assert_eq!(pairs("a=\""), [("a", "\"")], "a lone quote is not a quoted value");
        assert_eq!(pairs("a=\"x"), [("a", "\"x")]);
        assert_eq!(pairs("a=\"\"x\"\""), [("a", "\"x\"")], "only one pair of quotes");
        assert_eq!(pairs("a=1; a=2"), [("a", "1"), ("a", "2")], "duplicates all yielded");
        assert_eq!(pairs("a b=1"), [("a b", "1")], "inner spaces kept");
        assert_eq!(pairs("é=ü; x=\u{0}"), [("é", "ü"), ("x", "\u{0}")]);
        assert_eq!(pairs("a=1;"), [("a", "1")]);
        assert_eq!(pairs(";a=1"), [("a", "1")]);
        let mut it = parse_cookie_header("a=1");
        assert_eq!(it.next(), Some(("a", "1")));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None, "fused");
        assert_eq!(
            format!("{:?}", parse_cookie_header("s=secret")),
            "CookiePairs { remaining: 8 bytes }"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn classify_names() {
        use NameKind::*;
        assert_eq!(classify("s", "s"), Some(Base));
        assert_eq!(classify("s", "s.0"), Some(Chunk(0)));
        assert_eq!(classify("s", "s.15"), Some(Chunk(15)));
        assert_eq!(classify("s", "s.16"), Some(Stray));
        assert_eq!(classify("s", "s.00"), Some(Stray));
        assert_eq!(classify("s", "s.01"), Some(Stray));
        assert_eq!(classify("s", "s.99999999999999999999999999"), Some(Stray));
        for other in ["S", "s.", "s.x", "s.1x", "s..1", "s.-1", "s.+1", "t.1", "ss", "s 1", "s.1 "]
        {
            assert_eq!(classify("s", other), None, "{other:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn strip_removes_session_cookies_and_keeps_others_exactly() {
        let opts = CookieOptions::default();
        let s = |h| strip(h, &opts);
        assert_eq!(s(""), None);
        assert_eq!(s(" ; ;"), None);
        assert_eq!(s("__Host-session=a"), None);
        assert_eq!(s("__Host-session.0=2~a; __Host-session.1=b"), None);
        assert_eq!(s("__Host-session.99=x; __Host-session.007=y"), None, "stray chunks too");
        assert_eq!(s(" __Host-session =x"), None, "trimmed like the parser does");
        assert_eq!(s("a=1"), Some("a=1".into()));
        assert_eq!(
            s("a=1; __Host-session=v1.k.x; b=\"two words\";c=3"),
            Some("a=1; b=\"two words\"; c=3".into())
        );
        assert_eq!(s("__Host-session=x;z=é;y"), Some("z=é; y".into()), "non-pairs kept");
        assert_eq!(
            s("__host-session=1; __Host-session2=2; x__Host-session=3; __Host-session.x=4"),
            Some(
                "__host-session=1; __Host-session2=2; x__Host-session=3; __Host-session.x=4".into()
            ),
            "look-alikes are not ours"
        );
        assert_eq!(s("a=1;;;b=2"), Some("a=1; b=2".into()));
        assert_eq!(s("a=1; a=1"), Some("a=1; a=1".into()), "duplicates of others kept");
        // Even a huge header is stripped: session cookies never go upstream.
        let big =
            format!("{}; __Host-session=x; tail=1", "p=1; ".repeat(20_000).trim_end_matches("; "));
        let out = s(&big).unwrap();
        assert!(!out.contains("__Host-session"));
        assert!(out.ends_with("p=1; tail=1"));
    }
}
