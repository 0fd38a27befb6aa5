//! Helpers shared by the capture tests.
#![allow(dead_code)]

use bpfkit_capture::{PcapWriter, ReadError, Reader};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `/work/shared/pcaps`, or `None` (the caller skips) when absent.
pub fn shared_pcaps() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps");
    dir.is_dir().then_some(dir)
}

/// Whether tcpdump can be run.
pub fn have_tcpdump() -> bool {
    Command::new("tcpdump").arg("--version").output().is_ok()
}

/// The bytes `tcpdump -r input -w -` writes, or its error text.
pub fn tcpdump_copy(input: &Path) -> Result<Vec<u8>, String> {
    let out = Command::new("tcpdump")
        .arg("-r")
        .arg(input)
        .args(["-w", "-"])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What bpfkit writes for the same copy: the output and the read error
/// that ended it, if any.
pub fn our_copy(input: &[u8]) -> Result<(Vec<u8>, Option<ReadError>), ReadError> {
    let mut reader = Reader::new(input)?;
    let mut writer = PcapWriter::new(Vec::new(), &reader.savefile_header()).expect("header");
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => writer.write_record(&rec).expect("write to Vec"),
            Ok(None) => return Ok((writer.into_inner(), None)),
            Err(e) => return Ok((writer.into_inner(), Some(e))),
        }
    }
}

/// A file in a temporary directory unique to this test process.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Panics with the first differing offset unless `ours == theirs`.
pub fn assert_same_bytes(ours: &[u8], theirs: &[u8], what: &str) {
    if ours == theirs {
        return;
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let end = |v: &[u8]| v[at..].iter().take(16).copied().collect::<Vec<u8>>();
    panic!(
        "{what}: {} bytes vs tcpdump's {}, first difference at {at}: {:02x?} vs {:02x?}",
        ours.len(),
        theirs.len(),
        end(ours),
        end(theirs)
    );
}
