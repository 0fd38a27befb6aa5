//! Map contents as JSON, in one format shared with the kernel-side test harness.
//!
//! Each map is `{"name", "type", "key_size", "value_size", "max_entries", "entries"}`, where
//! every byte string is lower-case hex. Entries depend on the type:
//! - arrays, hashes, LRU hashes, LPM tries: `{"key", "value"}` (per-CPU maps: `"values"`,
//!   one per runtime CPU), sorted by key bytes (hash iteration order is not meaningful);
//! - queues and stacks: `{"value"}` in pop order;
//! - ring buffers: `{"record"}` per pending sample, in order (reading drains them);
//! - program arrays: `{"key", "program"}` (the program's name);
//! - maps of maps: `{"key", "inner_map"}` (the inner map's name in the object, if it is one);
//! - bloom filters: no entries (they cannot be enumerated).

use bpfkit_maps::MapRef;
use serde_json::{json, Value};

use crate::load::LoadedObject;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every map of `object`, in object order.
pub(crate) fn dump_maps(object: &LoadedObject) -> Value {
    let slots = &object.shared.maps.slots;
    Value::Array(
        slots
            .iter()
            .map(|s| {
                let def = &s.def;
                let type_name = bpfkit_object::MapType::from_u32(def.map_type)
                    .map_or_else(|| def.map_type.to_string(), |t| t.name().to_string());
                let inner_name = |m: &MapRef| {
                    slots
                        .iter()
                        .find(|o| o.map.id() == m.id())
                        .map(|o| o.def.name.clone())
                };
                json!({
                    "name": def.name,
                    "type": type_name,
                    "key_size": def.key_size,
                    "value_size": def.value_size,
                    "max_entries": def.max_entries,
                    "entries": entries(object, &s.map, &inner_name),
                })
            })
            .collect(),
    )
}

fn entries(
    object: &LoadedObject,
    map: &MapRef,
    inner_name: &dyn Fn(&MapRef) -> Option<String>,
) -> Value {
    let spec = map.spec();
    use bpfkit_maps::MapType::*;
    match spec.map_type {
        Queue | Stack => Value::Array(
            map.iter()
                .map(|(_, v)| json!({ "value": hex(&v) }))
                .collect(),
        ),
        RingBuf => {
            let mut records = Vec::new();
            if let Some(rb) = map.as_ringbuf() {
                rb.consume(|r| records.push(json!({ "record": hex(r) })));
            }
            Value::Array(records)
        }
        BloomFilter => Value::Array(Vec::new()),
        ProgArray => {
            let array = map.as_prog_array();
            let list = (0..spec.max_entries)
                .filter_map(|i| {
                    let id = array?.get(i)?;
                    Some(
                        json!({ "key": hex(&i.to_ne_bytes()), "program": object.program_name(id) }),
                    )
                })
                .collect();
            Value::Array(list)
        }
        ArrayOfMaps | HashOfMaps => {
            let mut list: Vec<(Vec<u8>, Value)> = Vec::new();
            if let Some(outer) = map.as_map_of_maps() {
                for (key, _) in map.iter() {
                    if let Some(inner) = outer.lookup_inner(&key) {
                        let v = json!({ "key": hex(&key), "inner_map": inner_name(&inner) });
                        list.push((key, v));
                    }
                }
            }
            list.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Array(list.into_iter().map(|(_, v)| v).collect())
        }
        t => {
            let mut list: Vec<(Vec<u8>, Vec<u8>)> = map.iter().collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            let slot = spec.value_slot();
            let size = spec.value_size as usize;
            Value::Array(
                list.into_iter()
                    .map(|(k, v)| {
                        if t.is_percpu() {
                            let values: Vec<String> = v
                                .chunks(slot)
                                .map(|c| hex(&c[..size.min(c.len())]))
                                .collect();
                            json!({ "key": hex(&k), "values": values })
                        } else {
                            json!({ "key": hex(&k), "value": hex(&v) })
                        }
                    })
                    .collect(),
            )
        }
    }
}
