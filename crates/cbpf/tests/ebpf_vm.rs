//! The eBPF translation and the pre-decoded `Filter` against the interpreter:
//! for random programs (valid or not) and random packets, the translated
//! program run on bpfkit's eBPF VM, and `Filter::run`, return what `run` returns.

mod common;

use bpfkit_cbpf::{dump, run, to_ebpf, to_ebpf_with, DumpFormat, Filter, Insn, WireLen};
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use common::*;

/// Runs translated `ebpf` on `packet` with r3 = `wirelen`.
fn run_vm(ebpf: &Program, packet: &[u8], wirelen: u32) -> u64 {
    let mut memory = MemoryMap::new();
    let addr = memory.add_slice(packet);
    let config = Config {
        budget: 1 << 30,
        ..Config::default()
    };
    let regs = [addr, packet.len() as u64, u64::from(wirelen), 0, 0];
    match ebpf.run(regs, &mut memory, &mut NoHelpers, &config) {
        Ok(exit) => exit.r0,
        Err(e) => panic!("the VM stopped: {e}"),
    }
}

fn check(prog: &[Insn], packets: &[(Vec<u8>, u32)]) {
    let same = Program::load(&to_ebpf(prog)).expect("translation loads");
    let r3 = Program::load(&to_ebpf_with(prog, WireLen::InR3)).expect("translation loads");
    let filter = Filter::new(prog);
    for (packet, wirelen) in packets {
        assert_eq!(
            filter.run(packet, *wirelen),
            run(prog, packet, *wirelen),
            "Filter, packet {packet:02x?}\n{}",
            dump(prog, DumpFormat::Image)
        );
        let expected = u64::from(run(prog, packet, packet.len() as u32));
        assert_eq!(
            run_vm(&same, packet, *wirelen),
            expected,
            "wirelen = caplen, packet {packet:02x?}\n{}",
            dump(prog, DumpFormat::Image)
        );
        let expected = u64::from(run(prog, packet, *wirelen));
        assert_eq!(
            run_vm(&r3, packet, *wirelen),
            expected,
            "wirelen {wirelen} in r3, packet {packet:02x?}\n{}",
            dump(prog, DumpFormat::Image)
        );
    }
}

#[test]
fn translation_matches_the_interpreter_on_random_programs() {
    let mut rng = Rng::new(0xeb9f);
    let mut accepted = 0;
    let mut total = 0;
    for i in 0..3000 {
        let shape = Shape {
            chaos: [0, 0, 10, 40][i % 4],
            max_len: 24,
        };
        let prog = random_program(&mut rng, shape);
        let packets: Vec<(Vec<u8>, u32)> = (0..6)
            .map(|_| {
                let p = random_packet(&mut rng);
                let wirelen = p.len() as u32 + rng.below(300) as u32;
                (p, wirelen)
            })
            .collect();
        for (p, w) in &packets {
            total += 1;
            accepted += usize::from(run(&prog, p, *w) != 0);
        }
        check(&prog, &packets);
    }
    assert!(accepted > total / 10, "{accepted}/{total} accepted");
}

#[test]
fn translation_matches_on_loops_and_far_jumps() {
    use bpfkit_cbpf::op::*;
    let packets = vec![(vec![0x45; 40], 40), (vec![], 0), (vec![1, 2, 3], 90)];
    // A backward loop that terminates, and one that exhausts the budget.
    check(
        &[
            Insn::stmt(LD_IMM, 5),
            Insn::stmt(ALU_SUB_K, 1),
            Insn::jump(JMP_JEQ_K, 0, 1, 0),
            Insn::stmt(JMP_JA, (-3i32) as u32),
            Insn::stmt(RET_K, 9),
        ],
        &packets,
    );
    check(
        &[Insn::stmt(JMP_JA, u32::MAX), Insn::stmt(RET_K, 1)],
        &packets,
    );
    // Jumps beyond 16-bit eBPF offsets, taken and not taken.
    let mut prog = vec![
        Insn::stmt(LD_B_ABS, 0),
        Insn::jump(JMP_JEQ_K, 0x45, 0, 1),
        Insn::stmt(JMP_JA, 5000),
    ];
    prog.extend(vec![Insn::stmt(LD_W_IND, 0); 5000]);
    prog.push(Insn::stmt(RET_A, 0));
    check(&prog, &packets);
}
