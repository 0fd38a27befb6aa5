//! Per-packet cost of the filter engines alone, against libpcap's `bpf_filter`.
//!
//! `cargo bench -p bpfkit-filterbench --bench filter_cost [-- ROUNDS]`
//!
//! Every engine runs the same program (libpcap's optimized code from
//! `tcpdump -ddd`, so the comparison is of interpreters, not compilers) on the
//! same packets held in memory: 1024 frames of the benchmark mix (their
//! headers stay in L2, so this measures evaluation, not cache misses; with
//! 8192 frames every engine pays 10-20 ns more). Rounds alternate between the engines; each
//! measurement is thread CPU time. Before timing, every engine's result for
//! every packet is checked against libpcap's (or `bpfkit_cbpf::run`'s where
//! libpcap is missing).

use bpfkit_cbpf::{Filter, Insn};
use bpfkit_filterbench::libpcap::{Libpcap, LibpcapProgram};
use bpfkit_filterbench::mix::Mix;
use bpfkit_filterbench::programs::{bpfkit_program, tcpdump_program, FILTER_EXPRESSIONS};
use bpfkit_filterbench::timing::{summarize, thread_cpu, Summary};
use bpfkit_jit::JitProgram;
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use std::hint::black_box;
use std::time::Duration;

const PACKETS: usize = 1024;
/// CPU time per measurement, roughly.
const TARGET: Duration = Duration::from_millis(40);

/// The engines measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Libpcap,
    Run,
    Filter,
    Ebpf,
    Jit,
}

const ENGINES: [(Engine, &str); 5] = [
    (Engine::Libpcap, "libpcap bpf_filter"),
    (Engine::Run, "bpfkit_cbpf::run"),
    (Engine::Filter, "bpfkit_cbpf::Filter"),
    (Engine::Ebpf, "eBPF interpreter"),
    (Engine::Jit, "JIT"),
];

/// One program ready on every engine.
struct Prepared {
    cbpf: Vec<Insn>,
    libpcap: Option<(Libpcap, LibpcapProgram)>,
    filter: Filter,
    ebpf: Program,
    jit: JitProgram,
    config: Config,
}

impl Prepared {
    fn new(cbpf: Vec<Insn>, libpcap: Option<Libpcap>) -> Prepared {
        let translated = bpfkit_cbpf::to_ebpf_with(&cbpf, bpfkit_cbpf::WireLen::InR3);
        let ebpf = Program::load(&translated).expect("translated program loads");
        Prepared {
            libpcap: libpcap.map(|l| {
                let p = l.program(&cbpf).expect("libpcap validates its own program");
                (l, p)
            }),
            filter: Filter::new(&cbpf),
            jit: JitProgram::compile(&ebpf, &bpfkit_jit::CompileOptions::default())
                .expect("JIT compiles the translated program"),
            ebpf,
            cbpf,
            config: Config::default(),
        }
    }

    /// Runs every packet once on `engine`; returns the sum of the results.
    fn pass(&self, engine: Engine, packets: &[(&[u8], u32)]) -> u64 {
        match engine {
            Engine::Libpcap => {
                let (l, p) = self.libpcap.as_ref().expect("libpcap loaded");
                sum(packets, |d, w| l.run(p, d, w))
            }
            Engine::Run => sum(packets, |d, w| bpfkit_cbpf::run(&self.cbpf, d, w)),
            Engine::Filter => sum(packets, |d, w| self.filter.run(d, w)),
            Engine::Ebpf => sum(packets, |d, w| {
                translated(d, w, |regs, mem| {
                    self.ebpf.run(regs, mem, &mut NoHelpers, &self.config)
                })
            }),
            Engine::Jit => sum(packets, |d, w| {
                translated(d, w, |regs, mem| {
                    self.jit.run(regs, mem, &mut NoHelpers, &self.config)
                })
            }),
        }
    }

    /// Each packet's result on `engine`.
    fn results(&self, engine: Engine, packets: &[(&[u8], u32)]) -> Vec<u64> {
        packets
            .iter()
            .map(|&p| self.pass(engine, std::slice::from_ref(&p)))
            .collect()
    }
}

/// What `bpfkit filter` does per packet on the eBPF engines: r1 = packet, r2 = its
/// length, r3 = the wire length, in a fresh memory map.
#[inline(always)]
fn translated(
    data: &[u8],
    wirelen: u32,
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>) -> Result<bpfkit_vm::Exit, bpfkit_vm::VmError>,
) -> u32 {
    let mut memory = MemoryMap::new();
    let addr = memory.add_slice(data);
    let exit = run([addr, data.len() as u64, wirelen.into(), 0, 0], &mut memory)
        .expect("translated filters never fail");
    exit.r0 as u32
}

#[inline(always)]
fn sum(packets: &[(&[u8], u32)], mut f: impl FnMut(&[u8], u32) -> u32) -> u64 {
    let mut total = 0u64;
    for &(data, wirelen) in packets {
        total += u64::from(f(black_box(data), wirelen));
    }
    total
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let libpcap = Libpcap::load();
    if libpcap.is_none() {
        eprintln!(
            "libpcap not found: its column is n/a, results are checked against bpfkit_cbpf::run"
        );
    }
    let mut mix = Mix::new(7);
    let frames: Vec<Vec<u8>> = (0..PACKETS)
        .map(|_| {
            let mut f = Vec::new();
            mix.next_frame(&mut f);
            f
        })
        .collect();
    let packets: Vec<(&[u8], u32)> = frames.iter().map(|f| (&f[..], f.len() as u32)).collect();

    println!("{PACKETS} packets, {rounds} rounds; ns per packet, thread CPU time, min / median");
    print!("| expression | insns | matches |");
    for (_, name) in ENGINES {
        print!(" {name} |");
    }
    println!(" Filter vs libpcap | JIT vs libpcap |");
    print!("|---|---:|---:|");
    for _ in ENGINES {
        print!("---:|");
    }
    println!("---:|---:|");

    for expr in FILTER_EXPRESSIONS {
        let (prog, source) = match tcpdump_program(expr) {
            Some(p) => (p, ""),
            None => (
                bpfkit_program(expr).expect("bpfkit compiles the expression"),
                " (bpfkit's program)",
            ),
        };
        let prepared = Prepared::new(prog, libpcap);
        let engines: Vec<Engine> = ENGINES
            .iter()
            .map(|&(e, _)| e)
            .filter(|&e| e != Engine::Libpcap || libpcap.is_some())
            .collect();
        // Every engine must agree with the reference on every packet.
        let reference = prepared.results(engines[0], &packets);
        for &e in &engines[1..] {
            assert_eq!(
                prepared.results(e, &packets),
                reference,
                "engines disagree on [{expr}]"
            );
        }
        let matches = reference.iter().filter(|&&r| r != 0).count();

        // Repeat passes so that one measurement takes about TARGET.
        let start = thread_cpu();
        black_box(prepared.pass(Engine::Filter, &packets));
        let one = (thread_cpu() - start).max(Duration::from_micros(1));
        let repeats = (TARGET.as_nanos() / one.as_nanos()).clamp(1, 10_000) as usize;

        let mut ns: Vec<Vec<f64>> = vec![Vec::new(); ENGINES.len()];
        for _ in 0..rounds {
            for &e in &engines {
                let start = thread_cpu();
                for _ in 0..repeats {
                    black_box(prepared.pass(e, &packets));
                }
                let spent = thread_cpu() - start;
                let i = ENGINES.iter().position(|&(x, _)| x == e).unwrap();
                ns[i].push(spent.as_nanos() as f64 / (repeats * PACKETS) as f64);
            }
        }
        let s: Vec<Option<Summary>> = ns
            .iter()
            .map(|v| (!v.is_empty()).then(|| summarize(v)))
            .collect();
        print!(
            "| `{}`{source} | {} | {:.1}% |",
            if expr.is_empty() { "(none)" } else { expr },
            prepared.cbpf.len(),
            100.0 * matches as f64 / PACKETS as f64
        );
        for x in &s {
            match x {
                Some(x) => print!(" {:.1} / {:.1} |", x.min, x.median),
                None => print!(" n/a |"),
            }
        }
        let ratio = |i: usize| match (&s[0], &s[i]) {
            (Some(l), Some(x)) => format!("{:.2}x", l.median / x.median),
            _ => "n/a".to_string(),
        };
        println!(" {} | {} |", ratio(2), ratio(4));
    }
}
