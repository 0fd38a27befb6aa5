//! Parser for the pcap-filter grammar.
//!
//! libpcap's yacc grammar is LALR(1): after `and`/`or` and inside
//! parentheses it cannot know whether it is reading a boolean term, a bare
//! value that inherits earlier qualifiers (`host a or (b or c)`), or
//! arithmetic (`(len - 14) > 100`) until later tokens arrive. This
//! recursive-descent parser handles that with a cover grammar: it parses a
//! `Unit`, which records which of those categories the tokens turned out
//! to be, and the caller checks that the category is allowed where it
//! appeared. The grammar's only conflicts are in arithmetic (`%` and `^`
//! have no declared precedence, so yacc shifts and they take everything to
//! their right), reproduced in its `arith` submodule.

mod arith;
mod prims;

use crate::ast::{Expr, LogicOp, Span, Value, ValueKind};
use crate::error::{CompileError, Position};
use crate::lexer::{tokenize, Kw, Tok, Token};
use crate::qual::{AddrKind, Dir, Proto, Qual};

/// Deepest nesting of parentheses, `not`, unary minus and `%`/`^` accepted
/// (keeps recursion, here and in code generation, far from stack limits).
const MAX_DEPTH: usize = 128;

/// Parses a whole filter expression; `Ok(None)` for an empty one.
pub fn parse(text: &str) -> Result<Option<Expr>, CompileError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::Eof {
        return Ok(None);
    }
    let start = p.pos;
    let unit = p.unit(Qual::UNDEF)?;
    let (first, q) = p.require_term(unit, start)?;
    let (expr, _) = p.continue_expr(first, q)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("'and', 'or' or end of expression"));
    }
    Ok(Some(expr))
}

/// What a stretch of tokens turned out to be.
enum Unit {
    /// A boolean term, with the qualifiers later bare values inherit.
    Term(Expr, Qual),
    /// A bare value or `( value or value ... )`; `paren` records the latter,
    /// which may not start another parenthesized value list.
    Id { expr: Expr, paren: bool },
    /// A number, possibly parenthesized: a value or the start of arithmetic.
    Num(u32, Span),
    /// Arithmetic not (yet) part of a relation.
    Arith(crate::ast::Arith, Span),
}

struct Parser<'t> {
    text: &'t str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.pos + ahead).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    /// Consumes the current token and returns its span.
    fn bump(&mut self) -> Span {
        let t = &self.toks[self.pos];
        let span = Span {
            start: t.start,
            end: t.end,
        };
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        span
    }

    fn span_of(&self, index: usize) -> Span {
        let t = &self.toks[index.min(self.toks.len() - 1)];
        Span {
            start: t.start,
            end: t.end,
        }
    }

    /// Span of the last consumed token.
    fn last_span(&self) -> Span {
        self.span_of(self.pos.saturating_sub(1))
    }

    /// Span from token `start` through the last consumed token.
    fn span_from(&self, start: usize) -> Span {
        let last = self.pos.saturating_sub(1).max(start);
        self.span_of(start).to(self.span_of(last))
    }

    fn unexpected(&self, expected: &str) -> CompileError {
        let t = &self.toks[self.pos];
        CompileError::Syntax {
            pos: Position::locate(self.text, t.start),
            found: t.tok.to_string(),
            expected: expected.to_string(),
        }
    }

    fn error_at(&self, span: Span, message: impl Into<String>) -> CompileError {
        CompileError::Semantic {
            pos: Position::locate(self.text, span.start),
            message: message.into(),
        }
    }

    fn expect_punct(&mut self, c: u8) -> Result<Span, CompileError> {
        if self.peek() == &Tok::Punct(c) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("'{}'", c as char)))
        }
    }

    fn expect_num(&mut self) -> Result<u32, CompileError> {
        match *self.peek() {
            Tok::Num(n) => {
                self.bump();
                Ok(n)
            }
            _ => Err(self.unexpected("a number")),
        }
    }

    /// Runs `f` one nesting level deeper, refusing absurd depths.
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, CompileError>,
    ) -> Result<T, CompileError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(self.span_of(self.pos), "expression nested too deeply"));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// The unit must be a boolean term (start of an expression).
    fn require_term(&self, unit: Unit, start: usize) -> Result<(Expr, Qual), CompileError> {
        match unit {
            Unit::Term(e, q) => Ok((e, q)),
            Unit::Arith(..) | Unit::Num(..) => Err(self.unexpected("a relational operator")),
            Unit::Id { .. } => Err(CompileError::Syntax {
                pos: Position::locate(self.text, self.span_of(start).start),
                found: "a bare value".into(),
                expected: "a qualified primitive (no qualifiers are in scope here)".into(),
            }),
        }
    }

    /// The unit must be a value (after a qualifier, or in a value list).
    fn require_id(&self, unit: Unit, q: Qual) -> Result<Expr, CompileError> {
        match unit {
            Unit::Id { expr, .. } => Ok(expr),
            Unit::Num(n, span) => Ok(Expr::Value(Value {
                qual: q,
                kind: ValueKind::Num(n),
                span,
            })),
            Unit::Term(..) | Unit::Arith(..) => Err(self.unexpected("a value")),
        }
    }

    /// `expr (and|or) (term|value) ...` after its first term, whose
    /// qualifiers are `q`; returns the chain and the qualifiers in force
    /// at its end.
    fn continue_expr(&mut self, first: Expr, mut q: Qual) -> Result<(Expr, Qual), CompileError> {
        let mut rest = Vec::new();
        while let Some(op) = self.logic_op() {
            self.bump();
            let unit = self.unit(q)?;
            let operand = match unit {
                Unit::Term(e, q2) => {
                    q = q2;
                    e
                }
                other => self.require_id(other, q)?,
            };
            rest.push((op, operand));
        }
        Ok((chain(first, rest), q))
    }

    fn logic_op(&self) -> Option<LogicOp> {
        match self.peek() {
            Tok::And => Some(LogicOp::And),
            Tok::Or => Some(LogicOp::Or),
            _ => None,
        }
    }

    /// One term, value, number or arithmetic expression; `q` is what a
    /// bare value here would inherit.
    fn unit(&mut self, q: Qual) -> Result<Unit, CompileError> {
        let start = self.pos;
        match self.peek().clone() {
            Tok::Not => {
                self.bump();
                let inner = self.nested(|p| p.unit(q))?;
                match inner {
                    Unit::Term(e, q2) => Ok(Unit::Term(Expr::Not(Box::new(e)), q2)),
                    Unit::Id { expr, .. } => Ok(Unit::Id {
                        expr: Expr::Not(Box::new(expr)),
                        paren: false,
                    }),
                    Unit::Num(n, span) => Ok(Unit::Id {
                        expr: Expr::Not(Box::new(Expr::Value(Value {
                            qual: q,
                            kind: ValueKind::Num(n),
                            span,
                        }))),
                        paren: false,
                    }),
                    Unit::Arith(..) => Err(self.unexpected("a relational operator")),
                }
            }
            Tok::Punct(b'(') => {
                let inner = self.nested(|p| p.paren(q))?;
                self.finish_arith(inner)
            }
            Tok::Num(n) => {
                let span = self.bump();
                self.finish_arith(Unit::Num(n, span))
            }
            Tok::Punct(b'-') | Tok::Kw(Kw::Len) => {
                let a = self.arith_unary()?;
                let span = self.span_from(start);
                self.finish_arith(Unit::Arith(a, span))
            }
            Tok::Id(_) | Tok::Hid(_) | Tok::Hid6(_) | Tok::Eid(_) | Tok::Aid(_) => {
                let expr = self.bare_value(q)?;
                Ok(Unit::Id { expr, paren: false })
            }
            Tok::Kw(kw) => {
                if let Some(proto) = pname(kw) {
                    if self.peek_at(1) == &Tok::Punct(b'[') {
                        let a = self.arith_unary()?;
                        let span = self.span_from(start);
                        return self.finish_arith(Unit::Arith(a, span));
                    }
                    self.bump();
                    return self.after_pname(proto, start);
                }
                if is_head_word(kw) {
                    return self.qualified(Proto::Default);
                }
                let prim = self.keyword_primitive(kw, Proto::Default)?;
                Ok(Unit::Term(
                    Expr::Prim {
                        prim,
                        span: self.span_from(start),
                    },
                    Qual::UNDEF,
                ))
            }
            _ => Err(self.unexpected("a primitive, value or expression")),
        }
    }

    /// After a protocol keyword: qualifiers, `broadcast`/`multicast`,
    /// an 802.11 type test, or the protocol on its own.
    fn after_pname(&mut self, proto: Proto, start: usize) -> Result<Unit, CompileError> {
        match self.peek().clone() {
            Tok::Kw(kw) if is_head_word(kw) => self.qualified(proto),
            Tok::Kw(kw @ (Kw::Broadcast | Kw::Multicast | Kw::Type | Kw::Subtype | Kw::Dir)) => {
                let prim = self.keyword_primitive(kw, proto)?;
                Ok(Unit::Term(
                    Expr::Prim {
                        prim,
                        span: self.span_from(start),
                    },
                    Qual::UNDEF,
                ))
            }
            _ => Ok(Unit::Term(
                Expr::Proto {
                    proto,
                    span: self.span_from(start),
                },
                Qual::UNDEF,
            )),
        }
    }

    /// `[proto] [dir] [type] value`, the protocol already consumed.
    fn qualified(&mut self, proto: Proto) -> Result<Unit, CompileError> {
        let mut q = Qual {
            proto,
            dir: Dir::Default,
            addr: AddrKind::Default,
        };
        let Tok::Kw(kw) = self.peek().clone() else {
            unreachable!("qualified() is entered on a qualifier keyword")
        };
        match kw {
            Kw::Proto | Kw::Protochain | Kw::Gateway => {
                self.bump();
                q.addr = match kw {
                    Kw::Proto => AddrKind::Proto,
                    Kw::Protochain => AddrKind::Protochain,
                    _ => AddrKind::Gateway,
                };
            }
            _ => {
                if let Some(dir) = self.direction()? {
                    q.dir = dir;
                }
                if let Tok::Kw(kw) = self.peek() {
                    if let Some(addr) = addr_kind(*kw) {
                        self.bump();
                        q.addr = addr;
                    }
                }
            }
        }
        let unit = self.unit(q)?;
        let expr = self.require_id(unit, q)?;
        // Values that follow (`host a or b`) inherit this head's qualifiers.
        Ok(Unit::Term(expr, q))
    }

    /// A direction qualifier, if one is next.
    fn direction(&mut self) -> Result<Option<Dir>, CompileError> {
        let dir = match self.peek() {
            Tok::Kw(Kw::Src) | Tok::Kw(Kw::Dst) => {
                let first = self.peek().clone();
                self.bump();
                let other = if first == Tok::Kw(Kw::Src) {
                    Kw::Dst
                } else {
                    Kw::Src
                };
                let single = if first == Tok::Kw(Kw::Src) {
                    Dir::Src
                } else {
                    Dir::Dst
                };
                match self.logic_op() {
                    None => single,
                    Some(op) => {
                        self.bump();
                        if self.peek() != &Tok::Kw(other) {
                            let word = if other == Kw::Dst { "'dst'" } else { "'src'" };
                            return Err(self.unexpected(word));
                        }
                        self.bump();
                        if op == LogicOp::Or {
                            Dir::Or
                        } else {
                            Dir::And
                        }
                    }
                }
            }
            Tok::Kw(kw) => {
                let dir = match kw {
                    Kw::Addr1 => Dir::Addr1,
                    Kw::Addr2 => Dir::Addr2,
                    Kw::Addr3 => Dir::Addr3,
                    Kw::Addr4 => Dir::Addr4,
                    Kw::Ra => Dir::Ra,
                    Kw::Ta => Dir::Ta,
                    _ => return Ok(None),
                };
                self.bump();
                dir
            }
            _ => return Ok(None),
        };
        Ok(Some(dir))
    }

    /// `( ... )` in a place where a term, a value list, a number or
    /// arithmetic could appear; `q` is what bare values inside inherit.
    fn paren(&mut self, q: Qual) -> Result<Unit, CompileError> {
        let open = self.bump();
        let first_tok = self.pos;
        let first = self.unit(q)?;
        match first {
            Unit::Term(e, q_inner) => {
                let (expr, _) = self.continue_expr(e, q_inner)?;
                self.close_paren()?;
                // `( expr )` passes on the qualifiers of what preceded it.
                Ok(Unit::Term(expr, q))
            }
            Unit::Id { expr, paren: false } => self.value_list(expr, q),
            Unit::Id { paren: true, .. } => Err(CompileError::Syntax {
                pos: Position::locate(self.text, self.span_of(first_tok).start),
                found: "a parenthesized value list".into(),
                expected: "a value or a primitive".into(),
            }),
            Unit::Num(n, span) => {
                if self.logic_op().is_some() {
                    let first = Expr::Value(Value {
                        qual: q,
                        kind: ValueKind::Num(n),
                        span,
                    });
                    self.value_list(first, q)
                } else {
                    let close = self.close_paren()?;
                    Ok(Unit::Num(n, open.to(close)))
                }
            }
            Unit::Arith(a, _) => {
                let close = self.close_paren()?;
                Ok(Unit::Arith(a, open.to(close)))
            }
        }
    }

    fn close_paren(&mut self) -> Result<Span, CompileError> {
        if self.peek() == &Tok::Punct(b')') {
            Ok(self.bump())
        } else if self.logic_op().is_some() {
            // An and/or chain the caller could not continue (e.g. `(len and ...`, where an
            // arithmetic operand cannot be joined by `and`): a syntax error, as in libpcap.
            Err(self.unexpected("')'"))
        } else {
            Err(self.unexpected("')', 'and' or 'or'"))
        }
    }

    /// `value (and|or) value ... )`: the rest of a parenthesized value list.
    fn value_list(&mut self, first: Expr, q: Qual) -> Result<Unit, CompileError> {
        let mut rest = Vec::new();
        while let Some(op) = self.logic_op() {
            self.bump();
            let unit = self.unit(q)?;
            rest.push((op, self.require_id(unit, q)?));
        }
        self.close_paren()?;
        Ok(Unit::Id {
            expr: chain(first, rest),
            paren: true,
        })
    }

    /// A name or address token, with `/len` or `mask m` where allowed.
    fn bare_value(&mut self, q: Qual) -> Result<Expr, CompileError> {
        let start = self.pos;
        let tok = self.peek().clone();
        self.bump();
        let kind = match tok {
            Tok::Id(s) => ValueKind::Name(s),
            Tok::Eid(s) => ValueKind::Mac(s),
            Tok::Aid(s) => ValueKind::Arcnet(s),
            Tok::Hid(s) => match self.peek() {
                Tok::Punct(b'/') => {
                    self.bump();
                    ValueKind::Ipv4Prefix(s, self.expect_num()?)
                }
                Tok::Kw(Kw::Mask) => {
                    self.bump();
                    match self.peek().clone() {
                        Tok::Hid(m) => {
                            self.bump();
                            ValueKind::Ipv4Mask(s, m)
                        }
                        _ => return Err(self.unexpected("a dotted network mask")),
                    }
                }
                _ => ValueKind::Ipv4(s),
            },
            Tok::Hid6(s) => {
                if self.peek() == &Tok::Punct(b'/') {
                    self.bump();
                    ValueKind::Ipv6Prefix(s, self.expect_num()?)
                } else {
                    ValueKind::Ipv6(s)
                }
            }
            _ => unreachable!("bare_value() is entered on a value token"),
        };
        Ok(Expr::Value(Value {
            qual: q,
            kind,
            span: self.span_from(start),
        }))
    }
}

fn chain(first: Expr, rest: Vec<(LogicOp, Expr)>) -> Expr {
    if rest.is_empty() {
        first
    } else {
        Expr::Chain {
            first: Box::new(first),
            rest,
        }
    }
}

/// Protocol keywords (the grammar's `pname`).
fn pname(kw: Kw) -> Option<Proto> {
    use Proto as P;
    Some(match kw {
        Kw::Link => P::Link,
        Kw::Ip => P::Ip,
        Kw::Arp => P::Arp,
        Kw::Rarp => P::Rarp,
        Kw::Sctp => P::Sctp,
        Kw::Tcp => P::Tcp,
        Kw::Udp => P::Udp,
        Kw::Icmp => P::Icmp,
        Kw::Igmp => P::Igmp,
        Kw::Igrp => P::Igrp,
        Kw::Pim => P::Pim,
        Kw::Vrrp => P::Vrrp,
        Kw::Carp => P::Carp,
        Kw::Atalk => P::Atalk,
        Kw::Aarp => P::Aarp,
        Kw::Decnet => P::Decnet,
        Kw::Lat => P::Lat,
        Kw::Sca => P::Sca,
        Kw::Mopdl => P::Mopdl,
        Kw::Moprc => P::Moprc,
        Kw::Ip6 => P::Ipv6,
        Kw::Icmp6 => P::Icmpv6,
        Kw::Ah => P::Ah,
        Kw::Esp => P::Esp,
        Kw::Iso => P::Iso,
        Kw::Esis => P::Esis,
        Kw::Isis => P::Isis,
        Kw::L1 => P::IsisL1,
        Kw::L2 => P::IsisL2,
        Kw::Iih => P::IsisIih,
        Kw::Lsp => P::IsisLsp,
        Kw::Snp => P::IsisSnp,
        Kw::Psnp => P::IsisPsnp,
        Kw::Csnp => P::IsisCsnp,
        Kw::Clnp => P::Clnp,
        Kw::Stp => P::Stp,
        Kw::Ipx => P::Ipx,
        Kw::Netbeui => P::Netbeui,
        Kw::Radio => P::Radio,
        _ => return None,
    })
}

/// Words that begin the qualifier part of a primitive (after any protocol).
fn is_head_word(kw: Kw) -> bool {
    matches!(
        kw,
        Kw::Src
            | Kw::Dst
            | Kw::Addr1
            | Kw::Addr2
            | Kw::Addr3
            | Kw::Addr4
            | Kw::Ra
            | Kw::Ta
            | Kw::Host
            | Kw::Net
            | Kw::Port
            | Kw::Portrange
            | Kw::Proto
            | Kw::Protochain
            | Kw::Gateway
    )
}

fn addr_kind(kw: Kw) -> Option<AddrKind> {
    Some(match kw {
        Kw::Host => AddrKind::Host,
        Kw::Net => AddrKind::Net,
        Kw::Port => AddrKind::Port,
        Kw::Portrange => AddrKind::Portrange,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
