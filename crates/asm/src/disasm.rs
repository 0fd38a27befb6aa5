//! Whole-program disassembly: one line per instruction, optionally with slot numbers and
//! with generated labels for jump and local-call targets.

use crate::{print_llvm, print_ubpf, Syntax};
use bpfkit_isa::{decode, CallTarget, DecodeError, Decoded, Insn};
use std::collections::BTreeSet;
use std::fmt::Write;

/// How [`disassemble`] lays out its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DisasmOptions {
    /// Which syntax to print.
    pub syntax: Syntax,
    /// Prefix each line with its slot number as `llvm-objdump` does (`{pc:>8}:\t`).
    pub show_pc: bool,
    /// Print `L<pc>:` before every jump or local-call target and use that name in the
    /// instructions that go there (targets outside the program stay numeric).
    pub labels: bool,
}

impl DisasmOptions {
    /// Options for `syntax`, without slot numbers or labels.
    pub fn new(syntax: Syntax) -> Self {
        DisasmOptions {
            syntax,
            show_pc: false,
            labels: false,
        }
    }
}

/// Formats one instruction in the given syntax, with numeric offsets.
///
/// ```
/// use bpfkit_asm::{format_insn, Syntax};
/// use bpfkit_isa::{Insn, MemSize, Reg};
/// let load = Insn::Ldx { size: MemSize::W, signed: false, dst: Reg::R0, src: Reg::R1, off: 4 };
/// assert_eq!(format_insn(&load, Syntax::Llvm), "r0 = *(u32 *)(r1 + 4)");
/// assert_eq!(format_insn(&load, Syntax::Ubpf), "ldxw %r0, [%r1+4]");
/// ```
pub fn format_insn(insn: &Insn, syntax: Syntax) -> String {
    format_with_label(insn, syntax, None)
}

fn format_with_label(insn: &Insn, syntax: Syntax, label: Option<&str>) -> String {
    match syntax {
        Syntax::Llvm => print_llvm::print(insn, label),
        Syntax::Ubpf => print_ubpf::print(insn, label),
    }
}

/// The slot an instruction at `pc` jumps or calls to, if it is a jump or a local call.
fn branch_target(d: &Decoded) -> Option<i64> {
    let off = match d.insn {
        Insn::Ja { off, .. } => off as i64,
        Insn::Jmp { off, .. } => off as i64,
        Insn::Call(CallTarget::Local(off)) => off as i64,
        _ => return None,
    };
    Some(d.pc as i64 + 1 + off)
}

fn label_name(pc: i64) -> String {
    format!("L{pc}")
}

/// Disassembles decoded instructions, one line each (every line ends with `\n`).
pub fn disassemble(prog: &[Decoded], opts: &DisasmOptions) -> String {
    let starts: BTreeSet<i64> = prog.iter().map(|d| d.pc as i64).collect();
    let targets: BTreeSet<i64> = if opts.labels {
        prog.iter()
            .filter_map(branch_target)
            .filter(|t| starts.contains(t))
            .collect()
    } else {
        BTreeSet::new()
    };
    let mut out = String::new();
    for d in prog {
        if targets.contains(&(d.pc as i64)) {
            writeln!(out, "{}:", label_name(d.pc as i64)).expect("write to String");
        }
        let label = branch_target(d)
            .filter(|t| targets.contains(t))
            .map(label_name);
        let text = format_with_label(&d.insn, opts.syntax, label.as_deref());
        if opts.show_pc {
            writeln!(out, "{:>8}:\t{text}", d.pc).expect("write to String");
        } else {
            writeln!(out, "{text}").expect("write to String");
        }
    }
    out
}

/// Decodes little-endian program bytes and disassembles them.
pub fn disassemble_bytes(bytes: &[u8], opts: &DisasmOptions) -> Result<String, DecodeError> {
    Ok(disassemble(&decode(bytes)?, opts))
}
