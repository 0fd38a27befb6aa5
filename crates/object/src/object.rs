//! The object: programs, maps and metadata.

use std::collections::HashSet;

use bpfkit_isa::{Insn, LdImm64Kind};

use crate::error::ObjectError;
use crate::map::{MapDef, MapInit};
use crate::program::Program;

/// BTF type information carried by an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Btf {
    /// The `.BTF` section, with `DATASEC` sizes and variable offsets filled in from
    /// the ELF section and symbol tables (clang leaves them 0), ready for `BPF_BTF_LOAD`.
    pub data: Vec<u8>,
    /// The raw `.BTF.ext` section (function/line info, CO-RE relocations), if present.
    pub ext: Option<Vec<u8>>,
}

/// A loaded (or built) eBPF object: everything needed to create its maps and load
/// its programs, with no file descriptors or kernel state in it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Object {
    /// Programs, in ELF section order then symbol offset.
    pub programs: Vec<Program>,
    /// Maps, in libbpf order: legacy `maps`, BTF `.maps`, then global-data sections;
    /// inner-map templates are in [`MapDef::inner`], not here.
    pub maps: Vec<MapDef>,
    /// The `license` section (`""` when absent).
    pub license: String,
    /// The `version` section, if present.
    pub kernel_version: Option<u32>,
    /// BTF, if the object has a `.BTF` section.
    pub btf: Option<Btf>,
}

impl Object {
    /// Loads an ELF object as produced by `clang -target bpf` (libbpf conventions).
    ///
    /// Malformed input yields an [`ObjectError`] naming the section, symbol or offset; it never panics.
    pub fn parse(elf: &[u8]) -> Result<Object, ObjectError> {
        crate::elf::load(elf)
    }

    /// The program with this name.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The index in [`maps`](Self::maps) of the map with this name.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// The map with this name.
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// Checks internal consistency: unique names, map references in range, value
    /// offsets inside values, initial data and slots matching their maps, no
    /// file-descriptor forms of `lddw` (those belong to a loaded program, not an object).
    pub fn validate(&self) -> Result<(), ObjectError> {
        let mut names = HashSet::new();
        for m in &self.maps {
            if !names.insert(m.name.as_str()) {
                return Err(ObjectError::map(&m.name, "duplicate map name"));
            }
            self.validate_map(m)?;
        }
        let mut prog_names = HashSet::new();
        for p in &self.programs {
            if !prog_names.insert(p.name.as_str()) {
                return Err(ObjectError::program(&p.name, "duplicate program name"));
            }
            self.validate_program(p)?;
        }
        Ok(())
    }

    fn validate_map(&self, m: &MapDef) -> Result<(), ObjectError> {
        if let Some(d) = &m.data {
            if d.len() != m.value_size as usize {
                return Err(ObjectError::map(
                    &m.name,
                    format!(
                        "initial data is {} bytes, value_size is {}",
                        d.len(),
                        m.value_size
                    ),
                ));
            }
        }
        for (slot, init) in &m.initial_slots {
            if *slot >= m.max_entries {
                return Err(ObjectError::map(
                    &m.name,
                    format!(
                        "initial slot {slot} is beyond max_entries {}",
                        m.max_entries
                    ),
                ));
            }
            match init {
                MapInit::Map(i) if *i >= self.maps.len() => {
                    return Err(ObjectError::map(
                        &m.name,
                        format!("slot {slot} refers to map #{i}, which does not exist"),
                    ))
                }
                MapInit::Program(p) if self.program(p).is_none() => {
                    return Err(ObjectError::map(
                        &m.name,
                        format!("slot {slot} refers to unknown program `{p}`"),
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate_program(&self, p: &Program) -> Result<(), ObjectError> {
        let slots = p.slot_count();
        for f in &p.functions {
            if f.start > 0 && f.start >= slots {
                return Err(ObjectError::program(
                    &p.name,
                    format!(
                        "function `{}` starts at slot {} of {slots}",
                        f.name, f.start
                    ),
                ));
            }
        }
        for (i, insn) in p.insns.iter().enumerate() {
            let Insn::LdImm64 { kind, imm, .. } = *insn else {
                continue;
            };
            match kind {
                LdImm64Kind::MapIdx | LdImm64Kind::MapIdxValue => {
                    let idx = imm as u32 as usize;
                    let Some(m) = self.maps.get(idx) else {
                        return Err(ObjectError::program(
                            &p.name,
                            format!(
                                "insn {i}: map index {idx} out of range ({} maps)",
                                self.maps.len()
                            ),
                        ));
                    };
                    let off = (imm >> 32) as u32;
                    if kind == LdImm64Kind::MapIdxValue && off > m.value_size {
                        return Err(ObjectError::program(
                            &p.name,
                            format!(
                                "insn {i}: offset {off} beyond value of map `{}` ({} bytes)",
                                m.name, m.value_size
                            ),
                        ));
                    }
                    if kind == LdImm64Kind::MapIdx && off != 0 {
                        return Err(ObjectError::program(
                            &p.name,
                            format!("insn {i}: map reference with non-zero upper half"),
                        ));
                    }
                }
                LdImm64Kind::MapFd | LdImm64Kind::MapValue => {
                    return Err(ObjectError::program(
                        &p.name,
                        format!("insn {i}: map file descriptor in an object (use MapIdx)"),
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
