//! Sealed secrets: AES-256-GCM bound to customer, token, slot and key.

#![cfg(feature = "seal")]
#![allow(clippy::unwrap_used)]

use otpguard::lifecycle::{store::TokenId, CustomerId};
use otpguard::seal::{KeyId, Keyring, Purpose, SealContext, SealError, SealedSecret, Sealer};
use otpguard::Secret;

fn secret() -> Secret {
    Secret::from_bytes(b"0123456789abcdefghij").unwrap()
}

#[test]
fn opens_only_where_it_was_sealed() {
    let ring = Keyring::new(KeyId(1), &[1u8; 32]).unwrap();
    let alice = CustomerId::new("alice").unwrap();
    let bob = CustomerId::new("bob").unwrap();
    let t1 = TokenId::from_bytes([1; 16]);
    let t2 = TokenId::from_bytes([2; 16]);
    let here = SealContext::new(&alice, Some(t1), Purpose::Current);
    let sealed = ring.seal(&secret(), &here).unwrap();
    assert_eq!(
        ring.open(&sealed, &here).unwrap().expose_secret(),
        secret().expose_secret()
    );
    for elsewhere in [
        SealContext::new(&bob, Some(t1), Purpose::Current),
        SealContext::new(&alice, Some(t2), Purpose::Current),
        SealContext::new(&alice, None, Purpose::Current),
        SealContext::new(&alice, Some(t1), Purpose::Enrollment),
        SealContext::new(&alice, Some(t1), Purpose::PendingSwap),
    ] {
        assert_eq!(
            ring.open(&sealed, &elsewhere).err(),
            Some(SealError::Unauthentic)
        );
    }
}

#[test]
fn every_changed_byte_is_refused_and_nothing_secret_is_stored() {
    let ring = Keyring::new(KeyId(7), &[9u8; 32])
        .unwrap()
        .with_key(KeyId(8), &[8u8; 32])
        .unwrap();
    let c = CustomerId::new("c-1").unwrap();
    let here = SealContext::new(&c, None, Purpose::Enrollment);
    let s = secret();
    let stored = ring.seal(&s, &here).unwrap().to_bytes();
    assert!(
        !stored
            .windows(8)
            .any(|w| s.expose_secret().windows(8).any(|x| x == w)),
        "the stored form holds part of the secret"
    );
    for i in 0..stored.len() {
        for bit in [0x01u8, 0x80] {
            let mut changed = stored.clone();
            changed[i] ^= bit;
            let opened = SealedSecret::from_bytes(&changed).and_then(|x| ring.open(&x, &here));
            assert!(opened.is_err(), "byte {i} changed still opens");
        }
    }
    for cut in [0, 1, 5, 17, 40, stored.len() - 1] {
        let opened = SealedSecret::from_bytes(&stored[..cut]).and_then(|x| ring.open(&x, &here));
        assert!(opened.is_err(), "cut at {cut} still opens");
    }
    assert!(
        SealedSecret::from_bytes(&stored[..17]).is_err(),
        "a header alone is no sealed secret"
    );
}

#[test]
fn each_seal_has_a_fresh_nonce() {
    let ring = Keyring::new(KeyId(1), &[3u8; 32]).unwrap();
    let c = CustomerId::new("c-1").unwrap();
    let here = SealContext::new(&c, None, Purpose::Enrollment);
    let a = ring.seal(&secret(), &here).unwrap().to_bytes();
    let b = ring.seal(&secret(), &here).unwrap().to_bytes();
    assert_ne!(a, b);
}

#[test]
fn rotation_opens_old_secrets_and_reseals_them_under_the_primary() {
    let c = CustomerId::new("c-1").unwrap();
    let here = SealContext::new(&c, Some(TokenId::from_bytes([5; 16])), Purpose::Current);
    let old = Keyring::new(KeyId(1), &[1u8; 32]).unwrap();
    let sealed = old.seal(&secret(), &here).unwrap();
    let rotated = Keyring::new(KeyId(1), &[1u8; 32])
        .unwrap()
        .rotate_to(KeyId(2), &[2u8; 32])
        .unwrap();
    assert_eq!(rotated.primary(), KeyId(2));
    assert_eq!(
        rotated.open(&sealed, &here).unwrap().expose_secret(),
        secret().expose_secret()
    );
    let resealed = rotated.reseal(&sealed, &here).unwrap().unwrap();
    assert_eq!(resealed.key(), KeyId(2));
    assert!(rotated.reseal(&resealed, &here).unwrap().is_none());
    // Once the old key is gone, only the resealed one opens.
    let new_only = Keyring::new(KeyId(2), &[2u8; 32]).unwrap();
    assert_eq!(
        new_only.open(&sealed, &here).err(),
        Some(SealError::UnknownKey(KeyId(1)))
    );
    assert!(new_only.open(&resealed, &here).is_ok());
    // A different key under the same id does not open it.
    let impostor = Keyring::new(KeyId(2), &[9u8; 32]).unwrap();
    assert_eq!(
        impostor.open(&resealed, &here).err(),
        Some(SealError::Unauthentic)
    );
    assert!(matches!(
        Keyring::new(KeyId(1), &[1u8; 32])
            .unwrap()
            .with_key(KeyId(1), &[2u8; 32]),
        Err(SealError::DuplicateKey(KeyId(1)))
    ));
}

#[test]
fn debug_shows_no_key_material() {
    let ring = Keyring::new(KeyId(4), &[0xab; 32]).unwrap();
    let text = format!("{ring:?}");
    assert!(
        text.contains("KeyId(4)")
            && !text.contains("171")
            && !text.to_lowercase().contains("ab, ab")
    );
    let c = CustomerId::new("c-1").unwrap();
    let sealed = ring
        .seal(&secret(), &SealContext::new(&c, None, Purpose::Enrollment))
        .unwrap();
    assert!(!format!("{sealed:?}").contains('['));
}
