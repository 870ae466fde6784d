//! Storage of a [`TokenRecord`] with serde, secrets included only on
//! explicit request.
//!
//! A `TokenRecord` implements neither `Serialize` nor `Deserialize`, so it
//! cannot end up in a log, a cache or a JSON response by accident. A store
//! keeps it sealed (`TokenRecord::seal`, feature `seal`); writing it with
//! its secrets in the clear takes the wrapper [`WithPlaintextSecrets`],
//! whose name says what it does and which an auditor can grep for, like
//! `expose_secret`. For a secret-free
//! view (dashboards, support tools) serialize
//! [`TokenRecord::summary`] instead.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::drift::OffsetSeen;
use super::fingerprint::FingerprintKey;
use super::record::{EnrollmentParts, RecordParts, TokenParts};
#[cfg(feature = "seal")]
use super::CustomerId;
use super::{DriftEstimate, PendingSwap, State, TokenId, TokenRecord, TokenSerial};
use crate::ocra::Suite;
#[cfg(feature = "seal")]
use crate::seal::{KeyedMac, SealError, Sealer};
use crate::{Secret, TotpParams};

/// **Plaintext secrets.** Serializes a `&TokenRecord` with its secrets in
/// base32, and deserializes one back, checking that it is consistent. The
/// name says the danger: for storage use
/// `TokenRecord::seal` (feature `seal`), which
/// writes sealed secrets only. This path is for tests, migrations and
/// backends that encrypt the whole output themselves; the serializer's own
/// buffers (a JSON writer's, say) are outside this crate and may leave
/// copies of the text in freed memory.
///
/// ```
/// use otpguard::lifecycle::{store::TokenRecord, store::WithPlaintextSecrets};
///
/// let record = TokenRecord::new();
/// let json = serde_json::to_string(&WithPlaintextSecrets(&record))?;
/// let WithPlaintextSecrets(back): WithPlaintextSecrets<TokenRecord> = serde_json::from_str(&json)?;
/// assert_eq!(back.summary(), record.summary());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub struct WithPlaintextSecrets<R>(pub R);

impl<R> fmt::Debug for WithPlaintextSecrets<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithPlaintextSecrets(..)")
    }
}

/// The stored layout. `format` lets a later version read older records.
#[derive(Serialize)]
struct StoredOut<'a> {
    format: u32,
    state: State,
    token: Option<TokenOut<'a>>,
    pending_swap: Option<PendingSwap>,
    enrollment: Option<EnrollmentOut<'a>>,
    failures: u32,
    throttled_until: Option<u64>,
    login_otp: bool,
    version: u64,
    retired_serials: &'a [TokenSerial],
    retired_fingerprints: Vec<BytesOut<'a>>,
    fingerprint_key: Option<BytesOut<'a>>,
    /// Hex of the tag's stored form, in the tagged form only.
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
}

#[derive(Serialize)]
struct TokenOut<'a> {
    id: TokenId,
    serial: &'a TokenSerial,
    totp: TotpParams,
    secret_base32: BytesOut<'a>,
    last_step: u64,
    drift: i64,
    signing_suite: Option<SuiteText>,
    last_signature: Option<u64>,
    /// Hex SHA-256 digests; left out while empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signed_in_last_step: Vec<String>,
    /// `[at, low, high]` of the anchor, then of the last code.
    drift_estimate: [(u64, i64, i64); 2],
}

#[derive(Serialize)]
struct EnrollmentOut<'a> {
    secret_base32: BytesOut<'a>,
    deadline: u64,
    totp: TotpParams,
    signing_suite: Option<SuiteText>,
}

/// A signing suite as its text (RFC 6287 §6). Whether the lifecycle can
/// sign with it is checked with the rest of the record
/// (`TokenRecord::from_parts`).
struct SuiteText(Suite);

impl Serialize for SuiteText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SuiteText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        Suite::parse(&text).map(Self).map_err(D::Error::custom)
    }
}

/// Bytes written as base32, through a buffer wiped on drop.
struct BytesOut<'a>(&'a [u8]);

impl Serialize for BytesOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::secret::base32_wiped(self.0))
    }
}

#[derive(Deserialize)]
struct StoredIn {
    format: u32,
    state: State,
    token: Option<TokenIn>,
    pending_swap: Option<PendingSwap>,
    enrollment: Option<EnrollmentIn>,
    failures: u32,
    /// Absent in records written before throttling existed.
    #[serde(default)]
    throttled_until: Option<u64>,
    login_otp: bool,
    version: u64,
    retired_serials: Vec<TokenSerial>,
    retired_fingerprints: Vec<BytesIn>,
    fingerprint_key: Option<BytesIn>,
    /// Present in the tagged form only (which the plain reader ignores).
    #[serde(default)]
    #[cfg_attr(not(feature = "seal"), allow(dead_code))]
    tag: Option<String>,
}

#[derive(Deserialize)]
struct TokenIn {
    id: TokenId,
    serial: TokenSerial,
    totp: TotpParams,
    secret_base32: BytesIn,
    last_step: u64,
    drift: i64,
    /// Absent in records written before transaction signing existed.
    #[serde(default)]
    signing_suite: Option<SuiteText>,
    #[serde(default)]
    last_signature: Option<u64>,
    #[serde(default)]
    signed_in_last_step: Vec<String>,
    /// Absent in records written before estimates were kept.
    #[serde(default)]
    drift_estimate: Option<[(u64, i64, i64); 2]>,
}

#[derive(Deserialize)]
struct EnrollmentIn {
    secret_base32: BytesIn,
    deadline: u64,
    totp: TotpParams,
    #[serde(default)]
    signing_suite: Option<SuiteText>,
}

/// Base32 text read into bytes wiped on drop.
struct BytesIn(Zeroizing<Vec<u8>>);

impl<'de> Deserialize<'de> for BytesIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &text)
            .map(|bytes| Self(Zeroizing::new(bytes)))
            .ok_or_else(|| serde::de::Error::custom("invalid base32 in a token record"))
    }
}

impl BytesIn {
    fn secret<E: serde::de::Error>(&self) -> Result<Secret, E> {
        Secret::from_bytes(&self.0).map_err(E::custom)
    }

    fn array<const N: usize, E: serde::de::Error>(&self) -> Result<[u8; N], E> {
        <[u8; N]>::try_from(self.0.as_slice())
            .map_err(|_| E::custom("a key or fingerprint of the wrong length in a token record"))
    }
}

const FORMAT: u32 = 2;

impl Serialize for WithPlaintextSecrets<&TokenRecord> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        stored_out(self.0, None).serialize(serializer)
    }
}

/// The stored layout of `r`, with `tag` (hex) if given.
fn stored_out(r: &TokenRecord, tag: Option<String>) -> StoredOut<'_> {
    StoredOut {
        format: FORMAT,
        state: r.state(),
        token: r.stage.token().map(|t| TokenOut {
            id: t.key.id,
            serial: &t.key.serial,
            totp: t.key.params,
            secret_base32: BytesOut(t.key.secret.expose_secret()),
            last_step: t.last_step,
            drift: t.drift,
            signing_suite: t.key.signing.map(SuiteText),
            last_signature: t.last_signature,
            signed_in_last_step: t
                .signed_in_step
                .digests()
                .iter()
                .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
                .collect(),
            drift_estimate: [t.estimate.anchor(), t.estimate.last()]
                .map(|o| (o.at(), o.low(), o.high())),
        }),
        pending_swap: r.pending_swap(),
        enrollment: r.pending_secret().map(|e| EnrollmentOut {
            secret_base32: BytesOut(e.secret.expose_secret()),
            deadline: e.deadline,
            totp: e.params,
            signing_suite: e.signing.map(SuiteText),
        }),
        failures: r.failures,
        throttled_until: r.throttled_until,
        login_otp: r.login_otp(),
        version: r.version,
        retired_serials: &r.retired.serials,
        retired_fingerprints: r
            .retired
            .fingerprints
            .iter()
            .map(|f| BytesOut(f.as_bytes()))
            .collect(),
        fingerprint_key: r.retired.key.as_ref().map(|k| BytesOut(k.as_bytes())),
        tag,
    }
}

impl<'de> Deserialize<'de> for WithPlaintextSecrets<TokenRecord> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        record_in::<D::Error>(StoredIn::deserialize(deserializer)?).map(Self)
    }
}

/// The record a stored layout holds, checked for consistency.
fn record_in<E: serde::de::Error>(s: StoredIn) -> Result<TokenRecord, E> {
    if s.format != FORMAT {
        return Err(E::custom("unknown token record format"));
    }
    let token = s
        .token
        .map(|t| {
            let signed_in_last_step = t
                .signed_in_last_step
                .iter()
                .map(|hex| digest_from_hex(hex))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    E::custom("token record: a signed transaction's digest is not 64 hex digits")
                })?;
            let drift_estimate = t
                .drift_estimate
                .map(|[anchor, last]| {
                    estimate_from(anchor, last)
                        .ok_or_else(|| E::custom("token record: an impossible drift estimate"))
                })
                .transpose()?;
            Ok::<_, E>(TokenParts {
                id: t.id,
                serial: t.serial,
                secret: t.secret_base32.secret()?,
                totp: t.totp,
                signing: t.signing_suite.map(|s| s.0),
                last_step: t.last_step,
                drift: t.drift,
                last_signature: t.last_signature,
                signed_in_last_step,
                drift_estimate,
            })
        })
        .transpose()?;
    let enrollment = s
        .enrollment
        .map(|e| {
            Ok::<_, E>(EnrollmentParts {
                secret: e.secret_base32.secret()?,
                deadline: e.deadline,
                totp: e.totp,
                signing: e.signing_suite.map(|s| s.0),
            })
        })
        .transpose()?;
    let retired_fingerprints = s
        .retired_fingerprints
        .iter()
        .map(BytesIn::array)
        .collect::<Result<Vec<_>, E>>()?;
    let fingerprint_key = s
        .fingerprint_key
        .map(|k| k.array().map(FingerprintKey::from_bytes))
        .transpose()?;
    TokenRecord::from_parts(RecordParts {
        state: s.state,
        version: s.version,
        token,
        pending_swap: s.pending_swap,
        enrollment,
        failures: s.failures,
        throttled_until: s.throttled_until,
        login_otp: s.login_otp,
        retired_serials: s.retired_serials,
        retired_fingerprints,
        fingerprint_key,
    })
    .map_err(|invalid| E::custom(format_args!("token record: {}", invalid.reason())))
}

/// A SHA-256 digest written as 64 hex digits.
fn digest_from_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let text = core::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// An estimate as stored: `(at, low, high)` of its anchor and last code.
fn estimate_from(anchor: (u64, i64, i64), last: (u64, i64, i64)) -> Option<DriftEstimate> {
    let seen = |(at, low, high)| OffsetSeen::new(at, low, high);
    DriftEstimate::new(seen(anchor)?, seen(last)?)
}

/// **Plaintext secrets, authenticated.** The plaintext form of
/// [`WithPlaintextSecrets`] with a tag, as sealed records carry one: the
/// MAC, under a [`Sealer`]'s primary key and bound to the customer, of
/// every field (each secret through its SHA-256 digest). A record edited
/// by hand, or moved to another customer, is refused when it is opened
/// (`SealError::Unauthentic`); one without a tag too
/// (`SealError::Untagged`). The secrets are still in the clear: this
/// protects what decides an answer (state, counts, last step, retired
/// tokens) for a backend that keeps records this way, not the secrets.
///
/// ```
/// use otpguard::lifecycle::{store::TokenRecord, store::TaggedWithPlaintextSecrets, CustomerId};
/// use otpguard::seal::{KeyId, Keyring};
///
/// let keys = Keyring::new(KeyId(1), &[7u8; 32])?;
/// let alice = CustomerId::new("c-1")?;
/// let record = TokenRecord::new();
/// let json = serde_json::to_string(&TaggedWithPlaintextSecrets::new(&record, &alice, &keys)?)?;
///
/// let read: TaggedWithPlaintextSecrets<TokenRecord> = serde_json::from_str(&json)?;
/// assert_eq!(read.open(&alice, &keys)?.summary(), record.summary());
///
/// // Edited by hand: refused.
/// let edited = json.replace("\"failures\":0", "\"failures\":1");
/// let read: TaggedWithPlaintextSecrets<TokenRecord> = serde_json::from_str(&edited)?;
/// assert!(read.open(&alice, &keys).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "seal"))))]
pub struct TaggedWithPlaintextSecrets<R> {
    record: R,
    tag: Option<KeyedMac>,
}

#[cfg(feature = "seal")]
impl<R> fmt::Debug for TaggedWithPlaintextSecrets<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaggedWithPlaintextSecrets(..)")
    }
}

#[cfg(feature = "seal")]
impl<'a> TaggedWithPlaintextSecrets<&'a TokenRecord> {
    /// `record`, tagged by `sealer` for `customer`, to serialize.
    ///
    /// # Errors
    /// A [`SealError`] if the tag cannot be made.
    pub fn new<S: Sealer + ?Sized>(
        record: &'a TokenRecord,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<Self, SealError> {
        Ok(Self {
            record,
            tag: Some(record.plaintext_tag(customer, sealer)?),
        })
    }
}

#[cfg(feature = "seal")]
impl TaggedWithPlaintextSecrets<TokenRecord> {
    /// The record, once its tag is checked for `customer` under `sealer`'s
    /// keys.
    ///
    /// # Errors
    /// [`SealError::Untagged`] if it carries no tag;
    /// [`SealError::Unauthentic`] if it was changed or is another
    /// customer's; [`SealError::UnknownKey`] if its key is not known.
    pub fn open<S: Sealer + ?Sized>(
        self,
        customer: &CustomerId,
        sealer: &S,
    ) -> Result<TokenRecord, SealError> {
        let tag = self.tag.ok_or(SealError::Untagged)?;
        self.record.check_plaintext_tag(&tag, customer, sealer)?;
        Ok(self.record)
    }
}

#[cfg(feature = "seal")]
impl Serialize for TaggedWithPlaintextSecrets<&TokenRecord> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tag = self.tag.map(|t| {
            t.to_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        });
        stored_out(self.record, tag).serialize(serializer)
    }
}

#[cfg(feature = "seal")]
impl<'de> Deserialize<'de> for TaggedWithPlaintextSecrets<TokenRecord> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut stored = StoredIn::deserialize(deserializer)?;
        let tag = stored
            .tag
            .take()
            .map(|hex| {
                hex_bytes(&hex)
                    .and_then(|bytes| KeyedMac::from_bytes(&bytes).ok())
                    .ok_or_else(|| D::Error::custom("token record: the tag is not a tag"))
            })
            .transpose()?;
        Ok(Self {
            record: record_in(stored)?,
            tag,
        })
    }
}

/// Bytes written as hex digits.
#[cfg(feature = "seal")]
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            core::str::from_utf8(pair)
                .ok()
                .and_then(|text| u8::from_str_radix(text, 16).ok())
        })
        .collect()
}
