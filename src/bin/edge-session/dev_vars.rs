//! `.dev.vars` files: `NAME=VALUE` lines, values optionally in `"…"` or `'…'`,
//! `#` comments and blank lines skipped (what wrangler reads for local secrets).

use std::path::Path;

/// Every `NAME=VALUE` entry of `text`, in order.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches(['"', '\'']).to_owned()))
        .collect()
}

/// The value of `name` in the file at `path`, if the file and the entry exist.
pub fn read(path: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    parse(&text).into_iter().find_map(|(k, v)| (k == name).then_some(v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn entries_quotes_and_comments() {
        let text = "# local\nSESSION_KEYS=\"k1:abc\"\n\nORIGIN_SECRET='s=1'\nPLAIN = v \n";
        let got = super::parse(text);
        let want = [("SESSION_KEYS", "k1:abc"), ("ORIGIN_SECRET", "s=1"), ("PLAIN", "v")];
        assert_eq!(got.len(), 3);
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }
}
