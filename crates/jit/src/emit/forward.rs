//! Stack loads that `forward` found the value of in a register: a register move.

use super::{asm, Emitter};
use crate::regs::x;
use bpfkit_isa::{Insn, MemSize};
use dynasmrt::{dynasm, DynasmApi};

impl Emitter<'_> {
    /// Emits instruction `i` as a register move if it loads a stack slot whose value a
    /// register still holds; returns whether it did.
    pub(super) fn forwarded_load(&mut self, i: usize) -> bool {
        let (Some(reg), Insn::Ldx { size, dst, .. }) =
            (self.plan.forwarded[i], self.plan.insns[i].insn)
        else {
            return false;
        };
        let (d, s) = (x(dst), x(reg));
        match size {
            MemSize::DW if d == s => {}
            MemSize::DW => asm!(self.asm; mov Rq(d), Rq(s)),
            MemSize::W => asm!(self.asm; mov Rd(d), Rd(s)),
            MemSize::H => asm!(self.asm; movzx Rd(d), Rw(s)),
            MemSize::B => asm!(self.asm; movzx Rd(d), Rb(s)),
        }
        true
    }
}
