//! The full stateful path beside the stateless one, with a ±1 window and
//! the right code of the current step each time (new steps every
//! iteration, so every replay claim is fresh):
//!
//! - `stateless/verify`: [`Totp::verify`] alone;
//! - `stateless/verify+claim`: verify, then [`Match::claim`] on the
//!   in-memory guard;
//! - `lifecycle/verify_transaction`: [`Lifecycle::verify_transaction`] on a
//!   registered token: state check against the transition table, window
//!   match with the key the record's token has kept since registration,
//!   replay claim on the in-memory guard, the record's bookkeeping and one
//!   audit record to a sink that discards it.
//!
//! Each iteration also sets the clock (one atomic store, in all three).
//!
//! `cargo bench --bench stateful`
//!
//! [`Match::claim`]: otpguard::Match::claim
//! [`Lifecycle::verify_transaction`]: otpguard::lifecycle::Lifecycle::verify_transaction

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::hint::black_box;

use criterion::measurement::{Measurement, WallTime};
use criterion::{BatchSize, Criterion};
use otpguard::lifecycle::{
    Actor, AuditRecord, Event, FnSink, Lifecycle, LifecycleConfig, TokenRecord, TokenSerial,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Clock, FixedClock, Secret, Totp, Window};
use support::clock::ThreadCpuTime;
use support::{PERIOD, SECRET_SHA1, TIME};

/// A later time and its code, made outside the measured routine. Three
/// steps on, not one: a code that happens to equal the next step's code too
/// (one chance in 10^6 per step) matches as that later step, and the next
/// claim must still be newer.
fn next_code(totp: &Totp, time: &mut u64) -> (u64, String) {
    *time += 3 * PERIOD;
    (*time, totp.generate(*time).unwrap().to_string())
}

fn stateful<M: Measurement>(c: &mut Criterion<M>) {
    let secret = Secret::from_bytes(SECRET_SHA1).unwrap();
    let totp = Totp::builder(&secret).period(PERIOD).build().unwrap();
    let window = Window::default();
    let clock = FixedClock::new(TIME);
    let guard = MemoryGuard::default();
    let lifecycle = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryGuard::default(),
        &clock,
        FnSink(|r: &AuditRecord| {
            black_box(r);
        }),
    );
    assert_eq!(lifecycle.config().window(), window);
    let mut record = TokenRecord::new();
    lifecycle
        .apply(
            &mut record,
            Actor::Customer,
            Event::Register {
                serial: TokenSerial::new("SN-0001").unwrap(),
                secret: secret.clone(),
                code: &totp.generate(clock.now()).unwrap().to_string(),
            },
        )
        .unwrap();

    let mut group = c.benchmark_group("stateful_pm1");
    let mut time = TIME;
    group.bench_function("stateless/verify", |b| {
        b.iter_batched(
            || next_code(&totp, &mut time),
            |(now, code)| {
                clock.set(now);
                let m = totp.verify(&code, clock.now(), window);
                assert!(m.is_ok());
                (code, m)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("stateless/verify+claim", |b| {
        b.iter_batched(
            || next_code(&totp, &mut time),
            |(now, code)| {
                clock.set(now);
                let accepted = totp
                    .verify(&code, clock.now(), window)
                    .and_then(|m| m.claim(&guard, "SN-0001"));
                assert!(accepted.is_ok(), "{accepted:?}");
                (code, accepted)
            },
            BatchSize::SmallInput,
        );
    });
    // --- The full stateful path: lifecycle state check + verify + replay
    // claim (the lifecycle module's one verification path).
    group.bench_function("lifecycle/verify_transaction", |b| {
        b.iter_batched(
            || next_code(&totp, &mut time),
            |(now, code)| {
                clock.set(now);
                let accepted = lifecycle.verify_transaction(&mut record, &code);
                assert!(accepted.is_ok(), "{accepted:?}");
                (code, accepted)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn main() {
    support::clock::main(stateful::<ThreadCpuTime>, stateful::<WallTime>);
}
