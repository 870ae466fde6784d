//! An OCRA response: the HMAC of the DataInput, truncated as HOTP does
//! (RFC 4226 §5.3) to the suite's digits, or whole for a suite without
//! truncation.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::ResponseError;
use super::suite::{ResponseDigits, Suite};
use crate::Algorithm;

/// What a response looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// 4 to 10 decimal digits.
    Decimal(ResponseDigits),
    /// The whole HMAC of this hash, as hex (a suite with `t` = 0).
    Hex(Algorithm),
}

/// An OCRA response.
///
/// For a suite with `t` from 4 to 10, the HOTP dynamic truncation of the
/// HMAC (RFC 4226 §5.3) reduced to `t` decimal digits; `Display` writes them
/// zero-padded. For a suite with `t` = 0 ("no truncation", RFC 6287 §5.1:
/// the full HMAC value is used), the whole HMAC (20, 32 or 64 bytes);
/// `Display` writes it as lower-case hex, and verification accepts either
/// case.
///
/// `Debug` does not show the value; responses compare in constant time
/// through [`subtle::ConstantTimeEq`], and there is no `PartialEq`. The value
/// is wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Response {
    value: u64,
    mac: [u8; 64],
    #[zeroize(skip)]
    format: Format,
}

impl Response {
    /// The response for the HMAC under `suite`, whose hash's output fills
    /// the start of `mac` (the rest is unused).
    pub(crate) fn from_mac(mac: &[u8; 64], suite: &Suite) -> Self {
        let algorithm = suite.algorithm();
        match suite.truncation() {
            None => {
                let mut whole = [0u8; 64];
                for (w, m) in whole
                    .iter_mut()
                    .zip(mac.iter().take(algorithm.output_len()))
                {
                    *w = *m;
                }
                Self {
                    value: 0,
                    mac: whole,
                    format: Format::Hex(algorithm),
                }
            }
            Some(digits) => Self {
                value: reduce(truncate(mac, algorithm), digits),
                mac: [0; 64],
                format: Format::Decimal(digits),
            },
        }
    }

    /// Parses a submitted response for `suite`: exactly `t` ASCII digits,
    /// or for `t` = 0 exactly twice the HMAC's length in hex digits.
    pub(crate) fn parse(text: &str, suite: &Suite) -> Result<Self, ResponseError> {
        let bytes = text.as_bytes();
        match suite.truncation() {
            None => {
                let algorithm = suite.algorithm();
                let len = algorithm.output_len().saturating_mul(2);
                let malformed = || ResponseError::malformed(suite);
                if bytes.len() != len {
                    return Err(malformed());
                }
                let mut mac = [0u8; 64];
                for (m, pair) in mac.iter_mut().zip(bytes.chunks_exact(2)) {
                    let [high, low] = pair else {
                        return Err(malformed());
                    };
                    let (Some(high), Some(low)) = (hex_value(*high), hex_value(*low)) else {
                        return Err(malformed());
                    };
                    *m = (high << 4) | low;
                }
                Ok(Self {
                    value: 0,
                    mac,
                    format: Format::Hex(algorithm),
                })
            }
            Some(digits) => {
                let len = usize::from(digits.count());
                if bytes.len() != len || !bytes.iter().all(u8::is_ascii_digit) {
                    return Err(ResponseError::malformed(suite));
                }
                let value = bytes.iter().fold(0u64, |acc, &b| {
                    acc.wrapping_mul(10)
                        .wrapping_add(u64::from(b.wrapping_sub(b'0')))
                });
                Ok(Self {
                    value,
                    mac: [0; 64],
                    format: Format::Decimal(digits),
                })
            }
        }
    }

    /// The response as a number, for a suite with truncation (leading
    /// zeros are lost; use `to_string` for the digits as shown). `None` for
    /// a suite without truncation.
    #[must_use]
    pub fn value(&self) -> Option<u64> {
        match self.format {
            Format::Decimal(_) => Some(self.value),
            Format::Hex(_) => None,
        }
    }

    /// The length of the response as shown: its digits, or its hex digits
    /// for a suite without truncation.
    #[must_use]
    pub fn len(&self) -> usize {
        match self.format {
            Format::Decimal(digits) => usize::from(digits.count()),
            Format::Hex(algorithm) => algorithm.output_len().saturating_mul(2),
        }
    }

    /// Whether the response is the whole HMAC in hex (a suite with `t` = 0).
    #[must_use]
    pub fn is_hex(&self) -> bool {
        matches!(self.format, Format::Hex(_))
    }

    /// Never: a response has at least 4 characters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl ConstantTimeEq for Response {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Both fields always: a decimal response has an all-zero `mac`, a
        // hex one a zero `value`; the format is public.
        self.value.ct_eq(&other.value)
            & self.mac.ct_eq(&other.mac)
            & Choice::from(u8::from(self.format == other.format))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            Format::Decimal(digits) => write!(
                f,
                "{:0width$}",
                self.value,
                width = usize::from(digits.count())
            ),
            Format::Hex(algorithm) => self
                .mac
                .iter()
                .take(algorithm.output_len())
                .try_for_each(|b| write!(f, "{b:02x}")),
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response {{ len: {}, .. }}", self.len())
    }
}

/// RFC 4226 §5.3 dynamic truncation of the HMAC under `algorithm`, which
/// fills the start of `mac`: 31 bits from the offset in the last nibble.
fn truncate(mac: &[u8; 64], algorithm: Algorithm) -> u32 {
    // The HMAC's last byte: a constant index inside the buffer for each
    // hash, so there is no length that could miss it.
    let last = match algorithm {
        Algorithm::Sha1 => mac[19],
        Algorithm::Sha256 => mac[31],
        Algorithm::Sha512 => mac[63],
    };
    let offset = usize::from(last & 0x0f);
    // Invariant: `offset` is at most 15, so `offset + 3` is at most 18,
    // inside the buffer of 64 (and inside every MAC: 20 bytes or more).
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    let word = [
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// `value mod 10^digits`, each arm a division by a constant (compiled to a
/// multiplication: no data-dependent division instruction). A 31-bit value
/// is below 10^10, so 10 digits keep it whole.
fn reduce(value: u32, digits: ResponseDigits) -> u64 {
    let value = u64::from(value);
    match digits {
        ResponseDigits::Four => value % 10_000,
        ResponseDigits::Five => value % 100_000,
        ResponseDigits::Six => value % 1_000_000,
        ResponseDigits::Seven => value % 10_000_000,
        ResponseDigits::Eight => value % 100_000_000,
        ResponseDigits::Nine => value % 1_000_000_000,
        ResponseDigits::Ten => value,
    }
}

/// The value of a hex digit, or `None` for a byte that is not one.
pub(crate) const fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

impl ResponseError {
    /// The refusal of a response that is not one of `suite`'s: exactly `t`
    /// decimal digits, or for `t` = 0 twice the HMAC's length in hex digits.
    pub(crate) fn malformed(suite: &Suite) -> Self {
        match suite.truncation() {
            None => Self::Malformed {
                len: suite.algorithm().output_len().saturating_mul(2),
                hex: true,
            },
            Some(digits) => Self::Malformed {
                len: usize::from(digits.count()),
                hex: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226 §5.4's HMAC-SHA-1 example: offset 10, truncated value
    /// 0x50ef7f19 = 1357872921.
    const RFC_4226_MAC: [u8; 20] = [
        0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19, 0xda,
        0x8e, 0x94, 0x5b, 0x55, 0x5a,
    ];

    fn padded(mac: &[u8]) -> [u8; 64] {
        let mut out = [0; 64];
        out[..mac.len()].copy_from_slice(mac);
        out
    }

    #[test]
    fn every_response_length_reduces_the_truncated_value() {
        let mac = padded(&RFC_4226_MAC);
        for (t, shown) in [
            (4, "2921"),
            (5, "72921"),
            (6, "872921"),
            (7, "7872921"),
            (8, "57872921"),
            (9, "357872921"),
            (10, "1357872921"),
        ] {
            let suite = Suite::parse(&format!("OCRA-1:HOTP-SHA1-{t}:QN08")).unwrap();
            let response = Response::from_mac(&mac, &suite);
            assert_eq!(response.to_string(), shown);
            assert_eq!(response.len(), t);
            let parsed = Response::parse(shown, &suite).unwrap();
            assert!(bool::from(parsed.ct_eq(&response)));
        }
    }

    /// The offset comes from the last byte of each hash's HMAC, not from
    /// the end of the buffer.
    #[test]
    fn the_offset_is_read_from_the_last_byte_of_each_hash() {
        for (hash, len) in [("SHA1", 20), ("SHA256", 32), ("SHA512", 64)] {
            let mut mac = [0u8; 64];
            // Offset 3: the word is bytes 3 to 6.
            mac[len - 1] = 0x03;
            mac[3..7].copy_from_slice(&[0x01, 0x02, 0x03, 0x04]);
            let suite = Suite::parse(&format!("OCRA-1:HOTP-{hash}-10:QN08")).unwrap();
            let response = Response::from_mac(&mac, &suite);
            assert_eq!(response.value(), Some(0x0102_0304), "{hash}");
        }
    }

    #[test]
    fn a_whole_hmac_is_parsed_as_hex_of_either_case_and_nothing_else() {
        let suite = Suite::parse("OCRA-1:HOTP-SHA1-0:QN08").unwrap();
        let response = Response::from_mac(&padded(&RFC_4226_MAC), &suite);
        let lower = response.to_string();
        assert_eq!(lower, "1f8698690e02ca16618550ef7f19da8e945b555a");
        for text in [lower.clone(), lower.to_uppercase()] {
            let parsed = Response::parse(&text, &suite).unwrap();
            assert!(bool::from(parsed.ct_eq(&response)));
        }
        let malformed = Err(ResponseError::Malformed { len: 40, hex: true });
        for bad in [
            "g".repeat(40),
            format!("{}x", &lower[..39]),
            lower[..38].to_string(),
        ] {
            assert_eq!(
                Response::parse(&bad, &suite).map(|_| ()),
                malformed,
                "{bad}"
            );
        }
    }
}
