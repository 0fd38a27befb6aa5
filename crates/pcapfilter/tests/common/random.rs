//! The seeded random-expression generator shared by the tests: primitives
//! of every kind combined with `and`/`or`/`not`, arithmetic relations, and
//! bare values that inherit the qualifiers before them.

use super::packets::Rng;

const PROTOS: &[&str] = &[
    "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "pim", "vrrp", "ah",
    "esp", "atalk", "decnet", "iso", "stp", "ipx", "netbeui", "l1", "isis", "clnp", "carp", "igrp",
    "lat", "aarp", "esis", "snp",
];
const V4: &[&str] = &[
    "10.0.0.1",
    "1.2.3.4",
    "192.168.1.1",
    "10",
    "10.1",
    "172.16.0.0/12",
    "10.0.0.0 mask 255.0.0.0",
];
const V6: &[&str] = &["::1", "2001:db8::1", "fe80::/10", "2001:db8::/32"];
const MACS: &[&str] = &["00:11:22:33:44:55", "ff:ff:ff:ff:ff:ff", "0:1:2:3:4:5"];
const PORTS: &[&str] = &["80", "53", "22", "http", "domain", "ssh", "0", "65535"];
const OTHERS: &[&str] = &[
    "vlan",
    "vlan 10",
    "mpls",
    "mpls 5",
    "pppoes",
    "pppoes 7",
    "pppoed",
    "geneve",
    "geneve 5",
    "broadcast",
    "multicast",
    "ip multicast",
    "ip6 multicast",
    "ip broadcast",
    "less 100",
    "greater 60",
    "llc",
    "llc i",
    "llc ui",
    "inbound",
    "outbound",
    "ifindex 2",
    "byte 0 = 1",
    "byte 3 & 2",
    "ether proto 0x800",
    "ether proto \\arp",
    "type data",
    "dir tods",
    "wlan addr2 0:1:2:3:4:5",
];

pub fn arith(r: &mut Rng, depth: usize) -> String {
    let c = r.below(100);
    if depth > 2 || c < 30 {
        return r
            .pick(&[
                "len",
                "1",
                "0",
                "2",
                "14",
                "0x10",
                "tcpflags",
                "icmp-echo",
                "tcp-syn",
            ])
            .to_string();
    }
    if c < 60 {
        let p = r.pick(&[
            "ip", "tcp", "udp", "ether", "ip6", "icmp", "icmp6", "link", "arp", "sctp", "igmp",
        ]);
        let size = r.pick(&["", ":1", ":2", ":4"]);
        return format!("{p}[{}{size}]", arith(r, depth + 1));
    }
    if c < 70 {
        return format!("({})", arith(r, depth + 1));
    }
    if c < 75 {
        return format!("-{}", arith(r, depth + 1));
    }
    let op = r.pick(&["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
    format!("{} {op} {}", arith(r, depth + 1), arith(r, depth + 1))
}

pub fn primitive(r: &mut Rng) -> String {
    let c = r.below(100);
    if c < 20 {
        return r.pick(PROTOS).to_string();
    }
    if c < 55 {
        let kind = r.pick(&[
            "host",
            "net",
            "port",
            "portrange",
            "proto",
            "protochain",
            "",
        ]);
        let mut words: Vec<&str> = Vec::new();
        if r.chance(50) {
            words.push(r.pick(&["ip", "ip6", "tcp", "udp", "sctp", "ether", "arp", "rarp"]));
        }
        if matches!(kind, "host" | "net" | "port" | "portrange" | "") && r.chance(40) {
            words.push(r.pick(&["src", "dst", "src or dst", "src and dst"]));
        }
        if !kind.is_empty() {
            words.push(kind);
        } else if words.is_empty() {
            words.push("host");
        }
        let value = match kind {
            "port" => r.pick(PORTS),
            "portrange" => r.pick(&["10-20", "1-1024", "ftp-ssh", "80"]),
            "proto" | "protochain" => r.pick(&["6", "17", "1", "\\tcp", "\\udp", "58", "47"]),
            _ if words[0] == "ether" => r.pick(MACS),
            _ => {
                if r.chance(70) {
                    r.pick(V4)
                } else {
                    r.pick(V6)
                }
            }
        };
        words.push(value);
        return words.join(" ");
    }
    if c < 75 {
        let rel = r.pick(&["=", "!=", "<", ">", "<=", ">=", "=="]);
        return format!("{} {rel} {}", arith(r, 0), arith(r, 0));
    }
    r.pick(OTHERS).to_string()
}

pub fn expr(r: &mut Rng, depth: usize) -> String {
    let c = r.below(100);
    if depth > 3 || c < 35 {
        return primitive(r);
    }
    if c < 50 {
        return format!("not {}", expr(r, depth + 1));
    }
    if c < 60 {
        return format!("({})", expr(r, depth + 1));
    }
    let op = r.pick(&["and", "or", "&&", "||"]);
    let rhs = if r.chance(15) {
        // A bare value, inheriting the qualifiers before it.
        r.pick(&["10.0.0.1", "80", "1.2.3.4", "53"]).to_string()
    } else {
        expr(r, depth + 1)
    };
    format!("{} {op} {rhs}", expr(r, depth + 1))
}

/// The random test set: (tcpdump `-y` name, expression), always the same.
pub fn random_cases() -> Vec<(&'static str, String)> {
    random_cases_with(0x00c0_ffee, 1)
}

/// `scale` times as many random expressions as the test set, from `seed`.
pub fn random_cases_with(seed: u64, scale: usize) -> Vec<(&'static str, String)> {
    let plan = [
        ("EN10MB", 400),
        ("LINUX_SLL", 120),
        ("RAW", 120),
        ("IEEE802_11_RADIO", 120),
        ("PFLOG", 60),
        ("LINUX_SLL2", 60),
        ("PPP", 60),
        ("NULL", 60),
        ("C_HDLC", 40),
        ("PPI", 40),
    ];
    let mut rng = Rng::new(seed);
    plan.iter()
        .flat_map(|&(lt, n)| {
            (0..n * scale)
                .map(|_| (lt, expr(&mut rng, 0)))
                .collect::<Vec<_>>()
        })
        .collect()
}
