//! The concurrent hash table under every hash map type.
//!
//! Buckets are singly linked chains of elements, each element one allocation
//! (header, key, value). Readers (lookups, `get_next_key`, iteration) walk the
//! chains without any lock, protected by the epoch guard; writers take one of 256
//! striped locks chosen by bucket, so updates to different buckets mostly proceed
//! in parallel. An element's value never moves while it is linked, and an unlinked
//! element is freed only after the grace period described in [`crate::rcu`]. This
//! is the kernel's `BPF_F_NO_PREALLOC` design (RCU-freed elements); the observable
//! semantics (errno, `max_entries`) are those of the kernel map either way.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::hash::BuildHasher;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crossbeam_epoch::Guard;
use parking_lot::Mutex;

use crate::error::MapError;
use crate::shared;

/// One element: a header followed, in the same allocation, by the key (padded to
/// 8 bytes) and the value storage (all CPUs' slots for per-CPU maps), like the
/// kernel's `htab_elem`. One allocation per element keeps lookups to two memory
/// accesses (bucket head, element).
#[repr(C)]
pub(crate) struct Node {
    next: AtomicPtr<Node>,
    /// High half of the key's hash (the low half picks the bucket): a cheap
    /// pre-check before comparing keys.
    tag: u32,
    key_len: u32,
    value_len: u32,
    /// Set by program lookups; cleared by the LRU clock hand.
    pub(crate) referenced: AtomicBool,
}

/// Header size, rounded so the key and value start 8-aligned.
const HDR: usize = std::mem::size_of::<Node>().next_multiple_of(8);

impl Node {
    fn layout(key_len: usize, value_len: usize) -> Option<Layout> {
        let size = HDR + key_len.next_multiple_of(8) + value_len.next_multiple_of(8);
        Layout::from_size_align(size, 8).ok()
    }

    /// Allocates a zeroed element holding `key` and `value_len` value bytes.
    fn alloc(tag: u32, key: &[u8], value_len: usize) -> Result<NonNull<Node>, MapError> {
        let oom = || MapError::NoMemory(format!("hash element of {value_len} value bytes"));
        let layout = Node::layout(key.len(), value_len).ok_or_else(oom)?;
        // SAFETY: the layout has a non-zero size (HDR > 0); the header is written
        // before the pointer escapes, the key bytes right after it.
        unsafe {
            let p = alloc_zeroed(layout) as *mut Node;
            let p = NonNull::new(p).ok_or_else(oom)?;
            ptr::write(
                p.as_ptr(),
                Node {
                    next: AtomicPtr::new(ptr::null_mut()),
                    tag,
                    key_len: key.len() as u32,
                    value_len: value_len as u32,
                    referenced: AtomicBool::new(false),
                },
            );
            ptr::copy_nonoverlapping(key.as_ptr(), (p.as_ptr() as *mut u8).add(HDR), key.len());
            Ok(p)
        }
    }

    /// # Safety
    /// `p` came from [`Node::alloc`], is unreachable, and no reader can still use it.
    unsafe fn free(p: *mut Node) {
        let (k, v) = ((*p).key_len as usize, (*p).value_len as usize);
        if let Some(layout) = Node::layout(k, v) {
            dealloc(p as *mut u8, layout);
        }
    }

    /// The key (immutable after the element is built).
    pub(crate) fn key(&self) -> &[u8] {
        // SAFETY: key_len bytes follow the header and are never written after alloc.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Node as *const u8).add(HDR),
                self.key_len as usize,
            )
        }
    }

    /// Length of the value storage in bytes.
    pub(crate) fn value_len(&self) -> usize {
        self.value_len as usize
    }

    /// Pointer to byte `offset` of the value storage (8-aligned at offset 0).
    pub(crate) fn value_ptr_at(&self, offset: usize) -> NonNull<u8> {
        debug_assert!(offset <= self.value_len());
        let base = self as *const Node as *mut u8;
        // SAFETY: within the element's allocation; non-null as the element is.
        unsafe {
            NonNull::new_unchecked(
                base.add(HDR + (self.key_len as usize).next_multiple_of(8) + offset),
            )
        }
    }

    /// Copies value bytes at `offset` out (shared memory: atomic copies).
    pub(crate) fn value_read(&self, offset: usize, out: &mut [u8]) {
        assert!(
            offset + out.len() <= self.value_len(),
            "read outside hash value"
        );
        // SAFETY: bounds checked; the element is alive while the caller is pinned.
        unsafe { shared::load(self.value_ptr_at(offset).as_ptr(), out) }
    }

    /// Copies `src` into the value at `offset`.
    pub(crate) fn value_write(&self, offset: usize, src: &[u8]) {
        assert!(
            offset + src.len() <= self.value_len(),
            "write outside hash value"
        );
        // SAFETY: as in value_read.
        unsafe { shared::store(self.value_ptr_at(offset).as_ptr(), src) }
    }
}

/// A node pointer that may be sent to the thread that runs deferred frees.
struct Retired(*mut Node);
// SAFETY: the node is unreachable; only the deferred free touches it.
unsafe impl Send for Retired {}

/// A bucket is just the head of its chain (8 bytes, so the bucket array stays
/// cache-friendly); writers serialise on a striped lock instead.
struct Bucket {
    head: AtomicPtr<Node>,
}

/// A writer lock on its own cache line.
#[repr(align(64))]
struct StripeLock(Mutex<()>);

/// Number of writer locks (buckets share them by index modulo this).
const LOCK_STRIPES: usize = 256;

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
    locks: Box<[StripeLock]>,
    mask: usize,
    seed: u64,
    count: AtomicUsize,
    max_entries: usize,
    value_len: usize,
}

/// Follows a link; the result is valid while the caller's guard is pinned.
fn deref(p: *mut Node, _guard: &Guard) -> Option<&Node> {
    // SAFETY: linked nodes are freed only after every guard pinned while they were
    // reachable is gone (see Table::remove).
    unsafe { p.as_ref() }
}

impl Table {
    pub(crate) fn new(max_entries: u32, value_len: usize, zero_seed: bool) -> Self {
        let n = (max_entries as usize).next_power_of_two().min(MAX_BUCKETS);
        let buckets = (0..n)
            .map(|_| Bucket {
                head: AtomicPtr::new(ptr::null_mut()),
            })
            .collect();
        let locks = (0..LOCK_STRIPES.min(n))
            .map(|_| StripeLock(Mutex::new(())))
            .collect();
        let seed = if zero_seed {
            0
        } else {
            std::collections::hash_map::RandomState::new().hash_one(0x6270_666bu64)
        };
        Table {
            buckets,
            locks,
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

    /// The writer lock for the bucket of `hash`.
    fn lock(&self, hash: u64) -> parking_lot::MutexGuard<'_, ()> {
        self.locks[(hash as usize & self.mask) % self.locks.len()]
            .0
            .lock()
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
        init: impl FnOnce(&Node),
    ) -> Result<Upsert, UpsertError> {
        let guard = crossbeam_epoch::pin();
        let h = self.hash(key);
        let b = self.bucket(h);
        let _lock = self.lock(h);
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
        let node = match Node::alloc(tag(h), key, self.value_len) {
            Ok(n) => n,
            Err(e) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
                return Err(UpsertError::Alloc(e));
            }
        };
        // SAFETY: freshly allocated and not yet shared.
        let node_ref = unsafe { node.as_ref() };
        init(node_ref);
        node_ref
            .next
            .store(b.head.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release: readers that see the node see its key and initial value.
        b.head.store(node.as_ptr(), Ordering::Release);
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
        let _lock = self.lock(h);
        let mut link = &b.head;
        loop {
            let cur = link.load(Ordering::Acquire);
            let node = deref(cur, &guard)?;
            if node.tag == tag(h) && node.key() == key {
                let result = take(node);
                link.store(node.next.load(Ordering::Acquire), Ordering::Release);
                self.count.fetch_sub(1, Ordering::Relaxed);
                let retired = Retired(cur);
                // SAFETY: the node is unlinked (under the bucket lock), so no new reader
                // can reach it; readers pinned now delay the free until they unpin.
                unsafe {
                    guard.defer_unchecked(move || {
                        let r = retired;
                        Node::free(r.0)
                    })
                };
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
                if let Some(n) = deref(node.next.load(Ordering::Acquire), &guard) {
                    return Some(n.key().to_vec());
                }
                start = (h as usize & self.mask) + 1;
            }
        }
        for b in &self.buckets[start..] {
            if let Some(n) = deref(b.head.load(Ordering::Acquire), &guard) {
                return Some(n.key().to_vec());
            }
        }
        None
    }

    /// Calls `f` on every element (a lock-free walk; concurrent changes may or may
    /// not be seen, but every element present throughout is visited exactly once).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Node)) {
        let guard = crossbeam_epoch::pin();
        for b in self.buckets.iter() {
            let mut cur = deref(b.head.load(Ordering::Acquire), &guard);
            while let Some(n) = cur {
                f(n);
                cur = deref(n.next.load(Ordering::Acquire), &guard);
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
    let mut cur = deref(b.head.load(Ordering::Acquire), guard);
    let tag = tag(h);
    while let Some(n) = cur {
        if n.tag == tag && same_key(n.key(), key) {
            return Some(n);
        }
        cur = deref(n.next.load(Ordering::Acquire), guard);
    }
    None
}

impl Drop for Table {
    fn drop(&mut self) {
        // &mut self: no other thread can reach the nodes any more; program pointers
        // into them must not outlive the map (documented on create()).
        for b in self.buckets.iter() {
            let mut cur = b.head.load(Ordering::Relaxed);
            while !cur.is_null() {
                // SAFETY: each node is owned by exactly one link and freed once.
                unsafe {
                    let next = (*cur).next.load(Ordering::Relaxed);
                    Node::free(cur);
                    cur = next;
                }
            }
        }
    }
}

/// `a == b`, without a `memcmp` call for the short keys most maps have (a call was a
/// tenth of a hash lookup).
#[inline(always)]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    // Fixed-size reads compile to single loads and compares (a copy into a zeroed buffer
    // stalled on store forwarding instead).
    fn eq<const N: usize>(a: &[u8], b: &[u8]) -> bool {
        let (Ok(x), Ok(y)) = (<[u8; N]>::try_from(a), <[u8; N]>::try_from(b)) else {
            return false;
        };
        x == y
    }
    match (a.len(), b.len()) {
        (n, m) if n != m => false,
        (4, _) => eq::<4>(a, b),
        (8, _) => eq::<8>(a, b),
        (2, _) => eq::<2>(a, b),
        (16, _) => eq::<16>(a, b),
        _ => a == b,
    }
}

/// The part of a hash stored in nodes.
fn tag(h: u64) -> u32 {
    (h >> 32) as u32
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
        h = (h ^ zero_padded(rest)).wrapping_mul(K);
        h ^= h >> 29;
    }
    // fmix64 finaliser so the low bits (the bucket index) depend on every input bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The 1–7 bytes of `rest` as a little-endian `u64`, zero-padded. Two overlapping loads
/// put each byte at its own place (the overlap ORs equal bytes): copying into a zeroed
/// buffer instead cost a `memcpy` call and a store-forwarding stall, a third of a
/// 4-byte key's lookup.
#[inline(always)]
fn zero_padded(rest: &[u8]) -> u64 {
    fn le<const N: usize>(b: &[u8]) -> [u8; N] {
        b[..N].try_into().unwrap_or([0; N])
    }
    let n = rest.len();
    match n {
        4..=7 => {
            let lo = u32::from_le_bytes(le(rest)) as u64;
            let hi = u32::from_le_bytes(le(&rest[n - 4..])) as u64;
            lo | hi << (8 * (n - 4))
        }
        2..=3 => {
            let lo = u16::from_le_bytes(le(rest)) as u64;
            let hi = u16::from_le_bytes(le(&rest[n - 2..])) as u64;
            lo | hi << (8 * (n - 2))
        }
        1 => rest[0] as u64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::{same_key, zero_padded};

    #[test]
    fn zero_padded_is_the_padded_word() {
        let base: Vec<u8> = (1..=8u8).map(|i| i.wrapping_mul(0x9d)).collect();
        for n in 1..8 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&base[..n]);
            assert_eq!(zero_padded(&base[..n]), u64::from_le_bytes(w), "len {n}");
        }
    }

    #[test]
    fn same_key_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for n in 0..=24 {
            let a = &base[..n];
            assert!(same_key(a, a), "len {n}");
            for m in 0..=24 {
                assert_eq!(same_key(a, &base[..m]), n == m, "lens {n} {m}");
            }
            // One differing bit at each position.
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x10;
                assert!(!same_key(a, &b), "len {n}, byte {at}");
            }
        }
    }
}
