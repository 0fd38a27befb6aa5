//! Test-runs with an input context (`ctx_in`) and an output context (`ctx_out`), in bpfkit
//! and in the kernel: `struct __sk_buff` fields a caller may set (mark, priority, cb,
//! timestamps, GSO sizes), `struct xdp_md` metadata areas, the contexts the kernel returns,
//! and the inputs it refuses. The kernel's results are checked in
//! (`tests/corpus/expected/ctx__*.json`, `BPFKIT_BLESS=1` regenerates them from the kernel)
//! and compared live when the kernel is usable.

mod common;

use bpfkit_runtime::dump::hex;
use bpfkit_runtime::{Engine, Runtime, RuntimeError, TestRun, Verification};
use common::kernel::{self, KernelObject};
use serde_json::{json, Value};

/// A `struct __sk_buff` input with every settable field non-zero.
fn skb_ctx() -> Vec<u8> {
    let mut c = vec![0u8; 192];
    let mut put = |off: usize, v: &[u8]| c[off..off + v.len()].copy_from_slice(v);
    put(8, &0x11u32.to_ne_bytes()); // mark
    put(32, &0x22u32.to_ne_bytes()); // priority
    put(36, &1u32.to_ne_bytes()); // ingress_ifindex
    put(40, &1u32.to_ne_bytes()); // ifindex
    for i in 0..5u32 {
        put(48 + 4 * i as usize, &(0x100 + i).to_ne_bytes()); // cb
    }
    put(152, &123_456u64.to_ne_bytes()); // tstamp
    put(164, &2u32.to_ne_bytes()); // gso_segs
    put(176, &1400u32.to_ne_bytes()); // gso_size
    put(184, &999u64.to_ne_bytes()); // hwtstamp
    c
}

/// A `struct xdp_md` input: `meta` bytes of metadata before a `len`-byte packet.
fn xdp_ctx(meta: u32, len: u32) -> Vec<u8> {
    let mut c = vec![0u8; 24];
    c[0..4].copy_from_slice(&meta.to_ne_bytes());
    c[4..8].copy_from_slice(&(meta + len).to_ne_bytes());
    c[12..16].copy_from_slice(&1u32.to_ne_bytes());
    c
}

struct Case {
    object: &'static str,
    program: &'static str,
    /// `(packet, ctx_in, ctx_out size)` for each run.
    runs: Vec<(Vec<u8>, Option<Vec<u8>>, usize)>,
}

fn cases() -> Vec<(&'static str, Case)> {
    let packets = common::read_pcap(&common::corpus_dir().join("packets.pcap"));
    let some: Vec<Vec<u8>> = [0, 2, 4, 6, 9, 11, 19, 25]
        .iter()
        .map(|&i| packets[i].clone())
        .collect();
    let with_meta = |meta: u32| -> Vec<(Vec<u8>, Option<Vec<u8>>, usize)> {
        some.iter()
            .map(|p| {
                let mut data: Vec<u8> = (0..meta as u8).map(|b| 0xa0 + b).collect();
                data.extend_from_slice(p);
                let ctx = xdp_ctx(meta, p.len() as u32);
                (data, Some(ctx), 24)
            })
            .collect()
    };
    let mut bad_skb = skb_ctx();
    bad_skb[0] = 1; // len may not be set
    let mut bad_wire = skb_ctx();
    bad_wire[160] = 1; // wire_len below the packet length
    let mut bad_xdp = xdp_ctx(0, some[0].len() as u32);
    bad_xdp[20] = 1; // egress_ifindex
    vec![
        (
            "tc_fields",
            Case {
                object: "tc_fields.o",
                program: "tc_fields",
                runs: some
                    .iter()
                    .map(|p| (p.clone(), Some(skb_ctx()), 192))
                    .chain([(some[0].clone(), None, 192)])
                    .collect(),
            },
        ),
        (
            "sock_fields",
            Case {
                object: "sock_fields.o",
                program: "sock_fields",
                runs: some
                    .iter()
                    .map(|p| (p.clone(), Some(skb_ctx()), 192))
                    .collect(),
            },
        ),
        (
            "skb_refused",
            Case {
                object: "tc_fields.o",
                program: "tc_fields",
                runs: vec![
                    (some[0].clone(), Some(bad_skb), 192),
                    (some[0].clone(), Some(bad_wire), 192),
                ],
            },
        ),
        (
            "xdp_meta_in",
            Case {
                object: "xdp_adjust.o",
                program: "xdp_head_meta",
                runs: with_meta(8),
            },
        ),
        (
            "xdp_meta_grow",
            Case {
                object: "xdp_adjust.o",
                program: "xdp_meta",
                runs: with_meta(4),
            },
        ),
        (
            "xdp_parse_ctx",
            Case {
                object: "xdp_parse.o",
                program: "xdp_parse",
                runs: with_meta(0),
            },
        ),
        (
            "xdp_refused",
            Case {
                object: "xdp_parse.o",
                program: "xdp_parse",
                runs: vec![
                    (some[0].clone(), Some(bad_xdp), 24),
                    (
                        some[0].clone(),
                        Some(xdp_ctx(6, some[0].len() as u32 - 6)),
                        24,
                    ),
                ],
            },
        ),
    ]
}

/// Every way bpfkit runs a program: the interpreter, unchecked JIT code (verified) and
/// checked JIT code (unverified).
const ENGINES: [(Engine, Verification); 3] = [
    (Engine::Interpreter, Verification::Unverified),
    (Engine::Jit, Verification::Verify),
    (Engine::Jit, Verification::Unverified),
];

fn run_bpfkit(case: &Case, ncpus: usize, (engine, verification): (Engine, Verification)) -> Value {
    let dir = common::corpus_dir();
    let loaded = Runtime::new()
        .ncpus(ncpus)
        .engine(engine)
        .verification(verification)
        .load_file(dir.join(case.object))
        .unwrap();
    let prog = loaded.program(Some(case.program)).unwrap();
    let runs: Vec<Value> = case
        .runs
        .iter()
        .map(|(data, ctx, _)| {
            let mut run = TestRun::new(data).ctx_out();
            if let Some(c) = ctx {
                run = run.ctx_in(c);
            }
            match prog.test_run(&run) {
                Ok(o) => json!({ "retval": o.retval, "data_out": hex(&o.data_out), "ctx_out": hex(&o.ctx_out.unwrap_or_default()) }),
                Err(RuntimeError::InvalidInput(_)) => json!({ "error": "EINVAL" }),
                Err(e) => json!({ "error": format!("bpfkit: {e}") }),
            }
        })
        .collect();
    json!({ "runs": runs, "maps": loaded.dump_maps() })
}

fn run_kernel(case: &Case, tag: &str) -> Result<Value, String> {
    if let Some(why) = kernel::unavailable() {
        return Err(why);
    }
    kernel::pin_to_cpu0();
    let path = common::corpus_dir().join(case.object);
    let k = KernelObject::load(&path, &format!("ctx-{tag}"))?;
    let runs: Vec<Value> = case
        .runs
        .iter()
        .map(|(data, ctx, out_len)| match k.test_run(case.program, data, ctx.as_deref(), *out_len, 1) {
            Ok(o) => json!({ "retval": o.retval, "data_out": hex(&o.data_out), "ctx_out": hex(&o.ctx_out.unwrap_or_default()) }),
            Err(22) => json!({ "error": "EINVAL" }),
            Err(e) => json!({ "error": format!("errno {e}") }),
        })
        .collect();
    let obj = bpfkit_object::Object::parse(&std::fs::read(&path).unwrap()).unwrap();
    let names: Vec<String> = obj.maps.iter().map(|m| m.name.clone()).collect();
    Ok(json!({ "runs": runs, "maps": k.dump_maps(&names) }))
}

#[test]
fn contexts_in_and_out_match_the_kernel() {
    let bless = std::env::var_os("BPFKIT_BLESS").is_some();
    let mut problems = Vec::new();
    let mut compared = 0;
    for (tag, case) in cases() {
        let path = common::corpus_dir()
            .join("expected")
            .join(format!("ctx__{tag}.json"));
        let live = run_kernel(&case, tag);
        if bless {
            let mut k = live
                .clone()
                .unwrap_or_else(|why| panic!("BPFKIT_BLESS needs the kernel: {why}"));
            k["ncpus"] = json!(kernel::possible_cpus());
            std::fs::write(&path, serde_json::to_string_pretty(&k).unwrap() + "\n").unwrap();
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ncpus = expected["ncpus"].as_u64().unwrap() as usize;
        let mut against = vec![("recorded", expected)];
        match live {
            Ok(k) if ncpus == kernel::possible_cpus() => against.push(("live", k)),
            Ok(_) => eprintln!("{tag}: live kernel has another CPU count; recorded results only"),
            Err(why) => eprintln!("{tag}: skipping the live kernel comparison: {why}"),
        }
        for engine in ENGINES {
            let ours = run_bpfkit(&case, ncpus, engine);
            for (what, theirs) in &against {
                for (i, (a, b)) in ours["runs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(theirs["runs"].as_array().unwrap())
                    .enumerate()
                {
                    if a != b {
                        problems.push(format!(
                            "{tag} ({engine:?}) vs {what} kernel, run {i}:\n  bpfkit {a}\n  kernel {b}"
                        ));
                    }
                }
                if ours["maps"] != theirs["maps"] {
                    problems.push(format!(
                        "{tag} ({engine:?}) vs {what} kernel: maps differ:\n  bpfkit {}\n  kernel {}",
                        ours["maps"], theirs["maps"]
                    ));
                }
            }
        }
        compared += case.runs.len();
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{compared} context runs identical to the kernel's");
}
