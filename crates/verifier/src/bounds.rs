//! Abstract scalars: a tnum plus unsigned and signed bounds for the full 64 bits and the low 32.
//!
//! A [`Scalar`] stands for the set of `x` satisfying *all* of its constraints at once.
//! [`Scalar::sync`] propagates information between the constraints (tnum → ranges,
//! unsigned ↔ signed, 64 ↔ 32 bits, ranges → tnum) the way the kernel's
//! `reg_bounds_sync` does, and reports an empty set as `None`.

use crate::tnum::Tnum;
use std::fmt;

/// Unsigned and signed bounds of a quantity of 32 or 64 bits.
///
/// For 32 bits the unsigned bounds lie in `0..=u32::MAX` and the signed ones in `i32`'s range.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Range {
    /// Smallest value as unsigned.
    pub umin: u64,
    /// Largest value as unsigned.
    pub umax: u64,
    /// Smallest value as signed.
    pub smin: i64,
    /// Largest value as signed.
    pub smax: i64,
}

/// Largest unsigned value of a `bits`-wide quantity.
pub const fn umax_of(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Smallest signed value of a `bits`-wide quantity.
pub const fn smin_of(bits: u32) -> i64 {
    (u64::MAX << (bits - 1)) as i64
}

/// Largest signed value of a `bits`-wide quantity.
pub const fn smax_of(bits: u32) -> i64 {
    (umax_of(bits) >> 1) as i64
}

/// The `bits`-wide pattern `u` read as signed.
pub const fn as_signed(u: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

/// The signed `s` as a `bits`-wide unsigned pattern.
pub const fn as_unsigned(s: i64, bits: u32) -> u64 {
    (s as u64) & umax_of(bits)
}

impl Range {
    /// Every `bits`-wide value.
    pub const fn full(bits: u32) -> Range {
        Range {
            umin: 0,
            umax: umax_of(bits),
            smin: smin_of(bits),
            smax: smax_of(bits),
        }
    }

    /// Exactly the `bits`-wide value `v` (given as its unsigned pattern).
    pub const fn exact(v: u64, bits: u32) -> Range {
        let u = v & umax_of(bits);
        let s = as_signed(u, bits);
        Range {
            umin: u,
            umax: u,
            smin: s,
            smax: s,
        }
    }

    /// Whether the `bits`-wide pattern `v` satisfies both bounds.
    pub const fn contains(&self, v: u64, bits: u32) -> bool {
        let s = as_signed(v, bits);
        self.umin <= v && v <= self.umax && self.smin <= s && s <= self.smax
    }

    /// Whether every value allowed by `o` is allowed by `self`.
    pub const fn includes(&self, o: &Range) -> bool {
        self.umin <= o.umin && o.umax <= self.umax && self.smin <= o.smin && o.smax <= self.smax
    }

    /// Whether no value satisfies both bounds (as far as the bounds alone show).
    pub const fn is_empty(&self) -> bool {
        self.umin > self.umax || self.smin > self.smax
    }

    /// The bounds satisfied by values of either range.
    pub fn union(&self, o: &Range) -> Range {
        Range {
            umin: self.umin.min(o.umin),
            umax: self.umax.max(o.umax),
            smin: self.smin.min(o.smin),
            smax: self.smax.max(o.smax),
        }
    }

    /// Both ranges' bounds at once (possibly empty).
    pub fn intersect(&self, o: &Range) -> Range {
        Range {
            umin: self.umin.max(o.umin),
            umax: self.umax.min(o.umax),
            smin: self.smin.max(o.smin),
            smax: self.smax.min(o.smax),
        }
    }

    /// The bounds of the integers `lo..=hi` reduced modulo `2^bits` (exact arithmetic in).
    pub fn wrap(lo: i128, hi: i128, bits: u32) -> Range {
        let mut r = Range::full(bits);
        if lo > hi {
            return r;
        }
        let modulus = 1i128 << bits;
        // Unsigned view: one modulus window must hold the whole interval.
        let (ku, kh) = (lo.div_euclid(modulus), hi.div_euclid(modulus));
        if ku == kh {
            r.umin = (lo - ku * modulus) as u64;
            r.umax = (hi - ku * modulus) as u64;
        }
        // Signed view: shift by half a modulus so windows start at the signed minimum.
        let half = modulus / 2;
        let (Some(lo_h), Some(hi_h)) = (lo.checked_add(half), hi.checked_add(half)) else {
            return r;
        };
        let (ks, kt) = (lo_h.div_euclid(modulus), hi_h.div_euclid(modulus));
        if ks == kt {
            r.smin = (lo - ks * modulus) as i64;
            r.smax = (hi - ks * modulus) as i64;
        }
        r
    }

    /// Exchanges information between the unsigned and the signed bounds.
    fn cross_sign(&mut self, bits: u32) {
        let smax_u = as_unsigned(self.smax, bits);
        let smin_u = as_unsigned(self.smin, bits);
        if (self.smin < 0) == (self.smax < 0) {
            // The signed range maps to one contiguous unsigned range.
            self.umin = self.umin.max(smin_u);
            self.umax = self.umax.min(smax_u);
        } else {
            // Signed range crossing zero: unsigned values are [0, smax] ∪ [smin, MAX].
            if self.umin > smax_u {
                self.umin = self.umin.max(smin_u);
            }
            if self.umax < smin_u {
                self.umax = self.umax.min(smax_u);
            }
        }
        let umin_s = as_signed(self.umin, bits);
        let umax_s = as_signed(self.umax, bits);
        if (umin_s < 0) == (umax_s < 0) {
            self.smin = self.smin.max(umin_s);
            self.smax = self.smax.min(umax_s);
        } else {
            // Unsigned range crossing the sign boundary: signed values are [SMIN, umax] ∪ [umin, SMAX].
            if self.smin > umax_s {
                self.smin = self.smin.max(umin_s);
            }
            if self.smax < umin_s {
                self.smax = self.smax.min(umax_s);
            }
        }
    }

    /// Tightens the bounds to the values a tnum (already cut to `bits`) allows.
    fn tighten_to_tnum(&mut self, t: Tnum, bits: u32) {
        let sign = 1u64 << (bits - 1);
        self.umin = self.umin.max(t.min());
        self.umax = self.umax.min(t.max());
        self.smin = self.smin.max(as_signed(t.value | (t.mask & sign), bits));
        self.smax = self.smax.min(as_signed(t.value | (t.mask & !sign), bits));
    }
}

/// An abstract 64-bit scalar.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scalar {
    /// Known bits of the full value.
    pub var: Tnum,
    /// Bounds of the full value.
    pub r64: Range,
    /// Bounds of the low 32 bits.
    pub r32: Range,
}

impl Scalar {
    /// Any value.
    pub const UNKNOWN: Scalar = Scalar {
        var: Tnum::UNKNOWN,
        r64: Range::full(64),
        r32: Range::full(32),
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            var: Tnum::constant(v),
            r64: Range::exact(v, 64),
            r32: Range::exact(v, 32),
        }
    }

    /// Any value in `[lo, hi]` (unsigned), synced.
    pub fn urange(lo: u64, hi: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.r64.umin = lo;
        s.r64.umax = hi;
        s.sync().unwrap_or(Scalar::UNKNOWN)
    }

    /// Any value whose low 32 bits are arbitrary and whose high 32 bits are zero.
    pub const fn unknown_u32() -> Scalar {
        Scalar {
            var: Tnum::new(0, u32::MAX as u64),
            r64: Range {
                umin: 0,
                umax: u32::MAX as u64,
                smin: 0,
                smax: u32::MAX as i64,
            },
            r32: Range::full(32),
        }
    }

    /// The value if it is known exactly.
    pub const fn as_const(&self) -> Option<u64> {
        if self.var.is_const() {
            Some(self.var.value)
        } else {
            None
        }
    }

    /// The low 32 bits if they are known exactly.
    pub const fn as_const32(&self) -> Option<u32> {
        let t = self.var.subreg();
        if t.is_const() {
            Some(t.value as u32)
        } else {
            None
        }
    }

    /// Whether the concrete value `x` is in the set.
    pub const fn contains(&self, x: u64) -> bool {
        self.var.contains(x) && self.r64.contains(x, 64) && self.r32.contains(x & 0xffff_ffff, 32)
    }

    /// Whether every constraint of `self` is implied by the matching one of `other`,
    /// so that every value of `other` is a value of `self`.
    pub const fn includes(&self, other: &Scalar) -> bool {
        self.var.includes(other.var)
            && self.r64.includes(&other.r64)
            && self.r32.includes(&other.r32)
    }

    /// The low 32 bits as a 32-bit abstract value: (tnum cut to 32 bits, bounds).
    pub const fn low32(&self) -> (Tnum, Range) {
        (self.var.subreg(), self.r32)
    }

    /// The zero-extension of a 32-bit abstract value, synced.
    pub fn from_low32(t: Tnum, r: Range) -> Scalar {
        let s = Scalar {
            var: t.subreg(),
            r64: Range {
                umin: r.umin,
                umax: r.umax,
                smin: 0,
                smax: u32::MAX as i64,
            },
            r32: r,
        };
        s.sync().unwrap_or(Scalar::unknown_u32())
    }

    /// The zero-extended low 32 bits (what a 32-bit `mov` produces).
    pub fn zext32(&self) -> Scalar {
        let (t, r) = self.low32();
        Scalar::from_low32(t, r)
    }

    /// The smallest set holding both (used where paths merge into one summary).
    pub fn union(&self, o: &Scalar) -> Scalar {
        Scalar {
            var: self.var.union(o.var),
            r64: self.r64.union(&o.r64),
            r32: self.r32.union(&o.r32),
        }
    }

    /// Propagates information between all constraints; `None` when they contradict.
    pub fn sync(mut self) -> Option<Scalar> {
        for round in 0..2 {
            let before = self;
            self.r64.tighten_to_tnum(self.var, 64);
            self.r32.tighten_to_tnum(self.var.subreg(), 32);
            self.r64.cross_sign(64);
            self.r32.cross_sign(32);
            self.deduce_32_from_64();
            self.r32.cross_sign(32);
            self.deduce_64_from_32();
            self.r64.cross_sign(64);
            if self.r64.is_empty() || self.r32.is_empty() {
                return None;
            }
            let t64 = self.var.meet(Tnum::range(self.r64.umin, self.r64.umax))?;
            let t32 = t64
                .subreg()
                .meet(Tnum::range(self.r32.umin, self.r32.umax))?;
            self.var = t64.with_subreg(t32);
            if round == 0 && self == before {
                break;
            }
        }
        self.r64.tighten_to_tnum(self.var, 64);
        self.r32.tighten_to_tnum(self.var.subreg(), 32);
        if self.r64.is_empty() || self.r32.is_empty() {
            return None;
        }
        Some(self)
    }

    fn deduce_32_from_64(&mut self) {
        let r = self.r64;
        // (low, high) ends of the range and their high halves, for both views.
        let views = [
            (r.umin, r.umax, (r.umin >> 32) as i64, (r.umax >> 32) as i64),
            (r.smin as u64, r.smax as u64, r.smin >> 32, r.smax >> 32),
        ];
        for (lo, hi, lo_half, hi_half) in views {
            let (lo32, hi32) = (lo & 0xffff_ffff, hi & 0xffff_ffff);
            if lo_half == hi_half {
                // One 2^32 window: the low halves are ordered.
                self.r32.umin = self.r32.umin.max(lo32);
                self.r32.umax = self.r32.umax.min(hi32);
            } else if hi_half.wrapping_sub(lo_half) == 1
                && (lo32 as u32 as i32) < 0
                && (hi32 as u32 as i32) >= 0
            {
                // Wrapping once: [lo32, 2^32) ∪ [0, hi32] is contiguous read as signed.
                self.r32.smin = self.r32.smin.max(lo32 as u32 as i32 as i64);
                self.r32.smax = self.r32.smax.min(hi32 as u32 as i32 as i64);
            }
        }
    }

    fn deduce_64_from_32(&mut self) {
        const HI: u64 = 0xffff_ffff_0000_0000;
        let (u32min, u32max) = (self.r32.umin, self.r32.umax);
        let r = &mut self.r64;
        // The low half of any value lies in [u32min, u32max]; apply that to the extremes.
        r.umin = r.umin.max((r.umin & HI) | u32min);
        r.umax = r.umax.min((r.umax & HI) | u32max);
        r.smin = r.smin.max(((r.smin as u64 & HI) | u32min) as i64);
        r.smax = r.smax.min(((r.smax as u64 & HI) | u32max) as i64);
        // A value that is a sign-extended 32-bit quantity equals its low half read as signed.
        if r.smin >= i32::MIN as i64 && r.smax <= i32::MAX as i64 {
            r.smin = r.smin.max(self.r32.smin);
            r.smax = r.smax.min(self.r32.smax);
        }
    }
}

/// How the kernel prints a bound: small magnitudes in decimal, the rest in hex.
fn fmt_unsigned(v: u64) -> String {
    if v <= 256 {
        format!("{v}")
    } else {
        format!("{v:#x}")
    }
}

fn fmt_signed(v: i64) -> String {
    if (-256..=256).contains(&v) {
        format!("{v}")
    } else if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

impl fmt::Display for Scalar {
    /// Kernel style: a constant prints as its value, otherwise `scalar(...)` listing the
    /// non-trivial bounds, equal ones joined (`smin=smin32=0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.as_const() {
            return write!(f, "{}", fmt_signed(c as i64));
        }
        write!(f, "scalar(")?;
        let items: [(&str, i128, bool, bool); 8] = [
            (
                "smin",
                self.r64.smin as i128,
                self.r64.smin == i64::MIN,
                true,
            ),
            (
                "smax",
                self.r64.smax as i128,
                self.r64.smax == i64::MAX,
                true,
            ),
            ("umin", self.r64.umin as i128, self.r64.umin == 0, false),
            (
                "umax",
                self.r64.umax as i128,
                self.r64.umax == u64::MAX,
                false,
            ),
            (
                "smin32",
                self.r32.smin as i128,
                self.r32.smin == i32::MIN as i64,
                true,
            ),
            (
                "smax32",
                self.r32.smax as i128,
                self.r32.smax == i32::MAX as i64,
                true,
            ),
            ("umin32", self.r32.umin as i128, self.r32.umin == 0, false),
            (
                "umax32",
                self.r32.umax as i128,
                self.r32.umax == u32::MAX as u64,
                false,
            ),
        ];
        let mut done = [false; 8];
        let mut first = true;
        for i in 0..items.len() {
            if done[i] || items[i].2 {
                continue;
            }
            if !first {
                write!(f, ",")?;
            }
            first = false;
            write!(f, "{}", items[i].0)?;
            for j in i + 1..items.len() {
                if !done[j] && !items[j].2 && items[j].1 == items[i].1 {
                    done[j] = true;
                    write!(f, "={}", items[j].0)?;
                }
            }
            let v = items[i].1;
            if items[i].3 {
                write!(f, "={}", fmt_signed(v as i64))?;
            } else {
                write!(f, "={}", fmt_unsigned(v as u64))?;
            }
        }
        if self.var != Tnum::UNKNOWN {
            if !first {
                write!(f, ",")?;
            }
            write!(f, "var_off={}", self.var)?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Random abstract scalars known to contain a given concrete value.
    use super::*;
    use proptest::prelude::*;

    /// A width-`bits` range containing `v` with random slack on each side.
    fn range_around(v: u64, bits: u32, slack: [u64; 4]) -> Range {
        let u = v & umax_of(bits);
        let s = as_signed(u, bits);
        let cut = |x: u64| if slack[3] & 1 == 0 { x } else { x % 64 };
        let (su, slo, shi) = (u as i128, smin_of(bits) as i128, smax_of(bits) as i128);
        let ss = s as i128;
        Range {
            umin: (su - cut(slack[0]) as i128).max(0) as u64,
            umax: (su + cut(slack[1]) as i128).min(umax_of(bits) as i128) as u64,
            smin: (ss - cut(slack[2]) as i128).max(slo) as i64,
            smax: (ss + cut(slack[3]) as i128).min(shi) as i64,
        }
    }

    /// Slack amounts: 0 (tight), small, anything (often the full range).
    fn slack() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0u64), 0u64..16, Just(u64::MAX), any::<u64>()]
    }

    fn mask() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            any::<u64>(),
            (0u32..64).prop_map(|k| (1u64 << k) - 1),
        ]
    }

    /// Interesting concrete values: edges of the signed and unsigned ranges, small ones, any.
    pub fn value() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            0u64..70,
            prop::sample::select(vec![
                0u64,
                1,
                u64::MAX,
                i64::MAX as u64,
                i64::MIN as u64,
                u32::MAX as u64,
                i32::MAX as u64,
                i32::MIN as u32 as u64,
                i32::MIN as i64 as u64,
                0x1_0000_0000,
                63,
                64,
                31,
                32,
                u64::MAX - 1,
            ]),
            (any::<i8>()).prop_map(|v| v as i64 as u64),
        ]
    }

    /// `(x, S)` with `x ∈ S`; `S` is synced, so it exercises realistic shapes.
    pub fn member_and_scalar() -> impl Strategy<Value = (u64, Scalar)> {
        (
            value(),
            mask(),
            [slack(), slack(), slack(), slack()],
            [slack(), slack(), slack(), slack()],
            any::<bool>(),
        )
            .prop_map(|(x, m, s64, s32, synced)| {
                let raw = Scalar {
                    var: Tnum::new(x, m),
                    r64: range_around(x, 64, s64),
                    r32: range_around(x, 32, s32),
                };
                let s = if synced {
                    raw.sync().expect("holds x")
                } else {
                    raw
                };
                (x, s)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::member_and_scalar;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sync_keeps_members((x, s) in member_and_scalar()) {
            prop_assert!(s.contains(x));
            let t = s.sync();
            prop_assert!(t.is_some(), "sync emptied a set holding {:#x}: {:?}", x, s);
            let t = t.unwrap();
            prop_assert!(t.contains(x), "lost {:#x}: {:?} -> {:?}", x, s, t);
            prop_assert!(s.includes(&t) || !s.includes(&t) && t.contains(x));
        }

        #[test]
        fn wrap_holds_reduced_values(lo in any::<i64>(), len in 0i128..1000, pick in 0i128..1000, bits in prop::sample::select(vec![32u32, 64])) {
            let lo = lo as i128;
            let hi = lo + len;
            let x = lo + pick.min(len);
            let r = Range::wrap(lo, hi, bits);
            let reduced = (x.rem_euclid(1i128 << bits)) as u64;
            prop_assert!(r.contains(reduced, bits));
        }
    }

    #[test]
    fn sync_deduces_across_views() {
        // u64 <= 10 implies everything else.
        let s = Scalar::urange(0, 10);
        assert_eq!(s.r64.smax, 10);
        assert_eq!(s.r32.umax, 10);
        assert_eq!(s.var, Tnum::new(0, 15));
        // Known high bits zero and 32-bit bounds give 64-bit bounds.
        let mut s = Scalar::unknown_u32();
        s.r32.umin = 5;
        s.r32.umax = 7;
        let s = s.sync().unwrap();
        assert_eq!((s.r64.umin, s.r64.umax), (5, 7));
        // Contradiction: tnum says even, range says exactly 3.
        let mut s = Scalar::UNKNOWN;
        s.var = Tnum::new(0, !1);
        s.r64.umin = 3;
        s.r64.umax = 3;
        assert_eq!(s.sync(), None);
    }

    #[test]
    fn display_matches_kernel_style() {
        assert_eq!(Scalar::constant(2).to_string(), "2");
        assert_eq!(Scalar::UNKNOWN.to_string(), "scalar()");
        assert_eq!(
            Scalar::urange(0, 255).to_string(),
            "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
        );
    }
}
