//! Tail calls made as jumps ([`JitProgram::run_with_tail_calls`]) against the oracle: the
//! interpreter running each program of a chain as a new run, the way a host without
//! jumps does (the helper stops the program and the host starts the target).
//!
//! Every chain also runs with the host declining to resolve (ordinary helper calls), on
//! tail-callable code run without a resolver, on code that is not tail-callable and on
//! checked code: all must give the interpreter's r0 (or error) and memory. With jumps, the
//! tests also check that the helper was not called (the jump path was taken), and that the
//! callee-saved registers of the Rust caller survive chains whose programs use r6–r9
//! differently.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind};
use bpfkit_jit::{
    CallSites, CompileOptions, JitProgram, Specialization, TailCall, TailCalls, MAX_TAIL_CALLS,
};
use bpfkit_vm::{
    Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program, VmError,
};

/// The program array's handle (what r2 holds at `call 12`).
const MAP: u64 = 0x1000;

/// `lddw` immediate replaced by the address of the function at the label `cb`.
const FUNC_MARK: u64 = 0x0bf0;

/// How the host answers the JIT's resolver.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    /// Jumps for the slots that hold a program, counting them (as the runtime does).
    Jump,
    /// Jumps for every slot that holds a program without counting: the JIT's own limit
    /// must stop the chain.
    JumpUncounted,
    /// Leaves every tail call to helper 12.
    Helper,
    /// Panics.
    Panic,
}

/// A host with a program array of `slots` (program ids) and helper 1 (a value from its
/// arguments) and 12 (`bpf_tail_call` as a runtime without jumps makes it: it stops the
/// program and leaves the target in `pending`).
struct Host<'p> {
    jits: &'p [JitProgram],
    slots: Vec<Option<usize>>,
    answer: Answer,
    /// Tail calls made in this run (at most `MAX_TAIL_CALLS`).
    made: u32,
    pending: Option<usize>,
    /// How often helper 12 was called.
    helper_calls: u32,
    /// How often the JIT's resolver asked.
    resolver_calls: u32,
}

impl<'p> Host<'p> {
    /// A host that has made no tail call yet.
    fn new(jits: &'p [JitProgram], slots: Vec<Option<usize>>, answer: Answer) -> Self {
        Host {
            jits,
            slots,
            answer,
            made: 0,
            pending: None,
            helper_calls: 0,
            resolver_calls: 0,
        }
    }

    /// The program a tail call through `map` at `index` goes to now, if it succeeds.
    fn target(&self, map: u64, index: u64) -> Option<usize> {
        // The index is a u32, as in the kernel.
        let index = index as u32 as u64;
        if map != MAP || index >= self.slots.len() as u64 || self.made >= MAX_TAIL_CALLS {
            return None;
        }
        self.slots[index as usize]
    }
}

impl Helpers for Host<'_> {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match id {
            1 => Ok(HelperReturn::Value(a[0].wrapping_mul(3) ^ a[4])),
            12 => {
                self.helper_calls += 1;
                let Some(next) = self.target(a[1], a[2]) else {
                    return Ok(HelperReturn::Value(0));
                };
                if ctx.call_depth() > 0 {
                    return Err(HelperError::Failed("tail call from a function".into()));
                }
                self.made += 1;
                self.pending = Some(next);
                Ok(HelperReturn::Stop(0))
            }
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        matches!(id, 1 | 12)
    }
}

impl<'p> TailCalls<'p> for Host<'p> {
    fn tail_calls_made(&self) -> u32 {
        self.made
    }

    fn tail_calls_so_far(&mut self, made: u32, _: &JitProgram) {
        self.made = made;
    }

    fn tail_call(&mut self, map: u64, index: u64) -> TailCall<'p> {
        self.resolver_calls += 1;
        let target = match self.answer {
            Answer::Helper => return TailCall::Helper,
            Answer::Panic => panic!("the host's resolver panicked"),
            Answer::Jump => self.target(map, index),
            Answer::JumpUncounted => {
                let slot = self.slots.get(index as u32 as usize);
                slot.copied().flatten().filter(|_| map == MAP)
            }
        };
        match target {
            Some(next) => {
                self.made += 1;
                TailCall::Jump(&self.jits[next])
            }
            None => TailCall::Fail,
        }
    }
}

/// How the programs of a chain run.
#[derive(Clone, Copy, Debug)]
enum Run {
    Interpreter,
    /// `JitProgram::run_with_tail_calls`.
    WithTailCalls,
    /// `JitProgram::run`.
    Plain,
}

/// Runs the chain starting at program `first` with r1 = `mem`'s address, r2–r5 = 7..10,
/// restarting at the host's pending target as long as there is one: r0 or the error.
fn chain(
    run: Run,
    first: usize,
    progs: &[Program],
    host: &mut Host<'_>,
    mem: &mut [u8],
    packet: &[u8],
) -> Result<u64, String> {
    let jits = host.jits;
    let config = Config::default();
    let mut i = first;
    loop {
        let mut memory = MemoryMap::new();
        let addr = memory.add_slice_mut(mem);
        memory.set_packet(packet);
        let args = [addr, 7, 8, 9, 10];
        let result = match run {
            Run::Interpreter => progs[i].run(args, &mut memory, host, &config),
            Run::WithTailCalls => jits[i].run_with_tail_calls(args, &mut memory, host, &config),
            Run::Plain => jits[i].run(args, &mut memory, host, &config),
        };
        let exit = result.map_err(|e: VmError| e.to_string())?;
        match host.pending.take() {
            Some(next) => i = next,
            None => return Ok(exit.r0),
        }
    }
}

/// Assembles each program (an `lddw` of [`FUNC_MARK`] loads the address of the function
/// at the label `cb`).
fn load(texts: &[&str]) -> Vec<Program> {
    texts
        .iter()
        .map(|text| {
            let mut insns = bpfkit_asm::assemble(text).expect("assembles");
            if let Some(at) = text.find("cb:") {
                // The slot of the label: the code before it, assembled alone, ends there.
                let before = bpfkit_asm::assemble(&text[..at]).expect("assembles");
                let slot: usize = before.iter().map(|i| i.slots()).sum();
                let mut pc = 0;
                for insn in &mut insns {
                    if let Insn::LdImm64 {
                        dst,
                        imm: FUNC_MARK,
                        ..
                    } = *insn
                    {
                        *insn = Insn::LdImm64 {
                            dst,
                            kind: LdImm64Kind::Func,
                            imm: (slot as i64 - pc as i64 - 1) as u64,
                        };
                    }
                    pc += insn.slots();
                }
            }
            Program::load(&insns).expect("loads")
        })
        .collect()
}

fn compile(progs: &[Program], checked: bool, tail_callable: bool) -> Vec<JitProgram> {
    compile_with(progs, checked, false, tail_callable)
}

fn compile_with(
    progs: &[Program],
    checked: bool,
    blind_constants: bool,
    tail_callable: bool,
) -> Vec<JitProgram> {
    let options = CompileOptions {
        checked,
        blind_constants,
        zero_stack: true,
    };
    progs
        .iter()
        .map(|p| match tail_callable {
            true => JitProgram::compile_tail_callable(p, &options).unwrap(),
            false => JitProgram::compile(p, &options).unwrap(),
        })
        .collect()
}

/// Tail-callable code whose `call 12` sites read the first `len` of `words` (the program
/// array's slots, as [`Specialization::TailCall`] describes them) and jump through
/// `table`, which this fills with the compiled programs.
fn compile_fast(
    progs: &[Program],
    words: &[u64],
    len: usize,
    table: &[AtomicU64],
) -> Vec<JitProgram> {
    assert!(len <= words.len());
    let options = CompileOptions {
        checked: false,
        ..CompileOptions::default()
    };
    let jits: Vec<JitProgram> = progs
        .iter()
        .map(|p| {
            let mut sites = CallSites::new();
            for d in p.insns() {
                if d.insn == Insn::Call(CallTarget::Helper(12)) {
                    let fast = Specialization::TailCall {
                        slots: words.as_ptr() as u64,
                        len: len as u32,
                        programs: table.as_ptr() as u64,
                        count: table.len() as u32,
                    };
                    sites.insert(d.pc, fast);
                }
            }
            JitProgram::compile_with(p, &options, &sites, true).unwrap()
        })
        .collect();
    for (entry, jit) in table.iter().zip(&jits) {
        if jit.fast_tail_callable() {
            entry.store(jit as *const JitProgram as u64, Ordering::Relaxed);
        }
    }
    jits
}

/// What a chain did: r0 (or the error) and the memory afterwards.
type Outcome = (Result<u64, String>, Vec<u8>);

/// Runs the chain of `texts` from program 0 over a zeroed 64-byte buffer on the
/// interpreter (the oracle) and on every JIT variant, asserts they agree, and returns the
/// outcome and how often the jumping variant called helper 12.
fn check(texts: &[&str], slots: &[Option<usize>], packet: &[u8]) -> (Outcome, u32) {
    let progs = load(texts);
    let tail = compile(&progs, false, true);
    let plain = compile(&progs, false, false);
    let checked = compile(&progs, true, true);
    let blinded = compile_with(&progs, false, true, true);
    assert!(tail.iter().all(JitProgram::tail_callable));
    assert!(blinded.iter().all(JitProgram::tail_callable));
    assert!(!plain.iter().any(JitProgram::tail_callable));
    assert!(!checked.iter().any(JitProgram::tail_callable));
    let outcome = |jits: &[JitProgram], answer: Answer, run: Run| {
        let mut host = Host::new(jits, slots.to_vec(), answer);
        let mut mem = vec![0u8; 64];
        let r0 = chain(run, 0, &progs, &mut host, &mut mem, packet);
        ((r0, mem), host.helper_calls)
    };
    // Tail calls that read the program array themselves: the slots as the host stores
    // them, a table of the compiled programs filled once they exist. One word past the
    // array holds program 0, so reading past the end would show.
    let words: Vec<u64> = slots
        .iter()
        .map(|s| s.map_or(0, |id| 1 << 32 | id as u64))
        .chain([1 << 32])
        .collect();
    let table: Vec<AtomicU64> = progs.iter().map(|_| AtomicU64::new(0)).collect();
    let fast = compile_fast(&progs, &words, slots.len(), &table);
    let (want, _) = outcome(&plain, Answer::Jump, Run::Interpreter);
    let mut jumped = None;
    for (what, jits, answer, run) in [
        ("jumps", &tail, Answer::Jump, Run::WithTailCalls),
        ("blinded, jumps", &blinded, Answer::Jump, Run::WithTailCalls),
        ("fast, jumps", &fast, Answer::Jump, Run::WithTailCalls),
        ("host declines", &tail, Answer::Helper, Run::WithTailCalls),
        ("no resolver", &tail, Answer::Jump, Run::Plain),
        (
            "not tail-callable",
            &plain,
            Answer::Jump,
            Run::WithTailCalls,
        ),
        ("checked", &checked, Answer::Jump, Run::WithTailCalls),
    ] {
        let mut got = None;
        // Every variant runs with sentinels in the callee-saved registers.
        let preserved = callee_saved_survive(|| got = Some(outcome(jits, answer, run)));
        let (got, helper_calls) = got.unwrap();
        assert!(preserved, "{what}: a callee-saved register changed");
        assert_eq!(got, want, "{what}");
        if what.ends_with("jumps") {
            // Both jumping variants call the helper equally often (for what cannot jump).
            assert_eq!(*jumped.get_or_insert(helper_calls), helper_calls, "{what}");
        }
    }
    (want, jumped.unwrap())
}

/// Calls the closure behind `f` (for [`callee_saved_survive`]).
extern "sysv64" fn call_closure(f: *mut &mut dyn FnMut()) {
    // SAFETY: `callee_saved_survive` passes a pointer to a live `&mut dyn FnMut()`.
    unsafe { (*f)() }
}

/// Runs `f` with sentinel values in all six SysV callee-saved registers (rbx, rbp,
/// r12–r15) and tells whether they all still hold them afterwards: generated code that
/// clobbers one and restores the wrong value makes this false (or crashes the Rust code
/// in between).
fn callee_saved_survive(mut f: impl FnMut()) -> bool {
    let mut f: &mut dyn FnMut() = &mut f;
    let changed: u64;
    // SAFETY: the asm saves and restores every callee-saved register it sets and rsp, and
    // calls a sysv64 function with an aligned stack (rsp is aligned on entry to the block
    // and six pushes keep it so); `clobber_abi` covers the caller-saved registers.
    unsafe {
        std::arch::asm!(
            "push rbx",
            "push rbp",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "mov rbx, 0x1111111111111101",
            "mov rbp, 0x2222222222222202",
            "mov r12, 0x3333333333333303",
            "mov r13, 0x4444444444444404",
            "mov r14, 0x5555555555555505",
            "mov r15, 0x6666666666666606",
            "call {f}",
            "mov rax, 0x1111111111111101",
            "xor rax, rbx",
            "mov rcx, 0x2222222222222202",
            "xor rcx, rbp",
            "or rax, rcx",
            "mov rcx, 0x3333333333333303",
            "xor rcx, r12",
            "or rax, rcx",
            "mov rcx, 0x4444444444444404",
            "xor rcx, r13",
            "or rax, rcx",
            "mov rcx, 0x5555555555555505",
            "xor rcx, r14",
            "or rax, rcx",
            "mov rcx, 0x6666666666666606",
            "xor rcx, r15",
            "or rax, rcx",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            f = sym call_closure,
            in("rdi") &mut f as *mut &mut dyn FnMut(),
            out("rax") changed,
            clobber_abi("sysv64"),
        );
    }
    changed == 0
}

fn u64_at(mem: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(mem[off..off + 8].try_into().unwrap())
}

#[test]
fn chain_through_programs_with_different_registers_and_stacks() {
    // 0 names none of r6–r9 and needs 8 stack bytes, which it dirties before jumping.
    let p0 = "
        stdw [%r10-8], 0x55
        ldxdw %r0, [%r1+0]
        add %r0, 1
        stxdw [%r1+0], %r0
        mov %r2, 0x1000
        mov %r3, 1
        call 12
        add %r0, 1000
        exit
    ";
    // 1 uses all of r6–r9 and the whole main frame (which it must find zeroed), dirties
    // a deeper frame through a local call, calls a helper and jumps again.
    let p1 = "
        mov %r6, 0x66
        mov %r7, 0x77
        mov %r8, 0x88
        mov %r9, 0x99
        ldxdw %r0, [%r10-8]
        ldxdw %r2, [%r10-512]
        add %r0, %r2
        stxdw [%r1+8], %r0
        stxdw [%r10-16], %r6
        stxdw [%r10-512], %r7
        call local f
        mov %r2, %r1
        mov %r1, %r8
        call 1
        add %r0, %r9
        stxdw [%r2+16], %r0
        mov %r1, %r2
        mov %r2, 0x1000
        mov %r3, 2
        call 12
        mov %r0, %r6
        add %r0, %r7
        exit
    f:
        stdw [%r10-8], -1
        stdw [%r10-512], -1
        exit
    ";
    // 2 uses r6 and r7 only: it reads the main frame and (in a local function) the deeper
    // frame 1 dirtied, and stores r2–r5, which must be the run's arguments again.
    let p2 = "
        mov %r6, %r1
        ldxdw %r7, [%r10-16]
        ldxdw %r0, [%r10-512]
        add %r7, %r0
        call local g
        add %r7, %r0
        stxdw [%r6+24], %r7
        add %r2, %r3
        add %r2, %r4
        add %r2, %r5
        stxdw [%r6+32], %r2
        mov %r0, 42
        exit
    g:
        ldxdw %r0, [%r10-8]
        ldxdw %r1, [%r10-512]
        add %r0, %r1
        exit
    ";
    let ((r0, mem), helper_calls) = check(&[p0, p1, p2], &[None, Some(1), Some(2)], &[]);
    assert_eq!(r0, Ok(42));
    assert_eq!(helper_calls, 0, "the tail calls took the helper path");
    assert_eq!(u64_at(&mem, 0), 1);
    // Zeroed stacks: nothing of the previous programs' stores is seen.
    assert_eq!(u64_at(&mem, 8), 0);
    assert_eq!(u64_at(&mem, 24), 0);
    assert_eq!(u64_at(&mem, 32), 7 + 8 + 9 + 10);
}

#[test]
fn a_chain_makes_at_most_33_tail_calls() {
    // Counts its runs at r1+0, then tail-calls itself; the failing call returns 0.
    let looping = "
        ldxdw %r0, [%r1+0]
        add %r0, 1
        stxdw [%r1+0], %r0
        mov %r2, 0x1000
        mov %r3, 0
        call 12
        add %r0, 120
        exit
    ";
    let ((r0, mem), helper_calls) = check(&[looping], &[Some(0)], &[]);
    assert_eq!(r0, Ok(120));
    assert_eq!(u64_at(&mem, 0), MAX_TAIL_CALLS as u64 + 1);
    assert_eq!(helper_calls, 0);
    // A host that does not count: the JIT stops the chain itself.
    let progs = load(&[looping]);
    let jits = compile(&progs, false, true);
    let mut host = Host::new(&jits, vec![Some(0)], Answer::JumpUncounted);
    let mut mem = vec![0u8; 64];
    let r0 = chain(Run::WithTailCalls, 0, &progs, &mut host, &mut mem, &[]);
    assert_eq!(r0, Ok(120));
    assert_eq!(u64_at(&mem, 0), MAX_TAIL_CALLS as u64 + 1);
    assert_eq!((host.made, host.helper_calls), (MAX_TAIL_CALLS + 1, 0));
    // Through the program array's slots: the code counts and jumps without the host.
    let words = [1u64 << 32];
    let table = [AtomicU64::new(0)];
    let fast = compile_fast(&progs, &words, words.len(), &table);
    let mut host = Host::new(&fast, vec![Some(0)], Answer::Jump);
    let mut mem = vec![0u8; 64];
    let r0 = chain(Run::WithTailCalls, 0, &progs, &mut host, &mut mem, &[]);
    assert_eq!(r0, Ok(120));
    assert_eq!(u64_at(&mem, 0), MAX_TAIL_CALLS as u64 + 1);
    assert_eq!(host.made, MAX_TAIL_CALLS);
    assert_eq!((host.resolver_calls, host.helper_calls), (0, 0));
}

#[test]
fn failed_tail_calls_continue_with_r0_zero_and_r1_to_r5_kept() {
    // An empty slot, an index past the array, a map that is not the program array; after
    // each, r0 and r1–r5 are stored.
    let p0 = "
        mov %r0, 5
        mov %r4, 44
        mov %r5, 55
        mov %r2, 0x1000
        mov %r3, 1
        call 12
        stxdw [%r1+0], %r0
        add %r3, %r4
        add %r3, %r5
        stxdw [%r1+8], %r3
        mov %r0, 6
        mov %r3, 100
        call 12
        stxdw [%r1+16], %r0
        mov %r0, 7
        mov %r2, 0x2000
        mov %r3, 0
        call 12
        stxdw [%r1+24], %r0
        stxdw [%r1+32], %r2
        mov %r0, 99
        exit
    ";
    let ((r0, mem), helper_calls) = check(&[p0], &[Some(0), None], &[]);
    assert_eq!(r0, Ok(99));
    assert_eq!(helper_calls, 0);
    assert_eq!(
        [0, 8, 16, 24, 32].map(|o| u64_at(&mem, o)),
        [0, 1 + 44 + 55, 0, 0, 0x2000]
    );
}

#[test]
fn tail_call_from_a_local_function_takes_the_helper_path() {
    let p0 = "
        call local f
        exit
    f:
        mov %r2, 0x1000
        mov %r3, 0
        call 12
        mov %r0, 3
        exit
    ";
    let p1 = "mov %r0, 1\nexit\n";
    let ((r0, _), helper_calls) = check(&[p0, p1], &[Some(1)], &[]);
    assert!(r0.unwrap_err().contains("tail call from a function"));
    assert_eq!(helper_calls, 1);
}

/// A program that tail-calls slot 1 (and returns what the helper left in r0 if that fails).
const TAIL_CALL_SLOT_1: &str = "
    mov %r6, %r1
    mov %r2, 0x1000
    mov %r3, 1
    call 12
    exit
";

#[test]
fn targets_jumped_to_on_the_fast_path_call_their_own_functions() {
    // No packet loads: every jump may take the fast path, which switches the running
    // program (whose table `callx` reads) itself. 1 and 2 call the function at the same
    // slot by number, a different one in each.
    let p0 = TAIL_CALL_SLOT_1;
    let callee = |k: usize, value: u32| {
        format!(
            "
        mov %r6, %r1
        lddw %r1, 0x0bf0
        callx r1
        stxdw [%r6+{}], %r0
        mov %r2, 0x1000
        mov %r3, {}
        mov %r1, %r6
        call 12
        mov %r0, {}
        exit
    cb:
        mov %r0, {value}
        exit
    ",
            8 * k,
            k + 1,
            k
        )
    };
    let (p1, p2) = (callee(1, 111), callee(2, 222));
    let ((r0, mem), helper_calls) = check(&[p0, &p1, &p2], &[None, Some(1), Some(2)], &[]);
    // 2's tail call (slot 3, out of range) fails: it returns 2.
    assert_eq!(r0, Ok(2));
    assert_eq!(helper_calls, 0);
    assert_eq!([8, 16].map(|o| u64_at(&mem, o)), [111, 222]);
}

#[test]
fn targets_use_their_own_packet_cache_and_function_table() {
    // 0 has neither packet loads nor callx; 1 has both; 2 calls 1's function slot by
    // number with its own table (another function there).
    let p0 = TAIL_CALL_SLOT_1;
    let p1 = "
        mov %r6, %r1
        ldabsb 3
        stxdw [%r6+0], %r0
        lddw %r1, 0x0bf0
        callx r1
        stxdw [%r6+8], %r0
        mov %r2, 0x1000
        mov %r3, 2
        mov %r1, %r6
        call 12
        exit
    cb:
        mov %r0, 111
        exit
    ";
    let p2 = "
        mov %r6, %r1
        ldabsh 4
        stxdw [%r6+16], %r0
        lddw %r1, 0x0bf0
        callx r1
        stxdw [%r6+24], %r0
        mov %r0, 5
        exit
    cb:
        mov %r0, 222
        exit
    ";
    let packet = [1, 2, 3, 4, 5, 6, 7, 8];
    let ((r0, mem), helper_calls) = check(&[p0, p1, p2], &[None, Some(1), Some(2)], &packet);
    assert_eq!(r0, Ok(5));
    assert_eq!(helper_calls, 0);
    assert_eq!(
        [0, 8, 16, 24].map(|o| u64_at(&mem, o)),
        [4, 111, 0x0506, 222]
    );
}

#[test]
fn a_panicking_resolver_panics_the_run_and_a_bad_target_fails_it() {
    let progs = load(&["mov %r2, 0x1000\nmov %r3, 0\ncall 12\nexit\n"]);
    let jits = compile(&progs, false, true);
    let run = |jits: &[JitProgram], answer| {
        let mut host = Host::new(jits, vec![Some(0)], answer);
        let mut memory = MemoryMap::new();
        jits[0].run_with_tail_calls([0; 5], &mut memory, &mut host, &Config::default())
    };
    let panic = std::panic::catch_unwind(|| run(&jits, Answer::Panic)).unwrap_err();
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"the host's resolver panicked")
    );
    // The host answers with code that cannot be jumped into.
    let plain = compile(&progs, false, false);
    let host_jits: Vec<JitProgram> = plain;
    let mut host = Host::new(&host_jits, vec![Some(0)], Answer::Jump);
    let mut memory = MemoryMap::new();
    let err = jits[0]
        .run_with_tail_calls([0; 5], &mut memory, &mut host, &Config::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "insn 2: helper 12 failed: tail call target is not tail-callable JIT code"
    );
}

#[test]
fn a_target_that_fails_leaves_through_its_own_exit_with_registers_restored() {
    // 0 names none of r6–r9; 1 sets them all, then fails inside a local function (an
    // unknown helper), so its common exit unwinds from a deeper frame.
    let p0 = "
        mov %r2, 0x1000
        mov %r3, 0
        call 12
        exit
    ";
    let p1 = "
        mov %r6, -1
        mov %r7, -2
        mov %r8, -3
        mov %r9, -4
        call local f
        exit
    f:
        mov %r6, 5
        call 99
        exit
    ";
    let ((r0, _), helper_calls) = check(&[p0, p1], &[Some(1)], &[]);
    assert_eq!(r0, Err("insn 7: unknown helper 99".to_string()));
    assert_eq!(helper_calls, 0);
}

/// How a chain program sets the index (r3) before its `call 12`.
#[derive(Clone, Copy, Debug)]
enum IndexForm {
    /// `lddw`: the code reads r3 and checks it against the array.
    Loaded,
    /// `mov` of a constant: the code knows the slot (the 64-bit value, sign-extended).
    Constant,
    /// `mov32` of a constant: the same, zero-extended.
    Constant32,
    /// Two constants on two paths that join before the call (the chain's steps, counted
    /// in r6, are never 0: `index` is taken): the code reads r3.
    ConstantOnTwoPaths,
}

/// Program `k` of a random chain: counts its visits at `mem[8k]` and the chain's steps at
/// `mem[56]`, then tail-calls slot `index` (set as `form` says); when the call fails,
/// returns `100 + k`.
fn chain_program(k: usize, index: u64, form: IndexForm) -> String {
    let set_index = match form {
        IndexForm::Loaded => format!("lddw %r3, {index}"),
        IndexForm::Constant => format!("mov %r3, {}", index as i32),
        IndexForm::Constant32 => format!("mov32 %r3, {}", index as i32),
        IndexForm::ConstantOnTwoPaths => {
            format!(
                "mov %r3, {}\n jne %r6, 0, joined\n mov %r3, 0\n joined:",
                index as i32
            )
        }
    };
    format!(
        "
        ldxdw %r0, [%r1+{visits}]
        add %r0, 1
        stxdw [%r1+{visits}], %r0
        ldxdw %r6, [%r1+56]
        add %r6, 1
        stxdw [%r1+56], %r6
        mov %r2, {MAP}
        {set_index}
        call 12
        add %r0, {ret}
        exit
        ",
        visits = 8 * k,
        ret = 100 + k,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random program arrays (empty slots, cycles, self-loops) and indexes (in range, past
    /// the array, with high bits set that the u32 index drops, constants the code knows
    /// and values it reads): every way of making the tail calls, the inline one included,
    /// gives the interpreter's chain.
    #[test]
    fn random_chains_agree_on_every_path(
        slots in prop::collection::vec(prop::option::of(0usize..4), 1..6),
        picks in prop::collection::vec((0u64..8, any::<bool>(), 0usize..4), 4),
    ) {
        let forms = [
            IndexForm::Loaded,
            IndexForm::Constant,
            IndexForm::Constant32,
            IndexForm::ConstantOnTwoPaths,
        ];
        let texts: Vec<String> = picks
            .iter()
            .enumerate()
            .map(|(k, &(index, high, form))| {
                // Constants are 32-bit: high bits come with -1 (all ones) instead.
                let index = match (high, forms[form]) {
                    (false, _) => index,
                    (true, IndexForm::Loaded) => index | 7 << 32,
                    (true, _) => u64::MAX,
                };
                chain_program(k, index, forms[form])
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ((r0, mem), _) = check(&texts, &slots, &[]);
        let steps = u64_at(&mem, 56);
        prop_assert!(r0.is_ok());
        prop_assert!((1..=MAX_TAIL_CALLS as u64 + 1).contains(&steps));
    }
}
