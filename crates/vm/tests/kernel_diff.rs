//! Differential test against the Linux kernel: random straight-line ALU programs (all ALU
//! operations of RFC 9669 incl. v4, 32 and 64 bits, with forward conditional jumps) are run
//! by the kernel (socket filter, `BPF_PROG_TEST_RUN`) and by the interpreter; r0 must agree.
//!
//! The kernel returns only 32 bits, so each program is loaded twice: once returning r0 and
//! once returning r0 >> 32. Needs root and the bpf(2) syscall; skips with a message otherwise.

use bpfkit_isa::{encode, AluOp, Endian, Insn, JmpCond, LdImm64Kind, Operand, Reg, Width};
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use std::io::Write;

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// Values around the edges of signed and unsigned ranges, or anything.
    fn interesting(&mut self) -> u64 {
        let edges = [
            0,
            1,
            u64::MAX,
            i64::MIN as u64,
            i64::MAX as u64,
            0x8000_0000,
            0x7fff_ffff,
            0xffff_ffff,
            0xffff_ffff_8000_0000,
            0x80,
            0xff,
            0x8000,
            0xffff,
        ];
        match self.below(3) {
            0 => self.pick(&edges),
            1 => self.below(256),
            _ => self.next(),
        }
    }
}

fn reg(r: &mut Rng) -> Reg {
    Reg::new(r.below(10) as u8).expect("0..=9")
}

/// One random ALU or byte-order instruction the verifier accepts.
fn random_alu(r: &mut Rng) -> Insn {
    use AluOp::*;
    let dst = reg(r);
    if r.below(10) == 0 {
        let kind = r.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]);
        return Insn::End {
            kind,
            bits: r.pick(&[16, 32, 64]),
            dst,
        };
    }
    let width = r.pick(&[Width::W32, Width::W64]);
    let bits: i32 = if width == Width::W32 { 32 } else { 64 };
    let op = r.pick(&[
        Add,
        Sub,
        Mul,
        Div,
        SDiv,
        Mod,
        SMod,
        Or,
        And,
        Lsh,
        Rsh,
        Arsh,
        Neg,
        Xor,
        Mov,
        MovSx(8),
    ]);
    let src = if op == MovSx(8) || r.below(2) == 0 {
        Operand::Reg(reg(r))
    } else {
        let mut imm = r.interesting() as i32;
        if matches!(op, Lsh | Rsh | Arsh) {
            imm = imm.rem_euclid(bits); // out-of-range immediate shifts are rejected
        }
        if matches!(op, Div | SDiv | Mod | SMod) && imm == 0 {
            imm = 3; // so are divisions by an immediate zero
        }
        Operand::Imm(imm)
    };
    let op = match op {
        MovSx(_) if width == Width::W32 => MovSx(r.pick(&[8, 16])),
        MovSx(_) => MovSx(r.pick(&[8, 16, 32])),
        Neg => {
            return Insn::Alu {
                width,
                op: Neg,
                dst,
                src: Operand::Imm(0),
            }
        }
        o => o,
    };
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

/// Initialise r0..r9, run `len` random instructions with some forward jumps, fold all
/// registers into r0, and finally shift r0 right by `shift`.
fn random_program(r: &mut Rng, len: usize) -> Vec<Insn> {
    let mut prog: Vec<Insn> = (0..10)
        .map(|n| Insn::LdImm64 {
            dst: Reg::new(n).unwrap(),
            kind: LdImm64Kind::Imm,
            imm: r.interesting(),
        })
        .collect();
    let mut i = 0;
    while i < len {
        if r.below(6) == 0 && i + 3 < len {
            let skip = 1 + r.below(3) as i16;
            prog.push(Insn::Jmp {
                width: r.pick(&[Width::W32, Width::W64]),
                cond: r.pick(&[
                    JmpCond::Eq,
                    JmpCond::Ne,
                    JmpCond::Gt,
                    JmpCond::Ge,
                    JmpCond::Lt,
                    JmpCond::Le,
                    JmpCond::Set,
                    JmpCond::Sgt,
                    JmpCond::Sge,
                    JmpCond::Slt,
                    JmpCond::Sle,
                ]),
                dst: reg(r),
                src: if r.below(2) == 0 {
                    Operand::Reg(reg(r))
                } else {
                    Operand::Imm(r.interesting() as i32)
                },
                off: skip,
            });
            for _ in 0..skip {
                prog.push(random_alu(r));
            }
            i += skip as usize;
        } else {
            prog.push(random_alu(r));
            i += 1;
        }
    }
    for n in 1..10 {
        prog.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mul,
            dst: Reg::R0,
            src: Operand::Imm(0x0100_0193),
        });
        prog.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: Reg::R0,
            src: Operand::Reg(Reg::new(n).unwrap()),
        });
    }
    prog
}

fn with_exit(prog: &[Insn], shift: i32) -> Vec<Insn> {
    let mut p = prog.to_vec();
    if shift != 0 {
        p.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Rsh,
            dst: Reg::R0,
            src: Operand::Imm(shift),
        });
    }
    p.push(Insn::Exit);
    p
}

/// Minimal bpf(2) access: load a socket filter, test-run it once, close it.
mod kernel {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

    fn put_u32(buf: &mut [u8], off: usize, v: u32) {
        buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn put_u64(buf: &mut [u8], off: usize, v: u64) {
        buf[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> Result<i64, String> {
        // SAFETY: `attr` is a writable 128-byte union image that outlives the call; every
        // pointer stored in it points at a live buffer of the size it declares.
        let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
        if rc < 0 {
            Err(std::io::Error::last_os_error().to_string())
        } else {
            Ok(rc)
        }
    }

    /// Loads `code` and returns its 32-bit result on a 64-byte zero packet.
    pub fn run(code: &[u8]) -> Result<u32, String> {
        let license = b"GPL\0";
        let mut log = vec![0u8; 1 << 16];
        let mut attr = [0u8; 128];
        put_u32(&mut attr, 0, BPF_PROG_TYPE_SOCKET_FILTER);
        put_u32(&mut attr, 4, (code.len() / 8) as u32);
        put_u64(&mut attr, 8, code.as_ptr() as u64);
        put_u64(&mut attr, 16, license.as_ptr() as u64);
        put_u32(&mut attr, 24, 1); // log_level
        put_u32(&mut attr, 28, log.len() as u32);
        put_u64(&mut attr, 32, log.as_mut_ptr() as u64);
        let fd = bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            format!("load: {e}\n{}", String::from_utf8_lossy(&log[..end]))
        })?;
        let packet = [0u8; 64];
        let mut out = [0u8; 128];
        let mut t = [0u8; 128];
        put_u32(&mut t, 0, fd as u32);
        put_u32(&mut t, 8, packet.len() as u32);
        put_u32(&mut t, 12, out.len() as u32);
        put_u64(&mut t, 16, packet.as_ptr() as u64);
        put_u64(&mut t, 24, out.as_mut_ptr() as u64);
        put_u32(&mut t, 32, 1); // repeat
        let ran = bpf(BPF_PROG_TEST_RUN, &mut t);
        // SAFETY: `fd` is the descriptor the kernel just returned and is closed once.
        unsafe { libc::close(fd as i32) };
        ran.map_err(|e| format!("test run: {e}"))?;
        Ok(u32::from_ne_bytes([t[4], t[5], t[6], t[7]]))
    }

    /// Whether bpf(2) works here (root, syscall available).
    pub fn available() -> Result<(), String> {
        let exit_0 = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        run(&exit_0).map(|_| ())
    }
}

fn interpret(prog: &[Insn]) -> u64 {
    let p = Program::load(prog).expect("the interpreter loads what the kernel loads");
    let mut map = MemoryMap::new();
    p.run([0; 5], &mut map, &mut NoHelpers, &Config::default())
        .expect("runs")
        .r0
}

#[test]
fn random_alu_programs_agree_with_the_kernel() {
    if let Err(e) = kernel::available() {
        eprintln!("skipping: bpf(2) unavailable ({e})");
        return;
    }
    const PROGRAMS: u64 = 300;
    let mut compared = 0;
    for seed in 1..=PROGRAMS {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let body = random_program(&mut rng, 40);
        let ours = interpret(&with_exit(&body, 0));
        let mut theirs = 0u64;
        for shift in [0, 32] {
            let prog = with_exit(&body, shift);
            match kernel::run(&encode(&prog)) {
                Ok(v) => theirs |= (v as u64) << shift,
                Err(e) => panic!("seed {seed}: kernel rejected the program: {e}\n{prog:#?}"),
            }
        }
        assert_eq!(
            ours, theirs,
            "seed {seed}: interpreter r0 {ours:#x}, kernel {theirs:#x}\n{body:#?}"
        );
        compared += 1;
    }
    // Written to stderr directly so the count shows even when the harness captures output.
    let _ = writeln!(
        std::io::stderr(),
        "kernel differential: {compared} random programs agree"
    );
    assert_eq!(compared, PROGRAMS);
}
