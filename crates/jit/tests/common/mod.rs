//! Shared by the differential tests: deterministic helpers and a two-engine runner.
#![allow(dead_code)]

// (Not in the fuzz target, which shares this module but not the assembler.)
#[cfg(test)]
pub mod check;

use bpfkit_isa::{CallTarget, Insn};
use bpfkit_jit::{CallSites, HostFn, JitProgram, Specialization};
use bpfkit_vm::{
    Access, Config, Exit, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program,
    VmError,
};

/// Helpers with every kind of outcome, identical for both engines. Helper 6 hands out a
/// region at a fixed address (`scratch`), so that pointer values are the same in both runs.
pub struct TestHelpers {
    pub scratch: *mut u8,
}

/// Length of [`TestHelpers::scratch`].
pub const SCRATCH_LEN: usize = 16;

impl Helpers for TestHelpers {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match id {
            1 => Ok(HelperReturn::Value(a[0] ^ a[1].rotate_left(7) ^ a[4])),
            // Sum of a1 % 16 bytes at a0, read through the checked map.
            2 => {
                let v = ctx.memory.read_vec(a[0], (a[1] % 16) as usize)?;
                Ok(HelperReturn::Value(v.iter().map(|&b| b as u64).sum()))
            }
            3 if a[0] & 7 == 0 => Ok(HelperReturn::Stop(a[0] ^ 0x55)),
            3 => Ok(HelperReturn::Value(a[0].wrapping_add(1))),
            4 if a[0] & 3 == 0 => Err(HelperError::Failed("refused".into())),
            4 => Ok(HelperReturn::Value(3)),
            // A fresh 16-byte region filled with a0's low byte: later accesses through the
            // returned pointer take the JIT's slow path (the region is not the primary one).
            6 => {
                // SAFETY: `scratch` points at SCRATCH_LEN bytes owned by the caller of `run`,
                // alive and otherwise untouched for the whole run.
                let addr = unsafe {
                    std::ptr::write_bytes(self.scratch, a[0] as u8, SCRATCH_LEN);
                    ctx.memory
                        .add_raw(self.scratch, SCRATCH_LEN, Access::ReadWrite)
                };
                Ok(HelperReturn::Value(addr))
            }
            // Write a2's low a1 % 9 bytes at a0.
            7 => {
                let bytes = a[2].to_le_bytes();
                ctx.memory.write(a[0], &bytes[..(a[1] % 9) as usize])?;
                Ok(HelperReturn::Value(0))
            }
            // Run a callback (a0 = function address) with a1..: as bpf_loop does.
            8 => {
                let r = ctx.call_function(self, a[0], [a[1], a[2], 0, 0, 0])?;
                Ok(HelperReturn::Value(r.wrapping_mul(3)))
            }
            // 1 when the stack is aligned as the SysV ABI wants (generated code keeps it so
            // at every call into Rust), else 0.
            9 => Ok(HelperReturn::Value(stack_aligned() as u64)),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        matches!(id, 1..=4 | 6..=9)
    }

    /// Helper 1 without a context; the others decline (and are called in full).
    unsafe fn call_plain(&mut self, id: i32, a: [u64; 5]) -> Option<u64> {
        (id == 1).then(|| a[0] ^ a[1].rotate_left(7) ^ a[4])
    }
}

/// Every call of helper 1 as a host call of [`direct_1`] ([`Specialization::HostCall`];
/// a plain call in code that takes a function's address), of helpers 3 and 4 as a plain
/// call ([`Specialization::PlainCall`]: the fall-back to the full call, with a stop or an
/// error). For unchecked code, which honours specialisations.
pub fn plain_sites(prog: &Program) -> CallSites {
    let direct = direct_1 as HostFn;
    let mut sites = CallSites::new();
    for d in prog.insns() {
        match d.insn {
            Insn::Call(CallTarget::Helper(1)) => {
                let func = direct as usize as u64;
                sites.insert(d.pc, Specialization::HostCall { func })
            }
            Insn::Call(CallTarget::Helper(3 | 4)) => sites.insert(d.pc, Specialization::PlainCall),
            _ => None,
        };
    }
    sites
}

/// Helper 1 called directly with the run's helpers (a [`TestHelpers`], whose scratch
/// pointer it checks is still the one the run set).
unsafe extern "sysv64" fn direct_1(
    host: *mut (),
    a1: u64,
    a2: u64,
    _: u64,
    _: u64,
    a5: u64,
) -> u64 {
    // SAFETY: the tests and the fuzz target run unchecked code with `TestHelpers` only.
    let host = unsafe { &*host.cast::<TestHelpers>() };
    assert!(
        !host.scratch.is_null(),
        "host call without the run's helpers"
    );
    a1 ^ a2.rotate_left(7) ^ a5
}

/// What one run did: its result and the input buffer afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<Exit, VmError>,
    pub memory: Vec<u8>,
}

/// Which engine runs.
pub enum Engine<'a> {
    Interpreter(&'a Program),
    Jit(&'a JitProgram),
}

/// Fixed-address buffers of one test case, reused by every run so that pointer values
/// (which programs may compute with) are the same for both engines.
pub struct Buffers {
    pub mem: Vec<u8>,
    pub ro: Vec<u8>,
    pub scratch: Vec<u8>,
}

impl Buffers {
    pub fn new(len: usize) -> Buffers {
        Buffers {
            mem: vec![0; len],
            ro: vec![0x5a; 24],
            scratch: vec![0; SCRATCH_LEN],
        }
    }
}

/// Runs with r1 = `bufs.mem` filled with `input` (the primary region), r2 = its length,
/// r3 = a read-only second region, and `packet` (if any) for `ld_abs`/`ld_ind`.
pub fn run(
    engine: Engine<'_>,
    bufs: &mut Buffers,
    input: &[u8],
    packet: Option<&[u8]>,
    config: &Config,
) -> Outcome {
    bufs.mem.copy_from_slice(input);
    let mut helpers = TestHelpers {
        scratch: bufs.scratch.as_mut_ptr(),
    };
    let result = {
        let mut memory = MemoryMap::new();
        let addr = memory.add_slice_mut(&mut bufs.mem);
        let ro_addr = memory.add_slice(&bufs.ro);
        if let Some(p) = packet {
            memory.set_packet(p);
        }
        let args = [addr, input.len() as u64, ro_addr, 0, 0];
        match engine {
            Engine::Interpreter(p) => p.run(args, &mut memory, &mut helpers, config),
            Engine::Jit(j) => j.run(args, &mut memory, &mut helpers, config),
        }
    };
    Outcome {
        result,
        memory: bufs.mem.clone(),
    }
}

/// The error with stack addresses blanked: the two engines' stacks are at different
/// addresses (everything else a program sees is at the same address in both runs).
fn normalize(e: &VmError, fixed: &[(u64, u64)]) -> VmError {
    use bpfkit_vm::{FaultReason, VmErrorKind};
    let mut e = e.clone();
    if let VmErrorKind::Memory(f) = &mut e.kind {
        if !fixed.iter().any(|&(lo, hi)| (lo..hi).contains(&f.addr)) {
            f.addr = 0;
            if let FaultReason::CrossesEnd { start, end } = &mut f.reason {
                (*start, *end) = (0, 0);
            }
        }
    }
    e
}

/// Asserts that the JIT behaved as the interpreter: same r0, instruction count and memory,
/// or the same error at the same instruction. The one allowed difference: the JIT checks
/// the budget on entry to a block, so when the interpreter faults inside the block where
/// the budget runs out, the JIT reports the budget instead (memory is then not compared).
pub fn assert_same(interp: &Outcome, jit: &Outcome, bufs: &Buffers, context: &str) {
    use bpfkit_vm::VmErrorKind::Budget;
    let fixed: Vec<(u64, u64)> = [&bufs.mem, &bufs.ro, &bufs.scratch]
        .iter()
        .map(|b| (b.as_ptr() as u64, b.as_ptr() as u64 + b.len() as u64))
        .collect();
    match (&interp.result, &jit.result) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{context}");
            assert_eq!(interp.memory, jit.memory, "memory differs: {context}");
        }
        (Err(a), Err(b)) if matches!(b.kind, Budget(_)) => {
            if matches!(a.kind, Budget(_)) {
                assert_eq!(a, b, "{context}");
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(normalize(a, &fixed), normalize(b, &fixed), "{context}");
            assert_eq!(interp.memory, jit.memory, "memory differs: {context}");
        }
        (a, b) => panic!("interpreter {a:?} but JIT {b:?}: {context}"),
    }
}

/// objdump's AT&T text of each instruction of `code` (operands with single spaces), or
/// `None` when objdump is absent.
pub fn disassemble(code: &[u8]) -> Option<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("bpfkit-jit-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let file = dir.join(format!(
        "{:x}-{}.bin",
        code.iter().fold(0u64, |h, &b| h.rotate_left(5) ^ b as u64),
        code.len()
    ));
    std::fs::write(&file, code).ok()?;
    let out = std::process::Command::new("objdump")
        .args(["-D", "-b", "binary", "-mi386:x86-64"])
        .arg(&file)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| {
                let mut parts = l.split('\t');
                let addr = parts.next()?;
                if !addr.trim_end().ends_with(':') {
                    return None;
                }
                let insn = parts.nth(1)?.trim().trim_start_matches("rex ");
                Some(insn.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect(),
    )
}

/// Whether rsp is 16-byte aligned where the compiler believes it is: an `asm!` block
/// without `nostack` gets rsp aligned for a call, counting on the function having been
/// entered with the ABI's alignment, so a misaligned entry shows here.
#[inline(never)]
fn stack_aligned() -> bool {
    let rsp: u64;
    // SAFETY: reads rsp only.
    unsafe { std::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, preserves_flags)) };
    rsp.is_multiple_of(16)
}
