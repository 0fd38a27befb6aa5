//! `bpfkit verify`: run bpfkit's verifier on the programs of an object (or on an assembly or
//! raw program) and report each decision the way the kernel's verifier log does.

use super::input::{detect, load_program, Format};
use anyhow::{anyhow, bail, Context, Result};
use bpfkit_isa::Insn;
use bpfkit_verifier::object::{map_table, Target};
use bpfkit_verifier::{verify_with, Options, ProgramEnv, COMPLEXITY_LIMIT};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Verify eBPF programs: exit 0 when every selected program is accepted, 1 when one is
/// rejected (its log is printed), 2 when the input cannot be used (or an object's program
/// is of a type bpfkit does not model and no --type is given: named on stderr).
///
/// Each program gets a verdict line, its log (with --log-level, and always at level 1 for a
/// rejected program), then the kernel's summary `processed N insns (limit 1000000) ...` and
/// `verification time N usec`.
#[derive(clap::Args)]
pub struct Args {
    /// Program file: an ELF object (`.o`), assembly (`.s`, `.asm`) or raw bytecode (`.bin`).
    input: PathBuf,
    /// Input format, when the file name or content does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Verify only this program of an object (default: all of them).
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// Program type instead of the object's section: xdp, socket (socket_filter),
    /// tc (sched_cls, sched_act), or raw (r1 = --mem-size bytes of memory, r2 = the size,
    /// the object's maps and the base helpers). Assembly and raw bytecode need it, or
    /// --mem-size alone for raw memory.
    #[arg(long = "type", value_name = "TYPE")]
    prog_type: Option<String>,
    /// Size of the memory r1 points to, for the raw type.
    #[arg(long, value_name = "N")]
    mem_size: Option<u32>,
    /// 0: verdict and summary; 1: every instruction on each path; 2: plus the registers
    /// each instruction changed.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=2))]
    log_level: u32,
    /// One JSON object per program: {"program", "type", "accepted", "insn", "message",
    /// "processed", "time_us"} ("insn" and "message" are null for an accepted program; with
    /// --log-level, also "log").
    #[arg(long)]
    json: bool,
}

/// A program to verify, with the environment it runs in.
struct Job {
    name: String,
    target: Target,
    insns: Vec<Insn>,
    env: Box<dyn ProgramEnv + Send + Sync>,
}

fn target_of(args: &Args) -> Result<Option<Target>> {
    let Some(t) = &args.prog_type else {
        return Ok(args.mem_size.map(|size| Target::Memory { size }));
    };
    if t == "raw" || t == "memory" {
        let size = args
            .mem_size
            .ok_or_else(|| anyhow!("--type {t} needs --mem-size N"))?;
        return Ok(Some(Target::Memory { size }));
    }
    let target = Target::from_name(t).ok_or_else(|| {
        anyhow!("unknown program type {t:?} (xdp, socket, tc, sched_cls, sched_act, raw)")
    })?;
    if args.mem_size.is_some() && !matches!(target, Target::Memory { .. }) {
        bail!("--mem-size only applies to --type raw");
    }
    Ok(Some(target))
}

/// Reads the input and decides what to verify; an `Err` is a usage or input error.
/// Programs whose type bpfkit does not model come back as warnings.
fn jobs(args: &Args) -> Result<(Vec<Job>, Vec<String>)> {
    let target = target_of(args)?;
    let path = &args.input;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if detect(path, &bytes, args.format) != Format::Elf {
        if args.program.is_some() {
            bail!("--program applies to ELF objects only");
        }
        let Some(target) = target else {
            bail!(
                "{}: assembly and raw programs need --type (xdp, socket, tc) or --mem-size N",
                path.display()
            );
        };
        let insns = load_program(path, args.format, None)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let env = target.env(Default::default());
        return Ok((
            vec![Job {
                name,
                target,
                insns,
                env,
            }],
            Vec::new(),
        ));
    }
    let object =
        bpfkit_object::Object::parse(&bytes).with_context(|| path.display().to_string())?;
    let selected: Vec<&bpfkit_object::Program> = match &args.program {
        Some(name) => vec![object
            .program(name)
            .ok_or_else(|| anyhow!("{}: no program named {name}", path.display()))?],
        None => object.programs.iter().collect(),
    };
    if selected.is_empty() {
        bail!("{}: the object has no program", path.display());
    }
    let maps = map_table(&object);
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for p in selected {
        let Some(t) = target.or_else(|| Target::for_prog_type(p.prog_type())) else {
            skipped.push(format!(
                "{}: program {} is of type {}, which bpfkit cannot verify (use --type)",
                path.display(),
                p.name,
                p.prog_type().name()
            ));
            continue;
        };
        jobs.push(Job {
            name: p.name.clone(),
            target: t,
            insns: p.insns.clone(),
            env: t.env(maps.clone()),
        });
    }
    Ok((jobs, skipped))
}

fn report(out: &mut impl Write, args: &Args, job: &Job) -> Result<bool> {
    let opts = Options {
        log_level: args.log_level,
        ..Options::default()
    };
    let start = Instant::now();
    let mut verdict = verify_with(&job.insns, job.env.as_ref(), &opts);
    let time_us = start.elapsed().as_micros();
    let accepted = verdict.result.is_ok();
    if !accepted && args.log_level == 0 && !args.json {
        // A rejected program's log is always shown (as libbpf asks the kernel again with a log).
        let with_log = Options {
            log_level: 1,
            ..opts
        };
        verdict.log = verify_with(&job.insns, job.env.as_ref(), &with_log).log;
    }
    let processed = verdict.stats.insns_processed;
    if args.json {
        let (insn, message) = match &verdict.result {
            Ok(_) => (serde_json::Value::Null, serde_json::Value::Null),
            Err(e) => (e.insn.into(), e.message.clone().into()),
        };
        let mut obj = serde_json::json!({
            "program": job.name,
            "type": job.target.name(),
            "accepted": accepted,
            "insn": insn,
            "message": message,
            "processed": processed,
            "time_us": time_us as u64,
        });
        if args.log_level > 0 {
            obj["log"] = verdict.log.clone().into();
        }
        writeln!(out, "{obj}")?;
        return Ok(accepted);
    }
    match &verdict.result {
        Ok(_) => writeln!(out, "{} ({}): accepted", job.name, job.target.name())?,
        Err(e) => writeln!(out, "{} ({}): rejected: {e}", job.name, job.target.name())?,
    }
    // The log already ends with the summary line when there is one.
    out.write_all(verdict.log.as_bytes())?;
    if verdict.log.is_empty() {
        writeln!(out, "{}", verdict.summary(COMPLEXITY_LIMIT))?;
    }
    writeln!(out, "verification time {time_us} usec")?;
    Ok(accepted)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let (jobs, skipped) = match jobs(&args) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("bpfkit: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    for s in &skipped {
        eprintln!("bpfkit: {s}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut all_accepted = true;
    for job in &jobs {
        all_accepted &= report(&mut out, &args, job)?;
    }
    Ok(if !all_accepted {
        ExitCode::from(1)
    } else if !skipped.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
