//! Transaction signing in the lifecycle (`SignTransaction`): an OCRA
//! response (RFC 6287) bound to one transaction, verified against the
//! token's own suite, single use through the record, expiring with the
//! signature validity, counted towards the lock-out like any code, and
//! audited with the transaction's digest (never the response).

#![allow(clippy::unwrap_used)]

mod lifecycle_support;

use std::sync::Barrier;

use lifecycle_support::{assert_replayed, signing_suite, transfer_to, Bank, Phone};
use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, config::Throttle, error::CodeError, error::ConfigError,
    rules::EventKind, Authorized, Claimed, Event, LifecycleConfig, LifecycleError, State,
    SuspendReason,
};
use otpguard::ocra::{Amount, Currency, PayeeAccount, QuestionError, Suite, Transaction};

/// A bank whose tokens sign with `suite`, and a registered phone.
fn bank_signing(suite: &str) -> (Bank, Phone) {
    let config = LifecycleConfig::builder()
        .signing(Suite::parse(suite).unwrap())
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = bank.record_in(State::Active);
    (bank, phone)
}

fn sign(
    bank: &Bank,
    transaction: &Transaction,
    response: &str,
) -> Result<Authorized, LifecycleError> {
    let event = Event::SignTransaction {
        transaction: transaction.clone(),
        response: response.into(),
    };
    bank.customer_event(event)
        .map(|applied| applied.authorized.unwrap())
}

fn eur(cents: u64, payee: &str) -> Transaction {
    Transaction::transfer(
        Amount {
            minor_units: cents,
            currency: Currency::new("EUR").unwrap(),
        },
        PayeeAccount::new(payee).unwrap(),
    )
}

#[test]
fn a_transfer_signed_with_the_payee_account_is_accepted_once_and_only_for_that_payee() {
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let suite = signing_suite();
    assert_eq!(bank.record().signing_suite(), Some(suite));
    let transfer = transfer_to("12345671", 50_000);
    let response = phone.signature(&suite, &transfer, None, bank.now());

    // A changed payee: the same response is a wrong code, counted.
    let diverted = transfer_to("12345672", 50_000);
    let before = bank.summary();
    match sign(&bank, &diverted, &response) {
        Err(LifecycleError::WrongCode {
            failures: 1,
            source: CodeError::Signature(_),
            ..
        }) => {}
        other => panic!("diverted payee: {other:?}"),
    }
    assert_eq!(bank.record().failures(), 1);
    assert_eq!(bank.record().last_signature(), before.last_signature);

    // The transfer it was made for: accepted, the proof names its digest.
    let proof = sign(&bank, &transfer, &response).unwrap();
    assert_eq!(proof.event(), EventKind::SignTransaction);
    assert_eq!(proof.transaction(), Some(transfer.digest()));
    let record = bank.record();
    assert_eq!(
        record.failures(),
        0,
        "an accepted signature resets failures"
    );
    assert_eq!(record.last_signature(), Some(proof.claimed().value()));
    // A suite without a counter claims the signature's time step.
    assert_eq!(proof.claimed(), Claimed::OcraTimeStep(bank.now() / 30));
    assert_eq!(proof.version(), record.version());
    // The TOTP side is untouched.
    assert_eq!(record.last_step(), before.last_step);

    // Again: a replay, refused and not counted.
    let version = bank.record().version();
    let claimed = proof.claimed().value();
    assert_replayed(sign(&bank, &transfer, &response), claimed, claimed);
    assert_eq!(bank.record().failures(), 0);
    assert_eq!(bank.record().version(), version, "a replay changes nothing");

    // The audit: each attempt with the digest of the transaction presented.
    let audit = bank.audit_log();
    let signed: Vec<_> = audit
        .iter()
        .filter(|r| r.event == EventKind::SignTransaction)
        .collect();
    assert_eq!(signed.len(), 3);
    assert_eq!(signed[0].transaction, Some(diverted.digest()));
    assert_eq!(signed[1].transaction, Some(transfer.digest()));
    assert_eq!(signed[1].outcome, Outcome::Accepted);
    assert!(matches!(signed[2].reason, AuditReason::Replayed { .. }));
    assert!(audit
        .iter()
        .filter(|r| r.event != EventKind::SignTransaction)
        .all(|r| r.transaction.is_none()));
    for r in &signed {
        assert!(!r.to_string().contains(&response), "{r}");
        assert!(!format!("{r:?}").contains(&response));
    }
}

#[test]
fn a_hex_question_binds_the_amount_the_currency_and_the_payee() {
    let (bank, phone) = bank_signing("OCRA-1:HOTP-SHA256-8:QH64-T1M");
    let suite = bank.record().signing_suite().unwrap();
    let transfer = eur(12_345, "DE89370400440532013000");
    let response = phone.signature(&suite, &transfer, None, bank.now());
    let usd = Transaction::transfer(
        Amount {
            minor_units: 12_345,
            currency: Currency::new("USD").unwrap(),
        },
        PayeeAccount::new("DE89370400440532013000").unwrap(),
    );
    for (i, altered) in [
        eur(12_346, "DE89370400440532013000"),
        eur(12_345, "DE89370400440532013001"),
        usd,
    ]
    .iter()
    .enumerate()
    {
        match sign(&bank, altered, &response) {
            Err(LifecycleError::WrongCode { failures, .. }) => {
                assert_eq!(failures as usize, i + 1);
            }
            other => panic!("altered transaction {i}: {other:?}"),
        }
    }
    assert!(sign(&bank, &transfer, &response).is_ok());
}

#[test]
fn a_signature_expires_with_the_validity() {
    let config = LifecycleConfig::builder()
        .signing(signing_suite())
        .signature_validity(120)
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = bank.record_in(State::Active);
    let suite = signing_suite();
    let old = transfer_to("12345671", 1_000);
    let fresh = transfer_to("12345673", 1_000);
    let at = bank.now();
    let old_response = phone.signature(&suite, &old, None, at);
    let fresh_response = phone.signature(&suite, &fresh, None, at);

    // 120 s are 4 steps of 30 s: still valid four steps later ...
    bank.clock.advance(4 * 30);
    assert!(sign(&bank, &fresh, &fresh_response).is_ok());
    // ... not five: expired, and not counted.
    bank.clock.advance(30);
    assert!(matches!(
        sign(&bank, &old, &old_response),
        Err(LifecycleError::SignatureExpired { step }) if step == at / 30
    ));
    assert_eq!(bank.record().failures(), 0);
}

#[test]
fn with_a_counter_each_signature_takes_the_next_counter_even_within_one_step() {
    let (bank, phone) = bank_signing("OCRA-1:HOTP-SHA1-8:C-QH40-T1M");
    let suite = bank.record().signing_suite().unwrap();
    let now = bank.now();
    let first = eur(100, "FR7630006000011234567890189");
    let second = eur(200, "FR7630006000011234567890189");

    // The token's counter is at 3 (three signatures never sent): within
    // the look-ahead.
    let r = phone.signature(&suite, &first, Some(3), now);
    assert_eq!(
        sign(&bank, &first, &r).unwrap().claimed(),
        Claimed::OcraCounter(3)
    );
    assert_eq!(bank.record().last_signature(), Some(3));
    // The same response again: the counter just accepted, a replay.
    assert_replayed(sign(&bank, &first, &r), 3, 3);
    // A second transaction in the same time step, with the next counter.
    let r2 = phone.signature(&suite, &second, Some(4), now);
    assert_eq!(sign(&bank, &second, &r2).unwrap().claimed().value(), 4);
    // An older counter is outside the window: a wrong code.
    let stale = phone.signature(&suite, &second, Some(2), now);
    assert!(matches!(
        sign(&bank, &second, &stale),
        Err(LifecycleError::WrongCode { .. })
    ));
    // Beyond the look-ahead (next expected 5, default look-ahead 10).
    let far = phone.signature(&suite, &second, Some(5 + 11), now);
    assert!(matches!(
        sign(&bank, &second, &far),
        Err(LifecycleError::WrongCode { .. })
    ));
    let edge = phone.signature(&suite, &second, Some(5 + 10), now);
    assert_eq!(sign(&bank, &second, &edge).unwrap().claimed().value(), 15);
}

#[test]
fn a_token_keeps_the_suite_it_was_bound_with() {
    // Registered while the bank had no signing suite: it cannot sign.
    let bank = Bank::new();
    let phone = bank.record_in(State::Active);
    let transfer = transfer_to("12345671", 10);
    let response = phone.signature(&signing_suite(), &transfer, None, bank.now());
    let version = bank.record().version();
    let refused = sign(&bank, &transfer, &response).unwrap_err();
    assert!(
        matches!(refused, LifecycleError::NoSigningSuite),
        "{refused}"
    );
    assert_eq!(bank.record().failures(), 0, "not counted");
    assert_eq!(bank.record().version(), version);

    // A later deployment signs with another suite: the token keeps its own
    // (none), and a token registered now takes the new one.
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let other = bank.reconfigured(
        LifecycleConfig::builder()
            .signing(Suite::parse("OCRA-1:HOTP-SHA256-8:QH64-T1M").unwrap())
            .build()
            .unwrap(),
    );
    let response = phone.signature(&signing_suite(), &transfer, None, bank.now());
    let event = Event::SignTransaction {
        transaction: transfer,
        response: response.as_str().into(),
    };
    assert!(other
        .blocking()
        .submit(&bank.customer, &bank.web, event, &bank.ctx)
        .is_ok());
}

#[test]
fn a_transaction_the_suite_cannot_carry_is_refused_without_counting() {
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    // A numeric question cannot carry an IBAN.
    let iban = eur(100, "DE89370400440532013000");
    let before = bank.summary();
    let refused = sign(&bank, &iban, &phone.code(bank.now())).unwrap_err();
    assert!(
        matches!(
            refused,
            LifecycleError::Unsignable(QuestionError::NumericPayee)
        ),
        "{refused}"
    );
    let after = bank.summary();
    assert_eq!(
        (after.failures, after.version),
        (before.failures, before.version)
    );
}

#[test]
fn wrong_signatures_count_towards_the_lock_out_and_are_held_back() {
    let config = LifecycleConfig::builder()
        .signing(signing_suite())
        .max_failures(3)
        .throttle(Throttle::growing(2, 60, 600).unwrap())
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = bank.record_in(State::Active);
    let suite = signing_suite();
    let transfer = transfer_to("12345671", 10);
    let wrong = |bank: &Bank| {
        let right = phone.signature(&suite, &transfer, None, bank.now());
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        sign(bank, &transfer, wrong)
    };
    assert!(matches!(
        wrong(&bank),
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    assert!(matches!(
        wrong(&bank),
        Err(LifecycleError::WrongCode { failures: 2, .. })
    ));
    // Held back: even the right response is not evaluated.
    let right = phone.signature(&suite, &transfer, None, bank.now());
    assert!(matches!(
        sign(&bank, &transfer, &right),
        Err(LifecycleError::Throttled { .. })
    ));
    bank.clock.advance(60);
    match wrong(&bank) {
        Err(e @ LifecycleError::WrongCode { failures: 3, .. }) => assert!(e.is_locked_out()),
        other => panic!("third wrong signature: {other:?}"),
    }
    assert_eq!(
        bank.state(),
        State::Suspended(SuspendReason::TooManyFailures)
    );
    // Locked: not permitted.
    let right = phone.signature(&suite, &transfer, None, bank.now());
    assert!(matches!(
        sign(&bank, &transfer, &right),
        Err(LifecycleError::NotPermitted { .. })
    ));
}

#[test]
fn a_malformed_response_is_a_wrong_code_and_changes_nothing_else() {
    let (bank, _phone) = bank_signing(lifecycle_support::SIGNING);
    let transfer = transfer_to("12345671", 10);
    for (i, bad) in ["", "12345", "1234567", "12345a", "x".repeat(100).as_str()]
        .iter()
        .enumerate()
    {
        let before = bank.summary();
        match sign(&bank, &transfer, bad) {
            Err(LifecycleError::WrongCode { failures, .. }) => {
                assert_eq!(failures as usize, i + 1);
            }
            other => panic!("{bad:?}: {other:?}"),
        }
        assert_eq!(bank.record().last_signature(), before.last_signature);
    }
}

#[test]
fn a_signature_is_accepted_once_among_concurrent_submissions() {
    const N: usize = 8;
    for trial in 0..100 {
        let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
        let transfer = transfer_to("12345671", 100 + trial);
        let response = phone.signature(&signing_suite(), &transfer, None, bank.now());
        let barrier = Barrier::new(N);
        let answers: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        sign(&bank, &transfer, &response)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let accepted = answers.iter().filter(|a| a.is_ok()).count();
        let replayed = answers
            .iter()
            .filter(|a| matches!(a, Err(LifecycleError::Replayed { .. })))
            .count();
        assert_eq!((accepted, replayed), (1, N - 1), "trial {trial}");
        assert_eq!(bank.record().failures(), 0);
    }
}

#[test]
fn suites_the_lifecycle_cannot_sign_with_are_refused_by_the_settings() {
    for (suite, why) in [
        ("OCRA-1:HOTP-SHA1-6:C-QN08", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QA08-T1M", "alphanumeric"),
        ("OCRA-1:HOTP-SHA1-6:QH20-T1M", "QH40"),
        ("OCRA-1:HOTP-SHA1-6:QN08-PSHA1-T1M", "PIN"),
        ("OCRA-1:HOTP-SHA1-6:QN08-S064-T1M", "session"),
        ("OCRA-1:HOTP-SHA1-0:QN08-T1M", "digits"),
    ] {
        let built = LifecycleConfig::builder()
            .signing(Suite::parse(suite).unwrap())
            .build();
        match built {
            Err(e @ ConfigError::SigningSuite { .. }) => {
                assert!(e.to_string().contains(why), "{suite}: {e}");
            }
            other => panic!("{suite}: {other:?}"),
        }
    }
    // The validity: 1 s to 10 steps of the suite.
    let builder = || LifecycleConfig::builder().signing(signing_suite());
    assert!(builder().signature_validity(300).build().is_ok());
    assert!(matches!(
        builder().signature_validity(301).build(),
        Err(ConfigError::SignatureValidity {
            given: 301,
            limit: 300
        })
    ));
    assert!(builder().signature_validity(0).build().is_err());
    assert!(matches!(
        builder().signing_counter_ahead(100).build(),
        Err(ConfigError::SigningCounterAhead { .. })
    ));
}

#[test]
fn the_provisioned_key_uri_carries_the_suite_and_the_token_is_bound_with_it() {
    let config = LifecycleConfig::builder()
        .signing(signing_suite())
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let uri = bank.provision("alice").unwrap();
    let scanned = otpguard::KeyUri::parse(&uri.to_uri()).unwrap();
    assert_eq!(scanned.ocra_suite(), Some(signing_suite()));
    assert!(uri
        .to_uri()
        .contains("ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T30S"));

    // Registered by a deployment that signs with another suite: the token
    // is bound with the suite its Key URI carried.
    let other = bank.reconfigured(
        LifecycleConfig::builder()
            .signing(Suite::parse("OCRA-1:HOTP-SHA256-8:QH64-T1M").unwrap())
            .build()
            .unwrap(),
    );
    let phone = Phone::scan("SN-1", &uri);
    let event = Event::Register {
        serial: phone.serial.clone(),
        secret: otpguard::lifecycle::NewSecret::Provisioned,
        code: phone.code(bank.now()).as_str().into(),
    };
    other
        .blocking()
        .submit(&bank.customer, &bank.web, event, &bank.ctx)
        .unwrap();
    assert_eq!(bank.record().signing_suite(), Some(signing_suite()));
    bank.tick();
    let transfer = transfer_to("12345671", 1);
    let response = phone.signature(&signing_suite(), &transfer, None, bank.now());
    assert!(sign(&bank, &transfer, &response).is_ok());
}

#[test]
fn a_payee_written_with_another_width_is_refused_not_confused() {
    // RFC 6287 MACs a numeric question as a number: 01234567 and 1234567
    // would give one response. Only the suite's width (8) is signed.
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let meant = transfer_to("01234567", 50_000);
    let response = phone.signature(&signing_suite(), &meant, None, bank.now());
    let diverted = transfer_to("1234567", 50_000);
    let before = bank.summary();
    assert!(matches!(
        sign(&bank, &diverted, &response),
        Err(LifecycleError::Unsignable(QuestionError::NumericWidth {
            len: 7,
            width: 8
        }))
    ));
    assert_eq!(bank.summary(), before);
    assert!(sign(&bank, &meant, &response).is_ok());
}

#[test]
fn settings_that_let_a_guesser_forge_a_signature_are_refused() {
    let with = |suite: &str, ahead: u32, validity: u64, max: u32| {
        LifecycleConfig::builder()
            .signing(Suite::parse(suite).unwrap())
            .signing_counter_ahead(ahead)
            .signature_validity(validity)
            .max_failures(max)
            .build()
    };
    // Fewer than 6 digits: never.
    assert!(matches!(
        with("OCRA-1:HOTP-SHA1-4:QH64-T1M", 0, 60, 5),
        Err(ConfigError::SigningSuite { .. })
    ));
    // 6 digits, a look-ahead of 99 over 10 steps: 1,212 responses per try.
    match with("OCRA-1:HOTP-SHA1-6:C-QH64-T1M", 99, 600, 5) {
        Err(ConfigError::SignatureGuessable {
            candidates,
            max_failures: 5,
            digits: 6,
        }) => assert_eq!(candidates, 100 * 12),
        other => panic!("{other:?}"),
    }
    // The defaults pass (12 responses per try, 5 tries: 6 in 100,000), and
    // so does a counter suite with the default look-ahead (144, 5 tries).
    assert!(with("OCRA-1:HOTP-SHA1-6:QN08-T30S", 10, 300, 5).is_ok());
    assert!(with("OCRA-1:HOTP-SHA1-6:C-QN08-T30S", 10, 300, 5).is_ok());
    // 100 tries before the lock-out (NIST SP 800-63B) need a shorter
    // validity or more digits.
    assert!(matches!(
        with("OCRA-1:HOTP-SHA1-6:QN08-T30S", 10, 300, 100),
        Err(ConfigError::SignatureGuessable { .. })
    ));
    assert!(with("OCRA-1:HOTP-SHA1-6:QN08-T30S", 10, 210, 100).is_ok());
    assert!(with("OCRA-1:HOTP-SHA1-8:QN08-T30S", 10, 300, 100).is_ok());
}

#[test]
fn the_validity_is_checked_even_without_a_suite() {
    // Tokens bound earlier keep their suite and are checked with it.
    for validity in [0, u64::MAX, LifecycleConfig::TIMEOUT_LIMIT + 1] {
        assert!(
            matches!(
                LifecycleConfig::builder()
                    .signature_validity(validity)
                    .build(),
                Err(ConfigError::SignatureValidity { .. })
            ),
            "{validity}"
        );
    }
    // A later deployment without a suite and the longest validity still
    // checks an older token's signatures over at most 10 of its steps.
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let later = bank.reconfigured(
        LifecycleConfig::builder()
            .signature_validity(LifecycleConfig::TIMEOUT_LIMIT)
            .build()
            .unwrap(),
    );
    let transfer = transfer_to("12345671", 1);
    let sign_with = |response: &str| {
        later
            .blocking()
            .sign_transaction(&bank.customer, &bank.web, &transfer, response, &bank.ctx)
    };
    let old = phone.signature(&signing_suite(), &transfer, None, bank.now() - 11 * 30);
    assert!(matches!(
        sign_with(&old),
        Err(LifecycleError::SignatureExpired { .. })
    ));
    let edge = phone.signature(&signing_suite(), &transfer, None, bank.now() - 10 * 30);
    assert!(sign_with(&edge).is_ok());
}

#[test]
fn a_signature_window_follows_the_phone_clock_drift() {
    let config = LifecycleConfig::builder()
        .signing(signing_suite())
        .signature_validity(60)
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = bank.record_in(State::Active);
    // The phone's clock is 270 s (9 steps) behind; a resync records it.
    let lag = 270;
    bank.clock.advance(lag + 90);
    let first = phone.code(bank.now() - lag);
    let second = phone.code(bank.now() - lag + 30);
    bank.customer_event(Event::Resync {
        first: first.as_str().into(),
        second: second.as_str().into(),
    })
    .unwrap();
    // The later code's drift: 8 steps behind.
    assert_eq!(bank.record().last_drift(), Some(-8));
    bank.tick();
    let transfer = transfer_to("12345671", 1);
    let response = phone.signature(&signing_suite(), &transfer, None, bank.now() - lag);
    let proof = sign(&bank, &transfer, &response).unwrap();
    // Nine steps behind now: outside a window of 2 steps behind the
    // server's step, inside one centred 8 steps back. Reported from the
    // server's own step.
    assert_eq!(proof.drift(), -9);
    assert_eq!(proof.claimed().value(), (bank.now() - lag) / 30);
}

#[cfg(feature = "seal")]
#[test]
fn a_stored_signature_mark_without_a_suite_does_not_open() {
    use otpguard::seal::{KeyId, Keyring};
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let transfer = transfer_to("12345671", 1);
    let response = phone.signature(&signing_suite(), &transfer, None, bank.now());
    let _proof = sign(&bank, &transfer, &response).unwrap();
    let keys = Keyring::new(KeyId(1), &[0x11; 32]).unwrap();
    let sealed = bank.record().seal(&bank.customer, &keys).unwrap();
    let opened = sealed.open(&bank.customer, &keys).unwrap();
    assert_eq!(opened.summary(), bank.summary());
    let mut tampered = sealed.clone();
    tampered.token.as_mut().unwrap().signing = None;
    assert!(tampered.open(&bank.customer, &keys).is_err());
    let mut weaker = sealed;
    weaker.token.as_mut().unwrap().signing =
        Some(Suite::parse("OCRA-1:HOTP-SHA1-4:QN08-T48H").unwrap());
    assert!(weaker.open(&bank.customer, &keys).is_err());
}

/// The guess bound holds for each token when it signs, not only for the
/// suite the settings name: a token bound under a counter suite while the
/// lock-out was tight, then verified under settings with no suite, NIST's
/// 100 failures and a look-ahead of 99, would compare 1,200 responses per
/// guess. Such a token's signatures are refused (typed, audited, not
/// counted) until the settings are tightened again or the token swapped.
#[test]
fn a_token_bound_earlier_is_held_to_the_guess_bound_under_todays_settings() {
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:C-QN08-T30S").unwrap();
    let tight = LifecycleConfig::builder()
        .signing(suite)
        .max_failures(3)
        .signing_counter_ahead(2)
        .build()
        .unwrap();
    let bank = Bank::with_config(tight.clone());
    let phone = bank.record_in(State::Active);
    let transfer = transfer_to("12345671", 10);

    let loose = bank.reconfigured(
        LifecycleConfig::nist_800_63b()
            .signing_counter_ahead(99)
            .build()
            .unwrap(),
    );
    let response = phone.signature(&suite, &transfer, Some(0), bank.now());
    let before = bank.summary();
    let audit_before = bank.audit_len();
    let event = Event::SignTransaction {
        transaction: transfer.clone(),
        response: response.as_str().into(),
    };
    let refused = loose
        .blocking()
        .submit(&bank.customer, &bank.web, event, &bank.ctx);
    match refused {
        Err(LifecycleError::SigningSuiteGuessable {
            candidates,
            max_failures,
            digits,
        }) => assert_eq!((candidates, max_failures, digits), (1_200, 100, 6)),
        other => panic!("{other:?}"),
    }
    assert_eq!(bank.summary(), before, "not counted, nothing changed");
    let log = bank.audit_log();
    assert_eq!(log.len(), audit_before + 1);
    let last = log.last().unwrap();
    assert_eq!(
        (last.event, last.outcome),
        (EventKind::SignTransaction, Outcome::Refused)
    );
    assert_eq!(
        LifecycleError::SigningSuiteGuessable {
            candidates: 1,
            max_failures: 1,
            digits: 6
        }
        .customer_answer(otpguard::lifecycle::AnswerPolicy::COARSE),
        otpguard::lifecycle::CustomerAnswer::BankError
    );

    // Under settings that keep the bound, the same response signs.
    let proof = sign(&bank, &transfer, &response).unwrap();
    assert_eq!(
        (proof.claimed().value(), proof.transaction()),
        (0, Some(transfer.digest()))
    );
}

/// With a suite without a counter, single use is per (time step,
/// question): a transfer to another payee signed within the same step is
/// accepted, the same one again is a replay, and so is another amount to
/// the same payee (its response is the same: a captured response must not
/// sign a second amount). The next step starts afresh.
#[test]
fn a_time_only_suite_signs_different_questions_in_one_step_once_each() {
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let suite = signing_suite();
    let now = bank.now();
    let first = transfer_to("12345671", 100);
    let second = transfer_to("99999991", 200);
    let r1 = phone.signature(&suite, &first, None, now);
    let r2 = phone.signature(&suite, &second, None, now);
    let step = sign(&bank, &first, &r1).unwrap().claimed().value();
    assert_eq!(sign(&bank, &second, &r2).unwrap().claimed().value(), step);
    assert_eq!(bank.record().signed_in_last_step().len(), 2);
    assert_eq!(bank.record().last_signature(), Some(step));

    let before = bank.summary();
    for (transaction, response) in [(&first, &r1), (&second, &r2)] {
        assert_replayed(sign(&bank, transaction, response), step, step);
    }
    // Another amount to the first payee: the same question, the same
    // response, a replay.
    let more = transfer_to("12345671", 999_999);
    assert_eq!(phone.signature(&suite, &more, None, now), r1);
    assert!(matches!(
        sign(&bank, &more, &r1),
        Err(LifecycleError::Replayed { .. })
    ));
    assert_eq!(bank.summary(), before, "replays change nothing");
    let log = bank.audit_log();
    assert!(log[log.len() - 3..]
        .iter()
        .all(|r| matches!(r.reason, AuditReason::Replayed { .. })));

    // The next step: one question again.
    bank.tick();
    let r3 = phone.signature(&suite, &first, None, bank.now());
    assert_eq!(
        sign(&bank, &first, &r3).unwrap().claimed().value(),
        step + 1
    );
    assert_eq!(bank.record().signed_in_last_step().len(), 1);
}

/// One step takes at most 16 questions; the 17th waits for the next step,
/// refused without counting.
#[test]
fn one_time_step_takes_at_most_sixteen_questions() {
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let suite = signing_suite();
    let now = bank.now();
    // Accounts a numeric question carries without ambiguity.
    let mut payees = (0..)
        .map(|n| transfer_to(&format!("{:08}", 12_345_671 + 2 * n), 1))
        .filter(|t| t.question_for(&suite).is_ok());
    for t in payees.by_ref().take(16) {
        let proof = sign(&bank, &t, &phone.signature(&suite, &t, None, now)).unwrap();
        assert_eq!(proof.transaction(), Some(t.digest()));
    }
    let t = payees.next().unwrap();
    let before = bank.summary();
    match sign(&bank, &t, &phone.signature(&suite, &t, None, now)) {
        Err(LifecycleError::TooManySignaturesInStep { max: 16, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(bank.summary(), before);
    bank.tick();
    let proof = sign(&bank, &t, &phone.signature(&suite, &t, None, bank.now())).unwrap();
    assert_eq!(proof.transaction(), Some(t.digest()));
}

/// A response the token computed for this transaction, but before the
/// signature validity, is expired: refused and audited as such, not
/// counted as a wrong code.
#[test]
fn an_expired_signature_is_audited_as_expired_not_counted() {
    let (bank, phone) = bank_signing(lifecycle_support::SIGNING);
    let suite = signing_suite();
    let transfer = transfer_to("12345671", 100);
    let validity = bank.lc.config().signature_validity();
    let late = bank.now() - validity - 60;
    let response = phone.signature(&suite, &transfer, None, late);
    let before = bank.summary();
    match sign(&bank, &transfer, &response) {
        Err(e @ LifecycleError::SignatureExpired { .. }) => {
            assert_eq!(
                e.customer_answer(otpguard::lifecycle::AnswerPolicy::COARSE),
                otpguard::lifecycle::CustomerAnswer::CodeNotAccepted
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(bank.summary(), before, "not counted");
    let last = bank.audit_log().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Refused);
    assert!(
        last.reason.to_string().contains("expired"),
        "{}",
        last.reason
    );
    // A wrong response is still a wrong code.
    let wrong = if response == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert!(matches!(
        sign(&bank, &transfer, wrong),
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
}
