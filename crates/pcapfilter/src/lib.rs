//! Compiler for the pcap-filter language (the expressions of `tcpdump`,
//! documented in `pcap-filter(7)`) to classic BPF.
//!
//! The pipeline is: [`lexer`] → [`parser`] (an [`ast`] with source
//! positions) → code generation into a control-flow graph ([`cfg`](mod@cfg)) →
//! optimization → layout into a `Vec<Insn>`. Code generation reproduces
//! libpcap 1.10's generator so that the *unoptimized* program is
//! instruction-for-instruction what `tcpdump -d -O` prints; the tests check
//! this against tcpdump for hundreds of expressions on every supported
//! link type.
//!
//! The optimizer is this crate's own (value numbering with constant and copy
//! propagation, dead code removal, jump threading on facts from dominating
//! branches, removal of tests that do not matter, regrouping of test chains,
//! merging of identical blocks; see the `optimize` module's source). Its
//! programs accept exactly the packets the unoptimized program accepts
//! (except, in the default [`ShortPackets::Libpcap`] mode, packets too short
//! for a load the unoptimized program makes, as with libpcap), are no longer
//! than libpcap's on the test corpus, and it runs in near-linear time: an
//! expression of 1000 primitives takes milliseconds where libpcap takes
//! seconds. Like libpcap it refuses an expression whose optimized program
//! rejects every packet ([`CompileError::RejectsAll`]) or that divides by a
//! constant zero ([`CompileError::Constant`]). Unlike libpcap it also
//! optimizes programs that compute header lengths at run time (802.11,
//! radiotap, PPI, Geneve: libpcap leaves those as generated, and so never
//! refuses them); only `protochain`'s loop is left unoptimized, as libpcap
//! does.
//!
//! ```
//! use bpfkit_pcapfilter::{compile, CompileOptions, LinkType};
//!
//! let prog = compile("tcp port 80", LinkType::EN10MB, &CompileOptions::default()).unwrap();
//! // ldh [12]; jeq #0x86dd ...; ret #262144; ret #0 (libpcap: 20 too)
//! assert_eq!(prog.len(), 20);
//! assert_eq!((prog[0].code, prog[0].k), (0x28, 12));
//! let plain = CompileOptions { optimize: false, ..CompileOptions::default() };
//! assert_eq!(compile("tcp port 80", LinkType::EN10MB, &plain).unwrap().len(), 22);
//! assert!(compile("tcp port", LinkType::EN10MB, &CompileOptions::default()).is_err());
//! // Nothing can be both: libpcap refuses this too.
//! assert!(compile("tcp and udp", LinkType::EN10MB, &CompileOptions::default()).is_err());
//! ```
//!
//! Programs longer than [`bpfkit_cbpf::op::MAXINSNS`] (4096) instructions
//! are valid for filtering capture files but are refused by the Linux
//! kernel; see [`fits_kernel`].
//!
//! # Scope
//!
//! Link types: see [`LinkType::supported`] (Ethernet, Linux cooked v1/v2,
//! raw IP/IPv4/IPv6, BSD and OpenBSD loopback, PPP, Cisco HDLC, 802.11 with
//! and without radiotap or PPI header, FDDI, Token Ring, pflog); others are
//! refused with [`CompileError::LinkType`]. Programs for capture files
//! differ slightly from those for live captures ([`PacketSource`]). Name
//! lookups go through a [`Resolver`]:
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
    /// Run the optimizer (tcpdump's default; `-O` turns it off).
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

/// Whether the Linux kernel accepts a program of this length as a socket
/// filter (at most [`bpfkit_cbpf::op::MAXINSNS`] = 4096 instructions).
/// Longer programs still filter capture files (libpcap runs them in user
/// space); a live capture has to fall back to filtering in user space.
pub fn fits_kernel(prog: &[Insn]) -> bool {
    prog.len() <= bpfkit_cbpf::op::MAXINSNS
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
    let mut built = build(expr, linktype.into(), opts, resolver)?;
    if !opts.optimize {
        return built.cfg.linearize(built.root);
    }
    let exact = opts.short_packets == ShortPackets::Exact;
    // libpcap does not optimize programs with jumps inside statement lists
    // (the run-time header lengths of 802.11, PPI and Geneve) or loops
    // (`protochain`). This optimizer handles the former; for those it
    // keeps libpcap's verdict on the expression: no error for a program
    // that rejects everything or divides by zero.
    let libpcap_optimizes = !built.no_optimize;
    match optimize::optimize(&built.cfg, built.root, exact) {
        Ok(Some(mut opt)) => {
            if opt.rejects_all && libpcap_optimizes {
                return Err(CompileError::RejectsAll);
            }
            opt.cfg.linearize(opt.root)
        }
        Ok(None) => built.cfg.linearize(built.root),
        Err(CompileError::Constant(_)) if !libpcap_optimizes => built.cfg.linearize(built.root),
        Err(e) => Err(e),
    }
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
