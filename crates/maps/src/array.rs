//! `ARRAY` and `PERCPU_ARRAY` maps: preallocated, zero-initialised, never freed
//! before the map, so value pointers are stable for the map's whole life.

use std::ptr::NonNull;

use crate::error::{check_len, MapError, EINVAL};
use crate::hash::check_cpu;
use crate::map::{
    check_host_read, check_host_write, copy_key, next_map_id, DirectLookup, Map, ValueCodec,
    ValuePtr,
};
use crate::rcu::RcuGuard;
use crate::shared::SharedBytes;
use crate::spec::{MapSpec, MapType, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

/// An array map. Per-CPU arrays store each CPU's values contiguously (CPU-major),
/// like the kernel's per-CPU areas, so CPUs do not share cache lines.
pub struct ArrayMap {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    storage: SharedBytes,
    codec: ValueCodec,
}

impl std::fmt::Debug for ArrayMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayMap")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .finish()
    }
}

/// Where an array map keeps its values, for execution engines that compute value
/// addresses themselves (as the kernel inlines array lookups into JIT code).
///
/// Value `i` of CPU `c` (always 0 unless per-CPU) starts at
/// `base + (c * entries + i) * stride`: exactly the pointer [`Map::lookup_ptr`] returns for
/// it. The storage is allocated when the map is created and never moves or shrinks, so the
/// addresses stay valid for as long as the map lives (whatever guard is held). Like a
/// [`ValuePtr`](crate::ValuePtr), the memory is shared with other threads and the host:
/// access it only through raw pointers or atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayStorage {
    /// Address of the first value.
    pub base: NonNull<u8>,
    /// Bytes from one value to the next: the value size rounded up to 8
    /// ([`MapSpec::value_slot`]).
    pub stride: usize,
    /// Values per CPU (`max_entries`).
    pub entries: u32,
    /// CPUs with their own values: the map's CPU count for a per-CPU array, else 1.
    pub copies: usize,
}

impl ArrayStorage {
    /// Total bytes: `copies * entries * stride`.
    pub fn len(&self) -> usize {
        self.copies * self.entries as usize * self.stride
    }

    /// Whether it holds no byte (never, for a created map: `max_entries` is at least 1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ArrayMap {
    /// Its value storage (see [`ArrayStorage`]).
    pub fn storage(&self) -> ArrayStorage {
        ArrayStorage {
            base: self.storage.ptr_at(0),
            stride: self.spec.value_slot(),
            entries: self.spec.max_entries,
            copies: if self.percpu() { self.ncpus } else { 1 },
        }
    }

    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let copies = if spec.map_type == MapType::PercpuArray {
            ncpus
        } else {
            1
        };
        let bytes = (spec.max_entries as usize)
            .checked_mul(spec.value_slot())
            .and_then(|n| n.checked_mul(copies))
            .ok_or_else(|| MapError::TooBig("array storage size overflows".into()))?;
        Ok(ArrayMap {
            storage: SharedBytes::zeroed(bytes)?,
            codec: ValueCodec::new(&spec),
            id: next_map_id(),
            ncpus,
            spec,
        })
    }

    fn percpu(&self) -> bool {
        self.spec.map_type == MapType::PercpuArray
    }

    /// The index in `key`, checked for length (not for range).
    fn index(&self, key: &[u8]) -> Result<usize, MapError> {
        check_len("key", key.len(), 4)?;
        Ok(u32::from_ne_bytes([key[0], key[1], key[2], key[3]]) as usize)
    }

    /// Byte offset of element `index` for `cpu`.
    fn offset(&self, index: usize, cpu: usize) -> usize {
        (cpu * self.spec.max_entries as usize + index) * self.spec.value_slot()
    }

    fn in_range(&self, index: usize) -> bool {
        index < self.spec.max_entries as usize
    }

    /// The kernel's `array_map_update_elem` checks, in order.
    fn check_update(&self, index: usize, flags: u64) -> Result<(), MapError> {
        let rest = if self.percpu() {
            flags
        } else {
            flags & !BPF_F_LOCK
        };
        if rest > BPF_EXIST {
            return Err(MapError::Invalid(format!("update flags {flags:#x}")));
        }
        if !self.in_range(index) {
            return Err(MapError::OutOfRange {
                index: index as u64,
                max_entries: self.spec.max_entries,
            });
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::Exists {
                map_type: self.spec.map_type,
            });
        }
        self.codec.check_lock_flag(flags)
    }

    fn not_found(&self) -> MapError {
        MapError::NotFound {
            map_type: self.spec.map_type,
        }
    }
}

impl Map for ArrayMap {
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
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        let index = self.index(key)?;
        let cpu = if self.percpu() {
            check_cpu(cpu, self.ncpus)?;
            cpu
        } else {
            0
        };
        if !self.in_range(index) {
            return Ok(None);
        }
        let ptr = self.storage.ptr_at(self.offset(index, cpu));
        // SAFETY: array storage lives as long as the map.
        Ok(Some(unsafe {
            ValuePtr::new(ptr, self.spec.value_size as usize)
        }))
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: usize) -> Result<(), MapError> {
        let index = self.index(key)?;
        check_len("value", value.len(), self.spec.value_size as usize)?;
        self.check_update(index, flags)?;
        let cpu = if self.percpu() {
            check_cpu(cpu, self.ncpus)?;
            cpu
        } else {
            0
        };
        let ptr = self.storage.ptr_at(self.offset(index, cpu));
        // SAFETY: in-range element of value_slot bytes inside the storage.
        unsafe { self.codec.store(ptr.as_ptr(), value, flags) };
        Ok(())
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "delete",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let index = self.index(key)?;
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        self.codec.check_lock_flag(flags)?;
        if !self.in_range(index) {
            return Err(self.not_found());
        }
        if self.percpu() {
            let slot = self.spec.value_slot();
            let mut out = vec![0; self.ncpus * slot];
            for (cpu, chunk) in out.chunks_mut(slot).enumerate() {
                self.storage.read(self.offset(index, cpu), chunk);
            }
            return Ok(out);
        }
        let mut out = vec![0; self.spec.value_size as usize];
        let ptr = self.storage.ptr_at(self.offset(index, 0));
        // SAFETY: in-range element.
        unsafe { self.codec.load(ptr.as_ptr(), &mut out, flags) };
        Ok(out)
    }

    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        // The syscall rejects BPF_F_LOCK without a spin lock before the map sees it.
        self.codec.check_lock_flag(flags)?;
        if !self.percpu() {
            return self.update(key, value, flags, 0);
        }
        let index = self.index(key)?;
        check_len("per-CPU value", value.len(), self.host_value_size())?;
        self.check_update(index, flags)?;
        // The host writes whole 8-byte-rounded slots, padding included, as the kernel does.
        let slot = self.spec.value_slot();
        for (cpu, chunk) in value.chunks(slot).enumerate() {
            self.storage.write(self.offset(index, cpu), chunk);
        }
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let index = match key {
            Some(k) => self.index(k)?,
            None => usize::MAX,
        };
        let max = self.spec.max_entries as usize;
        if index >= max {
            return Ok(0u32.to_ne_bytes().to_vec());
        }
        if index == max - 1 {
            return Err(self.not_found());
        }
        Ok(((index + 1) as u32).to_ne_bytes().to_vec())
    }

    fn as_array(&self) -> Option<&ArrayMap> {
        Some(self)
    }

    /// Not for per-CPU arrays (their lookup needs the CPU).
    fn direct_lookup(&self) -> Option<DirectLookup> {
        (!self.percpu()).then_some(DirectLookup {
            lookup: lookup_direct,
            map: self as *const ArrayMap as *const (),
        })
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        let out: Vec<_> = (0..self.spec.max_entries)
            .map(|i| {
                let key = i.to_ne_bytes().to_vec();
                let value = self.lookup(&key).unwrap_or_default();
                (key, value)
            })
            .collect();
        out.into_iter()
    }
}

/// [`DirectLookup::lookup`] of an array: the value's address for an index in range, else 0
/// (what [`Map::lookup_ptr`] gives).
///
/// # Safety
/// As [`DirectLookup`]'s, with `map` an [`ArrayMap`] that is not per-CPU.
unsafe extern "sysv64" fn lookup_direct(map: *const (), key: *const u8) -> u64 {
    // SAFETY: the caller's promises.
    let map = unsafe { &*(map as *const ArrayMap) };
    let mut index = [0u8; 4];
    // SAFETY: as promised, 4 readable bytes (arrays have 4-byte keys).
    unsafe { copy_key(key, &mut index) };
    let index = u32::from_ne_bytes(index);
    if index >= map.spec.max_entries {
        return 0;
    }
    map.storage.ptr_at(map.offset(index as usize, 0)).as_ptr() as u64
}

#[cfg(test)]
mod tests {
    use crate::{create, rcu_read_lock, MapSpec, MapType, BPF_ANY};

    #[test]
    fn storage_layout_gives_the_pointers_lookup_gives() {
        for (map_type, ncpus) in [(MapType::Array, 3), (MapType::PercpuArray, 3)] {
            // Value size 12: slots of 16 bytes.
            let map = create(&MapSpec::new(map_type, 4, 12, 5), ncpus).unwrap();
            let storage = map.as_array().unwrap().storage();
            assert_eq!(storage.stride, 16);
            assert_eq!(storage.entries, 5);
            let copies = if map_type == MapType::Array { 1 } else { ncpus };
            assert_eq!(storage.copies, copies);
            assert_eq!(storage.len(), copies * 5 * 16);
            let guard = rcu_read_lock();
            for cpu in 0..ncpus {
                for i in 0..5u32 {
                    let key = i.to_ne_bytes();
                    if map_type == MapType::Array {
                        map.update(&key, &[i as u8; 12], BPF_ANY, 0).unwrap();
                    }
                    let v = map.lookup_ptr(&key, cpu, &guard).unwrap().unwrap();
                    let copy = if map_type == MapType::Array { 0 } else { cpu };
                    let want = storage.base.as_ptr() as usize + (copy * 5 + i as usize) * 16;
                    assert_eq!(v.addr(), want, "{map_type:?} cpu {cpu} key {i}");
                }
            }
            // Updates copy in place: the storage has not moved.
            assert_eq!(map.as_array().unwrap().storage(), storage);
        }
        let hash = create(&MapSpec::new(MapType::Hash, 4, 8, 4), 1).unwrap();
        assert!(hash.as_array().is_none());
    }
}
