//! The Linux kernel's checks on a socket filter (`bpf_check_classic`).
//!
//! [`validate`] accepts exactly the programs `setsockopt(SO_ATTACH_FILTER)`
//! accepts (the tests compare against the running kernel). libpcap's
//! `bpf_validate` is looser, and a program it accepts may still be refused
//! by the kernel:
//!
//! - it has no length limit (the kernel allows [`MAXINSNS`] instructions);
//! - it checks the class, mode and operation fields rather than whole
//!   opcodes, so it accepts codes with stray bits (e.g. `ret` with an `X`
//!   source, or any `MISC` operation) that its own interpreter aborts on;
//! - it allows backward unconditional jumps (its `ip6 protochain` code uses
//!   them; the test `i + 1 + k < len` wraps around in 32 bits);
//! - it accepts shifts by a constant of 32 or more, ancillary offsets the
//!   kernel does not know, and scratch-memory reads before any write.

use crate::ancillary::{is_known_ancillary, SKF_AD_OFF};
use crate::insn::Insn;
use crate::op::*;
use std::fmt;

/// Why a program was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ValidateError {
    /// Index of the offending instruction (`None` for whole-program rules).
    pub index: Option<usize>,
    /// The rule that was broken.
    pub kind: ValidateErrorKind,
}

/// The rules of [`validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidateErrorKind {
    /// The program has no instructions.
    Empty,
    /// The program is longer than [`MAXINSNS`].
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The opcode is not one of [`ALL`].
    UnknownOpcode {
        /// The opcode.
        code: u16,
    },
    /// A jump lands outside the program (or, for `ja`, not strictly forward).
    JumpOutOfRange {
        /// The target index (possibly wrapped, as the kernel computes it).
        target: u64,
    },
    /// A scratch-memory index is 16 or more.
    ScratchIndex {
        /// The index.
        k: u32,
    },
    /// Division or modulo by the constant 0.
    DivisionByZero,
    /// A shift by a constant of 32 or more.
    ShiftTooLarge {
        /// The shift count.
        k: u32,
    },
    /// An absolute load in the ancillary range that the kernel does not know.
    UnknownAncillary {
        /// The offset.
        k: u32,
    },
    /// The last instruction is not a `ret`.
    LastNotReturn,
    /// A scratch cell may be read before anything was stored in it.
    ScratchReadBeforeWrite {
        /// The cell index.
        k: u32,
    },
}

impl ValidateError {
    fn at(index: usize, kind: ValidateErrorKind) -> ValidateError {
        ValidateError {
            index: Some(index),
            kind,
        }
    }

    fn describe(&self) -> String {
        match self.index {
            Some(i) => format!("instruction {i}: {}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

impl fmt::Display for ValidateErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ValidateErrorKind::Empty => write!(f, "the program is empty"),
            ValidateErrorKind::TooLong { len } => {
                write!(
                    f,
                    "the program has {len} instructions, more than {MAXINSNS}"
                )
            }
            ValidateErrorKind::UnknownOpcode { code } => write!(f, "unknown opcode {code:#x}"),
            ValidateErrorKind::JumpOutOfRange { target } => {
                write!(f, "jump to {target} is outside the program")
            }
            ValidateErrorKind::ScratchIndex { k } => {
                write!(f, "scratch memory index {k} is not below {MEMWORDS}")
            }
            ValidateErrorKind::DivisionByZero => write!(f, "division or modulo by constant 0"),
            ValidateErrorKind::ShiftTooLarge { k } => write!(f, "shift by constant {k} >= 32"),
            ValidateErrorKind::UnknownAncillary { k } => {
                write!(f, "unknown ancillary load offset {k:#x}")
            }
            ValidateErrorKind::LastNotReturn => write!(f, "the last instruction is not a ret"),
            ValidateErrorKind::ScratchReadBeforeWrite { k } => {
                write!(f, "M[{k}] may be read before it is written")
            }
        }
    }
}

/// Checks `prog` with the Linux kernel's socket-filter rules.
///
/// Rules, checked in the kernel's order (the first failure is reported):
/// length 1..=[`MAXINSNS`]; then per instruction: a known opcode, no
/// division or modulo by constant 0, no shift by a constant >= 32, scratch
/// index < 16, `ja` strictly forward inside the program, both conditional
/// targets inside the program, ancillary offsets the kernel knows; then the
/// last instruction is a `ret`; then no scratch cell is read on a path where
/// it was not stored.
///
/// ```
/// use bpfkit_cbpf::{validate, Insn, ValidateErrorKind, op};
/// let prog = [Insn::stmt(op::LD_IMM, 1), Insn::stmt(op::ALU_DIV_K, 0), Insn::stmt(op::RET_A, 0)];
/// let err = validate(&prog).unwrap_err();
/// assert_eq!((err.index, err.kind), (Some(1), ValidateErrorKind::DivisionByZero));
/// assert_eq!(err.to_string(), "instruction 1: division or modulo by constant 0");
/// ```
pub fn validate(prog: &[Insn]) -> Result<(), ValidateError> {
    let len = prog.len();
    if len == 0 {
        return Err(ValidateError {
            index: None,
            kind: ValidateErrorKind::Empty,
        });
    }
    if len > MAXINSNS {
        return Err(ValidateError {
            index: None,
            kind: ValidateErrorKind::TooLong { len },
        });
    }
    for (pc, ins) in prog.iter().enumerate() {
        check_insn(pc, ins, len).map_err(|kind| ValidateError::at(pc, kind))?;
    }
    if !matches!(prog[len - 1].code, RET_K | RET_A) {
        return Err(ValidateError::at(len - 1, ValidateErrorKind::LastNotReturn));
    }
    check_loads_after_stores(prog)
}

fn check_insn(pc: usize, ins: &Insn, len: usize) -> Result<(), ValidateErrorKind> {
    use ValidateErrorKind::*;
    let k = ins.k;
    match ins.code {
        code if !is_known(code) => Err(UnknownOpcode { code }),
        ALU_DIV_K | ALU_MOD_K if k == 0 => Err(DivisionByZero),
        ALU_LSH_K | ALU_RSH_K if k >= 32 => Err(ShiftTooLarge { k }),
        LD_MEM | LDX_MEM | ST_MEM | STX_MEM if k >= MEMWORDS => Err(ScratchIndex { k }),
        JMP_JA => {
            // The kernel's `k >= flen - pc - 1`: no wrap-around, forward only.
            if u64::from(k) >= (len - pc - 1) as u64 {
                Err(JumpOutOfRange {
                    target: (pc as u64 + 1).wrapping_add(u64::from(k)),
                })
            } else {
                Ok(())
            }
        }
        JMP_JEQ_K | JMP_JEQ_X | JMP_JGT_K | JMP_JGT_X | JMP_JGE_K | JMP_JGE_X | JMP_JSET_K
        | JMP_JSET_X => {
            let target = pc + 1 + usize::from(ins.jt.max(ins.jf));
            if target >= len {
                Err(JumpOutOfRange {
                    target: target as u64,
                })
            } else {
                Ok(())
            }
        }
        LD_W_ABS | LD_H_ABS | LD_B_ABS
            if k >= SKF_AD_OFF && !is_known_ancillary(k - SKF_AD_OFF) =>
        {
            Err(UnknownAncillary { k })
        }
        _ => Ok(()),
    }
}

/// The kernel's `check_load_and_stores`: a forward dataflow pass with one
/// bit per scratch cell. Reproduced literally, including its quirk that a
/// `ret` does not reset the set of valid cells for the instruction after it.
fn check_loads_after_stores(prog: &[Insn]) -> Result<(), ValidateError> {
    let mut masks = vec![u16::MAX; prog.len()];
    let mut valid: u16 = 0;
    for (pc, ins) in prog.iter().enumerate() {
        valid &= masks[pc];
        match ins.code {
            ST_MEM | STX_MEM => valid |= 1 << ins.k,
            LD_MEM | LDX_MEM if valid & (1 << ins.k) == 0 => {
                return Err(ValidateError::at(
                    pc,
                    ValidateErrorKind::ScratchReadBeforeWrite { k: ins.k },
                ));
            }
            JMP_JA => {
                masks[pc + 1 + ins.k as usize] &= valid;
                valid = u16::MAX;
            }
            JMP_JEQ_K | JMP_JEQ_X | JMP_JGT_K | JMP_JGT_X | JMP_JGE_K | JMP_JGE_X | JMP_JSET_K
            | JMP_JSET_X => {
                masks[pc + 1 + usize::from(ins.jt)] &= valid;
                masks[pc + 1 + usize::from(ins.jf)] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ancillary::*;
    use ValidateErrorKind::*;

    fn s(code: u16, k: u32) -> Insn {
        Insn::stmt(code, k)
    }

    fn kind(prog: &[Insn]) -> Option<(Option<usize>, ValidateErrorKind)> {
        validate(prog).err().map(|e| (e.index, e.kind))
    }

    #[test]
    fn accepts_a_typical_filter() {
        let prog = [
            s(LD_H_ABS, 12),
            Insn::jump(JMP_JEQ_K, 0x800, 0, 1),
            s(RET_K, 262144),
            s(RET_K, 0),
        ];
        assert_eq!(validate(&prog), Ok(()));
    }

    #[test]
    fn each_rule_names_the_instruction() {
        assert_eq!(kind(&[]), Some((None, Empty)));
        let long = vec![s(RET_K, 0); MAXINSNS + 1];
        assert_eq!(kind(&long), Some((None, TooLong { len: 4097 })));
        assert_eq!(kind(&long[..MAXINSNS]), None);
        assert_eq!(
            kind(&[s(RET_K | X, 0), s(RET_K, 0)]),
            Some((Some(0), UnknownOpcode { code: 0x0e }))
        );
        assert_eq!(
            kind(&[s(JMP_JA, 1), s(RET_K, 0)]),
            Some((Some(0), JumpOutOfRange { target: 2 }))
        );
        // ja to the next instruction but one past the end, and backwards.
        assert_eq!(
            kind(&[s(JMP_JA, u32::MAX), s(RET_K, 0)]),
            Some((
                Some(0),
                JumpOutOfRange {
                    target: 1 + u64::from(u32::MAX)
                }
            ))
        );
        assert_eq!(
            kind(&[Insn::jump(JMP_JGT_X, 0, 0, 1), s(RET_K, 0)]),
            Some((Some(0), JumpOutOfRange { target: 2 }))
        );
        assert_eq!(
            kind(&[s(LDX_MEM, 16), s(RET_K, 0)]),
            Some((Some(0), ScratchIndex { k: 16 }))
        );
        assert_eq!(
            kind(&[s(ALU_MOD_K, 0), s(RET_K, 0)]),
            Some((Some(0), DivisionByZero))
        );
        assert_eq!(
            kind(&[s(ALU_RSH_K, 32), s(RET_K, 0)]),
            Some((Some(0), ShiftTooLarge { k: 32 }))
        );
        assert_eq!(
            kind(&[s(LD_B_ABS, SKF_AD_OFF + 2), s(RET_K, 0)]),
            Some((Some(0), UnknownAncillary { k: SKF_AD_OFF + 2 }))
        );
        assert_eq!(
            kind(&[s(LD_B_ABS, SKF_AD_OFF + SKF_AD_VLAN_TPID), s(RET_K, 0)]),
            None
        );
        assert_eq!(kind(&[s(LD_IMM, 0)]), Some((Some(0), LastNotReturn)));
    }

    #[test]
    fn scratch_reads_need_a_store_on_every_path() {
        let ok = [s(ST_MEM, 2), s(LDX_MEM, 2), s(RET_K, 0)];
        assert_eq!(kind(&ok), None);
        // Stored only when the branch is taken.
        let bad = [
            Insn::jump(JMP_JEQ_K, 0, 0, 1),
            s(ST_MEM, 2),
            s(LD_MEM, 2),
            s(RET_A, 0),
        ];
        assert_eq!(kind(&bad), Some((Some(2), ScratchReadBeforeWrite { k: 2 })));
        // The kernel's quirk: `ret` does not clear the valid set.
        let quirk = [s(ST_MEM, 1), s(RET_K, 0), s(LD_MEM, 1), s(RET_A, 0)];
        assert_eq!(kind(&quirk), None);
    }

    #[test]
    fn messages_name_the_place() {
        let err = validate(&[s(JMP_JA, 5), s(RET_K, 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "instruction 0: jump to 6 is outside the program"
        );
    }
}
