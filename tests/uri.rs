//! `otpauth://` Key URIs: build → parse round trips, URIs written by other
//! implementations, every malformed case with its typed error, and that
//! neither errors nor `Debug` ever show the secret.

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use otpguard::ocra::{Input, Ocra, Pin, Suite};
use otpguard::{
    Algorithm, Hotp, KeyUri, OtpKind, ParamError, Secret, SecretError, Totp, UriError, Window,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Base32 of the RFC 4226 secret "12345678901234567890".
const B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn rfc_secret() -> Secret {
    Secret::from_bytes(b"12345678901234567890").unwrap()
}

#[test]
fn parses_what_pyotp_writes() {
    // pyotp 2.12.1: TOTP(B32, digits=8, digest=sha256).provisioning_uri(
    //   name="alice@example.com", issuer_name="Example Bank")
    let uri = KeyUri::parse(
        "otpauth://totp/Example%20Bank:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Example%20Bank&algorithm=SHA256&digits=8",
    )
    .unwrap();
    assert_eq!(uri.account(), "alice@example.com");
    assert_eq!(uri.issuer(), Some("Example Bank"));
    assert_eq!(uri.algorithm(), Algorithm::Sha256);
    assert_eq!(uri.digits(), 8);
    assert_eq!(uri.kind(), OtpKind::Totp { period: 30 });
    assert_eq!(uri.secret().expose_secret(), b"12345678901234567890");

    // pyotp 2.12.1: HOTP(B32).provisioning_uri(name="ab c", issuer_name="Ex & Co",
    //   initial_count=5)
    let uri = KeyUri::parse(
        "otpauth://hotp/Ex%20%26%20Co:ab%20c?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Ex%20%26%20Co&counter=5",
    )
    .unwrap();
    assert_eq!((uri.issuer(), uri.account()), (Some("Ex & Co"), "ab c"));
    assert_eq!(uri.kind(), OtpKind::Hotp { counter: 5 });
    assert_eq!(uri.algorithm(), Algorithm::Sha1);
    // RFC 4226 Appendix D, counter 5.
    assert_eq!(uri.to_hotp().unwrap().generate(5).to_string(), "254676");
}

#[test]
fn writes_every_parameter_in_the_expected_form() {
    let uri = KeyUri::builder(&rfc_secret(), "alice@example.com")
        .issuer("Bank & Co")
        .algorithm(Algorithm::Sha512)
        .digits(7)
        .kind(OtpKind::Totp { period: 60 })
        .build()
        .unwrap();
    assert_eq!(
        uri.to_uri().as_str(),
        "otpauth://totp/Bank%20%26%20Co:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Bank%20%26%20Co&algorithm=SHA512&digits=7&period=60"
    );
    let hotp = KeyUri::builder(&rfc_secret(), "a+b/c?d#e")
        .kind(OtpKind::Hotp { counter: 42 })
        .build()
        .unwrap();
    assert_eq!(
        hotp.to_uri().as_str(),
        "otpauth://hotp/a%2Bb%2Fc%3Fd%23e?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &algorithm=SHA1&digits=6&counter=42"
    );
}

#[test]
fn the_googles_example_secret_is_too_short_for_this_library() {
    // The Key Uri Format's own example carries an 80-bit secret, below the
    // 128 bits RFC 4226 requires.
    let err = KeyUri::parse(
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
    )
    .err();
    assert_eq!(
        err,
        Some(UriError::Secret(SecretError::TooShort { len: 10, min: 16 }))
    );
}

#[test]
fn lenient_where_it_cannot_change_the_key() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        // scheme, type and parameter names in any case
        (
            "OTPAUTH://TOTP/Bank:alice?SECRET=B32&Issuer=Bank",
            Some("Bank"),
            "alice",
        ),
        // parameter names percent-encoded, read as their decoded names
        (
            "otpauth://totp/Bank:alice?%73ecret=B32&%69ssuer=Bank",
            Some("Bank"),
            "alice",
        ),
        // the separator escaped, spaces after it
        (
            "otpauth://totp/Bank%3Aalice?secret=B32",
            Some("Bank"),
            "alice",
        ),
        (
            "otpauth://totp/Bank:%20%20alice?secret=B32",
            Some("Bank"),
            "alice",
        ),
        // issuer only in the parameter, or only in the label
        (
            "otpauth://totp/alice?secret=B32&issuer=Bank",
            Some("Bank"),
            "alice",
        ),
        (
            "otpauth://totp/Bank:alice?secret=B32",
            Some("Bank"),
            "alice",
        ),
        ("otpauth://totp/alice?secret=B32", None, "alice"),
        // unknown parameters, even repeated; empty pairs; a fragment
        (
            "otpauth://totp/alice?image=https%3A%2F%2Fx%2Fa.png&secret=B32&image=x&color=red&&",
            None,
            "alice",
        ),
        ("otpauth://totp/alice?secret=B32#anything", None, "alice"),
        // '+' is a literal plus, as RFC 3986 and pyotp read it
        (
            "otpauth://totp/A+B:alice?secret=B32&issuer=A+B",
            Some("A+B"),
            "alice",
        ),
        // non-ASCII names, raw or escaped
        (
            "otpauth://totp/Bänk:%C3%A9lise?secret=B32&issuer=B%C3%A4nk",
            Some("Bänk"),
            "élise",
        ),
        // the secret as people write it: lower case, padded, grouped
        (
            "otpauth://totp/alice?secret=gezd%20gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
            None,
            "alice",
        ),
        (
            "otpauth://totp/alice?secret=AAAQEAYEAUDAOCAJBIFQYDIOB4%3D%3D%3D%3D%3D%3D",
            None,
            "alice",
        ),
        (
            "otpauth://totp/alice?secret=AAAQEAYEAUDAOCAJBIFQYDIOB4======",
            None,
            "alice",
        ),
        // period on HOTP and counter on TOTP mean nothing and are ignored
        (
            "otpauth://totp/alice?secret=B32&counter=oops",
            None,
            "alice",
        ),
    ];
    for (text, issuer, account) in cases {
        let text = text.replace("B32", B32);
        let uri = KeyUri::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((uri.issuer(), uri.account()), (*issuer, *account), "{text}");
        assert!(uri.secret().len() >= 16);
    }
    for (name, algorithm) in [
        ("sha1", Algorithm::Sha1),
        ("SHA-1", Algorithm::Sha1),
        ("Sha256", Algorithm::Sha256),
        ("sha-512", Algorithm::Sha512),
        ("SHA%2D512", Algorithm::Sha512),
    ] {
        let uri = KeyUri::parse(&format!("otpauth://totp/a?secret={B32}&algorithm={name}"));
        assert_eq!(uri.unwrap().algorithm(), algorithm, "{name}");
    }
    let hotp = KeyUri::parse(&format!("otpauth://hotp/a?secret={B32}&counter=7&period=x")).unwrap();
    assert_eq!(hotp.kind(), OtpKind::Hotp { counter: 7 });
}

#[test]
fn malformed_uris_get_typed_errors() {
    use UriError::*;
    #[rustfmt::skip]
    let cases: Vec<(&str, UriError)> = vec![
        ("", Scheme),
        ("http://totp/alice?secret=B32", Scheme),
        ("otpauth:/totp/alice?secret=B32", Scheme),
        ("otpauth:", Scheme),
        ("otpauthé://totp/a", Scheme),
        ("otpauth://motp/alice?secret=B32", Type),
        ("otpauth://?secret=B32", Type),
        ("otpauth:///alice?secret=B32", Type),
        ("otpauth://totp", Label),
        ("otpauth://totp?secret=B32", Label),
        ("otpauth://totp/?secret=B32", Label),
        ("otpauth://totp/:alice?secret=B32", Name("issuer")),
        ("otpauth://totp/Bank:?secret=B32", Name("account")),
        ("otpauth://totp/Bank:%20?secret=B32", Name("account")),
        ("otpauth://totp/Bank:a:b?secret=B32", Name("account")),
        ("otpauth://totp/Bank%3Aa%3Ab?secret=B32", Name("account")),
        ("otpauth://totp/al%0Aice?secret=B32", Name("account")),
        ("otpauth://totp/%09alice?secret=B32", Name("account")),
        ("otpauth://totp/alice?secret=B32&issuer=", Name("issuer")),
        ("otpauth://totp/alice?secret=B32&issuer=A%3AB", Name("issuer")),
        ("otpauth://totp/alice?secret=B32&issuer=%20Bank", Name("issuer")),
        ("otpauth://totp/B%07nk:alice?secret=B32", Name("issuer")),
        ("otpauth://totp/al%zzice?secret=B32", Encoding("label")),
        ("otpauth://totp/alice%4?secret=B32", Encoding("label")),
        ("otpauth://totp/alice%?secret=B32", Encoding("label")),
        ("otpauth://totp/alice?secret=GEZD%G", Encoding("secret")),
        ("otpauth://totp/alice?secret=B32&issuer=50%", Encoding("issuer")),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA%2", Encoding("algorithm")),
        ("otpauth://totp/al%FFice?secret=B32", Utf8("label")),
        ("otpauth://totp/alice?secret=B32&issuer=%C3%28", Utf8("issuer")),
        ("otpauth://totp/alice?secret=%FFB32", Utf8("secret")),
        ("otpauth://totp/alice?secret=B32&secret=B32", Duplicate("secret")),
        ("otpauth://totp/alice?secret=B32&DIGITS=6&digits=6", Duplicate("digits")),
        ("otpauth://totp/alice?secret=B32&issuer=A&issuer=A", Duplicate("issuer")),
        ("otpauth://totp/alice?secret=B32&period=30&period=60", Duplicate("period")),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA1&algorithm=SHA1", Duplicate("algorithm")),
        ("otpauth://hotp/alice?secret=B32&counter=1&counter=1", Duplicate("counter")),
        // Names compare decoded, as URL libraries read them.
        ("otpauth://totp/alice?%73ecret=B32&secret=B32", Duplicate("secret")),
        ("otpauth://totp/alice?secret=B32&%73ecret=B32", Duplicate("secret")),
        ("otpauth://totp/alice?secret=B32&%69ssuer=A&issuer=A", Duplicate("issuer")),
        ("otpauth://totp/alice?secret=B32&%64igits=6&DIGITS=6", Duplicate("digits")),
        ("otpauth://totp/alice?secret=B32&%zzfoo=1", Encoding("parameter name")),
        ("otpauth://totp/alice?secret=B32&%FF=1", Utf8("parameter name")),
        ("otpauth://totp/alice?secret=B32&algorithm=MD5", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA384", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=S-H-A-1", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA1-", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA--256", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&algorithm=SHA%20512", UnknownAlgorithm),
        ("otpauth://totp/alice?secret=B32&digits=9", Param(ParamError::Digits(9))),
        ("otpauth://totp/alice?secret=B32&digits=0", Param(ParamError::Digits(0))),
        ("otpauth://totp/alice?secret=B32&digits=4294967296", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&digits=six", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&digits=+6", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&digits=%36", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&digits=", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&digits", Invalid("digits")),
        ("otpauth://totp/alice?secret=B32&period=0", Param(ParamError::ZeroPeriod)),
        ("otpauth://totp/alice?secret=B32&period=-30", Invalid("period")),
        ("otpauth://totp/alice?secret=B32&period=30s", Invalid("period")),
        ("otpauth://totp/alice?secret=B32&period=18446744073709551616", Invalid("period")),
        ("otpauth://hotp/alice?secret=B32&counter=-1", Invalid("counter")),
        ("otpauth://hotp/alice?secret=B32&counter= 1", Invalid("counter")),
        ("otpauth://totp/Bank:alice?secret=B32&issuer=Other", IssuerMismatch),
        ("otpauth://totp/Bank:alice?secret=B32&issuer=bank", IssuerMismatch),
        ("otpauth://totp/alice", Missing("secret")),
        ("otpauth://totp/alice?issuer=Bank", Missing("secret")),
        ("otpauth://totp/alice?secret=", Missing("secret")),
        ("otpauth://totp/alice?secret", Missing("secret")),
        ("otpauth://hotp/alice?secret=B32", Missing("counter")),
        ("otpauth://hotp/alice?secret=B32&period=30", Missing("counter")),
        ("otpauth://totp/alice?secret=GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ",
            Secret(SecretError::InvalidBase32 { reason: "character outside the base32 alphabet (A-Z, 2-7)" })),
        ("otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA",
            Secret(SecretError::InvalidBase32 { reason: "length is not a whole number of bytes" })),
        ("otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV",
            Secret(SecretError::TooShort { len: 15, min: 16 })),
    ];
    for (text, want) in cases {
        let text = text.replace("B32", B32);
        let got = KeyUri::parse(&text).err();
        assert_eq!(got.as_ref(), Some(&want), "{text}");
        // No error shows the secret, nor any other text from the URI.
        for shown in [want.to_string(), format!("{want:?}")] {
            assert!(!shown.contains("GEZDGNBV"), "{text}: {shown}");
            assert!(!shown.contains("alice"), "{text}: {shown}");
        }
    }
}

#[test]
fn builder_refuses_what_it_could_not_write_unambiguously() {
    let s = rfc_secret();
    for account in ["", " alice", "\talice", "a:b", "a\nb", "a\u{7f}b"] {
        assert_eq!(
            KeyUri::builder(&s, account).build().err(),
            Some(UriError::Name("account")),
            "{account:?}"
        );
    }
    for issuer in ["", " Bank", "Bank:EU", "Ba\rnk"] {
        assert_eq!(
            KeyUri::builder(&s, "alice").issuer(issuer).build().err(),
            Some(UriError::Name("issuer")),
            "{issuer:?}"
        );
    }
    assert_eq!(
        KeyUri::builder(&s, "alice").digits(5).build().err(),
        Some(UriError::Param(ParamError::Digits(5)))
    );
    assert_eq!(
        KeyUri::builder(&s, "alice")
            .kind(OtpKind::Totp { period: 0 })
            .build()
            .err(),
        Some(UriError::Param(ParamError::ZeroPeriod))
    );
    // HOTP counters have no forbidden value.
    for counter in [0, u64::MAX] {
        let uri = KeyUri::builder(&s, "alice")
            .kind(OtpKind::Hotp { counter })
            .build()
            .unwrap();
        assert_eq!(
            KeyUri::parse(&uri.to_uri()).unwrap().kind(),
            OtpKind::Hotp { counter }
        );
    }
}

#[test]
fn generators_match_the_key_and_refuse_the_other_type() {
    let secret = Secret::from_bytes(b"12345678901234567890123456789012").unwrap();
    let uri = KeyUri::builder(&secret, "alice")
        .algorithm(Algorithm::Sha256)
        .digits(8)
        .build()
        .unwrap();
    let totp = uri.to_totp().unwrap();
    // RFC 6238 Appendix B, SHA-256 at time 59.
    assert_eq!(totp.generate(59).unwrap().to_string(), "46119246");
    assert_eq!(
        totp.verify("46119246", 59, Window::EXACT).unwrap().step(),
        1
    );
    assert_eq!(
        uri.to_hotp().err(),
        Some(UriError::WrongType { expected: "hotp" })
    );
    let hotp_uri = KeyUri::builder(&rfc_secret(), "alice")
        .kind(OtpKind::Hotp { counter: 0 })
        .build()
        .unwrap();
    assert_eq!(
        hotp_uri.to_hotp().unwrap().generate(1).to_string(),
        "287082"
    );
    assert_eq!(
        hotp_uri.to_totp().err(),
        Some(UriError::WrongType { expected: "totp" })
    );
}

#[test]
fn debug_never_shows_the_secret() {
    let uri = KeyUri::builder(&rfc_secret(), "alice")
        .issuer("Bank")
        .build()
        .unwrap();
    let builder = KeyUri::builder(&rfc_secret(), "alice");
    for shown in [
        format!("{uri:?}"),
        format!("{uri:#?}"),
        format!("{builder:?}"),
    ] {
        assert!(shown.contains("[REDACTED]"), "{shown}");
        assert!(!shown.contains(B32) && !shown.contains("GEZD"), "{shown}");
        assert!(
            !shown.contains("12345") && !shown.contains("49, 50"),
            "{shown}"
        );
    }
    assert!(format!("{uri:?}").contains("alice"));
}

/// Suites covering every DataInput element: counter, each question format,
/// each PIN hash, session lengths, time steps in each unit, and no
/// truncation.
const SUITES: [&str; 9] = [
    "OCRA-1:HOTP-SHA1-6:QN08-T30S",
    "OCRA-1:HOTP-SHA1-6:QN08",
    "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
    "OCRA-1:HOTP-SHA256-6:QH64-T1M",
    "OCRA-1:HOTP-SHA512-8:C-QH64-S064",
    "OCRA-1:HOTP-SHA1-4:QA10-PSHA256-S512-T48H",
    "OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S512-T59M",
    "OCRA-1:HOTP-SHA256-0:QA04",
    "OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1-S064-T1M",
];

fn suite(text: &str) -> Suite {
    Suite::parse(text).unwrap()
}

#[test]
fn an_ocra_suite_is_written_as_its_encoded_text_and_read_back() {
    let uri = KeyUri::builder(&rfc_secret(), "alice@example.com")
        .issuer("Example Bank")
        .ocra_suite(suite("OCRA-1:HOTP-SHA1-6:QN08-T30S"))
        .build()
        .unwrap();
    assert_eq!(
        uri.to_uri().as_str(),
        "otpauth://totp/Example%20Bank:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Example%20Bank&algorithm=SHA1&digits=6&period=30\
         &ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T30S"
    );
    for kind in [OtpKind::Totp { period: 60 }, OtpKind::Hotp { counter: 9 }] {
        for text in SUITES {
            let built = KeyUri::builder(&rfc_secret(), "alice")
                .kind(kind)
                .ocra_suite(suite(text))
                .build()
                .unwrap();
            assert_eq!(built.ocra_suite(), Some(suite(text)), "{text}");
            let written = built.to_uri();
            let parsed = KeyUri::parse(&written).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.ocra_suite(), Some(suite(text)), "{text}");
            assert_eq!(parsed.ocra_suite().unwrap().to_string(), text);
            assert_eq!(parsed.kind(), kind, "{text}");
            assert_eq!(parsed.to_uri().as_str(), written.as_str(), "{text}");
            // The suite's ':' are escaped, as in names; the suite adds a
            // parameter and changes nothing else.
            let query = written.split_once('?').unwrap().1;
            assert!(!query.contains(':'), "{query}");
            let without = KeyUri::builder(&rfc_secret(), "alice")
                .kind(kind)
                .build()
                .unwrap();
            let suffix = format!("&ocrasuite={}", text.replace(':', "%3A"));
            assert_eq!(
                written.strip_suffix(suffix.as_str()),
                Some(without.to_uri().as_str()),
                "{text}"
            );
        }
    }
}

#[test]
fn an_ocra_suite_read_from_text_is_decoded_wherever_it_stands() {
    let secret = Secret::from_bytes(b"12345678901234567890123456789012").unwrap();
    let b32 = secret.to_base32();
    let b32 = b32.as_str();
    let want = suite("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1");
    for text in [
        // escaped as this library writes it, or with raw ':' as a hand-written URI might
        format!("otpauth://totp/alice?ocrasuite=OCRA-1%3AHOTP-SHA256-8%3AC-QN08-PSHA1&secret={b32}"),
        format!("otpauth://totp/alice?secret={b32}&ocrasuite=OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"),
        format!("otpauth://hotp/alice?secret={b32}&OcraSuite=OCRA-1%3aHOTP-SHA256-8%3aC-QN08-PSHA1&counter=0"),
        format!("otpauth://totp/alice?secret={b32}&%6Fcrasuite=%4FCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"),
    ] {
        let uri = KeyUri::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(uri.ocra_suite(), Some(want), "{text}");
        // The suite works with the URI's secret: RFC 6287 Appendix C.1,
        // counter 1, question 12345678, PIN 1234.
        let ocra = Ocra::new(uri.secret(), uri.ocra_suite().unwrap());
        let pin = Pin::from_hash(&[
            0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4, 0xa3, 0x90, 0xb0, 0xa5,
            0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20,
        ])
        .unwrap();
        let response = ocra
            .generate(&Input::new("12345678").counter(1).pin(&pin))
            .unwrap();
        assert_eq!(response.to_string(), "86775851");
    }
}

#[test]
fn a_uri_without_ocrasuite_carries_no_suite() {
    for text in [
        format!("otpauth://totp/alice?secret={B32}"),
        format!("otpauth://hotp/Bank:alice?secret={B32}&issuer=Bank&counter=3"),
        // Near misses are unknown parameters, ignored as any other.
        format!("otpauth://totp/alice?secret={B32}&ocra=OCRA-1%3AHOTP-SHA1-6%3AQN08"),
        format!("otpauth://totp/alice?secret={B32}&ocrasuite_=OCRA-1%3AHOTP-SHA1-6%3AQN08"),
        format!("otpauth://totp/alice?secret={B32}&suite=OCRA-1%3AHOTP-SHA1-6%3AQN08"),
    ] {
        let uri = KeyUri::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(uri.ocra_suite(), None, "{text}");
        assert!(!uri.to_uri().contains("ocrasuite"), "{text}");
    }
    let built = KeyUri::builder(&rfc_secret(), "alice").build().unwrap();
    assert_eq!(built.ocra_suite(), None);
    assert!(!built.to_uri().contains("ocrasuite"));
}

#[test]
fn a_malformed_or_repeated_ocrasuite_is_refused() {
    use UriError::*;
    #[rustfmt::skip]
    let cases: Vec<(&str, UriError)> = vec![
        ("otpauth://totp/alice?secret=B32&ocrasuite=", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=alice", Invalid("ocrasuite")),
        // one spelling only: lower case, a short question length, a wrong order
        ("otpauth://totp/alice?secret=B32&ocrasuite=ocra-1%3Ahotp-sha1-6%3Aqn08", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN8", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T30S-PSHA1", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-2%3AHOTP-SHA1-6%3AQN08", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-MD5-6%3AQN08", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-3%3AQN08", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T60M", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-S64", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08%20", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08+", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08%3A", Invalid("ocrasuite")),
        ("otpauth://hotp/alice?secret=B32&counter=0&ocrasuite=OCRA-1%3AHOTP-SHA1-6", Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Invalid("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN0%", Encoding("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08%FF", Utf8("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08\
            &ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08", Duplicate("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08\
            &ocrasuite=OCRA-1%3AHOTP-SHA256-8%3AQN08", Duplicate("ocrasuite")),
        ("otpauth://totp/alice?secret=B32&OCRASUITE=OCRA-1%3AHOTP-SHA1-6%3AQN08\
            &%6Fcrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08", Duplicate("ocrasuite")),
        // a repeat is refused even when one of the two is empty
        ("otpauth://hotp/alice?secret=B32&counter=1&ocrasuite=&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08",
            Duplicate("ocrasuite")),
    ];
    for (text, want) in cases {
        let text = text.replace("B32", B32);
        let got = KeyUri::parse(&text).err();
        assert_eq!(got.as_ref(), Some(&want), "{text}");
        // The error names the parameter and quotes nothing of the URI.
        for shown in [want.to_string(), format!("{want:?}")] {
            assert!(shown.contains("ocrasuite"), "{text}: {shown}");
            assert!(
                !shown.contains("GEZDGNBV") && !shown.contains("OCRA-") && !shown.contains("HOTP"),
                "{text}: {shown}"
            );
        }
    }
}

fn name() -> impl Strategy<Value = String> {
    // Printable text without ':' that does not start with whitespace,
    // including everything a URI must escape.
    prop_oneof![
        "[a-zA-Z0-9 @.&=?#%/+,;'\"<>\\[\\]{}|\\\\^`~!$*()_-]{1,24}",
        "[^:\\p{Cc}]{1,12}",
    ]
    .prop_filter("no leading whitespace", |s| {
        !s.starts_with(char::is_whitespace)
    })
}

fn kind() -> impl Strategy<Value = OtpKind> {
    prop_oneof![
        prop_oneof![Just(30u64), 1..=u64::MAX].prop_map(|period| OtpKind::Totp { period }),
        any::<u64>().prop_map(|counter| OtpKind::Hotp { counter }),
    ]
}

proptest! {
    #[test]
    fn build_then_parse_gives_the_same_key(
        bytes in vec(any::<u8>(), 16..=64),
        account in name(),
        issuer in proptest::option::of(name()),
        algorithm in prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
        digits in 6u32..=8,
        kind in kind(),
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let mut builder = KeyUri::builder(&secret, &account)
            .algorithm(algorithm)
            .digits(digits)
            .kind(kind);
        if let Some(issuer) = &issuer {
            builder = builder.issuer(issuer);
        }
        let built = builder.build().unwrap();
        let text = built.to_uri();
        let parsed = KeyUri::parse(&text).unwrap();
        prop_assert_eq!(parsed.account(), account.as_str());
        prop_assert_eq!(parsed.issuer(), issuer.as_deref());
        prop_assert_eq!(parsed.algorithm(), algorithm);
        prop_assert_eq!(parsed.digits(), digits);
        prop_assert_eq!(parsed.kind(), kind);
        prop_assert_eq!(parsed.secret().expose_secret(), bytes.as_slice());
        let again = parsed.to_uri();
        prop_assert_eq!(again.as_str(), text.as_str());
        // Everything outside printable ASCII is escaped.
        prop_assert!(text.bytes().all(|b| b.is_ascii_graphic()));
        // The generator the URI gives makes the codes the key makes, for
        // either kind.
        match kind {
            OtpKind::Totp { period } => {
                let direct = Totp::builder(&secret).algorithm(algorithm).digits(digits).period(period).build().unwrap();
                let via_uri = parsed.to_totp().unwrap();
                prop_assert_eq!(via_uri.generate_step(1).to_string(), direct.generate_step(1).to_string());
            }
            OtpKind::Hotp { counter } => {
                let direct = Hotp::new(&secret, algorithm, digits).unwrap();
                let via_uri = parsed.to_hotp().unwrap();
                prop_assert_eq!(via_uri.generate(counter).to_string(), direct.generate(counter).to_string());
            }
            other => return Err(TestCaseError::fail(format!("no check for {other:?}"))),
        }
    }

    #[test]
    fn an_ocra_suite_survives_the_round_trip_with_any_key(
        bytes in vec(any::<u8>(), 16..=64),
        account in name(),
        issuer in proptest::option::of(name()),
        kind in kind(),
        which in proptest::option::of(0..SUITES.len()),
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let chosen = which.map(|i| suite(SUITES[i]));
        let mut builder = KeyUri::builder(&secret, &account).kind(kind);
        if let Some(issuer) = &issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(chosen) = chosen {
            builder = builder.ocra_suite(chosen);
        }
        let built = builder.build().unwrap();
        prop_assert_eq!(built.ocra_suite(), chosen);
        let text = built.to_uri();
        let parsed = KeyUri::parse(&text).unwrap();
        prop_assert_eq!(parsed.ocra_suite(), chosen);
        prop_assert_eq!(parsed.account(), account.as_str());
        prop_assert_eq!(parsed.issuer(), issuer.as_deref());
        prop_assert_eq!(parsed.kind(), kind);
        let again = parsed.to_uri();
        prop_assert_eq!(again.as_str(), text.as_str());
        prop_assert_eq!(text.contains("&ocrasuite="), chosen.is_some());
    }

    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![
        any::<String>(),
        "otpauth://[a-zA-Z]{0,5}/[^?]{0,10}\\?[a-z=&%0-9A-F]{0,40}",
    ]) {
        let _ = KeyUri::parse(&text);
    }

    #[test]
    fn errors_never_show_the_secret(
        bytes in vec(any::<u8>(), 16..=64),
        junk in "[a-z=&%0-9:]{0,12}",
        at in 0usize..200,
    ) {
        // A valid URI with junk spliced in somewhere: whatever fails, the
        // message must not carry the secret.
        let secret = Secret::from_bytes(&bytes).unwrap();
        let b32 = secret.to_base32();
        let good = KeyUri::builder(&secret, "alice").issuer("Bank").build().unwrap().to_uri();
        let mut at = at % (good.len() + 1);
        while !good.is_char_boundary(at) {
            at -= 1;
        }
        let text = format!("{}{junk}{}", &good[..at], &good[at..]);
        let shown = match KeyUri::parse(&text) {
            Err(e) => vec![e.to_string(), format!("{e:?}")],
            // The junk left a valid URI (empty, or somewhere harmless): what
            // it parses to does not show the secret either.
            Ok(uri) => vec![format!("{uri:?}")],
        };
        for shown in shown {
            prop_assert!(!shown.contains(&b32[..16]), "{}", shown);
        }
    }
}
