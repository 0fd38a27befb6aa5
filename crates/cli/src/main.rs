//! The `bpfkit` command: glue only. Flags are parsed here and each subcommand
//! hands its work to the library crates.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// bpfkit: an eBPF toolkit — instruction set, objects, verifier, interpreter, JIT and pcap filters.
#[derive(Parser)]
#[command(name = "bpfkit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an eBPF program on a memory buffer and print r0.
    Run(cmd::run::Args),
    /// Assemble eBPF assembly into raw bytecode.
    Asm(cmd::asm::Args),
    /// Disassemble an eBPF program.
    Disasm(cmd::disasm::Args),
    /// Filter packets with a tcpdump expression, from a capture file or a live interface.
    Filter(cmd::filter::Args),
    /// Run an XDP, socket-filter or tc program of an object over packets, as BPF_PROG_TEST_RUN does.
    TestRun(cmd::test_run::Args),
    /// Verify the programs of an object (or an assembly/raw program) with bpfkit's verifier.
    Verify(cmd::verify::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Run(a) => cmd::run::run(a),
        Command::Asm(a) => cmd::asm::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Filter(a) => cmd::filter::run(a),
        Command::TestRun(a) => cmd::test_run::run(a),
        Command::Verify(a) => cmd::verify::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bpfkit: {e:#}");
            ExitCode::from(1)
        }
    }
}
