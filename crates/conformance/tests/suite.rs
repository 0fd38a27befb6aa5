//! All 313 vectors of the shared bpf_conformance suite on the reference interpreter.
//! The oracle is each file's expected r0 (from the suite, measured against uBPF and Linux).

use bpfkit_conformance::Interpreter;
use common::run_all;

mod common;

#[test]
fn interpreter_passes_every_vector() {
    run_all(&Interpreter::default());
}
