//! A user's value shown inside an error message: control characters escaped (`\n`,
//! `\r`, `\t`, `\u{1b}`), so that a message stays one line and a log cannot be forged.
//! Like `str::escape_debug`, whose formatting machinery costs the worker kilobytes.

use std::fmt;

/// Shows the string with its control characters escaped.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.char_indices() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_str(self.0.get(i..i + c.len_utf8()).unwrap_or_default())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        let shown = Escaped("a\r\nb\t\u{1b}[31mé🚀\u{7f}").to_string();
        assert_eq!(shown, "a\\r\\nb\\t\\u{1b}[31mé🚀\\u{7f}");
        assert_eq!(Escaped("").to_string(), "");
    }
}
