//! Classic BPF (cBPF), the 1992 packet-filter machine behind tcpdump and
//! Linux socket filters.
//!
//! - [`Insn`] and the opcode constants in [`op`] model `struct sock_filter`.
//! - [`validate`] applies the Linux kernel's acceptance rules.
//! - [`run`] interprets a program with libpcap's `bpf_filter` semantics;
//!   [`run_with_ancillary`] adds the Linux `SKF_AD_*` loads ([`Ancillary`]);
//!   [`Filter`] pre-decodes a program once for fast repeated runs.
//! - [`image`] and [`dump`] print programs exactly like `tcpdump -d`,
//!   `-dd` and `-ddd`; [`parse_ddd`] and [`parse_dd`] read the latter two back.
//! - [`to_ebpf`] translates a program to eBPF ([`bpfkit_isa::Insn`]) that
//!   returns what [`run`] returns.
//!
//! ```
//! use bpfkit_cbpf::{dump, parse_ddd, run, validate, DumpFormat};
//! // `tcpdump -ddd -y EN10MB ip`
//! let prog = parse_ddd("4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n").unwrap();
//! validate(&prog).unwrap();
//! assert_eq!(
//!     dump(&prog, DumpFormat::Image),
//!     "(000) ldh      [12]\n\
//!      (001) jeq      #0x800           jt 2\tjf 3\n\
//!      (002) ret      #262144\n\
//!      (003) ret      #0\n"
//! );
//! let mut frame = [0u8; 34];
//! frame[12..14].copy_from_slice(&[0x08, 0x00]);
//! assert_eq!(run(&prog, &frame, 34), 262144);
//! ```
#![deny(missing_docs)]

mod ancillary;
mod disasm;
mod ebpf;
mod filter;
mod insn;
mod interp;
pub mod op;
mod parse;
mod validate;

pub use ancillary::*;
pub use disasm::{dump, image, DumpFormat};
pub use ebpf::{to_ebpf, to_ebpf_with, WireLen};
pub use filter::Filter;
pub use insn::Insn;
pub use interp::{run, run_with_ancillary, MAX_BACKWARD_JUMPS};
pub use parse::{parse_dd, parse_ddd, ParseError};
pub use validate::{validate, ValidateError, ValidateErrorKind};
