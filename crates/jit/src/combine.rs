//! Load combining for unchecked code: two adjacent byte loads joined into a 16-bit value,
//!
//! ```text
//! rA = *(u8 *)(p + k + 1)      rA = *(u8 *)(p + k)
//! rC = *(u8 *)(p + k)          rC = *(u8 *)(p + k + 1)
//! rC <<= 8                     rC <<= 8
//! rC |= rA                     rC |= rA
//! ```
//!
//! (the loads in either order, the shift possibly between them, 32- or 64-bit ALU, `|`,
//! `+` or `^`, which agree on disjoint bits), become one 16-bit load: big-endian on the
//! left (`movzx` + `rol`), little-endian on the right (a plain `movzx`). This is how eBPF
//! compilers read the 16-bit fields of packed headers and the words of a checksum.
//!
//! Exact when the four instructions always run together (none but the first is a jump
//! target), the register that is not the result is dead afterwards (register liveness),
//! and the two addresses are computed from the same registers holding the same values.
//! Only in unchecked code: a checked access of two bytes could fail where the first byte
//! alone would, with a different error.

use crate::fold::Fold;
use crate::usage::{self, bit, RegSet};
use bpfkit_isa::{AluOp, Insn, MemSize, Operand, Reg, Width};

/// What load combining decided for one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Emitted as written.
    None,
    /// The first of four instructions computed by one 16-bit load into `dst` from the
    /// address of the load at index `lower` (the one of the lower address); big-endian if
    /// `swap`.
    Load16 { dst: Reg, lower: usize, swap: bool },
    /// Covered by the `Load16` before it.
    Skip,
}

/// Number of instructions a combined load replaces.
pub(crate) const LEN: usize = 4;

/// An address as registers and a displacement: `base + index + disp`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Addr {
    base: Reg,
    index: Option<Reg>,
    disp: i32,
}

impl Addr {
    fn regs(&self) -> RegSet {
        bit(self.base) | self.index.map_or(0, bit)
    }
}

/// A zero-extending byte load at index `i`: its destination and address (after folding).
fn byte_load(insns: &[Insn], folds: &[Fold], i: usize) -> Option<(Reg, Addr)> {
    let Insn::Ldx {
        size: MemSize::B,
        signed: false,
        dst,
        src,
        off,
    } = insns[i]
    else {
        return None;
    };
    let addr = match folds[i] {
        Fold::Use { base, index, disp } => Addr { base, index, disp },
        _ => Addr {
            base: src,
            index: None,
            disp: off as i32,
        },
    };
    Some((dst, addr))
}

/// Decides the combined loads. `block_start(i)`: whether control may arrive at `i` from
/// elsewhere; `live`: registers live after each instruction; `folds`: address folding.
pub(crate) fn combines(
    insns: &[Insn],
    block_start: &dyn Fn(usize) -> bool,
    live: &[RegSet],
    folds: &[Fold],
) -> Vec<Combine> {
    let n = insns.len();
    let mut out = vec![Combine::None; n];
    let mut i = 0;
    while i + LEN <= n {
        match combine_at(insns, i, block_start, live, folds) {
            Some(c) => {
                out[i] = c;
                out[i + 1..i + LEN].fill(Combine::Skip);
                i += LEN;
            }
            None => i += 1,
        }
    }
    out
}

fn combine_at(
    insns: &[Insn],
    i: usize,
    block_start: &dyn Fn(usize) -> bool,
    live: &[RegSet],
    folds: &[Fold],
) -> Option<Combine> {
    if (i + 1..i + LEN).any(block_start) {
        return None;
    }
    // The last instruction joins the two bytes: `x op= y`.
    let Insn::Alu {
        op: AluOp::Or | AluOp::Add | AluOp::Xor,
        dst: result,
        src: Operand::Reg(other),
        ..
    } = insns[i + LEN - 1]
    else {
        return None;
    };
    // The first is a byte load; the second load and the shift of its destination by 8 follow
    // in one of three orders.
    let (first, first_addr) = byte_load(insns, folds, i)?;
    let is_shift = |j: usize, r: Reg| {
        matches!(insns[j], Insn::Alu {
            width: Width::W64 | Width::W32,
            op: AluOp::Lsh,
            dst,
            src: Operand::Imm(8),
        } if dst == r)
    };
    let (second_at, shifted) = if let Some((second, _)) = byte_load(insns, folds, i + 1) {
        if is_shift(i + 2, second) {
            (i + 1, second) // A, C, C <<= 8
        } else if is_shift(i + 2, first) {
            (i + 1, first) // C, A, C <<= 8
        } else {
            return None;
        }
    } else if is_shift(i + 1, first) {
        (i + 2, first) // C, C <<= 8, A
    } else {
        return None;
    };
    let (second, second_addr) = byte_load(insns, folds, second_at)?;
    if first == second {
        return None;
    }
    let (high, low) = if shifted == first {
        ((first, first_addr), (second, second_addr))
    } else {
        ((second, second_addr), (first, first_addr))
    };
    // The join names both bytes; the register not receiving the result dies.
    if !(result == high.0 && other == low.0 || result == low.0 && other == high.0) {
        return None;
    }
    if live[i + LEN - 1] & bit(other) != 0 {
        return None;
    }
    // The second address reads the registers the first did when nothing in between wrote
    // them: then both are computed from the values present at `i`.
    let written = (i..second_at).fold(0, |set, j| set | usage::written(&insns[j]));
    if written & second_addr.regs() != 0 {
        return None;
    }
    let (h, l) = (high.1, low.1);
    if h.base != l.base || h.index != l.index {
        return None;
    }
    // The high byte at the lower address: big-endian; at the higher: little-endian.
    let swap = match l.disp.checked_sub(h.disp)? {
        1 => true,
        -1 => false,
        _ => return None,
    };
    let lower = if swap == (shifted == first) {
        i
    } else {
        second_at
    };
    Some(Combine::Load16 {
        dst: result,
        lower,
        swap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldb(dst: u8, src: u8, off: i16) -> Insn {
        Insn::Ldx {
            size: MemSize::B,
            signed: false,
            dst: Reg::new(dst).unwrap(),
            src: Reg::new(src).unwrap(),
            off,
        }
    }

    fn alu(width: Width, op: AluOp, dst: u8, src: Operand) -> Insn {
        Insn::Alu {
            width,
            op,
            dst: Reg::new(dst).unwrap(),
            src,
        }
    }

    fn decide(insns: &[Insn], live_after: RegSet) -> Combine {
        let mut live = vec![0; insns.len()];
        live[LEN - 1] = live_after;
        let folds = vec![Fold::None; insns.len()];
        combines(insns, &|_| false, &live, &folds)[0]
    }

    const SHL8: Operand = Operand::Imm(8);
    const R2: Operand = Operand::Reg(Reg::R2);

    #[test]
    fn recognises_the_three_orders_and_both_byte_orders() {
        let w = Width::W64;
        let be = |lower| Combine::Load16 {
            dst: Reg::R3,
            lower,
            swap: true,
        };
        // r2 = p[9]; r3 = p[8]; r3 <<= 8; r3 |= r2: big-endian at 8 (the second load).
        let a = [
            ldb(2, 1, 9),
            ldb(3, 1, 8),
            alu(w, AluOp::Lsh, 3, SHL8),
            alu(w, AluOp::Or, 3, R2),
        ];
        assert_eq!(decide(&a, 0), be(1));
        // r3 = p[8]; r2 = p[9]; ...: the same value, lower address first.
        let b = [a[1], a[0], a[2], a[3]];
        assert_eq!(decide(&b, 0), be(0));
        // r3 = p[8]; r3 <<= 8; r2 = p[9]; r3 |= r2 (32-bit ALU).
        let w32 = Width::W32;
        let c = [
            ldb(3, 1, 8),
            alu(w32, AluOp::Lsh, 3, SHL8),
            ldb(2, 1, 9),
            alu(w32, AluOp::Add, 3, R2),
        ];
        assert_eq!(decide(&c, 0), be(0));
        // High byte at the higher address: little-endian from the low byte's address.
        let d = [ldb(2, 1, 7), a[1], a[2], a[3]];
        assert_eq!(
            decide(&d, 0),
            Combine::Load16 {
                dst: Reg::R3,
                lower: 0,
                swap: false
            }
        );
    }

    #[test]
    fn near_misses_are_left_alone() {
        let w = Width::W64;
        let pattern = [
            ldb(2, 1, 9),
            ldb(3, 1, 8),
            alu(w, AluOp::Lsh, 3, SHL8),
            alu(w, AluOp::Or, 3, R2),
        ];
        // The temporary is read later.
        assert_eq!(decide(&pattern, bit(Reg::R2)), Combine::None);
        // Bytes two apart, or different bases.
        let mut far = pattern;
        far[0] = ldb(2, 1, 10);
        assert_eq!(decide(&far, 0), Combine::None);
        let mut other_base = pattern;
        other_base[0] = ldb(2, 4, 9);
        assert_eq!(decide(&other_base, 0), Combine::None);
        // The first load overwrites the second's base (the addresses look adjacent).
        let clobber = [ldb(2, 2, 9), ldb(3, 2, 8), pattern[2], pattern[3]];
        assert_eq!(decide(&clobber, 0), Combine::None);
        // Shift by another amount, or a signed load.
        let mut shift7 = pattern;
        shift7[2] = alu(w, AluOp::Lsh, 3, Operand::Imm(7));
        assert_eq!(decide(&shift7, 0), Combine::None);
        let mut signed = pattern;
        signed[1] = Insn::Ldx {
            size: MemSize::B,
            signed: true,
            dst: Reg::R3,
            src: Reg::R1,
            off: 8,
        };
        assert_eq!(decide(&signed, 0), Combine::None);
        // A jump target inside.
        let live = [0; LEN];
        let folds = [Fold::None; LEN];
        let got = combines(&pattern, &|i| i == 2, &live, &folds);
        assert_eq!(got[0], Combine::None);
    }
}
