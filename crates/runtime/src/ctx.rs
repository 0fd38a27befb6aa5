//! Program contexts as `BPF_PROG_TEST_RUN` builds them: the packet buffer with the kernel's
//! headroom and tailroom, and `struct xdp_md` / `struct __sk_buff` with the kernel's layouts
//! and the values its test-run gives every field.
//!
//! Facts taken from the kernel (`net/bpf/test_run.c`, `net/ethernet/eth.c`), and checked
//! field by field against the running kernel by the differential tests:
//! - XDP: one 4096-byte frame; 256 bytes of headroom (`XDP_PACKET_HEADROOM`, metadata taken
//!   from it), the packet, then 320 bytes reserved for `skb_shared_info` that
//!   `bpf_xdp_adjust_tail` may not grow into. `ingress_ifindex` is the loopback device (1),
//!   `rx_queue_index` 0. The output runs from `data_meta` to `data_end`. Packets longer than
//!   the 3520 bytes that fit the frame continue in fragments the program does not see.
//! - skb: 64 bytes of headroom (`NET_SKB_PAD`), `protocol` and `pkt_type` from
//!   `eth_type_trans` against the loopback device (address 00:00:00:00:00:00), `ifindex` 1.
//!   tc programs see the frame from the Ethernet header; socket filters from the network
//!   header, and their output gets 14 zeroed bytes in place of the Ethernet header. IPv4
//!   and IPv6 packets too short for their network header are refused (`EINVAL`).

use crate::error::RuntimeError;
use crate::lowmem::LowBuf;

/// `XDP_PACKET_HEADROOM`.
pub const XDP_HEADROOM: usize = 256;
/// Size of one XDP test frame (the kernel uses a page).
pub const XDP_FRAME_SIZE: usize = 4096;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64.
pub const SHINFO_SIZE: usize = 320;
/// `sizeof(struct xdp_frame)`: the part of the headroom `bpf_xdp_adjust_head`/`_meta` keep.
pub const XDP_FRAME_STRUCT: usize = 40;
/// Largest packet an XDP test-run takes in one buffer (larger ones need fragments).
pub const XDP_MAX_LINEAR: usize = XDP_FRAME_SIZE - XDP_HEADROOM - SHINFO_SIZE;
/// `NET_SKB_PAD + NET_IP_ALIGN` on x86-64.
pub const SKB_HEADROOM: usize = 64;
/// Largest packet an skb test-run takes (`PAGE_SIZE - headroom - tailroom`).
pub const SKB_MAX_DATA: usize = 4096 - SKB_HEADROOM - SHINFO_SIZE;
/// `ETH_HLEN`.
pub const ETH_HLEN: usize = 14;
/// `sizeof(struct xdp_md)`.
pub const XDP_MD_SIZE: usize = 24;
/// `sizeof(struct __sk_buff)`.
pub const SK_BUFF_SIZE: usize = 192;
/// Largest metadata area (`xdp_metalen_invalid`: a multiple of 4, at most 252 bytes).
pub const XDP_MAX_META: usize = 252;

/// Field offsets of `struct xdp_md`.
pub mod xdp_md {
    /// `data`
    pub const DATA: usize = 0;
    /// `data_end`
    pub const DATA_END: usize = 4;
    /// `data_meta`
    pub const DATA_META: usize = 8;
    /// `ingress_ifindex`
    pub const INGRESS_IFINDEX: usize = 12;
    /// `rx_queue_index`
    pub const RX_QUEUE_INDEX: usize = 16;
    /// `egress_ifindex`
    pub const EGRESS_IFINDEX: usize = 20;
}

/// Field offsets of `struct __sk_buff`.
pub mod sk_buff {
    /// `len`
    pub const LEN: usize = 0;
    /// `pkt_type`
    pub const PKT_TYPE: usize = 4;
    /// `mark`
    pub const MARK: usize = 8;
    /// `protocol`
    pub const PROTOCOL: usize = 16;
    /// `priority`
    pub const PRIORITY: usize = 32;
    /// `ingress_ifindex`
    pub const INGRESS_IFINDEX: usize = 36;
    /// `ifindex`
    pub const IFINDEX: usize = 40;
    /// `cb[5]`
    pub const CB: usize = 48;
    /// `data`
    pub const DATA: usize = 76;
    /// `data_end`
    pub const DATA_END: usize = 80;
    /// `family`
    pub const FAMILY: usize = 88;
    /// `remote_ip4`
    pub const REMOTE_IP4: usize = 92;
    /// `local_ip4`
    pub const LOCAL_IP4: usize = 96;
    /// `remote_ip6[4]`
    pub const REMOTE_IP6: usize = 100;
    /// `local_ip6[4]`
    pub const LOCAL_IP6: usize = 116;
    /// `data_meta`
    pub const DATA_META: usize = 140;
    /// `tstamp`
    pub const TSTAMP: usize = 152;
    /// `wire_len`
    pub const WIRE_LEN: usize = 160;
    /// `gso_segs`
    pub const GSO_SEGS: usize = 164;
    /// `gso_size`
    pub const GSO_SIZE: usize = 176;
    /// `hwtstamp`
    pub const HWTSTAMP: usize = 184;
}

/// Where and how a program sees the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `BPF_PROG_TYPE_XDP`: `struct xdp_md`, direct packet access, adjustable bounds.
    Xdp,
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: `struct __sk_buff` from the network header, no direct
    /// packet access (`ld_abs`/`ld_ind`, `bpf_skb_load_bytes`).
    SocketFilter,
    /// `BPF_PROG_TYPE_SCHED_CLS`/`SCHED_ACT`: `struct __sk_buff` from the Ethernet header,
    /// direct packet access.
    Tc,
}

/// The packet and context of one test-run, in low memory; addresses are host addresses.
#[derive(Debug)]
pub(crate) struct Packet {
    pub(crate) hook: Hook,
    /// Start of the frame buffer.
    pub(crate) hard_start: u64,
    /// Highest address `data_end` may reach (XDP: before `skb_shared_info`).
    pub(crate) hard_end: u64,
    pub(crate) meta: u64,
    pub(crate) data: u64,
    pub(crate) end: u64,
    /// Address of the context structure.
    pub(crate) ctx: u64,
    /// Size of the context structure.
    pub(crate) ctx_len: usize,
    /// The caller's context buffer (`ctx_in`, or zeros when only `ctx_out` is wanted).
    user_ctx: Option<Vec<u8>>,
    /// XDP: the packet bytes past the linear buffer, one page-sized fragment each.
    pub(crate) frags: Vec<Vec<u8>>,
}

/// Layout of the low buffer: one frame page, then the context.
pub(crate) const LOW_BUF_SIZE: usize = 2 * 4096;
const CTX_OFFSET: usize = 4096;

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
}

fn invalid(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidInput(msg.into())
}

/// The caller's context, zero-extended to `size` (the kernel's `bpf_ctx_init`: bytes past
/// the structure must be zero).
fn user_ctx(
    ctx_in: Option<&[u8]>,
    want_out: bool,
    size: usize,
) -> Result<Option<Vec<u8>>, RuntimeError> {
    match ctx_in {
        None if !want_out => Ok(None),
        None => Ok(Some(vec![0; size])),
        Some(c) => {
            if c.len() > size && c[size..].iter().any(|&b| b != 0) {
                return Err(invalid(format!(
                    "ctx_in has non-zero bytes past the {size}-byte context"
                )));
            }
            let mut v = c[..c.len().min(size)].to_vec();
            v.resize(size, 0);
            Ok(Some(v))
        }
    }
}

impl Packet {
    /// Builds an XDP frame and `struct xdp_md` in `buf` as `bpf_prog_test_run_xdp` does.
    pub(crate) fn xdp(
        buf: &mut LowBuf,
        data_in: &[u8],
        ctx_in: Option<&[u8]>,
        want_ctx_out: bool,
    ) -> Result<Packet, RuntimeError> {
        let user = user_ctx(ctx_in, want_ctx_out, XDP_MD_SIZE)?;
        let mut meta_len = 0;
        if let Some(c) = ctx_in.map(|_| user.as_deref().unwrap_or(&[])) {
            let (data, data_end) = (
                get32(c, xdp_md::DATA) as usize,
                get32(c, xdp_md::DATA_END) as usize,
            );
            if get32(c, xdp_md::DATA_META) != 0 || data_end > data_in.len() || data > data_end {
                return Err(invalid(
                    "xdp_md: data_meta must be 0 and data <= data_end <= data length",
                ));
            }
            if data_end != data_in.len() {
                return Err(invalid(
                    "xdp_md: data_end shorter than the data (fragments) is not supported",
                ));
            }
            if !data.is_multiple_of(4)
                || data > XDP_MAX_META
                || data > XDP_HEADROOM - XDP_FRAME_STRUCT
            {
                return Err(invalid(format!(
                    "xdp_md: metadata length {data} is not a multiple of 4 up to {XDP_MAX_META}"
                )));
            }
            if get32(c, xdp_md::EGRESS_IFINDEX) != 0 {
                return Err(invalid("xdp_md: egress_ifindex must be 0"));
            }
            let (ifindex, queue) = (
                get32(c, xdp_md::INGRESS_IFINDEX),
                get32(c, xdp_md::RX_QUEUE_INDEX),
            );
            if ifindex > 1 || queue != 0 {
                return Err(invalid(
                    "xdp_md: only the loopback device (ingress_ifindex 1, queue 0) exists here",
                ));
            }
            meta_len = data;
        }
        if data_in.len() < meta_len + ETH_HLEN {
            return Err(invalid(format!(
                "packet of {} bytes is shorter than an Ethernet header",
                data_in.len() - meta_len
            )));
        }
        // Bytes past one frame go to fragments the program cannot see (it is not
        // `xdp.frags`-aware), as the kernel does; 17 pages at most (`MAX_SKB_FRAGS`).
        let linear = data_in.len().min(XDP_MAX_LINEAR + meta_len);
        if data_in.len() - linear > 17 * 4096 {
            return Err(invalid(format!(
                "packet of {} bytes needs more than 17 XDP fragments",
                data_in.len()
            )));
        }
        let (data_in, frags) = data_in.split_at(linear);
        let base = buf.addr();
        let bytes = buf.bytes_mut();
        bytes[..LOW_BUF_SIZE].fill(0);
        let meta_off = XDP_HEADROOM - meta_len;
        bytes[meta_off..meta_off + data_in.len()].copy_from_slice(data_in);
        let p = Packet {
            hook: Hook::Xdp,
            hard_start: base,
            hard_end: base + (XDP_FRAME_SIZE - SHINFO_SIZE) as u64,
            meta: base + meta_off as u64,
            data: base + XDP_HEADROOM as u64,
            end: base + (meta_off + data_in.len()) as u64,
            ctx: base + CTX_OFFSET as u64,
            ctx_len: XDP_MD_SIZE,
            user_ctx: user,
            frags: frags.chunks(4096).map(<[u8]>::to_vec).collect(),
        };
        let ctx = &mut bytes[CTX_OFFSET..CTX_OFFSET + XDP_MD_SIZE];
        put32(ctx, xdp_md::INGRESS_IFINDEX, 1);
        put32(ctx, xdp_md::RX_QUEUE_INDEX, 0);
        p.sync_ctx(buf);
        Ok(p)
    }

    /// Builds an skb and `struct __sk_buff` in `buf` as `bpf_prog_test_run_skb` does.
    pub(crate) fn skb(
        buf: &mut LowBuf,
        hook: Hook,
        data_in: &[u8],
        ctx_in: Option<&[u8]>,
        want_ctx_out: bool,
    ) -> Result<Packet, RuntimeError> {
        use sk_buff::*;
        if data_in.len() < ETH_HLEN {
            return Err(invalid(format!(
                "packet of {} bytes is shorter than an Ethernet header",
                data_in.len()
            )));
        }
        if data_in.len() > SKB_MAX_DATA {
            return Err(invalid(format!(
                "packet of {} bytes is larger than {SKB_MAX_DATA}",
                data_in.len()
            )));
        }
        // The kernel refuses IP packets too short for their network header.
        let l3_len = data_in.len() - ETH_HLEN;
        match u16::from_be_bytes([data_in[12], data_in[13]]) {
            0x0800 if l3_len < 20 => {
                return Err(invalid("IPv4 packet shorter than an IPv4 header"))
            }
            0x86dd if l3_len < 40 => {
                return Err(invalid("IPv6 packet shorter than an IPv6 header"))
            }
            _ => {}
        }
        let user = user_ctx(ctx_in, want_ctx_out, SK_BUFF_SIZE)?;
        if let Some(c) = &user {
            check_skb_ctx_in(c)?;
        }
        let base = buf.addr();
        let bytes = buf.bytes_mut();
        bytes[..LOW_BUF_SIZE].fill(0);
        bytes[SKB_HEADROOM..SKB_HEADROOM + data_in.len()].copy_from_slice(data_in);
        let mac = base + SKB_HEADROOM as u64;
        let end = mac + data_in.len() as u64;
        let data = if hook == Hook::Tc {
            mac
        } else {
            mac + ETH_HLEN as u64
        };
        let ctx_base = CTX_OFFSET;
        let ctx = &mut bytes[ctx_base..ctx_base + SK_BUFF_SIZE];
        let l3 = &data_in[ETH_HLEN..];
        let (protocol, pkt_type) = eth_type_trans(data_in);
        put32(ctx, LEN, (end - data) as u32);
        put32(ctx, PKT_TYPE, pkt_type);
        put32(ctx, PROTOCOL, protocol as u32);
        put32(ctx, IFINDEX, 1);
        match u16::from_be(protocol) {
            0x0800 => {
                put32(ctx, FAMILY, 2);
                ctx[LOCAL_IP4..LOCAL_IP4 + 4].copy_from_slice(&l3[12..16]);
                ctx[REMOTE_IP4..REMOTE_IP4 + 4].copy_from_slice(&l3[16..20]);
            }
            0x86dd => {
                put32(ctx, FAMILY, 10);
                ctx[LOCAL_IP6..LOCAL_IP6 + 16].copy_from_slice(&l3[8..24]);
                ctx[REMOTE_IP6..REMOTE_IP6 + 16].copy_from_slice(&l3[24..40]);
            }
            _ => {}
        }
        if let Some(c) = &user {
            // The fields a caller may set (convert___skb_to_skb).
            for (off, len) in [
                (MARK, 4),
                (PRIORITY, 4),
                (INGRESS_IFINDEX, 4),
                (CB, 20),
                (TSTAMP, 8),
                (GSO_SEGS, 4),
                (GSO_SIZE, 4),
                (HWTSTAMP, 8),
            ] {
                ctx[off..off + len].copy_from_slice(&c[off..off + len]);
            }
            let wire = get32(c, WIRE_LEN);
            let len = (end - data) as u32;
            if wire != 0 && (wire < len || wire > 65536) {
                return Err(invalid(format!(
                    "__sk_buff: wire_len {wire} is below the packet length {len} or above 65536"
                )));
            }
            put32(ctx, WIRE_LEN, if wire == 0 { len } else { wire });
        }
        if hook == Hook::Tc {
            put32(ctx, DATA, data as u32);
            put32(ctx, DATA_END, end as u32);
            put32(ctx, DATA_META, data as u32);
        }
        Ok(Packet {
            hook,
            hard_start: base,
            hard_end: end,
            meta: data,
            data,
            end,
            ctx: base + ctx_base as u64,
            ctx_len: SK_BUFF_SIZE,
            user_ctx: user,
            frags: Vec::new(),
        })
    }

    /// Writes the packet bounds back into the context's 32-bit fields (after a helper moved them).
    pub(crate) fn sync_ctx(&self, buf: &mut LowBuf) {
        let off = (self.ctx - buf.addr()) as usize;
        let ctx = &mut buf.bytes_mut()[off..off + self.ctx_len];
        match self.hook {
            Hook::Xdp => {
                put32(ctx, xdp_md::DATA, self.data as u32);
                put32(ctx, xdp_md::DATA_END, self.end as u32);
                put32(ctx, xdp_md::DATA_META, self.meta as u32);
            }
            Hook::Tc => {
                put32(ctx, sk_buff::DATA, self.data as u32);
                put32(ctx, sk_buff::DATA_END, self.end as u32);
                put32(ctx, sk_buff::DATA_META, self.meta as u32);
            }
            Hook::SocketFilter => {}
        }
    }

    /// The output packet (`data_out`) as the kernel returns it.
    pub(crate) fn data_out(&self, buf: &LowBuf) -> Vec<u8> {
        let bytes = buf.bytes();
        let at = |a: u64| (a - buf.addr()) as usize;
        match self.hook {
            Hook::Xdp | Hook::Tc => {
                let mut out = bytes[at(self.meta)..at(self.end)].to_vec();
                self.frags.iter().for_each(|f| out.extend_from_slice(f));
                out
            }
            Hook::SocketFilter => {
                let mut out = vec![0; ETH_HLEN];
                out.extend_from_slice(&bytes[at(self.data)..at(self.end)]);
                out
            }
        }
    }

    /// The output context (`ctx_out`) as the kernel returns it, if one was given or asked for.
    pub(crate) fn ctx_out(&self, buf: &LowBuf) -> Option<Vec<u8>> {
        let mut out = self.user_ctx.clone()?;
        let off = (self.ctx - buf.addr()) as usize;
        let ctx = &buf.bytes()[off..off + self.ctx_len];
        match self.hook {
            Hook::Xdp => {
                put32(&mut out, xdp_md::DATA, (self.data - self.meta) as u32);
                put32(&mut out, xdp_md::DATA_END, (self.end - self.meta) as u32);
            }
            Hook::Tc | Hook::SocketFilter => {
                use sk_buff::*;
                for (off, len) in [
                    (MARK, 4),
                    (PRIORITY, 4),
                    (INGRESS_IFINDEX, 4),
                    (IFINDEX, 4),
                    (TSTAMP, 8),
                    (CB, 20),
                    (WIRE_LEN, 4),
                    (GSO_SEGS, 4),
                    (HWTSTAMP, 8),
                ] {
                    out[off..off + len].copy_from_slice(&ctx[off..off + len]);
                }
            }
        }
        Some(out)
    }
}

/// Rejects a `__sk_buff` input with non-zero bytes outside the fields a caller may set.
fn check_skb_ctx_in(c: &[u8]) -> Result<(), RuntimeError> {
    use sk_buff::*;
    let allowed = [
        (MARK, 4),
        (PRIORITY, 12),
        (CB, 20),
        (TSTAMP, 16),
        (GSO_SIZE, 4),
        (HWTSTAMP, 8),
    ];
    for (i, &b) in c.iter().enumerate() {
        if b != 0 && !allowed.iter().any(|&(o, l)| (o..o + l).contains(&i)) {
            return Err(invalid(format!("__sk_buff: byte {i} must be zero (only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size and hwtstamp may be set)")));
        }
    }
    if get32(c, IFINDEX) > 1 {
        return Err(invalid(
            "__sk_buff: only the loopback device (ifindex 1) exists here",
        ));
    }
    if get32(c, GSO_SEGS) > 65535 {
        return Err(invalid("__sk_buff: gso_segs above 65535"));
    }
    Ok(())
}

/// `eth_type_trans` against the loopback device: `(protocol as stored, big-endian, pkt_type)`.
fn eth_type_trans(frame: &[u8]) -> (u16, u32) {
    const PACKET_MULTICAST: u32 = 2;
    const PACKET_OTHERHOST: u32 = 3;
    let dest = &frame[..6];
    let pkt_type = if dest.iter().all(|&b| b == 0) {
        0
    } else if dest[0] & 1 != 0 {
        // The loopback device has no broadcast address, so broadcast counts as multicast.
        PACKET_MULTICAST
    } else {
        PACKET_OTHERHOST
    };
    let proto = [frame[12], frame[13]];
    let protocol = if u16::from_be_bytes(proto) >= 0x0600 {
        u16::from_ne_bytes(proto)
    } else if frame.len() >= ETH_HLEN + 2 && frame[14] == 0xff && frame[15] == 0xff {
        0x0001u16.to_be() // ETH_P_802_3
    } else {
        0x0004u16.to_be() // ETH_P_802_2
    };
    (protocol, pkt_type)
}
