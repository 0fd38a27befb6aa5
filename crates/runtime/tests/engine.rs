//! Engine selection: which code each program gets, tail-call chains and their limit on
//! every engine, and concurrent test-runs of one JIT-compiled program.
//!
//! Oracles: the kernel's `MAX_TAIL_CALL_CNT` (33 tail calls per run, so a program that
//! tail-calls itself runs 34 times; the corpus test `xdp_tail` checks the same limit against
//! the live kernel) and the interpreter, whose results the differential corpus ties to the
//! kernel's.

mod common;

use bpfkit_isa::{AluOp, AtomicOp, CallTarget, Insn, JmpCond, MemSize, Operand, Reg, Width};
use bpfkit_object::{ld_map, MapDef, MapType, ObjectBuilder, ProgType, ProgramSection};
use bpfkit_runtime::{Engine, Runtime, TestRun, Verification, MAX_TAIL_CALLS};

fn mov(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

/// An XDP program that adds 1 to slot 0 of `counts`, tail-calls slot 0 of `jump` (itself,
/// once installed) and, when the tail call fails, returns 7.
fn self_tail_calling_object() -> bpfkit_object::Object {
    let mut b = ObjectBuilder::new("GPL");
    let counts = b.add_map(MapDef::new("counts", MapType::Array, 4, 8, 1));
    let jump = b.add_map(MapDef::new("jump", MapType::ProgArray, 4, 4, 1));
    b.add_program(
        "chain",
        ProgramSection::for_type(ProgType::Xdp),
        vec![
            mov(Reg::R6, Operand::Reg(Reg::R1)),
            Insn::St {
                size: MemSize::W,
                dst: Reg::R10,
                off: -4,
                imm: 0,
            },
            ld_map(Reg::R1, counts),
            mov(Reg::R2, Operand::Reg(Reg::R10)),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R2,
                src: Operand::Imm(-4),
            },
            Insn::Call(CallTarget::Helper(1)),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R0,
                src: Operand::Imm(0),
                off: 2,
            },
            mov(Reg::R1, Operand::Imm(1)),
            Insn::Atomic {
                size: MemSize::DW,
                op: AtomicOp::Add { fetch: false },
                dst: Reg::R0,
                src: Reg::R1,
                off: 0,
            },
            mov(Reg::R1, Operand::Reg(Reg::R6)),
            ld_map(Reg::R2, jump),
            mov(Reg::R3, Operand::Imm(0)),
            Insn::Call(CallTarget::Helper(12)),
            mov(Reg::R0, Operand::Imm(7)),
            Insn::Exit,
        ],
    );
    b.build().unwrap()
}

fn counter(object: &bpfkit_runtime::LoadedObject) -> u64 {
    let v = object
        .map("counts")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap();
    u64::from_ne_bytes(v.try_into().unwrap())
}

/// `(engine, verification, checked code expected)` for each way a program can run.
const WAYS: [(Engine, Verification, bool); 4] = [
    (Engine::Interpreter, Verification::Verify, true),
    (Engine::Interpreter, Verification::Unverified, true),
    (Engine::Jit, Verification::Verify, false),
    (Engine::Jit, Verification::Unverified, true),
];

#[test]
fn tail_call_chains_stop_after_33_calls_on_every_engine() {
    assert_eq!(MAX_TAIL_CALLS, 33);
    let packet = [0u8; 64];
    for (engine, verification, checked) in WAYS {
        let what = format!("{engine:?} {verification:?}");
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .verification(verification)
            .load(self_tail_calling_object())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        loaded.set_prog_array_slot("jump", 0, "chain").unwrap();
        let prog = loaded.program(Some("chain")).unwrap();
        assert_eq!(prog.engine(), engine, "{what}");
        assert_eq!(prog.checked(), checked, "{what}");
        assert_eq!(prog.verified(), verification == Verification::Verify);

        let out = prog.test_run(&TestRun::new(&packet)).unwrap();
        // The first run plus 33 tail calls; the 34th tail call fails and falls through.
        assert_eq!(out.retval, 7, "{what}");
        assert_eq!(counter(&loaded), 34, "{what}");
        // Counts are per run: the limit applies to each repeat afresh.
        prog.test_run(&TestRun::new(&packet).repeat(10)).unwrap();
        assert_eq!(counter(&loaded), 34 * 11, "{what}");
        // 34 executions of the 13 instructions up to the tail call (`lddw` counts once),
        // then the last one's `r0 = 7; exit`. Checked JIT code counts whole blocks, so it
        // may count more.
        let exact = 34 * 13 + 2;
        match (engine, checked, out.instructions) {
            (Engine::Interpreter, _, Some(n)) => assert_eq!(n, exact, "{what}"),
            (Engine::Jit, true, Some(n)) => assert!(n >= exact, "{what}: {n}"),
            (Engine::Jit, false, None) => {}
            (_, c, n) => panic!("{what}: checked {c} but instruction count {n:?}"),
        }
    }
}

/// Runs with the interpreter and the two kinds of JIT code agree on the instruction count
/// where both count (the interpreter and checked JIT code on a straight program).
#[test]
fn engine_choice_per_program_and_counts() {
    let mut b = ObjectBuilder::new("GPL");
    for name in ["a", "b"] {
        b.add_program(
            name,
            ProgramSection::for_type(ProgType::Xdp),
            vec![mov(Reg::R0, Operand::Imm(2)), Insn::Exit],
        );
    }
    let object = b.build().unwrap();
    let loaded = Runtime::new()
        .ncpus(1)
        .engine(Engine::Jit)
        .program_engine("b", Engine::Interpreter)
        .load(object.clone())
        .unwrap();
    let (a, b) = (
        loaded.program(Some("a")).unwrap(),
        loaded.program(Some("b")).unwrap(),
    );
    assert_eq!((a.engine(), a.checked()), (Engine::Jit, false));
    assert_eq!((b.engine(), b.checked()), (Engine::Interpreter, true));
    let packet = [0u8; 60];
    let (ra, rb) = (
        a.test_run(&TestRun::new(&packet)).unwrap(),
        b.test_run(&TestRun::new(&packet)).unwrap(),
    );
    assert_eq!((ra.retval, ra.instructions), (2, None));
    assert_eq!((rb.retval, rb.instructions), (2, Some(2)));

    let checked = Runtime::new()
        .ncpus(1)
        .engine(Engine::Jit)
        .verification(Verification::Unverified)
        .load(object)
        .unwrap();
    let out = checked
        .program(Some("a"))
        .unwrap()
        .test_run(&TestRun::new(&packet))
        .unwrap();
    assert_eq!((out.retval, out.instructions), (2, Some(2)));
}

/// A program that reads a stack byte it never wrote (which the verifier allows, as the
/// kernel does for a privileged loader) reads 0 on every engine, even right after a run
/// that left other values in the same stack memory; a program that writes before it reads
/// runs on an unzeroed stack in unchecked JIT code, with the same results.
#[test]
fn stack_bytes_never_written_read_zero_on_every_engine() {
    let mut b = ObjectBuilder::new("GPL");
    // Fills the 16 bytes at r10 - 16 with a pattern, returns their low byte.
    b.add_program(
        "writes_first",
        ProgramSection::for_type(ProgType::Xdp),
        vec![
            Insn::LdImm64 {
                dst: Reg::R1,
                kind: bpfkit_isa::LdImm64Kind::Imm,
                imm: 0x5a5a_5a5a_5a5a_5a5a,
            },
            Insn::Stx {
                size: MemSize::DW,
                dst: Reg::R10,
                src: Reg::R1,
                off: -16,
            },
            Insn::Stx {
                size: MemSize::DW,
                dst: Reg::R10,
                src: Reg::R1,
                off: -8,
            },
            Insn::Ldx {
                size: MemSize::B,
                signed: false,
                dst: Reg::R0,
                src: Reg::R10,
                off: -8,
            },
            Insn::Exit,
        ],
    );
    // Returns the 8 bytes at r10 - 16, which it never wrote.
    b.add_program(
        "reads_unwritten",
        ProgramSection::for_type(ProgType::Xdp),
        vec![
            Insn::Ldx {
                size: MemSize::DW,
                signed: false,
                dst: Reg::R0,
                src: Reg::R10,
                off: -16,
            },
            Insn::Exit,
        ],
    );
    let object = b.build().unwrap();
    let packet = [0u8; 64];
    for (engine, verification, _) in WAYS {
        let what = format!("{engine:?} {verification:?}");
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .verification(verification)
            .load(object.clone())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (writer, reader) = (
            loaded.program(Some("writes_first")).unwrap(),
            loaded.program(Some("reads_unwritten")).unwrap(),
        );
        let unchecked = engine == Engine::Jit && verification == Verification::Verify;
        assert_eq!(writer.zeroes_stack(), !unchecked, "{what}");
        assert!(reader.zeroes_stack(), "{what}");
        for _ in 0..3 {
            let out = writer.test_run(&TestRun::new(&packet).repeat(2)).unwrap();
            assert_eq!(out.retval, 0x5a, "{what}");
            let out = reader.test_run(&TestRun::new(&packet)).unwrap();
            assert_eq!(out.retval, 0, "{what}");
        }
    }
}

/// Two or more threads test-running one loaded JIT-compiled program at once get the
/// single-threaded interpreter's results, and every map update of theirs lands.
#[test]
fn concurrent_jit_test_runs_agree_with_the_interpreter() {
    const THREADS: usize = 4;
    const REPEAT: u32 = 50;
    let object =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/xdp/proto_count.o");
    let packets = common::read_pcap(&common::corpus_dir().join("packets.pcap"));
    let load = |engine| {
        Runtime::new()
            .ncpus(THREADS)
            .engine(engine)
            .load_file(&object)
            .unwrap()
    };
    let run_all = |o: &bpfkit_runtime::LoadedObject, cpu: usize, repeat: u32| {
        let prog = o.program(Some("proto_count")).unwrap();
        packets
            .iter()
            .map(|p| {
                prog.test_run(&TestRun::new(p).cpu(cpu).repeat(repeat))
                    .map(|out| (out.retval, out.data_out))
                    .map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    };
    let interp = load(Engine::Interpreter);
    let jit = load(Engine::Jit);
    assert!(!jit.program(None).unwrap().checked());
    let reference = run_all(&interp, 0, 1);
    assert!(reference.iter().filter(|r| r.is_ok()).count() > 10);
    // One pass first, so that every key exists before the threads race to update it (the
    // program inserts with BPF_NOEXIST, which concurrent first packets would contend for).
    assert_eq!(run_all(&jit, 0, 1), reference);
    assert_eq!(jit.dump_maps(), interp.dump_maps());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|cpu| {
                let (jit, run_all) = (&jit, &run_all);
                s.spawn(move || run_all(jit, cpu, REPEAT))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), reference);
        }
    });
    // Every counter went up by exactly THREADS * REPEAT times its one-pass value.
    let scale = 1 + THREADS as u64 * REPEAT as u64;
    let once: Vec<(Vec<u8>, Vec<u8>)> = interp.map("counters").unwrap().iter().collect();
    assert!(!once.is_empty());
    let map = jit.map("counters").unwrap();
    for (key, value) in once {
        let got = map.lookup(&key).unwrap();
        let words = |v: &[u8]| -> Vec<u64> {
            v.chunks(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
                .collect()
        };
        let want: Vec<u64> = words(&value).iter().map(|w| w * scale).collect();
        assert_eq!(words(&got), want, "key {key:02x?}");
    }
}

/// `run_on_memory` hands r1 = memory, a convention the load-time verification (for the
/// program's type) says nothing about: a verified program whose JIT code is unchecked still
/// runs checked there, so reading past the memory is an error, not a wild read.
#[test]
fn run_on_memory_is_checked_even_for_verified_programs() {
    let mut b = ObjectBuilder::new("GPL");
    // Reads xdp_md.data_end: fine on a context, 2 bytes past the end of a 6-byte memory.
    b.add_program(
        "read_ctx",
        ProgramSection::for_type(ProgType::Xdp),
        vec![
            Insn::Ldx {
                size: MemSize::W,
                signed: false,
                dst: Reg::R0,
                src: Reg::R1,
                off: 4,
            },
            Insn::Exit,
        ],
    );
    let object = b.build().unwrap();
    for engine in [Engine::Interpreter, Engine::Jit] {
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .load(object.clone())
            .unwrap();
        let prog = loaded.program(None).unwrap();
        assert!(prog.verified());
        assert_eq!(prog.checked(), engine == Engine::Interpreter);
        let (r0, _) = prog
            .run_on_memory(&mut [1, 2, 3, 4, 5, 6, 7, 8], 0)
            .unwrap();
        assert_eq!(r0, u32::from_ne_bytes([5, 6, 7, 8]) as u64, "{engine:?}");
        let err = prog.run_on_memory(&mut [0; 6], 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("insn 0: out-of-bounds read of 4 bytes"),
            "{engine:?}: {err}"
        );
    }
}
