//! The states a customer's token can be in.

use core::fmt;

/// Why a token is suspended. The reason decides the way out: a token
/// suspended for a lost device can only be reissued, never resumed.
///
/// ```
/// use otpguard::lifecycle::{State, SuspendReason};
/// assert_eq!(State::Suspended(SuspendReason::LostDevice).to_string(), "Suspended(LostDevice)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SuspendReason {
    /// The customer reported the phone lost or stolen. Whoever holds it may
    /// read codes from it, so the token can never be resumed, only reissued.
    LostDevice,
    /// The system counted the configured maximum of consecutive wrong codes
    /// (RFC 4226 §7.3 throttling).
    TooManyFailures,
    /// An operator suspended the token for another reason (fraud
    /// investigation, the customer's request, ...).
    Operator,
}

impl SuspendReason {
    /// Every reason, in declaration order.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::SuspendReason::ALL.len(), 3);
    /// ```
    pub const ALL: [Self; 3] = [Self::LostDevice, Self::TooManyFailures, Self::Operator];

    /// The reason's name.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::SuspendReason::Operator.name(), "Operator");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LostDevice => "LostDevice",
            Self::TooManyFailures => "TooManyFailures",
            Self::Operator => "Operator",
        }
    }
}

impl fmt::Display for SuspendReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of a customer's token.
///
/// With the `serde` feature it serializes as its `Display` text
/// (`"Suspended(LostDevice)"`), like every name that leaves the crate.
///
/// Only [`State::Active`] and [`State::Swapping`] accept a code; see
/// [`State::accepts_codes`].
///
/// ```
/// use otpguard::lifecycle::{State, SuspendReason};
/// assert!(State::Swapping.accepts_codes());
/// assert!(!State::Suspended(SuspendReason::Operator).accepts_codes());
/// assert_eq!(State::ALL.len(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// No token: the customer authorises transactions with the transfer
    /// password.
    Unregistered,
    /// One registered token; its codes authorise transactions.
    Active,
    /// The current token proved its holder and a swap to a new token is
    /// pending until a deadline. The current (old) token keeps working until
    /// the new one is registered.
    Swapping,
    /// Stopped by the bank; no code is accepted.
    Suspended(SuspendReason),
    /// The bank revoked the token; the customer must register a new one.
    Reissued,
}

impl State {
    /// The state's position in [`State::ALL`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Unregistered => 0,
            Self::Active => 1,
            Self::Swapping => 2,
            Self::Suspended(SuspendReason::LostDevice) => 3,
            Self::Suspended(SuspendReason::TooManyFailures) => 4,
            Self::Suspended(SuspendReason::Operator) => 5,
            Self::Reissued => 6,
        }
    }

    /// Every state, each suspension reason counted as its own state.
    pub const ALL: [Self; 7] = [
        Self::Unregistered,
        Self::Active,
        Self::Swapping,
        Self::Suspended(SuspendReason::LostDevice),
        Self::Suspended(SuspendReason::TooManyFailures),
        Self::Suspended(SuspendReason::Operator),
        Self::Reissued,
    ];

    /// Whether a code of the current token can authorise anything in this
    /// state (only `Active` and `Swapping`).
    ///
    /// ```
    /// assert!(otpguard::lifecycle::State::Active.accepts_codes());
    /// assert!(!otpguard::lifecycle::State::Reissued.accepts_codes());
    /// ```
    #[must_use]
    pub const fn accepts_codes(self) -> bool {
        matches!(self, Self::Active | Self::Swapping)
    }

    /// Whether the record holds a current token in this state.
    ///
    /// ```
    /// assert!(!otpguard::lifecycle::State::Unregistered.has_token());
    /// ```
    #[must_use]
    pub const fn has_token(self) -> bool {
        matches!(self, Self::Active | Self::Swapping | Self::Suspended(_))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unregistered => f.write_str("Unregistered"),
            Self::Active => f.write_str("Active"),
            Self::Swapping => f.write_str("Swapping"),
            Self::Suspended(reason) => write!(f, "Suspended({reason})"),
            Self::Reissued => f.write_str("Reissued"),
        }
    }
}
