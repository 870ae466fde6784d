//! A [`TokenRecord`] as a database keeps it (feature `seal`): every field
//! as plain data, every secret sealed with a [`Sealer`] and bound to the
//! customer, the token and the slot it belongs to. This is what a store
//! writes; nothing in it opens without the keys.

use super::fingerprint::FingerprintKey;
use super::record::{EnrollmentParts, RecordParts, TokenParts};
use super::{CustomerId, DriftEstimate, PendingSwap, State, TokenId, TokenRecord, TokenSerial};
use crate::ocra::Suite;
use crate::seal::{
    record_message, KeyedMac, Purpose, SealContext, SealError, SealedSecret, Sealer,
};
use crate::{Secret, StoreError, TotpParams};

mod bytes;

/// A record with its secrets sealed: what a store writes and reads back.
///
/// A store seals each record it commits ([`TokenRecord::seal`]), keeps
/// [`SealedRecord::to_bytes`] (or the fields, as columns) under the
/// customer's id with the record's `version` beside it for its
/// compare-and-swap, and on `load` reads the bytes back
/// ([`SealedRecord::from_bytes`]) and opens them ([`SealedRecord::open`]).
///
/// ```
/// use otpguard::lifecycle::{CustomerId, store::SealedRecord, store::TokenRecord};
/// use otpguard::seal::{KeyId, Keyring};
///
/// let keys = Keyring::new(KeyId(1), &[7u8; 32])?;
/// let alice = CustomerId::new("c-1")?;
/// let stored = TokenRecord::new().seal(&alice, &keys)?;
/// assert_eq!(stored.open(&alice, &keys)?.summary(), TokenRecord::new().summary());
///
/// let bytes = stored.to_bytes(); // a BLOB, a bytea, a key-value store's value
/// let read = SealedRecord::from_bytes(&bytes)?;
/// assert_eq!(read, stored);
/// assert_eq!(read.open(&alice, &keys)?.version(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # As bytes
///
/// [`SealedRecord::to_bytes`] writes the record as one byte string, in a
/// versioned format a later version of the library keeps reading. Secrets
/// appear in it only sealed (the [`SealedSecret::to_bytes`] form: format
/// byte, key id, nonce, ciphertext and tag), so the bytes hold nothing
/// secret. The customer's id is not in them: the store keys the bytes by
/// it, and every sealed secret is bound to it, so bytes copied under
/// another customer do not open.
///
/// Integers are big-endian (`i64` in two's complement). A *length* or a
/// *count* is a `u64`. An *optional* field is a presence byte, `0`
/// (absent, nothing follows) or `1` (the field follows); a flag is `0` or
/// `1`. Format 1, in order:
///
/// | field | bytes |
/// |---|---|
/// | magic | `OGSR` (4 bytes) |
/// | format | `u8`: `1` |
/// | state | `u8`: `0` `Unregistered`, `1` `Active`, `2` `Swapping`, `3` `Suspended(LostDevice)`, `4` `Suspended(TooManyFailures)`, `5` `Suspended(Operator)`, `6` `Reissued` |
/// | version | `u64` |
/// | failures | `u32` |
/// | throttled until | optional `u64` |
/// | login OTP | flag |
/// | pending swap | optional: started at `u64`, deadline `u64` |
/// | token | optional *token* |
/// | enrollment | optional *enrollment* |
/// | retired serials | count, then each a *serial* |
/// | retired fingerprints | count, then 32 bytes each |
/// | fingerprint key | optional *sealed secret* |
/// | record tag | optional: 37 bytes, [`KeyedMac::to_bytes`] (format 2; format 1 ends before it and is read as a record without a tag) |
///
/// A *token*:
///
/// | field | bytes |
/// |---|---|
/// | id | 16 bytes |
/// | serial | *serial* |
/// | TOTP profile | *profile* |
/// | secret | *sealed secret* |
/// | last step | `u64` |
/// | drift | `i64` |
/// | signing suite | optional *suite* |
/// | last signature | optional `u64` |
/// | questions signed in the last step | count (at most 16), then 32 bytes each |
/// | drift estimate | optional: anchor, then last, each at `u64`, low `i64`, high `i64` |
///
/// An *enrollment*: secret (*sealed secret*), deadline (`u64`), TOTP
/// profile (*profile*), signing suite (optional *suite*).
///
/// | element | bytes |
/// |---|---|
/// | *serial* | length (1 to 64), then its ASCII text |
/// | *suite* | length (at most 64), then the suite's text as `Display` writes it (RFC 6287 §6) |
/// | *sealed secret* | length (at most 512), then [`SealedSecret::to_bytes`] |
/// | *profile* | algorithm `u8` (`1` SHA-1, `2` SHA-256, `3` SHA-512), digits `u32`, period `u64`, T0 `u64` |
///
/// [`SealedRecord::from_bytes`] reads exactly this: it refuses other magic,
/// an unknown format, a tag, flag or presence byte out of range, a length
/// over its bound or beyond the input (nothing is allocated for more than
/// the input holds), a field that is not valid on its own (a serial, a
/// suite not in its canonical text, a profile, a sealed secret, an empty
/// drift interval), and any byte after the last field. So the bytes it
/// accepts in format 2 are the bytes `to_bytes` writes for what it returns. Whether the
/// fields make a record together (a token where the state has one, say)
/// is checked when the record is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedRecord {
    /// The state.
    pub state: State,
    /// The version (the store's compare-and-swap column).
    pub version: u64,
    /// The current token, if any.
    pub token: Option<SealedToken>,
    /// The pending swap, while `Swapping`.
    pub pending_swap: Option<PendingSwap>,
    /// A provisioned secret waiting for its first code.
    pub enrollment: Option<SealedEnrollment>,
    /// Consecutive wrong codes.
    pub failures: u32,
    /// No code is evaluated before this time (throttling).
    pub throttled_until: Option<u64>,
    /// Whether the login OTP is on.
    pub login_otp: bool,
    /// Serials retired on this record.
    pub retired_serials: Vec<TokenSerial>,
    /// Keyed fingerprints of retired secrets (not secret).
    pub retired_fingerprints: Vec<[u8; 32]>,
    /// The key of those fingerprints, sealed.
    pub fingerprint_key: Option<SealedSecret>,
    /// The tag that authenticates every field above for the customer
    /// ([`Sealer::mac`] over the bytes of the record without it). A record
    /// without one, or whose fields changed since it was made, does not
    /// open.
    pub tag: Option<KeyedMac>,
}

/// The current token of a [`SealedRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedToken {
    /// Its id.
    pub id: TokenId,
    /// Its serial (unique within the record, not across customers).
    pub serial: TokenSerial,
    /// The TOTP profile it was bound with.
    pub totp: TotpParams,
    /// Its secret, sealed.
    pub secret: SealedSecret,
    /// The last step accepted for it.
    pub last_step: u64,
    /// The drift of its last accepted code.
    pub drift: i64,
    /// The OCRA suite it signs transactions with, if any.
    pub signing: Option<Suite>,
    /// The counter (or time step) of its last accepted signature.
    pub last_signature: Option<u64>,
    /// For a suite without a counter, the SHA-256 digests of the questions
    /// answered in the time step `last_signature` names (see
    /// [`TokenRecord::signed_in_last_step`]); empty otherwise.
    pub signed_in_last_step: Vec<[u8; 32]>,
    /// The estimate of its phone's clock; `None` in records written before
    /// estimates were kept (one is then made from `last_step` and `drift`).
    pub drift_estimate: Option<DriftEstimate>,
}

/// The pending enrollment of a [`SealedRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedEnrollment {
    /// The provisioned secret, sealed.
    pub secret: SealedSecret,
    /// Until when it waits for its first code.
    pub deadline: u64,
    /// The profile its Key URI carried.
    pub totp: TotpParams,
    /// The signing suite its Key URI carried, if any.
    pub signing: Option<Suite>,
}

/// The slot of a pending secret: a swap's new token while `Swapping`, an
/// enrollment otherwise.
const fn enrollment_purpose(state: State) -> Purpose {
    match state {
        State::Swapping => Purpose::PendingSwap,
        _ => Purpose::Enrollment,
    }
}

impl TokenRecord {
    /// The tag of this record in its plaintext form
    /// ([`TaggedWithPlaintextSecrets`](super::store::TaggedWithPlaintextSecrets)):
    /// the MAC, under `sealer`'s primary key and bound to `customer`, of
    /// the record's canonical bytes with a SHA-256 digest in each secret's
    /// place (so no copy of a secret is made to compute it).
    #[cfg(feature = "serde")]
    pub(crate) fn plaintext_tag<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<KeyedMac, SealError> {
        let digesting = crate::seal::Digesting(sealer);
        digesting.mac(&self.plaintext_message(customer, &digesting)?)
    }

    /// Checks that `tag` is this record's tag in its plaintext form, for
    /// `customer`, under one of `sealer`'s keys.
    #[cfg(feature = "serde")]
    pub(crate) fn check_plaintext_tag<S: Sealer + ?Sized>(
        &self,
        tag: &KeyedMac,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<(), SealError> {
        let digesting = crate::seal::Digesting(sealer);
        digesting.check_mac(tag, &self.plaintext_message(customer, &digesting)?)
    }

    /// What the plaintext form's tag is the MAC of: the record's tag
    /// message, its secrets sealed as digests.
    #[cfg(feature = "serde")]
    fn plaintext_message<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        digesting: &crate::seal::Digesting<'_, S>,
    ) -> Result<Vec<u8>, SealError> {
        let bytes = self.seal_untagged(customer, digesting)?.untagged_bytes();
        record_message(&bytes, customer)
    }

    /// This record with its secrets sealed by `sealer` for `customer`.
    ///
    /// # Errors
    /// A [`SealError`] if sealing failed.
    pub fn seal<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<SealedRecord, SealError> {
        self.seal_untagged(customer, sealer)?
            .tagged(customer, sealer)
    }

    /// This record with its secrets sealed, without its tag.
    fn seal_untagged<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<SealedRecord, SealError> {
        let state = self.state();
        let token = match self.stage.token() {
            Some(t) => {
                let here = SealContext::new(customer, Some(t.key.id), Purpose::Current);
                Some(SealedToken {
                    id: t.key.id,
                    serial: t.key.serial.clone(),
                    totp: t.key.params,
                    secret: sealer.seal(&t.key.secret, &here)?,
                    last_step: t.last_step,
                    drift: t.drift,
                    signing: t.key.signing,
                    last_signature: t.last_signature,
                    signed_in_last_step: t.signed_in_step.digests().to_vec(),
                    drift_estimate: Some(t.estimate),
                })
            }
            None => None,
        };
        let enrollment = match self.pending_secret() {
            Some(e) => {
                let here = SealContext::new(customer, None, enrollment_purpose(state));
                Some(SealedEnrollment {
                    secret: sealer.seal(&e.secret, &here)?,
                    deadline: e.deadline,
                    totp: e.params,
                    signing: e.signing,
                })
            }
            None => None,
        };
        let fingerprint_key = match &self.retired.key {
            Some(key) => {
                let bytes =
                    Secret::from_bytes(key.as_bytes()).map_err(|_| SealError::InvalidSecret)?;
                let here = SealContext::new(customer, None, Purpose::FingerprintKey);
                Some(sealer.seal(&bytes, &here)?)
            }
            None => None,
        };
        let untagged = SealedRecord {
            state,
            version: self.version,
            token,
            pending_swap: self.pending_swap(),
            enrollment,
            failures: self.failures,
            throttled_until: self.throttled_until,
            login_otp: self.login_otp(),
            retired_serials: self.retired.serials.clone(),
            retired_fingerprints: self
                .retired
                .fingerprints
                .iter()
                .map(|f| *f.as_bytes())
                .collect(),
            fingerprint_key,
            tag: None,
        };
        Ok(untagged)
    }
}

impl SealedRecord {
    /// The record, its secrets opened by `sealer` for `customer`.
    ///
    /// # Errors
    /// [`SealError::Unauthentic`] if a secret was sealed for another
    /// customer, token or slot (moved rows), or tampered with;
    /// [`SealError::Inconsistent`] if the fields do not make a record; the
    /// other [`SealError`]s as [`Sealer::open`].
    pub fn open<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<TokenRecord, SealError> {
        // Every field is authenticated before any is used.
        let tag = self.tag.as_ref().ok_or(SealError::Untagged)?;
        sealer.check_mac(tag, &record_message(&self.untagged_bytes(), customer)?)?;
        self.open_untagged(customer, sealer)
    }

    /// The record, its secrets opened, its tag not checked: only for a row
    /// written before records carried one, while it is tagged
    /// (`PostgresStore::tag_untagged`).
    pub(crate) fn open_untagged<S: Sealer + ?Sized>(
        &self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<TokenRecord, SealError> {
        let token = match &self.token {
            Some(t) => {
                let here = SealContext::new(customer, Some(t.id), Purpose::Current);
                Some(TokenParts {
                    id: t.id,
                    serial: t.serial.clone(),
                    secret: sealer.open(&t.secret, &here)?,
                    totp: t.totp,
                    signing: t.signing,
                    last_step: t.last_step,
                    drift: t.drift,
                    last_signature: t.last_signature,
                    signed_in_last_step: t.signed_in_last_step.clone(),
                    drift_estimate: t.drift_estimate,
                })
            }
            None => None,
        };
        let enrollment = match &self.enrollment {
            Some(e) => {
                let here = SealContext::new(customer, None, enrollment_purpose(self.state));
                Some(EnrollmentParts {
                    secret: sealer.open(&e.secret, &here)?,
                    deadline: e.deadline,
                    totp: e.totp,
                    signing: e.signing,
                })
            }
            None => None,
        };
        let fingerprint_key = match &self.fingerprint_key {
            Some(sealed) => {
                let here = SealContext::new(customer, None, Purpose::FingerprintKey);
                let opened = sealer.open(sealed, &here)?;
                let bytes = <[u8; 64]>::try_from(opened.expose_secret()).map_err(|_| {
                    SealError::Inconsistent("a fingerprint key of the wrong length")
                })?;
                Some(FingerprintKey::from_bytes(bytes))
            }
            None => None,
        };
        TokenRecord::from_parts(RecordParts {
            state: self.state,
            version: self.version,
            token,
            pending_swap: self.pending_swap,
            enrollment,
            failures: self.failures,
            throttled_until: self.throttled_until,
            login_otp: self.login_otp,
            retired_serials: self.retired_serials.clone(),
            retired_fingerprints: self.retired_fingerprints.clone(),
            fingerprint_key,
        })
        .map_err(|invalid| SealError::Inconsistent(invalid.reason()))
    }

    /// This record with a new tag, made by `sealer` for `customer` over
    /// every other field: what [`TokenRecord::seal`] returns. A store has
    /// no use for it; a holder of the keys who changed a field on purpose
    /// (a repair, a test) tags the record again with it.
    ///
    /// # Errors
    /// A [`SealError`] if the tag cannot be made.
    pub fn tagged<S: Sealer + ?Sized>(
        mut self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<Self, SealError> {
        self.tag = Some(sealer.mac(&record_message(&self.untagged_bytes(), customer)?)?);
        Ok(self)
    }

    /// The bytes the tag covers: the record's, without the tag.
    fn untagged_bytes(&self) -> Vec<u8> {
        bytes::write_untagged(self)
    }

    /// The record as one byte string, in the format the type's
    /// documentation tables ([As bytes](SealedRecord#as-bytes)): what a
    /// store keeps. It holds secrets only sealed.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        bytes::write(self)
    }

    /// Reads a record written by [`SealedRecord::to_bytes`].
    ///
    /// # Errors
    /// A [`StoreError`] made with [`StoreError::corrupt`] if `bytes` are
    /// not a record in a format this library reads (see
    /// [As bytes](SealedRecord#as-bytes) for what is refused). It never
    /// panics, and allocates in proportion to the input (every count is
    /// bounded by the bytes left).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        bytes::read(bytes)
    }

    /// Whether a secret in it is sealed, or its tag made, under a key
    /// other than `primary` (then seal the opened record again at its next
    /// commit, or in a re-seal pass).
    #[must_use]
    pub fn needs_reseal(&self, primary: crate::seal::KeyId) -> bool {
        self.keys().any(|k| k != primary)
    }

    /// Every key that sealed a secret of it or made its tag.
    pub(crate) fn keys(&self) -> impl Iterator<Item = crate::seal::KeyId> + '_ {
        self.token
            .iter()
            .map(|t| t.secret.key())
            .chain(self.enrollment.iter().map(|e| e.secret.key()))
            .chain(self.fingerprint_key.iter().map(SealedSecret::key))
            .chain(self.tag.iter().map(KeyedMac::key))
    }
}
