//! All 313 vectors of the shared bpf_conformance suite on the JIT, checked and unchecked,
//! plain and with constant blinding. The oracle is each file's expected r0 (from the suite,
//! measured against uBPF and Linux).

use bpfkit_conformance::{ConformanceHelpers, Engine};
use bpfkit_isa::Insn;
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, MemoryMap, Program};
use common::run_all;

mod common;

/// The JIT as a conformance engine.
struct Jit {
    name: &'static str,
    options: CompileOptions,
}

impl Engine for Jit {
    fn name(&self) -> &str {
        self.name
    }

    fn run(&self, program: &[Insn], mem: &mut [u8]) -> Result<u64, String> {
        let prog = Program::load(program).map_err(|e| e.to_string())?;
        prog.check_helpers(&ConformanceHelpers)
            .map_err(|e| e.to_string())?;
        let jit = JitProgram::compile(&prog, &self.options).map_err(|e| e.to_string())?;
        let mut memory = MemoryMap::new();
        let len = mem.len() as u64;
        let addr = memory.add_slice_mut(mem);
        jit.run(
            [addr, len, 0, 0, 0],
            &mut memory,
            &mut ConformanceHelpers,
            &Config::default(),
        )
        .map(|exit| exit.r0)
        .map_err(|e| e.to_string())
    }
}

#[test]
fn checked_jit_passes_every_vector() {
    run_all(&Jit {
        name: "jit (checked)",
        options: CompileOptions::default(),
    });
}

#[test]
fn checked_blinded_jit_passes_every_vector() {
    run_all(&Jit {
        name: "jit (checked, blinded)",
        options: CompileOptions {
            checked: true,
            blind_constants: true,
            zero_stack: true,
        },
    });
}

#[test]
fn unchecked_jit_passes_every_vector() {
    // No vector expects a fault, so code trusting a verifier must agree on all of them.
    run_all(&Jit {
        name: "jit (unchecked)",
        options: CompileOptions {
            checked: false,
            blind_constants: false,
            zero_stack: true,
        },
    });
}
