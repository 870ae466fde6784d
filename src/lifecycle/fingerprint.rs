//! Keyed fingerprints of retired secrets: a record remembers which secrets
//! it retired without keeping any of them.
//!
//! The fingerprint is HMAC-SHA-256 of the secret under a random 512-bit key
//! kept in the record. The key makes the stored values useless outside the record;
//! secrets are at least 128 random bits, so a fingerprint cannot be turned
//! back into its secret by search either.

use hmac::{KeyInit, Mac};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Secret;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The record's fingerprint key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct FingerprintKey([u8; 64]);

/// HMAC-SHA-256 of a retired secret under the record's key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl FingerprintKey {
    /// A fresh key from the operating system's CSPRNG.
    pub(crate) fn generate() -> Result<Self, getrandom::Error> {
        let mut key = Self([0u8; 64]);
        getrandom::fill(&mut key.0)?;
        Ok(key)
    }

    /// A key read back from storage.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    pub(crate) fn fingerprint(&self, secret: &Secret) -> Fingerprint {
        // A key of exactly one SHA-256 block: RFC 2104 uses it as it is.
        let mut mac = <HmacSha256 as KeyInit>::new(&self.0.into());
        mac.update(secret.expose_secret());
        Fingerprint(mac.finalize().into_bytes().into())
    }
}

impl Fingerprint {
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for Fingerprint {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}
