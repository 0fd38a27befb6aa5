//! Why a program was rejected.

use thiserror::Error;

/// A rejection: the instruction (slot index) where it was detected, a category, and the
/// message in the Linux verifier's wording where the kernel has one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {insn}: {message}")]
pub struct VerifyError {
    /// Slot index of the offending instruction (what the kernel's log calls `insn N`).
    pub insn: usize,
    /// What kind of rule was broken.
    pub kind: ErrorKind,
    /// The explanation, in kernel wording (`invalid access to packet, off=12 size=1, ...`).
    pub message: String,
}

impl VerifyError {
    /// A rejection at `insn`.
    pub fn new(insn: usize, kind: ErrorKind, message: impl Into<String>) -> VerifyError {
        VerifyError {
            insn,
            kind,
            message: message.into(),
        }
    }
}

/// Categories of rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Control-flow structure: jumps out of range, unreachable code, bad last instruction,
    /// bad call targets, too many instructions.
    Structure,
    /// An instruction the verifier does not accept in this context (reserved encodings,
    /// unsupported pseudo loads, kfuncs, instructions the program type forbids).
    Unsupported,
    /// Reading a register that was never written (`R1 !read_ok`) or writing r10.
    Register,
    /// A memory access outside what the pointer allows, or through a non-pointer.
    MemoryAccess,
    /// Arithmetic on pointers that is not allowed (`pointer arithmetic on pkt_end prohibited`).
    PointerArithmetic,
    /// A pointer would escape (stored where scalars go, returned, compared unsafely).
    PointerLeak,
    /// The program's return value is outside the range its type allows.
    ReturnValue,
    /// A helper or function call with wrong arguments, or an unknown helper.
    Call,
    /// An acquired reference (ringbuf record, lock) not released on some path.
    Reference,
    /// A loop that does not terminate.
    InfiniteLoop,
    /// Verification would exceed the complexity limit.
    TooComplex,
}
