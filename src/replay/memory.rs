//! The in-memory replay guard, for a single process.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use super::{ClaimOutcome, ReplayGuard};
use crate::StoreError;

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<Box<str>, u64>>;

/// A thread-safe, sharded in-memory [`ReplayGuard`] for one process.
///
/// ```
/// use otpguard::replay::{ClaimOutcome, MemoryGuard, ReplayGuard};
/// let g = MemoryGuard::default();
/// assert_eq!(g.claim("alice", 10)?, ClaimOutcome::Fresh);
/// assert_eq!(g.claim("alice", 10)?, ClaimOutcome::Replayed { last_accepted: 10 });
/// assert_eq!(g.claim("alice", 11)?, ClaimOutcome::Fresh);
/// # Ok::<(), otpguard::StoreError>(())
/// ```
#[derive(Debug)]
pub struct MemoryGuard {
    hasher: RandomState,
    shards: Box<[Shard]>,
}

impl Default for MemoryGuard {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl ReplayGuard for MemoryGuard {
    fn claim(&self, token: &str, step: u64) -> Result<ClaimOutcome, StoreError> {
        let index = usize::try_from(self.hasher.hash_one(token) & 63).unwrap_or(0);
        let shard = self
            .shards
            .get(index)
            .ok_or_else(|| StoreError::new("shard index out of range"))?;
        let mut map = shard
            .lock()
            .map_err(|_| StoreError::new("replay guard lock poisoned"))?;
        match map.get_mut(token) {
            Some(last) if step <= *last => Ok(ClaimOutcome::Replayed {
                last_accepted: *last,
            }),
            Some(last) => {
                *last = step;
                Ok(ClaimOutcome::Fresh)
            }
            None => {
                map.insert(Box::from(token), step);
                Ok(ClaimOutcome::Fresh)
            }
        }
    }
}
