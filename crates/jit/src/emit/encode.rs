//! Hand encoding of `lea` in its shortest form; every other instruction goes through
//! `dynasm!`.
//!
//! `dynasm!` encodes a memory operand with run-time registers for any register: always a SIB
//! byte and at least an 8-bit displacement (the forms `rsp`/`r12` and `rbp`/`r13` need).
//! For `lea` the form matters beyond its size: on AMD Zen cores a `lea` with base, index
//! *and* displacement (even a zero one) takes 2 cycles instead of 1. `rX *= 3` (a `lea`)
//! and the `mov`/`add` pairs joined into one are on the loop-carried chains of compute
//! loops: measured on this machine (AMD EPYC), dynasm's form made the benchmark's `alu loop`
//! about 33% slower (125 µs against 94) and `memcpy-like` about 30% slower, while
//! dynasm's form for loads and stores measured the same as the shortest one (so those stay
//! with dynasm). Here the displacement is left out when zero (unless the base needs one;
//! then base and index swap where they can), the SIB byte when there is no index, and the
//! REX prefix when no bit of it is needed.

use super::Emitter;

/// A memory operand `[base + index * 2^scale + disp]` (x86 register numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operand {
    pub base: u8,
    pub index: Option<u8>,
    /// log2 of the index's scale (0–3).
    pub scale: u8,
    pub disp: i32,
}

impl Operand {
    pub(crate) fn new(base: u8, index: Option<u8>, disp: i32) -> Operand {
        Operand {
            base,
            index,
            scale: 0,
            disp,
        }
    }
}

/// Appends the encoding of `lea reg, [m]`, 64-bit if `wide` (else 32-bit: the address
/// truncated).
fn encode_lea(out: &mut Vec<u8>, wide: bool, reg: u8, m: Operand) {
    let Operand {
        mut base,
        mut index,
        scale,
        disp,
    } = m;
    // [rbp/r13 + x] needs a displacement byte; [x + rbp/r13] does not.
    if disp == 0 && scale == 0 && base & 7 == 5 {
        if let Some(ix) = index.filter(|ix| ix & 7 != 5 && ix & 7 != 4) {
            index = Some(base);
            base = ix;
        }
    }
    let ix = index.unwrap_or(4); // 100: no index
    let rex = 0x40 | (wide as u8) << 3 | (reg >> 3) << 2 | (ix >> 3) << 1 | (base >> 3);
    if rex != 0x40 {
        out.push(rex);
    }
    out.push(0x8d);
    let (mode, disp_len) = if disp == 0 && base & 7 != 5 {
        (0b00, 0)
    } else if i8::try_from(disp).is_ok() {
        (0b01, 1)
    } else {
        (0b10, 4)
    };
    let sib = index.is_some() || base & 7 == 4;
    let rm = if sib { 4 } else { base & 7 };
    out.push(mode << 6 | (reg & 7) << 3 | rm);
    if sib {
        out.push(scale << 6 | (ix & 7) << 3 | (base & 7));
    }
    out.extend_from_slice(&disp.to_le_bytes()[..disp_len]);
}

impl Emitter<'_> {
    /// `lea dst, [m]`, 64-bit or 32-bit (the address truncated).
    pub(super) fn lea(&mut self, wide: bool, dst: u8, m: Operand) {
        let mut bytes = Vec::with_capacity(8);
        encode_lea(&mut bytes, wide, dst, m);
        self.asm.extend(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lea(wide: bool, reg: u8, m: Operand) -> Vec<u8> {
        let mut v = Vec::new();
        encode_lea(&mut v, wide, reg, m);
        v
    }

    // Expected bytes: llvm-mc's encoding of each (`llvm-mc -triple=x86_64 --show-encoding`).
    #[test]
    fn shortest_forms() {
        // lea rax, [rdi]: no SIB, no displacement.
        assert_eq!(lea(true, 0, Operand::new(7, None, 0)), [0x48, 0x8d, 0x07]);
        // lea eax, [rdi + 8]: no REX.
        assert_eq!(lea(false, 0, Operand::new(7, None, 8)), [0x8d, 0x47, 0x08]);
        // lea r13, [rcx + rax]: SIB, no displacement.
        assert_eq!(
            lea(true, 13, Operand::new(1, Some(0), 0)),
            [0x4c, 0x8d, 0x2c, 0x01]
        );
        // [rbp] needs a zero displacement; [rbp + rcx] swaps to [rcx + rbp].
        assert_eq!(
            lea(true, 0, Operand::new(5, None, 0)),
            [0x48, 0x8d, 0x45, 0x00]
        );
        assert_eq!(
            lea(true, 0, Operand::new(5, Some(1), 0)),
            [0x48, 0x8d, 0x04, 0x29]
        );
        // [r13 + rbp]: neither can be a base without displacement.
        assert_eq!(
            lea(true, 0, Operand::new(13, Some(5), 0)),
            [0x49, 0x8d, 0x44, 0x2d, 0x00]
        );
        // [r12] needs a SIB byte.
        assert_eq!(
            lea(true, 0, Operand::new(12, None, 0)),
            [0x49, 0x8d, 0x04, 0x24]
        );
        // lea rax, [rax + rax * 2]: no displacement.
        let m = Operand {
            base: 0,
            index: Some(0),
            scale: 1,
            disp: 0,
        };
        assert_eq!(lea(true, 0, m), [0x48, 0x8d, 0x04, 0x40]);
        // lea r11, [rbx - 300]: 32-bit displacement.
        assert_eq!(
            lea(true, 11, Operand::new(3, None, -300)),
            [0x4c, 0x8d, 0x9b, 0xd4, 0xfe, 0xff, 0xff]
        );
        // lea r9d, [r15 + r14 + 1].
        assert_eq!(
            lea(false, 9, Operand::new(15, Some(14), 1)),
            [0x47, 0x8d, 0x4c, 0x37, 0x01]
        );
    }
}
