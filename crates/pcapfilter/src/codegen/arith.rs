//! Arithmetic expressions and relations (`tcp[13] & 2 != 0`, `len > 100`).
//!
//! Every intermediate value lives in a scratch register, exactly as in
//! libpcap, so that the register numbers in the output match.

use super::{Arth, Codegen, Gen, Off};
use crate::ast::{Arith, ArithOp, RelOp};
use crate::cfg::{BlockId, StmtId};
use crate::qual::Proto;
use bpfkit_cbpf::op;

impl Codegen<'_> {
    /// Generates an arithmetic expression, left to right.
    pub fn arith(&mut self, a: &Arith) -> Gen<Arth> {
        match a {
            Arith::Num(n) => self.loadi(*n),
            Arith::Len => self.loadlen(),
            Arith::Load {
                proto,
                index,
                size,
                span,
            } => {
                let inner = self.arith(index)?;
                self.span = *span;
                self.gen_load(*proto, inner, *size)
            }
            Arith::Neg(inner) => {
                let a = self.arith(inner)?;
                Ok(self.neg(a))
            }
            Arith::Chain { first, rest } => {
                let mut acc = self.arith(first)?;
                for (op, span, operand) in rest {
                    let rhs = self.arith(operand)?;
                    self.span = *span;
                    acc = self.binary(*op, acc, rhs)?;
                }
                Ok(acc)
            }
        }
    }

    fn loadi(&mut self, v: u32) -> Gen<Arth> {
        let reg = self.alloc_reg()?;
        let s = self.cfg.stmt(op::LD | op::IMM, v);
        self.push(s, op::ST, reg);
        Ok(Arth { s, reg, b: None })
    }

    fn loadlen(&mut self) -> Gen<Arth> {
        let reg = self.alloc_reg()?;
        let s = self.cfg.stmt(op::LD | op::LEN, 0);
        self.push(s, op::ST, reg);
        Ok(Arth { s, reg, b: None })
    }

    fn neg(&mut self, a: Arth) -> Arth {
        self.push(a.s, op::LD | op::MEM, a.reg);
        self.push(a.s, op::ALU | op::NEG, 0);
        self.push(a.s, op::ST, a.reg);
        a
    }

    fn binary(&mut self, op_kind: ArithOp, a0: Arth, a1: Arth) -> Gen<Arth> {
        let code = match op_kind {
            ArithOp::Add => op::ADD,
            ArithOp::Sub => op::SUB,
            ArithOp::Mul => op::MUL,
            ArithOp::Div => op::DIV,
            ArithOp::Mod => op::MOD,
            ArithOp::And => op::AND,
            ArithOp::Or => op::OR,
            ArithOp::Xor => op::XOR,
            ArithOp::Lsh => op::LSH,
            ArithOp::Rsh => op::RSH,
        };
        // libpcap checks only the right operand's first statement for a
        // constant, so `x / (0 + 1)` is refused as a division by zero too.
        let first = self.cfg.s(a1.s).clone();
        let is_const = |v: fn(u32) -> bool| first.code == (op::LD | op::IMM) && v(first.k);
        match op_kind {
            ArithOp::Div if is_const(|k| k == 0) => return Err(self.err("division by zero")),
            ArithOp::Mod if is_const(|k| k == 0) => return Err(self.err("modulus by zero")),
            ArithOp::Lsh | ArithOp::Rsh if is_const(|k| k > 31) => {
                return Err(self.err("shift by more than 31 bits"))
            }
            _ => {}
        }
        let s0 = self.cfg.stmt(op::LDX | op::MEM, a1.reg);
        self.push(s0, op::LD | op::MEM, a0.reg);
        self.push(s0, op::ALU | op::X | code, 0);
        self.cfg.append(a1.s, Some(s0));
        self.cfg.append(a0.s, Some(a1.s));
        self.free_reg(a0.reg);
        self.free_reg(a1.reg);
        let reg = self.alloc_reg()?;
        self.push(a0.s, op::ST, reg);
        // libpcap keeps only the left operand's conditions here.
        Ok(Arth {
            s: a0.s,
            reg,
            b: a0.b,
        })
    }

    /// `proto[index : size]`.
    fn gen_load(&mut self, proto: Proto, mut inst: Arth, size: u32) -> Gen<Arth> {
        let reg = self.alloc_reg()?;
        self.free_reg(inst.reg);
        let size_code = match size {
            1 => op::B,
            2 => op::H,
            4 => op::W,
            _ => return Err(self.err("data size must be 1, 2, or 4")),
        };
        use Proto as P;
        match proto {
            P::Radio => {
                if self.linktype != crate::linktype::LinkType::IEEE802_11_RADIO.0 {
                    return Err(self.err("radio information not present in capture"));
                }
                // Relative to the start of the radio header (the packet).
                let s = self.cfg.stmt(op::LDX | op::MEM, inst.reg);
                self.push(s, op::LD | op::IND | size_code, 0);
                self.cfg.append(inst.s, Some(s));
            }
            P::Link => {
                let s = self.index_into(Off::Header, &inst)?;
                let k = self.off_linkhdr.constant_part;
                self.push(s, op::LD | op::IND | size_code, k);
                self.cfg.append(inst.s, Some(s));
            }
            P::Ip
            | P::Arp
            | P::Rarp
            | P::Atalk
            | P::Decnet
            | P::Sca
            | P::Lat
            | P::Moprc
            | P::Mopdl
            | P::Ipv6 => {
                let s = self.index_into(Off::Payload, &inst)?;
                let k = self.off_linkpl.constant_part.wrapping_add(self.off_nl);
                self.push(s, op::LD | op::IND | size_code, k);
                self.cfg.append(inst.s, Some(s));
                let b = self.gen_proto_abbrev(proto)?;
                if let Some(prev) = inst.b {
                    self.cfg.and(prev, b);
                }
                inst.b = Some(b);
            }
            P::Sctp
            | P::Tcp
            | P::Udp
            | P::Icmp
            | P::Igmp
            | P::Igrp
            | P::Pim
            | P::Vrrp
            | P::Carp => {
                // X := IP header length; X += index; A := [X + payload].
                let s = self.loadx_iphdrlen()?;
                self.push(s, op::LD | op::MEM, inst.reg);
                self.push(s, op::ALU | op::ADD | op::X, 0);
                self.push(s, op::MISC | op::TAX, 0);
                let k = self.off_linkpl.constant_part.wrapping_add(self.off_nl);
                self.push(s, op::LD | op::IND | size_code, k);
                self.cfg.append(inst.s, Some(s));
                let p = self.gen_proto_abbrev(proto)?;
                let b = self.ipfrag()?;
                self.cfg.and(p, b);
                if let Some(prev) = inst.b {
                    self.cfg.and(prev, b);
                }
                let ip = self.gen_proto_abbrev(P::Ip)?;
                self.cfg.and(ip, b);
                inst.b = Some(b);
            }
            P::Icmpv6 => {
                let b = self.gen_proto_abbrev(P::Ipv6)?;
                if let Some(prev) = inst.b {
                    self.cfg.and(prev, b);
                }
                let next = self.cmp(super::OffRel::LinkPl, 6, op::B, 58)?;
                self.cfg.and(b, next);
                inst.b = Some(next);
                let s = self.index_into(Off::Payload, &inst)?;
                let k = self
                    .off_linkpl
                    .constant_part
                    .wrapping_add(self.off_nl)
                    .wrapping_add(40);
                self.push(s, op::LD | op::IND | size_code, k);
                self.cfg.append(inst.s, Some(s));
            }
            _ => return Err(self.err("unsupported index operation")),
        }
        inst.reg = reg;
        self.push(inst.s, op::ST, reg);
        Ok(inst)
    }

    /// X := index (+ the variable part of the header offset, if any).
    fn index_into(&mut self, which: Off, inst: &Arth) -> Gen<StmtId> {
        Ok(match self.abs_offset_varpart(which)? {
            Some(s) => {
                self.push(s, op::LD | op::MEM, inst.reg);
                self.push(s, op::ALU | op::ADD | op::X, 0);
                self.push(s, op::MISC | op::TAX, 0);
                s
            }
            None => self.cfg.stmt(op::LDX | op::MEM, inst.reg),
        })
    }

    /// `a0 op a1`, negated for `<=`, `<`, `!=`.
    pub fn gen_relation(&mut self, rel: RelOp, a0: Arth, a1: Arth, negate: bool) -> Gen<BlockId> {
        let s0 = self.cfg.stmt(op::LDX | op::MEM, a1.reg);
        let s1 = self.cfg.stmt(op::LD | op::MEM, a0.reg);
        let b = if rel == RelOp::Eq {
            // A - X == 0, comparing against the constant 0.
            let s2 = self.cfg.stmt(op::ALU | op::SUB | op::X, 0);
            let b = self.cfg.block(op::JMP | op::JEQ | op::K, 0);
            self.cfg.append(s1, Some(s2));
            b
        } else {
            let cond = if rel == RelOp::Gt { op::JGT } else { op::JGE };
            self.cfg.block(op::JMP | cond | op::X, 0)
        };
        if negate {
            self.cfg.not(b);
        }
        self.cfg.append(s0, Some(s1));
        self.cfg.append(a1.s, Some(s0));
        self.cfg.append(a0.s, Some(a1.s));
        self.cfg.b_mut(b).stmts = Some(a0.s);
        self.free_reg(a0.reg);
        self.free_reg(a1.reg);
        let conds = match (a0.b, a1.b) {
            (Some(c0), Some(c1)) => {
                self.cfg.and(c0, c1);
                Some(c1)
            }
            (Some(c), None) | (None, Some(c)) => Some(c),
            (None, None) => None,
        };
        if let Some(c) = conds {
            self.cfg.and(c, b);
        }
        Ok(b)
    }
}
