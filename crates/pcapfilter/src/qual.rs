//! Qualifiers: the protocol, direction and address-type words that give a
//! bare value (`10.0.0.1`, `80`, `ssh`) its meaning.

/// Protocol qualifier (`ip`, `tcp`, `ether`, ...); `Default` when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Proto {
    Default,
    Link,
    Ip,
    Arp,
    Rarp,
    Sctp,
    Tcp,
    Udp,
    Icmp,
    Igmp,
    Igrp,
    Atalk,
    Decnet,
    Lat,
    Sca,
    Moprc,
    Mopdl,
    Ipv6,
    Icmpv6,
    Ah,
    Esp,
    Pim,
    Vrrp,
    Aarp,
    Iso,
    Esis,
    Isis,
    Clnp,
    Stp,
    Ipx,
    Netbeui,
    IsisL1,
    IsisL2,
    IsisIih,
    IsisSnp,
    IsisCsnp,
    IsisPsnp,
    IsisLsp,
    Radio,
    Carp,
    /// No qualifier is in scope (libpcap's `Q_UNDEF`).
    Undef,
}

impl Proto {
    /// The keyword that names this protocol, for messages.
    pub fn name(self) -> &'static str {
        use Proto::*;
        match self {
            Default => "default",
            Link => "link",
            Ip => "ip",
            Arp => "arp",
            Rarp => "rarp",
            Sctp => "sctp",
            Tcp => "tcp",
            Udp => "udp",
            Icmp => "icmp",
            Igmp => "igmp",
            Igrp => "igrp",
            Atalk => "atalk",
            Decnet => "decnet",
            Lat => "lat",
            Sca => "sca",
            Moprc => "moprc",
            Mopdl => "mopdl",
            Ipv6 => "ip6",
            Icmpv6 => "icmp6",
            Ah => "ah",
            Esp => "esp",
            Pim => "pim",
            Vrrp => "vrrp",
            Aarp => "aarp",
            Iso => "iso",
            Esis => "esis",
            Isis => "isis",
            Clnp => "clnp",
            Stp => "stp",
            Ipx => "ipx",
            Netbeui => "netbeui",
            IsisL1 => "l1",
            IsisL2 => "l2",
            IsisIih => "iih",
            IsisSnp => "snp",
            IsisCsnp => "csnp",
            IsisPsnp => "psnp",
            IsisLsp => "lsp",
            Radio => "radio",
            Carp => "carp",
            Undef => "undefined",
        }
    }
}

/// Direction qualifier (`src`, `dst`, `src or dst`, 802.11 `addr1`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Dir {
    Default,
    Src,
    Dst,
    /// `src or dst`
    Or,
    /// `src and dst`
    And,
    Addr1,
    Addr2,
    Addr3,
    Addr4,
    Ra,
    Ta,
    Undef,
}

/// Address-type qualifier (`host`, `net`, `port`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AddrKind {
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Gateway,
    Proto,
    Protochain,
    Undef,
}

/// The qualifiers in force for one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Qual {
    /// Protocol.
    pub proto: Proto,
    /// Direction.
    pub dir: Dir,
    /// Address type.
    pub addr: AddrKind,
}

impl Qual {
    /// No qualifiers in scope: a bare value here is a syntax error.
    pub const UNDEF: Qual = Qual {
        proto: Proto::Undef,
        dir: Dir::Undef,
        addr: AddrKind::Undef,
    };
}
