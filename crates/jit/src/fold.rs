//! Address folding for unchecked code: `rX = rY; rX += rZ` (or `+= k`) followed, in the
//! same block, by loads and stores based on rX becomes loads and stores at
//! `[rY + rZ + off]` (`[rY + k + off]`), and the addition is not emitted at all — when rX
//! is not otherwise read before it is redefined or dies (register liveness), and rY and
//! rZ keep their values. This is the pattern eBPF compilers emit for `p[i]`, which x86
//! addresses in one operand.

use crate::usage::{self, bit, operand, RegSet, ALL};
use bpfkit_isa::{AluOp, AtomicOp, CallTarget, Insn, Operand, Reg, Width};

/// What address folding decided for one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Emitted as written.
    None,
    /// The first of a `mov`/`add` pair whose result only addresses memory: emit neither.
    Skip,
    /// A load or store whose base register is replaced by `base + index + disp`.
    Use {
        base: Reg,
        index: Option<Reg>,
        disp: i32,
    },
}

/// Registers `insn` reads (conservatively: calls and exits read what a callee or caller may).
pub(crate) fn reads(insn: &Insn) -> RegSet {
    match *insn {
        Insn::Alu {
            op: AluOp::Mov | AluOp::MovSx(_),
            src,
            ..
        } => operand(src),
        Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => bit(dst) | operand(src),
        Insn::End { dst, .. } => bit(dst),
        Insn::Ldx { src, .. } | Insn::LdInd { src, .. } => bit(src),
        Insn::St { dst, .. } => bit(dst),
        Insn::Stx { dst, src, .. } => bit(dst) | bit(src),
        Insn::Atomic { dst, src, op, .. } => {
            bit(dst) | bit(src) | if op == AtomicOp::Cmpxchg { 1 } else { 0 }
        }
        Insn::Call(CallTarget::Helper(_) | CallTarget::Kfunc(_)) => 0b11_1110,
        Insn::Call(_) => ALL,
        // A function's caller may read r0–r5 after it returns (r6–r9 it restores).
        Insn::Exit => 0b11_1111,
        Insn::Ja { .. } | Insn::LdImm64 { .. } | Insn::LdAbs { .. } => 0,
    }
}

/// Registers `insn` certainly overwrites (a local call may leave r0 as it was).
fn kills(insn: &Insn) -> RegSet {
    match insn {
        Insn::Call(CallTarget::Local(_) | CallTarget::Reg(_)) => 0,
        _ => usage::written(insn),
    }
}

/// The registers live after each instruction, and at the main entry.
pub(crate) struct Liveness {
    /// Per instruction: the registers code after it may read before writing them.
    pub out: Vec<RegSet>,
    /// Per instruction: the registers code from it on may read before writing them.
    pub live_in: Vec<RegSet>,
    /// The registers the code entered at instruction 0 may read before writing them:
    /// what the entry must set up.
    pub entry: RegSet,
}

/// Register liveness. `None` when the analysis does not settle within its work bound.
/// `in_function[i]`: a function may run instruction `i` ([`usage::function_code`]); an
/// `exit` no function runs ends the run, after which only r0 is read.
///
/// `call_reads(i, id)`: the registers the call of helper `id` at instruction `i` reads (its
/// arguments, as the call is emitted).
pub(crate) fn live_out(
    insns: &[Insn],
    successors: &dyn Fn(usize) -> [Option<usize>; 2],
    in_function: &[bool],
    call_reads: &dyn Fn(usize, i32) -> RegSet,
) -> Option<Liveness> {
    let n = insns.len();
    let mut live_in = vec![0 as RegSet; n];
    let mut out = vec![0 as RegSet; n];
    for _pass in 0..32 {
        let mut changed = false;
        for i in (0..n).rev() {
            let o = successors(i)
                .into_iter()
                .flatten()
                .fold(0, |set, s| set | live_in[s]);
            let read = match insns[i] {
                Insn::Exit if !in_function[i] => 1,
                Insn::Call(CallTarget::Helper(id)) => call_reads(i, id),
                ref insn => reads(insn),
            };
            let li = read | (o & !kills(&insns[i]));
            out[i] = o;
            if li != live_in[i] {
                live_in[i] = li;
                changed = true;
            }
        }
        if !changed {
            return Some(Liveness {
                entry: live_in.first().copied().unwrap_or(0),
                out,
                live_in,
            });
        }
    }
    None
}

/// Decides the folds of a program. `block_start(i)`: whether instruction `i` starts a
/// block (control may arrive from elsewhere); `live`: [`live_out`].
pub(crate) fn folds(
    insns: &[Insn],
    block_start: &dyn Fn(usize) -> bool,
    live: &[RegSet],
) -> Vec<Fold> {
    let n = insns.len();
    let mut out = vec![Fold::None; n];
    let mut i = 0;
    while i + 1 < n {
        if let Some(uses) = fold_at(insns, i, block_start, live) {
            out[i] = Fold::Skip;
            for (j, fold) in uses {
                out[j] = fold;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The folded accesses if the pair at `i`, `i + 1` can be skipped.
fn fold_at(
    insns: &[Insn],
    i: usize,
    block_start: &dyn Fn(usize) -> bool,
    live: &[RegSet],
) -> Option<Vec<(usize, Fold)>> {
    let Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: x,
        src: Operand::Reg(y),
    } = insns[i]
    else {
        return None;
    };
    let (index, k) = match insns[i + 1] {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst,
            src,
        } if dst == x => match src {
            Operand::Reg(z) if z != x => (Some(z), 0),
            Operand::Imm(k) => (None, k),
            _ => return None,
        },
        _ => return None,
    };
    if x == y || block_start(i + 1) || x == Reg::R10 {
        return None;
    }
    let kept = bit(y) | index.map_or(0, bit);
    let mut uses = Vec::new();
    for j in i + 2..insns.len() {
        if block_start(j) {
            // Control may enter here with another rX.
            return (live[j - 1] & bit(x) == 0).then_some(uses);
        }
        let insn = insns[j];
        let (base, off) = match insn {
            Insn::Ldx { src, off, .. } => (src, off),
            Insn::St { dst, off, .. } => (dst, off),
            Insn::Stx { dst, src, off, .. } if src != x => (dst, off),
            _ => (Reg::R10, 0),
        };
        let folded = base == x;
        if folded {
            let disp = k.checked_add(off as i32)?;
            uses.push((
                j,
                Fold::Use {
                    base: y,
                    index,
                    disp,
                },
            ));
        } else if reads(&insn) & bit(x) != 0 {
            return None;
        }
        let written = usage::written(&insn) | kills(&insn);
        if written & bit(x) != 0 {
            return Some(uses);
        }
        if written & kept != 0 || !falls_through(&insn) {
            // rY or rZ changes, or the block ends here: rX must be dead from here on.
            return (live[j] & bit(x) == 0).then_some(uses);
        }
    }
    (live[insns.len() - 1] & bit(x) == 0).then_some(uses)
}

/// Whether control always continues with the next instruction (no jump, call or exit).
fn falls_through(insn: &Insn) -> bool {
    !matches!(
        insn,
        Insn::Ja { .. } | Insn::Jmp { .. } | Insn::Exit | Insn::Call(_)
    )
}
