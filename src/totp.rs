//! TOTP: time-based codes (RFC 6238).

use core::fmt;
use core::num::NonZeroU64;

use zeroize::ZeroizeOnDrop;

use crate::key::{Digits, OtpKey};
use crate::verify::{scan, scan_pair, Match};
use crate::{
    Algorithm, CheckError, Code, PairError, ParamError, Secret, TimeError, TotpParams, Window,
};

/// A time-based code generator and verifier (RFC 6238).
///
/// The time step of a Unix time `t` is `(t - T0) / period`; all arithmetic is
/// on 64 bits, so times after 2038 and 2106 work, and a time before T0 is an
/// error rather than an underflow.
///
/// ```
/// use otpguard::{Algorithm, Secret, Totp, Window};
///
/// let secret = Secret::from_bytes(b"12345678901234567890123456789012")?;
/// let totp = Totp::builder(&secret)
///     .algorithm(Algorithm::Sha256)
///     .digits(8)
///     .period(30)
///     .t0(0)
///     .build()?;
/// assert_eq!(totp.generate(59)?.to_string(), "46119246"); // RFC 6238 Appendix B
///
/// let m = totp.verify("46119246", 59, Window::default())?;
/// assert_eq!((m.step(), m.offset()), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, ZeroizeOnDrop)]
pub struct Totp {
    key: OtpKey,
    #[zeroize(skip)]
    digits: Digits,
    #[zeroize(skip)]
    period: NonZeroU64,
    #[zeroize(skip)]
    t0: u64,
}

/// Builds a [`Totp`]; defaults are SHA-1, 6 digits, 30 seconds, T0 = 0 (what
/// authenticator apps assume).
///
/// ```
/// use otpguard::{Algorithm, Secret, Totp};
/// let secret = Secret::generate(Algorithm::Sha1)?;
/// let totp = Totp::builder(&secret).build()?;
/// assert_eq!((totp.digits(), totp.period(), totp.t0()), (6, 30, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to get a Totp"]
pub struct TotpBuilder<'a> {
    secret: &'a Secret,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    t0: u64,
}

impl TotpBuilder<'_> {
    /// The hash function (default SHA-1).
    ///
    /// ```
    /// # use otpguard::{Algorithm, Secret, Totp};
    /// # let secret = Secret::generate(Algorithm::Sha512)?;
    /// let t = Totp::builder(&secret).algorithm(Algorithm::Sha512).build()?;
    /// assert_eq!(t.algorithm(), Algorithm::Sha512);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Digits per code: 6 (default), 7 or 8; checked by [`build`](Self::build).
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert!(Totp::builder(&secret).digits(5).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// Length of a time step in seconds (default 30); at least 1, checked by
    /// [`build`](Self::build).
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).period(60).build()?.period(), 60);
    /// assert!(Totp::builder(&secret).period(0).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn period(mut self, seconds: u64) -> Self {
        self.period = seconds;
        self
    }

    /// The Unix time at which step 0 starts (default 0).
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let t = Totp::builder(&secret).t0(1_000).build()?;
    /// assert_eq!(t.step_at(1_030)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn t0(mut self, unix_seconds: u64) -> Self {
        self.t0 = unix_seconds;
        self
    }

    /// Takes every setting from one validated [`TotpParams`] (the value a
    /// [`LifecycleConfig`](crate::lifecycle::LifecycleConfig) and a
    /// [`KeyUriBuilder`](crate::KeyUriBuilder) take too).
    ///
    /// ```
    /// # use otpguard::{Algorithm, Secret, Totp, TotpParams};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let params = TotpParams::new(Algorithm::Sha256, 8, 60, 0)?;
    /// assert_eq!(Totp::builder(&secret).params(params).build()?.params(), params);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn params(mut self, params: TotpParams) -> Self {
        self.algorithm = params.algorithm();
        self.digits = params.digits();
        self.period = params.period();
        self.t0 = params.t0();
        self
    }

    /// Keys the HMAC and returns the generator.
    ///
    /// # Errors
    /// [`ParamError::Digits`] unless digits is 6, 7 or 8;
    /// [`ParamError::ZeroPeriod`] for a period of 0.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let totp = Totp::builder(&secret).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Totp, ParamError> {
        let params = TotpParams::new(self.algorithm, self.digits, self.period, self.t0)?;
        Ok(Totp::new(self.secret, params))
    }
}

impl Totp {
    /// Keys `secret` with a validated profile; cannot fail.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp, TotpParams};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let totp = Totp::new(&secret, TotpParams::default());
    /// assert_eq!(totp.period(), 30);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(secret: &Secret, params: TotpParams) -> Self {
        Self {
            key: OtpKey::new(secret, params.algorithm()),
            digits: params.digits_checked(),
            period: params.period_checked(),
            t0: params.t0(),
        }
    }

    /// The profile this generator was keyed with.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp, TotpParams};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).build()?.params(), TotpParams::default());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn params(&self) -> TotpParams {
        TotpParams::from_parts(self.algorithm(), self.digits, self.period, self.t0)
    }

    /// Starts building a TOTP for `secret` (see [`TotpBuilder`]).
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(secret: &Secret) -> TotpBuilder<'_> {
        TotpBuilder {
            secret,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            t0: 0,
        }
    }

    /// The time step that contains `unix_seconds`.
    ///
    /// # Errors
    /// [`TimeError::BeforeT0`] if `unix_seconds` is earlier than T0.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let totp = Totp::builder(&secret).build()?;
    /// assert_eq!(totp.step_at(59)?, 1);
    /// assert_eq!(totp.step_at(u64::MAX)?, u64::MAX / 30);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step_at(&self, unix_seconds: u64) -> Result<u64, TimeError> {
        unix_seconds
            .checked_sub(self.t0)
            .map(|since| since / self.period)
            .ok_or(TimeError::BeforeT0 {
                time: unix_seconds,
                t0: self.t0,
            })
    }

    /// The Unix time at which `step` starts, or `None` if that is after
    /// `u64::MAX`.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// let totp = Totp::builder(&secret).t0(100).build()?;
    /// assert_eq!(totp.step_start(2), Some(160));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn step_start(&self, step: u64) -> Option<u64> {
        step.checked_mul(self.period.get())?.checked_add(self.t0)
    }

    /// The code a token shows at `unix_seconds`.
    ///
    /// # Errors
    /// [`TimeError::BeforeT0`] if `unix_seconds` is earlier than T0.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// assert_eq!(totp.generate(1_111_111_109)?.to_string(), "07081804");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate(&self, unix_seconds: u64) -> Result<Code, TimeError> {
        Ok(self.generate_step(self.step_at(unix_seconds)?))
    }

    /// The code of time step `step`.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// assert_eq!(totp.generate_step(1).to_string(), "94287082");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn generate_step(&self, step: u64) -> Code {
        Code::new(self.key.hotp(step, self.digits), self.digits)
    }

    /// Checks `input` against every time step in `window` around the step of
    /// `unix_seconds`, in constant time (see [`crate::verify`]), and reports
    /// which step matched. The returned [`Match`] still has to be claimed
    /// against a replay guard.
    ///
    /// # Errors
    /// [`CheckError::Malformed`] if `input` is not exactly the configured
    /// number of ASCII digits (checked before any comparison);
    /// [`CheckError::Time`] if `unix_seconds` is before T0;
    /// [`CheckError::Mismatch`] if no step in the window produces `input`.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp, CheckError, Window};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// let w = Window::new(1, 1)?;
    /// assert_eq!(totp.verify("94287082", 59, w)?.offset(), 0);
    /// assert!(matches!(totp.verify("94287083", 59, w), Err(CheckError::Mismatch)));
    /// assert!(matches!(totp.verify("9428708", 59, w), Err(CheckError::Malformed { expected: 8 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(
        &self,
        input: &str,
        unix_seconds: u64,
        window: Window,
    ) -> Result<Match, CheckError> {
        let step = self.step_at(unix_seconds)?;
        Ok(scan(&self.key, self.digits, input, step, window)?)
    }

    /// As [`Totp::verify`], with the window centred `shift` steps away
    /// from the current step (a token's recorded drift); the match's
    /// offset is from the current step, not from the centre.
    pub(crate) fn verify_shifted(
        &self,
        input: &str,
        unix_seconds: u64,
        shift: i64,
        window: Window,
    ) -> Result<Match, CheckError> {
        let now = self.step_at(unix_seconds)?;
        let center = now
            .checked_add_signed(shift)
            .ok_or(TimeError::DriftOutOfRange { step: now, shift })?;
        let found = scan(&self.key, self.digits, input, center, window)?;
        Ok(Match {
            step: found.step,
            offset: found.offset.saturating_add(shift),
        })
    }

    /// As [`Totp::verify`], over the steps `first..=last` (a window the
    /// lifecycle computed from the token's drift estimate); the match's
    /// offset is from the step of `unix_seconds`.
    pub(crate) fn verify_steps(
        &self,
        input: &str,
        unix_seconds: u64,
        steps: (u64, u64),
    ) -> Result<Match, CheckError> {
        let now = self.step_at(unix_seconds)?;
        crate::verify::scan_steps(&self.key, self.digits, input, steps, now)
    }

    /// Whether `input` is the code of time step `step` (constant time).
    /// A malformed input matches no step.
    pub(crate) fn is_code_of_step(&self, input: &str, step: u64) -> bool {
        scan(&self.key, self.digits, input, step, Window::EXACT).is_ok()
    }

    /// The widest [`Totp::verify_pair`] radius: 1,000 steps either way
    /// (each check computes 2·radius + 2 codes).
    pub const MAX_PAIR_RADIUS: u32 = 1_000;

    /// Resynchronisation (RFC 4226 §7.4, applied to TOTP): finds `first`
    /// and `second` as the codes of two consecutive steps, the later one
    /// within `radius` steps of the current one, comparing every step of
    /// the wide window in constant time. The match is the later step, its
    /// offset from the current step the phone's drift. Claim it like any
    /// match, so that neither code can be used again.
    ///
    /// ```
    /// # use otpguard::{CheckError, PairError, Secret, Totp};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).build()?;
    /// let now = 1_700_000_000;
    /// // A phone 40 steps (20 minutes) slow shows these two codes in a row:
    /// let first = totp.generate(now - 41 * 30)?.to_string();
    /// let second = totp.generate(now - 40 * 30)?.to_string();
    /// assert_eq!(totp.verify_pair(&first, &second, now, 100)?.offset(), -40);
    /// assert_eq!(totp.verify_pair(&second, &first, now, 100), Err(PairError::Check(CheckError::Mismatch)));
    /// // A radius above the cap is the caller's fault, not a wrong pair.
    /// assert!(matches!(totp.verify_pair(&first, &second, now, 1_001), Err(PairError::RadiusTooLarge { radius: 1_001, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PairError::RadiusTooLarge`] above [`Totp::MAX_PAIR_RADIUS`];
    /// otherwise [`PairError::Check`] with [`CheckError::Malformed`] if
    /// either code is not the configured number of digits,
    /// [`CheckError::Time`] before T0, [`CheckError::Mismatch`] if no two
    /// consecutive steps show the pair.
    pub fn verify_pair(
        &self,
        first: &str,
        second: &str,
        unix_seconds: u64,
        radius: u32,
    ) -> Result<Match, PairError> {
        if radius > Self::MAX_PAIR_RADIUS {
            return Err(PairError::RadiusTooLarge {
                radius,
                max: Self::MAX_PAIR_RADIUS,
            });
        }
        let now = self.step_at(unix_seconds).map_err(CheckError::from)?;
        let found = scan_pair(&self.key, self.digits, first, second, now, radius);
        Ok(found.map_err(CheckError::from)?)
    }

    /// The hash function in use.
    ///
    /// ```
    /// # use otpguard::{Algorithm, Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).build()?.algorithm(), Algorithm::Sha1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Digits per code.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).build()?.digits(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn digits(&self) -> u32 {
        self.digits.get()
    }

    /// Seconds per time step.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).build()?.period(), 30);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn period(&self) -> u64 {
        self.period.get()
    }

    /// The Unix time of step 0.
    ///
    /// ```
    /// # use otpguard::{Secret, Totp};
    /// # let secret = Secret::from_bytes(&[9; 20])?;
    /// assert_eq!(Totp::builder(&secret).build()?.t0(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn t0(&self) -> u64 {
        self.t0
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("algorithm", &self.algorithm())
            .field("digits", &self.digits())
            .field("period", &self.period())
            .field("t0", &self.t0)
            .finish_non_exhaustive()
    }
}
