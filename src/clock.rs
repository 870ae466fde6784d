//! Where the current time comes from.

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current Unix time in seconds.
///
/// Every verification takes the time as an argument, so no code path is
/// forced to read the wall clock; a `Clock` is how callers and the
/// [lifecycle](crate::lifecycle) get it.
///
/// ```
/// use otpguard::{Clock, FixedClock, SystemClock};
///
/// let fixed = FixedClock::new(59);
/// assert_eq!(fixed.now(), 59);
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
pub trait Clock {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The operating system's wall clock. A clock set before 1970 reads as 0.
///
/// ```
/// use otpguard::{Clock, SystemClock};
/// assert!(SystemClock.now() > 0);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that reads a set time, for tests and replays of recorded events.
/// It can be moved forward or set from any thread.
///
/// ```
/// use otpguard::{Clock, FixedClock};
/// let clock = FixedClock::new(1_000);
/// clock.advance(30);
/// assert_eq!(clock.now(), 1_030);
/// clock.set(5);
/// assert_eq!(clock.now(), 5);
/// ```
#[derive(Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock reading `unix_seconds`.
    ///
    /// ```
    /// # use otpguard::{Clock, FixedClock};
    /// assert_eq!(FixedClock::new(7).now(), 7);
    /// ```
    #[must_use]
    pub const fn new(unix_seconds: u64) -> Self {
        Self(AtomicU64::new(unix_seconds))
    }

    /// Sets the time.
    ///
    /// ```
    /// # use otpguard::{Clock, FixedClock};
    /// let c = FixedClock::new(0);
    /// c.set(42);
    /// assert_eq!(c.now(), 42);
    /// ```
    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`, saturating at `u64::MAX`.
    ///
    /// ```
    /// # use otpguard::{Clock, FixedClock};
    /// let c = FixedClock::new(u64::MAX - 1);
    /// c.advance(10);
    /// assert_eq!(c.now(), u64::MAX);
    /// ```
    pub fn advance(&self, seconds: u64) {
        // A compare-and-swap loop rather than `fetch_update`, whose `Result`
        // would have an error case that cannot happen to discard.
        let mut now = self.0.load(Ordering::SeqCst);
        loop {
            let later = now.saturating_add(seconds);
            match self
                .0
                .compare_exchange_weak(now, later, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(actual) => now = actual,
            }
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for FixedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FixedClock").field(&self.now()).finish()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_advances_all_count_and_saturate() {
        let clock = FixedClock::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1_000 {
                        clock.advance(3);
                    }
                });
            }
        });
        assert_eq!(clock.now(), 12_000);
        clock.set(u64::MAX - 5);
        clock.advance(u64::MAX);
        assert_eq!(clock.now(), u64::MAX);
    }
}
