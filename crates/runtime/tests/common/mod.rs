//! Support shared by the runtime's integration tests.
#![allow(dead_code)]

pub mod kernel;

use std::path::PathBuf;

/// `crates/runtime/tests/corpus`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The packets of a pcap file, in order.
pub fn read_pcap(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = bpfkit_capture::Reader::new(&bytes[..]).expect("pcap header");
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().expect("pcap record") {
        out.push(r.data.to_vec());
    }
    out
}
