//! Conversions of address text to numbers, with libpcap's exact quirks.

/// libpcap's `__pcap_atoin`: a dotted IPv4 address or prefix (`10`, `10.1`,
/// `10.1.2`, `10.1.2.3`) as `(value, bits)`, where `value` is right-aligned
/// and `bits` is 8 per component. Components are read as decimal digits
/// even when written in hex (that is what libpcap does); `None` when a
/// component exceeds 255.
pub(crate) fn atoin(s: &str) -> Option<(u32, u32)> {
    let mut addr: u32 = 0;
    let mut len = 0;
    for part in s.split('.') {
        let mut n: u32 = 0;
        for c in part.bytes() {
            if n > 25 {
                return None;
            }
            n = n
                .wrapping_mul(10)
                .wrapping_add(u32::from(c).wrapping_sub(u32::from(b'0')));
        }
        if n > 255 {
            return None;
        }
        addr = (addr << 8) | (n & 0xff);
        len += 8;
    }
    Some((addr, len))
}

/// Reads a C `%d` integer at the start of `s`; returns it and the rest.
fn scan_int(s: &str) -> Option<(i64, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut v: i64 = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        v = v
            .saturating_mul(10)
            .saturating_add(i64::from(bytes[i] - b'0'));
        i += 1;
    }
    if i == digits_start {
        return None;
    }
    Some((if negative { -v } else { v }, &s[i..]))
}

/// libpcap's `__pcap_atodn`: a DECnet `area.node` address.
pub(crate) fn atodn(s: &str) -> Option<u32> {
    let (area, rest) = scan_int(s)?;
    let rest = rest.strip_prefix('.')?;
    let (node, _) = scan_int(rest)?;
    let area = area as u32;
    let node = node as u32;
    Some(((area << 10) & 0o176000) | (node & 0o1777))
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// libpcap's `pcap_ether_aton` for the MAC forms its scanner accepts
/// (`:`/`-`/`.` separated, or 12 hex digits in groups).
pub(crate) fn ether_aton(s: &str) -> [u8; 6] {
    let bytes = s.as_bytes();
    let mut out = [0u8; 6];
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() && n < 6 {
        if matches!(bytes[i], b':' | b'.' | b'-') {
            i += 1;
        }
        let Some(&c) = bytes.get(i) else { break };
        let mut d = hex_value(c);
        i += 1;
        if let Some(&c2) = bytes.get(i) {
            if c2.is_ascii_hexdigit() {
                d = (d << 4) | hex_value(c2);
                i += 1;
            }
        }
        out[n] = d;
        n += 1;
    }
    out
}

/// `xx:xx:xx:xx:xx:xx` with one or two hex digits per byte (`/etc/ethers`).
pub(crate) fn parse_mac_colons(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// C `inet_network`: up to four dot-separated numbers (decimal, `0x` hex,
/// `0` octal) combined right-aligned.
pub(crate) fn inet_network(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut v: u32 = 0;
    for p in parts {
        let n = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(h, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u32>().ok()?
        };
        if n > 255 {
            return None;
        }
        v = (v << 8) | n;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_prefixes() {
        assert_eq!(atoin("10"), Some((10, 8)));
        assert_eq!(atoin("10.1"), Some((0x0a01, 16)));
        assert_eq!(atoin("192.168.1.2"), Some((0xc0a8_0102, 32)));
        assert_eq!(atoin("256.1"), None);
        assert_eq!(atodn("1.2"), Some((1 << 10) | 2));
        assert_eq!(atodn("0x1.2"), None);
    }

    #[test]
    fn mac_forms() {
        let want = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
        assert_eq!(ether_aton("00:11:22:33:44:55"), want);
        assert_eq!(ether_aton("0011.2233.4455"), want);
        assert_eq!(ether_aton("001122334455"), want);
        assert_eq!(ether_aton("0:11:22:33:44:55"), want);
        assert_eq!(inet_network("10.0.0.0"), Some(0x0a00_0000));
    }
}
