//! The kernel's helper functions, numbered as in `linux/bpf.h` (`___BPF_FUNC_MAPPER`).
//!
//! [`RunHelpers`] serves one test-run: it knows the object's maps, the packet and context,
//! the runtime CPU, and collects a pending tail call. Return values follow the kernel:
//! `-errno` as a 64-bit two's complement value on failure.

mod args;
mod callback;
mod map_ops;
mod misc;
mod packet;

use std::borrow::Cow;

use bpfkit_maps::{MapCell, MapRef, ProgArray, RcuGuard};
use bpfkit_vm::{Access, HelperCtx, HelperError, HelperReturn, Helpers};

pub(crate) use args::ArgMemory;

use crate::ctx::Packet;
use crate::load::Shared;
use crate::lowmem::LowBuf;

/// `(number, name)` of every helper this runtime implements.
pub const HELPERS: &[(i32, &str)] = &[
    (1, "map_lookup_elem"),
    (2, "map_update_elem"),
    (3, "map_delete_elem"),
    (4, "probe_read"),
    (5, "ktime_get_ns"),
    (6, "trace_printk"),
    (7, "get_prandom_u32"),
    (8, "get_smp_processor_id"),
    (9, "skb_store_bytes"),
    (10, "l3_csum_replace"),
    (11, "l4_csum_replace"),
    (12, "tail_call"),
    (14, "get_current_pid_tgid"),
    (16, "get_current_comm"),
    (26, "skb_load_bytes"),
    (28, "csum_diff"),
    (44, "xdp_adjust_head"),
    (54, "xdp_adjust_meta"),
    (65, "xdp_adjust_tail"),
    (87, "map_push_elem"),
    (88, "map_pop_elem"),
    (89, "map_peek_elem"),
    (93, "spin_lock"),
    (94, "spin_unlock"),
    (112, "probe_read_user"),
    (113, "probe_read_kernel"),
    (125, "ktime_get_boot_ns"),
    (130, "ringbuf_output"),
    (131, "ringbuf_reserve"),
    (132, "ringbuf_submit"),
    (133, "ringbuf_discard"),
    (134, "ringbuf_query"),
    (164, "for_each_map_elem"),
    (181, "loop"),
    (182, "strncmp"),
];

/// Whether helper `id` is implemented.
pub fn is_known(id: i32) -> bool {
    HELPERS.iter().any(|&(n, _)| n == id)
}

/// `MAX_TAIL_CALL_CNT`: tail calls one run may make.
pub const MAX_TAIL_CALLS: u32 = 33;

pub(crate) const EINVAL: i64 = 22;
pub(crate) const EFAULT: i64 = 14;
pub(crate) const E2BIG: i64 = 7;

/// `-errno` as the helper's 64-bit return value.
pub(crate) fn neg(errno: i64) -> HelperReturn {
    HelperReturn::Value((-errno) as u64)
}

/// The helpers of one test-run.
pub(crate) struct RunHelpers<'r> {
    pub(crate) shared: &'r Shared,
    pub(crate) cpu: usize,
    pub(crate) guard: &'r RcuGuard,
    pub(crate) packet: &'r mut Packet,
    pub(crate) buf: &'r mut LowBuf,
    /// Tail calls made so far in this run.
    pub(crate) tail_calls: u32,
    /// The program a successful `bpf_tail_call` asked to run next.
    pub(crate) pending_tail_call: Option<usize>,
    /// The program running now (changed by tail calls that jump).
    pub(crate) running: usize,
    /// The program array of the last tail call that jumped, with its handle:
    /// chains go through the same array, and finding it costs more than the jump.
    pub(crate) tail_array: Option<(u64, &'r ProgArray)>,
    /// Ring buffer samples reserved and not yet submitted or discarded.
    pub(crate) reserved: Vec<(u64, MapRef)>,
}

impl RunHelpers<'_> {
    /// The map behind the handle in a helper argument (borrowed for the object's own maps,
    /// so the common case touches no reference count). `trusted`: a verifier proved the
    /// argument a map pointer, i.e. a handle, so it is the address of a live cell (see
    /// `maptable`).
    pub(crate) fn map(&self, handle: u64, trusted: bool) -> Result<Cow<'_, MapRef>, HelperError> {
        if trusted {
            // SAFETY: a handle is the address of a `MapCell` that lives as long as the
            // object (its own maps) or, for an inner map, as long as the run's RCU guard
            // (a map of maps retires replaced cells).
            return Ok(Cow::Borrowed(unsafe { &*(handle as *const MapCell) }.map()));
        }
        if let Some(m) = self.shared.maps.own_by_handle(handle) {
            return Ok(Cow::Borrowed(m));
        }
        self.shared
            .maps
            .inner_by_handle(handle)
            .map(Cow::Owned)
            .ok_or_else(|| HelperError::Failed(format!("{handle:#x} is not a map")))
    }
}

/// Longest key or value read into a stack buffer instead of a fresh vector.
pub(crate) const SMALL_KEY: usize = 64;

/// Calls `f` with the `len` bytes of the memory argument at `addr` (see
/// [`HelperCtx::read_arg`]; keys: most are small, and an allocation per map operation is a
/// large part of a short program's run).
pub(crate) fn with_bytes<R>(
    ctx: &HelperCtx<'_, '_>,
    addr: u64,
    len: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, HelperError> {
    if len <= SMALL_KEY {
        let mut buf = [0u8; SMALL_KEY];
        match ctx.memory.stack_window() {
            // Keys usually live on the program's stack: copy them in one go.
            Some((lo, hi))
                if addr >= lo && addr.checked_add(len as u64).is_some_and(|e| e <= hi) =>
            {
                // SAFETY: the stack window is memory of this run's stack, valid for reads
                // and touched by no other thread; `[addr, addr+len)` lies inside it.
                unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), len) };
            }
            _ => ctx.read_arg(addr, &mut buf[..len])?,
        }
        Ok(f(&buf[..len]))
    } else {
        Ok(f(&ctx.read_arg_vec(addr, len)?))
    }
}

/// Adds `[addr, addr+len)` to the run's regions unless an identical region exists.
///
/// # Safety
/// The memory must stay valid (and writable if `access` says so) until the run ends.
pub(crate) unsafe fn add_region(
    ctx: &mut HelperCtx<'_, '_>,
    addr: u64,
    len: usize,
    access: Access,
) {
    let exists = ctx
        .memory
        .regions()
        .iter()
        .rev()
        .any(|r| r.start() == addr && r.len() == len as u64 && r.access() == access);
    if !exists && len > 0 {
        // SAFETY: forwarded to the caller.
        unsafe { ctx.memory.add_raw(addr as *mut u8, len, access) };
    }
}

/// The helpers whose result depends only on their arguments and the memory they point
/// at, as direct functions for unchecked JIT code (see `inline`).
pub(crate) fn pure_helper(id: i32) -> Option<u64> {
    let direct = match id {
        28 => packet::csum_diff_direct as unsafe extern "sysv64" fn(u64, u64, u64, u64, u64) -> u64,
        182 => misc::strncmp_direct,
        5 => misc::ktime_get_ns_direct,
        125 => misc::ktime_get_boot_ns_direct,
        _ => return None,
    };
    Some(direct as usize as u64)
}

/// The helpers [`RunHelpers`] runs without a helper context
/// ([`Helpers::call_plain`]): unchecked JIT code calls them through the plain trampoline
/// (`Specialization::PlainCall`, see `inline`). `bpf_map_lookup_elem` and
/// `bpf_ringbuf_reserve` too ([`REGISTERING_HELPERS`]), where the program never reads
/// through an unchecked pointer (the memory they return is not registered then).
const PLAIN_HELPERS: [i32; 17] = [
    2, 3, 7, 8, 10, 11, 14, 44, 54, 65, 87, 88, 89, 130, 132, 133, 134,
];

/// Helpers that register the memory they return in the run's memory map when called with
/// a context: `bpf_map_lookup_elem`, `bpf_ringbuf_reserve`.
pub(crate) const REGISTERING_HELPERS: [i32; 2] = [1, 131];

/// The helpers unchecked code calls directly with the run's [`RunHelpers`]
/// (`Specialization::HostCall`, see `inline`): plain helpers ([`RunHelpers::plain`]) that
/// return a value on every call of a verified program; the XDP ones only where every run
/// is an XDP run (`xdp_runs`: elsewhere they fail).
pub(crate) fn host_helper(id: i32, xdp_runs: bool) -> Option<u64> {
    let direct: bpfkit_jit::HostFn = match id {
        2 => host_call::<2>,
        3 => host_call::<3>,
        7 => host_call::<7>,
        8 => host_call::<8>,
        14 => host_call::<14>,
        44 if xdp_runs => host_call::<44>,
        54 if xdp_runs => host_call::<54>,
        65 if xdp_runs => host_call::<65>,
        87 => host_call::<87>,
        88 => host_call::<88>,
        89 => host_call::<89>,
        130 => host_call::<130>,
        _ => return None,
    };
    Some(direct as usize as u64)
}

/// Helper `ID` called directly (see [`host_helper`]); `ID` is a constant, so the dispatch
/// of [`RunHelpers::plain`] folds away.
///
/// # Safety
/// `host` is the `RunHelpers` of the run (the runtime runs unchecked code only with them,
/// `ProgramRef::run_once`), and the arguments are a verified program's.
unsafe extern "sysv64" fn host_call<const ID: i32>(
    host: *mut (),
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) -> u64 {
    // SAFETY: the caller's promise; nothing else uses the helpers while the code runs.
    let helpers = unsafe { &mut *host.cast::<RunHelpers<'_>>() };
    // SAFETY: a verified program's arguments (the caller's promise).
    match unsafe { helpers.plain(ID, [a1, a2, a3, a4, a5]) } {
        Some(r0) => r0,
        None => host_call_failed(ID),
    }
}

/// `host_helper` offers only helpers that cannot fail where it offers them; there is no
/// way to report a failure from a direct call, so one is a bug: stop loudly.
#[cold]
fn host_call_failed(id: i32) -> ! {
    eprintln!("bpfkit: helper {id} failed in a direct call, where it cannot; aborting");
    std::process::abort()
}

impl RunHelpers<'_> {
    /// [`Helpers::call_plain`]'s helpers, inlined into the callers that know `id`.
    ///
    /// # Safety
    /// As [`Helpers::call_plain`]: the arguments are a verified program's.
    #[inline(always)]
    unsafe fn plain(&mut self, id: i32, a: [u64; 5]) -> Option<u64> {
        let mem = &mut ArgMemory::Verified;
        let result = match id {
            1 => self.map_lookup_elem(a, mem),
            2 => self.map_update_elem(a, mem),
            3 => self.map_delete_elem(a, mem),
            87 => self.map_push_elem(a, mem),
            88 | 89 => self.map_pop_peek(id == 88, a, mem),
            130 => self.ringbuf_output(a, mem),
            131 => self.ringbuf_reserve(a, mem),
            7 => return Some(self.shared.next_random() as u64),
            8 => return Some(self.cpu as u64),
            14 => return Some(misc::pid_tgid()),
            10 => self.l3_csum_replace(a),
            11 => self.l4_csum_replace(a),
            44 => self.xdp_adjust_head(a),
            54 => self.xdp_adjust_meta(a),
            65 => self.xdp_adjust_tail(a),
            132 | 133 => self.ringbuf_commit(id == 133, a),
            // `call_plain`'s callers vouch for the arguments.
            134 => self.ringbuf_query(a, true),
            _ => return None,
        };
        match result {
            Ok(HelperReturn::Value(r0)) => Some(r0),
            _ => None,
        }
    }
}

/// Whether helper `id` is one [`RunHelpers`] runs without a helper context, always
/// (the sites of [`REGISTERING_HELPERS`] are chosen by `inline`).
pub(crate) fn plain_helper(id: i32) -> bool {
    PLAIN_HELPERS.contains(&id)
}

impl Helpers for RunHelpers<'_> {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        // The helpers' bodies are kept out of line (`#[inline(never)]`): inlined, they gave
        // this dispatcher a 424-byte frame that every helper call paid for, even the
        // one-line ones below.
        match id {
            1 => self.map_lookup_elem(a, &mut ArgMemory::Ctx(ctx)),
            2 => self.map_update_elem(a, &mut ArgMemory::Ctx(ctx)),
            3 => self.map_delete_elem(a, &mut ArgMemory::Ctx(ctx)),
            4 | 112 | 113 => misc::probe_read(id, a, ctx),
            5 => Ok(HelperReturn::Value(misc::clock_ns(libc::CLOCK_MONOTONIC))),
            6 => misc::trace_printk(self.shared, a, ctx),
            7 => Ok(HelperReturn::Value(self.shared.next_random() as u64)),
            8 => Ok(HelperReturn::Value(self.cpu as u64)),
            9 => self.skb_store_bytes(a, ctx),
            10 => self.l3_csum_replace(a),
            11 => self.l4_csum_replace(a),
            12 => self.tail_call(a, ctx),
            14 => Ok(HelperReturn::Value(misc::pid_tgid())),
            16 => misc::get_current_comm(a, ctx),
            26 => self.skb_load_bytes(a, ctx),
            28 => packet::csum_diff(a, ctx),
            44 => self.xdp_adjust_head(a),
            54 => self.xdp_adjust_meta(a),
            65 => self.xdp_adjust_tail(a),
            87 => self.map_push_elem(a, &mut ArgMemory::Ctx(ctx)),
            88 | 89 => self.map_pop_peek(id == 88, a, &mut ArgMemory::Ctx(ctx)),
            93 => misc::spin_lock(a, ctx),
            94 => misc::spin_unlock(a, ctx),
            125 => Ok(HelperReturn::Value(misc::clock_ns(libc::CLOCK_BOOTTIME))),
            130 => self.ringbuf_output(a, &mut ArgMemory::Ctx(ctx)),
            131 => self.ringbuf_reserve(a, &mut ArgMemory::Ctx(ctx)),
            132 | 133 => self.ringbuf_commit(id == 133, a),
            134 => self.ringbuf_query(a, ctx.trusts_arguments()),
            164 => self.for_each_map_elem(a, ctx),
            181 => self.bpf_loop(a, ctx),
            182 => misc::strncmp(a, ctx),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        is_known(id)
    }

    /// The helpers that need nothing of the context (map helpers access their verified
    /// arguments directly). A failure (a helper of another program type, a sample that was
    /// not reserved) declines the call: each fails before changing anything, so the full
    /// call fails the same way.
    unsafe fn call_plain(&mut self, id: i32, a: [u64; 5]) -> Option<u64> {
        // SAFETY: forwarded.
        unsafe { self.plain(id, a) }
    }
}
