//! `RINGBUF`: the kernel's multi-producer, single-consumer ring buffer.
//!
//! Records use the kernel's layout: an 8-byte header (`u32 len` with
//! [`BPF_RINGBUF_BUSY_BIT`] while reserved and [`BPF_RINGBUF_DISCARD_BIT`] when
//! discarded, then `u32 pg_off`), the sample, padding to 8 bytes. Positions are
//! free-running byte counters; a record at position `p` starts at offset
//! `p & (size - 1)` of the data area. The kernel maps the data pages twice in a
//! row so a record that wraps is still contiguous; here the data area is simply
//! allocated twice as large (the second half is only touched by records that
//! wrap, and untouched pages are never committed), which gives programs the same
//! contiguous view.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::check::PAGE_SIZE;
use crate::error::{MapError, ENOTSUPP};
use crate::map::{next_map_id, Map, ValuePtr};
use crate::rcu::RcuGuard;
use crate::shared::{self, SharedBytes};
use crate::spec::{MapSpec, MapType};

/// Header bit set while a record is reserved but not yet submitted or discarded.
pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Header bit set on discarded records (the consumer skips them).
pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// Size of the record header.
pub const BPF_RINGBUF_HDR_SZ: u64 = 8;
/// `bpf_ringbuf_submit`/`output` flag: do not wake the consumer.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `bpf_ringbuf_submit`/`output` flag: always wake the consumer.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `bpf_ringbuf_query`: bytes produced but not consumed.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// `bpf_ringbuf_query`: size of the data area.
pub const BPF_RB_RING_SIZE: u64 = 1;
/// `bpf_ringbuf_query`: consumer position.
pub const BPF_RB_CONS_POS: u64 = 2;
/// `bpf_ringbuf_query`: producer position.
pub const BPF_RB_PROD_POS: u64 = 3;

/// Largest sample (`RINGBUF_MAX_RECORD_SZ`).
const MAX_RECORD: u64 = (u32::MAX / 4) as u64;
/// Pages before the data area in the kernel's `struct bpf_ringbuf` (one metadata
/// page, the consumer page, the producer page): the base of the header's `pg_off`.
const DATA_PAGE_OFFSET: u64 = 3;

/// A ring buffer map. Programs call [`RingBuf::reserve`], [`RingBuf::submit`],
/// [`RingBuf::discard`], [`RingBuf::output`] and [`RingBuf::query`]; the host
/// drains it with [`RingBuf::consume`] or [`RingBuf::poll`].
pub struct RingBuf {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    mask: u64,
    data: SharedBytes,
    /// Serialises producers; holds the kernel's `pending_pos`.
    producer: Mutex<u64>,
    producer_pos: AtomicU64,
    consumer_pos: AtomicU64,
    /// Serialises consumers (the ring has a single consumer position).
    consumer: Mutex<Vec<u8>>,
    /// Wakeup counter and its condition variable.
    wakeups: Mutex<u64>,
    wakeup_cv: Condvar,
}

impl std::fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuf")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .field("producer_pos", &self.producer_pos)
            .field("consumer_pos", &self.consumer_pos)
            .finish()
    }
}

fn round_up8(n: u64) -> u64 {
    (n + 7) & !7
}

impl RingBuf {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Result<Self, MapError> {
        let size = spec.max_entries as usize;
        Ok(RingBuf {
            data: SharedBytes::zeroed(2 * size)?,
            mask: size as u64 - 1,
            producer: Mutex::new(0),
            producer_pos: AtomicU64::new(0),
            consumer_pos: AtomicU64::new(0),
            consumer: Mutex::new(Vec::new()),
            wakeups: Mutex::new(0),
            wakeup_cv: Condvar::new(),
            id: next_map_id(),
            ncpus,
            spec,
        })
    }

    fn header_len(&self, pos: u64) -> &AtomicU32 {
        let ptr = self.data.ptr_at((pos & self.mask) as usize);
        // SAFETY: headers sit at 8-aligned offsets inside the data area.
        unsafe { AtomicU32::from_ptr(ptr.as_ptr() as *mut u32) }
    }

    fn header_pg_off(&self, pos: u64) -> &AtomicU32 {
        let ptr = self.data.ptr_at((pos & self.mask) as usize + 4);
        // SAFETY: as in header_len.
        unsafe { AtomicU32::from_ptr(ptr.as_ptr() as *mut u32) }
    }

    /// `bpf_ringbuf_reserve`: room for a `size`-byte sample, to be filled through the
    /// returned pointer and then submitted or discarded. Errors (the helper returns
    /// NULL for all of them): non-zero `flags`, a sample larger than the ring, or not
    /// enough free space ([`MapError::Again`]).
    pub fn reserve<'g>(
        &self,
        size: u64,
        flags: u64,
        _guard: &'g RcuGuard,
    ) -> Result<ValuePtr<'g>, MapError> {
        if flags != 0 {
            return Err(MapError::Invalid(format!(
                "ringbuf reserve flags {flags:#x}"
            )));
        }
        if size > MAX_RECORD {
            return Err(MapError::TooBig(format!("ringbuf record of {size} bytes")));
        }
        let len = round_up8(size + BPF_RINGBUF_HDR_SZ);
        if len > self.mask + 1 {
            return Err(MapError::TooBig(format!(
                "ringbuf record of {size} bytes does not fit a {}-byte ring",
                self.mask + 1
            )));
        }
        let cons = self.consumer_pos.load(Ordering::Acquire);
        let mut pending = self.producer.lock();
        let prod = self.producer_pos.load(Ordering::Relaxed);
        // Step the pending position over records already submitted or discarded:
        // a still-busy record must not be overwritten even if the consumer is ahead.
        let mut pend = *pending;
        while pend < prod {
            let hdr = self.header_len(pend).load(Ordering::Acquire);
            if hdr & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            pend += round_up8((hdr & !BPF_RINGBUF_DISCARD_BIT) as u64 + BPF_RINGBUF_HDR_SZ);
        }
        *pending = pend;
        let new_prod = prod + len;
        if new_prod - cons > self.mask || new_prod - pend > self.mask {
            return Err(MapError::Again { size });
        }
        let off = prod & self.mask;
        let pg_off = (DATA_PAGE_OFFSET + off / PAGE_SIZE as u64) as u32;
        self.header_len(prod)
            .store(size as u32 | BPF_RINGBUF_BUSY_BIT, Ordering::Relaxed);
        self.header_pg_off(prod).store(pg_off, Ordering::Relaxed);
        // Release pairs with the consumer's acquire of producer_pos.
        self.producer_pos.store(new_prod, Ordering::Release);
        drop(pending);
        let sample = self.data.ptr_at(off as usize + BPF_RINGBUF_HDR_SZ as usize);
        // SAFETY: the sample lies inside the doubled data area (off < size, len <= size)
        // and the data area lives as long as the map.
        Ok(unsafe { ValuePtr::new(sample, size as usize) })
    }

    /// `bpf_ringbuf_submit`: publishes a reserved sample.
    pub fn submit(&self, sample: usize, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, false)
    }

    /// `bpf_ringbuf_discard`: releases a reserved sample; the consumer skips it.
    pub fn discard(&self, sample: usize, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, true)
    }

    fn commit(&self, sample: usize, flags: u64, discard: bool) -> Result<(), MapError> {
        let base = self.data.as_ptr() as usize;
        let hdr_off = sample
            .checked_sub(base + BPF_RINGBUF_HDR_SZ as usize)
            .filter(|o| (*o as u64) <= self.mask && o % 8 == 0)
            .ok_or_else(|| {
                MapError::Invalid(format!("{sample:#x} is not a ring buffer sample address"))
            })?;
        let hdr = self.header_len(hdr_off as u64);
        let old = hdr.load(Ordering::Relaxed);
        if old & BPF_RINGBUF_BUSY_BIT == 0 {
            return Err(MapError::Invalid(format!(
                "ring buffer sample at offset {hdr_off} is not reserved"
            )));
        }
        let mut new = old ^ BPF_RINGBUF_BUSY_BIT;
        if discard {
            new |= BPF_RINGBUF_DISCARD_BIT;
        }
        // Release: the consumer that sees the cleared busy bit sees the sample.
        hdr.swap(new, Ordering::AcqRel);
        let cons = self.consumer_pos.load(Ordering::Acquire) & self.mask;
        if flags & BPF_RB_FORCE_WAKEUP != 0
            || (cons == hdr_off as u64 && flags & BPF_RB_NO_WAKEUP == 0)
        {
            self.wake();
        }
        Ok(())
    }

    /// `bpf_ringbuf_output`: reserve, copy `data`, submit. `EAGAIN` when full.
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::Invalid(format!(
                "ringbuf output flags {flags:#x}"
            )));
        }
        let guard = crate::rcu::rcu_read_lock();
        let size = data.len() as u64;
        let sample = self.reserve(size, 0, &guard).map_err(|e| match e {
            MapError::Invalid(_) => e,
            _ => MapError::Again { size },
        })?;
        sample.write(0, data)?;
        self.submit(sample.addr(), flags)
    }

    /// `bpf_ringbuf_query`; unknown `flags` give 0, as in the kernel.
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.consumer_pos.load(Ordering::Acquire);
        let prod = self.producer_pos.load(Ordering::Acquire);
        match flags {
            BPF_RB_AVAIL_DATA => prod - cons,
            BPF_RB_RING_SIZE => self.mask + 1,
            BPF_RB_CONS_POS => cons,
            BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// Host consumer: calls `f` on every submitted sample in order, skipping
    /// discarded ones, until the first still-reserved record; returns how many
    /// samples were delivered. Consumers are serialised.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let mut buf = self.consumer.lock();
        let mut delivered = 0;
        let mut cons = self.consumer_pos.load(Ordering::Acquire);
        loop {
            let prod = self.producer_pos.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let hdr = self.header_len(cons).load(Ordering::Acquire);
            if hdr & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let len = (hdr & !BPF_RINGBUF_DISCARD_BIT) as u64;
            if round_up8(len + BPF_RINGBUF_HDR_SZ) > self.mask + 1 {
                // Only a corrupted header can claim more than the ring: stop rather
                // than read past the data area.
                break;
            }
            if hdr & BPF_RINGBUF_DISCARD_BIT == 0 {
                buf.resize(len as usize, 0);
                let off = (cons & self.mask) as usize + BPF_RINGBUF_HDR_SZ as usize;
                // SAFETY: a committed record inside the doubled data area; producers do
                // not touch it until the consumer position moves past it.
                unsafe { shared::load(self.data.ptr_at(off).as_ptr(), &mut buf) };
                f(&buf);
                delivered += 1;
            }
            cons += round_up8(len + BPF_RINGBUF_HDR_SZ);
            // Release: producers that see the new position may reuse the space.
            self.consumer_pos.store(cons, Ordering::Release);
        }
        delivered
    }

    /// Consumes available samples; if there are none, waits up to `timeout` for a
    /// wakeup from a producer and consumes again. Returns the number delivered.
    pub fn poll(&self, timeout: Duration, mut f: impl FnMut(&[u8])) -> usize {
        let seen = *self.wakeups.lock();
        let n = self.consume(&mut f);
        if n > 0 {
            return n;
        }
        let mut wakeups = self.wakeups.lock();
        if *wakeups == seen {
            self.wakeup_cv.wait_for(&mut wakeups, timeout);
        }
        drop(wakeups);
        self.consume(f)
    }

    fn wake(&self) {
        *self.wakeups.lock() += 1;
        self.wakeup_cv.notify_all();
    }

    fn unsupported(&self, op: &'static str) -> MapError {
        MapError::not_supported(op, MapType::RingBuf, ENOTSUPP)
    }
}

impl Map for RingBuf {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn lookup_ptr<'g>(
        &self,
        _key: &[u8],
        _cpu: usize,
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        Err(self.unsupported("lookup"))
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64, _cpu: usize) -> Result<(), MapError> {
        Err(self.unsupported("update"))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete"))
    }

    fn lookup_with_flags(&self, _key: &[u8], _flags: u64) -> Result<Vec<u8>, MapError> {
        Err(self.unsupported("lookup"))
    }

    fn update_host(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(self.unsupported("update"))
    }

    fn get_next_key(&self, _key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        Err(self.unsupported("get_next_key"))
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        Vec::new().into_iter()
    }

    fn as_ringbuf(&self) -> Option<&RingBuf> {
        Some(self)
    }
}
