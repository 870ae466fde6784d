//! Many threads submit the same valid code for the same token at the same
//! moment: exactly one of them may be accepted.

use otpguard::replay::ReplayKey;
use std::sync::{Arc, Barrier};

use otpguard::replay::MemoryGuard;
use otpguard::{Secret, Totp, Window};

const THREADS: usize = 64;
const TRIALS: u64 = 1_000;

#[test]
fn sixty_four_threads_one_code_exactly_one_acceptance_per_trial() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Arc::new(Totp::builder(&secret).build().unwrap());
    let guard = Arc::new(MemoryGuard::default());
    // Each trial is one time step later, so the same token sees a new valid
    // code each time; the code is computed once, outside the race.
    let codes: Arc<Vec<String>> = Arc::new(
        (0..TRIALS)
            .map(|t| totp.generate_step(1_000 + t).to_string())
            .collect(),
    );
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (totp, guard, codes, start) = (
                Arc::clone(&totp),
                Arc::clone(&guard),
                Arc::clone(&codes),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                let mut accepted = Vec::with_capacity(codes.len());
                for (t, code) in (0u64..).zip(codes.iter()) {
                    let now = (1_000 + t) * 30 + 7;
                    start.wait();
                    let result = totp.verify_once(
                        code,
                        now,
                        Window::default(),
                        &*guard,
                        ReplayKey::new("token-1"),
                    );
                    accepted.push(match result {
                        Ok(a) => {
                            assert_eq!(a.step(), 1_000 + t);
                            true
                        }
                        Err(otpguard::VerifyError::Claim(otpguard::ClaimError::Replayed {
                            step,
                            last_accepted,
                        })) => {
                            assert_eq!((step, last_accepted), (1_000 + t, 1_000 + t));
                            false
                        }
                        Err(e) => panic!("unexpected failure: {e}"),
                    });
                }
                accepted
            })
        })
        .collect();
    let per_thread: Vec<Vec<bool>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut acceptances = vec![0usize; codes.len()];
    for thread in &per_thread {
        for (trial, &won) in thread.iter().enumerate() {
            acceptances[trial] += usize::from(won);
        }
    }
    let total: usize = acceptances.iter().sum();
    println!(
        "memory race: {TRIALS} trials x {THREADS} threads, {total} acceptances, \
         per trial min {} max {}",
        acceptances.iter().min().unwrap(),
        acceptances.iter().max().unwrap()
    );
    for (trial, &n) in acceptances.iter().enumerate() {
        assert_eq!(n, 1, "trial {trial}: {n} acceptances");
    }
}

#[test]
fn sixty_four_threads_racing_an_older_code_after_a_newer_one_all_lose() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Arc::new(Totp::builder(&secret).build().unwrap());
    let guard = Arc::new(MemoryGuard::default());
    let start = Arc::new(Barrier::new(THREADS));
    let trials = 100u64;
    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            let (totp, guard, start) = (Arc::clone(&totp), Arc::clone(&guard), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut wins = 0usize;
                for t in 0..trials {
                    let step = 2_000 + 2 * t;
                    let now = step * 30;
                    let token = format!("token-{t}");
                    if i == 0 {
                        // The newer code (one step ahead) is accepted first.
                        let newer = totp.generate_step(step + 1).to_string();
                        totp.verify_once(
                            &newer,
                            now,
                            Window::default(),
                            &*guard,
                            ReplayKey::new(&token),
                        )
                        .unwrap();
                    }
                    start.wait();
                    let older = totp.generate_step(step).to_string();
                    wins += usize::from(
                        totp.verify_once(
                            &older,
                            now,
                            Window::default(),
                            &*guard,
                            ReplayKey::new(&token),
                        )
                        .is_ok(),
                    );
                    start.wait();
                }
                wins
            })
        })
        .collect();
    let wins: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(wins, 0);
}
