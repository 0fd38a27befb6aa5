//! `filterbench-gen OUT.pcap [PACKETS [SEED]]`: writes the benchmark's packet mix to a file.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse().map_err(|_| format!("not a number: {s}"))
        })
    };
    let (Some(out), Ok(packets), Ok(seed)) = (args.first(), parse(1, 2_000_000), parse(2, 1))
    else {
        eprintln!("usage: filterbench-gen OUT.pcap [PACKETS [SEED]]");
        return ExitCode::from(2);
    };
    match bpfkit_filterbench::generate::write_capture(out.as_ref(), packets, seed) {
        Ok(stats) => {
            println!("{out}: {} packets, {} bytes", stats.packets, stats.bytes);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("filterbench-gen: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
