//! `struct bpf_spin_lock`: a 4-byte word inside a map value, 0 = unlocked, 1 = locked.
//!
//! The runtime implements the `bpf_spin_lock`/`bpf_spin_unlock` helpers by calling
//! [`spin_lock`]/[`spin_unlock`] on the address the program passes; the maps use the
//! same functions for `BPF_F_LOCK` copies, so host and programs exclude each other.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::MapError;
use crate::map::ValuePtr;

/// Acquires the spin lock at `addr`, spinning until it is free.
///
/// # Safety
/// `addr` must be 4-byte aligned and point to a live 4-byte word that is only
/// accessed as a lock (e.g. a `bpf_spin_lock` inside a map value obtained from
/// `lookup_ptr`, while the `RcuGuard` is held).
pub unsafe fn spin_lock(addr: *mut u8) {
    let word = AtomicU32::from_ptr(addr as *mut u32);
    loop {
        if word
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        // Wait with plain loads so the cache line is not hammered with writes.
        while word.load(Ordering::Relaxed) != 0 {
            std::hint::spin_loop();
        }
    }
}

/// Releases the spin lock at `addr`.
///
/// # Safety
/// As for [`spin_lock`]; the caller must hold the lock.
pub unsafe fn spin_unlock(addr: *mut u8) {
    AtomicU32::from_ptr(addr as *mut u32).store(0, Ordering::Release);
}

/// Checked form for the interpreter: locks the word at `offset` inside `value`.
pub fn lock_in_value(value: &ValuePtr<'_>, offset: usize) -> Result<(), MapError> {
    let addr = lock_addr(value, offset)?;
    // SAFETY: lock_addr checked alignment and bounds; the guard keeps the value alive.
    unsafe { spin_lock(addr) };
    Ok(())
}

/// Checked form for the interpreter: unlocks the word at `offset` inside `value`.
pub fn unlock_in_value(value: &ValuePtr<'_>, offset: usize) -> Result<(), MapError> {
    let addr = lock_addr(value, offset)?;
    // SAFETY: as in lock_in_value.
    unsafe { spin_unlock(addr) };
    Ok(())
}

fn lock_addr(value: &ValuePtr<'_>, offset: usize) -> Result<*mut u8, MapError> {
    let end = offset.checked_add(4);
    let addr = value.addr().wrapping_add(offset);
    if end.is_none_or(|e| e > value.len()) || !addr.is_multiple_of(4) {
        return Err(MapError::Invalid(format!(
            "bpf_spin_lock at value offset {offset} is misaligned or outside the {}-byte value",
            value.len()
        )));
    }
    Ok(addr as *mut u8)
}
