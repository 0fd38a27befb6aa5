//! Store-to-load forwarding on the stack: a load from the stack slot a store of the same
//! block just wrote reads the stored register instead (compilers spill and reload
//! registers there). `dead_stores` then drops the stores only such loads read.
//!
//! Only in unchecked code, and only when every stack access of the program is r10-relative
//! at a constant offset (no copy of r10, no helper: [`Program::stack_need`] below the frame
//! size), so that no other instruction can write the slot in between. Knowledge is local to
//! a block (cleared at jump targets, jumps and calls) and dropped when the stored register
//! changes.
//!
//! [`Program::stack_need`]: bpfkit_vm::Program::stack_need

use crate::combine::Combine;
use crate::compile::Plan;
use crate::usage;
use bpfkit_isa::{Insn, MemSize, Reg};

/// A stack slot `[r10 + off, +size)` known to hold the low bytes of register `reg`.
#[derive(Clone, Copy)]
struct Slot {
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

/// Per instruction of `plan` (final: after coalescing): the register an unsigned stack
/// load reads instead of memory. Loads inside a combined load are not forwarded (the
/// emitter reads them as one 16-bit load), nor is anything in checked code.
pub(crate) fn forwarded(plan: &Plan) -> Vec<Option<Reg>> {
    let mut out = vec![None; plan.insns.len()];
    let mut slots: Vec<Slot> = Vec::new();
    for (i, forwarded) in out.iter_mut().enumerate() {
        if plan.block_at(i).is_some() {
            slots.clear();
        }
        if plan.elided[i] {
            // Not emitted: a copy coalescing made unnecessary writes nothing.
            continue;
        }
        let insn = plan.insns[i].insn;
        if let Insn::Ldx {
            size,
            signed: false,
            src: Reg::R10,
            off,
            ..
        } = insn
        {
            if plan.combines[i] == Combine::None {
                *forwarded = slots
                    .iter()
                    .find(|s| s.off == off && s.size == size)
                    .map(|s| s.reg);
            }
        }
        track(&mut slots, &insn);
    }
    out
}

/// What the stack slots hold after `insn`.
fn track(slots: &mut Vec<Slot>, insn: &Insn) {
    match *insn {
        Insn::Call(_) | Insn::Exit | Insn::Ja { .. } | Insn::Jmp { .. } => return slots.clear(),
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
        } => slots.retain(|s| !s.overlaps(off, size)),
        _ => {}
    }
    let written = usage::written(insn);
    slots.retain(|s| written & usage::bit(s.reg) == 0);
    if let Insn::Stx {
        dst: Reg::R10,
        src,
        off,
        size,
    } = *insn
    {
        slots.retain(|s| !s.overlaps(off, size));
        slots.push(Slot {
            off,
            size,
            reg: src,
        });
    }
}
