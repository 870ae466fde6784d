//! Replay guards on a shared Redis server (cargo feature `redis`), for
//! several backend processes behind a load balancer.
//!
//! # The atomic step
//!
//! Each claim is one Lua script, run by `EVALSHA` (loaded on first use),
//! on the key `prefix + token` (the token id with `:` and `%` escaped).
//! Redis runs a script to completion before any other command, so
//! comparing the stored step with the claimed one and storing the new one
//! is a single atomic step for every client of the server: of several processes racing the same claim, exactly one sees
//! [`Fresh`](super::ClaimOutcome::Fresh).
//!
//! Steps are stored as decimal strings and compared digit-exactly, never as
//! Lua numbers: those are doubles, which cannot tell 2^53 from 2^53 + 1.
//! A stored value that is not a canonical decimal `u64` makes the script
//! fail, so the claim is refused rather than compared against junk.
//!
//! # Expiry
//!
//! A fresh claim sets the key with `PX retention`, so idle tokens leave no
//! keys behind. A record may expire once no code of a step up to it can
//! still verify. For TOTP, a step accepted at server step `c` is at least
//! `c - ahead`, and codes of that step or older stop verifying once the
//! server reaches step `c + behind + ahead + 1`, that is at most
//! `(behind + ahead + 1) × period` seconds later. So the retention must be
//! at least that, plus a margin for clock differences between the verifying
//! hosts and Redis; [`Totp::replay_retention`](crate::Totp::replay_retention)
//! computes it with one period of margin, and [`DEFAULT_RETENTION`] covers
//! any window of a 30-second TOTP. HOTP counters do not expire with time: use
//! [`RedisConfig::no_expiry`] for them.
//!
//! # Failing closed
//!
//! Any error (connection refused, timeout, `NOSCRIPT` that cannot be
//! loaded, an unexpected reply) becomes a [`StoreError`],
//! and verification refuses the code. A timeout does not say whether the
//! script ran; the code is refused either way, and the user enters the next
//! one.
//!
//! # Replication
//!
//! Redis replicates asynchronously: if the primary fails over before a claim
//! reached its replica, the promoted replica has not seen it, and a replay
//! of that code could be accepted until the window closes. Where that
//! matters, run the guard on a primary without failover or configure
//! `min-replicas-to-write`.

use std::time::Duration;

use super::ClaimOutcome;
use crate::{StoreError, Window};

mod aio;
mod blocking;

pub use aio::AsyncRedisGuard;
pub use blocking::RedisGuard;

/// How long a record lives after its last fresh claim when no retention is
/// configured: `(2 × Window::MAX + 2) × 30` seconds, enough for any window
/// of a 30-second TOTP with one period of margin.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs((2 * Window::MAX as u64 + 2) * 30);

/// [`DEFAULT_RETENTION`] in milliseconds (a whole number of seconds).
const DEFAULT_RETENTION_MS: u64 = DEFAULT_RETENTION.as_secs() * 1000;

/// The compare-and-record script. `KEYS[1]`: the token's key; `ARGV[1]`: the
/// claimed step in canonical decimal; `ARGV[2]`: expiry in milliseconds, or
/// `0` for none. Returns `{1, step}` when fresh, `{0, last}` when replayed.
const CLAIM_SCRIPT: &str = r"
local function canonical(s)
  return #s <= 20 and (s == '0' or string.match(s, '^[1-9]%d*$') ~= nil)
end
-- Compares canonical decimals of at most 20 digits. Each 10-digit chunk is
-- below 2^53, so tonumber is exact and no locale collation is involved.
local function less_or_equal(a, b)
  if #a ~= #b then return #a < #b end
  local i = 1
  while i <= #a do
    local x = tonumber(string.sub(a, i, i + 9))
    local y = tonumber(string.sub(b, i, i + 9))
    if x ~= y then return x < y end
    i = i + 10
  end
  return true
end
local step = ARGV[1]
if not canonical(step) then
  return redis.error_reply('otpguard: claimed step is not a canonical u64')
end
local last = redis.call('GET', KEYS[1])
if last then
  if not canonical(last) then
    return redis.error_reply('otpguard: stored replay record is not a canonical u64')
  end
  if less_or_equal(step, last) then
    return {0, last}
  end
end
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], step)
else
  redis.call('SET', KEYS[1], step, 'PX', ARGV[2])
end
return {1, step}
";

/// Where the Redis guards keep their records and for how long.
///
/// Keys are unambiguous: a prefix must end with `:`, and the token id is
/// written with `:` and `%` percent-escaped, so the last `:` of a key ends
/// its prefix and no two (prefix, token) pairs share a key (without this,
/// prefix `bank:` with token `otp:alice` and prefix `bank:otp:` with token
/// `alice` named the same key).
///
/// ```
/// use otpguard::replay::redis::RedisConfig;
/// use std::time::Duration;
///
/// let config = RedisConfig::default()
///     .key_prefix("bank:otp:last-step:")?
///     .retention(Duration::from_secs(120))?;
/// assert_eq!(config.key("token-1"), b"bank:otp:last-step:token-1");
/// assert_eq!(config.key("otp:alice"), b"bank:otp:last-step:otp%3Aalice");
/// assert_eq!(config.retention_millis(), Some(120_000));
/// # Ok::<(), otpguard::replay::redis::RedisConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    key_prefix: String,
    retention_ms: Option<u64>,
}

/// A [`RedisConfig`] setting Redis could not use safely.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// The prefix does not end with `:` (which keeps keys unambiguous).
    #[error("a Redis key prefix must end with ':'")]
    Prefix,
    /// The retention is longer than [`RedisConfig::MAX_RETENTION`]: Redis
    /// refuses expiries that far out, so every claim would fail at run time.
    #[error("a retention of {given_ms} ms exceeds the maximum of {max_ms} ms")]
    Retention {
        /// The retention given, in milliseconds (saturated).
        given_ms: u64,
        /// The maximum, in milliseconds.
        max_ms: u64,
    },
}

impl RedisConfig {
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "otpguard:replay:";

    /// The longest retention accepted: 100 years, far inside what Redis
    /// takes for `PX` (its absolute expiry must fit a signed 64-bit
    /// millisecond count).
    pub const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

    /// Sets the prefix put before each token id to make its key (default
    /// [`RedisConfig::DEFAULT_PREFIX`]); two services sharing a server need
    /// different prefixes.
    ///
    /// # Errors
    /// [`RedisConfigError::Prefix`] unless the prefix ends with `:`.
    ///
    /// ```
    /// # use otpguard::replay::redis::RedisConfig;
    /// assert_eq!(RedisConfig::default().key_prefix("p:")?.key("t"), b"p:t");
    /// assert!(RedisConfig::default().key_prefix("p").is_err());
    /// # Ok::<(), otpguard::replay::redis::RedisConfigError>(())
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Result<Self, RedisConfigError> {
        let prefix = prefix.into();
        if !prefix.ends_with(':') {
            return Err(RedisConfigError::Prefix);
        }
        self.key_prefix = prefix;
        Ok(self)
    }

    /// Sets how long a record lives after its last fresh claim, rounded up to
    /// whole milliseconds, at least 1 (see the [module documentation](self)
    /// for the lower bound that keeps replays out).
    ///
    /// # Errors
    /// [`RedisConfigError::Retention`] above [`RedisConfig::MAX_RETENTION`].
    ///
    /// ```
    /// # use otpguard::replay::redis::RedisConfig;
    /// # use std::time::Duration;
    /// let c = RedisConfig::default().retention(Duration::from_micros(1_500))?;
    /// assert_eq!(c.retention_millis(), Some(2));
    /// assert!(RedisConfig::default().retention(Duration::MAX).is_err());
    /// # Ok::<(), otpguard::replay::redis::RedisConfigError>(())
    /// ```
    pub fn retention(mut self, retention: Duration) -> Result<Self, RedisConfigError> {
        let millis = |d: Duration| {
            let ms = d
                .as_millis()
                .saturating_add(u128::from(d.subsec_nanos() % 1_000_000 != 0))
                .max(1);
            u64::try_from(ms).unwrap_or(u64::MAX)
        };
        if retention > Self::MAX_RETENTION {
            return Err(RedisConfigError::Retention {
                given_ms: millis(retention),
                max_ms: millis(Self::MAX_RETENTION),
            });
        }
        self.retention_ms = Some(millis(retention));
        Ok(self)
    }

    /// Keeps records forever: for HOTP counters, which do not expire with
    /// time.
    ///
    /// ```
    /// # use otpguard::replay::redis::RedisConfig;
    /// assert_eq!(RedisConfig::default().no_expiry().retention_millis(), None);
    /// ```
    #[must_use]
    pub fn no_expiry(mut self) -> Self {
        self.retention_ms = None;
        self
    }

    /// The Redis key of `token`: the prefix, then the token id with `%` and
    /// `:` percent-escaped.
    ///
    /// ```
    /// # use otpguard::replay::redis::RedisConfig;
    /// assert_eq!(RedisConfig::default().key("t-1"), b"otpguard:replay:t-1");
    /// assert_eq!(RedisConfig::default().key("50%:x"), b"otpguard:replay:50%25%3Ax");
    /// ```
    #[must_use]
    pub fn key(&self, token: &str) -> Vec<u8> {
        let escapes = token.bytes().filter(|b| matches!(b, b'%' | b':')).count();
        let len = self
            .key_prefix
            .len()
            .saturating_add(token.len())
            .saturating_add(escapes.saturating_mul(2));
        let mut key = Vec::with_capacity(len);
        key.extend_from_slice(self.key_prefix.as_bytes());
        for b in token.bytes() {
            match b {
                b'%' => key.extend_from_slice(b"%25"),
                b':' => key.extend_from_slice(b"%3A"),
                _ => key.push(b),
            }
        }
        key
    }

    /// The retention in milliseconds, or `None` for no expiry.
    ///
    /// ```
    /// # use otpguard::replay::redis::RedisConfig;
    /// assert_eq!(RedisConfig::default().retention_millis(), Some(660_000));
    /// ```
    #[must_use]
    pub const fn retention_millis(&self) -> Option<u64> {
        self.retention_ms
    }

    /// The script invocation for one claim.
    fn invocation<'a>(
        &self,
        script: &'a redis::Script,
        token: &str,
        step: u64,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.key(self.key(token));
        invocation
            .arg(step.to_string())
            .arg(self.retention_ms.unwrap_or(0).to_string());
        invocation
    }
}

impl Default for RedisConfig {
    /// Prefix [`RedisConfig::DEFAULT_PREFIX`], retention [`DEFAULT_RETENTION`].
    fn default() -> Self {
        Self {
            key_prefix: Self::DEFAULT_PREFIX.to_owned(),
            retention_ms: Some(DEFAULT_RETENTION_MS),
        }
    }
}

fn claim_script() -> redis::Script {
    redis::Script::new(CLAIM_SCRIPT)
}

/// Turns the script's reply into an outcome, refusing anything that is not
/// exactly one of the two shapes the script returns.
fn outcome(
    step: u64,
    reply: redis::RedisResult<(i64, String)>,
) -> Result<ClaimOutcome, StoreError> {
    let (flag, value) =
        reply.map_err(|e| StoreError::with_source("redis replay claim failed", e))?;
    let recorded: u64 = value
        .parse()
        .map_err(|_| StoreError::new("redis replay claim returned a step that is not a u64"))?;
    match flag {
        1 if recorded == step => Ok(ClaimOutcome::Fresh),
        0 if recorded >= step => Ok(ClaimOutcome::Replayed {
            last_accepted: recorded,
        }),
        _ => Err(StoreError::new(
            "redis replay claim returned an inconsistent reply",
        )),
    }
}
