//! One attempt at a request, on the record as loaded: what to commit (the
//! next record and the audit records) and what to answer once it is
//! committed. Pure: the engine loads before and commits after.
//!
//! The path of a request is one way: `decide.rs` picks the row from the
//! table and the check it needs, `check.rs` checks the code, `effect.rs`
//! builds the next record, and this file writes the audit records and
//! counts a wrong code.

use std::borrow::Cow;

use super::audit::{AuditReason, AuditRecord, DriftChange, Notice, Outcome};
use super::check::{self, Proof, Refusal};
use super::decide::{self, decide};
use super::effect::{apply, count_failure};
use super::error::CodeError;
use super::event::EnteredCode;
use super::rules::{lookup, Transition};
use super::{
    Actor, CustomerId, Event, EventKind, LifecycleConfig, LifecycleError, Principal,
    RequestContext, State, SuspendReason, TokenRecord, TokenSerial,
};
use crate::KeyUri;

/// What a request asks: an event of the table, or a login (which asks for
/// no code while the login OTP is off).
pub(crate) enum Request {
    Event(Event),
    Login(Option<EnteredCode>),
    /// The bank's statements failed in the transaction that held the
    /// acceptance of a code for an event of `kind`, and it was rolled
    /// back: the refusal of that event, audited on the record as it is.
    BookingFailed {
        kind: EventKind,
        transaction: Option<[u8; 32]>,
    },
}

impl Request {
    fn kind(&self) -> EventKind {
        match self {
            Self::Event(e) => e.kind(),
            Self::Login(_) => EventKind::VerifyLogin,
            Self::BookingFailed { kind, .. } => *kind,
        }
    }

    fn new_serial(&self) -> Option<&TokenSerial> {
        match self {
            Self::Event(e) => e.new_serial(),
            Self::Login(_) | Self::BookingFailed { .. } => None,
        }
    }
}

/// The answer an attempt gives if its commit succeeds.
pub(crate) enum Answer {
    /// A row of the table was taken.
    Applied {
        from: State,
        to: State,
        proof: Option<Proof>,
        key_uri: Option<Box<KeyUri>>,
    },
    /// A login while the login OTP is off: no code asked.
    LoginNotRequired,
}

/// The audit records of one attempt. Nearly every event has exactly one,
/// kept inline; a swap time-out or a lock-out adds the System's.
#[derive(Default)]
// Inline on purpose: the one record of an accepted code is not allocated
// (tests/no_alloc.rs); the attempt lives on the stack for one request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Audits {
    #[default]
    None,
    One([AuditRecord; 1]),
    Many(Vec<AuditRecord>),
}

impl Audits {
    fn push(&mut self, record: AuditRecord) {
        if let Self::Many(all) = self {
            all.push(record);
            return;
        }
        *self = match core::mem::take(self) {
            Self::None => Self::One([record]),
            Self::One([first]) => Self::Many(vec![first, record]),
            Self::Many(mut all) => {
                all.push(record);
                Self::Many(all)
            }
        };
    }

    pub(crate) fn as_slice(&self) -> &[AuditRecord] {
        match self {
            Self::None => &[],
            Self::One(one) => one,
            Self::Many(all) => all,
        }
    }
}

/// One attempt: what to commit, and what to answer once committed.
pub(crate) struct Attempt {
    /// The record to commit; `None` leaves it as loaded.
    pub(crate) record: Option<TokenRecord>,
    pub(crate) audit: Audits,
    pub(crate) answer: Result<Answer, LifecycleError>,
}

/// What every audit record of one request shares: who, for whom, from
/// where, when, and the transaction a `SignTransaction` signs.
pub(crate) struct AuditHeader<'a> {
    pub(crate) customer: &'a CustomerId,
    pub(crate) by: &'a Principal,
    pub(crate) ctx: &'a RequestContext,
    pub(crate) now: u64,
    pub(crate) transaction: Option<[u8; 32]>,
}

impl AuditHeader<'_> {
    #[allow(clippy::too_many_arguments)]
    fn audit_record(
        &self,
        by: &Principal,
        before: &TokenRecord,
        event: EventKind,
        new_serial: Option<&TokenSerial>,
        after: &TokenRecord,
        outcome: Outcome,
        reason: AuditReason,
    ) -> AuditRecord {
        AuditRecord {
            time: self.now,
            customer: self.customer.clone(),
            principal: by.clone(),
            context: self.ctx.clone(),
            token: before.token_id(),
            serial: before.serial().cloned(),
            new_serial: new_serial.cloned(),
            event,
            from: before.state(),
            to: after.state(),
            outcome,
            reason,
            version: after.version,
            drift: DriftChange::between(before, after),
            transaction: match event {
                EventKind::SignTransaction => self.transaction,
                _ => None,
            },
            notice: match outcome {
                Outcome::Accepted => Notice::of_accepted(event),
                Outcome::Refused => None,
            },
        }
    }

    /// The audit record of a row taken by `by`.
    fn taken(
        &self,
        by: &Principal,
        before: &TokenRecord,
        event: &Event,
        after: &TokenRecord,
        row: &Transition,
    ) -> AuditRecord {
        let reason = AuditReason::Applied {
            guard: row.guard,
            effect: row.effect,
        };
        let (kind, serial) = (event.kind(), event.new_serial());
        self.audit_record(by, before, kind, serial, after, Outcome::Accepted, reason)
    }

    /// The audit record of a refusal of the caller's request.
    fn refused(&self, record: &TokenRecord, request: &Request, reason: AuditReason) -> AuditRecord {
        let (kind, serial) = (request.kind(), request.new_serial());
        self.audit_record(
            self.by,
            record,
            kind,
            serial,
            record,
            Outcome::Refused,
            reason,
        )
    }
}

/// A row taken: the next record, and what to answer with.
struct Taken {
    next: TokenRecord,
    row: &'static Transition,
    proof: Option<Proof>,
    key_uri: Option<Box<KeyUri>>,
}

/// Decides `event` on `record`, checks its code, applies its row. The
/// refusal is as large as the record returned by value the same way:
/// boxing it would allocate on the verify path, which allocates nothing.
#[allow(clippy::result_large_err)]
fn take_row(
    record: &TokenRecord,
    actor: Actor,
    event: &Event,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Taken, Refusal> {
    let plan = decide(record, actor, event, now, config)?;
    let evidence = check::run(plan.check, record, now, config)?;
    let proof = evidence.proof();
    let (next, key_uri) = apply(record, plan.row, evidence, event, now, config)?;
    Ok(Taken {
        next,
        row: plan.row,
        proof,
        key_uri,
    })
}

/// The System's rows (a swap time-out, a lock-out) check no code, so their
/// refusal is never a code's (`tests/lifecycle_table.rs` walks the table).
const NO_CODE_OUTCOME: LifecycleError =
    LifecycleError::Internal("a code outcome for an event of the System, which checks no code");

/// One attempt at `request` on the record as loaded: a swap past its
/// deadline times out first (the System's event, audited), then the
/// request.
pub(crate) fn attempt(
    config: &LifecycleConfig,
    header: &AuditHeader<'_>,
    request: &Request,
    loaded: TokenRecord,
) -> Attempt {
    let mut audit = Audits::None;
    if let Request::BookingFailed { .. } = request {
        // Nothing of the event was committed: only its refusal is.
        return refusal(
            header,
            request,
            loaded,
            audit,
            false,
            LifecycleError::BookingFailed,
        );
    }
    let mut record = loaded;
    let mut timed_out = false;
    let sent_timeout =
        matches!(request, Request::Event(Event::SwapTimeout)) && header.by.actor() == Actor::System;
    let expired = record
        .pending_swap()
        .map(|p| p.deadline)
        .filter(|deadline| header.now >= *deadline);
    if !sent_timeout && expired.is_some() {
        let timeout = Event::SwapTimeout;
        match take_row(&record, Actor::System, &timeout, header.now, config) {
            Ok(Taken { next, row, .. }) => {
                audit.push(header.taken(&Principal::System, &record, &timeout, &next, row));
                record = next;
                timed_out = true;
            }
            Err(Refusal::Refused(e)) => return refusal(header, request, record, audit, false, e),
            Err(Refusal::WrongCode(_) | Refusal::Replayed { .. }) => {
                return refusal(header, request, record, audit, false, NO_CODE_OUTCOME)
            }
        }
    }
    // The swap a `CompleteSwap` would complete has just timed out: say so,
    // rather than that an active record takes no `CompleteSwap`.
    if let (Request::Event(Event::CompleteSwap { .. }), Some(deadline), true, Actor::Customer) =
        (request, expired, timed_out, header.by.actor())
    {
        let e = LifecycleError::SwapExpired {
            deadline,
            now: header.now,
        };
        return refusal(header, request, record, audit, timed_out, e);
    }
    let event = match request {
        Request::Event(event) => Cow::Borrowed(event),
        Request::BookingFailed { .. } => {
            return refusal(
                header,
                request,
                record,
                audit,
                timed_out,
                LifecycleError::Internal("a failed booking decided as an event"),
            )
        }
        Request::Login(code) => match decide::login(&record, header.by.actor(), code.as_ref()) {
            Ok(Some(code)) => Cow::Owned(Event::VerifyLogin { code: code.clone() }),
            Ok(None) => {
                let (by, kind) = (header.by, EventKind::VerifyLogin);
                let (reason, accepted) = (AuditReason::LoginOtpOff, Outcome::Accepted);
                audit.push(header.audit_record(by, &record, kind, None, &record, accepted, reason));
                return Attempt {
                    record: timed_out.then_some(record),
                    audit,
                    answer: Ok(Answer::LoginNotRequired),
                };
            }
            Err(e) => return refusal(header, request, record, audit, timed_out, e),
        },
    };
    match take_row(&record, header.by.actor(), &event, header.now, config) {
        Ok(Taken {
            next,
            row,
            proof,
            key_uri,
        }) => {
            audit.push(header.taken(header.by, &record, &event, &next, row));
            let answer = Answer::Applied {
                from: record.state(),
                to: next.state(),
                proof,
                key_uri,
            };
            Attempt {
                record: Some(next),
                audit,
                answer: Ok(answer),
            }
        }
        Err(Refusal::Replayed {
            step,
            last_accepted,
        }) => {
            let reason = if step < last_accepted {
                AuditReason::BehindLastAccepted {
                    step,
                    last_accepted,
                }
            } else {
                AuditReason::Replayed {
                    step,
                    last_accepted,
                }
            };
            audit.push(header.refused(&record, request, reason));
            Attempt {
                record: timed_out.then_some(record),
                audit,
                answer: Err(LifecycleError::Replayed {
                    step,
                    last_accepted,
                }),
            }
        }
        Err(Refusal::WrongCode(source)) => {
            wrong_code(config, header, request, record, audit, timed_out, source)
        }
        Err(Refusal::Refused(e)) => refusal(header, request, record, audit, timed_out, e),
    }
}

/// Counts a wrong code and, at the maximum, lets the System suspend the
/// token in the same commit (or, on a record without a token, drops the
/// pending secret).
fn wrong_code(
    config: &LifecycleConfig,
    header: &AuditHeader<'_>,
    request: &Request,
    record: TokenRecord,
    mut audit: Audits,
    timed_out: bool,
    source: CodeError,
) -> Attempt {
    let mut counted = match count_failure(&record, config, header.now) {
        Ok(counted) => counted,
        // The record as this attempt left it (a swap time-out included) is
        // committed with the refusal.
        Err(e) => return refusal(header, request, record, audit, timed_out, e),
    };
    let max = config.max_failures();
    let failures = counted.failures;
    let lock = Event::Suspend {
        reason: SuspendReason::TooManyFailures,
    };
    // At the maximum the System suspends the token in the same commit. If
    // it cannot (a bug, or an exhausted version), nothing of the wrong code
    // is committed either: the attempt is refused loudly. A record without
    // a token (a wrong first code of `Register`) has nothing to suspend: it
    // drops its pending secret instead, so a guesser gets at most the
    // maximum of tries at one secret, and the customer provisions again.
    let lockable = lookup(record.state(), lock.kind(), Actor::System).is_some();
    if failures >= max && !lockable {
        counted.drop_pending_secret();
    }
    let locked = if failures >= max && lockable {
        match take_row(&counted, Actor::System, &lock, header.now, config) {
            Ok(Taken { next, row, .. }) => Some((next, row)),
            Err(Refusal::Refused(e)) => {
                return refusal(header, request, record, audit, timed_out, e)
            }
            Err(Refusal::WrongCode(_) | Refusal::Replayed { .. }) => {
                return refusal(header, request, record, audit, timed_out, NO_CODE_OUTCOME)
            }
        }
    } else {
        None
    };
    let reason = AuditReason::WrongCode { failures, max };
    let (by, kind, serial) = (header.by, request.kind(), request.new_serial());
    let mut refused = header.audit_record(
        by,
        &record,
        kind,
        serial,
        &counted,
        Outcome::Refused,
        reason,
    );
    // The notice promises a permanent block next: only where a token can be
    // locked.
    if lockable && starts_last_temporary_block(config, failures) {
        refused.notice = Some(Notice::LastTemporaryBlock);
    }
    audit.push(refused);
    let (next, locked_out) = match locked {
        Some((locked, row)) => {
            audit.push(header.taken(&Principal::System, &counted, &lock, &locked, row));
            (locked, true)
        }
        None => (counted, false),
    };
    Attempt {
        record: Some(next),
        audit,
        answer: Err(LifecycleError::WrongCode {
            failures,
            max,
            locked_out,
            source,
        }),
    }
}

/// A refusal: audited, and the record committed as it is if this attempt
/// already changed it (a swap time-out).
fn refusal(
    header: &AuditHeader<'_>,
    request: &Request,
    record: TokenRecord,
    mut audit: Audits,
    timed_out: bool,
    error: LifecycleError,
) -> Attempt {
    let reason = AuditReason::Refused {
        code: Cow::Borrowed(error.code()),
        message: Cow::Owned(error.to_string()),
    };
    audit.push(header.refused(&record, request, reason));
    Attempt {
        record: timed_out.then_some(record),
        audit,
        answer: Err(error),
    }
}

/// Whether the `failures`-th consecutive wrong code starts a temporary
/// block (a [`Throttle::blocks`](super::Throttle::blocks) throttle) after
/// which the next block is the lock-out.
fn starts_last_temporary_block(config: &LifecycleConfig, failures: u32) -> bool {
    let max = config.max_failures();
    match config.throttle().block_every() {
        Some(every) => {
            failures < max
                && config.throttle().delay_after(failures) > 0
                && failures.saturating_add(every) >= max
        }
        None => false,
    }
}
