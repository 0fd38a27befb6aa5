//! What the `bpfkit filter` tests share: running bpfkit and tcpdump, finding the shared
//! captures, temporary files, the expression lists, generated traffic, and the comparison of
//! `-w` outputs with tcpdump's.
// Each test binary uses part of this module.
#![allow(dead_code)]

pub mod traffic;

use bpfkit_capture::{Dlt, PcapWriter, Precision, Reader, SavefileHeader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs the `bpfkit` binary under test.
pub fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("bpfkit runs")
}

/// Runs `bpfkit` with `input` on standard input.
pub fn bpfkit_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bpfkit runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from another thread: a large input would fill the pipe while bpfkit's output waits.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // bpfkit may stop reading early (-c)
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs tcpdump; `None` if it cannot be started.
pub fn tcpdump(args: &[&str]) -> Option<Output> {
    Command::new("tcpdump").args(args).output().ok()
}

/// Whether tcpdump is installed and runs.
pub fn have_tcpdump() -> bool {
    tcpdump(&["--version"]).is_some_and(|o| o.status.success())
}

/// The effective user id (0 = root).
pub fn euid() -> u32 {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(1)
}

/// The shared captures (`../shared/pcaps/*.pcap{,ng}`), sorted; `None` if absent.
pub fn pcaps() -> Option<Vec<PathBuf>> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    Some(v)
}

/// The shared captures when tcpdump is installed too; otherwise `None`, having printed
/// why the calling test skips.
pub fn tcpdump_and_pcaps() -> Option<Vec<PathBuf>> {
    if !have_tcpdump() {
        eprintln!("skipping: tcpdump not installed");
        return None;
    }
    let files = pcaps();
    if files.is_none() {
        eprintln!("skipping: ../shared/pcaps not found");
    }
    files
}

/// A path in this process's temporary directory.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit-filter-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A temporary path no other call returns (for tests running in parallel threads).
pub fn unique_tmp(stem: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    tmp(&format!(
        "{stem}-{}.pcap",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The records of a capture file, or `None` if it cannot be read to the end.
pub fn record_count(bytes: &[u8]) -> Option<usize> {
    let mut reader = Reader::new(bytes).ok()?;
    let mut n = 0;
    while reader.next_record().ok()?.is_some() {
        n += 1;
    }
    Some(n)
}

/// Filter expressions by link type (`tcpdump -y` names), in the format of
/// `crates/pcapfilter/tests/exprs.txt`: `@NAME` selects the link type of the lines after it,
/// `#` starts a comment line, blank lines are skipped, every other line is one expression.
/// Duplicates within a link type are dropped.
pub fn expressions_by_link_type(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::from("EN10MB");
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('@') {
            current = name.to_string();
            continue;
        }
        let list = by_type.entry(current.clone()).or_default();
        if !list.iter().any(|e| e == line) {
            list.push(line.to_string());
        }
    }
    by_type
}

/// The compiler's own expression corpus plus the CLI tests' additions, by link type.
pub fn test_expressions() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(root.join("../pcapfilter/tests/exprs.txt"))
        .expect("crates/pcapfilter/tests/exprs.txt");
    text.push('\n');
    text.push_str(include_str!("exprs.txt"));
    expressions_by_link_type(&text)
}

/// The shared captures of link type `dlt` as one pcap file (records of other link types in
/// pcapng files are left out); `None` if there are none. A single capture is used as it is.
pub fn shared_capture_of(files: &[PathBuf], dlt: Dlt) -> Option<PathBuf> {
    let mut matching = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        let Ok(reader) = Reader::new(&bytes[..]) else {
            continue;
        };
        if reader.savefile_header().dlt == dlt {
            matching.push((file.clone(), bytes));
        }
    }
    match matching.len() {
        0 => return None,
        1 => return Some(matching.pop().unwrap().0),
        _ => {}
    }
    let mut snaplen = 0;
    let mut precision = Precision::Micro;
    for (_, bytes) in &matching {
        let h = Reader::new(&bytes[..]).unwrap().savefile_header();
        snaplen = snaplen.max(h.snaplen);
        if h.precision == Precision::Nano {
            precision = Precision::Nano;
        }
    }
    let header = SavefileHeader {
        dlt,
        link_type_ext: 0,
        snaplen,
        precision,
    };
    let mut w = PcapWriter::new(Vec::new(), &header).unwrap();
    for (_, bytes) in &matching {
        let mut reader = Reader::new(&bytes[..]).unwrap();
        while let Ok(Some(rec)) = reader.next_record() {
            if Some(rec.link_type) == dlt.to_linktype() && rec.data.len() <= snaplen as usize {
                w.write_record(&rec).unwrap();
            }
        }
    }
    let path = tmp(&format!("shared-{}.pcap", dlt.0));
    std::fs::write(&path, w.into_inner()).unwrap();
    Some(path)
}

/// What comparing one (capture, expression) pair with tcpdump found.
pub enum Verdict {
    /// Both wrote the same file, of this many packets.
    Same(usize),
    /// Both refused the expression.
    BothRejected,
    /// They differ: the description.
    Differs(String),
}

/// How many comparisons found the same output file.
pub fn same_count(verdicts: &[Verdict]) -> usize {
    verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Same(_)))
        .count()
}

/// `tcpdump -r FILE -w OUT [flags] EXPR` against `bpfkit filter -r FILE -w OUT [flags] EXPR`:
/// the same exit status class and the same output bytes. With `count`, `bpfkit --count` must
/// also print the number of packets in tcpdump's output file.
pub fn compare_with_tcpdump(file: &Path, flags: &[&str], expr: &str, count: bool) -> Verdict {
    let (ours, theirs) = (unique_tmp("ours"), unique_tmp("theirs"));
    let f = file.to_str().unwrap();
    let mut t_args = vec!["-r", f, "-w", theirs.to_str().unwrap()];
    t_args.extend(flags);
    t_args.push(expr);
    let mut b_args = vec!["filter", "-r", f, "-w", ours.to_str().unwrap()];
    b_args.extend(flags);
    b_args.push(expr);
    let t = tcpdump(&t_args).expect("tcpdump runs");
    let b = bpfkit(&b_args);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let what = format!("{name} {flags:?} [{expr}]");
    let verdict = if t.status.success() != b.status.success() {
        Verdict::Differs(format!(
            "{what}: tcpdump {} ({}), bpfkit {} ({})",
            t.status,
            String::from_utf8_lossy(&t.stderr).trim(),
            b.status,
            String::from_utf8_lossy(&b.stderr).trim()
        ))
    } else if !t.status.success() {
        Verdict::BothRejected
    } else {
        let (mine, want) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
        );
        match record_count(&want) {
            _ if mine != want => Verdict::Differs(format!("{what}: output differs")),
            None => Verdict::Differs(format!("{what}: tcpdump's output is unreadable")),
            Some(n) => {
                let mut verdict = Verdict::Same(n);
                if count {
                    let mut c_args = vec!["filter", "-r", f, "--count"];
                    c_args.extend(flags);
                    c_args.push(expr);
                    let c = bpfkit(&c_args);
                    let printed = String::from_utf8_lossy(&c.stdout);
                    if printed != format!("{n} packets\n") {
                        verdict = Verdict::Differs(format!(
                            "{what}: --count printed {printed:?}, tcpdump wrote {n} packets"
                        ));
                    }
                }
                verdict
            }
        }
    };
    let _ = std::fs::remove_file(&ours);
    let _ = std::fs::remove_file(&theirs);
    verdict
}

/// One comparison to make.
pub struct Job {
    /// The capture.
    pub file: PathBuf,
    /// Extra flags for both commands (e.g. `-O`).
    pub flags: Vec<&'static str>,
    /// The expression.
    pub expr: String,
    /// Also compare `--count`.
    pub count: bool,
}

/// Runs `jobs` on `threads` threads; the verdicts, in the order of `jobs`.
pub fn run_jobs(jobs: &[Job], threads: usize) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Verdict>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let v = compare_with_tcpdump(&job.file, &job.flags, &job.expr, job.count);
                results.lock().unwrap()[i] = Some(v);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|v| v.unwrap())
        .collect()
}
