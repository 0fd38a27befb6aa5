//! `bpfkit verify`, and the verification `bpfkit run` and `bpfkit test-run` do first.
//! Oracles: the kernel (through `bpftool prog loadall`, as root) for accept/reject decisions
//! and messages, the conformance vectors' expected results for `bpfkit run`.

mod common_run;

use common_run::{bpfkit, run_every_vector, stderr, stdout, tmpdir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn crates() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn runtime_corpus(name: &str) -> String {
    crates()
        .join("runtime/tests/corpus")
        .join(name)
        .display()
        .to_string()
}

fn unsafe_object() -> String {
    crates()
        .join("runtime/tests/unsafe/xdp_past_end.o")
        .display()
        .to_string()
}

/// The kernel's message for the unsafe object, recorded from Linux 6.18 with
/// `bpftool -d prog load` (and re-checked live by `kernel_agrees_on_every_object` as root).
const PAST_END: &str = "invalid access to packet, off=0 size=1, R1(id=1,off=0,r=0)";

fn program_names(object: &str) -> Vec<String> {
    let o = bpfkit_object::Object::parse(&std::fs::read(object).unwrap()).unwrap();
    o.programs.iter().map(|p| p.name.clone()).collect()
}

/// Checks the kernel-style ending of a report: the summary, then the time.
fn assert_summary_ending(block: &[&str]) {
    let n = block.len();
    assert!(n >= 2, "{block:?}");
    let processed = block[n - 2];
    assert!(
        processed.starts_with("processed ")
            && processed.contains(" insns (limit 1000000) max_states_per_insn "),
        "{processed}"
    );
    let time = block[n - 1];
    let us = time
        .strip_prefix("verification time ")
        .and_then(|t| t.strip_suffix(" usec"))
        .unwrap_or_else(|| panic!("{time}"));
    us.parse::<u64>().unwrap();
}

#[test]
fn accepted_object_exits_0_with_a_report_per_program() {
    let obj = runtime_corpus("xdp_tail.o");
    let o = bpfkit(&["verify", &obj]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let names = program_names(&obj);
    assert_eq!(names.len(), 6);
    // Three lines per program at log level 0: verdict, summary, time.
    assert_eq!(lines.len(), 3 * names.len(), "{out}");
    for (name, block) in names.iter().zip(lines.chunks(3)) {
        assert_eq!(block[0], format!("{name} (xdp): accepted"));
        assert_summary_ending(block);
    }
}

#[test]
fn rejected_object_exits_1_with_its_log() {
    let o = bpfkit(&["verify", &unsafe_object()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("xdp_past_end (xdp): rejected: insn 9: {PAST_END}")
    );
    // The log (level 1 even though none was asked for) walks to the faulting load.
    assert_eq!(lines[1], "0: R1=ctx() R10=fp0");
    assert!(out.contains("9: (71) r1 = *(u8 *)(r1 + 0)\n"), "{out}");
    assert_eq!(lines[lines.len() - 3], PAST_END);
    assert_summary_ending(&lines);
    // The kernel processed 10 instructions before rejecting it, too.
    assert!(lines[lines.len() - 2].starts_with("processed 10 insns "));
}

#[test]
fn json_has_one_object_per_program() {
    for (obj, programs) in [(runtime_corpus("xdp_tail.o"), 6), (unsafe_object(), 1)] {
        let o = bpfkit(&["verify", &obj, "--json"]);
        let out = stdout(&o);
        let values: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        assert_eq!(values.len(), programs, "{out}");
        for (v, name) in values.iter().zip(program_names(&obj)) {
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            let mut keys = keys.clone();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "accepted",
                    "insn",
                    "message",
                    "processed",
                    "program",
                    "time_us",
                    "type"
                ]
            );
            assert_eq!(v["program"], name.as_str());
            assert_eq!(v["type"], "xdp");
            assert!(v["processed"].as_u64().unwrap() > 0);
            assert!(v["time_us"].is_u64());
            if v["accepted"] == true {
                assert!(v["insn"].is_null() && v["message"].is_null());
            } else {
                assert_eq!(v["insn"], 9);
                assert_eq!(v["message"], PAST_END);
                assert_eq!(v["processed"], 10);
            }
        }
        let code = if programs == 1 { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(code));
    }
    // With a log level, the log comes along.
    let o = bpfkit(&["verify", &unsafe_object(), "--json", "--log-level", "1"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(v["log"].as_str().unwrap().contains(PAST_END));
}

#[test]
fn log_level_2_shows_the_registers_each_instruction_changed() {
    let obj = runtime_corpus("xdp_tail.o");
    let o = bpfkit(&["verify", &obj, "--program", "xdp_ip", "--log-level", "2"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    // `w1 = 0` then the spill of r1 to the stack, each with its effect.
    assert!(out.contains("0: (b4) w1 = 0\t; R1=0\n"), "{out}");
    assert!(out.contains("2: (bf) r2 = r10\t; R2=fp0\n"), "{out}");
    let level1 = stdout(&bpfkit(&[
        "verify",
        &obj,
        "--program",
        "xdp_ip",
        "--log-level",
        "1",
    ]));
    assert!(level1.contains("0: (b4) w1 = 0\n") && !level1.contains("\t; R"));
}

#[test]
fn usage_and_input_errors_exit_2() {
    let d = tmpdir("errors");
    let truncated = d.join("cut.o");
    let obj = std::fs::read(runtime_corpus("xdp_tail.o")).unwrap();
    std::fs::write(&truncated, &obj[..200]).unwrap();
    let asm = d.join("p.s");
    std::fs::write(&asm, "r0 = 0\nexit\n").unwrap();
    let tail = runtime_corpus("xdp_tail.o");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["verify", "/nonexistent/x.o"], "/nonexistent/x.o"),
        (vec!["verify", truncated.to_str().unwrap()], "cut.o"),
        (vec!["verify", &tail, "--program", "nope"], "nope"),
        (vec!["verify", &tail, "--type", "kprobe"], "kprobe"),
        (vec!["verify", asm.to_str().unwrap()], "--type"),
        (
            vec!["verify", asm.to_str().unwrap(), "--type", "raw"],
            "--mem-size",
        ),
        (vec!["verify"], "INPUT"),
        (vec!["verify", &tail, "--log-level", "3"], "log-level"),
    ];
    for (args, mention) in cases {
        let o = bpfkit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(mention), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
}

#[test]
fn type_override_and_assembly_input() {
    // run_memory.o is a socket program written for `bpfkit run` (r1 = memory): as a socket
    // filter it indexes the context with a variable, as raw memory it is fine.
    let obj = crates().join("cli/tests/data/run_memory.o");
    let obj = obj.to_str().unwrap();
    let o = bpfkit(&["verify", obj]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("(socket_filter): rejected: insn"),
        "{}",
        stdout(&o)
    );
    let o = bpfkit(&["verify", obj, "--type", "raw", "--mem-size", "80"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("weighted_sum (raw:80): accepted\n"));

    let d = tmpdir("asm");
    let p = d.join("read4.s");
    std::fs::write(&p, "r0 = *(u32 *)(r1 + 4)\nexit\n").unwrap();
    let p = p.to_str().unwrap();
    let o = bpfkit(&["verify", p, "--mem-size", "8"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("read4 (raw:8): accepted\n"));
    let o = bpfkit(&["verify", p, "--type", "raw", "--mem-size", "6"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with(
        "read4 (raw:6): rejected: insn 0: invalid access to memory, mem_size=6 off=4 size=4\n"
    ));
    // As an XDP program the same load reads xdp_md->data_end: fine.
    let o = bpfkit(&["verify", p, "--type", "xdp"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok()
}

/// Whether the effective user is root (from `/proc/self/status`: `Uid: real effective ...`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uid = s.lines().find(|l| l.starts_with("Uid:"))?;
            Some(uid.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

/// The kernel's decision on every program of `object` (`bpftool prog loadall`).
fn kernel_loads(object: &Path) -> (bool, String) {
    let dir = format!(
        "/sys/fs/bpf/bpfkit_cli_verify_{}_{}",
        std::process::id(),
        object.file_stem().unwrap().to_string_lossy()
    );
    let out = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(object)
        .arg(&dir)
        .output()
        .expect("bpftool runs");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The verifier's C corpus compiled here, with each file's expected decision.
fn compile_c_corpus(out_dir: &Path) -> Vec<PathBuf> {
    let dir = crates().join("verifier/tests/corpus_c");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|src| {
            let out = out_dir.join(src.file_name().unwrap()).with_extension("o");
            let ok = Command::new("clang")
                .args(["-O2", "-g", "-target", "bpf", "-c"])
                .arg("-I/usr/include/x86_64-linux-gnu")
                .arg(src)
                .arg("-o")
                .arg(&out)
                .status()
                .unwrap()
                .success();
            assert!(ok, "clang failed on {}", src.display());
            out
        })
        .collect()
}

/// `bpfkit verify` and the kernel make the same decision on the verifier's C corpus (safe
/// and unsafe programs), every runtime corpus object, the XDP example and the unsafe object.
#[test]
fn kernel_agrees_on_every_object() {
    if !is_root() {
        eprintln!("skipping: loading programs into the kernel needs root");
        return;
    }
    if !have("bpftool", "version") || !have("clang", "--version") {
        eprintln!("skipping: needs bpftool and clang");
        return;
    }
    let d = tmpdir("kernel");
    let mut objects = compile_c_corpus(&d);
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(crates().join("runtime/tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    corpus.sort();
    objects.extend(corpus);
    objects.push(crates().join("../examples/xdp/proto_count.o"));
    objects.push(PathBuf::from(unsafe_object()));
    let mut mismatches = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for obj in &objects {
        let o = bpfkit(&["verify", obj.to_str().unwrap()]);
        let ours = match o.status.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("{}: exit {other:?}: {}", obj.display(), stderr(&o)),
        };
        let (kernel, log) = kernel_loads(obj);
        if ours {
            accepted += 1;
        } else {
            rejected += 1;
        }
        if ours != kernel {
            mismatches.push(format!(
                "{}: bpfkit accepted={ours}, kernel accepted={kernel}\n{}{log}",
                obj.display(),
                stdout(&o)
            ));
        }
        if obj.to_str() == Some(unsafe_object().as_str()) {
            assert!(log.contains(PAST_END), "{log}");
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(accepted >= 30 && rejected >= 8, "{accepted} / {rejected}");
    eprintln!(
        "{} objects: {accepted} accepted, {rejected} rejected, same as the kernel",
        objects.len()
    );
}

/// Every conformance vector through `bpfkit run` on the default engine (the JIT on x86-64):
/// the results stay those of the vectors, programs are verified when the verifier can prove
/// them safe (and said so otherwise), and no program the verifier accepted fails at run
/// time, though the JIT runs those as unchecked code.
#[test]
fn conformance_vectors_verified_when_possible() {
    let Some(runs) = run_every_vector("verify", &[]) else {
        return;
    };
    let (mut verified, mut failures) = (0, Vec::new());
    for run in &runs {
        let (name, o) = (&run.name, &run.output);
        let err = stderr(o);
        let note = err
            .lines()
            .find(|l| l.starts_with("bpfkit: not verified ("));
        if !run.as_expected {
            failures.push(format!("{name}: wrong result: {}{err}", stdout(o)));
        }
        match note {
            Some(l) => assert!(l.ends_with("); running with runtime checks"), "{l}"),
            None => {
                verified += 1;
                if !o.status.success() {
                    failures.push(format!("{name}: verified, yet failed at run time: {err}"));
                }
            }
        }
    }
    assert_eq!(runs.len(), 313, "expected the 313 public vectors");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most vectors are plain safe programs.
    assert!(verified >= 200, "only {verified} verified");
    eprintln!(
        "{verified} of {} conformance programs verified; the others ran with runtime checks",
        runs.len()
    );
}

/// `bpfkit run` on an object verifies it for the memory convention: a program that only
/// touches its memory within bounds runs with no note.
#[test]
fn run_on_an_object_verifies_silently() {
    let obj = crates().join("cli/tests/data/run_memory.o");
    let o = bpfkit(&["run", obj.to_str().unwrap(), "--mem-hex", "01 02 03"]);
    assert_eq!(stdout(&o), "0x2a\n", "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// `bpfkit test-run` refuses an object the verifier rejects; with --unverified it runs and
/// the interpreter stops the unsafe access.
#[test]
fn test_run_refuses_unless_unverified() {
    let d = tmpdir("testrun");
    let safe = d.join("safe.bin");
    let hostile = d.join("hostile.bin");
    let mut packet = vec![0u8; 64];
    std::fs::write(&safe, &packet).unwrap();
    packet[0] = 0xff;
    std::fs::write(&hostile, &packet).unwrap();
    let obj = unsafe_object();

    let o = bpfkit(&["test-run", &obj, "--data-in", safe.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("rejected by the verifier: insn 9: {PAST_END}")),
        "{err}"
    );
    assert!(err.contains("--unverified"), "{err}");
    assert!(stdout(&o).is_empty());

    // Unverified, the interpreter and checked JIT code both stop the unsafe access.
    for engine in ["interp", "jit"] {
        let o = bpfkit(&[
            "test-run",
            &obj,
            "--unverified",
            "--engine",
            engine,
            "--data-in",
            safe.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{engine}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("Return value: 2,"));
        let o = bpfkit(&[
            "test-run",
            &obj,
            "--unverified",
            "--engine",
            engine,
            "--data-in",
            hostile.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("insn 9: out-of-bounds read"),
            "{engine}: {}",
            stderr(&o)
        );
    }
}
