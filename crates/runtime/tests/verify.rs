//! Loading verifies: every program of the differential corpus (and the XDP example) is
//! accepted by bpfkit's verifier at load time, and a deliberately unsafe object is refused
//! with the kernel's message — or, loaded unverified, stopped by the interpreter at run time.

use bpfkit_runtime::{Engine, Runtime, RuntimeError, TestRun, Verification};
use bpfkit_vm::VmErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_objects() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest().join("tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    files.sort();
    files.push(manifest().join("../../examples/xdp/proto_count.o"));
    files
}

#[test]
fn every_corpus_program_is_accepted_at_load() {
    let rt = Runtime::new().ncpus(2).verification(Verification::Verify);
    let mut programs = 0;
    let mut failures = Vec::new();
    for path in corpus_objects() {
        // Count the programs independently of the loader.
        let object = bpfkit_runtime::Object::parse(&std::fs::read(&path).unwrap()).unwrap();
        match rt.load_file(&path) {
            Ok(loaded) => {
                assert_eq!(loaded.program_names().len(), object.programs.len());
                programs += object.programs.len();
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 28 programs in 22 corpus objects, plus the example (more if the corpus grows).
    assert!(programs >= 29, "only {programs} programs");
    eprintln!("{programs} programs verified at load");
}

fn unsafe_object() -> PathBuf {
    manifest().join("tests/unsafe/xdp_past_end.o")
}

/// What the kernel says about the unsafe object (`bpftool -d prog load`), if we can ask.
fn kernel_log(object: &Path) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping the kernel comparison: needs root");
        return None;
    }
    let pin = format!("/sys/fs/bpf/bpfkit_runtime_verify_{}", std::process::id());
    let out = match Command::new("bpftool")
        .args(["-d", "prog", "load"])
        .arg(object)
        .arg(&pin)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping the kernel comparison: bpftool: {e}");
            return None;
        }
    };
    let _ = std::fs::remove_file(&pin);
    assert!(
        !out.status.success(),
        "the kernel accepted the unsafe object"
    );
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn unsafe_object_is_refused_unless_unverified() {
    let path = unsafe_object();
    let err = Runtime::new().load_file(&path).unwrap_err();
    let RuntimeError::Load { program, message } = &err else {
        panic!("expected a load error, got {err}");
    };
    assert_eq!(program, "xdp_past_end");
    // The load of data[data[0] * 64] at insn 9 uses a variable offset never checked
    // against data_end.
    let reason = "invalid access to packet, off=0 size=1, R1(id=1,off=0,r=0)";
    assert_eq!(
        message,
        &format!("rejected by the verifier: insn 9: {reason}")
    );
    if let Some(log) = kernel_log(&path) {
        assert!(
            log.contains(&format!("9: (71) r1 = *(u8 *)(r1 +0)\n{reason}")),
            "{log}"
        );
    }

    // Unverified: it loads and runs; a safe packet works, a hostile one is stopped by the
    // bounds checks of the interpreter or of checked JIT code.
    for engine in [Engine::Interpreter, Engine::Jit] {
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .verification(Verification::Unverified)
            .load_file(&path)
            .unwrap();
        let prog = loaded.program(None).unwrap();
        assert!(prog.checked() && !prog.verified());
        let mut packet = vec![0u8; 64];
        assert_eq!(prog.test_run(&TestRun::new(&packet)).unwrap().retval, 2);
        packet[0] = 0xff;
        match prog.test_run(&TestRun::new(&packet)) {
            Err(RuntimeError::Run { program, error }) => {
                assert_eq!(program, "xdp_past_end");
                assert_eq!(error.pc, 9, "{engine:?}");
                assert!(matches!(error.kind, VmErrorKind::Memory(_)), "{error}");
            }
            other => panic!("{engine:?}: expected a run-time fault, got {other:?}"),
        }
    }
}

#[test]
fn programs_of_unmodelled_types_load_unverified_and_cannot_test_run() {
    let mov0 = bpfkit_isa::Insn::Alu {
        width: bpfkit_isa::Width::W64,
        op: bpfkit_isa::AluOp::Mov,
        dst: bpfkit_isa::Reg::R0,
        src: bpfkit_isa::Operand::Imm(0),
    };
    let mut b = bpfkit_object::ObjectBuilder::new("GPL");
    b.add_program(
        "probe",
        bpfkit_object::ProgramSection::for_type(bpfkit_object::ProgType::Kprobe),
        vec![mov0, bpfkit_isa::Insn::Exit],
    );
    b.add_program(
        "pass",
        bpfkit_object::ProgramSection::for_type(bpfkit_object::ProgType::Xdp),
        vec![mov0, bpfkit_isa::Insn::Exit],
    );
    let loaded = Runtime::new()
        .engine(Engine::Jit)
        .load(b.build().unwrap())
        .unwrap();
    // Not verified, so not trusted: its code checks every access.
    let probe = loaded.program(Some("probe")).unwrap();
    assert!(!probe.verified() && probe.checked());
    assert!(loaded.program(Some("pass")).unwrap().verified());
    let err = loaded
        .program(Some("probe"))
        .unwrap()
        .test_run(&TestRun::new(&[0u8; 64]))
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::UnsupportedProgType { .. }),
        "{err}"
    );
    let out = loaded
        .program(Some("pass"))
        .unwrap()
        .test_run(&TestRun::new(&[0u8; 64]))
        .unwrap();
    assert_eq!(out.retval, 0);
}
