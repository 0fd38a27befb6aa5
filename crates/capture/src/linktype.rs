//! Link-layer header types: the `LINKTYPE_*` values stored in capture files
//! and the `DLT_*` values libpcap uses in memory, with libpcap's names.
//!
//! Most values are equal; the exceptions are historical DLT values that
//! differ between operating systems (`DLT_RAW` is 12 on Linux, 14 on
//! OpenBSD), which files store under a platform-neutral LINKTYPE value
//! (`LINKTYPE_RAW` is 101). The DLT values here are Linux's.

use std::fmt;

/// A link-layer header type as capture files store it (`LINKTYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

/// A link-layer header type as libpcap on Linux names it (`DLT_*`): what
/// `tcpdump -y NAME` selects and what the filter compiler switches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dlt(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte host-endian address family.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP without HDLC framing.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// IEEE 802.11 without radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: a 4-byte network-order address family.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 with a radiotap header.
    pub const IEEE802_11_RADIO: LinkType = LinkType(127);
    /// Per-Packet Information header.
    pub const PPI: LinkType = LinkType(192);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// libpcap's `linktype_to_dlt` on Linux.
    pub fn to_dlt(self) -> Dlt {
        let lt = self.0;
        if let Some(&(dlt, _)) = DLT_LINKTYPE.iter().find(|&&(_, l)| l == lt) {
            return Dlt(dlt);
        }
        // The "matching" range and everything unknown map to themselves.
        Dlt(lt)
    }
}

impl Dlt {
    /// BSD loopback.
    pub const NULL: Dlt = Dlt(0);
    /// Ethernet (`EN10MB`, also for faster Ethernets).
    pub const EN10MB: Dlt = Dlt(1);
    /// Token ring.
    pub const IEEE802: Dlt = Dlt(6);
    /// SLIP.
    pub const SLIP: Dlt = Dlt(8);
    /// PPP.
    pub const PPP: Dlt = Dlt(9);
    /// FDDI.
    pub const FDDI: Dlt = Dlt(10);
    /// Raw IP (Linux value; `LINKTYPE_RAW` 101 in files).
    pub const RAW: Dlt = Dlt(12);
    /// PPP in HDLC-like framing.
    pub const PPP_SERIAL: Dlt = Dlt(50);
    /// PPPoE.
    pub const PPP_ETHER: Dlt = Dlt(51);
    /// Cisco HDLC.
    pub const C_HDLC: Dlt = Dlt(104);
    /// IEEE 802.11.
    pub const IEEE802_11: Dlt = Dlt(105);
    /// Frame Relay.
    pub const FRELAY: Dlt = Dlt(107);
    /// OpenBSD loopback.
    pub const LOOP: Dlt = Dlt(108);
    /// OpenBSD encapsulated IP.
    pub const ENC: Dlt = Dlt(109);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: Dlt = Dlt(113);
    /// OpenBSD pflog.
    pub const PFLOG: Dlt = Dlt(117);
    /// 802.11 with Prism header.
    pub const PRISM_HEADER: Dlt = Dlt(119);
    /// IP over Fibre Channel.
    pub const IP_OVER_FC: Dlt = Dlt(122);
    /// Sun raw ATM.
    pub const SUNATM: Dlt = Dlt(123);
    /// 802.11 with radiotap header.
    pub const IEEE802_11_RADIO: Dlt = Dlt(127);
    /// Linux ARCNET.
    pub const ARCNET_LINUX: Dlt = Dlt(129);
    /// 802.11 with AVS header.
    pub const IEEE802_11_RADIO_AVS: Dlt = Dlt(163);
    /// USB with Linux header.
    pub const USB_LINUX: Dlt = Dlt(189);
    /// Per-Packet Information.
    pub const PPI: Dlt = Dlt(192);
    /// USB with padded (memory-mapped) Linux header.
    pub const USB_LINUX_MMAPPED: Dlt = Dlt(220);
    /// MPLS with the label as link-layer header.
    pub const MPLS: Dlt = Dlt(219);
    /// CAN with SocketCAN headers.
    pub const CAN_SOCKETCAN: Dlt = Dlt(227);
    /// Raw IPv4.
    pub const IPV4: Dlt = Dlt(228);
    /// Raw IPv6.
    pub const IPV6: Dlt = Dlt(229);
    /// D-Bus.
    pub const DBUS: Dlt = Dlt(231);
    /// Linux netfilter log.
    pub const NFLOG: Dlt = Dlt(239);
    /// USB with USBPcap header.
    pub const USBPCAP: Dlt = Dlt(249);
    /// Linux netlink.
    pub const NETLINK: Dlt = Dlt(253);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: Dlt = Dlt(276);
    /// Elektrobit High Speed Capture and Replay.
    pub const EBHSCR: Dlt = Dlt(279);

    /// libpcap's `dlt_to_linktype` on Linux: `None` for a DLT that cannot
    /// be stored in a file (tcpdump then refuses to write it).
    pub fn to_linktype(self) -> Option<LinkType> {
        let dlt = self.0;
        if let Some(&(_, lt)) = DLT_LINKTYPE.iter().find(|&&(d, _)| d == dlt) {
            return Some(LinkType(lt));
        }
        (MATCHING_MIN..=MATCHING_MAX)
            .contains(&dlt)
            .then_some(LinkType(dlt))
    }

    /// libpcap's name (`pcap_datalink_val_to_name`), e.g. `"EN10MB"`.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|e| e.0 == self.0).map(|e| e.1)
    }

    /// libpcap's description (`pcap_datalink_val_to_description`).
    pub fn description(self) -> Option<&'static str> {
        NAMES.iter().find(|e| e.0 == self.0).map(|e| e.2)
    }

    /// The DLT named `name`, compared without regard to ASCII case, as
    /// `tcpdump -y` (`pcap_datalink_name_to_val`) looks it up.
    pub fn from_name(name: &str) -> Option<Dlt> {
        NAMES
            .iter()
            .find(|e| e.1.eq_ignore_ascii_case(name))
            .map(|e| Dlt(e.0))
    }

    /// libpcap's `max_snaplen_for_dlt`: the largest packet it accepts.
    pub fn max_snaplen(self) -> u32 {
        match self {
            Dlt::DBUS => 128 * 1024 * 1024,
            Dlt::EBHSCR => 8 * 1024 * 1024,
            Dlt::USBPCAP => 1024 * 1024,
            _ => MAXIMUM_SNAPLEN,
        }
    }

    /// libpcap's `pcap_adjust_snapshot`: a file's snapshot length as
    /// libpcap reports it (0 or more than `i32::MAX` become [`max_snaplen`](Self::max_snaplen)).
    pub fn adjust_snaplen(self, snaplen: u32) -> u32 {
        if snaplen == 0 || snaplen > i32::MAX as u32 {
            self.max_snaplen()
        } else {
            snaplen
        }
    }
}

impl fmt::Display for Dlt {
    /// The libpcap name, or the number when it has none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// libpcap's `MAXIMUM_SNAPLEN`.
pub const MAXIMUM_SNAPLEN: u32 = 262_144;

/// Values from which LINKTYPE and DLT agree (`LINKTYPE_MATCHING_MIN`..`MAX`).
const MATCHING_MIN: u32 = 104;
const MATCHING_MAX: u32 = 289;

/// (Linux DLT, LINKTYPE) pairs outside the matching range, plus the two
/// inside it that differ (libpcap's `map[]` and its special cases).
const DLT_LINKTYPE: &[(u32, u32)] = &[
    (0, 0),
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 6),
    (7, 7),
    (8, 8),
    (9, 9),
    (10, 10),
    (99, 99),
    (11, 100),  // ATM_RFC1483
    (12, 101),  // RAW
    (15, 102),  // SLIP_BSDOS
    (16, 103),  // PPP_BSDOS
    (19, 106),  // ATM_CLIP: inside the matching range, but not equal
    (50, 50),   // PPP_SERIAL (LINKTYPE_PPP_HDLC)
    (51, 51),   // PPP_ETHER
    (246, 246), // PFSYNC
    (258, 258), // PKTAP
];

/// libpcap's table of DLT names and descriptions (value, name, description).
const NAMES: &[(u32, &str, &str)] = &[
    (0, "NULL", "BSD loopback"),
    (1, "EN10MB", "Ethernet"),
    (6, "IEEE802", "Token ring"),
    (7, "ARCNET", "BSD ARCNET"),
    (8, "SLIP", "SLIP"),
    (9, "PPP", "PPP"),
    (10, "FDDI", "FDDI"),
    (11, "ATM_RFC1483", "RFC 1483 LLC-encapsulated ATM"),
    (12, "RAW", "Raw IP"),
    (15, "SLIP_BSDOS", "BSD/OS SLIP"),
    (16, "PPP_BSDOS", "BSD/OS PPP"),
    (19, "ATM_CLIP", "Linux Classical IP over ATM"),
    (50, "PPP_SERIAL", "PPP over serial"),
    (51, "PPP_ETHER", "PPPoE"),
    (99, "SYMANTEC_FIREWALL", "Symantec Firewall"),
    (104, "C_HDLC", "Cisco HDLC"),
    (105, "IEEE802_11", "802.11"),
    (107, "FRELAY", "Frame Relay"),
    (108, "LOOP", "OpenBSD loopback"),
    (109, "ENC", "OpenBSD encapsulated IP"),
    (113, "LINUX_SLL", "Linux cooked v1"),
    (114, "LTALK", "Localtalk"),
    (117, "PFLOG", "OpenBSD pflog file"),
    (119, "PRISM_HEADER", "802.11 plus Prism header"),
    (122, "IP_OVER_FC", "RFC 2625 IP-over-Fibre Channel"),
    (123, "SUNATM", "Sun raw ATM"),
    (127, "IEEE802_11_RADIO", "802.11 plus radiotap header"),
    (129, "ARCNET_LINUX", "Linux ARCNET"),
    (130, "JUNIPER_MLPPP", "Juniper Multi-Link PPP"),
    (131, "JUNIPER_MLFR", "Juniper Multi-Link Frame Relay"),
    (132, "JUNIPER_ES", "Juniper Encryption Services PIC"),
    (133, "JUNIPER_GGSN", "Juniper GGSN PIC"),
    (134, "JUNIPER_MFR", "Juniper FRF.16 Frame Relay"),
    (135, "JUNIPER_ATM2", "Juniper ATM2 PIC"),
    (136, "JUNIPER_SERVICES", "Juniper Advanced Services PIC"),
    (137, "JUNIPER_ATM1", "Juniper ATM1 PIC"),
    (138, "APPLE_IP_OVER_IEEE1394", "Apple IP-over-IEEE 1394"),
    (139, "MTP2_WITH_PHDR", "SS7 MTP2 with Pseudo-header"),
    (140, "MTP2", "SS7 MTP2"),
    (141, "MTP3", "SS7 MTP3"),
    (142, "SCCP", "SS7 SCCP"),
    (143, "DOCSIS", "DOCSIS"),
    (144, "LINUX_IRDA", "Linux IrDA"),
    (
        163,
        "IEEE802_11_RADIO_AVS",
        "802.11 plus AVS radio information header",
    ),
    (164, "JUNIPER_MONITOR", "Juniper Passive Monitor PIC"),
    (165, "BACNET_MS_TP", "BACnet MS/TP"),
    (166, "PPP_PPPD", "PPP for pppd, with direction flag"),
    (167, "JUNIPER_PPPOE", "Juniper PPPoE"),
    (168, "JUNIPER_PPPOE_ATM", "Juniper PPPoE/ATM"),
    (169, "GPRS_LLC", "GPRS LLC"),
    (170, "GPF_T", "GPF-T"),
    (171, "GPF_F", "GPF-F"),
    (174, "JUNIPER_PIC_PEER", "Juniper PIC Peer"),
    (175, "ERF_ETH", "Ethernet with Endace ERF header"),
    (176, "ERF_POS", "Packet-over-SONET with Endace ERF header"),
    (177, "LINUX_LAPD", "Linux vISDN LAPD"),
    (178, "JUNIPER_ETHER", "Juniper Ethernet"),
    (179, "JUNIPER_PPP", "Juniper PPP"),
    (180, "JUNIPER_FRELAY", "Juniper Frame Relay"),
    (181, "JUNIPER_CHDLC", "Juniper C-HDLC"),
    (182, "MFR", "FRF.16 Frame Relay"),
    (183, "JUNIPER_VP", "Juniper Voice PIC"),
    (184, "A429", "Arinc 429"),
    (185, "A653_ICM", "Arinc 653 Interpartition Communication"),
    (186, "USB_FREEBSD", "USB with FreeBSD header"),
    (
        187,
        "BLUETOOTH_HCI_H4",
        "Bluetooth HCI UART transport layer",
    ),
    (
        188,
        "IEEE802_16_MAC_CPS",
        "IEEE 802.16 MAC Common Part Sublayer",
    ),
    (189, "USB_LINUX", "USB with Linux header"),
    (190, "CAN20B", "Controller Area Network (CAN) v. 2.0B"),
    (
        191,
        "IEEE802_15_4_LINUX",
        "IEEE 802.15.4 with Linux padding",
    ),
    (192, "PPI", "Per-Packet Information"),
    (
        193,
        "IEEE802_16_MAC_CPS_RADIO",
        "IEEE 802.16 MAC Common Part Sublayer plus radiotap header",
    ),
    (194, "JUNIPER_ISM", "Juniper Integrated Service Module"),
    (195, "IEEE802_15_4", "IEEE 802.15.4 with FCS"),
    (196, "SITA", "SITA pseudo-header"),
    (197, "ERF", "Endace ERF header"),
    (198, "RAIF1", "Ethernet with u10 Networks pseudo-header"),
    (199, "IPMB_KONTRON", "IPMB with Kontron pseudo-header"),
    (200, "JUNIPER_ST", "Juniper Secure Tunnel"),
    (
        201,
        "BLUETOOTH_HCI_H4_WITH_PHDR",
        "Bluetooth HCI UART transport layer plus pseudo-header",
    ),
    (202, "AX25_KISS", "AX.25 with KISS header"),
    (
        209,
        "IPMB_LINUX",
        "IPMB with Linux/Pigeon Point pseudo-header",
    ),
    (
        215,
        "IEEE802_15_4_NONASK_PHY",
        "IEEE 802.15.4 with non-ASK PHY data",
    ),
    (216, "LINUX_EVDEV", "Linux evdev events"),
    (219, "MPLS", "MPLS with label as link-layer header"),
    (220, "USB_LINUX_MMAPPED", "USB with padded Linux header"),
    (221, "DECT", "DECT"),
    (222, "AOS", "AOS Space Data Link protocol"),
    (223, "WIHART", "Wireless HART"),
    (224, "FC_2", "Fibre Channel FC-2"),
    (
        225,
        "FC_2_WITH_FRAME_DELIMS",
        "Fibre Channel FC-2 with frame delimiters",
    ),
    (226, "IPNET", "Solaris ipnet"),
    (227, "CAN_SOCKETCAN", "CAN-bus with SocketCAN headers"),
    (228, "IPV4", "Raw IPv4"),
    (229, "IPV6", "Raw IPv6"),
    (230, "IEEE802_15_4_NOFCS", "IEEE 802.15.4 without FCS"),
    (231, "DBUS", "D-Bus"),
    (232, "JUNIPER_VS", "Juniper Virtual Server"),
    (233, "JUNIPER_SRX_E2E", "Juniper SRX E2E"),
    (234, "JUNIPER_FIBRECHANNEL", "Juniper Fibre Channel"),
    (235, "DVB_CI", "DVB-CI"),
    (236, "MUX27010", "MUX27010"),
    (237, "STANAG_5066_D_PDU", "STANAG 5066 D_PDUs"),
    (238, "JUNIPER_ATM_CEMIC", "Juniper ATM CEMIC"),
    (239, "NFLOG", "Linux netfilter log messages"),
    (
        240,
        "NETANALYZER",
        "Ethernet with Hilscher netANALYZER pseudo-header",
    ),
    (
        241,
        "NETANALYZER_TRANSPARENT",
        "Ethernet with Hilscher netANALYZER pseudo-header and with preamble and SFD",
    ),
    (242, "IPOIB", "RFC 4391 IP-over-Infiniband"),
    (243, "MPEG_2_TS", "MPEG-2 transport stream"),
    (244, "NG40", "ng40 protocol tester Iub/Iur"),
    (245, "NFC_LLCP", "NFC LLCP PDUs with pseudo-header"),
    (246, "PFSYNC", "Packet filter state syncing"),
    (247, "INFINIBAND", "InfiniBand"),
    (248, "SCTP", "SCTP"),
    (249, "USBPCAP", "USB with USBPcap header"),
    (
        250,
        "RTAC_SERIAL",
        "Schweitzer Engineering Laboratories RTAC packets",
    ),
    (251, "BLUETOOTH_LE_LL", "Bluetooth Low Energy air interface"),
    (253, "NETLINK", "Linux netlink"),
    (254, "BLUETOOTH_LINUX_MONITOR", "Bluetooth Linux Monitor"),
    (
        255,
        "BLUETOOTH_BREDR_BB",
        "Bluetooth Basic Rate/Enhanced Data Rate baseband packets",
    ),
    (
        256,
        "BLUETOOTH_LE_LL_WITH_PHDR",
        "Bluetooth Low Energy air interface with pseudo-header",
    ),
    (257, "PROFIBUS_DL", "PROFIBUS data link layer"),
    (258, "PKTAP", "Apple DLT_PKTAP"),
    (259, "EPON", "Ethernet with 802.3 Clause 65 EPON preamble"),
    (260, "IPMI_HPM_2", "IPMI trace packets"),
    (261, "ZWAVE_R1_R2", "Z-Wave RF profile R1 and R2 packets"),
    (262, "ZWAVE_R3", "Z-Wave RF profile R3 packets"),
    (
        263,
        "WATTSTOPPER_DLM",
        "WattStopper Digital Lighting Management (DLM) and Legrand Nitoo Open protocol",
    ),
    (264, "ISO_14443", "ISO 14443 messages"),
    (265, "RDS", "IEC 62106 Radio Data System groups"),
    (266, "USB_DARWIN", "USB with Darwin header"),
    (267, "OPENFLOW", "OpenBSD DLT_OPENFLOW"),
    (268, "SDLC", "IBM SDLC frames"),
    (269, "TI_LLN_SNIFFER", "TI LLN sniffer frames"),
    (271, "VSOCK", "Linux vsock"),
    (
        272,
        "NORDIC_BLE",
        "Nordic Semiconductor Bluetooth LE sniffer frames",
    ),
    (
        273,
        "DOCSIS31_XRA31",
        "Excentis XRA-31 DOCSIS 3.1 RF sniffer frames",
    ),
    (274, "ETHERNET_MPACKET", "802.3br mPackets"),
    (
        275,
        "DISPLAYPORT_AUX",
        "DisplayPort AUX channel monitoring data",
    ),
    (276, "LINUX_SLL2", "Linux cooked v2"),
    (278, "OPENVIZSLA", "OpenVizsla USB"),
    (
        279,
        "EBHSCR",
        "Elektrobit High Speed Capture and Replay (EBHSCR)",
    ),
    (280, "VPP_DISPATCH", "VPP graph dispatch tracer"),
    (281, "DSA_TAG_BRCM", "Broadcom tag"),
    (282, "DSA_TAG_BRCM_PREPEND", "Broadcom tag (prepended)"),
    (283, "IEEE802_15_4_TAP", "IEEE 802.15.4 with pseudo-header"),
    (284, "DSA_TAG_DSA", "Marvell DSA"),
    (285, "DSA_TAG_EDSA", "Marvell EDSA"),
    (286, "ELEE", "ELEE lawful intercept packets"),
    (
        287,
        "Z_WAVE_SERIAL",
        "Z-Wave serial frames between host and chip",
    ),
    (
        288,
        "USB_2_0",
        "USB 2.0/1.1/1.0 as transmitted over the cable",
    ),
    (289, "ATSC_ALP", "ATSC Link-Layer Protocol packets"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ip_maps_between_its_two_numbers() {
        assert_eq!(LinkType::RAW.to_dlt(), Dlt::RAW);
        assert_eq!(Dlt::RAW.to_linktype(), Some(LinkType::RAW));
        // OpenBSD's DLT_RAW (14) is not a Linux DLT and has no file value.
        assert_eq!(LinkType(14).to_dlt(), Dlt(14));
        assert_eq!(Dlt(14).to_linktype(), None);
        assert_eq!(LinkType(106).to_dlt(), Dlt(19));
        assert_eq!(LinkType::LINUX_SLL2.to_dlt(), Dlt::LINUX_SLL2);
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(Dlt::from_name("en10mb"), Some(Dlt::EN10MB));
        assert_eq!(Dlt::from_name("LINUX_SLL2"), Some(Dlt::LINUX_SLL2));
        assert_eq!(Dlt::from_name("nonsense"), None);
        assert_eq!(Dlt::EN10MB.to_string(), "EN10MB");
        assert_eq!(Dlt::LINUX_SLL.description(), Some("Linux cooked v1"));
        assert_eq!(Dlt(65000).to_string(), "65000");
    }

    #[test]
    fn snapshot_adjustment() {
        assert_eq!(Dlt::EN10MB.adjust_snaplen(0), 262_144);
        assert_eq!(Dlt::EN10MB.adjust_snaplen(65535), 65535);
        assert_eq!(Dlt::DBUS.adjust_snaplen(u32::MAX), 128 << 20);
    }
}
