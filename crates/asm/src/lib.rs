//! eBPF assembler and disassembler for two text syntaxes.
//!
//! - [`Syntax::Llvm`]: the syntax of `llvm-objdump -d` and of clang's BPF inline assembly
//!   (`r0 = *(u32 *)(r1 + 4)`, `if w1 s< 5 goto +3`, `r1 = 0x1234 ll`). The printer
//!   reproduces the instruction text column of `llvm-objdump` (LLVM 14; LLVM 19 for the v4
//!   instructions), which the tests check against the real tool.
//! - [`Syntax::Ubpf`]: the uBPF / bpf_conformance syntax (`mov %r0, 1`, `ldxw %r0, [%r1+4]`,
//!   `jeq %r1, 5, +3`, `lock fetch add [%r10-8], %r1`, `call local func`).
//!
//! [`format_insn`] prints one [`Insn`](bpfkit_isa::Insn); [`disassemble`] prints a decoded program, optionally
//! with slot numbers and generated labels. [`assemble`] reads either syntax (even mixed, line
//! by line) with labels, comments (`#`, `;`, `//`) and blank lines; errors carry a line and
//! column.
//!
//! Both printers are faithful: parsing printed text gives back the same instruction, with one
//! exception forced by LLVM's syntax, which writes helper, local and kfunc calls all as
//! `call N`. [`assemble`] reads `call N` as a helper call; a local call is written
//! `call <label>` in LLVM syntax (what [`disassemble`] prints with
//! [`DisasmOptions::labels`]) or `call local +N` in uBPF syntax, and a kfunc call
//! `call runtime N` in uBPF syntax.
//!
//! ```
//! use bpfkit_asm::{assemble, disassemble, DisasmOptions, Syntax};
//! use bpfkit_isa::{decode, encode};
//!
//! let prog = assemble(
//!     "
//!     mov %r0, 0            # uBPF syntax
//!     r1 = *(u32 *)(r1 + 4) // LLVM syntax
//! loop:
//!     if r1 == 0 goto done
//!     r0 += r1
//!     r1 -= 1
//!     goto loop
//! done:
//!     exit
//!     ",
//! )
//! .unwrap();
//! let decoded = decode(&encode(&prog)).unwrap();
//!
//! let llvm = disassemble(&decoded, &DisasmOptions::new(Syntax::Llvm));
//! assert_eq!(
//!     llvm,
//!     "r0 = 0\nr1 = *(u32 *)(r1 + 4)\nif r1 == 0 goto +3\nr0 += r1\nr1 -= 1\ngoto -4\nexit\n"
//! );
//! let ubpf = disassemble(&decoded, &DisasmOptions { labels: true, ..DisasmOptions::new(Syntax::Ubpf) });
//! assert!(ubpf.contains("L2:\njeq %r1, 0, L6\n"));
//! // Either text assembles back to the same program.
//! assert_eq!(assemble(&llvm).unwrap(), prog);
//! assert_eq!(assemble(&ubpf).unwrap(), prog);
//! ```
#![deny(missing_docs)]

mod assemble;
mod cursor;
mod disasm;
mod error;
mod lexer;
mod parse_llvm;
mod parse_ubpf;
mod print_llvm;
mod print_ubpf;

pub use assemble::{assemble, assemble_with};
pub use disasm::{disassemble, disassemble_bytes, format_insn, DisasmOptions};
pub use error::AsmError;

/// The two text syntaxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// LLVM / `llvm-objdump` syntax: `r0 = *(u32 *)(r1 + 4)`.
    #[default]
    Llvm,
    /// uBPF / bpf_conformance syntax: `ldxw %r0, [%r1+4]`.
    Ubpf,
}
