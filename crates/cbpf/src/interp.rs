//! The interpreter, with the semantics of libpcap's userland `bpf_filter`.
//!
//! It runs any instruction sequence without panicking: where libpcap would
//! read out of bounds, divide by zero, abort on an unknown opcode or run off
//! the end of the program, this interpreter returns 0 (reject) instead. On
//! programs that pass [`validate`](crate::validate) the result is exactly
//! libpcap's.
//!
//! Two choices go beyond libpcap, both documented on [`run`]: shifts by a
//! constant of 32 or more use the amount modulo 32 (what libpcap compiled
//! for x86 does), and backward jumps (which libpcap allows for `protochain`)
//! are limited to [`MAX_BACKWARD_JUMPS`] per packet so that no program hangs.

use crate::ancillary::{Ancillary, AncillaryLoad, SKF_AD_OFF};
use crate::insn::Insn;
use crate::op::*;

/// How many backward jumps one run may take before the packet is rejected.
///
/// libpcap's `ip6 protochain` loop takes one per IPv6 extension header; a
/// header is at least 8 bytes, so this covers packets of up to 512 KiB
/// (twice the largest snapshot length) while bounding a malicious loop.
pub const MAX_BACKWARD_JUMPS: u32 = 65_536;

/// Runs `prog` on a packet of which `packet` (the captured bytes) is
/// available and `wirelen` bytes were on the wire; returns the filter's
/// verdict (0 = reject, otherwise the number of bytes to keep).
///
/// Semantics are libpcap's `bpf_filter`: A, X and the 16 scratch words start
/// at 0; `ld #pktlen` reads `wirelen`; a packet load past `packet.len()`
/// returns 0; so does division or modulo by X = 0. Beyond libpcap, anything
/// it leaves undefined also returns 0: an unknown opcode, a jump or
/// fall-through out of the program, a scratch index of 16 or more, division
/// by a constant 0, and more than [`MAX_BACKWARD_JUMPS`] backward jumps.
/// Linux ancillary loads (`SKF_AD_OFF + n`) are out of bounds here, as in
/// libpcap without auxiliary data; see [`run_with_ancillary`].
///
/// ```
/// use bpfkit_cbpf::{run, Insn, op};
/// // ldh [12]; jeq #0x800, accept, reject
/// let prog = [
///     Insn::stmt(op::LD_H_ABS, 12),
///     Insn::jump(op::JMP_JEQ_K, 0x800, 0, 1),
///     Insn::stmt(op::RET_K, 262144),
///     Insn::stmt(op::RET_K, 0),
/// ];
/// let mut frame = [0u8; 60];
/// frame[12] = 0x08;
/// assert_eq!(run(&prog, &frame, 60), 262144);
/// assert_eq!(run(&prog, &frame[..13], 60), 0); // the load is out of bounds
/// ```
pub fn run(prog: &[Insn], packet: &[u8], wirelen: u32) -> u32 {
    execute::<false>(prog, packet, wirelen, &Ancillary::default())
}

/// Like [`run`], with the Linux socket-filter extensions: absolute loads at
/// `SKF_AD_OFF + n` read `anc` (or, for the netlink-attribute lookups, search
/// the packet) as the kernel does, and packet loads that libpcap would
/// reject but that land at a negative offset in `[SKF_LL_OFF, 0)` read the
/// packet relative to its start (`SKF_LL_OFF`) or to `anc.network_offset`
/// (`SKF_NET_OFF`).
pub fn run_with_ancillary(prog: &[Insn], packet: &[u8], wirelen: u32, anc: &Ancillary) -> u32 {
    execute::<true>(prog, packet, wirelen, anc)
}

/// Big-endian load of `N` bytes at `off`, if they are all in the packet.
#[inline(always)]
fn load<const N: usize>(packet: &[u8], off: u64) -> Option<u32> {
    if off + N as u64 > packet.len() as u64 {
        return None;
    }
    let off = off as usize;
    let mut v = 0u32;
    for &byte in &packet[off..off + N] {
        v = (v << 8) | u32::from(byte);
    }
    Some(v)
}

/// The kernel's fallback for a failed load at 32-bit offset `off`: negative
/// offsets relative to the link-layer or network header.
#[cold]
fn load_negative<const N: usize>(packet: &[u8], off: u32, anc: &Ancillary) -> Option<u32> {
    if (off as i32) >= 0 {
        return None;
    }
    load::<N>(packet, anc.negative_base(off)?)
}

/// An absolute load under the kernel's rules, after libpcap's rules failed.
#[cold]
fn load_abs_linux<const N: usize>(
    packet: &[u8],
    k: u32,
    a: u32,
    x: u32,
    anc: &Ancillary,
) -> Option<u32> {
    if k >= SKF_AD_OFF {
        return match anc.load(k - SKF_AD_OFF, packet, a, x) {
            AncillaryLoad::Value(v) => Some(v),
            AncillaryLoad::XorX => Some(a ^ x),
            AncillaryLoad::Reject => None,
        };
    }
    load_negative::<N>(packet, k, anc)
}

fn execute<const LINUX: bool>(prog: &[Insn], pkt: &[u8], wirelen: u32, anc: &Ancillary) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; MEMWORDS as usize];
    let mut backward_jumps_left = MAX_BACKWARD_JUMPS;
    let mut pc = 0usize;

    // A failed load ends the run with 0, unless (LINUX) the kernel's rules
    // find the data elsewhere.
    macro_rules! abs {
        ($n:literal, $k:expr) => {
            match load::<$n>(pkt, u64::from($k)) {
                Some(v) => v,
                None if LINUX => match load_abs_linux::<$n>(pkt, $k, a, x, anc) {
                    Some(v) => v,
                    None => return 0,
                },
                None => return 0,
            }
        };
    }
    macro_rules! ind {
        ($n:literal, $k:expr) => {
            match load::<$n>(pkt, u64::from(x) + u64::from($k)) {
                Some(v) => v,
                None if LINUX => match load_negative::<$n>(pkt, x.wrapping_add($k), anc) {
                    Some(v) => v,
                    None => return 0,
                },
                None => return 0,
            }
        };
    }
    macro_rules! cond {
        ($taken:expr, $ins:expr) => {
            pc += usize::from(if $taken { $ins.jt } else { $ins.jf })
        };
    }

    loop {
        let Some(&ins) = prog.get(pc) else {
            return 0;
        };
        pc += 1;
        let k = ins.k;
        match ins.code {
            RET_K => return k,
            RET_A => return a,

            LD_W_ABS => a = abs!(4, k),
            LD_H_ABS => a = abs!(2, k),
            LD_B_ABS => a = abs!(1, k),
            LD_W_IND => a = ind!(4, k),
            LD_H_IND => a = ind!(2, k),
            LD_B_IND => a = ind!(1, k),
            LDX_B_MSH => x = (abs!(1, k) & 0xf) << 2,
            LD_W_LEN => a = wirelen,
            LDX_W_LEN => x = wirelen,
            LD_IMM => a = k,
            LDX_IMM => x = k,
            LD_MEM | LDX_MEM | ST_MEM | STX_MEM => {
                let Some(cell) = mem.get_mut(k as usize) else {
                    return 0;
                };
                match ins.code {
                    LD_MEM => a = *cell,
                    LDX_MEM => x = *cell,
                    ST_MEM => *cell = a,
                    _ => *cell = x,
                }
            }

            JMP_JA => {
                // libpcap sign-extends k: protochain jumps backwards.
                let off = k as i32;
                if off < 0 {
                    if backward_jumps_left == 0 {
                        return 0;
                    }
                    backward_jumps_left -= 1;
                }
                pc = pc.wrapping_add(off as isize as usize);
            }
            JMP_JEQ_K => cond!(a == k, ins),
            JMP_JGT_K => cond!(a > k, ins),
            JMP_JGE_K => cond!(a >= k, ins),
            JMP_JSET_K => cond!(a & k != 0, ins),
            JMP_JEQ_X => cond!(a == x, ins),
            JMP_JGT_X => cond!(a > x, ins),
            JMP_JGE_X => cond!(a >= x, ins),
            JMP_JSET_X => cond!(a & x != 0, ins),

            ALU_ADD_K => a = a.wrapping_add(k),
            ALU_SUB_K => a = a.wrapping_sub(k),
            ALU_MUL_K => a = a.wrapping_mul(k),
            ALU_DIV_K => match a.checked_div(k) {
                Some(v) => a = v,
                None => return 0,
            },
            ALU_MOD_K => match a.checked_rem(k) {
                Some(v) => a = v,
                None => return 0,
            },
            ALU_AND_K => a &= k,
            ALU_OR_K => a |= k,
            ALU_XOR_K => a ^= k,
            // A constant shift count is used modulo 32, as x86 does for
            // libpcap's `A <<= k` (the kernel rejects k >= 32).
            ALU_LSH_K => a = a.wrapping_shl(k),
            ALU_RSH_K => a = a.wrapping_shr(k),
            ALU_ADD_X => a = a.wrapping_add(x),
            ALU_SUB_X => a = a.wrapping_sub(x),
            ALU_MUL_X => a = a.wrapping_mul(x),
            ALU_DIV_X => match a.checked_div(x) {
                Some(v) => a = v,
                None => return 0,
            },
            ALU_MOD_X => match a.checked_rem(x) {
                Some(v) => a = v,
                None => return 0,
            },
            ALU_AND_X => a &= x,
            ALU_OR_X => a |= x,
            ALU_XOR_X => a ^= x,
            ALU_LSH_X => a = a.checked_shl(x).unwrap_or(0),
            ALU_RSH_X => a = a.checked_shr(x).unwrap_or(0),
            ALU_NEG => a = a.wrapping_neg(),
            MISC_TAX => x = a,
            MISC_TXA => a = x,
            _ => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ancillary::*;

    fn s(code: u16, k: u32) -> Insn {
        Insn::stmt(code, k)
    }

    #[test]
    fn loads_are_big_endian_and_bounds_checked() {
        let pkt = [1, 2, 3, 4, 5];
        let prog = [s(LD_W_ABS, 1), s(RET_A, 0)];
        assert_eq!(run(&prog, &pkt, 5), 0x0203_0405);
        let prog = [s(LD_W_ABS, 2), s(RET_A, 0)];
        assert_eq!(run(&prog, &pkt, 5), 0);
        // Indexed: X + k, where the sum must not wrap around.
        let prog = [s(LDX_IMM, 3), s(LD_H_IND, 0), s(RET_A, 0)];
        assert_eq!(run(&prog, &pkt, 5), 0x0405);
        let prog = [s(LDX_IMM, u32::MAX), s(LD_B_IND, 2), s(RET_A, 0)];
        assert_eq!(run(&prog, &pkt, 5), 0);
    }

    #[test]
    fn msh_len_and_scratch_memory() {
        let pkt = [0x45u8; 20];
        let prog = [
            s(LDX_B_MSH, 0),
            s(MISC_TXA, 0),
            s(ST_MEM, 3),
            s(LD_W_LEN, 0),
            s(LDX_MEM, 3),
            s(ALU_ADD_X, 0),
            s(LDX_MEM, 9), // never stored: zero
            s(ALU_ADD_X, 0),
            s(RET_A, 0),
        ];
        assert_eq!(run(&prog, &pkt, 1000), 1000 + 20);
    }

    #[test]
    fn division_by_zero_and_bad_programs_reject() {
        let prog = [s(LD_IMM, 7), s(ALU_DIV_X, 0), s(RET_K, 1)];
        assert_eq!(run(&prog, &[], 0), 0);
        let prog = [s(LD_IMM, 7), s(ALU_MOD_K, 0), s(RET_K, 1)];
        assert_eq!(run(&prog, &[], 0), 0);
        assert_eq!(run(&[s(0xff, 0), s(RET_K, 1)], &[], 0), 0);
        assert_eq!(run(&[s(LD_IMM, 1)], &[], 0), 0); // falls off the end
        assert_eq!(run(&[s(ST_MEM, 16), s(RET_K, 1)], &[], 0), 0);
        assert_eq!(run(&[], &[], 0), 0);
    }

    #[test]
    fn shifts_follow_libpcap() {
        let prog = [s(LD_IMM, 1), s(LDX_IMM, 33), s(ALU_LSH_X, 0), s(RET_A, 0)];
        assert_eq!(run(&prog, &[], 0), 0);
        let prog = [s(LD_IMM, 1), s(ALU_LSH_K, 33), s(RET_A, 0)];
        assert_eq!(run(&prog, &[], 0), 2);
    }

    #[test]
    fn backward_jumps_run_and_are_bounded() {
        // Count down from 3 with a backward jump: A = 3; loop: A -= 1; if A == 0 ret; ja loop
        let prog = [
            s(LD_IMM, 3),
            s(ALU_SUB_K, 1),
            Insn::jump(JMP_JEQ_K, 0, 1, 0),
            s(JMP_JA, (-3i32) as u32),
            s(RET_K, 77),
        ];
        assert_eq!(run(&prog, &[], 0), 77);
        // An endless loop is cut off.
        let prog = [s(JMP_JA, u32::MAX), s(RET_K, 1)];
        assert_eq!(run(&prog, &[], 0), 0);
    }

    #[test]
    fn ancillary_loads_need_a_context() {
        let anc = Ancillary {
            protocol: 0x86dd,
            vlan_tci: 0x1005,
            vlan_present: true,
            ..Ancillary::default()
        };
        let prog = [s(LD_H_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL), s(RET_A, 0)];
        assert_eq!(run(&prog, &[0; 64], 64), 0);
        assert_eq!(run_with_ancillary(&prog, &[0; 64], 64, &anc), 0x86dd);
        let prog = [
            s(LD_B_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
            s(RET_A, 0),
        ];
        assert_eq!(run_with_ancillary(&prog, &[], 0, &anc), 1);
        let prog = [
            s(LD_IMM, 0xf0),
            s(LDX_IMM, 0x0f),
            s(LD_W_ABS, SKF_AD_OFF + SKF_AD_ALU_XOR_X),
            s(RET_A, 0),
        ];
        assert_eq!(run_with_ancillary(&prog, &[], 0, &anc), 0xff);
        // An unknown ancillary offset is still out of bounds.
        let prog = [s(LD_W_ABS, SKF_AD_OFF + 64), s(RET_K, 1)];
        assert_eq!(run_with_ancillary(&prog, &[0; 8], 8, &anc), 0);
    }

    #[test]
    fn negative_offsets_with_a_context() {
        let pkt: Vec<u8> = (0..40).collect();
        let anc = Ancillary {
            network_offset: 14,
            ..Ancillary::default()
        };
        let prog = [s(LD_B_ABS, SKF_NET_OFF + 2), s(RET_A, 0)];
        assert_eq!(run(&prog, &pkt, 40), 0);
        assert_eq!(run_with_ancillary(&prog, &pkt, 40, &anc), 16);
        let prog = [s(LDX_IMM, 5), s(LD_H_IND, SKF_LL_OFF), s(RET_A, 0)];
        assert_eq!(run_with_ancillary(&prog, &pkt, 40, &anc), 0x0506);
    }
}
