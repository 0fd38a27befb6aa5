//! What is known at a point of the program, from the branches and
//! statements that dominate it: outcomes of comparisons, ranges of values,
//! and which fallible statements (loads, divisions) have already succeeded.
//!
//! The table is scoped: a walk down the dominator tree adds facts when it
//! enters a vertex and [`Facts::rollback`]s them when it leaves. Test
//! outcomes are in a hash table (a value may have thousands along one path:
//! `x != 1`, `x != 2`, ...), ranges and successes in arrays indexed by
//! value number; every operation costs a probe or an array access.

use bpfkit_cbpf::op;

use super::hash::Map;
use super::values::Val;

/// A comparison: condition bits (`JEQ`, `JGT`, `JGE`, `JSET`), the value
/// compared (A) and the operand's value.
type Test = (u16, Val, Val);

enum Undo {
    Test(Test, Option<bool>),
    Range(Val, (u32, u32)),
    Succeeded(Val),
}

/// The scoped fact table.
#[derive(Default)]
pub(crate) struct Facts {
    tests: Map<Test, bool>,
    /// Per value: inclusive bounds (full range where never narrowed).
    range: Vec<(u32, u32)>,
    succeeded: Vec<bool>,
    undo: Vec<Undo>,
}

const FULL: (u32, u32) = (0, u32::MAX);

impl Facts {
    /// Makes room for facts about value `v`.
    fn cover(&mut self, v: Val) {
        let n = v as usize + 1;
        if self.range.len() < n {
            let n = n.max(2 * self.range.len());
            self.range.resize(n, FULL);
            self.succeeded.resize(n, false);
        }
    }

    /// A point to [`Facts::rollback`] to.
    pub fn mark(&self) -> usize {
        self.undo.len()
    }

    /// Forgets everything learned since `mark`.
    pub fn rollback(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop().expect("undo entry") {
                Undo::Test(t, Some(o)) => {
                    self.tests.insert(t, o);
                }
                Undo::Test(t, None) => {
                    self.tests.remove(&t);
                }
                Undo::Range(a, old) => self.range[a as usize] = old,
                Undo::Succeeded(v) => self.succeeded[v as usize] = false,
            }
        }
    }

    /// Records that a fallible statement producing `v` succeeded.
    pub fn succeed(&mut self, v: Val) {
        self.cover(v);
        if !self.succeeded[v as usize] {
            self.succeeded[v as usize] = true;
            self.undo.push(Undo::Succeeded(v));
        }
    }

    /// Whether a fallible statement producing `v` is known to succeed.
    pub fn has_succeeded(&self, v: Val) -> bool {
        self.succeeded.get(v as usize).copied().unwrap_or(false)
    }

    fn range(&self, a: Val) -> (u32, u32) {
        self.range.get(a as usize).copied().unwrap_or(FULL)
    }

    /// The recorded outcome of comparison `cond` of `a` with `o`.
    fn test(&self, cond: u16, a: Val, o: Val) -> Option<bool> {
        self.tests.get(&(cond, a, o)).copied()
    }

    /// Records that comparison `cond` of `a` with `o` (the constant `ko`,
    /// if it is one) came out `outcome`.
    pub fn learn(&mut self, cond: u16, a: Val, o: Val, ko: Option<u32>, outcome: bool) {
        self.cover(a);
        let old = self.tests.insert((cond, a, o), outcome);
        self.undo.push(Undo::Test((cond, a, o), old));
        let Some(k) = ko else {
            return;
        };
        let old = self.range(a);
        let (mut lo, mut hi) = old;
        match (cond, outcome) {
            (op::JEQ, true) => (lo, hi) = (lo.max(k), hi.min(k)),
            (op::JEQ, false) if k == lo && lo < hi => lo += 1,
            (op::JEQ, false) if k == hi && lo < hi => hi -= 1,
            (op::JGT, true) => lo = lo.max(k.saturating_add(1)),
            (op::JGT, false) => hi = hi.min(k),
            (op::JGE, true) => lo = lo.max(k),
            (op::JGE, false) => hi = hi.min(k.saturating_sub(1)),
            _ => return,
        }
        // An empty range means this path cannot be taken; say nothing.
        if lo <= hi && (lo, hi) != old {
            self.range[a as usize] = (lo, hi);
            self.undo.push(Undo::Range(a, old));
        }
    }

    /// The outcome of comparison `cond` of `a` with `o`, if known; `ka`,
    /// `ko` are their constant values, if constant.
    pub fn decide(
        &self,
        cond: u16,
        a: Val,
        o: Val,
        ka: Option<u32>,
        ko: Option<u32>,
    ) -> Option<bool> {
        if let (Some(x), Some(y)) = (ka, ko) {
            return Some(compare(cond, x, y));
        }
        if let Some(known) = self.test(cond, a, o) {
            return Some(known);
        }
        if a == o {
            return match cond {
                op::JEQ | op::JGE => Some(true),
                op::JGT => Some(false),
                _ => None,
            };
        }
        let k = ko?;
        let (lo, hi) = ka.map_or_else(|| self.range(a), |c| (c, c));
        match cond {
            op::JEQ if lo == hi => Some(lo == k),
            op::JEQ if k < lo || k > hi => Some(false),
            op::JGT if lo > k => Some(true),
            op::JGT if hi <= k => Some(false),
            op::JGE if lo >= k => Some(true),
            op::JGE if hi < k => Some(false),
            op::JSET if lo == hi => Some(lo & k != 0),
            op::JSET if k == 0 || u64::from(hi) < 1u64 << k.trailing_zeros() => Some(false),
            _ => None,
        }
    }
}

/// `x cond y` for constants.
pub(crate) fn compare(cond: u16, x: u32, y: u32) -> bool {
    match cond {
        op::JEQ => x == y,
        op::JGT => x > y,
        op::JGE => x >= y,
        _ => x & y != 0,
    }
}
