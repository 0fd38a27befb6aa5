//! Arithmetic and relations.
//!
//! Precedence, lowest first: `|`, `&`, `<<` `>>`, `+` `-`, `*` `/`, unary
//! minus; all left-associative. `%` and `^` are special: libpcap's grammar
//! gives them no precedence, so yacc resolves every conflict involving them
//! by shifting. The effect is that `%` and `^` bind tightly on their left
//! (`a + b % c` is `a + (b % ...)`) and take the whole remaining arithmetic
//! expression as their right operand (`a % b + c` is `a % (b + c)`), even
//! under a unary minus (`-a % b` is `-(a % b)`).

use super::{Parser, Unit};
use crate::ast::{Arith, ArithOp, Expr, RelOp, Span};
use crate::error::CompileError;
use crate::lexer::{Kw, Tok};
use crate::qual::Qual;

/// Binding power that only `%` and `^` can satisfy.
const ONLY_ABSORBING: u8 = u8::MAX;

impl Parser<'_> {
    /// Extends a number or arithmetic unit with following operators and,
    /// if a comparison follows, turns it into a relation.
    pub(super) fn finish_arith(&mut self, unit: Unit) -> Result<Unit, CompileError> {
        let (lhs, span) = match unit {
            Unit::Num(n, span) => {
                if self.arith_op().is_none() && self.rel_op().is_none() {
                    return Ok(Unit::Num(n, span));
                }
                (Arith::Num(n), span)
            }
            Unit::Arith(a, span) => (a, span),
            other => return Ok(other),
        };
        let lhs = self.continue_binary(lhs, 0)?;
        let span = span.to(self.last_span());
        let Some((op, negate)) = self.rel_op() else {
            return Ok(Unit::Arith(lhs, span));
        };
        self.bump();
        let rhs = self.arith_full()?;
        let span = span.to(self.last_span());
        Ok(Unit::Term(
            Expr::Relation {
                op,
                negate,
                lhs,
                rhs,
                span,
            },
            Qual::UNDEF,
        ))
    }

    /// A comparison operator: `(op, negate)`.
    fn rel_op(&self) -> Option<(RelOp, bool)> {
        Some(match self.peek() {
            Tok::Punct(b'>') => (RelOp::Gt, false),
            Tok::Geq => (RelOp::Ge, false),
            Tok::Punct(b'=') => (RelOp::Eq, false),
            Tok::Leq => (RelOp::Gt, true),
            Tok::Punct(b'<') => (RelOp::Ge, true),
            Tok::Neq => (RelOp::Eq, true),
            _ => return None,
        })
    }

    /// A binary operator and its binding power.
    fn arith_op(&self) -> Option<(ArithOp, u8)> {
        Some(match self.peek() {
            Tok::Punct(b'|') => (ArithOp::Or, 1),
            Tok::Punct(b'&') => (ArithOp::And, 2),
            Tok::Lsh => (ArithOp::Lsh, 3),
            Tok::Rsh => (ArithOp::Rsh, 3),
            Tok::Punct(b'+') => (ArithOp::Add, 4),
            Tok::Punct(b'-') => (ArithOp::Sub, 4),
            Tok::Punct(b'*') => (ArithOp::Mul, 5),
            Tok::Punct(b'/') => (ArithOp::Div, 5),
            Tok::Punct(b'%') => (ArithOp::Mod, ONLY_ABSORBING),
            Tok::Punct(b'^') => (ArithOp::Xor, ONLY_ABSORBING),
            _ => return None,
        })
    }

    /// A complete arithmetic expression.
    pub(super) fn arith_full(&mut self) -> Result<Arith, CompileError> {
        let lhs = self.arith_unary()?;
        self.continue_binary(lhs, 0)
    }

    /// Applies operators binding at least `min` to `lhs`.
    fn continue_binary(&mut self, mut lhs: Arith, min: u8) -> Result<Arith, CompileError> {
        while let Some((op, power)) = self.arith_op() {
            let absorbing = power == ONLY_ABSORBING;
            if !absorbing && power < min {
                break;
            }
            let op_span = self.bump();
            let rhs = if absorbing {
                self.nested(|p| p.arith_full())?
            } else {
                let operand = self.arith_unary()?;
                self.continue_binary(operand, power + 1)?
            };
            lhs = append(lhs, op, op_span, rhs);
        }
        Ok(lhs)
    }

    /// An operand, possibly under unary minus.
    pub(super) fn arith_unary(&mut self) -> Result<Arith, CompileError> {
        if self.peek() == &Tok::Punct(b'-') {
            self.bump();
            return self.nested(|p| {
                let operand = p.arith_unary()?;
                let operand = p.continue_binary(operand, ONLY_ABSORBING)?;
                Ok(Arith::Neg(Box::new(operand)))
            });
        }
        let start = self.pos;
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ok(Arith::Num(n))
            }
            Tok::Kw(Kw::Len) => {
                self.bump();
                Ok(Arith::Len)
            }
            Tok::Punct(b'(') => {
                self.bump();
                let inner = self.nested(|p| p.arith_full())?;
                self.expect_punct(b')')?;
                Ok(inner)
            }
            Tok::Kw(kw) => match super::pname(kw) {
                Some(proto) if self.peek_at(1) == &Tok::Punct(b'[') => {
                    self.bump();
                    self.bump();
                    let index = self.nested(|p| p.arith_full())?;
                    let size = if self.peek() == &Tok::Punct(b':') {
                        self.bump();
                        self.expect_num()?
                    } else {
                        1
                    };
                    self.expect_punct(b']')?;
                    Ok(Arith::Load {
                        proto,
                        index: Box::new(index),
                        size,
                        span: self.span_from(start),
                    })
                }
                _ => Err(self.unexpected("an arithmetic operand")),
            },
            _ => Err(self.unexpected("an arithmetic operand")),
        }
    }
}

/// `lhs op rhs`, flattening left-nested chains (evaluation order is the same).
fn append(lhs: Arith, op: ArithOp, op_span: Span, rhs: Arith) -> Arith {
    match lhs {
        Arith::Chain { first, mut rest } => {
            rest.push((op, op_span, rhs));
            Arith::Chain { first, rest }
        }
        other => Arith::Chain {
            first: Box::new(other),
            rest: vec![(op, op_span, rhs)],
        },
    }
}
