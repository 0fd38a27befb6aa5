//! Approximate LRU eviction for `LRU_HASH` and `LRU_PERCPU_HASH`.
//!
//! A "clock" (second-chance) list: keys in insertion order; a program lookup sets
//! the element's `referenced` bit. To make room, the hand takes the oldest key: if
//! its element was referenced since the hand last passed, the bit is cleared and the
//! key goes to the back; otherwise the element is evicted. Like the kernel's LRU
//! (active/inactive lists with a reference bit) this approximates least-recently
//! used; unlike the kernel's, it evicts only when the map is really full (the
//! kernel may evict earlier because of its per-CPU free lists), and
//! `BPF_F_NO_COMMON_LRU` still uses one common list (only `max_entries` is rounded
//! as the kernel does).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use super::table::Table;

pub(crate) struct Clock {
    keys: Mutex<VecDeque<Box<[u8]>>>,
    max_entries: usize,
}

impl Clock {
    pub(crate) fn new(max_entries: u32) -> Self {
        Clock {
            keys: Mutex::new(VecDeque::new()),
            max_entries: max_entries as usize,
        }
    }

    /// Records a newly inserted key. Must not be called with a bucket lock held
    /// (lock order: clock, then bucket).
    pub(crate) fn inserted(&self, key: &[u8], table: &Table) {
        let mut keys = self.keys.lock();
        keys.push_back(key.into());
        // Deleted keys stay in the list until the hand meets them; rebuild when
        // stale entries dominate so the list stays O(max_entries).
        if keys.len() > 2 * self.max_entries + 64 {
            keys.clear();
            table.for_each(|n| keys.push_back(n.key().into()));
        }
    }

    /// Evicts one element; false if nothing could be evicted.
    pub(crate) fn evict_one(&self, table: &Table) -> bool {
        let mut keys = self.keys.lock();
        // Two full passes suffice: the first clears every referenced bit.
        let mut budget = 2 * keys.len() + 1;
        while budget > 0 {
            budget -= 1;
            let Some(key) = keys.pop_front() else {
                return false;
            };
            let guard = crossbeam_epoch::pin();
            let Some(node) = table.find(&key, &guard) else {
                continue; // stale: deleted or already evicted
            };
            if node.referenced.swap(false, Ordering::Relaxed) {
                keys.push_back(key);
                continue;
            }
            if table.remove(&key, |_| ()).is_some() {
                return true;
            }
        }
        false
    }
}
