//! Audit records, errors and `Debug` output never carry a secret or a code;
//! every event, accepted or refused, is audited; faults of the system are
//! refused without being counted against the customer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod lifecycle_support;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{
    Actor, Event, EventKind, Lifecycle, LifecycleConfig, LifecycleError, Outcome, ReissueReason,
    State, SuspendReason, TokenRecord, VecSink,
};
use otpguard::replay::{ClaimOutcome, ReplayGuard};
use otpguard::{FixedClock, StoreError};

/// Walks a journey that touches every kind of event, and returns every
/// string a log could get: audit lines, errors, `Debug` of records and
/// events, together with the codes and secrets used.
fn journey() -> (Vec<String>, Vec<String>) {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let new = Phone::new("SN-NEW", 2);
    let mut record = TokenRecord::new();
    let mut logs = Vec::new();
    let mut codes = Vec::new();
    let mut event_logs = Vec::new();
    let mut log = |r: Result<String, LifecycleError>, record: &TokenRecord| {
        match r {
            Ok(s) => logs.push(s),
            Err(e) => {
                logs.push(e.to_string());
                logs.push(format!("{e:?}"));
            }
        }
        logs.push(format!("{record:?}"));
    };

    for round in 0..2 {
        let now = bank.now();
        codes.extend([old.code(now), new.code(now), old.wrong_code(now)]);
        let event = Event::Register {
            serial: old.serial.clone(),
            secret: old.secret(),
            code: &codes[codes.len() - 3],
        };
        event_logs.push(format!("{event:?}"));
        log(
            bank.lc
                .apply(&mut record, Actor::Customer, event)
                .map(|a| format!("{a:?}")),
            &record,
        );
        bank.tick();
        let now = bank.now();
        let (right, wrong) = (old.code(now), old.wrong_code(now));
        codes.extend([right.clone(), wrong.clone()]);
        log(
            bank.lc
                .verify_transaction(&mut record, &wrong)
                .map(|a| format!("{a:?}")),
            &record,
        );
        log(
            bank.lc
                .verify_transaction(&mut record, &right)
                .map(|a| format!("{a:?}")),
            &record,
        );
        log(
            bank.lc
                .verify_transaction(&mut record, &right)
                .map(|a| format!("{a:?}")),
            &record,
        );
        bank.tick();
        let now = bank.now();
        let right = old.code(now);
        codes.push(right.clone());
        log(
            bank.lc
                .apply(
                    &mut record,
                    Actor::Customer,
                    Event::BeginSwap { code: &right },
                )
                .map(|a| format!("{a:?}")),
            &record,
        );
        bank.tick();
        let now = bank.now();
        let code = new.code(now);
        codes.push(code.clone());
        let event = Event::CompleteSwap {
            serial: new.serial.clone(),
            secret: new.secret(),
            code: &code,
        };
        event_logs.push(format!("{event:?}"));
        log(
            bank.lc
                .apply(&mut record, Actor::Customer, event)
                .map(|a| format!("{a:?}")),
            &record,
        );
        log(
            bank.lc
                .apply(
                    &mut record,
                    Actor::Operator,
                    Event::Suspend {
                        reason: SuspendReason::LostDevice,
                    },
                )
                .map(|a| format!("{a:?}")),
            &record,
        );
        log(
            bank.lc
                .apply(&mut record, Actor::Operator, Event::Resume)
                .map(|a| format!("{a:?}")),
            &record,
        );
        log(
            bank.lc
                .apply(
                    &mut record,
                    Actor::Operator,
                    Event::Reissue {
                        reason: ReissueReason::LostDevice,
                    },
                )
                .map(|a| format!("{a:?}")),
            &record,
        );
        let _ = round;
    }
    logs.extend(event_logs);
    for r in bank.audit_log() {
        logs.push(r.to_string());
        logs.push(format!("{r:?}"));
    }
    let secrets = [old.secret(), new.secret()];
    let mut needles: Vec<String> = codes;
    for s in &secrets {
        needles.push(s.to_base32().to_string());
        needles.push(format!("{:?}", s.expose_secret()));
    }
    (logs, needles)
}

/// Whether `needle` occurs in `line` not as part of a longer number (a
/// six-digit code can occur inside a Unix time by chance).
fn contains_token(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn no_secret_or_code_in_audit_records_errors_or_debug() {
    let (logs, needles) = journey();
    assert!(logs.len() > 40);
    assert!(contains_token("code 123456 x", "123456"));
    assert!(!contains_token("t=1700123456", "123456"));
    for line in &logs {
        for needle in &needles {
            assert!(
                !contains_token(line, needle),
                "{line:?} contains {needle:?}"
            );
        }
    }
}

#[test]
fn every_event_yields_one_audit_record_with_who_when_from_to_why() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    bank.tick();
    let _ = bank.lc.apply(&mut record, Actor::Customer, Event::Resume);
    bank.lc
        .apply(
            &mut record,
            Actor::Operator,
            Event::Suspend {
                reason: SuspendReason::Operator,
            },
        )
        .unwrap();

    let log = bank.audit_log();
    assert_eq!(log.len(), 3);
    let refused = &log[1];
    assert_eq!(refused.time, bank.now());
    assert_eq!(refused.serial.as_ref(), Some(&phone.serial));
    assert_eq!(
        (refused.actor, refused.event),
        (Actor::Customer, EventKind::Resume)
    );
    assert_eq!(
        (refused.from, refused.to, refused.outcome),
        (State::Active, State::Active, Outcome::Refused)
    );
    assert!(
        refused
            .reason
            .to_string()
            .contains("not permitted in state Active"),
        "{}",
        refused.reason
    );
    let accepted = &log[2];
    assert_eq!(accepted.to, State::Suspended(SuspendReason::Operator));
    assert_eq!((accepted.outcome, accepted.version), (Outcome::Accepted, 2));
}

/// A replay store that is down.
struct Down;

impl ReplayGuard for Down {
    fn claim(&self, _: &str, _: u64) -> Result<ClaimOutcome, StoreError> {
        Err(StoreError::new("connection refused"))
    }
}

#[test]
fn a_failing_replay_store_refuses_the_code_without_counting_it() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    bank.tick();

    let sink = VecSink::default();
    let down = Lifecycle::new(LifecycleConfig::default(), Down, &*bank.clock, &sink);
    let before = record.summary();
    for _ in 0..10 {
        let r = down.verify_transaction(&mut record, &phone.code(bank.now()));
        assert!(
            matches!(r, Err(LifecycleError::Unverifiable { .. })),
            "{r:?}"
        );
    }
    assert_eq!(record.summary(), before, "fails closed, counts nothing");
    assert_eq!(sink.take().len(), 10);
}

#[test]
fn time_before_t0_is_unverifiable_not_a_wrong_code() {
    let clock = FixedClock::new(5);
    let config = LifecycleConfig::builder().t0(1_000).build().unwrap();
    let lc = Lifecycle::new(
        config,
        otpguard::replay::MemoryGuard::default(),
        &clock,
        VecSink::default(),
    );
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    let r = lc.apply(
        &mut record,
        Actor::Customer,
        Event::Register {
            serial: phone.serial.clone(),
            secret: phone.secret(),
            code: "123456",
        },
    );
    assert!(
        matches!(r, Err(LifecycleError::Unverifiable { .. })),
        "{r:?}"
    );
    assert_eq!(record.version(), 0);
}

#[test]
fn refusals_for_other_reasons_do_not_spend_the_code() {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &old).unwrap();
    bank.tick();
    bank.begin_swap(&mut record, &old).unwrap();
    bank.tick();
    // Completing with the current serial is refused before any code check ...
    let code = old.code(bank.now());
    let r = bank.lc.apply(
        &mut record,
        Actor::Customer,
        Event::CompleteSwap {
            serial: old.serial.clone(),
            secret: old.secret(),
            code: &code,
        },
    );
    assert!(matches!(r, Err(LifecycleError::SameSerial)));
    // ... so the same code still authorises a transfer.
    bank.lc.verify_transaction(&mut record, &code).unwrap();
}

#[test]
fn lockout_maximum_is_configurable_within_bounds() {
    for bad in [0, 101, u32::MAX] {
        assert!(
            LifecycleConfig::builder()
                .max_failures(bad)
                .build()
                .is_err(),
            "{bad}"
        );
    }
    for good in [1, 5, 100] {
        assert_eq!(
            LifecycleConfig::builder()
                .max_failures(good)
                .build()
                .unwrap()
                .max_failures(),
            good
        );
    }
    let bank = Bank::with_config(LifecycleConfig::builder().max_failures(1).build().unwrap());
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let r = bank
        .lc
        .verify_transaction(&mut record, &phone.wrong_code(bank.now()));
    assert!(matches!(
        r,
        Err(LifecycleError::WrongCode {
            failures: 1,
            max: 1,
            locked_out: true,
            ..
        })
    ));
    assert_eq!(
        record.state(),
        State::Suspended(SuspendReason::TooManyFailures)
    );
}
