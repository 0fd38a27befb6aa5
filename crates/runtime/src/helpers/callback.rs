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
        let map = self.map(handle)?.into_owned();
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        let spec = map.spec().clone();
        // Array keys are the indices, made on the fly (a vector of keys allocated per
        // element was most of a short walk's cost); hash keys are snapshotted first.
        let array = matches!(spec.map_type, MapType::Array | MapType::PercpuArray);
        let hash_keys: Vec<Vec<u8>> = match spec.map_type {
            _ if array => Vec::new(),
            t if t.is_hash() => map.iter().map(|(k, _)| k).collect(),
            _ => return Ok(neg(EINVAL)),
        };
        let count = match array {
            true => spec.max_entries as usize,
            false => hash_keys.len(),
        };
        // The key the callback sees lives in one scratch region, rewritten per element.
        let key_addr = ctx
            .memory
            .add_owned(vec![0; spec.key_size as usize], Access::ReadWrite);
        let mut visited = 0u64;
        for i in 0..count {
            let index = (i as u32).to_ne_bytes();
            let key: &[u8] = hash_keys.get(i).map_or(&index, Vec::as_slice);
            let Ok(Some(value)) = map.lookup_ptr(key, self.cpu, self.guard) else {
                continue;
            };
            // SAFETY: the value stays valid while the guard lives (the whole test-run).
            unsafe { add_region(ctx, value.addr() as u64, value.len(), Access::ReadWrite) };
            ctx.memory.write(key_addr, key)?;
            visited += 1;
            let args = [handle, key_addr, value.addr() as u64, cb_ctx, 0];
            if ctx.call_function(self, func, args)? != 0 {
                break;
            }
        }
        Ok(HelperReturn::Value(visited))
    }
}
