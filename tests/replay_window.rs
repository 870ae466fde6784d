//! Replays inside the verification window, and stores that fail.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used)]

use otpguard::replay::ReplayKey;
use otpguard::ClaimError;
use std::sync::atomic::{AtomicUsize, Ordering};

use otpguard::replay::{AsyncReplayGuard, ClaimOutcome, MemoryGuard, ReplayGuard};
use otpguard::{
    Algorithm, CheckError, Hotp, HotpCheckError, HotpVerifyError, Secret, StoreError, Totp,
    VerifyError, Window,
};

fn totp() -> Totp {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    Totp::builder(&secret).build().unwrap()
}

/// At server step `s`, with one step of look-behind and look-ahead: the code
/// of `s` is accepted once, the code of `s - 1` (inside the look-behind) is
/// refused after it, and the code of `s + 1` is accepted.
fn replay_inside_the_window(guard: &dyn ReplayGuard) {
    let totp = totp();
    let s = 55_000_000u64;
    let now = s * 30 + 12;
    let w = Window::default();
    let code = |step: u64| totp.generate_step(step).to_string();

    assert_eq!(
        totp.verify_once(&code(s), now, w, guard, ReplayKey::new("tok"))
            .unwrap()
            .step(),
        s
    );
    assert!(matches!(
        totp.verify_once(&code(s), now, w, guard, ReplayKey::new("tok")),
        Err(VerifyError::Claim(ClaimError::Replayed { step, last_accepted })) if step == s && last_accepted == s
    ));
    // The same code a step later is still inside the look-behind: refused.
    assert!(matches!(
        totp.verify_once(&code(s), now + 30, w, guard, ReplayKey::new("tok")),
        Err(VerifyError::Claim(ClaimError::Replayed { .. }))
    ));
    // The previous step's code still matches, but is older than s.
    let previous = totp.verify(&code(s - 1), now, w).unwrap();
    assert_eq!(previous.step(), s - 1);
    assert!(matches!(
        previous.claim(guard, ReplayKey::new("tok")),
        Err(ClaimError::Replayed { step, last_accepted }) if step == s - 1 && last_accepted == s
    ));
    let next = totp
        .verify_once(&code(s + 1), now, w, guard, ReplayKey::new("tok"))
        .unwrap();
    assert_eq!((next.step(), next.offset()), (s + 1, 1));
    // Another token is unaffected.
    assert!(totp
        .verify_once(&code(s - 1), now, w, guard, ReplayKey::new("other"))
        .is_ok());
}

#[test]
fn memory_guard_refuses_replays_inside_the_window() {
    replay_inside_the_window(&MemoryGuard::default());
    replay_inside_the_window(&MemoryGuard::for_window(Window::default()));
    replay_inside_the_window(&MemoryGuard::unbounded());
}

/// A store that always fails, counting its calls.
#[derive(Debug, Default)]
struct Broken(AtomicUsize);

impl ReplayGuard for Broken {
    fn claim(&self, _: &str, _: u64) -> Result<ClaimOutcome, StoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::with_source(
            "store down",
            std::io::Error::other("connection reset"),
        ))
    }
}

impl AsyncReplayGuard for Broken {
    async fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        ReplayGuard::claim(self, token, step)
    }
}

/// A store that records the claim and then loses the reply: the outcome is
/// unknown to the caller, so the code must be refused even though the
/// record was written.
#[derive(Debug, Default)]
struct RecordsThenFails(MemoryGuard);

impl ReplayGuard for RecordsThenFails {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        self.0.claim(token, step)?;
        Err(StoreError::new("reply lost"))
    }
}

#[test]
fn a_failing_store_refuses_every_valid_code() {
    let totp = totp();
    let broken = Broken::default();
    for step in 1..=50u64 {
        let code = totp.generate_step(step).to_string();
        let result = totp.verify_once(
            &code,
            step * 30,
            Window::default(),
            &broken,
            ReplayKey::new("tok"),
        );
        match result {
            Err(e @ VerifyError::Claim(ClaimError::Store(_))) => {
                assert!(!e.is_wrong_code());
                assert!(std::error::Error::source(&e).is_some());
            }
            other => panic!("step {step}: expected a store refusal, got {other:?}"),
        }
    }
    assert_eq!(broken.0.load(Ordering::SeqCst), 50);

    let lossy = RecordsThenFails::default();
    let code = totp.generate_step(7).to_string();
    assert!(matches!(
        totp.verify_once(
            &code,
            7 * 30,
            Window::default(),
            &lossy,
            ReplayKey::new("tok")
        ),
        Err(VerifyError::Claim(ClaimError::Store(_)))
    ));
    assert!(matches!(
        totp.verify_once(
            &code,
            7 * 30,
            Window::default(),
            &lossy.0,
            ReplayKey::new("tok")
        ),
        Err(VerifyError::Claim(ClaimError::Replayed { .. }))
    ));
}

#[test]
fn a_wrong_code_never_reaches_the_store() {
    let totp = totp();
    let broken = Broken::default();
    let wrong = format!("{:06}", (totp.generate_step(3).value() + 1) % 1_000_000);
    assert!(matches!(
        totp.verify_once(&wrong, 90, Window::EXACT, &broken, ReplayKey::new("tok")),
        Err(VerifyError::Check(CheckError::Mismatch))
    ));
    assert_eq!(broken.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_async_store_refuses_every_valid_code() {
    let totp = totp();
    let broken = Broken::default();
    for step in 1..=20u64 {
        let code = totp.generate_step(step).to_string();
        let result = totp
            .verify_once_async(
                &code,
                step * 30,
                Window::default(),
                &broken,
                ReplayKey::new("tok"),
            )
            .await;
        assert!(
            matches!(result, Err(VerifyError::Claim(ClaimError::Store(_)))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn memory_guard_works_as_an_async_guard() {
    let totp = totp();
    let guard = MemoryGuard::default();
    let code = totp.generate_step(100).to_string();
    let first = totp
        .verify_once_async(&code, 3_000, Window::default(), &guard, ReplayKey::new("t"))
        .await;
    let second = totp
        .verify_once_async(&code, 3_000, Window::default(), &guard, ReplayKey::new("t"))
        .await;
    assert_eq!(first.unwrap().step(), 100);
    assert!(matches!(
        second,
        Err(VerifyError::Claim(ClaimError::Replayed {
            step: 100,
            last_accepted: 100
        }))
    ));
}

/// A replay through the one-call verification is a claim error: a replay
/// (`is_replay`), never a wrong code (`is_wrong_code`, which counts towards
/// a lock-out), as in the lifecycle. A code that does not match is the
/// reverse; a failed store is neither.
#[test]
fn a_replay_is_a_claim_error_and_not_a_wrong_code() {
    let totp = totp();
    let guard = MemoryGuard::default();
    let code = totp.generate_step(10).to_string();
    let verify =
        |code: &str| totp.verify_once(code, 300, Window::default(), &guard, ReplayKey::new("t"));
    assert_eq!(verify(&code).unwrap().step(), 10);

    let replay = verify(&code).unwrap_err();
    assert!(
        matches!(
            replay,
            VerifyError::Claim(ClaimError::Replayed {
                step: 10,
                last_accepted: 10
            })
        ),
        "{replay:?}"
    );
    assert!(replay.is_replay());
    assert!(!replay.is_wrong_code());
    assert!(replay.to_string().contains("already accepted"), "{replay}");

    let wrong = format!("{:06}", (totp.generate_step(10).value() + 1) % 1_000_000);
    let mismatch = verify(&wrong).unwrap_err();
    assert!(matches!(mismatch, VerifyError::Check(CheckError::Mismatch)));
    assert!(mismatch.is_wrong_code());
    assert!(!mismatch.is_replay());
    assert!(
        mismatch.to_string().contains("does not match"),
        "{mismatch}"
    );

    let malformed = verify("12345").unwrap_err();
    assert!(matches!(
        malformed,
        VerifyError::Check(CheckError::Malformed { expected: 6 })
    ));
    assert!(malformed.is_wrong_code() && !malformed.is_replay());

    let store = totp
        .verify_once(
            &code,
            300,
            Window::default(),
            &Broken::default(),
            ReplayKey::new("t"),
        )
        .unwrap_err();
    assert!(!store.is_wrong_code() && !store.is_replay());

    let not_yet = Totp::builder(&Secret::from_bytes(&[1; 20]).unwrap())
        .t0(1_000)
        .build()
        .unwrap();
    let early = not_yet
        .verify_once(&code, 10, Window::default(), &guard, ReplayKey::new("u"))
        .unwrap_err();
    assert!(matches!(early, VerifyError::Check(CheckError::Time(_))));
    assert!(!early.is_wrong_code() && !early.is_replay());
}

/// HOTP's one-call verification follows the same rule, with its own error
/// type: a replay is `HotpVerifyError::Claim`, a wrong code
/// `HotpVerifyError::Check`, and neither can be a time error.
#[test]
fn an_hotp_replay_is_a_claim_error_and_not_a_wrong_code() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let hotp = Hotp::new(&secret, Algorithm::Sha1, 6).unwrap();
    let guard = MemoryGuard::unbounded();
    let window = Window::new(0, 10).unwrap();
    let verify = |code: &str| hotp.verify_once(code, 3, window, &guard, ReplayKey::new("t"));
    assert_eq!(verify("520489").unwrap().step(), 9);

    let replay = verify("520489").unwrap_err();
    assert!(matches!(
        replay,
        HotpVerifyError::Claim(ClaimError::Replayed {
            step: 9,
            last_accepted: 9
        })
    ));
    assert!(replay.is_replay() && !replay.is_wrong_code());

    let mismatch = verify("000000").unwrap_err();
    assert!(matches!(
        mismatch,
        HotpVerifyError::Check(HotpCheckError::Mismatch)
    ));
    assert!(mismatch.is_wrong_code() && !mismatch.is_replay());
    assert!(
        mismatch.to_string().contains("does not match"),
        "{mismatch}"
    );

    // Even at the last counter, where a window would run past `u64::MAX`,
    // HOTP has no time to fail on: only the code can be wrong.
    let at_the_end = hotp.verify("000000", u64::MAX, Window::new(10, 10).unwrap());
    assert!(matches!(at_the_end, Err(HotpCheckError::Mismatch)));
}
