//! BTF-defined maps and the DATASEC fix-up checked against `bpftool btf dump`.

mod common;

use std::collections::HashMap;

use bpfkit_object::{MapOrigin, Pinning};
use common::*;

/// One type from `bpftool btf dump`: kind, name, attributes, members.
#[derive(Debug, Default)]
struct DumpType {
    kind: String,
    name: String,
    attrs: HashMap<String, u64>,
    /// (name, type_id) of members, or (var name, var type id) of DATASEC entries
    members: Vec<(String, u64, u64)>,
}

fn btf_dump(path: &str) -> Option<HashMap<u64, DumpType>> {
    let out = run("bpftool", &["btf", "dump", "file", path])?;
    let mut types = HashMap::new();
    let mut current: Option<u64> = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (id, rest) = rest.split_once("] ")?;
            let id: u64 = id.parse().ok()?;
            let (kind, rest) = rest.split_once(' ')?;
            let name = rest.split('\'').nth(1).unwrap_or("").to_string();
            let attrs = rest
                .split_whitespace()
                .filter_map(|kv| kv.trim_end_matches(',').split_once('='))
                .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
                .collect();
            types.insert(
                id,
                DumpType {
                    kind: kind.into(),
                    name,
                    attrs,
                    members: vec![],
                },
            );
            current = Some(id);
        } else if let (Some(id), Some(rest)) = (current, line.strip_prefix('\t')) {
            // struct member: 'name' type_id=N bits_offset=M ; datasec: type_id=N offset=M size=S (VAR 'name')
            let name = rest.split('\'').nth(1).unwrap_or("").to_string();
            let kv: HashMap<&str, u64> = rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
                .collect();
            let t = types.get_mut(&id)?;
            t.members.push((
                name,
                kv.get("type_id").copied()?,
                kv.get("offset")
                    .or(kv.get("bits_offset"))
                    .copied()
                    .unwrap_or(0),
            ));
        }
    }
    Some(types)
}

/// `__uint(x, N)`: member type is PTR to ARRAY with nr_elems N.
fn uint(types: &HashMap<u64, DumpType>, type_id: u64) -> u64 {
    let ptr = &types[&type_id];
    assert_eq!(ptr.kind, "PTR");
    let arr = &types[&ptr.attrs["type_id"]];
    assert_eq!(arr.kind, "ARRAY");
    arr.attrs["nr_elems"]
}

#[test]
fn btf_maps_match_bpftool_dump() {
    let mut checked = 0;
    for name in OBJECTS {
        let obj = load(name);
        let path = data_path(name);
        let Some(types) = btf_dump(path.to_str().unwrap()) else {
            return;
        };
        let Some(datasec) = types
            .values()
            .find(|t| t.kind == "DATASEC" && t.name == ".maps")
        else {
            assert!(obj.maps.iter().all(|m| m.origin != MapOrigin::BtfMaps));
            continue;
        };
        assert_eq!(
            obj.maps
                .iter()
                .filter(|m| m.origin == MapOrigin::BtfMaps)
                .count(),
            datasec.members.len()
        );
        for (var_name, var_id, _) in &datasec.members {
            let var = &types[var_id];
            let m = obj
                .map(var_name)
                .unwrap_or_else(|| panic!("{name}: no map {var_name}"));
            let st = &types[&var.attrs["type_id"]];
            assert_eq!(st.kind, "STRUCT", "{name}/{var_name}");
            let mut pinning = Pinning::None;
            for (field, tid, _) in &st.members {
                let ctx = format!("{name}/{var_name}.{field}");
                match field.as_str() {
                    "type" => assert_eq!(m.map_type as u64, uint(&types, *tid), "{ctx}"),
                    "max_entries" => assert_eq!(m.max_entries as u64, uint(&types, *tid), "{ctx}"),
                    "map_flags" => assert_eq!(m.map_flags as u64, uint(&types, *tid), "{ctx}"),
                    "key_size" => assert_eq!(m.key_size as u64, uint(&types, *tid), "{ctx}"),
                    "value_size" => assert_eq!(m.value_size as u64, uint(&types, *tid), "{ctx}"),
                    "pinning" => {
                        pinning = if uint(&types, *tid) == 1 {
                            Pinning::ByName
                        } else {
                            Pinning::None
                        }
                    }
                    "key" => assert_eq!(
                        m.btf_key_type_id.map(u64::from),
                        types[tid].attrs.get("type_id").copied(),
                        "{ctx}"
                    ),
                    "value" => assert_eq!(
                        m.btf_value_type_id.map(u64::from),
                        types[tid].attrs.get("type_id").copied(),
                        "{ctx}"
                    ),
                    "values" => {
                        assert_eq!(m.value_size, 4, "{ctx}");
                        let elem = &types[&types[tid].attrs["type_id"]];
                        let target = &types[&elem.attrs["type_id"]];
                        assert_eq!(m.inner.is_some(), target.kind == "STRUCT", "{ctx}");
                    }
                    other => panic!("{ctx}: unexpected member {other}"),
                }
                checked += 1;
            }
            assert_eq!(m.pinning, pinning, "{name}/{var_name}");
        }
    }
    assert!(checked >= 60, "only {checked} fields checked");
}

/// clang leaves DATASEC sizes and variable offsets at 0; `Object::btf` has them filled
/// in from the section headers and symbol table (as read by llvm-readelf).
#[test]
fn datasec_fixup_matches_readelf() {
    let obj = load("global_data");
    let Some(re) = readelf("global_data") else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("bpfkit-object-btf-{}.bin", std::process::id()));
    std::fs::write(&tmp, &obj.btf.as_ref().unwrap().data).unwrap();
    let dump = btf_dump(tmp.to_str().unwrap());
    let _ = std::fs::remove_file(&tmp);
    let Some(types) = dump else { return };
    let mut vars = 0;
    for sec in types.values().filter(|t| t.kind == "DATASEC") {
        let m = obj.map(&sec.name);
        let idx = re.section_index(&sec.name).unwrap();
        if let Some(m) = m {
            assert_eq!(sec.attrs["size"], m.value_size as u64, "{}", sec.name);
        }
        for (_, var_id, offset) in &sec.members {
            let var = &types[var_id].name;
            let sym = re
                .symbols
                .iter()
                .find(|s| &s.name == var && s.ndx == Some(idx))
                .unwrap();
            assert_eq!(*offset, sym.value, "{}: {var}", sec.name);
            vars += 1;
        }
    }
    assert!(vars >= 6, "{vars}");
    // The .BTF.ext section is carried unchanged.
    assert!(obj
        .btf
        .as_ref()
        .unwrap()
        .ext
        .as_ref()
        .is_some_and(|e| e.len() > 24));
}
