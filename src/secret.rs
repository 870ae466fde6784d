//! The shared secret of a token, wiped from memory when dropped.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Algorithm, SecretError};

/// A token's shared secret (the HMAC key).
///
/// - At least [`Secret::MIN_LEN`] bytes (128 bits, RFC 4226 §4 R6), at most
///   [`Secret::MAX_LEN`].
/// - Wiped from memory on drop.
/// - `Debug` prints `Secret([REDACTED])`; there is no `Display`, no
///   `PartialEq` and no serde support, so a secret cannot be printed, compared
///   in variable time or serialized by accident.
/// - The raw bytes are read through one method, [`Secret::expose_secret`],
///   which an auditor can grep for.
///
/// ```
/// use otpguard::{Algorithm, Secret};
///
/// // As typed by hand from a provisioning sheet: lower case, spaces, no padding.
/// let s = Secret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")?;
/// assert_eq!(s.expose_secret(), b"12345678901234567890");
/// assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
///
/// let fresh = Secret::generate(Algorithm::Sha1)?;
/// assert_eq!(fresh.len(), 20);
/// # Ok::<(), otpguard::SecretError>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    bytes: Box<[u8]>,
}

impl Secret {
    /// The shortest secret accepted: 16 bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// The longest secret accepted: 256 bytes. Longer keys add nothing to
    /// HMAC's strength (they are hashed down) and only cost time.
    pub const MAX_LEN: usize = 256;

    /// A secret from raw bytes (copied).
    ///
    /// # Errors
    /// [`SecretError::TooShort`] below 16 bytes, [`SecretError::TooLong`]
    /// above 256.
    ///
    /// ```
    /// let s = otpguard::Secret::from_bytes(&[7u8; 20])?;
    /// assert_eq!(s.len(), 20);
    /// assert!(otpguard::Secret::from_bytes(&[7u8; 15]).is_err());
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        check_len(bytes.len())?;
        Ok(Self {
            bytes: Box::from(bytes),
        })
    }

    /// A secret from RFC 4648 base32 text, as shown to users for manual entry
    /// and carried in `otpauth://` URIs.
    ///
    /// Case is ignored; spaces, tabs, newlines and dashes (grouping people add
    /// when they copy a secret by hand) are skipped; `=` padding may be present
    /// or absent. The decoded length must still be 16 to 256 bytes.
    ///
    /// # Errors
    /// [`SecretError::InvalidBase32`] for a character outside the alphabet,
    /// misplaced padding or an impossible length; the length errors of
    /// [`Secret::from_bytes`].
    ///
    /// ```
    /// use otpguard::Secret;
    /// let a = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// let b = Secret::from_base32("gezdgnbv-gy3tqojq-gezdgnbv-gy3tqojq")?;
    /// assert_eq!(a.expose_secret(), b.expose_secret());
    /// // 16 bytes: 26 characters, with or without the 6 '=' of padding.
    /// let c = Secret::from_base32("AAAQEAYEAUDAOCAJBIFQYDIOB4======")?;
    /// let d = Secret::from_base32("AAAQEAYEAUDAOCAJBIFQYDIOB4")?;
    /// assert_eq!(c.expose_secret(), d.expose_secret());
    /// assert!(Secret::from_base32("GEZDGNBVGY3TQOJ1").is_err()); // '1' is not base32
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let mut clean = Zeroizing::new(String::with_capacity(text.len()));
        let mut padding = 0usize;
        for c in text.chars() {
            if c.is_ascii_whitespace() || c == '-' {
                continue;
            }
            if c == '=' {
                padding = padding.saturating_add(1);
                continue;
            }
            if padding > 0 {
                return Err(SecretError::InvalidBase32 {
                    reason: "data after '=' padding",
                });
            }
            let up = c.to_ascii_uppercase();
            if !(up.is_ascii_uppercase() || ('2'..='7').contains(&up)) {
                return Err(SecretError::InvalidBase32 {
                    reason: "character outside the base32 alphabet (A-Z, 2-7)",
                });
            }
            clean.push(up);
        }
        // A base32 group of 8 characters carries 5 bytes; a final partial group
        // can only have 2, 4, 5 or 7 characters.
        if matches!(clean.len() % 8, 1 | 3 | 6) {
            return Err(SecretError::InvalidBase32 {
                reason: "length is not a whole number of bytes",
            });
        }
        if padding > 6 || (padding > 0 && (clean.len().saturating_add(padding)) % 8 != 0) {
            return Err(SecretError::InvalidBase32 {
                reason: "wrong amount of '=' padding",
            });
        }
        let decoded = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &clean)
            .map(Zeroizing::new)
            .ok_or(SecretError::InvalidBase32 {
                reason: "cannot be decoded",
            })?;
        Self::from_bytes(&decoded)
    }

    /// A new random secret from the operating system's CSPRNG, as long as the
    /// algorithm's hash output (20 bytes for SHA-1, 32 for SHA-256, 64 for
    /// SHA-512), as RFC 4226 §4 and RFC 6238 §5.1 recommend.
    ///
    /// # Errors
    /// [`SecretError::Rng`] if the operating system cannot supply randomness.
    ///
    /// ```
    /// use otpguard::{Algorithm, Secret};
    /// let a = Secret::generate(Algorithm::Sha512)?;
    /// assert_eq!(a.len(), 64);
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    pub fn generate(algorithm: Algorithm) -> Result<Self, SecretError> {
        Self::generate_len(algorithm.output_len())
    }

    /// A new random secret of `len` bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// The length errors of [`Secret::from_bytes`]; [`SecretError::Rng`] if
    /// the operating system cannot supply randomness.
    ///
    /// ```
    /// let s = otpguard::Secret::generate_len(32)?;
    /// assert_eq!(s.len(), 32);
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    pub fn generate_len(len: usize) -> Result<Self, SecretError> {
        check_len(len)?;
        let mut bytes = vec![0u8; len].into_boxed_slice();
        if getrandom::fill(&mut bytes).is_err() {
            bytes.zeroize();
            return Err(SecretError::Rng);
        }
        Ok(Self { bytes })
    }

    /// The secret as unpadded upper-case base32, for provisioning (QR code or
    /// manual entry). The returned string is wiped when dropped.
    ///
    /// ```
    /// let s = otpguard::Secret::from_bytes(b"12345678901234567890")?;
    /// assert_eq!(s.to_base32().as_str(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    #[must_use]
    pub fn to_base32(&self) -> Zeroizing<String> {
        base32_wiped(&self.bytes)
    }

    /// The raw secret bytes. This is the only way to read them.
    ///
    /// ```
    /// let s = otpguard::Secret::from_bytes(&[1u8; 16])?;
    /// assert_eq!(s.expose_secret(), &[1u8; 16]);
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.bytes
    }

    /// Length of the secret in bytes (not secret).
    ///
    /// ```
    /// assert_eq!(otpguard::Secret::from_bytes(&[1u8; 16])?.len(), 16);
    /// # Ok::<(), otpguard::SecretError>(())
    /// ```
    #[must_use]
    #[allow(clippy::len_without_is_empty)] // a secret is never empty
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

fn check_len(len: usize) -> Result<(), SecretError> {
    if len < Secret::MIN_LEN {
        return Err(SecretError::TooShort {
            len,
            min: Secret::MIN_LEN,
        });
    }
    if len > Secret::MAX_LEN {
        return Err(SecretError::TooLong {
            len,
            max: Secret::MAX_LEN,
        });
    }
    Ok(())
}

/// Cloning copies the bytes into a new allocation; each copy is wiped on its
/// own drop.
impl Clone for Secret {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// `bytes` as unpadded base32, with no copy of the text left in freed
/// memory: encoded 5 bytes (8 characters) at a time into a string sized for
/// the whole text up front. `base32::encode` on the whole input grows its
/// buffer as it goes and frees the smaller one with part of the text still
/// in it; a 5-byte chunk's own buffer is large enough from the start (it
/// reserves 5 per 4 bytes) and is wiped before it is freed.
pub(crate) fn base32_wiped(bytes: &[u8]) -> Zeroizing<String> {
    let len = bytes.len().div_ceil(5).saturating_mul(8);
    let mut text = Zeroizing::new(String::with_capacity(len));
    for chunk in bytes.chunks(5) {
        let part = Zeroizing::new(base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            chunk,
        ));
        text.push_str(&part);
    }
    text
}
