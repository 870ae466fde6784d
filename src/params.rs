//! The TOTP settings of one app profile, as one validated value.

use core::num::NonZeroU64;

use crate::key::Digits;
use crate::{Algorithm, ParamError};

/// A validated TOTP profile: hash function, digits, period and T0.
///
/// It is the one value that [`TotpBuilder`](crate::TotpBuilder),
/// [`KeyUriBuilder`](crate::KeyUriBuilder) and the lifecycle's
/// [`LifecycleConfig`](crate::lifecycle::LifecycleConfig) take, so the codes
/// a phone is provisioned for and the codes the bank checks cannot drift
/// apart. `Copy` and compared with `==`.
///
/// ```
/// use otpguard::{Algorithm, TotpParams};
/// let p = TotpParams::new(Algorithm::Sha256, 8, 60, 0)?;
/// assert_eq!((p.digits(), p.period()), (8, 60));
/// assert_eq!(TotpParams::default(), TotpParams::new(Algorithm::Sha1, 6, 30, 0)?);
/// assert!(TotpParams::new(Algorithm::Sha1, 9, 30, 0).is_err());
/// # Ok::<(), otpguard::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Fields", into = "Fields")
)]
pub struct TotpParams {
    algorithm: Algorithm,
    digits: Digits,
    period: NonZeroU64,
    t0: u64,
}

/// RFC 6238's defaults: SHA-1, 6 digits, 30 seconds, T0 = 0.
const DEFAULT_PERIOD: NonZeroU64 = match NonZeroU64::new(30) {
    Some(p) => p,
    None => NonZeroU64::MIN,
};

impl TotpParams {
    /// RFC 6238's defaults: SHA-1, 6 digits, 30-second steps from T0 = 0.
    pub const DEFAULT: Self = Self {
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
        period: DEFAULT_PERIOD,
        t0: 0,
    };

    /// Checks and bundles a profile.
    ///
    /// # Errors
    /// [`ParamError::Digits`] for digits other than 6, 7 or 8;
    /// [`ParamError::ZeroPeriod`] for a period of 0.
    pub fn new(
        algorithm: Algorithm,
        digits: u32,
        period: u64,
        t0: u64,
    ) -> Result<Self, ParamError> {
        Ok(Self {
            algorithm,
            digits: Digits::new(digits)?,
            period: NonZeroU64::new(period).ok_or(ParamError::ZeroPeriod)?,
            t0,
        })
    }

    /// The hash function.
    #[must_use]
    pub const fn algorithm(self) -> Algorithm {
        self.algorithm
    }

    /// Digits per code (6, 7 or 8).
    #[must_use]
    pub fn digits(self) -> u32 {
        self.digits.get()
    }

    /// Seconds per time step (at least 1).
    #[must_use]
    pub const fn period(self) -> u64 {
        self.period.get()
    }

    /// Unix time of step 0.
    #[must_use]
    pub const fn t0(self) -> u64 {
        self.t0
    }

    pub(crate) const fn from_parts(
        algorithm: Algorithm,
        digits: Digits,
        period: NonZeroU64,
        t0: u64,
    ) -> Self {
        Self {
            algorithm,
            digits,
            period,
            t0,
        }
    }

    pub(crate) const fn digits_checked(self) -> Digits {
        self.digits
    }

    pub(crate) const fn period_checked(self) -> NonZeroU64 {
        self.period
    }
}

/// The serde form: the four settings by name, checked on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Fields {
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    t0: u64,
}

#[cfg(feature = "serde")]
impl TryFrom<Fields> for TotpParams {
    type Error = ParamError;

    fn try_from(f: Fields) -> Result<Self, ParamError> {
        Self::new(f.algorithm, f.digits, f.period, f.t0)
    }
}

#[cfg(feature = "serde")]
impl From<TotpParams> for Fields {
    fn from(p: TotpParams) -> Self {
        Self {
            algorithm: p.algorithm(),
            digits: p.digits(),
            period: p.period(),
            t0: p.t0(),
        }
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}
