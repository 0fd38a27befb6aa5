//! The check shared by every engine's conformance test: all vectors found, all passed.

use bpfkit_conformance::{default_dir, run_dir, Engine};
use std::io::Write;

const EXPECTED_FILES: usize = 313;

/// Runs every vector on `engine` and fails the test unless all 313 pass.
pub fn run_all(engine: &dyn Engine) {
    let Some(dir) = default_dir() else {
        eprintln!("skipping: shared/conformance/tests not found beside the repository");
        return;
    };
    let report = run_dir(&dir, engine).expect("read the vector directory");
    for (name, why) in &report.failed {
        eprintln!("FAIL {name}: {why}");
    }
    // Written to stderr directly (not `eprintln!`) so the count shows even when the
    // harness captures test output.
    let _ = writeln!(
        std::io::stderr(),
        "conformance ({}): {} passed, {} failed",
        engine.name(),
        report.passed.len(),
        report.failed.len()
    );
    assert_eq!(report.total(), EXPECTED_FILES, "number of vector files");
    assert!(
        report.failed.is_empty(),
        "{} of {} vectors failed: {:?}",
        report.failed.len(),
        report.total(),
        report.failed.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
}
