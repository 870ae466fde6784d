//! The lifecycle's settings: lock-out, swap time-out and the TOTP profile of
//! the bank's app.

use super::error::ConfigError;
use crate::{Algorithm, ParamError, Window};

// `Window::default()` is not const; this is the same window.
const DEFAULT_WINDOW: Window = match Window::new(1, 1) {
    Ok(w) => w,
    Err(_) => Window::EXACT,
};

/// Settings of a [`Lifecycle`](super::Lifecycle). All tokens of one bank
/// app share the TOTP profile (algorithm, digits, period, T0).
///
/// ```
/// use otpguard::lifecycle::LifecycleConfig;
/// let c = LifecycleConfig::default();
/// assert_eq!((c.max_failures(), c.swap_timeout()), (5, 600));
/// assert!(LifecycleConfig::builder().max_failures(101).build().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifecycleConfig {
    max_failures: u32,
    swap_timeout: u64,
    window: Window,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    t0: u64,
}

impl LifecycleConfig {
    /// Default lock-out maximum of consecutive wrong codes.
    pub const DEFAULT_MAX_FAILURES: u32 = 5;
    /// Highest lock-out maximum accepted (NIST SP 800-63B §5.2.2).
    pub const MAX_FAILURES_LIMIT: u32 = 100;
    /// Default time a swap may stay pending, in seconds.
    pub const DEFAULT_SWAP_TIMEOUT: u64 = 600;
    /// Longest swap time-out accepted: 7 days, in seconds.
    pub const SWAP_TIMEOUT_LIMIT: u64 = 7 * 24 * 60 * 60;

    /// Starts from the defaults: at most 5 consecutive wrong codes, swaps
    /// pending 10 minutes, the default [`Window`], SHA-1, 6 digits, 30
    /// seconds, T0 = 0.
    ///
    /// ```
    /// let c = otpguard::lifecycle::LifecycleConfig::builder().swap_timeout(900).build()?;
    /// assert_eq!(c.swap_timeout(), 900);
    /// # Ok::<(), otpguard::lifecycle::ConfigError>(())
    /// ```
    pub const fn builder() -> LifecycleConfigBuilder {
        LifecycleConfigBuilder(Self {
            max_failures: Self::DEFAULT_MAX_FAILURES,
            swap_timeout: Self::DEFAULT_SWAP_TIMEOUT,
            window: DEFAULT_WINDOW,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            t0: 0,
        })
    }

    /// Consecutive wrong codes that suspend a token.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().max_failures(), 5);
    /// ```
    #[must_use]
    pub const fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// Seconds a swap stays pending.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().swap_timeout(), 600);
    /// ```
    #[must_use]
    pub const fn swap_timeout(&self) -> u64 {
        self.swap_timeout
    }

    /// The verification window.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().window(), otpguard::Window::default());
    /// ```
    #[must_use]
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The app's hash function.
    ///
    /// ```
    /// # use otpguard::{Algorithm, lifecycle::LifecycleConfig};
    /// assert_eq!(LifecycleConfig::default().algorithm(), Algorithm::Sha1);
    /// ```
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Digits per code.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().digits(), 6);
    /// ```
    #[must_use]
    pub const fn digits(&self) -> u32 {
        self.digits
    }

    /// Seconds per time step.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().period(), 30);
    /// ```
    #[must_use]
    pub const fn period(&self) -> u64 {
        self.period
    }

    /// Unix time of step 0.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::LifecycleConfig::default().t0(), 0);
    /// ```
    #[must_use]
    pub const fn t0(&self) -> u64 {
        self.t0
    }
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self::builder().0
    }
}

/// Builds a [`LifecycleConfig`]; see [`LifecycleConfig::builder`].
///
/// ```
/// use otpguard::lifecycle::LifecycleConfig;
/// let c = LifecycleConfig::builder().max_failures(3).digits(8).build()?;
/// assert_eq!((c.max_failures(), c.digits()), (3, 8));
/// # Ok::<(), otpguard::lifecycle::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "call .build() to get a LifecycleConfig"]
pub struct LifecycleConfigBuilder(LifecycleConfig);

impl LifecycleConfigBuilder {
    /// Consecutive wrong codes that suspend a token: 1 to 100 (default 5).
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// assert!(LifecycleConfig::builder().max_failures(0).build().is_err());
    /// ```
    pub const fn max_failures(mut self, max: u32) -> Self {
        self.0.max_failures = max;
        self
    }

    /// Seconds a swap stays pending: 1 to 7 days (default 600).
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// assert!(LifecycleConfig::builder().swap_timeout(0).build().is_err());
    /// ```
    pub const fn swap_timeout(mut self, seconds: u64) -> Self {
        self.0.swap_timeout = seconds;
        self
    }

    /// The verification window (default one step each way).
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// let c = LifecycleConfig::builder().window(otpguard::Window::EXACT).build()?;
    /// # Ok::<(), otpguard::lifecycle::ConfigError>(())
    /// ```
    pub const fn window(mut self, window: Window) -> Self {
        self.0.window = window;
        self
    }

    /// The app's hash function (default SHA-1).
    ///
    /// ```
    /// # use otpguard::{Algorithm, lifecycle::LifecycleConfig};
    /// let c = LifecycleConfig::builder().algorithm(Algorithm::Sha256).build()?;
    /// # Ok::<(), otpguard::lifecycle::ConfigError>(())
    /// ```
    pub const fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.0.algorithm = algorithm;
        self
    }

    /// Digits per code: 6 (default), 7 or 8.
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// assert!(LifecycleConfig::builder().digits(9).build().is_err());
    /// ```
    pub const fn digits(mut self, digits: u32) -> Self {
        self.0.digits = digits;
        self
    }

    /// Seconds per time step: at least 1 (default 30).
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// assert!(LifecycleConfig::builder().period(0).build().is_err());
    /// ```
    pub const fn period(mut self, seconds: u64) -> Self {
        self.0.period = seconds;
        self
    }

    /// Unix time of step 0 (default 0).
    ///
    /// ```
    /// # use otpguard::lifecycle::LifecycleConfig;
    /// assert_eq!(LifecycleConfig::builder().t0(5).build()?.t0(), 5);
    /// # Ok::<(), otpguard::lifecycle::ConfigError>(())
    /// ```
    pub const fn t0(mut self, unix_seconds: u64) -> Self {
        self.0.t0 = unix_seconds;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::MaxFailures`] outside 1..=100;
    /// [`ConfigError::SwapTimeout`] outside 1 second..=7 days;
    /// [`ConfigError::Totp`] for digits other than 6, 7, 8 or a period of 0.
    ///
    /// ```
    /// let c = otpguard::lifecycle::LifecycleConfig::builder().build()?;
    /// # Ok::<(), otpguard::lifecycle::ConfigError>(())
    /// ```
    pub const fn build(self) -> Result<LifecycleConfig, ConfigError> {
        let c = self.0;
        if c.max_failures == 0 || c.max_failures > LifecycleConfig::MAX_FAILURES_LIMIT {
            return Err(ConfigError::MaxFailures {
                given: c.max_failures,
                limit: LifecycleConfig::MAX_FAILURES_LIMIT,
            });
        }
        if c.swap_timeout == 0 || c.swap_timeout > LifecycleConfig::SWAP_TIMEOUT_LIMIT {
            return Err(ConfigError::SwapTimeout {
                given: c.swap_timeout,
                limit: LifecycleConfig::SWAP_TIMEOUT_LIMIT,
            });
        }
        if c.digits < 6 || c.digits > 8 {
            return Err(ConfigError::Totp(ParamError::Digits(c.digits)));
        }
        if c.period == 0 {
            return Err(ConfigError::Totp(ParamError::ZeroPeriod));
        }
        Ok(c)
    }
}
