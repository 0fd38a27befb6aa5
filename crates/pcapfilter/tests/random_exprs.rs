//! Randomly generated expressions (seeded, so reproducible) compared with
//! `tcpdump -d -O`: same program, or both rejected. Complements the
//! hand-written table with combinations nobody thought of. Needs tcpdump.

mod common;

use bpfkit_pcapfilter::{compile, CompileOptions, LinkType};
use common::random::random_cases;
use common::{tcpdump_program, tcpdump_version};

#[test]
fn random_expressions_match_tcpdump() {
    if tcpdump_version().is_none() {
        eprintln!("skipping: tcpdump is not installed");
        return;
    }
    let cases = random_cases();
    let opts = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    let results: Vec<(bool, Option<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let cases = &cases;
                s.spawn(move || {
                    cases
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 2 == w)
                        .map(|(i, (lt, e))| {
                            let theirs = tcpdump_program(lt, e, false);
                            let ours = compile(e, LinkType::from_name(lt).unwrap(), &opts);
                            let ok = match (&ours, &theirs) {
                                (Ok(a), Ok(b)) => a == b,
                                (Err(_), Err(_)) => true,
                                _ => false,
                            };
                            let accepted = theirs.is_ok();
                            let failure = (!ok).then(|| {
                                format!(
                                    "[{lt}] {e}: tcpdump {:?}, ours {:?}",
                                    theirs.map(|p| p.len()),
                                    ours.map(|p| p.len())
                                )
                            });
                            (i, (accepted, failure))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let accepted = results.iter().filter(|(a, _)| *a).count();
    eprintln!(
        "{} random expressions, {accepted} compiled by tcpdump",
        cases.len()
    );
    // The generator is tuned so that a good share is valid.
    assert!(
        accepted * 3 > cases.len(),
        "only {accepted} valid expressions"
    );
    let failures: Vec<String> = results.into_iter().filter_map(|(_, f)| f).collect();
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
