//! Properties of window verification, checked against a naive reference
//! implementation (loop over the window, compare strings), plus the edge
//! times and window positions where overflow could hide.
//!
//! Two steps of one window share a code with probability about
//! window-size / 10^digits. The properties therefore never assume the codes
//! of a window are distinct: they compute which steps really produce the
//! input and expect what the documented rule (the latest such step wins)
//! says.

#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

use otpguard::CheckError;
use otpguard::{Algorithm, Hotp, Match, Secret, TimeError, Totp, Window};
use proptest::collection::vec;
use proptest::prelude::*;

/// What the reference says `verify` must return: `Malformed`, `Mismatch`, or
/// the latest step in the window whose code equals `input`, with its offset.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Malformed,
    Mismatch,
    Match { step: u64, offset: i64 },
}

fn reference(
    code_of: impl Fn(u64) -> String,
    digits: u32,
    input: &str,
    center: u64,
    window: Window,
) -> Expected {
    if input.len() != digits as usize || !input.bytes().all(|b| b.is_ascii_digit()) {
        return Expected::Malformed;
    }
    let mut found = Expected::Mismatch;
    for offset in -i64::from(window.behind())..=i64::from(window.ahead()) {
        if let Some(step) = center.checked_add_signed(offset) {
            if code_of(step) == input {
                found = Expected::Match { step, offset };
            }
        }
    }
    found
}

/// The outcome of a TOTP or HOTP check (HOTP's error is the TOTP one's
/// code faults).
fn outcome<E: Into<CheckError>>(result: Result<Match, E>, digits: u32) -> Expected {
    match result.map_err(Into::into) {
        Ok(m) => Expected::Match {
            step: m.step(),
            offset: m.offset(),
        },
        Err(CheckError::Mismatch) => Expected::Mismatch,
        Err(CheckError::Malformed { expected }) => {
            assert_eq!(expected, digits);
            Expected::Malformed
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

/// `code` with the digit at `pos` replaced by a different one.
fn change_digit(code: &str, pos: usize, delta: u32) -> String {
    code.char_indices()
        .map(|(i, c)| {
            if i == pos % code.len() {
                char::from_digit((c.to_digit(10).unwrap() + delta) % 10, 10).unwrap()
            } else {
                c
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Setup {
    secret: Vec<u8>,
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    t0: u64,
    time: u64,
    window: Window,
}

impl Setup {
    fn totp(&self) -> Totp {
        Totp::builder(&Secret::from_bytes(&self.secret).unwrap())
            .algorithm(self.algorithm)
            .digits(self.digits)
            .period(self.period)
            .t0(self.t0)
            .build()
            .unwrap()
    }

    fn hotp(&self) -> Hotp {
        Hotp::new(
            &Secret::from_bytes(&self.secret).unwrap(),
            self.algorithm,
            self.digits,
        )
        .unwrap()
    }
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    let period = prop_oneof![Just(30u64), 1..=120u64, 1..=u64::MAX];
    let t0 = prop_oneof![Just(0u64), 0..=4_000_000_000u64, any::<u64>()];
    (
        vec(any::<u8>(), 16..=64),
        algorithm(),
        6u32..=8,
        period,
        t0,
        0u32..=Window::MAX,
        0u32..=Window::MAX,
    )
        .prop_flat_map(|(secret, algorithm, digits, period, t0, behind, ahead)| {
            let time = prop_oneof![t0..=t0.saturating_add(1 << 40), t0..=u64::MAX];
            (time, Just(Window::new(behind, ahead).unwrap())).prop_map(move |(time, window)| {
                Setup {
                    secret: secret.clone(),
                    algorithm,
                    digits,
                    period,
                    t0,
                    time,
                    window,
                }
            })
        })
}

/// A setup and an offset inside its window.
fn setup_and_offset_inside() -> impl Strategy<Value = (Setup, i64)> {
    setup().prop_flat_map(|s| {
        let range = -i64::from(s.window.behind())..=i64::from(s.window.ahead());
        (Just(s), range)
    })
}

proptest! {
    #[test]
    fn totp_accepts_every_offset_inside_the_window((s, offset) in setup_and_offset_inside()) {
        let totp = s.totp();
        let center = totp.step_at(s.time).unwrap();
        let step = center.checked_add_signed(offset);
        prop_assume!(step.is_some()); // the window reaches below step 0 or past u64::MAX
        let step = step.unwrap();
        let code = totp.generate_step(step).to_string();
        let m = totp.verify(&code, s.time, s.window).unwrap();
        // Whatever step is reported must really produce the code, and its
        // offset must be consistent with it.
        prop_assert_eq!(totp.generate_step(m.step()).to_string(), code.clone());
        prop_assert_eq!(i128::from(m.step()) - i128::from(center), i128::from(m.offset()));
        // Only a later step with the same code (a coincidence) may win over
        // the one the code came from.
        prop_assert!(m.offset() >= offset && m.offset() <= i64::from(s.window.ahead()));
        let expected = reference(|st| totp.generate_step(st).to_string(), s.digits, &code, center, s.window);
        prop_assert_eq!(&expected, &Expected::Match { step: m.step(), offset: m.offset() });
        if expected == (Expected::Match { step, offset }) {
            prop_assert_eq!((m.step(), m.offset()), (step, offset));
        }
    }

    #[test]
    fn totp_rejects_codes_from_outside_the_window(
        s in setup(),
        beyond in 1i64..=40,
        late in any::<bool>(),
    ) {
        let totp = s.totp();
        let center = totp.step_at(s.time).unwrap();
        let offset = if late {
            -i64::from(s.window.behind()) - beyond
        } else {
            i64::from(s.window.ahead()) + beyond
        };
        let step = center.checked_add_signed(offset);
        prop_assume!(step.is_some());
        let code = totp.generate_step(step.unwrap()).to_string();
        let expected = reference(|st| totp.generate_step(st).to_string(), s.digits, &code, center, s.window);
        // Unless the code happens to be that of a step inside the window too,
        // this is a mismatch.
        prop_assert_eq!(outcome(totp.verify(&code, s.time, s.window), s.digits), expected);
    }

    #[test]
    fn totp_rejects_a_changed_code(
        (s, offset) in setup_and_offset_inside(),
        pos in 0usize..8,
        delta in 1u32..=9,
    ) {
        let totp = s.totp();
        let center = totp.step_at(s.time).unwrap();
        let step = center.checked_add_signed(offset);
        prop_assume!(step.is_some());
        let code = totp.generate_step(step.unwrap()).to_string();
        let changed = change_digit(&code, pos, delta);
        prop_assert_ne!(&changed, &code);
        let expected = reference(|st| totp.generate_step(st).to_string(), s.digits, &changed, center, s.window);
        if !matches!(expected, Expected::Match { .. }) {
            prop_assert_eq!(&expected, &Expected::Mismatch);
        }
        prop_assert_eq!(outcome(totp.verify(&changed, s.time, s.window), s.digits), expected);
    }

    #[test]
    fn arbitrary_input_never_panics_and_is_malformed_unless_all_digits(
        s in setup(),
        input in prop_oneof![
            any::<String>(),
            "[0-9]{0,10}",
            "[0-9 a\\-+.]{5,9}",
            "[\\x00-\\x7f]{6,8}",
            "[0-9\u{0660}-\u{0669}\u{ff10}-\u{ff19}]{5,8}",
        ],
    ) {
        let well_formed = input.len() == s.digits as usize && input.bytes().all(|b| b.is_ascii_digit());
        for result in [
            s.totp().verify(&input, s.time, s.window),
            s.hotp().verify(&input, s.time, s.window).map_err(CheckError::from),
        ] {
            let is_malformed = matches!(result, Err(CheckError::Malformed { expected }) if expected == s.digits);
            prop_assert_eq!(is_malformed, !well_formed);
        }
    }

    #[test]
    fn totp_agrees_with_the_reference(
        s in setup(),
        // A code from near the window (often inside it), or random digits.
        pick in prop_oneof![
            (-15i64..=15).prop_map(Some),
            Just(None),
        ],
        random in "[0-9]{6,8}",
    ) {
        let totp = s.totp();
        let center = totp.step_at(s.time).unwrap();
        let input = match pick.and_then(|o| center.checked_add_signed(o)) {
            Some(step) => totp.generate_step(step).to_string(),
            None => random,
        };
        let expected = reference(|st| totp.generate_step(st).to_string(), s.digits, &input, center, s.window);
        prop_assert_eq!(outcome(totp.verify(&input, s.time, s.window), s.digits), expected);
    }

    #[test]
    fn hotp_agrees_with_the_reference(
        s in setup(),
        counter in prop_oneof![any::<u64>(), 0u64..=12, (u64::MAX - 12)..=u64::MAX],
        pick in prop_oneof![(-15i64..=15).prop_map(Some), Just(None)],
        random in "[0-9]{6,8}",
    ) {
        let hotp = s.hotp();
        let input = match pick.and_then(|o| counter.checked_add_signed(o)) {
            Some(c) => hotp.generate(c).to_string(),
            None => random,
        };
        let expected = reference(|c| hotp.generate(c).to_string(), s.digits, &input, counter, s.window);
        prop_assert_eq!(outcome(hotp.verify(&input, counter, s.window), s.digits), expected);
    }
}

const EDGE_TIMES: [u64; 7] = [
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    20_000_000_000,
    253_402_300_799, // 9999-12-31T23:59:59Z
    u64::MAX,
];

fn sample_totps(t0: u64) -> Vec<Totp> {
    let mut all = Vec::new();
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let secret = Secret::from_bytes(&[0xa5; 32]).unwrap();
        for period in [1, 30, 7_919, u64::MAX] {
            all.push(
                Totp::builder(&secret)
                    .algorithm(algorithm)
                    .digits(8)
                    .period(period)
                    .t0(t0)
                    .build()
                    .unwrap(),
            );
        }
    }
    all
}

#[test]
fn edge_times_have_the_right_step_and_verify() {
    let wide = Window::new(Window::MAX, Window::MAX).unwrap();
    let mut checked = 0;
    for t0 in [0, 1_000_000_007] {
        for totp in sample_totps(t0) {
            for time in EDGE_TIMES {
                let step = totp.step_at(time).unwrap();
                assert_eq!(step, (time - t0) / totp.period(), "{totp:?} at {time}");
                let code = totp.generate(time).unwrap();
                assert_eq!(code.to_string(), totp.generate_step(step).to_string());
                for window in [Window::EXACT, Window::default(), wide] {
                    let m = totp.verify(&code.to_string(), time, window).unwrap();
                    // With distinct codes the match is the step itself; a
                    // later step with the same code would be reported instead.
                    assert!(m.offset() >= 0, "{totp:?} at {time}");
                    assert_eq!(totp.generate_step(m.step()).to_string(), code.to_string());
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 12 * EDGE_TIMES.len());
}

#[test]
fn time_before_t0_is_an_error_not_an_underflow() {
    for t0 in [1, 1_000, u64::MAX] {
        for totp in sample_totps(t0) {
            for time in [0, t0 - 1] {
                let before = TimeError::BeforeT0 { time, t0 };
                assert_eq!(totp.step_at(time), Err(before.clone()));
                assert_eq!(totp.generate(time).err(), Some(before.clone()));
                match totp.verify("00000000", time, Window::default()) {
                    Err(CheckError::Time(e)) => assert_eq!(e, before),
                    other => panic!("expected a time error, got {other:?}"),
                }
            }
            assert!(totp.generate(t0).is_ok());
        }
    }
}

#[test]
fn window_at_step_zero_never_looks_below_it() {
    let wide = Window::new(Window::MAX, Window::MAX).unwrap();
    for totp in sample_totps(0) {
        let center = totp.step_at(0).unwrap();
        assert_eq!(center, 0);
        for step in 0..=10 {
            let code = totp.generate_step(step).to_string();
            let expected = reference(|s| totp.generate_step(s).to_string(), 8, &code, 0, wide);
            assert_eq!(outcome(totp.verify(&code, 0, wide), 8), expected);
            assert!(matches!(expected, Expected::Match { offset, .. } if offset >= 0));
        }
    }
    let hotp = Hotp::new(&Secret::from_bytes(&[3; 20]).unwrap(), Algorithm::Sha1, 6).unwrap();
    let code = hotp.generate(0).to_string();
    let expected = reference(|c| hotp.generate(c).to_string(), 6, &code, 0, wide);
    assert_eq!(outcome(hotp.verify(&code, 0, wide), 6), expected);
    assert!(matches!(expected, Expected::Match { step: 0, offset: 0 }));
}

/// At the last step, the look-ahead steps do not exist. They must neither
/// overflow nor stand in for the last step: a code of step `u64::MAX` is
/// reported at offset 0, not at some offset beyond the end.
#[test]
fn window_at_the_last_step_never_wraps() {
    let wide = Window::new(Window::MAX, Window::MAX).unwrap();
    let secret = Secret::from_bytes(&[0x5a; 20]).unwrap();
    let totp = Totp::builder(&secret).period(1).build().unwrap();
    assert_eq!(totp.step_at(u64::MAX).unwrap(), u64::MAX);
    for back in 0..=12u64 {
        let step = u64::MAX - back;
        let code = totp.generate_step(step).to_string();
        let expected = reference(
            |s| totp.generate_step(s).to_string(),
            6,
            &code,
            u64::MAX,
            wide,
        );
        assert_eq!(outcome(totp.verify(&code, u64::MAX, wide), 6), expected);
        if back <= 10 {
            assert!(matches!(expected, Expected::Match { offset, .. } if offset <= 0));
        }
    }
    let hotp = Hotp::new(&secret, Algorithm::Sha256, 7).unwrap();
    let code = hotp.generate(u64::MAX).to_string();
    match hotp.verify(&code, u64::MAX, wide) {
        Ok(m) => assert_eq!((m.step(), m.offset()), (u64::MAX, 0)),
        other => panic!("expected a match at the last counter, got {other:?}"),
    }
    // The code from counter 0 is not reachable by wrapping around.
    let first = hotp.generate(0).to_string();
    let expected = reference(|c| hotp.generate(c).to_string(), 7, &first, u64::MAX, wide);
    assert_eq!(outcome(hotp.verify(&first, u64::MAX, wide), 7), expected);
}
