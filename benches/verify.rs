//! Stateless verification over windows of ±0, ±1, ±2 and ±5 steps, one
//! criterion group per window, so each group shows side by side:
//!
//! - `otpguard/correct_at_{k}`: the right code of step `center + k`;
//! - `otpguard/wrong`: a code that matches no step in the window;
//! - `totp-rs/wrong`, `totp-rs/correct_at_0`: totp-rs 6 `check` with the
//!   same skew, secret and time (it stops at the first match, so only its
//!   `wrong` figure does the full window);
//! - `floor/wrong`: the same window on raw SHA-1 block compressions from
//!   precomputed states (see `support/floor.rs`).
//!
//! And `resync_pm100`: [`Totp::verify_pair`] over ±100 steps (a pair at
//! either edge, a wrong pair) beside the floor computing the ±100 window
//! once.
//!
//! `cargo bench --bench verify`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use otpguard::CheckError;
use std::hint::black_box;

use criterion::measurement::{Measurement, WallTime};
use criterion::Criterion;
use otpguard::{Secret, Totp, Window};
use support::clock::ThreadCpuTime;
use support::floor::Sha1Floor;
use support::{PERIOD, SECRET_SHA1, TIME};

/// A 6-digit code that no step in `center - skew ..= center + skew` produces.
fn wrong_code(totp: &Totp, skew: u32) -> String {
    let window = Window::new(skew, skew).unwrap();
    let near = totp.generate(TIME).unwrap().value();
    (1..)
        .map(|d| format!("{:06}", (near + d) % 1_000_000))
        .find(|code| matches!(totp.verify(code, TIME, window), Err(CheckError::Mismatch)))
        .unwrap()
}

fn verify<M: Measurement>(c: &mut Criterion<M>) {
    let secret = Secret::from_bytes(SECRET_SHA1).unwrap();
    let totp = Totp::builder(&secret).period(PERIOD).build().unwrap();
    let floor = Sha1Floor::new(SECRET_SHA1);
    let center = totp.step_at(TIME).unwrap();

    for skew in [0u32, 1, 2, 5] {
        let window = Window::new(skew, skew).unwrap();
        let wrong = wrong_code(&totp, skew);
        let rs = totp_rs::Builder::new()
            .with_secret(SECRET_SHA1.to_vec())
            .with_step_duration(PERIOD)
            .with_skew(u16::try_from(skew).unwrap())
            .build()
            .unwrap();
        let current = totp.generate(TIME).unwrap().to_string();
        assert_eq!(rs.check(&wrong, TIME), None);
        assert_eq!(rs.check(&current, TIME), Some(center));
        assert_eq!(floor.verify(&wrong, center, u64::from(skew)), None);

        let mut group = c.benchmark_group(format!("verify_pm{skew}"));
        group.bench_function("otpguard/wrong", |b| {
            b.iter(|| totp.verify(black_box(&wrong), black_box(TIME), black_box(window)));
        });
        let skew_i = i64::from(skew);
        for k in -skew_i..=skew_i {
            let code = totp
                .generate_step(center.checked_add_signed(k).unwrap())
                .to_string();
            assert_eq!(totp.verify(&code, TIME, window).unwrap().offset(), k);
            assert_eq!(
                floor.verify(&code, center, u64::from(skew)),
                center.checked_add_signed(k)
            );
            group.bench_function(format!("otpguard/correct_at_{k:+}"), |b| {
                b.iter(|| totp.verify(black_box(&code), black_box(TIME), black_box(window)));
            });
        }
        group.bench_function("totp-rs/wrong", |b| {
            b.iter(|| rs.check(black_box(&wrong), black_box(TIME)));
        });
        group.bench_function("totp-rs/correct_at_0", |b| {
            b.iter(|| rs.check(black_box(&current), black_box(TIME)));
        });
        group.bench_function("floor/wrong", |b| {
            b.iter(|| {
                // The period is configuration, not a constant, for every
                // verifier; the floor divides by it at run time too.
                floor.verify(
                    black_box(&wrong),
                    black_box(TIME) / black_box(PERIOD),
                    black_box(u64::from(skew)),
                )
            });
        });
        group.finish();
    }

    // Resynchronisation: two consecutive codes looked for over ±100 steps
    // (2·100 + 2 codes computed, each compared with both inputs), against
    // the floor computing 201 codes of a ±100 window on raw compressions.
    const RADIUS: u32 = 100;
    let pair_at = |rel: i64| {
        let later = center.checked_add_signed(rel).unwrap();
        (
            totp.generate_step(later - 1).to_string(),
            totp.generate_step(later).to_string(),
        )
    };
    let wrong = wrong_code(&totp, 10);
    let mut group = c.benchmark_group("resync_pm100");
    for rel in [-100i64, 100] {
        let (first, second) = pair_at(rel);
        assert_eq!(
            totp.verify_pair(&first, &second, TIME, RADIUS)
                .unwrap()
                .offset(),
            rel
        );
        group.bench_function(format!("otpguard/pair_at_{rel:+}"), |b| {
            b.iter(|| {
                totp.verify_pair(
                    black_box(&first),
                    black_box(&second),
                    black_box(TIME),
                    RADIUS,
                )
            });
        });
    }
    group.bench_function("otpguard/pair_wrong", |b| {
        b.iter(|| {
            totp.verify_pair(
                black_box(&wrong),
                black_box(&wrong),
                black_box(TIME),
                RADIUS,
            )
        });
    });
    group.bench_function("floor/window_pm100", |b| {
        b.iter(|| {
            floor.verify(
                black_box(&wrong),
                black_box(TIME) / black_box(PERIOD),
                black_box(u64::from(RADIUS)),
            )
        });
    });
    group.finish();
}

fn main() {
    support::clock::main(verify::<ThreadCpuTime>, verify::<WallTime>);
}
