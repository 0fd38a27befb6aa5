//! Protocol numbers and header constants used by code generation.
#![allow(missing_docs)]

// Ethernet types.
pub const ETHERTYPE_IP: u32 = 0x0800;
pub const ETHERTYPE_ARP: u32 = 0x0806;
pub const ETHERTYPE_NS: u32 = 0x0600;
pub const ETHERTYPE_MOPDL: u32 = 0x6001;
pub const ETHERTYPE_MOPRC: u32 = 0x6002;
pub const ETHERTYPE_DN: u32 = 0x6003;
pub const ETHERTYPE_LAT: u32 = 0x6004;
pub const ETHERTYPE_SCA: u32 = 0x6007;
pub const ETHERTYPE_TEB: u32 = 0x6558;
pub const ETHERTYPE_REVARP: u32 = 0x8035;
pub const ETHERTYPE_ATALK: u32 = 0x809b;
pub const ETHERTYPE_AARP: u32 = 0x80f3;
pub const ETHERTYPE_8021Q: u32 = 0x8100;
pub const ETHERTYPE_IPX: u32 = 0x8137;
pub const ETHERTYPE_IPV6: u32 = 0x86dd;
pub const ETHERTYPE_MPLS: u32 = 0x8847;
pub const ETHERTYPE_PPPOED: u32 = 0x8863;
pub const ETHERTYPE_PPPOES: u32 = 0x8864;
pub const ETHERTYPE_8021AD: u32 = 0x88a8;
pub const ETHERTYPE_LOOPBACK: u32 = 0x9000;
pub const ETHERTYPE_8021QINQ: u32 = 0x9100;

/// Largest 802.3 length field; larger values are Ethernet II types.
pub const ETHERMTU: u32 = 1500;

// 802.2 SAPs.
pub const LLCSAP_IP: u32 = 0x06;
pub const LLCSAP_8021D: u32 = 0x42;
pub const LLCSAP_SNAP: u8 = 0xaa;
pub const LLCSAP_IPX: u32 = 0xe0;
pub const LLCSAP_NETBEUI: u32 = 0xf0;
pub const LLCSAP_ISONS: u32 = 0xfe;

// LLC control field.
pub const LLC_S_FMT: u32 = 1;
pub const LLC_U_FMT: u32 = 3;
pub const LLC_S_CMD_MASK: u32 = 0x0f;
pub const LLC_U_CMD_MASK: u32 = 0xef;

// OSI network-layer protocol identifiers.
pub const ISO8473_CLNP: u32 = 0x81;
pub const ISO9542_ESIS: u32 = 0x82;
pub const ISO10589_ISIS: u32 = 0x83;
pub const ISIS_L1_LAN_IIH: u32 = 15;
pub const ISIS_L2_LAN_IIH: u32 = 16;
pub const ISIS_PTP_IIH: u32 = 17;
pub const ISIS_L1_LSP: u32 = 18;
pub const ISIS_L2_LSP: u32 = 20;
pub const ISIS_L1_CSNP: u32 = 24;
pub const ISIS_L2_CSNP: u32 = 25;
pub const ISIS_L1_PSNP: u32 = 26;
pub const ISIS_L2_PSNP: u32 = 27;

// IP protocol numbers.
pub const IPPROTO_HOPOPTS: u32 = 0;
pub const IPPROTO_ICMP: u32 = 1;
pub const IPPROTO_IGMP: u32 = 2;
pub const IPPROTO_TCP: u32 = 6;
pub const IPPROTO_IGRP: u32 = 9;
pub const IPPROTO_UDP: u32 = 17;
pub const IPPROTO_ROUTING: u32 = 43;
pub const IPPROTO_FRAGMENT: u32 = 44;
pub const IPPROTO_ESP: u32 = 50;
pub const IPPROTO_AH: u32 = 51;
pub const IPPROTO_ICMPV6: u32 = 58;
pub const IPPROTO_NONE: u32 = 59;
pub const IPPROTO_DSTOPTS: u32 = 60;
pub const IPPROTO_PIM: u32 = 103;
pub const IPPROTO_VRRP: u32 = 112;
pub const IPPROTO_CARP: u32 = 112;
pub const IPPROTO_SCTP: u32 = 132;

// PPP protocol numbers.
pub const PPP_IP: u32 = 0x0021;
pub const PPP_OSI: u32 = 0x0023;
pub const PPP_NS: u32 = 0x0025;
pub const PPP_DECNET: u32 = 0x0027;
pub const PPP_APPLE: u32 = 0x0029;
pub const PPP_IPX: u32 = 0x002b;
pub const PPP_BRPDU: u32 = 0x0031;
pub const PPP_IPV6: u32 = 0x0057;
pub const PPP_MPLS_UCAST: u32 = 0x0281;

// Linux cooked-capture protocol values and packet types.
pub const LINUX_SLL_P_802_3: u32 = 0x0001;
pub const LINUX_SLL_P_802_2: u32 = 0x0004;
pub const LINUX_SLL_OUTGOING: u32 = 4;

// Linux socket-filter ancillary data (offsets are `SKF_AD_OFF + n`).
pub const SKF_AD_OFF: u32 = 0xffff_f000;
pub const SKF_AD_PKTTYPE: u32 = 4;
pub const SKF_AD_IFINDEX: u32 = 8;
pub const PACKET_OUTGOING: u32 = 4;

// Address families as this (Linux) host numbers them.
pub const AF_INET: u32 = 2;
pub const AF_INET6: u32 = 10;
/// `AF_INET6` of NetBSD, OpenBSD, BSD/OS (and Npcap).
pub const BSD_AFNUM_INET6_BSD: u32 = 24;
/// `AF_INET6` of FreeBSD.
pub const BSD_AFNUM_INET6_FREEBSD: u32 = 28;
/// `AF_INET6` of macOS and the other Darwin systems.
pub const BSD_AFNUM_INET6_DARWIN: u32 = 30;

// pflog header layout and values.
pub const PFLOG_AF: u32 = 1;
pub const PFLOG_ACTION: u32 = 2;
pub const PFLOG_REASON: u32 = 3;
pub const PFLOG_IFNAME: u32 = 4;
pub const PFLOG_IFNAME_SIZE: usize = 16;
pub const PFLOG_RULESET: u32 = 20;
pub const PFLOG_RULESET_SIZE: usize = 16;
pub const PFLOG_RULENR: u32 = 36;
pub const PFLOG_SUBRULENR: u32 = 40;
pub const PFLOG_DIR: u32 = 60;
pub const PF_IN: u32 = 1;
pub const PF_OUT: u32 = 2;

// 802.11 frame control.
pub const WLAN_FC0_TYPE_MASK: u32 = 0x0c;
pub const WLAN_FC0_SUBTYPE_MASK: u32 = 0xf0;
pub const WLAN_FC0_TYPE_CTL: u32 = 0x04;
pub const WLAN_FC0_SUBTYPE_CTS: u32 = 0xc0;
pub const WLAN_FC0_SUBTYPE_ACK: u32 = 0xd0;
pub const WLAN_FC1_DIR_MASK: u32 = 0x03;
pub const WLAN_FC1_DIR_DSTODS: u32 = 0x03;

/// UDP port of Geneve.
pub const GENEVE_PORT: u32 = 6081;

/// Byte-swaps a 32-bit value (for little-endian radiotap fields).
pub const fn swap32(v: u32) -> u32 {
    v.swap_bytes()
}
