//! The record a backend stores per customer.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use super::{State, TokenSerial};
use crate::{Secret, Totp};

/// A registered token: its serial and secret, and the secret keyed for
/// verification.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) serial: TokenSerial,
    pub(crate) secret: Secret,
    /// The secret keyed into a [`Totp`] with the parameters of the lifecycle
    /// that last verified a code of it: keying costs as much as checking a
    /// code, so it is done once per token, not once per code. Never stored;
    /// a lifecycle uses it only if its parameters are the ones it was built
    /// with (see `Lifecycle::key`), and rebuilds it otherwise.
    pub(crate) keyed: Option<Totp>,
}

impl Token {
    /// A token not yet keyed: the first verification keys it.
    pub(crate) const fn new(serial: TokenSerial, secret: Secret) -> Self {
        Self {
            serial,
            secret,
            keyed: None,
        }
    }
}

/// A swap in progress: when it started and until when the new token may be
/// registered.
///
/// The new token's serial and secret are not stored here: they arrive with
/// `CompleteSwap` together with the code that proves them, so the record
/// never holds a secret nobody has proven.
///
/// ```
/// use otpguard::lifecycle::PendingSwap;
/// let p = PendingSwap { started_at: 100, deadline: 700 };
/// assert_eq!(p.deadline - p.started_at, 600);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingSwap {
    /// When `BeginSwap` was accepted (Unix seconds).
    pub started_at: u64,
    /// `CompleteSwap` is accepted strictly before this time, `SwapTimeout`
    /// at or after it (Unix seconds).
    pub deadline: u64,
}

/// Everything the lifecycle knows about one customer's token. The backend
/// stores it and saves it back after every accepted change, with
/// compare-and-swap on [`TokenRecord::version`] so that two concurrent
/// requests cannot both win.
///
/// Only [`Lifecycle`](super::Lifecycle) changes it. `Debug` never shows the
/// secret. It has no serde implementation of its own: see
/// `WithSecrets` (feature `serde`) for storage and
/// [`TokenRecord::summary`] for a secret-free view.
///
/// ```
/// use otpguard::lifecycle::{State, TokenRecord};
/// let r = TokenRecord::new();
/// assert_eq!((r.state(), r.version(), r.failures()), (State::Unregistered, 0, 0));
/// assert!(!format!("{r:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct TokenRecord {
    pub(crate) state: State,
    pub(crate) token: Option<Token>,
    pub(crate) pending: Option<PendingSwap>,
    pub(crate) failures: u32,
    pub(crate) login_otp: bool,
    pub(crate) last_drift: Option<i64>,
    pub(crate) version: u64,
    pub(crate) retired: Vec<TokenSerial>,
}

impl Default for TokenRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenRecord {
    /// A customer without a token: `Unregistered`, version 0.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::TokenRecord::new().serial().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: State::Unregistered,
            token: None,
            pending: None,
            failures: 0,
            login_otp: false,
            last_drift: None,
            version: 0,
            retired: Vec::new(),
        }
    }

    /// The current state.
    ///
    /// ```
    /// # use otpguard::lifecycle::{State, TokenRecord};
    /// assert_eq!(TokenRecord::new().state(), State::Unregistered);
    /// ```
    #[must_use]
    pub const fn state(&self) -> State {
        self.state
    }

    /// The current token's serial, if a token is registered.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::TokenRecord::new().serial().is_none());
    /// ```
    #[must_use]
    pub fn serial(&self) -> Option<&TokenSerial> {
        self.token.as_ref().map(|t| &t.serial)
    }

    /// The pending swap, while `Swapping`.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::TokenRecord::new().pending_swap().is_none());
    /// ```
    #[must_use]
    pub const fn pending_swap(&self) -> Option<PendingSwap> {
        self.pending
    }

    /// Consecutive wrong codes of the current token since its last accepted
    /// code (or registration, or resume).
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::TokenRecord::new().failures(), 0);
    /// ```
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether the customer turned the login OTP on: if so, ask for a code
    /// at login and pass it to [`Lifecycle::login`](super::Lifecycle::login).
    ///
    /// ```
    /// assert!(!otpguard::lifecycle::TokenRecord::new().login_otp());
    /// ```
    #[must_use]
    pub const fn login_otp(&self) -> bool {
        self.login_otp
    }

    /// Drift, in time steps, of the last accepted code of the current token.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::TokenRecord::new().last_drift(), None);
    /// ```
    #[must_use]
    pub const fn last_drift(&self) -> Option<i64> {
        self.last_drift
    }

    /// Increases on every accepted change (and on every counted wrong
    /// code). Save the record only if the stored version is still the one
    /// you loaded.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::TokenRecord::new().version(), 0);
    /// ```
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// Serials retired on this record (stopped, swapped out, reissued), in
    /// order. They can never be registered here again.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::TokenRecord::new().retired_serials().is_empty());
    /// ```
    #[must_use]
    pub fn retired_serials(&self) -> &[TokenSerial] {
        &self.retired
    }

    /// Everything but the secret, as a comparable value (for tests, logs,
    /// dashboards; `Serialize` with the `serde` feature).
    ///
    /// ```
    /// # use otpguard::lifecycle::TokenRecord;
    /// let r = TokenRecord::new();
    /// assert_eq!(r.summary(), r.clone().summary());
    /// ```
    #[must_use]
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            state: self.state,
            serial: self.serial().cloned(),
            pending_swap: self.pending,
            failures: self.failures,
            login_otp: self.login_otp,
            last_drift: self.last_drift,
            version: self.version,
            retired_serials: self.retired.clone(),
        }
    }

    pub(crate) fn is_retired(&self, serial: &TokenSerial) -> bool {
        self.retired.iter().any(|s| s == serial)
    }
}

// Its only key material is the current token's `Secret`, which wipes
// itself on drop.
impl ZeroizeOnDrop for TokenRecord {}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("state", &self.state)
            .field("serial", &self.serial())
            .field("pending_swap", &self.pending)
            .field("failures", &self.failures)
            .field("login_otp", &self.login_otp)
            .field("last_drift", &self.last_drift)
            .field("version", &self.version)
            .field("retired_serials", &self.retired)
            .finish_non_exhaustive()
    }
}

/// A [`TokenRecord`] without its secret. Two records with equal summaries
/// differ at most in the secret.
///
/// ```
/// use otpguard::lifecycle::{State, TokenRecord};
/// let s = TokenRecord::new().summary();
/// assert_eq!(s.state, State::Unregistered);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RecordSummary {
    /// See [`TokenRecord::state`].
    pub state: State,
    /// See [`TokenRecord::serial`].
    pub serial: Option<TokenSerial>,
    /// See [`TokenRecord::pending_swap`].
    pub pending_swap: Option<PendingSwap>,
    /// See [`TokenRecord::failures`].
    pub failures: u32,
    /// See [`TokenRecord::login_otp`].
    pub login_otp: bool,
    /// See [`TokenRecord::last_drift`].
    pub last_drift: Option<i64>,
    /// See [`TokenRecord::version`].
    pub version: u64,
    /// See [`TokenRecord::retired_serials`].
    pub retired_serials: Vec<TokenSerial>,
}
