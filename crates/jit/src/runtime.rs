//! The Rust side of a run: the context set-up, the helper trampoline and the memory slow
//! path that generated code calls, and the translation of how the code left into
//! `Exit`/`VmError`.
//!
//! Errors never unwind through generated code: a Rust function called from it records the
//! error (or a helper's panic) in the context and returns a flag; the code then leaves
//! through its common exit, which restores rsp from the context whatever the call depth.
//! Panics are resumed once the code has returned.

use crate::ctx::{fit_bound, last_fit, status, ArgsCtx, CoreCtx, JitCtx};
use crate::program::JitProgram;
use bpfkit_isa::{MAX_CALL_FRAMES, STACK_SIZE};
use bpfkit_vm::{
    AccessKind, CallbackFrame, Config, Exit, FaultReason, HelperCtx, HelperError, HelperReturn,
    Helpers, MemFault, MemoryMap, VmError, VmErrorKind,
};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// The eBPF stack of one run: all frames, the main one at the top (as the interpreter).
#[repr(C, align(16))]
struct Stack([u64; MAX_CALL_FRAMES * STACK_SIZE / 8]);

/// `JitCtx::run_mark` before the stack window is registered in the memory map.
const NOT_REGISTERED: usize = usize::MAX;

/// A run's chain of tail calls: the resolver for the context (0: none), the tail calls
/// made before the run (in) and by its end (out), and the program running at the end.
pub(crate) struct Chain {
    pub resolver: u64,
    pub made: u32,
    pub last: *const JitProgram,
}

/// Runs compiled code once (see [`JitProgram::run`](crate::JitProgram::run)) as part of
/// `chain`; `end` sees the chain as the code left it, before the result is made (so the
/// caller returns the result as it is: holding it across a call of its own cost a
/// store-forwarding stall per run when it was moved out).
#[inline(always)]
pub(crate) fn execute<H: Helpers + ?Sized>(
    jit: &JitProgram,
    args: [u64; 5],
    memory: &mut MemoryMap<'_>,
    helpers: &mut H,
    config: &Config,
    chain: &mut Chain,
    end: impl FnOnce(&mut H, &Chain),
) -> Result<Exit, VmError> {
    if jit.plan.leaf {
        // Leaf code makes no tail call: the chain stays as it is.
        end(helpers, chain);
        execute_leaf(jit, args)
    } else {
        execute_full(jit, args, memory, helpers, config, chain, end)
    }
}

// The eBPF stack lives (and stays put) in the frame of the `execute_*` function until it
// returns, after the generated code did. Only the part of the main frame the program can
// reach is zeroed now (`Program::stack_need`: all of it when r10 escapes or helpers are
// called): zeroing all eight frames cost more than running a short program. Deeper frames
// are zeroed when first entered (by the code, or all of them when a helper starts a
// callback, which runs on the interpreter in the frames below its caller's), so a read of a
// never-written stack byte gives 0 as in the interpreter, and never host data.

/// The top of `stack` (r10 of the main frame), with the reachable part of the main frame
/// zeroed.
#[inline(always)]
fn stack_top(stack: &mut MaybeUninit<Stack>, need: usize) -> u64 {
    let top = stack.as_mut_ptr() as u64 + std::mem::size_of::<Stack>() as u64;
    if need > 0 {
        // SAFETY: the last `need` (at most STACK_SIZE) bytes of `stack`, writable.
        unsafe { ((top - need as u64) as *mut u8).write_bytes(0, need) };
    }
    top
}

/// The context fields all code may use, for a run starting at the stack top `top`.
#[inline(always)]
fn core_ctx(args: &[u64; 5], top: u64, budget: u64) -> CoreCtx {
    CoreCtx {
        args,
        stack_top: top,
        stack_min_r10: top - ((MAX_CALL_FRAMES - 1) * STACK_SIZE) as u64,
        zeroed_low: top - STACK_SIZE as u64,
        budget_left: budget,
        saved_rsp: 0,
        status: status::OK,
        err_arg: 0,
        err_value: 0,
    }
}

/// A run of leaf code (unchecked, no helper call, no packet load), which uses only a
/// [`CoreCtx`] and calls no Rust function: kept small, since for short programs the set-up
/// is most of the run.
#[inline]
fn execute_leaf(jit: &JitProgram, args: [u64; 5]) -> Result<Exit, VmError> {
    if jit.plan.stackless {
        let mut ctx = ArgsCtx { args: &args };
        // SAFETY: as in `execute_full`; stackless code reads only the `args` field of the
        // context, which `ArgsCtx` shares with `JitCtx`, uses no stack and cannot fail.
        let r0 = unsafe { enter(jit.entry, (&mut ctx as *mut ArgsCtx).cast()) };
        return Ok(Exit { r0, executed: 0 });
    }
    let mut stack = MaybeUninit::<Stack>::uninit();
    let top = stack_top(&mut stack, jit.plan.zero_need);
    // Unchecked code keeps no budget.
    let mut core = core_ctx(&args, top, 0);
    // SAFETY: as in `execute_full`; leaf code reads and writes no context field outside
    // `CoreCtx`, the prefix of `JitCtx` (the emitter emits no code that does for such
    // programs).
    let r0 = unsafe { enter(jit.entry, (&mut core as *mut CoreCtx).cast()) };
    match core.status {
        status::OK => Ok(Exit { r0, executed: 0 }),
        // The only way leaf code fails (no budget, helper, packet or `callx`).
        _ => Err(call_depth_error(core.err_arg)),
    }
}

#[cold]
fn call_depth_error(pc: u64) -> VmError {
    VmError {
        pc: pc as usize,
        kind: VmErrorKind::CallDepth(MAX_CALL_FRAMES),
    }
}

/// A run of any code, with the whole context.
#[inline(never)]
fn execute_full<H: Helpers + ?Sized>(
    jit: &JitProgram,
    args: [u64; 5],
    memory: &mut MemoryMap<'_>,
    helpers: &mut H,
    config: &Config,
    chain: &mut Chain,
    end: impl FnOnce(&mut H, &Chain),
) -> Result<Exit, VmError> {
    let mut stack = MaybeUninit::<Stack>::uninit();
    let top = stack_top(&mut stack, jit.plan.zero_need);
    let core = core_ctx(&args, top, config.budget);
    // The stack window is registered in the memory map only when Rust code needs the map
    // (a helper call or a checked access off the fast path): most runs never do.
    let mut helpers: &mut H = helpers;
    let helpers_ptr = (&mut helpers as *mut &mut H).cast();
    let mut ctx = full_ctx::<H>(jit, core, top, helpers_ptr, config, chain.resolver);
    ctx.tail_calls = chain.made;
    prepare(&mut ctx, jit, memory, config);

    // SAFETY: the context outlives the call and points only at live data: the stack buffer
    // (registered as the run's stack window when Rust code needs it), the memory map and
    // helpers (not used by this function until the call returns), the program and its
    // function table.
    let r0 = unsafe { enter(jit.entry, &mut ctx) };
    chain.made = ctx.tail_calls;
    chain.last = ctx.jit;
    // The code has returned: nothing uses the context's pointer to `helpers` any more.
    end(helpers, chain);
    if ctx.run_mark != NOT_REGISTERED {
        memory.end_run(ctx.run_mark);
    }
    // The two records are looked at in place, not moved out: the move read them back in
    // wider units than they were written, a store-forwarding stall per run.
    if ctx.panic.is_some() {
        resume_panic(&mut ctx.panic);
    }
    outcome(jit, config, &ctx.core, r0, ctx.stop_r0, &mut ctx.error)
}

/// Runs the function at `slot` as a helper's callback (see
/// [`CallbackEngine`](bpfkit_vm::CallbackEngine)): through the callback entry, with its own
/// context over the run's stack and memory map, which the calling run registered.
///
/// # Safety
/// As [`CallbackEngine::run_callback`](bpfkit_vm::CallbackEngine::run_callback); `jit` has a
/// callback entry.
pub(crate) unsafe fn execute_callback(
    jit: &JitProgram,
    slot: usize,
    args: [u64; 5],
    frame: CallbackFrame,
    memory: &mut MemoryMap<'_>,
    helpers: &mut dyn Helpers,
    config: &Config,
) -> Result<Exit, VmError> {
    let code = jit.func_table.get(slot).copied().unwrap_or(0);
    if code == 0 || jit.callback_entry == 0 {
        return Err(VmError {
            pc: slot,
            kind: VmErrorKind::BadCallTarget(bpfkit_vm::FUNC_ADDR_TAG | slot as u64),
        });
    }
    #[cfg(test)]
    tests::CALLBACK_RUNS.with(|n| n.set(n.get() + 1));
    let main_top = frame.r10 + (frame.depth * STACK_SIZE) as u64;
    let mut core = core_ctx(&args, frame.r10, config.budget);
    core.stack_min_r10 = main_top - ((MAX_CALL_FRAMES - 1) * STACK_SIZE) as u64;
    // `HelperCtx::call_function` zeroed every frame below the caller's before the first
    // callback; frames in between were zeroed when first entered.
    core.zeroed_low = main_top - (MAX_CALL_FRAMES * STACK_SIZE) as u64;
    let mut helpers: &mut dyn Helpers = helpers;
    let mut ctx = full_ctx::<dyn Helpers>(
        jit,
        core,
        main_top,
        (&mut helpers as *mut &mut dyn Helpers).cast(),
        config,
        // A tail call in a callback takes the helper path, whatever its registers.
        0,
    );
    ctx.callback_code = code;
    // The calling run registered the stack; this one must neither register nor end it.
    ctx.run_mark = 0;
    prepare(&mut ctx, jit, memory, config);
    if !config.check_alignment {
        // The callback may reach its callers' frames (its context usually lives there).
        ctx.stack_top_m8 = main_top - 8;
    }
    // SAFETY: as in `execute_full`; the stack is the calling run's, registered in `memory`,
    // and the callback's frame lies below every frame in use (the caller's promise).
    let r0 = unsafe { enter(jit.callback_entry, &mut ctx) };
    if ctx.panic.is_some() {
        resume_panic(&mut ctx.panic);
    }
    outcome(jit, config, &ctx.core, r0, ctx.stop_r0, &mut ctx.error)
}

/// The whole context of a run (main or callback), before `prepare`.
#[inline(always)]
fn full_ctx<H: Helpers + ?Sized>(
    jit: &JitProgram,
    core: CoreCtx,
    main_top: u64,
    helpers: *mut (),
    config: &Config,
    tail_fn: u64,
) -> JitCtx {
    let top = core.stack_top;
    JitCtx {
        core,
        stack_top_m8: top - 8,
        region0_start: u64::MAX,
        region0_read_last: [0; 4],
        region0_write_last: [0; 4],
        packet_ptr: 0,
        packet_bound: [0; 4],
        has_packet: 0,
        reads_packet: jit.plan.reads_packet,
        helper_fn: helper_trampoline::<H> as *const () as u64,
        plain_fn: plain_trampoline::<H> as *const () as u64,
        slow_fn: slow_check as *const () as u64,
        callback_code: 0,
        tail_fn,
        call_pc: 0,
        call_id: 0,
        call_r10: 0,
        run_mark: NOT_REGISTERED,
        helpers,
        memory: std::ptr::null_mut(), // set last, once `memory` is no longer used directly
        jit,
        main_top,
        config,
        stop_r0: 0,
        error: None,
        panic: None,
        tail_calls: 0,
    }
}

/// Fills the context's caches of the memory map (checked code's primary region, the
/// packet of `ld_abs`), then hands the map over to it.
#[inline(always)]
fn prepare(ctx: &mut JitCtx, jit: &JitProgram, memory: &mut MemoryMap<'_>, config: &Config) {
    match memory.regions().first() {
        // With alignment checks every access takes the slow path, which checks alignment.
        Some(r) if jit.options.checked && !config.check_alignment => {
            ctx.region0_start = r.start();
            for (class, size) in [1u64, 2, 4, 8].into_iter().enumerate() {
                ctx.region0_read_last[class] = last_fit(r.start(), r.len(), size);
                if r.access() == bpfkit_vm::Access::ReadWrite {
                    ctx.region0_write_last[class] = last_fit(r.start(), r.len(), size);
                }
            }
        }
        _ => {}
    }
    if config.check_alignment {
        ctx.stack_top_m8 = 0;
    }
    if jit.plan.reads_packet {
        refresh_packet(ctx, memory);
    }
    ctx.memory = (memory as *mut MemoryMap<'_>).cast();
}

#[cold]
fn resume_panic(panic: &mut Option<Box<dyn std::any::Any + Send>>) {
    if let Some(payload) = panic.take() {
        resume_unwind(payload);
    }
}

/// Calls the generated code.
///
/// # Safety
/// `entry` must be the start of code generated with the calling convention
/// `extern "sysv64" fn(*mut JitCtx) -> u64`, and `ctx` a context it may use for the whole
/// call (see [`execute`]). Generated code accesses memory only inside the stack, regions the
/// memory map vouched for, or (unchecked) wherever a verifier proved safe.
#[inline(always)]
unsafe fn enter(entry: u64, ctx: *mut JitCtx) -> u64 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let entry: unsafe extern "sysv64" fn(*mut JitCtx) -> u64 = std::mem::transmute(entry);
        entry(ctx)
    }
}

/// The run's result from how the code left (`stop_r0` and `error` as a helper or the slow
/// path recorded them).
#[inline(never)]
fn outcome(
    jit: &JitProgram,
    config: &Config,
    core: &CoreCtx,
    r0: u64,
    stop_r0: u64,
    error: &mut Option<VmError>,
) -> Result<Exit, VmError> {
    let executed = if jit.options.checked {
        config.budget.wrapping_sub(core.budget_left)
    } else {
        0
    };
    let fail = |pc: u64, kind| VmError {
        pc: pc as usize,
        kind,
    };
    match core.status {
        status::OK => Ok(Exit { r0, executed }),
        status::STOP => Ok(Exit {
            r0: stop_r0,
            executed,
        }),
        status::BUDGET => {
            let remaining = core.budget_left.wrapping_add(
                jit.plan.blocks[(core.err_arg as usize).min(jit.plan.blocks.len() - 1)].len as u64,
            );
            let pc = jit.plan.budget_pc(core.err_arg as usize, remaining);
            Err(fail(pc as u64, VmErrorKind::Budget(config.budget)))
        }
        status::CALL_DEPTH => Err(call_depth_error(core.err_arg)),
        status::NO_PACKET => Err(fail(core.err_arg, VmErrorKind::NoPacket)),
        status::BAD_CALLX => Err(fail(
            core.err_arg,
            VmErrorKind::BadCallTarget(core.err_value),
        )),
        _ => Err(error
            .take()
            .unwrap_or_else(|| fail(0, VmErrorKind::BadControlFlow))),
    }
}

/// The run's memory map, with the run's stack registered in it (on the first call).
///
/// # Safety
/// `ctx` must be the live context of the current run, called from generated code (so
/// `execute` does not use the map meanwhile).
unsafe fn run_memory<'m>(ctx: &mut JitCtx) -> &'m mut MemoryMap<'static> {
    // SAFETY: set by `execute` from a live exclusive reference it does not use until the
    // generated code returns.
    let memory = unsafe { &mut *ctx.memory };
    if ctx.run_mark == NOT_REGISTERED {
        // SAFETY: the stack buffer of `execute`, which outlives the run; `execute` ends
        // the run (`end_run`) once the code has returned.
        ctx.run_mark = unsafe { memory.begin_run(ctx.main_top - STACK_SIZE as u64, ctx.main_top) };
    }
    memory
}

/// Caches the packet bounds for inline `ld_abs`/`ld_ind` (helpers may change the packet).
pub(crate) fn refresh_packet(ctx: &mut JitCtx, memory: &MemoryMap<'_>) {
    match memory.packet() {
        Some((ptr, len)) => {
            ctx.packet_ptr = ptr as u64;
            ctx.has_packet = 1;
            for (class, size) in [1u64, 2, 4, 8].into_iter().enumerate() {
                ctx.packet_bound[class] = fit_bound(len as u64, size);
            }
        }
        None => {
            ctx.packet_ptr = 0;
            ctx.has_packet = 0;
            ctx.packet_bound = [0; 4];
        }
    }
}

/// Called by generated code for `call <helper>` (and `callx` of a helper number) with
/// r1–r5; returns r0. On a stop or an error, sets the status for the code to leave.
///
/// # Safety
/// `ctx` must be the live context of the current run, whose `helpers` points at a `&mut H`.
unsafe extern "sysv64" fn helper_trampoline<H: Helpers + ?Sized>(
    ctx: *mut JitCtx,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) -> u64 {
    // SAFETY: generated code passes the context `execute` created; nothing else uses it now.
    let ctx = unsafe { &mut *ctx };
    let id = ctx.call_id as i32;
    let pc = ctx.call_pc as usize;
    let r10 = ctx.call_r10;
    let bottom = ctx.main_top - (MAX_CALL_FRAMES * STACK_SIZE) as u64;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `execute` set these pointers from live exclusive references that it does
        // not use until the generated code returns.
        let (helpers, program, config) = unsafe {
            (
                &mut **(ctx.helpers as *mut &mut H),
                &(*ctx.jit).program,
                &*ctx.config,
            )
        };
        // SAFETY: as above.
        let memory = unsafe { run_memory(ctx) };
        let depth = ((ctx.main_top - r10) / STACK_SIZE as u64) as usize;
        // SAFETY: r10 comes from the generated code, which only ever moves it by whole frames
        // between the stack top and the deepest of the eight frames of `stack` (checked on
        // every local call), so it names a frame of the stack given to `begin_run`.
        let mut hctx = unsafe {
            memory.set_stack_low(r10 - STACK_SIZE as u64);
            HelperCtx::for_engine(
                memory,
                program,
                config,
                pc,
                depth,
                r10,
                ctx.core.budget_left,
            )
        };
        // SAFETY: `ctx.jit` compiled `program` (the running one) and outlives the run.
        let jit = unsafe { ctx.jit.as_ref() };
        // Callbacks the helper may run use the frames below the caller's: the first one
        // zeroes those never entered in this run (most helper calls run none), unless the
        // code zeroes no stack (it never reads a byte it did not write).
        if jit.is_none_or(|j| j.plan.zero_need > 0) {
            // SAFETY: `[bottom, zeroed_low)` is the part of the run's stack buffer no code
            // entered yet (frames are entered in order from the top), below the caller's
            // frame.
            unsafe { hctx.zero_before_callbacks(&mut ctx.core.zeroed_low, bottom) };
        }
        // SAFETY: as above; its callbacks run in the frames below r10, as
        // `execute_callback` requires.
        if let Some(jit) = jit.filter(|j| j.callback_entry != 0) {
            unsafe { hctx.run_callbacks_with(jit) };
        }
        // SAFETY: unchecked code is compiled only for programs a verifier accepted
        // (`CompileOptions::checked`), which checked their helpers' memory arguments.
        if jit.is_some_and(|j| !j.options.checked) {
            unsafe { hctx.trust_arguments() };
        }
        let result = helpers.call(id, [a1, a2, a3, a4, a5], &mut hctx);
        ctx.core.budget_left = hctx.remaining_budget();
        if ctx.reads_packet {
            refresh_packet(ctx, memory);
        }
        // The result is taken apart here rather than returned from the closure: moving the
        // enum out cost a store-forwarding stall per call (written in 8-byte halves, read
        // back in 16).
        match result {
            Ok(HelperReturn::Value(v)) => v,
            other => helper_exit(ctx, id, pc, other),
        }
    }));
    match outcome {
        Ok(r0) => r0,
        Err(payload) => {
            ctx.panic = Some(payload);
            ctx.core.status = status::ERROR;
            0
        }
    }
}

/// Called by generated code for a helper call the host marked plain
/// ([`Specialization::PlainCall`](crate::Specialization::PlainCall)), with the same
/// arguments as [`helper_trampoline`]: asks [`Helpers::call_plain`] first, without building
/// a helper context, and falls back to the full call when it declines (or when helpers may
/// change the packet cache of `ld_abs` code, which only the full call refreshes).
///
/// # Safety
/// As [`helper_trampoline`]; the code is unchecked (its program was verified).
unsafe extern "sysv64" fn plain_trampoline<H: Helpers + ?Sized>(
    ctx: *mut JitCtx,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) -> u64 {
    // SAFETY: generated code passes the context `execute` created; nothing else uses it now.
    let run = unsafe { &mut *ctx };
    if !run.reads_packet {
        let id = run.call_id as i32;
        // SAFETY: as in `helper_trampoline`; the program was verified (unchecked code), as
        // `call_plain` requires.
        let helpers = unsafe { &mut **(run.helpers as *mut &mut H) };
        match catch_unwind(AssertUnwindSafe(|| unsafe {
            helpers.call_plain(id, [a1, a2, a3, a4, a5])
        })) {
            Ok(Some(r0)) => return r0,
            Ok(None) => {}
            Err(payload) => {
                run.panic = Some(payload);
                run.core.status = status::ERROR;
                return 0;
            }
        }
    }
    // SAFETY: forwarded.
    unsafe { helper_trampoline::<H>(ctx, a1, a2, a3, a4, a5) }
}

/// Records how a helper call that did not return a value ended: a stop or an error.
#[cold]
#[inline(never)]
fn helper_exit(
    ctx: &mut JitCtx,
    id: i32,
    pc: usize,
    result: Result<HelperReturn, HelperError>,
) -> u64 {
    let kind = match result {
        Ok(HelperReturn::Value(v)) => return v,
        Ok(HelperReturn::Stop(v)) => {
            ctx.stop_r0 = v;
            ctx.core.status = status::STOP;
            return 0;
        }
        Err(HelperError::Unknown) => VmErrorKind::UnknownHelper(id),
        Err(HelperError::Memory(f)) => VmErrorKind::Memory(f),
        Err(HelperError::Failed(message)) => VmErrorKind::Helper { id, message },
        Err(HelperError::Callback(e)) => {
            ctx.error = Some(*e);
            ctx.core.status = status::ERROR;
            return 0;
        }
        Err(other) => VmErrorKind::Helper {
            id,
            message: other.to_string(),
        },
    };
    ctx.error = Some(VmError { pc, kind });
    ctx.core.status = status::ERROR;
    0
}

/// The slow path of a checked access: `site` is `pc | size << 32 | kind << 40`, `r10` the
/// current frame pointer. Returns 0 when the access may proceed, else records the error.
///
/// # Safety
/// `ctx` must be the live context of the current run.
unsafe extern "sysv64" fn slow_check(ctx: *mut JitCtx, addr: u64, site: u64, r10: u64) -> u64 {
    // SAFETY: generated code passes the context `execute` created; nothing else uses it now.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: set by `execute` from live references, unused elsewhere during the call.
    let config = unsafe { &*ctx.config };
    // SAFETY: as above.
    let memory = unsafe { run_memory(ctx) };
    let pc = site as u32 as usize;
    let size = (site >> 32) & 0xff;
    let access = match site >> 40 {
        0 => AccessKind::Read,
        1 => AccessKind::Write,
        _ => AccessKind::Atomic,
    };
    // SAFETY: as for helper calls: r10 is a frame pointer of the run's stack.
    unsafe { memory.set_stack_low(r10 - STACK_SIZE as u64) };
    let misaligned =
        !addr.is_multiple_of(size) && (access == AccessKind::Atomic || config.check_alignment);
    let result = if misaligned {
        Err(MemFault {
            access,
            size,
            addr,
            reason: FaultReason::Misaligned,
        })
    } else {
        memory.check_access(addr, size, access)
    };
    match result {
        Ok(()) => 0,
        Err(fault) => {
            ctx.error = Some(VmError {
                pc,
                kind: VmErrorKind::Memory(fault),
            });
            ctx.core.status = status::ERROR;
            1
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    thread_local! {
        /// Callbacks run through the callback entry on this thread.
        pub(crate) static CALLBACK_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    use crate::{CompileOptions, JitProgram};
    use bpfkit_isa::{Insn, LdImm64Kind, Reg};
    use bpfkit_vm::{
        Config, Exit, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program, VmError,
    };

    /// Helper 1 runs the callback at r1 (a function address) and returns its r0.
    struct Callback;

    impl Helpers for Callback {
        fn call(
            &mut self,
            _id: i32,
            a: [u64; 5],
            ctx: &mut HelperCtx<'_, '_>,
        ) -> Result<HelperReturn, HelperError> {
            Ok(HelperReturn::Value(ctx.call_function(self, a[0], [0; 5])?))
        }
        fn is_known(&self, id: i32) -> bool {
            id == 1
        }
    }

    /// Runs `jit` from the same Rust stack depth every time, so that each run's stack
    /// buffer is the previous run's.
    #[inline(never)]
    fn run(jit: &JitProgram) -> Result<Exit, VmError> {
        jit.run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut Callback,
            &Config::default(),
        )
    }

    fn compile(text: &str, checked: bool) -> (Program, JitProgram) {
        let mut insns = bpfkit_asm::assemble(text).unwrap();
        // `lddw %r1, <cb>` for the marker constant (`cb` at slot 4: the offset counts from
        // the slot after the `lddw`'s first).
        for insn in &mut insns {
            if matches!(insn, Insn::LdImm64 { imm: 0x0bf0, .. }) {
                *insn = Insn::LdImm64 {
                    dst: Reg::R1,
                    kind: LdImm64Kind::Func,
                    imm: 3,
                };
            }
        }
        let prog = Program::load(&insns).unwrap();
        let options = CompileOptions {
            checked,
            ..CompileOptions::default()
        };
        let jit = JitProgram::compile(&prog, &options).unwrap();
        (prog, jit)
    }

    #[test]
    fn callbacks_see_zeroed_frames_after_a_run_that_dirtied_them() {
        // Fills all eight frames with ones (f calls itself 7 levels deep, r6 counting).
        let (_, dirty) = compile(
            "
            mov %r6, 7
            call local f
            exit
        f:
            mov %r1, %r10
            sub %r1, 512
        fill:
            stdw [%r1], -1
            add %r1, 8
            jlt %r1, %r10, fill
            sub %r6, 1
            jeq %r6, 0, out
            call local f
        out:
            mov %r0, 0
            exit
            ",
            true,
        );
        // The callback and a function it calls read never-written slots of their frames.
        let text = "
            lddw %r1, 0x0bf0
            call 1
            exit
        cb:
            ldxdw %r0, [%r10-8]
            ldxdw %r2, [%r10-504]
            add %r0, %r2
            call local g
            add %r0, 5
            exit
        g:
            ldxdw %r0, [%r10-8]
            ldxdw %r2, [%r10-256]
            add %r0, %r2
            exit
        ";
        for checked in [true, false] {
            let (prog, jit) = compile(text, checked);
            let expected = prog.run(
                [0; 5],
                &mut MemoryMap::new(),
                &mut Callback,
                &Config::default(),
            );
            assert_eq!(expected.as_ref().map(|e| e.r0), Ok(5));
            assert_eq!(run(&dirty).map(|e| e.r0), Ok(0));
            let before = CALLBACK_RUNS.with(|n| n.get());
            let got = run(&jit).map(|e| e.r0);
            assert_eq!(got, Ok(5), "checked: {checked}");
            // The callback ran in the JIT's code, not on the interpreter.
            assert_eq!(CALLBACK_RUNS.with(|n| n.get()), before + 1);
        }
    }
}
