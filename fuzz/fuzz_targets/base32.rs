//! Base32 secret parsing: arbitrary text never panics, and whatever parses
//! survives a `to_base32` / `from_base32` round trip. Arbitrary bytes that
//! make a valid secret survive the round trip too, including when the base32
//! text is regrouped the way people copy it by hand (lower case, spaces,
//! dashes, padding).

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::{Secret, SecretError};

#[derive(Debug, Arbitrary)]
struct Input {
    text: String,
    bytes: Vec<u8>,
    /// Where to break the encoded text into groups, and how.
    group: u8,
    lower: bool,
    pad: bool,
}

fuzz_target!(|x: Input| {
    match Secret::from_base32(&x.text) {
        Ok(secret) => {
            assert!((Secret::MIN_LEN..=Secret::MAX_LEN).contains(&secret.len()));
            let again = Secret::from_base32(&secret.to_base32());
            assert_eq!(
                again.ok().as_ref().map(Secret::expose_secret),
                Some(secret.expose_secret())
            );
        }
        Err(
            SecretError::InvalidBase32 { .. }
            | SecretError::TooShort { .. }
            | SecretError::TooLong { .. },
        ) => {}
        Err(other) => panic!("unexpected error from from_base32: {other:?}"),
    }

    let Ok(secret) = Secret::from_bytes(&x.bytes) else {
        assert!(!(Secret::MIN_LEN..=Secret::MAX_LEN).contains(&x.bytes.len()));
        return;
    };
    let canonical = secret.to_base32();
    assert!(canonical
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    let mut text = String::new();
    let every = usize::from(x.group % 9).max(1);
    let separator = [' ', '-', '\n', '\t'][usize::from(x.group / 64)];
    for (i, c) in canonical.chars().enumerate() {
        if i > 0 && i % every == 0 {
            text.push(separator);
        }
        text.push(if x.lower { c.to_ascii_lowercase() } else { c });
    }
    if x.pad {
        while (canonical.len() + text.matches('=').count()) % 8 != 0 {
            text.push('=');
        }
    }
    let parsed = Secret::from_base32(&text);
    assert_eq!(
        parsed.ok().as_ref().map(Secret::expose_secret),
        Some(secret.expose_secret()),
        "{text:?}"
    );
});
