//! The process-wide `jsonwebtoken` [`CryptoProvider`]: HS256 signing and verification
//! with `hmac`/`sha2`, EdDSA (Ed25519) verification with `ed25519-dalek`. Nothing else.
//!
//! - Every other algorithm is `UnsupportedAlgorithm`, and a key of the wrong family
//!   for the algorithm (an Ed25519 public key offered for HS256, an RSA key, …) is
//!   `InvalidKeyFormat`: the provider itself refuses algorithm confusion, whatever
//!   its caller does.
//! - HS256 tags are compared in constant time (`Mac::verify_slice`); Ed25519
//!   signatures are checked with `verify_strict` (canonical `S`, no small-order keys
//!   or `R`).
//! - EdDSA tokens are signed by [`super::mint`] itself with the cached key pair, so
//!   the signer factory needs no Ed25519 private key format.
//! - Its JWK helpers are the library's panicking placeholders; no code path here
//!   reaches them. If a different provider was installed first, [`provider_ready`]
//!   refuses instead of trusting (or panicking in) it.

use std::sync::OnceLock;

use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error as LibError, ErrorKind as LibErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Sha256;

use super::JwtError;

pub(super) type HmacSha256 = Hmac<Sha256>;

/// HS256 signer and verifier: a keyed HMAC state, cloned for every message.
struct Hs256(HmacSha256);

impl jsonwebtoken::signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl jsonwebtoken::signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        // Constant-time comparison of the whole tag.
        mac.verify_slice(tag).map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// EdDSA verifier over one Ed25519 public key.
struct Ed25519Verifier(VerifyingKey);

impl jsonwebtoken::signature::Verifier<Vec<u8>> for Ed25519Verifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let sig = Signature::from_slice(sig).map_err(|_| jsonwebtoken::signature::Error::new())?;
        self.0.verify_strict(msg, &sig).map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for Ed25519Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn hmac_for(
    algorithm: &Algorithm,
    family: AlgorithmFamily,
    key: &[u8],
) -> Result<HmacSha256, LibError> {
    if *algorithm != Algorithm::HS256 {
        return Err(LibErrorKind::UnsupportedAlgorithm.into());
    }
    if family != AlgorithmFamily::Hmac {
        return Err(LibErrorKind::InvalidKeyFormat.into());
    }
    <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| LibErrorKind::InvalidKeyFormat.into())
}

pub(super) fn new_signer(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> Result<Box<dyn JwtSigner>, LibError> {
    Ok(Box::new(Hs256(hmac_for(algorithm, key.family(), key.as_bytes())?)))
}

pub(super) fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> Result<Box<dyn JwtVerifier>, LibError> {
    let bytes = key.try_get_as_bytes()?;
    match algorithm {
        Algorithm::EdDSA => {
            if key.family() != AlgorithmFamily::Ed {
                return Err(LibErrorKind::InvalidKeyFormat.into());
            }
            let raw: &[u8; 32] =
                bytes.try_into().map_err(|_| LibError::from(LibErrorKind::InvalidEddsaKey))?;
            let public =
                VerifyingKey::from_bytes(raw).map_err(|_| LibErrorKind::InvalidEddsaKey)?;
            if public.is_weak() {
                return Err(LibErrorKind::InvalidEddsaKey.into());
            }
            Ok(Box::new(Ed25519Verifier(public)))
        }
        _ => Ok(Box::new(Hs256(hmac_for(algorithm, key.family(), bytes)?))),
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs [`PROVIDER`] once; tells whether it is the one in force.
pub(super) fn provider_ready() -> Result<(), JwtError> {
    static OURS: OnceLock<bool> = OnceLock::new();
    let ours = *OURS.get_or_init(|| match PROVIDER.install_default() {
        Ok(()) => true,
        Err(existing) => std::ptr::eq(existing, &PROVIDER),
    });
    if ours {
        Ok(())
    } else {
        Err(JwtError::Provider)
    }
}
