//! A generated one-time code.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::key::Digits;

/// A one-time code: its value and its number of digits.
///
/// `Display` writes the zero-padded digits, which is what a token shows.
/// `Debug` does not show the value, so a code in a log line or a panic message
/// does not leak. Codes compare in constant time through
/// [`subtle::ConstantTimeEq`]; there is no `PartialEq`.
///
/// ```
/// use otpguard::{Algorithm, Hotp, Secret};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
/// let code = hotp.generate(0);
/// assert_eq!(code.to_string(), "755224");
/// assert_eq!(format!("{code:?}"), "Code { digits: 6, .. }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Code {
    value: u32,
    #[zeroize(skip)]
    digits: Digits,
}

impl Code {
    pub(crate) fn new(value: u32, digits: Digits) -> Self {
        Self { value, digits }
    }

    /// The code as a number (leading zeros are lost; use `to_string` for the
    /// digits as shown).
    ///
    /// ```
    /// # let secret = otpguard::Secret::from_bytes(b"12345678901234567890")?;
    /// # let hotp = otpguard::Hotp::new(&secret, otpguard::Algorithm::Sha1, 6)?;
    /// assert_eq!(hotp.generate(1).value(), 287_082);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn value(&self) -> u32 {
        self.value
    }

    /// Number of digits (6, 7 or 8).
    ///
    /// ```
    /// # let secret = otpguard::Secret::from_bytes(b"12345678901234567890")?;
    /// # let hotp = otpguard::Hotp::new(&secret, otpguard::Algorithm::Sha1, 8)?;
    /// assert_eq!(hotp.generate(0).digits(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn digits(&self) -> u32 {
        self.digits.get()
    }
}

impl ConstantTimeEq for Code {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.value.ct_eq(&other.value) & self.digits.get().ct_eq(&other.digits.get())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.value, width = self.digits.len())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code {{ digits: {}, .. }}", self.digits.get())
    }
}
