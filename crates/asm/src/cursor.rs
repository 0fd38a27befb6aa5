//! A cursor over one line's tokens with the small parsers both syntaxes share
//! (registers, immediates in range, offsets, jump targets).

use crate::error::AsmError;
use crate::lexer::{Tok, Token};
use bpfkit_isa::{MemSize, Reg, Width};

/// Where a jump or local call goes, before labels are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A numeric slot offset relative to the next instruction, and its column.
    Offset(i64, usize),
    /// A label name and its column.
    Label(String, usize),
}

/// A parsed instruction whose offset may still refer to a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stmt {
    /// The instruction; if `label` is set, its offset is a placeholder.
    pub insn: bpfkit_isa::Insn,
    /// The label the offset must point to, with the label's column.
    pub label: Option<(String, usize)>,
}

impl Stmt {
    pub fn plain(insn: bpfkit_isa::Insn) -> Self {
        Stmt { insn, label: None }
    }
}

#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
    line: usize,
    /// Column just past the end of the line, for "expected X at end of line" errors.
    end_col: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Int(v) => format!("`{v}`"),
        Tok::Punct(p) => format!("`{p}`"),
    }
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token], line: usize, end_col: usize) -> Self {
        Cursor {
            toks,
            pos: 0,
            line,
            end_col,
        }
    }

    pub fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    pub fn peek_at(&self, n: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    /// Column of the current token (or of the end of the line).
    pub fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.col)
    }

    pub fn bump(&mut self) {
        self.pos += 1;
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// An error at a given column.
    pub fn err_at(&self, col: usize, msg: impl Into<String>) -> AsmError {
        AsmError::new(self.line, col, msg)
    }

    /// "expected WHAT, found X" at the current token.
    pub fn expected(&self, what: &str) -> AsmError {
        let found = match self.peek() {
            Some(t) => format!("found {}", describe(t)),
            None => "found end of line".to_string(),
        };
        self.err_at(self.col(), format!("expected {what}, {found}"))
    }

    pub fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect_punct(&mut self, p: &str) -> Result<(), AsmError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    pub fn eat_ident(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect_ident(&mut self, word: &str) -> Result<(), AsmError> {
        if self.eat_ident(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    /// Any identifier, with its column.
    pub fn ident(&mut self, what: &str) -> Result<(&'a str, usize), AsmError> {
        match self.peek() {
            Some(Tok::Ident(w)) => {
                let col = self.col();
                self.pos += 1;
                Ok((w.as_str(), col))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// The end of the line.
    pub fn end(&self) -> Result<(), AsmError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.expected("end of line"))
        }
    }

    /// Whether an integer (optionally signed) starts here.
    pub fn at_int(&self) -> bool {
        matches!(
            (self.peek(), self.peek_at(1)),
            (Some(Tok::Int(_)), _) | (Some(Tok::Punct("-" | "+")), Some(Tok::Int(_)))
        )
    }

    /// An optionally signed integer as an `i128`, with its column.
    pub fn signed(&mut self, what: &str) -> Result<(i128, usize), AsmError> {
        let col = self.col();
        let neg = if self.eat_punct("-") {
            true
        } else {
            self.eat_punct("+");
            false
        };
        match self.peek() {
            Some(Tok::Int(v)) => {
                self.pos += 1;
                let v = *v as i128;
                Ok((if neg { -v } else { v }, col))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A 32-bit immediate: any value in `-2^31 ..= 2^32-1`; values above `i32::MAX`
    /// are taken as their 32-bit two's-complement pattern (`0xffffffff` is -1).
    pub fn imm32(&mut self) -> Result<i32, AsmError> {
        let (v, col) = self.signed("an immediate")?;
        if (i32::MIN as i128..=u32::MAX as i128).contains(&v) {
            Ok(v as u32 as i32)
        } else {
            Err(self.err_at(col, format!("immediate {v} does not fit in 32 bits")))
        }
    }

    /// A 64-bit immediate in `-2^63 ..= 2^64-1`.
    pub fn imm64(&mut self) -> Result<u64, AsmError> {
        let (v, col) = self.signed("a 64-bit immediate")?;
        if (i64::MIN as i128..=u64::MAX as i128).contains(&v) {
            Ok(v as u64)
        } else {
            Err(self.err_at(col, format!("immediate {v} does not fit in 64 bits")))
        }
    }

    /// A signed 16-bit memory offset.
    pub fn off16(&mut self) -> Result<i16, AsmError> {
        let (v, col) = self.signed("an offset")?;
        i16::try_from(v)
            .map_err(|_| self.err_at(col, format!("offset {v} out of range -32768..=32767")))
    }

    /// A jump target: `+N`, `-N`, `N` or a label.
    pub fn target(&mut self) -> Result<Target, AsmError> {
        let col = self.col();
        if self.at_int() {
            let (v, _) = self.signed("a jump offset")?;
            return i64::try_from(v)
                .map(|v| Target::Offset(v, col))
                .map_err(|_| self.err_at(col, "jump offset out of range"));
        }
        match self.peek() {
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(Target::Label(name.clone(), col))
            }
            _ => Err(self.expected("a jump offset (+N, -N) or a label")),
        }
    }

    /// An LLVM register `r0`..`r10` (64-bit) or `w0`..`w10` (32-bit), if one is here.
    pub fn peek_llvm_reg(&self) -> Option<(Reg, Width)> {
        match self.peek() {
            Some(Tok::Ident(w)) => llvm_reg(w),
            _ => None,
        }
    }

    /// An LLVM register of either width.
    pub fn llvm_reg(&mut self) -> Result<(Reg, Width), AsmError> {
        let r = self
            .peek_llvm_reg()
            .ok_or_else(|| self.expected("a register (r0..r10 or w0..w10)"))?;
        self.pos += 1;
        Ok(r)
    }

    /// An LLVM register that must have the given width.
    pub fn llvm_reg_w(&mut self, width: Width) -> Result<Reg, AsmError> {
        let col = self.col();
        let (r, w) = self.llvm_reg()?;
        if w != width {
            return Err(self.err_at(col, width_mismatch(width)));
        }
        Ok(r)
    }

    /// A uBPF register `%r0`..`%r10`.
    pub fn ubpf_reg(&mut self) -> Result<Reg, AsmError> {
        let col = self.col();
        if !self.eat_punct("%") {
            return Err(self.expected("a register (%r0..%r10)"));
        }
        match self.peek() {
            Some(Tok::Ident(w)) => match llvm_reg(w) {
                Some((r, Width::W64)) => {
                    self.pos += 1;
                    Ok(r)
                }
                _ => Err(self.err_at(
                    col,
                    format!("expected a register (%r0..%r10), found `%{w}`"),
                )),
            },
            _ => Err(self.err_at(col, "expected a register (%r0..%r10)")),
        }
    }

    /// A `(rN +/- off)` or `rN +/- off` address with an LLVM register (either width accepted
    /// for the base, which is always a 64-bit pointer).
    pub fn llvm_addr(&mut self) -> Result<(Reg, i16), AsmError> {
        let (base, _) = self.llvm_reg()?;
        let off = if self.at_end() || matches!(self.peek(), Some(Tok::Punct(")" | ","))) {
            0
        } else if matches!(self.peek(), Some(Tok::Punct("+" | "-"))) {
            self.off16()?
        } else {
            return Err(self.expected("`+` or `-` and an offset"));
        };
        Ok((base, off))
    }
}

pub(crate) fn width_mismatch(width: Width) -> String {
    match width {
        Width::W64 => "expected a 64-bit register (r0..r10) here".to_string(),
        Width::W32 => "expected a 32-bit register (w0..w10) here".to_string(),
    }
}

/// Parses `rN` / `wN`.
pub(crate) fn llvm_reg(word: &str) -> Option<(Reg, Width)> {
    let (width, num) = if let Some(n) = word.strip_prefix('r') {
        (Width::W64, n)
    } else if let Some(n) = word.strip_prefix('w') {
        (Width::W32, n)
    } else {
        return None;
    };
    if num.is_empty() || num.len() > 2 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if num.len() == 2 && num.starts_with('0') {
        return None;
    }
    Reg::new(num.parse().ok()?).map(|r| (r, width))
}

/// Access size from a suffix letter set (`b`, `h`, `w`, `dw`).
pub(crate) fn size_suffix(s: &str) -> Option<MemSize> {
    Some(match s {
        "b" => MemSize::B,
        "h" => MemSize::H,
        "w" => MemSize::W,
        "dw" => MemSize::DW,
        _ => return None,
    })
}
