//! Map definitions.

use crate::types::{MapType, BPF_F_RDONLY_PROG};

/// Where a map definition came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapOrigin {
    /// A BTF-defined map in the `.maps` section.
    BtfMaps,
    /// A legacy `struct bpf_map_def` in the `maps` section.
    Legacy,
    /// The inner-map template of a map-in-map (`__array(values, ...)`).
    Inner,
    /// A global-data section (`.data*`, `.rodata*`, `.bss*`) turned into a one-entry array.
    GlobalData(DataKind),
    /// Built in memory (see [`ObjectBuilder`](crate::ObjectBuilder)).
    Builder,
}

/// The kind of a global-data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `.data`, `.data.*`: initialized, writable.
    Data,
    /// `.rodata`, `.rodata.*`: initialized, read-only for programs, frozen after loading.
    Rodata,
    /// `.bss`, `.bss.*`: zero-initialized, writable.
    Bss,
}

/// libbpf's pinning attribute of a BTF-defined map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pinning {
    /// `LIBBPF_PIN_NONE`: not pinned.
    #[default]
    None,
    /// `LIBBPF_PIN_BY_NAME`: pinned at `<pin root>/<map name>`.
    ByName,
}

/// A statically initialized slot of a map-in-map or program array
/// (`.values = { [i] = &x }`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapInit {
    /// The slot holds the map at this index of [`Object::maps`](crate::Object::maps).
    Map(usize),
    /// The slot holds the program with this name (program arrays).
    Program(String),
}

/// One map of an object.
///
/// Global data sections become single-entry `ARRAY` maps with `key_size` 4,
/// `value_size` = section size and the section's bytes in [`data`](Self::data);
/// `.rodata*` maps get `BPF_F_RDONLY_PROG` and [`frozen`](Self::frozen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// Map name: the C variable name, or the section name (`.rodata`) for global data.
    pub name: String,
    /// Kernel map type (`BPF_MAP_TYPE_*`); see [`MapDef::kind`] for the typed form.
    pub map_type: u32,
    /// Key size in bytes (0 for key-less maps such as queues and ring buffers).
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// Type-specific extra value (`map_extra`, e.g. bloom filter hash count).
    pub map_extra: u64,
    /// NUMA node (`numa_node` attribute); only meaningful with `BPF_F_NUMA_NODE`.
    pub numa_node: u32,
    /// Pinning requested by the definition.
    pub pinning: Pinning,
    /// For map-in-map types: the template of the inner maps.
    pub inner: Option<Box<MapDef>>,
    /// Statically initialized slots (`.values = {...}`), as (slot index, content).
    pub initial_slots: Vec<(u32, MapInit)>,
    /// Initial contents of a global-data map (exactly `value_size` bytes).
    pub data: Option<Vec<u8>>,
    /// Make the map read-only for user space after initialization (`.rodata`).
    pub frozen: bool,
    /// BTF type id of the key, if the definition named one.
    pub btf_key_type_id: Option<u32>,
    /// BTF type id of the value (for global data: the section's `DATASEC`), if known.
    pub btf_value_type_id: Option<u32>,
    /// Where the definition came from.
    pub origin: MapOrigin,
}

impl MapDef {
    /// A plain map definition (no flags, no BTF, no initial data).
    ///
    /// ```
    /// use bpfkit_object::{MapDef, MapType};
    /// let m = MapDef::new("counts", MapType::Array, 4, 8, 16);
    /// assert_eq!(m.kind(), Some(MapType::Array));
    /// ```
    pub fn new(
        name: impl Into<String>,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapDef {
        MapDef {
            name: name.into(),
            map_type: map_type.as_u32(),
            key_size,
            value_size,
            max_entries,
            map_flags: 0,
            map_extra: 0,
            numa_node: 0,
            pinning: Pinning::None,
            inner: None,
            initial_slots: Vec::new(),
            data: None,
            frozen: false,
            btf_key_type_id: None,
            btf_value_type_id: None,
            origin: MapOrigin::Builder,
        }
    }

    /// A global-data map holding `bytes`, as libbpf creates for `.data`/`.rodata`/`.bss`.
    pub fn global_data(name: impl Into<String>, kind: DataKind, bytes: Vec<u8>) -> MapDef {
        let mut m = MapDef::new(name, MapType::Array, 4, bytes.len() as u32, 1);
        if kind == DataKind::Rodata {
            m.map_flags = BPF_F_RDONLY_PROG;
            m.frozen = true;
        }
        m.data = Some(bytes);
        m.origin = MapOrigin::GlobalData(kind);
        m
    }

    /// The typed map type, if this crate knows the number.
    pub fn kind(&self) -> Option<MapType> {
        MapType::from_u32(self.map_type)
    }

    /// Whether this map was made from a global-data section.
    pub fn is_global_data(&self) -> bool {
        matches!(self.origin, MapOrigin::GlobalData(_))
    }
}
