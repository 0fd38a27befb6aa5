//! Prints the machine code of an assembled program (uBPF syntax on stdin) as hex.
use bpfkit_jit::{CompileOptions, JitProgram};
use std::io::Read;
fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let checked = std::env::args().nth(1).as_deref() != Some("unchecked");
    let insns = bpfkit_asm::assemble(&text).unwrap();
    let opts = CompileOptions { checked, ..Default::default() };
    let jit = JitProgram::from_insns(&insns, &opts).unwrap();
    std::fs::write("/tmp/jitx/code.bin", jit.machine_code()).unwrap();
    for pc in 0..insns.len() { if let Some(o) = jit.code_offset(pc) { eprintln!("pc {pc} @ {o:#x}"); } }
}
