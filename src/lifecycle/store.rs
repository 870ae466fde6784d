//! Where records live: the [`TokenStore`] a backend implements for its
//! database, and the in-memory store.
//!
//! # The contract a store keeps
//!
//! - `load` returns the customer's last committed record, or `None` if the
//!   customer has none (the lifecycle then starts from
//!   [`TokenRecord::new`], version 0).
//! - `commit` is **one atomic operation**: if the customer's committed
//!   version is still `expected_version` (0: no record yet), it writes the
//!   new record (if there is one) **and** appends every audit record, and
//!   answers [`CommitOutcome::Committed`]; otherwise it writes nothing and
//!   answers [`CommitOutcome::Conflict`]. A commit without a new record
//!   (a refusal that changed nothing) still checks the version, so its
//!   audit records describe a decision taken on the record as committed.
//! - If the store cannot tell which of the two happened (a timeout, a lost
//!   connection), it answers a [`StoreError`]; the lifecycle then refuses
//!   the event and returns the error. Nothing the lifecycle returned as
//!   accepted was ever left uncommitted.
//!
//! Serial uniqueness across customers (a serial belongs to one customer at
//! a time) is the store's to enforce, with a unique index on the current
//! token's serial: the lifecycle sees one customer's record at a time. The
//! lifecycle never relies on it: single use and every check are keyed on
//! the customer's record and the token's random [`TokenId`](super::TokenId),
//! so two customers with the same serial cannot affect each other.

use core::future::{ready, Future};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

use super::audit::{AuditLog, AuditRecord, AuditSink};
use super::{CustomerId, TokenRecord};
use crate::StoreError;

/// One atomic change the lifecycle asks a store to make.
#[derive(Debug)]
#[non_exhaustive]
pub struct Commit<'a> {
    /// Whose record.
    pub customer: &'a CustomerId,
    /// The version the decision was taken on (0: no record yet).
    pub expected_version: u64,
    /// The new record, with version `expected_version + 1`; `None` if the
    /// event changed nothing (a refusal, a login without OTP).
    pub record: Option<&'a TokenRecord>,
    /// The event's audit records, in order: at least one.
    pub audit: &'a [AuditRecord],
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

/// Storage of token records and their audit trail. See the
/// [module documentation](self) for the contract.
///
/// Async, as bank backends are; [`MemoryStore`] answers at once, and
/// [`BlockingLifecycle`](super::BlockingLifecycle) drives any store from
/// synchronous code.
pub trait TokenStore {
    /// The customer's last committed record, if any.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read, or holds data for the
    /// customer that is not a valid record.
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
#[derive(Debug)]
pub struct MemoryStore<A = AuditLog> {
    shards: [Mutex<HashMap<CustomerId, TokenRecord>>; SHARDS],
    hasher: RandomState,
    sink: A,
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
            hasher: RandomState::new(),
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
        self.shard(customer)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(customer)
            .cloned()
    }

    fn shard(&self, customer: &CustomerId) -> &Mutex<HashMap<CustomerId, TokenRecord>> {
        let [low, ..] = self.hasher.hash_one(customer).to_le_bytes();
        let index = usize::from(low & SHARD_MASK);
        // Invariant: index <= SHARD_MASK < SHARDS.
        #[allow(clippy::indexing_slicing)]
        &self.shards[index]
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
        let mut records = self
            .shard(commit.customer)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = records.get(commit.customer).map_or(0, TokenRecord::version);
        let outcome = if current == commit.expected_version {
            self.sink.write(commit.audit).map(|()| {
                if let Some(record) = commit.record {
                    records.insert(commit.customer.clone(), record.clone());
                }
                CommitOutcome::Committed
            })
        } else {
            Ok(CommitOutcome::Conflict)
        };
        ready(outcome)
    }
}
