//! Kernel enumerations (`enum bpf_prog_type`, `bpf_attach_type`, `bpf_map_type`)
//! as typed Rust values with their exact uapi numbers.

macro_rules! kernel_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, $text:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every variant, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The kernel's numeric value.
            pub const fn as_u32(self) -> u32 {
                match self { $($name::$variant => $value,)* }
            }

            /// The variant with the kernel value `v`, if this crate knows it.
            pub const fn from_u32(v: u32) -> Option<Self> {
                match v { $($value => Some($name::$variant),)* _ => None }
            }

            /// The lower-case name used by libbpf and bpftool (`"sched_cls"`, `"lru_hash"`...).
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kernel_enum! {
    /// A program type (`BPF_PROG_TYPE_*`): what context the program gets and which helpers it may call.
    ProgType {
        /// `BPF_PROG_TYPE_UNSPEC`
        Unspec = 0, "unspec";
        /// `BPF_PROG_TYPE_SOCKET_FILTER`
        SocketFilter = 1, "socket_filter";
        /// `BPF_PROG_TYPE_KPROBE` (also uprobes, ksyscall, usdt)
        Kprobe = 2, "kprobe";
        /// `BPF_PROG_TYPE_SCHED_CLS` (tc classifier)
        SchedCls = 3, "sched_cls";
        /// `BPF_PROG_TYPE_SCHED_ACT` (tc action)
        SchedAct = 4, "sched_act";
        /// `BPF_PROG_TYPE_TRACEPOINT`
        Tracepoint = 5, "tracepoint";
        /// `BPF_PROG_TYPE_XDP`
        Xdp = 6, "xdp";
        /// `BPF_PROG_TYPE_PERF_EVENT`
        PerfEvent = 7, "perf_event";
        /// `BPF_PROG_TYPE_CGROUP_SKB`
        CgroupSkb = 8, "cgroup_skb";
        /// `BPF_PROG_TYPE_CGROUP_SOCK`
        CgroupSock = 9, "cgroup_sock";
        /// `BPF_PROG_TYPE_LWT_IN`
        LwtIn = 10, "lwt_in";
        /// `BPF_PROG_TYPE_LWT_OUT`
        LwtOut = 11, "lwt_out";
        /// `BPF_PROG_TYPE_LWT_XMIT`
        LwtXmit = 12, "lwt_xmit";
        /// `BPF_PROG_TYPE_SOCK_OPS`
        SockOps = 13, "sock_ops";
        /// `BPF_PROG_TYPE_SK_SKB`
        SkSkb = 14, "sk_skb";
        /// `BPF_PROG_TYPE_CGROUP_DEVICE`
        CgroupDevice = 15, "cgroup_device";
        /// `BPF_PROG_TYPE_SK_MSG`
        SkMsg = 16, "sk_msg";
        /// `BPF_PROG_TYPE_RAW_TRACEPOINT`
        RawTracepoint = 17, "raw_tracepoint";
        /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`
        CgroupSockAddr = 18, "cgroup_sock_addr";
        /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`
        LwtSeg6local = 19, "lwt_seg6local";
        /// `BPF_PROG_TYPE_LIRC_MODE2`
        LircMode2 = 20, "lirc_mode2";
        /// `BPF_PROG_TYPE_SK_REUSEPORT`
        SkReuseport = 21, "sk_reuseport";
        /// `BPF_PROG_TYPE_FLOW_DISSECTOR`
        FlowDissector = 22, "flow_dissector";
        /// `BPF_PROG_TYPE_CGROUP_SYSCTL`
        CgroupSysctl = 23, "cgroup_sysctl";
        /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`
        RawTracepointWritable = 24, "raw_tracepoint_writable";
        /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`
        CgroupSockopt = 25, "cgroup_sockopt";
        /// `BPF_PROG_TYPE_TRACING` (fentry, fexit, fmod_ret, tp_btf, iter)
        Tracing = 26, "tracing";
        /// `BPF_PROG_TYPE_STRUCT_OPS`
        StructOps = 27, "struct_ops";
        /// `BPF_PROG_TYPE_EXT` (freplace)
        Ext = 28, "ext";
        /// `BPF_PROG_TYPE_LSM`
        Lsm = 29, "lsm";
        /// `BPF_PROG_TYPE_SK_LOOKUP`
        SkLookup = 30, "sk_lookup";
        /// `BPF_PROG_TYPE_SYSCALL`
        Syscall = 31, "syscall";
        /// `BPF_PROG_TYPE_NETFILTER`
        Netfilter = 32, "netfilter";
    }
}

kernel_enum! {
    /// An attach type (`enum bpf_attach_type`), used as a program's expected attach type.
    AttachType {
        /// `BPF_CGROUP_INET_INGRESS`
        CgroupInetIngress = 0, "cgroup_inet_ingress";
        /// `BPF_CGROUP_INET_EGRESS`
        CgroupInetEgress = 1, "cgroup_inet_egress";
        /// `BPF_CGROUP_INET_SOCK_CREATE`
        CgroupInetSockCreate = 2, "cgroup_inet_sock_create";
        /// `BPF_CGROUP_SOCK_OPS`
        CgroupSockOps = 3, "cgroup_sock_ops";
        /// `BPF_SK_SKB_STREAM_PARSER`
        SkSkbStreamParser = 4, "sk_skb_stream_parser";
        /// `BPF_SK_SKB_STREAM_VERDICT`
        SkSkbStreamVerdict = 5, "sk_skb_stream_verdict";
        /// `BPF_CGROUP_DEVICE`
        CgroupDevice = 6, "cgroup_device";
        /// `BPF_SK_MSG_VERDICT`
        SkMsgVerdict = 7, "sk_msg_verdict";
        /// `BPF_CGROUP_INET4_BIND`
        CgroupInet4Bind = 8, "cgroup_inet4_bind";
        /// `BPF_CGROUP_INET6_BIND`
        CgroupInet6Bind = 9, "cgroup_inet6_bind";
        /// `BPF_CGROUP_INET4_CONNECT`
        CgroupInet4Connect = 10, "cgroup_inet4_connect";
        /// `BPF_CGROUP_INET6_CONNECT`
        CgroupInet6Connect = 11, "cgroup_inet6_connect";
        /// `BPF_CGROUP_INET4_POST_BIND`
        CgroupInet4PostBind = 12, "cgroup_inet4_post_bind";
        /// `BPF_CGROUP_INET6_POST_BIND`
        CgroupInet6PostBind = 13, "cgroup_inet6_post_bind";
        /// `BPF_CGROUP_UDP4_SENDMSG`
        CgroupUdp4Sendmsg = 14, "cgroup_udp4_sendmsg";
        /// `BPF_CGROUP_UDP6_SENDMSG`
        CgroupUdp6Sendmsg = 15, "cgroup_udp6_sendmsg";
        /// `BPF_LIRC_MODE2`
        LircMode2 = 16, "lirc_mode2";
        /// `BPF_FLOW_DISSECTOR`
        FlowDissector = 17, "flow_dissector";
        /// `BPF_CGROUP_SYSCTL`
        CgroupSysctl = 18, "cgroup_sysctl";
        /// `BPF_CGROUP_UDP4_RECVMSG`
        CgroupUdp4Recvmsg = 19, "cgroup_udp4_recvmsg";
        /// `BPF_CGROUP_UDP6_RECVMSG`
        CgroupUdp6Recvmsg = 20, "cgroup_udp6_recvmsg";
        /// `BPF_CGROUP_GETSOCKOPT`
        CgroupGetsockopt = 21, "cgroup_getsockopt";
        /// `BPF_CGROUP_SETSOCKOPT`
        CgroupSetsockopt = 22, "cgroup_setsockopt";
        /// `BPF_TRACE_RAW_TP`
        TraceRawTp = 23, "trace_raw_tp";
        /// `BPF_TRACE_FENTRY`
        TraceFentry = 24, "trace_fentry";
        /// `BPF_TRACE_FEXIT`
        TraceFexit = 25, "trace_fexit";
        /// `BPF_MODIFY_RETURN`
        ModifyReturn = 26, "modify_return";
        /// `BPF_LSM_MAC`
        LsmMac = 27, "lsm_mac";
        /// `BPF_TRACE_ITER`
        TraceIter = 28, "trace_iter";
        /// `BPF_CGROUP_INET4_GETPEERNAME`
        CgroupInet4Getpeername = 29, "cgroup_inet4_getpeername";
        /// `BPF_CGROUP_INET6_GETPEERNAME`
        CgroupInet6Getpeername = 30, "cgroup_inet6_getpeername";
        /// `BPF_CGROUP_INET4_GETSOCKNAME`
        CgroupInet4Getsockname = 31, "cgroup_inet4_getsockname";
        /// `BPF_CGROUP_INET6_GETSOCKNAME`
        CgroupInet6Getsockname = 32, "cgroup_inet6_getsockname";
        /// `BPF_XDP_DEVMAP`
        XdpDevmap = 33, "xdp_devmap";
        /// `BPF_CGROUP_INET_SOCK_RELEASE`
        CgroupInetSockRelease = 34, "cgroup_inet_sock_release";
        /// `BPF_XDP_CPUMAP`
        XdpCpumap = 35, "xdp_cpumap";
        /// `BPF_SK_LOOKUP`
        SkLookup = 36, "sk_lookup";
        /// `BPF_XDP`
        Xdp = 37, "xdp";
        /// `BPF_SK_SKB_VERDICT`
        SkSkbVerdict = 38, "sk_skb_verdict";
        /// `BPF_SK_REUSEPORT_SELECT`
        SkReuseportSelect = 39, "sk_reuseport_select";
        /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`
        SkReuseportSelectOrMigrate = 40, "sk_reuseport_select_or_migrate";
        /// `BPF_PERF_EVENT`
        PerfEvent = 41, "perf_event";
        /// `BPF_TRACE_KPROBE_MULTI`
        TraceKprobeMulti = 42, "trace_kprobe_multi";
        /// `BPF_LSM_CGROUP`
        LsmCgroup = 43, "lsm_cgroup";
        /// `BPF_STRUCT_OPS`
        StructOps = 44, "struct_ops";
        /// `BPF_NETFILTER`
        Netfilter = 45, "netfilter";
        /// `BPF_TCX_INGRESS`
        TcxIngress = 46, "tcx_ingress";
        /// `BPF_TCX_EGRESS`
        TcxEgress = 47, "tcx_egress";
        /// `BPF_TRACE_UPROBE_MULTI`
        TraceUprobeMulti = 48, "trace_uprobe_multi";
        /// `BPF_CGROUP_UNIX_CONNECT`
        CgroupUnixConnect = 49, "cgroup_unix_connect";
        /// `BPF_CGROUP_UNIX_SENDMSG`
        CgroupUnixSendmsg = 50, "cgroup_unix_sendmsg";
        /// `BPF_CGROUP_UNIX_RECVMSG`
        CgroupUnixRecvmsg = 51, "cgroup_unix_recvmsg";
        /// `BPF_CGROUP_UNIX_GETPEERNAME`
        CgroupUnixGetpeername = 52, "cgroup_unix_getpeername";
        /// `BPF_CGROUP_UNIX_GETSOCKNAME`
        CgroupUnixGetsockname = 53, "cgroup_unix_getsockname";
        /// `BPF_NETKIT_PRIMARY`
        NetkitPrimary = 54, "netkit_primary";
        /// `BPF_NETKIT_PEER`
        NetkitPeer = 55, "netkit_peer";
    }
}

kernel_enum! {
    /// A map type (`BPF_MAP_TYPE_*`).
    MapType {
        /// `BPF_MAP_TYPE_UNSPEC`
        Unspec = 0, "unspec";
        /// `BPF_MAP_TYPE_HASH`
        Hash = 1, "hash";
        /// `BPF_MAP_TYPE_ARRAY`
        Array = 2, "array";
        /// `BPF_MAP_TYPE_PROG_ARRAY`
        ProgArray = 3, "prog_array";
        /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`
        PerfEventArray = 4, "perf_event_array";
        /// `BPF_MAP_TYPE_PERCPU_HASH`
        PercpuHash = 5, "percpu_hash";
        /// `BPF_MAP_TYPE_PERCPU_ARRAY`
        PercpuArray = 6, "percpu_array";
        /// `BPF_MAP_TYPE_STACK_TRACE`
        StackTrace = 7, "stack_trace";
        /// `BPF_MAP_TYPE_CGROUP_ARRAY`
        CgroupArray = 8, "cgroup_array";
        /// `BPF_MAP_TYPE_LRU_HASH`
        LruHash = 9, "lru_hash";
        /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`
        LruPercpuHash = 10, "lru_percpu_hash";
        /// `BPF_MAP_TYPE_LPM_TRIE`
        LpmTrie = 11, "lpm_trie";
        /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`
        ArrayOfMaps = 12, "array_of_maps";
        /// `BPF_MAP_TYPE_HASH_OF_MAPS`
        HashOfMaps = 13, "hash_of_maps";
        /// `BPF_MAP_TYPE_DEVMAP`
        Devmap = 14, "devmap";
        /// `BPF_MAP_TYPE_SOCKMAP`
        Sockmap = 15, "sockmap";
        /// `BPF_MAP_TYPE_CPUMAP`
        Cpumap = 16, "cpumap";
        /// `BPF_MAP_TYPE_XSKMAP`
        Xskmap = 17, "xskmap";
        /// `BPF_MAP_TYPE_SOCKHASH`
        Sockhash = 18, "sockhash";
        /// `BPF_MAP_TYPE_CGROUP_STORAGE`
        CgroupStorage = 19, "cgroup_storage";
        /// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`
        ReuseportSockarray = 20, "reuseport_sockarray";
        /// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`
        PercpuCgroupStorage = 21, "percpu_cgroup_storage";
        /// `BPF_MAP_TYPE_QUEUE`
        Queue = 22, "queue";
        /// `BPF_MAP_TYPE_STACK`
        Stack = 23, "stack";
        /// `BPF_MAP_TYPE_SK_STORAGE`
        SkStorage = 24, "sk_storage";
        /// `BPF_MAP_TYPE_DEVMAP_HASH`
        DevmapHash = 25, "devmap_hash";
        /// `BPF_MAP_TYPE_STRUCT_OPS`
        StructOps = 26, "struct_ops";
        /// `BPF_MAP_TYPE_RINGBUF`
        Ringbuf = 27, "ringbuf";
        /// `BPF_MAP_TYPE_INODE_STORAGE`
        InodeStorage = 28, "inode_storage";
        /// `BPF_MAP_TYPE_TASK_STORAGE`
        TaskStorage = 29, "task_storage";
        /// `BPF_MAP_TYPE_BLOOM_FILTER`
        BloomFilter = 30, "bloom_filter";
        /// `BPF_MAP_TYPE_USER_RINGBUF`
        UserRingbuf = 31, "user_ringbuf";
        /// `BPF_MAP_TYPE_CGRP_STORAGE`
        CgrpStorage = 32, "cgrp_storage";
        /// `BPF_MAP_TYPE_ARENA`
        Arena = 33, "arena";
    }
}

impl MapType {
    /// Whether values of this map type are other maps (`ARRAY_OF_MAPS`, `HASH_OF_MAPS`).
    pub const fn is_map_in_map(self) -> bool {
        matches!(self, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }
}

/// `BPF_F_NO_PREALLOC` map flag.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `BPF_F_RDONLY_PROG` map flag: programs may only read the map (used for `.rodata`).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE` map flag: the array can be mmap()ed by user space.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
