//! Keyword primitives: lengths, `byte`, broadcast/multicast, packet
//! direction, interface index, 802.2 LLC, and pflog fields.

use super::consts::*;
use super::load::{jmp, OffRel};
use super::{Codegen, Gen};
use crate::ast::LlcKind;
use crate::cfg::BlockId;
use crate::linktype::LinkType;
use crate::qual::{Dir, Proto};
use bpfkit_cbpf::op;

const BROADCAST_MAC: [u8; 6] = [0xff; 6];

impl Codegen<'_> {
    /// `len cond n` (for `less`/`greater`).
    pub fn gen_len(&mut self, cond: u16, n: u32) -> BlockId {
        let s = self.cfg.stmt(op::LD | op::LEN, 0);
        self.cfg.block_with(jmp(cond), n, s)
    }

    /// `byte idx op value` on the link-layer header.
    pub fn gen_byteop(&mut self, operator: u8, idx: u32, value: u32) -> Gen<BlockId> {
        let alu = match operator {
            b'=' => return self.cmp(OffRel::LinkHdr, idx, op::B, value),
            b'<' => return self.cmp_lt(OffRel::LinkHdr, idx, op::B, value),
            b'>' => return self.cmp_gt(OffRel::LinkHdr, idx, op::B, value),
            b'|' => op::OR,
            _ => op::AND,
        };
        // As in libpcap, `&` and `|` apply to whatever A holds (no load).
        let s = self.cfg.stmt(op::ALU | alu | op::K, value);
        let b = self.cfg.block_with(jmp(op::JEQ), 0, s);
        self.cfg.not(b);
        Ok(b)
    }

    /// `[proto] broadcast`.
    pub fn gen_broadcast(&mut self, proto: Proto) -> Gen<BlockId> {
        match proto {
            Proto::Default | Proto::Link => match LinkType(self.linktype) {
                LinkType::EN10MB
                | LinkType::FDDI
                | LinkType::IEEE802
                | LinkType::IEEE802_11
                | LinkType::IEEE802_11_RADIO
                | LinkType::PPI => self.mac_host(&BROADCAST_MAC, Dir::Dst, ""),
                _ => Err(self.err("not a broadcast link")),
            },
            Proto::Ip => {
                if self.netmask == crate::NETMASK_UNKNOWN {
                    return Err(self.err("netmask not known, so 'ip broadcast' not supported"));
                }
                let b0 = self.gen_linktype(ETHERTYPE_IP)?;
                let hostmask = !self.netmask;
                let b1 = self.mcmp(OffRel::LinkPl, 16, op::W, 0, hostmask)?;
                let b2 = self.mcmp(OffRel::LinkPl, 16, op::W, hostmask, hostmask)?;
                self.cfg.or(b1, b2);
                self.cfg.and(b0, b2);
                Ok(b2)
            }
            _ => Err(self.err("only link-layer/IP broadcast filters supported")),
        }
    }

    /// The group bit of the MAC address at `offset`.
    fn mac_multicast(&mut self, offset: u32) -> Gen<BlockId> {
        let s = self.load_a(OffRel::LinkHdr, offset, op::B)?;
        Ok(self.cfg.block_with(jmp(op::JSET), 1, s))
    }

    /// `jset #k` (negated when `negate`) on 802.11 frame-control byte `offset`.
    fn fc_test(&mut self, offset: u32, k: u32, negate: bool) -> Gen<BlockId> {
        let s = self.load_a(OffRel::LinkHdr, offset, op::B)?;
        let b = self.cfg.block_with(jmp(op::JSET), k, s);
        if negate {
            self.cfg.not(b);
        }
        Ok(b)
    }

    /// `[proto] multicast`.
    pub fn gen_multicast(&mut self, proto: Proto) -> Gen<BlockId> {
        match proto {
            Proto::Default | Proto::Link => match LinkType(self.linktype) {
                LinkType::EN10MB => {
                    let b1 = self.prevlinkhdr_check()?;
                    let b0 = self.mac_multicast(0)?;
                    if let Some(b1) = b1 {
                        self.cfg.and(b1, b0);
                    }
                    return Ok(b0);
                }
                LinkType::FDDI => return self.mac_multicast(1),
                LinkType::IEEE802 => return self.mac_multicast(2),
                LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                    // Destination is address 3 with ToDS, else address 1;
                    // data frames only use the DS logic; no control frames.
                    let b1 = self.fc_test(1, 0x01, false)?;
                    let b0 = self.mac_multicast(16)?;
                    self.cfg.and(b1, b0);
                    let b2 = self.fc_test(1, 0x01, true)?;
                    let b1 = self.mac_multicast(4)?;
                    self.cfg.and(b2, b1);
                    self.cfg.or(b1, b0);
                    let b1 = self.fc_test(0, 0x08, false)?;
                    self.cfg.and(b1, b0);
                    let b2 = self.fc_test(0, 0x08, true)?;
                    let b1 = self.mac_multicast(4)?;
                    self.cfg.and(b2, b1);
                    self.cfg.or(b1, b0);
                    let b1 = self.fc_test(0, 0x04, true)?;
                    self.cfg.and(b1, b0);
                    return Ok(b0);
                }
                _ => {}
            },
            Proto::Ip => {
                let b0 = self.gen_linktype(ETHERTYPE_IP)?;
                let b1 = self.cmp_ge(OffRel::LinkPl, 16, op::B, 224)?;
                self.cfg.and(b0, b1);
                return Ok(b1);
            }
            Proto::Ipv6 => {
                let b0 = self.gen_linktype(ETHERTYPE_IPV6)?;
                let b1 = self.cmp(OffRel::LinkPl, 24, op::B, 255)?;
                self.cfg.and(b0, b1);
                return Ok(b1);
            }
            _ => {}
        }
        Err(self.err(
            "link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel",
        ))
    }

    /// `ifindex n` (Linux: from the SLL2 header or socket metadata).
    pub fn gen_ifindex(&mut self, index: u32) -> Gen<BlockId> {
        if self.linktype == LinkType::LINUX_SLL2.0 {
            return self.cmp(OffRel::LinkHdr, 4, op::W, index);
        }
        self.require_live("ifindex")?;
        self.cmp(
            OffRel::LinkHdr,
            SKF_AD_OFF.wrapping_add(SKF_AD_IFINDEX),
            op::W,
            index,
        )
    }

    /// `inbound` / `outbound`.
    pub fn gen_inbound(&mut self, outbound: bool) -> Gen<BlockId> {
        let (b, negate_if_inbound) = match LinkType(self.linktype) {
            LinkType::LINUX_SLL => (
                self.cmp(OffRel::LinkHdr, 0, op::H, LINUX_SLL_OUTGOING)?,
                true,
            ),
            LinkType::LINUX_SLL2 => (
                self.cmp(OffRel::LinkHdr, 10, op::B, LINUX_SLL_OUTGOING)?,
                true,
            ),
            LinkType::PFLOG => {
                let v = if outbound { PF_OUT } else { PF_IN };
                (self.cmp(OffRel::LinkHdr, PFLOG_DIR, op::B, v)?, false)
            }
            _ => {
                self.require_live("inbound/outbound")?;
                let at = SKF_AD_OFF.wrapping_add(SKF_AD_PKTTYPE);
                (self.cmp(OffRel::LinkHdr, at, op::H, PACKET_OUTGOING)?, true)
            }
        };
        if negate_if_inbound && !outbound {
            self.cfg.not(b);
        }
        Ok(b)
    }

    /// Socket metadata exists only for live captures (libpcap on Linux).
    fn require_live(&self, what: &str) -> Gen<()> {
        if self.source == crate::PacketSource::Live {
            return Ok(());
        }
        let lt = LinkType(self.linktype);
        let name = lt
            .description()
            .map_or_else(|| lt.to_string(), str::to_string);
        Err(self.err(format!(
            "{what} not supported on {name} when reading savefiles"
        )))
    }

    /// "This frame has an 802.2 LLC header".
    fn llc_present(&mut self) -> Gen<BlockId> {
        match LinkType(self.linktype) {
            LinkType::EN10MB => {
                // 802.3 length field, and not Novell raw 802.3 (0xFFFF).
                let b0 = self.cmp_gt(OffRel::LinkType, 0, op::H, ETHERMTU)?;
                self.cfg.not(b0);
                let b1 = self.cmp(OffRel::Llc, 0, op::H, 0xffff)?;
                self.cfg.not(b1);
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            LinkType::IEEE802 | LinkType::FDDI => Ok(self.gen_true()),
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                self.check_802_11_data_frame()
            }
            other => Err(self.err(format!("'llc' not supported for {other}"))),
        }
    }

    /// `llc [i|s|u|subtype]`.
    pub fn gen_llc_kind(&mut self, kind: LlcKind) -> Gen<BlockId> {
        let b0 = self.llc_present()?;
        let b1 = match kind {
            LlcKind::Any => return Ok(b0),
            LlcKind::I => {
                let s = self.load_a(OffRel::Llc, 2, op::B)?;
                let b1 = self.cfg.block_with(jmp(op::JSET), 0x01, s);
                self.cfg.not(b1);
                b1
            }
            LlcKind::S => self.mcmp(OffRel::Llc, 2, op::B, LLC_S_FMT, 0x03)?,
            LlcKind::U => self.mcmp(OffRel::Llc, 2, op::B, LLC_U_FMT, 0x03)?,
            LlcKind::SSubtype(v) => self.mcmp(OffRel::Llc, 2, op::B, v, LLC_S_CMD_MASK)?,
            LlcKind::USubtype(v) => self.mcmp(OffRel::Llc, 2, op::B, v, LLC_U_CMD_MASK)?,
        };
        self.cfg.and(b0, b1);
        Ok(b1)
    }

    fn require_pflog(&self, what: &str) -> Gen<()> {
        if self.linktype != LinkType::PFLOG.0 {
            return Err(self.err(format!("{what} supported only on PF linktype")));
        }
        Ok(())
    }

    /// pflog `ifname` (when `ifname`) or `ruleset`: a string-prefix match.
    pub fn gen_pf_name(&mut self, name: &str, ifname: bool) -> Gen<BlockId> {
        let (what, offset, size) = if ifname {
            ("ifname", PFLOG_IFNAME, PFLOG_IFNAME_SIZE)
        } else {
            ("ruleset", PFLOG_RULESET, PFLOG_RULESET_SIZE)
        };
        self.require_pflog(what)?;
        if name.len() >= size {
            let noun = if ifname {
                "ifname interface names"
            } else {
                "ruleset names"
            };
            return Err(self.err(format!("{noun} can only be {} characters", size - 1)));
        }
        self.bcmp(OffRel::LinkHdr, offset, name.as_bytes())
    }

    /// A numeric pflog header field.
    pub fn gen_pf_field(&mut self, what: &str, offset: u32, size: u16, v: u32) -> Gen<BlockId> {
        self.require_pflog(what)?;
        self.cmp(OffRel::LinkHdr, offset, size, v)
    }
}
