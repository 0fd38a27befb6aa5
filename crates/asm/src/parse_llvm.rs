//! Parser for the LLVM (`llvm-objdump` / clang inline asm) syntax: `r0 = *(u32 *)(r1 + 4)`,
//! `if w1 s< 5 goto +3`, `lock *(u64 *)(r1 + 0) += r2`...

use crate::branch::{jump_stmt, parse_call};
use crate::cursor::{width_mismatch, Cursor, Stmt};
use crate::error::AsmError;
use crate::lexer::Tok;
use crate::parse_llvm_atomic::{atomic_call, lock};
use bpfkit_isa::{
    AluOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};

/// Parses one LLVM-syntax instruction (the whole line).
pub(crate) fn parse(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let stmt = match c.peek() {
        Some(Tok::Punct("*")) => Stmt::plain(store(c)?),
        Some(Tok::Ident(w)) => match w.as_str() {
            "exit" => {
                c.bump();
                Stmt::plain(Insn::Exit)
            }
            "call" => {
                c.bump();
                parse_call(c)?
            }
            "callx" => {
                c.bump();
                let (r, _) = c.llvm_reg()?;
                Stmt::plain(Insn::Call(CallTarget::Reg(r)))
            }
            "goto" | "gotol" => {
                let long = w == "gotol";
                c.bump();
                let t = c.target()?;
                jump_stmt(c, Insn::Ja { off: 0, long }, t)?
            }
            "if" => {
                c.bump();
                cond_jump(c)?
            }
            "lock" => {
                c.bump();
                Stmt::plain(lock(c)?)
            }
            "ld_pseudo" => {
                c.bump();
                Stmt::plain(ld_pseudo(c)?)
            }
            _ => Stmt::plain(assignment(c)?),
        },
        _ => return Err(c.expected("an instruction")),
    };
    c.end()?;
    Ok(stmt)
}

/// `(u32 *)` — the size inside a cast; `signed` says whether `s8`/`s16`/`s32` are allowed.
pub(crate) fn cast_size(c: &mut Cursor, allow_signed: bool) -> Result<(MemSize, bool), AsmError> {
    c.expect_punct("(")?;
    let col = c.col();
    let (word, _) = c.ident("a size (u8, u16, u32, u64)")?;
    let found = match word {
        "u8" => (MemSize::B, false),
        "u16" => (MemSize::H, false),
        "u32" => (MemSize::W, false),
        "u64" => (MemSize::DW, false),
        "s8" if allow_signed => (MemSize::B, true),
        "s16" if allow_signed => (MemSize::H, true),
        "s32" if allow_signed => (MemSize::W, true),
        _ => {
            return Err(c.err_at(
                col,
                format!("expected a size (u8, u16, u32, u64), found `{word}`"),
            ))
        }
    };
    c.expect_punct("*")?;
    c.expect_punct(")")?;
    Ok(found)
}

/// `(rN + off)`.
pub(crate) fn paren_addr(c: &mut Cursor) -> Result<(Reg, i16), AsmError> {
    c.expect_punct("(")?;
    let a = c.llvm_addr()?;
    c.expect_punct(")")?;
    Ok(a)
}

/// `*(u32 *)(r1 + 4) = r2` or `= imm`.
fn store(c: &mut Cursor) -> Result<Insn, AsmError> {
    c.expect_punct("*")?;
    let (size, _) = cast_size(c, false)?;
    let (dst, off) = paren_addr(c)?;
    c.expect_punct("=")?;
    if let Some((src, _)) = c.peek_llvm_reg() {
        c.bump();
        Ok(Insn::Stx {
            size,
            dst,
            src,
            off,
        })
    } else {
        let imm = c.imm32()?;
        Ok(Insn::St {
            size,
            dst,
            off,
            imm,
        })
    }
}

const CONDS: &[(&str, JmpCond)] = &[
    ("==", JmpCond::Eq),
    ("!=", JmpCond::Ne),
    (">", JmpCond::Gt),
    (">=", JmpCond::Ge),
    ("<", JmpCond::Lt),
    ("<=", JmpCond::Le),
    ("&", JmpCond::Set),
];

const SIGNED_CONDS: &[(&str, JmpCond)] = &[
    (">", JmpCond::Sgt),
    (">=", JmpCond::Sge),
    ("<", JmpCond::Slt),
    ("<=", JmpCond::Sle),
];

/// `rD OP rS|imm goto target` (after `if`).
fn cond_jump(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let (dst, width) = c.llvm_reg()?;
    let table = if c.eat_ident("s") {
        SIGNED_CONDS
    } else {
        CONDS
    };
    let cond = match c.peek() {
        Some(Tok::Punct(p)) => table.iter().find(|(n, _)| n == p).map(|(_, k)| *k),
        _ => None,
    }
    .ok_or_else(|| c.expected("a comparison (==, !=, >, >=, <, <=, &, s>, s>=, s<, s<=)"))?;
    c.bump();
    let src = operand(c, width)?;
    c.expect_ident("goto")?;
    let t = c.target()?;
    let insn = Insn::Jmp {
        width,
        cond,
        dst,
        src,
        off: 0,
    };
    jump_stmt(c, insn, t)
}

/// A register of the given width or an immediate.
fn operand(c: &mut Cursor, width: Width) -> Result<Operand, AsmError> {
    if c.peek_llvm_reg().is_some() {
        Ok(Operand::Reg(c.llvm_reg_w(width)?))
    } else {
        Ok(Operand::Imm(c.imm32()?))
    }
}

/// `ld_pseudo rD, KIND, IMM` — a `lddw` with a pseudo source.
fn ld_pseudo(c: &mut Cursor) -> Result<Insn, AsmError> {
    let dst = c.llvm_reg_w(Width::W64)?;
    c.expect_punct(",")?;
    let col = c.col();
    let (k, _) = c.signed("a pseudo kind number")?;
    let kind = match k {
        1 => LdImm64Kind::MapFd,
        2 => LdImm64Kind::MapValue,
        3 => LdImm64Kind::BtfId,
        4 => LdImm64Kind::Func,
        5 => LdImm64Kind::MapIdx,
        6 => LdImm64Kind::MapIdxValue,
        _ => return Err(c.err_at(col, format!("unknown ld_pseudo kind {k} (expected 1..6)"))),
    };
    c.expect_punct(",")?;
    let imm = c.imm64()?;
    Ok(Insn::LdImm64 { dst, kind, imm })
}

const ALU_ASSIGN: &[(&str, AluOp)] = &[
    ("+=", AluOp::Add),
    ("-=", AluOp::Sub),
    ("*=", AluOp::Mul),
    ("/=", AluOp::Div),
    ("|=", AluOp::Or),
    ("&=", AluOp::And),
    ("<<=", AluOp::Lsh),
    (">>=", AluOp::Rsh),
    ("%=", AluOp::Mod),
    ("^=", AluOp::Xor),
];

const SIGNED_ALU_ASSIGN: &[(&str, AluOp)] = &[
    (">>=", AluOp::Arsh),
    ("/=", AluOp::SDiv),
    ("%=", AluOp::SMod),
];

/// Everything that starts with a destination register.
fn assignment(c: &mut Cursor) -> Result<Insn, AsmError> {
    let dst_col = c.col();
    let (dst, width) = c.llvm_reg()?;
    let signed = c.eat_ident("s");
    if !signed && c.eat_punct("=") {
        return assign_rhs(c, dst, width, dst_col);
    }
    let table = if signed {
        SIGNED_ALU_ASSIGN
    } else {
        ALU_ASSIGN
    };
    let op = match c.peek() {
        Some(Tok::Punct(p)) => table.iter().find(|(n, _)| n == p).map(|(_, k)| *k),
        _ => None,
    }
    .ok_or_else(|| c.expected("an assignment operator (=, +=, -=, ...)"))?;
    c.bump();
    let src = operand(c, width)?;
    Ok(Insn::Alu {
        width,
        op,
        dst,
        src,
    })
}

/// The right-hand side of `rD = ...`.
fn assign_rhs(c: &mut Cursor, dst: Reg, width: Width, dst_col: usize) -> Result<Insn, AsmError> {
    // `rD = -rD` (negation) versus `rD = -5`.
    if matches!(c.peek(), Some(Tok::Punct("-"))) && !c.at_int() {
        c.bump();
        same_reg(c, dst, width)?;
        return Ok(Insn::Alu {
            width,
            op: AluOp::Neg,
            dst,
            src: Operand::Imm(0),
        });
    }
    if c.at_int() {
        // `rD = imm ll` is the 64-bit immediate load.
        let save = c.clone();
        let imm64 = c.imm64()?;
        if c.eat_ident("ll") {
            if width != Width::W64 {
                return Err(c.err_at(dst_col, width_mismatch(Width::W64)));
            }
            return Ok(Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::Imm,
                imm: imm64,
            });
        }
        *c = save;
        let imm = c.imm32()?;
        return Ok(mov(width, dst, Operand::Imm(imm)));
    }
    if c.peek_llvm_reg().is_some() {
        let src = c.llvm_reg_w(width)?;
        return Ok(mov(width, dst, Operand::Reg(src)));
    }
    if c.eat_punct("*") {
        return load(c, dst, dst_col);
    }
    if c.eat_punct("(") {
        // `rD = (s8)rS`: sign-extending move.
        let col = c.col();
        let (w, _) = c.ident("s8, s16 or s32")?;
        let from = match w {
            "s8" => 8,
            "s16" => 16,
            "s32" => 32,
            _ => return Err(c.err_at(col, format!("expected s8, s16 or s32, found `{w}`"))),
        };
        c.expect_punct(")")?;
        let src = c.llvm_reg_w(width)?;
        return Ok(Insn::Alu {
            width,
            op: AluOp::MovSx(from),
            dst,
            src: Operand::Reg(src),
        });
    }
    let (word, col) = c.ident("a register, an immediate, a load or an operation")?;
    if let Some(insn) = byte_swap(c, word, dst, width)? {
        return Ok(insn);
    }
    atomic_call(c, word, col, dst, width)
}

fn mov(width: Width, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op: AluOp::Mov,
        dst,
        src,
    }
}

/// Expects the register `dst` again (operations that read and write one register).
pub(crate) fn same_reg(c: &mut Cursor, dst: Reg, width: Width) -> Result<(), AsmError> {
    let col = c.col();
    let r = c.llvm_reg_w(width)?;
    if r != dst {
        return Err(c.err_at(col, format!("expected the destination register {dst} here")));
    }
    Ok(())
}

/// `be16 rD`, `le32 rD`, `bswap64 rD` after `rD =`.
fn byte_swap(c: &mut Cursor, word: &str, dst: Reg, width: Width) -> Result<Option<Insn>, AsmError> {
    let mut found = None;
    for (prefix, kind) in [
        ("be", Endian::ToBe),
        ("le", Endian::ToLe),
        ("bswap", Endian::Swap),
    ] {
        if let Some(bits @ ("16" | "32" | "64")) = word.strip_prefix(prefix) {
            found = Some((kind, bits.parse::<u8>().expect("16, 32 or 64")));
        }
    }
    let Some((kind, bits)) = found else {
        return Ok(None);
    };
    same_reg(c, dst, width)?;
    Ok(Some(Insn::End { kind, bits, dst }))
}

/// `rD = *(u32 *)(rS + off)`, `rD = *(s8 *)(...)` and `r0 = *(u8 *)skb[...]` after `rD = *`.
fn load(c: &mut Cursor, dst: Reg, dst_col: usize) -> Result<Insn, AsmError> {
    let (size, signed) = cast_size(c, true)?;
    if c.eat_ident("skb") {
        if dst != Reg::R0 {
            return Err(c.err_at(dst_col, "legacy packet loads always write r0"));
        }
        if size == MemSize::DW || signed {
            return Err(c.err_at(c.col(), "legacy packet loads are u8, u16 or u32"));
        }
        c.expect_punct("[")?;
        let insn = if c.peek_llvm_reg().is_some() {
            let (src, _) = c.llvm_reg()?;
            // `skb[rS]`, or `skb[rS + imm]` when the constant part is not zero.
            let imm = if matches!(c.peek(), Some(Tok::Punct("]"))) {
                0
            } else {
                c.imm32()?
            };
            Insn::LdInd { size, src, imm }
        } else {
            Insn::LdAbs {
                size,
                imm: c.imm32()?,
            }
        };
        c.expect_punct("]")?;
        return Ok(insn);
    }
    let (src, off) = paren_addr(c)?;
    Ok(Insn::Ldx {
        size,
        signed,
        dst,
        src,
        off,
    })
}
