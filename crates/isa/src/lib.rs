//! The eBPF instruction set (RFC 9669, including the v4 additions) as typed Rust values.
//!
//! Every other bpfkit crate speaks in terms of [`Insn`]: the assembler produces it,
//! the disassembler prints it, the verifier reasons about it and the engines execute it.
//! Raw 8-byte slots ([`RawInsn`]) exist only at the edges (files, the kernel).
//!
//! A program is a sequence of *slots*. Every instruction takes one slot except the
//! 64-bit immediate load (`lddw`), which takes two. Jump and call offsets count slots,
//! so [`decode`] returns each instruction together with the slot it starts at.
//!
//! ```
//! use bpfkit_isa::{decode, encode, Insn, AluOp, Width, Reg, Operand};
//! let prog = [
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(42) },
//!     Insn::Exit,
//! ];
//! let bytes = encode(&prog);
//! let back: Vec<Insn> = decode(&bytes).unwrap().into_iter().map(|d| d.insn).collect();
//! assert_eq!(back, prog);
//! ```
#![deny(missing_docs)]

mod decode;
mod encode;
mod insn;
pub mod opcode;
mod raw;

pub use decode::{decode, decode_raw, DecodeError, DecodeErrorKind, Decoded};
pub use encode::{encode, encode_raw};
pub use insn::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg, Width,
};
pub use raw::RawInsn;

/// Size of the stack available to each call frame, in bytes.
pub const STACK_SIZE: usize = 512;
/// Maximum depth of bpf-to-bpf calls (frames), as in the kernel.
pub const MAX_CALL_FRAMES: usize = 8;
