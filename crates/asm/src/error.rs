//! The assembler's error type.

use thiserror::Error;

/// A syntax or range error in assembler source, located by line and column (both 1-based).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AsmError {
    /// 1-based source line.
    pub line: usize,
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What was expected or what is wrong.
    pub message: String,
}

impl AsmError {
    pub(crate) fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        AsmError {
            line,
            column,
            message: message.into(),
        }
    }
}
