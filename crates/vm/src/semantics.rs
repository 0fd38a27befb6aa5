//! The value semantics of ALU, byte-order and jump instructions, as pure functions.
//!
//! The interpreter calls these with constant operations (so they fold away); a JIT's tests and
//! a verifier's constant folding can call them to agree with the reference exactly.
//!
//! Conventions (RFC 9669): 32-bit operations use the low halves and zero-extend the result;
//! shift amounts are masked to the width; unsigned and signed division by zero give 0; modulo
//! by zero leaves the dividend (for 32 bits: its zero-extended low half); `INT_MIN / -1` wraps
//! to `INT_MIN` and `INT_MIN % -1` is 0.

use bpfkit_isa::{AluOp, Endian, JmpCond};

/// Sign-extends the low `bits` (8, 16, 32 or 64) of `v` to 64 bits.
#[inline(always)]
pub fn sign_extend(v: u64, bits: u8) -> u64 {
    match bits {
        8 => v as i8 as i64 as u64,
        16 => v as i16 as i64 as u64,
        32 => v as i32 as i64 as u64,
        _ => v,
    }
}

/// `dst op src` on 64 bits. For immediates pass `imm as i64 as u64` (sign-extended).
#[inline(always)]
pub fn alu64(op: AluOp, dst: u64, src: u64) -> u64 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        AluOp::SDiv => match src {
            0 => 0,
            _ => (dst as i64).wrapping_div(src as i64) as u64,
        },
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        AluOp::SMod => match src {
            0 => dst,
            _ => (dst as i64).wrapping_rem(src as i64) as u64,
        },
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Lsh => dst << (src & 63),
        AluOp::Rsh => dst >> (src & 63),
        AluOp::Arsh => ((dst as i64) >> (src & 63)) as u64,
        AluOp::Neg => (dst as i64).wrapping_neg() as u64,
        AluOp::Xor => dst ^ src,
        AluOp::Mov => src,
        AluOp::MovSx(bits) => sign_extend(src, bits),
    }
}

/// `dst op src` on the low 32 bits of both, zero-extended to 64 bits.
#[inline(always)]
pub fn alu32(op: AluOp, dst: u64, src: u64) -> u64 {
    let (a, b) = (dst as u32, src as u32);
    let r: u32 = match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::SDiv => match b {
            0 => 0,
            _ => (a as i32).wrapping_div(b as i32) as u32,
        },
        AluOp::Mod => a.checked_rem(b).unwrap_or(a),
        AluOp::SMod => match b {
            0 => a,
            _ => (a as i32).wrapping_rem(b as i32) as u32,
        },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Lsh => a << (b & 31),
        AluOp::Rsh => a >> (b & 31),
        AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
        AluOp::Neg => (a as i32).wrapping_neg() as u32,
        AluOp::Xor => a ^ b,
        AluOp::Mov => b,
        AluOp::MovSx(bits) => sign_extend(src, bits) as u32,
    };
    r as u64
}

/// A byte-order conversion of the low `bits` (16, 32, 64) of `v`, zero-extended.
///
/// `ToLe`/`ToBe` convert from host order (so on a little-endian host `ToLe` only truncates);
/// `Swap` always reverses the bytes.
#[inline(always)]
pub fn endian(kind: Endian, bits: u8, v: u64) -> u64 {
    let swap = match kind {
        Endian::Swap => true,
        Endian::ToBe => cfg!(target_endian = "little"),
        Endian::ToLe => cfg!(target_endian = "big"),
    };
    match (bits, swap) {
        (16, false) => v as u16 as u64,
        (16, true) => (v as u16).swap_bytes() as u64,
        (32, false) => v as u32 as u64,
        (32, true) => (v as u32).swap_bytes() as u64,
        (_, false) => v,
        (_, true) => v.swap_bytes(),
    }
}

/// Whether a 64-bit conditional jump is taken.
#[inline(always)]
pub fn cond64(cond: JmpCond, a: u64, b: u64) -> bool {
    match cond {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Set => a & b != 0,
        JmpCond::Sgt => (a as i64) > (b as i64),
        JmpCond::Sge => (a as i64) >= (b as i64),
        JmpCond::Slt => (a as i64) < (b as i64),
        JmpCond::Sle => (a as i64) <= (b as i64),
    }
}

/// Whether a 32-bit conditional jump (on the low halves) is taken.
#[inline(always)]
pub fn cond32(cond: JmpCond, a: u64, b: u64) -> bool {
    let (a, b) = (a as u32, b as u32);
    match cond {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Set => a & b != 0,
        JmpCond::Sgt => (a as i32) > (b as i32),
        JmpCond::Sge => (a as i32) >= (b as i32),
        JmpCond::Slt => (a as i32) < (b as i32),
        JmpCond::Sle => (a as i32) <= (b as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values follow from the RFC 9669 rules quoted in the module doc.
    #[test]
    fn division_edge_cases() {
        assert_eq!(alu64(AluOp::Div, 7, 0), 0);
        assert_eq!(alu64(AluOp::Mod, 7, 0), 7);
        assert_eq!(
            alu64(AluOp::SDiv, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        assert_eq!(alu64(AluOp::SMod, i64::MIN as u64, u64::MAX), 0);
        assert_eq!(alu64(AluOp::SMod, -7i64 as u64, 2), -1i64 as u64);
        assert_eq!(alu32(AluOp::Mod, 0xdead_beef_0000_0007, 0), 7);
        assert_eq!(alu32(AluOp::SDiv, 0x8000_0000, 0xffff_ffff), 0x8000_0000);
        assert_eq!(alu32(AluOp::SMod, 0x8000_0000, 0xffff_ffff), 0);
        assert_eq!(
            alu32(AluOp::SDiv, -9i32 as u32 as u64, 2),
            -4i32 as u32 as u64
        );
    }

    #[test]
    fn shifts_are_masked_and_32_bit_results_zero_extend() {
        assert_eq!(alu64(AluOp::Lsh, 1, 65), 2);
        assert_eq!(alu32(AluOp::Lsh, 1, 33), 2);
        assert_eq!(alu32(AluOp::Arsh, 0x8000_0000, 4), 0xf800_0000);
        assert_eq!(alu64(AluOp::Arsh, 1 << 63, 63), u64::MAX);
        assert_eq!(alu32(AluOp::Add, u64::MAX, 1), 0);
        assert_eq!(alu32(AluOp::Neg, 1, 0), 0xffff_ffff);
        assert_eq!(alu32(AluOp::MovSx(8), 0, 0x80), 0xffff_ff80);
        assert_eq!(
            alu64(AluOp::MovSx(32), 0, 0x8000_0000),
            0xffff_ffff_8000_0000
        );
    }

    #[test]
    fn byte_order() {
        assert_eq!(endian(Endian::Swap, 16, 0x1234_5678), 0x7856);
        assert_eq!(
            endian(Endian::Swap, 64, 0x0102_0304_0506_0708),
            0x0807_0605_0403_0201
        );
        if cfg!(target_endian = "little") {
            assert_eq!(endian(Endian::ToLe, 32, 0x1_2345_6789), 0x2345_6789);
            assert_eq!(endian(Endian::ToBe, 32, 0x1_2345_6789), 0x8967_4523);
        }
    }

    #[test]
    fn signed_and_32_bit_compares() {
        assert!(cond64(JmpCond::Sgt, 1, u64::MAX));
        assert!(!cond64(JmpCond::Gt, 1, u64::MAX));
        assert!(cond32(JmpCond::Eq, 0xffff_ffff_0000_0001, 1));
        assert!(cond32(JmpCond::Slt, 0x8000_0000, 0));
        assert!(cond64(JmpCond::Set, 6, 2));
    }
}
