//! Compiling for a capture file ([`PacketSource::Savefile`]) against
//! `tcpdump -d -O -r FILE`: libpcap generates different code for files than
//! for `-y` (loopback `ip6`, byte-swapped loopback address families,
//! `inbound`/`outbound`/`ifindex`). Each expression of `tests/exprs.txt` is
//! compiled for an empty capture file of its link type, written in this
//! host's byte order and in the other one. Needs tcpdump.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit_cbpf::Insn;
use bpfkit_pcapfilter::{compile, CompileOptions, LinkType, PacketSource};
use common::{cases, tcpdump_version};

/// An empty pcap file of link type `lt` (snaplen 262144, like `-y`),
/// little-endian or big-endian.
fn empty_capture(dir: &Path, lt: LinkType, little_endian: bool) -> PathBuf {
    let linktype = if lt == LinkType::RAW { 101 } else { lt.0 };
    let fields: [u32; 6] = [0xa1b2_c3d4, 0x0004_0002, 0, 0, 262_144, linktype];
    let mut bytes = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        // The version is two 16-bit fields (major 2, minor 4).
        if i == 1 {
            for half in [2u16, 4] {
                bytes.extend(if little_endian {
                    half.to_le_bytes()
                } else {
                    half.to_be_bytes()
                });
            }
            continue;
        }
        bytes.extend(if little_endian {
            f.to_le_bytes()
        } else {
            f.to_be_bytes()
        });
    }
    let path = capture_path(dir, lt, little_endian);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn capture_path(dir: &Path, lt: LinkType, little_endian: bool) -> PathBuf {
    let order = if little_endian { "le" } else { "be" };
    dir.join(format!("{}-{order}.pcap", lt.0))
}

fn tcpdump_file_program(file: &Path, expr: &str) -> Result<Vec<Insn>, String> {
    let out = Command::new("tcpdump")
        .args(["-ddd", "-O", "-r"])
        .arg(file)
        .args(["--", expr])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    bpfkit_cbpf::parse_ddd(&String::from_utf8_lossy(&out.stdout)).map_err(|e| e.to_string())
}

#[test]
fn savefile_programs_equal_tcpdump_reading_a_file() {
    if tcpdump_version().is_none() {
        eprintln!("skipping: tcpdump is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pcapfilter-savefile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let native_le = cfg!(target_endian = "little");
    // Every case in a file of this host's byte order; loopback cases (the
    // only ones where the byte order matters) also in the other order.
    let mut jobs = Vec::new();
    for case in cases() {
        let lt = case.dlt();
        jobs.push((case.clone(), false));
        if lt == LinkType::NULL || lt == LinkType::LOOP {
            jobs.push((case, true));
        }
    }
    // Socket-metadata primitives on every link type.
    for lt in LinkType::supported() {
        for expr in ["inbound", "outbound", "ifindex 3", "ip6", "ip6 and tcp"] {
            let case = common::Case {
                linktype: lt.name().unwrap().to_string(),
                expr: expr.to_string(),
                line: 0,
            };
            jobs.push((case, false));
        }
    }
    // Written before the workers start (they must not rewrite a file the
    // other one is reading).
    for lt in LinkType::supported() {
        empty_capture(&dir, lt, true);
        empty_capture(&dir, lt, false);
    }
    let results: Vec<Option<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (jobs, dir) = (&jobs, &dir);
                s.spawn(move || {
                    jobs.iter()
                        .enumerate()
                        .filter(|(i, _)| i % 2 == w)
                        .map(|(i, (case, swapped))| {
                            let lt = case.dlt();
                            let file = capture_path(dir, lt, native_le != *swapped);
                            let theirs = tcpdump_file_program(&file, &case.expr);
                            let opts = CompileOptions {
                                optimize: false,
                                source: PacketSource::Savefile { swapped: *swapped },
                                ..CompileOptions::default()
                            };
                            let ours = compile(&case.expr, lt, &opts);
                            let same = match (&ours, &theirs) {
                                (Ok(a), Ok(b)) => a == b,
                                (Err(_), Err(_)) => true,
                                _ => false,
                            };
                            let diff = (!same).then(|| {
                                format!(
                                    "[{} swapped={swapped}] {}: tcpdump {:?}, ours {:?}",
                                    case.linktype,
                                    case.expr,
                                    theirs.map(|p| p.len()),
                                    ours.map(|p| p.len())
                                )
                            });
                            (i, diff)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, d)| d).collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let failures: Vec<String> = results.into_iter().flatten().collect();
    eprintln!("{} savefile cases compared", jobs.len());
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Independently of tcpdump: a loopback capture file's `ip6` matches the
/// BSD address families 24, 28 and 30 in the file's byte order, and the
/// metadata primitives are refused.
#[test]
fn savefile_loopback_and_metadata_semantics() {
    let run = |expr: &str, swapped: bool, af_word: [u8; 4]| {
        let opts = CompileOptions {
            optimize: false,
            source: PacketSource::Savefile { swapped },
            ..CompileOptions::default()
        };
        let prog = compile(expr, LinkType::NULL, &opts).unwrap();
        let mut pkt = af_word.to_vec();
        pkt.extend([0x60; 40]);
        bpfkit_cbpf::run(&prog, &pkt, pkt.len() as u32) != 0
    };
    // This host is little-endian in CI; a swapped file is big-endian.
    if cfg!(target_endian = "little") {
        for af in [24u32, 28, 30] {
            assert!(run("ip6", false, af.to_le_bytes()), "AF {af}, native order");
            assert!(run("ip6", true, af.to_be_bytes()), "AF {af}, swapped file");
            assert!(!run("ip6", false, af.to_be_bytes()));
        }
        assert!(!run("ip6", false, 10u32.to_le_bytes()), "Linux AF_INET6");
        assert!(run("ip", true, 2u32.to_be_bytes()));
        assert!(!run("ip", true, 2u32.to_le_bytes()));
    }
    let opts = CompileOptions {
        source: PacketSource::Savefile { swapped: false },
        ..CompileOptions::default()
    };
    for expr in ["inbound", "outbound", "ifindex 1"] {
        let err = compile(expr, LinkType::EN10MB, &opts).unwrap_err();
        assert!(
            err.to_string()
                .contains("not supported on Ethernet when reading savefiles"),
            "{expr}: {err}"
        );
        // Linux cooked v2 carries both in its header.
        assert!(compile(expr, LinkType::LINUX_SLL2, &opts).is_ok());
    }
}
