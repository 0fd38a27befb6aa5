//! The memory a program may touch: a set of host-memory regions, each checked on every access.
//!
//! Pointers in eBPF registers are real host addresses, so helpers (and a JIT) can share them.
//! Every access names an address and a size; it succeeds only if the whole range lies in one
//! region with the right permission. Regions come from three places:
//! - the per-run stack (one window that grows and shrinks with the call depth),
//! - regions the host adds before a run (input memory, context, packet copies...),
//! - regions added during a run (by helpers, e.g. a map value); these vanish when the run ends.
//!
//! Writable regions are accessed with relaxed atomic operations (byte-wise when misaligned), so
//! memory shared with concurrently running programs (map values) is never a Rust data race.

use crate::error::{AccessKind, FaultReason, MemFault};
use bpfkit_isa::AtomicOp;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8};

/// Whether a region may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Loads only.
    ReadOnly,
    /// Loads, stores and atomics.
    ReadWrite,
}

/// One contiguous range of host memory the program may access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    start: u64,
    len: u64,
    access: Access,
    /// The bytes belong to the map (a leaked `Box<[u8]>`) and are freed with the region.
    owned: bool,
}

impl Region {
    /// First address.
    pub fn start(&self) -> u64 {
        self.start
    }
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether the region has no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
    /// Its permission.
    pub fn access(&self) -> Access {
        self.access
    }
}

/// Where `[addr, addr+size)` falls relative to `[start, start+len)`.
enum Fit {
    Inside,
    CrossesEnd,
    Outside,
}

#[inline(always)]
fn fit(start: u64, len: u64, addr: u64, size: u64) -> Fit {
    let off = addr.wrapping_sub(start);
    if off >= len {
        Fit::Outside
    } else if len - off >= size {
        Fit::Inside
    } else {
        Fit::CrossesEnd
    }
}

/// The set of regions one run may touch, plus the optional packet for `ld_abs`/`ld_ind`.
///
/// `'a` is the lifetime of the host buffers lent with [`add_slice`](Self::add_slice) and
/// [`add_slice_mut`](Self::add_slice_mut). A map can serve several runs in sequence; regions
/// added *during* a run (by helpers) are removed when that run ends.
#[derive(Debug)]
pub struct MemoryMap<'a> {
    /// Accessible stack window `[stack_lo, stack_hi)`; empty outside a run.
    stack_lo: u64,
    stack_hi: u64,
    regions: Vec<Region>,
    packet: Option<(*const u8, usize)>,
    _lent: PhantomData<&'a mut [u8]>,
}

impl Default for MemoryMap<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MemoryMap<'_> {
    fn drop(&mut self) {
        self.truncate(0);
    }
}

impl<'a> MemoryMap<'a> {
    /// An empty map: no region, no packet.
    pub fn new() -> Self {
        MemoryMap {
            stack_lo: 0,
            stack_hi: 0,
            regions: Vec::new(),
            packet: None,
            _lent: PhantomData,
        }
    }

    fn push(&mut self, start: *mut u8, len: usize, access: Access, owned: bool) -> u64 {
        let start = start as u64;
        self.regions.push(Region {
            start,
            len: len as u64,
            access,
            owned,
        });
        start
    }

    /// Lends a read-only buffer; returns its address for a register.
    pub fn add_slice(&mut self, mem: &'a [u8]) -> u64 {
        // Never written through: the region is read-only.
        self.push(mem.as_ptr().cast_mut(), mem.len(), Access::ReadOnly, false)
    }

    /// Lends a writable buffer; returns its address for a register.
    pub fn add_slice_mut(&mut self, mem: &'a mut [u8]) -> u64 {
        self.push(mem.as_mut_ptr(), mem.len(), Access::ReadWrite, false)
    }

    /// Moves a buffer into the map (freed with the region); returns its address.
    ///
    /// Added during a run (by a helper), it lives until the run ends.
    pub fn add_owned(&mut self, data: Vec<u8>, access: Access) -> u64 {
        let len = data.len();
        // A raw pointer, not a Box, is kept so that moving the map never invalidates it.
        let raw = Box::into_raw(data.into_boxed_slice());
        self.push(raw.cast::<u8>(), len, access, true)
    }

    /// Adds host memory the map does not own; returns its address.
    ///
    /// # Safety
    /// `[ptr, ptr+len)` must stay valid for reads (and writes if `access` is `ReadWrite`)
    /// as long as the region is in the map (for a region added during a run: until the run
    /// ends). A `ReadOnly` region must not be written by anyone meanwhile; a `ReadWrite`
    /// region may be accessed concurrently by others only through atomic operations.
    pub unsafe fn add_raw(&mut self, ptr: *mut u8, len: usize, access: Access) -> u64 {
        self.push(ptr, len, access, false)
    }

    /// Sets the packet that `ld_abs`/`ld_ind` read (they fault cleanly without one).
    ///
    /// The packet is not a load/store region; add it with [`add_slice`](Self::add_slice)
    /// too if the program also gets a pointer to it.
    pub fn set_packet(&mut self, packet: &'a [u8]) {
        self.packet = Some((packet.as_ptr(), packet.len()));
    }

    /// Sets the packet that `ld_abs`/`ld_ind` read from raw memory.
    ///
    /// # Safety
    /// `[ptr, ptr+len)` must stay valid for reads while it is the packet; it may be written
    /// by helpers between instructions (the interpreter only reads it during `ld_abs`/`ld_ind`).
    pub unsafe fn set_packet_raw(&mut self, ptr: *const u8, len: usize) {
        self.packet = Some((ptr, len));
    }

    /// The host-visible regions, in the order they were added (the stack is not listed).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The accessible stack window `(low, high)` during a run (`high` is r10 of the first frame).
    pub fn stack_window(&self) -> Option<(u64, u64)> {
        (self.stack_hi != 0).then_some((self.stack_lo, self.stack_hi))
    }

    /// Removes (and frees, if owned) every region from index `keep` on.
    fn truncate(&mut self, keep: usize) {
        for r in self.regions.drain(keep.min(self.regions.len())..) {
            if r.owned {
                let raw = ptr::slice_from_raw_parts_mut(r.start as *mut u8, r.len as usize);
                // SAFETY: `owned` regions come only from `Box::into_raw` in `add_owned`, with
                // this exact length, and are freed once because the region is drained here.
                drop(unsafe { Box::from_raw(raw) });
            }
        }
    }

    /// Starts a run: installs the stack window, returns the mark for [`end_run`](Self::end_run).
    ///
    /// For execution engines other than the interpreter (the JIT); a host never needs it.
    ///
    /// # Safety
    /// `[stack_lo, stack_hi)` must be memory the caller owns, valid for reads and writes until
    /// [`end_run`](Self::end_run): every access the program makes in it is allowed.
    pub unsafe fn begin_run(&mut self, stack_lo: u64, stack_hi: u64) -> usize {
        self.install_stack(stack_lo, stack_hi)
    }

    /// [`begin_run`](Self::begin_run) for the interpreter, which owns the stack it installs.
    pub(crate) fn install_stack(&mut self, stack_lo: u64, stack_hi: u64) -> usize {
        self.stack_lo = stack_lo;
        self.stack_hi = stack_hi;
        self.regions.len()
    }

    /// Ends a run: drops the stack window and every region added since `mark`.
    ///
    /// For execution engines other than the interpreter (the JIT); a host never needs it.
    pub fn end_run(&mut self, mark: usize) {
        self.stack_lo = 0;
        self.stack_hi = 0;
        self.truncate(mark);
    }

    /// Moves the low end of the stack window (on calls and returns).
    ///
    /// For execution engines other than the interpreter (the JIT); a host never needs it.
    ///
    /// # Safety
    /// `lo` must lie inside the stack given to [`begin_run`](Self::begin_run).
    #[inline(always)]
    pub unsafe fn set_stack_low(&mut self, lo: u64) {
        self.move_stack_low(lo)
    }

    /// [`set_stack_low`](Self::set_stack_low) for the interpreter's own frames.
    #[inline(always)]
    pub(crate) fn move_stack_low(&mut self, lo: u64) {
        self.stack_lo = lo;
    }

    /// Checks that `[addr, addr+size)` lies inside one region (or the stack window) that
    /// permits `access`, exactly as the interpreter's loads, stores and atomics do (alignment
    /// is the caller's business). For execution engines that access memory themselves.
    pub fn check_access(&self, addr: u64, size: u64, access: AccessKind) -> Result<(), MemFault> {
        self.check(addr, size, access).map(|_| ())
    }

    /// The packet `ld_abs`/`ld_ind` read, as (pointer, length), if one is set.
    pub fn packet(&self) -> Option<(*const u8, usize)> {
        self.packet
    }

    /// Checks `[addr, addr+size)` and returns the host pointer and whether the region is writable.
    #[inline(always)]
    fn check(&self, addr: u64, size: u64, access: AccessKind) -> Result<(*mut u8, bool), MemFault> {
        let fault = |reason| MemFault {
            access,
            size,
            addr,
            reason,
        };
        let mut found = None;
        match fit(self.stack_lo, self.stack_hi - self.stack_lo, addr, size) {
            Fit::Inside => found = Some(Access::ReadWrite),
            Fit::CrossesEnd => {
                return Err(fault(FaultReason::CrossesEnd {
                    start: self.stack_lo,
                    end: self.stack_hi,
                }))
            }
            Fit::Outside => {
                for r in &self.regions {
                    match fit(r.start, r.len, addr, size) {
                        Fit::Inside => {
                            found = Some(r.access);
                            break;
                        }
                        Fit::CrossesEnd => {
                            return Err(fault(FaultReason::CrossesEnd {
                                start: r.start,
                                end: r.end(),
                            }))
                        }
                        Fit::Outside => {}
                    }
                }
            }
        }
        match found {
            None => Err(fault(FaultReason::NoRegion)),
            Some(Access::ReadOnly) if access != AccessKind::Read => {
                Err(fault(FaultReason::ReadOnly))
            }
            Some(a) => Ok((addr as *mut u8, a == Access::ReadWrite)),
        }
    }

    /// Loads a 1-, 2-, 4- or 8-byte value (native byte order), zero-extended.
    #[inline(always)]
    pub(crate) fn load(&self, addr: u64, size: u64) -> Result<u64, MemFault> {
        let (p, writable) = self.check(addr, size, AccessKind::Read)?;
        // SAFETY: `check` proved `[p, p+size)` lies inside one region, valid for reads.
        Ok(unsafe { read_word(p, size, writable) })
    }

    /// Stores the low `size` bytes of `value` (native byte order).
    #[inline(always)]
    pub(crate) fn store(&self, addr: u64, size: u64, value: u64) -> Result<(), MemFault> {
        let (p, _) = self.check(addr, size, AccessKind::Write)?;
        // SAFETY: `check` proved `[p, p+size)` lies inside one writable region.
        unsafe { write_word(p, size, value) };
        Ok(())
    }

    /// An atomic read-modify-write of 4 or 8 bytes at `addr`; returns the old value.
    ///
    /// `operand` is the source register; `expected` is r0 (used by `cmpxchg` only). For 4-byte
    /// operations only the low halves count. The target must be writable and naturally aligned.
    pub(crate) fn atomic(
        &self,
        addr: u64,
        size: u64,
        op: AtomicOp,
        operand: u64,
        expected: u64,
    ) -> Result<u64, MemFault> {
        if !addr.is_multiple_of(size) {
            return Err(MemFault {
                access: AccessKind::Atomic,
                size,
                addr,
                reason: FaultReason::Misaligned,
            });
        }
        let (p, _) = self.check(addr, size, AccessKind::Atomic)?;
        // SAFETY: `check` proved `[p, p+size)` lies in one writable region (so valid for reads
        // and writes, and only accessed atomically by others); alignment was checked above.
        Ok(unsafe {
            if size == 4 {
                let a = AtomicU32::from_ptr(p.cast());
                let v = operand as u32;
                (match op {
                    AtomicOp::Add { .. } => a.fetch_add(v, SeqCst),
                    AtomicOp::Or { .. } => a.fetch_or(v, SeqCst),
                    AtomicOp::And { .. } => a.fetch_and(v, SeqCst),
                    AtomicOp::Xor { .. } => a.fetch_xor(v, SeqCst),
                    AtomicOp::Xchg => a.swap(v, SeqCst),
                    AtomicOp::Cmpxchg => a
                        .compare_exchange(expected as u32, v, SeqCst, SeqCst)
                        .unwrap_or_else(|old| old),
                }) as u64
            } else {
                let a = AtomicU64::from_ptr(p.cast());
                match op {
                    AtomicOp::Add { .. } => a.fetch_add(operand, SeqCst),
                    AtomicOp::Or { .. } => a.fetch_or(operand, SeqCst),
                    AtomicOp::And { .. } => a.fetch_and(operand, SeqCst),
                    AtomicOp::Xor { .. } => a.fetch_xor(operand, SeqCst),
                    AtomicOp::Xchg => a.swap(operand, SeqCst),
                    AtomicOp::Cmpxchg => a
                        .compare_exchange(expected, operand, SeqCst, SeqCst)
                        .unwrap_or_else(|old| old),
                }
            }
        })
    }

    /// Reads a packet byte range for `ld_abs`/`ld_ind`: `None` if no packet, `Some(None)` if out of bounds.
    pub(crate) fn packet_bytes(&self, off: i64, size: usize) -> Option<Option<u64>> {
        let (base, len) = self.packet?;
        if off < 0 || off as u64 > len as u64 || len - (off as usize) < size {
            return Some(None);
        }
        // SAFETY: the packet slice `[base, base+len)` is borrowed for 'a and never written;
        // `off + size <= len` was checked above.
        let bytes = unsafe { std::slice::from_raw_parts(base.add(off as usize), size) };
        Some(Some(bytes.iter().fold(0u64, |v, &b| (v << 8) | b as u64)))
    }

    /// Copies `buf.len()` bytes from program memory at `addr` (a helper's checked read).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        if buf.is_empty() {
            return Ok(());
        }
        let (p, writable) = self.check(addr, buf.len() as u64, AccessKind::Read)?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: `check` proved all `buf.len()` bytes from `p` lie inside one readable region.
            *b = unsafe { read_word(p.add(i), 1, writable) } as u8;
        }
        Ok(())
    }

    /// Reads `len` bytes of program memory at `addr` into a new vector.
    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, MemFault> {
        let mut v = vec![0; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Copies `data` into program memory at `addr` (a helper's checked write).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if data.is_empty() {
            return Ok(());
        }
        let (p, _) = self.check(addr, data.len() as u64, AccessKind::Write)?;
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: `check` proved all `data.len()` bytes from `p` lie inside one writable region.
            unsafe { write_word(p.add(i), 1, b as u64) };
        }
        Ok(())
    }

    /// Loads an unsigned 1-, 2-, 4- or 8-byte value (native byte order), checked.
    pub fn load_uint(&self, addr: u64, size: bpfkit_isa::MemSize) -> Result<u64, MemFault> {
        self.load(addr, size.bytes() as u64)
    }

    /// Stores the low 1, 2, 4 or 8 bytes of `value` (native byte order), checked.
    pub fn store_uint(
        &self,
        addr: u64,
        size: bpfkit_isa::MemSize,
        value: u64,
    ) -> Result<(), MemFault> {
        self.store(addr, size.bytes() as u64, value)
    }
}

/// The widest of 8, 4, 2, 1 bytes that fits in `left` and to which `p` is aligned.
#[inline(always)]
fn unit_at(p: *const u8, left: usize) -> usize {
    let a = p as usize;
    match left {
        8.. if a.is_multiple_of(8) => 8,
        4.. if a.is_multiple_of(4) => 4,
        2.. if a.is_multiple_of(2) => 2,
        _ => 1,
    }
}

/// Copies `out.len()` bytes from `src` in the widest aligned atomic loads (memory other
/// threads may write atomically, e.g. a map value): a key of 4 or 8 aligned bytes is one
/// load, which the reader of `out` then gets forwarded from the store. For helpers that
/// access verified arguments directly (see [`HelperCtx::trust_arguments`](crate::HelperCtx::trust_arguments)).
///
/// # Safety
/// `[src, src + out.len())` must be valid for reads, and written by others only atomically.
#[inline(always)]
pub unsafe fn copy_from_shared(src: *const u8, out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        // SAFETY: byte `i` onwards lies inside the caller's range.
        let p = unsafe { src.add(i) };
        let size = unit_at(p, out.len() - i);
        // SAFETY: `[p, p + size)` is inside the range and aligned for `size`.
        let v = unsafe { read_word(p as *mut u8, size as u64, true) };
        out[i..i + size].copy_from_slice(&to_ne_prefix(v, size as u64)[..size]);
        i += size;
    }
}

/// Copies `data` to `dst` in the widest aligned atomic stores (see [`copy_from_shared`]).
///
/// # Safety
/// `[dst, dst + data.len())` must be valid for writes, and accessed by others only
/// atomically.
#[inline(always)]
pub unsafe fn copy_to_shared(data: &[u8], dst: *mut u8) {
    let mut i = 0;
    while i < data.len() {
        // SAFETY: byte `i` onwards lies inside the caller's range.
        let p = unsafe { dst.add(i) };
        let size = unit_at(p, data.len() - i);
        let mut w = [0u8; 8];
        w[..size].copy_from_slice(&data[i..i + size]);
        // SAFETY: `[p, p + size)` is inside the range and aligned for `size`.
        unsafe { write_word(p, size as u64, from_ne_prefix(w, size as u64)) };
        i += size;
    }
}

/// Reads `size` (1, 2, 4 or 8) bytes at `p`, zero-extended.
///
/// # Safety
/// `[p, p+size)` must be valid for reads; if `!shared`, nobody may write it concurrently.
#[inline(always)]
unsafe fn read_word(p: *mut u8, size: u64, shared: bool) -> u64 {
    if !shared {
        // SAFETY: the caller guarantees validity and the absence of concurrent writers.
        return unsafe {
            match size {
                1 => p.read() as u64,
                2 => ptr::read_unaligned(p as *const u16) as u64,
                4 => ptr::read_unaligned(p as *const u32) as u64,
                _ => ptr::read_unaligned(p as *const u64),
            }
        };
    }
    if (p as usize).is_multiple_of(size as usize) {
        // SAFETY: valid and aligned for the width; all concurrent accesses are atomic.
        unsafe {
            match size {
                1 => AtomicU8::from_ptr(p).load(Relaxed) as u64,
                2 => AtomicU16::from_ptr(p.cast()).load(Relaxed) as u64,
                4 => AtomicU32::from_ptr(p.cast()).load(Relaxed) as u64,
                _ => AtomicU64::from_ptr(p.cast()).load(Relaxed),
            }
        }
    } else {
        let mut b = [0u8; 8];
        for (i, slot) in b.iter_mut().take(size as usize).enumerate() {
            // SAFETY: byte `i < size` is inside the valid range; bytes are always aligned.
            *slot = unsafe { AtomicU8::from_ptr(p.add(i)).load(Relaxed) };
        }
        from_ne_prefix(b, size)
    }
}

/// Writes the low `size` (1, 2, 4 or 8) bytes of `v` at `p`.
///
/// # Safety
/// `[p, p+size)` must be valid for writes; concurrent accessors use atomics only.
#[inline(always)]
unsafe fn write_word(p: *mut u8, size: u64, v: u64) {
    if (p as usize).is_multiple_of(size as usize) {
        // SAFETY: valid for writes and aligned for the width.
        unsafe {
            match size {
                1 => AtomicU8::from_ptr(p).store(v as u8, Relaxed),
                2 => AtomicU16::from_ptr(p.cast()).store(v as u16, Relaxed),
                4 => AtomicU32::from_ptr(p.cast()).store(v as u32, Relaxed),
                _ => AtomicU64::from_ptr(p.cast()).store(v, Relaxed),
            }
        }
    } else {
        let b = to_ne_prefix(v, size);
        for (i, &byte) in b.iter().take(size as usize).enumerate() {
            // SAFETY: byte `i < size` is inside the valid range.
            unsafe { AtomicU8::from_ptr(p.add(i)).store(byte, Relaxed) };
        }
    }
}

/// The native-order value of the first `size` bytes of `b`.
fn from_ne_prefix(b: [u8; 8], size: u64) -> u64 {
    match size {
        1 => b[0] as u64,
        2 => u16::from_ne_bytes([b[0], b[1]]) as u64,
        4 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_ne_bytes(b),
    }
}

/// The native-order bytes of the low `size` bytes of `v`, in the first `size` entries.
fn to_ne_prefix(v: u64, size: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    match size {
        1 => b[0] = v as u8,
        2 => b[..2].copy_from_slice(&(v as u16).to_ne_bytes()),
        4 => b[..4].copy_from_slice(&(v as u32).to_ne_bytes()),
        _ => b = v.to_ne_bytes(),
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_copies_agree_with_plain_copies_at_every_offset_and_length() {
        let src: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(0x3b) ^ 0xa5).collect();
        for off in 0..16 {
            for len in 0..=24 {
                let mut out = vec![0u8; len];
                // SAFETY: `[off, off + len)` lies inside `src`, which nobody else touches.
                unsafe { copy_from_shared(src.as_ptr().add(off), &mut out) };
                assert_eq!(out, src[off..off + len], "read at {off}, {len} bytes");
                let mut dst = vec![0u8; 40];
                // SAFETY: as above, in `dst`.
                unsafe { copy_to_shared(&src[..len], dst.as_mut_ptr().add(off)) };
                assert_eq!(
                    dst[off..off + len],
                    src[..len],
                    "write at {off}, {len} bytes"
                );
                assert!(dst[..off].iter().chain(&dst[off + len..]).all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn lent_buffer_round_trips_and_bounds_are_exact() {
        let mut buf = [0u8; 16];
        let mut m = MemoryMap::new();
        let a = m.add_slice_mut(&mut buf);
        m.store(a + 8, 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.load(a + 8, 8).unwrap(), 0x1122_3344_5566_7788);
        // Misaligned: bytes 9..13 of the little-endian value are 77 66 55 44.
        assert_eq!(m.load(a + 9, 4).unwrap(), 0x4455_6677);
        let e = m.load(a + 9, 8).unwrap_err();
        assert!(matches!(e.reason, FaultReason::CrossesEnd { .. }));
        let e = m.load(a + 16, 1).unwrap_err();
        assert_eq!(e.reason, FaultReason::NoRegion);
        let e = m.load(a.wrapping_sub(1), 2).unwrap_err();
        assert_eq!(e.reason, FaultReason::NoRegion);
        drop(m);
        assert_eq!(buf[8], 0x88);
    }

    #[test]
    fn read_only_region_refuses_writes_and_atomics() {
        let buf = [7u8; 16];
        let mut m = MemoryMap::new();
        let a = m.add_slice(&buf);
        assert_eq!(m.load(a, 1).unwrap(), 7);
        assert_eq!(m.store(a, 1, 0).unwrap_err().reason, FaultReason::ReadOnly);
        // An aligned address, so that permission (not alignment) is what fails.
        let aligned = a + (8 - a % 8) % 8;
        let e = m.atomic(aligned, 8, AtomicOp::Xchg, 0, 0).unwrap_err();
        assert_eq!(e.reason, FaultReason::ReadOnly);
        assert_eq!(m.write(a, &[1]).unwrap_err().reason, FaultReason::ReadOnly);
    }

    #[test]
    fn owned_regions_added_during_a_run_vanish_at_its_end() {
        let mut m = MemoryMap::new();
        let before = m.add_owned(vec![1, 2, 3], Access::ReadOnly);
        let mark = m.install_stack(0, 0);
        let during = m.add_owned(vec![9; 4], Access::ReadWrite);
        m.write(during, &[5, 6]).unwrap();
        assert_eq!(m.read_vec(during, 4).unwrap(), [5, 6, 9, 9]);
        m.end_run(mark);
        assert_eq!(m.read_vec(before, 3).unwrap(), [1, 2, 3]);
        assert_eq!(m.load(during, 1).unwrap_err().reason, FaultReason::NoRegion);
    }

    #[test]
    fn fault_message_names_access_size_address_and_reason() {
        let m = MemoryMap::new();
        let e = m.load(0x1000, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "out-of-bounds read of 4 bytes at 0x1000 (no region)"
        );
    }

    #[test]
    fn packet_reads_are_big_endian_and_bounded() {
        let pkt = [0x12, 0x34, 0x56];
        let mut m = MemoryMap::new();
        assert_eq!(m.packet_bytes(0, 1), None);
        m.set_packet(&pkt);
        assert_eq!(m.packet_bytes(0, 2), Some(Some(0x1234)));
        assert_eq!(m.packet_bytes(1, 2), Some(Some(0x3456)));
        assert_eq!(m.packet_bytes(2, 2), Some(None));
        assert_eq!(m.packet_bytes(-1, 1), Some(None));
    }
}
