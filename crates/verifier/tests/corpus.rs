//! The verifier corpus: programs labelled safe or unsafe by construction
//! (`tests/corpus/*.s`), checked against bpfkit and against the kernel's recorded decision.
//!
//! Header lines: `# type: xdp|tc|socket_filter|raw:N`, `# map: hash key=4 value=8 entries=16`
//! (maps by index for `lddw rX, map_idx, N`), `# expect: accept | reject "phrase"`,
//! `# kernel: accept | reject "kernel's message"` (recorded from Linux 6.18), and
//! `# differs: why` when bpfkit and the kernel disagree.

mod support;

use bpfkit_verifier::verify_with;
use support::{corpus, kernel, Expect};

#[test]
fn corpus_decisions_and_messages() {
    let cases = corpus();
    assert!(cases.len() >= 80, "corpus has {} programs", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let env = case.env();
        let v = verify_with(&case.insns, env.as_ref(), &case.options());
        match (&case.expect, &v.result) {
            (Expect::Accept, Ok(_)) => {}
            (Expect::Reject(phrase), Err(e)) if e.message.contains(phrase.as_str()) => {}
            (want, got) => failures.push(format!(
                "{}: expected {:?}, got {:?}\n{}",
                case.name(),
                want,
                got.as_ref().map(|_| "accept").map_err(|e| e.to_string()),
                v.log
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_covers_both_outcomes_and_all_types() {
    let cases = corpus();
    let rejects = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Reject(_)))
        .count();
    assert!(
        rejects >= 30 && cases.len() - rejects >= 30,
        "{rejects} rejects of {}",
        cases.len()
    );
    for t in ["xdp", "tc", "socket_filter"] {
        assert!(cases.iter().any(|c| c.prog_type == t), "no {t} program");
    }
    assert!(cases.iter().any(|c| c.prog_type.starts_with("raw:")));
}

/// Every disagreement with the kernel must be bpfkit accepting a safe program the kernel
/// rejects, with an explanation in the file.
#[test]
fn differences_from_kernel_are_explained() {
    let mut bad = Vec::new();
    for case in corpus() {
        // The strict-stack policy is the unprivileged kernel's; the recorded kernel ran as root.
        let Some(k) = case.kernel.as_ref().filter(|_| !case.strict_stack) else {
            continue;
        };
        let same = matches!(
            (&case.expect, k),
            (Expect::Accept, Expect::Accept) | (Expect::Reject(_), Expect::Reject(_))
        );
        if same {
            continue;
        }
        if !(case.expect == Expect::Accept && case.differs.is_some()) {
            bad.push(format!(
                "{}: bpfkit {:?}, kernel {:?}",
                case.name(),
                case.expect,
                k
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "unexplained differences:\n{}",
        bad.join("\n")
    );
}

/// Re-checks the recorded kernel decisions against the running kernel (root only).
/// `BPFKIT_PRINT_KERNEL=1` prints each program's kernel line for recording.
#[test]
fn recorded_kernel_decisions_match_running_kernel() {
    if !kernel::available() {
        eprintln!("skipping: loading programs into the kernel needs root");
        return;
    }
    let print = std::env::var_os("BPFKIT_PRINT_KERNEL").is_some();
    let mut mismatches = Vec::new();
    for case in corpus() {
        let Some(ty) = case.kernel_prog_type() else {
            continue;
        };
        if case.maps.iter().any(|m| m.spin_lock_off.is_some()) {
            continue; // spin-lock maps need BTF
        }
        let callback = case.insns.iter().any(|i| {
            matches!(
                i,
                bpfkit_isa::Insn::LdImm64 {
                    kind: bpfkit_isa::LdImm64Kind::Func,
                    ..
                }
            )
        });
        if callback {
            continue; // callbacks need BTF func_info
        }
        let (ok, log) = match kernel::load(ty, &case.insns, &case.maps) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipping {}: {e}", case.name());
                continue;
            }
        };
        let got = if ok {
            Expect::Accept
        } else {
            Expect::Reject(kernel::reason(&log))
        };
        if std::env::var("BPFKIT_KERNEL_LOG").is_ok_and(|n| case.name().contains(&n)) {
            println!("=== {}\n{log}", case.name());
        }
        if print {
            match &got {
                Expect::Accept => println!("{}\t# kernel: accept", case.name()),
                Expect::Reject(r) => println!("{}\t# kernel: reject \"{r}\"", case.name()),
            }
        }
        let matches = match (&case.kernel, &got) {
            (Some(Expect::Accept), Expect::Accept) => true,
            (Some(Expect::Reject(want)), Expect::Reject(r)) => r.contains(want.as_str()),
            _ => false,
        };
        if !matches {
            mismatches.push(format!(
                "{}: recorded {:?}, kernel now {:?}",
                case.name(),
                case.kernel,
                got
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Pruning changes no decision: with every path explored separately, the corpus programs
/// get the same verdicts.
#[test]
fn pruning_changes_no_decision() {
    for case in corpus() {
        // Too large without pruning (a million instructions, or 2^24 paths), by design.
        if case.name() == "loop_too_complex.s" || case.name().starts_with("prune_") {
            continue;
        }
        let env = case.env();
        let with = verify_with(&case.insns, env.as_ref(), &case.options())
            .result
            .is_ok();
        let opts = bpfkit_verifier::Options {
            prune: false,
            ..case.options()
        };
        let without = verify_with(&case.insns, env.as_ref(), &opts).result.is_ok();
        assert_eq!(with, without, "{}", case.name());
    }
}
