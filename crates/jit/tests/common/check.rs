//! Running a program on the interpreter (the oracle) and on checked and unchecked JIT
//! code, and the unchecked code's listing, for the tests of code transformations.

use super::{assert_same, disassemble, run, Buffers, Engine};
use bpfkit_isa::Insn;
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, Program};

pub fn asm(text: &str) -> Vec<Insn> {
    bpfkit_asm::assemble(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The input buffer: distinct bytes, so that byte order and offsets show in results.
pub fn input(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 37 + 11) as u8).collect()
}

/// Runs `insns` with r1 = `mem` (r2 = its length, r3 = a read-only region) on the
/// interpreter and on checked JIT code (same result, memory or error); when the
/// interpreter completes, also on unchecked code (same r0 and memory). Returns the
/// interpreter's result.
pub fn check(insns: &[Insn], mem: &[u8], context: &str) -> Result<u64, String> {
    check_zeroing(insns, mem, context, true)
}

/// [`check`], with unchecked code compiled to zero its stack or not (`zero_stack`: for
/// programs that never read a stack byte they did not write).
pub fn check_zeroing(
    insns: &[Insn],
    mem: &[u8],
    context: &str,
    zero_stack: bool,
) -> Result<u64, String> {
    let prog = Program::load(insns).unwrap_or_else(|e| panic!("{e}: {context}"));
    let config = Config {
        budget: 1 << 20,
        check_alignment: false,
    };
    let mut bufs = Buffers::new(mem.len());
    let want = run(Engine::Interpreter(&prog), &mut bufs, mem, None, &config);
    for blind_constants in [false, true] {
        let checked = CompileOptions {
            checked: true,
            blind_constants,
            zero_stack: true,
        };
        let jit = JitProgram::compile(&prog, &checked).expect("compiles");
        let got = run(Engine::Jit(&jit), &mut bufs, mem, None, &config);
        assert_same(&want, &got, &bufs, &format!("checked: {context}"));
        if want.result.is_ok() {
            let unchecked = CompileOptions {
                checked: false,
                blind_constants,
                zero_stack,
            };
            let jit = JitProgram::compile(&prog, &unchecked).expect("compiles");
            let got = run(Engine::Jit(&jit), &mut bufs, mem, None, &config);
            assert_eq!(
                want.result.as_ref().map(|e| e.r0),
                got.result.as_ref().map(|e| e.r0),
                "unchecked: {context}"
            );
            assert_eq!(want.memory, got.memory, "unchecked memory: {context}");
        }
    }
    want.result.map(|e| e.r0).map_err(|e| e.to_string())
}

pub fn check_text(text: &str, mem: &[u8]) -> Result<u64, String> {
    check(&asm(text), mem, text)
}

pub fn compiled(insns: &[Insn], checked: bool) -> JitProgram {
    compiled_zeroing(insns, checked, true)
}

pub fn compiled_zeroing(insns: &[Insn], checked: bool, zero_stack: bool) -> JitProgram {
    let options = CompileOptions {
        checked,
        blind_constants: false,
        zero_stack,
    };
    JitProgram::from_insns(insns, &options).expect("compiles")
}

/// The unchecked code of `text`, disassembled (`None`: objdump absent, reported once).
pub fn unchecked_listing(text: &str) -> Option<Vec<String>> {
    unchecked_listing_zeroing(text, true)
}

pub fn unchecked_listing_zeroing(text: &str, zero_stack: bool) -> Option<Vec<String>> {
    let listing = disassemble(compiled_zeroing(&asm(text), false, zero_stack).machine_code());
    if listing.is_none() {
        eprintln!("skipping the code-shape checks: objdump not found");
    }
    listing
}

pub fn count(listing: &[String], pred: impl Fn(&str) -> bool) -> usize {
    listing.iter().filter(|l| pred(l)).count()
}
