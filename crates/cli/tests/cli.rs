//! End-to-end tests of the `bpfkit` binary.

mod common_run;

use common_run::{bpfkit, run_every_vector, stderr, stdout, tmpdir};
use std::path::Path;

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
    // Not verified (it never ends), so the JIT runs it as checked, metered code too.
    for engine in ["interp", "jit"] {
        let args = [p.to_str().unwrap(), "--budget", "1000", "--engine", engine];
        let o = bpfkit(&[&["run"][..], &args].concat());
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("budget"), "{engine}: {}", stderr(&o));
    }
}

/// Every conformance vector, run through the binary exactly as a user would, on each engine
/// (the JIT runs what the verifier accepted as unchecked code, the rest as checked code).
#[test]
fn every_conformance_vector_through_bpfkit_run() {
    for engine in ["interp", "jit"] {
        let Some(runs) = run_every_vector(engine, &["--engine", engine]) else {
            return;
        };
        let failures: Vec<String> = runs
            .iter()
            .filter(|r| !r.as_expected)
            .map(|r| format!("{}: {}{}", r.name, stdout(&r.output), stderr(&r.output)))
            .collect();
        assert_eq!(runs.len(), 313, "expected the 313 public vectors");
        assert!(
            failures.is_empty(),
            "{engine}: {} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
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

/// Machine instructions of a `disasm --jited` listing: (offset, bytes, mnemonic), in order.
fn jited_lines(listing: &str) -> Vec<(usize, Vec<u8>, String)> {
    listing
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| {
            let mut fields = l.split('\t');
            let offset = fields.next().unwrap().trim().trim_end_matches(':');
            let bytes = fields.next().unwrap().split_whitespace();
            let text = fields.next().unwrap_or_else(|| panic!("no text: {l}"));
            (
                usize::from_str_radix(offset, 16).unwrap(),
                bytes.map(|b| u8::from_str_radix(b, 16).unwrap()).collect(),
                text.split_whitespace().next().unwrap().to_string(),
            )
        })
        .collect()
}

/// (offset, mnemonic) of each instruction binutils' `objdump` decodes in `code` (`None`:
/// objdump absent). Prefix-only words (`rex`, `rex.W`...) are not the mnemonic.
fn objdump_instructions(code: &[u8], dir: &Path) -> Option<Vec<(usize, String)>> {
    let bin = dir.join("code.bin");
    std::fs::write(&bin, code).unwrap();
    let out = std::process::Command::new("objdump")
        .args(["-D", "-b", "binary", "-mi386:x86-64"])
        .arg(&bin)
        .output()
        .ok()?;
    assert!(out.status.success(), "objdump: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut found = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let Some(offset) = fields[0].trim().strip_suffix(':') else {
            continue;
        };
        let (Ok(offset), Some(text)) = (usize::from_str_radix(offset, 16), fields.get(2)) else {
            continue; // headers, and the continuation lines of long instructions
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let mnemonic = words.iter().find(|w| !w.starts_with("rex")).unwrap();
        found.push((offset, mnemonic.to_string()));
    }
    Some(found)
}

#[test]
fn disasm_jited_lists_every_instruction_and_agrees_with_objdump() {
    // Checked, unchecked and blinded code of an assembly program, and the code `test-run
    // --engine jit` runs for an ELF object (verified, helper calls specialised).
    let d = tmpdir("jited");
    let src = d.join("sum.s");
    std::fs::write(&src, SUM).unwrap();
    let object = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/xdp/proto_count.o");
    let cases: [(&Path, &[&str], usize); 4] = [
        (&src, &[], 8),
        (&src, &["--unchecked"], 8),
        (&src, &["--blind"], 8),
        (&object, &[], 75),
    ];
    for (input, flags, insns) in cases {
        let mut args = vec!["disasm", "--jited", input.to_str().unwrap()];
        args.extend(flags);
        let o = bpfkit(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let listing = stdout(&o);
        // Every eBPF instruction is named once, with its slot number.
        let named = listing
            .lines()
            .filter(|l| {
                l.starts_with("; ") && l[2..].split(':').next().unwrap().parse::<usize>().is_ok()
            })
            .count();
        assert_eq!(named, insns, "{args:?}:\n{listing}");
        // The machine instructions tile the code from offset 0.
        let lines = jited_lines(&listing);
        let mut code = Vec::new();
        for (offset, bytes, _) in &lines {
            assert_eq!(
                *offset,
                code.len(),
                "{args:?}: gap or overlap at {offset:#x}"
            );
            code.extend(bytes);
        }
        // binutils decodes the same bytes into the same instructions.
        let Some(oracle) = objdump_instructions(&code, &d) else {
            eprintln!("skipping the objdump comparison: objdump not found");
            return;
        };
        let ours: Vec<(usize, String)> = lines
            .into_iter()
            .map(|(offset, _, m)| (offset, if m == "callq" { "call".into() } else { m }))
            .collect();
        assert_eq!(ours, oracle, "{args:?}");
    }
}

#[test]
fn disasm_jited_options_need_jited_and_a_bad_program_is_an_error() {
    let d = tmpdir("jited_bad");
    let src = d.join("sum.s");
    std::fs::write(&src, SUM).unwrap();
    let o = bpfkit(&["disasm", "--unchecked", src.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--jited"), "{}", stderr(&o));
    // A jump out of the program: the JIT refuses it, naming the instruction.
    let bad = d.join("bad.s");
    std::fs::write(&bad, "ja +5\nexit\n").unwrap();
    let o = bpfkit(&["disasm", "--jited", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("bad.s: JIT: insn 0: jump target 6"), "{err}");
    assert_eq!(err.matches("jump target").count(), 1, "{err}");
}

#[test]
fn run_gives_the_same_r0_on_both_engines_for_a_verified_program_with_local_calls() {
    // Verified under the unprivileged stack rule, so the JIT's code zeroes no stack and its
    // calls check no frame; f names no r10 (no frame of its own), g has one, right below
    // the main function's, where main's slot must survive g's store at the same offset.
    let text = "
        r6 = r1
        *(u64 *)(r10 - 8) = 40
        r1 = r10
        r1 += -8
        call f
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        r2 = *(u8 *)(r6 + 0)
        r0 += r2
        exit
    f:
        r2 = 3
        call g
        exit
    g:
        *(u64 *)(r10 - 8) = r2
        r0 = *(u64 *)(r1 + 0)
        r3 = *(u64 *)(r10 - 8)
        r0 += r3
        r3 += 1
        *(u64 *)(r1 + 0) = r3
        exit
    ";
    let d = tmpdir("frames");
    let src = d.join("frames.s");
    std::fs::write(&src, text).unwrap();
    for engine in ["interp", "jit"] {
        let o = bpfkit(&[
            "run",
            src.to_str().unwrap(),
            "--mem-hex",
            "05",
            "--engine",
            engine,
        ]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        assert!(!stderr(&o).contains("not verified"), "{}", stderr(&o));
        // g returns 40 + 3 and leaves 4 in main's slot: 43 + 4 + 5.
        assert_eq!(stdout(&o), "0x34\n", "{engine}");
    }
}
