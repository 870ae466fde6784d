//! Helpers shared by integration tests.
#![allow(
    clippy::arithmetic_side_effects,
    dead_code,
    clippy::unwrap_used,
    clippy::panic
)]

pub mod audit_sink;
pub mod leaks;
#[cfg(feature = "postgres")]
pub mod pg_lifecycle;
pub mod postgres_server;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod vectors;
pub mod wipe;
