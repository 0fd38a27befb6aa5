//! User-space eBPF maps with the Linux kernel's semantics.
//!
//! [`create`] builds any of the implemented [`MapType`]s from a [`MapSpec`] after
//! the kernel's `BPF_MAP_CREATE` checks, and returns a [`MapRef`] (`Arc<dyn Map>`).
//! Every map is `Send + Sync` and can be used by many program threads and the host
//! at once.
//!
//! * **Program side** (what the runtime's helpers call): [`Map::lookup_ptr`] returns
//!   a [`ValuePtr`] into the map's own storage, valid while the [`RcuGuard`] from
//!   [`rcu_read_lock`] is held; programs read, write and do atomics through it.
//!   [`Map::update`], [`Map::delete`], [`Map::push`], [`Map::pop`], [`Map::peek`]
//!   take the current CPU where it matters (per-CPU maps). Ring buffers, program
//!   arrays and maps of maps have extra APIs reached with [`Map::as_ringbuf`],
//!   [`Map::as_prog_array`] and [`Map::as_map_of_maps`]; [`Map::as_array`] gives an
//!   array's storage layout ([`ArrayStorage`]), for engines that inline lookups.
//! * **Host side** (what `bpf(2)` does from user space): [`Map::lookup`],
//!   [`Map::update_host`], [`Map::delete_host`], [`Map::lookup_and_delete`],
//!   [`Map::get_next_key`], [`Map::iter`]. Per-CPU values are `ncpus` slots of
//!   `round_up(value_size, 8)` bytes.
//!
//! Errors are [`MapError`]s; [`MapError::errno`] is the errno the kernel returns in
//! the same case (`EEXIST`, `ENOENT`, `E2BIG`, `EINVAL`, ...).
//!
//! **Memory and concurrency.** Array values are preallocated and never move. Hash
//! and LPM elements are allocated on insert and, once removed, freed only after
//! every `RcuGuard` alive at removal time is gone (see [`rcu`]); hash lookups take
//! no lock at all, hash updates lock one bucket, LPM tries use a reader/writer lock,
//! queues a mutex, ring buffers a producer lock plus atomic headers. Updating an
//! existing element copies the new value in place, so a value pointer keeps seeing
//! the element's current value (readers racing with the copy may see a mix, as with
//! the kernel's arrays). A map must outlive the program runs that use it (the
//! runtime holds its `MapRef`).
//!
//! ```
//! use bpfkit_maps::{create, rcu_read_lock, MapSpec, MapType, BPF_ANY, BPF_NOEXIST};
//!
//! let map = create(&MapSpec::new(MapType::Hash, 4, 8, 16), 2).unwrap();
//! map.update_host(&7u32.to_ne_bytes(), &1u64.to_ne_bytes(), BPF_ANY).unwrap();
//! // A second insert of the same key with BPF_NOEXIST fails with EEXIST.
//! let err = map.update_host(&7u32.to_ne_bytes(), &2u64.to_ne_bytes(), BPF_NOEXIST);
//! assert_eq!(err.unwrap_err().errno(), 17);
//!
//! // A program on CPU 1 looks the value up and increments it through the pointer.
//! let guard = rcu_read_lock();
//! let value = map.lookup_ptr(&7u32.to_ne_bytes(), 1, &guard).unwrap().unwrap();
//! let counter = unsafe { &*(value.as_ptr() as *const std::sync::atomic::AtomicU64) };
//! counter.fetch_add(41, std::sync::atomic::Ordering::Relaxed);
//! drop(guard);
//!
//! assert_eq!(map.lookup(&7u32.to_ne_bytes()).unwrap(), 42u64.to_ne_bytes());
//! ```
#![deny(missing_docs)]

mod array;
mod bloom;
mod cell;
mod check;
mod error;
mod hash;
mod lpm;
mod map;
mod map_in_map;
mod prog_array;
mod queue;
pub mod rcu;
pub mod ringbuf;
mod shared;
mod spec;
pub mod spinlock;

use std::sync::Arc;

pub use array::{ArrayMap, ArrayStorage};
pub use bloom::BloomFilter;
pub use cell::MapCell;
pub use check::validate;
pub use error::{MapError, ENOTSUPP};
pub use hash::HashMap;
pub use lpm::LpmTrie;
pub use map::{DirectLookup, LookupFn, Map, MapRef, ValuePtr};
pub use map_in_map::MapOfMaps;
pub use prog_array::ProgArray;
pub use queue::QueueStack;
pub use rcu::{rcu_read_lock, RcuGuard};
pub use ringbuf::RingBuf;
pub use spec::{map_flags, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

/// Creates a map for a runtime with `ncpus` CPUs (the number of per-CPU slots; it
/// need not be the host's CPU count), after the kernel's creation checks.
pub fn create(spec: &MapSpec, ncpus: usize) -> Result<MapRef, MapError> {
    validate(spec, ncpus)?;
    let spec = spec.clone();
    Ok(match spec.map_type {
        MapType::Array | MapType::PercpuArray => Arc::new(ArrayMap::new(spec, ncpus)?),
        MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
            Arc::new(HashMap::new(spec, ncpus))
        }
        MapType::LpmTrie => Arc::new(LpmTrie::new(spec, ncpus)),
        MapType::Queue | MapType::Stack => Arc::new(QueueStack::new(spec, ncpus)),
        MapType::RingBuf => Arc::new(RingBuf::new(spec, ncpus)?),
        MapType::BloomFilter => Arc::new(BloomFilter::new(spec, ncpus)?),
        MapType::ProgArray => Arc::new(ProgArray::new(spec, ncpus)?),
        MapType::ArrayOfMaps | MapType::HashOfMaps => Arc::new(MapOfMaps::new(spec, ncpus)?),
    })
}

/// Creates a map from a raw `BPF_MAP_TYPE_*` number, as a loader reading an object
/// file would.
pub fn create_raw(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    ncpus: usize,
) -> Result<MapRef, MapError> {
    let map_type = MapType::from_u32(map_type).ok_or(MapError::UnknownMapType(map_type))?;
    let spec = MapSpec::new(map_type, key_size, value_size, max_entries).with_flags(flags);
    create(&spec, ncpus)
}
