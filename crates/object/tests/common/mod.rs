//! Shared helpers for the oracle tests: test objects, external tools, skipping.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use bpfkit_object::Object;

/// Every test object (base names of `tests/data/*.o`).
pub const OBJECTS: &[&str] = &[
    "bpf2bpf",
    "cgroup_skb",
    "global_data",
    "kprobe",
    "legacy_maps",
    "loop",
    "map_in_map",
    "prog_array",
    "sections",
    "socket_filter",
    "tc_prog",
    "tracepoint",
    "xdp_count",
];

pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.o"))
}

pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(data_path(name)).unwrap_or_else(|e| panic!("reading {name}.o: {e}"))
}

pub fn load(name: &str) -> Object {
    Object::parse(&bytes(name)).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// Runs a tool; `None` (after printing why) if it is missing or fails.
pub fn run(tool: &str, args: &[&str]) -> Option<String> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => {
            eprintln!(
                "skipping: `{tool} {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("skipping: {tool} not available: {e}");
            None
        }
    }
}

/// Whether we are root (bpf(2) and bpffs need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Parses a `0x`-prefixed or decimal integer.
pub fn parse_int(s: &str) -> u64 {
    let s = s.trim().trim_end_matches(['.', ',', ')']);
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("bad hex {s}")),
        None => s.parse().unwrap_or_else(|_| panic!("bad int {s}")),
    }
}

/// One symbol from `llvm-readelf -s`.
#[derive(Debug, Clone)]
pub struct ElfSym {
    pub value: u64,
    pub size: u64,
    pub kind: String,
    /// Section index (`None` for UND/ABS).
    pub ndx: Option<usize>,
    pub name: String,
}

/// Sections (index → name, flags) and symbols from `llvm-readelf -S -s`.
pub struct ReadElf {
    pub sections: Vec<(usize, String, String)>,
    pub symbols: Vec<ElfSym>,
}

pub fn readelf(name: &str) -> Option<ReadElf> {
    let path = data_path(name);
    let out = run("llvm-readelf", &["-S", "-s", "--wide", path.to_str()?])?;
    let mut sections = Vec::new();
    let mut symbols = Vec::new();
    for line in out.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('[') {
            // "[ 3] xdp  PROGBITS  addr off size es flg lk inf al"
            let (idx, rest) = rest.split_once(']')?;
            let Ok(idx) = idx.trim().parse::<usize>() else {
                continue;
            };
            let cols: Vec<&str> = rest.split_whitespace().collect();
            if idx == 0 {
                sections.push((0, String::new(), String::new()));
            } else if cols.len() == 10 {
                sections.push((idx, cols[0].to_string(), cols[6].to_string()));
            } else if cols.len() == 9 {
                sections.push((idx, cols[0].to_string(), String::new()));
            }
        } else {
            // "   Num:    Value          Size Type    Bind   Vis       Ndx Name"
            let cols: Vec<&str> = t.split_whitespace().collect();
            if cols.len() == 8 && cols[0].ends_with(':') && cols[0] != "Num:" {
                symbols.push(ElfSym {
                    value: u64::from_str_radix(cols[1], 16).ok()?,
                    size: cols[2].parse().ok()?,
                    kind: cols[3].to_string(),
                    ndx: cols[6].parse().ok(),
                    name: cols[7].to_string(),
                });
            }
        }
    }
    Some(ReadElf { sections, symbols })
}

impl ReadElf {
    pub fn section_name(&self, idx: usize) -> &str {
        self.sections
            .iter()
            .find(|s| s.0 == idx)
            .map_or("", |s| s.1.as_str())
    }
    pub fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().find(|s| s.1 == name).map(|s| s.0)
    }
}
