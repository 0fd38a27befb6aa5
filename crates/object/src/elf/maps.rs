//! Map definitions from the `maps` (legacy), `.maps` (BTF) and global-data sections.

use std::collections::{HashMap, HashSet};

use object::elf;

use super::{ElfView, Section, Symbol};
use crate::btf::{BtfReader, KIND_ARRAY, KIND_FUNC_PROTO, KIND_PTR, KIND_STRUCT, KIND_VAR};
use crate::error::ObjectError;
use crate::map::{DataKind, MapDef, MapInit, MapOrigin, Pinning};
use crate::types::{MapType, BPF_F_MMAPABLE};

/// Global-data sections larger than this are rejected: the kernel caps array values
/// far lower (`KMALLOC_MAX_SIZE`), and a `.bss` size is not backed by file bytes.
pub(crate) const MAX_DATA_SECTION: u64 = 16 << 20;

/// Size of the fields of `struct bpf_map_def` that libbpf reads.
const LEGACY_DEF_LEN: usize = 20;

/// The object's maps and how relocations find them.
pub(crate) struct MapTable {
    pub defs: Vec<MapDef>,
    /// Map definitions by (section index, byte offset of the definition).
    by_def: HashMap<(usize, u64), usize>,
    /// Sections holding map definitions.
    def_sections: HashSet<usize>,
    /// Global-data maps by section index.
    by_data_section: HashMap<usize, usize>,
}

impl MapTable {
    /// The map defined at `offset` in the `maps`/`.maps` section `section`, if any.
    pub fn def_at(&self, section: usize, offset: u64) -> Option<usize> {
        self.by_def.get(&(section, offset)).copied()
    }

    /// Whether `section` holds map definitions.
    pub fn is_def_section(&self, section: usize) -> bool {
        self.def_sections.contains(&section)
    }

    /// The global-data map of `section`, if any.
    pub fn data_map(&self, section: usize) -> Option<usize> {
        self.by_data_section.get(&section).copied()
    }
}

pub(crate) fn collect(
    view: &ElfView<'_>,
    btf: Option<&BtfReader<'_>>,
) -> Result<MapTable, ObjectError> {
    let mut t = MapTable {
        defs: Vec::new(),
        by_def: HashMap::new(),
        def_sections: HashSet::new(),
        by_data_section: HashMap::new(),
    };
    let datasecs = btf.map(BtfReader::datasecs).unwrap_or_default();
    if let Some(sec) = view.section_by_name("maps") {
        legacy_maps(view, sec, &mut t)?;
    }
    if let Some(sec) = view.section_by_name(".maps") {
        let btf = btf
            .ok_or_else(|| ObjectError::section(".maps", "BTF-defined maps need a .BTF section"))?;
        btf_maps(view, sec, btf, datasecs.get(".maps").copied(), &mut t)?;
    }
    for sec in &view.sections {
        if let Some(kind) = data_kind(sec) {
            if sec.size > MAX_DATA_SECTION {
                return Err(ObjectError::section(
                    &sec.name,
                    format!("{} bytes is too large for a global-data map", sec.size),
                ));
            }
            let bytes = if sec.sh_type == elf::SHT_NOBITS {
                vec![0; sec.size as usize]
            } else {
                sec.data.to_vec()
            };
            let mut def = MapDef::global_data(sec.name.clone(), kind, bytes);
            // libbpf creates global-data maps mmap()able so user space can read them in place.
            def.map_flags |= BPF_F_MMAPABLE;
            def.btf_value_type_id = datasecs.get(sec.name.as_str()).copied();
            t.by_data_section.insert(sec.index, t.defs.len());
            t.defs.push(def);
        }
    }
    Ok(t)
}

fn data_kind(sec: &Section<'_>) -> Option<DataKind> {
    if !sec.is_alloc() || sec.is_exec() || sec.size == 0 {
        return None;
    }
    let is = |base: &str| {
        sec.name == base
            || sec
                .name
                .strip_prefix(base)
                .is_some_and(|r| r.starts_with('.'))
    };
    if is(".data") {
        Some(DataKind::Data)
    } else if is(".rodata") {
        Some(DataKind::Rodata)
    } else if is(".bss") {
        Some(DataKind::Bss)
    } else {
        None
    }
}

fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// `struct bpf_map_def` records: every (non-section) symbol in `maps` is one map and
/// all records have the same size, the section size divided by the number of maps.
fn legacy_maps(view: &ElfView<'_>, sec: &Section<'_>, t: &mut MapTable) -> Result<(), ObjectError> {
    let mut syms: Vec<_> = view.symbols_in(sec.index).collect();
    syms.sort_by_key(|s| s.value);
    if syms.is_empty() {
        return if sec.size == 0 {
            Ok(())
        } else {
            Err(ObjectError::section(
                "maps",
                "no symbols name the map definitions",
            ))
        };
    }
    if sec.sh_type == elf::SHT_NOBITS || sec.data.len() as u64 != sec.size {
        return Err(ObjectError::section(
            "maps",
            "map definitions have no contents",
        ));
    }
    let len = sec.data.len();
    if !len.is_multiple_of(syms.len()) {
        return Err(ObjectError::section(
            "maps",
            format!(
                "{len} bytes do not divide into {} equal map definitions",
                syms.len()
            ),
        ));
    }
    let def_len = len / syms.len();
    if def_len < LEGACY_DEF_LEN {
        return Err(ObjectError::section(
            "maps",
            format!("map definitions of {def_len} bytes are shorter than the 5 fields of struct bpf_map_def"),
        ));
    }
    for sym in syms {
        let start = usize::try_from(sym.value)
            .ok()
            .filter(|&s| s.checked_add(def_len).is_some_and(|e| e <= len));
        let Some(start) = start else {
            return Err(ObjectError::symbol(
                sym.label(),
                format!(
                    "map definition at {:#x} runs past the maps section",
                    sym.value
                ),
            ));
        };
        let raw = &sec.data[start..start + def_len];
        if raw[LEGACY_DEF_LEN..].iter().any(|&b| b != 0) {
            return Err(ObjectError::map(
                &sym.name,
                "unrecognized non-zero fields after the 5 of struct bpf_map_def",
            ));
        }
        let mut def = MapDef::new(
            sym.name.clone(),
            MapType::Unspec,
            le32(raw, 1),
            le32(raw, 2),
            le32(raw, 3),
        );
        def.map_type = le32(raw, 0);
        def.map_flags = le32(raw, 4);
        def.origin = MapOrigin::Legacy;
        insert_def(t, sec.index, sym.value, def)?;
    }
    Ok(())
}

fn insert_def(
    t: &mut MapTable,
    section: usize,
    offset: u64,
    def: MapDef,
) -> Result<(), ObjectError> {
    t.def_sections.insert(section);
    if t.by_def.insert((section, offset), t.defs.len()).is_some() {
        return Err(ObjectError::map(
            &def.name,
            format!("two maps defined at offset {offset:#x}"),
        ));
    }
    t.defs.push(def);
    Ok(())
}

/// A parsed BTF map definition plus where its `values` array sits (for `.values` initializers).
struct BtfMapDef {
    def: MapDef,
    values_offset: Option<u64>,
}

fn btf_maps(
    view: &ElfView<'_>,
    sec: &Section<'_>,
    btf: &BtfReader<'_>,
    datasec: Option<u32>,
    t: &mut MapTable,
) -> Result<(), ObjectError> {
    let Some(datasec) = datasec else {
        return Err(ObjectError::section(".maps", "no DATASEC for .maps in BTF"));
    };
    let symbols: HashMap<&str, &Symbol> = view
        .symbols_in(sec.index)
        .map(|s| (s.name.as_str(), s))
        .collect();
    // (offset, size, values offset, map index) of every definition, for `.values` relocations.
    let mut spans = Vec::new();
    for v in btf.datasec_vars(datasec)? {
        let var = btf.get(v.type_id)?;
        if var.kind != KIND_VAR {
            return Err(ObjectError::Btf(format!(
                "DATASEC .maps entry [{}] is not a VAR",
                v.type_id
            )));
        }
        let name = btf.string(var.name_off)?;
        let sym = symbols
            .get(name)
            .ok_or_else(|| ObjectError::map(name, "no symbol in .maps"))?;
        if sym
            .value
            .checked_add(sym.size)
            .is_none_or(|end| end > sec.size)
        {
            return Err(ObjectError::symbol(name, "extends past the .maps section"));
        }
        let parsed = parse_btf_map(btf, name, var.size_or_type, false)?;
        spans.push((sym.value, sym.size, parsed.values_offset, t.defs.len()));
        insert_def(t, sec.index, sym.value, parsed.def)?;
    }
    initial_slots(view, sec, &spans, t)
}

/// Applies relocations in `.maps` (`.values = { [i] = &x }`) as initial slots.
fn initial_slots(
    view: &ElfView<'_>,
    sec: &Section<'_>,
    spans: &[(u64, u64, Option<u64>, usize)],
    t: &mut MapTable,
) -> Result<(), ObjectError> {
    let Some(relocs) = view.relocs.get(&sec.index) else {
        return Ok(());
    };
    for r in relocs.values() {
        let err = |why: &str| view.reloc_err(sec.index, r, why);
        let Some(&(start, _, values, idx)) = spans
            .iter()
            .find(|(s, len, _, _)| r.offset >= *s && r.offset - s < *len)
        else {
            return Err(err("not inside any map definition"));
        };
        let Some(values) = values else {
            return Err(err("map has no `values` member to initialize"));
        };
        let rel = r.offset - start;
        if rel < values || (rel - values) % 8 != 0 {
            return Err(err("not at a slot of the `values` array"));
        }
        let slot = u32::try_from((rel - values) / 8).map_err(|_| err("slot index too large"))?;
        let target = &view.symbols[r.symbol];
        let outer_type = t.defs[idx].kind();
        let init =
            match target.section {
                Some(s) if s == sec.index && outer_type.is_some_and(|k| k.is_map_in_map()) => {
                    MapInit::Map(
                        t.def_at(s, target.value)
                            .ok_or_else(|| err("target is not a map definition"))?,
                    )
                }
                Some(s)
                    if view.sections[s].is_exec()
                        && target.kind == elf::STT_FUNC
                        && outer_type == Some(MapType::ProgArray) =>
                {
                    MapInit::Program(target.name.clone())
                }
                _ => return Err(err(
                    "only maps (in map-in-map) or programs (in prog arrays) can initialize slots",
                )),
            };
        t.defs[idx].initial_slots.push((slot, init));
    }
    Ok(())
}

/// `__uint(name, N)` is encoded as `int (*name)[N]`: a pointer to an array of N elements.
fn uint_field(
    btf: &BtfReader<'_>,
    map: &str,
    field: &str,
    type_id: u32,
) -> Result<u32, ObjectError> {
    let bad = || ObjectError::map(map, format!("`{field}` is not declared with __uint()"));
    let ptr = btf.get(type_id)?;
    if ptr.kind != KIND_PTR {
        return Err(bad());
    }
    let arr = btf.skip_modifiers(ptr.size_or_type)?;
    if btf.get(arr)?.kind != KIND_ARRAY {
        return Err(bad());
    }
    Ok(btf.array(arr)?.1)
}

/// `__type(name, T)` is encoded as `T *name`: returns T's id and size.
fn type_field(
    btf: &BtfReader<'_>,
    map: &str,
    field: &str,
    type_id: u32,
) -> Result<(u32, u32), ObjectError> {
    let ptr = btf.get(type_id)?;
    if ptr.kind != KIND_PTR {
        return Err(ObjectError::map(
            map,
            format!("`{field}` is not declared with __type()"),
        ));
    }
    let size = btf.size_of(ptr.size_or_type)?;
    Ok((ptr.size_or_type, size as u32))
}

fn set_size(map: &str, field: &str, slot: &mut Option<u32>, size: u32) -> Result<(), ObjectError> {
    match *slot {
        Some(old) if old != size => Err(ObjectError::map(
            map,
            format!("conflicting {field}: {old} and {size}"),
        )),
        _ => {
            *slot = Some(size);
            Ok(())
        }
    }
}

/// Parses the struct of a BTF-defined map the way libbpf's `parse_btf_map_def` does.
fn parse_btf_map(
    btf: &BtfReader<'_>,
    name: &str,
    type_id: u32,
    inner: bool,
) -> Result<BtfMapDef, ObjectError> {
    let st = btf.skip_modifiers(type_id)?;
    if btf.get(st)?.kind != KIND_STRUCT {
        return Err(ObjectError::map(name, "definition is not a struct"));
    }
    let mut def = MapDef::new(name, MapType::Unspec, 0, 0, 0);
    def.origin = if inner {
        MapOrigin::Inner
    } else {
        MapOrigin::BtfMaps
    };
    let (mut key_size, mut value_size) = (None, None);
    let mut values_offset = None;
    for m in btf.members(st)? {
        let field = btf.string(m.name_off)?;
        let uint = || uint_field(btf, name, field, m.type_id);
        match field {
            "type" => def.map_type = uint()?,
            "max_entries" => def.max_entries = uint()?,
            "map_flags" => def.map_flags = uint()?,
            "numa_node" => def.numa_node = uint()?,
            "map_extra" => def.map_extra = uint()? as u64,
            "key_size" => set_size(name, "key size", &mut key_size, uint()?)?,
            "value_size" => set_size(name, "value size", &mut value_size, uint()?)?,
            "key" => {
                let (id, size) = type_field(btf, name, field, m.type_id)?;
                set_size(name, "key size", &mut key_size, size)?;
                def.btf_key_type_id = Some(id);
            }
            "value" => {
                let (id, size) = type_field(btf, name, field, m.type_id)?;
                set_size(name, "value size", &mut value_size, size)?;
                def.btf_value_type_id = Some(id);
            }
            "pinning" => {
                if inner {
                    return Err(ObjectError::map(name, "inner maps cannot be pinned"));
                }
                def.pinning = match uint()? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    p => return Err(ObjectError::map(name, format!("unsupported pinning {p}"))),
                };
            }
            "values" => {
                if inner {
                    return Err(ObjectError::map(
                        name,
                        "multi-level map-in-map is not supported",
                    ));
                }
                let (elem, n) = btf
                    .array(m.type_id)
                    .map_err(|_| ObjectError::map(name, "`values` is not an array"))?;
                if n != 0 {
                    return Err(ObjectError::map(
                        name,
                        "`values` array must have no size (use __array)",
                    ));
                }
                let ptr = btf.get(btf.skip_modifiers(elem)?)?;
                if ptr.kind != KIND_PTR {
                    return Err(ObjectError::map(name, "`values` elements must be pointers"));
                }
                let target = btf.skip_modifiers(ptr.size_or_type)?;
                match btf.get(target)?.kind {
                    KIND_STRUCT => {
                        let inner_def = parse_btf_map(btf, &format!("{name}.inner"), target, true)?;
                        def.inner = Some(Box::new(inner_def.def));
                    }
                    KIND_FUNC_PROTO => {}
                    _ => {
                        return Err(ObjectError::map(
                            name,
                            "`values` must point to a map struct or a function",
                        ))
                    }
                }
                set_size(name, "value size", &mut value_size, 4)?;
                values_offset = Some(m.bit_offset as u64 / 8);
            }
            other => return Err(ObjectError::map(name, format!("unknown field `{other}`"))),
        }
    }
    def.key_size = key_size.unwrap_or(0);
    def.value_size = value_size.unwrap_or(0);
    if def.inner.is_some() && !def.kind().is_some_and(|k| k.is_map_in_map()) {
        return Err(ObjectError::map(
            name,
            "map of inner maps must be ARRAY_OF_MAPS or HASH_OF_MAPS",
        ));
    }
    Ok(BtfMapDef { def, values_offset })
}
