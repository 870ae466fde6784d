//! The HMAC keyed once per generator, and RFC 4226 dynamic truncation.
//!
//! The HMAC is keyed when a [`Hotp`](crate::Hotp) or [`Totp`](crate::Totp) is
//! built: the inner and outer padded-key blocks are compressed then, and every
//! code afterwards costs exactly two block compressions (one for the inner
//! hash over the 8-byte counter, one for the outer hash), with nothing else
//! around them (see [`block_hmac`]).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Algorithm, ParamError, Secret};

mod block_hmac;

use block_hmac::{BlockHash, HmacKey, Sha1Block, Sha256Block, Sha512Block};

/// Code length: 6, 7 or 8 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Digits(u8);

impl Digits {
    pub(crate) const SIX: Self = Self(6);

    pub(crate) fn new(digits: u32) -> Result<Self, ParamError> {
        match digits {
            6..=8 => u8::try_from(digits)
                .map(Self)
                .map_err(|_| ParamError::Digits(digits)),
            _ => Err(ParamError::Digits(digits)),
        }
    }

    pub(crate) fn get(self) -> u32 {
        u32::from(self.0)
    }

    pub(crate) fn len(self) -> usize {
        usize::from(self.0)
    }

    /// `value mod 10^digits`. Each arm divides by a constant, which compiles to
    /// a multiplication: no data-dependent division instruction.
    pub(crate) fn reduce(self, value: u32) -> u32 {
        match self.0 {
            6 => value % 1_000_000,
            7 => value % 10_000_000,
            _ => value % 100_000_000,
        }
    }
}

/// A keyed HMAC for one algorithm. Its precomputed states are wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) enum OtpKey {
    Sha1(HmacKey<Sha1Block>),
    Sha256(HmacKey<Sha256Block>),
    Sha512(HmacKey<Sha512Block>),
}

impl OtpKey {
    pub(crate) fn new(secret: &Secret, algorithm: Algorithm) -> Self {
        let key = secret.expose_secret();
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(HmacKey::new(key)),
            Algorithm::Sha256 => Self::Sha256(HmacKey::new(key)),
            Algorithm::Sha512 => Self::Sha512(HmacKey::new(key)),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha1(_) => Algorithm::Sha1,
            Self::Sha256(_) => Algorithm::Sha256,
            Self::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// HOTP value for `counter` (RFC 4226 §5.3): HMAC, dynamic truncation,
    /// reduction to `digits` decimal digits.
    #[inline(always)]
    pub(crate) fn hotp(&self, counter: u64, digits: Digits) -> u32 {
        let truncated = match self {
            Self::Sha1(key) => truncated_mac(key, counter),
            Self::Sha256(key) => truncated_mac(key, counter),
            Self::Sha512(key) => truncated_mac(key, counter),
        };
        digits.reduce(truncated)
    }
}

#[inline]
fn truncated_mac<H: BlockHash>(key: &HmacKey<H>, counter: u64) -> u32 {
    let mut mac = H::ZERO_OUTPUT;
    key.mac_counter(counter, &mut mac);
    let truncated = H::truncate(&mac);
    mac.as_mut().zeroize();
    truncated
}

// Each variant holds an `HmacKey`, which wipes both of its states on drop;
// the build fails here if that ever stops being so.
const _: fn() = || {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<HmacKey<Sha1Block>>();
    wiped_on_drop::<HmacKey<Sha256Block>>();
    wiped_on_drop::<HmacKey<Sha512Block>>();
};

impl fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OtpKey({}, [REDACTED])", self.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_matches_rfc4226_example() {
        // RFC 4226 §5.4: HMAC-SHA-1 output and the resulting 6-digit code.
        let mac = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(Sha1Block::truncate(&mac), 0x50ef_7f19);
        assert_eq!(Digits(6).reduce(Sha1Block::truncate(&mac)), 872_921);
    }

    #[test]
    fn digits_outside_6_to_8_are_refused() {
        for d in [0, 1, 5, 9, 10, u32::MAX] {
            assert_eq!(Digits::new(d), Err(ParamError::Digits(d)));
        }
        for d in 6..=8 {
            assert_eq!(Digits::new(d).map(Digits::get), Ok(d));
        }
    }
}
