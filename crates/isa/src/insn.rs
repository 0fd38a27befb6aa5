//! The typed instruction model.

use std::fmt;

/// One of the eleven eBPF registers. `R10` is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// r0: return value of calls and of the program.
    pub const R0: Reg = Reg(0);
    /// r1: first argument (the context or memory pointer on entry).
    pub const R1: Reg = Reg(1);
    /// r2: second argument.
    pub const R2: Reg = Reg(2);
    /// r3: third argument.
    pub const R3: Reg = Reg(3);
    /// r4: fourth argument.
    pub const R4: Reg = Reg(4);
    /// r5: fifth argument.
    pub const R5: Reg = Reg(5);
    /// r6: callee-saved.
    pub const R6: Reg = Reg(6);
    /// r7: callee-saved.
    pub const R7: Reg = Reg(7);
    /// r8: callee-saved.
    pub const R8: Reg = Reg(8);
    /// r9: callee-saved.
    pub const R9: Reg = Reg(9);
    /// r10: frame pointer (read-only).
    pub const R10: Reg = Reg(10);

    /// The register numbered `n`, if `n <= 10`.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// The register number, 0..=10.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// Index into a register file (`self.num() as usize`).
    pub const fn idx(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operand width of ALU and jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: operate on the low halves; ALU results are zero-extended.
    W32,
    /// 64-bit.
    W64,
}

/// Second operand of ALU and conditional jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(Reg),
    /// A 32-bit immediate (`BPF_K`), sign-extended to 64 bits for 64-bit operations.
    Imm(i32),
}

/// ALU operations. `Neg` ignores its source operand (encoded as `Imm(0)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// dst += src
    Add,
    /// dst -= src
    Sub,
    /// dst *= src
    Mul,
    /// Unsigned dst /= src (0 when src is 0).
    Div,
    /// Signed dst /= src (v4; 0 when src is 0).
    SDiv,
    /// dst |= src
    Or,
    /// dst &= src
    And,
    /// dst <<= src (masked to the width)
    Lsh,
    /// Logical dst >>= src (masked)
    Rsh,
    /// dst = -dst
    Neg,
    /// Unsigned dst %= src (dst kept when src is 0).
    Mod,
    /// Signed dst %= src (v4; dst kept when src is 0).
    SMod,
    /// dst ^= src
    Xor,
    /// dst = src
    Mov,
    /// dst = sign-extend the low 8, 16 or 32 bits of src (v4, register source only).
    MovSx(u8),
    /// Arithmetic dst >>= src (masked)
    Arsh,
}

/// Byte-order conversions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `le16/32/64`: convert host order to little-endian (a truncation on little-endian hosts).
    ToLe,
    /// `be16/32/64`: convert host order to big-endian.
    ToBe,
    /// `bswap16/32/64`: unconditional byte swap (v4, ALU64 class).
    Swap,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpCond {
    /// ==
    Eq,
    /// unsigned >
    Gt,
    /// unsigned >=
    Ge,
    /// dst & src != 0
    Set,
    /// !=
    Ne,
    /// signed >
    Sgt,
    /// signed >=
    Sge,
    /// unsigned <
    Lt,
    /// unsigned <=
    Le,
    /// signed <
    Slt,
    /// signed <=
    Sle,
}

impl JmpCond {
    /// Every condition: equality, unsigned order, signed order, then bit test (for tables
    /// and generators that range over all of them).
    pub const ALL: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Ne,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Slt,
        JmpCond::Sle,
        JmpCond::Set,
    ];
}

/// Access sizes of loads, stores and atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemSize {
    /// 1 byte (`u8`).
    B,
    /// 2 bytes (`u16`).
    H,
    /// 4 bytes (`u32`).
    W,
    /// 8 bytes (`u64`).
    DW,
}

impl MemSize {
    /// Every size, smallest first.
    pub const ALL: [MemSize; 4] = [MemSize::B, MemSize::H, MemSize::W, MemSize::DW];

    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            MemSize::B => 1,
            MemSize::H => 2,
            MemSize::W => 4,
            MemSize::DW => 8,
        }
    }
}

/// Atomic read-modify-write operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `*(dst+off) += src`; with `fetch`, src receives the old value.
    Add {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `*(dst+off) |= src`.
    Or {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `*(dst+off) &= src`.
    And {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `*(dst+off) ^= src`.
    Xor {
        /// Return the old value in src.
        fetch: bool,
    },
    /// Swap src and `*(dst+off)`.
    Xchg,
    /// If `*(dst+off) == r0` store src; r0 receives the old value.
    Cmpxchg,
}

/// What a 64-bit immediate load (`lddw`, two slots) means, from its src_reg field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdImm64Kind {
    /// src=0: a plain 64-bit constant.
    Imm,
    /// src=1 (`BPF_PSEUDO_MAP_FD`): imm is a map file descriptor.
    MapFd,
    /// src=2 (`BPF_PSEUDO_MAP_VALUE`): imm is a map fd, the second slot's imm an offset in its value.
    MapValue,
    /// src=3 (`BPF_PSEUDO_BTF_ID`): a kernel variable by BTF id.
    BtfId,
    /// src=4 (`BPF_PSEUDO_FUNC`): imm is a pc-relative function offset.
    Func,
    /// src=5 (`BPF_PSEUDO_MAP_IDX`): imm is an index into the program's map table.
    MapIdx,
    /// src=6 (`BPF_PSEUDO_MAP_IDX_VALUE`): map index plus value offset.
    MapIdxValue,
}

/// Target of a call instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// src=0: a helper function by number.
    Helper(i32),
    /// src=1: a bpf-to-bpf call; the callee starts at `pc + 1 + offset` (slots).
    Local(i32),
    /// src=2: a kernel function by BTF id.
    Kfunc(i32),
    /// `callx`: call the function whose address is in the register (opcode 0x8d, register in dst).
    Reg(Reg),
}

/// One eBPF instruction. `LdImm64` takes two slots, every other variant one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// ALU and ALU64 classes except byte swaps.
    Alu {
        /// 32 (ALU) or 64 bits (ALU64).
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// Byte-order conversion of `dst` (`le16`, `be32`, `bswap64`...).
    End {
        /// Which conversion.
        kind: Endian,
        /// 16, 32 or 64.
        bits: u8,
        /// The register converted in place.
        dst: Reg,
    },
    /// Unconditional jump. `long` is `gotol` (JMP32 class, 32-bit offset in imm).
    Ja {
        /// Offset in slots from the next instruction.
        off: i32,
        /// Encoded as `gotol`/`ja32` (offset in imm) instead of the 16-bit off field.
        long: bool,
    },
    /// Conditional jump (JMP or JMP32 class).
    Jmp {
        /// Compare 64 bits (JMP) or the low 32 bits (JMP32).
        width: Width,
        /// The condition.
        cond: JmpCond,
        /// Left-hand side.
        dst: Reg,
        /// Right-hand side.
        src: Operand,
        /// Offset in slots from the next instruction when the condition holds.
        off: i16,
    },
    /// A call.
    Call(CallTarget),
    /// Return r0 from the current function (or the program).
    Exit,
    /// `lddw`: two-slot 64-bit immediate load.
    LdImm64 {
        /// Destination register.
        dst: Reg,
        /// The pseudo form (src_reg field).
        kind: LdImm64Kind,
        /// The 64-bit value: low 32 bits from the first slot's imm, high 32 from the second's.
        imm: u64,
    },
    /// `dst = *(size *)(src + off)`, zero- or sign-extended (`LDSX`, v4).
    Ldx {
        /// Access size.
        size: MemSize,
        /// Sign-extend (MEMSX mode) instead of zero-extend; not valid for DW.
        signed: bool,
        /// Destination register.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Byte offset.
        off: i16,
    },
    /// `*(size *)(dst + off) = imm`.
    St {
        /// Access size.
        size: MemSize,
        /// Base address register.
        dst: Reg,
        /// Byte offset.
        off: i16,
        /// Value stored (truncated to size; sign-extended for DW).
        imm: i32,
    },
    /// `*(size *)(dst + off) = src`.
    Stx {
        /// Access size.
        size: MemSize,
        /// Base address register.
        dst: Reg,
        /// Value register.
        src: Reg,
        /// Byte offset.
        off: i16,
    },
    /// Atomic operation on `*(size *)(dst + off)` (size W or DW).
    Atomic {
        /// W or DW.
        size: MemSize,
        /// The operation.
        op: AtomicOp,
        /// Base address register.
        dst: Reg,
        /// Operand register (receives the old value when fetching).
        src: Reg,
        /// Byte offset.
        off: i16,
    },
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))`.
    LdAbs {
        /// W, H or B.
        size: MemSize,
        /// Packet offset.
        imm: i32,
    },
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + src + imm))`.
    LdInd {
        /// W, H or B.
        size: MemSize,
        /// Register holding the variable part of the offset.
        src: Reg,
        /// Constant part of the offset.
        imm: i32,
    },
}

impl Insn {
    /// The instruction with each register it names in a field (destination, source, base,
    /// `callx` target) replaced by `f` of it. Registers an instruction uses without naming
    /// them (r0 of `cmpxchg`, calls and packet loads, r6 of packet loads, r1–r5 of calls)
    /// are not fields and stay.
    pub fn map_regs(self, f: impl Fn(Reg) -> Reg) -> Insn {
        let o = |src: Operand| match src {
            Operand::Reg(r) => Operand::Reg(f(r)),
            imm => imm,
        };
        let mut insn = self;
        match &mut insn {
            Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => {
                *dst = f(*dst);
                *src = o(*src);
            }
            Insn::End { dst, .. } | Insn::LdImm64 { dst, .. } | Insn::St { dst, .. } => {
                *dst = f(*dst)
            }
            Insn::Ldx { dst, src, .. }
            | Insn::Stx { dst, src, .. }
            | Insn::Atomic { dst, src, .. } => {
                *dst = f(*dst);
                *src = f(*src);
            }
            Insn::LdInd { src, .. } | Insn::Call(CallTarget::Reg(src)) => *src = f(*src),
            Insn::Ja { .. } | Insn::Call(_) | Insn::Exit | Insn::LdAbs { .. } => {}
        }
        insn
    }

    /// The register that receives the instruction's result, if any: the destination of ALU,
    /// byte-swap, loads and `lddw`; r0 for `cmpxchg`, calls and `ld_abs`/`ld_ind`; the source
    /// register of fetching atomics. What a call or legacy packet load clobbers besides
    /// (r1–r5) is the caller's convention, not part of this answer.
    pub const fn written_reg(&self) -> Option<Reg> {
        match *self {
            Insn::Alu { dst, .. }
            | Insn::End { dst, .. }
            | Insn::LdImm64 { dst, .. }
            | Insn::Ldx { dst, .. } => Some(dst),
            Insn::Atomic { op, src, .. } => match op {
                AtomicOp::Cmpxchg => Some(Reg::R0),
                AtomicOp::Xchg => Some(src),
                AtomicOp::Add { fetch }
                | AtomicOp::Or { fetch }
                | AtomicOp::And { fetch }
                | AtomicOp::Xor { fetch } => {
                    if fetch {
                        Some(src)
                    } else {
                        None
                    }
                }
            },
            Insn::LdAbs { .. } | Insn::LdInd { .. } | Insn::Call(_) => Some(Reg::R0),
            Insn::Ja { .. }
            | Insn::Jmp { .. }
            | Insn::Exit
            | Insn::St { .. }
            | Insn::Stx { .. } => None,
        }
    }

    /// Number of 8-byte slots the instruction occupies (2 for `lddw`, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The jump offset in slots if this is a jump (conditional or not).
    pub fn jump_offset(&self) -> Option<i32> {
        match *self {
            Insn::Ja { off, .. } => Some(off),
            Insn::Jmp { off, .. } => Some(off as i32),
            _ => None,
        }
    }

    /// Whether control never falls through to the next instruction.
    pub fn is_terminator(&self) -> bool {
        matches!(self, Insn::Exit | Insn::Ja { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_regs_replaces_every_named_register_and_no_implicit_one() {
        let r = |n| Reg::new(n).unwrap();
        let swap = |x: Reg| match x.idx() {
            3 => r(4),
            4 => r(3),
            _ => x,
        };
        let cases = [
            (
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: r(3),
                    src: Operand::Reg(r(4)),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: r(4),
                    src: Operand::Reg(r(3)),
                },
            ),
            (
                Insn::Stx {
                    size: MemSize::B,
                    dst: r(3),
                    src: r(4),
                    off: 2,
                },
                Insn::Stx {
                    size: MemSize::B,
                    dst: r(4),
                    src: r(3),
                    off: 2,
                },
            ),
            (
                Insn::Ldx {
                    size: MemSize::H,
                    signed: false,
                    dst: r(4),
                    src: r(5),
                    off: 0,
                },
                Insn::Ldx {
                    size: MemSize::H,
                    signed: false,
                    dst: r(3),
                    src: r(5),
                    off: 0,
                },
            ),
            (
                Insn::LdInd {
                    size: MemSize::W,
                    src: r(3),
                    imm: 1,
                },
                Insn::LdInd {
                    size: MemSize::W,
                    src: r(4),
                    imm: 1,
                },
            ),
            (
                Insn::Call(CallTarget::Reg(r(4))),
                Insn::Call(CallTarget::Reg(r(3))),
            ),
            // Implicit registers (r0 and r1-r5 of a helper call) are not fields.
            (
                Insn::Call(CallTarget::Helper(1)),
                Insn::Call(CallTarget::Helper(1)),
            ),
            (
                Insn::Jmp {
                    width: Width::W32,
                    cond: JmpCond::Gt,
                    dst: r(3),
                    src: Operand::Imm(7),
                    off: -2,
                },
                Insn::Jmp {
                    width: Width::W32,
                    cond: JmpCond::Gt,
                    dst: r(4),
                    src: Operand::Imm(7),
                    off: -2,
                },
            ),
        ];
        for (insn, want) in cases {
            assert_eq!(insn.map_regs(swap), want, "{insn:?}");
        }
    }
}
