//! Where records live: the [`TokenStore`] a backend implements for its
//! database, and the in-memory store.
//!
//! The contract a store keeps is on [`TokenStore`].

pub use super::drift::{DriftEstimate, OffsetSeen};
pub use super::identity::TokenId;
pub use super::record::{PendingSwap, RecordSummary, TokenRecord};
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub use super::sealed::{SealedEnrollment, SealedRecord, SealedToken};
#[cfg(all(feature = "serde", feature = "seal"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "serde", feature = "seal"))))]
pub use super::stored::TaggedWithPlaintextSecrets;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use super::stored::WithPlaintextSecrets;

use core::future::{ready, Future};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::{DefaultHashBuilder, HashTable};

use super::audit::{AuditLog, AuditPage, AuditQuery, AuditReader, AuditRecord, AuditSink};
#[cfg(feature = "seal")]
use super::chain::ChainHead;
use super::CustomerId;
use crate::StoreError;

/// One atomic change the lifecycle asks a store to make.
#[derive(Debug)]
#[non_exhaustive]
pub struct Commit<'a> {
    /// Whose record.
    pub customer: &'a CustomerId,
    /// The version the decision was taken on (0: no record yet).
    pub expected_version: u64,
    /// The new record; `None` if the event changed nothing (a refusal, a
    /// login without OTP). Its [`TokenRecord::version`] is greater than
    /// `expected_version` (by more than one when the System acted in the
    /// same commit: a swap time-out, a lock-out): store it as given.
    pub record: Option<TokenRecord>,
    /// The event's audit records, in order: at least one.
    pub audit: &'a [AuditRecord],
    /// The head of the customer's audit chain as
    /// [`TokenStore::load_with_head`] read it with the record. A store that
    /// keeps the chain links the new audit rows after it, answers
    /// [`CommitOutcome::Conflict`] if another row took the next position
    /// first, and refuses [`ChainHead::NotLoaded`] with an error (a
    /// wrapper store that does not forward `load_with_head` would
    /// otherwise conflict for ever).
    #[cfg(feature = "seal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
    pub audit_head: ChainHead,
    /// The connection the load read on, kept for this commit.
    #[cfg(feature = "seal")]
    pub(crate) held: Held,
}

/// The connection a store read a request's record on, kept for the same
/// request's commit: one connection from the pool per request, not one
/// per statement (with sqlx, each checkout and return costs a round
/// trip). Only [`PostgresStore`](super::postgres::PostgresStore) keeps
/// one; every other store leaves it empty, and a store that finds it empty
/// takes a connection of its own.
#[cfg(feature = "seal")]
#[derive(Debug, Default)]
pub(crate) struct Held {
    #[cfg(feature = "postgres")]
    pub(crate) postgres: Option<super::postgres::HeldConnection>,
}

/// What [`TokenStore::load_with_head`] read.
///
/// A store may keep in it the connection it read on, for the same
/// request's commit (`PostgresStore` does): keep a `Loaded` no longer
/// than the request.
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Loaded {
    /// The customer's last committed record, if any.
    pub record: Option<TokenRecord>,
    /// The head of the customer's audit chain ([`ChainHead::NotLoaded`]
    /// for a store that keeps none).
    pub audit_head: ChainHead,
    /// The connection the record was read on, for the commit.
    pub(crate) held: Held,
}

#[cfg(feature = "seal")]
impl Loaded {
    /// What a store read: the record and the chain's head.
    #[must_use]
    pub fn new(record: Option<TokenRecord>, audit_head: ChainHead) -> Self {
        Self {
            record,
            audit_head,
            held: Held::default(),
        }
    }
}

/// What a store did with a [`Commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written, record and audit together.
    Committed,
    /// The record's version was no longer the expected one; nothing was
    /// written. The lifecycle reloads and decides again.
    Conflict,
}

/// Storage of token records and their audit trail.
///
/// # The contract
///
/// - `load` returns the customer's last committed record, or `None` if the
///   customer has none (the lifecycle then starts from
///   [`TokenRecord::new`], version 0).
/// - `commit` is **one atomic operation**: if the customer's committed
///   version is still `expected_version` (0: no record yet), it writes the
///   new record (if there is one) **and** appends every audit record, and
///   answers [`CommitOutcome::Committed`]; otherwise it writes nothing and
///   answers [`CommitOutcome::Conflict`]. A commit without a new record
///   (a refusal that changed nothing) still checks the version, so its
///   audit records describe a decision taken on the record as committed.
/// - If the store cannot tell which of the two happened (a timeout, a lost
///   connection), it answers a [`StoreError`]; the lifecycle then refuses
///   the event and returns the error. Nothing the lifecycle returned as
///   accepted was ever left uncommitted.
///
/// A serial is its customer's own: a store must not make serials unique
/// across customers (anyone who knew a serial could then block another
/// customer's registration with it). Single use and every check are keyed
/// on the customer's record and the token's random
/// [`TokenId`], so two customers with the same serial
/// cannot affect each other.
///
/// Async, as bank backends are; [`MemoryStore`] answers at once, and
/// [`Lifecycle::blocking`](super::Lifecycle::blocking) drives any store
/// from synchronous code.
///
/// What a database store must also do:
/// - For `expected_version == 0` (no record yet), insert only if the
///   customer has none (`INSERT … ON CONFLICT DO NOTHING`, zero rows:
///   `Conflict`); never upsert.
/// - Store the record's own version ([`TokenRecord::version`]) and condition
///   the write on `expected_version` in the same transaction as the audit
///   insert. A refusal (`record: None`) still checks the version there.
/// - Report a serialization failure or a lost race as `Conflict`, never as
///   a [`StoreError`] (that would refuse a genuine code), and an outcome it
///   cannot know (a timeout, a lost connection) as a [`StoreError`].
/// - Never delete a record or reuse a version: a stale request could then
///   commit onto a recreated record, and the retired tokens would be
///   forgotten. Restoring a backup rolls back single use and retired
///   tokens; treat it as a security event.
/// - Read `load` from the primary (a lagging replica only makes every
///   attempt conflict), and order audit records by version, then by their
///   order within a commit.
pub trait TokenStore {
    /// The customer's last committed record, if any.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read; one made with
    /// [`StoreError::corrupt`] if it holds data for the customer that is not
    /// a valid record.
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// Applies `commit` atomically, or not at all.
    ///
    /// # Errors
    /// A [`StoreError`] whenever the outcome is not known for certain.
    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// The record, with the head of the customer's audit chain for a
    /// store that keeps one (read in the same round trip): what the
    /// lifecycle loads, and hands back in [`Commit::audit_head`]. The
    /// default, for a store without a chain, is [`load`](Self::load) with
    /// [`ChainHead::NotLoaded`]; a store that wraps another must forward
    /// it.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    #[cfg(feature = "seal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        let record = self.load(customer);
        async move { Ok(Loaded::new(record.await?, ChainHead::NotLoaded)) }
    }
}

impl<S: TokenStore + Sync + ?Sized> TokenStore for &S {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        (**self).load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        (**self).commit(commit)
    }

    #[cfg(feature = "seal")]
    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        (**self).load_with_head(customer)
    }
}

impl<S: TokenStore + Send + Sync + ?Sized> TokenStore for std::sync::Arc<S> {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        (**self).load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        (**self).commit(commit)
    }

    #[cfg(feature = "seal")]
    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        (**self).load_with_head(customer)
    }
}

const SHARDS: usize = 16;
/// `SHARDS - 1`: the low bits of a hash that pick a shard.
const SHARD_MASK: u8 = 0x0f;
const _: () = assert!(SHARD_MASK as usize + 1 == SHARDS);

/// Records in this process's memory, with their audit records going to a
/// sink ([`AuditLog`] by default). The default store: tests, examples and
/// deployments of one backend process. Records are lost when the process
/// ends.
///
/// A commit holds one shard's lock while it compares the version, writes
/// the audit records and replaces the record, so it is atomic with respect
/// to every other commit and load in the process; its futures never wait.
///
/// ```
/// use otpguard::lifecycle::{CustomerId, MemoryStore};
/// let store = MemoryStore::new();
/// assert_eq!(store.audit().len(), 0);
/// assert!(store.snapshot(&CustomerId::new("c-1")?).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryStore<A = AuditLog> {
    /// Each customer's record, in the shard its hash picks; the same hash
    /// finds it in the shard's table (one hash per operation).
    shards: [Mutex<HashTable<(CustomerId, TokenRecord)>>; SHARDS],
    /// foldhash with a random seed per store: customer ids are the bank's
    /// own, and a per-store seed keeps their layout unpredictable.
    hasher: DefaultHashBuilder,
    sink: A,
}

impl<A: core::fmt::Debug> core::fmt::Debug for MemoryStore<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl MemoryStore<AuditLog> {
    /// An empty store keeping audit records in an [`AuditLog`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_sink(AuditLog::default())
    }
}

impl Default for MemoryStore<AuditLog> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> MemoryStore<A> {
    /// An empty store writing audit records to `sink` inside each commit.
    pub fn with_sink(sink: A) -> Self {
        Self {
            shards: Default::default(),
            hasher: DefaultHashBuilder::default(),
            sink,
        }
    }

    /// The audit sink (to drain an [`AuditLog`], say).
    pub const fn audit(&self) -> &A {
        &self.sink
    }

    /// The customer's committed record, for reading (a support screen, a
    /// test). Changing it goes through the lifecycle only.
    #[must_use]
    pub fn snapshot(&self, customer: &CustomerId) -> Option<TokenRecord> {
        let hash = self.hasher.hash_one(customer);
        self.shard(hash)
            .find(hash, |(id, _)| id == customer)
            .map(|(_, record)| record.clone())
    }

    /// The locked shard for `hash`. A panic while a shard was locked cannot
    /// leave a record half-replaced (a replacement is one move), so a
    /// poisoned lock is taken as it is.
    fn shard(&self, hash: u64) -> MutexGuard<'_, HashTable<(CustomerId, TokenRecord)>> {
        let [low, ..] = hash.to_le_bytes();
        let index = usize::from(low & SHARD_MASK);
        // Invariant: index <= SHARD_MASK < SHARDS.
        #[allow(clippy::indexing_slicing)]
        let shard = &self.shards[index];
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditReader for MemoryStore<AuditLog> {
    /// The records its [`AuditLog`] holds (none once taken), in the order
    /// they were committed.
    fn read_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send {
        ready(Ok(self.sink.page(query)))
    }
}

impl<A: AuditSink + Sync> TokenStore for MemoryStore<A> {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        ready(Ok(self.snapshot(customer)))
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        let hash = self.hasher.hash_one(commit.customer);
        let mut shard = self.shard(hash);
        let entry = shard.find_mut(hash, |(id, _)| id == commit.customer);
        let current = entry.as_ref().map_or(0, |(_, record)| record.version);
        if current != commit.expected_version {
            return ready(Ok(CommitOutcome::Conflict));
        }
        // The audit first: if it cannot be written, nothing is.
        if let Err(e) = self.sink.write(commit.audit) {
            return ready(Err(e));
        }
        if let Some(record) = commit.record {
            match entry {
                Some((_, stored)) => *stored = record,
                None => {
                    let hasher = &self.hasher;
                    shard.insert_unique(hash, (commit.customer.clone(), record), |(id, _)| {
                        hasher.hash_one(id)
                    });
                }
            }
        }
        ready(Ok(CommitOutcome::Committed))
    }
}
