//! Transfer functions of the ALU on abstract scalars.
//!
//! Arithmetic works on exact integer intervals (`i128`) computed from the unsigned and
//! from the signed bounds, then reduced modulo `2^bits` with [`Range::wrap`]: whichever
//! view stays inside one window gives bounds, and both are intersected. Bitwise
//! operations go through tnums. 32-bit operations compute the low half and zero-extend.

use crate::bounds::{as_signed, Range, Scalar};
use crate::tnum::Tnum;
use bpfkit_isa::{AluOp, Endian, Width};

/// Binary ALU operations on scalars (`Mov`, `Neg` and `MovSx` have their own functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Wrapping multiplication.
    Mul,
    /// Unsigned division (x / 0 = 0).
    Div,
    /// Signed division (x / 0 = 0, MIN / -1 = MIN).
    SDiv,
    /// Unsigned remainder (x % 0 = x).
    Mod,
    /// Signed remainder (x % 0 = x, MIN % -1 = 0).
    SMod,
    /// Bitwise or.
    Or,
    /// Bitwise and.
    And,
    /// Bitwise xor.
    Xor,
    /// Shift left (amount masked to the width).
    Lsh,
    /// Logical shift right (amount masked).
    Rsh,
    /// Arithmetic shift right (amount masked).
    Arsh,
}

impl BinOp {
    /// The binary operation of an ALU opcode, if it is one.
    pub fn from_alu(op: AluOp) -> Option<BinOp> {
        Some(match op {
            AluOp::Add => BinOp::Add,
            AluOp::Sub => BinOp::Sub,
            AluOp::Mul => BinOp::Mul,
            AluOp::Div => BinOp::Div,
            AluOp::SDiv => BinOp::SDiv,
            AluOp::Mod => BinOp::Mod,
            AluOp::SMod => BinOp::SMod,
            AluOp::Or => BinOp::Or,
            AluOp::And => BinOp::And,
            AluOp::Xor => BinOp::Xor,
            AluOp::Lsh => BinOp::Lsh,
            AluOp::Rsh => BinOp::Rsh,
            AluOp::Arsh => BinOp::Arsh,
            AluOp::Neg | AluOp::Mov | AluOp::MovSx(_) => return None,
        })
    }

    /// The concrete result, as the interpreter computes it (for tests and constant folding).
    pub fn eval(self, width: Width, a: u64, b: u64) -> u64 {
        match width {
            Width::W64 => self.eval_bits(a, b, 64),
            Width::W32 => self.eval_bits(a & 0xffff_ffff, b & 0xffff_ffff, 32) & 0xffff_ffff,
        }
    }

    fn eval_bits(self, a: u64, b: u64, bits: u32) -> u64 {
        let (sa, sb) = (as_signed(a, bits), as_signed(b, bits));
        let m = bits as u64 - 1;
        let r = match self {
            BinOp::Add => a.wrapping_add(b),
            BinOp::Sub => a.wrapping_sub(b),
            BinOp::Mul => a.wrapping_mul(b),
            BinOp::Div => a.checked_div(b).unwrap_or(0),
            BinOp::SDiv => {
                if sb == 0 {
                    0
                } else if bits == 32 {
                    (sa as i32).wrapping_div(sb as i32) as i64 as u64
                } else {
                    sa.wrapping_div(sb) as u64
                }
            }
            BinOp::Mod => a.checked_rem(b).unwrap_or(a),
            BinOp::SMod => {
                if sb == 0 {
                    a
                } else if bits == 32 {
                    (sa as i32).wrapping_rem(sb as i32) as i64 as u64
                } else {
                    sa.wrapping_rem(sb) as u64
                }
            }
            BinOp::Or => a | b,
            BinOp::And => a & b,
            BinOp::Xor => a ^ b,
            BinOp::Lsh => a << (b & m),
            BinOp::Rsh => a >> (b & m),
            BinOp::Arsh => (sa >> (b & m)) as u64,
        };
        r & crate::bounds::umax_of(bits)
    }
}

/// A `bits`-wide abstract value: tnum cut to the width plus bounds.
#[derive(Clone, Copy, Debug)]
struct Part {
    t: Tnum,
    r: Range,
}

fn part(s: &Scalar, bits: u32) -> Part {
    if bits == 32 {
        let (t, r) = s.low32();
        Part { t, r }
    } else {
        Part { t: s.var, r: s.r64 }
    }
}

/// The bounds of `[lo, hi]` after reduction, or full bounds if the interval is unknown.
fn wrap(iv: Option<(i128, i128)>, bits: u32) -> Range {
    match iv {
        Some((lo, hi)) => Range::wrap(lo, hi, bits),
        None => Range::full(bits),
    }
}

/// Bounds from an interval computed on unsigned inputs and one computed on signed inputs.
fn both(u: Option<(i128, i128)>, s: Option<(i128, i128)>, bits: u32) -> Range {
    wrap(u, bits).intersect(&wrap(s, bits))
}

fn cut(t: Tnum, bits: u32) -> Tnum {
    t.truncate(bits / 8)
}

fn min_max(v: &[i128]) -> (i128, i128) {
    let lo = *v.iter().min().expect("non-empty");
    let hi = *v.iter().max().expect("non-empty");
    (lo, hi)
}

fn uiv(r: &Range) -> (i128, i128) {
    (r.umin as i128, r.umax as i128)
}

fn siv(r: &Range) -> (i128, i128) {
    (r.smin as i128, r.smax as i128)
}

/// Signed quotient bounds over divisors in `[d1, d2]` (no zero inside), truncating division.
fn sdiv_corners(a: (i128, i128), d1: i128, d2: i128) -> (i128, i128) {
    min_max(&[a.0 / d1, a.0 / d2, a.1 / d1, a.1 / d2])
}

fn binop_part(op: BinOp, a: Part, b: Part, bits: u32) -> Part {
    let (au, bu, asg, bsg) = (uiv(&a.r), uiv(&b.r), siv(&a.r), siv(&b.r));
    let full = Range::full(bits);
    let (t, r) = match op {
        BinOp::Add => (
            a.t.add(b.t),
            both(
                Some((au.0 + bu.0, au.1 + bu.1)),
                Some((asg.0 + bsg.0, asg.1 + bsg.1)),
                bits,
            ),
        ),
        BinOp::Sub => (
            a.t.sub(b.t),
            both(
                Some((au.0 - bu.1, au.1 - bu.0)),
                Some((asg.0 - bsg.1, asg.1 - bsg.0)),
                bits,
            ),
        ),
        BinOp::Mul => {
            let u = au.1.checked_mul(bu.1).map(|hi| (au.0 * bu.0, hi));
            let s = [asg.0 * bsg.0, asg.0 * bsg.1, asg.1 * bsg.0, asg.1 * bsg.1];
            (a.t.mul(b.t), both(u, Some(min_max(&s)), bits))
        }
        BinOp::Div => {
            let iv = if bu.1 == 0 {
                (0, 0)
            } else if bu.0 == 0 {
                (0, au.1)
            } else {
                (au.0 / bu.1, au.1 / bu.0)
            };
            (Tnum::UNKNOWN, wrap(Some(iv), bits))
        }
        BinOp::SDiv => {
            let mut parts = Vec::with_capacity(3);
            if bsg.0 <= 0 && 0 <= bsg.1 {
                parts.push((0, 0));
            }
            if bsg.0 <= -1 {
                parts.push(sdiv_corners(asg, bsg.0, bsg.1.min(-1)));
            }
            if bsg.1 >= 1 {
                parts.push(sdiv_corners(asg, bsg.0.max(1), bsg.1));
            }
            let lo = parts.iter().map(|p| p.0).min().unwrap_or(0);
            let hi = parts.iter().map(|p| p.1).max().unwrap_or(0);
            (Tnum::UNKNOWN, wrap(Some((lo, hi)), bits))
        }
        BinOp::Mod => {
            let r = if bu.1 == 0 {
                a.r
            } else if au.1 < bu.0 {
                // Every dividend is smaller than every divisor: unchanged.
                a.r
            } else {
                let hi = if bu.0 == 0 { au.1 } else { au.1.min(bu.1 - 1) };
                wrap(Some((0, hi)), bits)
            };
            (if bu.1 == 0 { a.t } else { Tnum::UNKNOWN }, r)
        }
        BinOp::SMod => {
            let divisor_may_be_zero = bsg.0 <= 0 && 0 <= bsg.1;
            let r = if bsg == (0, 0) {
                a.r
            } else {
                let m = bsg.0.abs().max(bsg.1.abs()) - 1;
                let lo = if asg.0 < 0 { asg.0.max(-m) } else { 0 };
                let hi = if asg.1 > 0 { asg.1.min(m) } else { 0 };
                let r = wrap(Some((lo, hi)), bits);
                if divisor_may_be_zero {
                    r.union(&a.r)
                } else {
                    r
                }
            };
            (Tnum::UNKNOWN, r)
        }
        BinOp::And => {
            let mut r = full;
            r.umax = a.r.umax.min(b.r.umax);
            // A non-negative operand keeps the result between 0 and its maximum.
            for x in [&a.r, &b.r] {
                if x.smin >= 0 {
                    r.smin = r.smin.max(0);
                    r.smax = r.smax.min(x.smax);
                }
            }
            (a.t.and(b.t), r)
        }
        BinOp::Or => {
            let mut r = full;
            r.umin = a.r.umin.max(b.r.umin);
            if a.r.smin >= 0 && b.r.smin >= 0 {
                r.smin = a.r.smin.max(b.r.smin);
            }
            (a.t.or(b.t), r)
        }
        BinOp::Xor => (a.t.xor(b.t), full),
        BinOp::Lsh | BinOp::Rsh | BinOp::Arsh => return shift_part(op, a, b, bits),
    };
    Part { t: cut(t, bits), r }
}

/// Shifts: the union of the results for every amount the masked operand may take.
fn shift_part(op: BinOp, a: Part, b: Part, bits: u32) -> Part {
    let amount = b.t.and(Tnum::constant(bits as u64 - 1));
    let (lo, hi) = if b.r.umax < bits as u64 {
        (b.r.umin.max(amount.min()), b.r.umax.min(amount.max()))
    } else {
        (amount.min(), amount.max())
    };
    let mut acc: Option<Part> = None;
    for k in lo..=hi {
        if !amount.contains(k) {
            continue;
        }
        let k = k as u32;
        let p = shift_const(op, a, k, bits);
        acc = Some(match acc {
            None => p,
            Some(q) => Part {
                t: q.t.union(p.t),
                r: q.r.union(&p.r),
            },
        });
    }
    acc.unwrap_or(Part {
        t: Tnum::UNKNOWN,
        r: Range::full(bits),
    })
}

fn shift_const(op: BinOp, a: Part, k: u32, bits: u32) -> Part {
    let (au, asg) = (uiv(&a.r), siv(&a.r));
    let (t, r) = match op {
        BinOp::Lsh => {
            let f = 1i128 << k;
            let u = au.1.checked_mul(f).map(|hi| (au.0 * f, hi));
            (a.t.shl(k), both(u, Some((asg.0 * f, asg.1 * f)), bits))
        }
        BinOp::Rsh => {
            let iv = (au.0 >> k, au.1 >> k);
            (a.t.shr(k), wrap(Some(iv), bits))
        }
        _ => {
            let iv = (asg.0 >> k, asg.1 >> k);
            (a.t.sar(k, bits), wrap(Some(iv), bits))
        }
    };
    Part { t: cut(t, bits), r }
}

/// Builds a scalar from its 64-bit part (and a 32-bit part when the op allows it).
fn assemble64(p: Part, low: Option<Part>) -> Scalar {
    let s = Scalar {
        var: p.t,
        r64: p.r,
        r32: low.map(|l| l.r).unwrap_or(Range::full(32)),
    };
    let s = match low {
        Some(l) => Scalar {
            var: s.var.meet(s.var.with_subreg(l.t)).unwrap_or(s.var),
            ..s
        },
        None => s,
    };
    s.sync().unwrap_or(Scalar::UNKNOWN)
}

/// `dst op= src` on abstract scalars.
pub fn binop(op: BinOp, width: Width, a: &Scalar, b: &Scalar) -> Scalar {
    // Constants fold exactly (and fast: loops with known counters are common).
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Scalar::constant(op.eval(width, x, y));
    }
    match width {
        Width::W32 => {
            let p = binop_part(op, part(a, 32), part(b, 32), 32);
            Scalar::from_low32(p.t, p.r)
        }
        Width::W64 => {
            let p = binop_part(op, part(a, 64), part(b, 64), 64);
            // The low half of these results depends only on the low halves of the inputs.
            let low = matches!(
                op,
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::And | BinOp::Or | BinOp::Xor
            )
            .then(|| binop_part(op, part(a, 32), part(b, 32), 32));
            assemble64(p, low)
        }
    }
}

/// `dst = -dst`.
pub fn neg(width: Width, a: &Scalar) -> Scalar {
    binop(BinOp::Sub, width, &Scalar::constant(0), a)
}

/// `dst = src` (a 32-bit move zero-extends).
pub fn mov(width: Width, a: &Scalar) -> Scalar {
    match width {
        Width::W64 => *a,
        Width::W32 => a.zext32(),
    }
}

/// `dst = (s8/s16/s32) src` (v4 `movsx`); a 32-bit move zero-extends the 32-bit result.
pub fn movsx(width: Width, from_bits: u8, a: &Scalar) -> Scalar {
    let n = from_bits as u32;
    if !matches!(n, 8 | 16 | 32) {
        return mov(width, a);
    }
    let t = a.var.truncate(n / 8).sign_extend(n);
    // The signed value of the low n bits: known when the 32-bit view stays inside the n-bit range.
    let (lo_n, hi_n) = (-(1i64 << (n - 1)), (1i64 << (n - 1)) - 1);
    let iv = if n == 32 || (a.r32.smin >= lo_n && a.r32.smax <= hi_n) {
        Some((a.r32.smin as i128, a.r32.smax as i128))
    } else if a.r32.umax <= hi_n as u64 {
        Some((a.r32.umin as i128, a.r32.umax as i128))
    } else {
        // Whatever the low bits, the sign extension is an n-bit signed number.
        Some((lo_n as i128, hi_n as i128))
    };
    let s = Scalar {
        var: t,
        r64: wrap(iv, 64),
        r32: wrap(iv, 32),
    }
    .sync()
    .unwrap_or(Scalar::UNKNOWN);
    mov(width, &s)
}

/// Byte-order conversion: `le` truncates (little-endian host), `be`/`bswap` swap then truncate.
pub fn endian(kind: Endian, bits: u8, a: &Scalar) -> Scalar {
    let bits = bits as u32;
    let swap = !matches!(kind, Endian::ToLe);
    if !swap {
        return match bits {
            64 => *a,
            32 => a.zext32(),
            _ => {
                let mut s = Scalar::UNKNOWN;
                s.var = a.var.truncate(2);
                if a.r64.umax <= 0xffff {
                    s.r64 = a.r64;
                }
                s.sync().unwrap_or(Scalar::urange(0, 0xffff))
            }
        };
    }
    let mut s = Scalar::UNKNOWN;
    s.var = a.var.byte_swap(bits);
    s.sync().unwrap_or(Scalar::UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::testing::member_and_scalar;
    use proptest::prelude::*;

    const OPS: [BinOp; 13] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::SDiv,
        BinOp::Mod,
        BinOp::SMod,
        BinOp::Or,
        BinOp::And,
        BinOp::Xor,
        BinOp::Lsh,
        BinOp::Rsh,
        BinOp::Arsh,
    ];

    fn widths() -> impl Strategy<Value = Width> {
        prop_oneof![Just(Width::W32), Just(Width::W64)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn binops_are_sound((x, a) in member_and_scalar(), (y, b) in member_and_scalar(), w in widths(), i in 0usize..13) {
            let op = OPS[i];
            let r = binop(op, w, &a, &b);
            let z = op.eval(w, x, y);
            prop_assert!(r.contains(z), "{:?} {:?}: {:#x} op {:#x} = {:#x} not in {:?}\n a={:?}\n b={:?}", op, w, x, y, z, r, a, b);
        }

        #[test]
        fn unary_ops_are_sound((x, a) in member_and_scalar(), w in widths(), n in prop::sample::select(vec![8u8, 16, 32]), ebits in prop::sample::select(vec![16u8, 32, 64])) {
            let m32 = |v: u64| if w == Width::W32 { v & 0xffff_ffff } else { v };
            prop_assert!(neg(w, &a).contains(m32(m32(x).wrapping_neg())));
            prop_assert!(mov(w, &a).contains(m32(x)));
            let sx = match n { 8 => x as i8 as i64 as u64, 16 => x as i16 as i64 as u64, _ => x as i32 as i64 as u64 };
            let r = movsx(w, n, &a);
            prop_assert!(r.contains(m32(sx)), "movsx{} {:?} of {:#x} -> {:?}", n, w, x, r);
            let trunc = if ebits == 64 { x } else { x & ((1u64 << ebits) - 1) };
            prop_assert!(endian(Endian::ToLe, ebits, &a).contains(trunc));
            let swapped = match ebits { 16 => (x as u16).swap_bytes() as u64, 32 => (x as u32).swap_bytes() as u64, _ => x.swap_bytes() };
            prop_assert!(endian(Endian::ToBe, ebits, &a).contains(swapped));
            prop_assert!(endian(Endian::Swap, ebits, &a).contains(swapped));
        }
    }

    #[test]
    fn constants_fold_exactly() {
        for op in OPS {
            for w in [Width::W32, Width::W64] {
                for (x, y) in [
                    (7u64, 3u64),
                    (u64::MAX, 2),
                    (5, 0),
                    (i64::MIN as u64, u64::MAX),
                ] {
                    let r = binop(op, w, &Scalar::constant(x), &Scalar::constant(y));
                    let z = op.eval(w, x, y);
                    assert!(r.contains(z), "{op:?} {w:?} {x} {y}");
                    if !matches!(op, BinOp::Div | BinOp::SDiv | BinOp::Mod | BinOp::SMod) {
                        assert_eq!(r.as_const(), Some(z), "{op:?} {w:?} {x} {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn masking_bounds_the_result() {
        let r = binop(
            BinOp::And,
            Width::W64,
            &Scalar::UNKNOWN,
            &Scalar::constant(0xff),
        );
        assert_eq!((r.r64.umin, r.r64.umax), (0, 0xff));
        let r = binop(
            BinOp::Rsh,
            Width::W64,
            &Scalar::UNKNOWN,
            &Scalar::constant(60),
        );
        assert_eq!(r.r64.umax, 15);
        let r = binop(
            BinOp::Mod,
            Width::W64,
            &Scalar::UNKNOWN,
            &Scalar::constant(10),
        );
        assert_eq!(r.r64.umax, 9);
    }
}
