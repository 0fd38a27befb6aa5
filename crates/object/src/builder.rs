//! Building an [`Object`] in memory, for compilers that never write ELF.

use bpfkit_isa::{Insn, LdImm64Kind, Reg};

use crate::error::ObjectError;
use crate::map::MapDef;
use crate::object::{Btf, Object};
use crate::program::Program;
use crate::section::ProgramSection;

/// Assembles an [`Object`] from map definitions and instruction vectors.
///
/// ```
/// use bpfkit_isa::{Insn, AluOp, Width, Reg, Operand};
/// use bpfkit_object::{ObjectBuilder, MapDef, MapType, ProgramSection, ProgType, ld_map};
///
/// let mut b = ObjectBuilder::new("GPL");
/// let counts = b.add_map(MapDef::new("counts", MapType::Array, 4, 8, 1));
/// b.add_program("prog", ProgramSection::for_type(ProgType::SocketFilter), vec![
///     ld_map(Reg::R1, counts),
///     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(0) },
///     Insn::Exit,
/// ]);
/// let obj = b.build().unwrap();
/// assert_eq!(obj.programs[0].map_refs()[0].map, counts);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ObjectBuilder {
    obj: Object,
}

impl ObjectBuilder {
    /// A builder for an object with this license string.
    pub fn new(license: impl Into<String>) -> ObjectBuilder {
        ObjectBuilder {
            obj: Object {
                license: license.into(),
                ..Object::default()
            },
        }
    }

    /// Sets the `version` (kernel version) value.
    pub fn kernel_version(&mut self, version: u32) -> &mut Self {
        self.obj.kernel_version = Some(version);
        self
    }

    /// Attaches BTF.
    pub fn btf(&mut self, btf: Btf) -> &mut Self {
        self.obj.btf = Some(btf);
        self
    }

    /// Adds a map; returns its index, the value to put in `MapIdx` references.
    pub fn add_map(&mut self, map: MapDef) -> usize {
        self.obj.maps.push(map);
        self.obj.maps.len() - 1
    }

    /// Adds a single-function program; returns its index in [`Object::programs`].
    pub fn add_program(
        &mut self,
        name: impl Into<String>,
        section: ProgramSection,
        insns: Vec<Insn>,
    ) -> usize {
        self.push_program(Program::new(name, section, insns))
    }

    /// Adds a complete program (several functions, see [`Program::functions`]).
    pub fn push_program(&mut self, program: Program) -> usize {
        self.obj.programs.push(program);
        self.obj.programs.len() - 1
    }

    /// Checks the object with [`Object::validate`] and returns it.
    pub fn build(self) -> Result<Object, ObjectError> {
        self.obj.validate()?;
        Ok(self.obj)
    }
}

/// `dst = &maps[map_index]`: a symbolic map reference (`lddw` with `MapIdx`).
pub fn ld_map(dst: Reg, map_index: usize) -> Insn {
    Insn::LdImm64 {
        dst,
        kind: LdImm64Kind::MapIdx,
        imm: map_index as u32 as u64,
    }
}

/// `dst = &maps[map_index].value[offset]`: a symbolic reference into a map value
/// (`lddw` with `MapIdxValue`), as used for global data.
pub fn ld_map_value(dst: Reg, map_index: usize, offset: u32) -> Insn {
    Insn::LdImm64 {
        dst,
        kind: LdImm64Kind::MapIdxValue,
        imm: (map_index as u32 as u64) | ((offset as u64) << 32),
    }
}
