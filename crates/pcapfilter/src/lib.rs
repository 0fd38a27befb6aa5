//! Compiler for the pcap-filter language (the expressions of `tcpdump`,
//! documented in `pcap-filter(7)`) to classic BPF.
//!
//! The pipeline is: [`lexer`] → [`parser`] (an [`ast`] with source
//! positions) → code generation into a control-flow graph ([`cfg`](mod@cfg)) →
//! layout into a `Vec<Insn>`. Code generation reproduces libpcap 1.10's
//! generator so that the *unoptimized* program is instruction-for-
//! instruction what `tcpdump -d -O` prints; the tests check this against
//! tcpdump for hundreds of expressions on every supported link type.
//!
//! **Optimization is not implemented yet**: with
//! [`CompileOptions::optimize`] set, [`compile`] currently returns the same
//! unoptimized program (which accepts exactly the same packets, but is
//! longer than libpcap's optimized output). [`build_cfg`] exposes the graph
//! an optimizer will work on.
//!
//! ```
//! use bpfkit_pcapfilter::{compile, CompileOptions, LinkType};
//!
//! let prog = compile("tcp port 80", LinkType::EN10MB, &CompileOptions::default()).unwrap();
//! // ldh [12]; jeq #0x86dd ... ; ret #262144; ret #0
//! assert_eq!(prog.len(), 22);
//! assert_eq!((prog[0].code, prog[0].k), (0x28, 12));
//! assert!(compile("tcp port", LinkType::EN10MB, &CompileOptions::default()).is_err());
//! ```
//!
//! # Scope
//!
//! Link types: see [`LinkType::supported`] (Ethernet, Linux cooked v1/v2,
//! raw IP/IPv4/IPv6, BSD and OpenBSD loopback, PPP, Cisco HDLC, 802.11 with
//! and without radiotap or PPI header, FDDI, Token Ring, pflog); others are
//! refused with [`CompileError::LinkType`]. Programs for capture files
//! differ slightly from those for live captures ([`PacketSource`]). Name lookups go through a [`Resolver`]:
//! [`SystemResolver`] (what [`compile`] uses) asks the system resolver for
//! host names and reads the `/etc` files for the rest; [`StaticResolver`]
//! gives deterministic answers.
//!
//! Where libpcap's output depends on the platform, this crate does what
//! libpcap on Linux does: `inbound`/`outbound`/`ifindex` use Linux
//! socket-filter metadata, live loopback `ip6` is `AF_INET6` = 10, host-order
//! constants are those of the build target, VLAN tests read the frame
//! (not Linux's VLAN metadata, which tcpdump only uses on live captures),
//! and `gateway` is refused as in libpcap builds with IPv6 support.
//!
//! Known differences from libpcap: nesting (parentheses, `not`, unary
//! minus, `%`/`^` chains) deeper than 128 levels is refused rather than
//! parsed; error messages carry positions and may word syntax errors
//! differently.
#![deny(missing_docs)]

pub mod ast;
pub mod cfg;
mod codegen;
mod error;
pub mod lexer;
mod linktype;
pub mod names;
mod optimize;
pub mod parser;
pub mod qual;

use bpfkit_cbpf::Insn;

pub use error::{CompileError, Position};
pub use linktype::LinkType;
pub use names::{Resolver, StaticResolver, SystemResolver};

/// Netmask value meaning "unknown" (`PCAP_NETMASK_UNKNOWN`): `ip broadcast`
/// is then refused.
pub const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// Options of a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run the optimizer. **Not implemented yet: currently ignored** (the
    /// unoptimized program is returned).
    pub optimize: bool,
    /// Bytes of each accepted packet to keep (the value `ret` returns).
    pub snaplen: u32,
    /// Netmask of the capture network, used by `ip broadcast`;
    /// [`NETMASK_UNKNOWN`] disables that primitive.
    pub netmask: u32,
    /// Where the packets come from: libpcap generates slightly different
    /// code for capture files (see [`PacketSource`]).
    pub source: PacketSource,
    /// What the optimizer may assume about packets shorter than the data
    /// the filter reads (see [`ShortPackets`]).
    pub short_packets: ShortPackets,
}

/// How the optimized program treats packets too short for some load of the
/// unoptimized one (which rejects them: a load past the captured data ends
/// the filter with 0).
///
/// On every other packet, the optimized program gives exactly the verdict
/// of the unoptimized one in both modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShortPackets {
    /// As libpcap: a load whose value cannot affect the result may be
    /// dropped or postponed, so such a packet may be accepted. Programs
    /// are as short as libpcap's, and `bpfkit filter` selects the same
    /// packets as `tcpdump`.
    #[default]
    Libpcap,
    /// Exactly the unoptimized program's verdict on every packet, truncated
    /// ones included, at the cost of a few instructions on some
    /// expressions (e.g. `port 22 or 80`, whose tests libpcap reorders).
    Exact,
}

/// Where the packets a program will filter come from.
///
/// libpcap's code generator looks at this in three places (all reproduced
/// here): on `DLT_NULL`/`DLT_LOOP`, `ip6` tests a capture file for every
/// BSD value of `AF_INET6` (24, 28 and 30) but a live capture for the
/// host's own value (10 on Linux); on `DLT_NULL` the address family of a
/// capture file written in the other byte order is byte-swapped; and
/// `inbound`/`outbound`/`ifindex`, which read Linux socket metadata, are
/// refused for capture files unless the link-layer header carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PacketSource {
    /// A live capture, or no capture at all (what `tcpdump -d -y LINKTYPE`
    /// compiles for).
    #[default]
    Live,
    /// A capture file (`tcpdump -r FILE`).
    Savefile {
        /// The file was written in the byte order opposite to this host's.
        swapped: bool,
    },
}

impl Default for CompileOptions {
    /// tcpdump's defaults: snaplen 262144, netmask 0 (what tcpdump passes
    /// when it does not know the interface's netmask), optimization on.
    fn default() -> Self {
        CompileOptions {
            optimize: true,
            snaplen: 262_144,
            netmask: 0,
            source: PacketSource::Live,
            short_packets: ShortPackets::Libpcap,
        }
    }
}

/// Compiles `expr` for link type `linktype`, resolving names through the
/// system ([`SystemResolver`]).
pub fn compile(
    expr: &str,
    linktype: impl Into<LinkType>,
    opts: &CompileOptions,
) -> Result<Vec<Insn>, CompileError> {
    compile_with(expr, linktype, opts, &SystemResolver::new())
}

/// Compiles `expr`, resolving host/port/protocol/network names with `resolver`.
pub fn compile_with(
    expr: &str,
    linktype: impl Into<LinkType>,
    opts: &CompileOptions,
    resolver: &dyn Resolver,
) -> Result<Vec<Insn>, CompileError> {
    let built = build(expr, linktype.into(), opts, resolver)?;
    // libpcap leaves programs with loops (`protochain`) or jumps inside
    // statement lists unoptimized, and so does this compiler.
    if !opts.optimize || built.no_optimize {
        let (mut cfg, root) = (built.cfg, built.root);
        return cfg.linearize(root);
    }
    let exact = opts.short_packets == ShortPackets::Exact;
    let mut opt = optimize::optimize(&built.cfg, built.root, exact)?;
    if opt.rejects_all {
        return Err(CompileError::RejectsAll);
    }
    opt.cfg.linearize(opt.root)
}

/// Parses and generates code for `expr` without laying it out: the graph
/// and its entry block (for the optimizer and for inspection).
pub fn build_cfg(
    expr: &str,
    linktype: LinkType,
    opts: &CompileOptions,
    resolver: &dyn Resolver,
) -> Result<(cfg::Cfg, cfg::BlockId), CompileError> {
    let built = build(expr, linktype, opts, resolver)?;
    Ok((built.cfg, built.root))
}

/// The generated graph, and whether it contains constructs the optimizer
/// does not handle.
struct Built {
    cfg: cfg::Cfg,
    root: cfg::BlockId,
    no_optimize: bool,
}

fn build(
    expr: &str,
    linktype: LinkType,
    opts: &CompileOptions,
    resolver: &dyn Resolver,
) -> Result<Built, CompileError> {
    if opts.snaplen == 0 {
        return Err(CompileError::Options(
            "snaplen of 0 rejects all packets".into(),
        ));
    }
    let mut gen = codegen::Codegen::new(expr, linktype.0, opts, resolver)?;
    let ast = parser::parse(expr)?;
    let root = gen.program(ast.as_ref())?;
    Ok(Built {
        no_optimize: gen.no_optimize,
        cfg: gen.cfg,
        root,
    })
}
