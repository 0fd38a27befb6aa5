//! Raw slots to typed instructions, rejecting every encoding RFC 9669 does not define.

use crate::insn::*;
use crate::opcode::*;
use crate::raw::RawInsn;
use thiserror::Error;

/// An instruction together with the slot it starts at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Index of the instruction's first slot (what jump offsets count).
    pub pc: usize,
    /// The instruction.
    pub insn: Insn,
}

/// A decode error at a given slot.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {index}: {kind}")]
pub struct DecodeError {
    /// Slot index of the offending instruction (or the byte length for a ragged program).
    pub index: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What made an instruction undecodable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The byte length is not a multiple of 8.
    #[error("program length {0} is not a multiple of 8 bytes")]
    RaggedLength(usize),
    /// No instruction has this opcode.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A field this opcode does not use holds a non-zero value.
    #[error("opcode {code:#04x}: reserved field {field} must be 0, is {value}")]
    ReservedField {
        /// The opcode.
        code: u8,
        /// Which field (`dst`, `src`, `off`, `imm`).
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// A register field above 10.
    #[error("invalid register r{0}")]
    BadRegister(u8),
    /// `lddw` in the last slot.
    #[error("incomplete lddw: its second slot is missing")]
    TruncatedLdImm64,
    /// The second slot of `lddw` has fields other than imm set.
    #[error("invalid second slot of lddw")]
    BadLdImm64Tail,
    /// `lddw` with an undefined src_reg.
    #[error("lddw with unknown pseudo source {0}")]
    BadLdImm64Kind(u8),
    /// Byte swap width other than 16, 32, 64.
    #[error("invalid byte-swap width {0}")]
    BadEndianWidth(i32),
    /// Offset field of div/mod/mov not 0/1 or 0/8/16/32.
    #[error("opcode {code:#04x}: invalid offset {off}")]
    BadOffset {
        /// The opcode.
        code: u8,
        /// Its offset field.
        off: i16,
    },
    /// Atomic with an undefined operation in imm.
    #[error("invalid atomic operation {0:#x}")]
    BadAtomicOp(i32),
    /// Call with an undefined src_reg.
    #[error("call with unknown pseudo source {0}")]
    BadCallKind(u8),
}

fn reg(n: u8) -> Result<Reg, DecodeErrorKind> {
    Reg::new(n).ok_or(DecodeErrorKind::BadRegister(n))
}

fn zero(code: u8, field: &'static str, value: i64) -> Result<(), DecodeErrorKind> {
    if value == 0 {
        Ok(())
    } else {
        Err(DecodeErrorKind::ReservedField { code, field, value })
    }
}

fn mem_size(code: u8) -> MemSize {
    match code & 0x18 {
        SIZE_W => MemSize::W,
        SIZE_H => MemSize::H,
        SIZE_B => MemSize::B,
        _ => MemSize::DW,
    }
}

/// Decodes a program from little-endian bytes.
pub fn decode(bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError {
            index: bytes.len() / 8,
            kind: DecodeErrorKind::RaggedLength(bytes.len()),
        });
    }
    let raw: Vec<RawInsn> = bytes
        .chunks_exact(8)
        .map(|c| RawInsn::from_bytes(c.try_into().expect("chunk of 8")))
        .collect();
    decode_raw(&raw)
}

/// Decodes a program from raw slots.
pub fn decode_raw(raw: &[RawInsn]) -> Result<Vec<Decoded>, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut pc = 0;
    while pc < raw.len() {
        let insn = decode_one(raw, pc).map_err(|kind| DecodeError { index: pc, kind })?;
        out.push(Decoded { pc, insn });
        pc += insn.slots();
    }
    Ok(out)
}

fn decode_one(raw: &[RawInsn], pc: usize) -> Result<Insn, DecodeErrorKind> {
    let r = raw[pc];
    match r.code & 0x07 {
        CLASS_ALU | CLASS_ALU64 => decode_alu(r),
        CLASS_JMP | CLASS_JMP32 => decode_jmp(r),
        CLASS_LD => decode_ld(raw, pc),
        CLASS_LDX => {
            let signed = match r.code & 0xe0 {
                MODE_MEM => false,
                MODE_MEMSX if r.code & 0x18 != SIZE_DW => true,
                _ => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
            };
            zero(r.code, "imm", r.imm as i64)?;
            Ok(Insn::Ldx {
                size: mem_size(r.code),
                signed,
                dst: reg(r.dst)?,
                src: reg(r.src)?,
                off: r.off,
            })
        }
        CLASS_ST => {
            if r.code & 0xe0 != MODE_MEM {
                return Err(DecodeErrorKind::UnknownOpcode(r.code));
            }
            zero(r.code, "src", r.src as i64)?;
            Ok(Insn::St { size: mem_size(r.code), dst: reg(r.dst)?, off: r.off, imm: r.imm })
        }
        _ /* CLASS_STX */ => {
            let size = mem_size(r.code);
            let (dst, src) = (reg(r.dst)?, reg(r.src)?);
            match r.code & 0xe0 {
                MODE_MEM => {
                    zero(r.code, "imm", r.imm as i64)?;
                    Ok(Insn::Stx { size, dst, src, off: r.off })
                }
                MODE_ATOMIC if matches!(size, MemSize::W | MemSize::DW) => {
                    let fetch = r.imm & ATOMIC_FETCH != 0;
                    let op = match r.imm & !ATOMIC_FETCH {
                        ATOMIC_ADD => AtomicOp::Add { fetch },
                        ATOMIC_OR => AtomicOp::Or { fetch },
                        ATOMIC_AND => AtomicOp::And { fetch },
                        ATOMIC_XOR => AtomicOp::Xor { fetch },
                        _ if r.imm == ATOMIC_XCHG => AtomicOp::Xchg,
                        _ if r.imm == ATOMIC_CMPXCHG => AtomicOp::Cmpxchg,
                        _ => return Err(DecodeErrorKind::BadAtomicOp(r.imm)),
                    };
                    Ok(Insn::Atomic { size, op, dst, src, off: r.off })
                }
                _ => Err(DecodeErrorKind::UnknownOpcode(r.code)),
            }
        }
    }
}

fn decode_alu(r: RawInsn) -> Result<Insn, DecodeErrorKind> {
    let width = if r.code & 0x07 == CLASS_ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let dst = reg(r.dst)?;
    let x = r.code & SRC_X != 0;
    // Byte swaps use the source bit as to-big-endian and imm as the width: checked below.
    let src = if r.code & 0xf0 == ALU_END {
        Operand::Imm(r.imm)
    } else if x {
        zero(r.code, "imm", r.imm as i64)?;
        Operand::Reg(reg(r.src)?)
    } else {
        zero(r.code, "src", r.src as i64)?;
        Operand::Imm(r.imm)
    };
    let bad_off = || DecodeErrorKind::BadOffset {
        code: r.code,
        off: r.off,
    };
    let op = match r.code & 0xf0 {
        ALU_ADD => AluOp::Add,
        ALU_SUB => AluOp::Sub,
        ALU_MUL => AluOp::Mul,
        ALU_OR => AluOp::Or,
        ALU_AND => AluOp::And,
        ALU_LSH => AluOp::Lsh,
        ALU_RSH => AluOp::Rsh,
        ALU_XOR => AluOp::Xor,
        ALU_ARSH => AluOp::Arsh,
        ALU_DIV | ALU_MOD => {
            let signed = match r.off {
                0 => false,
                1 => true,
                _ => return Err(bad_off()),
            };
            return Ok(Insn::Alu {
                width,
                op: match (r.code & 0xf0 == ALU_DIV, signed) {
                    (true, false) => AluOp::Div,
                    (true, true) => AluOp::SDiv,
                    (false, false) => AluOp::Mod,
                    (false, true) => AluOp::SMod,
                },
                dst,
                src,
            });
        }
        ALU_MOV => {
            let op = match (r.off, x, width) {
                (0, _, _) => AluOp::Mov,
                (8 | 16, true, _) | (32, true, Width::W64) => AluOp::MovSx(r.off as u8),
                _ => return Err(bad_off()),
            };
            return Ok(Insn::Alu {
                width,
                op,
                dst,
                src,
            });
        }
        ALU_NEG => {
            if x {
                return Err(DecodeErrorKind::UnknownOpcode(r.code));
            }
            zero(r.code, "imm", r.imm as i64)?;
            AluOp::Neg
        }
        ALU_END => {
            zero(r.code, "src", r.src as i64)?;
            zero(r.code, "off", r.off as i64)?;
            let kind = match (width, x) {
                (Width::W32, false) => Endian::ToLe,
                (Width::W32, true) => Endian::ToBe,
                (Width::W64, false) => Endian::Swap,
                (Width::W64, true) => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
            };
            if !matches!(r.imm, 16 | 32 | 64) {
                return Err(DecodeErrorKind::BadEndianWidth(r.imm));
            }
            return Ok(Insn::End {
                kind,
                bits: r.imm as u8,
                dst,
            });
        }
        _ => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
    };
    zero(r.code, "off", r.off as i64)?;
    Ok(Insn::Alu {
        width,
        op,
        dst,
        src,
    })
}

fn decode_jmp(r: RawInsn) -> Result<Insn, DecodeErrorKind> {
    let jmp32 = r.code & 0x07 == CLASS_JMP32;
    let x = r.code & SRC_X != 0;
    let cond = match r.code & 0xf0 {
        JMP_JA => {
            if x {
                return Err(DecodeErrorKind::UnknownOpcode(r.code));
            }
            zero(r.code, "dst", r.dst as i64)?;
            zero(r.code, "src", r.src as i64)?;
            return if jmp32 {
                zero(r.code, "off", r.off as i64)?;
                Ok(Insn::Ja {
                    off: r.imm,
                    long: true,
                })
            } else {
                zero(r.code, "imm", r.imm as i64)?;
                Ok(Insn::Ja {
                    off: r.off as i32,
                    long: false,
                })
            };
        }
        JMP_CALL if !jmp32 => {
            zero(r.code, "off", r.off as i64)?;
            if x {
                zero(r.code, "src", r.src as i64)?;
                zero(r.code, "imm", r.imm as i64)?;
                return Ok(Insn::Call(CallTarget::Reg(reg(r.dst)?)));
            }
            zero(r.code, "dst", r.dst as i64)?;
            return Ok(Insn::Call(match r.src {
                0 => CallTarget::Helper(r.imm),
                PSEUDO_CALL => CallTarget::Local(r.imm),
                PSEUDO_KFUNC_CALL => CallTarget::Kfunc(r.imm),
                s => return Err(DecodeErrorKind::BadCallKind(s)),
            }));
        }
        JMP_EXIT if !jmp32 && !x => {
            zero(r.code, "dst", r.dst as i64)?;
            zero(r.code, "src", r.src as i64)?;
            zero(r.code, "off", r.off as i64)?;
            zero(r.code, "imm", r.imm as i64)?;
            return Ok(Insn::Exit);
        }
        JMP_JEQ => JmpCond::Eq,
        JMP_JGT => JmpCond::Gt,
        JMP_JGE => JmpCond::Ge,
        JMP_JSET => JmpCond::Set,
        JMP_JNE => JmpCond::Ne,
        JMP_JSGT => JmpCond::Sgt,
        JMP_JSGE => JmpCond::Sge,
        JMP_JLT => JmpCond::Lt,
        JMP_JLE => JmpCond::Le,
        JMP_JSLT => JmpCond::Slt,
        JMP_JSLE => JmpCond::Sle,
        _ => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
    };
    let src = if x {
        zero(r.code, "imm", r.imm as i64)?;
        Operand::Reg(reg(r.src)?)
    } else {
        zero(r.code, "src", r.src as i64)?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Jmp {
        width: if jmp32 { Width::W32 } else { Width::W64 },
        cond,
        dst: reg(r.dst)?,
        src,
        off: r.off,
    })
}

fn decode_ld(raw: &[RawInsn], pc: usize) -> Result<Insn, DecodeErrorKind> {
    let r = raw[pc];
    let size = mem_size(r.code);
    match r.code & 0xe0 {
        MODE_IMM if size == MemSize::DW => {
            let tail = *raw.get(pc + 1).ok_or(DecodeErrorKind::TruncatedLdImm64)?;
            if tail.code != 0 || tail.dst != 0 || tail.src != 0 || tail.off != 0 {
                return Err(DecodeErrorKind::BadLdImm64Tail);
            }
            zero(r.code, "off", r.off as i64)?;
            let kind = match r.src {
                0 => LdImm64Kind::Imm,
                PSEUDO_MAP_FD => LdImm64Kind::MapFd,
                PSEUDO_MAP_VALUE => LdImm64Kind::MapValue,
                PSEUDO_BTF_ID => LdImm64Kind::BtfId,
                PSEUDO_FUNC => LdImm64Kind::Func,
                PSEUDO_MAP_IDX => LdImm64Kind::MapIdx,
                PSEUDO_MAP_IDX_VALUE => LdImm64Kind::MapIdxValue,
                s => return Err(DecodeErrorKind::BadLdImm64Kind(s)),
            };
            let imm = (r.imm as u32 as u64) | ((tail.imm as u32 as u64) << 32);
            Ok(Insn::LdImm64 {
                dst: reg(r.dst)?,
                kind,
                imm,
            })
        }
        MODE_ABS | MODE_IND if size != MemSize::DW => {
            zero(r.code, "dst", r.dst as i64)?;
            zero(r.code, "off", r.off as i64)?;
            if r.code & 0xe0 == MODE_ABS {
                zero(r.code, "src", r.src as i64)?;
                Ok(Insn::LdAbs { size, imm: r.imm })
            } else {
                Ok(Insn::LdInd {
                    size,
                    src: reg(r.src)?,
                    imm: r.imm,
                })
            }
        }
        _ => Err(DecodeErrorKind::UnknownOpcode(r.code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode;

    #[test]
    fn rejects_half_lddw_at_end() {
        let bytes = [0x18, 0x01, 0, 0, 1, 0, 0, 0];
        let e = decode(&bytes).unwrap_err();
        assert_eq!(e.index, 0);
        assert_eq!(e.kind, DecodeErrorKind::TruncatedLdImm64);
    }

    #[test]
    fn rejects_unknown_opcode_with_index() {
        let mut b = encode(&[Insn::Exit, Insn::Exit]);
        b[8] = 0x8f;
        let e = decode(&b).unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(e.to_string(), "insn 1: unknown opcode 0x8f");
    }

    #[test]
    fn rejects_reserved_fields() {
        // exit with imm set
        let b = RawInsn::new(0x95, 0, 0, 0, 1).to_bytes();
        assert!(matches!(
            decode(&b).unwrap_err().kind,
            DecodeErrorKind::ReservedField { .. }
        ));
        // mov64 imm with src set
        let b = RawInsn::new(0xb7, 0, 3, 0, 1).to_bytes();
        assert!(matches!(
            decode(&b).unwrap_err().kind,
            DecodeErrorKind::ReservedField { .. }
        ));
        // register 11
        let b = RawInsn::new(0xb7, 11, 0, 0, 1).to_bytes();
        assert_eq!(
            decode(&b).unwrap_err().kind,
            DecodeErrorKind::BadRegister(11)
        );
    }

    #[test]
    fn pcs_count_slots() {
        let prog = [
            Insn::LdImm64 {
                dst: Reg::R0,
                kind: LdImm64Kind::Imm,
                imm: u64::MAX,
            },
            Insn::Exit,
        ];
        let d = decode(&encode(&prog)).unwrap();
        assert_eq!(d[1].pc, 2);
    }
}
