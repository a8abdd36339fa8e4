//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3: RFC 8439's AEAD with a
//! 192-bit nonce), built from [`crate::chacha`] and the `poly1305` crate.
//!
//! The construction is the RFC's, step for step, and the output is byte-for-byte that
//! of the `chacha20poly1305` crate (the tests compare the two):
//! 1. subkey = HChaCha20(key, nonce\[0..16\]); ChaCha20 nonce = 0⁴ ‖ nonce\[16..24\];
//! 2. the Poly1305 key is the first 32 bytes of keystream block 0;
//! 3. the plaintext is XORed with the keystream from block 1;
//! 4. tag = Poly1305(ad ‖ pad16 ‖ ciphertext ‖ pad16 ‖ le64(len ad) ‖ le64(len ct)).
//!
//! [`open_in_place`] checks the tag in constant time (`subtle`) before it decrypts
//! anything, and leaves the buffer as it was when the check fails. The subkey and the
//! Poly1305 key are zeroized after use.

use poly1305::universal_hash::{KeyInit, UniversalHash};
use poly1305::{Block, Poly1305};
use zeroize::Zeroize;

use crate::chacha::{self, KeyWords};

/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Why sealing or opening failed. Neither carries any input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    /// The tag does not match: wrong key, nonce, associated data, or altered bytes.
    Tampered,
    /// The message is longer than one nonce's keystream (about 256 GiB).
    TooLong,
}

/// The per-message state: ChaCha20's key (the HChaCha20 subkey) and nonce. The
/// Poly1305 key comes from keystream block 0 ([`Message::mac`]).
struct Message {
    subkey: KeyWords,
    nonce: [u32; 3],
}

impl Message {
    fn new(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN]) -> Message {
        let [n0, n1, n2, n3, n4, n5] = chacha::le_words(nonce);
        let mut key_words = chacha::key_words(key);
        let subkey = chacha::hchacha20(&key_words, [n0, n1, n2, n3]);
        key_words.zeroize();
        Message { subkey, nonce: [0, n4, n5] }
    }

    /// Poly1305 over `ad` and `ciphertext` as RFC 8439 §2.8 lays them out.
    fn mac(&self, ad: &[u8], ciphertext: &[u8]) -> Poly1305 {
        let mut block0 = chacha::block(&self.subkey, self.nonce, 0);
        let mut mac = Poly1305::new(poly1305::Key::from_slice(&block0[..32]));
        block0.zeroize();
        mac.update_padded(ad);
        mac.update_padded(ciphertext);
        let mut lengths = Block::default();
        lengths[..8].copy_from_slice(&(ad.len() as u64).to_le_bytes());
        lengths[8..].copy_from_slice(&(ciphertext.len() as u64).to_le_bytes());
        mac.update(&[lengths]);
        mac
    }

    /// RFC 8439's ChaCha20-Poly1305 with its 96-bit nonce: the same steps without
    /// HChaCha20. Only the known-answer tests use it (Wycheproof's vectors).
    #[cfg(test)]
    fn ietf(key: &[u8; KEY_LEN], nonce: &[u8; 12]) -> Message {
        Message { subkey: chacha::key_words(key), nonce: chacha::le_words(nonce) }
    }

    fn xor(&self, data: &mut [u8]) -> Result<(), AeadError> {
        chacha::xor_keystream(&self.subkey, self.nonce, 1, data).map_err(|_| AeadError::TooLong)
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        self.subkey.zeroize();
    }
}

/// Encrypts `buf` in place and returns the tag.
///
/// # Errors
/// [`AeadError::TooLong`] past about 256 GiB; `buf` is then untouched.
pub fn seal_in_place(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError> {
    let msg = Message::new(key, nonce);
    msg.xor(buf)?;
    Ok(msg.mac(ad, buf).finalize().into())
}

/// Checks `tag` over `ad` and the ciphertext in `buf`, then decrypts `buf` in place.
///
/// # Errors
/// [`AeadError::Tampered`] when the tag does not match (`buf` is untouched), and
/// [`AeadError::TooLong`] as for [`seal_in_place`].
pub fn open_in_place(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError> {
    let msg = Message::new(key, nonce);
    msg.mac(ad, buf).verify(tag.into()).map_err(|_| AeadError::Tampered)?;
    msg.xor(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chacha::tests::hex;
    use chacha20poly1305::{AeadInPlace, XChaCha20Poly1305};

    /// draft-irtf-cfrg-xchacha-03 Appendix A.3.1: the XChaCha20-Poly1305 test vector.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn xchacha_draft_vector() {
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ad = hex("50515253c0c1c2c3c4c5c6c7");
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 24] =
            hex("404142434445464748494a4b4c4d4e4f5051525354555657").try_into().unwrap();
        let mut buf = plaintext.to_vec();
        let tag = seal_in_place(&key, &nonce, &ad, &mut buf).unwrap();
        assert_eq!(
            buf,
            hex("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
                 731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
                 2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
                 21f9664c97637da9768812f615c68b13b52e")
        );
        assert_eq!(tag.to_vec(), hex("c0875924c1c7987947deafd8780acf49"));
        open_in_place(&key, &nonce, &ad, &mut buf, &tag).unwrap();
        assert_eq!(buf, plaintext);
    }

    /// Lengths 0 to 300 (plaintext) and 0 to 40 (associated data), against the
    /// `chacha20poly1305` crate in both directions.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn matches_the_chacha20poly1305_crate() {
        let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(11).wrapping_add(5));
        let theirs = XChaCha20Poly1305::new(&key.into());
        for len in 0..=300usize {
            let ad: Vec<u8> = (0..len % 41).map(|i| (i * 3) as u8).collect();
            let nonce: [u8; 24] = core::array::from_fn(|i| (i + len) as u8);
            let plain: Vec<u8> = (0..len).map(|i| (i * 17 + 1) as u8).collect();
            let mut ours = plain.clone();
            let tag = seal_in_place(&key, &nonce, &ad, &mut ours).unwrap();
            let mut expected = plain.clone();
            let their_tag =
                theirs.encrypt_in_place_detached(&nonce.into(), &ad, &mut expected).unwrap();
            assert_eq!((&ours, &tag[..]), (&expected, &their_tag[..]), "len {len}");
            open_in_place(&key, &nonce, &ad, &mut ours, &tag).unwrap();
            assert_eq!(ours, plain, "len {len}");
        }
    }

    /// Any flipped bit (ciphertext, tag, associated data, nonce, key) is `Tampered`,
    /// and the buffer stays the ciphertext.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn any_change_is_tampered_and_leaves_the_buffer() {
        let key = [9u8; 32];
        let nonce = [4u8; 24];
        let ad = b"edge-session\0v1";
        let mut sealed = b"{\"sub\":\"alice\"}".to_vec();
        let tag = seal_in_place(&key, &nonce, ad, &mut sealed).unwrap();
        let open = |key: &[u8; 32], nonce: &[u8; 24], ad: &[u8], ct: &[u8], tag: &[u8; 16]| {
            let mut buf = ct.to_vec();
            let result = open_in_place(key, nonce, ad, &mut buf, tag);
            (result, buf)
        };
        for i in 0..sealed.len() * 8 {
            let mut ct = sealed.clone();
            ct[i / 8] ^= 1 << (i % 8);
            assert_eq!(open(&key, &nonce, ad, &ct, &tag), (Err(AeadError::Tampered), ct));
        }
        for i in 0..128 {
            let mut t = tag;
            t[i / 8] ^= 1 << (i % 8);
            assert_eq!(open(&key, &nonce, ad, &sealed, &t).0, Err(AeadError::Tampered));
        }
        for i in 0..24 {
            let mut n = nonce;
            n[i] ^= 0x80;
            assert_eq!(open(&key, &n, ad, &sealed, &tag).0, Err(AeadError::Tampered));
        }
        let mut k = key;
        k[31] ^= 1;
        assert_eq!(open(&k, &nonce, ad, &sealed, &tag).0, Err(AeadError::Tampered));
        assert_eq!(
            open(&key, &nonce, b"edge-session\0v2", &sealed, &tag).0,
            Err(AeadError::Tampered)
        );
        assert_eq!(open(&key, &nonce, b"", &sealed, &tag).0, Err(AeadError::Tampered));
        assert_eq!(
            open(&key, &nonce, ad, &sealed, &tag),
            (Ok(()), b"{\"sub\":\"alice\"}".to_vec())
        );
    }

    /// Seals or opens with a [`Message`], as `seal_in_place`/`open_in_place` do.
    fn run(
        msg: &Message,
        ad: &[u8],
        buf: &mut [u8],
        tag: Option<&[u8; TAG_LEN]>,
    ) -> Result<[u8; TAG_LEN], AeadError> {
        match tag {
            None => {
                msg.xor(buf)?;
                Ok(msg.mac(ad, buf).finalize().into())
            }
            Some(tag) => {
                msg.mac(ad, buf).verify(tag.into()).map_err(|_| AeadError::Tampered)?;
                msg.xor(buf)?;
                Ok(*tag)
            }
        }
    }

    /// Runs one Wycheproof AEAD test set through `message`. Vectors whose nonce, key
    /// or tag size the construction cannot take must be `invalid` (our types refuse
    /// them); every other one must seal to its `ct`/`tag` when valid and be refused
    /// as `Tampered` when invalid. Returns how many vectors ran through the cipher.
    fn wycheproof_set(
        name: wycheproof::aead::TestName,
        nonce_len: usize,
        message: impl Fn(&[u8; KEY_LEN], &[u8]) -> Message,
    ) -> usize {
        use wycheproof::TestResult;
        let set = wycheproof::aead::TestSet::load(name).unwrap();
        let mut ran = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                let id = format!("{name:?} tcId {} ({})", t.tc_id, t.comment);
                let key: Result<[u8; KEY_LEN], _> = t.key.as_slice().try_into();
                let tag: Result<[u8; TAG_LEN], _> = t.tag.as_slice().try_into();
                let (Ok(key), Ok(tag), true) = (key, tag, t.nonce.len() == nonce_len) else {
                    assert_eq!(t.result, TestResult::Invalid, "{id}: sizes we cannot take");
                    continue;
                };
                let msg = message(&key, &t.nonce);
                ran += 1;
                let mut buf = t.ct.to_vec();
                let opened = run(&msg, &t.aad, &mut buf, Some(&tag));
                match t.result {
                    TestResult::Invalid => {
                        assert_eq!(opened, Err(AeadError::Tampered), "{id}");
                        assert_eq!(buf, t.ct.as_slice(), "{id}: the buffer is left alone");
                    }
                    _ => {
                        assert_eq!(opened, Ok(tag), "{id}");
                        assert_eq!(buf, t.pt.as_slice(), "{id}: plaintext");
                        let mut sealed = t.pt.to_vec();
                        let got = run(&msg, &t.aad, &mut sealed, None).unwrap();
                        assert_eq!(
                            (sealed.as_slice(), &got[..]),
                            (t.ct.as_slice(), t.tag.as_slice()),
                            "{id}"
                        );
                    }
                }
            }
        }
        ran
    }

    /// Wycheproof's XChaCha20-Poly1305 vectors against `seal_in_place`'s construction.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn wycheproof_xchacha20_poly1305() {
        let ran =
            wycheproof_set(wycheproof::aead::TestName::XChaCha20Poly1305, NONCE_LEN, |k, n| {
                Message::new(k, n.try_into().unwrap())
            });
        assert!(ran > 200, "only {ran} vectors ran");
        // The public functions agree with the construction on a vector of the set.
        let set =
            wycheproof::aead::TestSet::load(wycheproof::aead::TestName::XChaCha20Poly1305).unwrap();
        let t = &set.test_groups[0].tests[1];
        let mut buf = t.pt.to_vec();
        let key = t.key.as_slice().try_into().unwrap();
        let nonce = t.nonce.as_slice().try_into().unwrap();
        let tag = seal_in_place(key, nonce, &t.aad, &mut buf).unwrap();
        assert_eq!((buf.as_slice(), &tag[..]), (t.ct.as_slice(), t.tag.as_slice()));
    }

    /// Wycheproof's ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) vectors against the
    /// same ChaCha20 and Poly1305 steps: the block function, the counter, the MAC
    /// layout and the constant-time tag check without HChaCha20.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn wycheproof_chacha20_poly1305() {
        let ran = wycheproof_set(wycheproof::aead::TestName::ChaCha20Poly1305, 12, |k, n| {
            Message::ietf(k, n.try_into().unwrap())
        });
        assert!(ran > 200, "only {ran} vectors ran");
    }

    /// A small deterministic generator (SplitMix64), so the differential test below
    /// runs the same random cases on wasm32, where proptest is not available.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// Seals `plain` with ours and with `chacha20poly1305`, compares, and opens
    /// ours with theirs and theirs with ours.
    fn differential(key: &[u8; 32], nonce: &[u8; 24], ad: &[u8], plain: &[u8]) {
        use chacha20poly1305::aead::Aead;
        let theirs = XChaCha20Poly1305::new(key.into());
        let mut ours = plain.to_vec();
        let tag = seal_in_place(key, nonce, ad, &mut ours).unwrap();
        let mut sealed = ours.clone();
        sealed.extend_from_slice(&tag);
        let payload = chacha20poly1305::aead::Payload { msg: plain, aad: ad };
        let expected = theirs.encrypt(nonce.into(), payload).unwrap();
        assert_eq!(sealed, expected, "len {} ad {}", plain.len(), ad.len());
        let payload = chacha20poly1305::aead::Payload { msg: &sealed, aad: ad };
        assert_eq!(theirs.decrypt(nonce.into(), payload).unwrap(), plain);
        open_in_place(key, nonce, ad, &mut ours, &tag).unwrap();
        assert_eq!(ours, plain);
    }

    /// Random keys, nonces, associated data and lengths 0 to 16 KiB (every length
    /// class: empty, partial and whole blocks, the two-block SIMD path) on both
    /// targets, against `chacha20poly1305`.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn random_cases_match_the_chacha20poly1305_crate() {
        let mut rng = SplitMix(0x5eed_0fed_9e5e_5500);
        for case in 0..160 {
            let len = match case % 4 {
                0 => (rng.next() % 16_385) as usize,
                1 => (rng.next() % 130) as usize,
                2 => 64 * (rng.next() % 257) as usize,
                _ => 16_384 - (rng.next() % 64) as usize,
            };
            let key: [u8; 32] = rng.bytes(32).try_into().unwrap();
            let nonce: [u8; 24] = rng.bytes(24).try_into().unwrap();
            let ad_len = (rng.next() % 300) as usize;
            let ad = rng.bytes(ad_len);
            differential(&key, &nonce, &ad, &rng.bytes(len));
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn any_input_matches_the_chacha20poly1305_crate(
                key in proptest::array::uniform32(any::<u8>()),
                nonce in proptest::collection::vec(any::<u8>(), 24),
                ad in proptest::collection::vec(any::<u8>(), 0..512),
                plain in proptest::collection::vec(any::<u8>(), 0..=16_384),
            ) {
                super::differential(&key, &nonce.try_into().unwrap(), &ad, &plain);
            }
        }
    }
}
