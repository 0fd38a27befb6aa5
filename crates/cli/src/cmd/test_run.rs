//! `bpfkit test-run`: run an XDP, socket-filter or tc program of an object over packets the
//! way the kernel's `BPF_PROG_TEST_RUN` does (what `bpftool prog run` reports).

use anyhow::{bail, Context, Result};
use bpfkit_capture::{Dlt, LinkType, PcapWriter, Precision, Reader, SavefileHeader, Timestamp};
use bpfkit_runtime::{Runtime, TestRun, Verification};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::run::EngineArg;

/// Run a program of a clang-built object over packets with the kernel's test-run semantics.
///
/// With --pcap, the packets run in order against the same maps (state carries over) and
/// --pcap-out gets one record per input packet, whatever the verdict, holding the output
/// packet (for XDP after bpf_xdp_adjust_head/tail; the input if the run failed).
#[derive(clap::Args)]
pub struct Args {
    /// The object file (ELF, as built by `clang -O2 -g -target bpf`).
    object: PathBuf,
    /// The program to run (default: the object's first program).
    #[arg(long)]
    program: Option<String>,
    /// File holding one packet (an Ethernet frame).
    #[arg(long, required_unless_present = "pcap", conflicts_with = "pcap")]
    data_in: Option<PathBuf>,
    /// Capture file (pcap or pcapng, Ethernet) whose packets run in order.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Where to write the output packet of a --data-in run.
    #[arg(long, conflicts_with = "pcap")]
    data_out: Option<PathBuf>,
    /// Capture file to write: one record per input packet with the output packet.
    #[arg(long)]
    pcap_out: Option<PathBuf>,
    /// Run each packet this many times (the duration printed is the average).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Execution engine: the JIT runs a verified program as unchecked machine code and an
    /// --unverified one as checked code (the JIT is x86-64 only).
    #[arg(long, value_enum, default_value_t = EngineArg::host_default())]
    engine: EngineArg,
    /// Print one JSON object per run: {"index", "retval", "data_len", "duration_ns"}.
    #[arg(long)]
    json: bool,
    /// Print every map's contents as JSON after the last run.
    #[arg(long)]
    dump_maps: bool,
    /// The runtime CPU the program runs on (per-CPU maps, bpf_get_smp_processor_id).
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// Skip the verifier: only run-time checks (the interpreter's, or checked JIT code) then
    /// protect the host (an unsafe access stops the run with an error).
    #[arg(long)]
    unverified: bool,
}

/// One input packet and its capture timestamp.
struct Packet {
    ts: Timestamp,
    data: Vec<u8>,
}

fn read_packets(args: &Args) -> Result<(Vec<Packet>, Option<SavefileHeader>)> {
    if let Some(path) = &args.data_in {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let ts = Timestamp {
            sec: 0,
            frac: 0,
            units_per_sec: 1_000_000,
        };
        return Ok((vec![Packet { ts, data }], None));
    }
    let path = args
        .pcap
        .as_ref()
        .expect("clap requires --data-in or --pcap");
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader =
        Reader::new(std::io::BufReader::new(file)).with_context(|| path.display().to_string())?;
    let header = reader.savefile_header();
    let mut packets = Vec::new();
    while let Some(r) = reader
        .next_record()
        .with_context(|| path.display().to_string())?
    {
        if r.link_type != LinkType::ETHERNET {
            bail!(
                "{}: packet {} has link type {}; test-run needs Ethernet frames (1)",
                path.display(),
                packets.len(),
                r.link_type.0
            );
        }
        packets.push(Packet {
            ts: r.ts,
            data: r.data.to_vec(),
        });
    }
    Ok((packets, Some(header)))
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let verification = if args.unverified {
        Verification::Unverified
    } else {
        Verification::Verify
    };
    let object = match Runtime::new()
        .engine(args.engine.into())
        .verification(verification)
        .load_file(&args.object)
    {
        Ok(o) => o,
        Err(e) => {
            let path = args.object.display();
            if e.to_string().contains("by the verifier") {
                anyhow::bail!(
                    "{path}: {e}; `bpfkit verify {path} --log-level 1` shows the verifier's log, --unverified runs it with run-time checks only"
                );
            }
            return Err(anyhow::Error::new(e).context(path.to_string()));
        }
    };
    let program = object.program(args.program.as_deref())?;
    let (packets, header) = read_packets(&args)?;
    let mut writer = match &args.pcap_out {
        Some(path) => {
            let header = header.unwrap_or(SavefileHeader {
                dlt: Dlt::EN10MB,
                link_type_ext: 0,
                snaplen: 262_144,
                precision: Precision::Micro,
            });
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Some(PcapWriter::new(std::io::BufWriter::new(file), &header)?)
        }
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    for (index, packet) in packets.iter().enumerate() {
        let run = TestRun::new(&packet.data).repeat(args.repeat).cpu(args.cpu);
        let output = match program.test_run(&run) {
            Ok(result) => {
                if args.json {
                    writeln!(
                        out,
                        r#"{{"index": {index}, "retval": {}, "data_len": {}, "duration_ns": {}}}"#,
                        result.retval,
                        result.data_out.len(),
                        result.duration_ns
                    )?;
                } else {
                    writeln!(
                        out,
                        "Return value: {}, duration (average): {}ns",
                        result.retval, result.duration_ns
                    )?;
                }
                if let Some(path) = &args.data_out {
                    std::fs::write(path, &result.data_out)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                result.data_out
            }
            Err(e) => {
                failures += 1;
                if args.json {
                    let message = serde_json::Value::from(e.to_string());
                    writeln!(out, r#"{{"index": {index}, "error": {message}}}"#)?;
                }
                eprintln!("bpfkit: packet {index}: {e}");
                packet.data.clone()
            }
        };
        if let Some(w) = writer.as_mut() {
            w.write_packet(packet.ts, output.len() as u32, &output)?;
        }
    }
    if let Some(w) = writer {
        w.into_inner().flush()?;
    }
    if args.dump_maps {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&object.dump_maps())?
        )?;
    }
    if failures > 0 {
        eprintln!("bpfkit: {failures} of {} runs failed", packets.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
