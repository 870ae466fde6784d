//! Secret handling, proven rather than promised:
//!
//! - every type that holds key material wipes it on drop (checked at compile
//!   time: the build fails if one stops implementing `ZeroizeOnDrop`);
//! - no `Debug` output of such a type, and no error about a secret, contains
//!   any run of the secret's bytes in any common encoding (raw, hex in either
//!   case, base32, base64, a decimal byte list);
//! - no `Debug` output or error contains a one-time code.
//!
//! That a `Secret` cannot be printed with `{}`, compared with `==` or
//! serialized is proven by the compile-fail tests in `tests/compile_fail/`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use otpguard::lifecycle::{
    Actor, Event, Lifecycle, LifecycleConfig, TokenRecord, TokenSerial, VecSink,
};
use otpguard::replay::MemoryGuard;
use otpguard::{
    Algorithm, Clock, FixedClock, Hotp, KeyUri, KeyUriBuilder, Secret, Totp, VerifyError, Window,
};
use proptest::prelude::*;
use zeroize::ZeroizeOnDrop;

/// Fails to compile if any key-holding type is not wiped on drop.
const _: fn() = || {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<Secret>();
    wiped_on_drop::<Hotp>();
    wiped_on_drop::<Totp>();
    wiped_on_drop::<otpguard::Code>();
    wiped_on_drop::<KeyUri>();
    wiped_on_drop::<KeyUriBuilder>();
    wiped_on_drop::<TokenRecord>();
    wiped_on_drop::<Event<'static>>();
};

/// A leak of this many consecutive secret bytes counts, in an encoding.
const RUN: usize = 4;
/// Raw bytes are compared as they are, so chance matches with the printable
/// text are far likelier: a longer run keeps random secrets from tripping it.
const RAW_RUN: usize = 6;

/// Every way `secret` could show up in `text`. Panics with the encoding
/// that matched.
fn assert_no_trace(text: &str, secret: &[u8]) {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let upper = text.to_ascii_uppercase();
    let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for run in secret.windows(RAW_RUN) {
        assert!(
            !bytes.windows(RAW_RUN).any(|w| w == run),
            "raw secret bytes {run:?} in {text:?}"
        );
    }
    for run in secret.windows(RUN) {
        let hex: String = run.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!lower.contains(&hex), "hex {hex} in {text:?}");
        let decimal = run.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
        assert!(
            !squashed.contains(&decimal),
            "byte list {decimal} in {text:?}"
        );
    }
    // Base32 and base64 text depends on where the encoding starts, so encode
    // from every starting byte of a group and look for every whole group.
    for start in 0..5.min(secret.len()) {
        let b32 = base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &secret[start..],
        );
        for chunk in b32.as_bytes().chunks_exact(8) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(!upper.contains(chunk), "base32 {chunk} in {text:?}");
        }
    }
    for start in 0..3.min(secret.len()) {
        for b64 in [
            STANDARD_NO_PAD.encode(&secret[start..]),
            URL_SAFE_NO_PAD.encode(&secret[start..]),
        ] {
            for chunk in b64.as_bytes().chunks_exact(8) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(!text.contains(chunk), "base64 {chunk} in {text:?}");
            }
        }
    }
}

/// The `Debug` output, compact and pretty, of every key-holding type built
/// from `secret`.
fn debug_outputs(secret: &Secret, algorithm: Algorithm) -> Vec<String> {
    let hotp = Hotp::new(secret, algorithm, 6).unwrap();
    let builder = Totp::builder(secret).algorithm(algorithm).digits(8);
    let totp = builder.clone().build().unwrap();
    let mut out = Vec::new();
    for text in [
        format!("{secret:?}"),
        format!("{hotp:?}"),
        format!("{builder:?}"),
        format!("{totp:?}"),
        format!("{:?}", secret.clone()),
        format!("{:?}", (&hotp, &totp)),
    ] {
        out.push(text);
    }
    out.push(format!("{secret:#?}"));
    out.push(format!("{hotp:#?}"));
    out.push(format!("{builder:#?}"));
    out.push(format!("{totp:#?}"));

    let uri_builder = KeyUri::builder(secret, "alice@example.com")
        .issuer("Example Bank")
        .algorithm(algorithm);
    out.push(format!("{uri_builder:?}"));
    let uri = uri_builder.build().unwrap();
    out.push(format!("{uri:?}"));
    out.push(format!("{uri:#?}"));

    // A record whose current token holds the secret, the event that put it
    // there, and the audit records it left.
    let clock = FixedClock::new(1_700_000_000);
    let config = LifecycleConfig::builder()
        .algorithm(algorithm)
        .build()
        .unwrap();
    let lc = Lifecycle::new(config, MemoryGuard::default(), &clock, VecSink::default());
    let code = Totp::builder(secret)
        .algorithm(algorithm)
        .build()
        .unwrap()
        .generate(clock.now())
        .unwrap()
        .to_string();
    let event = Event::Register {
        serial: TokenSerial::new("tok-1").unwrap(),
        secret: secret.clone(),
        code: &code,
    };
    out.push(format!("{event:?}"));
    let mut record = TokenRecord::new();
    lc.apply(&mut record, Actor::Customer, event).unwrap();
    assert!(record.serial().is_some(), "the record holds the token");
    out.push(format!("{record:?}"));
    out.push(format!("{record:#?}"));
    out.push(format!("{:?}", record.summary()));
    for audit in lc.audit_sink().take() {
        out.push(format!("{audit} {audit:?}"));
    }
    out
}

#[test]
fn the_checker_finds_each_encoding() {
    // The checker itself must be able to fail, or the tests below prove nothing.
    let secret = b"\x01\x02\x03\xfe\xfd\xfc\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0";
    let leaks = [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
        secret.iter().map(|b| format!("{b:02X}")).collect(),
        base32::encode(base32::Alphabet::Rfc4648 { padding: true }, &secret[1..]),
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret).to_lowercase(),
        STANDARD_NO_PAD.encode(&secret[2..]),
        URL_SAFE_NO_PAD.encode(secret),
        String::from_utf8_lossy(b"x\x10\x20\x30\x40\x50\x60y").into_owned(),
    ];
    for leak in leaks {
        let caught = std::panic::catch_unwind(|| assert_no_trace(&leak, secret));
        assert!(caught.is_err(), "not caught: {leak:?}");
    }
}

#[test]
fn debug_of_the_rfc_secret_has_no_trace_of_it() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    for text in debug_outputs(&secret, Algorithm::Sha1) {
        assert_no_trace(&text, secret.expose_secret());
    }
    assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn debug_of_key_holding_types_has_no_trace_of_the_secret(
        bytes in prop::collection::vec(any::<u8>(), Secret::MIN_LEN..=Secret::MAX_LEN),
        algorithm in prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        for text in debug_outputs(&secret, algorithm) {
            assert_no_trace(&text, &bytes);
        }
    }

    #[test]
    fn base32_errors_do_not_repeat_the_text(
        bytes in prop::collection::vec(any::<u8>(), 10..=40),
        bad in "[0189!@#=]",
        at in any::<prop::sample::Index>(),
    ) {
        let mut text = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &bytes);
        text.insert_str(at.index(text.len()), &bad);
        let err = Secret::from_base32(&text).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert_no_trace(&shown, &bytes);
            for chunk in text.as_bytes().chunks_exact(8) {
                prop_assert!(!shown.contains(std::str::from_utf8(chunk).unwrap()));
            }
        }
    }

    #[test]
    fn codes_do_not_appear_in_debug_or_errors(
        bytes in prop::collection::vec(any::<u8>(), 20..=64),
        counter in any::<u64>(),
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let hotp = Hotp::new(&secret, Algorithm::Sha1, 8).unwrap();
        let code = hotp.generate(counter);
        let shown = code.to_string();
        let debug = format!("{code:?} {code:#?}");
        prop_assert!(!debug.contains(&shown));
        // A wrong code and a malformed one: the error must not echo the input.
        let wrong = format!("{:08}", (code.value() + 1) % 100_000_000);
        let malformed = format!("{shown}9");
        for input in [&wrong, &malformed] {
            if let Err(err) = hotp.verify(input, counter, Window::EXACT) {
                let expected = matches!(err, VerifyError::Mismatch | VerifyError::Malformed { .. });
                prop_assert!(expected);
                let shown_err = format!("{err} {err:?}");
                prop_assert!(!shown_err.contains(input.as_str()));
            }
        }
        // A match reports the step and drift, never the code.
        let m = hotp.verify(&shown, counter, Window::EXACT).unwrap();
        let debug = format!("{m:?}");
        prop_assert!(!debug.contains(&shown));
    }
}

#[test]
fn length_errors_carry_only_lengths() {
    let short = [0xabu8; 15];
    let err = Secret::from_bytes(&short).unwrap_err();
    assert_no_trace(&format!("{err} {err:?}"), &short);
    let long = [0xcdu8; 257];
    let err = Secret::from_bytes(&long).unwrap_err();
    assert_no_trace(&format!("{err} {err:?}"), &long);
}
