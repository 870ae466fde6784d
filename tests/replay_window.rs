//! Replays inside the verification window, and stores that fail.
#![allow(
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use otpguard::replay::ReplayKey;
use otpguard::ClaimError;
use std::sync::atomic::{AtomicUsize, Ordering};

use otpguard::replay::{AsyncReplayGuard, ClaimOutcome, MemoryGuard, ReplayGuard};
use otpguard::{Secret, StoreError, Totp, VerifyError, Window};

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
        Err(VerifyError::Replayed { step, last_accepted }) if step == s && last_accepted == s
    ));
    // The same code a step later is still inside the look-behind: refused.
    assert!(matches!(
        totp.verify_once(&code(s), now + 30, w, guard, ReplayKey::new("tok")),
        Err(VerifyError::Replayed { .. })
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
            Err(e @ VerifyError::Store(_)) => {
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
        Err(VerifyError::Store(_))
    ));
    assert!(matches!(
        totp.verify_once(
            &code,
            7 * 30,
            Window::default(),
            &lossy.0,
            ReplayKey::new("tok")
        ),
        Err(VerifyError::Replayed { .. })
    ));
}

#[test]
fn a_wrong_code_never_reaches_the_store() {
    let totp = totp();
    let broken = Broken::default();
    let wrong = format!("{:06}", (totp.generate_step(3).value() + 1) % 1_000_000);
    assert!(matches!(
        totp.verify_once(&wrong, 90, Window::EXACT, &broken, ReplayKey::new("tok")),
        Err(VerifyError::Mismatch)
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
        assert!(matches!(result, Err(VerifyError::Store(_))), "{result:?}");
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
        Err(VerifyError::Replayed {
            step: 100,
            last_accepted: 100
        })
    ));
}
