//! A [`SealedRecord`] as the columns of `otpguard_token_records`, and an
//! [`AuditRecord`] as those of `otpguard_audit`: the only place that knows
//! both the Rust types and the SQL ones.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use std::borrow::Cow;

use super::super::audit::{
    AuditContent, AuditCursor, AuditEntry, AuditReason, AuditRecord, DriftChange, Notice, Outcome,
    StoreAudit,
};
use super::super::chain::{ChainField, ChainLink};
use super::super::drift::OffsetSeen;
use super::super::sealed::{SealedEnrollment, SealedRecord, SealedToken};
use super::super::CustomerId;
use super::super::{
    Actor, DriftEstimate, EventKind, Label, PendingSwap, Principal, RequestContext, State, TokenId,
    TokenSerial,
};
use crate::ocra::Suite;
use crate::seal::{KeyedMac, SealedSecret, Sealer};
use crate::{Algorithm, StoreError, TotpParams};

/// The record columns, in the order [`RecordColumns::bind`] binds them.
pub(super) const RECORD_COLUMNS: [&str; 32] = [
    "state",
    "version",
    "token_id",
    "token_serial",
    "token_algorithm",
    "token_digits",
    "token_period",
    "token_t0",
    "token_secret",
    "token_last_step",
    "token_drift",
    "swap_started_at",
    "swap_deadline",
    "enrollment_secret",
    "enrollment_deadline",
    "enrollment_algorithm",
    "enrollment_digits",
    "enrollment_period",
    "enrollment_t0",
    "failures",
    "throttled_until",
    "login_otp",
    "retired_serials",
    "retired_fingerprints",
    "fingerprint_key",
    "sealed_with",
    "token_signing_suite",
    "token_last_signature",
    "enrollment_signing_suite",
    "token_signed_in_step",
    "token_drift_estimate",
    "record_tag",
];

/// The audit columns after `customer_id`, in the order
/// [`AuditColumns::bind`] binds them, with their array types.
/// The first 20 are the row's content, which its chain link covers; the
/// last two are the link (`link`, its position, and `chain`, its MAC).
pub(super) const AUDIT_COLUMNS: [(&str, &str); 22] = [
    ("version", "bigint"),
    ("seq", "integer"),
    ("at", "bigint"),
    ("actor", "text"),
    ("principal", "text"),
    ("source", "text"),
    ("request_id", "text"),
    ("token_id", "bytea"),
    ("token_serial", "text"),
    ("new_serial", "text"),
    ("event", "text"),
    ("from_state", "text"),
    ("to_state", "text"),
    ("outcome", "text"),
    ("reason", "text"),
    ("reason_code", "text"),
    ("drift_from", "bigint"),
    ("drift_to", "bigint"),
    ("notice", "text"),
    ("transaction_digest", "bytea"),
    ("link", "bigint"),
    ("chain", "bytea"),
];

/// How many of [`AUDIT_COLUMNS`] a link covers.
pub(super) const CHAINED_COLUMNS: usize = 20;

/// The names of [`AUDIT_COLUMNS`] (a unit test checks they agree).
pub(super) const CONTENT_COLUMNS: [&str; CHAINED_COLUMNS + 2] = [
    "version",
    "seq",
    "at",
    "actor",
    "principal",
    "source",
    "request_id",
    "token_id",
    "token_serial",
    "new_serial",
    "event",
    "from_state",
    "to_state",
    "outcome",
    "reason",
    "reason_code",
    "drift_from",
    "drift_to",
    "notice",
    "transaction_digest",
    "link",
    "chain",
];

/// The same columns of the customer's last audit row, as the load
/// statement names them.
pub(super) const HEAD_COLUMNS: [&str; CHAINED_COLUMNS + 2] = [
    "head_version",
    "head_seq",
    "head_at",
    "head_actor",
    "head_principal",
    "head_source",
    "head_request_id",
    "head_token_id",
    "head_token_serial",
    "head_new_serial",
    "head_event",
    "head_from_state",
    "head_to_state",
    "head_outcome",
    "head_reason",
    "head_reason_code",
    "head_drift_from",
    "head_drift_to",
    "head_notice",
    "head_transaction_digest",
    "head_link",
    "head_chain",
];
const _: () = assert!(AUDIT_COLUMNS.len() == CHAINED_COLUMNS + 2);

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// A `u64` of the record as a `bigint`.
pub(super) fn bigint(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::new(format!("{what} {value} does not fit a PostgreSQL bigint")))
}

/// A `bigint` column back as a `u64`.
fn unsigned(value: i64, what: &str) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("{what} is negative ({value})"))
}

/// A TOTP profile as four columns.
struct ProfileColumns {
    algorithm: &'static str,
    digits: i16,
    period: i64,
    t0: i64,
}

impl ProfileColumns {
    fn new(p: TotpParams) -> Result<Self, StoreError> {
        Ok(Self {
            algorithm: p.algorithm().uri_name(),
            digits: i16::try_from(p.digits())
                .map_err(|_| StoreError::new("digits out of range"))?,
            period: bigint(p.period(), "period")?,
            t0: bigint(p.t0(), "t0")?,
        })
    }
}

/// The values of one record's columns.
pub(super) struct RecordColumns {
    state: String,
    version: i64,
    token_id: Option<[u8; 16]>,
    token_serial: Option<String>,
    token_profile: Option<ProfileColumns>,
    token_secret: Option<Vec<u8>>,
    token_last_step: Option<i64>,
    token_drift: Option<i64>,
    swap: Option<(i64, i64)>,
    enrollment_secret: Option<Vec<u8>>,
    enrollment_deadline: Option<i64>,
    enrollment_profile: Option<ProfileColumns>,
    failures: i64,
    throttled_until: Option<i64>,
    login_otp: bool,
    retired_serials: Vec<String>,
    retired_fingerprints: Vec<Vec<u8>>,
    fingerprint_key: Option<Vec<u8>>,
    sealed_with: Vec<i64>,
    token_signing_suite: Option<String>,
    token_last_signature: Option<i64>,
    enrollment_signing_suite: Option<String>,
    token_signed_in_step: Option<Vec<u8>>,
    token_drift_estimate: Option<Vec<i64>>,
    record_tag: Option<Vec<u8>>,
}

impl RecordColumns {
    /// The columns of `record`, whose secrets were sealed under the key
    /// `sealed_with`.
    pub(super) fn new(record: &SealedRecord) -> Result<Self, StoreError> {
        let token = record.token.as_ref();
        let enrollment = record.enrollment.as_ref();
        let sealed_with = sealed_with(record);
        Ok(Self {
            state: record.state.to_string(),
            version: bigint(record.version, "version")?,
            token_id: token.map(|t| t.id.to_bytes()),
            token_serial: token.map(|t| t.serial.as_str().to_owned()),
            token_profile: token.map(|t| ProfileColumns::new(t.totp)).transpose()?,
            token_secret: token.map(|t| t.secret.to_bytes()),
            token_last_step: token
                .map(|t| bigint(t.last_step, "last step"))
                .transpose()?,
            token_drift: token.map(|t| t.drift),
            swap: record
                .pending_swap
                .map(|s| {
                    Ok::<_, StoreError>((
                        bigint(s.started_at, "swap start")?,
                        bigint(s.deadline, "swap deadline")?,
                    ))
                })
                .transpose()?,
            enrollment_secret: enrollment.map(|e| e.secret.to_bytes()),
            enrollment_deadline: enrollment
                .map(|e| bigint(e.deadline, "enrollment deadline"))
                .transpose()?,
            enrollment_profile: enrollment
                .map(|e| ProfileColumns::new(e.totp))
                .transpose()?,
            failures: i64::from(record.failures),
            throttled_until: record
                .throttled_until
                .map(|t| bigint(t, "throttled until"))
                .transpose()?,
            login_otp: record.login_otp,
            retired_serials: record
                .retired_serials
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            retired_fingerprints: record
                .retired_fingerprints
                .iter()
                .map(|f| f.to_vec())
                .collect(),
            fingerprint_key: record.fingerprint_key.as_ref().map(SealedSecret::to_bytes),
            sealed_with,
            token_signing_suite: token.and_then(|t| t.signing).map(|s| s.to_string()),
            token_last_signature: token
                .and_then(|t| t.last_signature)
                .map(|c| bigint(c, "last signature"))
                .transpose()?,
            enrollment_signing_suite: enrollment.and_then(|e| e.signing).map(|s| s.to_string()),
            token_signed_in_step: token
                .map(|t| t.signed_in_last_step.concat())
                .filter(|bytes| !bytes.is_empty()),
            token_drift_estimate: token
                .and_then(|t| t.drift_estimate)
                .map(estimate_columns)
                .transpose()?,
            record_tag: record.tag.map(|t| t.to_bytes().to_vec()),
        })
    }

    /// Binds the columns to `query`, in [`RECORD_COLUMNS`] order.
    pub(super) fn bind<'q>(&'q self, query: PgQuery<'q>) -> PgQuery<'q> {
        let token = self.token_profile.as_ref();
        let enrollment = self.enrollment_profile.as_ref();
        query
            .bind(&self.state)
            .bind(self.version)
            .bind(self.token_id.as_ref().map(<[u8; 16]>::as_slice))
            .bind(self.token_serial.as_deref())
            .bind(token.map(|p| p.algorithm))
            .bind(token.map(|p| p.digits))
            .bind(token.map(|p| p.period))
            .bind(token.map(|p| p.t0))
            .bind(self.token_secret.as_deref())
            .bind(self.token_last_step)
            .bind(self.token_drift)
            .bind(self.swap.map(|(started, _)| started))
            .bind(self.swap.map(|(_, deadline)| deadline))
            .bind(self.enrollment_secret.as_deref())
            .bind(self.enrollment_deadline)
            .bind(enrollment.map(|p| p.algorithm))
            .bind(enrollment.map(|p| p.digits))
            .bind(enrollment.map(|p| p.period))
            .bind(enrollment.map(|p| p.t0))
            .bind(self.failures)
            .bind(self.throttled_until)
            .bind(self.login_otp)
            .bind(&self.retired_serials)
            .bind(&self.retired_fingerprints)
            .bind(self.fingerprint_key.as_deref())
            .bind(&self.sealed_with)
            .bind(self.token_signing_suite.as_deref())
            .bind(self.token_last_signature)
            .bind(self.enrollment_signing_suite.as_deref())
            .bind(self.token_signed_in_step.as_deref())
            .bind(self.token_drift_estimate.as_deref())
            .bind(self.record_tag.as_deref())
    }
}

/// Every key that sealed a secret of the row or made its tag, each once,
/// in order: a key rotation re-seals every row that names the old one.
fn sealed_with(record: &SealedRecord) -> Vec<i64> {
    let mut keys: Vec<i64> = record.keys().map(|k| i64::from(k.0)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// What a row says before it is decoded: enough to audit a row that does
/// not decode.
pub(super) struct RowHeader {
    pub(super) version: i64,
    pub(super) state: String,
}

impl RowHeader {
    pub(super) fn read(row: &PgRow) -> Result<Self, String> {
        Ok(Self {
            version: row.try_get("version").map_err(|e| e.to_string())?,
            state: row.try_get("state").map_err(|e| e.to_string())?,
        })
    }
}

fn column<'r, T>(row: &'r PgRow, name: &str) -> Result<T, String>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name).map_err(|e| format!("column {name}: {e}"))
}

/// A signing suite column back as a suite.
fn signing(row: &PgRow, name: &str) -> Result<Option<Suite>, String> {
    let text: Option<String> = column(row, name)?;
    text.map(|t| Suite::parse(&t).map_err(|e| format!("column {name}: {e}")))
        .transpose()
}

fn sealed(bytes: &[u8], what: &str) -> Result<SealedSecret, String> {
    SealedSecret::from_bytes(bytes).map_err(|e| format!("{what}: {e}"))
}

fn profile(row: &PgRow, prefix: &str) -> Result<Option<TotpParams>, String> {
    let name = |field: &str| format!("{prefix}_{field}");
    let algorithm: Option<String> = column(row, &name("algorithm"))?;
    let Some(algorithm) = algorithm else {
        return Ok(None);
    };
    let digits: Option<i16> = column(row, &name("digits"))?;
    let period: Option<i64> = column(row, &name("period"))?;
    let t0: Option<i64> = column(row, &name("t0"))?;
    let (Some(digits), Some(period), Some(t0)) = (digits, period, t0) else {
        return Err(format!("{prefix} profile is incomplete"));
    };
    let algorithm = Algorithm::from_uri_name(&algorithm)
        .ok_or_else(|| format!("{prefix} algorithm {algorithm:?} is unknown"))?;
    let digits = u32::try_from(digits).map_err(|_| format!("{prefix} digits are negative"))?;
    TotpParams::new(
        algorithm,
        digits,
        unsigned(period, "period")?,
        unsigned(t0, "t0")?,
    )
    .map(Some)
    .map_err(|e| format!("{prefix} profile: {e}"))
}

/// Reads a row of `otpguard_token_records` back; a message says what is
/// wrong with a row that does not decode. Only the columns are checked
/// here (types, ranges, what must come together); whether the fields make
/// a record is checked once, for every stored form, when the record is
/// opened ([`SealedRecord::open`]).
pub(super) fn read_record(row: &PgRow) -> Result<SealedRecord, String> {
    let state: String = column(row, "state")?;
    let state = state.parse::<State>().map_err(|e| e.to_string())?;
    let version = unsigned(column(row, "version")?, "version")?;
    let token_id: Option<Vec<u8>> = column(row, "token_id")?;
    let token = match token_id {
        Some(id) => {
            let id = <[u8; 16]>::try_from(id.as_slice())
                .map_err(|_| "token id is not 16 bytes".to_owned())?;
            let serial: Option<String> = column(row, "token_serial")?;
            let serial = serial.ok_or("token without a serial")?;
            let secret: Option<Vec<u8>> = column(row, "token_secret")?;
            let secret = secret.ok_or("token without a secret")?;
            let last_step: Option<i64> = column(row, "token_last_step")?;
            let drift: Option<i64> = column(row, "token_drift")?;
            Some(SealedToken {
                id: TokenId::from_bytes(id),
                serial: TokenSerial::new(&serial).map_err(|e| format!("token serial: {e}"))?,
                totp: profile(row, "token")?.ok_or("token without a profile")?,
                secret: sealed(&secret, "token secret")?,
                last_step: unsigned(last_step.ok_or("token without a last step")?, "last step")?,
                drift: drift.ok_or("token without a drift")?,
                signing: signing(row, "token_signing_suite")?,
                last_signature: {
                    let last: Option<i64> = column(row, "token_last_signature")?;
                    last.map(|c| unsigned(c, "last signature")).transpose()?
                },
                drift_estimate: {
                    let values: Option<Vec<i64>> = column(row, "token_drift_estimate")?;
                    values.map(|v| estimate_of(&v)).transpose()?
                },
                signed_in_last_step: {
                    let bytes: Option<Vec<u8>> = column(row, "token_signed_in_step")?;
                    let bytes = bytes.unwrap_or_default();
                    let chunks = bytes.chunks_exact(32);
                    if !chunks.remainder().is_empty() {
                        return Err("answered questions are not whole digests".to_owned());
                    }
                    chunks
                        .map(<[u8; 32]>::try_from)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| "answered questions are not whole digests".to_owned())?
                },
            })
        }
        None => None,
    };
    let started: Option<i64> = column(row, "swap_started_at")?;
    let deadline: Option<i64> = column(row, "swap_deadline")?;
    let pending_swap = match (started, deadline) {
        (Some(s), Some(d)) => Some(PendingSwap {
            started_at: unsigned(s, "swap start")?,
            deadline: unsigned(d, "swap deadline")?,
        }),
        (None, None) => None,
        _ => return Err("swap half recorded".to_owned()),
    };
    let secret: Option<Vec<u8>> = column(row, "enrollment_secret")?;
    let enrollment = match secret {
        Some(secret) => {
            let deadline: Option<i64> = column(row, "enrollment_deadline")?;
            Some(SealedEnrollment {
                secret: sealed(&secret, "enrollment secret")?,
                deadline: unsigned(
                    deadline.ok_or("enrollment without a deadline")?,
                    "enrollment deadline",
                )?,
                totp: profile(row, "enrollment")?.ok_or("enrollment without a profile")?,
                signing: signing(row, "enrollment_signing_suite")?,
            })
        }
        None => None,
    };
    let failures: i64 = column(row, "failures")?;
    let throttled_until: Option<i64> = column(row, "throttled_until")?;
    let serials: Vec<String> = column(row, "retired_serials")?;
    let fingerprints: Vec<Vec<u8>> = column(row, "retired_fingerprints")?;
    let key: Option<Vec<u8>> = column(row, "fingerprint_key")?;
    let tag: Option<Vec<u8>> = column(row, "record_tag")?;
    let record = SealedRecord {
        state,
        version,
        token,
        pending_swap,
        enrollment,
        failures: u32::try_from(failures)
            .map_err(|_| format!("failures {failures} out of range"))?,
        throttled_until: throttled_until
            .map(|t| unsigned(t, "throttled until"))
            .transpose()?,
        login_otp: column(row, "login_otp")?,
        retired_serials: serials
            .iter()
            .map(|s| TokenSerial::new(s).map_err(|e| format!("retired serial: {e}")))
            .collect::<Result<_, _>>()?,
        retired_fingerprints: fingerprints
            .iter()
            .map(|f| {
                <[u8; 32]>::try_from(f.as_slice())
                    .map_err(|_| "retired fingerprint is not 32 bytes".to_owned())
            })
            .collect::<Result<_, _>>()?,
        fingerprint_key: key.map(|k| sealed(&k, "fingerprint key")).transpose()?,
        tag: tag
            .map(|t| KeyedMac::from_bytes(&t).map_err(|_| "record tag: not a tag".to_owned()))
            .transpose()?,
    };
    // The keys the row names for key rotation are the record's own: a row
    // whose list was edited would escape a re-seal pass.
    let named: Vec<i64> = column(row, "sealed_with")?;
    if named != sealed_with(&record) {
        return Err("sealed_with does not list the keys of the record".to_owned());
    }
    Ok(record)
}

/// The audit records of one commit as column arrays, for one `UNNEST`.
#[derive(Default)]
pub(super) struct AuditColumns {
    version: Vec<i64>,
    seq: Vec<i32>,
    at: Vec<i64>,
    actor: Vec<String>,
    principal: Vec<Option<String>>,
    source: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    token_id: Vec<Option<Vec<u8>>>,
    token_serial: Vec<Option<String>>,
    new_serial: Vec<Option<String>>,
    event: Vec<String>,
    from_state: Vec<String>,
    to_state: Vec<String>,
    outcome: Vec<String>,
    reason: Vec<String>,
    reason_code: Vec<String>,
    drift_from: Vec<Option<i64>>,
    drift_to: Vec<Option<i64>>,
    notice: Vec<Option<String>>,
    transaction_digest: Vec<Option<Vec<u8>>>,
    link: Vec<i64>,
    chain: Vec<Vec<u8>>,
}

impl AuditColumns {
    /// One row of the System's own: event `event` (`Load` for a record
    /// refused as corrupt, `Reseal` for one sealed again), at `version`, in
    /// `state`, with its reason and the reason's stable code.
    pub(super) fn system(
        version: i64,
        at: i64,
        event: &str,
        outcome: &str,
        state: String,
        (reason, code): (String, &str),
    ) -> Self {
        let mut c = Self::default();
        c.version.push(version);
        c.seq.push(0);
        c.at.push(at);
        c.actor.push("System".to_owned());
        c.principal.push(None);
        c.source.push(None);
        c.request_id.push(None);
        c.token_id.push(None);
        c.token_serial.push(None);
        c.new_serial.push(None);
        c.event.push(event.to_owned());
        c.from_state.push(state.clone());
        c.to_state.push(state);
        c.outcome.push(outcome.to_owned());
        c.reason.push(reason);
        c.reason_code.push(code.to_owned());
        c.drift_from.push(None);
        c.drift_to.push(None);
        c.notice.push(None);
        c.transaction_digest.push(None);
        c
    }

    /// Appends a row read back from `otpguard_audit`, its columns named
    /// `names` (in [`AUDIT_COLUMNS`] order: [`CONTENT_COLUMNS`], or
    /// [`HEAD_COLUMNS`] for the head a load reads), and returns its link.
    pub(super) fn push_read(
        &mut self,
        row: &PgRow,
        names: &[&str; CHAINED_COLUMNS + 2],
    ) -> Result<Option<ChainLink>, String> {
        let [version, seq, at, actor, principal, source, request_id, token_id, token_serial, new_serial, event, from_state, to_state, outcome, reason, reason_code, drift_from, drift_to, notice, transaction_digest, link, chain] =
            names;
        self.version.push(column(row, version)?);
        self.seq.push(column(row, seq)?);
        self.at.push(column(row, at)?);
        self.actor.push(column(row, actor)?);
        self.principal.push(column(row, principal)?);
        self.source.push(column(row, source)?);
        self.request_id.push(column(row, request_id)?);
        self.token_id.push(column(row, token_id)?);
        self.token_serial.push(column(row, token_serial)?);
        self.new_serial.push(column(row, new_serial)?);
        self.event.push(column(row, event)?);
        self.from_state.push(column(row, from_state)?);
        self.to_state.push(column(row, to_state)?);
        self.outcome.push(column(row, outcome)?);
        self.reason.push(column(row, reason)?);
        self.reason_code.push(column(row, reason_code)?);
        self.drift_from.push(column(row, drift_from)?);
        self.drift_to.push(column(row, drift_to)?);
        self.notice.push(column(row, notice)?);
        self.transaction_digest
            .push(column(row, transaction_digest)?);
        read_link(row, link, chain)
    }

    /// The version and event of row `i`.
    pub(super) fn version_and_event(&self, i: usize) -> Option<(i64, &str)> {
        Some((*self.version.get(i)?, self.event.get(i)?.as_str()))
    }

    /// The content of row `i`, as its link covers it, in
    /// [`AUDIT_COLUMNS`] order.
    pub(super) fn fields(&self, i: usize) -> Option<[ChainField<'_>; CHAINED_COLUMNS]> {
        fn text(v: &str) -> ChainField<'_> {
            ChainField::Text(v)
        }
        fn some_text(v: &Option<String>) -> ChainField<'_> {
            v.as_deref().map_or(ChainField::Null, ChainField::Text)
        }
        fn some_int(v: &Option<i64>) -> ChainField<'_> {
            v.map_or(ChainField::Null, ChainField::Int)
        }
        fn some_bytes(v: &Option<Vec<u8>>) -> ChainField<'_> {
            v.as_deref().map_or(ChainField::Null, ChainField::Bytes)
        }
        let int = ChainField::Int;
        Some([
            int(*self.version.get(i)?),
            int(i64::from(*self.seq.get(i)?)),
            int(*self.at.get(i)?),
            text(self.actor.get(i)?),
            some_text(self.principal.get(i)?),
            some_text(self.source.get(i)?),
            some_text(self.request_id.get(i)?),
            some_bytes(self.token_id.get(i)?),
            some_text(self.token_serial.get(i)?),
            some_text(self.new_serial.get(i)?),
            text(self.event.get(i)?),
            text(self.from_state.get(i)?),
            text(self.to_state.get(i)?),
            text(self.outcome.get(i)?),
            text(self.reason.get(i)?),
            text(self.reason_code.get(i)?),
            some_int(self.drift_from.get(i)?),
            some_int(self.drift_to.get(i)?),
            some_text(self.notice.get(i)?),
            some_bytes(self.transaction_digest.get(i)?),
        ])
    }

    /// Links every row, in order, after `head` in `customer`'s chain, and
    /// returns the new head.
    pub(super) fn link<S: Sealer + ?Sized>(
        &mut self,
        head: Option<ChainLink>,
        sealer: &S,
        customer: &CustomerId,
    ) -> Result<Option<ChainLink>, StoreError> {
        let mut head = head;
        let mut links = Vec::with_capacity(self.version.len());
        for i in 0..self.version.len() {
            let fields = self
                .fields(i)
                .ok_or_else(|| StoreError::new("audit columns of unequal length"))?;
            let link = ChainLink::next(head.as_ref(), sealer, customer, &fields)
                .map_err(|e| StoreError::with_source("linking an audit row failed", e))?;
            links.push(link);
            head = Some(link);
        }
        for link in links {
            self.link
                .push(bigint(link.position(), "audit chain position")?);
            self.chain.push(link.mac().to_bytes().to_vec());
        }
        Ok(head)
    }
    pub(super) fn new(records: &[AuditRecord]) -> Result<Self, StoreError> {
        let mut c = Self::default();
        for (seq, r) in records.iter().enumerate() {
            c.version.push(bigint(r.version, "audit version")?);
            c.seq
                .push(i32::try_from(seq).map_err(|_| StoreError::new("too many audit records"))?);
            c.at.push(bigint(r.time, "audit time")?);
            c.actor.push(r.principal.actor().to_string());
            c.principal.push(match &r.principal {
                Principal::Customer { channel } => Some(channel.as_str().to_owned()),
                Principal::Operator { id } => Some(id.as_str().to_owned()),
                Principal::System => None,
            });
            c.source
                .push(r.context.source.as_ref().map(|l| l.as_str().to_owned()));
            c.request_id
                .push(r.context.request_id.as_ref().map(|l| l.as_str().to_owned()));
            c.token_id.push(r.token.map(|t| t.to_bytes().to_vec()));
            c.token_serial
                .push(r.serial.as_ref().map(|s| s.as_str().to_owned()));
            c.new_serial
                .push(r.new_serial.as_ref().map(|s| s.as_str().to_owned()));
            c.event.push(r.event.to_string());
            c.from_state.push(r.from.to_string());
            c.to_state.push(r.to.to_string());
            c.outcome.push(r.outcome.to_string());
            c.reason.push(r.reason.to_string());
            c.reason_code.push(r.reason.code().to_owned());
            c.drift_from.push(r.drift.map(|d| d.from));
            c.drift_to.push(r.drift.map(|d| d.to));
            c.notice.push(r.notice.map(|n| n.to_string()));
            c.transaction_digest.push(r.transaction.map(|d| d.to_vec()));
        }
        Ok(c)
    }

    /// Whether these are the columns of one row, bound as plain values
    /// (the commit statements for one row), rather than arrays.
    pub(super) fn is_one_row(&self) -> bool {
        self.version.len() == 1
    }

    /// Binds the columns to `query`, in [`AUDIT_COLUMNS`] order: as plain
    /// values for one row ([`is_one_row`](Self::is_one_row)), as arrays
    /// otherwise.
    pub(super) fn bind<'q>(&'q self, query: PgQuery<'q>) -> PgQuery<'q> {
        match self.one_row() {
            Some(row) => row.bind(query),
            None => self.bind_arrays(query),
        }
    }

    /// The only row, if there is exactly one.
    fn one_row(&self) -> Option<OneRow<'_>> {
        if !self.is_one_row() {
            return None;
        }
        Some(OneRow {
            version: *self.version.first()?,
            seq: *self.seq.first()?,
            at: *self.at.first()?,
            actor: self.actor.first()?,
            principal: self.principal.first()?.as_deref(),
            source: self.source.first()?.as_deref(),
            request_id: self.request_id.first()?.as_deref(),
            token_id: self.token_id.first()?.as_deref(),
            token_serial: self.token_serial.first()?.as_deref(),
            new_serial: self.new_serial.first()?.as_deref(),
            event: self.event.first()?,
            from_state: self.from_state.first()?,
            to_state: self.to_state.first()?,
            outcome: self.outcome.first()?,
            reason: self.reason.first()?,
            reason_code: self.reason_code.first()?,
            drift_from: *self.drift_from.first()?,
            drift_to: *self.drift_to.first()?,
            notice: self.notice.first()?.as_deref(),
            transaction_digest: self.transaction_digest.first()?.as_deref(),
            link: *self.link.first()?,
            chain: self.chain.first()?,
        })
    }

    /// Binds the arrays to `query`, in [`AUDIT_COLUMNS`] order.
    fn bind_arrays<'q>(&'q self, query: PgQuery<'q>) -> PgQuery<'q> {
        query
            .bind(&self.version)
            .bind(&self.seq)
            .bind(&self.at)
            .bind(&self.actor)
            .bind(&self.principal)
            .bind(&self.source)
            .bind(&self.request_id)
            .bind(&self.token_id)
            .bind(&self.token_serial)
            .bind(&self.new_serial)
            .bind(&self.event)
            .bind(&self.from_state)
            .bind(&self.to_state)
            .bind(&self.outcome)
            .bind(&self.reason)
            .bind(&self.reason_code)
            .bind(&self.drift_from)
            .bind(&self.drift_to)
            .bind(&self.notice)
            .bind(&self.transaction_digest)
            .bind(&self.link)
            .bind(&self.chain)
    }
}

/// The columns of one audit row, to bind as plain values.
struct OneRow<'a> {
    version: i64,
    seq: i32,
    at: i64,
    actor: &'a str,
    principal: Option<&'a str>,
    source: Option<&'a str>,
    request_id: Option<&'a str>,
    token_id: Option<&'a [u8]>,
    token_serial: Option<&'a str>,
    new_serial: Option<&'a str>,
    event: &'a str,
    from_state: &'a str,
    to_state: &'a str,
    outcome: &'a str,
    reason: &'a str,
    reason_code: &'a str,
    drift_from: Option<i64>,
    drift_to: Option<i64>,
    notice: Option<&'a str>,
    transaction_digest: Option<&'a [u8]>,
    link: i64,
    chain: &'a [u8],
}

impl<'a> OneRow<'a> {
    /// Binds the values, in [`AUDIT_COLUMNS`] order.
    fn bind(self, query: PgQuery<'a>) -> PgQuery<'a> {
        query
            .bind(self.version)
            .bind(self.seq)
            .bind(self.at)
            .bind(self.actor)
            .bind(self.principal)
            .bind(self.source)
            .bind(self.request_id)
            .bind(self.token_id)
            .bind(self.token_serial)
            .bind(self.new_serial)
            .bind(self.event)
            .bind(self.from_state)
            .bind(self.to_state)
            .bind(self.outcome)
            .bind(self.reason)
            .bind(self.reason_code)
            .bind(self.drift_from)
            .bind(self.drift_to)
            .bind(self.notice)
            .bind(self.transaction_digest)
            .bind(self.link)
            .bind(self.chain)
    }
}

/// A drift estimate as its six bigints: when and within which offsets, for
/// the anchor, then for the last code.
fn estimate_columns(estimate: DriftEstimate) -> Result<Vec<i64>, StoreError> {
    let mut values = Vec::with_capacity(6);
    for seen in [estimate.anchor(), estimate.last()] {
        values.push(bigint(seen.at(), "drift estimate time")?);
        values.push(seen.low());
        values.push(seen.high());
    }
    Ok(values)
}

/// A drift estimate from its six bigints.
fn estimate_of(values: &[i64]) -> Result<DriftEstimate, String> {
    let bad = || "drift estimate is not two times with their offsets".to_owned();
    let [anchor_at, anchor_low, anchor_high, last_at, last_low, last_high] = values else {
        return Err(bad());
    };
    let seen = |at: i64, low: i64, high: i64| OffsetSeen::new(u64::try_from(at).ok()?, low, high);
    let anchor = seen(*anchor_at, *anchor_low, *anchor_high).ok_or_else(bad)?;
    let last = seen(*last_at, *last_low, *last_high).ok_or_else(bad)?;
    DriftEstimate::new(anchor, last).ok_or_else(bad)
}

/// A chain link from its two columns: both or neither.
pub(super) fn read_link(row: &PgRow, link: &str, chain: &str) -> Result<Option<ChainLink>, String> {
    let position: Option<i64> = column(row, link)?;
    let mac: Option<Vec<u8>> = column(row, chain)?;
    match (position, mac) {
        (None, None) => Ok(None),
        (Some(position), Some(mac)) => {
            let position = u64::try_from(position)
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| format!("{link}: position {position} below 1"))?;
            let mac = KeyedMac::from_bytes(&mac).map_err(|_| format!("{chain}: not a MAC"))?;
            Ok(Some(ChainLink::from_parts(position, mac)))
        }
        _ => Err(format!("{link} and {chain}: one without the other")),
    }
}

/// An audit row read back (`SELECT a.*` with the reader's `writer` and
/// `recorded` columns) as an [`AuditEntry`]: a lifecycle event's record, the
/// store's own (`Load`, `Reseal`, `Carry`), or, for a row that decodes as neither,
/// [`AuditContent::Unreadable`]. Only a row without its place (its cursor)
/// is an error: a reader could not move past it.
pub(super) fn read_audit_entry(row: &PgRow) -> Result<AuditEntry, String> {
    let writer: String = column(row, "writer")?;
    let writer = writer
        .parse::<u64>()
        .map_err(|_| format!("column written_by: {writer:?} is not a transaction id"))?;
    let id = unsigned(column(row, "id")?, "id")?;
    let recorded: i64 = column(row, "recorded")?;
    let position: Option<i64> = column(row, "link")?;
    let content = match read_content(row) {
        Ok(content) => content,
        Err(why) => AuditContent::Unreadable {
            customer: column(row, "customer_id")?,
            why,
        },
    };
    Ok(AuditEntry {
        cursor: AuditCursor::new(writer, id),
        recorded_at: u64::try_from(recorded).ok(),
        position: position.and_then(|p| u64::try_from(p).ok()),
        content,
    })
}

/// What an audit row says.
fn read_content(row: &PgRow) -> Result<AuditContent, String> {
    fn parse<T: core::str::FromStr>(row: &PgRow, name: &str) -> Result<T, String>
    where
        T::Err: core::fmt::Display,
    {
        let text: String = column(row, name)?;
        text.parse().map_err(|e| format!("column {name}: {e}"))
    }
    fn label(text: Option<String>, name: &str) -> Result<Option<Label>, String> {
        text.map(|t| Label::new(&t).map_err(|e| format!("column {name}: {e}")))
            .transpose()
    }
    fn serial(text: Option<String>, name: &str) -> Result<Option<TokenSerial>, String> {
        text.map(|t| TokenSerial::new(&t).map_err(|e| format!("column {name}: {e}")))
            .transpose()
    }
    let actor: Actor = parse(row, "actor")?;
    let event: String = column(row, "event")?;
    let reason: String = column(row, "reason")?;
    // Rows written before schema 10 have no code.
    let code: Option<String> = column(row, "reason_code")?;
    let reason = AuditReason::Recorded {
        code: code.map_or(Cow::Borrowed("unrecorded"), Cow::Owned),
        message: Cow::Owned(reason),
    };
    let customer: String = column(row, "customer_id")?;
    if actor == Actor::System && matches!(event.as_str(), "Load" | "Reseal" | "Carry") {
        return Ok(AuditContent::Store(StoreAudit {
            time: unsigned(column(row, "at")?, "at")?,
            customer,
            event,
            outcome: parse(row, "outcome")?,
            state: column(row, "to_state")?,
            reason,
            version: unsigned(column(row, "version")?, "version")?,
        }));
    }
    let named = label(column(row, "principal")?, "principal")?;
    let principal = match (actor, named) {
        (Actor::Customer, Some(channel)) => Principal::customer(channel),
        (Actor::Operator, Some(id)) => Principal::operator(id),
        (Actor::System, None) => Principal::System,
        (actor, _) => return Err(format!("column principal does not fit actor {actor}")),
    };
    let token: Option<Vec<u8>> = column(row, "token_id")?;
    let token = token
        .map(|t| {
            <[u8; 16]>::try_from(t.as_slice())
                .map(TokenId::from_bytes)
                .map_err(|_| "column token_id is not 16 bytes".to_owned())
        })
        .transpose()?;
    let drift_from: Option<i64> = column(row, "drift_from")?;
    let drift_to: Option<i64> = column(row, "drift_to")?;
    let drift = match (drift_from, drift_to) {
        (Some(from), Some(to)) => Some(DriftChange { from, to }),
        (None, None) => None,
        _ => return Err("columns drift_from and drift_to: one without the other".to_owned()),
    };
    let notice: Option<String> = column(row, "notice")?;
    let notice = notice
        .map(|n| {
            Notice::ALL
                .into_iter()
                .find(|known| known.to_string() == n)
                .ok_or_else(|| format!("column notice: unknown notice {n:?}"))
        })
        .transpose()?;
    let digest: Option<Vec<u8>> = column(row, "transaction_digest")?;
    let transaction = digest
        .map(|d| {
            <[u8; 32]>::try_from(d.as_slice())
                .map_err(|_| "column transaction_digest is not 32 bytes".to_owned())
        })
        .transpose()?;
    Ok(AuditContent::Event(AuditRecord {
        time: unsigned(column(row, "at")?, "at")?,
        customer: CustomerId::new(&customer).map_err(|e| format!("column customer_id: {e}"))?,
        principal,
        context: RequestContext {
            source: label(column(row, "source")?, "source")?,
            request_id: label(column(row, "request_id")?, "request_id")?,
        },
        token,
        serial: serial(column(row, "token_serial")?, "token_serial")?,
        new_serial: serial(column(row, "new_serial")?, "new_serial")?,
        event: event
            .parse::<EventKind>()
            .map_err(|e| format!("column event: {e}"))?,
        from: parse::<State>(row, "from_state")?,
        to: parse::<State>(row, "to_state")?,
        outcome: parse::<Outcome>(row, "outcome")?,
        reason,
        version: unsigned(column(row, "version")?, "version")?,
        drift,
        transaction,
        notice,
    }))
}
