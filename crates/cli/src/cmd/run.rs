//! `bpfkit run`: execute a program on a memory buffer, the conformance way.

use super::input::{detect, load_program, parse_hex, Format};
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
/// For assembly and raw bytecode, helper 5 follows the conformance suite's convention: it
/// returns its first argument and, when that is 0, ends the program with r0 = 0. For an ELF
/// object, the object's maps and global data are created and the kernel's helpers are
/// available.
///
/// The program is verified first for this memory size; if the verifier cannot prove it
/// safe, a note says so on stderr and it runs anyway: the interpreter checks every access.
#[derive(clap::Args)]
pub struct Args {
    /// Program file: assembly (`.s`, `.asm`), raw bytecode (`.bin`) or an ELF object (`.o`).
    program: PathBuf,
    /// Input format, when the file name or content does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Which program of an ELF object (the first if not given).
    #[arg(long = "program", value_name = "NAME")]
    program_name: Option<String>,
    /// File whose bytes are the program's memory.
    #[arg(long, conflicts_with = "mem_hex")]
    mem: Option<PathBuf>,
    /// The program's memory as hex bytes, e.g. "aa bb 0c".
    #[arg(long)]
    mem_hex: Option<String>,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "interp")]
    engine: Engine,
    /// Maximum number of instructions executed before the run is stopped (asm and raw input).
    #[arg(long, default_value_t = bpfkit_vm::DEFAULT_BUDGET)]
    budget: u64,
}

/// The memory size as the verifier takes it.
fn mem_size(mem: &[u8]) -> Result<u32, String> {
    u32::try_from(mem.len()).map_err(|_| "the memory is larger than 4 GiB".to_string())
}

/// Says on stderr when the verifier could not prove the program safe.
fn note_unverified(result: Result<(), String>) {
    if let Err(why) = result {
        eprintln!("bpfkit: not verified ({why}); running with runtime checks");
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut mem = match (&args.mem, &args.mem_hex) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, Some(hex)) => parse_hex(hex)?,
        (None, None) => Vec::new(),
    };
    let Engine::Interp = args.engine;
    let name = args.program.display().to_string();
    let bytes = std::fs::read(&args.program).with_context(|| format!("cannot read {name}"))?;
    let r0 = if detect(&args.program, &bytes, args.format) == Format::Elf {
        let parsed = bpfkit_object::Object::parse(&bytes).with_context(|| name.clone())?;
        // Verified below for the memory convention, not for the section's program type.
        let object = bpfkit_runtime::Runtime::new()
            .verification(bpfkit_runtime::Verification::Unverified)
            .load(parsed.clone())
            .with_context(|| name.clone())?;
        let program = object
            .program(args.program_name.as_deref())
            .with_context(|| name.clone())?;
        let linked = parsed
            .program(program.name())
            .expect("the runtime loaded this program");
        note_unverified(mem_size(&mem).and_then(|size| {
            let target = bpfkit_verifier::object::Target::Memory { size };
            let opts = bpfkit_verifier::Options::default();
            bpfkit_verifier::object::verify_program(&parsed, linked, Some(target), &opts)
                .map_err(|e| e.to_string())?
                .result
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
        program
            .run_on_memory(&mut mem, 0)
            .with_context(|| name.clone())?
            .0
    } else {
        let insns = load_program(&args.program, args.format, None)?;
        let prog = Program::load(&insns).with_context(|| name.clone())?;
        note_unverified(mem_size(&mem).and_then(|size| {
            let env = bpfkit_verifier::envs::ConformanceEnv { size };
            bpfkit_verifier::verify(&insns, &env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
        prog.check_helpers(&ConformanceHelpers)
            .with_context(|| name.clone())?;
        let mut memory = MemoryMap::new();
        let len = mem.len() as u64;
        let addr = memory.add_slice_mut(&mut mem);
        let config = Config {
            budget: args.budget,
            ..Config::default()
        };
        prog.run(
            [addr, len, 0, 0, 0],
            &mut memory,
            &mut ConformanceHelpers,
            &config,
        )
        .with_context(|| name.clone())?
        .r0
    };
    println!("{r0:#x}");
    Ok(ExitCode::SUCCESS)
}
