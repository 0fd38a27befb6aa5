//! Support shared by the CLI tests that run programs: the binary, its output, scratch
//! directories, and every conformance vector through `bpfkit run`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `bpfkit` binary.
pub fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("bpfkit runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory for this test process.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `../shared/conformance/tests`, if present.
pub fn conformance_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tests");
    d.is_dir().then_some(d)
}

/// One conformance vector run through the binary.
pub struct VectorRun {
    pub name: String,
    /// Whether the outcome is the vector's: its result on stdout, or a failure if it
    /// expects an error.
    pub as_expected: bool,
    pub output: Output,
}

/// Runs every conformance vector through `bpfkit run PROGRAM --mem FILE <extra>` (programs
/// written as `.bin` when the vector has raw bytecode, else as `.s`), in file order; `None`
/// (after saying why) when the vectors are absent.
pub fn run_every_vector(tag: &str, extra: &[&str]) -> Option<Vec<VectorRun>> {
    let Some(dir) = conformance_dir() else {
        eprintln!("skipping: ../shared/conformance not found");
        return None;
    };
    let d = tmpdir(&format!("conf-{tag}"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    let runs = files
        .iter()
        .map(|path| {
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
            let mut args = vec![
                "run",
                prog.to_str().unwrap(),
                "--mem",
                mem.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let output = bpfkit(&args);
            let as_expected = match (&case.error, case.result) {
                (Some(_), _) => !output.status.success(),
                (None, Some(want)) => {
                    output.status.success() && stdout(&output) == format!("{want:#x}\n")
                }
                (None, None) => false,
            };
            VectorRun {
                name,
                as_expected,
                output,
            }
        })
        .collect();
    Some(runs)
}
