//! `ARRAY_OF_MAPS` and `HASH_OF_MAPS`: slots holding handles to inner maps.
//!
//! Every inner map must match the template given at creation (the kernel's
//! `inner_map_fd`): same type, key size, value size, flags and spin lock, and the
//! same `max_entries` unless the template has `BPF_F_INNER_MAP`. Programs get an
//! inner map with [`MapOfMaps::lookup_inner`], or as the address of the cell holding it
//! ([`MapOfMaps::inner_cell`], what the kernel's lookup gives: the map itself). A cell
//! replaced or deleted is freed only once every [`RcuGuard`] of the time is gone (the
//! kernel frees inner maps after an RCU grace period), so a program that found it keeps
//! using it until its run ends.

use parking_lot::RwLock;
use std::collections::BTreeMap;

use crate::cell::MapCell;
use crate::error::{check_len, MapError, EINVAL};
use crate::map::{
    check_host_read, check_host_write, next_map_id, with_program_key, DirectLookup, Map, MapRef,
    ValuePtr, DIRECT_KEY_MAX,
};
use crate::rcu::{rcu_read_lock, retire, RcuGuard};
use crate::spec::{map_flags, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use std::sync::atomic::{AtomicPtr, Ordering};

/// A map of maps (array or hash flavour).
pub struct MapOfMaps {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    inner: MapSpec,
    /// Each inner map in a cell of its own, whose address is stable while it is stored.
    cells: Cells,
}

/// Where a map of maps keeps its cells.
enum Cells {
    /// `ARRAY_OF_MAPS`: per index, a boxed cell (null: none), read without a lock (a
    /// program's lookup is one load); writers swap a slot and retire the cell it held.
    Array(Box<[AtomicPtr<MapCell>]>),
    /// `HASH_OF_MAPS`: the cells by key.
    Hash(RwLock<BTreeMap<Vec<u8>, Box<MapCell>>>),
}

impl Drop for MapOfMaps {
    fn drop(&mut self) {
        if let Cells::Array(slots) = &self.cells {
            for slot in slots.iter() {
                let cell = slot.load(Ordering::Acquire);
                if !cell.is_null() {
                    // SAFETY: `&mut self`: no reader is left; each stored cell came from
                    // `Box::into_raw` and is owned by its slot alone.
                    drop(unsafe { Box::from_raw(cell) });
                }
            }
        }
    }
}

impl std::fmt::Debug for MapOfMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapOfMaps")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .finish()
    }
}

impl MapOfMaps {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let inner = spec
            .inner_map
            .as_deref()
            .cloned()
            .ok_or(MapError::NoInnerMap)?;
        let cells = match spec.map_type {
            MapType::ArrayOfMaps => Cells::Array(
                (0..spec.max_entries)
                    .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                    .collect(),
            ),
            _ => Cells::Hash(RwLock::new(BTreeMap::new())),
        };
        Ok(MapOfMaps {
            inner,
            cells,
            id: next_map_id(),
            ncpus,
            spec,
        })
    }

    fn is_array(&self) -> bool {
        self.spec.map_type == MapType::ArrayOfMaps
    }

    fn not_found(&self) -> MapError {
        MapError::NotFound {
            map_type: self.spec.map_type,
        }
    }

    /// Checks the key length and, for arrays, the index range (`E2BIG`).
    fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)?;
        if self.is_array() {
            let index = u32::from_ne_bytes([key[0], key[1], key[2], key[3]]);
            if index >= self.spec.max_entries {
                return Err(MapError::OutOfRange {
                    index: index as u64,
                    max_entries: self.spec.max_entries,
                });
            }
        }
        Ok(())
    }

    /// Whether `map` may be stored here (the kernel's `bpf_map_meta_equal`).
    pub fn accepts(&self, map: &dyn Map) -> bool {
        let (t, m) = (&self.inner, map.spec());
        t.map_type == m.map_type
            && t.key_size == m.key_size
            && t.value_size == m.value_size
            && t.flags == m.flags
            && t.spin_lock_offset == m.spin_lock_offset
            && (t.flags & map_flags::BPF_F_INNER_MAP != 0 || t.max_entries == m.max_entries)
    }

    /// The inner map for `key`.
    pub fn lookup_inner(&self, key: &[u8]) -> Option<MapRef> {
        let guard = rcu_read_lock();
        // SAFETY: a cell found under `guard` stays valid while it lives.
        self.inner_cell(key, &guard)
            .map(|cell| MapRef::clone(unsafe { &*cell }.map()))
    }

    /// The address of the cell holding the inner map for `key` (what
    /// `bpf_map_lookup_elem` gives a program: a handle to pass to map helpers), or `None`.
    /// The cell stays valid while `_guard` (or any guard older than a replacement) lives.
    pub fn inner_cell(&self, key: &[u8], _guard: &RcuGuard) -> Option<*const MapCell> {
        self.cell(key)
    }

    /// The cell for `key`; the caller keeps it alive with a guard.
    fn cell(&self, key: &[u8]) -> Option<*const MapCell> {
        match &self.cells {
            Cells::Array(slots) => {
                let index = u32::from_ne_bytes(key.try_into().ok()?);
                let cell = slots.get(index as usize)?.load(Ordering::Acquire);
                (!cell.is_null()).then_some(cell as *const MapCell)
            }
            Cells::Hash(slots) => slots.read().get(key).map(|cell| &**cell as *const MapCell),
        }
    }

    /// The inner map whose cell is at `addr`, if one is stored here now.
    pub fn map_in_cell(&self, addr: u64) -> Option<MapRef> {
        match &self.cells {
            Cells::Array(slots) => {
                let _guard = rcu_read_lock();
                let cell = slots
                    .iter()
                    .map(|slot| slot.load(Ordering::Acquire))
                    .find(|&cell| !cell.is_null() && cell as u64 == addr)?;
                // SAFETY: loaded under `_guard`, which keeps the cell valid while it lives.
                Some(MapRef::clone(unsafe { &*cell }.map()))
            }
            Cells::Hash(slots) => slots
                .read()
                .values()
                .find(|cell| &***cell as *const MapCell as u64 == addr)
                .map(|cell| MapRef::clone(cell.map())),
        }
    }

    /// Every `(key, inner map)`, in key order (arrays: by index).
    fn entries(&self) -> Vec<(Vec<u8>, MapRef)> {
        match &self.cells {
            Cells::Array(slots) => {
                let _guard = rcu_read_lock();
                slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, slot)| {
                        let cell = slot.load(Ordering::Acquire);
                        // SAFETY: a cell loaded under `_guard` stays valid while it lives.
                        let cell = unsafe { cell.as_ref() }?;
                        Some(((i as u32).to_ne_bytes().to_vec(), cell.map().clone()))
                    })
                    .collect()
            }
            Cells::Hash(slots) => slots
                .read()
                .iter()
                .map(|(k, cell)| (k.clone(), MapRef::clone(cell.map())))
                .collect(),
        }
    }

    /// Stores `map` under `key` with the usual update flags (arrays: `BPF_ANY` only).
    pub fn set_inner(&self, key: &[u8], map: MapRef, flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        if self.is_array() {
            if flags != BPF_ANY {
                return Err(MapError::Invalid(format!(
                    "array of maps update flags {flags:#x} (must be BPF_ANY)"
                )));
            }
        } else if flags > BPF_EXIST {
            return Err(MapError::Invalid(format!("update flags {flags:#x}")));
        }
        self.check_key(key)?;
        if !self.accepts(map.as_ref()) {
            return Err(MapError::Invalid(format!(
                "inner map {:?} does not match the template {:?}",
                map.spec(),
                self.inner
            )));
        }
        let slots = match &self.cells {
            Cells::Array(slots) => {
                let index = u32::from_ne_bytes([key[0], key[1], key[2], key[3]]);
                let cell = Box::into_raw(Box::new(MapCell::new(map)));
                let old = slots[index as usize].swap(cell, Ordering::AcqRel);
                if !old.is_null() {
                    // SAFETY: `old` came from `Box::into_raw` and left its slot just now.
                    retire(unsafe { Box::from_raw(old) });
                }
                return Ok(());
            }
            Cells::Hash(slots) => slots,
        };
        let mut slots = slots.write();
        let exists = slots.contains_key(key);
        if exists && flags == BPF_NOEXIST {
            return Err(MapError::Exists {
                map_type: self.spec.map_type,
            });
        }
        if !exists && flags == BPF_EXIST {
            return Err(self.not_found());
        }
        if !exists && slots.len() >= self.spec.max_entries as usize {
            return Err(MapError::Full {
                map_type: self.spec.map_type,
                max_entries: self.spec.max_entries,
            });
        }
        if let Some(old) = slots.insert(key.to_vec(), Box::new(MapCell::new(map))) {
            retire(old);
        }
        Ok(())
    }

    fn inner_id(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.lookup_inner(key)
            .map(|m| m.id().to_ne_bytes().to_vec())
            .ok_or_else(|| self.not_found())
    }
}

impl Map for MapOfMaps {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    /// Inner maps are handles, not memory: use [`MapOfMaps::lookup_inner`].
    fn lookup_ptr<'g>(
        &self,
        _key: &[u8],
        _cpu: usize,
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        Err(MapError::not_supported(
            "lookup_ptr (use lookup_inner)",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64, _cpu: usize) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "update from programs",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check_key(key)?;
        match &self.cells {
            Cells::Array(slots) => {
                let index = u32::from_ne_bytes([key[0], key[1], key[2], key[3]]);
                let old = slots[index as usize].swap(std::ptr::null_mut(), Ordering::AcqRel);
                if old.is_null() {
                    return Err(self.not_found());
                }
                // SAFETY: `old` came from `Box::into_raw` and left its slot just now.
                retire(unsafe { Box::from_raw(old) });
                Ok(())
            }
            Cells::Hash(slots) => {
                let removed = slots.write().remove(key);
                removed.map(retire).ok_or_else(|| self.not_found())
            }
        }
    }

    /// Returns the inner map's 4-byte id, as the kernel does.
    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        check_len("key", key.len(), self.spec.key_size as usize)?;
        if flags != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        self.inner_id(key)
    }

    /// Raw ids cannot be resolved to maps here: use [`MapOfMaps::set_inner`].
    fn update_host(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::Invalid(
            "maps of maps are updated with set_inner(key, map, flags)".into(),
        ))
    }

    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        if let Some(k) = key {
            check_len("key", k.len(), self.spec.key_size as usize)?;
        }
        if self.is_array() {
            let index = key
                .map(|k| u32::from_ne_bytes([k[0], k[1], k[2], k[3]]))
                .unwrap_or(u32::MAX);
            let max = self.spec.max_entries;
            return match index {
                i if i >= max => Ok(0u32.to_ne_bytes().to_vec()),
                i if i == max - 1 => Err(self.not_found()),
                i => Ok((i + 1).to_ne_bytes().to_vec()),
            };
        }
        let slots = match &self.cells {
            Cells::Hash(slots) => slots.read(),
            Cells::Array(_) => return Err(self.not_found()),
        };
        let next = match key {
            Some(k) if slots.contains_key(k) => slots
                .range::<[u8], _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                .next(),
            _ => slots.iter().next(),
        };
        next.map(|(k, _)| k.clone()).ok_or_else(|| self.not_found())
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        let out: Vec<_> = self
            .entries()
            .into_iter()
            .map(|(k, m)| (k, m.id().to_ne_bytes().to_vec()))
            .collect();
        out.into_iter()
    }

    fn as_map_of_maps(&self) -> Option<&MapOfMaps> {
        Some(self)
    }

    /// The lookup of [`inner_cell`](MapOfMaps::inner_cell).
    fn direct_lookup(&self) -> Option<DirectLookup> {
        (self.spec.key_size as usize <= DIRECT_KEY_MAX).then_some(DirectLookup {
            lookup: lookup_direct,
            map: self as *const MapOfMaps as *const (),
        })
    }
}

/// [`DirectLookup::lookup`] of a map of maps: the inner map's cell address, or 0.
///
/// # Safety
/// As [`DirectLookup`]'s, with `map` a [`MapOfMaps`].
unsafe extern "sysv64" fn lookup_direct(map: *const (), key: *const u8) -> u64 {
    // SAFETY: the caller's promises.
    let map = unsafe { &*(map as *const MapOfMaps) };
    // SAFETY: as promised, `key_size` readable bytes. The calling thread's guard keeps the
    // cell alive as `inner_cell`'s would.
    unsafe { with_program_key(key, map.spec.key_size as usize, |key| map.cell(key)) }
        .map_or(0, |cell| cell as u64)
}
