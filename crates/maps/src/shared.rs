//! Value memory shared with running eBPF programs.
//!
//! Programs read and write map values through raw pointers from several threads
//! at once, exactly as in the kernel, where such races are part of the contract
//! (programs use atomics or `bpf_spin_lock` when they care). So the host side
//! never touches value memory with plain Rust reads or writes: it copies with
//! relaxed atomic loads and stores (8 bytes at a time where aligned), which are
//! as cheap as plain moves on the hardware and keep the Rust side free of data races.

use std::alloc::{alloc_zeroed, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::error::MapError;

/// A zero-initialised, 8-byte aligned buffer whose address never changes.
pub(crate) struct SharedBytes {
    words: Box<[AtomicU64]>,
    len: usize,
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBytes({} bytes at {:p})", self.len, self.as_ptr())
    }
}

impl SharedBytes {
    /// Allocates `len` zero bytes; large buffers come from the allocator's
    /// zeroed pages, so untouched memory is not committed.
    pub(crate) fn zeroed(len: usize) -> Result<Self, MapError> {
        let nwords = len.div_ceil(8);
        if nwords == 0 {
            return Ok(SharedBytes {
                words: Box::new([]),
                len,
            });
        }
        let layout = Layout::array::<AtomicU64>(nwords)
            .map_err(|_| MapError::NoMemory(format!("{len} bytes of map storage")))?;
        // SAFETY: layout has a non-zero size. AtomicU64 has the layout of u64, and
        // all-zero bytes are a valid AtomicU64, so the zeroed allocation is a valid
        // [AtomicU64] that Box may own and free with the same layout.
        let words = unsafe {
            let ptr = alloc_zeroed(layout) as *mut AtomicU64;
            if ptr.is_null() {
                return Err(MapError::NoMemory(format!("{len} bytes of map storage")));
            }
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, nwords))
        };
        Ok(SharedBytes { words, len })
    }

    /// Address of the first byte.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.words.as_ptr() as *mut u8
    }

    /// Pointer to byte `offset`; the caller keeps `offset + n <= len` for what it accesses.
    pub(crate) fn ptr_at(&self, offset: usize) -> NonNull<u8> {
        debug_assert!(offset <= self.len);
        // SAFETY: offset is within (or one past) the allocation, and the base is non-null
        // (an empty boxed slice has a dangling but non-null pointer).
        unsafe { NonNull::new_unchecked(self.as_ptr().add(offset)) }
    }

    /// The `i`th 8-byte word, for maps that use the buffer as atomic words.
    pub(crate) fn word(&self, i: usize) -> &AtomicU64 {
        &self.words[i]
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the buffer.
    pub(crate) fn read(&self, offset: usize, dst: &mut [u8]) {
        assert!(offset + dst.len() <= self.len, "read outside shared buffer");
        // SAFETY: the range is inside the allocation (checked above).
        unsafe { load(self.ptr_at(offset).as_ptr(), dst) }
    }

    /// Copies `src` into the buffer at `offset`.
    pub(crate) fn write(&self, offset: usize, src: &[u8]) {
        assert!(
            offset + src.len() <= self.len,
            "write outside shared buffer"
        );
        // SAFETY: the range is inside the allocation (checked above).
        unsafe { store(self.ptr_at(offset).as_ptr(), src) }
    }
}

/// Copies `dst.len()` bytes from shared memory at `src` with relaxed atomic loads.
///
/// # Safety
/// `src..src + dst.len()` must be valid, live memory that is only accessed atomically
/// or through raw pointers by others.
pub(crate) unsafe fn load(src: *const u8, dst: &mut [u8]) {
    let mut i = 0;
    while i < dst.len() {
        let p = src.add(i);
        if dst.len() - i >= 8 && (p as usize).is_multiple_of(8) {
            let w = AtomicU64::from_ptr(p as *mut u64).load(Ordering::Relaxed);
            dst[i..i + 8].copy_from_slice(&w.to_ne_bytes());
            i += 8;
        } else {
            dst[i] = AtomicU8::from_ptr(p as *mut u8).load(Ordering::Relaxed);
            i += 1;
        }
    }
}

/// Copies `src` into shared memory at `dst` with relaxed atomic stores.
///
/// # Safety
/// As for [`load`], for `dst..dst + src.len()`.
pub(crate) unsafe fn store(dst: *mut u8, src: &[u8]) {
    let mut i = 0;
    while i < src.len() {
        let p = dst.add(i);
        if src.len() - i >= 8 && (p as usize).is_multiple_of(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(&src[i..i + 8]);
            AtomicU64::from_ptr(p as *mut u64).store(u64::from_ne_bytes(w), Ordering::Relaxed);
            i += 8;
        } else {
            AtomicU8::from_ptr(p).store(src[i], Ordering::Relaxed);
            i += 1;
        }
    }
}
