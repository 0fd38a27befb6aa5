//! Minimal `bpf(2)` wrapper used as an oracle: the kernel's own maps, driven from
//! user space with BPF_MAP_CREATE/LOOKUP/UPDATE/DELETE/GET_NEXT_KEY/LOOKUP_AND_DELETE.
#![allow(dead_code)]

use std::os::raw::c_long;

const BPF_MAP_CREATE: c_long = 0;
const BPF_MAP_LOOKUP_ELEM: c_long = 1;
const BPF_MAP_UPDATE_ELEM: c_long = 2;
const BPF_MAP_DELETE_ELEM: c_long = 3;
const BPF_MAP_GET_NEXT_KEY: c_long = 4;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: c_long = 21;

/// Size of the attribute buffer we pass (a prefix of `union bpf_attr`, rest zero).
const ATTR_SIZE: usize = 128;

fn sys_bpf(cmd: c_long, attr: &mut [u8; ATTR_SIZE]) -> Result<i64, i32> {
    // SAFETY: attr is a valid, zero-padded bpf_attr prefix of ATTR_SIZE bytes; the
    // pointers inside it point to live buffers of the sizes the kernel expects.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), ATTR_SIZE as u32) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn put_u32(attr: &mut [u8; ATTR_SIZE], off: usize, v: u32) {
    attr[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(attr: &mut [u8; ATTR_SIZE], off: usize, v: u64) {
    attr[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

/// A kernel map, closed on drop.
pub struct KernelMap {
    pub fd: i32,
    pub key_size: usize,
    pub value_size: usize,
}

impl Drop for KernelMap {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.fd) };
    }
}

/// Creates a map; `Err(errno)` on failure.
pub fn create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    map_extra: u64,
    inner_map_fd: i32,
) -> Result<KernelMap, i32> {
    let mut attr = [0u8; ATTR_SIZE];
    put_u32(&mut attr, 0, map_type);
    put_u32(&mut attr, 4, key_size);
    put_u32(&mut attr, 8, value_size);
    put_u32(&mut attr, 12, max_entries);
    put_u32(&mut attr, 16, flags);
    put_u32(&mut attr, 20, inner_map_fd.max(0) as u32);
    put_u64(&mut attr, 64, map_extra);
    let fd = sys_bpf(BPF_MAP_CREATE, &mut attr)? as i32;
    Ok(KernelMap {
        fd,
        key_size: key_size as usize,
        value_size: value_size as usize,
    })
}

/// Whether this process may use bpf(2) (root, not blocked by a sandbox).
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    create(2, 4, 4, 1, 0, 0, -1)
        .map(drop)
        .map_err(|e| format!("bpf(BPF_MAP_CREATE) fails with errno {e}"))
}

fn elem_attr(fd: i32, key: *const u8, value: *const u8, flags: u64) -> [u8; ATTR_SIZE] {
    let mut attr = [0u8; ATTR_SIZE];
    put_u32(&mut attr, 0, fd as u32);
    put_u64(&mut attr, 8, key as u64);
    put_u64(&mut attr, 16, value as u64);
    put_u64(&mut attr, 24, flags);
    attr
}

fn key_ptr(key: &[u8]) -> *const u8 {
    if key.is_empty() {
        std::ptr::null()
    } else {
        key.as_ptr()
    }
}

impl KernelMap {
    /// BPF_MAP_LOOKUP_ELEM; `value_len` is the host value size (per-CPU: all CPUs).
    /// For bloom filters `input` is copied in as the value to test.
    pub fn lookup(&self, key: &[u8], value_len: usize, flags: u64) -> Result<Vec<u8>, i32> {
        let mut value = vec![0u8; value_len];
        let mut attr = elem_attr(self.fd, key_ptr(key), value.as_mut_ptr(), flags);
        sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)?;
        Ok(value)
    }

    /// BPF_MAP_LOOKUP_ELEM on a bloom filter: `value` is the input.
    pub fn bloom_peek(&self, value: &[u8]) -> Result<(), i32> {
        let mut buf = value.to_vec();
        let mut attr = elem_attr(self.fd, std::ptr::null(), buf.as_mut_ptr(), 0);
        sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(drop)
    }

    /// BPF_MAP_UPDATE_ELEM.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), i32> {
        let mut attr = elem_attr(self.fd, key_ptr(key), value.as_ptr(), flags);
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
    }

    /// BPF_MAP_DELETE_ELEM.
    pub fn delete(&self, key: &[u8]) -> Result<(), i32> {
        let mut attr = elem_attr(self.fd, key_ptr(key), std::ptr::null(), 0);
        sys_bpf(BPF_MAP_DELETE_ELEM, &mut attr).map(drop)
    }

    /// BPF_MAP_LOOKUP_AND_DELETE_ELEM.
    pub fn lookup_and_delete(&self, key: &[u8], value_len: usize) -> Result<Vec<u8>, i32> {
        let mut value = vec![0u8; value_len];
        let mut attr = elem_attr(self.fd, key_ptr(key), value.as_mut_ptr(), 0);
        sys_bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &mut attr)?;
        Ok(value)
    }

    /// BPF_MAP_GET_NEXT_KEY (`None`: first key).
    pub fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, i32> {
        let mut next = vec![0u8; self.key_size];
        let kp = key.map_or(std::ptr::null(), |k| k.as_ptr());
        let mut attr = elem_attr(self.fd, kp, next.as_mut_ptr(), 0);
        sys_bpf(BPF_MAP_GET_NEXT_KEY, &mut attr)?;
        Ok(next)
    }

    /// All (key, value) pairs, by walking get_next_key from the start.
    pub fn dump(&self, value_len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut key: Option<Vec<u8>> = None;
        while let Ok(next) = self.get_next_key(key.as_deref()) {
            if let Ok(v) = self.lookup(&next, value_len, 0) {
                out.push((next.clone(), v));
            }
            key = Some(next);
            if out.len() > 1 << 20 {
                break;
            }
        }
        out
    }
}

/// Number of possible CPUs (the kernel's per-CPU value count).
pub fn possible_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let mut n = 0;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let mut it = part.split('-');
        let lo: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let hi: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(lo);
        n += hi - lo + 1;
    }
    n.max(1)
}

/// Pins the calling thread to CPU `cpu` (for LRU comparisons: the kernel's LRU
/// free lists are per CPU).
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) affects this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
