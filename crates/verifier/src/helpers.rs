//! Prototypes of the common kernel helpers (numbers from `enum bpf_func_id`).

use crate::env::{ArgKind::*, HelperProto, RetKind};

const fn proto(
    name: &'static str,
    id: i32,
    args: &'static [crate::env::ArgKind],
    ret: RetKind,
) -> HelperProto {
    HelperProto {
        name,
        id,
        args,
        ret,
        changes_pkt_data: false,
    }
}

const fn pkt(mut p: HelperProto) -> HelperProto {
    p.changes_pkt_data = true;
    p
}

const U32: RetKind = RetKind::IntegerIn(0, u32::MAX as i64);

/// Helpers every program type gets (the kernel's `bpf_base_func_proto` for a privileged loader).
pub const BASE: &[HelperProto] = &[
    proto(
        "map_lookup_elem",
        1,
        &[ConstMapPtr, MapKey],
        RetKind::MapValueOrNull,
    ),
    proto(
        "map_update_elem",
        2,
        &[ConstMapPtr, MapKey, MapValue, Anything],
        RetKind::Integer,
    ),
    proto(
        "map_delete_elem",
        3,
        &[ConstMapPtr, MapKey],
        RetKind::Integer,
    ),
    proto("ktime_get_ns", 5, &[], RetKind::Integer),
    proto("trace_printk", 6, &[MemRead, ConstSize], RetKind::Integer),
    proto("get_prandom_u32", 7, &[], U32),
    proto("get_smp_processor_id", 8, &[], U32),
    proto(
        "tail_call",
        12,
        &[Ctx, ConstMapPtr, Anything],
        RetKind::Void,
    ),
    proto("get_current_pid_tgid", 14, &[], RetKind::Integer),
    proto("get_numa_node_id", 42, &[], U32),
    proto(
        "map_push_elem",
        87,
        &[ConstMapPtr, MapValue, Anything],
        RetKind::Integer,
    ),
    proto(
        "map_pop_elem",
        88,
        &[ConstMapPtr, UninitMapValue],
        RetKind::Integer,
    ),
    proto(
        "map_peek_elem",
        89,
        &[ConstMapPtr, UninitMapValue],
        RetKind::Integer,
    ),
    proto("spin_lock", 93, &[SpinLock], RetKind::Void),
    proto("spin_unlock", 94, &[SpinLock], RetKind::Void),
    proto(
        "probe_read_user",
        112,
        &[MemWrite, ConstSizeOrZero, Anything],
        RetKind::Integer,
    ),
    proto(
        "probe_read_kernel",
        113,
        &[MemWrite, ConstSizeOrZero, Anything],
        RetKind::Integer,
    ),
    proto("jiffies64", 118, &[], RetKind::Integer),
    proto("ktime_get_boot_ns", 125, &[], RetKind::Integer),
    proto(
        "ringbuf_output",
        130,
        &[ConstMapPtr, MemRead, ConstSizeOrZero, Anything],
        RetKind::Integer,
    ),
    proto(
        "ringbuf_reserve",
        131,
        &[ConstMapPtr, ConstAllocSize, Anything],
        RetKind::AllocMemOrNull,
    ),
    proto(
        "ringbuf_submit",
        132,
        &[ReleaseAllocMem, Anything],
        RetKind::Void,
    ),
    proto(
        "ringbuf_discard",
        133,
        &[ReleaseAllocMem, Anything],
        RetKind::Void,
    ),
    proto(
        "ringbuf_query",
        134,
        &[ConstMapPtr, Anything],
        RetKind::Integer,
    ),
    proto(
        "for_each_map_elem",
        164,
        &[ConstMapPtr, Func, StackOrNull, Anything],
        RetKind::Integer,
    ),
    proto(
        "loop",
        181,
        &[Anything, Func, StackOrNull, Anything],
        RetKind::Integer,
    ),
    proto(
        "strncmp",
        182,
        &[MemRead, ConstSize, ConstStr],
        RetKind::Integer,
    ),
];

/// Helpers of socket filters on top of [`BASE`].
pub const SOCKET_FILTER: &[HelperProto] = &[
    proto(
        "skb_load_bytes",
        26,
        &[Ctx, Anything, MemWrite, ConstSize],
        RetKind::Integer,
    ),
    proto("get_socket_cookie", 46, &[Ctx], RetKind::Integer),
    proto("get_socket_uid", 47, &[Ctx], U32),
];

/// Helpers of tc classifiers and actions on top of [`BASE`].
pub const TC: &[HelperProto] = &[
    pkt(proto(
        "skb_store_bytes",
        9,
        &[Ctx, Anything, MemRead, ConstSize, Anything],
        RetKind::Integer,
    )),
    pkt(proto(
        "l3_csum_replace",
        10,
        &[Ctx, Anything, Anything, Anything, Anything],
        RetKind::Integer,
    )),
    pkt(proto(
        "l4_csum_replace",
        11,
        &[Ctx, Anything, Anything, Anything, Anything],
        RetKind::Integer,
    )),
    pkt(proto(
        "clone_redirect",
        13,
        &[Ctx, Anything, Anything],
        RetKind::Integer,
    )),
    proto("get_cgroup_classid", 17, &[Ctx], U32),
    proto("redirect", 23, &[Anything, Anything], RetKind::Integer),
    proto(
        "skb_load_bytes",
        26,
        &[Ctx, Anything, MemWrite, ConstSize],
        RetKind::Integer,
    ),
    proto(
        "csum_diff",
        28,
        &[MemRead, ConstSizeOrZero, MemRead, ConstSizeOrZero, Anything],
        RetKind::Integer,
    ),
    pkt(proto(
        "skb_change_proto",
        31,
        &[Ctx, Anything, Anything],
        RetKind::Integer,
    )),
    proto("get_hash_recalc", 34, &[Ctx], U32),
    pkt(proto(
        "skb_pull_data",
        39,
        &[Ctx, Anything],
        RetKind::Integer,
    )),
    proto("get_socket_cookie", 46, &[Ctx], RetKind::Integer),
    proto("get_socket_uid", 47, &[Ctx], U32),
];

/// Helpers of XDP programs on top of [`BASE`].
pub const XDP: &[HelperProto] = &[
    proto("redirect", 23, &[Anything, Anything], RetKind::Integer),
    proto(
        "csum_diff",
        28,
        &[MemRead, ConstSizeOrZero, MemRead, ConstSizeOrZero, Anything],
        RetKind::Integer,
    ),
    pkt(proto(
        "xdp_adjust_head",
        44,
        &[Ctx, Anything],
        RetKind::Integer,
    )),
    proto(
        "redirect_map",
        51,
        &[ConstMapPtr, Anything, Anything],
        RetKind::Integer,
    ),
    pkt(proto(
        "xdp_adjust_meta",
        54,
        &[Ctx, Anything],
        RetKind::Integer,
    )),
    pkt(proto(
        "xdp_adjust_tail",
        65,
        &[Ctx, Anything],
        RetKind::Integer,
    )),
];

/// Finds helper `id` in the given tables.
pub fn find(tables: &[&[HelperProto]], id: i32) -> Option<HelperProto> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .find(|p| p.id == id)
        .copied()
}
