//! The compiler against libpcap, for every expression of `tests/exprs.txt`:
//!
//! * unoptimized programs must equal `tcpdump -d -O` instruction for
//!   instruction, and expressions tcpdump rejects must be rejected (live,
//!   when tcpdump is installed);
//! * the same, against fingerprints recorded from tcpdump (for machines
//!   without it; `BPFKIT_BLESS=1` re-records them from tcpdump);
//! * our programs and tcpdump's *optimized* programs must give the same
//!   verdict on synthetic packets and on the shared captures, run through
//!   `bpfkit_cbpf`'s interpreter (a check independent of layout).

mod common;

use std::fmt::Write as _;

use bpfkit_cbpf::Insn;
use bpfkit_pcapfilter::{compile, compile_with, CompileOptions};
use common::{cases, fingerprint, fixed_resolver, oracle, tcpdump_version, Case};

fn unoptimized() -> CompileOptions {
    CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    }
}

fn show(prog: &Result<Vec<Insn>, impl std::fmt::Display>) -> String {
    match prog {
        Ok(p) => bpfkit_cbpf::dump(p, bpfkit_cbpf::DumpFormat::Image),
        Err(e) => format!("error: {e}\n"),
    }
}

/// Compares one case; returns a description of the mismatch, if any.
fn compare(
    case: &Case,
    ours: &Result<Vec<Insn>, impl std::fmt::Display>,
    theirs: &Result<Vec<Insn>, String>,
) -> Option<String> {
    let same = match (ours, theirs) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    };
    (!same).then(|| {
        format!(
            "line {} [{}] {}\n--- tcpdump:\n{}--- ours:\n{}",
            case.line,
            case.linktype,
            case.expr,
            show(theirs),
            show(ours)
        )
    })
}

#[test]
fn unoptimized_programs_equal_tcpdump() {
    let Some(results) = oracle() else {
        eprintln!("skipping: tcpdump is not installed");
        return;
    };
    let cases = cases();
    assert!(
        cases.len() >= 300,
        "the expression table has only {} cases",
        cases.len()
    );
    let mut mismatches = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (case, oracle) in cases.iter().zip(results) {
        let ours = compile(&case.expr, case.dlt(), &unoptimized());
        match &oracle.unoptimized {
            Ok(_) => accepted += 1,
            Err(_) => rejected += 1,
        }
        if let Some(m) = compare(case, &ours, &oracle.unoptimized) {
            mismatches.push(m);
        }
    }
    eprintln!(
        "{} cases: {accepted} compiled by tcpdump, {rejected} rejected; {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn unoptimized_programs_match_recorded_tcpdump_fingerprints() {
    let cases = cases();
    if std::env::var_os("BPFKIT_BLESS").is_some() {
        let Some(results) = oracle() else {
            panic!("BPFKIT_BLESS needs tcpdump to record expected results");
        };
        let mut out = format!(
            "# Fingerprints (length:FNV-1a-64) of tcpdump's programs for tests/exprs.txt,\n\
             # recorded with BPFKIT_BLESS=1 from: {}\n\
             # link type<TAB>expression<TAB>tcpdump -d -O<TAB>tcpdump -d (optimized)\n",
            tcpdump_version().unwrap_or_default()
        );
        for (case, o) in cases.iter().zip(results) {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                case.linktype,
                case.expr,
                fingerprint(&o.unoptimized),
                fingerprint(&o.optimized)
            )
            .unwrap();
        }
        std::fs::create_dir_all(common::expected_path().parent().unwrap()).unwrap();
        std::fs::write(common::expected_path(), out).unwrap();
    }
    let expected = common::load_expected();
    let resolver = fixed_resolver();
    let mut problems = Vec::new();
    for case in &cases {
        let Some((want, _)) = expected.get(&(case.linktype.clone(), case.expr.clone())) else {
            problems.push(format!(
                "line {}: no recorded result for [{}] {} (run with BPFKIT_BLESS=1)",
                case.line, case.linktype, case.expr
            ));
            continue;
        };
        let ours = compile_with(&case.expr, case.dlt(), &unoptimized(), &resolver);
        let got = fingerprint(&ours);
        if &got != want {
            problems.push(format!(
                "line {} [{}] {}: tcpdump {want}, ours {got}\n{}",
                case.line,
                case.linktype,
                case.expr,
                show(&ours)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn verdicts_agree_with_tcpdump_optimized_programs() {
    let Some(results) = oracle() else {
        eprintln!("skipping: tcpdump is not installed");
        return;
    };
    let packets = common::test_packets();
    let mut mismatches = Vec::new();
    let (mut programs, mut runs, mut accepted_runs, mut excused) = (0, 0u64, 0u64, 0u64);
    for (case, o) in cases().iter().zip(results) {
        let (Ok(theirs), Ok(ours)) = (
            &o.optimized,
            compile(&case.expr, case.dlt(), &unoptimized()),
        ) else {
            continue;
        };
        programs += 1;
        let aborts = common::with_visible_aborts(&ours);
        for (data, wirelen) in &packets[&case.dlt().0] {
            let want = bpfkit_cbpf::run(theirs, data, *wirelen);
            let got = bpfkit_cbpf::run(&ours, data, *wirelen);
            runs += 1;
            accepted_runs += u64::from(want != 0);
            // libpcap's optimizer drops loads whose value cannot matter
            // (e.g. under a zero mask), so on a short packet its program
            // may accept where the unoptimized one hits the end of the data.
            let ended_early = bpfkit_cbpf::run(&aborts, data, *wirelen) == 0;
            if ended_early && want != 0 && got == 0 {
                excused += 1;
                continue;
            }
            if want != got && mismatches.len() < 20 {
                mismatches.push(format!(
                    "line {} [{}] {}: tcpdump {want}, ours {got} on {:02x?}",
                    case.line, case.linktype, case.expr, data
                ));
            }
        }
    }
    eprintln!(
        "{programs} programs, {runs} runs, {accepted_runs} accepted by tcpdump's program, \
         {excused} short-packet differences from optimized-away loads"
    );
    assert!(
        accepted_runs > runs / 50,
        "too few packets accepted ({accepted_runs} of {runs}): the packet mix is too weak"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
