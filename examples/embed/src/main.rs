//! Embedding bpfkit's runtime: load a clang-built XDP object, run it over every packet of a
//! capture (maps keep their state from packet to packet), then read the program's map from
//! the host side and print it.
//!
//! ```text
//! cargo run -p bpfkit-example-embed -- [OBJECT.o] [CAPTURE.pcap]
//! ```
//! Defaults: `examples/xdp/proto_count.o` and the runtime's test capture.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;

use bpfkit_runtime::{Runtime, TestRun};

/// Verdict names of XDP return values.
fn verdict(retval: u32) -> &'static str {
    match retval {
        0 => "XDP_ABORTED",
        1 => "XDP_DROP",
        2 => "XDP_PASS",
        3 => "XDP_TX",
        4 => "XDP_REDIRECT",
        _ => "unknown",
    }
}

/// What a run over a capture produced.
struct Summary {
    verdicts: BTreeMap<&'static str, usize>,
    refused: usize,
    /// `(ethertype, ip protocol) -> (packets, bytes)`, from the `counters` map.
    counters: BTreeMap<(u16, u8), (u64, u64)>,
}

fn run(object: &PathBuf, capture: &PathBuf) -> Result<Summary, Box<dyn Error>> {
    let loaded = Runtime::new().ncpus(1).load_file(object)?;
    let program = loaded.program(Some("proto_count"))?;

    let bytes = std::fs::read(capture)?;
    let mut reader = bpfkit_capture::Reader::new(&bytes[..])?;
    let mut verdicts = BTreeMap::new();
    let mut refused = 0;
    while let Some(record) = reader.next_record()? {
        match program.test_run(&TestRun::new(record.data)) {
            Ok(out) => *verdicts.entry(verdict(out.retval)).or_insert(0) += 1,
            // The kernel refuses frames shorter than an Ethernet header; so does bpfkit.
            Err(_) => refused += 1,
        }
    }

    let mut counters = BTreeMap::new();
    for (key, value) in loaded.map("counters")?.iter() {
        let ethertype = u16::from_ne_bytes([key[0], key[1]]);
        let packets = u64::from_ne_bytes(value[0..8].try_into()?);
        let bytes = u64::from_ne_bytes(value[8..16].try_into()?);
        counters.insert((ethertype, key[2]), (packets, bytes));
    }
    Ok(Summary {
        verdicts,
        refused,
        counters,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = std::env::args().skip(1);
    let object = args
        .next()
        .map_or_else(|| root.join("examples/xdp/proto_count.o"), PathBuf::from);
    let capture = args.next().map_or_else(
        || root.join("crates/runtime/tests/corpus/packets.pcap"),
        PathBuf::from,
    );
    let summary = run(&object, &capture)?;
    for (name, n) in &summary.verdicts {
        println!("{name:<12} {n:>6} packets");
    }
    if summary.refused > 0 {
        println!("{:<12} {:>6} packets", "refused", summary.refused);
    }
    println!(
        "\n{:<10} {:<8} {:>8} {:>10}",
        "ethertype", "ip_proto", "packets", "bytes"
    );
    for ((ethertype, proto), (packets, bytes)) in &summary.counters {
        println!(
            "{:<10} {:<8} {packets:>8} {bytes:>10}",
            format!("{ethertype:#06x}"),
            proto
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters must agree with an independent count of the capture made here by
    /// parsing the frames in Rust.
    #[test]
    fn counters_match_a_direct_count_of_the_capture() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let capture = root.join("crates/runtime/tests/corpus/packets.pcap");
        let summary = run(&root.join("examples/xdp/proto_count.o"), &capture).unwrap();

        let bytes = std::fs::read(&capture).unwrap();
        let mut reader = bpfkit_capture::Reader::new(&bytes[..]).unwrap();
        let mut expected: BTreeMap<(u16, u8), (u64, u64)> = BTreeMap::new();
        while let Some(r) = reader.next_record().unwrap() {
            let d = r.data;
            if d.len() < 14 {
                continue;
            }
            let mut off = 14;
            let mut et = u16::from_be_bytes([d[12], d[13]]);
            for _ in 0..2 {
                if (et == 0x8100 || et == 0x88a8) && d.len() >= off + 4 {
                    et = u16::from_be_bytes([d[off + 2], d[off + 3]]);
                    off += 4;
                }
            }
            let proto = match et {
                0x0800 if d.len() >= off + 20 => d[off + 9],
                0x86dd if d.len() >= off + 40 => d[off + 6],
                _ => 0,
            };
            let e = expected.entry((et, proto)).or_default();
            e.0 += 1;
            e.1 += d.len().min(3520) as u64;
        }
        assert_eq!(summary.counters, expected);
        assert_eq!(summary.refused, 1);
        assert_eq!(summary.verdicts["XDP_DROP"], 1, "the TTL 1 packet");
    }
}
