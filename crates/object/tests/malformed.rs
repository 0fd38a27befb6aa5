//! Bad input: truncated and corrupted objects must give an error naming the
//! place, never a panic; and the builder rejects inconsistent objects.

mod common;

use bpfkit_isa::{Insn, LdImm64Kind, Reg};
use bpfkit_object::{
    ld_map, ld_map_value, DataKind, MapDef, MapInit, MapType, Object, ObjectBuilder, ObjectError,
    ProgType, ProgramSection,
};
use common::*;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::LittleEndian as LE;

/// File offset of section `name`'s header, and of its contents.
fn section_offsets(bytes: &[u8], name: &str) -> (usize, usize) {
    let file = ElfFile64::<LE>::parse(bytes).unwrap();
    let table = file.elf_section_table();
    let shoff = file.elf_header().e_shoff(LE) as usize;
    for (i, sh) in table.enumerate() {
        if table.section_name(LE, sh).unwrap() == name.as_bytes() {
            return (shoff + 64 * i.0, sh.sh_offset(LE) as usize);
        }
    }
    panic!("no section {name}");
}

/// File offset of the symbol-table entry of `name`.
fn symbol_offset(bytes: &[u8], name: &str) -> usize {
    let file = ElfFile64::<LE>::parse(bytes).unwrap();
    let symtab = file.elf_symbol_table();
    let (_, base) = section_offsets(bytes, ".symtab");
    for (i, sym) in symtab.enumerate() {
        if symtab.symbol_name(LE, sym).unwrap() == name.as_bytes() {
            return base + 24 * i.0;
        }
    }
    panic!("no symbol {name}");
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["xdp_count", "bpf2bpf", "global_data"] {
        let bytes = bytes(name);
        assert!(Object::parse(&bytes).is_ok());
        for len in (0..bytes.len()).filter(|l| *l < 512 || l % 7 == 0) {
            assert!(
                Object::parse(&bytes[..len]).is_err(),
                "{name} truncated to {len} bytes parsed"
            );
        }
    }
}

#[test]
fn random_corruption_never_panics() {
    // xorshift: deterministic, no extra dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut err) = (0, 0);
    for name in OBJECTS {
        let orig = bytes(name);
        for _ in 0..300 {
            let mut b = orig.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % b.len() as u64) as usize;
                b[i] ^= 1 << (next() % 8);
            }
            match Object::parse(&b) {
                Ok(o) => {
                    o.validate().unwrap();
                    ok += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    err += 1;
                }
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok} err {err}");
}

#[test]
fn not_elf_or_wrong_kind_of_elf() {
    assert!(matches!(Object::parse(b"hello"), Err(ObjectError::Elf(_))));
    let good = bytes("xdp_count");
    let mut be = good.clone();
    be[5] = 2; // ELFDATA2MSB
    assert!(
        matches!(Object::parse(&be), Err(ObjectError::UnsupportedElf(m)) if m.contains("big-endian"))
    );
    let mut x86 = good.clone();
    x86[18] = 62; // e_machine = EM_X86_64
    assert!(
        matches!(Object::parse(&x86), Err(ObjectError::UnsupportedElf(m)) if m.contains("machine 62"))
    );
    let mut c32 = good;
    c32[4] = 1;
    assert!(matches!(
        Object::parse(&c32),
        Err(ObjectError::UnsupportedElf(_))
    ));
}

#[test]
fn unknown_program_section_is_named() {
    let mut b = bytes("xdp_count");
    // Section names live in .strtab for clang, where "xdp" is the tail of ".relxdp".
    let (_, strtab) = section_offsets(&b, ".strtab");
    let pos = strtab
        + b[strtab..]
            .windows(9)
            .position(|w| w == b"\0.relxdp\0")
            .expect("section name");
    b[pos + 6] = b'q';
    match Object::parse(&b) {
        Err(ObjectError::UnknownSection { section }) => assert_eq!(section, "xqp"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn function_symbol_past_its_section_is_named() {
    let mut b = bytes("bpf2bpf");
    let sym = symbol_offset(&b, "mix");
    b[sym + 16..sym + 24].copy_from_slice(&4096u64.to_le_bytes()); // st_size
    let e = Object::parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Symbol { symbol, .. } if symbol == "mix"),
        "{e}"
    );
    assert!(e.to_string().contains(".text"), "{e}");
}

#[test]
fn bad_relocations_are_named() {
    let orig = bytes("xdp_count");
    let (_, rel) = section_offsets(&orig, ".relxdp");
    // Point the first relocation at a nonexistent symbol.
    let mut b = orig.clone();
    b[rel + 12..rel + 16].copy_from_slice(&9999u32.to_le_bytes());
    let e = Object::parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Relocation { section, symbol, .. } if section == "xdp" && symbol == "#9999"),
        "{e}"
    );
    // Make it patch the middle of an instruction.
    let mut b = orig.clone();
    let off = u64::from_le_bytes(b[rel..rel + 8].try_into().unwrap());
    b[rel..rel + 8].copy_from_slice(&(off + 4).to_le_bytes());
    let e = Object::parse(&b).unwrap_err();
    match &e {
        ObjectError::Relocation {
            section,
            offset,
            symbol,
            ..
        } => {
            assert_eq!(
                (section.as_str(), *offset, symbol.as_str()),
                ("xdp", off + 4, "pkt_count")
            );
        }
        other => panic!("{other}"),
    }
    // Relocate the lddw against the license symbol: neither map, data nor code.
    let mut b = orig;
    let file = ElfFile64::<LE>::parse(&b[..]).unwrap();
    let lic = file
        .elf_symbol_table()
        .enumerate()
        .find(|(_, s)| file.elf_symbol_table().symbol_name(LE, s).unwrap() == b"LICENSE")
        .unwrap()
        .0
         .0 as u32;
    b[rel + 12..rel + 16].copy_from_slice(&lic.to_le_bytes());
    let e = Object::parse(&b).unwrap_err();
    assert!(
        e.to_string().contains("license") && e.to_string().contains("LICENSE"),
        "{e}"
    );
}

#[test]
fn corrupted_btf_is_an_error() {
    let mut b = bytes("xdp_count");
    let (_, btf) = section_offsets(&b, ".BTF");
    b[btf] ^= 0xff;
    assert!(matches!(Object::parse(&b), Err(ObjectError::Btf(m)) if m.contains("magic")));
}

fn prog(insns: Vec<Insn>) -> (String, ProgramSection, Vec<Insn>) {
    (
        "p".into(),
        ProgramSection::for_type(ProgType::SocketFilter),
        insns,
    )
}

#[test]
fn builder_rejects_inconsistent_objects() {
    let exit = Insn::Exit;
    // Map index out of range.
    let mut b = ObjectBuilder::new("GPL");
    let (n, s, i) = prog(vec![ld_map(Reg::R1, 3), exit]);
    b.add_program(n, s, i);
    assert!(
        matches!(b.build(), Err(ObjectError::Program { program, reason }) if program == "p" && reason.contains("map index 3"))
    );
    // Value offset past the value.
    let mut b = ObjectBuilder::new("GPL");
    let m = b.add_map(MapDef::global_data(".data", DataKind::Data, vec![0; 8]));
    let (n, s, i) = prog(vec![ld_map_value(Reg::R1, m, 9), exit]);
    b.add_program(n, s, i);
    assert!(b.build().is_err());
    // File descriptors have no place in an object.
    let mut b = ObjectBuilder::new("GPL");
    b.add_map(MapDef::new("m", MapType::Hash, 4, 4, 1));
    let (n, s, i) = prog(vec![
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::MapFd,
            imm: 0,
        },
        exit,
    ]);
    b.add_program(n, s, i);
    assert!(b.build().is_err());
    // Duplicate names.
    let mut b = ObjectBuilder::new("GPL");
    b.add_map(MapDef::new("m", MapType::Hash, 4, 4, 1));
    b.add_map(MapDef::new("m", MapType::Array, 4, 4, 1));
    assert!(matches!(b.build(), Err(ObjectError::Map { map, .. }) if map == "m"));
    // Initial data of the wrong size, slots beyond max_entries.
    let mut b = ObjectBuilder::new("GPL");
    let mut d = MapDef::global_data(".rodata", DataKind::Rodata, vec![1, 2]);
    d.value_size = 4;
    b.add_map(d);
    assert!(b.build().is_err());
    let mut b = ObjectBuilder::new("GPL");
    let mut outer = MapDef::new("outer", MapType::ArrayOfMaps, 4, 4, 2);
    outer.inner = Some(Box::new(MapDef::new(
        "outer.inner",
        MapType::Array,
        4,
        4,
        1,
    )));
    outer.initial_slots.push((2, MapInit::Map(0)));
    b.add_map(outer);
    assert!(matches!(b.build(), Err(ObjectError::Map { reason, .. }) if reason.contains("slot 2")));
}

#[test]
fn builder_object_resolves_like_a_loaded_one() {
    let mut b = ObjectBuilder::new("Dual MIT/GPL");
    b.kernel_version(0x060c00);
    let counts = b.add_map(MapDef::new("counts", MapType::Array, 4, 8, 4));
    let data = b.add_map(MapDef::global_data(".bss", DataKind::Bss, vec![0; 16]));
    b.add_program(
        "prog",
        ProgramSection::parse("tracepoint/syscalls/sys_enter_openat").unwrap(),
        vec![
            ld_map(Reg::R1, counts),
            ld_map_value(Reg::R2, data, 8),
            Insn::Exit,
        ],
    );
    let obj = b.build().unwrap();
    let p = obj.program("prog").unwrap();
    let refs = p.map_refs();
    assert_eq!(
        (refs[1].insn, refs[1].pc, refs[1].map, refs[1].value_offset),
        (1, 2, data, Some(8))
    );
    let fds = [40, 41];
    let out = p.resolve_maps(|i| fds[i]);
    assert_eq!(
        out[0],
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::MapFd,
            imm: 40
        }
    );
    assert_eq!(
        out[1],
        Insn::LdImm64 {
            dst: Reg::R2,
            kind: LdImm64Kind::MapValue,
            imm: 41 | (8 << 32)
        }
    );
    let err: Result<Vec<Insn>, String> = p.try_resolve_maps(|i| {
        if i == 0 {
            Ok(1)
        } else {
            Err(format!("no fd for {i}"))
        }
    });
    assert_eq!(err.unwrap_err(), "no fd for 1");
    assert_eq!(obj.kernel_version, Some(0x060c00));
}

#[test]
fn extern_kfuncs_are_reported_not_mislinked() {
    match Object::parse(&bytes("extern_kfunc")) {
        Err(ObjectError::Relocation {
            section,
            offset,
            symbol,
            reason,
        }) => {
            assert_eq!(
                (section.as_str(), offset, symbol.as_str()),
                ("tp/syscalls/sys_enter_getpid", 0, "bpf_rcu_read_lock")
            );
            assert!(reason.contains("kfunc"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// The input on which fuzzing made aya-obj 0.3 panic (slice index from a symbol
/// value, obj.rs:675) within two seconds: here it is an error naming the symbol.
#[test]
fn aya_panic_input_is_an_error() {
    let e = Object::parse(&bytes("regress_aya_symbol_range")).unwrap_err();
    match &e {
        ObjectError::Symbol { symbol, reason } => {
            assert_eq!(symbol, "on_raw_tp");
            assert!(reason.contains("runs past the section"), "{reason}");
        }
        other => panic!("{other}"),
    }
}
