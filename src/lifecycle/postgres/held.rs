//! The connection a request's load read on, kept for the same request's
//! commit: one checkout from the pool per request, not one per statement
//! (sqlx pings a connection each time it goes back, and by default at each
//! checkout too: a round trip each).

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::runtime::Handle;

use crate::StoreError;

/// A pooled connection, the pool it came from, and the runtime the load
/// ran on.
pub(crate) struct HeldConnection {
    /// `None` only once given up (or while dropped).
    connection: Option<PoolConnection<Postgres>>,
    /// Which pool: the address of its settings, which live as long as the
    /// pool, and the pool as long as the connection.
    pool: usize,
    runtime: Handle,
}

/// The identity of `pool` (shared by its clones).
fn identity(pool: &PgPool) -> usize {
    core::ptr::from_ref(pool.options()).addr()
}

impl HeldConnection {
    /// Keeps `connection`, taken from `pool` on the current runtime.
    ///
    /// # Errors
    /// Outside a Tokio runtime (the store's calls check that first).
    pub(crate) fn new(
        connection: PoolConnection<Postgres>,
        pool: &PgPool,
    ) -> Result<Self, StoreError> {
        let runtime = Handle::try_current().map_err(|_| {
            StoreError::new("PostgresStore needs a Tokio runtime to keep a connection")
        })?;
        Ok(Self {
            connection: Some(connection),
            pool: identity(pool),
            runtime,
        })
    }

    /// The connection, if it came from `pool`. A store that wraps two
    /// stores may commit through another one than it loaded through: that
    /// one takes a connection of its own, and this one goes back.
    pub(crate) fn take_for(mut self, pool: &PgPool) -> Option<PoolConnection<Postgres>> {
        if self.pool == identity(pool) {
            self.connection.take()
        } else {
            None
        }
    }
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            // sqlx gives a connection back in a task of its own, which needs
            // a runtime: dropped on a plain thread (a `Loaded` carried out
            // of the runtime), the one the load ran on takes the task.
            let _entered = Handle::try_current().is_err().then(|| self.runtime.enter());
            drop(connection);
        }
    }
}

impl core::fmt::Debug for HeldConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeldConnection")
            .field("held", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}
