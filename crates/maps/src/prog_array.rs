//! `PROG_ARRAY`: slots holding program handles for tail calls.
//!
//! The map only stores opaque 32-bit program ids chosen by the runtime; performing
//! the tail call is the runtime's job ([`ProgArray::get`] is its lookup).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{check_len, MapError, EINVAL};
use crate::map::{check_host_read, check_host_write, next_map_id, Map, ValuePtr};
use crate::rcu::RcuGuard;
use crate::spec::{MapSpec, MapType, BPF_ANY};

/// Slot value meaning "no program".
const EMPTY: u64 = 0;
/// Tag distinguishing a stored id (any `u32`, including 0) from an empty slot.
const PRESENT: u64 = 1 << 32;

/// A program array.
pub struct ProgArray {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    slots: Box<[AtomicU64]>,
}

impl std::fmt::Debug for ProgArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgArray")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .finish()
    }
}

impl ProgArray {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let n = spec.max_entries as usize;
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(n)
            .map_err(|_| MapError::NoMemory(format!("{n} program array slots")))?;
        slots.extend((0..n).map(|_| AtomicU64::new(EMPTY)));
        Ok(ProgArray {
            slots: slots.into_boxed_slice(),
            id: next_map_id(),
            ncpus,
            spec,
        })
    }

    /// The program id in slot `index` (what a tail call jumps to), if any.
    pub fn get(&self, index: u32) -> Option<u32> {
        let v = self.slots.get(index as usize)?.load(Ordering::Acquire);
        (v & PRESENT != 0).then_some(v as u32)
    }

    /// Address and number of the slots, for code that reads them directly (a JIT's tail
    /// calls): each slot is a 64-bit word, 0 when empty and `1 << 32 | id` when it holds
    /// program `id`, always updated atomically. Valid as long as the map.
    pub fn raw_slots(&self) -> (*const u64, u32) {
        (self.slots.as_ptr().cast(), self.slots.len() as u32)
    }

    /// Stores program `prog` in slot `index` (`E2BIG` if out of range).
    pub fn set(&self, index: u32, prog: u32) -> Result<(), MapError> {
        self.slot(index)?
            .store(PRESENT | prog as u64, Ordering::Release);
        Ok(())
    }

    /// Empties slot `index` (`ENOENT` if it was empty, `E2BIG` if out of range).
    pub fn clear(&self, index: u32) -> Result<(), MapError> {
        match self.slot(index)?.swap(EMPTY, Ordering::AcqRel) {
            EMPTY => Err(MapError::NotFound {
                map_type: MapType::ProgArray,
            }),
            _ => Ok(()),
        }
    }

    fn slot(&self, index: u32) -> Result<&AtomicU64, MapError> {
        self.slots.get(index as usize).ok_or(MapError::OutOfRange {
            index: index as u64,
            max_entries: self.spec.max_entries,
        })
    }

    fn index(key: &[u8]) -> Result<u32, MapError> {
        check_len("key", key.len(), 4)?;
        Ok(u32::from_ne_bytes([key[0], key[1], key[2], key[3]]))
    }
}

impl Map for ProgArray {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    /// Programs cannot look into program arrays (the verifier forbids it).
    fn lookup_ptr<'g>(
        &self,
        _key: &[u8],
        _cpu: usize,
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        Ok(None)
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64, _cpu: usize) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "update from programs",
            MapType::ProgArray,
            EINVAL,
        ))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.clear(Self::index(key)?)
    }

    /// Returns the 4-byte program id, as the kernel returns the program's id.
    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let index = Self::index(key)?;
        if flags != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        self.get(index)
            .map(|p| p.to_ne_bytes().to_vec())
            .ok_or(MapError::NotFound {
                map_type: MapType::ProgArray,
            })
    }

    /// `value` is the 4-byte program id; only `BPF_ANY` is accepted, as in the kernel.
    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        let index = Self::index(key)?;
        check_len("value", value.len(), 4)?;
        if flags != BPF_ANY {
            return Err(MapError::Invalid(format!(
                "program array update flags {flags:#x} (must be BPF_ANY)"
            )));
        }
        self.set(
            index,
            u32::from_ne_bytes([value[0], value[1], value[2], value[3]]),
        )
    }

    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let index = key.map(Self::index).transpose()?.unwrap_or(u32::MAX);
        let max = self.spec.max_entries;
        if index >= max {
            return Ok(0u32.to_ne_bytes().to_vec());
        }
        if index == max - 1 {
            return Err(MapError::NotFound {
                map_type: MapType::ProgArray,
            });
        }
        Ok((index + 1).to_ne_bytes().to_vec())
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        let out: Vec<_> = (0..self.spec.max_entries)
            .filter_map(|i| {
                Some((
                    i.to_ne_bytes().to_vec(),
                    self.get(i)?.to_ne_bytes().to_vec(),
                ))
            })
            .collect();
        out.into_iter()
    }

    fn as_prog_array(&self) -> Option<&ProgArray> {
        Some(self)
    }
}
