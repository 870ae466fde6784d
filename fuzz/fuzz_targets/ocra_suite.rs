//! OCRA suite strings: arbitrary text never panics when parsed, and whatever
//! parses prints back as exactly the text it came from (the suite's text is
//! MACed, so a second spelling of a suite would be a second set of
//! responses). A parsed suite also computes a response for a fitting input
//! without panicking, and that response verifies.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpguard::ocra::{Input, Ocra, Pin, Suite, VerifyWindow};
use otpguard::Secret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(suite) = Suite::parse(text) else {
        return;
    };
    assert_eq!(suite.to_string(), text);
    assert_eq!(Suite::parse(&suite.to_string()), Ok(suite));

    let Ok(secret) = Secret::from_bytes(&[0x5a; 20]) else {
        return;
    };
    let ocra = Ocra::new(&secret, suite);
    let question = match suite.question_format() {
        otpguard::ocra::QuestionFormat::Numeric => "1234",
        otpguard::ocra::QuestionFormat::Hex => "abcd",
        _ => "SIG1",
    };
    let Ok(pin) = Pin::new(b"1234") else {
        return;
    };
    let session = vec![0u8; suite.session_len().unwrap_or(0)];
    let mut input = Input::new(question);
    if suite.has_counter() {
        input = input.counter(1);
    }
    if suite.pin().is_some() {
        input = input.pin(&pin);
    }
    if suite.session_len().is_some() {
        input = input.session(&session);
    }
    if suite.time_step().is_some() {
        input = input.time(1_700_000_000);
    }
    let response = match ocra.generate(&input) {
        Ok(r) => r,
        Err(e) => panic!("a fitting input was refused: {e:?}"),
    };
    assert!(ocra
        .verify(&response.to_string(), &input, VerifyWindow::EXACT)
        .is_ok());
});
