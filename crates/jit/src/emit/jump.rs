//! Jumps. Each is encoded with an 8-bit displacement when an earlier pass showed the target
//! within reach (see `compile.rs`), else with a 32-bit one.

use super::{asm, Emitter};
use crate::regs::{x, R10};
use bpfkit_isa::{JmpCond, Operand, Reg, Width};
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};

impl Emitter<'_> {
    pub(super) fn ja(&mut self, i: usize) {
        let target = self.plan.target(i);
        if target != i + 1 {
            self.jmp_to(self.labels[target], self.short[i]);
        }
        self.jump_ends[i] = self.asm.offset().0;
    }

    fn jmp_to(&mut self, label: DynamicLabel, short: bool) {
        if short {
            asm!(self.asm; jmp BYTE =>label);
        } else {
            asm!(self.asm; jmp =>label);
        }
    }

    /// `zf`: the register (and width) the flags were last set from, if still valid;
    /// `r0_nonzero`: r0 is known not to be 0.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn jmp(
        &mut self,
        i: usize,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        zf: Option<(u8, bool)>,
        r0_nonzero: bool,
    ) {
        let d = x(dst);
        let wide = width == Width::W64;
        // The condition is tested as written; the jump may be taken on its opposite. The
        // first copy of an unrolled loop leaves it (to the loop's exit moves or the
        // instruction after the loop).
        let (label, taken, site) = if self.exit_jump {
            (
                self.loop_exit.unwrap_or(self.labels[i + 1]),
                opposite(cond),
                self.plan.insns.len() + i,
            )
        } else if self.plan.inverted[i] {
            (self.labels[self.plan.target(i)], opposite(cond), i)
        } else {
            (self.labels[self.plan.target(i)], cond, i)
        };
        let null_check = matches!(cond, JmpCond::Eq | JmpCond::Ne) && src == Operand::Imm(0);
        if null_check && r0_nonzero && dst == Reg::R0 && wide {
            // Decided at compile time: never taken on `Eq`, always on `Ne`.
            if taken == JmpCond::Ne {
                self.jmp_to(label, self.short[site]);
            }
            self.jump_ends[site] = self.asm.offset().0;
            return;
        }
        if null_check && zf == Some((d, wide)) {
            self.jcc(taken, label, self.short[site]);
            self.jump_ends[site] = self.asm.offset().0;
            return;
        }
        // The right-hand side: a register, or an immediate (in r10 when blinding).
        let rhs = match src {
            Operand::Reg(s) => Ok(x(s)),
            Operand::Imm(k) if self.blinding() => {
                self.load_imm(R10, k, wide);
                Ok(R10)
            }
            Operand::Imm(k) => Err(k),
        };
        match (cond == JmpCond::Set, rhs, wide) {
            (true, Ok(s), true) => asm!(self.asm; test Rq(d), Rq(s)),
            (true, Ok(s), false) => asm!(self.asm; test Rd(d), Rd(s)),
            (true, Err(k), true) => asm!(self.asm; test Rq(d), DWORD k),
            (true, Err(k), false) => asm!(self.asm; test Rd(d), DWORD k),
            (false, Ok(s), true) => asm!(self.asm; cmp Rq(d), Rq(s)),
            (false, Ok(s), false) => asm!(self.asm; cmp Rd(d), Rd(s)),
            // Against 0, `test` sets every flag the conditions read as `cmp` would.
            (false, Err(0), true) => asm!(self.asm; test Rq(d), Rq(d)),
            (false, Err(0), false) => asm!(self.asm; test Rd(d), Rd(d)),
            (false, Err(k), wide) => match i8::try_from(k) {
                Ok(b) => self.cmp_imm8(d, wide, b),
                Err(_) if wide => asm!(self.asm; cmp Rq(d), DWORD k),
                Err(_) => asm!(self.asm; cmp Rd(d), DWORD k),
            },
        }
        self.jcc(taken, label, self.short[site]);
        self.jump_ends[site] = self.asm.offset().0;
    }

    /// `cmp reg, imm8` (opcode 83 /7 ib), encoded by hand: dynasm's table picks the imm32
    /// form for `cmp` even when asked for a byte.
    fn cmp_imm8(&mut self, reg: u8, wide: bool, imm: i8) {
        let rex = 0x40 | if wide { 0x08 } else { 0 } | (reg >> 3);
        let modrm = 0xc0 | (7 << 3) | (reg & 7);
        if rex != 0x40 {
            asm!(self.asm; .bytes [rex, 0x83, modrm, imm as u8]);
        } else {
            asm!(self.asm; .bytes [0x83, modrm, imm as u8]);
        }
    }

    /// The conditional jump taken when `cond` held for the flags of `cmp dst, src`
    /// (`test` for `Set`).
    fn jcc(&mut self, cond: JmpCond, l: DynamicLabel, short: bool) {
        use JmpCond::*;
        match (cond, short) {
            (Eq, true) => asm!(self.asm; je BYTE =>l),
            (Eq, false) => asm!(self.asm; je =>l),
            (Ne | Set, true) => asm!(self.asm; jne BYTE =>l),
            (Ne | Set, false) => asm!(self.asm; jne =>l),
            (Gt, true) => asm!(self.asm; ja BYTE =>l),
            (Gt, false) => asm!(self.asm; ja =>l),
            (Ge, true) => asm!(self.asm; jae BYTE =>l),
            (Ge, false) => asm!(self.asm; jae =>l),
            (Lt, true) => asm!(self.asm; jb BYTE =>l),
            (Lt, false) => asm!(self.asm; jb =>l),
            (Le, true) => asm!(self.asm; jbe BYTE =>l),
            (Le, false) => asm!(self.asm; jbe =>l),
            (Sgt, true) => asm!(self.asm; jg BYTE =>l),
            (Sgt, false) => asm!(self.asm; jg =>l),
            (Sge, true) => asm!(self.asm; jge BYTE =>l),
            (Sge, false) => asm!(self.asm; jge =>l),
            (Slt, true) => asm!(self.asm; jl BYTE =>l),
            (Slt, false) => asm!(self.asm; jl =>l),
            (Sle, true) => asm!(self.asm; jle BYTE =>l),
            (Sle, false) => asm!(self.asm; jle =>l),
        }
    }
}

/// The condition that holds exactly when `cond` does not, for the same flags (`Set` is
/// tested with `test`, whose zero flag `Eq` reads).
fn opposite(cond: JmpCond) -> JmpCond {
    use JmpCond::*;
    match cond {
        Eq => Ne,
        Ne | Set => Eq,
        Gt => Le,
        Le => Gt,
        Ge => Lt,
        Lt => Ge,
        Sgt => Sle,
        Sle => Sgt,
        Sge => Slt,
        Slt => Sge,
    }
}
