//! The flows of the bank's software-token guide (`bank-flows.md`), one test
//! each, as a customer, an operator and the system live them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod lifecycle_support;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{
    Actor, Event, EventKind, LifecycleConfig, LifecycleError, LoginCheck, Outcome, ReissueReason,
    State, SuspendReason, TokenRecord,
};

fn is_wrong_code<T: std::fmt::Debug>(r: Result<T, LifecycleError>) -> bool {
    matches!(r, Err(LifecycleError::WrongCode { .. }))
}

#[test]
fn start_using_a_token() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    let mut record = TokenRecord::new();

    // Before registration there is no token: codes are not accepted.
    assert!(matches!(
        bank.transfer(&mut record, &phone),
        Err(LifecycleError::NotPermitted {
            state: State::Unregistered,
            ..
        })
    ));

    // A wrong first code: refused, not registered, nothing counted.
    let wrong = phone.wrong_code(bank.now());
    let refused = bank.lc.apply(
        &mut record,
        Actor::Customer,
        Event::Register {
            serial: phone.serial.clone(),
            secret: phone.secret(),
            code: &wrong,
        },
    );
    assert!(matches!(refused, Err(LifecycleError::NewTokenCode { .. })));
    assert_eq!(
        (record.state(), record.version(), record.failures()),
        (State::Unregistered, 0, 0)
    );

    // The code the app shows: registered.
    let applied = bank.register(&mut record, &phone).unwrap();
    assert_eq!(
        (applied.from, applied.to),
        (State::Unregistered, State::Active)
    );
    assert_eq!(record.serial(), Some(&phone.serial));
    assert_eq!((record.version(), record.last_drift()), (1, Some(0)));

    // From the next transaction on, the OTP is asked.
    bank.tick();
    bank.transfer(&mut record, &phone).unwrap();
    let log = bank.audit_log();
    let outcomes: Vec<_> = log.iter().map(|r| (r.event, r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (EventKind::VerifyTransaction, Outcome::Refused),
            (EventKind::Register, Outcome::Refused),
            (EventKind::Register, Outcome::Accepted),
            (EventKind::VerifyTransaction, Outcome::Accepted),
        ]
    );
    assert_eq!(log[2].new_serial.as_ref(), Some(&phone.serial));
}

#[test]
fn transfers_and_login_with_the_otp() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    bank.tick();

    // A transfer with the code shown now; the same code again is a replay.
    let code = phone.code(bank.now());
    let accepted = bank.lc.verify_transaction(&mut record, &code).unwrap();
    assert_eq!(accepted.offset(), 0);
    let replay = bank.lc.verify_transaction(&mut record, &code);
    assert!(matches!(
        replay,
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));

    // A code from one step ago (a slow customer) is accepted, drift -1.
    bank.tick();
    bank.tick();
    let late = phone.code(bank.now() - 30);
    assert_eq!(
        bank.lc
            .verify_transaction(&mut record, &late)
            .unwrap()
            .offset(),
        -1
    );
    assert_eq!((record.failures(), record.last_drift()), (0, Some(-1)));

    // Login OTP off (the default): login asks no code.
    assert!(!record.login_otp());
    assert_eq!(
        bank.lc.login(&mut record, None).unwrap(),
        LoginCheck::NotRequired
    );

    // The customer turns it on: login now needs a code.
    bank.lc
        .apply(&mut record, Actor::Customer, Event::SetLoginOtp(true))
        .unwrap();
    assert!(record.login_otp());
    assert!(matches!(
        bank.lc.login(&mut record, None),
        Err(LifecycleError::CodeRequired)
    ));
    bank.tick();
    let check = bank
        .lc
        .login(&mut record, Some(&phone.code(bank.now())))
        .unwrap();
    assert!(matches!(check, LoginCheck::Verified(_)));
    bank.tick();
    assert!(is_wrong_code(
        bank.lc
            .login(&mut record, Some(&phone.wrong_code(bank.now())))
    ));

    // And off again.
    bank.lc
        .apply(&mut record, Actor::Customer, Event::SetLoginOtp(false))
        .unwrap();
    assert_eq!(
        bank.lc.login(&mut record, None).unwrap(),
        LoginCheck::NotRequired
    );
    // VerifyLogin applied directly while off is refused, not counted.
    let before = record.summary();
    let r = bank.lc.apply(
        &mut record,
        Actor::Customer,
        Event::VerifyLogin {
            code: &phone.code(bank.now()),
        },
    );
    assert!(matches!(r, Err(LifecycleError::LoginOtpOff)));
    assert_eq!(record.summary(), before);
}

#[test]
fn swap_to_a_new_phone() {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let new = Phone::new("SN-NEW", 2);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &old).unwrap();
    bank.tick();

    // The old token's code proves the holder and starts the swap.
    bank.begin_swap(&mut record, &old).unwrap();
    assert_eq!(record.state(), State::Swapping);
    let pending = record.pending_swap().unwrap();
    assert_eq!(
        pending.deadline - pending.started_at,
        LifecycleConfig::DEFAULT_SWAP_TIMEOUT
    );

    // While swapping, the old token keeps working and the new one does not yet.
    bank.tick();
    bank.transfer(&mut record, &old).unwrap();
    bank.tick();
    assert!(is_wrong_code(bank.transfer(&mut record, &new)));

    // A wrong code of the new token: refused, still swapping, not counted.
    bank.tick();
    let failures = record.failures();
    let wrong = new.wrong_code(bank.now());
    let r = bank.lc.apply(
        &mut record,
        Actor::Customer,
        Event::CompleteSwap {
            serial: new.serial.clone(),
            secret: new.secret(),
            code: &wrong,
        },
    );
    assert!(matches!(r, Err(LifecycleError::NewTokenCode { .. })));
    assert_eq!(
        (record.state(), record.failures()),
        (State::Swapping, failures)
    );

    // The new serial and the code it shows: swapped.
    bank.complete_swap(&mut record, &new).unwrap();
    assert_eq!(record.state(), State::Active);
    assert_eq!(record.serial(), Some(&new.serial));
    assert_eq!(record.retired_serials(), std::slice::from_ref(&old.serial));
    assert!(record.pending_swap().is_none());

    // From now on the new token authenticates, and the old one never again.
    for _ in 0..3 {
        bank.tick();
        assert!(is_wrong_code(bank.transfer(&mut record, &old)));
        bank.transfer(&mut record, &new).unwrap();
    }
}

#[test]
fn cancel_a_swap_or_let_it_time_out() {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let new = Phone::new("SN-NEW", 2);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &old).unwrap();

    // Cancel: back to Active on the old token.
    bank.tick();
    bank.begin_swap(&mut record, &old).unwrap();
    bank.lc
        .apply(&mut record, Actor::Customer, Event::CancelSwap)
        .unwrap();
    assert_eq!(
        (record.state(), record.serial()),
        (State::Active, Some(&old.serial))
    );
    bank.tick();
    bank.transfer(&mut record, &old).unwrap();

    // Time-out: the system cannot end it early ...
    bank.tick();
    bank.begin_swap(&mut record, &old).unwrap();
    let deadline = record.pending_swap().unwrap().deadline;
    let early = bank
        .lc
        .apply(&mut record, Actor::System, Event::SwapTimeout);
    assert!(matches!(early, Err(LifecycleError::SwapNotExpired { .. })));
    assert_eq!(record.state(), State::Swapping);

    // ... the customer cannot complete it late ...
    bank.clock.set(deadline);
    let late = bank.complete_swap(&mut record, &new);
    assert!(matches!(late, Err(LifecycleError::SwapExpired { .. })));
    assert_eq!(record.serial(), Some(&old.serial));

    // ... and at the deadline the system ends it: the old token stays.
    bank.lc
        .apply(&mut record, Actor::System, Event::SwapTimeout)
        .unwrap();
    assert_eq!(
        (record.state(), record.serial()),
        (State::Active, Some(&old.serial))
    );
    assert!(record.retired_serials().is_empty());
    bank.tick();
    bank.transfer(&mut record, &old).unwrap();
    assert!(is_wrong_code(bank.transfer(&mut record, &new)));
}

#[test]
fn stop_using_the_token() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    bank.lc
        .apply(&mut record, Actor::Customer, Event::SetLoginOtp(true))
        .unwrap();

    // Stop needs the code the token shows now.
    bank.tick();
    let wrong = phone.wrong_code(bank.now());
    let r = bank
        .lc
        .apply(&mut record, Actor::Customer, Event::Stop { code: &wrong });
    assert!(matches!(
        r,
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    assert_eq!(record.state(), State::Active);

    bank.stop(&mut record, &phone).unwrap();
    assert_eq!(record.state(), State::Unregistered);
    assert!(record.serial().is_none());
    assert!(!record.login_otp(), "no token to ask at login");
    assert_eq!(
        bank.lc.login(&mut record, None).unwrap(),
        LoginCheck::NotRequired
    );

    // Transactions use the transfer password again: codes are refused.
    bank.tick();
    assert!(matches!(
        bank.transfer(&mut record, &phone),
        Err(LifecycleError::NotPermitted {
            state: State::Unregistered,
            ..
        })
    ));

    // The stopped token is retired for good; a new one can be registered.
    let again = bank.register(&mut record, &phone);
    assert!(matches!(again, Err(LifecycleError::SerialRetired { .. })));
    let newer = Phone::new("SN-0002", 3);
    bank.register(&mut record, &newer).unwrap();
    assert_eq!(record.state(), State::Active);
}

#[test]
fn lost_phone_is_suspended_reissued_and_a_new_token_registered() {
    let bank = Bank::new();
    let lost = Phone::new("SN-LOST", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &lost).unwrap();

    // The customer calls the bank: the operator suspends at once.
    bank.operator(
        &mut record,
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
    )
    .unwrap();
    let suspended = State::Suspended(SuspendReason::LostDevice);
    assert_eq!(record.state(), suspended);
    bank.tick();
    assert!(matches!(
        bank.transfer(&mut record, &lost),
        Err(LifecycleError::NotPermitted { state, .. }) if state == suspended
    ));

    // Then reissues: the lost token is retired for good.
    bank.operator(
        &mut record,
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    )
    .unwrap();
    assert_eq!(record.state(), State::Reissued);
    assert!(record.serial().is_none());
    bank.tick();
    assert!(matches!(
        bank.transfer(&mut record, &lost),
        Err(LifecycleError::NotPermitted {
            state: State::Reissued,
            ..
        })
    ));
    // Whoever found the phone cannot register it again.
    assert!(matches!(
        bank.register(&mut record, &lost),
        Err(LifecycleError::SerialRetired { .. })
    ));

    // The customer registers the app on the new phone.
    let new = Phone::new("SN-NEW", 2);
    bank.register(&mut record, &new).unwrap();
    assert_eq!(record.state(), State::Active);
    bank.tick();
    bank.transfer(&mut record, &new).unwrap();
    bank.tick();
    assert!(is_wrong_code(bank.transfer(&mut record, &lost)));
}

#[test]
fn lock_out_after_too_many_wrong_codes_and_resume() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let max = bank.lc.config().max_failures();
    assert_eq!(max, 5);

    // A success resets the count.
    for _ in 0..max - 1 {
        bank.tick();
        assert!(is_wrong_code(
            bank.transfer(&mut record, &Phone::new("SN-X", 9))
        ));
    }
    assert_eq!(record.failures(), max - 1);
    bank.tick();
    bank.transfer(&mut record, &phone).unwrap();
    assert_eq!(record.failures(), 0);

    // Five wrong codes in a row: the system suspends the token.
    let version = record.version();
    for n in 1..=max {
        bank.tick();
        let wrong = phone.wrong_code(bank.now());
        match bank.lc.verify_transaction(&mut record, &wrong) {
            Err(LifecycleError::WrongCode {
                failures,
                locked_out,
                ..
            }) => {
                assert_eq!((failures, locked_out), (n, n == max));
            }
            other => panic!("{other:?}"),
        }
    }
    let locked = State::Suspended(SuspendReason::TooManyFailures);
    assert_eq!((record.state(), record.failures()), (locked, max));
    // Each counted failure was a saved change, and so was the lock-out.
    assert_eq!(record.version(), version + u64::from(max) + 1);
    let last = bank.audit_log().pop().unwrap();
    assert_eq!(
        (last.actor, last.event, last.to),
        (
            Actor::System,
            EventKind::Suspend(SuspendReason::TooManyFailures),
            locked
        )
    );

    // Now even the right code is refused, and not counted.
    bank.tick();
    assert!(matches!(
        bank.transfer(&mut record, &phone),
        Err(LifecycleError::NotPermitted { .. })
    ));
    assert_eq!(record.failures(), max);

    // The customer explains; the operator resumes the same token.
    bank.operator(&mut record, Event::Resume).unwrap();
    assert_eq!((record.state(), record.failures()), (State::Active, 0));
    bank.tick();
    bank.transfer(&mut record, &phone).unwrap();
}

#[test]
fn a_token_suspended_for_a_lost_device_cannot_be_resumed() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let lost = State::Suspended(SuspendReason::LostDevice);

    // Locked out first, then reported lost: the suspension escalates.
    for _ in 0..5 {
        bank.tick();
        let _ = bank
            .lc
            .verify_transaction(&mut record, &phone.wrong_code(bank.now()));
    }
    bank.operator(
        &mut record,
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
    )
    .unwrap();
    assert_eq!(record.state(), lost);

    // No resume, no downgrade: every attempt is refused and changes nothing.
    let before = record.summary();
    for actor in Actor::ALL {
        match bank.lc.apply(&mut record, actor, Event::Resume) {
            Err(e @ LifecycleError::NotPermitted { rule: Some(_), .. }) => {
                assert!(e.to_string().contains("reissue instead"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let r = bank.lc.apply(
            &mut record,
            actor,
            Event::Suspend {
                reason: SuspendReason::Operator,
            },
        );
        assert!(matches!(r, Err(LifecycleError::NotPermitted { .. })));
    }
    assert_eq!(record.summary(), before);

    // Only a reissue leads out.
    bank.operator(
        &mut record,
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    )
    .unwrap();
    assert_eq!(record.state(), State::Reissued);
}
