//! The lifecycle's settings: lock-out, time-outs, retries and the TOTP
//! profile of the bank's app.

pub use super::throttle::Throttle;

use std::sync::Arc;

use super::error::{AnswerPolicy, ConfigError};
use crate::ocra::{QuestionFormat, Suite, Transaction, VerifyWindow};
use crate::{TotpParams, Window};

/// Settings of a [`Lifecycle`](super::Lifecycle). All tokens of one bank
/// app share one TOTP profile ([`TotpParams`]); the Key URIs the lifecycle
/// provisions are built from that same value, so the app and the bank
/// cannot disagree.
///
/// ```
/// use otpguard::lifecycle::LifecycleConfig;
/// let c = LifecycleConfig::default();
/// assert_eq!((c.max_failures(), c.swap_timeout()), (5, 600));
/// assert!(LifecycleConfig::builder().max_failures(101).build().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleConfig {
    max_failures: u32,
    swap_timeout: u64,
    enrollment_timeout: u64,
    max_attempts: u32,
    window: Window,
    max_drift: u32,
    max_drift_rate: u32,
    resync_window: u32,
    throttle: Throttle,
    totp: TotpParams,
    issuer: Option<Arc<str>>,
    signing: Option<Suite>,
    signature_validity: u64,
    signing_counter_ahead: u32,
    answers: AnswerPolicy,
}

impl LifecycleConfig {
    /// Default lock-out maximum of consecutive wrong codes.
    pub const DEFAULT_MAX_FAILURES: u32 = 5;
    /// Highest lock-out maximum accepted (NIST SP 800-63B §5.2.2).
    pub const MAX_FAILURES_LIMIT: u32 = 100;
    /// Default time a swap may stay pending, in seconds.
    pub const DEFAULT_SWAP_TIMEOUT: u64 = 600;
    /// Default time a provisioned secret waits for its first code, in
    /// seconds.
    pub const DEFAULT_ENROLLMENT_TIMEOUT: u64 = 900;
    /// Longest swap or enrollment time-out accepted: 7 days, in seconds.
    pub const TIMEOUT_LIMIT: u64 = 7 * 24 * 60 * 60;
    /// Default number of times one event is decided and committed before a
    /// conflict storm is reported ([`LifecycleError::Contended`](super::LifecycleError::Contended)).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 64;
    /// Highest number of attempts accepted.
    pub const MAX_ATTEMPTS_LIMIT: u32 = 10_000;

    /// Default bound on a token's recorded drift: 10 steps either way
    /// (5 minutes at 30 s).
    pub const DEFAULT_MAX_DRIFT: u32 = 10;
    /// Default fastest a phone's clock is expected to drift: 5 seconds a
    /// day either way (a poor quartz clock; a phone that sets its clock
    /// from the network drifts far less).
    pub const DEFAULT_MAX_DRIFT_RATE: u32 = 5;
    /// The largest maximum drift rate accepted: 10 minutes a day.
    pub const MAX_DRIFT_RATE_LIMIT: u32 = 600;
    /// How many steps beyond the configured window a code may be checked
    /// against while the estimate of the phone's clock is uncertain (a
    /// token used rarely before its drift rate is known): 4, so at most 7
    /// steps with the default window, and 3 once the rate is known.
    pub const MAX_WINDOW_WIDENING: u32 = 4;
    /// The largest bound on a token's recorded drift: 120 steps (one hour at
    /// 30 s), and never more than the resynchronisation window.
    pub const MAX_DRIFT_LIMIT: u32 = 120;
    /// Default resynchronisation window: 100 steps either way (RFC 4226
    /// §7.4's "larger look-ahead window", applied to time steps).
    pub const DEFAULT_RESYNC_WINDOW: u32 = 100;
    /// The largest resynchronisation window: 1,000 steps either way (each
    /// resynchronisation computes two codes per step of the window).
    pub const RESYNC_WINDOW_LIMIT: u32 = crate::Totp::MAX_PAIR_RADIUS;
    /// Default time a transaction signature stays valid after its time
    /// step: 5 minutes.
    pub const DEFAULT_SIGNATURE_VALIDITY: u64 = 300;
    /// The settings refuse a signing suite, validity, look-ahead and
    /// lock-out maximum with which a guesser without the token would forge
    /// a signature before the lock-out with a chance above 1 in this many.
    pub const SIGNATURE_GUESS_ODDS: u64 = 1_000;
    /// Default look-ahead of a signing suite's counter (suites with `C`).
    pub const DEFAULT_SIGNING_COUNTER_AHEAD: u32 = 10;
    /// The largest look-ahead of a signing suite's counter: one below
    /// [`VerifyWindow::MAX_COUNTER_AHEAD`], as the search also looks at the
    /// counter last accepted (to tell a replay from a wrong response).
    pub const SIGNING_COUNTER_AHEAD_LIMIT: u32 = VerifyWindow::MAX_COUNTER_AHEAD - 1;

    /// Starts from the defaults: at most 5 consecutive wrong codes, swaps
    /// pending 10 minutes, provisioned secrets pending 15 minutes, 64
    /// attempts per event, the default [`Window`] and [`TotpParams`], no
    /// issuer.
    pub const fn builder() -> LifecycleConfigBuilder {
        LifecycleConfigBuilder(Self {
            max_failures: Self::DEFAULT_MAX_FAILURES,
            swap_timeout: Self::DEFAULT_SWAP_TIMEOUT,
            enrollment_timeout: Self::DEFAULT_ENROLLMENT_TIMEOUT,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            window: Window::DEFAULT,
            max_drift: Self::DEFAULT_MAX_DRIFT,
            max_drift_rate: Self::DEFAULT_MAX_DRIFT_RATE,
            resync_window: Self::DEFAULT_RESYNC_WINDOW,
            throttle: Throttle::OFF,
            totp: TotpParams::DEFAULT,
            issuer: None,
            signing: None,
            signature_validity: Self::DEFAULT_SIGNATURE_VALIDITY,
            signing_counter_ahead: Self::DEFAULT_SIGNING_COUNTER_AHEAD,
            answers: AnswerPolicy::COARSE,
        })
    }

    /// What customers may learn of a hold-back or a lock-out in the answer
    /// to a refused request ([`AnswerPolicy::COARSE`] by default).
    #[must_use]
    pub const fn answers(&self) -> AnswerPolicy {
        self.answers
    }

    /// Consecutive wrong codes that suspend a token.
    #[must_use]
    pub const fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// Seconds a swap stays pending.
    #[must_use]
    pub const fn swap_timeout(&self) -> u64 {
        self.swap_timeout
    }

    /// Seconds a provisioned secret waits for its first code.
    #[must_use]
    pub const fn enrollment_timeout(&self) -> u64 {
        self.enrollment_timeout
    }

    /// Times one event is decided and committed before the lifecycle gives
    /// up on a conflict storm.
    #[must_use]
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The verification window.
    #[must_use]
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The bound on a token's recorded drift, in steps either way: the
    /// window of a token is centred on its drift (RFC 6238 §6), which
    /// follows each accepted code but never goes beyond this.
    #[must_use]
    pub const fn max_drift(&self) -> u32 {
        self.max_drift
    }

    /// `drift` held within [`LifecycleConfig::max_drift`].
    pub(crate) fn bounded_drift(&self, drift: i64) -> i64 {
        let bound = i64::from(self.max_drift);
        drift.clamp(bound.saturating_neg(), bound)
    }

    /// The fastest a phone's clock is expected to drift, in seconds a day
    /// either way: a token's window covers where its phone's clock can have
    /// moved since its last code, at a rate within what its codes allow and
    /// never above this (see [`DriftEstimate`](super::DriftEstimate)).
    #[must_use]
    pub const fn max_drift_rate(&self) -> u32 {
        self.max_drift_rate
    }

    /// How far, in steps either way, `Resync` looks for two consecutive
    /// codes.
    #[must_use]
    pub const fn resync_window(&self) -> u32 {
        self.resync_window
    }

    /// The delays after consecutive wrong codes.
    #[must_use]
    pub const fn throttle(&self) -> Throttle {
        self.throttle
    }

    /// The app's TOTP profile.
    #[must_use]
    pub const fn totp(&self) -> TotpParams {
        self.totp
    }

    /// The issuer written into provisioned Key URIs (the bank's name as the
    /// app shows it).
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The OCRA suite (RFC 6287) that tokens registered from now on sign
    /// transactions with, if any.
    #[must_use]
    pub const fn signing(&self) -> Option<Suite> {
        self.signing
    }

    /// Seconds a transaction signature stays valid after the time step it
    /// was computed in (rounded up to whole steps of the signing suite).
    #[must_use]
    pub const fn signature_validity(&self) -> u64 {
        self.signature_validity
    }

    /// The window a signature of a token bound with `suite` is checked
    /// over: the counter look-ahead (suites with `C`), and the validity in
    /// whole time steps behind the verifier's step (at most
    /// [`Window::MAX`], for a token bound with a suite of shorter steps
    /// than today's) plus one ahead, for the phone's clock running fast.
    /// `None` for a suite without a time step, which no token is bound
    /// with (the settings and every store refuse it).
    pub(crate) fn signature_window(&self, suite: &Suite) -> Option<VerifyWindow> {
        let seconds = suite.time_step()?.seconds();
        // Whole steps, rounded up (a time step is at least one second).
        let steps = self
            .signature_validity
            .saturating_add(seconds.saturating_sub(1))
            .checked_div(seconds)?;
        let behind = u32::try_from(steps).map_or(Window::MAX, |s| s.min(Window::MAX));
        let time = Window::new(behind, 1).ok()?;
        let ahead = if suite.has_counter() {
            self.signing_counter_ahead
        } else {
            0
        };
        VerifyWindow::new(ahead, time).ok()
    }

    /// Whether a guesser without the token, before the lock-out, would
    /// forge a signature under `suite` with these settings with a chance
    /// above 1 in [`LifecycleConfig::SIGNATURE_GUESS_ODDS`]: if so, the
    /// responses one attempt is compared with. Checked by `build` for the
    /// configured suite, and at every signature for the token's own suite
    /// (a token bound earlier under another).
    pub(crate) fn guessable_signing(&self, suite: &Suite) -> Option<u64> {
        let candidates = self.signature_candidates(suite);
        let responses = 10u64.saturating_pow(suite.digits());
        let guesses = candidates.saturating_mul(u64::from(self.max_failures));
        (guesses.saturating_mul(Self::SIGNATURE_GUESS_ODDS) > responses).then_some(candidates)
    }

    /// How many responses one signature attempt is compared with under
    /// `suite`: each counter of the look-ahead by each time step of the
    /// window (the counter last accepted, which can only be a replay, not
    /// counted).
    fn signature_candidates(&self, suite: &Suite) -> u64 {
        self.signature_window(suite).map_or(0, |w| {
            let time = w.time_window();
            let steps = u64::from(time.behind())
                .saturating_add(u64::from(time.ahead()))
                .saturating_add(1);
            steps.saturating_mul(u64::from(w.counter_ahead()).saturating_add(1))
        })
    }
}

impl LifecycleConfig {
    /// Settings that follow NIST SP 800-63B rev. 4 §3.2.2 (rate limiting):
    /// at most 100 consecutive failed attempts on one token (then the
    /// token is locked until an operator acts), with increasing delays
    /// before that ([`Throttle::NIST_800_63B`]: from the 5th wrong code,
    /// 30 seconds doubling up to one hour), all reset by a successful
    /// authentication. Further settings can be chained.
    ///
    /// ```
    /// use otpguard::lifecycle::LifecycleConfig;
    /// let c = LifecycleConfig::nist_800_63b().issuer("Example Bank").build()?;
    /// assert_eq!(c.max_failures(), 100);
    /// assert_eq!(c.throttle().delay_after(5), 30);
    /// assert_eq!(c.throttle().delay_after(99), 3_600);
    /// # Ok::<(), otpguard::lifecycle::error::ConfigError>(())
    /// ```
    pub const fn nist_800_63b() -> LifecycleConfigBuilder {
        let mut builder = Self::builder();
        builder.0.max_failures = 100;
        builder.0.throttle = Throttle::NIST_800_63B;
        builder
    }

    /// Settings that follow PSD2 RTS (Commission Delegated Regulation (EU)
    /// 2018/389) Art. 4(3)(b) and (d): at most 5 consecutive failed
    /// attempts, then a temporary block of `block_seconds`; after
    /// `temporary_blocks` temporary blocks, the next block is permanent
    /// (the token is locked until an operator acts), and the last temporary
    /// block raises [`Notice::LastTemporaryBlock`](super::audit::Notice::LastTemporaryBlock)
    /// so that the customer is alerted before the block becomes permanent.
    ///
    /// ```
    /// use otpguard::lifecycle::LifecycleConfig;
    /// let c = LifecycleConfig::psd2_rts(1_800, 2)?.build()?;
    /// assert_eq!(c.max_failures(), 15); // blocks at 5 and 10, locked at 15
    /// assert_eq!((c.throttle().delay_after(5), c.throttle().delay_after(6)), (1_800, 0));
    /// # Ok::<(), otpguard::lifecycle::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Preset`] if `temporary_blocks` is not 1 to 19 (the
    /// lock-out maximum stays within 100); [`ConfigError::Throttle`] if
    /// `block_seconds` is not 1 second to 7 days.
    pub fn psd2_rts(
        block_seconds: u64,
        temporary_blocks: u32,
    ) -> Result<LifecycleConfigBuilder, ConfigError> {
        const ATTEMPTS: u32 = 5;
        if !(1..=19).contains(&temporary_blocks) {
            return Err(ConfigError::Preset(
                "PSD2: 1 to 19 temporary blocks before the permanent one",
            ));
        }
        let max = temporary_blocks
            .checked_add(1)
            .and_then(|blocks| blocks.checked_mul(ATTEMPTS))
            .ok_or(ConfigError::Preset("PSD2: too many temporary blocks"))?;
        Ok(Self::builder()
            .max_failures(max)
            .throttle(Throttle::blocks(ATTEMPTS, block_seconds)?))
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
/// use otpguard::{Algorithm, TotpParams};
/// let c = LifecycleConfig::builder()
///     .max_failures(3)
///     .totp(TotpParams::new(Algorithm::Sha256, 8, 30, 0)?)
///     .issuer("Example Bank")
///     .build()?;
/// assert_eq!((c.max_failures(), c.totp().digits(), c.issuer()), (3, 8, Some("Example Bank")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .build() to get a LifecycleConfig"]
pub struct LifecycleConfigBuilder(LifecycleConfig);

impl LifecycleConfigBuilder {
    /// Consecutive wrong codes that suspend a token: 1 to 100 (default 5).
    pub fn max_failures(mut self, max: u32) -> Self {
        self.0.max_failures = max;
        self
    }

    /// Seconds a swap stays pending: 1 to 7 days (default 600).
    pub fn swap_timeout(mut self, seconds: u64) -> Self {
        self.0.swap_timeout = seconds;
        self
    }

    /// Seconds a provisioned secret waits for its first code: 1 to 7 days
    /// (default 900).
    pub fn enrollment_timeout(mut self, seconds: u64) -> Self {
        self.0.enrollment_timeout = seconds;
        self
    }

    /// Times one event is decided and committed before the lifecycle gives
    /// up on a conflict storm: 1 to 10,000 (default 64).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.0.max_attempts = attempts;
        self
    }

    /// The verification window (default one step each way).
    pub fn window(mut self, window: Window) -> Self {
        self.0.window = window;
        self
    }

    /// The bound on a token's recorded drift, in steps either way: 0 to
    /// [`LifecycleConfig::MAX_DRIFT_LIMIT`], at most the resynchronisation
    /// window (default 10). 0 turns drift re-centring off.
    pub fn max_drift(mut self, steps: u32) -> Self {
        self.0.max_drift = steps;
        self
    }

    /// The fastest a phone's clock is expected to drift, in seconds a day
    /// either way: 0 to [`LifecycleConfig::MAX_DRIFT_RATE_LIMIT`] (default
    /// 5). 0 checks a code only against where the last codes put the clock.
    pub fn max_drift_rate(mut self, seconds_a_day: u32) -> Self {
        self.0.max_drift_rate = seconds_a_day;
        self
    }

    /// How far `Resync` looks for two consecutive codes, in steps either
    /// way: 1 to [`LifecycleConfig::RESYNC_WINDOW_LIMIT`] (default 100).
    pub fn resync_window(mut self, steps: u32) -> Self {
        self.0.resync_window = steps;
        self
    }

    /// The delays after consecutive wrong codes (default
    /// [`Throttle::OFF`]: the lock-out alone).
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.0.throttle = throttle;
        self
    }

    /// The app's TOTP profile (default: SHA-1, 6 digits, 30 s, T0 = 0).
    pub fn totp(mut self, params: TotpParams) -> Self {
        self.0.totp = params;
        self
    }

    /// The issuer written into provisioned Key URIs.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.0.issuer = Some(Arc::from(issuer));
        self
    }

    /// The OCRA suite tokens sign transactions with (RFC 6287; default
    /// none). It is written into provisioned Key URIs, and each token keeps
    /// the suite it was registered with. The suite must have a time step
    /// (`T`, so a signature expires) and a question for
    /// [`Transaction::question_for`] (`QN` for the payee's account number,
    /// `QH40` to `QH64` for the transaction's digest), and no PIN (`P`) or
    /// session information (`S`), which the lifecycle does not hold. With a
    /// counter (`C`), the counter makes each signature single use;
    /// without, the time step does (one signature per step).
    ///
    /// ```
    /// use otpguard::lifecycle::LifecycleConfig;
    /// use otpguard::ocra::Suite;
    /// let c = LifecycleConfig::builder().signing(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?).build()?;
    /// assert!(c.signing().is_some());
    /// let no_time = LifecycleConfig::builder().signing(Suite::parse("OCRA-1:HOTP-SHA1-6:C-QN08")?);
    /// assert!(no_time.build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signing(mut self, suite: Suite) -> Self {
        self.0.signing = Some(suite);
        self
    }

    /// Seconds a transaction signature stays valid after the time step it
    /// was computed in, rounded up to whole steps of the signing suite: 1
    /// second to [`Window::MAX`] steps (default 300). A token bound with a
    /// suite of shorter steps than today's is checked over at most
    /// [`Window::MAX`] of its own steps.
    pub fn signature_validity(mut self, seconds: u64) -> Self {
        self.0.signature_validity = seconds;
        self
    }

    /// How many counters past the next expected one a signature of a
    /// suite with a counter (`C`) may come from: 0 to
    /// [`LifecycleConfig::SIGNING_COUNTER_AHEAD_LIMIT`] (default 10). A
    /// token whose app computed more responses than that without sending
    /// them cannot sign again: there is no resynchronisation of a signing
    /// counter, so it must be registered anew (a suite without a counter
    /// has no such state).
    pub fn signing_counter_ahead(mut self, ahead: u32) -> Self {
        self.0.signing_counter_ahead = ahead;
        self
    }

    /// What customers may learn of a hold-back or a lock-out in the answer
    /// to a refused request (see [`AnswerPolicy`]; default
    /// [`AnswerPolicy::COARSE`]).
    pub const fn answers(mut self, policy: AnswerPolicy) -> Self {
        self.0.answers = policy;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::MaxFailures`], [`ConfigError::SwapTimeout`],
    /// [`ConfigError::EnrollmentTimeout`], [`ConfigError::MaxAttempts`],
    /// [`ConfigError::ResyncWindow`], [`ConfigError::MaxDrift`],
    /// [`ConfigError::SignatureValidity`] or
    /// [`ConfigError::SigningCounterAhead`] for a value out of range;
    /// [`ConfigError::Issuer`] for an issuer a Key URI cannot carry;
    /// [`ConfigError::SigningSuite`] for a signing suite the lifecycle
    /// cannot use.
    pub fn build(self) -> Result<LifecycleConfig, ConfigError> {
        let c = self.0;
        if c.max_failures == 0 || c.max_failures > LifecycleConfig::MAX_FAILURES_LIMIT {
            return Err(ConfigError::MaxFailures {
                given: c.max_failures,
                limit: LifecycleConfig::MAX_FAILURES_LIMIT,
            });
        }
        let timeouts = 1..=LifecycleConfig::TIMEOUT_LIMIT;
        if !timeouts.contains(&c.swap_timeout) {
            return Err(ConfigError::SwapTimeout {
                given: c.swap_timeout,
                limit: LifecycleConfig::TIMEOUT_LIMIT,
            });
        }
        if !timeouts.contains(&c.enrollment_timeout) {
            return Err(ConfigError::EnrollmentTimeout {
                given: c.enrollment_timeout,
                limit: LifecycleConfig::TIMEOUT_LIMIT,
            });
        }
        if c.max_attempts == 0 || c.max_attempts > LifecycleConfig::MAX_ATTEMPTS_LIMIT {
            return Err(ConfigError::MaxAttempts {
                given: c.max_attempts,
                limit: LifecycleConfig::MAX_ATTEMPTS_LIMIT,
            });
        }
        if c.resync_window == 0 || c.resync_window > LifecycleConfig::RESYNC_WINDOW_LIMIT {
            return Err(ConfigError::ResyncWindow {
                given: c.resync_window,
                limit: LifecycleConfig::RESYNC_WINDOW_LIMIT,
            });
        }
        let drift_limit = LifecycleConfig::MAX_DRIFT_LIMIT.min(c.resync_window);
        if c.max_drift > drift_limit {
            return Err(ConfigError::MaxDrift {
                given: c.max_drift,
                limit: drift_limit,
            });
        }
        if c.max_drift_rate > LifecycleConfig::MAX_DRIFT_RATE_LIMIT {
            return Err(ConfigError::MaxDriftRate {
                given: c.max_drift_rate,
                limit: LifecycleConfig::MAX_DRIFT_RATE_LIMIT,
            });
        }
        if let Some(issuer) = &c.issuer {
            crate::uri::check_name(issuer, "issuer").map_err(ConfigError::Issuer)?;
        }
        if c.signing_counter_ahead > LifecycleConfig::SIGNING_COUNTER_AHEAD_LIMIT {
            return Err(ConfigError::SigningCounterAhead {
                given: c.signing_counter_ahead,
                limit: LifecycleConfig::SIGNING_COUNTER_AHEAD_LIMIT,
            });
        }
        // Checked with or without a suite: tokens bound earlier keep theirs,
        // and are checked with this validity.
        if !(1..=LifecycleConfig::TIMEOUT_LIMIT).contains(&c.signature_validity) {
            return Err(ConfigError::SignatureValidity {
                given: c.signature_validity,
                limit: LifecycleConfig::TIMEOUT_LIMIT,
            });
        }
        if let Some(suite) = &c.signing {
            check_signing_suite(suite)?;
            let seconds = suite.time_step().map_or(0, |t| t.seconds());
            let limit = seconds.saturating_mul(u64::from(Window::MAX));
            if c.signature_validity > limit {
                return Err(ConfigError::SignatureValidity {
                    given: c.signature_validity,
                    limit,
                });
            }
            if let Some(candidates) = c.guessable_signing(suite) {
                return Err(ConfigError::SignatureGuessable {
                    candidates,
                    max_failures: c.max_failures,
                    digits: suite.digits(),
                });
            }
        }
        Ok(c)
    }
}

/// Whether the lifecycle can sign transactions with `suite`: a question
/// [`Transaction::question_for`] can fill, a time step, no PIN and no
/// session information.
pub(crate) fn check_signing_suite(suite: &Suite) -> Result<(), ConfigError> {
    let refuse = |why| Err(ConfigError::SigningSuite { suite: *suite, why });
    match suite.question_format() {
        QuestionFormat::Alphanumeric => {
            return refuse("a transaction question is numeric (QN, the payee's account number) or hex (QH, the transaction's digest), not alphanumeric")
        }
        QuestionFormat::Hex if suite.question_len() < Transaction::MIN_HEX_QUESTION => {
            return refuse("a hex transaction question carries at least 40 characters of the digest (QH40 to QH64)")
        }
        QuestionFormat::Hex | QuestionFormat::Numeric => {}
    }
    if suite.digits() < 6 {
        return refuse("a response has 6 to 10 digits, as a code has at least 6 (and the customer types it: no untruncated MAC)");
    }
    if suite.pin().is_some() {
        return refuse("the lifecycle holds no PIN (P)");
    }
    if suite.session_len().is_some() {
        return refuse("the lifecycle holds no session information (S)");
    }
    if suite.time_step().is_none() {
        return refuse("a signing suite needs a time step (T), so that a signature expires");
    }
    Ok(())
}
