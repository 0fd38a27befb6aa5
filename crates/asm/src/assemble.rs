//! The assembler driver: splits lines, records labels, picks the syntax of each line,
//! and resolves label references into slot offsets once every line is parsed.

use crate::branch::with_offset;
use crate::cursor::{Cursor, Stmt};
use crate::error::AsmError;
use crate::lexer::{strip_comment, tokenize, Tok, Token};
use crate::{parse_llvm, parse_ubpf, Syntax};
use bpfkit_isa::Insn;
use std::collections::HashMap;

/// Assembles a program written in either syntax; each line's syntax is detected on its own.
///
/// Accepted per line: an optional `name:` label (several are allowed), then at most one
/// instruction, then an optional comment starting with `#`, `;` or `//`. A leading
/// `N:` slot number (as printed by `llvm-objdump` and by [`crate::disassemble`]) is ignored.
/// A jump to the undefined label `exit` goes to the first `exit` instruction, as in the
/// bpf_conformance assembler.
pub fn assemble(src: &str) -> Result<Vec<Insn>, AsmError> {
    assemble_impl(src, None)
}

/// Assembles a program written in the given syntax only.
///
/// `exit`, `call` and labels read the same in both syntaxes and are accepted by either.
pub fn assemble_with(src: &str, syntax: Syntax) -> Result<Vec<Insn>, AsmError> {
    assemble_impl(src, Some(syntax))
}

struct Parsed {
    stmt: Stmt,
    line: usize,
    pc: usize,
}

fn assemble_impl(src: &str, syntax: Option<Syntax>) -> Result<Vec<Insn>, AsmError> {
    let mut labels: HashMap<String, usize> = HashMap::new();
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut pc = 0usize;
    for (idx, raw_line) in src.lines().enumerate() {
        let line = idx + 1;
        let text = strip_comment(raw_line);
        let toks = tokenize(text, line)?;
        let end_col = text.chars().count() + 1;
        let mut rest: &[Token] = &toks;
        // An objdump-style slot number `12:` before the instruction.
        if let [Token {
            tok: Tok::Int(_), ..
        }, Token {
            tok: Tok::Punct(":"),
            ..
        }, tail @ ..] = rest
        {
            rest = tail;
        }
        // Label definitions.
        while let [Token {
            tok: Tok::Ident(name),
            col,
        }, Token {
            tok: Tok::Punct(":"),
            ..
        }, tail @ ..] = rest
        {
            if labels.insert(name.clone(), pc).is_some() {
                return Err(AsmError::new(
                    line,
                    *col,
                    format!("label `{name}` is defined twice"),
                ));
            }
            rest = tail;
        }
        if rest.is_empty() {
            continue;
        }
        let mut c = Cursor::new(rest, line, end_col);
        let stmt = parse_line(&mut c, syntax)?;
        let slots = stmt.insn.slots();
        parsed.push(Parsed { stmt, line, pc });
        pc += slots;
    }
    resolve(parsed, &labels)
}

fn parse_line(c: &mut Cursor, syntax: Option<Syntax>) -> Result<Stmt, AsmError> {
    let syntax = syntax.unwrap_or_else(|| detect(c));
    match syntax {
        Syntax::Llvm => parse_llvm::parse(c),
        Syntax::Ubpf => {
            let (m, col) = c.ident("a mnemonic")?;
            parse_ubpf::parse(c, m, col)
        }
    }
}

/// LLVM lines are assignments (`r0 = 1`, `r1 += r2`, `*(u32 *)(..) = ..`), `if`/`goto`
/// lines, `lock *(..)`, `callx` and `ld_pseudo`; everything else is read as uBPF.
/// `exit` and `call` are the same in both and are handled by either parser.
fn detect(c: &Cursor) -> Syntax {
    let second_is_assignment = match c.peek_at(1) {
        Some(Tok::Punct(p)) => p.ends_with('=') && *p != "==" && *p != "!=",
        Some(Tok::Ident(s)) => s == "s",
        _ => false,
    };
    let llvm = match c.peek() {
        Some(Tok::Punct("*")) => true,
        Some(Tok::Ident(w)) => {
            matches!(w.as_str(), "if" | "goto" | "gotol" | "callx" | "ld_pseudo")
                || (w == "lock" && matches!(c.peek_at(1), Some(Tok::Punct("*"))))
                || second_is_assignment
        }
        _ => false,
    };
    if llvm {
        Syntax::Llvm
    } else {
        Syntax::Ubpf
    }
}

fn resolve(parsed: Vec<Parsed>, labels: &HashMap<String, usize>) -> Result<Vec<Insn>, AsmError> {
    let first_exit = parsed
        .iter()
        .find(|p| p.stmt.insn == Insn::Exit)
        .map(|p| p.pc);
    parsed
        .into_iter()
        .map(|p| {
            let Some((name, col)) = &p.stmt.label else {
                return Ok(p.stmt.insn);
            };
            let target = labels
                .get(name)
                .copied()
                .or(if name == "exit" { first_exit } else { None })
                .ok_or_else(|| AsmError::new(p.line, *col, format!("undefined label `{name}`")))?;
            let off = target as i64 - (p.pc as i64 + 1);
            with_offset(p.stmt.insn, off).ok_or_else(|| {
                AsmError::new(
                    p.line,
                    *col,
                    format!(
                        "label `{name}` is {off} slots away, out of range for this instruction"
                    ),
                )
            })
        })
        .collect()
}
