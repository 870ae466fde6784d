//! The serial number that identifies a token.

use core::fmt;
use std::sync::Arc;

use thiserror::Error;

/// A token's serial number, as the app shows it and the customer types it.
///
/// Not secret: it appears in audit records and errors. It is a label, not
/// the token's identity: the lifecycle knows a token by its random
/// [`TokenId`](super::TokenId), and two customers may hold the same serial
/// (see [`TokenStore`](super::store::TokenStore)). So that it
/// cannot forge or break a log line, it is 1 to [`TokenSerial::MAX_LEN`] characters of ASCII
/// letters, digits, `-`, `_` and `.`.
///
/// ```
/// use otpguard::lifecycle::TokenSerial;
/// let s = TokenSerial::new("SN-0001")?;
/// assert_eq!(s.as_str(), "SN-0001");
/// assert!(TokenSerial::new("SN 1\n").is_err());
/// # Ok::<(), otpguard::lifecycle::error::SerialError>(())
/// ```
///
/// Cloning it is cheap (a shared, immutable string): every audit record
/// names the token, and copying its text each time would cost an allocation
/// per event.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenSerial(Arc<str>);

impl TokenSerial {
    /// The longest serial accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks and wraps a serial number.
    ///
    /// # Errors
    /// [`SerialError::Empty`], [`SerialError::TooLong`] or
    /// [`SerialError::InvalidCharacter`].
    ///
    /// ```
    /// assert!(otpguard::lifecycle::TokenSerial::new("").is_err());
    /// ```
    pub fn new(serial: &str) -> Result<Self, SerialError> {
        if serial.is_empty() {
            return Err(SerialError::Empty);
        }
        if serial.len() > Self::MAX_LEN {
            return Err(SerialError::TooLong {
                len: serial.len(),
                max: Self::MAX_LEN,
            });
        }
        if !serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(SerialError::InvalidCharacter);
        }
        Ok(Self(Arc::from(serial)))
    }

    /// The serial as text.
    ///
    /// ```
    /// # let s = otpguard::lifecycle::TokenSerial::new("A1")?;
    /// assert_eq!(s.as_str(), "A1");
    /// # Ok::<(), otpguard::lifecycle::error::SerialError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSerial({})", self.0)
    }
}

impl fmt::Display for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TokenSerial {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TokenSerial {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A serial number was rejected by [`TokenSerial::new`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SerialError {
    /// The serial is empty.
    #[error("a token serial cannot be empty")]
    Empty,
    /// The serial is longer than [`TokenSerial::MAX_LEN`].
    #[error("a token serial is at most {max} characters, not {len}")]
    TooLong {
        /// Length given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A character other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("a token serial may only contain ASCII letters, digits, '-', '_' and '.'")]
    InvalidCharacter,
}
