//! Audit records: one per event, accepted or refused.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

use core::fmt;

use super::rules::{Effect, Guard};
use super::{CustomerId, EventKind, Principal, RequestContext, State, TokenId, TokenSerial};
use crate::StoreError;

pub use super::reader::{
    AuditContent, AuditCursor, AuditEntry, AuditPage, AuditQuery, AuditReader, BadCursor,
    StoreAudit,
};

#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub use super::chain::{
    BrokenLink, ChainCheck, ChainField, ChainHead, ChainLink, ChainReport, Checkpoint,
};

/// Whether an event was accepted.
///
/// ```
/// use otpguard::lifecycle::audit::Outcome;
/// assert_eq!(Outcome::Refused.to_string(), "refused");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The event was applied.
    Accepted,
    /// The event was refused. The record is unchanged unless a wrong code
    /// was counted (then `version` is one more than before).
    Refused,
}

impl Outcome {
    /// Both outcomes.
    pub const ALL: [Self; 2] = [Self::Accepted, Self::Refused];
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
/// use otpguard::lifecycle::audit::AuditReason;
/// use otpguard::lifecycle::rules::{Effect, Guard};
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
    /// Refused: the code matched the very step last accepted for this
    /// token (a double submit, a retry or an intercepted code). Not
    /// counted.
    Replayed {
        /// The step the code matched.
        step: u64,
        /// The last step accepted for the token.
        last_accepted: u64,
    },
    /// Refused: the code matched a step older than the one last accepted
    /// for this token. Not counted. Usually not a replay but a genuine code
    /// from a phone whose clock is behind the last accepted step: after an
    /// operator's `ResetDrift` of a phone that ran fast, or a phone that
    /// fell behind. Such codes are refused until the phone's clock passes
    /// the last accepted step (single use allows nothing older).
    BehindLastAccepted {
        /// The step the code matched (for a signature, its counter or
        /// time step).
        step: u64,
        /// The last step accepted for the token.
        last_accepted: u64,
    },
    /// Accepted: a login while the login OTP is off asks for no code.
    LoginOtpOff,
    /// Refused for any other reason: the refusal's stable code
    /// ([`LifecycleError::code`](super::LifecycleError::code)) and its
    /// error message.
    Refused {
        /// The refusal's stable code.
        code: Cow<'static, str>,
        /// The refusal's error message.
        message: Cow<'static, str>,
    },
    /// A reason read back from a store that keeps it as its stable code
    /// and its text only (PostgreSQL's `reason_code` and `reason`
    /// columns), accepted or refused.
    Recorded {
        /// The reason's stable code ([`AuditReason::code`] when written).
        code: Cow<'static, str>,
        /// The reason's text (its `Display` when written).
        message: Cow<'static, str>,
    },
}

impl AuditReason {
    /// A stable, machine-readable name for the reason, part of the public
    /// contract: `applied`, `wrong_code`, `replayed`,
    /// `behind_last_accepted`, `login_otp_off`, or for any other refusal
    /// the refusal's own code ([`LifecycleError::code`](super::LifecycleError::code)).
    ///
    /// ```
    /// use otpguard::lifecycle::audit::AuditReason;
    /// assert_eq!(AuditReason::WrongCode { failures: 1, max: 5 }.code(), "wrong_code");
    /// ```
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::Applied { .. } => "applied",
            Self::WrongCode { .. } => "wrong_code",
            Self::Replayed { .. } => "replayed",
            Self::BehindLastAccepted { .. } => "behind_last_accepted",
            Self::LoginOtpOff => "login_otp_off",
            Self::Refused { code, .. } | Self::Recorded { code, .. } => code,
        }
    }
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
            Self::Replayed {
                step,
                last_accepted,
            } => write!(
                f,
                "replay: the code matched step {step}, already accepted up to step {last_accepted} (not counted)"
            ),
            Self::BehindLastAccepted {
                step,
                last_accepted,
            } => write!(
                f,
                "behind: the code matched step {step}, older than the last accepted step {last_accepted} (not counted)"
            ),
            Self::LoginOtpOff => f.write_str("login OTP is off: no code asked"),
            Self::Refused { message, .. } | Self::Recorded { message, .. } => {
                f.write_str(message)
            }
        }
    }
}

/// What happened to one event: who, when, to whom, from, to, why. Built
/// only from non-secret data: no secret and no code can appear in it. The
/// lifecycle commits it in the same atomic store operation as the change it
/// describes.
///
/// ```
/// use otpguard::lifecycle::{audit::AuditReason, audit::AuditRecord, CustomerId, rules::EventKind, Label, audit::Outcome, Principal, RequestContext, State};
/// let r = AuditRecord {
///     time: 60,
///     customer: CustomerId::new("c-1")?,
///     principal: Principal::customer(Label::new("web")?),
///     context: RequestContext::new().source(Label::new("192.0.2.7")?),
///     token: None,
///     serial: None,
///     new_serial: None,
///     event: EventKind::CancelSwap,
///     from: State::Active,
///     to: State::Active,
///     outcome: Outcome::Refused,
///     reason: AuditReason::Refused { code: "not_permitted".into(), message: "not permitted".into() },
///     version: 3,
///     drift: None,
///     transaction: None,
///     notice: None,
/// };
/// assert_eq!(r.to_string(), "t=60 customer=c-1 by=Customer(web) source=192.0.2.7 token=- event=CancelSwap Active -> Active refused v3: not permitted");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuditRecord {
    /// When (Unix seconds, from the lifecycle's clock).
    pub time: u64,
    /// Whose record.
    pub customer: CustomerId,
    /// Who caused the event: the caller, or the System for what the
    /// lifecycle does by itself (a swap time-out, a lock-out).
    pub principal: Principal,
    /// What the backend passed in about the request.
    pub context: RequestContext,
    /// The token current when the event arrived, if any.
    pub token: Option<TokenId>,
    /// That token's serial.
    pub serial: Option<TokenSerial>,
    /// The new token the event brought (`Register`, `CompleteSwap`).
    pub new_serial: Option<TokenSerial>,
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
    /// The token's drift, if the event moved it by more than one step.
    pub drift: Option<DriftChange>,
    /// For `SignTransaction`, accepted or refused: the SHA-256 digest of
    /// the canonical encoding of the transaction presented
    /// ([`Transaction::digest`](crate::ocra::Transaction::digest)), never
    /// the response.
    pub transaction: Option<[u8; 32]>,
    /// What the customer must be told out of band after this event, if
    /// anything: the backend's notifier reads it here, committed with the
    /// event, so it can never miss one.
    pub notice: Option<Notice>,
}

/// What a customer must be told out of band (an e-mail, a push message)
/// after an event, as NIST SP 800-63B rev. 4 §4.6 asks on binding and PSD2
/// RTS Art. 4(3)(d) before a block becomes permanent.
///
/// ```
/// use otpguard::lifecycle::audit::Notice;
/// assert_eq!(Notice::TokenBound.to_string(), "TokenBound");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Notice {
    /// A token was bound to the account (`Register`).
    TokenBound,
    /// A swap completed: a new phone holds the token.
    SwapCompleted,
    /// The token was locked after too many wrong codes.
    LockedOut,
    /// The token was reissued by the bank.
    Reissued,
    /// A temporary block began, and the next one will be permanent.
    LastTemporaryBlock,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Self; 5] = [
        Self::TokenBound,
        Self::SwapCompleted,
        Self::LockedOut,
        Self::Reissued,
        Self::LastTemporaryBlock,
    ];

    /// The notice an accepted event of `kind` raises, if any.
    pub(crate) const fn of_accepted(kind: EventKind) -> Option<Self> {
        match kind {
            EventKind::Register => Some(Self::TokenBound),
            EventKind::CompleteSwap => Some(Self::SwapCompleted),
            EventKind::Reissue => Some(Self::Reissued),
            EventKind::Suspend(super::SuspendReason::TooManyFailures) => Some(Self::LockedOut),
            _ => None,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TokenBound => "TokenBound",
            Self::SwapCompleted => "SwapCompleted",
            Self::LockedOut => "LockedOut",
            Self::Reissued => "Reissued",
            Self::LastTemporaryBlock => "LastTemporaryBlock",
        })
    }
}

/// A token's recorded drift before and after an event that moved it by
/// more than one step (RFC 6238 §6 re-centring, a `Resync`, a
/// `ResetDrift`): audited, since a large jump may mean a phone whose clock
/// was changed, or codes guessed far from now.
///
/// ```
/// use otpguard::lifecycle::audit::DriftChange;
/// assert_eq!(DriftChange { from: -1, to: 4 }.to_string(), "drift -1 -> 4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DriftChange {
    /// Before, in steps.
    pub from: i64,
    /// After, in steps.
    pub to: i64,
}

impl DriftChange {
    /// The change of the current token's drift from `before` to `after`,
    /// if the token is the same and the drift moved by more than one step.
    pub(crate) fn between(before: &super::TokenRecord, after: &super::TokenRecord) -> Option<Self> {
        let (old, new) = (before.stage.token()?, after.stage.token()?);
        let moved = old.key.id == new.key.id && old.drift.abs_diff(new.drift) > 1;
        moved.then_some(Self {
            from: old.drift,
            to: new.drift,
        })
    }
}

impl fmt::Display for DriftChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "drift {} -> {}", self.from, self.to)
    }
}

impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={} customer={} by={}",
            self.time, self.customer, self.principal
        )?;
        if self.context != RequestContext::default() {
            write!(f, " {}", self.context)?;
        }
        match (&self.token, &self.serial) {
            (Some(t), Some(s)) => write!(f, " token={t} serial={s}")?,
            (Some(t), None) => write!(f, " token={t}")?,
            _ => f.write_str(" token=-")?,
        }
        if let Some(s) = &self.new_serial {
            write!(f, " new_serial={s}")?;
        }
        write!(
            f,
            " event={} {} -> {} {} v{}: {}",
            self.event, self.from, self.to, self.outcome, self.version, self.reason
        )?;
        if let Some(drift) = &self.drift {
            write!(f, " ({drift})")?;
        }
        if let Some(digest) = &self.transaction {
            f.write_str(" transaction=")?;
            digest.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        }
        if let Some(notice) = &self.notice {
            write!(f, " notice={notice}")?;
        }
        Ok(())
    }
}

/// Where a [`MemoryStore`](super::MemoryStore) writes audit records, inside
/// its commit: if the sink fails, nothing of the event is committed and the
/// event fails (fail closed). A store on a database writes them in its own
/// transaction instead.
///
/// ```
/// use otpguard::lifecycle::{audit::AuditRecord, audit::AuditSink};
/// use otpguard::StoreError;
///
/// struct Stdout;
/// impl AuditSink for Stdout {
///     fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
///         records.iter().for_each(|r| println!("audit: {r}"));
///         Ok(())
///     }
/// }
/// ```
pub trait AuditSink {
    /// Writes the records of one commit, all or none.
    ///
    /// # Errors
    /// A [`StoreError`] if the records could not be written; the commit is
    /// then abandoned.
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
}

impl<S: AuditSink + ?Sized> AuditSink for std::sync::Arc<S> {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        (**self).write(records)
    }
}

/// The default sink: keeps every record in memory, as an outbox the
/// backend drains ([`AuditLog::take`]) or reads (through the store's
/// [`AuditReader`]).
///
/// ```
/// use otpguard::lifecycle::audit::AuditLog;
/// let log = AuditLog::default();
/// assert!(log.take().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct AuditLog(Mutex<Kept>);

/// The records held, and how many were taken before the first of them
/// (their numbers go on from there).
#[derive(Debug, Default)]
struct Kept {
    taken: u64,
    records: Vec<AuditRecord>,
}

impl AuditLog {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes and returns the records collected so far.
    #[must_use]
    pub fn take(&self) -> Vec<AuditRecord> {
        let mut kept = self.kept();
        let records = core::mem::take(&mut kept.records);
        let count = u64::try_from(records.len()).unwrap_or(u64::MAX);
        kept.taken = kept.taken.saturating_add(count);
        records
    }

    /// A copy of the records collected so far.
    #[must_use]
    pub fn records(&self) -> Vec<AuditRecord> {
        self.kept().records.clone()
    }

    /// How many records were collected (and not taken).
    #[must_use]
    pub fn len(&self) -> usize {
        self.kept().records.len()
    }

    /// Whether no record is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page of the records held that `query` selects: each numbered
    /// by its place in the log since it began (records taken included),
    /// from 1.
    pub(crate) fn page(&self, query: &AuditQuery) -> AuditPage {
        let kept = self.kept();
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        // Numbers already passed are skipped without looking at them.
        let skip = query.after.id().saturating_sub(kept.taken);
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let entries: Vec<AuditEntry> = (kept.taken.saturating_add(1)..)
            .zip(kept.records.iter())
            .skip(skip)
            .filter(|(_, record)| query.selects(record))
            .take(limit)
            .map(|(id, record)| AuditEntry {
                cursor: AuditCursor::new(0, id),
                recorded_at: None,
                position: None,
                content: AuditContent::Event(record.clone()),
            })
            .collect();
        let next = entries.last().map_or(query.after, |e| e.cursor);
        AuditPage { entries, next }
    }
}

impl AuditSink for AuditLog {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        // A panic elsewhere while the lock was held cannot leave a half-written
        // batch: `extend_from_slice` of clones either completes or the panic
        // propagates from here. The log stays readable.
        self.kept().records.extend_from_slice(records);
        Ok(())
    }
}
