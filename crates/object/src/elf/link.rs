//! Functions, programs and linking: each program gets its own copy of every
//! function it reaches, calls and function pointers are re-targeted, and map and
//! global-data references become `MapIdx`/`MapIdxValue`.

use std::collections::HashMap;

use bpfkit_isa::opcode::{PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE};
use bpfkit_isa::{decode_raw, RawInsn};
use object::elf;

use super::maps::MapTable;
use super::{ElfView, Reloc, R_BPF_64_32, R_BPF_64_64};
use crate::error::ObjectError;
use crate::program::{LinkedFunction, Program};
use crate::section::ProgramSection;

const OP_CALL: u8 = 0x85;
const OP_LDDW: u8 = 0x18;
const SLOT: u64 = 8;

/// A function symbol in an executable section.
struct Function {
    name: String,
    section: usize,
    /// Byte offset in the section.
    offset: u64,
    slots: Vec<RawInsn>,
}

struct Functions {
    list: Vec<Function>,
    at: HashMap<(usize, u64), usize>,
}

pub(crate) fn link_programs(
    view: &ElfView<'_>,
    maps: &MapTable,
) -> Result<Vec<Program>, ObjectError> {
    let funcs = collect_functions(view)?;
    let mut by_section: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, f) in funcs.list.iter().enumerate() {
        by_section.entry(f.section).or_default().push(i);
    }
    let mut programs = Vec::new();
    for sec in view.sections.iter().filter(|s| s.is_exec() && s.size > 0) {
        if is_text(&sec.name) {
            continue;
        }
        let kind = ProgramSection::parse(&sec.name).ok_or_else(|| ObjectError::UnknownSection {
            section: sec.name.clone(),
        })?;
        // Already in offset order: collect_functions adds them sorted.
        let in_section = by_section.remove(&sec.index).unwrap_or_default();
        if in_section.is_empty() {
            return Err(ObjectError::section(
                &sec.name,
                "program section without function symbols",
            ));
        }
        for f in in_section {
            let linker = Linker {
                view,
                funcs: &funcs,
                maps,
            };
            let (raw, functions) = linker.link(f)?;
            let name = funcs.list[f].name.clone();
            let insns = decode_raw(&raw)
                .map_err(|source| ObjectError::Decode {
                    program: name.clone(),
                    source,
                })?
                .into_iter()
                .map(|d| d.insn)
                .collect();
            programs.push(Program {
                name,
                section: kind.clone(),
                insns,
                functions,
            });
        }
    }
    Ok(programs)
}

fn is_text(name: &str) -> bool {
    name == ".text" || name.starts_with(".text.")
}

fn collect_functions(view: &ElfView<'_>) -> Result<Functions, ObjectError> {
    let mut list = Vec::new();
    let mut at = HashMap::new();
    for sec in view.sections.iter().filter(|s| s.is_exec()) {
        if sec.sh_type == elf::SHT_NOBITS || sec.data.len() as u64 != sec.size {
            return Err(ObjectError::section(
                &sec.name,
                "executable section without contents",
            ));
        }
        if sec.size % SLOT != 0 {
            return Err(ObjectError::section(
                &sec.name,
                format!("size {} is not a multiple of 8", sec.size),
            ));
        }
        let mut syms: Vec<_> = view
            .symbols_in(sec.index)
            .filter(|s| s.kind == elf::STT_FUNC)
            .collect();
        syms.sort_by_key(|s| s.value);
        let mut prev_end = 0;
        let first = list.len();
        for sym in syms {
            let bad = |why: String| {
                ObjectError::symbol(sym.label(), format!("in section `{}`: {why}", sec.name))
            };
            if sym.value % SLOT != 0 || sym.size % SLOT != 0 || sym.size == 0 {
                return Err(bad(format!(
                    "offset {:#x} / size {} not a whole number of instructions",
                    sym.value, sym.size
                )));
            }
            let end = sym.value.checked_add(sym.size).filter(|&e| e <= sec.size);
            let Some(end) = end else {
                return Err(bad(format!(
                    "offset {:#x} + size {} runs past the section",
                    sym.value, sym.size
                )));
            };
            if sym.value < prev_end {
                return Err(bad(format!(
                    "overlaps the previous function at offset {:#x}",
                    sym.value
                )));
            }
            prev_end = end;
            let bytes = &sec.data[sym.value as usize..end as usize];
            let slots = bytes
                .chunks_exact(8)
                .map(|c| RawInsn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            at.insert((sec.index, sym.value), list.len());
            list.push(Function {
                name: sym.name.clone(),
                section: sec.index,
                offset: sym.value,
                slots,
            });
        }
        check_relocations_land_on_instructions(view, sec.index, &list[first..])?;
    }
    Ok(Functions { list, at })
}

/// Every relocation of an executable section must patch the first slot of an
/// instruction inside a function; otherwise linking would silently skip it.
fn check_relocations_land_on_instructions(
    view: &ElfView<'_>,
    section: usize,
    funcs: &[Function],
) -> Result<(), ObjectError> {
    let Some(relocs) = view.relocs.get(&section) else {
        return Ok(());
    };
    let mut starts = std::collections::HashSet::new();
    for f in funcs {
        let mut i = 0;
        while i < f.slots.len() {
            starts.insert(f.offset + i as u64 * SLOT);
            i += if f.slots[i].code == OP_LDDW { 2 } else { 1 };
        }
    }
    for r in relocs.values() {
        if !starts.contains(&r.offset) {
            return Err(view.reloc_err(
                section,
                r,
                "does not patch the start of an instruction in a function",
            ));
        }
    }
    Ok(())
}

struct Linker<'v, 'a> {
    view: &'v ElfView<'a>,
    funcs: &'v Functions,
    maps: &'v MapTable,
}

/// The linked program being built.
struct Output {
    slots: Vec<RawInsn>,
    functions: Vec<LinkedFunction>,
    placed: HashMap<usize, usize>,
    /// Functions placed while relocating the current instruction, to relocate next.
    new: Option<(usize, usize)>,
}

impl Output {
    /// Slot where function `f` starts, appending it first if needed.
    fn place(&mut self, funcs: &Functions, f: usize) -> usize {
        if let Some(&start) = self.placed.get(&f) {
            return start;
        }
        let start = self.slots.len();
        self.slots.extend_from_slice(&funcs.list[f].slots);
        self.placed.insert(f, start);
        self.functions.push(LinkedFunction {
            name: funcs.list[f].name.clone(),
            start,
        });
        self.new = Some((f, start));
        start
    }
}

/// Progress through one placed function: (function, start slot, next slot to relocate).
type Frame = (usize, usize, usize);

impl Linker<'_, '_> {
    /// Links like libbpf: a callee is appended when first met and relocated at once
    /// (depth first), so functions land in the same order as under libbpf.
    fn link(&self, entry: usize) -> Result<(Vec<RawInsn>, Vec<LinkedFunction>), ObjectError> {
        let mut out = Output {
            slots: Vec::new(),
            functions: Vec::new(),
            placed: HashMap::new(),
            new: None,
        };
        let start = out.place(self.funcs, entry);
        out.new = None;
        let mut frames: Vec<Frame> = vec![(entry, start, 0)];
        while let Some(&(f, base, i)) = frames.last() {
            if i >= self.funcs.list[f].slots.len() {
                frames.pop();
                continue;
            }
            let width = self.relocate_insn(&mut out, f, base, i)?;
            if let Some(top) = frames.last_mut() {
                top.2 += width;
            }
            if let Some((nf, nstart)) = out.new.take() {
                frames.push((nf, nstart, 0));
            }
        }
        Ok((out.slots, out.functions))
    }

    /// Relocates the instruction at slot `i` of function `f` (placed at `base`);
    /// returns its width in slots.
    fn relocate_insn(
        &self,
        out: &mut Output,
        f: usize,
        base: usize,
        i: usize,
    ) -> Result<usize, ObjectError> {
        let func = &self.funcs.list[f];
        let pc = base + i;
        let offset = func.offset + i as u64 * SLOT;
        let reloc = self
            .view
            .relocs
            .get(&func.section)
            .and_then(|r| r.get(&offset));
        let insn = out.slots[pc];
        match insn.code {
            OP_CALL if insn.src == PSEUDO_CALL => {
                let (section, target) = match reloc {
                    Some(r) => self.call_target(func.section, r, insn.imm)?,
                    None => (func.section, (offset / SLOT) as i64 + insn.imm as i64 + 1),
                };
                let callee = self.function_at_slot(section, target).ok_or_else(|| {
                    ObjectError::program(
                        &func.name,
                        format!(
                            "call at offset {offset:#x} does not target the start of a function"
                        ),
                    )
                })?;
                let start = out.place(self.funcs, callee);
                out.slots[pc].imm = rel_offset(&func.name, start, pc)?;
                Ok(1)
            }
            OP_CALL => match reloc {
                Some(r) => Err(self.reloc_err(
                    func.section,
                    r,
                    "calls to extern functions (kfuncs) are not supported",
                )),
                None => Ok(1),
            },
            OP_LDDW => {
                if i + 1 >= func.slots.len() {
                    return Err(ObjectError::program(
                        &func.name,
                        format!("lddw at offset {offset:#x} is missing its second slot"),
                    ));
                }
                match reloc {
                    Some(r) => self.relocate_lddw(out, func, r, pc)?,
                    None if matches!(insn.src, 1 | 2 | 4 | 5 | 6) => {
                        return Err(ObjectError::program(
                            &func.name,
                            format!(
                                "lddw at offset {offset:#x} has pseudo source {} but no relocation",
                                insn.src
                            ),
                        ))
                    }
                    None => {}
                }
                Ok(2)
            }
            _ => match reloc {
                Some(r) => Err(self.reloc_err(
                    func.section,
                    r,
                    "relocation on an instruction that is neither call nor lddw",
                )),
                None => Ok(1),
            },
        }
    }

    /// (section, slot) a relocated call goes to: the symbol's slot + imm + 1, as libbpf computes it.
    fn call_target(
        &self,
        section: usize,
        r: &Reloc,
        imm: i32,
    ) -> Result<(usize, i64), ObjectError> {
        if r.r_type != R_BPF_64_32 {
            return Err(self.reloc_err(
                section,
                r,
                format!("type {} on a call (expected R_BPF_64_32)", r.r_type),
            ));
        }
        let sym = &self.view.symbols[r.symbol];
        match sym.section {
            Some(s) if self.view.sections[s].is_exec() => {
                Ok((s, (sym.value / SLOT) as i64 + imm as i64 + 1))
            }
            Some(_) => {
                Err(self.reloc_err(section, r, "call target is not in an executable section"))
            }
            None => Err(self.reloc_err(
                section,
                r,
                "calls to extern functions (kfuncs) are not supported",
            )),
        }
    }

    fn function_at_slot(&self, section: usize, slot: i64) -> Option<usize> {
        let offset = u64::try_from(slot).ok()?.checked_mul(SLOT)?;
        self.funcs.at.get(&(section, offset)).copied()
    }

    fn relocate_lddw(
        &self,
        out: &mut Output,
        func: &Function,
        r: &Reloc,
        pc: usize,
    ) -> Result<(), ObjectError> {
        if r.r_type != R_BPF_64_64 {
            return Err(self.reloc_err(
                func.section,
                r,
                format!("type {} on lddw (expected R_BPF_64_64)", r.r_type),
            ));
        }
        let sym = &self.view.symbols[r.symbol];
        let Some(target_sec) = sym.section else {
            return Err(self.reloc_err(
                func.section,
                r,
                "extern variables (__ksym, __kconfig) are not supported",
            ));
        };
        // Named symbols carry the offset in their value, section symbols in the immediate.
        let target = sym.value as i64 + out.slots[pc].imm as i64;
        let Ok(target) = u64::try_from(target) else {
            return Err(self.reloc_err(
                func.section,
                r,
                format!("negative target offset {target}"),
            ));
        };
        if self.maps.is_def_section(target_sec) {
            let idx = self.maps.def_at(target_sec, target).ok_or_else(|| {
                self.reloc_err(
                    func.section,
                    r,
                    format!("no map definition at offset {target:#x}"),
                )
            })?;
            out.slots[pc].src = PSEUDO_MAP_IDX;
            out.slots[pc].imm = idx as i32;
            out.slots[pc + 1].imm = 0;
        } else if let Some(idx) = self.maps.data_map(target_sec) {
            let size = self.view.sections[target_sec].size;
            let off = u32::try_from(target)
                .ok()
                .filter(|&o| (o as u64) <= size)
                .ok_or_else(|| {
                    self.reloc_err(
                        func.section,
                        r,
                        format!("offset {target:#x} is outside the {size}-byte section"),
                    )
                })?;
            out.slots[pc].src = PSEUDO_MAP_IDX_VALUE;
            out.slots[pc].imm = idx as i32;
            out.slots[pc + 1].imm = off as i32;
        } else if self.view.sections[target_sec].is_exec() {
            let callee = self
                .funcs
                .at
                .get(&(target_sec, target))
                .copied()
                .ok_or_else(|| {
                    self.reloc_err(
                        func.section,
                        r,
                        format!("offset {target:#x} is not the start of a function"),
                    )
                })?;
            let start = out.place(self.funcs, callee);
            out.slots[pc].src = PSEUDO_FUNC;
            out.slots[pc].imm = rel_offset(&func.name, start, pc)?;
            out.slots[pc + 1].imm = 0;
        } else {
            return Err(self.reloc_err(
                func.section,
                r,
                format!(
                    "section `{}` holds neither maps, global data nor code",
                    self.view.sections[target_sec].name
                ),
            ));
        }
        Ok(())
    }

    fn reloc_err(&self, section: usize, r: &Reloc, why: impl Into<String>) -> ObjectError {
        self.view.reloc_err(section, r, why)
    }
}

/// Offset from the instruction after `pc` to `target`, as call and function-pointer immediates hold it.
fn rel_offset(func: &str, target: usize, pc: usize) -> Result<i32, ObjectError> {
    i32::try_from(target as i64 - pc as i64 - 1).map_err(|_| {
        ObjectError::program(func, "linked program too large for a 32-bit call offset")
    })
}
