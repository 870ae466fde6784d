//! Keyed fingerprints of retired secrets: a record remembers which secrets
//! it retired without keeping any of them.
//!
//! The fingerprint is HMAC-SHA-256, under a random 512-bit key kept in the
//! record, of the key HMAC actually uses for the secret, once per hash
//! function: RFC 2104 zero-pads a key to a block and hashes one longer than
//! a block, so `K`, `K‖00` and (for a long `K`) `H(K)` all key the same
//! HMAC and show the same codes. Comparing raw bytes would let one of them
//! pass for a new secret. The key makes the stored values useless outside the record;
//! secrets are at least 128 random bits, so a fingerprint cannot be turned
//! back into its secret by search either.

use hmac::{KeyInit, Mac};
use sha1::Digest;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Algorithm, Secret};

/// Every hash a token can use: a secret is compared under each.
pub(crate) const ALGORITHMS: [Algorithm; 3] =
    [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

/// The key HMAC with `algorithm` actually uses for `secret`, without its
/// zero padding: the secret itself, or its hash if it is longer than the
/// hash's block, with trailing zero bytes dropped.
pub(crate) fn effective_key(secret: &Secret, algorithm: Algorithm) -> Zeroizing<Vec<u8>> {
    let bytes = secret.expose_secret();
    let block = match algorithm {
        Algorithm::Sha1 | Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    };
    let mut key = if bytes.len() > block {
        Zeroizing::new(match algorithm {
            Algorithm::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
            Algorithm::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
            Algorithm::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
        })
    } else {
        Zeroizing::new(bytes.to_vec())
    };
    while key.last() == Some(&0) {
        key.pop();
    }
    key
}

/// Whether `a` and `b` key the same HMAC under any hash (constant time in
/// the keys' contents).
pub(crate) fn same_key(a: &Secret, b: &Secret) -> bool {
    let mut same = Choice::from(0);
    for algorithm in ALGORITHMS {
        same |= effective_key(a, algorithm).ct_eq(&effective_key(b, algorithm));
    }
    same.into()
}

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
    #[cfg_attr(not(any(feature = "serde", feature = "seal")), allow(dead_code))]
    pub(crate) const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    #[cfg_attr(not(any(feature = "serde", feature = "seal")), allow(dead_code))]
    pub(crate) const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// One fingerprint per hash function, of the key HMAC uses for
    /// `secret` under it (tagged with the hash).
    pub(crate) fn fingerprints(&self, secret: &Secret) -> [Fingerprint; 3] {
        ALGORITHMS.map(|algorithm| {
            // A key of exactly one SHA-256 block: RFC 2104 uses it as it is.
            let mut mac = <HmacSha256 as KeyInit>::new(&self.0.into());
            mac.update(&[algorithm_tag(algorithm)]);
            mac.update(&effective_key(secret, algorithm));
            Fingerprint(mac.finalize().into_bytes().into())
        })
    }
}

impl Fingerprint {
    #[cfg_attr(not(any(feature = "serde", feature = "seal")), allow(dead_code))]
    pub(crate) const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    #[cfg_attr(not(any(feature = "serde", feature = "seal")), allow(dead_code))]
    pub(crate) const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for Fingerprint {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

const fn algorithm_tag(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    }
}
