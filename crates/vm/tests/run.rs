//! Behaviour of loading and running: control flow, memory checks, calls, helpers, limits.
//! Expected values follow from RFC 9669 and the documented conventions of this crate.

use bpfkit_isa::{
    AluOp, AtomicOp, CallTarget, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};
use bpfkit_vm::*;

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}
fn alu(op: AluOp, dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src: Operand::Reg(src),
    }
}
fn addi(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(imm),
    }
}
fn ldx(size: MemSize, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: false,
        dst,
        src,
        off,
    }
}
fn stx(size: MemSize, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Stx {
        size,
        dst,
        src,
        off,
    }
}
fn jne(dst: Reg, imm: i32, off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W64,
        cond: JmpCond::Ne,
        dst,
        src: Operand::Imm(imm),
        off,
    }
}
fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}

fn run_with(prog: &[Insn], mem: &mut [u8], config: &Config) -> Result<Exit, VmError> {
    let p = Program::load(prog).expect("loads");
    let mut map = MemoryMap::new();
    let len = mem.len() as u64;
    let addr = map.add_slice_mut(mem);
    p.run([addr, len, 0, 0, 0], &mut map, &mut NoHelpers, config)
}

fn run(prog: &[Insn], mem: &mut [u8]) -> Result<u64, VmError> {
    run_with(prog, mem, &Config::default()).map(|e| e.r0)
}

#[test]
fn arithmetic_and_lddw_count_slots() {
    // lddw takes two slots: the jump over it must count both.
    let prog = [
        Insn::Ja {
            off: 2,
            long: false,
        },
        Insn::LdImm64 {
            dst: Reg::R0,
            kind: LdImm64Kind::Imm,
            imm: 99,
        },
        mov(Reg::R0, 7),
        Insn::Exit,
    ];
    assert_eq!(run(&prog, &mut []).unwrap(), 7);
}

#[test]
fn jump_into_lddw_tail_or_outside_is_a_load_error() {
    let lddw = Insn::LdImm64 {
        dst: Reg::R0,
        kind: LdImm64Kind::Imm,
        imm: 1,
    };
    let e = Program::load(&[
        Insn::Ja {
            off: 1,
            long: false,
        },
        lddw,
        Insn::Exit,
    ])
    .unwrap_err();
    assert_eq!(e.pc, 0);
    assert!(matches!(
        e.kind,
        LoadErrorKind::TargetInLdImm64 { target: 2, .. }
    ));
    assert_eq!(
        e.to_string(),
        "insn 0: jump target 2 is the second slot of an lddw"
    );

    let e = Program::load(&[mov(Reg::R0, 0), jne(Reg::R0, 0, 5), Insn::Exit]).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(matches!(
        e.kind,
        LoadErrorKind::TargetOutOfRange { target: 7, .. }
    ));

    let e = Program::load(&[call_local(-3), Insn::Exit]).unwrap_err();
    assert!(matches!(
        e.kind,
        LoadErrorKind::TargetOutOfRange {
            what: "call",
            target: -2,
            ..
        }
    ));
}

#[test]
fn other_load_errors() {
    assert_eq!(Program::load(&[]).unwrap_err().kind, LoadErrorKind::Empty);
    let e = Program::load(&[mov(Reg::R0, 0), jne(Reg::R0, 0, -2)]).unwrap_err();
    assert_eq!((e.pc, e.kind), (1, LoadErrorKind::FallsOffEnd));
    let e = Program::load(&[mov(Reg::R10, 0), Insn::Exit]).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::WritesFramePointer);
    let e = Program::load(&[
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::MapFd,
            imm: 3,
        },
        Insn::Exit,
    ])
    .unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::UnresolvedPseudo(LdImm64Kind::MapFd));
    let e = Program::from_bytes(&[0x95, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert!(matches!(e.kind, LoadErrorKind::Decode(_)));
    let e = Program::load(&[Insn::Call(CallTarget::Helper(9)), Insn::Exit]).unwrap();
    let err = e.check_helpers(&NoHelpers).unwrap_err();
    assert_eq!(err.to_string(), "insn 0: unknown helper 9");
}

#[test]
fn input_memory_is_read_and_written_through_r1() {
    // *(u32*)(r1+4) = *(u32*)(r1+0) + r2 ; r0 = *(u64*)(r1+0)
    let prog = [
        ldx(MemSize::W, Reg::R3, Reg::R1, 0),
        alu(AluOp::Add, Reg::R3, Reg::R2),
        stx(MemSize::W, Reg::R1, Reg::R3, 4),
        ldx(MemSize::DW, Reg::R0, Reg::R1, 0),
        Insn::Exit,
    ];
    let mut mem = [1, 0, 0, 0, 0, 0, 0, 0];
    let r0 = run(&prog, &mut mem).unwrap();
    assert_eq!(mem, [1, 0, 0, 0, 9, 0, 0, 0]);
    assert_eq!(r0, u64::from_ne_bytes(mem));
}

#[test]
fn out_of_bounds_access_names_pc_address_and_size() {
    let prog = [
        mov(Reg::R0, 0),
        ldx(MemSize::W, Reg::R0, Reg::R1, 6),
        Insn::Exit,
    ];
    let mut mem = [0u8; 8];
    let addr = mem.as_ptr() as u64;
    let e = run(&prog, &mut mem).unwrap_err();
    assert_eq!(e.pc, 1);
    let f = match e.kind {
        VmErrorKind::Memory(f) => f,
        k => panic!("unexpected {k:?}"),
    };
    assert_eq!((f.addr, f.size, f.access), (addr + 6, 4, AccessKind::Read));
    assert!(matches!(f.reason, FaultReason::CrossesEnd { .. }));

    // A null pointer belongs to no region.
    let prog = [
        mov(Reg::R1, 0),
        stx(MemSize::B, Reg::R1, Reg::R1, 0),
        Insn::Exit,
    ];
    let e = run(&prog, &mut []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 1: out-of-bounds write of 1 byte at 0x0 (no region)"
    );
}

#[test]
fn read_only_input_refuses_stores() {
    let p = Program::load(&[stx(MemSize::B, Reg::R1, Reg::R1, 0), Insn::Exit]).unwrap();
    let data = [0u8; 4];
    let mut map = MemoryMap::new();
    let a = map.add_slice(&data);
    let e = p
        .run(
            [a, 0, 0, 0, 0],
            &mut map,
            &mut NoHelpers,
            &Config::default(),
        )
        .unwrap_err();
    assert!(matches!(
        e.kind,
        VmErrorKind::Memory(MemFault {
            reason: FaultReason::ReadOnly,
            ..
        })
    ));
}

#[test]
fn stack_is_512_bytes_below_r10_and_nothing_above() {
    let store = |off| {
        [
            mov(Reg::R0, 1),
            stx(MemSize::B, Reg::R10, Reg::R0, off),
            Insn::Exit,
        ]
    };
    assert_eq!(run(&store(-1), &mut []).unwrap(), 1);
    assert_eq!(run(&store(-512), &mut []).unwrap(), 1);
    assert!(run(&store(-513), &mut []).is_err());
    assert!(run(&store(0), &mut []).is_err());
}

#[test]
fn alignment_checking_is_optional() {
    // The stack is 8-byte aligned, so r10 - 7 is misaligned for a 4-byte load.
    let prog = [ldx(MemSize::W, Reg::R0, Reg::R10, -7), Insn::Exit];
    assert_eq!(run(&prog, &mut []).unwrap(), 0);
    let strict = Config {
        check_alignment: true,
        ..Config::default()
    };
    let e = run_with(&prog, &mut [], &strict).unwrap_err();
    assert!(matches!(
        e.kind,
        VmErrorKind::Memory(MemFault {
            reason: FaultReason::Misaligned,
            size: 4,
            ..
        })
    ));
    let aligned = [ldx(MemSize::W, Reg::R0, Reg::R10, -8), Insn::Exit];
    assert!(run_with(&aligned, &mut [], &strict).is_ok());
}

#[test]
fn local_calls_preserve_r6_to_r9_and_get_fresh_frames() {
    // main: r6 = 6; store 11 at fp-8; call f; r0 += r6 + *(fp-8); exit
    // f:    r6 = 100; store 22 at its own fp-8; r0 = *(its fp-8); exit
    let prog = [
        mov(Reg::R6, 6),
        mov(Reg::R1, 11),
        stx(MemSize::DW, Reg::R10, Reg::R1, -8),
        call_local(4),
        alu(AluOp::Add, Reg::R0, Reg::R6),
        ldx(MemSize::DW, Reg::R2, Reg::R10, -8),
        alu(AluOp::Add, Reg::R0, Reg::R2),
        Insn::Exit,
        // f at slot 8
        mov(Reg::R6, 100),
        mov(Reg::R1, 22),
        stx(MemSize::DW, Reg::R10, Reg::R1, -8),
        ldx(MemSize::DW, Reg::R0, Reg::R10, -8),
        Insn::Exit,
    ];
    assert_eq!(run(&prog, &mut []).unwrap(), 22 + 6 + 11);
}

#[test]
fn callee_may_use_callers_frame_through_a_pointer() {
    // main: *(fp-8) = 5; r1 = fp-8; call f; r0 = *(fp-8); exit.  f: *(r1) += 1 via atomic add.
    let prog = [
        mov(Reg::R2, 5),
        stx(MemSize::DW, Reg::R10, Reg::R2, -8),
        alu(AluOp::Mov, Reg::R1, Reg::R10),
        addi(Reg::R1, -8),
        call_local(2),
        ldx(MemSize::DW, Reg::R0, Reg::R10, -8),
        Insn::Exit,
        mov(Reg::R2, 1),
        Insn::Atomic {
            size: MemSize::DW,
            op: AtomicOp::Add { fetch: false },
            dst: Reg::R1,
            src: Reg::R2,
            off: 0,
        },
        Insn::Exit,
    ];
    assert_eq!(run(&prog, &mut []).unwrap(), 6);
}

#[test]
fn recursion_stops_at_eight_frames() {
    // f calls itself forever: the 8th nested call fails (main + 7 callees = 8 frames).
    let prog = [call_local(-1), Insn::Exit];
    let e = run(&prog, &mut []).unwrap_err();
    assert_eq!(e.to_string(), "insn 0: call depth exceeds 8 frames");

    // Depth 7 (countdown from 6) works: r1 = 6; f: if r1 != 0 { r1 -= 1; call f }; exit.
    let prog = [
        mov(Reg::R1, 6),
        call_local(1),
        Insn::Exit,
        jne(Reg::R1, 0, 1),
        Insn::Exit,
        addi(Reg::R1, -1),
        call_local(-4),
        Insn::Exit,
    ];
    assert!(run(&prog, &mut []).is_ok());
    let mut deeper = prog;
    deeper[0] = mov(Reg::R1, 7);
    assert!(matches!(
        run(&deeper, &mut []).unwrap_err().kind,
        VmErrorKind::CallDepth(8)
    ));
}

#[test]
fn budget_stops_infinite_loops_and_counts_exactly() {
    let prog = [
        Insn::Ja {
            off: -1,
            long: false,
        },
        Insn::Exit,
    ];
    let config = Config {
        budget: 1000,
        ..Config::default()
    };
    let e = run_with(&prog, &mut [], &config).unwrap_err();
    assert_eq!(e.to_string(), "insn 0: instruction budget of 1000 exceeded");

    let prog = [mov(Reg::R0, 1), mov(Reg::R0, 2), Insn::Exit];
    let exact = Config {
        budget: 3,
        ..Config::default()
    };
    assert_eq!(run_with(&prog, &mut [], &exact).unwrap().executed, 3);
    let short = Config {
        budget: 2,
        ..Config::default()
    };
    assert_eq!(run_with(&prog, &mut [], &short).unwrap_err().pc, 2);
}

#[test]
fn helpers_get_arguments_can_stop_and_add_regions() {
    let mut helpers = HelperTable::new();
    helpers.register(1, |a, _| Ok(HelperReturn::Value(a[0] + a[4])));
    helpers.register(2, |a, _| Ok(HelperReturn::Stop(a[0])));
    // Helper 3 returns a pointer to a fresh 8-byte buffer holding 0x2a.
    helpers.register(3, |_, ctx| {
        Ok(HelperReturn::Value(ctx.memory.add_owned(
            42u64.to_ne_bytes().to_vec(),
            Access::ReadWrite,
        )))
    });
    // Helper 4 reads 8 bytes at r1 through the checked map.
    helpers.register(4, |a, ctx| {
        let v = ctx.memory.read_vec(a[0], 8)?;
        Ok(HelperReturn::Value(u64::from_ne_bytes(
            v.try_into().unwrap(),
        )))
    });
    let prog = Program::load(&[
        mov(Reg::R1, 40),
        mov(Reg::R5, 2),
        Insn::Call(CallTarget::Helper(1)),
        alu(AluOp::Mov, Reg::R6, Reg::R0),
        Insn::Call(CallTarget::Helper(3)),
        ldx(MemSize::DW, Reg::R7, Reg::R0, 0),
        alu(AluOp::Add, Reg::R6, Reg::R7),
        alu(AluOp::Mov, Reg::R1, Reg::R6),
        Insn::Call(CallTarget::Helper(2)),
        mov(Reg::R0, 0),
        Insn::Exit,
    ])
    .unwrap();
    prog.check_helpers(&helpers).unwrap();
    let mut map = MemoryMap::new();
    let exit = prog
        .run([0; 5], &mut map, &mut helpers, &Config::default())
        .unwrap();
    assert_eq!(exit.r0, 84);
    assert_eq!(exit.executed, 9);
    assert!(map.regions().is_empty(), "run-scoped region removed");

    // A helper's own out-of-bounds read fails the run at the call.
    let bad = Program::load(&[
        mov(Reg::R1, 16),
        Insn::Call(CallTarget::Helper(4)),
        Insn::Exit,
    ])
    .unwrap();
    let e = bad
        .run([0; 5], &mut map, &mut helpers, &Config::default())
        .unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(matches!(e.kind, VmErrorKind::Memory(_)));

    let unknown = Program::load(&[Insn::Call(CallTarget::Helper(77)), Insn::Exit]).unwrap();
    let e = unknown
        .run([0; 5], &mut map, &mut helpers, &Config::default())
        .unwrap_err();
    assert_eq!(e.kind, VmErrorKind::UnknownHelper(77));
}

#[test]
fn callx_takes_helper_numbers_and_function_addresses() {
    let mut helpers = HelperTable::new();
    helpers.register(5, |a, _| Ok(HelperReturn::Value(a[0] * 3)));
    // r1 = 7; r2 = 5; callx r2 -> helper 5 -> 21
    let p = Program::load(&[
        mov(Reg::R1, 7),
        mov(Reg::R2, 5),
        Insn::Call(CallTarget::Reg(Reg::R2)),
        Insn::Exit,
    ])
    .unwrap();
    let mut map = MemoryMap::new();
    let r = p.run([0; 5], &mut map, &mut helpers, &Config::default());
    assert_eq!(r.unwrap().r0, 21);

    // r3 = &f; callx r3; f: r0 = 9. As in the kernel, the function is at lddw pc + 1 + imm
    // (slots 0-1 lddw, 2 callx, 3 exit, 4 f).
    let p = Program::load(&[
        Insn::LdImm64 {
            dst: Reg::R3,
            kind: LdImm64Kind::Func,
            imm: 3,
        },
        Insn::Call(CallTarget::Reg(Reg::R3)),
        Insn::Exit,
        mov(Reg::R0, 9),
        Insn::Exit,
    ])
    .unwrap();
    let r = p.run([0; 5], &mut map, &mut helpers, &Config::default());
    assert_eq!(r.unwrap().r0, 9);

    // A value above i32::MAX without the function tag is neither.
    let p = Program::load(&[
        Insn::LdImm64 {
            dst: Reg::R3,
            kind: LdImm64Kind::Imm,
            imm: 0x1_0000_0005,
        },
        Insn::Call(CallTarget::Reg(Reg::R3)),
        Insn::Exit,
    ])
    .unwrap();
    let e = p
        .run([0; 5], &mut map, &mut helpers, &Config::default())
        .unwrap_err();
    assert_eq!(e.kind, VmErrorKind::BadCallTarget(0x1_0000_0005));
}

#[test]
fn packet_loads_are_big_endian_and_end_the_program_when_out_of_bounds() {
    let abs = |size, imm| Insn::LdAbs { size, imm };
    let pkt = [0x45, 0x00, 0x00, 0x54, 0xaa];
    let run_pkt = |prog: &[Insn], pkt: Option<&[u8]>| {
        let p = Program::load(prog).unwrap();
        let mut map = MemoryMap::new();
        if let Some(pkt) = pkt {
            map.set_packet(pkt);
        }
        p.run([0; 5], &mut map, &mut NoHelpers, &Config::default())
    };
    let r = run_pkt(&[abs(MemSize::W, 0), Insn::Exit], Some(&pkt));
    assert_eq!(r.unwrap().r0, 0x4500_0054);
    let ind = [
        mov(Reg::R2, 3),
        Insn::LdInd {
            size: MemSize::H,
            src: Reg::R2,
            imm: 0,
        },
        Insn::Exit,
    ];
    assert_eq!(run_pkt(&ind, Some(&pkt)).unwrap().r0, 0x54aa);
    // Out of bounds: r0 = 0 and the rest is skipped.
    let oob = [abs(MemSize::W, 2), mov(Reg::R0, 7), Insn::Exit];
    assert_eq!(
        run_pkt(&oob, Some(&pkt)).unwrap(),
        Exit { r0: 0, executed: 1 }
    );
    let e = run_pkt(&oob, None).unwrap_err();
    assert_eq!(e.to_string(), "insn 0: packet load without a packet");
}

#[test]
fn program_is_send_and_sync_and_runs_concurrently() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
    // Each thread sums 1..=n through a stack slot; results must not interfere.
    let prog = std::sync::Arc::new(
        Program::load(&[
            mov(Reg::R0, 0),
            stx(MemSize::DW, Reg::R10, Reg::R0, -8),
            // loop: *(fp-8) += r1; r1 -= 1; if r1 != 0 goto loop
            ldx(MemSize::DW, Reg::R3, Reg::R10, -8),
            alu(AluOp::Add, Reg::R3, Reg::R1),
            stx(MemSize::DW, Reg::R10, Reg::R3, -8),
            addi(Reg::R1, -1),
            jne(Reg::R1, 0, -5),
            ldx(MemSize::DW, Reg::R0, Reg::R10, -8),
            Insn::Exit,
        ])
        .unwrap(),
    );
    let handles: Vec<_> = (1..=4u64)
        .map(|t| {
            let prog = prog.clone();
            std::thread::spawn(move || {
                // Smaller under Miri, which interprets every host instruction.
                let n = if cfg!(miri) { 10 * t } else { 1000 * t };
                let mut map = MemoryMap::new();
                let r = prog.run(
                    [n, 0, 0, 0, 0],
                    &mut map,
                    &mut NoHelpers,
                    &Config::default(),
                );
                (n, r.unwrap().r0)
            })
        })
        .collect();
    for h in handles {
        let (n, r0) = h.join().unwrap();
        assert_eq!(r0, n * (n + 1) / 2);
    }
}

#[test]
fn atomics_on_shared_raw_memory_from_threads_do_not_lose_updates() {
    // 4 threads x RUNS runs of `lock add [r1], 1` on one shared u64.
    const RUNS: u64 = if cfg!(miri) { 5 } else { 1000 };
    let prog = std::sync::Arc::new(
        Program::load(&[
            mov(Reg::R2, 1),
            Insn::Atomic {
                size: MemSize::DW,
                op: AtomicOp::Add { fetch: false },
                dst: Reg::R1,
                src: Reg::R2,
                off: 0,
            },
            mov(Reg::R0, 0),
            Insn::Exit,
        ])
        .unwrap(),
    );
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (prog, counter) = (prog.clone(), counter.clone());
            std::thread::spawn(move || {
                for _ in 0..RUNS {
                    let mut map = MemoryMap::new();
                    // SAFETY: the counter outlives the run and is only accessed atomically.
                    let a = unsafe { map.add_raw(counter.as_ptr().cast(), 8, Access::ReadWrite) };
                    prog.run(
                        [a, 0, 0, 0, 0],
                        &mut map,
                        &mut NoHelpers,
                        &Config::default(),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 4 * RUNS);
}

/// Runs uBPF-syntax assembly with r1 = `arg`.
fn run_text(text: &str, arg: u64) -> u64 {
    let insns = bpfkit_asm::assemble(text).expect("assembles");
    let p = Program::load(&insns).expect("loads");
    p.run(
        [arg, 0, 0, 0, 0],
        &mut MemoryMap::new(),
        &mut NoHelpers,
        &Config::default(),
    )
    .expect("runs")
    .r0
}

#[test]
fn stack_reads_zero_where_an_earlier_run_on_the_thread_wrote() {
    // Stacks are reused between runs on a thread: a run must never see the bytes an earlier
    // one left, whether it reaches its frames at constant offsets only (partly zeroed) or
    // through a copy of r10 (all zeroed), in the main frame or a callee's.
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
        exit";
    let readers = [
        "ldxdw %r0, [%r10-16]\nexit",
        "ldxdw %r0, [%r10-512]\nexit",
        "mov %r1, %r10\nadd %r1, -16\nldxdw %r0, [%r1+0]\nexit",
        "call local f\nexit\nf:\nldxdw %r0, [%r10-8]\nexit",
        "call local f\nexit\nf:\nmov %r2, %r10\nldxdw %r0, [%r2-512]\nexit",
        "call local f\nexit\nf:\nldxdw %r0, [%r10-512]\nexit",
    ];
    for reader in readers {
        assert_eq!(run_text(dirty, u64::MAX), u64::MAX, "dirtying run");
        assert_eq!(run_text(reader, 0), 0, "{reader}");
    }
}
