//! [`InlineAscii`]: a short ASCII identifier kept inline, for key ids and session ids.
//!
//! Both are copied on every request (into the opened seal, the verified session, the
//! assertion). Inline, a copy is a memcpy of a few dozen bytes instead of a heap
//! allocation.

use std::fmt;

/// At most `N` ASCII bytes (`N` ≤ 255), stored inline. Only [`InlineAscii::new`] makes
/// one, so the bytes are always ASCII and the unused tail always zero (which makes the
/// derived comparisons and hash those of the text).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineAscii<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineAscii<N> {
    /// `text` inline, or `None` when it is longer than `N` bytes or not ASCII.
    pub fn new(text: &str) -> Option<InlineAscii<N>> {
        let len = u8::try_from(text.len()).ok().filter(|&len| usize::from(len) <= N)?;
        if !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes.get_mut(..text.len())?.copy_from_slice(text.as_bytes());
        Some(InlineAscii { len, bytes })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        let used = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Always Ok: `new` stored ASCII only.
        std::str::from_utf8(used).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Debug for InlineAscii<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn holds_up_to_n_ascii_bytes_and_compares_by_text() {
        let a = InlineAscii::<4>::new("k1").unwrap();
        assert_eq!(a.as_str(), "k1");
        assert_eq!(format!("{a:?}"), "\"k1\"");
        assert_eq!(
            InlineAscii::<4>::new("abcd").map(|x| x.as_str().to_owned()),
            Some("abcd".into())
        );
        assert_eq!(InlineAscii::<4>::new(""), InlineAscii::<4>::new(""));
        assert!(InlineAscii::<4>::new("abcde").is_none());
        assert!(InlineAscii::<4>::new("é").is_none());
        assert!(InlineAscii::<300>::new(&"a".repeat(256)).is_none());
        assert_ne!(InlineAscii::<4>::new("k1"), InlineAscii::<4>::new("k10"));
        assert_eq!(InlineAscii::<4>::new("k1"), Some(a));
    }
}
