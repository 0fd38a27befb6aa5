//! Tristate numbers ("tnums"): 64-bit values where each bit is known 0, known 1 or unknown.
//!
//! A tnum `(value, mask)` stands for every `x` with `x & !mask == value`: bits set in
//! `mask` are unknown, the others equal the bits of `value`. Invariant: `value & mask == 0`.
//! Every operation here over-approximates: if `a ∈ A` and `b ∈ B` then `a op b ∈ A op B`.

use std::fmt;

/// A 64-bit value with some bits unknown.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Tnum {
    /// The known bits (unknown bits are 0 here).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

// Wrapping arithmetic named after the eBPF operations it models, not `std::ops`.
#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Builds a tnum, clearing value bits that the mask marks unknown.
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum {
            value: value & !mask,
            mask,
        }
    }

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `[min, max]` (unsigned).
    pub fn range(min: u64, max: u64) -> Tnum {
        let differing = min ^ max;
        let bits = 64 - differing.leading_zeros();
        if bits >= 64 {
            return Tnum::UNKNOWN;
        }
        let low = (1u64 << bits) - 1;
        Tnum::new(min & !low, low)
    }

    /// Whether every bit is known.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether the concrete value `v` is represented.
    pub const fn contains(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Whether every value of `other` is a value of `self` (the kernel's `tnum_in`).
    pub const fn includes(self, other: Tnum) -> bool {
        other.mask & !self.mask == 0 && other.value & !self.mask == self.value
    }

    /// The smallest value represented.
    pub const fn min(self) -> u64 {
        self.value
    }

    /// The largest value represented.
    pub const fn max(self) -> u64 {
        self.value | self.mask
    }

    /// Logical shift left by `k` (< 64).
    pub const fn shl(self, k: u32) -> Tnum {
        Tnum {
            value: self.value << k,
            mask: self.mask << k,
        }
    }

    /// Logical shift right by `k` (< 64).
    pub const fn shr(self, k: u32) -> Tnum {
        Tnum {
            value: self.value >> k,
            mask: self.mask >> k,
        }
    }

    /// Arithmetic shift right by `k` of the low `bits` (32 or 64) bits; a 32-bit result is zero-extended.
    pub fn sar(self, k: u32, bits: u32) -> Tnum {
        if bits == 32 {
            Tnum {
                value: ((self.value as u32 as i32) >> k) as u32 as u64,
                mask: ((self.mask as u32 as i32) >> k) as u32 as u64,
            }
        } else {
            Tnum {
                value: ((self.value as i64) >> k) as u64,
                mask: ((self.mask as i64) >> k) as u64,
            }
        }
    }

    /// Wrapping addition.
    pub fn add(self, o: Tnum) -> Tnum {
        let mask_sum = self.mask.wrapping_add(o.mask);
        let value_sum = self.value.wrapping_add(o.value);
        // Bits where the all-unknown-ones sum and the all-unknown-zeros sum differ are
        // reachable by carries and so unknown.
        let carries = mask_sum.wrapping_add(value_sum) ^ value_sum;
        let mask = carries | self.mask | o.mask;
        Tnum::new(value_sum, mask)
    }

    /// Wrapping subtraction.
    pub fn sub(self, o: Tnum) -> Tnum {
        let diff = self.value.wrapping_sub(o.value);
        let high = diff.wrapping_add(self.mask);
        let low = diff.wrapping_sub(o.mask);
        let mask = (high ^ low) | self.mask | o.mask;
        Tnum::new(diff, mask)
    }

    /// Two's complement negation.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and.
    pub const fn and(self, o: Tnum) -> Tnum {
        let maybe_ones = (self.value | self.mask) & (o.value | o.mask);
        let ones = self.value & o.value;
        Tnum {
            value: ones,
            mask: maybe_ones & !ones,
        }
    }

    /// Bitwise or.
    pub const fn or(self, o: Tnum) -> Tnum {
        let ones = self.value | o.value;
        Tnum {
            value: ones,
            mask: (self.mask | o.mask) & !ones,
        }
    }

    /// Bitwise exclusive or.
    pub const fn xor(self, o: Tnum) -> Tnum {
        let mask = self.mask | o.mask;
        Tnum::new(self.value ^ o.value, mask)
    }

    /// Wrapping multiplication (shift-and-add over the bits of `self`).
    pub fn mul(self, o: Tnum) -> Tnum {
        let known_product = self.value.wrapping_mul(o.value);
        // Accumulates the uncertainty contributed by each bit of `self`.
        let mut uncertain = Tnum::constant(0);
        let (mut a, mut b) = (self, o);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                // Known 1: the known part of b is already in known_product.
                uncertain = uncertain.add(Tnum::new(0, b.mask));
            } else if a.mask & 1 != 0 {
                // Unknown: b may or may not be added.
                uncertain = uncertain.add(Tnum::new(0, b.value | b.mask));
            }
            a = a.shr(1);
            b = b.shl(1);
        }
        Tnum::constant(known_product).add(uncertain)
    }

    /// The values in both (assumes they overlap; see [`Tnum::meet`]).
    pub const fn intersect(self, o: Tnum) -> Tnum {
        let mask = self.mask & o.mask;
        Tnum::new(self.value | o.value, mask)
    }

    /// The values in both, or `None` when some known bit disagrees.
    pub fn meet(self, o: Tnum) -> Option<Tnum> {
        if (self.value ^ o.value) & !self.mask & !o.mask != 0 {
            None
        } else {
            Some(self.intersect(o))
        }
    }

    /// The smallest tnum holding the values of both.
    pub const fn union(self, o: Tnum) -> Tnum {
        let mask = self.mask | o.mask | (self.value ^ o.value);
        Tnum::new(self.value, mask)
    }

    /// The low `bytes` bytes, zero-extended.
    pub const fn truncate(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// Sign-extends the low `bits` bits (8, 16, 32 or 64).
    pub fn sign_extend(self, bits: u32) -> Tnum {
        if bits >= 64 {
            return self;
        }
        let shift = 64 - bits;
        Tnum {
            value: (((self.value << shift) as i64) >> shift) as u64,
            mask: (((self.mask << shift) as i64) >> shift) as u64,
        }
    }

    /// The low 32 bits, zero-extended.
    pub const fn subreg(self) -> Tnum {
        self.truncate(4)
    }

    /// The high 32 bits of `self` with the low 32 bits of `low`.
    pub const fn with_subreg(self, low: Tnum) -> Tnum {
        let hi = 0xffff_ffff_0000_0000u64;
        Tnum {
            value: (self.value & hi) | (low.value & !hi),
            mask: (self.mask & hi) | (low.mask & !hi),
        }
    }

    /// Reverses the order of the low `bits / 8` bytes and zero-extends (bswap16/32/64).
    pub const fn byte_swap(self, bits: u32) -> Tnum {
        match bits {
            16 => Tnum {
                value: (self.value as u16).swap_bytes() as u64,
                mask: (self.mask as u16).swap_bytes() as u64,
            },
            32 => Tnum {
                value: (self.value as u32).swap_bytes() as u64,
                mask: (self.mask as u32).swap_bytes() as u64,
            },
            _ => Tnum {
                value: self.value.swap_bytes(),
                mask: self.mask.swap_bytes(),
            },
        }
    }

    /// Whether every represented value is a multiple of `size` (a power of two).
    pub const fn is_aligned(self, size: u64) -> bool {
        size == 0 || (self.value | self.mask) & (size - 1) == 0
    }
}

impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tnum holding `x`: random bits of it made unknown.
    fn around(x: u64, unknown: u64) -> Tnum {
        Tnum::new(x, unknown)
    }

    /// A member of `t` chosen by `pick`.
    fn member(t: Tnum, pick: u64) -> u64 {
        t.value | (pick & t.mask)
    }

    fn masks() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            any::<u64>(),
            (0u32..64).prop_map(|k| (1u64 << k) - 1),
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| a & b),
        ]
    }

    proptest! {
        #[test]
        fn binary_ops_are_sound(x in any::<u64>(), y in any::<u64>(), mx in masks(), my in masks()) {
            let (a, b) = (around(x, mx), around(y, my));
            prop_assert!(a.add(b).contains(x.wrapping_add(y)));
            prop_assert!(a.sub(b).contains(x.wrapping_sub(y)));
            prop_assert!(a.mul(b).contains(x.wrapping_mul(y)));
            prop_assert!(a.and(b).contains(x & y));
            prop_assert!(a.or(b).contains(x | y));
            prop_assert!(a.xor(b).contains(x ^ y));
            prop_assert!(a.neg().contains(x.wrapping_neg()));
            prop_assert!(a.union(b).contains(x) && a.union(b).contains(y));
            prop_assert!(a.union(b).includes(a) && a.union(b).includes(b));
        }

        #[test]
        fn shifts_and_casts_are_sound(x in any::<u64>(), mx in masks(), k in 0u32..64) {
            let a = around(x, mx);
            prop_assert!(a.shl(k).contains(x << k));
            prop_assert!(a.shr(k).contains(x >> k));
            prop_assert!(a.sar(k, 64).contains(((x as i64) >> k) as u64));
            let k32 = k % 32;
            prop_assert!(a.sar(k32, 32).contains(((x as u32 as i32) >> k32) as u32 as u64));
            for bytes in [1u32, 2, 4, 8] {
                let m = if bytes == 8 { u64::MAX } else { (1u64 << (bytes * 8)) - 1 };
                prop_assert!(a.truncate(bytes).contains(x & m));
            }
            prop_assert!(a.sign_extend(8).contains(x as i8 as i64 as u64));
            prop_assert!(a.sign_extend(16).contains(x as i16 as i64 as u64));
            prop_assert!(a.sign_extend(32).contains(x as i32 as i64 as u64));
            prop_assert!(a.byte_swap(16).contains((x as u16).swap_bytes() as u64));
            prop_assert!(a.byte_swap(32).contains((x as u32).swap_bytes() as u64));
            prop_assert!(a.byte_swap(64).contains(x.swap_bytes()));
        }

        #[test]
        fn range_meet_and_members(lo in any::<u64>(), span in any::<u64>(), pick in any::<u64>(), x in any::<u64>(), mx in masks(), my in masks()) {
            let hi = lo.saturating_add(span % (1 << (pick % 64)));
            let r = Tnum::range(lo, hi);
            let v = lo + (pick % (hi - lo + 1).max(1)).min(hi - lo);
            prop_assert!(r.contains(v));
            let (a, b) = (around(x, mx), around(x, my));
            let m = a.meet(b).expect("both hold x");
            prop_assert!(m.contains(x));
            prop_assert!(a.includes(m) && b.includes(m));
            prop_assert!(a.contains(member(a, pick)));
        }
    }

    #[test]
    fn known_examples() {
        // 0b1x + 1 is 3 or 4.
        let t = Tnum::new(2, 1).add(Tnum::constant(1));
        assert!(t.contains(3) && t.contains(4));
        assert_eq!(Tnum::range(0, 255), Tnum::new(0, 0xff));
        assert_eq!(Tnum::range(5, 5), Tnum::constant(5));
        assert_eq!(Tnum::constant(6).mul(Tnum::constant(7)), Tnum::constant(42));
        assert_eq!(Tnum::constant(1).meet(Tnum::constant(2)), None);
        assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
    }
}
