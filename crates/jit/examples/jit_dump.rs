//! Writes the machine code the JIT generates for a program, for a disassembler.
//!
//! `cargo run -p bpfkit-jit --example jit_dump -- <prog.s> <out.bin> [unchecked]` where
//! `prog.s` is uBPF-syntax assembly (or raw bytecode if it ends in `.bin`); then
//! `objdump -D -b binary -mi386:x86-64 out.bin`. Prints each instruction's code offset.
use bpfkit_jit::{CompileOptions, JitProgram};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(src), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: jit_dump <prog.s> <out.bin> [unchecked]".into());
    };
    let insns: Vec<bpfkit_isa::Insn> = if src.ends_with(".bin") {
        bpfkit_isa::decode(&std::fs::read(src)?)?
            .into_iter()
            .map(|d| d.insn)
            .collect()
    } else {
        bpfkit_asm::assemble(&std::fs::read_to_string(src)?)?
    };
    let options = CompileOptions {
        checked: args.get(3).map(String::as_str) != Some("unchecked"),
        ..CompileOptions::default()
    };
    let jit = JitProgram::from_insns(&insns, &options)?;
    std::fs::write(out, jit.machine_code())?;
    let mut pc = 0;
    for insn in &insns {
        println!(
            "{:#06x}  insn {pc}: {insn:?}",
            jit.code_offset(pc).unwrap_or(0)
        );
        pc += insn.slots();
    }
    Ok(())
}
