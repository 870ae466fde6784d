//! Replay protection for stateless verification: each code is accepted at
//! most once per token.
//!
//! The [lifecycle](crate::lifecycle) needs none of this: there, single use
//! lives in the token's record and commits atomically with it. A replay
//! guard is for backends that verify codes without the lifecycle.
//!
//! # The rule
//!
//! RFC 6238 §5.2 says a verifier must not accept a second attempt of a code
//! after the first was accepted. This library enforces something stronger:
//! for each token, a matched step is accepted only if it is **strictly
//! greater** than the last step accepted for that token, and the new step is
//! recorded in the **same atomic operation** as the comparison. So a code is
//! never accepted twice, and an older code (say, one shoulder-surfed or
//! intercepted a minute ago, still inside the look-behind window) is never
//! accepted after a newer one.
//!
//! # The contract of a guard
//!
//! A [`ReplayGuard`] (blocking) or [`AsyncReplayGuard`] (async) implements
//! one operation, `claim(token, step)`, which must:
//!
//! 1. atomically, with respect to every other claim on the same `token` by any
//!    thread or process sharing the store, compare `step` with the last
//!    recorded step `last` for `token`;
//! 2. if there is no record, or `step > last`: record `step` and return
//!    [`ClaimOutcome::Fresh`];
//! 3. otherwise change nothing and return
//!    [`ClaimOutcome::Replayed`] with `last`;
//! 4. if it cannot be sure which of these happened (timeout, lost connection,
//!    unexpected reply), return a [`StoreError`]. Verification then refuses
//!    the code: the library fails closed, never open.
//!
//! A guard may refuse a claim it cannot decide for sure (point 4), and it
//! may forget a token's record once no code of a step `<= last` can still
//! verify, which bounds its memory. How each guard here knows that:
//!
//! | guard | where | forgets a record when | why no replay gets back in |
//! |---|---|---|---|
//! | [`MemoryGuard`] | one process | its step is more than a horizon of `H` steps behind the newest step accepted | a claim with no record and a step that far behind is refused: proof on [`MemoryGuard`] |
//! | `redis::RedisGuard`, `redis::AsyncRedisGuard` (feature `redis`) | shared Redis | the key expires, a retention after the last fresh claim | after `(behind + ahead + 1)` periods no code of the step can verify: see the `redis` module |
//! | your SQL table ([`sql`]) | shared database | a cleanup job deletes it | as for the Redis guard |
//!
//! # Which guard
//!
//! One backend process: [`MemoryGuard`]. Several processes behind a load
//! balancer: a shared store, Redis (feature `redis`) or the bank's database
//! ([`sql`]), since a per-process guard would let each process accept the
//! same code once.
//!
//! # Proof of the check
//!
//! Verification yields a [`Match`]: the code was right. Only a
//! successful claim turns it into an [`Accepted`], a value no code outside
//! this crate can build. Code that needs an accepted OTP (a backend's own
//! "authorise transfer" function) should take an `Accepted` as an argument, so that forgetting the
//! replay check is a compile error rather than a review comment.
//!
//! # Wiring it into a backend
//!
//! The one-call methods [`Totp::verify_once`](crate::Totp::verify_once) and
//! [`Totp::verify_once_async`](crate::Totp::verify_once_async) (and the
//! same on [`Hotp`](crate::Hotp)) check the code and claim its step; the two
//! halves are also available as [`Totp::verify`](crate::Totp::verify) then
//! [`Match::claim`] / [`Match::claim_async`]. The token id is the backend's
//! stable identifier of the registered token (not the customer's name, and
//! never the secret); a new token after a swap or reissue gets a new id.
//!
//! Blocking code (threads, a synchronous web framework) holds one guard for
//! the whole process, shared by reference or in an `Arc`:
//!
//! ```
//! use otpguard::{Accepted, ClaimError, Secret, Totp, VerifyError, Window};
//! use otpguard::replay::{MemoryGuard, ReplayKey};
//! use std::sync::Arc;
//!
//! /// Anything that moves money takes the proof, so it cannot run on an
//! /// unchecked code.
//! fn authorise_transfer(_proof: Accepted, amount: u64) -> u64 { amount }
//!
//! let secret = Secret::from_bytes(b"12345678901234567890")?;
//! let totp = Totp::builder(&secret).digits(8).build()?;
//! let guard = Arc::new(MemoryGuard::for_window(Window::default()));
//!
//! let worker = {
//!     let guard = Arc::clone(&guard);
//!     let totp = totp.clone();
//!     std::thread::spawn(move || totp.verify_once("94287082", 59, Window::default(), &*guard, ReplayKey::new("token-1")))
//! };
//! let first = worker.join().map_err(|_| "worker panicked")?;
//! let second = totp.verify_once("94287082", 59, Window::default(), &*guard, ReplayKey::new("token-1"));
//!
//! assert_eq!(authorise_transfer(first?, 100), 100);
//! assert!(matches!(second, Err(VerifyError::Claim(ClaimError::Replayed { .. }))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Async code (tokio) awaits the claim on an [`AsyncReplayGuard`]: the
//! [`MemoryGuard`] (which never blocks), the Redis guard
//! `replay::redis::AsyncRedisGuard` (feature `redis`), or the backend's own
//! (see [`sql`] for PostgreSQL). Do not call a blocking network guard from a
//! task; wrap it in `tokio::task::spawn_blocking` if there is no async one.
//!
//! ```
//! use otpguard::{Secret, Totp, Window};
//! use otpguard::replay::{AsyncReplayGuard, MemoryGuard, ReplayKey};
//! use std::sync::Arc;
//!
//! async fn handle<G: AsyncReplayGuard + Sync>(
//!     totp: &Totp,
//!     guard: &G,
//!     token_id: &str,
//!     code: &str,
//!     now: u64,
//! ) -> Result<u64, otpguard::VerifyError> {
//!     let accepted = totp.verify_once_async(code, now, Window::default(), guard, ReplayKey::new(token_id)).await?;
//!     Ok(accepted.step())
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = Secret::from_bytes(b"12345678901234567890")?;
//! let totp = Arc::new(Totp::builder(&secret).digits(8).build()?);
//! let guard = Arc::new(MemoryGuard::default());
//! let task = tokio::spawn({
//!     let (totp, guard) = (Arc::clone(&totp), Arc::clone(&guard));
//!     async move { handle(&totp, &*guard, "token-1", "94287082", 59).await }
//! });
//! assert_eq!(task.await??, 1);
//! assert!(handle(&totp, &*guard, "token-1", "94287082", 59).await.is_err());
//! # Ok(()) }
//! ```

use crate::{ClaimError, Match, StoreError};

/// The backend's id of a token in a replay guard: its own type, so that it
/// cannot be swapped with the code (both are text) without a compile error.
///
/// Use a stable id of the registered token (not the customer's name, and
/// never the secret); a new token after a swap or reissue gets a new id.
///
/// ```
/// use otpguard::replay::ReplayKey;
/// let key = ReplayKey::new("customer-42/token-1");
/// assert_eq!(key.as_str(), "customer-42/token-1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayKey<'a>(&'a str);

impl<'a> ReplayKey<'a> {
    /// The token id `id`.
    #[must_use]
    pub const fn new(id: &'a str) -> Self {
        Self(id)
    }

    /// The id as text.
    #[must_use]
    pub const fn as_str(self) -> &'a str {
        self.0
    }
}

/// What a replay guard found when asked to claim a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The step was newer than any accepted before for this token, and is now
    /// recorded as the last accepted step.
    Fresh,
    /// The step was not newer than the last accepted step; nothing changed.
    Replayed {
        /// The last step accepted for this token.
        last_accepted: u64,
    },
}

/// A store that records the last accepted step of each token, for blocking
/// code. See the [module documentation](self) for the contract.
///
/// ```
/// use otpguard::replay::{ClaimOutcome, ReplayGuard};
/// use otpguard::StoreError;
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// /// A minimal guard: one lock around a map (fine for a test, not sharded).
/// struct Simple(Mutex<HashMap<String, u64>>);
///
/// impl ReplayGuard for Simple {
///     fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
///         let mut map = self.0.lock().map_err(|_| StoreError::new("lock poisoned"))?;
///         match map.get(token) {
///             Some(&last) if step <= last => Ok(ClaimOutcome::Replayed { last_accepted: last }),
///             _ => {
///                 map.insert(token.to_owned(), step);
///                 Ok(ClaimOutcome::Fresh)
///             }
///         }
///     }
/// }
///
/// let g = Simple(Mutex::new(HashMap::new()));
/// assert_eq!(g.claim("t", 5)?, ClaimOutcome::Fresh);
/// assert_eq!(g.claim("t", 5)?, ClaimOutcome::Replayed { last_accepted: 5 });
/// assert_eq!(g.claim("t", 4)?, ClaimOutcome::Replayed { last_accepted: 5 });
/// # Ok::<(), StoreError>(())
/// ```
pub trait ReplayGuard {
    /// Atomically: if `step` is greater than the last step recorded for
    /// `token` (or none is), record it and return [`ClaimOutcome::Fresh`];
    /// otherwise return [`ClaimOutcome::Replayed`].
    ///
    /// # Errors
    /// A [`StoreError`] whenever the outcome is not known for certain.
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError>;
}

impl<G: ReplayGuard + ?Sized> ReplayGuard for &G {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        (**self).claim(token, step)
    }
}

impl<G: ReplayGuard + ?Sized> ReplayGuard for std::sync::Arc<G> {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        (**self).claim(token, step)
    }
}

/// The async twin of [`ReplayGuard`], for stores reached over the network
/// from an async runtime (tokio and others) without blocking it. Same
/// contract.
///
/// ```
/// use otpguard::replay::{AsyncReplayGuard, ClaimOutcome, ReplayGuard};
/// use otpguard::StoreError;
///
/// /// Wraps a fast in-process guard for async callers.
/// struct Wrap<G>(G);
///
/// impl<G: ReplayGuard + Sync> AsyncReplayGuard for Wrap<G> {
///     async fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
///         self.0.claim(token, step)
///     }
/// }
/// ```
pub trait AsyncReplayGuard {
    /// See [`ReplayGuard::claim`].
    ///
    /// # Errors
    /// A [`StoreError`] whenever the outcome is not known for certain.
    fn claim(
        &self,
        token: &str,
        step: u64,
    ) -> impl core::future::Future<Output = Result<ClaimOutcome, StoreError>> + Send;
}

impl<G: AsyncReplayGuard + Sync + ?Sized> AsyncReplayGuard for &G {
    fn claim(
        &self,
        token: &str,
        step: u64,
    ) -> impl core::future::Future<Output = Result<ClaimOutcome, StoreError>> + Send {
        (**self).claim(token, step)
    }
}

impl<G: AsyncReplayGuard + Send + Sync + ?Sized> AsyncReplayGuard for std::sync::Arc<G> {
    fn claim(
        &self,
        token: &str,
        step: u64,
    ) -> impl core::future::Future<Output = Result<ClaimOutcome, StoreError>> + Send {
        (**self).claim(token, step)
    }
}

/// The in-memory guard never waits on I/O and holds its lock only for a map
/// lookup, never across an `.await`, so async code may use it directly.
impl AsyncReplayGuard for MemoryGuard {
    fn claim(
        &self,
        token: &str,
        step: u64,
    ) -> impl core::future::Future<Output = Result<ClaimOutcome, StoreError>> + Send {
        core::future::ready(MemoryGuard::claim(self, token, step))
    }
}

/// Proof that a code matched **and** won its replay claim: the only value
/// that says "this OTP is accepted". It can only be made inside this crate,
/// by [`Match::claim`] or [`Match::claim_async`].
///
/// ```
/// use otpguard::{Secret, Totp, Window};
/// use otpguard::replay::{MemoryGuard, ReplayKey};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::builder(&secret).digits(8).build()?;
/// let guard = MemoryGuard::default();
///
/// let accepted = totp.verify("94287082", 59, Window::default())?.claim(&guard, ReplayKey::new("token-1"))?;
/// assert_eq!(accepted.step(), 1);
/// // The same code again is a replay.
/// assert!(totp.verify("94287082", 59, Window::default())?.claim(&guard, ReplayKey::new("token-1")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    step: u64,
    offset: i64,
}

impl Accepted {
    /// The step that was accepted (now the token's last accepted step).
    ///
    /// ```
    /// # use otpguard::replay::ReplayKey;
    /// # use otpguard::{Secret, Totp, Window, replay::MemoryGuard};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = Totp::builder(&secret).digits(8).build()?;
    /// let a = totp.verify("94287082", 59, Window::EXACT)?.claim(&MemoryGuard::default(), ReplayKey::new("t"))?;
    /// assert_eq!(a.step(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn step(&self) -> u64 {
        self.step
    }

    /// Drift of the accepted code in steps (see [`Match::offset`]).
    ///
    /// ```
    /// # use otpguard::replay::ReplayKey;
    /// # use otpguard::{Secret, Totp, Window, replay::MemoryGuard};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = Totp::builder(&secret).digits(8).build()?;
    /// let a = totp.verify("94287082", 89, Window::default())?.claim(&MemoryGuard::default(), ReplayKey::new("t"))?;
    /// assert_eq!(a.offset(), -1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn offset(&self) -> i64 {
        self.offset
    }
}

impl Match {
    fn settle(self, outcome: Result<ClaimOutcome, StoreError>) -> Result<Accepted, ClaimError> {
        match outcome {
            Ok(ClaimOutcome::Fresh) => Ok(Accepted {
                step: self.step,
                offset: self.offset,
            }),
            Ok(ClaimOutcome::Replayed { last_accepted }) => Err(ClaimError::Replayed {
                step: self.step,
                last_accepted,
            }),
            Err(e) => Err(ClaimError::Store(e)),
        }
    }

    /// Claims this match's step for `token` on a blocking guard.
    ///
    /// # Errors
    /// [`ClaimError::Replayed`] if the step is not newer than the last one
    /// accepted for `token`; [`ClaimError::Store`] if the guard failed (the
    /// code is then refused).
    ///
    /// ```
    /// # use otpguard::replay::ReplayKey;
    /// # use otpguard::{Secret, Totp, Window, ClaimError, replay::MemoryGuard};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = Totp::builder(&secret).digits(8).build()?;
    /// let guard = MemoryGuard::default();
    /// let m = totp.verify("94287082", 59, Window::EXACT)?;
    /// assert!(m.claim(&guard, ReplayKey::new("t")).is_ok());
    /// assert!(matches!(m.claim(&guard, ReplayKey::new("t")), Err(ClaimError::Replayed { step: 1, last_accepted: 1 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claim<G: ReplayGuard + ?Sized>(
        self,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, ClaimError> {
        self.settle(guard.claim(token.as_str(), self.step))
    }

    /// Claims this match's step for `token` on an async guard.
    ///
    /// # Errors
    /// As [`Match::claim`].
    ///
    /// ```
    /// # use otpguard::replay::ReplayKey;
    /// # use otpguard::{Secret, Totp, Window, replay::{AsyncReplayGuard, ClaimOutcome}};
    /// # use otpguard::StoreError;
    /// struct AlwaysFresh;
    /// impl AsyncReplayGuard for AlwaysFresh {
    ///     async fn claim(&self, _: &str, _: u64) -> Result<ClaimOutcome, StoreError> {
    ///         Ok(ClaimOutcome::Fresh)
    ///     }
    /// }
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = Totp::builder(&secret).digits(8).build()?;
    /// let m = totp.verify("94287082", 59, Window::EXACT)?;
    /// let fut = m.claim_async(&AlwaysFresh, ReplayKey::new("t")); // .await it in your runtime
    /// # drop(fut);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn claim_async<G: AsyncReplayGuard + ?Sized>(
        self,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, ClaimError> {
        self.settle(guard.claim(token.as_str(), self.step).await)
    }
}

mod memory;
mod once;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod sql;

pub use memory::MemoryGuard;
