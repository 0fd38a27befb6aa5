//! libpcap's post-processing of packets read from files (`pcap_post_process`).
//!
//! A few link types start with a pseudo-header whose fields are in the byte
//! order of the machine that captured the packet. When the file's byte order
//! is not the reader's, libpcap swaps those fields in the packet data; and
//! for memory-mapped Linux USB captures it repairs the original length.
//! Doing the same makes filters and written files agree with tcpdump.

use crate::linktype::Dlt;

/// Whether [`post_process`] may change packets of this link type and byte
/// order; when not, packets can be handed out straight from the input.
pub(crate) fn needs_post_process(dlt: Dlt, swapped: bool) -> bool {
    let swaps = matches!(
        dlt,
        Dlt::PFLOG
            | Dlt::LINUX_SLL
            | Dlt::LINUX_SLL2
            | Dlt::USB_LINUX
            | Dlt::USB_LINUX_MMAPPED
            | Dlt::NFLOG
    );
    (swapped && swaps) || dlt == Dlt::USB_LINUX_MMAPPED
}

/// Applies libpcap's fix-ups to `data` (the captured bytes) and `wirelen`
/// (nothing unless [`needs_post_process`]).
pub(crate) fn post_process(dlt: Dlt, swapped: bool, wirelen: &mut u32, data: &mut [u8]) {
    let caplen = data.len() as u32;
    if swapped {
        match dlt {
            Dlt::PFLOG => swap_pflog(caplen, *wirelen, data),
            Dlt::LINUX_SLL => swap_can_id(caplen, *wirelen, data, 16, 14),
            Dlt::LINUX_SLL2 => swap_can_id(caplen, *wirelen, data, 20, 0),
            Dlt::USB_LINUX => swap_usb(data, false),
            Dlt::USB_LINUX_MMAPPED => swap_usb(data, true),
            Dlt::NFLOG => swap_nflog(caplen, *wirelen, data),
            _ => {}
        }
    }
    if dlt == Dlt::USB_LINUX_MMAPPED {
        fix_usb_mmapped_length(wirelen, data);
    }
}

fn swap4(data: &mut [u8], at: usize) {
    data[at..at + 4].reverse();
}

fn swap2(data: &mut [u8], at: usize) {
    data[at..at + 2].reverse();
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(data[at..at + 4].try_into().unwrap())
}

/// OpenBSD pflog: uid, pid, rule_uid and rule_pid, each only while it lies
/// inside the captured data, the original length and the header's length.
fn swap_pflog(caplen: u32, wirelen: u32, data: &mut [u8]) {
    const UID: u32 = 44;
    if caplen < UID + 4 || wirelen < UID + 4 {
        return;
    }
    let header_len = u32::from(data[0]);
    for field in [UID, 48, 52, 56] {
        let end = field + 4;
        if caplen < end || wirelen < end || header_len < end {
            return;
        }
        swap4(data, field as usize);
    }
}

/// Linux cooked captures of CAN frames: the CAN id after the header.
fn swap_can_id(caplen: u32, wirelen: u32, data: &mut [u8], header: u32, protocol_at: usize) {
    const LINUX_SLL_P_CAN: u16 = 0x000c;
    const LINUX_SLL_P_CANFD: u16 = 0x000d;
    if caplen < header || wirelen < header {
        return;
    }
    let protocol = u16::from_be_bytes([data[protocol_at], data[protocol_at + 1]]);
    if protocol != LINUX_SLL_P_CAN && protocol != LINUX_SLL_P_CANFD {
        return;
    }
    if caplen < header + 4 || wirelen < header + 4 {
        return;
    }
    swap4(data, header as usize);
}

/// Linux netfilter log: the TLV headers after the 4-byte NFLOG header.
fn swap_nflog(caplen: u32, wirelen: u32, data: &mut [u8]) {
    const HEADER: u32 = 4;
    if caplen < HEADER || wirelen < HEADER || data[1] != 0 {
        return;
    }
    let (mut caplen, mut length) = (caplen - HEADER, wirelen - HEADER);
    let mut at = HEADER as usize;
    while caplen >= 4 {
        swap2(data, at);
        swap2(data, at + 2);
        let mut size = u32::from(u16::from_ne_bytes([data[at], data[at + 1]]));
        if size % 4 != 0 {
            size += 4 - size % 4;
        }
        if size < 4 || caplen < size || length < size {
            return;
        }
        caplen -= size;
        length -= size;
        at += size as usize;
    }
}

/// Linux USB: the multi-byte fields of the 48- or 64-byte header and the
/// isochronous descriptors, each only if fully captured.
fn swap_usb(data: &mut [u8], mmapped: bool) {
    const URB_ISOCHRONOUS: u8 = 0;
    let caplen = data.len();
    // (offset, size) of the fields up to data_len, in order.
    for (at, size) in [(0, 8), (12, 2), (16, 8), (24, 4), (28, 4), (32, 4), (36, 4)] {
        if caplen < at + size {
            return;
        }
        data[at..at + size].reverse();
    }
    let iso = data[9] == URB_ISOCHRONOUS;
    if iso {
        for at in [40, 44] {
            if caplen < at + 4 {
                return;
            }
            swap4(data, at);
        }
    }
    if !mmapped {
        return;
    }
    for at in [48, 52, 56, 60] {
        if caplen < at + 4 {
            return;
        }
        swap4(data, at);
    }
    if iso {
        let ndesc = u32_at(data, 60);
        let mut at = 64;
        for _ in 0..ndesc {
            for field in [0, 4, 8] {
                if caplen < at + field + 4 {
                    return;
                }
                swap4(data, at + field);
            }
            at += 16;
        }
    }
}

/// libpcap's `fixup_pcap_pkthdr` for memory-mapped USB: an isochronous
/// IN completion whose original length was computed from `urb_len` gets
/// the length its descriptors imply.
fn fix_usb_mmapped_length(wirelen: &mut u32, data: &[u8]) {
    const HEADER: u64 = 64;
    const DESC: u64 = 16;
    let caplen = data.len() as u64;
    if caplen < HEADER || data[15] != 0 {
        return;
    }
    let urb_len = u64::from(u32_at(data, 32));
    let ndesc = u64::from(u32_at(data, 60));
    let (transfer_type, event_type, endpoint) = (data[9], data[8], data[10]);
    let claimed = HEADER + ndesc * DESC + urb_len;
    if u64::from(*wirelen) != claimed
        || transfer_type != 0
        || event_type != b'C'
        || endpoint & 0x80 == 0
    {
        return;
    }
    let mut data_len: u32 = 0;
    let mut left = caplen - HEADER;
    let mut desc = 0;
    while desc < ndesc && left >= DESC {
        let at = (HEADER + desc * DESC) as usize;
        let (offset, len) = (u32_at(data, at + 4), u32_at(data, at + 8));
        if len != 0 {
            data_len = data_len.max(offset.wrapping_add(len));
        }
        desc += 1;
        left -= DESC;
    }
    // libpcap computes this in 32 bits.
    let pre_truncation = (HEADER + ndesc * DESC + u64::from(data_len)) as u32;
    if u64::from(pre_truncation) >= caplen {
        *wirelen = pre_truncation;
    }
    if caplen > u64::from(*wirelen) {
        *wirelen = caplen as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_ids_in_cooked_captures_are_swapped() {
        let mut sll = vec![0u8; 24];
        sll[15] = 0x0c; // protocol CAN, big-endian at 14
        sll[16..20].copy_from_slice(&[1, 2, 3, 4]);
        let mut len = 24;
        post_process(Dlt::LINUX_SLL, true, &mut len, &mut sll);
        assert_eq!(&sll[16..20], &[4, 3, 2, 1]);
        // Not swapped when the file is in our byte order, or for IP.
        post_process(Dlt::LINUX_SLL, false, &mut len, &mut sll);
        assert_eq!(&sll[16..20], &[4, 3, 2, 1]);
        sll[15] = 0x00;
        post_process(Dlt::LINUX_SLL, true, &mut len, &mut sll);
        assert_eq!(&sll[16..20], &[4, 3, 2, 1]);
    }

    #[test]
    fn pflog_swaps_only_fields_inside_the_header() {
        let mut p = vec![0u8; 64];
        p[0] = 52; // header length covers uid and pid, not rule_uid
        for (i, b) in p.iter_mut().enumerate().skip(44) {
            *b = i as u8;
        }
        let mut len = 64;
        post_process(Dlt::PFLOG, true, &mut len, &mut p);
        assert_eq!(&p[44..48], &[47, 46, 45, 44]);
        assert_eq!(&p[48..52], &[51, 50, 49, 48]);
        assert_eq!(&p[52..56], &[52, 53, 54, 55]);
    }

    #[test]
    fn nflog_tlvs_are_swapped_until_they_stop_fitting() {
        // Header, one TLV of length 8 (big-endian written, as from a
        // big-endian machine), then a truncated TLV header.
        let mut p = vec![2, 0, 0, 0, 0, 8, 0, 1, 9, 9, 9, 9, 0, 0];
        let mut len = p.len() as u32;
        post_process(Dlt::NFLOG, true, &mut len, &mut p);
        assert_eq!(&p[4..8], &[8, 0, 1, 0]);
        assert_eq!(&p[12..14], &[0, 0]);
    }

    /// Packets the reader hands out in place skip `post_process`: it must
    /// indeed leave them alone. Every link type, both byte orders, packets of
    /// varied sizes and contents (each pseudo-header the swaps key on).
    #[test]
    fn packets_needing_no_fix_up_are_left_alone() {
        let mut changed = 0;
        for dlt in (0..300).chain(1000..1010).map(Dlt) {
            for swapped in [false, true] {
                for len in [0usize, 1, 16, 24, 47, 64, 80, 200] {
                    for fill in [0u8, 1, 0x0c, 0x43, 0x81, 0xff] {
                        let mut p: Vec<u8> = (0..len).map(|i| fill ^ (i as u8 & 3)).collect();
                        let orig = p.clone();
                        let mut wirelen = len as u32 + 7;
                        post_process(dlt, swapped, &mut wirelen, &mut p);
                        let touched = p != orig || wirelen != len as u32 + 7;
                        if touched {
                            changed += 1;
                            assert!(needs_post_process(dlt, swapped), "{dlt:?} {swapped}");
                        }
                    }
                }
            }
        }
        assert!(changed > 0, "some inputs exercise the fix-ups");
    }

    #[test]
    fn usb_mmapped_length_is_repaired() {
        let mut p = vec![0u8; 64 + 16];
        p[8] = b'C';
        p[9] = 0; // isochronous
        p[10] = 0x81; // IN
        p[32..36].copy_from_slice(&100u32.to_ne_bytes()); // urb_len
        p[60..64].copy_from_slice(&1u32.to_ne_bytes()); // ndesc
        p[68..72].copy_from_slice(&10u32.to_ne_bytes()); // desc offset
        p[72..76].copy_from_slice(&20u32.to_ne_bytes()); // desc len
        let mut len = 64 + 16 + 100;
        post_process(Dlt::USB_LINUX_MMAPPED, false, &mut len, &mut p);
        assert_eq!(len, 64 + 16 + 30);
    }
}
