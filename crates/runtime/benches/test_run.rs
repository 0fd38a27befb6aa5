//! Per-packet cost of a test-run in bpfkit against the kernel's `BPF_PROG_TEST_RUN`, for
//! three corpus programs on the same packet, measured in the same process and run.
//!
//! `cargo bench -p bpfkit-runtime --bench test_run` (as root for the kernel column).
//! Both sides report the kernel's way: total time of `repeat` runs on one packet divided
//! by `repeat`. The kernel runs JIT-compiled code; bpfkit its checked interpreter.

#[path = "../tests/common/kernel.rs"]
#[allow(dead_code)]
mod kernel;

use std::path::PathBuf;

use bpfkit_runtime::{Runtime, TestRun, Verification};

const REPEAT: u32 = 100_000;

/// `(object, program, packet index in packets.pcap, what it exercises)`.
const CASES: &[(&str, &str, usize, &str)] = &[
    (
        "xdp_parse.o",
        "xdp_parse",
        0,
        "XDP parse + array counter, IPv4/TCP SYN",
    ),
    (
        "xdp_maps.o",
        "xdp_maps",
        2,
        "XDP hash/percpu/LRU/LPM updates, IPv4/UDP DNS",
    ),
    (
        "tc_nat.o",
        "tc_nat",
        2,
        "tc NAT: store_bytes + l3/l4 csum_replace, IPv4/UDP",
    ),
];

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let packets = read_pcap(&dir.join("packets.pcap"));
    let kernel_note = kernel::unavailable();
    if let Some(why) = &kernel_note {
        eprintln!("kernel column skipped: {why}");
    }
    kernel::pin_to_cpu0();
    println!("| program | packet | insns/run | bpfkit ns/run | kernel ns/run | bpfkit / kernel |");
    println!("|---|---|---|---|---|---|");
    for &(object, program, index, what) in CASES {
        let path = dir.join(object);
        let packet = &packets[index];
        let rt = Runtime::new().verification(Verification::Unverified);
        let loaded = rt.load_file(&path).unwrap();
        let prog = loaded.program(Some(program)).unwrap();
        // Warm up, then measure.
        prog.test_run(&TestRun::new(packet).repeat(1000)).unwrap();
        let out = prog.test_run(&TestRun::new(packet).repeat(REPEAT)).unwrap();
        let ours = out.duration_ns;
        let theirs = if kernel_note.is_none() {
            let k = kernel::KernelObject::load(&path, &format!("bench-{program}")).unwrap();
            k.test_run(program, packet, None, 0, 1000).unwrap();
            Some(
                k.test_run(program, packet, None, 0, REPEAT)
                    .unwrap()
                    .duration_ns,
            )
        } else {
            None
        };
        let (k, ratio) = match theirs {
            Some(t) => (
                t.to_string(),
                format!("{:.1}x", ours as f64 / t.max(1) as f64),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "| `{program}` ({what}) | {index} ({} bytes) | {} | {ours} | {k} | {ratio} |",
            packet.len(),
            out.instructions
        );
    }
}

fn read_pcap(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = bpfkit_capture::Reader::new(&bytes[..]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        out.push(r.data.to_vec());
    }
    out
}
