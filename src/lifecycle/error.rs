//! The lifecycle's errors. None carries a secret or a code.

pub use super::identity::LabelError;
pub use super::names::UnknownName;
pub use super::serial::SerialError;

use thiserror::Error;

use super::{Actor, EventKind, State, TokenSerial};
use crate::ocra::{QuestionError, Suite};
use crate::{CheckError, StoreError, UriError};

/// Why a code of the current token did not verify: a TOTP code, or the
/// OCRA response of a transaction signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CodeError {
    /// A TOTP code.
    #[error(transparent)]
    Totp(#[from] CheckError),
    /// The response of a transaction signature.
    #[error(transparent)]
    Signature(#[from] crate::ocra::ResponseError),
    /// The first code of a new token (`Register`, `CompleteSwap`).
    #[error("new token's code: {0}")]
    NewToken(#[source] CheckError),
}

impl CodeError {
    /// Whether the customer entered a wrong code or response (malformed or
    /// not matching): only these count towards a lock-out.
    ///
    /// ```
    /// use otpguard::lifecycle::error::CodeError;
    /// assert!(CodeError::from(otpguard::CheckError::Mismatch).is_wrong_code());
    /// ```
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        match self {
            Self::Totp(e) => e.is_wrong_code(),
            Self::Signature(e) => e.is_wrong_code(),
            Self::NewToken(e) => e.is_wrong_code(),
        }
    }
}

/// A [`LifecycleConfig`](super::LifecycleConfig) setting is out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The lock-out maximum must be 1 to 100 (NIST SP 800-63B §5.2.2 allows
    /// at most 100 consecutive failed attempts).
    #[error("the maximum of consecutive wrong codes must be 1 to {limit}, not {given}")]
    MaxFailures {
        /// Value given.
        given: u32,
        /// The upper limit (100).
        limit: u32,
    },
    /// The swap time-out must be 1 second to 7 days.
    #[error("the swap time-out must be 1 to {limit} seconds, not {given}")]
    SwapTimeout {
        /// Value given, in seconds.
        given: u64,
        /// The upper limit, in seconds.
        limit: u64,
    },
    /// The enrollment time-out must be 1 second to 7 days.
    #[error("the enrollment time-out must be 1 to {limit} seconds, not {given}")]
    EnrollmentTimeout {
        /// Value given, in seconds.
        given: u64,
        /// The upper limit, in seconds.
        limit: u64,
    },
    /// The attempts per event must be 1 to 10,000.
    #[error("the attempts per event must be 1 to {limit}, not {given}")]
    MaxAttempts {
        /// Value given.
        given: u32,
        /// The upper limit.
        limit: u32,
    },
    /// The resynchronisation window must be 1 to 1,000 steps.
    #[error("the resynchronisation window must be 1 to {limit} steps, not {given}")]
    ResyncWindow {
        /// Value given.
        given: u32,
        /// The upper limit.
        limit: u32,
    },
    /// The drift bound must be at most 120 steps and at most the
    /// resynchronisation window.
    #[error("the drift bound must be 0 to {limit} steps, not {given}")]
    MaxDrift {
        /// Value given.
        given: u32,
        /// The upper limit for this configuration.
        limit: u32,
    },
    /// The maximum drift rate must be 0 to
    /// [`LifecycleConfig::MAX_DRIFT_RATE_LIMIT`](super::LifecycleConfig::MAX_DRIFT_RATE_LIMIT)
    /// seconds a day.
    #[error("the maximum drift rate must be 0 to {limit} seconds a day, not {given}")]
    MaxDriftRate {
        /// Value given.
        given: u32,
        /// The upper limit.
        limit: u32,
    },
    /// A throttle out of range.
    #[error("invalid throttle: {0}")]
    Throttle(&'static str),
    /// A preset's parameter out of range.
    #[error("invalid preset: {0}")]
    Preset(&'static str),
    /// The issuer cannot be written into a Key URI.
    #[error("the issuer cannot be used in a Key URI: {0}")]
    Issuer(#[source] UriError),
    /// The transaction-signing suite cannot sign in the lifecycle.
    #[error("the signing suite {suite} cannot be used: {why}")]
    SigningSuite {
        /// The suite given.
        suite: Suite,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The signature validity must be 1 second to 7 days, and at most
    /// [`Window::MAX`](crate::Window::MAX) time steps of the signing suite.
    #[error("a signature's validity must be 1 to {limit} seconds for this suite, not {given}")]
    SignatureValidity {
        /// Value given, in seconds.
        given: u64,
        /// The upper limit for the suite, in seconds.
        limit: u64,
    },
    /// With these settings a guesser without the token would forge a
    /// signature before the lock-out with a chance above 1 in
    /// [`LifecycleConfig::SIGNATURE_GUESS_ODDS`](super::LifecycleConfig::SIGNATURE_GUESS_ODDS):
    /// use more digits, a shorter validity, a smaller look-ahead or a lower
    /// lock-out maximum.
    #[error("signatures could be guessed: {candidates} responses accepted per attempt, {max_failures} attempts before the lock-out, {digits} digits")]
    SignatureGuessable {
        /// Responses one attempt is compared with.
        candidates: u64,
        /// The lock-out maximum.
        max_failures: u32,
        /// The suite's digits.
        digits: u32,
    },
    /// The signing counter look-ahead must be at most
    /// [`LifecycleConfig::SIGNING_COUNTER_AHEAD_LIMIT`](super::LifecycleConfig::SIGNING_COUNTER_AHEAD_LIMIT).
    #[error("the signing counter look-ahead must be 0 to {limit}, not {given}")]
    SigningCounterAhead {
        /// Value given.
        given: u32,
        /// The upper limit.
        limit: u32,
    },
}

/// Why an event was refused, or could not be decided.
///
/// A refusal changes nothing in the record, with one designed exception:
/// [`LifecycleError::WrongCode`] counts a wrong code of the current token
/// (RFC 4226 §7.3), and at the maximum the System suspends the token; both
/// are committed with their audit records. Every refusal returned to the
/// caller was committed to the store with its audit record, except the
/// errors that say the store could not be reached or could not decide
/// ([`LifecycleError::Store`], [`LifecycleError::Contended`]).
///
/// As with [`CheckError`], the variants are detail for the bank's logs;
/// the customer should get one coarse message:
/// [`LifecycleError::customer_answer`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The transition table has no row for this state, event and actor.
    /// This is also the answer to a code submitted in a state that accepts
    /// none (only `Active` and `Swapping` do).
    #[error("{event} by {actor} is not permitted in state {state}{}", rule.map(|r| format!(" ({r})")).unwrap_or_default())]
    NotPermitted {
        /// The record's state.
        state: State,
        /// The event refused.
        event: EventKind,
        /// Who tried.
        actor: Actor,
        /// Why the table leaves this out, where it says.
        rule: Option<&'static str>,
    },
    /// A code was wrong (malformed or not matching): a code of the current
    /// token, a signature's response, or the first code of a new token
    /// ([`CodeError::NewToken`]). Counted: the record's failure count went
    /// up, the throttle holds back the next code, and at the maximum the
    /// System suspended the token (where there is one: a record without a
    /// token keeps counting and holding back).
    #[error("wrong code ({failures} of {max} consecutive failures{})", if *locked_out { "; token suspended" } else { "" })]
    WrongCode {
        /// Consecutive wrong codes now counted.
        failures: u32,
        /// The configured maximum.
        max: u32,
        /// Whether this failure suspended the token (`TooManyFailures`).
        locked_out: bool,
        /// The verification failure, for the log.
        #[source]
        source: CodeError,
    },
    /// The code matched a time step already accepted for this token (a
    /// double submit, a retry, or an intercepted code). Not counted and the
    /// record unchanged; audited as a replay.
    #[error("the code matched step {step}, but step {last_accepted} was already accepted for this token")]
    Replayed {
        /// The step the code matched.
        step: u64,
        /// The last step accepted for the token.
        last_accepted: u64,
    },
    /// A code could not be checked for a reason that is not the customer's
    /// (the clock is before T0). Refused, not counted.
    #[error("the code could not be checked")]
    Unverifiable {
        /// The failure, for the log.
        #[source]
        source: CodeError,
    },
    /// `SignTransaction` for a token bound without a signing suite (the
    /// lifecycle had none when the token was registered).
    #[error("the token was registered without a transaction-signing suite")]
    NoSigningSuite,
    /// The token's signing suite, under the current settings (look-ahead,
    /// validity, maximum failures), would let a guesser without the token
    /// forge a signature before the lock-out with a chance above 1 in
    /// [`LifecycleConfig::SIGNATURE_GUESS_ODDS`](super::LifecycleConfig::SIGNATURE_GUESS_ODDS):
    /// the token was bound under another suite, and the settings changed
    /// since. Refused before any response is checked; not counted. The
    /// bank tightens the settings or the customer swaps to a token bound
    /// with the configured suite.
    #[error("the token's signing suite is guessable under the current settings ({candidates} responses compared per attempt, {max_failures} attempts, {digits} digits)")]
    SigningSuiteGuessable {
        /// Responses one attempt is compared with.
        candidates: u64,
        /// Wrong responses before the lock-out.
        max_failures: u32,
        /// The suite's response length.
        digits: u32,
    },
    /// The response signs this transaction, but for a time step before the
    /// signature validity: the customer took too long. Refused, not counted
    /// (it proves the token); audited as expired.
    #[error("the signature expired: it was computed for time step {step}, before the signature validity")]
    SignatureExpired {
        /// The time step the response was computed for.
        step: u64,
    },
    /// A token whose suite has no counter already signed the most
    /// transactions one time step takes; the next one is signed in the
    /// next step. Refused, not counted.
    #[error(
        "{max} transactions were already signed in time step {step}; sign again in the next step"
    )]
    TooManySignaturesInStep {
        /// The time step.
        step: u64,
        /// The most one step takes.
        max: usize,
    },
    /// The transaction cannot be signed with the token's suite (a payee
    /// account that is not a number for a numeric question, a batch for a
    /// numeric question, ...). Refused before any response is checked; not
    /// counted.
    #[error("the transaction cannot be signed with the token's suite: {0}")]
    Unsignable(#[source] QuestionError),
    /// `VerifyLogin` while the login OTP is off. Ask
    /// [`Lifecycle::login`](super::Lifecycle::login), which answers
    /// `NotRequired` instead.
    #[error("the login OTP is off")]
    LoginOtpOff,
    /// [`Lifecycle::login`](super::Lifecycle::login) was called without a
    /// code while the login OTP is on.
    #[error("the login OTP is on: a code is required")]
    CodeRequired,
    /// `CompleteSwap` at or after the swap deadline.
    #[error("the swap expired at {deadline} (now {now})")]
    SwapExpired {
        /// The deadline (Unix seconds).
        deadline: u64,
        /// The time of the attempt.
        now: u64,
    },
    /// `SwapTimeout` before the swap deadline.
    #[error("the swap runs until {deadline} (now {now})")]
    SwapNotExpired {
        /// The deadline (Unix seconds).
        deadline: u64,
        /// The time of the attempt.
        now: u64,
    },
    /// `Suspend(TooManyFailures)` while the failure count is below the
    /// maximum.
    #[error("{failures} consecutive failures, below the maximum of {max}")]
    BelowMaxFailures {
        /// Consecutive wrong codes counted.
        failures: u32,
        /// The configured maximum.
        max: u32,
    },
    /// The new token's serial was retired on this record (stopped, swapped
    /// out or reissued); a retired token never comes back.
    #[error("token {serial} was retired on this record and cannot be registered again")]
    SerialRetired {
        /// The serial.
        serial: TokenSerial,
    },
    /// Codes of this token are held back after consecutive wrong codes
    /// (see [`Throttle`](super::config::Throttle)): this one was refused without
    /// being evaluated, and not counted. Retry at `retry_at`.
    #[error("too many wrong codes: try again at {retry_at} (now {now})")]
    Throttled {
        /// The earliest time a code is evaluated (Unix seconds).
        retry_at: u64,
        /// The time of the refusal.
        now: u64,
    },
    /// A `Resync` pair was found, but further from the current step than
    /// the drift bound allows: the phone's clock is too far off (not
    /// counted as a wrong code; set the phone's clock, then resynchronise).
    #[error("the codes are {drift} steps from now, beyond the drift bound of {max}: set the phone's clock")]
    DriftBeyondBound {
        /// The pair's drift, in steps.
        drift: i64,
        /// The bound.
        max: u32,
    },
    /// The new token's secret is the current token's secret or the secret
    /// of a token retired on this record.
    #[error("the new token's secret is the current one or a retired one")]
    SecretReused,
    /// `CompleteSwap` with the serial of the current token.
    #[error("the new token's serial is the current token's")]
    SameSerial,
    /// `NewSecret::Provisioned` while no provisioned secret is pending.
    #[error("no provisioned secret is pending: provision one first")]
    NoEnrollment,
    /// `NewSecret::Provisioned` after the provisioned secret's deadline.
    #[error("the provisioned secret expired at {deadline} (now {now}): provision a new one")]
    EnrollmentExpired {
        /// The deadline (Unix seconds).
        deadline: u64,
        /// The time of the attempt.
        now: u64,
    },
    /// `Provision` could not build a Key URI (an account name the format
    /// cannot carry, or a profile with T0 other than 0).
    #[error("cannot provision: {0}")]
    Provisioning(#[source] UriError),
    /// The operating system's random number generator failed (creating a
    /// secret or a token id).
    #[error("the operating system random number generator failed")]
    Randomness,
    /// The record's version is at `u64::MAX`; it cannot change any more.
    #[error("the record's version cannot increase any further")]
    VersionExhausted,
    /// The store failed, or could not say whether a commit happened. The
    /// event is refused (fail closed); nothing is known to have changed.
    #[error("the token store failed")]
    Store(#[source] StoreError),
    /// Every attempt lost its commit to a concurrent change of the same
    /// record ([`LifecycleConfig::max_attempts`](super::LifecycleConfig::max_attempts)).
    /// Nothing was committed for this event.
    #[error("the record changed concurrently on each of {attempts} attempts")]
    Contended {
        /// Attempts made.
        attempts: u32,
    },
    /// The store holds data for the customer that is not a valid record
    /// (tampered or corrupt storage; the store said so with
    /// [`StoreError::corrupt`]). Refused; retrying will not help.
    #[error("the stored record is corrupt")]
    Corrupt(#[source] StoreError),
    /// The bank's own statements, run in the database transaction of an
    /// accepted code ([`PostgresStore`](super::postgres::PostgresStore)'s
    /// `verify_transaction_with`), failed: neither they nor the acceptance
    /// committed, so the code was not spent. Audited as the refusal of the
    /// code's event.
    #[error("the bank's statements in the transaction of the accepted code failed: nothing was committed and the code was not spent")]
    BookingFailed,
    /// A bug in this library: a case its own invariants rule out. Please
    /// report it; the event was refused, and only its audit record was
    /// committed.
    #[error("internal error (a bug in otpguard): {0}")]
    Internal(&'static str),
}

impl LifecycleError {
    /// Whether the account is locked: the token is suspended for too many
    /// wrong codes (by this event, or before it).
    ///
    /// ```
    /// use otpguard::lifecycle::LifecycleError;
    /// assert!(!LifecycleError::LoginOtpOff.is_locked_out());
    /// ```
    #[must_use]
    pub fn is_locked_out(&self) -> bool {
        match self {
            Self::WrongCode { locked_out, .. } => *locked_out,
            Self::NotPermitted { state, .. } => {
                *state == State::Suspended(super::SuspendReason::TooManyFailures)
            }
            _ => false,
        }
    }

    /// A stable, machine-readable name for this refusal, part of the
    /// public contract (it does not change between versions; a new
    /// variant brings a new code): for metrics, fraud monitoring and
    /// mapping to statuses without parsing English. The same code names
    /// the refusal in its audit record
    /// ([`AuditReason::code`](super::audit::AuditReason::code)).
    ///
    /// | code | category |
    /// |---|---|
    /// | `not_permitted` | caller |
    /// | `wrong_code` | caller |
    /// | `replayed` | caller |
    /// | `unverifiable` | bank |
    /// | `no_signing_suite` | caller |
    /// | `signing_suite_guessable` | bank |
    /// | `signature_expired` | caller |
    /// | `too_many_signatures_in_step` | caller |
    /// | `unsignable` | caller |
    /// | `login_otp_off` | caller |
    /// | `code_required` | caller |
    /// | `swap_expired` | caller |
    /// | `swap_not_expired` | caller |
    /// | `below_max_failures` | caller |
    /// | `serial_retired` | caller |
    /// | `throttled` | caller |
    /// | `drift_beyond_bound` | caller |
    /// | `secret_reused` | caller |
    /// | `same_serial` | caller |
    /// | `no_enrollment` | caller |
    /// | `enrollment_expired` | caller |
    /// | `provisioning` | bank |
    /// | `randomness` | bank |
    /// | `version_exhausted` | bank |
    /// | `store_unavailable` | retry |
    /// | `contended` | retry |
    /// | `corrupt` | bank |
    /// | `booking_failed` | bank |
    /// | `internal` | bank |
    ///
    /// ```
    /// use otpguard::lifecycle::{ErrorCategory, LifecycleError};
    /// let replay = LifecycleError::Replayed { step: 7, last_accepted: 7 };
    /// assert_eq!((replay.code(), replay.category()), ("replayed", ErrorCategory::Caller));
    /// ```
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotPermitted { .. } => "not_permitted",
            Self::WrongCode { .. } => "wrong_code",
            Self::Replayed { .. } => "replayed",
            Self::Unverifiable { .. } => "unverifiable",
            Self::NoSigningSuite => "no_signing_suite",
            Self::SigningSuiteGuessable { .. } => "signing_suite_guessable",
            Self::SignatureExpired { .. } => "signature_expired",
            Self::TooManySignaturesInStep { .. } => "too_many_signatures_in_step",
            Self::Unsignable(_) => "unsignable",
            Self::LoginOtpOff => "login_otp_off",
            Self::CodeRequired => "code_required",
            Self::SwapExpired { .. } => "swap_expired",
            Self::SwapNotExpired { .. } => "swap_not_expired",
            Self::BelowMaxFailures { .. } => "below_max_failures",
            Self::SerialRetired { .. } => "serial_retired",
            Self::Throttled { .. } => "throttled",
            Self::DriftBeyondBound { .. } => "drift_beyond_bound",
            Self::SecretReused => "secret_reused",
            Self::SameSerial => "same_serial",
            Self::NoEnrollment => "no_enrollment",
            Self::EnrollmentExpired { .. } => "enrollment_expired",
            Self::Provisioning(_) => "provisioning",
            Self::Randomness => "randomness",
            Self::VersionExhausted => "version_exhausted",
            Self::Store(_) => "store_unavailable",
            Self::Contended { .. } => "contended",
            Self::Corrupt(_) => "corrupt",
            Self::BookingFailed => "booking_failed",
            Self::Internal(_) => "internal",
        }
    }

    /// Whose doing the refusal is: the caller's (the rules or the code
    /// refused the request), the bank's (a fault or a setting to fix), or
    /// neither (the store could not decide now: retry).
    #[must_use]
    pub const fn category(&self) -> ErrorCategory {
        match self {
            Self::Unverifiable { .. }
            | Self::SigningSuiteGuessable { .. }
            | Self::Provisioning(_)
            | Self::Randomness
            | Self::VersionExhausted
            | Self::Corrupt(_)
            | Self::BookingFailed
            | Self::Internal(_) => ErrorCategory::Bank,
            Self::Store(_) | Self::Contended { .. } => ErrorCategory::Retry,
            Self::NotPermitted { .. }
            | Self::WrongCode { .. }
            | Self::Replayed { .. }
            | Self::NoSigningSuite
            | Self::SignatureExpired { .. }
            | Self::TooManySignaturesInStep { .. }
            | Self::Unsignable(_)
            | Self::LoginOtpOff
            | Self::CodeRequired
            | Self::SwapExpired { .. }
            | Self::SwapNotExpired { .. }
            | Self::BelowMaxFailures { .. }
            | Self::SerialRetired { .. }
            | Self::Throttled { .. }
            | Self::DriftBeyondBound { .. }
            | Self::SecretReused
            | Self::SameSerial
            | Self::NoEnrollment
            | Self::EnrollmentExpired { .. } => ErrorCategory::Caller,
        }
    }

    /// The answer to give the customer under `policy`: what to do next,
    /// never whether a refused code was wrong or already used (a replay
    /// answers exactly like a wrong code), and of a hold-back or a lock-out
    /// only what the bank's [`AnswerPolicy`] lets it tell. Log the error
    /// itself ([`code`](Self::code)); [`Lifecycle::customer_answer`](super::Lifecycle::customer_answer)
    /// answers under the lifecycle's own policy.
    ///
    /// Every refusal of the customer's doing that is not named below
    /// answers [`CustomerAnswer::CodeNotAccepted`], so a refusal added in a
    /// later version tells no more than that until it is given an answer
    /// of its own. The bank's faults answer [`CustomerAnswer::BankError`]
    /// and a store that could not decide [`CustomerAnswer::TryAgain`].
    ///
    /// ```
    /// use otpguard::lifecycle::{AnswerPolicy, CustomerAnswer, LifecycleError};
    /// let replay = LifecycleError::Replayed { step: 7, last_accepted: 7 };
    /// assert_eq!(replay.customer_answer(AnswerPolicy::COARSE), CustomerAnswer::CodeNotAccepted);
    /// let held = LifecycleError::Throttled { retry_at: 90, now: 30 };
    /// assert_eq!(held.customer_answer(AnswerPolicy::COARSE), CustomerAnswer::CodeNotAccepted);
    /// let telling = AnswerPolicy::COARSE.telling_hold_back();
    /// assert_eq!(held.customer_answer(telling), CustomerAnswer::TryAgainAt { retry_at: 90 });
    /// assert_eq!(CustomerAnswer::CodeNotAccepted.to_string(), "the code was not accepted");
    /// ```
    #[must_use]
    pub const fn customer_answer(&self, policy: AnswerPolicy) -> CustomerAnswer {
        use CustomerAnswer as A;
        match self.category() {
            ErrorCategory::Bank => return A::BankError,
            ErrorCategory::Retry => return A::TryAgain,
            ErrorCategory::Caller => {}
        }
        match self {
            Self::Throttled { retry_at, .. } if policy.tell_hold_back => A::TryAgainAt {
                retry_at: *retry_at,
            },
            Self::WrongCode {
                locked_out: true, ..
            }
            | Self::NotPermitted {
                state: State::Suspended(_),
                ..
            } if policy.tell_lock_out => A::ContactBank,
            // Unless the bank tells of lock-outs, a step the token's state
            // does not permit answers by the event alone, never by the
            // state: a request with a code as a wrong code would, one
            // without as "not possible now", in every state alike.
            Self::NotPermitted { event, .. } if event.carries_code() => A::CodeNotAccepted,
            Self::NotPermitted { .. }
            | Self::LoginOtpOff
            | Self::SwapExpired { .. }
            | Self::SwapNotExpired { .. }
            | Self::BelowMaxFailures { .. }
            | Self::NoSigningSuite
            | Self::Unsignable(_)
            | Self::TooManySignaturesInStep { .. } => A::NotPossibleNow,
            Self::DriftBeyondBound { .. } => A::CheckPhoneClock,
            Self::SerialRetired { .. } | Self::SecretReused | Self::SameSerial => {
                A::TokenNotAccepted
            }
            Self::NoEnrollment | Self::EnrollmentExpired { .. } => A::ProvisionAgain,
            // A wrong, replayed, expired or missing code, a hold-back or a
            // lock-out the policy keeps quiet about, and any refusal not
            // named above.
            _ => A::CodeNotAccepted,
        }
    }
}

/// What a bank lets its customers learn, in the answer to a refused
/// request, about the protections that refused it
/// ([`LifecycleError::customer_answer`]). The default,
/// [`AnswerPolicy::COARSE`], tells neither a hold-back nor a lock-out: the
/// customer reads "the code was not accepted" whatever the refusal, so
/// someone holding the customer's session but not the phone learns nothing
/// about the token by guessing. The customer still hears of a lock-out
/// out of band: the audit record's [`Notice`](super::audit::Notice)
/// (`LockedOut`, and under the PSD2 preset `LastTemporaryBlock` before the
/// block becomes permanent, as PSD2 RTS Art. 4(3)(d) asks) is committed
/// with the event for the bank's notifier.
///
/// A bank that prefers to tell in the answer too opts in, setting by
/// setting:
///
/// ```
/// use otpguard::lifecycle::{AnswerPolicy, LifecycleConfig};
/// let config = LifecycleConfig::psd2_rts(1_800, 2)?
///     .answers(AnswerPolicy::COARSE.telling_hold_back().telling_lock_out())
///     .build()?;
/// assert!(config.answers().tells_lock_out());
/// # Ok::<(), otpguard::lifecycle::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AnswerPolicy {
    tell_hold_back: bool,
    tell_lock_out: bool,
}

impl AnswerPolicy {
    /// One answer for every refused code: no hold-back, no lock-out told.
    pub const COARSE: Self = Self {
        tell_hold_back: false,
        tell_lock_out: false,
    };

    /// Also tells a customer held back by the throttle when to try again
    /// ([`CustomerAnswer::TryAgainAt`]).
    #[must_use]
    pub const fn telling_hold_back(mut self) -> Self {
        self.tell_hold_back = true;
        self
    }

    /// Also tells a customer whose token is locked or suspended to contact
    /// the bank ([`CustomerAnswer::ContactBank`]).
    #[must_use]
    pub const fn telling_lock_out(mut self) -> Self {
        self.tell_lock_out = true;
        self
    }

    /// Whether a hold-back is told.
    #[must_use]
    pub const fn tells_hold_back(self) -> bool {
        self.tell_hold_back
    }

    /// Whether a lock-out or suspension is told.
    #[must_use]
    pub const fn tells_lock_out(self) -> bool {
        self.tell_lock_out
    }
}

/// Whose doing a refusal is ([`LifecycleError::category`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The caller's: the rules or the code refused the request (a wrong
    /// or replayed code, a step not permitted in this state, a hold-back).
    Caller,
    /// The bank's: a fault or a setting to fix (a corrupt record, a
    /// guessable suite, no randomness).
    Bank,
    /// Neither: the store could not decide now; the same request may
    /// succeed if sent again.
    Retry,
}

impl ErrorCategory {
    /// Its stable name: `caller`, `bank` or `retry`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Bank => "bank",
            Self::Retry => "retry",
        }
    }
}

/// What to tell a customer whose request was refused
/// ([`LifecycleError::customer_answer`]): what to do next, and nothing an
/// attacker could learn from beyond what the bank's [`AnswerPolicy`]
/// allows. Its `Display` is a plain English sentence; a
/// bank translates by matching on the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CustomerAnswer {
    /// The code was wrong or already used, or no code was sent.
    CodeNotAccepted,
    /// Too many wrong codes: codes are not evaluated before `retry_at`.
    TryAgainAt {
        /// Unix seconds.
        retry_at: u64,
    },
    /// The token is locked or suspended: only the bank can help.
    ContactBank,
    /// Not possible with the token as it is now (no swap pending, login
    /// OTP off, ...).
    NotPossibleNow,
    /// The phone's clock is too far off: set it right, then try again.
    CheckPhoneClock,
    /// This token or secret cannot be registered here.
    TokenNotAccepted,
    /// The QR code expired or was never shown: start the setup again.
    ProvisionAgain,
    /// The service could not decide now: try again shortly.
    TryAgain,
    /// A fault on the bank's side (the customer did nothing wrong).
    BankError,
}

impl core::fmt::Display for CustomerAnswer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::CodeNotAccepted => f.write_str("the code was not accepted"),
            Self::TryAgainAt { .. } => {
                f.write_str("too many wrong codes: wait a moment before the next try")
            }
            Self::ContactBank => f.write_str("your token is locked: please contact the bank"),
            Self::NotPossibleNow => f.write_str("this is not possible for your token now"),
            Self::CheckPhoneClock => {
                f.write_str("your phone's clock is off: set it to the network time and try again")
            }
            Self::TokenNotAccepted => f.write_str("this token cannot be registered"),
            Self::ProvisionAgain => f.write_str("the setup expired: please start it again"),
            Self::TryAgain => f.write_str("please try again in a moment"),
            Self::BankError => f.write_str("something went wrong on our side: please try later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CheckError;
    use crate::UriError;

    #[test]
    fn a_replay_answers_the_customer_exactly_like_a_wrong_code() {
        let wrong = LifecycleError::WrongCode {
            failures: 1,
            max: 5,
            locked_out: false,
            source: CheckError::Mismatch.into(),
        };
        let replay = LifecycleError::Replayed {
            step: 9,
            last_accepted: 9,
        };
        let locking = LifecycleError::WrongCode {
            failures: 5,
            max: 5,
            locked_out: true,
            source: CheckError::Mismatch.into(),
        };
        let suspended = LifecycleError::NotPermitted {
            state: State::Suspended(super::super::SuspendReason::TooManyFailures),
            event: super::super::EventKind::VerifyTransaction,
            actor: super::super::Actor::Customer,
            rule: None,
        };
        let held = LifecycleError::Throttled {
            retry_at: 90,
            now: 30,
        };
        let errors = [wrong, replay, locking, suspended, held];
        // Coarse: one answer, whatever the refusal.
        for e in &errors {
            assert_eq!(
                e.customer_answer(AnswerPolicy::COARSE),
                CustomerAnswer::CodeNotAccepted,
                "{e}"
            );
        }
        assert_eq!(AnswerPolicy::default(), AnswerPolicy::COARSE);
        // Telling: the hold-back and the lock-out, each only when asked.
        let [wrong, replay, locking, suspended, held] = &errors;
        let hold = AnswerPolicy::COARSE.telling_hold_back();
        let lock = AnswerPolicy::COARSE.telling_lock_out();
        assert_eq!(
            held.customer_answer(hold),
            CustomerAnswer::TryAgainAt { retry_at: 90 }
        );
        assert_eq!(held.customer_answer(lock), CustomerAnswer::CodeNotAccepted);
        for e in [locking, suspended] {
            assert_eq!(e.customer_answer(lock), CustomerAnswer::ContactBank);
            assert_eq!(e.customer_answer(hold), CustomerAnswer::CodeNotAccepted);
        }
        // A request without a code answers alike in every state: nothing
        // tells a suspended token from an active one.
        let provision_in = |state| LifecycleError::NotPermitted {
            state,
            event: super::super::EventKind::Provision,
            actor: super::super::Actor::Customer,
            rule: None,
        };
        let suspended_state = State::Suspended(super::super::SuspendReason::TooManyFailures);
        for state in [State::Active, State::Swapping, suspended_state] {
            assert_eq!(
                provision_in(state).customer_answer(AnswerPolicy::COARSE),
                CustomerAnswer::NotPossibleNow
            );
        }
        assert_eq!(
            provision_in(suspended_state).customer_answer(lock),
            CustomerAnswer::ContactBank
        );
        let both = hold.telling_lock_out();
        for e in [wrong, replay] {
            assert_eq!(e.customer_answer(both), CustomerAnswer::CodeNotAccepted);
        }
        // No answer names a count, a step or a secret.
        for e in &errors {
            let answer = e.customer_answer(both).to_string();
            assert!(!answer.chars().any(|c| c.is_ascii_digit()), "{answer}");
        }
    }

    #[test]
    fn the_bank_s_faults_and_retries_answer_by_their_category() {
        for e in every_variant() {
            let answer =
                e.customer_answer(AnswerPolicy::COARSE.telling_hold_back().telling_lock_out());
            match e.category() {
                ErrorCategory::Bank => assert_eq!(answer, CustomerAnswer::BankError, "{e}"),
                ErrorCategory::Retry => assert_eq!(answer, CustomerAnswer::TryAgain, "{e}"),
                ErrorCategory::Caller => {
                    assert_ne!(answer, CustomerAnswer::BankError, "{e}");
                    assert_ne!(answer, CustomerAnswer::TryAgain, "{e}");
                }
            }
        }
    }

    /// One of each variant (the match in `code` has no wildcard, so a new
    /// variant must be given a code, and this list must grow with it).
    fn every_variant() -> Vec<LifecycleError> {
        use crate::ocra::QuestionError;
        let store = || StoreError::new("down");
        vec![
            LifecycleError::NotPermitted {
                state: State::Active,
                event: EventKind::Resume,
                actor: Actor::Customer,
                rule: None,
            },
            LifecycleError::WrongCode {
                failures: 1,
                max: 5,
                locked_out: false,
                source: CheckError::Mismatch.into(),
            },
            LifecycleError::Replayed {
                step: 1,
                last_accepted: 1,
            },
            LifecycleError::Unverifiable {
                source: CheckError::Mismatch.into(),
            },
            LifecycleError::NoSigningSuite,
            LifecycleError::SigningSuiteGuessable {
                candidates: 10,
                max_failures: 5,
                digits: 6,
            },
            LifecycleError::SignatureExpired { step: 1 },
            LifecycleError::TooManySignaturesInStep { step: 1, max: 16 },
            LifecycleError::Unsignable(QuestionError::HexTooShort { len: 8, min: 40 }),
            LifecycleError::LoginOtpOff,
            LifecycleError::CodeRequired,
            LifecycleError::SwapExpired {
                deadline: 1,
                now: 2,
            },
            LifecycleError::SwapNotExpired {
                deadline: 2,
                now: 1,
            },
            LifecycleError::BelowMaxFailures {
                failures: 1,
                max: 5,
            },
            LifecycleError::SerialRetired {
                serial: TokenSerial::new("SN-1").unwrap(),
            },
            LifecycleError::Throttled {
                retry_at: 2,
                now: 1,
            },
            LifecycleError::DriftBeyondBound { drift: 20, max: 10 },
            LifecycleError::SecretReused,
            LifecycleError::SameSerial,
            LifecycleError::NoEnrollment,
            LifecycleError::EnrollmentExpired {
                deadline: 1,
                now: 2,
            },
            LifecycleError::Provisioning(UriError::Scheme),
            LifecycleError::Randomness,
            LifecycleError::VersionExhausted,
            LifecycleError::Store(store()),
            LifecycleError::Contended { attempts: 64 },
            LifecycleError::Corrupt(StoreError::corrupt("changed")),
            LifecycleError::BookingFailed,
            LifecycleError::Internal("a case the table rules out"),
        ]
    }

    #[test]
    fn every_code_is_unique_snake_case_and_documented_with_its_category() {
        let source = include_str!("error.rs");
        let errors = every_variant();
        let mut codes: Vec<&str> = errors.iter().map(LifecycleError::code).collect();
        for e in &errors {
            let code = e.code();
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            let row = format!("/// | `{code}` | {} |", e.category().code());
            assert!(source.contains(&row), "not documented: {row}");
        }
        let documented = source
            .lines()
            .filter(|l| l.trim_start().starts_with("/// | `"))
            .count();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len(), "a code is used twice");
        assert_eq!(
            documented,
            errors.len(),
            "the table lists a code no variant has"
        );
    }
}
