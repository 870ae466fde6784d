//! Heap accounting, single-threaded so that every allocation counted is one
//! this code made (the allocator counts the whole process):
//!
//! - generating and verifying codes (TOTP and HOTP, every algorithm, right,
//!   wrong, out-of-window and malformed input) allocates nothing;
//! - a code accepted through the lifecycle on the in-memory store (load,
//!   decision, verification with the token's kept key, single use, the next
//!   record, its audit record, the commit to a sink that does not keep the
//!   record) allocates nothing, nor does a replayed or a wrong code;
//! - the in-memory replay guard's heap use per tracked token, printed for
//!   the performance notes and held under a generous bound.
//!
//! A custom harness (`harness = false`): the standard one runs tests on
//! several threads and allocates between them.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use otpguard::CheckError;
use std::hint::black_box;

use dhat::HeapStats;
use std::sync::atomic::{AtomicU32, Ordering};

use otpguard::lifecycle::{
    audit::AuditRecord, audit::AuditSink, audit::Outcome, CustomerId, Event, Label, Lifecycle,
    LifecycleConfig, LifecycleError, LoginCheck, MemoryStore, NewSecret, Principal, RequestContext,
    TokenSerial,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Algorithm, FixedClock, Hotp, Secret, StoreError, Totp, Window};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks and bytes allocated while `f` runs.
fn allocations<R>(f: impl FnOnce() -> R) -> (u64, u64) {
    let before = HeapStats::get();
    black_box(f());
    let after = HeapStats::get();
    (
        after.total_blocks - before.total_blocks,
        after.total_bytes - before.total_bytes,
    )
}

fn assert_no_alloc<R>(what: &str, f: impl FnOnce() -> R) {
    let (blocks, bytes) = allocations(f);
    assert_eq!((blocks, bytes), (0, 0), "{what} allocated");
}

fn counter_counts() {
    assert_eq!(allocations(|| Box::new([0u8; 24])), (1, 24));
}

fn verify_and_generate_do_not_allocate() {
    let secrets = [
        (Algorithm::Sha1, &b"12345678901234567890"[..]),
        (Algorithm::Sha256, &b"12345678901234567890123456789012"[..]),
        (
            Algorithm::Sha512,
            &b"1234567890123456789012345678901234567890123456789012345678901234"[..],
        ),
        // Longer than a SHA-1/256 block: the key is hashed when keyed, and
        // codes still only compress precomputed states.
        (Algorithm::Sha1, &[0x5a; 200][..]),
        (Algorithm::Sha256, &[0x5a; 200][..]),
    ];
    let now = 1_111_111_109;
    for (algorithm, key) in secrets {
        let secret = Secret::from_bytes(key).unwrap();
        for digits in [6, 8] {
            let totp = Totp::builder(&secret)
                .algorithm(algorithm)
                .digits(digits)
                .build()
                .unwrap();
            let hotp = Hotp::new(&secret, algorithm, digits).unwrap();
            let not_yet = Totp::builder(&secret).t0(now + 1).build().unwrap();
            let step = totp.step_at(now).unwrap();
            // Codes to submit, formatted before counting (formatting is the
            // caller's business, not the verify path's).
            let at = |k: i64| {
                totp.generate_step(step.checked_add_signed(k).unwrap())
                    .to_string()
            };
            let (late, current, early, far) = (at(-1), at(0), at(1), at(9));
            let wrong = format!(
                "{:0w$}",
                (totp.generate(now).unwrap().value() + 1) % 10u32.pow(digits),
                w = digits as usize
            );
            let malformed = "12a45";
            for window in [
                Window::EXACT,
                Window::default(),
                Window::new(10, 10).unwrap(),
            ] {
                for code in [&late, &current, &early, &far, &wrong] {
                    assert_no_alloc("Totp::verify", || totp.verify(code, now, window));
                    assert_no_alloc("Hotp::verify", || hotp.verify(code, step, window));
                }
                assert_no_alloc("Totp::verify malformed", || {
                    assert!(matches!(
                        totp.verify(malformed, now, window),
                        Err(CheckError::Malformed { .. })
                    ));
                });
                assert_no_alloc("Totp::verify before T0", || {
                    assert!(matches!(
                        not_yet.verify(&current, now, window),
                        Err(CheckError::Time(_))
                    ));
                });
            }
            assert_eq!(
                totp.verify(&current, now, Window::default())
                    .unwrap()
                    .offset(),
                0
            );
            assert!(matches!(
                totp.verify(&far, now, Window::default()),
                Err(CheckError::Mismatch)
            ));
            assert_no_alloc("Totp::generate", || totp.generate(now));
            assert_no_alloc("Totp::generate_step", || totp.generate_step(step));
            assert_no_alloc("Hotp::generate", || hotp.generate(step));
        }
    }
}

/// Counts accepted records and keeps none.
#[derive(Default)]
struct CountAccepted(AtomicU32);

impl AuditSink for CountAccepted {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        for r in records {
            if r.outcome == Outcome::Accepted {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        black_box(records);
        Ok(())
    }
}

fn lifecycle_verify_does_not_allocate() {
    let secret = Secret::from_bytes(&[3u8; 20]).unwrap();
    let totp = Totp::builder(&secret).build().unwrap();
    let mut now = 1_700_000_000;
    let clock = FixedClock::new(now);
    let lc = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryStore::with_sink(CountAccepted::default()),
        &clock,
    );
    let customer = CustomerId::new("c-1").unwrap();
    let web = Principal::customer(Label::new("web").unwrap());
    let ctx = RequestContext::new().source(Label::new("192.0.2.1").unwrap());
    lc.blocking()
        .submit(
            &customer,
            &web,
            Event::Register {
                serial: TokenSerial::new("SN-1").unwrap(),
                secret: NewSecret::Given(secret.clone()),
                code: totp.generate(now).unwrap().to_string().as_str().into(),
            },
            &ctx,
        )
        .unwrap();
    now += 30;
    clock.set(now);
    let on = Event::SetLoginOtp {
        on: true,
        code: totp.generate(now).unwrap().to_string().as_str().into(),
    };
    lc.blocking().submit(&customer, &web, on, &ctx).unwrap();
    for _ in 0..3 {
        // Three steps on: the code of the step just after is never the same.
        now += 90;
        clock.set(now);
        let code = totp.generate(now).unwrap().to_string();
        assert_no_alloc("Lifecycle::verify_transaction", || {
            lc.blocking()
                .verify_transaction(&customer, &web, &code, &ctx)
                .unwrap()
        });
        assert_no_alloc("Lifecycle::verify_transaction, replayed", || {
            let replay = lc
                .blocking()
                .verify_transaction(&customer, &web, &code, &ctx);
            assert!(matches!(replay, Err(LifecycleError::Replayed { .. })));
        });
        now += 90;
        clock.set(now);
        let code = totp.generate(now).unwrap().to_string();
        assert_no_alloc("Lifecycle::login", || {
            let login = lc
                .blocking()
                .login(&customer, &web, Some(&code), &ctx)
                .unwrap();
            assert!(matches!(login, LoginCheck::Verified(_)));
        });
    }
    now += 90;
    clock.set(now);
    let near: Vec<u32> = [now - 30, now, now + 30]
        .iter()
        .map(|&t| totp.generate(t).unwrap().value())
        .collect();
    let wrong = format!("{:06}", (0u32..).find(|v| !near.contains(v)).unwrap());
    assert_no_alloc("Lifecycle::verify_transaction, wrong code", || {
        let refused = lc
            .blocking()
            .verify_transaction(&customer, &web, &wrong, &ctx);
        assert!(matches!(refused, Err(LifecycleError::WrongCode { .. })));
    });
    assert_eq!(lc.store().audit().0.load(Ordering::Relaxed), 2 + 6);
    let record = lc.store().snapshot(&customer).unwrap();
    assert_eq!(record.version(), 2 + 6 + 1);
}

fn guard_bytes_per_token() {
    const TOKENS: usize = 100_000;
    let ids: Vec<String> = (0..TOKENS).map(|i| format!("token-{i:06}")).collect();
    let before = HeapStats::get();
    let guard = MemoryGuard::default();
    for id in &ids {
        guard.claim(id, 1).unwrap();
    }
    let after = HeapStats::get();
    let bytes = after.curr_bytes - before.curr_bytes;
    let blocks = after.curr_blocks - before.curr_blocks;
    println!(
        "MemoryGuard: {TOKENS} tokens with 12-byte ids hold {bytes} heap bytes in {blocks} blocks \
         = {:.1} bytes and {:.2} blocks per token (requested sizes, before allocator overhead)",
        bytes as f64 / TOKENS as f64,
        blocks as f64 / TOKENS as f64,
    );
    // A bound loose enough for any sane map layout, tight enough to catch a
    // per-token allocation gone wrong (a history, a copy of the secret, ...).
    assert!(bytes / TOKENS < 256, "{bytes} bytes for {TOKENS} tokens");

    // Claiming for a token already tracked needs no new memory.
    let (blocks, _) = allocations(|| guard.claim(&ids[7], 2).unwrap());
    println!("MemoryGuard: claim for a tracked token: {blocks} allocations");
    drop(guard);
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let tests: [(&str, fn()); 4] = [
        ("counter_counts", counter_counts),
        (
            "verify_and_generate_do_not_allocate",
            verify_and_generate_do_not_allocate,
        ),
        (
            "lifecycle_verify_does_not_allocate",
            lifecycle_verify_does_not_allocate,
        ),
        ("guard_bytes_per_token", guard_bytes_per_token),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
}
