//! Structural checks and the control-flow graph.
//!
//! Everything here is indexed by *slot* (an `lddw` takes two), because jump offsets and
//! the kernel's messages count slots. The checks follow the kernel's order and wording:
//! subprogram boundaries and jump ranges first (`check_subprogs`), then a depth-first
//! walk for unreachable code and back-edges (`check_cfg`).

use crate::error::{ErrorKind, VerifyError};
use bpfkit_isa::{CallTarget, Insn, LdImm64Kind};

/// Most instructions a program may have (the kernel's `BPF_COMPLEXITY_LIMIT_INSNS`).
pub const MAX_INSNS: usize = 1_000_000;

/// A function: the main program or the target of a bpf-to-bpf call or of a callback pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subprog {
    /// First slot.
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
}

/// A program after the structural checks.
#[derive(Clone, Debug)]
pub struct Cfg {
    /// The instruction starting at each slot; `None` for the second slot of an `lddw`.
    pub slots: Vec<Option<Insn>>,
    /// Functions in slot order; `subprogs[0]` is the main program.
    pub subprogs: Vec<Subprog>,
    /// Slots where explored states are remembered for pruning: jump targets, the
    /// fall-through of conditional jumps, and the slot after a call.
    pub prune_point: Vec<bool>,
    /// Slots that are the target of a backward jump (every loop has such a head).
    pub loop_head: Vec<bool>,
}

impl Cfg {
    /// The function containing `pc`.
    pub fn subprog_of(&self, pc: usize) -> usize {
        match self.subprogs.binary_search_by(|s| s.start.cmp(&pc)) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Index of the function starting at `pc`, if one does.
    pub fn subprog_at(&self, pc: usize) -> Option<usize> {
        self.subprogs.binary_search_by(|s| s.start.cmp(&pc)).ok()
    }

    /// The instruction at `pc` (which must start an instruction).
    pub fn insn(&self, pc: usize) -> &Insn {
        self.slots[pc].as_ref().expect("pc starts an instruction")
    }
}

fn structure(insn: usize, message: String) -> VerifyError {
    VerifyError::new(insn, ErrorKind::Structure, message)
}

/// Target slot of a jump, call or function pointer at `pc` with offset `off` (may be out of range).
fn target(pc: usize, off: i64) -> i64 {
    pc as i64 + 1 + off
}

/// Successors of the instruction at `pc` inside its function (calls continue after the call;
/// the callee is reached separately).
fn successors(pc: usize, insn: &Insn) -> [Option<i64>; 2] {
    match *insn {
        Insn::Exit => [None, None],
        Insn::Ja { off, .. } => [Some(target(pc, off as i64)), None],
        Insn::Jmp { off, .. } => [Some(pc as i64 + 1), Some(target(pc, off as i64))],
        Insn::LdImm64 { .. } => [Some(pc as i64 + 2), None],
        _ => [Some(pc as i64 + 1), None],
    }
}

/// Runs the structural checks and builds the [`Cfg`].
pub fn build(insns: &[Insn]) -> Result<Cfg, VerifyError> {
    if insns.is_empty() {
        return Err(structure(0, "the program is empty".into()));
    }
    let mut slots = Vec::with_capacity(insns.len() + 8);
    for insn in insns {
        if let Some(why) = malformed(insn) {
            return Err(VerifyError::new(slots.len(), ErrorKind::Unsupported, why));
        }
        slots.push(Some(*insn));
        if insn.slots() == 2 {
            slots.push(None);
        }
    }
    let len = slots.len();
    if len > MAX_INSNS {
        return Err(structure(
            0,
            format!("program too large: {len} insns (limit {MAX_INSNS})"),
        ));
    }

    let subprogs = find_subprogs(&slots)?;
    check_subprog_ranges(&slots, &subprogs)?;
    let (prune_point, loop_head) = walk(&slots, &subprogs)?;
    Ok(Cfg {
        slots,
        subprogs,
        prune_point,
        loop_head,
    })
}

/// Encodings the typed model can express but the instruction set does not define.
fn malformed(insn: &Insn) -> Option<String> {
    use bpfkit_isa::{AluOp, MemSize, Operand, Width};
    let bad = match *insn {
        Insn::Ldx {
            signed: true,
            size: MemSize::DW,
            ..
        } => "sign-extending load of 8 bytes",
        Insn::Alu {
            op: AluOp::MovSx(bits),
            width,
            src,
            ..
        } => {
            let ok_bits = match width {
                Width::W64 => matches!(bits, 8 | 16 | 32),
                Width::W32 => matches!(bits, 8 | 16),
            };
            if ok_bits && matches!(src, Operand::Reg(_)) {
                return None;
            }
            "invalid movsx"
        }
        Insn::End { bits, .. } if !matches!(bits, 16 | 32 | 64) => "invalid byte swap width",
        Insn::Atomic { size, .. } if !matches!(size, MemSize::W | MemSize::DW) => {
            "atomic operation of 1 or 2 bytes"
        }
        Insn::LdAbs {
            size: MemSize::DW, ..
        }
        | Insn::LdInd {
            size: MemSize::DW, ..
        } => "BPF_LD_[ABS|IND] of 8 bytes",
        _ => return None,
    };
    Some(format!("invalid instruction: {bad}"))
}

/// Function starts: slot 0 plus every local call target and every `lddw` function pointer.
fn find_subprogs(slots: &[Option<Insn>]) -> Result<Vec<Subprog>, VerifyError> {
    let len = slots.len() as i64;
    let mut starts = vec![0usize];
    for (pc, insn) in slots.iter().enumerate() {
        let off = match insn {
            Some(Insn::Call(CallTarget::Local(off))) => *off as i64,
            Some(Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            }) => *imm as u32 as i32 as i64,
            _ => continue,
        };
        let t = target(pc, off);
        if t < 0 || t >= len || slots[t as usize].is_none() {
            return Err(structure(pc, "call to invalid destination".into()));
        }
        starts.push(t as usize);
    }
    starts.sort_unstable();
    starts.dedup();
    let mut subprogs: Vec<Subprog> = starts
        .windows(2)
        .map(|w| Subprog {
            start: w[0],
            end: w[1],
        })
        .collect();
    subprogs.push(Subprog {
        start: *starts.last().expect("slot 0"),
        end: slots.len(),
    });
    Ok(subprogs)
}

/// Jumps stay inside their function and land on an instruction; functions end in exit or ja.
fn check_subprog_ranges(slots: &[Option<Insn>], subprogs: &[Subprog]) -> Result<(), VerifyError> {
    for sp in subprogs {
        for pc in sp.start..sp.end {
            let Some(insn) = &slots[pc] else { continue };
            if let Some(off) = insn.jump_offset() {
                let t = target(pc, off as i64);
                if t < sp.start as i64 || t >= sp.end as i64 {
                    return Err(structure(
                        pc,
                        format!("jump out of range from insn {pc} to {t}"),
                    ));
                }
                if slots[t as usize].is_none() {
                    // The kernel reports this when it reaches the lddw tail as an instruction.
                    return Err(structure(
                        pc,
                        format!("jump into the middle of ldimm64 insn {}", t - 1),
                    ));
                }
            }
        }
        let last = (sp.start..sp.end)
            .rev()
            .find(|&pc| slots[pc].is_some())
            .expect("a function has an instruction");
        let ok = matches!(slots[last], Some(Insn::Exit) | Some(Insn::Ja { .. }));
        if !ok || slots[sp.end - 1].is_none() {
            return Err(structure(last, "last insn is not an exit or jmp".into()));
        }
    }
    Ok(())
}

/// Walk from slot 0 through jumps, calls and callback pointers: finds unreachable slots,
/// prune points and loop heads (targets of backward jumps: every cycle has one).
fn walk(
    slots: &[Option<Insn>],
    subprogs: &[Subprog],
) -> Result<(Vec<bool>, Vec<bool>), VerifyError> {
    let len = slots.len();
    let mut seen = vec![false; len];
    let mut prune = vec![false; len];
    let mut loop_head = vec![false; len];
    // Slots to explore; each slot is pushed once, when first seen (a worklist rather than
    // a depth-first stack: a million-instruction straight line stays one entry deep).
    let mut work: Vec<usize> = vec![0];
    seen[0] = true;
    let mut root_seen = vec![false; subprogs.len()];
    root_seen[0] = true;
    while let Some(pc) = work.pop() {
        let insn = slots[pc].as_ref().expect("walk visits instructions");
        if let Insn::LdImm64 { .. } = insn {
            seen[pc + 1] = true;
        }
        // Callees and callbacks are walked as separate roots.
        let callee = match *insn {
            Insn::Call(CallTarget::Local(off)) => Some(target(pc, off as i64)),
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            } => Some(target(pc, imm as u32 as i32 as i64)),
            _ => None,
        };
        if let Some(c) = callee {
            let c = c as usize;
            let i = subprogs.partition_point(|s| s.start < c);
            if !root_seen[i] {
                root_seen[i] = true;
                seen[c] = true;
                work.push(c);
            }
            if matches!(insn, Insn::Call(_)) && pc + 1 < len {
                prune[pc + 1] = true;
            }
        }
        match *insn {
            Insn::Jmp { off, .. } => {
                prune[pc + 1] = true;
                prune[target(pc, off as i64) as usize] = true;
            }
            Insn::Ja { off, .. } => prune[target(pc, off as i64) as usize] = true,
            _ => {}
        }
        for t in successors(pc, insn).into_iter().flatten() {
            if t < 0 || t as usize >= len {
                return Err(structure(
                    pc,
                    format!("jump out of range from insn {pc} to {t}"),
                ));
            }
            let t = t as usize;
            if t <= pc {
                loop_head[t] = true;
                prune[t] = true;
            }
            if !seen[t] {
                seen[t] = true;
                work.push(t);
            }
        }
    }
    if let Some(pc) = seen.iter().position(|&c| !c) {
        return Err(structure(pc, format!("unreachable insn {pc}")));
    }
    Ok((prune, loop_head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_isa::{AluOp, JmpCond, Operand, Reg, Width};

    fn mov(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    fn jeq(off: i16) -> Insn {
        Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R0,
            src: Operand::Imm(0),
            off,
        }
    }

    fn err(insns: &[Insn]) -> String {
        build(insns).unwrap_err().message
    }

    #[test]
    fn kernel_structure_messages() {
        let r0 = mov(Reg::R0, 0);
        assert_eq!(
            err(&[r0, jeq(5), Insn::Exit]),
            "jump out of range from insn 1 to 7"
        );
        assert_eq!(
            err(&[
                r0,
                Insn::Ja {
                    off: 1,
                    long: false
                },
                r0,
                Insn::Exit
            ]),
            "unreachable insn 2"
        );
        assert_eq!(err(&[r0, r0]), "last insn is not an exit or jmp");
        assert_eq!(
            err(&[Insn::Call(CallTarget::Local(5)), Insn::Exit]),
            "call to invalid destination"
        );
        let lddw = Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::Imm,
            imm: 1,
        };
        assert!(err(&[r0, jeq(1), lddw, Insn::Exit]).contains("middle of ldimm64"));
    }

    #[test]
    fn subprograms_and_loops() {
        // main: call f; exit.  f: r0 = 1; loop back once; exit.
        let prog = [
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            mov(Reg::R0, 1),
            jeq(-2),
            Insn::Exit,
        ];
        let cfg = build(&prog).unwrap();
        assert_eq!(
            cfg.subprogs,
            vec![Subprog { start: 0, end: 2 }, Subprog { start: 2, end: 5 }]
        );
        assert!(cfg.loop_head[2]);
        assert!(cfg.prune_point[1] && cfg.prune_point[4]);
        assert_eq!(cfg.subprog_of(3), 1);
        // A jump from the callee back into main crosses a function boundary.
        let bad = [
            Insn::Call(CallTarget::Local(1)),
            Insn::Exit,
            jeq(-3),
            Insn::Exit,
        ];
        assert_eq!(err(&bad), "jump out of range from insn 2 to 0");
        // An uncalled function is unreachable.
        let dead = [mov(Reg::R0, 0), Insn::Exit, mov(Reg::R0, 0), Insn::Exit];
        assert_eq!(err(&dead), "unreachable insn 2");
    }
}
