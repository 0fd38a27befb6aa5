//! The printer, parser, validator and interpreter against libpcap itself:
//! `tcpdump -d/-dd/-ddd` output, and a C harness calling libpcap's
//! `bpf_image`, `bpf_validate` and `bpf_filter`.

mod common;

use bpfkit_cbpf::{
    dump, op, parse_dd, parse_ddd, run, validate, DumpFormat, Filter, Insn, SKF_AD_OFF, SKF_LL_OFF,
};
use common::*;

/// Expressions tcpdump compiles for Ethernet, chosen to make it emit every
/// opcode it can: all loads, scratch memory, every ALU operation with K and
/// X operands, every jump, backward jumps (protochain).
const EXPRESSIONS: &[&str] = &[
    "ip",
    "arp",
    "tcp port 80",
    "udp and src host 10.0.0.1",
    "net 10.0.0.0/8",
    "ether host 01:02:03:04:05:06",
    "ether multicast",
    "ip broadcast",
    "portrange 1000-2000",
    "len > 100",
    "less 64",
    "greater 1000",
    "icmp[icmptype] = icmp-echo",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
    "vlan 100 and ip",
    "mpls 3",
    "pppoes 5",
    "geneve",
    "ip6 and tcp",
    "ip6 and dst port 53",
    "ip6 protochain 6",
    "ip protochain 17",
    "sctp",
    "decnet host 1.2",
    "ipx",
    "stp",
    "ip proto 47",
    "ip[0:4] = 0x45000000",
    "ether[0:4] & 0xffffff00 = 0",
    "ether[12:2] >= 0x600",
    "ip[2:2] > 1500",
    "ip[3] & 0x80 = 0x80",
    "ip[8] = 1 or ip[9] = 2 and not ip[10] = 3",
    "ip[2:2] * 3 > 100",
    "ip[0] & 0xf != 5",
    "ip[0] % 3 = 1",
    "ip[1] ^ 1 = 0",
    "ip[0] << 2 = 8",
    "ip[0] >> 1 = 2",
    "ip[4:2] / 2 = 7",
    "ip[4:2] - 2 = 7",
    "ip[4:2] | 1 = 7",
    "0 = -ip[0]",
    "ip[8] > ip[9]",
    "ip[8] >= ip[9]",
    "ip[8] & ip[9] != 0",
    "ip[8] + ip[9] = 1",
    "ip[8] - ip[9] = 1",
    "ip[8] * ip[9] = 1",
    "ip[8] / ip[9] = 1",
    "ip[8] % ip[9] = 1",
    "ip[8] << ip[9] = 1",
    "ip[8] >> ip[9] = 1",
    "ip[8] ^ ip[9] = 1",
    "ip[8] & ip[9] = 1",
    "ip[8] | ip[9] = 1",
    "ether[len - 1] = 0",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
];

#[test]
fn printer_and_parser_match_tcpdump() {
    let mut compared = 0;
    let mut seen = std::collections::BTreeSet::new();
    for expr in EXPRESSIONS {
        let ddd = match tcpdump(&["-ddd", "-y", "EN10MB", expr]) {
            None => {
                eprintln!("skipping: tcpdump is not installed");
                return;
            }
            Some(Err(e)) => panic!("tcpdump rejects {expr:?}: {e}"),
            Some(Ok(text)) => text,
        };
        let prog = parse_ddd(&ddd).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        seen.extend(prog.iter().map(|i| i.code));
        let d = tcpdump(&["-d", "-y", "EN10MB", expr]).unwrap().unwrap();
        let dd = tcpdump(&["-dd", "-y", "EN10MB", expr]).unwrap().unwrap();
        assert_eq!(dump(&prog, DumpFormat::Image), d, "-d of {expr:?}");
        assert_eq!(dump(&prog, DumpFormat::C), dd, "-dd of {expr:?}");
        assert_eq!(dump(&prog, DumpFormat::Decimal), ddd, "-ddd of {expr:?}");
        assert_eq!(parse_dd(&dd).unwrap(), prog, "-dd parsed back, {expr:?}");
        // tcpdump's programs are kernel-acceptable, except protochain's
        // backward jump.
        let backward = prog
            .iter()
            .any(|i| i.code == op::JMP_JA && (i.k as i32) < 0);
        assert_eq!(
            validate(&prog).is_ok(),
            !backward,
            "{expr:?}: {:?}",
            validate(&prog)
        );
        compared += 1;
    }
    assert_eq!(compared, EXPRESSIONS.len());
    // The list really makes tcpdump emit the opcodes it claims to.
    for code in [
        op::LD_W_ABS,
        op::LD_H_IND,
        op::LD_B_IND,
        op::LDX_B_MSH,
        op::LD_W_LEN,
        op::LD_MEM,
        op::LDX_MEM,
        op::ST_MEM,
        op::STX_MEM,
        op::JMP_JA,
        op::JMP_JGT_X,
        op::JMP_JGE_X,
        op::JMP_JSET_K,
        op::ALU_NEG,
        op::ALU_MOD_X,
        op::ALU_XOR_K,
        op::ALU_LSH_X,
        op::ALU_RSH_K,
        op::MISC_TAX,
        op::MISC_TXA,
    ] {
        assert!(seen.contains(&code), "no expression produced {code:#x}");
    }
}

/// Programs covering every opcode and operand form `bpf_image` knows, plus
/// unknown opcodes, negative constants, Linux ancillary names and 4-digit
/// instruction numbers.
fn every_form() -> Vec<Insn> {
    let mut prog = Vec::new();
    let ks = [0u32, 1, 12, 0x7fff_ffff, 0x8000_0000, u32::MAX];
    for &code in &op::ALL {
        for &k in &ks {
            prog.push(Insn::jump(code, k, 3, 250));
        }
    }
    for n in 0..=68 {
        for code in [op::LD_W_ABS, op::LD_H_ABS, op::LD_B_ABS] {
            prog.push(Insn::stmt(code, SKF_AD_OFF + n));
        }
    }
    for code in [op::LD_B_ABS, op::LD_W_IND, op::LDX_B_MSH] {
        prog.push(Insn::stmt(code, SKF_LL_OFF + 3));
    }
    // Unknown opcodes: every class, with and without the jump format.
    for code in (0..=0xffu16).filter(|c| !op::is_known(*c)).step_by(3) {
        prog.push(Insn::jump(code, 7, 1, 2));
    }
    prog.push(Insn::stmt(0x1234, 0));
    prog.push(Insn::stmt(0xff05, 0));
    // Reach four-digit instruction numbers.
    while prog.len() < 1100 {
        prog.push(Insn::jump(op::JMP_JEQ_K, 0x800, 255, 0));
    }
    prog
}

#[test]
fn printer_matches_bpf_image_for_every_form() {
    let exe = match harness() {
        Ok(exe) => exe,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let prog = every_form();
    let out = run_harness(exe, &format!("{}I\n", load_command(&prog)));
    let expected = out.strip_suffix(".\n").expect("harness output ends with .");
    let ours = dump(&prog, DumpFormat::Image);
    for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, b, "instruction {i}: {:?}", prog[i]);
    }
    assert_eq!(ours, expected);
}

#[test]
fn interpreter_matches_bpf_filter() {
    let exe = match harness() {
        Ok(exe) => exe,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let mut rng = Rng::new(0x5eed_cbf0);
    let shape = Shape {
        chaos: 0,
        max_len: 24,
    };
    let mut script = String::new();
    let mut expected = Vec::new();
    let mut programs = 0;
    let mut accepted = 0u32;
    while programs < 3000 {
        let prog = random_program(&mut rng, shape);
        // libpcap's bpf_filter is only defined on programs like these (it
        // aborts on unknown opcodes and reads uninitialized scratch memory).
        if validate(&prog).is_err() {
            continue;
        }
        programs += 1;
        script.push_str(&load_command(&prog));
        let filter = Filter::new(&prog);
        for _ in 0..8 {
            let packet = random_packet(&mut rng);
            let wirelen = packet.len() as u32 + rng.below(3) as u32 * 100;
            let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
            let hex = if hex.is_empty() { "-".to_owned() } else { hex };
            script.push_str(&format!("F {wirelen} {hex}\n"));
            let ours = run(&prog, &packet, wirelen);
            assert_eq!(filter.run(&packet, wirelen), ours, "Filter vs run");
            accepted += u32::from(ours != 0);
            expected.push((ours, prog.clone(), packet));
        }
    }
    let out = run_harness(exe, &script);
    let theirs: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(theirs.len(), expected.len());
    for ((ours, prog, packet), theirs) in expected.iter().zip(&theirs) {
        assert_eq!(
            ours,
            theirs,
            "program:\n{}packet {:02x?}",
            dump(prog, DumpFormat::Image),
            packet
        );
    }
    // The comparison is meaningful only if both verdicts occur often.
    let total = expected.len() as u32;
    assert!(
        accepted > total / 10 && accepted < total * 9 / 10,
        "{accepted}/{total}"
    );
}

#[test]
fn kernel_rules_are_stricter_than_bpf_validate() {
    let exe = match harness() {
        Ok(exe) => exe,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let mut rng = Rng::new(7);
    let mut script = String::new();
    let mut ours = Vec::new();
    for i in 0..4000 {
        let shape = Shape {
            chaos: [0, 5, 20][i % 3],
            max_len: 12,
        };
        let prog = random_program(&mut rng, shape);
        script.push_str(&load_command(&prog));
        script.push_str("V\n");
        ours.push((validate(&prog), prog));
    }
    let out = run_harness(exe, &script);
    let mut differences = std::collections::BTreeMap::new();
    for ((verdict, prog), line) in ours.iter().zip(out.lines()) {
        let libpcap_ok = line == "1";
        match verdict {
            Ok(()) => assert!(
                libpcap_ok,
                "libpcap rejects a kernel-valid program:\n{}",
                dump(prog, DumpFormat::Image)
            ),
            Err(e) if libpcap_ok => {
                // Only the documented differences may appear.
                let name = format!("{:?}", e.kind);
                let name = name.split([' ', '{']).next().unwrap().to_owned();
                assert!(
                    [
                        "UnknownOpcode",
                        "ShiftTooLarge",
                        "UnknownAncillary",
                        "ScratchReadBeforeWrite",
                        "JumpOutOfRange"
                    ]
                    .contains(&name.as_str()),
                    "undocumented difference {e}"
                );
                *differences.entry(name).or_insert(0) += 1;
            }
            Err(_) => {}
        }
    }
    eprintln!("programs libpcap accepts and the kernel rules reject: {differences:?}");
}
