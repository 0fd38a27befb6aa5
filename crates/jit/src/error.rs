//! Compile-time errors.

use bpfkit_vm::LoadError;
use thiserror::Error;

/// Why a program could not be compiled. Messages name the instruction (slot index) when one
/// is at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JitError {
    /// The program does not load (bad target, r10 written, unresolved pseudo `lddw`...).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// An instruction the JIT cannot translate (the loader rejects all of these first).
    #[error("insn {pc}: {what} is not supported by the JIT")]
    Unsupported {
        /// Slot index of the instruction.
        pc: usize,
        /// What it is.
        what: &'static str,
    },
    /// The assembler refused the generated code (a bug: please report the program).
    #[error("internal assembler error: {0}")]
    Assemble(String),
    /// Executable memory could not be mapped.
    #[error("cannot map executable memory: {0}")]
    Memory(#[from] std::io::Error),
    /// The host is not x86-64.
    #[error("the JIT generates x86-64 code and cannot run on this host")]
    UnsupportedHost,
}
