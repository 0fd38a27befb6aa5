//! The error type of this crate.

use bpfkit_isa::DecodeError;
use thiserror::Error;

/// Why an object could not be loaded or built. Every variant names the place:
/// an ELF section, a symbol, a byte offset, a map or a program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The bytes are not a well-formed ELF file (bad header, tables out of bounds...).
    #[error("malformed ELF: {0}")]
    Elf(String),
    /// A well-formed ELF that is not a little-endian 64-bit BPF object.
    #[error("unsupported ELF: {0}")]
    UnsupportedElf(String),
    /// A section whose contents are invalid.
    #[error("section `{section}`: {reason}")]
    Section {
        /// Section name (or `#index` when the name itself is unreadable).
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// An executable section whose name selects no known program type.
    #[error("section `{section}`: unknown program section kind")]
    UnknownSection {
        /// Section name.
        section: String,
    },
    /// A symbol that is malformed or points outside its section.
    #[error("symbol `{symbol}`: {reason}")]
    Symbol {
        /// Symbol name (or `#index`).
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// A relocation that cannot be applied.
    #[error("relocation in `{section}` at offset {offset:#x} against `{symbol}`: {reason}")]
    Relocation {
        /// Section the relocation patches.
        section: String,
        /// Byte offset of the patched instruction in that section.
        offset: u64,
        /// Target symbol name (or `#index`).
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// Malformed or unexpected BTF type information.
    #[error("BTF: {0}")]
    Btf(String),
    /// An invalid map definition.
    #[error("map `{map}`: {reason}")]
    Map {
        /// Map name.
        map: String,
        /// What is wrong.
        reason: String,
    },
    /// An invalid program (undecodable instructions, bad map reference...).
    #[error("program `{program}`: {reason}")]
    Program {
        /// Program name.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// A program whose linked instructions do not decode.
    #[error("program `{program}`: {source}")]
    Decode {
        /// Program name.
        program: String,
        /// The decoder's error (its `index` is the slot in the linked program).
        source: DecodeError,
    },
}

impl ObjectError {
    pub(crate) fn section(section: impl Into<String>, reason: impl Into<String>) -> Self {
        ObjectError::Section {
            section: section.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn symbol(symbol: impl Into<String>, reason: impl Into<String>) -> Self {
        ObjectError::Symbol {
            symbol: symbol.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn map(map: impl Into<String>, reason: impl Into<String>) -> Self {
        ObjectError::Map {
            map: map.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn program(program: impl Into<String>, reason: impl Into<String>) -> Self {
        ObjectError::Program {
            program: program.into(),
            reason: reason.into(),
        }
    }
}
