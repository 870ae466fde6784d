//! The async Redis guard.

use core::fmt;

use super::{claim_script, outcome, RedisConfig};
use crate::replay::{AsyncReplayGuard, ClaimOutcome};
use crate::StoreError;

/// An [`AsyncReplayGuard`] on a Redis server, for async code: a claim is one
/// non-blocking round trip on an async connection, so the runtime's threads
/// keep serving other tasks meanwhile. See the [module
/// documentation](super) for the script, expiry and failure rules.
///
/// `C` is any cloneable async Redis connection: a
/// [`MultiplexedConnection`](redis::aio::MultiplexedConnection) (cheap to
/// clone, all clones share one socket) or a `ConnectionManager` (which also
/// reconnects). Each claim works on its own clone. Bound the wait with the
/// connection's response timeout
/// (`AsyncConnectionConfig::set_response_timeout`); a timeout refuses the
/// code. The runtime is the one the connection was made for: with tokio,
/// depend on `redis = { version = "0.32", features = ["tokio-comp"] }`.
///
/// ```no_run
/// # use otpguard::replay::ReplayKey;
/// use otpguard::{Secret, Totp, Window};
/// use otpguard::replay::redis::{AsyncRedisGuard, RedisConfig};
///
/// # async fn handler() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let guard = AsyncRedisGuard::new(
///     client.get_multiplexed_async_connection().await?,
///     RedisConfig::default(),
/// );
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::builder(&secret).build()?;
/// let accepted = totp
///     .verify("123456", 1_700_000_000, Window::default())?
///     .claim_async(&guard, ReplayKey::new("customer-42/token-1"))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncRedisGuard<C> {
    connection: C,
    config: RedisConfig,
    script: redis::Script,
}

impl<C> AsyncRedisGuard<C> {
    /// A guard that claims over `connection`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use otpguard::replay::redis::{AsyncRedisGuard, RedisConfig};
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let guard = AsyncRedisGuard::new(
    ///     client.get_multiplexed_async_connection().await?,
    ///     RedisConfig::default().key_prefix("bank:otp:")?,
    /// );
    /// # Ok(()) }
    /// ```
    pub fn new(connection: C, config: RedisConfig) -> Self {
        Self {
            connection,
            config,
            script: claim_script(),
        }
    }

    /// The key prefix and retention in use.
    ///
    /// ```no_run
    /// # async fn f() -> redis::RedisResult<()> {
    /// use otpguard::replay::redis::{AsyncRedisGuard, RedisConfig};
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let guard = AsyncRedisGuard::new(client.get_multiplexed_async_connection().await?, RedisConfig::default());
    /// assert_eq!(guard.config(), &RedisConfig::default());
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }
}

impl<C> AsyncReplayGuard for AsyncRedisGuard<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    async fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        let mut connection = self.connection.clone();
        let invocation = self.config.invocation(&self.script, token, step);
        outcome(step, invocation.invoke_async(&mut connection).await)
    }
}

impl<C> fmt::Debug for AsyncRedisGuard<C> {
    /// Leaves out the connection, whose address may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRedisGuard")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
