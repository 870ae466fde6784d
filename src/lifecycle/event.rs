//! The events that drive a token through its lifecycle.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use super::{SuspendReason, TokenSerial};
use crate::Secret;

/// Why an operator reissues a token (the cases of the bank's guide).
///
/// ```
/// use otpguard::lifecycle::ReissueReason;
/// assert_eq!(ReissueReason::AppRemoved.to_string(), "AppRemoved");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReissueReason {
    /// The phone holding the token was lost or stolen.
    LostDevice,
    /// The app was uninstalled before the token was stopped.
    AppRemoved,
    /// The old phone cannot start the token (say, its SIM card is out), so
    /// it cannot prove a swap.
    DeviceUnusable,
}

impl fmt::Display for ReissueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LostDevice => "LostDevice",
            Self::AppRemoved => "AppRemoved",
            Self::DeviceUnusable => "DeviceUnusable",
        })
    }
}

/// What kind of event, without its data: the key of the transition table
/// and what audit records name. A suspension's reason is part of the kind,
/// since each reason has its own actor, guard and target state.
///
/// ```
/// use otpguard::lifecycle::{EventKind, SuspendReason};
/// assert_eq!(EventKind::Suspend(SuspendReason::LostDevice).to_string(), "Suspend(LostDevice)");
/// assert_eq!(EventKind::ALL.len(), 14);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EventKind {
    /// Register a token: its serial, secret and first code.
    Register,
    /// Turn the login OTP on or off.
    SetLoginOtp,
    /// Start a swap to a new phone, proven by the current token's code.
    BeginSwap,
    /// Finish a swap: the new token's serial, secret and code.
    CompleteSwap,
    /// Abandon a pending swap.
    CancelSwap,
    /// A pending swap ran past its deadline.
    SwapTimeout,
    /// Stop using the token, proven by its code.
    Stop,
    /// Suspend the token for the given reason.
    Suspend(SuspendReason),
    /// Lift a suspension.
    Resume,
    /// Revoke the token so that the customer registers a new one.
    Reissue,
    /// A code authorising a transaction (transfer, payment, ...).
    VerifyTransaction,
    /// A code at login, when the customer turned the login OTP on.
    VerifyLogin,
}

impl EventKind {
    /// Every kind, each suspension reason counted as its own kind.
    pub const ALL: [Self; 14] = [
        Self::Register,
        Self::SetLoginOtp,
        Self::BeginSwap,
        Self::CompleteSwap,
        Self::CancelSwap,
        Self::SwapTimeout,
        Self::Stop,
        Self::Suspend(SuspendReason::LostDevice),
        Self::Suspend(SuspendReason::TooManyFailures),
        Self::Suspend(SuspendReason::Operator),
        Self::Resume,
        Self::Reissue,
        Self::VerifyTransaction,
        Self::VerifyLogin,
    ];

    /// Whether events of this kind only check a code and never change the
    /// state (their rows go from a state to itself).
    ///
    /// ```
    /// assert!(otpguard::lifecycle::EventKind::VerifyLogin.is_verification());
    /// ```
    #[must_use]
    pub const fn is_verification(self) -> bool {
        matches!(self, Self::VerifyTransaction | Self::VerifyLogin)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Register => f.write_str("Register"),
            Self::SetLoginOtp => f.write_str("SetLoginOtp"),
            Self::BeginSwap => f.write_str("BeginSwap"),
            Self::CompleteSwap => f.write_str("CompleteSwap"),
            Self::CancelSwap => f.write_str("CancelSwap"),
            Self::SwapTimeout => f.write_str("SwapTimeout"),
            Self::Stop => f.write_str("Stop"),
            Self::Suspend(reason) => write!(f, "Suspend({reason})"),
            Self::Resume => f.write_str("Resume"),
            Self::Reissue => f.write_str("Reissue"),
            Self::VerifyTransaction => f.write_str("VerifyTransaction"),
            Self::VerifyLogin => f.write_str("VerifyLogin"),
        }
    }
}

/// An event with its data, as the backend submits it to
/// [`Lifecycle::apply`](super::Lifecycle::apply).
///
/// Codes are borrowed from the request; secrets are moved in and, if the
/// event is accepted, kept in the record (otherwise dropped and wiped).
/// `Debug` shows the kind and any serial, never a secret or a code.
///
/// ```
/// use otpguard::lifecycle::{Event, TokenSerial};
/// use otpguard::Secret;
///
/// let e = Event::Register {
///     serial: TokenSerial::new("SN-1")?,
///     secret: Secret::from_bytes(&[7u8; 20])?,
///     code: "123456",
/// };
/// assert_eq!(format!("{e:?}"), "Event::Register { serial: SN-1, .. }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum Event<'a> {
    /// Register a token (from `Unregistered` or `Reissued`).
    Register {
        /// The new token's serial number.
        serial: TokenSerial,
        /// The new token's secret, as provisioned to the app.
        secret: Secret,
        /// The first code the new token shows.
        code: &'a str,
    },
    /// Turn the login OTP on (`true`) or off.
    SetLoginOtp(bool),
    /// Begin a swap to a new phone.
    BeginSwap {
        /// A code of the current token.
        code: &'a str,
    },
    /// Complete a swap: from now on the new token authenticates.
    CompleteSwap {
        /// The new token's serial number.
        serial: TokenSerial,
        /// The new token's secret.
        secret: Secret,
        /// A code the new token shows.
        code: &'a str,
    },
    /// Abandon the pending swap; the current token stays.
    CancelSwap,
    /// The pending swap passed its deadline.
    SwapTimeout,
    /// Stop using the token.
    Stop {
        /// A code of the current token.
        code: &'a str,
    },
    /// Suspend the token.
    Suspend {
        /// Why.
        reason: SuspendReason,
    },
    /// Lift a suspension.
    Resume,
    /// Revoke the token so the customer registers a new one.
    Reissue {
        /// Why.
        reason: ReissueReason,
    },
    /// A code authorising a transaction.
    VerifyTransaction {
        /// The code the customer entered.
        code: &'a str,
    },
    /// A code at login (only while the login OTP is on).
    VerifyLogin {
        /// The code the customer entered.
        code: &'a str,
    },
}

impl Event<'_> {
    /// The event's kind, its key in the transition table.
    ///
    /// ```
    /// use otpguard::lifecycle::{Event, EventKind};
    /// assert_eq!(Event::Resume.kind(), EventKind::Resume);
    /// ```
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Register { .. } => EventKind::Register,
            Self::SetLoginOtp(_) => EventKind::SetLoginOtp,
            Self::BeginSwap { .. } => EventKind::BeginSwap,
            Self::CompleteSwap { .. } => EventKind::CompleteSwap,
            Self::CancelSwap => EventKind::CancelSwap,
            Self::SwapTimeout => EventKind::SwapTimeout,
            Self::Stop { .. } => EventKind::Stop,
            Self::Suspend { reason } => EventKind::Suspend(*reason),
            Self::Resume => EventKind::Resume,
            Self::Reissue { .. } => EventKind::Reissue,
            Self::VerifyTransaction { .. } => EventKind::VerifyTransaction,
            Self::VerifyLogin { .. } => EventKind::VerifyLogin,
        }
    }

    /// The serial of the new token this event brings, if any.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::Event::CancelSwap.new_serial().is_none());
    /// ```
    #[must_use]
    pub fn new_serial(&self) -> Option<&TokenSerial> {
        match self {
            Self::Register { serial, .. } | Self::CompleteSwap { serial, .. } => Some(serial),
            _ => None,
        }
    }
}

// Its only key material is the new token's `Secret` (`Register`,
// `CompleteSwap`), which wipes itself on drop.
impl ZeroizeOnDrop for Event<'_> {}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Register { serial, .. } | Self::CompleteSwap { serial, .. } => {
                write!(f, "Event::{} {{ serial: {serial}, .. }}", self.kind())
            }
            Self::SetLoginOtp(on) => write!(f, "Event::SetLoginOtp({on})"),
            Self::Reissue { reason } => write!(f, "Event::Reissue {{ reason: {reason} }}"),
            Self::BeginSwap { .. }
            | Self::Stop { .. }
            | Self::VerifyTransaction { .. }
            | Self::VerifyLogin { .. } => write!(f, "Event::{} {{ .. }}", self.kind()),
            Self::CancelSwap | Self::SwapTimeout | Self::Suspend { .. } | Self::Resume => {
                write!(f, "Event::{}", self.kind())
            }
        }
    }
}
