//! The lifecycle's errors. None carries a secret or a code.

use thiserror::Error;

use super::{Actor, EventKind, State, TokenSerial};
use crate::{ParamError, VerifyError};

/// A serial number was rejected by [`TokenSerial::new`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SerialError {
    /// The serial is empty.
    #[error("a token serial cannot be empty")]
    Empty,
    /// The serial is longer than [`TokenSerial::MAX_LEN`].
    #[error("a token serial is at most {max} characters, not {len}")]
    TooLong {
        /// Length given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A character other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("a token serial may only contain ASCII letters, digits, '-', '_' and '.'")]
    InvalidCharacter,
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
    /// The TOTP digits or period are out of range.
    #[error(transparent)]
    Totp(#[from] ParamError),
}

/// Why an event was refused.
///
/// Every refusal leaves the record exactly as it was, except
/// [`LifecycleError::WrongCode`]: a wrong code of the current token is
/// counted in the record (RFC 4226 §7.3), so the record changed and must be
/// saved; [`LifecycleError::record_changed`] says so.
///
/// As with [`VerifyError`], the variants are detail for the bank's logs;
/// the customer should get one coarse message.
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
    /// A code of the current token was wrong (malformed, not matching or
    /// replayed). Counted: the record's failure count and version went up,
    /// and at the maximum the system suspended the token.
    #[error("wrong code for the current token ({failures} of {max} consecutive failures{})", if *locked_out { "; token suspended" } else { "" })]
    WrongCode {
        /// Consecutive wrong codes now counted.
        failures: u32,
        /// The configured maximum.
        max: u32,
        /// Whether this failure suspended the token (`TooManyFailures`).
        locked_out: bool,
        /// The verification failure, for the log.
        #[source]
        source: VerifyError,
    },
    /// The new token's code (registration or swap) did not verify. Not
    /// counted towards the lock-out: it tested no stored secret.
    #[error("the new token's code was not accepted")]
    NewTokenCode {
        /// The verification failure, for the log.
        #[source]
        source: VerifyError,
    },
    /// A code could not be checked for a reason that is not the customer's
    /// (the replay store failed, a time before T0). Refused, not counted.
    #[error("the code could not be checked")]
    Unverifiable {
        /// The failure, for the log.
        #[source]
        source: VerifyError,
    },
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
    /// `CompleteSwap` with the serial of the current token.
    #[error("the new token's serial is the current token's")]
    SameSerial,
    /// The record's version is at `u64::MAX`; it cannot change any more.
    #[error("the record's version cannot increase any further")]
    VersionExhausted,
    /// The record is inconsistent (possible only for a record built from
    /// tampered or corrupt storage): its state needs data it lacks.
    #[error("the record is inconsistent: {0}")]
    Corrupt(&'static str),
}

impl LifecycleError {
    /// Whether the record changed despite the refusal (a counted wrong
    /// code), so that the backend must save it.
    ///
    /// ```
    /// use otpguard::lifecycle::LifecycleError;
    /// assert!(!LifecycleError::LoginOtpOff.record_changed());
    /// ```
    #[must_use]
    pub fn record_changed(&self) -> bool {
        matches!(self, Self::WrongCode { .. })
    }
}
