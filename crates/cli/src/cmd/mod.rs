//! One module per subcommand, each with its `Args` and a `run` returning the exit code.

pub mod asm;
pub mod disasm;
pub mod input;
pub mod run;
