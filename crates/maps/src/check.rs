//! The kernel's `BPF_MAP_CREATE` sanity checks, in the kernel's order so the
//! same errno comes out first.

use crate::error::{MapError, ENOTSUPP};
use crate::spec::map_flags::*;
use crate::spec::{round_up8, MapSpec, MapType};

/// `KMALLOC_MAX_SIZE` on x86-64 (4 MiB): the largest single kernel allocation.
pub(crate) const KMALLOC_MAX_SIZE: u64 = 1 << 22;
/// `PCPU_MIN_UNIT_SIZE`: bound on per-CPU value sizes.
const PCPU_MIN_UNIT_SIZE: u64 = 32 << 10;
/// `sizeof(struct htab_elem)` on x86-64, used in the hash key+value size bound.
const HTAB_ELEM_SIZE: u64 = 48;
/// Page size assumed for ring buffers.
pub(crate) const PAGE_SIZE: u32 = 4096;

fn invalid(spec: &MapSpec, why: &str) -> MapError {
    MapError::Invalid(format!("{:?} map: {why}", spec.map_type))
}

fn too_big(spec: &MapSpec, why: &str) -> MapError {
    MapError::TooBig(format!("{:?} map: {why}", spec.map_type))
}

/// `bpf_map_flags_access_ok`: not both read-only and write-only, on either side.
fn access_ok(flags: u32) -> bool {
    let both = |a, b| flags & a != 0 && flags & b != 0;
    !both(BPF_F_RDONLY, BPF_F_WRONLY) && !both(BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG)
}

/// Validates `spec` for a runtime with `ncpus` CPUs, returning the errno-carrying
/// error the kernel would give for the first failed check.
pub fn validate(spec: &MapSpec, ncpus: usize) -> Result<(), MapError> {
    if ncpus == 0 {
        return Err(MapError::Invalid(
            "the runtime must have at least one CPU".into(),
        ));
    }
    if spec.map_type != MapType::BloomFilter && spec.map_extra != 0 {
        return Err(invalid(
            spec,
            "map_extra is only meaningful for bloom filters",
        ));
    }
    if spec.flags & BPF_F_RDONLY != 0 && spec.flags & BPF_F_WRONLY != 0 {
        return Err(invalid(spec, "BPF_F_RDONLY and BPF_F_WRONLY together"));
    }
    match spec.map_type {
        MapType::Array | MapType::PercpuArray => check_array(spec)?,
        MapType::ProgArray | MapType::ArrayOfMaps => {
            check_fd_value(spec)?;
            check_array(spec)?;
        }
        MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
            check_hash(spec)?
        }
        MapType::HashOfMaps => {
            check_fd_value(spec)?;
            check_hash(spec)?;
        }
        MapType::LpmTrie => check_lpm(spec)?,
        MapType::Queue | MapType::Stack => check_queue(spec)?,
        MapType::RingBuf => check_ringbuf(spec)?,
        MapType::BloomFilter => check_bloom(spec)?,
    }
    check_spin_lock(spec)?;
    if matches!(spec.map_type, MapType::ArrayOfMaps | MapType::HashOfMaps) {
        check_inner(spec)?;
    }
    Ok(())
}

fn check_array(spec: &MapSpec) -> Result<(), MapError> {
    let percpu = spec.map_type == MapType::PercpuArray;
    let mask = BPF_F_NUMA_NODE
        | BPF_F_MMAPABLE
        | BPF_F_ACCESS_MASK
        | BPF_F_PRESERVE_ELEMS
        | BPF_F_INNER_MAP;
    if spec.max_entries == 0 {
        return Err(invalid(spec, "max_entries must be > 0"));
    }
    if spec.key_size != 4 {
        return Err(invalid(spec, "key_size must be 4"));
    }
    if spec.value_size == 0 {
        return Err(invalid(spec, "value_size must be > 0"));
    }
    if spec.flags & !mask != 0 || !access_ok(spec.flags) {
        return Err(invalid(spec, "unsupported map_flags"));
    }
    if spec.map_type != MapType::Array && spec.flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP) != 0 {
        return Err(invalid(
            spec,
            "BPF_F_MMAPABLE/BPF_F_INNER_MAP are for plain arrays",
        ));
    }
    if spec.flags & BPF_F_PRESERVE_ELEMS != 0 {
        return Err(invalid(
            spec,
            "BPF_F_PRESERVE_ELEMS is for perf event arrays",
        ));
    }
    if spec.value_size > i32::MAX as u32 {
        return Err(too_big(spec, "value_size exceeds INT_MAX"));
    }
    if percpu && round_up8(spec.value_size as usize) as u64 > PCPU_MIN_UNIT_SIZE {
        return Err(too_big(spec, "per-CPU value_size exceeds 32 KiB"));
    }
    // The kernel rounds the element count up to a power of two (Spectre masking).
    if spec.max_entries > 1 << 31 {
        return Err(too_big(spec, "max_entries rounds up past 2^32"));
    }
    Ok(())
}

/// Program arrays and maps of maps store 4-byte file descriptors as values.
fn check_fd_value(spec: &MapSpec) -> Result<(), MapError> {
    if spec.value_size != 4 {
        return Err(invalid(
            spec,
            "value_size must be 4 (a program or map handle)",
        ));
    }
    if spec.map_type != MapType::HashOfMaps
        && spec.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0
    {
        return Err(invalid(spec, "program access flags are not allowed"));
    }
    Ok(())
}

fn check_hash(spec: &MapSpec) -> Result<(), MapError> {
    let percpu = spec.map_type.is_percpu();
    let lru = spec.map_type.is_lru();
    let percpu_lru = spec.flags & BPF_F_NO_COMMON_LRU != 0;
    let prealloc = spec.flags & BPF_F_NO_PREALLOC == 0;
    let mask = BPF_F_NO_PREALLOC
        | BPF_F_NO_COMMON_LRU
        | BPF_F_NUMA_NODE
        | BPF_F_ACCESS_MASK
        | BPF_F_ZERO_SEED;
    if spec.flags & !mask != 0 || !access_ok(spec.flags) {
        return Err(invalid(spec, "unsupported map_flags"));
    }
    if !lru && percpu_lru {
        return Err(invalid(spec, "BPF_F_NO_COMMON_LRU needs an LRU map"));
    }
    if lru && !prealloc {
        return Err(MapError::not_supported(
            "BPF_F_NO_PREALLOC",
            spec.map_type,
            ENOTSUPP,
        ));
    }
    if spec.flags & BPF_F_NUMA_NODE != 0 && (percpu || percpu_lru) {
        return Err(invalid(spec, "BPF_F_NUMA_NODE with per-CPU storage"));
    }
    if spec.max_entries == 0 || spec.key_size == 0 || spec.value_size == 0 {
        return Err(invalid(
            spec,
            "max_entries, key_size and value_size must be > 0",
        ));
    }
    if spec.key_size as u64 + spec.value_size as u64 >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE {
        return Err(too_big(spec, "key_size + value_size too large"));
    }
    if percpu && round_up8(spec.value_size as usize) as u64 > PCPU_MIN_UNIT_SIZE {
        return Err(too_big(spec, "per-CPU value_size exceeds 32 KiB"));
    }
    if spec.max_entries > 1 << 31 {
        return Err(too_big(spec, "max_entries exceeds 2^31"));
    }
    Ok(())
}

/// Smallest and largest LPM key: 4-byte prefix length plus 1..=256 data bytes.
const LPM_KEY_SIZE_MIN: u32 = 4 + 1;
const LPM_KEY_SIZE_MAX: u32 = 4 + 256;
/// `KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - sizeof(struct lpm_trie_node)`.
const LPM_VAL_SIZE_MAX: u32 = (KMALLOC_MAX_SIZE as u32) - 256 - 40;

fn check_lpm(spec: &MapSpec) -> Result<(), MapError> {
    let mask = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK;
    if spec.max_entries == 0 {
        return Err(invalid(spec, "max_entries must be > 0"));
    }
    if spec.flags & BPF_F_NO_PREALLOC == 0 {
        return Err(invalid(spec, "BPF_F_NO_PREALLOC is required"));
    }
    if spec.flags & !mask != 0 || !access_ok(spec.flags) {
        return Err(invalid(spec, "unsupported map_flags"));
    }
    if !(LPM_KEY_SIZE_MIN..=LPM_KEY_SIZE_MAX).contains(&spec.key_size) {
        return Err(invalid(
            spec,
            "key_size must be 4 (prefixlen) + 1..=256 data bytes",
        ));
    }
    if !(1..=LPM_VAL_SIZE_MAX).contains(&spec.value_size) {
        return Err(invalid(spec, "value_size out of range"));
    }
    Ok(())
}

fn check_queue(spec: &MapSpec) -> Result<(), MapError> {
    let mask = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK;
    if spec.max_entries == 0 || spec.key_size != 0 || spec.value_size == 0 {
        return Err(invalid(
            spec,
            "needs max_entries > 0, key_size 0, value_size > 0",
        ));
    }
    if spec.flags & !mask != 0 || !access_ok(spec.flags) {
        return Err(invalid(spec, "unsupported map_flags"));
    }
    if spec.value_size as u64 > KMALLOC_MAX_SIZE {
        return Err(too_big(spec, "value_size exceeds 4 MiB"));
    }
    Ok(())
}

/// `RINGBUF_MAX_DATA_SZ`: the 32-bit page offset in record headers bounds the size.
const RINGBUF_MAX_DATA_SZ: u64 = ((1 << 24) - 3) * PAGE_SIZE as u64;

fn check_ringbuf(spec: &MapSpec) -> Result<(), MapError> {
    if spec.flags & !BPF_F_NUMA_NODE != 0 {
        return Err(invalid(spec, "unsupported map_flags"));
    }
    if spec.key_size != 0
        || spec.value_size != 0
        || !spec.max_entries.is_power_of_two()
        || !spec.max_entries.is_multiple_of(PAGE_SIZE)
    {
        return Err(invalid(
            spec,
            "needs key_size 0, value_size 0, max_entries a power of 2 multiple of 4096",
        ));
    }
    if spec.max_entries as u64 > RINGBUF_MAX_DATA_SZ {
        return Err(too_big(spec, "data area too large"));
    }
    Ok(())
}

fn check_bloom(spec: &MapSpec) -> Result<(), MapError> {
    let mask = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK;
    if spec.key_size != 0
        || spec.value_size == 0
        || spec.max_entries == 0
        || spec.flags & !mask != 0
        || !access_ok(spec.flags)
        || spec.map_extra & !0xf != 0
    {
        return Err(invalid(
            spec,
            "needs key_size 0, value_size > 0, max_entries > 0, map_extra < 16",
        ));
    }
    Ok(())
}

/// A `bpf_spin_lock` may only live in plain arrays and hashes, 4-aligned and inside the value.
fn check_spin_lock(spec: &MapSpec) -> Result<(), MapError> {
    let Some(off) = spec.spin_lock_offset else {
        return Ok(());
    };
    if !matches!(spec.map_type, MapType::Array | MapType::Hash) {
        return Err(invalid(
            spec,
            "bpf_spin_lock is only allowed in ARRAY and HASH values",
        ));
    }
    if off % 4 != 0 || off as u64 + 4 > spec.value_size as u64 {
        return Err(invalid(
            spec,
            &format!("bpf_spin_lock at value offset {off} is misaligned or out of the value"),
        ));
    }
    Ok(())
}

fn check_inner(spec: &MapSpec) -> Result<(), MapError> {
    let inner = spec.inner_map.as_deref().ok_or(MapError::NoInnerMap)?;
    match inner.map_type {
        MapType::ArrayOfMaps | MapType::HashOfMaps => {
            Err(invalid(spec, "an inner map cannot itself be a map of maps"))
        }
        MapType::ProgArray => Err(MapError::not_supported(
            "program arrays as inner maps",
            spec.map_type,
            ENOTSUPP,
        )),
        _ => Ok(()),
    }
}
