//! Hand-built capture files: every format variant, damaged files at every
//! cut point and hostile lengths, checked against tcpdump (libpcap) where it
//! reads the same file, and against the packets that went in otherwise.

mod common;

use bpfkit_capture::{Format, LinkType, Precision, ReadErrorKind, Reader};
use common::*;
use std::process::Command;

/// Builds files field by field in a chosen byte order.
struct Bytes {
    big: bool,
    out: Vec<u8>,
}

impl Bytes {
    fn new(big: bool) -> Bytes {
        Bytes {
            big,
            out: Vec::new(),
        }
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend(b);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend(b);
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend(b);
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }
}

/// A pcap file: (sec, frac, wirelen, data) records.
fn pcap_file(
    big: bool,
    magic: u32,
    snaplen: u32,
    link: u32,
    records: &[(u32, u32, u32, Vec<u8>)],
) -> Vec<u8> {
    let mut b = Bytes::new(big);
    b.u32(magic)
        .u16(2)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(snaplen)
        .u32(link);
    for (sec, frac, wirelen, data) in records {
        b.u32(*sec)
            .u32(*frac)
            .u32(data.len() as u32)
            .u32(*wirelen)
            .raw(data);
    }
    b.out
}

/// A pcapng block with its body padded to 4 bytes.
fn block(big: bool, kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut b = Bytes::new(big);
    b.u32(kind).u32(total).raw(body);
    b.out.resize(8 + padded, 0);
    b.u32(total);
    b.out
}

fn shb(big: bool) -> Vec<u8> {
    let mut body = Bytes::new(big);
    body.u32(0x1a2b_3c4d).u16(1).u16(0).u64(u64::MAX);
    block(big, 0x0a0d_0d0a, &body.out)
}

/// An IDB with options (code, value).
fn idb(big: bool, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Bytes::new(big);
    body.u16(link).u16(0).u32(snaplen);
    for (code, value) in options {
        body.u16(*code).u16(value.len() as u16).raw(value);
        body.out.resize(body.out.len().div_ceil(4) * 4, 0);
    }
    if !options.is_empty() {
        body.u32(0);
    }
    block(big, 1, &body.out)
}

fn epb(big: bool, iface: u32, t: u64, wirelen: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Bytes::new(big);
    body.u32(iface)
        .u32((t >> 32) as u32)
        .u32(t as u32)
        .u32(data.len() as u32)
        .u32(wirelen)
        .raw(data);
    block(big, 6, &body.out)
}

fn opb(big: bool, iface: u16, t: u64, wirelen: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Bytes::new(big);
    body.u16(iface)
        .u16(0)
        .u32((t >> 32) as u32)
        .u32(t as u32)
        .u32(data.len() as u32)
        .u32(wirelen)
        .raw(data);
    block(big, 2, &body.out)
}

fn spb(big: bool, wirelen: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Bytes::new(big);
    body.u32(wirelen).raw(data);
    block(big, 3, &body.out)
}

fn packet(n: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| n.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// A pcapng file exercising what libpcap also reads: two interfaces of
/// one link type with different timestamp resolutions and offsets, every
/// packet block kind, and blocks to skip.
fn rich_pcapng(big: bool) -> Vec<u8> {
    let mut f = shb(big);
    f.extend(block(big, 0x0000_0bad, &[1, 2, 3, 4, 5])); // unknown: skipped
    f.extend(idb(big, 1, 128, &[(2, b"eth0".to_vec()), (9, vec![9])]));
    f.extend(epb(big, 0, 1_700_000_000_123_456_789, 60, &packet(1, 60)));
    let mut offset = Bytes::new(big);
    offset.u64(1000);
    f.extend(idb(big, 1, 128, &[(9, vec![0x80 | 20]), (14, offset.out)]));
    f.extend(epb(big, 1, (5 << 20) | (1 << 19), 200, &packet(2, 128)));
    f.extend(block(big, 5, &[0; 8])); // interface statistics: skipped
    f.extend(spb(big, 300, &packet(3, 128)));
    f.extend(opb(big, 0, 42_000_000_001, 20, &packet(4, 20)));
    f.extend(epb(big, 0, 1, 0, &[]));
    f
}

#[test]
fn pcapng_reads_every_block_kind() {
    for big in [false, true] {
        let file = rich_pcapng(big);
        let mut reader = Reader::new(&file[..]).unwrap();
        assert_eq!(reader.format(), Format::Pcapng);
        let recs: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 5);
        assert_eq!(reader.interfaces().len(), 2);
        assert_eq!(reader.interfaces()[0].name.as_deref(), Some("eth0"));
        // EPB on interface 0 at nanosecond resolution.
        assert_eq!(
            (recs[0].ts.sec, recs[0].ts.nanos()),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!((recs[0].wirelen, recs[0].data.clone()), (60, packet(1, 60)));
        // Interface 1: 2^-20 s units and a 1000 s offset.
        assert_eq!((recs[1].ts.sec, recs[1].ts.micros()), (1005, 500_000));
        assert_eq!(recs[1].interface, 1);
        // SPB: no timestamp, interface 0, wire length 300.
        assert_eq!(
            (recs[2].ts.sec, recs[2].wirelen, recs[2].data.len()),
            (0, 300, 128)
        );
        // OPB.
        assert_eq!((recs[3].ts.sec, recs[3].ts.nanos()), (42, 1));
        assert!(recs.iter().all(|r| r.link_type == LinkType::ETHERNET));
    }
}

#[test]
fn synthetic_files_copy_like_tcpdump() {
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump is not installed");
        return;
    }
    let records = vec![
        (1, 999_999_999, 100, packet(1, 100)),
        (2, 5, 70, packet(2, 64)), // truncated to the snapshot length on read
        // Over a second: libpcap reads it as unsigned only from a file in
        // the other byte order (see `Timestamp::subsec`).
        (3, 0x8000_0000, 10, packet(3, 10)),
        (0xffff_fff0, 1, 0, vec![]),
    ];
    let mut cases = vec![
        (
            "le-nano.pcap",
            pcap_file(false, 0xa1b2_3c4d, 64, 1, &records[..2]),
        ),
        (
            "be-nano.pcap",
            pcap_file(true, 0xa1b2_3c4d, 64, 101, &records),
        ),
        (
            "be-micro.pcap",
            pcap_file(true, 0xa1b2_c3d4, 0, 228, &records),
        ),
        (
            "fcs-bits.pcap",
            pcap_file(false, 0xa1b2_c3d4, 64, 0x1400_0001, &records[..2]),
        ),
        ("le.pcapng", rich_pcapng(false)),
        ("be.pcapng", rich_pcapng(true)),
    ];
    // A Linux cooked CAN frame from a big-endian machine: libpcap swaps the CAN id.
    let mut can = vec![0u8; 24];
    can[15] = 0x0c;
    can[16..20].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    cases.push((
        "be-sll-can.pcap",
        pcap_file(true, 0xa1b2_c3d4, 0, 113, &[(1, 2, 24, can)]),
    ));
    for (name, bytes) in cases {
        let path = temp_file(name, &bytes);
        let expected = tcpdump_copy(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ours, err) = our_copy(&bytes).unwrap();
        assert!(err.is_none(), "{name}: {err:?}");
        assert_same_bytes(&ours, &expected, name);
    }
}

/// tcpdump's output for a possibly damaged file: what it wrote before
/// stopping, and whether it reported an error.
fn tcpdump_partial(path: &std::path::Path) -> (Vec<u8>, bool) {
    let out = Command::new("tcpdump")
        .arg("-r")
        .arg(path)
        .args(["-w", "-"])
        .output()
        .unwrap();
    (out.stdout, !out.status.success())
}

#[test]
fn every_truncation_yields_the_good_prefix() {
    let pcap = pcap_file(
        true,
        0xa1b2_c3d4,
        0,
        1,
        &[
            (1, 2, 60, packet(1, 30)),
            (3, 4, 20, packet(2, 20)),
            (5, 6, 9, packet(3, 9)),
        ],
    );
    let pcapng = rich_pcapng(false);
    let check_tcpdump = have_tcpdump();
    for (name, file) in [("cut.pcap", pcap), ("cut.pcapng", pcapng)] {
        let full: Vec<_> = Reader::new(&file[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for cut in 0..file.len() {
            let part = &file[..cut];
            let Ok(mut reader) = Reader::new(part) else {
                continue; // the header itself is cut
            };
            let mut got = Vec::new();
            let outcome = loop {
                match reader.next_record() {
                    Ok(Some(r)) => got.push(r.to_owned()),
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            assert_eq!(got[..], full[..got.len()], "{name} cut at {cut}");
            if let Some(e) = &outcome {
                assert!(e.offset <= cut as u64, "{name} cut at {cut}: {e}");
                assert!(
                    matches!(e.kind, ReadErrorKind::Truncated { .. }),
                    "{name} cut at {cut}: {e}"
                );
            }
            if check_tcpdump {
                let path = temp_file(name, part);
                let (theirs, failed) = tcpdump_partial(&path);
                let (ours, err) = our_copy(part).unwrap();
                assert_same_bytes(&ours, &theirs, &format!("{name} cut at {cut}"));
                assert_eq!(err.is_some(), failed, "{name} cut at {cut}: {err:?}");
            }
        }
    }
}

#[test]
fn hostile_lengths_are_errors_not_allocations() {
    // A record claiming 4 GiB of data.
    let mut pcap = pcap_file(false, 0xa1b2_c3d4, 65535, 1, &[(1, 1, 10, packet(1, 10))]);
    pcap.extend([0; 8]);
    pcap.extend(u32::MAX.to_le_bytes());
    pcap.extend(u32::MAX.to_le_bytes());
    let mut reader = Reader::new(&pcap[..]).unwrap();
    assert!(reader.next_record().unwrap().is_some());
    let err = reader.next_record().unwrap_err();
    assert_eq!(err.offset, 24 + 16 + 10);
    assert!(
        matches!(err.kind, ReadErrorKind::CaplenTooLarge { .. }),
        "{err}"
    );
    assert!(
        reader.next_record().unwrap().is_none(),
        "the reader stays stopped"
    );

    // A pcapng block claiming 4 GiB.
    let mut ng = rich_pcapng(false);
    let at = ng.len() as u64;
    ng.extend(6u32.to_le_bytes());
    ng.extend(0xffff_fff0u32.to_le_bytes());
    let recs: Vec<_> = Reader::new(&ng[..]).unwrap().collect();
    assert_eq!(recs.len(), 6);
    let err = recs[5].as_ref().unwrap_err();
    assert_eq!(err.offset, at);
    assert!(
        err.to_string().starts_with(&format!("byte offset {at}: ")),
        "{err}"
    );

    // An EPB whose caplen exceeds its block, and one past the snapshot length.
    let mut ng = shb(false);
    ng.extend(idb(false, 1, 64, &[]));
    let mut bad = epb(false, 0, 0, 10, &packet(1, 8));
    bad[20..24].copy_from_slice(&1000u32.to_le_bytes());
    ng.extend(&bad);
    let err = Reader::new(&ng[..]).unwrap().next_record().unwrap_err();
    assert!(
        matches!(
            err.kind,
            ReadErrorKind::CaplenTooLarge {
                caplen: 1000,
                max: 64,
                ..
            }
        ),
        "{err}"
    );
    // A packet on an interface never described.
    let mut ng = shb(false);
    ng.extend(idb(false, 1, 0, &[]));
    ng.extend(epb(false, 3, 0, 4, &[1, 2, 3, 4]));
    let err = Reader::new(&ng[..]).unwrap().next_record().unwrap_err();
    assert!(
        matches!(err.kind, ReadErrorKind::UnknownInterface(3)),
        "{err}"
    );
}

#[test]
fn pcapng_allows_what_libpcap_refuses() {
    // Two link types in one file, and a second section in the other byte order.
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(idb(false, 101, 0, &[]));
    f.extend(epb(false, 0, 1, 14, &packet(1, 14)));
    f.extend(epb(false, 1, 2, 20, &packet(2, 20)));
    f.extend(shb(true));
    f.extend(idb(true, 229, 0, &[]));
    f.extend(epb(true, 0, 3, 40, &packet(3, 40)));
    let recs: Vec<_> = Reader::new(&f[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kinds: Vec<_> = recs.iter().map(|r| (r.interface, r.link_type)).collect();
    assert_eq!(
        kinds,
        [
            (0, LinkType::ETHERNET),
            (1, LinkType::RAW),
            (0, LinkType::IPV6)
        ]
    );
}

#[test]
fn not_a_capture_file() {
    let err = Reader::new(&b"hello world"[..]).err().unwrap();
    assert!(matches!(err.kind, ReadErrorKind::UnknownFormat(_)), "{err}");
    let err = Reader::new(&[0xd4, 0xc3][..]).err().unwrap();
    assert!(matches!(err.kind, ReadErrorKind::UnknownFormat(_)), "{err}");
    let mut old = pcap_file(false, 0xa1b2_c3d4, 0, 1, &[]);
    old[4] = 1; // version 1.4
    let err = Reader::new(&old[..]).err().unwrap();
    assert!(
        matches!(err.kind, ReadErrorKind::UnsupportedVersion { major: 1, .. }),
        "{err}"
    );
    let nano = pcap_file(false, 0xa1b2_3c4d, 0, 1, &[]);
    let header = Reader::new(&nano[..]).unwrap();
    assert!(matches!(
        header.format(),
        Format::Pcap {
            precision: Precision::Nano,
            ..
        }
    ));
    assert_eq!(header.savefile_header().snaplen, 262_144);
    // The link type is reported as stored, even where libpcap maps it.
    let odd = pcap_file(false, 0xa1b2_c3d4, 0, 12, &[]);
    let reader = Reader::new(&odd[..]).unwrap();
    assert_eq!(reader.link_type(), LinkType(12));
    assert_eq!(
        reader.savefile_header().dlt.to_linktype(),
        Some(LinkType::RAW)
    );
}
