//! One OCRA verification beside its floor:
//!
//! - `verify_t1m_pm1`: `OCRA-1:HOTP-SHA1-6:QN08-T1M`, a time window of ±1
//!   (three HMAC-SHA-1 computations);
//! - `verify_c_ahead0`, `verify_c_ahead4`: `OCRA-1:HOTP-SHA256-8:C-QN08`,
//!   a counter look-ahead of 0 and 4 (one and five HMAC-SHA-256
//!   computations).
//!
//! `otpguard` is [`Ocra::verify`] for a response that matches in the
//! window (it does the same work for any response). `floor` is the same
//! number of HMAC computations over a DataInput of the same length, on the
//! `hmac` crate directly: the key state precomputed and cloned per call, the
//! DataInput built once outside the loop with only its counter or time
//! step written per candidate, each MAC truncated and compared without
//! branching. Nothing that does the same job can do less work.
//!
//! `cargo bench --bench ocra -- --measurement-time 3 --warm-up-time 1`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod support;

use std::hint::black_box;

use criterion::measurement::{Measurement, WallTime};
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use otpguard::ocra::{Input, Ocra, Suite, VerifyWindow};
use otpguard::{Secret, Window};
use support::clock::ThreadCpuTime;
use support::{SECRET_SHA1, SECRET_SHA256, TIME};

const QUESTION: &str = "12345678";

/// The floor: `head | value (8 bytes, big-endian) | tail` MACed for each
/// value of a window, truncated as HOTP does and compared with `wanted`.
struct Floor<M> {
    key: M,
    head: Vec<u8>,
    tail: Vec<u8>,
    modulus: u32,
}

impl<M: Mac + Clone> Floor<M> {
    /// The DataInput `data` split around the 8 bytes at `at`.
    fn new(key: M, data: &[u8], at: usize, digits: u32) -> Self {
        Self {
            key,
            head: data[..at].to_vec(),
            tail: data[at + 8..].to_vec(),
            modulus: 10u32.pow(digits),
        }
    }

    #[inline]
    fn code(&self, value: u64) -> u32 {
        let mut mac = self.key.clone();
        mac.update(&self.head);
        mac.update(&value.to_be_bytes());
        mac.update(&self.tail);
        let out = mac.finalize().into_bytes();
        let offset = usize::from(out[out.len() - 1] & 0x0f);
        let word = u32::from_be_bytes([
            out[offset],
            out[offset + 1],
            out[offset + 2],
            out[offset + 3],
        ]);
        (word & 0x7fff_ffff) % self.modulus
    }

    /// Which value of `first..=last` gives `response`, every one computed.
    #[inline]
    fn verify(&self, response: &str, first: u64, last: u64) -> Option<u64> {
        let bytes = response.as_bytes();
        if bytes.len() != self.modulus.ilog10() as usize || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let wanted = bytes
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
        let (mut found, mut at) = (0u64, 0u64);
        for value in first..=last {
            let hit = u64::from(self.code(value) == wanted);
            let mask = hit.wrapping_neg();
            at = (at & !mask) | (value & mask);
            found |= hit;
        }
        (found == 1).then_some(at)
    }
}

fn ocra<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("ocra");

    // Time suite, ±1 step: the response of the step before.
    {
        let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T1M").unwrap();
        let ocra = Ocra::new(&Secret::from_bytes(SECRET_SHA1).unwrap(), suite);
        let window = VerifyWindow::time(Window::new(1, 1).unwrap());
        let step = TIME / 60;
        let response = ocra
            .generate(&Input::new(QUESTION).time_step(step - 1))
            .unwrap()
            .to_string();
        let m = ocra
            .verify(&response, &Input::new(QUESTION).time(TIME), window)
            .unwrap();
        assert_eq!(m.time_offset(), Some(-1));
        let data = suite.data_input(&Input::new(QUESTION).time(TIME)).unwrap();
        let floor = Floor::new(
            <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(SECRET_SHA1).unwrap(),
            &data,
            data.len() - 8,
            6,
        );
        assert_eq!(floor.code(step), {
            let r = ocra
                .generate(&Input::new(QUESTION).time_step(step))
                .unwrap();
            r.value().unwrap() as u32
        });
        assert_eq!(floor.verify(&response, step - 1, step + 1), Some(step - 1));

        group.bench_function("verify_t1m_pm1/otpguard", |b| {
            b.iter(|| {
                ocra.verify(
                    black_box(&response),
                    &Input::new(black_box(QUESTION)).time(black_box(TIME)),
                    black_box(window),
                )
            });
        });
        group.bench_function("verify_t1m_pm1/floor", |b| {
            b.iter(|| {
                // The step is configuration for every verifier; the floor
                // divides at run time too.
                let step = black_box(TIME) / black_box(60u64);
                floor.verify(black_box(&response), step - 1, step + 1)
            });
        });
    }

    // Counter suite, a look-ahead of 0 and of 4: the response at its end.
    for ahead in [0u32, 4] {
        let suite = Suite::parse("OCRA-1:HOTP-SHA256-8:C-QN08").unwrap();
        let ocra = Ocra::new(&Secret::from_bytes(SECRET_SHA256).unwrap(), suite);
        let window = VerifyWindow::counter(ahead).unwrap();
        let counter = 1_000u64;
        let last = counter + u64::from(ahead);
        let response = ocra
            .generate(&Input::new(QUESTION).counter(last))
            .unwrap()
            .to_string();
        let m = ocra
            .verify(&response, &Input::new(QUESTION).counter(counter), window)
            .unwrap();
        assert_eq!(m.counter(), Some(last));
        let data = suite
            .data_input(&Input::new(QUESTION).counter(counter))
            .unwrap();
        let text_len = suite.to_string().len() + 1;
        let floor = Floor::new(
            <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET_SHA256).unwrap(),
            &data,
            text_len,
            8,
        );
        assert_eq!(floor.verify(&response, counter, last), Some(last));

        group.bench_function(format!("verify_c_ahead{ahead}/otpguard"), |b| {
            b.iter(|| {
                ocra.verify(
                    black_box(&response),
                    &Input::new(black_box(QUESTION)).counter(black_box(counter)),
                    black_box(window),
                )
            });
        });
        group.bench_function(format!("verify_c_ahead{ahead}/floor"), |b| {
            b.iter(|| {
                let first = black_box(counter);
                floor.verify(black_box(&response), first, first + u64::from(ahead))
            });
        });
    }
    group.finish();
}

fn main() {
    support::clock::main(ocra::<ThreadCpuTime>, ocra::<WallTime>);
}
