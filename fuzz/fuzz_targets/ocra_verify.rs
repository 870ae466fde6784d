//! OCRA verification against a brute-force oracle: arbitrary suites (hash,
//! digits, counter, question format and length, time step), keys,
//! counters, questions, times, windows and submitted responses. A response
//! is accepted exactly when some candidate of the window (counter
//! look-ahead × time steps) generates it, and the candidate reported is the
//! latest such one (highest counter, then latest step); a response the
//! generator just produced for a candidate inside the window always
//! verifies; nothing panics.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::ocra::{ResponseError, Input, Ocra, Suite, VerifyWindow};
use otpguard::{Secret, Window};

#[derive(Debug, Arbitrary)]
struct Case {
    hash: u8,
    digits: u8,
    counter: Option<u64>,
    format: u8,
    question_len: u8,
    question: Vec<u8>,
    /// (count, unit) of the time step, if the suite has one.
    time_step: Option<(u8, u8)>,
    key: Vec<u8>,
    now: u64,
    behind: u8,
    ahead: u8,
    counter_ahead: u8,
    response: Submitted,
}

#[derive(Debug, Arbitrary)]
enum Submitted {
    /// The response the token gives for the candidate `dc` counters and
    /// `rel` steps from the verifier's (possibly outside the window).
    Generated { dc: u8, rel: i8 },
    /// Any text.
    Raw(String),
}

fuzz_target!(|x: Case| {
    let hash = ["SHA1", "SHA256", "SHA512"][usize::from(x.hash % 3)];
    let digits = 4 + x.digits % 7;
    let (letter, alphabet): (char, &[u8]) = match x.format % 3 {
        0 => ('N', b"0123456789"),
        1 => ('H', b"0123456789abcdef"),
        _ => (
            'A',
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ),
    };
    let question_len = 4 + usize::from(x.question_len % 61);
    let time = x.time_step.map(|(count, unit)| match unit % 3 {
        0 => (format!("{}S", 1 + count % 59), 1 + u64::from(count % 59)),
        1 => (
            format!("{}M", 1 + count % 59),
            60 * (1 + u64::from(count % 59)),
        ),
        _ => (
            format!("{}H", 1 + count % 48),
            3_600 * (1 + u64::from(count % 48)),
        ),
    });
    let text = format!(
        "OCRA-1:HOTP-{hash}-{digits}:{}Q{letter}{question_len:02}{}",
        if x.counter.is_some() { "C-" } else { "" },
        time.as_ref()
            .map(|(t, _)| format!("-T{t}"))
            .unwrap_or_default(),
    );
    let suite = Suite::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    // At least the 16 bytes a secret needs.
    let mut key = x.key.clone();
    key.resize(key.len().max(16), 0x5a);
    let Ok(secret) = Secret::from_bytes(&key) else {
        return;
    };
    let ocra = Ocra::new(&secret, suite);

    // A question of the suite's format, 1 to its length.
    let mut question: String = x
        .question
        .iter()
        .take(question_len)
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect();
    if question.is_empty() {
        question.push('7');
    }
    let step_seconds = time.as_ref().map(|(_, s)| *s);
    let now_step = step_seconds.map(|s| x.now / s);
    let behind = u32::from(x.behind % 4);
    let ahead = u32::from(x.ahead % 4);
    let counter_ahead = if x.counter.is_some() {
        u32::from(x.counter_ahead % 4)
    } else {
        0
    };
    let time_window = if now_step.is_some() {
        Window::new(behind, ahead).expect("within the cap")
    } else {
        Window::EXACT
    };
    let window = VerifyWindow::new(counter_ahead, time_window).expect("within the cap");

    // The candidate (counter, step) -> the response the token gives for it.
    let respond = |counter: Option<u64>, step: Option<u64>| {
        let mut input = Input::new(&question);
        if let Some(c) = counter {
            input = input.counter(c);
        }
        if let Some(t) = step {
            input = input.time_step(t);
        }
        ocra.generate(&input)
            .unwrap_or_else(|e| panic!("{text}: a fitting input refused: {e:?}"))
            .to_string()
    };

    let submitted = match &x.response {
        Submitted::Generated { dc, rel } => {
            let c = x.counter.map(|c| c.checked_add(u64::from(*dc % 6)));
            let t = now_step.map(|t| t.checked_add_signed(i64::from(*rel % 6)));
            match (c, t) {
                (Some(None), _) | (_, Some(None)) => return,
                (c, t) => respond(c.flatten(), t.flatten()),
            }
        }
        Submitted::Raw(text) => text.clone(),
    };

    // The oracle: every candidate of the window, in order; the last match
    // is the one to report.
    let mut expected = None;
    for dc in 0..=u64::from(counter_ahead) {
        let c = match x.counter.map(|c| c.checked_add(dc)) {
            Some(None) => continue,
            other => other.flatten(),
        };
        for rel in -i64::from(if now_step.is_some() { behind } else { 0 })
            ..=i64::from(if now_step.is_some() { ahead } else { 0 })
        {
            let t = match now_step.map(|t| t.checked_add_signed(rel)) {
                Some(None) => continue,
                other => other.flatten(),
            };
            if respond(c, t) == submitted {
                expected = Some((c, t, rel));
            }
        }
    }

    let mut input = Input::new(&question);
    if let Some(c) = x.counter {
        input = input.counter(c);
    }
    if now_step.is_some() {
        input = input.time(x.now);
    }
    match (ocra.verify(&submitted, &input, window), expected) {
        (Ok(m), Some((c, t, rel))) => {
            assert_eq!(m.counter(), c, "{text}");
            assert_eq!(m.time_step(), t, "{text}");
            assert_eq!(m.time_offset(), t.map(|_| rel), "{text}");
        }
        (Err(ResponseError::Mismatch | ResponseError::Malformed { .. }), None) => {}
        (got, want) => panic!("{text}: verify said {got:?}, the oracle {want:?}"),
    }
});
