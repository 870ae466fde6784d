//! The suite's view of `PostgresStore`: its audit rows, read back.

use core::future::Future;

use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{AuditEntry, ContractStore};
use crate::lifecycle::postgres::PostgresStore;
use crate::lifecycle::CustomerId;
use crate::seal::Sealer;
use crate::StoreError;

/// A customer's rows of `otpguard_audit` in commit order.
const AUDIT: &str = "SELECT version, event, outcome, actor, from_state, to_state, reason \
     FROM otpguard_audit WHERE customer_id = $1 ORDER BY link NULLS FIRST, id";

/// One audit row as an entry; a message says which column does not read.
fn entry(row: &PgRow) -> Result<AuditEntry, String> {
    fn column<T: core::str::FromStr>(row: &PgRow, name: &str) -> Result<T, String>
    where
        T::Err: core::fmt::Display,
    {
        let text: String = row
            .try_get(name)
            .map_err(|e| format!("column {name}: {e}"))?;
        text.parse().map_err(|e| format!("column {name}: {e}"))
    }
    let version: i64 = row
        .try_get("version")
        .map_err(|e| format!("column version: {e}"))?;
    Ok(AuditEntry::new(
        u64::try_from(version).map_err(|_| format!("a negative version {version}"))?,
        column(row, "event")?,
        column(row, "outcome")?,
        column(row, "actor")?,
        column(row, "from_state")?,
        column(row, "to_state")?,
        column::<String>(row, "reason")?,
    ))
}

/// The rows of `otpguard_audit` for the customer.
impl<S: Sealer + Send + Sync + 'static> ContractStore for PostgresStore<S> {
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        let query = sqlx::query(AUDIT).bind(customer.as_str().to_owned());
        let pool = self.pool().clone();
        async move {
            let rows = query
                .fetch_all(&pool)
                .await
                .map_err(|e| StoreError::with_source("PostgreSQL: reading the audit failed", e))?;
            rows.iter()
                .map(|row| {
                    entry(row).map_err(|why| StoreError::corrupt(format!("audit row: {why}")))
                })
                .collect()
        }
    }
}
