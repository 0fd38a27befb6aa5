//! Classic pcap files, read the way libpcap 1.10 reads them.

use crate::error::{ReadError, ReadErrorKind};
use crate::linktype::{Dlt, LinkType};
use crate::pseudo::{needs_post_process, post_process};
use crate::reader::{Format, Found, Input, Interface, Order, Precision, SavefileHeader, Timestamp};
use std::io::BufRead;

/// The magic numbers libpcap reads, by file byte order.
#[derive(Clone, Copy)]
pub(crate) struct Magic {
    order: Order,
    precision: Precision,
    /// Alexey Kuznetzov's patched format: 24-byte record headers.
    modified: bool,
}

const MICRO: u32 = 0xa1b2_c3d4;
const NANO: u32 = 0xa1b2_3c4d;
const MODIFIED: u32 = 0xa1b2_cd34;

impl Magic {
    pub fn detect(bytes: [u8; 4]) -> Option<Magic> {
        for big in [false, true] {
            let order = Order { big };
            let (precision, modified) = match order.u32(&bytes) {
                MICRO => (Precision::Micro, false),
                NANO => (Precision::Nano, false),
                MODIFIED => (Precision::Micro, true),
                _ => continue,
            };
            return Some(Magic {
                order,
                precision,
                modified,
            });
        }
        None
    }
}

/// How old files store caplen and len (libpcap's `lengths_swapped`).
#[derive(Clone, Copy)]
enum Lengths {
    Normal,
    /// Before 2.3 the two were written in the other order.
    Swapped,
    /// In 2.3 it depends on the writer: swap when caplen > len.
    Maybe,
}

pub(crate) struct State {
    order: Order,
    precision: Precision,
    record_header: usize,
    lengths: Lengths,
    dlt: Dlt,
    link_type: LinkType,
    snapshot: u32,
    /// Whether packets need libpcap's fix-ups (then they are always copied).
    fixups: bool,
    /// The largest caplen handed out in place: more is cut or an error.
    in_place_caplen: u32,
    pub interface: Interface,
}

/// A record header's fields, lengths in the order libpcap settles on.
struct RecordHeader {
    sec: i64,
    frac: u64,
    caplen: u32,
    wirelen: u32,
}

impl State {
    /// Reads the rest of the 24-byte file header (the magic is consumed).
    pub fn open<R: BufRead>(
        input: &mut Input<R>,
        magic: Magic,
    ) -> Result<(State, Format, SavefileHeader), ReadError> {
        let mut rest = [0u8; 20];
        let got = input.fill(&mut rest)?;
        if got < rest.len() {
            return Err(ReadError {
                offset: 0,
                kind: ReadErrorKind::Truncated {
                    what: "pcap file header",
                    needed: 24,
                    got: 4 + got as u64,
                },
            });
        }
        let o = magic.order;
        let (major, minor) = (o.u16(&rest[0..]), o.u16(&rest[2..]));
        let snaplen = o.u32(&rest[12..]);
        let raw_link = o.u32(&rest[16..]);
        // libpcap: version 2.x up to 2.4, or the odd 543.0.
        if !((major == 2 && minor <= 4) || (major == 543 && minor == 0)) {
            return Err(ReadError {
                offset: 4,
                kind: ReadErrorKind::UnsupportedVersion {
                    format: "pcap",
                    major,
                    minor,
                },
            });
        }
        let lengths = match (major, minor) {
            (2, m) if m < 3 => Lengths::Swapped,
            (2, 3) => Lengths::Maybe,
            (543, _) => Lengths::Swapped,
            _ => Lengths::Normal,
        };
        let link_type = LinkType(raw_link & 0x03ff_ffff);
        let dlt = link_type.to_dlt();
        let mut snapshot = dlt.adjust_snaplen(snaplen);
        if magic.modified && dlt == Dlt::EN10MB {
            // Captures in this format may carry a fake 14-byte Ethernet header.
            snapshot = snapshot.saturating_add(14).min(i32::MAX as u32);
        }
        let state = State {
            order: o,
            precision: magic.precision,
            record_header: if magic.modified { 24 } else { 16 },
            lengths,
            dlt,
            link_type,
            snapshot,
            fixups: needs_post_process(dlt, o.swapped()),
            in_place_caplen: snapshot.min(dlt.max_snaplen()),
            interface: Interface {
                link_type,
                snaplen,
                ts_units_per_sec: magic.precision.units_per_sec(),
                ts_offset: 0,
                name: None,
            },
        };
        let format = Format::Pcap {
            big_endian: o.big,
            precision: magic.precision,
            modified: magic.modified,
            version: (major, minor),
        };
        let header = SavefileHeader {
            dlt,
            link_type_ext: raw_link & 0xfc00_0000,
            snaplen: snapshot,
            precision: Precision::Micro,
        };
        Ok((state, format, header))
    }

    #[inline(always)]
    fn parse_header(&self, header: &[u8]) -> RecordHeader {
        let o = self.order;
        let (mut caplen, mut wirelen) = (o.u32(&header[8..]), o.u32(&header[12..]));
        match self.lengths {
            Lengths::Normal => {}
            Lengths::Maybe if caplen <= wirelen => {}
            Lengths::Maybe | Lengths::Swapped => std::mem::swap(&mut caplen, &mut wirelen),
        }
        RecordHeader {
            sec: i64::from(o.u32(&header[0..]) as i32),
            frac: u64::from(o.u32(&header[4..])),
            caplen,
            wirelen,
        }
    }

    #[inline(always)]
    fn found<'a>(&self, h: &RecordHeader, wirelen: u32, data: &'a [u8]) -> Found<'a> {
        Found {
            ts: Timestamp {
                sec: h.sec,
                frac: h.frac,
                units_per_sec: self.precision.units_per_sec(),
            },
            wirelen,
            interface: 0,
            link_type: self.link_type,
            data,
        }
    }

    /// Whether any packet of this file can be handed out in place.
    pub fn in_place_possible(&self) -> bool {
        !self.fixups
    }

    /// The record at `at` of `data` and the offset after it, if it is one that
    /// [`next`](State::next) hands out in place (valid, whole, uncut, needing no fix-up).
    #[inline(always)]
    pub fn record_in_place<'a>(&self, data: &'a [u8], at: usize) -> Option<(Found<'a>, usize)> {
        let size = self.record_header;
        let header = data.get(at..at.checked_add(size)?)?;
        if self.fixups {
            return None;
        }
        let h = self.parse_header(header);
        let start = at + size;
        let end = start.checked_add(h.caplen as usize)?;
        if h.caplen > self.in_place_caplen || end > data.len() {
            return None;
        }
        Some((self.found(&h, h.wirelen, &data[start..end]), end))
    }

    /// The seconds of the record header at `at`, if there is one.
    pub fn seconds_at(&self, data: &[u8], at: usize) -> Option<i64> {
        let header = data.get(at..at.checked_add(self.record_header)?)?;
        Some(self.parse_header(header).sec)
    }

    /// Whether the record header at `at` looks like one this file would hold:
    /// time within `max_gap` seconds of `near_sec`, a sub-second fraction below
    /// one second, a captured length within the snapshot length and no longer
    /// than the wire length. (Without the time, a header read 4 bytes late
    /// passes whenever caplen = wirelen: its fields are the real ones shifted.)
    pub fn plausible_at(&self, data: &[u8], at: usize, near_sec: i64, max_gap: i64) -> bool {
        let Some(header) = data.get(at..at.saturating_add(self.record_header)) else {
            return false;
        };
        let h = self.parse_header(header);
        h.sec.abs_diff(near_sec) <= max_gap.unsigned_abs()
            && h.frac < self.precision.units_per_sec()
            && h.caplen <= self.in_place_caplen
            && h.caplen <= h.wirelen
    }

    /// The next record: in place when it lies whole in the input's buffer and
    /// needs no change, else copied into `buf`.
    #[inline]
    pub fn next<'a, R: BufRead>(
        &mut self,
        input: &'a mut Input<R>,
        buf: &'a mut Vec<u8>,
    ) -> Result<Option<Found<'a>>, ReadError> {
        let size = self.record_header;
        let window = input.peek()?;
        if window.len() >= size && !self.fixups {
            let h = self.parse_header(&window[..size]);
            let caplen = h.caplen as usize;
            // Anything unusual (too long, cut by the snapshot length, past the
            // buffer) takes the copying path, which reports it as libpcap does.
            if h.caplen <= self.in_place_caplen && window.len() - size >= caplen {
                let record = input.take(size + caplen)?;
                return Ok(Some(self.found(&h, h.wirelen, &record[size..])));
            }
        }
        self.next_copied(input, buf)
    }

    /// Reads one record into `buf`.
    #[inline(never)]
    fn next_copied<'a, R: BufRead>(
        &mut self,
        input: &'a mut Input<R>,
        buf: &'a mut Vec<u8>,
    ) -> Result<Option<Found<'a>>, ReadError> {
        let start = input.pos;
        let truncated = |what, needed: u64, got: u64| ReadError {
            offset: start,
            kind: ReadErrorKind::Truncated { what, needed, got },
        };
        let mut header = [0u8; 24];
        let header = &mut header[..self.record_header];
        match input.fill(header)? {
            0 => return Ok(None),
            n if n < header.len() => {
                return Err(truncated(
                    "packet record header",
                    header.len() as u64,
                    n as u64,
                ))
            }
            _ => {}
        }
        let h = self.parse_header(header);
        let (caplen, mut wirelen) = (h.caplen, h.wirelen);
        if caplen > self.dlt.max_snaplen() {
            return Err(ReadError {
                offset: start,
                kind: ReadErrorKind::CaplenTooLarge {
                    caplen,
                    max: self.dlt.max_snaplen().min(self.snapshot),
                    dlt: self.dlt,
                },
            });
        }
        // Like libpcap, keep at most the snapshot length and skip the rest.
        let keep = caplen.min(self.snapshot);
        buf.clear();
        let got = input.append(keep.into(), buf)?;
        if got < u64::from(keep) {
            return Err(truncated("packet data", caplen.into(), got));
        }
        if caplen > keep {
            let skipped = input.skip(u64::from(caplen - keep))?;
            if skipped < u64::from(caplen - keep) {
                return Err(truncated("packet data", caplen.into(), got + skipped));
            }
        }
        post_process(self.dlt, self.order.swapped(), &mut wirelen, buf);
        Ok(Some(self.found(&h, wirelen, buf)))
    }
}
