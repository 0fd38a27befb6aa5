//! Host and network address tests (IPv4, IPv6, DECnet, MAC addresses).

use super::consts::*;
use super::load::OffRel;
use super::{Codegen, Gen};
use crate::cfg::BlockId;
use crate::linktype::LinkType;
use crate::qual::{AddrKind, Dir, Proto};
use bpfkit_cbpf::op;

/// How a direction splits into source/destination tests.
pub(crate) enum DirPlan {
    /// Test one field.
    Src,
    /// Test one field.
    Dst,
    /// Both (`src and dst`).
    Both,
    /// Either (`src or dst`, or no direction).
    Either,
}

impl Codegen<'_> {
    /// Maps a direction for non-802.11 addresses, refusing 802.11-only ones
    /// with libpcap's message (`what` names the kind of address).
    pub(super) fn plain_dir(&self, dir: Dir, not_80211: &str) -> Gen<DirPlan> {
        Ok(match dir {
            Dir::Src => DirPlan::Src,
            Dir::Dst => DirPlan::Dst,
            Dir::And => DirPlan::Both,
            Dir::Default | Dir::Or => DirPlan::Either,
            Dir::Undef => return Err(self.err("syntax error in filter expression")),
            other => return Err(self.err(dir_80211_message(other, not_80211))),
        })
    }

    /// Combines `gen(src)` and `gen(dst)` as `plan` says.
    fn both_ways(
        &mut self,
        plan: DirPlan,
        mut gen: impl FnMut(&mut Self, bool) -> Gen<BlockId>,
    ) -> Gen<BlockId> {
        match plan {
            DirPlan::Src => gen(self, true),
            DirPlan::Dst => gen(self, false),
            DirPlan::Both | DirPlan::Either => {
                let b0 = gen(self, true)?;
                let b1 = gen(self, false)?;
                if matches!(plan, DirPlan::Both) {
                    self.cfg.and(b0, b1);
                } else {
                    self.cfg.or(b0, b1);
                }
                Ok(b1)
            }
        }
    }

    /// `[proto] [dir] host|net addr/mask` for IPv4 (and DECnet).
    pub fn gen_host(
        &mut self,
        addr: u32,
        mask: u32,
        proto: Proto,
        dir: Dir,
        kind: AddrKind,
    ) -> Gen<BlockId> {
        let typestr = if kind == AddrKind::Net { "net" } else { "host" };
        match proto {
            Proto::Default => {
                let b0 = self.gen_host(addr, mask, Proto::Ip, dir, kind)?;
                if self.label_stack_depth > 0 {
                    return Ok(b0);
                }
                let b1 = self.gen_host(addr, mask, Proto::Arp, dir, kind)?;
                self.cfg.or(b0, b1);
                let b0 = self.gen_host(addr, mask, Proto::Rarp, dir, kind)?;
                self.cfg.or(b1, b0);
                Ok(b0)
            }
            Proto::Ip => self.hostop(addr, mask, dir, ETHERTYPE_IP, 12, 16),
            Proto::Rarp => self.hostop(addr, mask, dir, ETHERTYPE_REVARP, 14, 24),
            Proto::Arp => self.hostop(addr, mask, dir, ETHERTYPE_ARP, 14, 24),
            Proto::Decnet => self.dnhostop(addr, dir),
            Proto::Link => Err(self.err(format!("link-layer modifier applied to {typestr}"))),
            Proto::Ipv6 => Err(self.err("'ip6' modifier applied to ip host")),
            Proto::Atalk => Err(self.err("AppleTalk host filtering not implemented")),
            Proto::Lat => Err(self.err("LAT host filtering not implemented")),
            Proto::Sca => Err(self.err("SCA host filtering not implemented")),
            Proto::Moprc => Err(self.err("MOPRC host filtering not implemented")),
            Proto::Mopdl => Err(self.err("MOPDL host filtering not implemented")),
            Proto::Aarp => Err(self.err("AARP host filtering not implemented")),
            Proto::Iso => Err(self.err("ISO host filtering not implemented")),
            Proto::Ipx => Err(self.err("IPX host filtering not implemented")),
            Proto::Undef => Err(self.err("syntax error in filter expression")),
            other => Err(self.err(format!("'{}' modifier applied to {typestr}", other.name()))),
        }
    }

    fn hostop(
        &mut self,
        addr: u32,
        mask: u32,
        dir: Dir,
        ll_proto: u32,
        src_off: u32,
        dst_off: u32,
    ) -> Gen<BlockId> {
        let plan = self.plain_dir(dir, "addresses other than 802.11 MAC addresses")?;
        self.both_ways(plan, |g, src| {
            let offset = if src { src_off } else { dst_off };
            let b0 = g.gen_linktype(ll_proto)?;
            let b1 = g.mcmp(OffRel::LinkPl, offset, op::W, addr, mask)?;
            g.cfg.and(b0, b1);
            Ok(b1)
        })
    }

    /// `[ip6] [dir] host|net addr/mask` for IPv6.
    pub fn gen_host6(
        &mut self,
        addr: &[u8; 16],
        mask: &[u8; 16],
        proto: Proto,
        dir: Dir,
        kind: AddrKind,
    ) -> Gen<BlockId> {
        let typestr = if kind == AddrKind::Net { "net" } else { "host" };
        match proto {
            Proto::Default | Proto::Ipv6 => {
                let plan = self.plain_dir(dir, "addresses other than 802.11 MAC addresses")?;
                let words = |a: &[u8; 16]| -> [u32; 4] {
                    std::array::from_fn(|i| {
                        u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]])
                    })
                };
                let (a, m) = (words(addr), words(mask));
                self.both_ways(plan, |g, src| {
                    let offset = if src { 8 } else { 24 };
                    let b1 = g.mcmp(OffRel::LinkPl, offset + 12, op::W, a[3], m[3])?;
                    for i in (0..3).rev() {
                        let b0 =
                            g.mcmp(OffRel::LinkPl, offset + 4 * i as u32, op::W, a[i], m[i])?;
                        g.cfg.and(b0, b1);
                    }
                    let b0 = g.gen_linktype(ETHERTYPE_IPV6)?;
                    g.cfg.and(b0, b1);
                    Ok(b1)
                })
            }
            Proto::Link => Err(self.err(format!("link-layer modifier applied to ip6 {typestr}"))),
            Proto::Atalk => Err(self.err(format!("AppleTalk modifier applied to ip6 {typestr}"))),
            Proto::Undef => Err(self.err("syntax error in filter expression")),
            other => Err(self.err(format!(
                "'{}' modifier applied to ip6 {typestr}",
                other.name()
            ))),
        }
    }

    /// DECnet host (long and short data-packet headers, with or without padding).
    fn dnhostop(&mut self, addr: u32, dir: Dir) -> Gen<BlockId> {
        let plan = self.plain_dir(dir, "addresses other than 802.11 MAC addresses")?;
        // libpcap applies `ntohs` to these constants and the (little-endian)
        // DECnet address, so the values depend on the host's byte order.
        let ntohs = |v: u16| u32::from(u16::from_be(v));
        let a = ntohs(addr as u16);
        self.both_ways(plan, |g, src| {
            let (offset_sh, offset_lh) = if src { (3, 15) } else { (1, 7) };
            let b0 = g.gen_linktype(ETHERTYPE_DN)?;
            // Long header, padded.
            let tmp = g.mcmp(OffRel::LinkPl, 2, op::H, ntohs(0x0681), ntohs(0x07ff))?;
            let b1 = g.cmp(OffRel::LinkPl, 2 + 1 + offset_lh, op::H, a)?;
            g.cfg.and(tmp, b1);
            // Long header, unpadded.
            let tmp = g.mcmp(OffRel::LinkPl, 2, op::B, 0x06, 0x07)?;
            let b2 = g.cmp(OffRel::LinkPl, 2 + offset_lh, op::H, a)?;
            g.cfg.and(tmp, b2);
            g.cfg.or(b2, b1);
            // Short header, padded.
            let tmp = g.mcmp(OffRel::LinkPl, 2, op::H, ntohs(0x0281), ntohs(0x07ff))?;
            let b2 = g.cmp(OffRel::LinkPl, 2 + 1 + offset_sh, op::H, a)?;
            g.cfg.and(tmp, b2);
            g.cfg.or(b2, b1);
            // Short header, unpadded.
            let tmp = g.mcmp(OffRel::LinkPl, 2, op::B, 0x02, 0x07)?;
            let b2 = g.cmp(OffRel::LinkPl, 2 + offset_sh, op::H, a)?;
            g.cfg.and(tmp, b2);
            g.cfg.or(b2, b1);
            g.cfg.and(b0, b1);
            Ok(b1)
        })
    }

    /// A MAC-address test on whatever MAC header this link type has.
    pub fn mac_host(&mut self, eaddr: &[u8; 6], dir: Dir, unsupported: &str) -> Gen<BlockId> {
        match LinkType(self.linktype) {
            LinkType::EN10MB => {
                let tmp = self.prevlinkhdr_check()?;
                let b = self.ehostop(eaddr, dir)?;
                if let Some(tmp) = tmp {
                    self.cfg.and(tmp, b);
                }
                Ok(b)
            }
            LinkType::FDDI => self.fhostop(eaddr, dir, 1, 7),
            LinkType::IEEE802 => self.fhostop(eaddr, dir, 2, 8),
            LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                self.wlanhostop(eaddr, dir)
            }
            _ => Err(self.err(unsupported.to_string())),
        }
    }

    /// Ethernet source (offset 6) / destination (offset 0).
    pub fn ehostop(&mut self, eaddr: &[u8; 6], dir: Dir) -> Gen<BlockId> {
        let plan = self.mac_dir(dir, "on 802.11 with 802.11 headers")?;
        self.both_ways(plan, |g, src| {
            g.bcmp(OffRel::LinkHdr, if src { 6 } else { 0 }, eaddr)
        })
    }

    /// FDDI / Token Ring: destination at `dst_off`, source at `src_off`.
    pub fn fhostop(
        &mut self,
        eaddr: &[u8; 6],
        dir: Dir,
        dst_off: u32,
        src_off: u32,
    ) -> Gen<BlockId> {
        let plan = self.mac_dir(dir, "on 802.11")?;
        self.both_ways(plan, |g, src| {
            g.bcmp(OffRel::LinkHdr, if src { src_off } else { dst_off }, eaddr)
        })
    }

    /// Direction of a MAC-address test on a non-802.11 link.
    fn mac_dir(&self, dir: Dir, only_on: &str) -> Gen<DirPlan> {
        Ok(match dir {
            Dir::Src => DirPlan::Src,
            Dir::Dst => DirPlan::Dst,
            Dir::And => DirPlan::Both,
            Dir::Default | Dir::Or => DirPlan::Either,
            Dir::Undef => return Err(self.err("syntax error in filter expression")),
            other => {
                let name = dir_name(other);
                return Err(self.err(format!("{name} only supported {only_on}")));
            }
        })
    }
}

fn dir_name(dir: Dir) -> &'static str {
    match dir {
        Dir::Addr1 => "'addr1' and 'address1' are",
        Dir::Addr2 => "'addr2' and 'address2' are",
        Dir::Addr3 => "'addr3' and 'address3' are",
        Dir::Addr4 => "'addr4' and 'address4' are",
        Dir::Ra => "'ra' is",
        _ => "'ta' is",
    }
}

/// libpcap's message for an 802.11-only direction on another kind of address.
pub(crate) fn dir_80211_message(dir: Dir, what: &str) -> String {
    let name = dir_name(dir);
    let verb_ok = name.ends_with("are");
    format!(
        "{} not {} qualifier{} for {what}",
        name,
        if verb_ok { "valid" } else { "a valid" },
        if verb_ok { "s" } else { "" }
    )
}
