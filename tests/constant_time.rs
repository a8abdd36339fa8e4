//! Lint: no secret is compared with `==` / `!=` (issue #6, item 7).
//!
//! Secrets (MAC tags, keys, seeds, signatures, the admin token, …) must be compared
//! with a constant-time primitive (`subtle::ConstantTimeEq`, `Mac::verify_slice`,
//! AEAD decryption), or the time a comparison takes tells an attacker how many
//! leading bytes they guessed right. This test reads every non-test source file
//! under `src/` and fails on an `==` or `!=` whose operand is named like a secret:
//! a path segment whose last `_`-separated word is one of [`SECRET_WORDS`] (so
//! `admin_token` and `expected_tag` count, `token_audience` and `key.alg()` do not).
//! A deliberate exception carries `// ct-ok: <why>` on the same line.
//!
//! Scope: the library (`src/` without `src/bin/`, which holds the CLI and the demo
//! origin, neither on the worker's request path), minus the static-asset modules
//! ([`PUBLIC_ONLY`]), which hold no secret and where "key" and "tag" mean storage
//! keys and ETags.

use std::fs;
use std::path::{Path, PathBuf};

/// Words that name secret material when they end an identifier.
const SECRET_WORDS: &[&str] = &[
    "key",
    "keys",
    "subkey",
    "secret",
    "secrets",
    "tag",
    "mac",
    "hmac",
    "token",
    "signature",
    "sig",
    "password",
    "seed",
    "plaintext",
    "digest",
];

/// Accessors that say nothing new about a value (`x.as_bytes()` is still `x`).
const TRANSPARENT: &[&str] =
    &["as_bytes", "as_slice", "as_str", "as_ref", "to_vec", "to_owned", "clone", "deref", "self"];

/// Modules that only ever handle public data (static files and their manifests).
const PUBLIC_ONLY: &[&str] = &["bin", "assets", "assets.rs", "manifest", "manifest.rs"];

/// Source files that are tests as a whole.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name == "tests.rs" || name.ends_with("_tests.rs") || name == "testkit.rs"
}

/// The lines of `source` that are not test code: items after `#[cfg(test)]` (or any
/// `cfg` naming `test`) are skipped by brace depth. Doc comments and comments go too.
fn non_test_lines(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth: i64 = 0;
    let mut pending_cfg_test = false;
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let code = strip_comment(line);
        let opens = code.matches('{').count() as i64;
        let closes = code.matches('}').count() as i64;
        if let Some(start) = skip_depth {
            depth += opens - closes;
            if depth <= start {
                skip_depth = None;
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(")
            && trimmed.contains("test")
            && !trimmed.contains("not(test")
        {
            pending_cfg_test = true;
            continue;
        }
        if pending_cfg_test && !trimmed.starts_with("#[") {
            pending_cfg_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
            }
            // A one-line item (`mod tests;`, `use …;`) is skipped as it is.
            continue;
        }
        depth += opens - closes;
        if trimmed.starts_with("//") {
            continue;
        }
        out.push((index + 1, code));
    }
    out
}

/// `line` without a trailing `//` comment (one outside string literals).
fn strip_comment(line: &str) -> String {
    let mut in_string = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '/' if !in_string && prev == '/' => return line[..i - 1].to_owned(),
            _ => {}
        }
        prev = c;
    }
    line.to_owned()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The operand text next to an operator: a run of identifiers, `.`, `::`, `&`, `*`,
/// and balanced `()`/`[]` groups, read leftwards (`left`) or rightwards.
fn operand(text: &str, left: bool) -> String {
    let chars: Vec<char> = if left { text.chars().rev().collect() } else { text.chars().collect() };
    let (open, close) = if left { (')', '(') } else { ('(', ')') };
    let (sq_open, sq_close) = if left { (']', '[') } else { ('[', ']') };
    let mut out = String::new();
    let mut depth = 0;
    let mut started = false;
    for c in chars {
        if !started && c == ' ' {
            continue;
        }
        started = true;
        if c == open || c == sq_open {
            depth += 1;
        } else if (c == close || c == sq_close) && depth > 0 {
            depth -= 1;
        } else if depth == 0 && !(is_ident(c) || matches!(c, '.' | ':' | '&' | '*')) {
            break;
        }
        out.push(c);
    }
    if left {
        out.chars().rev().collect()
    } else {
        out
    }
}

/// Whether an operand names a secret: its last meaningful path segment (skipping
/// call arguments and transparent accessors) ends in a secret word.
fn names_secret(operand: &str) -> bool {
    // Drop the contents of call and index groups: `f(key)` is not `key`.
    let mut flat = String::new();
    let mut depth = 0;
    for c in operand.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth == 0 => flat.push(c),
            _ => {}
        }
    }
    let segments: Vec<&str> =
        flat.split(|c: char| !is_ident(c)).filter(|s| !s.is_empty()).collect();
    // Types, enum variants and constants (`AlgorithmFamily::Hmac`) are not values.
    let Some(last) = segments
        .iter()
        .rev()
        .find(|s| !TRANSPARENT.contains(s) && !s.starts_with(|c: char| c.is_ascii_uppercase()))
    else {
        return false;
    };
    let word = last.rsplit('_').next().unwrap_or(last).to_ascii_lowercase();
    SECRET_WORDS.contains(&word.as_str())
}

/// `(line number, operator, left, right)` for every `==`/`!=` on a secret in `source`.
fn findings(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, code) in non_test_lines(source) {
        if code.contains("ct-ok:")
            || source.lines().nth(number - 1).is_some_and(|l| l.contains("ct-ok:"))
        {
            continue;
        }
        let bytes = code.as_bytes();
        let mut i = 0;
        while i + 1 < bytes.len() {
            let pair = if bytes[i + 1] == b'=' && matches!(bytes[i], b'=' | b'!') {
                if bytes[i] == b'=' {
                    "=="
                } else {
                    "!="
                }
            } else {
                ""
            };
            let is_op = !pair.is_empty()
                && bytes.get(i + 2) != Some(&b'=')
                && (i == 0 || !matches!(bytes[i - 1], b'=' | b'!' | b'<' | b'>'));
            if is_op {
                let left = operand(&code[..i], true);
                let right = operand(&code[i + 2..], false);
                if names_secret(&left) || names_secret(&right) {
                    out.push((number, format!("`{}` {pair} `{}`", left.trim(), right.trim())));
                }
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if dir.ends_with("src") && PUBLIC_ONLY.contains(&name) {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(&path) {
            out.push(path);
        }
    }
}

#[test]
fn no_secret_is_compared_with_eq_outside_tests() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 15, "found only {} source files under {}", files.len(), src.display());
    for must in ["config.rs", "keyring.rs", "seal.rs", "provider.rs", "key.rs", "endpoints.rs"] {
        assert!(files.iter().any(|f| f.ends_with(must)), "{must} is not scanned");
    }
    let mut problems = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap();
        for (line, what) in findings(&source) {
            problems.push(format!("{}:{line}: {what}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "secrets compared with ==/!= (use subtle::ConstantTimeEq, or mark `// ct-ok: <why>`):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_constant_time_primitives_are_in_place() {
    let read = |p: &str| fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap();
    let config = read("src/config.rs");
    let matches = config.split("fn matches").nth(1).expect("AdminToken::matches exists");
    let body = &matches[..matches.find("\n    }").unwrap()];
    assert!(body.contains("ct_eq"), "the admin token is compared with ct_eq");
    assert!(read("src/jwt/provider.rs").contains("verify_slice"), "HMAC tags via verify_slice");
    assert!(
        read("src/hotpath/src/keyring.rs").contains("ct_eq"),
        "subkeys compare in constant time"
    );
    assert!(read("src/jwt/key.rs").contains("ct_eq"), "JWT keys compare in constant time");
}

#[test]
fn the_lint_catches_what_it_should_and_nothing_else() {
    let flagged = [
        "if tag == expected { return; }",
        "let ok = mac.as_slice() != sig;",
        "if self.admin_token == presented {",
        "return computed_signature == provided;",
        "if key.as_bytes() == other.as_bytes() {",
        "assert!(h(x) == secret);",
        "if (a, b) == (1, 2) || seed == [0; 32] {",
    ];
    for line in flagged {
        assert_eq!(findings(line).len(), 1, "not flagged: {line}");
    }
    let clean = [
        "if token_audience == origin_audience {",
        "if key.alg() != alg {",
        "if token.len() == 0 {",
        "if kid == Some(\"k1\") {",
        "if name == \"token\" {",
        "if self.primary.kid.as_str() == kid {",
        "let ok = tag.ct_eq(&expected).into();",
        "if tag == expected { // ct-ok: public test vector",
        "if family != AlgorithmFamily::Hmac {",
        "// if tag == expected {",
        "if a <= b || c >= d || e => f {",
        "let x = tag_len == 16;",
    ];
    for line in clean {
        assert!(findings(line).is_empty(), "flagged: {line}: {:?}", findings(line));
    }
    // Test modules are not production code.
    let with_tests = "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn t() { assert!(tag == tag2); }\n}\nfn g(tag: u8) -> bool { tag == 1 }\n";
    let found = findings(with_tests);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 6);
}
