//! Capture files and live capture for bpfkit's tcpdump-compatible filter.
//!
//! - [`Reader`] streams packets out of pcap files (either byte order,
//!   micro- or nanosecond, the old 2.x variants) and pcapng files (sections
//!   in either byte order, several interfaces with their own link types and
//!   timestamp resolutions, enhanced, simple and obsolete packet blocks).
//!   Damaged input ends in a [`ReadError`] naming the byte offset, after
//!   every good packet before it. Over a slice (e.g. a [`MappedFile`]) it
//!   hands packets out in place, without copying, and [`Reader::lanes`]
//!   walks a large pcap file in several parts at once when order does not
//!   matter (counting).
//! - [`PcapWriter`] writes pcap files byte for byte as libpcap's
//!   `pcap_dump` does, so `Reader` + `PcapWriter` reproduce `tcpdump -r IN -w OUT`.
//! - [`LinkType`] and [`Dlt`] are link-layer types with libpcap's names
//!   and its mapping between file and in-memory values.
//! - [`live`] captures from a Linux interface through an `AF_PACKET` socket
//!   with a classic BPF filter attached in the kernel.
//!
//! ```
//! use bpfkit_capture::{PcapWriter, Reader};
//! # let mut input = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0];
//! # input.extend([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x42]);
//! // Copy every packet of a capture to a new pcap file, as `tcpdump -r - -w -` would.
//! let mut reader = Reader::new(&input[..])?;
//! let mut writer = PcapWriter::new(Vec::new(), &reader.savefile_header())?;
//! while let Some(record) = reader.next_record()? {
//!     writer.write_record(&record)?;
//! }
//! assert_eq!(writer.into_inner(), input);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod lanes;
mod linktype;
#[cfg(target_os = "linux")]
pub mod live;
mod mapped;
mod pcap;
mod pcapng;
mod pseudo;
mod reader;
mod writer;

pub use error::{ReadError, ReadErrorKind, WriteError};
pub use lanes::Lanes;
pub use linktype::{Dlt, LinkType, MAXIMUM_SNAPLEN};
pub use mapped::MappedFile;
pub use reader::{
    Format, Interface, OwnedRecord, Precision, Reader, Record, SavefileHeader, Timestamp,
};
pub use writer::PcapWriter;
