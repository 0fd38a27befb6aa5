//! ALU instructions: scalar transfer functions and the pointer arithmetic rules.

use super::{err, Engine, Res};
use crate::bounds::Scalar;
use crate::error::ErrorKind;
use crate::scalar_ops::{self, BinOp};
use crate::state::{RegState, RegType, State};
use bpfkit_isa::{AluOp, Insn, Operand, Reg, Width};

/// Largest offset magnitude pointer arithmetic may reach (the kernel's `BPF_MAX_VAR_OFF`).
const MAX_VAR_OFF: i64 = 1 << 29;

/// The kernel's operator spelling (`bpf_alu_string`).
fn op_str(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::SDiv => "/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Neg => "neg",
        AluOp::Mod | AluOp::SMod => "%=",
        AluOp::Xor => "^=",
        AluOp::Mov | AluOp::MovSx(_) => "=",
        AluOp::Arsh => "s>>=",
    }
}

impl Engine<'_> {
    pub(super) fn check_alu(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Res<()> {
        match *insn {
            Insn::End { kind, bits, dst } => {
                self.check_dst(pc, dst)?;
                let d = self.read_reg(st, pc, dst)?;
                let v = if d.ty == RegType::Scalar {
                    scalar_ops::endian(kind, bits, &d.var)
                } else {
                    self.pointer_to_scalar(pc, dst)?
                };
                st.cur_mut().regs[dst.idx()] = RegState::scalar(v);
                Ok(())
            }
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.check_alu_op(st, pc, width, op, dst, src),
            _ => unreachable!("check_alu gets ALU instructions"),
        }
    }

    /// A pointer used where only numbers make sense: allowed (as an unknown number) only
    /// when pointer leaks are.
    fn pointer_to_scalar(&self, pc: usize, r: Reg) -> Res<Scalar> {
        if self.env.allow_ptr_leaks() {
            Ok(Scalar::UNKNOWN)
        } else {
            Err(err(
                pc,
                ErrorKind::PointerLeak,
                format!("R{} pointer arithmetic prohibited", r.num()),
            ))
        }
    }

    fn check_alu_op(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    ) -> Res<()> {
        if fold_constants(st, width, op, dst, src) {
            return Ok(());
        }
        let src_reg = match src {
            Operand::Reg(r) => Some(self.read_reg(st, pc, r)?),
            Operand::Imm(_) => None,
        };
        let src_val = |imm: i32| match width {
            Width::W64 => Scalar::constant(imm as i64 as u64),
            Width::W32 => Scalar::constant(imm as u32 as u64),
        };
        match op {
            AluOp::Mov => {
                self.check_dst(pc, dst)?;
                let new = match (src, src_reg) {
                    (Operand::Imm(imm), _) => RegState::scalar(src_val(imm)),
                    (Operand::Reg(r), Some(s)) => {
                        if width == Width::W64 {
                            self.copy_reg(st, r, s)
                        } else if s.ty == RegType::Scalar && s.var.r64.umax <= u32::MAX as u64 {
                            // The value fits: the 32-bit copy is the same number, linked.
                            self.copy_reg(st, r, s)
                        } else if s.ty == RegType::Scalar {
                            RegState::scalar(s.var.zext32())
                        } else if self.env.allow_ptr_leaks() {
                            RegState::scalar(Scalar::unknown_u32())
                        } else {
                            return Err(err(
                                pc,
                                ErrorKind::PointerLeak,
                                format!("R{} partial copy of pointer", r.num()),
                            ));
                        }
                    }
                    _ => unreachable!(),
                };
                st.cur_mut().regs[dst.idx()] = new;
                return Ok(());
            }
            AluOp::MovSx(bits) => {
                self.check_dst(pc, dst)?;
                let s = src_reg.expect("movsx has a register source");
                let new = if s.ty == RegType::Scalar && s.var.r64.umax < 1u64 << (bits - 1) {
                    // No sign to extend: the same number, linked (as the kernel).
                    let Operand::Reg(r) = src else {
                        unreachable!("movsx has a register source")
                    };
                    self.copy_reg(st, r, s)
                } else if s.ty == RegType::Scalar {
                    RegState::scalar(scalar_ops::movsx(width, bits, &s.var))
                } else {
                    RegState::scalar(self.pointer_to_scalar(pc, dst)?)
                };
                st.cur_mut().regs[dst.idx()] = new;
                return Ok(());
            }
            _ => {}
        }
        self.check_dst(pc, dst)?;
        let d = self.read_reg(st, pc, dst)?;
        if op == AluOp::Neg {
            let v = if d.ty == RegType::Scalar {
                scalar_ops::neg(width, &d.var)
            } else {
                self.pointer_to_scalar(pc, dst)?
            };
            st.cur_mut().regs[dst.idx()] = RegState::scalar(v);
            return Ok(());
        }
        if let Operand::Imm(imm) = src {
            if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && imm == 0 {
                return Err(err(pc, ErrorKind::Unsupported, "div by zero"));
            }
            let bits = if width == Width::W64 { 64 } else { 32 };
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (imm < 0 || imm >= bits) {
                return Err(err(
                    pc,
                    ErrorKind::Unsupported,
                    format!("invalid shift {imm}"),
                ));
            }
        }
        let s = src_reg.unwrap_or_else(|| RegState::scalar(src_val(src_imm(src))));
        let bin = BinOp::from_alu(op).expect("remaining ops are binary");
        let result = if d.ty == RegType::Scalar && s.ty == RegType::Scalar {
            let mut r = RegState::scalar(scalar_ops::binop(bin, width, &d.var, &s.var));
            if let Some(off) = linked_offset(width, op, &d, &s) {
                // `rX += c` keeps rX linked to its copies, `c` apart (the kernel's
                // BPF_ADD_CONST): bounds learned on one still reach the others.
                r.id = d.id;
                r.off = off;
                r.off32 = width == Width::W32;
            }
            r
        } else {
            self.pointer_arith(pc, width, op, dst, d, s, src)?
        };
        st.cur_mut().regs[dst.idx()] = result;
        Ok(())
    }

    /// `dst = src` on 64 bits: scalars get a shared id so that later bounds learned on one
    /// copy apply to the other.
    pub(super) fn copy_reg(&mut self, st: &mut State, r: Reg, s: RegState) -> RegState {
        if s.ty == RegType::Scalar && s.var.as_const().is_none() && s.id == 0 {
            let id = self.new_id();
            st.cur_mut().regs[r.idx()].id = id;
            return RegState { id, ..s };
        }
        s
    }

    /// The kernel's `check_reg_sane_offset`.
    fn sane_offset(&self, pc: usize, r: &RegState, ptr_name: &str) -> Res<()> {
        let fail = |m: String| Err(err(pc, ErrorKind::PointerArithmetic, m));
        if let Some(c) = r.var.as_const().filter(|_| r.ty == RegType::Scalar) {
            let v = c as i64;
            if v >= MAX_VAR_OFF || v <= -MAX_VAR_OFF {
                return fail(format!(
                    "math between {ptr_name} pointer and {v} is not allowed"
                ));
            }
        }
        if r.off as i64 >= MAX_VAR_OFF || r.off as i64 <= -MAX_VAR_OFF {
            return fail(format!(
                "{ptr_name} pointer offset {} is not allowed",
                r.off
            ));
        }
        if r.var.r64.smin == i64::MIN {
            return fail(format!(
                "math between {ptr_name} pointer and register with unbounded min value is not allowed"
            ));
        }
        let smin = r.var.r64.smin;
        if smin >= MAX_VAR_OFF || smin <= -MAX_VAR_OFF {
            return fail(format!(
                "value {smin} makes {ptr_name} pointer be out of bounds"
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn pointer_arith(
        &mut self,
        pc: usize,
        width: Width,
        op: AluOp,
        dst: Reg,
        d: RegState,
        s: RegState,
        src: Operand,
    ) -> Res<RegState> {
        let n = dst.num();
        let fail = |kind, m: String| Err(err(pc, kind, m));
        if d.ty.is_pointer() && s.ty.is_pointer() {
            if op == AluOp::Sub && self.env.allow_ptr_leaks() {
                return Ok(RegState::unknown());
            }
            return fail(
                ErrorKind::PointerArithmetic,
                format!("R{n} pointer {} pointer prohibited", op_str(op)),
            );
        }
        if width == Width::W32 {
            if op == AluOp::Sub && self.env.allow_ptr_leaks() {
                return Ok(RegState::unknown());
            }
            return fail(
                ErrorKind::PointerArithmetic,
                format!("R{n} 32-bit pointer arithmetic prohibited"),
            );
        }
        // Exactly one side is a pointer from here on.
        let (ptr, off_reg) = if d.ty.is_pointer() { (d, s) } else { (s, d) };
        if !d.ty.is_pointer() && op == AluOp::Sub {
            return fail(
                ErrorKind::PointerArithmetic,
                format!("R{n} tried to subtract pointer from scalar"),
            );
        }
        let name = ptr.type_name();
        if ptr.nullable {
            return fail(
                ErrorKind::PointerArithmetic,
                format!("R{n} pointer arithmetic on {name} prohibited, null-check it first"),
            );
        }
        if matches!(
            ptr.ty,
            RegType::MapPtr { .. } | RegType::PacketEnd | RegType::Func { .. }
        ) {
            return fail(
                ErrorKind::PointerArithmetic,
                format!("R{n} pointer arithmetic on {name} prohibited"),
            );
        }
        match op {
            AluOp::Add | AluOp::Sub => {}
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("R{n} bitwise operator {} on pointer prohibited", op_str(op)),
                )
            }
            _ => {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!(
                        "R{n} pointer arithmetic with {} operator prohibited",
                        op_str(op)
                    ),
                )
            }
        }
        self.sane_offset(pc, &off_reg, &name)?;
        self.sane_offset(pc, &ptr, &name)?;
        let mut out = ptr;
        if let Some(c) = off_reg.var.as_const() {
            let c = c as i64;
            let off = if op == AluOp::Add {
                ptr.off as i64 + c
            } else {
                ptr.off as i64 - c
            };
            out.off = off as i32;
        } else {
            if op == AluOp::Sub && matches!(ptr.ty, RegType::Stack { .. }) {
                return fail(
                    ErrorKind::PointerArithmetic,
                    format!("R{n} subtraction from stack pointer prohibited"),
                );
            }
            let bin = if op == AluOp::Add {
                BinOp::Add
            } else {
                BinOp::Sub
            };
            out.var = scalar_ops::binop(bin, Width::W64, &ptr.var, &off_reg.var);
            if ptr.ty.is_packet() {
                // A new variable part: ranges learned for the old one do not apply.
                out.id = self.new_id();
                out.range = 0;
            }
        }
        self.sane_offset(pc, &out, &name)?;
        let _ = src;
        Ok(out)
    }
}

/// Arithmetic on two known numbers, done in place (the common case in loops with known
/// counters and in long straight-line code). `false` when it does not apply: an operand
/// that is not a known number, `r10` as destination, a division by a zero immediate or an
/// out-of-range shift immediate (those are errors the general path reports).
fn fold_constants(st: &mut State, width: Width, op: AluOp, dst: Reg, src: Operand) -> bool {
    let Some(bin) = BinOp::from_alu(op) else {
        return false;
    };
    if dst == Reg::R10 {
        return false;
    }
    let regs = &mut st.cur_mut().regs;
    let b = match src {
        Operand::Imm(imm) => {
            let bits = if width == Width::W64 { 64 } else { 32 };
            let bad_div =
                matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && imm == 0;
            let bad_shift =
                matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (imm < 0 || imm >= bits);
            if bad_div || bad_shift {
                return false;
            }
            match width {
                Width::W64 => imm as i64 as u64,
                Width::W32 => imm as u32 as u64,
            }
        }
        Operand::Reg(r) => {
            let s = &regs[r.idx()];
            match s.var.as_const() {
                Some(c) if s.ty == RegType::Scalar => c,
                _ => return false,
            }
        }
    };
    let d = &mut regs[dst.idx()];
    match d.var.as_const() {
        Some(a) if d.ty == RegType::Scalar => {
            *d = RegState::scalar(Scalar::constant(bin.eval(width, a, b)));
            true
        }
        _ => false,
    }
}

/// The offset `dst op= src` puts between `dst` and the scalars it is linked to, when the
/// link survives: an add or subtract of a constant that fits in 32 bits, on a linked
/// register not already offset (the kernel's rules for BPF_ADD_CONST); in 32 bits only
/// when the value fits in 32 bits (then every copy at offset 0 does too).
fn linked_offset(width: Width, op: AluOp, d: &RegState, s: &RegState) -> Option<i32> {
    if d.id == 0 || d.off != 0 {
        return None;
    }
    let c = match width {
        Width::W64 => i32::try_from(s.var.as_const()? as i64).ok()?,
        Width::W32 if d.var.r64.umax <= u32::MAX as u64 => s.var.as_const()? as u32 as i32,
        Width::W32 => return None,
    };
    match op {
        AluOp::Add => Some(c),
        AluOp::Sub => c.checked_neg(),
        _ => None,
    }
}

fn src_imm(src: Operand) -> i32 {
    match src {
        Operand::Imm(i) => i,
        Operand::Reg(_) => 0,
    }
}
