//! Add chains regrouped: `acc += t; acc += s1; ...; acc += sk` becomes
//! `t += s1; ...; t += sk; acc += t` where nothing reads `t` after the chain (unchecked
//! code, by register liveness).
//!
//! Why: in a loop, `acc` is usually carried from one iteration to the next, and each add
//! into it waits for the one before. Regrouped, the terms are summed off that path and the
//! carried value waits for one add per iteration instead of k + 1. The instruction count is
//! the same and the result exact (additions and subtractions modulo 2^64, or 2^32 for a
//! chain of 32-bit operations, which zero-extend the same low bits). The last operation
//! yields the same `acc`, so the zero flag a following `if acc == 0` may reuse is the same.

use crate::usage::{self, RegSet};
use bpfkit_isa::{AluOp, Insn, Operand, Reg, Width};

/// Regroups every chain in `insns` where `block_start(j)` is false inside the chain (no
/// jump lands between its operations) and `live_out[j]` gives the registers read after
/// instruction `j`. Returns whether it changed anything (liveness must then be redone).
pub(crate) fn reassociate(
    insns: &mut [Insn],
    block_start: &dyn Fn(usize) -> bool,
    live_out: &[RegSet],
) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < insns.len() {
        match chain_at(insns, i, block_start) {
            Some((width, acc, t, last)) if live_out[last] & usage::bit(t) == 0 => {
                // Shift the terms onto `t`, then add `t` into `acc` last.
                for j in i..last {
                    // (`chain_at` checked that each is an ALU operation.)
                    if let Insn::Alu { op, src, .. } = insns[j + 1] {
                        insns[j] = Insn::Alu {
                            width,
                            op,
                            dst: t,
                            src,
                        };
                    }
                }
                insns[last] = Insn::Alu {
                    width,
                    op: AluOp::Add,
                    dst: acc,
                    src: Operand::Reg(t),
                };
                changed = true;
                i = last + 1;
            }
            _ => i += 1,
        }
    }
    changed
}

/// The chain starting at `i`, if one does: its width, accumulator, first term `t` and the
/// index of its last operation. The first operation adds register `t` (not `acc`, not r10:
/// it will be written); the others add or subtract an immediate or a register other than
/// `acc` and `t`, at the same width, into `acc`.
fn chain_at(
    insns: &[Insn],
    i: usize,
    block_start: &dyn Fn(usize) -> bool,
) -> Option<(Width, Reg, Reg, usize)> {
    let Insn::Alu {
        width,
        op: AluOp::Add,
        dst: acc,
        src: Operand::Reg(t),
    } = insns[i]
    else {
        return None;
    };
    if t == acc || t == Reg::R10 {
        return None;
    }
    let continues = |insn: &Insn| match *insn {
        Insn::Alu {
            width: w,
            op: AluOp::Add | AluOp::Sub,
            dst,
            src,
        } => {
            w == width && dst == acc && usage::operand(src) & (usage::bit(acc) | usage::bit(t)) == 0
        }
        _ => false,
    };
    let len = insns[i + 1..]
        .iter()
        .enumerate()
        .take_while(|&(k, insn)| !block_start(i + 1 + k) && continues(insn))
        .count();
    (len > 0).then_some((width, acc, t, i + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        }
    }

    fn add(dst: Reg, src: Reg) -> Insn {
        alu(Width::W64, AluOp::Add, dst, Operand::Reg(src))
    }

    fn run(insns: &mut [Insn], starts: &[usize], live_out: RegSet) -> bool {
        let live = vec![live_out; insns.len()];
        reassociate(insns, &|j| starts.contains(&j), &live)
    }

    #[test]
    fn a_chain_sums_its_terms_into_the_dead_first_term() {
        let sub5 = alu(Width::W64, AluOp::Sub, Reg::R0, Operand::Imm(5));
        let mut insns = [add(Reg::R0, Reg::R4), add(Reg::R0, Reg::R5), sub5];
        assert!(run(&mut insns, &[], usage::bit(Reg::R0)));
        let sub5 = alu(Width::W64, AluOp::Sub, Reg::R4, Operand::Imm(5));
        assert_eq!(insns, [add(Reg::R4, Reg::R5), sub5, add(Reg::R0, Reg::R4)]);
    }

    #[test]
    fn chains_stay_when_the_rewrite_could_differ() {
        let live = usage::bit(Reg::R0);
        let cases: [(Vec<Insn>, &[usize], RegSet); 6] = [
            // The first term is read afterwards.
            (
                vec![add(Reg::R0, Reg::R4), add(Reg::R0, Reg::R5)],
                &[],
                live | usage::bit(Reg::R4),
            ),
            // A jump lands on the second operation.
            (
                vec![add(Reg::R0, Reg::R4), add(Reg::R0, Reg::R5)],
                &[1],
                live,
            ),
            // A later term is the first one, or the accumulator.
            (
                vec![add(Reg::R0, Reg::R4), add(Reg::R0, Reg::R4)],
                &[],
                live,
            ),
            (
                vec![add(Reg::R0, Reg::R4), add(Reg::R0, Reg::R0)],
                &[],
                live,
            ),
            // Widths differ.
            (
                vec![
                    add(Reg::R0, Reg::R4),
                    alu(Width::W32, AluOp::Add, Reg::R0, Operand::Reg(Reg::R5)),
                ],
                &[],
                live,
            ),
            // r10 is never written.
            (
                vec![add(Reg::R0, Reg::R10), add(Reg::R0, Reg::R5)],
                &[],
                live,
            ),
        ];
        for (mut insns, starts, live_out) in cases {
            let before = insns.clone();
            assert!(!run(&mut insns, starts, live_out), "{before:?}");
            assert_eq!(insns, before);
        }
    }

    #[test]
    fn a_chain_ends_at_the_first_other_operation() {
        let mov = alu(Width::W64, AluOp::Mov, Reg::R0, Operand::Imm(1));
        let mut insns = [
            add(Reg::R0, Reg::R4),
            add(Reg::R0, Reg::R5),
            mov,
            add(Reg::R0, Reg::R6),
        ];
        assert!(run(&mut insns, &[], usage::bit(Reg::R0)));
        assert_eq!(
            insns,
            [
                add(Reg::R4, Reg::R5),
                add(Reg::R0, Reg::R4),
                mov,
                add(Reg::R0, Reg::R6)
            ]
        );
    }
}
