//! Map helpers: lookup, update, delete, push/pop/peek, ring buffers, tail calls.

use bpfkit_jit::{TailCall, TailCalls};
use bpfkit_maps::{map_flags, MapError, MapType, ProgArray};
use bpfkit_vm::{Access, HelperCtx, HelperError, HelperReturn};

use crate::engine::Prepared;

use super::{neg, ArgMemory, RunHelpers, EINVAL, MAX_TAIL_CALLS, SMALL_KEY};

/// A map error as the helper's `-errno`.
fn map_err(e: MapError) -> HelperReturn {
    neg(e.errno() as i64)
}

fn done(r: Result<(), MapError>) -> HelperReturn {
    match r {
        Ok(()) => HelperReturn::Value(0),
        Err(e) => map_err(e),
    }
}

impl RunHelpers<'_> {
    /// `bpf_map_lookup_elem(map, key)`: a pointer to the value (made accessible for the rest
    /// of the run), an inner map's handle for maps of maps, or NULL.
    #[inline(never)]
    pub(super) fn map_lookup_elem(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let spec = map.spec();
        if let Some(outer) = map.as_map_of_maps() {
            let cell = mem.with_bytes(a[1], spec.key_size as usize, |key| {
                outer.inner_cell(key, self.guard)
            })?;
            return Ok(HelperReturn::Value(cell.map_or(0, |c| c as u64)));
        }
        if matches!(
            spec.map_type,
            MapType::ProgArray
                | MapType::Queue
                | MapType::Stack
                | MapType::RingBuf
                | MapType::BloomFilter
        ) {
            return Ok(HelperReturn::Value(0));
        }
        let access = if spec.flags & map_flags::BPF_F_RDONLY_PROG != 0 {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let found = mem.with_bytes(a[1], spec.key_size as usize, |key| {
            map.lookup_ptr(key, self.cpu, self.guard)
        })?;
        match found {
            Ok(Some(value)) => {
                // SAFETY: the value stays valid while `self.guard` lives, i.e. the whole
                // test-run; map memory is only accessed atomically by others.
                unsafe { mem.register(value.addr() as u64, value.len(), access) };
                Ok(HelperReturn::Value(value.addr() as u64))
            }
            Ok(None) | Err(_) => Ok(HelperReturn::Value(0)),
        }
    }

    /// `bpf_map_update_elem(map, key, value, flags)`.
    #[inline(never)]
    pub(super) fn map_update_elem(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let spec = map.spec();
        if map.as_map_of_maps().is_some() || map.as_prog_array().is_some() {
            return Ok(neg(EINVAL));
        }
        let (key_size, value_size) = (spec.key_size as usize, spec.value_size as usize);
        let (value_addr, flags, cpu) = (a[2], a[3], self.cpu);
        let result = mem.with_bytes(a[1], key_size, |key| {
            mem.with_bytes(value_addr, value_size, |value| {
                map.update(key, value, flags, cpu)
            })
        })??;
        Ok(done(result))
    }

    /// `bpf_map_delete_elem(map, key)`.
    #[inline(never)]
    pub(super) fn map_delete_elem(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        if map.as_map_of_maps().is_some() || map.as_prog_array().is_some() {
            return Ok(neg(EINVAL));
        }
        let result = mem.with_bytes(a[1], map.spec().key_size as usize, |key| map.delete(key))?;
        Ok(done(result))
    }

    /// `bpf_map_push_elem(map, value, flags)` (queue, stack, bloom filter).
    #[inline(never)]
    pub(super) fn map_push_elem(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let size = map.spec().value_size as usize;
        let result = mem.with_bytes(a[1], size, |value| map.push(value, a[2]))?;
        Ok(done(result))
    }

    /// `bpf_map_pop_elem(map, value)` / `bpf_map_peek_elem(map, value)`.
    #[inline(never)]
    pub(super) fn map_pop_peek(
        &mut self,
        pop: bool,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let size = map.spec().value_size as usize;
        // A bloom filter's peek reads the value as its input. Small values stay on the stack.
        let (mut small, mut large) = ([0u8; SMALL_KEY], Vec::new());
        let value = if size <= SMALL_KEY {
            &mut small[..size]
        } else {
            large.resize(size, 0);
            &mut large[..]
        };
        mem.read(a[1], value)?;
        let r = if pop { map.pop(value) } else { map.peek(value) };
        if r.is_ok() && map.spec().map_type != MapType::BloomFilter {
            mem.write(a[1], value)?;
        }
        Ok(done(r))
    }

    /// `bpf_tail_call(ctx, prog_array, index)`: on success the program ends here and the
    /// runtime starts the target with the same context; on failure execution continues.
    /// (Tail-callable JIT code jumps instead where it can: see [`TailCalls`] below.)
    #[inline(never)]
    pub(super) fn tail_call(
        &mut self,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[1], ctx.trusts_arguments())?;
        let array = map.as_prog_array().ok_or_else(|| {
            HelperError::Failed("tail call through a map that is not a program array".into())
        })?;
        let Some(prog) = self.tail_target(array, a[2]) else {
            return Ok(HelperReturn::Value(0));
        };
        if ctx.call_depth() > 0 {
            return Err(HelperError::Failed(
                "tail call from a bpf-to-bpf function or callback is not supported".into(),
            ));
        }
        self.tail_calls += 1;
        self.pending_tail_call = Some(prog as usize);
        Ok(HelperReturn::Stop(0))
    }

    /// The program a tail call through `array` at `index` (a u32, as in the kernel) goes
    /// to now, if it succeeds: the slot holds one and the chain is under the limit.
    fn tail_target(&self, array: &ProgArray, index: u64) -> Option<u32> {
        if self.tail_calls >= MAX_TAIL_CALLS {
            return None;
        }
        array.get(index as u32)
    }

    /// `bpf_ringbuf_output(ringbuf, data, size, flags)`.
    #[inline(never)]
    pub(super) fn ringbuf_output(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let Some(rb) = map.as_ringbuf() else {
            return Ok(neg(EINVAL));
        };
        let result = mem.with_bytes(a[1], a[2] as usize, |data| rb.output(data, a[3]))?;
        Ok(done(result))
    }

    /// `bpf_ringbuf_reserve(ringbuf, size, flags)`: a writable sample or NULL.
    #[inline(never)]
    pub(super) fn ringbuf_reserve(
        &mut self,
        a: [u64; 5],
        mem: &mut ArgMemory<'_, '_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], mem.trusted())?;
        let Some(rb) = map.as_ringbuf() else {
            return Ok(HelperReturn::Value(0));
        };
        match rb.reserve(a[1], a[2], self.guard) {
            Ok(sample) => {
                let addr = sample.addr() as u64;
                // SAFETY: ring buffer memory lives as long as the map, which outlives the run.
                unsafe { mem.register(addr, sample.len(), Access::ReadWrite) };
                self.reserved.push((addr, map.into_owned()));
                Ok(HelperReturn::Value(addr))
            }
            Err(_) => Ok(HelperReturn::Value(0)),
        }
    }

    /// `bpf_ringbuf_submit(sample, flags)` / `bpf_ringbuf_discard(sample, flags)`.
    #[inline(never)]
    pub(super) fn ringbuf_commit(
        &mut self,
        discard: bool,
        a: [u64; 5],
    ) -> Result<HelperReturn, HelperError> {
        let Some(i) = self.reserved.iter().position(|(addr, _)| *addr == a[0]) else {
            return Err(HelperError::Failed(format!(
                "{:#x} is not a reserved ring buffer sample",
                a[0]
            )));
        };
        let (addr, map) = self.reserved.swap_remove(i);
        let rb = map
            .as_ringbuf()
            .ok_or_else(|| HelperError::Failed("not a ring buffer".into()))?;
        let r = if discard {
            rb.discard(addr as usize, a[1])
        } else {
            rb.submit(addr as usize, a[1])
        };
        r.map_err(|e| HelperError::Failed(e.to_string()))?;
        Ok(HelperReturn::Value(0))
    }

    /// `bpf_ringbuf_query(ringbuf, flags)`.
    #[inline(never)]
    pub(super) fn ringbuf_query(
        &mut self,
        a: [u64; 5],
        trusted: bool,
    ) -> Result<HelperReturn, HelperError> {
        let map = self.map(a[0], trusted)?;
        Ok(HelperReturn::Value(
            map.as_ringbuf().map_or(0, |rb| rb.query(a[1])),
        ))
    }
}

/// Tail calls as jumps for tail-callable JIT code: the same decision as the helper
/// ([`RunHelpers::tail_call`]), with the target's code when it can be jumped into. Anything
/// the helper would report as an error, and targets on another engine or of another
/// checked-ness, are left to the helper (which then ends the run for the runtime's loop).
impl<'r> TailCalls<'r> for RunHelpers<'r> {
    fn tail_call(&mut self, map: u64, index: u64) -> TailCall<'r> {
        let shared = self.shared;
        let array = match self.tail_array {
            Some((handle, array)) if handle == map => array,
            _ => {
                let Some(array) = shared
                    .maps
                    .own_by_handle(map)
                    .and_then(|m| m.as_prog_array())
                else {
                    return TailCall::Helper;
                };
                self.tail_array = Some((map, array));
                array
            }
        };
        let Some(prog) = self.tail_target(array, index) else {
            return TailCall::Fail;
        };
        match shared.programs.get(prog as usize).map(|p| &p.prepared) {
            Some(Prepared::Jit(code)) if code.tail_callable() => {
                self.tail_calls += 1;
                self.running = prog as usize;
                TailCall::Jump(code)
            }
            _ => TailCall::Helper,
        }
    }

    fn tail_calls_made(&self) -> u32 {
        self.tail_calls
    }

    fn tail_calls_so_far(&mut self, made: u32, running: &bpfkit_jit::JitProgram) {
        self.tail_calls = made;
        let is = |p: &crate::load::LoadedProgram| matches!(&p.prepared, Prepared::Jit(code) if std::ptr::eq(&**code, running));
        if !is(&self.shared.programs[self.running]) {
            if let Some(index) = self.shared.programs.iter().position(is) {
                self.running = index;
            }
        }
    }
}
