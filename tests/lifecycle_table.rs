//! The transition table is the law: every (state, event, actor) is accepted
//! exactly when the table has a row for it, and lands in the row's target
//! state; everything else is refused with an error naming all three, and
//! changes nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod lifecycle_support;

use std::collections::HashSet;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{
    lookup, Actor, Effect, Event, EventKind, Guard, LifecycleConfig, LifecycleError, Outcome,
    ReissueReason, State, SuspendReason, NEVER, TABLE,
};

#[test]
fn table_has_one_row_per_key_and_never_lists_absent_keys() {
    let mut keys = HashSet::new();
    for row in TABLE {
        assert!(
            keys.insert((row.from, row.event, row.actor)),
            "duplicate {row:?}"
        );
        if row.event.is_verification() {
            assert_eq!(row.from, row.to, "a code check never changes the state");
        }
        // Code guards only on events that carry a code, and the reverse.
        let carries_code = matches!(
            row.event,
            EventKind::Register
                | EventKind::BeginSwap
                | EventKind::CompleteSwap
                | EventKind::Stop
                | EventKind::VerifyTransaction
                | EventKind::VerifyLogin
        );
        assert_eq!(row.guard.needs_code(), carries_code, "{row:?}");
        // Effects that rest on a code only on rows that check one.
        let code_effect = matches!(
            row.effect,
            Effect::InstallToken | Effect::SwapIn | Effect::RecordUse | Effect::StartSwap
        );
        assert!(!code_effect || row.guard.needs_code(), "{row:?}");
        // Only Active and Swapping can check the current token's code.
        if matches!(row.guard, Guard::CurrentCode | Guard::LoginCode) {
            assert!(row.from.accepts_codes(), "{row:?}");
        }
    }
    for (state, event, _) in NEVER {
        for actor in Actor::ALL {
            assert!(
                lookup(*state, *event, actor).is_none(),
                "{state} {event} {actor}"
            );
        }
    }
    assert_eq!(TABLE.len(), 27);
}

#[test]
fn no_way_out_of_a_lost_device_suspension_but_reissue() {
    let lost = State::Suspended(SuspendReason::LostDevice);
    let exits: Vec<_> = TABLE.iter().filter(|r| r.from == lost).collect();
    assert_eq!(exits.len(), 1);
    assert_eq!(
        (exits[0].event, exits[0].to),
        (EventKind::Reissue, State::Reissued)
    );
}

/// The best-formed event of `kind` for a record in `state`: right codes,
/// deadlines met, failures at the maximum where that is the guard. So a
/// refusal can only come from the table.
fn run_combination(state: State, kind: EventKind, actor: Actor) {
    let bank = Bank::with_config(LifecycleConfig::builder().max_failures(3).build().unwrap());
    let (mut record, phone) = bank.record_in(state);
    let new_phone = Phone::new("SN-NEW", 2);
    let mut engine = &bank.lc;
    let strict = bank.reconfigured(LifecycleConfig::builder().max_failures(2).build().unwrap());

    match kind {
        EventKind::SwapTimeout => bank.clock.advance(LifecycleConfig::DEFAULT_SWAP_TIMEOUT),
        EventKind::Suspend(SuspendReason::TooManyFailures) if state.accepts_codes() => {
            // Two counted failures: below the bank's maximum of 3, at the
            // maximum of 2 of a reconfigured deployment.
            for _ in 0..2 {
                let wrong = phone.wrong_code(bank.now());
                assert!(bank.lc.verify_transaction(&mut record, &wrong).is_err());
            }
            assert_eq!(record.state(), state);
            engine = &strict;
        }
        _ => {}
    }

    let now = bank.now();
    let code = phone.code(now);
    let new_code = new_phone.code(now);
    let event = match kind {
        EventKind::Register => Event::Register {
            serial: new_phone.serial.clone(),
            secret: new_phone.secret(),
            code: &new_code,
        },
        EventKind::SetLoginOtp => Event::SetLoginOtp(true),
        EventKind::BeginSwap => Event::BeginSwap { code: &code },
        EventKind::CompleteSwap => Event::CompleteSwap {
            serial: new_phone.serial.clone(),
            secret: new_phone.secret(),
            code: &new_code,
        },
        EventKind::CancelSwap => Event::CancelSwap,
        EventKind::SwapTimeout => Event::SwapTimeout,
        EventKind::Stop => Event::Stop { code: &code },
        EventKind::Suspend(reason) => Event::Suspend { reason },
        EventKind::Resume => Event::Resume,
        EventKind::Reissue => Event::Reissue {
            reason: ReissueReason::DeviceUnusable,
        },
        EventKind::VerifyTransaction => Event::VerifyTransaction { code: &code },
        EventKind::VerifyLogin => Event::VerifyLogin { code: &code },
    };
    assert_eq!(event.kind(), kind);

    let before = record.summary();
    let audit_before = bank.audit_log().len();
    let result = engine.apply(&mut record, actor, event);
    let audit = bank.audit_log();
    assert_eq!(
        audit.len(),
        audit_before + 1,
        "{state} {kind} {actor}: one audit record"
    );
    let last = audit.last().unwrap();
    assert_eq!((last.event, last.actor, last.from), (kind, actor, state));

    match (lookup(state, kind, actor), result) {
        (Some(row), Ok(applied)) => {
            assert_eq!(record.state(), row.to, "{state} {kind} {actor}");
            assert_eq!((applied.from, applied.to), (state, row.to));
            assert_eq!(record.version(), before.version + 1);
            assert_eq!(applied.accepted.is_some(), row.guard.needs_code());
            assert_eq!((last.outcome, last.to), (Outcome::Accepted, row.to));
        }
        (
            None,
            Err(LifecycleError::NotPermitted {
                state: s,
                event,
                actor: a,
                ..
            }),
        ) => {
            assert_eq!((s, event, a), (state, kind, actor));
            assert_eq!(
                record.summary(),
                before,
                "{state} {kind} {actor}: refused, unchanged"
            );
            assert_eq!((last.outcome, last.to), (Outcome::Refused, state));
        }
        (row, result) => {
            panic!("{state} {kind} {actor}: table says {row:?}, engine said {result:?}")
        }
    }
}

#[test]
fn every_state_event_actor_combination_obeys_the_table() {
    let mut accepted = 0;
    for state in State::ALL {
        for kind in EventKind::ALL {
            for actor in Actor::ALL {
                run_combination(state, kind, actor);
                accepted += usize::from(lookup(state, kind, actor).is_some());
            }
        }
    }
    assert_eq!(accepted, TABLE.len(), "every row was exercised once");
}

#[test]
fn only_active_and_swapping_accept_codes_and_the_error_names_the_state() {
    for state in State::ALL {
        let bank = Bank::new();
        let (mut record, phone) = bank.record_in(state);
        let result = bank
            .lc
            .verify_transaction(&mut record, &phone.code(bank.now()));
        if state.accepts_codes() {
            assert!(result.is_ok(), "{state}");
        } else {
            match result {
                Err(LifecycleError::NotPermitted {
                    state: s, event, ..
                }) => {
                    assert_eq!((s, event), (state, EventKind::VerifyTransaction));
                }
                other => panic!("{state}: {other:?}"),
            }
        }
    }
}
