//! Every test vector of RFC 6287 Appendix C (`tests/data/ocra_rfc6287.csv`):
//! one-way challenge-response (C.1), mutual challenge-response, server and
//! client computations (C.2), and plain signatures with and without time
//! (C.3).
//!
//! Each vector must generate its response (with the PIN given as the PIN and
//! as its hash, with the time given as a step count and as Unix seconds),
//! verify exactly and inside a window (reporting the right counter or time
//! step), and fail verification with any one digit changed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::collections::BTreeMap;

use otpguard::ocra::{Input, Ocra, Pin, ResponseError, Suite, VerifyWindow};
use otpguard::{Secret, Window};
use support::vectors::{hex, DataFile};

const HEADER: &str = "section,suite,key_hex,counter,question,question2,pin,time_step,response";

/// SHA-1("1234"), the PIN hash RFC 6287 Appendix C uses.
const PIN_1234_SHA1: [u8; 20] = [
    0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4, 0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac,
    0x0d, 0x2c, 0x02, 0x20,
];

struct Row {
    line: usize,
    section: String,
    suite: Suite,
    key: Vec<u8>,
    counter: Option<u64>,
    question: String,
    question2: Option<String>,
    pin: Option<String>,
    time_step: Option<u64>,
    response: String,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn load() -> Vec<Row> {
    DataFile::read("ocra_rfc6287.csv")
        .rows(HEADER)
        .into_iter()
        .map(|(line, f)| Row {
            line,
            section: f[0].into(),
            suite: Suite::parse(f[1]).unwrap_or_else(|e| panic!("line {line}: {e}")),
            key: hex(f[2]),
            counter: non_empty(f[3]).map(|c| c.parse().unwrap()),
            question: f[4].into(),
            question2: non_empty(f[5]).map(Into::into),
            pin: non_empty(f[6]).map(Into::into),
            time_step: non_empty(f[7]).map(|t| u64::from_str_radix(t, 16).unwrap()),
            response: f[8].into(),
        })
        .collect()
}

impl Row {
    /// The row's inputs, with `pin`, and the time as a step count or (if
    /// `unix`) as Unix seconds in the middle of the step.
    fn input<'a>(&'a self, pin: Option<&'a Pin>, unix: bool) -> Input<'a> {
        let mut input = match &self.question2 {
            Some(second) => Input::mutual(&self.question, second),
            None => Input::new(&self.question),
        };
        if let Some(c) = self.counter {
            input = input.counter(c);
        }
        if let Some(pin) = pin {
            input = input.pin(pin);
        }
        if let Some(step) = self.time_step {
            let seconds = self.suite.time_step().unwrap().seconds();
            input = if unix {
                input.time(step * seconds + seconds / 2)
            } else {
                input.time_step(step)
            };
        }
        input
    }
}

/// `response` with the digit at `i` changed.
fn with_digit_changed(response: &str, i: usize) -> String {
    let mut bytes = response.as_bytes().to_vec();
    bytes[i] = b'0' + (bytes[i] - b'0' + 1) % 10;
    String::from_utf8(bytes).unwrap()
}

#[test]
fn rfc6287_appendix_c() {
    let rows = load();
    let mut per_section: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        let at = format!("line {} ({} {})", row.line, row.section, row.suite);
        let ocra = Ocra::new(&Secret::from_bytes(&row.key).unwrap(), row.suite);

        let plain = row.pin.as_deref().map(|p| Pin::new(p.as_bytes()).unwrap());
        let hashed = row
            .pin
            .as_ref()
            .map(|_| Pin::from_hash(&PIN_1234_SHA1).unwrap());
        let pins: Vec<Option<&Pin>> = if row.pin.is_some() {
            vec![plain.as_ref(), hashed.as_ref()]
        } else {
            vec![None]
        };
        let times: &[bool] = if row.time_step.is_some() {
            &[false, true]
        } else {
            &[false]
        };

        for &pin in &pins {
            for &unix in times {
                let input = row.input(pin, unix);
                let got = ocra
                    .generate(&input)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(got.to_string(), row.response, "{at}: generate");

                let m = ocra
                    .verify(&row.response, &input, VerifyWindow::EXACT)
                    .unwrap_or_else(|e| panic!("{at}: verify: {e}"));
                assert_eq!(m.counter(), row.counter, "{at}");
                assert_eq!(m.time_step(), row.time_step, "{at}");
                assert_eq!(m.time_offset(), row.time_step.map(|_| 0), "{at}");

                for i in 0..row.response.len() {
                    let wrong = with_digit_changed(&row.response, i);
                    assert_eq!(
                        ocra.verify(&wrong, &input, VerifyWindow::EXACT),
                        Err(ResponseError::Mismatch),
                        "{at}: {wrong} verified"
                    );
                }
            }
        }

        // Inside a window: a server that expects an earlier counter, or
        // checks one step after the response was made.
        let pin = pins[0];
        if let Some(c) = row.counter {
            let input = Input::new(&row.question).counter(c.saturating_sub(3));
            let input = match pin {
                Some(p) => input.pin(p),
                None => input,
            };
            let input = match row.time_step {
                Some(t) => input.time_step(t),
                None => input,
            };
            let m = ocra
                .verify(&row.response, &input, VerifyWindow::counter(5).unwrap())
                .unwrap_or_else(|e| panic!("{at}: counter window: {e}"));
            assert_eq!(m.counter(), Some(c), "{at}");
        }
        if let Some(t) = row.time_step {
            let mut input = match &row.question2 {
                Some(second) => Input::mutual(&row.question, second),
                None => Input::new(&row.question),
            }
            .time_step(t + 1);
            if let Some(p) = pin {
                input = input.pin(p);
            }
            let window = VerifyWindow::time(Window::new(2, 1).unwrap());
            let m = ocra
                .verify(&row.response, &input, window)
                .unwrap_or_else(|e| panic!("{at}: time window: {e}"));
            assert_eq!(
                (m.time_step(), m.time_offset()),
                (Some(t), Some(-1)),
                "{at}"
            );
            let late = input.time_step(t + 2);
            assert_eq!(
                ocra.verify(
                    &row.response,
                    &late,
                    VerifyWindow::time(Window::new(1, 1).unwrap())
                ),
                Err(ResponseError::Mismatch),
                "{at}: two steps late"
            );
        }
        *per_section.entry(row.section.clone()).or_default() += 1;
    }

    println!("RFC 6287 Appendix C vectors run: {per_section:?}");
    assert_eq!(per_section.get("C.1"), Some(&40));
    assert_eq!(per_section.get("C.2-server"), Some(&10));
    assert_eq!(per_section.get("C.2-client"), Some(&10));
    assert_eq!(per_section.get("C.3"), Some(&10));
    assert_eq!(rows.len(), 70);
}

#[test]
fn rfc_time_is_march_25_2008_12_06_30() {
    // 2008-03-25T12:06:30Z, in the minutes of the T1M suites.
    assert_eq!(1_206_446_790 / 60, 0x132d0b6);
}
