//! Per-packet cost of a test-run in bpfkit (interpreter and JIT) against the kernel's
//! `BPF_PROG_TEST_RUN`, for every XDP program of the differential corpus and the
//! `proto_count` example, on one packet, measured in the same process and run.
//!
//! `cargo bench -p bpfkit-runtime --bench test_run` (as root for the kernel column);
//! `BPFKIT_BENCH_REPEAT=n` changes the repeat count (default 1,000,000, as the issue asks);
//! `BPFKIT_BENCH_ONLY=name` measures only the programs whose name contains `name`;
//! `BPFKIT_BENCH_ROUNDS=n` (default 7) measures each program `n` times on each side, the
//! three sides interleaved, and keeps each side's fastest round (on a shared VM a side can
//! run slower for seconds at a time, every program alike, the kernel too: three rounds
//! sometimes all fell in such a stretch; the minimum of seven is the repeatable figure). Every column is the test-run's own `duration`: the total time of `repeat` runs on one
//! packet divided by `repeat`. The kernel runs its JIT-compiled code; bpfkit its checked
//! interpreter and the unchecked JIT code of the verified program.

#[path = "../tests/common/kernel.rs"]
#[allow(dead_code)]
mod kernel;

use std::path::{Path, PathBuf};

use bpfkit_runtime::{Engine, ProgType, Runtime, TestRun, Verification};

/// The packet of `packets.pcap` every program runs on: IPv4/TCP SYN, 54 bytes.
const PACKET: usize = 0;

fn main() {
    let repeat: u32 = std::env::var("BPFKIT_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::var("BPFKIT_BENCH_ONLY").unwrap_or_default();
    let rounds: u32 = std::env::var("BPFKIT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest.join("tests/corpus");
    let packets = read_pcap(&dir.join("packets.pcap"));
    let packet = &packets[PACKET];
    let kernel_note = kernel::unavailable();
    if let Some(why) = &kernel_note {
        eprintln!("kernel column skipped: {why}");
    }
    kernel::pin_to_cpu0();
    let mut objects: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    objects.sort();
    objects.push(manifest.join("../../examples/xdp/proto_count.o"));
    println!(
        "repeat {repeat}, best of {rounds} interleaved rounds, packet {PACKET} ({} bytes), load average {}",
        packet.len(),
        load_average()
    );
    println!("| program | insns/run | interpreter ns/run | JIT ns/run | kernel ns/run | JIT / kernel | interpreter / kernel |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for path in &objects {
        let object = bpfkit_runtime::Object::parse(&std::fs::read(path).unwrap()).unwrap();
        let xdp: Vec<String> = object
            .programs
            .iter()
            .filter(|p| p.prog_type() == ProgType::Xdp && p.name.contains(&only))
            .map(|p| p.name.clone())
            .collect();
        if xdp.is_empty() {
            continue;
        }
        let k = match &kernel_note {
            None => {
                Some(kernel::KernelObject::load(path, &format!("bench-{}", stem(path))).unwrap())
            }
            Some(_) => None,
        };
        for program in &xdp {
            // For profiling one engine: BPFKIT_BENCH_SKIP_INTERP=1.
            let skip_interp = std::env::var_os("BPFKIT_BENCH_SKIP_INTERP").is_some();
            let (mut interp, mut jit, mut theirs) = ((u32::MAX, 0), (u32::MAX, 0), None);
            for _ in 0..rounds {
                if !skip_interp {
                    let m = measure(path, program, Engine::Interpreter, packet, repeat);
                    interp = (interp.0.min(m.0), m.1);
                }
                let m = measure(path, program, Engine::Jit, packet, repeat);
                jit = (jit.0.min(m.0), m.1);
                if let Some(k) = &k {
                    k.test_run(program, packet, None, 0, 1000).unwrap();
                    let t = k
                        .test_run(program, packet, None, 0, repeat)
                        .unwrap()
                        .duration_ns;
                    theirs = Some(theirs.map_or(t, |best: u32| best.min(t)));
                }
            }
            if skip_interp {
                interp = (0, 0);
            }
            let (kern, jit_ratio, interp_ratio) = match theirs {
                Some(t) => (
                    t.to_string(),
                    format!("{:.2}x", jit.0 as f64 / t.max(1) as f64),
                    format!("{:.1}x", interp.0 as f64 / t.max(1) as f64),
                ),
                None => ("n/a".into(), "n/a".into(), "n/a".into()),
            };
            println!(
                "| `{}` `{program}` | {} | {} | {} | {kern} | {jit_ratio} | {interp_ratio} |",
                stem(path),
                interp.1,
                interp.0,
                jit.0,
            );
        }
    }
}

/// `(ns per run, instructions of the last run)` of `program` on `engine` (verified, so the
/// JIT's code is unchecked), after 1,000 warm-up runs.
fn measure(path: &Path, program: &str, engine: Engine, packet: &[u8], repeat: u32) -> (u32, u64) {
    let loaded = Runtime::new()
        .engine(engine)
        .verification(Verification::Verify)
        .load_file(path)
        .unwrap();
    loaded.set_trace_sink(|_| {});
    let prog = loaded.program(Some(program)).unwrap();
    prog.test_run(&TestRun::new(packet).repeat(1000)).unwrap();
    let out = prog.test_run(&TestRun::new(packet).repeat(repeat)).unwrap();
    (out.duration_ns, out.instructions.unwrap_or(0))
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = bpfkit_capture::Reader::new(&bytes[..]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        out.push(r.data.to_vec());
    }
    out
}
