//! Compilation errors, each naming the place in the filter text it refers to.

use std::fmt;

/// A place in the filter expression: byte offset plus 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset from the start of the expression.
    pub offset: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in bytes) within the line.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` within `text`.
    pub fn locate(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Position {
            offset,
            line,
            column: offset - line_start + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a filter expression could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A character sequence that is not a token (or a malformed number/address).
    #[error("{pos}: {message}")]
    Lex {
        /// Where the bad text starts.
        pos: Position,
        /// What is wrong with it.
        message: String,
    },
    /// The tokens do not form an expression of the language.
    #[error("{pos}: syntax error: unexpected {found}, expected {expected}")]
    Syntax {
        /// Where the unexpected token starts.
        pos: Position,
        /// The token found there.
        found: String,
        /// What the grammar allows there.
        expected: String,
    },
    /// A well-formed expression that libpcap also rejects (bad qualifier
    /// combination, unknown name, unsupported on this link type, ...).
    #[error("{pos}: {message}")]
    Semantic {
        /// Start of the offending primitive.
        pos: Position,
        /// libpcap-style explanation.
        message: String,
    },
    /// The link-layer type is not supported by this compiler.
    #[error("unsupported link-layer type {linktype}: {message}")]
    LinkType {
        /// The DLT_ value.
        linktype: u32,
        /// Why it is rejected.
        message: String,
    },
    /// A compile option makes every program impossible (e.g. a snaplen of 0).
    #[error("{0}")]
    Options(String),
    /// With optimization on, the program would reject every packet
    /// (libpcap refuses such expressions too, e.g. `arp` on raw IP).
    #[error("expression rejects all packets")]
    RejectsAll,
    /// The optimizer found a constant division or modulo by zero, or a
    /// shift by more than 31 bits (libpcap's optimizer refuses these too).
    #[error("{0}")]
    Constant(String),
    /// The generated program cannot be laid out (e.g. a block-local jump
    /// out of range); carries the block-local statement index.
    #[error("code generation failed at statement {index}: {message}")]
    Layout {
        /// Statement index inside the block being laid out.
        index: usize,
        /// What went wrong.
        message: String,
    },
}
