//! Writing pcap files byte for byte as libpcap's `pcap_dump` does.

use crate::error::WriteError;
use crate::reader::{Precision, Record, SavefileHeader, Timestamp};
use std::io::Write;

/// Writes a classic pcap file: the 24-byte header of version 2.4, then one
/// 16-byte record header and the captured bytes per packet, every field in
/// the machine's byte order, exactly as libpcap's `pcap_dump_open` and
/// `pcap_dump` do. Given a reader's [`SavefileHeader`] and its records, it
/// produces the bytes of `tcpdump -r IN -w OUT`.
///
/// ```
/// use bpfkit_capture::{PcapWriter, Precision, SavefileHeader, Dlt, Timestamp};
/// let header = SavefileHeader { dlt: Dlt::RAW, link_type_ext: 0, snaplen: 65535, precision: Precision::Micro };
/// let mut w = PcapWriter::new(Vec::new(), &header).unwrap();
/// let ts = Timestamp { sec: 1, frac: 2_500, units_per_sec: 1_000_000_000 };
/// w.write_packet(ts, 20, &[0x45, 0]).unwrap();
/// let bytes = w.into_inner();
/// assert_eq!(&bytes[20..24], &101u32.to_ne_bytes()); // LINKTYPE_RAW
/// assert_eq!(&bytes[28..32], &2u32.to_ne_bytes()); // 2500 ns = 2 us
/// assert_eq!(bytes.len(), 24 + 16 + 2);
/// ```
pub struct PcapWriter<W> {
    out: W,
    precision: Precision,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. Fails like libpcap when the link type has no
    /// file value.
    pub fn new(mut out: W, header: &SavefileHeader) -> Result<PcapWriter<W>, WriteError> {
        let link_type = header
            .dlt
            .to_linktype()
            .ok_or(WriteError::UnsupportedLinkType(header.dlt))?;
        let magic: u32 = match header.precision {
            Precision::Micro => 0xa1b2_c3d4,
            Precision::Nano => 0xa1b2_3c4d,
        };
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&magic.to_ne_bytes());
        bytes.extend_from_slice(&2u16.to_ne_bytes());
        bytes.extend_from_slice(&4u16.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // thiszone
        bytes.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        bytes.extend_from_slice(&header.snaplen.to_ne_bytes());
        bytes.extend_from_slice(&(link_type.0 | header.link_type_ext).to_ne_bytes());
        out.write_all(&bytes)?;
        Ok(PcapWriter {
            out,
            precision: header.precision,
        })
    }

    /// Appends one packet. The seconds and the fraction are truncated to
    /// 32 bits like libpcap's `(bpf_int32)` casts.
    pub fn write_packet(
        &mut self,
        ts: Timestamp,
        wirelen: u32,
        data: &[u8],
    ) -> Result<(), WriteError> {
        let caplen =
            u32::try_from(data.len()).map_err(|_| WriteError::PacketTooLong(data.len()))?;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&(ts.sec as u32).to_ne_bytes());
        let frac = ts.subsec(self.precision.units_per_sec()) as u32;
        header[4..8].copy_from_slice(&frac.to_ne_bytes());
        header[8..12].copy_from_slice(&caplen.to_ne_bytes());
        header[12..16].copy_from_slice(&wirelen.to_ne_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(data)?;
        Ok(())
    }

    /// Appends a record read from a file.
    pub fn write_record(&mut self, record: &Record<'_>) -> Result<(), WriteError> {
        self.write_packet(record.ts, record.wirelen, record.data)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        Ok(self.out.flush()?)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}
