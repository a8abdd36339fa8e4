//! Minimal HTTP message heads for the core: the shell copies a request's method,
//! path, query and headers in, and copies the core's answers out. Bodies never pass
//! through the core (the shell streams them), except small bodies the worker
//! writes itself.
//!
//! Header names are stored lower-case; several values of one name stay separate
//! entries (never folded: `Set-Cookie` must not be joined with commas).

/// An ordered header list with lower-case names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Appends a header (the name is lower-cased).
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Replaces every header of this name with one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.append(name, value);
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Removes every header of this name.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Removes every header whose name starts with `prefix` (lower-case).
    pub fn remove_prefixed(&mut self, prefix: &str) {
        self.0.retain(|(n, _)| !n.starts_with(prefix));
    }

    /// Iterates over `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: AsRef<str>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.append(n.as_ref(), v);
        }
        h
    }
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
}
