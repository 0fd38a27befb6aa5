//! The reader gives the same packets and the same errors whatever the input's
//! buffering: a slice (packets handed out in place) or a `BufReader` of any
//! capacity (packets split across refills are copied).

mod common;

use bpfkit_capture::{OwnedRecord, Reader};
use common::shared_pcaps;
use std::io::{BufRead, BufReader};

/// Every record, then the error that ended the file (as text, with its
/// offset) and the final offset.
fn read_all<R: BufRead>(input: R) -> (Vec<OwnedRecord>, Option<String>, u64) {
    let mut reader = match Reader::new(input) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e.to_string()), 0),
    };
    let mut records = Vec::new();
    let error = loop {
        match reader.next_record() {
            Ok(Some(r)) => records.push(r.to_owned()),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    // After the end or an error the reader stays finished.
    assert!(matches!(reader.next_record(), Ok(None)));
    (records, error, reader.offset())
}

#[test]
fn slices_and_every_buffer_size_read_the_same() {
    let Some(dir) = shared_pcaps() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut packets = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        // The whole file and a few cuts, some inside records.
        let len = bytes.len();
        let mut cuts = vec![len, len - 1, len - 3, len / 2, len / 3, 30, 25];
        cuts.retain(|&c| c <= len);
        for cut in cuts {
            let part = &bytes[..cut];
            let expected = read_all(part);
            packets += expected.0.len();
            for capacity in [1, 3, 16, 61, 512, 8192] {
                let got = read_all(BufReader::with_capacity(capacity, part));
                assert_eq!(
                    got,
                    expected,
                    "{} cut at {cut}, buffer {capacity}",
                    path.display()
                );
            }
        }
    }
    assert!(packets > 1000, "the files hold packets ({packets})");
}
