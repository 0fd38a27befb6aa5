//! Printer for the LLVM syntax, matching the instruction text of `llvm-objdump -d`
//! (LLVM 14; LLVM 19 for the v4 instructions LLVM 14 does not know).
//!
//! Where objdump's text would lose information, the printer keeps it:
//! - 32-bit atomics other than a plain `lock ... +=` print as `llvm-objdump --mattr=+alu32`
//!   does (the default mode prints `<unknown>`, or drops the fetch flag of an add);
//! - `ld_pseudo` prints the whole 64-bit immediate (objdump prints only the low 32 bits);
//! - `skb[rS + imm]` keeps a non-zero immediate of an indirect packet load.
//!
//! Helper, local and kfunc calls all print as `call N`, exactly as objdump does; see the
//! crate documentation for how to keep local calls distinct.

use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, MemSize, Operand, Reg, Width,
};
use std::fmt::Write;

fn reg(r: Reg, w: Width) -> String {
    match w {
        Width::W64 => format!("r{}", r.num()),
        Width::W32 => format!("w{}", r.num()),
    }
}

fn operand(src: Operand, w: Width) -> String {
    match src {
        Operand::Reg(r) => reg(r, w),
        Operand::Imm(i) => i.to_string(),
    }
}

fn size_name(s: MemSize, signed: bool) -> &'static str {
    match (s, signed) {
        (MemSize::B, false) => "u8",
        (MemSize::H, false) => "u16",
        (MemSize::W, false) => "u32",
        (MemSize::DW, false) => "u64",
        (MemSize::B, true) => "s8",
        (MemSize::H, true) => "s16",
        (MemSize::W, true) => "s32",
        (MemSize::DW, true) => "s64",
    }
}

/// `r1 + 4`, `r1 - 4`.
fn addr(base: Reg, off: i16) -> String {
    if off < 0 {
        format!("r{} - {}", base.num(), -(off as i32))
    } else {
        format!("r{} + {}", base.num(), off)
    }
}

/// `+5`, `-3`, `+0`, or the label when one is given.
fn target(off: i64, label: Option<&str>) -> String {
    match label {
        Some(l) => l.to_string(),
        None if off < 0 => off.to_string(),
        None => format!("+{off}"),
    }
}

fn alu_op(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Arsh => "s>>=",
        AluOp::Mov | AluOp::MovSx(_) | AluOp::Neg => "=",
    }
}

pub(crate) fn cond_op(c: JmpCond) -> &'static str {
    match c {
        JmpCond::Eq => "==",
        JmpCond::Gt => ">",
        JmpCond::Ge => ">=",
        JmpCond::Set => "&",
        JmpCond::Ne => "!=",
        JmpCond::Sgt => "s>",
        JmpCond::Sge => "s>=",
        JmpCond::Lt => "<",
        JmpCond::Le => "<=",
        JmpCond::Slt => "s<",
        JmpCond::Sle => "s<=",
    }
}

/// Prints one instruction; `label`, if given, replaces the numeric jump or call offset.
pub(crate) fn print(insn: &Insn, label: Option<&str>) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let d = reg(dst, width);
            match op {
                AluOp::Neg => format!("{d} = -{d}"),
                AluOp::MovSx(bits) => format!("{d} = (s{bits}){}", operand(src, width)),
                _ => format!("{d} {} {}", alu_op(op), operand(src, width)),
            }
        }
        Insn::End { kind, bits, dst } => {
            let name = match kind {
                Endian::ToLe => "le",
                Endian::ToBe => "be",
                Endian::Swap => "bswap",
            };
            format!("r{0} = {name}{bits} r{0}", dst.num())
        }
        Insn::Ja { off, long } => {
            let m = if long { "gotol" } else { "goto" };
            format!("{m} {}", target(off as i64, label))
        }
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => format!(
            "if {} {} {} goto {}",
            reg(dst, width),
            cond_op(cond),
            operand(src, width),
            target(off as i64, label)
        ),
        Insn::Call(t) => match t {
            CallTarget::Helper(n) | CallTarget::Kfunc(n) => format!("call {n}"),
            CallTarget::Local(n) => match label {
                Some(l) => format!("call {l}"),
                None => format!("call {n}"),
            },
            CallTarget::Reg(r) => format!("callx r{}", r.num()),
        },
        Insn::Exit => "exit".to_string(),
        Insn::LdImm64 { dst, kind, imm } => match kind {
            bpfkit_isa::LdImm64Kind::Imm => format!("r{} = {} ll", dst.num(), imm as i64),
            k => format!("ld_pseudo\tr{}, {}, {imm}", dst.num(), pseudo_num(k)),
        },
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => format!(
            "r{} = *({} *)({})",
            dst.num(),
            size_name(size, signed),
            addr(src, off)
        ),
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => format!(
            "*({} *)({}) = {imm}",
            size_name(size, false),
            addr(dst, off)
        ),
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => format!(
            "*({} *)({}) = r{}",
            size_name(size, false),
            addr(dst, off),
            src.num()
        ),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => atomic(size, op, dst, src, off),
        Insn::LdAbs { size, imm } => format!("r0 = *({} *)skb[{imm}]", size_name(size, false)),
        Insn::LdInd { size, src, imm } => {
            let mut s = format!("r0 = *({} *)skb[r{}", size_name(size, false), src.num());
            match imm {
                0 => {}
                i if i < 0 => write!(s, " - {}", -(i as i64)).expect("write to String"),
                i => write!(s, " + {i}").expect("write to String"),
            }
            s.push(']');
            s
        }
    }
}

fn pseudo_num(k: bpfkit_isa::LdImm64Kind) -> u8 {
    use bpfkit_isa::LdImm64Kind::*;
    match k {
        Imm => 0,
        MapFd => 1,
        MapValue => 2,
        BtfId => 3,
        Func => 4,
        MapIdx => 5,
        MapIdxValue => 6,
    }
}

fn atomic(size: MemSize, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> String {
    let (w, sz) = match size {
        MemSize::DW => (Width::W64, "u64"),
        _ => (Width::W32, "u32"),
    };
    let a = addr(dst, off);
    let s = reg(src, w);
    let (name, fetch) = match op {
        AtomicOp::Add { fetch } => ("add", fetch),
        AtomicOp::Or { fetch } => ("or", fetch),
        AtomicOp::And { fetch } => ("and", fetch),
        AtomicOp::Xor { fetch } => ("xor", fetch),
        AtomicOp::Xchg => {
            let f = if w == Width::W64 {
                "xchg_64"
            } else {
                "xchg32_32"
            };
            return format!("{s} = {f}({a}, {s})");
        }
        AtomicOp::Cmpxchg => {
            let (f, r0) = if w == Width::W64 {
                ("cmpxchg_64", "r0")
            } else {
                ("cmpxchg32_32", "w0")
            };
            return format!("{r0} = {f}({a}, {r0}, {s})");
        }
    };
    if fetch {
        return format!("{s} = atomic_fetch_{name}(({sz} *)({a}), {s})");
    }
    let opsym = match name {
        "add" => "+=",
        "or" => "|=",
        "and" => "&=",
        _ => "^=",
    };
    // llvm-objdump's default mode prints the plain 32-bit add with a 64-bit register name.
    let s = if matches!(op, AtomicOp::Add { .. }) {
        format!("r{}", src.num())
    } else {
        s
    };
    format!("lock *({sz} *)({a}) {opsym} {s}")
}
