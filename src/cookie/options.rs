//! Cookie settings and the syntax rules every cookie this crate writes obeys.
//!
//! Invariants enforced here, once, when settings are loaded ([`CookieOptions::validate`])
//! and again for every line written (so a `Set-Cookie` line can never carry CR, LF, `;`
//! in the wrong place, or break a prefix rule):
//! - names are RFC 6265 tokens (§4.1.1 → RFC 2616 §2.2), 1 to 64 bytes, and do not end
//!   with `.<digits>` (that suffix names session chunks);
//! - values are cookie-octets (RFC 6265 §4.1.1);
//! - `__Secure-` / `__Host-` rules (RFC 6265bis §4.1.3.1, §4.1.3.2), matched
//!   case-insensitively as user agents do since 6265bis draft 11;
//! - `SameSite=None` requires `Secure` (draft-west-cookie-incrementalism; browsers
//!   reject such cookies since 2020);
//! - path and domain are short, printable and free of `;` (attribute values longer than
//!   1024 bytes are ignored by user agents, RFC 6265bis §5.6).

use super::{CookieError, MAX_CHUNKS};

/// The `SameSite` attribute (RFC 6265bis §4.1.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Also sent on top-level cross-site navigations (the default).
    Lax,
    /// Sent on all requests; requires `Secure`.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie` (`Strict`, `Lax` or `None`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

impl std::fmt::Display for SameSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the session cookie is named and which attributes it carries.
///
/// `Default` is the safest choice: a host-only `__Host-session` cookie, `Secure`,
/// `HttpOnly`, `SameSite=Lax`, `Path=/`, at most 4 chunks.
///
/// # Example
/// ```
/// use edge_session::cookie::CookieOptions;
/// let opts = CookieOptions::default();
/// assert!(opts.validate().is_ok());
/// let bad = CookieOptions { secure: false, ..CookieOptions::default() };
/// assert!(bad.validate().unwrap_err().to_string().contains("COOKIE_SECURE=true"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieOptions {
    /// Cookie name; chunks are named `<name>.0`, `<name>.1`, …
    /// Defaults to `__Host-session`.
    pub name: String,
    /// Write the `Secure` attribute. Defaults to `true`.
    pub secure: bool,
    /// Write the `HttpOnly` attribute. Defaults to `true`.
    pub http_only: bool,
    /// The `SameSite` attribute. Defaults to [`SameSite::Lax`].
    pub same_site: SameSite,
    /// The `Path` attribute. Defaults to `/`.
    pub path: String,
    /// The `Domain` attribute; `None` makes a host-only cookie. Defaults to `None`.
    pub domain: Option<String>,
    /// The most cookies one session may be split across, `1..=16`. Defaults to 4.
    pub max_chunks: usize,
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            name: "__Host-session".to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
            max_chunks: 4,
        }
    }
}

impl CookieOptions {
    /// Checks every setting and their combinations.
    ///
    /// # Errors
    /// The first problem found, as a [`CookieError`] whose message names the setting
    /// (`COOKIE_NAME`, `COOKIE_SECURE`, `COOKIE_PATH`, `COOKIE_DOMAIN`,
    /// `COOKIE_SAMESITE`, `COOKIE_MAX_CHUNKS`).
    pub fn validate(&self) -> Result<(), CookieError> {
        check_attributes(self)?;
        check_name(&self.name, self)?;
        if !(1..=MAX_CHUNKS).contains(&self.max_chunks) {
            return Err(CookieError::MaxChunksOutOfRange { got: self.max_chunks, max: MAX_CHUNKS });
        }
        Ok(())
    }
}

/// Longest cookie name accepted.
pub(super) const MAX_NAME_LEN: usize = 64;
/// Longest path accepted (RFC 6265bis §5.6: longer attribute values are ignored).
const MAX_PATH_LEN: usize = 1024;
/// Longest domain accepted (RFC 1035 §2.3.4 limits, as text without the root dot).
const MAX_DOMAIN_LEN: usize = 253;

/// RFC 2616 §2.2 `separators`, which a token must not contain.
fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
            | b'{'
            | b'}'
            | b' '
            | b'\t'
    )
}

/// Whether `b` is a token character (RFC 2616 §2.2: CHAR except CTLs and separators).
pub(super) fn is_token_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !is_separator(b)
}

/// Whether `b` is a cookie-octet (RFC 6265 §4.1.1):
/// `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
pub(super) fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Whether `s` is a non-empty run of ASCII digits.
pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` starts with `prefix`, ignoring ASCII case.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Checks a cookie name: token syntax, length, the reserved chunk suffix, and the
/// prefix rules against the attributes in `opts`.
pub(super) fn check_name(name: &str, opts: &CookieOptions) -> Result<(), CookieError> {
    let invalid = |problem| CookieError::InvalidName { name: name.to_owned(), problem };
    if name.is_empty() {
        return Err(invalid("is empty; a token of 1 to 64 bytes is required"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid("is longer than 64 bytes"));
    }
    if !name.bytes().all(is_token_byte) {
        return Err(invalid(
            "contains a space, control character, non-ASCII byte or one of ()<>@,;:\\\"/[]?={} \
             (RFC 6265 §4.1.1 requires a token)",
        ));
    }
    if name.rsplit_once('.').is_some_and(|(_, tail)| all_digits(tail)) {
        return Err(invalid("ends with `.<digits>`, which is reserved for session chunks"));
    }
    // RFC 6265bis §4.1.3.2 (__Host-) and §4.1.3.1 (__Secure-).
    if has_prefix(name, "__Host-") {
        if !opts.secure {
            return Err(CookieError::PrefixRequiresSecure {
                name: name.to_owned(),
                prefix: "__Host-",
            });
        }
        if opts.path != "/" {
            return Err(CookieError::HostPrefixRequiresRootPath {
                name: name.to_owned(),
                path: opts.path.clone(),
            });
        }
        if opts.domain.is_some() {
            return Err(CookieError::HostPrefixForbidsDomain { name: name.to_owned() });
        }
    } else if has_prefix(name, "__Secure-") && !opts.secure {
        return Err(CookieError::PrefixRequiresSecure {
            name: name.to_owned(),
            prefix: "__Secure-",
        });
    }
    Ok(())
}

/// Checks the attributes that do not depend on the name: path, domain, SameSite.
pub(super) fn check_attributes(opts: &CookieOptions) -> Result<(), CookieError> {
    check_path(&opts.path)?;
    if let Some(domain) = &opts.domain {
        check_domain(domain)?;
    }
    // draft-west-cookie-incrementalism ("SameSite=None requires Secure"), enforced by
    // current browsers: such a cookie would be dropped.
    if opts.same_site == SameSite::None && !opts.secure {
        return Err(CookieError::SameSiteNoneRequiresSecure);
    }
    Ok(())
}

/// RFC 6265 §4.1.1: `path-value = <any CHAR except CTLs or ";">`; we also require the
/// leading `/` (§5.2.4 ignores other paths) and refuse non-ASCII.
fn check_path(path: &str) -> Result<(), CookieError> {
    let invalid = |problem| CookieError::InvalidPath { path: path.to_owned(), problem };
    if !path.starts_with('/') {
        return Err(invalid("must start with `/`"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(invalid("is longer than 1024 bytes (RFC 6265bis §5.6)"));
    }
    if !path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';') {
        return Err(invalid("contains `;`, a control character or a non-ASCII byte"));
    }
    Ok(())
}

/// A plausible host name: dot-separated labels of letters, digits and `-` (not at a
/// label's ends), each 1 to 63 bytes, 253 bytes in all. A leading dot is refused
/// rather than silently dropped (RFC 6265 §5.2.3 ignores it).
fn check_domain(domain: &str) -> Result<(), CookieError> {
    let invalid = |problem| CookieError::InvalidDomain { domain: domain.to_owned(), problem };
    if domain.is_empty() {
        return Err(invalid("is empty; unset COOKIE_DOMAIN for a host-only cookie"));
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(invalid("is longer than 253 bytes"));
    }
    if domain.starts_with('.') {
        return Err(invalid("starts with `.`; drop it (user agents ignore it, RFC 6265 §5.2.3)"));
    }
    if domain.ends_with('.') {
        return Err(invalid("ends with `.`; it would not domain-match the host (RFC 6265 §5.1.3)"));
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(invalid("contains an empty label (`..`)"));
        }
        if label.len() > 63 {
            return Err(invalid("has a label longer than 63 bytes"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("may contain only letters, digits, `-` and `.`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("has a label starting or ending with `-`"));
        }
    }
    Ok(())
}

/// Checks that every byte of `value` is a cookie-octet. The error says where and what
/// kind of byte, never the value.
pub(super) fn check_value(name: &str, value: &str) -> Result<(), CookieError> {
    let Some((offset, &b)) =
        value.as_bytes().iter().enumerate().find(|(_, &b)| !is_cookie_octet(b))
    else {
        return Ok(());
    };
    let found = match b {
        b'\r' | b'\n' => "a line break (CR or LF)",
        0..=0x1f | 0x7f => "a control character",
        b' ' => "a space",
        b'"' => "a double quote",
        b',' => "a comma",
        b';' => "a semicolon",
        b'\\' => "a backslash",
        _ => "a non-ASCII byte",
    };
    Err(CookieError::InvalidValue { name: name.to_owned(), offset, found })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CookieOptions {
        CookieOptions::default()
    }

    fn err(o: &CookieOptions) -> CookieError {
        match o.validate() {
            Err(e) => e,
            Ok(()) => panic!("expected {o:?} to be refused"),
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn default_is_valid_and_secure() {
        let o = opts();
        assert_eq!(o.validate(), Ok(()));
        assert_eq!(o.name, "__Host-session");
        assert!(o.secure && o.http_only && o.domain.is_none());
        assert_eq!((o.same_site, o.path.as_str(), o.max_chunks), (SameSite::Lax, "/", 4));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn host_prefix_rules() {
        let o = CookieOptions { name: "__Host-s".into(), secure: false, ..opts() };
        assert_eq!(
            err(&o).to_string(),
            "cookie name `__Host-s` starts with `__Host-` and so requires Secure \
             (COOKIE_SECURE=true)"
        );
        let o = CookieOptions { path: "/app".into(), ..opts() };
        assert!(matches!(err(&o), CookieError::HostPrefixRequiresRootPath { .. }));
        assert!(err(&o).to_string().contains("COOKIE_PATH"));
        let o = CookieOptions { domain: Some("example.com".into()), ..opts() };
        assert!(matches!(err(&o), CookieError::HostPrefixForbidsDomain { .. }));
        assert!(err(&o).to_string().contains("COOKIE_DOMAIN"));
        // User agents match prefixes case-insensitively; so do we.
        let o = CookieOptions { name: "__host-s".into(), secure: false, ..opts() };
        assert!(matches!(err(&o), CookieError::PrefixRequiresSecure { prefix: "__Host-", .. }));
        let o = CookieOptions { name: "__HOST-s".into(), path: "/x".into(), ..opts() };
        assert!(matches!(err(&o), CookieError::HostPrefixRequiresRootPath { .. }));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn secure_prefix_and_samesite_none_need_secure() {
        let o = CookieOptions { name: "__Secure-s".into(), secure: false, ..opts() };
        assert!(matches!(err(&o), CookieError::PrefixRequiresSecure { prefix: "__Secure-", .. }));
        let o = CookieOptions {
            name: "__Secure-s".into(),
            path: "/app".into(),
            domain: Some("example.com".into()),
            ..opts()
        };
        assert_eq!(o.validate(), Ok(()));
        let o =
            CookieOptions { name: "s".into(), secure: false, same_site: SameSite::None, ..opts() };
        assert_eq!(err(&o), CookieError::SameSiteNoneRequiresSecure);
        assert!(err(&o).to_string().contains("COOKIE_SECURE=true"));
        let o = CookieOptions { name: "s".into(), secure: false, ..opts() };
        assert_eq!(o.validate(), Ok(()), "plain names may be non-Secure (local http dev)");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn names_must_be_tokens_without_chunk_suffix() {
        let long = "a".repeat(65);
        for bad in [
            "",
            "a b",
            "a=b",
            "a;b",
            "a,b",
            "a\"b",
            "a/b",
            "a\tb",
            "a\rb",
            "a\nb",
            "a\u{7f}b",
            "é",
            "a(b",
            "a@b",
            "a:b",
            "a[b",
            "a{b",
            "a?b",
            "a\\b",
            &long,
            "s.0",
            "s.12",
            "__Host-session.3",
        ] {
            let o = CookieOptions { name: bad.into(), ..opts() };
            let e = err(&o);
            assert!(matches!(e, CookieError::InvalidName { .. }), "{bad:?}: {e:?}");
            assert!(e.to_string().contains("COOKIE_NAME"), "{e}");
        }
        for good in ["s", "sess.v2", "s.", "s.1a", "a!#$%&'*+-.^_`|~9", &"a".repeat(64)] {
            let o = CookieOptions { name: good.into(), ..opts() };
            assert_eq!(o.validate(), Ok(()), "{good:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn paths_and_domains() {
        let base = CookieOptions { name: "s".into(), ..opts() };
        let long_path = format!("/{}", "a".repeat(1024));
        for bad in ["", "app", "/a;b", "/a\rb", "/a\nb", "/é", "/a\u{0}", &long_path] {
            let o = CookieOptions { path: bad.into(), ..base.clone() };
            assert!(matches!(err(&o), CookieError::InvalidPath { .. }), "{bad:?}");
        }
        for good in ["/", "/app", "/a b/c,d"] {
            let o = CookieOptions { path: good.into(), ..base.clone() };
            assert_eq!(o.validate(), Ok(()), "{good:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        let long_domain = ["abcdefghi"; 26].join(".");
        for bad in [
            "",
            ".example.com",
            "example.com.",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a b",
            "a;b",
            "é.com",
            "a\r\n",
            &long_label,
            &long_domain,
        ] {
            let o = CookieOptions { domain: Some(bad.into()), ..base.clone() };
            let e = err(&o);
            assert!(matches!(e, CookieError::InvalidDomain { .. }), "{bad:?}");
            assert!(!e.to_string().contains('\r'));
        }
        for good in ["example.com", "localhost", "a-b.example.co.uk", "127.0.0.1"] {
            let o = CookieOptions { domain: Some(good.into()), ..base.clone() };
            assert_eq!(o.validate(), Ok(()), "{good:?}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn max_chunks_range() {
        for bad in [0, 17, usize::MAX] {
            let o = CookieOptions { max_chunks: bad, ..opts() };
            assert_eq!(err(&o), CookieError::MaxChunksOutOfRange { got: bad, max: 16 });
        }
        for good in [1, 16] {
            assert_eq!(CookieOptions { max_chunks: good, ..opts() }.validate(), Ok(()));
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn values_must_be_cookie_octets_and_errors_hide_them() {
        assert_eq!(check_value("s", ""), Ok(()));
        assert_eq!(check_value("s", "v1.k1.AZaz09-_~!#$%&'()*+/:<=>?@[]^`{|}"), Ok(()));
        for (bad, found) in [
            ("secret\r\n", "a line break (CR or LF)"),
            ("secret\n", "a line break (CR or LF)"),
            ("secret\u{0}", "a control character"),
            ("secret\u{7f}", "a control character"),
            ("secret x", "a space"),
            ("secret\"", "a double quote"),
            ("secret,", "a comma"),
            ("secret;", "a semicolon"),
            ("secret\\", "a backslash"),
            ("secretü", "a non-ASCII byte"),
        ] {
            let e = check_value("s", bad).unwrap_err();
            assert_eq!(e, CookieError::InvalidValue { name: "s".into(), offset: 6, found });
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }
}
