//! C programs (`tests/corpus_c/*.c`) compiled with clang, read with `bpfkit-object`, verified
//! by bpfkit (through its object module: maps, read-only `.rodata`, maps of maps) and — as
//! root — by the running kernel through `bpftool prog loadall`. Headers as in the asm corpus,
//! with `//`.

mod support;

use bpfkit_verifier::object::verify_program;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{kernel, Expect};

struct CCase {
    name: String,
    prog_type: String,
    expect: Expect,
    object: bpfkit_object::Object,
    path: PathBuf,
}

fn compile(src: &Path, out_dir: &Path) -> Option<Vec<u8>> {
    let out = out_dir.join(src.file_name()?).with_extension("o");
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        // linux/types.h needs asm/types.h, which lives in the multiarch directory.
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .ok()?;
    assert!(status.success(), "clang failed on {}", src.display());
    std::fs::read(out).ok()
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("//"))
        .filter_map(|h| h.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
}

fn cases() -> Option<Vec<CCase>> {
    if Command::new("clang").arg("--version").output().is_err() {
        eprintln!("skipping: clang is not installed");
        return None;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_c");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("corpus_c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let elf = compile(&f, &out_dir)?;
        let obj =
            bpfkit_object::Object::parse(&elf).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let expect = header(&text, "expect").expect("expect header");
        let expect = if expect == "accept" {
            Expect::Accept
        } else {
            let phrase = expect
                .strip_prefix("reject")
                .expect("accept | reject")
                .trim();
            Expect::Reject(phrase.trim_matches('"').to_string())
        };
        out.push(CCase {
            name: f.file_name().unwrap().to_string_lossy().into_owned(),
            prog_type: header(&text, "type").expect("type header"),
            expect,
            object: obj,
            path: out_dir.join(f.file_name().unwrap()).with_extension("o"),
        });
    }
    Some(out)
}

#[test]
fn c_programs_get_the_expected_decision() {
    let Some(cases) = cases() else { return };
    assert!(cases.len() >= 16);
    let mut failures = Vec::new();
    for c in &cases {
        let program = &c.object.programs[0];
        let opts = bpfkit_verifier::Options {
            log_level: 1,
            ..Default::default()
        };
        let v = verify_program(&c.object, program, None, &opts).expect("a modelled type");
        assert_eq!(
            program.prog_type().name().replace("sched_cls", "tc"),
            c.prog_type,
            "{}: section and header disagree",
            c.name
        );
        let ok = match (&c.expect, &v.result) {
            (Expect::Accept, Ok(_)) => true,
            (Expect::Reject(p), Err(e)) => e.message.contains(p.as_str()),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {:?}\n{}",
                c.name, c.expect, v.result, v.log
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The kernel's decision through `bpftool prog loadall` (libbpf: BTF, global data, maps of
/// maps, callbacks' func_info), or why it cannot be had.
fn kernel_accepts(object: &Path) -> Result<(bool, String), String> {
    let dir = format!("/sys/fs/bpf/bpfkit_c_corpus_{}", std::process::id());
    let out = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(object)
        .arg(&dir)
        .output()
        .map_err(|e| format!("bpftool: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn c_programs_match_the_kernel() {
    let Some(cases) = cases() else { return };
    if !kernel::available() {
        eprintln!("skipping: loading programs into the kernel needs root");
        return;
    }
    let mut mismatches = Vec::new();
    for c in &cases {
        let (accepted, log) = match kernel_accepts(&c.path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipping: {e}");
                return;
            }
        };
        if accepted != (c.expect == Expect::Accept) {
            mismatches.push(format!("{}: kernel accepted={accepted}\n{log}", c.name));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
