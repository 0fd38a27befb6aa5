//! Compile-time benchmark: parsing, code generation, optimization and
//! layout of large expressions, from 100 to 1000 primitives.
//!
//! `cargo bench -p bpfkit-pcapfilter --bench compile_time` prints, for each
//! expression family and size, the median compile time (optimized and not)
//! and the program length, and marks programs longer than the kernel's
//! limit of 4096 instructions (fine for capture files, refused by the
//! kernel for live capture). With `BPFKIT_TCPDUMP=1` it also times
//! `tcpdump -d` on the same expressions (libpcap's optimizer is cubic; the
//! largest sizes take it tens of seconds).

use std::process::Command;
use std::time::{Duration, Instant};

use bpfkit_pcapfilter::{compile_with, CompileOptions, LinkType, StaticResolver};

/// Median time of `runs` compilations, and the program length (or error).
fn measure(expr: &str, optimize: bool, runs: usize) -> (Duration, Result<usize, String>) {
    let opts = CompileOptions {
        optimize,
        ..CompileOptions::default()
    };
    let resolver = StaticResolver::new();
    let mut times = Vec::with_capacity(runs);
    let mut result = Err(String::new());
    for _ in 0..runs {
        let t = Instant::now();
        let r = compile_with(expr, LinkType::EN10MB, &opts, &resolver);
        times.push(t.elapsed());
        result = r.map(|p| p.len()).map_err(|e| e.to_string());
    }
    times.sort();
    (times[runs / 2], result)
}

/// `tcpdump -d` wall time, if tcpdump runs.
fn tcpdump_time(expr: &str) -> Option<Duration> {
    let t = Instant::now();
    let out = Command::new("tcpdump")
        .args(["-d", "-y", "EN10MB", "--", expr])
        .output()
        .ok()?;
    out.status.success().then(|| t.elapsed())
}

fn host(i: usize) -> String {
    format!("host 10.{}.{}.{}", i / 62500, (i / 250) % 250, i % 250 + 1)
}

/// Makes the expression of a family with `n` primitives.
type Family = fn(usize) -> String;

/// Expression families: name and the expression of `n` primitives.
fn families() -> Vec<(&'static str, Family)> {
    vec![
        ("not (host A1 or ... or An)", |n| {
            format!(
                "not ({})",
                (0..n).map(host).collect::<Vec<_>>().join(" or ")
            )
        }),
        ("host A1 or ... or An", |n| {
            (0..n).map(host).collect::<Vec<_>>().join(" or ")
        }),
        (
            "tcp port P1 or ... (n/2) and not net N1 or ... (n/2)",
            |n| {
                let ports: Vec<String> =
                    (0..n / 2).map(|i| format!("tcp port {}", i + 1)).collect();
                let nets: Vec<String> = (0..n - n / 2)
                    .map(|i| format!("net 10.{}.{}.0/24", i / 250, i % 250))
                    .collect();
                format!("({}) and not ({})", ports.join(" or "), nets.join(" or "))
            },
        ),
        ("(ip[0] = 0 and udp port 1) or ... alternating", |n| {
            (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        format!("ip[{}] = {}", i % 20, i % 256)
                    } else {
                        format!("udp port {}", i)
                    }
                })
                .collect::<Vec<_>>()
                .join(if n % 3 == 0 { " and " } else { " or " })
        }),
    ]
}

fn main() {
    let with_tcpdump = std::env::var_os("BPFKIT_TCPDUMP").is_some();
    println!(
        "{:<52} {:>5} {:>11} {:>11} {:>7} {:>9}",
        "expression", "n", "optimized", "-O", "length", "tcpdump"
    );
    for (name, make) in families() {
        for n in [100, 250, 500, 750, 1000] {
            let expr = make(n);
            let runs = if n <= 250 { 15 } else { 5 };
            let (t_opt, len) = measure(&expr, true, runs);
            let (t_plain, _) = measure(&expr, false, runs);
            let len = match len {
                Ok(l) if l > bpfkit_cbpf::op::MAXINSNS => format!("{l}*"),
                Ok(l) => l.to_string(),
                Err(e) => format!("error: {e}"),
            };
            let td = if with_tcpdump && n <= 500 {
                tcpdump_time(&expr).map_or("-".to_string(), |d| format!("{:.2?}", d))
            } else {
                "-".to_string()
            };
            println!(
                "{name:<52} {n:>5} {:>11.2?} {:>11.2?} {len:>7} {td:>9}",
                t_opt, t_plain
            );
        }
    }
    println!("* longer than the kernel's limit of 4096 instructions (BPF_MAXINSNS)");
}
