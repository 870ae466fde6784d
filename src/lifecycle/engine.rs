//! The engine: the load, decide, commit loop of one request. It loads the
//! customer's record, has one attempt decided on it (`attempt.rs`, pure),
//! and commits the attempt's record and audit records in one atomic store
//! operation; on a conflict it loads and decides again. The methods a
//! handler calls are in `calls.rs`.

use super::attempt::{attempt, Answer, Attempt, AuditHeader, Request};
use super::store::{Commit, CommitOutcome, TokenStore};
use super::{CustomerId, LifecycleConfig, LifecycleError, Principal, RequestContext};
use crate::{Clock, SystemClock};

/// The token lifecycle of every customer in one [`TokenStore`](super::store::TokenStore).
///
/// The backend says "this principal caused this event for this customer";
/// the lifecycle loads the customer's record, decides by the
/// [transition table](super::rules::TABLE), checks the code, and commits
/// the new record together with the event's audit records in one atomic
/// store operation. On a conflict (another request committed first) it
/// loads and decides again, up to
/// [`LifecycleConfig::max_attempts`]. The backend writes no
/// compare-and-swap loop and never saves a record.
///
/// Async first; [`Lifecycle::blocking`] serves synchronous code with the
/// same lifecycle.
///
/// ```
/// use otpguard::lifecycle::{CustomerId, Event, Label, Lifecycle, LifecycleConfig, MemoryStore, NewSecret, Principal, RequestContext, State, TokenSerial};
/// use otpguard::{Clock, FixedClock, KeyUri};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = FixedClock::new(1_700_000_000);
/// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), &clock);
/// let alice = CustomerId::new("c-1001")?;
/// let web = Principal::customer(Label::new("web")?);
/// let ctx = RequestContext::new();
///
/// // The bank provisions a secret; the phone scans the Key URI.
/// let uri = lc.blocking().provision(&alice, &web, "alice", &ctx)?;
/// let phone = KeyUri::parse(&uri.to_uri())?.to_totp()?;
///
/// // Its first code registers the token.
/// let code = phone.generate(clock.now())?.to_string();
/// lc.blocking().submit(&alice, &web, Event::Register {
///     serial: TokenSerial::new("SN-1")?,
///     secret: NewSecret::Provisioned,
///     code: code.as_str().into(),
/// }, &ctx)?;
///
/// // A later code authorises a transfer, once.
/// clock.advance(30);
/// let code = phone.generate(clock.now())?.to_string();
/// let proof = lc.blocking().verify_transaction(&alice, &web, &code, &ctx)?;
/// assert_eq!(proof.drift(), 0);
/// assert!(lc.blocking().verify_transaction(&alice, &web, &code, &ctx).is_err());
/// assert_eq!(lc.store().snapshot(&alice).map(|r| r.state()), Some(State::Active));
/// assert_eq!(lc.store().audit().len(), 4);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lifecycle<S, C = SystemClock> {
    config: LifecycleConfig,
    store: S,
    clock: C,
}

impl<S: TokenStore, C: Clock> Lifecycle<S, C> {
    /// A lifecycle over `store`, reading the time from `clock` (pass
    /// `&clock` to keep using it).
    pub const fn new(config: LifecycleConfig, store: S, clock: C) -> Self {
        Self {
            config,
            store,
            clock,
        }
    }

    /// The settings.
    pub const fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The store (to read a [`MemoryStore`](super::MemoryStore)'s records
    /// or audit log, say).
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The answer to give the customer for `error`, under this
    /// lifecycle's [`AnswerPolicy`](super::AnswerPolicy)
    /// ([`LifecycleConfig::answers`]).
    #[must_use]
    pub const fn customer_answer(&self, error: &LifecycleError) -> super::CustomerAnswer {
        error.customer_answer(self.config.answers())
    }

    /// Load, decide, commit; again on a conflict. Answers with the
    /// committed version and the digest of the transaction signed, if any.
    pub(super) async fn run(
        &self,
        customer: &CustomerId,
        by: &Principal,
        request: &Request,
        ctx: &RequestContext,
    ) -> Result<(Answer, u64, Option<[u8; 32]>), LifecycleError> {
        self.run_with(customer, by, request, ctx, &mut ThroughStore(&self.store))
            .await
    }

    /// [`run`](Self::run), with each attempt's commit made by `committer`.
    pub(super) async fn run_with<K: Committer>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        request: &Request,
        ctx: &RequestContext,
        committer: &mut K,
    ) -> Result<(Answer, u64, Option<[u8; 32]>), LifecycleError> {
        let transaction = match request {
            Request::Event(event) => event.transaction_digest(),
            Request::Login(_) => None,
            Request::BookingFailed { transaction, .. } => *transaction,
        };
        let attempts = self.config.max_attempts();
        // One time for the whole request: a code decided again after a lost
        // conflict is judged at the moment it arrived, not pushed out of
        // its window by the retries.
        let now = self.clock.now();
        for _ in 0..attempts {
            let corrupt_or_store = |e: crate::StoreError| {
                if e.is_corrupt() {
                    LifecycleError::Corrupt(e)
                } else {
                    LifecycleError::Store(e)
                }
            };
            #[cfg(feature = "seal")]
            let (loaded, audit_head, held) = {
                let loaded = self
                    .store
                    .load_with_head(customer)
                    .await
                    .map_err(corrupt_or_store)?;
                (
                    loaded.record.unwrap_or_default(),
                    loaded.audit_head,
                    loaded.held,
                )
            };
            #[cfg(not(feature = "seal"))]
            let loaded = self
                .store
                .load(customer)
                .await
                .map_err(corrupt_or_store)?
                .unwrap_or_default();
            let header = AuditHeader {
                customer,
                by,
                ctx,
                now,
                transaction,
            };
            let expected = loaded.version;
            let Attempt {
                record,
                audit,
                answer,
            } = attempt(&self.config, &header, request, loaded);
            let version = record.as_ref().map_or(expected, |r| r.version);
            let commit = Commit {
                customer,
                expected_version: expected,
                record,
                audit: audit.as_slice(),
                #[cfg(feature = "seal")]
                audit_head,
                #[cfg(feature = "seal")]
                held,
            };
            // A store that finds the customer's stored data inconsistent
            // while committing (PostgreSQL: an audit head its trail does not
            // hold) says so as it would on a load.
            let outcome = committer
                .commit(commit, answer.is_ok())
                .await
                .map_err(corrupt_or_store)?;
            match outcome {
                CommitOutcome::Committed => {
                    return answer.map(|answer| (answer, version, transaction))
                }
                CommitOutcome::Conflict => {}
            }
        }
        Err(LifecycleError::Contended { attempts })
    }
}

/// How the engine makes one attempt's commit: through the store (every
/// request), or in a transaction left open for the bank's own statements
/// (a booking on PostgreSQL).
pub(super) trait Committer {
    /// Commits as [`TokenStore::commit`] does; `accepted` says whether the
    /// attempt's answer is an acceptance (a refusal is committed at once,
    /// whatever the committer).
    fn commit(
        &mut self,
        commit: Commit<'_>,
        accepted: bool,
    ) -> impl core::future::Future<Output = Result<CommitOutcome, crate::StoreError>> + Send;
}

/// Commits through the store.
struct ThroughStore<'s, S>(&'s S);

impl<S: TokenStore> Committer for ThroughStore<'_, S> {
    fn commit(
        &mut self,
        commit: Commit<'_>,
        _accepted: bool,
    ) -> impl core::future::Future<Output = Result<CommitOutcome, crate::StoreError>> + Send {
        self.0.commit(commit)
    }
}
