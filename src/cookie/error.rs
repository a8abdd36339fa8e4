//! Errors of the cookie module: [`CookieError`] (settings and values we would write) and
//! [`ChunkError`] (what the request carried and why it cannot be read back).
//!
//! Invariant: no message and no `Debug` output contains a cookie value. Names, paths
//! and domains appear (they are configuration or a header's name part), escaped so a
//! control character cannot break a log line.

use std::fmt;

use crate::escaped::Escaped;

/// A cookie setting or value that cannot be turned into a valid `Set-Cookie` line.
///
/// Returned by [`CookieOptions::validate`](super::CookieOptions::validate),
/// [`encode`](super::encode) and [`build_set_cookie`](super::build_set_cookie). The
/// `Display` text names the setting to change (`COOKIE_NAME`, `COOKIE_SECURE`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The cookie name is not an RFC 6265 token of 1 to 64 bytes, or ends with the
    /// chunk suffix `.<digits>`.
    InvalidName {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A `__Secure-` or `__Host-` name without the `Secure` attribute.
    PrefixRequiresSecure {
        /// The cookie name.
        name: String,
        /// The prefix found (`__Secure-` or `__Host-`).
        prefix: &'static str,
    },
    /// A `__Host-` name with a path other than `/`.
    HostPrefixRequiresRootPath {
        /// The cookie name.
        name: String,
        /// The configured path.
        path: String,
    },
    /// A `__Host-` name with a `Domain` attribute.
    HostPrefixForbidsDomain {
        /// The cookie name.
        name: String,
    },
    /// `SameSite=None` without `Secure`.
    SameSiteNoneRequiresSecure,
    /// The path is not `/…` made of visible ASCII without `;`, or is too long.
    InvalidPath {
        /// The configured path.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The domain is not a plausible host name.
    InvalidDomain {
        /// The configured domain.
        domain: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `max_chunks` is outside `1..=MAX_CHUNKS`.
    MaxChunksOutOfRange {
        /// The configured value.
        got: usize,
        /// The largest allowed value.
        max: usize,
    },
    /// A value holds a byte outside cookie-octet (RFC 6265 §4.1.1).
    InvalidValue {
        /// The cookie the value was meant for.
        name: String,
        /// Byte offset of the first bad byte.
        offset: usize,
        /// The class of the bad byte (never the byte itself).
        found: &'static str,
    },
    /// The sealed session needs more than `max_chunks` cookies.
    TooLarge {
        /// Length of the sealed value in bytes.
        size: usize,
        /// The most bytes of sealed value that `max_chunks` cookies can carry with the
        /// configured name and attributes.
        cap: usize,
        /// The configured chunk limit.
        max_chunks: usize,
    },
    /// A single `Set-Cookie` line would exceed the per-cookie budget.
    LineTooLong {
        /// The cookie name.
        name: String,
        /// The line length in bytes.
        len: usize,
        /// The budget ([`MAX_SET_COOKIE_LEN`](super::MAX_SET_COOKIE_LEN)).
        max: usize,
    },
    /// [`build_set_cookie`](super::build_set_cookie) was asked to write a session cookie
    /// name; those are written by [`encode`](super::encode) only.
    ReservedName {
        /// The refused name.
        name: String,
    },
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName { name, problem } => {
                write!(f, "cookie name `{}` {problem} (COOKIE_NAME)", Escaped(name))
            }
            Self::PrefixRequiresSecure { name, prefix } => write!(
                f,
                "cookie name `{}` starts with `{prefix}` and so requires Secure (COOKIE_SECURE=true)",
                Escaped(name)
            ),
            Self::HostPrefixRequiresRootPath { name, path } => write!(
                f,
                "cookie name `{}` starts with `__Host-` and so requires Path=/, but the path is \
                 `{}` (COOKIE_PATH)",
                Escaped(name),
                Escaped(path)
            ),
            Self::HostPrefixForbidsDomain { name } => write!(
                f,
                "cookie name `{}` starts with `__Host-` and so must not carry a Domain \
                 attribute; unset COOKIE_DOMAIN or drop the prefix",
                Escaped(name)
            ),
            Self::SameSiteNoneRequiresSecure => f.write_str(
                "SameSite=None requires Secure (COOKIE_SECURE=true) or another COOKIE_SAMESITE",
            ),
            Self::InvalidPath { path, problem } => {
                write!(f, "cookie path `{}` {problem} (COOKIE_PATH)", Escaped(path))
            }
            Self::InvalidDomain { domain, problem } => {
                write!(f, "cookie domain `{}` {problem} (COOKIE_DOMAIN)", Escaped(domain))
            }
            Self::MaxChunksOutOfRange { got, max } => {
                write!(f, "COOKIE_MAX_CHUNKS is {got}; it must be between 1 and {max}")
            }
            Self::InvalidValue { name, offset, found } => write!(
                f,
                "value for cookie `{}` has {found} at byte {offset}; only cookie-octets are \
                 allowed (visible ASCII except `\"`, `,`, `;` and `\\`, RFC 6265 §4.1.1)",
                Escaped(name)
            ),
            Self::TooLarge { size, cap, max_chunks } => write!(
                f,
                "session is {size} bytes sealed; at most {max_chunks} cookies of 4096 bytes \
                 (about {cap} bytes) are allowed (COOKIE_MAX_CHUNKS)"
            ),
            Self::LineTooLong { name, len, max } => write!(
                f,
                "Set-Cookie line for `{}` would be {len} bytes; at most {max} are allowed \
                 (RFC 6265 §6.1)",
                Escaped(name)
            ),
            Self::ReservedName { name } => write!(
                f,
                "cookie name `{}` belongs to the session cookie (or its chunks) and is written \
                 by the session code only",
                Escaped(name)
            ),
        }
    }
}

impl std::error::Error for CookieError {}

/// Why the session cookies of a request cannot be read back as one sealed value.
///
/// Reassembly is all-or-nothing: any of these means "no session from this request";
/// the caller should treat the request as anonymous and may expire the cookies with
/// [`clear`](super::clear). Chunk numbers are the `<n>` of `<name>.<n>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// The `Cookie` header exceeded the limit; it was not read for values.
    OversizeHeader {
        /// Header length in bytes.
        len: usize,
        /// The limit that applied.
        limit: usize,
    },
    /// The same session cookie name came twice (e.g. one cookie per Path or Domain).
    Duplicate {
        /// `None` for the unchunked name, `Some(n)` for chunk `n`.
        chunk: Option<usize>,
    },
    /// Both the unchunked cookie and chunk cookies were present.
    Mixed {
        /// How many chunk cookies came alongside the unchunked one.
        chunks: usize,
    },
    /// Chunk cookies came without chunk 0, which carries the count.
    FirstMissing {
        /// How many other chunk cookies came.
        present: usize,
    },
    /// Chunk 0 does not start with `<count>~<checksum>~`.
    BadHeader,
    /// Chunk 0 announces a count outside `2..=MAX_CHUNKS`.
    BadCount {
        /// The announced count.
        count: usize,
    },
    /// A chunk below the announced count is absent.
    Missing {
        /// The first absent chunk.
        index: usize,
        /// The announced count.
        count: usize,
    },
    /// A chunk at or above the announced count is present.
    Extra {
        /// The first surplus chunk.
        index: usize,
        /// The announced count.
        count: usize,
    },
    /// Every chunk is there but the pieces were not written together.
    Checksum {
        /// The announced count.
        count: usize,
    },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OversizeHeader { len, limit } => write!(
                f,
                "Cookie header is {len} bytes; at most {limit} are read, so the session \
                 cookies were ignored"
            ),
            Self::Duplicate { chunk: None } => f.write_str(
                "the session cookie came more than once (different Path or Domain?); \
                 refusing to pick one",
            ),
            Self::Duplicate { chunk: Some(n) } => write!(
                f,
                "session chunk {n} came more than once (different Path or Domain?); \
                 refusing to pick one"
            ),
            Self::Mixed { chunks } => write!(
                f,
                "both the unchunked session cookie and {chunks} chunk cookie(s) came; \
                 expected one form only"
            ),
            Self::FirstMissing { present } => write!(
                f,
                "session chunk 0 (which carries the count) is missing while {present} other \
                 chunk(s) came"
            ),
            Self::BadHeader => {
                f.write_str("session chunk 0 does not start with `<count>~<checksum>~`")
            }
            Self::BadCount { count } => write!(
                f,
                "session chunk 0 announces {count} chunks; expected between 2 and {}",
                super::MAX_CHUNKS
            ),
            Self::Missing { index, count } => {
                write!(f, "session chunk {index} of {count} is missing")
            }
            Self::Extra { index, count } => write!(
                f,
                "session chunk {index} came but chunk 0 announces only {count} (0..={})",
                count.saturating_sub(1)
            ),
            Self::Checksum { count } => write!(
                f,
                "the {count} session chunks were not written together (checksum mismatch)"
            ),
        }
    }
}

impl std::error::Error for ChunkError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn messages_name_the_setting_and_escape_control_characters() {
        let e = CookieError::PrefixRequiresSecure { name: "__Host-s".into(), prefix: "__Host-" };
        assert_eq!(
            e.to_string(),
            "cookie name `__Host-s` starts with `__Host-` and so requires Secure \
             (COOKIE_SECURE=true)"
        );
        let e = CookieError::InvalidName { name: "a\r\nb".into(), problem: "is bad" };
        let text = e.to_string();
        assert!(!text.contains('\r') && !text.contains('\n'), "{text}");
        assert!(text.contains("a\\r\\nb"), "{text}");
        let e = CookieError::TooLarge { size: 13208, cap: 16000, max_chunks: 4 };
        assert_eq!(
            e.to_string(),
            "session is 13208 bytes sealed; at most 4 cookies of 4096 bytes (about 16000 \
             bytes) are allowed (COOKIE_MAX_CHUNKS)"
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn chunk_errors_say_what_was_expected() {
        assert_eq!(
            ChunkError::Missing { index: 1, count: 3 }.to_string(),
            "session chunk 1 of 3 is missing"
        );
        assert_eq!(
            ChunkError::Extra { index: 3, count: 3 }.to_string(),
            "session chunk 3 came but chunk 0 announces only 3 (0..=2)"
        );
        assert!(ChunkError::BadCount { count: 99 }.to_string().contains("between 2 and 16"));
        assert!(ChunkError::OversizeHeader { len: 70000, limit: 16384 }
            .to_string()
            .contains("70000 bytes; at most 16384"));
    }
}
