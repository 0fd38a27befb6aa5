//! Parse, compile and optimize a filter expression built from the input,
//! then check that the optimized program gives the unoptimized program's
//! verdict on packets built from the input.
//!
//! Input: byte 0 chooses the link type, byte 1 the mode (exact or
//! libpcap-compatible short-packet handling) and the packet source, then a
//! stream of choices drives an expression generator (primitives of every
//! kind, `and`/`or`/`not`, arithmetic relations); what the generator does
//! not consume is packet material. With flag bit 7 the input after byte 2
//! is used as the expression text itself instead (so parser errors are
//! covered too).
//!
//! Checked: compiling never panics; if the unoptimized program compiles,
//! the optimized one compiles too, or is refused as rejecting every packet
//! (then the unoptimized program must reject every packet tried) or as a
//! constant division by zero; on every packet the verdicts are equal
//! (exact mode), or equal unless the unoptimized run ended early on a
//! load past the data (libpcap mode, where the optimized program may then
//! accept).
#![no_main]

use bpfkit_cbpf::Insn;
use bpfkit_pcapfilter::{
    compile_with, CompileError, CompileOptions, LinkType, ShortPackets, StaticResolver,
};
use libfuzzer_sys::fuzz_target;

/// Reads choices from the input; 0 once it is used up.
struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn rest(&self) -> &[u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }
}

const PROTOS: &[&str] = &[
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "pim",
    "vrrp",
    "ah",
    "esp",
    "atalk",
    "decnet",
    "iso",
    "stp",
    "ipx",
    "netbeui",
    "l1",
    "isis",
    "clnp",
    "llc",
    "vlan",
    "mpls",
    "pppoes",
    "pppoed",
    "geneve",
    "broadcast",
    "multicast",
    "ip multicast",
];
const ADDRS: &[&str] = &[
    "10.0.0.1",
    "1.2.3.4",
    "192.168.0.0/16",
    "10",
    "::1",
    "2001:db8::/32",
    "fe80::1",
];
const VALUES: &[&str] = &[
    "0", "1", "2", "14", "0x10", "255", "len", "tcpflags", "tcp-syn",
];
const SIZES: &[&str] = &["", ":1", ":2", ":4"];
const HEADERS: &[&str] = &["ip", "tcp", "udp", "ether", "ip6", "icmp", "link", "radio"];

fn arith(c: &mut Choices, depth: usize) -> String {
    match c.below(if depth > 2 { 2 } else { 6 }) {
        0 | 1 => c.pick(VALUES).to_string(),
        2 => format!(
            "{}[{}{}]",
            c.pick(HEADERS),
            arith(c, depth + 1),
            c.pick(SIZES)
        ),
        3 => format!("-{}", arith(c, depth + 1)),
        4 => format!("({})", arith(c, depth + 1)),
        _ => {
            let op = c.pick(&["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
            format!("{} {op} {}", arith(c, depth + 1), arith(c, depth + 1))
        }
    }
}

fn primitive(c: &mut Choices) -> String {
    match c.below(7) {
        0 | 1 => c.pick(PROTOS).to_string(),
        2 => {
            let q = c.pick(&["", "src ", "dst ", "ip ", "ip6 ", "ip src ", "arp "]);
            format!("{q}host {}", c.pick(ADDRS))
        }
        3 => {
            let q = c.pick(&["", "tcp ", "udp ", "src ", "dst ", "tcp dst "]);
            let kind = c.pick(&["port", "portrange"]);
            let v = if kind == "port" {
                c.pick(&["80", "53", "0", "65535", "22"])
            } else {
                c.pick(&["10-20", "1-1024", "80-80"])
            };
            format!("{q}{kind} {v}")
        }
        4 => format!(
            "{} proto {}",
            c.pick(&["ip", "ip6", "ether"]),
            c.pick(&["6", "17", "1", "58"])
        ),
        5 => c
            .pick(&[
                "less 60",
                "greater 100",
                "net 10.0.0.0/8",
                "ether host 0:1:2:3:4:5",
            ])
            .to_string(),
        _ => {
            let rel = c.pick(&["=", "!=", "<", ">", "<=", ">="]);
            format!("{} {rel} {}", arith(c, 0), arith(c, 0))
        }
    }
}

fn expr(c: &mut Choices, depth: usize) -> String {
    match c.below(if depth > 3 { 1 } else { 5 }) {
        0 => primitive(c),
        1 => format!("not {}", expr(c, depth + 1)),
        2 => format!("({})", expr(c, depth + 1)),
        _ => {
            let op = c.pick(&["and", "or"]);
            format!("{} {op} {}", expr(c, depth + 1), expr(c, depth + 1))
        }
    }
}

/// A frame of link type `lt` around an IPv4 or IPv6 packet whose fields
/// come from `c`, so that protocol tests can pass.
fn frame(c: &mut Choices, lt: LinkType) -> Vec<u8> {
    let v6 = c.byte() & 1 == 1;
    let proto = c.pick(&[6u8, 17, 1, 58, 132, 2, 0]);
    let mut ip = if v6 {
        let mut h = vec![0x60, 0, 0, 0, 0, 20, proto, 64];
        h.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c.byte()]);
        h
    } else {
        let mut h = vec![0x45, 0, 0, 40, 0, 0, c.byte() & 0x20, 0, 64, proto, 0, 0];
        h.extend([10, 0, 0, c.byte()]);
        h.extend([c.byte(), 2, 3, 4]);
        h
    };
    let ports = [
        c.pick(&[80u16, 53, 22, 15, 1024]),
        c.pick(&[80u16, 53, 22, 15]),
    ];
    for p in ports {
        ip.extend(p.to_be_bytes());
    }
    ip.extend(c.rest().iter().take(24));
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut f = match lt {
        LinkType::EN10MB => {
            let mut f = vec![0, 1, 2, 3, 4, 5, 0, 0x11, 0x22, 0x33, 0x44, 0x55];
            f.extend(ethertype);
            f
        }
        LinkType::LINUX_SLL => {
            let mut f = vec![0, 0, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0];
            f.extend(ethertype);
            f
        }
        LinkType::NULL => if v6 { 24u32 } else { 2u32 }.to_le_bytes().to_vec(),
        _ => Vec::new(),
    };
    f.extend(ip);
    f
}

fn compile(
    expr: &str,
    lt: LinkType,
    optimize: bool,
    mode: ShortPackets,
) -> Result<Vec<Insn>, CompileError> {
    let opts = CompileOptions {
        optimize,
        short_packets: mode,
        ..CompileOptions::default()
    };
    compile_with(expr, lt, &opts, &StaticResolver::new())
}

/// The program with `ret #0` turned into `ret #1`: 0 then means "ended
/// early" (a load past the data, a division by zero).
fn with_visible_aborts(prog: &[Insn]) -> Vec<Insn> {
    prog.iter()
        .map(|i| match (i.code, i.k) {
            (0x06, 0) => Insn { k: 1, ..*i },
            _ => *i,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let types = [
        LinkType::EN10MB,
        LinkType::RAW,
        LinkType::LINUX_SLL,
        LinkType::NULL,
        LinkType::IEEE802_11_RADIO,
        LinkType::PPP,
    ];
    let lt = types[data[0] as usize % types.len()];
    let flags = data[1];
    let mode = if flags & 1 == 1 {
        ShortPackets::Exact
    } else {
        ShortPackets::Libpcap
    };
    let mut c = Choices { data, pos: 2 };
    let text;
    let expr = if flags & 0x80 != 0 {
        text = String::from_utf8_lossy(&data[2..]).into_owned();
        c.pos = data.len();
        text.as_str()
    } else {
        text = expr(&mut c, 0);
        text.as_str()
    };
    let plain = compile(expr, lt, false, mode);
    let optimized = compile(expr, lt, true, mode);
    let Ok(plain) = plain else {
        return;
    };
    // Packets: a frame built from the input, its truncations, the raw rest.
    let base = frame(&mut c, lt);
    let mut packets: Vec<(Vec<u8>, u32)> = vec![(base.clone(), base.len() as u32)];
    for cut in [1, 14, 20, 34, 38, 54, 58] {
        if cut < base.len() {
            packets.push((base[..cut].to_vec(), base.len() as u32));
        }
    }
    packets.push((c.rest().to_vec(), c.rest().len() as u32));
    let aborts = with_visible_aborts(&plain);
    match optimized {
        Ok(opt) => {
            for (p, wire) in &packets {
                let want = bpfkit_cbpf::run(&plain, p, *wire);
                let got = bpfkit_cbpf::run(&opt, p, *wire);
                let ended_early = bpfkit_cbpf::run(&aborts, p, *wire) == 0;
                if want != got && !(mode == ShortPackets::Libpcap && ended_early) {
                    panic!(
                        "{expr:?} on {lt}: unoptimized {want}, optimized {got} ({mode:?}) on {p:02x?} wire {wire}\nunoptimized: {plain:?}\noptimized: {opt:?}"
                    );
                }
            }
        }
        Err(CompileError::RejectsAll) => {
            for (p, wire) in &packets {
                assert_eq!(
                    bpfkit_cbpf::run(&plain, p, *wire),
                    0,
                    "{expr:?} on {lt} refused as rejecting everything, accepts {p:02x?}"
                );
            }
        }
        Err(CompileError::Constant(_)) => {}
        Err(e) => panic!("{expr:?} on {lt}: unoptimized compiles, optimized fails: {e}"),
    }
});
