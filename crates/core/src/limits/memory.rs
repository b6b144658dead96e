//! The in-process backend, for one node (the embedded default). One map behind a mutex: a hit
//! is a few hundred nanoseconds, so a lock is simpler than sharding and just as fast here.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{gcra, Rate};
use crate::clock::Millis;
use crate::error::{Error, Result};

/// Past this many live keys, stale ones are swept; if all are live, new hits are refused
/// rather than evicting someone's counter (which would reset their limit, SECURITY A17).
const MAX_KEYS: usize = 1_000_000;

pub struct MemoryLimits {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self::with_capacity(MAX_KEYS)
    }
}

#[derive(Default)]
struct Inner {
    tats: HashMap<String, Millis>,
    swept_at: Millis,
}

impl MemoryLimits {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity,
        }
    }

    /// One GCRA step on `key`, counted if allowed.
    pub(super) fn step(
        &self,
        key: &str,
        now: Millis,
        rate: Rate,
    ) -> Result<std::result::Result<Millis, Millis>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { tats, swept_at } = &mut *inner;
        if tats.len() >= self.capacity && !tats.contains_key(key) {
            // At most one sweep a second, so a full map cannot be made to sweep on every hit.
            if now - *swept_at >= 1000 {
                tats.retain(|_, tat| *tat > now);
                *swept_at = now;
            }
            if tats.len() >= self.capacity {
                return Err(Error::ServerBusy);
            }
        }
        let step = gcra(tats.get(key).copied(), now, rate);
        if let Ok(tat) = step {
            tats.insert(key.to_owned(), tat);
        }
        Ok(step)
    }

    pub(super) fn reset(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tats.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_refuses_new_keys_instead_of_evicting_live_ones_a17() {
        let limits = MemoryLimits::with_capacity(2);
        let rate = Rate::per(5, 60_000);
        assert!(limits.step("a", 0, rate).unwrap().is_ok());
        assert!(limits.step("b", 0, rate).unwrap().is_ok());
        // Flooding new keys cannot push out a's count (which would reset a's limit).
        assert!(matches!(limits.step("c", 0, rate), Err(Error::ServerBusy)));
        assert!(
            limits.step("a", 0, rate).unwrap().is_ok(),
            "known keys still count"
        );
        // Once the counts have run out, a sweep makes room.
        assert!(limits.step("c", 120_000, rate).unwrap().is_ok());
    }
}
