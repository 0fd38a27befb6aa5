//! Accumulator coalescing in loops emitted twice (unchecked code). Compilers end such loops
//! with `t op= acc; ...; acc = t`: the new value of the loop-carried register `acc` is
//! computed in a temporary `t` and copied back. Where `t` dies at the loop head (its first
//! use there writes it) and `op` is commutative, the operation becomes `acc op= t`, later
//! reads of `t` in the loop read `acc`, and the copy is not emitted: one instruction less
//! per iteration. If code after the loop reads `t`, the loop's exit sets it once
//! (`t = acc`). The checksum's and the word copy's loops have this shape.
//!
//! Induction copies go the same way ([`coalesce_induction`]): `iv += c; ...; lag = iv`,
//! where `lag` equals `iv` at the loop head, keeps `lag` a step behind `iv`. Its reads
//! become reads of `iv` (less `c` after the step, where an address offset or the constant
//! of a `mov`/`add` pair absorbs it) and the copy goes.

use crate::fold::{reads, Fold};
use crate::usage::{bit, written};
use bpfkit_isa::{AluOp, AtomicOp, Insn, Operand, Reg, Width};

/// One copy back made unnecessary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Coalesced {
    /// The index of `acc = t`, now `acc = acc`: not emitted.
    pub copy: usize,
    /// The index of `t op= acc`, now `acc op= t`.
    pub op: usize,
    /// The temporary.
    pub temp: Reg,
    /// The loop-carried register.
    pub acc: Reg,
}

/// Rewrites the single-block loop `first..=last` (its jump back at `last`) of `insns` for
/// every copy back it can remove; `fixed(i)`: instruction `i` is part of a fold or a
/// combined load (left alone). Returns what it did, in order.
pub(crate) fn coalesce_accumulators(
    insns: &mut [Insn],
    first: usize,
    last: usize,
    fixed: &dyn Fn(usize) -> bool,
) -> Vec<Coalesced> {
    let mut done: Vec<Coalesced> = Vec::new();
    while let Some(c) = (first..last).find_map(|p| {
        candidate(insns, first, last, p, fixed).filter(|c| done.iter().all(|d| d.temp != c.temp))
    }) {
        let Insn::Alu { width, op, .. } = insns[c.op] else {
            unreachable!("candidate checked the operation");
        };
        insns[c.op] = Insn::Alu {
            width,
            op,
            dst: c.acc,
            src: Operand::Reg(c.temp),
        };
        for insn in &mut insns[c.op + 1..=last] {
            *insn = rename(*insn, c.temp, c.acc);
        }
        insns[c.copy] = Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: c.acc,
            src: Operand::Reg(c.acc),
        };
        done.push(c);
    }
    done
}

/// Rewrites the single-block loop `first..=last` for its induction copies `lag = iv` (see
/// the module's documentation); `equal_on_entry(lag, iv)`: the two registers hold the same
/// value whenever control enters the loop from outside. Folds of the loop are adjusted with
/// the instructions. Returns what it did (`temp`: the lag, `acc`: the induction variable;
/// `op`: the step).
pub(crate) fn coalesce_induction(
    insns: &mut [Insn],
    folds: &mut [Fold],
    first: usize,
    last: usize,
    equal_on_entry: &dyn Fn(Reg, Reg) -> bool,
) -> Vec<Coalesced> {
    let mut done = Vec::new();
    for p in first..last {
        let Some((c, step)) = induction(insns, folds, first, last, p) else {
            continue;
        };
        if !equal_on_entry(c.temp, c.acc) {
            continue;
        }
        let (lag, iv) = (c.temp, c.acc);
        let before: Vec<Insn> = insns.to_vec();
        for i in first..=last {
            if i == p || folds[i] == Fold::Skip {
                continue;
            }
            // After the step, `lag` is `iv - step`.
            let behind = if i > c.op && i < p { step } else { 0 };
            insns[i] = match insns[i] {
                Insn::Alu {
                    op: AluOp::Add,
                    src: Operand::Imm(k),
                    width,
                    dst,
                } if behind != 0 && before[i - 1] == mov(dst, lag) => Insn::Alu {
                    width,
                    op: AluOp::Add,
                    dst,
                    src: Operand::Imm(k - behind as i32),
                },
                insn => shift_base(rename(insn, lag, iv), iv, behind, reads(&insn) & bit(lag)),
            };
            if let Fold::Use { base, index, disp } = folds[i] {
                let named = (base == lag) as i64 + (index == Some(lag)) as i64;
                folds[i] = Fold::Use {
                    base: if base == lag { iv } else { base },
                    index: index.map(|r| if r == lag { iv } else { r }),
                    disp: disp - (named * behind) as i32,
                };
            }
        }
        insns[p] = mov(iv, iv);
        done.push(c);
    }
    done
}

/// Whether registers `a` and `b` certainly hold the same value after the straight-line code
/// `insns` (entered with both unknown): the same constant, or one copied from the other.
pub(crate) fn equal_after(insns: &[Insn], a: Reg, b: Reg) -> bool {
    let (mut known_a, mut known_b, mut copies) = (None, None, false);
    for insn in insns {
        let w = written(insn);
        if w & (bit(a) | bit(b)) == 0 {
            continue;
        }
        let value = match *insn {
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                src: Operand::Imm(k),
                ..
            } => Some(k as i64 as u64),
            Insn::Alu {
                width: Width::W32,
                op: AluOp::Mov,
                src: Operand::Imm(k),
                ..
            } => Some(k as u32 as u64),
            Insn::LdImm64 {
                kind: bpfkit_isa::LdImm64Kind::Imm,
                imm,
                ..
            } => Some(imm),
            _ => None,
        };
        copies = *insn == mov(a, b) || *insn == mov(b, a);
        if w & bit(a) != 0 {
            known_a = value;
        } else {
            known_b = value;
        }
    }
    copies || known_a.is_some() && known_a == known_b
}

fn mov(dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Reg(src),
    }
}

/// A memory access based on `iv` (renamed from the lag) moved `behind` bytes down.
fn shift_base(mut insn: Insn, iv: Reg, behind: i64, read_lag: u16) -> Insn {
    if behind != 0 && read_lag != 0 {
        if let Insn::Ldx { src: base, off, .. }
        | Insn::St { dst: base, off, .. }
        | Insn::Stx { dst: base, off, .. } = &mut insn
        {
            if *base == iv {
                *off = (*off as i64 - behind) as i16;
            }
        }
    }
    insn
}

/// The induction copy at `p` if every condition but the entry holds: the copy and the step
/// `(lag = iv, iv += step)`.
fn induction(
    insns: &[Insn],
    folds: &[Fold],
    first: usize,
    last: usize,
    p: usize,
) -> Option<(Coalesced, i64)> {
    let (lag, iv) = copy_at(insns, p)?;
    let writes = |r: Reg| (first..=last).filter(move |&i| written(&insns[i]) & bit(r) != 0);
    // `iv` changes once, by a constant step before the copy; `lag` only by the copy.
    let mut iv_writes = writes(iv);
    let a = iv_writes.next()?;
    let Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(step),
    } = insns[a]
    else {
        return None;
    };
    if dst != iv || a > p || iv_writes.next().is_some() || writes(lag).any(|i| i != p) {
        return None;
    }
    let step = step as i64;
    for i in a + 1..p {
        if reads(&insns[i]) & bit(lag) == 0 || folds[i] == Fold::Skip {
            if let Fold::Use { base, index, disp } = folds[i] {
                let named = (base == lag) as i64 + (index == Some(lag)) as i64;
                i32::try_from(disp as i64 - named * step).ok()?;
            }
            continue;
        }
        // Between the step and the copy, `lag` is read only where `- step` fits in: the
        // base of a memory access, or a `mov` whose next instruction adds a constant.
        let fits = |off: i16| i16::try_from(off as i64 - step).is_ok();
        let ok = match insns[i] {
            Insn::Ldx { src, dst, off, .. } => src == lag && dst != lag && fits(off),
            Insn::St { dst, off, .. } => dst == lag && fits(off),
            Insn::Stx { dst, src, off, .. } => dst == lag && src != lag && fits(off),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst,
                src: Operand::Reg(_),
            } => matches!(
                insns.get(i + 1),
                Some(&Insn::Alu { width: Width::W64, op: AluOp::Add, dst: d, src: Operand::Imm(k) })
                    if d == dst && i + 1 < p && i32::try_from(k as i64 - step).is_ok()
            ),
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    let implicit = (first..=last).any(|i| names_r0_unsaid(&insns[i]));
    (!implicit).then_some((
        Coalesced {
            copy: p,
            op: a,
            temp: lag,
            acc: iv,
        },
        step,
    ))
}

/// `(dst, src)` if instruction `p` copies one register into another (64-bit).
fn copy_at(insns: &[Insn], p: usize) -> Option<(Reg, Reg)> {
    match insns[p] {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Reg(src),
        } if dst != src && dst != Reg::R10 && src != Reg::R10 => Some((dst, src)),
        _ => None,
    }
}

/// Registers `insn` reads or writes.
fn touched(insn: &Insn) -> u16 {
    reads(insn) | written(insn)
}

/// The copy at `p` if it can go (see the module's documentation for the conditions).
fn candidate(
    insns: &[Insn],
    first: usize,
    last: usize,
    p: usize,
    fixed: &dyn Fn(usize) -> bool,
) -> Option<Coalesced> {
    let (acc, temp) = copy_at(insns, p)?;
    let (t, a) = (bit(temp), bit(acc));
    // `t` dies at the loop head: its first use in the loop writes it without reading it.
    let f = (first..=last).find(|&i| touched(&insns[i]) & t != 0)?;
    if reads(&insns[f]) & t != 0 || f >= p {
        return None;
    }
    // The last use of `acc` before the copy is `t op= acc`, and nothing before it in the
    // loop writes `acc` (it carries its value from the iteration before).
    let q = (first..p).rev().find(|&i| touched(&insns[i]) & a != 0)?;
    let Insn::Alu {
        op: AluOp::Add | AluOp::Or | AluOp::And | AluOp::Xor | AluOp::Mul,
        dst,
        src: Operand::Reg(src),
        ..
    } = insns[q]
    else {
        return None;
    };
    if dst != temp || src != acc || (first..q).any(|i| written(&insns[i]) & a != 0) {
        return None;
    }
    // After the copy neither register changes, so `t` may be read as `acc` up to the exit.
    if (p + 1..=last).any(|i| written(&insns[i]) & (t | a) != 0) {
        return None;
    }
    // Left alone: instructions another transformation emits its own way, and `cmpxchg`,
    // which names r0 without saying so.
    if (q..=last).any(|i| fixed(i) || names_r0_unsaid(&insns[i])) {
        return None;
    }
    Some(Coalesced {
        copy: p,
        op: q,
        temp,
        acc,
    })
}

/// Whether `insn` is a `cmpxchg`, which reads and writes r0 without naming it: the
/// register renamings here leave such loops alone.
pub(crate) fn names_r0_unsaid(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Atomic {
            op: AtomicOp::Cmpxchg,
            ..
        }
    )
}

/// `insn` with register `from` replaced by `to` wherever it names it.
pub(crate) fn rename(insn: Insn, from: Reg, to: Reg) -> Insn {
    insn.map_regs(|r| if r == from { to } else { r })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The instructions of uBPF-syntax assembly (the loop tests of `rebase` too).
    pub(crate) fn asm(text: &str) -> Vec<Insn> {
        bpfkit_asm::assemble(text).unwrap()
    }

    /// Coalesces the loop that is the whole of `text` (its last instruction jumps back to
    /// its first); returns the rewritten code and what was done.
    fn run(text: &str) -> (Vec<Insn>, Vec<Coalesced>) {
        let mut insns = asm(text);
        let last = insns.len() - 1;
        let done = coalesce_accumulators(&mut insns, 0, last, &|_| false);
        (insns, done)
    }

    #[test]
    fn the_checksum_accumulator_is_summed_in_place() {
        let (insns, done) =
            run("ldxh %r0, [%r1]\nadd %r0, %r5\nadd %r1, 2\nmov %r5, %r0\njlt %r1, %r2, -5");
        assert_eq!(
            done,
            [Coalesced {
                copy: 3,
                op: 1,
                temp: Reg::R0,
                acc: Reg::R5
            }]
        );
        assert_eq!(
            insns,
            asm("ldxh %r0, [%r1]\nadd %r5, %r0\nadd %r1, 2\nmov %r5, %r5\njlt %r1, %r2, -5")
        );
    }

    #[test]
    fn later_uses_of_the_temporary_read_the_accumulator() {
        let (insns, done) =
            run("ldxdw %r0, [%r3]\nxor %r0, %r4\nmul %r0, 3\nstxdw [%r3], %r0\nmov %r4, %r0\njne %r0, 7, -6");
        assert_eq!(done.len(), 1);
        assert_eq!(
            insns,
            asm("ldxdw %r0, [%r3]\nxor %r4, %r0\nmul %r4, 3\nstxdw [%r3], %r4\nmov %r4, %r4\njne %r4, 7, -6")
        );
    }

    #[test]
    fn near_misses_are_left_alone() {
        for text in [
            // The temporary is read at the loop head (it carries a value too).
            "add %r0, %r1\nadd %r0, %r5\nmov %r5, %r0\njlt %r1, %r2, -4",
            // Not commutative.
            "ldxdw %r0, [%r1]\nsub %r0, %r5\nmov %r5, %r0\njlt %r1, %r2, -4",
            // The accumulator is read between the operation and the copy.
            "ldxdw %r0, [%r1]\nadd %r0, %r5\nmov %r6, %r5\nmov %r5, %r0\njlt %r1, %r2, -5",
            // The accumulator is written before the operation.
            "ldxdw %r0, [%r1]\nmov %r5, 1\nadd %r0, %r5\nmov %r5, %r0\njlt %r1, %r2, -5",
            // The temporary is written after the copy.
            "ldxdw %r0, [%r1]\nadd %r0, %r5\nmov %r5, %r0\nmov %r0, 1\njlt %r1, %r2, -5",
            // A 32-bit copy truncates.
            "ldxdw %r0, [%r1]\nadd %r0, %r5\nmov32 %r5, %r0\njlt %r1, %r2, -4",
        ] {
            let (insns, done) = run(text);
            assert_eq!(done, [], "{text}");
            assert_eq!(insns, asm(text), "{text}");
        }
    }

    #[test]
    fn a_temporary_coalesces_once() {
        // Two copies of one temporary: after the first, the exit could not say which
        // accumulator holds the temporary's last value.
        let (_, done) = run(
            "ldxdw %r0, [%r1]\nadd %r0, %r6\nmov %r6, %r0\nadd %r0, %r5\nmov %r5, %r0\njlt %r1, %r2, -6",
        );
        assert_eq!(done.len(), 1);
    }
}
