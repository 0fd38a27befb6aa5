//! Program section names (`SEC("...")`) and what they mean, following libbpf 1.x.
//!
//! A section name selects the program type, the expected attach type and,
//! after a `/`, an attach target (`kprobe/do_sys_openat2`,
//! `tracepoint/syscalls/sys_enter_openat`). Names ending in `+` in the table
//! below accept either the bare prefix or `prefix/target`; the others must
//! match exactly, except that a few names older loaders matched by prefix
//! (`socket/x`, `xdp/x`, `classifier/x`, `action/x`) are still accepted.

use crate::types::{AttachType, ProgType};

/// How a program's ELF section name classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSection {
    /// The full ELF section name, e.g. `tracepoint/syscalls/sys_enter_openat`.
    pub name: String,
    /// The program type the section selects.
    pub prog_type: ProgType,
    /// The expected attach type passed to the kernel at load time, if any.
    pub attach_type: Option<AttachType>,
    /// The text after the prefix and its `/` (function, tracepoint, binary:symbol...).
    pub attach_target: Option<String>,
    /// Sleepable program (`*.s` section prefixes such as `fentry.s`, `uprobe.s`).
    pub sleepable: bool,
    /// XDP program that accepts multi-buffer packets (`xdp.frags`).
    pub xdp_frags: bool,
}

struct Def {
    prefix: &'static str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    flags: u8,
}

/// `prefix` or `prefix/target`.
const TARGET: u8 = 1;
const SLEEPABLE: u8 = 2;
const FRAGS: u8 = 4;
/// Also matched as `prefix/anything` (pre-1.0 libbpf behaviour); the rest is not a target.
const LEGACY_PREFIX: u8 = 8;

const fn def(
    prefix: &'static str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    flags: u8,
) -> Def {
    Def {
        prefix,
        prog_type,
        attach,
        flags,
    }
}

use AttachType as A;
use ProgType as P;

/// Checked in order; more specific names come before their prefixes.
const DEFS: &[Def] = &[
    def("socket", P::SocketFilter, None, LEGACY_PREFIX),
    def(
        "sk_reuseport/migrate",
        P::SkReuseport,
        Some(A::SkReuseportSelectOrMigrate),
        0,
    ),
    def(
        "sk_reuseport",
        P::SkReuseport,
        Some(A::SkReuseportSelect),
        0,
    ),
    def("kprobe.multi", P::Kprobe, Some(A::TraceKprobeMulti), TARGET),
    def(
        "kretprobe.multi",
        P::Kprobe,
        Some(A::TraceKprobeMulti),
        TARGET,
    ),
    def(
        "uprobe.multi.s",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        TARGET | SLEEPABLE,
    ),
    def(
        "uretprobe.multi.s",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        TARGET | SLEEPABLE,
    ),
    def("uprobe.multi", P::Kprobe, Some(A::TraceUprobeMulti), TARGET),
    def(
        "uretprobe.multi",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        TARGET,
    ),
    def("kprobe", P::Kprobe, None, TARGET),
    def("kretprobe", P::Kprobe, None, TARGET),
    def("uprobe.s", P::Kprobe, None, TARGET | SLEEPABLE),
    def("uretprobe.s", P::Kprobe, None, TARGET | SLEEPABLE),
    def("uprobe", P::Kprobe, None, TARGET),
    def("uretprobe", P::Kprobe, None, TARGET),
    def("ksyscall", P::Kprobe, None, TARGET),
    def("kretsyscall", P::Kprobe, None, TARGET),
    def("usdt.s", P::Kprobe, None, TARGET | SLEEPABLE),
    def("usdt", P::Kprobe, None, TARGET),
    def("tc/ingress", P::SchedCls, Some(A::TcxIngress), 0),
    def("tc/egress", P::SchedCls, Some(A::TcxEgress), 0),
    def("tcx/ingress", P::SchedCls, Some(A::TcxIngress), 0),
    def("tcx/egress", P::SchedCls, Some(A::TcxEgress), 0),
    def("netkit/primary", P::SchedCls, Some(A::NetkitPrimary), 0),
    def("netkit/peer", P::SchedCls, Some(A::NetkitPeer), 0),
    def("tc", P::SchedCls, None, LEGACY_PREFIX),
    def("classifier", P::SchedCls, None, LEGACY_PREFIX),
    def("action", P::SchedAct, None, LEGACY_PREFIX),
    def("tracepoint", P::Tracepoint, None, TARGET),
    def("tp", P::Tracepoint, None, TARGET),
    def("raw_tracepoint.w", P::RawTracepointWritable, None, TARGET),
    def("raw_tp.w", P::RawTracepointWritable, None, TARGET),
    def("raw_tracepoint", P::RawTracepoint, None, TARGET),
    def("raw_tp", P::RawTracepoint, None, TARGET),
    def("tp_btf", P::Tracing, Some(A::TraceRawTp), TARGET),
    def(
        "fentry.s",
        P::Tracing,
        Some(A::TraceFentry),
        TARGET | SLEEPABLE,
    ),
    def("fentry", P::Tracing, Some(A::TraceFentry), TARGET),
    def(
        "fmod_ret.s",
        P::Tracing,
        Some(A::ModifyReturn),
        TARGET | SLEEPABLE,
    ),
    def("fmod_ret", P::Tracing, Some(A::ModifyReturn), TARGET),
    def(
        "fexit.s",
        P::Tracing,
        Some(A::TraceFexit),
        TARGET | SLEEPABLE,
    ),
    def("fexit", P::Tracing, Some(A::TraceFexit), TARGET),
    def("freplace", P::Ext, None, TARGET),
    def("lsm.s", P::Lsm, Some(A::LsmMac), TARGET | SLEEPABLE),
    def("lsm_cgroup", P::Lsm, Some(A::LsmCgroup), TARGET),
    def("lsm", P::Lsm, Some(A::LsmMac), TARGET),
    def("iter.s", P::Tracing, Some(A::TraceIter), TARGET | SLEEPABLE),
    def("iter", P::Tracing, Some(A::TraceIter), TARGET),
    def("syscall", P::Syscall, None, SLEEPABLE),
    def("xdp.frags/devmap", P::Xdp, Some(A::XdpDevmap), FRAGS),
    def("xdp/devmap", P::Xdp, Some(A::XdpDevmap), 0),
    def("xdp.frags/cpumap", P::Xdp, Some(A::XdpCpumap), FRAGS),
    def("xdp/cpumap", P::Xdp, Some(A::XdpCpumap), 0),
    def("xdp.frags", P::Xdp, Some(A::Xdp), FRAGS),
    def("xdp", P::Xdp, Some(A::Xdp), LEGACY_PREFIX),
    def("perf_event", P::PerfEvent, None, 0),
    def("lwt_in", P::LwtIn, None, 0),
    def("lwt_out", P::LwtOut, None, 0),
    def("lwt_xmit", P::LwtXmit, None, 0),
    def("lwt_seg6local", P::LwtSeg6local, None, 0),
    def("sockops", P::SockOps, Some(A::CgroupSockOps), 0),
    def(
        "sk_skb/stream_parser",
        P::SkSkb,
        Some(A::SkSkbStreamParser),
        0,
    ),
    def(
        "sk_skb/stream_verdict",
        P::SkSkb,
        Some(A::SkSkbStreamVerdict),
        0,
    ),
    def("sk_skb/verdict", P::SkSkb, Some(A::SkSkbVerdict), 0),
    def("sk_skb", P::SkSkb, None, 0),
    def("sk_msg", P::SkMsg, Some(A::SkMsgVerdict), 0),
    def("lirc_mode2", P::LircMode2, Some(A::LircMode2), 0),
    def(
        "flow_dissector",
        P::FlowDissector,
        Some(A::FlowDissector),
        0,
    ),
    def(
        "cgroup_skb/ingress",
        P::CgroupSkb,
        Some(A::CgroupInetIngress),
        0,
    ),
    def(
        "cgroup_skb/egress",
        P::CgroupSkb,
        Some(A::CgroupInetEgress),
        0,
    ),
    def("cgroup/skb", P::CgroupSkb, None, 0),
    def(
        "cgroup/sock_create",
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
        0,
    ),
    def(
        "cgroup/sock_release",
        P::CgroupSock,
        Some(A::CgroupInetSockRelease),
        0,
    ),
    def(
        "cgroup/sock",
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
        0,
    ),
    def(
        "cgroup/post_bind4",
        P::CgroupSock,
        Some(A::CgroupInet4PostBind),
        0,
    ),
    def(
        "cgroup/post_bind6",
        P::CgroupSock,
        Some(A::CgroupInet6PostBind),
        0,
    ),
    def(
        "cgroup/bind4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Bind),
        0,
    ),
    def(
        "cgroup/bind6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Bind),
        0,
    ),
    def(
        "cgroup/connect4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Connect),
        0,
    ),
    def(
        "cgroup/connect6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Connect),
        0,
    ),
    def(
        "cgroup/connect_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixConnect),
        0,
    ),
    def(
        "cgroup/sendmsg4",
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Sendmsg),
        0,
    ),
    def(
        "cgroup/sendmsg6",
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Sendmsg),
        0,
    ),
    def(
        "cgroup/sendmsg_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixSendmsg),
        0,
    ),
    def(
        "cgroup/recvmsg4",
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Recvmsg),
        0,
    ),
    def(
        "cgroup/recvmsg6",
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Recvmsg),
        0,
    ),
    def(
        "cgroup/recvmsg_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixRecvmsg),
        0,
    ),
    def(
        "cgroup/getpeername4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getpeername),
        0,
    ),
    def(
        "cgroup/getpeername6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getpeername),
        0,
    ),
    def(
        "cgroup/getpeername_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetpeername),
        0,
    ),
    def(
        "cgroup/getsockname4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getsockname),
        0,
    ),
    def(
        "cgroup/getsockname6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getsockname),
        0,
    ),
    def(
        "cgroup/getsockname_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetsockname),
        0,
    ),
    def("cgroup/sysctl", P::CgroupSysctl, Some(A::CgroupSysctl), 0),
    def(
        "cgroup/getsockopt",
        P::CgroupSockopt,
        Some(A::CgroupGetsockopt),
        0,
    ),
    def(
        "cgroup/setsockopt",
        P::CgroupSockopt,
        Some(A::CgroupSetsockopt),
        0,
    ),
    def("cgroup/dev", P::CgroupDevice, Some(A::CgroupDevice), 0),
    def("struct_ops.s", P::StructOps, None, TARGET | SLEEPABLE),
    def("struct_ops", P::StructOps, None, TARGET),
    def("sk_lookup", P::SkLookup, Some(A::SkLookup), 0),
    def("netfilter", P::Netfilter, Some(A::Netfilter), 0),
];

impl ProgramSection {
    /// Classifies a section name; `None` if no program type is known for it.
    ///
    /// ```
    /// use bpfkit_object::{ProgramSection, ProgType};
    /// let s = ProgramSection::parse("tracepoint/syscalls/sys_enter_openat").unwrap();
    /// assert_eq!(s.prog_type, ProgType::Tracepoint);
    /// assert_eq!(s.tracepoint(), Some(("syscalls", "sys_enter_openat")));
    /// assert!(ProgramSection::parse("no_such_kind").is_none());
    /// ```
    pub fn parse(name: &str) -> Option<ProgramSection> {
        let strict = DEFS.iter().find_map(|d| match_def(d, name, false));
        strict.or_else(|| DEFS.iter().find_map(|d| match_def(d, name, true)))
    }

    /// A section for `prog_type` with the name libbpf users usually give it
    /// (`"xdp"`, `"socket"`, `"tc"`, `"kprobe"`...), for programs built in memory.
    /// Types that need an attach type get a typical one (`Tracing` becomes `fentry`,
    /// `CgroupSockAddr` becomes `cgroup/connect4`); `Unspec` gets section `"unspec"`.
    pub fn for_type(prog_type: ProgType) -> ProgramSection {
        let name = match prog_type {
            P::SocketFilter => "socket",
            P::Kprobe => "kprobe",
            P::SchedCls => "tc",
            P::SchedAct => "action",
            P::Tracepoint => "tracepoint",
            P::Xdp => "xdp",
            P::PerfEvent => "perf_event",
            P::CgroupSkb => "cgroup/skb",
            P::CgroupSock => "cgroup/sock",
            P::LwtIn => "lwt_in",
            P::LwtOut => "lwt_out",
            P::LwtXmit => "lwt_xmit",
            P::SockOps => "sockops",
            P::SkSkb => "sk_skb",
            P::CgroupDevice => "cgroup/dev",
            P::SkMsg => "sk_msg",
            P::RawTracepoint => "raw_tp",
            P::CgroupSockAddr => "cgroup/connect4",
            P::LwtSeg6local => "lwt_seg6local",
            P::LircMode2 => "lirc_mode2",
            P::SkReuseport => "sk_reuseport",
            P::FlowDissector => "flow_dissector",
            P::CgroupSysctl => "cgroup/sysctl",
            P::RawTracepointWritable => "raw_tp.w",
            P::CgroupSockopt => "cgroup/getsockopt",
            P::Tracing => "fentry",
            P::StructOps => "struct_ops",
            P::Ext => "freplace",
            P::Lsm => "lsm",
            P::SkLookup => "sk_lookup",
            P::Syscall => "syscall",
            P::Netfilter => "netfilter",
            P::Unspec => "unspec",
        };
        ProgramSection::parse(name).unwrap_or(ProgramSection {
            name: name.to_string(),
            prog_type,
            attach_type: None,
            attach_target: None,
            sleepable: false,
            xdp_frags: false,
        })
    }

    /// For tracepoint sections (`tracepoint/CAT/NAME`, `tp/CAT/NAME`): the category and name.
    pub fn tracepoint(&self) -> Option<(&str, &str)> {
        if self.prog_type != ProgType::Tracepoint {
            return None;
        }
        self.attach_target.as_deref()?.split_once('/')
    }

    /// Whether the section is a return probe (`kretprobe`, `uretprobe`, `kretsyscall`...).
    pub fn is_return_probe(&self) -> bool {
        self.prog_type == ProgType::Kprobe
            && ["kretprobe", "uretprobe", "kretsyscall"]
                .iter()
                .any(|p| self.name.starts_with(p))
    }
}

fn match_def(d: &Def, name: &str, legacy: bool) -> Option<ProgramSection> {
    let rest = name.strip_prefix(d.prefix)?;
    let target = if legacy {
        if d.flags & LEGACY_PREFIX == 0 || !rest.starts_with('/') {
            return None;
        }
        None
    } else if rest.is_empty() {
        None
    } else if d.flags & TARGET != 0 && rest.starts_with('/') {
        Some(rest[1..].to_string())
    } else {
        return None;
    };
    Some(ProgramSection {
        name: name.to_string(),
        prog_type: d.prog_type,
        attach_type: d.attach,
        attach_target: target.filter(|t| !t.is_empty()),
        sleepable: d.flags & SLEEPABLE != 0,
        xdp_frags: d.flags & FRAGS != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_do_not_take_targets() {
        assert!(ProgramSection::parse("perf_event/x").is_none());
        assert!(ProgramSection::parse("xdpfoo").is_none());
        assert!(ProgramSection::parse("kprobefoo").is_none());
    }

    #[test]
    fn specific_names_win_over_prefixes() {
        let s = ProgramSection::parse("xdp.frags/devmap").unwrap();
        assert_eq!(s.attach_type, Some(AttachType::XdpDevmap));
        assert!(s.xdp_frags);
        let s = ProgramSection::parse("uprobe.s//bin/bash:readline").unwrap();
        assert!(s.sleepable);
        assert_eq!(s.attach_target.as_deref(), Some("/bin/bash:readline"));
        let s = ProgramSection::parse("kretprobe.multi/vfs_*").unwrap();
        assert_eq!(s.attach_type, Some(AttachType::TraceKprobeMulti));
    }

    #[test]
    fn legacy_prefixes() {
        let s = ProgramSection::parse("socket/tail").unwrap();
        assert_eq!(s.prog_type, ProgType::SocketFilter);
        assert_eq!(s.attach_target, None);
        let s = ProgramSection::parse("xdp/anything").unwrap();
        assert_eq!(s.attach_type, Some(AttachType::Xdp));
    }

    #[test]
    fn return_probes() {
        assert!(ProgramSection::parse("kretprobe/f")
            .unwrap()
            .is_return_probe());
        assert!(!ProgramSection::parse("kprobe/f").unwrap().is_return_probe());
    }

    #[test]
    fn every_type_has_a_canonical_section() {
        for &t in ProgType::ALL {
            assert_eq!(ProgramSection::for_type(t).prog_type, t);
        }
        assert_eq!(ProgramSection::for_type(ProgType::SchedCls).name, "tc");
    }
}
