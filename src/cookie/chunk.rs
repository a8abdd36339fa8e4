//! Writing a sealed value as one cookie or as chunk cookies, and expiring whatever the
//! browser holds that the new set does not overwrite. See the module docs of
//! [`cookie`](super) for the chunk format.

use super::options::check_value;
use super::parse::{classify, NameKind};
use super::{
    attributes, is_session_cookie_name, line, CookieError, CookieOptions, SessionCookies,
    SetCookie, MAX_SET_COOKIE_LEN,
};

/// Length of the checksum in chunk 0's header (8 hex digits).
const SUM_LEN: usize = 8;

/// FNV-1a, 32 bits: a cheap, dependency-free consistency check (not a MAC).
pub(super) fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Number of decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Bytes of `<n>~<hex8>~`.
fn head_len(n: usize) -> usize {
    digits(n) + 1 + SUM_LEN + 1
}

/// How much of the sealed value chunk `i` of `n` can carry: the line budget minus
/// `<name>.<i>=`, the attributes and (for chunk 0) the header.
fn chunk_capacity(name_len: usize, attrs_len: usize, i: usize, n: usize) -> usize {
    let head = if i == 0 { head_len(n) } else { 0 };
    let overhead = name_len + 1 + digits(i) + 1 + attrs_len + head;
    MAX_SET_COOKIE_LEN.saturating_sub(overhead)
}

/// Total sealed bytes `n` chunks can carry.
fn capacity(name_len: usize, attrs_len: usize, n: usize) -> usize {
    (0..n).map(|i| chunk_capacity(name_len, attrs_len, i, n)).sum()
}

/// One cookie, or `n` chunk cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Single,
    Chunked(usize),
}

impl Plan {
    /// Whether writing this plan overwrites the cookie `name` of kind `kind`.
    fn overwrites(self, kind: Option<NameKind>) -> bool {
        match (self, kind) {
            (Plan::Single, Some(NameKind::Base)) => true,
            (Plan::Chunked(n), Some(NameKind::Chunk(i))) => i < n,
            _ => false,
        }
    }
}

/// The fewest cookies that hold `len` bytes, or the `TooLarge` error.
fn plan(opts: &CookieOptions, len: usize, attrs_len: usize) -> Result<Plan, CookieError> {
    let name_len = opts.name.len();
    let single = MAX_SET_COOKIE_LEN.saturating_sub(name_len + 1 + attrs_len);
    if len <= single {
        return Ok(Plan::Single);
    }
    if let Some(n) = (2..=opts.max_chunks).find(|&n| capacity(name_len, attrs_len, n) >= len) {
        return Ok(Plan::Chunked(n));
    }
    let cap =
        if opts.max_chunks >= 2 { capacity(name_len, attrs_len, opts.max_chunks) } else { single };
    Err(CookieError::TooLarge { size: len, cap, max_chunks: opts.max_chunks })
}

/// The `Set-Cookie` lines that store `value` (a sealed session) for `max_age`
/// seconds: one cookie named `opts.name` when the whole line fits 4096 bytes,
/// otherwise the fewest chunk cookies `<name>.0 … <name>.<n-1>` that fit. Then a
/// `Max-Age=0` line (same Path, Domain and flags) for every session cookie in
/// `present` that the new set does not overwrite: stale chunks when the count
/// shrinks, the unchunked name when now chunked, chunk names when now unchunked, and
/// stray chunk-like names.
///
/// Every line is at most [`MAX_SET_COOKIE_LEN`] bytes. `present` should come from
/// the same `opts`; names in it that are not session names for `opts` are ignored.
///
/// # Errors
/// - any [`CookieOptions::validate`] error;
/// - [`CookieError::InvalidValue`] when `value` holds a byte outside cookie-octet
///   (RFC 6265 §4.1.1) — such a value is never emitted;
/// - [`CookieError::TooLarge`] when more than `opts.max_chunks` cookies are needed.
///
/// # Example
/// ```
/// use edge_session::cookie::{encode, CookieOptions, SessionCookies};
/// let opts = CookieOptions::default();
/// let none = SessionCookies::default();
/// let lines = encode(&opts, "v1.k1.AAAA", 3600, &none).unwrap();
/// assert_eq!(lines.len(), 1);
/// assert_eq!(
///     lines[0].as_str(),
///     "__Host-session=v1.k1.AAAA; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax"
/// );
/// let big = "A".repeat(10_000);
/// let lines = encode(&opts, &big, 3600, &none).unwrap();
/// assert_eq!(lines.len(), 3);
/// assert!(lines[0].as_str().starts_with("__Host-session.0=3~"));
/// ```
pub fn encode(
    opts: &CookieOptions,
    value: &str,
    max_age: u64,
    present: &SessionCookies,
) -> Result<Vec<SetCookie>, CookieError> {
    opts.validate()?;
    check_value(&opts.name, value)?;
    let attrs = attributes(opts, max_age);
    let plan = plan(opts, value.len(), attrs.len())?;
    let mut out = Vec::new();
    match plan {
        Plan::Single => out.push(line(&opts.name, [value, ""], &attrs)?),
        Plan::Chunked(n) => {
            let head = format!("{n}~{:08x}~", fnv1a32(value.as_bytes()));
            let mut rest = value;
            for i in 0..n {
                let take = chunk_capacity(opts.name.len(), attrs.len(), i, n).min(rest.len());
                // `value` is ASCII (checked above), so every offset is a char boundary.
                let (part, tail) = rest.split_at_checked(take).ok_or_else(|| {
                    non_ascii(&opts.name, value.len().saturating_sub(rest.len()) + take)
                })?;
                rest = tail;
                let name = format!("{}.{i}", opts.name);
                let head = if i == 0 { head.as_str() } else { "" };
                out.push(line(&name, [head, part], &attrs)?);
            }
            if !rest.is_empty() {
                // Unreachable: plan() chose n so that the chunks hold the value.
                let cap = capacity(opts.name.len(), attrs.len(), n);
                let max_chunks = opts.max_chunks;
                return Err(CookieError::TooLarge { size: value.len(), cap, max_chunks });
            }
        }
    }
    out.extend(removals(opts, present, Some(plan))?);
    Ok(out)
}

/// Error for a value that is not splittable at `offset` (unreachable after
/// `check_value`, kept so no path can panic).
fn non_ascii(name: &str, offset: usize) -> CookieError {
    CookieError::InvalidValue { name: name.to_owned(), offset, found: "a non-ASCII byte" }
}

/// `Max-Age=0` lines for the session cookies in `present` that `plan` does not
/// overwrite (all of them for `None`).
fn removals(
    opts: &CookieOptions,
    present: &SessionCookies,
    plan: Option<Plan>,
) -> Result<Vec<SetCookie>, CookieError> {
    let attrs = attributes(opts, 0);
    present
        .names()
        .filter(|name| is_session_cookie_name(opts, name))
        .filter(|name| !plan.is_some_and(|p| p.overwrites(classify(&opts.name, name))))
        .map(|name| line(name, ["", ""], &attrs))
        .collect()
}

/// `Max-Age=0` lines expiring every session cookie the request carried (nothing when
/// it carried none), with the same Path, Domain and flags they were written with.
///
/// `opts` are expected to be valid (checked when loaded); if they are not, nothing is
/// returned rather than a malformed header.
///
/// # Example
/// ```
/// use edge_session::cookie::{clear, CookieOptions, SessionCookies};
/// let opts = CookieOptions::default();
/// let present = SessionCookies::from_header(&opts, Some("a=1; __Host-session=x"));
/// let lines = clear(&opts, &present);
/// assert_eq!(
///     lines[0].as_str(),
///     "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
/// );
/// assert!(clear(&opts, &SessionCookies::default()).is_empty());
/// ```
pub fn clear(opts: &CookieOptions, present: &SessionCookies) -> Vec<SetCookie> {
    if opts.validate().is_err() {
        return Vec::new();
    }
    removals(opts, present, None).unwrap_or_default()
}

#[cfg(test)]
mod tests;
