//! The in-memory replay guard, for a single process.

use core::fmt;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashTable;

use super::{ClaimOutcome, ReplayGuard};
use crate::{StoreError, Window};

/// Number of shards: a power of two, well above the core count of a typical
/// backend host, so that claims for different tokens rarely share a lock.
const SHARDS: usize = 64;

/// Selects a shard from a hash: `SHARDS` is a power of two, so masking keeps
/// the index uniform and below `SHARDS`.
const SHARD_MASK: u64 = SHARDS as u64 - 1;

/// Where in the hash the shard index is taken. One hash serves both the
/// shard and the shard's table; the table places a record by the hash's low
/// bits and tags it with its top 7, so the shard takes 6 bits from between
/// them: records of one shard still spread over all of its table.
const SHARD_SHIFT: u32 = 51;

/// Below this many records a shrink is not worth the reallocation.
const SHRINK_FLOOR: usize = 64;

/// One shard, on its own cache line so that locking one does not slow
/// threads that work on its neighbours.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(Mutex<ShardState>);

impl Shard {
    /// Locks the shard. A poisoned lock (a thread panicked while holding
    /// it) is taken over with [`PoisonError::into_inner`], neither refused
    /// nor skipped, because the records it guards stay consistent: under
    /// the lock a record is only ever inserted whole, raised to a newer
    /// step by one store of a `u64`, or dropped by a sweep once its step is
    /// more than the horizon behind the mark, and nothing between those
    /// writes can unwind. The comparisons and sweeps use saturating
    /// arithmetic, the table's hasher (a keyed hash of the token id) cannot
    /// panic, an allocation failure aborts rather than unwinds, and when the
    /// table cannot grow it stays as it was before the record goes in. So a
    /// panic leaves no record lower than the step last accepted for its
    /// token, and every record is kept: no replay gets in. Refusing instead
    /// would refuse every code of the shard's tokens (one in 64 customers)
    /// until the process restarts; skipping would hide the shard's records
    /// from [`MemoryGuard::len`] and [`MemoryGuard::prune`].
    fn lock(&self) -> MutexGuard<'_, ShardState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct ShardState {
    /// (token id, last step accepted), placed by `MemoryGuard::hash`.
    records: HashTable<(Box<str>, u64)>,
    /// The high-water mark at this shard's last sweep.
    swept_at: u64,
}

/// A thread-safe, sharded, memory-bounded in-memory [`ReplayGuard`] for one
/// process.
///
/// Records live in 64 shards chosen by a randomly keyed hash of the token
/// id, each behind its own lock, so that threads claiming different tokens
/// rarely wait for each other. A record is pruned once its step is more than
/// the *horizon* behind the newest step accepted; a claim that may concern a
/// pruned record is refused.
///
/// # Why pruning can never re-admit a replay
///
/// A guard built with a horizon of `H` steps keeps a high-water mark `N`:
/// the largest step it ever accepted, for any token. It prunes a record
/// `(token, last)` only when `last + H < N`. And it **refuses**, with a
/// [`StoreError`], any claim for a token it holds no record of whose step
/// satisfies `step + H < N`, since that token's record may have been pruned.
///
/// Take a pruned record `(token, last)`, pruned while the mark was `N₁`, so
/// `last + H < N₁`. A later replay of any step `s <= last` for that token
/// finds no record and a mark `N₂ >= N₁` (the mark only grows), and
/// `s + H <= last + H < N₁ <= N₂`: it is refused. This holds whatever the
/// clocks, periods or windows are; they only decide whether *genuine* codes
/// are refused because they look too old, which is failing closed.
///
/// A genuine code never looks too old as long as the tokens on one guard
/// share one period and T0 (so their steps count the same time): a code is matched
/// at server step `c` in a window of `behind`/`ahead`, so its step is at least
/// `c - behind`, while every step accepted before is at most `c + ahead`
/// (the server clock does not go back). So `step + H >= N` whenever
/// `H >= behind + ahead`. The default horizon, `2 × Window::MAX` (20 steps),
/// covers every window this crate accepts, with room to spare for the
/// default window (18 steps, 9 minutes at 30 s, of clock slew).
///
/// HOTP counters are per token, not a shared clock, so one token's high
/// counter would make another's look too old: use [`MemoryGuard::unbounded`]
/// for HOTP, and one guard per (period, T0) for TOTP.
///
/// # Memory
///
/// A claim sweeps its shard's stale records when the mark has moved more
/// than `H` steps since that shard's last sweep, so a shard that is in use
/// holds only tokens accepted in the last `2H` steps or so. A shard nobody
/// claims on keeps its records until [`MemoryGuard::prune`] is called (from
/// a periodic task, say); it does not grow either. Each record costs its
/// token id plus about 33 bytes of heap (measured by
/// `tests/replay_memory_size.rs`).
///
/// ```
/// use otpguard::replay::{ClaimOutcome, MemoryGuard, ReplayGuard};
/// let g = MemoryGuard::default();
/// assert_eq!(g.claim("alice", 10)?, ClaimOutcome::Fresh);
/// assert_eq!(g.claim("alice", 10)?, ClaimOutcome::Replayed { last_accepted: 10 });
/// assert_eq!(g.claim("alice", 11)?, ClaimOutcome::Fresh);
/// # Ok::<(), otpguard::StoreError>(())
/// ```
pub struct MemoryGuard {
    hasher: RandomState,
    shards: Box<[Shard]>,
    /// `None`: never prune.
    horizon: Option<u64>,
    /// The largest step accepted so far, for any token.
    high_water: AtomicU64,
}

impl Default for MemoryGuard {
    /// A guard with a horizon of `2 × Window::MAX` steps: safe for TOTP
    /// tokens sharing one period and T0, verified with any window.
    ///
    /// ```
    /// use otpguard::replay::MemoryGuard;
    /// assert_eq!(MemoryGuard::default().horizon(), Some(20));
    /// ```
    fn default() -> Self {
        Self::with_horizon(Self::DEFAULT_HORIZON)
    }
}

impl MemoryGuard {
    /// The default horizon in steps: `behind + ahead` of the widest
    /// [`Window`] this crate accepts.
    pub const DEFAULT_HORIZON: u64 = 2 * Window::MAX as u64;

    /// A guard that prunes a record once its step is more than `steps`
    /// behind the newest step accepted. Choose `steps >= behind + ahead` of
    /// the window in use (see [`MemoryGuard::for_window`]); a smaller horizon
    /// refuses genuine codes (fails closed), it never admits replays.
    ///
    /// ```
    /// use otpguard::replay::{MemoryGuard, ReplayGuard};
    /// let g = MemoryGuard::with_horizon(2);
    /// g.claim("alice", 100)?;
    /// // Bob has no record, and step 97 is more than 2 steps behind the newest
    /// // accepted step (100): his record might have been pruned, so it is refused.
    /// assert!(g.claim("bob", 97).is_err());
    /// assert!(g.claim("bob", 98).is_ok());
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    #[must_use]
    pub fn with_horizon(steps: u64) -> Self {
        Self::build(Some(steps))
    }

    /// A guard whose horizon is exactly what `window` needs:
    /// `behind + ahead` steps.
    ///
    /// ```
    /// use otpguard::{Window, replay::MemoryGuard};
    /// assert_eq!(MemoryGuard::for_window(Window::default()).horizon(), Some(2));
    /// ```
    #[must_use]
    pub fn for_window(window: Window) -> Self {
        Self::with_horizon(u64::from(window.behind()).saturating_add(u64::from(window.ahead())))
    }

    /// A guard that never forgets a record: for HOTP counters, or for TOTP
    /// tokens of different periods sharing one guard. Its memory grows with
    /// the number of tokens ever accepted.
    ///
    /// ```
    /// use otpguard::replay::{MemoryGuard, ReplayGuard};
    /// let g = MemoryGuard::unbounded();
    /// g.claim("hotp-1", 1_000_000)?;
    /// assert!(g.claim("hotp-2", 3).is_ok());
    /// assert_eq!(g.horizon(), None);
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    #[must_use]
    pub fn unbounded() -> Self {
        Self::build(None)
    }

    fn build(horizon: Option<u64>) -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            horizon,
            high_water: AtomicU64::new(0),
        }
    }

    /// The horizon in steps, or `None` if this guard never prunes.
    ///
    /// ```
    /// assert_eq!(otpguard::replay::MemoryGuard::with_horizon(4).horizon(), Some(4));
    /// ```
    #[must_use]
    pub const fn horizon(&self) -> Option<u64> {
        self.horizon
    }

    /// The number of tokens with a record (pruned ones excluded), for
    /// metrics. It locks each shard in turn, so it is a snapshot, not an
    /// atomic count.
    ///
    /// ```
    /// use otpguard::replay::{MemoryGuard, ReplayGuard};
    /// let g = MemoryGuard::default();
    /// g.claim("a", 1)?;
    /// g.claim("b", 1)?;
    /// assert_eq!(g.len(), 2);
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().records.len())
            .fold(0, usize::saturating_add)
    }

    /// Whether no token has a record.
    ///
    /// ```
    /// assert!(otpguard::replay::MemoryGuard::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sweeps every shard now, instead of waiting for claims to do it, and
    /// returns how many records were dropped. Useful from a periodic task
    /// when traffic stops.
    ///
    /// ```
    /// use otpguard::replay::{MemoryGuard, ReplayGuard};
    /// let g = MemoryGuard::with_horizon(2);
    /// g.claim("old", 10)?;
    /// g.claim("new", 13)?;
    /// assert_eq!(g.prune(), 1);
    /// assert_eq!(g.len(), 1);
    /// // The pruned token's old step is refused, never re-admitted.
    /// assert!(g.claim("old", 10).is_err());
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    pub fn prune(&self) -> usize {
        let Some(horizon) = self.horizon else {
            return 0;
        };
        self.shards
            .iter()
            .map(|s| self.sweep(&mut s.lock(), horizon))
            .fold(0, usize::saturating_add)
    }

    /// The token's hash, keyed by this guard's random key so that nobody
    /// can choose ids that pile up in one shard or one table bucket.
    fn hash(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }

    fn shard(&self, hash: u64) -> Result<MutexGuard<'_, ShardState>, StoreError> {
        // Six bits of the hash: below `SHARDS`, so the low byte holds them.
        let [index, ..] = ((hash >> SHARD_SHIFT) & SHARD_MASK).to_le_bytes();
        let shard = self
            .shards
            .get(usize::from(index))
            .ok_or_else(|| StoreError::new("replay guard shard index out of range"))?;
        Ok(shard.lock())
    }

    /// Drops the records more than `horizon` steps behind the mark. The mark
    /// is read while the shard is locked: a later claim on this shard reads
    /// it after this lock is released, so it sees a mark at least as high.
    fn sweep(&self, state: &mut ShardState, horizon: u64) -> usize {
        let mark = self.high_water.load(Ordering::SeqCst);
        let before = state.records.len();
        state
            .records
            .retain(|(_, last)| last.saturating_add(horizon) >= mark);
        state.swept_at = mark;
        let len = state.records.len();
        if state.records.capacity() > len.saturating_mul(4).max(SHRINK_FLOOR) {
            state
                .records
                .shrink_to(len.saturating_mul(2), |(id, _)| self.hash(id));
        }
        before.saturating_sub(len)
    }
}

impl MemoryGuard {
    /// Claims `step` for `token` (see [`ReplayGuard::claim`]). This inherent
    /// method is what `guard.claim(..)` calls, whichever of [`ReplayGuard`]
    /// and [`AsyncReplayGuard`](super::AsyncReplayGuard) are in scope.
    ///
    /// # Errors
    /// A [`StoreError`] if `token` has no record and `step` is more than the
    /// horizon behind the newest accepted step (its record may have been
    /// pruned). A shard whose lock was poisoned by a panic keeps working
    /// with its records (see `Shard::lock` in the source for why they stay
    /// consistent).
    ///
    /// ```
    /// use otpguard::replay::{ClaimOutcome, MemoryGuard};
    /// let g = MemoryGuard::default();
    /// assert_eq!(g.claim("t", 3)?, ClaimOutcome::Fresh);
    /// assert_eq!(g.claim("t", 2)?, ClaimOutcome::Replayed { last_accepted: 3 });
    /// # Ok::<(), otpguard::StoreError>(())
    /// ```
    pub fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        let hash = self.hash(token);
        let mut state = self.shard(hash)?;
        if let Some(horizon) = self.horizon {
            if state.swept_at.saturating_add(horizon) < self.high_water.load(Ordering::SeqCst) {
                self.sweep(&mut state, horizon);
            }
        }
        if let Some((_, last)) = state.records.find_mut(hash, |(id, _)| **id == *token) {
            if step <= *last {
                return Ok(ClaimOutcome::Replayed {
                    last_accepted: *last,
                });
            }
            *last = step;
        } else {
            if let Some(horizon) = self.horizon {
                let mark = self.high_water.load(Ordering::SeqCst);
                if step.saturating_add(horizon) < mark {
                    return Err(StoreError::new(format!(
                        "step {step} is more than {horizon} steps behind the newest accepted \
                         step {mark}; this token's record may have been pruned"
                    )));
                }
            }
            state
                .records
                .insert_unique(hash, (Box::from(token), step), |(id, _)| self.hash(id));
        }
        // Raised while the shard is still locked, so that no sweep can see
        // this record without also seeing a mark that covers it. Read first:
        // a read-modify-write on every claim would take the mark's cache line
        // away from every other core, and the mark only grows, so a mark
        // already at or above `step` covers it as well.
        if self.high_water.load(Ordering::SeqCst) < step {
            self.high_water.fetch_max(step, Ordering::SeqCst);
        }
        Ok(ClaimOutcome::Fresh)
    }
}

impl fmt::Debug for MemoryGuard {
    /// A summary: printing every record would flood a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryGuard")
            .field("horizon", &self.horizon)
            .field("high_water", &self.high_water.load(Ordering::SeqCst))
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

impl ReplayGuard for MemoryGuard {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        Self::claim(self, token, step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_keeps_records_within_the_horizon() {
        let g = MemoryGuard::with_horizon(5);
        g.claim("edge", 10).unwrap();
        g.claim("gone", 9).unwrap();
        g.claim("mark", 15).unwrap();
        assert_eq!(g.prune(), 1);
        assert_eq!(
            g.claim("edge", 10).unwrap(),
            ClaimOutcome::Replayed { last_accepted: 10 }
        );
        assert!(g.claim("gone", 9).is_err());
        assert!(g.claim("gone", 10).is_ok());
    }

    #[test]
    fn claims_sweep_their_shard_once_the_mark_moves_past_a_horizon() {
        let g = MemoryGuard::with_horizon(3);
        for i in 0..1_000u64 {
            g.claim(&format!("old{i}"), 100).unwrap();
        }
        // 5,000 claims touch every one of the 64 shards after the mark moved
        // to 104, so each sweeps away its step-100 records on its own.
        for i in 0..5_000u64 {
            g.claim(&format!("new{i}"), 104).unwrap();
        }
        assert_eq!(g.len(), 5_000);
    }

    #[test]
    fn unbounded_never_prunes_nor_refuses_old_steps() {
        let g = MemoryGuard::unbounded();
        g.claim("a", u64::MAX).unwrap();
        assert_eq!(g.prune(), 0);
        assert_eq!(g.claim("b", 0).unwrap(), ClaimOutcome::Fresh);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn debug_is_a_summary_without_token_ids() {
        let g = MemoryGuard::with_horizon(3);
        g.claim("customer-42", 7).unwrap();
        let shown = format!("{g:?}");
        assert_eq!(
            shown,
            "MemoryGuard { horizon: Some(3), high_water: 7, records: 1, .. }"
        );
    }

    /// A thread that panics while holding a shard's lock poisons it; the
    /// shard keeps its records and keeps answering, so the token's
    /// replays are still refused and its new codes accepted.
    #[test]
    fn a_poisoned_shard_keeps_its_records_and_keeps_working() {
        let g = MemoryGuard::with_horizon(2);
        g.claim("t", 10).unwrap();
        let hash = g.hash("t");
        std::thread::scope(|s| {
            let poisoner = s.spawn(|| {
                let _held = g.shard(hash).unwrap();
                panic!("a panic while the shard is locked");
            });
            assert!(poisoner.join().is_err());
        });
        assert_eq!(g.shards.iter().filter(|s| s.0.is_poisoned()).count(), 1);
        for replay in [10, 9, 0] {
            assert_eq!(
                g.claim("t", replay).unwrap(),
                ClaimOutcome::Replayed { last_accepted: 10 }
            );
        }
        assert_eq!(g.len(), 1);
        assert_eq!(g.claim("t", 11).unwrap(), ClaimOutcome::Fresh);
        // Sweeps reach the poisoned shard too: once the mark is past the
        // horizon, its record goes, and an old step stays refused.
        g.claim("mark", 20).unwrap();
        assert_eq!(g.prune(), 1);
        assert!(g.claim("t", 11).is_err());
    }

    #[test]
    fn saturating_horizon_does_not_overflow() {
        let g = MemoryGuard::with_horizon(u64::MAX);
        g.claim("a", u64::MAX).unwrap();
        assert_eq!(g.claim("b", 0).unwrap(), ClaimOutcome::Fresh);
        assert_eq!(g.prune(), 0);
    }
}
