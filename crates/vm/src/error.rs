//! Load-time and run-time errors. Both name the instruction (slot index) at fault.

use bpfkit_isa::{DecodeErrorKind, LdImm64Kind};
use std::fmt;
use thiserror::Error;

/// A program was rejected by [`Program::load`](crate::Program::load) and friends.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {pc}: {kind}")]
pub struct LoadError {
    /// Slot index of the offending instruction.
    pub pc: usize,
    /// What is wrong with it.
    pub kind: LoadErrorKind,
}

/// Why a program cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The bytes do not decode.
    #[error("{0}")]
    Decode(DecodeErrorKind),
    /// The program has no instruction.
    #[error("empty program")]
    Empty,
    /// The program has more slots than a `u32` jump target can address.
    #[error("program of {0} slots is too large")]
    TooLarge(usize),
    /// A [`Decoded`](bpfkit_isa::Decoded) list whose pcs do not follow the slot sizes.
    #[error("instruction recorded at slot {found}, expected slot {expected}")]
    BadSlotIndex {
        /// The pc the list gives.
        found: usize,
        /// The pc implied by the preceding instructions.
        expected: usize,
    },
    /// A jump, call or function address leads outside the program.
    #[error("{what} target {target} is outside the program (0..{len})")]
    TargetOutOfRange {
        /// "jump", "call" or "function address".
        what: &'static str,
        /// The target slot (may be negative).
        target: i64,
        /// Number of slots.
        len: usize,
    },
    /// A jump, call or function address leads into the second slot of an `lddw`.
    #[error("{what} target {target} is the second slot of an lddw")]
    TargetInLdImm64 {
        /// "jump", "call" or "function address".
        what: &'static str,
        /// The target slot.
        target: usize,
    },
    /// The last instruction can fall through past the end of the program.
    #[error("the last instruction falls through past the end of the program")]
    FallsOffEnd,
    /// The instruction writes r10, the read-only frame pointer.
    #[error("r10 (the frame pointer) is read-only")]
    WritesFramePointer,
    /// An `lddw` whose pseudo source (map fd, BTF id...) a loader must resolve first.
    #[error("unresolved pseudo lddw ({0:?}): resolve it to a plain constant before loading")]
    UnresolvedPseudo(LdImm64Kind),
    /// Calls of kernel functions cannot be interpreted.
    #[error("kfunc call (btf id {0}) is not supported")]
    Kfunc(i32),
    /// A `call` names a helper the host did not register.
    #[error("unknown helper {0}")]
    UnknownHelper(i32),
    /// A typed instruction no encoding can express (e.g. a 3-byte swap).
    #[error("invalid instruction: {0}")]
    Invalid(&'static str),
}

/// A run stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {pc}: {kind}")]
pub struct VmError {
    /// Slot index of the instruction that failed.
    pub pc: usize,
    /// What went wrong.
    pub kind: VmErrorKind,
}

/// Why a run stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VmErrorKind {
    /// A load, store or atomic touched memory outside the allowed regions.
    #[error("{0}")]
    Memory(#[from] MemFault),
    /// A bpf-to-bpf call would exceed the frame limit.
    #[error("call depth exceeds {0} frames")]
    CallDepth(usize),
    /// The instruction budget ran out.
    #[error("instruction budget of {0} exceeded")]
    Budget(u64),
    /// A call names a helper the host did not register.
    #[error("unknown helper {0}")]
    UnknownHelper(i32),
    /// A helper reported a failure.
    #[error("helper {id} failed: {message}")]
    Helper {
        /// The helper number.
        id: i32,
        /// What the helper said.
        message: String,
    },
    /// `callx` on a register that holds neither a helper number nor a function address.
    #[error("callx target {0:#x} is neither a helper number nor a function address")]
    BadCallTarget(u64),
    /// `ld_abs`/`ld_ind` without a packet configured.
    #[error("packet load without a packet")]
    NoPacket,
    /// Control reached an `lddw` second slot or left the program (cannot happen for loaded programs).
    #[error("control reached an invalid slot")]
    BadControlFlow,
}

/// What kind of access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An atomic read-modify-write.
    Atomic,
}

impl fmt::Display for AccessKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
            AccessKind::Atomic => "atomic access",
        })
    }
}

/// Why a memory access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultReason {
    /// No region contains the first byte.
    NoRegion,
    /// The access starts inside the region `[start, end)` but does not end inside it.
    CrossesEnd {
        /// First address of the region.
        start: u64,
        /// One past its last address.
        end: u64,
    },
    /// A store or atomic into a read-only region.
    ReadOnly,
    /// The address is not a multiple of the access size (atomics, or when alignment is checked).
    Misaligned,
}

/// A refused memory access: what, how large, where, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub struct MemFault {
    /// Read, write or atomic.
    pub access: AccessKind,
    /// Size in bytes.
    pub size: u64,
    /// The first address accessed.
    pub addr: u64,
    /// Why it was refused.
    pub reason: FaultReason,
}

impl fmt::Display for MemFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (adjective, why) = match self.reason {
            FaultReason::NoRegion => ("out-of-bounds ", "no region".to_string()),
            FaultReason::CrossesEnd { start, end } => (
                "out-of-bounds ",
                format!("crosses the end of region {start:#x}..{end:#x}"),
            ),
            FaultReason::ReadOnly => ("", "read-only region".to_string()),
            FaultReason::Misaligned => ("misaligned ", "not a multiple of the size".to_string()),
        };
        let plural = if self.size == 1 { "" } else { "s" };
        write!(
            f,
            "{adjective}{} of {} byte{plural} at {:#x} ({why})",
            self.access, self.size, self.addr
        )
    }
}
