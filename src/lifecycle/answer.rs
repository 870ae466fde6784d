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
/// let forged = otpguard::lifecycle::Authorized { step: 1 };
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an Authorized is the proof an action needs: pass it on"]
pub struct Authorized {
    pub(crate) event: EventKind,
    pub(crate) token: TokenId,
    pub(crate) step: u64,
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

    /// The time step the code matched: now the token's last accepted step.
    /// For a transaction signature, the OCRA counter it matched (suites
    /// with `C`) or its time step (without), now the token's last accepted
    /// signature.
    #[must_use]
    pub const fn step(&self) -> u64 {
        self.step
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
