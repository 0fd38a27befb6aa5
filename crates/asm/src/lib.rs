//! eBPF assembler and disassembler for two text syntaxes.
//!
//! - [`Syntax::Llvm`]: the syntax of `llvm-objdump -d` and of clang's BPF inline assembly
//!   (`r0 = *(u32 *)(r1 + 4)`, `if w1 s< 5 goto +3`, `r1 = 0x1234 ll`). The printer
//!   reproduces the instruction text column of `llvm-objdump` (LLVM 14; LLVM 19 for the v4
//!   instructions), which the tests check against the real tool.
//! - [`Syntax::Ubpf`]: the uBPF / bpf_conformance syntax (`mov %r0, 1`, `ldxw %r0, [%r1+4]`,
//!   `jeq %r1, 5, +3`, `lock fetch add [%r10-8], %r1`, `call local func`).
//!
//! # API
//!
//! - [`format_insn`] prints one [`Insn`](bpfkit_isa::Insn) with numeric offsets.
//! - [`disassemble`] prints decoded instructions ([`bpfkit_isa::Decoded`]), one line each,
//!   optionally with `llvm-objdump`-style slot numbers and with generated `L<pc>` labels
//!   ([`DisasmOptions`]); [`disassemble_bytes`] decodes raw program bytes first.
//! - [`assemble`] reads either syntax, detected line by line (so they can be mixed);
//!   [`assemble_with`] insists on one. Both accept labels (`name:`) usable as jump and
//!   local-call targets, `+N`/`-N` offsets, comments (`#`, `;`, `//`), blank lines, decimal
//!   and hex immediates, and 64-bit immediates for `lddw` / `... ll`. Errors are
//!   [`AsmError`]s that name the line and column.
//!
//! # Faithfulness
//!
//! Printing then assembling gives back the same instruction, in both syntaxes, with one
//! exception forced by LLVM's syntax: `llvm-objdump` writes helper, local and kfunc calls all
//! as `call N`, and [`assemble`] reads `call N` as a helper call. Local calls survive when
//! printed with [`DisasmOptions::labels`] (`call L7`); the uBPF syntax has `call local +N`
//! and `call runtime N` (kfunc). Where `llvm-objdump`'s own text loses information the LLVM
//! printer departs from it, only in those cases:
//! - 32-bit atomics other than a plain add print as `llvm-objdump --mattr=+alu32` does
//!   (`w1 = atomic_fetch_add((u32 *)(r2 + 0), w1)`); the default mode prints `<unknown>` or
//!   drops the fetch flag;
//! - `ld_pseudo` shows the whole 64-bit immediate (objdump shows the low 32 bits);
//! - an indirect packet load keeps a non-zero immediate: `r0 = *(u8 *)skb[r1 + 4]`.
//!
//! The uBPF syntax has no spelling for pseudo `lddw` forms; this crate uses
//! `lddw %r1, map_fd 0x5` (also `map_value`, `btf_id`, `func`, `map_idx`, `map_idx_value`),
//! and `ldabs{b,h,w} imm` / `ldind{b,h,w} %rS, imm` for the legacy packet loads.
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
mod branch;
mod cursor;
mod disasm;
mod error;
mod lexer;
mod parse_llvm;
mod parse_llvm_atomic;
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
