//! Shared helpers for the oracle tests: the libpcap harness, tcpdump, and a
//! deterministic generator of random programs and packets.
#![allow(dead_code)]

use bpfkit_cbpf::{op, Insn};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// splitmix64: small, seedable, good enough to spread test cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// How wild generated programs are.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Percent chance that a field ignores the kernel's rules.
    pub chaos: u64,
    /// Maximum length.
    pub max_len: usize,
}

/// A constant for an instruction: mostly small packet offsets, sometimes
/// anything, sometimes the Linux special offsets.
fn offset(rng: &mut Rng) -> u32 {
    match rng.below(10) {
        0 => rng.next() as u32,
        1 if rng.chance(50) => bpfkit_cbpf::SKF_AD_OFF + 4 * rng.below(16) as u32,
        1 => bpfkit_cbpf::SKF_AD_OFF + rng.below(80) as u32,
        2 => bpfkit_cbpf::SKF_LL_OFF + rng.below(8) as u32,
        _ => rng.below(72) as u32,
    }
}

/// A random program: every opcode of `op::ALL` can appear; with `chaos` 0
/// every rule of `validate` holds except, possibly, scratch reads before
/// writes (the caller filters with `validate` when it needs valid programs).
pub fn random_program(rng: &mut Rng, shape: Shape) -> Vec<Insn> {
    let len = 1 + rng.below(shape.max_len as u64) as usize;
    let mut prog = Vec::with_capacity(len);
    // Store to a few cells first so that later reads are often valid.
    let mut stored = Vec::new();
    for i in 0..len - 1 {
        let remaining = (len - i - 2) as u64; // largest forward offset in range
        let code = if rng.chance(shape.chaos / 4) {
            rng.below(0x100) as u16
        } else {
            rng.pick(&op::ALL)
        };
        let chaos = rng.chance(shape.chaos);
        let mut ins = Insn::stmt(code, 0);
        match code {
            op::RET_K | op::RET_A if !chaos => ins.code = op::LD_IMM,
            op::LD_MEM | op::LDX_MEM if !stored.is_empty() && !chaos => ins.k = rng.pick(&stored),
            op::LD_MEM | op::LDX_MEM | op::ST_MEM | op::STX_MEM => {
                ins.k = if chaos {
                    rng.below(20) as u32
                } else {
                    rng.below(16) as u32
                };
                if matches!(code, op::ST_MEM | op::STX_MEM) {
                    stored.push(ins.k);
                }
            }
            op::JMP_JA => {
                ins.k = if chaos {
                    (rng.below(9) as i32 - 4 + remaining as i32) as u32
                } else {
                    rng.below(remaining + 1) as u32
                }
            }
            c if c & 0x07 == op::JMP => {
                let limit = if chaos { 256 } else { remaining + 1 };
                ins.jt = rng.below(limit) as u8;
                ins.jf = rng.below(limit) as u8;
                ins.k = if rng.chance(50) {
                    rng.below(8) as u32
                } else {
                    rng.next() as u32
                };
            }
            op::ALU_DIV_K | op::ALU_MOD_K => {
                ins.k = if chaos { 0 } else { 1 + rng.below(9) as u32 };
            }
            op::ALU_LSH_K | op::ALU_RSH_K => {
                ins.k = if chaos {
                    32 + rng.below(40) as u32
                } else {
                    rng.below(32) as u32
                };
            }
            op::LD_IMM | op::LDX_IMM => {
                ins.k = if rng.chance(70) {
                    rng.below(40) as u32
                } else {
                    rng.next() as u32
                };
            }
            _ => ins.k = offset(rng),
        }
        if matches!(ins.code, op::LD_W_ABS | op::LD_H_ABS | op::LD_B_ABS)
            && ins.k >= bpfkit_cbpf::SKF_AD_OFF
            && !chaos
            && !bpfkit_cbpf::is_known_ancillary(ins.k - bpfkit_cbpf::SKF_AD_OFF)
        {
            ins.k = 14;
        }
        prog.push(ins);
    }
    let ret = if rng.chance(shape.chaos) {
        Insn::stmt(rng.pick(&op::ALL), rng.below(4) as u32)
    } else if rng.chance(50) {
        Insn::stmt(op::RET_A, 0)
    } else {
        Insn::stmt(op::RET_K, rng.pick(&[0, 1, 96, 262144, u32::MAX]))
    };
    prog.push(ret);
    prog
}

/// A random packet of 0..=80 bytes, with IP-header-like nibbles in places.
pub fn random_packet(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(81) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}

pub fn to_ddd(prog: &[Insn]) -> String {
    bpfkit_cbpf::dump(prog, bpfkit_cbpf::DumpFormat::Decimal)
}

/// The compiled libpcap harness, or the reason it is unavailable.
pub fn harness() -> Result<&'static PathBuf, &'static str> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // Build under a per-process name, then rename into place: the
            // rename is atomic, so concurrent test binaries never see a
            // half-written executable.
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/harness.c");
            let exe = dir.join("libpcap-harness");
            let tmp = dir.join(format!("libpcap-harness-{}", std::process::id()));
            let out = Command::new("cc")
                .arg("-O1")
                .arg("-o")
                .arg(&tmp)
                .arg(src)
                .arg("-lpcap")
                .output()
                .map_err(|e| format!("cannot run cc: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cannot build the libpcap harness (is libpcap-dev installed?): {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::fs::rename(&tmp, &exe).map_err(|e| e.to_string())?;
            Ok(exe)
        })
        .as_ref()
        .map_err(|e| e.as_str())
}

/// Runs the harness on a command script and returns its output.
pub fn run_harness(exe: &PathBuf, script: &str) -> String {
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("harness starts");
    let mut stdin = child.stdin.take().unwrap();
    let script = script.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().expect("harness runs");
    writer.join().unwrap().expect("script written");
    assert!(out.status.success(), "harness failed: {:?}", out.status);
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The `P` command loading `prog` into the harness.
pub fn load_command(prog: &[Insn]) -> String {
    let ddd = to_ddd(prog);
    let (_count, body) = ddd.split_once('\n').unwrap();
    format!("P {}\n{body}", prog.len())
}

/// `tcpdump` with the given arguments, or `None` when it is not installed.
pub fn tcpdump(args: &[&str]) -> Option<Result<String, String>> {
    let out = Command::new("tcpdump").args(args).output().ok()?;
    Some(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}
