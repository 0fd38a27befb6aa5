//! Branch refinement: what a conditional jump's outcome teaches about both operands.
//!
//! [`refine`] narrows the two scalars compared by `if a <cond> b` for one outcome and
//! returns `None` when that outcome is impossible. [`outcome`] uses it to decide
//! branches whose direction is already known (the kernel's `is_branch_taken`).

use crate::bounds::{as_signed, umax_of, Range, Scalar};
use crate::tnum::Tnum;
use bpfkit_isa::{JmpCond, Width};

/// A comparison, including the negation of `jset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Slt,
    Sle,
    Set,
    NotSet,
}

/// `cond` when `holds`, else its negation, as a comparison `a CMP b` or `b CMP a` (swapped).
fn comparison(cond: JmpCond, holds: bool) -> (Cmp, bool) {
    use JmpCond::*;
    let (c, swapped) = match (cond, holds) {
        (Eq, true) | (Ne, false) => (Cmp::Eq, false),
        (Ne, true) | (Eq, false) => (Cmp::Ne, false),
        (Lt, true) | (Ge, false) => (Cmp::Lt, false),
        (Le, true) | (Gt, false) => (Cmp::Le, false),
        (Gt, true) | (Le, false) => (Cmp::Lt, true),
        (Ge, true) | (Lt, false) => (Cmp::Le, true),
        (Slt, true) | (Sge, false) => (Cmp::Slt, false),
        (Sle, true) | (Sgt, false) => (Cmp::Sle, false),
        (Sgt, true) | (Sle, false) => (Cmp::Slt, true),
        (Sge, true) | (Slt, false) => (Cmp::Sle, true),
        (Set, true) => (Cmp::Set, false),
        (Set, false) => (Cmp::NotSet, false),
    };
    (c, swapped)
}

/// Whether `a cond b` holds for concrete values (for tests and constant folding).
pub fn eval(cond: JmpCond, width: Width, a: u64, b: u64) -> bool {
    let bits = if width == Width::W32 { 32 } else { 64 };
    let (a, b) = (a & umax_of(bits), b & umax_of(bits));
    let (sa, sb) = (as_signed(a, bits), as_signed(b, bits));
    match cond {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Sgt => sa > sb,
        JmpCond::Sge => sa >= sb,
        JmpCond::Slt => sa < sb,
        JmpCond::Sle => sa <= sb,
        JmpCond::Set => a & b != 0,
    }
}

/// One side of the comparison, cut to the compared width.
#[derive(Clone, Copy)]
struct Side {
    t: Tnum,
    r: Range,
}

fn is_single(s: &Side) -> Option<u64> {
    if s.t.is_const() {
        Some(s.t.value)
    } else if s.r.umin == s.r.umax {
        Some(s.r.umin)
    } else {
        None
    }
}

/// Removes `c` from the ends of `a`'s bounds (all a `!=` can teach without splitting).
fn exclude(a: &mut Side, c: u64, bits: u32) -> Option<()> {
    let sc = as_signed(c, bits);
    if is_single(a) == Some(c) {
        return None;
    }
    if a.r.umin == c {
        a.r.umin += 1;
    }
    if a.r.umax == c {
        a.r.umax -= 1;
    }
    if a.r.smin == sc {
        a.r.smin += 1;
    }
    if a.r.smax == sc {
        a.r.smax -= 1;
    }
    Some(())
}

fn refine_sides(cmp: Cmp, a: &mut Side, b: &mut Side, bits: u32) -> Option<()> {
    let max = umax_of(bits);
    match cmp {
        Cmp::Eq => {
            let t = a.t.meet(b.t)?;
            let r = a.r.intersect(&b.r);
            *a = Side { t, r };
            *b = *a;
        }
        Cmp::Ne => {
            if let Some(c) = is_single(b) {
                exclude(a, c, bits)?;
            }
            if let Some(c) = is_single(a) {
                exclude(b, c, bits)?;
            }
        }
        Cmp::Lt => {
            if b.r.umax == 0 || a.r.umin == max {
                return None;
            }
            a.r.umax = a.r.umax.min(b.r.umax - 1);
            b.r.umin = b.r.umin.max(a.r.umin + 1);
        }
        Cmp::Le => {
            a.r.umax = a.r.umax.min(b.r.umax);
            b.r.umin = b.r.umin.max(a.r.umin);
        }
        Cmp::Slt => {
            let smin = crate::bounds::smin_of(bits);
            let smax = crate::bounds::smax_of(bits);
            if b.r.smax == smin || a.r.smin == smax {
                return None;
            }
            a.r.smax = a.r.smax.min(b.r.smax - 1);
            b.r.smin = b.r.smin.max(a.r.smin + 1);
        }
        Cmp::Sle => {
            a.r.smax = a.r.smax.min(b.r.smax);
            b.r.smin = b.r.smin.max(a.r.smin);
        }
        Cmp::Set => {
            if a.t.max() & b.t.max() == 0 {
                return None;
            }
            // A single possible bit in common must be set in both.
            let common = a.t.max() & b.t.max();
            if common.is_power_of_two() {
                a.t = a.t.meet(Tnum::new(common, !common))?;
                b.t = b.t.meet(Tnum::new(common, !common))?;
            }
        }
        Cmp::NotSet => {
            if a.t.value & b.t.value != 0 {
                return None;
            }
            // Bits known set on one side are known clear on the other.
            a.t = a.t.meet(Tnum::new(0, !b.t.value & max))?;
            b.t = b.t.meet(Tnum::new(0, !a.t.value & max))?;
        }
    }
    if a.r.is_empty() || b.r.is_empty() {
        return None;
    }
    Some(())
}

fn side(s: &Scalar, width: Width) -> Side {
    match width {
        Width::W64 => Side { t: s.var, r: s.r64 },
        Width::W32 => {
            let (t, r) = s.low32();
            Side { t, r }
        }
    }
}

fn store(s: &Scalar, width: Width, p: Side) -> Option<Scalar> {
    let mut out = *s;
    match width {
        Width::W64 => {
            out.var = out.var.meet(p.t)?;
            out.r64 = out.r64.intersect(&p.r);
        }
        Width::W32 => {
            let low = out.var.subreg().meet(p.t.subreg())?;
            out.var = out.var.with_subreg(low);
            out.r32 = out.r32.intersect(&p.r);
        }
    }
    out.sync()
}

/// The operands of `if a cond b` narrowed to the case where the condition is `holds`;
/// `None` if that case cannot happen.
pub fn refine(
    cond: JmpCond,
    width: Width,
    a: &Scalar,
    b: &Scalar,
    holds: bool,
) -> Option<(Scalar, Scalar)> {
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return (eval(cond, width, x, y) == holds).then_some((*a, *b));
    }
    let bits = if width == Width::W32 { 32 } else { 64 };
    let (cmp, swapped) = comparison(cond, holds);
    let (mut sa, mut sb) = (side(a, width), side(b, width));
    if swapped {
        refine_sides(cmp, &mut sb, &mut sa, bits)?;
    } else {
        refine_sides(cmp, &mut sa, &mut sb, bits)?;
    }
    Some((store(a, width, sa)?, store(b, width, sb)?))
}

/// `Some(true)` if the condition always holds, `Some(false)` if never, `None` if both may happen.
pub fn outcome(cond: JmpCond, width: Width, a: &Scalar, b: &Scalar) -> Option<bool> {
    match (
        refine(cond, width, a, b, true).is_some(),
        refine(cond, width, a, b, false).is_some(),
    ) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::testing::member_and_scalar;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The refined operands for the outcome that actually happens still hold the values.
        #[test]
        fn refinement_is_sound((x, a) in member_and_scalar(), (y, b) in member_and_scalar(), i in 0usize..11, w64 in any::<bool>(), imm in any::<bool>()) {
            let cond = JmpCond::ALL[i];
            let w = if w64 { Width::W64 } else { Width::W32 };
            // Register-immediate compares: b is the constant itself.
            let b = if imm { Scalar::constant(y) } else { b };
            let holds = eval(cond, w, x, y);
            let r = refine(cond, w, &a, &b, holds);
            prop_assert!(r.is_some(), "{:?} {:?} {} outcome {} deemed impossible: a={:?} b={:?}", cond, w, x, holds, a, b);
            let (ra, rb) = r.unwrap();
            prop_assert!(ra.contains(x) && rb.contains(y), "{:?} {:?} {:#x} {:#x} {}: {:?} {:?}", cond, w, x, y, holds, ra, rb);
            if let Some(o) = outcome(cond, w, &a, &b) {
                prop_assert_eq!(o, holds);
            }
        }
    }

    #[test]
    fn bounds_learned_from_compares() {
        let x = Scalar::UNKNOWN;
        let (a, _) = refine(JmpCond::Gt, Width::W64, &x, &Scalar::constant(10), false).unwrap();
        assert_eq!(a.r64.umax, 10);
        let (a, _) = refine(
            JmpCond::Sgt,
            Width::W64,
            &x,
            &Scalar::constant(-1i64 as u64),
            true,
        )
        .unwrap();
        assert_eq!((a.r64.smin, a.r64.umax), (0, i64::MAX as u64));
        let (a, _) = refine(JmpCond::Eq, Width::W32, &x, &Scalar::constant(7), true).unwrap();
        assert_eq!(a.as_const32(), Some(7));
        assert_eq!(a.as_const(), None);
        let (a, _) = refine(JmpCond::Set, Width::W64, &x, &Scalar::constant(0xf0), false).unwrap();
        assert_eq!(a.var.mask & 0xf0, 0);
        assert_eq!(
            outcome(
                JmpCond::Lt,
                Width::W64,
                &Scalar::urange(0, 5),
                &Scalar::constant(6)
            ),
            Some(true)
        );
        assert_eq!(
            outcome(
                JmpCond::Eq,
                Width::W64,
                &Scalar::constant(3),
                &Scalar::constant(4)
            ),
            Some(false)
        );
        assert_eq!(
            outcome(
                JmpCond::Ne,
                Width::W64,
                &Scalar::urange(0, 5),
                &Scalar::constant(3)
            ),
            None
        );
    }
}
