//! Directed tests of the JIT's run-time behaviour. Each compares with the reference
//! interpreter (the oracle) where one exists, or with a value fixed by the eBPF rules.

use bpfkit_isa::{AluOp, Insn, Operand, Reg, Width};
use bpfkit_jit::{CompileOptions, JitError, JitProgram};
use bpfkit_vm::{
    Config, HelperError, HelperReturn, HelperTable, MemoryMap, NoHelpers, Program, VmErrorKind,
};

fn asm(text: &str) -> Vec<Insn> {
    bpfkit_asm::assemble(text).expect("assembles")
}

fn both(text: &str, mem: &mut [u8], config: &Config) -> (String, String) {
    let insns = asm(text);
    let prog = Program::load(&insns).unwrap();
    let jit = JitProgram::compile(&prog, &CompileOptions::default()).unwrap();
    // Both engines see the same buffer (same addresses), reset in between.
    let input = mem.to_vec();
    let a = {
        let mut m = MemoryMap::new();
        let addr = m.add_slice_mut(mem);
        format!(
            "{:?}",
            prog.run([addr, 0, 0, 0, 0], &mut m, &mut NoHelpers, config)
        )
    };
    mem.copy_from_slice(&input);
    let b = {
        let mut m = MemoryMap::new();
        let addr = m.add_slice_mut(mem);
        format!(
            "{:?}",
            jit.run([addr, 0, 0, 0, 0], &mut m, &mut NoHelpers, config)
        )
    };
    // Error messages may carry a stack address; these programs use none.
    (a, b)
}

#[test]
fn budget_error_names_the_same_instruction_as_the_interpreter() {
    let text = "mov %r0, 0\nloop:\nadd %r0, 1\nadd %r0, 2\nja loop\n";
    for budget in [0, 1, 2, 3, 4, 5, 10, 101, 1000] {
        let config = Config {
            budget,
            ..Config::default()
        };
        let (interp, jit) = both(text, &mut [], &config);
        assert!(interp.contains("Budget"), "{interp}");
        assert_eq!(interp, jit, "budget {budget}");
    }
}

#[test]
fn executed_counts_match_and_lddw_counts_once() {
    let text = "lddw %r0, 0x123456789\nmov %r1, 5\nloop:\nsub %r1, 1\njne %r1, 0, loop\nexit\n";
    let (interp, jit) = both(text, &mut [], &Config::default());
    assert_eq!(interp, jit);
    assert!(jit.contains("executed: 13"), "{jit}"); // 2 + 5 * 2 + 1
}

#[test]
fn division_edge_cases_follow_the_rfc() {
    // Values from RFC 9669: x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0.
    let cases = [
        (
            "lddw %r0, 0x8000000000000000\nmov %r1, -1\nsdiv %r0, %r1\nexit",
            1u64 << 63,
        ),
        (
            "lddw %r0, 0x8000000000000000\nmov %r1, -1\nsmod %r0, %r1\nexit",
            0,
        ),
        ("mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit", 0x8000_0000),
        ("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", 0),
        ("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit", 7),
        (
            "lddw %r0, 0x1ffffffff\nmov %r1, 0\nmod32 %r0, %r1\nexit",
            0xffff_ffff,
        ),
        ("mov %r0, -7\nsmod %r0, 2\nexit", -1i64 as u64),
        (
            "mov %r3, 100\nmov %r0, 7\ndiv %r3, %r0\nmov %r0, %r3\nexit",
            14,
        ),
        ("mov %r0, 100\nmov %r3, 7\nmod %r0, %r3\nexit", 2),
    ];
    for (text, want) in cases {
        let jit = JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap();
        let got = jit
            .run(
                [0; 5],
                &mut MemoryMap::new(),
                &mut NoHelpers,
                &Config::default(),
            )
            .unwrap();
        assert_eq!(got.r0, want, "{text}");
    }
}

#[test]
fn helpers_return_stop_fail_and_panic_like_the_interpreter() {
    let mut helpers = HelperTable::new();
    helpers.register(1, |a, _| Ok(HelperReturn::Value(a[0] + a[1])));
    helpers.register(2, |a, _| Ok(HelperReturn::Stop(a[0] * 10)));
    helpers.register(3, |_, _| Err(HelperError::Failed("no".into())));
    helpers.register(4, |_, _| panic!("helper panicked"));
    let run = |text: &str, helpers: &mut HelperTable| {
        let jit = JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap();
        jit.run([0; 5], &mut MemoryMap::new(), helpers, &Config::default())
    };
    // r1..r5 survive a helper call, as in the interpreter.
    let r = run(
        "mov %r1, 2\nmov %r2, 3\ncall 1\nadd %r0, %r1\nadd %r0, %r2\nexit",
        &mut helpers,
    );
    assert_eq!(r.unwrap().r0, 10);
    let r = run("mov %r1, 4\ncall 2\nmov %r0, 1\nexit", &mut helpers);
    assert_eq!(r.unwrap().r0, 40);
    let e = run("mov %r0, 0\ncall 3\nexit", &mut helpers).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(matches!(e.kind, VmErrorKind::Helper { id: 3, .. }), "{e}");
    let e = run("call 9\nexit", &mut helpers).unwrap_err();
    assert_eq!(e.kind, VmErrorKind::UnknownHelper(9));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run("call 4\nexit", &mut helpers)
    }));
    assert!(panicked.is_err(), "the helper's panic reaches the caller");
    // And the JIT is still usable afterwards.
    assert_eq!(
        run("mov %r1, 1\nmov %r2, 1\ncall 1\nexit", &mut helpers)
            .unwrap()
            .r0,
        2
    );
}

#[test]
fn local_calls_preserve_callee_saved_registers_and_stop_at_eight_frames() {
    let text = "
        mov %r6, 11
        mov %r1, 3
        call local f
        add %r0, %r6
        exit
    f:
        mov %r6, 99
        mov %r0, %r1
        stxdw [%r10-8], %r0
        ldxdw %r0, [%r10-8]
        exit
    ";
    let jit = JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap();
    let got = jit.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut NoHelpers,
        &Config::default(),
    );
    assert_eq!(got.unwrap().r0, 14);
    let recursive = "call local f\nexit\nf:\ncall local f\nexit\n";
    let (interp, jit) = both(recursive, &mut [], &Config::default());
    assert!(interp.contains("CallDepth(8)"), "{interp}");
    assert_eq!(interp, jit);
}

#[test]
fn out_of_bounds_and_read_only_accesses_fail_with_the_interpreters_error() {
    let cases = [
        "ldxw %r0, [%r1+6]\nexit",
        "stxdw [%r1+1], %r1\nexit",
        "ldxb %r0, [%r10+0]\nexit",
        "stw [%r10-516], 1\nexit",
        "mov %r2, %r1\nadd %r2, -1\nldxb %r0, [%r2+0]\nexit",
        "lock add [%r1+2], %r1\nexit",
    ];
    for text in cases {
        let mut mem = [1u8; 8];
        let (interp, jit) = both(text, &mut mem, &Config::default());
        assert!(interp.contains("Memory"), "{text}: {interp}");
        if !text.contains("r10") {
            assert_eq!(interp, jit, "{text}");
        } else {
            // Stack faults carry the (engine-specific) stack address: compare the rest.
            let strip = |s: &str| s.split("addr").next().unwrap().to_string();
            assert_eq!(strip(&interp), strip(&jit), "{text}");
        }
    }
    // Writes to a read-only region.
    let ro = [0u8; 8];
    let mut m = MemoryMap::new();
    let addr = m.add_slice(&ro);
    let jit =
        JitProgram::from_insns(&asm("stb [%r1+0], 1\nexit"), &CompileOptions::default()).unwrap();
    let e = jit
        .run(
            [addr, 0, 0, 0, 0],
            &mut m,
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[test]
fn alignment_checks_apply_when_configured() {
    let config = Config {
        check_alignment: true,
        ..Config::default()
    };
    let mut mem = [0u8; 16];
    let (interp, jit) = both("ldxw %r0, [%r1+2]\nexit", &mut mem, &config);
    assert!(interp.contains("Misaligned"), "{interp}");
    assert_eq!(interp, jit);
    let (interp, jit) = both("ldxw %r0, [%r1+4]\nexit", &mut mem, &config);
    assert!(interp.contains("Ok"), "{interp}");
    assert_eq!(interp, jit);
}

#[test]
fn packet_loads_are_big_endian_and_end_the_program_when_out_of_bounds() {
    let packet = [0x12, 0x34, 0x56, 0x78, 0x9a];
    let run = |text: &str, with_packet: bool| {
        let jit = JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap();
        let mut m = MemoryMap::new();
        if with_packet {
            m.set_packet(&packet);
        }
        jit.run([0; 5], &mut m, &mut NoHelpers, &Config::default())
    };
    assert_eq!(run("ldabsh 1\nexit", true).unwrap().r0, 0x3456);
    assert_eq!(run("ldabsw 1\nexit", true).unwrap().r0, 0x3456_789a);
    assert_eq!(run("mov %r0, 9\nldabsw 2\nexit", true).unwrap().r0, 0);
    assert_eq!(
        run("mov %r3, -1\nldindb %r3, 5\nexit", true).unwrap().r0,
        0x9a
    );
    let e = run("ldabsb 0\nexit", false).unwrap_err();
    assert_eq!(e.kind, VmErrorKind::NoPacket);
}

#[test]
fn blinding_keeps_immediates_out_of_the_code() {
    let text = "mov %r0, 0x5eadbeef\nadd %r0, 0x7a55a55a\nlddw %r1, 0x1122334455667788\nadd %r0, %r1\nstw [%r10-8], 0x3c3c3c3c\njeq %r0, 0x2d2d2d2d, +1\nexit\ncall 0x4b4b4b4b\nexit";
    let contains = |code: &[u8], imm: &[u8]| code.windows(imm.len()).any(|w| w == imm);
    let plain = JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap();
    let blinded = JitProgram::from_insns(
        &asm(text),
        &CompileOptions {
            blind_constants: true,
            ..CompileOptions::default()
        },
    )
    .unwrap();
    let imms: [&[u8]; 6] = [
        &0x5eadbeefu32.to_le_bytes(),
        &0x7a55a55au32.to_le_bytes(),
        &0x1122334455667788u64.to_le_bytes(),
        &0x3c3c3c3cu32.to_le_bytes(),
        &0x2d2d2d2du32.to_le_bytes(),
        &0x4b4b4b4bu32.to_le_bytes(),
    ];
    for imm in imms {
        assert!(
            contains(plain.machine_code(), imm),
            "{imm:02x?} in plain code"
        );
        assert!(
            !contains(blinded.machine_code(), imm),
            "{imm:02x?} in blinded code"
        );
    }
    let run = |j: &JitProgram| {
        j.run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap()
        .r0
    };
    assert_eq!(run(&plain), run(&blinded));
}

#[test]
fn concurrent_runs_of_one_program_are_independent() {
    let text = "
        mov %r6, %r1
        mov %r0, 0
        mov %r2, 1000
    loop:
        stxdw [%r10-8], %r6
        ldxdw %r3, [%r10-8]
        add %r0, %r3
        sub %r2, 1
        jne %r2, 0, loop
        exit
    ";
    let jit = std::sync::Arc::new(
        JitProgram::from_insns(&asm(text), &CompileOptions::default()).unwrap(),
    );
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let jit = jit.clone();
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    let arg = t * 1000 + i;
                    let got = jit
                        .run(
                            [arg, 0, 0, 0, 0],
                            &mut MemoryMap::new(),
                            &mut NoHelpers,
                            &Config::default(),
                        )
                        .unwrap();
                    assert_eq!(got.r0, arg * 1000);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn compile_errors_name_the_instruction() {
    let bad = [
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R10,
            src: Operand::Imm(0),
        },
        Insn::Exit,
    ];
    let e = JitProgram::from_insns(&bad, &CompileOptions::default()).unwrap_err();
    assert!(matches!(e, JitError::Load(_)));
    assert!(e.to_string().starts_with("insn 0:"), "{e}");
}

#[test]
fn long_programs_use_long_and_short_jumps_correctly() {
    // A forward jump over 200 instructions and a loop around 100: both encodings occur.
    let mut text = String::from("mov %r0, 0\nmov %r1, 3\njeq %r1, 3, far\n");
    for _ in 0..200 {
        text.push_str("add %r0, 1000\n");
    }
    text.push_str("far:\nmov %r2, 0\nloop:\n");
    for _ in 0..100 {
        text.push_str("add %r0, 1\n");
    }
    text.push_str("add %r2, 1\njlt %r2, 5, loop\njeq %r2, 5, +1\nmov %r0, 0\nexit\n");
    let (interp, jit) = both(&text, &mut [], &Config::default());
    assert!(interp.contains("r0: 500"), "{interp}");
    assert_eq!(interp, jit);
}

#[test]
fn frames_read_zero_when_new_and_keep_data_when_reentered() {
    // f leaves 7 in its frame; g, entered at the same depth, sees it (as in the
    // interpreter); h, one frame deeper than ever before, sees zeros.
    let text = "
        call local f
        call local g
        mov %r6, %r0
        call local g2
        lsh %r0, 8
        add %r0, %r6
        exit
    f:
        mov %r1, 7
        stxdw [%r10-8], %r1
        exit
    g:
        ldxdw %r0, [%r10-8]
        exit
    g2:
        call local h
        exit
    h:
        ldxdw %r0, [%r10-8]
        ldxdw %r1, [%r10-512]
        add %r0, %r1
        add %r0, 1
        exit
    ";
    let (interp, jit) = both(text, &mut [], &Config::default());
    assert!(interp.contains("r0: 263"), "{interp}"); // 1 << 8 | 7
    assert_eq!(interp, jit);
}

#[test]
fn helper_callbacks_see_zeroed_deeper_frames() {
    use bpfkit_vm::Helpers;
    // Helper 1 runs the callback at r1 (a function address) and returns its r0.
    struct Callback;
    impl Helpers for Callback {
        fn call(
            &mut self,
            _id: i32,
            a: [u64; 5],
            ctx: &mut bpfkit_vm::HelperCtx<'_, '_>,
        ) -> Result<HelperReturn, HelperError> {
            Ok(HelperReturn::Value(ctx.call_function(self, a[0], [0; 5])?))
        }
        fn is_known(&self, id: i32) -> bool {
            id == 1
        }
    }
    let text = "
        lddw %r1, 0x0bf0000000000000
        call 1
        exit
    cb:
        ldxdw %r0, [%r10-8]
        ldxdw %r2, [%r10-504]
        add %r0, %r2
        add %r0, 5
        exit
    ";
    let mut insns = asm(text);
    // Point the lddw at `cb` (slot 4 = 0 + 1 + 3) as `lddw r1, <function>` would.
    insns[0] = Insn::LdImm64 {
        dst: Reg::R1,
        kind: bpfkit_isa::LdImm64Kind::Func,
        imm: 3,
    };
    let prog = Program::load(&insns).unwrap();
    let jit = JitProgram::compile(&prog, &CompileOptions::default()).unwrap();
    let a = prog.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut Callback,
        &Config::default(),
    );
    let b = jit.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut Callback,
        &Config::default(),
    );
    assert_eq!(a.as_ref().map(|e| e.r0), Ok(5));
    assert_eq!(a, b);
}

#[test]
fn every_offset_around_the_primary_region_matches_the_interpreter() {
    // Loads and stores of every size at every offset from 9 bytes before to 9 bytes after a
    // 16-byte region: the inline fast path must accept exactly what the memory map accepts.
    for size in ["b", "h", "w", "dw"] {
        for off in -9i32..=25 {
            for text in [
                format!("ldx{size} %r0, [%r1{off:+}]\nexit"),
                format!("mov %r2, 0x7f\nstx{size} [%r1{off:+}], %r2\nmov %r0, 1\nexit"),
            ] {
                let mut mem = [3u8; 16];
                let (interp, jit) = both(&text, &mut mem, &Config::default());
                assert_eq!(interp, jit, "{text}");
            }
        }
    }
    // A read-only primary region refuses stores on the fast path too.
    let ro = [1u8; 16];
    for off in [0, 8, 15] {
        let text = format!("stb [%r1+{off}], 1\nexit");
        let prog = Program::load(&asm(&text)).unwrap();
        let jit = JitProgram::compile(&prog, &CompileOptions::default()).unwrap();
        let mut m = MemoryMap::new();
        let addr = m.add_slice(&ro);
        let a = prog.run(
            [addr, 0, 0, 0, 0],
            &mut m,
            &mut NoHelpers,
            &Config::default(),
        );
        let b = jit.run(
            [addr, 0, 0, 0, 0],
            &mut m,
            &mut NoHelpers,
            &Config::default(),
        );
        assert!(a.is_err());
        assert_eq!(a, b);
    }
}

#[test]
fn frame_limit_holds_after_a_helper_zeroed_every_frame() {
    // A helper call zeroes all frames at once; the frame limit must still stop recursion at
    // the same call as in the interpreter (the JIT checks both with one compare).
    let mut helpers = HelperTable::new();
    helpers.register(1, |_, _| Ok(HelperReturn::Value(0)));
    let text = "call 1\ncall local f\nexit\nf:\nadd %r6, 1\ncall local f\nexit\n";
    let insns = asm(text);
    let prog = Program::load(&insns).unwrap();
    let jit = JitProgram::compile(&prog, &CompileOptions::default()).unwrap();
    let a = prog.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut helpers,
        &Config::default(),
    );
    let b = jit.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut helpers,
        &Config::default(),
    );
    assert_eq!(a.as_ref().unwrap_err().kind, VmErrorKind::CallDepth(8));
    assert_eq!(a, b);
    // Seven nested calls (eight frames) are fine.
    let text = "call local f\nexit\nf:\nadd %r0, 1\njge %r0, 7, +1\ncall local f\nexit\n";
    let (interp, jit) = both(text, &mut [], &Config::default());
    assert!(interp.contains("r0: 7"), "{interp}");
    assert_eq!(interp, jit);
}

#[test]
fn stack_reads_zero_where_an_earlier_run_wrote() {
    // A run zeroes only the stack bytes its program can reach; bytes an earlier run left
    // on the (reused) Rust stack must never show, in checked and unchecked code, whether
    // the program reaches its frames at constant offsets only or through a copy of r10.
    let dirty = "
        stxdw [%r10-8], %r1
        stxdw [%r10-16], %r1
        stxdw [%r10-512], %r1
        call local f
        mov %r0, %r1
        exit
    f:
        stxdw [%r10-8], %r1
        stxdw [%r10-16], %r1
        stxdw [%r10-512], %r1
        call local g
        exit
    g:
        stxdw [%r10-8], %r1
        stxdw [%r10-512], %r1
        exit";
    let readers = [
        "ldxdw %r0, [%r10-16]\nexit",
        "ldxdw %r0, [%r10-512]\nexit",
        "mov %r1, %r10\nadd %r1, -16\nldxdw %r0, [%r1+0]\nexit",
        "call local f\nexit\nf:\nldxdw %r0, [%r10-8]\nexit",
        "call local f\nexit\nf:\nmov %r2, %r10\nldxdw %r0, [%r2-512]\nexit",
        "call local f\nexit\nf:\ncall local g\nexit\ng:\nldxdw %r0, [%r10-512]\nexit",
    ];
    for checked in [true, false] {
        let options = CompileOptions {
            checked,
            ..CompileOptions::default()
        };
        let run = |text: &str, arg: u64| {
            let jit = JitProgram::from_insns(&asm(text), &options).unwrap();
            let mut m = MemoryMap::new();
            jit.run(
                [arg, 0, 0, 0, 0],
                &mut m,
                &mut NoHelpers,
                &Config::default(),
            )
            .unwrap()
            .r0
        };
        for reader in readers {
            assert_eq!(run(dirty, u64::MAX), u64::MAX, "dirtying run");
            assert_eq!(run(reader, 0), 0, "checked {checked}: {reader}");
        }
    }
}

#[test]
fn peepholes_match_the_interpreter() {
    // Pairs the emitter joins into `lea` (move then add/sub, 64 and 32 bits, `rX += rX`),
    // multiplications it turns into `lea`/shifts, and zero tests it takes from the flags of
    // the previous operation; the last jump is a target, reached with other flags. Every result is folded into r0, which is compared.
    let mut text = String::from("lddw %r1, 0x89abcdef01234567\nmov %r2, -3\nmov %r0, 0\n");
    let ops = [
        "mov %r3, %r1\nadd %r3, 100",
        "mov %r3, %r1\nadd %r3, -200000",
        "mov %r3, %r1\nsub %r3, -2147483648",
        "mov %r3, %r1\nsub %r3, 7",
        "mov %r3, %r1\nadd %r3, %r2",
        "mov %r3, %r1\nadd %r3, %r3",
        "mov32 %r3, %r1\nadd32 %r3, 100",
        "mov32 %r3, %r1\nadd32 %r3, %r2",
        "mov32 %r3, %r1\nadd32 %r3, %r3",
        "mov32 %r3, %r1\nsub32 %r3, -5",
        "mov %r3, %r1\nmul %r3, 3",
        "mov %r3, %r1\nmul %r3, 5",
        "mov %r3, %r1\nmul %r3, 9",
        "mov %r3, %r1\nmul %r3, 1073741824",
        "mov %r3, %r1\nmul %r3, -2147483648",
        "mov %r3, %r1\nmul %r3, -4",
        "mov32 %r3, %r1\nmul32 %r3, 9",
        "mov32 %r3, %r1\nmul32 %r3, 16",
    ];
    for op in ops {
        text.push_str(op);
        // r0 = r0 * 31 + r3 loses nothing (31 is odd).
        text.push_str("\nmul %r0, 31\nadd %r0, %r3\n");
    }
    text.push_str(
        "
        mov %r4, 3
    again:
        sub %r4, 1
        jne %r4, 0, again
        add %r0, %r4
        mov %r5, 2
        mov32 %r6, 0
        sub32 %r6, 1
        jeq %r6, 0, skip
        add %r0, 1000
    skip:
        mov %r7, 0
        mov %r5, 1
        jne %r5, 0, target
        add %r7, 0
    target:
        jeq %r7, 0, out
        add %r0, 77
    out:
        exit
    ",
    );
    let insns = asm(&text);
    let prog = Program::load(&insns).unwrap();
    let want = prog
        .run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap()
        .r0;
    for checked in [true, false] {
        for blind_constants in [false, true] {
            let options = CompileOptions {
                checked,
                blind_constants,
                zero_stack: true,
            };
            let jit = JitProgram::compile(&prog, &options).unwrap();
            let got = jit
                .run(
                    [0; 5],
                    &mut MemoryMap::new(),
                    &mut NoHelpers,
                    &Config::default(),
                )
                .unwrap()
                .r0;
            assert_eq!(got, want, "{options:?}");
        }
    }
}

#[test]
fn stack_loads_after_stores_match_the_interpreter() {
    // Unchecked code turns a load of a stack slot just stored into a register move: every
    // case where the slot or the register changed in between must still load memory.
    let text = "
        lddw %r2, 0x8182838485868788
        mov %r0, 0
        stxdw [%r10-8], %r2
        ldxdw %r3, [%r10-8]
        add %r0, %r3
        stxw [%r10-16], %r2
        ldxw %r3, [%r10-16]
        add %r0, %r3
        stxh [%r10-24], %r2
        ldxh %r3, [%r10-24]
        add %r0, %r3
        stxb [%r10-32], %r2
        ldxb %r3, [%r10-32]
        add %r0, %r3
        stxdw [%r10-40], %r2
        add %r2, 1
        ldxdw %r3, [%r10-40]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-48], %r2
        stb [%r10-45], 7
        ldxdw %r3, [%r10-48]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-56], %r2
        ldxw %r3, [%r10-52]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-64], %r2
        stxw [%r10-60], %r0
        ldxdw %r3, [%r10-64]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-72], %r2
        ldxdw %r2, [%r10-72]
        ldxdw %r3, [%r10-72]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-80], %r2
        ldxsw %r3, [%r10-80]
        mul %r0, 31
        add %r0, %r3
        stxw [%r10-96], %r2
        ldxdw %r3, [%r10-96]
        mul %r0, 31
        add %r0, %r3
        stxdw [%r10-88], %r2
        mov %r4, 1
        jne %r4, 0, next
        stxdw [%r10-88], %r0
    next:
        ldxdw %r3, [%r10-88]
        mul %r0, 31
        add %r0, %r3
        exit
    ";
    let prog = Program::load(&asm(text)).unwrap();
    assert!(prog.stack_need() < 512, "the case forwarding applies to");
    let want = prog
        .run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap()
        .r0;
    let options = CompileOptions {
        checked: false,
        blind_constants: false,
        zero_stack: true,
    };
    let jit = JitProgram::compile(&prog, &options).unwrap();
    let got = jit
        .run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap()
        .r0;
    assert_eq!(got, want);
}

#[test]
fn folded_addresses_match_the_interpreter() {
    // `rX = rY; rX += rZ` feeding loads and stores at rX is folded into the accesses in
    // unchecked code, unless rX is otherwise read, rY/rZ change while rX still matters, or
    // rX is live where control may enter from elsewhere. r1 = the buffer, r2 = 3.
    // rX is r6 or r7 (an exit reads r0-r5, so those never fold before one).
    let cases = [
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+1]\nldxb %r4, [%r6+2]\nadd %r0, %r4",
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+0]\nsub %r6, %r1\nadd %r0, %r6",
        "mov %r6, %r1\nadd %r6, %r2\nadd %r1, 1\nldxb %r0, [%r6+0]",
        "mov %r6, %r1\nadd %r6, %r2\nadd %r2, 5\nldxb %r0, [%r6+0]",
        "mov %r6, %r1\nadd %r6, 4\nstb [%r6+1], 9\nstxb [%r6+2], %r2\nldxdw %r0, [%r1+0]",
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r1, [%r6+0]\nldxb %r0, [%r6+1]\nadd %r0, %r1",
        "mov %r6, %r1\nadd %r6, 8\nstxdw [%r6+0], %r6\nldxb %r0, [%r1+9]\nldxb %r4, [%r1+8]\nsub %r0, %r4",
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+0]\njeq %r0, 200, l\nl:\nldxb %r4, [%r6+1]\nadd %r0, %r4",
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+4]\nmov %r6, 7\nadd %r0, %r6",
        "mov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+0]\nja l\nl:\nmov %r7, %r6\nsub %r7, %r1\nadd %r0, %r7",
        "mov %r3, %r1\nadd %r3, %r2\nldxb %r3, [%r3+5]\nmov %r0, %r3",
        "mov %r6, %r1\njeq %r2, 99, l\nmov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+0]\nl:\nldxb %r4, [%r6+1]\nadd %r0, %r4",
        "mov %r6, %r1\nja +0\nmov %r6, %r1\nadd %r6, %r2\nldxb %r0, [%r6+0]\njne %r0, 0, +1\nja out\nldxb %r4, [%r6+1]\nadd %r0, %r4\nout:",
        "mov %r7, %r1\nadd %r7, %r2\nldxb %r0, [%r7+0]\ncall local f\nexit\nf:\nmov %r0, %r7\nsub %r0, %r1",
    ];
    let options = CompileOptions {
        checked: false,
        blind_constants: false,
        zero_stack: true,
    };
    for case in cases {
        let text = format!("mov %r2, 3\n{case}\nexit");
        let prog = Program::load(&asm(&text)).unwrap();
        let jit = JitProgram::compile(&prog, &options).unwrap();
        // One buffer for both engines (a case stores a pointer), reset before each run.
        let mut mem = vec![0u8; 32];
        let mut run = |engine: &dyn Fn(u64, &mut MemoryMap) -> u64| {
            for (i, b) in mem.iter_mut().enumerate() {
                *b = i as u8 * 7 + 1;
            }
            let mut map = MemoryMap::new();
            let addr = map.add_slice_mut(&mut mem);
            let r0 = engine(addr, &mut map);
            drop(map);
            (r0, mem.clone())
        };
        let want = run(&|addr, map| {
            prog.run([addr, 0, 0, 0, 0], map, &mut NoHelpers, &Config::default())
                .unwrap()
                .r0
        });
        let got = run(&|addr, map| {
            jit.run([addr, 0, 0, 0, 0], map, &mut NoHelpers, &Config::default())
                .unwrap()
                .r0
        });
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn jumps_over_ja_match_the_interpreter() {
    // Unchecked code emits `if c goto +1; goto L` as `if !c goto L`: every condition, both
    // outcomes, 32 and 64 bits; and not when something else jumps to the `goto`.
    let conds = [
        "jeq", "jne", "jgt", "jge", "jlt", "jle", "jset", "jsgt", "jsge", "jslt", "jsle",
    ];
    let options = CompileOptions {
        checked: false,
        blind_constants: false,
        zero_stack: true,
    };
    for cond in conds {
        for suffix in ["", "32"] {
            for (a, b) in [(5, 5), (-3, 4), (4, -3), (6, 2), (2, 6)] {
                let text = format!(
                    "mov %r1, {a}\nmov %r2, {b}\nmov %r0, 1\n\
                     jeq %r1, 99, over\n\
                     {cond}{suffix} %r1, %r2, +1\n\
                     over:\nja out\n\
                     mov %r0, 2\nout:\nexit"
                );
                let straight = text.replace("jeq %r1, 99, over\n", "");
                let entered = text.replace("jeq %r1, 99, over", "jeq %r1, %r1, over");
                for text in [text, straight, entered] {
                    let prog = Program::load(&asm(&text)).unwrap();
                    let want = prog
                        .run(
                            [0; 5],
                            &mut MemoryMap::new(),
                            &mut NoHelpers,
                            &Config::default(),
                        )
                        .unwrap()
                        .r0;
                    let jit = JitProgram::compile(&prog, &options).unwrap();
                    let got = jit
                        .run(
                            [0; 5],
                            &mut MemoryMap::new(),
                            &mut NoHelpers,
                            &Config::default(),
                        )
                        .unwrap()
                        .r0;
                    assert_eq!(got, want, "{text}");
                }
            }
        }
    }
}
