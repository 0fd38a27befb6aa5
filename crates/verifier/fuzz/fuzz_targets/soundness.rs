//! Verifier soundness: a program the verifier accepts for the raw-memory convention
//! (r1 = `size` writable bytes, r2 = `size`) must run in bpfkit-vm without a fault.
//!
//! Input layout: byte 0 = mode, byte 1 = memory size (mod 65), then either a recipe for the
//! program generator (mode bit 0 clear) or raw bytecode (mode bit 0 set). The generator
//! builds the shapes the verifier reasons about — pointer arithmetic with data-dependent
//! offsets, bounds checks, stack spills of pointers and scalars, 32-bit ALU, atomics,
//! byte swaps, sign extension, bounded loops and bpf-to-bpf calls — so that a good share of
//! the programs is accepted; raw bytecode mostly exercises the rejection paths.
//!
//! Properties: the verifier never panics; an accepted program loads into the interpreter and
//! every run (memory from the input, all zeros, all ones) ends without a memory fault, a
//! call-depth error or running out of a budget well above the verifier's own limit.
#![no_main]

use bpfkit_isa::{
    decode, AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg,
    Width,
};
use bpfkit_verifier::{
    envs::RawMemoryEnv, helpers, verify_with, CtxField, Entry, HelperProto, Options, ProgramEnv,
};
use bpfkit_vm::{Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program};
use libfuzzer_sys::fuzz_target;

/// Reads the input as a stream of choices; zeros once it runs out.
struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn below(&mut self, n: u32) -> u32 {
        let v = u16::from_le_bytes([self.byte(), self.byte()]) as u32;
        v % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u32) as usize]
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn imm(&mut self) -> i32 {
        match self.below(5) {
            0 => self.below(16) as i32,
            1 => self.below(80) as i32 - 8,
            2 => self.pick(&[0xff, 0x7, 0xf, 0x3f, -1, i32::MIN, i32::MAX, 31, 32, 63, 64]),
            3 => -(self.below(520) as i32),
            _ => i32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()]),
        }
    }
}

const SCALARS: [Reg; 6] = [Reg::R0, Reg::R3, Reg::R5, Reg::R6, Reg::R7, Reg::R8];
const BASES: [Reg; 4] = [Reg::R1, Reg::R4, Reg::R9, Reg::R10];
const OPS: [AluOp; 16] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Neg,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::Arsh,
    AluOp::MovSx(8),
];

fn mov(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

/// Which kind of function is being generated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The program's own code; `callbacks` allows `bpf_loop` calls.
    Main { callbacks: bool },
    /// The target of local calls.
    Callee,
    /// The `bpf_loop` callback: r1 = the round, r2 = the context (a pointer into the
    /// caller's stack, or 0), returns 0 or 1.
    Callback,
}

/// Placeholder offsets, fixed up once the functions are laid out.
const TO_CALLEE: i32 = i32::MIN;
const TO_CALLBACK: u64 = u64::MAX;

/// One generated instruction (or a short idiom); forward jumps get their offset later
/// (`Some(distance in instructions)`).
fn body_insn(c: &mut Choices, out: &mut Vec<(Insn, Option<u16>)>, role: Role) {
    let in_callee = !matches!(role, Role::Main { .. });
    let w = if c.below(3) == 0 {
        Width::W32
    } else {
        Width::W64
    };
    let scalar_src = |c: &mut Choices| {
        if c.below(2) == 0 {
            Operand::Imm(c.imm())
        } else {
            Operand::Reg(c.pick(&SCALARS))
        }
    };
    let insn = match c.below(16) {
        0 | 1 => {
            let mut op = c.pick(&OPS);
            let src = scalar_src(c);
            if let AluOp::MovSx(_) = op {
                let bits = if w == Width::W64 {
                    c.pick(&[8, 16, 32])
                } else {
                    c.pick(&[8, 16])
                };
                op = AluOp::MovSx(bits);
                if let Operand::Imm(_) = src {
                    op = AluOp::Mov;
                }
            }
            let src = if op == AluOp::Neg {
                Operand::Imm(0)
            } else {
                src
            };
            alu(w, op, c.pick(&SCALARS), src)
        }
        2 | 3 => Insn::Ldx {
            size: c.pick(&MemSize::ALL),
            signed: c.below(6) == 0,
            dst: c.pick(&SCALARS),
            src: c.pick(&BASES),
            off: c.below(80) as i16 - 72,
        },
        4 => Insn::Stx {
            size: c.pick(&MemSize::ALL),
            dst: c.pick(&BASES),
            src: c.pick(&[
                Reg::R0,
                Reg::R3,
                Reg::R5,
                Reg::R6,
                Reg::R4,
                Reg::R9,
                Reg::R1,
            ]),
            off: c.below(80) as i16 - 72,
        },
        5 => Insn::St {
            size: c.pick(&MemSize::ALL),
            dst: c.pick(&BASES),
            off: c.below(80) as i16 - 72,
            imm: c.imm(),
        },
        6 => mov(
            c.pick(&[Reg::R4, Reg::R9]),
            Operand::Reg(c.pick(&[Reg::R1, Reg::R10, Reg::R4, Reg::R9])),
        ),
        7 => alu(
            Width::W64,
            c.pick(&[AluOp::Add, AluOp::Add, AluOp::Sub]),
            c.pick(&[Reg::R4, Reg::R9]),
            scalar_src(c),
        ),
        8 => {
            // Bounds check idiom: if s > K goto skip; r4 = r1; r4 += s; load or store at r4.
            let s = c.pick(&SCALARS);
            let k = c.below(72) as i32 - 4;
            out.push((
                Insn::Jmp {
                    width: w,
                    cond: c.pick(&[JmpCond::Gt, JmpCond::Ge, JmpCond::Sgt, JmpCond::Gt]),
                    dst: s,
                    src: Operand::Imm(k),
                    off: 0,
                },
                Some(3),
            ));
            out.push((mov(Reg::R4, Operand::Reg(Reg::R1)), None));
            out.push((alu(Width::W64, AluOp::Add, Reg::R4, Operand::Reg(s)), None));
            if c.below(2) == 0 {
                Insn::Ldx {
                    size: c.pick(&MemSize::ALL),
                    signed: false,
                    dst: c.pick(&SCALARS),
                    src: Reg::R4,
                    off: c.below(8) as i16,
                }
            } else {
                Insn::Stx {
                    size: c.pick(&MemSize::ALL),
                    dst: Reg::R4,
                    src: c.pick(&SCALARS),
                    off: c.below(8) as i16,
                }
            }
        }
        9 => Insn::Atomic {
            size: c.pick(&[MemSize::W, MemSize::DW]),
            op: c.pick(&[
                AtomicOp::Add { fetch: false },
                AtomicOp::Add { fetch: true },
                AtomicOp::Or { fetch: true },
                AtomicOp::And { fetch: false },
                AtomicOp::Xor { fetch: true },
                AtomicOp::Xchg,
                AtomicOp::Cmpxchg,
            ]),
            dst: c.pick(&BASES),
            src: c.pick(&SCALARS),
            off: c.below(80) as i16 - 72,
        },
        10 => Insn::End {
            kind: c.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]),
            bits: c.pick(&[16, 32, 64]),
            dst: c.pick(&SCALARS),
        },
        11 => Insn::LdImm64 {
            dst: c.pick(&SCALARS),
            kind: LdImm64Kind::Imm,
            imm: (c.imm() as i64 as u64) ^ ((c.byte() as u64) << 40),
        },
        12 => {
            // Spill a pointer or scalar and fill it back (possibly into another register).
            let off = -8 * (c.below(8) as i16 + 1);
            out.push((
                Insn::Stx {
                    size: MemSize::DW,
                    dst: Reg::R10,
                    src: c.pick(&[Reg::R4, Reg::R9, Reg::R1, Reg::R0, Reg::R6]),
                    off,
                },
                None,
            ));
            Insn::Ldx {
                size: MemSize::DW,
                signed: false,
                dst: c.pick(&[Reg::R4, Reg::R9, Reg::R3, Reg::R7]),
                src: Reg::R10,
                off,
            }
        }
        14 if role == (Role::Main { callbacks: true }) => {
            // bpf_loop(rounds, callback, context, 0); r1 survives in r9.
            out.push((mov(Reg::R9, Operand::Reg(Reg::R1)), None));
            let rounds = if c.below(3) == 0 {
                Operand::Reg(c.pick(&SCALARS))
            } else {
                Operand::Imm(c.below(12) as i32)
            };
            out.push((mov(Reg::R1, rounds), None));
            out.push((
                Insn::LdImm64 {
                    dst: Reg::R2,
                    kind: LdImm64Kind::Func,
                    imm: TO_CALLBACK,
                },
                None,
            ));
            if c.below(4) == 0 {
                out.push((mov(Reg::R3, Operand::Imm(0)), None));
            } else {
                out.push((mov(Reg::R3, Operand::Reg(Reg::R10)), None));
                let off = -8 * (c.below(8) as i32 + 1);
                out.push((
                    alu(Width::W64, AluOp::Add, Reg::R3, Operand::Imm(off)),
                    None,
                ));
            }
            out.push((mov(Reg::R4, Operand::Imm(0)), None));
            out.push((Insn::Call(CallTarget::Helper(181)), None));
            out.push((mov(Reg::R1, Operand::Reg(Reg::R9)), None));
            out.push((mov(Reg::R3, Operand::Imm(c.imm())), None));
            out.push((mov(Reg::R5, Operand::Reg(Reg::R0)), None));
            mov(Reg::R4, Operand::Reg(Reg::R1))
        }
        13 if !in_callee => {
            // Fixed up to the callee later; r1-r5 are clobbered by the call, refill some.
            out.push((Insn::Call(CallTarget::Local(TO_CALLEE)), None));
            out.push((mov(Reg::R3, Operand::Imm(c.imm())), None));
            out.push((mov(Reg::R5, Operand::Imm(c.imm())), None));
            mov(Reg::R4, Operand::Reg(Reg::R10))
        }
        _ => {
            let src = if c.below(3) == 0 {
                Operand::Reg(c.pick(&[Reg::R1, Reg::R4, Reg::R9, Reg::R3, Reg::R5]))
            } else {
                scalar_src(c)
            };
            out.push((
                Insn::Jmp {
                    width: w,
                    cond: c.pick(&JmpCond::ALL),
                    dst: c.pick(&[Reg::R0, Reg::R3, Reg::R5, Reg::R6, Reg::R4, Reg::R9]),
                    src,
                    off: 0,
                },
                Some(1 + c.below(6) as u16),
            ));
            return;
        }
    };
    out.push((insn, None));
}

/// Resolves forward jumps (never past `limit`, never onto `avoid`) and appends the exit.
fn finish(body: Vec<(Insn, Option<u16>)>, avoid: Option<usize>) -> Vec<Insn> {
    let len = body.len();
    let mut out: Vec<Insn> = body
        .iter()
        .enumerate()
        .map(|(i, (insn, skip))| match (*insn, skip) {
            (
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    ..
                },
                Some(k),
            ) => {
                let mut off = (*k as usize).min(len - i - 1);
                if avoid.is_some_and(|a| i + 1 + off == a) {
                    off -= 1;
                }
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off: off as i16,
                }
            }
            (other, _) => other,
        })
        .collect();
    out.push(Insn::Exit);
    out
}

/// A generated function: prologue, body, maybe a bounded loop around its tail.
fn function(c: &mut Choices, role: Role) -> Vec<Insn> {
    let in_callee = !matches!(role, Role::Main { .. });
    let mut body: Vec<(Insn, Option<u16>)> = Vec::new();
    if role == Role::Callback {
        // The context pointer goes where the body looks for pointers.
        body.push((mov(Reg::R4, Operand::Reg(Reg::R2)), None));
        for r in [Reg::R0, Reg::R3, Reg::R5, Reg::R6, Reg::R7, Reg::R8] {
            body.push((mov(r, Operand::Imm(c.imm())), None));
        }
        body.push((mov(Reg::R9, Operand::Reg(Reg::R10)), None));
    } else if in_callee {
        for r in [Reg::R0, Reg::R6, Reg::R7, Reg::R8] {
            body.push((mov(r, Operand::Imm(c.imm())), None));
        }
        body.push((mov(Reg::R9, Operand::Reg(Reg::R10)), None));
    } else {
        for r in [Reg::R0, Reg::R3, Reg::R5, Reg::R6, Reg::R7, Reg::R8] {
            body.push((mov(r, Operand::Imm(c.imm())), None));
        }
        body.push((mov(Reg::R4, Operand::Reg(Reg::R1)), None));
        body.push((mov(Reg::R9, Operand::Reg(Reg::R10)), None));
    }
    let n = 2 + c.below(if in_callee { 8 } else { 28 });
    for _ in 0..n {
        if c.done() {
            break;
        }
        body_insn(c, &mut body, role);
    }
    let mut back = None;
    if c.below(3) == 0 && body.len() > 4 {
        let start = 2 + c.below((body.len() - 2) as u32) as usize;
        body.push((alu(Width::W64, AluOp::Add, Reg::R8, Operand::Imm(1)), None));
        let at = body.len();
        let off = start as i64 - (at as i64 + 1);
        body.push((
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Lt,
                dst: Reg::R8,
                src: Operand::Imm(1 + c.below(5) as i32),
                off: off as i16,
            },
            None,
        ));
        back = Some(at);
    }
    if role == Role::Callback {
        body.push((alu(Width::W64, AluOp::And, Reg::R0, Operand::Imm(1)), None));
    }
    finish(body, back)
}

fn slots(p: &[Insn]) -> usize {
    p.iter().map(|i| i.slots()).sum()
}

fn generate(c: &mut Choices, callbacks: bool) -> Vec<Insn> {
    let mut prog = function(c, Role::Main { callbacks });
    let calls = prog.contains(&Insn::Call(CallTarget::Local(TO_CALLEE)));
    let loops = prog.iter().any(|i| {
        matches!(
            i,
            Insn::LdImm64 {
                imm: TO_CALLBACK,
                ..
            }
        )
    });
    let callee_start = slots(&prog);
    if calls {
        prog.extend(function(c, Role::Callee));
    }
    let callback_start = slots(&prog);
    if loops {
        prog.extend(function(c, Role::Callback));
    }
    let mut pc = 0;
    for insn in &mut prog {
        match insn {
            Insn::Call(CallTarget::Local(off)) if *off == TO_CALLEE => {
                *off = (callee_start as i64 - pc as i64 - 1) as i32;
            }
            Insn::LdImm64 { imm, .. } if *imm == TO_CALLBACK => {
                *imm = (callback_start as i64 - pc as i64 - 1) as i32 as u32 as u64;
            }
            _ => {}
        }
        pc += insn.slots();
    }
    prog
}

/// The raw-memory convention plus `bpf_loop` (the base helper prototype).
struct LoopEnv {
    size: u32,
}

impl ProgramEnv for LoopEnv {
    fn name(&self) -> &str {
        "raw"
    }
    fn entry(&self) -> Entry {
        Entry::Memory { size: self.size }
    }
    fn ctx_access(&self, _: i64, _: u32, _: bool) -> Result<CtxField, String> {
        Err(String::new())
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        (id == 181)
            .then(|| helpers::find(&[helpers::BASE], id))
            .flatten()
    }
}

/// `bpf_loop` as the kernel runs it: the callback gets (round, context) and a return of 1
/// stops; rounds beyond 64 are skipped to keep inputs fast (any count is a behaviour the
/// verifier must allow). A non-zero flags argument fails, as in the kernel.
struct LoopHelper;

impl Helpers for LoopHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        if id != 181 {
            return Err(HelperError::Unknown);
        }
        if a[3] != 0 {
            return Ok(HelperReturn::Value((-22i64) as u64));
        }
        let rounds = (a[0] as u32).min(64) as u64;
        let mut done = 0;
        while done < rounds {
            let r = ctx.call_function(self, a[1], [done, a[2], 0, 0, 0])?;
            done += 1;
            if r == 1 {
                break;
            }
        }
        Ok(HelperReturn::Value(done))
    }

    fn is_known(&self, id: i32) -> bool {
        id == 181
    }
}

fn listing(prog: &[Insn]) -> String {
    let mut opts = bpfkit_asm::DisasmOptions::new(bpfkit_asm::Syntax::Llvm);
    opts.show_pc = true;
    bpfkit_asm::disassemble(&decode(&bpfkit_isa::encode(prog)).unwrap(), &opts)
}

fn run_one(prog: &[Insn], vm: &Program, mut data: Vec<u8>) {
    let size = data.len() as u64;
    let mut mem = MemoryMap::new();
    let addr = mem.add_slice_mut(&mut data);
    let config = Config {
        budget: 50_000_000,
        ..Config::default()
    };
    if let Err(e) = vm.run([addr, size, 0, 0, 0], &mut mem, &mut LoopHelper, &config) {
        panic!(
            "accepted program failed at run time ({size} bytes): {e}\n{}",
            listing(prog)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices { data, pos: 0 };
    let mode = c.byte();
    let size = c.byte() as u32 % 65;
    let callbacks = mode & 2 != 0;
    let prog = if mode & 1 == 0 {
        generate(&mut c, callbacks)
    } else {
        let raw = &data[2.min(data.len())..];
        let raw = &raw[..raw.len() / 8 * 8];
        match decode(raw) {
            Ok(d) if !d.is_empty() => d.into_iter().map(|d| d.insn).collect(),
            _ => return,
        }
    };
    let env: Box<dyn ProgramEnv> = if callbacks {
        Box::new(LoopEnv { size })
    } else {
        Box::new(RawMemoryEnv { size })
    };
    if std::env::var_os("SOUNDNESS_PRINT").is_some() {
        // The listing first: a slow input may never finish verifying.
        eprintln!("size {size} callbacks {callbacks}\n{}", listing(&prog));
        let t = std::time::Instant::now();
        let v = verify_with(&prog, env.as_ref(), &Options::default());
        eprintln!(
            "{:?} {:?} {:?}",
            v.result.map(|s| s.insns_processed),
            v.stats,
            t.elapsed()
        );
    }
    // A tenth of the usual budget keeps every input fast; it can only reject more.
    let opts = Options {
        complexity_limit: 100_000,
        ..Options::default()
    };
    if verify_with(&prog, env.as_ref(), &opts).result.is_err() {
        return;
    }
    let vm = Program::load(&prog).expect("the verifier accepted a program the loader refuses");
    let tail: Vec<u8> = data.iter().rev().take(size as usize).copied().collect();
    let mut from_input = tail;
    from_input.resize(size as usize, 0x5a);
    run_one(&prog, &vm, from_input);
    run_one(&prog, &vm, vec![0; size as usize]);
    run_one(&prog, &vm, vec![0xff; size as usize]);
});
