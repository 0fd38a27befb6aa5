//! `bpfkit filter -r F -w OUT EXPR` against `tcpdump -r F -w OUT EXPR` on every shared capture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("bpfkit runs")
}

fn tcpdump(args: &[&str]) -> Option<Output> {
    Command::new("tcpdump").args(args).output().ok()
}

fn have_tcpdump() -> bool {
    tcpdump(&["--version"]).is_some_and(|o| o.status.success())
}

fn pcaps() -> Option<Vec<PathBuf>> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    Some(v)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit-filter-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A spread of constructs; each is run on every shared capture.
const EXPRESSIONS: &[&str] = &[
    "",
    "ip",
    "ip6",
    "arp or rarp",
    "tcp",
    "udp port 53",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "icmp or icmp6",
    "not ip and not ip6",
    "vlan",
    "vlan and ip",
    "mpls",
    "pppoes",
    "geneve",
    "host 10.0.0.1 or net 192.168.0.0/16",
    "portrange 1-1023",
    "greater 200",
    "less 100",
    "ether broadcast or ether multicast",
    "ip[8] < 64",
    "len % 3 + 1 = 1",
    "stp",
    "llc",
    "ip proto 89 or ip6 proto 89",
    "igmp or pim",
    "wlan type mgt",
];

/// `bpfkit filter -r F -w OUT EXPR` writes exactly what `tcpdump -r F -w OUT EXPR` writes, and
/// both reject the same (expression, link type) pairs.
#[test]
fn writes_the_same_bytes_as_tcpdump() {
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump not installed");
        return;
    }
    let Some(files) = pcaps() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    let (ours, theirs) = (tmp("ours.pcap"), tmp("theirs.pcap"));
    let mut compared = 0;
    let mut failures = Vec::new();
    for file in &files {
        let f = file.to_str().unwrap();
        for expr in EXPRESSIONS {
            let _ = std::fs::remove_file(&ours);
            let _ = std::fs::remove_file(&theirs);
            let t = tcpdump(&["-r", f, "-w", theirs.to_str().unwrap(), expr]).unwrap();
            let b = bpfkit(&["filter", "-r", f, "-w", ours.to_str().unwrap(), expr]);
            let name = file.file_name().unwrap().to_string_lossy();
            if t.status.success() != b.status.success() {
                failures.push(format!(
                    "{name} [{expr}]: tcpdump {}, bpfkit {} ({})",
                    t.status,
                    b.status,
                    String::from_utf8_lossy(&b.stderr).trim()
                ));
                continue;
            }
            if t.status.success() {
                compared += 1;
                if std::fs::read(&ours).unwrap() != std::fs::read(&theirs).unwrap() {
                    failures.push(format!("{name} [{expr}]: output differs"));
                }
            }
        }
    }
    eprintln!("compared {compared} outputs byte for byte");
    assert!(
        compared > files.len() * 10,
        "too few comparisons: {compared}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
