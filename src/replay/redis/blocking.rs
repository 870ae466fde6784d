//! The blocking Redis guard.

use core::fmt;
use std::sync::Mutex;
use std::time::Duration;

use super::{claim_script, outcome, RedisConfig};
use crate::replay::{ClaimOutcome, ReplayGuard};
use crate::StoreError;

/// A [`ReplayGuard`] on a Redis server, for blocking code (see the
/// [module documentation](super) for the script, expiry and failure rules).
///
/// It keeps a few idle connections and takes one per claim, so threads do
/// not wait for each other's round trips. A connection that saw any error is
/// dropped, not reused, since a late reply could otherwise be read as the
/// answer to the next claim. Every connect, read and write is bounded by the
/// timeout (default [`RedisGuard::DEFAULT_TIMEOUT`]).
///
/// Do not call it from an async task: it blocks the thread for a round trip.
/// Use [`AsyncRedisGuard`](super::AsyncRedisGuard) there.
///
/// ```no_run
/// # use otpguard::replay::ReplayKey;
/// use otpguard::{Secret, Totp, Window};
/// use otpguard::replay::redis::{RedisConfig, RedisGuard};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::builder(&secret).build()?;
/// let window = Window::default();
/// let guard = RedisGuard::open(
///     "redis://127.0.0.1:6379/",
///     RedisConfig::default().retention(totp.replay_retention(window))?,
/// )?;
/// let accepted = totp.verify_once("123456", 1_700_000_000, window, &guard, ReplayKey::new("customer-42/token-1"))?;
/// println!("accepted step {}", accepted.step());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisGuard {
    client: redis::Client,
    config: RedisConfig,
    script: redis::Script,
    timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
}

impl RedisGuard {
    /// The default bound on connecting and on each read and write.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// How many idle connections are kept for reuse.
    const MAX_IDLE: usize = 16;

    /// A guard on the server `client` points at. No connection is made
    /// until the first claim.
    ///
    /// ```
    /// use otpguard::replay::redis::{RedisConfig, RedisGuard};
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let guard = RedisGuard::new(client, RedisConfig::default());
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    #[must_use]
    pub fn new(client: redis::Client, config: RedisConfig) -> Self {
        Self {
            client,
            config,
            script: claim_script(),
            timeout: Self::DEFAULT_TIMEOUT,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A guard on the server at `url` (`redis://`, `rediss://` or
    /// `redis+unix://`). No connection is made until the first claim.
    ///
    /// # Errors
    /// A [`StoreError`] if `url` is not a valid Redis URL.
    ///
    /// ```
    /// use otpguard::replay::redis::{RedisConfig, RedisGuard};
    /// assert!(RedisGuard::open("redis://127.0.0.1:6379/", RedisConfig::default()).is_ok());
    /// assert!(RedisGuard::open("http://example.com/", RedisConfig::default()).is_err());
    /// ```
    pub fn open(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::with_source("invalid redis URL", e))?;
        Ok(Self::new(client, config))
    }

    /// Sets the bound on connecting and on each read and write.
    ///
    /// ```
    /// use otpguard::replay::redis::{RedisConfig, RedisGuard};
    /// use std::time::Duration;
    /// let guard = RedisGuard::open("redis://127.0.0.1/", RedisConfig::default())?
    ///     .timeout(Duration::from_millis(250));
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key prefix and retention in use.
    ///
    /// ```
    /// use otpguard::replay::redis::{RedisConfig, RedisGuard};
    /// let guard = RedisGuard::open("redis://127.0.0.1/", RedisConfig::default())?;
    /// assert_eq!(guard.config(), &RedisConfig::default());
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    fn connection(&self) -> Result<redis::Connection, StoreError> {
        let reused = self
            .idle
            .lock()
            .map_err(|_| StoreError::new("redis connection pool lock poisoned"))?
            .pop();
        if let Some(connection) = reused {
            return Ok(connection);
        }
        let connection = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| StoreError::with_source("cannot connect to redis", e))?;
        connection
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| connection.set_write_timeout(Some(self.timeout)))
            .map_err(|e| StoreError::with_source("cannot set redis timeouts", e))?;
        Ok(connection)
    }

    fn recycle(&self, connection: redis::Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < Self::MAX_IDLE {
                idle.push(connection);
            }
        }
    }
}

impl ReplayGuard for RedisGuard {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        let mut connection = self.connection()?;
        let reply = self
            .config
            .invocation(&self.script, token, step)
            .invoke(&mut connection);
        if reply.is_ok() {
            self.recycle(connection);
        }
        outcome(step, reply)
    }
}

impl fmt::Debug for RedisGuard {
    /// Leaves out the server address, which may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisGuard")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
