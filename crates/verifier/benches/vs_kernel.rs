//! Verification time against the Linux kernel's verifier, measured side by side in one run.
//!
//! `cargo bench -p bpfkit-verifier --bench vs_kernel` (as root for the kernel column; needs
//! `bpftool` and `clang` for the objects). For every program of the runtime corpus, the XDP
//! example, the verifier's C corpus (accepted ones) and the large programs in `benches/c`,
//! plus two generated programs (a 999,000-instruction straight line and a loop the
//! verifiers walk 240,000 times), it prints the kernel's own `verification time` (the
//! fastest of several loads through `bpftool -d prog loadall`, or `bpf(2)` with log level
//! 4 for the generated ones) next to bpfkit's (the fastest of five batches, averaged within
//! each batch), the instructions each processed, and the ratio. Then the peak memory (max
//! RSS) of verifying the largest programs, each in a fresh child process.

#[path = "../tests/support/kernel.rs"]
#[allow(dead_code)]
mod kernel;

use bpfkit_isa::{AluOp, Insn, JmpCond, Operand, Reg, Width};
use bpfkit_verifier::envs::SocketFilterEnv;
use bpfkit_verifier::object::{map_table, Target};
use bpfkit_verifier::{verify_with, Options, ProgramEnv};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A program to measure.
struct Bench {
    group: &'static str,
    name: String,
    insns: Vec<Insn>,
    env: Box<dyn ProgramEnv + Send + Sync>,
    /// The kernel's (verification time in µs, processed insns), when it loaded it.
    kernel: Option<(f64, u64)>,
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn number_after(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Per-program (verification time µs, processed) from one `bpftool -d prog loadall`.
fn bpftool_times(object: &Path) -> Vec<(String, f64, u64)> {
    let dir = format!("/sys/fs/bpf/bpfkit_bench_{}", std::process::id());
    let Ok(out) = Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(object)
        .arg(&dir)
        .output()
    else {
        return Vec::new();
    };
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Vec::new();
    }
    let log = String::from_utf8_lossy(&out.stderr);
    let mut res = Vec::new();
    let mut current: Option<String> = None;
    let mut time = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("libbpf: prog '") {
            if rest.ends_with("-- BEGIN PROG LOAD LOG --") {
                current = rest.split('\'').next().map(str::to_string);
                time = None;
            }
        } else if let Some(t) = number_after(line, "verification time ") {
            time = Some(t as f64);
        } else if let Some(p) = number_after(line, "processed ") {
            if let (Some(name), Some(t)) = (current.take(), time.take()) {
                res.push((name, t, p));
            }
        }
    }
    res
}

/// The kernel's best time over `reps` loads of every program of `object`.
fn kernel_times(object: &Path, reps: usize) -> Vec<(String, f64, u64)> {
    let mut best: Vec<(String, f64, u64)> = Vec::new();
    for _ in 0..reps {
        for (name, t, p) in bpftool_times(object) {
            match best.iter_mut().find(|b| b.0 == name) {
                Some(b) => b.1 = b.1.min(t),
                None => best.push((name, t, p)),
            }
        }
    }
    best
}

fn compile(src: &Path, out_dir: &Path) -> Option<PathBuf> {
    let out = out_dir.join(src.file_name()?).with_extension("o");
    let ok = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .ok()?
        .success();
    ok.then_some(out)
}

fn c_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "c"));
    files.sort();
    files
}

/// Every program of `object` that bpfkit accepts, with the kernel's times.
fn object_benches(group: &'static str, object: &Path, with_kernel: bool) -> Vec<Bench> {
    let Ok(bytes) = std::fs::read(object) else {
        return Vec::new();
    };
    let Ok(obj) = bpfkit_object::Object::parse(&bytes) else {
        return Vec::new();
    };
    let kernel = if with_kernel {
        kernel_times(object, 5)
    } else {
        Vec::new()
    };
    let maps = map_table(&obj);
    let mut out = Vec::new();
    for p in &obj.programs {
        let Some(target) = Target::for_prog_type(p.prog_type()) else {
            continue;
        };
        let env = target.env(maps.clone());
        if verify_with(&p.insns, env.as_ref(), &Options::default())
            .result
            .is_err()
        {
            continue;
        }
        out.push(Bench {
            group,
            name: p.name.clone(),
            insns: p.insns.clone(),
            env,
            kernel: kernel.iter().find(|k| k.0 == p.name).map(|k| (k.1, k.2)),
        });
    }
    out
}

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

/// `r0 = 0`, then `r0 += 1` until the program has `n` instructions, then `exit`.
fn straight_line(n: usize) -> Vec<Insn> {
    let mut p = vec![mov(Reg::R0, 0)];
    p.extend(std::iter::repeat_n(
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Imm(1),
        },
        n - 2,
    ));
    p.push(Insn::Exit);
    p
}

/// A loop whose counter decides its exit, so every round is walked: 4 insns a round.
fn counted_loop(rounds: i32) -> Vec<Insn> {
    vec![
        mov(Reg::R0, 0),
        mov(Reg::R1, 0),
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R1),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: Reg::R0,
            src: Operand::Imm(0x55),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R1,
            src: Operand::Imm(1),
        },
        Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Lt,
            dst: Reg::R1,
            src: Operand::Imm(rounds),
            off: -4,
        },
        Insn::Exit,
    ]
}

/// Names of the generated programs.
const GENERATED: [&str; 2] = ["straight_line_999k", "counted_loop_240k"];

fn generate(name: &str) -> Vec<Insn> {
    match name {
        "straight_line_999k" => straight_line(999_000),
        "counted_loop_240k" => counted_loop(240_000),
        _ => unreachable!("unknown generated program {name}"),
    }
}

/// The kernel's best time for a generated socket filter (bpf(2), log level 4).
fn kernel_generated(insns: &[Insn], reps: usize) -> Option<(f64, u64)> {
    let mut best: Option<(f64, u64)> = None;
    for _ in 0..reps {
        let (ok, log) = kernel::load_with_log_level(1, insns, &[], 4).ok()?;
        if !ok {
            return None;
        }
        let t = log
            .lines()
            .find_map(|l| number_after(l, "verification time "))? as f64;
        let p = log.lines().find_map(|l| number_after(l, "processed "))?;
        best = Some(match best {
            Some((b, _)) => (b.min(t), p),
            None => (t, p),
        });
    }
    best
}

/// bpfkit's time in µs (fastest of five batches) and processed count.
fn ours(b: &Bench) -> (f64, u64) {
    let opts = Options::default();
    let first = Instant::now();
    let v = verify_with(&b.insns, b.env.as_ref(), &opts);
    let once = first.elapsed().as_secs_f64();
    let processed = v.stats.insns_processed;
    // About 50 ms a batch.
    let per_batch = ((0.05 / once.max(1e-7)) as usize).clamp(1, 5000);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..per_batch {
            std::hint::black_box(verify_with(&b.insns, b.env.as_ref(), &opts));
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / per_batch as f64);
    }
    (best, processed)
}

/// The process's peak resident memory so far (`VmHWM`, KiB).
fn high_water_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| number_after(l, "VmHWM:")))
        .unwrap_or(0)
}

/// Child mode: build one generated program, note the peak memory, verify it, note the
/// peak again; prints both in KiB.
fn child(which: &str) {
    let insns = generate(which);
    let before = high_water_kib();
    let v = verify_with(&insns, &SocketFilterEnv::default(), &Options::default());
    assert!(v.result.is_ok());
    println!("{before} {}", high_water_kib());
}

/// (before, after) peak memory in KiB of verifying a generated program in a fresh process.
fn child_peak(name: &str) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).arg("--child").arg(name).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|w| w.parse().ok());
    Some((it.next()??, it.next()??))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    // BENCH_FILTER=name: only programs whose name contains it (and no kernel column).
    let filter = std::env::var("BENCH_FILTER").ok();
    let with_kernel =
        filter.is_none() && is_root() && Command::new("bpftool").arg("version").output().is_ok();
    if !with_kernel && filter.is_none() {
        eprintln!("note: not root or no bpftool: bpfkit times only");
    }
    let tmp = std::env::temp_dir().join(format!("bpfkit-verifier-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    let mut benches = Vec::new();
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(manifest().join("../runtime/tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    corpus.sort();
    corpus.push(manifest().join("../../examples/xdp/proto_count.o"));
    for o in corpus.iter().filter(|_| filter.is_none()) {
        benches.extend(object_benches("runtime corpus", o, with_kernel));
    }
    for src in c_files(&manifest().join("tests/corpus_c")) {
        if filter.is_some() {
            break;
        }
        if let Some(o) = compile(&src, &tmp) {
            benches.extend(object_benches("verifier C corpus", &o, with_kernel));
        }
    }
    for src in c_files(&manifest().join("benches/c")) {
        if let Some(o) = compile(&src, &tmp) {
            benches.extend(object_benches("large", &o, with_kernel));
        }
    }
    for name in GENERATED {
        let insns = generate(name);
        let kernel = if with_kernel {
            kernel_generated(&insns, 3)
        } else {
            None
        };
        benches.push(Bench {
            group: "generated",
            name: name.to_string(),
            insns,
            env: Box::new(SocketFilterEnv::default()),
            kernel,
        });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(f) = &filter {
        benches.retain(|b| b.name.contains(f.as_str()));
    }

    println!(
        "| group | program | insns | processed (bpfkit / kernel) | kernel µs | bpfkit µs | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let (mut kernel_total, mut ours_total) = (0.0, 0.0);
    for b in &benches {
        let (t, processed) = ours(b);
        let slots: usize = b.insns.iter().map(|i| i.slots()).sum();
        let (k, kp, ratio) = match b.kernel {
            Some((k, kp)) => {
                ratios.push((k / t, b.name.clone()));
                kernel_total += k;
                ours_total += t;
                (format!("{k:.0}"), kp.to_string(), format!("{:.1}x", k / t))
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {slots} | {processed} / {kp} | {k} | {t:.1} | {ratio} |",
            b.group, b.name
        );
    }
    if !ratios.is_empty() {
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        let below: Vec<String> = ratios
            .iter()
            .filter(|r| r.0 < 10.0)
            .map(|r| format!("{} ({:.1}x)", r.1, r.0))
            .collect();
        println!();
        println!(
            "{} programs with a kernel time: slowest ratio {:.1}x ({}), median {:.1}x, total {:.1}x",
            ratios.len(),
            ratios[0].0,
            ratios[0].1,
            ratios[ratios.len() / 2].0,
            kernel_total / ours_total
        );
        println!(
            "below 10x: {}",
            if below.is_empty() {
                "none".to_string()
            } else {
                below.join(", ")
            }
        );
    }
    println!();
    for name in GENERATED {
        if let Some((before, after)) = child_peak(name) {
            println!(
                "peak memory (VmHWM) verifying {name}: {:.1} MiB, of which {:.1} MiB before verifying (the program itself)",
                after as f64 / 1024.0,
                before as f64 / 1024.0
            );
        }
    }
}
