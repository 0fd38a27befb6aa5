//! The run context: the one structure generated code reads and writes (through r12).
//!
//! It lives on the Rust stack of [`JitProgram::run`](crate::JitProgram::run) for one run, so
//! concurrent runs of the same code never share it. Generated code addresses fields by the
//! constant offsets below (`offset_of!`), so the layout is `repr(C)`.

use crate::program::JitProgram;
use bpfkit_vm::{Config, MemoryMap, VmError};
use std::any::Any;
use std::mem::offset_of;

/// How generated code left: set by the code itself or by the Rust functions it calls.
pub(crate) mod status {
    /// Normal `exit` of the main function (or `ld_abs` out of bounds, r0 = 0).
    pub const OK: u64 = 0;
    /// A helper ended the program successfully; r0 is in `stop_r0`.
    pub const STOP: u64 = 1;
    /// A Rust function recorded `error` (or `panic`).
    pub const ERROR: u64 = 2;
    /// The budget ran out at block `err_arg`; `budget_left` holds the wrapped counter.
    pub const BUDGET: u64 = 3;
    /// A local call at pc `err_arg` exceeded the frame limit.
    pub const CALL_DEPTH: u64 = 4;
    /// `ld_abs`/`ld_ind` at pc `err_arg` without a packet.
    pub const NO_PACKET: u64 = 5;
    /// `callx` at pc `err_arg` on the value `err_value`.
    pub const BAD_CALLX: u64 = 6;
}

/// The whole context of a *stackless* run (leaf code without calls that never names
/// r10): the prefix of [`CoreCtx`] such code reads.
#[repr(C)]
pub(crate) struct ArgsCtx {
    /// As [`CoreCtx::args`].
    pub args: *const [u64; 5],
}

/// The part of the run context that all generated code may use: the whole context of a
/// *leaf* run (unchecked code that calls no helper and reads no packet), which is all
/// `execute` builds for one, since filling the full context cost more than running a
/// short program.
#[repr(C)]
pub(crate) struct CoreCtx {
    /// r1..r5 on entry, where the caller of the run has them: copying them here cost a
    /// store-forwarding stall per run (the copy read them in wider units than written).
    pub args: *const [u64; 5],
    /// r10 of the main frame (one past the stack buffer).
    pub stack_top: u64,
    /// A local call fails when r10 is at or below this (the deepest frame is in use).
    pub stack_min_r10: u64,
    /// Frames are zeroed when first entered: everything from here to the top is zeroed.
    pub zeroed_low: u64,
    /// The budget counter (r9) when the code leaves or calls out.
    pub budget_left: u64,
    /// rsp right after the prologue: error exits unwind to it from any depth.
    pub saved_rsp: u64,
    /// One of [`status`].
    pub status: u64,
    /// The pc or block of a failure.
    pub err_arg: u64,
    /// The offending value of a failure (callx).
    pub err_value: u64,
}

/// Per-run state shared between generated code and the Rust runtime functions.
#[repr(C)]
pub(crate) struct JitCtx {
    /// What every program's code uses (first, so leaf runs can pass just this).
    pub core: CoreCtx,
    // ---- read by generated code ----
    /// Highest start of an 8-byte access inside the stack (fast path; 0 disables it).
    pub stack_top_m8: u64,
    /// First address of the primary region (the first one the host added; `u64::MAX`
    /// when there is none or the fast path is off).
    pub region0_start: u64,
    /// Per access size (1, 2, 4, 8): a load fits iff `start <= addr <= last` (`u64::MAX`
    /// start and 0 last disable the fast path).
    pub region0_read_last: [u64; 4],
    /// Same for stores and atomics (0 when the region is read-only).
    pub region0_write_last: [u64; 4],
    /// The packet of `ld_abs`/`ld_ind`.
    pub packet_ptr: u64,
    /// Per size (1, 2, 4): offsets below the bound are in the packet.
    pub packet_bound: [u64; 4],
    /// Whether a packet is set at all.
    pub has_packet: u64,
    /// The helper trampoline (monomorphised for the run's `Helpers` type).
    pub helper_fn: u64,
    /// The trampoline of plain helper calls (`Specialization::PlainCall`), monomorphised
    /// likewise.
    pub plain_fn: u64,
    /// The slow path of checked memory accesses.
    pub slow_fn: u64,
    /// Code address the callback entry calls (the callback's function).
    pub callback_code: u64,
    /// The tail-call resolver (monomorphised like `helper_fn`), or 0 when the host resolves
    /// no tail calls: `bpf_tail_call` is then an ordinary helper call (see `tail`).
    pub tail_fn: u64,
    // ---- written by generated code ----
    /// Slot of the helper call being made.
    pub call_pc: u64,
    /// Helper number being called.
    pub call_id: u64,
    /// r10 at the helper call.
    pub call_r10: u64,
    // ---- Rust only ----
    /// Whether the code reads the packet cache above (`ld_abs`/`ld_ind`): only then do
    /// helper calls refresh it.
    pub reads_packet: bool,
    /// What `MemoryMap::begin_run` returned, once the stack is registered (else `usize::MAX`).
    pub run_mark: usize,
    /// `*mut &mut H` of the run's helpers.
    pub helpers: *mut (),
    /// The run's memory map (lifetime erased for the duration of the run).
    pub memory: *mut MemoryMap<'static>,
    /// The compiled program running now: its loaded program (for helpers' contexts), its
    /// functions (`callx` reads their table through this pointer), the callbacks of its
    /// helpers. A tail call that jumps switches just this field.
    pub jit: *const JitProgram,
    /// r10 of the run's main frame: depths count from here (`core.stack_top` is the
    /// callback's frame in a callback run).
    pub main_top: u64,
    /// The run's configuration.
    pub config: *const Config,
    /// r0 of a helper stop.
    pub stop_r0: u64,
    /// The error a Rust function recorded.
    pub error: Option<VmError>,
    /// A helper's panic, resumed once generated code has returned.
    pub panic: Option<Box<dyn Any + Send>>,
    /// Tail calls this run made by jumping (at most `MAX_TAIL_CALLS`).
    pub tail_calls: u32,
}

/// Byte offsets of context fields, as displacements for `[r12 + off]` in generated code.
pub(crate) mod o {
    use super::JitCtx;
    use std::mem::offset_of;

    macro_rules! offsets {
        ($($name:ident = $($field:ident).+;)*) => {
            $(pub(crate) const $name: i32 = offset_of!(JitCtx, $($field).+) as i32;)*
        };
    }
    offsets! {
        ARGS = core.args;
        STACK_TOP = core.stack_top;
        STACK_MIN_R10 = core.stack_min_r10;
        ZEROED_LOW = core.zeroed_low;
        BUDGET_LEFT = core.budget_left;
        SAVED_RSP = core.saved_rsp;
        STATUS = core.status;
        ERR_ARG = core.err_arg;
        ERR_VALUE = core.err_value;
        STACK_TOP_M8 = stack_top_m8;
        REGION0_START = region0_start;
        REGION0_READ_LAST = region0_read_last;
        REGION0_WRITE_LAST = region0_write_last;
        PACKET_PTR = packet_ptr;
        PACKET_BOUND = packet_bound;
        HAS_PACKET = has_packet;
        HELPER_FN = helper_fn;
        PLAIN_FN = plain_fn;
        SLOW_FN = slow_fn;
        CALLBACK_CODE = callback_code;
        TAIL_FN = tail_fn;
        CALL_PC = call_pc;
        CALL_ID = call_id;
        CALL_R10 = call_r10;
        HELPERS = helpers;
        JIT = jit;
        TAIL_CALLS = tail_calls;
        READS_PACKET = reads_packet;
    }
}

/// Index of an access size in the per-size bound arrays.
pub(crate) fn size_class(bytes: usize) -> usize {
    bytes.trailing_zeros() as usize
}

/// Bound for "offset < bound ⇔ `size` bytes at offset fit in `len`".
pub(crate) fn fit_bound(len: u64, size: u64) -> u64 {
    if len >= size {
        len - size + 1
    } else {
        0
    }
}

/// The last address where `size` bytes fit in `[start, start + len)` (0 if none do).
pub(crate) fn last_fit(start: u64, len: u64, size: u64) -> u64 {
    if len >= size {
        start + (len - size)
    } else {
        0
    }
}

// Leaf runs pass a `CoreCtx` where the code expects a `JitCtx`, stackless runs an
// `ArgsCtx`: each must be a prefix of the next.
const _: () = assert!(offset_of!(JitCtx, core) == 0);
const _: () = assert!(offset_of!(CoreCtx, args) == offset_of!(ArgsCtx, args));
