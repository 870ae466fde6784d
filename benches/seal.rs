//! What every verification after a load pays when secrets are sealed at
//! rest: check the record's tag (GMAC over its bytes), open the token's
//! sealed secret (AES-256-GCM) and key its HMAC. Beside it, the parts
//! alone. Target: under 1 µs.
//!
//! `cargo bench --bench seal --features seal`

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
use otpguard::lifecycle::{store::TokenId, CustomerId};
use otpguard::seal::{KeyId, Keyring, Purpose, SealContext, Sealer};
use otpguard::{Secret, Totp, TotpParams};
use support::clock::ThreadCpuTime;
use support::SECRET_SHA1;

fn seal<M: Measurement>(c: &mut Criterion<M>) {
    let ring = Keyring::new(KeyId(1), &[0x42; 32]);
    let customer = CustomerId::new("c-0001").unwrap();
    let here = SealContext::new(
        &customer,
        Some(TokenId::from_bytes([7; 16])),
        Purpose::Current,
    );
    let secret = Secret::from_bytes(SECRET_SHA1).unwrap();
    let sealed = ring.seal(&secret, &here).unwrap();

    // A sealed record with a token is about 300 bytes.
    let record = [0x5a_u8; 300];
    let tag = ring.tag(&record, &customer).unwrap();

    let mut group = c.benchmark_group("seal");
    group.bench_function("tag+open+key", |b| {
        b.iter(|| {
            ring.check_tag(black_box(&tag), black_box(&record), &customer)
                .unwrap();
            let opened = ring.open(black_box(&sealed), &here).unwrap();
            black_box(Totp::new(&opened, TotpParams::default()))
        });
    });
    group.bench_function("check_tag", |b| {
        b.iter(|| {
            ring.check_tag(black_box(&tag), black_box(&record), &customer)
                .unwrap();
        });
    });
    group.bench_function("open+key", |b| {
        b.iter(|| {
            let opened = ring.open(black_box(&sealed), &here).unwrap();
            black_box(Totp::new(&opened, TotpParams::default()))
        });
    });
    group.bench_function("open", |b| {
        b.iter(|| black_box(ring.open(black_box(&sealed), &here).unwrap()));
    });
    group.bench_function("key", |b| {
        b.iter(|| black_box(Totp::new(black_box(&secret), TotpParams::default())));
    });
    group.bench_function("seal", |b| {
        b.iter(|| black_box(ring.seal(black_box(&secret), &here).unwrap()));
    });
    group.finish();
}

fn main() {
    support::clock::main(seal::<ThreadCpuTime>, seal::<WallTime>);
}
