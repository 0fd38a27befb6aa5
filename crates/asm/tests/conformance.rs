//! Every `-- asm` section of the shared bpf_conformance vectors must assemble; where a file
//! also has a `-- raw` section (the encoding its authors wrote by hand), the bytes must agree.
//! Each program must also survive disassembly in both syntaxes and reassembly.

use bpfkit_asm::{assemble, assemble_with, disassemble, DisasmOptions, Syntax};
use bpfkit_isa::{decode, encode, RawInsn};
use std::path::PathBuf;

fn tests_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tests");
    dir.is_dir().then_some(dir)
}

/// The lines of section `name` (`asm`, `raw`...) with `#` comments removed.
fn section(text: &str, name: &str) -> Option<String> {
    let mut out = None::<String>;
    let mut inside = false;
    for line in text.lines() {
        if line.contains("--") {
            inside = line.contains(&format!("-- {name}"));
            if inside {
                out.get_or_insert_with(String::new);
            }
            continue;
        }
        if inside {
            let body = out.as_mut().expect("section started");
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn parse_word(w: &str) -> u64 {
    match w.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex word"),
        None => w.parse().expect("decimal word"),
    }
}

#[test]
fn all_conformance_programs_assemble() {
    let Some(dir) = tests_dir() else {
        eprintln!("skipping: ../shared/conformance/tests not found");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read conformance dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    let mut assembled = 0;
    let mut compared_raw = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("read vector");
        let Some(asm) = section(&text, "asm") else {
            continue;
        };
        let prog = assemble(&asm).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!prog.is_empty(), "{name}: empty program");
        // The conformance syntax is uBPF; forcing it must give the same result.
        assert_eq!(
            assemble_with(&asm, Syntax::Ubpf).unwrap_or_else(|e| panic!("{name}: {e}")),
            prog,
            "{name}"
        );
        assembled += 1;
        let bytes = encode(&prog);
        if let Some(raw) = section(&text, "raw") {
            let words: Vec<u8> = raw
                .lines()
                .map(|l| l.split('#').next().unwrap())
                .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .flat_map(|w| RawInsn::from_u64(parse_word(&w)).to_bytes())
                .collect();
            assert_eq!(bytes, words, "{name}: asm and raw sections disagree");
            compared_raw += 1;
        }
        // Printing and re-reading gives the same program, in both syntaxes.
        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for syntax in [Syntax::Ubpf, Syntax::Llvm] {
            let opts = DisasmOptions {
                labels: true,
                ..DisasmOptions::new(syntax)
            };
            let text = disassemble(&decoded, &opts);
            let back = assemble(&text).unwrap_or_else(|e| panic!("{name} {syntax:?}: {e}\n{text}"));
            assert_eq!(back, prog, "{name}: {syntax:?} round trip\n{text}");
        }
    }
    assert_eq!(files.len(), 313, "expected the 313 conformance vectors");
    assert_eq!(assembled, 313, "every vector has an asm section");
    assert!(compared_raw >= 1, "lddw.data has a raw section");
}

/// Spot checks of encodings against the words the conformance authors wrote by hand
/// (lddw.data) and against the RFC 9669 opcode table.
#[test]
fn known_encodings() {
    let p = assemble("lddw %r0, 0x1122334455667788\nexit").unwrap();
    let words: Vec<u64> = encode(&p)
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        words,
        [0x5566778800000018, 0x1122334400000000, 0x0000000000000095]
    );
    // RFC 9669: jeq imm is 0x15, jne32 reg 0x5e, stxdw 0x7b, ldxsb 0x91, sdiv32 imm 0x34 off 1.
    let p = assemble(
        "jeq %r1, 5, +3\njne32 %r1, %r2, -1\nstxdw [%r10-8], %r1\nldxsb %r0, [%r10-1]\nsdiv32 %r0, 3",
    )
    .unwrap();
    let b = encode(&p);
    assert_eq!(&b[0..8], &[0x15, 0x01, 3, 0, 5, 0, 0, 0]);
    assert_eq!(&b[8..16], &[0x5e, 0x21, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(&b[16..24], &[0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]);
    assert_eq!(&b[24..32], &[0x91, 0xa0, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(&b[32..40], &[0x34, 0x00, 1, 0, 3, 0, 0, 0]);
}
