//! The events that drive a token through its lifecycle.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{SuspendReason, TokenSerial};
use crate::ocra::Transaction;
use crate::Secret;

/// Why an operator reissues a token (the cases of the bank's guide).
///
/// ```
/// use otpguard::lifecycle::ReissueReason;
/// assert_eq!(ReissueReason::AppRemoved.to_string(), "AppRemoved");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReissueReason {
    /// The phone holding the token was lost or stolen.
    LostDevice,
    /// The app was uninstalled before the token was stopped.
    AppRemoved,
    /// The old phone cannot start the token (say, its SIM card is out), so
    /// it cannot prove a swap.
    DeviceUnusable,
}

impl ReissueReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::LostDevice, Self::AppRemoved, Self::DeviceUnusable];
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
/// use otpguard::lifecycle::{rules::EventKind, SuspendReason};
/// assert_eq!(EventKind::Suspend(SuspendReason::LostDevice).to_string(), "Suspend(LostDevice)");
/// assert_eq!(EventKind::ALL.len(), 18);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// Create a new secret for the customer's next token, pending until its
    /// first code proves it (`Register` or `CompleteSwap`).
    Provision,
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
    /// Two consecutive codes re-centre the token's drift.
    Resync,
    /// An operator sets the token's drift back to zero.
    ResetDrift,
    /// An OCRA response (RFC 6287) signing one transaction: its amount and
    /// payee (dynamic linking, PSD2 RTS Art. 5).
    SignTransaction,
}

impl EventKind {
    /// The kind's position in [`EventKind::ALL`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Provision => 0,
            Self::Register => 1,
            Self::SetLoginOtp => 2,
            Self::BeginSwap => 3,
            Self::CompleteSwap => 4,
            Self::CancelSwap => 5,
            Self::SwapTimeout => 6,
            Self::Stop => 7,
            Self::Suspend(SuspendReason::LostDevice) => 8,
            Self::Suspend(SuspendReason::TooManyFailures) => 9,
            Self::Suspend(SuspendReason::Operator) => 10,
            Self::Resume => 11,
            Self::Reissue => 12,
            Self::VerifyTransaction => 13,
            Self::VerifyLogin => 14,
            Self::Resync => 15,
            Self::ResetDrift => 16,
            Self::SignTransaction => 17,
        }
    }

    /// Every kind, each suspension reason counted as its own kind.
    pub const ALL: [Self; 18] = [
        Self::Provision,
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
        Self::Resync,
        Self::ResetDrift,
        Self::SignTransaction,
    ];

    /// Whether an event of this kind carries a code (or an OCRA response)
    /// from the customer's token.
    ///
    /// ```
    /// use otpguard::lifecycle::rules::EventKind;
    /// assert!(EventKind::Stop.carries_code() && !EventKind::Provision.carries_code());
    /// ```
    #[must_use]
    pub const fn carries_code(self) -> bool {
        matches!(
            self,
            Self::Register
                | Self::SetLoginOtp
                | Self::BeginSwap
                | Self::CompleteSwap
                | Self::Stop
                | Self::VerifyTransaction
                | Self::VerifyLogin
                | Self::Resync
                | Self::SignTransaction
        )
    }

    /// Whether events of this kind only check a code and never change the
    /// state (their rows go from a state to itself).
    ///
    /// ```
    /// assert!(otpguard::lifecycle::rules::EventKind::VerifyLogin.is_verification());
    /// ```
    #[must_use]
    pub const fn is_verification(self) -> bool {
        matches!(
            self,
            Self::VerifyTransaction | Self::VerifyLogin | Self::SignTransaction
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Provision => f.write_str("Provision"),
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
            Self::Resync => f.write_str("Resync"),
            Self::ResetDrift => f.write_str("ResetDrift"),
            Self::SignTransaction => f.write_str("SignTransaction"),
        }
    }
}

/// A code as the customer typed it, owned so that an [`Event`] can be
/// moved into a task or kept for a retry. It is held in a fixed buffer
/// (no heap), wiped on drop, and never printed.
///
/// Anything longer than [`EnteredCode::MAX_LEN`] bytes is kept only as
/// "too long": it can never be a code, and is refused as malformed.
///
/// ```
/// use otpguard::lifecycle::EnteredCode;
/// let c = EnteredCode::new("123456");
/// assert_eq!(format!("{c:?}"), "EnteredCode(..)");
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EnteredCode {
    bytes: [u8; EnteredCode::MAX_LEN],
    len: u8,
}

impl EnteredCode {
    /// The longest input kept (no code has more than 8 digits).
    pub const MAX_LEN: usize = 16;

    /// Copies `input` (or notes that it is too long to be a code).
    #[must_use]
    pub fn new(input: &str) -> Self {
        let mut bytes = [0u8; Self::MAX_LEN];
        let len = match (bytes.get_mut(..input.len()), u8::try_from(input.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(input.as_bytes());
                len
            }
            // Marks an input that cannot be a code; `as_input` refuses it.
            _ => u8::MAX,
        };
        Self { bytes, len }
    }

    /// The input, or `None` if it was too long to keep.
    pub(crate) fn as_input(&self) -> Option<&str> {
        let kept = self.bytes.get(..usize::from(self.len))?;
        core::str::from_utf8(kept).ok()
    }
}

impl From<&str> for EnteredCode {
    fn from(input: &str) -> Self {
        Self::new(input)
    }
}

impl fmt::Debug for EnteredCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnteredCode(..)")
    }
}

/// Where the secret of a token `Register` binds comes from (a swap's new
/// secret is fixed by `BeginSwap`, see [`SwapTo`]).
///
/// ```
/// use otpguard::lifecycle::NewSecret;
/// assert_eq!(format!("{:?}", NewSecret::Provisioned), "Provisioned");
/// ```
#[derive(Clone)]
pub enum NewSecret {
    /// The secret the lifecycle created with `Provision` and keeps pending
    /// in the record (the usual way: the app scanned its Key URI).
    Provisioned,
    /// A secret provisioned elsewhere (a vendor's app or hardware token that
    /// shows its serial), given with the registration: from the bank's own
    /// token inventory, never from the client.
    Given(Secret),
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Provisioned => f.write_str("Provisioned"),
            Self::Given(_) => f.write_str("Given(..)"),
        }
    }
}

/// The new token a swap moves to, fixed by `BeginSwap` under the current
/// token's code.
///
/// ```
/// use otpguard::lifecycle::SwapTo;
/// let to = SwapTo::Generated { account: "alice".into() };
/// assert_eq!(format!("{to:?}"), "Generated");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum SwapTo {
    /// A fresh random secret (OS CSPRNG) with the lifecycle's profile and
    /// signing suite; the answer carries its Key URI, with `account` as
    /// the name the app shows.
    Generated {
        /// The account name the app shows beside the issuer.
        account: String,
    },
    /// A secret provisioned elsewhere (the bank's own token inventory,
    /// never the client).
    Given(Secret),
}

impl fmt::Debug for SwapTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generated { .. } => f.write_str("Generated"),
            Self::Given(_) => f.write_str("Given(..)"),
        }
    }
}

/// An event with its data, as the backend submits it to
/// [`Lifecycle::submit`](super::Lifecycle::submit).
///
/// Owned, `Clone` and `Send`, so a handler can move it into a task; the
/// lifecycle keeps it for its own retries. Secrets and codes inside are
/// wiped on drop. `Debug` shows the kind and any serial, never a secret or
/// a code.
///
/// ```
/// use otpguard::lifecycle::{Event, NewSecret, TokenSerial};
///
/// let e = Event::Register {
///     serial: TokenSerial::new("SN-1")?,
///     secret: NewSecret::Provisioned,
///     code: "123456".into(),
/// };
/// assert_eq!(format!("{e:?}"), "Event::Register { serial: SN-1, .. }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Event {
    /// Create the secret of the customer's next token (from `Unregistered`
    /// or `Reissued`: a swap's comes with `BeginSwap`); the answer carries
    /// its Key URI.
    Provision {
        /// The account name the app shows beside the issuer.
        account: String,
    },
    /// Register a token (from `Unregistered` or `Reissued`).
    Register {
        /// The new token's serial number.
        serial: TokenSerial,
        /// The new token's secret.
        secret: NewSecret,
        /// The first code the new token shows.
        code: EnteredCode,
    },
    /// Turn the login OTP on (`true`) or off, proven by a code of the
    /// current token either way: off weakens the login, and on without the
    /// phone would lock the customer out of it.
    SetLoginOtp {
        /// Whether a login asks for a code from now on.
        on: bool,
        /// A code of the current token.
        code: EnteredCode,
    },
    /// Begin a swap to a new phone, proven by a code of the current token.
    /// The new token's secret is fixed here, under that code: nothing
    /// without the current token can replace it before the swap completes.
    BeginSwap {
        /// A code of the current token.
        code: EnteredCode,
        /// The new token's secret: generated (the answer carries its Key
        /// URI) or given from the bank's inventory.
        to: SwapTo,
    },
    /// Complete a swap: from now on the new token authenticates. Its
    /// secret is the one `BeginSwap` fixed.
    CompleteSwap {
        /// The new token's serial number.
        serial: TokenSerial,
        /// A code the new token shows.
        code: EnteredCode,
    },
    /// Abandon the pending swap, proven by a code of the current token;
    /// the current token stays.
    CancelSwap {
        /// A code of the current token.
        code: EnteredCode,
    },
    /// The pending swap passed its deadline. The lifecycle applies it by
    /// itself on the first event after the deadline; a backend need not
    /// send it.
    SwapTimeout,
    /// Stop using the token.
    Stop {
        /// A code of the current token.
        code: EnteredCode,
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
        code: EnteredCode,
    },
    /// A code at login (only while the login OTP is on).
    VerifyLogin {
        /// The code the customer entered.
        code: EnteredCode,
    },
    /// Resynchronisation (RFC 4226 §7.4, applied to TOTP): two codes the
    /// app showed one after the other. If they are found next to each other
    /// within [`LifecycleConfig::resync_window`](super::LifecycleConfig::resync_window)
    /// steps, the token's drift is re-centred on them and the later step is
    /// claimed, so neither code can be used again. A wrong pair counts as a
    /// wrong code.
    ///
    /// Single use still holds: a pair whose later step is not newer than
    /// the step last accepted is refused (`Replayed`, audited as
    /// [`AuditReason::BehindLastAccepted`](super::audit::AuditReason::BehindLastAccepted)),
    /// so a phone that fell behind a step it showed earlier cannot
    /// resynchronise until its clock passes that step again.
    Resync {
        /// The first code shown.
        first: EnteredCode,
        /// The code shown next.
        second: EnteredCode,
    },
    /// An operator sets the token's recorded drift back to zero (the
    /// customer's phone clock was corrected, say).
    ///
    /// The step last accepted stays claimed: after a reset of a phone that
    /// ran fast, its genuine codes are refused as older than that step
    /// (`Replayed`, audited as
    /// [`AuditReason::BehindLastAccepted`](super::audit::AuditReason::BehindLastAccepted),
    /// not counted) until the real time passes it, that is for as long as
    /// the phone ran ahead.
    ResetDrift,
    /// The OCRA response (RFC 6287) the customer's token computed over the
    /// question [`Transaction::question_for`] derives from `transaction`
    /// (the payee's account number the customer typed in, or the
    /// transaction's digest), with the token's signing suite. It verifies
    /// only for this transaction, within the signature validity, once (see
    /// [`LifecycleConfig::signing`](super::LifecycleConfig::signing)). A
    /// wrong response counts as a wrong code.
    SignTransaction {
        /// The transaction the bank will execute.
        transaction: Transaction,
        /// The response the customer entered.
        response: EnteredCode,
    },
}

impl Event {
    /// The event's kind, its key in the transition table.
    ///
    /// ```
    /// use otpguard::lifecycle::{Event, rules::EventKind};
    /// assert_eq!(Event::Resume.kind(), EventKind::Resume);
    /// ```
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Provision { .. } => EventKind::Provision,
            Self::Register { .. } => EventKind::Register,
            Self::SetLoginOtp { .. } => EventKind::SetLoginOtp,
            Self::BeginSwap { .. } => EventKind::BeginSwap,
            Self::CompleteSwap { .. } => EventKind::CompleteSwap,
            Self::CancelSwap { .. } => EventKind::CancelSwap,
            Self::SwapTimeout => EventKind::SwapTimeout,
            Self::Stop { .. } => EventKind::Stop,
            Self::Suspend { reason } => EventKind::Suspend(*reason),
            Self::Resume => EventKind::Resume,
            Self::Reissue { .. } => EventKind::Reissue,
            Self::VerifyTransaction { .. } => EventKind::VerifyTransaction,
            Self::VerifyLogin { .. } => EventKind::VerifyLogin,
            Self::Resync { .. } => EventKind::Resync,
            Self::ResetDrift => EventKind::ResetDrift,
            Self::SignTransaction { .. } => EventKind::SignTransaction,
        }
    }

    /// The serial of the new token this event brings, if any.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::Event::Resume.new_serial().is_none());
    /// ```
    #[must_use]
    pub fn new_serial(&self) -> Option<&TokenSerial> {
        match self {
            Self::Register { serial, .. } | Self::CompleteSwap { serial, .. } => Some(serial),
            _ => None,
        }
    }

    /// The transaction and response of a `SignTransaction`.
    pub(crate) fn signature(&self) -> Option<(&Transaction, &EnteredCode)> {
        match self {
            Self::SignTransaction {
                transaction,
                response,
            } => Some((transaction, response)),
            _ => None,
        }
    }

    /// The SHA-256 digest of the canonical encoding of the transaction a
    /// `SignTransaction` signs ([`Transaction::digest`]).
    pub(crate) fn transaction_digest(&self) -> Option<[u8; 32]> {
        self.signature().map(|(t, _)| t.digest())
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Register { serial, .. } | Self::CompleteSwap { serial, .. } => {
                write!(f, "Event::{} {{ serial: {serial}, .. }}", self.kind())
            }
            Self::Provision { .. }
            | Self::CancelSwap { .. }
            | Self::Stop { .. }
            | Self::VerifyTransaction { .. }
            | Self::VerifyLogin { .. }
            | Self::Resync { .. }
            | Self::SignTransaction { .. } => write!(f, "Event::{} {{ .. }}", self.kind()),
            Self::SetLoginOtp { on, .. } => write!(f, "Event::SetLoginOtp {{ on: {on}, .. }}"),
            Self::BeginSwap { to, .. } => write!(f, "Event::BeginSwap {{ to: {to:?}, .. }}"),
            Self::Reissue { reason } => write!(f, "Event::Reissue {{ reason: {reason} }}"),
            Self::SwapTimeout | Self::Suspend { .. } | Self::Resume | Self::ResetDrift => {
                write!(f, "Event::{}", self.kind())
            }
        }
    }
}
