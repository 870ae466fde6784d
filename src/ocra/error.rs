//! What can go wrong with a suite, an input or a response, each in its own
//! type: parsing a suite returns only [`SuiteError`], computing a response
//! only [`InputError`], verifying one only [`ResponseError`].

use thiserror::Error;

use super::suite::QuestionFormat;

/// A suite string is not one RFC 6287 §6 allows. Each variant names the part
/// that is wrong and quotes it (a suite is configuration, not a secret).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The text is longer than any valid suite.
    #[error("an OCRA suite has at most {max} characters, not {len}")]
    TooLong {
        /// Length given, in bytes.
        len: usize,
        /// [`Suite::MAX_LEN`](super::Suite::MAX_LEN).
        max: usize,
    },
    /// Not three `:`-separated parts (`OCRA-1:CryptoFunction:DataInput`).
    #[error("an OCRA suite is OCRA-1:CryptoFunction:DataInput (three parts separated by ':')")]
    Shape,
    /// The first part is not `OCRA-1`.
    #[error("unknown OCRA version `{found}` (expected OCRA-1)")]
    Version {
        /// The first part.
        found: String,
    },
    /// The CryptoFunction is not `HOTP-<hash>-<digits>`.
    #[error("the crypto function `{found}` is not HOTP-<hash>-<digits>")]
    CryptoFunction {
        /// The second part.
        found: String,
    },
    /// The CryptoFunction's hash is not SHA1, SHA256 or SHA512.
    #[error("unknown hash `{found}` in the crypto function (expected SHA1, SHA256 or SHA512)")]
    Hash {
        /// The hash name given.
        found: String,
    },
    /// The truncation length is not 0 or 4 to 10 (without leading zeros).
    #[error("truncation `{found}` is not 0 or 4 to 10 digits")]
    Digits {
        /// The truncation given.
        found: String,
    },
    /// The DataInput's first element is neither `C` nor a question `QA`,
    /// `QN` or `QH` (the question is mandatory, and comes first or after
    /// `C`).
    #[error(
        "expected the challenge question QAxx, QNxx or QHxx (optionally after C-), found `{found}`"
    )]
    Question {
        /// The element found where the question should be.
        found: String,
    },
    /// The question's length is not two digits from 04 to 64.
    #[error("the question length in `{found}` is not two digits from 04 to 64")]
    QuestionLength {
        /// The question element.
        found: String,
    },
    /// The PIN element is not `PSHA1`, `PSHA256` or `PSHA512`.
    #[error("the PIN element `{found}` is not PSHA1, PSHA256 or PSHA512")]
    Pin {
        /// The PIN element.
        found: String,
    },
    /// The session element is not `S` and three digits from 001 to 999.
    #[error("the session element `{found}` is not S followed by three digits from 001 to 999")]
    Session {
        /// The session element.
        found: String,
    },
    /// The time element is not `T` and 1-59 `S`, 1-59 `M` or 1-48 `H`
    /// (without leading zeros).
    #[error("the time step `{found}` is not T followed by 1-59S, 1-59M or 1-48H")]
    TimeStep {
        /// The time element.
        found: String,
    },
    /// An element after the question that is unknown, repeated, empty or
    /// out of order (the order is `C`, `Q`, `P`, `S`, `T`).
    #[error("unexpected DataInput element `{found}` (the order is [C-]QFxx[-PH][-Snnn][-TG])")]
    Element {
        /// The element.
        found: String,
    },
}

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
