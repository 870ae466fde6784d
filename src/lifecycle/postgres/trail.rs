//! The audit trail's keyed chain, verified; and its heads exported as
//! checkpoints.

use sqlx::Row;
use thiserror::Error;

use super::columns::{self, AuditColumns, CONTENT_COLUMNS};
use super::{PostgresStore, SQL};
use crate::lifecycle::audit::{BrokenLink, ChainCheck, ChainLink, ChainReport, Checkpoint};
use crate::lifecycle::chain::floor_message;
use crate::lifecycle::CustomerId;
use crate::seal::{KeyedMac, SealError, Sealer};
use crate::{Clock, StoreError, SystemClock};

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
    /// Rows that verified.
    pub rows: u64,
    /// Each broken trail, by customer id, with its first break.
    pub broken: Vec<(String, BrokenLink)>,
}

fn read_failed(e: sqlx::Error) -> StoreError {
    StoreError::with_source("PostgreSQL: reading the audit trail failed", e)
}

impl<S: Sealer + Sync> PostgresStore<S> {
    /// Verifies `customer`'s audit trail: that every row has a link; every
    /// row's link, in position order, from the first; that the verified
    /// rows reach the version of the customer's record; and, given a
    /// `checkpoint` kept outside the database, that the trail still passes
    /// through its head. It stops at the first break.
    ///
    /// Rows linked under a key the sealer no longer has are reported as
    /// [`BrokenLink::Unreadable`]: keep retired keys in the keyring as
    /// long as the trail holds rows linked under them, or verify and
    /// checkpoint the trail before a key leaves it.
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
        // Its rows up to the floor left with a detached partition; the
        // floor was MACed as they left.
        // Every read of the verification on one snapshot: rows committed
        // meanwhile (a commit, a detach) change nothing it compares.
        let mut tx = self.pool.begin().await.map_err(read_failed)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(read_failed)?;
        let floor = self
            .floor_row(&mut *tx, customer)
            .await
            .map_err(read_failed)?;
        if let Some(floor) = floor {
            let (link, boundary, mac) = floor.map_err(|_| {
                broken(BrokenLink::Unreadable {
                    position: 0,
                    reason: SealError::Inconsistent("its floor does not read as one"),
                })
            })?;
            let position = link.position();
            u64::try_from(boundary)
                .map_err(|_| SealError::Inconsistent("a floor's boundary before 1970"))
                .and_then(|boundary| floor_message(customer, &link, boundary))
                .and_then(|message| {
                    self.sealer
                        .check_mac(&KeyedMac::from_bytes(&mac)?, message.as_slice())
                })
                .map_err(|e| match e {
                    SealError::Unauthentic => broken(BrokenLink::Unauthentic { position }),
                    reason => broken(BrokenLink::Unreadable { position, reason }),
                })?;
            check = check.after(link).map_err(broken)?;
        }
        // The head of the chain the stamping trigger keeps: a copy of the
        // trail's last row.
        let head = self.head_row(&mut tx, customer).await?;
        // Every row the library writes has a link.
        let unlinked: Option<i64> = sqlx::query_scalar(SQL.trail_unlinked)
            .bind(customer.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(read_failed)?;
        if let Some(row) = unlinked {
            return Err(broken(BrokenLink::Unchained { row }));
        }
        // The latest version committed, as far as the verified rows say.
        let mut trail_version: Option<i64> = None;
        let (mut after_link, mut after_id) = (i64::MIN, i64::MIN);
        loop {
            let rows = sqlx::query(SQL.trail_page)
                .bind(customer.as_str())
                .bind(after_link)
                .bind(after_id)
                .bind(PAGE)
                .fetch_all(&mut *tx)
                .await
                .map_err(read_failed)?;
            if rows.is_empty() {
                break;
            }
            let mut page = AuditColumns::default();
            for (i, row) in rows.iter().enumerate() {
                let id: i64 = row.try_get("id").map_err(read_failed)?;
                let stored_link: i64 = row.try_get("link").map_err(read_failed)?;
                let position = check.head().map_or(1, |h| h.position().saturating_add(1));
                let link = page.push_read(row, &CONTENT_COLUMNS).map_err(|_| {
                    broken(BrokenLink::Unreadable {
                        position,
                        reason: SealError::Inconsistent(
                            "a row whose link the library does not write (a position below 1, \
                             a MAC of another form)",
                        ),
                    })
                })?;
                let fields = page.fields(i).ok_or_else(|| {
                    TrailError::Store(StoreError::new("audit row read incompletely"))
                })?;
                check.row(link, &fields, id).map_err(broken)?;
                if let Some((version, event)) = page.version_and_event(i) {
                    if event != "Load" {
                        trail_version = Some(trail_version.map_or(version, |t| t.max(version)));
                    }
                }
                (after_link, after_id) = (stored_link, id);
            }
        }
        let report = check.finish().map_err(broken)?;
        let record: Option<i64> = sqlx::query_scalar(SQL.record_version)
            .bind(customer.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(read_failed)?;
        let version = |v: i64| {
            u64::try_from(v).map_err(|_| StoreError::corrupt(format!("negative version {v}")))
        };
        if let Some(record) = record.map(version).transpose()? {
            let trail = trail_version.map(version).transpose()?.unwrap_or(0);
            if record > trail {
                return Err(broken(BrokenLink::EndsBeforeRecord {
                    trail_version: trail,
                    record_version: record,
                }));
            }
            // On the trail's snapshot, the record is at the version the
            // trail committed, unless an older copy was restored.
            if record < trail {
                return Err(broken(BrokenLink::RecordBehindTrail {
                    trail_version: trail,
                    record_version: record,
                }));
            }
        }
        // The head of the chain copies the trail's last row: a trail cut
        // at its end, or a head put back to an older row, disagrees.
        if head != report.head {
            return Err(broken(BrokenLink::DisagreesWithHead {
                trail: report.head.map_or(0, |h| h.position()),
                head: head.map_or(0, |h| h.position()),
            }));
        }
        tx.commit().await.map_err(read_failed)?;
        Ok(report)
    }

    /// The link of the customer's head of the chain, as the stamping
    /// trigger keeps it (schema 13), if it has one.
    async fn head_row(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        customer: &CustomerId,
    ) -> Result<Option<ChainLink>, TrailError> {
        sqlx::query(SQL.head_row)
            .bind(customer.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(read_failed)?
            .map(|row| {
                columns::read_link(&row, "link", "chain").map_err(|_| TrailError::Broken {
                    customer: customer.as_str().to_owned(),
                    link: BrokenLink::Unreadable {
                        position: 0,
                        reason: SealError::Inconsistent(
                            "the head of its chain does not read as a link",
                        ),
                    },
                })
            })
            .transpose()
            .map(Option::flatten)
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
                    Ok(trail) => report.rows = report.rows.saturating_add(trail.rows),
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
        let now = SystemClock.now();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("customer_id").map_err(read_failed)?;
            let customer = CustomerId::new(&id).map_err(|_| {
                StoreError::corrupt(format!("audit rows under an invalid customer id {id:?}"))
            })?;
            let head = columns::read_link(&row, "link", "chain")
                .map_err(|why| StoreError::corrupt(format!("the chain head of {id}: {why}")))?
                .ok_or_else(|| StoreError::new("a chain head without a link"))?;
            out.push(
                Checkpoint::new(&self.sealer, &customer, head, now)
                    .map_err(|e| StoreError::with_source("MACing a checkpoint failed", e))?,
            );
        }
        Ok(out)
    }
}
