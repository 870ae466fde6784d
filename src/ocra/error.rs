//! What can go wrong with a suite, an input or a response, each in its own
//! type: parsing a suite returns only [`SuiteError`], computing a response
//! only [`InputError`], verifying one only [`ResponseError`].

use thiserror::Error;

use super::suite::QuestionFormat;

/// Which input of a suite an [`InputError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The counter `C`.
    Counter,
    /// The PIN `P`.
    Pin,
    /// The session information `S`.
    Session,
    /// The time `T`.
    Time,
}

impl core::fmt::Display for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Counter => "counter (C)",
            Self::Pin => "PIN (P)",
            Self::Session => "session information (S)",
            Self::Time => "time (T)",
        })
    }
}

/// The inputs given do not fit the suite. No variant quotes a PIN or its
/// hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InputError {
    /// A question (or one of the two questions of a mutual
    /// challenge-response) is empty or longer than the suite allows.
    #[error("a question of {len} characters; the suite takes 1 to {max}")]
    QuestionLength {
        /// Its length in characters.
        len: usize,
        /// The suite's `xx`.
        max: usize,
    },
    /// A question has a character its format does not allow.
    #[error("the question is not {format}")]
    QuestionFormat {
        /// The suite's question format.
        format: QuestionFormat,
    },
    /// The suite has this input, and it was not given.
    #[error("the suite needs a {0}")]
    Missing(Field),
    /// The suite does not have this input, and it was given.
    #[error("the suite has no {0}")]
    Unexpected(Field),
    /// A PIN given as its hash is not as long as the suite's PIN hash.
    #[error("a PIN hash of {len} bytes; the suite's PIN hash has {expected}")]
    PinHashLength {
        /// Length given.
        len: usize,
        /// The output length of the suite's PIN hash.
        expected: usize,
    },
    /// A PIN given as its hash is not 20, 32 or 64 bytes long (SHA-1,
    /// SHA-256 or SHA-512).
    #[error("a PIN hash of {len} bytes is not a SHA-1, SHA-256 or SHA-512 hash")]
    PinHash {
        /// Length given.
        len: usize,
    },
    /// An empty PIN.
    #[error("the PIN is empty")]
    EmptyPin,
    /// A PIN longer than [`Pin::MAX_LEN`](super::Pin::MAX_LEN).
    #[error("a PIN of {len} bytes; at most {max} are accepted")]
    PinTooLong {
        /// Length given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Session information not exactly as long as the suite says.
    #[error("session information of {len} bytes; the suite takes exactly {expected}")]
    SessionLength {
        /// Length given.
        len: usize,
        /// The suite's `nnn`.
        expected: usize,
    },
}

/// A window a suite cannot use: it looks at counters the suite does not
/// have, or at time steps it does not have, or looks too far.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WindowError {
    /// A counter look-ahead above [`VerifyWindow::MAX_COUNTER_AHEAD`](super::VerifyWindow::MAX_COUNTER_AHEAD).
    #[error("a counter look-ahead of {ahead} exceeds the maximum of {max}")]
    TooLarge {
        /// The look-ahead asked for.
        ahead: u32,
        /// The cap.
        max: u32,
    },
    /// A window over an input the suite does not have (a counter look-ahead
    /// for a suite without `C`, a time window for a suite without `T`).
    #[error("the window looks at the {0}, which the suite does not have")]
    Unused(Field),
}

/// A response did not verify ([`Ocra::verify`](super::Ocra::verify)).
///
/// Towards the customer, answer with one coarse message whatever the
/// variant; [`ResponseError::is_wrong_code`] says which failures are the
/// customer's (and count towards a lock-out).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The response is not exactly as many decimal digits (or, for a suite
    /// without truncation, hexadecimal digits) as the suite's responses. It
    /// was rejected before any comparison.
    #[error("a response must be exactly {len} {}", if *.hex { "hexadecimal digits" } else { "decimal digits" })]
    Malformed {
        /// The number of digits required.
        len: usize,
        /// Whether they are hexadecimal (a suite without truncation).
        hex: bool,
    },
    /// No candidate in the window produces the response.
    #[error("the response does not match")]
    Mismatch,
    /// The inputs do not fit the suite (nothing was compared).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The window does not fit the suite (nothing was compared).
    #[error(transparent)]
    Window(#[from] WindowError),
}

impl ResponseError {
    /// Whether the response was wrong (malformed or not matching), as
    /// opposed to a fault of the caller's inputs or configuration.
    ///
    /// ```
    /// use otpguard::ocra::{ResponseError, InputError, Field};
    /// assert!(ResponseError::Mismatch.is_wrong_code());
    /// assert!(!ResponseError::Input(InputError::Missing(Field::Counter)).is_wrong_code());
    /// ```
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        matches!(self, Self::Malformed { .. } | Self::Mismatch)
    }
}
