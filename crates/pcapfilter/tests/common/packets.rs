//! Synthetic packets for every supported link type, built from the field
//! values the expressions in `exprs.txt` test (addresses, ports, VLAN IDs,
//! 802.11 frame types, ...) so that filters both accept and reject some of
//! them. Deterministic (seeded generator).

use bpfkit_pcapfilter::LinkType;

/// xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const V4: &[[u8; 4]] = &[
    [10, 0, 0, 1],
    [10, 0, 0, 2],
    [10, 0, 0, 3],
    [10, 1, 1, 1],
    [10, 1, 2, 9],
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [192, 168, 1, 1],
    [172, 16, 5, 4],
    [127, 0, 0, 1],
    [224, 0, 0, 1],
    [255, 255, 255, 255],
    [0, 0, 0, 10],
    [8, 8, 8, 8],
];

const V6: &[[u16; 8]] = &[
    [0, 0, 0, 0, 0, 0, 0, 1],
    [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1],
    [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2],
    [0x2001, 0xdb8, 5, 0, 0, 0, 0, 9],
    [0xfe80, 0, 0, 0, 0, 0, 0, 1],
    [0xff02, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001],
];

const PORTS: &[u16] = &[
    80, 53, 22, 443, 8080, 15, 20, 1500, 9899, 67, 1024, 5050, 65535, 21,
];

const MACS: &[[u8; 6]] = &[
    [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
    [0xff; 6],
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
    [0x00, 0x01, 0x02, 0x03, 0x04, 0x05],
    [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
];

fn v6_bytes(a: [u16; 8]) -> Vec<u8> {
    a.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// A transport header and payload for IP protocol `proto`.
fn transport(rng: &mut Rng, proto: u8) -> Vec<u8> {
    let mut t = Vec::new();
    match proto {
        6 => {
            t.extend(rng.pick(PORTS).to_be_bytes());
            t.extend(rng.pick(PORTS).to_be_bytes());
            t.extend([0, 0, 0, 1, 0, 0, 0, 0]);
            let words = rng.pick(&[5u8, 6, 8]);
            t.push(words << 4);
            t.push(rng.pick(&[0x02, 0x12, 0x10, 0x01, 0x04, 0x18, 0x20, 0xc2, 0x00]));
            t.extend([0xff, 0xff, 0, 0, 0, 0]);
            t.resize(usize::from(words) * 4, 1);
            t.extend(rng.pick(&[&b"GET /"[..], b"HTTP/1.1", b"xyz"]));
        }
        17 => {
            let dst = if rng.chance(15) {
                6081
            } else {
                rng.pick(PORTS)
            };
            t.extend(rng.pick(PORTS).to_be_bytes());
            t.extend(dst.to_be_bytes());
            t.extend([0, 40, 0, 0]);
            if dst == 6081 {
                t.extend(geneve(rng));
            } else {
                t.extend([0x45; 12]);
            }
        }
        1 | 58 => {
            let ty = if proto == 1 {
                rng.pick(&[0u8, 3, 8, 11, 13, 5])
            } else {
                rng.pick(&[128u8, 129, 135, 136, 1, 2])
            };
            t.extend([ty, rng.pick(&[0u8, 1]), 0, 0, 0, 1, 0, 2]);
        }
        132 => {
            t.extend(rng.pick(&[9899u16, 80]).to_be_bytes());
            t.extend(rng.pick(PORTS).to_be_bytes());
            t.extend([0; 8]);
        }
        _ => t.extend([rng.pick(&[0x11u8, 0x20, 0x21, 1, 0]), 0, 0, 0, 0, 0, 0, 0]),
    }
    t
}

/// A Geneve header and an inner Ethernet frame.
fn geneve(rng: &mut Rng) -> Vec<u8> {
    let opt_words = rng.pick(&[0u8, 1]);
    let mut g = vec![opt_words, 0];
    let teb = rng.chance(80);
    g.extend(if teb { [0x65u8, 0x58] } else { [0x08, 0x00] });
    let vni: u32 = rng.pick(&[5, 100, 7]);
    g.extend(&(vni << 8).to_be_bytes());
    g.extend(vec![0u8; usize::from(opt_words) * 4]);
    let inner_proto = rng.pick(&[6u8, 17, 1]);
    let inner = ipv4(rng, inner_proto);
    if teb {
        g.extend(rng.pick(MACS));
        g.extend(rng.pick(MACS));
        g.extend(if rng.chance(20) {
            [0x81u8, 0x00, 0x00, 10]
        } else {
            [0x08, 0x00, 0x45, 0]
        });
        g.extend(&inner[2..]);
    } else {
        g.extend(inner);
    }
    g
}

fn ipv4(rng: &mut Rng, proto: u8) -> Vec<u8> {
    let options = rng.chance(15);
    let ihl = if options { 6 } else { 5 };
    let mut p = vec![0x40 | ihl, 0, 0, 0, 0, 1];
    let frag: u16 = if rng.chance(10) {
        rng.pick(&[0x2000, 0x0010, 0x2010])
    } else {
        0
    };
    p.extend(frag.to_be_bytes());
    p.extend([64, proto, 0, 0]);
    p.extend(rng.pick(V4));
    p.extend(rng.pick(V4));
    if options {
        p.extend([1, 1, 1, 0]);
    }
    p.extend(transport(rng, proto));
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p
}

fn ipv6(rng: &mut Rng) -> Vec<u8> {
    let first = rng.pick(&[6u8, 17, 58, 132, 0, 44, 43, 60, 59, 51, 103]);
    let mut p = vec![0x60, 0, 0, 0, 0, 0, first, 64];
    p.extend(v6_bytes(rng.pick(V6)));
    p.extend(v6_bytes(rng.pick(V6)));
    let mut next = first;
    // Up to two extension headers before the transport header.
    for _ in 0..2 {
        match next {
            0 | 43 | 60 => {
                let inner = rng.pick(&[6u8, 17, 44, 58]);
                p.extend([inner, 0, 0, 0, 0, 0, 0, 0]);
                next = inner;
            }
            44 => {
                let inner = rng.pick(&[6u8, 17, 58]);
                p.extend([inner, 0, 0, 0, 0, 0, 0, 1]);
                next = inner;
            }
            51 => {
                let inner = rng.pick(&[6u8, 17]);
                p.extend([inner, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
                next = inner;
            }
            _ => break,
        }
    }
    if next != 59 {
        p.extend(transport(rng, next));
    }
    let len = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    p
}

fn arp(rng: &mut Rng) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4, 0, rng.pick(&[1u8, 2, 3, 4])];
    p.extend(rng.pick(MACS));
    p.extend(rng.pick(V4));
    p.extend(rng.pick(MACS));
    p.extend(rng.pick(V4));
    p
}

/// A network-layer packet and its Ethernet type.
fn network(rng: &mut Rng) -> (u16, Vec<u8>) {
    match rng.below(20) {
        0..=10 => {
            let proto = rng.pick(&[6u8, 6, 17, 17, 1, 132, 2, 9, 103, 112, 47, 50, 51, 58]);
            (0x0800, ipv4(rng, proto))
        }
        11..=15 => (0x86dd, ipv6(rng)),
        16 => (0x0806, arp(rng)),
        17 => (0x8035, arp(rng)),
        18 => (
            0x6003,
            vec![
                0x81, 0x0d, 0, 1, 4, 2, 1, 0, 0xaa, 0, 4, 0, 0x06, 0x04, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        _ => (
            rng.pick(&[
                0x809bu16, 0x80f3, 0x8137, 0x6004, 0x6007, 0x6001, 0x6002, 0x9000, 0x88cc,
            ]),
            vec![0x45; 30],
        ),
    }
}

/// An OSI PDU (NLPID, length, version, ...) as carried after a SAP or pad.
fn llc_osi(rng: &mut Rng) -> Vec<u8> {
    vec![
        rng.pick(&[0x81u8, 0x82, 0x83]),
        0,
        0,
        0,
        rng.pick(&[15u8, 16, 17, 18, 20, 24, 26]),
        0,
    ]
}

/// An 802.2 LLC frame body (DSAP, SSAP, control, payload).
fn llc(rng: &mut Rng) -> Vec<u8> {
    let control = rng.pick(&[0x03u8, 0x00, 0x01, 0x05, 0x09, 0x63, 0xaf, 0xe3, 0x0f, 0x43]);
    match rng.below(8) {
        0 => vec![0x42, 0x42, control, 0, 0, 0, 0],
        1 => vec![0xe0, 0xe0, control, 0xff, 0xff, 0, 30],
        2 => vec![
            0xfe,
            0xfe,
            0x03,
            rng.pick(&[0x81u8, 0x82, 0x83]),
            0,
            0,
            0,
            rng.pick(&[15u8, 16, 17, 18, 20, 24, 26]),
            0,
        ],
        3 => vec![0xf0, 0xf0, control, 0, 0],
        4 => vec![0x06, 0x06, control, 0x45, 0, 0],
        5 => {
            let (org, ty): ([u8; 3], u16) = rng.pick(&[
                ([0u8, 0, 0], 0x8137u16),
                ([8, 0, 7], 0x809b),
                ([0, 0, 0], 0x80f3),
                ([0, 0, 0], 0x0800),
            ]);
            let mut v = vec![0xaa, 0xaa, 0x03];
            v.extend(org);
            v.extend(ty.to_be_bytes());
            v.extend([0x45; 20]);
            v
        }
        6 => vec![0xff, 0xff, 0, 30, 0, 0],
        _ => vec![rng.pick(&[0x64u8, 0x80, 0x12]), 0x64, control, 0, 0],
    }
}

/// An Ethernet frame: MACs, optional VLAN tags, then IP/ARP/MPLS/PPPoE or an 802.3 LLC frame.
fn ethernet(rng: &mut Rng) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(rng.pick(MACS));
    f.extend(rng.pick(MACS));
    for _ in 0..rng.pick(&[0usize, 0, 0, 1, 1, 2]) {
        f.extend(rng.pick(&[0x8100u16, 0x88a8, 0x9100]).to_be_bytes());
        f.extend(rng.pick(&[10u16, 20, 100, 200, 5, 0, 4095]).to_be_bytes());
    }
    match rng.below(10) {
        0 => {
            let body = llc(rng);
            f.extend((body.len() as u16).to_be_bytes());
            f.extend(body);
        }
        1 => {
            f.extend(0x8847u16.to_be_bytes());
            let n = rng.pick(&[1usize, 2]);
            for i in 0..n {
                let label: u32 = rng.pick(&[1, 2, 6, 100]);
                let bottom = u32::from(i == n - 1);
                f.extend(((label << 12) | (bottom << 8) | 64).to_be_bytes());
            }
            let (_, p) = if rng.chance(60) {
                (0, ipv4(rng, 6))
            } else {
                (0, ipv6(rng))
            };
            f.extend(p);
        }
        2 => {
            f.extend(rng.pick(&[0x8864u16, 0x8863]).to_be_bytes());
            f.extend([0x11, 0]);
            f.extend(rng.pick(&[7u16, 1234, 0]).to_be_bytes());
            let (ty, p) = network(rng);
            f.extend((p.len() as u16 + 2).to_be_bytes());
            f.extend(if ty == 0x86dd { 0x0057u16 } else { 0x0021 }.to_be_bytes());
            f.extend(p);
        }
        _ => {
            let (ty, p) = network(rng);
            f.extend(ty.to_be_bytes());
            f.extend(p);
        }
    }
    f
}

/// An 802.11 frame (data frames carry LLC/SNAP and a network packet).
fn wlan(rng: &mut Rng, pad_to_four: bool) -> Vec<u8> {
    let fc0 = rng.pick(&[
        0x08u8, 0x08, 0x88, 0x88, 0x80, 0x40, 0xb4, 0xd4, 0xc4, 0x48, 0xa0,
    ]);
    let fc1 = rng.pick(&[0u8, 1, 2, 3]);
    let mut f = vec![fc0, fc1, 0, 0];
    for _ in 0..3 {
        f.extend(rng.pick(MACS));
    }
    f.extend([0, 0]);
    if fc1 == 3 {
        f.extend(rng.pick(MACS));
    }
    if fc0 & 0x8c == 0x88 {
        f.extend([0, 0]);
    }
    if pad_to_four {
        while f.len() % 4 != 0 {
            f.push(0);
        }
    }
    if fc0 & 0x0c == 0x08 {
        let (ty, p) = network(rng);
        f.extend([0xaa, 0xaa, 0x03, 0, 0, 0]);
        f.extend(ty.to_be_bytes());
        f.extend(p);
    } else if rng.chance(30) {
        f.extend(llc(rng));
    } else {
        f.extend([0; 12]);
    }
    f
}

/// Radiotap (flags present or not, with or without TSFT) + 802.11.
fn radiotap(rng: &mut Rng) -> Vec<u8> {
    let tsft = rng.chance(50);
    let flags_present = rng.chance(80);
    let datapad = flags_present && rng.chance(50);
    let mut present: u32 = 0;
    let mut fields = Vec::new();
    if tsft {
        present |= 1;
        fields.extend([0u8; 8]);
    }
    if flags_present {
        present |= 2;
        fields.push(if datapad { 0x20 } else { 0x00 });
        fields.push(0);
    }
    if rng.chance(5) {
        present |= 0x8000_0000;
    }
    let len = 8 + fields.len() as u16;
    let mut f = vec![0, 0];
    f.extend(len.to_le_bytes());
    f.extend(present.to_le_bytes());
    f.extend(fields);
    f.extend(wlan(rng, datapad));
    f
}

/// One packet for `linktype`.
pub fn packet(rng: &mut Rng, linktype: LinkType) -> Vec<u8> {
    match linktype {
        LinkType::EN10MB => ethernet(rng),
        LinkType::LINUX_SLL | LinkType::LINUX_SLL2 => {
            let (proto, payload) = match rng.below(8) {
                0 => (4u16, llc(rng)),
                1 => (1, vec![0xff, 0xff, 0, 30]),
                _ => network(rng),
            };
            let pkttype = rng.pick(&[0u8, 1, 2, 3, 4]);
            let mut f = Vec::new();
            if linktype == LinkType::LINUX_SLL {
                f.extend([0, pkttype, 0, 1, 0, 6]);
                f.extend(rng.pick(MACS));
                f.extend([0, 0]);
                f.extend(proto.to_be_bytes());
            } else {
                f.extend(proto.to_be_bytes());
                f.extend([0, 0]);
                f.extend(rng.pick(&[2u32, 3]).to_be_bytes());
                f.extend([0, 1, pkttype, 6]);
                f.extend(rng.pick(MACS));
                f.extend([0, 0]);
            }
            f.extend(payload);
            f
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => match rng.below(3) {
            0 => ipv6(rng),
            _ => {
                let proto = rng.pick(&[6u8, 17, 1, 58]);
                ipv4(rng, proto)
            }
        },
        LinkType::NULL | LinkType::LOOP => {
            let (ty, p) = network(rng);
            let af: u32 = match ty {
                0x0800 => 2,
                0x86dd => rng.pick(&[10, 24, 28, 30]),
                _ => 7,
            };
            let mut f = if linktype == LinkType::NULL {
                af.to_le_bytes()
            } else {
                af.to_be_bytes()
            }
            .to_vec();
            f.extend(p);
            f
        }
        LinkType::PPP => {
            let (proto, p) = match rng.below(8) {
                0 => (0x0281u16, {
                    let mut m = ((6u32 << 12) | 0x100 | 64).to_be_bytes().to_vec();
                    m.extend(ipv4(rng, 17));
                    m
                }),
                1 => (
                    rng.pick(&[0x0027u16, 0x002b, 0x0023, 0x0031, 0x0029, 0x8863]),
                    vec![0x45; 20],
                ),
                _ => {
                    let (ty, p) = network(rng);
                    (
                        if ty == 0x86dd {
                            0x0057
                        } else if ty == 0x0800 {
                            0x0021
                        } else {
                            ty
                        },
                        p,
                    )
                }
            };
            let mut f = vec![0xff, 0x03];
            f.extend(proto.to_be_bytes());
            f.extend(p);
            f
        }
        LinkType::C_HDLC => {
            // Address, control, Ethernet type (0xfefe: OSI, with a pad byte).
            let mut f = vec![rng.pick(&[0x0fu8, 0x8f]), 0x00];
            match rng.below(6) {
                0 => {
                    f.extend([0xfe, 0xfe, 0x00]);
                    f.extend(&llc_osi(rng));
                }
                1 => {
                    f.extend([0x88, 0x47]);
                    f.extend(((7u32 << 12) | 0x100 | 64).to_be_bytes());
                    f.extend(ipv4(rng, 6));
                }
                _ => {
                    let (ty, p) = network(rng);
                    f.extend(ty.to_be_bytes());
                    f.extend(p);
                }
            }
            f
        }
        LinkType::PPI => {
            // Version, flags, little-endian length, little-endian DLT.
            let body = wlan(rng, false);
            let dlt: u32 = if rng.chance(90) { 105 } else { 1 };
            let extra = rng.pick(&[0usize, 4, 20]);
            let mut f = vec![0, 0];
            f.extend((8 + extra as u16).to_le_bytes());
            f.extend(dlt.to_le_bytes());
            f.extend(std::iter::repeat_n(0u8, extra));
            f.extend(body);
            f
        }
        LinkType::IEEE802_11 => wlan(rng, false),
        LinkType::IEEE802_11_RADIO => radiotap(rng),
        LinkType::PFLOG => {
            let (ty, p) = network(rng);
            let mut f = vec![
                61,
                if ty == 0x86dd { 10 } else { 2 },
                rng.pick(&[0u8, 1, 4]),
                rng.pick(&[0u8, 2]),
            ];
            let mut name = [0u8; 16];
            let ifname: &[u8] = rng.pick(&[&b"eth0"[..], b"em0", b"eth01"]);
            name[..ifname.len()].copy_from_slice(ifname);
            f.extend(name);
            let mut rs = [0u8; 16];
            rs[..3].copy_from_slice(b"foo");
            f.extend(rs);
            f.extend(rng.pick(&[5u32, 6]).to_be_bytes());
            f.extend(rng.pick(&[1u32, 2]).to_be_bytes());
            f.extend([0u8; 16]);
            f.push(rng.pick(&[1u8, 2]));
            f.extend([0u8; 3]);
            f.extend(p);
            f
        }
        LinkType::FDDI | LinkType::IEEE802 => {
            // FDDI: frame control; Token Ring: access control + frame control.
            let mut f = if linktype == LinkType::FDDI {
                vec![0x50]
            } else {
                vec![0x10, 0x40]
            };
            f.extend(rng.pick(MACS));
            f.extend(rng.pick(MACS));
            if rng.chance(30) {
                f.extend(llc(rng));
            } else {
                let (ty, p) = network(rng);
                f.extend([0xaa, 0xaa, 0x03, 0, 0, 0]);
                f.extend(ty.to_be_bytes());
                f.extend(p);
            }
            f
        }
        other => panic!("no packet generator for {other}"),
    }
}

/// `count` packets for `linktype`, some of them truncated (captured length
/// shorter than the wire length): `(captured bytes, wire length)`. Then,
/// for one in 16 of them, two odd records that capture files can hold and
/// filters must handle like any other: a wire length below the captured
/// length, and a wire length of 2^32 - 1 with the bytes after the first 34
/// set to 0xff (so arithmetic on `len` or on loaded values wraps around).
pub fn packets(linktype: LinkType, count: usize, seed: u64) -> Vec<(Vec<u8>, u32)> {
    let mut rng = Rng::new(seed ^ u64::from(linktype.0).wrapping_mul(0x9e37_79b9));
    let mut out: Vec<(Vec<u8>, u32)> = (0..count)
        .map(|_| {
            let p = packet(&mut rng, linktype);
            let wirelen = p.len() as u32;
            if rng.chance(8) {
                let cut = rng.below(p.len() + 1);
                (p[..cut].to_vec(), wirelen)
            } else {
                (p, wirelen)
            }
        })
        .collect();
    let mut odd = Rng::new(seed ^ 0x0dd);
    for i in (0..out.len()).step_by(16) {
        let data = out[i].0.clone();
        out.push((data.clone(), odd.pick(&[0u32, 1, 4, 7])));
        let ones: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(j, &b)| if j < 34 { b } else { 0xff })
            .collect();
        out.push((ones, u32::MAX));
    }
    out
}

/// Hand-made packets on which libpcap's optimizer is known to change a
/// verdict: it folds a constant into a packet offset as if the 32-bit
/// addition could not wrap around. `(link type, bytes, wire length)`.
pub fn witnesses() -> Vec<(LinkType, Vec<u8>, u32)> {
    // IPv4/UDP to 10.0.0.9 (last header byte has bit 3 set), wire length 4:
    // `udp[-1] & 8 > len` reads the last IP header byte unoptimized; libpcap
    // turns the index -1 into offset 0xffffffff, which always fails.
    let mut udp = vec![
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9,
    ];
    udp.extend([0, 53, 0, 53, 0, 8, 0, 0]);
    // Linux cooked IPv6/ICMPv6 whose first ICMPv6 word is 0xffffffff, wire
    // length 0xffffffff: `icmp6[1 + len:4] = len` reads icmp6[0] (len + 1
    // wraps to 0); libpcap's index len with offset +1 fails instead.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x86, 0xdd];
    sll.extend([0x60, 0, 0, 0, 0, 8, 58, 64]);
    sll.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    sll.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    sll.extend([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    vec![
        (LinkType::RAW, udp, 4),
        (LinkType::LINUX_SLL, sll, u32::MAX),
    ]
}
