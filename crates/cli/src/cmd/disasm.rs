//! `bpfkit disasm`: bytecode to text.

use super::input::{load_program, Format};
use anyhow::Result;
use bpfkit_asm::{disassemble, DisasmOptions, Syntax};
use std::path::PathBuf;
use std::process::ExitCode;

/// Text syntax of the listing.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SyntaxArg {
    /// LLVM / llvm-objdump syntax (`r0 = *(u32 *)(r1 + 4)`).
    Llvm,
    /// uBPF / conformance syntax (`ldxw %r0, [%r1+4]`).
    Ubpf,
}

/// Disassemble an eBPF program (raw bytecode or assembly) into LLVM or uBPF syntax.
#[derive(clap::Args)]
pub struct Args {
    /// Program file: raw bytecode (`.bin`), assembly (`.s`, `.asm`) or an ELF object.
    input: PathBuf,
    /// Output syntax.
    #[arg(long, value_enum, default_value = "llvm")]
    syntax: SyntaxArg,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Prefix each line with its slot number, like llvm-objdump.
    #[arg(long)]
    numbers: bool,
    /// Write jump and call targets as labels.
    #[arg(long)]
    labels: bool,
    /// Which program of an ELF object (the first if not given).
    #[arg(long)]
    program: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let insns = load_program(&args.input, args.format, args.program.as_deref())?;
    let decoded = bpfkit_isa::decode(&bpfkit_isa::encode(&insns))?;
    let syntax = match args.syntax {
        SyntaxArg::Llvm => Syntax::Llvm,
        SyntaxArg::Ubpf => Syntax::Ubpf,
    };
    let mut opts = DisasmOptions::new(syntax);
    opts.labels = args.labels;
    opts.show_pc = args.numbers;
    print!("{}", disassemble(&decoded, &opts));
    Ok(ExitCode::SUCCESS)
}
