//! Verifying the programs of a clang-built object ([`bpfkit_object::Object`]).
//!
//! A program's map references are `lddw` instructions naming an index into
//! [`Object::maps`] (`MapIdx`, and `MapIdxValue` for global data). [`map_table`] turns
//! those definitions into the verifier's [`MapInfo`]s in the same order — type, key and value
//! sizes, capacity, read-only global data (`.rodata`), the spin lock found in the value's
//! BTF type, and the inner-map template of a map of maps (appended after the object's maps).
//! [`Target`] picks the program environment: the one of the program's section type, or the
//! raw-memory convention (`r1` = memory, `r2` = its size) with the object's maps and the
//! base helpers.

use crate::check::{verify_with, Options, Verdict};
use crate::env::{MapInfo, MapRef, MapType, ProgramEnv};
use crate::envs::{MapTable, MemoryEnv, SocketFilterEnv, TcEnv, XdpEnv};
use bpfkit_object::{Object, ProgType, Program, BPF_F_RDONLY_PROG};
use thiserror::Error;

/// The environment a program is verified in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    SocketFilter,
    /// `BPF_PROG_TYPE_XDP`.
    Xdp,
    /// `BPF_PROG_TYPE_SCHED_CLS` / `SCHED_ACT` (tc).
    Tc,
    /// `r1` points to `size` bytes of writable memory, `r2 = size` (how `bpfkit run` runs
    /// programs); the object's maps and the base helpers are available.
    Memory {
        /// Size of the memory in bytes.
        size: u32,
    },
}

impl Target {
    /// The environment of a program type, if bpfkit models it.
    pub fn for_prog_type(t: ProgType) -> Option<Target> {
        match t {
            ProgType::SocketFilter => Some(Target::SocketFilter),
            ProgType::Xdp => Some(Target::Xdp),
            ProgType::SchedCls | ProgType::SchedAct => Some(Target::Tc),
            _ => None,
        }
    }

    /// Parses a type name: `xdp`, `socket` / `socket_filter`, `tc` / `sched_cls` /
    /// `sched_act`, or `raw:N` / `memory:N` for `N` bytes of memory.
    pub fn from_name(name: &str) -> Option<Target> {
        Some(match name {
            "xdp" => Target::Xdp,
            "socket" | "socket_filter" => Target::SocketFilter,
            "tc" | "sched_cls" | "sched_act" | "classifier" => Target::Tc,
            _ => {
                let (kind, size) = name.split_once(':')?;
                if !matches!(kind, "raw" | "memory") {
                    return None;
                }
                Target::Memory {
                    size: size.parse().ok()?,
                }
            }
        })
    }

    /// The name [`Target::from_name`] accepts (`raw:N` for memory).
    pub fn name(&self) -> String {
        match self {
            Target::SocketFilter => "socket_filter".into(),
            Target::Xdp => "xdp".into(),
            Target::Tc => "sched_cls".into(),
            Target::Memory { size } => format!("raw:{size}"),
        }
    }

    /// The program environment with these maps.
    pub fn env(self, maps: MapTable) -> Box<dyn ProgramEnv + Send + Sync> {
        match self {
            Target::SocketFilter => Box::new(SocketFilterEnv { maps }),
            Target::Xdp => Box::new(XdpEnv { maps }),
            Target::Tc => Box::new(TcEnv { maps }),
            Target::Memory { size } => Box::new(MemoryEnv { size, maps }),
        }
    }
}

/// Why a program could not be verified at all.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ObjectError {
    /// The program's type has no environment in bpfkit (kprobes, cgroup programs...).
    #[error("program `{program}` (section `{section}`): bpfkit cannot verify programs of type {prog_type}")]
    UnsupportedType {
        /// Program name.
        program: String,
        /// Its section.
        section: String,
        /// The kernel's name of its type.
        prog_type: String,
    },
}

fn info_of(object: &Object, def: &bpfkit_object::MapDef, inner: Option<MapRef>) -> MapInfo {
    let spin_lock_off = match (&object.btf, def.btf_value_type_id) {
        (Some(btf), Some(id)) => crate::btf::spin_lock_offset(&btf.data, id),
        _ => None,
    };
    MapInfo {
        spin_lock_off,
        read_only: def.map_flags & BPF_F_RDONLY_PROG != 0,
        inner_map: inner,
        ..MapInfo::new(
            MapType::from_number(def.map_type),
            def.key_size,
            def.value_size,
            def.max_entries,
        )
    }
}

/// The maps of `object` by index (what its programs' `MapIdx` loads name), followed by the
/// inner-map templates of its maps of maps.
pub fn map_table(object: &Object) -> MapTable {
    let mut by_idx: Vec<MapInfo> = Vec::with_capacity(object.maps.len());
    let mut inners = Vec::new();
    for def in &object.maps {
        let inner = def.inner.as_ref().map(|t| {
            let idx = object.maps.len() + inners.len();
            inners.push(info_of(object, t, None));
            MapRef::Idx(idx as u32)
        });
        by_idx.push(info_of(object, def, inner));
    }
    by_idx.extend(inners);
    MapTable {
        by_idx,
        by_fd: Vec::new(),
    }
}

/// Verifies `program` of `object` in `target` (default: the environment of its section's
/// program type).
pub fn verify_program(
    object: &Object,
    program: &Program,
    target: Option<Target>,
    opts: &Options,
) -> Result<Verdict, ObjectError> {
    let target = target
        .or_else(|| Target::for_prog_type(program.prog_type()))
        .ok_or_else(|| ObjectError::UnsupportedType {
            program: program.name.clone(),
            section: program.section.name.clone(),
            prog_type: program.prog_type().name().to_string(),
        })?;
    let env = target.env(map_table(object));
    Ok(verify_with(&program.insns, env.as_ref(), opts))
}
