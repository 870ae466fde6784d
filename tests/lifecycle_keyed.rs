//! A token keeps the TOTP profile it was bound with: its phone shows codes
//! for that profile, and its last accepted step counts that profile's
//! steps. One record, checked by lifecycles whose settings differ (over the
//! same store, as during a rolling change of settings), is always verified
//! with its own profile, whichever lifecycle checks it; tokens bound after
//! the change get the new profile.

#![allow(clippy::unwrap_used, clippy::panic)]

use otpguard::lifecycle::{
    rules::Actor, Authorized, Claimed, CustomerId, Event, Label, Lifecycle, LifecycleConfig,
    LifecycleError, MemoryStore, NewSecret, Principal, RequestContext, State, TokenSerial,
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

/// `lc` accepts the code of the token's own profile `own` and refuses the
/// code of the lifecycle's other profile `wrong`.
fn checks_with_the_tokens_profile(
    lc: &Lc<'_>,
    secret: &Secret,
    own: TotpParams,
    wrong: TotpParams,
    now: u64,
) {
    let under_own = code(secret, own, now);
    let under_wrong = code(secret, wrong, now);
    assert_ne!(
        under_own, under_wrong,
        "{own:?} / {wrong:?}: the profiles must disagree here"
    );
    assert!(is_wrong_code(verify(lc, &under_wrong)), "{own:?}");
    let proof = verify(lc, &under_own).unwrap_or_else(|e| panic!("{own:?}: {e}"));
    assert_eq!(
        proof.claimed(),
        Claimed::TotpStep(Totp::new(secret, own).step_at(now).unwrap())
    );
}

#[test]
fn a_token_is_checked_with_the_profile_it_was_bound_with() {
    let secret = Secret::from_bytes(&[7u8; 32]).unwrap();
    let default = TotpParams::default();
    for other in others() {
        let clock = FixedClock::new(START);
        let store = MemoryStore::new();
        let a = Lifecycle::new(config(default), &store, &clock);
        let b = Lifecycle::new(config(other), &store, &clock);
        // Bound by `a`, with `a`'s profile.
        register(&a, &secret, START);
        let record = store.snapshot(&customer()).unwrap();
        assert_eq!(record.totp_params(), Some(default));

        // `b`, whose settings differ, checks it with the token's profile
        // and refuses a code of its own settings; so does `a`, in turn.
        for (n, lc) in [&b, &a, &b].into_iter().enumerate() {
            clock.advance(120 + 60 * n as u64);
            checks_with_the_tokens_profile(lc, &secret, default, other, clock.now());
        }
        assert_eq!(store.snapshot(&customer()).unwrap().failures(), 0);
    }
}

#[test]
fn a_change_of_period_never_turns_genuine_codes_into_replays() {
    // Step numbers of a 60-second profile are half those of a 30-second
    // one: compared across profiles, every genuine code would look old.
    let secret = Secret::from_bytes(&[5u8; 20]).unwrap();
    let sixty = TotpParams::new(Algorithm::Sha1, 6, 60, 0).unwrap();
    let clock = FixedClock::new(START);
    let store = MemoryStore::new();
    let a = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let b = Lifecycle::new(config(sixty), &store, &clock);
    register(&a, &secret, START);
    clock.advance(3600);
    let proof = verify(&b, &code(&secret, TotpParams::default(), clock.now())).unwrap();
    assert_eq!(proof.claimed().value(), clock.now() / 30);
}

#[test]
fn tokens_bound_after_a_change_get_the_new_profile() {
    let secret = Secret::from_bytes(&[9u8; 20]).unwrap();
    let seven = TotpParams::new(Algorithm::Sha1, 7, 30, 0).unwrap();
    let clock = FixedClock::new(START);
    let store = MemoryStore::new();
    let a = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let b = Lifecycle::new(config(seven), &store, &clock);
    // Bound by the seven-digit lifecycle: seven digits from then on, for
    // both lifecycles.
    register(&b, &secret, START);
    assert_eq!(
        store.snapshot(&customer()).unwrap().totp_params(),
        Some(seven)
    );
    for round in 0..3 {
        clock.advance(90);
        let now = clock.now();
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let proof = verify(first, &code(&secret, seven, now)).unwrap();
        assert_eq!(proof.claimed().value(), now / 30);
        clock.advance(30);
        let now = clock.now();
        let proof = verify(second, &code(&secret, seven, now)).unwrap();
        assert_eq!(proof.claimed().value(), now / 30);
    }
    let log = store.audit().take();
    assert_eq!(log.len(), 7);
    assert!(log.iter().all(|r| r.principal.actor() == Actor::Customer));
}

#[test]
fn a_provisioned_secret_is_bound_with_the_profile_its_key_uri_carries() {
    let eight = TotpParams::new(Algorithm::Sha1, 8, 30, 0).unwrap();
    let clock = FixedClock::new(START);
    let store = MemoryStore::new();
    let a = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let b = Lifecycle::new(config(eight), &store, &clock);
    // The phone is set up by `a`'s Key URI (six digits) ...
    let uri = a
        .blocking()
        .provision(&customer(), &web(), "alice", &RequestContext::new())
        .unwrap();
    let phone = otpguard::KeyUri::parse(&uri.to_uri())
        .unwrap()
        .to_totp()
        .unwrap();
    assert_eq!(phone.params(), TotpParams::default());
    // ... and registers through `b`, whose settings changed meanwhile: the
    // token keeps the profile the phone was given.
    let first = phone.generate(clock.now()).unwrap().to_string();
    b.blocking()
        .submit(
            &customer(),
            &web(),
            Event::Register {
                serial: TokenSerial::new("SN-P").unwrap(),
                secret: otpguard::lifecycle::NewSecret::Provisioned,
                code: first.as_str().into(),
            },
            &RequestContext::new(),
        )
        .unwrap();
    assert_eq!(
        store.snapshot(&customer()).unwrap().totp_params(),
        Some(TotpParams::default())
    );
}
