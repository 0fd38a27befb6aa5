//! The concurrent hash table under every hash map type.
//!
//! Buckets are singly linked lists of heap-allocated nodes. Readers (lookups,
//! `get_next_key`, iteration) walk the lists without any lock, protected by the
//! epoch guard; writers take the bucket's mutex, so updates to different buckets
//! proceed in parallel. A node's value buffer never moves while the node is linked,
//! and an unlinked node is freed only after the grace period described in
//! [`crate::rcu`]. This is the kernel's `BPF_F_NO_PREALLOC` design (RCU-freed
//! elements); the observable semantics are those of the preallocated kernel map.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};
use parking_lot::Mutex;

use crate::error::MapError;
use crate::shared::SharedBytes;

/// One element: key, value storage (all CPUs' slots for per-CPU maps), LRU bit.
pub(crate) struct Node {
    next: Atomic<Node>,
    hash: u64,
    pub(crate) key: Box<[u8]>,
    pub(crate) value: SharedBytes,
    /// Set by program lookups; cleared by the LRU clock hand.
    pub(crate) referenced: AtomicBool,
}

struct Bucket {
    lock: Mutex<()>,
    head: Atomic<Node>,
}

/// What an update found and did.
pub(crate) enum Upsert {
    /// The key existed; the value was updated in place.
    Updated,
    /// A new element was linked.
    Inserted,
}

/// Most buckets allocated for one map (16 bytes each); larger maps get longer chains.
const MAX_BUCKETS: usize = 1 << 20;

pub(crate) struct Table {
    buckets: Box<[Bucket]>,
    mask: usize,
    seed: u64,
    count: AtomicUsize,
    max_entries: usize,
    value_len: usize,
}

impl Table {
    pub(crate) fn new(max_entries: u32, value_len: usize, zero_seed: bool) -> Self {
        let n = (max_entries as usize).next_power_of_two().min(MAX_BUCKETS);
        let buckets = (0..n)
            .map(|_| Bucket {
                lock: Mutex::new(()),
                head: Atomic::null(),
            })
            .collect();
        let seed = if zero_seed {
            0
        } else {
            std::collections::hash_map::RandomState::new().hash_one(0x6270_666bu64)
        };
        Table {
            buckets,
            mask: n - 1,
            seed,
            count: AtomicUsize::new(0),
            max_entries: max_entries as usize,
            value_len,
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn hash(&self, key: &[u8]) -> u64 {
        hash_bytes(self.seed, key)
    }

    fn bucket(&self, hash: u64) -> &Bucket {
        &self.buckets[hash as usize & self.mask]
    }

    /// Finds the node for `key` without locking.
    pub(crate) fn find<'g>(&self, key: &[u8], guard: &'g Guard) -> Option<&'g Node> {
        let h = self.hash(key);
        find_in(self.bucket(h), key, h, guard)
    }

    /// Updates the element for `key` in place (`write`) or links a new one whose
    /// value is prepared by `init`. `allow_existing`/`allow_new` encode the update
    /// flags; the errors are the kernel's, checked in its order.
    pub(crate) fn upsert(
        &self,
        key: &[u8],
        allow_existing: bool,
        allow_new: bool,
        write: impl FnOnce(&Node),
        init: impl FnOnce(&SharedBytes),
    ) -> Result<Upsert, UpsertError> {
        let guard = crossbeam_epoch::pin();
        let h = self.hash(key);
        let b = self.bucket(h);
        let _lock = b.lock.lock();
        if let Some(node) = find_in(b, key, h, &guard) {
            if !allow_existing {
                return Err(UpsertError::Exists);
            }
            write(node);
            return Ok(Upsert::Updated);
        }
        if !allow_new {
            return Err(UpsertError::NotFound);
        }
        if !self.try_reserve() {
            return Err(UpsertError::Full);
        }
        let value = match SharedBytes::zeroed(self.value_len) {
            Ok(v) => v,
            Err(e) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
                return Err(UpsertError::Alloc(e));
            }
        };
        init(&value);
        let node = Owned::new(Node {
            next: Atomic::null(),
            hash: h,
            key: key.into(),
            value,
            referenced: AtomicBool::new(false),
        });
        node.next.store(b.head.load(Ordering::Relaxed, &guard), Ordering::Relaxed);
        // Release: readers that see the node see its key and initial value.
        b.head.store(node, Ordering::Release);
        Ok(Upsert::Inserted)
    }

    fn try_reserve(&self) -> bool {
        self.count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (c < self.max_entries).then_some(c + 1)
            })
            .is_ok()
    }

    /// Unlinks the element for `key`, handing its value to `take` before it is retired.
    pub(crate) fn remove<R>(&self, key: &[u8], take: impl FnOnce(&Node) -> R) -> Option<R> {
        let guard = crossbeam_epoch::pin();
        let h = self.hash(key);
        let b = self.bucket(h);
        let _lock = b.lock.lock();
        let mut link = &b.head;
        loop {
            let cur = link.load(Ordering::Acquire, &guard);
            // SAFETY: nodes reachable from a bucket are alive while we are pinned.
            let node = unsafe { cur.as_ref() }?;
            if node.hash == h && *node.key == *key {
                let result = take(node);
                let next = node.next.load(Ordering::Acquire, &guard);
                link.store(next, Ordering::Release);
                self.count.fetch_sub(1, Ordering::Relaxed);
                // SAFETY: the node is unlinked (under the bucket lock), so no new reader
                // can reach it; existing readers are pinned and delay the destruction.
                unsafe { guard.defer_destroy(cur) };
                return Some(result);
            }
            link = &node.next;
        }
    }

    /// The kernel's `get_next_key` walk: the next node in the same bucket, else the
    /// first node of a following bucket; an absent key restarts from the first bucket.
    pub(crate) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let guard = crossbeam_epoch::pin();
        let mut start = 0;
        if let Some(key) = key {
            let h = self.hash(key);
            if let Some(node) = find_in(self.bucket(h), key, h, &guard) {
                let next = node.next.load(Ordering::Acquire, &guard);
                // SAFETY: pinned; see remove.
                if let Some(n) = unsafe { next.as_ref() } {
                    return Some(n.key.to_vec());
                }
                start = (h as usize & self.mask) + 1;
            }
        }
        for b in &self.buckets[start..] {
            let head = b.head.load(Ordering::Acquire, &guard);
            // SAFETY: pinned; see remove.
            if let Some(n) = unsafe { head.as_ref() } {
                return Some(n.key.to_vec());
            }
        }
        None
    }

    /// Calls `f` on every element (a lock-free walk; concurrent changes may or may
    /// not be seen, but every element present throughout is visited exactly once).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Node)) {
        let guard = crossbeam_epoch::pin();
        for b in self.buckets.iter() {
            let mut cur = b.head.load(Ordering::Acquire, &guard);
            // SAFETY: pinned; see remove.
            while let Some(n) = unsafe { cur.as_ref() } {
                f(n);
                cur = n.next.load(Ordering::Acquire, &guard);
            }
        }
    }
}

/// Why [`Table::upsert`] did nothing.
pub(crate) enum UpsertError {
    Exists,
    NotFound,
    Full,
    Alloc(MapError),
}

fn find_in<'g>(b: &Bucket, key: &[u8], h: u64, guard: &'g Guard) -> Option<&'g Node> {
    let mut cur: Shared<'g, Node> = b.head.load(Ordering::Acquire, guard);
    // SAFETY: nodes reachable from a bucket are freed only after all pinned readers leave.
    while let Some(n) = unsafe { cur.as_ref() } {
        if n.hash == h && *n.key == *key {
            return Some(n);
        }
        cur = n.next.load(Ordering::Acquire, guard);
    }
    None
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: &mut self: no other thread can reach the nodes any more; program
        // pointers into them must not outlive the map (documented on create()).
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            for b in self.buckets.iter() {
                let mut cur = b.head.load(Ordering::Relaxed, guard);
                while !cur.is_null() {
                    let next = cur.deref().next.load(Ordering::Relaxed, guard);
                    drop(cur.into_owned());
                    cur = next;
                }
            }
        }
    }
}

/// A fast seeded hash (64-bit multiply-xorshift over 8-byte chunks).
pub(crate) fn hash_bytes(seed: u64, data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    // fmix64 finaliser so the low bits (the bucket index) depend on every input bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}
