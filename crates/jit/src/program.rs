//! The compiled program and its public entry points.

use crate::code::ExecutableCode;
use crate::compile::{compile, CompileOptions, Plan};
use crate::error::JitError;
use crate::runtime::{execute, execute_callback, Chain};
use crate::specialize::CallSites;
use crate::tail::{tail_resolver, TailCalls};
use bpfkit_isa::Insn;
use bpfkit_vm::{
    CallbackEngine, CallbackFrame, Config, Exit, Helpers, MemoryMap, Program, VmError,
};

/// A program compiled to x86-64 machine code.
///
/// Immutable once compiled, `Send + Sync`: run it from any number of threads at once; each
/// run has its own registers, stack and context.
pub struct JitProgram {
    pub(crate) program: Program,
    pub(crate) plan: Plan,
    code: ExecutableCode,
    /// Address of the code's entry.
    pub(crate) entry: u64,
    /// Address of the tail entry, where tail calls jump (0: not tail-callable).
    pub(crate) tail_entry: u64,
    /// Code address of each slot (0 where no instruction starts), for `callx`.
    pub(crate) func_table: Box<[u64]>,
    /// Address of the callback entry (0: none; helpers' callbacks run on the interpreter).
    pub(crate) callback_entry: u64,
    offsets: Vec<usize>,
    pub(crate) options: CompileOptions,
    /// The specialisations the code honours (none in checked code).
    specialized: CallSites,
    /// What a tail call's fast path reads to switch the run to this program.
    pub(crate) tail_target: TailTarget,
}

/// The fields of a [`JitProgram`] that generated code holding its address reads (a tail
/// call's fast path, see `emit::tail`; `callx`), at fixed offsets.
#[repr(C)]
pub(crate) struct TailTarget {
    /// Where the fast path enters the tail entry (see `emit::entry`), or 0 when a jump
    /// must take the resolver's path (not tail-callable, or the code reads the packet
    /// cache, which the resolver refreshes).
    pub fast_entry: u64,
    /// `func_table`'s address and length.
    pub func_table: u64,
    pub func_table_len: u64,
}

/// Byte offsets of [`JitProgram`] fields, for generated code holding its address.
pub(crate) mod jo {
    use super::{JitProgram, TailTarget};
    use std::mem::offset_of;

    pub(crate) const FAST_ENTRY: i32 =
        (offset_of!(JitProgram, tail_target) + offset_of!(TailTarget, fast_entry)) as i32;
    pub(crate) const FUNC_TABLE: i32 =
        (offset_of!(JitProgram, tail_target) + offset_of!(TailTarget, func_table)) as i32;
    pub(crate) const FUNC_TABLE_LEN: i32 =
        (offset_of!(JitProgram, tail_target) + offset_of!(TailTarget, func_table_len)) as i32;
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("slots", &self.program.slot_count())
            .field("code", &self.code)
            .field("options", &self.options)
            .finish()
    }
}

impl JitProgram {
    /// Compiles a loaded program.
    pub fn compile(program: &Program, options: &CompileOptions) -> Result<JitProgram, JitError> {
        Self::compile_with(program, options, &CallSites::new(), false)
    }

    /// Compiles a loaded program with helper call sites specialised by the host: each
    /// site's call becomes the inline code of its [`Specialization`](crate::Specialization)
    /// (e.g. an array map lookup as an address computation), which must give what the
    /// helper would return there. Honoured only in unchecked code (`checked: false`), where
    /// a verifier's proof is trusted anyway; checked code calls the helpers as usual, so
    /// its run-time checks never rest on a host promise.
    ///
    /// Fails if a site is not a `call <helper>` instruction.
    pub fn compile_specialized(
        program: &Program,
        options: &CompileOptions,
        sites: &CallSites,
    ) -> Result<JitProgram, JitError> {
        Self::compile_with(program, options, sites, false)
    }

    /// Compiles a loaded program so that `bpf_tail_call` can jump into it and out of it
    /// (see [`run_with_tail_calls`](Self::run_with_tail_calls)): for the programs of an
    /// object with a program array. Unchecked code only: with `checked: true` this is
    /// [`compile`](Self::compile).
    ///
    /// Such code saves all callee-saved registers and always builds the whole run context,
    /// which costs a few nanoseconds per run for short programs.
    pub fn compile_tail_callable(
        program: &Program,
        options: &CompileOptions,
    ) -> Result<JitProgram, JitError> {
        Self::compile_with(program, options, &CallSites::new(), true)
    }

    /// The general form of the constructors above: `sites` as in
    /// [`compile_specialized`](Self::compile_specialized), tail-callable code as in
    /// [`compile_tail_callable`](Self::compile_tail_callable) when `tail_callable`.
    pub fn compile_with(
        program: &Program,
        options: &CompileOptions,
        sites: &CallSites,
        tail_callable: bool,
    ) -> Result<JitProgram, JitError> {
        let (plan, emitted) = compile(program, options, sites, tail_callable)?;
        let specialized = if options.checked {
            CallSites::new()
        } else {
            sites.clone()
        };
        let code = ExecutableCode::new(&emitted.bytes)?;
        let func_table: Box<[u64]> = plan
            .index_of_slot
            .iter()
            .map(|&i| match emitted.offsets.get(i as usize) {
                Some(&off) => code.addr() + off as u64,
                None => 0,
            })
            .collect();
        let tail_entry = emitted.tail_entry.map_or(0, |off| code.addr() + off as u64);
        let fast_entry = match emitted.fast_tail_entry {
            Some(off) if !plan.reads_packet => code.addr() + off as u64,
            _ => 0,
        };
        let tail_target = TailTarget {
            fast_entry,
            func_table: func_table.as_ptr() as u64,
            func_table_len: func_table.len() as u64,
        };
        Ok(JitProgram {
            program: program.clone(),
            tail_target,
            func_table,
            offsets: emitted.offsets,
            options: *options,
            specialized,
            entry: code.addr(),
            callback_entry: emitted
                .callback_entry
                .map_or(0, |off| code.addr() + off as u64),
            tail_entry,
            plan,
            code,
        })
    }

    /// Loads (validates) and compiles instructions, as [`Program::load`] then [`compile`](Self::compile).
    pub fn from_insns(insns: &[Insn], options: &CompileOptions) -> Result<JitProgram, JitError> {
        Self::compile(&Program::load(insns)?, options)
    }

    /// Runs the program once, with the interpreter's interface and semantics
    /// ([`Program::run`]): `args` become r1–r5, r10 the top of a fresh zeroed 512-byte-per-frame
    /// stack; returns r0 and (in checked code) the number of instructions executed, or the
    /// interpreter's error for the same failure.
    ///
    /// Unchecked code (compiled with `checked: false`) reports `executed: 0` and does not stop
    /// infinite loops or out-of-bounds accesses: use it only for verified programs.
    /// Helpers that run callbacks ([`bpfkit_vm::HelperCtx::call_function`]) run them in this
    /// code (through its callback entry), over the same memory and stack.
    #[inline]
    pub fn run<H: Helpers + ?Sized>(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut H,
        config: &Config,
    ) -> Result<Exit, VmError> {
        let mut chain = Chain {
            resolver: 0,
            made: 0,
            last: self,
        };
        execute(self, args, memory, helpers, config, &mut chain, |_, _| {})
    }

    /// [`run`](Self::run) with tail calls made as jumps: in [tail-callable](Self::tail_callable)
    /// code, `bpf_tail_call` (helper 12) in the main function asks `helpers`
    /// ([`TailCalls::tail_call`]) and jumps straight into the target's code when told to,
    /// the way the kernel's JIT does; otherwise it is an ordinary helper call. The target
    /// starts on a zeroed stack with r1–r5 = `args`, as a new run would. A chain makes at
    /// most [`MAX_TAIL_CALLS`](crate::MAX_TAIL_CALLS) tail calls, counted from
    /// [`TailCalls::tail_calls_made`]; the count and the program running are handed back
    /// through [`TailCalls::tail_calls_so_far`] when a run in which tail calls jumped
    /// ends. Sites specialised with
    /// [`Specialization::TailCall`](crate::Specialization::TailCall) jump without asking
    /// the host. The result is the last program's.
    #[inline]
    pub fn run_with_tail_calls<'p, H: Helpers + TailCalls<'p> + ?Sized>(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut H,
        config: &Config,
    ) -> Result<Exit, VmError> {
        let mut chain = Chain {
            resolver: tail_resolver::<'p, H> as *const () as u64,
            made: helpers.tail_calls_made(),
            last: self,
        };
        let made_before = chain.made;
        execute(
            self,
            args,
            memory,
            helpers,
            config,
            &mut chain,
            |helpers, chain| {
                if chain.made == made_before && std::ptr::eq(chain.last, self) {
                    // No jump: the host knows the chain as it is (most runs).
                    return;
                }
                // Counts only grow along a chain: a host ahead of the run made an ordinary
                // `bpf_tail_call` after the last sync (the resolver syncs before each one).
                let made = chain.made.max(helpers.tail_calls_made());
                // SAFETY: `last` is this program or a target the host or a fast-path table
                // gave, which live at least as long as the run.
                helpers.tail_calls_so_far(made, unsafe { &*chain.last });
            },
        )
    }

    /// Whether `bpf_tail_call` can jump into this code: compiled with
    /// [`compile_tail_callable`](Self::compile_tail_callable) and unchecked.
    pub fn tail_callable(&self) -> bool {
        self.tail_entry != 0
    }

    /// Whether a tail call through a site specialised with
    /// [`Specialization::TailCall`](crate::Specialization::TailCall) can jump into this
    /// code itself: tail-callable code without `ld_abs`/`ld_ind`. Only such programs may
    /// be in that specialisation's table.
    pub fn fast_tail_callable(&self) -> bool {
        self.tail_target.fast_entry != 0
    }

    /// The program as loaded (for the interpreter, e.g. to cross-check).
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The generated machine code (entry at offset 0), e.g. to disassemble it.
    pub fn machine_code(&self) -> &[u8] {
        self.code.bytes()
    }

    /// Offset in [`machine_code`](Self::machine_code) of the code of the instruction at
    /// slot `pc`, if an instruction starts there.
    pub fn code_offset(&self, pc: usize) -> Option<usize> {
        let i = *self.plan.index_of_slot.get(pc)?;
        self.offsets.get(i as usize).copied()
    }

    /// The options it was compiled with.
    pub fn options(&self) -> &CompileOptions {
        &self.options
    }

    /// The call sites whose specialisation the code honours: those given to
    /// [`compile_specialized`](Self::compile_specialized) for unchecked code, none for
    /// checked code.
    pub fn specializations(&self) -> &CallSites {
        &self.specialized
    }
}

impl CallbackEngine for JitProgram {
    unsafe fn run_callback(
        &self,
        slot: usize,
        args: [u64; 5],
        frame: CallbackFrame,
        memory: &mut MemoryMap<'_>,
        helpers: &mut dyn Helpers,
        config: &Config,
    ) -> Result<Exit, VmError> {
        // SAFETY: forwarded to the caller.
        unsafe { execute_callback(self, slot, args, frame, memory, helpers, config) }
    }
}

// Compiled programs are shared between threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<JitProgram>();
};
