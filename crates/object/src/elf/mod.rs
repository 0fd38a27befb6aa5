//! Reading a relocatable BPF ELF file into an [`Object`].
//!
//! Built on the `object` crate's low-level ELF reader, with every offset and size
//! checked here; see the crate documentation for why `aya-obj` is not used.

mod link;
mod maps;

use std::collections::{BTreeMap, HashMap};

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, Rel, SectionHeader, Sym};
use object::LittleEndian as LE;

use crate::btf::BtfReader;
use crate::error::ObjectError;
use crate::object::{Btf, Object};

/// `R_BPF_64_64`: the 64-bit immediate of an `lddw`.
pub(crate) const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_32`: the 32-bit immediate of a call.
pub(crate) const R_BPF_64_32: u32 = 10;

/// One ELF section.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub size: u64,
    /// Contents; empty for `SHT_NOBITS`.
    pub data: &'a [u8],
}

impl Section<'_> {
    pub fn is_exec(&self) -> bool {
        self.flags & elf::SHF_EXECINSTR as u64 != 0
    }
    pub fn is_alloc(&self) -> bool {
        self.flags & elf::SHF_ALLOC as u64 != 0
    }
}

/// One symbol-table entry.
#[derive(Debug)]
pub(crate) struct Symbol {
    pub index: usize,
    pub name: String,
    /// Defining section; `None` for undefined, absolute and common symbols.
    pub section: Option<usize>,
    pub value: u64,
    pub size: u64,
    pub kind: u8,
}

impl Symbol {
    /// The name for error messages: the symbol name, or `#index` when it has none.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("#{}", self.index)
        } else {
            self.name.clone()
        }
    }
}

/// One `SHT_REL` entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reloc {
    pub offset: u64,
    pub r_type: u32,
    pub symbol: usize,
}

/// The parts of the ELF file the loader uses, validated.
pub(crate) struct ElfView<'a> {
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
    /// Relocations by patched section index, then by offset.
    pub relocs: HashMap<usize, BTreeMap<u64, Reloc>>,
}

fn elf_err(what: &str, e: object::read::Error) -> ObjectError {
    ObjectError::Elf(format!("{what}: {e}"))
}

impl<'a> ElfView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<ElfView<'a>, ObjectError> {
        if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
            return Err(ObjectError::Elf("no ELF magic at offset 0".into()));
        }
        if bytes[4] != elf::ELFCLASS64 {
            return Err(ObjectError::UnsupportedElf(
                "32-bit ELF (BPF objects are ELF64)".into(),
            ));
        }
        if bytes[5] != elf::ELFDATA2LSB {
            return Err(ObjectError::UnsupportedElf(
                "big-endian object (only little-endian BPF is supported)".into(),
            ));
        }
        let file = ElfFile64::<LE>::parse(bytes).map_err(|e| elf_err("header", e))?;
        let header = file.elf_header();
        let machine = header.e_machine(LE);
        if machine != elf::EM_BPF {
            return Err(ObjectError::UnsupportedElf(format!(
                "machine {machine} is not EM_BPF (247)"
            )));
        }
        let e_type = header.e_type(LE);
        if e_type != elf::ET_REL {
            return Err(ObjectError::UnsupportedElf(format!(
                "ELF type {e_type} is not a relocatable object (ET_REL)"
            )));
        }
        let table = file.elf_section_table();
        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.enumerate() {
            let label = format!("#{}", index.0);
            let name = table
                .section_name(LE, sh)
                .map_err(|e| elf_err(&format!("name of section {label}"), e))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| ObjectError::section(&label, "name is not UTF-8"))?
                .to_string();
            let sh_type = sh.sh_type(LE);
            let data = if sh_type == elf::SHT_NOBITS {
                &[][..]
            } else {
                sh.data(LE, bytes)
                    .map_err(|e| ObjectError::section(&name, e.to_string()))?
            };
            sections.push(Section {
                index: index.0,
                name,
                sh_type,
                flags: sh.sh_flags(LE),
                size: sh.sh_size(LE),
                data,
            });
        }
        let symtab = file.elf_symbol_table();
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, sym) in symtab.enumerate() {
            let label = format!("#{}", index.0);
            let name = symtab
                .symbol_name(LE, sym)
                .map_err(|e| elf_err(&format!("name of symbol {label}"), e))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| ObjectError::symbol(&label, "name is not UTF-8"))?
                .to_string();
            let section = symtab
                .symbol_section(LE, sym, index)
                .map_err(|e| elf_err(&format!("section of symbol {label}"), e))?
                .map(|s| s.0);
            if section.is_some_and(|s| s >= sections.len()) {
                return Err(ObjectError::symbol(
                    &name,
                    "defined in a section that does not exist",
                ));
            }
            symbols.push(Symbol {
                index: index.0,
                name,
                section,
                value: sym.st_value(LE),
                size: sym.st_size(LE),
                kind: sym.st_type(),
            });
        }
        let mut view = ElfView {
            sections,
            symbols,
            relocs: HashMap::new(),
        };
        view.read_relocations(&file, bytes)?;
        Ok(view)
    }

    fn read_relocations(
        &mut self,
        file: &ElfFile64<'a, LE>,
        bytes: &'a [u8],
    ) -> Result<(), ObjectError> {
        for (index, sh) in file.elf_section_table().enumerate() {
            let name = &self.sections[index.0].name;
            if sh.sh_type(LE) == elf::SHT_RELA {
                return Err(ObjectError::section(
                    name,
                    "RELA relocations are not used by BPF objects",
                ));
            }
            let Some((rels, _)) = sh
                .rel(LE, bytes)
                .map_err(|e| ObjectError::section(name, e.to_string()))?
            else {
                continue;
            };
            let target = sh.sh_info(LE) as usize;
            let Some(target_sec) = self.sections.get(target) else {
                return Err(ObjectError::section(
                    name,
                    format!("relocates section #{target}, which does not exist"),
                ));
            };
            if !target_sec.is_exec() && target_sec.name != ".maps" {
                continue; // debug info, BTF, BTF.ext: not needed to build the model
            }
            let mut by_offset = BTreeMap::new();
            for r in rels {
                let reloc = Reloc {
                    offset: r.r_offset(LE),
                    r_type: r.r_type(LE),
                    symbol: r.r_sym(LE) as usize,
                };
                let sym_ok = reloc.symbol != 0 && reloc.symbol < self.symbols.len();
                if !sym_ok {
                    return Err(ObjectError::Relocation {
                        section: target_sec.name.clone(),
                        offset: reloc.offset,
                        symbol: format!("#{}", reloc.symbol),
                        reason: "symbol index out of range".into(),
                    });
                }
                if by_offset.insert(reloc.offset, reloc).is_some() {
                    return Err(self.reloc_err(
                        target,
                        &reloc,
                        "two relocations at the same offset",
                    ));
                }
            }
            if self.relocs.insert(target, by_offset).is_some() {
                return Err(ObjectError::section(
                    &target_sec.name,
                    "has two relocation sections",
                ));
            }
        }
        Ok(())
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn reloc_err(&self, section: usize, r: &Reloc, reason: impl Into<String>) -> ObjectError {
        ObjectError::Relocation {
            section: self.sections[section].name.clone(),
            offset: r.offset,
            symbol: self.symbols[r.symbol].label(),
            reason: reason.into(),
        }
    }

    /// Symbols defined in `section` (excluding the section symbol), in table order.
    pub fn symbols_in(&self, section: usize) -> impl Iterator<Item = &Symbol> {
        self.symbols
            .iter()
            .filter(move |s| s.section == Some(section) && s.kind != elf::STT_SECTION)
    }
}

/// Builds the [`Object`] model from ELF bytes.
pub(crate) fn load(bytes: &[u8]) -> Result<Object, ObjectError> {
    let view = ElfView::parse(bytes)?;
    let license = match view.section_by_name("license") {
        Some(s) => {
            let end = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
            std::str::from_utf8(&s.data[..end])
                .map_err(|_| ObjectError::section("license", "not UTF-8 text"))?
                .to_string()
        }
        None => String::new(),
    };
    let kernel_version = match view.section_by_name("version") {
        Some(s) => match <[u8; 4]>::try_from(s.data) {
            Ok(b) => Some(u32::from_le_bytes(b)),
            Err(_) => {
                return Err(ObjectError::section(
                    "version",
                    format!("is {} bytes, expected 4", s.data.len()),
                ))
            }
        },
        None => None,
    };
    let btf_reader = match view.section_by_name(".BTF") {
        Some(s) => Some(BtfReader::parse(s.data)?),
        None => None,
    };
    let map_table = maps::collect(&view, btf_reader.as_ref())?;
    let programs = link::link_programs(&view, &map_table)?;
    let btf = match &btf_reader {
        Some(r) => Some(Btf {
            data: {
                // Indexed once: a DATASEC may list as many variables as the file allows.
                let sections: HashMap<&str, &Section<'_>> =
                    view.sections.iter().map(|s| (s.name.as_str(), s)).collect();
                let symbols: HashMap<(usize, &str), u64> = view
                    .symbols
                    .iter()
                    .filter_map(|s| Some(((s.section?, s.name.as_str()), s.value)))
                    .collect();
                r.fixed_up(
                    |sec| sections.get(sec).map(|s| s.size),
                    |sec, var| symbols.get(&(sections.get(sec)?.index, var)).copied(),
                )?
            },
            ext: view.section_by_name(".BTF.ext").map(|s| s.data.to_vec()),
        }),
        None => None,
    };
    let obj = Object {
        programs,
        maps: map_table.defs,
        license,
        kernel_version,
        btf,
    };
    obj.validate()?;
    Ok(obj)
}
