//! End-to-end tests of the `bpfkit` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("bpfkit runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn conformance_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tests");
    d.is_dir().then_some(d)
}

const SUM: &str = "
# sum the bytes of memory
    r0 = 0
loop:
    if r2 == 0 goto done
    r3 = *(u8 *)(r1 + 0)
    r0 += r3
    r1 += 1
    r2 -= 1
    goto loop
done:
    exit
";

#[test]
fn run_asm_prints_r0_in_hex() {
    let d = tmpdir("sum");
    let src = d.join("sum.s");
    std::fs::write(&src, SUM).unwrap();
    let o = bpfkit(&["run", src.to_str().unwrap(), "--mem-hex", "01 02 03 ff"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0x105\n");
}

#[test]
fn asm_then_run_raw_and_disasm_round_trip() {
    let d = tmpdir("rt");
    let src = d.join("sum.s");
    let bin = d.join("sum.bin");
    let mem = d.join("mem");
    std::fs::write(&src, SUM).unwrap();
    std::fs::write(&mem, [7u8, 8, 9]).unwrap();
    let o = bpfkit(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&bin).unwrap().len(), 8 * 8);
    let o = bpfkit(&["run", bin.to_str().unwrap(), "--mem", mem.to_str().unwrap()]);
    assert_eq!(stdout(&o), "0x18\n");
    // Both syntaxes of the listing assemble back to the same bytes.
    for syntax in ["llvm", "ubpf"] {
        let o = bpfkit(&[
            "disasm",
            bin.to_str().unwrap(),
            "--syntax",
            syntax,
            "--labels",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let again = d.join(format!("again-{syntax}.s"));
        std::fs::write(&again, stdout(&o)).unwrap();
        let bin2 = d.join(format!("again-{syntax}.bin"));
        let o = bpfkit(&["asm", again.to_str().unwrap(), "-o", bin2.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(&bin2).unwrap());
    }
}

#[test]
fn errors_go_to_stderr_with_status_1() {
    let d = tmpdir("err");
    let oob = d.join("oob.s");
    std::fs::write(&oob, "r0 = *(u32 *)(r1 + 4)\nexit\n").unwrap();
    let o = bpfkit(&["run", oob.to_str().unwrap(), "--mem-hex", "01 02"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("insn 0: out-of-bounds read of 4 bytes"),
        "{}",
        stderr(&o)
    );

    let bad = d.join("bad.s");
    std::fs::write(&bad, "r0 = 1\nr0 +== 2\nexit\n").unwrap();
    let o = bpfkit(&[
        "asm",
        bad.to_str().unwrap(),
        "-o",
        d.join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));

    let ragged = d.join("ragged.bin");
    std::fs::write(&ragged, [0x95u8, 0, 0]).unwrap();
    let o = bpfkit(&["run", ragged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a multiple of 8"), "{}", stderr(&o));

    // Usage errors are clap's (status 2).
    let o = bpfkit(&["run"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn loops_forever_stops_at_the_budget() {
    let d = tmpdir("loop");
    let p = d.join("loop.s");
    std::fs::write(&p, "l: goto l\n").unwrap();
    let o = bpfkit(&["run", p.to_str().unwrap(), "--budget", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("budget"), "{}", stderr(&o));
}

/// Every conformance vector, run through the binary exactly as a user would.
#[test]
fn every_conformance_vector_through_bpfkit_run() {
    let Some(dir) = conformance_dir() else {
        eprintln!("skipping: ../shared/conformance not found");
        return;
    };
    let d = tmpdir("conf");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for path in &files {
        let case = bpfkit_conformance::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let prog = match &case.raw {
            Some(words) => {
                let p = d.join(format!("{name}.bin"));
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                std::fs::write(&p, bytes).unwrap();
                p
            }
            None => {
                let p = d.join(format!("{name}.s"));
                std::fs::write(&p, case.asm.clone().unwrap_or_default()).unwrap();
                p
            }
        };
        let mem = d.join(format!("{name}.mem"));
        std::fs::write(&mem, &case.mem).unwrap();
        let o = bpfkit(&[
            "run",
            prog.to_str().unwrap(),
            "--mem",
            mem.to_str().unwrap(),
        ]);
        let ok = match (&case.error, case.result) {
            (Some(_), _) => !o.status.success(),
            (None, Some(want)) => o.status.success() && stdout(&o) == format!("{want:#x}\n"),
            (None, None) => false,
        };
        if !ok {
            failures.push(format!("{name}: {}{}", stdout(&o), stderr(&o)));
        }
    }
    assert_eq!(files.len(), 313, "expected the 313 public vectors");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `bpfkit run OBJ.o`: a clang-built object with a map, .rodata and a bpf-to-bpf call, run with
/// r1 = memory, r2 = length. The expected value is computed here from the C source's formula.
#[test]
fn run_elf_object_on_memory() {
    let obj = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run_memory.o");
    let mem: Vec<u8> = (0..80u32).map(|i| (i * 37 % 251) as u8).collect();
    let hex: Vec<String> = mem.iter().map(|b| format!("{b:02x}")).collect();
    let want: u64 = 3 * mem
        .iter()
        .take(64)
        .enumerate()
        .map(|(i, &b)| b as u64 * (i as u64 + 1))
        .sum::<u64>();
    let o = bpfkit(&["run", obj.to_str().unwrap(), "--mem-hex", &hex.join(" ")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{:#x}\n", want as u32 as i32 as i64 as u64)
    );

    let o = bpfkit(&[
        "run",
        obj.to_str().unwrap(),
        "--program",
        "weighted_sum",
        "--mem-hex",
        "01 02 03",
    ]);
    assert_eq!(stdout(&o), "0x2a\n", "{}", stderr(&o));

    let o = bpfkit(&["run", obj.to_str().unwrap(), "--program", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));

    // A truncated object is an error naming the problem, not a crash.
    let d = tmpdir("elf");
    let cut = d.join("cut.o");
    std::fs::write(&cut, &std::fs::read(&obj).unwrap()[..300]).unwrap();
    let o = bpfkit(&["run", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).is_empty());
}
