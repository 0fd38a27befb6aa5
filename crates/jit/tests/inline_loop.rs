//! `bpf_loop` specialised into a counted loop of local calls ([`Specialization::Loop`]).
//! The oracle is the reference interpreter calling a `bpf_loop` helper with the kernel's
//! semantics (flags first, then the 2^23 limit, then calls until the callback returns
//! non-zero); the specialised code must give the same r0, the same memory, and leave r1–r5
//! as a helper call does, without calling the helper.

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg};
use bpfkit_jit::{CallSites, CompileOptions, JitError, JitProgram, Specialization};
use bpfkit_vm::{Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program};

const LOOP: i32 = 181;

/// `bpf_loop` as the kernel implements it; helper 3 adds 1000 to r1 (for callbacks that
/// call helpers themselves).
struct LoopHelper;

impl Helpers for LoopHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match id {
            LOOP => {
                if a[3] != 0 {
                    return Ok(HelperReturn::Value(-22i64 as u64));
                }
                let n = a[0] as u32;
                if n > 1 << 23 {
                    return Ok(HelperReturn::Value(-7i64 as u64));
                }
                for i in 0..n {
                    if ctx.call_function(self, a[1], [i as u64, a[2], 0, 0, 0])? != 0 {
                        return Ok(HelperReturn::Value(i as u64 + 1));
                    }
                }
                Ok(HelperReturn::Value(n as u64))
            }
            3 => Ok(HelperReturn::Value(a[0] + 1000)),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        id == LOOP || id == 3
    }
}

/// Serves helper 3 only: specialised `bpf_loop` calls must not reach the helper.
struct NoLoopHelper;

impl Helpers for NoLoopHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        assert_ne!(id, LOOP, "bpf_loop called as a helper");
        LoopHelper.call(id, a, ctx)
    }

    fn is_known(&self, id: i32) -> bool {
        LoopHelper.is_known(id)
    }
}

/// Assembles `text`, whose `lddw %r2, 0` before each `call 181` is pointed at the function
/// labelled by the line `cb:` (as `lddw r2, <function>` would be), and returns the
/// instructions with the sites to specialise.
fn program(text: &str) -> (Vec<Insn>, CallSites) {
    let mut insns = bpfkit_asm::assemble(text).expect("assembles");
    let mut pcs = Vec::new();
    let mut pc = 0;
    for insn in &insns {
        pcs.push(pc);
        pc += insn.slots();
    }
    // The callback is the instruction after the first `exit` (the tests' convention).
    let exit = insns.iter().position(|i| *i == Insn::Exit).unwrap();
    let callback = pcs[exit + 1];
    let mut sites = CallSites::new();
    for i in 0..insns.len() {
        if let Insn::LdImm64 { dst: Reg::R2, .. } = insns[i] {
            insns[i] = Insn::LdImm64 {
                dst: Reg::R2,
                kind: LdImm64Kind::Func,
                imm: (callback as i64 - pcs[i] as i64 - 1) as u64,
            };
        }
        if insns[i] == Insn::Call(CallTarget::Helper(LOOP)) {
            sites.insert(pcs[i], Specialization::Loop { callback });
        }
    }
    (insns, sites)
}

/// Runs `text` with r1 = a copy of `input` on the interpreter (with the helper) and as
/// unchecked specialised code (blinded or not); asserts equal r0 and memory; returns r0.
fn compare(text: &str, input: &[u8]) -> u64 {
    let (insns, sites) = program(text);
    assert!(!sites.is_empty());
    let prog = Program::load(&insns).unwrap();
    let config = Config::default();
    let mut expected_mem = input.to_vec();
    let expected = {
        let mut memory = MemoryMap::new();
        let addr = memory.add_slice_mut(&mut expected_mem);
        prog.run([addr, 0, 0, 0, 0], &mut memory, &mut LoopHelper, &config)
            .map(|e| e.r0)
    };
    for blind_constants in [false, true] {
        let options = CompileOptions {
            checked: false,
            blind_constants,
            zero_stack: true,
        };
        let jit = JitProgram::compile_specialized(&prog, &options, &sites).unwrap();
        let mut mem = input.to_vec();
        let got = {
            let mut memory = MemoryMap::new();
            let addr = memory.add_slice_mut(&mut mem);
            jit.run([addr, 0, 0, 0, 0], &mut memory, &mut NoLoopHelper, &config)
                .map(|e| e.r0)
        };
        assert_eq!(
            (&expected, &expected_mem),
            (&got, &mem),
            "input {input:?}, blinded {blind_constants}\n{text}"
        );
    }
    expected.unwrap()
}

/// The input: nr_loops (low word), flags, where to stop, nr_loops' high word.
fn input(nr: u32, flags: u32, stop_at: u32, high: u32) -> Vec<u8> {
    [nr, flags, stop_at, high, 0, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

/// Sums `sum = sum * 31 + i + 1` over the loop in a context on the caller's stack, stops
/// when i reaches `stop_at`; returns r0 + r5 (r5 kept across the call) and stores the
/// sum at input + 16.
const SUM: &str = "
    ldxw %r7, [%r1]
    ldxw %r9, [%r1+12]
    lsh %r9, 32
    or %r7, %r9
    ldxw %r4, [%r1+4]
    ldxw %r8, [%r1+8]
    mov %r6, %r1
    stdw [%r10-16], 0
    stxdw [%r10-8], %r8
    mov %r1, %r7
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -16
    mov %r5, 77
    call 181
    ldxdw %r1, [%r10-16]
    stxdw [%r6+16], %r1
    add %r0, %r5
    exit
cb:
    ldxdw %r3, [%r2]
    mul %r3, 31
    add %r3, %r1
    add %r3, 1
    stxdw [%r2], %r3
    ldxdw %r4, [%r2+8]
    mov %r0, 0
    jne %r1, %r4, out
    mov %r0, 1
out:
    exit
";

#[test]
fn counts_stops_and_errors_match_the_helper() {
    let cases = [
        // (nr_loops, flags, stop_at, high word, expected r0 - 77)
        (0, 0, 100, 0, 0u64),
        (1, 0, 100, 0, 1),
        (5, 0, 100, 0, 5),
        (5, 0, 2, 0, 3),
        (5, 0, 0, 0, 1),
        (5, 0, 4, 0, 5),
        // Only the low 32 bits count, as the helper takes a u32.
        (5, 0, 100, 1, 5),
        (1 << 23, 0, 10, 0, 11),
        ((1 << 23) + 1, 0, 10, 0, -7i64 as u64),
        (u32::MAX, 0, 10, 0, -7i64 as u64),
        (5, 1, 100, 0, -22i64 as u64),
        ((1 << 23) + 1, 2, 10, 0, -22i64 as u64),
    ];
    for (nr, flags, stop_at, high, want) in cases {
        let r0 = compare(SUM, &input(nr, flags, stop_at, high));
        assert_eq!(
            r0,
            want.wrapping_add(77),
            "nr {nr} flags {flags} stop {stop_at}"
        );
    }
}

#[test]
fn callbacks_that_call_helpers_and_write_the_callers_stack() {
    // The callback calls helper 3 and keeps a running total in the caller's frame, which
    // the caller reads after the loop.
    let text = "
        ldxw %r1, [%r1]
        stdw [%r10-8], 0
        lddw %r2, 0
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 181
        ldxdw %r1, [%r10-8]
        lsh %r1, 8
        or %r0, %r1
        exit
    cb:
        mov %r6, %r2
        call 3
        ldxdw %r1, [%r6]
        add %r1, %r0
        stxdw [%r6], %r1
        mov %r0, 0
        exit
    ";
    for nr in [0u32, 1, 3, 17] {
        let r0 = compare(text, &input(nr, 0, 0, 0));
        let total: u64 = (0..nr as u64).map(|i| i + 1000).sum();
        assert_eq!(r0, (total << 8) | nr as u64, "nr {nr}");
    }
}

#[test]
fn a_callback_slot_that_is_not_an_instruction_is_refused() {
    let (insns, _) = program(SUM);
    let prog = Program::load(&insns).unwrap();
    let call = insns
        .iter()
        .scan(0, |pc, i| {
            let at = *pc;
            *pc += i.slots();
            Some((at, *i))
        })
        .find(|(_, i)| *i == Insn::Call(CallTarget::Helper(LOOP)))
        .unwrap()
        .0;
    let options = CompileOptions {
        checked: false,
        ..CompileOptions::default()
    };
    // Slot 11 is the second half of `lddw %r2`; 1000 is past the end.
    for callback in [11, 1000] {
        let mut sites = CallSites::new();
        sites.insert(call, Specialization::Loop { callback });
        match JitProgram::compile_specialized(&prog, &options, &sites) {
            Err(JitError::Unsupported { pc, .. }) => assert_eq!(pc, call),
            other => panic!("callback {callback}: {:?}", other.map(|_| ())),
        }
    }
}
