//! `bpfkit filter -r BIG --count EXPR` against `tcpdump -r BIG --count EXPR`.
//!
//! `cargo bench -p bpfkit-filterbench --bench throughput [-- OPTIONS]`
//!
//! Options: `--runs N` (timed runs per command, default 5), `--packets N`
//! (capture size, default 2,000,000), `--engines LIST` (bpfkit engines,
//! default `cbpf,jit`; `ebpf` is the third), `--only EXPR` (one expression).
//!
//! The capture is the benchmark mix ([`bpfkit_filterbench::mix`]), generated
//! once into the capture directory ([`bpfkit_filterbench::generate::capture_dir`]).
//! It is dropped from the page cache first; each command then runs once
//! untimed (the first run loads the file again, as from disk), then the
//! commands take turns for the timed runs. Every run's output
//! must be tcpdump's (`N packets`). Reported per command: packets per second
//! from the best and the median wall time, and from the median CPU time
//! (user + system of the child); on a busy machine the CPU figure is the
//! steadier one.

use bpfkit_filterbench::generate::{capture_dir, drop_file_from_page_cache, ensure_capture};
use bpfkit_filterbench::programs::THROUGHPUT_EXPRESSIONS;
use bpfkit_filterbench::timing::{children_cpu, summarize, Summary};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

struct Options {
    runs: usize,
    packets: u64,
    engines: Vec<String>,
    only: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        runs: 5,
        packets: 2_000_000,
        engines: vec!["cbpf".into(), "jit".into()],
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value().parse().expect("--runs N"),
            "--packets" => o.packets = value().parse().expect("--packets N"),
            "--engines" => o.engines = value().split(',').map(String::from).collect(),
            "--only" => o.only = Some(value()),
            "--bench" => {} // added by `cargo bench`
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// The `bpfkit` binary of this target directory, rebuilt first when run by cargo.
fn bpfkit_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BPFKIT") {
        return PathBuf::from(path);
    }
    // Benchmarks live in <target>/release/deps; the command in <target>/release.
    let exe = std::env::current_exe().expect("own path");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", "bpfkit"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building bpfkit failed");
    }
    let path = release.join("bpfkit");
    assert!(
        path.exists(),
        "{} not found: run `cargo build --release -p bpfkit` or set BPFKIT",
        path.display()
    );
    path
}

/// One command line to time.
struct Contender {
    name: String,
    program: PathBuf,
    args: Vec<String>,
}

/// One run: stdout, wall seconds, CPU seconds.
fn run_once(c: &Contender) -> (String, f64, f64) {
    let cpu0 = children_cpu();
    let start = Instant::now();
    let out = Command::new(&c.program)
        .args(&c.args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let wall = start.elapsed().as_secs_f64();
    let cpu = (children_cpu() - cpu0).as_secs_f64();
    assert!(out.status.success(), "{} failed", c.name);
    (String::from_utf8_lossy(&out.stdout).into_owned(), wall, cpu)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn have_tcpdump() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn main() {
    let o = options();
    let bpfkit = bpfkit_binary();
    let capture = ensure_capture(&capture_dir(), o.packets, 1).expect("capture file");
    // Start from the state of a file read from disk: how the page cache holds a file
    // (large folios when read, small pages when just written) changes the cost of
    // mapping it several times over; the first untimed run loads it again.
    drop_file_from_page_cache(&capture).expect("capture file");
    let size = std::fs::metadata(&capture).expect("capture").len();
    let tcpdump = have_tcpdump();
    if !tcpdump {
        eprintln!("tcpdump not found: bpfkit only, counts checked between engines");
    }
    println!(
        "capture {} ({} packets, {:.2} GB); {} timed runs per command; load average {}",
        capture.display(),
        o.packets,
        size as f64 / 1e9,
        o.runs,
        load_average()
    );
    print!("| expression | matches |");
    let mut names = Vec::new();
    if tcpdump {
        names.push("tcpdump".to_string());
    }
    names.extend(o.engines.iter().map(|e| format!("bpfkit {e}")));
    for n in &names {
        print!(" {n} Mpps |");
    }
    for n in names.iter().skip(usize::from(tcpdump)).filter(|_| tcpdump) {
        print!(" {n} / tcpdump |");
    }
    println!();
    let columns = names.len() + if tcpdump { names.len() - 1 } else { 0 };
    println!("|---|---:|{}", "---:|".repeat(columns));

    let file = capture.to_str().expect("UTF-8 path").to_string();
    let expressions: Vec<&str> = match &o.only {
        Some(e) => vec![e.as_str()],
        None => THROUGHPUT_EXPRESSIONS.to_vec(),
    };
    for expr in expressions {
        let words: Vec<String> = expr.split_whitespace().map(String::from).collect();
        let mut contenders = Vec::new();
        if tcpdump {
            let mut args = vec!["-r".into(), file.clone(), "--count".into()];
            args.extend(words.iter().cloned());
            contenders.push(Contender {
                name: "tcpdump".into(),
                program: "tcpdump".into(),
                args,
            });
        }
        for engine in &o.engines {
            let mut args = vec!["filter".into(), "--engine".into(), engine.clone()];
            args.extend(["-r".into(), file.clone(), "--count".into()]);
            args.extend(words.iter().cloned());
            contenders.push(Contender {
                name: format!("bpfkit {engine}"),
                program: bpfkit.clone(),
                args,
            });
        }
        // Untimed first round: page cache, and the counts every later run must repeat.
        let expected = run_once(&contenders[0]).0;
        let mut wall: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        for c in &contenders[1..] {
            assert_eq!(run_once(c).0, expected, "{} [{expr}]", c.name);
        }
        for _ in 0..o.runs {
            for (i, c) in contenders.iter().enumerate() {
                let (out, w, t) = run_once(c);
                assert_eq!(out, expected, "{} [{expr}]", c.name);
                wall[i].push(w);
                cpu[i].push(t);
            }
        }
        let mpps = |seconds: f64| o.packets as f64 / seconds / 1e6;
        let matches = expected
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_string();
        print!(
            "| `{}` | {matches} |",
            if expr.is_empty() { "(none)" } else { expr }
        );
        let summaries: Vec<(Summary, Summary)> = (0..contenders.len())
            .map(|i| (summarize(&wall[i]), summarize(&cpu[i])))
            .collect();
        for (w, c) in &summaries {
            print!(
                " {:.1} / {:.1} / {:.1} |",
                mpps(w.min),
                mpps(w.median),
                mpps(c.median)
            );
        }
        if tcpdump {
            let (tw, tc) = summaries[0];
            for (w, c) in &summaries[1..] {
                print!(" {:.2}x / {:.2}x |", tw.min / w.min, tc.median / c.median);
            }
        }
        println!();
    }
    println!(
        "Mpps: from best wall / median wall / median CPU time; ratios: best wall, median CPU. \
         Load average at the end: {}",
        load_average()
    );
}
