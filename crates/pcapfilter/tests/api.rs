//! The public API: options, errors with positions, and name resolution
//! through a custom resolver (names libpcap would look up in the system
//! must give exactly the program of the equivalent numeric expression).

use std::net::IpAddr;

use bpfkit_pcapfilter::names::Transport;
use bpfkit_pcapfilter::{
    build_cfg, compile_with, CompileError, CompileOptions, LinkType, ShortPackets, StaticResolver,
};

fn resolver() -> StaticResolver {
    let v4: IpAddr = "1.2.3.4".parse().unwrap();
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    StaticResolver::new()
        .host("dual", &[v4, v6])
        .host("only6", &[v6])
        .service("same", Transport::Tcp, 1000)
        .service("same", Transport::Udp, 1000)
        .service("split", Transport::Tcp, 5)
        .service("split", Transport::Udp, 6)
        .service("udponly", Transport::Udp, 7)
        .network("mynet", 10)
        .network("mynet16", 0xac10)
        .ether("box", [0, 1, 2, 3, 4, 5])
}

fn prog(expr: &str, lt: LinkType) -> Result<Vec<bpfkit_cbpf::Insn>, CompileError> {
    let opts = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    compile_with(expr, lt, &opts, &resolver())
}

#[test]
fn names_compile_like_their_values() {
    let en = LinkType::EN10MB;
    let pairs = [
        ("host dual", "host 1.2.3.4 or host 2001:db8::7", en),
        (
            "src host dual",
            "src host 1.2.3.4 or src host 2001:db8::7",
            en,
        ),
        // Without a link-layer type field, a name means IPv4 or IPv6 only.
        (
            "host dual",
            "ip host 1.2.3.4 or ip6 host 2001:db8::7",
            LinkType::RAW,
        ),
        ("ip6 host dual", "ip6 host 2001:db8::7", en),
        ("ip host dual", "ip host 1.2.3.4", en),
        ("host only6", "host 2001:db8::7", en),
        ("port same", "port 1000", en),
        ("port split", "tcp port 5", en),
        ("port udponly", "udp port 7", en),
        ("portrange same-split", "portrange 1000-5", en),
        ("net mynet", "net 10", en),
        ("net mynet16", "net 172.16", en),
        ("ether host box", "ether host 0:1:2:3:4:5", en),
        (
            "ether src box",
            "ether src 0:1:2:3:4:5",
            LinkType::IEEE802_11,
        ),
    ];
    for (named, numeric, lt) in pairs {
        assert_eq!(
            prog(named, lt).unwrap(),
            prog(numeric, lt).unwrap(),
            "{named} vs {numeric} on {lt}"
        );
    }
}

#[test]
fn unknown_names_are_errors_naming_them() {
    for (expr, needle) in [
        ("host nowhere", "unknown host 'nowhere'"),
        ("ip host only6", "for specified address family"),
        ("tcp port udponly", "port 'udponly' is udp"),
        // libpcap takes the TCP port of a name whose ports differ.
        ("udp port split", "port 'split' is tcp"),
        ("port nothing", "unknown port 'nothing'"),
        ("net nonet", "unknown network 'nonet'"),
        ("ether host nobox", "unknown ether host 'nobox'"),
        ("proto nosuch", "unknown ip proto 'nosuch'"),
    ] {
        let e = prog(expr, LinkType::EN10MB).unwrap_err().to_string();
        assert!(e.contains(needle), "{expr}: {e}");
    }
}

#[test]
fn errors_carry_line_and_column() {
    let e = prog("tcp and\n  port 99999", LinkType::EN10MB).unwrap_err();
    match e {
        CompileError::Semantic { pos, ref message } => {
            assert_eq!((pos.line, pos.column, pos.offset), (2, 8, 15));
            assert!(message.contains("65535"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = prog("tcp and (udp", LinkType::EN10MB).unwrap_err();
    assert!(
        matches!(e, CompileError::Syntax { pos, .. } if pos.column == 13),
        "{e:?}"
    );
    assert!(prog("ip", LinkType(147))
        .unwrap_err()
        .to_string()
        .contains("147"));
}

#[test]
fn options_are_applied() {
    let opts = CompileOptions {
        snaplen: 96,
        ..CompileOptions::default()
    };
    let p = compile_with("", LinkType::EN10MB, &opts, &resolver()).unwrap();
    assert_eq!(p, vec![bpfkit_cbpf::Insn::stmt(0x06, 96)]);
    let p = compile_with("ip", LinkType::EN10MB, &opts, &resolver()).unwrap();
    assert_eq!(p.last().map(|i| i.k), Some(0));
    assert_eq!(p[p.len() - 2].k, 96);
    let zero = CompileOptions { snaplen: 0, ..opts };
    assert!(matches!(
        compile_with("ip", LinkType::EN10MB, &zero, &resolver()),
        Err(CompileError::Options(_))
    ));
    // `ip broadcast` needs the netmask: all-ones host part of 10.1.0.0/16.
    let masked = CompileOptions {
        netmask: 0xffff_0000,
        ..opts
    };
    let p = compile_with("ip broadcast", LinkType::EN10MB, &masked, &resolver()).unwrap();
    assert!(p.iter().any(|i| i.k == 0x0000_ffff));
    let unknown = CompileOptions {
        netmask: bpfkit_pcapfilter::NETMASK_UNKNOWN,
        ..opts
    };
    assert!(compile_with("ip broadcast", LinkType::EN10MB, &unknown, &resolver()).is_err());
}

#[test]
fn the_graph_is_available_before_layout() {
    let (cfg, root) = build_cfg(
        "tcp or udp",
        LinkType::EN10MB,
        &CompileOptions::default(),
        &resolver(),
    )
    .unwrap();
    let order = cfg.post_order(root);
    // Blocks are laid out in reverse placement order; the root comes first.
    assert_eq!(order.last(), Some(&root));
    assert!(order.len() >= 4);
}

/// As libpcap: with the optimizer on, an expression whose program rejects
/// every packet is refused; with it off (`tcpdump -O`), or when the
/// program has a loop the optimizer leaves alone (`protochain`), it is not.
#[test]
fn rejecting_everything_is_an_error_only_when_optimizing() {
    let on = CompileOptions::default();
    let off = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    let cases = [
        ("arp", LinkType::RAW),
        ("arp", LinkType::IPV6),
        ("stp", LinkType::RAW),
        ("ip", LinkType::IPV6),
        ("tcp and udp", LinkType::EN10MB),
    ];
    for (expr, lt) in cases {
        let err = compile_with(expr, lt, &on, &resolver()).unwrap_err();
        assert_eq!(err, CompileError::RejectsAll, "{expr} on {lt}");
        assert_eq!(err.to_string(), "expression rejects all packets");
        let prog = compile_with(expr, lt, &off, &resolver()).expect("compiles with -O");
        assert!(prog.len() > 1);
    }
    assert!(compile_with("ip6 protochain 6 and arp", LinkType::RAW, &on, &resolver()).is_ok());
    // Accepting everything is fine.
    assert_eq!(
        compile_with("not ip", LinkType::IPV6, &on, &resolver()).unwrap(),
        vec![bpfkit_cbpf::Insn::stmt(0x06, 262_144)]
    );
}

/// A constant division by zero found by constant propagation is refused
/// when optimizing, as libpcap does; the unoptimized program just rejects
/// at run time.
#[test]
fn constant_division_by_zero_is_refused_when_optimizing() {
    let on = CompileOptions::default();
    let off = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    for (expr, msg) in [
        ("len / (2 - 2) = 1", "division by zero"),
        ("len % (1 - 1) = 0", "modulus by zero"),
    ] {
        let err = compile_with(expr, LinkType::EN10MB, &on, &resolver()).unwrap_err();
        assert_eq!(err.to_string(), msg, "{expr}");
        let prog = compile_with(expr, LinkType::EN10MB, &off, &resolver()).unwrap();
        assert_eq!(bpfkit_cbpf::run(&prog, &[0; 60], 60), 0);
    }
}

/// The two short-packet modes on `net ::/0` (matches any IPv6 packet):
/// the unoptimized program loads the source address, so it rejects an IPv6
/// frame cut before the address ends; exact mode keeps one load that makes
/// the same check, the libpcap-compatible mode drops the loads (as libpcap
/// does) and accepts the cut frame.
#[test]
fn short_packet_modes() {
    let mut frame = vec![0u8; 14 + 40];
    frame[12] = 0x86;
    frame[13] = 0xdd;
    frame[14] = 0x60;
    let cut = &frame[..30];
    let compile = |optimize, short_packets| {
        let opts = CompileOptions {
            optimize,
            short_packets,
            ..CompileOptions::default()
        };
        compile_with("net ::/0", LinkType::EN10MB, &opts, &resolver()).unwrap()
    };
    let plain = compile(false, ShortPackets::Exact);
    let exact = compile(true, ShortPackets::Exact);
    let lenient = compile(true, ShortPackets::Libpcap);
    for prog in [&plain, &exact, &lenient] {
        assert_eq!(bpfkit_cbpf::run(prog, &frame, 54), 262_144);
    }
    assert_eq!(bpfkit_cbpf::run(&plain, cut, 54), 0);
    assert_eq!(bpfkit_cbpf::run(&exact, cut, 54), 0);
    assert_eq!(bpfkit_cbpf::run(&lenient, cut, 54), 262_144);
    // libpcap's program: ldh [12]; jeq #0x86dd; ret; ret.
    assert_eq!(lenient.len(), 4);
    assert!(exact.len() > lenient.len() && exact.len() < plain.len());
}

/// Programs that compute 802.11 header lengths at run time (jumps inside a
/// block) are optimized too, which libpcap does not do; like libpcap, an
/// expression matching nothing is then not refused (libpcap never ran its
/// optimizer on it), it compiles to `ret #0`.
#[test]
fn runtime_header_lengths_are_optimized_but_never_refused() {
    let on = CompileOptions::default();
    let off = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    for lt in [
        LinkType::IEEE802_11,
        LinkType::IEEE802_11_RADIO,
        LinkType::PPI,
    ] {
        let plain = compile_with("ip", lt, &off, &resolver()).unwrap();
        let opt = compile_with("ip", lt, &on, &resolver()).unwrap();
        assert!(
            opt.len() < plain.len(),
            "{lt}: {} vs {}",
            opt.len(),
            plain.len()
        );
        assert_eq!(
            compile_with("arp and ip", lt, &on, &resolver()).unwrap(),
            vec![bpfkit_cbpf::Insn::stmt(0x06, 0)],
            "{lt}"
        );
    }
}
