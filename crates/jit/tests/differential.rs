//! Differential testing, JIT against the reference interpreter (the oracle): random programs
//! (ALU of every kind, forward and backward jumps, loads/stores/atomics within and beyond
//! a buffer and the stack, local calls, helpers, callx, packet loads) on random inputs must
//! give the same r0, instruction count, memory, or the same error at the same instruction.
//! Programs the interpreter completes are also run as unchecked (verifier-trusted) code.
//! `DIFF_STATS=1` prints each case's outcome (to check the mix of results and errors).

mod common;

use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, Program};
use common::{assert_same, run, Buffers, Engine};
use proptest::prelude::*;

/// Registers a program computes with (r1, r6, r7 hold pointers, r10 is the frame).
const DATA: [u8; 7] = [0, 2, 3, 4, 5, 8, 9];

/// One generated instruction before layout; jump and call targets are symbolic.
#[derive(Clone, Debug)]
enum Gen {
    Plain(Insn),
    /// Conditional jump `skip` instructions forward (or back when negative).
    Jump(Width, JmpCond, Reg, Operand, i32),
    Goto(i32),
    /// Call of function `n` (1-based: the subprograms after main).
    Call(usize),
    /// `lddw r8, <function n>; callx r8`.
    CallxFunc(usize),
    /// `mov r8, value; callx r8`: a helper number, or a value that is no target.
    CallxValue(i32),
}

fn reg(choices: &'static [u8]) -> impl Strategy<Value = Reg> {
    prop::sample::select(choices).prop_map(|n| Reg::new(n).unwrap())
}

fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        -4..64i32,
        any::<i32>(),
        prop::sample::select(vec![i32::MIN, -1, 31, 32, 63, 64, i32::MAX, 0x7fff_ffff]),
    ]
}

/// Pointer registers never flow into data: the two engines' stacks are at different
/// addresses, so a program computing with r10 would legitimately differ.
fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg(&DATA).prop_map(Operand::Reg),
        imm().prop_map(Operand::Imm),
    ]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W64), Just(Width::W32)]
}

fn alu() -> impl Strategy<Value = Insn> {
    use AluOp::*;
    let ops = prop::sample::select(vec![
        Add, Sub, Mul, Div, SDiv, Mod, SMod, Or, And, Lsh, Rsh, Arsh, Xor, Mov, Neg,
    ]);
    prop_oneof![
        (width(), ops, reg(&DATA), operand()).prop_map(|(width, op, dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src: if op == Neg { Operand::Imm(0) } else { src },
        }),
        (
            prop::sample::select(vec![
                (Width::W64, 8u8),
                (Width::W64, 16),
                (Width::W64, 32),
                (Width::W32, 8),
                (Width::W32, 16)
            ]),
            reg(&DATA),
            reg(&DATA)
        )
            .prop_map(|((width, bits), dst, src)| Insn::Alu {
                width,
                op: MovSx(bits),
                dst,
                src: Operand::Reg(src),
            }),
        (
            prop::sample::select(vec![Endian::ToLe, Endian::ToBe, Endian::Swap]),
            prop::sample::select(vec![16u8, 32, 64]),
            reg(&DATA)
        )
            .prop_map(|(kind, bits, dst)| Insn::End { kind, bits, dst }),
        (reg(&DATA), any::<u64>()).prop_map(|(dst, imm)| Insn::LdImm64 {
            dst,
            kind: LdImm64Kind::Imm,
            imm
        }),
    ]
}

fn size() -> impl Strategy<Value = MemSize> {
    prop::sample::select(vec![MemSize::B, MemSize::H, MemSize::W, MemSize::DW])
}

/// A base register and an offset: mostly inside the buffer (r1, r6: 64 bytes) or the stack
/// (r10, r7 = r10 - 64), sometimes just outside, rarely through a data register.
fn address() -> impl Strategy<Value = (Reg, i16)> {
    prop_oneof![
        4 => (reg(&[1, 6]), -4..68i16),
        4 => (Just(Reg::R10), -520..4i16),
        2 => (Just(Reg::R7), -460..68i16),
        1 => (Just(Reg::R3), -4..28i16),
        1 => (reg(&DATA), -8..8i16),
    ]
}

fn memory_op() -> impl Strategy<Value = Insn> {
    let atomic_ops = prop::sample::select(vec![
        AtomicOp::Add { fetch: false },
        AtomicOp::Add { fetch: true },
        AtomicOp::Or { fetch: false },
        AtomicOp::Or { fetch: true },
        AtomicOp::And { fetch: false },
        AtomicOp::And { fetch: true },
        AtomicOp::Xor { fetch: false },
        AtomicOp::Xor { fetch: true },
        AtomicOp::Xchg,
        AtomicOp::Cmpxchg,
    ]);
    prop_oneof![
        (size(), any::<bool>(), reg(&DATA), address()).prop_map(|(size, s, dst, (src, off))| {
            Insn::Ldx {
                size,
                signed: s && size != MemSize::DW,
                dst,
                src,
                off,
            }
        }),
        (size(), address(), reg(&DATA)).prop_map(|(size, (dst, off), src)| Insn::Stx {
            size,
            dst,
            src,
            off
        }),
        (size(), address(), imm()).prop_map(|(size, (dst, off), imm)| Insn::St {
            size,
            dst,
            off,
            imm
        }),
        (
            prop_oneof![Just(MemSize::W), Just(MemSize::DW)],
            atomic_ops,
            address(),
            reg(&DATA)
        )
            .prop_map(|(size, op, (dst, off), src)| Insn::Atomic {
                size,
                op,
                dst,
                src,
                off: off & !3,
            }),
        (
            prop::sample::select(vec![MemSize::B, MemSize::H, MemSize::W]),
            -2..40i32
        )
            .prop_map(|(size, imm)| Insn::LdAbs { size, imm }),
        (
            prop::sample::select(vec![MemSize::B, MemSize::H, MemSize::W]),
            reg(&DATA),
            -2..40i32
        )
            .prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm }),
    ]
}

fn gen(functions: usize) -> impl Strategy<Value = Gen> {
    let conds = prop::sample::select(vec![
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
    ]);
    prop_oneof![
        10 => alu().prop_map(Gen::Plain),
        6 => memory_op().prop_map(Gen::Plain),
        3 => (width(), conds, reg(&DATA), operand(), 0..8i32)
            .prop_map(|(w, c, d, s, skip)| Gen::Jump(w, c, d, s, skip)),
        1 => (width(), Just(JmpCond::Ne), reg(&DATA), operand(), -6..0i32)
            .prop_map(|(w, c, d, s, skip)| Gen::Jump(w, c, d, s, skip)),
        1 => (0..6i32).prop_map(Gen::Goto),
        1 => (1..=functions).prop_map(Gen::Call),
        1 => (1..=functions).prop_map(Gen::CallxFunc),
        1 => prop::sample::select(vec![1, 3, 9, -1, i32::MAX, 0x0bf0_0000]).prop_map(Gen::CallxValue),
        1 => prop::sample::select(vec![1, 2, 3, 4, 6, 7, 9, 10]).prop_map(|id| Gen::Plain(Insn::Call(CallTarget::Helper(id)))),
        1 => Just(Gen::Plain(Insn::Exit)),
    ]
}

/// Lays out main + subprograms: symbolic targets become slot offsets.
fn layout(funcs: &[Vec<Gen>]) -> Vec<Insn> {
    // Slot count of each generated item.
    let slots = |g: &Gen| match g {
        Gen::Plain(i) => i.slots(),
        Gen::CallxFunc(_) => 3,
        Gen::CallxValue(_) => 2,
        _ => 1,
    };
    let mut starts = Vec::new(); // first slot of each function
    let mut pos = 0;
    for (f, body) in funcs.iter().enumerate() {
        starts.push(pos);
        pos += if f == 0 { 3 } else { 0 } + body.iter().map(slots).sum::<usize>() + 1;
    }
    let mut out = Vec::new();
    let mut pc = 0usize;
    let emit = |out: &mut Vec<Insn>, pc: &mut usize, i: Insn| {
        *pc += i.slots();
        out.push(i);
    };
    for (f, body) in funcs.iter().enumerate() {
        if f == 0 {
            let mov = |dst, src| Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst,
                src,
            };
            emit(&mut out, &mut pc, mov(Reg::R6, Operand::Reg(Reg::R1)));
            emit(&mut out, &mut pc, mov(Reg::R7, Operand::Reg(Reg::R10)));
            emit(
                &mut out,
                &mut pc,
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: Reg::R7,
                    src: Operand::Imm(-64),
                },
            );
        }
        // Slot of each item of this body, and of its final exit.
        let base = pc;
        let mut item_slot = Vec::new();
        let mut s = base;
        for g in body {
            item_slot.push(s);
            s += slots(g);
        }
        let end = s;
        item_slot.push(end);
        let target = |i: usize, skip: i32| -> usize {
            let t = (i as i64 + 1 + skip as i64).clamp(0, body.len() as i64) as usize;
            item_slot[t]
        };
        for (i, g) in body.iter().enumerate() {
            let next = item_slot[i] + slots(g);
            match g {
                Gen::Plain(insn) => emit(&mut out, &mut pc, *insn),
                Gen::Jump(width, cond, dst, src, skip) => {
                    let off = target(i, *skip) as i64 - next as i64;
                    emit(
                        &mut out,
                        &mut pc,
                        Insn::Jmp {
                            width: *width,
                            cond: *cond,
                            dst: *dst,
                            src: *src,
                            off: off as i16,
                        },
                    )
                }
                Gen::Goto(skip) => {
                    let off = target(i, *skip) as i64 - next as i64;
                    emit(
                        &mut out,
                        &mut pc,
                        Insn::Ja {
                            off: off as i32,
                            long: off % 2 == 0,
                        },
                    )
                }
                Gen::Call(n) => {
                    let off = starts[*n] as i64 - next as i64;
                    emit(&mut out, &mut pc, Insn::Call(CallTarget::Local(off as i32)))
                }
                Gen::CallxValue(v) => {
                    emit(
                        &mut out,
                        &mut pc,
                        Insn::Alu {
                            width: Width::W64,
                            op: AluOp::Mov,
                            dst: Reg::R8,
                            src: Operand::Imm(*v),
                        },
                    );
                    emit(&mut out, &mut pc, Insn::Call(CallTarget::Reg(Reg::R8)));
                }
                Gen::CallxFunc(n) => {
                    let off = starts[*n] as i64 - (item_slot[i] + 1) as i64;
                    emit(
                        &mut out,
                        &mut pc,
                        Insn::LdImm64 {
                            dst: Reg::R8,
                            kind: LdImm64Kind::Func,
                            imm: off as i32 as u32 as u64,
                        },
                    );
                    emit(&mut out, &mut pc, Insn::Call(CallTarget::Reg(Reg::R8)));
                }
            }
        }
        emit(&mut out, &mut pc, Insn::Exit);
    }
    out
}

fn program() -> impl Strategy<Value = Vec<Insn>> {
    (0..3usize).prop_flat_map(|subs| {
        let f = subs.max(1);
        (
            prop::collection::vec(gen(f), 1..40),
            prop::collection::vec(prop::collection::vec(gen(f), 0..12), subs),
        )
            .prop_map(move |(main, rest)| {
                let mut funcs = vec![main];
                funcs.extend(rest);
                if funcs.len() == 1 {
                    // Calls name function 1: give it a body.
                    funcs.push(Vec::new());
                }
                layout(&funcs)
            })
    })
}

/// A helper-8 callback pattern: `lddw r1, <fn>; call 8` where fn is a local function.
fn with_callback(mut insns: Vec<Insn>) -> Vec<Insn> {
    // main ends with exit at the last slot of function 0; prepend a callback use.
    let total: usize = insns.iter().map(|i| i.slots()).sum();
    let mut pre = vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R9,
            src: Operand::Reg(Reg::R1),
        },
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::Func,
            imm: 0,
        },
        Insn::Call(CallTarget::Helper(8)),
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R1,
            src: Operand::Reg(Reg::R9),
        },
        Insn::Ja {
            off: 0,
            long: false,
        },
    ];
    // The callback is the whole original program shifted after `pre`; jump over a tiny
    // function `r0 = r1 + r2; exit` placed at the end.
    let pre_slots: usize = pre.iter().map(|i| i.slots()).sum();
    let func_slot = pre_slots + total;
    if let Insn::LdImm64 { imm, .. } = &mut pre[1] {
        *imm = (func_slot as i64 - 2) as i32 as u32 as u64;
    }
    pre.append(&mut insns);
    pre.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: Reg::R1,
        src: Operand::Reg(Reg::R2),
    });
    pre.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R0,
        src: Operand::Reg(Reg::R1),
    });
    pre.push(Insn::Exit);
    pre
}

fn check(insns: &[Insn], mem: &[u8], packet: &Option<Vec<u8>>, align: bool, blind: bool) {
    let Ok(prog) = Program::load(insns) else {
        return; // the layout can produce jumps into an lddw's second slot; skip those
    };
    let config = Config {
        budget: 3000,
        check_alignment: align,
    };
    let packet = packet.as_deref();
    let mut bufs = Buffers::new(mem.len());
    let interp = run(Engine::Interpreter(&prog), &mut bufs, mem, packet, &config);
    let options = CompileOptions {
        checked: true,
        blind_constants: blind,
        zero_stack: true,
    };
    let jit = JitProgram::compile(&prog, &options).expect("compiles");
    let got = run(Engine::Jit(&jit), &mut bufs, mem, packet, &config);
    assert_same(&interp, &got, &bufs, &format!("{insns:?}"));
    if std::env::var_os("DIFF_STATS").is_some() {
        let kind = match &interp.result {
            Ok(e) => format!("ok executed>=10:{}", e.executed >= 10),
            Err(e) => format!("{:?}", e.kind).chars().take(12).collect(),
        };
        eprintln!("STAT {kind}");
    }
    if interp.result.is_ok() {
        let unchecked = CompileOptions {
            checked: false,
            blind_constants: blind,
            zero_stack: true,
        };
        let fast = JitProgram::compile_specialized(&prog, &unchecked, &common::plain_sites(&prog))
            .expect("compiles");
        let got = run(Engine::Jit(&fast), &mut bufs, mem, packet, &config);
        let want = interp.result.as_ref().map(|e| e.r0);
        assert_eq!(
            want,
            got.result.as_ref().map(|e| e.r0),
            "unchecked: {insns:?}"
        );
        assert_eq!(interp.memory, got.memory, "unchecked memory: {insns:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn jit_matches_interpreter(
        insns in program(),
        mem in prop::collection::vec(any::<u8>(), 64),
        packet in prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        align in prop::bool::weighted(0.2),
        blind in prop::bool::weighted(0.3),
        callback in prop::bool::weighted(0.15),
    ) {
        let insns = if callback { with_callback(insns) } else { insns };
        check(&insns, &mem, &packet, align, blind);
    }
}
