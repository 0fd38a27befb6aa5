//! IEEE 802.11: MAC-address tests, frame-type tests, and the run-time
//! computation of header lengths (radiotap, 802.11, pflog) that is
//! prepended to the program when any test needed them.

use super::consts::*;
use super::load::{jmp, OffRel};
use super::{Codegen, Gen};
use crate::cfg::{BlockId, StmtId};
use crate::linktype::LinkType;
use crate::qual::Dir;
use bpfkit_cbpf::op;

impl Codegen<'_> {
    /// `jset #k` on the 802.11 frame-control byte at `offset`.
    fn fc_jset(&mut self, offset: u32, k: u32) -> Gen<BlockId> {
        let s = self.load_a(OffRel::LinkHdr, offset, op::B)?;
        Ok(self.cfg.block_with(jmp(op::JSET), k, s))
    }

    /// `!jset #k` on the frame-control byte at `offset`.
    fn fc_not_jset(&mut self, offset: u32, k: u32) -> Gen<BlockId> {
        let b = self.fc_jset(offset, k)?;
        self.cfg.not(b);
        Ok(b)
    }

    /// A data frame (type bits `10`).
    pub(super) fn check_802_11_data_frame(&mut self) -> Gen<BlockId> {
        let b0 = self.fc_jset(0, 0x08)?;
        let b1 = self.fc_not_jset(0, 0x04)?;
        self.cfg.and(b1, b0);
        Ok(b0)
    }

    /// Not a CTS or ACK control frame (which lack a second address).
    fn has_transmitter(&mut self) -> Gen<BlockId> {
        let b0 = self.mcmp(
            OffRel::LinkHdr,
            0,
            op::B,
            WLAN_FC0_TYPE_CTL,
            WLAN_FC0_TYPE_MASK,
        )?;
        self.cfg.not(b0);
        let b1 = self.mcmp(
            OffRel::LinkHdr,
            0,
            op::B,
            WLAN_FC0_SUBTYPE_CTS,
            WLAN_FC0_SUBTYPE_MASK,
        )?;
        self.cfg.not(b1);
        let b2 = self.mcmp(
            OffRel::LinkHdr,
            0,
            op::B,
            WLAN_FC0_SUBTYPE_ACK,
            WLAN_FC0_SUBTYPE_MASK,
        )?;
        self.cfg.not(b2);
        self.cfg.and(b1, b2);
        self.cfg.or(b0, b2);
        Ok(b2)
    }

    /// An 802.11 MAC-address test; which of the up to four address fields
    /// holds the source or destination depends on the DS bits.
    pub fn wlanhostop(&mut self, eaddr: &[u8; 6], dir: Dir) -> Gen<BlockId> {
        match dir {
            Dir::Src | Dir::Dst => {
                let src = dir == Dir::Src;
                // With both DS bits set the source is address 4 and the
                // destination address 3; with only ToDS the destination
                // is address 3.
                let b1 = self.fc_jset(1, 0x01)?;
                let b0 = self.bcmp(OffRel::LinkHdr, if src { 24 } else { 16 }, eaddr)?;
                self.cfg.and(b1, b0);
                let b2 = self.fc_not_jset(1, 0x01)?;
                let b1 = self.bcmp(OffRel::LinkHdr, if src { 16 } else { 4 }, eaddr)?;
                self.cfg.and(b2, b1);
                self.cfg.or(b1, b0);
                if src {
                    // FromDS only: the source is address 3, otherwise address 2.
                    let b1 = self.fc_jset(1, 0x02)?;
                    self.cfg.and(b1, b0);
                    let b2 = self.fc_not_jset(1, 0x02)?;
                    let b1 = self.bcmp(OffRel::LinkHdr, 10, eaddr)?;
                    self.cfg.and(b2, b1);
                    self.cfg.or(b1, b0);
                }
                // The DS logic applies to data frames; other frames use
                // address 2 (source) / address 1 (destination).
                let b1 = self.fc_jset(0, 0x08)?;
                self.cfg.and(b1, b0);
                let b2 = self.fc_not_jset(0, 0x08)?;
                let b1 = self.bcmp(OffRel::LinkHdr, if src { 10 } else { 4 }, eaddr)?;
                self.cfg.and(b2, b1);
                self.cfg.or(b1, b0);
                // Control frames are excluded.
                let b1 = self.fc_not_jset(0, 0x04)?;
                self.cfg.and(b1, b0);
                Ok(b0)
            }
            Dir::And | Dir::Default | Dir::Or => {
                let b0 = self.wlanhostop(eaddr, Dir::Src)?;
                let b1 = self.wlanhostop(eaddr, Dir::Dst)?;
                if dir == Dir::And {
                    self.cfg.and(b0, b1);
                } else {
                    self.cfg.or(b0, b1);
                }
                Ok(b1)
            }
            Dir::Addr1 => self.bcmp(OffRel::LinkHdr, 4, eaddr),
            Dir::Addr2 => {
                let b2 = self.has_transmitter()?;
                let b1 = self.bcmp(OffRel::LinkHdr, 10, eaddr)?;
                self.cfg.and(b2, b1);
                Ok(b1)
            }
            Dir::Addr3 => {
                let b0 = self.mcmp(
                    OffRel::LinkHdr,
                    0,
                    op::B,
                    WLAN_FC0_TYPE_CTL,
                    WLAN_FC0_TYPE_MASK,
                )?;
                self.cfg.not(b0);
                let b1 = self.bcmp(OffRel::LinkHdr, 16, eaddr)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            Dir::Addr4 => {
                let b0 = self.mcmp(
                    OffRel::LinkHdr,
                    1,
                    op::B,
                    WLAN_FC1_DIR_DSTODS,
                    WLAN_FC1_DIR_MASK,
                )?;
                let b1 = self.bcmp(OffRel::LinkHdr, 24, eaddr)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            Dir::Ra => {
                let b1 = self.fc_jset(0, 0x08)?;
                let b0 = self.bcmp(OffRel::LinkHdr, 4, eaddr)?;
                self.cfg.and(b1, b0);
                Ok(b0)
            }
            Dir::Ta => {
                let b2 = self.has_transmitter()?;
                let b1 = self.fc_jset(0, 0x08)?;
                self.cfg.and(b1, b2);
                let b1 = self.bcmp(OffRel::LinkHdr, 10, eaddr)?;
                self.cfg.and(b2, b1);
                Ok(b1)
            }
            Dir::Undef => Err(self.err("syntax error in filter expression")),
        }
    }

    /// 802.11 `type`/`subtype`: frame-control byte 0 under `mask`.
    pub fn gen_p80211_type(&mut self, value: u32, mask: u32) -> Gen<BlockId> {
        if !self.is_80211() {
            return Err(self.err("802.11 link-layer types supported only on 802.11"));
        }
        self.mcmp(OffRel::LinkHdr, 0, op::B, value, mask)
    }

    /// 802.11 `dir`: the DS bits of frame-control byte 1.
    pub fn gen_p80211_fcdir(&mut self, dir: u32) -> Gen<BlockId> {
        if !self.is_80211() {
            return Err(self.err("frame direction supported only with 802.11 headers"));
        }
        self.mcmp(OffRel::LinkHdr, 1, op::B, dir, WLAN_FC1_DIR_MASK)
    }

    fn is_80211(&self) -> bool {
        matches!(
            LinkType(self.linktype),
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO
        )
    }

    /// Prepends to the entry block the code that computes variable header
    /// lengths into their scratch registers, if any test used them.
    pub(super) fn insert_compute_vloffsets(&mut self, entry: BlockId) -> Gen<()> {
        if self.off_linkpl.reg.is_some()
            && self.off_linkhdr.is_variable
            && self.off_linkhdr.reg.is_none()
        {
            self.off_linkhdr.reg = Some(self.alloc_reg()?);
        }
        let entry_stmts = self.cfg.b(entry).stmts;
        let mut s = match LinkType(self.outermostlinktype) {
            // PPI's length field is where radiotap's is.
            LinkType::IEEE802_11_RADIO | LinkType::PPI => self.radiotap_prefix_len(),
            _ => None,
        };
        match LinkType(self.outermostlinktype) {
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                s = self.wlan_header_len(s, entry_stmts);
            }
            LinkType::PFLOG => s = self.pflog_prefix_len(),
            _ => {}
        }
        if let Some(s) = s {
            self.cfg.append(s, entry_stmts);
            self.cfg.b_mut(entry).stmts = Some(s);
        }
        Ok(())
    }

    /// Radiotap (or PPI) length (little-endian at bytes 2..4) into the
    /// link-header register and X.
    fn radiotap_prefix_len(&mut self) -> Option<StmtId> {
        let reg = self.off_linkhdr.reg?;
        let s = self.cfg.stmt(op::LD | op::B | op::ABS, 3);
        self.push(s, op::ALU | op::LSH | op::K, 8);
        self.push(s, op::MISC | op::TAX, 0);
        self.push(s, op::LD | op::B | op::ABS, 2);
        self.push(s, op::ALU | op::OR | op::X, 0);
        self.push(s, op::ST, reg);
        self.push(s, op::MISC | op::TAX, 0);
        Some(s)
    }

    /// pflog header length (first byte, rounded up to 4) into the payload
    /// register and X.
    fn pflog_prefix_len(&mut self) -> Option<StmtId> {
        let reg = self.off_linkpl.reg?;
        let s = self.cfg.stmt(op::LD | op::B | op::ABS, 0);
        self.push(s, op::ALU | op::ADD | op::K, 3);
        self.push(s, op::ALU | op::AND | op::K, 0xffff_fffc);
        self.push(s, op::ST, reg);
        self.push(s, op::MISC | op::TAX, 0);
        Some(s)
    }

    /// 802.11 header length (24, +2 for QoS data frames, padded to 4 when
    /// radiotap says so) added to X into the payload register; `next` is
    /// where the branches rejoin (the entry block's own statements).
    fn wlan_header_len(&mut self, s: Option<StmtId>, next: Option<StmtId>) -> Option<StmtId> {
        let Some(reg) = self.off_linkpl.reg else {
            return s;
        };
        self.no_optimize = true;
        let s = s.unwrap_or_else(|| {
            self.cfg
                .stmt(op::LDX | op::IMM, self.off_outermostlinkhdr.constant_part)
        });
        self.push(s, op::MISC | op::TXA, 0);
        self.push(s, op::ALU | op::ADD | op::K, 24);
        self.push(s, op::ST, reg);
        self.push(s, op::LD | op::IND | op::B, 0);
        let data1 = self.push(s, jmp(op::JSET), 0x08);
        let data2 = self.push(s, jmp(op::JSET), 0x04);
        self.cfg.s_mut(data1).jt = Some(data2);
        self.cfg.s_mut(data1).jf = next;
        let qos = self.push(s, jmp(op::JSET), 0x80);
        self.cfg.s_mut(data2).jt = next;
        self.cfg.s_mut(data2).jf = Some(qos);
        let add_qos = self.push(s, op::LD | op::MEM, reg);
        self.cfg.s_mut(qos).jt = Some(add_qos);
        self.push(s, op::ALU | op::ADD | op::K, 2);
        self.push(s, op::ST, reg);
        if self.linktype != LinkType::IEEE802_11_RADIO.0 {
            self.cfg.s_mut(qos).jf = next;
            return Some(s);
        }
        let present = self.push(s, op::LD | op::ABS | op::W, 4);
        self.cfg.s_mut(qos).jf = Some(present);
        let flags = self.push(s, jmp(op::JSET), swap32(0x0000_0002));
        self.cfg.s_mut(flags).jf = next;
        let ext = self.push(s, jmp(op::JSET), swap32(0x8000_0000));
        self.cfg.s_mut(flags).jt = Some(ext);
        self.cfg.s_mut(ext).jt = next;
        let tsft = self.push(s, jmp(op::JSET), swap32(0x0000_0001));
        self.cfg.s_mut(ext).jf = Some(tsft);
        let flags_after_tsft = self.push(s, op::LD | op::ABS | op::B, 16);
        self.cfg.s_mut(tsft).jt = Some(flags_after_tsft);
        let pad_tsft = self.push(s, jmp(op::JSET), 0x20);
        let flags_no_tsft = self.push(s, op::LD | op::ABS | op::B, 8);
        self.cfg.s_mut(tsft).jf = Some(flags_no_tsft);
        let pad_no_tsft = self.push(s, jmp(op::JSET), 0x20);
        let roundup = self.push(s, op::LD | op::MEM, reg);
        self.push(s, op::ALU | op::ADD | op::K, 3);
        self.push(s, op::ALU | op::AND | op::K, !3);
        self.push(s, op::ST, reg);
        for j in [pad_tsft, pad_no_tsft] {
            self.cfg.s_mut(j).jt = Some(roundup);
            self.cfg.s_mut(j).jf = next;
        }
        Some(s)
    }
}
