//! The bank's own statements in the database transaction of an accepted
//! code: the payment commits with the code, or neither does.
//!
//! The engine decides as for any request; only the commit differs. An
//! acceptance's statement runs in a transaction that is left open
//! ([`InTransaction`]); a refusal's commits at once, as always. If the code
//! was accepted, the bank's statements run on that transaction; then the
//! transaction is checked to be still open and still the one holding the
//! acceptance, and it commits. If the bank's statements fail, or the
//! database refuses the commit, it rolls back (the code is not spent) and
//! the refusal of the event is committed as any other.

use core::future::Future;
use core::pin::Pin;

use sqlx::{PgConnection, Postgres, Transaction as PgTransaction};

use super::super::answer::{Authorized, PendingProof};
use super::super::attempt::{Answer, Request};
use super::super::calls::authorize;
use super::super::engine::Committer;
use super::super::event::EnteredCode;
use super::super::store::{Commit, CommitOutcome};
use super::super::{CustomerId, Event, Lifecycle, LifecycleError, Principal, RequestContext};
use super::{in_runtime, PostgresStore};
use crate::ocra::Transaction;
use crate::seal::Sealer;
use crate::{Clock, StoreError};

/// What the bank's statements return: a boxed future borrowing the open
/// transaction, as sqlx's own `Connection::transaction` takes.
pub type BookingFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Whether the transaction is still open and still holds the acceptance:
/// the customer's row carries this transaction's id (an aborted transaction
/// answers an error; one the bank's statements ended answers no row).
/// With it, whether the bank's statements turned `synchronous_commit` off
/// (from what the session had: the database's own setting is
/// `require_durability`'s to judge).
const STILL_OURS: &str = "SELECT (SELECT setting = 'off' AND reset_val <> 'off' \
     FROM pg_catalog.pg_settings WHERE name = 'synchronous_commit') AS turned_off \
     FROM otpguard_token_records \
     WHERE customer_id = $1 AND version = $2 \
     AND xmin = pg_catalog.pg_current_xact_id_if_assigned()::xid";

/// Why a code and the bank's statements did not both commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BookingError<E> {
    /// The lifecycle's answer: the code was refused (the refusal is
    /// committed), or the store failed before anything was accepted.
    /// Nothing of the bank's ran.
    #[error(transparent)]
    Lifecycle(LifecycleError),
    /// The code was accepted, but the bank's statements failed with
    /// `error`: neither they nor the acceptance committed, so the code was
    /// not spent, and the refusal ([`LifecycleError::BookingFailed`]) was
    /// audited, unless `audit` says why it could not be.
    #[error("the bank's statements failed; nothing was committed")]
    Booking {
        /// What the bank's statements returned.
        #[source]
        error: E,
        /// Why the refusal could not be audited (a database gone down), if
        /// it could not.
        audit: Option<LifecycleError>,
    },
    /// The bank's statements returned `Ok`, but the database rolled the
    /// transaction back: a statement had failed in it (and its error was
    /// not returned), or the database refused the commit (a deferred
    /// constraint). Nothing committed, the code was not spent, and the
    /// refusal was audited unless `audit` says why it could not be.
    #[error("the database did not commit the bank's statements: {error}")]
    RolledBack {
        /// What the database answered.
        error: StoreError,
        /// Why the refusal could not be audited, if it could not.
        audit: Option<LifecycleError>,
    },
    /// Whether anything committed is not known: the connection was lost
    /// while the commit was under way (the database committed both or
    /// neither: look the payment up), or the bank's statements ended the
    /// transaction themselves (`COMMIT` or `ROLLBACK` on the connection,
    /// which they must never send).
    #[error("whether the code and the bank's statements committed is not known: {0}")]
    OutcomeUnknown(StoreError),
}

/// Commits an acceptance in a transaction left open for the bank's
/// statements, and a refusal at once.
struct InTransaction<'s, S> {
    store: &'s PostgresStore<S>,
    open: Option<PgTransaction<'static, Postgres>>,
}

impl<S: Sealer + Sync> Committer for InTransaction<'_, S> {
    async fn commit(
        &mut self,
        mut commit: Commit<'_>,
        accepted: bool,
    ) -> Result<CommitOutcome, StoreError> {
        in_runtime()?;
        if !accepted {
            // A refusal (a counted wrong code, its audit) commits now,
            // whatever becomes of the request afterwards: on the load's
            // connection.
            return self.store.commit_kept(&mut commit).await;
        }
        // The transaction left open for the bank takes a connection of its
        // own: the load's goes back first (a pool of one would otherwise
        // wait for itself).
        drop(commit.held.postgres.take());
        let mut tx = self.store.begin().await?;
        let outcome = self.store.commit_on(&commit, &mut *tx).await;
        match outcome {
            Ok(CommitOutcome::Committed) => {
                self.open = Some(tx);
                Ok(CommitOutcome::Committed)
            }
            other => {
                // Nothing to keep: a conflict wrote nothing, an error
                // leaves the transaction aborted. Dropping it rolls back if
                // the rollback itself cannot be sent.
                let _ = tx.rollback().await;
                other
            }
        }
    }
}

impl<S: Sealer + Sync, C: Clock> Lifecycle<PostgresStore<S>, C> {
    /// [`verify_transaction`](Lifecycle::verify_transaction), with the
    /// bank's own statements (booking the transfer the code authorises) in
    /// the same database transaction as the code's acceptance: both commit
    /// or neither does.
    ///
    /// `book` runs only if the code is accepted, on the open transaction,
    /// with a [`PendingProof`] (to record the token and step beside the
    /// payment; it is not yet committed: act on nothing outside the
    /// transaction). If it returns `Ok` and the transaction commits, the
    /// answer is the [`Authorized`] with `book`'s value. If it returns
    /// `Err`, or the database rolls the transaction back, the payment is
    /// not booked, the code is not spent (the customer may send it again
    /// while it is valid), and the refusal is audited
    /// ([`LifecycleError::BookingFailed`]). A refused code never runs
    /// `book`, and its refusal commits at once.
    ///
    /// What `book` must keep to:
    /// - run its statements on the connection it is given, never on
    ///   another (they would commit on their own);
    /// - send no `COMMIT`, `ROLLBACK` or `BEGIN` (the call then answers
    ///   [`BookingError::OutcomeUnknown`]), and `SET LOCAL` rather than
    ///   `SET` (never `synchronous_commit = off`: the transaction is then
    ///   rolled back);
    /// - return the error of a statement that failed rather than go on
    ///   (the database rolls back anyway: [`BookingError::RolledBack`]);
    /// - be quick, and call no lifecycle method for the same customer: the
    ///   customer's row stays locked until it returns (bound it with
    ///   `SET LOCAL statement_timeout` and `lock_timeout` in the bank's
    ///   statements, and `idle_in_transaction_session_timeout` on the
    ///   application's role for a closure that stops sending statements).
    ///
    /// ```no_run
    /// use otpguard::lifecycle::postgres::{sqlx, BookingError, PostgresStore};
    /// use otpguard::lifecycle::{CustomerId, Lifecycle, Principal, RequestContext};
    /// # async fn handler(lc: &Lifecycle<PostgresStore>, alice: &CustomerId, web: &Principal, code: &str, ctx: &RequestContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let booked = lc
    ///     .verify_transaction_with(alice, web, code, ctx, |tx, _pending| {
    ///         let customer = alice.to_string();
    ///         Box::pin(async move {
    ///             sqlx::query("INSERT INTO payments (customer, amount) VALUES ($1, $2)")
    ///                 .bind(customer)
    ///                 .bind(50_000_i64)
    ///                 .execute(&mut *tx)
    ///                 .await
    ///         })
    ///     })
    ///     .await;
    /// match booked {
    ///     Ok((_proof, _done)) => {} // booked, and the code spent
    ///     Err(BookingError::Booking { .. } | BookingError::RolledBack { .. }) => {} // neither
    ///     Err(BookingError::OutcomeUnknown(_)) => {} // look the payment up
    ///     Err(BookingError::Lifecycle(e)) => return Err(e.into()),
    ///     Err(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookingError::Lifecycle`] as [`verify_transaction`](Lifecycle::verify_transaction);
    /// [`BookingError::Booking`] if `book` failed; [`BookingError::RolledBack`]
    /// if the database did not commit; [`BookingError::OutcomeUnknown`] if
    /// the connection was lost at the commit.
    pub async fn verify_transaction_with<T, E, F>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: &str,
        ctx: &RequestContext,
        book: F,
    ) -> Result<(Authorized, T), BookingError<E>>
    where
        F: for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, T, E>,
    {
        let request = Request::Event(Event::VerifyTransaction {
            code: EnteredCode::new(code),
        });
        self.booked(customer, by, &request, ctx, book).await
    }

    /// [`sign_transaction`](Lifecycle::sign_transaction), with the bank's
    /// statements in the same database transaction as the signature's
    /// acceptance, as [`verify_transaction_with`](Self::verify_transaction_with)
    /// does for a code (and on the same terms).
    ///
    /// # Errors
    /// As [`verify_transaction_with`](Self::verify_transaction_with), with
    /// [`BookingError::Lifecycle`] as [`sign_transaction`](Lifecycle::sign_transaction).
    pub async fn sign_transaction_with<T, E, F>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        transaction: &Transaction,
        response: &str,
        ctx: &RequestContext,
        book: F,
    ) -> Result<(Authorized, T), BookingError<E>>
    where
        F: for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, T, E>,
    {
        let request = Request::Event(Event::SignTransaction {
            transaction: transaction.clone(),
            response: EnteredCode::new(response),
        });
        self.booked(customer, by, &request, ctx, book).await
    }

    async fn booked<T, E, F>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        request: &Request,
        ctx: &RequestContext,
        book: F,
    ) -> Result<(Authorized, T), BookingError<E>>
    where
        F: for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, T, E>,
    {
        let kind = match request {
            Request::Event(event) => event.kind(),
            Request::Login(_) | Request::BookingFailed { .. } => {
                return Err(BookingError::Lifecycle(LifecycleError::Internal(
                    "a booking of a request that authorises no transaction",
                )))
            }
        };
        let mut committer = InTransaction {
            store: self.store(),
            open: None,
        };
        let ran = self
            .run_with(customer, by, request, ctx, &mut committer)
            .await;
        let open = committer.open.take();
        // A refusal committed at once; an acceptance left its transaction
        // open.
        let (answer, version, transaction) = ran.map_err(BookingError::Lifecycle)?;
        let (
            Some(mut tx),
            Answer::Applied {
                proof: Some(proof), ..
            },
        ) = (open, answer)
        else {
            return Err(BookingError::Lifecycle(LifecycleError::Internal(
                "an accepted code without its proof or its transaction",
            )));
        };
        let pending = PendingProof(authorize(proof, kind, version, transaction));
        let booked = book(&mut tx, &pending).await;
        let value = match booked {
            Ok(value) => value,
            Err(error) => {
                // Rolled back: the code is not spent. A rollback that cannot
                // be sent (a lost connection) leaves nothing either: the
                // server aborts a transaction whose connection is gone.
                let _ = tx.rollback().await;
                let audit = self
                    .refuse_booking(customer, by, kind, transaction, ctx)
                    .await;
                return Err(BookingError::Booking { error, audit });
            }
        };
        // The transaction must still be open and still hold the acceptance:
        // a statement that failed without its error being returned aborted
        // it (and COMMIT would answer ROLLBACK without an error); a COMMIT
        // or ROLLBACK sent by the bank's statements ended it.
        let db_version = i64::try_from(version)
            .map_err(|_| BookingError::Lifecycle(LifecycleError::VersionExhausted))?;
        let still = sqlx::query(STILL_OURS)
            .bind(customer.as_str())
            .bind(db_version)
            .fetch_optional(&mut *tx)
            .await;
        match still {
            Ok(Some(row)) => {
                use sqlx::Row;
                let turned_off: Result<bool, _> = row.try_get("turned_off");
                if !matches!(turned_off, Ok(false)) {
                    let _ = tx.rollback().await;
                    let audit = self
                        .refuse_booking(customer, by, kind, transaction, ctx)
                        .await;
                    return Err(BookingError::RolledBack {
                        error: StoreError::new(
                            "the bank's statements turned synchronous_commit off: the \
                             acceptance could be lost in a crash, so nothing was committed",
                        ),
                        audit,
                    });
                }
            }
            Ok(None) => {
                let _ = tx.rollback().await;
                return Err(BookingError::OutcomeUnknown(StoreError::new(
                    "the bank's statements ended the transaction (COMMIT or ROLLBACK):                      the acceptance and the booking may have committed apart",
                )));
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(self
                    .rolled_back(customer, by, kind, transaction, ctx, e)
                    .await);
            }
        }
        match tx.commit().await {
            Ok(()) => Ok((pending.0, value)),
            // The server answered the COMMIT with an error: it rolled back.
            Err(e @ sqlx::Error::Database(_)) => Err(self
                .rolled_back(customer, by, kind, transaction, ctx, e)
                .await),
            Err(e) => Err(BookingError::OutcomeUnknown(StoreError::with_source(
                "PostgreSQL: the connection failed during the commit of the accepted code and                  the bank's statements; the database committed both or neither",
                e,
            ))),
        }
    }

    /// The answer to a transaction the database rolled back, its refusal
    /// audited.
    async fn rolled_back<E>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        kind: super::super::EventKind,
        transaction: Option<[u8; 32]>,
        ctx: &RequestContext,
        e: sqlx::Error,
    ) -> BookingError<E> {
        let audit = self
            .refuse_booking(customer, by, kind, transaction, ctx)
            .await;
        BookingError::RolledBack {
            error: StoreError::with_source("PostgreSQL: the transaction was rolled back", e),
            audit,
        }
    }

    /// Commits the refusal of an event whose booking failed; `None` once
    /// it is committed, or why it could not be.
    async fn refuse_booking(
        &self,
        customer: &CustomerId,
        by: &Principal,
        kind: super::super::EventKind,
        transaction: Option<[u8; 32]>,
        ctx: &RequestContext,
    ) -> Option<LifecycleError> {
        let refusal = Request::BookingFailed { kind, transaction };
        match self.run(customer, by, &refusal, ctx).await {
            Err(LifecycleError::BookingFailed) => None,
            Err(other) => Some(other),
            Ok(_) => Some(LifecycleError::Internal(
                "the refusal of a failed booking was accepted",
            )),
        }
    }
}
