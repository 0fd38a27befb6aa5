//! Programs, sections, relocations and legacy maps checked against llvm-readelf
//! and llvm-objdump (independent ELF readers).

mod common;

use std::collections::BTreeSet;

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind};
use bpfkit_object::{MapOrigin, Object, Program};
use common::*;

/// One relocation printed by `llvm-objdump -d -r`, with the immediate of the patched instruction.
#[derive(Debug)]
struct ObjdumpReloc {
    section: String,
    offset: u64,
    r_type: String,
    symbol: String,
    imm: i32,
}

fn objdump_relocs(name: &str) -> Option<Vec<ObjdumpReloc>> {
    let path = data_path(name);
    let out = run("llvm-objdump", &["-d", "-r", path.to_str()?])?;
    let mut relocs = Vec::new();
    let mut section = String::new();
    let mut last_imm = 0i32;
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("Disassembly of section ") {
            section = s.trim_end_matches(':').to_string();
        } else if line.contains("R_BPF_") {
            // "\t\t0000000000000020:  R_BPF_64_32\tglobal_check"
            let mut it = line.split_whitespace();
            let offset = u64::from_str_radix(it.next()?.trim_end_matches(':'), 16).ok()?;
            let r_type = it.next()?.to_string();
            let symbol = it.next()?.to_string();
            relocs.push(ObjdumpReloc {
                section: section.clone(),
                offset,
                r_type,
                symbol,
                imm: last_imm,
            });
        } else if let Some((_, rest)) = line.split_once(":\t") {
            // "       4:\t85 10 00 00 ff ff ff ff\tcall -1"
            let hex: Vec<u8> = rest
                .split('\t')
                .next()?
                .split_whitespace()
                .filter_map(|b| u8::from_str_radix(b, 16).ok())
                .collect();
            if hex.len() >= 8 {
                last_imm = i32::from_le_bytes([hex[4], hex[5], hex[6], hex[7]]);
            }
        }
    }
    Some(relocs)
}

/// The instruction starting at slot `pc`.
fn insn_at(p: &Program, pc: usize) -> Insn {
    let mut slot = 0;
    for insn in &p.insns {
        if slot == pc {
            return *insn;
        }
        slot += insn.slots();
    }
    panic!("{}: no instruction starts at slot {pc}", p.name);
}

fn function_at(p: &Program, start: i64) -> &str {
    p.functions
        .iter()
        .find(|f| f.start as i64 == start)
        .map(|f| f.name.as_str())
        .unwrap_or_else(|| panic!("{}: no linked function starts at slot {start}", p.name))
}

#[test]
fn programs_and_sections_match_readelf() {
    for name in OBJECTS {
        let Some(re) = readelf(name) else { return };
        let obj = load(name);
        let expected: BTreeSet<(String, String)> = re
            .symbols
            .iter()
            .filter(|s| s.kind == "FUNC")
            .filter_map(|s| {
                let sec = re.section_name(s.ndx?);
                (sec != ".text").then(|| (s.name.clone(), sec.to_string()))
            })
            .collect();
        let ours: BTreeSet<(String, String)> = obj
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.section.name.clone()))
            .collect();
        assert_eq!(ours, expected, "{name}: programs");
        // Each program's own code is its symbol's size, and starts the linked program.
        for p in &obj.programs {
            let sym = re
                .symbols
                .iter()
                .find(|s| s.name == p.name && s.kind == "FUNC")
                .unwrap();
            let next = p.functions.get(1).map_or(p.slot_count(), |f| f.start);
            assert_eq!(
                next as u64 * 8,
                sym.size,
                "{name}/{}: own code size",
                p.name
            );
        }
    }
}

/// Every relocation llvm-objdump lists inside a linked function is reflected, at the
/// same slot of that function's copy, as the right map/data/function reference.
#[test]
fn relocations_match_objdump() {
    let mut checked = 0;
    for name in OBJECTS {
        let (Some(re), Some(relocs)) = (readelf(name), objdump_relocs(name)) else {
            return;
        };
        let obj = load(name);
        for p in &obj.programs {
            for f in &p.functions {
                let sym = re
                    .symbols
                    .iter()
                    .find(|s| s.name == f.name && s.kind == "FUNC")
                    .unwrap();
                let sec = re.section_name(sym.ndx.unwrap()).to_string();
                for r in relocs.iter().filter(|r| {
                    r.section == sec && r.offset >= sym.value && r.offset < sym.value + sym.size
                }) {
                    let pc = f.start + ((r.offset - sym.value) / 8) as usize;
                    check_reloc(&obj, p, pc, r, &re, name);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} relocations checked");
}

fn check_reloc(obj: &Object, p: &Program, pc: usize, r: &ObjdumpReloc, re: &ReadElf, name: &str) {
    let target = re.symbols.iter().find(|s| s.name == r.symbol).unwrap();
    let target_sec = re.section_name(target.ndx.unwrap()).to_string();
    let ctx = format!("{name}/{} slot {pc} ({} {})", p.name, r.r_type, r.symbol);
    match (r.r_type.as_str(), insn_at(p, pc)) {
        (
            "R_BPF_64_64",
            Insn::LdImm64 {
                kind: LdImm64Kind::MapIdx,
                imm,
                ..
            },
        ) => {
            assert!(
                target_sec == ".maps" || target_sec == "maps",
                "{ctx}: map ref to {target_sec}"
            );
            assert_eq!(obj.maps[imm as usize].name, r.symbol, "{ctx}");
            assert_eq!(imm >> 32, 0, "{ctx}");
        }
        (
            "R_BPF_64_64",
            Insn::LdImm64 {
                kind: LdImm64Kind::MapIdxValue,
                imm,
                ..
            },
        ) => {
            let m = &obj.maps[imm as u32 as usize];
            assert_eq!(m.name, target_sec, "{ctx}");
            assert_eq!(
                imm >> 32,
                target.value + r.imm as u64,
                "{ctx}: value offset"
            );
        }
        (
            "R_BPF_64_64",
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            },
        ) => {
            let callee = re
                .symbols
                .iter()
                .find(|s| {
                    s.kind == "FUNC"
                        && s.ndx == target.ndx
                        && s.value == target.value + r.imm as u64
                })
                .unwrap();
            assert_eq!(
                function_at(p, pc as i64 + 1 + imm as i32 as i64),
                callee.name,
                "{ctx}"
            );
        }
        ("R_BPF_64_32", Insn::Call(CallTarget::Local(off))) => {
            let slot = (target.value / 8) as i64 + r.imm as i64 + 1;
            let callee = re
                .symbols
                .iter()
                .find(|s| s.kind == "FUNC" && s.ndx == target.ndx && s.value as i64 == slot * 8)
                .unwrap();
            assert_eq!(
                function_at(p, pc as i64 + 1 + off as i64),
                callee.name,
                "{ctx}"
            );
        }
        (_, insn) => panic!("{ctx}: unexpected {insn:?}"),
    }
}

/// The `maps` section bytes as llvm-readelf dumps them, decoded by hand.
#[test]
fn legacy_maps_match_readelf_hex_dump() {
    let path = data_path("legacy_maps");
    let (Some(re), Some(hex)) = (
        readelf("legacy_maps"),
        run("llvm-readelf", &["-x", "maps", path.to_str().unwrap()]),
    ) else {
        return;
    };
    // "  0x00000000 02000000 04000000 08000000 10000000 ................"
    let mut words = Vec::new();
    for line in hex.lines().filter(|l| l.trim_start().starts_with("0x")) {
        for w in line.split_whitespace().skip(1).take(4) {
            if w.len() == 8 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                let b = u32::from_str_radix(w, 16).unwrap().to_be_bytes();
                words.push(u32::from_le_bytes(b));
            } else if w.len() % 2 == 0 && w.len() < 8 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                // trailing partial word: not expected for 5-u32 records
                panic!("odd maps section length");
            }
        }
    }
    let maps_idx = re.section_index("maps").unwrap();
    let obj = load("legacy_maps");
    let syms: Vec<_> = re
        .symbols
        .iter()
        .filter(|s| s.ndx == Some(maps_idx) && s.kind != "SECTION")
        .collect();
    assert_eq!(
        obj.maps
            .iter()
            .filter(|m| m.origin == MapOrigin::Legacy)
            .count(),
        syms.len()
    );
    for s in syms {
        let w = &words[(s.value / 4) as usize..];
        let m = obj.map(&s.name).unwrap();
        assert_eq!(
            (
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags
            ),
            (w[0], w[1], w[2], w[3], w[4]),
            "{}",
            s.name
        );
    }
}

/// Global-data maps carry exactly the section bytes (llvm-readelf -x), and .bss is zeros.
#[test]
fn global_data_contents_match_readelf() {
    let path = data_path("global_data");
    let obj = load("global_data");
    for m in obj.maps.iter().filter(|m| m.is_global_data()) {
        let data = m.data.as_ref().unwrap();
        assert_eq!(data.len(), m.value_size as usize);
        if m.name.starts_with(".bss") {
            assert!(data.iter().all(|&b| b == 0));
            continue;
        }
        let Some(hex) = run("llvm-readelf", &["-x", &m.name, path.to_str().unwrap()]) else {
            return;
        };
        let mut bytes = Vec::new();
        for line in hex.lines().filter(|l| l.trim_start().starts_with("0x")) {
            let body = &line.trim_start()[11..];
            for w in body
                .split_whitespace()
                .take_while(|w| w.chars().all(|c| c.is_ascii_hexdigit()))
                .take(4)
            {
                for i in (0..w.len()).step_by(2) {
                    bytes.push(u8::from_str_radix(&w[i..i + 2], 16).unwrap());
                }
            }
        }
        assert_eq!(&bytes, data, "{}", m.name);
    }
    // The string literal really is in .rodata.str1.1 and is referenced.
    let s = obj.map(".rodata.str1.1").unwrap();
    assert!(String::from_utf8_lossy(s.data.as_ref().unwrap()).contains("over threshold"));
    assert!(s.frozen);
}
