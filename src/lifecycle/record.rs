//! The record a store keeps per customer. Its state is an enum whose
//! variants hold what that state has, so a state without the token it needs
//! cannot be built.

use core::fmt;
use std::sync::{Arc, OnceLock};

use subtle::ConstantTimeEq;
use zeroize::ZeroizeOnDrop;

#[cfg(any(feature = "seal", feature = "serde"))]
use super::config::check_signing_suite;
use super::fingerprint::{Fingerprint, FingerprintKey};
use super::{DriftEstimate, State, SuspendReason, TokenId, TokenSerial};
use crate::ocra::{Ocra, Suite};
use crate::{Secret, Totp, TotpParams};

/// What never changes about a bound token: its identity, its secret and
/// the TOTP profile its app was set up with, shared (not copied) by every
/// snapshot of the record.
///
/// The profile is the token's own, fixed when it is bound: the phone shows
/// codes for it whatever the bank's settings later become, and the token's
/// last accepted step counts steps of it. A lifecycle whose settings changed
/// still checks this token with the profile it was bound with.
pub(crate) struct TokenKey {
    pub(crate) id: TokenId,
    pub(crate) serial: TokenSerial,
    pub(crate) secret: Secret,
    pub(crate) params: TotpParams,
    /// The OCRA suite the token signs transactions with, if it was bound
    /// with one. The same secret keys it: OCRA's input begins with the
    /// suite's text, so it never collides with TOTP's 8-byte counter.
    pub(crate) signing: Option<Suite>,
    /// The secret keyed for `params`: keying costs as much as checking a
    /// code, so it is done once per token, not once per code. Never stored.
    keyed: OnceLock<Totp>,
    /// The secret keyed for `signing`, likewise.
    keyed_signing: OnceLock<Option<Ocra>>,
}

impl TokenKey {
    pub(crate) fn new(
        id: TokenId,
        serial: TokenSerial,
        secret: Secret,
        params: TotpParams,
        signing: Option<Suite>,
    ) -> Self {
        Self {
            id,
            serial,
            secret,
            params,
            signing,
            keyed: OnceLock::new(),
            keyed_signing: OnceLock::new(),
        }
    }

    /// The secret keyed for the token's profile.
    pub(crate) fn totp(&self) -> &Totp {
        self.keyed
            .get_or_init(|| Totp::new(&self.secret, self.params))
    }

    /// The secret keyed for the token's signing suite, if it has one.
    pub(crate) fn signing(&self) -> Option<&Ocra> {
        self.keyed_signing
            .get_or_init(|| self.signing.map(|suite| Ocra::new(&self.secret, suite)))
            .as_ref()
    }
}

/// A token bound to the customer: its key, and the two things each accepted
/// code changes.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) key: Arc<TokenKey>,
    /// The last time step accepted for this token. A code is accepted only
    /// for a strictly greater step: single use lives here, in the record,
    /// committed atomically with everything else.
    pub(crate) last_step: u64,
    /// The drift, in steps, of the last accepted code (reported and
    /// audited; the signature window is centred on it).
    pub(crate) drift: i64,
    /// Where the phone's clock is and where it is heading, from the codes
    /// accepted: the window of the next code follows it.
    pub(crate) estimate: DriftEstimate,
    /// The last counter (signing suites with `C`) or time step (without)
    /// of an accepted transaction signature: the next one must be greater,
    /// or, for a suite without a counter, the same step for a transaction
    /// not in `signed_in_step`.
    pub(crate) last_signature: Option<u64>,
    /// For a suite without a counter, the questions answered at the time
    /// step `last_signature` names; empty otherwise.
    pub(crate) signed_in_step: SignedInStep,
    /// Whether the customer asks for this token's code at login. A new
    /// token swapped in keeps the choice; a retired token takes it along.
    pub(crate) login_otp: bool,
}

/// The SHA-256 digests of the questions answered in one time step, for a
/// signing suite without a counter: single use is per (time step,
/// question), so a transfer to another payee (`QN`) or another transaction
/// (`QH`, whose question is the transaction's digest) signed within the
/// same step is accepted, and the same question again is a replay. Per
/// question rather than per transaction: with a `QN` suite two transfers to
/// one payee share a response, and a captured response must not sign a
/// second amount in its step. Shared, not copied, when the token is (the
/// verification path allocates nothing for it).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum SignedInStep {
    /// Nothing kept: a suite with a counter, or nothing signed yet.
    #[default]
    Nothing,
    /// The questions answered in the step, in the order signed.
    Questions(Arc<[[u8; 32]]>),
    /// A step whose questions were not kept (a record written before they
    /// were): every question in it counts as answered, so nothing signed
    /// then can be signed again.
    Unknown,
}

impl SignedInStep {
    /// The most questions one token answers in one time step: a phone
    /// signs one at a time, and the record stays small.
    pub(crate) const MAX: usize = 16;

    /// The digests kept, in the order signed (none for `Unknown`, which a
    /// store keeps as none and reads back as `Unknown`).
    pub(crate) fn digests(&self) -> &[[u8; 32]] {
        match self {
            Self::Questions(all) => all,
            Self::Nothing | Self::Unknown => &[],
        }
    }

    /// Whether the question of `digest` was answered in the step.
    pub(crate) fn contains(&self, digest: &[u8; 32]) -> bool {
        match self {
            Self::Unknown => true,
            Self::Nothing | Self::Questions(_) => self.digests().contains(digest),
        }
    }

    /// These digests and `digest` after them (`Unknown` stays unknown).
    pub(crate) fn and(&self, digest: [u8; 32]) -> Self {
        if *self == Self::Unknown {
            return Self::Unknown;
        }
        let mut all = self.digests().to_vec();
        all.push(digest);
        Self::Questions(all.into())
    }

    /// Exactly `digest`.
    pub(crate) fn only(digest: [u8; 32]) -> Self {
        Self::Questions(Arc::new([digest]))
    }

    /// The digests a store kept for a token bound with `signing` whose last
    /// signature is `last`, if they can be a step's: none, or (a suite
    /// without a counter, a last signature) at most [`SignedInStep::MAX`],
    /// none twice. None kept for a step that has a last signature is a
    /// record written before they were kept: `Unknown`.
    #[cfg(any(feature = "seal", feature = "serde"))]
    fn from_stored(
        digests: Vec<[u8; 32]>,
        signing: Option<Suite>,
        last: Option<u64>,
    ) -> Option<Self> {
        let per_step = signing.is_some_and(|s| !s.has_counter()) && last.is_some();
        let distinct = digests
            .iter()
            .enumerate()
            .all(|(i, d)| !digests.iter().take(i).any(|e| e == d));
        match (per_step, digests.is_empty()) {
            (false, true) => Some(Self::Nothing),
            (false, false) => None,
            (true, true) => Some(Self::Unknown),
            (true, false) => {
                (digests.len() <= Self::MAX && distinct).then(|| Self::Questions(digests.into()))
            }
        }
    }
}

/// A swap in progress: when it started and until when the new token may be
/// registered.
///
/// ```
/// use otpguard::lifecycle::store::PendingSwap;
/// let p = PendingSwap { started_at: 100, deadline: 700 };
/// assert_eq!(p.deadline - p.started_at, 600);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingSwap {
    /// When `BeginSwap` was accepted (Unix seconds).
    pub started_at: u64,
    /// `CompleteSwap` is accepted strictly before this time; at or after
    /// it, the first event on the record times the swap out.
    pub deadline: u64,
}

/// The state of the record with what each state holds: a token where
/// there is one, a pending secret only where one can wait (for `Register`
/// in a state without a token, for `CompleteSwap` while swapping), the
/// swap's times only while swapping.
#[derive(Clone)]
pub(crate) enum Stage {
    Unregistered(Option<Arc<Enrollment>>),
    Active(Token),
    /// The old token, the swap, and the new token's secret `BeginSwap`
    /// fixed (none in a record whose swap began before it was fixed).
    Swapping(Token, PendingSwap, Option<Arc<Enrollment>>),
    Suspended(Token, SuspendReason),
    Reissued(Option<Arc<Enrollment>>),
}

impl Stage {
    pub(crate) const fn state(&self) -> State {
        match self {
            Self::Unregistered(_) => State::Unregistered,
            Self::Active(_) => State::Active,
            Self::Swapping(..) => State::Swapping,
            Self::Suspended(_, reason) => State::Suspended(*reason),
            Self::Reissued(_) => State::Reissued,
        }
    }

    pub(crate) const fn token(&self) -> Option<&Token> {
        match self {
            Self::Active(t) | Self::Swapping(t, ..) | Self::Suspended(t, _) => Some(t),
            Self::Unregistered(_) | Self::Reissued(_) => None,
        }
    }

    /// The secret waiting for its first code, if one is.
    pub(crate) fn pending_secret(&self) -> Option<&Arc<Enrollment>> {
        match self {
            Self::Unregistered(e) | Self::Reissued(e) | Self::Swapping(_, _, e) => e.as_ref(),
            Self::Active(_) | Self::Suspended(..) => None,
        }
    }

    /// The stage for `state` from its parts, if they fit together: what
    /// the stores load and what an effect leaves.
    pub(crate) fn from_parts(
        state: State,
        token: Option<Token>,
        pending: Option<PendingSwap>,
        secret: Option<Arc<Enrollment>>,
    ) -> Option<Self> {
        match (state, token, pending, secret) {
            (State::Unregistered, None, None, e) => Some(Self::Unregistered(e)),
            (State::Reissued, None, None, e) => Some(Self::Reissued(e)),
            (State::Active, Some(t), None, None) => Some(Self::Active(t)),
            (State::Swapping, Some(t), Some(p), e) => Some(Self::Swapping(t, p, e)),
            (State::Suspended(reason), Some(t), None, None) => Some(Self::Suspended(t, reason)),
            _ => None,
        }
    }

    pub(crate) const fn pending(&self) -> Option<PendingSwap> {
        match self {
            Self::Swapping(_, p, _) => Some(*p),
            _ => None,
        }
    }
}

/// A secret created by `Provision`, waiting for its first code.
#[derive(Clone)]
pub(crate) struct Enrollment {
    pub(crate) secret: Secret,
    pub(crate) deadline: u64,
    /// The profile its Key URI was built with: the token it becomes is
    /// bound with this one, whatever the settings are by then.
    pub(crate) params: TotpParams,
    /// The signing suite its Key URI carried, likewise.
    pub(crate) signing: Option<Suite>,
}

/// What a record remembers of its retired tokens: their serials, and keyed
/// fingerprints of their secrets (never the secrets), so that neither can
/// be registered on the record again.
#[derive(Clone, Default)]
pub(crate) struct Retired {
    pub(crate) serials: Vec<TokenSerial>,
    pub(crate) fingerprints: Vec<Fingerprint>,
    /// Created with the first fingerprint.
    pub(crate) key: Option<FingerprintKey>,
}

impl Retired {
    /// Whether `secret` is the secret of a retired token. Every stored
    /// fingerprint is compared, in constant time.
    pub(crate) fn has_secret(&self, secret: &Secret) -> bool {
        let Some(key) = &self.key else {
            return false;
        };
        let candidates = key.fingerprints(secret);
        let mut found = subtle::Choice::from(0);
        for stored in &self.fingerprints {
            for candidate in &candidates {
                found |= stored.ct_eq(candidate);
            }
        }
        found.into()
    }
}

/// A record's [`Retired`] list, shared between snapshots; absent (no
/// allocation, nothing to count) until the record retires its first token,
/// which most records never do.
#[derive(Clone, Default)]
pub(crate) struct RetiredTokens(Option<Arc<Retired>>);

/// What a record that never retired a token remembers.
static NONE_RETIRED: Retired = Retired {
    serials: Vec::new(),
    fingerprints: Vec::new(),
    key: None,
};

impl RetiredTokens {
    /// The list read back from storage: absent if nothing was retired.
    ///
    /// # Errors
    /// If fingerprints come without the key they were made with.
    #[cfg(any(feature = "seal", feature = "serde"))]
    fn from_parts(
        serials: Vec<TokenSerial>,
        fingerprints: Vec<Fingerprint>,
        key: Option<FingerprintKey>,
    ) -> Result<Self, RecordInvalid> {
        if key.is_none() && !fingerprints.is_empty() {
            return Err(RecordInvalid("retired fingerprints without their key"));
        }
        if serials.is_empty() && fingerprints.is_empty() && key.is_none() {
            return Ok(Self::default());
        }
        Ok(Self(Some(Arc::new(Retired {
            serials,
            fingerprints,
            key,
        }))))
    }

    /// The list, to add to (copied first if a snapshot shares it).
    pub(crate) fn make_mut(&mut self) -> &mut Retired {
        Arc::make_mut(self.0.get_or_insert_with(Arc::default))
    }
}

impl core::ops::Deref for RetiredTokens {
    type Target = Retired;

    fn deref(&self) -> &Retired {
        self.0.as_deref().unwrap_or(&NONE_RETIRED)
    }
}

/// Everything the lifecycle knows about one customer's token. A
/// [`TokenStore`](super::store::TokenStore) keeps it; only the
/// [`Lifecycle`](super::Lifecycle) changes it, and a backend never saves
/// one by hand.
///
/// Cloning it is cheap (the token's key and the retired list are shared).
/// `Debug` never shows a secret. It has no serde implementation of its own:
/// see `WithPlaintextSecrets` (feature `serde`) for storage and
/// [`TokenRecord::summary`] for a secret-free view.
///
/// ```
/// use otpguard::lifecycle::{State, store::TokenRecord};
/// let r = TokenRecord::new();
/// assert_eq!((r.state(), r.version(), r.failures()), (State::Unregistered, 0, 0));
/// ```
#[derive(Clone)]
pub struct TokenRecord {
    /// The state, with what it holds (the token, a pending secret, a swap).
    pub(crate) stage: Stage,
    /// Consecutive wrong codes (of the token, or of a new token's first
    /// code where there is none).
    pub(crate) failures: u32,
    /// No code of the token is evaluated before this time (throttling).
    pub(crate) throttled_until: Option<u64>,
    pub(crate) version: u64,
    pub(crate) retired: RetiredTokens,
}

impl Default for TokenRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenRecord {
    /// A customer without a token: `Unregistered`, version 0 (what a store
    /// answers for a customer it has no record of).
    #[must_use]
    pub fn new() -> Self {
        Self {
            stage: Stage::Unregistered(None),
            failures: 0,
            throttled_until: None,
            version: 0,
            retired: RetiredTokens::default(),
        }
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> State {
        self.stage.state()
    }

    /// The current token's id, if a token is bound.
    #[must_use]
    pub fn token_id(&self) -> Option<TokenId> {
        self.stage.token().map(|t| t.key.id)
    }

    /// The TOTP profile the current token was bound with (its codes are
    /// always checked with it), if a token is bound.
    #[must_use]
    pub fn totp_params(&self) -> Option<TotpParams> {
        self.stage.token().map(|t| t.key.params)
    }

    /// The OCRA suite the current token signs transactions with, if a
    /// token is bound and was bound with one.
    #[must_use]
    pub fn signing_suite(&self) -> Option<Suite> {
        self.stage.token().and_then(|t| t.key.signing)
    }

    /// The last counter (signing suites with `C`) or time step (without)
    /// of a transaction signature accepted for the current token.
    #[must_use]
    pub fn last_signature(&self) -> Option<u64> {
        self.stage.token().and_then(|t| t.last_signature)
    }

    /// The estimate of the current token's phone clock, from the codes
    /// accepted: the window of its next code follows it.
    #[must_use]
    pub fn drift_estimate(&self) -> Option<DriftEstimate> {
        self.stage.token().map(|t| t.estimate)
    }

    /// For a current token whose suite has no counter, the SHA-256 digests
    /// of the questions
    /// ([`Transaction::question_for`](crate::ocra::Transaction::question_for):
    /// the payee's account, or the transaction's digest) answered in the
    /// time step [`TokenRecord::last_signature`] names; empty otherwise.
    #[must_use]
    pub fn signed_in_last_step(&self) -> &[[u8; 32]] {
        self.stage
            .token()
            .map_or(&[], |t| t.signed_in_step.digests())
    }

    /// The current token's serial, if a token is bound.
    #[must_use]
    pub fn serial(&self) -> Option<&TokenSerial> {
        self.stage.token().map(|t| &t.key.serial)
    }

    /// The pending swap, while `Swapping`.
    #[must_use]
    pub const fn pending_swap(&self) -> Option<PendingSwap> {
        self.stage.pending()
    }

    /// Until when the provisioned secret waits for its first code, if one
    /// is pending.
    #[must_use]
    pub fn enrollment_deadline(&self) -> Option<u64> {
        self.stage.pending_secret().map(|e| e.deadline)
    }

    /// Consecutive wrong codes of the current token since its last accepted
    /// code (or registration, or resume).
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// The time before which no code of the token is evaluated, after
    /// wrong codes (see [`Throttle`](super::config::Throttle)); it may be in the
    /// past.
    #[must_use]
    pub const fn throttled_until(&self) -> Option<u64> {
        self.throttled_until
    }

    /// Whether the customer turned the login OTP on (for the current
    /// token: a record without one has it off).
    #[must_use]
    pub fn login_otp(&self) -> bool {
        self.stage.token().is_some_and(|t| t.login_otp)
    }

    /// The last time step accepted for the current token.
    #[must_use]
    pub fn last_step(&self) -> Option<u64> {
        self.stage.token().map(|t| t.last_step)
    }

    /// Drift, in time steps, of the last accepted code of the current token.
    #[must_use]
    pub fn last_drift(&self) -> Option<i64> {
        self.stage.token().map(|t| t.drift)
    }

    /// Increases by one with every committed change. The store commits a
    /// change only if its version is still the one the change was decided
    /// on.
    #[must_use]
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// Serials retired on this record (stopped, swapped out, reissued), in
    /// order. They can never be registered here again, nor can their
    /// secrets.
    #[must_use]
    pub fn retired_serials(&self) -> &[TokenSerial] {
        &self.retired.serials
    }

    /// Everything but the secrets, as a comparable value (for tests, logs,
    /// dashboards; `Serialize` with the `serde` feature).
    #[must_use]
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            state: self.state(),
            token_id: self.token_id(),
            serial: self.serial().cloned(),
            totp_params: self.totp_params(),
            signing_suite: self.signing_suite(),
            last_signature: self.last_signature(),
            signed_in_last_step: self.signed_in_last_step().to_vec(),
            drift_estimate: self.drift_estimate(),
            pending_swap: self.pending_swap(),
            enrollment_deadline: self.enrollment_deadline(),
            failures: self.failures,
            throttled_until: self.throttled_until,
            login_otp: self.login_otp(),
            last_step: self.last_step(),
            last_drift: self.last_drift(),
            version: self.version,
            retired_serials: self.retired.serials.clone(),
        }
    }

    /// The secret waiting for its first code, if one is.
    pub(crate) fn pending_secret(&self) -> Option<&Enrollment> {
        self.stage.pending_secret().map(Arc::as_ref)
    }

    /// Drops a secret waiting for its first code in a state without a
    /// token (its tries are used up).
    pub(crate) fn drop_pending_secret(&mut self) {
        if let Stage::Unregistered(e) | Stage::Reissued(e) = &mut self.stage {
            *e = None;
        }
    }

    /// No consecutive wrong codes, no hold back.
    pub(crate) fn clear_failures(&mut self) {
        self.failures = 0;
        self.throttled_until = None;
    }

    /// Whether `secret` keys the same HMAC as the current token's secret
    /// (constant time in the keys).
    pub(crate) fn is_current_secret(&self, secret: &Secret) -> bool {
        self.stage
            .token()
            .is_some_and(|t| super::fingerprint::same_key(&t.key.secret, secret))
    }
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("state", &self.state())
            .field("token_id", &self.token_id())
            .field("serial", &self.serial())
            .field("pending_swap", &self.pending_swap())
            .field("enrollment_deadline", &self.enrollment_deadline())
            .field("failures", &self.failures)
            .field("throttled_until", &self.throttled_until)
            .field("login_otp", &self.login_otp())
            .field("last_step", &self.last_step())
            .field("signing_suite", &self.signing_suite())
            .field("last_signature", &self.last_signature())
            .field("version", &self.version)
            .field("retired_serials", &self.retired.serials)
            .finish_non_exhaustive()
    }
}

/// A record's fields as a stored form gives them back, its secrets opened:
/// what [`TokenRecord::from_parts`] checks and assembles. Every loader
/// (a sealed record, the plain-text serde form) reads its own format into
/// these parts and leaves every rule across fields to that one constructor.
#[cfg(any(feature = "seal", feature = "serde"))]
pub(crate) struct RecordParts {
    pub(crate) state: State,
    pub(crate) version: u64,
    pub(crate) token: Option<TokenParts>,
    pub(crate) pending_swap: Option<PendingSwap>,
    pub(crate) enrollment: Option<EnrollmentParts>,
    pub(crate) failures: u32,
    pub(crate) throttled_until: Option<u64>,
    pub(crate) login_otp: bool,
    pub(crate) retired_serials: Vec<TokenSerial>,
    pub(crate) retired_fingerprints: Vec<[u8; 32]>,
    pub(crate) fingerprint_key: Option<FingerprintKey>,
}

/// The current token's fields, its secret opened.
#[cfg(any(feature = "seal", feature = "serde"))]
pub(crate) struct TokenParts {
    pub(crate) id: TokenId,
    pub(crate) serial: TokenSerial,
    pub(crate) secret: Secret,
    pub(crate) totp: TotpParams,
    pub(crate) signing: Option<Suite>,
    pub(crate) last_step: u64,
    pub(crate) drift: i64,
    pub(crate) last_signature: Option<u64>,
    pub(crate) signed_in_last_step: Vec<[u8; 32]>,
    /// `None` in records written before estimates were kept: one is made
    /// from `last_step` and `drift`.
    pub(crate) drift_estimate: Option<DriftEstimate>,
}

/// A pending enrollment's fields, its secret opened.
#[cfg(any(feature = "seal", feature = "serde"))]
pub(crate) struct EnrollmentParts {
    pub(crate) secret: Secret,
    pub(crate) deadline: u64,
    pub(crate) totp: TotpParams,
    pub(crate) signing: Option<Suite>,
}

/// Why stored parts do not make a record: the rule they break.
#[cfg(any(feature = "seal", feature = "serde"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordInvalid(&'static str);

#[cfg(any(feature = "seal", feature = "serde"))]
impl RecordInvalid {
    /// The rule broken, in words.
    pub(crate) const fn reason(self) -> &'static str {
        self.0
    }
}

/// Refuses a stored signing suite the lifecycle could not sign with.
#[cfg(any(feature = "seal", feature = "serde"))]
fn signing_fits(signing: Option<Suite>) -> Result<(), RecordInvalid> {
    match signing {
        Some(suite) => check_signing_suite(&suite)
            .map_err(|_| RecordInvalid("a signing suite the lifecycle cannot use")),
        None => Ok(()),
    }
}

#[cfg(any(feature = "seal", feature = "serde"))]
impl TokenParts {
    /// The token, if its fields fit together.
    fn into_token(self) -> Result<Token, RecordInvalid> {
        signing_fits(self.signing)?;
        if self.signing.is_none() && self.last_signature.is_some() {
            return Err(RecordInvalid(
                "a last signature for a token without a signing suite",
            ));
        }
        let signed_in_step =
            SignedInStep::from_stored(self.signed_in_last_step, self.signing, self.last_signature)
                .ok_or(RecordInvalid(
                    "transactions signed in a step for a token that cannot have them",
                ))?;
        let estimate = match self.drift_estimate {
            Some(estimate) => estimate,
            None => DriftEstimate::from_steps(self.last_step, self.drift, self.totp)
                .ok_or(RecordInvalid("a last step and drift beyond any time"))?,
        };
        Ok(Token {
            key: Arc::new(TokenKey::new(
                self.id,
                self.serial,
                self.secret,
                self.totp,
                self.signing,
            )),
            last_step: self.last_step,
            drift: self.drift,
            last_signature: self.last_signature,
            signed_in_step,
            estimate,
            // Set from the record's flag by `TokenRecord::from_parts`.
            login_otp: false,
        })
    }
}

#[cfg(any(feature = "seal", feature = "serde"))]
impl TokenRecord {
    /// The record stored `parts` describe, every rule across its fields
    /// checked here and nowhere else: a usable signing suite, a last
    /// signature only with a suite, questions answered in a step only where
    /// a step can have them, a drift estimate (or a last step and drift it
    /// can be made from), a token and a pending swap exactly where the
    /// state has them, the login OTP on only with a token, and retired
    /// fingerprints only with their key.
    ///
    /// # Errors
    /// [`RecordInvalid`] naming the first rule the parts break.
    pub(crate) fn from_parts(parts: RecordParts) -> Result<Self, RecordInvalid> {
        let mut token = parts.token.map(TokenParts::into_token).transpose()?;
        match (&mut token, parts.login_otp) {
            (Some(t), on) => t.login_otp = on,
            (None, true) => return Err(RecordInvalid("login OTP on without a token")),
            (None, false) => {}
        }
        let enrollment = match parts.enrollment {
            Some(e) => {
                signing_fits(e.signing)?;
                Some(Arc::new(Enrollment {
                    secret: e.secret,
                    deadline: e.deadline,
                    params: e.totp,
                    signing: e.signing,
                }))
            }
            None => None,
        };
        let stage = Stage::from_parts(parts.state, token, parts.pending_swap, enrollment).ok_or(
            RecordInvalid("the state and its token, pending swap or pending secret disagree"),
        )?;
        let fingerprints = parts
            .retired_fingerprints
            .into_iter()
            .map(Fingerprint::from_bytes)
            .collect();
        let retired =
            RetiredTokens::from_parts(parts.retired_serials, fingerprints, parts.fingerprint_key)?;
        Ok(Self {
            stage,
            failures: parts.failures,
            throttled_until: parts.throttled_until,
            version: parts.version,
            retired,
        })
    }
}

/// A [`TokenRecord`] without its secrets. Two records with equal summaries
/// differ at most in their secrets.
///
/// ```
/// use otpguard::lifecycle::{State, store::TokenRecord};
/// let s = TokenRecord::new().summary();
/// assert_eq!(s.state, State::Unregistered);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RecordSummary {
    /// See [`TokenRecord::state`].
    pub state: State,
    /// See [`TokenRecord::token_id`].
    pub token_id: Option<TokenId>,
    /// See [`TokenRecord::serial`].
    pub serial: Option<TokenSerial>,
    /// See [`TokenRecord::totp_params`].
    pub totp_params: Option<TotpParams>,
    /// See [`TokenRecord::signing_suite`].
    #[cfg_attr(feature = "serde", serde(serialize_with = "suite_text"))]
    pub signing_suite: Option<Suite>,
    /// See [`TokenRecord::last_signature`].
    pub last_signature: Option<u64>,
    /// See [`TokenRecord::signed_in_last_step`].
    pub signed_in_last_step: Vec<[u8; 32]>,
    /// See [`TokenRecord::drift_estimate`].
    pub drift_estimate: Option<DriftEstimate>,
    /// See [`TokenRecord::pending_swap`].
    pub pending_swap: Option<PendingSwap>,
    /// See [`TokenRecord::enrollment_deadline`].
    pub enrollment_deadline: Option<u64>,
    /// See [`TokenRecord::failures`].
    pub failures: u32,
    /// See [`TokenRecord::throttled_until`].
    pub throttled_until: Option<u64>,
    /// See [`TokenRecord::login_otp`].
    pub login_otp: bool,
    /// See [`TokenRecord::last_step`].
    pub last_step: Option<u64>,
    /// See [`TokenRecord::last_drift`].
    pub last_drift: Option<i64>,
    /// See [`TokenRecord::version`].
    pub version: u64,
    /// See [`TokenRecord::retired_serials`].
    pub retired_serials: Vec<TokenSerial>,
}

/// A suite as its text (RFC 6287 §6).
#[cfg(feature = "serde")]
fn suite_text<S: serde::Serializer>(suite: &Option<Suite>, s: S) -> Result<S::Ok, S::Error> {
    match suite {
        Some(suite) => s.collect_str(suite),
        None => s.serialize_none(),
    }
}

// Key material: the current token's and the enrollment's `Secret`s (wiped
// by their own `Drop`) and the fingerprint key (wiped by its own `Drop`).
// Nothing here holds key bytes directly.
const _: fn() = || {
    fn wipes<T: ZeroizeOnDrop>() {}
    wipes::<Secret>();
    wipes::<FingerprintKey>();
};
