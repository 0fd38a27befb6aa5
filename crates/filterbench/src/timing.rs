//! Clocks and summaries for benchmarks on a shared machine.
//!
//! Wall time on a busy machine mostly measures the neighbours; CPU time
//! (user + system) of the measured thread or child process is steadier, so
//! the benchmarks report both.

use std::time::Duration;

fn timeval(t: libc::timeval) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
}

/// CPU time (user + system) used so far by the children this process has waited for.
pub fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Minimum and median of repeated measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The best (smallest) value.
    pub min: f64,
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
}

/// Summarizes non-empty `values`.
pub fn summarize(values: &[f64]) -> Summary {
    assert!(!values.is_empty(), "nothing measured");
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Summary { min: v[0], median }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_odd_and_even_counts() {
        assert_eq!(
            summarize(&[3.0, 1.0, 2.0]),
            Summary {
                min: 1.0,
                median: 2.0
            }
        );
        assert_eq!(
            summarize(&[4.0, 1.0, 2.0, 3.0]),
            Summary {
                min: 1.0,
                median: 2.5
            }
        );
    }

    #[test]
    fn thread_clock_advances_with_work() {
        let start = thread_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu() > start, "{x}");
    }
}
