//! pcapng files: section headers in either byte order, interface
//! descriptions with their timestamp options, enhanced, simple and obsolete
//! packet blocks; other blocks are skipped.
//!
//! Checks and limits follow libpcap 1.10. Unlike libpcap, interfaces may
//! have different link types and snapshot lengths, and a section may use a
//! different byte order than the previous one.

use crate::error::{ReadError, ReadErrorKind};
use crate::linktype::Dlt;
use crate::pseudo::{needs_post_process, post_process};
use crate::reader::{Found, Input, Interface, Order, Precision, SavefileHeader, Timestamp};
use crate::LinkType;
use std::io::BufRead;

/// The section header block type, `\n\r\r\n` in both byte orders.
pub(crate) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// libpcap refuses a first section header longer than this.
const SHB_MAX: u32 = 1024 * 1024;
/// libpcap's initial block size limit.
const INITIAL_MAX_BLOCK: u32 = 16 * 1024 * 1024;

/// Where an Enhanced Packet Block found whole in the input's buffer keeps its packet.
struct InPlace {
    block_len: usize,
    interface: u32,
    t: u64,
    wirelen: u32,
    /// The packet bytes, relative to the block's start.
    data: std::ops::Range<usize>,
}

pub(crate) struct State {
    order: Order,
    pub interfaces: Vec<Interface>,
    dlts: Vec<Dlt>,
    max_block: u32,
}

fn malformed(offset: u64, message: impl Into<String>) -> ReadError {
    ReadError {
        offset,
        kind: ReadErrorKind::Malformed(message.into()),
    }
}

/// The byte order a section header's byte-order magic announces.
fn section_order(bom: &[u8]) -> Option<Order> {
    [false, true]
        .into_iter()
        .map(|big| Order { big })
        .find(|o| o.u32(bom) == BYTE_ORDER_MAGIC)
}

impl State {
    /// Reads the first section header (its type already consumed) and the
    /// blocks up to the first interface description.
    pub fn open<R: BufRead>(
        input: &mut Input<R>,
        buf: &mut Vec<u8>,
    ) -> Result<(State, SavefileHeader), ReadError> {
        let mut head = [0u8; 8];
        let got = input.fill(&mut head)?;
        let Some(order) = (got == 8).then(|| section_order(&head[4..])).flatten() else {
            let mut start = SHB_MAGIC.to_vec();
            start.extend_from_slice(&head[..got]);
            return Err(ReadError {
                offset: 0,
                kind: ReadErrorKind::UnknownFormat(start),
            });
        };
        let length = order.u32(&head[..4]);
        if !(28..=SHB_MAX).contains(&length) {
            return Err(ReadError {
                offset: 0,
                kind: ReadErrorKind::BadBlockLength {
                    length,
                    why: "a section header block must be 28 bytes to 1 MiB",
                },
            });
        }
        buf.clear();
        let needed = u64::from(length) - 12;
        let got = input.append(needed, buf)?;
        if got < needed {
            return Err(ReadError {
                offset: 0,
                kind: ReadErrorKind::Truncated {
                    what: "section header block",
                    needed: length.into(),
                    got: got + 12,
                },
            });
        }
        let (major, minor) = (order.u16(&buf[0..]), order.u16(&buf[2..]));
        // libpcap reads 1.0 and 1.2 (which only adds block types).
        if major != 1 || (minor != 0 && minor != 2) {
            return Err(ReadError {
                offset: 8,
                kind: ReadErrorKind::UnsupportedVersion {
                    format: "pcapng",
                    major,
                    minor,
                },
            });
        }
        let mut state = State {
            order,
            interfaces: Vec::new(),
            dlts: Vec::new(),
            max_block: INITIAL_MAX_BLOCK,
        };
        loop {
            let Some((kind, start)) = state.read_block(input, buf)? else {
                return Err(malformed(
                    input.pos,
                    "the capture file has no Interface Description Blocks",
                ));
            };
            match kind {
                IDB => {
                    state.add_interface(buf, start)?;
                    break;
                }
                EPB | SPB | OPB => {
                    return Err(malformed(
                        start,
                        "a packet block comes before any Interface Description Block",
                    ))
                }
                _ => {}
            }
        }
        let first = &state.interfaces[0];
        let dlt = first.link_type.to_dlt();
        // libpcap lets blocks grow to fit the largest packet of this type.
        let for_snaplen = 8 + 20 + dlt.max_snaplen() as u64 + 131_072 + 4;
        state.max_block = state.max_block.max(for_snaplen.min(u32::MAX.into()) as u32);
        let header = SavefileHeader {
            dlt,
            link_type_ext: 0,
            snaplen: dlt.adjust_snaplen(first.snaplen),
            precision: Precision::Micro,
        };
        Ok((state, header))
    }

    /// Reads one block into `buf` (its body, without header and trailer);
    /// returns its type and offset, or `None` at the end of the file.
    fn read_block<R: BufRead>(
        &mut self,
        input: &mut Input<R>,
        buf: &mut Vec<u8>,
    ) -> Result<Option<(u32, u64)>, ReadError> {
        let start = input.pos;
        let truncated = |what, needed: u64, got: u64| ReadError {
            offset: start,
            kind: ReadErrorKind::Truncated { what, needed, got },
        };
        let mut head = [0u8; 8];
        match input.fill(&mut head)? {
            0 => return Ok(None),
            8 => {}
            n => return Err(truncated("pcapng block header", 8, n as u64)),
        }
        buf.clear();
        let mut kind = self.order.u32(&head);
        if head[..4] == SHB_MAGIC {
            // A new section: its byte-order magic decides how to read it.
            let got = input.append(4, buf)?;
            if got < 4 {
                return Err(truncated("section header block", 12, 8 + got));
            }
            self.order = section_order(buf)
                .ok_or_else(|| malformed(start + 8, "a section has a bad byte-order magic"))?;
            kind = SHB;
        }
        let length = self.order.u32(&head[4..]);
        let bad = |why| ReadError {
            offset: start,
            kind: ReadErrorKind::BadBlockLength { length, why },
        };
        if length < 12 || (kind == SHB && length < 28) {
            return Err(bad("shorter than the smallest block"));
        }
        if !length.is_multiple_of(4) {
            return Err(bad("not a multiple of 4"));
        }
        if length > self.max_block {
            return Err(malformed(
                start,
                format!(
                    "pcapng block length {length} exceeds the maximum {}",
                    self.max_block
                ),
            ));
        }
        let needed = u64::from(length) - 8 - buf.len() as u64;
        let got = input.append(needed, buf)?;
        if got < needed {
            return Err(truncated(
                "pcapng block",
                length.into(),
                u64::from(length) - needed + got,
            ));
        }
        let body_len = buf.len() - 4;
        let trailer = self.order.u32(&buf[body_len..]);
        if trailer != length {
            return Err(ReadError {
                offset: start,
                kind: ReadErrorKind::TrailerMismatch {
                    header: length,
                    trailer,
                },
            });
        }
        buf.truncate(body_len);
        Ok(Some((kind, start)))
    }

    /// Parses an Interface Description Block body and its options.
    fn add_interface(&mut self, body: &[u8], start: u64) -> Result<(), ReadError> {
        let o = self.order;
        if body.len() < 8 {
            return Err(malformed(
                start,
                "an Interface Description Block is too short",
            ));
        }
        let mut iface = Interface {
            link_type: LinkType(o.u16(&body[0..]).into()),
            snaplen: o.u32(&body[4..]),
            ts_units_per_sec: 1_000_000,
            ts_offset: 0,
            name: None,
        };
        let (mut saw_resol, mut saw_offset) = (false, false);
        let mut rest = &body[8..];
        let bad = |m: String| malformed(start, format!("Interface Description Block: {m}"));
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(bad("option header is cut off".into()));
            }
            let (code, len) = (o.u16(rest), usize::from(o.u16(&rest[2..])));
            let padded = len.div_ceil(4) * 4;
            if rest.len() - 4 < padded {
                return Err(bad(format!("option {code} is cut off")));
            }
            let value = &rest[4..4 + len];
            rest = &rest[4 + padded..];
            match code {
                0 if len != 0 => return Err(bad(format!("opt_endofopt has length {len}"))),
                0 => break,
                2 => iface.name = Some(String::from_utf8_lossy(value).into_owned()),
                9 => {
                    if len != 1 {
                        return Err(bad(format!("if_tsresol has length {len} != 1")));
                    }
                    if saw_resol {
                        return Err(bad("more than one if_tsresol".into()));
                    }
                    saw_resol = true;
                    iface.ts_units_per_sec = resolution(value[0]).map_err(bad)?;
                }
                14 => {
                    if len != 8 {
                        return Err(bad(format!("if_tsoffset has length {len} != 8")));
                    }
                    if saw_offset {
                        return Err(bad("more than one if_tsoffset".into()));
                    }
                    saw_offset = true;
                    iface.ts_offset = o.u64(value);
                }
                _ => {}
            }
        }
        self.dlts.push(iface.link_type.to_dlt());
        self.interfaces.push(iface);
        Ok(())
    }

    /// An Enhanced Packet Block at the start of `window`, if it lies whole
    /// there, is valid in every respect and needs no fix-up: then it can be
    /// handed out in place. Anything else is left to the copying path.
    #[inline]
    fn packet_in_place(&self, window: &[u8]) -> Option<InPlace> {
        let o = self.order;
        if window.len() < 32 || o.u32(window) != EPB {
            return None;
        }
        let length = o.u32(&window[4..]);
        let block_len = length as usize;
        if length < 32
            || !length.is_multiple_of(4)
            || length > self.max_block
            || window.len() < block_len
            || o.u32(&window[block_len - 4..]) != length
        {
            return None;
        }
        let interface = o.u32(&window[8..]);
        let caplen = o.u32(&window[20..]);
        let snapshot = self.snapshot(interface)?;
        let data = 28..28 + caplen as usize;
        if caplen > snapshot
            || data.end > block_len - 4
            || needs_post_process(self.dlts[interface as usize], o.swapped())
        {
            return None;
        }
        Some(InPlace {
            block_len,
            interface,
            t: (u64::from(o.u32(&window[12..])) << 32) | u64::from(o.u32(&window[16..])),
            wirelen: o.u32(&window[24..]),
            data,
        })
    }

    #[inline]
    fn found<'a>(&self, interface: u32, t: u64, wirelen: u32, data: &'a [u8]) -> Found<'a> {
        let iface = &self.interfaces[interface as usize];
        Found {
            ts: Timestamp {
                sec: (t / iface.ts_units_per_sec).wrapping_add(iface.ts_offset) as i64,
                frac: t % iface.ts_units_per_sec,
                units_per_sec: iface.ts_units_per_sec,
            },
            wirelen,
            interface,
            link_type: iface.link_type,
            data,
        }
    }

    /// Reads blocks until a packet; returns it in place or copied into `buf`.
    pub fn next<'a, R: BufRead>(
        &mut self,
        input: &'a mut Input<R>,
        buf: &'a mut Vec<u8>,
    ) -> Result<Option<Found<'a>>, ReadError> {
        loop {
            if let Some(p) = self.packet_in_place(input.peek()?) {
                let block = input.take(p.block_len)?;
                return Ok(Some(self.found(
                    p.interface,
                    p.t,
                    p.wirelen,
                    &block[p.data],
                )));
            }
            let Some((kind, start)) = self.read_block(input, buf)? else {
                return Ok(None);
            };
            let o = self.order;
            let short = || malformed(start, format!("block of type {kind} is too short"));
            // (interface, timestamp, caplen, wirelen, data offset)
            let (interface, t, caplen, wirelen, at) = match kind {
                EPB => {
                    if buf.len() < 20 {
                        return Err(short());
                    }
                    let t = (u64::from(o.u32(&buf[4..])) << 32) | u64::from(o.u32(&buf[8..]));
                    (
                        o.u32(&buf[0..]),
                        t,
                        o.u32(&buf[12..]),
                        o.u32(&buf[16..]),
                        20,
                    )
                }
                OPB => {
                    if buf.len() < 20 {
                        return Err(short());
                    }
                    let t = (u64::from(o.u32(&buf[4..])) << 32) | u64::from(o.u32(&buf[8..]));
                    let iface = u32::from(o.u16(&buf[0..]));
                    (iface, t, o.u32(&buf[12..]), o.u32(&buf[16..]), 20)
                }
                SPB => {
                    if buf.len() < 4 {
                        return Err(short());
                    }
                    let len = o.u32(buf);
                    let snapshot = self.snapshot(0).unwrap_or(0);
                    (0, 0, len.min(snapshot), len, 4)
                }
                IDB => {
                    self.add_interface(buf, start)?;
                    continue;
                }
                SHB => {
                    // `buf` holds the byte-order magic, then the version.
                    let major = o.u16(&buf[4..]);
                    if major != 1 {
                        return Err(malformed(
                            start,
                            format!("unknown pcapng major version {major}"),
                        ));
                    }
                    self.interfaces.clear();
                    self.dlts.clear();
                    continue;
                }
                _ => continue,
            };
            let Some(snapshot) = self.snapshot(interface) else {
                return Err(ReadError {
                    offset: start,
                    kind: ReadErrorKind::UnknownInterface(interface),
                });
            };
            let dlt = self.dlts[interface as usize];
            if caplen > snapshot {
                return Err(ReadError {
                    offset: start,
                    kind: ReadErrorKind::CaplenTooLarge {
                        caplen,
                        max: snapshot,
                        dlt,
                    },
                });
            }
            let end = at + caplen as usize;
            if buf.len() < end {
                return Err(short());
            }
            let mut wirelen = wirelen;
            post_process(dlt, o.swapped(), &mut wirelen, &mut buf[at..end]);
            return Ok(Some(self.found(interface, t, wirelen, &buf[at..end])));
        }
    }

    /// The snapshot length libpcap enforces for packets of `interface`.
    fn snapshot(&self, interface: u32) -> Option<u32> {
        let i = interface as usize;
        Some(self.dlts.get(i)?.adjust_snaplen(self.interfaces[i].snaplen))
    }
}

/// Units per second of an `if_tsresol` value: 10^-n, or 2^-n with the top bit.
fn resolution(v: u8) -> Result<u64, String> {
    if v & 0x80 != 0 {
        let shift = v & 0x7f;
        if shift > 63 {
            return Err(format!("if_tsresol 2^-{shift} is too fine"));
        }
        Ok(1u64 << shift)
    } else if v > 19 {
        Err(format!("if_tsresol 10^-{v} is too fine"))
    } else {
        Ok(10u64.pow(v.into()))
    }
}
