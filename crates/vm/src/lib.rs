//! The reference eBPF interpreter of bpfkit, over a bounds-checked memory model.
//!
//! # Shape
//! - [`Program`]: a validated, pre-decoded program (one entry per 8-byte slot, jump and call
//!   targets resolved and checked at load). Immutable, `Send + Sync`; run it from many threads.
//! - [`MemoryMap`]: the regions a run may touch. Pointers in registers are real host addresses;
//!   every load, store and atomic is checked against the per-run stack and the map's regions.
//! - [`Helpers`]: the host's helper functions (`call <n>`), e.g. a [`HelperTable`] of closures.
//!   Helpers see memory only through the checked [`MemoryMap`] and may add regions for the rest
//!   of the run.
//! - [`Program::run`] executes once under a [`Config`] (instruction budget, alignment checks)
//!   and returns an [`Exit`] (r0, instructions executed) or a [`VmError`] naming the slot.
//!
//! Semantics follow RFC 9669 including the v4 additions; the value-level rules are in
//! [`semantics`]. Conventions beyond the RFC: `callx` (`call %rN`) takes a helper number or a
//! function address loaded by `lddw rN, <func>` ([`FUNC_ADDR_TAG`]); `ld_abs`/`ld_ind` read the
//! packet set with [`MemoryMap::set_packet`] and end the program with r0 = 0 when out of bounds.
//!
//! # Example
//! ```
//! use bpfkit_isa::{AluOp, Insn, MemSize, Operand, Reg, Width};
//! use bpfkit_vm::{Config, HelperReturn, HelperTable, MemoryMap, Program};
//!
//! // r0 = *(u32 *)(r1 + 0) + helper_7(r2)
//! let prog = Program::load(&[
//!     Insn::Ldx { size: MemSize::W, signed: false, dst: Reg::R6, src: Reg::R1, off: 0 },
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R1, src: Operand::Reg(Reg::R2) },
//!     Insn::Call(bpfkit_isa::CallTarget::Helper(7)),
//!     Insn::Alu { width: Width::W64, op: AluOp::Add, dst: Reg::R0, src: Operand::Reg(Reg::R6) },
//!     Insn::Exit,
//! ])?;
//! let mut helpers = HelperTable::new();
//! helpers.register(7, |args, _ctx| Ok(HelperReturn::Value(args[0] * 2)));
//! prog.check_helpers(&helpers)?;
//!
//! let mut input = 40u32.to_ne_bytes();
//! let mut memory = MemoryMap::new();
//! let addr = memory.add_slice_mut(&mut input);
//! let exit = prog.run([addr, 1, 0, 0, 0], &mut memory, &mut helpers, &Config::default())?;
//! assert_eq!(exit.r0, 42);
//!
//! // Out-of-bounds accesses stop the run with an error naming the instruction.
//! let err = prog.run([addr + 2, 1, 0, 0, 0], &mut memory, &mut helpers, &Config::default());
//! assert!(err.unwrap_err().to_string().starts_with("insn 0: out-of-bounds read of 4 bytes"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod helpers;
mod interp;
mod memory;
mod op;
mod program;
pub mod semantics;
mod stack_use;

pub use bpfkit_isa::{MAX_CALL_FRAMES, STACK_SIZE};
pub use error::{
    AccessKind, FaultReason, LoadError, LoadErrorKind, MemFault, VmError, VmErrorKind,
};
pub use helpers::{
    CallbackEngine, CallbackFrame, HelperCtx, HelperError, HelperFn, HelperReturn, HelperTable,
    Helpers, NoHelpers,
};
pub use interp::{Config, Exit, DEFAULT_BUDGET};
pub use memory::{copy_from_shared, copy_to_shared, Access, MemoryMap, Region};
pub use program::{Program, FUNC_ADDR_TAG};
