//! Protocol tests: `tcp`, `ip6`, `ip proto n`, `ether proto n`,
//! `protochain n`, IS-IS PDU types, ...

use super::consts::*;
use super::load::{jmp, OffRel};
use super::{Codegen, Gen};
use crate::cfg::{BlockId, Cfg, StmtId};
use crate::linktype::LinkType;
use crate::qual::{Dir, Proto};
use bpfkit_cbpf::op;

impl Codegen<'_> {
    /// A protocol keyword on its own.
    pub fn gen_proto_abbrev(&mut self, proto: Proto) -> Gen<BlockId> {
        use Proto as P;
        let d = Dir::Default;
        match proto {
            P::Sctp => self.gen_proto(IPPROTO_SCTP, P::Default, d),
            P::Tcp => self.gen_proto(IPPROTO_TCP, P::Default, d),
            P::Udp => self.gen_proto(IPPROTO_UDP, P::Default, d),
            P::Icmp => self.gen_proto(IPPROTO_ICMP, P::Ip, d),
            P::Igmp => self.gen_proto(IPPROTO_IGMP, P::Ip, d),
            P::Igrp => self.gen_proto(IPPROTO_IGRP, P::Ip, d),
            P::Pim => self.gen_proto(IPPROTO_PIM, P::Default, d),
            P::Vrrp => self.gen_proto(IPPROTO_VRRP, P::Ip, d),
            P::Carp => self.gen_proto(IPPROTO_CARP, P::Ip, d),
            P::Ip => self.gen_linktype(ETHERTYPE_IP),
            P::Arp => self.gen_linktype(ETHERTYPE_ARP),
            P::Rarp => self.gen_linktype(ETHERTYPE_REVARP),
            P::Link => Err(self.err("link layer applied in wrong context")),
            P::Atalk => self.gen_linktype(ETHERTYPE_ATALK),
            P::Aarp => self.gen_linktype(ETHERTYPE_AARP),
            P::Decnet => self.gen_linktype(ETHERTYPE_DN),
            P::Sca => self.gen_linktype(ETHERTYPE_SCA),
            P::Lat => self.gen_linktype(ETHERTYPE_LAT),
            P::Mopdl => self.gen_linktype(ETHERTYPE_MOPDL),
            P::Moprc => self.gen_linktype(ETHERTYPE_MOPRC),
            P::Ipv6 => self.gen_linktype(ETHERTYPE_IPV6),
            P::Icmpv6 => self.gen_proto(IPPROTO_ICMPV6, P::Ipv6, d),
            P::Ah => self.gen_proto(IPPROTO_AH, P::Default, d),
            P::Esp => self.gen_proto(IPPROTO_ESP, P::Default, d),
            P::Iso => self.gen_linktype(LLCSAP_ISONS),
            P::Esis => self.gen_proto(ISO9542_ESIS, P::Iso, d),
            P::Isis => self.gen_proto(ISO10589_ISIS, P::Iso, d),
            P::IsisL1 => self.isis_any(&[
                ISIS_L1_LAN_IIH,
                ISIS_PTP_IIH,
                ISIS_L1_LSP,
                ISIS_L1_CSNP,
                ISIS_L1_PSNP,
            ]),
            P::IsisL2 => self.isis_any(&[
                ISIS_L2_LAN_IIH,
                ISIS_PTP_IIH,
                ISIS_L2_LSP,
                ISIS_L2_CSNP,
                ISIS_L2_PSNP,
            ]),
            P::IsisIih => self.isis_any(&[ISIS_L1_LAN_IIH, ISIS_L2_LAN_IIH, ISIS_PTP_IIH]),
            P::IsisLsp => self.isis_any(&[ISIS_L1_LSP, ISIS_L2_LSP]),
            P::IsisSnp => self.isis_any(&[ISIS_L1_CSNP, ISIS_L2_CSNP, ISIS_L1_PSNP, ISIS_L2_PSNP]),
            P::IsisCsnp => self.isis_any(&[ISIS_L1_CSNP, ISIS_L2_CSNP]),
            P::IsisPsnp => self.isis_any(&[ISIS_L1_PSNP, ISIS_L2_PSNP]),
            P::Clnp => self.gen_proto(ISO8473_CLNP, P::Iso, d),
            P::Stp => self.gen_linktype(LLCSAP_8021D),
            P::Ipx => self.gen_linktype(LLCSAP_IPX),
            P::Netbeui => self.gen_linktype(LLCSAP_NETBEUI),
            P::Radio => Err(self.err("'radio' is not a valid protocol type")),
            P::Default | P::Undef => Err(self.err("syntax error in filter expression")),
        }
    }

    /// Any of these IS-IS PDU types (first two or'ed, then the rest in turn).
    fn isis_any(&mut self, types: &[u32]) -> Gen<BlockId> {
        let b0 = self.gen_proto(types[0], Proto::Isis, Dir::Default)?;
        let b1 = self.gen_proto(types[1], Proto::Isis, Dir::Default)?;
        self.cfg.or(b0, b1);
        for &t in &types[2..] {
            let b0 = self.gen_proto(t, Proto::Isis, Dir::Default)?;
            self.cfg.or(b0, b1);
        }
        Ok(b1)
    }

    /// `[proto] proto v`: the protocol field of `proto`'s header is `v`.
    pub fn gen_proto(&mut self, v: u32, proto: Proto, dir: Dir) -> Gen<BlockId> {
        use Proto as P;
        if dir != Dir::Default {
            return Err(self.err("direction applied to 'proto'"));
        }
        match proto {
            P::Default => {
                let b0 = self.gen_proto(v, P::Ip, dir)?;
                let b1 = self.gen_proto(v, P::Ipv6, dir)?;
                self.cfg.or(b0, b1);
                Ok(b1)
            }
            P::Link => self.gen_linktype(v),
            P::Ip => {
                let b0 = self.gen_linktype(ETHERTYPE_IP)?;
                let b1 = self.cmp(OffRel::LinkPl, 9, op::B, v)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            P::Ipv6 => {
                // Directly, or after a fragment header.
                let b0 = self.gen_linktype(ETHERTYPE_IPV6)?;
                let b2 = self.cmp(OffRel::LinkPl, 6, op::B, IPPROTO_FRAGMENT)?;
                let b1 = self.cmp(OffRel::LinkPl, 40, op::B, v)?;
                self.cfg.and(b2, b1);
                let b2 = self.cmp(OffRel::LinkPl, 6, op::B, v)?;
                self.cfg.or(b2, b1);
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            P::Iso if self.linktype == LinkType::C_HDLC.0 => {
                // OSI in Cisco HDLC has a padding byte before the NLPID.
                let b0 = self.gen_linktype((LLCSAP_ISONS << 8) | LLCSAP_ISONS)?;
                let b1 = self.cmp(OffRel::LinkPlNoSnap, 1, op::B, v)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            P::Iso => {
                let b0 = self.gen_linktype(LLCSAP_ISONS)?;
                let b1 = self.cmp(OffRel::LinkPlNoSnap, 0, op::B, v)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            P::Isis => {
                let b0 = self.gen_proto(ISO10589_ISIS, P::Iso, Dir::Default)?;
                let b1 = self.cmp(OffRel::LinkPlNoSnap, 4, op::B, v)?;
                self.cfg.and(b0, b1);
                Ok(b1)
            }
            P::Arp => Err(self.err("arp does not encapsulate another protocol")),
            P::Rarp => Err(self.err("rarp does not encapsulate another protocol")),
            P::Atalk => Err(self.err("AppleTalk encapsulation is not specifiable")),
            P::Decnet => Err(self.err("DECNET encapsulation is not specifiable")),
            P::Lat => Err(self.err("LAT does not encapsulate another protocol")),
            P::Sca => Err(self.err("SCA does not encapsulate another protocol")),
            P::Moprc => Err(self.err("MOPRC does not encapsulate another protocol")),
            P::Mopdl => Err(self.err("MOPDL does not encapsulate another protocol")),
            P::Clnp => Err(self.err("'clnp proto' is not supported")),
            P::Undef => Err(self.err("syntax error in filter expression")),
            other => Err(self.err(format!("'{} proto' is bogus", other.name()))),
        }
    }

    /// The protocol number `name` stands for under qualifier `proto`
    /// (`None` when the qualifier takes no protocol names).
    pub fn lookup_proto(&self, name: &str, proto: Proto) -> Gen<Option<u32>> {
        Ok(match proto {
            Proto::Default | Proto::Ip | Proto::Ipv6 => Some(
                self.resolver()
                    .protocol(name)
                    .ok_or_else(|| self.err(format!("unknown ip proto '{name}'")))?,
            ),
            Proto::Link => Some(
                ether_proto_name(name)
                    .or_else(|| llc_proto_name(name))
                    .ok_or_else(|| self.err(format!("unknown ether proto '{name}'")))?,
            ),
            Proto::Iso => Some(match name {
                "esis" => ISO9542_ESIS,
                "isis" => ISO10589_ISIS,
                "clnp" => ISO8473_CLNP,
                _ => return Err(self.err(format!("unknown osi proto '{name}'"))),
            }),
            _ => None,
        })
    }

    /// `[ip|ip6] protochain v`: follows IPv6 extension headers and IPv4/IPv6
    /// AH headers at run time looking for protocol `v`.
    pub fn gen_protochain(&mut self, v: u32, proto: Proto) -> Gen<BlockId> {
        let reg2 = self.alloc_reg()?;
        match proto {
            Proto::Ip | Proto::Ipv6 => {}
            Proto::Default => {
                let b0 = self.gen_protochain(v, Proto::Ip)?;
                let b = self.gen_protochain(v, Proto::Ipv6)?;
                self.cfg.or(b0, b);
                return Ok(b);
            }
            _ => return Err(self.err("bad protocol applied for 'protochain'")),
        }
        if self.off_linkpl.is_variable {
            return Err(self.err("'protochain' not supported with variable length headers"));
        }
        self.no_optimize = true;
        let nl = self.off_linkpl.constant_part.wrapping_add(self.off_nl);
        let ja = op::JMP | op::JA;
        let jeq = op::JMP | op::JEQ | op::K;
        // Statements are built in an array first (indices are needed for
        // the backward `ja`s), then linked into one list.
        let mut s = Stmts::default();
        let b0;
        if proto == Proto::Ip {
            b0 = self.gen_linktype(ETHERTYPE_IP)?;
            s.add(&mut self.cfg, op::LD | op::ABS | op::B, nl.wrapping_add(9));
            s.add(&mut self.cfg, op::LDX | op::MSH | op::B, nl);
        } else {
            b0 = self.gen_linktype(ETHERTYPE_IPV6)?;
            s.add(&mut self.cfg, op::LD | op::ABS | op::B, nl.wrapping_add(6));
            s.add(&mut self.cfg, op::LDX | op::IMM, 40);
        }
        let again = s.add(&mut self.cfg, jeq, v);
        let fix5 = again;
        let fix2 = s.add(&mut self.cfg, jeq, IPPROTO_NONE);
        s.link(&mut self.cfg, fix5, false, fix2);
        let mut fix3 = None;
        if proto == Proto::Ipv6 {
            let v6start = s.add(&mut self.cfg, jeq, IPPROTO_HOPOPTS);
            s.link(&mut self.cfg, fix2, false, v6start);
            let mut prev = v6start;
            for hdr in [IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT] {
                let i = s.add(&mut self.cfg, jeq, hdr);
                s.link(&mut self.cfg, prev, false, i);
                prev = i;
            }
            let v6end = prev;
            fix3 = Some(v6end);
            // Skip one extension header: X += (hdr[1] + 1) * 8, A = next header.
            let v6advance = s.add(&mut self.cfg, op::LD | op::IND | op::B, nl);
            s.add(&mut self.cfg, op::ST, reg2);
            s.add(&mut self.cfg, op::LD | op::IND | op::B, nl.wrapping_add(1));
            s.add(&mut self.cfg, op::ALU | op::ADD | op::K, 1);
            s.add(&mut self.cfg, op::ALU | op::MUL | op::K, 8);
            s.add(&mut self.cfg, op::ALU | op::ADD | op::X, 0);
            s.add(&mut self.cfg, op::MISC | op::TAX, 0);
            let last = s.add(&mut self.cfg, op::LD | op::MEM, reg2);
            let i = s.ids.len();
            let back = s.add(
                &mut self.cfg,
                ja,
                (again as u32).wrapping_sub(i as u32).wrapping_sub(1),
            );
            s.link(&mut self.cfg, last, false, back);
            for j in v6start..=v6end {
                s.link(&mut self.cfg, j, true, v6advance);
            }
        } else {
            let i = s.add(&mut self.cfg, op::ALU | op::ADD | op::K, 0);
            s.link(&mut self.cfg, fix2, false, i);
        }
        // AH: X += (ah[1] + 2) * 4, A = next header.
        let ahcheck = s.add(&mut self.cfg, jeq, IPPROTO_AH);
        if let Some(fix3) = fix3 {
            s.link(&mut self.cfg, fix3, false, ahcheck);
        }
        let fix4 = ahcheck;
        let i = s.add(&mut self.cfg, op::MISC | op::TXA, 0);
        s.link(&mut self.cfg, fix4, true, i);
        s.add(&mut self.cfg, op::LD | op::IND | op::B, nl);
        let st = s.add(&mut self.cfg, op::ST, reg2);
        let i = s.add(&mut self.cfg, op::MISC | op::TXA, 0);
        s.link(&mut self.cfg, st, true, i);
        s.add(&mut self.cfg, op::ALU | op::ADD | op::K, 1);
        s.add(&mut self.cfg, op::MISC | op::TAX, 0);
        s.add(&mut self.cfg, op::LD | op::IND | op::B, nl);
        s.add(&mut self.cfg, op::ALU | op::ADD | op::K, 2);
        s.add(&mut self.cfg, op::ALU | op::MUL | op::K, 4);
        s.add(&mut self.cfg, op::MISC | op::TAX, 0);
        s.add(&mut self.cfg, op::LD | op::MEM, reg2);
        let i = s.ids.len();
        s.add(
            &mut self.cfg,
            ja,
            (again as u32).wrapping_sub(i as u32).wrapping_sub(1),
        );
        let end = s.add(&mut self.cfg, op::ALU | op::ADD | op::K, 0);
        s.link(&mut self.cfg, fix2, true, end);
        s.link(&mut self.cfg, fix4, false, end);
        s.link(&mut self.cfg, fix5, true, end);
        let s = s.into_list(&mut self.cfg);
        let b = self.cfg.block_with(jmp(op::JEQ), v, s[0]);
        self.free_reg(reg2);
        self.cfg.and(b0, b);
        Ok(b)
    }
}

/// Statements collected by index (protochain's jumps refer to indices),
/// linked into one list at the end.
#[derive(Default)]
struct Stmts {
    ids: Vec<StmtId>,
}

impl Stmts {
    fn add(&mut self, cfg: &mut Cfg, code: u16, k: u32) -> usize {
        self.ids.push(cfg.stmt(code, k));
        self.ids.len() - 1
    }

    /// Sets statement `from`'s true (or false) target to statement `to`.
    fn link(&self, cfg: &mut Cfg, from: usize, when: bool, to: usize) {
        let target = Some(self.ids[to]);
        let st = cfg.s_mut(self.ids[from]);
        if when {
            st.jt = target;
        } else {
            st.jf = target;
        }
    }

    fn into_list(self, cfg: &mut Cfg) -> Vec<StmtId> {
        for pair in self.ids.windows(2) {
            cfg.s_mut(pair[0]).next = Some(pair[1]);
        }
        self.ids
    }
}

/// Ethernet protocol names for `ether proto \name`.
fn ether_proto_name(name: &str) -> Option<u32> {
    Some(match name {
        "aarp" => ETHERTYPE_AARP,
        "arp" => ETHERTYPE_ARP,
        "atalk" => ETHERTYPE_ATALK,
        "decnet" => ETHERTYPE_DN,
        "ip" => ETHERTYPE_IP,
        "ip6" => ETHERTYPE_IPV6,
        "lat" => ETHERTYPE_LAT,
        "loopback" => ETHERTYPE_LOOPBACK,
        "mopdl" => ETHERTYPE_MOPDL,
        "moprc" => ETHERTYPE_MOPRC,
        "rarp" => ETHERTYPE_REVARP,
        "sca" => ETHERTYPE_SCA,
        _ => return None,
    })
}

/// 802.2 SAP names for `ether proto \name`.
fn llc_proto_name(name: &str) -> Option<u32> {
    Some(match name {
        "iso" => LLCSAP_ISONS,
        "stp" => LLCSAP_8021D,
        "ipx" => LLCSAP_IPX,
        "netbeui" => LLCSAP_NETBEUI,
        _ => return None,
    })
}
