//! The stored record: serde only through the explicit `WithSecrets`
//! opt-in, checked on the way back in; a secret-free summary otherwise.

#![cfg(feature = "serde")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod lifecycle_support;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{Actor, Event, LifecycleError, State, TokenRecord, WithSecrets};

#[test]
fn a_stored_record_round_trips_with_its_secret_and_keeps_working() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    bank.tick();
    bank.begin_swap(&mut record, &phone).unwrap();

    let json = serde_json::to_string(&WithSecrets(&record)).unwrap();
    assert!(
        json.contains(phone.secret().to_base32().as_str()),
        "the opt-in includes the secret"
    );
    let WithSecrets(mut back): WithSecrets<TokenRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.summary(), record.summary());
    assert_eq!(back.state(), State::Swapping);

    // The restored secret verifies the phone's codes.
    bank.tick();
    bank.transfer(&mut back, &phone).unwrap();
}

#[test]
fn the_summary_serializes_without_the_secret() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let json = serde_json::to_string(&record.summary()).unwrap();
    assert!(json.contains("SN-1"));
    assert!(!json.contains(phone.secret().to_base32().as_str()));
    assert!(!json.to_lowercase().contains("secret"));
}

#[test]
fn inconsistent_or_tampered_records_are_rejected() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let json = serde_json::to_string(&WithSecrets(&record)).unwrap();

    let tampered = [
        json.replace("\"state\":\"Active\"", "\"state\":\"Unregistered\""),
        json.replace("\"state\":\"Active\"", "\"state\":\"Swapping\""),
        json.replace("\"format\":1", "\"format\":2"),
        json.replace("\"serial\":\"SN-1\"", "\"serial\":\"SN 1\""),
        json.replace(phone.secret().to_base32().as_str(), "AAAA"),
    ];
    for t in tampered {
        assert_ne!(t, json);
        assert!(
            serde_json::from_str::<WithSecrets<TokenRecord>>(&t).is_err(),
            "{t}"
        );
    }
}

#[test]
fn a_record_at_the_last_version_refuses_every_change() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    let mut record = TokenRecord::new();
    bank.register(&mut record, &phone).unwrap();
    let json = serde_json::to_string(&WithSecrets(&record))
        .unwrap()
        .replace("\"version\":1", &format!("\"version\":{}", u64::MAX));
    let WithSecrets(mut last): WithSecrets<TokenRecord> = serde_json::from_str(&json).unwrap();
    let before = last.summary();
    let r = bank
        .lc
        .apply(&mut last, Actor::Customer, Event::SetLoginOtp(true));
    assert!(matches!(r, Err(LifecycleError::VersionExhausted)));
    bank.tick();
    let r = bank
        .lc
        .verify_transaction(&mut last, &phone.wrong_code(bank.now()));
    assert!(matches!(r, Err(LifecycleError::VersionExhausted)));
    assert_eq!(last.summary(), before);
}
