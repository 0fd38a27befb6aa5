//! Speed against the kernel's verifier (`cargo test --release --test perf -- --ignored --nocapture`,
//! root): for each corpus program the kernel loads, the kernel's own `verification time` line
//! against bpfkit's average time.

mod support;

use std::time::Instant;
use support::{corpus, kernel};

#[test]
#[ignore = "a measurement, run by hand with --release as root"]
fn speed_against_kernel() {
    if !kernel::available() {
        eprintln!("skipping: needs root");
        return;
    }
    let (mut ours_total, mut kernel_total) = (0f64, 0f64);
    for case in corpus() {
        let Some(ty) = case.kernel_prog_type() else {
            continue;
        };
        if case.maps.iter().any(|m| m.spin_lock_off.is_some()) {
            continue;
        }
        let Ok((_, log)) = kernel::load_with_log_level(ty, &case.insns, &case.maps, 4) else {
            continue;
        };
        let Some(k_us) = log.lines().find_map(|l| {
            l.strip_prefix("verification time ")?
                .strip_suffix(" usec")?
                .parse::<f64>()
                .ok()
        }) else {
            continue;
        };
        let env = case.env();
        let opts = bpfkit_verifier::Options::default();
        let reps = 200;
        let t = Instant::now();
        for _ in 0..reps {
            let _ = bpfkit_verifier::verify_with(&case.insns, env.as_ref(), &opts);
        }
        let ours_us = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
        ours_total += ours_us;
        kernel_total += k_us;
        println!(
            "{:45} kernel {:>9.1} us  bpfkit {:>9.2} us  x{:.1}",
            case.name(),
            k_us,
            ours_us,
            k_us / ours_us
        );
    }
    println!(
        "total: kernel {kernel_total:.0} us, bpfkit {ours_total:.0} us, x{:.1}",
        kernel_total / ours_total
    );
}
