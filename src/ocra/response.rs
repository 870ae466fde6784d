//! An OCRA response: the HMAC of the DataInput, truncated as HOTP does
//! (RFC 4226 §5.3) to the suite's digits, or whole for a suite without
//! truncation.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::CheckError;
use super::suite::Suite;

/// What a response looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// 4 to 10 decimal digits.
    Decimal(u8),
    /// The whole HMAC of so many bytes, as hex (a suite with `t` = 0).
    Hex(u8),
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
    /// The response for the HMAC `mac` under `suite`.
    pub(crate) fn from_mac(mac: &[u8; 64], mac_len: usize, suite: &Suite) -> Self {
        match suite.digits() {
            0 => {
                let mut whole = [0u8; 64];
                for (w, m) in whole.iter_mut().zip(mac.iter().take(mac_len)) {
                    *w = *m;
                }
                Self {
                    value: 0,
                    mac: whole,
                    format: Format::Hex(mac_bytes(suite)),
                }
            }
            digits => Self {
                value: reduce(truncate(mac, mac_len), digits),
                mac: [0; 64],
                format: Format::Decimal(suite.digit_count()),
            },
        }
    }

    /// Parses a submitted response for `suite`: exactly `t` ASCII digits,
    /// or for `t` = 0 exactly twice the HMAC's length in hex digits.
    pub(crate) fn parse(text: &str, suite: &Suite) -> Result<Self, CheckError> {
        let bytes = text.as_bytes();
        match suite.digits() {
            0 => {
                let len = suite.algorithm().output_len();
                if bytes.len() != len.saturating_mul(2) || !bytes.iter().all(u8::is_ascii_hexdigit)
                {
                    return Err(CheckError::malformed(suite));
                }
                let mut mac = [0u8; 64];
                for (m, pair) in mac.iter_mut().zip(bytes.chunks_exact(2)) {
                    if let [high, low] = pair {
                        *m = (hex_value(*high) << 4) | hex_value(*low);
                    }
                }
                Ok(Self {
                    value: 0,
                    mac,
                    format: Format::Hex(mac_bytes(suite)),
                })
            }
            _ => {
                let len = usize::from(suite.digit_count());
                if bytes.len() != len || !bytes.iter().all(u8::is_ascii_digit) {
                    return Err(CheckError::malformed(suite));
                }
                let value = bytes.iter().fold(0u64, |acc, &b| {
                    acc.wrapping_mul(10)
                        .wrapping_add(u64::from(b.wrapping_sub(b'0')))
                });
                Ok(Self {
                    value,
                    mac: [0; 64],
                    format: Format::Decimal(suite.digit_count()),
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
            Format::Decimal(d) => usize::from(d),
            Format::Hex(bytes) => usize::from(bytes).saturating_mul(2),
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
            Format::Decimal(d) => write!(f, "{:0width$}", self.value, width = usize::from(d)),
            Format::Hex(len) => self
                .mac
                .iter()
                .take(usize::from(len))
                .try_for_each(|b| write!(f, "{b:02x}")),
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response {{ len: {}, .. }}", self.len())
    }
}

/// RFC 4226 §5.3 dynamic truncation: 31 bits from the offset in the last
/// nibble.
fn truncate(mac: &[u8; 64], mac_len: usize) -> u32 {
    let last = mac_len.checked_sub(1).and_then(|i| mac.get(i)).copied();
    let offset = usize::from(last.unwrap_or(0) & 0x0f);
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
fn reduce(value: u32, digits: u32) -> u64 {
    let value = u64::from(value);
    match digits {
        4 => value % 10_000,
        5 => value % 100_000,
        6 => value % 1_000_000,
        7 => value % 10_000_000,
        8 => value % 100_000_000,
        9 => value % 1_000_000_000,
        _ => value,
    }
}

/// The value of a hex digit (already checked to be one).
pub(crate) const fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c.wrapping_sub(b'0'),
        b'a'..=b'f' => c.wrapping_sub(b'a').wrapping_add(10),
        b'A'..=b'F' => c.wrapping_sub(b'A').wrapping_add(10),
        _ => 0,
    }
}

/// The length in bytes of the suite's HMAC.
const fn mac_bytes(suite: &Suite) -> u8 {
    match suite.algorithm() {
        crate::Algorithm::Sha1 => 20,
        crate::Algorithm::Sha256 => 32,
        crate::Algorithm::Sha512 => 64,
    }
}

impl CheckError {
    /// The refusal of a response that is not one of `suite`'s: exactly `t`
    /// decimal digits, or for `t` = 0 twice the HMAC's length in hex digits.
    pub(crate) fn malformed(suite: &Suite) -> Self {
        match suite.digits() {
            0 => Self::Malformed {
                len: suite.algorithm().output_len().saturating_mul(2),
                hex: true,
            },
            _ => Self::Malformed {
                len: usize::from(suite.digit_count()),
                hex: false,
            },
        }
    }
}
