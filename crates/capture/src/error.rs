//! Errors of the capture-file reader and writer.

use crate::linktype::Dlt;
use std::io;

/// A capture file could not be read further. Every packet before `offset`
/// has been delivered.
#[derive(Debug, thiserror::Error)]
#[error("byte offset {offset}: {kind}")]
pub struct ReadError {
    /// Offset in the file of the damaged header, record or block.
    pub offset: u64,
    /// What is wrong.
    pub kind: ReadErrorKind,
}

/// What is wrong with a capture file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// The underlying reader failed.
    #[error("read failed: {0}")]
    Io(#[source] io::Error),
    /// The first bytes are neither a pcap magic number nor a pcapng section header.
    #[error("not a pcap or pcapng file (it starts with {0:02x?})")]
    UnknownFormat(Vec<u8>),
    /// The file ends in the middle of something.
    #[error("truncated {what}: {needed} bytes needed, only {got} present")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        needed: u64,
        /// Bytes the file had left.
        got: u64,
    },
    /// A version this reader (like libpcap) does not read.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// `"pcap"` or `"pcapng"`.
        format: &'static str,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// A packet longer than libpcap accepts for its link type.
    #[error("packet capture length {caplen} is bigger than the maximum {max} for link type {dlt}")]
    CaplenTooLarge {
        /// The record's capture length.
        caplen: u32,
        /// The limit (the snapshot length for pcapng).
        max: u32,
        /// The link type.
        dlt: Dlt,
    },
    /// A pcapng block's length field is impossible.
    #[error("pcapng block length {length} is invalid: {why}")]
    BadBlockLength {
        /// The length field.
        length: u32,
        /// Why it is rejected.
        why: &'static str,
    },
    /// The length in a pcapng block's trailer differs from its header.
    #[error("pcapng block length {header} in the header but {trailer} in the trailer")]
    TrailerMismatch {
        /// Length in the header.
        header: u32,
        /// Length in the trailer.
        trailer: u32,
    },
    /// A packet names an interface that was not described.
    #[error("packet on interface {0}, but there is no Interface Description Block for it")]
    UnknownInterface(u32),
    /// Any other violation of the pcapng format.
    #[error("{0}")]
    Malformed(String),
}

/// A capture file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The underlying writer failed.
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    /// The link type has no value for files (libpcap's `dlt_to_linktype` fails).
    #[error("link-layer type {0} isn't supported in savefiles")]
    UnsupportedLinkType(Dlt),
    /// The packet is longer than a pcap record can describe.
    #[error("packet of {0} bytes is too long for a pcap record")]
    PacketTooLong(usize),
}
