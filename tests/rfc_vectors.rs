//! Runs the test-vector files in `tests/data/` through generation and
//! verification: RFC 4226 Appendix D, RFC 6238 Appendix B, and the cross-check
//! set produced by `tests/data/gen_crosscheck.py` with pyotp.
//!
//! Every row must generate its code, verify with an exact window at its own
//! step, and fail as a mismatch with one digit changed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use otpguard::CheckError;
use std::collections::BTreeSet;

use otpguard::{Algorithm, Hotp, Secret, Totp, Window};
use support::vectors::{hex, DataFile};

const HEADER: &str = "kind,algorithm,digits,period,t0,time,counter,secret_hex,code";

enum Kind {
    Hotp,
    Totp { period: u64, t0: u64, time: u64 },
}

struct Row {
    line: usize,
    kind: Kind,
    algorithm: Algorithm,
    digits: u32,
    counter: u64,
    secret: Vec<u8>,
    code: String,
}

fn load(name: &str) -> Vec<Row> {
    let file = DataFile::read(name);
    let path = &file.path;
    file.rows(HEADER)
        .into_iter()
        .map(|(line, f)| {
            let algorithm = match f[1] {
                "sha1" => Algorithm::Sha1,
                "sha256" => Algorithm::Sha256,
                "sha512" => Algorithm::Sha512,
                other => panic!("{path}:{line}: unknown algorithm {other}"),
            };
            let kind = match f[0] {
                "hotp" => Kind::Hotp,
                "totp" => Kind::Totp {
                    period: f[3].parse().unwrap(),
                    t0: f[4].parse().unwrap(),
                    time: f[5].parse().unwrap(),
                },
                other => panic!("{path}:{line}: unknown kind {other}"),
            };
            Row {
                line,
                kind,
                algorithm,
                digits: f[2].parse().unwrap(),
                counter: f[6].parse().unwrap(),
                secret: hex(f[7]),
                code: f[8].to_owned(),
            }
        })
        .collect()
}

/// The row's code with one digit changed; which digit and by how much vary
/// with the line so that every position and difference gets exercised.
fn flip_one_digit(code: &str, line: usize) -> String {
    let pos = line % code.len();
    code.char_indices()
        .map(|(i, c)| {
            if i == pos {
                let d = c.to_digit(10).unwrap();
                let shift = u32::try_from(1 + line % 9).unwrap();
                char::from_digit((d + shift) % 10, 10).unwrap()
            } else {
                c
            }
        })
        .collect()
}

/// Checks one row; returns a description of each failure.
fn check_row(row: &Row) -> Vec<String> {
    let mut failures = Vec::new();
    let mut fail = |what: String| failures.push(format!("line {}: {what}", row.line));
    let secret = Secret::from_bytes(&row.secret).unwrap();
    let wrong = flip_one_digit(&row.code, row.line);
    assert_ne!(wrong, row.code);
    let (generated, verified, flipped) = match row.kind {
        Kind::Hotp => {
            let hotp = Hotp::new(&secret, row.algorithm, row.digits).unwrap();
            (
                hotp.generate(row.counter).to_string(),
                // HOTP's own error, as the TOTP one for the checks below.
                hotp.verify(&row.code, row.counter, Window::EXACT)
                    .map_err(CheckError::from),
                hotp.verify(&wrong, row.counter, Window::EXACT)
                    .map_err(CheckError::from),
            )
        }
        Kind::Totp { period, t0, time } => {
            let totp = Totp::builder(&secret)
                .algorithm(row.algorithm)
                .digits(row.digits)
                .period(period)
                .t0(t0)
                .build()
                .unwrap();
            if totp.step_at(time).ok() != Some(row.counter) {
                fail(format!("step_at({time}) is not {}", row.counter));
            }
            (
                totp.generate(time).unwrap().to_string(),
                totp.verify(&row.code, time, Window::EXACT),
                totp.verify(&wrong, time, Window::EXACT),
            )
        }
    };
    if generated != row.code {
        fail(format!("generated {generated}, expected {}", row.code));
    }
    match verified {
        Ok(m) if m.step() == row.counter && m.offset() == 0 => {}
        other => fail(format!("verify of the right code gave {other:?}")),
    }
    if !matches!(flipped, Err(CheckError::Mismatch)) {
        fail(format!("verify of a changed code gave {flipped:?}"));
    }
    failures
}

/// Checks every row of a file and returns how many were checked.
fn check_file(name: &str) -> usize {
    let rows = load(name);
    let failures: Vec<String> = rows.iter().flat_map(check_row).collect();
    println!(
        "{name}: {} rows checked, {} failures",
        rows.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    rows.len()
}

#[test]
fn rfc4226_appendix_d() {
    assert_eq!(check_file("rfc4226.csv"), 10);
}

#[test]
fn rfc6238_appendix_b() {
    let rows = load("rfc6238.csv");
    let algorithms: BTreeSet<_> = rows.iter().map(|r| r.algorithm.uri_name()).collect();
    assert_eq!(algorithms.len(), 3, "all three algorithms are covered");
    assert_eq!(check_file("rfc6238.csv"), 18);
}

#[test]
fn crosscheck_with_pyotp() {
    let rows = load("crosscheck.csv");
    // A file truncated or regenerated with fewer cases must fail here, not
    // pass quietly with less coverage.
    let totp = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::Totp { .. }))
        .count();
    assert_eq!((totp, rows.len() - totp), (3000, 1000));
    let mix: BTreeSet<_> = rows
        .iter()
        .map(|r| (r.algorithm.uri_name(), r.digits))
        .collect();
    assert_eq!(mix.len(), 9, "every algorithm with 6, 7 and 8 digits");
    let lengths: BTreeSet<_> = rows.iter().map(|r| r.secret.len()).collect();
    assert_eq!(lengths.first(), Some(&16));
    assert_eq!(lengths.last(), Some(&64));
    for edge in [1u64 << 31, 1 << 32, 20_000_000_000, 253_402_300_799] {
        assert!(
            rows.iter()
                .any(|r| matches!(r.kind, Kind::Totp { time, .. } if time == edge)),
            "edge time {edge} is covered"
        );
    }
    assert!(rows.iter().any(|r| r.counter == u64::MAX));
    assert_eq!(check_file("crosscheck.csv"), 4000);
}
