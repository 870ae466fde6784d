//! The token store on PostgreSQL (feature `postgres`): records as rows
//! whose secrets are sealed, audit records in an append-only table, every
//! commit one SQL statement.
//!
//! # Setting up
//!
//! ```no_run
//! use otpguard::lifecycle::postgres::PostgresStore;
//! use otpguard::lifecycle::{Lifecycle, LifecycleConfig};
//! use otpguard::seal::{KeyId, Keyring};
//! use otpguard::SystemClock;
//!
//! # async fn run(key_from_kms: [u8; 32]) -> Result<(), Box<dyn std::error::Error>> {
//! // A request waits at most 2 s for a connection during an outage (sqlx's
//! // default is 30 s): it is refused with a store error, and can be retried.
//! // No ping at each checkout: see "Connections" below.
//! let pool = sqlx::postgres::PgPoolOptions::new()
//!     .acquire_timeout(std::time::Duration::from_secs(2))
//!     .test_before_acquire(false)
//!     .connect("postgres://otp@db.internal/bank")
//!     .await?;
//! let store = PostgresStore::new(pool, Keyring::new(KeyId(1), &key_from_kms)?);
//! store.migrate().await?; // creates or upgrades the schema; safe to run at every start
//! let lifecycle = Lifecycle::new(LifecycleConfig::default(), store, SystemClock);
//! # let _ = lifecycle;
//! # Ok(())
//! # }
//! ```
//!
//! # Connections
//!
//! A request takes one connection from the pool: its load (with the rare
//! reads behind it) and its commit run on it. sqlx costs a round trip to
//! the server each time a connection goes back to the pool (it pings it),
//! and by default another at each checkout (`test_before_acquire`).
//! Turning the checkout's ping off saves that round trip on every request.
//! What it would cost is a request answered with an error after a restart
//! or a failover, when the pool hands out the connections it held, all
//! broken; the store spares the request's path that: its load is read
//! again on the next connection (at most once more than the pool has
//! connections, so the last try is on a new one), and so is the start of a
//! booking's transaction when the server ended the session. A read, or a
//! transaction not yet used, changes nothing. A commit is never tried
//! again: its outcome on a connection lost under it is unknown, and
//! answered as an error. Still answered with an error, once per broken
//! connection: the audit of a row refused as corrupt (written through the
//! pool, after the load's connection went back), and the store's other
//! calls (maintenance, audit reads).
//!
//! A booking's transaction, left open for the bank's statements, takes a
//! connection of its own, once the load's has gone back (so a pool of one
//! connection serves every path). A store that commits what another store
//! loaded (one that moves customers between clusters) takes a connection
//! from its own pool.
//!
//! # The schema
//!
//! Versioned migrations ship in `migrations/postgres/` and are applied by
//! [`PostgresStore::migrate`], which keeps its own ledger
//! (`otpguard_schema_migrations`) and refuses a database whose schema is
//! newer than the library or whose applied migration differs from the
//! shipped one.
//!
//! - `otpguard_token_records`: one row per customer. `version` is the
//!   compare-and-swap column. Secrets appear only as sealed blobs
//!   ([`SealedSecret`](crate::seal::SealedSecret) bytes), bound to their
//!   customer, token and slot; `sealed_with` names the key. A serial is
//!   its customer's own: two customers' rows may hold the same one.
//! - `otpguard_audit`: one row per audit record. A customer's rows in
//!   commit order: `ORDER BY link` (`link` is the row's position in the
//!   customer's keyed chain, `chain` its MAC over the previous row's link
//!   and its own content; rows written before schema 10 have neither and
//!   come first). A trigger refuses `UPDATE`, `DELETE` and `TRUNCATE`, and
//!   the chain shows what its owner did anyway: see
//!   [`PostgresStore::verify_audit`]. `reason_code` is the reason's stable
//!   code ([`AuditReason::code`](crate::lifecycle::audit::AuditReason::code)),
//!   for counting refusals without parsing `reason`; `written_by` is the
//!   writing transaction's id, which orders a stream of every customer's
//!   rows. Read rows back typed with
//!   [`AuditReader::read_audit`](crate::lifecycle::audit::AuditReader::read_audit)
//!   rather than SQL.
//!
//! # The bank's statements in the transaction of the code
//!
//! [`Lifecycle::verify_transaction_with`](crate::lifecycle::Lifecycle::verify_transaction_with)
//! and `sign_transaction_with` run the bank's own statements (booking the
//! payment) on the transaction that accepts the code, so the payment and
//! the spent code commit together or not at all; a booking that fails
//! spends no code and is audited as `booking_failed`. Commit with
//! `synchronous_commit` on (PostgreSQL's default): with it off, an
//! acknowledged commit can be lost in a crash, and with it the code's
//! acceptance (the code could be used again).
//!
//! # How a commit is made
//!
//! Each [`Commit`] is **one statement**: a data-modifying `WITH` that
//! writes the record on the condition of its version and inserts the audit
//! rows only if the record was written. One statement is one transaction,
//! so the record and its audit rows commit together or not at all; it
//! costs one round trip. A refusal that changed nothing inserts its audit
//! rows on the condition that the record still holds the version it was
//! decided on (read `FOR SHARE`, so it cannot change before the insert
//! commits). A first record is inserted with `ON CONFLICT DO NOTHING`,
//! never upserted.
//!
//! Conflicts, serialization failures and deadlocks answer
//! [`CommitOutcome::Conflict`] (nothing was written; the lifecycle decides
//! again). Any other failure, among them a lost connection, answers a
//! [`StoreError`] and the lifecycle refuses the event.
//!
//! A serial names a token within its customer's record only, as in every
//! store: two customers' records may hold the same serial (migration 6
//! dropped the index that kept them apart, which let anyone who knew a
//! serial block another customer's registration).
//!
//! # Corrupt rows
//!
//! A row that does not decode, or whose sealed secret does not open for
//! the customer, token and slot it sits in (a secret copied from another
//! row), is refused with [`StoreError::corrupt`] and the refusal is written
//! to `otpguard_audit` (event `Load`, actor `System`) on its own, since no
//! event can commit on a record that cannot be read.
//!
//! # Roles: who may change the audit table
//!
//! The trigger on `otpguard_audit` stops the application's role, not the
//! table's owner: an owner (or a superuser) can disable or drop a trigger.
//! So run the migrations as a separate owner role (not a superuser: the
//! stamping trigger runs with the rights of the role that created it, to
//! move the chain heads the application's role can only read), and give
//! the application's role only what it uses:
//!
//! ```sql
//! -- as the owner, after PostgresStore::migrate (or the SQL files) ran:
//! GRANT SELECT, INSERT, UPDATE ON otpguard_token_records TO bank_app;
//! GRANT SELECT, INSERT ON otpguard_audit TO bank_app;
//! GRANT USAGE ON SEQUENCE otpguard_audit_id TO bank_app;
//! GRANT SELECT ON otpguard_audit_floors, otpguard_audit_heads TO bank_app;
//! -- (only SELECT on otpguard_audit_heads: the stamping trigger moves
//! -- them, with the owner's rights)
//! GRANT SELECT ON otpguard_schema_migrations TO bank_app;
//! ```
//!
//! The application may still call [`PostgresStore::migrate`] at every
//! start: on a current schema it only reads the ledger. The database
//! numbers and dates audit rows itself, so a row inserted with a chosen id
//! or date cannot sort before older ones.
//!
//! # The audit chain, and what survives the database's owner
//!
//! Each audit row is linked to the one before it under a key of the
//! sealer (see [`audit::ChainLink`](crate::lifecycle::audit::ChainLink)):
//! someone who can write the table but has no key (its owner, a DBA, a
//! restored backup) cannot delete, edit, move or insert a row without
//! [`PostgresStore::verify_audit`] (one customer) or
//! [`PostgresStore::verify_audits`] (all) reporting the first broken link.
//! Cutting rows off the end of a trail, or restoring the whole database to
//! an earlier state, leaves a shorter chain that is still whole; to detect
//! it, export [`PostgresStore::checkpoints`] regularly to storage the
//! database's owner cannot rewrite, and verify through them:
//!
//! ```no_run
//! # async fn run(store: otpguard::lifecycle::postgres::PostgresStore) -> Result<(), Box<dyn std::error::Error>> {
//! // Nightly: every customer's head, MACed, to write-once storage.
//! let mut after = None;
//! loop {
//!     let batch = store.checkpoints(after.as_ref(), 1_000).await?;
//!     let Some(last) = batch.last() else { break };
//!     after = Some(last.customer().clone());
//!     for checkpoint in &batch {
//!         let _kept: Vec<u8> = checkpoint.to_bytes()?; // ship it
//!     }
//! }
//! // An audit: the trail must still pass through what was kept.
//! # let kept = otpguard::lifecycle::audit::Checkpoint::from_bytes(&[])?;
//! store.verify_audit(kept.customer(), Some(&kept)).await?;
//! # Ok(()) }
//! ```
//! The tables are unqualified: keep the application's `search_path` on the
//! schema that holds them.
//!
//! # Key rotation
//!
//! 1. Add the new key to every process's [`Keyring`] (`with_key`), so that
//!    all of them can open what it seals.
//! 2. Make it the primary everywhere (`rotate_to`): every commit now seals
//!    under it.
//! 3. Run [`PostgresStore::reseal`] naming the old key, until it reports no
//!    row re-sealed. Each row's tag is made again with its secrets, and
//!    the pass is audited (event `Reseal`, by the System), linked in the
//!    chain under the new key.
//! 4. Keep the old key in the keyring as long as the audit trail holds
//!    rows linked under it: the chain's older links are checked with it
//!    ([`PostgresStore::verify_audit`]), and so is the head of a customer
//!    with no record (only refusals) on load. It no longer seals anything.
//!
//! # Years of audit: monthly partitions (schema 12)
//!
//! The audit table is partitioned by month of `at`. Keep months ahead:
//! the migration creates three, and [`PostgresStore::prepare_audit_partitions`]
//! (scheduled monthly, as the schema's owner) creates more; a row dated
//! where no partition is cannot be written, so every commit would fail.
//! History leaves the database only through
//! [`PostgresStore::detach_oldest_audit_partition`], which verifies every
//! trail in the month first, carries the trails it would end past it, and
//! keeps each customer's last link as the floor its trail is then
//! verified from (see the [`partitions`] module and `docs/scaling.md`).
//!
//! ```no_run
//! # async fn run(store: otpguard::lifecycle::postgres::PostgresStore) -> Result<(), Box<dyn std::error::Error>> {
//! use otpguard::{Clock, SystemClock};
//! const DAY: u64 = 86_400;
//! // Monthly, as the schema's owner: three months ahead...
//! store.prepare_audit_partitions(SystemClock.now() + 92 * DAY).await?;
//! // ...and the months past the retention period out, to the archive.
//! let retained = SystemClock.now() - 400 * DAY;
//! while store.audit_partitions().await?.first().is_some_and(|p| p.until < retained) {
//!     let detached = store.detach_oldest_audit_partition(&SystemClock).await?;
//!     // pg_dump -t <detached.partition.name>, then DROP TABLE it.
//!     println!("{} rows of {} archived", detached.rows, detached.partition.name);
//! }
//! # Ok(()) }
//! ```
//!
//! Upgrading to schema 12 scans the audit table once, to attach it as the
//! first partition. Roles granted on the audit table keep their rights on
//! the new one, with those writing now needs (listed above).
//!
//! Schema 13 keeps, in each customer's head row, a copy of its trail's
//! last row: the load reads the record and that copy by primary key,
//! whatever the number of partitions. Upgrading to it fills each head
//! from the trail, holding writers back meanwhile; a trail with two rows
//! at its head's position (a forked chain) stops the upgrade: run
//! [`PostgresStore::verify_audits`] with the version in place before
//! upgrading. Schema 14 checks the row
//! rules in triggers rather than CHECK constraints, which PostgreSQL
//! prepares again at every statement; they raise the same errors.
//!
//! # Upgrading to schema 9 (record tags)
//!
//! Schema 9 gives every row a tag that authenticates the whole record
//! (see [`SealedRecord::tag`](crate::lifecycle::store::SealedRecord::tag)).
//! Rows written before it have none and are refused as corrupt until
//! [`PostgresStore::tag_untagged`] has tagged them: run it once, right
//! after [`PostgresStore::migrate`], before serving requests.
//!
//! # TLS
//!
//! The store takes any [`PgPool`]. To reach the database over TLS, enable
//! one of sqlx's TLS features (`tls-rustls-ring-webpki`, say) in your own
//! `Cargo.toml` and put `sslmode=verify-full` in the URL.

mod booking;
mod columns;
mod durability;
mod held;
mod migrate;
pub mod partitions;
mod reader;
mod trail;

use std::sync::LazyLock;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::chain::{ChainHead, ChainLink};
use super::sealed::SealedRecord;
use super::store::{Commit, CommitOutcome, Held, Loaded, TokenStore};
use super::{CustomerId, TokenRecord};
use crate::seal::{KeyId, Keyring, Sealer};
use crate::{Clock, StoreError, SystemClock};
pub use booking::{BookingError, BookingFuture};
use columns::{
    AuditColumns, RecordColumns, RowHeader, AUDIT_COLUMNS, CONTENT_COLUMNS, HEAD_COLUMNS,
    RECORD_COLUMNS,
};
pub use durability::{Durability, DurabilityPolicy};
pub(crate) use held::HeldConnection;
pub use migrate::SCHEMA_VERSION;
pub use partitions::{AuditPartition, DetachError, Detached, DETACH_GRACE, PREPARE_HORIZON};
/// The sqlx this store is built on, to build its [`PgPool`] with.
pub use sqlx;
pub use trail::{TrailError, TrailsReport};

/// The exact SQL the store runs, for review (and for measuring the store
/// against the same statements issued directly). Parameters: `$1` is the
/// customer id; in the commit statements `$2`–`$23` are the audit columns
/// (in `version, seq, at, actor, principal, source, request_id, token_id,
/// token_serial, new_serial, event, from_state, to_state, outcome, reason,
/// reason_code, drift_from, drift_to, notice, transaction_digest, link,
/// chain` order), `$24`–`$55` the record's columns in [`Sql::load`]'s
/// order, and the last one the expected version. Each commit statement
/// comes in two forms: for a commit with one audit record (nearly every
/// one), the audit columns are plain values ([`Sql::one_row`]); for more,
/// arrays with one element per record ([`Sql::rows`]).
///
/// ```
/// use otpguard::lifecycle::postgres::PostgresStore;
/// let sql = PostgresStore::<otpguard::seal::Keyring>::sql();
/// assert!(sql.one_row().update().contains("WHERE customer_id = $1 AND version = $56"));
/// assert!(sql.rows().update().contains("UNNEST"));
/// ```
#[derive(Debug)]
pub struct Sql {
    select: String,
    unlinked_version: &'static str,
    /// The commit statements with the audit rows as arrays (`UNNEST`).
    rows: Commits,
    /// The same with one audit row, as plain values: most commits write
    /// one, and the server unpacks no array for it.
    one_row: Commits,
    audit_corrupt: String,
    corrupt_head: &'static str,
    chain_back: &'static str,
    due_for_reseal: &'static str,
    untagged: &'static str,
    floor: &'static str,
    trail_unlinked: &'static str,
    head_row: &'static str,
    trail_page: &'static str,
    record_version: &'static str,
    trail_customers: &'static str,
    heads: &'static str,
}

impl Sql {
    /// Loads a customer's row: its columns, in the order the commit
    /// statements bind them, and the head of its audit chain (the copy of
    /// its last row, `head_version` to `head_chain`, and the link before
    /// it, `prev_link` and `prev_chain`).
    #[must_use]
    pub fn load(&self) -> &str {
        &self.select
    }

    /// The commit statements for a commit with one audit record, its
    /// columns as plain values: what nearly every commit runs.
    #[must_use]
    pub const fn one_row(&self) -> &Commits {
        &self.one_row
    }

    /// The commit statements for a commit with several audit records (a
    /// swap time-out or a lock-out with the event), their columns as
    /// arrays.
    #[must_use]
    pub const fn rows(&self) -> &Commits {
        &self.rows
    }

    /// The commit statements for `audit`, as it binds its rows.
    fn commits(&self, audit: &AuditColumns) -> &Commits {
        if audit.is_one_row() {
            &self.one_row
        } else {
            &self.rows
        }
    }
}

/// The four commit statements, for one way of passing the audit columns
/// ([`Sql::one_row`], [`Sql::rows`]).
#[derive(Debug)]
pub struct Commits {
    insert_first: String,
    update: String,
    refuse_new: String,
    refuse: String,
}

impl Commits {
    /// A customer's first record and its audit rows (`ON CONFLICT DO
    /// NOTHING`: zero rows written means another request got there first).
    #[must_use]
    pub fn insert_first(&self) -> &str {
        &self.insert_first
    }

    /// A new version of the record and its audit rows, on the condition of
    /// the expected version (`$56`).
    #[must_use]
    pub fn update(&self) -> &str {
        &self.update
    }

    /// The audit rows of a refusal decided on "no record yet".
    #[must_use]
    pub fn refuse_new(&self) -> &str {
        &self.refuse_new
    }

    /// The audit rows of a refusal, on the condition that the record still
    /// has the version it was decided on (`$24`, read `FOR SHARE`).
    #[must_use]
    pub fn refuse(&self) -> &str {
        &self.refuse
    }

    /// The statements around `audit`, the insert of the audit rows.
    fn around(audit: &str, values: &str, expected: usize, first_record: usize) -> Self {
        let columns = RECORD_COLUMNS.join(", ");
        Self {
            insert_first: format!(
                "WITH written AS (INSERT INTO otpguard_token_records (customer_id, {columns}) \
                 VALUES ($1, {values}) ON CONFLICT (customer_id) DO NOTHING RETURNING 1) \
                 {audit} WHERE EXISTS (SELECT 1 FROM written)"
            ),
            update: format!(
                "WITH written AS (UPDATE otpguard_token_records SET ({columns}) = ({values}) \
                 WHERE customer_id = $1 AND version = ${expected} RETURNING 1) \
                 {audit} WHERE EXISTS (SELECT 1 FROM written)"
            ),
            refuse_new: format!(
                "{audit} WHERE NOT EXISTS \
                 (SELECT 1 FROM otpguard_token_records WHERE customer_id = $1)"
            ),
            refuse: format!(
                "WITH decided_on AS (SELECT 1 FROM otpguard_token_records \
                 WHERE customer_id = $1 AND version = ${first_record} FOR SHARE) \
                 {audit} WHERE EXISTS (SELECT 1 FROM decided_on)"
            ),
        }
    }
}

/// `$from, $from+1, …` for `count` parameters.
fn placeholders(from: usize, count: usize) -> String {
    (from..from.saturating_add(count))
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

static SQL: LazyLock<Sql> = LazyLock::new(|| {
    let qualified = RECORD_COLUMNS
        .iter()
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The customer's last audit row, every column renamed.
    let head = CONTENT_COLUMNS
        .iter()
        .zip(HEAD_COLUMNS)
        .map(|(column, name)| format!("h.{column} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let audit_names = AUDIT_COLUMNS.map(|(name, _)| name).join(", ");
    // $1 is the customer id, $2..=$23 the audit arrays.
    let arrays = AUDIT_COLUMNS
        .iter()
        .zip(2..)
        .map(|((_, ty), n)| format!("${n}::{ty}[]"))
        .collect::<Vec<_>>()
        .join(", ");
    let audit = format!(
        "INSERT INTO otpguard_audit (customer_id, {audit_names}) \
         SELECT $1, a.* FROM UNNEST({arrays}) AS a"
    );
    let scalars = AUDIT_COLUMNS
        .iter()
        .zip(2..)
        .map(|((_, ty), n)| format!("${n}::{ty}"))
        .collect::<Vec<_>>()
        .join(", ");
    let audit_one =
        format!("INSERT INTO otpguard_audit (customer_id, {audit_names}) SELECT $1, {scalars}");
    let first_record = AUDIT_COLUMNS.len().saturating_add(2);
    let values = placeholders(first_record, RECORD_COLUMNS.len());
    let expected = first_record.saturating_add(RECORD_COLUMNS.len());
    Sql {
        // With the row (if any), in the same round trip, the head of the
        // customer's audit chain and the link before it (to check the
        // head's MAC): the copy the stamping trigger keeps of the trail's
        // last row (`otpguard_audit_heads`, by its primary key), two index
        // probes whatever the length of the trail and the number of
        // partitions. A row older than the version the head committed was
        // restored from an older copy; a missing row behind a trail that
        // committed one was deleted.
        select: format!(
            "SELECT {qualified}, r.customer_id AS present, {head}, h.prev_link, h.prev_chain \
             FROM (SELECT $1::text AS wanted) k \
             LEFT JOIN otpguard_token_records r ON r.customer_id = k.wanted \
             LEFT JOIN otpguard_audit_heads h ON h.customer_id = k.wanted"
        ),
        // The latest version committed by rows from before the chain
        // (schema 10), for a trail with no linked row that committed one.
        unlinked_version: "SELECT max(version) FROM otpguard_audit \
             WHERE customer_id = $1 AND link IS NULL AND event <> 'Load'",
        rows: Commits::around(&audit, &values, expected, first_record),
        one_row: Commits::around(&audit_one, &values, expected, first_record),
        // Once per corrupt version in a row (`corrupt_head` says whether
        // the head is its refusal already): a row read again and again
        // while it is corrupt does not grow the audit table. A row that lost the chain's next
        // position to another writer is left out; the next load audits it.
        // (One row, the System's: its columns bind as plain values.)
        audit_corrupt: audit_one.clone(),
        // (Audited already if the head of the chain is the System's refusal
        // of this same version: one index entry, whatever the trail.)
        corrupt_head: "SELECT coalesce(h.event = 'Load' AND h.version = $2, false) AS audited, \
             h.link AS head_link, h.chain AS head_chain \
             FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT link, chain, event, version \
             FROM otpguard_audit WHERE customer_id = $1 AND link IS NOT NULL \
             ORDER BY link DESC LIMIT 1) h ON true",
        // A customer's linked rows at or below a position, newest first.
        chain_back: "SELECT * FROM otpguard_audit \
             WHERE customer_id = $1 AND link IS NOT NULL AND link <= $2 \
             ORDER BY link DESC LIMIT $3",
        due_for_reseal: "SELECT customer_id FROM otpguard_token_records \
             WHERE sealed_with @> ARRAY[$1]::bigint[] AND customer_id > $2 \
             ORDER BY customer_id LIMIT $3",
        untagged: "SELECT customer_id FROM otpguard_token_records \
             WHERE record_tag IS NULL AND customer_id > $1 \
             ORDER BY customer_id LIMIT $2",
        floor: "SELECT link, chain, boundary, mac FROM otpguard_audit_floors WHERE customer_id = $1",
        head_row: "SELECT link, chain FROM otpguard_audit_heads WHERE customer_id = $1",
        trail_unlinked: "SELECT id FROM otpguard_audit \
             WHERE customer_id = $1 AND (link IS NULL OR chain IS NULL) ORDER BY id LIMIT 1",
        trail_page: "SELECT * FROM otpguard_audit \
             WHERE customer_id = $1 AND link IS NOT NULL AND (link, id) > ($2, $3) \
             ORDER BY link, id LIMIT $4",
        record_version: "SELECT version FROM otpguard_token_records WHERE customer_id = $1",
        trail_customers: "SELECT customer_id FROM otpguard_audit WHERE customer_id > $1 \
             UNION SELECT customer_id FROM otpguard_token_records WHERE customer_id > $1 \
             UNION SELECT customer_id FROM otpguard_audit_heads WHERE customer_id > $1 \
             ORDER BY customer_id LIMIT $2",
        heads: "SELECT DISTINCT ON (customer_id) customer_id, link, chain FROM otpguard_audit \
             WHERE link IS NOT NULL AND customer_id > $1 AND ($2::text IS NULL OR customer_id = $2) \
             ORDER BY customer_id, link DESC LIMIT $3",
    }
});

/// Token records in PostgreSQL, sealed by `S` (a [`Keyring`] by default, or
/// a [`Sealer`] in front of an HSM or KMS).
///
/// Cloning the pool is cheap; build one store per process and share it (an
/// `Arc`, or the lifecycle that owns it). Several processes, each with its
/// own pool, may work on the same customers: every commit is conditioned
/// on the version it was decided on.
pub struct PostgresStore<S = Keyring> {
    pool: PgPool,
    sealer: S,
}

impl<S> core::fmt::Debug for PostgresStore<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// What a re-seal trusts a row by.
#[derive(Clone, Copy)]
enum Trust {
    /// Its tag: a row without one, or changed, is corrupt.
    Tag,
    /// Nothing but its own consistency: a row from before tags.
    Untagged,
}

/// What became of one row in a re-seal pass.
enum ResealOutcome {
    Resealed,
    ChangedMeanwhile,
    Corrupt,
}

/// What a [`PostgresStore::reseal`] pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resealed {
    /// Rows sealed again under the primary key.
    pub resealed: u64,
    /// Rows an event changed while the pass ran (that commit sealed them
    /// under the primary).
    pub changed_meanwhile: u64,
    /// Rows refused as corrupt (each audited once per version); they still
    /// need attention, and keep the old key in use.
    pub corrupt: u64,
}

impl<S> PostgresStore<S> {
    /// A store on `pool`, sealing with `sealer`. Run [`migrate`](Self::migrate)
    /// once before the first event.
    pub const fn new(pool: PgPool, sealer: S) -> Self {
        Self { pool, sealer }
    }

    /// The SQL this store runs.
    #[must_use]
    pub fn sql() -> &'static Sql {
        &SQL
    }

    /// The pool (for the backend's own queries, such as reading the audit
    /// table).
    pub const fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema or brings it up to [`SCHEMA_VERSION`], in one
    /// transaction; does nothing if it is current. Safe to call from
    /// several processes at once.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be reached, if its schema is
    /// newer than this library's, or if an applied migration differs from
    /// the one this library ships.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate::apply(&self.pool).await
    }
}

impl<S: Sealer + Sync> PostgresStore<S> {
    /// The customer's row as stored, sealed.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read; a corrupt one
    /// (audited) if the row does not decode.
    pub async fn load_sealed(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<SealedRecord>, StoreError> {
        self.load_row(customer, Trust::Tag)
            .await
            .map(|(record, _, _)| record)
    }

    /// The customer's row, sealed, and the head of its audit chain, in one
    /// round trip. The head's link is checked (against the row before it,
    /// read in the same statement), so the version it committed is one the
    /// library wrote: a row behind it, or behind any version the trail
    /// committed, was restored from an older copy; a row with a version
    /// and no trail at all lost its trail.
    async fn load_row(
        &self,
        customer: &CustomerId,
        trust: Trust,
    ) -> Result<(Option<SealedRecord>, ChainHead, Held), StoreError> {
        // The connection read on is kept for the request's commit, and the
        // rare reads below run on it too. Before a refusal is audited
        // (written through the pool) it goes back: a pool of one would
        // otherwise wait for itself.
        let (row, mut connection) = self.read_row(customer).await?;
        let (head, head_version) = match self.checked_head(&row, customer) {
            Ok(head) => head,
            Err(why) => {
                drop(connection);
                return Err(self.refuse_corrupt(customer, None, why).await);
            }
        };
        // The latest version the trail committed. A head that is the
        // System's refusal of a corrupt row keeps the version it refused,
        // not one committed: the version committed is the last other
        // row's, read and checked link by link back to it (the rows' own
        // columns are not to be trusted without their MAC). A trail with
        // no such row may hold rows from before the chain (schema 10),
        // unlinked: the latest version they committed.
        let committed = match (head, head_version) {
            (ChainHead::At(link), None) => {
                match self
                    .committed_behind_loads(&mut connection, customer, link)
                    .await
                {
                    Ok(version) => version,
                    Err(Behind::Failed(e)) => return Err(e),
                    Err(Behind::Corrupt(why)) => {
                        drop(connection);
                        return Err(self.refuse_corrupt(customer, None, why).await);
                    }
                }
            }
            (_, version) => version,
        };
        let committed = match committed {
            Some(version) => Some(version),
            // (A new customer's first request comes this way.)
            None => sqlx::query_scalar(SQL.unlinked_version)
                .bind(customer.as_str())
                .fetch_one(&mut *connection)
                .await
                .map_err(|e| {
                    StoreError::with_source("PostgreSQL: loading the record's trail failed", e)
                })?,
        };
        let held = |connection| -> Result<Held, StoreError> {
            Ok(Held {
                postgres: Some(HeldConnection::new(connection, &self.pool)?),
            })
        };
        match deleted(&row, committed) {
            Ok(false) => {}
            Ok(true) => return Ok((None, head, held(connection)?)),
            Err(why) => {
                drop(connection);
                return Err(self.refuse_corrupt(customer, None, why).await);
            }
        }
        let checked = columns::read_record(&row)
            .and_then(|record| not_rolled_back(record, committed))
            .and_then(|record| match head {
                // Every commit writes its audit rows with the record (a
                // schema 8 row being tagged had none linked yet).
                ChainHead::Empty if record.version > 0 && matches!(trust, Trust::Tag) => {
                    Err(format!(
                        "the record is at version {} but its audit trail has no row: \
                         the trail was deleted",
                        record.version
                    ))
                }
                _ => Ok(record),
            });
        match checked {
            Ok(record) => Ok((Some(record), head, held(connection)?)),
            Err(why) => {
                drop(connection);
                Err(self
                    .refuse_corrupt(customer, RowHeader::read(&row).ok(), why)
                    .await)
            }
        }
    }

    /// The customer's row (the load statement), read on a connection from
    /// the pool that is kept for the commit.
    ///
    /// A connection found broken is closed and the read tried again on the
    /// next one: a pool that does not ping a connection at each checkout
    /// (`test_before_acquire(false)`, which saves a round trip per request)
    /// hands out, after a server restart or a failover, every idle
    /// connection it held before. A read changes nothing, so it is safe to
    /// repeat; it is tried [`tries`](Self::tries) times at most. The commit is never repeated: its
    /// outcome on a broken connection is unknown, and answered as an error.
    async fn read_row(
        &self,
        customer: &CustomerId,
    ) -> Result<(sqlx::postgres::PgRow, PoolConnection<Postgres>), StoreError> {
        let tries = self.tries();
        let mut tried = 0_u32;
        loop {
            let mut connection = self.pool.acquire().await.map_err(|e| {
                StoreError::with_source("PostgreSQL: no connection for the load", e)
            })?;
            tried = tried.saturating_add(1);
            match sqlx::query(&SQL.select)
                .bind(customer.as_str())
                .fetch_one(&mut *connection)
                .await
            {
                Ok(row) => return Ok((row, connection)),
                Err(e) if connection_lost(&e) && tried < tries => connection.close_on_drop(),
                Err(e) => {
                    return Err(StoreError::with_source(
                        "PostgreSQL: loading the record failed",
                        e,
                    ))
                }
            }
        }
    }

    /// How many times a step that changes nothing is tried on the pool's
    /// connections when they are found broken: once more than the pool has
    /// connections, so that the last try is on a new one.
    fn tries(&self) -> u32 {
        self.pool.options().get_max_connections().saturating_add(1)
    }

    /// Commits `commit` on the connection its load kept (if that came from
    /// this store's pool), or else on one from the pool.
    async fn commit_kept(&self, commit: &mut Commit<'_>) -> Result<CommitOutcome, StoreError> {
        match commit
            .held
            .postgres
            .take()
            .and_then(|held| held.take_for(&self.pool))
        {
            Some(mut connection) => self.commit_on(commit, &mut *connection).await,
            None => self.commit_on(commit, &self.pool).await,
        }
    }

    /// A transaction on a connection from the pool, started again on the
    /// next connection if the server had ended the session of the one the
    /// pool handed out (as [`read_row`](Self::read_row) reads again):
    /// nothing was written yet. Not on an I/O error: `begin` also takes
    /// the connection from the pool, and a server that cannot be reached
    /// must not be tried over and over.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let tries = self.tries();
        let mut tried = 0_u32;
        loop {
            tried = tried.saturating_add(1);
            match self.pool.begin().await {
                Ok(tx) => return Ok(tx),
                Err(e) if session_ended(&e) && tried < tries => {}
                Err(e) => {
                    return Err(StoreError::with_source(
                        "PostgreSQL: starting a transaction failed",
                        e,
                    ))
                }
            }
        }
    }

    /// The version the customer's last linked row other than the System's
    /// refusals of corrupt rows (`Load`) committed, walking back from
    /// `head` and checking every row's link against the one before it, so
    /// that the version read is one the library wrote; `None` if the chain
    /// holds no such row.
    async fn committed_behind_loads(
        &self,
        on: &mut sqlx::PgConnection,
        customer: &CustomerId,
        head: ChainLink,
    ) -> Result<Option<i64>, Behind> {
        /// Rows read per query.
        const PAGE: i64 = 32;
        let mut expect = head;
        loop {
            let position = i64::try_from(expect.position())
                .map_err(|_| "a chain position beyond a bigint".to_owned())?;
            let rows = sqlx::query(SQL.chain_back)
                .bind(customer.as_str())
                .bind(position)
                .bind(PAGE)
                .fetch_all(&mut *on)
                .await
                .map_err(|e| {
                    Behind::Failed(StoreError::with_source(
                        "PostgreSQL: reading the audit chain failed",
                        e,
                    ))
                })?;
            let mut page = AuditColumns::default();
            let mut links = Vec::with_capacity(rows.len());
            for row in &rows {
                links.push(
                    page.push_read(row, &CONTENT_COLUMNS)?
                        .ok_or("a linked row without its link")?,
                );
            }
            if links.is_empty() {
                return Err(Behind::Corrupt(format!(
                    "its audit chain has no row at position {}",
                    expect.position()
                )));
            }
            for (i, link) in links.iter().enumerate() {
                if *link != expect {
                    return Err(Behind::Corrupt(format!(
                        "its audit chain is broken below its head (at position {})",
                        expect.position()
                    )));
                }
                let previous = match (link.position(), links.get(i.saturating_add(1))) {
                    (1, _) => None,
                    (_, Some(previous)) => Some(*previous),
                    // Its predecessor is on the next page: read from it on.
                    (_, None) if i > 0 => break,
                    // Or it left with a detached partition: the floor.
                    (position, None) => match self.floor(&mut *on, customer).await? {
                        Some(floor) if Some(floor.position()) == position.checked_sub(1) => {
                            Some(floor)
                        }
                        _ => {
                            return Err(Behind::Corrupt(format!(
                                "its audit chain has no row before position {position}"
                            )))
                        }
                    },
                };
                let fields = page.fields(i).ok_or("an audit row read incompletely")?;
                link.check(previous.as_ref(), &self.sealer, customer, &fields)
                    .map_err(|e| {
                        format!(
                            "its audit chain (position {}) does not verify: {e}",
                            link.position()
                        )
                    })?;
                let (version, event) = page
                    .version_and_event(i)
                    .ok_or("an audit row read incompletely")?;
                if event != "Load" {
                    return Ok(Some(version));
                }
                match previous {
                    Some(previous) => expect = previous,
                    None => return Ok(None),
                }
            }
        }
    }

    /// The link of the last row of `customer`'s that left the database with
    /// a detached partition (its floor), if any: not to be trusted alone,
    /// only as the link the first row still here was linked after.
    async fn floor(
        &self,
        on: &mut sqlx::PgConnection,
        customer: &CustomerId,
    ) -> Result<Option<ChainLink>, Behind> {
        self.floor_row(on, customer)
            .await
            .map_err(|e| {
                Behind::Failed(StoreError::with_source(
                    "PostgreSQL: reading the audit floor failed",
                    e,
                ))
            })?
            .map(|floor| floor.map(|(link, _, _)| link))
            .transpose()
            .map_err(Behind::Corrupt)
    }

    /// The floor's link, the boundary it left below and its MAC, as
    /// stored (`Err` inside: a floor that does not read as one).
    pub(super) async fn floor_row<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        on: E,
        customer: &CustomerId,
    ) -> Result<Option<Result<(ChainLink, i64, Vec<u8>), String>>, sqlx::Error> {
        use sqlx::Row;
        let Some(row) = sqlx::query(SQL.floor)
            .bind(customer.as_str())
            .fetch_optional(on)
            .await?
        else {
            return Ok(None);
        };
        let read = || -> Result<(ChainLink, i64, Vec<u8>), String> {
            let unreadable = |e: sqlx::Error| format!("its audit floor: {e}");
            let link = columns::read_link(&row, "link", "chain")
                .map_err(|why| format!("its audit floor: {why}"))?
                .ok_or("its audit floor has no link")?;
            let boundary: i64 = row.try_get("boundary").map_err(unreadable)?;
            let mac: Vec<u8> = row.try_get("mac").map_err(unreadable)?;
            Ok((link, boundary, mac))
        };
        Ok(Some(read()))
    }

    /// The head of the customer's audit chain the load statement read,
    /// checked against the row before it, and the version it committed
    /// (none for the System's refusal of a corrupt row, which keeps the
    /// version it refused).
    fn checked_head(
        &self,
        row: &sqlx::postgres::PgRow,
        customer: &CustomerId,
    ) -> Result<(ChainHead, Option<i64>), String> {
        let unreadable = |why: String| format!("the head of its audit chain: {why}");
        let Some(head) = columns::read_link(row, "head_link", "head_chain").map_err(unreadable)?
        else {
            return Ok((ChainHead::Empty, None));
        };
        let mut content = AuditColumns::default();
        // Its link again, as read above.
        let _ = content.push_read(row, &HEAD_COLUMNS).map_err(unreadable)?;
        let previous = columns::read_link(row, "prev_link", "prev_chain")
            .map_err(|why| format!("the row before the head of its audit chain: {why}"))?;
        let fields = content
            .fields(0)
            .ok_or("the head of its audit chain was read incompletely")?;
        head.check(previous.as_ref(), &self.sealer, customer, &fields)
            .map_err(|e| {
                format!(
                    "the head of its audit chain (position {}) does not verify: {e}",
                    head.position()
                )
            })?;
        let (version, event) = content
            .version_and_event(0)
            .ok_or("the head of its audit chain was read incompletely")?;
        Ok((ChainHead::At(head), (event != "Load").then_some(version)))
    }

    /// Seals again, under the sealer's primary key, every row with a secret
    /// sealed under `retiring`, `batch` rows per query. Each row is
    /// rewritten on the condition of its version, so the pass can run while
    /// events are served; a row an event changes meanwhile was sealed under
    /// the primary by that commit.
    ///
    /// Naming the key being retired (rather than "every key but the
    /// primary") keeps a process started with an older configuration from
    /// sealing rows back under the old key.
    ///
    /// # Errors
    /// A [`StoreError`] if `retiring` is the sealer's primary key, if the
    /// database fails, or if a secret cannot be sealed; rows already
    /// re-sealed stay so.
    pub async fn reseal(&self, retiring: KeyId, batch: u32) -> Result<Resealed, StoreError> {
        if retiring == self.sealer.primary() {
            return Err(StoreError::new(format!(
                "key {retiring} is the primary: rotate to a new key before retiring it"
            )));
        }
        let retiring = i64::from(retiring.0);
        let batch = i64::from(batch.max(1));
        let mut done = Resealed::default();
        let mut after = String::new();
        loop {
            let ids: Vec<String> = sqlx::query_scalar(SQL.due_for_reseal)
                .bind(retiring)
                .bind(&after)
                .bind(batch)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| StoreError::with_source("PostgreSQL: re-seal query failed", e))?;
            let Some(last) = ids.last() else {
                return Ok(done);
            };
            after.clone_from(last);
            self.reseal_each(&ids, Trust::Tag, &mut done).await?;
        }
    }

    /// Tags every row written before records carried a tag (schema 9),
    /// `batch` rows per query, so that it opens again: each is read as it
    /// stands, checked as any record is but for the tag, and written back
    /// sealed and tagged, on the condition of its version. Until it has
    /// been tagged, a row is refused as corrupt.
    ///
    /// Run it once, right after migrating to schema 9 and before serving
    /// requests, with every process of an older version stopped: it trusts
    /// the rows as the database holds them then, as every earlier version
    /// of this library did. From migration 0009 on, the database refuses to
    /// write a row without a tag (a check on every insert and update), so
    /// no row can become untagged again short of the table's owner
    /// dropping that check.
    ///
    /// # Errors
    /// A [`StoreError`] if the database fails or a record cannot be
    /// sealed; rows already tagged stay so.
    pub async fn tag_untagged(&self, batch: u32) -> Result<Resealed, StoreError> {
        let batch = i64::from(batch.max(1));
        let mut done = Resealed::default();
        let mut after = String::new();
        loop {
            let ids: Vec<String> = sqlx::query_scalar(SQL.untagged)
                .bind(&after)
                .bind(batch)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::with_source("PostgreSQL: untagged rows query failed", e)
                })?;
            let Some(last) = ids.last() else {
                return Ok(done);
            };
            after.clone_from(last);
            self.reseal_each(&ids, Trust::Untagged, &mut done).await?;
        }
    }

    /// Re-seals each of `ids` (trusting it by `trust`) and counts what
    /// became of it in `done`.
    async fn reseal_each(
        &self,
        ids: &[String],
        trust: Trust,
        done: &mut Resealed,
    ) -> Result<(), StoreError> {
        for id in ids {
            let count = match self.reseal_one(id, trust).await? {
                ResealOutcome::Resealed => &mut done.resealed,
                ResealOutcome::ChangedMeanwhile => &mut done.changed_meanwhile,
                ResealOutcome::Corrupt => &mut done.corrupt,
            };
            *count = count.saturating_add(1);
        }
        Ok(())
    }

    async fn reseal_one(&self, id: &str, trust: Trust) -> Result<ResealOutcome, StoreError> {
        // A row whose id is not a valid customer id cannot be audited in a
        // chain (whose links are bound to the customer); it is counted.
        let Ok(customer) = CustomerId::new(id) else {
            return Ok(ResealOutcome::Corrupt);
        };
        let (record, head) = match self.load_opened(&customer, trust).await {
            Ok(Loaded {
                record: Some(record),
                audit_head,
                ..
            }) => (record, audit_head),
            Ok(_) => return Ok(ResealOutcome::ChangedMeanwhile),
            Err(e) if e.is_corrupt() => return Ok(ResealOutcome::Corrupt),
            Err(e) => return Err(e),
        };
        let sealed = record
            .seal(&customer, &self.sealer)
            .map_err(|e| StoreError::with_source("sealing failed", e))?;
        let values = RecordColumns::new(&sealed)?;
        let version = values_version(&sealed)?;
        // The pass is audited, linked in the chain under the primary key,
        // in the statement that writes the row.
        let reason = match trust {
            Trust::Tag => format!("sealed again under key {}", self.sealer.primary()),
            Trust::Untagged => format!(
                "tagged and sealed under key {} (written before record tags)",
                self.sealer.primary()
            ),
        };
        let mut audit = AuditColumns::system(
            version,
            system_now()?,
            "Reseal",
            "accepted",
            sealed.state.to_string(),
            (reason, "resealed"),
        );
        audit.link(head.link().copied(), &self.sealer, &customer)?;
        let written = values
            .bind(audit.bind(sqlx::query(&SQL.commits(&audit).update).bind(customer.as_str())))
            .bind(version)
            .execute(&self.pool)
            .await;
        match written {
            Ok(w) if w.rows_affected() > 0 => Ok(ResealOutcome::Resealed),
            Ok(_) => Ok(ResealOutcome::ChangedMeanwhile),
            // A commit won the row or the chain's next position (under a
            // stricter isolation level, a serialization failure).
            Err(e) if lost_race(&e) => Ok(ResealOutcome::ChangedMeanwhile),
            Err(e) => Err(StoreError::with_source("PostgreSQL: re-seal failed", e)),
        }
    }

    /// The customer's record, opened: its tag checked, or (`Trust::Untagged`,
    /// for [`PostgresStore::tag_untagged`] only) a row without one opened
    /// as it stands. A row that does not open is refused as corrupt and
    /// audited.
    async fn load_opened(&self, customer: &CustomerId, trust: Trust) -> Result<Loaded, StoreError> {
        let (sealed, head, held) = self.load_row(customer, trust).await?;
        let Some(sealed) = sealed else {
            return Ok(Loaded {
                record: None,
                audit_head: ChainHead::Empty,
                held,
            });
        };
        let opened = match (trust, sealed.tag) {
            (Trust::Untagged, None) => sealed.open_untagged(customer, &self.sealer),
            _ => sealed.open(customer, &self.sealer),
        };
        match opened {
            Ok(record) => Ok(Loaded {
                record: Some(record),
                audit_head: head,
                held,
            }),
            Err(e) => {
                drop(held);
                let header = RowHeader {
                    version: values_version(&sealed)?,
                    state: sealed.state.to_string(),
                };
                Err(self
                    .refuse_corrupt(customer, Some(header), e.to_string())
                    .await)
            }
        }
    }

    /// Audits a row refused as corrupt and returns the error to report.
    async fn refuse_corrupt(
        &self,
        customer: &CustomerId,
        header: Option<RowHeader>,
        why: String,
    ) -> StoreError {
        let message = format!("record of customer {customer}: {why}");
        match self.audit_corrupt(customer, header, &why).await {
            Ok(()) => StoreError::corrupt(message),
            Err(e) => StoreError::corrupt(format!("{message} (and its audit failed: {e})")),
        }
    }

    /// Writes the audit row of a row refused as corrupt (once per version),
    /// linked at the head of the customer's chain.
    async fn audit_corrupt(
        &self,
        customer: &CustomerId,
        header: Option<RowHeader>,
        why: &str,
    ) -> Result<(), StoreError> {
        use sqlx::Row;
        let failed = |e| StoreError::with_source("PostgreSQL: audit of a corrupt row failed", e);
        let (version, state) =
            header.map_or((0, "unreadable".to_owned()), |h| (h.version, h.state));
        let row = sqlx::query(SQL.corrupt_head)
            .bind(customer.as_str())
            .bind(version)
            .fetch_one(&self.pool)
            .await
            .map_err(failed)?;
        let audited: bool = row.try_get("audited").map_err(failed)?;
        if audited {
            return Ok(());
        }
        // Linked after the head as it stands; if that is unreadable, the
        // row cannot be linked, and the error says so.
        let head = columns::read_link(&row, "head_link", "head_chain")
            .map_err(|why| StoreError::new(format!("the head of its audit chain: {why}")))?;
        let mut audit = AuditColumns::system(
            version,
            system_now()?,
            "Load",
            "refused",
            state,
            (format!("record refused as corrupt: {why}"), "corrupt"),
        );
        audit.link(head, &self.sealer, customer)?;
        match audit
            .bind(sqlx::query(&SQL.audit_corrupt).bind(customer.as_str()))
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if lost_race(&e) => Err(StoreError::new(
                "another row took its place in the audit chain; the next load audits it",
            )),
            Err(e) => Err(head_disagrees(&e).map_or_else(|| failed(e), StoreError::new)),
        }
    }

    /// Makes `commit` as one statement on `on`: the pool (a transaction of
    /// its own), or a transaction the caller commits later.
    async fn commit_on<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        commit: &Commit<'_>,
        on: E,
    ) -> Result<CommitOutcome, StoreError> {
        // An empty audit would make a written record look like a conflict.
        if commit.audit.is_empty() {
            return Err(StoreError::new("a commit without audit records"));
        }
        let head = match commit.audit_head {
            ChainHead::NotLoaded => {
                return Err(StoreError::new(
                    "PostgresStore keeps an audit chain: load with load_with_head and commit \
                     on its head (a store that wraps it must forward load_with_head)",
                ))
            }
            ChainHead::Empty => None,
            ChainHead::At(link) => Some(link),
        };
        let mut audit = AuditColumns::new(commit.audit)?;
        audit.link(head, &self.sealer, commit.customer)?;
        let customer = commit.customer.as_str();
        let expected = i64::try_from(commit.expected_version)
            .map_err(|_| StoreError::new("expected version does not fit a bigint"))?;
        let record = match &commit.record {
            Some(record) => Some(
                record
                    .seal(commit.customer, &self.sealer)
                    .map_err(|e| StoreError::with_source("sealing failed", e))
                    .and_then(|sealed| RecordColumns::new(&sealed))?,
            ),
            None => None,
        };
        let sql = SQL.commits(&audit);
        let query = match (&record, expected) {
            (Some(values), 0) => {
                values.bind(audit.bind(sqlx::query(&sql.insert_first).bind(customer)))
            }
            (Some(values), _) => values
                .bind(audit.bind(sqlx::query(&sql.update).bind(customer)))
                .bind(expected),
            (None, 0) => audit.bind(sqlx::query(&sql.refuse_new).bind(customer)),
            (None, _) => audit
                .bind(sqlx::query(&sql.refuse).bind(customer))
                .bind(expected),
        };
        match query.execute(on).await {
            Ok(done) if done.rows_affected() > 0 => Ok(CommitOutcome::Committed),
            Ok(_) => Ok(CommitOutcome::Conflict),
            Err(e) if lost_race(&e) => Ok(CommitOutcome::Conflict),
            Err(e) => Err(commit_failed(e)),
        }
    }
}

/// Whether the customer has no row (`Ok(true)`: none was ever committed),
/// or an error if it had one: its audit trail has a committed version, so
/// the row was deleted (which would bring the customer back to "no token"
/// and forget the retired ones).
fn deleted(row: &sqlx::postgres::PgRow, committed: Option<i64>) -> Result<bool, String> {
    use sqlx::Row;
    let present: Option<String> = row
        .try_get("present")
        .map_err(|e| format!("present: {e}"))?;
    match (present, committed) {
        (Some(_), _) => Ok(false),
        (None, Some(committed)) if committed > 0 => Err(format!(
            "no record, but its audit trail has version {committed} committed: the row was deleted"
        )),
        (None, _) => Ok(true),
    }
}

/// `record`, if it is not older than what its row's audit trail has seen
/// committed: every commit writes its audit rows with the version it
/// commits, and the trail is append-only, so a row whose version is
/// behind it was replaced by an older copy of itself (a restore of one
/// row), which its tag alone cannot tell.
fn not_rolled_back(record: SealedRecord, committed: Option<i64>) -> Result<SealedRecord, String> {
    let version = values_version_of(&record)?;
    match committed {
        Some(committed) if committed > version => Err(format!(
            "the record is at version {version} but its audit trail has version {committed} \
             committed: an older copy of the row was restored"
        )),
        _ => Ok(record),
    }
}

/// The version of `sealed`, as its column holds it (for messages that
/// compare it with a column).
fn values_version_of(sealed: &SealedRecord) -> Result<i64, String> {
    i64::try_from(sealed.version).map_err(|_| "version out of range".to_owned())
}

/// Now, by the system's clock (as the lifecycle's rows are dated by
/// default), for the System's own audit rows.
fn system_now() -> Result<i64, StoreError> {
    columns::bigint(SystemClock.now(), "the system clock")
}

/// The version column of `sealed`, as bound.
fn values_version(sealed: &SealedRecord) -> Result<i64, StoreError> {
    i64::try_from(sealed.version).map_err(|_| StoreError::new("version does not fit a bigint"))
}

/// Whether `e` is a race lost to another transaction: a serialization
/// failure, a deadlock, a lock not granted in time. The statement was
/// rolled back, so nothing was written.
///
/// A unique violation of the audit chain's position is one too: another
/// request linked its row at the position this commit computed from the
/// head it loaded.
fn lost_race(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40001" | "40P01" | "55P03"))
            || (db.code().as_deref() == Some("23505")
                && db.constraint().is_some_and(is_chain_position)))
}

/// Why the walk back behind the System's refusals stopped: the chain does
/// not hold (the row is refused as corrupt), or the database failed.
enum Behind {
    Corrupt(String),
    Failed(StoreError),
}

impl From<String> for Behind {
    fn from(why: String) -> Self {
        Self::Corrupt(why)
    }
}

impl From<&str> for Behind {
    fn from(why: &str) -> Self {
        Self::Corrupt(why.to_owned())
    }
}

/// Whether `e` says the connection is gone: its socket failed, or the
/// server ended the session.
fn connection_lost(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_)) || session_ended(e)
}

/// Whether `e` is the server ending the session (an error of severity
/// `FATAL` or `PANIC`: shut down, the backend terminated, a crash), not a
/// statement failing on a session that goes on (`08P01`, for one, is
/// both).
fn session_ended(e: &sqlx::Error) -> bool {
    use sqlx::postgres::{PgDatabaseError, PgSeverity};
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

/// The error of a commit that failed: a corrupt one if the customer's
/// audit head and trail disagree (see migration 12), which no retry mends.
fn commit_failed(e: sqlx::Error) -> StoreError {
    match head_disagrees(&e) {
        Some(why) => StoreError::corrupt(why),
        None => StoreError::with_source("PostgreSQL: commit failed", e),
    }
}

/// The stamping trigger's refusal of a row when the customer's audit head
/// and trail disagree (rows cut from the trail's end, or the head edited),
/// as the server worded it.
fn head_disagrees(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db)
            if db.code().as_deref() == Some("XX001")
                && db.constraint() == Some("otpguard_audit_heads") =>
        {
            Some(format!("PostgreSQL: {}", db.message()))
        }
        _ => None,
    }
}

/// Whether `constraint` keeps a customer's chain position unique: the
/// head's rule (`otpguard_audit_chain`, raised by the stamping trigger, and
/// the history partition's unique index of that name) or a month's unique
/// index (`otpguard_audit_YYYY_MM_chain`).
fn is_chain_position(constraint: &str) -> bool {
    constraint.starts_with("otpguard_audit_") && constraint.ends_with("_chain")
}

/// An error, rather than sqlx's panic, when the calling thread is outside
/// a Tokio runtime (a blocking call from a plain thread): sqlx's sockets
/// and timers live in one.
fn in_runtime() -> Result<(), StoreError> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| {
            StoreError::new(
                "PostgresStore needs a Tokio runtime on the calling thread: call the lifecycle's \
             async methods from one, or enter one (`let _guard = runtime.enter();`, a \
             multi-threaded runtime) before the blocking API",
            )
        })
}

impl<S: Sealer + Sync> TokenStore for PostgresStore<S> {
    async fn load(&self, customer: &CustomerId) -> Result<Option<TokenRecord>, StoreError> {
        in_runtime()?;
        self.load_opened(customer, Trust::Tag)
            .await
            .map(|loaded| loaded.record)
    }

    async fn load_with_head(&self, customer: &CustomerId) -> Result<Loaded, StoreError> {
        in_runtime()?;
        self.load_opened(customer, Trust::Tag).await
    }

    async fn commit(&self, mut commit: Commit<'_>) -> Result<CommitOutcome, StoreError> {
        in_runtime()?;
        // On the connection the load read on (one checkout per request).
        self.commit_kept(&mut commit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_the_columns() {
        let count = |sql: &str| sql.matches('$').count();
        assert_eq!(count(&SQL.select), 1);
        // The customer twice (record and audit), 22 audit arrays, 32
        // record values, and for an update the expected version.
        for commits in [SQL.rows(), SQL.one_row()] {
            assert_eq!(count(commits.insert_first()), 2 + 22 + 32);
            assert_eq!(count(commits.update()), 2 + 22 + 32 + 1);
            assert!(
                commits.update().contains("version = $56") && !commits.update().contains("$57")
            );
            assert!(commits.refuse().contains("version = $24"));
        }
        // One row: the same placeholders, as plain values.
        assert!(
            !SQL.one_row().update().contains("UNNEST") && SQL.rows().update().contains("UNNEST")
        );
    }
}
