//! Shared test support: the corpus file format and a kernel loader (bpf(2)).
#![allow(dead_code)]

pub mod kernel;

use bpfkit_isa::Insn;
use bpfkit_verifier::envs::{MapTable, RawMemoryEnv, SocketFilterEnv, TcEnv, XdpEnv};
use bpfkit_verifier::{MapInfo, MapType, ProgramEnv};
use std::path::{Path, PathBuf};

/// What a corpus file expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Reject(String),
}

/// One corpus program with its header.
#[derive(Clone, Debug)]
pub struct Case {
    pub path: PathBuf,
    pub prog_type: String,
    pub maps: Vec<MapInfo>,
    pub expect: Expect,
    /// The kernel's recorded decision: `None` when it cannot load this kind of program.
    pub kernel: Option<Expect>,
    /// Why bpfkit and the kernel disagree, when they do.
    pub differs: Option<String>,
    /// `# option: strict-stack`: reject reads of never-written stack (the unprivileged rule).
    pub strict_stack: bool,
    pub insns: Vec<Insn>,
}

fn quoted(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

fn parse_expect(v: &str) -> Option<Expect> {
    let v = v.trim();
    if v == "accept" {
        Some(Expect::Accept)
    } else {
        v.strip_prefix("reject")
            .map(|rest| Expect::Reject(quoted(rest)))
    }
}

fn parse_map(v: &str) -> MapInfo {
    let mut it = v.split_whitespace();
    let map_type = match it.next().expect("map type") {
        "hash" => MapType::Hash,
        "array" => MapType::Array,
        "prog_array" => MapType::ProgArray,
        "percpu_array" => MapType::PercpuArray,
        "queue" => MapType::Queue,
        "stack" => MapType::Stack,
        "ringbuf" => MapType::Ringbuf,
        other => panic!("unknown map type {other}"),
    };
    let mut info = MapInfo::new(map_type, 0, 0, 1);
    for kv in it {
        if kv == "ro" {
            info.read_only = true;
            continue;
        }
        let (k, v) = kv.split_once('=').expect("key=value");
        let v: u32 = v.parse().expect("number");
        match k {
            "key" => info.key_size = v,
            "value" => info.value_size = v,
            "entries" => info.max_entries = v,
            "lock" => info.spin_lock_off = Some(v),
            other => panic!("unknown map field {other}"),
        }
    }
    info
}

impl Case {
    pub fn load(path: &Path) -> Case {
        let text = std::fs::read_to_string(path).expect("readable corpus file");
        let mut case = Case {
            path: path.to_path_buf(),
            prog_type: "socket_filter".into(),
            maps: Vec::new(),
            expect: Expect::Accept,
            kernel: None,
            differs: None,
            strict_stack: false,
            insns: Vec::new(),
        };
        let mut have_expect = false;
        for line in text.lines() {
            let Some(h) = line.trim().strip_prefix('#') else {
                continue;
            };
            let Some((key, value)) = h.split_once(':') else {
                continue;
            };
            match key.trim() {
                "type" => case.prog_type = value.trim().to_string(),
                "map" => case.maps.push(parse_map(value)),
                "expect" => {
                    case.expect = parse_expect(value).expect("expect: accept | reject \"phrase\"");
                    have_expect = true;
                }
                "kernel" => case.kernel = parse_expect(value),
                "differs" => case.differs = Some(value.trim().to_string()),
                "option" => match value.trim() {
                    "strict-stack" => case.strict_stack = true,
                    o => panic!("{}: unknown option {o}", path.display()),
                },
                _ => {}
            }
        }
        assert!(have_expect, "{}: no `# expect:` line", path.display());
        case.insns =
            bpfkit_asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        case
    }

    pub fn options(&self) -> bpfkit_verifier::Options {
        bpfkit_verifier::Options {
            log_level: 1,
            allow_uninit_stack: !self.strict_stack,
            ..Default::default()
        }
    }

    pub fn env(&self) -> Box<dyn ProgramEnv> {
        let maps = MapTable {
            by_idx: self.maps.clone(),
            by_fd: Vec::new(),
        };
        match self.prog_type.as_str() {
            "socket_filter" => Box::new(SocketFilterEnv { maps }),
            "xdp" => Box::new(XdpEnv { maps }),
            "tc" => Box::new(TcEnv { maps }),
            t => {
                let size = t
                    .strip_prefix("raw:")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("unknown type {t}"));
                Box::new(RawMemoryEnv { size })
            }
        }
    }

    /// The kernel's `BPF_PROG_TYPE_*`, if the kernel has an equivalent.
    pub fn kernel_prog_type(&self) -> Option<u32> {
        match self.prog_type.as_str() {
            "socket_filter" => Some(1),
            "tc" => Some(3),
            "xdp" => Some(6),
            _ => None,
        }
    }

    pub fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

pub fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    files.iter().map(|p| Case::load(p)).collect()
}
