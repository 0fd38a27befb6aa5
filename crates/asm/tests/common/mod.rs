//! Instruction generators shared by the integration tests: a proptest strategy over every
//! valid [`Insn`] and a deterministic list that covers every form with edge-case operands.
#![allow(dead_code)]

use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};
use proptest::prelude::*;

pub const ALU_OPS: [AluOp; 14] = [
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
    AluOp::Mov,
    AluOp::Arsh,
];

pub const KINDS: [LdImm64Kind; 7] = [
    LdImm64Kind::Imm,
    LdImm64Kind::MapFd,
    LdImm64Kind::MapValue,
    LdImm64Kind::BtfId,
    LdImm64Kind::Func,
    LdImm64Kind::MapIdx,
    LdImm64Kind::MapIdxValue,
];

pub fn atomic_ops() -> Vec<AtomicOp> {
    let mut v = Vec::new();
    for fetch in [false, true] {
        v.extend([
            AtomicOp::Add { fetch },
            AtomicOp::Or { fetch },
            AtomicOp::And { fetch },
            AtomicOp::Xor { fetch },
        ]);
    }
    v.extend([AtomicOp::Xchg, AtomicOp::Cmpxchg]);
    v
}

fn r(n: u8) -> Reg {
    Reg::new(n).expect("register 0..=10")
}

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(r)
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        any::<i32>().prop_map(Operand::Imm)
    ]
}

fn size() -> impl Strategy<Value = MemSize> {
    proptest::sample::select(MemSize::ALL.to_vec())
}

/// Every valid instruction: exactly the set that `decode(encode(i)) == i` holds for.
pub fn insn() -> impl Strategy<Value = Insn> {
    let alu = (
        width(),
        proptest::sample::select(ALU_OPS.to_vec()),
        reg(),
        operand(),
    )
        .prop_map(|(width, op, dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src,
        });
    let neg = (width(), reg()).prop_map(|(width, dst)| Insn::Alu {
        width,
        op: AluOp::Neg,
        dst,
        src: Operand::Imm(0),
    });
    let movsx = (
        width(),
        prop_oneof![Just(8u8), Just(16), Just(32)],
        reg(),
        reg(),
    )
        .prop_map(|(width, bits, dst, src)| Insn::Alu {
            // movsx from 32 bits exists only in the 64-bit class.
            width: if bits == 32 { Width::W64 } else { width },
            op: AluOp::MovSx(bits),
            dst,
            src: Operand::Reg(src),
        });
    let end = (
        prop_oneof![Just(Endian::ToLe), Just(Endian::ToBe), Just(Endian::Swap)],
        prop_oneof![Just(16u8), Just(32), Just(64)],
        reg(),
    )
        .prop_map(|(kind, bits, dst)| Insn::End { kind, bits, dst });
    let ja = prop_oneof![
        any::<i16>().prop_map(|o| Insn::Ja {
            off: o as i32,
            long: false
        }),
        any::<i32>().prop_map(|off| Insn::Ja { off, long: true }),
    ];
    let jmp = (
        width(),
        proptest::sample::select(JmpCond::ALL.to_vec()),
        reg(),
        operand(),
        any::<i16>(),
    )
        .prop_map(|(width, cond, dst, src, off)| Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        });
    let call = prop_oneof![
        any::<i32>().prop_map(|n| Insn::Call(CallTarget::Helper(n))),
        any::<i32>().prop_map(|n| Insn::Call(CallTarget::Local(n))),
        any::<i32>().prop_map(|n| Insn::Call(CallTarget::Kfunc(n))),
        reg().prop_map(|r| Insn::Call(CallTarget::Reg(r))),
        Just(Insn::Exit),
    ];
    let lddw = (
        reg(),
        proptest::sample::select(KINDS.to_vec()),
        any::<u64>(),
    )
        .prop_map(|(dst, kind, imm)| Insn::LdImm64 { dst, kind, imm });
    let ldx = (size(), any::<bool>(), reg(), reg(), any::<i16>()).prop_map(
        |(size, signed, dst, src, off)| Insn::Ldx {
            size,
            signed: signed && size != MemSize::DW,
            dst,
            src,
            off,
        },
    );
    let st =
        (size(), reg(), any::<i16>(), any::<i32>()).prop_map(|(size, dst, off, imm)| Insn::St {
            size,
            dst,
            off,
            imm,
        });
    let stx = (size(), reg(), reg(), any::<i16>()).prop_map(|(size, dst, src, off)| Insn::Stx {
        size,
        dst,
        src,
        off,
    });
    let atomic = (
        prop_oneof![Just(MemSize::W), Just(MemSize::DW)],
        proptest::sample::select(atomic_ops()),
        reg(),
        reg(),
        any::<i16>(),
    )
        .prop_map(|(size, op, dst, src, off)| Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        });
    let packet_size = prop_oneof![Just(MemSize::B), Just(MemSize::H), Just(MemSize::W)];
    let ld_packet =
        (packet_size, any::<bool>(), reg(), any::<i32>()).prop_map(|(size, ind, src, imm)| {
            if ind {
                Insn::LdInd { size, src, imm }
            } else {
                Insn::LdAbs { size, imm }
            }
        });
    prop_oneof![alu, neg, movsx, end, ja, jmp, call, lddw, ldx, st, stx, atomic, ld_packet]
}

/// A deterministic list with every instruction form and edge-case operands
/// (zero, negative, extreme immediates and offsets, every register position).
pub fn all_forms() -> Vec<Insn> {
    let imms = [0, 1, -1, 42, -1000, i32::MAX, i32::MIN, 0x7fff_0000];
    let offs = [0i16, 4, -8, i16::MAX, i16::MIN];
    let mut v = Vec::new();
    for width in [Width::W64, Width::W32] {
        for op in ALU_OPS {
            v.push(Insn::Alu {
                width,
                op,
                dst: r(1),
                src: Operand::Reg(r(2)),
            });
            for imm in imms {
                v.push(Insn::Alu {
                    width,
                    op,
                    dst: r(10),
                    src: Operand::Imm(imm),
                });
            }
        }
        v.push(Insn::Alu {
            width,
            op: AluOp::Neg,
            dst: r(4),
            src: Operand::Imm(0),
        });
        for bits in [8, 16, 32] {
            if bits == 32 && width == Width::W32 {
                continue;
            }
            v.push(Insn::Alu {
                width,
                op: AluOp::MovSx(bits),
                dst: r(0),
                src: Operand::Reg(r(7)),
            });
        }
        for cond in JmpCond::ALL {
            for (src, off) in [
                (Operand::Reg(r(2)), 3i16),
                (Operand::Imm(-5), -5),
                (Operand::Imm(i32::MIN), i16::MAX),
                (Operand::Imm(0x7fff_ffff), i16::MIN),
                (Operand::Imm(0), 0),
            ] {
                v.push(Insn::Jmp {
                    width,
                    cond,
                    dst: r(1),
                    src,
                    off,
                });
            }
        }
    }
    for kind in [Endian::ToLe, Endian::ToBe, Endian::Swap] {
        for bits in [16, 32, 64] {
            v.push(Insn::End {
                kind,
                bits,
                dst: r(5),
            });
        }
    }
    for off in [0, 1, -1, i16::MAX as i32, i16::MIN as i32] {
        v.push(Insn::Ja { off, long: false });
    }
    for off in [0, 5, -5, i32::MAX, i32::MIN] {
        v.push(Insn::Ja { off, long: true });
    }
    for n in [0, 1, -1, 12, i32::MAX] {
        v.push(Insn::Call(CallTarget::Helper(n)));
        v.push(Insn::Call(CallTarget::Local(n)));
        v.push(Insn::Call(CallTarget::Kfunc(n)));
    }
    for reg_no in [0, 1, 10] {
        v.push(Insn::Call(CallTarget::Reg(r(reg_no))));
    }
    v.push(Insn::Exit);
    for kind in KINDS {
        for imm in [
            0u64,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
            1 << 63,
            0x1122_3344_5566_7788,
        ] {
            v.push(Insn::LdImm64 {
                dst: r(6),
                kind,
                imm,
            });
        }
    }
    for size in MemSize::ALL {
        for off in offs {
            for signed in [false, true] {
                if !(signed && size == MemSize::DW) {
                    v.push(Insn::Ldx {
                        size,
                        signed,
                        dst: r(0),
                        src: r(10),
                        off,
                    });
                }
            }
            v.push(Insn::Stx {
                size,
                dst: r(10),
                src: r(9),
                off,
            });
        }
        for imm in imms {
            v.push(Insn::St {
                size,
                dst: r(1),
                off: -16,
                imm,
            });
        }
        if size != MemSize::DW {
            for imm in [0, 12, -4, i32::MAX] {
                v.push(Insn::LdAbs { size, imm });
            }
            for src in [r(0), r(3), r(10)] {
                v.push(Insn::LdInd { size, src, imm: 0 });
            }
        }
    }
    for size in [MemSize::W, MemSize::DW] {
        for op in atomic_ops() {
            for off in [0, 16, -8, i16::MIN] {
                v.push(Insn::Atomic {
                    size,
                    op,
                    dst: r(2),
                    src: r(1),
                    off,
                });
            }
        }
    }
    v
}
