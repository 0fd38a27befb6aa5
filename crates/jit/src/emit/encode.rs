//! Hand encoding of the instructions with a memory operand that hot code uses most (loads,
//! stores, `lea`), in their shortest form.
//!
//! `dynasm!` encodes a memory operand with run-time registers for any register: always a SIB
//! byte and at least an 8-bit displacement (the forms `rsp`/`r12` and `rbp`/`r13` need), and
//! a REX prefix. Besides the size, the form matters for `lea`: on AMD Zen cores a `lea` with
//! base, index *and* displacement (even a zero one) takes 2 cycles instead of 1, which
//! lengthened loops that multiply by 3 through `lea` by a third. Here the displacement is
//! left out when zero (unless the base needs one; then base and index swap where they can),
//! the SIB byte when there is no index, and the REX prefix when no bit of it is needed.

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

/// How an instruction is prefixed beyond its opcode.
#[derive(Clone, Copy, Default)]
pub(crate) struct Prefix {
    /// 64-bit operand (REX.W).
    pub wide: bool,
    /// 16-bit operand (0x66).
    pub word: bool,
    /// A byte register operand among spl/bpl/sil/dil, which exist only with a REX prefix.
    pub byte_reg: bool,
}

/// Appends the encoding of `opcode` with ModRM register field `reg` and memory operand `m`.
pub(crate) fn encode(out: &mut Vec<u8>, prefix: Prefix, opcode: &[u8], reg: u8, m: Operand) {
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
    let rex = 0x40 | (prefix.wide as u8) << 3 | (reg >> 3) << 2 | (ix >> 3) << 1 | (base >> 3);
    if prefix.word {
        out.push(0x66);
    }
    if rex != 0x40 || (prefix.byte_reg && (4..8).contains(&reg)) {
        out.push(rex);
    }
    out.extend_from_slice(opcode);
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
    /// Emits `opcode` with register field `reg` and memory operand `m` (then `imm`).
    pub(super) fn mem_insn(
        &mut self,
        prefix: Prefix,
        opcode: &[u8],
        reg: u8,
        m: Operand,
        imm: &[u8],
    ) {
        let mut bytes = Vec::with_capacity(16);
        encode(&mut bytes, prefix, opcode, reg, m);
        bytes.extend_from_slice(imm);
        self.asm.extend(bytes);
    }

    /// `lea dst, [m]`, 64-bit or 32-bit (the address truncated).
    pub(super) fn lea(&mut self, wide: bool, dst: u8, m: Operand) {
        let prefix = Prefix {
            wide,
            ..Prefix::default()
        };
        self.mem_insn(prefix, &[0x8d], dst, m, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(prefix: Prefix, opcode: &[u8], reg: u8, m: Operand) -> Vec<u8> {
        let mut v = Vec::new();
        encode(&mut v, prefix, opcode, reg, m);
        v
    }

    const W: Prefix = Prefix {
        wide: true,
        word: false,
        byte_reg: false,
    };

    // Expected bytes from the Intel SDM's ModRM/SIB tables (checked with GNU as).
    #[test]
    fn shortest_forms() {
        // mov rax, [rdi]: no SIB, no displacement.
        assert_eq!(
            enc(W, &[0x8b], 0, Operand::new(7, None, 0)),
            [0x48, 0x8b, 0x07]
        );
        // mov eax, [rdi + 8]: no REX.
        let p = Prefix::default();
        assert_eq!(
            enc(p, &[0x8b], 0, Operand::new(7, None, 8)),
            [0x8b, 0x47, 0x08]
        );
        // mov r13, [rcx + rax]: SIB, no displacement.
        assert_eq!(
            enc(W, &[0x8b], 13, Operand::new(1, Some(0), 0)),
            [0x4c, 0x8b, 0x2c, 0x01]
        );
        // [rbp] needs a zero displacement; [rbp + rcx] swaps to [rcx + rbp].
        assert_eq!(
            enc(W, &[0x8b], 0, Operand::new(5, None, 0)),
            [0x48, 0x8b, 0x45, 0x00]
        );
        assert_eq!(
            enc(W, &[0x8b], 0, Operand::new(5, Some(1), 0)),
            [0x48, 0x8b, 0x04, 0x29]
        );
        // [r13 + rbp]: neither can be a base without displacement.
        assert_eq!(
            enc(W, &[0x8b], 0, Operand::new(13, Some(5), 0)),
            [0x49, 0x8b, 0x44, 0x2d, 0x00]
        );
        // [r12] needs a SIB byte.
        assert_eq!(
            enc(W, &[0x8b], 0, Operand::new(12, None, 0)),
            [0x49, 0x8b, 0x04, 0x24]
        );
        // lea rax, [rax + rax * 2]: no displacement.
        let m = Operand {
            base: 0,
            index: Some(0),
            scale: 1,
            disp: 0,
        };
        assert_eq!(enc(W, &[0x8d], 0, m), [0x48, 0x8d, 0x04, 0x40]);
        // mov [rbx - 300], si (16-bit): 0x66, 32-bit displacement.
        let p16 = Prefix {
            word: true,
            ..Prefix::default()
        };
        assert_eq!(
            enc(p16, &[0x89], 6, Operand::new(3, None, -300)),
            [0x66, 0x89, 0xb3, 0xd4, 0xfe, 0xff, 0xff]
        );
        // mov [rax], sil needs an empty REX; mov [rax], bl does not.
        let pb = Prefix {
            byte_reg: true,
            ..Prefix::default()
        };
        assert_eq!(
            enc(pb, &[0x88], 6, Operand::new(0, None, 0)),
            [0x40, 0x88, 0x30]
        );
        assert_eq!(enc(pb, &[0x88], 3, Operand::new(0, None, 0)), [0x88, 0x18]);
        // movzx r9d, word [r15 + r14 + 1].
        assert_eq!(
            enc(p, &[0x0f, 0xb7], 9, Operand::new(15, Some(14), 1)),
            [0x47, 0x0f, 0xb7, 0x4c, 0x37, 0x01]
        );
    }
}
