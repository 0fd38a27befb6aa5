//! Jumps and calls, shared by both syntaxes: call operands, numeric or label targets, and
//! fitting a resolved offset into the instruction's field.

use crate::cursor::{Cursor, Stmt, Target};
use crate::error::AsmError;
use crate::lexer::Tok;
use bpfkit_isa::{CallTarget, Insn};

/// `call N`, `call helper N`, `call local <target>`, `call runtime|kfunc N`, `call %rN`,
/// and LLVM's `call <label>` / `callx rN` (shared by both syntaxes).
pub(crate) fn parse_call(c: &mut Cursor) -> Result<Stmt, AsmError> {
    if matches!(c.peek(), Some(Tok::Punct("%"))) {
        return Ok(Stmt::plain(Insn::Call(CallTarget::Reg(c.ubpf_reg()?))));
    }
    if c.at_int() {
        return Ok(Stmt::plain(Insn::Call(CallTarget::Helper(c.imm32()?))));
    }
    let (word, col) = c.ident("a helper number, `local`, `%rN` or a label")?;
    match word {
        "helper" => Ok(Stmt::plain(Insn::Call(CallTarget::Helper(c.imm32()?)))),
        "runtime" | "kfunc" => Ok(Stmt::plain(Insn::Call(CallTarget::Kfunc(c.imm32()?)))),
        "local" => {
            let t = c.target()?;
            local_call(c, t)
        }
        label => local_call(c, Target::Label(label.to_string(), col)),
    }
}

fn local_call(c: &Cursor, t: Target) -> Result<Stmt, AsmError> {
    match t {
        Target::Offset(off, col) => {
            let off = i32::try_from(off)
                .map_err(|_| c.err_at(col, format!("call offset {off} does not fit in 32 bits")))?;
            Ok(Stmt::plain(Insn::Call(CallTarget::Local(off))))
        }
        Target::Label(name, col) => Ok(Stmt {
            insn: Insn::Call(CallTarget::Local(0)),
            label: Some((name, col)),
        }),
    }
}

/// Builds a `Ja`/`Jmp` statement from a target, checking the offset range.
pub(crate) fn jump_stmt(c: &Cursor, insn: Insn, t: Target) -> Result<Stmt, AsmError> {
    match t {
        Target::Label(name, col) => Ok(Stmt {
            insn,
            label: Some((name, col)),
        }),
        Target::Offset(off, col) => {
            let insn = with_offset(insn, off).ok_or_else(|| {
                c.err_at(
                    col,
                    format!("jump offset {off} out of range for this instruction"),
                )
            })?;
            Ok(Stmt::plain(insn))
        }
    }
}

/// The instruction with its jump or local-call offset set, if the offset fits its field.
pub(crate) fn with_offset(insn: Insn, off: i64) -> Option<Insn> {
    Some(match insn {
        Insn::Ja { long: false, .. } => Insn::Ja {
            off: i16::try_from(off).ok()? as i32,
            long: false,
        },
        Insn::Ja { long: true, .. } => Insn::Ja {
            off: i32::try_from(off).ok()?,
            long: true,
        },
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            ..
        } => Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off: i16::try_from(off).ok()?,
        },
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(i32::try_from(off).ok()?)),
        other => other,
    })
}
