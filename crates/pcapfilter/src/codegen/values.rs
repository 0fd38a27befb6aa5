//! Qualified values: what `host X`, `net X`, `port X`, `proto X`, ... mean
//! for each lexical form of `X` (name, number, dotted address, IPv6
//! address, MAC address).

use std::net::{IpAddr, Ipv6Addr};

use super::consts::*;
use super::port::PortProto;
use super::{Codegen, Gen, OFFSET_NOT_SET};
use crate::cfg::BlockId;
use crate::linktype::LinkType;
use crate::names::{addr, Transport};
use crate::qual::{AddrKind, Proto, Qual};

/// Transport of a port name: TCP only, UDP only, or both.
type ServiceProto = PortProto;

impl Codegen<'_> {
    /// A name (`host foo`, `port http`, `proto tcp`, ...).
    pub fn gen_scode(&mut self, name: &str, q: Qual) -> Gen<BlockId> {
        let (proto, dir) = (q.proto, q.dir);
        match q.addr {
            AddrKind::Net => {
                let net = self.resolver().network(name).unwrap_or(0);
                if net == 0 {
                    return Err(self.err(format!("unknown network '{name}'")));
                }
                let (addr, mask) = left_align(net);
                self.gen_host(addr, mask, proto, dir, q.addr)
            }
            AddrKind::Default | AddrKind::Host => {
                if proto == Proto::Link {
                    let known = self.resolver().ether_host(name);
                    let what = match LinkType(self.linktype) {
                        LinkType::EN10MB => "ether",
                        LinkType::FDDI => "FDDI",
                        LinkType::IEEE802 => "token ring",
                        LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO | LinkType::PPI => {
                            "802.11"
                        }
                        _ => {
                            return Err(self.err(
                                "only ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel supports link-level host name",
                            ))
                        }
                    };
                    let eaddr =
                        known.ok_or_else(|| self.err(format!("unknown {what} host '{name}'")))?;
                    return self.mac_host(&eaddr, dir, "");
                }
                if proto == Proto::Decnet {
                    return Err(self.err(format!(
                        "decnet name support not included, '{name}' cannot be translated"
                    )));
                }
                self.gen_host_name(name, q)
            }
            AddrKind::Port => {
                if !matches!(
                    proto,
                    Proto::Default | Proto::Udp | Proto::Tcp | Proto::Sctp
                ) {
                    return Err(self.err("illegal qualifier of 'port'"));
                }
                let (port, service_proto) = self
                    .name_to_port(name)
                    .ok_or_else(|| self.err(format!("unknown port '{name}'")))?;
                let real =
                    self.check_port_proto(proto, service_proto, &format!("port '{name}'"))?;
                self.gen_port_both(port, None, real, dir)
            }
            AddrKind::Portrange => {
                if !matches!(
                    proto,
                    Proto::Default | Proto::Udp | Proto::Tcp | Proto::Sctp
                ) {
                    return Err(self.err("illegal qualifier of 'portrange'"));
                }
                let (p1, p2, service_proto) = self
                    .name_to_portrange(name)
                    .ok_or_else(|| self.err(format!("unknown port in range '{name}'")))?;
                let real = self.check_port_proto(
                    proto,
                    service_proto,
                    &format!("port in range '{name}'"),
                )?;
                for p in [p1, p2] {
                    if p < 0 {
                        return Err(self.err(format!("illegal port number {p} < 0")));
                    }
                    if p > 65535 {
                        return Err(self.err(format!("illegal port number {p} > 65535")));
                    }
                }
                self.gen_port_both(p1 as u32, Some(p2 as u32), real, dir)
            }
            AddrKind::Gateway => Err(self.err("'gateway' not supported in this configuration")),
            AddrKind::Proto | AddrKind::Protochain => {
                let Some(v) = self.lookup_proto(name, proto)? else {
                    return Err(self.err(format!("unknown protocol: {name}")));
                };
                if q.addr == AddrKind::Proto {
                    self.gen_proto(v, proto, dir)
                } else {
                    self.gen_protochain(v, proto)
                }
            }
            AddrKind::Undef => Err(self.err("syntax error in filter expression")),
        }
    }

    /// `host name`: one test per address the name resolves to, or'ed.
    fn gen_host_name(&mut self, name: &str, q: Qual) -> Gen<BlockId> {
        let addrs = self.resolver().host(name);
        if addrs.is_empty() {
            return Err(self.err(format!("unknown host '{name}'")));
        }
        // Without a link-layer type field, "host" means IPv4 or IPv6 only.
        let (mut v4proto, mut v6proto) = (q.proto, q.proto);
        if self.off_linktype.constant_part == OFFSET_NOT_SET && q.proto == Proto::Default {
            v4proto = Proto::Ip;
            v6proto = Proto::Ipv6;
        }
        let mut acc: Option<BlockId> = None;
        for a in addrs {
            let tmp = match a {
                IpAddr::V4(v4) => {
                    if v4proto == Proto::Ipv6 {
                        continue;
                    }
                    self.gen_host(u32::from(v4), 0xffff_ffff, v4proto, q.dir, q.addr)?
                }
                IpAddr::V6(v6) => {
                    if v6proto == Proto::Ip {
                        continue;
                    }
                    self.gen_host6(&v6.octets(), &[0xff; 16], v6proto, q.dir, q.addr)?
                }
            };
            if let Some(prev) = acc {
                self.cfg.or(prev, tmp);
            }
            acc = Some(tmp);
        }
        acc.ok_or_else(|| {
            let family = if q.proto == Proto::Default {
                ""
            } else {
                " for specified address family"
            };
            self.err(format!("unknown host '{name}'{family}"))
        })
    }

    /// libpcap's `pcap_nametoport`: the TCP port if the name has one
    /// (protocol "either" if UDP has the same port), else the UDP port.
    fn name_to_port(&self, name: &str) -> Option<(u32, ServiceProto)> {
        let tcp = self.resolver().service(name, Transport::Tcp);
        let udp = self.resolver().service(name, Transport::Udp);
        match (tcp, udp) {
            (Some(t), Some(u)) if t == u => Some((u32::from(t), PortProto::Any)),
            (Some(t), _) => Some((u32::from(t), PortProto::One(IPPROTO_TCP))),
            (None, Some(u)) => Some((u32::from(u), PortProto::One(IPPROTO_UDP))),
            (None, None) => None,
        }
    }

    /// libpcap's `pcap_nametoportrange`: `n-m` numerically, else
    /// `name-name` split at the first dash.
    fn name_to_portrange(&self, name: &str) -> Option<(i64, i64, ServiceProto)> {
        if let Some((p1, p2)) = scan_dash_pair(name) {
            return Some((p1, p2, PortProto::Any));
        }
        let (first, second) = name.split_once('-')?;
        let (p1, proto1) = self.name_to_port(first)?;
        let (p2, proto2) = self.name_to_port(second)?;
        let proto = if proto1 == proto2 {
            proto1
        } else {
            PortProto::Any
        };
        Some((i64::from(p1), i64::from(p2), proto))
    }

    /// Reconciles a `tcp`/`udp`/`sctp` qualifier with a service's transport.
    fn check_port_proto(&self, proto: Proto, service: ServiceProto, what: &str) -> Gen<PortProto> {
        let wanted = match proto {
            Proto::Tcp => IPPROTO_TCP,
            Proto::Udp => IPPROTO_UDP,
            Proto::Sctp => IPPROTO_SCTP,
            _ => return Ok(service),
        };
        match service {
            PortProto::One(p) if p != wanted => {
                let name = match p {
                    IPPROTO_TCP => "tcp",
                    IPPROTO_UDP => "udp",
                    _ => "sctp",
                };
                Err(self.err(format!("{what} is {name}")))
            }
            _ => Ok(PortProto::One(wanted)),
        }
    }

    /// A dotted address token (`10.1.2.3`, `10.1`) with its qualifiers.
    pub fn gen_hid(&mut self, text: &str, q: Qual) -> Gen<BlockId> {
        let bad = match q.addr {
            AddrKind::Port => Some("port"),
            AddrKind::Portrange => Some("portrange"),
            AddrKind::Proto => Some("proto"),
            AddrKind::Protochain => Some("protochain"),
            _ => None,
        };
        if let Some(word) = bad {
            return Err(self.err(format!("'{word}' modifier applied to ip host")));
        }
        self.gen_ncode(Some(text), 0, q)
    }

    /// A number or dotted address (`text`) with its qualifiers.
    pub fn gen_ncode(&mut self, text: Option<&str>, num: u32, q: Qual) -> Gen<BlockId> {
        let (proto, dir) = (q.proto, q.dir);
        let (mut v, vlen) = match text {
            None => (num, 32),
            Some(s) if proto == Proto::Decnet => {
                let v = addr::atodn(s)
                    .ok_or_else(|| self.err(format!("malformed decnet address '{s}'")))?;
                (v, 32)
            }
            Some(s) => {
                addr::atoin(s).ok_or_else(|| self.err(format!("invalid IPv4 address '{s}'")))?
            }
        };
        match q.addr {
            AddrKind::Default | AddrKind::Host | AddrKind::Net => {
                if proto == Proto::Decnet {
                    return self.gen_host(v, 0, proto, dir, q.addr);
                }
                if proto == Proto::Link {
                    return Err(self.err("illegal link layer address"));
                }
                let mut mask = 0xffff_ffffu32;
                if text.is_none() && q.addr == AddrKind::Net {
                    (v, mask) = left_align(v);
                } else {
                    v <<= 32 - vlen;
                    mask <<= 32 - vlen;
                }
                self.gen_host(v, mask, proto, dir, q.addr)
            }
            AddrKind::Port | AddrKind::Portrange => {
                let word = if q.addr == AddrKind::Port {
                    "port"
                } else {
                    "portrange"
                };
                let pp = match proto {
                    Proto::Udp => PortProto::One(IPPROTO_UDP),
                    Proto::Tcp => PortProto::One(IPPROTO_TCP),
                    Proto::Sctp => PortProto::One(IPPROTO_SCTP),
                    Proto::Default => PortProto::Any,
                    _ => return Err(self.err(format!("illegal qualifier of '{word}'"))),
                };
                if v > 65535 {
                    return Err(self.err(format!("illegal port number {v} > 65535")));
                }
                let high = (q.addr == AddrKind::Portrange).then_some(v);
                self.gen_port_both(v, high, pp, dir)
            }
            AddrKind::Gateway => Err(self.err("'gateway' requires a name")),
            AddrKind::Proto => self.gen_proto(v, proto, dir),
            AddrKind::Protochain => self.gen_protochain(v, proto),
            AddrKind::Undef => Err(self.err("syntax error in filter expression")),
        }
    }

    /// `a.b.c.d/len` or `a.b.c.d mask m.m.m.m`.
    pub fn gen_mcode(&mut self, s1: &str, s2: Option<&str>, masklen: u32, q: Qual) -> Gen<BlockId> {
        let (n, nlen) =
            addr::atoin(s1).ok_or_else(|| self.err(format!("invalid IPv4 address '{s1}'")))?;
        let n = n << (32 - nlen);
        let m = match s2 {
            Some(s2) => {
                let (m, mlen) = addr::atoin(s2)
                    .ok_or_else(|| self.err(format!("invalid IPv4 address '{s2}'")))?;
                let m = m << (32 - mlen);
                if n & !m != 0 {
                    return Err(self.err(format!("non-network bits set in \"{s1} mask {s2}\"")));
                }
                m
            }
            None => {
                if masklen > 32 {
                    return Err(self.err("mask length must be <= 32"));
                }
                let m = if masklen == 0 {
                    0
                } else {
                    0xffff_ffff << (32 - masklen)
                };
                if n & !m != 0 {
                    return Err(self.err(format!("non-network bits set in \"{s1}/{masklen}\"")));
                }
                m
            }
        };
        match q.addr {
            AddrKind::Net => self.gen_host(n, m, q.proto, q.dir, q.addr),
            _ => Err(self.err("Mask syntax for networks only")),
        }
    }

    /// An IPv6 address with prefix length (128 when none was written).
    pub fn gen_mcode6(&mut self, s1: &str, masklen: u32, q: Qual) -> Gen<BlockId> {
        let a: Ipv6Addr = s1
            .parse()
            .map_err(|_| self.err(format!("invalid ip6 address {s1}")))?;
        if masklen > 128 {
            return Err(self.err("mask length must be <= 128"));
        }
        let mask = (!0u128).checked_shl(128 - masklen).unwrap_or(0);
        let addr = u128::from(a);
        if addr & !mask != 0 {
            return Err(self.err(format!("non-network bits set in \"{s1}/{masklen}\"")));
        }
        match q.addr {
            AddrKind::Default | AddrKind::Host | AddrKind::Net => {
                if q.addr != AddrKind::Net && masklen != 128 {
                    return Err(self.err("Mask syntax for networks only"));
                }
                self.gen_host6(&a.octets(), &mask.to_be_bytes(), q.proto, q.dir, q.addr)
            }
            _ => Err(self.err("invalid qualifier against IPv6 address")),
        }
    }

    /// A MAC address with its qualifiers.
    pub fn gen_ecode(&mut self, text: &str, q: Qual) -> Gen<BlockId> {
        if matches!(q.addr, AddrKind::Host | AddrKind::Default) && q.proto == Proto::Link {
            let e = addr::ether_aton(text);
            return self.mac_host(
                &e,
                q.dir,
                "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel",
            );
        }
        Err(self.err("ethernet address used in non-ether expression"))
    }

    /// An ARCnet address (no supported link type has them).
    pub fn gen_acode(&mut self, _q: Qual) -> Gen<BlockId> {
        Err(self.err("aid supported only on ARCnet"))
    }
}

/// Shifts a right-aligned network number to the top of the word, with the
/// matching mask (`10` becomes `10.0.0.0/8`).
fn left_align(mut v: u32) -> (u32, u32) {
    let mut mask = 0xffff_ffffu32;
    while v != 0 && v & 0xff00_0000 == 0 {
        v <<= 8;
        mask <<= 8;
    }
    (v, mask)
}

/// C `sscanf(s, "%d-%d")`: two integers separated by a dash.
fn scan_dash_pair(s: &str) -> Option<(i64, i64)> {
    fn int(s: &str) -> Option<(i64, &str)> {
        let s = s.trim_start();
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let v: i64 = body[..digits].parse::<i64>().unwrap_or(i64::MAX);
        Some((if neg { -v } else { v }, &body[digits..]))
    }
    let (a, rest) = int(s)?;
    let rest = rest.strip_prefix('-')?;
    let (b, _) = int(rest)?;
    Some((a, b))
}
