//! Which eBPF registers the code uses, so the prologue and local calls save only those.
//!
//! The prologue saves (and zeroes) the x86 registers of r6–r9 only when the program names
//! them. A local call saves only the r6–r9 its callee may write: the registers written by
//! the instructions reachable from the callee's entry without entering further calls (a
//! nested call saves what *its* callee writes, so it writes none of r6–r9 as seen from
//! outside). Reachability follows jumps and fall-through wherever they go, so unverified
//! programs whose functions jump into each other stay exact.

use bpfkit_isa::{CallTarget, Insn, Operand, Reg};

/// A set of eBPF registers: bit n is rn.
pub(crate) type RegSet = u16;

/// r0–r10.
pub(crate) const ALL: RegSet = 0b111_1111_1111;

/// r6–r9, the registers a local call must preserve for its caller.
pub(crate) const CALLEE_SAVED: RegSet = 0b11_1100_0000;

/// r1–r5, the arguments of a helper call.
pub(crate) const ARGS: RegSet = 0b11_1110;

pub(crate) fn bit(r: Reg) -> RegSet {
    1 << r.idx()
}

pub(crate) fn operand(src: Operand) -> RegSet {
    match src {
        Operand::Reg(r) => bit(r),
        Operand::Imm(_) => 0,
    }
}

/// The registers `insn` writes (local calls: r0 only, the callee saves r6–r9 itself).
pub(crate) fn written(insn: &Insn) -> RegSet {
    insn.written_reg().map_or(0, bit)
}

/// The registers `insn` reads or writes (helper calls read r1–r5).
pub(crate) fn named(insn: &Insn) -> RegSet {
    written(insn)
        | match *insn {
            Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => bit(dst) | operand(src),
            Insn::Ldx { src, .. } | Insn::LdInd { src, .. } => bit(src),
            Insn::St { dst, .. } => bit(dst),
            Insn::Stx { dst, src, .. } | Insn::Atomic { dst, src, .. } => bit(dst) | bit(src),
            Insn::Call(CallTarget::Helper(_) | CallTarget::Kfunc(_)) => ARGS,
            Insn::Call(CallTarget::Reg(r)) => bit(r) | ARGS,
            _ => 0,
        }
}

/// Walks of the code each function reaches (see [`FunctionWalk::walk`]), sharing one bound
/// on the work: past about 16 visits per instruction in total (many functions sharing
/// code, only in unverified programs), walks stop short.
pub(crate) struct FunctionWalk {
    budget: usize,
    /// Per instruction: the entry whose walk visited it last.
    seen: Vec<usize>,
    stack: Vec<usize>,
}

impl FunctionWalk {
    pub(crate) fn new(n: usize) -> FunctionWalk {
        FunctionWalk {
            budget: 16 * n + 1024,
            seen: vec![usize::MAX; n],
            stack: Vec::new(),
        }
    }

    /// Calls `visit` on each instruction reachable from `entry` without entering calls
    /// (`successors(i)`: the instructions control may reach next from `i` within its
    /// function). `false` when the bound cut the walk short (`visit` then saw only part).
    pub(crate) fn walk(
        &mut self,
        entry: usize,
        successors: &impl Fn(usize) -> [Option<usize>; 2],
        mut visit: impl FnMut(usize),
    ) -> bool {
        self.stack.clear();
        self.stack.push(entry);
        self.seen[entry] = entry;
        while let Some(i) = self.stack.pop() {
            if self.budget == 0 {
                return false;
            }
            self.budget -= 1;
            visit(i);
            for next in successors(i).into_iter().flatten() {
                if self.seen[next] != entry {
                    self.seen[next] = entry;
                    self.stack.push(next);
                }
            }
        }
        true
    }

    /// Whether `entry` was walked from before.
    pub(crate) fn walked(&self, entry: usize) -> bool {
        self.seen[entry] == entry
    }
}

/// For each instruction index: the r6–r9 that code reachable from it may write (computed
/// for `entries`, the local-call targets; [`CALLEE_SAVED`] elsewhere). `successors(i)`
/// gives the instructions control may reach next from `i` within its function. Entries
/// the work bound of [`FunctionWalk`] cuts short get all of r6–r9.
pub(crate) fn callee_writes(
    insns: &[Insn],
    entries: impl Iterator<Item = usize>,
    successors: impl Fn(usize) -> [Option<usize>; 2],
) -> Vec<RegSet> {
    let mut out = vec![CALLEE_SAVED; insns.len()];
    let mut walk = FunctionWalk::new(insns.len());
    for entry in entries {
        if walk.walked(entry) {
            continue; // already computed
        }
        let mut set = 0;
        out[entry] = match walk.walk(entry, &successors, |i| set |= written(&insns[i])) {
            true => set & CALLEE_SAVED,
            false => CALLEE_SAVED,
        };
    }
    out
}

/// Per instruction index: whether a function runs it, i.e. whether it is reachable from
/// one of `entries` (local-call targets, functions whose address the program loads), so
/// that its `exit` returns to a caller. Reachability follows jumps wherever they go, so
/// unverified programs whose functions jump into the main function's code stay exact.
pub(crate) fn function_code(
    n: usize,
    entries: impl Iterator<Item = usize>,
    successors: impl Fn(usize) -> [Option<usize>; 2],
) -> Vec<bool> {
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = entries.filter(|&e| e < n).collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(successors(i).into_iter().flatten().filter(|&s| !seen[s]));
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_isa::{AluOp, Width};

    fn mov(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    #[test]
    fn callee_writes_follow_jumps_out_of_the_function_but_not_into_calls() {
        // 0: call 3   1: mov r6   2: exit   3: call 1... (as successors say)
        // Function at 3: writes r7, then jumps to 1 (into "another function"): r6 too.
        let insns = [
            Insn::Call(CallTarget::Local(2)),
            mov(Reg::R6, 1),
            Insn::Exit,
            mov(Reg::R7, 1),
            Insn::Call(CallTarget::Local(-4)),
            Insn::Ja {
                off: -5,
                long: false,
            },
            mov(Reg::R8, 1),
            Insn::Exit,
        ];
        let succ = |i: usize| match i {
            2 | 7 => [None, None],
            5 => [Some(1), None],
            _ => [Some(i + 1), None],
        };
        let w = callee_writes(&insns, [3, 6].into_iter(), succ);
        assert_eq!(w[3], bit(Reg::R7) | bit(Reg::R6));
        assert_eq!(w[6], bit(Reg::R8));
        assert_eq!(w[0], CALLEE_SAVED);
    }

    #[test]
    fn function_code_is_what_function_entries_reach() {
        // 0: call +2 (to 3); 1: exit; 2: unreachable; 3: jump to 5; 4: -; 5: exit.
        let succ = |i: usize| match i {
            1 | 5 => [None, None],
            3 => [Some(5), None],
            _ => [Some(i + 1), None],
        };
        let code = function_code(6, [3].into_iter(), succ);
        assert_eq!(code, [false, false, false, true, false, true]);
    }

    #[test]
    fn helper_calls_name_their_arguments() {
        assert_eq!(named(&Insn::Call(CallTarget::Helper(1))), ARGS | 1);
        assert_eq!(named(&mov(Reg::R9, 0)), bit(Reg::R9));
    }
}
