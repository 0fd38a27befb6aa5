//! Helpers that call back into the program: `bpf_loop` and `bpf_for_each_map_elem`.

use bpfkit_maps::MapType;
use bpfkit_vm::{Access, HelperCtx, HelperError, HelperReturn};

use super::{add_region, neg, RunHelpers, E2BIG, EINVAL};

/// `BPF_MAX_LOOPS`: the most iterations `bpf_loop` accepts.
const MAX_LOOPS: u64 = 1 << 23;

impl RunHelpers<'_> {
    /// `bpf_loop(nr_loops, callback, ctx, flags)`: calls `callback(i, ctx)` until it returns
    /// non-zero; returns the number of calls made.
    #[inline(never)]
    pub(super) fn bpf_loop(
        &mut self,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let (nr_loops, func, cb_ctx, flags) = (a[0] as u32 as u64, a[1], a[2], a[3]);
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        if nr_loops > MAX_LOOPS {
            return Ok(neg(E2BIG));
        }
        for i in 0..nr_loops {
            if ctx.call_function(self, func, [i, cb_ctx, 0, 0, 0])? != 0 {
                return Ok(HelperReturn::Value(i + 1));
            }
        }
        Ok(HelperReturn::Value(nr_loops))
    }

    /// `bpf_for_each_map_elem(map, callback, ctx, flags)`: calls
    /// `callback(map, &key, &value, ctx)` for each element until it returns non-zero;
    /// returns the number of elements visited. Arrays and hashes, as in the kernel.
    #[inline(never)]
    pub(super) fn for_each_map_elem(
        &mut self,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let (handle, func, cb_ctx, flags) = (a[0], a[1], a[2], a[3]);
        let map = self.map(handle, ctx.trusts_arguments())?.into_owned();
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        let spec = map.spec().clone();
        let key_size = spec.key_size as usize;
        // Array keys are the indices, made on the fly; hash keys are snapshotted first, in
        // one buffer (a vector per key, and the values `iter` copies, were most of a short
        // walk's cost).
        let array = matches!(spec.map_type, MapType::Array | MapType::PercpuArray);
        let mut hash_keys = Vec::new();
        match spec.map_type {
            _ if array => {}
            t if t.is_hash() => map.keys_into(&mut hash_keys),
            _ => return Ok(neg(EINVAL)),
        }
        let count = match array {
            true => spec.max_entries as usize,
            false => hash_keys.len() / key_size.max(1),
        };
        // A plain array's values, back to back, are registered at once rather than one
        // region per element (each added after a linear search for a duplicate).
        let whole = map
            .as_array()
            .map(|a| a.storage())
            .filter(|s| spec.map_type == MapType::Array && s.stride == spec.value_size as usize);
        if let Some(storage) = &whole {
            // SAFETY: the array's storage stays valid while `self.guard` lives (the whole
            // test-run); map memory is only accessed atomically by others.
            unsafe {
                add_region(
                    ctx,
                    storage.base.as_ptr() as u64,
                    storage.len(),
                    Access::ReadWrite,
                )
            };
        }
        // The key the callback sees lives in one scratch region, rewritten per element.
        let key_addr = ctx.memory.add_owned(vec![0; key_size], Access::ReadWrite);
        let mut visited = 0u64;
        for i in 0..count {
            let index = (i as u32).to_ne_bytes();
            let key: &[u8] = match array {
                true => &index,
                false => &hash_keys[i * key_size..(i + 1) * key_size],
            };
            let Ok(Some(value)) = map.lookup_ptr(key, self.cpu, self.guard) else {
                continue;
            };
            if whole.is_none() {
                // SAFETY: the value stays valid while the guard lives (the whole test-run).
                unsafe { add_region(ctx, value.addr() as u64, value.len(), Access::ReadWrite) };
            }
            // SAFETY: `key_addr` is the `key_size` bytes of the buffer just handed to the
            // memory map, which keeps it until the run ends; nothing else references it
            // while the helper runs.
            unsafe { std::ptr::copy_nonoverlapping(key.as_ptr(), key_addr as *mut u8, key_size) };
            visited += 1;
            let args = [handle, key_addr, value.addr() as u64, cb_ctx, 0];
            if ctx.call_function(self, func, args)? != 0 {
                break;
            }
        }
        Ok(HelperReturn::Value(visited))
    }
}
