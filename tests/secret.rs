//! `Secret`: base32 import as people type it, the typed rejections,
//! base32 export, generation, and that it never prints itself.

#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use otpguard::{Algorithm, Secret, SecretError};
use proptest::collection::vec;
use proptest::prelude::*;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 §6 base32, bit by bit, with `=` padding: the reference the
/// library's encoder and decoder are checked against.
fn reference_base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    while out.len() % 8 != 0 {
        out.push('=');
    }
    out
}

fn invalid(reason: &'static str) -> SecretError {
    SecretError::InvalidBase32 { reason }
}

const ALPHABET_ERR: &str = "character outside the base32 alphabet (A-Z, 2-7)";
const AFTER_PAD: &str = "data after '=' padding";
const PAD_AMOUNT: &str = "wrong amount of '=' padding";
const LENGTH: &str = "length is not a whole number of bytes";

#[test]
fn rfc4226_secret_in_every_form_people_type_it() {
    let want = b"12345678901234567890";
    for text in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "GezdGnbvGy3tQojqGezdGnbvGy3tQojq",
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
        "  GEZDGNBVGY3TQOJQ\n\tGEZDGNBVGY3TQOJQ \r\n",
    ] {
        let s = Secret::from_base32(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(s.expose_secret(), want, "{text:?}");
    }
}

#[test]
fn padding_may_be_present_or_absent_for_every_length() {
    // 16..=20 bytes covers every remainder of a 5-byte base32 group.
    for len in 16..=20u8 {
        let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0x5c).collect();
        let padded = reference_base32(&bytes);
        let unpadded = padded.trim_end_matches('=');
        let spaced_lower: String = padded
            .to_ascii_lowercase()
            .chars()
            .enumerate()
            .flat_map(|(i, c)| (i % 4 == 0 && i > 0).then_some(' ').into_iter().chain([c]))
            .collect();
        for text in [padded.as_str(), unpadded, spaced_lower.as_str()] {
            let s = Secret::from_base32(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(s.expose_secret(), bytes.as_slice(), "{text:?}");
        }
    }
}

#[test]
fn characters_outside_the_alphabet_are_refused() {
    let good = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    for bad in [
        '0', '1', '8', '9', '!', '_', '+', '/', '.', 'é', 'Ａ', '\u{0}',
    ] {
        let text: String = good
            .chars()
            .take(10)
            .chain([bad])
            .chain(good.chars().skip(11))
            .collect();
        assert_eq!(
            Secret::from_base32(&text).err(),
            Some(invalid(ALPHABET_ERR)),
            "{bad:?}"
        );
    }
}

#[test]
fn data_after_padding_is_refused() {
    for text in [
        "AAAQEAYEAUDAOCAJBIFQYDIOB4=A=====",
        "AAAQEAYEAUDAOCAJBIFQYDIOB4======A",
        "GEZDGNBV=GY3TQOJQGEZDGNBVGY3TQOJQ",
        "=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    ] {
        assert_eq!(
            Secret::from_base32(text).err(),
            Some(invalid(AFTER_PAD)),
            "{text}"
        );
    }
}

#[test]
fn wrong_amount_of_padding_is_refused() {
    for text in [
        "AAAQEAYEAUDAOCAJBIFQYDIOB4=",              // 26 + 1
        "AAAQEAYEAUDAOCAJBIFQYDIOB4=====",          // 26 + 5
        "AAAQEAYEAUDAOCAJBIFQYDIOB4=======",        // 26 + 7
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ========", // a whole group of padding
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ=",
    ] {
        assert_eq!(
            Secret::from_base32(text).err(),
            Some(invalid(PAD_AMOUNT)),
            "{text}"
        );
    }
}

#[test]
fn lengths_that_are_no_whole_number_of_bytes_are_refused() {
    // A final group of 1, 3 or 6 characters cannot come from whole bytes.
    for extra in ["A", "AAA", "AAAAAA"] {
        let text = format!("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ{extra}");
        assert_eq!(
            Secret::from_base32(&text).err(),
            Some(invalid(LENGTH)),
            "{text}"
        );
    }
}

#[test]
fn too_short_and_too_long_are_typed() {
    let short = SecretError::TooShort { len: 15, min: 16 };
    let long = SecretError::TooLong { len: 257, max: 256 };
    assert_eq!(Secret::from_bytes(&[1; 15]).err(), Some(short.clone()));
    assert_eq!(
        Secret::from_base32(&reference_base32(&[1; 15])).err(),
        Some(short.clone())
    );
    assert_eq!(Secret::generate_len(15).err(), Some(short));
    assert_eq!(Secret::from_bytes(&[1; 257]).err(), Some(long.clone()));
    assert_eq!(
        Secret::from_base32(&reference_base32(&[1; 257])).err(),
        Some(long.clone())
    );
    assert_eq!(Secret::generate_len(257).err(), Some(long));
    assert_eq!(
        Secret::from_base32("").err(),
        Some(SecretError::TooShort { len: 0, min: 16 })
    );
    assert_eq!(
        Secret::from_base32(" - \n").err(),
        Some(SecretError::TooShort { len: 0, min: 16 })
    );
    assert!(Secret::from_bytes(&[1; 16]).is_ok());
    assert!(Secret::from_bytes(&[1; 256]).is_ok());
}

#[test]
fn errors_never_repeat_the_text() {
    for text in [
        "GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ=",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQO",
    ] {
        let err = Secret::from_base32(text).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("GEZDGNBV"), "{shown}");
        }
    }
}

#[test]
fn generate_gives_the_hash_length_and_fresh_bytes() {
    for (algorithm, len) in [
        (Algorithm::Sha1, 20),
        (Algorithm::Sha256, 32),
        (Algorithm::Sha512, 64),
    ] {
        let a = Secret::generate(algorithm).unwrap();
        let b = Secret::generate(algorithm).unwrap();
        assert_eq!((a.len(), b.len()), (len, len));
        // 2^-160 at best for a false failure: two draws are never equal.
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
    for len in [16, 100, 256] {
        assert_eq!(Secret::generate_len(len).unwrap().len(), len);
    }
}

#[test]
fn debug_is_redacted() {
    let s = Secret::from_bytes(b"12345678901234567890").unwrap();
    assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
    assert_eq!(format!("{s:#?}"), "Secret([REDACTED])");
    let wrapped = format!("{:?}", Some(&s));
    assert!(
        !wrapped.contains("123") && !wrapped.contains("49, 50"),
        "{wrapped}"
    );
}

#[test]
fn clone_has_the_same_bytes() {
    let s = Secret::generate(Algorithm::Sha256).unwrap();
    assert_eq!(s.clone().expose_secret(), s.expose_secret());
}

proptest! {
    #[test]
    fn to_base32_is_rfc4648_and_round_trips(bytes in vec(any::<u8>(), 16..=256)) {
        let s = Secret::from_bytes(&bytes).unwrap();
        let padded = reference_base32(&bytes);
        let exported = s.to_base32();
        // Upper case, no padding, as authenticator apps expect.
        prop_assert_eq!(exported.as_str(), padded.trim_end_matches('='));
        let back = Secret::from_base32(&exported).unwrap();
        prop_assert_eq!(back.expose_secret(), bytes.as_slice());
        let lower = padded.to_ascii_lowercase();
        let back = Secret::from_base32(&lower).unwrap();
        prop_assert_eq!(back.expose_secret(), bytes.as_slice());
    }

    #[test]
    fn from_base32_never_panics(text in any::<String>()) {
        let _ = Secret::from_base32(&text);
    }
}
