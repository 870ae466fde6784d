//! For the tests that watch freed heap memory for secrets (the test binary
//! installs `otpguard_wipe_check::ScanFreed` as its global allocator).

use std::hint::black_box;

use otpguard_wipe_check::watch;

/// The scanner finds a copy that nobody wiped: shown before a test relies
/// on it finding none.
pub fn scanner_sees(needle: &[u8]) {
    let w = watch(&[needle]);
    drop(black_box(needle.to_vec()));
    assert!(w.hits() >= 1, "the scanner missed a plain copy");
}

/// The HMAC-SHA-1 inner state after `key ^ ipad`, as it lies in memory:
/// what a keyed HMAC (a keyed `Totp`, `Hotp` or `Ocra`) holds instead of
/// the key.
pub fn inner_state(key: &[u8; 20]) -> [u8; 20] {
    let mut block = [0x36u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b ^= k;
    }
    let mut state: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    sha1::block_api::compress(&mut state, core::slice::from_ref(&block));
    let mut bytes = [0u8; 20];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    bytes
}
