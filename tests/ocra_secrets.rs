//! OCRA's secrets: a PIN, its hash, the keyed HMAC state, a response and a
//! DataInput leave nothing in freed heap memory (a global allocator scans
//! every block freed under a watch), and `Debug` never prints them. Each
//! wiping test first shows that the scanner finds a plain copy.

mod support;

use std::hint::black_box;

use otpguard::ocra::{Input, Ocra, Pin, Suite};
use otpguard::Secret;
use otpguard_wipe_check::{watch, ScanFreed};
use sha1::Digest;
use support::wipe::{inner_state, scanner_sees};

#[global_allocator]
static ALLOC: ScanFreed = ScanFreed;

const PIN: &[u8] = b"ocra-pin-7c1e93d4";

#[test]
fn a_pin_and_its_hash_leave_nothing_in_freed_memory() {
    let hash: [u8; 20] = sha1::Sha1::digest(PIN).into();
    scanner_sees(PIN);
    scanner_sees(&hash);
    let w = watch(&[PIN, &hash]);
    let pin = Pin::new(PIN).unwrap();
    let hashed = Pin::from_hash(&hash).unwrap();
    let copy = pin.clone();
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-PSHA1").unwrap();
    // The DataInput, as audits read it, holds the PIN hash.
    let data = suite.data_input(&Input::new("1234").pin(&pin)).unwrap();
    assert!(data.windows(20).any(|w| w == hash));
    drop(black_box(data));
    drop(black_box(pin));
    drop(black_box(hashed));
    drop(black_box(copy));
    assert!(w.scanned() >= 4);
    assert_eq!(w.hits(), 0);
}

#[test]
fn a_keyed_ocra_and_its_responses_leave_nothing_in_freed_memory() {
    let key: [u8; 20] = core::array::from_fn(|i| 0x3c ^ u8::try_from(i).unwrap().wrapping_mul(29));
    let state = inner_state(&key);
    scanner_sees(&state);
    let secret = Secret::from_bytes(&key).unwrap();
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-0:C-QA08").unwrap();
    let w = watch(&[&key, &state]);
    let ocra = Box::new(Ocra::new(&secret, suite));
    let copy = Box::new((*ocra).clone());
    let response = Box::new(ocra.generate(&Input::new("SIG12345").counter(9)).unwrap());
    drop(black_box(copy));
    drop(black_box(ocra));
    let mac = {
        let text = response.to_string();
        let mut mac = [0u8; 20];
        for (i, m) in mac.iter_mut().enumerate() {
            *m = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        mac
    };
    assert!(w.scanned() >= 2);
    assert_eq!(w.hits(), 0, "the keyed state was left in freed memory");
    drop(w);

    scanner_sees(&mac);
    let w = watch(&[&mac]);
    drop(black_box(response));
    assert!(w.scanned() >= 1);
    assert_eq!(w.hits(), 0, "the response was left in freed memory");
    drop(secret);
}

#[test]
fn debug_prints_no_secret() {
    let pin = Pin::new(b"98765432").unwrap();
    assert_eq!(format!("{pin:?}"), "Pin([REDACTED])");
    let input = Input::new("12345678").pin(&pin);
    assert!(!format!("{input:?}").contains("98765432"));
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-PSHA1").unwrap();
    let ocra = Ocra::new(&secret, suite);
    assert_eq!(
        format!("{ocra:?}"),
        "Ocra { suite: \"OCRA-1:HOTP-SHA1-6:QN08-PSHA1\", .. }"
    );
    let r = ocra.generate(&input).unwrap();
    assert_eq!(format!("{r:?}"), "Response { len: 6, .. }");
    assert!(!format!("{r:?}").contains(&r.to_string()));
}
