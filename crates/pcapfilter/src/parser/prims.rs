//! Primitives introduced by their own keyword, and their name tables.

use super::Parser;
use crate::ast::{LlcKind, Primitive};
use crate::error::CompileError;
use crate::lexer::{Kw, Tok};
use crate::qual::Proto;

// 802.11 frame-control fields.
const WLAN_TYPE_MASK: u32 = 0x0c;
const WLAN_SUBTYPE_MASK: u32 = 0xf0;
const WLAN_TYPE_MGT: u32 = 0x00;
const WLAN_TYPE_CTL: u32 = 0x04;
const WLAN_TYPE_DATA: u32 = 0x08;

const WLAN_TYPES: &[(&str, u32)] = &[
    ("data", WLAN_TYPE_DATA),
    ("mgt", WLAN_TYPE_MGT),
    ("management", WLAN_TYPE_MGT),
    ("ctl", WLAN_TYPE_CTL),
    ("control", WLAN_TYPE_CTL),
];

const WLAN_MGT_SUBTYPES: &[(&str, u32)] = &[
    ("assocreq", 0x00),
    ("assoc-req", 0x00),
    ("assocresp", 0x10),
    ("assoc-resp", 0x10),
    ("reassocreq", 0x20),
    ("reassoc-req", 0x20),
    ("reassocresp", 0x30),
    ("reassoc-resp", 0x30),
    ("probereq", 0x40),
    ("probe-req", 0x40),
    ("proberesp", 0x50),
    ("probe-resp", 0x50),
    ("beacon", 0x80),
    ("atim", 0x90),
    ("disassoc", 0xa0),
    ("disassociation", 0xa0),
    ("auth", 0xb0),
    ("authentication", 0xb0),
    ("deauth", 0xc0),
    ("deauthentication", 0xc0),
];

const WLAN_CTL_SUBTYPES: &[(&str, u32)] = &[
    ("ps-poll", 0xa0),
    ("rts", 0xb0),
    ("cts", 0xc0),
    ("ack", 0xd0),
    ("cf-end", 0xe0),
    ("cf-end-ack", 0xf0),
];

const WLAN_DATA_SUBTYPES: &[(&str, u32)] = &[
    ("data", 0x00),
    ("data-cf-ack", 0x10),
    ("data-cf-poll", 0x20),
    ("data-cf-ack-poll", 0x30),
    ("null", 0x40),
    ("cf-ack", 0x50),
    ("cf-poll", 0x60),
    ("cf-ack-poll", 0x70),
    ("qos-data", 0x80),
    ("qos-data-cf-ack", 0x90),
    ("qos-data-cf-poll", 0xa0),
    ("qos-data-cf-ack-poll", 0xb0),
    ("qos", 0xc0),
    ("qos-cf-poll", 0xe0),
    ("qos-cf-ack-poll", 0xf0),
];

/// Subtype tables by frame type, in the order libpcap searches them.
const WLAN_SUBTYPES_BY_TYPE: &[(u32, &[(&str, u32)])] = &[
    (WLAN_TYPE_MGT, WLAN_MGT_SUBTYPES),
    (WLAN_TYPE_CTL, WLAN_CTL_SUBTYPES),
    (WLAN_TYPE_DATA, WLAN_DATA_SUBTYPES),
];

const WLAN_DIRECTIONS: &[(&str, u32)] = &[("nods", 0), ("tods", 1), ("fromds", 2), ("dstods", 3)];

/// pflog reason codes common to all platforms.
const PF_REASONS: &[(&str, u32)] = &[
    ("match", 0),
    ("bad-offset", 1),
    ("fragment", 2),
    ("short", 3),
    ("normalize", 4),
    ("memory", 5),
    ("bad-timestamp", 6),
    ("congestion", 7),
    ("ip-option", 8),
    ("proto-cksum", 9),
    ("state-mismatch", 10),
    ("state-insert", 11),
    ("state-limit", 12),
    ("src-limit", 13),
    ("synproxy", 14),
];

/// pflog actions common to all platforms.
const PF_ACTIONS: &[(&str, u32)] = &[
    ("pass", 0),
    ("accept", 0),
    ("drop", 1),
    ("block", 1),
    ("scrub", 2),
    ("noscrub", 3),
    ("nat", 4),
    ("nonat", 5),
    ("binat", 6),
    ("nobinat", 7),
    ("rdr", 8),
    ("nordr", 9),
    ("synproxy-drop", 10),
];

const LLC_S_SUBTYPES: &[(&str, u32)] = &[("rr", 0x01), ("rnr", 0x05), ("rej", 0x09)];
const LLC_U_SUBTYPES: &[(&str, u32)] = &[
    ("ui", 0x03),
    ("ua", 0x63),
    ("disc", 0x43),
    ("dm", 0x0f),
    ("sabme", 0x6f),
    ("test", 0xe3),
    ("xid", 0xaf),
    ("frmr", 0x87),
];

/// Case-insensitive table lookup.
fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

impl Parser<'_> {
    /// A primitive introduced by `kw` (the current token); `proto` is a
    /// preceding protocol qualifier, if any.
    pub(super) fn keyword_primitive(
        &mut self,
        kw: Kw,
        proto: Proto,
    ) -> Result<Primitive, CompileError> {
        let kw_span = self.bump();
        Ok(match kw {
            Kw::Broadcast => Primitive::Broadcast(proto),
            Kw::Multicast => Primitive::Multicast(proto),
            Kw::Less => Primitive::Less(self.expect_num()?),
            Kw::Greater => Primitive::Greater(self.expect_num()?),
            Kw::Byte => {
                let index = self.expect_num()?;
                let op = match self.peek() {
                    Tok::Punct(c @ (b'&' | b'|' | b'<' | b'>' | b'=')) => *c,
                    _ => return Err(self.unexpected("one of '&', '|', '<', '>', '='")),
                };
                self.bump();
                let value = self.expect_num()?;
                Primitive::Byte { index, op, value }
            }
            Kw::Inbound => Primitive::Inbound,
            Kw::Outbound => Primitive::Outbound,
            Kw::Ifindex => Primitive::Ifindex(self.expect_num()?),
            Kw::Vlan => Primitive::Vlan(self.optional_pnum()?),
            Kw::Mpls => Primitive::Mpls(self.optional_pnum()?),
            Kw::Pppoed => Primitive::Pppoed,
            Kw::Pppoes => Primitive::Pppoes(self.optional_pnum()?),
            Kw::Geneve => Primitive::Geneve(self.optional_pnum()?),
            Kw::PfIfname => Primitive::PfIfname(self.expect_name()?),
            Kw::PfRset => Primitive::PfRuleset(self.expect_name()?),
            Kw::PfRnr => Primitive::PfRnr(self.expect_num()?),
            Kw::PfSrnr => Primitive::PfSrnr(self.expect_num()?),
            Kw::PfReason => match self.peek().clone() {
                Tok::Num(n) => {
                    self.bump();
                    Primitive::PfReason(n)
                }
                Tok::Id(name) => {
                    let span = self.bump();
                    let code = lookup(PF_REASONS, &name).ok_or_else(|| {
                        self.error_at(span, format!("unknown PF reason \"{name}\""))
                    })?;
                    Primitive::PfReason(code)
                }
                _ => return Err(self.unexpected("a reason name or number")),
            },
            Kw::PfAction => {
                let span = self.span_of(self.pos);
                let name = self.expect_name()?;
                let code = lookup(PF_ACTIONS, &name)
                    .ok_or_else(|| self.error_at(span, format!("unknown PF action \"{name}\"")))?;
                Primitive::PfAction(code)
            }
            Kw::Type => self.wlan_type()?,
            Kw::Subtype => {
                let span = self.span_of(self.pos);
                let name = self.expect_name()?;
                let value = WLAN_SUBTYPES_BY_TYPE
                    .iter()
                    .find_map(|&(ty, table)| lookup(table, &name).map(|v| v | ty))
                    .ok_or_else(|| self.error_at(span, "unknown 802.11 type name"))?;
                Primitive::WlanType {
                    value,
                    mask: WLAN_TYPE_MASK | WLAN_SUBTYPE_MASK,
                }
            }
            Kw::Dir => match self.peek().clone() {
                Tok::Num(n) => {
                    self.bump();
                    Primitive::WlanDir(n)
                }
                Tok::Id(name) => {
                    let span = self.bump();
                    Primitive::WlanDir(
                        lookup(WLAN_DIRECTIONS, &name)
                            .ok_or_else(|| self.error_at(span, "unknown 802.11 direction"))?,
                    )
                }
                _ => return Err(self.unexpected("a direction name or number")),
            },
            Kw::Llc => self.llc()?,
            Kw::Lane | Kw::Metac | Kw::Bcc | Kw::Oamf4ec | Kw::Oamf4sc | Kw::Sc | Kw::Ilmic => {
                link_specific(kw, "raw ATM")
            }
            Kw::Oam | Kw::Oamf4 | Kw::Connectmsg | Kw::Metaconnect => link_specific(kw, "raw ATM"),
            Kw::Vpi | Kw::Vci => {
                self.field_values()?;
                link_specific(kw, "raw ATM")
            }
            Kw::Fisu | Kw::Lssu | Kw::Msu => link_specific(kw, "MTP2"),
            Kw::Hfisu | Kw::Hlssu | Kw::Hmsu => link_specific(kw, "MTP2_HSL"),
            Kw::Sio | Kw::Opc | Kw::Dpc | Kw::Sls | Kw::Hsio | Kw::Hopc | Kw::Hdpc | Kw::Hsls => {
                self.field_values()?;
                link_specific(kw, "SS7")
            }
            _ => {
                self.pos -= 1;
                let _ = kw_span;
                return Err(self.unexpected("a primitive, value or expression"));
            }
        })
    }

    fn expect_name(&mut self) -> Result<String, CompileError> {
        match self.peek().clone() {
            Tok::Id(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    /// `NUM` or `( pnum )`, if the next token can start one.
    fn optional_pnum(&mut self) -> Result<Option<u32>, CompileError> {
        match self.peek() {
            Tok::Num(_) | Tok::Punct(b'(') => self.pnum().map(Some),
            _ => Ok(None),
        }
    }

    fn pnum(&mut self) -> Result<u32, CompileError> {
        if self.peek() == &Tok::Punct(b'(') {
            self.bump();
            let n = self.nested(|p| p.pnum())?;
            self.expect_punct(b')')?;
            Ok(n)
        } else {
            self.expect_num()
        }
    }

    /// `type T [subtype S]`.
    fn wlan_type(&mut self) -> Result<Primitive, CompileError> {
        let span = self.span_of(self.pos);
        let ty = match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                if n & !WLAN_TYPE_MASK != 0 {
                    return Err(self.error_at(span, format!("invalid 802.11 type value 0x{n:02x}")));
                }
                n
            }
            Tok::Id(name) => {
                self.bump();
                lookup(WLAN_TYPES, &name).ok_or_else(|| {
                    self.error_at(span, format!("unknown 802.11 type name \"{name}\""))
                })?
            }
            _ => return Err(self.unexpected("an 802.11 frame type")),
        };
        if self.peek() != &Tok::Kw(Kw::Subtype) {
            return Ok(Primitive::WlanType {
                value: ty,
                mask: WLAN_TYPE_MASK,
            });
        }
        self.bump();
        let span = self.span_of(self.pos);
        let sub = match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                if n & !WLAN_SUBTYPE_MASK != 0 {
                    return Err(
                        self.error_at(span, format!("invalid 802.11 subtype value 0x{n:02x}"))
                    );
                }
                n
            }
            Tok::Id(name) => {
                self.bump();
                let table = WLAN_SUBTYPES_BY_TYPE
                    .iter()
                    .find(|&&(t, _)| t == ty)
                    .map(|&(_, table)| table)
                    .ok_or_else(|| self.error_at(span, "unknown 802.11 type"))?;
                lookup(table, &name).ok_or_else(|| {
                    self.error_at(span, format!("unknown 802.11 subtype name \"{name}\""))
                })?
            }
            _ => return Err(self.unexpected("an 802.11 frame subtype")),
        };
        Ok(Primitive::WlanType {
            value: ty | sub,
            mask: WLAN_TYPE_MASK | WLAN_SUBTYPE_MASK,
        })
    }

    /// `llc [i|s|u|subtype]`.
    fn llc(&mut self) -> Result<Primitive, CompileError> {
        let kind = match self.peek().clone() {
            Tok::Kw(Kw::PfRnr) => {
                self.bump();
                LlcKind::SSubtype(0x05)
            }
            Tok::Id(name) => {
                let span = self.bump();
                if name.eq_ignore_ascii_case("i") {
                    LlcKind::I
                } else if name.eq_ignore_ascii_case("s") {
                    LlcKind::S
                } else if name.eq_ignore_ascii_case("u") {
                    LlcKind::U
                } else if let Some(v) = lookup(LLC_S_SUBTYPES, &name) {
                    LlcKind::SSubtype(v)
                } else if let Some(v) = lookup(LLC_U_SUBTYPES, &name) {
                    LlcKind::USubtype(v)
                } else {
                    return Err(self.error_at(span, format!("unknown LLC type name \"{name}\"")));
                }
            }
            _ => LlcKind::Any,
        };
        Ok(Primitive::Llc(kind))
    }

    /// The value part of an ATM or SS7 field test: `n`, `relop n`, or
    /// `(n or n ...)`. Parsed only to accept what libpcap's grammar does.
    fn field_values(&mut self) -> Result<(), CompileError> {
        match self.peek() {
            Tok::Num(_) => {
                self.bump();
            }
            Tok::Punct(b'>' | b'=' | b'<') | Tok::Geq | Tok::Leq | Tok::Neq => {
                self.bump();
                self.expect_num()?;
            }
            Tok::Punct(b'(') => {
                self.bump();
                self.expect_num()?;
                while self.peek() == &Tok::Or {
                    self.bump();
                    self.expect_num()?;
                }
                self.expect_punct(b')')?;
            }
            _ => return Err(self.unexpected("a field value")),
        }
        Ok(())
    }
}

fn link_specific(kw: Kw, requires: &'static str) -> Primitive {
    let keyword = match kw {
        Kw::Lane => "lane",
        Kw::Metac => "metac",
        Kw::Bcc => "bcc",
        Kw::Oamf4ec => "oam4ec",
        Kw::Oamf4sc => "oam4sc",
        Kw::Sc => "sc",
        Kw::Ilmic => "ilmic",
        Kw::Oam => "oam",
        Kw::Oamf4 => "oamf4",
        Kw::Connectmsg => "connectmsg",
        Kw::Metaconnect => "metaconnect",
        Kw::Vpi => "vpi",
        Kw::Vci => "vci",
        Kw::Fisu => "fisu",
        Kw::Lssu => "lssu",
        Kw::Msu => "msu",
        Kw::Hfisu => "hfisu",
        Kw::Hlssu => "hlssu",
        Kw::Hmsu => "hmsu",
        Kw::Sio | Kw::Hsio => "sio",
        Kw::Opc | Kw::Hopc => "opc",
        Kw::Dpc | Kw::Hdpc => "dpc",
        _ => "sls",
    };
    Primitive::LinkSpecific { keyword, requires }
}
