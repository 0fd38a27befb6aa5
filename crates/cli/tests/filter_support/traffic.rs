//! Deterministic generated traffic for the filter tests: Ethernet frames that exercise every
//! construct of the pcap-filter language (and a pflog capture for its fields).
//!
//! The values (addresses, ports, VLAN ids, MPLS labels, PPPoE sessions, Geneve VNIs, LLC
//! controls, ICMP types...) are those the test expressions name, mixed with others, so that
//! most expressions select some packets but not all.

use bpfkit_capture::{Dlt, PcapWriter, Precision, SavefileHeader, Timestamp};

/// splitmix64: small, seeded, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const MACS: &[[u8; 6]] = &[
    [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
    [0x00, 0x01, 0x02, 0x03, 0x04, 0x05],
    [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
    [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
];
const GROUP_MACS: &[[u8; 6]] = &[
    [0xff; 6],
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x05],
    [0x33, 0x33, 0x00, 0x00, 0x00, 0x01],
    [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00],
];
const V4: &[[u8; 4]] = &[
    [10, 0, 0, 1],
    [10, 0, 0, 2],
    [10, 0, 0, 3],
    [10, 0, 0, 4],
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 9, 9, 9],
    [192, 168, 1, 1],
    [192, 168, 1, 77],
    [172, 16, 5, 4],
    [10, 1, 2, 3],
    [10, 1, 1, 1],
    [127, 0, 0, 1],
    [8, 8, 4, 4],
];
const V4_GROUP: &[[u8; 4]] = &[[224, 0, 0, 5], [255, 255, 255, 255], [239, 1, 2, 3]];
const V6: &[[u8; 16]] = &[
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
    [
        0x24, 0x00, 0xcb, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
    ],
];
const V6_GROUP: &[[u8; 16]] = &[
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1],
];
const PORTS: &[u16] = &[
    80, 443, 8080, 22, 53, 67, 68, 123, 1024, 1500, 5050, 9899, 15, 20, 65535, 40000, 3128,
];
const PAYLOAD_LENS: &[usize] = &[0, 0, 1, 6, 12, 40, 100, 200, 420, 1000, 1400];

fn addr4(r: &mut Rng) -> [u8; 4] {
    if r.one_in(8) {
        r.pick(V4_GROUP)
    } else {
        r.pick(V4)
    }
}

fn addr6(r: &mut Rng) -> [u8; 16] {
    if r.one_in(8) {
        r.pick(V6_GROUP)
    } else {
        r.pick(V6)
    }
}

fn payload(r: &mut Rng) -> Vec<u8> {
    let n = r.pick(PAYLOAD_LENS);
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ 0x5a).collect()
}

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn tcp(r: &mut Rng) -> Vec<u8> {
    let flags = r.pick(&[0x02u8, 0x12, 0x10, 0x11, 0x04, 0x18, 0x20, 0xc2, 0x01, 0x14]);
    let options = r.pick(&[0usize, 0, 12]);
    let mut h = Vec::new();
    h.extend(be16(r.pick(PORTS)));
    h.extend(be16(r.pick(PORTS)));
    h.extend([0, 0, 0, 1, 0, 0, 0, 0]);
    h.push((((20 + options) / 4) as u8) << 4);
    h.push(flags);
    h.extend([0xff, 0xff, 0, 0, 0, 0]);
    h.extend(std::iter::repeat_n(1u8, options)); // NOPs
    if r.one_in(6) {
        h.extend(b"GET / HTTP/1.1\r\n");
    }
    h.extend(payload(r));
    h
}

fn udp(r: &mut Rng, ports: (u16, u16), body: Vec<u8>) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(be16(ports.0));
    h.extend(be16(ports.1));
    h.extend(be16((8 + body.len()) as u16));
    h.extend([0, 0]);
    h.extend(body);
    let _ = r;
    h
}

fn random_udp(r: &mut Rng) -> Vec<u8> {
    let ports = (r.pick(PORTS), r.pick(PORTS));
    let body = payload(r);
    udp(r, ports, body)
}

/// A transport header for `proto` (an IP protocol number) and its payload.
fn transport(r: &mut Rng, proto: u8) -> Vec<u8> {
    let mut body = match proto {
        6 => tcp(r),
        17 => random_udp(r),
        1 => {
            let (t, c) = r.pick(&[
                (8u8, 0u8),
                (0, 0),
                (3, 1),
                (3, 3),
                (11, 0),
                (5, 1),
                (13, 0),
                (17, 0),
                (4, 0),
                (12, 0),
            ]);
            vec![t, c, 0, 0, 0, 1, 0, 7]
        }
        58 => {
            let t = r.pick(&[
                128u8, 129, 135, 136, 133, 134, 1, 2, 3, 4, 143, 130, 131, 132, 137, 138, 141, 142,
                144, 151,
            ]);
            vec![t, r.pick(&[0u8, 0, 1]), 0, 0, 0, 0, 0, 0]
        }
        132 => {
            let mut h = Vec::new();
            h.extend(be16(r.pick(&[9899u16, 2905, 80])));
            h.extend(be16(r.pick(&[9899u16, 36412, 3868])));
            h.extend([0; 8]);
            h
        }
        2 => vec![r.pick(&[0x11u8, 0x16, 0x17, 0x22]), 0, 0, 0, 224, 0, 0, 5],
        103 => vec![r.pick(&[0x20u8, 0x23, 0x21]), 0, 0, 0],
        112 => vec![r.pick(&[0x21u8, 0x31]), 7, 100, 1, 0, 0, 0, 0],
        9 => vec![r.pick(&[1u8, 2]), 0, 0, 0],
        89 => vec![2, 1, 0, 44, 10, 0, 0, 1, 0, 0, 0, 0],
        50 => vec![0, 0, 0x10, 0x01, 0, 0, 0, 1],
        _ => Vec::new(),
    };
    body.extend(if proto == 6 || proto == 17 {
        Vec::new()
    } else {
        payload(r)
    });
    body
}

/// An IPv4 packet. `fragment`: (more fragments, offset in 8-byte units).
fn ipv4(r: &mut Rng, proto: u8, body: &[u8], fragment: (bool, u16)) -> Vec<u8> {
    let options = r.one_in(10);
    let ihl = if options { 6 } else { 5 };
    let total = ihl * 4 + body.len();
    let mut h = vec![0x40 | ihl as u8, r.pick(&[0u8, 0x10, 0xb8])];
    h.extend(be16(total as u16));
    h.extend([0x12, 0x34]);
    let flags = (u16::from(fragment.0) << 13) | fragment.1;
    h.extend(be16(flags | if r.one_in(2) { 0x4000 } else { 0 }));
    h.push(r.pick(&[64u8, 1, 4, 128, 255]));
    h.push(proto);
    h.extend([0, 0]);
    h.extend(addr4(r));
    h.extend(addr4(r));
    if options {
        h.extend([0x94, 4, 0, 0]); // router alert
    }
    h.extend(body);
    h
}

/// An IPv4 packet with a random transport, sometimes a fragment.
fn random_ipv4(r: &mut Rng) -> Vec<u8> {
    let proto = r.pick(&[
        6u8, 6, 6, 6, 6, 6, 6, 17, 17, 17, 17, 1, 1, 132, 2, 103, 112, 9, 89, 50, 51, 47, 4,
    ]);
    let body = inner_for(r, proto);
    let fragment = match r.below(12) {
        0 => (true, 0),
        1 => (false, 185),
        2 => (true, 3),
        _ => (false, 0),
    };
    ipv4(r, proto, &body, fragment)
}

/// The body of protocol `proto`, including tunnels (AH, GRE, IP in IP).
fn inner_for(r: &mut Rng, proto: u8) -> Vec<u8> {
    match proto {
        51 => {
            // AH around a transport header: protochain follows it.
            let next = r.pick(&[6u8, 17, 1]);
            let mut h = vec![next, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1];
            h.extend([0; 12]);
            h.extend(transport(r, next));
            h
        }
        47 => {
            let (ethertype, inner) = if r.one_in(2) {
                (0x0800, random_ipv4_plain(r))
            } else {
                (0x86dd, ipv6_simple(r))
            };
            let mut h = vec![0, 0];
            h.extend(be16(ethertype));
            h.extend(inner);
            h
        }
        4 => random_ipv4_plain(r),
        _ => transport(r, proto),
    }
}

/// An unfragmented IPv4 TCP/UDP/ICMP packet (inside tunnels).
fn random_ipv4_plain(r: &mut Rng) -> Vec<u8> {
    let proto = r.pick(&[6u8, 17, 1]);
    let body = transport(r, proto);
    ipv4(r, proto, &body, (false, 0))
}

fn ipv6_header(r: &mut Rng, next: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend(be16(body.len() as u16));
    h.push(next);
    h.push(r.pick(&[64u8, 255, 1]));
    h.extend(addr6(r));
    h.extend(addr6(r));
    h.extend(body);
    h
}

fn ipv6_simple(r: &mut Rng) -> Vec<u8> {
    let proto = r.pick(&[6u8, 17, 58]);
    let body = transport(r, proto);
    ipv6_header(r, proto, &body)
}

/// An IPv6 packet, often with a chain of extension headers before the transport.
fn random_ipv6(r: &mut Rng) -> Vec<u8> {
    let proto = r.pick(&[6u8, 6, 6, 6, 17, 17, 17, 58, 58, 58, 132, 103, 50, 89, 59]);
    let mut body = if proto == 59 {
        payload(r)
    } else {
        transport(r, proto)
    };
    let mut next = proto;
    let chain = match r.below(8) {
        0 => vec![0u8],
        1 => vec![0, 43],
        2 => vec![44],
        3 => vec![60, 51],
        4 => vec![0, 43, 44, 60],
        _ => vec![],
    };
    for &ext in chain.iter().rev() {
        let mut h = vec![next];
        match ext {
            44 => {
                // Fragment header: offset 0 with more fragments, or a later fragment.
                h.push(0);
                h.extend(if r.one_in(2) { [0, 1] } else { [0x05, 0x40] });
                h.extend([0, 0, 0, 9]);
            }
            51 => {
                h.extend([4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1]);
                h.extend([0; 12]);
            }
            _ => {
                h.extend([0, 1, 4, 0, 0, 0, 0]); // one PadN option: 8 bytes
            }
        }
        h.extend(body);
        body = h;
        next = ext;
    }
    ipv6_header(r, next, &body)
}

fn arp(r: &mut Rng, rarp: bool) -> Vec<u8> {
    let op = if rarp {
        r.pick(&[3u16, 4])
    } else {
        r.pick(&[1u16, 2])
    };
    let mut h = vec![0, 1, 8, 0, 6, 4];
    h.extend(be16(op));
    h.extend(r.pick(MACS));
    h.extend(r.pick(V4));
    h.extend(r.pick(MACS));
    h.extend(r.pick(V4));
    h
}

/// An 802.3 frame body: 802.2 LLC (DSAP, SSAP, control) and what follows.
fn llc_body(r: &mut Rng) -> Vec<u8> {
    let mut h = match r.below(12) {
        // STP BPDU.
        0 | 1 => vec![
            0x42, 0x42, 0x03, 0, 0, 0, 0, 0x80, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55,
        ],
        // SNAP: IPv4, AppleTalk, or a bridged Ethernet type.
        2 => {
            let mut h = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
            h.extend(random_ipv4_plain(r));
            h
        }
        3 => vec![0xaa, 0xaa, 0x03, 0x08, 0x00, 0x07, 0x80, 0x9b, 0, 0, 0, 0],
        4 => vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3, 0, 1, 0x80, 0x9b],
        // IPX over 802.2, and "raw" 802.3 IPX (no LLC: the checksum 0xffff).
        5 => vec![0xe0, 0xe0, 0x03, 0xff, 0xff, 0, 30, 0, 4],
        6 => vec![0xff, 0xff, 0, 30, 0, 4, 0, 0],
        // NetBEUI.
        7 => vec![0xf0, 0xf0, 0x03, 0x2c, 0, 0xff, 0xef],
        // ISO (CLNP, ES-IS, IS-IS by NLPID); IS-IS PDU type at byte 4 after the NLPID.
        8 => vec![
            0xfe,
            0xfe,
            0x03,
            r.pick(&[0x81u8, 0x82, 0x83]),
            27,
            1,
            0,
            r.pick(&[15u8, 16, 17, 18, 20, 24, 25, 26, 27]),
            1,
            0,
            0,
        ],
        // Other SAPs with every kind of control field: I, S and U frames.
        _ => {
            let control = r.pick(&[
                0x00u8, 0x02, 0x01, 0x05, 0x09, 0x03, 0x63, 0x43, 0x0f, 0x6f, 0xe3, 0xaf, 0x87,
                0x0d,
            ]);
            let sap = r.pick(&[0x06u8, 0x04, 0x10, 0x42, 0xaa]);
            vec![sap, sap | r.pick(&[0u8, 1]), control, 0, 0]
        }
    };
    h.extend(payload(r).into_iter().take(60));
    h
}

/// A DECnet phase IV routing header (2-byte length, flags, addresses area.node LE).
fn decnet(r: &mut Rng) -> Vec<u8> {
    let addr = |r: &mut Rng| {
        let (area, node) = r.pick(&[(1u16, 2u16), (10, 5), (63, 1023), (2, 7)]);
        (area << 10 | node).to_le_bytes()
    };
    let mut h = vec![20, 0];
    if r.one_in(3) {
        h.push(0x81); // one byte of padding
        h.push(0);
    }
    if r.one_in(2) {
        // Short data packet: flags, dst, src, forward.
        h.push(0x02);
        h.extend(addr(r));
        h.extend(addr(r));
        h.push(0);
    } else {
        // Long data packet: flags, d-area, d-subarea, d-id (6 bytes: hiord + address), s-...
        h.push(0x06);
        h.extend([0, 0, 0xaa, 0, 0x04, 0]);
        h.extend(addr(r));
        h.extend([0, 0, 0xaa, 0, 0x04, 0]);
        h.extend(addr(r));
        h.extend([0, 0, 0]);
    }
    h.extend([0; 12]);
    h
}

/// The body of an Ethernet type `ethertype` (after any tags).
fn network(r: &mut Rng, ethertype: u16) -> Vec<u8> {
    match ethertype {
        0x0800 => random_ipv4(r),
        0x86dd => random_ipv6(r),
        0x0806 => arp(r, false),
        0x8035 => arp(r, true),
        0x6003 => decnet(r),
        _ => {
            let mut p = vec![0, 1, 2, 3, 4, 5, 6, 7];
            p.extend(payload(r));
            p
        }
    }
}

/// An Ethernet frame around `body`.
fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + body.len());
    f.extend(dst);
    f.extend(src);
    f.extend(be16(ethertype));
    f.extend(body);
    f
}

/// One Ethernet frame of a random kind.
pub fn ethernet_frame(r: &mut Rng) -> Vec<u8> {
    let dst = if r.one_in(5) {
        r.pick(GROUP_MACS)
    } else {
        r.pick(MACS)
    };
    let src = r.pick(MACS);
    let common_type = |r: &mut Rng| r.pick(&[0x0800u16, 0x0800, 0x0800, 0x86dd, 0x86dd, 0x0806]);
    match r.below(40) {
        // 802.3 with LLC.
        0..=3 => {
            let body = llc_body(r);
            ether(dst, src, body.len() as u16, &body)
        }
        // VLAN tags: one, two (802.1Q or QinQ 0x88a8 outside), around a common type.
        4..=7 => {
            let stack = match r.below(4) {
                0 => vec![(0x88a8u16, r.pick(&[10u16, 100]))],
                1 => vec![(0x8100, r.pick(&[10u16, 5]))],
                _ => vec![],
            };
            let vid = r.pick(&[10u16, 20, 100, 200, 0, 4095, 5, 300]);
            let inner_type = if r.one_in(8) { 0x8847 } else { common_type(r) };
            let mut body = Vec::new();
            let mut tags = stack;
            tags.push((0x8100, vid));
            for (i, &(_, vid)) in tags.iter().enumerate() {
                body.extend(be16(vid | (u16::from(r.one_in(3)) << 13)));
                let next = tags.get(i + 1).map_or(inner_type, |t| t.0);
                body.extend(be16(next));
            }
            if inner_type == 0x8847 {
                body.extend(mpls_body(r));
            } else {
                body.extend(network(r, inner_type));
            }
            ether(dst, src, tags[0].0, &body)
        }
        8..=9 => ether(dst, src, 0x8847, &mpls_body(r)),
        // PPPoE session (PPP IPv4, IPv6 or LCP) and discovery.
        10..=11 => {
            let (ppp, body) = match r.below(4) {
                0 | 1 => (0x0021u16, random_ipv4(r)),
                2 => (0x0057, random_ipv6(r)),
                _ => (0xc021, vec![1, 1, 0, 4]),
            };
            let mut h = vec![0x11, 0];
            h.extend(be16(r.pick(&[7u16, 1234, 0x10])));
            h.extend(be16((body.len() + 2) as u16));
            h.extend(be16(ppp));
            h.extend(body);
            ether(dst, src, 0x8864, &h)
        }
        12 => ether(dst, src, 0x8863, &[0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0]),
        // Geneve (UDP 6081) around an Ethernet frame, sometimes tagged.
        13..=14 => {
            let inner = if r.one_in(3) {
                let mut b = be16(10).to_vec();
                b.extend(be16(0x0800));
                b.extend(random_ipv4_plain(r));
                ether(r.pick(MACS), r.pick(MACS), 0x8100, &b)
            } else {
                let t = common_type(r);
                ether(r.pick(MACS), r.pick(MACS), t, &network(r, t))
            };
            let vni = r.pick(&[5u32, 100, 7]);
            let options = r.one_in(3);
            let mut g = vec![if options { 2 } else { 0 }, 0, 0x65, 0x58];
            g.extend(&(vni << 8).to_be_bytes());
            if options {
                g.extend([0x01, 0x02, 0x80, 1, 0, 0, 0, 0]);
            }
            g.extend(inner);
            let sport = r.pick(&[40000u16, 6081]);
            let u = udp(r, (sport, 6081), g);
            let ip = ipv4(r, 17, &u, (false, 0));
            ether(dst, src, 0x0800, &ip)
        }
        15..=16 => ether(dst, src, 0x0806, &arp(r, false)),
        17 => ether(dst, src, 0x8035, &arp(r, true)),
        // Ethernet II types of the older protocols.
        18..=19 => {
            let t = r.pick(&[
                0x809bu16, 0x80f3, 0x6003, 0x6003, 0x6004, 0x6001, 0x6002, 0x6007, 0x8137, 0x9000,
                0x88cc, 0x0042,
            ]);
            ether(dst, src, t, &network(r, t))
        }
        _ => {
            let t = common_type(r);
            ether(dst, src, t, &network(r, t))
        }
    }
}

/// An MPLS label stack (1 to 3 labels) and the packet it carries.
fn mpls_body(r: &mut Rng) -> Vec<u8> {
    let stack = r.pick(&[&[100u32][..], &[1, 2], &[6], &[5, 6], &[16, 100, 2], &[3]]);
    let mut h = Vec::new();
    for (i, label) in stack.iter().enumerate() {
        let bottom = u32::from(i + 1 == stack.len());
        h.extend((label << 12 | bottom << 8 | 64).to_be_bytes());
    }
    h.extend(if r.one_in(3) {
        random_ipv6(r)
    } else {
        random_ipv4(r)
    });
    h
}

/// A pflog record: the 64-byte header (length 61, address family, action, reason, interface
/// and ruleset names, rule numbers, direction), then the IP packet.
pub fn pflog_frame(r: &mut Rng) -> Vec<u8> {
    let v6 = r.one_in(3);
    let mut h = vec![
        61,
        if v6 { 10 } else { 2 },
        r.pick(&[0u8, 1, 2, 3, 8]),
        r.pick(&[0u8, 1, 2, 3, 5]),
    ];
    let mut name = |r: &mut Rng, names: &[&str]| {
        let mut field = [0u8; 16];
        let n = r.pick(names).as_bytes();
        field[..n.len()].copy_from_slice(n);
        h.extend(field);
    };
    name(r, &["em0", "eth0", "pflog0", "em1"]);
    name(r, &["foo", "", "foo/bar", "main"]);
    h.extend((r.pick(&[5u32, 6, 0, 99])).to_be_bytes());
    h.extend((r.pick(&[1u32, 2, 0xffff_ffff])).to_be_bytes());
    h.extend([0; 16]); // uid, pid, rule uid, rule pid
    h.push(r.pick(&[1u8, 2, 0]));
    h.extend([0; 3]);
    h.extend(if v6 { random_ipv6(r) } else { random_ipv4(r) });
    h
}

/// `count` frames from `frame`, as a pcap file of link type `dlt`. About one record in ten
/// is cut short (a snapshot length of 54 to 96 bytes), as a capture with a small snaplen.
pub fn capture(dlt: Dlt, seed: u64, count: usize, frame: fn(&mut Rng) -> Vec<u8>) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let header = SavefileHeader {
        dlt,
        link_type_ext: 0,
        snaplen: 262_144,
        precision: Precision::Micro,
    };
    let mut w = PcapWriter::new(Vec::new(), &header).unwrap();
    for i in 0..count {
        let mut data = frame(&mut r);
        if data.len() < 60 && dlt == Dlt::EN10MB {
            data.resize(60, 0); // Ethernet padding
        }
        let wirelen = data.len() as u32;
        if r.one_in(10) {
            data.truncate(r.pick(&[54usize, 60, 64, 70, 96]));
        }
        let ts = Timestamp {
            sec: 1_750_000_000 + (i / 100) as i64,
            frac: (i % 100) as u64 * 10_007,
            units_per_sec: 1_000_000,
        };
        w.write_packet(ts, wirelen, &data).unwrap();
    }
    w.into_inner()
}
