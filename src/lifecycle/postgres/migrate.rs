//! The schema's versioned migrations (`migrations/postgres/*.sql` in the
//! repository) and the function that applies them.
//!
//! otpguard keeps its own ledger, `otpguard_schema_migrations`, rather than
//! sharing a migration tool's table with the bank's own schema: two ledgers
//! in one table make each tool refuse the other's entries.

use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::StoreError;

/// One migration: its number, its name and its SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. A released migration is never edited: a
/// change is a new file (the checksum check refuses an edited one).
const MIGRATIONS: [Migration; 3] = [
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
];

/// The latest schema version this library knows.
pub const SCHEMA_VERSION: i32 = 3;
const _: () = assert!(MIGRATIONS.len() == 3 && MIGRATIONS[2].version == SCHEMA_VERSION);

/// Serializes concurrent `migrate` calls (two processes starting at once):
/// a transaction-scoped advisory lock on this key ("otpguard" in ASCII).
const LOCK_KEY: i64 = 0x006f_7470_6775_6172;

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS otpguard_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   bytea       NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies the migrations not yet applied, in one transaction.
pub(super) async fn apply(pool: &PgPool) -> Result<(), StoreError> {
    let failed = |what: &'static str| move |e: sqlx::Error| StoreError::with_source(what, e);
    let mut tx = pool
        .begin()
        .await
        .map_err(failed("migration: cannot begin"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(failed("migration: cannot take the lock"))?;
    sqlx::raw_sql(LEDGER)
        .execute(&mut *tx)
        .await
        .map_err(failed("migration: cannot create the ledger"))?;
    let applied = sqlx::query("SELECT version, checksum FROM otpguard_schema_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(failed("migration: cannot read the ledger"))?;
    let mut done = Vec::with_capacity(applied.len());
    for row in &applied {
        let version: i32 = row
            .try_get("version")
            .map_err(failed("migration: ledger unreadable"))?;
        let checksum: Vec<u8> = row
            .try_get("checksum")
            .map_err(failed("migration: ledger unreadable"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::new(format!(
                "the database schema is at version {version}, newer than this library's {SCHEMA_VERSION}: upgrade the library"
            )));
        }
        done.push((version, checksum));
    }
    for m in &MIGRATIONS {
        let checksum = Sha256::digest(m.sql.as_bytes()).to_vec();
        match done.iter().find(|(v, _)| *v == m.version) {
            Some((_, recorded)) if *recorded == checksum => continue,
            Some(_) => {
                return Err(StoreError::new(format!(
                    "migration {} ({}) differs from the one applied to this database",
                    m.version, m.name
                )))
            }
            None => {}
        }
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::with_source(format!("migration {} failed", m.name), e))?;
        sqlx::query(
            "INSERT INTO otpguard_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum)
        .execute(&mut *tx)
        .await
        .map_err(failed("migration: cannot record it"))?;
    }
    tx.commit()
        .await
        .map_err(failed("migration: commit failed"))
}
