//! Static register liveness: which registers may be read before being written, per slot.
//!
//! State pruning ignores dead registers: a value that is never read again cannot make a
//! path unsafe. Stack bytes are compared in full (no stack liveness yet).

use crate::cfg::Cfg;
use bpfkit_isa::{AluOp, AtomicOp, CallTarget, Insn, Operand};

/// Bit set of registers r0..r10.
pub type RegSet = u16;

const ARGS: RegSet = 0b111110; // r1-r5
const CALLER_SAVED: RegSet = 0b111111; // r0-r5

fn bit(r: bpfkit_isa::Reg) -> RegSet {
    1 << r.num()
}

/// (used, defined) registers of one instruction; `helper_args` gives a helper's argument count.
fn use_def(insn: &Insn, helper_args: &dyn Fn(i32) -> usize) -> (RegSet, RegSet) {
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            let d = if matches!(op, AluOp::Mov | AluOp::MovSx(_)) {
                0
            } else {
                bit(dst)
            };
            (s | d, bit(dst))
        }
        Insn::End { dst, .. } => (bit(dst), bit(dst)),
        Insn::Ja { .. } => (0, 0),
        Insn::Jmp { dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            (bit(dst) | s, 0)
        }
        Insn::Call(CallTarget::Helper(id)) => {
            let n = helper_args(id).min(5);
            (((1u16 << n) - 1) << 1, CALLER_SAVED)
        }
        Insn::Call(CallTarget::Reg(r)) => (ARGS | bit(r), CALLER_SAVED),
        Insn::Call(_) => (ARGS, CALLER_SAVED),
        Insn::Exit => (1, 0),
        Insn::LdImm64 { dst, .. } => (0, bit(dst)),
        Insn::Ldx { dst, src, .. } => (bit(src), bit(dst)),
        Insn::St { dst, .. } => (bit(dst), 0),
        Insn::Stx { dst, src, .. } => (bit(dst) | bit(src), 0),
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::Cmpxchg => (bit(dst) | bit(src) | 1, 1),
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => (bit(dst) | bit(src), bit(src)),
            _ => (bit(dst) | bit(src), 0),
        },
        Insn::LdAbs { .. } => (1 << 6, CALLER_SAVED),
        Insn::LdInd { src, .. } => ((1 << 6) | bit(src), CALLER_SAVED),
    }
}

/// Registers live before each slot (r10 always counts as live).
pub fn live_in(cfg: &Cfg, helper_args: &dyn Fn(i32) -> usize) -> Vec<RegSet> {
    let n = cfg.slots.len();
    let mut live = vec![0 as RegSet; n];
    let ud: Vec<(RegSet, RegSet)> = cfg
        .slots
        .iter()
        .map(|s| {
            s.as_ref()
                .map(|i| use_def(i, helper_args))
                .unwrap_or((0, 0))
        })
        .collect();
    // Iterate to a fixpoint, walking backwards (fast for mostly-forward code).
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let Some(insn) = &cfg.slots[pc] else { continue };
            let mut out: RegSet = 0;
            let mut add = |t: usize| {
                if t < n {
                    out |= live[t];
                }
            };
            match *insn {
                Insn::Exit => {}
                Insn::Ja { off, .. } => add((pc as i64 + 1 + off as i64) as usize),
                Insn::Jmp { off, .. } => {
                    add(pc + 1);
                    add((pc as i64 + 1 + off as i64) as usize);
                }
                Insn::LdImm64 { .. } => add(pc + 2),
                _ => add(pc + 1),
            }
            let (u, d) = ud[pc];
            let new = u | (out & !d) | (1 << 10);
            if new != live[pc] {
                live[pc] = new;
                changed = true;
            }
        }
    }
    live
}

/// Stack slots of one frame as a bit set: bit `i` is the 8 bytes at `fp-8*(i+1)`.
pub type SlotSet = u64;

/// Which values may matter *precisely* before each slot (an over-approximation of the
/// kernel's precision tracking): registers and r10-relative stack slots whose value may
/// flow into a memory address, pointer arithmetic, a helper or function argument, a return
/// value, or the condition of a jump that was found *decided* (one outcome impossible) on
/// some path. Other scalars can be pruned as "any number": every path they could steer
/// was explored both ways.
#[derive(Clone, Debug)]
pub struct Precision {
    /// Registers whose exact scalar value may matter, before each slot.
    pub regs: Vec<RegSet>,
    /// Stack slots of the current frame whose value may matter, before each slot.
    pub slots: Vec<SlotSet>,
}

/// Slots touched by an access of `size` bytes at `fp + off` (empty when out of the frame).
fn slots_of(off: i64, size: usize) -> SlotSet {
    let mut set = 0;
    for a in off..off + size as i64 {
        if (-512..0).contains(&a) {
            set |= 1u64 << ((-a - 1) / 8);
        }
    }
    set
}

/// Backward transfer of one instruction: (precise regs, precise slots) after it to before it.
fn precise_before(
    insn: &Insn,
    helper_args: &dyn Fn(i32) -> usize,
    takes_callback: &dyn Fn(i32) -> bool,
    decided: bool,
    (r, s): (RegSet, SlotSet),
) -> (RegSet, SlotSet) {
    let has = |reg: bpfkit_isa::Reg| r & bit(reg) != 0;
    let reg_of = |o: Operand| match o {
        Operand::Reg(x) => bit(x),
        Operand::Imm(_) => 0,
    };
    match *insn {
        Insn::Alu { op, dst, src, .. } => match op {
            AluOp::Mov | AluOp::MovSx(_) => {
                let without = r & !bit(dst);
                if has(dst) {
                    (without | reg_of(src), s)
                } else {
                    (without, s)
                }
            }
            // Either side may be a pointer and the other its offset: both matter.
            AluOp::Add | AluOp::Sub if matches!(src, Operand::Reg(_)) => {
                (r | bit(dst) | reg_of(src), s)
            }
            _ => {
                if has(dst) {
                    (r | reg_of(src), s)
                } else {
                    (r, s)
                }
            }
        },
        Insn::End { .. } => (r, s),
        Insn::Ja { .. } => (r, s),
        Insn::Jmp { dst, src, .. } if decided => (r | bit(dst) | reg_of(src), s),
        Insn::Jmp { .. } => (r, s),
        Insn::Call(CallTarget::Helper(id)) => {
            let n = helper_args(id).min(5);
            let args = ((1u16 << n) - 1) << 1;
            if takes_callback(id) {
                // The callback runs again from this instruction with the same arguments,
                // and may read any of our slots through its context pointer.
                (r | args, SlotSet::MAX)
            } else {
                ((r & !CALLER_SAVED) | args, s)
            }
        }
        // A callee may read any of our slots through a pointer argument.
        Insn::Call(_) => ((r & !CALLER_SAVED) | ARGS, SlotSet::MAX),
        Insn::Exit => (1, 0),
        Insn::LdImm64 { dst, .. } => (r & !bit(dst), s),
        Insn::Ldx {
            dst,
            src,
            off,
            size,
            ..
        } => {
            let r2 = (r & !bit(dst)) | bit(src);
            if !has(dst) {
                (r2, s)
            } else if src == bpfkit_isa::Reg::R10 {
                (r2, s | slots_of(off as i64, size.bytes()))
            } else {
                // Possibly a stack pointer we cannot follow statically: every slot may matter.
                (r2, SlotSet::MAX)
            }
        }
        Insn::St { dst, off, size, .. } => {
            if dst == bpfkit_isa::Reg::R10 && size.bytes() == 8 {
                (r | bit(dst), s & !slots_of(off as i64, 8))
            } else {
                (r | bit(dst), s)
            }
        }
        Insn::Stx {
            dst,
            src,
            off,
            size,
            ..
        } => {
            let base = r | bit(dst);
            if dst == bpfkit_isa::Reg::R10 {
                let touched = slots_of(off as i64, size.bytes());
                let value = if s & touched != 0 { bit(src) } else { 0 };
                let s2 = if size.bytes() == 8 { s & !touched } else { s };
                (base | value, s2)
            } else if s != 0 {
                (base | bit(src), s)
            } else {
                (base, s)
            }
        }
        Insn::Atomic { dst, src, .. } => (r | bit(dst) | bit(src) | 1, s),
        Insn::LdAbs { .. } => ((r & !CALLER_SAVED) | (1 << 6), s),
        Insn::LdInd { src, .. } => ((r & !CALLER_SAVED) | (1 << 6) | bit(src), s),
    }
}

/// Computes [`Precision`] for every slot; `decided(pc)` tells whether the jump at `pc`
/// had an impossible outcome on some explored path, `takes_callback(id)` whether helper
/// `id` calls back into the program.
pub fn precision(
    cfg: &Cfg,
    helper_args: &dyn Fn(i32) -> usize,
    takes_callback: &dyn Fn(i32) -> bool,
    decided: &dyn Fn(usize) -> bool,
) -> Precision {
    let n = cfg.slots.len();
    let mut regs = vec![0 as RegSet; n];
    let mut slots = vec![0 as SlotSet; n];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let Some(insn) = &cfg.slots[pc] else { continue };
            let (mut r, mut s) = (0 as RegSet, 0 as SlotSet);
            let mut add = |t: usize| {
                if t < n {
                    r |= regs[t];
                    s |= slots[t];
                }
            };
            match *insn {
                Insn::Exit => {}
                Insn::Ja { off, .. } => add((pc as i64 + 1 + off as i64) as usize),
                Insn::Jmp { off, .. } => {
                    add(pc + 1);
                    add((pc as i64 + 1 + off as i64) as usize);
                }
                Insn::LdImm64 { .. } => add(pc + 2),
                _ => add(pc + 1),
            }
            let (r, s) = precise_before(insn, helper_args, takes_callback, decided(pc), (r, s));
            if r != regs[pc] || s != slots[pc] {
                regs[pc] = r;
                slots[pc] = s;
                changed = true;
            }
        }
    }
    Precision { regs, slots }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_follows_data_into_addresses() {
        // r6 becomes a stack offset; r7 is only stored; the loaded byte is never used.
        let prog = bpfkit_asm::assemble(
            "r6 = *(u32 *)(r1 + 0)
             r7 = *(u32 *)(r1 + 4)
             *(u64 *)(r10 - 16) = r7
             r3 = r6
             r3 &= 7
             r2 = r10
             r2 += -8
             r2 += r3
             r4 = *(u8 *)(r2 + 0)
             r0 = 0
             exit",
        )
        .unwrap();
        let cfg = crate::cfg::build(&prog).unwrap();
        let p = precision(&cfg, &|_| 5, &|_| false, &|_| true);
        // Before `r3 = r6`, r6 matters (it becomes an offset); r7 never does.
        assert_ne!(p.regs[3] & (1 << 6), 0);
        assert_eq!(p.regs[3] & (1 << 7), 0);
        // The slot holding r7 at fp-16 (slot 1) is not precise either.
        assert_eq!(p.slots[3] & 0b10, 0);
    }
    use bpfkit_isa::{JmpCond, Reg, Width};

    #[test]
    fn dead_after_overwrite() {
        let mov = |dst, imm| Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        };
        let prog = [
            mov(Reg::R1, 1),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R1,
                src: Operand::Imm(0),
                off: 1,
            },
            mov(Reg::R2, 0),
            mov(Reg::R0, 0),
            Insn::Exit,
        ];
        let cfg = crate::cfg::build(&prog).unwrap();
        let live = live_in(&cfg, &|_| 5);
        assert_eq!(live[1] & 0b111, 0b010); // r1 read by the jump; r0 and r2 dead
        assert_eq!(live[4] & 0b1, 1); // exit reads r0
        assert_eq!(live[3] & 0b1, 0);
    }
}
