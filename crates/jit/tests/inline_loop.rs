//! `bpf_loop` specialised into a counted loop of local calls ([`Specialization::Loop`]).
//! The oracle is the reference interpreter calling a `bpf_loop` helper with the kernel's
//! semantics (flags first, then the 2^23 limit, then calls until the callback returns
//! non-zero); the specialised code must give the same r0, the same memory, and leave r1–r5
//! as a helper call does, without calling the helper.

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg};
use bpfkit_jit::{CallSites, CompileOptions, JitError, JitProgram, Specialization};
use bpfkit_vm::{
    Config, Exit, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program, VmError,
};

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

/// The slot index (pc) of each instruction, and the callback's: the instruction after the
/// first `exit` (the tests' convention).
/// Options of unchecked code (which honours specialisations), constants blinded or not.
fn unchecked(blind_constants: bool) -> CompileOptions {
    CompileOptions {
        checked: false,
        blind_constants,
        zero_stack: true,
    }
}

fn slots_and_callback(insns: &[Insn]) -> (Vec<usize>, usize) {
    let mut pcs = Vec::new();
    let mut pc = 0;
    for insn in insns {
        pcs.push(pc);
        pc += insn.slots();
    }
    let exit = insns.iter().position(|i| *i == Insn::Exit).unwrap();
    let callback = pcs[exit + 1];
    (pcs, callback)
}

/// Assembles `text`, whose `lddw %r2, 0` before each `call 181` is pointed at the function
/// labelled by the line `cb:` (as `lddw r2, <function>` would be), and returns the
/// instructions with the sites to specialise.
fn program(text: &str) -> (Vec<Insn>, CallSites) {
    let mut insns = bpfkit_asm::assemble(text).expect("assembles");
    let (pcs, callback) = slots_and_callback(&insns);
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
        let options = unchecked(blind_constants);
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

// `bpf_for_each_map_elem` over an array ([`Specialization::ArrayForEach`]).

const FOR_EACH: i32 = 164;

/// The array the walks visit: `len` u64 values (stride 8) at `base`.
#[derive(Clone, Copy)]
struct Array {
    base: u64,
    len: u32,
}

/// `bpf_for_each_map_elem` over `array` as the kernel implements it (r1 must be 1, the
/// tests' map handle); helper 2 returns the `u32` at r1 read through the memory map (so a
/// key pointer must be memory the run may read).
struct WalkHelper(Array);

impl Helpers for WalkHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match id {
            FOR_EACH => {
                assert_eq!(a[0], 1, "map handle");
                if a[3] != 0 {
                    return Ok(HelperReturn::Value(-22i64 as u64));
                }
                let key = ctx
                    .memory
                    .add_owned(vec![0; 4], bpfkit_vm::Access::ReadWrite);
                let mut n = 0;
                for i in 0..self.0.len {
                    ctx.memory.write(key, &i.to_ne_bytes())?;
                    n += 1;
                    let value = self.0.base + 8 * i as u64;
                    if ctx.call_function(self, a[1], [a[0], key, value, a[2], 0])? != 0 {
                        break;
                    }
                }
                Ok(HelperReturn::Value(n))
            }
            2 => Ok(HelperReturn::Value(
                ctx.memory.load_uint(a[0], bpfkit_isa::MemSize::W)?,
            )),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        id == FOR_EACH || id == 2
    }
}

/// Serves helper 2 only, unless the walk falls back to the helper (`allow_walk`).
struct NoWalkHelper {
    inner: WalkHelper,
    allow_walk: bool,
}

impl Helpers for NoWalkHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        assert!(
            id != FOR_EACH || self.allow_walk,
            "bpf_for_each_map_elem called as a helper"
        );
        self.inner.call(id, a, ctx)
    }

    fn is_known(&self, id: i32) -> bool {
        self.inner.is_known(id)
    }
}

/// `run` with r1 = the address of a copy of `input` and an array of `len + 1` values
/// `i * 0x01010101` (one past the end, to catch overruns), both in the memory map: r0 (or
/// the error), the input and the array afterwards.
fn with_array(
    input: &[u8],
    len: u32,
    run: impl FnOnce(&mut MemoryMap<'_>, u64, Array) -> Result<Exit, VmError>,
) -> (Result<u64, VmError>, Vec<u8>, Vec<u64>) {
    let mut storage: Vec<u64> = (0..len as u64 + 1).map(|i| i * 0x0101_0101).collect();
    let array = Array {
        base: storage.as_mut_ptr() as u64,
        len,
    };
    let mut mem = input.to_vec();
    let r0 = {
        let mut memory = MemoryMap::new();
        let addr = memory.add_slice_mut(&mut mem);
        // SAFETY: `storage` outlives the memory map and nothing else touches it.
        unsafe {
            memory.add_raw(
                storage.as_mut_ptr().cast(),
                storage.len() * 8,
                bpfkit_vm::Access::ReadWrite,
            )
        };
        run(&mut memory, addr, array).map(|e| e.r0)
    };
    (r0, mem, storage)
}

/// Runs `text` (its `lddw %r2, 0` pointed at `cb:`, see [`program`]) with r1 = a copy of
/// `input` on the interpreter and as unchecked code with each `call 164` specialised over
/// an array of `len` values; compares r0, the input and the array. `fallback` says the
/// inline walk is expected to fall back to the helper (frame limit).
fn compare_walk(text: &str, input: &[u8], len: u32, fallback: bool) -> u64 {
    let (insns, _) = program(text);
    let (pcs, callback) = slots_and_callback(&insns);
    let prog = Program::load(&insns).unwrap();
    let config = Config::default();
    let expected = with_array(input, len, |memory, addr, storage| {
        prog.run(
            [addr, 0, 0, 0, 0],
            memory,
            &mut WalkHelper(storage),
            &config,
        )
    });
    for blind_constants in [false, true] {
        // The array's address is only known inside the run: specialise over the copy
        // placed where the run puts it, by compiling per run.
        let options = unchecked(blind_constants);
        let got = with_array(input, len, |memory, addr, storage| {
            let mut sites = CallSites::new();
            for (i, insn) in insns.iter().enumerate() {
                if *insn == Insn::Call(CallTarget::Helper(FOR_EACH)) {
                    let walk = Specialization::ArrayForEach {
                        base: storage.base,
                        stride: 8,
                        len,
                        callback,
                    };
                    sites.insert(pcs[i], walk);
                }
            }
            let jit = JitProgram::compile_specialized(&prog, &options, &sites).unwrap();
            let mut helpers = NoWalkHelper {
                inner: WalkHelper(storage),
                allow_walk: fallback,
            };
            jit.run([addr, 0, 0, 0, 0], memory, &mut helpers, &config)
        });
        assert_eq!(
            expected, got,
            "len {len}, blinded {blind_constants}\n{text}"
        );
    }
    expected.0.unwrap()
}

/// Sums key * 1000 + value over the walk in a context on the caller's stack, adds 1 to
/// each value, reads the key again through helper 2 (which goes through the memory map)
/// and stops at the key in input[0]; returns r0 (visited) | sum << 16, plus r5.
const WALK: &str = "
    ldxw %r8, [%r1]
    ldxw %r4, [%r1+4]
    stdw [%r10-16], 0
    stxdw [%r10-8], %r8
    mov %r1, 1
    lddw %r2, 0
    mov %r3, %r10
    add %r3, -16
    mov %r5, 77
    call 164
    ldxdw %r1, [%r10-16]
    lsh %r1, 16
    or %r0, %r1
    add %r0, %r5
    exit
cb:
    mov %r6, %r2
    mov %r7, %r4
    ldxw %r1, [%r2]
    mul %r1, 1000
    ldxdw %r2, [%r3]
    add %r1, %r2
    add %r2, 1
    stxdw [%r3], %r2
    ldxdw %r2, [%r7]
    add %r2, %r1
    stxdw [%r7], %r2
    mov %r1, %r6
    call 2
    ldxdw %r1, [%r7+8]
    mov %r2, %r0
    mov %r0, 0
    jne %r2, %r1, out
    mov %r0, 1
out:
    exit
";

#[test]
fn array_walks_match_the_helper() {
    for (len, stop_at, flags) in [
        (0u32, 100u32, 0u32),
        (1, 100, 0),
        (5, 100, 0),
        (5, 2, 0),
        (5, 0, 0),
        (16, 15, 0),
        (5, 100, 1),
    ] {
        let r0 = compare_walk(WALK, &input(stop_at, flags, 0, 0), len, false);
        let visited = match flags {
            0 => len.min(stop_at + 1) as u64,
            _ => -22i64 as u64,
        };
        assert_eq!(
            r0.wrapping_sub(77) & 0xffff,
            visited & 0xffff,
            "len {len} stop {stop_at}"
        );
    }
}

#[test]
fn walks_too_deep_for_an_extra_frame_call_the_helper() {
    // `levels` nested local calls, then the walk. Through the helper the callback is one
    // frame below the walk's, inline two: at six levels that would be a ninth frame, so
    // the code must call the helper; at five it runs inline.
    for (levels, fallback) in [(5, false), (6, true)] {
        // The callback comes right after the first `exit` (see `program`).
        let mut text = String::from("ja start\nexit\ncb:\nmov %r0, 0\nexit\nstart:\n");
        for level in 0..levels {
            text.push_str(&format!("call local l{level}\nexit\nl{level}:\n"));
        }
        text.push_str(
            "
            mov %r1, 1
            lddw %r2, 0
            mov %r3, 0
            mov %r4, 0
            call 164
            exit
        ",
        );
        assert_eq!(
            compare_walk(&text, &[0; 8], 7, fallback),
            7,
            "{levels} levels"
        );
    }
}

// Pure helpers called directly ([`Specialization::PureCall`], [`Specialization::BoundCall`]).

/// Helper 5 as a pure function: a mix of r1–r5 and the byte at r1.
unsafe extern "sysv64" fn mix(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    // SAFETY: the tests pass a readable r1.
    let byte = unsafe { *(a as *const u8) } as u64;
    (a ^ b.rotate_left(8) ^ c.rotate_left(16) ^ d.rotate_left(24) ^ e.rotate_left(32)) + byte
}

/// Helper 5 through the trampoline, for the interpreter: the same function, with r1
/// replaced by `bound` if given (as a [`Specialization::BoundCall`] does).
struct MixHelper {
    bound: Option<u64>,
}

impl Helpers for MixHelper {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        assert_eq!(id, 5);
        let r1 = match self.bound {
            Some(r1) => r1,
            None => {
                ctx.memory.load_uint(a[0], bpfkit_isa::MemSize::B)?;
                a[0]
            }
        };
        // SAFETY: r1 was just checked readable, or is `BOUND_BYTES`.
        Ok(HelperReturn::Value(unsafe {
            mix(r1, a[1], a[2], a[3], a[4])
        }))
    }

    fn is_known(&self, id: i32) -> bool {
        id == 5
    }
}

/// What a bound call's r1 points at.
static BOUND_BYTES: [u8; 4] = [0x5a, 1, 2, 3];

#[test]
fn pure_and_bound_calls_give_the_helpers_result_and_keep_r1_to_r5() {
    // r0 = mix(...) twice, with r1–r5 read back after each call.
    let text = "
        mov %r6, %r1
        mov %r2, 0x1234
        mov %r3, -7
        lddw %r4, 0x1122334455667788
        mov %r5, 99
        call 5
        mov %r7, %r0
        add %r7, %r1
        add %r7, %r2
        add %r7, %r3
        add %r7, %r4
        add %r7, %r5
        add %r1, 1
        call 5
        xor %r0, %r7
        add %r0, %r1
        exit
    ";
    let insns = bpfkit_asm::assemble(text).unwrap();
    let prog = Program::load(&insns).unwrap();
    let func = mix as unsafe extern "sysv64" fn(u64, u64, u64, u64, u64) -> u64 as usize as u64;
    let bound = BOUND_BYTES.as_ptr() as u64;
    let specialized = |specialization: Specialization| {
        let mut sites = CallSites::new();
        let mut pc = 0;
        for insn in &insns {
            if *insn == Insn::Call(CallTarget::Helper(5)) {
                sites.insert(pc, specialization);
            }
            pc += insn.slots();
        }
        assert_eq!(sites.len(), 2);
        sites
    };
    let input: Vec<u8> = (1..=16).collect();
    let config = Config::default();
    // One buffer for every run: r0 depends on its address.
    let mut mem = input.clone();
    let mut run = |jit: Option<&JitProgram>, bound: Option<u64>| {
        mem.copy_from_slice(&input);
        let mut memory = MemoryMap::new();
        let addr = memory.add_slice_mut(&mut mem);
        let mut oracle = MixHelper { bound };
        match jit {
            None => prog.run([addr, 0, 0, 0, 0], &mut memory, &mut oracle, &config),
            Some(j) => j.run([addr, 0, 0, 0, 0], &mut memory, &mut NoLoopHelper, &config),
        }
        .map(|e| e.r0)
    };
    for (specialization, r1) in [
        (Specialization::PureCall { func }, None),
        (Specialization::BoundCall { func, r1: bound }, Some(bound)),
    ] {
        let expected = run(None, r1).unwrap();
        let sites = specialized(specialization);
        for blind_constants in [false, true] {
            let options = unchecked(blind_constants);
            let jit = JitProgram::compile_specialized(&prog, &options, &sites).unwrap();
            let what = format!("{specialization:?}, blinded {blind_constants}");
            assert_eq!(run(Some(&jit), r1), Ok(expected), "{what}");
        }
    }
    // The two differ (r1 is the bound value in one, the program's in the other).
    assert_ne!(run(None, None), run(None, Some(bound)));
}
