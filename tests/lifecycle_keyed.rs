//! A token's keyed secret is kept between codes, but only ever used with
//! the TOTP parameters it was keyed with: one record, checked by
//! lifecycles whose profiles differ (over the same store), is verified with
//! each one's own parameters, whichever profile keyed it first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use otpguard::lifecycle::{
    Actor, Authorized, CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError,
    MemoryStore, NewSecret, Principal, RequestContext, State, TokenSerial,
};
use otpguard::{Algorithm, Clock, FixedClock, Secret, Totp, TotpParams};

const START: u64 = 1_700_000_010;

type Lc<'a> = Lifecycle<&'a MemoryStore, &'a FixedClock>;

fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

fn customer() -> CustomerId {
    CustomerId::new("c-1").unwrap()
}

fn code(secret: &Secret, params: TotpParams, now: u64) -> String {
    Totp::new(secret, params).generate(now).unwrap().to_string()
}

fn verify(lc: &Lc<'_>, code: &str) -> Result<Authorized, LifecycleError> {
    lc.blocking()
        .verify_transaction(&customer(), &web(), code, &RequestContext::new())
}

fn register(lc: &Lc<'_>, secret: &Secret, now: u64) {
    let applied = lc
        .blocking()
        .submit(
            &customer(),
            &web(),
            Event::Register {
                serial: TokenSerial::new("SN-1").unwrap(),
                secret: NewSecret::Given(secret.clone()),
                code: code(secret, lc.config().totp(), now).as_str().into(),
            },
            &RequestContext::new(),
        )
        .unwrap();
    assert_eq!(applied.to, State::Active);
}

fn is_wrong_code(result: Result<Authorized, LifecycleError>) -> bool {
    matches!(result, Err(LifecycleError::WrongCode { .. }))
}

/// Each case differs from the default profile in one parameter.
fn others() -> Vec<TotpParams> {
    let d = TotpParams::default();
    vec![
        TotpParams::new(d.algorithm(), 8, d.period(), d.t0()).unwrap(),
        TotpParams::new(d.algorithm(), d.digits(), 60, d.t0()).unwrap(),
        TotpParams::new(d.algorithm(), d.digits(), d.period(), 300).unwrap(),
        TotpParams::new(Algorithm::Sha256, d.digits(), d.period(), d.t0()).unwrap(),
    ]
}

fn config(params: TotpParams) -> LifecycleConfig {
    LifecycleConfig::builder().totp(params).build().unwrap()
}

/// Moves the clock at least `gap` seconds on, and far enough that a code of
/// `params` is for a later step than the record's last accepted one (the
/// record keeps one step number, whichever profile accepted it).
fn move_on(clock: &FixedClock, store: &MemoryStore, params: TotpParams, gap: u64) {
    let last = store.snapshot(&customer()).unwrap().last_step().unwrap();
    let first_later = params.t0() + (last + 2) * params.period();
    clock.set((clock.now() + gap).max(first_later));
}

/// `lc` refuses the code of the `wrong` profile and accepts its own.
fn refuses_the_other_accepts_its_own(lc: &Lc<'_>, secret: &Secret, wrong: TotpParams, now: u64) {
    let own = lc.config().totp();
    let under_own = code(secret, own, now);
    let under_wrong = code(secret, wrong, now);
    assert_ne!(
        under_own, under_wrong,
        "{own:?} / {wrong:?}: the profiles must disagree here"
    );
    assert!(is_wrong_code(verify(lc, &under_wrong)), "{own:?}");
    let proof = verify(lc, &under_own).unwrap_or_else(|e| panic!("{own:?}: {e}"));
    assert_eq!(proof.step(), Totp::new(secret, own).step_at(now).unwrap());
}

#[test]
fn a_record_keyed_by_one_lifecycle_is_verified_with_another_ones_parameters() {
    let secret = Secret::from_bytes(&[7u8; 32]).unwrap();
    let default = TotpParams::default();
    for other in others() {
        let clock = FixedClock::new(START);
        let store = MemoryStore::new();
        let a = Lifecycle::new(config(default), &store, &clock);
        let b = Lifecycle::new(config(other), &store, &clock);
        // Registered, and so keyed, by `a`.
        register(&a, &secret, START);

        // `b` refuses the code of `a`'s profile and accepts its own.
        move_on(&clock, &store, other, 120);
        refuses_the_other_accepts_its_own(&b, &secret, default, clock.now());

        // Back to `a`: its own profile again, not the one `b` used last.
        move_on(&clock, &store, default, 240);
        refuses_the_other_accepts_its_own(&a, &secret, other, clock.now());

        // And `b` once more, after `a` used its kept key.
        move_on(&clock, &store, other, 240);
        refuses_the_other_accepts_its_own(&b, &secret, default, clock.now());
        assert_eq!(store.snapshot(&customer()).unwrap().failures(), 0);
    }
}

#[test]
fn a_record_first_keyed_by_another_profile_still_fits_each_lifecycle() {
    let secret = Secret::from_bytes(&[9u8; 20]).unwrap();
    let seven = TotpParams::new(Algorithm::Sha1, 7, 30, 0).unwrap();
    let clock = FixedClock::new(START);
    let store = MemoryStore::new();
    let a = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let b = Lifecycle::new(config(seven), &store, &clock);
    // Keyed first by the seven-digit profile.
    register(&b, &secret, START);
    for round in 0..3 {
        clock.advance(90);
        let now = clock.now();
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let proof = verify(first, &code(&secret, first.config().totp(), now)).unwrap();
        assert_eq!(proof.step(), now / 30);
        clock.advance(30);
        let now = clock.now();
        let proof = verify(second, &code(&secret, second.config().totp(), now)).unwrap();
        assert_eq!(proof.step(), now / 30);
    }
    let log = store.audit().take();
    assert_eq!(log.len(), 7);
    assert!(log.iter().all(|r| r.principal.actor() == Actor::Customer));
}
