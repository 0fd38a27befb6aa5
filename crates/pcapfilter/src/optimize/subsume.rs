//! Tests whose outcome does not matter.
//!
//! In `ldh [12]; jeq #0x800 → reject, else jgt #0x5dc → reject, else ...`
//! the first test is useless: if the type is 0x800, the second test is
//! true and rejects anyway. In general a node N goes to one successor,
//! `other`, whatever its test says, when, assuming the outcome that leads
//! to its other successor `here`,
//! the decided branches from `other` lead to `here` as well, with the
//! registers `here` reads unchanged, and without running a statement that
//! could fail (unless `here` rejects, which a failure does too).
//!
//! Only N's own outcome is assumed, not the facts that dominate it, so the
//! decisions taken in one pass stay valid when applied together.

use super::dead::liveness;
use super::facts::Facts;
use super::graph::{abs_extent, def, may_abort, Graph, NodeId, Order, A, ATOMS, X};
use super::number::Numbering;
use super::values::Values;

/// How many nodes the walk from `other` may pass.
const MAX_WALK: usize = 8;

/// Makes every node whose test does not matter unconditional. Returns
/// whether anything changed.
pub(crate) fn remove_subsumed_tests(
    g: &mut Graph,
    order: &Order,
    num: &Numbering,
    vals: &mut Values,
) -> bool {
    let live_in = liveness(g, order);
    let proven = super::dead::proven_length(g, order);
    let mut decided: Vec<(NodeId, NodeId)> = Vec::new();
    let mut facts = Facts::default();
    for &n in &order.nodes {
        let node = g.node(n);
        if node.is_ret() || node.jt == node.jf {
            continue;
        }
        let exit = &num.exit[n as usize];
        let o = if node.tests_x() {
            exit[X]
        } else {
            vals.konst(node.k)
        };
        let cond = node.code & 0xf0;
        let len_at_exit = node
            .stmts
            .iter()
            .filter_map(|&s| abs_extent(s))
            .fold(proven[n as usize], u32::max);
        for side in [true, false] {
            let (here, other) = (node.succ(side), node.succ(!side));
            // Only N's outcome is known: unless `other` is unconditional
            // or tests the same value, the walk cannot get past it.
            let onode = g.node(other);
            let may_decide = onode.is_ret()
                || onode.jt == onode.jf
                || onode.stmts.is_empty()
                || num.exit[other as usize][A] == exit[A];
            if !may_decide {
                continue;
            }
            let mark = facts.mark();
            facts.learn(cond, exit[A], o, vals.const_of(o), side);
            let here_rejects = g.node(here).is_reject();
            // Walk from `other` with N's exit values.
            let mut st = *exit;
            let mut len = len_at_exit;
            let mut cur = other;
            let mut reached = false;
            'walk: for _ in 0..MAX_WALK {
                if cur == here {
                    reached = true;
                    break;
                }
                let c = g.node(cur);
                if c.is_ret() {
                    break;
                }
                for &s in &c.stmts {
                    let before = st;
                    if vals.step(s, &mut st, false).is_err() {
                        break 'walk;
                    }
                    let safe = !may_abort(s)
                        || here_rejects
                        || abs_extent(s).is_some_and(|e| e <= len)
                        || def(s).is_some_and(|d| before[d] == st[d]);
                    if !safe {
                        break 'walk;
                    }
                    if let Some(e) = abs_extent(s) {
                        len = len.max(e);
                    }
                }
                let taken = if c.jt == c.jf {
                    true
                } else {
                    let co = if c.tests_x() { st[X] } else { vals.konst(c.k) };
                    let ca = st[A];
                    match facts.decide(c.code & 0xf0, ca, co, vals.const_of(ca), vals.const_of(co))
                    {
                        Some(t) => t,
                        None => break,
                    }
                };
                cur = c.succ(taken);
            }
            facts.rollback(mark);
            let live = live_in[here as usize];
            let same = (0..ATOMS).all(|a| live & (1 << a) == 0 || st[a] == exit[a]);
            if reached && same {
                decided.push((n, other));
                break;
            }
        }
    }
    for &(n, other) in &decided {
        let node = g.node_mut(n);
        node.jt = other;
        node.jf = other;
    }
    !decided.is_empty()
}
