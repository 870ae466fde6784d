//! The decision, kept pure: from the record as committed, the event, who
//! causes it, the time and the settings, either the row to take and the
//! code to check, or the refusal. It reads nothing else and changes
//! nothing; checking the code (`check.rs`), applying the row (`effect.rs`)
//! and committing (`engine.rs`) come after.

use sha2::{Digest, Sha256};

use super::event::{EnteredCode, NewSecret, SwapTo};
use super::table::{lookup, never_reason, Guard, Transition};
use super::{Actor, Event, EventKind, LifecycleConfig, LifecycleError, TokenRecord, TokenSerial};
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
        /// The SHA-256 digest of the question: single use per (time step,
        /// question) for a suite without a counter.
        digest: [u8; 32],
        response: &'e EnteredCode,
        window: VerifyWindow,
    },
}

/// A row whose guards all held, except the code still to check.
pub(crate) struct Plan<'e> {
    pub(crate) row: &'static Transition,
    pub(crate) check: Check<'e>,
}

// The table's index (`table.rs`) fails the build for a row whose guard
// needs what its event does not bring, or that needs a pending swap in a
// state without one; these are the run-time faces of that check.
const UNFIT: LifecycleError =
    LifecycleError::Internal("a row whose guard needs what its event does not bring");
const NO_PENDING: LifecycleError =
    LifecycleError::Internal("a swap row for a record that is not swapping");
// The settings refuse a signing suite without a time step or a window past
// the caps, and a loaded token's suite is checked the same way by the
// store's loader: no window is a record a store should not have returned.
const BOUND_SUITE: LifecycleError = LifecycleError::Internal(
    "no signing window: a bound suite without a time step, or a window beyond the caps the settings enforce",
);

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
    let check = match (row.guard, event) {
        (Guard::None, _) => Check::Nothing,
        // A swap's new secret is checked before its code is, so that a
        // refusal for it never spends the code.
        (Guard::CurrentCode, Event::BeginSwap { code, to }) => {
            not_throttled(record, now)?;
            match to {
                SwapTo::Given(secret) => unused_secret(record, secret)?,
                SwapTo::Generated { account } => crate::uri::check_name(account, "account")
                    .map_err(LifecycleError::Provisioning)?,
            }
            Check::Current(code)
        }
        (
            Guard::CurrentCode,
            Event::SetLoginOtp { code, .. }
            | Event::CancelSwap { code }
            | Event::Stop { code }
            | Event::VerifyTransaction { code }
            | Event::VerifyLogin { code },
        ) => {
            not_throttled(record, now)?;
            Check::Current(code)
        }
        (Guard::LoginCode, Event::VerifyLogin { code }) => {
            if !record.login_otp() {
                return Err(LifecycleError::LoginOtpOff);
            }
            not_throttled(record, now)?;
            Check::Current(code)
        }
        (Guard::ConsecutiveCodes, Event::Resync { first, second }) => {
            not_throttled(record, now)?;
            Check::Pair(first, second)
        }
        (
            Guard::SignedTransaction,
            Event::SignTransaction {
                transaction,
                response,
            },
        ) => {
            let suite = record
                .signing_suite()
                .ok_or(LifecycleError::NoSigningSuite)?;
            let question = transaction
                .question_for(&suite)
                .map_err(LifecycleError::Unsignable)?;
            let window = config.signature_window(&suite).ok_or(BOUND_SUITE)?;
            // The bound `build` checks for the configured suite holds for
            // the token's own suite too, under today's settings.
            if let Some(candidates) = config.guessable_signing(&suite) {
                return Err(LifecycleError::SigningSuiteGuessable {
                    candidates,
                    max_failures: config.max_failures(),
                    digits: suite.digits(),
                });
            }
            not_throttled(record, now)?;
            Check::Signature {
                digest: Sha256::digest(question.as_bytes()).into(),
                question,
                response,
                window,
            }
        }
        (
            Guard::NewTokenCode,
            Event::Register {
                serial,
                secret,
                code,
            },
        ) => {
            let check = registered_token(record, serial, secret, code, now, config)?;
            not_throttled(record, now)?;
            check
        }
        (Guard::NewTokenCodeBeforeDeadline, Event::CompleteSwap { serial, code }) => {
            let pending = record.pending_swap().ok_or(NO_PENDING)?;
            if now >= pending.deadline {
                return Err(LifecycleError::SwapExpired {
                    deadline: pending.deadline,
                    now,
                });
            }
            let check = swapped_in_token(record, serial, code)?;
            not_throttled(record, now)?;
            check
        }
        (Guard::DeadlinePassed, _) => {
            let pending = record.pending_swap().ok_or(NO_PENDING)?;
            if now < pending.deadline {
                return Err(LifecycleError::SwapNotExpired {
                    deadline: pending.deadline,
                    now,
                });
            }
            Check::Nothing
        }
        (Guard::FailuresAtMax, _) => {
            let max = config.max_failures();
            if record.failures < max {
                return Err(LifecycleError::BelowMaxFailures {
                    failures: record.failures,
                    max,
                });
            }
            Check::Nothing
        }
        _ => return Err(UNFIT),
    };
    Ok(Plan { row, check })
}

/// A login, decided before the table: while the customer's login OTP is
/// off no code is asked and nothing changes (`Ok(None)`); while it is on,
/// the code is checked as the table's `VerifyLogin` (`Ok(Some(code))`). A
/// login is the customer's, whether or not it asks for a code.
pub(crate) fn login<'c>(
    record: &TokenRecord,
    actor: Actor,
    code: Option<&'c EnteredCode>,
) -> Result<Option<&'c EnteredCode>, LifecycleError> {
    if actor != Actor::Customer {
        return Err(LifecycleError::NotPermitted {
            state: record.state(),
            event: EventKind::VerifyLogin,
            actor,
            rule: None,
        });
    }
    if !record.login_otp() {
        return Ok(None);
    }
    code.map(Some).ok_or(LifecycleError::CodeRequired)
}

/// Refuses a code of the current token while codes are held back after
/// wrong ones: it is not evaluated.
fn not_throttled(record: &TokenRecord, now: u64) -> Result<(), LifecycleError> {
    match record.throttled_until {
        Some(retry_at) if now < retry_at => Err(LifecycleError::Throttled { retry_at, now }),
        _ => Ok(()),
    }
}

/// The new token of `Register`, if neither its serial nor its secret was
/// ever retired here nor is the current one.
fn registered_token<'e>(
    record: &'e TokenRecord,
    serial: &'e TokenSerial,
    secret: &'e NewSecret,
    code: &'e EnteredCode,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Check<'e>, LifecycleError> {
    unretired_serial(record, serial)?;
    let (secret, params, signing) = match secret {
        NewSecret::Given(secret) => (secret, config.totp(), config.signing()),
        NewSecret::Provisioned => {
            let enrollment = record
                .pending_secret()
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
    unused_secret(record, secret)?;
    Ok(Check::New {
        serial,
        secret,
        code,
        params,
        signing,
    })
}

/// The new token of `CompleteSwap`: the secret `BeginSwap` fixed, under a
/// serial that is neither the current one nor ever retired here.
fn swapped_in_token<'e>(
    record: &'e TokenRecord,
    serial: &'e TokenSerial,
    code: &'e EnteredCode,
) -> Result<Check<'e>, LifecycleError> {
    unretired_serial(record, serial)?;
    if record.serial() == Some(serial) {
        return Err(LifecycleError::SameSerial);
    }
    // A swap begun before its secret was fixed by `BeginSwap` has none:
    // it is cancelled (or times out) and begun again.
    let enrollment = record
        .pending_secret()
        .ok_or(LifecycleError::NoEnrollment)?;
    unused_secret(record, &enrollment.secret)?;
    Ok(Check::New {
        serial,
        secret: &enrollment.secret,
        code,
        params: enrollment.params,
        signing: enrollment.signing,
    })
}

fn unretired_serial(record: &TokenRecord, serial: &TokenSerial) -> Result<(), LifecycleError> {
    if record.retired.serials.contains(serial) {
        return Err(LifecycleError::SerialRetired {
            serial: serial.clone(),
        });
    }
    Ok(())
}

/// Refuses a secret that is the current token's or was ever retired here.
fn unused_secret(record: &TokenRecord, secret: &Secret) -> Result<(), LifecycleError> {
    // Both comparisons always run, each in constant time.
    let current = record.is_current_secret(secret);
    let retired = record.retired.has_secret(secret);
    if current | retired {
        return Err(LifecycleError::SecretReused);
    }
    Ok(())
}
