//! Verifies an assembly file: `cargo run --example verify_asm -- FILE.s [xdp|tc|socket_filter|raw:N] [LOG_LEVEL] [REPEAT]`.
//! Prints the verdict and the log; REPEAT runs the verification that many times (for timing).

use bpfkit_verifier::envs::{RawMemoryEnv, SocketFilterEnv, TcEnv, XdpEnv};
use bpfkit_verifier::{verify_with, Options, ProgramEnv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: verify_asm FILE.s [TYPE] [LOG_LEVEL] [REPEAT]")?;
    let text = std::fs::read_to_string(path)?;
    let insns = bpfkit_asm::assemble(&text)?;
    let ty = args.get(2).map(String::as_str).unwrap_or("socket_filter");
    let env: Box<dyn ProgramEnv> = match ty {
        "xdp" => Box::new(XdpEnv::default()),
        "tc" => Box::new(TcEnv::default()),
        "socket_filter" => Box::new(SocketFilterEnv::default()),
        t => Box::new(RawMemoryEnv {
            size: t.strip_prefix("raw:").ok_or("unknown type")?.parse()?,
        }),
    };
    let log_level = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let repeat: u32 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let opts = Options {
        log_level,
        ..Options::default()
    };
    let start = std::time::Instant::now();
    let mut verdict = verify_with(&insns, env.as_ref(), &opts);
    for _ in 1..repeat {
        verdict = verify_with(&insns, env.as_ref(), &opts);
    }
    let per_run = start.elapsed() / repeat.max(1);
    print!("{}", verdict.log);
    match verdict.result {
        Ok(stats) => println!(
            "accepted ({} insns processed, {per_run:?} per run)",
            stats.insns_processed
        ),
        Err(e) => println!("rejected: {e} ({per_run:?} per run)"),
    }
    Ok(())
}
