//! How to implement the replay hook on PostgreSQL (documentation only).
//!
//! # The statement
//!
//! One conditional statement does the compare and the record together:
//!
//! ```sql
//! CREATE TABLE otp_replay (
//!     token     TEXT   PRIMARY KEY,
//!     last_step BIGINT NOT NULL
//! );
//!
//! -- $1 = token id, $2 = claimed step
//! INSERT INTO otp_replay (token, last_step) VALUES ($1, $2)
//! ON CONFLICT (token) DO UPDATE SET last_step = EXCLUDED.last_step
//!     WHERE otp_replay.last_step < EXCLUDED.last_step;
//! ```
//!
//! One row affected means fresh (a first claim inserted the row, or a newer
//! step updated it); zero rows means replayed. Because a claim inserts the
//! row it needs, old rows may be deleted (below) and a later claim simply
//! creates the row again.
//!
//! A variant keeps one row per registered token, created at registration
//! with `last_step = -1`, and claims with the plain
//! `UPDATE otp_replay SET last_step = $2 WHERE token = $1 AND last_step < $2`
//! (same reading of the row count). With it, **never delete rows**: a
//! missing row makes every later claim update nothing, which reads as
//! "replayed", and the token's owner is locked out for good. Use the upsert
//! above wherever rows are cleaned up.
//!
//! # Why it is atomic
//!
//! Under PostgreSQL's default `READ COMMITTED` isolation, an `UPDATE` (or the
//! `DO UPDATE` arm) locks the row it changes until its transaction ends. A
//! second claim on the same token waits for that lock, then evaluates its
//! `WHERE` again against the row as the first claim left it, so it sees the
//! new `last_step` and updates nothing. For a token without a row, the
//! primary key admits one `INSERT`; a racing one waits for it and then takes
//! the `DO UPDATE` path, with the same re-check. Of any number of claims of
//! one step, on any number of connections and hosts, exactly one affects a
//! row. Under `REPEATABLE READ` or `SERIALIZABLE` the loser gets a
//! serialization error instead, which the guard reports as a
//! [`StoreError`](crate::StoreError): refused either way.
//!
//! Run the statement in its own transaction (autocommit), and let it commit
//! before acting on the [`Accepted`](crate::Accepted): if an enclosing
//! transaction rolled back after the code was accepted, the claim would be
//! undone and the code could be used again.
//!
//! Steps are `BIGINT` (signed 64 bits); TOTP steps fit with a wide margin, and
//! a step above `i64::MAX` is refused as a store error rather than wrapped.
//!
//! # Cleaning up (upsert variant only)
//!
//! A row whose step is older than any code that can still verify can go.
//! The job computes "now" with the database's own clock and keeps a margin
//! for the verifying hosts' clocks, which may run behind it:
//!
//! ```sql
//! -- $1 = period in seconds, $2 = steps behind the window (its look-behind
//! -- plus one), $3 = margin in steps for clock skew between the verifying
//! -- hosts and the database (at least 1; more if hosts may drift further)
//! DELETE FROM otp_replay
//!  WHERE last_step < floor(extract(epoch FROM now()) / $1)::bigint - $2 - $3;
//! ```
//!
//! A host whose clock is `d` seconds behind the database still verifies
//! codes of steps up to `ceil(d / period)` older than the database's step
//! minus the look-behind; a row is deleted only once its step is older than
//! that too (with `$3` covering the skew), so no code of a deleted step can
//! verify any more (see [`MemoryGuard`](crate::replay::MemoryGuard) for the
//! same argument), and a later claim of a verifiable step inserts a fresh row
//! above it. This holds for TOTP tokens sharing one period; keep HOTP rows
//! (their counters do not age), and never run the job with the update-only
//! variant. `tests/replay_sql.rs` runs these statements against a real
//! PostgreSQL server.
//!
//! # Blocking code (the `postgres` crate)
//!
//! `postgres::Client::execute` takes `&mut self`, so a guard holds a client
//! behind a lock (or, better, a connection pool) to implement
//! [`ReplayGuard`](crate::replay::ReplayGuard), which takes `&self`. Here
//! `Sql` stands in for `postgres::Client` (same `execute` shape) so that the
//! example compiles without a database:
//!
//! ```
//! use otpguard::replay::{ClaimOutcome, ReplayGuard};
//! use otpguard::StoreError;
//! use std::sync::Mutex;
//!
//! /// Stand-in for `postgres::ToSql`.
//! pub trait ToSql: std::fmt::Debug {}
//! impl ToSql for &str {}
//! impl ToSql for i64 {}
//!
//! /// Stand-in for `postgres::Client`: `execute` returns the rows affected,
//! /// `query_last_step` stands for `query_opt(...)` and `row.get(0)`.
//! pub trait Sql {
//!     type Error: std::error::Error + Send + Sync + 'static;
//!     fn execute(&mut self, query: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Self::Error>;
//!     fn query_last_step(&mut self, token: &str) -> Result<Option<i64>, Self::Error>;
//! }
//!
//! const CLAIM: &str = "INSERT INTO otp_replay (token, last_step) VALUES ($1, $2) \
//!     ON CONFLICT (token) DO UPDATE SET last_step = EXCLUDED.last_step \
//!     WHERE otp_replay.last_step < EXCLUDED.last_step";
//!
//! pub struct PgGuard<C>(Mutex<C>);
//!
//! impl<C: Sql> ReplayGuard for PgGuard<C> {
//!     fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
//!         let step = i64::try_from(step).map_err(|_| StoreError::new("step exceeds BIGINT"))?;
//!         let mut client = self.0.lock().map_err(|_| StoreError::new("lock poisoned"))?;
//!         let rows = client
//!             .execute(CLAIM, &[&token, &step])
//!             .map_err(|e| StoreError::with_source("replay claim failed", e))?;
//!         match rows {
//!             1 => Ok(ClaimOutcome::Fresh),
//!             0 => {
//!                 // The decision is already made; this read only fills in
//!                 // the report for the log.
//!                 let last = client
//!                     .query_last_step(token)
//!                     .map_err(|e| StoreError::with_source("replay lookup failed", e))?
//!                     .and_then(|last| u64::try_from(last).ok())
//!                     .ok_or_else(|| StoreError::new("replayed, but no valid last step"))?;
//!                 Ok(ClaimOutcome::Replayed { last_accepted: last })
//!             }
//!             _ => Err(StoreError::new("replay claim affected more than one row")),
//!         }
//!     }
//! }
//! ```
//!
//! A backend then verifies with `totp.verify_once(code, now, window,
//! &pg_guard, ReplayKey::new(token_id))` and acts only on the returned
//! [`Accepted`](crate::Accepted).
//!
//! # Async code (`tokio-postgres`)
//!
//! `tokio_postgres::Client::execute` is an `async fn` on `&self`, so the
//! guard implements [`AsyncReplayGuard`](crate::replay::AsyncReplayGuard)
//! directly and the claim never blocks the runtime. Again `AsyncSql` stands
//! in for the client:
//!
//! ```
//! use otpguard::replay::{AsyncReplayGuard, ClaimOutcome, ReplayKey};
//! use otpguard::{StoreError, Totp, Window};
//! use std::future::Future;
//!
//! pub trait ToSql: std::fmt::Debug {}
//! impl ToSql for &str {}
//! impl ToSql for i64 {}
//!
//! /// Stand-in for `tokio_postgres::Client`.
//! pub trait AsyncSql: Sync {
//!     type Error: std::error::Error + Send + Sync + 'static;
//!     fn execute(
//!         &self,
//!         query: &str,
//!         params: &[&(dyn ToSql + Sync)],
//!     ) -> impl Future<Output = Result<u64, Self::Error>> + Send;
//!     fn query_last_step(&self, token: &str)
//!         -> impl Future<Output = Result<Option<i64>, Self::Error>> + Send;
//! }
//!
//! pub struct AsyncPgGuard<C>(C);
//!
//! impl<C: AsyncSql> AsyncReplayGuard for AsyncPgGuard<C> {
//!     async fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
//!         let step = i64::try_from(step).map_err(|_| StoreError::new("step exceeds BIGINT"))?;
//!         let rows = self
//!             .0
//!             .execute(
//!                 "UPDATE otp_replay SET last_step = $2 WHERE token = $1 AND last_step < $2",
//!                 &[&token, &step],
//!             )
//!             .await
//!             .map_err(|e| StoreError::with_source("replay claim failed", e))?;
//!         match rows {
//!             1 => Ok(ClaimOutcome::Fresh),
//!             // The row exists from registration, so 0 rows is a replay (a
//!             // missing row is refused too). The read only fills in the report.
//!             0 => {
//!                 let last = self
//!                     .0
//!                     .query_last_step(token)
//!                     .await
//!                     .map_err(|e| StoreError::with_source("replay lookup failed", e))?
//!                     .and_then(|last| u64::try_from(last).ok())
//!                     .ok_or_else(|| StoreError::new("no registered row for this token"))?;
//!                 Ok(ClaimOutcome::Replayed { last_accepted: last })
//!             }
//!             _ => Err(StoreError::new("replay claim affected more than one row")),
//!         }
//!     }
//! }
//!
//! /// A request handler.
//! pub async fn authorise<C: AsyncSql>(
//!     totp: &Totp,
//!     guard: &AsyncPgGuard<C>,
//!     token_id: &str,
//!     code: &str,
//!     now: u64,
//! ) -> Result<otpguard::Accepted, otpguard::VerifyError> {
//!     totp.verify_once_async(code, now, Window::default(), guard, ReplayKey::new(token_id)).await
//! }
//! ```
