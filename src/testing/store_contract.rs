//! The [`TokenStore`] contract as a suite a store runs against itself.
//!
//! A bank that keeps token records in its own database (MySQL, DynamoDB,
//! a key-value store) writes a [`TokenStore`]; this suite checks that it
//! keeps the contract the lifecycle's guarantees rest on. It is the suite
//! this crate runs against [`MemoryStore`]
//! and, with the `postgres` feature,
//! [`PostgresStore`](crate::lifecycle::postgres::PostgresStore).
//!
//! What it checks, each a function of its own, all of them in [`run`]:
//!
//! - [`commits`]: `load` answers `None` for a customer without a record;
//!   a first record is inserted only if there is none; a commit on an
//!   outdated version, with or without a new record, writes nothing and
//!   answers `Conflict`; a refusal on the current version appends its
//!   audit records and leaves the record; a refusal for a customer
//!   without a record creates none; a commit's audit records stay in order;
//!   customers do not affect each other.
//! - [`records_round_trip`]: every field of a record survives the store.
//!   A bank's journey (registration, codes, a replay, the login OTP,
//!   transaction signatures, a wrong code, a drift reset, a swap, a lost
//!   phone, a reissue, a retired secret and serial offered again, a new
//!   secret provisioned) runs on the store and on a `MemoryStore` twin with
//!   the same clock; after every step the answers and the loaded records
//!   must agree (all but the random token ids, which must match the
//!   proofs).
//! - [`serials_belong_to_their_customer`]: two customers register tokens
//!   under the same serial; each token answers for its own customer only.
//! - [`one_code_many_times`], [`genuine_code_racing_wrong_codes`],
//!   [`wrong_codes_against_the_lockout`]: the concurrency guarantees of
//!   the [lifecycle](crate::lifecycle#what-the-library-guarantees), with
//!   [`Contract::racers`] requests for one customer released together
//!   through two handles on the store, over [`Contract::trials`] fresh
//!   customers each.
//!
//! # What the suite needs
//!
//! - The store implements [`ContractStore`]: [`TokenStore`] plus a way to
//!   read back the audit records it committed for a customer.
//! - A factory: a closure returning a future of a new handle on **the same
//!   storage** each time it is called (a new connection pool on the same
//!   database, or a clone of one `Arc`). Races go through two handles, as
//!   through two backend processes. Every check works on customers of its
//!   own, named after a random run id, so the storage may hold other data
//!   and may be reused from run to run.
//! - An [`Executor`] that drives the store's futures: [`Inline`] for a store
//!   whose futures need no async runtime, or a few lines for one that does
//!   (below). Races run on OS threads (each driving its own request), or
//!   however [`Executor::race`] is overridden.
//!
//! Checks return a [`ContractViolation`] naming the check and what the
//! store did wrong; they do not panic. A violation can also be a store
//! error the check did not expect (a store that fails is not one that
//! keeps the contract).
//!
//! ```
//! use std::sync::Arc;
//! use otpguard::lifecycle::MemoryStore;
//! use otpguard::testing::store_contract::{self, Contract, Inline};
//!
//! let shared = Arc::new(MemoryStore::new());
//! let report = store_contract::run(&Contract::new().trials(2), &Inline, || {
//!     let handle = Arc::clone(&shared);
//!     async move { handle }
//! })?;
//! println!("{report}");
//! # Ok::<(), store_contract::ContractViolation>(())
//! ```
//!
//! A store on an async driver (a tokio-based client) runs in that runtime:
//!
//! ```no_run
//! use core::future::Future;
//! use otpguard::testing::store_contract::Executor;
//!
//! /// Drives each request to completion on the calling thread, inside the
//! /// runtime (call the suite from outside it: a plain `#[test]`).
//! struct Tokio(tokio::runtime::Handle);
//!
//! impl Executor for Tokio {
//!     fn block_on<F: Future>(&self, future: F) -> F::Output {
//!         self.0.block_on(future)
//!     }
//! }
//! ```

use core::fmt;
use core::future::Future;
use std::sync::{Arc, Barrier};

use thiserror::Error;

use crate::lifecycle::{
    audit::AuditLog, audit::AuditRecord, audit::Outcome, rules::Actor, rules::EventKind,
    store::TokenStore, CustomerId, MemoryStore, State,
};
use crate::StoreError;

mod bench;
mod checks;
#[cfg(feature = "postgres")]
mod postgres;

/// A [`TokenStore`] under test: the store, and the audit records it
/// committed.
///
/// ```
/// use core::future::{ready, Future};
/// use std::sync::Mutex;
/// use otpguard::lifecycle::{audit::AuditRecord, store::Commit, store::CommitOutcome, CustomerId, store::TokenRecord, store::TokenStore};
/// use otpguard::testing::store_contract::{AuditEntry, ContractStore};
/// use otpguard::StoreError;
///
/// struct MyStore {
///     audit: Mutex<Vec<AuditRecord>>,
///     // ...
/// }
/// # impl TokenStore for MyStore {
/// #     fn load(&self, _: &CustomerId) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send { ready(Ok(None)) }
/// #     fn commit(&self, _: Commit<'_>) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send { ready(Ok(CommitOutcome::Conflict)) }
/// # }
///
/// impl ContractStore for MyStore {
///     fn audit_of(&self, customer: &CustomerId) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
///         let audit = self.audit.lock().map_err(|_| StoreError::new("audit lock poisoned"));
///         ready(audit.map(|records| {
///             records.iter().filter(|r| &r.customer == customer).map(AuditEntry::from).collect()
///         }))
///     }
/// }
/// ```
pub trait ContractStore: TokenStore + Send + Sync + 'static {
    /// The audit records committed for `customer`, in commit order: by
    /// version, then in their order within a commit.
    ///
    /// # Errors
    /// A [`StoreError`] if they cannot be read.
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

/// Where the suite gets its store handles: a function that opens a new
/// handle on the same store each time it is called (`|| async { .. }`
/// does), so that racers go through handles of their own.
pub trait Stores {
    /// The store the handles open.
    type Store: ContractStore;
    /// The handle, once opened.
    type Next: Future<Output = Self::Store>;
    /// Opens one more handle.
    fn next(&self) -> Self::Next;
}

impl<S, F, M> Stores for M
where
    S: ContractStore,
    F: Future<Output = S>,
    M: Fn() -> F,
{
    type Store = S;
    type Next = F;

    fn next(&self) -> F {
        self()
    }
}

/// What the suite reads of one audit record: enough to check the order,
/// the versions and the reasons, and what every store keeps (a database
/// store may keep the reason as its text only).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// [`AuditRecord::version`].
    pub version: u64,
    /// [`AuditRecord::event`].
    pub event: EventKind,
    /// [`AuditRecord::outcome`].
    pub outcome: Outcome,
    /// Who caused the event (the actor of [`AuditRecord::principal`]).
    pub actor: Actor,
    /// [`AuditRecord::from`].
    pub from: State,
    /// [`AuditRecord::to`].
    pub to: State,
    /// [`AuditRecord::reason`] as its `Display` text.
    pub reason: String,
}

impl AuditEntry {
    /// An entry from what a store kept of an audit record.
    #[must_use]
    pub fn new(
        version: u64,
        event: EventKind,
        outcome: Outcome,
        actor: Actor,
        from: State,
        to: State,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            version,
            event,
            outcome,
            actor,
            from,
            to,
            reason: reason.into(),
        }
    }
}

impl From<&AuditRecord> for AuditEntry {
    fn from(r: &AuditRecord) -> Self {
        Self::new(
            r.version,
            r.event,
            r.outcome,
            r.principal.actor(),
            r.from,
            r.to,
            r.reason.to_string(),
        )
    }
}

impl fmt::Display for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v{} {} by {} {} -> {} {}: {}",
            self.version, self.event, self.actor, self.from, self.to, self.outcome, self.reason
        )
    }
}

/// The `MemoryStore`'s audit log, read (not drained) for the customer.
impl ContractStore for MemoryStore<AuditLog> {
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        let entries = self
            .audit()
            .records()
            .iter()
            .filter(|r| &r.customer == customer)
            .map(AuditEntry::from)
            .collect();
        core::future::ready(Ok(entries))
    }
}

impl<S: ContractStore> ContractStore for Arc<S> {
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        (**self).audit_of(customer)
    }
}

/// Drives the suite's futures: one to completion, or several at once.
pub trait Executor: Sync {
    /// Runs `future` to completion on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Runs `requests` at once, released together as near to the same
    /// instant as can be; their answers in order, `None` for one that did
    /// not complete (it panicked).
    ///
    /// By default each request gets an OS thread of its own that waits at
    /// a barrier, then drives it with [`Executor::block_on`]. Override it
    /// to race tasks of an async runtime instead.
    fn race<F>(&self, requests: Vec<F>) -> Vec<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let barrier = Barrier::new(requests.len());
        std::thread::scope(|s| {
            let handles: Vec<_> = requests
                .into_iter()
                .map(|request| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        self.block_on(request)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        })
    }
}

/// The executor for stores whose futures need no async runtime (the
/// `MemoryStore`, a store on blocking I/O): the lifecycle's own
/// [`Blocking`](crate::lifecycle::Blocking) executor, which parks the thread
/// between polls.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl Executor for Inline {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::lifecycle::block_on(future)
    }
}

/// How hard the suite tries: trials per concurrency property, and requests
/// raced in each.
///
/// ```
/// use otpguard::testing::store_contract::Contract;
/// let c = Contract::new().trials(200).racers(16);
/// assert_eq!((c.trials_per_property(), c.racers_per_trial()), (200, 16));
/// assert_eq!(Contract::new().racers(3).racers_per_trial(), Contract::MIN_RACERS);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contract {
    trials: usize,
    racers: usize,
}

impl Contract {
    /// The fewest requests raced: the lock-out property needs more than
    /// its 5 wrong codes.
    pub const MIN_RACERS: usize = 8;
    /// The most requests raced (a genuine code racing wrong ones needs a
    /// lock-out maximum above them, and the maximum is at most 100).
    pub const MAX_RACERS: usize = 64;

    /// 20 trials of 16 requests.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            trials: 20,
            racers: 16,
        }
    }

    /// Trials per concurrency property (each on a customer of its own).
    #[must_use]
    pub const fn trials(mut self, trials: usize) -> Self {
        self.trials = trials;
        self
    }

    /// Requests raced per trial, within [`Contract::MIN_RACERS`] and
    /// [`Contract::MAX_RACERS`] (a number outside is taken as the nearest
    /// bound).
    #[must_use]
    pub const fn racers(mut self, racers: usize) -> Self {
        self.racers = if racers < Self::MIN_RACERS {
            Self::MIN_RACERS
        } else if racers > Self::MAX_RACERS {
            Self::MAX_RACERS
        } else {
            racers
        };
        self
    }

    /// See [`Contract::trials`].
    #[must_use]
    pub const fn trials_per_property(&self) -> usize {
        self.trials
    }

    /// See [`Contract::racers`].
    #[must_use]
    pub const fn racers_per_trial(&self) -> usize {
        self.racers
    }
}

impl Default for Contract {
    fn default() -> Self {
        Self::new()
    }
}

/// What a concurrency property saw over its trials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    /// Trials run.
    pub trials: usize,
    /// Requests accepted.
    pub accepted: usize,
    /// Requests refused as replays.
    pub replayed: usize,
    /// Wrong codes counted (answered `WrongCode`).
    pub counted: usize,
    /// Answers that locked the token out.
    pub locked_out: usize,
    /// Requests refused because the token was already locked.
    pub refused_locked: usize,
    /// Audit entries the trials left, registrations included.
    pub audit_entries: usize,
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "trials={} accepted={} replayed={} counted={} locked_out={} refused_as_locked={} audit_entries={}",
            self.trials,
            self.accepted,
            self.replayed,
            self.counted,
            self.locked_out,
            self.refused_locked,
            self.audit_entries
        )
    }
}

/// What [`run`] did: the totals of each concurrency property, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Each concurrency property's name and totals, in the order run.
    pub properties: Vec<(&'static str, Totals)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, totals) in &self.properties {
            writeln!(f, "{name}: {totals}")?;
        }
        Ok(())
    }
}

/// The store broke the contract: which check, and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("store contract, {check}: {message}")]
pub struct ContractViolation {
    check: &'static str,
    message: String,
}

impl ContractViolation {
    pub(crate) fn new(check: &'static str, message: impl Into<String>) -> Self {
        Self {
            check,
            message: message.into(),
        }
    }

    /// The check that failed (its function's name, in words).
    #[must_use]
    pub const fn check(&self) -> &'static str {
        self.check
    }

    /// What the store did.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Runs every check: [`commits`], [`records_round_trip`],
/// [`serials_belong_to_their_customer`], then the three concurrency
/// properties.
///
/// # Errors
/// The first [`ContractViolation`] found.
pub fn run<E, M>(contract: &Contract, executor: &E, stores: M) -> Result<Report, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    commits(executor, || stores.next())?;
    records_round_trip(executor, || stores.next())?;
    serials_belong_to_their_customer(executor, || stores.next())?;
    Ok(Report {
        properties: vec![
            (
                checks::ONE_CODE,
                one_code_many_times(contract, executor, || stores.next())?,
            ),
            (
                checks::GENUINE,
                genuine_code_racing_wrong_codes(contract, executor, || stores.next())?,
            ),
            (
                checks::LOCKOUT,
                wrong_codes_against_the_lockout(contract, executor, || stores.next())?,
            ),
        ],
    })
}

/// The commit contract, commit by commit (see the [module](self) docs).
///
/// # Errors
/// A [`ContractViolation`] naming what the store did wrong.
pub fn commits<E, M>(executor: &E, stores: M) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::commits(executor, &stores)
}

/// Every field of a record survives the store: a bank's journey on the
/// store and on a `MemoryStore` twin agree at every step (see the
/// [module](self) docs).
///
/// # Errors
/// A [`ContractViolation`] naming the step and the difference.
pub fn records_round_trip<E, M>(executor: &E, stores: M) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::records_round_trip(executor, &stores)
}

/// A serial names a token within its customer's record only: two
/// customers register under the same serial, and each token answers for
/// its own customer only.
///
/// # Errors
/// A [`ContractViolation`] naming what the store did wrong.
pub fn serials_belong_to_their_customer<E, M>(
    executor: &E,
    stores: M,
) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::serials(executor, &stores)
}

/// One valid code submitted by every racer at once: exactly one is
/// accepted, every other is a replay of the same step, nothing is
/// counted, and each answer has its audit entry.
///
/// # Errors
/// A [`ContractViolation`] naming the trial and what went wrong.
pub fn one_code_many_times<E, M>(
    contract: &Contract,
    executor: &E,
    stores: M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::one_code(contract, executor, &stores)
}

/// A genuine code racing wrong ones (the lock-out maximum above their
/// number): the genuine one is accepted, every wrong one is counted, the
/// counts run from 1 before the acceptance and again after it, and every
/// answer committed a version of its own.
///
/// # Errors
/// A [`ContractViolation`] naming the trial and what went wrong.
pub fn genuine_code_racing_wrong_codes<E, M>(
    contract: &Contract,
    executor: &E,
    stores: M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::genuine(contract, executor, &stores)
}

/// Wrong codes racing against a lock-out maximum of 5: exactly 5 are
/// counted, exactly one locks the token out (the System's suspension in
/// the same commit), and every other is refused as locked.
///
/// # Errors
/// A [`ContractViolation`] naming the trial and what went wrong.
pub fn wrong_codes_against_the_lockout<E, M>(
    contract: &Contract,
    executor: &E,
    stores: M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    checks::lockout(contract, executor, &stores)
}
