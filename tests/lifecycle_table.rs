//! The transition table is the law: every (state, event, actor) is accepted
//! exactly when the table has a row for it, and lands in the row's target
//! state; everything else is refused with an error naming all three, changes
//! nothing in the committed record, and leaves exactly one audit record.

#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

mod lifecycle_support;

use std::collections::HashSet;

use lifecycle_support::{principal, signing_suite, transfer_to, Bank, Phone};
use otpguard::lifecycle::rules::{lookup, Effect, Guard, Transition, NEVER, TABLE};
use otpguard::lifecycle::{
    audit::Outcome, rules::Actor, rules::EventKind, Event, LifecycleConfig, LifecycleError,
    NewSecret, ReissueReason, State, SuspendReason, SwapTo,
};

/// The row for `(state, kind, actor)`, read from the table itself, and
/// checked against the library's `lookup`.
fn row_for(state: State, kind: EventKind, actor: Actor) -> Option<&'static Transition> {
    let row = TABLE
        .iter()
        .find(|r| r.from == state && r.event == kind && r.actor == actor);
    assert_eq!(lookup(state, kind, actor), row, "{state} {kind} {actor}");
    row
}

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
                | EventKind::SetLoginOtp
                | EventKind::BeginSwap
                | EventKind::CompleteSwap
                | EventKind::CancelSwap
                | EventKind::Stop
                | EventKind::VerifyTransaction
                | EventKind::VerifyLogin
                | EventKind::Resync
                | EventKind::SignTransaction
        );
        assert_eq!(row.guard.needs_code(), carries_code, "{row:?}");
        // Effects that rest on a code only on rows that check one.
        let code_effect = matches!(
            row.effect,
            Effect::InstallToken
                | Effect::SwapIn
                | Effect::RecordUse
                | Effect::StartSwap
                | Effect::Resync
        );
        assert!(!code_effect || row.guard.needs_code(), "{row:?}");
        // Only Active and Swapping can check the current token's code.
        if matches!(
            row.guard,
            Guard::CurrentCode
                | Guard::LoginCode
                | Guard::ConsecutiveCodes
                | Guard::SignedTransaction
        ) {
            assert!(row.from.accepts_codes(), "{row:?}");
        }
        // Provisioning is the customer's, changes no state, and only where
        // a registration may follow (a swap's secret comes with BeginSwap).
        if row.event == EventKind::Provision || row.effect == Effect::Provision {
            assert_eq!(
                (row.event, row.effect, row.actor, row.guard),
                (
                    EventKind::Provision,
                    Effect::Provision,
                    Actor::Customer,
                    Guard::None
                ),
                "{row:?}"
            );
            assert_eq!(row.from, row.to, "{row:?}");
            assert!(
                row_for(row.from, EventKind::Register, Actor::Customer).is_some(),
                "{row:?}"
            );
        }
    }
    for (state, event, _) in NEVER {
        for actor in Actor::ALL {
            assert!(
                row_for(*state, *event, actor).is_none(),
                "{state} {event} {actor}"
            );
        }
    }
    assert_eq!(TABLE.len(), 39);
}

/// Every customer step that can leave the customer less protected (login
/// OTP off, a token removed or replaced, a pending swap dropped) proves
/// the current token; a swap's new token is fixed when the swap begins,
/// under the current token's code, and nothing in a swap replaces it.
#[test]
fn a_customer_step_that_weakens_protection_proves_the_current_token() {
    let mut weakening = 0;
    for row in TABLE.iter().filter(|r| r.actor == Actor::Customer) {
        if !row.effect.weakens_protection() {
            continue;
        }
        weakening += 1;
        if row.effect == Effect::SwapIn {
            assert_eq!(row.guard, Guard::NewTokenCodeBeforeDeadline, "{row:?}");
        } else {
            assert!(row.guard.proves_current_token(), "{row:?}");
        }
    }
    assert!(
        weakening >= 4,
        "SetLoginOtp, CompleteSwap, CancelSwap, Stop"
    );
    for row in TABLE {
        // Into a swap only with the current token's code, fixing the secret.
        if row.to == State::Swapping && row.from != State::Swapping {
            assert_eq!(
                (row.actor, row.effect),
                (Actor::Customer, Effect::StartSwap),
                "{row:?}"
            );
            assert!(row.guard.proves_current_token(), "{row:?}");
        }
        // Within a swap, nothing fixes a new secret again.
        if row.from == State::Swapping && row.to == State::Swapping {
            assert!(
                !matches!(row.effect, Effect::Provision | Effect::StartSwap),
                "{row:?}"
            );
        }
    }
}

/// SECURITY.md lists the customer steps that take no code of the current
/// token: the list is the table's.
#[test]
fn security_md_lists_exactly_the_steps_without_a_code_of_the_current_token() {
    let mut from_table: Vec<(String, Vec<String>)> = Vec::new();
    for row in TABLE
        .iter()
        .filter(|r| r.actor == Actor::Customer && !r.guard.proves_current_token())
    {
        let event = row.event.to_string();
        match from_table.iter_mut().find(|(e, _)| *e == event) {
            Some((_, states)) => states.push(row.from.to_string()),
            None => from_table.push((event, vec![row.from.to_string()])),
        }
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SECURITY.md")).unwrap();
    let start = "<!-- code-free steps: checked against the table -->";
    let end = "<!-- end of code-free steps -->";
    let list = &doc[doc.find(start).expect("the list's start") + start.len()
        ..doc.find(end).expect("the list's end")];
    let from_doc: Vec<(String, Vec<String>)> = list
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let event = cells[1].trim_matches('`').to_owned();
            let states = cells[2].split(", ").map(str::to_owned).collect();
            (event, states)
        })
        .collect();
    assert_eq!(from_doc, from_table);
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

/// Submits the best-formed event of `kind` by `actor` for a customer in
/// `state`: right codes, deadlines met, failures at the maximum where that
/// is the guard, a provisioned secret pending where one can be. So a
/// refusal can only come from the table. Returns whether it was accepted.
fn run_combination(state: State, kind: EventKind, actor: Actor) -> bool {
    let config = |max| {
        LifecycleConfig::builder()
            .max_failures(max)
            .signing(signing_suite())
            .build()
            .unwrap()
    };
    let bank = Bank::with_config(config(3));
    let phone = bank.record_in(state);
    let mut new_phone = Phone::new("SN-NEW", 2);
    let mut engine = &*bank.lc;
    let strict = bank.reconfigured(config(2));
    let by = principal(actor);
    let label = format!("{state} {kind} {actor}");

    let mut new_secret = new_phone.given();
    match kind {
        // Where the customer may provision, the new token is the one the
        // app scanned; elsewhere a vendor's token with its own secret.
        EventKind::Register if row_for(state, EventKind::Provision, Actor::Customer).is_some() => {
            let uri = bank.provision("alice").unwrap();
            new_phone = Phone::scan("SN-NEW", &uri);
            new_secret = NewSecret::Provisioned;
        }
        // Only the System's own time-out runs past the deadline: for anyone
        // else, the first event after it would time the swap out first.
        EventKind::SwapTimeout if actor == Actor::System => {
            bank.clock.advance(LifecycleConfig::DEFAULT_SWAP_TIMEOUT);
        }
        EventKind::Suspend(SuspendReason::TooManyFailures) if state.accepts_codes() => {
            // Two counted failures: below the bank's maximum of 3, at the
            // maximum of 2 of a reconfigured deployment.
            for _ in 0..2 {
                let wrong = phone.wrong_code(bank.now());
                assert!(matches!(
                    bank.verify(&wrong),
                    Err(LifecycleError::WrongCode {
                        locked_out: false,
                        ..
                    })
                ));
            }
            assert_eq!((bank.state(), bank.record().failures()), (state, 2));
            engine = &strict;
        }
        _ => {}
    }

    let now = bank.now();
    let code = phone.code(now);
    let new_code = new_phone.code(now);
    let event = match kind {
        EventKind::Provision => Event::Provision {
            account: "alice".to_owned(),
        },
        EventKind::Register => Event::Register {
            serial: new_phone.serial.clone(),
            secret: new_secret,
            code: new_code.as_str().into(),
        },
        EventKind::SetLoginOtp => Event::SetLoginOtp {
            on: false,
            code: code.as_str().into(),
        },
        EventKind::BeginSwap => Event::BeginSwap {
            code: code.as_str().into(),
            to: SwapTo::Given(new_phone.secret()),
        },
        // The new phone holds the secret `record_in` began the swap to.
        EventKind::CompleteSwap => Event::CompleteSwap {
            serial: new_phone.serial.clone(),
            code: new_code.as_str().into(),
        },
        EventKind::CancelSwap => Event::CancelSwap {
            code: code.as_str().into(),
        },
        EventKind::SwapTimeout => Event::SwapTimeout,
        EventKind::Stop => Event::Stop {
            code: code.as_str().into(),
        },
        EventKind::Suspend(reason) => Event::Suspend { reason },
        EventKind::Resume => Event::Resume,
        EventKind::Reissue => Event::Reissue {
            reason: ReissueReason::DeviceUnusable,
        },
        EventKind::VerifyTransaction => Event::VerifyTransaction {
            code: code.as_str().into(),
        },
        EventKind::VerifyLogin => Event::VerifyLogin {
            code: code.as_str().into(),
        },
        // The code shown now and the next one: the later step is fresh.
        EventKind::Resync => Event::Resync {
            first: code.as_str().into(),
            second: phone.code(now + 30).as_str().into(),
        },
        EventKind::ResetDrift => Event::ResetDrift,
        EventKind::SignTransaction => {
            let transaction = transfer_to("12345671", 50_000);
            Event::SignTransaction {
                response: phone
                    .signature(&signing_suite(), &transaction, None, now)
                    .as_str()
                    .into(),
                transaction,
            }
        }
        other => panic!("no test event for {other}"),
    };
    assert_eq!(event.kind(), kind);

    let before = bank.summary();
    let audit_before = bank.audit_len();
    let result = engine
        .blocking()
        .submit(&bank.customer, &by, event, &bank.ctx);
    let after = bank.summary();
    let audit = bank.audit_log();
    assert_eq!(audit.len(), audit_before + 1, "{label}: one audit record");
    let last = audit.last().unwrap();
    assert_eq!(
        (last.event, &last.principal, last.from, &last.customer),
        (kind, &by, state, &bank.customer),
        "{label}"
    );
    assert_eq!(last.version, after.version, "{label}");

    match (row_for(state, kind, actor), result) {
        (Some(row), Ok(applied)) => {
            assert_eq!(after.state, row.to, "{label}");
            assert_eq!(
                (applied.from, applied.to, applied.version),
                (state, row.to, before.version + 1),
                "{label}"
            );
            assert_eq!(after.version, before.version + 1, "{label}");
            assert_eq!(
                applied.authorized.is_some(),
                row.guard.needs_code(),
                "{label}"
            );
            assert_eq!(
                applied.key_uri.is_some(),
                kind == EventKind::Provision,
                "{label}"
            );
            assert_eq!((last.outcome, last.to), (Outcome::Accepted, row.to));
            true
        }
        // A permitted row whose guard refused: never for want of a row.
        (Some(_), Err(e)) => {
            assert!(
                !matches!(e, LifecycleError::NotPermitted { .. }),
                "{label}: {e}"
            );
            assert_eq!((last.outcome, last.to), (Outcome::Refused, state));
            false
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
            assert_eq!(after, before, "{label}: refused, unchanged");
            assert_eq!((last.outcome, last.to), (Outcome::Refused, state));
            false
        }
        (None, result) => panic!("{label}: the table has no row, the engine said {result:?}"),
    }
}

#[test]
fn every_state_event_actor_combination_obeys_the_table() {
    let mut accepted = 0;
    let mut combinations = 0;
    for state in State::ALL {
        for kind in EventKind::ALL {
            for actor in Actor::ALL {
                accepted += usize::from(run_combination(state, kind, actor));
                combinations += 1;
            }
        }
    }
    assert_eq!(combinations, 7 * 18 * 3);
    // Every row was exercised once, and its best-formed event accepted.
    assert_eq!(accepted, TABLE.len());
}

#[test]
fn only_active_and_swapping_accept_codes_and_the_error_names_the_state() {
    for state in State::ALL {
        let bank = Bank::new();
        let phone = bank.record_in(state);
        let before = bank.summary();
        let result = bank.transfer(&phone);
        if state.accepts_codes() {
            let proof = result.unwrap_or_else(|e| panic!("{state}: {e}"));
            assert_eq!(Some(proof.claimed().value()), bank.record().last_step());
        } else {
            match result {
                Err(LifecycleError::NotPermitted {
                    state: s, event, ..
                }) => {
                    assert_eq!((s, event), (state, EventKind::VerifyTransaction));
                    assert_eq!(bank.summary(), before, "{state}");
                }
                other => panic!("{state}: {other:?}"),
            }
        }
    }
}
