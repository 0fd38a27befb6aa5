//! [`MapCell`]: a map as a program holds it.

use std::mem::offset_of;

use crate::map::{DirectLookup, LookupFn, MapRef};

/// A map as a program holds it: a program's map pointer (`lddw rN, map`, or what a lookup
/// in a map of maps returns) is the address of a cell, which the runtime or a map of maps
/// keeps at a stable address for as long as a program may use it.
///
/// The cell starts with the map's [direct lookup](crate::Map::direct_lookup), so that
/// machine code holding only the map pointer can call it (as the kernel's JIT calls
/// `map->ops->map_lookup_elem` of a map it knows only at run time): the word at
/// [`LOOKUP_OFFSET`](Self::LOOKUP_OFFSET) is the function or 0 (no direct lookup), the word
/// at [`LOOKUP_MAP_OFFSET`](Self::LOOKUP_MAP_OFFSET) its first argument.
#[repr(C)]
#[derive(Debug)]
pub struct MapCell {
    lookup: Option<LookupFn>,
    lookup_map: *const (),
    map: MapRef,
}

// SAFETY: `lookup_map` points into the map that `map` keeps alive, which is `Send + Sync`;
// the cell never writes through it.
unsafe impl Send for MapCell {}
// SAFETY: as for `Send`.
unsafe impl Sync for MapCell {}

impl MapCell {
    /// Byte offset of the direct lookup function (a nullable function pointer).
    pub const LOOKUP_OFFSET: i32 = offset_of!(MapCell, lookup) as i32;
    /// Byte offset of the direct lookup's first argument.
    pub const LOOKUP_MAP_OFFSET: i32 = offset_of!(MapCell, lookup_map) as i32;

    /// A cell holding `map`.
    pub fn new(map: MapRef) -> MapCell {
        let (lookup, lookup_map) = match map.direct_lookup() {
            Some(DirectLookup { lookup, map }) => (Some(lookup), map),
            None => (None, std::ptr::null()),
        };
        MapCell {
            lookup,
            lookup_map,
            map,
        }
    }

    /// The map.
    pub fn map(&self) -> &MapRef {
        &self.map
    }

    /// The map's direct lookup, if it has one.
    pub fn direct_lookup(&self) -> Option<DirectLookup> {
        self.lookup.map(|lookup| DirectLookup {
            lookup,
            map: self.lookup_map,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{create, MapSpec, MapType};

    #[test]
    fn a_cell_carries_its_maps_direct_lookup_at_the_published_offsets() {
        let hash = create(&MapSpec::new(MapType::Hash, 4, 8, 4), 1).unwrap();
        let cell = MapCell::new(hash.clone());
        let base = &cell as *const MapCell as *const u8;
        let direct = hash.direct_lookup().unwrap();
        // SAFETY: both offsets lie inside the cell and hold pointer-sized words.
        let (lookup, map) = unsafe {
            (
                *(base.add(MapCell::LOOKUP_OFFSET as usize) as *const usize),
                *(base.add(MapCell::LOOKUP_MAP_OFFSET as usize) as *const usize),
            )
        };
        assert_eq!(lookup, direct.lookup as usize);
        assert_eq!(map, direct.map as usize);
        // A per-CPU array's lookup needs the CPU: no direct lookup, a null word.
        let percpu = create(&MapSpec::new(MapType::PercpuArray, 4, 8, 4), 2).unwrap();
        let cell = MapCell::new(percpu);
        assert!(cell.direct_lookup().is_none());
        // SAFETY: as above.
        let word = unsafe {
            *((&cell as *const MapCell as *const u8).add(MapCell::LOOKUP_OFFSET as usize)
                as *const usize)
        };
        assert_eq!(word, 0);
    }
}
