//! Plain helper calls ([`Specialization::PlainCall`]): unchecked code offers the call to
//! `Helpers::call_plain` first and falls back to `Helpers::call` when it declines; checked
//! code calls `Helpers::call` only. The oracle is the interpreter, which always calls
//! `Helpers::call`; both paths of the host give the same results, so r0 must agree, and
//! the counts show which path ran.

use bpfkit_isa::{CallTarget, Insn};
use bpfkit_jit::{CallSites, CompileOptions, JitProgram, Specialization};
use bpfkit_vm::{
    Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program, VmError,
};

/// Helper 7 returns r1 * 3 + r5 either way; helper 8 returns r2 + 1 and its plain path
/// declines; helper 9 panics on the plain path, and on the full one fails.
#[derive(Default)]
struct Counting {
    plain: u32,
    full: u32,
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
