//! Link-layer specifics: header offsets per link type, and tests for the
//! network protocol a frame carries (`gen_linktype`).

use super::consts::*;
use super::load::OffRel;
use super::{Codegen, Gen, OFFSET_NOT_SET};
use crate::cfg::BlockId;
use crate::error::CompileError;
use crate::linktype::LinkType;
use crate::PacketSource;
use bpfkit_cbpf::op;

impl Codegen<'_> {
    /// Sets the header offsets for the outermost link type.
    pub(super) fn init_linktype(&mut self) -> Gen<()> {
        // (link-type field, payload, network layer, network layer w/o SNAP)
        let (linktype_off, linkpl, nl, nosnap) = match LinkType(self.linktype) {
            LinkType::EN10MB => (12, 14, 0, 3),
            LinkType::NULL | LinkType::LOOP => (0, 4, 0, 0),
            LinkType::PPP | LinkType::C_HDLC => (2, 4, 0, 0),
            LinkType::FDDI => (13, 13, 8, 3),
            LinkType::IEEE802 => (14, 14, 8, 3),
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                self.off_linkhdr.is_variable = self.linktype != LinkType::IEEE802_11.0;
                // The payload offset depends on the 802.11 header, known at run time.
                self.off_linkpl.is_variable = true;
                (24, 0, 8, 3)
            }
            LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => (OFFSET_NOT_SET, 0, 0, 0),
            LinkType::LINUX_SLL => (14, 16, 0, 0),
            LinkType::LINUX_SLL2 => (0, 20, 0, 0),
            LinkType::PFLOG => {
                self.off_linkpl.is_variable = true;
                (0, 0, 0, 0)
            }
            other => {
                return Err(CompileError::LinkType {
                    linktype: other.0,
                    message: "no code generation for this link-layer type".into(),
                })
            }
        };
        self.off_linktype.constant_part = linktype_off;
        self.off_linkpl.constant_part = linkpl;
        self.off_nl = nl;
        self.off_nl_nosnap = nosnap;
        self.off_outermostlinkhdr = self.off_linkhdr;
        self.off_prevlinkhdr = self.off_linkhdr;
        Ok(())
    }

    /// A test that the frame carries `ll_proto` (an Ethernet type or an
    /// 802.2 SAP) on the current link layer.
    pub fn gen_linktype(&mut self, ll_proto: u32) -> Gen<BlockId> {
        if self.label_stack_depth > 0 {
            return self.mpls_linktype(ll_proto);
        }
        match LinkType(self.linktype) {
            LinkType::EN10MB => {
                let b0 = if self.is_geneve {
                    None
                } else {
                    self.prevlinkhdr_check()?
                };
                let b1 = self.ether_linktype(ll_proto)?;
                if let Some(b0) = b0 {
                    self.cfg.and(b0, b1);
                }
                Ok(b1)
            }
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                let b0 = self.check_802_11_data_frame()?;
                let b1 = self.llc_linktype(ll_proto)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            LinkType::FDDI | LinkType::IEEE802 => self.llc_linktype(ll_proto),
            LinkType::LINUX_SLL => self.linux_sll_linktype(ll_proto),
            LinkType::RAW => match ll_proto {
                ETHERTYPE_IP => self.mcmp(OffRel::LinkHdr, 0, op::B, 0x40, 0xf0),
                ETHERTYPE_IPV6 => self.mcmp(OffRel::LinkHdr, 0, op::B, 0x60, 0xf0),
                _ => Ok(self.gen_false()),
            },
            LinkType::IPV4 => Ok(self.uncond(ll_proto == ETHERTYPE_IP)),
            LinkType::IPV6 => Ok(self.uncond(ll_proto == ETHERTYPE_IPV6)),
            LinkType::PPP => self.cmp(OffRel::LinkType, 0, op::H, ethertype_to_ppptype(ll_proto)),
            LinkType::NULL | LinkType::LOOP => match ll_proto {
                ETHERTYPE_IP => self.loopback_linktype(AF_INET),
                ETHERTYPE_IPV6 if self.source != PacketSource::Live => {
                    // A file may come from any BSD; each picked its own AF_INET6.
                    let b0 = self.loopback_linktype(BSD_AFNUM_INET6_BSD)?;
                    let b1 = self.loopback_linktype(BSD_AFNUM_INET6_FREEBSD)?;
                    self.cfg.or(b0, b1);
                    let b0 = self.loopback_linktype(BSD_AFNUM_INET6_DARWIN)?;
                    self.cfg.or(b0, b1);
                    Ok(b1)
                }
                ETHERTYPE_IPV6 => self.loopback_linktype(AF_INET6),
                _ => Ok(self.gen_false()),
            },
            LinkType::C_HDLC => {
                // Cisco's Ethernet-type lookalike for OSI is 0xfefe.
                let v = if ll_proto == LLCSAP_ISONS {
                    (LLCSAP_ISONS << 8) | LLCSAP_ISONS
                } else {
                    ll_proto
                };
                self.cmp(OffRel::LinkType, 0, op::H, v)
            }
            LinkType::PFLOG => match ll_proto {
                ETHERTYPE_IP => self.cmp(OffRel::LinkHdr, PFLOG_AF, op::B, AF_INET),
                ETHERTYPE_IPV6 => self.cmp(OffRel::LinkHdr, PFLOG_AF, op::B, AF_INET6),
                _ => Ok(self.gen_false()),
            },
            _ => {
                if self.off_linktype.constant_part != OFFSET_NOT_SET {
                    self.cmp(OffRel::LinkType, 0, op::H, ll_proto)
                } else {
                    Err(self.err(format!(
                        "{} link-layer type filtering not implemented",
                        LinkType(self.linktype)
                    )))
                }
            }
        }
    }

    /// For a tunnelled link layer, a check on the enclosing one.
    pub fn prevlinkhdr_check(&mut self) -> Gen<Option<BlockId>> {
        if self.is_geneve {
            return self.geneve_ll_check().map(Some);
        }
        Ok(None)
    }

    /// The loopback address-family word, in the byte order of this host for
    /// `DLT_NULL` (or of the capture file that is being read), network order
    /// for `DLT_LOOP`.
    fn loopback_linktype(&mut self, af: u32) -> Gen<BlockId> {
        let v = if self.linktype == LinkType::NULL.0 {
            let swapped = self.source == PacketSource::Savefile { swapped: true };
            let af = if swapped { af.swap_bytes() } else { af };
            af.to_be()
        } else {
            af
        };
        self.cmp(OffRel::LinkHdr, 0, op::W, v)
    }

    fn ether_linktype(&mut self, ll_proto: u32) -> Gen<BlockId> {
        match ll_proto {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => {
                let b0 = self.cmp_gt(OffRel::LinkType, 0, op::H, ETHERMTU)?;
                self.cfg.not(b0);
                let b1 = self.cmp(OffRel::Llc, 0, op::H, (ll_proto << 8) | ll_proto)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            LLCSAP_IPX => {
                // Novell 802.3 (0xFFFF), 802.2 with the IPX SAP, or SNAP.
                let b0 = self.cmp(OffRel::Llc, 0, op::B, LLCSAP_IPX)?;
                let b1 = self.cmp(OffRel::Llc, 0, op::H, 0xffff)?;
                self.cfg.or(b0, b1);
                let b0 = self.snap(0x000000, ETHERTYPE_IPX)?;
                self.cfg.or(b0, b1);
                let b0 = self.cmp_gt(OffRel::LinkType, 0, op::H, ETHERMTU)?;
                self.cfg.not(b0);
                self.cfg.and(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, ETHERTYPE_IPX)?;
                self.cfg.or(b0, b1);
                Ok(b1)
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let b0 = self.cmp_gt(OffRel::LinkType, 0, op::H, ETHERMTU)?;
                self.cfg.not(b0);
                let b1 = if ll_proto == ETHERTYPE_ATALK {
                    self.snap(0x080007, ETHERTYPE_ATALK)?
                } else {
                    self.snap(0x000000, ETHERTYPE_AARP)?
                };
                self.cfg.and(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, ll_proto)?;
                self.cfg.or(b0, b1);
                Ok(b1)
            }
            _ if ll_proto <= ETHERMTU => {
                // An 802.2 SAP: 802.3 frame whose DSAP matches.
                let b0 = self.cmp_gt(OffRel::LinkType, 0, op::H, ETHERMTU)?;
                self.cfg.not(b0);
                let b1 = self.cmp(OffRel::LinkType, 2, op::B, ll_proto)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            _ => self.cmp(OffRel::LinkType, 0, op::H, ll_proto),
        }
    }

    fn linux_sll_linktype(&mut self, ll_proto: u32) -> Gen<BlockId> {
        match ll_proto {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => {
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, LINUX_SLL_P_802_2)?;
                let b1 = self.cmp(OffRel::Llc, 0, op::H, (ll_proto << 8) | ll_proto)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            LLCSAP_IPX => {
                let b0 = self.cmp(OffRel::Llc, 0, op::B, LLCSAP_IPX)?;
                let b1 = self.snap(0x000000, ETHERTYPE_IPX)?;
                self.cfg.or(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, LINUX_SLL_P_802_2)?;
                self.cfg.and(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, LINUX_SLL_P_802_3)?;
                self.cfg.or(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, ETHERTYPE_IPX)?;
                self.cfg.or(b0, b1);
                Ok(b1)
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, LINUX_SLL_P_802_2)?;
                let b1 = if ll_proto == ETHERTYPE_ATALK {
                    self.snap(0x080007, ETHERTYPE_ATALK)?
                } else {
                    self.snap(0x000000, ETHERTYPE_AARP)?
                };
                self.cfg.and(b0, b1);
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, ll_proto)?;
                self.cfg.or(b0, b1);
                Ok(b1)
            }
            _ if ll_proto <= ETHERMTU => {
                let b0 = self.cmp(OffRel::LinkType, 0, op::H, LINUX_SLL_P_802_2)?;
                let at = self.off_linkpl.constant_part;
                let b1 = self.cmp(OffRel::LinkHdr, at, op::B, ll_proto)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            _ => self.cmp(OffRel::LinkType, 0, op::H, ll_proto),
        }
    }

    /// Protocol test for link types whose payload always starts with 802.2.
    pub(super) fn llc_linktype(&mut self, ll_proto: u32) -> Gen<BlockId> {
        match ll_proto {
            LLCSAP_IP | LLCSAP_ISONS | LLCSAP_NETBEUI => {
                self.cmp(OffRel::Llc, 0, op::H, (ll_proto << 8) | ll_proto)
            }
            LLCSAP_IPX => self.cmp(OffRel::Llc, 0, op::B, LLCSAP_IPX),
            ETHERTYPE_ATALK => self.snap(0x080007, ETHERTYPE_ATALK),
            _ if ll_proto <= ETHERMTU => self.cmp(OffRel::Llc, 0, op::B, ll_proto),
            // An Ethernet type inside a SNAP header.
            _ => self.cmp(OffRel::Llc, 6, op::H, ll_proto),
        }
    }

    /// An 802.2 SNAP header with this organization code and protocol type.
    pub(super) fn snap(&mut self, orgcode: u32, ptype: u32) -> Gen<BlockId> {
        let header = [
            LLCSAP_SNAP,
            LLCSAP_SNAP,
            0x03,
            (orgcode >> 16) as u8,
            (orgcode >> 8) as u8,
            orgcode as u8,
            (ptype >> 8) as u8,
            ptype as u8,
        ];
        self.bcmp(OffRel::Llc, 0, &header)
    }

    /// Protocol test inside an MPLS label stack (guessing from the version nibble).
    fn mpls_linktype(&mut self, ll_proto: u32) -> Gen<BlockId> {
        let version = match ll_proto {
            ETHERTYPE_IP => 0x40,
            ETHERTYPE_IPV6 => 0x60,
            _ => return Err(self.err("unsupported protocol over mpls")),
        };
        // Bottom-of-stack bit of the last label.
        let b0 = self.mcmp(OffRel::LinkPl, (-2i32) as u32, op::B, 0x01, 0x01)?;
        let b1 = self.mcmp(OffRel::LinkPl, 0, op::B, version, 0xf0)?;
        self.cfg.and(b0, b1);
        Ok(b1)
    }
}

/// The PPP protocol number for an Ethernet type or SAP (unchanged if none).
fn ethertype_to_ppptype(ll_proto: u32) -> u32 {
    match ll_proto {
        ETHERTYPE_IP => PPP_IP,
        ETHERTYPE_IPV6 => PPP_IPV6,
        ETHERTYPE_DN => PPP_DECNET,
        ETHERTYPE_ATALK => PPP_APPLE,
        ETHERTYPE_NS => PPP_NS,
        LLCSAP_ISONS => PPP_OSI,
        LLCSAP_8021D => PPP_BRPDU,
        LLCSAP_IPX => PPP_IPX,
        other => other,
    }
}
