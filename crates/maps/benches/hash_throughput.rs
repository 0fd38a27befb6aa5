//! Hash map lookup/update throughput from 1 and 2 threads, against peers measured
//! in the same run: `std::collections::HashMap` behind a `Mutex` and behind an
//! `RwLock`, and (as root) the kernel's own hash map driven through bpf(2) from
//! user space, which measures mostly syscall cost.
//!
//! Run: `cargo bench -p bpfkit-maps --bench hash_throughput`

#[path = "../tests/support/bpf_sys.rs"]
mod bpf_sys;

use std::collections::HashMap as StdHashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use bpfkit_maps::{create, rcu_read_lock, MapSpec, MapType, BPF_ANY};

const KEYS: u32 = 10_000;
const MEASURE: Duration = Duration::from_millis(200);

/// A cheap key sequence that visits keys in a scattered order.
fn key_at(i: u64) -> u32 {
    (i.wrapping_mul(0x9e37_79b9) % KEYS as u64) as u32
}

/// CPU time consumed by the calling thread (user + system).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `op(i)` on `threads` threads for about MEASURE, three times, and keeps the
/// best round. Returns (CPU nanoseconds per operation, wall-clock ops/second).
///
/// CPU time is the primary figure: the machine is shared, so a thread's share of
/// a core varies over a run, which distorts wall-clock rates between rows.
fn throughput(threads: usize, op: &(dyn Fn(u64) + Sync)) -> (f64, f64) {
    let mut best = (f64::INFINITY, 0.0);
    for _ in 0..3 {
        let total = AtomicU64::new(0);
        let cpu = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (total, cpu) = (&total, &cpu);
                s.spawn(move || {
                    let cpu0 = thread_cpu_ns();
                    let mut i = t as u64 * 7_777;
                    let mut n = 0u64;
                    while start.elapsed() < MEASURE {
                        for _ in 0..256 {
                            op(i);
                            i += 1;
                        }
                        n += 256;
                    }
                    cpu.fetch_add(thread_cpu_ns() - cpu0, Ordering::Relaxed);
                    total.fetch_add(n, Ordering::Relaxed);
                });
            }
        });
        let n = total.load(Ordering::Relaxed) as f64;
        let ns_per_op = cpu.load(Ordering::Relaxed) as f64 / n;
        if ns_per_op < best.0 {
            best = (ns_per_op, n / start.elapsed().as_secs_f64());
        }
    }
    best
}

struct Row {
    name: &'static str,
    threads: usize,
    /// (CPU ns per op, wall ops/s)
    ops: (f64, f64),
}

fn main() {
    // `cargo test --benches` runs bench binaries with --bench absent: keep it short.
    if std::env::args().all(|a| a != "--bench") {
        println!("hash_throughput: run with `cargo bench` for numbers");
        return;
    }
    let ours = create(&MapSpec::new(MapType::Hash, 4, 8, 16_384), 2).unwrap();
    let mutexed = Mutex::new(StdHashMap::<u32, u64>::new());
    let rwlocked = RwLock::new(StdHashMap::<u32, u64>::new());
    for k in 0..KEYS {
        ours.update_host(&k.to_ne_bytes(), &(k as u64).to_ne_bytes(), BPF_ANY)
            .unwrap();
        mutexed.lock().unwrap().insert(k, k as u64);
        rwlocked.write().unwrap().insert(k, k as u64);
    }
    let kernel = match bpf_sys::available() {
        Ok(()) => {
            let m = bpf_sys::create(MapType::Hash as u32, 4, 8, 16_384, 0, 0, -1).unwrap();
            for k in 0..KEYS {
                m.update(&k.to_ne_bytes(), &(k as u64).to_ne_bytes(), 0)
                    .unwrap();
            }
            Some(m)
        }
        Err(why) => {
            println!("kernel peer skipped: {why}");
            None
        }
    };

    let mut rows = Vec::new();
    for threads in [1, 2] {
        // Program-side lookup: guard, pointer, 8-byte read (what a helper call does).
        let lookup_ptr = |i: u64| {
            let guard = rcu_read_lock();
            let p = ours
                .lookup_ptr(&key_at(i).to_ne_bytes(), 0, &guard)
                .unwrap()
                .unwrap();
            // SAFETY: 8-byte aligned value kept alive by the guard.
            black_box(unsafe { (*(p.as_ptr() as *const AtomicU64)).load(Ordering::Relaxed) });
        };
        rows.push(Row {
            name: "bpfkit lookup_ptr",
            threads,
            ops: throughput(threads, &lookup_ptr),
        });
        let lookup_host = |i: u64| {
            black_box(ours.lookup(&key_at(i).to_ne_bytes()).unwrap());
        };
        rows.push(Row {
            name: "bpfkit lookup (host copy)",
            threads,
            ops: throughput(threads, &lookup_host),
        });
        let mutex_lookup = |i: u64| {
            black_box(mutexed.lock().unwrap().get(&key_at(i)).copied());
        };
        rows.push(Row {
            name: "Mutex<HashMap> get",
            threads,
            ops: throughput(threads, &mutex_lookup),
        });
        let rw_lookup = |i: u64| {
            black_box(rwlocked.read().unwrap().get(&key_at(i)).copied());
        };
        rows.push(Row {
            name: "RwLock<HashMap> get",
            threads,
            ops: throughput(threads, &rw_lookup),
        });
        if let Some(k) = &kernel {
            let sys_lookup = |i: u64| {
                black_box(k.lookup(&key_at(i).to_ne_bytes(), 8, 0).unwrap());
            };
            rows.push(Row {
                name: "kernel bpf(2) lookup",
                threads,
                ops: throughput(threads, &sys_lookup),
            });
        }

        let update = |i: u64| {
            ours.update(&key_at(i).to_ne_bytes(), &i.to_ne_bytes(), BPF_ANY, 0)
                .unwrap();
        };
        rows.push(Row {
            name: "bpfkit update",
            threads,
            ops: throughput(threads, &update),
        });
        let mutex_update = |i: u64| {
            mutexed.lock().unwrap().insert(key_at(i), i);
        };
        rows.push(Row {
            name: "Mutex<HashMap> insert",
            threads,
            ops: throughput(threads, &mutex_update),
        });
        let rw_update = |i: u64| {
            rwlocked.write().unwrap().insert(key_at(i), i);
        };
        rows.push(Row {
            name: "RwLock<HashMap> insert",
            threads,
            ops: throughput(threads, &rw_update),
        });
        if let Some(k) = &kernel {
            let sys_update = |i: u64| {
                k.update(&key_at(i).to_ne_bytes(), &i.to_ne_bytes(), 0)
                    .unwrap();
            };
            rows.push(Row {
                name: "kernel bpf(2) update",
                threads,
                ops: throughput(threads, &sys_update),
            });
        }
    }

    println!(
        "{:<28} {:>7} {:>12} {:>12} {:>16}",
        "operation", "threads", "CPU ns/op", "wall Mops/s", "peer/bpfkit CPU"
    );
    for r in &rows {
        let is_lookup = r.name.contains("lookup") || r.name.contains("get");
        let reference = if is_lookup {
            "bpfkit lookup_ptr"
        } else {
            "bpfkit update"
        };
        let ours = rows
            .iter()
            .find(|x| x.name == reference && x.threads == r.threads)
            .map_or(f64::NAN, |x| x.ops.0);
        println!(
            "{:<28} {:>7} {:>12.1} {:>12.2} {:>15.2}x",
            r.name,
            r.threads,
            r.ops.0,
            r.ops.1 / 1e6,
            r.ops.0 / ours
        );
    }
}
