//! bpfkit's embeddable user-space eBPF runtime: load a clang-built object, pick a program,
//! run it over packets with exactly the results of the Linux kernel's `BPF_PROG_TEST_RUN`,
//! and read and write its maps.
//!
//! # Shape
//! - [`Runtime`]: load settings (number of runtime CPUs, [`Verification`], [`Engine`], per
//!   program if wanted, random seed); [`Runtime::load_file`] / [`Runtime::load_bytes`] /
//!   [`Runtime::load`] give a [`LoadedObject`]: every map created (global data
//!   `.data`/`.rodata`/`.bss` filled in, `.values` initialisers of program arrays and maps of
//!   maps applied), every program's map references resolved, the program verified and
//!   prepared for its engine (compiled, for the JIT).
//! - [`LoadedObject::program`] picks a program by name (the first one by default);
//!   [`ProgramRef::test_run`] runs it on a [`TestRun`] (packet, optional context, repeat
//!   count, runtime CPU) and returns a [`TestRunOutput`] (return value, output packet,
//!   output context, average duration).
//! - [`LoadedObject::map`] gives a map by name ([`bpfkit_maps::Map`]: `lookup`,
//!   `update_host`, `delete_host`, `iter`, and `as_ringbuf().consume(..)` for ring buffers);
//!   [`LoadedObject::dump_maps`] renders them all as JSON.
//!
//! # What matches the kernel
//! XDP (`struct xdp_md`), socket filter and tc (`struct __sk_buff`) programs see the
//! contexts, headroom and tailroom the kernel's test-run builds (see [`ctx`]), and the
//! helpers in [`HELPERS`] follow the kernel's semantics and return values. The differential
//! tests run a corpus of C programs (`tests/corpus/*.c`, built objects checked in) over a
//! capture in bpfkit and in the kernel and compare return values, output packets and final
//! map contents byte for byte (`tests/corpus.rs`), and do the same with input and output
//! contexts (`tests/ctx.rs`). The kernel's results are recorded in `tests/corpus/expected`
//! (regenerated from the kernel with `BPFKIT_BLESS=1`) and compared live when possible.
//!
//! # Engines
//! [`Engine::Jit`] (the default on x86-64, [`Engine::host_default`]) compiles each program
//! once, at load, with bpfkit's JIT; [`Engine::Interpreter`] runs it on the reference
//! interpreter. What the JIT's code checks follows what was proved:
//! - a program the verifier accepted ([`Verification::Verify`]) runs as **unchecked** code,
//!   like the kernel's JIT output: no bounds checks, no instruction budget, and
//!   [`TestRunOutput::instructions`] is `None` (it does not count);
//! - a program loaded [`Verification::Unverified`], or of a type the verifier does not
//!   model, runs as **checked** code: every access checked against the run's regions,
//!   the budget metered, the interpreter's errors;
//! - [`ProgramRef::run_on_memory`] (a calling convention the load-time verification does
//!   not cover) always runs checked code.
//!
//! Unchecked code also computes `bpf_map_lookup_elem` inline where the map is a plain
//! array known at load (the `lddw r1, <map>` before the call in the same basic block), as
//! the kernel's verifier does ([`ProgramRef::inlined_call_sites`] lists them). Such a
//! value pointer is not registered in the run's memory one by one as the helper's are:
//! test-runs that may run inlined code register the inlined arrays' whole storage
//! instead, so helpers accept the pointers; elsewhere registration stays per value.
//!
//! Unchecked code is sound because the verifier's model of each program type is this
//! runtime's layout: the context fields it types as packet pointers hold the real addresses
//! (see the low-memory choice below), the packet region is exactly what the verifier lets a
//! program reach (XDP: the whole frame, headroom for metadata included; tc: `data` to
//! `data_end`), the context fields it lets a program write lie inside the context buffer,
//! and map values, ring-buffer samples and global data are host memory that stays valid
//! for the whole test-run. The differential tests run every corpus program on the
//! interpreter, as unchecked and as checked JIT code, against the kernel's results.
//!
//! Tail calls (33 at most per run, as the kernel's `MAX_TAIL_CALL_CNT`): in an object with
//! a program array, unchecked JIT code is compiled tail-callable and `bpf_tail_call` from
//! the main function jumps into the target's code, reading the array's slots inline when
//! the call names the array directly (see `inline`); otherwise (the interpreter, checked
//! code, a call from a function) it ends the running program and the runtime's run loop
//! starts the next one, on its own engine. Helper callbacks (`bpf_loop`,
//! `bpf_for_each_map_elem`) run in the JIT code when the program has it, else on the
//! interpreter, over the same memory; unchecked code inlines `bpf_loop` and walks of plain
//! arrays with a known callback.
//!
//! # Context pointers: the low-memory choice
//! The contexts' `data`, `data_end` and `data_meta` fields are 32 bits wide, and programs
//! load them with 32-bit loads before using them as pointers. The kernel rewrites those
//! context loads at load time. This runtime instead allocates packet buffers and contexts
//! below 4 GiB (`mmap` with `MAP_32BIT` on x86-64 Linux, address hints elsewhere, the result
//! checked), so each field holds the real address and no instruction needs rewriting. Limits:
//! it needs an OS that can map memory below 4 GiB (x86-64 Linux always can; other 64-bit
//! hosts may refuse, and then test-runs fail with [`RuntimeError::LowMemory`]); and fields
//! the kernel computes on access (e.g. `__sk_buff.hash` via a later `bpf_get_hash_recalc`)
//! are stored values here.
//!
//! # Other limits
//! - Loading verifies every program with bpfkit's verifier ([`Verification::Verify`], the
//!   default) and refuses a rejected one; [`Verification::Unverified`] skips that, and then
//!   only run-time checks (every memory access bounds-checked, by the interpreter or in
//!   checked JIT code) protect the host.
//! - Socket-filter `ld_abs`/`ld_ind` with the `SKF_NET_OFF`/`SKF_LL_OFF` negative offsets
//!   are treated as out of bounds (the program returns 0).
//! - No skb resizing helpers (`bpf_skb_change_head`, `bpf_skb_adjust_room`, ...), no
//!   redirects. XDP packets longer than one frame keep their tail in fragments the program
//!   cannot see (as in the kernel); `bpf_xdp_adjust_tail` on such a packet is an error.
//! - A tail call from inside a bpf-to-bpf function or callback is reported as an error.
//! - Maps are created without BTF: a `bpf_spin_lock` inside a value works, but host-side
//!   copies do not skip the lock word as the kernel's do (it reads 0 whenever unlocked).
//! - `bpf_get_prandom_u32` is a seeded generator ([`Runtime::prandom_seed`]), `%p` in
//!   `bpf_trace_printk` prints the plain address, and only the loopback device exists
//!   (`ifindex` 1) for contexts that name a device.
//!
//! # Example
//! ```
//! use bpfkit_isa::{Insn, Reg, MemSize, AtomicOp, AluOp, Operand, Width};
//! use bpfkit_object::{ld_map, MapDef, MapType, ObjectBuilder, ProgType, ProgramSection};
//! use bpfkit_runtime::{Engine, Runtime, TestRun};
//!
//! // An XDP program that counts packets in slot 0 of an array map and returns XDP_PASS (2).
//! let mut b = ObjectBuilder::new("GPL");
//! let counts = b.add_map(MapDef::new("counts", MapType::Array, 4, 8, 1));
//! let mov = |dst, imm| Insn::Alu { width: Width::W64, op: AluOp::Mov, dst, src: Operand::Imm(imm) };
//! b.add_program("count", ProgramSection::for_type(ProgType::Xdp), vec![
//!     Insn::St { size: MemSize::W, dst: Reg::R10, off: -4, imm: 0 },   // key = 0
//!     ld_map(Reg::R1, counts),
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R2, src: Operand::Reg(Reg::R10) },
//!     Insn::Alu { width: Width::W64, op: AluOp::Add, dst: Reg::R2, src: Operand::Imm(-4) },
//!     Insn::Call(bpfkit_isa::CallTarget::Helper(1)),                   // bpf_map_lookup_elem
//!     Insn::Jmp { width: Width::W64, cond: bpfkit_isa::JmpCond::Eq, dst: Reg::R0, src: Operand::Imm(0), off: 2 },
//!     mov(Reg::R1, 1),
//!     Insn::Atomic { size: MemSize::DW, op: AtomicOp::Add { fetch: false }, dst: Reg::R0, src: Reg::R1, off: 0 },
//!     mov(Reg::R0, 2),
//!     Insn::Exit,
//! ]);
//! let object = Runtime::new().ncpus(1).load(b.build()?)?;
//!
//! let packet = [0u8; 60];
//! // Verified at load, so on x86-64 it runs as unchecked JIT code.
//! assert_eq!(object.program(None)?.engine(), Engine::host_default());
//! let out = object.program(None)?.test_run(&TestRun::new(&packet))?;
//! assert_eq!(out.retval, 2);
//! assert_eq!(out.data_out, packet);
//! object.program(Some("count"))?.test_run(&TestRun::new(&packet).repeat(9))?;
//!
//! // Ten runs so far; read the counter from the host side.
//! let value = object.map("counts")?.lookup(&0u32.to_ne_bytes())?;
//! assert_eq!(u64::from_ne_bytes(value.try_into().unwrap()), 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod ctx;
pub mod dump;
mod engine;
mod error;
mod helpers;
mod inline;
mod load;
mod lowmem;
mod maptable;
mod printk;
mod testrun;

pub use ctx::Hook;
pub use engine::Engine;
pub use error::RuntimeError;
pub use helpers::{is_known as is_known_helper, HELPERS, MAX_TAIL_CALLS};
pub use load::{LoadedObject, Runtime, Verification};
pub use testrun::{hook_of, ProgramRef, TestRun, TestRunOutput};

pub use bpfkit_maps::{Map, MapRef};
pub use bpfkit_object::{Object, ProgType};
