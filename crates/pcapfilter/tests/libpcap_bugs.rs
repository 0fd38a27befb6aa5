//! Expressions that libpcap's optimizer is known to compile wrongly: the
//! optimized program here gives the right answer (worked out from the
//! expression's meaning, independently of any compiler), which is also
//! what libpcap's unoptimized program (`tcpdump -O`) gives. Where tcpdump
//! is installed, its optimized program is shown to be wrong on the same
//! packets, so the test would notice if the cases stopped being bugs.

mod common;

use bpfkit_pcapfilter::{compile, CompileOptions, LinkType, ShortPackets};
use common::{tcpdump_program, tcpdump_version};

/// A known-bad expression, packets, and the right verdict for each.
struct Case {
    expr: &'static str,
    packets: Vec<Vec<u8>>,
    right: fn(&[u8]) -> bool,
}

fn frame(first: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0] = first;
    f
}

fn cases() -> Vec<Case> {
    vec![
        // `jset #0xffffffff` is "A != 0", not "always" (libpcap turns the
        // whole program into `ret #262144`).
        Case {
            expr: "ether[0:1] & 0xffffffff != 0",
            packets: vec![frame(0), frame(1), frame(0x80), frame(0xff)],
            right: |p| p[0] != 0,
        },
        // 1/2 = 0 = 1/3, 4/5 = 0 < 1, 6/7 = 0 < 1: always true (libpcap's
        // constant folding makes it always false).
        Case {
            expr: "1/2=1/3&&1>4/5&&1>6/7",
            packets: vec![frame(0), frame(7), vec![]],
            right: |_| true,
        },
    ]
}

#[test]
fn known_libpcap_optimizer_bugs_give_the_right_answer() {
    let tcpdump = tcpdump_version().is_some();
    if !tcpdump {
        eprintln!("note: tcpdump not installed; checking against the expected verdicts only");
    }
    for case in cases() {
        for mode in [ShortPackets::Libpcap, ShortPackets::Exact] {
            for optimize in [true, false] {
                let opts = CompileOptions {
                    optimize,
                    short_packets: mode,
                    ..CompileOptions::default()
                };
                let verdicts = match compile(case.expr, LinkType::EN10MB, &opts) {
                    Ok(prog) => case
                        .packets
                        .iter()
                        .map(|p| bpfkit_cbpf::run(&prog, p, p.len() as u32) != 0)
                        .collect::<Vec<_>>(),
                    // Refused as rejecting everything: only right if so.
                    Err(e) => {
                        assert!(optimize, "{}: {e}", case.expr);
                        vec![false; case.packets.len()]
                    }
                };
                for (p, got) in case.packets.iter().zip(verdicts) {
                    assert_eq!(
                        got,
                        (case.right)(p),
                        "{} (optimize {optimize}, {mode:?}) on {:02x?}",
                        case.expr,
                        &p[..p.len().min(4)]
                    );
                }
            }
        }
        if tcpdump {
            let run = |prog: &[bpfkit_cbpf::Insn]| {
                case.packets
                    .iter()
                    .map(|p| bpfkit_cbpf::run(prog, p, p.len() as u32) != 0)
                    .collect::<Vec<_>>()
            };
            let right: Vec<bool> = case.packets.iter().map(|p| (case.right)(p)).collect();
            let plain = tcpdump_program("EN10MB", case.expr, false).expect("tcpdump -O");
            assert_eq!(run(&plain), right, "{}: tcpdump -O", case.expr);
            match tcpdump_program("EN10MB", case.expr, true) {
                Ok(optimized) => assert_ne!(
                    run(&optimized),
                    right,
                    "{}: libpcap's optimizer got this one right now",
                    case.expr
                ),
                // ("expression rejects all packets" where it accepts some.)
                Err(_) => assert!(right.contains(&true), "{}", case.expr),
            }
        }
    }
}
