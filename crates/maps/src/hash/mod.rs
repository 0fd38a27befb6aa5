//! `HASH`, `PERCPU_HASH`, `LRU_HASH` and `LRU_PERCPU_HASH` maps.

mod lru;
pub(crate) mod table;

use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use crossbeam_epoch::Guard;

use crate::error::{check_len, MapError};
use crate::map::{
    check_host_read, check_host_write, copy_key, next_map_id, with_program_key, DirectLookup, Map,
    ValueCodec, ValuePtr, DIRECT_KEY_MAX,
};
use crate::rcu::RcuGuard;
use crate::spec::{map_flags, MapSpec, MapType, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};
use lru::Clock;
use table::{Node, Table, Upsert, UpsertError};

/// A hash map of any of the four hash types.
pub struct HashMap {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    table: Table,
    codec: ValueCodec,
    /// Present for the LRU types.
    clock: Option<Clock>,
}

impl std::fmt::Debug for HashMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashMap")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .field("len", &self.table.len())
            .finish()
    }
}

impl HashMap {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(mut spec: MapSpec, ncpus: usize) -> Self {
        if spec.map_type.is_lru() && spec.flags & map_flags::BPF_F_NO_COMMON_LRU != 0 {
            // The kernel gives every CPU an equal share: max_entries becomes a
            // multiple of the CPU count (rounded down if rounding up overflows).
            let n = ncpus as u64;
            let up = (spec.max_entries as u64).div_ceil(n) * n;
            spec.max_entries = if up <= u32::MAX as u64 {
                up as u32
            } else {
                (spec.max_entries as u64 / n * n) as u32
            };
        }
        let slots = if spec.map_type.is_percpu() { ncpus } else { 1 };
        let value_len = slots * spec.value_slot();
        let zero_seed = spec.flags & map_flags::BPF_F_ZERO_SEED != 0;
        HashMap {
            table: Table::new(spec.max_entries, value_len, zero_seed),
            codec: ValueCodec::new(&spec),
            clock: spec.map_type.is_lru().then(|| Clock::new(spec.max_entries)),
            id: next_map_id(),
            ncpus,
            spec,
        }
    }

    /// Number of elements currently in the map.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn percpu(&self) -> bool {
        self.spec.map_type.is_percpu()
    }

    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)
    }

    /// The kernel's flag checks: `(flags & ~BPF_F_LOCK) > BPF_EXIST` is invalid;
    /// `BPF_F_LOCK` needs a spin lock (and is never valid for per-CPU or LRU maps).
    fn check_update_flags(&self, flags: u64) -> Result<(), MapError> {
        let plain = self.spec.map_type == MapType::Hash;
        let rest = if plain { flags & !BPF_F_LOCK } else { flags };
        if rest > BPF_EXIST {
            return Err(MapError::Invalid(format!(
                "update flags {flags:#x} for {:?} map",
                self.spec.map_type
            )));
        }
        self.codec.check_lock_flag(flags)
    }

    /// Shared update path. `write` fills an existing node, `init` a new one.
    fn upsert(
        &self,
        key: &[u8],
        flags: u64,
        write: &dyn Fn(&Node),
        init: &dyn Fn(&Node),
    ) -> Result<(), MapError> {
        let kind = flags & !BPF_F_LOCK;
        let (allow_existing, allow_new) = (kind != BPF_NOEXIST, kind != BPF_EXIST);
        let map_type = self.spec.map_type;
        // Bounded so that a map whose elements all vanish under us cannot spin forever.
        for _ in 0..1000 {
            match self
                .table
                .upsert(key, allow_existing, allow_new, write, init)
            {
                Ok(Upsert::Updated) => return Ok(()),
                Ok(Upsert::Inserted) => {
                    if let Some(clock) = &self.clock {
                        clock.inserted(key, &self.table);
                    }
                    return Ok(());
                }
                Err(UpsertError::Exists) => return Err(MapError::Exists { map_type }),
                Err(UpsertError::NotFound) => return Err(MapError::NotFound { map_type }),
                Err(UpsertError::Alloc(e)) => return Err(e),
                Err(UpsertError::Full) => match &self.clock {
                    None => {
                        return Err(MapError::Full {
                            map_type,
                            max_entries: self.spec.max_entries,
                        })
                    }
                    Some(clock) => {
                        // Evict outside any bucket lock, then try again.
                        if !clock.evict_one(&self.table) {
                            std::thread::yield_now();
                        }
                    }
                },
            }
        }
        Err(MapError::NoMemory(format!(
            "{map_type:?} map: no element could be evicted"
        )))
    }

    fn host_value(&self, node: &Node, flags: u64) -> Vec<u8> {
        if self.percpu() {
            let mut out = vec![0; node.value_len()];
            node.value_read(0, &mut out);
            out
        } else {
            let mut out = vec![0; self.codec.size];
            // SAFETY: the node is alive (caller is pinned) and holds value_size bytes.
            unsafe {
                self.codec
                    .load(node.value_ptr_at(0).as_ptr(), &mut out, flags)
            };
            out
        }
    }

    fn check_lookup_flags(&self, flags: u64) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        self.codec.check_lock_flag(flags)
    }
}

impl HashMap {
    /// The value at `slot` of the element for `key` (marked referenced for the LRU types).
    #[inline(always)]
    fn find_value(&self, key: &[u8], slot: usize, guard: &Guard) -> Option<NonNull<u8>> {
        let node = self.table.find(key, guard)?;
        if self.clock.is_some() && !node.referenced.load(Ordering::Relaxed) {
            node.referenced.store(true, Ordering::Relaxed);
        }
        Some(node.value_ptr_at(slot))
    }
}

/// [`DirectLookup::lookup`] for keys of `N` bytes.
///
/// # Safety
/// As [`DirectLookup`]'s, with `map` a non-per-CPU [`HashMap`] whose keys are `N` bytes.
unsafe extern "sysv64" fn lookup_direct<const N: usize>(map: *const (), key: *const u8) -> u64 {
    // SAFETY: the caller's promises.
    let map = unsafe { &*(map as *const HashMap) };
    let mut buf = [0u8; N];
    unsafe { copy_key(key, &mut buf) };
    // SAFETY: the calling thread holds an `RcuGuard` (pinned) for as long as it uses the
    // value, which keeps the node alive as a guard of its own would.
    let guard = unsafe { crossbeam_epoch::unprotected() };
    map.find_value(&buf, 0, guard)
        .map_or(0, |v| v.as_ptr() as u64)
}

/// [`DirectLookup::lookup`] for keys of any size up to [`DIRECT_KEY_MAX`].
///
/// # Safety
/// As [`DirectLookup`]'s, with `map` a non-per-CPU [`HashMap`].
unsafe extern "sysv64" fn lookup_direct_any(map: *const (), key: *const u8) -> u64 {
    // SAFETY: the caller's promises.
    let map = unsafe { &*(map as *const HashMap) };
    // SAFETY: as in `lookup_direct`.
    let guard = unsafe { crossbeam_epoch::unprotected() };
    // SAFETY: as promised, `key_size` readable bytes.
    unsafe {
        with_program_key(key, map.spec.key_size as usize, |key| {
            map.find_value(key, 0, guard)
        })
    }
    .map_or(0, |v| v.as_ptr() as u64)
}

impl Map for HashMap {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn lookup_ptr<'g>(
        &self,
        key: &[u8],
        cpu: usize,
        guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        self.check_key(key)?;
        let slot = if self.percpu() {
            check_cpu(cpu, self.ncpus)?;
            cpu * self.spec.value_slot()
        } else {
            0
        };
        let Some(value) = self.find_value(key, slot, &guard.guard) else {
            return Ok(None);
        };
        // SAFETY: the node (and its value buffer) lives until the guard is dropped.
        Ok(Some(unsafe {
            ValuePtr::new(value, self.spec.value_size as usize)
        }))
    }

    fn direct_lookup(&self) -> Option<DirectLookup> {
        if self.percpu() {
            return None;
        }
        let lookup = match self.spec.key_size as usize {
            4 => lookup_direct::<4>,
            8 => lookup_direct::<8>,
            16 => lookup_direct::<16>,
            n if n <= DIRECT_KEY_MAX => lookup_direct_any,
            _ => return None,
        };
        Some(DirectLookup {
            lookup,
            map: self as *const HashMap as *const (),
        })
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: usize) -> Result<(), MapError> {
        self.check_key(key)?;
        check_len("value", value.len(), self.spec.value_size as usize)?;
        self.check_update_flags(flags)?;
        let lru = self.clock.is_some();
        if self.percpu() {
            check_cpu(cpu, self.ncpus)?;
            let off = cpu * self.spec.value_slot();
            self.upsert(
                key,
                flags,
                &|n| {
                    n.value_write(off, value);
                    if lru {
                        n.referenced.store(true, Ordering::Relaxed);
                    }
                },
                &|v| v.value_write(off, value),
            )
        } else {
            let codec = self.codec;
            self.upsert(
                key,
                flags,
                // SAFETY: node values hold value_size bytes and are alive under the lock.
                &|n| unsafe {
                    codec.store(n.value_ptr_at(0).as_ptr(), value, flags);
                    if lru {
                        n.referenced.store(true, Ordering::Relaxed);
                    }
                },
                // SAFETY: a fresh buffer of value_slot bytes, not yet shared.
                &|v| unsafe { codec.store(v.value_ptr_at(0).as_ptr(), value, 0) },
            )
        }
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check_key(key)?;
        self.table.remove(key, |_| ()).ok_or(MapError::NotFound {
            map_type: self.spec.map_type,
        })
    }

    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        self.check_key(key)?;
        self.check_lookup_flags(flags)?;
        let guard = crossbeam_epoch::pin();
        match self.table.find(key, &guard) {
            Some(node) => Ok(self.host_value(node, flags)),
            None => Err(MapError::NotFound {
                map_type: self.spec.map_type,
            }),
        }
    }

    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        // The syscall rejects BPF_F_LOCK without a spin lock before the map sees it.
        self.codec.check_lock_flag(flags)?;
        if !self.percpu() {
            return self.update(key, value, flags, 0);
        }
        self.check_key(key)?;
        check_len("per-CPU value", value.len(), self.host_value_size())?;
        self.check_update_flags(flags)?;
        let lru = self.clock.is_some();
        self.upsert(
            key,
            flags,
            &|n| {
                n.value_write(0, value);
                if lru {
                    n.referenced.store(true, Ordering::Relaxed);
                }
            },
            &|v| v.value_write(0, value),
        )
    }

    fn lookup_and_delete(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        check_host_write(&self.spec)?;
        self.check_key(key)?;
        self.table
            .remove(key, |n| self.host_value(n, 0))
            .ok_or(MapError::NotFound {
                map_type: self.spec.map_type,
            })
    }

    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        if let Some(k) = key {
            self.check_key(k)?;
        }
        self.table.next_key(key).ok_or(MapError::NotFound {
            map_type: self.spec.map_type,
        })
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.len());
        self.table
            .for_each(|n| out.push((n.key().to_vec(), self.host_value(n, 0))));
        out.into_iter()
    }

    fn keys_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.len() * self.spec.key_size as usize);
        self.table.for_each(|n| out.extend_from_slice(n.key()));
    }
}

/// Program-side CPU numbers must be below the runtime's CPU count.
pub(crate) fn check_cpu(cpu: usize, ncpus: usize) -> Result<(), MapError> {
    if cpu < ncpus {
        Ok(())
    } else {
        Err(MapError::Invalid(format!(
            "cpu {cpu} out of range (the runtime has {ncpus} CPUs)"
        )))
    }
}
