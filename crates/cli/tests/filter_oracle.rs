//! `bpfkit filter -r F -w OUT EXPR` against `tcpdump -r F -w OUT EXPR`: the same bytes written,
//! the same expressions refused.
//!
//! Expressions: `crates/pcapfilter/tests/exprs.txt` (the compiler's corpus, every construct of
//! the language, by link type, rejected expressions included) plus
//! `filter_support/exprs.txt`. Captures: generated Ethernet traffic built to exercise those
//! constructs (and a generated pflog capture), and the shared captures of every link type.

mod filter_support;

use bpfkit_capture::Dlt;
use filter_support::traffic::{capture, ethernet_frame, pflog_frame};
use filter_support::*;
use std::path::PathBuf;

/// Threads running tcpdump/bpfkit pairs (the work is mostly process start-up).
const THREADS: usize = 3;

/// Fails with every difference listed.
fn assert_no_differences(verdicts: &[Verdict]) {
    let failures: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| match v {
            Verdict::Differs(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} differences from tcpdump:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Constructs the generated traffic must contain (each selects some packets, not all).
const TRAFFIC_HAS: &[&str] = &[
    "ip",
    "ip6",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "pim",
    "ah",
    "esp",
    "vrrp",
    "igrp",
    "ip proto 47 and ip[22:2] = 0x86dd",
    "ip6 protochain 44",
    "ip6 protochain 51",
    "ip6 protochain 6 and not ip6 proto 6",
    "ip[6:2] & 0x1fff != 0 and tcp",
    "ip[0] & 0xf > 5",
    "vlan 10 and vlan 20",
    "ether proto 0x88a8",
    "mpls 16 and mpls 100 and mpls 2 and ip",
    "pppoes 7 and ip",
    "pppoes and ip6 and icmp6",
    "pppoed",
    "geneve and vlan",
    "geneve 100 and ip6",
    "arp",
    "rarp",
    "llc",
    "ether[14:2] = 0xaaaa and ether[20:2] = 0x0800",
    "stp",
    "ipx",
    "netbeui",
    "iso",
    "isis",
    "atalk",
    "aarp",
    "decnet host 1.2",
    "ether broadcast",
    "ether multicast and not ether broadcast",
    "less 64",
    "greater 1000",
];

/// Every Ethernet expression on generated traffic, optimized and not (`-O`), with `--count`
/// too. Most accepted expressions must select a proper, non-empty subset of the packets, and
/// each construct of [`TRAFFIC_HAS`] some packets: the traffic really exercises them.
#[test]
fn generated_ethernet_traffic_is_filtered_as_tcpdump_does() {
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump not installed");
        return;
    }
    let start = std::time::Instant::now();
    let exprs = test_expressions().remove("EN10MB").unwrap();
    assert!(exprs.len() >= 300, "only {} expressions", exprs.len());
    let total = 2500;
    let file = tmp("generated-ether.pcap");
    std::fs::write(
        &file,
        capture(Dlt::EN10MB, 0x5eed_0006, total, ethernet_frame),
    )
    .unwrap();
    let mut jobs = Vec::new();
    for expr in &exprs {
        jobs.push(Job {
            file: file.clone(),
            flags: vec![],
            expr: expr.clone(),
            count: true,
        });
        jobs.push(Job {
            file: file.clone(),
            flags: vec!["-O"],
            expr: expr.clone(),
            count: false,
        });
    }
    let verdicts = run_jobs(&jobs, THREADS);
    let mut selected = std::collections::HashMap::new();
    let (mut accepted, mut rejected, mut proper, mut empty, mut all) = (0, 0, 0, vec![], vec![]);
    for (job, v) in jobs.iter().zip(&verdicts) {
        if !job.flags.is_empty() {
            continue;
        }
        match v {
            Verdict::Same(n) => {
                selected.insert(job.expr.as_str(), *n);
                accepted += 1;
                match *n {
                    0 => empty.push(job.expr.as_str()),
                    n if n == total => all.push(job.expr.as_str()),
                    _ => proper += 1,
                }
            }
            Verdict::BothRejected => rejected += 1,
            Verdict::Differs(_) => {}
        }
    }
    eprintln!(
        "{} expressions on {total} generated packets: {accepted} accepted ({proper} select a \
         proper subset), {rejected} rejected by both; {} runs in {:.1?}",
        exprs.len(),
        jobs.len(),
        start.elapsed()
    );
    eprintln!("select nothing: {empty:?}");
    let _ = std::fs::remove_file(&file);
    eprintln!("select everything: {all:?}");
    assert_no_differences(&verdicts);
    assert!(
        accepted >= 250 && rejected >= 30,
        "{accepted} accepted, {rejected} rejected"
    );
    for expr in TRAFFIC_HAS {
        let n = selected.get(expr).copied();
        assert!(
            n.is_some_and(|n| n > 0 && n < total),
            "[{expr}] selects {n:?} of {total} generated packets"
        );
    }
    assert!(
        proper * 10 >= accepted * 7,
        "only {proper} of {accepted} accepted expressions select a proper non-empty subset"
    );
}

/// The shared captures, merged by link type, with every expression of that link type; and a
/// generated pflog capture (no shared capture has that type) with the pflog expressions.
#[test]
fn shared_captures_of_every_link_type_are_filtered_as_tcpdump_does() {
    let Some(files) = tcpdump_and_pcaps() else {
        return;
    };
    let start = std::time::Instant::now();
    let exprs = test_expressions();
    let mut captures: Vec<(String, PathBuf)> = Vec::new();
    for name in exprs.keys() {
        let dlt = Dlt::from_name(name).unwrap();
        if let Some(file) = shared_capture_of(&files, dlt) {
            captures.push((name.clone(), file));
        }
    }
    let pflog = tmp("generated-pflog.pcap");
    std::fs::write(&pflog, capture(Dlt::PFLOG, 0x5eed_0117, 400, pflog_frame)).unwrap();
    captures.push(("PFLOG".into(), pflog));
    let types: Vec<&str> = captures.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "EN10MB",
        "LINUX_SLL",
        "RAW",
        "IPV6",
        "NULL",
        "PPP",
        "C_HDLC",
    ] {
        assert!(types.contains(&want), "no capture of {want}: {types:?}");
    }
    for want in ["IEEE802_11", "IEEE802_11_RADIO", "PPI", "PFLOG"] {
        assert!(types.contains(&want), "no capture of {want}: {types:?}");
    }
    let jobs: Vec<Job> = captures
        .iter()
        .flat_map(|(name, file)| {
            exprs[name].iter().map(|expr| Job {
                file: file.clone(),
                flags: vec![],
                expr: expr.clone(),
                count: false,
            })
        })
        .collect();
    let verdicts = run_jobs(&jobs, THREADS);
    let compared = same_count(&verdicts);
    eprintln!(
        "{} (capture, expression) pairs over {types:?}: {compared} outputs compared byte for \
         byte, in {:.1?}",
        jobs.len(),
        start.elapsed()
    );
    for (_, file) in &captures {
        if file.starts_with(tmp("")) {
            let _ = std::fs::remove_file(file); // merged or generated here
        }
    }
    assert_no_differences(&verdicts);
    assert!(compared >= 500, "only {compared} outputs compared");
}

/// Each shared capture file as it is (pcapng, nanosecond and other-byte-order files keep
/// their own header), with a few expressions.
#[test]
fn every_shared_capture_file_is_filtered_as_tcpdump_does() {
    let Some(files) = tcpdump_and_pcaps() else {
        return;
    };
    const EXPRESSIONS: &[&str] = &[
        "",
        "ip",
        "ip6",
        "tcp",
        "udp port 53",
        "not ip and not ip6",
        "vlan or mpls or pppoes",
        "greater 200",
    ];
    let jobs: Vec<Job> = files
        .iter()
        .flat_map(|file| {
            EXPRESSIONS.iter().map(|expr| Job {
                file: file.clone(),
                flags: vec![],
                expr: expr.to_string(),
                count: true,
            })
        })
        .collect();
    let verdicts = run_jobs(&jobs, THREADS);
    let compared = same_count(&verdicts);
    eprintln!("compared {compared} outputs byte for byte");
    assert_no_differences(&verdicts);
    assert!(
        compared > files.len() * 5,
        "too few comparisons: {compared}"
    );
}
