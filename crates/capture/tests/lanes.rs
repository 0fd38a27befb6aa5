//! `Reader::lanes` visits exactly the records `next_record` returns, or says it cannot.

use bpfkit_capture::{OwnedRecord, Reader};

/// A little-endian microsecond pcap header (Ethernet, snaplen 65535).
fn file_header() -> Vec<u8> {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend([0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    f
}

fn record(out: &mut Vec<u8>, sec: u32, usec: u32, data: &[u8]) {
    out.extend(sec.to_le_bytes());
    out.extend(usec.to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((data.len() as u32 + 4).to_le_bytes());
    out.extend(data);
}

/// `count` records of pseudo-random sizes, each numbered in its first 4 bytes.
fn big_file(count: u32) -> Vec<u8> {
    let mut f = file_header();
    let mut x = 12345u32;
    for i in 0..count {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = 60 + (x >> 16) as usize % 1455;
        let mut data = vec![(x >> 8) as u8; len];
        data[..4].copy_from_slice(&i.to_le_bytes());
        record(&mut f, i / 1000, i % 1000, &data);
    }
    f
}

fn sequential(file: &[u8]) -> (Vec<OwnedRecord>, bool) {
    let mut reader = Reader::new(file).unwrap();
    let mut v = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => v.push(r.to_owned()),
            Ok(None) => return (v, true),
            Err(_) => return (v, false),
        }
    }
}

/// What the lanes visit, in file order (records are numbered), and whether they vouch for it.
fn by_lanes(file: &[u8], lanes: usize) -> (Vec<OwnedRecord>, bool, usize) {
    let mut reader = Reader::new(file).unwrap();
    let lanes = reader.lanes(lanes).expect("a pcap file");
    let count = lanes.count();
    let mut v = Vec::new();
    let complete = lanes.visit_all(|r| {
        v.push(r.to_owned());
        true
    });
    v.sort_by_key(|r| u32::from_le_bytes(r.data[..4].try_into().unwrap()));
    (v, complete, count)
}

#[test]
fn lanes_visit_every_record_once() {
    let file = big_file(20_000); // about 15 MB
    let (seq, ok) = sequential(&file);
    assert!(ok);
    let (got, complete, count) = by_lanes(&file, 8);
    assert!(count >= 4, "{count} lanes");
    assert!(complete);
    assert_eq!(got, seq);
    // A reader that already returned some packets hands out the rest.
    let mut reader = Reader::new(&file[..]).unwrap();
    for _ in 0..5 {
        reader.next_record().unwrap();
    }
    let mut n = 0;
    assert!(reader.lanes(8).unwrap().visit_all(|_| {
        n += 1;
        true
    }));
    assert_eq!(n, seq.len() - 5);
}

#[test]
fn damage_and_false_cut_points_make_the_walk_fail() {
    let file = big_file(20_000);
    // A record header in the middle that claims more bytes than the snapshot length.
    let mut damaged = file.clone();
    let (seq, _) = sequential(&file);
    let mut at = 24;
    for r in &seq[..9_000] {
        at += 16 + r.data.len();
    }
    damaged[at + 8..at + 12].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(!sequential(&damaged).1);
    assert!(!by_lanes(&damaged, 8).1);
    // A file cut inside its last record.
    assert!(!by_lanes(&file[..file.len() - 10], 8).1);

    // Records whose payloads are full of well-formed fake records: cut points
    // land inside them, and the lanes before cannot end there.
    let mut tricky = file_header();
    for i in 0..300u32 {
        let mut fake = Vec::new();
        while fake.len() + 16 + 20 <= 60_000 {
            record(&mut fake, 7, 7, &[0x55; 20]);
        }
        fake[..4].copy_from_slice(&i.to_le_bytes());
        record(&mut tricky, i, 0, &fake);
    }
    let (seq, ok) = sequential(&tricky);
    assert!(ok && seq.len() == 300);
    let (got, complete, count) = by_lanes(&tricky, 8);
    assert!(count > 1);
    assert!(
        !complete,
        "a false cut point was not caught ({} records)",
        got.len()
    );
}

/// With caplen = wirelen, the fields of a header read 4 bytes late are the real ones
/// shifted (time <- fraction, fraction <- caplen, caplen <- wirelen), and the chain of
/// such headers holds all the way. The cut-point search must not take it.
#[test]
fn headers_read_four_bytes_late_are_not_taken_for_boundaries() {
    const SIZE: usize = 500;
    let n = 8_000;
    for delta in 0..2 * SIZE {
        // One record of SIZE + delta bytes, then equal records: the cut guess for two
        // lanes (half the bytes after the file header) lands 2 bytes after a boundary.
        let guess = (n * SIZE + delta) / 2;
        let first = SIZE + delta;
        if guess < first || (guess - first) % SIZE != 2 {
            continue;
        }
        let mut f = file_header();
        for i in 0..n {
            let caplen = SIZE - 16 + if i == 0 { delta } else { 0 };
            let mut data = vec![0x02, 0x00, 0x5e, 0x10];
            data.resize(caplen, 0xab);
            data[4..8].copy_from_slice(&(i as u32).to_le_bytes());
            f.extend((1_700_000_000 + i as u32 / 100).to_le_bytes());
            f.extend((i as u32 % 100 * 10_000).to_le_bytes());
            f.extend((caplen as u32).to_le_bytes());
            f.extend((caplen as u32).to_le_bytes());
            f.extend(&data);
        }
        assert_eq!(f.len() - 24, n * SIZE + delta);
        let mut reader = Reader::new(&f[..]).unwrap();
        let lanes = reader.lanes(2).unwrap();
        assert_eq!(lanes.count(), 2);
        let mut n_seen = 0;
        assert!(lanes.visit_all(|_| {
            n_seen += 1;
            true
        }));
        assert_eq!(n_seen, n);
        return;
    }
    panic!("no layout put the cut guess 2 bytes after a boundary");
}
