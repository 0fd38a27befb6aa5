//! Runs the bpf_conformance test vectors (`.data` files) against bpfkit's engines.
//!
//! - [`parse`] reads one `.data` file into a [`TestCase`] (program as `asm` text or `raw`
//!   words, input memory, expected r0 or error).
//! - [`Engine`] is what executes programs: [`Interpreter`] wraps the reference interpreter
//!   ([`bpfkit_vm`]); a JIT plugs in by implementing the same trait.
//! - [`check`] runs one vector on an engine, [`run_dir`] a whole directory.
//!
//! The vectors assume: r1 = a private copy of the memory, r2 = its length, a 512-byte stack,
//! and helper 5 returning its first argument, ending the program when that is 0
//! ([`ConformanceHelpers`]).
//!
//! ```
//! use bpfkit_conformance::{check, parse, Interpreter};
//! let case = parse("-- asm\nldxb %r0, [%r1+1]\nadd %r0, %r2\nexit\n-- mem\n00 05\n-- result\n7\n")?;
//! check(&case, &Interpreter::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod data;
mod runner;

pub use data::{parse, ParseError, TestCase};
pub use runner::{
    check, default_dir, program_of, run_dir, ConformanceHelpers, Engine, Interpreter, SuiteReport,
    UNWIND_HELPER,
};
