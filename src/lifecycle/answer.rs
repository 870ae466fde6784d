//! What the lifecycle answers once an event is committed.

use super::{EventKind, State, TokenId};
use crate::KeyUri;

/// Proof that a code authorised an event **and that the event is
/// committed**: the value to hand to whatever moves money. Only the
/// lifecycle builds it, after the store confirmed the commit; it is neither
/// `Clone` nor `Copy`, so one code cannot authorise two actions.
///
/// ```compile_fail
/// // Not constructible outside the crate.
/// let forged = otpguard::lifecycle::Authorized { version: 1 };
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an Authorized is the proof an action needs: pass it on"]
pub struct Authorized {
    pub(crate) event: EventKind,
    pub(crate) token: TokenId,
    pub(crate) claimed: Claimed,
    pub(crate) drift: i64,
    pub(crate) version: u64,
    pub(crate) transaction: Option<[u8; 32]>,
}

impl Authorized {
    /// The event the code authorised.
    #[must_use]
    pub const fn event(&self) -> EventKind {
        self.event
    }

    /// The token whose code it was.
    #[must_use]
    pub const fn token(&self) -> TokenId {
        self.token
    }

    /// What single use claimed for the token: the code's TOTP time step,
    /// or a signature's OCRA counter or time step. No code or signature at
    /// or below it is accepted again.
    #[must_use]
    pub const fn claimed(&self) -> Claimed {
        self.claimed
    }

    /// The SHA-256 digest of the canonical encoding of the transaction the
    /// response signed ([`Transaction::digest`](crate::ocra::Transaction::digest)),
    /// for `SignTransaction`: the audit record carries the same digest.
    /// It names the transaction presented with the response; what the
    /// response itself binds is what the suite's question carries: with a
    /// `QN` suite the payee's account number only, with `QH` the whole
    /// transaction.
    #[must_use]
    pub const fn transaction(&self) -> Option<[u8; 32]> {
        self.transaction
    }

    /// Drift of the code in steps (negative: the phone's clock is behind).
    /// For a transaction signature, the offset of its time step from the
    /// verifier's, in the suite's steps.
    #[must_use]
    pub const fn drift(&self) -> i64 {
        self.drift
    }

    /// The record's version that committed it.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }
}

/// What an accepted code authorises **before it is committed**: what the
/// bank's statements see while they run in the transaction that will commit
/// them with the code's acceptance (`verify_transaction_with` on
/// PostgreSQL). Record it beside the payment; do not act on it outside that
/// transaction (call no payment rail, send no message): the transaction
/// may still roll back. Once it commits, the call answers the
/// [`Authorized`].
#[derive(Debug, PartialEq, Eq)]
pub struct PendingProof(pub(crate) Authorized);

impl PendingProof {
    /// See [`Authorized::event`].
    #[must_use]
    pub const fn event(&self) -> EventKind {
        self.0.event
    }

    /// See [`Authorized::token`].
    #[must_use]
    pub const fn token(&self) -> TokenId {
        self.0.token
    }

    /// See [`Authorized::claimed`].
    #[must_use]
    pub const fn claimed(&self) -> Claimed {
        self.0.claimed
    }

    /// See [`Authorized::transaction`].
    #[must_use]
    pub const fn transaction(&self) -> Option<[u8; 32]> {
        self.0.transaction
    }

    /// See [`Authorized::drift`].
    #[must_use]
    pub const fn drift(&self) -> i64 {
        self.0.drift
    }

    /// The record's version the acceptance commits, once it commits.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.0.version
    }
}

/// What an accepted code or signature claimed for its token: the mark the
/// next one must pass.
///
/// ```
/// use otpguard::lifecycle::Claimed;
/// assert_eq!(Claimed::TotpStep(56_666_666).value(), 56_666_666);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claimed {
    /// The TOTP time step of a code (of a `Resync` pair, the later code's):
    /// now the token's last accepted step.
    TotpStep(u64),
    /// The OCRA counter a signature matched (a suite with `C`): now the
    /// token's last accepted signature.
    OcraCounter(u64),
    /// The OCRA time step a signature matched, in the suite's own steps (a
    /// suite without `C`): now the token's last accepted signature.
    OcraTimeStep(u64),
}

impl Claimed {
    /// The step or counter, whichever it is.
    #[must_use]
    pub const fn value(self) -> u64 {
        match self {
            Self::TotpStep(v) | Self::OcraCounter(v) | Self::OcraTimeStep(v) => v,
        }
    }
}

/// What a committed event did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Applied {
    /// The state before (after any swap time-out the event triggered).
    pub from: State,
    /// The state after.
    pub to: State,
    /// The record's committed version.
    pub version: u64,
    /// The proof of the accepted code, for events checked by a code.
    pub authorized: Option<Authorized>,
    /// The Key URI of the secret `Provision` created.
    pub key_uri: Option<KeyUri>,
}

/// The answer to a login.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginCheck {
    /// The customer turned the login OTP off: no code is asked (the login
    /// is still audited).
    NotRequired,
    /// The login OTP is on and the code was accepted.
    Verified(Authorized),
}
