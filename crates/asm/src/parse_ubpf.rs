//! Parser for the uBPF / bpf_conformance syntax: `mnemonic operand, operand...`
//! with `%rN` registers and `[%rN+off]` memory operands.

use crate::branch::{jump_stmt, parse_call};
use crate::cursor::{size_suffix, Cursor, Stmt};
use crate::error::AsmError;
use crate::lexer::Tok;
use bpfkit_isa::{AluOp, AtomicOp, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Width};

/// Parses one instruction whose mnemonic (already consumed) is `mnemonic` at column `mcol`.
pub(crate) fn parse(c: &mut Cursor, mnemonic: &str, mcol: usize) -> Result<Stmt, AsmError> {
    let stmt = match mnemonic {
        "exit" => Stmt::plain(Insn::Exit),
        "call" => parse_call(c)?,
        "lddw" => lddw(c)?,
        "ja" => jump_always(c, false)?,
        "ja32" => jump_always(c, true)?,
        "lock" => atomic(c)?,
        _ => {
            if let Some(insn) = simple(c, mnemonic)? {
                Stmt::plain(insn)
            } else if let Some(stmt) = cond_jump(c, mnemonic)? {
                stmt
            } else {
                return Err(c.err_at(mcol, format!("unknown mnemonic `{mnemonic}`")));
            }
        }
    };
    c.end()?;
    Ok(stmt)
}

fn jump_always(c: &mut Cursor, long: bool) -> Result<Stmt, AsmError> {
    let t = c.target()?;
    jump_stmt(c, Insn::Ja { off: 0, long }, t)
}

fn lddw(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let dst = c.ubpf_reg()?;
    c.expect_punct(",")?;
    let kind = match c.peek() {
        Some(Tok::Ident(w)) => {
            let kind =
                ldimm64_kind(w).ok_or_else(|| c.expected("an immediate or a pseudo kind"))?;
            c.bump();
            kind
        }
        _ => LdImm64Kind::Imm,
    };
    let imm = c.imm64()?;
    Ok(Stmt::plain(Insn::LdImm64 { dst, kind, imm }))
}

/// Keywords naming the pseudo forms of `lddw` in this syntax.
pub(crate) const LDIMM64_KINDS: &[(&str, LdImm64Kind)] = &[
    ("map_fd", LdImm64Kind::MapFd),
    ("map_value", LdImm64Kind::MapValue),
    ("btf_id", LdImm64Kind::BtfId),
    ("func", LdImm64Kind::Func),
    ("map_idx", LdImm64Kind::MapIdx),
    ("map_idx_value", LdImm64Kind::MapIdxValue),
];

fn ldimm64_kind(w: &str) -> Option<LdImm64Kind> {
    LDIMM64_KINDS
        .iter()
        .find(|(name, _)| *name == w)
        .map(|(_, k)| *k)
}

/// `[%rN]`, `[%rN+off]`, `[%rN-off]`.
fn mem(c: &mut Cursor) -> Result<(bpfkit_isa::Reg, i16), AsmError> {
    c.expect_punct("[")?;
    let base = c.ubpf_reg()?;
    let off = if matches!(c.peek(), Some(Tok::Punct("+" | "-"))) {
        c.off16()?
    } else {
        0
    };
    c.expect_punct("]")?;
    Ok((base, off))
}

fn reg_or_imm(c: &mut Cursor) -> Result<Operand, AsmError> {
    if matches!(c.peek(), Some(Tok::Punct("%"))) {
        Ok(Operand::Reg(c.ubpf_reg()?))
    } else {
        Ok(Operand::Imm(c.imm32()?))
    }
}

/// Splits a trailing `32` (32-bit class) off a mnemonic.
fn split_width(m: &str) -> (&str, Width) {
    match m.strip_suffix("32") {
        Some(base) => (base, Width::W32),
        None => (m, Width::W64),
    }
}

pub(crate) const ALU_NAMES: &[(&str, AluOp)] = &[
    ("add", AluOp::Add),
    ("sub", AluOp::Sub),
    ("mul", AluOp::Mul),
    ("div", AluOp::Div),
    ("sdiv", AluOp::SDiv),
    ("or", AluOp::Or),
    ("and", AluOp::And),
    ("lsh", AluOp::Lsh),
    ("rsh", AluOp::Rsh),
    ("neg", AluOp::Neg),
    ("mod", AluOp::Mod),
    ("smod", AluOp::SMod),
    ("xor", AluOp::Xor),
    ("mov", AluOp::Mov),
    ("arsh", AluOp::Arsh),
];

pub(crate) const JMP_NAMES: &[(&str, JmpCond)] = &[
    ("jeq", JmpCond::Eq),
    ("jgt", JmpCond::Gt),
    ("jge", JmpCond::Ge),
    ("jset", JmpCond::Set),
    ("jne", JmpCond::Ne),
    ("jsgt", JmpCond::Sgt),
    ("jsge", JmpCond::Sge),
    ("jlt", JmpCond::Lt),
    ("jle", JmpCond::Le),
    ("jslt", JmpCond::Slt),
    ("jsle", JmpCond::Sle),
];

/// ALU, byte swap, load, store and legacy packet-load mnemonics; `None` if `m` is none of them.
fn simple(c: &mut Cursor, m: &str) -> Result<Option<Insn>, AsmError> {
    // Byte swaps: be16, le32, bswap64, swap16.
    for (prefix, kind) in [
        ("be", Endian::ToBe),
        ("le", Endian::ToLe),
        ("bswap", Endian::Swap),
        ("swap", Endian::Swap),
    ] {
        if let Some(bits @ ("16" | "32" | "64")) = m.strip_prefix(prefix) {
            let dst = c.ubpf_reg()?;
            let bits = bits.parse().expect("16, 32 or 64");
            return Ok(Some(Insn::End { kind, bits, dst }));
        }
    }
    // Sign-extending moves: movsx{8,16,32}{32,64}.
    if let Some(rest) = m.strip_prefix("movsx") {
        let (from, width) = match rest {
            "832" => (8, Width::W32),
            "864" => (8, Width::W64),
            "1632" => (16, Width::W32),
            "1664" => (16, Width::W64),
            "3264" => (32, Width::W64),
            _ => return Ok(None),
        };
        let dst = c.ubpf_reg()?;
        c.expect_punct(",")?;
        let src = Operand::Reg(c.ubpf_reg()?);
        return Ok(Some(Insn::Alu {
            width,
            op: AluOp::MovSx(from),
            dst,
            src,
        }));
    }
    let (base, width) = split_width(m);
    if let Some((_, op)) = ALU_NAMES.iter().find(|(n, _)| *n == base) {
        let dst = c.ubpf_reg()?;
        let src = if *op == AluOp::Neg {
            Operand::Imm(0)
        } else {
            c.expect_punct(",")?;
            reg_or_imm(c)?
        };
        return Ok(Some(Insn::Alu {
            width,
            op: *op,
            dst,
            src,
        }));
    }
    if let Some(sz) = m.strip_prefix("ldxs").and_then(size_suffix) {
        // There is no sign-extending 64-bit load.
        if sz == MemSize::DW {
            return Ok(None);
        }
        return ldx(c, sz, true).map(Some);
    }
    if let Some(sz) = m.strip_prefix("ldx").and_then(size_suffix) {
        return ldx(c, sz, false).map(Some);
    }
    if let Some(size) = m.strip_prefix("stx").and_then(size_suffix) {
        let (dst, off) = mem(c)?;
        c.expect_punct(",")?;
        let src = c.ubpf_reg()?;
        return Ok(Some(Insn::Stx {
            size,
            dst,
            src,
            off,
        }));
    }
    if let Some(size) = m.strip_prefix("st").and_then(size_suffix) {
        let (dst, off) = mem(c)?;
        c.expect_punct(",")?;
        let imm = c.imm32()?;
        return Ok(Some(Insn::St {
            size,
            dst,
            off,
            imm,
        }));
    }
    // Legacy packet loads exist in sizes b, h and w only.
    let packet_size = |prefix: &str| {
        m.strip_prefix(prefix)
            .and_then(size_suffix)
            .filter(|s| *s != MemSize::DW)
    };
    if let Some(size) = packet_size("ldabs") {
        return Ok(Some(Insn::LdAbs {
            size,
            imm: c.imm32()?,
        }));
    }
    if let Some(size) = packet_size("ldind") {
        let src = c.ubpf_reg()?;
        c.expect_punct(",")?;
        let imm = c.imm32()?;
        return Ok(Some(Insn::LdInd { size, src, imm }));
    }
    Ok(None)
}

fn ldx(c: &mut Cursor, size: MemSize, signed: bool) -> Result<Insn, AsmError> {
    let dst = c.ubpf_reg()?;
    c.expect_punct(",")?;
    let (src, off) = mem(c)?;
    Ok(Insn::Ldx {
        size,
        signed,
        dst,
        src,
        off,
    })
}

/// `jeq %r1, %r2|imm, target` and the other conditions, with an optional `32` suffix.
fn cond_jump(c: &mut Cursor, m: &str) -> Result<Option<Stmt>, AsmError> {
    let (base, width) = split_width(m);
    let Some((_, cond)) = JMP_NAMES.iter().find(|(n, _)| *n == base) else {
        return Ok(None);
    };
    let dst = c.ubpf_reg()?;
    c.expect_punct(",")?;
    let src = reg_or_imm(c)?;
    c.expect_punct(",")?;
    let t = c.target()?;
    let insn = Insn::Jmp {
        width,
        cond: *cond,
        dst,
        src,
        off: 0,
    };
    jump_stmt(c, insn, t).map(Some)
}

/// `lock [fetch] add|and|or|xor|xchg|cmpxchg[32] [%rN+off], %rM`.
fn atomic(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let fetch = c.eat_ident("fetch");
    let (word, col) = c.ident("an atomic operation (add, and, or, xor, xchg, cmpxchg)")?;
    let (base, width) = split_width(word);
    let op = match base {
        "add" => AtomicOp::Add { fetch },
        "and" => AtomicOp::And { fetch },
        "or" => AtomicOp::Or { fetch },
        "xor" => AtomicOp::Xor { fetch },
        // These always fetch; a redundant `fetch` is accepted.
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::Cmpxchg,
        _ => return Err(c.err_at(col, format!("unknown atomic operation `{word}`"))),
    };
    let (dst, off) = mem(c)?;
    c.expect_punct(",")?;
    let src = c.ubpf_reg()?;
    let size = if width == Width::W32 {
        MemSize::W
    } else {
        MemSize::DW
    };
    Ok(Stmt::plain(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }))
}
