//! bpfkit's eBPF verifier: proves a program safe before it runs, in the style of the
//! Linux kernel's verifier, with the kernel's rejection messages.
//!
//! # Overview
//! - [`cfg`](mod@cfg): structural checks (jump ranges, unreachable code, function boundaries).
//! - [`tnum`], [`bounds`], [`scalar_ops`], [`branch`]: the abstract domains — known bits
//!   and signed/unsigned 64/32-bit bounds — with transfer functions for every ALU operation
//!   and refinement for every jump condition.
//! - [`state`]: registers (scalars and typed pointers), stack bytes, call frames.
//! - The engine ([`verify`], [`verify_with`]): explores every path depth-first, pruning a
//!   path when a fully explored state at the same instruction covers it ([`liveness`]:
//!   dead registers are ignored, and scalars that never reach an address, a helper
//!   argument, a return value or a decided jump match any number), and checks memory
//!   accesses (stack, context, packet, map values, memory regions), pointer arithmetic,
//!   helper and bpf-to-bpf calls, references, loops (bounded by the 1M-instruction budget,
//!   exact repeats are infinite loops) and the return value.
//! - Callbacks (`bpf_loop`, `bpf_for_each_map_elem`): the callback runs in a new frame with
//!   the arguments the helper passes, must return 0 or 1, and control comes back to the
//!   helper call for another round. Rounds repeat until one ends in a state an earlier round
//!   covers; what a round changed is widened (to any number, unknown bytes) so that this
//!   happens after a few rounds. Checking one round, as kernels before 6.7 did, would miss
//!   a counter the callback keeps in its context.
//! - Rejections are [`VerifyError`]s naming the instruction, with the Linux verifier's
//!   wording; [`verify_with`] also returns a kernel-style log (level 1: instructions per
//!   path; level 2: register changes) ending in the `processed N insns` summary.
//! - [`env`](mod@env): the [`ProgramEnv`] trait through which a program type supplies its context
//!   layout, helpers, maps and return-value rules; [`envs`] has the socket filter, XDP,
//!   tc and raw-memory environments; [`object`](mod@object) builds them for the programs of a
//!   clang-built object (maps by index, read-only `.rodata`, spin locks from BTF, maps of maps).
//!
//! - Stack contents are tracked per byte: unwritten, unknown data, known bytes (narrow
//!   stores of constants), and spilled registers — whole, or a non-constant scalar stored
//!   narrower than 8 bytes at a slot's start (read back from there at the same or a smaller
//!   size it keeps its bounds, as in the kernel). Scalars copied by `mov` (64-bit, or
//!   32-bit/sign-extending when the value fits), spilled, or moved by `+= c`/`-= c` stay
//!   linked: a bound learned on one reaches the others (at their offset).
//!
//! # Not modelled (rejected, with a message saying so)
//! kfuncs (`calling kernel functions is not supported`), dynptrs and iterators (their
//! helpers are not in the prototype table: `invalid func`), indirect calls (`callx`),
//! `ld_imm64` of BTF ids, and the BTF-typed pointers of tracing program types (such types
//! are refused by [`object`](mod@object)). Pruning compares stack bytes in full (no stack
//! liveness), so some programs take more instructions than in the kernel, never fewer
//! decisions.
//!
//! # Example
//! ```
//! use bpfkit_isa::{Insn, MemSize, Reg};
//! use bpfkit_verifier::{envs::RawMemoryEnv, verify};
//!
//! // r0 = *(u32 *)(r1 + 4): fine for 8 bytes of memory, out of bounds for 6.
//! let prog = [
//!     Insn::Ldx { size: MemSize::W, signed: false, dst: Reg::R0, src: Reg::R1, off: 4 },
//!     Insn::Exit,
//! ];
//! assert!(verify(&prog, &RawMemoryEnv { size: 8 }).is_ok());
//! let err = verify(&prog, &RawMemoryEnv { size: 6 }).unwrap_err();
//! assert_eq!(err.insn, 0);
//! assert_eq!(err.message, "invalid access to memory, mem_size=6 off=4 size=4");
//! ```
#![deny(missing_docs)]

pub mod bounds;
pub mod branch;
mod btf;
pub mod cfg;
mod check;
pub mod env;
pub mod envs;
mod error;
pub mod helpers;
pub mod liveness;
mod log;
pub mod names;
pub mod object;
pub mod scalar_ops;
pub mod state;
pub mod tnum;

pub use check::{verify, verify_with, Options, Stats, Verdict, COMPLEXITY_LIMIT};
pub use env::{
    ArgKind, CtxField, Entry, HelperProto, MapInfo, MapRef, MapType, ProgramEnv, RetKind,
};
pub use error::{ErrorKind, VerifyError};
