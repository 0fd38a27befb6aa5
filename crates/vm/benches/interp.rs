//! Interpreter throughput on three programs, with rbpf 0.4.1's interpreter as a peer.
//!
//! Run: `cargo bench -p bpfkit-vm --bench interp` (optionally `-- <seconds per measurement>`
//! and a part of a program's name to run only those). The rate is executed instructions
//! (counted by bpfkit, identical for both since the programs are deterministic and both
//! engines must return the same r0) per second of thread CPU time, timed as `common/timing.rs`
//! describes (rounds alternating between the engines, best of 5).

use bpfkit_isa::encode;
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use std::time::Instant;

#[path = "common/timing.rs"]
mod timing;

struct Bench {
    name: &'static str,
    asm: &'static str,
    mem: Vec<u8>,
}

fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "alu loop",
            asm: "
                mov %r0, 0
                mov %r1, 100000
                mov %r2, 0x1234
            loop:
                add %r0, %r1
                xor %r0, %r2
                mul %r2, 3
                rsh %r2, 1
                and %r0, 0xffffff
                add32 %r2, %r1
                sub %r1, 1
                jne %r1, 0, loop
                exit
            ",
            mem: vec![],
        },
        Bench {
            name: "memory loop",
            asm: "
                mov %r0, 0
                mov %r6, 50000
            loop:
                ldxdw %r2, [%r1+0]
                ldxw %r3, [%r1+8]
                add %r2, %r6
                stxdw [%r10-8], %r2
                stxw [%r10-16], %r3
                ldxdw %r4, [%r10-8]
                ldxw %r5, [%r10-16]
                ldxb %r7, [%r1+20]
                add %r0, %r4
                add %r0, %r5
                add %r0, %r7
                stxdw [%r10-24], %r0
                sub %r6, 1
                jne %r6, 0, loop
                exit
            ",
            mem: (0..32).collect(),
        },
        Bench {
            name: "call loop",
            asm: "
                mov %r6, 50000
                mov %r7, 0
            loop:
                mov %r1, %r6
                call local f
                add %r7, %r0
                sub %r6, 1
                jne %r6, 0, loop
                mov %r0, %r7
                exit
            f:
                mov %r0, %r1
                call local g
                add %r0, 1
                exit
            g:
                and %r0, 7
                exit
            ",
            mem: vec![],
        },
    ]
}

fn main() {
    let (secs, filter) = timing::args(1.5);
    let wall = Instant::now();
    timing::header(&[
        "program",
        "insns/run",
        "bpfkit-vm (M insn/s)",
        "rbpf 0.4.1 (M insn/s)",
        "bpfkit / rbpf",
    ]);
    for b in benches() {
        if filter
            .as_ref()
            .is_some_and(|f| !b.name.contains(f.as_str()))
        {
            continue;
        }
        let insns = bpfkit_asm::assemble(b.asm).expect("benchmark program assembles");
        let prog = Program::load(&insns).expect("loads");
        let bytes = encode(&insns);
        let config = Config::default();

        let mut mem = b.mem.clone();
        let run_vm = |mem: &mut [u8]| {
            let mut map = MemoryMap::new();
            let len = mem.len() as u64;
            let addr = map.add_slice_mut(mem);
            prog.run([addr, len, 0, 0, 0], &mut map, &mut NoHelpers, &config)
                .expect("runs")
        };
        let exit = run_vm(&mut mem);

        let peer = rbpf::EbpfVmMbuff::new(Some(&bytes)).expect("rbpf loads");
        let peer_mem = b.mem.clone();
        let peer_r0 = peer.execute_program(&peer_mem, &[]).expect("rbpf runs");
        assert_eq!(peer_r0, exit.r0, "{}: engines disagree", b.name);

        let mut vm = || run_vm(&mut mem).r0;
        let mut rbpf = || peer.execute_program(&peer_mem, &[]).unwrap();
        let t = timing::time_all(secs, &mut [&mut vm, &mut rbpf]);
        let rate = |t: f64| exit.executed as f64 / t / 1e6;
        timing::row(&[
            b.name.to_string(),
            exit.executed.to_string(),
            format!("{:.0}", rate(t[0])),
            format!("{:.0}", rate(t[1])),
            format!("{:.2}x", t[1] / t[0]),
        ]);
    }
    println!(
        "(CPU-time rates; wall time of the whole run: {:.1} s)",
        wall.elapsed().as_secs_f64()
    );
}
