//! HMAC (RFC 2104) composed on the block compression functions of the
//! `sha1` and `sha2` crates, for messages that fit in one block with their
//! padding: an OTP's 8-byte counter always does.
//!
//! Why not the `hmac` crate: keyed once, it already costs two compressions
//! per code, but each code also clones its state and buffers, runs the
//! generic buffering and padding code and wipes the clone, which measured
//! about 1.3x the bare compressions over a ±1 window. Here the inner and
//! outer states after the padded-key blocks are kept as plain words (wiped on
//! drop), and a code is exactly one compression from each. The hash itself
//! stays the crates' own (`compress`, `compress256`, `compress512`); only
//! RFC 2104's keying and the FIPS 180-4 message padding are written here, and
//! `tests/hmac_vectors.rs` and `tests/hmac_agrees.rs` check both against
//! RFC 2202 / RFC 4231 and against the `hmac` crate.

use core::fmt;

use sha1::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What HMAC needs from a Merkle–Damgård hash with a public block function.
pub(crate) trait BlockHash {
    /// The chaining state (the digest is its words in big-endian order).
    type State: Copy + AsRef<[Self::Word]> + AsMut<[Self::Word]>;
    /// A state word (`u32` or `u64`).
    type Word: Copy + Default + zeroize::DefaultIsZeroes;
    /// One input block.
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// The digest, as bytes.
    type Output: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// FIPS 180-4 initial hash value.
    const IV: Self::State;
    /// An all-zero block.
    const ZERO_BLOCK: Self::Block;
    /// An all-zero digest.
    const ZERO_OUTPUT: Self::Output;
    /// Bytes at the end of the last block that hold the message bit length.
    const LENGTH_BYTES: usize;

    /// One application of the block function.
    fn compress(state: &mut Self::State, block: &Self::Block);
    /// Writes the state words big-endian into `out` (the digest's length).
    fn write_digest(state: &Self::State, out: &mut [u8]);
    /// The whole hash of `data`, written into the start of `block` (RFC
    /// 2104 hashes keys longer than a block).
    fn hash_into(data: &[u8], block: &mut Self::Block);
    /// RFC 4226 dynamic truncation of a MAC of this hash. (`tests/hmac_*.rs`
    /// include this file without `key.rs`, the only caller.)
    #[allow(dead_code)]
    fn truncate(mac: &Self::Output) -> u32;
}

/// SHA-1 on `sha1::block_api::compress`.
#[derive(Debug)]
pub(crate) enum Sha1Block {}
/// SHA-256 on `sha2::block_api::compress256`.
#[derive(Debug)]
pub(crate) enum Sha256Block {}
/// SHA-512 on `sha2::block_api::compress512`.
#[derive(Debug)]
pub(crate) enum Sha512Block {}

fn write_words_u32(state: &[u32], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

fn write_words_u64(state: &[u64], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(8).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// Writes `D`'s hash of `data` at the start of `block`, and wipes the
/// copy it made.
fn digest_into<D: Digest>(data: &[u8], block: &mut [u8]) {
    let mut digest = D::new_with_prefix(data).finalize();
    // Invariant: every digest is shorter than its hash's block (20 and 32
    // bytes in 64, 64 in 128); `HmacKey::new` checks it at compile time for
    // each hash it is built for.
    #[allow(clippy::indexing_slicing)]
    block[..digest.len()].copy_from_slice(&digest);
    digest.as_mut_slice().zeroize();
}

/// RFC 4226 §5.3 dynamic truncation of an `N`-byte MAC: the low 4 bits of
/// the last byte pick an offset; the 31 bits at that offset are the result.
#[inline]
#[allow(dead_code)] // see `BlockHash::truncate`
fn truncate<const N: usize>(mac: &[u8; N]) -> u32 {
    const {
        assert!(
            N >= 20,
            "dynamic truncation needs a MAC of at least 20 bytes"
        )
    };
    // Invariant (checked above): N >= 20, so the last byte exists and
    // offset + 4 <= 15 + 4 = 19 < N.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    let word = {
        let offset = usize::from(mac[N - 1] & 0x0f);
        [
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]
    };
    u32::from_be_bytes(word) & 0x7fff_ffff
}

impl BlockHash for Sha1Block {
    type State = [u32; 5];
    type Word = u32;
    type Block = [u8; 64];
    type Output = [u8; 20];
    const IV: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUTPUT: [u8; 20] = [0; 20];
    const LENGTH_BYTES: usize = 8;

    #[inline]
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }

    #[inline]
    fn write_digest(state: &[u32; 5], out: &mut [u8]) {
        write_words_u32(state, out);
    }

    fn hash_into(data: &[u8], block: &mut Self::Block) {
        digest_into::<sha1::Sha1>(data, block);
    }

    #[inline]
    fn truncate(mac: &Self::Output) -> u32 {
        truncate(mac)
    }
}

impl BlockHash for Sha256Block {
    type State = [u32; 8];
    type Word = u32;
    type Block = [u8; 64];
    type Output = [u8; 32];
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUTPUT: [u8; 32] = [0; 32];
    const LENGTH_BYTES: usize = 8;

    #[inline]
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }

    #[inline]
    fn write_digest(state: &[u32; 8], out: &mut [u8]) {
        write_words_u32(state, out);
    }

    fn hash_into(data: &[u8], block: &mut Self::Block) {
        digest_into::<sha2::Sha256>(data, block);
    }

    #[inline]
    fn truncate(mac: &Self::Output) -> u32 {
        truncate(mac)
    }
}

impl BlockHash for Sha512Block {
    type State = [u64; 8];
    type Word = u64;
    type Block = [u8; 128];
    type Output = [u8; 64];
    const IV: [u64; 8] = [
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
        0x3c6e_f372_fe94_f82b,
        0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1,
        0x9b05_688c_2b3e_6c1f,
        0x1f83_d9ab_fb41_bd6b,
        0x5be0_cd19_137e_2179,
    ];
    const ZERO_BLOCK: [u8; 128] = [0; 128];
    const ZERO_OUTPUT: [u8; 64] = [0; 64];
    const LENGTH_BYTES: usize = 16;

    #[inline]
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }

    #[inline]
    fn write_digest(state: &[u64; 8], out: &mut [u8]) {
        write_words_u64(state, out);
    }

    fn hash_into(data: &[u8], block: &mut Self::Block) {
        digest_into::<sha2::Sha512>(data, block);
    }

    #[inline]
    fn truncate(mac: &Self::Output) -> u32 {
        truncate(mac)
    }
}

/// A keyed HMAC: the hash states after the `key ^ ipad` and `key ^ opad`
/// blocks. Either state lets anyone compute MACs under the key, so both are
/// wiped on drop, and `Debug` shows neither.
pub(crate) struct HmacKey<H: BlockHash> {
    inner: H::State,
    outer: H::State,
}

impl<H: BlockHash> HmacKey<H> {
    /// The longest message [`HmacKey::mac`] takes: one block less the `0x80`
    /// byte and the length field.
    pub(crate) const MAX_MESSAGE: usize = block_len::<H>()
        .saturating_sub(1)
        .saturating_sub(H::LENGTH_BYTES);

    /// Keys the HMAC (RFC 2104 §2): a key longer than a block is replaced by
    /// its hash, then zero-padded to a block.
    pub(crate) fn new(key: &[u8]) -> Self {
        const { assert!(output_len::<H>() < block_len::<H>()) };
        let mut padded = H::ZERO_BLOCK;
        match padded.as_mut().get_mut(..key.len()) {
            // A key that fits in a block is used as it is ...
            Some(dst) => dst.copy_from_slice(key),
            // ... a longer one is replaced by its hash.
            None => H::hash_into(key, &mut padded),
        }
        let mut this = Self {
            inner: H::IV,
            outer: H::IV,
        };
        let mut pad = padded;
        xor_each(pad.as_mut(), 0x36);
        H::compress(&mut this.inner, &pad);
        pad = padded;
        xor_each(pad.as_mut(), 0x5c);
        H::compress(&mut this.outer, &pad);
        pad.as_mut().zeroize();
        padded.as_mut().zeroize();
        this
    }

    /// Writes the HMAC of `message` into `out`, if `message` has at most
    /// [`HmacKey::MAX_MESSAGE`] bytes; returns false, writing nothing, for a
    /// longer one (nothing in this crate asks for that).
    #[inline]
    // The crate itself only MACs counters; `tests/hmac_*.rs` include this
    // file and check arbitrary messages against the RFC vectors.
    #[allow(dead_code)]
    pub(crate) fn mac(&self, message: &[u8], out: &mut H::Output) -> bool {
        if message.len() > Self::MAX_MESSAGE {
            return false;
        }
        self.mac_fitting(message, out);
        true
    }

    /// Writes the HMAC of the 8-byte big-endian `counter` (RFC 4226 §5.2)
    /// into `out`.
    #[inline]
    pub(crate) fn mac_counter(&self, counter: u64, out: &mut H::Output) {
        // Checked when this is compiled for each hash: the counter fits.
        const { assert!(HmacKey::<H>::MAX_MESSAGE >= 8) };
        self.mac_fitting(&counter.to_be_bytes(), out);
    }

    /// The HMAC of a `message` of at most [`HmacKey::MAX_MESSAGE`] bytes
    /// (both callers ensure it), one compression each for the inner and
    /// the outer hash.
    #[inline]
    fn mac_fitting(&self, message: &[u8], out: &mut H::Output) {
        // Checked when this is compiled for each hash: the inner digest
        // always fits in the outer block with its padding.
        const { assert!(output_len::<H>() <= HmacKey::<H>::MAX_MESSAGE) };
        let mut block = H::ZERO_BLOCK;
        // Invariant: message.len() <= MAX_MESSAGE < the block's length.
        #[allow(clippy::indexing_slicing)]
        block.as_mut()[..message.len()].copy_from_slice(message);
        pad(block.as_mut(), message.len());
        let mut state = self.inner;
        H::compress(&mut state, &block);

        block = H::ZERO_BLOCK;
        H::write_digest(&state, block.as_mut());
        pad(block.as_mut(), output_len::<H>());
        state = self.outer;
        H::compress(&mut state, &block);
        H::write_digest(&state, out.as_mut());

        // The inner digest and the final state are this code's secrets too
        // (the rest of the block is padding); the caller wipes `out` once it
        // has truncated it. Invariant: the digest is shorter than the block
        // (checked at compile time above).
        #[allow(clippy::indexing_slicing)]
        block.as_mut()[..output_len::<H>()].zeroize();
        state.as_mut().zeroize();
    }
}

/// The length of `H`'s block in bytes.
const fn block_len<H: BlockHash>() -> usize {
    core::mem::size_of::<H::Block>()
}

fn xor_each(bytes: &mut [u8], with: u8) {
    for b in bytes {
        *b ^= with;
    }
}

/// Completes a zeroed block whose first `len` bytes hold the message: the
/// `0x80` end marker after it, and the big-endian bit length of (one key
/// block + the message) in its last 8 bytes (FIPS 180-4 §5.1; SHA-512's
/// 16-byte length field keeps its upper half zero).
#[inline]
fn pad(block: &mut [u8], len: usize) {
    // Invariant: the callers pass len <= MAX_MESSAGE, which leaves room for
    // the marker and the length field (MAX_MESSAGE + 1 + LENGTH_BYTES is the
    // block's length), and blocks are 64 or 128 bytes, so the bit count
    // (at most (128 + 111) * 8) cannot overflow.
    #[allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )]
    {
        let bits = (block.len() + len) as u64 * 8;
        let tail = block.len() - 8;
        block[len] = 0x80;
        block[tail..].copy_from_slice(&bits.to_be_bytes());
    }
}

/// The length of `H`'s digest in bytes.
const fn output_len<H: BlockHash>() -> usize {
    core::mem::size_of::<H::Output>()
}

impl<H: BlockHash> Clone for HmacKey<H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner,
            outer: self.outer,
        }
    }
}

impl<H: BlockHash> Zeroize for HmacKey<H> {
    fn zeroize(&mut self) {
        self.inner.as_mut().zeroize();
        self.outer.as_mut().zeroize();
    }
}

impl<H: BlockHash> Drop for HmacKey<H> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<H: BlockHash> ZeroizeOnDrop for HmacKey<H> {}

impl<H: BlockHash> fmt::Debug for HmacKey<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states<H: BlockHash>(key: &HmacKey<H>) -> Vec<H::Word> {
        key.inner
            .as_ref()
            .iter()
            .chain(key.outer.as_ref())
            .copied()
            .collect()
    }

    fn wipes<H: BlockHash>()
    where
        H::Word: PartialEq + core::fmt::Debug,
    {
        let mut key = HmacKey::<H>::new(b"key material");
        assert!(states(&key).iter().any(|w| *w != H::Word::default()));
        key.zeroize();
        assert!(states(&key).iter().all(|w| *w == H::Word::default()));
    }

    #[test]
    fn zeroize_wipes_both_states() {
        wipes::<Sha1Block>();
        wipes::<Sha256Block>();
        wipes::<Sha512Block>();
    }

    #[test]
    fn longest_message_fills_the_block_exactly() {
        assert_eq!(HmacKey::<Sha1Block>::MAX_MESSAGE, 55);
        assert_eq!(HmacKey::<Sha256Block>::MAX_MESSAGE, 55);
        assert_eq!(HmacKey::<Sha512Block>::MAX_MESSAGE, 111);
        let key = HmacKey::<Sha1Block>::new(b"k");
        let mut out = Sha1Block::ZERO_OUTPUT;
        assert!(key.mac(&[0; 55], &mut out));
        assert!(!key.mac(&[0; 56], &mut out));
    }

    #[test]
    fn debug_shows_no_state() {
        let key = HmacKey::<Sha1Block>::new(b"k");
        assert_eq!(format!("{key:?}"), "HmacKey { .. }");
    }
}
