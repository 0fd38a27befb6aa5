//! `bpfkit run`: execute a program on a memory buffer, the conformance way.

use super::input::{detect, load_program, parse_hex, Format};
use anyhow::{Context, Result};
use bpfkit_conformance::ConformanceHelpers;
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, MemoryMap, Program};
use std::path::PathBuf;
use std::process::ExitCode;

/// The `--engine` of `run` and `test-run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// The reference interpreter: every memory access checked.
    Interp,
    /// The x86-64 JIT: unchecked code for verified programs, checked code otherwise.
    Jit,
}

impl EngineArg {
    /// The default: the JIT on x86-64, the interpreter elsewhere.
    pub fn host_default() -> EngineArg {
        match bpfkit_runtime::Engine::host_default() {
            bpfkit_runtime::Engine::Jit => EngineArg::Jit,
            bpfkit_runtime::Engine::Interpreter => EngineArg::Interp,
        }
    }
}

impl From<EngineArg> for bpfkit_runtime::Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Interp => bpfkit_runtime::Engine::Interpreter,
            EngineArg::Jit => bpfkit_runtime::Engine::Jit,
        }
    }
}

/// Run an eBPF program with r1 = a private copy of the memory and r2 = its length; print r0.
///
/// For assembly and raw bytecode, helper 5 follows the conformance suite's convention: it
/// returns its first argument and, when that is 0, ends the program with r0 = 0. For an ELF
/// object, the object's maps and global data are created and the kernel's helpers are
/// available.
///
/// The program is verified first for this memory size; if the verifier cannot prove it
/// safe, a note says so on stderr and it runs anyway with every access checked (by the
/// interpreter, or in checked JIT code). Only assembly and raw bytecode the verifier
/// accepted run as unchecked JIT code; programs of an ELF object always run checked.
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
    /// Execution engine (the JIT is x86-64 only).
    #[arg(long, value_enum, default_value_t = EngineArg::host_default())]
    engine: EngineArg,
    /// Maximum number of instructions executed before the run is stopped (asm and raw input;
    /// not enforced in the unchecked JIT code of a verified program, which terminates).
    #[arg(long, default_value_t = bpfkit_vm::DEFAULT_BUDGET)]
    budget: u64,
}

/// The memory size as the verifier takes it.
fn mem_size(mem: &[u8]) -> Result<u32, String> {
    u32::try_from(mem.len()).map_err(|_| "the memory is larger than 4 GiB".to_string())
}

/// Says on stderr when the verifier could not prove the program safe; returns whether it did.
fn note_unverified(result: Result<(), String>) -> bool {
    match result {
        Ok(()) => true,
        Err(why) => {
            eprintln!("bpfkit: not verified ({why}); running with runtime checks");
            false
        }
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
    let name = args.program.display().to_string();
    let bytes = std::fs::read(&args.program).with_context(|| format!("cannot read {name}"))?;
    let r0 = if detect(&args.program, &bytes, args.format) == Format::Elf {
        let parsed = bpfkit_object::Object::parse(&bytes).with_context(|| name.clone())?;
        // Verified below for the memory convention, not for the section's program type.
        let object = bpfkit_runtime::Runtime::new()
            .engine(args.engine.into())
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
        // As `test-run` does: first under the kernel's unprivileged stack rule (a program
        // proved never to read a stack byte it did not write needs no zeroed stack), then
        // as a privileged loader.
        let mut writes_stack_first = false;
        let verified = note_unverified(mem_size(&mem).and_then(|size| {
            let env = bpfkit_verifier::envs::ConformanceEnv { size };
            let strict = bpfkit_verifier::Options {
                allow_uninit_stack: false,
                ..bpfkit_verifier::Options::default()
            };
            writes_stack_first = bpfkit_verifier::verify_with(&insns, &env, &strict)
                .result
                .is_ok();
            if writes_stack_first {
                return Ok(());
            }
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
        let regs = [addr, len, 0, 0, 0];
        let exit = match args.engine {
            EngineArg::Interp => prog.run(regs, &mut memory, &mut ConformanceHelpers, &config),
            EngineArg::Jit => {
                // Unchecked code only for what the verifier proved safe for this memory.
                let options = CompileOptions {
                    checked: !verified,
                    zero_stack: !writes_stack_first,
                    ..CompileOptions::default()
                };
                let jit = JitProgram::compile(&prog, &options).with_context(|| name.clone())?;
                jit.run(regs, &mut memory, &mut ConformanceHelpers, &config)
            }
        };
        exit.with_context(|| name.clone())?.r0
    };
    println!("{r0:#x}");
    Ok(ExitCode::SUCCESS)
}
