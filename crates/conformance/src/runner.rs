//! Running vectors on an engine and judging the outcome.

use crate::data::{parse, TestCase};
use bpfkit_isa::{decode_raw, Insn, RawInsn};
use bpfkit_vm::{Config, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program};
use std::path::{Path, PathBuf};

/// Something that executes eBPF programs the way the vectors assume.
///
/// The engine must give r1 the address of `mem` (a private copy it may modify), r2 its length,
/// r10 a stack of at least 512 bytes, and provide [`ConformanceHelpers`] (or the same rules).
pub trait Engine {
    /// A short name for reports ("interpreter", "jit").
    fn name(&self) -> &str;
    /// Runs `program` on `mem`; returns r0 or a description of the failure.
    fn run(&self, program: &[Insn], mem: &mut [u8]) -> Result<u64, String>;
}

/// The helpers the vectors assume: helper 5 returns its first argument, and when that is 0 it
/// ends the program with r0 = 0 (uBPF's "unwind" convention, see `call_unwind_fail.data`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConformanceHelpers;

/// The helper number [`ConformanceHelpers`] provides.
pub const UNWIND_HELPER: i32 = 5;

impl Helpers for ConformanceHelpers {
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        _ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match (id, args[0]) {
            (UNWIND_HELPER, 0) => Ok(HelperReturn::Stop(0)),
            (UNWIND_HELPER, v) => Ok(HelperReturn::Value(v)),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        id == UNWIND_HELPER
    }
}

/// The reference interpreter ([`bpfkit_vm`]) as an [`Engine`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter {
    /// Budget and alignment options of each run.
    pub config: Config,
}

impl Engine for Interpreter {
    fn name(&self) -> &str {
        "interpreter"
    }

    fn run(&self, program: &[Insn], mem: &mut [u8]) -> Result<u64, String> {
        let prog = Program::load(program).map_err(|e| e.to_string())?;
        prog.check_helpers(&ConformanceHelpers)
            .map_err(|e| e.to_string())?;
        let mut memory = MemoryMap::new();
        let len = mem.len() as u64;
        let addr = memory.add_slice_mut(mem);
        prog.run(
            [addr, len, 0, 0, 0],
            &mut memory,
            &mut ConformanceHelpers,
            &self.config,
        )
        .map(|exit| exit.r0)
        .map_err(|e| e.to_string())
    }
}

/// The program of a vector: the `raw` words if present, else the assembled `asm` text.
pub fn program_of(case: &TestCase) -> Result<Vec<Insn>, String> {
    if let Some(words) = &case.raw {
        let raw: Vec<RawInsn> = words.iter().map(|&w| RawInsn::from_u64(w)).collect();
        let decoded = decode_raw(&raw).map_err(|e| format!("raw section: {e}"))?;
        return Ok(decoded.into_iter().map(|d| d.insn).collect());
    }
    let text = case.asm.as_deref().unwrap_or("");
    bpfkit_asm::assemble(text).map_err(|e| {
        // Make the position relative to the file rather than the asm section.
        format!("asm section starting at line {}: {e}", case.asm_line)
    })
}

/// Runs one vector; `Ok` when the engine produced the expected result (or failed as expected).
pub fn check(case: &TestCase, engine: &dyn Engine) -> Result<(), String> {
    let program = program_of(case)?;
    let mut mem = case.mem.clone();
    let outcome = engine.run(&program, &mut mem);
    match (&case.error, case.result, outcome) {
        (Some(_), _, Err(_)) => Ok(()),
        (Some(expected), _, Ok(r0)) => {
            Err(format!("expected an error ({expected}), got r0 = {r0:#x}"))
        }
        (None, Some(want), Ok(r0)) if r0 == want => Ok(()),
        (None, Some(want), Ok(r0)) => Err(format!("r0 = {r0:#x}, expected {want:#x}")),
        (None, _, Err(e)) => Err(format!("failed: {e}")),
        (None, None, Ok(_)) => Err("vector has no expected result".into()),
    }
}

/// The outcome of a whole directory of vectors.
#[derive(Clone, Debug, Default)]
pub struct SuiteReport {
    /// File names that passed.
    pub passed: Vec<String>,
    /// File names that failed, with the reason.
    pub failed: Vec<(String, String)>,
}

impl SuiteReport {
    /// Number of vectors run.
    pub fn total(&self) -> usize {
        self.passed.len() + self.failed.len()
    }
}

/// Runs every `*.data` file of `dir` (sorted by name) on `engine`.
pub fn run_dir(dir: &Path, engine: &dyn Engine) -> std::io::Result<SuiteReport> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    let mut report = SuiteReport::default();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let verdict = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| parse(&text).map_err(|e| e.to_string()))
            .and_then(|case| check(&case, engine));
        match verdict {
            Ok(()) => report.passed.push(name),
            Err(why) => report.failed.push((name, why)),
        }
    }
    Ok(report)
}

/// The shared vector directory (`<repo>/../shared/conformance/tests`), if present.
pub fn default_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tests");
    dir.is_dir().then_some(dir)
}
