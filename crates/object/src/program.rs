//! Linked programs and their symbolic map references.

use std::convert::Infallible;

use bpfkit_isa::{Insn, LdImm64Kind};

use crate::section::ProgramSection;
use crate::types::ProgType;

/// A function linked into a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedFunction {
    /// Symbol name of the function.
    pub name: String,
    /// Slot (as counted by jump and call offsets) where it starts in [`Program::insns`].
    pub start: usize,
}

/// A reference from an instruction to a map, as left by the loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapRef {
    /// Index of the `lddw` in [`Program::insns`].
    pub insn: usize,
    /// Slot of the `lddw` (the kernel's instruction number, what jump offsets count).
    pub pc: usize,
    /// Index into [`Object::maps`](crate::Object::maps).
    pub map: usize,
    /// For a reference into a map's value (global data): the byte offset.
    pub value_offset: Option<u32>,
}

/// One program, linked and ready for a verifier or an engine.
///
/// `insns` holds the program's own function first, followed by every function it
/// calls (directly or not), each appended once; call offsets and `lddw` function
/// pointers are fixed up accordingly. Map and global-data references stay
/// symbolic: `LdImm64 { kind: MapIdx, imm: map index }` and
/// `LdImm64 { kind: MapIdxValue, imm: map index | offset << 32 }`, indices into
/// [`Object::maps`](crate::Object::maps). [`Program::resolve_maps`] turns them into
/// kernel file-descriptor forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Program name (its function symbol).
    pub name: String,
    /// Section and what it says about the program type.
    pub section: ProgramSection,
    /// The linked instructions.
    pub insns: Vec<Insn>,
    /// Functions in `insns`, the program's own first (at slot 0).
    pub functions: Vec<LinkedFunction>,
}

impl Program {
    /// A single-function program.
    pub fn new(name: impl Into<String>, section: ProgramSection, insns: Vec<Insn>) -> Program {
        let name = name.into();
        Program {
            functions: vec![LinkedFunction {
                name: name.clone(),
                start: 0,
            }],
            name,
            section,
            insns,
        }
    }

    /// The program type selected by the section.
    pub fn prog_type(&self) -> ProgType {
        self.section.prog_type
    }

    /// Number of 8-byte slots (what the kernel calls the instruction count).
    pub fn slot_count(&self) -> usize {
        self.insns.iter().map(Insn::slots).sum()
    }

    /// Every symbolic map reference, in instruction order.
    pub fn map_refs(&self) -> Vec<MapRef> {
        let mut pc = 0;
        let mut refs = Vec::new();
        for (i, insn) in self.insns.iter().enumerate() {
            if let Insn::LdImm64 { kind, imm, .. } = *insn {
                let value_offset = match kind {
                    LdImm64Kind::MapIdx => None,
                    LdImm64Kind::MapIdxValue => Some((imm >> 32) as u32),
                    _ => {
                        pc += 2;
                        continue;
                    }
                };
                refs.push(MapRef {
                    insn: i,
                    pc,
                    map: imm as u32 as usize,
                    value_offset,
                });
            }
            pc += insn.slots();
        }
        refs
    }

    /// The instructions with map references resolved to file descriptors:
    /// `MapIdx` becomes `MapFd` (`imm = fd`) and `MapIdxValue` becomes
    /// `MapValue` (`imm = fd | offset << 32`), with `fd_of(map index)`.
    ///
    /// ```
    /// use bpfkit_isa::{Insn, LdImm64Kind, Reg};
    /// use bpfkit_object::{Program, ProgramSection, ProgType};
    /// let p = Program::new("p", ProgramSection::for_type(ProgType::Xdp), vec![
    ///     Insn::LdImm64 { dst: Reg::R1, kind: LdImm64Kind::MapIdxValue, imm: 1 | (8 << 32) },
    ///     Insn::Exit,
    /// ]);
    /// let out = p.resolve_maps(|idx| 100 + idx as i32);
    /// assert_eq!(out[0], Insn::LdImm64 { dst: Reg::R1, kind: LdImm64Kind::MapValue, imm: 101 | (8 << 32) });
    /// ```
    pub fn resolve_maps(&self, mut fd_of: impl FnMut(usize) -> i32) -> Vec<Insn> {
        let r: Result<_, Infallible> = self.try_resolve_maps(|i| Ok(fd_of(i)));
        match r {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`resolve_maps`](Self::resolve_maps) with a fallible lookup; stops at the first error.
    pub fn try_resolve_maps<E>(
        &self,
        mut fd_of: impl FnMut(usize) -> Result<i32, E>,
    ) -> Result<Vec<Insn>, E> {
        self.insns
            .iter()
            .map(|insn| {
                Ok(match *insn {
                    Insn::LdImm64 {
                        dst,
                        kind: LdImm64Kind::MapIdx,
                        imm,
                    } => Insn::LdImm64 {
                        dst,
                        kind: LdImm64Kind::MapFd,
                        imm: fd_of(imm as u32 as usize)? as u32 as u64,
                    },
                    Insn::LdImm64 {
                        dst,
                        kind: LdImm64Kind::MapIdxValue,
                        imm,
                    } => Insn::LdImm64 {
                        dst,
                        kind: LdImm64Kind::MapValue,
                        imm: (fd_of(imm as u32 as usize)? as u32 as u64) | (imm & !0xffff_ffff),
                    },
                    other => other,
                })
            })
            .collect()
    }
}
