//! Soundness against the interpreter: random small programs over the raw-memory convention;
//! every program the verifier accepts must run without a fault in `bpfkit-vm` on random
//! inputs. The generator favours the shapes the verifier reasons about: loads through
//! pointers with data-dependent offsets, bounds checks, stack spills, 32-bit ALU.

use bpfkit_isa::{AluOp, AtomicOp, CallTarget, Insn, JmpCond, MemSize, Operand, Reg, Width};
use bpfkit_verifier::{envs::RawMemoryEnv, verify, verify_with, ErrorKind, Options};
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};

/// xorshift64*: deterministic and dependency-free.
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
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

const SCALARS: [Reg; 4] = [Reg::R0, Reg::R3, Reg::R5, Reg::R6];
const OPS: [AluOp; 14] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Arsh,
    AluOp::Mov,
];

fn small_imm(rng: &mut Rng) -> i32 {
    match rng.below(4) {
        0 => rng.below(16) as i32,
        1 => rng.below(80) as i32 - 8,
        2 => rng.pick(&[0xff, 0x7, 0xf, 0x3f, -1, i32::MIN, 31, 32, 63]),
        _ => rng.next() as i32,
    }
}

/// One random program: straight-line blocks with forward conditional jumps.
/// A `None` entry is a jump placeholder resolved once the length is known.
fn program(rng: &mut Rng) -> Vec<Insn> {
    let mut body: Vec<(Insn, Option<u16>)> = Vec::new();
    let mov = |dst, src| Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    };
    // Prologue: every register the body uses starts initialized.
    body.push((mov(Reg::R0, Operand::Imm(0)), None));
    body.push((mov(Reg::R3, Operand::Imm(small_imm(rng))), None));
    body.push((mov(Reg::R6, Operand::Imm(small_imm(rng))), None));
    body.push((mov(Reg::R4, Operand::Reg(Reg::R1)), None));
    body.push((mov(Reg::R7, Operand::Imm(0)), None));
    body.push((
        Insn::Ldx {
            size: MemSize::B,
            signed: false,
            dst: Reg::R5,
            src: Reg::R1,
            off: 0,
        },
        None,
    ));
    let n = 3 + rng.below(14);
    for _ in 0..n {
        let w = if rng.below(3) == 0 {
            Width::W32
        } else {
            Width::W64
        };
        let insn = match rng.below(11) {
            // A call of the callee appended below (offset fixed up at the end): r2 is its
            // argument, r1 survives in r9, and the result lands in a scalar register that
            // later instructions may use as an offset.
            10 => {
                body.push((mov(Reg::R9, Operand::Reg(Reg::R1)), None));
                body.push((mov(Reg::R2, Operand::Reg(rng.pick(&SCALARS))), None));
                body.push((Insn::Call(CallTarget::Local(CALLEE)), None));
                body.push((mov(Reg::R1, Operand::Reg(Reg::R9)), None));
                body.push((mov(Reg::R4, Operand::Reg(Reg::R1)), None));
                body.push((mov(Reg::R3, Operand::Imm(small_imm(rng))), None));
                mov(rng.pick(&[Reg::R5, Reg::R6]), Operand::Reg(Reg::R0))
            }
            0 | 1 => Insn::Alu {
                width: w,
                op: rng.pick(&OPS),
                dst: rng.pick(&SCALARS),
                src: if rng.below(2) == 0 {
                    Operand::Imm(small_imm(rng))
                } else {
                    Operand::Reg(rng.pick(&SCALARS))
                },
            },
            2 => Insn::Ldx {
                size: rng.pick(&MemSize::ALL),
                signed: false,
                dst: rng.pick(&SCALARS),
                src: Reg::R1,
                off: rng.below(12) as i16 - 1,
            },
            3 => Insn::Ldx {
                size: rng.pick(&MemSize::ALL),
                signed: false,
                dst: rng.pick(&SCALARS),
                src: Reg::R4,
                off: rng.below(12) as i16 - 2,
            },
            4 => Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R4,
                src: Operand::Reg(rng.pick(&[Reg::R1, Reg::R10])),
            },
            5 => Insn::Alu {
                width: Width::W64,
                op: rng.pick(&[AluOp::Add, AluOp::Add, AluOp::Sub]),
                dst: Reg::R4,
                src: Operand::Reg(rng.pick(&SCALARS)),
            },
            6 => Insn::Stx {
                size: rng.pick(&MemSize::ALL),
                dst: rng.pick(&[Reg::R10, Reg::R4, Reg::R1]),
                src: rng.pick(&SCALARS),
                off: -(rng.below(24) as i16),
            },
            7 => Insn::Ldx {
                size: rng.pick(&MemSize::ALL),
                // Sign-extending DW loads do not exist; the verifier must refuse them.
                signed: rng.below(4) == 0,
                dst: rng.pick(&SCALARS),
                src: Reg::R10,
                off: -(rng.below(24) as i16) - 1,
            },
            8 => Insn::Atomic {
                size: rng.pick(&[MemSize::W, MemSize::DW]),
                op: rng.pick(&[AtomicOp::Add { fetch: false }, AtomicOp::Xchg]),
                dst: rng.pick(&[Reg::R10, Reg::R4]),
                src: rng.pick(&SCALARS),
                off: -8 * (rng.below(3) as i16 + 1),
            },
            _ => {
                body.push((
                    Insn::Jmp {
                        width: w,
                        cond: rng.pick(&JmpCond::ALL),
                        dst: rng.pick(&SCALARS),
                        src: if rng.below(2) == 0 {
                            Operand::Imm(small_imm(rng))
                        } else {
                            Operand::Reg(rng.pick(&SCALARS))
                        },
                        off: 0,
                    },
                    Some(1 + rng.below(6) as u16),
                ));
                continue;
            }
        };
        body.push((insn, None));
    }
    // Sometimes close a bounded loop around the tail of the body (counter in r7), so that
    // back-edges, loop heads and pruning inside loops get exercised.
    let mut back: Option<(usize, i16)> = None;
    if rng.below(2) == 0 && body.len() > 7 {
        let start = 6 + rng.below((body.len() - 6) as u64) as usize;
        body.push((
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R7,
                src: Operand::Imm(1),
            },
            None,
        ));
        let at = body.len();
        let off = start as i64 - (at as i64 + 1);
        body.push((
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Lt,
                dst: Reg::R7,
                src: Operand::Imm(1 + rng.below(4) as i32),
                off: off as i16,
            },
            None,
        ));
        back = Some((at, off as i16));
    }
    let len = body.len();
    let mut out: Vec<Insn> = body
        .iter()
        .enumerate()
        .map(|(i, (insn, skip))| match (insn, skip) {
            (
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    ..
                },
                Some(k),
            ) => Insn::Jmp {
                width: *width,
                cond: *cond,
                dst: *dst,
                src: *src,
                // Forward, landing at most on the final exit, and never on the loop's
                // back-edge (that would skip the counter increment: an endless loop).
                off: {
                    let mut off = (*k as usize).min(len - i - 1);
                    if back.is_some_and(|(at, _)| i + 1 + off == at) {
                        off -= 1;
                    }
                    off as i16
                },
            },
            _ => *insn,
        })
        .collect();
    out.push(Insn::Exit);
    if out.contains(&Insn::Call(CallTarget::Local(CALLEE))) {
        let start = out.len();
        for (pc, insn) in out.iter_mut().enumerate() {
            if *insn == Insn::Call(CallTarget::Local(CALLEE)) {
                *insn = Insn::Call(CallTarget::Local((start - pc - 1) as i32));
            }
        }
        out.extend(callee(rng));
    }
    out
}

/// Placeholder offset of a call to the callee.
const CALLEE: i32 = i32::MIN;

/// A callee whose result depends on its argument (r2) and on the path taken: 0, a small
/// constant, the argument masked, or a large value.
fn callee(rng: &mut Rng) -> Vec<Insn> {
    let mov = |dst, src| Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    };
    let mut f = vec![mov(Reg::R0, Operand::Imm(small_imm(rng)))];
    for _ in 0..1 + rng.below(3) {
        f.push(Insn::Jmp {
            width: Width::W64,
            cond: rng.pick(&JmpCond::ALL),
            dst: Reg::R2,
            src: Operand::Imm(small_imm(rng)),
            off: 1,
        });
        f.push(match rng.below(3) {
            0 => mov(Reg::R0, Operand::Imm(small_imm(rng))),
            1 => mov(Reg::R0, Operand::Reg(Reg::R2)),
            _ => Insn::Alu {
                width: Width::W64,
                op: rng.pick(&[AluOp::And, AluOp::Add, AluOp::Mul]),
                dst: Reg::R0,
                src: Operand::Imm(small_imm(rng)),
            },
        });
    }
    f.push(Insn::Exit);
    f
}

/// The program as numbered assembly, for failure messages.
fn listing(prog: &[Insn]) -> String {
    // Some generated instructions (sign-extending DW loads) have no decodable encoding.
    let Ok(decoded) = bpfkit_isa::decode(&bpfkit_isa::encode(prog)) else {
        return format!("{prog:#?}");
    };
    let mut opts = bpfkit_asm::DisasmOptions::new(bpfkit_asm::Syntax::Llvm);
    opts.show_pc = true;
    bpfkit_asm::disassemble(&decoded, &opts)
}

#[test]
fn accepted_random_programs_never_fault() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut accepted, mut total, mut with_calls) = (0, 0, 0);
    let mut faults = Vec::new();
    // More with BPFKIT_SOUNDNESS_ITERS (e.g. 1000000 in release mode).
    let iters: u64 = std::env::var("BPFKIT_SOUNDNESS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20000);
    for _ in 0..iters {
        let size = 1 + rng.below(40) as u32;
        let prog = program(&mut rng);
        total += 1;
        if verify(&prog, &RawMemoryEnv { size }).is_err() {
            continue;
        }
        accepted += 1;
        if prog.iter().any(|i| matches!(i, Insn::Call(_))) {
            with_calls += 1;
        }
        // Pruning must not change the decision: exploring every path must accept too.
        let unpruned = Options {
            prune: false,
            ..Options::default()
        };
        if let Err(e) = verify_with(&prog, &RawMemoryEnv { size }, &unpruned).result {
            // The kernel's sanity limits on pointer offsets are not monotone: a known large
            // constant is refused ("math between mem pointer and 1334847488") where an
            // unknown value that includes it passes. A path pruned against such a state is
            // covered by that state's verified executions, so this difference is benign (the
            // kernel has it too); the program still runs below.
            let benign = e.kind == ErrorKind::PointerArithmetic
                && (e.message.contains("is not allowed") || e.message.contains("out of bounds"));
            if !benign {
                faults.push(format!(
                    "accepted only with pruning: {e}\n{}",
                    listing(&prog)
                ));
                continue;
            }
        }
        let vm = Program::load(&prog).expect("the verifier accepted an unloadable program");
        for _ in 0..4 {
            let mut data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            let mut mem = MemoryMap::new();
            let addr = mem.add_slice_mut(&mut data);
            if let Err(e) = vm.run(
                [addr, size as u64, 0, 0, 0],
                &mut mem,
                &mut NoHelpers,
                &Config::default(),
            ) {
                faults.push(format!("size {size}: {e}\n{}", listing(&prog)));
                break;
            }
        }
    }
    assert!(
        faults.is_empty(),
        "{} faults, first:\n{}",
        faults.len(),
        faults[0]
    );
    // The generator must produce accepted programs often enough to mean something.
    assert!(
        accepted * 10 >= total,
        "only {accepted} of {total} accepted"
    );
    assert!(
        with_calls * 20 >= accepted,
        "only {with_calls} accepted with calls"
    );
    eprintln!(
        "{accepted} of {total} random programs accepted ({with_calls} with calls), none faulted"
    );
}

/// The raw-memory convention plus `bpf_loop` (the base prototype).
struct LoopEnv {
    size: u32,
}

impl bpfkit_verifier::ProgramEnv for LoopEnv {
    fn name(&self) -> &str {
        "raw"
    }
    fn entry(&self) -> bpfkit_verifier::Entry {
        bpfkit_verifier::Entry::Memory { size: self.size }
    }
    fn ctx_access(&self, _: i64, _: u32, _: bool) -> Result<bpfkit_verifier::CtxField, String> {
        Err(String::new())
    }
    fn helper(&self, id: i32) -> Option<bpfkit_verifier::HelperProto> {
        use bpfkit_verifier::helpers;
        (id == 181)
            .then(|| helpers::find(&[helpers::BASE], id))
            .flatten()
    }
}

/// `bpf_loop` as the kernel runs it (rounds capped at 64 to keep the test fast: any count
/// is one the verifier must allow).
struct LoopHelper;

impl bpfkit_vm::Helpers for LoopHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut bpfkit_vm::HelperCtx<'_, '_>,
    ) -> Result<bpfkit_vm::HelperReturn, bpfkit_vm::HelperError> {
        if id != 181 {
            return Err(bpfkit_vm::HelperError::Unknown);
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
        Ok(bpfkit_vm::HelperReturn::Value(done))
    }
    fn is_known(&self, id: i32) -> bool {
        id == 181
    }
}

/// A `bpf_loop` callback that changes a counter in the caller's stack (its context, fp-8)
/// in a random way and stops or continues at random.
fn loop_callback(rng: &mut Rng) -> Vec<Insn> {
    let alu = |op, dst, src| Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    };
    let mut f = vec![
        alu(AluOp::Mov, Reg::R0, Operand::Imm(0)),
        Insn::Ldx {
            size: MemSize::DW,
            signed: false,
            dst: Reg::R3,
            src: Reg::R2,
            off: 0,
        },
    ];
    for _ in 0..1 + rng.below(3) {
        f.push(match rng.below(4) {
            0 => alu(AluOp::Add, Reg::R3, Operand::Reg(Reg::R1)),
            1 => alu(AluOp::Add, Reg::R3, Operand::Imm(small_imm(rng))),
            2 => alu(AluOp::And, Reg::R3, Operand::Imm(small_imm(rng))),
            _ => Insn::Jmp {
                width: Width::W64,
                cond: rng.pick(&JmpCond::ALL),
                dst: Reg::R3,
                src: Operand::Imm(small_imm(rng)),
                off: 1,
            },
        });
    }
    f.push(Insn::Stx {
        size: MemSize::DW,
        dst: Reg::R2,
        src: Reg::R3,
        off: 0,
    });
    if rng.below(2) == 0 {
        f.push(alu(AluOp::Mov, Reg::R0, Operand::Reg(Reg::R1)));
        f.push(alu(AluOp::And, Reg::R0, Operand::Imm(1)));
    }
    f.push(Insn::Exit);
    f
}

/// Programs that run `bpf_loop` first (the callback keeps a counter at fp-8), then read the
/// counter into r5 and continue with a random body that may use it as an offset: the
/// verifier's rounds of the callback must cover every count the loop can leave behind.
#[test]
fn accepted_random_loop_programs_never_fault() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let (mut accepted, mut total) = (0, 0);
    let iters: u64 = std::env::var("BPFKIT_SOUNDNESS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(3000, |n: u64| n / 4);
    for _ in 0..iters {
        let size = 1 + rng.below(40) as u32;
        let mov = |dst, src| Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src,
        };
        let mut prog = vec![
            Insn::St {
                size: MemSize::DW,
                dst: Reg::R10,
                off: -8,
                imm: small_imm(&mut rng),
            },
            mov(Reg::R9, Operand::Reg(Reg::R1)),
            mov(Reg::R1, Operand::Imm(rng.below(10) as i32)),
            Insn::LdImm64 {
                dst: Reg::R2,
                kind: bpfkit_isa::LdImm64Kind::Func,
                imm: 0,
            },
            mov(Reg::R3, Operand::Reg(Reg::R10)),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R3,
                src: Operand::Imm(-8),
            },
            mov(Reg::R4, Operand::Imm(0)),
            Insn::Call(CallTarget::Helper(181)),
            mov(Reg::R1, Operand::Reg(Reg::R9)),
        ];
        let body = program(&mut rng);
        // The body's prologue sets r5 from memory; read the counter after it.
        prog.extend_from_slice(&body[..6]);
        prog.push(Insn::Ldx {
            size: MemSize::DW,
            signed: false,
            dst: Reg::R5,
            src: Reg::R10,
            off: -8,
        });
        // A call's offset stays right if the callee moves by as much as the call does.
        prog.extend_from_slice(&body[6..]);
        let callback_start: usize = prog.iter().map(|i| i.slots()).sum();
        prog.extend(loop_callback(&mut rng));
        prog[3] = Insn::LdImm64 {
            dst: Reg::R2,
            kind: bpfkit_isa::LdImm64Kind::Func,
            imm: (callback_start as u64).wrapping_sub(3 + 1) as u32 as u64,
        };
        total += 1;
        if let Err(e) = verify(&prog, &LoopEnv { size }) {
            if std::env::var_os("BPFKIT_SOUNDNESS_PRINT").is_some() {
                eprintln!("{e}\n{}", listing(&prog));
            }
            continue;
        }
        accepted += 1;
        let vm = Program::load(&prog).expect("the verifier accepted an unloadable program");
        for _ in 0..3 {
            let mut data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            let mut mem = MemoryMap::new();
            let addr = mem.add_slice_mut(&mut data);
            if let Err(e) = vm.run(
                [addr, size as u64, 0, 0, 0],
                &mut mem,
                &mut LoopHelper,
                &Config::default(),
            ) {
                panic!("size {size}: {e}\n{}", listing(&prog));
            }
        }
    }
    assert!(
        accepted * 20 >= total,
        "only {accepted} of {total} accepted"
    );
    eprintln!("{accepted} of {total} random bpf_loop programs accepted, none faulted");
}

/// Found by the soundness fuzzer (a 28 s input): a loop that never ends, around three
/// `bpf_loop` calls. The rounds of callbacks under way were all kept at their helper call,
/// so every pass of the outer loop compared against a longer list (quadratic time). Only
/// the newest rounds are kept now.
#[test]
fn loop_around_bpf_loop_keeps_state_lists_short() {
    let text = r#"
        r0 = 15
        r3 = 12
        r5 = -2
        r6 = -8
        r7 = 9
        r8 = -1
        r4 = r1
        r9 = r10
        r5 = bswap16 r5
        r9 = r1
        r1 = 3
        ld_pseudo	r2, 4, 42
        r3 = 0
        r4 = 0
        call 181
        r1 = r9
        r3 = 6
        r5 = r0
        r4 = r1
        r9 = r1
        r1 = r6
        ld_pseudo	r2, 4, 31
        r3 = r10
        r3 += -16
        r4 = 0
        call 181
        r1 = r9
        r3 = 15
        r5 = r0
        r4 = r1
        r5 += 2147483647
        r7 = le16 r7
        w6 += 7
        if w4 s< w5 goto +1
        r9 = r1
        r1 = r3
        ld_pseudo	r2, 4, 15
        r3 = r10
        r3 += -8
        r4 = 0
        call 181
        r1 = r9
        r3 = -1
        r5 = r0
        r4 = r1
        r5 += 9
        w0 += -436
        r0 += 0
        r8 += 1
        if r8 < 1 goto -48
        exit
        r4 = r2
        r0 = 0
        r3 = 0
        r5 = 0
        r6 = 0
        r7 = 0
        r8 = 0
        r9 = r10
        r8 += 1
        if r8 < 1 goto -8
        r0 &= 1
        exit
    "#;
    let prog = bpfkit_asm::assemble(text).expect("valid assembly");
    let opts = Options {
        complexity_limit: 100_000,
        ..Options::default()
    };
    let v = verify_with(&prog, &LoopEnv { size: 11 }, &opts);
    let e = v.result.expect_err("the outer loop never ends");
    assert_eq!(e.kind, ErrorKind::TooComplex, "{e}");
    assert!(
        v.stats.max_states_per_insn <= 64,
        "{} states at one instruction",
        v.stats.max_states_per_insn
    );
}
