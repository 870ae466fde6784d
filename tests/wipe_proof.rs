//! Wiping, proven at run time: a global allocator scans every heap block
//! freed while a watch is active for any 8-byte run of a key, and each
//! key-holding type is dropped under a watch for its key. Every test first
//! shows that the scanner finds a plain copy, so a pass is not an accident.

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

mod support;

use std::hint::black_box;

use otpguard::lifecycle::{
    CustomerId, EnteredCode, Event, Label, Lifecycle, LifecycleConfig, MemoryStore, NewSecret,
    Principal, ReissueReason, RequestContext, TokenSerial,
};
use otpguard::{Algorithm, FixedClock, Hotp, KeyUri, Secret, Totp};
use otpguard_wipe_check::{watch, ScanFreed};
use support::wipe::{inner_state, scanner_sees};

#[global_allocator]
static ALLOC: ScanFreed = ScanFreed;

/// A secret no other test uses, so no other test's frees can match it.
fn key(seed: u8) -> [u8; 20] {
    core::array::from_fn(|i| {
        seed.wrapping_mul(31)
            .wrapping_add(u8::try_from(i).unwrap() * 7)
            ^ 0xa5
    })
}

/// The unpadded base32 text of a 20-byte key, on the stack.
fn base32_text(key: &[u8; 20]) -> [u8; 32] {
    let text = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, key);
    text.as_bytes().try_into().unwrap()
}

#[test]
fn a_secret_leaves_nothing_in_freed_memory() {
    let k = key(1);
    scanner_sees(&k);
    let w = watch(&[&k]);
    let secret = Secret::from_bytes(&k).unwrap();
    let copy = secret.clone();
    drop(black_box(secret));
    drop(black_box(copy));
    assert!(w.scanned() >= 2);
    assert_eq!(w.hits(), 0);
}

#[test]
fn base32_output_leaves_nothing_in_freed_memory() {
    let k = key(2);
    let text = base32_text(&k);
    scanner_sees(&text);
    let secret = Secret::from_bytes(&k).unwrap();
    let w = watch(&[&text, &k]);
    let encoded = secret.to_base32();
    assert_eq!(encoded.as_bytes(), &text);
    drop(black_box(encoded));
    drop(black_box(secret));
    assert_eq!(w.hits(), 0, "a freed block held part of the base32 text");
}

#[test]
fn keyed_generators_leave_nothing_in_freed_memory() {
    let k = key(3);
    let state = inner_state(&k);
    scanner_sees(&state);
    let secret = Secret::from_bytes(&k).unwrap();
    let w = watch(&[&k, &state]);
    let totp = Box::new(Totp::builder(&secret).build().unwrap());
    let code = totp.generate(1_700_000_000).unwrap();
    let hotp = Box::new(Hotp::new(&secret, Algorithm::Sha1, 6).unwrap());
    assert_eq!(
        hotp.generate(totp.step_at(1_700_000_000).unwrap()).value(),
        code.value()
    );
    let clone = totp.clone();
    drop(black_box(totp));
    drop(black_box(clone));
    drop(black_box(hotp));
    drop(black_box(secret));
    assert!(w.scanned() >= 3);
    assert_eq!(w.hits(), 0, "a freed block held the key or its keyed state");
}

#[test]
fn key_uris_leave_nothing_in_freed_memory() {
    let k = key(4);
    let text = base32_text(&k);
    let secret = Secret::from_bytes(&k).unwrap();
    let w = watch(&[&k, &text]);
    let builder = KeyUri::builder(&secret, "alice").issuer("Example Bank");
    let uri = builder.build().unwrap();
    let written = uri.to_uri();
    let parsed = KeyUri::parse(&written).unwrap();
    assert_eq!(parsed.secret().expose_secret(), &k);
    let totp = parsed.to_totp().unwrap();
    drop(black_box(written));
    drop(black_box(uri));
    drop(black_box(parsed));
    drop(black_box(totp));
    drop(black_box(secret));
    assert_eq!(w.hits(), 0, "a freed block held the key or its base32 text");
}

#[test]
fn entered_codes_leave_nothing_in_freed_memory() {
    let typed = *b"83920471";
    scanner_sees(&typed);
    let w = watch(&[&typed]);
    let code = Box::new(EnteredCode::new(core::str::from_utf8(&typed).unwrap()));
    let event = Box::new(Event::VerifyTransaction {
        code: (*code).clone(),
    });
    drop(black_box(code));
    drop(black_box(event));
    assert_eq!(w.hits(), 0, "a freed block held the typed code");
}

#[test]
fn the_lifecycle_leaves_no_key_in_freed_memory() {
    let k = key(5);
    let state = inner_state(&k);
    let now = 1_700_000_000;
    let phone = Totp::builder(&Secret::from_bytes(&k).unwrap())
        .build()
        .unwrap();
    let first = phone.generate(now).unwrap().to_string();
    let later = phone.generate(now + 30).unwrap().to_string();
    let customer = CustomerId::new("wipe-1").unwrap();
    let web = Principal::customer(Label::new("web").unwrap());
    let operator = Principal::operator(Label::new("op-1").unwrap());
    let ctx = RequestContext::new();
    let w = watch(&[&k, &state]);
    {
        let clock = FixedClock::new(now);
        let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), &clock);
        let register = Event::Register {
            serial: TokenSerial::new("SN-W1").unwrap(),
            secret: NewSecret::Given(Secret::from_bytes(&k).unwrap()),
            code: first.as_str().into(),
        };
        lc.blocking()
            .submit(&customer, &web, register.clone(), &ctx)
            .unwrap();
        drop(black_box(register));
        clock.set(now + 30);
        let proof = lc
            .blocking()
            .verify_transaction(&customer, &web, &later, &ctx)
            .unwrap();
        assert_eq!(proof.drift(), 0);
        let reissue = Event::Reissue {
            reason: ReissueReason::LostDevice,
        };
        lc.blocking()
            .submit(&customer, &operator, reissue, &ctx)
            .unwrap();
        // The store, its records and the audit log go with the lifecycle.
    }
    drop(black_box(phone));
    assert!(w.scanned() >= 3, "only {} blocks scanned", w.scanned());
    assert_eq!(w.hits(), 0, "a freed block held the key or its keyed state");
}

#[cfg(feature = "seal")]
#[test]
fn sealing_and_opening_leave_nothing_in_freed_memory() {
    use otpguard::seal::{KeyId, Keyring, Purpose, SealContext, Sealer};
    let k = key(6);
    let kek = [0x5au8; 32];
    scanner_sees(&kek);
    let customer = CustomerId::new("wipe-seal").unwrap();
    let w = watch(&[&k, &kek]);
    {
        let ring = Keyring::new(KeyId(1), &kek).unwrap();
        let here = SealContext::new(&customer, None, Purpose::Enrollment);
        let secret = Secret::from_bytes(&k).unwrap();
        let sealed = ring.seal(&secret, &here).unwrap();
        let stored = sealed.to_bytes();
        let opened = ring
            .open(
                &otpguard::seal::SealedSecret::from_bytes(&stored).unwrap(),
                &here,
            )
            .unwrap();
        assert_eq!(opened.expose_secret(), &k);
        let wrong = SealContext::new(&customer, None, Purpose::Current);
        assert!(ring.open(&sealed, &wrong).is_err());
    }
    assert!(w.scanned() >= 3);
    assert_eq!(w.hits(), 0, "a freed block held the secret or the key");
}

#[cfg(feature = "seal")]
#[test]
fn sealed_records_leave_nothing_in_freed_memory() {
    use otpguard::seal::{KeyId, Keyring};
    let k = key(7);
    let state = inner_state(&k);
    let now = 1_700_000_000;
    let first = Totp::builder(&Secret::from_bytes(&k).unwrap())
        .build()
        .unwrap()
        .generate(now)
        .unwrap()
        .to_string();
    let customer = CustomerId::new("wipe-sealed").unwrap();
    let web = Principal::customer(Label::new("web").unwrap());
    let keys = Keyring::new(KeyId(1), &[0x6b; 32]).unwrap();
    let w = watch(&[&k, &state]);
    {
        let clock = FixedClock::new(now);
        let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), &clock);
        let register = Event::Register {
            serial: TokenSerial::new("SN-WS").unwrap(),
            secret: NewSecret::Given(Secret::from_bytes(&k).unwrap()),
            code: first.as_str().into(),
        };
        lc.blocking()
            .submit(&customer, &web, register, &RequestContext::new())
            .unwrap();
        let record = lc.store().snapshot(&customer).unwrap();
        let sealed = record.seal(&customer, &keys).unwrap();
        let opened = sealed.open(&customer, &keys).unwrap();
        assert_eq!(opened.summary(), record.summary());
    }
    assert!(w.scanned() >= 3);
    assert_eq!(w.hits(), 0, "a freed block held the key or its keyed state");
}
