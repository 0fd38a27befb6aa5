//! eBPF objects: programs, maps and metadata as plain data, loaded from the ELF
//! files that `clang -O2 -g -target bpf` produces (libbpf conventions) or built in
//! memory by a compiler. No system calls: the same [`Object`] feeds bpfkit's
//! user-space runtime and, through `bpf(2)`, the kernel.
//!
//! # Model
//!
//! * [`Object`]: [`programs`](Object::programs), [`maps`](Object::maps), license,
//!   kernel version, [`Btf`].
//! * [`Program`]: name, [`ProgramSection`] (section name → [`ProgType`], expected
//!   [`AttachType`], attach target), and `insns`, **already linked**: the
//!   program's function followed by every bpf-to-bpf callee it reaches (from
//!   `.text` or elsewhere), each appended once, call offsets fixed.
//! * Map and global-data references stay symbolic: an `lddw` of a map is
//!   `LdImm64 { kind: MapIdx, imm: index }`, one into global data is
//!   `LdImm64 { kind: MapIdxValue, imm: index | offset << 32 }`, `index` being a
//!   position in [`Object::maps`]. A kernel loader substitutes file descriptors
//!   with [`Program::resolve_maps`]; the runtime substitutes its own handles.
//! * [`MapDef`]: BTF-defined maps (`.maps`, including map-in-map via
//!   `__array(values, ...)` and `.values` initializers), legacy `maps` section
//!   records (`struct bpf_map_def`), and global data: each `.data*`, `.rodata*`,
//!   `.bss*` section becomes a one-entry `ARRAY` with the section's bytes as
//!   [`MapDef::data`] (`.rodata*` read-only for programs and [`frozen`](MapDef::frozen)).
//!
//! # Example
//!
//! ```
//! use bpfkit_isa::{Insn, LdImm64Kind, Reg};
//! use bpfkit_object::{ld_map_value, DataKind, MapDef, Object, ObjectBuilder, ProgType, ProgramSection};
//!
//! // Build an object in memory...
//! let mut b = ObjectBuilder::new("GPL");
//! let rodata = b.add_map(MapDef::global_data(".rodata", DataKind::Rodata, vec![1, 2, 3, 4]));
//! b.add_program("prog", ProgramSection::for_type(ProgType::Xdp), vec![
//!     ld_map_value(Reg::R1, rodata, 2),
//!     Insn::Exit,
//! ]);
//! let obj: Object = b.build().unwrap();
//!
//! // ...and resolve its map references for the kernel (map 0 got fd 7).
//! let insns = obj.programs[0].resolve_maps(|idx| 7 + idx as i32);
//! assert_eq!(insns[0], Insn::LdImm64 { dst: Reg::R1, kind: LdImm64Kind::MapValue, imm: 7 | (2 << 32) });
//!
//! // Loading ELF bytes never panics; bad input is an error naming the place.
//! assert!(Object::parse(b"\x7fELF not really").is_err());
//! ```
//!
//! # Why not `aya-obj`
//!
//! `aya-obj` 0.3 was evaluated for the ELF, BTF, map and relocation work and is
//! not used at run time: its `Object::parse` rejects whole objects that contain
//! any program section outside its fixed list (libbpf's `tc`, `tcx/*`,
//! `ksyscall`, `usdt`, `kprobe.multi`, `syscall`, ...); it indexes slices with
//! offsets taken from the file (symbol ranges, BTF string offsets, `.BTF.ext`
//! records), so malformed input panics; call relocation ends in `todo!()` for
//! some symbol kinds; relocation is keyed by map file descriptors and a
//! `HashMap` of names; and its BTF type walker is crate-private, so BTF map
//! definitions are reachable only through that `parse`. This crate reads ELF
//! with the `object` crate and BTF with its own bounds-checked reader;
//! `aya-obj` serves as an independent oracle in the tests.
#![deny(missing_docs)]

mod btf;
mod builder;
mod elf;
mod error;
mod map;
mod object;
mod program;
mod section;
mod types;

pub use builder::{ld_map, ld_map_value, ObjectBuilder};
pub use error::ObjectError;
pub use map::{DataKind, MapDef, MapInit, MapOrigin, Pinning};
pub use object::{Btf, Object};
pub use program::{LinkedFunction, MapRef, Program};
pub use section::ProgramSection;
pub use types::{
    AttachType, MapType, ProgType, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG,
};
