//! `bpfkit filter` against tcpdump (libpcap) on the shared captures.

mod filter_support;

use filter_support::*;
use std::process::{Command, Output};

#[test]
fn count_prints_packets_like_tcpdump_and_keeps_packets_before_damage() {
    let Some(files) = tcpdump_and_pcaps() else {
        return;
    };
    let file = files.iter().find(|p| p.ends_with("dns_tcp.pcap")).unwrap();
    let bytes = std::fs::read(file).unwrap();
    let cut = tmp("cut.pcap");
    for len in [bytes.len(), 1000, 500, 100, 30] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let c = cut.to_str().unwrap();
        let t = tcpdump(&["-r", c, "--count"]).unwrap();
        let b = bpfkit(&["filter", "-r", c, "--count"]);
        assert_eq!(b.status.success(), t.status.success(), "cut at {len}");
        assert_eq!(
            String::from_utf8_lossy(&b.stdout),
            String::from_utf8_lossy(&t.stdout),
            "cut at {len}"
        );
        if !b.status.success() {
            assert!(String::from_utf8_lossy(&b.stderr).contains("byte offset"));
        }
    }
}

#[test]
fn dump_formats_of_unoptimized_programs_match_tcpdump() {
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump not installed");
        return;
    }
    for (lt, expr) in [
        ("EN10MB", "tcp port 80"),
        ("RAW", "host 1.2.3.4"),
        ("LINUX_SLL", "udp and not port 53"),
        ("EN10MB", "vlan 100 and ip6"),
    ] {
        for d in ["-d", "-dd", "-ddd"] {
            let t = tcpdump(&[d, "-O", "-y", lt, expr]).unwrap();
            let b = bpfkit(&["filter", d, "-O", "-y", lt, expr]);
            assert!(b.status.success());
            assert_eq!(b.stdout, t.stdout, "{d} -y {lt} {expr}");
        }
    }
}

#[test]
fn syntax_errors_fail_with_a_position() {
    let b = bpfkit(&["filter", "-d", "tcp port"]);
    assert_eq!(b.status.code(), Some(1));
    let b = bpfkit(&["filter", "-d", "-y", "NOSUCH", "tcp"]);
    assert_eq!(b.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&b.stderr).contains("NOSUCH"));
}

#[test]
fn ebpf_engine_accepts_the_same_packets() {
    let Some(files) = pcaps() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    for file in files.iter().take(12) {
        let f = file.to_str().unwrap();
        for expr in ["tcp", "udp or vlan", "ip[8] < 64"] {
            let a = bpfkit(&["filter", "-r", f, "--count", expr]);
            let b = bpfkit(&["filter", "-r", f, "--count", "--engine", "ebpf", expr]);
            assert_eq!(a.stdout, b.stdout, "{f} [{expr}]");
        }
    }
}

#[test]
fn jit_engine_accepts_the_same_packets() {
    let Some(files) = pcaps() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    for file in files.iter().take(12) {
        let f = file.to_str().unwrap();
        for expr in ["tcp", "udp or vlan", "ip[8] < 64", "ip6 protochain 17"] {
            let a = bpfkit(&["filter", "-r", f, "--count", expr]);
            let b = bpfkit(&["filter", "-r", f, "--count", "--engine", "jit", expr]);
            assert_eq!(a.stdout, b.stdout, "{f} [{expr}]");
            assert_eq!(a.status.code(), b.status.code(), "{f} [{expr}]");
        }
    }
}

/// Files are read in place from a memory map; pipes (`-r -`) are streamed through a buffer, where
/// packets can straddle two reads. Both must write the same packets, and stop at the same damage.
#[test]
fn mapped_files_and_pipes_give_the_same_output() {
    let Some(files) = pcaps() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    let (from_file, from_pipe) = (tmp("from-file.pcap"), tmp("from-pipe.pcap"));
    let mut compared = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for len in [bytes.len(), bytes.len() * 2 / 3] {
            let cut = tmp("input.pcap");
            std::fs::write(&cut, &bytes[..len]).unwrap();
            for expr in ["", "tcp or udp"] {
                let _ = std::fs::remove_file(&from_file);
                let _ = std::fs::remove_file(&from_pipe);
                let a = bpfkit(&[
                    "filter",
                    "-r",
                    cut.to_str().unwrap(),
                    "-w",
                    from_file.to_str().unwrap(),
                    expr,
                ]);
                let b = bpfkit_stdin(
                    &["filter", "-r", "-", "-w", from_pipe.to_str().unwrap(), expr],
                    &bytes[..len],
                );
                let what = format!("{} cut at {len} [{expr}]", file.display());
                assert_eq!(a.status.code(), b.status.code(), "{what}");
                // The same damage report (the last line; the first names the input).
                let last = |o: &Output| {
                    let text = String::from_utf8_lossy(&o.stderr).into_owned();
                    text.lines().last().unwrap_or("").to_string()
                };
                if !a.status.success() {
                    assert_eq!(last(&a), last(&b), "{what}");
                }
                // Packets before any damage are kept, the same by both paths.
                if let (Ok(x), Ok(y)) = (std::fs::read(&from_file), std::fs::read(&from_pipe)) {
                    assert_eq!(x, y, "{what}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 20, "only {compared} outputs compared");
}

/// Large files are counted in lanes (out of order, cut points proven); the counts, and what
/// damage does to them, must stay tcpdump's.
#[test]
fn counting_a_large_file_matches_tcpdump_whole_and_damaged() {
    let Some(files) = tcpdump_and_pcaps() else {
        return;
    };
    // About 12 MB of Ethernet packets from the shared captures, repeated.
    let mut packets = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Ok(mut reader) = bpfkit_capture::Reader::new(&bytes[..]) else {
            continue;
        };
        if reader.savefile_header().dlt != bpfkit_capture::Dlt::EN10MB {
            continue;
        }
        while let Ok(Some(rec)) = reader.next_record() {
            packets.push(rec.to_owned());
        }
    }
    assert!(packets.len() > 100);
    let header = bpfkit_capture::SavefileHeader {
        dlt: bpfkit_capture::Dlt::EN10MB,
        link_type_ext: 0,
        snaplen: 262_144,
        precision: bpfkit_capture::Precision::Micro,
    };
    let mut writer = bpfkit_capture::PcapWriter::new(Vec::new(), &header).unwrap();
    let (mut offsets, mut len) = (Vec::new(), 24);
    while len < 12 << 20 {
        for p in &packets {
            offsets.push(len);
            len += 16 + p.data.len();
            // Times of one capture session (the shared files span years).
            let mut rec = p.as_record();
            let n = offsets.len() as i64;
            rec.ts = bpfkit_capture::Timestamp {
                sec: 1_700_000_000 + n / 1000,
                frac: (n % 1000) as u64 * 1000,
                units_per_sec: 1_000_000,
            };
            writer.write_record(&rec).unwrap();
        }
    }
    let whole = writer.into_inner();
    assert_eq!(whole.len(), len);
    // Damage: a record in the middle claims more bytes than any snapshot length.
    let mut damaged = whole.clone();
    let at = offsets[offsets.len() / 2 + 3];
    damaged[at + 8..at + 12].copy_from_slice(&1_000_000u32.to_ne_bytes());
    for (name, bytes) in [("big.pcap", &whole), ("big-damaged.pcap", &damaged)] {
        let path = tmp(name);
        std::fs::write(&path, bytes).unwrap();
        let f = path.to_str().unwrap();
        for expr in ["", "tcp", "udp port 53", "vlan or arp"] {
            let t = tcpdump(&["-r", f, "--count", expr]).unwrap();
            for engine in ["cbpf", "jit"] {
                let b = bpfkit(&["filter", "--engine", engine, "-r", f, "--count", expr]);
                assert_eq!(b.status.success(), t.status.success(), "{name} [{expr}]");
                assert_eq!(
                    String::from_utf8_lossy(&b.stdout),
                    String::from_utf8_lossy(&t.stdout),
                    "{name} [{expr}] {engine}"
                );
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}

/// `bpfkit filter -i lo`: the compiled program runs in the kernel (SO_ATTACH_FILTER) and only
/// matching datagrams reach the output file.
#[test]
fn live_capture_on_loopback_keeps_only_matching_packets() {
    if euid() != 0 {
        eprintln!("skipping: live capture needs root");
        return;
    }
    let out = tmp("live.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["filter", "-i", "lo", "-c", "3", "-w", out.to_str().unwrap()])
        .arg("udp dst port 47913")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the socket is open (it prints "listening on" to stderr).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("listening on lo"), "{line}");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20u8 {
        sock.send_to(&[i; 10], "127.0.0.1:47914").unwrap(); // other port: filtered out
        if i % 4 == 0 {
            sock.send_to(&[i; 20], "127.0.0.1:47913").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    // The file holds 3 Ethernet frames of 14 + 20 + 8 + 20 bytes, each to port 47913.
    let data = std::fs::read(&out).unwrap();
    let mut reader = bpfkit_capture::Reader::new(&data[..]).unwrap();
    let mut n = 0;
    while let Some(rec) = reader.next_record().unwrap() {
        assert_eq!(rec.data.len(), 62);
        assert_eq!(u16::from_be_bytes([rec.data[36], rec.data[37]]), 47913);
        n += 1;
    }
    assert_eq!(n, 3);
}

/// A program over the kernel's 4096-instruction limit cannot be attached to a socket:
/// `bpfkit filter -i` refuses it with its length and the limit, before listening.
#[test]
fn live_capture_refuses_a_program_over_the_kernel_limit() {
    if euid() != 0 {
        eprintln!("skipping: live capture needs root");
        return;
    }
    let hosts: Vec<String> = (0..1500)
        .map(|i| format!("host 10.{}.{}.1", i / 200, i % 200))
        .collect();
    let expr = hosts.join(" or ");
    // The length of the program, as printed for a live Ethernet capture (what `lo` is).
    let dump = bpfkit(&["filter", "-d", "-y", "EN10MB", &expr]);
    assert!(dump.status.success());
    let len = String::from_utf8_lossy(&dump.stdout).lines().count();
    assert!(len > 4096, "only {len} instructions");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["filter", "-i", "lo", "-c", "1", &expr])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It must exit by itself; a capture that started would wait for packets.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("bpfkit filter -i lo with a {len}-instruction program is still running");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{len} instructions")) && stderr.contains("limit of 4096"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
    // The same program filters a capture file (no limit there).
    let Some(files) = pcaps() else {
        return;
    };
    let file = files.iter().find(|p| p.ends_with("dns_udp.pcap")).unwrap();
    let b = bpfkit(&["filter", "-r", file.to_str().unwrap(), "--count", &expr]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
}
