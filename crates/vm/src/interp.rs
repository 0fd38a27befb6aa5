//! The execution loop.
//!
//! Register file: `regs[0..=10]` (padded to 16 so that `idx & 15` needs no bounds check).
//! Stack: one buffer of `MAX_CALL_FRAMES * STACK_SIZE` bytes per run (kept per thread between
//! runs), zeroed where the program can read it: the part of the main frame it can reach
//! ([`Program::stack_need`]) at the start, the deeper frames at the first call. Frame 0 owns the
//! top `STACK_SIZE` bytes and r10 points one past them; each local call moves r10 down by
//! `STACK_SIZE`. The accessible window is always `[r10 - STACK_SIZE, top)`: the current frame
//! and its callers' frames (callers may pass pointers into their frames), never deeper ones.

use crate::error::{AccessKind, FaultReason, MemFault, VmError, VmErrorKind};
use crate::helpers::{HelperCtx, HelperError, HelperReturn, Helpers};
use crate::memory::MemoryMap;
use crate::op::Op;
use crate::program::{Program, FUNC_ADDR_TAG};
use crate::semantics::{alu32, alu64, cond32, cond64, endian, sign_extend};
use bpfkit_isa::{AluOp::*, AtomicOp, Endian, JmpCond::*, MemSize, MAX_CALL_FRAMES, STACK_SIZE};
use std::cell::Cell;

/// Default instruction budget of a run: 2^24 (16,777,216) executed instructions, a fraction of
/// a second of interpretation; enough for any program the kernel verifier would accept
/// (at most 1 million instructions per path, loops bounded) at typical trip counts.
pub const DEFAULT_BUDGET: u64 = 1 << 24;

/// Options of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Maximum number of instructions executed; one more stops the run with an error.
    pub budget: u64,
    /// Refuse loads and stores whose address is not a multiple of their size
    /// (atomics are always checked).
    pub check_alignment: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            budget: DEFAULT_BUDGET,
            check_alignment: false,
        }
    }
}

/// A successful run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The program's return value.
    pub r0: u64,
    /// How many instructions were executed (an `lddw` counts once).
    pub executed: u64,
}

/// The stack buffer of one run; a raw allocation so that the memory map can alias it.
struct Stack {
    base: *mut [u64],
}

thread_local! {
    /// The stack buffer of the last run on this thread, reused by the next: allocating and
    /// zeroing 4 KiB cost more than running a short program. A run takes it for its whole
    /// length, so a run that a helper starts during another allocates its own.
    static SPARE_STACK: Cell<Option<Stack>> = const { Cell::new(None) };
}

impl Stack {
    const BYTES: usize = MAX_CALL_FRAMES * STACK_SIZE;

    fn new() -> Stack {
        let words = vec![0u64; Self::BYTES / 8].into_boxed_slice();
        Stack {
            base: Box::into_raw(words),
        }
    }

    /// One past the highest stack address: r10 of the main frame.
    fn top(&self) -> u64 {
        self.base as *mut u64 as u64 + Self::BYTES as u64
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: `base` came from `Box::into_raw` in `new` and is freed only here.
        drop(unsafe { Box::from_raw(self.base) });
    }
}

/// Ends the run on the memory map however `execute` returns (even by unwinding out of a
/// helper), so no stack or run-scoped region outlives the run.
struct RunScope<'m, 'a> {
    memory: &'m mut MemoryMap<'a>,
    mark: usize,
}

impl Drop for RunScope<'_, '_> {
    fn drop(&mut self) {
        self.memory.end_run(self.mark);
    }
}

/// The caller's state saved by a local call.
#[derive(Clone, Copy, Default)]
struct Frame {
    ret: usize,
    saved: [u64; 4],
}

impl Program {
    /// Runs the program once.
    ///
    /// `args` become r1..r5 (typically r1 = an address from `memory`, r2 = a length); r10 is
    /// the top of a fresh zeroed stack; r0 and r6..r9 start at 0. Regions that `helpers` add
    /// during the run are removed when it ends. Returns r0 and the number of instructions run.
    pub fn run<H: Helpers + ?Sized>(
        &self,
        args: [u64; 5],
        memory: &mut MemoryMap<'_>,
        helpers: &mut H,
        config: &Config,
    ) -> Result<Exit, VmError> {
        let stack = SPARE_STACK.with(Cell::take).unwrap_or_else(Stack::new);
        let top = stack.top();
        let need = self.stack_need();
        // SAFETY: the last `need` bytes of the buffer, which this run owns.
        unsafe { ((top - need as u64) as *mut u8).write_bytes(0, need) };
        let mark = memory.install_stack(top - STACK_SIZE as u64, top);
        let scope = RunScope { memory, mark };
        let mut regs = [0u64; 16];
        regs[1..6].copy_from_slice(&args);
        regs[10] = top;
        let result = execute(
            &self.ops,
            regs,
            &mut *scope.memory,
            helpers,
            config,
            Entry {
                start: 0,
                base_depth: 0,
                deeper_zeroed: false,
            },
        );
        drop(scope);
        SPARE_STACK.with(|spare| spare.set(Some(stack)));
        result
    }
}

fn fault(pc: usize, f: MemFault) -> VmError {
    VmError {
        pc,
        kind: VmErrorKind::Memory(f),
    }
}

/// Where [`execute`] starts.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The first slot.
    pub start: usize,
    /// Frames below the main one (0 for a program run, more for a helper's callback).
    pub base_depth: usize,
    /// Whether the frames below the starting one are already zeroed.
    pub deeper_zeroed: bool,
}

/// The interpreter proper. `regs[10]` is the top of the stack window installed in `memory`.
///
/// Execution starts at `entry` and returns when that frame exits.
pub(crate) fn execute<H: Helpers + ?Sized>(
    ops: &[Op],
    mut regs: [u64; 16],
    memory: &mut MemoryMap<'_>,
    helpers: &mut H,
    config: &Config,
    entry: Entry,
) -> Result<Exit, VmError> {
    let Entry {
        start,
        base_depth,
        mut deeper_zeroed,
    } = entry;
    let mut frames = [Frame::default(); MAX_CALL_FRAMES];
    // The frames below the starting one hold the last run's data until the first call
    // (local calls and helpers' callbacks use them): zero them all then.
    let start_frame_low = regs[10] - STACK_SIZE as u64;
    macro_rules! zero_deeper_frames {
        () => {
            if !deeper_zeroed {
                let n = (MAX_CALL_FRAMES - 1 - base_depth) * STACK_SIZE;
                // SAFETY: the frames below the starting one are part of the stack installed
                // in `memory` (owned by this run) and nothing refers to them yet.
                unsafe { ((start_frame_low - n as u64) as *mut u8).write_bytes(0, n) };
                deeper_zeroed = true;
            }
        };
    }
    let mut depth = base_depth;
    let mut left = config.budget;
    let mut pc = start;
    let align = config.check_alignment;

    macro_rules! r {
        ($i:expr) => {
            regs[($i & 15) as usize]
        };
    }
    macro_rules! alu64 {
        ($op:expr, $d:expr, $v:expr) => {{
            let v = $v;
            r!($d) = alu64($op, r!($d), v);
        }};
    }
    macro_rules! alu32 {
        ($op:expr, $d:expr, $v:expr) => {{
            let v = $v as u64;
            r!($d) = alu32($op, r!($d), v);
        }};
    }
    macro_rules! jmp64 {
        ($c:expr, $d:expr, $v:expr, $t:expr) => {
            if cond64($c, r!($d), $v) {
                pc = $t as usize;
            }
        };
    }
    macro_rules! jmp32 {
        ($c:expr, $d:expr, $v:expr, $t:expr) => {
            if cond32($c, r!($d), $v as u64) {
                pc = $t as usize;
            }
        };
    }
    // Address of `base + off` after the optional alignment check.
    macro_rules! addr {
        ($cur:expr, $base:expr, $off:expr, $size:expr, $access:expr) => {{
            let a = r!($base).wrapping_add($off as i64 as u64);
            if align && !a.is_multiple_of($size) {
                return Err(fault(
                    $cur,
                    MemFault {
                        access: $access,
                        size: $size,
                        addr: a,
                        reason: FaultReason::Misaligned,
                    },
                ));
            }
            a
        }};
    }
    macro_rules! ldx {
        ($cur:expr, $d:expr, $s:expr, $off:expr, $size:expr, $sext:expr) => {{
            let a = addr!($cur, $s, $off, $size, AccessKind::Read);
            let v = memory.load(a, $size).map_err(|f| fault($cur, f))?;
            r!($d) = sign_extend(v, $sext);
        }};
    }
    macro_rules! st {
        ($cur:expr, $d:expr, $off:expr, $size:expr, $v:expr) => {{
            let a = addr!($cur, $d, $off, $size, AccessKind::Write);
            memory.store(a, $size, $v).map_err(|f| fault($cur, f))?;
        }};
    }

    loop {
        let cur = pc;
        let Some(&op) = ops.get(cur) else {
            return Err(VmError {
                pc: cur,
                kind: VmErrorKind::BadControlFlow,
            });
        };
        if left == 0 {
            return Err(VmError {
                pc: cur,
                kind: VmErrorKind::Budget(config.budget),
            });
        }
        left -= 1;
        pc += 1;
        match op {
            Op::Add64K(d, k) => alu64!(Add, d, k),
            Op::Add64X(d, s) => alu64!(Add, d, r!(s)),
            Op::Sub64K(d, k) => alu64!(Sub, d, k),
            Op::Sub64X(d, s) => alu64!(Sub, d, r!(s)),
            Op::Mul64K(d, k) => alu64!(Mul, d, k),
            Op::Mul64X(d, s) => alu64!(Mul, d, r!(s)),
            Op::Div64K(d, k) => alu64!(Div, d, k),
            Op::Div64X(d, s) => alu64!(Div, d, r!(s)),
            Op::SDiv64K(d, k) => alu64!(SDiv, d, k),
            Op::SDiv64X(d, s) => alu64!(SDiv, d, r!(s)),
            Op::Mod64K(d, k) => alu64!(Mod, d, k),
            Op::Mod64X(d, s) => alu64!(Mod, d, r!(s)),
            Op::SMod64K(d, k) => alu64!(SMod, d, k),
            Op::SMod64X(d, s) => alu64!(SMod, d, r!(s)),
            Op::Or64K(d, k) => alu64!(Or, d, k),
            Op::Or64X(d, s) => alu64!(Or, d, r!(s)),
            Op::And64K(d, k) => alu64!(And, d, k),
            Op::And64X(d, s) => alu64!(And, d, r!(s)),
            Op::Lsh64K(d, k) => alu64!(Lsh, d, k),
            Op::Lsh64X(d, s) => alu64!(Lsh, d, r!(s)),
            Op::Rsh64K(d, k) => alu64!(Rsh, d, k),
            Op::Rsh64X(d, s) => alu64!(Rsh, d, r!(s)),
            Op::Arsh64K(d, k) => alu64!(Arsh, d, k),
            Op::Arsh64X(d, s) => alu64!(Arsh, d, r!(s)),
            Op::Xor64K(d, k) => alu64!(Xor, d, k),
            Op::Xor64X(d, s) => alu64!(Xor, d, r!(s)),
            Op::Mov64K(d, k) => r!(d) = k,
            Op::Mov64X(d, s) => r!(d) = r!(s),
            Op::Neg64(d) => alu64!(Neg, d, 0),
            Op::MovSx64(d, s, bits) => r!(d) = sign_extend(r!(s), bits),

            Op::Add32K(d, k) => alu32!(Add, d, k),
            Op::Add32X(d, s) => alu32!(Add, d, r!(s)),
            Op::Sub32K(d, k) => alu32!(Sub, d, k),
            Op::Sub32X(d, s) => alu32!(Sub, d, r!(s)),
            Op::Mul32K(d, k) => alu32!(Mul, d, k),
            Op::Mul32X(d, s) => alu32!(Mul, d, r!(s)),
            Op::Div32K(d, k) => alu32!(Div, d, k),
            Op::Div32X(d, s) => alu32!(Div, d, r!(s)),
            Op::SDiv32K(d, k) => alu32!(SDiv, d, k),
            Op::SDiv32X(d, s) => alu32!(SDiv, d, r!(s)),
            Op::Mod32K(d, k) => alu32!(Mod, d, k),
            Op::Mod32X(d, s) => alu32!(Mod, d, r!(s)),
            Op::SMod32K(d, k) => alu32!(SMod, d, k),
            Op::SMod32X(d, s) => alu32!(SMod, d, r!(s)),
            Op::Or32K(d, k) => alu32!(Or, d, k),
            Op::Or32X(d, s) => alu32!(Or, d, r!(s)),
            Op::And32K(d, k) => alu32!(And, d, k),
            Op::And32X(d, s) => alu32!(And, d, r!(s)),
            Op::Lsh32K(d, k) => alu32!(Lsh, d, k),
            Op::Lsh32X(d, s) => alu32!(Lsh, d, r!(s)),
            Op::Rsh32K(d, k) => alu32!(Rsh, d, k),
            Op::Rsh32X(d, s) => alu32!(Rsh, d, r!(s)),
            Op::Arsh32K(d, k) => alu32!(Arsh, d, k),
            Op::Arsh32X(d, s) => alu32!(Arsh, d, r!(s)),
            Op::Xor32K(d, k) => alu32!(Xor, d, k),
            Op::Xor32X(d, s) => alu32!(Xor, d, r!(s)),
            Op::Mov32K(d, k) => r!(d) = k as u64,
            Op::Mov32X(d, s) => r!(d) = r!(s) as u32 as u64,
            Op::Neg32(d) => alu32!(Neg, d, 0u32),
            Op::MovSx32(d, s, bits) => r!(d) = sign_extend(r!(s), bits) as u32 as u64,

            Op::Zext16(d) => r!(d) = r!(d) as u16 as u64,
            Op::Zext32(d) => r!(d) = r!(d) as u32 as u64,
            Op::Bswap16(d) => r!(d) = endian(Endian::Swap, 16, r!(d)),
            Op::Bswap32(d) => r!(d) = endian(Endian::Swap, 32, r!(d)),
            Op::Bswap64(d) => r!(d) = endian(Endian::Swap, 64, r!(d)),
            Op::Nop => {}

            Op::Ja(t) => pc = t as usize,
            Op::Jeq64K(d, k, t) => jmp64!(Eq, d, k, t),
            Op::Jeq64X(d, s, t) => jmp64!(Eq, d, r!(s), t),
            Op::Jne64K(d, k, t) => jmp64!(Ne, d, k, t),
            Op::Jne64X(d, s, t) => jmp64!(Ne, d, r!(s), t),
            Op::Jgt64K(d, k, t) => jmp64!(Gt, d, k, t),
            Op::Jgt64X(d, s, t) => jmp64!(Gt, d, r!(s), t),
            Op::Jge64K(d, k, t) => jmp64!(Ge, d, k, t),
            Op::Jge64X(d, s, t) => jmp64!(Ge, d, r!(s), t),
            Op::Jlt64K(d, k, t) => jmp64!(Lt, d, k, t),
            Op::Jlt64X(d, s, t) => jmp64!(Lt, d, r!(s), t),
            Op::Jle64K(d, k, t) => jmp64!(Le, d, k, t),
            Op::Jle64X(d, s, t) => jmp64!(Le, d, r!(s), t),
            Op::Jset64K(d, k, t) => jmp64!(Set, d, k, t),
            Op::Jset64X(d, s, t) => jmp64!(Set, d, r!(s), t),
            Op::Jsgt64K(d, k, t) => jmp64!(Sgt, d, k, t),
            Op::Jsgt64X(d, s, t) => jmp64!(Sgt, d, r!(s), t),
            Op::Jsge64K(d, k, t) => jmp64!(Sge, d, k, t),
            Op::Jsge64X(d, s, t) => jmp64!(Sge, d, r!(s), t),
            Op::Jslt64K(d, k, t) => jmp64!(Slt, d, k, t),
            Op::Jslt64X(d, s, t) => jmp64!(Slt, d, r!(s), t),
            Op::Jsle64K(d, k, t) => jmp64!(Sle, d, k, t),
            Op::Jsle64X(d, s, t) => jmp64!(Sle, d, r!(s), t),
            Op::Jeq32K(d, k, t) => jmp32!(Eq, d, k, t),
            Op::Jeq32X(d, s, t) => jmp32!(Eq, d, r!(s), t),
            Op::Jne32K(d, k, t) => jmp32!(Ne, d, k, t),
            Op::Jne32X(d, s, t) => jmp32!(Ne, d, r!(s), t),
            Op::Jgt32K(d, k, t) => jmp32!(Gt, d, k, t),
            Op::Jgt32X(d, s, t) => jmp32!(Gt, d, r!(s), t),
            Op::Jge32K(d, k, t) => jmp32!(Ge, d, k, t),
            Op::Jge32X(d, s, t) => jmp32!(Ge, d, r!(s), t),
            Op::Jlt32K(d, k, t) => jmp32!(Lt, d, k, t),
            Op::Jlt32X(d, s, t) => jmp32!(Lt, d, r!(s), t),
            Op::Jle32K(d, k, t) => jmp32!(Le, d, k, t),
            Op::Jle32X(d, s, t) => jmp32!(Le, d, r!(s), t),
            Op::Jset32K(d, k, t) => jmp32!(Set, d, k, t),
            Op::Jset32X(d, s, t) => jmp32!(Set, d, r!(s), t),
            Op::Jsgt32K(d, k, t) => jmp32!(Sgt, d, k, t),
            Op::Jsgt32X(d, s, t) => jmp32!(Sgt, d, r!(s), t),
            Op::Jsge32K(d, k, t) => jmp32!(Sge, d, k, t),
            Op::Jsge32X(d, s, t) => jmp32!(Sge, d, r!(s), t),
            Op::Jslt32K(d, k, t) => jmp32!(Slt, d, k, t),
            Op::Jslt32X(d, s, t) => jmp32!(Slt, d, r!(s), t),
            Op::Jsle32K(d, k, t) => jmp32!(Sle, d, k, t),
            Op::Jsle32X(d, s, t) => jmp32!(Sle, d, r!(s), t),

            Op::LdImm64(d, k) => {
                r!(d) = k;
                pc += 1;
            }
            Op::LdImm64Tail => {
                return Err(VmError {
                    pc: cur,
                    kind: VmErrorKind::BadControlFlow,
                })
            }

            Op::LdxB(d, s, off) => ldx!(cur, d, s, off, 1, 64),
            Op::LdxH(d, s, off) => ldx!(cur, d, s, off, 2, 64),
            Op::LdxW(d, s, off) => ldx!(cur, d, s, off, 4, 64),
            Op::LdxDW(d, s, off) => ldx!(cur, d, s, off, 8, 64),
            Op::LdxSB(d, s, off) => ldx!(cur, d, s, off, 1, 8),
            Op::LdxSH(d, s, off) => ldx!(cur, d, s, off, 2, 16),
            Op::LdxSW(d, s, off) => ldx!(cur, d, s, off, 4, 32),
            Op::StB(d, off, k) => st!(cur, d, off, 1, k),
            Op::StH(d, off, k) => st!(cur, d, off, 2, k),
            Op::StW(d, off, k) => st!(cur, d, off, 4, k),
            Op::StDW(d, off, k) => st!(cur, d, off, 8, k),
            Op::StxB(d, off, s) => st!(cur, d, off, 1, r!(s)),
            Op::StxH(d, off, s) => st!(cur, d, off, 2, r!(s)),
            Op::StxW(d, off, s) => st!(cur, d, off, 4, r!(s)),
            Op::StxDW(d, off, s) => st!(cur, d, off, 8, r!(s)),
            Op::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => {
                let n = size.bytes() as u64;
                let a = r!(dst).wrapping_add(off as i64 as u64);
                let old = memory
                    .atomic(a, n, op, r!(src), regs[0])
                    .map_err(|f| fault(cur, f))?;
                let fetch = match op {
                    AtomicOp::Add { fetch }
                    | AtomicOp::Or { fetch }
                    | AtomicOp::And { fetch }
                    | AtomicOp::Xor { fetch } => fetch,
                    AtomicOp::Xchg => true,
                    AtomicOp::Cmpxchg => {
                        regs[0] = old;
                        false
                    }
                };
                if fetch {
                    r!(src) = old;
                }
            }

            Op::LdAbs(size, imm) => {
                if let Some(v) = packet_load(memory, cur, imm as i64, size)? {
                    regs[0] = v;
                } else {
                    return Ok(exit(0, config, left));
                }
            }
            Op::LdInd(size, s, imm) => {
                let off = (r!(s) as i32).wrapping_add(imm) as i64;
                if let Some(v) = packet_load(memory, cur, off, size)? {
                    regs[0] = v;
                } else {
                    return Ok(exit(0, config, left));
                }
            }

            Op::CallHelper(id) => {
                zero_deeper_frames!();
                let site = CallSite {
                    ops,
                    config,
                    cur,
                    depth,
                };
                if let Some(r0) = call_helper(id, site, &mut regs, memory, helpers, &mut left)? {
                    return Ok(exit(r0, config, left));
                }
            }
            Op::CallLocal(t) => {
                zero_deeper_frames!();
                depth = push_frame(&mut frames, depth, &mut regs, memory, pc, cur)?;
                pc = t as usize;
            }
            Op::CallReg(r) => {
                zero_deeper_frames!();
                let v = r!(r);
                if v & !0xffff_ffff == FUNC_ADDR_TAG {
                    let t = (v & 0xffff_ffff) as usize;
                    if !matches!(ops.get(t), Some(op) if *op != Op::LdImm64Tail) {
                        return Err(VmError {
                            pc: cur,
                            kind: VmErrorKind::BadCallTarget(v),
                        });
                    }
                    depth = push_frame(&mut frames, depth, &mut regs, memory, pc, cur)?;
                    pc = t;
                } else if v <= i32::MAX as u64 {
                    let site = CallSite {
                        ops,
                        config,
                        cur,
                        depth,
                    };
                    if let Some(r0) =
                        call_helper(v as i32, site, &mut regs, memory, helpers, &mut left)?
                    {
                        return Ok(exit(r0, config, left));
                    }
                } else {
                    return Err(VmError {
                        pc: cur,
                        kind: VmErrorKind::BadCallTarget(v),
                    });
                }
            }
            Op::Exit => {
                if depth == base_depth {
                    return Ok(exit(regs[0], config, left));
                }
                depth -= 1;
                let f = frames[depth % MAX_CALL_FRAMES];
                regs[6..10].copy_from_slice(&f.saved);
                regs[10] += STACK_SIZE as u64;
                memory.move_stack_low(regs[10] - STACK_SIZE as u64);
                pc = f.ret;
            }
        }
    }
}

fn exit(r0: u64, config: &Config, left: u64) -> Exit {
    Exit {
        r0,
        executed: config.budget - left,
    }
}

/// Enters a local function: saves r6..r9 and the return slot, moves r10 and the stack window
/// one frame down. Returns the new depth.
#[inline]
fn push_frame(
    frames: &mut [Frame; MAX_CALL_FRAMES],
    depth: usize,
    regs: &mut [u64; 16],
    memory: &mut MemoryMap<'_>,
    ret: usize,
    cur: usize,
) -> Result<usize, VmError> {
    // `depth` counts frames below the main one: at most MAX_CALL_FRAMES - 1 of them.
    let Some(frame) = frames
        .get_mut(depth)
        .filter(|_| depth + 1 < MAX_CALL_FRAMES)
    else {
        return Err(VmError {
            pc: cur,
            kind: VmErrorKind::CallDepth(MAX_CALL_FRAMES),
        });
    };
    frame.ret = ret;
    frame.saved.copy_from_slice(&regs[6..10]);
    regs[10] -= STACK_SIZE as u64;
    memory.move_stack_low(regs[10] - STACK_SIZE as u64);
    Ok(depth + 1)
}

/// Where a helper is called from: what a callback it starts needs to run.
#[derive(Clone, Copy)]
struct CallSite<'o> {
    ops: &'o [Op],
    config: &'o Config,
    cur: usize,
    depth: usize,
}

/// Calls helper `id`; `Some(r0)` means the helper stopped the program. `left` is the run's
/// remaining budget; callbacks the helper runs are charged to it.
#[inline(never)]
fn call_helper<H: Helpers + ?Sized>(
    id: i32,
    site: CallSite<'_>,
    regs: &mut [u64; 16],
    memory: &mut MemoryMap<'_>,
    helpers: &mut H,
    left: &mut u64,
) -> Result<Option<u64>, VmError> {
    let args = [regs[1], regs[2], regs[3], regs[4], regs[5]];
    let cur = site.cur;
    let mut ctx = HelperCtx {
        memory,
        pc: cur,
        depth: site.depth,
        ops: site.ops,
        config: site.config,
        r10: regs[10],
        left: *left,
        unzeroed: None,
        engine: None,
        trusted: false,
    };
    let result = helpers.call(id, args, &mut ctx);
    *left = ctx.left;
    let kind = match result {
        Ok(HelperReturn::Value(v)) => {
            regs[0] = v;
            return Ok(None);
        }
        Ok(HelperReturn::Stop(v)) => return Ok(Some(v)),
        Err(HelperError::Unknown) => VmErrorKind::UnknownHelper(id),
        Err(HelperError::Memory(f)) => VmErrorKind::Memory(f),
        Err(HelperError::Failed(message)) => VmErrorKind::Helper { id, message },
        Err(HelperError::Callback(e)) => return Err(*e),
    };
    Err(VmError { pc: cur, kind })
}

/// `ld_abs`/`ld_ind`: the big-endian packet bytes at `off`, `None` when out of bounds (the
/// program then ends with r0 = 0, as in the kernel), an error when no packet is configured.
fn packet_load(
    memory: &MemoryMap<'_>,
    cur: usize,
    off: i64,
    size: MemSize,
) -> Result<Option<u64>, VmError> {
    memory.packet_bytes(off, size.bytes()).ok_or(VmError {
        pc: cur,
        kind: VmErrorKind::NoPacket,
    })
}
