//! Packet helpers: skb byte access and checksum fix-ups, `bpf_csum_diff`, and the XDP
//! bound adjustments. Checksums use the kernel's ones'-complement primitives on values as
//! they sit in memory (`__sum16`/`__wsum`), so results match bit for bit, including the
//! 0x0000/0xffff distinction.

use bpfkit_vm::{HelperCtx, HelperError, HelperReturn};

use super::{neg, with_bytes, RunHelpers, EFAULT, EINVAL};
use crate::ctx::{Hook, ETH_HLEN, XDP_FRAME_STRUCT, XDP_MAX_META};

const EACCES: i64 = 13;
const F_RECOMPUTE_CSUM: u64 = 1;
const F_INVALIDATE_HASH: u64 = 2;
const F_HDR_FIELD_MASK: u64 = 0xf;
const F_PSEUDO_HDR: u64 = 1 << 4;
const F_MARK_MANGLED_0: u64 = 1 << 5;
const F_MARK_ENFORCE: u64 = 1 << 6;
const F_IPV6: u64 = 1 << 7;
const CSUM_MANGLED_0: u16 = 0xffff;

/// `csum_add`: 32-bit ones'-complement addition.
pub(crate) fn csum_add(a: u32, b: u32) -> u32 {
    let r = a.wrapping_add(b);
    r.wrapping_add((r < b) as u32)
}

/// `csum_sub`.
pub(crate) fn csum_sub(a: u32, b: u32) -> u32 {
    csum_add(a, !b)
}

/// `csum_fold`: 32 bits to a complemented 16-bit checksum.
pub(crate) fn csum_fold(c: u32) -> u16 {
    let s = (c & 0xffff) + (c >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// `csum_partial`: the ones'-complement sum of `data` (native 16-bit words) added to `seed`.
pub(crate) fn csum_partial(data: &[u8], seed: u32) -> u32 {
    let mut sum = seed as u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        sum += u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as u64;
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u32::from_ne_bytes(tail) as u64;
    let s = (sum & 0xffff_ffff) + (sum >> 32);
    ((s & 0xffff_ffff) + (s >> 32)) as u32
}

/// `csum_from32to16`: folds a 32-bit sum to 16 bits (not complemented).
pub(crate) fn csum_from32to16(sum: u32) -> u32 {
    let sum = sum.wrapping_add(sum.rotate_left(16));
    sum >> 16
}

/// `csum16_add`.
fn csum16_add(csum: u16, addend: u16) -> u16 {
    let r = csum.wrapping_add(addend);
    r.wrapping_add((r < addend) as u16)
}

/// What `bpf_csum_diff` returns for the bytes `from` and `to` and `seed`.
fn csum_diff_of(from: &[u8], to: &[u8], seed: u32) -> u32 {
    match (from.len(), to.len()) {
        (0, 0) => seed,
        (0, _) => csum_from32to16(csum_partial(to, seed)),
        (_, 0) => csum_from32to16(!csum_partial(from, !seed)),
        _ => csum_from32to16(csum_sub(csum_partial(to, seed), csum_partial(from, 0))),
    }
}

/// `bpf_csum_diff` for unchecked JIT code ([`Specialization::PureCall`]): the same result
/// as [`csum_diff`], reading the buffers directly.
///
/// # Safety
/// `[from, from + from_size)` and `[to, to + to_size)` (sizes as `u32`) must be readable
/// where the size is not zero: what the verifier proves of `bpf_csum_diff`'s arguments.
///
/// [`Specialization::PureCall`]: bpfkit_jit::Specialization::PureCall
pub(crate) unsafe extern "sysv64" fn csum_diff_direct(
    from: u64,
    from_size: u64,
    to: u64,
    to_size: u64,
    seed: u64,
) -> u64 {
    // SAFETY: the caller's promise.
    let bytes = |addr: u64, size: u64| match size as u32 {
        0 => &[][..],
        n => unsafe { std::slice::from_raw_parts(addr as *const u8, n as usize) },
    };
    csum_diff_of(bytes(from, from_size), bytes(to, to_size), seed as u32) as u64
}

/// `bpf_csum_diff(from, from_size, to, to_size, seed)`, as since Linux 6.13 (any sizes;
/// the older multiple-of-4 and 512-byte limits are gone).
#[inline(never)]
pub(super) fn csum_diff(
    a: [u64; 5],
    ctx: &mut HelperCtx<'_, '_>,
) -> Result<HelperReturn, HelperError> {
    let (from, from_size, to, to_size, seed) = (a[0], a[1] as u32, a[2], a[3] as u32, a[4] as u32);
    let r = with_bytes(ctx, from, from_size as usize, |from| {
        with_bytes(ctx, to, to_size as usize, |to| csum_diff_of(from, to, seed))
    })??;
    Ok(HelperReturn::Value(r as u64))
}

impl RunHelpers<'_> {
    /// Offset in the low buffer of packet address `addr`.
    fn at(&self, addr: u64) -> usize {
        (addr - self.buf.addr()) as usize
    }

    /// The skb's bytes from `data` on (what skb helper offsets count from).
    fn skb_bytes(&mut self) -> Result<&mut [u8], HelperError> {
        if self.packet.hook == Hook::Xdp {
            return Err(HelperError::Failed(
                "skb helper called by an XDP program".into(),
            ));
        }
        let (start, end) = (self.at(self.packet.data), self.at(self.packet.end));
        Ok(&mut self.buf.bytes_mut()[start..end])
    }

    /// `bpf_skb_load_bytes(skb, offset, to, len)`.
    #[inline(never)]
    pub(super) fn skb_load_bytes(
        &mut self,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let (offset, to, len) = (a[1] as u32 as usize, a[2], a[3] as u32 as usize);
        let pkt = self.skb_bytes()?;
        match pkt
            .get(offset..offset.saturating_add(len))
            .filter(|_| offset <= i32::MAX as usize)
        {
            Some(bytes) => {
                ctx.write_arg(to, bytes)?;
                Ok(HelperReturn::Value(0))
            }
            None => {
                ctx.write_arg(to, &vec![0; len])?;
                Ok(neg(EFAULT))
            }
        }
    }

    /// `bpf_skb_store_bytes(skb, offset, from, len, flags)`.
    #[inline(never)]
    pub(super) fn skb_store_bytes(
        &mut self,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        let (offset, from, len, flags) = (a[1] as u32 as usize, a[2], a[3] as u32 as usize, a[4]);
        if flags & !(F_RECOMPUTE_CSUM | F_INVALIDATE_HASH) != 0 {
            return Ok(neg(EINVAL));
        }
        if offset > i32::MAX as usize {
            return Ok(neg(EFAULT));
        }
        let bytes = ctx.read_arg_vec(from, len)?;
        let pkt = self.skb_bytes()?;
        match pkt.get_mut(offset..offset + len) {
            Some(dst) => {
                dst.copy_from_slice(&bytes);
                Ok(HelperReturn::Value(0))
            }
            None => Ok(neg(EFAULT)),
        }
    }

    /// The 16-bit checksum field at `offset` of the skb, or the helper's error.
    fn csum_field(&mut self, offset: u64) -> Result<Result<&mut [u8], HelperReturn>, HelperError> {
        if offset > 0xffff || offset & 1 != 0 {
            return Ok(Err(neg(EFAULT)));
        }
        let offset = offset as usize;
        let pkt = self.skb_bytes()?;
        Ok(pkt.get_mut(offset..offset + 2).ok_or(neg(EFAULT)))
    }

    /// `bpf_l3_csum_replace(skb, offset, from, to, flags)`.
    #[inline(never)]
    pub(super) fn l3_csum_replace(&mut self, a: [u64; 5]) -> Result<HelperReturn, HelperError> {
        let (from, to, flags) = (a[2], a[3], a[4]);
        if flags & !F_HDR_FIELD_MASK != 0 {
            return Ok(neg(EINVAL));
        }
        let field = match self.csum_field(a[1])? {
            Ok(f) => f,
            Err(r) => return Ok(r),
        };
        let sum = u16::from_ne_bytes([field[0], field[1]]);
        let new = match flags & F_HDR_FIELD_MASK {
            0 if from != 0 => return Ok(neg(EINVAL)),
            0 => csum_fold(csum_add(to as u32, !(sum as u32))),
            2 => !csum16_add(csum16_add(!sum, !(from as u16)), to as u16),
            4 => csum_fold(csum_add(csum_sub(!(sum as u32), from as u32), to as u32)),
            _ => return Ok(neg(EINVAL)),
        };
        field.copy_from_slice(&new.to_ne_bytes());
        Ok(HelperReturn::Value(0))
    }

    /// `bpf_l4_csum_replace(skb, offset, from, to, flags)` on an skb without checksum offload.
    #[inline(never)]
    pub(super) fn l4_csum_replace(&mut self, a: [u64; 5]) -> Result<HelperReturn, HelperError> {
        let (from, to, flags) = (a[2], a[3], a[4]);
        let known = F_MARK_MANGLED_0 | F_MARK_ENFORCE | F_PSEUDO_HDR | F_HDR_FIELD_MASK | F_IPV6;
        if flags & !known != 0 {
            return Ok(neg(EINVAL));
        }
        let mangled0 = flags & F_MARK_MANGLED_0 != 0;
        let field = match self.csum_field(a[1])? {
            Ok(f) => f,
            Err(r) => return Ok(r),
        };
        let sum = u16::from_ne_bytes([field[0], field[1]]);
        if mangled0 && flags & F_MARK_ENFORCE == 0 && sum == 0 {
            return Ok(HelperReturn::Value(0));
        }
        let replace4 = |from: u32, to: u32| {
            let mut diff = [0u8; 8];
            diff[..4].copy_from_slice(&(!from).to_ne_bytes());
            diff[4..].copy_from_slice(&to.to_ne_bytes());
            csum_fold(csum_partial(&diff, !(sum as u32)))
        };
        let mut new = match flags & F_HDR_FIELD_MASK {
            0 if from != 0 => return Ok(neg(EINVAL)),
            0 => csum_fold(csum_add(to as u32, !(sum as u32))),
            2 => replace4(from as u16 as u32, to as u16 as u32),
            4 => replace4(from as u32, to as u32),
            _ => return Ok(neg(EINVAL)),
        };
        if mangled0 && new == 0 {
            new = CSUM_MANGLED_0;
        }
        field.copy_from_slice(&new.to_ne_bytes());
        Ok(HelperReturn::Value(0))
    }

    fn xdp_only(&self) -> Result<(), HelperError> {
        if self.packet.hook != Hook::Xdp {
            return Err(HelperError::Failed(
                "XDP helper called by a non-XDP program".into(),
            ));
        }
        Ok(())
    }

    /// `bpf_xdp_adjust_head(xdp, offset)`: moves `data` (and the metadata with it).
    #[inline(never)]
    pub(super) fn xdp_adjust_head(&mut self, a: [u64; 5]) -> Result<HelperReturn, HelperError> {
        self.xdp_only()?;
        let offset = a[1] as i32 as i64;
        let p = &*self.packet;
        let metalen = p.data - p.meta;
        let data = p.data as i64 + offset;
        let lowest = (p.hard_start + XDP_FRAME_STRUCT as u64 + metalen) as i64;
        if data < lowest || data > p.end as i64 - ETH_HLEN as i64 {
            return Ok(neg(EINVAL));
        }
        if metalen > 0 {
            let from = self.at(p.meta);
            let to = (from as i64 + offset) as usize;
            self.buf
                .bytes_mut()
                .copy_within(from..from + metalen as usize, to);
        }
        let p = &mut *self.packet;
        p.meta = (p.meta as i64 + offset) as u64;
        p.data = data as u64;
        p.sync_ctx(self.buf);
        Ok(HelperReturn::Value(0))
    }

    /// `bpf_xdp_adjust_meta(xdp, offset)`: moves `data_meta`.
    #[inline(never)]
    pub(super) fn xdp_adjust_meta(&mut self, a: [u64; 5]) -> Result<HelperReturn, HelperError> {
        self.xdp_only()?;
        let offset = a[1] as i32 as i64;
        let p = &mut *self.packet;
        let meta = p.meta as i64 + offset;
        if meta < (p.hard_start + XDP_FRAME_STRUCT as u64) as i64 || meta > p.data as i64 {
            return Ok(neg(EINVAL));
        }
        let metalen = p.data as i64 - meta;
        if metalen % 4 != 0 || metalen > XDP_MAX_META as i64 {
            return Ok(neg(EACCES));
        }
        p.meta = meta as u64;
        p.sync_ctx(self.buf);
        Ok(HelperReturn::Value(0))
    }

    /// `bpf_xdp_adjust_tail(xdp, offset)`: moves `data_end`, zeroing grown bytes.
    #[inline(never)]
    pub(super) fn xdp_adjust_tail(&mut self, a: [u64; 5]) -> Result<HelperReturn, HelperError> {
        self.xdp_only()?;
        let offset = a[1] as i32 as i64;
        if !self.packet.frags.is_empty() {
            return Ok(self.frags_adjust_tail(offset));
        }
        let p = &*self.packet;
        let end = p.end as i64 + offset;
        if end > p.hard_end as i64 || end < (p.data + ETH_HLEN as u64) as i64 {
            return Ok(neg(EINVAL));
        }
        if offset > 0 {
            let from = self.at(p.end);
            self.buf.bytes_mut()[from..from + offset as usize].fill(0);
        }
        let p = &mut *self.packet;
        p.end = end as u64;
        p.sync_ctx(self.buf);
        Ok(HelperReturn::Value(0))
    }
}

impl RunHelpers<'_> {
    /// `bpf_xdp_adjust_tail` on a packet with fragments: grows the last fragment within its
    /// page, or shrinks fragments from the end (dropping emptied ones, then the linear part).
    fn frags_adjust_tail(&mut self, offset: i64) -> HelperReturn {
        let p = &mut *self.packet;
        if offset >= 0 {
            let last = p.frags.last_mut().expect("fragments");
            if offset as usize > 4096 - last.len() {
                return neg(EINVAL);
            }
            last.resize(last.len() + offset as usize, 0);
            return HelperReturn::Value(0);
        }
        let mut shrink = -offset;
        let total = (p.end - p.data) as i64 + p.frags.iter().map(|f| f.len() as i64).sum::<i64>();
        if shrink > total - ETH_HLEN as i64 {
            return neg(EINVAL);
        }
        while shrink > 0 {
            let Some(last) = p.frags.last_mut() else {
                break;
            };
            let n = shrink.min(last.len() as i64);
            shrink -= n;
            if n == last.len() as i64 {
                p.frags.pop();
            } else {
                last.truncate(last.len() - n as usize);
                break;
            }
        }
        if p.frags.is_empty() {
            p.end -= shrink as u64;
            p.sync_ctx(self.buf);
        }
        HelperReturn::Value(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 over the 20-byte IPv4 header of the project README (checksum 0x3ccf).
    #[test]
    fn fold_of_partial_is_the_internet_checksum() {
        let hdr = [
            0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x7f, 0x00,
            0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
        ];
        let c = csum_fold(csum_partial(&hdr, 0));
        assert_eq!(u16::from_be_bytes(c.to_ne_bytes()), 0x3ccf);
    }

    #[test]
    fn diff_of_equal_data_is_all_ones_and_empty_is_seed() {
        let x = [1u8, 2, 3, 4];
        assert_eq!(
            csum_from32to16(csum_sub(csum_partial(&x, 0), csum_partial(&x, 0))),
            0xffff
        );
        assert_eq!(csum_from32to16(csum_partial(&[0; 8], 0)), 0);
    }
}
