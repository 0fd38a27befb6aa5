//! Peepholes over the eBPF compilers' idioms, each exact for any program:
//! - `rX = rY; rX += k` (or `+= rZ`, `-= k`; 64 or 32 bits) is one `lea`, when the second
//!   instruction is no jump target (the pair then always runs together);
//! - `rX *= 3, 5, 9` is a `lea` (1 cycle, not `imul`'s 3), `rX *= 2^n` a shift;
//! - such a pair whose sum only addresses memory is not emitted at all (`fold`);
//! - `if rX ==/!= 0` right after an ALU operation that set the flags from rX (same width,
//!   not a jump target) needs no `test`.

use super::encode::Operand as MemOperand;
use super::{asm, Emitter};
use crate::fold::Fold;
use crate::regs::x;
use bpfkit_isa::{AluOp, Insn, Operand, Width};
use dynasmrt::{dynasm, DynasmApi};

impl Emitter<'_> {
    /// Emits instructions `i` and `i + 1` as one `lea` if they are a move and an add to the
    /// same register; returns whether it did.
    pub(super) fn fused_mov_add(&mut self, i: usize) -> bool {
        if self.plan.folds[i] == Fold::Skip {
            // The sum only addresses memory: the accesses compute it (see `fold`).
            self.bind_second(i);
            return true;
        }
        let (Some(first), Some(second)) = (self.plan.insns.get(i), self.plan.insns.get(i + 1))
        else {
            return false;
        };
        let Insn::Alu {
            width,
            op: AluOp::Mov,
            dst,
            src: Operand::Reg(src),
        } = first.insn
        else {
            return false;
        };
        let Insn::Alu {
            width: width2,
            op,
            dst: dst2,
            src: operand,
        } = second.insn
        else {
            return false;
        };
        if width != width2 || dst2 != dst || dst == src || self.plan.block_at(i + 1).is_some() {
            return false;
        }
        // Immediates would appear unblinded in the displacement.
        let (d, s) = (x(dst), x(src));
        let wide = width == Width::W64;
        match (op, operand) {
            (AluOp::Add, Operand::Imm(k)) if !self.blinding() => self.lea_disp(wide, d, s, k),
            (AluOp::Sub, Operand::Imm(k)) if !self.blinding() && k != i32::MIN => {
                self.lea_disp(wide, d, s, -k)
            }
            (AluOp::Add, Operand::Reg(z)) => {
                // `rX += rX` adds the moved value, rY.
                let z = if z == dst { s } else { x(z) };
                self.lea(wide, d, MemOperand::new(s, Some(z), 0));
            }
            _ => return false,
        }
        self.bind_second(i);
        true
    }

    /// Binds the label of the second instruction of the pair at `i`, for anything that
    /// names it (`callx` tables).
    fn bind_second(&mut self, i: usize) {
        self.bind_following(i, 2);
    }

    fn lea_disp(&mut self, wide: bool, d: u8, s: u8, k: i32) {
        self.lea(wide, d, MemOperand::new(s, None, k));
    }

    /// `d *= k` without `imul` when `k` is 2^n, 3, 5 or 9; returns whether it emitted.
    pub(super) fn mul_by_constant(&mut self, wide: bool, d: u8, k: i32) -> bool {
        let scaled = |scale| MemOperand {
            base: d,
            index: Some(d),
            scale,
            disp: 0,
        };
        match k {
            3 => self.lea(wide, d, scaled(1)),
            5 => self.lea(wide, d, scaled(2)),
            9 => self.lea(wide, d, scaled(3)),
            k if k > 1 && (k as u32).is_power_of_two() => {
                let n = k.trailing_zeros() as i8;
                if wide {
                    asm!(self.asm; shl Rq(d), BYTE n);
                } else {
                    asm!(self.asm; shl Rd(d), BYTE n);
                }
            }
            _ => return false,
        }
        true
    }
}
