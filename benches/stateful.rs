//! The full stateful path beside the stateless one, with a ±1 window and
//! the right code of the current step each time (new steps every
//! iteration, so every replay claim is fresh):
//!
//! - `stateless/verify`: [`Totp::verify`] alone;
//! - `stateless/verify+claim`: verify, then [`Match::claim`] on the
//!   in-memory guard;
//! - `lifecycle/verify_transaction`: [`Lifecycle::verify_transaction`]
//!   (through `blocking()`) on a registered token in the in-memory store:
//!   load the record, decide against the transition table, match the window
//!   with the key the token has kept since registration, check single use
//!   against the record's last step, build the next record and its audit
//!   record, and commit both (version check, audit sink, record replaced)
//!   under the store's lock. The sink discards the records.
//!
//! Each iteration also sets the clock (one atomic store, in all three).
//!
//! And transaction signing the same way (`sign_pm1`, suite
//! `OCRA-1:HOTP-SHA1-6:QN08-T30S`, a signature valid for one step behind
//! and one ahead, so three HMAC computations each):
//!
//! - `ocra/verify`: [`Ocra::verify`] alone, on a question already derived;
//! - `lifecycle/sign_transaction`: [`Lifecycle::sign_transaction`] on a
//!   registered token: the above, plus deriving the question from the
//!   transaction, its SHA-256 digest for the audit record and the proof,
//!   and the load, decision and commit of `verify_transaction`.
//!
//! `cargo bench --bench stateful`
//!
//! [`Match::claim`]: otpguard::Match::claim
//! [`Lifecycle::verify_transaction`]: otpguard::lifecycle::Lifecycle::verify_transaction
//! [`Ocra::verify`]: otpguard::ocra::Ocra::verify
//! [`Lifecycle::sign_transaction`]: otpguard::lifecycle::Lifecycle::sign_transaction

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

use criterion::measurement::{Measurement, WallTime};
use criterion::{BatchSize, Criterion};
use otpguard::lifecycle::{
    audit::AuditRecord, audit::AuditSink, CustomerId, Event, Label, Lifecycle, LifecycleConfig,
    MemoryStore, NewSecret, Principal, RequestContext, TokenSerial,
};
use otpguard::ocra::{
    Amount, Currency, Input, Ocra, PayeeAccount, Suite, Transaction, VerifyWindow,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Clock, FixedClock, Secret, StoreError, Totp, Window};
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

/// Audit records go nowhere: the bench measures the lifecycle, not a log.
struct Discard;

impl AuditSink for Discard {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        black_box(records);
        Ok(())
    }
}

/// Registers the token `serial` (holding `secret`) for `customer`, with
/// the code `totp` shows now.
fn register(
    lifecycle: &Lifecycle<MemoryStore<Discard>, &FixedClock>,
    customer: &CustomerId,
    serial: &str,
    secret: &Secret,
    totp: &Totp,
    clock: &FixedClock,
) {
    let code = totp.generate(clock.now()).unwrap().to_string();
    let event = Event::Register {
        serial: TokenSerial::new(serial).unwrap(),
        secret: NewSecret::Given(secret.clone()),
        code: code.as_str().into(),
    };
    let web = Principal::customer(Label::new("web").unwrap());
    lifecycle
        .blocking()
        .submit(customer, &web, event, &RequestContext::new())
        .unwrap();
}

fn stateful<M: Measurement>(c: &mut Criterion<M>) {
    let secret = Secret::from_bytes(SECRET_SHA1).unwrap();
    let totp = Totp::builder(&secret).period(PERIOD).build().unwrap();
    let window = Window::default();
    let clock = FixedClock::new(TIME);
    let guard = MemoryGuard::default();
    let lifecycle = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryStore::with_sink(Discard),
        &clock,
    );
    assert_eq!(lifecycle.config().window(), window);
    let customer = CustomerId::new("c-0001").unwrap();
    let web = Principal::customer(Label::new("web").unwrap());
    let ctx = RequestContext::new();
    register(&lifecycle, &customer, "SN-0001", &secret, &totp, &clock);

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
                let accepted = totp.verify_once(
                    &code,
                    clock.now(),
                    window,
                    &guard,
                    ReplayKey::new("SN-0001"),
                );
                assert!(accepted.is_ok(), "{accepted:?}");
                (code, accepted)
            },
            BatchSize::SmallInput,
        );
    });
    // --- The full stateful path: load, decide, verify, single use, commit
    // with the audit record.
    group.bench_function("lifecycle/verify_transaction", |b| {
        b.iter_batched(
            || next_code(&totp, &mut time),
            |(now, code)| {
                clock.set(now);
                let accepted = lifecycle
                    .blocking()
                    .verify_transaction(&customer, &web, &code, &ctx);
                assert!(accepted.is_ok(), "{accepted:?}");
                (code, accepted)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();

    // --- Transaction signing: the OCRA check alone, and the lifecycle's.
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S").unwrap();
    let ocra = Ocra::new(&secret, suite);
    let signing = Lifecycle::new(
        LifecycleConfig::builder()
            .signing(suite)
            .signature_validity(PERIOD)
            .build()
            .unwrap(),
        MemoryStore::with_sink(Discard),
        &clock,
    );
    clock.set(time);
    register(&signing, &customer, "SN-0002", &secret, &totp, &clock);
    let transfer = Transaction::transfer(
        Amount {
            minor_units: 120_000,
            currency: Currency::new("JPY").unwrap(),
        },
        PayeeAccount::new("12345671").unwrap(),
    );
    let question = transfer.question_for(&suite).unwrap();
    let ocra_window = VerifyWindow::time(window);
    let next_response = |time: &mut u64| {
        *time += 3 * PERIOD;
        let response = ocra
            .generate(&Input::new(&question).time(*time))
            .unwrap()
            .to_string();
        (*time, response)
    };
    let mut group = c.benchmark_group("sign_pm1");
    group.bench_function("ocra/verify", |b| {
        b.iter_batched(
            || next_response(&mut time),
            |(now, response)| {
                clock.set(now);
                let m = ocra.verify(
                    &response,
                    &Input::new(&question).time(clock.now()),
                    ocra_window,
                );
                assert!(m.is_ok());
                (response, m)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("lifecycle/sign_transaction", |b| {
        b.iter_batched(
            || next_response(&mut time),
            |(now, response)| {
                clock.set(now);
                let signed = signing
                    .blocking()
                    .sign_transaction(&customer, &web, &transfer, &response, &ctx);
                assert!(signed.is_ok(), "{signed:?}");
                (response, signed)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn main() {
    support::clock::main(stateful::<ThreadCpuTime>, stateful::<WallTime>);
}
