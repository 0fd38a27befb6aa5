//! The atomic forms of the LLVM syntax: `lock *(u64 *)(r1 + 0) += r2`,
//! `r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)`, `r2 = xchg_64(r1 + 0, r2)`,
//! `r0 = cmpxchg_64(r1 + 0, r0, r2)` and their 32-bit (`u32`, `w`) forms.

use crate::cursor::Cursor;
use crate::error::AsmError;
use crate::lexer::Tok;
use crate::parse_llvm::{cast_size, paren_addr, same_reg};
use bpfkit_isa::{AtomicOp, Insn, MemSize, Reg, Width};

/// Builds an atomic operation from its fetch flag.
type AtomicCtor = fn(bool) -> AtomicOp;

const ATOMIC_OPS: &[(&str, AtomicCtor)] = &[
    ("+=", |fetch| AtomicOp::Add { fetch }),
    ("|=", |fetch| AtomicOp::Or { fetch }),
    ("&=", |fetch| AtomicOp::And { fetch }),
    ("^=", |fetch| AtomicOp::Xor { fetch }),
];

/// `*(u64 *)(r1 + 0) += r2` (after `lock`).
pub(crate) fn lock(c: &mut Cursor) -> Result<Insn, AsmError> {
    c.expect_punct("*")?;
    let size = atomic_size(c)?;
    let (dst, off) = paren_addr(c)?;
    let op = match c.peek() {
        Some(Tok::Punct(p)) => ATOMIC_OPS
            .iter()
            .find(|(n, _)| n == p)
            .map(|(_, f)| f(false)),
        _ => None,
    }
    .ok_or_else(|| c.expected("`+=`, `|=`, `&=` or `^=`"))?;
    c.bump();
    let (src, _) = c.llvm_reg()?;
    Ok(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    })
}

fn atomic_size(c: &mut Cursor) -> Result<MemSize, AsmError> {
    let col = c.col();
    match cast_size(c, false)? {
        (s @ (MemSize::W | MemSize::DW), _) => Ok(s),
        _ => Err(c.err_at(col, "atomic operations are 32 or 64 bits wide")),
    }
}

const FETCH_OPS: &[(&str, AtomicCtor)] = &[
    ("atomic_fetch_add", |fetch| AtomicOp::Add { fetch }),
    ("atomic_fetch_or", |fetch| AtomicOp::Or { fetch }),
    ("atomic_fetch_and", |fetch| AtomicOp::And { fetch }),
    ("atomic_fetch_xor", |fetch| AtomicOp::Xor { fetch }),
];

/// `rS = atomic_fetch_add((u64 *)(rD + off), rS)`, `rS = xchg_64(rD + off, rS)`,
/// `r0 = cmpxchg_64(rD + off, r0, rS)` and their 32-bit forms.
pub(crate) fn atomic_call(
    c: &mut Cursor,
    word: &str,
    col: usize,
    result: Reg,
    width: Width,
) -> Result<Insn, AsmError> {
    if let Some((_, f)) = FETCH_OPS.iter().find(|(n, _)| *n == word) {
        c.expect_punct("(")?;
        let size = atomic_size(c)?;
        let (dst, off) = paren_addr(c)?;
        c.expect_punct(",")?;
        same_reg(c, result, width)?;
        c.expect_punct(")")?;
        return Ok(Insn::Atomic {
            size,
            op: f(true),
            dst,
            src: result,
            off,
        });
    }
    let (size, cmp) = match word {
        "xchg_64" => (MemSize::DW, false),
        "xchg32_32" => (MemSize::W, false),
        "cmpxchg_64" => (MemSize::DW, true),
        "cmpxchg32_32" => (MemSize::W, true),
        _ => {
            return Err(c.err_at(
                col,
                format!(
                    "expected a register, an immediate, a load or an operation, found `{word}`"
                ),
            ))
        }
    };
    c.expect_punct("(")?;
    let (dst, off) = c.llvm_addr()?;
    c.expect_punct(",")?;
    let op = if cmp {
        // The comparand is always r0, and so is the result.
        if result != Reg::R0 {
            return Err(c.err_at(col, "cmpxchg always writes r0"));
        }
        same_reg(c, Reg::R0, width)?;
        c.expect_punct(",")?;
        AtomicOp::Cmpxchg
    } else {
        AtomicOp::Xchg
    };
    let src_col = c.col();
    let (src, _) = c.llvm_reg()?;
    if !cmp && src != result {
        return Err(c.err_at(
            src_col,
            format!("expected the destination register {result} here"),
        ));
    }
    c.expect_punct(")")?;
    Ok(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    })
}
