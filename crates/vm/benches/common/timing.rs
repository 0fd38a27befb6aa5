//! Timing and table printing shared by the benchmarks of `bpfkit-vm` and `bpfkit-jit`
//! (included with `#[path]`; `benches/common/` holds no benchmark target of its own).
//!
//! Figures are thread CPU time (`CLOCK_THREAD_CPUTIME_ID`): the machine is shared, so wall
//! time mostly measures the neighbours. Each function runs repeatedly for a fixed time,
//! calls timed in batches that grow until a batch takes 1 ms (reading the clock then costs
//! nothing for short calls); rounds are interleaved between the functions compared and the
//! best of [`rounds`] is kept.
#![allow(dead_code)] // each benchmark uses its own part

/// Rounds per measurement by default.
pub const ROUNDS: usize = 5;

/// Rounds per measurement: `BPFKIT_BENCH_ROUNDS`, else [`ROUNDS`]. More, shorter rounds
/// ride out this VM's slow stretches (seconds in which everything runs up to 2x slower).
pub fn rounds() -> usize {
    std::env::var("BPFKIT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ROUNDS)
}

/// CPU time consumed by this thread, in seconds.
pub fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `f` repeatedly for about `budget` CPU seconds; returns seconds per call.
pub fn time_round(budget: f64, f: &mut dyn FnMut() -> u64) -> f64 {
    let start = thread_cpu_secs();
    let (mut n, mut batch) = (0u64, 1u64);
    loop {
        let t = thread_cpu_secs();
        for _ in 0..batch {
            std::hint::black_box(f());
        }
        n += batch;
        let now = thread_cpu_secs();
        if now - t < 1e-3 {
            batch *= 2;
        }
        if now - start >= budget {
            return (now - start) / n as f64;
        }
    }
}

/// Best-of-[`rounds`] seconds per call of each function, `budget` CPU seconds each in all,
/// rounds interleaved.
pub fn time_all(budget: f64, fs: &mut [&mut dyn FnMut() -> u64]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; fs.len()];
    let rounds = rounds();
    for _ in 0..rounds {
        for (f, b) in fs.iter_mut().zip(&mut best) {
            *b = b.min(time_round(budget / rounds as f64, *f));
        }
    }
    best
}

/// The command line: the first number is the CPU seconds per measurement (else
/// `default_secs`); any other argument that is not a `--flag` (cargo passes `--bench`)
/// keeps only the benchmarks whose name contains it.
pub fn args(default_secs: f64) -> (f64, Option<String>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(default_secs);
    let filter = args
        .into_iter()
        .find(|a| !a.starts_with("--") && a.parse::<f64>().is_err());
    (secs, filter)
}

/// Prints a Markdown table header: the first column left-aligned, the others right.
pub fn header(columns: &[&str]) {
    println!("| {} |", columns.join(" | "));
    let align: Vec<&str> = (0..columns.len())
        .map(|i| if i == 0 { "---" } else { "---:" })
        .collect();
    println!("|{}|", align.join("|"));
}

/// Prints a Markdown table row.
pub fn row(cells: &[String]) {
    println!("| {} |", cells.join(" | "));
}
