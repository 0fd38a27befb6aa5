//! Assembler behaviour: syntax features, immediates, labels, and error positions.
//! Expected instructions are written from RFC 9669's definitions of each form.

use bpfkit_asm::{assemble, assemble_with, AsmError, Syntax};
use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};

fn err(src: &str) -> AsmError {
    assemble(src).expect_err("should not assemble")
}

fn mov64(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

#[test]
fn comments_blank_lines_and_labels() {
    let p = assemble(
        "# a comment line\n\n  ; another\nstart: mov %r0, 1 // trailing\n// only a comment\nend: exit ; done\n",
    )
    .unwrap();
    assert_eq!(p, vec![mov64(Reg::R0, 1), Insn::Exit]);
}

#[test]
fn labels_resolve_forward_and_backward_in_slots() {
    // lddw takes two slots, so the backward jump from slot 4 to slot 0 is -5.
    let p = assemble("top:\nlddw %r1, 0x100000000\njeq %r1, 0, done\nja top\ndone:\nexit").unwrap();
    assert_eq!(
        p[1],
        Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R1,
            src: Operand::Imm(0),
            off: 1
        }
    );
    assert_eq!(
        p[2],
        Insn::Ja {
            off: -4,
            long: false
        }
    );
    // The same in LLVM syntax, with gotol and a local call by label.
    let p = assemble("f:\nr1 = 4294967296 ll\nif r1 == 0 goto done\ngotol f\ncall f\ndone:\nexit")
        .unwrap();
    assert_eq!(
        p[2],
        Insn::Ja {
            off: -4,
            long: true
        }
    );
    assert_eq!(p[3], Insn::Call(CallTarget::Local(-5)));
}

#[test]
fn undefined_exit_label_means_first_exit() {
    // As in the bpf_conformance assembler, which the test vectors rely on.
    let p = assemble("jne %r0, 0, exit\nmov %r0, 1\nexit\nexit").unwrap();
    assert_eq!(p[0].jump_offset(), Some(1));
    // An explicit label named exit wins.
    let p = assemble("jne %r0, 0, exit\nexit\nexit:\nexit").unwrap();
    assert_eq!(p[0].jump_offset(), Some(1));
}

#[test]
fn immediates_hex_negative_and_wrapping() {
    let p = assemble(
        "mov32 %r0, 0xffffffff\nmov %r1, -2147483648\nlddw %r2, -1\nlddw %r3, 0xFFFFFFFFFFFFFFFF\nr4 = -9223372036854775808 ll\nstw [%r10-4], 0x80000000",
    )
    .unwrap();
    assert_eq!(
        p[0],
        Insn::Alu {
            width: Width::W32,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(-1)
        }
    );
    assert_eq!(p[1], mov64(Reg::R1, i32::MIN));
    let imm = |i: usize| match p[i] {
        Insn::LdImm64 { imm, .. } => imm,
        _ => panic!("not lddw"),
    };
    assert_eq!(imm(2), u64::MAX);
    assert_eq!(imm(3), u64::MAX);
    assert_eq!(imm(4), 1 << 63);
    assert_eq!(
        p[5],
        Insn::St {
            size: MemSize::W,
            dst: Reg::R10,
            off: -4,
            imm: i32::MIN
        }
    );
}

#[test]
fn ubpf_forms() {
    let p = assemble_with(
        "neg32 %r3\nbe16 %r1\nswap32 %r2\nmovsx1664 %r0, %r1\nsdiv32 %r0, 3\nldxsh %r0, [%r1]\n\
         lock fetch or32 [%r1+4], %r2\nlock cmpxchg [%r1], %r2\ncall %r5\ncall runtime 7\n\
         call local +2\nldabsh 12\nldindw %r3, -4\nlddw %r1, map_value 0x500000003\nja32 -1",
        Syntax::Ubpf,
    )
    .unwrap();
    let r = |n| Reg::new(n).unwrap();
    assert_eq!(
        p,
        vec![
            Insn::Alu {
                width: Width::W32,
                op: AluOp::Neg,
                dst: r(3),
                src: Operand::Imm(0)
            },
            Insn::End {
                kind: Endian::ToBe,
                bits: 16,
                dst: r(1)
            },
            Insn::End {
                kind: Endian::Swap,
                bits: 32,
                dst: r(2)
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::MovSx(16),
                dst: r(0),
                src: Operand::Reg(r(1))
            },
            Insn::Alu {
                width: Width::W32,
                op: AluOp::SDiv,
                dst: r(0),
                src: Operand::Imm(3)
            },
            Insn::Ldx {
                size: MemSize::H,
                signed: true,
                dst: r(0),
                src: r(1),
                off: 0
            },
            Insn::Atomic {
                size: MemSize::W,
                op: AtomicOp::Or { fetch: true },
                dst: r(1),
                src: r(2),
                off: 4
            },
            Insn::Atomic {
                size: MemSize::DW,
                op: AtomicOp::Cmpxchg,
                dst: r(1),
                src: r(2),
                off: 0
            },
            Insn::Call(CallTarget::Reg(r(5))),
            Insn::Call(CallTarget::Kfunc(7)),
            Insn::Call(CallTarget::Local(2)),
            Insn::LdAbs {
                size: MemSize::H,
                imm: 12
            },
            Insn::LdInd {
                size: MemSize::W,
                src: r(3),
                imm: -4
            },
            Insn::LdImm64 {
                dst: r(1),
                kind: LdImm64Kind::MapValue,
                imm: 0x5_0000_0003
            },
            Insn::Ja {
                off: -1,
                long: true
            },
        ]
    );
}

#[test]
fn llvm_forms() {
    let p = assemble_with(
        "w0 = -w0\nr1 = le64 r1\nw2 = (s8)w3\nr0 s%= -3\nr0 = *(s32 *)(r1 - 2)\n\
         *(u16 *)(r10 - 2) = 7\nw1 = atomic_fetch_xor((u32 *)(r2 + 0), w1)\nw0 = cmpxchg32_32(r3 - 8, w0, w4)\n\
         r5 = xchg_64(r6 + 1, r5)\nr0 = *(u8 *)skb[r7 + 3]\ncallx r9\nld_pseudo r1, 1, 3\nif w1 s<= -1 goto -1",
        Syntax::Llvm,
    )
    .unwrap();
    let r = |n| Reg::new(n).unwrap();
    assert_eq!(
        p,
        vec![
            Insn::Alu {
                width: Width::W32,
                op: AluOp::Neg,
                dst: r(0),
                src: Operand::Imm(0)
            },
            Insn::End {
                kind: Endian::ToLe,
                bits: 64,
                dst: r(1)
            },
            Insn::Alu {
                width: Width::W32,
                op: AluOp::MovSx(8),
                dst: r(2),
                src: Operand::Reg(r(3))
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::SMod,
                dst: r(0),
                src: Operand::Imm(-3)
            },
            Insn::Ldx {
                size: MemSize::W,
                signed: true,
                dst: r(0),
                src: r(1),
                off: -2
            },
            Insn::St {
                size: MemSize::H,
                dst: r(10),
                off: -2,
                imm: 7
            },
            Insn::Atomic {
                size: MemSize::W,
                op: AtomicOp::Xor { fetch: true },
                dst: r(2),
                src: r(1),
                off: 0
            },
            Insn::Atomic {
                size: MemSize::W,
                op: AtomicOp::Cmpxchg,
                dst: r(3),
                src: r(4),
                off: -8
            },
            Insn::Atomic {
                size: MemSize::DW,
                op: AtomicOp::Xchg,
                dst: r(6),
                src: r(5),
                off: 1
            },
            Insn::LdInd {
                size: MemSize::B,
                src: r(7),
                imm: 3
            },
            Insn::Call(CallTarget::Reg(r(9))),
            Insn::LdImm64 {
                dst: r(1),
                kind: LdImm64Kind::MapFd,
                imm: 3
            },
            Insn::Jmp {
                width: Width::W32,
                cond: JmpCond::Sle,
                dst: r(1),
                src: Operand::Imm(-1),
                off: -1
            },
        ]
    );
}

#[test]
fn objdump_listing_reassembles() {
    // The slot-number column of llvm-objdump (and of `disassemble` with show_pc) is skipped.
    let p = assemble("       0:\tr0 = 1\n       1:\tgoto +0\n       2:\texit\n").unwrap();
    assert_eq!(
        p,
        vec![
            mov64(Reg::R0, 1),
            Insn::Ja {
                off: 0,
                long: false
            },
            Insn::Exit
        ]
    );
}

#[test]
fn error_positions_and_messages() {
    let e = err("mov %r0, 1\nmov %r11, 2");
    assert_eq!(
        e.to_string(),
        "line 2, column 5: expected a register (%r0..%r10), found `%r11`"
    );
    let e = err("  frob %r0, 1");
    assert_eq!((e.line, e.column), (1, 3));
    assert_eq!(e.message, "unknown mnemonic `frob`");
    let e = err("exit\njeq %r1, 5, nowhere");
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (2, 13, "undefined label `nowhere`")
    );
    let e = err("a:\nexit\na: exit");
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e.message.contains("defined twice"), "{e}");
    let e = err("ldxw %r0, [%r1+70000]");
    assert_eq!((e.line, e.column), (1, 15));
    assert!(e.message.contains("out of range"), "{e}");
    let e = err("mov %r0, 0x100000000");
    assert_eq!((e.line, e.column), (1, 10));
    assert!(e.message.contains("32 bits"), "{e}");
    let e = err("r0 = w1");
    assert_eq!((e.line, e.column), (1, 6));
    assert!(e.message.contains("64-bit register"), "{e}");
    let e = err("ja +40000");
    assert_eq!((e.line, e.column), (1, 4));
    let e = err("exit now");
    assert_eq!(
        e.to_string(),
        "line 1, column 6: expected end of line, found `now`"
    );
    let e = err("r0 = *(u32 *)(r1 + 4");
    assert_eq!(
        e.to_string(),
        "line 1, column 21: expected `)`, found end of line"
    );
    let e = err("w1 = 5 ll");
    assert!(e.message.contains("64-bit register"), "{e}");
    let e = err("ldxsdw %r0, [%r1]");
    assert_eq!(e.message, "unknown mnemonic `ldxsdw`");
    let e = err("r1 = -r2");
    assert!(e.message.contains("destination register r1"), "{e}");
}

#[test]
fn far_label_out_of_range_for_ja_but_not_ja32() {
    let mut src = String::from("ja far\n");
    src.push_str(&"mov %r0, 0\n".repeat(40_000));
    src.push_str("far: exit\n");
    let e = assemble(&src).unwrap_err();
    assert_eq!((e.line, e.column), (1, 4));
    let long = src.replacen("ja far", "ja32 far", 1);
    let p = assemble(&long).unwrap();
    assert_eq!(
        p[0],
        Insn::Ja {
            off: 40_000,
            long: true
        }
    );
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    const VOCAB: &[&str] = &[
        "mov",
        "mov32",
        "lddw",
        "ldxw",
        "stxdw",
        "stw",
        "jeq",
        "jne32",
        "ja",
        "ja32",
        "lock",
        "fetch",
        "add",
        "cmpxchg32",
        "call",
        "local",
        "runtime",
        "exit",
        "be16",
        "movsx832",
        "%",
        "%r1",
        "%r10",
        "%r11",
        "r0",
        "w1",
        "r10",
        "=",
        "+=",
        "s",
        ">>=",
        "/=",
        "-",
        "+",
        "*",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        "u8",
        "u64",
        "s16",
        "skb",
        "ll",
        "goto",
        "gotol",
        "if",
        "==",
        "s<",
        "&",
        "atomic_fetch_add",
        "xchg_64",
        "cmpxchg_64",
        "be64",
        "bswap16",
        "callx",
        "ld_pseudo",
        "0",
        "1",
        "-1",
        "0x7fffffff",
        "0xffffffffffffffff",
        "99999999999",
        "32768",
        "-32769",
        "L1",
        "L1:",
        "exit:",
        "\n",
        "#",
        ";",
        "//",
        "map_fd",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any sequence of plausible tokens either assembles or gives an error; never a panic.
        #[test]
        fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(VOCAB), 0..14)) {
            let src = words.join(" ");
            for result in [assemble(&src), assemble_with(&src, Syntax::Llvm), assemble_with(&src, Syntax::Ubpf)] {
                if let Err(e) = result {
                    prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                }
            }
        }

        /// Arbitrary text, including non-ASCII, never panics either.
        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,60}") {
            let _ = assemble(&src);
        }
    }
}
