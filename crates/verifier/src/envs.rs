//! Concrete program environments: socket filter, XDP, tc (`sched_cls`) and raw memory.

use crate::env::{CtxField, Entry, HelperProto, MapInfo, MapRef, ProgramEnv};
use crate::helpers;

/// Maps known to a program: by index (`map_idx` loads) and by file descriptor.
#[derive(Clone, Debug, Default)]
pub struct MapTable {
    /// Maps by index.
    pub by_idx: Vec<MapInfo>,
    /// Maps by file descriptor.
    pub by_fd: Vec<(i32, MapInfo)>,
}

impl MapTable {
    /// The map a reference names.
    pub fn get(&self, r: MapRef) -> Option<MapInfo> {
        match r {
            MapRef::Idx(i) => self.by_idx.get(i as usize).copied(),
            MapRef::Fd(fd) => self.by_fd.iter().find(|(f, _)| *f == fd).map(|(_, m)| *m),
        }
    }
}

/// Offsets of `struct __sk_buff` fields (from `linux/bpf.h`).
mod skb {
    pub const MARK: i64 = 8;
    pub const QUEUE_MAPPING: i64 = 12;
    pub const PRIORITY: i64 = 32;
    pub const TC_INDEX: i64 = 44;
    pub const CB: i64 = 48;
    pub const CB_END: i64 = 68;
    pub const TC_CLASSID: i64 = 72;
    pub const DATA: i64 = 76;
    pub const DATA_END: i64 = 80;
    pub const FAMILY: i64 = 88;
    pub const LOCAL_PORT_END: i64 = 140;
    pub const DATA_META: i64 = 140;
    pub const FLOW_KEYS: i64 = 144;
    pub const TSTAMP: i64 = 152;
    pub const WIRE_LEN: i64 = 160;
    pub const SK: i64 = 168;
    pub const TSTAMP_TYPE: i64 = 180;
    pub const HWTSTAMP: i64 = 184;
    pub const SIZE: i64 = 192;
}

/// Which `__sk_buff` program type is asking.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SkbKind {
    SocketFilter,
    Tc,
}

fn in_field(off: i64, start: i64, len: i64) -> bool {
    off >= start && off < start + len
}

/// The kernel's `bpf_skb_is_valid_access` plus the per-type rules of
/// `sk_filter_is_valid_access` and `tc_cls_act_is_valid_access`.
fn skb_access(kind: SkbKind, off: i64, size: u32, write: bool) -> Result<CtxField, String> {
    let size = size as i64;
    if !(0..skb::SIZE).contains(&off) || off % size != 0 {
        return Err(String::new());
    }
    let packet_field = [skb::DATA, skb::DATA_END, skb::DATA_META]
        .into_iter()
        .find(|&f| in_field(off, f, 4));
    let in_cb = in_field(off, skb::CB, skb::CB_END - skb::CB);
    let socket_fields = in_field(off, skb::FAMILY, skb::LOCAL_PORT_END - skb::FAMILY);
    match kind {
        SkbKind::SocketFilter => {
            let forbidden = in_field(off, skb::TC_CLASSID, 4)
                || packet_field.is_some()
                || socket_fields
                || in_field(off, skb::TSTAMP, 8)
                || in_field(off, skb::WIRE_LEN, 4)
                || in_field(off, skb::HWTSTAMP, 8);
            if forbidden || (write && !in_cb) {
                return Err(String::new());
            }
        }
        SkbKind::Tc => {
            let writable = in_cb
                || [
                    skb::MARK,
                    skb::TC_INDEX,
                    skb::PRIORITY,
                    skb::TC_CLASSID,
                    skb::QUEUE_MAPPING,
                ]
                .into_iter()
                .any(|f| in_field(off, f, 4))
                || in_field(off, skb::TSTAMP, 8);
            if socket_fields || (write && !writable) {
                return Err(String::new());
            }
        }
    }
    // Fields that are pointers or need BTF are not modelled: refuse them.
    if in_field(off, skb::FLOW_KEYS, 8) || in_field(off, skb::SK, 8) {
        return Err(String::new());
    }
    if in_cb {
        return if off + size <= skb::CB_END {
            Ok(CtxField::Scalar)
        } else {
            Err(String::new())
        };
    }
    if in_field(off, skb::TSTAMP, 8) || in_field(off, skb::HWTSTAMP, 8) {
        return if size == 8 {
            Ok(CtxField::Scalar)
        } else {
            Err(String::new())
        };
    }
    if let Some(f) = packet_field {
        if size != 4 || write {
            return Err(String::new());
        }
        return Ok(match f {
            skb::DATA => CtxField::PacketData,
            skb::DATA_END => CtxField::PacketEnd,
            _ => CtxField::PacketMeta,
        });
    }
    if in_field(off, skb::TSTAMP_TYPE, 4) {
        return if off == skb::TSTAMP_TYPE && size == 1 && !write {
            Ok(CtxField::Scalar)
        } else {
            Err(String::new())
        };
    }
    // Plain u32 fields: writes must be whole, reads may be narrower (aligned inside the field).
    if size > 4 || (write && size != 4) {
        return Err(String::new());
    }
    Ok(CtxField::Scalar)
}

/// `BPF_PROG_TYPE_SOCKET_FILTER`: read-only `__sk_buff` (except `cb[]`), no direct packet
/// access, `ld_abs`/`ld_ind` allowed.
#[derive(Clone, Debug, Default)]
pub struct SocketFilterEnv {
    /// The program's maps.
    pub maps: MapTable,
}

impl ProgramEnv for SocketFilterEnv {
    fn name(&self) -> &str {
        "socket_filter"
    }
    fn ctx_access(&self, off: i64, size: u32, write: bool) -> Result<CtxField, String> {
        skb_access(SkbKind::SocketFilter, off, size, write)
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        helpers::find(&[helpers::BASE, helpers::SOCKET_FILTER], id)
    }
    fn map(&self, r: MapRef) -> Option<MapInfo> {
        self.maps.get(r)
    }
    fn allows_ld_abs(&self) -> bool {
        true
    }
}

/// `BPF_PROG_TYPE_SCHED_CLS` (tc): `__sk_buff` with direct, writable packet access.
#[derive(Clone, Debug, Default)]
pub struct TcEnv {
    /// The program's maps.
    pub maps: MapTable,
}

impl ProgramEnv for TcEnv {
    fn name(&self) -> &str {
        "sched_cls"
    }
    fn ctx_access(&self, off: i64, size: u32, write: bool) -> Result<CtxField, String> {
        skb_access(SkbKind::Tc, off, size, write)
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        helpers::find(&[helpers::BASE, helpers::TC], id)
    }
    fn map(&self, r: MapRef) -> Option<MapInfo> {
        self.maps.get(r)
    }
    fn allows_ld_abs(&self) -> bool {
        true
    }
    fn packet_writable(&self) -> bool {
        true
    }
}

/// `BPF_PROG_TYPE_XDP`: `struct xdp_md` (data@0, data_end@4, data_meta@8, ingress_ifindex@12,
/// rx_queue_index@16, egress_ifindex@20), read-only, 4-byte accesses only.
#[derive(Clone, Debug, Default)]
pub struct XdpEnv {
    /// The program's maps.
    pub maps: MapTable,
}

impl ProgramEnv for XdpEnv {
    fn name(&self) -> &str {
        "xdp"
    }
    fn ctx_access(&self, off: i64, size: u32, write: bool) -> Result<CtxField, String> {
        if write || !(0..24).contains(&off) || off % 4 != 0 || size != 4 {
            return Err(String::new());
        }
        Ok(match off {
            0 => CtxField::PacketData,
            4 => CtxField::PacketEnd,
            8 => CtxField::PacketMeta,
            _ => CtxField::Scalar,
        })
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        helpers::find(&[helpers::BASE, helpers::XDP], id)
    }
    fn map(&self, r: MapRef) -> Option<MapInfo> {
        self.maps.get(r)
    }
    fn packet_writable(&self) -> bool {
        true
    }
}

/// r1 points to `size` bytes of memory, r2 holds `size` (the conformance convention) —
/// with maps and the helpers every program type gets ([`helpers::BASE`]). This is how
/// `bpfkit run` runs the programs of an object.
#[derive(Clone, Debug, Default)]
pub struct MemoryEnv {
    /// Size of the memory region r1 points to.
    pub size: u32,
    /// The program's maps.
    pub maps: MapTable,
}

impl ProgramEnv for MemoryEnv {
    fn name(&self) -> &str {
        "raw"
    }
    fn entry(&self) -> Entry {
        Entry::Memory { size: self.size }
    }
    fn ctx_access(&self, _off: i64, _size: u32, _write: bool) -> Result<CtxField, String> {
        Err(String::new())
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        helpers::find(&[helpers::BASE], id)
    }
    fn map(&self, r: MapRef) -> Option<MapInfo> {
        self.maps.get(r)
    }
}

/// The conformance suite's programs: [`RawMemoryEnv`] plus its one helper, number 5,
/// which returns its first argument (or ends the program with r0 = 0 when that is 0).
#[derive(Clone, Copy, Debug)]
pub struct ConformanceEnv {
    /// Size of the memory region r1 points to.
    pub size: u32,
}

/// The conformance suite's helper 5.
const CONFORMANCE_HELPER: HelperProto = HelperProto {
    name: "conformance_helper",
    id: 5,
    args: &[crate::env::ArgKind::Anything],
    ret: crate::env::RetKind::Integer,
    changes_pkt_data: false,
};

impl ProgramEnv for ConformanceEnv {
    fn name(&self) -> &str {
        "raw"
    }
    fn entry(&self) -> Entry {
        Entry::Memory { size: self.size }
    }
    fn ctx_access(&self, _off: i64, _size: u32, _write: bool) -> Result<CtxField, String> {
        Err(String::new())
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        (id == 5).then_some(CONFORMANCE_HELPER)
    }
}

/// The conformance convention: r1 points to `size` bytes of memory, r2 holds `size`,
/// no context, no helpers, no maps.
#[derive(Clone, Copy, Debug)]
pub struct RawMemoryEnv {
    /// Size of the memory region r1 points to.
    pub size: u32,
}

impl ProgramEnv for RawMemoryEnv {
    fn name(&self) -> &str {
        "raw"
    }
    fn entry(&self) -> Entry {
        Entry::Memory { size: self.size }
    }
    fn ctx_access(&self, _off: i64, _size: u32, _write: bool) -> Result<CtxField, String> {
        Err(String::new())
    }
    fn helper(&self, _id: i32) -> Option<HelperProto> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skb_layout_rules() {
        let sf = SocketFilterEnv::default();
        let tc = TcEnv::default();
        // len: readable, narrow reads fine, not writable by either.
        assert_eq!(sf.ctx_access(0, 4, false), Ok(CtxField::Scalar));
        assert_eq!(sf.ctx_access(2, 2, false), Ok(CtxField::Scalar));
        assert!(sf.ctx_access(0, 4, true).is_err() && tc.ctx_access(0, 4, true).is_err());
        // cb[] is writable by both; mark only by tc.
        assert!(sf.ctx_access(48, 4, true).is_ok() && sf.ctx_access(64, 4, true).is_ok());
        assert!(sf.ctx_access(68, 4, true).is_err());
        assert!(sf.ctx_access(8, 4, true).is_err() && tc.ctx_access(8, 4, true).is_ok());
        // Packet pointers: tc only, u32 loads only.
        assert!(sf.ctx_access(76, 4, false).is_err());
        assert_eq!(tc.ctx_access(76, 4, false), Ok(CtxField::PacketData));
        assert_eq!(tc.ctx_access(80, 4, false), Ok(CtxField::PacketEnd));
        assert_eq!(tc.ctx_access(140, 4, false), Ok(CtxField::PacketMeta));
        assert!(tc.ctx_access(76, 2, false).is_err());
        // Misaligned and out of range.
        assert!(tc.ctx_access(1, 4, false).is_err() && tc.ctx_access(192, 4, false).is_err());
    }

    #[test]
    fn xdp_layout_rules() {
        let x = XdpEnv::default();
        assert_eq!(x.ctx_access(0, 4, false), Ok(CtxField::PacketData));
        assert_eq!(x.ctx_access(4, 4, false), Ok(CtxField::PacketEnd));
        assert_eq!(x.ctx_access(8, 4, false), Ok(CtxField::PacketMeta));
        assert_eq!(x.ctx_access(12, 4, false), Ok(CtxField::Scalar));
        assert!(x.ctx_access(0, 1, false).is_err());
        assert!(x.ctx_access(24, 4, false).is_err());
        assert!(x.ctx_access(12, 4, true).is_err());
        assert_eq!(x.helper(44).unwrap().name, "xdp_adjust_head");
        assert!(x.helper(26).is_none());
    }
}
