//! Linux socket-filter extensions: ancillary data and negative offsets.
//!
//! On Linux an absolute load whose offset is `SKF_AD_OFF + n` does not read
//! the packet: it reads metadata of the socket buffer (protocol, VLAN tag,
//! interface index...). Offsets in `[SKF_LL_OFF, SKF_AD_OFF)` address the
//! packet relative to its link-layer or network header. Outside the kernel
//! these values must be supplied by the caller, which is what [`Ancillary`]
//! is for. Without it the interpreter behaves like libpcap's userland
//! `bpf_filter`: such loads are out of bounds and the packet is rejected.

/// `SKF_AD_OFF`: base of the ancillary-data offsets (`-0x1000` as `u32`).
pub const SKF_AD_OFF: u32 = 0xffff_f000;
/// `SKF_AD_PROTOCOL`: the link-layer protocol (`skb->protocol`, host order).
pub const SKF_AD_PROTOCOL: u32 = 0;
/// `SKF_AD_PKTTYPE`: packet type (`PACKET_HOST`, `PACKET_OUTGOING`...).
pub const SKF_AD_PKTTYPE: u32 = 4;
/// `SKF_AD_IFINDEX`: index of the receiving interface.
pub const SKF_AD_IFINDEX: u32 = 8;
/// `SKF_AD_NLATTR`: offset of the netlink attribute of type X, searching from offset A.
pub const SKF_AD_NLATTR: u32 = 12;
/// `SKF_AD_NLATTR_NEST`: like `NLATTR`, inside the nested attribute at offset A.
pub const SKF_AD_NLATTR_NEST: u32 = 16;
/// `SKF_AD_MARK`: the packet mark.
pub const SKF_AD_MARK: u32 = 20;
/// `SKF_AD_QUEUE`: the queue mapping.
pub const SKF_AD_QUEUE: u32 = 24;
/// `SKF_AD_HATYPE`: the device's `ARPHRD_*` type.
pub const SKF_AD_HATYPE: u32 = 28;
/// `SKF_AD_RXHASH`: the receive hash.
pub const SKF_AD_RXHASH: u32 = 32;
/// `SKF_AD_CPU`: the CPU running the filter.
pub const SKF_AD_CPU: u32 = 36;
/// `SKF_AD_ALU_XOR_X`: not a load at all: `A ^= X`.
pub const SKF_AD_ALU_XOR_X: u32 = 40;
/// `SKF_AD_VLAN_TAG`: the VLAN TCI stripped by the driver.
pub const SKF_AD_VLAN_TAG: u32 = 44;
/// `SKF_AD_VLAN_TAG_PRESENT`: 1 if a VLAN tag was stripped, else 0.
pub const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;
/// `SKF_AD_PAY_OFFSET`: offset of the transport payload (flow dissector).
pub const SKF_AD_PAY_OFFSET: u32 = 52;
/// `SKF_AD_RANDOM`: a random number.
pub const SKF_AD_RANDOM: u32 = 56;
/// `SKF_AD_VLAN_TPID`: the TPID of the stripped VLAN tag.
pub const SKF_AD_VLAN_TPID: u32 = 60;
/// `SKF_AD_MAX`: end of the ancillary range.
pub const SKF_AD_MAX: u32 = 64;
/// `SKF_NET_OFF`: loads at `SKF_NET_OFF + n` read byte `n` of the network header (`-0x100000`).
pub const SKF_NET_OFF: u32 = 0xfff0_0000;
/// `SKF_LL_OFF`: loads at `SKF_LL_OFF + n` read byte `n` of the link-layer header (`-0x200000`).
pub const SKF_LL_OFF: u32 = 0xffe0_0000;

/// Whether `n` (an offset relative to [`SKF_AD_OFF`]) names an ancillary
/// field the Linux kernel knows (its `bpf_anc_helper` list).
pub const fn is_known_ancillary(n: u32) -> bool {
    n < SKF_AD_MAX && n.is_multiple_of(4)
}

/// Socket-buffer metadata for the Linux ancillary loads, supplied by the caller.
///
/// The interpreter reads the packet-independent fields from here and computes
/// the netlink-attribute lookups from the packet itself, as the kernel does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ancillary {
    /// `skb->protocol` in host order (e.g. `0x0800` for IPv4).
    pub protocol: u16,
    /// `skb->pkt_type` (`PACKET_HOST` = 0 ... `PACKET_OUTGOING` = 4).
    pub pkttype: u8,
    /// Interface index of the device.
    pub ifindex: u32,
    /// `skb->mark`.
    pub mark: u32,
    /// `skb->queue_mapping`.
    pub queue: u16,
    /// The device's hardware type (`ARPHRD_*`).
    pub hatype: u16,
    /// `skb->hash`.
    pub rxhash: u32,
    /// The CPU number.
    pub cpu: u32,
    /// The stripped VLAN TCI.
    pub vlan_tci: u16,
    /// Whether a VLAN tag was stripped.
    pub vlan_present: bool,
    /// TPID of the stripped VLAN tag (e.g. `0x8100`).
    pub vlan_tpid: u16,
    /// Payload offset as the kernel's flow dissector would compute it.
    pub pay_offset: u32,
    /// The value a `SKF_AD_RANDOM` load returns (fixed, for reproducibility).
    pub random: u32,
    /// Offset of the network header in the packet, for `SKF_NET_OFF` loads.
    pub network_offset: u32,
}

/// What an ancillary load (offset `SKF_AD_OFF + n`) does.
pub(crate) enum AncillaryLoad {
    /// `A` receives this value.
    Value(u32),
    /// `A ^= X` (`SKF_AD_ALU_XOR_X`).
    XorX,
    /// The load fails and the filter returns 0.
    Reject,
}

impl Ancillary {
    /// The effect of the ancillary load `SKF_AD_OFF + n` given A and X.
    pub(crate) fn load(&self, n: u32, packet: &[u8], a: u32, x: u32) -> AncillaryLoad {
        use AncillaryLoad::*;
        match n {
            SKF_AD_PROTOCOL => Value(self.protocol.into()),
            SKF_AD_PKTTYPE => Value(self.pkttype.into()),
            SKF_AD_IFINDEX => Value(self.ifindex),
            SKF_AD_NLATTR => Value(nlattr(packet, a, x)),
            SKF_AD_NLATTR_NEST => Value(nlattr_nest(packet, a, x)),
            SKF_AD_MARK => Value(self.mark),
            SKF_AD_QUEUE => Value(self.queue.into()),
            SKF_AD_HATYPE => Value(self.hatype.into()),
            SKF_AD_RXHASH => Value(self.rxhash),
            SKF_AD_CPU => Value(self.cpu),
            SKF_AD_ALU_XOR_X => XorX,
            SKF_AD_VLAN_TAG => Value(self.vlan_tci.into()),
            SKF_AD_VLAN_TAG_PRESENT => Value(self.vlan_present.into()),
            SKF_AD_PAY_OFFSET => Value(self.pay_offset),
            SKF_AD_RANDOM => Value(self.random),
            SKF_AD_VLAN_TPID => Value(self.vlan_tpid.into()),
            _ => Reject,
        }
    }

    /// Start of the bytes addressed by a negative offset `off` (as the
    /// kernel's `bpf_internal_load_pointer_neg_helper` computes it), or `None`.
    /// Absolute loads in the ancillary range never get here.
    pub(crate) fn negative_base(&self, off: u32) -> Option<u64> {
        if off >= SKF_NET_OFF {
            Some(u64::from(self.network_offset) + u64::from(off - SKF_NET_OFF))
        } else if off >= SKF_LL_OFF {
            Some(u64::from(off - SKF_LL_OFF))
        } else {
            None
        }
    }
}

/// Size of `struct nlattr` (`nla_len`, `nla_type`, both host-endian u16).
const NLA_HDRLEN: usize = 4;
/// `NLA_TYPE_MASK`: the type without the nested and byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `nla_find`: the offset of the first attribute of type `kind` among the
/// attributes in `packet[start..start + len]`, or `None`.
fn nla_find(packet: &[u8], start: usize, len: usize, kind: u32) -> Option<usize> {
    let mut pos = start;
    let mut remaining = len as i64;
    loop {
        if remaining < NLA_HDRLEN as i64 {
            return None;
        }
        let nla_len = usize::from(u16::from_le_bytes([packet[pos], packet[pos + 1]]));
        let nla_type = u16::from_le_bytes([packet[pos + 2], packet[pos + 3]]);
        if nla_len < NLA_HDRLEN || nla_len as i64 > remaining {
            return None;
        }
        if u32::from(nla_type & NLA_TYPE_MASK) == kind {
            return Some(pos);
        }
        let aligned = (nla_len + 3) & !3;
        remaining -= aligned as i64;
        pos += aligned;
    }
}

/// `SKF_AD_NLATTR`: attributes start at offset `a`; find type `x`.
fn nlattr(packet: &[u8], a: u32, x: u32) -> u32 {
    let len = packet.len();
    let a = a as usize;
    if len < NLA_HDRLEN || a > len - NLA_HDRLEN {
        return 0;
    }
    nla_find(packet, a, len - a, x).map_or(0, |off| off as u32)
}

/// `SKF_AD_NLATTR_NEST`: the attribute at offset `a` is a nest; find type `x` inside.
fn nlattr_nest(packet: &[u8], a: u32, x: u32) -> u32 {
    let len = packet.len();
    let a = a as usize;
    if len < NLA_HDRLEN || a > len - NLA_HDRLEN {
        return 0;
    }
    let nla_len = usize::from(u16::from_le_bytes([packet[a], packet[a + 1]]));
    if nla_len < NLA_HDRLEN || nla_len > len - a {
        return 0;
    }
    nla_find(packet, a + NLA_HDRLEN, nla_len - NLA_HDRLEN, x).map_or(0, |off| off as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((payload.len() + 4) as u16).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn nlattr_walks_aligned_attributes() {
        let mut pkt = vec![0xaa; 16]; // a fake netlink header
        pkt.extend(attr(1, &[1, 2, 3])); // at 16, padded to 8 bytes
        pkt.extend(attr(7, &[9; 4])); // at 24
        assert_eq!(nlattr(&pkt, 16, 7), 24);
        assert_eq!(nlattr(&pkt, 16, 1), 16);
        assert_eq!(nlattr(&pkt, 16, 3), 0);
        // The nested/byte-order flag bits are ignored in the comparison.
        pkt[26] = 7;
        pkt[27] = 0x80;
        assert_eq!(nlattr(&pkt, 16, 7), 24);
        // Start offset past the end: no attribute.
        assert_eq!(nlattr(&pkt, 1000, 7), 0);
    }

    #[test]
    fn nlattr_nest_searches_inside_the_nest() {
        let inner = [attr(2, &[0; 2]), attr(5, &[1; 4])].concat();
        let pkt = attr(9, &inner);
        // Inner attributes start at 4; type 5 is the second one, at 4 + 8.
        assert_eq!(nlattr_nest(&pkt, 0, 5), 12);
        assert_eq!(nlattr_nest(&pkt, 0, 9), 0);
    }

    #[test]
    fn negative_offsets_follow_the_kernel_ranges() {
        let anc = Ancillary {
            network_offset: 14,
            ..Ancillary::default()
        };
        assert_eq!(anc.negative_base(SKF_LL_OFF + 3), Some(3));
        assert_eq!(anc.negative_base(SKF_NET_OFF + 9), Some(23));
        // Offsets in the ancillary range count from the network header.
        assert_eq!(anc.negative_base(SKF_AD_OFF), Some(14 + 0xff000));
        assert_eq!(anc.negative_base(SKF_LL_OFF - 1), None);
    }
}
