//! The differential corpus: every program under `tests/corpus/` runs over every packet of
//! `tests/corpus/packets.pcap`, in order and against the same maps, in bpfkit and in the
//! Linux kernel (`BPF_PROG_TEST_RUN`). Return values, output packets and the final contents
//! of every map must be identical.
//!
//! The kernel's results are checked in (`tests/corpus/expected/*.json`) so the comparison
//! runs anywhere; `BPFKIT_BLESS=1` regenerates them from the kernel (never from bpfkit).
//! When the kernel is usable (root, bpftool, bpffs), each test also compares live.
//!
//! Every program runs on each engine bpfkit has (see [`ENGINES`]): the interpreter, the
//! unchecked JIT code of a verified program and the checked JIT code of an unverified one;
//! all must give the kernel's results.

mod common;

use std::path::Path;

use bpfkit_runtime::{Engine, Runtime, RuntimeError, TestRun, Verification};
use common::kernel::{self, KernelObject};
use serde_json::{json, Value};

fn packets() -> Vec<Vec<u8>> {
    common::read_pcap(&common::corpus_dir().join("packets.pcap"))
}

fn map_names(object: &Path) -> Vec<String> {
    let obj = bpfkit_object::Object::parse(&std::fs::read(object).unwrap()).unwrap();
    obj.maps.iter().map(|m| m.name.clone()).collect()
}

fn errno_name(e: i32) -> String {
    match e {
        22 => "EINVAL".into(),
        7 => "E2BIG".into(),
        12 => "ENOMEM".into(),
        n => format!("errno {n}"),
    }
}

/// The ways bpfkit runs a program: `(what, engine, verification, checked code expected)`.
const ENGINES: &[(&str, Engine, Verification, bool)] = &[
    (
        "interpreter",
        Engine::Interpreter,
        Verification::Unverified,
        true,
    ),
    ("unchecked JIT", Engine::Jit, Verification::Verify, false),
    ("checked JIT", Engine::Jit, Verification::Unverified, true),
];

/// bpfkit's results for `program` of `object` over `packets` with `ncpus` runtime CPUs.
fn run_bpfkit(
    object: &Path,
    program: &str,
    packets: &[Vec<u8>],
    ncpus: usize,
    (what, engine, verification, checked): (&str, Engine, Verification, bool),
) -> Value {
    let rt = Runtime::new()
        .ncpus(ncpus)
        .engine(engine)
        .verification(verification);
    let loaded = rt
        .load_file(object)
        .unwrap_or_else(|e| panic!("{}: {what}: {e}", object.display()));
    loaded.set_trace_sink(|_| {});
    let prog = loaded.program(Some(program)).unwrap();
    assert_eq!(prog.engine(), engine);
    assert_eq!(prog.checked(), checked, "{what}");
    let runs: Vec<Value> = packets
        .iter()
        .map(|p| match prog.test_run(&TestRun::new(p)) {
            Ok(out) => json!({ "retval": out.retval, "data_out": bpfkit_runtime::dump::hex(&out.data_out) }),
            Err(RuntimeError::InvalidInput(_)) => json!({ "error": "EINVAL" }),
            Err(e) => json!({ "error": format!("bpfkit: {e}") }),
        })
        .collect();
    json!({ "runs": runs, "maps": loaded.dump_maps() })
}

/// The kernel's results, or why they cannot be had.
fn run_kernel(object: &Path, program: &str, packets: &[Vec<u8>]) -> Result<Value, String> {
    if let Some(why) = kernel::unavailable() {
        return Err(why);
    }
    kernel::pin_to_cpu0();
    let tag = format!(
        "{}-{program}",
        object.file_stem().unwrap().to_string_lossy()
    );
    let k = KernelObject::load(object, &tag)?;
    let runs: Vec<Value> = packets
        .iter()
        .map(|p| match k.test_run(program, p, None, 0, 1) {
            Ok(out) => json!({ "retval": out.retval, "data_out": bpfkit_runtime::dump::hex(&out.data_out) }),
            Err(e) => json!({ "error": errno_name(e) }),
        })
        .collect();
    Ok(json!({ "runs": runs, "maps": k.dump_maps(&map_names(object)) }))
}

/// A run, with long output packets cut to the region around their first difference.
fn brief(run: &Value, other: &Value) -> String {
    let (Some(a), Some(b)) = (run["data_out"].as_str(), other["data_out"].as_str()) else {
        return run.to_string();
    };
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(16) & !1;
    let cut = &a[from..(at + 48).min(a.len())];
    format!(
        "retval {} data_out ({} bytes) from byte {}: {cut}",
        run["retval"],
        a.len() / 2,
        from / 2
    )
}

/// Describes the first difference between two result sets.
fn first_difference(what: &str, a: &Value, b: &Value) -> Option<String> {
    for (i, (x, y)) in a["runs"]
        .as_array()?
        .iter()
        .zip(b["runs"].as_array()?)
        .enumerate()
    {
        if x != y {
            return Some(format!(
                "{what}: packet {i}:\n  bpfkit {}\n  kernel {}",
                brief(x, y),
                brief(y, x)
            ));
        }
    }
    if a["runs"] != b["runs"] {
        return Some(format!("{what}: different numbers of runs"));
    }
    for (x, y) in a["maps"].as_array()?.iter().zip(b["maps"].as_array()?) {
        if x != y {
            return Some(format!(
                "{what}: map {}:\n  bpfkit {x}\n  kernel {y}",
                x["name"]
            ));
        }
    }
    (a["maps"] != b["maps"]).then(|| format!("{what}: different map lists"))
}

fn check(object: &str, program: &str) {
    let dir = common::corpus_dir();
    let path = dir.join(object);
    let expected_path = dir
        .join("expected")
        .join(format!("{}__{program}.json", object.trim_end_matches(".o")));
    let packets = packets();
    let bless = std::env::var_os("BPFKIT_BLESS").is_some();
    let live = run_kernel(&path, program, &packets);
    if bless {
        let mut k = live
            .clone()
            .unwrap_or_else(|why| panic!("BPFKIT_BLESS needs the kernel: {why}"));
        k["ncpus"] = json!(kernel::possible_cpus());
        std::fs::write(
            &expected_path,
            serde_json::to_string_pretty(&k).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (bless with BPFKIT_BLESS=1)",
                expected_path.display()
            )
        }),
    )
    .unwrap();
    let ncpus = expected["ncpus"].as_u64().unwrap() as usize;
    let mut problems = Vec::new();
    for &engine in ENGINES {
        let what = engine.0;
        let ours = run_bpfkit(&path, program, &packets, ncpus, engine);
        problems.extend(first_difference(
            &format!("{what} vs recorded kernel results"),
            &ours,
            &expected,
        ));
        match &live {
            Ok(k) if ncpus == kernel::possible_cpus() => problems.extend(first_difference(
                &format!("{what} vs live kernel"),
                &ours,
                k,
            )),
            Ok(_) => eprintln!(
                "live kernel has another CPU count; compared with the recorded results only"
            ),
            Err(why) => eprintln!("skipping the live kernel comparison: {why}"),
        }
    }
    assert!(
        problems.is_empty(),
        "{object} {program}:\n{}",
        problems.join("\n")
    );
    let runs = expected["runs"].as_array().unwrap().len();
    eprintln!(
        "{object} {program}: {runs} packets and {} maps identical on every engine",
        expected["maps"].as_array().unwrap().len()
    );
}

macro_rules! corpus {
    ($($test:ident: $object:literal $program:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check($object, $program);
            }
        )*
    };
}

corpus! {
    xdp_parse: "xdp_parse.o" "xdp_parse";
    xdp_pop_vlan: "xdp_adjust.o" "xdp_pop_vlan";
    xdp_push: "xdp_adjust.o" "xdp_push";
    xdp_trim: "xdp_adjust.o" "xdp_trim";
    xdp_grow: "xdp_adjust.o" "xdp_grow";
    xdp_meta: "xdp_adjust.o" "xdp_meta";
    xdp_head_meta: "xdp_adjust.o" "xdp_head_meta";
    xdp_maps: "xdp_maps.o" "xdp_maps";
    xdp_hashptr: "xdp_hashptr.o" "xdp_hashptr";
    xdp_queue: "xdp_queue.o" "xdp_queue";
    xdp_ringbuf: "xdp_ringbuf.o" "xdp_ringbuf";
    xdp_tail: "xdp_tail.o" "xdp_dispatch";
    xdp_tail_loop: "xdp_tail.o" "xdp_to_looped";
    xdp_globals: "xdp_globals.o" "xdp_globals";
    xdp_loops: "xdp_loops.o" "xdp_loops";
    xdp_atomics: "xdp_atomics.o" "xdp_atomics";
    xdp_v4: "v4_alu.o" "xdp_v4";
    xdp_csum: "xdp_csum.o" "xdp_csum";
    xdp_mapinmap: "xdp_mapinmap.o" "xdp_mapinmap";
    xdp_misc: "xdp_misc.o" "xdp_misc";
    tc_fields: "tc_fields.o" "tc_fields";
    tc_nat: "tc_nat.o" "tc_nat";
    tc_parse: "tc_parse.o" "tc_parse";
    sock_fields: "sock_fields.o" "sock_fields";
    sock_count: "sock_count.o" "sock_count";
    xdp_ipv6: "xdp_ipv6.o" "xdp_ipv6";
    tc_vlan: "tc_vlan.o" "tc_vlan";
    xdp_inline: "xdp_inline.o" "xdp_inline";
}
