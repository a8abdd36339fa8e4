//! Path hygiene, the content-hash recogniser and content types.
//!
//! Request paths are percent-decoded exactly once. Refused (→ [`PathError`]):
//! longer than [`MAX_PATH_BYTES`], a bad `%` escape, an encoded `/` or `\`
//! (`%2F`, `%5C`), NUL or any other control character (raw or encoded), a raw `\`,
//! a `.` or `..` segment (raw or encoded), an empty segment (`//`), or bytes that
//! are not UTF-8. The router answers such a path 400 when it is asset-looking and
//! otherwise hands it to the origin untouched: the origin owns its own URL space.

use std::fmt;

use crate::http::percent_decoded;

/// The longest request path or manifest key, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong(usize),
    /// Does not start with `/` (requests) or does (manifest keys).
    NotRooted,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` or `%5C`: a separator hidden from routing.
    EncodedSeparator,
    /// A NUL byte, raw or `%00`.
    Nul,
    /// Another control character.
    ControlChar,
    /// A raw backslash.
    Backslash,
    /// A `.` or `..` segment.
    DotSegment,
    /// An empty segment (`//`), or an empty manifest key.
    EmptySegment,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::TooLong(n) => {
                write!(f, "path is {n} bytes; at most {MAX_PATH_BYTES} are allowed")
            }
            PathError::NotRooted => f.write_str("path must start with `/` (keys must not)"),
            PathError::BadEscape => f.write_str("`%` must be followed by two hex digits"),
            PathError::EncodedSeparator => {
                f.write_str("encoded `/` or `\\` (%2F, %5C) is not allowed")
            }
            PathError::Nul => f.write_str("NUL byte in path"),
            PathError::ControlChar => f.write_str("control character in path"),
            PathError::Backslash => f.write_str("backslash in path"),
            PathError::DotSegment => f.write_str("`.` or `..` segment in path"),
            PathError::EmptySegment => f.write_str("empty path segment"),
            PathError::NotUtf8 => f.write_str("path is not UTF-8 once decoded"),
        }
    }
}

impl std::error::Error for PathError {}

/// Percent-decodes a request path (starting with `/`) and checks it; returns it
/// without the leading `/` (`""` for the root, `"docs/"` for a directory).
///
/// # Errors
/// See the module documentation.
pub fn decode_path(raw: &str) -> Result<String, PathError> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong(raw.len()));
    }
    let rest = raw.strip_prefix('/').ok_or(PathError::NotRooted)?;
    let mut out = Vec::with_capacity(rest.len());
    for decoded in percent_decoded(rest) {
        let b = match decoded.ok_or(PathError::BadEscape)? {
            (b'/' | b'\\', true) => return Err(PathError::EncodedSeparator),
            (b'\\', false) => return Err(PathError::Backslash),
            (b, _) => b,
        };
        check_byte(b)?;
        out.push(b);
    }
    let text = String::from_utf8(out).map_err(|_| PathError::NotUtf8)?;
    let mut segments = text.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg == "." || seg == ".." {
            return Err(PathError::DotSegment);
        }
        if seg.is_empty() && !last {
            return Err(PathError::EmptySegment);
        }
    }
    Ok(text)
}

fn check_byte(b: u8) -> Result<(), PathError> {
    match b {
        0 => Err(PathError::Nul),
        1..=0x1f | 0x7f => Err(PathError::ControlChar),
        _ => Ok(()),
    }
}

/// The manifest key of a decoded request path: `""` → `index.html`,
/// `docs/` → `docs/index.html`, anything else unchanged.
pub fn key_for(decoded: &str) -> String {
    if decoded.is_empty() || decoded.ends_with('/') {
        format!("{decoded}index.html")
    } else {
        decoded.to_owned()
    }
}

/// Checks a manifest key (a file path relative to the published directory, `/`
/// separated): same rules as request paths, plus not empty and no leading or
/// trailing `/`.
///
/// # Errors
/// The first rule broken.
pub fn validate_key(key: &str) -> Result<(), PathError> {
    if key.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong(key.len()));
    }
    if key.starts_with('/') {
        return Err(PathError::NotRooted);
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return Err(PathError::EmptySegment);
        }
        if seg == "." || seg == ".." {
            return Err(PathError::DotSegment);
        }
        if seg.contains('\\') {
            return Err(PathError::Backslash);
        }
        seg.bytes().try_for_each(check_byte)?;
    }
    Ok(())
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn extension(path: &str) -> Option<String> {
    let name = file_name(path);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Recognises content-hashed file names, as bundlers write them:
/// `[name].[hash].ext`, `[name]-[hash].ext`, `[hash].ext` or `[name].[hash].chunk.ext`
/// (also with a `.map` suffix). A hash token is a `.`-separated part of the stem, or
/// what follows a `-` in one, and is:
/// - 8 to 64 hex digits of one case (webpack `[contenthash]`, Parcel, Next.js), or
/// - exactly 8 characters of `A-Z a-z 0-9 _ -`, with a digit or an upper-case letter
///   among them (Rollup/Vite base64url hashes, which may begin with `-` or `_`, as in
///   `lazy--Y7IcKfR.js`; esbuild's base32 `[hash]`).
///
/// This is publish's last resort (see `assets::immutable`, which prefers the
/// bundler's own record). Known limits: a name like `page-Settings.js` (8 letters,
/// mixed case) counts as hashed, and a Vite hash of only lower-case letters, `-`
/// and `_` (about 1 in 800) does not: publish with the bundler's manifest, or mark
/// the folder with `--immutable-prefix`.
pub fn is_content_hashed(path: &str) -> bool {
    let name = file_name(path);
    let name = name.strip_suffix(".map").unwrap_or(name);
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    hash_tokens(stem).any(|t| is_hash_token(t, false))
}

/// The places a bundler puts a hash in a file's stem: the whole stem, each
/// `.`-separated part after the first (the first is the `[name]`), and whatever
/// follows each `-` inside a part (so `a--X.js` offers `-X`).
pub(crate) fn hash_tokens(stem: &str) -> impl Iterator<Item = &str> {
    let later_parts = stem.split('.').skip(1).filter(move |p| p.len() < stem.len());
    let after_dash = stem
        .split('.')
        .flat_map(|part| part.match_indices('-').filter_map(move |(i, _)| part.get(i + 1..)));
    std::iter::once(stem).chain(later_parts).chain(after_dash)
}

/// True for a hash token (see [`is_content_hashed`]). With `any_case`, an 8-character
/// token may be all lower-case letters: for names a bundler's record lists.
pub(crate) fn is_hash_token(t: &str, any_case: bool) -> bool {
    let b = t.as_bytes();
    let hex_lower = b.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
    let hex_upper = b.iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
    if (8..=64).contains(&b.len()) && (hex_lower || hex_upper) {
        return true;
    }
    let distinctive = |c: &u8| c.is_ascii_digit() || c.is_ascii_uppercase();
    b.len() == 8
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && b.iter().any(u8::is_ascii_alphanumeric)
        && (any_case || b.iter().any(distinctive))
}

/// Extensions of files that are never pages: code, styles, images, fonts, media,
/// wasm, source maps. A missing path with one of these is a 404, never the SPA
/// fallback and never the origin.
const ASSET_EXTENSIONS: &[&str] = &[
    "js",
    "mjs",
    "cjs",
    "css",
    "map",
    "wasm",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "bmp",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "mp4",
    "webm",
    "ogg",
    "mp3",
    "wav",
    "pdf",
    "webmanifest",
];

/// True when the path's extension is one of the static asset extensions (see
/// `ASSET_EXTENSIONS`) or the name is content-hashed.
pub fn is_asset_like(path: &str) -> bool {
    extension(path).is_some_and(|e| ASSET_EXTENSIONS.contains(&e.as_str()))
        || is_content_hashed(path)
}

/// The `Content-Type` for a file, by extension; text types carry `charset=utf-8`.
/// Unknown extensions are `application/octet-stream`.
pub fn content_type_for(path: &str) -> &'static str {
    match extension(path).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs" | "cjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json; charset=utf-8",
        Some("webmanifest") => "application/manifest+json; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("xml") => "application/xml; charset=utf-8",
        Some("svg") => "image/svg+xml; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("bmp") => "image/bmp",
        Some("ico") => "image/x-icon",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("eot") => "application/vnd.ms-fontobject",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("ogg") => "audio/ogg",
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn decodes_good_paths() {
        assert_eq!(decode_path("/").unwrap(), "");
        assert_eq!(decode_path("/docs/").unwrap(), "docs/");
        assert_eq!(decode_path("/a%20b/c%C3%A9.js").unwrap(), "a b/cé.js");
        assert_eq!(decode_path("/a+b").unwrap(), "a+b");
        assert_eq!(decode_path("/%2e%2efoo").unwrap(), "..foo");
        assert_eq!(key_for(""), "index.html");
        assert_eq!(key_for("docs/"), "docs/index.html");
        assert_eq!(key_for("a.js"), "a.js");
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn refuses_bad_paths() {
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        let cases: &[(&str, PathError)] = &[
            (&long, PathError::TooLong(MAX_PATH_BYTES + 1)),
            ("a.js", PathError::NotRooted),
            ("/a%2", PathError::BadEscape),
            ("/a%zz", PathError::BadEscape),
            ("/a%", PathError::BadEscape),
            ("/a%2fb", PathError::EncodedSeparator),
            ("/a%2Fb", PathError::EncodedSeparator),
            ("/a%5cb", PathError::EncodedSeparator),
            ("/a%00b", PathError::Nul),
            ("/a\0b", PathError::Nul),
            ("/a%0Ab", PathError::ControlChar),
            ("/a%7f", PathError::ControlChar),
            ("/a\\b", PathError::Backslash),
            ("/../etc/passwd", PathError::DotSegment),
            ("/a/%2e%2e/b", PathError::DotSegment),
            ("/a/%2E/b", PathError::DotSegment),
            ("/a/./b", PathError::DotSegment),
            ("/a/..", PathError::DotSegment),
            ("/a//b", PathError::EmptySegment),
            ("//", PathError::EmptySegment),
            ("/%ff%fe", PathError::NotUtf8),
            ("/%c3", PathError::NotUtf8),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_path(raw), Err(*want), "{raw:?}");
        }
        assert!(decode_path(&format!("/{}", "a".repeat(MAX_PATH_BYTES - 1))).is_ok());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn validates_manifest_keys() {
        for good in ["index.html", "assets/app.3f2a1b9c.js", "a b/é.txt", ".well-known/x"] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        let cases: &[(&str, PathError)] = &[
            ("", PathError::EmptySegment),
            ("/a", PathError::NotRooted),
            ("a/", PathError::EmptySegment),
            ("a//b", PathError::EmptySegment),
            ("a/../b", PathError::DotSegment),
            ("./a", PathError::DotSegment),
            ("a\\b", PathError::Backslash),
            ("a\0", PathError::Nul),
            ("a\nb", PathError::ControlChar),
        ];
        for (key, want) in cases {
            assert_eq!(validate_key(key), Err(*want), "{key:?}");
        }
        assert!(validate_key(&"a".repeat(MAX_PATH_BYTES + 1)).is_err());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn recognises_content_hashed_names() {
        for hashed in [
            "app.3f2a1b9c.js",
            "assets/chunk-3f2a1b9c.js",
            "assets/index-D8cyZ-_q.js",
            "assets/index-BfX3kq_T.css",
            "chunk-5ZUBHDB4.js",
            "chunk-ABCDEFGH.js",
            "main.3f2a1b9c4d5e6f708192.js",
            "3f2a1b9c4d5e.js",
            "app.3f2a1b9c.js.map",
            "logo.DEADBEEF.png",
            "_next/static/chunks/framework-2c79e2a64abdb08b.js",
            "assets/lazy--Y7IcKfR.js",
            "assets/lazy-_Y7IcKfR.css",
            "assets/index-_abc-d1f.js",
            "static/js/main.8c8b27cf.chunk.js",
        ] {
            assert!(is_content_hashed(hashed), "{hashed}");
        }
        for plain in [
            "app.js",
            "index.html",
            "jquery.min.js",
            "vendor-react-dom.js",
            "report-2024-final.pdf",
            "my-component-settings.js",
            "app.production.js",
            "favicon.ico",
            "3f2a1b9c",
            "app.3f2a1b9.js",
            "Settings.settings.js",
            "a.js.LICENSE.txt",
            "img/photo-12345678-.jpg",
            "my--settings.js",
            "foo--bar-baz.js",
            "a-________.js",
        ] {
            assert!(!is_content_hashed(plain), "{plain}");
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn asset_likeness_and_types() {
        assert!(is_asset_like("x/app.js"));
        assert!(is_asset_like("FONT.WOFF2"));
        assert!(!is_asset_like("index.html"));
        assert!(!is_asset_like("about"));
        assert!(!is_asset_like("data.json"));
        assert!(!is_asset_like(".js"));
        assert_eq!(content_type_for("a/b.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type_for("x.woff2"), "font/woff2");
        assert_eq!(content_type_for("README"), "application/octet-stream");
        assert_eq!(content_type_for(".htaccess"), "application/octet-stream");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoding_never_panics_and_accepted_paths_are_clean(raw in "/[a-zA-Z0-9%./\\\\\\x00-\\x1f~é-]{0,40}") {
            if let Ok(decoded) = decode_path(&raw) {
                prop_assert!(!decoded.split('/').any(|s| s == "." || s == ".."));
                prop_assert!(!decoded.contains('\\') && !decoded.chars().any(char::is_control));
                let key = key_for(&decoded);
                prop_assert_eq!(validate_key(&key), Ok(()));
            }
        }

        #[test]
        fn classifiers_never_panic(name in "\\PC{0,60}") {
            let _ = is_content_hashed(&name);
            let _ = is_asset_like(&name);
            let _ = content_type_for(&name);
            let _ = validate_key(&name);
        }
    }
}
