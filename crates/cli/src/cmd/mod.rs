//! One module per subcommand, each with its `Args` and a `run` returning the exit code.

pub mod asm;
pub mod disasm;
pub mod filter;
pub mod input;
pub mod jited;
pub mod run;
pub mod test_run;
pub mod verify;
