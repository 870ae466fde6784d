//! The HMAC hash functions that RFC 6238 allows.

use core::fmt;

/// The hash function under the HMAC that produces each code.
///
/// RFC 4226 defines HOTP with HMAC-SHA-1; RFC 6238 §1.2 extends TOTP to
/// HMAC-SHA-256 and HMAC-SHA-512. SHA-1 is still the default of nearly every
/// authenticator app, and its use inside HMAC is not affected by the known
/// SHA-1 collision attacks.
///
/// ```
/// use otpguard::Algorithm;
///
/// assert_eq!(Algorithm::default(), Algorithm::Sha1);
/// assert_eq!(Algorithm::Sha256.output_len(), 32);
/// assert_eq!(Algorithm::Sha512.to_string(), "SHA512");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Algorithm {
    /// HMAC-SHA-1 (RFC 4226), 20-byte output. The default.
    #[default]
    Sha1,
    /// HMAC-SHA-256 (RFC 6238), 32-byte output.
    Sha256,
    /// HMAC-SHA-512 (RFC 6238), 64-byte output.
    Sha512,
}

impl Algorithm {
    /// Length in bytes of the hash output, which is also the length of the
    /// secret that [`Secret::generate`](crate::Secret::generate) produces.
    ///
    /// ```
    /// assert_eq!(otpguard::Algorithm::Sha1.output_len(), 20);
    /// ```
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The name used in `otpauth://` URIs (`SHA1`, `SHA256`, `SHA512`).
    ///
    /// ```
    /// assert_eq!(otpguard::Algorithm::Sha256.uri_name(), "SHA256");
    /// ```
    #[must_use]
    pub const fn uri_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// Parses a URI algorithm name, ignoring ASCII case and allowing one dash
    /// after `SHA` (`SHA1`, `sha-256`, …). Anything else, including other
    /// dashes, is not a name this library knows.
    ///
    /// ```
    /// use otpguard::Algorithm;
    /// assert_eq!(Algorithm::from_uri_name("sha-256"), Some(Algorithm::Sha256));
    /// assert_eq!(Algorithm::from_uri_name("SHA1"), Some(Algorithm::Sha1));
    /// assert_eq!(Algorithm::from_uri_name("MD5"), None);
    /// assert_eq!(Algorithm::from_uri_name("S-H-A-1"), None);
    /// ```
    #[must_use]
    pub fn from_uri_name(name: &str) -> Option<Self> {
        let rest = name
            .get(..3)
            .filter(|prefix| prefix.eq_ignore_ascii_case("SHA"))
            .and_then(|_| name.get(3..))?;
        match rest.strip_prefix('-').unwrap_or(rest) {
            "1" => Some(Self::Sha1),
            "256" => Some(Self::Sha256),
            "512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri_name())
    }
}
