//! Link-layer header types (libpcap's `DLT_` values as used on Linux).

use std::fmt;

/// A link-layer header type, by its `DLT_` number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte host-endian address family.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (and 802.3).
    pub const EN10MB: LinkType = LinkType(1);
    /// IEEE 802.5 Token Ring.
    pub const IEEE802: LinkType = LinkType(6);
    /// PPP with HDLC-like framing.
    pub const PPP: LinkType = LinkType(9);
    /// FDDI.
    pub const FDDI: LinkType = LinkType(10);
    /// Raw IPv4 or IPv6 (Linux's `DLT_RAW`).
    pub const RAW: LinkType = LinkType(12);
    /// Cisco HDLC: 4-byte header with an Ethernet type at offset 2.
    pub const C_HDLC: LinkType = LinkType(104);
    /// IEEE 802.11 without radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: 4-byte network-order address family.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture, version 1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// OpenBSD pflog.
    pub const PFLOG: LinkType = LinkType(117);
    /// IEEE 802.11 with a radiotap header.
    pub const IEEE802_11_RADIO: LinkType = LinkType(127);
    /// Per-Packet Information header (with its own length field) in front
    /// of an 802.11 frame.
    pub const PPI: LinkType = LinkType(192);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture, version 2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Name, description (both as libpcap spells them) and value.
    const NAMES: &'static [(&'static str, &'static str, LinkType)] = &[
        ("NULL", "BSD loopback", LinkType::NULL),
        ("EN10MB", "Ethernet", LinkType::EN10MB),
        ("IEEE802", "Token ring", LinkType::IEEE802),
        ("PPP", "PPP", LinkType::PPP),
        ("FDDI", "FDDI", LinkType::FDDI),
        ("RAW", "Raw IP", LinkType::RAW),
        ("C_HDLC", "Cisco HDLC", LinkType::C_HDLC),
        ("IEEE802_11", "802.11", LinkType::IEEE802_11),
        ("LOOP", "OpenBSD loopback", LinkType::LOOP),
        ("LINUX_SLL", "Linux cooked v1", LinkType::LINUX_SLL),
        ("PFLOG", "OpenBSD pflog file", LinkType::PFLOG),
        (
            "IEEE802_11_RADIO",
            "802.11 plus radiotap header",
            LinkType::IEEE802_11_RADIO,
        ),
        ("PPI", "Per-Packet Information", LinkType::PPI),
        ("IPV4", "Raw IPv4", LinkType::IPV4),
        ("IPV6", "Raw IPv6", LinkType::IPV6),
        ("LINUX_SLL2", "Linux cooked v2", LinkType::LINUX_SLL2),
    ];

    /// Looks up a name such as `"EN10MB"` (case-insensitive, optional `DLT_` prefix).
    pub fn from_name(name: &str) -> Option<LinkType> {
        let name = name.strip_prefix("DLT_").unwrap_or(name);
        Self::NAMES
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, _, lt)| lt)
    }

    /// The `tcpdump -y` name of a supported type.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|&&(_, _, lt)| lt == self)
            .map(|&(n, _, _)| n)
    }

    /// libpcap's description of a supported type (`"Ethernet"`, ...), as
    /// its error messages use it.
    pub fn description(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|&&(_, _, lt)| lt == self)
            .map(|&(_, d, _)| d)
    }

    /// Converts a pcap file's `LINKTYPE_` value to the `DLT_` value used here
    /// (they differ only for a few historical types).
    pub fn from_pcap_linktype(linktype: u32) -> LinkType {
        match linktype {
            101 => LinkType::RAW,
            other => LinkType(other),
        }
    }

    /// Every link type this compiler generates code for.
    pub fn supported() -> impl Iterator<Item = LinkType> {
        Self::NAMES.iter().map(|&(_, _, lt)| lt)
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "DLT {}", self.0),
        }
    }
}

impl From<u32> for LinkType {
    fn from(v: u32) -> LinkType {
        LinkType(v)
    }
}
