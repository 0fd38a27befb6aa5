//! Shared helpers of the tcpdump oracle tests: the expression table,
//! running tcpdump, and program fingerprints.
#![allow(dead_code)]

pub mod packets;
pub mod pcapfile;
pub mod random;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bpfkit_cbpf::Insn;
use bpfkit_pcapfilter::{LinkType, StaticResolver};

/// One line of `tests/exprs.txt`.
#[derive(Clone, Debug)]
pub struct Case {
    /// tcpdump `-y` name.
    pub linktype: String,
    /// The filter expression.
    pub expr: String,
    /// Line number in the file.
    pub line: usize,
}

impl Case {
    pub fn dlt(&self) -> LinkType {
        LinkType::from_name(&self.linktype)
            .unwrap_or_else(|| panic!("unknown link type {}", self.linktype))
    }
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cases of `tests/exprs.txt`, in file order.
pub fn cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/exprs.txt")).expect("tests/exprs.txt");
    let mut linktype = "EN10MB".to_string();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(lt) = line.strip_prefix('@') {
            linktype = lt.trim().to_string();
            continue;
        }
        out.push(Case {
            linktype: linktype.clone(),
            expr: line.to_string(),
            line: i + 1,
        });
    }
    out
}

/// tcpdump's version line, if tcpdump can be run.
pub fn tcpdump_version() -> Option<String> {
    let out = Command::new("tcpdump").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

/// tcpdump's program for `expr` (`-ddd`, with `-O` unless `optimize`), or
/// its error message.
pub fn tcpdump_program(linktype: &str, expr: &str, optimize: bool) -> Result<Vec<Insn>, String> {
    let mut cmd = Command::new("tcpdump");
    cmd.arg("-ddd");
    if !optimize {
        cmd.arg("-O");
    }
    let out = cmd
        .args(["-y", linktype, "--", expr])
        .output()
        .map_err(|e| format!("cannot run tcpdump: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    bpfkit_cbpf::parse_ddd(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| format!("unparsable tcpdump output: {e}"))
}

/// tcpdump's unoptimized and optimized programs for one case.
pub struct Oracle {
    pub unoptimized: Result<Vec<Insn>, String>,
    pub optimized: Result<Vec<Insn>, String>,
}

/// tcpdump's results for every case (computed once, on two threads), or
/// `None` when tcpdump is not installed.
pub fn oracle() -> Option<&'static [Oracle]> {
    static RESULTS: OnceLock<Option<Vec<Oracle>>> = OnceLock::new();
    RESULTS
        .get_or_init(|| {
            tcpdump_version()?;
            let cases = cases();
            let halves: Vec<Vec<(usize, Oracle)>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..2)
                    .map(|w| {
                        let cases = &cases;
                        scope.spawn(move || {
                            cases
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| i % 2 == w)
                                .map(|(i, c)| {
                                    let unoptimized = tcpdump_program(&c.linktype, &c.expr, false);
                                    let optimized = match &unoptimized {
                                        Ok(_) => tcpdump_program(&c.linktype, &c.expr, true),
                                        Err(e) => Err(e.clone()),
                                    };
                                    (
                                        i,
                                        Oracle {
                                            unoptimized,
                                            optimized,
                                        },
                                    )
                                })
                                .collect()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|h| h.join().expect("tcpdump worker"))
                    .collect()
            });
            let mut all: Vec<(usize, Oracle)> = halves.into_iter().flatten().collect();
            all.sort_by_key(|(i, _)| *i);
            Some(all.into_iter().map(|(_, o)| o).collect())
        })
        .as_deref()
}

/// `len:fnv1a64` of a program, or `error` (compact enough to check in).
pub fn fingerprint(prog: &Result<Vec<Insn>, impl std::fmt::Debug>) -> String {
    match prog {
        Err(_) => "error".to_string(),
        Ok(p) => {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for i in p {
                let bytes = [
                    &i.code.to_le_bytes()[..],
                    &[i.jt, i.jf],
                    &i.k.to_le_bytes()[..],
                ]
                .concat();
                for b in bytes {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            }
            format!("{}:{h:016x}", p.len())
        }
    }
}

/// A resolver that answers the names used in `exprs.txt` the way this
/// machine's `/etc` files and `/etc/hosts` did when the expected results
/// were recorded.
pub fn fixed_resolver() -> StaticResolver {
    StaticResolver::new().host("localhost", &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

/// Path of the recorded fingerprints.
pub fn expected_path() -> PathBuf {
    crate_dir().join("tests/expected/tcpdump-fingerprints.txt")
}

/// Recorded fingerprints: (link type, expression) → (unoptimized, optimized).
pub fn load_expected() -> HashMap<(String, String), (String, String)> {
    let Ok(text) = std::fs::read_to_string(expected_path()) else {
        return HashMap::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4).then(|| {
                (
                    (f[0].to_string(), f[1].to_string()),
                    (f[2].to_string(), f[3].to_string()),
                )
            })
        })
        .collect()
}

/// Packets per link type: synthetic ones plus those of the shared captures.
pub fn test_packets() -> BTreeMap<u32, Vec<(Vec<u8>, u32)>> {
    let mut by_type: BTreeMap<u32, Vec<(Vec<u8>, u32)>> = BTreeMap::new();
    for lt in LinkType::supported() {
        by_type.insert(lt.0, packets::packets(lt, 400, 0x5eed));
    }
    for (lt, data, wirelen) in packets::witnesses() {
        by_type.get_mut(&lt.0).unwrap().push((data, wirelen));
    }
    let dir = crate_dir().join("../../../shared/pcaps");
    match std::fs::read_dir(&dir) {
        Err(_) => eprintln!(
            "note: no shared captures at {} (synthetic packets only)",
            dir.display()
        ),
        Ok(entries) => {
            for entry in entries.flatten() {
                for p in pcapfile::read(&entry.path()).unwrap_or_default() {
                    let lt = LinkType::from_pcap_linktype(p.linktype);
                    if let Some(list) = by_type.get_mut(&lt.0) {
                        list.push((p.data, p.wirelen));
                    }
                }
            }
        }
    }
    by_type
}

/// `prog` with every `ret #0` turned into `ret #1`: it returns 0 exactly
/// when a run ends early (a load past the captured data, a division by
/// zero), which tells those rejections from the program's own.
pub fn with_visible_aborts(prog: &[Insn]) -> Vec<Insn> {
    prog.iter()
        .map(|i| match (i.code, i.k) {
            (0x06, 0) => Insn { k: 1, ..*i },
            _ => *i,
        })
        .collect()
}
