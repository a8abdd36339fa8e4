//! Minimal HTTP message heads for the core: the shell copies a request's method,
//! path, query and headers in, and copies the core's answers out. Bodies never pass
//! through the core (the shell streams them), except small bodies the worker
//! writes itself.
//!
//! Header names are stored lower-case; several values of one name stay separate
//! entries (never folded: `Set-Cookie` must not be joined with commas).

/// An ordered header list with lower-case names.
///
/// Every name and value is kept back to back in one buffer, so a list costs two
/// allocations however many entries it holds (a request crosses in from JavaScript as
/// one `name\nvalue\n…` string, which [`Headers::from_lines`] keeps as that buffer).
/// Removing entries leaves their text behind until the list is dropped: lists live
/// for one request.
#[derive(Clone, Default)]
pub struct Headers {
    /// Names and values, back to back.
    buf: String,
    /// Where each entry's name and value are in `buf`, in order.
    entries: Vec<Span>,
}

/// `buf[start..name_end]` is the name, `buf[value_start..end]` the value.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    name_end: usize,
    value_start: usize,
    end: usize,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Headers::default()
    }

    /// An empty list with room for `text` bytes of names and values in `entries`
    /// entries.
    pub fn with_capacity(text: usize, entries: usize) -> Self {
        Headers { buf: String::with_capacity(text), entries: Vec::with_capacity(entries) }
    }

    /// Bytes of names and values held (what [`Headers::with_capacity`] counts).
    pub fn text_len(&self) -> usize {
        self.entries.iter().map(|s| s.name_end - s.start + s.end - s.value_start).sum()
    }

    /// The list written as `name\nvalue\n…` (what the shell's JavaScript sends): each
    /// pair of lines is one entry, names lower-cased (the last value may end without
    /// `\n`; a last name without a value is dropped). `text` becomes the list's buffer.
    pub fn from_lines(mut text: String) -> Self {
        let mut entries = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let Some(name_len) = text[at..].find('\n') else { break };
            let value_start = at + name_len + 1;
            let end = text[value_start..].find('\n').map_or(text.len(), |n| value_start + n);
            text[at..at + name_len].make_ascii_lowercase();
            entries.push(Span { start: at, name_end: at + name_len, value_start, end });
            at = end + 1;
        }
        Headers { buf: text, entries }
    }

    /// Appends a header (the name is lower-cased).
    pub fn append(&mut self, name: &str, value: impl AsRef<str>) {
        let start = self.buf.len();
        self.buf.push_str(name);
        self.buf[start..].make_ascii_lowercase();
        let name_end = self.buf.len();
        self.buf.push_str(value.as_ref());
        self.entries.push(Span { start, name_end, value_start: name_end, end: self.buf.len() });
    }

    /// Replaces every header of this name with one value.
    pub fn set(&mut self, name: &str, value: impl AsRef<str>) {
        self.remove(name);
        self.append(name, value);
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Removes every header of this name.
    pub fn remove(&mut self, name: &str) {
        let buf = &self.buf;
        self.entries.retain(|s| !buf[s.start..s.name_end].eq_ignore_ascii_case(name));
    }

    /// Removes every header whose name starts with `prefix` (lower-case).
    pub fn remove_prefixed(&mut self, prefix: &str) {
        let buf = &self.buf;
        self.entries.retain(|s| !buf[s.start..s.name_end].starts_with(prefix));
    }

    /// Iterates over `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|s| (&self.buf[s.start..s.name_end], &self.buf[s.value_start..s.end]))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What turns `original` into `self`, name by name: every name whose values
    /// (in order) differ has its values here in [`HeaderChanges::values`], and is
    /// listed in [`HeaderChanges::replaced`] when `original` has it. The shell
    /// applies this to a copy of the runtime's own header list (delete each
    /// replaced name, append the values) instead of rebuilding the whole list.
    pub fn changes_from<'a>(&'a self, original: &'a Headers) -> HeaderChanges<'a> {
        let mut changes = HeaderChanges::default();
        if self == original {
            return changes;
        }
        // Each entry sliced once (the lists are short: tens of entries, compared
        // pairwise below).
        let mine: Vec<(&str, &str)> = self.iter().collect();
        let theirs: Vec<(&str, &str)> = original.iter().collect();
        let both = || mine.iter().chain(&theirs);
        for (i, &(name, _)) in both().enumerate() {
            // First occurrence of each name only.
            if both().take(i).any(|&(n, _)| n == name) {
                continue;
            }
            let now = mine.iter().filter(|&&(n, _)| n == name).map(|&(_, v)| v);
            let before = theirs.iter().filter(|&&(n, _)| n == name).map(|&(_, v)| v);
            if now.eq(before.clone()) {
                continue;
            }
            // A name the original lacks needs no delete (each costs a runtime call).
            if before.clone().next().is_some() {
                changes.replaced.push(name);
            }
            changes.values.extend(mine.iter().filter(|&&(n, _)| n == name));
        }
        changes
    }
}

impl PartialEq for Headers {
    /// Equal entries in the same order (whatever else the buffers hold).
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    /// `Headers([(name, value), …])`, as when the list was a `Vec` of pairs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Headers").field(&self.iter().collect::<Vec<_>>()).finish()
    }
}

/// The difference between two header lists, from [`Headers::changes_from`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderChanges<'a> {
    /// Names to delete from the original list (every entry of each): the changed
    /// names it has.
    pub replaced: Vec<&'a str>,
    /// Entries to append after the deletions: the new values of the changed names.
    pub values: Vec<(&'a str, &'a str)>,
}

impl HeaderChanges<'_> {
    /// True when the lists were equal.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty() && self.values.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.append(n.as_ref(), v);
        }
        h
    }
}

/// The raw value of the first `name=value` pair of a query string (without `?`),
/// not percent-decoded ([`decode_query_value`] does that). A pair without `=` does
/// not match.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The bytes of a percent-encoded text, each with whether it came from a `%XX`
/// escape (a path must tell an escaped `/` from a real one); `None` at a malformed
/// escape, after which the iterator ends.
pub fn percent_decoded(text: &str) -> impl Iterator<Item = Option<(u8, bool)>> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        let b = *bytes.get(at)?;
        if b != b'%' {
            at += 1;
            return Some(Some((b, false)));
        }
        let digit = |i: usize| bytes.get(i).and_then(|c| (*c as char).to_digit(16));
        let byte = digit(at + 1).zip(digit(at + 2)).map(|(hi, lo)| ((hi * 16 + lo) as u8, true));
        at = if byte.is_some() { at + 3 } else { bytes.len() };
        Some(byte)
    })
}

/// A query value decoded: `%XX` escapes, and `+` as a space. `None` for a
/// malformed escape or bytes that are not UTF-8.
pub fn decode_query_value(value: &str) -> Option<String> {
    let bytes = percent_decoded(value)
        .map(|d| d.map(|(b, escaped)| if b == b'+' && !escaped { b' ' } else { b }))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The head of an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Upper-case method, e.g. `GET`.
    pub method: String,
    /// The path, starting with `/`, still percent-encoded.
    pub path: String,
    /// The query without `?`; empty when there is none.
    pub query: String,
    /// `scheme://host[:port]` of the request URL; empty when only a path was given.
    pub origin: String,
    /// The request headers.
    pub headers: Headers,
}

impl RequestHead {
    /// Splits a URL's path-and-query (or a full URL) into a head.
    pub fn new(method: &str, url: &str, headers: Headers) -> Self {
        let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
        let path_start = if url.contains("://") {
            after_scheme.find('/').map_or(after_scheme.len(), |i| i)
        } else {
            0
        };
        let origin = if url.contains("://") {
            url.get(..url.len() - after_scheme.len() + path_start).unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        let rest = &after_scheme[path_start..];
        let rest = rest.split('#').next().unwrap_or_default();
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        RequestHead {
            method: method.to_ascii_uppercase(),
            path: if path.is_empty() { "/".to_owned() } else { path.to_owned() },
            query: query.to_owned(),
            origin,
            headers,
        }
    }

    /// True for methods that may change state (everything but GET, HEAD, OPTIONS, TRACE).
    pub fn is_unsafe_method(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "TRACE")
    }

    /// True for a WebSocket handshake: an `Upgrade` header that names `websocket`
    /// (RFC 6455 §4.1; any case, in a list too).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers
            .get("upgrade")
            .is_some_and(|u| u.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")))
    }
}

/// A response the worker writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, `Set-Cookie` entries kept separate.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response that no cache may store.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut headers = Headers::new();
        headers.append("content-type", "application/json");
        headers.append("cache-control", "no-store");
        Response { status, headers, body: value.to_string().into_bytes() }
    }

    /// A JSON error body `{"error": code, "message": message}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Response::json(status, &serde_json::json!({ "error": code, "message": message }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies changes the way the shell's JavaScript does.
    fn apply(original: &Headers, changes: &HeaderChanges<'_>) -> Headers {
        let mut out = original.clone();
        for name in &changes.replaced {
            out.remove(name);
        }
        for (n, v) in &changes.values {
            out.append(n, *v);
        }
        out
    }

    fn sorted(h: &Headers) -> Vec<(String, String)> {
        let mut v: Vec<_> = h.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0)); // stable: keeps the order of values per name
        v
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn header_changes_rebuild_the_wanted_list() {
        let original: Headers = [
            ("accept", "*/*"),
            ("cookie", "__Host-session=abc; theme=dark"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("edge-session-foo", "forged"),
            ("x-kept", "1"),
        ]
        .into_iter()
        .collect();
        let mut wanted = original.clone();
        wanted.remove("edge-session-foo");
        wanted.set("cookie", "theme=dark");
        wanted.append("set-cookie", "c=3");
        wanted.append("edge-session", "jws");
        let changes = wanted.changes_from(&original);
        // `edge-session` is new: appended, with no delete.
        assert_eq!(changes.replaced, ["set-cookie", "cookie", "edge-session-foo"]);
        assert_eq!(
            changes.values,
            [
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("set-cookie", "c=3"),
                ("cookie", "theme=dark"),
                ("edge-session", "jws")
            ]
        );
        assert_eq!(sorted(&apply(&original, &changes)), sorted(&wanted));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn equal_lists_have_no_changes_and_order_of_values_counts() {
        let a: Headers = [("x", "1"), ("x", "2"), ("y", "3")].into_iter().collect();
        let same = a.clone();
        assert!(a.changes_from(&same).is_empty());
        let b: Headers = [("x", "2"), ("x", "1"), ("y", "3")].into_iter().collect();
        let changes = b.changes_from(&a);
        assert_eq!(changes.replaced, ["x"]);
        assert_eq!(sorted(&apply(&a, &changes)), sorted(&b));
        let empty = Headers::new();
        assert!(empty.changes_from(&Headers::new()).is_empty());
        let removed_all = empty.changes_from(&a);
        assert_eq!((removed_all.replaced, removed_all.values), (vec!["x", "y"], vec![]));
    }

    /// What `from_lines` replaces: one `append` per pair of lines.
    fn appended_pairs(text: &str) -> Headers {
        let mut headers = Headers::new();
        let mut parts = text.split('\n');
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            headers.append(name, value);
        }
        headers
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn lines_become_the_same_list_as_appends() {
        for text in [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\nb",
            "a\nb\n",
            "a\nb\nc",
            "Host\nx.test\nCookie\na=1; b=2\nSet-Cookie\nx=1\nset-cookie\ny=2\n",
            "x-\u{e9}\n\u{e9}t\u{e9}\n\n\n",
        ] {
            let h = Headers::from_lines(text.to_owned());
            assert_eq!(h, appended_pairs(text), "{text:?}");
            assert_eq!(format!("{h:?}"), format!("{:?}", appended_pairs(text)));
            assert!(format!("{h:?}").starts_with("Headers(["), "{h:?}");
        }
        let mut h = Headers::from_lines("A\n1\nb\n2\na\n3\n".to_owned());
        assert_eq!(h.get("a"), Some("1"));
        h.set("A", "4");
        h.append("c", String::from("5"));
        assert_eq!(h.iter().collect::<Vec<_>>(), [("b", "2"), ("a", "4"), ("c", "5")]);
        h.remove_prefixed("b");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("a", "4"), ("c", "5")]);
        assert_eq!(h, [("a", "4"), ("C", "5")].into_iter().collect::<Headers>());
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn applying_the_changes_rebuilds_any_list(
            original in proptest::collection::vec(("[abc]", "[xy]{0,2}"), 0..8),
            wanted in proptest::collection::vec(("[abcd]", "[xy]{0,2}"), 0..8),
        ) {
            let original: Headers = original.into_iter().collect();
            let wanted: Headers = wanted.into_iter().collect();
            let changes = wanted.changes_from(&original);
            proptest::prop_assert_eq!(sorted(&apply(&original, &changes)), sorted(&wanted));
            proptest::prop_assert_eq!(changes.is_empty(), sorted(&original) == sorted(&wanted));
            // Only names the original has are deleted.
            proptest::prop_assert!(changes.replaced.iter().all(|n| original.get(n).is_some()));
        }

        #[test]
        fn any_lines_become_the_same_list_as_appends(text in "(([A-Za-z\u{e9}-]{0,4}|\n)){0,12}") {
            proptest::prop_assert_eq!(Headers::from_lines(text.clone()), appended_pairs(&text));
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn splits_urls_and_keeps_repeated_headers() {
        let h: Headers = [("Set-Cookie", "a=1"), ("set-cookie", "b=2")].into_iter().collect();
        assert_eq!(h.len(), 2);
        assert_eq!(h.get("SET-COOKIE"), Some("a=1"));
        let r = RequestHead::new("get", "https://x.test/a/b?c=d#frag", h);
        assert_eq!((r.method.as_str(), r.path.as_str(), r.query.as_str()), ("GET", "/a/b", "c=d"));
        assert_eq!(r.origin, "https://x.test");
        let r = RequestHead::new("POST", "https://x.test", Headers::new());
        assert_eq!(r.path, "/");
        assert!(r.is_unsafe_method());
        let r = RequestHead::new("GET", "/p?q", Headers::new());
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/p", "q"));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn query_values_and_percent_decoding() {
        let q = "a=1&sid=x%2By&dpl&user=ada+l%C3%B6we&sidx=2";
        assert_eq!(query_param(q, "sid"), Some("x%2By"));
        assert_eq!(query_param(q, "dpl"), None, "no `=`: no value");
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(
            query_param(q, "user").and_then(decode_query_value).as_deref(),
            Some("ada löwe")
        );
        assert_eq!(decode_query_value("x%2By").as_deref(), Some("x+y"), "an escaped + stays");
        for bad in ["%", "%2", "%zz", "a%g1", "%ff"] {
            assert_eq!(decode_query_value(bad), None, "{bad}");
        }
        let got: Vec<_> = percent_decoded("a%2Fb/").collect();
        let want =
            [Some((b'a', false)), Some((b'/', true)), Some((b'b', false)), Some((b'/', false))];
        assert_eq!(got, want);
        assert_eq!(percent_decoded("%4").collect::<Vec<_>>(), [None], "ends at a bad escape");
    }
}
