//! Audit records: one per event, accepted or refused.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

use core::fmt;

use super::{Actor, Effect, EventKind, Guard, State, TokenSerial};

/// Whether an event was accepted.
///
/// ```
/// use otpguard::lifecycle::Outcome;
/// assert_eq!(Outcome::Refused.to_string(), "refused");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// The event was applied.
    Accepted,
    /// The event was refused. The record is unchanged unless a wrong code
    /// was counted (then `version` differs from the one before).
    Refused,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
        })
    }
}

/// Why an event was accepted or refused. The common cases are plain data
/// (no text is built until the record is displayed), so auditing an
/// accepted code costs no allocation.
///
/// ```
/// use otpguard::lifecycle::{AuditReason, Effect, Guard};
/// let r = AuditReason::Applied { guard: Guard::None, effect: Effect::Resume };
/// assert_eq!(r.to_string(), "failures reset; same token accepts codes again");
/// let w = AuditReason::WrongCode { failures: 2, max: 5 };
/// assert_eq!(w.to_string(), "wrong code for the current token (2 of 5 consecutive failures)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum AuditReason {
    /// Accepted: the row's guard held and its effect was applied.
    Applied {
        /// The row's guard.
        guard: Guard,
        /// The row's effect.
        effect: Effect,
    },
    /// Refused: a wrong code of the current token, counted towards the
    /// lock-out.
    WrongCode {
        /// Consecutive wrong codes, this one included.
        failures: u32,
        /// The lock-out maximum.
        max: u32,
    },
    /// Accepted: a login while the login OTP is off asks for no code.
    LoginOtpOff,
    /// Refused for any other reason: the refusal's error message.
    Refused(Cow<'static, str>),
}

impl fmt::Display for AuditReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Applied {
                guard: Guard::None,
                effect,
            } => f.write_str(effect.description()),
            Self::Applied { guard, effect } => {
                write!(f, "{}; {}", guard.description(), effect.description())
            }
            Self::WrongCode { failures, max } => write!(
                f,
                "wrong code for the current token ({failures} of {max} consecutive failures)"
            ),
            Self::LoginOtpOff => f.write_str("login OTP is off: no code asked"),
            Self::Refused(message) => f.write_str(message),
        }
    }
}

/// What happened to one event: who, when, from, to, why. Built only from
/// non-secret data: no secret and no code can appear in it.
///
/// ```
/// use otpguard::lifecycle::{Actor, AuditReason, AuditRecord, EventKind, Outcome, State};
/// let r = AuditRecord {
///     time: 60,
///     serial: None,
///     new_serial: None,
///     actor: Actor::Customer,
///     event: EventKind::CancelSwap,
///     from: State::Active,
///     to: State::Active,
///     outcome: Outcome::Refused,
///     reason: AuditReason::Refused("not permitted".into()),
///     version: 3,
/// };
/// assert_eq!(r.to_string(), "t=60 serial=- actor=Customer event=CancelSwap Active -> Active refused v3: not permitted");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuditRecord {
    /// When (Unix seconds, from the lifecycle's clock).
    pub time: u64,
    /// The token current when the event arrived, if any.
    pub serial: Option<TokenSerial>,
    /// The new token the event brought (`Register`, `CompleteSwap`).
    pub new_serial: Option<TokenSerial>,
    /// Who caused the event.
    pub actor: Actor,
    /// What event.
    pub event: EventKind,
    /// State before.
    pub from: State,
    /// State after (equal to `from` when refused).
    pub to: State,
    /// Accepted or refused.
    pub outcome: Outcome,
    /// Why: the guard that passed or the error that refused it.
    pub reason: AuditReason,
    /// The record's version after the event.
    pub version: u64,
}

impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={} serial=", self.time)?;
        match &self.serial {
            Some(s) => write!(f, "{s}")?,
            None => f.write_str("-")?,
        }
        if let Some(s) = &self.new_serial {
            write!(f, " new_serial={s}")?;
        }
        write!(
            f,
            " actor={} event={} {} -> {} {} v{}: {}",
            self.actor, self.event, self.from, self.to, self.outcome, self.version, self.reason
        )
    }
}

/// Where audit records go: the backend implements it to write its own log.
/// Called synchronously once per record, in order, after the record
/// changed in memory and before the call returns.
///
/// ```
/// use otpguard::lifecycle::{AuditRecord, AuditSink};
///
/// struct Log;
/// impl AuditSink for Log {
///     fn record(&self, record: &AuditRecord) {
///         println!("audit: {record}");
///     }
/// }
/// ```
pub trait AuditSink {
    /// Takes one record.
    fn record(&self, record: &AuditRecord);
}

impl<S: AuditSink + ?Sized> AuditSink for &S {
    fn record(&self, record: &AuditRecord) {
        (**self).record(record);
    }
}

impl<S: AuditSink + ?Sized> AuditSink for std::sync::Arc<S> {
    fn record(&self, record: &AuditRecord) {
        (**self).record(record);
    }
}

/// A sink made of a closure.
///
/// ```
/// use otpguard::lifecycle::{AuditRecord, FnSink};
/// let sink = FnSink(|r: &AuditRecord| println!("audit: {r}"));
/// # drop(sink);
/// ```
pub struct FnSink<F>(pub F);

impl<F: Fn(&AuditRecord)> AuditSink for FnSink<F> {
    fn record(&self, record: &AuditRecord) {
        (self.0)(record);
    }
}

impl<F> fmt::Debug for FnSink<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSink(..)")
    }
}

/// A sink that keeps every record in memory, for tests and examples.
///
/// ```
/// use otpguard::lifecycle::{AuditSink, VecSink};
/// let sink = VecSink::default();
/// assert!(sink.take().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct VecSink(Mutex<Vec<AuditRecord>>);

impl VecSink {
    /// Removes and returns the records collected so far.
    ///
    /// ```
    /// # let sink = otpguard::lifecycle::VecSink::default();
    /// let records = sink.take();
    /// assert!(sink.records().is_empty());
    /// # drop(records);
    /// ```
    #[must_use]
    pub fn take(&self) -> Vec<AuditRecord> {
        core::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the records collected so far.
    ///
    /// ```
    /// # let sink = otpguard::lifecycle::VecSink::default();
    /// assert_eq!(sink.records().len(), 0);
    /// ```
    #[must_use]
    pub fn records(&self) -> Vec<AuditRecord> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for VecSink {
    fn record(&self, record: &AuditRecord) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.clone());
    }
}
