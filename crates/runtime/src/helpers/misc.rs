//! Helpers that touch no map and no packet: memory reads, time, printing, process
//! identity, spin locks, string comparison.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bpfkit_vm::{AccessKind, HelperCtx, HelperError, HelperReturn};

use super::{neg, EFAULT, EINVAL};
use crate::load::Shared;

/// `bpf_probe_read{,_kernel,_user}(dst, size, src)`: copies from any memory the run may
/// read; on failure zeroes `dst` and returns an error as the x86-64 kernel does:
/// `bpf_probe_read_kernel` of an address below the kernel half gives `-ERANGE`
/// (`copy_from_kernel_nofault` refuses it), every other failure `-EFAULT`.
#[inline(never)]
pub(super) fn probe_read(
    id: i32,
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let (dst, size, src) = (a[0], a[1] as u32 as usize, a[2]);
    match ctx.memory.read_vec(src, size) {
        Ok(bytes) => {
            ctx.write_arg(dst, &bytes)?;
            Ok(HelperReturn::Value(0))
        }
        Err(_) => {
            ctx.write_arg(dst, &vec![0; size])?;
            const ERANGE: i64 = 34;
            let user_half = src < 0x0000_8000_0000_0000;
            Ok(neg(if id == 113 && user_half {
                ERANGE
            } else {
                EFAULT
            }))
        }
    }
}

/// Nanoseconds on `clock` (`CLOCK_MONOTONIC` for `bpf_ktime_get_ns`, `CLOCK_BOOTTIME` for
/// `bpf_ktime_get_boot_ns`, the clocks the kernel helpers read).
pub(super) fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `bpf_ktime_get_ns` for unchecked JIT code (a pure call, see `inline`).
pub(crate) extern "sysv64" fn ktime_get_ns_direct(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// `bpf_ktime_get_boot_ns` for unchecked JIT code (a pure call, see `inline`).
pub(crate) extern "sysv64" fn ktime_get_boot_ns_direct(
    _: u64,
    _: u64,
    _: u64,
    _: u64,
    _: u64,
) -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// `bpf_get_current_pid_tgid()`: `tgid << 32 | tid` of the host thread running the program.
pub(super) fn pid_tgid() -> u64 {
    // SAFETY: plain system calls without arguments.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    ((pid as u64) << 32) | tid as u32 as u64
}

/// `bpf_get_current_comm(buf, size)`: the host thread's name, NUL-padded to `size`.
#[inline(never)]
pub(super) fn get_current_comm(
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let size = a[1] as u32 as usize;
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes into `name`.
    unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
    let mut out = vec![0u8; size];
    let len = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(16)
        .min(size.saturating_sub(1));
    out[..len].copy_from_slice(&name[..len]);
    ctx.write_arg(a[0], &out)?;
    Ok(HelperReturn::Value(0))
}

/// `bpf_trace_printk(fmt, fmt_size, a, b, c)`: formats into the runtime's trace sink and
/// returns the length of the line (`-EINVAL` for formats the kernel refuses).
#[inline(never)]
pub(super) fn trace_printk(
    shared: &Shared,
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let fmt = ctx.read_arg_vec(a[0], a[1] as u32 as usize)?;
    let Some(end) = fmt.iter().position(|&b| b == 0) else {
        return Ok(neg(EINVAL));
    };
    let memory = &*ctx.memory;
    let read_str = |addr: u64| {
        let mut s = Vec::new();
        while s.len() < 1024 {
            let mut b = [0u8];
            memory.read(addr + s.len() as u64, &mut b).ok()?;
            if b[0] == 0 {
                break;
            }
            s.push(b[0]);
        }
        Some(s)
    };
    match crate::printk::format(&fmt[..end], [a[2], a[3], a[4]], read_str) {
        Some(line) => {
            let len = line.len() as u64;
            shared.trace(&line);
            Ok(HelperReturn::Value(len))
        }
        None => Ok(neg(EINVAL)),
    }
}

/// The lock word of a `struct bpf_spin_lock` the program may write.
fn lock_word<'c>(addr: u64, ctx: &'c HelperCtx<'_, '_>) -> Result<&'c AtomicU32, HelperError> {
    if !addr.is_multiple_of(4) {
        return Err(HelperError::Failed(format!(
            "bpf_spin_lock at {addr:#x} is not 4-byte aligned"
        )));
    }
    // Checks that the word lies in a writable region of the run (a verifier proved it
    // when the arguments are trusted).
    if !ctx.trusts_arguments() {
        ctx.memory.check_access(addr, 4, AccessKind::Write)?;
    }
    // SAFETY: the word is aligned and inside a live writable region (a map value) that is
    // only accessed atomically by others.
    Ok(unsafe { AtomicU32::from_ptr(addr as *mut u32) })
}

/// `bpf_spin_lock(lock)`. A lock still held after a second is reported as a deadlock
/// (the kernel's verifier rules out taking a lock twice; this keeps a bad program from hanging).
#[inline(never)]
pub(super) fn spin_lock(
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let word = lock_word(a[0], ctx)?;
    let start = Instant::now();
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if start.elapsed() > Duration::from_secs(1) {
            return Err(HelperError::Failed(format!(
                "bpf_spin_lock at {:#x} held for over a second (deadlock?)",
                a[0]
            )));
        }
        std::hint::spin_loop();
    }
    Ok(HelperReturn::Value(0))
}

/// `bpf_spin_unlock(lock)`.
#[inline(never)]
pub(super) fn spin_unlock(
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    lock_word(a[0], ctx)?.store(0, Ordering::Release);
    Ok(HelperReturn::Value(0))
}

/// `bpf_strncmp` for unchecked JIT code ([`Specialization::PureCall`]): the same result
/// as [`strncmp`], reading the strings directly.
///
/// # Safety
/// `[s1, s1 + n)` (`n` as `u32`) must be readable and `s2` a NUL-terminated string: what
/// the verifier proves of `bpf_strncmp`'s arguments (the comparison stops at the first
/// difference or NUL, so it never reads past `s2`'s terminator).
///
/// [`Specialization::PureCall`]: bpfkit_jit::Specialization::PureCall
pub(crate) unsafe extern "sysv64" fn strncmp_direct(
    s1: u64,
    n: u64,
    s2: u64,
    _: u64,
    _: u64,
) -> u64 {
    for i in 0..n as u32 as u64 {
        // SAFETY: the caller's promise; `i` is below `n`, and below `s2`'s terminator.
        let (c1, c2) = unsafe { (*((s1 + i) as *const u8), *((s2 + i) as *const u8)) };
        if c1 != c2 {
            return if c1 < c2 { -1i64 as u64 } else { 1 };
        }
        if c1 == 0 {
            break;
        }
    }
    0
}

/// `bpf_strncmp(s1, s1_sz, s2)`: the kernel's `strncmp`, returning -1, 0 or 1.
#[inline(never)]
pub(super) fn strncmp(
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let (s1, n, s2) = (a[0], a[1] as u32 as u64, a[2]);
    for i in 0..n {
        let (mut c1, mut c2) = ([0u8], [0u8]);
        ctx.read_arg(s1 + i, &mut c1)?;
        ctx.read_arg(s2 + i, &mut c2)?;
        if c1 != c2 {
            return Ok(HelperReturn::Value(if c1[0] < c2[0] {
                -1i64 as u64
            } else {
                1
            }));
        }
        if c1[0] == 0 {
            break;
        }
    }
    Ok(HelperReturn::Value(0))
}
