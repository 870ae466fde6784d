//! What every verification after a load pays when secrets are sealed at
//! rest: check the record's tag (HMAC-SHA-256 over its bytes), open the
//! token's sealed secret (AES-256-GCM) and key its HMAC. Beside it, the
//! parts alone, and what each audit row's link of the keyed chain costs
//! when it is written. Target: under 1 µs.
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
use otpguard::lifecycle::audit::{ChainField, ChainLink};
use otpguard::lifecycle::{store::TokenId, CustomerId};
use otpguard::seal::{KeyId, Keyring, Purpose, SealContext, Sealer};
use otpguard::{Secret, Totp, TotpParams};
use support::clock::ThreadCpuTime;
use support::SECRET_SHA1;

fn seal<M: Measurement>(c: &mut Criterion<M>) {
    let ring = Keyring::new(KeyId(1), &[0x42; 32]).unwrap();
    let customer = CustomerId::new("c-0001").unwrap();
    let here = SealContext::new(
        &customer,
        Some(TokenId::from_bytes([7; 16])),
        Purpose::Current,
    );
    let secret = Secret::from_bytes(SECRET_SHA1).unwrap();
    let sealed = ring.seal(&secret, &here).unwrap();

    // A sealed record with a token is about 300 bytes (plus the tag's
    // domain and the customer id, which the store puts in front).
    let record = [0x5a_u8; 330];
    let tag = ring.mac(&record).unwrap();
    // An accepted transaction's audit row, as PostgresStore links it.
    let row = [
        ChainField::Int(2),
        ChainField::Int(0),
        ChainField::Int(1_700_000_030),
        ChainField::Text("Customer"),
        ChainField::Text("web"),
        ChainField::Text("192.0.2.7"),
        ChainField::Text("req-0001"),
        ChainField::Bytes(&[7; 16]),
        ChainField::Text("SN-0001"),
        ChainField::Null,
        ChainField::Text("VerifyTransaction"),
        ChainField::Text("Active"),
        ChainField::Text("Active"),
        ChainField::Text("accepted"),
        ChainField::Text("a code of the current token, newer than the last accepted; accepted"),
        ChainField::Null,
        ChainField::Null,
        ChainField::Null,
        ChainField::Null,
    ];
    let head = ChainLink::next(None, &ring, &customer, &row).unwrap();

    let mut group = c.benchmark_group("seal");
    group.bench_function("tag+open+key", |b| {
        b.iter(|| {
            ring.check_mac(black_box(&tag), black_box(&record)).unwrap();
            let opened = ring.open(black_box(&sealed), &here).unwrap();
            black_box(Totp::new(&opened, TotpParams::default()))
        });
    });
    group.bench_function("check_tag", |b| {
        b.iter(|| {
            ring.check_mac(black_box(&tag), black_box(&record)).unwrap();
        });
    });
    group.bench_function("chain_link", |b| {
        b.iter(|| {
            black_box(
                ChainLink::next(Some(black_box(&head)), &ring, &customer, black_box(&row)).unwrap(),
            )
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
