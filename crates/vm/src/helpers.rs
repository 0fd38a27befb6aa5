//! Helper functions: the host side of `call <n>`.
//!
//! A host implements [`Helpers`] (or fills a [`HelperTable`] with closures). A helper gets the
//! five argument registers and a [`HelperCtx`], through which it can read and write program
//! memory (checked like the program's own accesses) and add regions for the rest of the run,
//! e.g. to return a pointer to a map value or to a buffer it allocated.

use crate::error::{MemFault, VmError, VmErrorKind};
use crate::interp::{execute, Config, Entry, Exit};
use crate::memory::MemoryMap;
use crate::op::Op;
use crate::program::FUNC_ADDR_TAG;
use bpfkit_isa::{MAX_CALL_FRAMES, STACK_SIZE};
use std::collections::BTreeMap;
use thiserror::Error;

/// What the program does after a helper returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperReturn {
    /// Continue with r0 set to this value.
    Value(u64),
    /// End the whole program now, successfully, with r0 set to this value.
    Stop(u64),
}

/// A helper call failed; the run stops with a [`VmError`](crate::VmError) at the call.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HelperError {
    /// No helper has this number.
    #[error("unknown helper")]
    Unknown,
    /// The helper's own memory access was refused.
    #[error("{0}")]
    Memory(#[from] MemFault),
    /// Any other failure, described.
    #[error("{0}")]
    Failed(String),
    /// A callback started with [`HelperCtx::call_function`] failed; the run stops with its
    /// error (which names the instruction inside the callback).
    #[error("{0}")]
    Callback(Box<VmError>),
}

/// What a helper may touch during a call.
pub struct HelperCtx<'m, 'a> {
    /// The run's memory: read and write with [`MemoryMap::read`]/[`MemoryMap::write`];
    /// regions added here (e.g. [`MemoryMap::add_owned`]) last until the run ends.
    pub memory: &'m mut MemoryMap<'a>,
    pub(crate) pc: usize,
    pub(crate) depth: usize,
    pub(crate) ops: &'m [Op],
    pub(crate) config: &'m Config,
    /// r10 of the calling frame.
    pub(crate) r10: u64,
    /// The run's remaining instruction budget.
    pub(crate) left: u64,
    /// An engine's stack bytes `[low, *zeroed_low)` that still hold stale data: zeroed
    /// before the first callback (see [`HelperCtx::zero_before_callbacks`]).
    pub(crate) unzeroed: Option<(&'m mut u64, u64)>,
    /// The engine that runs callbacks, when not the interpreter.
    pub(crate) engine: Option<&'m dyn CallbackEngine>,
    /// Whether a verifier proved the memory arguments (see
    /// [`HelperCtx::trust_arguments`]).
    pub(crate) trusted: bool,
}

/// Where a callback runs: its frame in the run's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallbackFrame {
    /// r10 of the callback's frame (one frame below its caller's).
    pub r10: u64,
    /// Its depth: frames below the main one (1 for a callback of the main function).
    pub depth: usize,
}

/// An execution engine that runs helper callbacks in its own code instead of the
/// interpreter (the JIT): see [`HelperCtx::run_callbacks_with`].
pub trait CallbackEngine {
    /// Runs the function at `slot` with r1..r5 = `args` in `frame`, over `memory` (whose
    /// stack window already covers the frame) with `helpers` serving its helper calls and
    /// `config.budget` as its instruction budget; returns its r0 and the instructions it
    /// executed (0 if it does not count), or its error, as the interpreter would.
    ///
    /// # Safety
    /// `frame` must lie in the stack installed in `memory` with
    /// [`MemoryMap::begin_run`], below every frame in use, with its caller's frames
    /// above it in the same stack; `slot` must be a valid function start of the program
    /// the engine compiled.
    unsafe fn run_callback(
        &self,
        slot: usize,
        args: [u64; 5],
        frame: CallbackFrame,
        memory: &mut MemoryMap<'_>,
        helpers: &mut dyn Helpers,
        config: &Config,
    ) -> Result<Exit, VmError>;
}

/// Any `Helpers` as a sized value, so it can be passed as `&mut dyn Helpers`.
struct DynHelpers<'h, H: ?Sized>(&'h mut H);

impl<H: Helpers + ?Sized> Helpers for DynHelpers<'_, H> {
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        self.0.call(id, args, ctx)
    }

    fn is_known(&self, id: i32) -> bool {
        self.0.is_known(id)
    }

    unsafe fn call_plain(&mut self, id: i32, args: [u64; 5]) -> Option<u64> {
        // SAFETY: forwarded to the caller.
        unsafe { self.0.call_plain(id, args) }
    }
}

impl<'m, 'a> HelperCtx<'m, 'a> {
    /// A context for a helper called by an execution engine other than the interpreter (the
    /// JIT): `program` is the loaded form of the running program (callbacks run on the
    /// interpreter), `pc` the slot of the call, `depth` the frames below the main one, `r10`
    /// the caller's frame pointer and `left` the remaining instruction budget.
    ///
    /// # Safety
    /// `r10` must be the frame pointer of a frame inside the stack installed with
    /// [`MemoryMap::begin_run`]: callbacks run in the frames below it.
    pub unsafe fn for_engine(
        memory: &'m mut MemoryMap<'a>,
        program: &'m crate::Program,
        config: &'m Config,
        pc: usize,
        depth: usize,
        r10: u64,
        left: u64,
    ) -> Self {
        HelperCtx {
            memory,
            pc,
            depth,
            ops: &program.ops,
            config,
            r10,
            left,
            unzeroed: None,
            engine: None,
            trusted: false,
        }
    }

    /// Lets [`read_arg`](Self::read_arg) and [`write_arg`](Self::write_arg) access memory
    /// arguments directly instead of through the memory map, as the kernel's helpers do:
    /// unchecked code may hold pointers the map does not know (values its inline or direct
    /// map lookups found), and the check would only repeat the verifier's.
    ///
    /// # Safety
    /// A verifier must have proved, for the running program, every argument the helper
    /// passes to `read_arg`/`write_arg`: memory of that size, readable (and writable for
    /// `write_arg`), alive until the call returns, and shared with other threads only
    /// through atomic accesses.
    pub unsafe fn trust_arguments(&mut self) {
        self.trusted = true;
    }

    /// Whether [`trust_arguments`](Self::trust_arguments) was called.
    pub fn trusts_arguments(&self) -> bool {
        self.trusted
    }

    /// Copies `buf.len()` bytes from a memory argument at `addr`: one whose type the
    /// helper's prototype gives a verifier to check (a map key or value, a buffer with its
    /// size). Checked through the memory map unless the arguments are trusted. Arguments a
    /// verifier does not check (`bpf_probe_read`'s source) use [`MemoryMap::read`].
    pub fn read_arg(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        if !self.trusted {
            return self.memory.read(addr, buf);
        }
        // SAFETY: `trust_arguments`' caller vouched for `[addr, addr + len)`; other
        // threads access it only atomically.
        unsafe { crate::memory::copy_from_shared(addr as *const u8, buf) };
        Ok(())
    }

    /// [`read_arg`](Self::read_arg) into a new vector.
    pub fn read_arg_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, MemFault> {
        let mut v = vec![0; len];
        self.read_arg(addr, &mut v)?;
        Ok(v)
    }

    /// Copies `data` into a memory argument at `addr` (see [`read_arg`](Self::read_arg)).
    pub fn write_arg(&self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if !self.trusted {
            return self.memory.write(addr, data);
        }
        // SAFETY: as in `read_arg`, writable.
        unsafe { crate::memory::copy_to_shared(data, addr as *mut u8) };
        Ok(())
    }

    /// Runs this helper's callbacks with `engine` (in the program it compiled) instead of
    /// the interpreter.
    ///
    /// # Safety
    /// `engine` must have compiled the `program` given to [`for_engine`](Self::for_engine),
    /// and uphold [`CallbackEngine::run_callback`]'s contract for the frames below `r10`.
    pub unsafe fn run_callbacks_with(&mut self, engine: &'m dyn CallbackEngine) {
        self.engine = Some(engine);
    }

    /// Lets an engine zero the frames below the caller's only when a callback actually
    /// starts: the first [`call_function`](Self::call_function) of this helper call zeroes
    /// `[low, *zeroed_low)` and sets `*zeroed_low = low`, so the callback sees zeroed frames
    /// below it as in the interpreter (which zeroes them at its first call). Most helpers
    /// run no callback, and zeroing seven frames cost more than the rest of a short run.
    ///
    /// # Safety
    /// `[low, *zeroed_low)` (when not empty) must be writable memory of the stack installed
    /// with [`MemoryMap::begin_run`], below the caller's frame, that nothing references.
    pub unsafe fn zero_before_callbacks(&mut self, zeroed_low: &'m mut u64, low: u64) {
        self.unzeroed = Some((zeroed_low, low));
    }

    /// The run's remaining instruction budget (callbacks consume it).
    pub fn remaining_budget(&self) -> u64 {
        self.left
    }
}

impl HelperCtx<'_, '_> {
    /// Slot index of the `call` instruction.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// Current number of bpf-to-bpf frames below the main one (0 in the main function).
    pub fn call_depth(&self) -> usize {
        self.depth
    }

    /// Calls the program's function at `func` (a value `lddw rN, <function>` loaded, i.e.
    /// [`FUNC_ADDR_TAG`]` | slot`) with r1..r5 = `args` and returns its r0: what helpers that
    /// take a callback (`bpf_loop`, `bpf_for_each_map_elem`) need.
    ///
    /// The callback runs in a new frame below the caller's (so pointers into the caller's
    /// stack stay valid), with `helpers` serving its own helper calls (a helper passes
    /// itself), and is charged to the run's instruction budget. A helper that stops the
    /// program ([`HelperReturn::Stop`]) inside the callback ends only the callback.
    // Inlined into the helper: `args`, built there from separate words, were otherwise
    // copied in 16-byte halves, a store-forwarding stall per callback.
    #[inline]
    pub fn call_function<H: Helpers + ?Sized>(
        &mut self,
        helpers: &mut H,
        func: u64,
        args: [u64; 5],
    ) -> Result<u64, HelperError> {
        let fail = |kind| HelperError::Callback(Box::new(VmError { pc: self.pc, kind }));
        let slot = (func & 0xffff_ffff) as usize;
        if func & !0xffff_ffff != FUNC_ADDR_TAG
            || !matches!(self.ops.get(slot), Some(op) if *op != Op::LdImm64Tail)
        {
            return Err(fail(VmErrorKind::BadCallTarget(func)));
        }
        let depth = self.depth + 1;
        if depth >= MAX_CALL_FRAMES {
            return Err(fail(VmErrorKind::CallDepth(MAX_CALL_FRAMES)));
        }
        let Some((saved_low, _)) = self.memory.stack_window() else {
            return Err(fail(VmErrorKind::BadControlFlow));
        };
        if let Some((zeroed_low, low)) = self.unzeroed.take() {
            if *zeroed_low > low {
                // SAFETY: guaranteed by the caller of `zero_before_callbacks`.
                unsafe { (low as *mut u8).write_bytes(0, (*zeroed_low - low) as usize) };
                *zeroed_low = low;
            }
        }
        let r10 = self.r10 - STACK_SIZE as u64;
        self.memory.move_stack_low(r10 - STACK_SIZE as u64);
        let config = Config {
            budget: self.left,
            ..*self.config
        };
        let result = match self.engine {
            // SAFETY: the frame is the one below the caller's, inside the run's stack (the
            // depth check above keeps it there), and `slot` was checked to start an
            // instruction of the program `engine` compiled (`run_callbacks_with`).
            Some(engine) => unsafe {
                engine.run_callback(
                    slot,
                    args,
                    CallbackFrame { r10, depth },
                    self.memory,
                    &mut DynHelpers(helpers),
                    &config,
                )
            },
            None => {
                // The engine zeroed the deeper frames before calling the helper, or just
                // above.
                let mut regs = [0u64; 16];
                regs[1..6].copy_from_slice(&args);
                regs[10] = r10;
                let entry = Entry {
                    start: slot,
                    base_depth: depth,
                    deeper_zeroed: true,
                };
                execute(self.ops, regs, self.memory, helpers, &config, entry)
            }
        };
        self.memory.move_stack_low(saved_low);
        let exit = result.map_err(|e| HelperError::Callback(Box::new(e)))?;
        self.left -= exit.executed;
        Ok(exit.r0)
    }
}

/// The helper functions a host provides.
pub trait Helpers {
    /// Runs helper `id` with r1..r5 in `args`.
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError>;

    /// Whether helper `id` exists (used by [`Program::check_helpers`](crate::Program::check_helpers)).
    fn is_known(&self, id: i32) -> bool;

    /// Runs helper `id` without a [`HelperCtx`], if it is one that needs none here and
    /// neither stops the program nor fails: its result, or `None` to have it called through
    /// [`call`](Self::call) instead. Engines call this first at the call sites a host marked
    /// for it (the JIT's `Specialization::PlainCall`), saving the context's set-up. The
    /// default has none.
    ///
    /// # Safety
    /// The running program passed a verifier that checked the helper's memory arguments
    /// (see [`HelperCtx::trust_arguments`]), which the helper may access directly.
    unsafe fn call_plain(&mut self, id: i32, args: [u64; 5]) -> Option<u64> {
        let _ = (id, args);
        None
    }
}

/// No helper at all: every call fails with "unknown helper".
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(
        &mut self,
        _id: i32,
        _args: [u64; 5],
        _ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        Err(HelperError::Unknown)
    }

    fn is_known(&self, _id: i32) -> bool {
        false
    }
}

/// The type of a helper in a [`HelperTable`].
pub type HelperFn =
    Box<dyn FnMut([u64; 5], &mut HelperCtx<'_, '_>) -> Result<HelperReturn, HelperError> + Send>;

/// Helpers as closures keyed by number.
///
/// ```
/// use bpfkit_vm::{HelperTable, HelperReturn};
/// let mut helpers = HelperTable::new();
/// helpers.register(1, |args, _ctx| Ok(HelperReturn::Value(args[0] + args[1])));
/// ```
#[derive(Default)]
pub struct HelperTable {
    fns: BTreeMap<i32, HelperFn>,
}

impl std::fmt::Debug for HelperTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperTable")
            .field("ids", &self.fns.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HelperTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) helper `id`.
    pub fn register<F>(&mut self, id: i32, f: F) -> &mut Self
    where
        F: FnMut([u64; 5], &mut HelperCtx<'_, '_>) -> Result<HelperReturn, HelperError>
            + Send
            + 'static,
    {
        self.fns.insert(id, Box::new(f));
        self
    }

    /// The registered numbers, ascending.
    pub fn ids(&self) -> impl Iterator<Item = i32> + '_ {
        self.fns.keys().copied()
    }
}

impl Helpers for HelperTable {
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match self.fns.get_mut(&id) {
            Some(f) => f(args, ctx),
            None => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        self.fns.contains_key(&id)
    }
}
