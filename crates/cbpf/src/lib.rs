//! Classic BPF (cBPF), the 1992 packet-filter machine behind tcpdump and seccomp.
#![deny(missing_docs)]

mod insn;

pub use insn::Insn;
pub mod op;
