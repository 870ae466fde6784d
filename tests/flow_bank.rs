//! The flows of the bank's software-token guide (`docs/bank-flows.md`), one test
//! each, as a customer, an operator and the system live them, through the
//! store: every answer was committed, and the committed record and audit
//! log are what is checked.

mod lifecycle_support;

use lifecycle_support::{assert_replayed, signing_suite, transfer_to, Bank, Phone};
use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, error::CodeError, rules::Actor, rules::EventKind, Event,
    LifecycleConfig, LifecycleError, LoginCheck, NewSecret, Principal, ReissueReason, State,
    SuspendReason,
};
use otpguard::Secret;

fn is_wrong_code<T: std::fmt::Debug>(r: Result<T, LifecycleError>) -> bool {
    matches!(r, Err(LifecycleError::WrongCode { .. }))
}

#[test]
fn start_using_a_token_provisioned_by_the_bank() {
    let config = LifecycleConfig::builder()
        .issuer("Example Bank")
        .build()
        .unwrap();
    let bank = Bank::with_config(config);

    // Before registration there is no token: codes are not accepted.
    let anyone = Phone::new("SN-0001", 1);
    assert!(matches!(
        bank.transfer(&anyone),
        Err(LifecycleError::NotPermitted {
            state: State::Unregistered,
            ..
        })
    ));
    // Nor can a provisioned secret be registered before one is created.
    assert!(matches!(
        bank.register_provisioned(&anyone),
        Err(LifecycleError::NoEnrollment)
    ));
    assert!(bank.snapshot().is_none(), "refusals write no record");

    // The bank creates the secret; the app scans its Key URI.
    let uri = bank.provision("alice").unwrap();
    assert_eq!(
        (uri.issuer(), uri.account(), uri.digits()),
        (Some("Example Bank"), "alice", 6)
    );
    let phone = Phone::scan("SN-0001", &uri);
    let pending = bank.record();
    assert_eq!(pending.state(), State::Unregistered);
    assert_eq!(
        pending.enrollment_deadline(),
        Some(bank.now() + LifecycleConfig::DEFAULT_ENROLLMENT_TIMEOUT)
    );

    // A wrong first code: refused and counted like any wrong code, not
    // registered.
    let wrong = phone.wrong_code(bank.now());
    let refused = bank.customer_event(Event::Register {
        serial: phone.serial.clone(),
        secret: NewSecret::Provisioned,
        code: wrong.as_str().into(),
    });
    assert!(matches!(
        refused,
        Err(LifecycleError::WrongCode {
            failures: 1,
            locked_out: false,
            source: CodeError::NewToken(_),
            ..
        })
    ));
    let counted = bank.record();
    assert_eq!(
        (counted.state(), counted.failures()),
        (State::Unregistered, 1)
    );
    assert_eq!(counted.version(), pending.version() + 1);

    // The code the app shows: registered, and the pending secret consumed.
    let applied = bank.register_provisioned(&phone).unwrap();
    assert_eq!(
        (applied.from, applied.to),
        (State::Unregistered, State::Active)
    );
    let record = bank.record();
    assert_eq!(record.serial(), Some(&phone.serial));
    assert_eq!((record.version(), record.last_drift()), (3, Some(0)));
    assert_eq!(record.failures(), 0);
    assert_eq!(record.enrollment_deadline(), None);
    assert_eq!(
        applied.authorized.as_ref().map(|a| a.token()),
        record.token_id()
    );

    // From the next transaction on, the OTP is asked.
    bank.tick();
    bank.transfer_ok(&phone);
    let log = bank.audit_log();
    let outcomes: Vec<_> = log.iter().map(|r| (r.event, r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (EventKind::VerifyTransaction, Outcome::Refused),
            (EventKind::Register, Outcome::Refused),
            (EventKind::Provision, Outcome::Accepted),
            (EventKind::Register, Outcome::Refused),
            (EventKind::Register, Outcome::Accepted),
            (EventKind::VerifyTransaction, Outcome::Accepted),
        ]
    );
    assert_eq!(log[4].new_serial.as_ref(), Some(&phone.serial));
    assert!(log.iter().all(|r| r.principal == bank.web));
}

#[test]
fn a_provisioned_secret_waits_only_until_its_deadline() {
    let bank = Bank::with_config(
        LifecycleConfig::builder()
            .enrollment_timeout(120)
            .build()
            .unwrap(),
    );
    let first = Phone::scan("SN-0001", &bank.provision("alice").unwrap());
    let deadline = bank.record().enrollment_deadline().unwrap();

    // At the deadline the scanned secret can no longer be registered.
    bank.clock.set(deadline);
    assert!(matches!(
        bank.register_provisioned(&first),
        Err(LifecycleError::EnrollmentExpired { .. })
    ));
    assert_eq!(bank.state(), State::Unregistered);

    // A new provisioning replaces it: the old scan's codes do not fit.
    let second = Phone::scan("SN-0001", &bank.provision("alice").unwrap());
    assert_ne!(
        second.secret().expose_secret(),
        first.secret().expose_secret()
    );
    assert!(matches!(
        bank.register_provisioned(&first),
        Err(LifecycleError::WrongCode {
            source: CodeError::NewToken(_),
            ..
        })
    ));
    bank.register_provisioned(&second).unwrap();
    bank.tick();
    bank.transfer_ok(&second);
}

#[test]
fn start_using_a_vendor_token_that_shows_its_serial() {
    let bank = Bank::new();
    let token = Phone::with_secret("HW-778812", Secret::generate_len(20).unwrap());

    // A hardware token comes with its secret from the vendor: no Key URI.
    let applied = bank
        .customer_event(Event::Register {
            serial: token.serial.clone(),
            secret: NewSecret::Given(token.secret()),
            code: token.code(bank.now()).as_str().into(),
        })
        .unwrap();
    assert!(applied.key_uri.is_none());
    assert_eq!(applied.version, 1);
    assert_eq!(bank.record().serial(), Some(&token.serial));
    bank.tick();
    bank.transfer_ok(&token);
}

#[test]
fn transfers_and_login_with_the_otp() {
    let phone = Phone::new("SN-0001", 1);
    let bank = Bank::with_token(&phone);

    // A transfer with the code shown now.
    let code = phone.code(bank.now());
    let accepted = bank.verify(&code).unwrap();
    assert_eq!(accepted.drift(), 0);
    assert_eq!(accepted.event(), EventKind::VerifyTransaction);
    let after_use = bank.summary();
    assert_eq!(accepted.version(), after_use.version);

    // The same code again (a double submit): a replay, refused but neither
    // counted nor written; audited as a replay.
    let claimed = accepted.claimed().value();
    assert_replayed(bank.verify(&code), claimed, claimed);
    assert_eq!(bank.summary(), after_use);
    let last = bank.audit_log().pop().unwrap();
    assert_eq!(
        (last.outcome, last.reason, last.version),
        (
            Outcome::Refused,
            AuditReason::Replayed {
                step: accepted.claimed().value(),
                last_accepted: accepted.claimed().value()
            },
            after_use.version
        )
    );
    // So is a code of an earlier step still in the window.
    assert_replayed(
        bank.verify(&phone.code(bank.now() - 30)),
        claimed - 1,
        claimed,
    );
    assert_eq!(bank.summary(), after_use);

    // A code from one step ago (a slow customer) is accepted, drift -1.
    bank.tick();
    bank.tick();
    let late = phone.code(bank.now() - 30);
    assert_eq!(bank.verify(&late).unwrap().drift(), -1);
    let record = bank.record();
    assert_eq!((record.failures(), record.last_drift()), (0, Some(-1)));

    // Login OTP off (the default): login asks no code.
    assert!(!bank.record().login_otp());
    assert_eq!(bank.login(None).unwrap(), LoginCheck::NotRequired);

    // Turning it on takes a code of the token, as turning it off does.
    bank.tick();
    let before = bank.summary();
    assert!(matches!(
        bank.customer_event(Event::SetLoginOtp {
            on: true,
            code: phone.wrong_code(bank.now()).as_str().into(),
        }),
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    assert!(!bank.record().login_otp());
    assert_eq!(bank.record().version(), before.version + 1);

    // The customer turns it on with the code: login now needs a code.
    bank.set_login_otp(&phone, true).unwrap();
    assert!(bank.record().login_otp());
    assert!(matches!(
        bank.login(None),
        Err(LifecycleError::CodeRequired)
    ));
    bank.tick();
    match bank.login(Some(&phone.code(bank.now()))).unwrap() {
        LoginCheck::Verified(proof) => assert_eq!(proof.event(), EventKind::VerifyLogin),
        other => panic!("{other:?}"),
    }
    bank.tick();
    assert!(is_wrong_code(
        bank.login(Some(&phone.wrong_code(bank.now())))
    ));

    // And off again, with a code (the one used is spent).
    bank.tick();
    bank.set_login_otp(&phone, false).unwrap();
    assert!(matches!(
        bank.set_login_otp(&phone, true),
        Err(LifecycleError::Replayed { .. })
    ));
    assert_eq!(bank.login(None).unwrap(), LoginCheck::NotRequired);
    // VerifyLogin submitted directly while off is refused, not counted.
    let before = bank.summary();
    let r = bank.customer_event(Event::VerifyLogin {
        code: phone.code(bank.now()).as_str().into(),
    });
    assert!(matches!(r, Err(LifecycleError::LoginOtpOff)));
    assert_eq!(bank.summary(), before);
}

#[test]
fn swap_to_a_new_phone_whose_secret_the_swap_generates() {
    let old = Phone::new("SN-OLD", 1);
    let bank = Bank::with_token(&old);

    // The old token's code proves the holder and starts the swap; its
    // answer carries the Key URI the new phone scans.
    let new = bank.begin_swap_generated(&old, "SN-NEW").unwrap();
    let record = bank.record();
    assert_eq!(record.state(), State::Swapping);
    let pending = record.pending_swap().unwrap();
    assert_eq!(
        pending.deadline - pending.started_at,
        LifecycleConfig::DEFAULT_SWAP_TIMEOUT
    );

    // Nothing on the session alone replaces the swap's secret.
    assert!(matches!(
        bank.provision("mallory"),
        Err(LifecycleError::NotPermitted {
            state: State::Swapping,
            rule: Some(_),
            ..
        })
    ));
    assert_eq!(bank.state(), State::Swapping);

    // While swapping, the old token keeps working and the new one does not yet.
    bank.tick();
    bank.transfer_ok(&old);
    bank.tick();
    assert!(is_wrong_code(bank.transfer(&new)));

    // A wrong code of the new token: refused, still swapping, counted (the
    // second wrong code in a row).
    bank.tick();
    let r = bank.customer_event(Event::CompleteSwap {
        serial: new.serial.clone(),
        code: new.wrong_code(bank.now()).as_str().into(),
    });
    assert!(matches!(
        r,
        Err(LifecycleError::WrongCode {
            failures: 2,
            source: CodeError::NewToken(_),
            ..
        })
    ));
    assert_eq!(bank.state(), State::Swapping);
    assert_eq!(bank.record().failures(), 2);

    // The old phone's codes do not complete it, even under a new serial.
    let disguised = Phone::with_secret("SN-DISGUISED", old.secret());
    assert!(is_wrong_code(bank.complete_swap(&disguised)));
    // Nor the current serial.
    let before = bank.summary();
    assert!(matches!(
        bank.complete_swap(&Phone::with_secret("SN-OLD", new.secret())),
        Err(LifecycleError::SameSerial)
    ));
    assert_eq!(bank.summary(), before);

    // The new serial and the code it shows: swapped.
    let old_id = bank.record().token_id();
    bank.complete_swap(&new).unwrap();
    let record = bank.record();
    assert_eq!(record.state(), State::Active);
    assert_eq!(record.serial(), Some(&new.serial));
    assert_ne!(record.token_id(), old_id);
    assert_eq!(record.retired_serials(), std::slice::from_ref(&old.serial));
    assert!(record.pending_swap().is_none());
    assert!(record.enrollment_deadline().is_none());

    // From now on the new token authenticates, and the old one never again.
    for _ in 0..3 {
        bank.tick();
        assert!(is_wrong_code(bank.transfer(&old)));
        bank.transfer_ok(&new);
    }
}

#[test]
fn cancel_a_swap_or_let_it_time_out() {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let new = Phone::new("SN-NEW", 2);
    bank.register(&old).unwrap();

    // Cancel, with the old token's code: back to Active on the old token.
    bank.tick();
    bank.begin_swap(&old, &new).unwrap();
    bank.tick();
    assert!(is_wrong_code(bank.customer_event(Event::CancelSwap {
        code: new.code(bank.now()).as_str().into(),
    })));
    assert_eq!(bank.state(), State::Swapping);
    bank.cancel_swap(&old).unwrap();
    let record = bank.record();
    assert_eq!(
        (record.state(), record.serial()),
        (State::Active, Some(&old.serial))
    );
    bank.tick();
    bank.transfer_ok(&old);

    // Time-out: the system cannot end it early ...
    bank.tick();
    bank.begin_swap(&old, &new).unwrap();
    let deadline = bank.record().pending_swap().unwrap().deadline;
    let early = bank.system(Event::SwapTimeout);
    assert!(matches!(early, Err(LifecycleError::SwapNotExpired { .. })));
    assert_eq!(bank.state(), State::Swapping);

    // ... and at the deadline the first event on the record ends it, by
    // the System, before that event is decided: completing late is refused
    // as expired.
    bank.clock.set(deadline);
    let audit_before = bank.audit_len();
    let version = bank.record().version();
    match bank.complete_swap(&new) {
        Err(LifecycleError::SwapExpired { deadline: d, now }) => {
            assert_eq!((d, now), (deadline, deadline));
        }
        other => panic!("{other:?}"),
    }
    let record = bank.record();
    assert_eq!(
        (record.state(), record.serial(), record.version()),
        (State::Active, Some(&old.serial), version + 1)
    );
    assert!(record.retired_serials().is_empty());
    let log = bank.audit_log();
    let added = &log[audit_before..];
    assert_eq!(added.len(), 2);
    assert_eq!(
        (
            &added[0].principal,
            added[0].event,
            added[0].from,
            added[0].to,
            added[0].outcome
        ),
        (
            &Principal::System,
            EventKind::SwapTimeout,
            State::Swapping,
            State::Active,
            Outcome::Accepted
        )
    );
    assert_eq!(
        (&added[1].principal, added[1].event, added[1].outcome),
        (&bank.web, EventKind::CompleteSwap, Outcome::Refused)
    );
    bank.tick();
    bank.transfer_ok(&old);
    assert!(is_wrong_code(bank.transfer(&new)));

    // A transfer after the deadline is still the old token's, and times
    // the swap out on the way.
    bank.tick();
    bank.begin_swap(&old, &new).unwrap();
    let deadline = bank.record().pending_swap().unwrap().deadline;
    bank.clock.set(deadline + 30);
    bank.transfer_ok(&old);
    assert_eq!(bank.state(), State::Active);
    let log = bank.audit_log();
    let last_two: Vec<_> = log[log.len() - 2..]
        .iter()
        .map(|r| (r.event, r.principal.actor(), r.outcome))
        .collect();
    assert_eq!(
        last_two,
        [
            (EventKind::SwapTimeout, Actor::System, Outcome::Accepted),
            (
                EventKind::VerifyTransaction,
                Actor::Customer,
                Outcome::Accepted
            ),
        ]
    );

    // A sweeper of the backend may send the time-out itself: one record.
    bank.tick();
    bank.begin_swap(&old, &new).unwrap();
    let deadline = bank.record().pending_swap().unwrap().deadline;
    bank.clock.set(deadline);
    let audit_before = bank.audit_len();
    let applied = bank.system(Event::SwapTimeout).unwrap();
    assert_eq!((applied.from, applied.to), (State::Swapping, State::Active));
    assert_eq!(bank.audit_len(), audit_before + 1);
}

#[test]
fn stop_using_the_token() {
    let phone = Phone::new("SN-0001", 1);
    let bank = Bank::with_token(&phone);
    bank.set_login_otp(&phone, true).unwrap();

    // Stop needs the code the token shows now.
    bank.tick();
    let r = bank.customer_event(Event::Stop {
        code: phone.wrong_code(bank.now()).as_str().into(),
    });
    assert!(matches!(
        r,
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    assert_eq!(bank.state(), State::Active);

    bank.stop(&phone).unwrap();
    let record = bank.record();
    assert_eq!(record.state(), State::Unregistered);
    assert!(record.serial().is_none());
    assert!(!record.login_otp(), "no token to ask at login");
    assert_eq!(bank.login(None).unwrap(), LoginCheck::NotRequired);

    // Transactions use the transfer password again: codes are refused.
    bank.tick();
    assert!(matches!(
        bank.transfer(&phone),
        Err(LifecycleError::NotPermitted {
            state: State::Unregistered,
            ..
        })
    ));

    // The stopped token is retired for good, by serial and by secret; a
    // new one can be registered.
    assert!(matches!(
        bank.register(&phone),
        Err(LifecycleError::SerialRetired { .. })
    ));
    assert!(matches!(
        bank.register(&Phone::with_secret("SN-0002", phone.secret())),
        Err(LifecycleError::SecretReused)
    ));
    assert_eq!(bank.state(), State::Unregistered);
    let newer = Phone::new("SN-0002", 3);
    bank.register(&newer).unwrap();
    assert_eq!(bank.state(), State::Active);
}

#[test]
fn lost_phone_is_suspended_reissued_and_a_new_token_registered() {
    let bank = Bank::new();
    let lost = Phone::new("SN-LOST", 1);
    bank.register(&lost).unwrap();

    // The customer calls the bank: the operator suspends at once.
    bank.operator(Event::Suspend {
        reason: SuspendReason::LostDevice,
    })
    .unwrap();
    let suspended = State::Suspended(SuspendReason::LostDevice);
    assert_eq!(bank.state(), suspended);
    bank.tick();
    assert!(matches!(
        bank.transfer(&lost),
        Err(LifecycleError::NotPermitted { state, .. }) if state == suspended
    ));

    // Then reissues: the lost token is retired for good.
    let applied = bank
        .operator(Event::Reissue {
            reason: ReissueReason::LostDevice,
        })
        .unwrap();
    assert_eq!((applied.from, applied.to), (suspended, State::Reissued));
    let record = bank.record();
    assert_eq!(record.state(), State::Reissued);
    assert!(record.serial().is_none());
    bank.tick();
    assert!(matches!(
        bank.transfer(&lost),
        Err(LifecycleError::NotPermitted {
            state: State::Reissued,
            rule: Some(_),
            ..
        })
    ));
    // Whoever found the phone cannot register it again.
    assert!(matches!(
        bank.register(&lost),
        Err(LifecycleError::SerialRetired { .. })
    ));

    // The customer registers the app on the new phone, provisioned anew.
    let new = Phone::scan("SN-NEW", &bank.provision("alice").unwrap());
    bank.register_provisioned(&new).unwrap();
    assert_eq!(bank.state(), State::Active);
    bank.tick();
    bank.transfer_ok(&new);
    bank.tick();
    assert!(is_wrong_code(bank.transfer(&lost)));
    let operators: Vec<_> = bank
        .audit_log()
        .into_iter()
        .filter(|r| r.principal == bank.op)
        .map(|r| (r.event, r.outcome))
        .collect();
    assert_eq!(
        operators,
        [
            (
                EventKind::Suspend(SuspendReason::LostDevice),
                Outcome::Accepted
            ),
            (EventKind::Reissue, Outcome::Accepted),
        ]
    );
}

#[test]
fn lock_out_after_too_many_wrong_codes_and_resume() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    bank.register(&phone).unwrap();
    let max = bank.lc.config().max_failures();
    assert_eq!(max, 5);

    // A success resets the count.
    for _ in 0..max - 1 {
        bank.tick();
        assert!(is_wrong_code(bank.transfer(&Phone::new("SN-X", 9))));
    }
    assert_eq!(bank.record().failures(), max - 1);
    bank.tick();
    bank.transfer_ok(&phone);
    assert_eq!(bank.record().failures(), 0);

    // Five wrong codes in a row: the system suspends the token.
    let version = bank.record().version();
    for n in 1..=max {
        bank.tick();
        let r = bank.verify(&phone.wrong_code(bank.now()));
        assert_eq!(
            r.as_ref().is_err_and(LifecycleError::is_locked_out),
            n == max
        );
        match r {
            Err(LifecycleError::WrongCode {
                failures,
                locked_out,
                ..
            }) => assert_eq!((failures, locked_out), (n, n == max)),
            other => panic!("{other:?}"),
        }
    }
    let locked = State::Suspended(SuspendReason::TooManyFailures);
    let record = bank.record();
    assert_eq!((record.state(), record.failures()), (locked, max));
    // Each counted failure was a committed change, and so was the lock-out,
    // in the same commit as the last failure.
    assert_eq!(record.version(), version + u64::from(max) + 1);
    let log = bank.audit_log();
    let (counted, lock) = (&log[log.len() - 2], &log[log.len() - 1]);
    assert_eq!(
        (counted.event, counted.outcome, &counted.principal),
        (EventKind::VerifyTransaction, Outcome::Refused, &bank.web)
    );
    assert_eq!(
        counted.reason,
        AuditReason::WrongCode { failures: max, max }
    );
    assert_eq!(
        (&lock.principal, lock.event, lock.to, lock.version),
        (
            &Principal::System,
            EventKind::Suspend(SuspendReason::TooManyFailures),
            locked,
            record.version()
        )
    );

    // Now even the right code is refused, and not counted.
    bank.tick();
    let r = bank.transfer(&phone);
    assert!(
        r.as_ref().is_err_and(LifecycleError::is_locked_out),
        "{r:?}"
    );
    assert!(matches!(r, Err(LifecycleError::NotPermitted { .. })));
    assert_eq!(bank.record().failures(), max);
    assert_eq!(bank.record().version(), record.version());

    // The customer explains; the operator resumes the same token.
    bank.operator(Event::Resume).unwrap();
    let resumed = bank.record();
    assert_eq!((resumed.state(), resumed.failures()), (State::Active, 0));
    assert_eq!(resumed.token_id(), record.token_id());
    bank.tick();
    bank.transfer_ok(&phone);
}

#[test]
fn a_token_suspended_for_a_lost_device_cannot_be_resumed() {
    let bank = Bank::new();
    let phone = Phone::new("SN-0001", 1);
    bank.register(&phone).unwrap();
    let lost = State::Suspended(SuspendReason::LostDevice);

    // Locked out first, then reported lost: the suspension escalates.
    for _ in 0..5 {
        bank.tick();
        let _ = bank.verify(&phone.wrong_code(bank.now()));
    }
    assert_eq!(
        bank.state(),
        State::Suspended(SuspendReason::TooManyFailures)
    );
    bank.operator(Event::Suspend {
        reason: SuspendReason::LostDevice,
    })
    .unwrap();
    assert_eq!(bank.state(), lost);

    // No resume, no downgrade: every attempt is refused and changes nothing.
    let before = bank.summary();
    for by in [bank.web.clone(), bank.op.clone(), Principal::System] {
        match bank.submit(&by, Event::Resume) {
            Err(e @ LifecycleError::NotPermitted { rule: Some(_), .. }) => {
                assert!(e.to_string().contains("reissue instead"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let r = bank.submit(
            &by,
            Event::Suspend {
                reason: SuspendReason::Operator,
            },
        );
        assert!(matches!(r, Err(LifecycleError::NotPermitted { .. })));
    }
    assert_eq!(bank.summary(), before);

    // Only a reissue leads out.
    bank.operator(Event::Reissue {
        reason: ReissueReason::LostDevice,
    })
    .unwrap();
    assert_eq!(bank.state(), State::Reissued);
}

#[test]
fn customers_whose_tokens_share_a_serial_cannot_affect_each_other() {
    let alice = Bank::new();
    let bob = alice.other_customer("c-2");
    let alices = Phone::new("SN-SHARED", 1);
    let bobs = Phone::new("SN-SHARED", 2);
    alice.register(&alices).unwrap();
    bob.register(&bobs).unwrap();
    let (alice_token, bob_token) = (alice.record().token_id(), bob.record().token_id());
    assert!(alice_token.is_some() && bob_token.is_some());
    assert_ne!(alice_token, bob_token);

    // Each code works for its own customer only, and is single use there
    // without spending anything of the other's.
    alice.tick();
    assert!(is_wrong_code(bob.transfer(&alices)));
    alice.transfer_ok(&alices);
    bob.transfer_ok(&bobs);

    // Bob locked out; Alice untouched.
    let alice_before = alice.summary();
    for _ in 0..5 {
        alice.tick();
        let _ = bob.transfer(&alices);
    }
    assert_eq!(
        bob.state(),
        State::Suspended(SuspendReason::TooManyFailures)
    );
    assert_eq!(alice.summary(), alice_before);
    alice.transfer_ok(&alices);

    // Alice stops her token: its serial is retired on her record only.
    alice.tick();
    alice.stop(&alices).unwrap();
    assert_eq!(
        alice.record().retired_serials(),
        std::slice::from_ref(&alices.serial)
    );
    assert!(bob.record().retired_serials().is_empty());
    bob.operator(Event::Resume).unwrap();
    bob.tick();
    bob.transfer_ok(&bobs);

    // Every audit record names its own customer and only that customer's
    // token.
    let log = alice.audit_log();
    for r in &log {
        let own = if r.customer == alice.customer {
            alice_token
        } else {
            assert_eq!(r.customer, bob.customer);
            bob_token
        };
        assert!(r.token.is_none() || r.token == own, "{r}");
    }
    assert_eq!(
        log.iter().filter(|r| r.customer == bob.customer).count(),
        // register, wrong, right, 5 wrong + the lock-out, resume, right
        1 + 1 + 1 + 6 + 1 + 1
    );
}

/// Transaction authentication (取引認証): the customer types the payee's
/// account number into the token, which signs it with the time; the bank
/// checks the response against the transfer it is about to execute.
#[test]
fn a_transfer_signed_with_the_payee_account_number() {
    let config = LifecycleConfig::builder()
        .signing(signing_suite())
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = Phone::new("SN-0001", 1);
    bank.register(&phone).unwrap();
    bank.tick();
    let suite = bank.record().signing_suite().unwrap();
    assert_eq!(suite, signing_suite());

    // The customer asks for JPY 120,000 to account 12345671, and types that
    // account number into the token.
    let transfer = transfer_to("12345671", 120_000);
    let response = phone.signature(&suite, &transfer, None, bank.now());
    let sign = |transaction| {
        bank.lc.blocking().sign_transaction(
            &bank.customer,
            &bank.web,
            transaction,
            &response,
            &bank.ctx,
        )
    };

    // Malware in the browser changed the payee: the response does not sign
    // that transfer. Counted as a wrong code, audited with the digest of
    // the transfer presented.
    let diverted = transfer_to("87654321", 120_000);
    assert!(is_wrong_code(sign(&diverted)));
    let last = bank.audit_log().pop().unwrap();
    assert_eq!(
        (last.event, last.outcome, last.transaction),
        (
            EventKind::SignTransaction,
            Outcome::Refused,
            Some(diverted.digest())
        )
    );

    // The transfer the customer asked for: signed. The proof carries its
    // digest; the bank executes exactly that transaction.
    let proof = sign(&transfer).unwrap();
    assert_eq!(proof.event(), EventKind::SignTransaction);
    assert_eq!(proof.transaction(), Some(transfer.digest()));
    let after = bank.summary();
    assert_eq!(
        (after.failures, after.last_signature),
        (0, Some(proof.claimed().value()))
    );

    // Sent again (a double submit, or the malware replaying it): refused as
    // a replay, neither counted nor written.
    assert!(matches!(
        sign(&transfer),
        Err(LifecycleError::Replayed { .. })
    ));
    assert_eq!(bank.summary(), after);

    // While a swap is pending, the old phone still signs.
    bank.tick();
    bank.begin_swap(&phone, &Phone::new("SN-NEXT", 9)).unwrap();
    let next = transfer_to("12345671", 5_000);
    let response = phone.signature(&suite, &next, None, bank.now());
    let proof = bank
        .lc
        .blocking()
        .sign_transaction(&bank.customer, &bank.web, &next, &response, &bank.ctx)
        .unwrap();
    assert_eq!(bank.state(), State::Swapping);
    assert_eq!(proof.transaction(), Some(next.digest()));
}

/// A record without a token has nothing to lock: wrong first codes are
/// counted, and at the maximum the pending secret is dropped, so a guesser
/// gets at most the maximum of tries at one secret. A new provisioning
/// starts afresh.
#[test]
fn wrong_first_codes_use_up_the_pending_secret() {
    let bank = Bank::new();
    let max = bank.lc.config().max_failures();
    let phone = Phone::scan("SN-1", &bank.provision("alice").unwrap());
    for n in 1..=max {
        let wrong = bank.customer_event(Event::Register {
            serial: phone.serial.clone(),
            secret: NewSecret::Provisioned,
            code: phone.wrong_code(bank.now()).as_str().into(),
        });
        assert!(
            matches!(wrong, Err(LifecycleError::WrongCode { failures, locked_out: false, .. }) if failures == n),
            "{wrong:?}"
        );
    }
    let record = bank.record();
    assert_eq!(
        (record.state(), record.failures()),
        (State::Unregistered, max)
    );
    assert_eq!(
        record.enrollment_deadline(),
        None,
        "the pending secret is gone"
    );
    assert!(matches!(
        bank.register_provisioned(&phone),
        Err(LifecycleError::NoEnrollment)
    ));

    let again = Phone::scan("SN-1", &bank.provision("alice").unwrap());
    assert_eq!(bank.record().failures(), 0);
    bank.register_provisioned(&again).unwrap();
    assert_eq!(bank.state(), State::Active);
}

/// The notice that the next block is permanent is given only where a token
/// can be locked: wrong first codes of a record without a token never
/// carry it (at the maximum its pending secret is dropped instead).
#[test]
fn no_last_block_notice_without_a_token() {
    let config = LifecycleConfig::psd2_rts(60, 2).unwrap().build().unwrap();
    let max = config.max_failures();
    let bank = Bank::with_config(config);
    let phone = Phone::scan("SN-1", &bank.provision("alice").unwrap());
    let mut counted = 0;
    while counted < max {
        let r = bank.customer_event(Event::Register {
            serial: phone.serial.clone(),
            secret: NewSecret::Provisioned,
            code: phone.wrong_code(bank.now()).as_str().into(),
        });
        match r {
            Err(LifecycleError::WrongCode { .. }) => counted += 1,
            Err(LifecycleError::Throttled { retry_at, .. }) => bank.clock.set(retry_at),
            other => panic!("{other:?}"),
        }
    }
    let log = bank.audit_log();
    assert!(log.iter().all(|r| r.notice.is_none()), "{log:#?}");
    assert_eq!(bank.record().enrollment_deadline(), None);
}
