//! Executable memory under W^X: mapped writable, filled, then switched to read+execute.
//! The pages are never writable and executable at the same time, and are unmapped on drop.

use std::io;
use std::ptr::NonNull;

/// Machine code in its own pages, read+execute only.
pub(crate) struct ExecutableCode {
    ptr: NonNull<u8>,
    mapped: usize,
    len: usize,
}

// SAFETY: the pages are immutable after `new` returns (read+execute only) and owned by this
// value; sharing or sending a pointer to immutable memory is sound.
unsafe impl Send for ExecutableCode {}
// SAFETY: as above: nothing can write through `&ExecutableCode`.
unsafe impl Sync for ExecutableCode {}

impl ExecutableCode {
    /// Copies `bytes` into fresh pages and makes them executable.
    pub(crate) fn new(bytes: &[u8]) -> io::Result<ExecutableCode> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = if page > 0 { page as usize } else { 4096 };
        let mapped = bytes.len().max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        let code = ExecutableCode {
            ptr,
            mapped,
            len: bytes.len(),
        };
        // SAFETY: the mapping is `mapped >= bytes.len()` bytes, writable, and not aliased.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len()) };
        // SAFETY: changes the protection of exactly the pages mapped above.
        let rc = unsafe {
            libc::mprotect(
                ptr.as_ptr().cast(),
                mapped,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error()); // `code` unmaps on drop
        }
        Ok(code)
    }

    /// Address of the first byte.
    pub(crate) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// The code bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes were copied in and the pages stay mapped and readable until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for ExecutableCode {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping created in `new`, exactly once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.mapped) };
    }
}

impl std::fmt::Debug for ExecutableCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExecutableCode({:#x}, {} bytes)", self.addr(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_readable_and_not_writable_after_creation() {
        let code = ExecutableCode::new(&[0xc3; 10]).unwrap();
        assert_eq!(code.bytes(), &[0xc3; 10]);
        // /proc/self/maps shows the mapping as r-x (never rwx).
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let start = format!("{:x}-", code.addr());
        let line = maps
            .lines()
            .find(|l| l.starts_with(&start))
            .expect("mapping listed");
        assert!(
            line.split_whitespace().nth(1).unwrap().starts_with("r-x"),
            "{line}"
        );
    }

    #[test]
    fn calling_the_code_runs_it() {
        // mov eax, 42; ret
        let code = ExecutableCode::new(&[0xb8, 42, 0, 0, 0, 0xc3]).unwrap();
        // SAFETY: the bytes are a complete function returning in eax.
        let f: extern "sysv64" fn() -> u32 = unsafe { std::mem::transmute(code.addr()) };
        assert_eq!(f(), 42);
    }
}
