//! Throttling: after consecutive wrong codes, further codes wait before
//! they are evaluated at all. The lock-out maximum stays the last line.

use core::fmt;

use super::error::ConfigError;

/// How long codes wait after consecutive wrong ones. A wrong code counted
/// at failure `n` sets the earliest time the next code of the token is
/// evaluated to `now + delay_after(n)` (never earlier than a time already
/// set); until then every code is refused as
/// [`Throttled`](super::LifecycleError::Throttled), unread and uncounted.
/// Waiting does not reset the count; an accepted code (or an operator's
/// `Resume`) does.
///
/// ```
/// use otpguard::lifecycle::config::Throttle;
/// let t = Throttle::growing(3, 30, 3_600)?;
/// let delays: Vec<u64> = (1..=10).map(|n| t.delay_after(n)).collect();
/// assert_eq!(delays, [0, 0, 30, 60, 120, 240, 480, 960, 1_920, 3_600]);
/// let b = Throttle::blocks(5, 900)?;
/// assert_eq!((b.delay_after(4), b.delay_after(5), b.delay_after(6)), (0, 900, 0));
/// # Ok::<(), otpguard::lifecycle::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Off,
    Growing { after: u32, base: u64, cap: u64 },
    Blocks { every: u32, length: u64 },
}

impl Throttle {
    /// No delays: only the lock-out (the default).
    pub const OFF: Self = Self(Kind::Off);

    /// NIST SP 800-63B's increasing delays: from the 5th consecutive wrong
    /// code, 30 seconds, doubling up to an hour.
    pub const NIST_800_63B: Self = Self(Kind::Growing {
        after: 5,
        base: 30,
        cap: 3_600,
    });

    /// The longest delay or block accepted: 7 days.
    pub const DELAY_LIMIT: u64 = 7 * 24 * 60 * 60;

    /// From the `after`-th consecutive wrong code, a delay of `base`
    /// seconds, doubling with each further wrong code, up to `cap` (NIST SP
    /// 800-63B's increasing delays).
    ///
    /// # Errors
    /// [`ConfigError::Throttle`] if `after` is 0, `base` is 0, or `cap` is
    /// below `base` or above [`Throttle::DELAY_LIMIT`].
    pub const fn growing(after: u32, base: u64, cap: u64) -> Result<Self, ConfigError> {
        if after == 0 || base == 0 || cap < base || cap > Self::DELAY_LIMIT {
            return Err(ConfigError::Throttle(
                "growing delays need after >= 1 and 1 <= base <= cap <= 7 days",
            ));
        }
        Ok(Self(Kind::Growing { after, base, cap }))
    }

    /// A block of `length` seconds after every `every` consecutive wrong
    /// codes (PSD2 RTS Art. 4(3)(b)'s temporary blocks).
    ///
    /// # Errors
    /// [`ConfigError::Throttle`] if `every` is 0 or `length` is 0 or above
    /// [`Throttle::DELAY_LIMIT`].
    pub const fn blocks(every: u32, length: u64) -> Result<Self, ConfigError> {
        if every == 0 || length == 0 || length > Self::DELAY_LIMIT {
            return Err(ConfigError::Throttle(
                "blocks need every >= 1 and 1 <= length <= 7 days",
            ));
        }
        Ok(Self(Kind::Blocks { every, length }))
    }

    /// The delay, in seconds, after the `failures`-th consecutive wrong
    /// code (0: none).
    #[must_use]
    pub const fn delay_after(self, failures: u32) -> u64 {
        match self.0 {
            Kind::Off => 0,
            Kind::Growing { after, base, cap } => {
                if failures < after {
                    return 0;
                }
                // base * 2^(failures - after), capped.
                let delay = match 1u64.checked_shl(failures.saturating_sub(after)) {
                    Some(factor) if factor <= cap => base.saturating_mul(factor),
                    _ => cap,
                };
                if delay > cap {
                    cap
                } else {
                    delay
                }
            }
            Kind::Blocks { every, length } => {
                if failures > 0 && matches!(failures.checked_rem(every), Some(0)) {
                    length
                } else {
                    0
                }
            }
        }
    }

    /// The failures at which a block starts, for [`Throttle::blocks`].
    pub(crate) const fn block_every(self) -> Option<u32> {
        match self.0 {
            Kind::Blocks { every, .. } => Some(every),
            _ => None,
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::OFF
    }
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Kind::Off => f.write_str("no delays"),
            Kind::Growing { after, base, cap } => write!(
                f,
                "from wrong code {after}, {base} s doubling up to {cap} s"
            ),
            Kind::Blocks { every, length } => {
                write!(f, "a {length} s block every {every} wrong codes")
            }
        }
    }
}
