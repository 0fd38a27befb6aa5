//! An x86-64 JIT compiler for eBPF, with the reference interpreter's interface and semantics.
//!
//! [`JitProgram::compile`] translates a loaded [`bpfkit_vm::Program`] into machine code;
//! [`JitProgram::run`] takes exactly the arguments of [`bpfkit_vm::Program::run`] (r1–r5, a
//! [`MemoryMap`](bpfkit_vm::MemoryMap), [`Helpers`](bpfkit_vm::Helpers), a
//! [`Config`](bpfkit_vm::Config)) and returns the same [`Exit`](bpfkit_vm::Exit) or
//! [`VmError`](bpfkit_vm::VmError), so switching engines is a one-line change.
//!
//! # Design
//! - Registers map 1:1 as in the Linux kernel's JIT (`regs`): r0=rax, r1–r5 = the SysV
//!   argument registers, r6–r9 and r10 in callee-saved registers.
//! - `emit` has one emitter per instruction class; `compile` runs emission passes until
//!   jump encodings settle; `code` holds the result in W^X memory (never writable and
//!   executable at once).
//! - Checked code (the default, [`CompileOptions::checked`]) proves every memory access
//!   safe before making it (inline for the primary region and the stack, through the
//!   memory map otherwise) and meters the instruction budget per basic block, failing with
//!   the interpreter's errors. Unchecked code trusts a verifier.
//! - Helpers are called through a Rust trampoline; failures and stops set a status that the
//!   generated code tests, leaving through a common exit that unwinds every frame at once.
//! - [`CompileOptions::blind_constants`] hides immediates behind random keys.
//!
//! The assembler is `dynasm-rs`: instruction templates are encoded when this crate is
//! compiled, and emission at run time only patches register fields, immediates and labels
//! in, so compiling eBPF is fast and the crate adds no table-driven encoder to the build.
//!
//! # Example
//! ```
//! use bpfkit_isa::{AluOp, Insn, MemSize, Operand, Reg, Width};
//! use bpfkit_jit::{CompileOptions, JitProgram};
//! use bpfkit_vm::{Config, MemoryMap, NoHelpers};
//!
//! // r0 = *(u32 *)(r1 + 0) * 3
//! let jit = JitProgram::from_insns(&[
//!     Insn::Ldx { size: MemSize::W, signed: false, dst: Reg::R0, src: Reg::R1, off: 0 },
//!     Insn::Alu { width: Width::W64, op: AluOp::Mul, dst: Reg::R0, src: Operand::Imm(3) },
//!     Insn::Exit,
//! ], &CompileOptions::default())?;
//!
//! let mut input = 14u32.to_ne_bytes();
//! let mut memory = MemoryMap::new();
//! let addr = memory.add_slice_mut(&mut input);
//! let exit = jit.run([addr, 0, 0, 0, 0], &mut memory, &mut NoHelpers, &Config::default())?;
//! assert_eq!(exit.r0, 42);
//! assert_eq!(exit.executed, 3);
//!
//! // Checked code fails like the interpreter: the error names the instruction.
//! let err = jit.run([addr + 1, 0, 0, 0, 0], &mut memory, &mut NoHelpers, &Config::default());
//! assert!(err.unwrap_err().to_string().starts_with("insn 0: out-of-bounds read of 4 bytes"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blind;
mod code;
mod compile;
mod ctx;
mod emit;
mod error;
mod program;
mod regs;
mod runtime;

pub use compile::CompileOptions;
pub use error::JitError;
pub use program::JitProgram;
