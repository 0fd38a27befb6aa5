//! Code generation: turns the syntax tree into a [`Cfg`].
//!
//! Generation follows libpcap's code generator step by step (same blocks,
//! same statement lists, same order of creation and combination, same
//! scratch-register allocation), because the unoptimized program libpcap
//! emits is determined by exactly those details. The walk over the tree is
//! left to right, children first, matching the order in which libpcap's
//! parser actions run; that matters because some primitives (`vlan`,
//! `mpls`, `pppoes`, `geneve`) change the header offsets used by every
//! primitive after them.

mod arith;
pub(crate) mod consts;
mod encap;
mod host;
mod link;
mod load;
mod misc;
mod port;
mod proto;
mod values;
mod wlan;

use crate::ast::{Expr, LogicOp, Primitive, Span, ValueKind};
use crate::cfg::{BlockId, Cfg, StmtId};
use crate::error::{CompileError, Position};
use crate::names::Resolver;
use crate::{CompileOptions, PacketSource};
use bpfkit_cbpf::op;

pub(crate) use load::OffRel;

/// Result of a generation step.
pub(crate) type Gen<T> = Result<T, CompileError>;

/// `constant_part` value meaning "this header has no such field".
pub(crate) const OFFSET_NOT_SET: u32 = 0xffff_ffff;

/// The position of a header: a constant plus, when the header is preceded
/// by something of variable length, the contents of a scratch register
/// holding that length (computed at the start of the program).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AbsOffset {
    pub is_variable: bool,
    pub constant_part: u32,
    pub reg: Option<u32>,
}

impl AbsOffset {
    const ZERO: AbsOffset = AbsOffset {
        is_variable: false,
        constant_part: 0,
        reg: None,
    };
}

/// Names of the header offsets the generator tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Off {
    /// The link-layer header.
    Header,
    /// The link-layer payload.
    Payload,
    /// The link-layer type field.
    TypeField,
}

/// An arithmetic value under construction: statements that leave it in
/// scratch register `reg`, plus conditions the value's loads depend on
/// (e.g. "this is TCP" for `tcp[0]`).
pub(crate) struct Arth {
    pub s: StmtId,
    pub reg: u32,
    pub b: Option<BlockId>,
}

/// Generator state (libpcap's `compiler_state_t`, minus the parser).
pub(crate) struct Codegen<'a> {
    pub cfg: Cfg,
    text: &'a str,
    resolver: &'a dyn Resolver,
    /// Span of the primitive being generated, for error messages.
    span: Span,
    pub snaplen: u32,
    pub netmask: u32,
    /// Live capture or capture file (and its byte order).
    pub source: PacketSource,
    pub linktype: u32,
    pub prevlinktype: u32,
    pub outermostlinktype: u32,
    pub off_linkhdr: AbsOffset,
    pub off_prevlinkhdr: AbsOffset,
    pub off_outermostlinkhdr: AbsOffset,
    pub off_linkpl: AbsOffset,
    pub off_linktype: AbsOffset,
    /// Network-layer offset from the link-layer payload (Ethernet II / SNAP).
    pub off_nl: u32,
    /// Network-layer offset for 802.2 frames without SNAP.
    pub off_nl_nosnap: u32,
    pub is_geneve: bool,
    pub label_stack_depth: u32,
    pub vlan_stack_depth: u32,
    regused: [bool; op::MEMWORDS as usize],
    curreg: usize,
    /// Set by constructs libpcap's optimizer must not touch.
    pub no_optimize: bool,
}

impl<'a> Codegen<'a> {
    /// A generator for `linktype`; fails for unsupported link types.
    pub fn new(
        text: &'a str,
        linktype: u32,
        opts: &CompileOptions,
        resolver: &'a dyn Resolver,
    ) -> Gen<Codegen<'a>> {
        let mut g = Codegen {
            cfg: Cfg::new(),
            text,
            resolver,
            span: Span::default(),
            snaplen: opts.snaplen,
            netmask: opts.netmask,
            source: opts.source,
            linktype,
            prevlinktype: linktype,
            outermostlinktype: linktype,
            off_linkhdr: AbsOffset::ZERO,
            off_prevlinkhdr: AbsOffset::ZERO,
            off_outermostlinkhdr: AbsOffset::ZERO,
            off_linkpl: AbsOffset::ZERO,
            off_linktype: AbsOffset::ZERO,
            off_nl: 0,
            off_nl_nosnap: 0,
            is_geneve: false,
            label_stack_depth: 0,
            vlan_stack_depth: 0,
            regused: [false; op::MEMWORDS as usize],
            curreg: 0,
            no_optimize: false,
        };
        g.init_linktype()?;
        Ok(g)
    }

    /// Generates `expr` and closes the graph with the accept/reject returns;
    /// returns the entry block.
    pub fn program(&mut self, expr: Option<&Expr>) -> Gen<BlockId> {
        match expr {
            None => Ok(self.cfg.block(op::RET | op::K, self.snaplen)),
            Some(e) => {
                let b = self.expr(e)?;
                self.finish(b)
            }
        }
    }

    /// libpcap's `finish_parse`.
    fn finish(&mut self, b: BlockId) -> Gen<BlockId> {
        let head = self.cfg.b(b).head;
        self.insert_compute_vloffsets(head)?;
        if self.linktype == crate::LinkType::PPI.0 {
            // Only PPI around bare 802.11 is supported: check the PPI
            // header's (little-endian) DLT field first.
            let s = self.cfg.stmt(op::LD | op::ABS | op::W, 4);
            let check = self
                .cfg
                .block_with(op::JMP | op::JEQ | op::K, 105u32.swap_bytes(), s);
            self.cfg.and(check, b);
        }
        let accept = self.cfg.block(op::RET | op::K, self.snaplen);
        self.cfg.backpatch(b, accept);
        self.cfg.not(b);
        let reject = self.cfg.block(op::RET | op::K, 0);
        self.cfg.backpatch(b, reject);
        Ok(self.cfg.b(b).head)
    }

    /// An error about the primitive being generated.
    pub fn err(&self, message: impl Into<String>) -> CompileError {
        CompileError::Semantic {
            pos: Position::locate(self.text, self.span.start),
            message: message.into(),
        }
    }

    pub fn resolver(&self) -> &'a dyn Resolver {
        self.resolver
    }

    fn expr(&mut self, e: &Expr) -> Gen<BlockId> {
        match e {
            Expr::Chain { first, rest } => {
                let mut acc = self.expr(first)?;
                for (op, operand) in rest {
                    let b = self.expr(operand)?;
                    match op {
                        LogicOp::And => self.cfg.and(acc, b),
                        LogicOp::Or => self.cfg.or(acc, b),
                    }
                    acc = b;
                }
                Ok(acc)
            }
            Expr::Not(inner) => {
                let b = self.expr(inner)?;
                self.cfg.not(b);
                Ok(b)
            }
            Expr::Value(v) => {
                self.span = v.span;
                let q = v.qual;
                match &v.kind {
                    ValueKind::Name(name) => self.gen_scode(name, q),
                    ValueKind::Num(n) => self.gen_ncode(None, *n, q),
                    ValueKind::Ipv4(s) => self.gen_hid(s, q),
                    ValueKind::Ipv4Prefix(s, len) => self.gen_mcode(s, None, *len, q),
                    ValueKind::Ipv4Mask(s, m) => self.gen_mcode(s, Some(m), 0, q),
                    ValueKind::Ipv6(s) => self.gen_mcode6(s, 128, q),
                    ValueKind::Ipv6Prefix(s, len) => self.gen_mcode6(s, *len, q),
                    ValueKind::Mac(s) => self.gen_ecode(s, q),
                    ValueKind::Arcnet(_) => self.gen_acode(q),
                }
            }
            Expr::Proto { proto, span } => {
                self.span = *span;
                self.gen_proto_abbrev(*proto)
            }
            Expr::Relation {
                op,
                negate,
                lhs,
                rhs,
                span,
            } => {
                let a0 = self.arith(lhs)?;
                let a1 = self.arith(rhs)?;
                self.span = *span;
                self.gen_relation(*op, a0, a1, *negate)
            }
            Expr::Prim { prim, span } => {
                self.span = *span;
                self.primitive(prim)
            }
        }
    }

    fn primitive(&mut self, prim: &Primitive) -> Gen<BlockId> {
        match prim {
            Primitive::Broadcast(p) => self.gen_broadcast(*p),
            Primitive::Multicast(p) => self.gen_multicast(*p),
            Primitive::Less(n) => {
                let b = self.gen_len(op::JGT, *n);
                self.cfg.not(b);
                Ok(b)
            }
            Primitive::Greater(n) => Ok(self.gen_len(op::JGE, *n)),
            Primitive::Byte { index, op, value } => self.gen_byteop(*op, *index, *value),
            Primitive::Inbound => self.gen_inbound(false),
            Primitive::Outbound => self.gen_inbound(true),
            Primitive::Ifindex(n) => self.gen_ifindex(*n),
            Primitive::Vlan(id) => self.gen_vlan(*id),
            Primitive::Mpls(label) => self.gen_mpls(*label),
            Primitive::Pppoed => self.gen_linktype(consts::ETHERTYPE_PPPOED),
            Primitive::Pppoes(sess) => self.gen_pppoes(*sess),
            Primitive::Geneve(vni) => self.gen_geneve(*vni),
            Primitive::PfIfname(name) => self.gen_pf_name(name, true),
            Primitive::PfRuleset(name) => self.gen_pf_name(name, false),
            Primitive::PfRnr(n) => self.gen_pf_field("rnr", consts::PFLOG_RULENR, op::W, *n),
            Primitive::PfSrnr(n) => self.gen_pf_field("srnr", consts::PFLOG_SUBRULENR, op::W, *n),
            Primitive::PfReason(n) => self.gen_pf_field("reason", consts::PFLOG_REASON, op::B, *n),
            Primitive::PfAction(n) => self.gen_pf_field("action", consts::PFLOG_ACTION, op::B, *n),
            Primitive::WlanType { value, mask } => self.gen_p80211_type(*value, *mask),
            Primitive::WlanDir(d) => self.gen_p80211_fcdir(*d),
            Primitive::Llc(kind) => self.gen_llc_kind(*kind),
            Primitive::LinkSpecific { keyword, requires } => {
                Err(self.err(format!("'{keyword}' supported only on {requires}")))
            }
        }
    }

    /// Appends a new statement `code #k` to `list` and returns it.
    pub fn push(&mut self, list: StmtId, code: u16, k: u32) -> StmtId {
        let s = self.cfg.stmt(code, k);
        self.cfg.append(list, Some(s));
        s
    }

    /// libpcap's `alloc_reg`: the next free scratch register, round-robin.
    pub fn alloc_reg(&mut self) -> Gen<u32> {
        for _ in 0..self.regused.len() {
            if self.regused[self.curreg] {
                self.curreg = (self.curreg + 1) % self.regused.len();
            } else {
                self.regused[self.curreg] = true;
                return Ok(self.curreg as u32);
            }
        }
        Err(self.err("too many registers needed to evaluate expression"))
    }

    pub fn free_reg(&mut self, reg: u32) {
        self.regused[reg as usize] = false;
    }

    pub fn off(&self, which: Off) -> AbsOffset {
        match which {
            Off::Header => self.off_linkhdr,
            Off::Payload => self.off_linkpl,
            Off::TypeField => self.off_linktype,
        }
    }

    pub fn off_mut(&mut self, which: Off) -> &mut AbsOffset {
        match which {
            Off::Header => &mut self.off_linkhdr,
            Off::Payload => &mut self.off_linkpl,
            Off::TypeField => &mut self.off_linktype,
        }
    }
}
