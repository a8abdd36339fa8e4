//! Session cookies as pure strings: building `Set-Cookie` lines, reading the request
//! `Cookie` header, splitting a sealed value across several cookies and putting it
//! back together (RFC 6265, RFC 6265bis).
//!
//! # Invariants
//! - Every `Set-Cookie` line produced ([`SetCookie`]) is at most
//!   [`MAX_SET_COOKIE_LEN`] (4096) bytes *including attributes*: RFC 6265 §6.1 only
//!   promises that much per cookie "as measured by the sum of the length of the
//!   cookie's name, value, and attributes".
//! - A line never holds bytes outside the grammar: names are tokens, values are
//!   cookie-octets (§4.1.1), attributes are checked ([`CookieOptions::validate`]). So
//!   no CR/LF or `;` can be smuggled into a header.
//! - Attribute order is fixed: `name=value; Max-Age=N; Path=/; [Domain=…;] [Secure;]
//!   [HttpOnly;] SameSite=…`. `Max-Age` only (§5.2.2; it wins over `Expires`);
//!   user agents cap it at 400 days (RFC 6265bis §5.6.2).
//! - Reassembly is all-or-nothing: a missing, extra, duplicated or mixed-up chunk
//!   yields a [`ChunkError`], never a partial value.
//! - No error and no `Debug` output contains a cookie value.
//!
//! # Chunk format
//! A sealed value `v` that does not fit one cookie is split, in order, into `n` pieces
//! (`2 ≤ n ≤ max_chunks ≤ 16`) stored as `<name>.0` … `<name>.<n-1>`. Chunk 0's value
//! starts with a header `<n>~<fnv>~` where `<fnv>` is the FNV-1a 32-bit hash of `v`
//! as 8 lowercase hex digits. Sealed values are base64url and `.`, and the header
//! parses up to the second `~`, so any cookie-octet value round-trips. The count
//! detects missing and extra chunks; the hash detects chunks left over from a
//! different write (two responses racing, a failed write). It is a consistency check,
//! not security: the seal's AEAD is what stops forgery.
//!
//! # Reading limits
//! A request `Cookie` header longer than [`cookie_header_limit`] is not read for
//! session values ([`ChunkError::OversizeHeader`]); at most [`MAX_RECORDED_NAMES`]
//! session cookie names are remembered (for expiring them).

mod chunk;
mod error;
mod options;
mod parse;
mod read;

pub use chunk::{clear, encode};
pub use error::{ChunkError, CookieError};
pub use options::{CookieOptions, SameSite};
pub use parse::{is_session_cookie_name, parse_cookie_header, strip, CookiePairs};
pub use read::{cookie_header_limit, SessionCookies};

use std::fmt;

/// Room in the `Cookie` header for cookies other than the session's. The header limit
/// is this plus 4096 bytes per configured chunk beyond 4 (see [`cookie_header_limit`]):
/// 16 KiB with the default 4 chunks.
pub const MAX_COOKIE_HEADER: usize = 16 * 1024;

/// The most bytes one `Set-Cookie` header value may take, attributes included
/// (RFC 6265 §6.1).
pub const MAX_SET_COOKIE_LEN: usize = 4096;

/// The largest `max_chunks` accepted.
pub const MAX_CHUNKS: usize = 16;

/// The most session cookie names (unchunked, chunks, stray chunk-like names) one
/// request is remembered to carry.
pub const MAX_RECORDED_NAMES: usize = 64;

/// One complete `Set-Cookie` header value, valid by construction.
///
/// Send each as its own `Set-Cookie` header (never folded with commas, RFC 6265 §3).
/// `Display` and [`as_str`](Self::as_str) give the full line, value included, so do
/// not log them; `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie(String);

impl SetCookie {
    /// The full header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cookie name (before the first `=`).
    pub fn name(&self) -> &str {
        self.0.split_once('=').map_or("", |(name, _)| name)
    }

    /// Whether this line expires the cookie (`Max-Age=0`).
    pub fn is_removal(&self) -> bool {
        self.attributes().starts_with("; Max-Age=0;")
    }

    /// Everything after the value: `; Max-Age=…; Path=…`.
    fn attributes(&self) -> &str {
        let after_eq = self.0.split_once('=').map_or("", |(_, rest)| rest);
        after_eq.find(';').and_then(|at| after_eq.get(at..)).unwrap_or("")
    }

    /// Length of the value, without exposing it.
    fn value_len(&self) -> usize {
        self.0.len().saturating_sub(self.name().len() + 1 + self.attributes().len())
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SetCookie({}=<{} bytes redacted>{})",
            self.name(),
            self.value_len(),
            self.attributes()
        )
    }
}

/// The attribute part of a line, starting with `; Max-Age=`.
fn attributes(opts: &CookieOptions, max_age: u64) -> String {
    let mut out = format!("; Max-Age={max_age}; Path={}", opts.path);
    if let Some(domain) = &opts.domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    if opts.secure {
        out.push_str("; Secure");
    }
    if opts.http_only {
        out.push_str("; HttpOnly");
    }
    out.push_str("; SameSite=");
    out.push_str(opts.same_site.as_str());
    out
}

/// Joins already-validated parts into a line, enforcing the length budget.
fn line(name: &str, value_parts: [&str; 2], attrs: &str) -> Result<SetCookie, CookieError> {
    let [head, body] = value_parts;
    let len = name.len() + 1 + head.len() + body.len() + attrs.len();
    if len > MAX_SET_COOKIE_LEN {
        return Err(CookieError::LineTooLong {
            name: name.to_owned(),
            len,
            max: MAX_SET_COOKIE_LEN,
        });
    }
    let mut out = String::with_capacity(len);
    out.push_str(name);
    out.push('=');
    out.push_str(head);
    out.push_str(body);
    out.push_str(attrs);
    Ok(SetCookie(out))
}

/// Builds one `Set-Cookie` line for a cookie other than the session cookie (for
/// example a deploy-pin cookie), with the attributes of `opts` (its `name` and
/// `max_chunks` are not used except to refuse session cookie names).
///
/// # Errors
/// [`CookieError`] when `name` or `value` break RFC 6265 §4.1.1, a prefix rule or the
/// attributes are invalid, `name` is the session cookie's or one of its chunks'
/// ([`CookieError::ReservedName`]), or the line exceeds 4096 bytes.
///
/// # Example
/// ```
/// use edge_session::cookie::{build_set_cookie, CookieOptions};
/// let opts = CookieOptions::default();
/// let line = build_set_cookie("__Host-deploy", "d42", &opts, 3600).unwrap();
/// assert_eq!(line.as_str(), "__Host-deploy=d42; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax");
/// assert!(build_set_cookie("__Host-deploy", "a;b", &opts, 60).is_err());
/// ```
pub fn build_set_cookie(
    name: &str,
    value: &str,
    opts: &CookieOptions,
    max_age: u64,
) -> Result<SetCookie, CookieError> {
    options::check_attributes(opts)?;
    options::check_name(name, opts)?;
    if is_session_cookie_name(opts, name) {
        return Err(CookieError::ReservedName { name: name.to_owned() });
    }
    options::check_value(name, value)?;
    line(name, [value, ""], &attributes(opts, max_age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn attribute_order_and_variants() {
        let opts = CookieOptions::default();
        assert_eq!(
            build_set_cookie("__Host-pin", "abc", &opts, 60).unwrap().as_str(),
            "__Host-pin=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let opts = CookieOptions {
            name: "sess".into(),
            secure: false,
            http_only: false,
            same_site: SameSite::Strict,
            path: "/app".into(),
            domain: Some("example.com".into()),
            max_chunks: 4,
        };
        assert_eq!(
            build_set_cookie("pin", "", &opts, 0).unwrap().as_str(),
            "pin=; Max-Age=0; Path=/app; Domain=example.com; SameSite=Strict"
        );
        let opts = CookieOptions { same_site: SameSite::None, ..CookieOptions::default() };
        let line = build_set_cookie("p", "x", &opts, u64::MAX).unwrap();
        assert_eq!(
            line.as_str(),
            "p=x; Max-Age=18446744073709551615; Path=/; Secure; HttpOnly; SameSite=None"
        );
        assert_eq!(line.to_string(), line.as_str());
        assert_eq!(line.name(), "p");
        assert!(!line.is_removal());
        assert!(build_set_cookie("p", "x", &opts, 0).unwrap().is_removal());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn build_set_cookie_refuses_bad_input() {
        let opts = CookieOptions::default();
        for value in ["a\r\nSet-Cookie: x=y", "a;b", "a b", "ü", "a,b", "\"q\""] {
            let e = build_set_cookie("pin", value, &opts, 60).unwrap_err();
            assert!(matches!(e, CookieError::InvalidValue { .. }), "{value:?}: {e}");
        }
        for name in ["", "a b", "a\r\n", "a=b", "a;b", "pin.1"] {
            let e = build_set_cookie(name, "v", &opts, 60).unwrap_err();
            assert!(matches!(e, CookieError::InvalidName { .. }), "{name:?}: {e}");
        }
        let e = build_set_cookie("__Host-session", "v", &opts, 60).unwrap_err();
        assert_eq!(e, CookieError::ReservedName { name: "__Host-session".into() });
        let plain = CookieOptions { secure: false, name: "s".into(), ..CookieOptions::default() };
        let e = build_set_cookie("__Secure-pin", "v", &plain, 60).unwrap_err();
        assert!(matches!(e, CookieError::PrefixRequiresSecure { .. }), "{e}");
        let bad_path = CookieOptions { path: "/a\r\nb".into(), ..plain.clone() };
        assert!(matches!(
            build_set_cookie("pin", "v", &bad_path, 60),
            Err(CookieError::InvalidPath { .. })
        ));
        // Exactly at the budget passes, one byte more fails.
        let attrs_len = "; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax".len();
        let fit = MAX_SET_COOKIE_LEN - "pin=".len() - attrs_len;
        let ok = build_set_cookie("pin", &"a".repeat(fit), &opts, 60).unwrap();
        assert_eq!(ok.as_str().len(), MAX_SET_COOKIE_LEN);
        let e = build_set_cookie("pin", &"a".repeat(fit + 1), &opts, 60).unwrap_err();
        assert_eq!(
            e,
            CookieError::LineTooLong { name: "pin".into(), len: 4097, max: MAX_SET_COOKIE_LEN }
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn debug_hides_the_value() {
        let line = build_set_cookie("pin", "topsecret", &CookieOptions::default(), 5).unwrap();
        let debug = format!("{line:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert_eq!(
            debug,
            "SetCookie(pin=<9 bytes redacted>; Max-Age=5; Path=/; Secure; HttpOnly; SameSite=Lax)"
        );
    }
}
