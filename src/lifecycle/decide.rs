//! The decision, kept pure: from the record as committed, the event, who
//! causes it, the time and the settings, either the row to take and the
//! code to check, or the refusal. It reads nothing else and changes
//! nothing; checking the code, applying the row and committing come after
//! (`engine.rs`, `effect.rs`).

use super::event::{EnteredCode, NewSecret};
use super::table::{lookup, never_reason, Guard, Transition};
use super::{Actor, Event, LifecycleConfig, LifecycleError, TokenRecord, TokenSerial};
use crate::ocra::{Suite, VerifyWindow};
use crate::{Secret, TotpParams};

/// The code an accepted row still needs checked.
pub(crate) enum Check<'e> {
    /// None: the row's guard held without one.
    Nothing,
    /// A code of the record's current token.
    Current(&'e EnteredCode),
    /// Two codes of the current token for consecutive steps.
    Pair(&'e EnteredCode, &'e EnteredCode),
    /// The first code of a new token with this serial and secret.
    New {
        serial: &'e TokenSerial,
        secret: &'e Secret,
        code: &'e EnteredCode,
        /// The profile the token is bound with: the enrollment's for a
        /// provisioned secret, the lifecycle's for a given one.
        params: TotpParams,
        /// The signing suite it is bound with, chosen the same way.
        signing: Option<Suite>,
    },
    /// The response of the current token to a transaction's question.
    Signature {
        /// The question derived from the transaction for the token's suite.
        question: String,
        response: &'e EnteredCode,
        window: VerifyWindow,
    },
}

/// A row whose guards all held, except the code still to check.
pub(crate) struct Plan<'e> {
    pub(crate) row: &'static Transition,
    pub(crate) check: Check<'e>,
}

const NO_CODE: LifecycleError =
    LifecycleError::Internal("a code-guarded row for an event that carries no code");
const NO_NEW_TOKEN: LifecycleError =
    LifecycleError::Internal("a new-token row for an event that brings no new token");
const BOUND_SUITE: LifecycleError =
    LifecycleError::Internal(
    "no signing window: a bound suite without a time step, or a window beyond the caps the settings enforce",
);
const NO_PENDING: LifecycleError =
    LifecycleError::Internal("a swap row for a record that is not swapping");

/// Decides `event` by `actor` on `record` at `now`.
pub(crate) fn decide<'e>(
    record: &'e TokenRecord,
    actor: Actor,
    event: &'e Event,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Plan<'e>, LifecycleError> {
    let state = record.state();
    let kind = event.kind();
    let row = lookup(state, kind, actor).ok_or(LifecycleError::NotPermitted {
        state,
        event: kind,
        actor,
        rule: never_reason(state, kind),
    })?;
    let check = match row.guard {
        Guard::None => Check::Nothing,
        Guard::CurrentCode => {
            not_throttled(record, now)?;
            Check::Current(event.code().ok_or(NO_CODE)?)
        }
        Guard::ConsecutiveCodes => {
            not_throttled(record, now)?;
            let (first, second) = event.pair().ok_or(NO_CODE)?;
            Check::Pair(first, second)
        }
        Guard::SignedTransaction => {
            let suite = record
                .signing_suite()
                .ok_or(LifecycleError::NoSigningSuite)?;
            let (transaction, response) = event.signature().ok_or(NO_CODE)?;
            let question = transaction
                .question_for(&suite)
                .map_err(LifecycleError::Unsignable)?;
            let window = config.signature_window(&suite).ok_or(BOUND_SUITE)?;
            not_throttled(record, now)?;
            Check::Signature {
                question,
                response,
                window,
            }
        }
        Guard::LoginCode => {
            if !record.login_otp {
                return Err(LifecycleError::LoginOtpOff);
            }
            not_throttled(record, now)?;
            Check::Current(event.code().ok_or(NO_CODE)?)
        }
        Guard::NewTokenCode => new_token(record, event, now, config)?,
        Guard::NewTokenCodeBeforeDeadline => {
            let pending = record.pending_swap().ok_or(NO_PENDING)?;
            if now >= pending.deadline {
                return Err(LifecycleError::SwapExpired {
                    deadline: pending.deadline,
                    now,
                });
            }
            let check = new_token(record, event, now, config)?;
            if let Check::New { serial, .. } = &check {
                if record.serial() == Some(*serial) {
                    return Err(LifecycleError::SameSerial);
                }
            }
            check
        }
        Guard::DeadlinePassed => {
            let pending = record.pending_swap().ok_or(NO_PENDING)?;
            if now < pending.deadline {
                return Err(LifecycleError::SwapNotExpired {
                    deadline: pending.deadline,
                    now,
                });
            }
            Check::Nothing
        }
        Guard::FailuresAtMax => {
            let max = config.max_failures();
            if record.failures < max {
                return Err(LifecycleError::BelowMaxFailures {
                    failures: record.failures,
                    max,
                });
            }
            Check::Nothing
        }
    };
    Ok(Plan { row, check })
}

/// Refuses a code of the current token while codes are held back after
/// wrong ones: it is not evaluated.
fn not_throttled(record: &TokenRecord, now: u64) -> Result<(), LifecycleError> {
    match record.throttled_until {
        Some(retry_at) if now < retry_at => Err(LifecycleError::Throttled { retry_at, now }),
        _ => Ok(()),
    }
}

/// The new token of `Register` or `CompleteSwap`, if neither its serial nor
/// its secret was ever retired here nor is the current one.
fn new_token<'e>(
    record: &'e TokenRecord,
    event: &'e Event,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Check<'e>, LifecycleError> {
    let (Event::Register {
        serial,
        secret,
        code,
    }
    | Event::CompleteSwap {
        serial,
        secret,
        code,
    }) = event
    else {
        return Err(NO_NEW_TOKEN);
    };
    if record.retired.serials.contains(serial) {
        return Err(LifecycleError::SerialRetired {
            serial: serial.clone(),
        });
    }
    let (secret, params, signing) = match secret {
        NewSecret::Given(secret) => (secret, config.totp(), config.signing()),
        NewSecret::Provisioned => {
            let enrollment = record
                .enrollment
                .as_ref()
                .ok_or(LifecycleError::NoEnrollment)?;
            if now >= enrollment.deadline {
                return Err(LifecycleError::EnrollmentExpired {
                    deadline: enrollment.deadline,
                    now,
                });
            }
            (&enrollment.secret, enrollment.params, enrollment.signing)
        }
    };
    // Both comparisons always run, each in constant time.
    let current = record.is_current_secret(secret);
    let retired = record.retired.has_secret(secret);
    if current | retired {
        return Err(LifecycleError::SecretReused);
    }
    Ok(Check::New {
        serial,
        secret,
        code,
        params,
        signing,
    })
}
