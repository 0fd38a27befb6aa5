//! The maps of a loaded object and the handles programs see for them.
//!
//! A program gets a map as `lddw rN, map` (`LdImm64Kind::MapIdx`). The runtime resolves it
//! to a *handle*: the address of a [`MapCell`], allocated here for the object's maps
//! and by each map of maps for its inner maps (what a lookup in it returns), never a memory
//! region the program may access, so a program can only pass it to helpers. Helpers of a
//! verified program take it as the cell's address (the verifier tracks map pointers); the
//! others look it up among the cells. A cell starts with its map's direct lookup, which
//! unchecked code calls through the map pointer where it does not know the map at load
//! (`Specialization::IndirectCall`). Global data (`LdImm64Kind::MapIdxValue`) resolves to
//! the real address of the one-entry array's value.

use bpfkit_maps::{rcu_read_lock, MapCell, MapRef, MapSpec, MapType};
use bpfkit_object::{MapDef, MapInit};

use crate::error::RuntimeError;

/// One map of a loaded object.
#[derive(Debug)]
pub(crate) struct MapSlot {
    pub(crate) def: MapDef,
    pub(crate) map: MapRef,
    /// The cell whose address is the handle (boxed so the address is stable).
    cell: Box<MapCell>,
    /// For one-entry arrays (global data): the stable address of the value.
    pub(crate) value_addr: Option<u64>,
}

impl MapSlot {
    pub(crate) fn handle(&self) -> u64 {
        &*self.cell as *const MapCell as u64
    }
}

/// All maps of a loaded object.
#[derive(Debug)]
pub(crate) struct MapTable {
    pub(crate) slots: Vec<MapSlot>,
}

/// The maps crate's spec for an object's definition.
pub(crate) fn spec_of(def: &MapDef) -> Result<MapSpec, RuntimeError> {
    let err = |message: String| RuntimeError::Map {
        map: def.name.clone(),
        message,
    };
    let map_type = MapType::from_u32(def.map_type)
        .ok_or_else(|| err(format!("map type {} is not supported", def.map_type)))?;
    let mut spec = MapSpec::new(map_type, def.key_size, def.value_size, def.max_entries)
        .with_flags(def.map_flags)
        .with_map_extra(def.map_extra);
    if let Some(inner) = &def.inner {
        spec = spec.with_inner_map(spec_of(inner)?);
    } else if matches!(map_type, MapType::ArrayOfMaps | MapType::HashOfMaps) {
        return Err(err("map of maps without an inner map definition".into()));
    }
    Ok(spec)
}

impl MapTable {
    /// Creates every map with `ncpus` per-CPU slots and fills global data and `.values`
    /// initialisers; `program_id` maps a program name to the id stored in program arrays.
    pub(crate) fn create(
        defs: &[MapDef],
        ncpus: usize,
        program_id: impl Fn(&str) -> Option<u32>,
    ) -> Result<MapTable, RuntimeError> {
        let mut slots = Vec::with_capacity(defs.len());
        for def in defs {
            let err = |message: String| RuntimeError::Map {
                map: def.name.clone(),
                message,
            };
            let spec = spec_of(def)?;
            let map = bpfkit_maps::create(&spec, ncpus).map_err(|e| err(e.to_string()))?;
            if let Some(data) = &def.data {
                map.update_host(&0u32.to_ne_bytes(), data, bpfkit_maps::BPF_ANY)
                    .map_err(|e| err(format!("initial data: {e}")))?;
            }
            let value_addr = (spec.map_type == MapType::Array && spec.max_entries == 1)
                .then(|| {
                    let guard = rcu_read_lock();
                    // Array values are preallocated and never move: the address stays valid
                    // for the map's whole life, beyond this guard.
                    map.lookup_ptr(&0u32.to_ne_bytes(), 0, &guard)
                        .ok()
                        .flatten()
                        .map(|v| v.addr() as u64)
                })
                .flatten();
            slots.push(MapSlot {
                def: def.clone(),
                cell: Box::new(MapCell::new(map.clone())),
                map,
                value_addr,
            });
        }
        let table = MapTable { slots };
        for slot in &table.slots {
            table.initialise_slots(slot, &program_id)?;
        }
        Ok(table)
    }

    fn initialise_slots(
        &self,
        slot: &MapSlot,
        program_id: &impl Fn(&str) -> Option<u32>,
    ) -> Result<(), RuntimeError> {
        let err = |message: String| RuntimeError::Map {
            map: slot.def.name.clone(),
            message,
        };
        for (index, init) in &slot.def.initial_slots {
            match init {
                MapInit::Program(name) => {
                    let id = program_id(name)
                        .ok_or_else(|| err(format!("slot {index}: no program `{name}`")))?;
                    let array = slot
                        .map
                        .as_prog_array()
                        .ok_or_else(|| err("program initialiser in a non-program array".into()))?;
                    array.set(*index, id).map_err(|e| err(e.to_string()))?;
                }
                MapInit::Map(i) => {
                    let inner = self
                        .slots
                        .get(*i)
                        .ok_or_else(|| err(format!("slot {index}: no map #{i}")))?;
                    let outer = slot
                        .map
                        .as_map_of_maps()
                        .ok_or_else(|| err("map initialiser in a non map-of-maps".into()))?;
                    outer
                        .set_inner(
                            &index.to_ne_bytes(),
                            inner.map.clone(),
                            bpfkit_maps::BPF_ANY,
                        )
                        .map_err(|e| err(format!("slot {index}: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// The object's own map behind `handle`, if it is one (no inner map).
    pub(crate) fn own_by_handle(&self, handle: u64) -> Option<&MapRef> {
        self.slots
            .iter()
            .find(|s| s.handle() == handle)
            .map(|s| &s.map)
    }

    /// The inner map behind `handle`, if it is a cell one of the object's maps of maps
    /// stores now (the object's own maps: [`own_by_handle`](Self::own_by_handle)).
    pub(crate) fn inner_by_handle(&self, handle: u64) -> Option<MapRef> {
        self.slots
            .iter()
            .filter_map(|s| s.map.as_map_of_maps())
            .find_map(|outer| outer.map_in_cell(handle))
    }

    /// The slot of the map named `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<&MapSlot> {
        self.slots.iter().find(|s| s.def.name == name)
    }
}
