//! The filter expressions measured and their compiled programs.

use bpfkit_cbpf::{parse_ddd, Insn};
use std::process::Command;

/// Expressions for the throughput comparison with tcpdump: no filter, the common
/// one-protocol and port/host filters, a VLAN filter, a flag test and a longer
/// disjunction (each also a different share of matches in the mix).
pub const THROUGHPUT_EXPRESSIONS: &[&str] = &[
    "",
    "tcp",
    "tcp port 80",
    "host 10.1.2.3",
    "udp and (port 53 or port 123)",
    "vlan and udp",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
];

/// Expressions for the per-packet filter cost: the throughput ones plus a
/// backward-jumping loop (`protochain`), a net/port mix and a length test.
pub const FILTER_EXPRESSIONS: &[&str] = &[
    "",
    "tcp",
    "tcp port 80",
    "host 10.1.2.3",
    "udp and (port 53 or port 123)",
    "vlan and udp",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
    "net 192.168.0.0/16 and not port 22",
    "icmp or arp",
    "ip6 protochain 6",
    "len > 1000",
];

/// The program `tcpdump -ddd` prints for `expr` on Ethernet (libpcap's optimizer
/// included), or `None` if tcpdump is missing or refuses the expression.
pub fn tcpdump_program(expr: &str) -> Option<Vec<Insn>> {
    let out = Command::new("tcpdump")
        .args(["-ddd", "-y", "EN10MB"])
        .args(expr.split_whitespace())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_ddd(&String::from_utf8_lossy(&out.stdout)).ok()
}

/// The program bpfkit's compiler produces for `expr` on Ethernet (optimizing,
/// snapshot length 262144 as for a capture file).
pub fn bpfkit_program(expr: &str) -> Result<Vec<Insn>, String> {
    let opts = bpfkit_pcapfilter::CompileOptions {
        optimize: true,
        snaplen: 262_144,
        ..bpfkit_pcapfilter::CompileOptions::default()
    };
    bpfkit_pcapfilter::compile(expr, bpfkit_pcapfilter::LinkType(1), &opts)
        .map_err(|e| format!("{expr}: {e}"))
}
