//! Execution engines: the checked interpreter or the x86-64 JIT, chosen per program.
//!
//! Each program is prepared once, at load: for the JIT it is compiled to machine code then.
//! How much the code checks depends on what the verifier proved:
//!
//! | program | JIT code | run-time checks |
//! |---|---|---|
//! | accepted by the verifier ([`Verification::Verify`](crate::Verification::Verify)) | unchecked | none but call depth and `ld_abs`/`ld_ind` bounds |
//! | loaded [`Unverified`](crate::Verification::Unverified), or of a type the verifier does not model | checked | every access, instruction budget |
//!
//! Unchecked code is safe only because the verifier's model of the context and packet is
//! the runtime's layout: packet and context live below 4 GiB so the 32-bit `data`,
//! `data_end` and `data_meta` fields are the real addresses the verifier reasons about,
//! the packet region spans exactly what the verifier lets a program reach (XDP: the frame
//! from its headroom to the tailroom; tc: `data` to `data_end`), and the context fields it
//! lets a program write are inside the context buffer. Map values, ring buffer samples and
//! global data are real host memory that stays valid for the whole test-run.
//!
//! Unchecked code also inlines `bpf_map_lookup_elem` on array maps where the map is known
//! at load, and calls hash maps' lookups directly (see `inline`), as the kernel's verifier
//! and JIT do; its helpers take verified pointer arguments unchecked.

//!
//! Tail calls: the programs of an object with a program array are compiled
//! tail-callable ([`JitProgram::compile_with`]). In their unchecked code,
//! `bpf_tail_call` from the main function to another such program jumps straight into the
//! target's code within the same run, as the kernel's JIT does (the runtime decides the
//! target exactly as its helper would: `RunHelpers` implements [`bpfkit_jit::TailCalls`]).
//! Every other tail call (interpreter, checked code, a target on another engine) ends the
//! run and the test-run loop starts the target as a new one.

use crate::load::Proof;
use bpfkit_jit::{CallSites, CompileOptions, JitProgram, TailCalls};
use bpfkit_vm::{Config, Exit, Helpers, MemoryMap, VmError};

/// How programs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// bpfkit's reference interpreter: every memory access is checked, instructions are
    /// counted.
    Interpreter,
    /// bpfkit's x86-64 JIT: unchecked machine code for programs the verifier accepted,
    /// checked code (every access bounds-checked, instructions metered) for the others.
    Jit,
}

impl Engine {
    /// The default on this host: the JIT on x86-64, the interpreter elsewhere.
    pub const fn host_default() -> Engine {
        if cfg!(target_arch = "x86_64") {
            Engine::Jit
        } else {
            Engine::Interpreter
        }
    }

    /// Its name as the CLI spells it: `interp` or `jit`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interpreter => "interp",
            Engine::Jit => "jit",
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::host_default()
    }
}

/// A program prepared for its engine.
pub(crate) enum Prepared {
    /// Run on the interpreter (the `vm` program of [`LoadedProgram`](crate::load::LoadedProgram)).
    Interpreter,
    /// Compiled (boxed: the compiled program is large); its options say whether checked.
    Jit(Box<JitProgram>),
}

impl Prepared {
    /// Prepares `vm` for `engine`; `proof` says what the verifier proved for its program
    /// type: only a safe program gets unchecked code (no run-time checks, the helper calls
    /// `sites` specialises inlined: see `inline`), and only one that never reads a stack
    /// byte it did not write skips zeroing the stack. `tail_callable`
    /// (for the programs of an object with a program array) compiles unchecked code so
    /// that tail calls jump into it and out of it (see [`bpfkit_jit::TailCalls`]): all
    /// such programs of the object must be, as a jump leaves through the epilogue of the
    /// program the run started with.
    pub(crate) fn new(
        vm: &bpfkit_vm::Program,
        engine: Engine,
        proof: Proof,
        sites: &CallSites,
        tail_callable: bool,
    ) -> Result<Prepared, bpfkit_jit::JitError> {
        let options = CompileOptions {
            checked: proof == Proof::None,
            zero_stack: proof != Proof::SafeStackWrittenFirst,
            ..CompileOptions::default()
        };
        match engine {
            Engine::Interpreter => Ok(Prepared::Interpreter),
            Engine::Jit => Ok(Prepared::Jit(Box::new(JitProgram::compile_with(
                vm,
                &options,
                sites,
                tail_callable,
            )?))),
        }
    }

    /// Whether its code inlines some helper calls (unchecked JIT code only).
    pub(crate) fn inlines(&self) -> bool {
        match self {
            Prepared::Interpreter => false,
            Prepared::Jit(j) => !j.specializations().is_empty(),
        }
    }

    pub(crate) fn engine(&self) -> Engine {
        match self {
            Prepared::Interpreter => Engine::Interpreter,
            Prepared::Jit(_) => Engine::Jit,
        }
    }

    /// Whether every memory access is checked at run time.
    pub(crate) fn checked(&self) -> bool {
        match self {
            Prepared::Interpreter => true,
            Prepared::Jit(j) => j.options().checked,
        }
    }

    /// One run with the interpreter's interface. `Exit::executed` is 0 for unchecked code.
    /// Tail-callable code makes the tail calls `helpers` resolve as jumps, in this run.
    #[inline(always)]
    pub(crate) fn run<'p, H: Helpers + TailCalls<'p>>(
        &self,
        vm: &bpfkit_vm::Program,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut H,
        config: &Config,
    ) -> Result<Exit, VmError> {
        match self {
            Prepared::Interpreter => vm.run(args, memory, helpers, config),
            Prepared::Jit(j) if j.tail_callable() => {
                j.run_with_tail_calls(args, memory, helpers, config)
            }
            Prepared::Jit(j) => j.run(args, memory, helpers, config),
        }
    }
}

/// Compiles `vm`, with run-time checks or without.
pub(crate) fn compile(
    vm: &bpfkit_vm::Program,
    checked: bool,
) -> Result<JitProgram, bpfkit_jit::JitError> {
    let options = CompileOptions {
        checked,
        ..CompileOptions::default()
    };
    JitProgram::compile(vm, &options)
}
