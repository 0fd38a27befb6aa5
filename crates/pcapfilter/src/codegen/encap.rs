//! Encapsulations that move the headers later tests look at: VLAN tags,
//! MPLS labels, PPPoE sessions and Geneve tunnels. Each one changes the
//! generator's header offsets, affecting every primitive after it.

use super::consts::*;
use super::load::{jmp, OffRel};
use super::port::PortProto;
use super::{AbsOffset, Codegen, Gen, Off};
use crate::cfg::BlockId;
use crate::linktype::LinkType;
use crate::qual::Dir;
use bpfkit_cbpf::op;

impl Codegen<'_> {
    /// `vlan [id]`: an 802.1Q/802.1ad/QinQ tag (checked in the frame, not
    /// via Linux's out-of-band VLAN metadata); later tests skip the tag.
    pub fn gen_vlan(&mut self, vlan: Option<u32>) -> Gen<BlockId> {
        if self.label_stack_depth > 0 {
            return Err(self.err("no VLAN match after MPLS"));
        }
        if !matches!(
            LinkType(self.linktype),
            LinkType::EN10MB | LinkType::IEEE802_11 | LinkType::IEEE802_11_RADIO
        ) {
            return Err(self.err(format!("no VLAN support for {}", LinkType(self.linktype))));
        }
        let mut b0 = {
            let b0 = self.gen_linktype(ETHERTYPE_8021Q)?;
            let b1 = self.gen_linktype(ETHERTYPE_8021AD)?;
            self.cfg.or(b0, b1);
            let b2 = self.gen_linktype(ETHERTYPE_8021QINQ)?;
            self.cfg.or(b1, b2);
            b2
        };
        if let Some(id) = vlan {
            if id > 0x0fff {
                return Err(self.err(format!("VLAN tag {id} greater than maximum {}", 0x0fff)));
            }
            let b1 = self.mcmp(OffRel::LinkPl, 0, op::H, id, 0x0fff)?;
            self.cfg.and(b0, b1);
            b0 = b1;
        }
        self.off_linkpl.constant_part = self.off_linkpl.constant_part.wrapping_add(4);
        self.off_linktype.constant_part = self.off_linktype.constant_part.wrapping_add(4);
        self.vlan_stack_depth += 1;
        Ok(b0)
    }

    /// `mpls [label]`; later tests look inside the label stack.
    pub fn gen_mpls(&mut self, label: Option<u32>) -> Gen<BlockId> {
        let mut b0 = if self.label_stack_depth > 0 {
            // The previous label was not the bottom of the stack.
            self.mcmp(OffRel::PrevMplsHdr, 2, op::B, 0, 0x01)?
        } else {
            match LinkType(self.linktype) {
                LinkType::EN10MB | LinkType::C_HDLC => self.gen_linktype(ETHERTYPE_MPLS)?,
                LinkType::PPP => self.gen_linktype(PPP_MPLS_UCAST)?,
                other => return Err(self.err(format!("no MPLS support for {other}"))),
            }
        };
        if let Some(label) = label {
            if label > 0xfffff {
                return Err(self.err(format!(
                    "MPLS label {label} greater than maximum {}",
                    0xfffff
                )));
            }
            let b1 = self.mcmp(OffRel::LinkPl, 0, op::W, label << 12, 0xffff_f000)?;
            self.cfg.and(b0, b1);
            b0 = b1;
        }
        self.off_nl_nosnap = self.off_nl_nosnap.wrapping_add(4);
        self.off_nl = self.off_nl.wrapping_add(4);
        self.label_stack_depth += 1;
        Ok(b0)
    }

    /// Makes the link layer for later tests a new header of `linktype` at `at`.
    fn push_linkhdr(&mut self, linktype: u32, at: AbsOffset) {
        self.prevlinktype = self.linktype;
        self.off_prevlinkhdr = self.off_linkhdr;
        self.linktype = linktype;
        self.off_linkhdr = at;
        self.is_geneve = false;
    }

    /// `pppoes [session]`; later tests see the PPP payload.
    pub fn gen_pppoes(&mut self, session: Option<u32>) -> Gen<BlockId> {
        let mut b0 = self.gen_linktype(ETHERTYPE_PPPOES)?;
        if let Some(sess) = session {
            if sess > 0xffff {
                return Err(self.err(format!(
                    "PPPoE session number {sess} greater than maximum {}",
                    0xffff
                )));
            }
            let b1 = self.mcmp(OffRel::LinkPl, 0, op::W, sess, 0x0000_ffff)?;
            self.cfg.and(b0, b1);
            b0 = b1;
        }
        // The PPP header starts 6 bytes into the PPPoE header.
        let at = AbsOffset {
            is_variable: self.off_linkpl.is_variable,
            constant_part: self
                .off_linkpl
                .constant_part
                .wrapping_add(self.off_nl)
                .wrapping_add(6),
            reg: self.off_linkpl.reg,
        };
        self.push_linkhdr(LinkType::PPP.0, at);
        self.off_linktype = self.off_linkhdr;
        self.off_linkpl.constant_part = self.off_linkhdr.constant_part.wrapping_add(2);
        self.off_nl = 0;
        self.off_nl_nosnap = 0;
        Ok(b0)
    }

    /// `geneve [vni]`: UDP to port 6081 with a Geneve header; later tests
    /// see the encapsulated frame, located at run time.
    pub fn gen_geneve(&mut self, vni: Option<u32>) -> Gen<BlockId> {
        let b0 = self.geneve_over(false, vni)?;
        let b1 = self.geneve_over(true, vni)?;
        self.cfg.or(b0, b1);
        let s = self.geneve_offsets()?;
        let t = self.gen_true();
        let t_stmts = self.cfg.b(t).stmts;
        self.cfg.append(s, t_stmts);
        self.cfg.b_mut(t).stmts = Some(s);
        self.cfg.and(b1, t);
        self.is_geneve = true;
        Ok(t)
    }

    /// Geneve over IPv4 or IPv6; leaves the UDP header offset in A and X.
    fn geneve_over(&mut self, v6: bool, vni: Option<u32>) -> Gen<BlockId> {
        let rel = if v6 {
            OffRel::TranIpv6
        } else {
            OffRel::TranIpv4
        };
        let b0 = self.gen_port_single(v6, GENEVE_PORT, PortProto::One(IPPROTO_UDP), Dir::Dst)?;
        // Version 0.
        let b1 = self.mcmp(rel, 8, op::B, 0, 0xc0)?;
        self.cfg.and(b0, b1);
        let mut b0 = b1;
        if let Some(vni) = vni {
            if vni > 0xff_ffff {
                return Err(self.err(format!(
                    "Geneve VNI {vni} greater than maximum {}",
                    0xff_ffff
                )));
            }
            let b1 = self.mcmp(rel, 12, op::W, vni << 8, 0xffff_ff00)?;
            self.cfg.and(b0, b1);
            b0 = b1;
        }
        let s = if v6 {
            match self.abs_offset_varpart(Off::Payload)? {
                Some(s) => {
                    let a = self.cfg.stmt(op::LD | op::IMM, 40);
                    let add = self.cfg.stmt(op::ALU | op::ADD | op::X, 0);
                    self.cfg.append(s, Some(a));
                    self.cfg.append(s, Some(add));
                    s
                }
                None => self.cfg.stmt(op::LD | op::IMM, 40),
            }
        } else {
            self.loadx_iphdrlen()?
        };
        let mv = self
            .cfg
            .stmt(op::MISC | if v6 { op::TAX } else { op::TXA }, 0);
        self.cfg.append(s, Some(mv));
        let b1 = self.cfg.block_with(op::JMP | op::JEQ | op::X, 0, s);
        self.cfg.and(b0, b1);
        Ok(b1)
    }

    /// Computes, at run time, where the encapsulated frame's link-type
    /// field and payload are, and switches later tests to that frame.
    fn geneve_offsets(&mut self) -> Gen<crate::cfg::StmtId> {
        let s = self.cfg.stmt(
            op::ALU | op::ADD | op::K,
            self.off_linkpl
                .constant_part
                .wrapping_add(self.off_nl)
                .wrapping_add(8),
        );
        self.push(s, op::MISC | op::TAX, 0);
        self.push(s, op::ALU | op::ADD | op::K, 2);
        let linktype_reg = self.alloc_reg()?;
        self.off_linktype = AbsOffset {
            is_variable: true,
            constant_part: 0,
            reg: Some(linktype_reg),
        };
        self.push(s, op::ST, linktype_reg);
        // Geneve header length: 8 + 4 * option length.
        self.push(s, op::LD | op::IND | op::B, 0);
        self.push(s, op::ALU | op::AND | op::K, 0x3f);
        self.push(s, op::ALU | op::MUL | op::K, 4);
        self.push(s, op::ALU | op::ADD | op::K, 8);
        self.push(s, op::ALU | op::ADD | op::X, 0);
        let linkhdr_reg = self.alloc_reg()?;
        let at = AbsOffset {
            is_variable: true,
            constant_part: 0,
            reg: Some(linkhdr_reg),
        };
        self.push_linkhdr(LinkType::EN10MB.0, at);
        self.push(s, op::ST, linkhdr_reg);
        self.no_optimize = true;
        self.push(s, op::LD | op::IND | op::H, 2);
        self.push(s, op::LDX | op::MEM, linkhdr_reg);
        let proto = self.push(s, jmp(op::JEQ), ETHERTYPE_TEB);
        // Transparent Ethernet bridging: skip the inner Ethernet header.
        let txa = self.push(s, op::MISC | op::TXA, 0);
        self.cfg.s_mut(proto).jt = Some(txa);
        self.push(s, op::ALU | op::ADD | op::K, 12);
        self.push(s, op::ST, linktype_reg);
        self.push(s, op::ALU | op::ADD | op::K, 2);
        self.push(s, op::MISC | op::TAX, 0);
        let linkpl_reg = self.alloc_reg()?;
        self.off_linkpl = AbsOffset {
            is_variable: true,
            constant_part: 0,
            reg: Some(linkpl_reg),
        };
        let stx = self.push(s, op::STX, linkpl_reg);
        self.cfg.s_mut(proto).jf = Some(stx);
        self.off_nl = 0;
        Ok(s)
    }

    /// Inside Geneve: the inner frame is not the outer one (its link header
    /// differs from the outer payload), i.e. it is Ethernet.
    pub(super) fn geneve_ll_check(&mut self) -> Gen<BlockId> {
        let s = self
            .cfg
            .stmt(op::LD | op::MEM, self.off_linkhdr.reg.unwrap_or(u32::MAX));
        let s1 = self
            .cfg
            .stmt(op::LDX | op::MEM, self.off_linkpl.reg.unwrap_or(u32::MAX));
        self.cfg.append(s, Some(s1));
        let b0 = self.cfg.block_with(op::JMP | op::JEQ | op::X, 0, s);
        self.cfg.not(b0);
        Ok(b0)
    }
}
