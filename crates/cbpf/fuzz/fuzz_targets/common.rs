// Shared by the targets: splits fuzz input into a program and a packet.
use bpfkit_cbpf::Insn;

/// First byte: program length in instructions (at most 63); then 8 bytes
/// per instruction (code u16, jt, jf, k u32, little-endian); the rest is
/// the packet. The wire length is the packet length plus the last byte.
pub fn split(data: &[u8]) -> Option<(Vec<Insn>, &[u8], u32)> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n & 63);
    if rest.len() < n * 8 {
        return None;
    }
    let (code, packet) = rest.split_at(n * 8);
    let prog = code
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let extra = packet.last().copied().unwrap_or(0);
    Some((prog, packet, packet.len() as u32 + u32::from(extra)))
}
