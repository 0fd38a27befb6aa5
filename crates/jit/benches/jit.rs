//! JIT benchmarks: against rbpf 0.4.1's JIT, against native code, compile time, and the
//! interpreter/JIT speed ratio. All figures are ratios of times measured in the same run.
//!
//! Run: `cargo bench -p bpfkit-jit --bench jit` (optionally `-- <seconds per measurement>`
//! and a part of a program's name to run only those, without the compile-time table).
//! Needs `clang` for the native comparison (skipped with a message otherwise).
//!
//! Timing (shared with the interpreter's benchmark, `crates/vm/benches/common/timing.rs`):
//! thread CPU time, each engine run repeatedly for a fixed time, best of 5 interleaved
//! rounds (the machine is shared). Every engine must return the same r0.
//! "checked" is the default JIT mode (bounds-checked memory, metered budget); "unchecked"
//! is for verifier-approved programs, which is what rbpf's JIT and native code compare to.

use bpfkit_isa::{encode, Insn};
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "../../vm/benches/common/timing.rs"]
mod timing;

const CHECKED: CompileOptions = CompileOptions {
    checked: true,
    blind_constants: false,
    zero_stack: true,
};
const UNCHECKED: CompileOptions = CompileOptions {
    checked: false,
    blind_constants: false,
    zero_stack: true,
};

struct Bench {
    name: &'static str,
    insns: Vec<Insn>,
    mem: Vec<u8>,
    /// Symbol in progs.c, for the native comparison.
    native: Option<&'static str>,
}

fn asm(text: &str) -> Vec<Insn> {
    bpfkit_asm::assemble(text).expect("benchmark program assembles")
}

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/c")
}

/// A progs.c function as checked-in eBPF bytecode, with a header + payload buffer.
fn c_bench(name: &'static str, file: &str, symbol: &'static str, payload: usize) -> Bench {
    let bytes = std::fs::read(c_dir().join(file)).expect("checked-in bytecode");
    let insns = bpfkit_isa::decode(&bytes)
        .expect("decodes")
        .into_iter()
        .map(|d| d.insn)
        .collect();
    let mut mem = (payload as u64).to_le_bytes().to_vec();
    mem.extend((0..payload).map(|i| (i * 7 + i / 256) as u8));
    Bench {
        name,
        insns,
        mem,
        native: Some(symbol),
    }
}

fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "return 1 (per-run cost)",
            insns: asm("mov %r0, 1\nexit"),
            mem: vec![0; 64],
            native: None,
        },
        Bench {
            name: "alu loop",
            insns: asm("
                mov %r0, 0
                mov %r1, 100000
                mov %r2, 0x1234
            loop:
                add %r0, %r1
                xor %r0, %r2
                mul %r2, 3
                rsh %r2, 1
                and %r0, 0xffffff
                add32 %r2, %r1
                sub %r1, 1
                jne %r1, 0, loop
                exit"),
            mem: vec![],
            native: None,
        },
        Bench {
            name: "memory loop",
            insns: asm("
                mov %r0, 0
                mov %r6, 50000
            loop:
                ldxdw %r2, [%r1+0]
                ldxw %r3, [%r1+8]
                add %r2, %r6
                stxdw [%r10-8], %r2
                stxw [%r10-16], %r3
                ldxdw %r4, [%r10-8]
                ldxw %r5, [%r10-16]
                ldxb %r7, [%r1+20]
                add %r0, %r4
                add %r0, %r5
                add %r0, %r7
                stxdw [%r10-24], %r0
                sub %r6, 1
                jne %r6, 0, loop
                exit"),
            mem: (0..32).collect(),
            native: None,
        },
        Bench {
            name: "call loop",
            insns: asm("
                mov %r6, 50000
                mov %r7, 0
            loop:
                mov %r1, %r6
                call local f
                add %r7, %r0
                sub %r6, 1
                jne %r6, 0, loop
                mov %r0, %r7
                exit
            f:
                mov %r0, %r1
                call local g
                add %r0, 1
                exit
            g:
                and %r0, 7
                exit"),
            mem: vec![],
            native: None,
        },
        c_bench("checksum (C)", "checksum.bin", "checksum", 16384),
        c_bench("FNV-1a hash (C)", "hash.bin", "fnv1a", 16384),
        c_bench("prime sieve (C)", "sieve.bin", "sieve", 16384),
        c_bench("memcpy-like (C)", "memcpy.bin", "copy_words", 16384),
    ]
}

fn run_jit(jit: &JitProgram, mem: &mut [u8]) -> u64 {
    let mut map = MemoryMap::new();
    let len = mem.len() as u64;
    let addr = map.add_slice_mut(mem);
    jit.run(
        [addr, len, 0, 0, 0],
        &mut map,
        &mut NoHelpers,
        &Config::default(),
    )
    .expect("runs")
    .r0
}

/// A closure running `jit` on `mem` again and again with one memory map (as a host
/// running a program per packet keeps its map), like rbpf, which takes the slice.
fn jit_runner<'m>(jit: &'m JitProgram, mem: &'m mut [u8]) -> impl FnMut() -> u64 + 'm {
    let len = mem.len() as u64;
    let mut map = MemoryMap::new();
    let addr = map.add_slice_mut(mem);
    move || {
        jit.run(
            [addr, len, 0, 0, 0],
            &mut map,
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap()
        .r0
    }
}

/// The native build of progs.c: `(label, library handle)`.
struct Native {
    label: &'static str,
    handle: *mut libc::c_void,
}

impl Native {
    fn build(label: &'static str, flags: &[&str]) -> Option<Native> {
        let out = std::env::temp_dir().join(format!(
            "bpfkit-jit-bench-{}-{}.so",
            std::process::id(),
            label.replace(' ', "_")
        ));
        let status = std::process::Command::new("clang")
            .args(flags)
            .args(["-shared", "-fPIC", "-o"])
            .arg(&out)
            .arg(c_dir().join("progs.c"))
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let path = std::ffi::CString::new(out.to_str()?).ok()?;
        // SAFETY: dlopen of a library we just built from progs.c (no constructors).
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
        (!handle.is_null()).then_some(Native { label, handle })
    }

    fn function(&self, symbol: &str) -> extern "C" fn(*mut u8) -> u64 {
        let name = std::ffi::CString::new(symbol).unwrap();
        // SAFETY: looks up a symbol of the library opened above.
        let f = unsafe { libc::dlsym(self.handle, name.as_ptr()) };
        assert!(!f.is_null(), "{symbol} not in the native build");
        // SAFETY: progs.c defines every benchmark function as `u64 f(u8 *mem)`.
        unsafe { std::mem::transmute::<*mut libc::c_void, extern "C" fn(*mut u8) -> u64>(f) }
    }
}

fn main() {
    let (secs, filter) = timing::args(1.0);
    let wall = Instant::now();
    let mut benches = benches();
    benches.retain(|b| filter.as_ref().is_none_or(|f| b.name.contains(f.as_str())));

    println!("### Run time (µs per run; ratios: how many times faster bpfkit's JIT is)\n");
    timing::header(&[
        "program",
        "insns/run",
        "interpreter",
        "rbpf JIT",
        "JIT checked",
        "JIT unchecked",
        "rbpf / unchecked",
        "rbpf / checked",
        "interpreter / checked",
    ]);
    for b in &benches {
        let prog = Program::load(&b.insns).expect("loads");
        let checked = JitProgram::compile(&prog, &CHECKED).expect("compiles");
        let unchecked = JitProgram::compile(&prog, &UNCHECKED).expect("compiles");
        let mut mem = b.mem.clone();
        let exit = {
            let mut map = MemoryMap::new();
            let len = mem.len() as u64;
            let addr = map.add_slice_mut(&mut mem);
            prog.run(
                [addr, len, 0, 0, 0],
                &mut map,
                &mut NoHelpers,
                &Config::default(),
            )
            .expect("interpreter runs")
        };
        let mut m1 = b.mem.clone();
        let mut m2 = b.mem.clone();
        let mut m3 = b.mem.clone();
        assert_eq!(
            run_jit(&checked, &mut m1),
            exit.r0,
            "{}: checked JIT",
            b.name
        );
        assert_eq!(
            run_jit(&unchecked, &mut m2),
            exit.r0,
            "{}: unchecked JIT",
            b.name
        );

        // rbpf's JIT: r1 = the memory; it may refuse or mis-run some programs.
        let bytes = encode(&b.insns);
        let peer = std::panic::catch_unwind(|| {
            let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).ok()?;
            vm.jit_compile().ok()?;
            Some(vm)
        })
        .ok()
        .flatten();
        let peer = peer.filter(|vm| {
            let mut m = b.mem.clone();
            // SAFETY: the program only accesses its memory argument (checked by the
            // interpreter run above, which agreed on r0).
            let r0 = unsafe { vm.execute_program_jit(&mut m) };
            matches!(r0, Ok(v) if v == exit.r0)
        });

        let mut interp = {
            let len = mem.len() as u64;
            let mut map = MemoryMap::new();
            let addr = map.add_slice_mut(&mut mem);
            move || {
                prog.run(
                    [addr, len, 0, 0, 0],
                    &mut map,
                    &mut NoHelpers,
                    &Config::default(),
                )
                .unwrap()
                .r0
            }
        };
        let mut jc = jit_runner(&checked, &mut m1);
        let mut ju = jit_runner(&unchecked, &mut m2);
        let t = if let Some(vm) = &peer {
            // SAFETY: as above.
            let mut rb = || unsafe { vm.execute_program_jit(&mut m3).unwrap() };
            timing::time_all(secs, &mut [&mut interp, &mut rb, &mut jc, &mut ju])
        } else {
            let mut t = timing::time_all(secs, &mut [&mut interp, &mut jc, &mut ju]);
            t.insert(1, f64::NAN);
            t
        };
        let us = |s: f64| {
            if s.is_nan() {
                "n/a".to_string()
            } else if s < 1e-5 {
                format!("{:.3}", s * 1e6)
            } else {
                format!("{:.1}", s * 1e6)
            }
        };
        let ratio = |a: f64, b: f64| {
            if a.is_nan() {
                "n/a".to_string()
            } else {
                format!("{:.2}x", a / b)
            }
        };
        timing::row(&[
            b.name.to_string(),
            exit.executed.to_string(),
            us(t[0]),
            us(t[1]),
            us(t[2]),
            us(t[3]),
            ratio(t[1], t[3]),
            ratio(t[1], t[2]),
            ratio(t[0], t[2]),
        ]);
    }

    println!("\n### Against native code (same C source; ratio = JIT time / native time)\n");
    let natives: Vec<Native> = [
        Native::build("clang -O2", &["-O2"]),
        Native::build(
            "clang -O2 scalar",
            &["-O2", "-fno-vectorize", "-fno-slp-vectorize"],
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if natives.is_empty() {
        println!("skipped: clang could not build the native library");
    } else {
        timing::header(&[
            "program",
            "native -O2 (µs)",
            "native -O2 scalar (µs)",
            "JIT unchecked (µs)",
            "JIT checked (µs)",
            "unchecked / -O2",
            "unchecked / scalar",
            "checked / -O2",
        ]);
        for b in benches.iter().filter(|b| b.native.is_some()) {
            let symbol = b.native.unwrap();
            let prog = Program::load(&b.insns).unwrap();
            let checked = JitProgram::compile(&prog, &CHECKED).unwrap();
            let unchecked = JitProgram::compile(&prog, &UNCHECKED).unwrap();
            let mut m0 = b.mem.clone();
            let want = run_jit(&checked, &mut m0);
            let fs: Vec<_> = natives.iter().map(|n| n.function(symbol)).collect();
            let mut bufs: Vec<Vec<u8>> = (0..4).map(|_| b.mem.clone()).collect();
            for (f, n) in fs.iter().zip(&natives) {
                assert_eq!(f(bufs[0].as_mut_ptr()), want, "{}: {}", b.name, n.label);
            }
            let [b0, b1, b2, b3] = &mut bufs[..] else {
                unreachable!()
            };
            let (f0, f1) = (fs[0], *fs.last().unwrap());
            let mut n0 = || f0(b0.as_mut_ptr());
            let mut n1 = || f1(b1.as_mut_ptr());
            let mut ju = jit_runner(&unchecked, b2);
            let mut jc = jit_runner(&checked, b3);
            let t = timing::time_all(secs, &mut [&mut n0, &mut n1, &mut ju, &mut jc]);
            timing::row(&[
                b.name.to_string(),
                format!("{:.1}", t[0] * 1e6),
                format!("{:.1}", t[1] * 1e6),
                format!("{:.1}", t[2] * 1e6),
                format!("{:.1}", t[3] * 1e6),
                format!("{:.2}", t[2] / t[0]),
                format!("{:.2}", t[2] / t[1]),
                format!("{:.2}", t[3] / t[0]),
            ]);
        }
    }

    if filter.is_some() {
        return;
    }
    println!("\n### Compile time (µs per 1,000 instructions)\n");
    timing::header(&[
        "compiler",
        "program",
        "µs / 1,000 insns",
        "code bytes / insn",
    ]);
    for n in [1_000, 10_000] {
        let big = synthetic(n);
        let prog = Program::load(&big).expect("synthetic program loads");
        let bytes = encode(&big);
        let blinded = CompileOptions {
            checked: true,
            blind_constants: true,
            zero_stack: true,
        };
        let mut ours: Vec<(&str, CompileOptions)> = vec![
            ("bpfkit unchecked", UNCHECKED),
            ("bpfkit checked", CHECKED),
            ("bpfkit checked + blinding", blinded),
        ];
        for (name, options) in ours.iter_mut() {
            let mut f = || {
                JitProgram::compile(&prog, options)
                    .unwrap()
                    .machine_code()
                    .len() as u64
            };
            let size = f();
            let t = timing::time_all(secs, &mut [&mut f])[0];
            println!(
                "| {name} | {n} insns | {:.0} | {:.1} |",
                t * 1e6 / (n as f64 / 1000.0),
                size as f64 / n as f64
            );
        }
        // rbpf's JIT writes into a fixed-size buffer and panics on larger programs.
        let mut rbpf_compile = || {
            let mut vm = rbpf::EbpfVmRaw::new(Some(&bytes)).unwrap();
            vm.jit_compile().unwrap();
            1
        };
        let fits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut rbpf_compile));
        if fits.is_ok() {
            let t = timing::time_all(secs, &mut [&mut rbpf_compile])[0];
            println!(
                "| rbpf 0.4.1 | {n} insns | {:.0} | n/a |",
                t * 1e6 / (n as f64 / 1000.0)
            );
        } else {
            println!("| rbpf 0.4.1 | {n} insns | fails (panics) | n/a |");
        }
    }
    println!(
        "\n(CPU-time figures; wall time of the whole run: {:.1} s)",
        wall.elapsed().as_secs_f64()
    );
}

/// A deterministic straight-line-and-branches program of `n` instructions: ALU with
/// registers and immediates, stack loads and stores, short forward jumps.
fn synthetic(n: usize) -> Vec<Insn> {
    let mut text = String::from("mov %r0, 0\nmov %r2, 1\nmov %r3, 2\n");
    let mut i = 3;
    let mut label = 0;
    while i < n - 1 {
        let k = i % 7;
        let line = match k {
            0 => format!("add %r0, {}\n", i as i32 * 3),
            1 => "xor %r2, %r0\n".to_string(),
            2 => format!("stxdw [%r10-{}], %r2\n", 8 + (i % 60) * 8),
            3 => format!("ldxdw %r3, [%r10-{}]\n", 8 + (i % 60) * 8),
            4 => "mul %r3, 5\n".to_string(),
            5 => {
                label += 1;
                format!("jgt %r0, %r3, l{label}\nadd32 %r0, 7\nl{label}:\n")
            }
            _ => format!("lsh %r2, {}\n", i % 13),
        };
        i += if k == 5 { 2 } else { 1 };
        text.push_str(&line);
    }
    text.push_str("exit\n");
    asm(&text)
}
