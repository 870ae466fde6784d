//! What survives a crash or a failover: how the database commits, read
//! from the database itself, and a check that refuses to serve on one that
//! could lose an acknowledged acceptance (and so let its code be used
//! again) unless the bank accepts that risk by name.

use sqlx::Row;

use super::{in_runtime, PostgresStore};
use crate::StoreError;

/// Standbys are the senders of physical replication (a logical one, a
/// change-data-capture feed, is none); their `sync_state` is visible to a
/// role with `pg_monitor` (or `pg_read_all_stats`) only, and null
/// otherwise.
const DURABILITY: &str = "SELECT current_setting('synchronous_commit') AS synchronous_commit, \
     current_setting('synchronous_standby_names') AS standby_names, \
     current_setting('fsync') AS fsync, \
     current_setting('full_page_writes') AS full_page_writes, \
     pg_is_in_recovery() AS in_recovery, \
     count(r.pid) AS replicas, \
     count(r.pid) FILTER (WHERE r.sync_state IN ('async', 'potential')) AS async_replicas, \
     count(r.pid) FILTER (WHERE r.sync_state IS NULL) AS unknown_replicas \
     FROM (SELECT 1) one LEFT JOIN pg_stat_replication r ON NOT EXISTS \
     (SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')";

/// How the database the store writes to commits, as its own session sees
/// it ([`PostgresStore::durability`]).
///
/// A commit the lifecycle acknowledged (an accepted code, its step
/// claimed) must survive what the bank's database survives: with
/// `synchronous_commit = off` a crash can lose the last commits, and on a
/// primary whose standbys replicate asynchronously a failover can lose
/// them; either way the lost acceptance's code is accepted again. Commits
/// that wait for a synchronous standby (`synchronous_standby_names` set,
/// `synchronous_commit` `on`, `remote_write` or `remote_apply`) survive
/// the primary's loss.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Durability {
    /// The session's `synchronous_commit`.
    pub synchronous_commit: String,
    /// The server's `synchronous_standby_names` (empty: no commit waits
    /// for a standby).
    pub synchronous_standby_names: String,
    /// Standbys streaming from this server now (`pg_stat_replication`,
    /// logical replication aside).
    pub streaming_standbys: u64,
    /// How many of them commits do not wait for (`sync_state` `async` or
    /// `potential`), if the role may see it (`pg_monitor`); `None` if it
    /// may not.
    pub asynchronous_standbys: Option<u64>,
    /// The server's `fsync`: with it off, a crash of the machine can lose
    /// or corrupt anything.
    pub fsync: bool,
    /// The server's `full_page_writes`: with it off, a crash can leave torn
    /// pages.
    pub full_page_writes: bool,
    /// Whether the server is itself a standby (it takes no writes).
    pub in_recovery: bool,
}

impl Durability {
    /// Whether a commit is acknowledged only once it is in the server's
    /// write-ahead log on disk, and that log survives the machine's crash
    /// (`synchronous_commit` is not `off`, `fsync` and `full_page_writes`
    /// are on).
    #[must_use]
    pub fn survives_a_crash(&self) -> bool {
        self.synchronous_commit != "off" && self.fsync && self.full_page_writes
    }

    /// Whether a commit is acknowledged only once a synchronous standby
    /// has it too.
    #[must_use]
    pub fn waits_for_a_standby(&self) -> bool {
        !self.synchronous_standby_names.trim().is_empty()
            && matches!(
                self.synchronous_commit.as_str(),
                "on" | "remote_write" | "remote_apply"
            )
    }

    /// Whether a failover to a standby streaming now could lose an
    /// acknowledged commit: standbys replicate and commits do not wait for
    /// one, or (as far as the role may see) one of them is not waited for.
    /// It cannot see standbys that stream from another standby or restore
    /// from an archive: promote only a synchronous standby.
    #[must_use]
    pub fn failover_can_lose_commits(&self) -> bool {
        self.streaming_standbys > 0
            && (!self.waits_for_a_standby() || self.asynchronous_standbys.is_some_and(|n| n > 0))
    }
}

/// Which risks to acknowledged commits a bank accepts
/// ([`PostgresStore::require_durability`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurabilityPolicy {
    /// None: refuse a standby, a session with `synchronous_commit = off`,
    /// and a primary whose streaming standbys commits do not wait for.
    #[default]
    Strict,
    /// Accept that a failover to an asynchronous standby can lose the
    /// acceptances of its last moments, and so accept their codes again
    /// (a crash of the primary itself still loses nothing).
    AcceptAsyncReplication,
}

impl<S> PostgresStore<S> {
    /// How the database commits, read on one of the pool's connections.
    ///
    /// # Errors
    /// A [`StoreError`] if the database cannot be read.
    pub async fn durability(&self) -> Result<Durability, StoreError> {
        in_runtime()?;
        let failed = |e| StoreError::with_source("PostgreSQL: reading how it commits failed", e);
        let row = sqlx::query(DURABILITY)
            .fetch_one(&self.pool)
            .await
            .map_err(failed)?;
        let count = |name: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(name).map_err(failed)?;
            u64::try_from(n).map_err(|_| StoreError::new("PostgreSQL counted below zero"))
        };
        let on = |name: &str| -> Result<bool, StoreError> {
            let value: String = row.try_get(name).map_err(failed)?;
            Ok(value == "on")
        };
        Ok(Durability {
            synchronous_commit: row.try_get("synchronous_commit").map_err(failed)?,
            synchronous_standby_names: row.try_get("standby_names").map_err(failed)?,
            streaming_standbys: count("replicas")?,
            asynchronous_standbys: (count("unknown_replicas")? == 0)
                .then(|| count("async_replicas"))
                .transpose()?,
            fsync: on("fsync")?,
            full_page_writes: on("full_page_writes")?,
            in_recovery: row.try_get("in_recovery").map_err(failed)?,
        })
    }

    /// Refuses, with an error that says what to change, a database on
    /// which an acknowledged acceptance could be lost beyond what `policy`
    /// accepts, as far as it can see: call it at start, after
    /// [`migrate`](Self::migrate), and serve only if it passes; call it
    /// again from a health check, since standbys and settings change at
    /// run time. It reads the settings of one session (set them on the
    /// database or the role, not per session); it cannot see standbys
    /// that stream from another standby or restore from an archive, and
    /// it sees which standbys are asynchronous only with `pg_monitor`.
    ///
    /// ```no_run
    /// # async fn start(store: otpguard::lifecycle::postgres::PostgresStore) -> Result<(), otpguard::StoreError> {
    /// use otpguard::lifecycle::postgres::DurabilityPolicy;
    /// store.migrate().await?;
    /// let durability = store.require_durability(DurabilityPolicy::Strict).await?;
    /// assert!(durability.survives_a_crash());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`StoreError`] naming the setting at fault, or if the database
    /// cannot be read.
    pub async fn require_durability(
        &self,
        policy: DurabilityPolicy,
    ) -> Result<Durability, StoreError> {
        let d = self.durability().await?;
        if d.in_recovery {
            return Err(StoreError::new(
                "the database is a standby (in recovery): connect to the primary",
            ));
        }
        if !d.survives_a_crash() {
            return Err(StoreError::new(format!(
                "synchronous_commit is {}, fsync {}, full_page_writes {}: a crash can lose \
                 acknowledged acceptances, and their codes would be accepted again; set \
                 synchronous_commit to on for the database or role, and fsync and \
                 full_page_writes on for the server",
                d.synchronous_commit,
                if d.fsync { "on" } else { "off" },
                if d.full_page_writes { "on" } else { "off" },
            )));
        }
        if d.failover_can_lose_commits() && policy == DurabilityPolicy::Strict {
            return Err(StoreError::new(format!(
                "{} standby(s) replicate asynchronously (synchronous_standby_names is empty or \
                 synchronous_commit is {}): a failover can lose acknowledged acceptances, and \
                 their codes would be accepted again; name the standbys in \
                 synchronous_standby_names, or accept the risk with \
                 DurabilityPolicy::AcceptAsyncReplication",
                d.streaming_standbys, d.synchronous_commit
            )));
        }
        Ok(d)
    }
}
