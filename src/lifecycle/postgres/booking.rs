//! The bank's own statements in the database transaction of an accepted
//! code: the payment commits with the code, or neither does.
//!
//! The engine decides as for any request; only the commit differs. Each
//! attempt's statement runs in a transaction of its own that is left open
//! ([`InTransaction`]). If the code was accepted, the bank's statements run
//! on that transaction and it commits once they succeed; if they fail, it
//! rolls back (the code is not spent) and the refusal of the event is
//! committed as any other. A refused code's transaction commits at once,
//! with nothing of the bank's.

use core::future::Future;
use core::pin::Pin;

use sqlx::{PgConnection, Postgres, Transaction as PgTransaction};

use super::super::answer::Authorized;
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

/// Why a code and the bank's statements did not both commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BookingError<E> {
    /// The lifecycle's answer: the code was refused (the refusal is
    /// committed), or the store failed. The bank's statements did not
    /// run, or ran and did not commit. One case is not known for certain:
    /// a [`LifecycleError::Store`] whose message says the final commit
    /// failed, where the connection was lost while the database committed
    /// both or neither; look the payment up to tell which.
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
}

/// Commits each attempt in a transaction left open for the bank's
/// statements.
struct InTransaction<'s, S> {
    store: &'s PostgresStore<S>,
    open: Option<PgTransaction<'static, Postgres>>,
}

impl<S: Sealer + Sync> Committer for InTransaction<'_, S> {
    async fn commit(&mut self, commit: Commit<'_>) -> Result<CommitOutcome, StoreError> {
        in_runtime()?;
        // An earlier attempt's transaction holds nothing once it conflicted
        // (it is rolled back below); none is open here.
        let mut tx =
            self.store.pool.begin().await.map_err(|e| {
                StoreError::with_source("PostgreSQL: starting a transaction failed", e)
            })?;
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
    /// with the proof (to record the token and step beside the payment). If
    /// it returns `Ok`, the transaction commits and the answer is the proof
    /// with `book`'s value. If it returns `Err`, the transaction rolls back:
    /// the payment is not booked, the code is not spent (the customer may
    /// send it again while it is valid), and the refusal is audited
    /// ([`LifecycleError::BookingFailed`]). A refused code never runs
    /// `book`. While `book` runs, the customer's row stays locked: keep it
    /// to the bank's own statements.
    ///
    /// ```no_run
    /// use otpguard::lifecycle::postgres::{sqlx, BookingError, PostgresStore};
    /// use otpguard::lifecycle::{CustomerId, Lifecycle, Principal, RequestContext};
    /// # async fn handler(lc: &Lifecycle<PostgresStore>, alice: &CustomerId, web: &Principal, code: &str, ctx: &RequestContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let booked = lc
    ///     .verify_transaction_with(alice, web, code, ctx, |tx, _proof| {
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
    ///     Err(BookingError::Booking { .. }) => {} // not booked, code not spent
    ///     Err(BookingError::Lifecycle(e)) => return Err(e.into()),
    ///     Err(_) => {}
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookingError::Lifecycle`] as [`verify_transaction`](Lifecycle::verify_transaction);
    /// [`BookingError::Booking`] if `book` failed.
    pub async fn verify_transaction_with<T, E, F>(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: &str,
        ctx: &RequestContext,
        book: F,
    ) -> Result<(Authorized, T), BookingError<E>>
    where
        F: for<'c> FnOnce(&'c mut PgConnection, &'c Authorized) -> BookingFuture<'c, T, E>,
    {
        let request = Request::Event(Event::VerifyTransaction {
            code: EnteredCode::new(code),
        });
        self.booked(customer, by, &request, ctx, book).await
    }

    /// [`sign_transaction`](Lifecycle::sign_transaction), with the bank's
    /// statements in the same database transaction as the signature's
    /// acceptance, as [`verify_transaction_with`](Self::verify_transaction_with)
    /// does for a code.
    ///
    /// # Errors
    /// [`BookingError::Lifecycle`] as [`sign_transaction`](Lifecycle::sign_transaction);
    /// [`BookingError::Booking`] if `book` failed.
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
        F: for<'c> FnOnce(&'c mut PgConnection, &'c Authorized) -> BookingFuture<'c, T, E>,
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
        F: for<'c> FnOnce(&'c mut PgConnection, &'c Authorized) -> BookingFuture<'c, T, E>,
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
        let (answer, version, transaction) = match ran {
            Ok(done) => done,
            Err(e) => {
                // A refusal's commit (its audit, a counted wrong code) is
                // in the open transaction: it commits now.
                if let Some(tx) = open {
                    tx.commit().await.map_err(|c| {
                        BookingError::Lifecycle(LifecycleError::Store(StoreError::with_source(
                            "PostgreSQL: the final commit of a refusal failed; whether it \
                             committed is not known",
                            c,
                        )))
                    })?;
                }
                return Err(BookingError::Lifecycle(e));
            }
        };
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
        let authorized = authorize(proof, kind, version, transaction);
        match book(&mut tx, &authorized).await {
            Ok(value) => match tx.commit().await {
                Ok(()) => Ok((authorized, value)),
                Err(e) => Err(BookingError::Lifecycle(LifecycleError::Store(
                    StoreError::with_source(
                        "PostgreSQL: the final commit of the accepted code and the bank's \
                         statements failed; whether both or neither committed is not known",
                        e,
                    ),
                ))),
            },
            Err(error) => {
                drop(authorized);
                // Rolled back: the code is not spent. A rollback that cannot
                // be sent (a lost connection) leaves nothing either: the
                // server aborts a transaction whose connection is gone.
                let _ = tx.rollback().await;
                let refusal = Request::BookingFailed { kind, transaction };
                let audit = match self.run(customer, by, &refusal, ctx).await {
                    Err(LifecycleError::BookingFailed) => None,
                    Err(other) => Some(other),
                    Ok(_) => Some(LifecycleError::Internal(
                        "the refusal of a failed booking was accepted",
                    )),
                };
                Err(BookingError::Booking { error, audit })
            }
        }
    }
}
