//! `otpauth://` Key URIs: arbitrary text never panics when parsed, whatever
//! parses is read back identically from its own `to_uri` text, and whatever
//! the builder accepts is read back identically by the parser (generate, then
//! parse).

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::ocra::Suite;
use otpguard::{Algorithm, KeyUri, OtpKind, Secret, UriError};

/// Suites for the builder to carry: every kind of DataInput element, each
/// hash, a suite without truncation and the longest suite.
const SUITES: [&str; 6] = [
    "OCRA-1:HOTP-SHA1-6:QN08-T30S",
    "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
    "OCRA-1:HOTP-SHA512-8:QA10-T1M",
    "OCRA-1:HOTP-SHA1-4:QH64-S064",
    "OCRA-1:HOTP-SHA512-0:QA04",
    "OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S512-T59M",
];

#[derive(Debug, Arbitrary)]
struct Input {
    text: String,
    secret: Vec<u8>,
    account: String,
    issuer: Option<String>,
    hotp: bool,
    number: u64,
    algorithm: u8,
    digits: u32,
    suite: Option<u8>,
}

fuzz_target!(|x: Input| {
    if let Ok(uri) = KeyUri::parse(&x.text) {
        round_trip(&uri);
    }

    let Ok(secret) = Secret::from_bytes(&x.secret) else {
        return;
    };
    let kind = if x.hotp {
        OtpKind::Hotp { counter: x.number }
    } else {
        OtpKind::Totp { period: x.number }
    };
    let algorithm = match x.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let mut builder = KeyUri::builder(&secret, &x.account)
        .kind(kind)
        .algorithm(algorithm)
        .digits(x.digits);
    if let Some(issuer) = &x.issuer {
        builder = builder.issuer(issuer);
    }
    let suite = match x.suite {
        Some(i) => match Suite::parse(SUITES[usize::from(i) % SUITES.len()]) {
            Ok(suite) => Some(suite),
            Err(e) => panic!("a listed suite does not parse: {e}"),
        },
        None => None,
    };
    if let Some(suite) = suite {
        builder = builder.ocra_suite(suite);
    }
    match builder.build() {
        Ok(uri) => {
            assert_eq!(uri.secret().expose_secret(), secret.expose_secret());
            assert_eq!(
                (uri.account(), uri.issuer()),
                (x.account.as_str(), x.issuer.as_deref())
            );
            assert_eq!(
                (uri.kind(), uri.algorithm(), uri.digits()),
                (kind, algorithm, x.digits)
            );
            assert_eq!(uri.ocra_suite(), suite);
            round_trip(&uri);
        }
        Err(UriError::Name(_) | UriError::Param(_)) => {}
        Err(other) => panic!("unexpected error from build: {other:?}"),
    }
});

/// `uri` written out and parsed back is the same key, and writing that out
/// again gives the same text.
fn round_trip(uri: &KeyUri) {
    let text = uri.to_uri();
    let again = match KeyUri::parse(&text) {
        Ok(again) => again,
        Err(e) => panic!("own output does not parse: {e:?}"),
    };
    assert_eq!(again.secret().expose_secret(), uri.secret().expose_secret());
    assert_eq!(again.account(), uri.account());
    assert_eq!(again.issuer(), uri.issuer());
    assert_eq!(again.kind(), uri.kind());
    assert_eq!(again.algorithm(), uri.algorithm());
    assert_eq!(again.digits(), uri.digits());
    assert_eq!(again.ocra_suite(), uri.ocra_suite());
    assert_eq!(again.to_uri().as_str(), text.as_str());
    match uri.kind() {
        OtpKind::Totp { .. } => assert!(uri.to_totp().is_ok() && uri.to_hotp().is_err()),
        OtpKind::Hotp { .. } => assert!(uri.to_hotp().is_ok() && uri.to_totp().is_err()),
        _ => {}
    }
}
