//! `bpfkit asm`: assembly text to raw bytecode.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Assemble eBPF assembly (LLVM or uBPF syntax) into raw little-endian bytecode.
#[derive(clap::Args)]
pub struct Args {
    /// Assembly source file.
    input: PathBuf,
    /// Output file for the bytecode.
    #[arg(short, long)]
    output: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let insns = bpfkit_asm::assemble(&text).with_context(|| args.input.display().to_string())?;
    std::fs::write(&args.output, bpfkit_isa::encode(&insns))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
