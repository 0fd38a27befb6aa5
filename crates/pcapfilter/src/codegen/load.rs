//! Loads relative to protocol headers, and the comparison blocks built on them.

use super::{Codegen, Gen, Off};
use crate::cfg::{BlockId, StmtId};
use bpfkit_cbpf::op;

/// What an offset is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OffRel {
    /// Start of the (current) link-layer header.
    LinkHdr,
    /// Start of the 802.2 LLC header (= link-layer payload).
    Llc,
    /// The previous MPLS label (4 bytes before the network layer).
    PrevMplsHdr,
    /// The link-layer type field.
    LinkType,
    /// The network-layer header.
    LinkPl,
    /// The network-layer header of 802.2 frames without SNAP.
    LinkPlNoSnap,
    /// The transport header after an IPv4 header (length read from it).
    TranIpv4,
    /// The transport header after a fixed 40-byte IPv6 header.
    TranIpv6,
}

/// `BPF_JMP|cond|BPF_K`.
pub(crate) const fn jmp(cond: u16) -> u16 {
    op::JMP | cond | op::K
}

impl Codegen<'_> {
    /// Loads the variable part of a header offset into X, if it has one.
    pub fn abs_offset_varpart(&mut self, which: Off) -> Gen<Option<StmtId>> {
        let off = self.off(which);
        if !off.is_variable {
            return Ok(None);
        }
        let reg = match off.reg {
            Some(r) => r,
            None => {
                let r = self.alloc_reg()?;
                self.off_mut(which).reg = Some(r);
                r
            }
        };
        Ok(Some(self.cfg.stmt(op::LDX | op::MEM, reg)))
    }

    /// Loads `size` bytes at `offset` from the header at `which`.
    fn load_absoffsetrel(&mut self, which: Off, offset: u32, size: u16) -> Gen<StmtId> {
        let k = self.off(which).constant_part.wrapping_add(offset);
        Ok(match self.abs_offset_varpart(which)? {
            Some(s) => {
                let s2 = self.cfg.stmt(op::LD | op::IND | size, k);
                self.cfg.append(s, Some(s2));
                s
            }
            None => self.cfg.stmt(op::LD | op::ABS | size, k),
        })
    }

    /// libpcap's `gen_load_a`: statements leaving the field in A.
    pub fn load_a(&mut self, rel: OffRel, offset: u32, size: u16) -> Gen<StmtId> {
        let nl = self.off_nl;
        match rel {
            OffRel::LinkHdr => self.load_absoffsetrel(Off::Header, offset, size),
            OffRel::Llc => self.load_absoffsetrel(Off::Payload, offset, size),
            OffRel::PrevMplsHdr => {
                self.load_absoffsetrel(Off::Payload, nl.wrapping_sub(4).wrapping_add(offset), size)
            }
            OffRel::LinkPl => self.load_absoffsetrel(Off::Payload, nl.wrapping_add(offset), size),
            OffRel::LinkPlNoSnap => {
                let k = self.off_nl_nosnap.wrapping_add(offset);
                self.load_absoffsetrel(Off::Payload, k, size)
            }
            OffRel::LinkType => self.load_absoffsetrel(Off::TypeField, offset, size),
            OffRel::TranIpv4 => {
                let s = self.loadx_iphdrlen()?;
                let k = self
                    .off_linkpl
                    .constant_part
                    .wrapping_add(nl)
                    .wrapping_add(offset);
                let s2 = self.cfg.stmt(op::LD | op::IND | size, k);
                self.cfg.append(s, Some(s2));
                Ok(s)
            }
            OffRel::TranIpv6 => {
                self.load_absoffsetrel(Off::Payload, nl.wrapping_add(40).wrapping_add(offset), size)
            }
        }
    }

    /// X := offset of the transport header after an IPv4 header.
    pub fn loadx_iphdrlen(&mut self) -> Gen<StmtId> {
        let k = self.off_linkpl.constant_part.wrapping_add(self.off_nl);
        Ok(match self.abs_offset_varpart(Off::Payload)? {
            Some(s) => {
                let tail = [
                    (op::LD | op::IND | op::B, k),
                    (op::ALU | op::AND | op::K, 0xf),
                    (op::ALU | op::LSH | op::K, 2),
                    (op::ALU | op::ADD | op::X, 0),
                    (op::MISC | op::TAX, 0),
                ];
                for (code, k) in tail {
                    let s2 = self.cfg.stmt(code, k);
                    self.cfg.append(s, Some(s2));
                }
                s
            }
            None => self.cfg.stmt(op::LDX | op::MSH | op::B, k),
        })
    }

    /// libpcap's `gen_ncmp`: `(field & mask) cond v`, negated for `reverse`
    /// `>`/`>=` (giving `<=`/`<`).
    #[allow(clippy::too_many_arguments)]
    pub fn ncmp(
        &mut self,
        rel: OffRel,
        offset: u32,
        size: u16,
        mask: u32,
        cond: u16,
        reverse: bool,
        v: u32,
    ) -> Gen<BlockId> {
        let s = self.load_a(rel, offset, size)?;
        if mask != 0xffff_ffff {
            let s2 = self.cfg.stmt(op::ALU | op::AND | op::K, mask);
            self.cfg.append(s, Some(s2));
        }
        let b = self.cfg.block_with(jmp(cond), v, s);
        if reverse && (cond == op::JGT || cond == op::JGE) {
            self.cfg.not(b);
        }
        Ok(b)
    }

    /// `field == v`.
    pub fn cmp(&mut self, rel: OffRel, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, 0xffff_ffff, op::JEQ, false, v)
    }

    /// `field > v`.
    pub fn cmp_gt(&mut self, rel: OffRel, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, 0xffff_ffff, op::JGT, false, v)
    }

    /// `field >= v`.
    pub fn cmp_ge(&mut self, rel: OffRel, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, 0xffff_ffff, op::JGE, false, v)
    }

    /// `field < v`.
    pub fn cmp_lt(&mut self, rel: OffRel, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, 0xffff_ffff, op::JGE, true, v)
    }

    /// `field <= v`.
    pub fn cmp_le(&mut self, rel: OffRel, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, 0xffff_ffff, op::JGT, true, v)
    }

    /// `(field & mask) == v`.
    pub fn mcmp(&mut self, rel: OffRel, offset: u32, size: u16, v: u32, mask: u32) -> Gen<BlockId> {
        self.ncmp(rel, offset, size, mask, op::JEQ, false, v)
    }

    /// The bytes at `offset` equal `bytes`, compared as words, then
    /// halfwords, then a byte, from the end backwards.
    pub fn bcmp(&mut self, rel: OffRel, offset: u32, bytes: &[u8]) -> Gen<BlockId> {
        let mut size = bytes.len();
        let mut acc: Option<BlockId> = None;
        let mut chain = |g: &mut Self, b: BlockId| {
            if let Some(prev) = acc {
                g.cfg.and(prev, b);
            }
            acc = Some(b);
        };
        while size >= 4 {
            let p = &bytes[size - 4..size];
            let v = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
            let b = self.cmp(rel, offset + size as u32 - 4, op::W, v)?;
            chain(self, b);
            size -= 4;
        }
        while size >= 2 {
            let p = &bytes[size - 2..size];
            let v = u32::from(u16::from_be_bytes([p[0], p[1]]));
            let b = self.cmp(rel, offset + size as u32 - 2, op::H, v)?;
            chain(self, b);
            size -= 2;
        }
        if size > 0 {
            let b = self.cmp(rel, offset, op::B, u32::from(bytes[0]))?;
            chain(self, b);
        }
        acc.ok_or_else(|| self.err("comparison with an empty byte string"))
    }

    /// A test that is always true (`rsense`) or always false.
    pub fn uncond(&mut self, rsense: bool) -> BlockId {
        let s = self.cfg.stmt(op::LD | op::IMM, u32::from(!rsense));
        self.cfg.block_with(jmp(op::JEQ), 0, s)
    }

    pub fn gen_true(&mut self) -> BlockId {
        self.uncond(true)
    }

    pub fn gen_false(&mut self) -> BlockId {
        self.uncond(false)
    }
}
