//! Abstract syntax of a filter expression.
//!
//! The parser resolves the grammar's qualifier inheritance (`host a or b`
//! means `host a or host b`) while parsing, so every [`Value`] carries the
//! qualifiers that apply to it. Code generation walks the tree left to right,
//! children before parents, which is the order libpcap's parser actions run.

use crate::qual::{Proto, Qual};

/// A byte range of the expression text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// `and` or `or` (equal precedence, left-associative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    /// Both must hold.
    And,
    /// Either must hold.
    Or,
}

/// A boolean expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `first op e1 op e2 ...`, evaluated left to right.
    Chain {
        /// Leftmost operand.
        first: Box<Expr>,
        /// The following operators and operands.
        rest: Vec<(LogicOp, Expr)>,
    },
    /// `not e` / `!e`.
    Not(Box<Expr>),
    /// A qualified value (`host 10.0.0.1`, `port ssh`, a bare `8080` after `or`).
    Value(Value),
    /// A protocol name on its own (`tcp`, `ip6`, `arp`).
    Proto {
        /// The protocol.
        proto: Proto,
        /// Where it was written.
        span: Span,
    },
    /// `lhs op rhs` over packet data / constants.
    Relation {
        /// Comparison.
        op: RelOp,
        /// True for `<=`, `<`, `!=` (the negation of `>`, `>=`, `==`).
        negate: bool,
        /// Left side.
        lhs: Arith,
        /// Right side.
        rhs: Arith,
        /// The whole relation.
        span: Span,
    },
    /// A primitive with its own keyword (`vlan 10`, `less 100`, `broadcast`, ...).
    Prim {
        /// Which primitive.
        prim: Primitive,
        /// Where it was written.
        span: Span,
    },
}

/// A value with its qualifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// Qualifiers in force.
    pub qual: Qual,
    /// The value as written.
    pub kind: ValueKind,
    /// Where it was written.
    pub span: Span,
}

/// The lexical form of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A name (host, network, port, protocol, ...).
    Name(String),
    /// A number.
    Num(u32),
    /// A dotted IPv4 address or prefix (`10.1`, `10.1.2.3`).
    Ipv4(String),
    /// `a.b.c.d/len`.
    Ipv4Prefix(String, u32),
    /// `a.b.c.d mask m.m.m.m`.
    Ipv4Mask(String, String),
    /// An IPv6 address.
    Ipv6(String),
    /// `addr/len` for IPv6.
    Ipv6Prefix(String, u32),
    /// A MAC address.
    Mac(String),
    /// An ARCnet address.
    Arcnet(String),
}

/// Comparison of a relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelOp {
    /// `>` (negated: `<=`).
    Gt,
    /// `>=` (negated: `<`).
    Ge,
    /// `=` / `==` (negated: `!=`).
    Eq,
}

/// Binary arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Lsh,
    Rsh,
}

/// An arithmetic expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arith {
    /// A constant.
    Num(u32),
    /// The packet length.
    Len,
    /// `proto[index]` or `proto[index:size]`.
    Load {
        /// Header the index is relative to.
        proto: Proto,
        /// Byte offset.
        index: Box<Arith>,
        /// 1, 2 or 4 (checked during code generation).
        size: u32,
        /// The whole load.
        span: Span,
    },
    /// Unary minus.
    Neg(Box<Arith>),
    /// `first op e1 op e2 ...`, evaluated left to right.
    Chain {
        /// Leftmost operand.
        first: Box<Arith>,
        /// Operators (with their position) and operands.
        rest: Vec<(ArithOp, Span, Arith)>,
    },
}

/// 802.2 LLC frame-format tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlcKind {
    /// Any LLC frame.
    Any,
    /// Information frames.
    I,
    /// Supervisory frames.
    S,
    /// Unnumbered frames.
    U,
    /// A supervisory frame of this command.
    SSubtype(u32),
    /// An unnumbered frame of this command.
    USubtype(u32),
}

/// Primitives introduced by their own keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Primitive {
    /// `[proto] broadcast`.
    Broadcast(Proto),
    /// `[proto] multicast`.
    Multicast(Proto),
    /// `less n`.
    Less(u32),
    /// `greater n`.
    Greater(u32),
    /// `byte idx op value`.
    Byte {
        /// Byte offset in the link header.
        index: u32,
        /// One of `& | < > =`.
        op: u8,
        /// Operand.
        value: u32,
    },
    /// `inbound`.
    Inbound,
    /// `outbound`.
    Outbound,
    /// `ifindex n`.
    Ifindex(u32),
    /// `vlan [id]`.
    Vlan(Option<u32>),
    /// `mpls [label]`.
    Mpls(Option<u32>),
    /// `pppoed`.
    Pppoed,
    /// `pppoes [session]`.
    Pppoes(Option<u32>),
    /// `geneve [vni]`.
    Geneve(Option<u32>),
    /// pflog `ifname name`.
    PfIfname(String),
    /// pflog `ruleset name`.
    PfRuleset(String),
    /// pflog `rulenum n`.
    PfRnr(u32),
    /// pflog `subrulenum n`.
    PfSrnr(u32),
    /// pflog `reason code`.
    PfReason(u32),
    /// pflog `action code`.
    PfAction(u32),
    /// 802.11 `type` / `subtype`: frame-control byte under `mask` equals `value`.
    WlanType {
        /// Expected bits.
        value: u32,
        /// Which bits of the frame-control byte are compared.
        mask: u32,
    },
    /// 802.11 `dir`.
    WlanDir(u32),
    /// `llc [kind]`.
    Llc(LlcKind),
    /// ATM / SS7 primitives, which need link types this compiler does not
    /// support; they always fail with libpcap's message.
    LinkSpecific {
        /// The keyword.
        keyword: &'static str,
        /// The link layer it requires ("raw ATM", "MTP2", "SS7").
        requires: &'static str,
    },
}
