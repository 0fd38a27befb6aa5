//! The generated capture: readable, deterministic, and (by tcpdump's own
//! dissection) the protocol mix it claims to be.

use bpfkit_capture::Reader;
use bpfkit_filterbench::generate::write_capture;
use bpfkit_filterbench::mix::Mix;
use std::process::Command;

const PACKETS: u64 = 5000;

fn tcpdump_count(file: &std::path::Path, expr: &str) -> Option<u64> {
    let out = Command::new("tcpdump")
        .arg("-r")
        .arg(file)
        .arg("--count")
        .args(expr.split_whitespace())
        .output()
        .ok()?;
    assert!(out.status.success(), "tcpdump [{expr}] failed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next()?.parse().ok()
}

#[test]
fn capture_holds_the_mix_and_tcpdump_sees_its_protocols() {
    let dir = std::env::temp_dir().join(format!("filterbench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mix.pcap");
    let stats = write_capture(&path, PACKETS, 9).unwrap();
    assert_eq!(stats.packets, PACKETS);

    // Our reader sees exactly the frames of the mix, in order, with increasing time stamps.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(stats.bytes, bytes.len() as u64);
    let mut reader = Reader::new(&bytes[..]).unwrap();
    let mut mix = Mix::new(9);
    let mut frame = Vec::new();
    let mut n = 0;
    while let Some(rec) = reader.next_record().unwrap() {
        let micros = mix.next_frame(&mut frame);
        assert_eq!(rec.data, &frame[..]);
        assert_eq!(rec.wirelen as usize, frame.len());
        assert_eq!(rec.ts.sec as u64 * 1_000_000 + rec.ts.micros(), micros);
        n += 1;
    }
    assert_eq!(n, PACKETS);

    let Some(all) = tcpdump_count(&path, "") else {
        eprintln!("skipping the tcpdump half: tcpdump not installed");
        return;
    };
    assert_eq!(all, PACKETS);
    // Shares, in percent of all packets, as tcpdump dissects them: what the mix
    // documents, with room for sampling noise. Without `vlan`, tcpdump's
    // expressions see only the untagged 91% of the frames.
    let share = |expr: &str| 100.0 * tcpdump_count(&path, expr).unwrap() as f64 / all as f64;
    for (expr, lo, hi) in [
        ("vlan", 7.5, 11.0),
        ("ip", 53.0, 60.0),
        ("ip6", 22.0, 27.0),
        ("arp", 4.0, 7.0),
        ("tcp", 48.0, 58.0),
        ("udp", 19.0, 25.0),
        ("icmp or icmp6", 3.5, 6.5),
        ("vlan and (ip or ip6)", 7.0, 10.0),
        ("ip[6:2] & 0x3fff != 0", 0.2, 1.5), // IPv4 fragments
        ("host 10.1.2.3", 8.0, 20.0),
        ("greater 1000", 20.0, 40.0),
    ] {
        let s = share(expr);
        assert!(
            (lo..=hi).contains(&s),
            "[{expr}]: {s:.1}% not in {lo}..{hi}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
