//! Capture files mapped into memory, for reading without copying.

use std::fs::File;
use std::io;
use std::ops::Deref;

/// A whole file mapped read-only into memory; derefs to its bytes.
///
/// Reading a capture through a [`Reader`](crate::Reader) over a mapped file
/// copies nothing: packets are handed out where the kernel's page cache holds
/// them. For a large file in the page cache this is several times faster
/// than `read(2)`, which copies every byte once more.
///
/// ```
/// use bpfkit_capture::{MappedFile, Reader};
/// # let path = std::env::temp_dir().join(format!("mapped-doc-{}.pcap", std::process::id()));
/// # let mut bytes = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0];
/// # bytes.extend([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x42]);
/// # std::fs::write(&path, &bytes)?;
/// let file = std::fs::File::open(&path)?;
/// // SAFETY: nothing writes to or truncates the file while it is mapped.
/// let map = unsafe { MappedFile::map(&file)? };
/// let mut reader = Reader::new(&map[..])?;
/// assert_eq!(reader.next_record()?.unwrap().data, &[0x42]);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MappedFile {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; sharing or moving
// it between threads is as safe as for a `Box<[u8]>`.
unsafe impl Send for MappedFile {}
// SAFETY: as above, only shared reads are possible.
unsafe impl Sync for MappedFile {}

impl MappedFile {
    /// Maps the whole of `file` (its size when called). Fails for anything but
    /// a regular file (pipes, terminals, devices: read those through a
    /// `BufReader`) and where `mmap(2)` fails.
    ///
    /// # Safety
    /// While the map lives, nothing may write to the file or truncate it: a
    /// write changes bytes that Rust assumes immutable, and reading a page
    /// cut off by truncation kills the process with `SIGBUS`.
    pub unsafe fn map(file: &File) -> io::Result<MappedFile> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only regular files are mapped",
            ));
        }
        let len =
            usize::try_from(meta.len()).map_err(|_| io::Error::other("file too large to map"))?;
        if len == 0 {
            // mmap(2) refuses empty mappings; an empty file needs none.
            return Ok(MappedFile {
                ptr: std::ptr::NonNull::dangling().as_ptr(),
                len: 0,
            });
        }
        map_fd(file, len)
    }
}

#[cfg(unix)]
fn map_fd(file: &File, len: usize) -> io::Result<MappedFile> {
    use std::os::fd::AsRawFd;
    // SAFETY: a fresh private read-only mapping of an open descriptor; the
    // kernel picks the address, so no existing memory is affected.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(MappedFile {
        ptr: ptr.cast(),
        len,
    })
}

#[cfg(not(unix))]
fn map_fd(_file: &File, _len: usize) -> io::Result<MappedFile> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "memory mapping is implemented for Unix only",
    ))
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes (or dangling
        // with `len == 0`), unmapped only on drop; the caller of `map` promised
        // that nobody changes the file meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping made in `map_fd`, once; no
            // borrow of it can outlive `self`.
            unsafe { libc::munmap(self.ptr.cast_mut().cast(), self.len) };
        }
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_files_whole_including_empty_ones() {
        let dir = std::env::temp_dir().join(format!("bpfkit-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        for (name, content) in [("some", &bytes[..]), ("empty", &[][..])] {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            let file = File::open(&path).unwrap();
            // SAFETY: the test owns the file and leaves it alone while mapped.
            let map = unsafe { MappedFile::map(&file).unwrap() };
            assert_eq!(&map[..], content);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pipes_cannot_be_mapped() {
        let Ok(child) = std::process::Command::new("true")
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("skipping: cannot run `true`");
            return;
        };
        let fd: std::os::fd::OwnedFd = child.stdout.unwrap().into();
        let file = File::from(fd);
        // SAFETY: the map is never made.
        assert!(unsafe { MappedFile::map(&file) }.is_err());
    }
}
