//! The audit trail's keyed chain, verified; and its heads exported as
//! checkpoints.

use sqlx::Row;
use thiserror::Error;

use super::columns::{self, AuditColumns};
use super::{PostgresStore, SQL};
use crate::lifecycle::audit::{BrokenLink, ChainCheck, ChainReport, Checkpoint};
use crate::lifecycle::CustomerId;
use crate::seal::{SealError, Sealer};
use crate::StoreError;

/// Rows read per query while verifying a trail.
const PAGE: i64 = 1_000;

/// Why a customer's audit trail did not verify.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrailError {
    /// The trail is broken at the place the [`BrokenLink`] says.
    #[error("the audit trail of customer {customer} is broken: {link}")]
    Broken {
        /// Whose trail.
        customer: String,
        /// The first break.
        link: BrokenLink,
    },
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`PostgresStore::verify_audits`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrailsReport {
    /// Customers whose trail was read.
    pub customers: u64,
    /// Chained rows that verified.
    pub rows: u64,
    /// Rows written before the chain began (not verifiable).
    pub unchained: u64,
    /// Each broken trail, by customer id, with its first break.
    pub broken: Vec<(String, BrokenLink)>,
}

fn read_failed(e: sqlx::Error) -> StoreError {
    StoreError::with_source("PostgreSQL: reading the audit trail failed", e)
}

impl<S: Sealer + Sync> PostgresStore<S> {
    /// Verifies `customer`'s audit trail: every row's link, in position
    /// order, from the first; that no row without a link came after the
    /// chain began; that the trail reaches the version of the customer's
    /// record; and, given a `checkpoint` kept outside the database, that
    /// the trail still passes through its head.
    ///
    /// # Errors
    /// [`TrailError::Broken`] with the first break (a deleted, edited,
    /// moved or inserted row, a cut-back end); [`TrailError::Store`] if
    /// the database cannot be read.
    pub async fn verify_audit(
        &self,
        customer: &CustomerId,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<ChainReport, TrailError> {
        let broken = |link| TrailError::Broken {
            customer: customer.as_str().to_owned(),
            link,
        };
        let mut check = ChainCheck::new(&self.sealer, customer);
        if let Some(checkpoint) = checkpoint {
            check = check.through(checkpoint).map_err(broken)?;
        }
        let unchained: Vec<i64> = sqlx::query_scalar(SQL.trail_unchained)
            .bind(customer.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(read_failed)?;
        let mut unchained = Some(unchained);
        let (mut after_link, mut after_id) = (0_i64, i64::MIN);
        loop {
            let rows = sqlx::query(SQL.trail_page)
                .bind(customer.as_str())
                .bind(after_link)
                .bind(after_id)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(read_failed)?;
            if rows.is_empty() {
                break;
            }
            let mut page = AuditColumns::default();
            for (i, row) in rows.iter().enumerate() {
                let id: i64 = row.try_get("id").map_err(read_failed)?;
                let stored_link: i64 = row.try_get("link").map_err(read_failed)?;
                // The rows written before the chain began come before its
                // first row; one written after it was inserted.
                for earlier in unchained.take().unwrap_or_default() {
                    if earlier > id {
                        return Err(broken(BrokenLink::Unchained { row: earlier }));
                    }
                    check.row(None, &[], earlier).map_err(broken)?;
                }
                let position = check.head().map_or(1, |h| h.position().saturating_add(1));
                let link = page.push_read(row).map_err(|_| {
                    broken(BrokenLink::Unreadable {
                        position,
                        reason: SealError::Malformed,
                    })
                })?;
                let fields = page.fields(i).ok_or_else(|| {
                    TrailError::Store(StoreError::new("audit row read incompletely"))
                })?;
                check.row(link, &fields, id).map_err(broken)?;
                (after_link, after_id) = (stored_link, id);
            }
        }
        for earlier in unchained.take().unwrap_or_default() {
            check.row(None, &[], earlier).map_err(broken)?;
        }
        let report = check.finish().map_err(broken)?;
        let end = sqlx::query(SQL.trail_end)
            .bind(customer.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(read_failed)?;
        let record: Option<i64> = end.try_get("record_version").map_err(read_failed)?;
        let trail: Option<i64> = end.try_get("trail_version").map_err(read_failed)?;
        let version = |v: i64| {
            u64::try_from(v).map_err(|_| StoreError::corrupt(format!("negative version {v}")))
        };
        if let Some(record) = record.map(version).transpose()? {
            let trail = trail.map(version).transpose()?.unwrap_or(0);
            if record > trail {
                return Err(broken(BrokenLink::EndsBeforeRecord {
                    trail_version: trail,
                    record_version: record,
                }));
            }
        }
        Ok(report)
    }

    /// Verifies every customer's trail ([`verify_audit`](Self::verify_audit)
    /// without checkpoints), `batch` customers per query, and reports each
    /// broken one.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read.
    pub async fn verify_audits(&self, batch: u32) -> Result<TrailsReport, StoreError> {
        let batch = i64::from(batch.max(1));
        let mut report = TrailsReport::default();
        let mut after = String::new();
        loop {
            let ids: Vec<String> = sqlx::query_scalar(SQL.trail_customers)
                .bind(&after)
                .bind(batch)
                .fetch_all(&self.pool)
                .await
                .map_err(read_failed)?;
            let Some(last) = ids.last() else {
                return Ok(report);
            };
            after.clone_from(last);
            for id in ids {
                report.customers = report.customers.saturating_add(1);
                let Ok(customer) = CustomerId::new(&id) else {
                    report.broken.push((
                        id,
                        BrokenLink::Unreadable {
                            position: 0,
                            reason: SealError::Inconsistent("not a valid customer id"),
                        },
                    ));
                    continue;
                };
                match self.verify_audit(&customer, None).await {
                    Ok(trail) => {
                        report.rows = report.rows.saturating_add(trail.rows);
                        report.unchained = report.unchained.saturating_add(trail.unchained);
                    }
                    Err(TrailError::Broken { link, .. }) => report.broken.push((id, link)),
                    Err(TrailError::Store(e)) => return Err(e),
                }
            }
        }
    }

    /// A checkpoint of `customer`'s chain head as it stands (`None`: no
    /// chained row yet), to keep outside the database.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read or the head not
    /// MACed.
    pub async fn checkpoint(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let mut found = self.heads("", Some(customer.as_str()), 1).await?;
        Ok(found.pop())
    }

    /// Checkpoints of every customer's chain head, `limit` customers from
    /// the one after `after` (in customer id order): page through them with
    /// the last one's customer and ship them to write-once storage.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read or a head not
    /// MACed.
    pub async fn checkpoints(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        self.heads(after.map_or("", CustomerId::as_str), None, limit.max(1))
            .await
    }

    async fn heads(
        &self,
        after: &str,
        only: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(SQL.heads)
            .bind(after)
            .bind(only)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(read_failed)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("customer_id").map_err(read_failed)?;
            let now: i64 = row.try_get("now").map_err(read_failed)?;
            let customer = CustomerId::new(&id).map_err(|_| {
                StoreError::corrupt(format!("audit rows under an invalid customer id {id:?}"))
            })?;
            let head = columns::read_link(&row, "link", "chain")
                .map_err(|why| StoreError::corrupt(format!("the chain head of {id}: {why}")))?
                .ok_or_else(|| StoreError::new("a chain head without a link"))?;
            let at = u64::try_from(now)
                .map_err(|_| StoreError::new("the database's clock is before 1970"))?;
            out.push(
                Checkpoint::new(&self.sealer, &customer, head, at)
                    .map_err(|e| StoreError::with_source("MACing a checkpoint failed", e))?,
            );
        }
        Ok(out)
    }
}
