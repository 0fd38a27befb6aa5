//! Printer for the uBPF / bpf_conformance syntax (`mov %r0, 1`, `ldxdw %r0, [%r1+2]`).
//! Every instruction prints losslessly; [`crate::assemble`] reads the text back.

use crate::parse_ubpf::{ALU_NAMES, JMP_NAMES, LDIMM64_KINDS};
use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, LdImm64Kind, MemSize, Operand, Reg, Width,
};

fn reg(r: Reg) -> String {
    format!("%r{}", r.num())
}

fn operand(src: Operand) -> String {
    match src {
        Operand::Reg(r) => reg(r),
        Operand::Imm(i) => i.to_string(),
    }
}

fn suffix(w: Width) -> &'static str {
    match w {
        Width::W64 => "",
        Width::W32 => "32",
    }
}

fn size(s: MemSize) -> &'static str {
    match s {
        MemSize::B => "b",
        MemSize::H => "h",
        MemSize::W => "w",
        MemSize::DW => "dw",
    }
}

/// `[%r1+2]`, `[%r10-8]`.
fn mem(base: Reg, off: i16) -> String {
    if off < 0 {
        format!("[%r{}{}]", base.num(), off)
    } else {
        format!("[%r{}+{}]", base.num(), off)
    }
}

fn target(off: i64, label: Option<&str>) -> String {
    match label {
        Some(l) => l.to_string(),
        None if off < 0 => off.to_string(),
        None => format!("+{off}"),
    }
}

fn alu_name(op: AluOp) -> &'static str {
    ALU_NAMES
        .iter()
        .find(|(_, o)| *o == op)
        .map_or("mov", |(n, _)| n)
}

/// Prints one instruction; `label`, if given, replaces the numeric jump or call offset.
pub(crate) fn print(insn: &Insn, label: Option<&str>) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => match op {
            AluOp::Neg => format!("neg{} {}", suffix(width), reg(dst)),
            AluOp::MovSx(bits) => {
                let w = if width == Width::W64 { 64 } else { 32 };
                format!("movsx{bits}{w} {}, {}", reg(dst), operand(src))
            }
            _ => format!(
                "{}{} {}, {}",
                alu_name(op),
                suffix(width),
                reg(dst),
                operand(src)
            ),
        },
        Insn::End { kind, bits, dst } => {
            let name = match kind {
                Endian::ToLe => "le",
                Endian::ToBe => "be",
                Endian::Swap => "bswap",
            };
            format!("{name}{bits} {}", reg(dst))
        }
        Insn::Ja { off, long } => {
            let m = if long { "ja32" } else { "ja" };
            format!("{m} {}", target(off as i64, label))
        }
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let name = JMP_NAMES
                .iter()
                .find(|(_, c)| *c == cond)
                .map_or("jeq", |(n, _)| n);
            format!(
                "{name}{} {}, {}, {}",
                suffix(width),
                reg(dst),
                operand(src),
                target(off as i64, label)
            )
        }
        Insn::Call(t) => match t {
            CallTarget::Helper(n) => format!("call {n}"),
            CallTarget::Local(off) => format!("call local {}", target(off as i64, label)),
            CallTarget::Kfunc(n) => format!("call runtime {n}"),
            CallTarget::Reg(r) => format!("call {}", reg(r)),
        },
        Insn::Exit => "exit".to_string(),
        Insn::LdImm64 { dst, kind, imm } => {
            let kind_name = LDIMM64_KINDS
                .iter()
                .find(|(_, k)| *k == kind)
                .map(|(n, _)| format!("{n} "));
            debug_assert!(kind_name.is_some() || kind == LdImm64Kind::Imm);
            format!(
                "lddw {}, {}{imm:#x}",
                reg(dst),
                kind_name.unwrap_or_default()
            )
        }
        Insn::Ldx {
            size: sz,
            signed,
            dst,
            src,
            off,
        } => {
            let s = if signed { "s" } else { "" };
            format!("ldx{s}{} {}, {}", size(sz), reg(dst), mem(src, off))
        }
        Insn::St {
            size: sz,
            dst,
            off,
            imm,
        } => format!("st{} {}, {imm}", size(sz), mem(dst, off)),
        Insn::Stx {
            size: sz,
            dst,
            src,
            off,
        } => format!("stx{} {}, {}", size(sz), mem(dst, off), reg(src)),
        Insn::Atomic {
            size: sz,
            op,
            dst,
            src,
            off,
        } => {
            let (name, fetch) = match op {
                AtomicOp::Add { fetch } => ("add", fetch),
                AtomicOp::Or { fetch } => ("or", fetch),
                AtomicOp::And { fetch } => ("and", fetch),
                AtomicOp::Xor { fetch } => ("xor", fetch),
                AtomicOp::Xchg => ("xchg", false),
                AtomicOp::Cmpxchg => ("cmpxchg", false),
            };
            let f = if fetch { "fetch " } else { "" };
            let w = if sz == MemSize::W { "32" } else { "" };
            format!("lock {f}{name}{w} {}, {}", mem(dst, off), reg(src))
        }
        Insn::LdAbs { size: sz, imm } => format!("ldabs{} {imm}", size(sz)),
        Insn::LdInd { size: sz, src, imm } => format!("ldind{} {}, {imm}", size(sz), reg(src)),
    }
}
