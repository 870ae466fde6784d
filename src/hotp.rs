//! HOTP: counter-based codes (RFC 4226).

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::key::{Digits, OtpKey};
use crate::verify::{scan, Match};
use crate::{Algorithm, Code, HotpCheckError, ParamError, Secret, Window};

/// A counter-based code generator and verifier (RFC 4226).
///
/// The HMAC is keyed once, here; the key states are wiped on drop.
///
/// ```
/// use otpguard::{Algorithm, Hotp, Secret, Window};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
/// assert_eq!(hotp.generate(0).to_string(), "755224"); // RFC 4226 Appendix D
///
/// // The server expects counter 3; the token was pressed twice more, unused.
/// let m = hotp.verify("520489", 3, Window::new(0, 10)?)?;
/// assert_eq!((m.step(), m.offset()), (9, 6));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, ZeroizeOnDrop)]
pub struct Hotp {
    key: OtpKey,
    #[zeroize(skip)]
    digits: Digits,
}

impl Hotp {
    /// A generator for `secret` with the given hash and 6, 7 or 8 digits.
    ///
    /// # Errors
    /// [`ParamError::Digits`] for any other number of digits.
    ///
    /// ```
    /// use otpguard::{Algorithm, Hotp, ParamError, Secret};
    /// let secret = Secret::generate(Algorithm::Sha1)?;
    /// assert!(Hotp::new(&secret, Algorithm::Sha1, 6).is_ok());
    /// assert_eq!(Hotp::new(&secret, Algorithm::Sha1, 9).err(), Some(ParamError::Digits(9)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(secret: &Secret, algorithm: Algorithm, digits: u32) -> Result<Self, ParamError> {
        let digits = Digits::new(digits)?;
        Ok(Self {
            key: OtpKey::new(secret, algorithm),
            digits,
        })
    }

    /// The code for `counter`.
    ///
    /// ```
    /// # use otpguard::{Algorithm, Hotp, Secret};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
    /// assert_eq!(hotp.generate(9).to_string(), "520489");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn generate(&self, counter: u64) -> Code {
        Code::new(self.key.hotp(counter, self.digits), self.digits)
    }

    /// Checks `input` against the counters from `counter - window.behind()` to
    /// `counter + window.ahead()`, in constant time (see [`crate::verify`]).
    /// The returned [`Match`] still has to be claimed against a replay guard.
    ///
    /// # Errors
    /// [`HotpCheckError::Malformed`] if `input` is not exactly the configured
    /// number of ASCII digits; [`HotpCheckError::Mismatch`] if no counter in
    /// the window produces it. Counters have no time: there is no time
    /// error.
    ///
    /// ```
    /// # use otpguard::{Algorithm, Hotp, HotpCheckError, Secret, Window};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
    /// assert_eq!(hotp.verify("287082", 1, Window::EXACT)?.step(), 1);
    /// assert!(matches!(hotp.verify("287083", 1, Window::EXACT), Err(HotpCheckError::Mismatch)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(
        &self,
        input: &str,
        counter: u64,
        window: Window,
    ) -> Result<Match, HotpCheckError> {
        scan(&self.key, self.digits, input, counter, window)
    }

    /// The hash function in use.
    ///
    /// ```
    /// # use otpguard::{Algorithm, Hotp, Secret};
    /// # let secret = Secret::generate(Algorithm::Sha256)?;
    /// assert_eq!(Hotp::new(&secret, Algorithm::Sha256, 6)?.algorithm(), Algorithm::Sha256);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The number of digits of each code.
    ///
    /// ```
    /// # use otpguard::{Algorithm, Hotp, Secret};
    /// # let secret = Secret::generate(Algorithm::Sha1)?;
    /// assert_eq!(Hotp::new(&secret, Algorithm::Sha1, 7)?.digits(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn digits(&self) -> u32 {
        self.digits.get()
    }
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("algorithm", &self.algorithm())
            .field("digits", &self.digits())
            .finish_non_exhaustive()
    }
}
