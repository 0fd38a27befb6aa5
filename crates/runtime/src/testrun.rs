//! Running a program the way `BPF_PROG_TEST_RUN` does: input packet (and optional context)
//! in, return value, output packet, output context and average duration out.

use bpfkit_jit::Specialization;
use bpfkit_maps::{rcu_read_lock, RcuGuard};
use bpfkit_object::ProgType;
use bpfkit_vm::{Access, Config, MemoryMap};

use crate::ctx::{Hook, Packet, LOW_BUF_SIZE};
use crate::engine::{Engine, Prepared};
use crate::error::RuntimeError;
use crate::helpers::RunHelpers;
use crate::load::LoadedObject;
use crate::lowmem::LowBuf;

/// Runs of a test-run between two quiescent states of its read-side section.
const QUIESCE_EVERY: u32 = 256;

/// Where `bpf_trace_printk` lines go.
pub(crate) type TraceSink = Box<dyn FnMut(&str) + Send>;

/// The input of one test-run (the kernel's `BPF_PROG_TEST_RUN` attributes).
///
/// ```
/// use bpfkit_runtime::TestRun;
/// let packet = [0u8; 64];
/// let run = TestRun::new(&packet).repeat(1000).cpu(0);
/// assert_eq!(run.repeat, 1000);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TestRun<'a> {
    /// The packet (`data_in`).
    pub data: &'a [u8],
    /// The input context (`ctx_in`): a `struct xdp_md` or `struct __sk_buff`.
    pub ctx_in: Option<&'a [u8]>,
    /// Whether to return the output context even without `ctx_in` (`ctx_out`).
    pub ctx_out: bool,
    /// How many times to run (0 counts as 1); the program runs on the same packet each
    /// time, as in the kernel, and the duration is the average.
    pub repeat: u32,
    /// The runtime CPU the program runs on (what `bpf_get_smp_processor_id` returns and
    /// which slot of per-CPU maps it sees).
    pub cpu: usize,
}

impl<'a> TestRun<'a> {
    /// A single run on runtime CPU 0 without context.
    pub fn new(data: &'a [u8]) -> TestRun<'a> {
        TestRun {
            data,
            ctx_in: None,
            ctx_out: false,
            repeat: 1,
            cpu: 0,
        }
    }

    /// Sets the input context.
    pub fn ctx_in(mut self, ctx: &'a [u8]) -> Self {
        self.ctx_in = Some(ctx);
        self
    }

    /// Asks for the output context.
    pub fn ctx_out(mut self) -> Self {
        self.ctx_out = true;
        self
    }

    /// Sets the repeat count.
    pub fn repeat(mut self, n: u32) -> Self {
        self.repeat = n;
        self
    }

    /// Sets the runtime CPU.
    pub fn cpu(mut self, cpu: usize) -> Self {
        self.cpu = cpu;
        self
    }
}

/// The result of a test-run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value as the kernel reports it (the low 32 bits of r0).
    pub retval: u32,
    /// The full 64-bit r0.
    pub r0: u64,
    /// The packet after the run (XDP: from `data_meta` to `data_end`, after any
    /// adjustment; socket filters: with the Ethernet header zeroed, as the kernel returns it).
    pub data_out: Vec<u8>,
    /// The context after the run, if `ctx_in` was given or `ctx_out` asked.
    pub ctx_out: Option<Vec<u8>>,
    /// Average nanoseconds per run (saturating at `u32::MAX`, as the kernel's), measured in
    /// CPU time of the running thread: like the kernel's figure, which stops its clock while
    /// the test-run is rescheduled, it leaves out time spent waiting for a CPU.
    pub duration_ns: u32,
    /// Instructions executed by the last run (all tail-called programs included), or
    /// `None` when unchecked JIT code ran: it does not count instructions.
    /// Checked JIT code counts whole basic blocks, so a run that a helper ends inside a
    /// block (a tail call) may count the rest of that block too.
    pub instructions: Option<u64>,
}

/// A program of a [`LoadedObject`], ready to run.
#[derive(Clone, Copy, Debug)]
pub struct ProgramRef<'o> {
    pub(crate) object: &'o LoadedObject,
    pub(crate) index: usize,
}

/// CPU time consumed by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The packet hook of a program type, if the runtime can test-run it.
pub fn hook_of(prog_type: ProgType) -> Option<Hook> {
    match prog_type {
        ProgType::Xdp => Some(Hook::Xdp),
        ProgType::SocketFilter => Some(Hook::SocketFilter),
        ProgType::SchedCls | ProgType::SchedAct => Some(Hook::Tc),
        _ => None,
    }
}

impl<'o> ProgramRef<'o> {
    /// The program's name.
    pub fn name(&self) -> &'o str {
        &self.object.shared.programs[self.index].name
    }

    /// Its ELF section name.
    pub fn section(&self) -> &'o str {
        &self.object.shared.programs[self.index].section
    }

    /// Its program type.
    pub fn prog_type(&self) -> ProgType {
        self.object.shared.programs[self.index].prog_type
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        self.object.shared.programs[self.index].prepared.engine()
    }

    /// Whether the verifier accepted it at load (for its program type).
    pub fn verified(&self) -> bool {
        self.object.shared.programs[self.index].verified
    }

    /// Whether its test-runs check every memory access at run time: true on the
    /// interpreter and for checked JIT code, false for the unchecked JIT code of a
    /// verified program.
    pub fn checked(&self) -> bool {
        self.object.shared.programs[self.index].prepared.checked()
    }

    /// The helper calls (slot indexes) its code computes inline or calls directly instead
    /// of through the helper machinery (e.g. `bpf_map_lookup_elem` on an array or hash map
    /// known at load; see the `inline` module), in the unchecked JIT code of a verified
    /// program (none on the interpreter and in checked code).
    pub fn inlined_call_sites(&self) -> Vec<usize> {
        self.call_sites(|s| {
            !matches!(
                s,
                Specialization::PlainCall
                    | Specialization::HostCall { .. }
                    | Specialization::IndirectCall { .. }
            )
        })
    }

    /// The `bpf_map_lookup_elem` calls (slot indexes) whose map is not known at load, which
    /// its code makes through the map pointer as a call of the map's direct lookup (where
    /// the map has one, else a plain call; see the `inline` module), in the unchecked JIT
    /// code of a verified program.
    pub fn indirect_call_sites(&self) -> Vec<usize> {
        self.call_sites(|s| matches!(s, Specialization::IndirectCall { .. }))
    }

    /// The helper calls (slot indexes) its code makes without building a helper context
    /// (`Helpers::call_plain`; see the `inline` module), in the unchecked JIT code of a
    /// verified program.
    pub fn plain_call_sites(&self) -> Vec<usize> {
        self.call_sites(|s| matches!(s, Specialization::PlainCall))
    }

    /// The helper calls (slot indexes) its code makes as direct calls of the helper's body
    /// with the run's helpers (`Specialization::HostCall`; see the `inline` module), in the
    /// unchecked JIT code of a verified program.
    pub fn host_call_sites(&self) -> Vec<usize> {
        self.call_sites(|s| matches!(s, Specialization::HostCall { .. }))
    }

    fn call_sites(&self, which: impl Fn(&Specialization) -> bool) -> Vec<usize> {
        match &self.object.shared.programs[self.index].prepared {
            Prepared::Jit(j) => j
                .specializations()
                .iter()
                .filter(|(_, s)| which(s))
                .map(|(pc, _)| pc)
                .collect(),
            Prepared::Interpreter => Vec::new(),
        }
    }

    /// Its machine code on the JIT (entry at offset 0, as `bpftool prog dump jited`
    /// shows a program's), `None` on the interpreter.
    pub fn jited(&self) -> Option<&'o [u8]> {
        match &self.object.shared.programs[self.index].prepared {
            Prepared::Jit(j) => Some(j.machine_code()),
            Prepared::Interpreter => None,
        }
    }

    /// Offset in [`jited`](Self::jited) of the code of the instruction at slot `pc` (`None`
    /// on the interpreter, or where no instruction starts).
    pub fn jited_offset(&self, pc: usize) -> Option<usize> {
        match &self.object.shared.programs[self.index].prepared {
            Prepared::Jit(j) => j.code_offset(pc),
            Prepared::Interpreter => None,
        }
    }

    /// Whether its runs zero the stack before the program uses it (so that a byte it never
    /// wrote reads 0, as on the interpreter): false only for the unchecked JIT code of a
    /// program the verifier proved never to read a stack byte it did not write.
    pub fn zeroes_stack(&self) -> bool {
        match &self.object.shared.programs[self.index].prepared {
            Prepared::Jit(j) => j.options().checked || j.options().zero_stack,
            Prepared::Interpreter => true,
        }
    }

    /// Runs the program as `BPF_PROG_TEST_RUN` would.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunOutput, RuntimeError> {
        let shared = &self.object.shared;
        let hook = hook_of(self.prog_type()).ok_or_else(|| RuntimeError::UnsupportedProgType {
            program: self.name().to_string(),
            prog_type: self.prog_type().name().to_string(),
        })?;
        if run.cpu >= shared.ncpus {
            return Err(RuntimeError::InvalidInput(format!(
                "cpu {} is not a runtime CPU (0..{})",
                run.cpu, shared.ncpus
            )));
        }
        let pooled = shared
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let mut buf = match pooled {
            Some(b) => b,
            None => LowBuf::new(LOW_BUF_SIZE).map_err(RuntimeError::LowMemory)?,
        };
        let result = self.run_on(&mut buf, hook, run);
        shared
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buf);
        result
    }

    fn run_on(
        &self,
        buf: &mut LowBuf,
        hook: Hook,
        run: &TestRun<'_>,
    ) -> Result<TestRunOutput, RuntimeError> {
        let mut packet = match hook {
            Hook::Xdp => Packet::xdp(buf, run.data, run.ctx_in, run.ctx_out)?,
            _ => Packet::skb(buf, hook, run.data, run.ctx_in, run.ctx_out)?,
        };
        let mut guard = rcu_read_lock();
        // Built once for all repeats: the regions do not move (helpers move the packet
        // bounds only inside the frame), and what helpers add goes at the end of each run.
        let mut memory = MemoryMap::new();
        let shared = &self.object.shared;
        let inlined = shared
            .inlined
            .needed(shared.programs[self.index].prepared.inlines());
        // SAFETY: `buf` outlives `memory`; see `add_run_regions`.
        unsafe { self.add_run_regions(&mut memory, &packet, inlined) };
        let args = [packet.ctx, 0, 0, 0, 0];
        let repeat = run.repeat.max(1);
        let start = thread_cpu_ns();
        let mut last = (0, None);
        // The kernel leaves its read-side section between runs when it reschedules; held
        // for the whole test-run, the guard kept everything the runs removed (replaced
        // hash elements, LRU evictions) until its end: 80 MB for a million runs of
        // `xdp_hashptr`. Not after every run: a quiescent state costs a fence.
        let mut left = repeat;
        while left > 0 {
            let n = left.min(QUIESCE_EVERY);
            for _ in 0..n {
                last =
                    self.run_once(buf, &mut packet, &guard, run.cpu, &mut memory, args, false)?;
            }
            left -= n;
            guard.quiesce();
        }
        let per_run = thread_cpu_ns().saturating_sub(start) / repeat as u64;
        drop(memory);
        drop(guard);
        Ok(TestRunOutput {
            retval: last.0 as u32,
            r0: last.0,
            data_out: packet.data_out(buf),
            ctx_out: packet.ctx_out(buf),
            duration_ns: per_run.min(u32::MAX as u64) as u32,
            instructions: last.1,
        })
    }

    /// Runs the program with the conformance calling convention instead of a context:
    /// r1 = the address of `mem` (readable and writable), r2 = its length; the object's maps,
    /// global data and helpers are available. Returns `(r0, instructions executed)`.
    ///
    /// The load-time verification does not cover this convention, so the program always
    /// runs with run-time checks: on the interpreter, or as checked JIT code (compiled on
    /// first use when the program's own code is unchecked).
    /// Packet helpers see an empty 14-byte Ethernet frame, since there is no packet.
    pub fn run_on_memory(&self, mem: &mut [u8], cpu: usize) -> Result<(u64, u64), RuntimeError> {
        let shared = &self.object.shared;
        if cpu >= shared.ncpus {
            return Err(RuntimeError::InvalidInput(format!(
                "cpu {cpu} is not a runtime CPU (0..{})",
                shared.ncpus
            )));
        }
        let mut buf = LowBuf::new(LOW_BUF_SIZE).map_err(RuntimeError::LowMemory)?;
        let mut packet = Packet::xdp(&mut buf, &[0u8; 14], None, false)?;
        let guard = rcu_read_lock();
        let mut memory = MemoryMap::new();
        // SAFETY: `buf` outlives `memory`; see `add_run_regions`. Checked code only: no
        // lookup is inlined.
        unsafe { self.add_run_regions(&mut memory, &packet, false) };
        let len = mem.len() as u64;
        let args = [memory.add_slice_mut(mem), len, 0, 0, 0];
        let (r0, executed) =
            self.run_once(&mut buf, &mut packet, &guard, cpu, &mut memory, args, true)?;
        Ok((r0, executed.unwrap_or(0)))
    }

    /// Adds the context, the packet and the global-data values to `memory`, and with
    /// `inlined` the whole storage of the arrays whose lookups unchecked code inlines
    /// (their values get no region of their own when looked up inline).
    ///
    /// # Safety
    /// The low buffer holding `packet` must outlive `memory`'s use in runs.
    unsafe fn add_run_regions(&self, memory: &mut MemoryMap<'_>, packet: &Packet, inlined: bool) {
        let ctx_access = if packet.hook == Hook::Xdp {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        // SAFETY (all regions below): the low buffer (the caller's promise) and the
        // global-data values (owned by the object) outlive the runs; nothing else accesses
        // the low buffer during a run except the helpers, which write through the same raw
        // addresses between instructions.
        unsafe {
            memory.add_raw(packet.ctx as *mut u8, packet.ctx_len, ctx_access);
            match packet.hook {
                Hook::Xdp => {
                    let len = (packet.hard_end - packet.hard_start) as usize;
                    memory.add_raw(packet.hard_start as *mut u8, len, Access::ReadWrite);
                }
                Hook::Tc => {
                    let len = (packet.end - packet.data) as usize;
                    memory.add_raw(packet.data as *mut u8, len, Access::ReadWrite);
                    memory.set_packet_raw(packet.data as *const u8, len);
                }
                Hook::SocketFilter => {
                    memory.set_packet_raw(
                        packet.data as *const u8,
                        (packet.end - packet.data) as usize,
                    );
                }
            }
            for &(addr, len, access) in &self.object.shared.static_regions {
                memory.add_raw(addr as *mut u8, len, access);
            }
            // Array storage is preallocated and lives as long as the object's maps;
            // programs and helpers access it through raw pointers, as map values.
            if inlined {
                for &(addr, len, access) in &self.object.shared.inlined.regions {
                    memory.add_raw(addr as *mut u8, len, access);
                }
            }
        }
    }

    /// One run, following tail calls: `(r0, instructions executed)`, the count `None` if
    /// unchecked JIT code ran (it does not count). `memory_convention` selects the code
    /// for [`run_on_memory`](Self::run_on_memory) (always checked).
    // Inlined into the repeat loop: as a call, passing `args` and returning the result
    // through memory cost two store-forwarding stalls per run (written in 8-byte pieces,
    // read back in 16).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run_once(
        &self,
        buf: &mut LowBuf,
        packet: &mut Packet,
        guard: &RcuGuard,
        cpu: usize,
        memory: &mut MemoryMap<'_>,
        args: [u64; 5],
        memory_convention: bool,
    ) -> Result<(u64, Option<u64>), RuntimeError> {
        let shared = &self.object.shared;
        let mut helpers = RunHelpers {
            shared,
            cpu,
            guard,
            packet,
            buf,
            tail_calls: 0,
            pending_tail_call: None,
            running: self.index,
            tail_array: None,
            reserved: Vec::new(),
        };
        let config = Config::default();
        let mut index = self.index;
        let mut executed = Some(0);
        let result = loop {
            let prog = &shared.programs[index];
            let code = if memory_convention {
                prog.checked_code()
            } else {
                &prog.prepared
            };
            helpers.running = index;
            #[cfg(test)]
            tests::RUNS.with(|n| n.set(n.get() + 1));
            let exit = match code.run(&prog.vm, args, memory, &mut helpers, &config) {
                Ok(exit) => exit,
                Err(error) => {
                    // Tail calls that jumped may have moved on to another program.
                    break Err(RuntimeError::Run {
                        program: shared.programs[helpers.running].name.clone(),
                        error,
                    });
                }
            };
            executed = executed
                .filter(|_| code.checked())
                .map(|n| n + exit.executed);
            match helpers.pending_tail_call.take() {
                Some(next) if next < shared.programs.len() => index = next,
                Some(next) => {
                    break Err(RuntimeError::Load {
                        program: shared.programs[helpers.running].name.clone(),
                        message: format!("tail call to unknown program id {next}"),
                    })
                }
                None => break Ok((exit.r0, executed)),
            }
        };
        // A verified program releases every reservation; do it for one that did not, so the
        // ring buffer is not blocked forever.
        if helpers.reserved.is_empty() {
            return result;
        }
        for (addr, map) in helpers.reserved.drain(..) {
            if let Some(rb) = map.as_ringbuf() {
                let _ = rb.discard(addr as usize, 0);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::{Engine, Runtime, TestRun, Verification};

    thread_local! {
        /// Programs the runtime's loop started on this thread (a tail call that jumps
        /// starts none).
        pub(super) static RUNS: Cell<u64> = const { Cell::new(0) };
    }

    /// An Ethernet frame of type `proto` (no payload needed by the dispatcher).
    fn frame(proto: u16) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&proto.to_be_bytes());
        f
    }

    #[test]
    fn tail_calls_of_verified_jit_code_jump_instead_of_starting_runs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/xdp_tail.o");
        // (program, frame, retval, programs run: the kernel's MAX_TAIL_CALL_CNT lets
        // `xdp_loop` tail-call itself 33 times; `xdp_dispatch` goes to `xdp_ip` for IPv4,
        // `xdp_ip6` tries an empty slot and returns 106, ARP goes to the loop, which then
        // has 32 tail calls left).
        let cases = [
            ("xdp_loop", frame(0x0800), 120, 34),
            ("xdp_dispatch", frame(0x0800), 100, 2),
            ("xdp_dispatch", frame(0x86dd), 106, 2),
            ("xdp_dispatch", frame(0x0806), 120, 34),
            ("xdp_dispatch", frame(0x1234), 1, 1),
        ];
        for (engine, verification) in [
            (Engine::Interpreter, Verification::Verify),
            (Engine::Jit, Verification::Unverified),
            (Engine::Jit, Verification::Verify),
        ] {
            let jumps = engine == Engine::Jit && verification == Verification::Verify;
            let loaded = Runtime::new()
                .ncpus(1)
                .engine(engine)
                .verification(verification)
                .load_file(path)
                .unwrap();
            for (name, packet, retval, programs) in &cases {
                let what = format!("{engine:?} {verification:?} {name} {:#x?}", &packet[12..14]);
                RUNS.with(|n| n.set(0));
                let out = loaded
                    .program(Some(name))
                    .unwrap()
                    .test_run(&TestRun::new(packet))
                    .unwrap();
                assert_eq!(out.retval, *retval, "{what}");
                let runs = RUNS.with(|n| n.get());
                assert_eq!(runs, if jumps { 1 } else { *programs }, "{what}");
            }
            // Each program counts its runs in `hops`: 34 + 33 loops, one of each other.
            let hops = loaded.map("hops").unwrap();
            let hop = |k: u32| {
                let v = hops.lookup(&k.to_ne_bytes()).unwrap();
                u32::from_ne_bytes(v.try_into().unwrap())
            };
            assert_eq!([hop(0), hop(1), hop(2), hop(3)], [1, 1, 67, 4]);
        }
    }
}
