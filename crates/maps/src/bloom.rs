//! `BLOOM_FILTER`: keyless set membership with false positives but no false negatives.

use std::hash::BuildHasher;
use std::sync::atomic::Ordering;

use crate::error::{check_len, MapError, EINVAL, EOPNOTSUPP};
use crate::hash::table::hash_bytes;
use crate::map::{check_host_write, next_map_id, Map, ValuePtr};
use crate::rcu::RcuGuard;
use crate::shared::SharedBytes;
use crate::spec::{map_flags, MapSpec, MapType};

/// A bloom filter sized as the kernel sizes it: `max_entries * nr_hashes * 7 / 5`
/// bits rounded up to a power of two (at least 64, at most 2^32), with
/// `nr_hashes = map_extra & 0xf` (5 if zero). Bits are set with atomic ORs, so
/// pushes and peeks from many threads need no lock.
pub struct BloomFilter {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    nr_hashes: u32,
    bit_mask: u64,
    seed: u64,
    bits: SharedBytes,
}

impl std::fmt::Debug for BloomFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BloomFilter")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .field("nr_hashes", &self.nr_hashes)
            .field("bits", &(self.bit_mask + 1))
            .finish()
    }
}

impl BloomFilter {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let nr_hashes = match (spec.map_extra & 0xf) as u32 {
            0 => 5,
            n => n,
        };
        let wanted = (spec.max_entries as u64 * nr_hashes as u64) / 5 * 7;
        let nr_bits = if wanted > 1 << 31 {
            1u64 << 32
        } else {
            wanted.max(64).next_power_of_two()
        };
        let seed = if spec.flags & map_flags::BPF_F_ZERO_SEED != 0 {
            0
        } else {
            std::collections::hash_map::RandomState::new().hash_one(0x626c_6f6fu64)
        };
        Ok(BloomFilter {
            bits: SharedBytes::zeroed((nr_bits / 8) as usize)?,
            bit_mask: nr_bits - 1,
            nr_hashes,
            seed,
            id: next_map_id(),
            ncpus,
            spec,
        })
    }

    /// Number of hash functions.
    pub fn nr_hashes(&self) -> u32 {
        self.nr_hashes
    }

    fn bit_positions<'a>(&'a self, value: &'a [u8]) -> impl Iterator<Item = u64> + 'a {
        (0..self.nr_hashes as u64)
            .map(move |i| hash_bytes(self.seed.wrapping_add(i), value) & self.bit_mask)
    }

    fn unsupported(&self, op: &'static str) -> MapError {
        MapError::not_supported(op, MapType::BloomFilter, EOPNOTSUPP)
    }
}

impl Map for BloomFilter {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    /// Programs query bloom filters with `bpf_map_peek_elem`, never by lookup.
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
            "update",
            MapType::BloomFilter,
            EINVAL,
        ))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete"))
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        check_len("value", value.len(), self.spec.value_size as usize)?;
        if flags != 0 {
            return Err(MapError::Invalid(format!(
                "bloom filter push flags {flags:#x} (must be BPF_ANY)"
            )));
        }
        for bit in self.bit_positions(value) {
            self.bits
                .word((bit / 64) as usize)
                .fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        Ok(())
    }

    fn pop(&self, _out: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("pop"))
    }

    /// `value` is the input: `Ok` if it may be in the set, `NotFound` if it is not.
    fn peek(&self, value: &mut [u8]) -> Result<(), MapError> {
        check_len("value", value.len(), self.spec.value_size as usize)?;
        let present = self.bit_positions(value).all(|bit| {
            self.bits.word((bit / 64) as usize).load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
        });
        if present {
            Ok(())
        } else {
            Err(MapError::NotFound {
                map_type: MapType::BloomFilter,
            })
        }
    }

    /// A bloom filter has nothing to return for a key; use [`Map::peek`] with the value.
    fn lookup_with_flags(&self, _key: &[u8], _flags: u64) -> Result<Vec<u8>, MapError> {
        Err(MapError::Invalid(
            "bloom filter lookups take the value as input: use peek()".into(),
        ))
    }

    /// Host update of a bloom filter is a push (key must be empty).
    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        check_len("key", key.len(), 0)?;
        self.push(value, flags)
    }

    fn get_next_key(&self, _key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        Err(self.unsupported("get_next_key"))
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        Vec::new().into_iter()
    }
}
