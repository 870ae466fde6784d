//! The floor: TOTP window verification written directly on SHA-1 block
//! compressions from precomputed HMAC inner and outer states, with nothing
//! else in the way. No implementation of the same job can do less work, so
//! the otpguard figures are reported as a ratio to this one.

use sha1::block_api::compress;

const IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

/// HMAC-SHA-1 states after the ipad and opad blocks of one key (up to 64
/// bytes, which is all the benches use).
pub struct Sha1Floor {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl Sha1Floor {
    /// Precomputes both states for `key`.
    pub fn new(key: &[u8]) -> Self {
        assert!(key.len() <= 64, "the floor only takes keys of one block");
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key) {
            *i ^= k;
            *o ^= k;
        }
        let (mut inner, mut outer) = (IV, IV);
        compress(&mut inner, &[ipad]);
        compress(&mut outer, &[opad]);
        Self { inner, outer }
    }

    /// The 6-digit HOTP value of `counter`: one inner and one outer block.
    #[inline]
    pub fn code(&self, counter: u64) -> u32 {
        let mut block = [0u8; 64];
        block[..8].copy_from_slice(&counter.to_be_bytes());
        block[8] = 0x80;
        block[56..].copy_from_slice(&((64u64 + 8) * 8).to_be_bytes());
        let mut inner = self.inner;
        compress(&mut inner, &[block]);

        let mut block = [0u8; 64];
        for (chunk, word) in block.chunks_exact_mut(4).zip(inner) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        block[20] = 0x80;
        block[56..].copy_from_slice(&((64u64 + 20) * 8).to_be_bytes());
        let mut outer = self.outer;
        compress(&mut outer, &[block]);

        let mut mac = [0u8; 20];
        for (chunk, word) in mac.chunks_exact_mut(4).zip(outer) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        let offset = usize::from(mac[19] & 0x0f);
        let word = u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        (word & 0x7fff_ffff) % 1_000_000
    }

    /// Whether the 6-digit `input` is the code of a step in
    /// `center - skew ..= center + skew`. Every step is computed; the result
    /// is folded without branching on it, as a constant-time verifier must.
    #[inline]
    pub fn verify(&self, input: &str, center: u64, skew: u64) -> Option<u64> {
        let bytes = input.as_bytes();
        if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let wanted = bytes
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
        let mut found = 0u64;
        let mut step = 0u64;
        for candidate in center - skew..=center + skew {
            let hit = u64::from(self.code(candidate) == wanted);
            let mask = hit.wrapping_neg();
            step = (step & !mask) | (candidate & mask);
            found |= hit;
        }
        (found == 1).then_some(step)
    }
}
