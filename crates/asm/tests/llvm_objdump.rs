//! Oracle test: the executable sections of the BPF objects in `tests/data` (built by
//! `tests/data/build.sh` from C and assembler sources) are decoded with `bpfkit_isa`, printed
//! with [`format_insn`] in LLVM syntax, and compared line by line with
//! `llvm-objdump -d --no-show-raw-insn`. Every instruction of every object is compared.
//!
//! Objects named `*.llvm19.o` hold instructions LLVM 14 does not know and are compared with
//! `llvm-objdump-19 --no-print-imm-hex`. 32-bit atomics other than a plain add are compared
//! with the `--mattr=+alu32` output, the only mode in which llvm-objdump decodes them
//! faithfully (see `print_llvm.rs`).

mod common;

use bpfkit_asm::{format_insn, Syntax};
use bpfkit_isa::{decode, encode_raw, AtomicOp, Insn, MemSize};
use object::{Object, ObjectSection, SectionFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const OBJDUMP14: &str = "llvm-objdump";
const OBJDUMP19: &str = "llvm-objdump-19";

fn tool_works(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Section name → (slot number → instruction text) from an llvm-objdump listing.
type Listing = BTreeMap<String, BTreeMap<usize, String>>;

fn objdump(tool: &str, path: &Path, alu32: bool) -> Listing {
    let mut cmd = Command::new(tool);
    cmd.args(["-d", "--no-show-raw-insn"]);
    if tool == OBJDUMP19 {
        // LLVM 15+ print immediates in hex by default; LLVM 14 in decimal.
        cmd.arg("--no-print-imm-hex");
    }
    if alu32 {
        cmd.arg("--mattr=+alu32");
    }
    let out = cmd.arg(path).output().expect("run llvm-objdump");
    assert!(out.status.success(), "{tool} failed on {}", path.display());
    parse_listing(&String::from_utf8_lossy(&out.stdout))
}

fn parse_listing(text: &str) -> Listing {
    let mut listing = Listing::new();
    let mut section = None;
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("Disassembly of section ")
            .and_then(|s| s.strip_suffix(':'))
        {
            section = Some(name.to_string());
            listing.entry(name.to_string()).or_default();
            continue;
        }
        let Some((pc, insn)) = line.split_once(":\t") else {
            continue;
        };
        let Ok(pc) = pc.trim().parse::<usize>() else {
            continue;
        };
        // Branch targets are symbolized as ` <label>`; that is not part of the instruction.
        let insn = match insn.rfind(" <") {
            Some(i) if insn.ends_with('>') => &insn[..i],
            _ => insn,
        };
        let sec = section
            .clone()
            .expect("instruction before any section header");
        listing
            .get_mut(&sec)
            .expect("section")
            .insert(pc, insn.to_string());
    }
    listing
}

fn needs_alu32(i: &Insn) -> bool {
    matches!(i, Insn::Atomic { size: MemSize::W, op, .. } if *op != AtomicOp::Add { fetch: false })
}

/// What distinguishes one instruction form from another in the encoding: the opcode, plus
/// the field that selects a variant (pseudo source, atomic operation, signedness, width).
fn form_key(insn: &Insn) -> (u8, i64) {
    let mut raw = Vec::new();
    encode_raw(insn, &mut raw);
    let r = raw[0];
    let variant = match r.code {
        0x18 | 0x85 => r.src as i64,
        0xc3 | 0xdb | 0xd4 | 0xdc | 0xd7 => r.imm as i64,
        c if c & 0x07 == 0x04 || c & 0x07 == 0x07 => r.off as i64,
        _ => 0,
    };
    (r.code, variant)
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn llvm_syntax_matches_llvm_objdump() {
    if !tool_works(OBJDUMP14) {
        eprintln!("skipping: {OBJDUMP14} not found");
        return;
    }
    let have19 = tool_works(OBJDUMP19);
    let mut objects: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    objects.sort();
    assert!(
        objects.len() >= 8,
        "objects missing: run tests/data/build.sh"
    );

    let mut failures = Vec::new();
    let mut compared = 0usize;
    let mut covered = BTreeSet::new();
    for path in &objects {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let tool = if name.ends_with(".llvm19.o") {
            if !have19 {
                eprintln!("skipping {name}: {OBJDUMP19} not found");
                continue;
            }
            OBJDUMP19
        } else {
            OBJDUMP14
        };
        let default = objdump(tool, path, false);
        let alu32 = objdump(tool, path, true);
        let data = std::fs::read(path).expect("read object");
        let file = object::File::parse(&*data).expect("parse ELF");
        for section in file.sections() {
            let SectionFlags::Elf { sh_flags } = section.flags() else {
                continue;
            };
            if sh_flags & u64::from(object::elf::SHF_EXECINSTR) == 0 {
                continue;
            }
            let sec_name = section.name().expect("section name").to_string();
            let bytes = section.data().expect("section data");
            if bytes.is_empty() {
                continue;
            }
            let decoded = decode(bytes).unwrap_or_else(|e| panic!("{name} {sec_name}: {e}"));
            let (Some(theirs), Some(theirs32)) = (default.get(&sec_name), alu32.get(&sec_name))
            else {
                panic!("{name}: {tool} did not disassemble section {sec_name}");
            };
            let ours_pcs: BTreeSet<usize> = decoded.iter().map(|d| d.pc).collect();
            let their_pcs: BTreeSet<usize> = theirs.keys().copied().collect();
            assert_eq!(
                ours_pcs, their_pcs,
                "{name} {sec_name}: instruction boundaries differ"
            );
            for d in &decoded {
                let want = if needs_alu32(&d.insn) {
                    &theirs32[&d.pc]
                } else {
                    &theirs[&d.pc]
                };
                let ours = format_insn(&d.insn, Syntax::Llvm);
                if &ours != want {
                    failures.push(format!(
                        "{name} {sec_name} {}: ours `{ours}`, {tool} `{want}`",
                        d.pc
                    ));
                }
                covered.insert(form_key(&d.insn));
                compared += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("compared {compared} instructions with llvm-objdump");
    assert!(compared > 1000, "only {compared} instructions compared");
    if have19 {
        // The objects exercise every instruction form the ISA has.
        let missing: Vec<String> = common::all_forms()
            .iter()
            .filter(|i| !covered.contains(&form_key(i)))
            .map(|i| format!("{i:?}"))
            .collect();
        assert!(
            missing.is_empty(),
            "forms not covered by the objects:\n{}",
            missing.join("\n")
        );
    }
}
