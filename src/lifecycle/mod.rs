//! The token lifecycle: each customer's token through registration, use,
//! swap, suspension and reissue, as one atomic call per event.
//!
//! A backend needs one [`Lifecycle`] (settings, a [`TokenStore`](store::TokenStore), a
//! [`Clock`](crate::Clock)) and a handler per endpoint. Each handler says
//! who ([`Principal`]) caused which [`Event`] for which customer
//! ([`CustomerId`]); the lifecycle loads the record, decides by the
//! [transition table](rules), checks the code, and commits the new record
//! and the event's [`AuditRecord`](audit::AuditRecord)s in one atomic store operation,
//! retrying by itself when another request committed first. What it
//! returns was committed; an [`Authorized`] exists only for a committed
//! code.
//!
//! # What the library guarantees
//!
//! - **Single use lives in the record.** Each token keeps the last time
//!   step it accepted; a code is accepted only for a strictly greater step,
//!   committed atomically with the rest. No cache or replay store is needed
//!   for correctness. A step already accepted is refused as
//!   [`LifecycleError::Replayed`]: audited as a replay, not counted, record
//!   unchanged.
//! - **Concurrency.** Whatever the number of concurrent requests for one
//!   customer, on any store that keeps the [`TokenStore`](store::TokenStore) contract:
//!   - N submissions of one valid code: exactly one is accepted, the others
//!     are `Replayed`, and no failure is counted;
//!   - a genuine code racing wrong codes is accepted (a lost commit is
//!     decided again at the time the code arrived, never turned into a
//!     refusal), unless the wrong codes reached the lock-out first or every
//!     attempt lost (`Contended`);
//!   - N wrong codes: exactly `max_failures` are counted and answered
//!     [`LifecycleError::WrongCode`], exactly one locks the token out, and
//!     every later one is refused as locked.
//! - **Audit is the truth.** Every answer given to a caller has exactly one
//!   audit record for its event, committed with it (plus one for each thing
//!   the System did in the same commit: a swap time-out, a lock-out); an
//!   attempt that lost a conflict leaves nothing. Answers that say the store
//!   failed or stayed contended (`Store`, `Contended`, `Corrupt`) have no
//!   audit record: nothing could be committed. Records name the
//!   principal and the request context, never a secret or a code. If the
//!   audit cannot be written, nothing is committed and the event fails.
//! - **Identity.** A token is known by a random [`TokenId`] bound to one
//!   record, never by the serial the customer types: customers whose tokens
//!   share a serial cannot affect each other.
//! - **No token comes back.** A new secret equal to the current one or to
//!   any retired one is refused (keyed fingerprints, compared in constant
//!   time; the record keeps no retired secret), as is a retired serial.
//! - **Time-outs need no sweeper.** A pending swap past its deadline is
//!   timed out by the first event that touches the record (audited as
//!   `SwapTimeout` by the System).
//!
//! # Async
//!
//! ```
//! use otpguard::lifecycle::{CustomerId, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, Principal, RequestContext};
//! use otpguard::SystemClock;
//! use std::sync::Arc;
//!
//! async fn transfer(lc: &Lifecycle<MemoryStore>, customer: &str, code: &str) -> Result<u64, Box<dyn std::error::Error>> {
//!     let web = Principal::customer(Label::new("web")?);
//!     let proof = lc.verify_transaction(&CustomerId::new(customer)?, &web, code, &RequestContext::new()).await?;
//!     Ok(proof.version()) // pass `proof` on to the payment
//! }
//!
//! # #[tokio::main]
//! # async fn main() {
//! let lc = Arc::new(Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), SystemClock));
//! let task = tokio::spawn({
//!     let lc = Arc::clone(&lc);
//!     async move { transfer(&lc, "c-1", "123456").await.is_err() }
//! });
//! assert!(task.await.unwrap_or(false)); // no token registered: refused and audited
//! # }
//! ```
//!
//! # Blocking
//!
//! ```
//! use otpguard::lifecycle::{CustomerId, Label, Lifecycle, LifecycleConfig, MemoryStore, Principal, RequestContext};
//! use otpguard::SystemClock;
//!
//! let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), SystemClock);
//! let web = Principal::customer(Label::new("web")?);
//! let uri = lc.blocking().provision(&CustomerId::new("c-1")?, &web, "alice", &RequestContext::new())?;
//! // Show `uri.to_uri()` as a QR code; register with the first code.
//! # drop(uri);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The auditors' view, the table and its page, is [`rules`]; the bank's
//! flows it serves are in `docs/bank-flows.md`.

// Where things live, in the order a request passes through them:
//   calls.rs     the methods a handler calls
//   engine.rs    load, decide, commit; again on a conflict
//   attempt.rs   one attempt: a due swap time-out, login, the row, a wrong
//                code counted, the audit records (pure)
//   decide.rs    the row of the table and the check it needs (pure)
//   table.rs     THE transition table, its types checked at compile time
//   check.rs     the code, pair or signature; the only place a proof is built
//   effect.rs    the next record (pure)
//   store.rs     the store contract and the in-memory store
// The record and its stored forms: record.rs, drift.rs, fingerprint.rs,
// sealed.rs, stored.rs, postgres/. The words the table speaks: event.rs,
// state.rs, actor.rs, identity.rs, serial.rs, answer.rs, audit.rs
// (read back through reader.rs), error.rs, config.rs, throttle.rs, names.rs. The auditors' page:
// diagram.rs, generated from table.rs.
mod actor;
mod answer;
mod attempt;
pub mod audit;
mod blocking;
mod calls;
#[cfg(feature = "seal")]
mod chain;
mod check;
pub mod config;
mod decide;
mod diagram;
mod drift;
mod effect;
mod engine;
pub mod error;
mod event;
mod fingerprint;
mod identity;
mod names;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod reader;
mod record;
#[cfg(feature = "seal")]
mod sealed;
mod serial;
mod state;
pub mod store;
#[cfg(feature = "serde")]
mod stored;
mod table;
mod throttle;

// What a handler needs, at the top; the rest where a reader looks for it
// (`audit`, `config`, `error`, `store`, `rules`).
pub use answer::{Applied, Authorized, Claimed, LoginCheck, PendingProof};
#[cfg(feature = "testing")]
pub(crate) use blocking::block_on;
pub use blocking::Blocking;
pub use config::LifecycleConfig;
pub use engine::Lifecycle;
pub use error::{AnswerPolicy, CustomerAnswer, ErrorCategory, LifecycleError};
pub use event::{EnteredCode, Event, NewSecret, ReissueReason, SwapTo};
pub use identity::{CustomerId, Label, Principal, RequestContext};
pub use serial::TokenSerial;
pub use state::{State, SuspendReason};
pub use store::MemoryStore;

// The names the lifecycle's own files use from here.
use actor::Actor;
use audit::Outcome;
use drift::DriftEstimate;
use event::EventKind;
use identity::TokenId;
use record::{PendingSwap, TokenRecord};

/// What auditors read: the transition table, its lookup, and the page
/// generated from it. The engine applies this table and nothing else,
/// except the one rule the page states beside it: a login while the
/// login OTP is off asks for no code and changes nothing.
///
#[doc = include_str!("../../docs/lifecycle.md")]
pub mod rules {
    pub use super::actor::Actor;
    pub use super::diagram::{auditor_page, REGENERATE};
    pub use super::event::EventKind;
    pub use super::table::{lookup, Effect, Guard, Transition, NEVER, TABLE};
}
