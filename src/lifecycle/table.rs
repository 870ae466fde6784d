//! THE transition table: every permitted (state, event, actor) and where it
//! leads. The engine applies it, the tests walk it, and `docs/lifecycle.md`
//! is generated from it, so code, tests and the auditors' page cannot
//! disagree. Anything not listed here is refused.

use super::{Actor, EventKind, State, SuspendReason};

/// What must hold, besides the (state, event, actor) match, for a row to be
/// taken. Checked in full before the record changes; a code is checked last,
/// so that a refusal for another reason never spends it.
///
/// ```
/// use otpguard::lifecycle::rules::Guard;
/// assert!(Guard::CurrentCode.description().contains("current token"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Guard {
    /// Nothing more: the actor's authority is enough.
    None,
    /// A code of the current token verifies and wins its replay claim; a
    /// wrong one counts towards the lock-out.
    CurrentCode,
    /// The login OTP is on, and a code of the current token verifies as for
    /// [`Guard::CurrentCode`].
    LoginCode,
    /// The new token's serial and secret were never retired on this record
    /// (a provisioned secret must still be pending), codes are not held
    /// back, and its first code verifies; a wrong one is counted and held
    /// back like any code.
    NewTokenCode,
    /// Before the swap deadline; the new serial differs from the current
    /// one and was never retired on this record; codes are not held back;
    /// a code of the secret `BeginSwap` fixed verifies (a wrong one counts
    /// towards the lock-out).
    NewTokenCodeBeforeDeadline,
    /// The swap deadline has passed.
    DeadlinePassed,
    /// The count of consecutive wrong codes has reached the maximum.
    FailuresAtMax,
    /// Two codes of the current token for consecutive steps, found within
    /// the resynchronisation window, the later one newer than any accepted
    /// and within the drift bound; a wrong pair counts towards the
    /// lock-out.
    ConsecutiveCodes,
    /// Codes are not held back; the token was bound with a signing suite
    /// that can sign the transaction; the response verifies for the
    /// question derived from the transaction, within the signature
    /// validity, for a counter (or, without one, a time step) newer than
    /// any accepted; a wrong one counts towards the lock-out.
    SignedTransaction,
}

impl Guard {
    /// The guard in words, as the auditors' page shows it.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::rules::Guard::None.description(), "-");
    /// ```
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::CurrentCode => "codes not held back after wrong ones; current token's code verifies in the window that follows its phone's clock (the drift estimate, within the drift bound), for a step newer than any accepted (a wrong one counts towards the lock-out)",
            Self::LoginCode => "login OTP is on; codes not held back after wrong ones; current token's code verifies in the window that follows its phone's clock (the drift estimate, within the drift bound), for a step newer than any accepted (a wrong one counts towards the lock-out)",
            Self::NewTokenCode => "new serial and secret never retired on this record (a provisioned secret still pending); codes not held back after wrong ones; the new token's first code verifies (a wrong one counts and holds back the next; at the maximum the pending secret is dropped)",
            Self::NewTokenCodeBeforeDeadline => "before the swap deadline; new serial differs from the current one and was never retired here; codes not held back after wrong ones; a code of the secret BeginSwap fixed verifies (a wrong one counts towards the lock-out)",
            Self::DeadlinePassed => "the swap deadline has passed",
            Self::FailuresAtMax => "consecutive wrong codes reached the configured maximum",
            Self::SignedTransaction => "codes not held back after wrong ones; token bound with a signing suite that can sign this transaction; the OCRA response to the question derived from the transaction (payee account or digest) verifies within the signature validity of the phone's clock (centred on its drift), its counter (or time step) newer than any accepted (a wrong one counts towards the lock-out)",
            Self::ConsecutiveCodes => "codes not held back after wrong ones; two codes of the current token for consecutive steps within the resynchronisation window, newer than any accepted and within the drift bound (a wrong pair counts towards the lock-out)",
        }
    }

    /// Whether this guard proves that the caller holds the current token: it
    /// checks a code (or a pair, or a signature) of the current token.
    ///
    /// ```
    /// use otpguard::lifecycle::rules::Guard;
    /// assert!(Guard::CurrentCode.proves_current_token());
    /// assert!(!Guard::NewTokenCode.proves_current_token());
    /// ```
    #[must_use]
    pub const fn proves_current_token(self) -> bool {
        matches!(
            self,
            Self::CurrentCode | Self::LoginCode | Self::ConsecutiveCodes | Self::SignedTransaction
        )
    }

    /// Whether this guard checks a code (of the current or of a new token).
    ///
    /// ```
    /// assert!(otpguard::lifecycle::rules::Guard::NewTokenCode.needs_code());
    /// ```
    #[must_use]
    pub const fn needs_code(self) -> bool {
        !matches!(self.needs(), Brings::Nothing)
    }
}

/// What taking a row does to the record, besides setting the state and
/// increasing the version.
///
/// ```
/// use otpguard::lifecycle::rules::Effect;
/// assert!(Effect::RetireToken.description().contains("wiped"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Effect {
    /// Create a random secret (OS CSPRNG) that waits for its first code
    /// until the enrollment deadline; it replaces any earlier pending one,
    /// and failures and hold-back reset (only a record without a token
    /// provisions).
    Provision,
    /// Install the new token as the current one; failures reset.
    InstallToken,
    /// Record the login-OTP choice; the code's step is claimed.
    SetLoginOtp,
    /// Claim the accepted code's step and narrow the drift estimate by it;
    /// failures reset.
    RecordUse,
    /// As [`Effect::RecordUse`]; fix the new token's secret (generated,
    /// its Key URI returned, or given) and set the swap deadline.
    StartSwap,
    /// Retire the current token for good and install the new one.
    SwapIn,
    /// Drop the pending swap and its new secret; the current token stays
    /// (a code, where the row checks one, has its step claimed).
    EndSwap,
    /// The token is kept but refuses codes; any pending swap is dropped.
    Suspend,
    /// Failures reset; the same token accepts codes again.
    Resume,
    /// Retire the current token for good; login OTP off, failures reset.
    RetireToken,
    /// Re-centre the drift on the pair's later step, start the drift
    /// estimate again from it, and claim it; failures reset.
    Resync,
    /// Set the drift back to zero and start the drift estimate again
    /// within one step of the server.
    ResetDrift,
    /// Claim the signature's counter (or time step); failures reset. The
    /// TOTP step and drift stay as they were.
    RecordSignature,
}

impl Effect {
    /// The effect in words, as the auditors' page shows it.
    ///
    /// ```
    /// assert!(otpguard::lifecycle::rules::Effect::EndSwap.description().starts_with("pending swap and its new secret dropped"));
    /// ```
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Provision => "new random secret pending until its first code or the enrollment deadline; Key URI returned; failures and hold-back reset",
            Self::InstallToken => "new token becomes current; failures reset",
            Self::SetLoginOtp => "step claimed; drift estimate narrowed by the code; failures and hold-back reset; login OTP on/off recorded",
            Self::RecordUse => "step claimed; drift estimate narrowed by the code; failures and hold-back reset",
            Self::StartSwap => "step claimed; drift estimate narrowed by the code; failures and hold-back reset; new token's secret fixed (generated, Key URI returned; or given) until the swap deadline",
            Self::SwapIn => {
                "old secret wiped and its serial retired for good; new token becomes current"
            }
            Self::EndSwap => "pending swap and its new secret dropped; current token stays (a code's step claimed, failures and hold-back reset)",
            Self::Suspend => "token kept but refuses codes; any pending swap dropped",
            Self::Resume => "failures reset; same token accepts codes again",
            Self::RetireToken => {
                "secret wiped and serial retired for good; login OTP off; failures reset"
            }
            Self::Resync => "drift estimate started again from the later code, whose step is claimed; failures reset",
            Self::ResetDrift => "drift set back to zero; drift estimate started again within one step of the server",
            Self::RecordSignature => "signature's counter (or time step) claimed; failures and hold-back reset",
        }
    }
}

impl Effect {
    /// Whether taking this effect can leave the customer less protected:
    /// it turns the login OTP off, removes or replaces the token, or drops
    /// a pending swap. A customer's row with such an effect must prove the
    /// current token ([`Guard::proves_current_token`]), or, for
    /// [`Effect::SwapIn`], complete a swap that was begun (and its new
    /// secret fixed) under the current token's code.
    ///
    /// `Provision` is not among them: it replaces a pending secret that
    /// protects nothing yet, in states that have no token whose code could
    /// be asked.
    ///
    /// ```
    /// use otpguard::lifecycle::rules::Effect;
    /// assert!(Effect::SetLoginOtp.weakens_protection());
    /// assert!(!Effect::RecordUse.weakens_protection());
    /// ```
    #[must_use]
    pub const fn weakens_protection(self) -> bool {
        matches!(
            self,
            Self::SetLoginOtp | Self::SwapIn | Self::EndSwap | Self::RetireToken
        )
    }
}

/// One row of the transition table.
///
/// ```
/// use otpguard::lifecycle::{rules::Actor, rules::EventKind, State};
/// use otpguard::lifecycle::rules::TABLE;
/// let row = TABLE.iter().find(|r| r.event == EventKind::Register).ok_or("no row")?;
/// assert_eq!((row.actor, row.to), (Actor::Customer, State::Active));
/// # Ok::<(), &str>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The state the record must be in.
    pub from: State,
    /// The event.
    pub event: EventKind,
    /// The only actor allowed to cause it.
    pub actor: Actor,
    /// The state the record moves to.
    pub to: State,
    /// What must hold besides.
    pub guard: Guard,
    /// What else changes in the record.
    pub effect: Effect,
}

const fn row(
    from: State,
    event: EventKind,
    actor: Actor,
    to: State,
    guard: Guard,
    effect: Effect,
) -> Transition {
    Transition {
        from,
        event,
        actor,
        to,
        guard,
        effect,
    }
}

use Actor::{Customer, Operator, System};
use EventKind as E;
use State::{Active, Reissued, Swapping, Unregistered};

const LOST: State = State::Suspended(SuspendReason::LostDevice);
const LOCKED: State = State::Suspended(SuspendReason::TooManyFailures);
const HELD: State = State::Suspended(SuspendReason::Operator);
const SUSPEND_LOST: EventKind = E::Suspend(SuspendReason::LostDevice);
const SUSPEND_LOCK: EventKind = E::Suspend(SuspendReason::TooManyFailures);
const SUSPEND_HOLD: EventKind = E::Suspend(SuspendReason::Operator);

/// Every permitted transition. Read a row as: in state `from`, event
/// `event` caused by `actor` moves the record to `to`, if `guard` holds,
/// doing `effect`.
pub static TABLE: &[Transition] = ROWS;

#[rustfmt::skip]
const ROWS: &[Transition] = &[
    //  from          event                   actor     to            guard                                effect
    row(Unregistered, E::Provision,           Customer, Unregistered, Guard::None,                         Effect::Provision),
    row(Reissued,     E::Provision,           Customer, Reissued,     Guard::None,                         Effect::Provision),
    row(Unregistered, E::Register,            Customer, Active,       Guard::NewTokenCode,                 Effect::InstallToken),
    row(Reissued,     E::Register,            Customer, Active,       Guard::NewTokenCode,                 Effect::InstallToken),
    row(Active,       E::SetLoginOtp,         Customer, Active,       Guard::CurrentCode,                  Effect::SetLoginOtp),
    row(Active,       E::VerifyTransaction,   Customer, Active,       Guard::CurrentCode,                  Effect::RecordUse),
    row(Swapping,     E::VerifyTransaction,   Customer, Swapping,     Guard::CurrentCode,                  Effect::RecordUse),
    row(Active,       E::VerifyLogin,         Customer, Active,       Guard::LoginCode,                    Effect::RecordUse),
    row(Swapping,     E::VerifyLogin,         Customer, Swapping,     Guard::LoginCode,                    Effect::RecordUse),
    row(Active,       E::SignTransaction,     Customer, Active,       Guard::SignedTransaction,            Effect::RecordSignature),
    row(Swapping,     E::SignTransaction,     Customer, Swapping,     Guard::SignedTransaction,            Effect::RecordSignature),
    row(Active,       E::BeginSwap,           Customer, Swapping,     Guard::CurrentCode,                  Effect::StartSwap),
    row(Swapping,     E::CompleteSwap,        Customer, Active,       Guard::NewTokenCodeBeforeDeadline,   Effect::SwapIn),
    row(Swapping,     E::CancelSwap,          Customer, Active,       Guard::CurrentCode,                  Effect::EndSwap),
    row(Swapping,     E::SwapTimeout,         System,   Active,       Guard::DeadlinePassed,               Effect::EndSwap),
    row(Active,       E::Stop,                Customer, Unregistered, Guard::CurrentCode,                  Effect::RetireToken),
    row(Active,       SUSPEND_LOST,           Operator, LOST,         Guard::None,                         Effect::Suspend),
    row(Active,       SUSPEND_HOLD,           Operator, HELD,         Guard::None,                         Effect::Suspend),
    row(Active,       SUSPEND_LOCK,           System,   LOCKED,       Guard::FailuresAtMax,                Effect::Suspend),
    row(Swapping,     SUSPEND_LOST,           Operator, LOST,         Guard::None,                         Effect::Suspend),
    row(Swapping,     SUSPEND_HOLD,           Operator, HELD,         Guard::None,                         Effect::Suspend),
    row(Swapping,     SUSPEND_LOCK,           System,   LOCKED,       Guard::FailuresAtMax,                Effect::Suspend),
    row(LOCKED,       SUSPEND_LOST,           Operator, LOST,         Guard::None,                         Effect::Suspend),
    row(HELD,         SUSPEND_LOST,           Operator, LOST,         Guard::None,                         Effect::Suspend),
    row(LOCKED,       E::Resume,              Operator, Active,       Guard::None,                         Effect::Resume),
    row(HELD,         E::Resume,              Operator, Active,       Guard::None,                         Effect::Resume),
    row(Active,       E::Reissue,             Operator, Reissued,     Guard::None,                         Effect::RetireToken),
    row(Swapping,     E::Reissue,             Operator, Reissued,     Guard::None,                         Effect::RetireToken),
    row(LOST,         E::Reissue,             Operator, Reissued,     Guard::None,                         Effect::RetireToken),
    row(LOCKED,       E::Reissue,             Operator, Reissued,     Guard::None,                         Effect::RetireToken),
    row(HELD,         E::Reissue,             Operator, Reissued,     Guard::None,                         Effect::RetireToken),
    row(Active,       E::Resync,              Customer, Active,       Guard::ConsecutiveCodes,             Effect::Resync),
    row(Swapping,     E::Resync,              Customer, Swapping,     Guard::ConsecutiveCodes,             Effect::Resync),
    row(Active,       E::Resync,              Operator, Active,       Guard::ConsecutiveCodes,             Effect::Resync),
    row(Swapping,     E::Resync,              Operator, Swapping,     Guard::ConsecutiveCodes,             Effect::Resync),
    row(Active,       E::ResetDrift,          Operator, Active,       Guard::None,                         Effect::ResetDrift),
    row(Swapping,     E::ResetDrift,          Operator, Swapping,     Guard::None,                         Effect::ResetDrift),
    row(LOCKED,       E::ResetDrift,          Operator, LOCKED,       Guard::None,                         Effect::ResetDrift),
    row(HELD,         E::ResetDrift,          Operator, HELD,         Guard::None,                         Effect::ResetDrift),
];

/// Combinations an auditor may look for and will not find, with the reason
/// they are absent. They are refused like anything else not in [`TABLE`];
/// the reason is added to the error so that the refusal explains itself.
#[rustfmt::skip]
pub static NEVER: &[(State, EventKind, &str)] = &[
    (LOST,     E::Resume,            "a lost device may be in someone else's hands: reissue instead"),
    (LOST,     SUSPEND_HOLD,         "a lost-device suspension is never downgraded"),
    (LOST,     SUSPEND_LOCK,         "a lost-device suspension is never downgraded"),
    (Swapping, E::Register,          "a swap registers the new token with CompleteSwap"),
    (Swapping, E::Stop,              "cancel the swap first, then stop"),
    (Active,   E::CompleteSwap,      "no swap is pending: it must begin with the current token's code (or it timed out)"),
    (Active,   E::Provision,         "a new secret for an active customer only comes with a swap, begun with the current token's code"),
    (Swapping, E::Provision,         "a swap's new secret is fixed by BeginSwap under the current token's code; nothing without that token replaces it"),
    (Reissued, E::VerifyTransaction, "a reissued token's codes are never accepted; register a new token"),
    (Reissued, E::SignTransaction,   "a reissued token's signatures are never accepted; register a new token"),
    (LOCKED,   E::Resync,            "a locked token is resumed by an operator first; its codes are not evaluated while locked"),
    (LOST,     E::ResetDrift,        "a lost device's token is only ever reissued"),
];

/// The row for `(from, event, actor)`, if the table permits it.
///
/// ```
/// use otpguard::lifecycle::rules::lookup;
/// use otpguard::lifecycle::{rules::Actor, rules::EventKind, State, SuspendReason};
/// let lost = State::Suspended(SuspendReason::LostDevice);
/// assert!(lookup(lost, EventKind::Resume, Actor::Operator).is_none());
/// assert!(lookup(lost, EventKind::Reissue, Actor::Operator).is_some());
/// ```
#[must_use]
pub fn lookup(from: State, event: EventKind, actor: Actor) -> Option<&'static Transition> {
    let row = INDEX.get(key(from, event, actor))?.checked_sub(1)?;
    TABLE.get(usize::from(row))
}

/// Where `(from, event, actor)` sits in [`INDEX`]: below
/// `State::ALL.len() * EventKind::ALL.len() * Actor::ALL.len()`.
const fn key(from: State, event: EventKind, actor: Actor) -> usize {
    let (s, e, a) = (from.index(), event.index(), actor.index());
    // At most (6 * 18 + 17) * 3 + 2 = 377: no overflow.
    #[allow(clippy::arithmetic_side_effects)]
    let key = (s * EventKind::ALL.len() + e) * Actor::ALL.len() + a;
    key
}

const KEYS: usize = State::ALL.len() * EventKind::ALL.len() * Actor::ALL.len();

/// For each `(from, event, actor)`, one more than the index of its row in
/// [`TABLE`], or 0: built at compile time from the table itself, so the
/// lookup costs one load instead of a scan. Two rows with the same key, or
/// more rows than a `u8` can count, fail the build.
static INDEX: [u8; KEYS] = index();

// Runs at compile time only: an index out of range or an overflow is a
// build error, not a run-time one.
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
const fn index() -> [u8; KEYS] {
    assert!(ROWS.len() < u8::MAX as usize, "the table outgrew its index");
    let mut out = [0u8; KEYS];
    let mut i = 0;
    while i < ROWS.len() {
        let r = &ROWS[i];
        let k = key(r.from, r.event, r.actor);
        assert!(out[k] == 0, "two rows for one (state, event, actor)");
        assert!(
            well_typed(r),
            "a row whose guard needs what its event or state does not bring, or whose effect needs what its guard does not prove"
        );
        out[k] = (i + 1) as u8;
        i += 1;
    }
    out
}

/// What an event brings besides its kind, and what a guard needs of it.
#[derive(Clone, Copy)]
enum Brings {
    Nothing,
    /// A code of the current token.
    CurrentCode,
    /// Two codes of the current token (`Resync`).
    Pair,
    /// A transaction and its response.
    Signature,
    /// A new token's serial, secret and first code (`Register`).
    NewToken,
    /// A new token's serial and first code (`CompleteSwap`).
    SwapToken,
}

const fn brought_by(event: EventKind) -> Brings {
    match event {
        EventKind::SetLoginOtp
        | EventKind::BeginSwap
        | EventKind::CancelSwap
        | EventKind::Stop
        | EventKind::VerifyTransaction
        | EventKind::VerifyLogin => Brings::CurrentCode,
        EventKind::Resync => Brings::Pair,
        EventKind::SignTransaction => Brings::Signature,
        EventKind::Register => Brings::NewToken,
        EventKind::CompleteSwap => Brings::SwapToken,
        EventKind::Provision
        | EventKind::SwapTimeout
        | EventKind::Suspend(_)
        | EventKind::Resume
        | EventKind::Reissue
        | EventKind::ResetDrift => Brings::Nothing,
    }
}

/// What the check of a guard hands the effect (`check::Evidence`).
#[derive(Clone, Copy)]
enum Proves {
    Nothing,
    CurrentToken,
    Signature,
    NewToken,
}

impl Guard {
    /// What the guard needs its event to bring.
    const fn needs(self) -> Brings {
        match self {
            Self::CurrentCode | Self::LoginCode => Brings::CurrentCode,
            Self::ConsecutiveCodes => Brings::Pair,
            Self::SignedTransaction => Brings::Signature,
            Self::NewTokenCode => Brings::NewToken,
            Self::NewTokenCodeBeforeDeadline => Brings::SwapToken,
            Self::None | Self::DeadlinePassed | Self::FailuresAtMax => Brings::Nothing,
        }
    }

    const fn proves(self) -> Proves {
        match self {
            Self::CurrentCode | Self::LoginCode | Self::ConsecutiveCodes => Proves::CurrentToken,
            Self::SignedTransaction => Proves::Signature,
            Self::NewTokenCode | Self::NewTokenCodeBeforeDeadline => Proves::NewToken,
            Self::None | Self::DeadlinePassed | Self::FailuresAtMax => Proves::Nothing,
        }
    }
}

impl Effect {
    /// Whether the effect can be applied on what a guard proves.
    const fn takes(self, proof: Proves) -> bool {
        match self {
            Self::Provision | Self::Suspend | Self::Resume | Self::ResetDrift => {
                matches!(proof, Proves::Nothing)
            }
            Self::RecordUse | Self::Resync | Self::StartSwap | Self::SetLoginOtp => {
                matches!(proof, Proves::CurrentToken)
            }
            Self::EndSwap | Self::RetireToken => {
                matches!(proof, Proves::Nothing | Proves::CurrentToken)
            }
            Self::InstallToken | Self::SwapIn => matches!(proof, Proves::NewToken),
            Self::RecordSignature => matches!(proof, Proves::Signature),
        }
    }

    /// Whether the effect changes the current token (so the row must start
    /// where there is one).
    const fn needs_token(self) -> bool {
        !matches!(self, Self::Provision | Self::InstallToken)
    }

    /// Whether a record has a token after the effect, given whether it had
    /// one before.
    const fn leaves_token(self, had: bool) -> bool {
        match self {
            Self::RetireToken | Self::Provision => false,
            Self::InstallToken | Self::SwapIn => true,
            _ => had,
        }
    }

    /// Whether a record is swapping after the effect, given whether it was
    /// before.
    const fn leaves_swap(self, was: bool) -> bool {
        match self {
            Self::StartSwap => true,
            Self::RecordUse
            | Self::Resync
            | Self::RecordSignature
            | Self::ResetDrift
            | Self::SetLoginOtp
            | Self::Provision => was,
            Self::EndSwap | Self::SwapIn | Self::Suspend | Self::Resume | Self::RetireToken => {
                false
            }
            Self::InstallToken => false,
        }
    }
}

/// What the engine relies on and the table's index checks at compile time:
/// a row's guard gets from its event what it needs (a code, a pair, a
/// signature, a new token), a guard on the current token or on a swap
/// starts where there is one, the effect gets the evidence it needs, and
/// the target state holds what the effect leaves (a token, a pending swap).
const fn well_typed(r: &Transition) -> bool {
    let leaves = r.effect.leaves_token(r.from.has_token()) == r.to.has_token()
        && r.effect.leaves_swap(matches!(r.from, State::Swapping))
            == matches!(r.to, State::Swapping);
    let brings = (r.guard.needs() as u8) == (brought_by(r.event) as u8)
        || matches!(r.guard.needs(), Brings::Nothing);
    let token = !(r.guard.proves_current_token() || r.effect.needs_token()) || r.from.has_token();
    let swap = !matches!(
        r.guard,
        Guard::NewTokenCodeBeforeDeadline | Guard::DeadlinePassed
    ) || matches!(r.from, State::Swapping);
    // The effects and guards that read their event's own data (the
    // account of a Key URI, the swap's new secret, the login-OTP choice, a
    // login's code) are taken only for that event.
    let reads = match r.effect {
        Effect::Provision => matches!(r.event, EventKind::Provision),
        Effect::StartSwap => matches!(r.event, EventKind::BeginSwap),
        Effect::SetLoginOtp => matches!(r.event, EventKind::SetLoginOtp),
        _ => true,
    } && (!matches!(r.guard, Guard::LoginCode)
        || matches!(r.event, EventKind::VerifyLogin));
    // A new token is installed only where there is none (a token in place
    // would be dropped without being retired), and swapped in only to
    // complete a swap begun under the current token's code.
    let new_token = match r.effect {
        Effect::InstallToken | Effect::Provision => !r.from.has_token(),
        Effect::SwapIn => matches!(r.guard, Guard::NewTokenCodeBeforeDeadline),
        _ => true,
    };
    brings && token && swap && leaves && reads && new_token && r.effect.takes(r.guard.proves())
}

/// Why `(state, event)` is absent from the table, if [`NEVER`] says.
pub(crate) fn never_reason(state: State, event: EventKind) -> Option<&'static str> {
    NEVER
        .iter()
        .find(|(s, e, _)| *s == state && *e == event)
        .map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_all_lists() {
        assert!(State::ALL.iter().enumerate().all(|(i, s)| s.index() == i));
        assert!(EventKind::ALL
            .iter()
            .enumerate()
            .all(|(i, e)| e.index() == i));
        assert!(Actor::ALL.iter().enumerate().all(|(i, a)| a.index() == i));
    }

    #[test]
    fn the_index_agrees_with_a_scan_of_the_table() {
        for from in State::ALL {
            for event in EventKind::ALL {
                for actor in Actor::ALL {
                    let scanned = TABLE
                        .iter()
                        .find(|r| r.from == from && r.event == event && r.actor == actor);
                    assert_eq!(
                        lookup(from, event, actor),
                        scanned,
                        "{from} {event} {actor}"
                    );
                }
            }
        }
    }
}
