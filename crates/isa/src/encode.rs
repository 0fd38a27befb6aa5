//! Typed instructions to raw slots.

use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;

pub(crate) fn alu_code(op: AluOp) -> u8 {
    match op {
        AluOp::Add => ALU_ADD,
        AluOp::Sub => ALU_SUB,
        AluOp::Mul => ALU_MUL,
        AluOp::Div | AluOp::SDiv => ALU_DIV,
        AluOp::Or => ALU_OR,
        AluOp::And => ALU_AND,
        AluOp::Lsh => ALU_LSH,
        AluOp::Rsh => ALU_RSH,
        AluOp::Neg => ALU_NEG,
        AluOp::Mod | AluOp::SMod => ALU_MOD,
        AluOp::Xor => ALU_XOR,
        AluOp::Mov | AluOp::MovSx(_) => ALU_MOV,
        AluOp::Arsh => ALU_ARSH,
    }
}

pub(crate) fn cond_code(c: JmpCond) -> u8 {
    match c {
        JmpCond::Eq => JMP_JEQ,
        JmpCond::Gt => JMP_JGT,
        JmpCond::Ge => JMP_JGE,
        JmpCond::Set => JMP_JSET,
        JmpCond::Ne => JMP_JNE,
        JmpCond::Sgt => JMP_JSGT,
        JmpCond::Sge => JMP_JSGE,
        JmpCond::Lt => JMP_JLT,
        JmpCond::Le => JMP_JLE,
        JmpCond::Slt => JMP_JSLT,
        JmpCond::Sle => JMP_JSLE,
    }
}

pub(crate) fn size_code(s: MemSize) -> u8 {
    match s {
        MemSize::B => SIZE_B,
        MemSize::H => SIZE_H,
        MemSize::W => SIZE_W,
        MemSize::DW => SIZE_DW,
    }
}

fn atomic_imm(op: AtomicOp) -> i32 {
    let f = |fetch: bool| if fetch { ATOMIC_FETCH } else { 0 };
    match op {
        AtomicOp::Add { fetch } => ATOMIC_ADD | f(fetch),
        AtomicOp::Or { fetch } => ATOMIC_OR | f(fetch),
        AtomicOp::And { fetch } => ATOMIC_AND | f(fetch),
        AtomicOp::Xor { fetch } => ATOMIC_XOR | f(fetch),
        AtomicOp::Xchg => ATOMIC_XCHG,
        AtomicOp::Cmpxchg => ATOMIC_CMPXCHG,
    }
}

fn ldimm64_src(k: LdImm64Kind) -> u8 {
    match k {
        LdImm64Kind::Imm => 0,
        LdImm64Kind::MapFd => PSEUDO_MAP_FD,
        LdImm64Kind::MapValue => PSEUDO_MAP_VALUE,
        LdImm64Kind::BtfId => PSEUDO_BTF_ID,
        LdImm64Kind::Func => PSEUDO_FUNC,
        LdImm64Kind::MapIdx => PSEUDO_MAP_IDX,
        LdImm64Kind::MapIdxValue => PSEUDO_MAP_IDX_VALUE,
    }
}

fn operand(src: Operand) -> (u8, u8, i32) {
    match src {
        Operand::Reg(r) => (SRC_X, r.num(), 0),
        Operand::Imm(i) => (SRC_K, 0, i),
    }
}

/// Appends the raw slots of one instruction (one, or two for `lddw`).
pub fn encode_raw(insn: &Insn, out: &mut Vec<RawInsn>) {
    let r = match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let class = if width == Width::W64 {
                CLASS_ALU64
            } else {
                CLASS_ALU
            };
            let (s, sreg, imm) = operand(src);
            let off = match op {
                AluOp::SDiv | AluOp::SMod => 1,
                AluOp::MovSx(bits) => bits as i16,
                _ => 0,
            };
            RawInsn::new(class | s | alu_code(op), dst.num(), sreg, off, imm)
        }
        Insn::End { kind, bits, dst } => {
            let (class, s) = match kind {
                Endian::ToLe => (CLASS_ALU, SRC_K),
                Endian::ToBe => (CLASS_ALU, SRC_X),
                Endian::Swap => (CLASS_ALU64, SRC_K),
            };
            RawInsn::new(class | s | ALU_END, dst.num(), 0, 0, bits as i32)
        }
        Insn::Ja { off, long: false } => RawInsn::new(CLASS_JMP | JMP_JA, 0, 0, off as i16, 0),
        Insn::Ja { off, long: true } => RawInsn::new(CLASS_JMP32 | JMP_JA, 0, 0, 0, off),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let class = if width == Width::W64 {
                CLASS_JMP
            } else {
                CLASS_JMP32
            };
            let (s, sreg, imm) = operand(src);
            RawInsn::new(class | s | cond_code(cond), dst.num(), sreg, off, imm)
        }
        Insn::Call(t) => match t {
            CallTarget::Helper(id) => RawInsn::new(CLASS_JMP | JMP_CALL, 0, 0, 0, id),
            CallTarget::Local(off) => RawInsn::new(CLASS_JMP | JMP_CALL, 0, PSEUDO_CALL, 0, off),
            CallTarget::Kfunc(id) => {
                RawInsn::new(CLASS_JMP | JMP_CALL, 0, PSEUDO_KFUNC_CALL, 0, id)
            }
            CallTarget::Reg(r) => RawInsn::new(CLASS_JMP | SRC_X | JMP_CALL, r.num(), 0, 0, 0),
        },
        Insn::Exit => RawInsn::new(CLASS_JMP | JMP_EXIT, 0, 0, 0, 0),
        Insn::LdImm64 { dst, kind, imm } => {
            out.push(RawInsn::new(
                LDDW,
                dst.num(),
                ldimm64_src(kind),
                0,
                imm as u32 as i32,
            ));
            RawInsn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32)
        }
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let mode = if signed { MODE_MEMSX } else { MODE_MEM };
            RawInsn::new(
                CLASS_LDX | mode | size_code(size),
                dst.num(),
                src.num(),
                off,
                0,
            )
        }
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => RawInsn::new(
            CLASS_ST | MODE_MEM | size_code(size),
            dst.num(),
            0,
            off,
            imm,
        ),
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => RawInsn::new(
            CLASS_STX | MODE_MEM | size_code(size),
            dst.num(),
            src.num(),
            off,
            0,
        ),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => RawInsn::new(
            CLASS_STX | MODE_ATOMIC | size_code(size),
            dst.num(),
            src.num(),
            off,
            atomic_imm(op),
        ),
        Insn::LdAbs { size, imm } => {
            RawInsn::new(CLASS_LD | MODE_ABS | size_code(size), 0, 0, 0, imm)
        }
        Insn::LdInd { size, src, imm } => {
            RawInsn::new(CLASS_LD | MODE_IND | size_code(size), 0, src.num(), 0, imm)
        }
    };
    out.push(r);
}

/// Encodes a program to little-endian bytes.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(insns.len() + 4);
    for i in insns {
        encode_raw(i, &mut raw);
    }
    raw.iter().flat_map(|r| r.to_bytes()).collect()
}
