//! Offset induction variables in loops emitted twice (unchecked code). A loop such as
//! `for (i = 0; i + 1 < n; i += 2)` computes `d = i + k` in every iteration only to test it:
//! a `mov`/`add` pair (one x86 `lea`) beside the step of `i`. Where every other read of `i`
//! in the loop can take `- k` (an address offset, the constant of a `mov`/`add` pair), the
//! register of `i` is kept `k` ahead instead: the loop's entry adds `k`, the reads of `d`
//! after its computation read that register, and `d` is not computed at all. The loop's
//! exit puts back what code after the loop reads (`d`, and `i` less `k`).
//!
//! On this project's AMD Zen 3 machine that is more than one instruction less: with the
//! `lea`, the same checksum loop bytes ran at 1 to 1.75 cycles per word depending on the
//! unrelated code before them; without it, far fewer layouts were slow (BENCHMARKS.md).

use crate::coalesce::{names_r0_unsaid, rename};
use crate::fold::{reads, Fold};
use crate::usage::{bit, written, RegSet};
use bpfkit_isa::{AluOp, Insn, Operand, Reg, Width};

/// One induction variable kept ahead of its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rebased {
    /// The `d = i` of the pair `d = i; d += k` (the add follows it): neither is emitted.
    pub def: usize,
    /// The induction variable `i`, whose register holds `i + k` in the loop.
    pub iv: Reg,
    /// `d`, read as `iv` after its computation.
    pub offset: Reg,
    /// `k`.
    pub k: i32,
}

/// Rewrites the single-block loop `first..=last` (its jump back at `last`, entered only by
/// falling into it) for each induction variable it can keep ahead (see the module's
/// documentation); `fixed(i)`: instruction `i` is part of a fold or a combined load;
/// `leave`: registers not to use as either register of the pair. The pairs found are left
/// in place, for the caller not to emit.
pub(crate) fn rebase_offsets(
    insns: &mut [Insn],
    folds: &mut [Fold],
    first: usize,
    last: usize,
    fixed: &dyn Fn(usize) -> bool,
    leave: RegSet,
) -> Vec<Rebased> {
    let mut done: Vec<Rebased> = Vec::new();
    for p in first..last {
        let Some((r, edits)) = candidate(insns, folds, first, last, p, fixed) else {
            continue;
        };
        let taken = |x: Reg| done.iter().any(|d| d.iv == x || d.offset == x);
        if (bit(r.iv) | bit(r.offset)) & leave != 0 || taken(r.iv) || taken(r.offset) {
            continue;
        }
        for edit in edits {
            match edit {
                Edit::Insn(i, insn) => insns[i] = insn,
                Edit::Disp(i, new) => {
                    if let Fold::Use { disp, .. } = &mut folds[i] {
                        *disp = new;
                    }
                }
            }
        }
        for insn in &mut insns[p + 2..=last] {
            *insn = rename(*insn, r.offset, r.iv);
        }
        done.push(r);
    }
    done
}

/// One change that keeping `iv` ahead makes to the loop.
enum Edit {
    /// Instruction `i` becomes this.
    Insn(usize, Insn),
    /// The fold of access `i` gets this displacement.
    Disp(usize, i32),
}

/// The changes that keep `iv` `k` ahead in the loop `first..=last` (outside the pair at `p`,
/// `p + 1`); `None` if a read of `iv` cannot take `- k`.
fn edits(
    insns: &[Insn],
    folds: &[Fold],
    (first, last, p): (usize, usize, usize),
    iv: Reg,
    k: i64,
    fixed: &dyn Fn(usize) -> bool,
) -> Option<Vec<Edit>> {
    let mut out = Vec::new();
    for i in (first..=last).filter(|&i| i != p && i != p + 1) {
        if let Fold::Use { base, index, disp } = folds[i] {
            let named = (base == iv) as i64 + (index == Some(iv)) as i64;
            if named != 0 {
                out.push(Edit::Disp(i, i32::try_from(disp as i64 - named * k).ok()?));
            }
        }
        if folded(folds, i) || self_copy(&insns[i]) || reads(&insns[i]) & bit(iv) == 0 {
            continue;
        }
        // Of the instructions other transformations emit their own way, only a combined
        // load's byte loads read `iv` here (as their base: both move alike).
        if fixed(i) && !matches!(insns[i], Insn::Ldx { .. }) {
            return None;
        }
        let (insn, next) = shifted(insns, i, iv, k)?;
        out.push(Edit::Insn(i, insn));
        if let Some(next) = next {
            out.push(Edit::Insn(i + 1, next));
        }
    }
    Some(out)
}

/// Whether instruction `i` is one of a `mov`/`add` pair folded into the addresses of the
/// accesses after it (whose folds carry its registers).
fn folded(folds: &[Fold], i: usize) -> bool {
    folds[i] == Fold::Skip || i > 0 && folds[i - 1] == Fold::Skip
}

/// `r = r` (64-bit): no change.
fn self_copy(insn: &Insn) -> bool {
    matches!(*insn, Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Operand::Reg(src) } if dst == src)
}

/// Instruction `i`, which reads `iv`, rewritten for `iv` held `k` ahead, with the
/// instruction after it if that changes too; `None` if it cannot be.
fn shifted(insns: &[Insn], i: usize, iv: Reg, k: i64) -> Option<(Insn, Option<Insn>)> {
    let off_less = |off: i16| i16::try_from(off as i64 - k).ok();
    let mut insn = insns[i];
    match &mut insn {
        // The step keeps the distance.
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst,
            src: Operand::Imm(_),
        } if *dst == iv => {}
        Insn::Ldx { src, dst, off, .. } if *src == iv && *dst != iv => *off = off_less(*off)?,
        Insn::St { dst, off, .. } if *dst == iv => *off = off_less(*off)?,
        Insn::Stx { dst, src, off, .. } if *dst == iv && *src != iv => *off = off_less(*off)?,
        // `x = iv; x += c`: the constant takes the distance.
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: x,
            src: Operand::Reg(_),
        } if *x != iv => {
            let Some(&Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst,
                src: Operand::Imm(c),
            }) = insns.get(i + 1)
            else {
                return None;
            };
            if dst != *x {
                return None;
            }
            let c = i32::try_from(c as i64 - k).ok()?;
            let add = Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst,
                src: Operand::Imm(c),
            };
            return Some((insn, Some(add)));
        }
        _ => return None,
    }
    Some((insn, None))
}

/// The pair at `p` if it can go, with the changes keeping `iv` ahead: `d = iv; d += k` with
/// `iv` written once in the loop, by a constant step before `p`; `d` dead at the loop head,
/// read after the pair and not written there; every read of `iv` able to take `- k`.
fn candidate(
    insns: &[Insn],
    folds: &[Fold],
    first: usize,
    last: usize,
    p: usize,
    fixed: &dyn Fn(usize) -> bool,
) -> Option<(Rebased, Vec<Edit>)> {
    let (
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: d,
            src: Operand::Reg(iv),
        },
        Some(&Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: d2,
            src: Operand::Imm(k),
        }),
    ) = (insns[p], insns.get(p + 1))
    else {
        return None;
    };
    if d == iv || d2 != d || d == Reg::R10 || iv == Reg::R10 || p + 1 >= last || k == 0 {
        return None;
    }
    if fixed(p) || fixed(p + 1) {
        return None;
    }
    // (Copies coalescing made unnecessary are left as `r = r`: no write.)
    let writes = |r: Reg| {
        (first..=last).filter(move |&i| written(&insns[i]) & bit(r) != 0 && !self_copy(&insns[i]))
    };
    // `iv` changes once, by a constant step before the pair.
    let mut iv_writes = writes(iv);
    let step = iv_writes.next()?;
    if step > p || iv_writes.next().is_some() {
        return None;
    }
    if !matches!(
        insns[step],
        Insn::Alu { width: Width::W64, op: AluOp::Add, dst, src: Operand::Imm(_) } if dst == iv
    ) {
        return None;
    }
    // `d` is dead at the head (its first use writes it) and keeps its value after the pair;
    // its reads there are renamed, which an instruction another transformation emits its
    // own way would not see.
    let touches = |i: usize| (reads(&insns[i]) | written(&insns[i])) & bit(d) != 0;
    let f = (first..=last).find(|&i| touches(i))?;
    if reads(&insns[f]) & bit(d) != 0 || writes(d).any(|i| i > p + 1) {
        return None;
    }
    let d_reads: Vec<usize> = (p + 2..=last)
        .filter(|&i| reads(&insns[i]) & bit(d) != 0)
        .collect();
    if d_reads.is_empty() || d_reads.iter().any(|&i| fixed(i)) {
        return None;
    }
    if (first..=last).any(|i| names_r0_unsaid(&insns[i])) {
        return None;
    }
    let edits = edits(insns, folds, (first, last, p), iv, k as i64, fixed)?;
    Some((
        Rebased {
            def: p,
            iv,
            offset: d,
            k,
        },
        edits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coalesce::tests::asm;

    /// Rebases the loop that is the whole of `text`.
    fn run(text: &str) -> (Vec<Insn>, Vec<Rebased>) {
        let mut insns = asm(text);
        let mut folds = vec![Fold::None; insns.len()];
        let last = insns.len() - 1;
        let done = rebase_offsets(&mut insns, &mut folds, 0, last, &|_| false, 0);
        (insns, done)
    }

    #[test]
    fn the_checksum_bound_reads_the_induction_variable() {
        // r3 steps by 2; r6 = r3 + 1 is only compared: r3 is kept 1 ahead.
        let (insns, done) = run("ldxh %r0, [%r3+8]\nadd %r5, %r0\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -6");
        assert_eq!(
            done,
            [Rebased {
                def: 3,
                iv: Reg::R3,
                offset: Reg::R6,
                k: 1
            }]
        );
        assert_eq!(
            insns,
            asm("ldxh %r0, [%r3+7]\nadd %r5, %r0\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r3, %r2, -6")
        );
    }

    #[test]
    fn mov_add_pairs_and_stores_take_the_distance() {
        let (insns, done) = run(
            "mov %r7, %r3\nadd %r7, 16\nstxdw [%r3+0], %r7\nadd %r3, 8\nmov %r6, %r3\nadd %r6, 8\njlt %r6, %r2, -7",
        );
        assert_eq!(done.len(), 1);
        assert_eq!(
            insns,
            asm("mov %r7, %r3\nadd %r7, 8\nstxdw [%r3-8], %r7\nadd %r3, 8\nmov %r6, %r3\nadd %r6, 8\njlt %r3, %r2, -7")
        );
    }

    #[test]
    fn near_misses_are_left_alone() {
        for text in [
            // The induction variable is compared itself: no offset fits a compare.
            "add %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r3, %r2, -4",
            // Its value is stored.
            "stxdw [%r1+0], %r3\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -5",
            // It is used in arithmetic.
            "add %r0, %r3\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -5",
            // `d` is read at the head (it carries a value into the next iteration).
            "add %r0, %r6\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -5",
            // `d` is written after the pair.
            "add %r3, 2\nmov %r6, %r3\nadd %r6, 1\nlsh %r6, 1\njlt %r6, %r2, -5",
            // The step is not a constant.
            "add %r3, %r4\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -4",
            // Two steps.
            "add %r3, 1\nadd %r3, 1\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -5",
            // The step comes after the pair.
            "mov %r6, %r3\nadd %r6, 1\nadd %r3, 2\njlt %r6, %r2, -4",
            // A 32-bit pair truncates.
            "add %r3, 2\nmov32 %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -4",
            // The offset does not fit the access's 16 bits.
            "ldxh %r0, [%r3-32768]\nadd %r3, 2\nmov %r6, %r3\nadd %r6, 1\njlt %r6, %r2, -5",
        ] {
            let (insns, done) = run(text);
            assert_eq!(done, [], "{text}");
            assert_eq!(insns, asm(text), "{text}");
        }
    }
}
