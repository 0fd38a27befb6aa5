//! Compile-time benchmark: parsing, code generation, optimization and
//! layout of large expressions, from 100 to 1000 primitives.
//!
//! `cargo bench -p bpfkit-pcapfilter --bench compile_time` prints, for each
//! expression family and size, the median compile time (optimized and not)
//! and the program length, and marks programs longer than the kernel's
//! limit of 4096 instructions (fine for capture files, refused by the
//! kernel for live capture). Times are CPU time of the compiling thread
//! (the machine is shared; wall-clock time swings with the load). With
//! `BPFKIT_TCPDUMP=1` it also gives the CPU time of `tcpdump -d` on the
//! same expressions up to 500 primitives (libpcap's optimizer is cubic;
//! larger sizes take it tens of seconds).

use std::process::Command;
use std::time::Duration;

use bpfkit_pcapfilter::{compile_with, CompileOptions, LinkType, StaticResolver};

/// CPU time used so far by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time used so far by finished child processes.
fn children_cpu() -> Duration {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes to it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Median CPU time of `runs` compilations, and the program length (or error).
fn measure(expr: &str, optimize: bool, runs: usize) -> (Duration, Result<usize, String>) {
    let opts = CompileOptions {
        optimize,
        ..CompileOptions::default()
    };
    let resolver = StaticResolver::new();
    let mut times = Vec::with_capacity(runs);
    let mut result = Err(String::new());
    for _ in 0..runs {
        let t = thread_cpu();
        let r = compile_with(expr, LinkType::EN10MB, &opts, &resolver);
        times.push(thread_cpu() - t);
        result = r.map(|p| p.len()).map_err(|e| e.to_string());
    }
    times.sort();
    (times[runs / 2], result)
}

/// CPU time of `tcpdump -d` and the length of its program, if tcpdump runs.
fn tcpdump_time(expr: &str) -> Option<(Duration, usize)> {
    let t = children_cpu();
    let out = Command::new("tcpdump")
        .args(["-d", "-y", "EN10MB", "--", expr])
        .output()
        .ok()?;
    let len = out.stdout.iter().filter(|&&b| b == b'\n').count();
    out.status.success().then(|| (children_cpu() - t, len))
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
        "{:<52} {:>5} {:>11} {:>11} {:>7} {:>18}",
        "expression", "n", "optimized", "-O", "length", "tcpdump (length)"
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
                tcpdump_time(&expr).map_or("-".to_string(), |(d, l)| format!("{d:.2?} ({l})"))
            } else {
                "-".to_string()
            };
            println!(
                "{name:<52} {n:>5} {:>11.2?} {:>11.2?} {len:>7} {td:>18}",
                t_opt, t_plain
            );
        }
    }
    println!("* longer than the kernel's limit of 4096 instructions (BPF_MAXINSNS)");
}
