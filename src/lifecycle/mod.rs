#![doc = include_str!("../../docs/lifecycle.md")]
//!
//! ## Using it
//!
//! The backend keeps one [`TokenRecord`] per customer and one
//! [`Lifecycle`] (settings, [replay guard](crate::replay), [`Clock`](crate::Clock),
//! [`AuditSink`]). For each request it loads the record, calls
//! [`Lifecycle::apply`] (or [`Lifecycle::verify_transaction`],
//! [`Lifecycle::login`]) with the [`Actor`] it authenticated, and saves the
//! record with compare-and-swap on [`TokenRecord::version`] if the event was
//! accepted or [`LifecycleError::record_changed`].
//!
//! - The table is [`TABLE`]; [`lookup`] finds a row; [`auditor_page`]
//!   renders the page above.
//! - Every code is checked by the one private verification path: window
//!   match, then [`Match::claim`](crate::Match::claim) on the replay guard
//!   under the token's serial; only the resulting [`Accepted`](crate::Accepted)
//!   lets a code-guarded row through.
//! - With the `serde` feature the record is stored through `WithSecrets`,
//!   an explicit opt-in; [`TokenRecord::summary`] is the secret-free view.
//!
//! ```
//! use otpguard::lifecycle::{Actor, Event, Lifecycle, LifecycleConfig, State, SuspendReason, TokenRecord, VecSink};
//! use otpguard::{replay::MemoryGuard, FixedClock};
//!
//! let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), FixedClock::new(0), VecSink::default());
//! let mut record = TokenRecord::new();
//! // No token yet: nothing to suspend, and the refusal is audited.
//! let err = lc.apply(&mut record, Actor::Operator, Event::Suspend { reason: SuspendReason::Operator });
//! assert!(err.is_err());
//! assert_eq!(record.state(), State::Unregistered);
//! assert_eq!(lc.audit_sink().take().len(), 1);
//! ```

mod actor;
mod audit;
mod config;
mod diagram;
mod engine;
mod error;
mod event;
mod record;
mod serial;
mod state;
#[cfg(feature = "serde")]
mod stored;
mod table;

pub use actor::Actor;
pub use audit::{AuditReason, AuditRecord, AuditSink, FnSink, Outcome, VecSink};
pub use config::{LifecycleConfig, LifecycleConfigBuilder};
pub use diagram::{auditor_page, REGENERATE};
pub use engine::{Applied, Lifecycle, LoginCheck};
pub use error::{ConfigError, LifecycleError, SerialError};
pub use event::{Event, EventKind, ReissueReason};
pub use record::{PendingSwap, RecordSummary, TokenRecord};
pub use serial::TokenSerial;
pub use state::{State, SuspendReason};
#[cfg(feature = "serde")]
pub use stored::WithSecrets;
pub use table::{lookup, Effect, Guard, Transition, NEVER, TABLE};
