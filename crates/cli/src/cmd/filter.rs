//! `bpfkit filter`: tcpdump's filter language over capture files and live interfaces.

use anyhow::{bail, Context, Result};
use bpfkit_capture::live::{Capture, FilterPlacement, LiveConfig};
use bpfkit_capture::{
    Dlt, Format, MappedFile, PcapWriter, Reader, SavefileHeader, Timestamp, MAXIMUM_SNAPLEN,
};
use bpfkit_cbpf::{dump, DumpFormat, Insn};
use bpfkit_pcapfilter::{compile, CompileOptions, LinkType, PacketSource};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// How each packet is tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
    /// The classic BPF interpreter (libpcap's semantics).
    Cbpf,
    /// The program translated to eBPF, on the checked eBPF interpreter.
    Ebpf,
    /// The program translated to eBPF, compiled to x86-64 machine code (checked code).
    Jit,
}

/// Filter packets with a tcpdump expression (pcap-filter(7)), from a capture file or an interface.
///
/// Flags follow tcpdump's: `-r` reads pcap or pcapng, `-w` writes pcap with the input's link type
/// and snapshot length, `-d`/`-dd`/`-ddd` print the compiled program as tcpdump does.
#[derive(clap::Args)]
pub struct Args {
    /// The filter expression (words are joined with spaces, as tcpdump does).
    expression: Vec<String>,
    /// Read packets from a pcap or pcapng file.
    #[arg(short = 'r', value_name = "FILE", conflicts_with = "interface")]
    read: Option<PathBuf>,
    /// Capture live from an interface (Linux AF_PACKET, filter attached in the kernel, which
    /// takes programs of at most 4096 instructions).
    #[arg(short = 'i', value_name = "IFACE")]
    interface: Option<String>,
    /// Write accepted packets to a pcap file.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<PathBuf>,
    /// Stop after this many accepted packets.
    #[arg(short = 'c', value_name = "N")]
    limit: Option<u64>,
    /// Print only the number of accepted packets (`N packets`).
    #[arg(long)]
    count: bool,
    /// Print the compiled program and exit: -d as text, -dd as C, -ddd as decimal.
    #[arg(short = 'd', action = clap::ArgAction::Count)]
    dump: u8,
    /// Do not optimize the compiled program.
    #[arg(short = 'O')]
    no_optimize: bool,
    /// Read the expression from a file (the command-line expression is then ignored).
    #[arg(short = 'F', value_name = "FILE")]
    expression_file: Option<PathBuf>,
    /// Link-layer type to compile for when no file or interface says (e.g. EN10MB, RAW, LINUX_SLL).
    #[arg(short = 'y', value_name = "LINKTYPE")]
    link_type: Option<String>,
    /// Snapshot length for live capture and for compiling without a file.
    #[arg(short = 's', value_name = "SNAPLEN")]
    snaplen: Option<u32>,
    /// How packets are tested.
    #[arg(long, value_enum, default_value = "cbpf")]
    engine: Engine,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let expr = match &args.expression_file {
        Some(path) => read_expression_file(path)?,
        None => args.expression.join(" "),
    };
    if let Some(path) = &args.read {
        if path.as_os_str() == "-" {
            return filter_input(&args, &expr, path, std::io::stdin().lock());
        }
        let file = File::open(path).with_context(|| format!("{}", path.display()))?;
        // A regular file is mapped and read in place: no copy of the packets, which for a
        // large capture in the page cache costs more than filtering them. The file is
        // trusted not to be truncated meanwhile (like any reader of a mapped file, this
        // process would die of SIGBUS); anything that cannot be mapped is streamed.
        // SAFETY: see above; the map lives until the end of this call.
        return match unsafe { MappedFile::map(&file) } {
            Ok(map) => filter_input(&args, &expr, path, &map[..]),
            Err(_) => filter_input(&args, &expr, path, BufReader::with_capacity(1 << 20, file)),
        };
    }
    if let Some(iface) = &args.interface {
        let config = LiveConfig {
            snaplen: args.snaplen.unwrap_or(MAXIMUM_SNAPLEN),
            ..LiveConfig::default()
        };
        let mut capture = Capture::open(iface, &config).with_context(|| iface.clone())?;
        let prog = compile_for(
            &args,
            &expr,
            capture.dlt(),
            capture.snaplen(),
            PacketSource::Live,
        )?;
        if args.dump > 0 {
            return print_program(&prog, args.dump);
        }
        return capture_live(&args, &mut capture, &prog);
    }
    let dlt = match &args.link_type {
        Some(name) => {
            Dlt::from_name(name).with_context(|| format!("invalid data link type {name}"))?
        }
        None => Dlt::EN10MB,
    };
    let snaplen = args.snaplen.unwrap_or(MAXIMUM_SNAPLEN);
    let prog = compile_for(&args, &expr, dlt, snaplen, PacketSource::Live)?;
    if args.dump == 0 {
        bail!("nothing to filter: give -r FILE or -i IFACE (or -d to print the program)");
    }
    print_program(&prog, args.dump)
}

/// `-r`: reads the capture from `input` and filters it (or prints the program).
fn filter_input<R: BufRead>(args: &Args, expr: &str, path: &Path, input: R) -> Result<ExitCode>
where
    Reader<R>: CountInLanes,
{
    let mut reader = Reader::new(input).with_context(|| format!("{}", path.display()))?;
    let header = reader.savefile_header();
    if args.dump == 0 {
        eprintln!(
            "reading from file {}, link-type {}, snapshot length {}",
            path.display(),
            describe(header.dlt),
            header.snaplen
        );
    }
    // libpcap compiles slightly differently for files (and for files in the other byte
    // order). It takes the byte order of a pcapng file from its first section, which the
    // reader does not report: such files are taken as native (this matters only for `ip6`
    // on DLT_NULL captures written on a machine of the other byte order).
    let swapped = match reader.format() {
        Format::Pcap { big_endian, .. } => big_endian != cfg!(target_endian = "big"),
        Format::Pcapng => false,
    };
    let source = PacketSource::Savefile { swapped };
    let prog = compile_for(args, expr, header.dlt, header.snaplen, source)?;
    if args.dump > 0 {
        return print_program(&prog, args.dump);
    }
    let filter = Filter::new(prog, args.engine)?;
    filter_file(args, &mut reader, &header, &filter)
}

/// tcpdump's `-F`: `#` starts a comment to the end of the line.
fn read_expression_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" "))
}

fn describe(dlt: Dlt) -> String {
    match (dlt.name(), dlt.description()) {
        (Some(n), Some(d)) => format!("{n} ({d})"),
        (Some(n), None) => n.to_string(),
        _ => format!("{}", dlt.0),
    }
}

fn compile_for(
    args: &Args,
    expr: &str,
    dlt: Dlt,
    snaplen: u32,
    source: PacketSource,
) -> Result<Vec<Insn>> {
    let opts = CompileOptions {
        optimize: !args.no_optimize,
        snaplen,
        source,
        ..CompileOptions::default()
    };
    compile(expr, LinkType(dlt.0), &opts).with_context(|| "can't parse filter expression")
}

fn print_program(prog: &[Insn], level: u8) -> Result<ExitCode> {
    let format = match level {
        1 => DumpFormat::Image,
        2 => DumpFormat::C,
        _ => DumpFormat::Decimal,
    };
    print!("{}", dump(prog, format));
    Ok(ExitCode::SUCCESS)
}

/// A compiled filter ready to test packets on the chosen engine.
enum Filter {
    Cbpf(bpfkit_cbpf::Filter),
    Ebpf(bpfkit_vm::Program),
    Jit(Box<bpfkit_jit::JitProgram>),
}

impl Filter {
    /// No kernel validation here: offline filtering follows libpcap, which runs programs the
    /// kernel would refuse (libpcap's unoptimized radiotap code reads a scratch cell before
    /// storing it); every engine gives such programs libpcap's meaning.
    fn new(cbpf: Vec<Insn>, engine: Engine) -> Result<Filter> {
        let translated = || bpfkit_cbpf::to_ebpf_with(&cbpf, bpfkit_cbpf::WireLen::InR3);
        Ok(match engine {
            Engine::Cbpf => Filter::Cbpf(bpfkit_cbpf::Filter::new(&cbpf)),
            Engine::Ebpf => {
                Filter::Ebpf(bpfkit_vm::Program::load(&translated()).context("translated filter")?)
            }
            Engine::Jit => Filter::Jit(Box::new(
                bpfkit_jit::JitProgram::from_insns(
                    &translated(),
                    &bpfkit_jit::CompileOptions::default(),
                )
                .context("translated filter")?,
            )),
        })
    }
}

/// Runs a translated filter (r1 = packet, r2 = captured length, r3 = wire length) on the
/// eBPF interpreter or the JIT, which share this interface.
fn run_translated(
    data: &[u8],
    wirelen: u32,
    run: impl FnOnce(
        [u64; 5],
        &mut bpfkit_vm::MemoryMap<'_>,
    ) -> Result<bpfkit_vm::Exit, bpfkit_vm::VmError>,
) -> Result<bool> {
    let mut memory = bpfkit_vm::MemoryMap::new();
    let addr = memory.add_slice(data);
    let exit = run([addr, data.len() as u64, wirelen.into(), 0, 0], &mut memory)?;
    Ok(exit.r0 != 0)
}

/// Where accepted packets go.
enum Sink {
    Count,
    Write(PcapWriter<BufWriter<File>>),
    Print(BufWriter<Stdout>),
}

impl Sink {
    fn open(args: &Args, header: &SavefileHeader) -> Result<Sink> {
        Ok(match (&args.write, args.count) {
            (Some(path), _) => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Sink::Write(PcapWriter::new(
                    BufWriter::with_capacity(1 << 18, file),
                    header,
                )?)
            }
            (None, true) => Sink::Count,
            (None, false) => Sink::Print(BufWriter::new(std::io::stdout())),
        })
    }

    fn accept(&mut self, ts: Timestamp, wirelen: u32, data: &[u8]) -> Result<()> {
        match self {
            Sink::Count => {}
            Sink::Write(w) => w.write_packet(ts, wirelen, data)?,
            Sink::Print(out) => writeln!(out, "{} length {wirelen}", clock(ts))?,
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        match self {
            Sink::Count => {}
            Sink::Write(w) => w.flush()?,
            Sink::Print(out) => out.flush()?,
        }
        Ok(())
    }
}

/// `HH:MM:SS.micros` in UTC, tcpdump's default time stamp shape.
fn clock(ts: Timestamp) -> String {
    let day = ts.sec.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        ts.micros()
    )
}

fn filter_file<R: BufRead>(
    args: &Args,
    reader: &mut Reader<R>,
    header: &SavefileHeader,
    filter: &Filter,
) -> Result<ExitCode>
where
    Reader<R>: CountInLanes,
{
    // One loop per engine, so that the test of each packet is a direct call.
    let config = bpfkit_vm::Config::default();
    match filter {
        Filter::Cbpf(f) => filter_records(args, reader, header, |data, wirelen| {
            Ok(f.run(data, wirelen) != 0)
        }),
        Filter::Ebpf(prog) => filter_records(args, reader, header, |data, wirelen| {
            run_translated(data, wirelen, |regs, memory| {
                prog.run(regs, memory, &mut bpfkit_vm::NoHelpers, &config)
            })
        }),
        Filter::Jit(jit) => filter_records(args, reader, header, |data, wirelen| {
            run_translated(data, wirelen, |regs, memory| {
                jit.run(regs, memory, &mut bpfkit_vm::NoHelpers, &config)
            })
        }),
    }
}

fn filter_records<R: BufRead>(
    args: &Args,
    reader: &mut Reader<R>,
    header: &SavefileHeader,
    mut accepts: impl FnMut(&[u8], u32) -> Result<bool>,
) -> Result<ExitCode>
where
    Reader<R>: CountInLanes,
{
    // Counting needs no order: walk a large mapped file in lanes when it allows.
    if args.count && args.write.is_none() && args.limit.is_none() {
        if let Some(n) = reader.count_in_lanes(&mut accepts) {
            println!("{n} packets");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut sink = Sink::open(args, header)?;
    let mut accepted = 0u64;
    // Keep everything accepted before damage, then report the damage.
    let outcome: Result<()> = (|| {
        while args.limit.is_none_or(|n| accepted < n) {
            let Some(rec) = reader.next_record()? else {
                break;
            };
            if accepts(rec.data, rec.wirelen)? {
                accepted += 1;
                sink.accept(rec.ts, rec.wirelen, rec.data)?;
            }
        }
        Ok(())
    })();
    sink.flush()?;
    if args.count {
        println!("{accepted} packets");
    }
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Readers that can count accepted packets out of file order ([`Reader::lanes`]).
trait CountInLanes {
    /// The number of packets `accepts` accepts, or `None` if this reader cannot count in
    /// lanes or the walk did not vouch for its result (the reader has not moved then).
    fn count_in_lanes(
        &mut self,
        _accepts: &mut impl FnMut(&[u8], u32) -> Result<bool>,
    ) -> Option<u64> {
        None
    }
}

/// Lanes per file: enough that a lane's next header arrives from memory while the
/// other lanes each handle one packet.
const LANES: usize = 16;

impl CountInLanes for Reader<&[u8]> {
    fn count_in_lanes(
        &mut self,
        accepts: &mut impl FnMut(&[u8], u32) -> Result<bool>,
    ) -> Option<u64> {
        let lanes = self.lanes(LANES)?;
        if lanes.count() < 2 {
            return None;
        }
        let mut accepted = 0u64;
        // An engine error stops the walk; reading in order then reports it where it happens.
        let complete = lanes.visit_all(|rec| match accepts(rec.data, rec.wirelen) {
            Ok(yes) => {
                accepted += u64::from(yes);
                true
            }
            Err(_) => false,
        });
        complete.then_some(accepted)
    }
}

impl CountInLanes for Reader<BufReader<File>> {}
impl CountInLanes for Reader<std::io::StdinLock<'_>> {}

fn capture_live(args: &Args, capture: &mut Capture, prog: &[Insn]) -> Result<ExitCode> {
    // libpcap would silently filter in user space, copying every packet out of the kernel;
    // say why instead (capture files have no such limit).
    if !bpfkit_pcapfilter::fits_kernel(prog) {
        bail!(
            "the filter program has {} instructions, more than the kernel's limit of {} \
             (BPF_MAXINSNS) for a socket filter: simplify the expression, or capture \
             without it (-w FILE) and filter the file (-r FILE)",
            prog.len(),
            bpfkit_cbpf::op::MAXINSNS
        );
    }
    if capture.set_filter(prog)? == FilterPlacement::Userland {
        eprintln!("bpfkit: the kernel refused the filter; filtering in user space");
    }
    let header = SavefileHeader {
        dlt: capture.dlt(),
        link_type_ext: 0,
        snaplen: capture.snaplen(),
        precision: bpfkit_capture::Precision::Micro,
    };
    let mut sink = Sink::open(args, &header)?;
    eprintln!(
        "listening on {}, link-type {}, snapshot length {} bytes",
        args.interface.as_deref().unwrap_or(""),
        describe(header.dlt),
        header.snaplen
    );
    let mut accepted = 0u64;
    while args.limit.is_none_or(|n| accepted < n) {
        let Some(pkt) = capture.next_packet(Duration::from_millis(200))? else {
            continue;
        };
        accepted += 1;
        sink.accept(pkt.ts, pkt.wirelen, pkt.data)?;
        // Live capture ends by signal: flush each packet so none is lost.
        sink.flush()?;
        std::io::stdout().flush()?;
    }
    if args.count {
        println!("{accepted} packets");
    }
    Ok(ExitCode::SUCCESS)
}
