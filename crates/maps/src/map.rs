//! The [`Map`] trait every map implements, and the value pointer handed to programs.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use crate::array::ArrayMap;
use crate::error::{MapError, EINVAL};
use crate::map_in_map::MapOfMaps;
use crate::prog_array::ProgArray;
use crate::rcu::RcuGuard;
use crate::ringbuf::RingBuf;
use crate::shared;
use crate::spec::{map_flags, MapSpec, BPF_F_LOCK};
use crate::spinlock;

/// A shared handle to any map.
pub type MapRef = Arc<dyn Map>;

/// A pointer to map memory handed to an eBPF program: `len` bytes at `addr`.
///
/// Valid while the [`RcuGuard`] it was obtained under (lifetime `'g`) is alive, even
/// if the element is deleted meanwhile. The memory is shared with other threads and
/// the host: access it through raw pointers or atomics, never through `&`/`&mut`
/// references. The interpreter's checked memory model should allow accesses to
/// exactly [`ValuePtr::region`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ValuePtr<'g> {
    ptr: NonNull<u8>,
    len: usize,
    _guard: PhantomData<&'g RcuGuard>,
}

impl fmt::Debug for ValuePtr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValuePtr({:#x}, {} bytes)", self.addr(), self.len)
    }
}

impl<'g> ValuePtr<'g> {
    /// # Safety
    /// `ptr..ptr+len` must stay valid for `'g`.
    pub(crate) unsafe fn new(ptr: NonNull<u8>, len: usize) -> Self {
        ValuePtr {
            ptr,
            len,
            _guard: PhantomData,
        }
    }

    /// The raw pointer.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The address as an integer (what an eBPF register holds).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// Number of accessible bytes (the map's `value_size` for map values).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (a zero-size ring buffer record).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The accessible address range.
    pub fn region(&self) -> Range<usize> {
        self.addr()..self.addr() + self.len
    }

    /// Copies `out.len()` bytes at `offset` out of the value (bounds-checked).
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), MapError> {
        self.check(offset, out.len())?;
        // SAFETY: bounds checked; the guard lifetime keeps the memory alive.
        unsafe { shared::load(self.as_ptr().add(offset), out) };
        Ok(())
    }

    /// Copies `data` into the value at `offset` (bounds-checked).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), MapError> {
        self.check(offset, data.len())?;
        // SAFETY: as in read.
        unsafe { shared::store(self.as_ptr().add(offset), data) };
        Ok(())
    }

    fn check(&self, offset: usize, n: usize) -> Result<(), MapError> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(MapError::Invalid(format!(
                "access of {n} bytes at offset {offset} outside a {}-byte value",
                self.len
            ))),
        }
    }
}

/// An eBPF map with the kernel's semantics. All methods take `&self` and are safe to
/// call from many threads at once.
///
/// *Program side* methods are what the runtime's helpers (`bpf_map_lookup_elem`,
/// `bpf_map_update_elem`, ...) call: they take the current CPU number (`0..ncpus`)
/// and work on that CPU's slot of per-CPU maps. *Host side* methods are what the
/// `bpf(2)` syscall does from user space: per-CPU values are seen as `ncpus` slots of
/// `round_up(value_size, 8)` bytes, and the `BPF_F_RDONLY`/`BPF_F_WRONLY` creation
/// flags are enforced (`EPERM`).
pub trait Map: Send + Sync + fmt::Debug {
    /// The parameters the map was created with (after kernel-style adjustments).
    fn spec(&self) -> &MapSpec;
    /// Number of runtime CPUs (slots of per-CPU values).
    fn ncpus(&self) -> usize;
    /// Unique map id (like the kernel's map ids; used as the value of maps of maps).
    fn id(&self) -> u32;

    /// `bpf_map_lookup_elem` from a program: a pointer to the value (this CPU's slot
    /// for per-CPU maps), or `None` if there is no such element.
    fn lookup_ptr<'g>(
        &self,
        key: &[u8],
        cpu: usize,
        guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError>;

    /// `bpf_map_update_elem` from a program (per-CPU maps: this CPU's slot only).
    fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: usize) -> Result<(), MapError>;

    /// `bpf_map_delete_elem` (program side; no permission check).
    fn delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// `bpf_map_push_elem` (queue, stack, bloom filter).
    fn push(&self, _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "push",
            self.spec().map_type,
            EINVAL,
        ))
    }

    /// `bpf_map_pop_elem` (queue, stack): copies the element into `out`.
    fn pop(&self, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::not_supported("pop", self.spec().map_type, EINVAL))
    }

    /// `bpf_map_peek_elem`: queue/stack copy the next element into `out`; a bloom
    /// filter reads `value` as the *input* and answers `Ok` (maybe present) or
    /// `NotFound` (certainly absent).
    fn peek(&self, _value: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "peek",
            self.spec().map_type,
            EINVAL,
        ))
    }

    /// `BPF_MAP_LOOKUP_ELEM` from the host, flags 0.
    fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.lookup_with_flags(key, 0)
    }

    /// `BPF_MAP_LOOKUP_ELEM` from the host with flags (`BPF_F_LOCK`).
    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError>;

    /// `BPF_MAP_UPDATE_ELEM` from the host (per-CPU maps: all CPUs' slots).
    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError>;

    /// `BPF_MAP_DELETE_ELEM` from the host.
    fn delete_host(&self, key: &[u8]) -> Result<(), MapError> {
        check_host_write(self.spec())?;
        self.delete(key)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` from the host (queue/stack: pop; hashes).
    fn lookup_and_delete(&self, _key: &[u8]) -> Result<Vec<u8>, MapError> {
        Err(MapError::not_supported(
            "lookup_and_delete",
            self.spec().map_type,
            crate::error::ENOTSUPP,
        ))
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` in the map's iteration order; `None`
    /// or a key not in the map gives the first key; `NotFound` after the last one.
    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError>;

    /// A snapshot of all `(key, host value)` pairs (queue/stack: empty keys, values in
    /// pop order; ring buffers and bloom filters: empty).
    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)>;

    /// Appends every key, in [`iter`](Self::iter)'s order, to `out` (`key_size` bytes
    /// each): a snapshot of the keys without copying values (what
    /// `bpf_for_each_map_elem` walks).
    fn keys_into(&self, out: &mut Vec<u8>) {
        for (key, _) in self.iter() {
            out.extend_from_slice(&key);
        }
    }

    /// Size of a host-side value: `ncpus * round_up(value_size, 8)` for per-CPU maps,
    /// `value_size` otherwise.
    fn host_value_size(&self) -> usize {
        let spec = self.spec();
        if spec.map_type.is_percpu() {
            self.ncpus() * spec.value_slot()
        } else {
            spec.value_size as usize
        }
    }

    /// The ring buffer API, if this is a `RINGBUF` map.
    fn as_ringbuf(&self) -> Option<&RingBuf> {
        None
    }

    /// The program array API, if this is a `PROG_ARRAY` map.
    fn as_prog_array(&self) -> Option<&ProgArray> {
        None
    }

    /// The inner-map API, if this is an `ARRAY_OF_MAPS` or `HASH_OF_MAPS` map.
    fn as_map_of_maps(&self) -> Option<&MapOfMaps> {
        None
    }

    /// The array API (its storage layout), if this is an `ARRAY` or `PERCPU_ARRAY` map.
    fn as_array(&self) -> Option<&ArrayMap> {
        None
    }

    /// Its program-side lookup as a function machine code can call without the helper
    /// machinery (as the kernel's JIT calls `map->ops->map_lookup_elem`), for maps whose
    /// lookup needs no CPU number; `None` for the others.
    fn direct_lookup(&self) -> Option<DirectLookup> {
        None
    }
}

/// Longest key a direct lookup copies (on its stack); maps with longer keys have none.
pub(crate) const DIRECT_KEY_MAX: usize = 64;

/// The type of [`DirectLookup::lookup`]: `(map, key) -> value address or 0`.
pub type LookupFn = unsafe extern "sysv64" fn(map: *const (), key: *const u8) -> u64;

/// A map's program-side lookup as a plain function: `(lookup)(map, key)` is the address
/// of the value for the `key_size` bytes at `key`, or 0, exactly as
/// [`Map::lookup_ptr`] finds it.
///
/// # Safety of calling `lookup`
/// `map` must be the one given here, alive; `key` must point at `key_size` readable bytes
/// that other threads write only atomically; the calling thread must hold an
/// [`RcuGuard`] for as long as it uses the value.
#[derive(Clone, Copy, Debug)]
pub struct DirectLookup {
    /// The function.
    pub lookup: LookupFn,
    /// Its first argument: the map.
    pub map: *const (),
}

/// Calls `f` with a copy of the key of `len` (at most [`DIRECT_KEY_MAX`]) bytes at `src`
/// in program memory (see [`copy_key`]), for direct lookups.
///
/// # Safety
/// As [`copy_key`]'s, for `len` bytes.
#[inline(always)]
pub(crate) unsafe fn with_program_key<R>(
    src: *const u8,
    len: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let mut buf = [0u8; DIRECT_KEY_MAX];
    let key = &mut buf[..len];
    // SAFETY: forwarded to the caller.
    unsafe { copy_key(src, key) };
    f(key)
}

/// Copies a key from program memory that other threads may write, in one aligned atomic
/// load when it is a 4- or 8-byte word (most keys), else byte by byte.
///
/// # Safety
/// `[src, src + out.len())` must be readable and written by others only atomically.
#[inline(always)]
pub(crate) unsafe fn copy_key(src: *const u8, out: &mut [u8]) {
    let aligned = |n: usize| (src as usize).is_multiple_of(n);
    // SAFETY (all three): readable for `out.len()` bytes, aligned where a word is loaded.
    unsafe {
        match out.len() {
            4 if aligned(4) => out.copy_from_slice(
                &AtomicU32::from_ptr(src as *mut u32)
                    .load(Ordering::Relaxed)
                    .to_ne_bytes(),
            ),
            8 if aligned(8) => out.copy_from_slice(
                &AtomicU64::from_ptr(src as *mut u64)
                    .load(Ordering::Relaxed)
                    .to_ne_bytes(),
            ),
            _ => {
                for (i, b) in out.iter_mut().enumerate() {
                    *b = AtomicU8::from_ptr(src.add(i) as *mut u8).load(Ordering::Relaxed);
                }
            }
        }
    }
}

/// Allocates map ids, starting at 1 like the kernel's.
pub(crate) fn next_map_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Host reads are refused on maps created `BPF_F_WRONLY`.
pub(crate) fn check_host_read(spec: &MapSpec) -> Result<(), MapError> {
    if spec.flags & map_flags::BPF_F_WRONLY != 0 {
        return Err(MapError::Permission("map was created BPF_F_WRONLY"));
    }
    Ok(())
}

/// Host writes are refused on maps created `BPF_F_RDONLY`.
pub(crate) fn check_host_write(spec: &MapSpec) -> Result<(), MapError> {
    if spec.flags & map_flags::BPF_F_RDONLY != 0 {
        return Err(MapError::Permission("map was created BPF_F_RDONLY"));
    }
    Ok(())
}

/// Copies whole values in and out of map memory the way the kernel's
/// `copy_map_value*` do: the `bpf_spin_lock` word is never overwritten by a copy-in
/// and reads back as zero, and with `BPF_F_LOCK` the copy happens under the lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueCodec {
    pub size: usize,
    pub lock: Option<usize>,
}

impl ValueCodec {
    pub(crate) fn new(spec: &MapSpec) -> Self {
        ValueCodec {
            size: spec.value_size as usize,
            lock: spec.spin_lock_offset.map(|o| o as usize),
        }
    }

    /// Rejects `BPF_F_LOCK` on values without a spin lock (`EINVAL`).
    pub(crate) fn check_lock_flag(&self, flags: u64) -> Result<(), MapError> {
        if flags & BPF_F_LOCK != 0 && self.lock.is_none() {
            return Err(MapError::Invalid(
                "BPF_F_LOCK on a map whose value has no bpf_spin_lock".into(),
            ));
        }
        Ok(())
    }

    /// Copies `src` (exactly `size` bytes) to the value at `dst`.
    ///
    /// # Safety
    /// `dst` must point to a live value of `size` bytes (8-aligned).
    pub(crate) unsafe fn store(&self, dst: *mut u8, src: &[u8], flags: u64) {
        match self.lock {
            None => shared::store(dst, src),
            Some(off) => {
                let locked = flags & BPF_F_LOCK != 0;
                if locked {
                    spinlock::spin_lock(dst.add(off));
                }
                shared::store(dst, &src[..off]);
                shared::store(dst.add(off + 4), &src[off + 4..]);
                if locked {
                    spinlock::spin_unlock(dst.add(off));
                }
            }
        }
    }

    /// Copies the value at `src` into `out` (exactly `size` bytes).
    ///
    /// # Safety
    /// As for [`ValueCodec::store`], for `src`.
    pub(crate) unsafe fn load(&self, src: *const u8, out: &mut [u8], flags: u64) {
        match self.lock {
            None => shared::load(src, out),
            Some(off) => {
                let locked = flags & BPF_F_LOCK != 0;
                if locked {
                    spinlock::spin_lock(src.add(off) as *mut u8);
                }
                shared::load(src, out);
                if locked {
                    spinlock::spin_unlock(src.add(off) as *mut u8);
                }
                out[off..off + 4].fill(0);
            }
        }
    }
}
