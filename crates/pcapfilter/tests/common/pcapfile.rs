//! Minimal reader of pcap and pcapng files (for the shared test captures).

use std::path::Path;

/// A captured packet.
pub struct Packet {
    /// `LINKTYPE_` value of its interface.
    pub linktype: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire.
    pub wirelen: u32,
}

fn u16_at(b: &[u8], off: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn u32_at(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

/// All packets of a pcap or pcapng file (`None` if it is neither).
pub fn read(path: &Path) -> Option<Vec<Packet>> {
    let bytes = std::fs::read(path).ok()?;
    match bytes.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => read_pcap(&bytes, true),
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => read_pcap(&bytes, false),
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(&bytes),
        _ => None,
    }
}

fn read_pcap(b: &[u8], le: bool) -> Option<Vec<Packet>> {
    let linktype = u32_at(b, 20, le)? & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32_at(b, off + 8, le)? as usize;
        let wirelen = u32_at(b, off + 12, le)?;
        let data = b.get(off + 16..off + 16 + caplen)?.to_vec();
        out.push(Packet {
            linktype,
            data,
            wirelen,
        });
        off += 16 + caplen;
    }
    Some(out)
}

fn read_pcapng(b: &[u8]) -> Option<Vec<Packet>> {
    let mut out = Vec::new();
    let mut interfaces: Vec<u32> = Vec::new();
    let mut le = true;
    let mut off = 0;
    while off + 12 <= b.len() {
        if b[off..off + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            le = match b.get(off + 8..off + 12)? {
                [0x4d, 0x3c, 0x2b, 0x1a] => true,
                [0x1a, 0x2b, 0x3c, 0x4d] => false,
                _ => return None,
            };
            interfaces.clear();
        }
        let kind = u32_at(b, off, le)?;
        let len = u32_at(b, off + 4, le)? as usize;
        if len < 12 || off + len > b.len() {
            return None;
        }
        let body = &b[off + 8..off + len - 4];
        match kind {
            1 => interfaces.push(u32::from(u16_at(body, 0, le)?)),
            6 => {
                let iface = u32_at(body, 0, le)? as usize;
                let caplen = u32_at(body, 12, le)? as usize;
                let wirelen = u32_at(body, 16, le)?;
                let data = body.get(20..20 + caplen)?.to_vec();
                out.push(Packet {
                    linktype: *interfaces.get(iface)?,
                    data,
                    wirelen,
                });
            }
            3 => {
                let wirelen = u32_at(body, 0, le)?;
                let caplen = (wirelen as usize).min(body.len() - 4);
                out.push(Packet {
                    linktype: *interfaces.first()?,
                    data: body[4..4 + caplen].to_vec(),
                    wirelen,
                });
            }
            _ => {}
        }
        off += len;
    }
    Some(out)
}
