//! Fixtures shared by the bench binaries, the raw-compression floor and the
//! clock they read.

// Each bench binary uses a different part of this module.
#![allow(dead_code)]

pub mod clock;
pub mod floor;

/// The RFC 4226 / RFC 6238 SHA-1 seed: the secret every comparison uses.
pub const SECRET_SHA1: &[u8; 20] = b"12345678901234567890";
/// The RFC 6238 SHA-256 seed.
pub const SECRET_SHA256: &[u8; 32] = b"12345678901234567890123456789012";
/// The RFC 6238 SHA-512 seed.
pub const SECRET_SHA512: &[u8; 64] =
    b"1234567890123456789012345678901234567890123456789012345678901234";
/// A time from RFC 6238 Appendix B (step 37037036 with a 30 s period).
pub const TIME: u64 = 1_111_111_109;
/// The period every TOTP here uses.
pub const PERIOD: u64 = 30;
