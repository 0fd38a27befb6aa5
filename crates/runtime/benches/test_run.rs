//! Per-packet cost of a test-run in bpfkit (interpreter and JIT) against the kernel's
//! `BPF_PROG_TEST_RUN`, for every XDP program of the differential corpus and the
//! `proto_count` example, on one packet, measured in the same process and run.
//!
//! `cargo bench -p bpfkit-runtime --bench test_run` (as root for the kernel column);
//! `BPFKIT_BENCH_REPEAT=n` changes the repeat count (default 1,000,000, as the issue asks);
//! `BPFKIT_BENCH_ONLY=name` measures only the programs whose name contains `name`;
//! `BPFKIT_BENCH_ROUNDS=n` (default 7) measures each program `n` times on each side, the
//! three sides interleaved, each round going through every program, and keeps each side's
//! fastest round (this shared VM has slow stretches of several seconds: rounds taken one
//! after another all fell in one at times; spread over the whole run, the minimum is the
//! repeatable figure). Every column is the test-run's own `duration`: the total time of `repeat` runs on one
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
    // Every object stays loaded in the kernel for the whole run.
    let mut rows: Vec<Row> = Vec::new();
    let mut kernel_objects = Vec::new();
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
        let kernel = kernel_note.is_none().then_some(kernel_objects.len());
        if kernel.is_some() {
            let tag = format!("bench-{}", stem(path));
            kernel_objects.push(kernel::KernelObject::load(path, &tag).unwrap());
        }
        for program in xdp {
            rows.push(Row {
                path: path.clone(),
                program,
                kernel,
                interp: (u32::MAX, 0),
                jit: (u32::MAX, 0),
                theirs: None,
            });
        }
    }
    // For profiling one engine: BPFKIT_BENCH_SKIP_INTERP=1.
    let skip_interp = std::env::var_os("BPFKIT_BENCH_SKIP_INTERP").is_some();
    // Rounds outermost: a program's rounds are spread over the whole run, so a slow stretch
    // of the machine (seconds long) cannot take all of them.
    for _ in 0..rounds {
        for row in &mut rows {
            if !skip_interp {
                let m = measure(&row.path, &row.program, Engine::Interpreter, packet, repeat);
                row.interp = (row.interp.0.min(m.0), m.1);
            }
            let m = measure(&row.path, &row.program, Engine::Jit, packet, repeat);
            row.jit = (row.jit.0.min(m.0), m.1);
            if let Some(k) = row.kernel.map(|i| &kernel_objects[i]) {
                k.test_run(&row.program, packet, None, 0, 1000).unwrap();
                let t = k
                    .test_run(&row.program, packet, None, 0, repeat)
                    .unwrap()
                    .duration_ns;
                row.theirs = Some(row.theirs.map_or(t, |best: u32| best.min(t)));
            }
        }
    }
    for row in &rows {
        let interp = if skip_interp { (0, 0) } else { row.interp };
        let (kern, jit_ratio, interp_ratio) = match row.theirs {
            Some(t) => (
                t.to_string(),
                format!("{:.2}x", row.jit.0 as f64 / t.max(1) as f64),
                format!("{:.1}x", interp.0 as f64 / t.max(1) as f64),
            ),
            None => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        println!(
            "| `{}` `{}` | {} | {} | {} | {kern} | {jit_ratio} | {interp_ratio} |",
            stem(&row.path),
            row.program,
            interp.1,
            interp.0,
            row.jit.0,
        );
    }
}

/// One program's measurements: the fastest round of each side, `(ns per run, instructions
/// of the last run)` for bpfkit's engines.
struct Row {
    path: PathBuf,
    program: String,
    /// Index of its object in the kernel, if the kernel column runs.
    kernel: Option<usize>,
    interp: (u32, u64),
    jit: (u32, u64),
    theirs: Option<u32>,
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
