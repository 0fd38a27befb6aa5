//! Store-to-load forwarding on the stack: a load from the stack slot a store of the same
//! block just wrote becomes a register move (compilers spill and reload registers there).
//!
//! Only in unchecked code, and only when every stack access of the program is r10-relative
//! at a constant offset (no copy of r10, no helper: [`Program::stack_need`] below the frame
//! size), so that no other instruction can write the slot in between. Knowledge is local to
//! a block (cleared at jump targets and calls) and dropped when the stored register changes.
//!
//! [`Program::stack_need`]: bpfkit_vm::Program::stack_need

use super::{asm, Emitter};
use crate::regs::x;
use crate::usage;
use bpfkit_isa::{Insn, MemSize, Reg};
use dynasmrt::{dynasm, DynasmApi};

/// A stack slot `[r10 + off, +size)` known to hold the low bytes of register `reg`.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    off: i16,
    size: MemSize,
    reg: Reg,
}

impl Slot {
    fn overlaps(&self, off: i16, size: MemSize) -> bool {
        let (a, b) = (self.off as i32, off as i32);
        a < b + size.bytes() as i32 && b < a + self.size.bytes() as i32
    }
}

impl Emitter<'_> {
    /// Whether forwarding applies to this program at all.
    pub(super) fn forwarding(&self) -> bool {
        !self.checked && self.plan.stack_need < bpfkit_isa::STACK_SIZE
    }

    /// Emits instruction `i` as a register move if it loads a slot whose value a register
    /// still holds; returns whether it did.
    pub(super) fn forwarded_load(&mut self, i: usize) -> bool {
        let Insn::Ldx {
            size,
            signed: false,
            dst,
            src: Reg::R10,
            off,
        } = self.plan.insns[i].insn
        else {
            return false;
        };
        let Some(slot) = self
            .slots
            .iter()
            .find(|s| s.off == off && s.size == size)
            .copied()
        else {
            return false;
        };
        let (d, s) = (x(dst), x(slot.reg));
        match size {
            MemSize::DW if d == s => {}
            MemSize::DW => asm!(self.asm; mov Rq(d), Rq(s)),
            MemSize::W => asm!(self.asm; mov Rd(d), Rd(s)),
            MemSize::H => asm!(self.asm; movzx Rd(d), Rw(s)),
            MemSize::B => asm!(self.asm; movzx Rd(d), Rb(s)),
        }
        true
    }

    /// Updates what the stack slots hold after instruction `i` (and the block it starts).
    pub(super) fn track_slots(&mut self, i: usize, starts_block: bool) {
        if starts_block {
            self.slots.clear();
        }
        let insn = self.plan.insns[i].insn;
        match insn {
            Insn::Call(_) | Insn::Exit | Insn::Ja { .. } | Insn::Jmp { .. } => {
                return self.slots.clear()
            }
            Insn::St {
                dst: Reg::R10,
                off,
                size,
                ..
            }
            | Insn::Atomic {
                dst: Reg::R10,
                off,
                size,
                ..
            } => self.slots.retain(|s| !s.overlaps(off, size)),
            _ => {}
        }
        let written = usage::written(&insn);
        self.slots.retain(|s| written & 1 << s.reg.idx() == 0);
        if let Insn::Stx {
            dst: Reg::R10,
            src,
            off,
            size,
        } = insn
        {
            self.slots.retain(|s| !s.overlaps(off, size));
            self.slots.push(Slot {
                off,
                size,
                reg: src,
            });
        }
    }
}
