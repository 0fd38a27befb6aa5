//! TCP/UDP/SCTP port and port-range tests over IPv4 and IPv6.

use super::consts::*;
use super::host::DirPlan;
use super::load::{jmp, OffRel};
use super::{Codegen, Gen};
use crate::cfg::BlockId;
use crate::qual::Dir;
use bpfkit_cbpf::op;

/// Transport protocol of a port test: one of TCP/UDP/SCTP, or all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortProto {
    One(u32),
    Any,
}

/// Which IP version a port test is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ipv {
    V4,
    V6,
}

impl Codegen<'_> {
    /// Not a non-first IPv4 fragment (fragment offset zero).
    pub(super) fn ipfrag(&mut self) -> Gen<BlockId> {
        let s = self.load_a(OffRel::LinkPl, 6, op::H)?;
        let b = self.cfg.block_with(jmp(op::JSET), 0x1fff, s);
        self.cfg.not(b);
        Ok(b)
    }

    /// `port` over IPv6 or'ed before IPv4, as libpcap arranges it.
    pub fn gen_port_both(
        &mut self,
        low: u32,
        high: Option<u32>,
        proto: PortProto,
        dir: Dir,
    ) -> Gen<BlockId> {
        let what = if high.is_some() {
            "port ranges"
        } else {
            "ports"
        };
        let plan = self.plain_dir(dir, what)?;
        let b = self.port_for(Ipv::V4, low, high, proto, &plan)?;
        let b6 = self.port_for(Ipv::V6, low, high, proto, &plan)?;
        self.cfg.or(b6, b);
        Ok(b)
    }

    /// libpcap's `gen_port`/`gen_portrange` (and their IPv6 versions).
    fn port_for(
        &mut self,
        ipv: Ipv,
        low: u32,
        high: Option<u32>,
        proto: PortProto,
        plan: &DirPlan,
    ) -> Gen<BlockId> {
        let ethertype = if ipv == Ipv::V4 {
            ETHERTYPE_IP
        } else {
            ETHERTYPE_IPV6
        };
        let b0 = self.gen_linktype(ethertype)?;
        let b1 = match proto {
            PortProto::One(p) => self.portop(ipv, low, high, p, plan)?,
            PortProto::Any => {
                let tmp = self.portop(ipv, low, high, IPPROTO_TCP, plan)?;
                let b1 = self.portop(ipv, low, high, IPPROTO_UDP, plan)?;
                self.cfg.or(tmp, b1);
                let tmp = self.portop(ipv, low, high, IPPROTO_SCTP, plan)?;
                self.cfg.or(tmp, b1);
                b1
            }
        };
        self.cfg.and(b0, b1);
        Ok(b1)
    }

    /// Protocol check plus the port comparisons for one transport.
    fn portop(
        &mut self,
        ipv: Ipv,
        low: u32,
        high: Option<u32>,
        proto: u32,
        plan: &DirPlan,
    ) -> Gen<BlockId> {
        let b0 = match ipv {
            Ipv::V4 => {
                let tmp = self.cmp(OffRel::LinkPl, 9, op::B, proto)?;
                let b0 = self.ipfrag()?;
                self.cfg.and(tmp, b0);
                b0
            }
            Ipv::V6 => self.cmp(OffRel::LinkPl, 6, op::B, proto)?,
        };
        let atom = |g: &mut Self, off: u32| g.portatom(ipv, off, low, high);
        let b1 = match plan {
            DirPlan::Src => atom(self, 0)?,
            DirPlan::Dst => atom(self, 2)?,
            DirPlan::Both | DirPlan::Either => {
                let tmp = atom(self, 0)?;
                let b1 = atom(self, 2)?;
                if matches!(plan, DirPlan::Both) {
                    self.cfg.and(tmp, b1);
                } else {
                    self.cfg.or(tmp, b1);
                }
                b1
            }
        };
        self.cfg.and(b0, b1);
        Ok(b1)
    }

    /// The transport-header field at `off` equals `low`, or lies in
    /// `low..=high` for a range.
    fn portatom(&mut self, ipv: Ipv, off: u32, low: u32, high: Option<u32>) -> Gen<BlockId> {
        let rel = if ipv == Ipv::V4 {
            OffRel::TranIpv4
        } else {
            OffRel::TranIpv6
        };
        let Some(high) = high else {
            return self.cmp(rel, off, op::H, low);
        };
        let (v1, v2) = if low > high { (high, low) } else { (low, high) };
        let b1 = self.cmp_ge(rel, off, op::H, v1)?;
        let b2 = self.cmp_le(rel, off, op::H, v2)?;
        self.cfg.and(b1, b2);
        Ok(b2)
    }
}

impl Codegen<'_> {
    /// A port test over one IP version only (used by Geneve).
    pub(super) fn gen_port_single(
        &mut self,
        v6: bool,
        port: u32,
        proto: PortProto,
        dir: Dir,
    ) -> Gen<BlockId> {
        let plan = self.plain_dir(dir, "ports")?;
        let ipv = if v6 { Ipv::V6 } else { Ipv::V4 };
        self.port_for(ipv, port, None, proto, &plan)
    }
}
