//! The audit table's partitions, a month each (schema 12): created ahead
//! of time, and the oldest detached for archive, the only way history
//! leaves the database.
//!
//! Detaching keeps every trail verifiable from what stays:
//! 0. the partition is locked against writers, in the transaction that
//!    detaches it: what is verified is what leaves;
//! 1. every trail with rows in the partition is verified (a broken one
//!    stops the detach: tampered history is not archived quietly);
//! 2. a customer whose last row other than the System's refusals of a
//!    corrupt record (`Load`) is in the partition gets a `Carry` row of the
//!    System's, linked after its head, with the version its record is at:
//!    the load's check that a record is not older than its trail, and the
//!    next commit's link, then need nothing from the partition;
//! 3. each customer's last link in the partition becomes its floor
//!    (`otpguard_audit_floors`), MACed with the partition's end in a domain
//!    of its own; the first row still in the database links to it, and a
//!    trail is verified from it;
//! 4. the partition is detached: it becomes a table of its own for the
//!    bank to export (`pg_dump -t`) and drop.

use sqlx::{Connection, Row};
use thiserror::Error;

use super::columns::{self, AuditColumns};
use super::{lost_race, PostgresStore, Trust, SQL};
use crate::lifecycle::audit::BrokenLink;
use crate::lifecycle::chain::floor_message;
use crate::lifecycle::{CustomerId, State};
use crate::seal::{SealError, Sealer};
use crate::{Clock, StoreError, SystemClock};

/// How long after a partition's end it may be detached: rows are dated by
/// the clocks of the bank's nodes, and one running behind could still
/// write into the month just ended.
pub const DETACH_GRACE: u64 = 86_400;

/// How far ahead of now partitions may be prepared: five years.
pub const PREPARE_HORIZON: u64 = 5 * 366 * 86_400;

/// The key of the advisory lock one detach holds at a time
/// ("otpgdeta" in ASCII).
const DETACH_LOCK: i64 = 0x6f74_7067_6465_7461;

/// Whether the trail of customer `c.customer_id` ends before `$1`: no
/// linked row of it other than the System's `Load` is dated at or after.
const ENDS_BEFORE: &str = "NOT EXISTS (SELECT 1 FROM otpguard_audit a \
     WHERE a.customer_id = c.customer_id AND a.at >= $1 \
     AND a.link IS NOT NULL AND a.event <> 'Load')";

/// Customers read per query while detaching.
const BATCH: i64 = 500;

/// One partition of the audit table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPartition {
    /// Its table's name (`otpguard_audit_history` for the rows from before
    /// schema 12, `otpguard_audit_YYYY_MM` for each month).
    pub name: String,
    /// The first `at` (Unix seconds) it holds; `None`: from the beginning.
    pub from: Option<u64>,
    /// The first `at` it no longer holds.
    pub until: u64,
}

/// What [`PostgresStore::detach_oldest_audit_partition`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detached {
    /// The partition now detached: a table of its own, to export and drop.
    pub partition: AuditPartition,
    /// Its rows.
    pub rows: u64,
    /// The customers with rows in it, whose trails verified.
    pub customers: u64,
    /// The `Carry` rows written for customers whose trail had nothing
    /// after it.
    pub carried: u64,
}

/// Why the oldest partition was not detached. Nothing left the database.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DetachError {
    /// The partition has not ended [`DETACH_GRACE`] before now, or no
    /// partition holds now (where the `Carry` rows go): run
    /// [`PostgresStore::prepare_audit_partitions`].
    #[error("audit partition {partition} cannot be detached yet: {why}")]
    NotYet {
        /// The oldest partition.
        partition: String,
        /// What is missing.
        why: String,
    },
    /// Trails with rows in the partition do not verify: the partition is
    /// evidence, and stays until someone has looked.
    #[error("{} audit trail(s) with rows in partition {partition} do not verify", broken.len())]
    Broken {
        /// The oldest partition.
        partition: String,
        /// Each broken trail, by customer id, with its first break.
        broken: Vec<(String, BrokenLink)>,
    },
    /// A trail still ended in the partition after the `Carry` rows were
    /// written (a `Carry` lost its place and no row of the customer's came
    /// after the partition), or the audit table stayed busy: try again.
    #[error("audit partition {partition} changed while it was being detached: {why}")]
    Changed {
        /// The oldest partition.
        partition: String,
        /// What changed.
        why: String,
    },
    /// A customer's rows lie on both sides of the partition's end out of
    /// order: a row in it comes after, in the customer's chain, a row
    /// dated after its end (nodes whose clocks disagreed, around the
    /// month's end). Detaching would take a row out of the middle of that
    /// trail, so the partition stays; this does not change by waiting.
    #[error(
        "audit partition {partition} cannot be detached: the rows of customer {customer} lie on \
         both sides of its end out of order (dated by clocks that disagreed)"
    )]
    OutOfOrder {
        /// The oldest partition.
        partition: String,
        /// The customer.
        customer: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A batch of floors, as the statement binds them.
#[derive(Default)]
struct Floors {
    customers: Vec<String>,
    links: Vec<i64>,
    chains: Vec<Vec<u8>>,
    macs: Vec<Vec<u8>>,
}

impl Floors {
    /// The floor of `row` (a customer's last link in the partition),
    /// MACed with `boundary` under a domain of its own (no checkpoint or
    /// link MAC can pass for one).
    fn push<S: Sealer>(
        &mut self,
        row: &sqlx::postgres::PgRow,
        sealer: &S,
        boundary: u64,
    ) -> Result<(), StoreError> {
        let unreadable = failed("PostgreSQL: a last link is unreadable");
        let id: String = row.try_get("customer_id").map_err(&unreadable)?;
        let customer = CustomerId::new(&id).map_err(|e| {
            StoreError::corrupt(format!("audit rows of a customer id that is not one: {e}"))
        })?;
        let link = columns::read_link(row, "link", "chain")
            .map_err(StoreError::corrupt)?
            .ok_or_else(|| StoreError::corrupt("a linked row without its link"))?;
        let mac = floor_message(&customer, &link, boundary)
            .and_then(|message| sealer.mac(message.as_slice()))
            .map_err(|e| StoreError::with_source("the floor could not be MACed", e))?;
        self.links.push(columns::bigint(link.position(), "a link")?);
        self.chains.push(row.try_get("chain").map_err(&unreadable)?);
        self.customers.push(id);
        self.macs.push(mac.to_bytes().to_vec());
        Ok(())
    }
}

/// What became of a `Carry` row.
enum Carry {
    Written,
    /// Another row took its place: the trail goes on after the partition.
    Overtaken,
    /// The customer's record or trail does not load.
    Impossible(&'static str),
}

/// A trail reported broken for `why`, at no position of its own.
const fn unreadable(why: &'static str) -> BrokenLink {
    BrokenLink::Unreadable {
        position: 0,
        reason: SealError::Inconsistent(why),
    }
}

fn failed(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::with_source(what, e)
}

/// `at` as the unsigned time the library uses.
fn time(at: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(at).map_err(|_| StoreError::corrupt(format!("{what}: time {at} before 1970")))
}

/// The partition's name, if it is one the library could have made (it is
/// then safe to put in a statement as it is).
fn plain_name(name: &str) -> Result<&str, StoreError> {
    let plain = name.starts_with("otpguard_audit_")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        Ok(name)
    } else {
        Err(StoreError::new(format!(
            "audit partition {name:?} was not made by this library: detach it by hand"
        )))
    }
}

impl<S: Sealer + Sync> PostgresStore<S> {
    /// The audit table's partitions, oldest first. A health check can warn
    /// when the last one ends within weeks: a row dated where no partition
    /// is cannot be written, so every commit would fail.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read.
    pub async fn audit_partitions(&self) -> Result<Vec<AuditPartition>, StoreError> {
        let rows = sqlx::query("SELECT name, lower, upper FROM otpguard_audit_partitions()")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("PostgreSQL: listing the audit partitions failed"))?;
        rows.iter()
            .map(|row| {
                let unreadable = failed("PostgreSQL: an audit partition is unreadable");
                let name: String = row.try_get("name").map_err(&unreadable)?;
                let lower: Option<i64> = row.try_get("lower").map_err(&unreadable)?;
                let upper: Option<i64> = row.try_get("upper").map_err(&unreadable)?;
                let upper = upper.ok_or_else(|| {
                    StoreError::corrupt(format!("audit partition {name} has no upper bound"))
                })?;
                Ok(AuditPartition {
                    from: lower.map(|l| time(l, &name)).transpose()?,
                    until: time(upper, &name)?,
                    name,
                })
            })
            .collect()
    }

    /// Creates the months after the last partition until one holds `until`
    /// (Unix seconds, at most [`PREPARE_HORIZON`] from now by the system's
    /// clock), and returns their names. [`migrate`](Self::migrate)
    /// prepares three months ahead; schedule this (as the schema's owner:
    /// it creates tables) to stay ahead, for example monthly with `until`
    /// three months on.
    ///
    /// # Errors
    /// A [`StoreError`] if the database refuses (a role that may not
    /// create tables) or fails.
    pub async fn prepare_audit_partitions(&self, until: u64) -> Result<Vec<String>, StoreError> {
        let horizon = SystemClock.now().saturating_add(PREPARE_HORIZON);
        if until > horizon {
            return Err(StoreError::new(format!(
                "audit partitions are prepared at most {} days ahead ({until} is beyond {horizon}: \
                 Unix seconds, not milliseconds)",
                PREPARE_HORIZON / 86_400
            )));
        }
        let until = columns::bigint(until, "until")?;
        let failure = failed("PostgreSQL: creating audit partitions failed");
        // Creating a partition locks the audit table: not for long, and
        // not waiting behind a long reader while commits queue behind it.
        let mut tx = self.pool.begin().await.map_err(&failure)?;
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *tx)
            .await
            .map_err(&failure)?;
        let made = sqlx::query_scalar("SELECT otpguard_audit_prepare($1)")
            .bind(until)
            .fetch_all(&mut *tx)
            .await
            .map_err(&failure)?;
        tx.commit().await.map_err(&failure)?;
        Ok(made)
    }

    /// Detaches the oldest partition of the audit table, once it ended at
    /// least [`DETACH_GRACE`] before `clock`'s now, after verifying every
    /// trail with rows in it and carrying each trail's end past it (see
    /// the module's documentation). The partition becomes a table of its
    /// own, named as before: export it, then drop it.
    ///
    /// Run it as the schema's owner, with a pool of at least two
    /// connections. Detaching takes a lock on the audit table that waits
    /// (at most 5 s) for the statements in flight and holds new ones back
    /// until it commits: a moment at the end, not the verification.
    ///
    /// # Errors
    /// [`DetachError`]: not yet, broken trails, changed meanwhile, or the
    /// database. Nothing is detached then; `Carry` rows already written
    /// stay (they are correct rows of their trails).
    pub async fn detach_oldest_audit_partition(
        &self,
        clock: &impl Clock,
    ) -> Result<Detached, DetachError> {
        let now = clock.now();
        let partitions = self.audit_partitions().await?;
        let (Some(oldest), Some(last)) = (partitions.first(), partitions.last()) else {
            return Err(StoreError::new("the audit table has no partition").into());
        };
        let name = plain_name(&oldest.name)?.to_owned();
        let not_yet = |why: String| DetachError::NotYet {
            partition: name.clone(),
            why,
        };
        if oldest.until.saturating_add(DETACH_GRACE) > now {
            return Err(not_yet(format!(
                "it ends at {} and may be detached from {} on (now {now})",
                oldest.until,
                oldest.until.saturating_add(DETACH_GRACE)
            )));
        }
        if last.until <= now {
            return Err(not_yet(format!(
                "no partition holds now ({now}): prepare partitions ahead first"
            )));
        }
        let boundary = columns::bigint(oldest.until, "the partition's end")?;
        let at = columns::bigint(now, "now")?;
        // The verification and the carries run on other connections of
        // the pool while this one holds the transaction.
        if self.pool.options().get_max_connections() < 2 {
            return Err(StoreError::new(
                "detaching an audit partition needs a pool of at least two connections",
            )
            .into());
        }
        // All of it in one transaction that locks the partition against
        // writers first: what is verified is what leaves. Until the end it
        // holds that lock alone (not the audit table's: every statement on
        // it meanwhile runs on the pool), so nothing queues behind it but
        // writers into the month itself; one detach at a time; no lock
        // waited for more than 5 s; and not cut off while it waits for the
        // verification.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(failed("PostgreSQL: no connection"))?;
        let mut tx = conn
            .begin()
            .await
            .map_err(failed("PostgreSQL: cannot begin"))?;
        for setting in [
            "SET LOCAL lock_timeout = '5s'",
            "SET LOCAL idle_in_transaction_session_timeout = 0",
        ] {
            sqlx::query(setting)
                .execute(&mut *tx)
                .await
                .map_err(failed("PostgreSQL: setting the detach's timeouts failed"))?;
        }
        let alone: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(DETACH_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(failed("PostgreSQL: taking the detach's lock failed"))?;
        if !alone {
            return Err(DetachError::Changed {
                partition: name,
                why: "another detach is running".to_owned(),
            });
        }
        match sqlx::query(&format!("LOCK TABLE {name} IN SHARE MODE"))
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03") => {
                return Err(DetachError::Changed {
                    partition: name,
                    why: "rows were being written into it for 5 s: try again".to_owned(),
                })
            }
            Err(e) => {
                return Err(
                    StoreError::with_source("PostgreSQL: locking the partition failed", e).into(),
                )
            }
        }
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {name}"))
            .fetch_one(&mut *tx)
            .await
            .map_err(failed("PostgreSQL: counting the partition's rows failed"))?;
        let interleaved: Option<String> = sqlx::query_scalar(&format!(
            "SELECT p.customer_id FROM (SELECT customer_id, max(link) AS link FROM {name} \
             WHERE link IS NOT NULL GROUP BY customer_id) p \
             WHERE EXISTS (SELECT 1 FROM otpguard_audit a WHERE a.customer_id = p.customer_id \
             AND a.at >= $1 AND a.link < p.link) LIMIT 1"
        ))
        .bind(boundary)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("PostgreSQL: checking the rows' order failed"))?;
        if let Some(customer) = interleaved {
            return Err(DetachError::OutOfOrder {
                partition: name,
                customer,
            });
        }

        // 1 and 2: verify each trail in the partition, carry those it ends.
        let customers_in = format!(
            "SELECT customer_id FROM {name} WHERE customer_id > $1 \
             GROUP BY customer_id ORDER BY customer_id LIMIT $2"
        );
        let (mut customers, mut carried) = (0_u64, 0_u64);
        let mut broken = Vec::new();
        let mut after = String::new();
        loop {
            let ids: Vec<String> = sqlx::query_scalar(&customers_in)
                .bind(&after)
                .bind(BATCH)
                .fetch_all(&self.pool)
                .await
                .map_err(failed(
                    "PostgreSQL: reading the partition's customers failed",
                ))?;
            let Some(last_id) = ids.last() else { break };
            after.clone_from(last_id);
            for id in ids {
                customers = customers.saturating_add(1);
                let Ok(customer) = CustomerId::new(&id) else {
                    broken.push((id, unreadable("not a valid customer id")));
                    continue;
                };
                match self.verify_audit(&customer, None).await {
                    Ok(_) => {}
                    Err(super::TrailError::Broken { link, .. }) => {
                        broken.push((id, link));
                        continue;
                    }
                    Err(super::TrailError::Store(e)) => return Err(e.into()),
                }
                if self.ends_before(&customer, boundary).await? {
                    match self.carry(&customer, at, oldest.until).await? {
                        Carry::Written => carried = carried.saturating_add(1),
                        // A newer row of its own came meanwhile.
                        Carry::Overtaken => {}
                        Carry::Impossible(why) => broken.push((id, unreadable(why))),
                    }
                }
            }
        }
        if !broken.is_empty() {
            return Err(DetachError::Broken {
                partition: name,
                broken,
            });
        }

        // 3 and 4: nothing ends in it now; the floors, and the detach.
        let changed = |why: &str| DetachError::Changed {
            partition: name.clone(),
            why: why.to_owned(),
        };

        let unended: Option<String> = sqlx::query_scalar(&format!(
            "SELECT c.customer_id FROM (SELECT DISTINCT customer_id FROM {name}) c \
             WHERE {ENDS_BEFORE} LIMIT 1"
        ))
        .bind(boundary)
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed("PostgreSQL: checking the trails' ends failed"))?;
        if let Some(customer) = unended {
            return Err(changed(&format!(
                "the trail of customer {customer} ends in it without a row after it"
            )));
        }
        // Each customer's last link in it, MACed, as its floor.
        let last_links = format!(
            "SELECT DISTINCT ON (customer_id) customer_id, link, chain FROM {name} \
             WHERE link IS NOT NULL AND customer_id > $1 ORDER BY customer_id, link DESC LIMIT $2"
        );
        let mut after = String::new();
        loop {
            let rows = sqlx::query(&last_links)
                .bind(&after)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed(
                    "PostgreSQL: reading the partition's last links failed",
                ))?;
            let Some(last_row) = rows.last() else { break };
            after = last_row
                .try_get("customer_id")
                .map_err(failed("PostgreSQL: a last link is unreadable"))?;
            let mut floors = Floors::default();
            for row in &rows {
                floors.push(row, &self.sealer, oldest.until)?;
            }
            sqlx::query(
                "INSERT INTO otpguard_audit_floors (customer_id, link, chain, boundary, mac) \
                 SELECT c, l, h, $4, k FROM UNNEST($1::text[], $2::bigint[], $3::bytea[], \
                 $5::bytea[]) AS f (c, l, h, k) \
                 ON CONFLICT (customer_id) DO UPDATE SET link = EXCLUDED.link, \
                 chain = EXCLUDED.chain, boundary = EXCLUDED.boundary, \
                 mac = EXCLUDED.mac",
            )
            .bind(&floors.customers)
            .bind(&floors.links)
            .bind(&floors.chains)
            .bind(boundary)
            .bind(&floors.macs)
            .execute(&mut *tx)
            .await
            .map_err(failed("PostgreSQL: writing the floors failed"))?;
        }
        // Detaching waits for every statement on the audit table, and
        // holds every new one back meanwhile: not for long.
        sqlx::query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *tx)
            .await
            .map_err(failed("PostgreSQL: setting the lock timeout failed"))?;
        match sqlx::query(&format!(
            "ALTER TABLE otpguard_audit DETACH PARTITION {name}"
        ))
        .execute(&mut *tx)
        .await
        {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03") => {
                return Err(changed(
                    "the audit table stayed busy for 5 s (a long reader): try again",
                ));
            }
            Err(e) => {
                return Err(StoreError::with_source(
                    "PostgreSQL: detaching the partition failed",
                    e,
                )
                .into())
            }
        }
        tx.commit()
            .await
            .map_err(failed("PostgreSQL: committing the detach failed"))?;
        Ok(Detached {
            partition: oldest.clone(),
            rows: u64::try_from(rows)
                .map_err(|_| StoreError::corrupt("a negative count of rows"))?,
            customers,
            carried,
        })
    }

    /// Whether `customer`'s last row other than the System's `Load` rows is
    /// dated before `boundary`.
    async fn ends_before(&self, customer: &CustomerId, boundary: i64) -> Result<bool, StoreError> {
        sqlx::query_scalar(&format!(
            "SELECT {ENDS_BEFORE} FROM (SELECT $2::text AS customer_id) c"
        ))
        .bind(boundary)
        .bind(customer.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(failed("PostgreSQL: reading a trail's end failed"))
    }

    /// Writes `customer`'s `Carry` row, dated `at`, linked after its head,
    /// with its record's version (on the condition that the record is
    /// still at it), or version 0 if it has none.
    async fn carry(
        &self,
        customer: &CustomerId,
        at: i64,
        boundary: u64,
    ) -> Result<Carry, StoreError> {
        // The row as it stands, checked against its trail, and its tag
        // checked (a version raised by hand must not be carried); a
        // customer with no record keeps its trail's head too.
        let (record, audit_head) = match self.load_row(customer, Trust::Tag).await {
            // (The connection it read on goes back: what follows takes its
            // own.)
            Ok((record, audit_head, held)) => {
                drop(held);
                (record, audit_head)
            }
            Err(e) if e.is_corrupt() => {
                return Ok(Carry::Impossible(
                    "its record is refused as corrupt: the trail cannot be carried past the \
                     partition",
                ))
            }
            Err(e) => return Err(e),
        };
        let (version, state) = match &record {
            Some(record) if record.open(customer, &self.sealer).is_err() => {
                return Ok(Carry::Impossible(
                    "its record does not open under the keys: the trail cannot be carried \
                     past the partition",
                ))
            }
            Some(record) => (record.version, record.state),
            None => (0, State::Unregistered),
        };
        let version = i64::try_from(version)
            .map_err(|_| StoreError::corrupt("a record's version beyond a bigint"))?;
        let mut audit = AuditColumns::system(
            version,
            at,
            "Carry",
            "accepted",
            state.to_string(),
            (
                format!(
                    "the trail carried past the audit partition ending at {boundary}, \
                     detached for archive"
                ),
                "carried",
            ),
        );
        audit.link(audit_head.link().copied(), &self.sealer, customer)?;
        let sql = SQL.commits(&audit);
        let query = if record.is_some() {
            audit
                .bind(sqlx::query(&sql.refuse).bind(customer.as_str()))
                .bind(version)
        } else {
            audit.bind(sqlx::query(&sql.refuse_new).bind(customer.as_str()))
        };
        match query.execute(&self.pool).await {
            Ok(done) if done.rows_affected() > 0 => Ok(Carry::Written),
            // The record changed, or another row took the place.
            Ok(_) => Ok(Carry::Overtaken),
            Err(e) if lost_race(&e) => Ok(Carry::Overtaken),
            Err(e) => match super::commit_failed(e) {
                e if e.is_corrupt() => Ok(Carry::Impossible(
                    "its chain's head and trail disagree: the trail cannot be carried past the \
                     partition",
                )),
                e => Err(e),
            },
        }
    }
}
