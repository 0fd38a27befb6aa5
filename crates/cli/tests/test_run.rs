//! `bpfkit test-run` end to end: the binary's return values, output packets (pcap and raw)
//! and map dump must equal the kernel's results recorded by the runtime's differential
//! corpus (`crates/runtime/tests/corpus/expected`, produced by `BPF_PROG_TEST_RUN`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/corpus")
}

fn expected(name: &str) -> Value {
    let path = corpus().join("expected").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn bpfkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Packets of a pcap file (micro-second, little-endian, as the writer produces).
fn pcap_packets(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = bpfkit_capture::Reader::new(&bytes[..]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        out.push(r.data.to_vec());
    }
    out
}

/// The ways `test-run` can run a program: the interpreter, checked JIT code (unverified)
/// and unchecked JIT code (verified).
const ENGINES: [&[&str]; 3] = [
    &["--engine", "interp", "--unverified"],
    &["--engine", "jit", "--unverified"],
    &["--engine", "jit"],
];

#[test]
fn pcap_run_matches_the_kernel_packet_by_packet_and_in_the_maps() {
    for (n, engine) in ENGINES.iter().enumerate() {
        pcap_run_matches_the_kernel(n, engine);
    }
}

fn pcap_run_matches_the_kernel(n: usize, engine: &[&str]) {
    let dir = std::env::temp_dir().join(format!("bpfkit-test-run-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_pcap = dir.join("out.pcap");
    let object = corpus().join("xdp_adjust.o");
    let input = corpus().join("packets.pcap");
    let mut args = vec![
        "test-run",
        object.to_str().unwrap(),
        "--program",
        "xdp_pop_vlan",
        "--pcap",
        input.to_str().unwrap(),
        "--pcap-out",
        out_pcap.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(engine);
    let out = bpfkit(&args);
    let kernel = expected("xdp_adjust__xdp_pop_vlan.json");
    let runs = kernel["runs"].as_array().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), runs.len(), "{engine:?}");
    let written = pcap_packets(&out_pcap);
    let inputs = pcap_packets(&input);
    assert_eq!(written.len(), inputs.len(), "one record per input packet");
    for (i, (line, run)) in lines.iter().zip(runs).enumerate() {
        assert_eq!(line["index"], i);
        match run.get("data_out") {
            Some(data) => {
                assert_eq!(line["retval"], run["retval"], "packet {i}");
                assert_eq!(hex(&written[i]), data.as_str().unwrap(), "packet {i}");
                assert_eq!(
                    line["data_len"].as_u64().unwrap() as usize * 2,
                    data.as_str().unwrap().len()
                );
            }
            None => {
                // The kernel refused this packet (EINVAL): so does bpfkit, and the record
                // keeps the input.
                assert!(line["error"].is_string(), "packet {i}: {line}");
                assert_eq!(written[i], inputs[i]);
            }
        }
    }
    assert_eq!(
        out.status.code(),
        Some(1),
        "one packet is a runt, so the run reports failure"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dump_maps_matches_the_kernel_map_contents() {
    for engine in ENGINES {
        dump_maps_matches_the_kernel(engine);
    }
}

fn dump_maps_matches_the_kernel(engine: &[&str]) {
    let object = corpus().join("xdp_maps.o");
    let input = corpus().join("packets.pcap");
    let mut args = vec![
        "test-run",
        object.to_str().unwrap(),
        "--pcap",
        input.to_str().unwrap(),
        "--dump-maps",
    ];
    args.extend_from_slice(engine);
    let out = bpfkit(&args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let kernel = expected("xdp_maps__xdp_maps.json");
    let runs = kernel["runs"].as_array().unwrap();
    // The bpftool-like lines first, one per packet that ran.
    let ran: Vec<&Value> = runs.iter().filter(|r| r.get("retval").is_some()).collect();
    for (line, run) in lines.iter().zip(&ran) {
        assert!(
            line.starts_with(&format!(
                "Return value: {}, duration (average): ",
                run["retval"]
            )),
            "{line}"
        );
    }
    // Then the maps; per-CPU values depend on the runtime CPU count, which is the host's
    // like the kernel's possible CPUs only on a machine like the one that recorded them.
    let maps: Value = serde_json::from_str(&lines[ran.len()..].join("\n")).unwrap();
    for (ours, theirs) in maps
        .as_array()
        .unwrap()
        .iter()
        .zip(kernel["maps"].as_array().unwrap())
    {
        if ours["type"].as_str().unwrap().starts_with("percpu") {
            continue;
        }
        assert_eq!(ours, theirs, "{engine:?}");
    }
}

#[test]
fn data_in_and_data_out_round_trip_one_packet() {
    let dir = std::env::temp_dir().join(format!("bpfkit-test-run-raw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kernel = expected("xdp_adjust__xdp_push.json");
    let packet = &pcap_packets(&corpus().join("packets.pcap"))[0];
    let (data_in, data_out) = (dir.join("in.bin"), dir.join("out.bin"));
    std::fs::write(&data_in, packet).unwrap();
    let object = corpus().join("xdp_adjust.o");
    let out = bpfkit(&[
        "test-run",
        object.to_str().unwrap(),
        "--program",
        "xdp_push",
        "--data-in",
        data_in.to_str().unwrap(),
        "--data-out",
        data_out.to_str().unwrap(),
        "--repeat",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with(&format!(
            "Return value: {}, duration (average): ",
            kernel["runs"][0]["retval"]
        )),
        "{line}"
    );
    assert_eq!(
        hex(&std::fs::read(&data_out).unwrap()),
        kernel["runs"][0]["data_out"].as_str().unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_the_problem() {
    let object = corpus().join("xdp_adjust.o");
    let out = bpfkit(&[
        "test-run",
        object.to_str().unwrap(),
        "--program",
        "nope",
        "--data-in",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no program named `nope`"));
    let out = bpfkit(&["test-run", "/nonexistent.o", "--data-in", "/dev/null"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.o"));
}
