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

#[cfg(test)]
mod tests {
    use super::*;
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
