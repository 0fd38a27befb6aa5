//! bpfkit's eBPF verifier (work in progress).
#![deny(missing_docs)]

pub mod bounds;
pub mod branch;
pub mod scalar_ops;
pub mod tnum;
