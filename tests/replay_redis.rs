//! The Redis replay guards against a real `redis-server` that each test
//! starts on a free loopback port (see `support/redis_server.rs`). Without
//! `redis-server` installed these tests fail, saying how to install it.
#![cfg(feature = "redis")]
#![allow(clippy::cast_possible_truncation, clippy::unwrap_used)]

mod support;

use otpguard::replay::ReplayKey;
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use otpguard::replay::redis::{AsyncRedisGuard, RedisConfig, RedisGuard};
use otpguard::replay::{AsyncReplayGuard, ClaimOutcome, ReplayGuard};
use otpguard::{ClaimError, Secret, Totp, VerifyError, Window};
use proptest::prelude::*;
use support::redis_server::RedisServer;

const CONNECTIONS: usize = 8;
const TRIALS: u64 = 200;

fn totp() -> Totp {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    Totp::builder(&secret).build().unwrap()
}

fn guard(server: &RedisServer) -> RedisGuard {
    RedisGuard::open(&server.url(), RedisConfig::default()).unwrap()
}

async fn async_guard(
    server: &RedisServer,
    config: RedisConfig,
) -> AsyncRedisGuard<redis::aio::MultiplexedConnection> {
    let connection = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    AsyncRedisGuard::new(connection, config)
}

fn raw(server: &RedisServer) -> redis::Connection {
    server.client().get_connection().unwrap()
}

#[test]
fn claim_compares_and_records() {
    let server = RedisServer::start();
    let g = guard(&server);
    assert_eq!(g.claim("t", 10).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(
        g.claim("t", 10).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 10 }
    );
    assert_eq!(
        g.claim("t", 9).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 10 }
    );
    assert_eq!(g.claim("t", 11).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(g.claim("u", 0).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(
        g.claim("u", 0).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 0 }
    );
    let stored: String = redis::cmd("GET")
        .arg("otpguard:replay:t")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(stored, "11");
}

#[test]
fn steps_beyond_two_to_the_fifty_three_compare_exactly() {
    let server = RedisServer::start();
    let g = guard(&server);
    let big = 1u64 << 53;
    assert_eq!(g.claim("a", big + 1).unwrap(), ClaimOutcome::Fresh);
    // As doubles these are equal; as steps the second is older.
    assert_eq!(
        g.claim("a", big).unwrap(),
        ClaimOutcome::Replayed {
            last_accepted: big + 1
        }
    );
    assert_eq!(g.claim("a", big + 2).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(g.claim("b", u64::MAX - 1).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(
        g.claim("b", u64::MAX - 2).unwrap(),
        ClaimOutcome::Replayed {
            last_accepted: u64::MAX - 1
        }
    );
    assert_eq!(g.claim("b", u64::MAX).unwrap(), ClaimOutcome::Fresh);
    // Different lengths: 999 < 1000 although "999" > "1000" as text.
    assert_eq!(g.claim("c", 1_000).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(
        g.claim("c", 999).unwrap(),
        ClaimOutcome::Replayed {
            last_accepted: 1_000
        }
    );
    // Equal length, differing only in the second 10-digit chunk.
    assert_eq!(
        g.claim("d", 12_345_678_901_234_567_891).unwrap(),
        ClaimOutcome::Fresh
    );
    assert_eq!(
        g.claim("d", 12_345_678_901_234_567_890).unwrap(),
        ClaimOutcome::Replayed {
            last_accepted: 12_345_678_901_234_567_891
        }
    );
}

#[test]
fn eight_connections_racing_one_claim_exactly_one_wins_each_trial() {
    let server = RedisServer::start();
    let totp = Arc::new(totp());
    let start = Arc::new(Barrier::new(CONNECTIONS));
    let racers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            // Each racer has its own guard, hence its own connection, as a
            // separate backend process would.
            let (g, totp, start) = (guard(&server), Arc::clone(&totp), Arc::clone(&start));
            std::thread::spawn(move || {
                (0..TRIALS)
                    .map(|t| {
                        let step = 56_000_000 + t;
                        let code = totp.generate_step(step).to_string();
                        start.wait();
                        match totp.verify_once(
                            &code,
                            step * 30,
                            Window::default(),
                            &g,
                            ReplayKey::new("token-1"),
                        ) {
                            Ok(a) => {
                                assert_eq!(a.step(), step);
                                1usize
                            }
                            Err(VerifyError::Claim(ClaimError::Replayed { .. })) => 0,
                            Err(e) => panic!("{e}: {:?}", std::error::Error::source(&e)),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<usize>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let per_trial: Vec<usize> = (0..TRIALS as usize)
        .map(|t| results.iter().map(|r| r[t]).sum())
        .collect();
    println!(
        "redis race (blocking): {TRIALS} trials x {CONNECTIONS} connections, {} acceptances",
        per_trial.iter().sum::<usize>()
    );
    for (t, &n) in per_trial.iter().enumerate() {
        assert_eq!(n, 1, "trial {t}: {n} acceptances");
    }
}

#[test]
fn eight_connections_racing_an_older_step_after_a_newer_one_all_lose() {
    let server = RedisServer::start();
    let totp = Arc::new(totp());
    let start = Arc::new(Barrier::new(CONNECTIONS));
    let racers: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (g, totp, start) = (guard(&server), Arc::clone(&totp), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut wins = 0usize;
                for t in 0..TRIALS {
                    let step = 57_000_000 + 2 * t;
                    let now = step * 30;
                    if i == 0 {
                        let newer = totp.generate_step(step + 1).to_string();
                        totp.verify_once(
                            &newer,
                            now,
                            Window::default(),
                            &g,
                            ReplayKey::new("token-1"),
                        )
                        .unwrap();
                    }
                    start.wait();
                    let older = totp.generate_step(step).to_string();
                    match totp.verify_once(
                        &older,
                        now,
                        Window::default(),
                        &g,
                        ReplayKey::new("token-1"),
                    ) {
                        Ok(_) => wins += 1,
                        Err(VerifyError::Claim(ClaimError::Replayed { last_accepted, .. })) => {
                            assert!(last_accepted > step);
                        }
                        Err(e) => panic!("{e}"),
                    }
                    start.wait();
                }
                wins
            })
        })
        .collect();
    let wins: usize = racers.into_iter().map(|r| r.join().unwrap()).sum();
    println!("redis race, older after newer: {TRIALS} trials x {CONNECTIONS} connections, {wins} acceptances");
    assert_eq!(wins, 0);
}

#[test]
fn replay_inside_the_window_is_refused() {
    let server = RedisServer::start();
    let g = guard(&server);
    let totp = totp();
    let (s, w) = (55_000_000u64, Window::default());
    let now = s * 30 + 3;
    let code = |step: u64| totp.generate_step(step).to_string();
    assert_eq!(
        totp.verify_once(&code(s), now, w, &g, ReplayKey::new("tok"))
            .unwrap()
            .step(),
        s
    );
    assert!(matches!(
        totp.verify_once(&code(s), now, w, &g, ReplayKey::new("tok")),
        Err(VerifyError::Claim(ClaimError::Replayed { step, last_accepted })) if step == s && last_accepted == s
    ));
    assert!(matches!(
        totp.verify_once(&code(s - 1), now, w, &g, ReplayKey::new("tok")),
        Err(VerifyError::Claim(ClaimError::Replayed { step, last_accepted })) if step == s - 1 && last_accepted == s
    ));
    assert_eq!(
        totp.verify_once(&code(s + 1), now, w, &g, ReplayKey::new("tok"))
            .unwrap()
            .step(),
        s + 1
    );
}

#[test]
fn records_expire_after_the_retention_and_the_prefix_is_used() {
    let server = RedisServer::start();
    let mut con = raw(&server);
    let short = RedisGuard::open(
        &server.url(),
        RedisConfig::default()
            .key_prefix("bank:a:")
            .unwrap()
            .retention(Duration::from_millis(300))
            .unwrap(),
    )
    .unwrap();
    let forever = RedisGuard::open(
        &server.url(),
        RedisConfig::default()
            .key_prefix("bank:b:")
            .unwrap()
            .no_expiry(),
    )
    .unwrap();
    let default = guard(&server);
    short.claim("t", 5).unwrap();
    forever.claim("t", 5).unwrap();
    default.claim("t", 5).unwrap();

    let pttl = |con: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("PTTL").arg(key).query(con).unwrap()
    };
    let ttl = pttl(&mut con, "bank:a:t");
    assert!(ttl > 0 && ttl <= 300, "{ttl}");
    assert_eq!(pttl(&mut con, "bank:b:t"), -1, "no expiry");
    let ttl = pttl(&mut con, "otpguard:replay:t");
    assert!(ttl > 600_000 && ttl <= 660_000, "{ttl}");

    // Prefixes keep guards apart.
    assert_eq!(
        forever.claim("t", 5).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 5 }
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(pttl(&mut con, "bank:a:t"), -2, "the idle record is gone");
    assert_eq!(short.claim("t", 5).unwrap(), ClaimOutcome::Fresh);
    assert_eq!(
        forever.claim("t", 5).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 5 }
    );
    // A replayed claim does not extend the record's life.
    let before = pttl(&mut con, "bank:a:t");
    short.claim("t", 4).unwrap();
    assert!(pttl(&mut con, "bank:a:t") <= before);
}

#[test]
fn a_corrupt_record_is_refused_not_overwritten() {
    let server = RedisServer::start();
    let mut con = raw(&server);
    let g = guard(&server);
    let totp = totp();
    for junk in ["abc", "007", "-1", "", "123456789012345678901", "1.5"] {
        let () = redis::cmd("SET")
            .arg("otpguard:replay:t")
            .arg(junk)
            .query(&mut con)
            .unwrap();
        assert!(g.claim("t", 9).is_err(), "{junk:?}");
        let code = totp.generate_step(9).to_string();
        assert!(matches!(
            totp.verify_once(&code, 9 * 30, Window::default(), &g, ReplayKey::new("t")),
            Err(VerifyError::Claim(ClaimError::Store(_)))
        ));
        let stored: String = redis::cmd("GET")
            .arg("otpguard:replay:t")
            .query(&mut con)
            .unwrap();
        assert_eq!(stored, junk);
    }
}

#[test]
fn a_flushed_script_cache_is_reloaded() {
    let server = RedisServer::start();
    let g = guard(&server);
    assert_eq!(g.claim("t", 1).unwrap(), ClaimOutcome::Fresh);
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut raw(&server))
        .unwrap();
    assert_eq!(
        g.claim("t", 1).unwrap(),
        ClaimOutcome::Replayed { last_accepted: 1 }
    );
    assert_eq!(g.claim("t", 2).unwrap(), ClaimOutcome::Fresh);
}

#[test]
fn a_server_that_is_gone_refuses_valid_codes() {
    let mut server = RedisServer::start();
    let g = guard(&server).timeout(Duration::from_millis(300));
    let totp = totp();
    assert!(g.claim("t", 1).is_ok());
    server.stop();
    for step in 2..5u64 {
        let code = totp.generate_step(step).to_string();
        let result = totp.verify_once(&code, step * 30, Window::default(), &g, ReplayKey::new("t"));
        assert!(
            matches!(result, Err(VerifyError::Claim(ClaimError::Store(_)))),
            "{result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_eight_connections_racing_one_claim_exactly_one_wins_each_trial() {
    let server = RedisServer::start();
    let totp = Arc::new(totp());
    let mut guards = Vec::new();
    for _ in 0..CONNECTIONS {
        guards.push(Arc::new(async_guard(&server, RedisConfig::default()).await));
    }
    let mut total = 0;
    for t in 0..TRIALS {
        let step = 58_000_000 + t;
        let code = Arc::new(totp.generate_step(step).to_string());
        let start = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
        let tasks: Vec<_> = guards
            .iter()
            .map(|g| {
                let (g, totp, code, start) = (
                    Arc::clone(g),
                    Arc::clone(&totp),
                    Arc::clone(&code),
                    Arc::clone(&start),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    totp.verify_once_async(
                        &code,
                        step * 30,
                        Window::default(),
                        &*g,
                        ReplayKey::new("token-1"),
                    )
                    .await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(a) => {
                    assert_eq!(a.step(), step);
                    wins += 1;
                }
                Err(VerifyError::Claim(ClaimError::Replayed { .. })) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(wins, 1, "trial {t}");
        total += wins;
    }
    println!(
        "redis race (async): {TRIALS} trials x {CONNECTIONS} connections, {total} acceptances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_older_after_newer_is_refused_and_the_window_holds() {
    let server = RedisServer::start();
    let g = async_guard(
        &server,
        RedisConfig::default().key_prefix("async:").unwrap(),
    )
    .await;
    let totp = totp();
    let (s, w) = (55_000_000u64, Window::default());
    let now = s * 30;
    let code = |step: u64| totp.generate_step(step).to_string();
    assert_eq!(
        totp.verify_once_async(&code(s), now, w, &g, ReplayKey::new("tok"))
            .await
            .unwrap()
            .step(),
        s
    );
    assert!(matches!(
        totp.verify_once_async(&code(s), now, w, &g, ReplayKey::new("tok"))
            .await,
        Err(VerifyError::Claim(ClaimError::Replayed { .. }))
    ));
    assert!(matches!(
        totp.verify_once_async(&code(s - 1), now, w, &g, ReplayKey::new("tok")).await,
        Err(VerifyError::Claim(ClaimError::Replayed { step, last_accepted })) if step == s - 1 && last_accepted == s
    ));
    assert_eq!(
        totp.verify_once_async(&code(s + 1), now, w, &g, ReplayKey::new("tok"))
            .await
            .unwrap()
            .step(),
        s + 1
    );
    assert_eq!(
        AsyncReplayGuard::claim(&g, "tok", s).await.unwrap(),
        ClaimOutcome::Replayed {
            last_accepted: s + 1
        }
    );
    let mut con = raw(&server);
    let pttl: i64 = redis::cmd("PTTL").arg("async:tok").query(&mut con).unwrap();
    assert!(pttl > 0);
}

#[tokio::test]
async fn async_guard_refuses_when_the_server_is_gone() {
    let mut server = RedisServer::start();
    let g = async_guard(&server, RedisConfig::default()).await;
    let totp = totp();
    assert!(AsyncReplayGuard::claim(&g, "t", 1).await.is_ok());
    server.stop();
    let code = totp.generate_step(2).to_string();
    let result = totp
        .verify_once_async(&code, 60, Window::default(), &g, ReplayKey::new("t"))
        .await;
    assert!(
        matches!(result, Err(VerifyError::Claim(ClaimError::Store(_)))),
        "{result:?}"
    );
}

/// The rule, written plainly.
fn model_claim(model: &mut BTreeMap<String, u64>, token: &str, step: u64) -> ClaimOutcome {
    match model.get(token) {
        Some(&last) if step <= last => ClaimOutcome::Replayed {
            last_accepted: last,
        },
        _ => {
            model.insert(token.to_owned(), step);
            ClaimOutcome::Fresh
        }
    }
}

#[test]
fn redis_guard_agrees_with_the_sequential_model() {
    let server = RedisServer::start();
    let g = Arc::new(guard(&server));
    let case = std::sync::atomic::AtomicU32::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        // No source file to persist failures next to; a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::with_cases(48)
    });
    let ops = proptest::collection::vec(
        (
            0usize..4,
            prop_oneof![0u64..40, Just(u64::MAX), (1u64 << 53)..(1u64 << 53) + 3],
        ),
        1..80,
    );
    runner
        .run(&ops, |ops| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut model = BTreeMap::new();
            let mut accepted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            for (token, step) in ops {
                // A fresh token namespace per case: cases must not see each
                // other's records.
                let name = format!("case{case}-t{token}");
                let got = g.claim(&name, step).unwrap();
                prop_assert_eq!(got, model_claim(&mut model, &name, step));
                if got == ClaimOutcome::Fresh {
                    accepted.entry(name).or_default().push(step);
                }
            }
            for steps in accepted.values() {
                prop_assert!(steps.windows(2).all(|w| w[0] < w[1]));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn keys_are_unambiguous_across_prefixes_and_tokens() {
    let a = RedisConfig::default().key_prefix("bank:").unwrap();
    let b = RedisConfig::default().key_prefix("bank:otp:").unwrap();
    // The pair that named one key before token ids were escaped.
    assert_ne!(a.key("otp:alice"), b.key("alice"));
    // Distinct (prefix, token) pairs never share a key.
    let prefixes = ["p:", "p:a:", "p:a%3A:", "p:%:", "q:"];
    let tokens = ["", "a", "a:", ":a", "a:b", "%", "%3A", "a%3Ab", "a%b"];
    let mut seen = std::collections::HashMap::new();
    for p in prefixes {
        let config = RedisConfig::default().key_prefix(p).unwrap();
        for t in tokens {
            if let Some(other) = seen.insert(config.key(t), (p, t)) {
                panic!("({p:?}, {t:?}) and {other:?} share a key");
            }
        }
    }
    assert!(RedisConfig::default().key_prefix("bank").is_err());
}

#[test]
fn a_retention_redis_cannot_take_is_refused_at_construction() {
    assert!(RedisConfig::default()
        .retention(RedisConfig::MAX_RETENTION)
        .is_ok());
    for absurd in [
        RedisConfig::MAX_RETENTION + Duration::from_millis(1),
        Duration::from_secs(u64::MAX),
        Duration::MAX,
    ] {
        assert!(matches!(
            RedisConfig::default().retention(absurd),
            Err(otpguard::replay::redis::RedisConfigError::Retention { .. })
        ));
    }
}
