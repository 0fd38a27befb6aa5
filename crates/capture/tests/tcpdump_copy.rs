//! Reading every shared capture and writing it back gives exactly the bytes
//! of `tcpdump -r FILE -w OUT`.

mod common;

use common::*;

#[test]
fn every_shared_capture_copies_like_tcpdump() {
    let Some(dir) = shared_pcaps() else {
        eprintln!("skipping: ../shared/pcaps is absent");
        return;
    };
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump is not installed");
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} captures found", files.len());
    for path in &files {
        let expected = tcpdump_copy(path).unwrap_or_else(|e| panic!("tcpdump on {path:?}: {e}"));
        let input = std::fs::read(path).unwrap();
        let (ours, error) = our_copy(&input).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(error.is_none(), "{path:?}: {error:?}");
        assert!(ours.len() > 24, "{path:?} has packets");
        assert!(
            ours == expected,
            "{path:?}: {} bytes vs tcpdump's {}",
            ours.len(),
            expected.len()
        );
    }
}
