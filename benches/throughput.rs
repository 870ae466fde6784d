//! Throughput of the stateless path plus replay protection: for each of
//! 100,000 tokens (each with its own secret), verify the token's current code
//! with a ±1 window and claim the matched step on one shared in-memory
//! [`MemoryGuard`]. One criterion iteration is a new time step for all
//! tokens, so every claim is fresh. Compared: the tokens split over 1 and 2
//! threads.
//!
//! Two groups. `throughput_100k_tokens` reads the wall clock: the real
//! throughput, which only scales with threads if two cores are free.
//! `throughput_100k_tokens_cpu` reads the process's CPU time (both threads
//! summed): the work per token. If that stays flat from 1 to 2 threads the
//! threads do not get in each other's way (no lock contention, no shared
//! cache lines), and on two free cores the wall-clock throughput doubles;
//! on a busy shared machine the wall figure mostly shows the neighbours.
//!
//! `cargo bench --bench throughput`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use otpguard::replay::ReplayKey;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otpguard::replay::MemoryGuard;
use otpguard::{Secret, Totp, Window};
use support::{PERIOD, TIME};

const TOKENS: usize = 100_000;

struct Token {
    id: String,
    totp: Totp,
}

fn tokens() -> Vec<Token> {
    (0..TOKENS)
        .map(|i| {
            let mut key = [0u8; 20];
            key[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let secret = Secret::from_bytes(&key).unwrap();
            Token {
                id: format!("token-{i:06}"),
                totp: Totp::builder(&secret).period(PERIOD).build().unwrap(),
            }
        })
        .collect()
}

/// Verifies and claims `codes[i]` for `tokens[i]`, all at time `now`.
fn run(tokens: &[Token], codes: &[[u8; 6]], guard: &MemoryGuard, now: u64) {
    for (token, code) in tokens.iter().zip(codes) {
        let code = std::str::from_utf8(code).unwrap();
        let accepted = token.totp.verify_once(
            code,
            now,
            Window::default(),
            guard,
            ReplayKey::new(&token.id),
        );
        assert!(accepted.is_ok());
        black_box(accepted.ok());
    }
}

/// Which clock a throughput figure is read from.
#[derive(Clone, Copy)]
enum Clock {
    /// Elapsed time: the throughput a caller sees, if the cores are free.
    Wall,
    /// CPU time of the whole process, all threads summed: the work done per
    /// token, whatever else runs on the machine.
    ProcessCpu,
}

fn throughput(c: &mut Criterion) {
    let tokens = tokens();
    let guard = MemoryGuard::default();
    let mut codes = vec![[0u8; 6]; TOKENS];
    // Three time steps per iteration, continuing across every benchmark, so
    // that every claim is newer than the last one accepted even when a code
    // equals its next step's code too (one chance in 10^6 per token and
    // step) and matches as that later step.
    let mut step = TIME / PERIOD;
    for (name, clock) in [
        ("throughput_100k_tokens", Clock::Wall),
        ("throughput_100k_tokens_cpu", Clock::ProcessCpu),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(TOKENS as u64));
        group.sample_size(10);
        for threads in [1usize, 2] {
            group.bench_function(format!("threads/{threads}"), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        step += 3;
                        let now = step * PERIOD;
                        for (code, token) in codes.iter_mut().zip(&tokens) {
                            let shown = token.totp.generate(now).unwrap().to_string();
                            code.copy_from_slice(shown.as_bytes());
                        }
                        let chunk = TOKENS.div_ceil(threads);
                        let (wall, cpu) = (Instant::now(), ProcessTime::now());
                        std::thread::scope(|s| {
                            for (tokens, codes) in tokens.chunks(chunk).zip(codes.chunks(chunk)) {
                                let guard = &guard;
                                s.spawn(move || run(tokens, codes, guard, now));
                            }
                        });
                        spent += match clock {
                            Clock::Wall => wall.elapsed(),
                            Clock::ProcessCpu => cpu.elapsed(),
                        };
                    }
                    spent
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
