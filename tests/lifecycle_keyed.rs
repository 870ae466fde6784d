//! A token's keyed secret is kept between codes, but only ever used with
//! the TOTP parameters it was keyed with: one record checked by lifecycles
//! whose settings differ is verified with each one's own parameters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use otpguard::lifecycle::{
    Actor, Event, Lifecycle, LifecycleConfig, LifecycleError, State, TokenRecord, TokenSerial,
    VecSink,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Algorithm, FixedClock, Secret, Totp};

const START: u64 = 1_700_000_010;

fn code(secret: &Secret, config: &LifecycleConfig, now: u64) -> String {
    Totp::builder(secret)
        .algorithm(config.algorithm())
        .digits(config.digits())
        .period(config.period())
        .t0(config.t0())
        .build()
        .unwrap()
        .generate(now)
        .unwrap()
        .to_string()
}

fn registered(
    lc: &Lifecycle<MemoryGuard, &FixedClock, VecSink>,
    secret: &Secret,
    now: u64,
) -> TokenRecord {
    let mut record = TokenRecord::new();
    lc.apply(
        &mut record,
        Actor::Customer,
        Event::Register {
            serial: TokenSerial::new("SN-1").unwrap(),
            secret: secret.clone(),
            code: &code(secret, lc.config(), now),
        },
    )
    .unwrap();
    assert_eq!(record.state(), State::Active);
    record
}

fn is_wrong_code(result: Result<otpguard::Accepted, LifecycleError>) -> bool {
    matches!(result, Err(LifecycleError::WrongCode { .. }))
}

/// Each case differs from the default profile in one parameter.
fn others() -> Vec<LifecycleConfig> {
    let b = LifecycleConfig::builder;
    vec![
        b().digits(8).build().unwrap(),
        b().period(60).build().unwrap(),
        b().t0(300).build().unwrap(),
        b().algorithm(Algorithm::Sha256).build().unwrap(),
    ]
}

#[test]
fn a_record_keyed_by_one_lifecycle_is_verified_with_another_ones_parameters() {
    let secret = Secret::from_bytes(&[7u8; 32]).unwrap();
    let default = LifecycleConfig::default();
    for other in others() {
        let clock = FixedClock::new(START);
        let a = Lifecycle::new(
            default,
            MemoryGuard::unbounded(),
            &clock,
            VecSink::default(),
        );
        let b = Lifecycle::new(other, MemoryGuard::unbounded(), &clock, VecSink::default());
        // Registered, and so keyed, by `a`.
        let mut record = registered(&a, &secret, START);

        // `b` refuses the code of `a`'s profile and accepts its own, one
        // step on each time (each in its own period).
        let mut now = START + 120;
        clock.set(now);
        let under_a = code(&secret, &default, now);
        let under_b = code(&secret, &other, now);
        assert_ne!(
            under_a, under_b,
            "{other:?}: the profiles must disagree here"
        );
        assert!(
            is_wrong_code(b.verify_transaction(&mut record, &under_a)),
            "{other:?}"
        );
        b.verify_transaction(&mut record, &under_b)
            .unwrap_or_else(|e| panic!("{other:?}: {e}"));

        // Back to `a`: its own profile again, not the one `b` keyed last.
        now += 240;
        clock.set(now);
        let under_a = code(&secret, &default, now);
        let under_b = code(&secret, &other, now);
        assert_ne!(under_a, under_b);
        assert!(
            is_wrong_code(a.verify_transaction(&mut record, &under_b)),
            "{other:?}"
        );
        a.verify_transaction(&mut record, &under_a)
            .unwrap_or_else(|e| panic!("{other:?}: {e}"));
    }
}

#[test]
fn a_cloned_record_carries_a_key_that_still_fits_only_its_own_parameters() {
    let secret = Secret::from_bytes(&[9u8; 20]).unwrap();
    let clock = FixedClock::new(START);
    let a = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryGuard::unbounded(),
        &clock,
        VecSink::default(),
    );
    let record = registered(&a, &secret, START);
    let other = LifecycleConfig::builder().digits(7).build().unwrap();
    let b = Lifecycle::new(other, MemoryGuard::unbounded(), &clock, VecSink::default());
    let now = START + 90;
    clock.set(now);
    let mut copy = record.clone();
    b.verify_transaction(&mut copy, &code(&secret, &other, now))
        .unwrap();
    let mut original = record;
    a.verify_transaction(&mut original, &code(&secret, a.config(), now))
        .unwrap();
}
