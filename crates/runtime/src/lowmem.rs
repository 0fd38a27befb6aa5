//! Buffers in the low 4 GiB of the address space.
//!
//! The kernel's context structures (`struct xdp_md`, `struct __sk_buff`) hold packet
//! pointers in 32-bit fields (`data`, `data_end`, `data_meta`), and clang-built programs
//! load them with 32-bit loads before using them as pointers. The kernel rewrites those
//! loads; this runtime instead places packet buffers and contexts below 4 GiB, so the
//! 32-bit field holds the real address and needs no rewriting (see the crate docs).

use std::ptr::NonNull;

/// A zero-initialised, page-aligned buffer whose every address fits in 32 bits.
#[derive(Debug)]
pub(crate) struct LowBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer is plain memory owned by this value; access goes through `&mut self`
// or raw pointers whose users uphold the aliasing rules.
unsafe impl Send for LowBuf {}

/// Hints tried on hosts without `MAP_32BIT` (the kernel may ignore a hint; the result is checked).
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
const HINTS: [usize; 4] = [0x1000_0000, 0x2000_0000, 0x4000_0000, 0x8000_0000];

impl LowBuf {
    /// Maps `len` bytes (rounded up to pages) below 4 GiB.
    pub(crate) fn new(len: usize) -> std::io::Result<LowBuf> {
        let len = len.div_ceil(4096).max(1) * 4096;
        let ptr = Self::map(len)?;
        Ok(LowBuf { ptr, len })
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn map(len: usize) -> std::io::Result<NonNull<u8>> {
        // SAFETY: an anonymous private mapping with no address requirement but MAP_32BIT.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        Self::check(p, len)
    }

    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    fn map(len: usize) -> std::io::Result<NonNull<u8>> {
        for hint in HINTS {
            // SAFETY: an anonymous private mapping; the hint is only a hint (no MAP_FIXED).
            let p = unsafe {
                libc::mmap(
                    hint as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if let Ok(p) = Self::check(p, len) {
                return Ok(p);
            }
        }
        Err(std::io::Error::other("no memory below 4 GiB"))
    }

    fn check(p: *mut libc::c_void, len: usize) -> std::io::Result<NonNull<u8>> {
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        if (p as usize)
            .checked_add(len)
            .is_none_or(|end| end > 1 << 32)
        {
            // SAFETY: `p` is a mapping of `len` bytes we just created.
            unsafe { libc::munmap(p, len) };
            return Err(std::io::Error::other("mapping is not below 4 GiB"));
        }
        NonNull::new(p.cast()).ok_or_else(|| std::io::Error::other("null mapping"))
    }

    /// First address.
    pub(crate) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// The whole buffer.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes mapped read-write, exclusively borrowed through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The whole buffer, read-only.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: as in `bytes_mut`, shared.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for LowBuf {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `new` with this length and is unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_zeroed_and_below_4gib() {
        let mut b = LowBuf::new(5000).unwrap();
        assert!(b.addr() + b.bytes().len() as u64 <= 1 << 32);
        assert_eq!(b.bytes().len(), 8192);
        assert!(b.bytes().iter().all(|&x| x == 0));
        b.bytes_mut()[8191] = 7;
        assert_eq!(b.bytes()[8191], 7);
    }
}
