//! `bpfkit disasm`: bytecode to text, or (`--jited`) the JIT's machine code of it.

use super::input::{detect, program_from_bytes, read, Format};
use anyhow::{Context, Result};
use bpfkit_asm::{disassemble, DisasmOptions, Syntax};
use bpfkit_isa::Insn;
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_runtime::{Engine, Runtime, Verification};
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
    /// Show the JIT's x86-64 code instead, each instruction followed by its machine code.
    /// An ELF object is loaded as `test-run --engine jit` loads it (verified: unchecked
    /// code with its helper calls specialised); other programs compile to checked code.
    #[arg(long)]
    jited: bool,
    /// With `--jited`, for raw bytecode and assembly: the unchecked code (no bounds or
    /// budget checks), as for a program a verifier accepted.
    #[arg(long, requires = "jited")]
    unchecked: bool,
    /// With `--jited`, for raw bytecode and assembly: constants blinded.
    #[arg(long, requires = "jited")]
    blind: bool,
    /// With `--jited`, for an ELF object: load it without the verifier (checked code).
    #[arg(long, requires = "jited")]
    unverified: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let bytes = read(&args.input)?;
    let program = program_from_bytes(&args.input, &bytes, args.format, args.program.as_deref())?;
    let decoded = bpfkit_isa::decode(&bpfkit_isa::encode(&program))?;
    let syntax = match args.syntax {
        SyntaxArg::Llvm => Syntax::Llvm,
        SyntaxArg::Ubpf => Syntax::Ubpf,
    };
    let mut opts = DisasmOptions::new(syntax);
    if args.jited {
        let text = disassemble(&decoded, &opts);
        let insns: Vec<(usize, String)> = decoded
            .iter()
            .map(|d| d.pc)
            .zip(text.lines().map(str::to_string))
            .collect();
        print!("{}", jited(&args, &bytes, &program, &insns)?);
        return Ok(ExitCode::SUCCESS);
    }
    opts.labels = args.labels;
    opts.show_pc = args.numbers;
    print!("{}", disassemble(&decoded, &opts));
    Ok(ExitCode::SUCCESS)
}

/// The `--jited` listing of `program` (read from `args.input`, whose contents are `bytes`),
/// whose instructions as text by slot are `insns`.
fn jited(args: &Args, bytes: &[u8], program: &[Insn], insns: &[(usize, String)]) -> Result<String> {
    let path = &args.input;
    if matches!(detect(path, bytes, args.format), Format::Elf) {
        let verification = match args.unverified {
            true => Verification::Unverified,
            false => Verification::Verify,
        };
        let object = Runtime::new()
            .engine(Engine::Jit)
            .verification(verification)
            .load_bytes(bytes)
            .with_context(|| path.display().to_string())?;
        let loaded = object.program(args.program.as_deref())?;
        let code = loaded
            .jited()
            .with_context(|| format!("{}: not compiled by the JIT", loaded.name()))?;
        return Ok(super::jited::listing(code, insns, &|pc| {
            loaded.jited_offset(pc)
        }));
    }
    let options = CompileOptions {
        checked: !args.unchecked,
        blind_constants: args.blind,
        zero_stack: true,
    };
    // (The error's own text already carries its cause.)
    let jit = JitProgram::from_insns(program, &options)
        .map_err(|e| anyhow::anyhow!("{}: JIT: {e}", path.display()))?;
    Ok(super::jited::listing(jit.machine_code(), insns, &|pc| {
        jit.code_offset(pc)
    }))
}
