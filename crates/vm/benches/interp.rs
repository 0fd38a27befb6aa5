//! Interpreter throughput on three programs, with rbpf 0.4.1's interpreter as a peer.
//!
//! Run: `cargo bench -p bpfkit-vm --bench interp` (optionally `-- <seconds per measurement>`).
//! Each program is run repeatedly for a fixed time per engine; the rate is executed
//! instructions (counted by bpfkit, identical for both since the programs are deterministic
//! and both engines must return the same r0) per second of the thread's CPU time (the machine
//! is shared, so wall time mostly measures the neighbours). Rounds alternate between the two
//! engines and the best of 5 rounds is kept.

use bpfkit_isa::encode;
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use std::time::Instant;

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

/// CPU time consumed by this thread, in seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `f` repeatedly for about `budget` of CPU time; returns the CPU seconds per call.
fn time_round<F: FnMut() -> u64>(budget: f64, f: &mut F) -> f64 {
    let start = thread_cpu_secs();
    let mut n = 0u64;
    loop {
        std::hint::black_box(f());
        n += 1;
        let spent = thread_cpu_secs() - start;
        if spent >= budget {
            return spent / n as f64;
        }
    }
}

/// Best-of-`ROUNDS` CPU seconds per call of `a` and of `b`, rounds interleaved.
fn time_pair<A: FnMut() -> u64, B: FnMut() -> u64>(budget: f64, mut a: A, mut b: B) -> (f64, f64) {
    const ROUNDS: u32 = 5;
    let (mut ta, mut tb) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        ta = ta.min(time_round(budget / ROUNDS as f64, &mut a));
        tb = tb.min(time_round(budget / ROUNDS as f64, &mut b));
    }
    (ta, tb)
}

fn main() {
    // `cargo bench` passes `--bench`; a number argument sets the seconds per measurement.
    let secs: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1.5);
    let wall = Instant::now();
    println!(
        "| program | insns/run | bpfkit-vm (M insn/s) | rbpf 0.4.1 (M insn/s) | bpfkit / rbpf |"
    );
    println!("|---|---:|---:|---:|---:|");
    for b in benches() {
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

        let (t_vm, t_peer) = time_pair(
            secs,
            || run_vm(&mut mem).r0,
            || peer.execute_program(&peer_mem, &[]).unwrap(),
        );
        let rate = |t: f64| exit.executed as f64 / t / 1e6;
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2}x |",
            b.name,
            exit.executed,
            rate(t_vm),
            rate(t_peer),
            t_peer / t_vm
        );
    }
    println!(
        "(CPU-time rates; wall time of the whole run: {:.1} s)",
        wall.elapsed().as_secs_f64()
    );
}
