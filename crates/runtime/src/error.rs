//! The runtime's error type. Every message names the place: the program, the instruction
//! (slot index), the map, or the test-run argument at fault.

use thiserror::Error;

/// Why loading an object or running a program failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The ELF object could not be read or parsed.
    #[error("object: {0}")]
    Object(#[from] bpfkit_object::ObjectError),
    /// Reading the object file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A map of the object could not be created or initialised.
    #[error("map `{map}`: {message}")]
    Map {
        /// The map's name.
        map: String,
        /// What went wrong.
        message: String,
    },
    /// A program could not be loaded (bad instruction, unknown helper, unresolved reference).
    #[error("program `{program}`: {message}")]
    Load {
        /// The program's name.
        program: String,
        /// What went wrong, naming the instruction.
        message: String,
    },
    /// The object has no program of this name.
    #[error("no program named `{0}` in the object")]
    NoSuchProgram(String),
    /// The object has no program at all.
    #[error("the object has no program")]
    NoProgram,
    /// The object has no map of this name.
    #[error("no map named `{0}` in the object")]
    NoSuchMap(String),
    /// The program's type cannot be test-run here.
    #[error("program `{program}`: test-run of {prog_type} programs is not supported (xdp, socket_filter, sched_cls and sched_act are)")]
    UnsupportedProgType {
        /// The program's name.
        program: String,
        /// Its type.
        prog_type: String,
    },
    /// A test-run argument the kernel would refuse (it returns `EINVAL` for these).
    #[error("invalid test-run input: {0}")]
    InvalidInput(String),
    /// The program faulted at run time (the kernel's verifier would have rejected it).
    #[error("program `{program}`: {error}")]
    Run {
        /// The program that faulted (after tail calls: the one running).
        program: String,
        /// The error, naming the instruction (checked JIT code reports the interpreter's).
        error: bpfkit_vm::VmError,
    },
    /// Memory for packets and contexts could not be mapped below 4 GiB.
    #[error("cannot allocate packet memory below 4 GiB: {0}")]
    LowMemory(std::io::Error),
}
