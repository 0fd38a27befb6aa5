//! The test objects loaded by libbpf (through `bpftool -d prog loadall`) into the
//! running kernel: libbpf's debug log says how it parsed maps, where it found map
//! references and how it linked sub-programs; the kernel says program and map
//! types and sizes. Both must agree with this crate. Needs root and bpftool.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit_isa::{Insn, LdImm64Kind};
use bpfkit_object::{MapDef, MapInit, MapType, Object, Program};
use common::*;
use serde_json::Value;

/// Objects libbpf 1.x and the kernel accept (`legacy_maps` uses the removed
/// `maps` section; `sections` has attach targets that vary by kernel).
const LOADABLE: &[&str] = &[
    "bpf2bpf",
    "cgroup_skb",
    "global_data",
    "kprobe",
    "loop",
    "map_in_map",
    "prog_array",
    "socket_filter",
    "tc_prog",
    "tracepoint",
    "xdp_count",
];

/// A bpffs directory holding one object's pinned programs and maps, removed on drop.
struct Pinned {
    dir: PathBuf,
    log: String,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn load_into_kernel(name: &str) -> Option<Pinned> {
    if !is_root() {
        eprintln!("skipping: kernel oracle needs root");
        return None;
    }
    let mounted = std::fs::read_to_string("/proc/mounts")
        .ok()?
        .lines()
        .any(|l| l.contains(" /sys/fs/bpf bpf "));
    if !mounted {
        eprintln!("skipping: bpffs is not mounted at /sys/fs/bpf");
        return None;
    }
    let dir = PathBuf::from(format!(
        "/sys/fs/bpf/bpfkit-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    let mut pinned = Pinned {
        dir: dir.clone(),
        log: String::new(),
    };
    let obj = data_path(name);
    let out = match Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(&obj)
        .arg(dir.join("p"))
        .arg("pinmaps")
        .arg(dir.join("m"))
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping: bpftool not available: {e}");
            return None;
        }
    };
    pinned.log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "bpftool loadall {name}.o failed:\n{}",
        pinned.log
    );
    Some(pinned)
}

fn bpftool_json(args: &[&str]) -> Value {
    let out = Command::new("bpftool")
        .arg("-j")
        .args(args)
        .output()
        .expect("bpftool");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

/// Texts between single quotes.
fn quoted(line: &str) -> Vec<&str> {
    line.split('\'').skip(1).step_by(2).collect()
}

fn num_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_once(key)
        .map(|(_, r)| r.split_whitespace().next().unwrap_or(""))
}

/// What libbpf's debug log says about one object.
#[derive(Default, Debug)]
struct LibbpfLog {
    /// (section, program/function, code size in insns)
    programs: Vec<(String, String, usize)>,
    /// program → sub-programs appended, in order, with their sizes
    added: BTreeMap<String, Vec<(String, usize)>>,
    /// (function, map index, map name, insn within the function, is data)
    map_refs: Vec<(String, usize, String, usize, bool)>,
    /// map name → field → value
    map_fields: BTreeMap<String, BTreeMap<String, u64>>,
    /// map name → flags of global-data maps
    data_flags: BTreeMap<String, u64>,
    /// (outer map, slot, target map or program)
    slots: Vec<(String, u32, String)>,
}

fn parse_log(log: &str) -> LibbpfLog {
    let mut l = LibbpfLog::default();
    for line in log.lines().filter_map(|x| x.strip_prefix("libbpf: ")) {
        let q = quoted(line);
        if line.contains("': found program '") {
            let size = num_after(line, "code size ").unwrap().parse().unwrap();
            l.programs.push((q[0].into(), q[1].into(), size));
        } else if line.contains(" insns from sub-prog ") {
            let n = num_after(line, "added ").unwrap().parse().unwrap();
            l.added
                .entry(q[0].into())
                .or_default()
                .push((q[1].into(), n));
        } else if line.starts_with("prog '")
            && (line.contains(": found map ") || line.contains(": found data map "))
        {
            let data = line.contains("found data map");
            let idx = num_after(line, "map ").unwrap();
            let idx = if data {
                num_after(line, "data map ").unwrap()
            } else {
                idx
            };
            let name = line.split_once('(').unwrap().1.split(',').next().unwrap();
            let insn = line.rsplit(' ').next().unwrap().trim_start_matches('#');
            l.map_refs.push((
                q[0].into(),
                idx.parse().unwrap(),
                name.into(),
                insn.parse().unwrap(),
                data,
            ));
        } else if line.starts_with("map '") && line.contains("(global data)") {
            l.data_flags.insert(
                q[0].into(),
                u64::from_str_radix(num_after(line, "flags ").unwrap().trim_end_matches('.'), 16)
                    .unwrap(),
            );
        } else if line.starts_with("map '") && line.contains("': found ") {
            let rest = line.split_once("': found ").unwrap().1;
            let fields = l.map_fields.entry(q[0].into()).or_default();
            if let Some(v) = rest.strip_prefix("key [") {
                fields.insert("key_type".into(), parse_int(v.split(']').next().unwrap()));
                fields.insert("key_size".into(), parse_int(num_after(v, "sz = ").unwrap()));
            } else if let Some(v) = rest.strip_prefix("value [") {
                fields.insert("value_type".into(), parse_int(v.split(']').next().unwrap()));
                fields.insert(
                    "value_size".into(),
                    parse_int(num_after(v, "sz = ").unwrap()),
                );
            } else if let Some((k, v)) = rest.split_once(" = ") {
                fields.insert(k.into(), parse_int(v));
            }
        } else if line.starts_with(".maps relo") && line.contains(" slot [") {
            let slot = line
                .split_once(" slot [")
                .unwrap()
                .1
                .split(']')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            l.slots.push((q[0].into(), slot, q[1].into()));
        }
    }
    l
}

/// libbpf prefixes global-data map names with part of the object name.
fn same_map_name(libbpf: &str, ours: &MapDef) -> bool {
    libbpf == ours.name || (ours.is_global_data() && libbpf.ends_with(&ours.name))
}

fn insn_at(p: &Program, pc: usize) -> Insn {
    let mut slot = 0;
    for insn in &p.insns {
        if slot == pc {
            return *insn;
        }
        slot += insn.slots();
    }
    panic!("{}: no instruction at slot {pc}", p.name)
}

fn check_linking(name: &str, obj: &Object, log: &LibbpfLog) {
    let expected: BTreeSet<(String, String)> = log
        .programs
        .iter()
        .filter(|p| p.0 != ".text")
        .map(|p| (p.1.clone(), p.0.clone()))
        .collect();
    let ours: BTreeSet<(String, String)> = obj
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.section.name.clone()))
        .collect();
    assert_eq!(ours, expected, "{name}: programs");
    for p in &obj.programs {
        let own = log.programs.iter().find(|x| x.1 == p.name).unwrap().2;
        let added = log.added.get(&p.name).cloned().unwrap_or_default();
        let mut start = own;
        assert_eq!(
            p.functions.len(),
            added.len() + 1,
            "{name}/{}: linked functions",
            p.name
        );
        for (f, (sub, n)) in p.functions[1..].iter().zip(&added) {
            assert_eq!(
                (&f.name, f.start),
                (sub, start),
                "{name}/{}: sub-program placement",
                p.name
            );
            start += n;
        }
        assert_eq!(
            p.slot_count(),
            start,
            "{name}/{}: linked instruction count",
            p.name
        );
    }
}

fn check_map_refs(name: &str, obj: &Object, log: &LibbpfLog) {
    for p in &obj.programs {
        let mut expected = 0;
        for f in &p.functions {
            for (func, idx, map_name, insn, data) in log.map_refs.iter().filter(|r| r.0 == f.name) {
                expected += 1;
                let ctx = format!("{name}/{} via {func} insn {insn}", p.name);
                let Insn::LdImm64 { kind, imm, .. } = insn_at(p, f.start + insn) else {
                    panic!("{ctx}: not an lddw");
                };
                assert_eq!(
                    kind,
                    if *data {
                        LdImm64Kind::MapIdxValue
                    } else {
                        LdImm64Kind::MapIdx
                    },
                    "{ctx}"
                );
                assert_eq!(imm as u32 as usize, *idx, "{ctx}: map index");
                assert!(
                    same_map_name(map_name, &obj.maps[*idx]),
                    "{ctx}: {map_name} vs {}",
                    obj.maps[*idx].name
                );
            }
        }
        assert_eq!(
            p.map_refs().len(),
            expected,
            "{name}/{}: number of map references",
            p.name
        );
    }
}

fn check_map_defs(name: &str, obj: &Object, log: &LibbpfLog) {
    for (map_name, fields) in &log.map_fields {
        let def = match map_name.strip_suffix(".inner") {
            Some(outer) => obj.map(outer).and_then(|m| m.inner.as_deref()).unwrap(),
            None => obj
                .map(map_name)
                .unwrap_or_else(|| panic!("{name}: no map {map_name}")),
        };
        for (field, &v) in fields {
            let ours = match field.as_str() {
                "type" => def.map_type as u64,
                "key_size" => def.key_size as u64,
                "value_size" => def.value_size as u64,
                "max_entries" => def.max_entries as u64,
                "map_flags" => def.map_flags as u64,
                "key_type" => def.btf_key_type_id.unwrap_or(0) as u64,
                "value_type" => def.btf_value_type_id.unwrap_or(0) as u64,
                "inner map definition." => continue,
                other => panic!("{name}: libbpf reported unknown field {other} of {map_name}"),
            };
            assert_eq!(ours, v, "{name}: {map_name}.{field}");
        }
    }
    for (map_name, flags) in &log.data_flags {
        let def = obj
            .maps
            .iter()
            .find(|m| m.is_global_data() && same_map_name(map_name, m))
            .unwrap();
        assert_eq!(def.map_flags as u64, *flags, "{name}: flags of {map_name}");
    }
    let mut slots: Vec<_> = obj
        .maps
        .iter()
        .flat_map(|m| {
            m.initial_slots.iter().map(move |(i, init)| {
                let target = match init {
                    MapInit::Map(t) => obj.maps[*t].name.clone(),
                    MapInit::Program(p) => p.clone(),
                };
                (m.name.clone(), *i, target)
            })
        })
        .collect();
    slots.sort();
    let mut expected = log.slots.clone();
    expected.sort();
    assert_eq!(slots, expected, "{name}: .values initializers");
}

fn check_kernel(name: &str, obj: &Object, dir: &Path) {
    for p in &obj.programs {
        let info = bpftool_json(&[
            "prog",
            "show",
            "pinned",
            dir.join("p").join(&p.name).to_str().unwrap(),
        ]);
        assert_eq!(
            info["type"],
            p.prog_type().name(),
            "{name}/{}: program type",
            p.name
        );
        let kname: String = p.name.chars().take(15).collect();
        assert_eq!(info["name"], kname.as_str(), "{name}/{}", p.name);
        let mut kernel_maps = BTreeSet::new();
        for id in info["map_ids"].as_array().into_iter().flatten() {
            let m = bpftool_json(&["map", "show", "id", &id.to_string()]);
            let kname = m["name"].as_str().unwrap().to_string();
            let def = obj
                .maps
                .iter()
                .find(|d| {
                    same_map_name(&kname, d) || kname == d.name.chars().take(15).collect::<String>()
                })
                .unwrap_or_else(|| panic!("{name}/{}: kernel map {kname} unknown", p.name));
            let ctx = format!("{name}/{}: map {}", p.name, def.name);
            assert_eq!(m["type"], def.kind().unwrap().name(), "{ctx}");
            assert_eq!(m["bytes_key"], def.key_size, "{ctx}");
            assert_eq!(m["bytes_value"], def.value_size, "{ctx}");
            assert_eq!(m["flags"], def.map_flags, "{ctx}");
            if def.kind() != Some(MapType::PerfEventArray) {
                // libbpf sizes a perf event array with max_entries 0 to the number of CPUs.
                assert_eq!(m["max_entries"], def.max_entries, "{ctx}");
            }
            if def.frozen {
                assert_eq!(m["frozen"], 1, "{ctx}");
            }
            kernel_maps.insert(def.name.clone());
        }
        let ours: BTreeSet<String> = p
            .map_refs()
            .iter()
            .map(|r| obj.maps[r.map].name.clone())
            .collect();
        assert_eq!(ours, kernel_maps, "{name}/{}: maps used", p.name);
    }
    // Statically initialized slots really are filled in the kernel's map.
    for m in obj.maps.iter().filter(|m| !m.initial_slots.is_empty()) {
        let dump = bpftool_json(&[
            "map",
            "dump",
            "pinned",
            dir.join("m").join(&m.name).to_str().unwrap(),
        ]);
        let mut keys: Vec<u32> = dump
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let k: Vec<u8> = e["key"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| parse_int(b.as_str().unwrap()) as u8)
                    .collect();
                u32::from_le_bytes(k[..4].try_into().unwrap())
            })
            .collect();
        keys.sort();
        let mut ours: Vec<u32> = m.initial_slots.iter().map(|s| s.0).collect();
        ours.sort();
        assert_eq!(keys, ours, "{name}: filled slots of {}", m.name);
    }
}

#[test]
fn objects_agree_with_libbpf_and_the_kernel() {
    for name in LOADABLE {
        let obj = load(name);
        let Some(pinned) = load_into_kernel(name) else {
            return;
        };
        let log = parse_log(&pinned.log);
        assert!(
            !log.programs.is_empty(),
            "{name}: no libbpf debug log:\n{}",
            pinned.log
        );
        check_linking(name, &obj, &log);
        check_map_refs(name, &obj, &log);
        check_map_defs(name, &obj, &log);
        check_kernel(name, &obj, &pinned.dir);
    }
}
