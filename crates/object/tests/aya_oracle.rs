//! Map definitions, license and version compared with aya-obj's independent parser,
//! on the objects aya-obj accepts. aya-obj rejects whole objects with a program
//! section outside its fixed list; that is checked too, as it is why this crate
//! does not use aya-obj itself.

mod common;

use aya_obj::maps::PinningType;
use aya_obj::{Map, ParseError};
use bpfkit_object::{MapDef, Pinning, BPF_F_MMAPABLE};
use common::*;

/// Objects aya-obj 0.3 rejects, and the section it stumbles on.
const REJECTED_BY_AYA: &[(&str, &str)] = &[
    ("tc_prog", "tc"),
    ("sections", "raw_tracepoint.w/sched_switch"),
];

fn compare(name: &str, ours: &MapDef, aya: &Map) {
    let ctx = format!("{name}: map {}", ours.name);
    assert_eq!(ours.map_type, aya.map_type(), "{ctx}: type");
    assert_eq!(ours.key_size, aya.key_size(), "{ctx}: key size");
    assert_eq!(ours.value_size, aya.value_size(), "{ctx}: value size");
    assert_eq!(ours.max_entries, aya.max_entries(), "{ctx}: max entries");
    // libbpf (and so this crate) also makes global data mmap()able; aya does not.
    assert_eq!(
        ours.map_flags & !BPF_F_MMAPABLE,
        aya.map_flags(),
        "{ctx}: flags"
    );
    let pin = match aya.pinning() {
        PinningType::None => Pinning::None,
        PinningType::ByName => Pinning::ByName,
    };
    assert_eq!(ours.pinning, pin, "{ctx}: pinning");
    if let Map::Btf(b) = aya {
        assert_eq!(
            ours.btf_key_type_id.unwrap_or(0),
            b.def.btf_key_type_id,
            "{ctx}: key type"
        );
        assert_eq!(
            ours.btf_value_type_id.unwrap_or(0),
            b.def.btf_value_type_id,
            "{ctx}: value type"
        );
    }
    if ours.is_global_data() {
        assert_eq!(
            ours.data.as_deref(),
            Some(aya.data()),
            "{ctx}: initial data"
        );
    }
    match (&ours.inner, aya.inner()) {
        (Some(i), Some(a)) => compare(name, i, &a),
        (None, None) => {}
        (o, a) => panic!("{ctx}: inner map {o:?} vs {a:?}"),
    }
}

#[test]
fn maps_match_aya_obj() {
    let mut compared = 0;
    for name in OBJECTS {
        let bytes = bytes(name);
        let ours = load(name);
        match aya_obj::Object::parse(&bytes) {
            Ok(aya) => {
                assert_eq!(ours.maps.len(), aya.maps.len(), "{name}: number of maps");
                for m in &ours.maps {
                    let a = aya
                        .maps
                        .get(&m.name)
                        .unwrap_or_else(|| panic!("{name}: aya has no map {}", m.name));
                    compare(name, m, a);
                    compared += 1;
                }
                assert_eq!(
                    ours.license.as_bytes(),
                    aya.license.as_bytes(),
                    "{name}: license"
                );
                assert_eq!(ours.kernel_version, aya.kernel_version, "{name}: version");
            }
            Err(ParseError::InvalidProgramSection { section }) => {
                let expected = REJECTED_BY_AYA.iter().find(|r| r.0 == *name);
                assert_eq!(
                    expected.map(|r| r.1),
                    Some(section.as_str()),
                    "{name}: aya rejected"
                );
                assert!(!ours.programs.is_empty());
            }
            // aya-obj only understands `__array(values, struct ...)` (map-in-map), not a
            // program array's `__array(values, int (void *))`.
            Err(ParseError::BtfError(e)) if *name == "prog_array" => {
                assert!(
                    format!("{e:?}").contains("UnexpectedBtfType"),
                    "{name}: {e:?}"
                );
                assert_eq!(ours.maps[0].initial_slots.len(), 1);
            }
            Err(e) => panic!("{name}: aya-obj failed unexpectedly: {e:?}"),
        }
    }
    assert!(compared >= 20, "only {compared} maps compared");
}
