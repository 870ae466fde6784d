//! The schema's versioned migrations (`migrations/postgres/*.sql` in the
//! repository) and the function that applies them.
//!
//! otpguard keeps its own ledger, `otpguard_schema_migrations`, rather than
//! sharing a migration tool's table with the bank's own schema: two ledgers
//! in one table make each tool refuse the other's entries.

use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, PgPool, Row};

use crate::StoreError;

/// One migration: its number, its name and its SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. A released migration is never edited: a
/// change is a new file (the checksum check refuses an edited one).
const MIGRATIONS: [Migration; 14] = [
    Migration {
        version: 1,
        name: "token_records",
        sql: include_str!("../../../migrations/postgres/0001_token_records.sql"),
    },
    Migration {
        version: 2,
        name: "audit",
        sql: include_str!("../../../migrations/postgres/0002_audit.sql"),
    },
    Migration {
        version: 3,
        name: "audit_drift",
        sql: include_str!("../../../migrations/postgres/0003_audit_drift.sql"),
    },
    Migration {
        version: 4,
        name: "throttle_and_notices",
        sql: include_str!("../../../migrations/postgres/0004_throttle_and_notices.sql"),
    },
    Migration {
        version: 5,
        name: "transaction_signing",
        sql: include_str!("../../../migrations/postgres/0005_transaction_signing.sql"),
    },
    Migration {
        version: 6,
        name: "serials_per_customer",
        sql: include_str!("../../../migrations/postgres/0006_serials_per_customer.sql"),
    },
    Migration {
        version: 7,
        name: "signed_in_step",
        sql: include_str!("../../../migrations/postgres/0007_signed_in_step.sql"),
    },
    Migration {
        version: 8,
        name: "drift_estimate",
        sql: include_str!("../../../migrations/postgres/0008_drift_estimate.sql"),
    },
    Migration {
        version: 9,
        name: "record_tag",
        sql: include_str!("../../../migrations/postgres/0009_record_tag.sql"),
    },
    Migration {
        version: 10,
        name: "audit_chain",
        sql: include_str!("../../../migrations/postgres/0010_audit_chain.sql"),
    },
    Migration {
        version: 11,
        name: "audit_reader",
        sql: include_str!("../../../migrations/postgres/0011_audit_reader.sql"),
    },
    Migration {
        version: 12,
        name: "audit_partitions",
        sql: include_str!("../../../migrations/postgres/0012_audit_partitions.sql"),
    },
    Migration {
        version: 13,
        name: "audit_head_rows",
        sql: include_str!("../../../migrations/postgres/0013_audit_head_rows.sql"),
    },
    Migration {
        version: 14,
        name: "rules_in_triggers",
        sql: include_str!("../../../migrations/postgres/0014_rules_in_triggers.sql"),
    },
];

/// The latest schema version this library knows.
pub const SCHEMA_VERSION: i32 = 14;
const _: () = assert!(MIGRATIONS.len() == 14 && MIGRATIONS[13].version == SCHEMA_VERSION);

/// Serializes concurrent `migrate` calls (two processes starting at once):
/// a transaction-scoped advisory lock on this key ("otpguard" in ASCII).
const LOCK_KEY: i64 = 0x006f_7470_6775_6172;

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS otpguard_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   bytea       NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies the migrations not yet applied, in one transaction. When the
/// schema is already current it only reads the ledger, so a role without
/// the right to create tables (the application's, see the module docs)
/// can call it at every start.
pub(super) async fn apply(pool: &PgPool) -> Result<(), StoreError> {
    if ledger_is_current(pool).await? {
        return Ok(());
    }
    let failed = |what: &'static str| move |e: sqlx::Error| StoreError::with_source(what, e);
    let mut tx = pool
        .begin()
        .await
        .map_err(failed("migration: cannot begin"))?;
    apply_locked(&mut tx).await?;
    tx.commit()
        .await
        .map_err(failed("migration: commit failed"))
}

/// The migration transaction's statements, on its connection.
async fn apply_locked(conn: &mut PgConnection) -> Result<(), StoreError> {
    let failed = |what: &'static str| move |e: sqlx::Error| StoreError::with_source(what, e);
    // Read committed whatever the server's default: under repeatable read
    // the snapshot would be taken before the lock is granted, and a second
    // process would not see the first one's ledger.
    conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(failed("migration: cannot set the isolation level"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(failed("migration: cannot take the lock"))?;
    conn.execute(LEDGER)
        .await
        .map_err(failed("migration: cannot create the ledger"))?;
    let rows = sqlx::query("SELECT version, checksum FROM otpguard_schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(failed("migration: cannot read the ledger"))?;
    let done = read_ledger(&rows)?;
    for m in &MIGRATIONS {
        if applied(&done, m)? {
            continue;
        }
        // A simple query: a migration may hold several statements.
        conn.execute(m.sql)
            .await
            .map_err(|e| StoreError::with_source(format!("migration {} failed", m.name), e))?;
        sqlx::query(
            "INSERT INTO otpguard_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m))
        .execute(&mut *conn)
        .await
        .map_err(failed("migration: cannot record it"))?;
    }
    Ok(())
}

/// Whether every migration is applied as shipped, read without taking a
/// lock or creating anything. Refuses a newer or an edited schema.
async fn ledger_is_current(pool: &PgPool) -> Result<bool, StoreError> {
    let failed = |e: sqlx::Error| StoreError::with_source("migration: cannot read the ledger", e);
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('otpguard_schema_migrations')::text")
            .fetch_one(pool)
            .await
            .map_err(failed)?;
    if exists.is_none() {
        return Ok(false);
    }
    let rows = sqlx::query("SELECT version, checksum FROM otpguard_schema_migrations")
        .fetch_all(pool)
        .await
        .map_err(failed)?;
    let done = read_ledger(&rows)?;
    for m in &MIGRATIONS {
        if !applied(&done, m)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The ledger's (version, checksum) pairs; refuses a schema newer than
/// this library.
fn read_ledger(rows: &[PgRow]) -> Result<Vec<(i32, Vec<u8>)>, StoreError> {
    let unreadable = |e: sqlx::Error| StoreError::with_source("migration: ledger unreadable", e);
    let mut done = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i32 = row.try_get("version").map_err(unreadable)?;
        let checksum: Vec<u8> = row.try_get("checksum").map_err(unreadable)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::new(format!(
                "the database schema is at version {version}, newer than this library's {SCHEMA_VERSION}: upgrade the library"
            )));
        }
        done.push((version, checksum));
    }
    Ok(done)
}

/// Whether `m` is in the ledger; an error if it is there with another
/// checksum (edited after it was applied).
fn applied(done: &[(i32, Vec<u8>)], m: &Migration) -> Result<bool, StoreError> {
    match done.iter().find(|(v, _)| *v == m.version) {
        Some((_, recorded)) if *recorded == checksum(m) => Ok(true),
        Some(_) => Err(StoreError::new(format!(
            "migration {} ({}) differs from the one applied to this database",
            m.version, m.name
        ))),
        None => Ok(false),
    }
}

fn checksum(m: &Migration) -> Vec<u8> {
    Sha256::digest(m.sql.as_bytes()).to_vec()
}
