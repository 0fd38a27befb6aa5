//! Loading: an [`Object`] becomes a [`LoadedObject`] with live maps and runnable programs.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use bpfkit_isa::{Insn, LdImm64Kind};
use bpfkit_maps::MapRef;
use bpfkit_object::{MapType, Object, ProgType, BPF_F_RDONLY_PROG};
use bpfkit_vm::{Access, HelperCtx, HelperError, HelperReturn, Helpers};

use crate::engine::{Engine, Prepared};
use crate::error::RuntimeError;
use crate::inline::{self, InlinedArrays, InlinedLookups};
use crate::lowmem::LowBuf;
use crate::maptable::MapTable;
use crate::testrun::{ProgramRef, TraceSink};
use bpfkit_jit::JitProgram;

/// Whether programs are checked by the verifier before they may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Verification {
    /// Verify every program at load time with bpfkit's verifier (the default): a program
    /// the verifier rejects makes the load fail with [`RuntimeError::Load`] naming the
    /// instruction and the reason, in the Linux verifier's wording.
    ///
    /// The verifier models the types the runtime can test-run (XDP, socket filter, tc).
    /// Programs of other types (kprobes, tracepoints...) load unverified, so that the rest
    /// of the object can run; they cannot be test-run. [`ProgramRef::run_on_memory`] runs
    /// any program with `r1` = memory, a convention the load-time verification (done for
    /// the program's type) does not cover: there run-time checks always apply
    /// (`bpfkit run` verifies programs for that convention itself).
    #[default]
    Verify,
    /// Skip the verifier (the structural checks still apply). Only run-time checks then
    /// protect the host (the interpreter's, or those of checked JIT code): an unsafe access
    /// stops the run with [`RuntimeError::Run`], it never touches memory outside the
    /// program's regions.
    Unverified,
}

/// Loads objects: the settings every [`LoadedObject`] it creates shares.
///
/// ```
/// use bpfkit_runtime::{Engine, Runtime};
/// let runtime = Runtime::new()
///     .ncpus(4)
///     .engine(Engine::Jit)
///     .program_engine("slow_path", Engine::Interpreter);
/// assert_eq!(runtime.cpus(), 4);
/// assert_eq!(runtime.engine_for("slow_path"), Engine::Interpreter);
/// assert_eq!(runtime.engine_for("fast_path"), Engine::Jit);
/// ```
#[derive(Clone, Debug)]
pub struct Runtime {
    ncpus: usize,
    verification: Verification,
    seed: u64,
    engine: Engine,
    /// Per-program engines, by program name (the last setting for a name wins).
    program_engines: Vec<(String, Engine)>,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime with as many CPUs as the host has, verification on, the host's default
    /// engine ([`Engine::host_default`]: the JIT on x86-64) and a fixed
    /// `bpf_get_prandom_u32` seed.
    pub fn new() -> Runtime {
        Runtime {
            ncpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verification: Verification::Verify,
            seed: 0x2545_f491_4f6c_dd1d,
            engine: Engine::host_default(),
            program_engines: Vec::new(),
        }
    }

    /// Sets the engine programs run on (see [`Engine`]; programs are compiled at load).
    pub fn engine(mut self, engine: Engine) -> Runtime {
        self.engine = engine;
        self
    }

    /// Sets the engine of the programs named `program`, overriding [`engine`](Self::engine).
    pub fn program_engine(mut self, program: &str, engine: Engine) -> Runtime {
        self.program_engines.push((program.to_string(), engine));
        self
    }

    /// The engine a program of this name gets.
    pub fn engine_for(&self, program: &str) -> Engine {
        self.program_engines
            .iter()
            .rev()
            .find(|(name, _)| name == program)
            .map_or(self.engine, |&(_, e)| e)
    }

    /// Sets the number of runtime CPUs (the per-CPU slots of per-CPU maps; at least 1).
    pub fn ncpus(mut self, ncpus: usize) -> Runtime {
        self.ncpus = ncpus.max(1);
        self
    }

    /// The number of runtime CPUs.
    pub fn cpus(&self) -> usize {
        self.ncpus
    }

    /// Sets whether programs are verified at load.
    pub fn verification(mut self, v: Verification) -> Runtime {
        self.verification = v;
        self
    }

    /// Seeds `bpf_get_prandom_u32` (runs are reproducible for a given seed).
    pub fn prandom_seed(mut self, seed: u64) -> Runtime {
        self.seed = seed;
        self
    }

    /// Loads an ELF object file.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<LoadedObject, RuntimeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(&bytes)
    }

    /// Loads an ELF object from memory.
    pub fn load_bytes(&self, elf: &[u8]) -> Result<LoadedObject, RuntimeError> {
        self.load(Object::parse(elf)?)
    }

    /// Loads an object: creates its maps (global data filled in, `.values` initialisers
    /// applied), resolves every program's map references, and loads every program.
    pub fn load(&self, object: Object) -> Result<LoadedObject, RuntimeError> {
        object.validate()?;
        let names: Vec<String> = object.programs.iter().map(|p| p.name.clone()).collect();
        let maps = MapTable::create(&object.maps, self.ncpus, |name| {
            names.iter().position(|n| n == name).map(|i| i as u32)
        })?;
        let mut static_regions = Vec::new();
        for slot in &maps.slots {
            if let Some(addr) = slot.value_addr {
                let access = if slot.def.map_flags & BPF_F_RDONLY_PROG != 0 {
                    Access::ReadOnly
                } else {
                    Access::ReadWrite
                };
                static_regions.push((addr, slot.def.value_size as usize, access));
            }
        }
        // Only objects with a program array (or a template of one) make tail calls that
        // can jump; the others keep the leaner code (leaf runs, fewer registers saved).
        let prog_array = |m: &bpfkit_object::MapDef| m.kind() == Some(MapType::ProgArray);
        let tail_callable = object
            .maps
            .iter()
            .any(|m| prog_array(m) || m.inner.as_deref().is_some_and(prog_array));
        let mut programs = Vec::with_capacity(object.programs.len());
        let mut inlined = BTreeSet::new();
        // The compiled program of each program number, for tail calls that read the
        // program array inline (filled once every program is compiled).
        let tail_table: Box<[AtomicU64]> = (0..object.programs.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        let tail_targets = tail_callable.then_some(inline::TailTable {
            addr: tail_table.as_ptr() as u64,
            len: tail_table.len() as u32,
        });
        // Values a lookup hands out unregistered could reach such a read in any program of
        // the object (stored in a map or the packet by a privileged program), so one program
        // that reads through unchecked pointers keeps every lookup registering.
        let registers_values = object
            .programs
            .iter()
            .any(|p| inline::reads_unchecked_pointers(&p.insns));
        let xdp_runs = object
            .programs
            .iter()
            .all(|p| p.prog_type() == ProgType::Xdp);
        for p in &object.programs {
            let load_err = |message: String| RuntimeError::Load {
                program: p.name.clone(),
                message,
            };
            let insns = resolve(&p.insns, &maps).map_err(load_err)?;
            let vm = bpfkit_vm::Program::load(&insns).map_err(|e| load_err(e.to_string()))?;
            vm.check_helpers(&KnownHelpers)
                .map_err(|e| load_err(e.to_string()))?;
            let proof = match self.verification {
                Verification::Verify => verify(&object, p).map_err(load_err)?,
                Verification::Unverified => Proof::None,
            };
            let verified = proof != Proof::None;
            // Only unchecked JIT code (the verifier accepted the program) inlines lookups.
            let engine = self.engine_for(&p.name);
            let lookups = if engine == Engine::Jit && verified {
                inline::specialize(&p.insns, &maps, tail_targets, registers_values, xdp_runs)
            } else {
                InlinedLookups::default()
            };
            let prepared = Prepared::new(&vm, engine, proof, &lookups.sites, tail_callable)
                .map_err(|e| load_err(format!("JIT: {e}")))?;
            inlined.extend(&lookups.maps);
            programs.push(LoadedProgram {
                name: p.name.clone(),
                section: p.section.name.clone(),
                prog_type: p.prog_type(),
                vm,
                prepared,
                verified,
                memory_jit: OnceLock::new(),
            });
        }
        for (entry, p) in tail_table.iter().zip(&programs) {
            if let Prepared::Jit(code) = &p.prepared {
                if code.fast_tail_callable() {
                    entry.store(&**code as *const JitProgram as u64, Ordering::Relaxed);
                }
            }
        }
        let inlined = InlinedArrays::new(&maps, &inlined, programs.iter().map(|p| &p.vm));
        Ok(LoadedObject {
            shared: Shared {
                maps,
                programs,
                static_regions,
                inlined,
                tail_table,
                ncpus: self.ncpus,
                trace: Mutex::new(Box::new(|line: &str| eprint!("bpf_trace_printk: {line}"))),
                rng: AtomicU64::new(self.seed),
                buffers: Mutex::new(Vec::new()),
            },
            license: object.license,
        })
    }
}

/// What the verifier proved about a program at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Nothing: loaded unverified, or of a type the verifier does not model.
    None,
    /// Safe for its program type; it may read stack bytes it never wrote (as unknown
    /// values, which the kernel allows a privileged loader).
    Safe,
    /// Safe, and it never reads a stack byte it did not write (the unprivileged rule): its
    /// code need not zero the stack first.
    SafeStackWrittenFirst,
}

/// Verifies `program` for its section's type: first under the unprivileged rule for the
/// stack, then, if that fails, as a privileged loader (the runtime's default, as root).
/// Types the verifier does not model give [`Proof::None`].
fn verify(object: &Object, program: &bpfkit_object::Program) -> Result<Proof, String> {
    use bpfkit_verifier::object::{verify_program, ObjectError};
    let strict = bpfkit_verifier::Options {
        allow_uninit_stack: false,
        ..bpfkit_verifier::Options::default()
    };
    let verdict = match verify_program(object, program, None, &strict) {
        Ok(verdict) => verdict,
        // Types the verifier has no model of cannot be test-run either: they load (so that
        // the other programs of the object can run) and stay unverified.
        Err(ObjectError::UnsupportedType { .. }) => return Ok(Proof::None),
    };
    if verdict.result.is_ok() {
        return Ok(Proof::SafeStackWrittenFirst);
    }
    let opts = bpfkit_verifier::Options::default();
    match verify_program(object, program, None, &opts) {
        Ok(verdict) => verdict
            .result
            .map(|_| Proof::Safe)
            .map_err(|e| format!("rejected by the verifier: {e}")),
        Err(ObjectError::UnsupportedType { .. }) => Ok(Proof::None),
    }
}

/// Replaces symbolic map references with runtime handles and addresses.
fn resolve(insns: &[Insn], maps: &MapTable) -> Result<Vec<Insn>, String> {
    let mut pc = 0;
    let mut out = Vec::with_capacity(insns.len());
    for &insn in insns {
        let resolved = match insn {
            Insn::LdImm64 { dst, kind, imm } => {
                let slot = || {
                    maps.slots
                        .get(imm as u32 as usize)
                        .ok_or_else(|| format!("insn {pc}: map index {} out of range", imm as u32))
                };
                let imm = match kind {
                    LdImm64Kind::Imm | LdImm64Kind::Func => imm,
                    LdImm64Kind::MapIdx => slot()?.handle(),
                    LdImm64Kind::MapIdxValue => {
                        let s = slot()?;
                        let base = s.value_addr.ok_or_else(|| {
                            format!("insn {pc}: direct value access into map `{}`, which is not a one-entry array", s.def.name)
                        })?;
                        base + (imm >> 32)
                    }
                    other => {
                        return Err(format!(
                            "insn {pc}: lddw of kind {other:?} cannot be resolved by the runtime"
                        ))
                    }
                };
                let kind = if kind == LdImm64Kind::Func {
                    kind
                } else {
                    LdImm64Kind::Imm
                };
                Insn::LdImm64 { dst, kind, imm }
            }
            other => other,
        };
        pc += insn.slots();
        out.push(resolved);
    }
    Ok(out)
}

/// Answers "is this helper implemented" for the load-time check.
struct KnownHelpers;

impl Helpers for KnownHelpers {
    fn call(
        &mut self,
        _: i32,
        _: [u64; 5],
        _: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        Err(HelperError::Unknown)
    }

    fn is_known(&self, id: i32) -> bool {
        crate::helpers::is_known(id)
    }
}

/// One loaded program.
pub(crate) struct LoadedProgram {
    pub(crate) name: String,
    pub(crate) section: String,
    pub(crate) prog_type: ProgType,
    pub(crate) vm: bpfkit_vm::Program,
    /// The program for its engine (JIT code compiled at load).
    pub(crate) prepared: Prepared,
    /// Whether the verifier accepted it for its program type.
    pub(crate) verified: bool,
    /// Checked JIT code for [`ProgramRef::run_on_memory`], whose calling convention the
    /// load-time verification does not cover; compiled on first use if `prepared` is
    /// unchecked JIT code.
    pub(crate) memory_jit: OnceLock<Prepared>,
}

impl LoadedProgram {
    /// Code that checks every access: the program's own if it does, else checked JIT code
    /// compiled now (once).
    pub(crate) fn checked_code(&self) -> &Prepared {
        if self.prepared.checked() {
            return &self.prepared;
        }
        self.memory_jit.get_or_init(|| {
            // It compiled unchecked, so it compiles checked; the interpreter is the fallback.
            crate::engine::compile(&self.vm, true)
                .map_or(Prepared::Interpreter, |j| Prepared::Jit(Box::new(j)))
        })
    }
}

/// What every run of an object's programs shares.
pub(crate) struct Shared {
    pub(crate) maps: MapTable,
    pub(crate) programs: Vec<LoadedProgram>,
    /// Global-data values: `(address, length, access)`, accessible in every run.
    pub(crate) static_regions: Vec<(u64, usize, Access)>,
    /// The arrays whose lookups unchecked code inlines (registered whole in runs that may
    /// run such code).
    pub(crate) inlined: InlinedArrays,
    /// Each program's tail-callable code (0: none), by program number: the table the
    /// tail calls of unchecked code read (see `inline::TailTable`). Read only by that
    /// code, through its address: kept alive with it.
    #[allow(dead_code)]
    tail_table: Box<[AtomicU64]>,
    pub(crate) ncpus: usize,
    trace: Mutex<TraceSink>,
    rng: AtomicU64,
    /// Low-memory packet buffers, reused across runs.
    pub(crate) buffers: Mutex<Vec<LowBuf>>,
}

impl Shared {
    /// Sends one `bpf_trace_printk` line to the sink.
    pub(crate) fn trace(&self, line: &str) {
        let mut sink = self.trace.lock().unwrap_or_else(|e| e.into_inner());
        sink(line);
    }

    /// The next `bpf_get_prandom_u32` value (splitmix64).
    pub(crate) fn next_random(&self) -> u32 {
        let s = self
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }
}

/// A loaded object: its maps, created and initialised, and its programs, ready to run.
///
/// `LoadedObject` is `Send + Sync`: programs may run on several threads at once (each run
/// has its own packet and stack; maps are shared, as in the kernel).
pub struct LoadedObject {
    pub(crate) shared: Shared,
    license: String,
}

impl std::fmt::Debug for LoadedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedObject")
            .field("programs", &self.program_names())
            .field("maps", &self.map_names())
            .finish()
    }
}

impl LoadedObject {
    /// Program names, in object order.
    pub fn program_names(&self) -> Vec<&str> {
        self.shared
            .programs
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The program named `name`, or the first program if `name` is `None`.
    pub fn program(&self, name: Option<&str>) -> Result<ProgramRef<'_>, RuntimeError> {
        let index = match name {
            Some(n) => self
                .shared
                .programs
                .iter()
                .position(|p| p.name == n)
                .ok_or_else(|| RuntimeError::NoSuchProgram(n.to_string()))?,
            None if self.shared.programs.is_empty() => return Err(RuntimeError::NoProgram),
            None => 0,
        };
        Ok(ProgramRef {
            object: self,
            index,
        })
    }

    /// Map names, in object order (global data maps are named after their section, e.g. `.bss`).
    pub fn map_names(&self) -> Vec<&str> {
        self.shared
            .maps
            .slots
            .iter()
            .map(|s| s.def.name.as_str())
            .collect()
    }

    /// The map named `name`: read and write it with the [`bpfkit_maps::Map`] host methods
    /// (`lookup`, `update_host`, `delete_host`, `iter`), drain a ring buffer with
    /// `as_ringbuf().consume(..)`.
    pub fn map(&self, name: &str) -> Result<&MapRef, RuntimeError> {
        self.shared
            .maps
            .by_name(name)
            .map(|s| &s.map)
            .ok_or_else(|| RuntimeError::NoSuchMap(name.to_string()))
    }

    /// Stores program `program` in slot `index` of program array `map` (for tail calls).
    pub fn set_prog_array_slot(
        &self,
        map: &str,
        index: u32,
        program: &str,
    ) -> Result<(), RuntimeError> {
        let id = self
            .shared
            .programs
            .iter()
            .position(|p| p.name == program)
            .ok_or_else(|| RuntimeError::NoSuchProgram(program.to_string()))?;
        let err = |message: String| RuntimeError::Map {
            map: map.to_string(),
            message,
        };
        let array = self
            .map(map)?
            .as_prog_array()
            .ok_or_else(|| err("not a program array".into()))?;
        array.set(index, id as u32).map_err(|e| err(e.to_string()))
    }

    /// Sends `bpf_trace_printk` output to `sink` (default: standard error).
    pub fn set_trace_sink(&self, sink: impl FnMut(&str) + Send + 'static) {
        *self.shared.trace.lock().unwrap_or_else(|e| e.into_inner()) = Box::new(sink);
    }

    /// The object's license string.
    pub fn license(&self) -> &str {
        &self.license
    }

    /// Number of runtime CPUs.
    pub fn ncpus(&self) -> usize {
        self.shared.ncpus
    }

    /// Every map's contents as JSON (see [`crate::dump`]); ring buffers are drained.
    pub fn dump_maps(&self) -> serde_json::Value {
        crate::dump::dump_maps(self)
    }

    /// The name of the program with runtime id `id` (what program arrays hold).
    pub(crate) fn program_name(&self, id: u32) -> Option<&str> {
        self.shared
            .programs
            .get(id as usize)
            .map(|p| p.name.as_str())
    }
}
