//! The ChaCha20 block function (RFC 8439 §2.3) and HChaCha20
//! (draft-irtf-cfrg-xchacha-03 §2.2), computed a row of four words at a time: the
//! keystream of [`crate::aead`].
//!
//! # Why not the `chacha20` crate
//! It has SIMD backends for x86 and ARM only. In wasm it computes one 32-bit word at a
//! time, and that made the keystream the largest single cost of opening a session in
//! workerd (a V8 profile of the `benches/ops` loop; README, "Performance budgets").
//! Here the state is four rows of four words, and a round works on whole rows:
//! - on wasm32 a row is a SIMD128 `v128`. workerd, node and every current browser
//!   engine run SIMD128. These functions carry `#[target_feature(enable = "simd128")]`;
//!   the rest of the build does not need the feature;
//! - elsewhere a row is a `[u32; 4]`, which LLVM vectorizes itself.
//!
//! Both shapes share one round function (`permute`). The tests check them against
//! the RFC's vectors and against the `chacha20` crate, natively and under wasm32.
//!
//! # Limits
//! The block counter is 32 bits, as in RFC 8439. [`xor_keystream`] refuses data that
//! would wrap it: more than 256 GiB from counter 0. A session is at most 64 KiB.

/// "expand 32-byte k", the first row of every ChaCha20 state.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Bytes in a ChaCha20 block.
pub const BLOCK_LEN: usize = 64;

/// A ChaCha20 key as eight little-endian words.
pub type KeyWords = [u32; 8];

/// The data is longer than the keystream of one nonce (2^32 blocks from `counter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeystreamExhausted;

#[cfg(target_arch = "wasm32")]
mod row {
    use core::arch::wasm32::{
        i32x4_shuffle, i8x16_shuffle, u32x4, u32x4_add, u32x4_extract_lane, u32x4_shl, u32x4_shr,
        v128, v128_or, v128_xor,
    };

    /// Four state words in one SIMD128 register.
    #[derive(Clone, Copy)]
    pub struct Row(v128);

    impl Row {
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn new(w: [u32; 4]) -> Row {
            Row(u32x4(w[0], w[1], w[2], w[3]))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn words(self) -> [u32; 4] {
            [
                u32x4_extract_lane::<0>(self.0),
                u32x4_extract_lane::<1>(self.0),
                u32x4_extract_lane::<2>(self.0),
                u32x4_extract_lane::<3>(self.0),
            ]
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn add(self, other: Row) -> Row {
            Row(u32x4_add(self.0, other.0))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn xor(self, other: Row) -> Row {
            Row(v128_xor(self.0, other.0))
        }

        /// Each word rotated left by 16 bits: a byte shuffle.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn rotl16(self) -> Row {
            Row(i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(
                self.0, self.0,
            ))
        }

        /// Each word rotated left by 8 bits: a byte shuffle.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn rotl8(self) -> Row {
            Row(i8x16_shuffle::<3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14>(
                self.0, self.0,
            ))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn rotl12(self) -> Row {
            Row(v128_or(u32x4_shl(self.0, 12), u32x4_shr(self.0, 20)))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn rotl7(self) -> Row {
            Row(v128_or(u32x4_shl(self.0, 7), u32x4_shr(self.0, 25)))
        }

        /// Lanes `[w1, w2, w3, w0]`.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn lanes_left1(self) -> Row {
            Row(i32x4_shuffle::<1, 2, 3, 0>(self.0, self.0))
        }

        /// Lanes `[w2, w3, w0, w1]`.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn lanes_left2(self) -> Row {
            Row(i32x4_shuffle::<2, 3, 0, 1>(self.0, self.0))
        }

        /// Lanes `[w3, w0, w1, w2]`.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub fn lanes_left3(self) -> Row {
            Row(i32x4_shuffle::<3, 0, 1, 2>(self.0, self.0))
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod row {
    /// Four state words; LLVM keeps them in one vector register where it can.
    #[derive(Clone, Copy)]
    pub struct Row([u32; 4]);

    impl Row {
        #[inline]
        pub fn new(w: [u32; 4]) -> Row {
            Row(w)
        }

        #[inline]
        pub fn words(self) -> [u32; 4] {
            self.0
        }

        #[inline]
        fn map2(self, other: Row, f: impl Fn(u32, u32) -> u32) -> Row {
            let [a, b, c, d] = self.0;
            let [e, g, h, i] = other.0;
            Row([f(a, e), f(b, g), f(c, h), f(d, i)])
        }

        #[inline]
        fn map(self, f: impl Fn(u32) -> u32) -> Row {
            let [a, b, c, d] = self.0;
            Row([f(a), f(b), f(c), f(d)])
        }

        #[inline]
        pub fn add(self, other: Row) -> Row {
            self.map2(other, u32::wrapping_add)
        }

        #[inline]
        pub fn xor(self, other: Row) -> Row {
            self.map2(other, |a, b| a ^ b)
        }

        #[inline]
        pub fn rotl16(self) -> Row {
            self.map(|w| w.rotate_left(16))
        }

        #[inline]
        pub fn rotl8(self) -> Row {
            self.map(|w| w.rotate_left(8))
        }

        #[inline]
        pub fn rotl12(self) -> Row {
            self.map(|w| w.rotate_left(12))
        }

        #[inline]
        pub fn rotl7(self) -> Row {
            self.map(|w| w.rotate_left(7))
        }

        #[inline]
        pub fn lanes_left1(self) -> Row {
            let [a, b, c, d] = self.0;
            Row([b, c, d, a])
        }

        #[inline]
        pub fn lanes_left2(self) -> Row {
            let [a, b, c, d] = self.0;
            Row([c, d, a, b])
        }

        #[inline]
        pub fn lanes_left3(self) -> Row {
            let [a, b, c, d] = self.0;
            Row([d, a, b, c])
        }
    }
}

use row::Row;

/// The 20 rounds (10 column + diagonal double rounds) on `N` states at once, without
/// the final addition of the input. Each step is applied to every state before the
/// next step, so with `N = 2` two independent dependency chains interleave and the CPU
/// has work while one of them waits.
#[inline]
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn permute<const N: usize>(mut states: [[Row; 4]; N]) -> [[Row; 4]; N] {
    for _ in 0..10 {
        quarter_rounds(&mut states);
        // Shift rows 1 to 3 left by 1 to 3 lanes: the diagonals become columns.
        for [_, b, c, d] in &mut states {
            *b = b.lanes_left1();
            *c = c.lanes_left2();
            *d = d.lanes_left3();
        }
        quarter_rounds(&mut states);
        for [_, b, c, d] in &mut states {
            *b = b.lanes_left3();
            *c = c.lanes_left2();
            *d = d.lanes_left1();
        }
    }
    states
}

/// Four quarter rounds per state, one per lane (RFC 8439 §2.1).
#[inline]
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn quarter_rounds<const N: usize>(states: &mut [[Row; 4]; N]) {
    for [a, b, _, d] in states.iter_mut() {
        *a = a.add(*b);
        *d = d.xor(*a).rotl16();
    }
    for [_, b, c, d] in states.iter_mut() {
        *c = c.add(*d);
        *b = b.xor(*c).rotl12();
    }
    for [a, b, _, d] in states.iter_mut() {
        *a = a.add(*b);
        *d = d.xor(*a).rotl8();
    }
    for [_, b, c, d] in states.iter_mut() {
        *c = c.add(*d);
        *b = b.xor(*c).rotl7();
    }
}

/// The state's rows plus the permuted rows: one block of keystream.
#[inline]
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn feed_forward(input: [Row; 4], permuted: [Row; 4]) -> [Row; 4] {
    let [a, b, c, d] = input;
    let [e, f, g, h] = permuted;
    [e.add(a), f.add(b), g.add(c), h.add(d)]
}

/// The key rows (the state's second and third rows).
#[inline]
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn key_rows(key: &KeyWords) -> (Row, Row) {
    (Row::new([key[0], key[1], key[2], key[3]]), Row::new([key[4], key[5], key[6], key[7]]))
}

/// Reads a 32-byte key as eight little-endian words.
pub fn key_words(bytes: &[u8; 32]) -> KeyWords {
    le_words(bytes)
}

/// The first `W` little-endian words of `bytes` (zero where `bytes` runs out).
pub(crate) fn le_words<const W: usize>(bytes: &[u8]) -> [u32; W] {
    let mut words = [0u32; W];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        let mut le = [0u8; 4];
        le.copy_from_slice(chunk);
        *word = u32::from_le_bytes(le);
    }
    words
}

/// HChaCha20: derives XChaCha20's subkey from `key` and the first 16 nonce bytes (as
/// four little-endian words).
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
pub fn hchacha20(key: &KeyWords, nonce16: [u32; 4]) -> KeyWords {
    let (k0, k1) = key_rows(key);
    let [[a, _, _, d]] = permute([[Row::new(SIGMA), k0, k1, Row::new(nonce16)]]);
    let [w0, w1, w2, w3] = a.words();
    let [w12, w13, w14, w15] = d.words();
    [w0, w1, w2, w3, w12, w13, w14, w15]
}

/// XORs `data` with the ChaCha20 keystream of `key` and the 96-bit `nonce` (three
/// little-endian words), starting at block `counter`: encryption and decryption alike.
///
/// # Errors
/// [`KeystreamExhausted`] when `data` needs blocks past counter `u32::MAX`; `data` is
/// then left untouched.
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
pub fn xor_keystream(
    key: &KeyWords,
    nonce: [u32; 3],
    counter: u32,
    data: &mut [u8],
) -> Result<(), KeystreamExhausted> {
    let blocks = data.len().div_ceil(BLOCK_LEN) as u64;
    if blocks > u64::from(u32::MAX - counter) + 1 {
        return Err(KeystreamExhausted);
    }
    let a = Row::new(SIGMA);
    let (b, c) = key_rows(key);
    let mut ctr = counter;
    // Two blocks at a time (see `permute`); a last single block on its own.
    for pair in data.chunks_mut(2 * BLOCK_LEN) {
        let x = [a, b, c, Row::new([ctr, nonce[0], nonce[1], nonce[2]])];
        if pair.len() <= BLOCK_LEN {
            let [px] = permute([x]);
            xor_block(feed_forward(x, px), pair);
            break;
        }
        let y = [a, b, c, Row::new([ctr.wrapping_add(1), nonce[0], nonce[1], nonce[2]])];
        let [px, py] = permute([x, y]);
        let (first, second) = pair.split_at_mut(BLOCK_LEN);
        xor_block(feed_forward(x, px), first);
        xor_block(feed_forward(y, py), second);
        // The check above keeps the counter from wrapping while data remains.
        ctr = ctr.wrapping_add(2);
    }
    Ok(())
}

/// XORs up to one block of `data` with the keystream rows.
#[inline]
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn xor_block(rows: [Row; 4], data: &mut [u8]) {
    for (row, bytes) in rows.iter().zip(data.chunks_mut(16)) {
        xor_row(row.words(), bytes);
    }
}

/// XORs up to 16 bytes with four keystream words (little-endian).
#[inline]
fn xor_row(words: [u32; 4], bytes: &mut [u8]) {
    if let Ok(full) = <&mut [u8; 16]>::try_from(&mut *bytes) {
        for (word, chunk) in words.iter().zip(full.chunks_exact_mut(4)) {
            let mut le = [0u8; 4];
            le.copy_from_slice(chunk);
            chunk.copy_from_slice(&(u32::from_le_bytes(le) ^ word).to_le_bytes());
        }
        return;
    }
    let stream = words.map(u32::to_le_bytes);
    for (byte, k) in bytes.iter_mut().zip(stream.iter().flatten()) {
        *byte ^= k;
    }
}

/// One ChaCha20 block of keystream (the Poly1305 key comes from block 0).
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
pub fn block(key: &KeyWords, nonce: [u32; 3], counter: u32) -> [u8; BLOCK_LEN] {
    let mut out = [0u8; BLOCK_LEN];
    // One block from any counter cannot exhaust the keystream.
    let _ = xor_keystream(key, nonce, counter, &mut out);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

    /// Bytes of a hex string, whitespace ignored (the RFC and draft vectors; also
    /// used by `aead`'s tests).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn nonce_words(n: &[u8; 12]) -> [u32; 3] {
        le_words(n)
    }

    /// RFC 8439 §2.3.2: the block function test vector.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn rfc8439_block_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let out = block(&key_words(&key), nonce_words(&nonce), 1);
        assert_eq!(
            out.to_vec(),
            hex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e
                 d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
        );
    }

    /// RFC 8439 §2.4.2: the encryption test vector ("Ladies and Gentlemen…").
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn rfc8439_encryption_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let mut data = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
        xor_keystream(&key_words(&key), nonce_words(&nonce), 1, &mut data).unwrap();
        assert_eq!(
            data,
            hex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
                 f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
                 07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
                 5af90bbf74a35be6b40b8eedf2785e42874d")
        );
    }

    /// draft-irtf-cfrg-xchacha-03 §2.2.1: the HChaCha20 test vector.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn hchacha20_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce: [u8; 16] = hex("000000090000004a0000000031415927").try_into().unwrap();
        let sub = hchacha20(&key_words(&key), le_words(&nonce));
        let bytes: Vec<u8> = sub.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(bytes, hex("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"));
    }

    /// Every length from 0 to 300 bytes and a few counters, against the `chacha20`
    /// crate: partial blocks, whole blocks, and the last blocks before the counter wraps.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn matches_the_chacha20_crate() {
        let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
        let nonce: [u8; 12] = core::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(1));
        for counter in [0u32, 1, 7, u32::MAX - 5] {
            for len in 0..=300 {
                let plain: Vec<u8> = (0..len).map(|i| (i * 13 + len) as u8).collect();
                let mut ours = plain.clone();
                xor_keystream(&key_words(&key), nonce_words(&nonce), counter, &mut ours).unwrap();
                let mut theirs = plain.clone();
                let mut c = chacha20::ChaCha20::new(&key.into(), &nonce.into());
                c.seek(u64::from(counter) * 64);
                c.apply_keystream(&mut theirs);
                assert_eq!(ours, theirs, "len {len} counter {counter}");
            }
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn refuses_to_wrap_the_counter() {
        let key = key_words(&[1; 32]);
        let mut two_blocks = [7u8; 65];
        assert_eq!(xor_keystream(&key, [0; 3], u32::MAX, &mut two_blocks), Err(KeystreamExhausted));
        assert_eq!(two_blocks, [7u8; 65], "untouched");
        let mut one_block = [7u8; 64];
        assert_eq!(xor_keystream(&key, [0; 3], u32::MAX, &mut one_block), Ok(()));
        let mut empty = [0u8; 0];
        assert_eq!(xor_keystream(&key, [0; 3], u32::MAX, &mut empty), Ok(()));
    }
}
