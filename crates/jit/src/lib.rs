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
//!   argument registers (rdi, rsi, rdx, rcx, r8), r6–r9 = rbx, r13, r14, r15, r10 = rbp.
//!   r12 holds the run context, r9 the budget counter, r10/r11 are scratch.
//! - `emit` has one emitter per instruction class behind one `match` over
//!   [`bpfkit_isa::Insn`];
//!   `compile` runs emission passes until jump encodings settle (8-bit where the target is
//!   near, else 32-bit) and checks the result; `code` holds it in W^X memory (mapped
//!   writable, filled, then read+execute only; unmapped on drop).
//! - The generated function *calls* the first instruction, so `exit` is a `ret` in every
//!   function; a bpf-to-bpf call pushes r10 and those of r6–r9 the callee may write
//!   (`usage`: found by following the callee's control flow), moves r10 one 512-byte frame
//!   down and calls its target (at most 8 frames, checked at the call unless `frames`
//!   proves the call graph acyclic and shallow enough; a callee that never names r10 and
//!   calls no helper gets no frame). Errors leave through a common exit that restores rsp
//!   from the context, however deep the calls.
//! - Per run, only the stack bytes the program can reach are zeroed
//!   ([`Program::stack_need`](bpfkit_vm::Program::stack_need)), and the stack is
//!   registered in the memory map only when Rust code needs it (a helper call, a checked
//!   access off the fast path). *Leaf* code (unchecked, no helper call, no packet load)
//!   runs with a small context of its own, and leaf code that never names r10 and calls
//!   nothing gets no stack at all: a run of `return 1` costs about what a call into
//!   rbpf's JIT does.
//! - Tail calls as jumps (`tail`): tail-callable code has a uniform prologue (all
//!   callee-saved registers, full context) and a *tail entry* after it; `bpf_tail_call`
//!   asks a resolver in the context (the host decides, through [`TailCalls`]) and jumps to
//!   the target's tail entry, whose `exit` returns through the entered code's epilogue.
//! - Instruction by instruction translation, with peepholes for the shapes eBPF compilers
//!   emit (each exact for any program, tested against the interpreter): `mov`+`add` as
//!   `lea`, multiplications by 3/5/9/2^n as `lea`/shifts, zero tests reusing the flags of
//!   the previous operation (`emit::fuse`); in unchecked code also `rX = rY + rZ` that only
//!   addresses memory folded into the accesses' operands (`fold`, by register liveness),
//!   stack loads of a slot just stored turned into register moves (`forward`), stack
//!   stores no load can read left out (`dead_stores`), add chains into one register
//!   regrouped so that it waits for one add (`reassociate`),
//!   `if c goto +1; goto L` emitted as `if !c goto L`, two adjacent byte loads joined by
//!   `<< 8` and `|` as one 16-bit load (`combine`), loops of one basic block emitted
//!   twice (one taken jump per two iterations), register writes nothing reads left out and
//!   only the registers read before written set up at entry (liveness), and the slot of a
//!   tail call or inline array lookup with an index known in straight-line code computed
//!   at compile time (`known`).
//! - Loop heads start at a 16-byte boundary, and a loop that fits a 64-byte fetch block is
//!   placed within one (`compile`); jumps are shortened only while they reach with every
//!   padding they span at its largest.
//! - Helpers are called through a Rust trampoline (`extern "sysv64"`, monomorphised for the
//!   run's [`Helpers`](bpfkit_vm::Helpers) type) with r1–r5 as arguments. It returns r0, or
//!   records a stop, an error or a panic in the context; the code then leaves through the
//!   common exit and [`JitProgram::run`] turns the record into the interpreter's result
//!   (resuming a panic). r1–r5 survive helper calls, as in the interpreter (unchecked code
//!   keeps only those that code after the call may read; a verifier lets it read none,
//!   which is what the kernel's JIT relies on).
//! - The host may specialise helper call sites ([`JitProgram::compile_specialized`] with
//!   [`CallSites`], a separate entry point so that [`CompileOptions`] stays a small `Copy`
//!   value): e.g. [`Specialization::IndexedLookup`] turns `bpf_map_lookup_elem` on an array
//!   into a bounds check and an address computation, as the kernel's verifier does
//!   (`array_map_gen_lookup`). Only unchecked code honours them (checked code keeps calling
//!   the helper, so its checks never rest on a host promise); the inline code writes r0 and
//!   scratch registers only, so r1–r5 still survive, and code whose helper calls are all
//!   inlined is leaf code. The values are the host's, not the program's, so they are
//!   not blinded. Other specialisations are calls still, but cheaper ones: a direct call of
//!   a host function without the trampoline ([`Specialization::PureCall`], and
//!   [`Specialization::BoundCall`] with r1 bound to a host object such as the map whose
//!   lookup it is, as the kernel's JIT calls `map->ops->map_lookup_elem`, and
//!   [`Specialization::IndirectCall`], the same through a record r1 points at, for maps
//!   known only at run time), a direct call of a host function with the run's helpers
//!   object before r1–r5, for helpers that need the run's state but cannot fail
//!   ([`Specialization::HostCall`]), or the helper through a trampoline that builds no
//!   helper context
//!   ([`Specialization::PlainCall`], [`Helpers::call_plain`](bpfkit_vm::Helpers::call_plain)).
//! - Helpers called from unchecked code trust their verified pointer arguments
//!   ([`HelperCtx::trust_arguments`](bpfkit_vm::HelperCtx::trust_arguments)): values a
//!   direct lookup found are not in the run's memory map.
//! - Checked code (the default, [`CompileOptions::checked`]) proves every load, store and
//!   atomic safe before making it: inline against the primary region (the first the host
//!   added) and the stack window, else through the memory map (so regions helpers add, e.g.
//!   map values, work); a refused access ends the run with the interpreter's
//!   [`VmError`](bpfkit_vm::VmError). The instruction budget is charged per basic block on
//!   entry, so infinite loops stop, with the error naming the instruction where the budget
//!   ran out. Unchecked code trusts a verifier for memory and termination (call depth and
//!   packet bounds are still checked).
//! - [`CompileOptions::blind_constants`] XORs every program-chosen immediate with a random
//!   key per instruction (as the kernel's constant blinding), so programs cannot plant
//!   chosen 32- or 64-bit values in executable memory.
//! - Each run has its own stack (zeroed lazily, frame by frame) and context on the Rust
//!   stack; compiled code is immutable, so a [`JitProgram`] runs on many threads at once.
//!
//! # Differences from the interpreter
//! - When the budget runs out inside a block whose earlier instruction would fault, the
//!   JIT reports the budget (it checks on block entry), the interpreter the fault.
//! - Unchecked code reports `executed: 0`.
//! - Callbacks that helpers start ([`HelperCtx::call_function`](bpfkit_vm::HelperCtx::call_function))
//!   run in the compiled code, through its *callback entry*, in the frames below the
//!   helper's caller; code without one (checked code) runs them on the interpreter, over
//!   the same memory and stack.
//! - Tail calls: by default helper 12 is an ordinary helper call, so a host can implement
//!   `bpf_tail_call` in its [`Helpers`](bpfkit_vm::Helpers) (end the caller with
//!   [`HelperReturn::Stop`](bpfkit_vm::HelperReturn::Stop), then run the target). Unchecked
//!   code compiled with [`JitProgram::compile_tail_callable`] and run with
//!   [`JitProgram::run_with_tail_calls`] jumps into the target's code instead, as the
//!   kernel's JIT does (about 10 ns per tail call instead of a new run); see [`TailCalls`].
//!   Sites specialised with [`Specialization::TailCall`] read the program array's slots
//!   and switch to the target without asking the host (the runtime's 34-program chain
//!   `xdp_loop`: 451 → 180 ns per run).
//!   The target then starts as a new run would (zeroed stack, r1–r5 = the run's arguments),
//!   but regions that helpers added stay until the whole chain ends.
//!
//! # Why dynasm-rs
//! The assembler is `dynasm-rs` (`dynasmrt` + the `dynasm!` macro): instruction templates are
//! encoded when this crate is compiled and emission only patches register fields,
//! immediates and labels in, so compiling eBPF costs about 0.1–0.3 µs per instruction
//! (see BENCHMARKS.md). The alternative, `iced-x86` with `code_asm`, encodes canonically
//! and shortens branches itself, but builds one large crate (about 2 minutes of wall time
//! here against about 1 for dynasm's proc-macro and its `syn` dependencies) and encodes
//! each instruction at run time. dynasm's price is slightly larger code: instructions
//! with run-time registers always carry a REX prefix and memory operands a SIB byte (the
//! encoding tests document both). The one exception is `lea`, encoded by hand in its
//! shortest form: dynasm's always carries a displacement, and on AMD Zen a `lea` with base,
//! index and displacement takes 2 cycles instead of 1 (measured: the `alu loop` benchmark,
//! whose `rX *= 3` is a `lea`, 25% faster). dynasm is MPL-2.0 (file-level copyleft,
//! unmodified use).
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
mod coalesce;
mod code;
mod combine;
mod compile;
mod ctx;
mod dead_stores;
mod emit;
mod error;
mod fold;
mod forward;
mod frames;
mod known;
mod program;
mod reassociate;
mod rebase;
mod regs;
mod runtime;
mod specialize;
mod tail;
mod usage;

pub use compile::CompileOptions;
pub use error::JitError;
pub use program::JitProgram;
pub use specialize::{CallSites, HostFn, Specialization};
pub use tail::{TailCall, TailCalls, MAX_TAIL_CALLS};
