//! Map types, creation parameters and the flag constants of the `bpf(2)` ABI.

/// `BPF_ANY`: create a new element or update an existing one.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create a new element only if it does not exist.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update an existing element only.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: copy the value while holding the value's `bpf_spin_lock`.
pub const BPF_F_LOCK: u64 = 4;

/// Map creation flags (`map_flags`), numbered as in `linux/bpf.h`.
pub mod map_flags {
    /// Do not preallocate elements (required by LPM tries).
    pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
    /// One LRU list per CPU instead of a common one.
    pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
    /// `numa_node` is valid (accepted and ignored here).
    pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
    /// Read-only for the host (syscall side).
    pub const BPF_F_RDONLY: u32 = 1 << 3;
    /// Write-only for the host (syscall side).
    pub const BPF_F_WRONLY: u32 = 1 << 4;
    /// Use a zero hash seed (deterministic hashing).
    pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
    /// Read-only for programs (enforced by the verifier, not by the map).
    pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
    /// Write-only for programs (enforced by the verifier, not by the map).
    pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
    /// The array may be `mmap()`ed (arrays only).
    pub const BPF_F_MMAPABLE: u32 = 1 << 10;
    /// Keep perf event array elements (perf event arrays only; rejected elsewhere).
    pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
    /// The array is used as an inner map whose `max_entries` may differ from the template.
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
    /// The four access flags.
    pub const BPF_F_ACCESS_MASK: u32 =
        BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
}

/// The map types this crate implements, with the kernel's `BPF_MAP_TYPE_*` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MapType {
    /// `BPF_MAP_TYPE_HASH`
    Hash = 1,
    /// `BPF_MAP_TYPE_ARRAY`
    Array = 2,
    /// `BPF_MAP_TYPE_PROG_ARRAY`
    ProgArray = 3,
    /// `BPF_MAP_TYPE_PERCPU_HASH`
    PercpuHash = 5,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`
    PercpuArray = 6,
    /// `BPF_MAP_TYPE_LRU_HASH`
    LruHash = 9,
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`
    LruPercpuHash = 10,
    /// `BPF_MAP_TYPE_LPM_TRIE`
    LpmTrie = 11,
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`
    ArrayOfMaps = 12,
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`
    HashOfMaps = 13,
    /// `BPF_MAP_TYPE_QUEUE`
    Queue = 22,
    /// `BPF_MAP_TYPE_STACK`
    Stack = 23,
    /// `BPF_MAP_TYPE_RINGBUF`
    RingBuf = 27,
    /// `BPF_MAP_TYPE_BLOOM_FILTER`
    BloomFilter = 30,
}

impl MapType {
    /// Every implemented type, in kernel numbering order.
    pub const ALL: [MapType; 14] = [
        MapType::Hash,
        MapType::Array,
        MapType::ProgArray,
        MapType::PercpuHash,
        MapType::PercpuArray,
        MapType::LruHash,
        MapType::LruPercpuHash,
        MapType::LpmTrie,
        MapType::ArrayOfMaps,
        MapType::HashOfMaps,
        MapType::Queue,
        MapType::Stack,
        MapType::RingBuf,
        MapType::BloomFilter,
    ];

    /// The type with kernel number `n`, or `None` if it is unknown or not implemented.
    pub fn from_u32(n: u32) -> Option<MapType> {
        MapType::ALL.into_iter().find(|t| *t as u32 == n)
    }

    /// Whether each element holds one value per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash
        )
    }

    /// Whether this is one of the four hash table types.
    pub fn is_hash(self) -> bool {
        matches!(
            self,
            MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash
        )
    }

    /// Whether this is an LRU hash.
    pub fn is_lru(self) -> bool {
        matches!(self, MapType::LruHash | MapType::LruPercpuHash)
    }
}

/// Parameters of a map, as passed to `BPF_MAP_CREATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of elements (ring buffers: data area size in bytes).
    pub max_entries: u32,
    /// `map_flags` (see [`map_flags`]).
    pub flags: u32,
    /// `map_extra`: for bloom filters, the number of hash functions in bits 0..4.
    pub map_extra: u64,
    /// Offset of a `struct bpf_spin_lock` (4 bytes, 4-aligned) in the value, as BTF
    /// would describe it. Only `ARRAY` and `HASH` maps may have one, as in the kernel.
    pub spin_lock_offset: Option<u32>,
    /// For `ARRAY_OF_MAPS`/`HASH_OF_MAPS`: the template every inner map must match
    /// (the kernel's `inner_map_fd`).
    pub inner_map: Option<Box<MapSpec>>,
}

impl MapSpec {
    /// A spec with no flags, no `map_extra`, no spin lock and no inner map.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            map_extra: 0,
            spin_lock_offset: None,
            inner_map: None,
        }
    }

    /// The same spec with `map_flags` set.
    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// The same spec with `map_extra` set.
    pub fn with_map_extra(mut self, map_extra: u64) -> Self {
        self.map_extra = map_extra;
        self
    }

    /// The same spec with a `bpf_spin_lock` at `offset` in the value.
    pub fn with_spin_lock(mut self, offset: u32) -> Self {
        self.spin_lock_offset = Some(offset);
        self
    }

    /// The same spec with an inner map template (for maps of maps).
    pub fn with_inner_map(mut self, inner: MapSpec) -> Self {
        self.inner_map = Some(Box::new(inner));
        self
    }

    /// Size of one value slot: `value_size` rounded up to 8 bytes.
    pub fn value_slot(&self) -> usize {
        round_up8(self.value_size as usize)
    }
}

/// `n` rounded up to a multiple of 8.
pub(crate) fn round_up8(n: usize) -> usize {
    (n + 7) & !7
}
