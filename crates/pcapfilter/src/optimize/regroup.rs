//! Regrouping of test chains.
//!
//! `src port 22 or dst port 22 or src port 80 or dst port 80` becomes a
//! chain of nodes whose true branches all go to the same place and whose
//! false branches lead from one to the next (an "or-chain"; an "and-chain"
//! is the mirror image). The order of such tests does not matter to the
//! result, but it does to the size: tests of the same value side by side
//! share one load. This pass stably regroups each chain by the value it
//! tests (the value already in A first), so that the next value numbering
//! deletes the repeated loads. It plays the part of libpcap's `or_pullup`
//! and `and_pullup`, but moves every test of a chain in one pass.
//!
//! A new order is only used if simulating it shows that it is equivalent:
//! every node sees the register values it used to see (for what it reads),
//! every test compares the same values, the common target and the chain's
//! exit are reached with the same live values, and a moved node's
//! statements cannot fail where they now run. In exact mode, nodes that a
//! moved test now precedes must not be able to fail either (otherwise a
//! packet too short for them, which they used to reject, could now be
//! accepted by the moved test).

use super::hash::Map;

use super::dead::{liveness, proven_length};
use super::graph::{
    abs_extent, def, may_abort, AtomSet, Graph, NodeId, Order, A, ATOMS, NO_NODE, X,
};
use super::number::Numbering;
use super::values::{State, Values};

/// Which branch links a chain, and which one is shared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Shared true target, linked by false branches.
    Or,
    /// Shared false target, linked by true branches.
    And,
}

impl Kind {
    fn shared(self) -> bool {
        self == Kind::Or
    }
}

struct Pass<'a> {
    g: &'a Graph,
    order: &'a Order,
    num: &'a Numbering,
    live_in: Vec<AtomSet>,
    proven: Vec<u32>,
    exact: bool,
}

/// Regroups every chain (see the module documentation). Returns whether
/// anything changed.
pub(crate) fn regroup_chains(
    g: &mut Graph,
    order: &Order,
    num: &Numbering,
    vals: &mut Values,
    exact: bool,
) -> bool {
    let mut rewrites: Vec<(Vec<NodeId>, Vec<NodeId>, Kind)> = Vec::new();
    {
        let pass = Pass {
            g,
            order,
            num,
            live_in: liveness(g, order),
            proven: proven_length(g, order),
            exact,
        };
        let mut in_chain = vec![false; g.nodes.len()];
        for &b in &order.nodes {
            for kind in [Kind::Or, Kind::And] {
                if in_chain[b as usize] || pass.continues_chain(b, kind) {
                    continue;
                }
                let chain = pass.chain(b, kind);
                if chain.len() < 2 {
                    continue;
                }
                if let Some(new) = pass.best_order(&chain, kind, vals) {
                    for &c in &chain {
                        in_chain[c as usize] = true;
                    }
                    rewrites.push((chain, new, kind));
                }
            }
        }
    }
    let changed = !rewrites.is_empty();
    for (old, new, kind) in rewrites {
        apply(g, order, &old, &new, kind);
    }
    changed
}

/// Relinks a chain in its new order.
fn apply(g: &mut Graph, order: &Order, old: &[NodeId], new: &[NodeId], kind: Kind) {
    let link = !kind.shared();
    let head = old[0];
    let exit = g.node(*old.last().expect("chain")).succ(link);
    if new[0] != head {
        for &(p, taken) in order.preds(head) {
            g.set_succ(p, taken, new[0]);
        }
        if g.root == head {
            g.root = new[0];
        }
    }
    for w in new.windows(2) {
        g.set_succ(w[0], link, w[1]);
    }
    g.set_succ(*new.last().expect("chain"), link, exit);
}

impl Pass<'_> {
    /// Whether `b` is a chain member (its only predecessor links to it
    /// the chain's way and shares its target), so not a chain's head.
    fn continues_chain(&self, b: NodeId, kind: Kind) -> bool {
        let preds = self.order.preds(b);
        let Some(&(p, taken)) = preds.first() else {
            return false;
        };
        let node = self.g.node(b);
        let pnode = self.g.node(p);
        preds.len() == 1
            && taken != kind.shared()
            && self.is_link(pnode, kind)
            && self.is_link(node, kind)
            && pnode.succ(kind.shared()) == node.succ(kind.shared())
    }

    /// Whether `node` can be a member of a `kind` chain.
    fn is_link(&self, node: &super::graph::Node, _kind: Kind) -> bool {
        !node.is_ret() && node.jt != node.jf
    }

    /// The maximal chain starting at `head`.
    fn chain(&self, head: NodeId, kind: Kind) -> Vec<NodeId> {
        let hnode = self.g.node(head);
        if !self.is_link(hnode, kind) {
            return Vec::new();
        }
        let target = hnode.succ(kind.shared());
        let mut chain = vec![head];
        let mut cur = head;
        loop {
            let next = self.g.node(cur).succ(!kind.shared());
            let nnode = self.g.node(next);
            let single_pred = self.order.preds(next).len() == 1;
            if next == self.g.root
                || !single_pred
                || !self.is_link(nnode, kind)
                || nnode.succ(kind.shared()) != target
            {
                return chain;
            }
            chain.push(next);
            cur = next;
        }
    }

    /// A better order for `chain`, if one is equivalent.
    fn best_order(&self, chain: &[NodeId], kind: Kind, vals: &mut Values) -> Option<Vec<NodeId>> {
        let tested: Vec<_> = chain
            .iter()
            .map(|&c| self.num.exit[c as usize][A])
            .collect();
        let entry_a = self.num.entry[chain[0] as usize][A];
        // Groups in order: the value already in A, then by first test.
        let mut group: Map<u32, usize> = Map::default();
        if tested.contains(&entry_a) {
            group.insert(entry_a, 0);
        }
        for &t in &tested {
            let next = group.len();
            group.entry(t).or_insert(next);
        }
        let mut grouped: Vec<(usize, NodeId)> = chain
            .iter()
            .zip(&tested)
            .map(|(&c, t)| (group[t], c))
            .collect();
        // Stable: within a group, the old order.
        grouped.sort_by_key(|&(g, _)| g);
        let grouped: Vec<NodeId> = grouped.into_iter().map(|(_, c)| c).collect();
        // Fallback: only the tests of the value in A move to the front.
        let front: Vec<NodeId> = chain
            .iter()
            .zip(&tested)
            .filter(|&(_, &t)| t == entry_a)
            .chain(chain.iter().zip(&tested).filter(|&(_, &t)| t != entry_a))
            .map(|(&c, _)| c)
            .collect();
        [grouped, front]
            .into_iter()
            .find(|cand| cand.as_slice() != chain && self.equivalent(chain, cand, kind, vals))
    }

    /// Whether running the chain's nodes in order `new` is equivalent to
    /// `old` (see the module documentation).
    fn equivalent(&self, old: &[NodeId], new: &[NodeId], kind: Kind, vals: &mut Values) -> bool {
        let g = self.g;
        let head = old[0];
        let target = g.node(head).succ(kind.shared());
        let exit = g.node(*old.last().expect("chain")).succ(!kind.shared());
        let target_live = if target == NO_NODE {
            0
        } else {
            self.live_in[target as usize]
        };
        let mut position: Map<NodeId, usize> = Map::default();
        for (i, &c) in old.iter().enumerate() {
            position.insert(c, i);
        }
        // Old positions of the nodes already placed, to count how many of
        // a node's old predecessors still precede it.
        let mut placed = Fenwick::new(old.len());
        let mut st: State = self.num.entry[head as usize];
        let mut proven = self.proven[head as usize];
        // Latest original position run so far: a node that was before it
        // in the old order now runs after a node that used to follow it.
        let mut furthest = 0usize;
        for &c in new {
            let node = g.node(c);
            let pos = position[&c];
            let overtaken = pos < furthest;
            furthest = furthest.max(pos);
            if !same_on(self.live_in[c as usize], &st, &self.num.entry[c as usize]) {
                return false;
            }
            // Now ahead of a node it used to follow.
            let moved_up = placed.count_below(pos) < pos;
            placed.add(pos);
            for &s in &node.stmts {
                let before = st;
                if vals.step(s, &mut st, false).is_err() {
                    return false;
                }
                if may_abort(s) {
                    let redundant = def(s).is_some_and(|d| before[d] == st[d]);
                    let covered = abs_extent(s).is_some_and(|e| e <= proven);
                    // A node now earlier must not fail where it runs now;
                    // in exact mode, neither may a node now later.
                    if !(redundant || covered) && (moved_up || (self.exact && overtaken)) {
                        return false;
                    }
                }
                if let Some(e) = abs_extent(s) {
                    proven = proven.max(e);
                }
            }
            let exit_c = &self.num.exit[c as usize];
            if st[A] != exit_c[A] || (node.tests_x() && st[X] != exit_c[X]) {
                return false;
            }
            if !same_on(target_live, &st, exit_c) {
                return false;
            }
        }
        let last = self.num.exit[*old.last().expect("chain") as usize];
        same_on(self.live_in[exit as usize], &st, &last)
    }
}

/// A Fenwick tree counting marked positions.
struct Fenwick(Vec<u32>);

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick(vec![0; n + 1])
    }

    fn add(&mut self, pos: usize) {
        let mut i = pos + 1;
        while i < self.0.len() {
            self.0[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Marked positions below `pos`.
    fn count_below(&self, pos: usize) -> usize {
        let (mut i, mut n) = (pos, 0);
        while i > 0 {
            n += self.0[i] as usize;
            i -= i & i.wrapping_neg();
        }
        n
    }
}

/// Whether states `a` and `b` agree on the atoms of `live`.
fn same_on(live: AtomSet, a: &State, b: &State) -> bool {
    (0..ATOMS).all(|i| live & (1 << i) == 0 || a[i] == b[i])
}
