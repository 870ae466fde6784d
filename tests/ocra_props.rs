//! Properties of OCRA: every valid suite prints back as itself; no text
//! makes suite parsing panic, and whatever parses prints back identically;
//! no inputs make generation or verification panic, and what is generated
//! verifies; a match inside a window reports the counter and time step the
//! response was made for.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use otpguard::ocra::{Input, Ocra, Pin, ResponseError, Suite, VerifyWindow};
use otpguard::{Secret, Window};
use proptest::collection::vec;
use proptest::prelude::*;

const HASHES: [&str; 3] = ["SHA1", "SHA256", "SHA512"];

/// A valid suite's parts.
#[derive(Clone, Debug)]
struct Parts {
    hash: usize,
    digits: u8,
    counter: bool,
    format: char,
    question_len: u8,
    pin: Option<usize>,
    session: Option<u16>,
    time: Option<(char, u8)>,
}

impl Parts {
    fn text(&self) -> String {
        let mut s = format!("OCRA-1:HOTP-{}-{}:", HASHES[self.hash], self.digits);
        if self.counter {
            s.push_str("C-");
        }
        s.push_str(&format!("Q{}{:02}", self.format, self.question_len));
        if let Some(p) = self.pin {
            s.push_str(&format!("-P{}", HASHES[p]));
        }
        if let Some(len) = self.session {
            s.push_str(&format!("-S{len:03}"));
        }
        if let Some((unit, n)) = self.time {
            s.push_str(&format!("-T{n}{unit}"));
        }
        s
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        0..3usize,
        prop::sample::select(vec![0u8, 4, 5, 6, 7, 8, 9, 10]),
        any::<bool>(),
        prop::sample::select(vec!['A', 'N', 'H']),
        4u8..=64,
        prop::option::of(0..3usize),
        prop::option::of(1u16..=999),
        prop::option::of((prop::sample::select(vec!['S', 'M', 'H']), 1u8..=59)),
    )
        .prop_map(
            |(hash, digits, counter, format, question_len, pin, session, time)| Parts {
                hash,
                digits,
                counter,
                format,
                question_len,
                pin,
                session,
                time: time.map(|(u, n)| (u, if u == 'H' { 1 + (n - 1) % 48 } else { n })),
            },
        )
}

/// A question of `parts`' format, 1 to `question_len` characters.
fn question(format: char, max: u8) -> impl Strategy<Value = String> {
    let pattern = match format {
        'A' => format!("[0-9A-Za-z]{{1,{max}}}"),
        'N' => format!("[0-9]{{1,{max}}}"),
        _ => format!("[0-9a-fA-F]{{1,{max}}}"),
    };
    proptest::string::string_regex(&pattern).unwrap()
}

/// A suite with inputs that fit it.
fn fitting() -> impl Strategy<Value = (Parts, String, u64, Vec<u8>, Vec<u8>, u64, Vec<u8>)> {
    parts().prop_flat_map(|p| {
        let q = question(p.format, p.question_len);
        let session_len = usize::from(p.session.unwrap_or(0));
        (
            Just(p),
            q,
            any::<u64>(),
            vec(any::<u8>(), 1..40),
            vec(any::<u8>(), session_len),
            any::<u64>(),
            vec(any::<u8>(), 16..100),
        )
    })
}

fn input<'a>(
    suite: &Suite,
    question: &'a str,
    counter: u64,
    pin: &'a Pin,
    session: &'a [u8],
    time_step: u64,
) -> Input<'a> {
    let mut input = Input::new(question);
    if suite.has_counter() {
        input = input.counter(counter);
    }
    if suite.pin().is_some() {
        input = input.pin(pin);
    }
    if suite.session_len().is_some() {
        input = input.session(session);
    }
    if suite.time_step().is_some() {
        input = input.time_step(time_step);
    }
    input
}

/// One edit of a valid suite's text: a character removed, replaced or
/// inserted.
fn mutated() -> impl Strategy<Value = String> {
    (parts(), any::<usize>(), 0..3u8, any::<char>()).prop_map(|(p, at, op, c)| {
        let mut chars: Vec<char> = p.text().chars().collect();
        let i = at % chars.len();
        match op {
            0 => {
                chars.remove(i);
            }
            1 => chars[i] = c,
            _ => chars.insert(i, c),
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_suites_round_trip(p in parts()) {
        let text = p.text();
        let suite = Suite::parse(&text).unwrap();
        prop_assert_eq!(suite.to_string(), text.clone());
        prop_assert_eq!(Suite::parse(&suite.to_string()), Ok(suite));
        prop_assert_eq!(suite.has_counter(), p.counter);
        prop_assert_eq!(suite.question_len(), usize::from(p.question_len));
        prop_assert_eq!(suite.session_len(), p.session.map(usize::from));
        prop_assert_eq!(suite.digits(), u32::from(p.digits));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Ok(suite) = Suite::parse(&text) {
            prop_assert_eq!(suite.to_string(), text);
        }
    }

    #[test]
    fn near_suites_parse_only_if_canonical(text in mutated()) {
        if let Ok(suite) = Suite::parse(&text) {
            prop_assert_eq!(suite.to_string(), text);
        }
    }

    #[test]
    fn arbitrary_inputs_never_panic(
        p in parts(),
        q1 in any::<String>(),
        q2 in prop::option::of(any::<String>()),
        counter in prop::option::of(any::<u64>()),
        pin in prop::option::of(vec(any::<u8>(), 0..80)),
        pin_is_hash in any::<bool>(),
        session in prop::option::of(vec(any::<u8>(), 0..600)),
        time in prop::option::of(any::<u64>()),
        time_is_step in any::<bool>(),
        response in any::<String>(),
        counter_ahead in 0u32..120,
        behind in 0u32..12,
        ahead in 0u32..12,
    ) {
        let suite = Suite::parse(&p.text()).unwrap();
        let ocra = Ocra::new(&Secret::from_bytes(&[7; 20]).unwrap(), suite);
        let pin = pin.and_then(|b| if pin_is_hash { Pin::from_hash(&b).ok() } else { Pin::new(&b).ok() });
        let mut input = match &q2 {
            Some(q2) => Input::mutual(&q1, q2),
            None => Input::new(&q1),
        };
        if let Some(c) = counter { input = input.counter(c); }
        if let Some(pin) = &pin { input = input.pin(pin); }
        if let Some(s) = &session { input = input.session(s); }
        if let Some(t) = time {
            input = if time_is_step { input.time_step(t) } else { input.time(t) };
        }
        let generated = ocra.generate(&input);
        let _ = suite.data_input(&input);
        if let Ok(time) = Window::new(behind, ahead) {
            if let Ok(w) = VerifyWindow::new(counter_ahead, time) {
                let _ = ocra.verify(&response, &input, w);
            }
        }
        if let Ok(r) = generated {
            prop_assert!(ocra.verify(&r.to_string(), &input, VerifyWindow::EXACT).is_ok());
        }
    }

    #[test]
    fn what_is_generated_verifies_and_a_change_does_not(
        (p, q, counter, pin, session, step, key) in fitting(),
    ) {
        let suite = Suite::parse(&p.text()).unwrap();
        let ocra = Ocra::new(&Secret::from_bytes(&key).unwrap(), suite);
        let pin = Pin::new(&pin).unwrap();
        let input = input(&suite, &q, counter, &pin, &session, step);
        let r = ocra.generate(&input).unwrap().to_string();
        prop_assert!(ocra.verify(&r, &input, VerifyWindow::EXACT).is_ok());
        let mut wrong = r.clone().into_bytes();
        wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).unwrap();
        prop_assert_eq!(ocra.verify(&wrong, &input, VerifyWindow::EXACT), Err(ResponseError::Mismatch));
        let too_long = format!("{r}0");
        let malformed = matches!(
            ocra.verify(&too_long, &input, VerifyWindow::EXACT),
            Err(ResponseError::Malformed { .. })
        );
        prop_assert!(malformed);
    }

    #[test]
    fn a_window_match_reports_the_candidate(
        (mut p, q, counter, pin, session, step, key) in fitting(),
        dc in 0u64..=6,
        dt in -2i64..=2,
        wide in any::<bool>(),
    ) {
        // Long responses, so that two candidates of the window sharing a
        // response (which would report the later one) is out of the question.
        p.digits = if wide { 10 } else { 0 };
        p.counter = true;
        p.time.get_or_insert(('S', 30));
        let suite = Suite::parse(&p.text()).unwrap();
        let ocra = Ocra::new(&Secret::from_bytes(&key).unwrap(), suite);
        let pin = Pin::new(&pin).unwrap();
        let counter = counter % (u64::MAX - 10);
        let step = step % (u64::MAX - 10) + 2;
        let made = input(&suite, &q, counter + dc, &pin, &session, step.checked_add_signed(dt).unwrap());
        let r = ocra.generate(&made).unwrap().to_string();

        let checked = input(&suite, &q, counter, &pin, &session, step);
        let window = VerifyWindow::new(6, Window::new(2, 2).unwrap()).unwrap();
        let m = ocra.verify(&r, &checked, window).unwrap();
        prop_assert_eq!(m.counter(), Some(counter + dc));
        prop_assert_eq!(m.time_step(), step.checked_add_signed(dt));
        prop_assert_eq!(m.time_offset(), Some(dt));

        // Outside the window: refused.
        let past = input(&suite, &q, counter + dc + 1, &pin, &session, step);
        prop_assert_eq!(ocra.verify(&r, &past, window), Err(ResponseError::Mismatch));
    }
}

#[test]
fn counters_and_steps_at_the_edge_of_u64_never_match_by_wrapping() {
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-8:C-QN08-T1S").unwrap();
    let ocra = Ocra::new(&Secret::from_bytes(&[1; 20]).unwrap(), suite);
    // The response for counter 0 and step 0 is not found by a window that
    // would wrap past u64::MAX to reach them.
    let r = ocra
        .generate(&Input::new("1234").counter(0).time_step(0))
        .unwrap()
        .to_string();
    let at_edge = Input::new("1234").counter(u64::MAX).time_step(u64::MAX);
    let window = VerifyWindow::new(5, Window::new(0, 5).unwrap()).unwrap();
    assert_eq!(
        ocra.verify(&r, &at_edge, window),
        Err(ResponseError::Mismatch)
    );
    let r = ocra.generate(&at_edge).unwrap().to_string();
    let m = ocra.verify(&r, &at_edge, window).unwrap();
    assert_eq!(
        (m.counter(), m.time_step()),
        (Some(u64::MAX), Some(u64::MAX))
    );
    // Step 0 minus a look-behind is not a step either: only step 0 matches.
    let zero = Input::new("1234").counter(0).time_step(0);
    let r = ocra.generate(&zero).unwrap().to_string();
    let m = ocra
        .verify(&r, &zero, VerifyWindow::time(Window::new(3, 0).unwrap()))
        .unwrap();
    assert_eq!((m.time_step(), m.time_offset()), (Some(0), Some(0)));
}
