//! RFC 2202 (HMAC-SHA-1) and RFC 4231 (HMAC-SHA-256/512) vectors, from
//! `tests/data/hmac_vectors.csv`, run through the block-level HMAC that
//! computes every code (`src/key/block_hmac.rs`, compiled here on its own).
//!
//! That HMAC takes only messages that fit in one block with their padding
//! (up to 55 bytes for SHA-1/256, 111 for SHA-512; codes use 8). Every vector
//! whose message fits runs through it and must give the published MAC, and
//! with one message byte flipped must not. The three vectors with longer
//! messages (RFC 2202 case 7, RFC 4231 case 7 for each hash) cannot run
//! through it: it must refuse them, the `hmac` crate must reproduce their
//! published MAC (so the data file is right), and their keys (longer than a
//! block, so hashed first) must give the same MAC as the `hmac` crate on
//! 8-byte counters.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "../src/key/block_hmac.rs"]
mod block_hmac;
mod support;

use block_hmac::{BlockHash, HmacKey, Sha1Block, Sha256Block, Sha512Block};
use hmac::{Hmac, KeyInit, Mac};
use support::vectors::hex;

struct Vector {
    name: String,
    algorithm: String,
    key: Vec<u8>,
    data: Vec<u8>,
    mac: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    include_str!("data/hmac_vectors.csv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("source,") && !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 6, "{line}");
            Vector {
                name: format!("{} case {} {}", f[0], f[1], f[2]),
                algorithm: f[2].to_owned(),
                key: hex(f[3]),
                data: hex(f[4]),
                mac: hex(f[5]),
            }
        })
        .collect()
}

fn reference<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Runs one vector; returns whether it went through the block-level HMAC.
fn check<H: BlockHash, M: Mac + KeyInit>(v: &Vector) -> bool {
    let key = HmacKey::<H>::new(&v.key);
    let mut out = H::ZERO_OUTPUT;
    if v.data.len() <= HmacKey::<H>::MAX_MESSAGE {
        assert!(key.mac(&v.data, &mut out), "{}", v.name);
        assert!(out.as_ref().starts_with(&v.mac), "{}", v.name);
        let mut flipped = v.data.clone();
        flipped[0] ^= 1;
        assert!(key.mac(&flipped, &mut out), "{}", v.name);
        assert!(!out.as_ref().starts_with(&v.mac), "{} (flipped)", v.name);
        true
    } else {
        assert!(!key.mac(&v.data, &mut out), "{} must be refused", v.name);
        assert!(
            reference::<M>(&v.key, &v.data).starts_with(&v.mac),
            "{}",
            v.name
        );
        for counter in [0u64, 1, 59 / 30, 0x0123_4567_89ab_cdef, u64::MAX] {
            key.mac_counter(counter, &mut out);
            assert_eq!(
                out.as_ref(),
                reference::<M>(&v.key, &counter.to_be_bytes()),
                "{} key, counter {counter}",
                v.name
            );
        }
        false
    }
}

#[test]
fn rfc2202_and_rfc4231_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 21, "7 cases x SHA-1, SHA-256, SHA-512");
    let mut direct = 0;
    for v in &vectors {
        let ran = match v.algorithm.as_str() {
            "SHA1" => check::<Sha1Block, Hmac<sha1::Sha1>>(v),
            "SHA256" => check::<Sha256Block, Hmac<sha2::Sha256>>(v),
            "SHA512" => check::<Sha512Block, Hmac<sha2::Sha512>>(v),
            other => panic!("unknown algorithm {other}"),
        };
        direct += usize::from(ran);
    }
    // Cases 1-6 of each RFC fit in one block; case 7 of each does not.
    assert_eq!(direct, 18);
}
