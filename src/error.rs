//! Error types, one enum per concern.
//!
//! Every enum is `#[non_exhaustive]` so that new failure cases can be added
//! without breaking callers. No error ever carries secret material or the
//! code a user submitted.

use thiserror::Error;

/// A secret could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is shorter than the 128 bits RFC 4226 §4 (R6) requires.
    #[error("secret is {len} bytes; at least {min} bytes (128 bits) are required")]
    TooShort {
        /// Length that was given, in bytes.
        len: usize,
        /// Minimum length, in bytes.
        min: usize,
    },
    /// The secret is longer than this library accepts.
    #[error("secret is {len} bytes; at most {max} bytes are accepted")]
    TooLong {
        /// Length that was given, in bytes.
        len: usize,
        /// Maximum length, in bytes.
        max: usize,
    },
    /// The text is not valid RFC 4648 base32. The offending text is not
    /// repeated here, since it is (part of) a secret.
    #[error("secret is not valid base32: {reason}")]
    InvalidBase32 {
        /// What is wrong with it, without quoting it.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Rng,
}

/// A parameter of [`Hotp`](crate::Hotp), [`Totp`](crate::Totp) or
/// [`Window`](crate::Window) is out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParamError {
    /// Codes have 6, 7 or 8 digits (RFC 4226 §5.3 requires at least 6; more
    /// than 8 would exceed the 31-bit truncated value's precision).
    #[error("codes must have 6, 7 or 8 digits, not {0}")]
    Digits(u32),
    /// A TOTP period must be at least one second.
    #[error("the TOTP period must be at least 1 second")]
    ZeroPeriod,
    /// A verification window may look at most [`Window::MAX`](crate::Window::MAX)
    /// steps behind and ahead.
    #[error("window of {behind} behind / {ahead} ahead exceeds the maximum of {max} each way")]
    WindowTooLarge {
        /// Requested look-behind.
        behind: u32,
        /// Requested look-ahead.
        ahead: u32,
        /// The cap.
        max: u32,
    },
}

/// A time cannot be turned into a TOTP time step.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The time is earlier than the TOTP's T0, so it has no time step.
    #[error("time {time} is before T0 ({t0})")]
    BeforeT0 {
        /// The Unix time given.
        time: u64,
        /// The configured T0.
        t0: u64,
    },
    /// A token's recorded drift moves the window's centre outside the time
    /// steps (before step 0).
    #[error("a drift of {shift} steps from step {step} leaves the time steps")]
    DriftOutOfRange {
        /// The current step.
        step: u64,
        /// The drift.
        shift: i64,
    },
}

/// A store (a replay guard, or the lifecycle's token store) could not
/// answer for certain, or holds corrupt data. Verification turns this into a
/// refusal ([`ClaimError::Store`], `LifecycleError::Store` or `Corrupt`):
/// the library fails closed, never open.
#[derive(Debug, Error)]
#[error("{}: {message}", kind.describe())]
pub struct StoreError {
    message: String,
    kind: StoreErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What kind of [`StoreError`] it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreErrorKind {
    /// The store could not answer for certain.
    Failed,
    /// The store answered with data that is not valid.
    Corrupt,
}

impl StoreErrorKind {
    const fn describe(self) -> &'static str {
        match self {
            Self::Failed => "store failed",
            Self::Corrupt => "store holds corrupt data",
        }
    }
}

impl StoreError {
    /// A store error with a message for the log.
    ///
    /// ```
    /// let e = otpguard::StoreError::new("connection refused");
    /// assert!(e.to_string().contains("connection refused"));
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: StoreErrorKind::Failed,
            source: None,
        }
    }

    /// A store error that wraps the store's own error.
    ///
    /// ```
    /// let io = std::io::Error::other("timeout");
    /// let e = otpguard::StoreError::with_source("redis EVALSHA failed", io);
    /// assert!(std::error::Error::source(&e).is_some());
    /// ```
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            kind: StoreErrorKind::Failed,
            source: Some(source.into()),
        }
    }

    /// The store answered, but what it holds for the key is not valid data
    /// (a record that does not decode, fails its consistency checks, or was
    /// tampered with). Distinct from a store that cannot answer: retrying
    /// will not help, and the lifecycle reports it as
    /// [`LifecycleError::Corrupt`](crate::lifecycle::LifecycleError::Corrupt).
    ///
    /// ```
    /// let e = otpguard::StoreError::corrupt("record of c-1 does not decode");
    /// assert!(e.is_corrupt());
    /// assert!(!otpguard::StoreError::new("timeout").is_corrupt());
    /// ```
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: StoreErrorKind::Corrupt,
            source: None,
        }
    }

    /// Whether the store holds corrupt data (see [`StoreError::corrupt`]).
    #[must_use]
    pub const fn is_corrupt(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Corrupt)
    }
}

/// A TOTP code did not verify: what checking it against the window can find
/// ([`Totp::verify`](crate::Totp::verify), and within a [`PairError`]
/// [`Totp::verify_pair`](crate::Totp::verify_pair)).
///
/// ```
/// use otpguard::CheckError;
/// assert!(CheckError::Mismatch.is_wrong_code());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The input is not exactly the configured number of ASCII digits. It was
    /// rejected before any comparison.
    #[error("a code must be exactly {expected} ASCII digits")]
    Malformed {
        /// The number of digits required.
        expected: u32,
    },
    /// No code in the window matched the input.
    #[error("the code does not match any time step in the window")]
    Mismatch,
    /// The time has no time step (it is before T0).
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// A pair of consecutive codes did not verify
/// ([`Totp::verify_pair`](crate::Totp::verify_pair)): the check of the
/// codes failed, or the radius asked for is above the cap.
///
/// ```
/// use otpguard::{CheckError, PairError};
/// assert!(PairError::from(CheckError::Mismatch).is_wrong_code());
/// assert!(!PairError::RadiusTooLarge { radius: 1_000, max: 100 }.is_wrong_code());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PairError {
    /// The codes did not verify.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// A resynchronisation radius above the cap.
    #[error("a resynchronisation radius of {radius} steps exceeds the cap of {max}")]
    RadiusTooLarge {
        /// The radius asked for.
        radius: u32,
        /// The cap.
        max: u32,
    },
}

impl PairError {
    /// Whether the user entered a wrong pair (malformed or not matching),
    /// the rule of [`CheckError::is_wrong_code`].
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        match self {
            Self::Check(e) => e.is_wrong_code(),
            Self::RadiusTooLarge { .. } => false,
        }
    }
}

impl CheckError {
    /// Whether the user entered a wrong code (malformed or not matching),
    /// as opposed to a fault of the system: only these count towards a
    /// lock-out.
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        matches!(self, Self::Malformed { .. } | Self::Mismatch)
    }
}

/// An HOTP code did not verify against the window of counters
/// ([`Hotp::verify`](crate::Hotp::verify)). Counters have no time, so unlike
/// [`CheckError`] there is no time error: only the code can be wrong.
///
/// ```
/// use otpguard::HotpCheckError;
/// assert!(HotpCheckError::Mismatch.is_wrong_code());
/// assert!(HotpCheckError::Malformed { expected: 6 }.is_wrong_code());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HotpCheckError {
    /// The input is not exactly the configured number of ASCII digits. It was
    /// rejected before any comparison.
    #[error("a code must be exactly {expected} ASCII digits")]
    Malformed {
        /// The number of digits required.
        expected: u32,
    },
    /// No counter in the window produces the input.
    #[error("the code does not match any counter in the window")]
    Mismatch,
}

impl HotpCheckError {
    /// Whether the user entered a wrong code (malformed or not matching),
    /// the same rule as [`CheckError::is_wrong_code`]: only these count
    /// towards a lock-out.
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        matches!(self, Self::Malformed { .. } | Self::Mismatch)
    }
}

/// Checking a code against steps (TOTP time steps or HOTP counters) finds
/// the same two faults with the code whatever the steps are; TOTP adds its
/// own ([`CheckError::Time`]).
impl From<HotpCheckError> for CheckError {
    fn from(e: HotpCheckError) -> Self {
        match e {
            HotpCheckError::Malformed { expected } => Self::Malformed { expected },
            HotpCheckError::Mismatch => Self::Mismatch,
        }
    }
}

/// A matched code could not be claimed on a replay guard
/// ([`Match::claim`](crate::Match::claim)).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The code matched, but its step is not newer than the last step already
    /// accepted for this token (RFC 6238 §5.2).
    #[error("the code matched step {step}, but step {last_accepted} was already accepted for this token")]
    Replayed {
        /// The step the code matched.
        step: u64,
        /// The last step accepted before.
        last_accepted: u64,
    },
    /// The replay store failed, so the code is refused.
    #[error("code refused because the replay store failed")]
    Store(#[source] StoreError),
}

impl ClaimError {
    /// Whether the code was a replay: right, but its step not newer than
    /// the last accepted for the token.
    ///
    /// ```
    /// use otpguard::{ClaimError, StoreError};
    /// assert!(ClaimError::Replayed { step: 4, last_accepted: 5 }.is_replay());
    /// assert!(!ClaimError::Store(StoreError::new("down")).is_replay());
    /// ```
    #[must_use]
    pub const fn is_replay(&self) -> bool {
        matches!(self, Self::Replayed { .. })
    }
}

/// A submitted TOTP code was not accepted by a one-call verification
/// ([`Totp::verify_once`](crate::Totp::verify_once)): checking it failed,
/// or claiming its step did.
///
/// The variants are detail for the bank's logs. Towards the customer (who may
/// be an attacker) a backend should answer with one coarse message whatever
/// the variant; [`VerifyError::is_wrong_code`] tells which failures should
/// count towards a lock-out, [`VerifyError::is_replay`] which were replays.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The code did not verify: malformed, matching no step of the window,
    /// or checked at a time before T0.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The code matched, but its step could not be claimed: a replay, or
    /// the replay store failed.
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

impl VerifyError {
    /// Whether the user entered a wrong code: malformed or not matching
    /// ([`CheckError::is_wrong_code`]), as opposed to a fault of the system.
    /// Only these count towards a lock-out. A replay is not a wrong code
    /// (see [`VerifyError::is_replay`]), as in the lifecycle, where a replay
    /// is refused without being counted.
    ///
    /// ```
    /// use otpguard::{CheckError, ClaimError, StoreError, VerifyError};
    /// assert!(VerifyError::from(CheckError::Mismatch).is_wrong_code());
    /// let replay = VerifyError::from(ClaimError::Replayed { step: 1, last_accepted: 1 });
    /// assert!(!replay.is_wrong_code());
    /// assert!(!VerifyError::from(ClaimError::Store(StoreError::new("down"))).is_wrong_code());
    /// ```
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        match self {
            Self::Check(e) => e.is_wrong_code(),
            Self::Claim(_) => false,
        }
    }

    /// Whether the code was right but replayed ([`ClaimError::is_replay`]).
    ///
    /// ```
    /// use otpguard::{CheckError, ClaimError, VerifyError};
    /// assert!(VerifyError::from(ClaimError::Replayed { step: 1, last_accepted: 1 }).is_replay());
    /// assert!(!VerifyError::from(CheckError::Mismatch).is_replay());
    /// ```
    #[must_use]
    pub const fn is_replay(&self) -> bool {
        match self {
            Self::Check(_) => false,
            Self::Claim(e) => e.is_replay(),
        }
    }
}

/// A submitted HOTP code was not accepted by a one-call verification
/// ([`Hotp::verify_once`](crate::Hotp::verify_once)): checking it failed,
/// or claiming its counter did. As [`VerifyError`], without time errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HotpVerifyError {
    /// The code did not verify: malformed, or matching no counter of the
    /// window.
    #[error(transparent)]
    Check(#[from] HotpCheckError),
    /// The code matched, but its counter could not be claimed: a replay, or
    /// the replay store failed.
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

impl HotpVerifyError {
    /// Whether the user entered a wrong code, by the rule of
    /// [`VerifyError::is_wrong_code`]: a replay is not one.
    ///
    /// ```
    /// use otpguard::{ClaimError, HotpCheckError, HotpVerifyError};
    /// assert!(HotpVerifyError::from(HotpCheckError::Mismatch).is_wrong_code());
    /// assert!(!HotpVerifyError::from(ClaimError::Replayed { step: 1, last_accepted: 1 }).is_wrong_code());
    /// ```
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        match self {
            Self::Check(e) => e.is_wrong_code(),
            Self::Claim(_) => false,
        }
    }

    /// Whether the code was right but replayed ([`ClaimError::is_replay`]).
    ///
    /// ```
    /// use otpguard::{ClaimError, HotpCheckError, HotpVerifyError};
    /// assert!(HotpVerifyError::from(ClaimError::Replayed { step: 1, last_accepted: 1 }).is_replay());
    /// assert!(!HotpVerifyError::from(HotpCheckError::Mismatch).is_replay());
    /// ```
    #[must_use]
    pub const fn is_replay(&self) -> bool {
        match self {
            Self::Check(_) => false,
            Self::Claim(e) => e.is_replay(),
        }
    }
}

/// An `otpauth://` Key URI could not be parsed or built.
///
/// No variant carries the secret, nor any other text taken from the URI: a
/// URI holds the secret, so an error message that quoted it could leak it
/// into a log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UriError {
    /// The URI does not start with `otpauth://` (the scheme's case is
    /// ignored).
    #[error("not an otpauth:// URI")]
    Scheme,
    /// The type (the host part) is missing or is neither `totp` nor `hotp`.
    #[error("unknown OTP type (expected totp or hotp)")]
    Type,
    /// The label (the path after the type) is missing or empty.
    #[error("the label (issuer:account) is missing")]
    Label,
    /// An account or issuer name (in the label, the `issuer` parameter or
    /// given to the builder) is empty, starts with whitespace, or contains a
    /// `:` (which would make the `issuer:account` label ambiguous) or a
    /// control character. The field is `"account"` or `"issuer"`.
    #[error(
        "the {0} name is empty, starts with whitespace, or contains ':' or a control character"
    )]
    Name(&'static str),
    /// A `%` is not followed by two hexadecimal digits. The field is
    /// `"label"` or the parameter's name.
    #[error("invalid percent-escape in {0}")]
    Encoding(&'static str),
    /// The percent-decoded text is not valid UTF-8. The field is `"label"` or
    /// the parameter's name.
    #[error("{0} is not valid UTF-8 once percent-decoded")]
    Utf8(&'static str),
    /// A required parameter is missing or empty: `secret` always, `counter`
    /// for `hotp`.
    #[error("missing parameter `{0}`")]
    Missing(&'static str),
    /// A parameter this library reads appears more than once, so which one an
    /// authenticator app would use is unclear.
    #[error("parameter `{0}` appears more than once")]
    Duplicate(&'static str),
    /// A number (`digits`, `period`, `counter`) is not a plain decimal
    /// integer that fits its type, or `ocrasuite` is not an OCRA suite in
    /// the canonical spelling of RFC 6287 §6.
    #[error("invalid value for parameter `{0}`")]
    Invalid(&'static str),
    /// The `algorithm` parameter names no supported hash (SHA1, SHA256,
    /// SHA512).
    #[error("unknown algorithm (expected SHA1, SHA256 or SHA512)")]
    UnknownAlgorithm,
    /// The issuer in the label and the `issuer` parameter differ.
    #[error("the issuer in the label and the issuer parameter differ")]
    IssuerMismatch,
    /// A [`KeyUri`](crate::KeyUri) of one type was asked for a generator of
    /// the other (an HOTP key turned into a `Totp`, or the reverse).
    #[error("the key URI is not of type {expected}")]
    WrongType {
        /// The type that was asked for: `"totp"` or `"hotp"`.
        expected: &'static str,
    },
    /// The profile's T0 is not 0: an `otpauth://` URI cannot carry T0, and
    /// apps assume 0, so the phone would show other codes than the bank
    /// checks.
    #[error("an otpauth:// URI cannot carry T0 = {0}; apps assume T0 = 0")]
    T0(u64),
    /// The `secret` parameter is not valid base32, or decodes to a length
    /// [`Secret`](crate::Secret) does not accept.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Digits or period are out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
}
