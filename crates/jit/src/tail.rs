//! Tail calls as jumps: how a host lets `bpf_tail_call` in unchecked code jump straight
//! into the target's machine code, as the kernel's x86 JIT does, instead of ending the run
//! so that the host starts the target as a new one.
//!
//! # Design
//! - Code compiled with [`JitProgram::compile_tail_callable`] (unchecked only) has a
//!   *uniform prologue*: it saves every callee-saved register the JIT may use and always
//!   runs with the whole run context (never as leaf code), so all such programs leave the
//!   same stack layout below the context's saved rsp. After it comes the *tail entry*:
//!   rsp back to the main function's level, r10 = the stack top, the reachable bytes of the
//!   main frame zeroed (each program of a chain starts on a zeroed stack, as on the
//!   interpreter, where it is a new run), r0 = 0, r1–r5 from the run's arguments and the
//!   named r6–r9 zeroed, as the normal entry sets them; then the first instruction.
//! - In such code, `call 12` (`bpf_tail_call(ctx, map, index)`) in the main function calls
//!   a resolver ([`JitProgram::run_with_tail_calls`] puts it in the run context,
//!   monomorphised for the host's type like the helper trampoline). The resolver asks the
//!   host ([`TailCalls::tail_call`]) and, for [`TailCall::Jump`], switches the context's
//!   per-program fields to the target (the running program, through which helpers'
//!   contexts, callbacks and `callx` find theirs; the packet cache; the zeroed part of the
//!   deeper frames) and returns the
//!   target's tail entry, which the code jumps to. The target's `exit` then returns into
//!   the epilogue of the code the run entered.
//! - Sites specialised with [`Specialization::TailCall`](crate::Specialization::TailCall)
//!   do the resolver's work inline (`emit::tail`): the slot read from the program array's
//!   words, the count, the context switch, the jump. Targets that read the packet cache
//!   (which the resolver refreshes) still take the resolver's path.
//! - The chain is one run: regions that helpers add to the memory map stay until it ends
//!   (dropping them at each jump, as separate runs would, cost about 6 ns per tail call).
//!   Unchecked code trusts a verifier, so the only accesses the memory map still judges
//!   are helpers', on pointers a verified target can only have obtained itself.
//! - Everything else takes the ordinary helper path: [`TailCall::Helper`], runs without a
//!   resolver ([`JitProgram::run`]), checked code, and tail calls from a bpf-to-bpf
//!   function or a callback (the runtime reports those as unsupported, as before).
//! - At most [`MAX_TAIL_CALLS`] tail calls per chain (the kernel's `MAX_TAIL_CALL_CNT`),
//!   counted on from [`TailCalls::tail_calls_made`]: one more fails like an exhausted tail
//!   call, so a host that counts nothing still cannot make a run loop forever.
//! - Unchecked code counts no instructions, so a chain of jumps reports `executed: 0` like
//!   any unchecked run.

use crate::ctx::{status, JitCtx};
use crate::emit::tail::{FAILED, HELPER};
use crate::program::JitProgram;
use crate::runtime::refresh_packet;
use bpfkit_isa::STACK_SIZE;
use bpfkit_vm::{Helpers, VmError, VmErrorKind};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `MAX_TAIL_CALL_CNT`: the tail calls one run may make by jumping.
pub const MAX_TAIL_CALLS: u32 = 33;

/// What a `bpf_tail_call` does, as the host decides it in [`TailCalls::tail_call`].
#[derive(Clone, Copy, Debug)]
pub enum TailCall<'p> {
    /// The tail call succeeds: the running code jumps into this program, which must be
    /// [tail-callable](JitProgram::tail_callable) (else the run fails with a helper error
    /// at the call). The host counts the call as made.
    Jump(&'p JitProgram),
    /// The tail call fails (empty slot, index out of range, limit reached): r0 = 0 and the
    /// program continues after the call, as `bpf_tail_call` does.
    Fail,
    /// The JIT does not handle this one: it becomes an ordinary call of helper 12 through
    /// [`Helpers::call`] (e.g. the target runs on another engine, or the map is not a
    /// program array and the helper reports the error).
    Helper,
}

/// A host that resolves tail calls for [`JitProgram::run_with_tail_calls`].
///
/// `'p` is how long the programs it returns live: at least the whole run.
///
/// ```
/// use bpfkit_jit::{CompileOptions, JitProgram, TailCall, TailCalls};
/// use bpfkit_vm::{Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program};
///
/// /// Slot 0 of program array 1 holds `target`; everything else is empty.
/// struct Host<'p> {
///     target: &'p JitProgram,
/// }
///
/// impl Helpers for Host<'_> {
///     fn call(&mut self, _: i32, _: [u64; 5], _: &mut HelperCtx<'_, '_>)
///         -> Result<HelperReturn, HelperError> {
///         Err(HelperError::Unknown) // every tail call below jumps or fails
///     }
///     fn is_known(&self, id: i32) -> bool {
///         id == 12
///     }
/// }
///
/// impl<'p> TailCalls<'p> for Host<'p> {
///     fn tail_call(&mut self, map: u64, index: u64) -> TailCall<'p> {
///         match (map, index) {
///             (1, 0) => TailCall::Jump(self.target),
///             _ => TailCall::Fail,
///         }
///     }
/// }
///
/// let unchecked = CompileOptions { checked: false, ..CompileOptions::default() };
/// let compile = |text: &str| -> Result<JitProgram, Box<dyn std::error::Error>> {
///     let program = Program::load(&bpfkit_asm::assemble(text)?)?;
///     Ok(JitProgram::compile_tail_callable(&program, &unchecked)?)
/// };
/// // bpf_tail_call(ctx, 1, r1): slot 0 jumps to the target, slot 5 fails (r0 = 0).
/// let caller = compile("mov %r3, %r1\nmov %r2, 1\ncall 12\nadd %r0, 7\nexit")?;
/// let target = compile("mov %r0, %r1\nadd %r0, 100\nexit")?;
/// let mut host = Host { target: &target };
/// let config = Config::default();
/// let run = |host: &mut Host, r1| {
///     caller.run_with_tail_calls([r1, 0, 0, 0, 0], &mut MemoryMap::new(), host, &config)
/// };
/// assert_eq!(run(&mut host, 0)?.r0, 100); // the target's r0 (its r1 is the run's)
/// assert_eq!(run(&mut host, 5)?.r0, 7); // the caller went on after the failed call
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TailCalls<'p> {
    /// `bpf_tail_call(ctx, map, index)` with `map` and `index` as the program passed them
    /// (r2, r3). Called only from the main function of tail-callable code; must not have
    /// side effects unless it returns [`TailCall::Jump`] or [`TailCall::Fail`].
    fn tail_call(&mut self, map: u64, index: u64) -> TailCall<'p>;

    /// The tail calls the chain made before this run (e.g. ordinary `bpf_tail_call`s
    /// after which the host started the target as a new run): the run counts on from
    /// there, so a chain makes at most [`MAX_TAIL_CALLS`] in all. 0 by default.
    fn tail_calls_made(&self) -> u32 {
        0
    }

    /// The chain's count so far (`made`) and the program running: called before an
    /// ordinary helper call of `bpf_tail_call` (so the host's helper counts on from there)
    /// and when a run in which tail calls jumped ends (so the host can name the program
    /// that ran last).
    fn tail_calls_so_far(&mut self, made: u32, running: &JitProgram) {
        let _ = (made, running);
    }
}

/// Called by generated code for `bpf_tail_call` in the main function: the target's tail
/// entry, or [`FAILED`] / [`HELPER`] (see `emit::tail`).
///
/// # Safety
/// `ctx` must be the live context of the current run, whose `helpers` points at a `&mut H`
/// and whose programs (the running one and every target) live for `'p`, which covers the
/// run.
pub(crate) unsafe extern "sysv64" fn tail_resolver<'p, H>(
    ctx: *mut JitCtx,
    map: u64,
    index: u64,
) -> u64
where
    H: Helpers + TailCalls<'p> + ?Sized,
{
    // SAFETY: generated code passes the context `execute` created; nothing else uses it now.
    let ctx = unsafe { &mut *ctx };
    let decision = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `execute` set this pointer from a live exclusive reference that it does
        // not use until the generated code returns.
        let helpers = unsafe { &mut **(ctx.helpers as *mut &mut H) };
        let decision = helpers.tail_call(map, index);
        if let TailCall::Helper = decision {
            // The helper counts on from the jumps made so far.
            // SAFETY: `ctx.jit` is the running program, which outlives the run.
            helpers.tail_calls_so_far(ctx.tail_calls, unsafe { &*ctx.jit });
        }
        decision
    }));
    match decision {
        Ok(TailCall::Jump(target)) => switch_to(ctx, target),
        Ok(TailCall::Fail) => FAILED,
        Ok(TailCall::Helper) => HELPER,
        Err(payload) => {
            ctx.panic = Some(payload);
            ctx.core.status = status::ERROR;
            HELPER
        }
    }
}

/// Makes `target` the running program of the run and returns its tail entry.
fn switch_to(ctx: &mut JitCtx, target: &JitProgram) -> u64 {
    if target.tail_entry == 0 {
        return not_tail_callable(ctx);
    }
    if ctx.tail_calls >= MAX_TAIL_CALLS {
        return FAILED;
    }
    ctx.tail_calls += 1;
    // Helpers' contexts, their callbacks and `callx` use the running program's.
    ctx.jit = target;
    // The deeper frames are dirty: the target zeroes them again when it enters them.
    ctx.core.zeroed_low = ctx.core.stack_top - STACK_SIZE as u64;
    ctx.reads_packet = target.plan.reads_packet;
    if ctx.reads_packet {
        // SAFETY: set by `execute` from a live exclusive reference it does not use until
        // the generated code returns.
        refresh_packet(ctx, unsafe { &*ctx.memory });
    }
    target.tail_entry
}

#[cold]
fn not_tail_callable(ctx: &mut JitCtx) -> u64 {
    ctx.error = Some(VmError {
        pc: ctx.call_pc as usize,
        kind: VmErrorKind::Helper {
            id: crate::emit::tail::TAIL_CALL,
            message: "tail call target is not tail-callable JIT code".into(),
        },
    });
    ctx.core.status = status::ERROR;
    HELPER
}
