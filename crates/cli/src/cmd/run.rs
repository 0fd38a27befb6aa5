//! `bpfkit run`: execute a program on a memory buffer, the conformance way.

use super::input::{load_program, parse_hex, Format};
use anyhow::{Context, Result};
use bpfkit_conformance::ConformanceHelpers;
use bpfkit_vm::{Config, MemoryMap, Program};
use std::path::PathBuf;
use std::process::ExitCode;

/// Execution engine.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Engine {
    /// The reference interpreter, every memory access checked.
    Interp,
}

/// Run an eBPF program with r1 = a private copy of the memory and r2 = its length; print r0.
///
/// Helper 5 follows the conformance suite's convention: it returns its first argument and,
/// when that is 0, ends the program with r0 = 0.
#[derive(clap::Args)]
pub struct Args {
    /// Program file: assembly (`.s`, `.asm`) or raw bytecode (`.bin`).
    program: PathBuf,
    /// Input format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// File whose bytes are the program's memory.
    #[arg(long, conflicts_with = "mem_hex")]
    mem: Option<PathBuf>,
    /// The program's memory as hex bytes, e.g. "aa bb 0c".
    #[arg(long)]
    mem_hex: Option<String>,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "interp")]
    engine: Engine,
    /// Maximum number of instructions executed before the run is stopped.
    #[arg(long, default_value_t = bpfkit_vm::DEFAULT_BUDGET)]
    budget: u64,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let insns = load_program(&args.program, args.format)?;
    let mut mem = match (&args.mem, &args.mem_hex) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, Some(hex)) => parse_hex(hex)?,
        (None, None) => Vec::new(),
    };
    let Engine::Interp = args.engine;
    let prog = Program::load(&insns).with_context(|| args.program.display().to_string())?;
    prog.check_helpers(&ConformanceHelpers)
        .with_context(|| args.program.display().to_string())?;
    let mut memory = MemoryMap::new();
    let len = mem.len() as u64;
    let addr = memory.add_slice_mut(&mut mem);
    let config = Config {
        budget: args.budget,
        ..Config::default()
    };
    let exit = prog
        .run(
            [addr, len, 0, 0, 0],
            &mut memory,
            &mut ConformanceHelpers,
            &config,
        )
        .with_context(|| args.program.display().to_string())?;
    println!("{:#x}", exit.r0);
    Ok(ExitCode::SUCCESS)
}
