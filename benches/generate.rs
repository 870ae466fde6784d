//! Generation of one code: otpguard beside totp-rs (same secret, same time)
//! and beside the raw-compression floor for SHA-1.
//!
//! `cargo bench --bench generate`

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
use criterion::Criterion;
use otpguard::{Algorithm, Secret, Totp};
use support::clock::ThreadCpuTime;
use support::floor::Sha1Floor;
use support::{PERIOD, SECRET_SHA1, SECRET_SHA256, SECRET_SHA512, TIME};

fn generate<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("generate");
    let cases: [(Algorithm, totp_rs::Algorithm, &[u8]); 3] = [
        (Algorithm::Sha1, totp_rs::Algorithm::SHA1, SECRET_SHA1),
        (Algorithm::Sha256, totp_rs::Algorithm::SHA256, SECRET_SHA256),
        (Algorithm::Sha512, totp_rs::Algorithm::SHA512, SECRET_SHA512),
    ];
    for (ours, theirs, key) in cases {
        let secret = Secret::from_bytes(key).unwrap();
        let totp = Totp::builder(&secret).algorithm(ours).build().unwrap();
        let rs = totp_rs::Builder::new()
            .with_algorithm(theirs)
            .with_secret(key.to_vec())
            .with_step_duration(PERIOD)
            .build()
            .unwrap();
        // Both must produce the same code, or the comparison means nothing.
        assert_eq!(
            totp.generate(TIME).unwrap().to_string(),
            rs.generate(TIME).to_string()
        );
        group.bench_function(format!("otpguard/{ours}"), |b| {
            b.iter(|| totp.generate(black_box(TIME)));
        });
        group.bench_function(format!("totp-rs/{ours}"), |b| {
            b.iter(|| rs.generate(black_box(TIME)));
        });
    }
    let floor = Sha1Floor::new(SECRET_SHA1);
    group.bench_function("floor/SHA1", |b| {
        b.iter(|| floor.code(black_box(TIME) / black_box(PERIOD)));
    });
    group.finish();
}

fn main() {
    support::clock::main(generate::<ThreadCpuTime>, generate::<WallTime>);
}
