//! The block-level HMAC (`src/key/block_hmac.rs`, compiled here on its own)
//! agrees with the `hmac` crate on random keys of 0 to 300 bytes (shorter
//! than, equal to and longer than a block, so both padded and hashed keys),
//! random counters and random one-block messages, for SHA-1, SHA-256 and
//! SHA-512; and the public generators give the RFC 4226 truncation of the
//! `hmac` crate's MAC on random secrets.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "../src/key/block_hmac.rs"]
mod block_hmac;

use block_hmac::{BlockHash, HmacKey, Sha1Block, Sha256Block, Sha512Block};
use hmac::{Hmac, KeyInit, Mac};
use otpguard::{Algorithm, Hotp, Secret};
use proptest::prelude::*;

fn reference<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn counter_agrees<H: BlockHash, M: Mac + KeyInit>(key: &[u8], counter: u64) {
    let mut out = H::ZERO_OUTPUT;
    HmacKey::<H>::new(key).mac_counter(counter, &mut out);
    assert_eq!(out.as_ref(), reference::<M>(key, &counter.to_be_bytes()));
}

fn message_agrees<H: BlockHash, M: Mac + KeyInit>(key: &[u8], message: &[u8]) {
    let mut out = H::ZERO_OUTPUT;
    let fits = message.len() <= HmacKey::<H>::MAX_MESSAGE;
    assert_eq!(HmacKey::<H>::new(key).mac(message, &mut out), fits);
    if fits {
        assert_eq!(out.as_ref(), reference::<M>(key, message));
    }
}

/// RFC 4226 §5.3 on the reference MAC.
fn reference_hotp<M: Mac + KeyInit>(key: &[u8], counter: u64, digits: u32) -> u32 {
    let mac = reference::<M>(key, &counter.to_be_bytes());
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    word % 10u32.pow(digits)
}

proptest! {
    #[test]
    fn counter_macs_agree(key in prop::collection::vec(any::<u8>(), 0..=300), counter in any::<u64>()) {
        counter_agrees::<Sha1Block, Hmac<sha1::Sha1>>(&key, counter);
        counter_agrees::<Sha256Block, Hmac<sha2::Sha256>>(&key, counter);
        counter_agrees::<Sha512Block, Hmac<sha2::Sha512>>(&key, counter);
    }

    #[test]
    fn message_macs_agree(
        key in prop::collection::vec(any::<u8>(), 0..=300),
        message in prop::collection::vec(any::<u8>(), 0..=130),
    ) {
        message_agrees::<Sha1Block, Hmac<sha1::Sha1>>(&key, &message);
        message_agrees::<Sha256Block, Hmac<sha2::Sha256>>(&key, &message);
        message_agrees::<Sha512Block, Hmac<sha2::Sha512>>(&key, &message);
    }

    #[test]
    fn generated_codes_agree(
        key in prop::collection::vec(any::<u8>(), Secret::MIN_LEN..=Secret::MAX_LEN),
        counter in any::<u64>(),
        digits in 6u32..=8,
    ) {
        let secret = Secret::from_bytes(&key).unwrap();
        for (algorithm, want) in [
            (Algorithm::Sha1, reference_hotp::<Hmac<sha1::Sha1>>(&key, counter, digits)),
            (Algorithm::Sha256, reference_hotp::<Hmac<sha2::Sha256>>(&key, counter, digits)),
            (Algorithm::Sha512, reference_hotp::<Hmac<sha2::Sha512>>(&key, counter, digits)),
        ] {
            let hotp = Hotp::new(&secret, algorithm, digits).unwrap();
            prop_assert_eq!(hotp.generate(counter).value(), want, "{}", algorithm);
        }
    }
}

#[test]
fn keys_at_the_block_boundaries_agree() {
    // Exactly one block is padded, one byte more is hashed: the edge cases
    // a random length rarely hits.
    for len in [0, 1, 19, 20, 63, 64, 65, 127, 128, 129, 300] {
        let key: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
        for counter in [0, 1, u64::MAX] {
            counter_agrees::<Sha1Block, Hmac<sha1::Sha1>>(&key, counter);
            counter_agrees::<Sha256Block, Hmac<sha2::Sha256>>(&key, counter);
            counter_agrees::<Sha512Block, Hmac<sha2::Sha512>>(&key, counter);
        }
    }
}
