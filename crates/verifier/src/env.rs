//! The boundary between the verifier engine and a program type.
//!
//! The engine knows the instruction set and memory safety; everything that depends on
//! where the program runs — the context layout, the helpers and their prototypes, the
//! maps, the allowed return values — comes through [`ProgramEnv`]. bpfkit ships
//! environments for the socket filter, XDP, tc and a raw-memory convention in
//! [`crate::envs`]; a runtime can implement the trait for anything else.

/// What `r1` (and `r2`) hold when the program starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `r1` points to the program type's context.
    Ctx,
    /// `r1` points to `size` bytes of readable and writable memory; `r2 = size`.
    Memory {
        /// Size of the region in bytes.
        size: u32,
    },
}

/// What a context load produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxField {
    /// A plain value (zero-extended to 64 bits from the access size).
    Scalar,
    /// Start of the packet data (`skb->data`, `xdp->data`).
    PacketData,
    /// End of the packet data.
    PacketEnd,
    /// Start of the metadata area before the packet.
    PacketMeta,
}

/// How the program refers to a map in an `lddw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapRef {
    /// `BPF_PSEUDO_MAP_FD`: a file descriptor.
    Fd(i32),
    /// `BPF_PSEUDO_MAP_IDX`: an index into the program's map table.
    Idx(u32),
}

/// Map types the verifier distinguishes (kernel numbering, `BPF_MAP_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapType {
    /// 1: `BPF_MAP_TYPE_HASH`.
    Hash,
    /// 2: `BPF_MAP_TYPE_ARRAY`.
    Array,
    /// 3: `BPF_MAP_TYPE_PROG_ARRAY` (tail calls).
    ProgArray,
    /// 5: `BPF_MAP_TYPE_PERCPU_HASH`.
    PercpuHash,
    /// 6: `BPF_MAP_TYPE_PERCPU_ARRAY`.
    PercpuArray,
    /// 9: `BPF_MAP_TYPE_LRU_HASH`.
    LruHash,
    /// 10: `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    LruPercpuHash,
    /// 12: `BPF_MAP_TYPE_ARRAY_OF_MAPS` (values are maps, see [`MapInfo::inner_map`]).
    ArrayOfMaps,
    /// 13: `BPF_MAP_TYPE_HASH_OF_MAPS`.
    HashOfMaps,
    /// 22: `BPF_MAP_TYPE_QUEUE`.
    Queue,
    /// 23: `BPF_MAP_TYPE_STACK`.
    Stack,
    /// 27: `BPF_MAP_TYPE_RINGBUF`.
    Ringbuf,
    /// 30: `BPF_MAP_TYPE_BLOOM_FILTER` (push adds, peek tests).
    BloomFilter,
    /// Any other kernel map type, by number.
    Other(u32),
}

impl MapType {
    /// The kernel's `BPF_MAP_TYPE_*` number.
    pub fn number(self) -> u32 {
        match self {
            MapType::Hash => 1,
            MapType::Array => 2,
            MapType::ProgArray => 3,
            MapType::PercpuHash => 5,
            MapType::PercpuArray => 6,
            MapType::LruHash => 9,
            MapType::LruPercpuHash => 10,
            MapType::ArrayOfMaps => 12,
            MapType::HashOfMaps => 13,
            MapType::Queue => 22,
            MapType::Stack => 23,
            MapType::Ringbuf => 27,
            MapType::BloomFilter => 30,
            MapType::Other(n) => n,
        }
    }

    /// The type with kernel number `n`.
    pub fn from_number(n: u32) -> MapType {
        match n {
            1 => MapType::Hash,
            2 => MapType::Array,
            3 => MapType::ProgArray,
            5 => MapType::PercpuHash,
            6 => MapType::PercpuArray,
            9 => MapType::LruHash,
            10 => MapType::LruPercpuHash,
            12 => MapType::ArrayOfMaps,
            13 => MapType::HashOfMaps,
            22 => MapType::Queue,
            23 => MapType::Stack,
            27 => MapType::Ringbuf,
            30 => MapType::BloomFilter,
            n => MapType::Other(n),
        }
    }

    /// Whether `bpf_map_lookup_elem` and friends work on it (key/value maps).
    pub fn is_key_value(self) -> bool {
        matches!(
            self,
            MapType::Hash
                | MapType::Array
                | MapType::PercpuHash
                | MapType::PercpuArray
                | MapType::LruHash
                | MapType::LruPercpuHash
        )
    }

    /// Whether the values are other maps (`lookup` gives a map, not memory).
    pub fn is_map_in_map(self) -> bool {
        matches!(self, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }
}

/// What the verifier needs to know about a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapInfo {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Offset of a `struct bpf_spin_lock` inside the value, if it has one.
    pub spin_lock_off: Option<u32>,
    /// Programs may only read the values (`BPF_F_RDONLY_PROG`, as for `.rodata`).
    pub read_only: bool,
    /// For a map of maps: the template every inner map follows.
    pub inner_map: Option<MapRef>,
}

impl MapInfo {
    /// A map with no spin lock, writable by programs, not a map of maps.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapInfo {
        MapInfo {
            map_type,
            key_size,
            value_size,
            max_entries,
            spin_lock_off: None,
            read_only: false,
            inner_map: None,
        }
    }
}

/// Kinds of helper arguments (the kernel's `ARG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `ARG_ANYTHING`: any initialized value.
    Anything,
    /// `ARG_CONST_MAP_PTR`: a map loaded with `lddw`.
    ConstMapPtr,
    /// `ARG_PTR_TO_MAP_KEY`: `key_size` initialized bytes of the map in argument 1.
    MapKey,
    /// `ARG_PTR_TO_MAP_VALUE`: `value_size` initialized bytes.
    MapValue,
    /// `ARG_PTR_TO_UNINIT_MAP_VALUE`: `value_size` writable bytes (the helper fills them).
    UninitMapValue,
    /// `ARG_PTR_TO_MEM | MEM_RDONLY`: initialized memory read by the helper; size in the next argument.
    MemRead,
    /// `ARG_PTR_TO_UNINIT_MEM`: memory the helper writes; size in the next argument.
    MemWrite,
    /// `ARG_CONST_SIZE`: size of the preceding memory argument, a bounded value > 0.
    ConstSize,
    /// `ARG_CONST_SIZE_OR_ZERO`: like [`ArgKind::ConstSize`] but 0 is allowed.
    ConstSizeOrZero,
    /// `ARG_PTR_TO_CTX`: the unmodified context pointer.
    Ctx,
    /// `ARG_PTR_TO_STACK_OR_NULL`: a stack pointer or 0 (callback context).
    StackOrNull,
    /// `ARG_PTR_TO_FUNC`: a callback loaded with `lddw rX, func`.
    Func,
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`: a known constant size of memory the helper allocates.
    ConstAllocSize,
    /// `ARG_PTR_TO_ALLOC_MEM | OBJ_RELEASE`: an acquired ringbuf record, released by the call.
    ReleaseAllocMem,
    /// `ARG_PTR_TO_SPIN_LOCK`: the `bpf_spin_lock` inside a map value.
    SpinLock,
    /// `ARG_PTR_TO_CONST_STR`: a NUL-terminated string in a read-only map.
    ConstStr,
}

/// What a helper returns in `r0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    /// `RET_INTEGER`: an unknown scalar.
    Integer,
    /// `RET_INTEGER` known to lie in `[min, max]` (signed).
    IntegerIn(i64, i64),
    /// `RET_VOID`: r0 is not readable afterwards.
    Void,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL` of the map in argument 1.
    MapValueOrNull,
    /// `RET_PTR_TO_MEM_OR_NULL` of the size given by the `ConstAllocSize` argument,
    /// an acquired reference (ringbuf reserve).
    AllocMemOrNull,
}

/// A helper's prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperProto {
    /// Name without the `bpf_` prefix, as the kernel prints it (`map_lookup_elem`).
    pub name: &'static str,
    /// Kernel helper number (`BPF_FUNC_*`).
    pub id: i32,
    /// Argument kinds for r1.. (unused arguments are not listed).
    pub args: &'static [ArgKind],
    /// What r0 holds afterwards.
    pub ret: RetKind,
    /// The helper may move packet data (`xdp_adjust_head`, `skb_store_bytes`...):
    /// every packet pointer is invalidated.
    pub changes_pkt_data: bool,
}

/// Everything program-type specific the verifier needs.
pub trait ProgramEnv {
    /// A short name for messages (`xdp`, `socket_filter`...).
    fn name(&self) -> &str;

    /// What the program receives in r1 (and r2).
    fn entry(&self) -> Entry {
        Entry::Ctx
    }

    /// Checks a context access of `size` bytes at constant offset `off`; the `Err`
    /// message replaces the kernel's default `invalid bpf_context access off=.. size=..`
    /// when it is not empty.
    fn ctx_access(&self, off: i64, size: u32, write: bool) -> Result<CtxField, String>;

    /// The prototype of helper `id`, if this program type may call it.
    fn helper(&self, id: i32) -> Option<HelperProto>;

    /// The map an `lddw` refers to.
    fn map(&self, r: MapRef) -> Option<MapInfo> {
        let _ = r;
        None
    }

    /// Signed range `r0` must lie in at exit, if the type restricts it.
    fn return_range(&self) -> Option<(i64, i64)> {
        None
    }

    /// Whether the legacy `ld_abs`/`ld_ind` packet loads are allowed.
    fn allows_ld_abs(&self) -> bool {
        false
    }

    /// Whether direct packet access through `data`/`data_end` pointers may write.
    fn packet_writable(&self) -> bool {
        false
    }

    /// Whether pointers may leak into scalars, maps or the return value (root: yes).
    fn allow_ptr_leaks(&self) -> bool {
        true
    }
}
