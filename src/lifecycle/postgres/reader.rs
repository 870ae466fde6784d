//! The audit trail read back as typed entries ([`AuditReader`]), and a
//! customer's record summarised for an operator's screen.

use core::future::Future;

use super::columns::read_audit_entry;
use super::{in_runtime, PostgresStore, Trust};
use crate::lifecycle::audit::{AuditPage, AuditQuery, AuditReader};
use crate::lifecycle::store::RecordSummary;
use crate::lifecycle::CustomerId;
use crate::seal::Sealer;
use crate::StoreError;

/// Every customer's rows after a cursor, in commit order: only rows of
/// transactions older than every one still in flight (a row committed
/// later can never sort before them).
/// (Rows written before schema 11 have no `written_by`: they read as 0.)
const STREAM: &str = "SELECT a.*, coalesce(a.written_by, '0'::xid8)::text AS writer, \
     extract(epoch FROM a.recorded_at)::bigint AS recorded \
     FROM otpguard_audit a \
     WHERE (coalesce(a.written_by, '0'::xid8), a.id) > ($1::text::xid8, $2) \
     AND coalesce(a.written_by, '0'::xid8) < pg_snapshot_xmin(pg_current_snapshot()) \
     AND ($3::bigint IS NULL OR a.at >= $3) AND ($4::bigint IS NULL OR a.at < $4) \
     ORDER BY coalesce(a.written_by, '0'::xid8), a.id LIMIT $5";

/// One customer's rows after a cursor, in the order of its commits (each
/// commit of a customer links after the row the one before it wrote, so it
/// started after that one committed).
const CUSTOMER: &str = "SELECT a.*, coalesce(a.written_by, '0'::xid8)::text AS writer, \
     extract(epoch FROM a.recorded_at)::bigint AS recorded \
     FROM otpguard_audit a \
     WHERE a.customer_id = $6 AND (coalesce(a.written_by, '0'::xid8), a.id) > ($1::text::xid8, $2) \
     AND ($3::bigint IS NULL OR a.at >= $3) AND ($4::bigint IS NULL OR a.at < $4) \
     ORDER BY coalesce(a.written_by, '0'::xid8), a.id LIMIT $5";

impl<S: Sealer + Sync> AuditReader for PostgresStore<S> {
    /// Reads `otpguard_audit` (PostgreSQL 13 or later). Everyone's entries
    /// ([`AuditQuery::all`]) come in the order of the transactions that
    /// wrote them, and a page holds only rows of transactions older than
    /// every one still in flight anywhere in the cluster: nothing is ever
    /// skipped, but a long transaction (a session left idle in one, a
    /// forgotten prepared transaction) holds the stream back until it
    /// ends. Read from the primary or a physical standby; on a logical
    /// replica the writers' ids are the publisher's, and the order means
    /// nothing there.
    fn read_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send {
        let query = query.clone();
        async move {
            in_runtime()?;
            // Every stored id and time fits a bigint: a bound beyond one
            // either selects nothing (a cursor or a start past every row)
            // or bounds nothing (an end past every row).
            let nothing = AuditPage {
                entries: Vec::new(),
                next: query.after,
            };
            let Ok(id) = i64::try_from(query.after.id()) else {
                return Ok(nothing);
            };
            let from = match query.from.map(i64::try_from).transpose() {
                Ok(from) => from,
                Err(_) => return Ok(nothing),
            };
            let until = query.until.and_then(|t| i64::try_from(t).ok());
            let statement = match query.customer {
                Some(_) => CUSTOMER,
                None => STREAM,
            };
            let mut read = sqlx::query(statement)
                .bind(query.after.writer().to_string())
                .bind(id)
                .bind(from)
                .bind(until)
                .bind(i64::from(query.limit));
            if let Some(customer) = &query.customer {
                read = read.bind(customer.as_str());
            }
            let rows = read
                .fetch_all(&self.pool)
                .await
                .map_err(|e| StoreError::with_source("PostgreSQL: reading the audit failed", e))?;
            let entries = rows
                .iter()
                .map(|row| {
                    read_audit_entry(row)
                        .map_err(|why| StoreError::corrupt(format!("audit row: {why}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let next = entries.last().map_or(query.after, |e| e.cursor);
            Ok(AuditPage { entries, next })
        }
    }
}

impl<S: Sealer + Sync> PostgresStore<S> {
    /// The customer's record, opened and summarised for an operator's
    /// screen ([`RecordSummary`]: state, token, failures, pending swap, ...;
    /// no secret), or `None` if the customer has none. The record is
    /// checked as for any event: one that does not open is refused as
    /// corrupt (and audited).
    ///
    /// # Errors
    /// A [`StoreError`] if the database fails; a corrupt one if the record
    /// does not open.
    pub async fn summary(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<RecordSummary>, StoreError> {
        in_runtime()?;
        let loaded = self.load_opened(customer, Trust::Tag).await?;
        Ok(loaded.record.map(|r| r.summary()))
    }
}
