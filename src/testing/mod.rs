//! Support for testing what is built on this crate (feature `testing`).
//!
//! Enable the feature for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! otpguard = { version = "0.1", features = ["testing"] }
//! ```
//!
//! - [`store_contract`]: the [`TokenStore`](crate::lifecycle::store::TokenStore)
//!   contract as a suite of checks a store runs against itself, the same
//!   suite this crate runs against its `MemoryStore` and `PostgresStore`.

pub mod store_contract;
