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
use super::{DriftEstimate, PendingSwap, State, TokenId, TokenRecord, TokenSerial};
use crate::ocra::Suite;
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
        let r = self.0;
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
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for WithPlaintextSecrets<TokenRecord> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = StoredIn::deserialize(deserializer)?;
        if s.format != FORMAT {
            return Err(D::Error::custom("unknown token record format"));
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
                        D::Error::custom(
                            "token record: a signed transaction's digest is not 64 hex digits",
                        )
                    })?;
                let drift_estimate = t
                    .drift_estimate
                    .map(|[anchor, last]| {
                        estimate_from(anchor, last).ok_or_else(|| {
                            D::Error::custom("token record: an impossible drift estimate")
                        })
                    })
                    .transpose()?;
                Ok::<_, D::Error>(TokenParts {
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
                Ok::<_, D::Error>(EnrollmentParts {
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
            .collect::<Result<Vec<_>, D::Error>>()?;
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
        .map(Self)
        .map_err(|invalid| D::Error::custom(format_args!("token record: {}", invalid.reason())))
    }
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
