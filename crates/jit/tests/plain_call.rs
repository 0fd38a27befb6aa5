//! Plain helper calls ([`Specialization::PlainCall`]): unchecked code offers the call to
//! `Helpers::call_plain` first and falls back to `Helpers::call` when it declines; checked
//! code calls `Helpers::call` only. Host calls ([`Specialization::HostCall`]) call a
//! function directly with the run's helpers. The oracle is the interpreter, which always
//! calls `Helpers::call`; every path of the host gives the same results, so r0 must agree,
//! and the counts show which path ran.

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg};
use bpfkit_jit::{CallSites, CompileOptions, HostFn, JitProgram, Specialization};
use bpfkit_vm::{
    Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program, VmError,
};

/// Helper 7 returns r1 * 3 + r5 either way; helper 8 returns r2 + 1 and its plain path
/// declines; helper 9 panics on the plain path, and on the full one fails.
#[derive(Default)]
struct Counting {
    plain: u32,
    full: u32,
    /// Calls of [`direct_7`].
    direct: u32,
}

impl Helpers for Counting {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        _ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        self.full += 1;
        match id {
            7 => Ok(HelperReturn::Value(a[0] * 3 + a[4])),
            8 => Ok(HelperReturn::Value(a[1] + 1)),
            _ => Err(HelperError::Failed("no such helper".into())),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        (7..=9).contains(&id)
    }

    unsafe fn call_plain(&mut self, id: i32, a: [u64; 5]) -> Option<u64> {
        self.plain += 1;
        match id {
            7 => Some(a[0] * 3 + a[4]),
            9 => panic!("plain helper 9"),
            _ => None,
        }
    }
}

/// Calls helpers 7 and 8 with r1–r5 set, then checks that r1–r5 survived.
const TEXT: &str = "
    mov %r1, 5
    mov %r2, 10
    mov %r3, 20
    mov %r4, 30
    mov %r5, 40
    call 7
    mov %r6, %r0
    call 8
    add %r6, %r0
    add %r6, %r1
    add %r6, %r2
    add %r6, %r3
    add %r6, %r4
    add %r6, %r5
    mov %r0, %r6
    exit
";

fn plain_sites(insns: &[Insn]) -> CallSites {
    let mut sites = CallSites::new();
    let mut pc = 0;
    for insn in insns {
        if matches!(insn, Insn::Call(CallTarget::Helper(_))) {
            sites.insert(pc, Specialization::PlainCall);
        }
        pc += insn.slots();
    }
    sites
}

fn compile(prog: &Program, insns: &[Insn], checked: bool) -> JitProgram {
    let options = CompileOptions {
        checked,
        ..CompileOptions::default()
    };
    JitProgram::compile_specialized(prog, &options, &plain_sites(insns)).unwrap()
}

#[test]
fn plain_calls_ask_call_plain_first_and_fall_back_to_call() {
    let insns = bpfkit_asm::assemble(TEXT).unwrap();
    let prog = Program::load(&insns).unwrap();
    let config = Config::default();
    let mut oracle = Counting::default();
    let expected = prog
        .run([0; 5], &mut MemoryMap::new(), &mut oracle, &config)
        .unwrap()
        .r0;
    // 5*3+40 + 11 + the five arguments.
    assert_eq!(expected, 55 + 11 + 105);
    assert_eq!((oracle.plain, oracle.full), (0, 2));

    // Unchecked: helper 7 on the plain path, helper 8 declined there and called in full.
    let mut host = Counting::default();
    let jit = compile(&prog, &insns, false);
    let r0 = jit.run([0; 5], &mut MemoryMap::new(), &mut host, &config);
    assert_eq!(r0.map(|e| e.r0), Ok(expected));
    assert_eq!((host.plain, host.full), (2, 1));

    // Checked code trusts no specialisation: both calls in full.
    let mut host = Counting::default();
    let jit = compile(&prog, &insns, true);
    let r0 = jit.run([0; 5], &mut MemoryMap::new(), &mut host, &config);
    assert_eq!(r0.map(|e| e.r0), Ok(expected));
    assert_eq!((host.plain, host.full), (0, 2));
}

#[test]
fn a_panic_on_the_plain_path_is_resumed_after_the_code_returned() {
    let insns = bpfkit_asm::assemble("call 9\nexit").unwrap();
    let prog = Program::load(&insns).unwrap();
    let jit = compile(&prog, &insns, false);
    let panic = std::panic::catch_unwind(|| {
        let mut host = Counting::default();
        let _: Result<_, VmError> =
            jit.run([0; 5], &mut MemoryMap::new(), &mut host, &Config::default());
    })
    .unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"plain helper 9"));
}

/// The function a record names for an indirect call: depends on all five arguments.
unsafe extern "sysv64" fn weigh(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a.wrapping_mul(7) + b + c * 2 + d * 3 + e * 4
}

#[test]
fn indirect_calls_call_the_recorded_function_or_fall_back_to_a_plain_call() {
    // r1 (the run's first argument) is a host record: a word of padding, the function
    // (or 0) and its first argument. The sum of r0 and r1–r5 after the call shows both the
    // result and that r1–r5 survived.
    let text = "
        mov %r2, 10
        mov %r3, 20
        mov %r4, 30
        mov %r5, 40
        call 7
        add %r0, %r1
        add %r0, %r2
        add %r0, %r3
        add %r0, %r4
        add %r0, %r5
        exit
    ";
    let insns = bpfkit_asm::assemble(text).unwrap();
    let prog = Program::load(&insns).unwrap();
    let mut sites = CallSites::new();
    sites.insert(
        4,
        Specialization::IndirectCall {
            func_at: 8,
            r1_at: 16,
        },
    );
    let func = weigh as unsafe extern "sysv64" fn(u64, u64, u64, u64, u64) -> u64 as usize;
    let with_func: [u64; 3] = [u64::MAX, func as u64, 1000];
    let without: [u64; 3] = [u64::MAX, 0, 1000];
    let config = Config::default();
    for checked in [false, true] {
        let options = CompileOptions {
            checked,
            ..CompileOptions::default()
        };
        let jit = JitProgram::compile_specialized(&prog, &options, &sites).unwrap();
        for record in [&with_func, &without] {
            let addr = record.as_ptr() as u64;
            let mut host = Counting::default();
            let r0 = jit.run(
                [addr, 0, 0, 0, 0],
                &mut MemoryMap::new(),
                &mut host,
                &config,
            );
            let survivors = addr + 10 + 20 + 30 + 40;
            let (expected, counts) = match (checked, record[1] != 0) {
                // Unchecked with a function: called with the record's argument as r1.
                (false, true) => (1000 * 7 + 10 + 40 + 90 + 160, (0, 0)),
                // Unchecked without: the plain path, with the program's r1.
                (false, false) => (addr * 3 + 40, (1, 0)),
                // Checked code trusts no specialisation: the full helper.
                (true, _) => (addr * 3 + 40, (0, 1)),
            };
            let what = format!("checked {checked}, function {}", record[1] != 0);
            assert_eq!(r0.map(|e| e.r0), Ok(expected + survivors), "{what}");
            assert_eq!((host.plain, host.full), counts, "{what}");
        }
    }
}

/// Helper 7's body called directly ([`Specialization::HostCall`]): the run's helpers (a
/// [`Counting`] in these tests), then r1–r5.
unsafe extern "sysv64" fn direct_7(host: *mut (), a1: u64, _: u64, _: u64, _: u64, a5: u64) -> u64 {
    // SAFETY: these tests run such code with `Counting` helpers only.
    let host = unsafe { &mut *host.cast::<Counting>() };
    host.direct += 1;
    a1 * 3 + a5
}

/// [`TEXT`]'s `call 7` as a host call of [`direct_7`], its `call 8` a plain call.
fn host_sites() -> CallSites {
    let func = direct_7 as HostFn;
    let mut sites = CallSites::new();
    sites.insert(
        5,
        Specialization::HostCall {
            func: func as usize as u64,
        },
    );
    sites.insert(7, Specialization::PlainCall);
    sites
}

#[test]
fn host_calls_get_the_runs_helpers_and_keep_r1_to_r5() {
    let insns = bpfkit_asm::assemble(TEXT).unwrap();
    assert_eq!(insns[5], Insn::Call(CallTarget::Helper(7)));
    let prog = Program::load(&insns).unwrap();
    let config = Config::default();
    let expected = interpreted(&prog);
    for checked in [false, true] {
        let options = CompileOptions {
            checked,
            ..CompileOptions::default()
        };
        let jit = JitProgram::compile_specialized(&prog, &options, &host_sites()).unwrap();
        // Unchecked: helper 7 directly; helper 8 declined on the plain path, then in full.
        // Checked code trusts no specialisation: both in full.
        let counts = if checked { (0, 0, 2) } else { (1, 1, 1) };
        let mut host = Counting::default();
        let r0 = jit.run([0; 5], &mut MemoryMap::new(), &mut host, &config);
        assert_eq!(r0.map(|e| e.r0), Ok(expected), "checked {checked}");
        assert_eq!(
            (host.direct, host.plain, host.full),
            counts,
            "checked {checked}"
        );
        // The same through a wide reference (`dyn Helpers`): its first word is the object.
        let mut host = Counting::default();
        let helpers: &mut dyn Helpers = &mut host;
        let r0 = jit.run([0; 5], &mut MemoryMap::new(), helpers, &config);
        assert_eq!(r0.map(|e| e.r0), Ok(expected), "dyn, checked {checked}");
        assert_eq!(
            (host.direct, host.plain, host.full),
            counts,
            "dyn, checked {checked}"
        );
    }
}

#[test]
fn code_whose_functions_may_be_called_back_makes_host_calls_plain() {
    // `lddw r6, <f>` before TEXT: a helper could run `f` as a callback, whose run has
    // helpers of its own, so the host call becomes a plain call.
    let mut insns = vec![Insn::LdImm64 {
        dst: Reg::R6,
        kind: LdImm64Kind::Func,
        imm: 0,
    }];
    insns.extend(bpfkit_asm::assemble(TEXT).unwrap());
    let f: usize = insns.iter().map(Insn::slots).sum();
    insns[0] = Insn::LdImm64 {
        dst: Reg::R6,
        kind: LdImm64Kind::Func,
        imm: f as u64 - 1,
    };
    insns.extend(bpfkit_asm::assemble("mov %r0, 1\nexit").unwrap());
    let prog = Program::load(&insns).unwrap();
    // The sites of TEXT, two slots later.
    let mut sites = CallSites::new();
    for (pc, s) in host_sites().iter() {
        sites.insert(pc + 2, *s);
    }
    let config = Config::default();
    let expected = interpreted(&prog);
    let unchecked = CompileOptions {
        checked: false,
        ..CompileOptions::default()
    };
    let jit = JitProgram::compile_specialized(&prog, &unchecked, &sites).unwrap();
    let mut host = Counting::default();
    let r0 = jit.run([0; 5], &mut MemoryMap::new(), &mut host, &config);
    assert_eq!(r0.map(|e| e.r0), Ok(expected));
    assert_eq!((host.direct, host.plain, host.full), (0, 2, 1));
}

/// r0 of `prog` on the interpreter (the oracle), with [`Counting`] helpers.
fn interpreted(prog: &Program) -> u64 {
    let mut helpers = Counting::default();
    let exit = prog.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut helpers,
        &Config::default(),
    );
    exit.unwrap().r0
}
