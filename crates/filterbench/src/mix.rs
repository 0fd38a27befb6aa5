//! A deterministic mix of Ethernet frames shaped like a busy site link.
//!
//! Protocol shares and sizes follow what a campus/enterprise uplink carries:
//! mostly IPv4 and IPv6 TCP (many bare ACKs, many full-size segments), UDP
//! for DNS, NTP and QUIC, some ICMP, ARP and link-local chatter, a tenth of
//! the frames 802.1Q-tagged (a few double-tagged), rare IPv4 fragments,
//! IPv4 options and IPv6 hop-by-hop headers. Frames are 60 to 1514 bytes
//! (no FCS); the mean is about 500. Addresses and ports come from small pools
//! so that host, net and port filters match a meaningful share.

use crate::rng::Rng;

/// Ethertypes used.
const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;
const ARP: u16 = 0x0806;
const LLDP: u16 = 0x88cc;
const VLAN: u16 = 0x8100;
const QINQ: u16 = 0x88a8;

/// IP protocol numbers used.
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const GRE: u8 = 47;
const HOP_BY_HOP: u8 = 0;

const MIN_FRAME: usize = 60;
const MAX_FRAME: usize = 1514;

/// Produces frames one after another; the same seed gives the same frames.
#[derive(Clone, Debug)]
pub struct Mix {
    rng: Rng,
    micros: u64,
}

/// A frame's capture time in microseconds since the epoch.
pub type Micros = u64;

/// Which way a packet goes between an inside host and an outside server.
#[derive(Clone, Copy)]
struct Flow {
    client_port: u16,
    server_port: u16,
    to_server: bool,
}

impl Mix {
    /// A mix starting at 2023-11-14 22:13:20 UTC.
    pub fn new(seed: u64) -> Mix {
        Mix {
            rng: Rng::new(seed),
            micros: 1_700_000_000_000_000,
        }
    }

    /// Writes the next frame into `out` (cleared first); returns its time stamp.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Micros {
        self.micros += u64::from(self.rng.below(400));
        out.clear();
        self.frame(out);
        debug_assert!((MIN_FRAME..=MAX_FRAME).contains(&out.len()));
        self.micros
    }

    fn frame(&mut self, out: &mut Vec<u8>) {
        let r = &mut self.rng;
        let kind = r.below(100);
        let (dst, src) = (mac(r.below(24)), mac(r.below(24)));
        match kind {
            0..=61 => {
                ethernet(out, r, dst, src, IPV4);
                self.ipv4(out);
            }
            62..=88 => {
                ethernet(out, r, dst, src, IPV6);
                self.ipv6(out);
            }
            89..=94 => {
                let request = r.chance(60);
                let dst = if request { [0xff; 6] } else { dst };
                ethernet(out, r, dst, src, ARP);
                arp(out, r, request, src);
            }
            95..=96 => {
                ethernet(out, r, [0x01, 0x80, 0xc2, 0, 0, 0x0e], src, LLDP);
                let len = r.range(40, 300) as usize;
                random_bytes(out, r, len);
            }
            _ => {
                // 802.3 frame with an LLC header: spanning tree BPDUs.
                out.extend_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0]);
                out.extend_from_slice(&src);
                out.extend_from_slice(&38u16.to_be_bytes());
                out.extend_from_slice(&[0x42, 0x42, 0x03]);
                random_bytes(out, r, 35);
            }
        }
        if out.len() < MIN_FRAME {
            out.resize(MIN_FRAME, 0);
        }
    }

    /// Picks a service and a direction.
    fn flow(&mut self, proto: u8) -> Flow {
        let r = &mut self.rng;
        let server_port = match proto {
            TCP => match r.below(100) {
                0..=44 => 443,
                45..=64 => 80,
                65..=72 => 22,
                73..=77 => 8080,
                78..=79 => 25,
                80..=82 => 3306,
                _ => r.range(1, 65535) as u16,
            },
            _ => match r.below(100) {
                0..=34 => 53,
                35..=42 => 123,
                43..=72 => 443,
                73..=77 => 5353,
                78..=79 => 67,
                _ => r.range(1, 65535) as u16,
            },
        };
        Flow {
            client_port: r.range(32768, 60999) as u16,
            server_port,
            to_server: r.chance(50),
        }
    }

    fn ipv4(&mut self, out: &mut Vec<u8>) {
        let r = &mut self.rng;
        let proto = match r.below(100) {
            0..=67 => TCP,
            68..=93 => UDP,
            94..=97 => ICMP,
            _ => GRE,
        };
        let (inside, outside) = (inside_v4(r), outside_v4(r));
        let with_options = r.chance(2);
        // 1 in 100: a fragment; the later ones carry no transport header.
        let (more, offset) = match r.below(200) {
            0 => (true, 0u16),
            1 => (r.chance(50), r.range(1, 180) as u16),
            _ => (false, 0),
        };
        let flow = self.flow(proto);
        let (src, dst) = if flow.to_server {
            (inside, outside)
        } else {
            (outside, inside)
        };
        let start = out.len();
        let r = &mut self.rng;
        let ihl = if with_options { 6 } else { 5 };
        out.push(0x40 | ihl);
        out.push(r.pick(&[0u8, 0, 0, 0x10, 0xb8]));
        out.extend_from_slice(&[0, 0]); // total length, set below
        out.extend_from_slice(&(r.next_u64() as u16).to_be_bytes());
        let df = if r.chance(70) { 0x4000 } else { 0 };
        let frag = (if more { 0x2000 } else { 0 }) | offset | if offset == 0 { df } else { 0 };
        out.extend_from_slice(&frag.to_be_bytes());
        out.push(r.pick(&[64u8, 63, 128, 127, 255, 52, 118, 1]));
        out.push(proto);
        out.extend_from_slice(&[0, 0]); // checksum, set below
        out.extend_from_slice(&src);
        out.extend_from_slice(&dst);
        if with_options {
            out.extend_from_slice(&[0x94, 0x04, 0, 0]); // router alert
        }
        let header_end = out.len();
        if offset > 0 {
            let len = r.range(8, 1400) as usize;
            random_bytes(out, r, len);
        } else {
            self.transport(out, proto, flow, false);
        }
        let total = (out.len() - start) as u16;
        out[start + 2..start + 4].copy_from_slice(&total.to_be_bytes());
        let sum = checksum(&out[start..header_end]);
        out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    }

    fn ipv6(&mut self, out: &mut Vec<u8>) {
        let r = &mut self.rng;
        let proto = match r.below(100) {
            0..=59 => TCP,
            60..=89 => UDP,
            _ => ICMPV6,
        };
        let hop_by_hop = r.chance(3);
        let flow = self.flow(proto);
        let r = &mut self.rng;
        let (inside, outside) = (inside_v6(r), outside_v6(r));
        let (src, dst) = if proto == ICMPV6 && r.chance(40) {
            // Neighbour discovery between link-local addresses.
            (link_local_v6(r), link_local_v6(r))
        } else if flow.to_server {
            (inside, outside)
        } else {
            (outside, inside)
        };
        let start = out.len();
        let label = r.below(1 << 20);
        out.extend_from_slice(&(0x6000_0000 | label).to_be_bytes());
        out.extend_from_slice(&[0, 0]); // payload length, set below
        out.push(if hop_by_hop { HOP_BY_HOP } else { proto });
        out.push(r.pick(&[64u8, 255, 128, 57]));
        out.extend_from_slice(&src);
        out.extend_from_slice(&dst);
        if hop_by_hop {
            // Router alert (MLD) plus padding: one 8-byte extension header.
            out.extend_from_slice(&[proto, 0, 0x05, 0x02, 0, 0, 0x01, 0x00]);
        }
        self.transport(out, proto, flow, true);
        let payload = (out.len() - start - 40) as u16;
        out[start + 4..start + 6].copy_from_slice(&payload.to_be_bytes());
    }

    /// The transport header and payload (`out` holds the frame so far).
    fn transport(&mut self, out: &mut Vec<u8>, proto: u8, flow: Flow, v6: bool) {
        let below = out.len();
        let r = &mut self.rng;
        let (sport, dport) = if flow.to_server {
            (flow.client_port, flow.server_port)
        } else {
            (flow.server_port, flow.client_port)
        };
        match proto {
            TCP => {
                let (flags, options) = match r.below(100) {
                    0..=2 => (0x02, 20), // SYN with MSS, SACK, timestamps, window scale
                    3..=5 => (0x12, 20), // SYN-ACK
                    6..=7 => (0x11, 12), // FIN-ACK
                    8 => (0x04, 0),      // RST
                    9..=49 => (0x10, if r.chance(60) { 12 } else { 0 }), // ACK
                    _ => (0x18, if r.chance(60) { 12 } else { 0 }), // PSH-ACK
                };
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&(r.next_u64() as u32).to_be_bytes());
                out.extend_from_slice(&(r.next_u64() as u32).to_be_bytes());
                out.push((((20 + options) / 4) << 4) as u8);
                out.push(flags);
                out.extend_from_slice(&(r.range(512, 65535) as u16).to_be_bytes());
                random_bytes(out, r, 4); // checksum and urgent pointer
                random_bytes(out, r, options);
                let payload = if flags == 0x18 {
                    let used = below + 20 + options;
                    match r.below(100) {
                        0..=29 => r.range(1, 600) as usize,
                        _ => {
                            MAX_FRAME
                                - used
                                - if r.chance(25) {
                                    r.below(200) as usize
                                } else {
                                    0
                                }
                        }
                    }
                } else {
                    0
                };
                random_bytes(out, r, payload);
            }
            UDP => {
                let port = flow.server_port;
                let payload = match port {
                    53 => r.range(28, 250),
                    123 => 48,
                    443 if r.chance(70) => r.range(1200, 1350),
                    443 => r.range(30, 120),
                    5353 => r.range(40, 400),
                    67 => r.range(300, 350),
                    _ => r.range(16, 1100),
                } as usize;
                let payload = payload.min(MAX_FRAME - below - 8);
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&((payload + 8) as u16).to_be_bytes());
                random_bytes(out, r, 2);
                random_bytes(out, r, payload);
            }
            ICMP | ICMPV6 => {
                let (ty, len) = match (v6, r.below(10)) {
                    (false, 0..=3) => (8, 56),
                    (false, 4..=7) => (0, 56),
                    (false, 8) => (3, 28),
                    (false, _) => (11, 28),
                    (true, 0..=2) => (128, 56),
                    (true, 3..=5) => (129, 56),
                    (true, 6..=7) => (135, 24),
                    (true, 8) => (136, 24),
                    (true, _) => (134, 56),
                };
                out.push(ty);
                out.push(0);
                random_bytes(out, r, 6);
                random_bytes(out, r, len);
            }
            _ => {
                // GRE carrying something opaque.
                out.extend_from_slice(&[0, 0, 0x08, 0x00]);
                let len = r.range(40, 1400) as usize;
                random_bytes(out, r, len.min(MAX_FRAME - below - 4));
            }
        }
    }
}

/// Destination, source, optional VLAN tags, ethertype.
fn ethernet(out: &mut Vec<u8>, r: &mut Rng, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    let tags = match r.below(100) {
        0..=7 => 1,
        8 => 2,
        _ => 0,
    };
    if tags == 2 {
        out.extend_from_slice(&QINQ.to_be_bytes());
        out.extend_from_slice(&(r.range(1, 30) as u16).to_be_bytes());
    }
    if tags >= 1 {
        out.extend_from_slice(&VLAN.to_be_bytes());
        let vid = r.pick(&[10u16, 20, 100, 200, 300]);
        let pcp = r.pick(&[0u16, 0, 0, 5]) << 13;
        out.extend_from_slice(&(pcp | vid).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
}

fn arp(out: &mut Vec<u8>, r: &mut Rng, request: bool, sender_mac: [u8; 6]) {
    out.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, if request { 1 } else { 2 }]);
    out.extend_from_slice(&sender_mac);
    out.extend_from_slice(&inside_v4(r));
    out.extend_from_slice(&if request { [0; 6] } else { mac(r.below(24)) });
    out.extend_from_slice(&inside_v4(r));
}

fn random_bytes(out: &mut Vec<u8>, r: &mut Rng, n: usize) {
    let start = out.len();
    out.resize(start + n, 0);
    r.fill(&mut out[start..]);
}

/// One of a pool of unicast station addresses (locally administered).
fn mac(i: u32) -> [u8; 6] {
    [0x02, 0x00, 0x5e, 0x10, (i >> 8) as u8, i as u8]
}

/// Hosts on the site: 10.0.0.1-40, 192.168.1.1-30 and the busy 10.1.2.3.
fn inside_v4(r: &mut Rng) -> [u8; 4] {
    match r.below(10) {
        0..=4 => [10, 0, 0, r.range(1, 40) as u8],
        5..=7 => [192, 168, 1, r.range(1, 30) as u8],
        _ => [10, 1, 2, 3],
    }
}

/// Servers elsewhere: a few popular ones, then anything.
fn outside_v4(r: &mut Rng) -> [u8; 4] {
    const POPULAR: [[u8; 4]; 8] = [
        [8, 8, 8, 8],
        [1, 1, 1, 1],
        [93, 184, 216, 34],
        [142, 250, 185, 78],
        [151, 101, 1, 69],
        [140, 82, 112, 3],
        [172, 217, 16, 14],
        [104, 16, 132, 229],
    ];
    if r.chance(60) {
        r.pick(&POPULAR)
    } else {
        (r.next_u64() as u32 | 0x0100_0000).to_be_bytes()
    }
}

fn inside_v6(r: &mut Rng) -> [u8; 16] {
    let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    a[15] = r.range(1, 30) as u8;
    a
}

fn outside_v6(r: &mut Rng) -> [u8; 16] {
    let mut a = [
        0x26, 0x06, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11,
    ];
    if r.chance(50) {
        a[..8].copy_from_slice(&r.next_u64().to_be_bytes());
        a[0] = 0x2a;
        a[8..].copy_from_slice(&r.next_u64().to_be_bytes());
    }
    a
}

fn link_local_v6(r: &mut Rng) -> [u8; 16] {
    let mut a = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    a[8..].copy_from_slice(&r.next_u64().to_be_bytes());
    a
}

/// The IPv4 header checksum (RFC 1071).
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_bounded_and_average_about_500_bytes() {
        let (mut a, mut b) = (Mix::new(1), Mix::new(1));
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        let mut total = 0usize;
        let n = 20_000;
        for _ in 0..n {
            let ta = a.next_frame(&mut fa);
            let tb = b.next_frame(&mut fb);
            assert_eq!((ta, &fa), (tb, &fb));
            assert!((MIN_FRAME..=MAX_FRAME).contains(&fa.len()), "{}", fa.len());
            total += fa.len();
        }
        let mean = total / n;
        assert!((420..=580).contains(&mean), "mean frame size {mean}");
    }

    #[test]
    fn ipv4_headers_carry_a_valid_checksum_and_length() {
        let mut mix = Mix::new(3);
        let mut frame = Vec::new();
        let mut seen = 0;
        for _ in 0..2_000 {
            mix.next_frame(&mut frame);
            if frame[12..14] == IPV4.to_be_bytes() {
                let ihl = usize::from(frame[14] & 15) * 4;
                // A correct checksum makes the header sum to 0xffff (complement 0).
                assert_eq!(checksum(&frame[14..14 + ihl]), 0);
                let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
                assert!(14 + total <= frame.len());
                seen += 1;
            }
        }
        assert!(seen > 1000);
    }
}
