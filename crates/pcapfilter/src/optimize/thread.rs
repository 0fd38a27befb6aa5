//! Jump threading: a branch into a node whose own branch is already
//! decided on that path goes straight to the successor that node would
//! take, skipping it.
//!
//! Facts come from the dominator tree of branches ([`super::dom`]): on the
//! true edge of `ldh [12]; jeq #0x800`, a later `jeq #0x800` on the same
//! value is true, `jeq #0x86dd` false, `jgt #0x700` true. For each edge the
//! skipped nodes are simulated with the register values of that edge, so
//! a node that reloads what is already loaded is seen through. Skipping is
//! allowed only if it cannot change a verdict:
//!
//! * in exact mode, every statement of the skipped nodes cannot fail on
//!   that path (a load already done or within the packet length already
//!   proven, a division by a non-zero constant), and
//! * every register the new successor reads has the same value whether or
//!   not the skipped nodes ran.
//!
//! All edges are examined against the same (old) graph and redirected
//! together; each redirection only removes work the old program did with
//! a known outcome, so they compose, with one exception: a skip may rely
//! on a register holding, before the skipped nodes, the value those nodes
//! would recompute (`tax` of a value X already holds), which makes the
//! register newly live above the edge (unless it was live after the
//! edge's source already); another skip that removes the earlier
//! definition (the register being dead there in the old graph) would then
//! break it. So redirections are accepted in order, and one is refused if
//! it skips a write of a register an accepted one relies on that way, or
//! relies on a register whose write an accepted one skips (later rounds
//! find it again on the new graph).

use bpfkit_cbpf::op;

use super::dead::liveness;
use super::dom::{DomTree, Vertex};
use super::facts::Facts;
use super::graph::{abs_extent, def, effect, may_abort, AtomSet, Graph, NodeId, Order, Stmt, A, X};
use super::number::Numbering;
use super::values::{State, Step, Values};

/// How many nodes one edge may skip in one pass (later passes continue).
const MAX_SKIP: usize = 16;

/// Context of one pass.
struct Pass<'a> {
    g: &'a Graph,
    num: &'a Numbering,
    live_in: Vec<AtomSet>,
    /// Packet length proven at the exit of each node.
    proven_exit: Vec<u32>,
    /// What each node's statements read and write ([`effect`]).
    effect: Vec<(AtomSet, AtomSet)>,
    /// Skipped statements must not be able to fail.
    exact: bool,
}

/// Redirects every edge whose successor's branch is decided on it, and the
/// program's entry if the root is skippable. Returns whether anything
/// changed.
pub(crate) fn thread_jumps(
    g: &mut Graph,
    order: &Order,
    num: &Numbering,
    vals: &mut Values,
    exact: bool,
) -> bool {
    let live_in = liveness(g, order);
    let proven_entry = super::dead::proven_length(g, order);
    let proven_exit: Vec<u32> = (0..g.nodes.len())
        .map(|v| {
            g.nodes[v]
                .stmts
                .iter()
                .filter_map(|&s| abs_extent(s))
                .fold(proven_entry[v], u32::max)
        })
        .collect();
    let pass = Pass {
        g,
        num,
        live_in,
        proven_exit,
        effect: g.nodes.iter().map(effect).collect(),
        exact,
    };
    let tree = DomTree::build(g, order);
    let mut facts = Facts::default();
    let mut redirects: Vec<(NodeId, bool, Skip)> = Vec::new();

    // Entry: a root that is decided from nothing is skipped.
    let new_root = pass.walk(g.root, &vals.initial(), 0, &facts, vals);

    // Depth-first walk of the dominator tree, facts scoped to subtrees.
    enum Visit {
        Enter(u32),
        Leave(usize),
    }
    let mut stack = vec![Visit::Enter(g.root)];
    while let Some(visit) = stack.pop() {
        let id = match visit {
            Visit::Leave(mark) => {
                facts.rollback(mark);
                continue;
            }
            Visit::Enter(id) => id,
        };
        stack.push(Visit::Leave(facts.mark()));
        match tree.vertex(id) {
            Vertex::Node(v) => pass.learn_statements(v, &mut facts, vals),
            Vertex::Edge(p, taken) => {
                let node = g.node(p);
                let exit = &num.exit[p as usize];
                let (cond, a, o) = branch_operands(node, exit, vals);
                facts.learn(cond, a, o, vals.const_of(o), taken);
                let succ = node.succ(taken);
                let proven = pass.proven_exit[p as usize];
                if let Some(skip) = pass.walk(succ, exit, proven, &facts, vals) {
                    redirects.push((p, taken, skip));
                }
            }
        }
        for &c in tree.children(id).iter().rev() {
            stack.push(Visit::Enter(c));
        }
    }
    // Accept the skips that cannot break one another (see the module doc).
    let (mut skipped, mut relied): (AtomSet, AtomSet) = (0, 0);
    let mut compatible = |skip: &Skip, live_out: AtomSet| {
        // Registers already live after the source keep their definitions.
        let relies = skip.writes & pass.live_in[skip.to as usize] & !live_out;
        if skip.writes & relied != 0 || relies & skipped != 0 {
            return false;
        }
        skipped |= skip.writes;
        relied |= relies;
        true
    };
    let new_root = new_root.filter(|s| compatible(s, pass.live_in[g.root as usize]));
    let accepted: Vec<(NodeId, bool, NodeId)> = redirects
        .into_iter()
        .filter(|(p, _, skip)| {
            let node = g.node(*p);
            compatible(
                skip,
                pass.live_in[node.jt as usize] | pass.live_in[node.jf as usize],
            )
        })
        .map(|(p, taken, skip)| (p, taken, skip.to))
        .collect();
    let changed = new_root.is_some() || !accepted.is_empty();
    for (p, taken, to) in accepted {
        g.set_succ(p, taken, to);
    }
    if let Some(skip) = new_root {
        g.root = skip.to;
    }
    changed
}

/// Where an edge can jump instead, and what the nodes it skips write.
#[derive(Clone, Copy)]
struct Skip {
    to: NodeId,
    writes: AtomSet,
}

/// The condition bits, A's value and the operand's value of a branch.
fn branch_operands(
    node: &super::graph::Node,
    exit: &State,
    vals: &mut Values,
) -> (u16, super::values::Val, super::values::Val) {
    let o = if node.tests_x() {
        exit[X]
    } else {
        vals.konst(node.k)
    };
    (node.code & 0xf0, exit[A], o)
}

impl Pass<'_> {
    /// Records which fallible statements of `v` succeed (whoever gets past
    /// them knows).
    fn learn_statements(&self, v: NodeId, facts: &mut Facts, vals: &mut Values) {
        if !self.exact {
            // (Only exact mode asks whether a statement can fail.)
            return;
        }
        let mut st = self.num.entry[v as usize];
        for &s in &self.g.node(v).stmts {
            if vals.step(s, &mut st, false).is_err() {
                return;
            }
            if let (true, Some(d)) = (may_abort(s), def(s)) {
                facts.succeed(st[d]);
            }
        }
    }

    /// Whether `s`, about to run with values `st` (before it) and `proven`
    /// bytes of packet known present, cannot fail.
    fn cannot_fail(
        &self,
        s: Stmt,
        before: &State,
        after: &State,
        proven: u32,
        facts: &Facts,
        vals: &Values,
    ) -> bool {
        if !may_abort(s) || !self.exact {
            return true;
        }
        if abs_extent(s).is_some_and(|e| e <= proven) {
            return true;
        }
        if s.code & 0x07 == op::ALU {
            let divisor = if s.code & op::X != 0 {
                vals.const_of(before[X])
            } else {
                Some(s.k)
            };
            if divisor.is_some_and(|d| d != 0) {
                return true;
            }
        }
        match def(s) {
            Some(d) => before[d] == after[d] || facts.has_succeeded(after[d]),
            None => false,
        }
    }

    /// Follows the decided branches from `start`, entered with values `st`
    /// and `proven` bytes of packet proven; returns the furthest node that
    /// can be jumped to directly instead of `start`, if any.
    fn walk(
        &self,
        start: NodeId,
        entry: &State,
        proven: u32,
        facts: &Facts,
        vals: &mut Values,
    ) -> Option<Skip> {
        // Most edges lead to a node that is entered exactly as numbered
        // and whose test nothing decides: find that out without copying.
        let first = self.g.node(start);
        let (reads, writes) = self.effect[start as usize];
        if !self.exact
            && !first.is_ret()
            && first.jt != first.jf
            && same_on(reads, entry, &self.num.entry[start as usize])
        {
            // (What the branch reads is what the numbering saw.)
            let exit = &self.num.exit[start as usize];
            let a = if writes & (1 << A) != 0 {
                exit[A]
            } else {
                entry[A]
            };
            let x = if writes & (1 << X) != 0 {
                exit[X]
            } else {
                entry[X]
            };
            let o = if first.tests_x() {
                x
            } else {
                vals.konst(first.k)
            };
            let cond = first.code & 0xf0;
            facts.decide(cond, a, o, vals.const_of(a), vals.const_of(o))?;
        }
        let mut st = *entry;
        let mut proven = proven;
        let mut cur = start;
        let mut best = None;
        let mut skipped_writes: AtomSet = 0;
        for _ in 0..MAX_SKIP {
            let node = self.g.node(cur);
            if node.is_ret() {
                break;
            }
            let (reads, writes) = self.effect[cur as usize];
            if !self.exact && same_on(reads, &st, &self.num.entry[cur as usize]) {
                // Its statements read what the numbering saw: what they
                // write is known, the rest passes through.
                let exit = &self.num.exit[cur as usize];
                let mut bits = writes;
                while bits != 0 {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    st[i] = exit[i];
                }
            } else {
                for &s in &node.stmts {
                    let before = st;
                    match vals.step(s, &mut st, false) {
                        Ok(Step::Keep(_)) | Ok(Step::Delete) => {}
                        Err(_) => return best,
                    }
                    if !self.cannot_fail(s, &before, &st, proven, facts, vals) {
                        return best;
                    }
                    if let Some(e) = abs_extent(s) {
                        proven = proven.max(e);
                    }
                }
            }
            let taken = if node.jt == node.jf {
                true
            } else {
                let (cond, a, o) = branch_operands(node, &st, vals);
                match facts.decide(cond, a, o, vals.const_of(a), vals.const_of(o)) {
                    Some(t) => t,
                    None => return best,
                }
            };
            skipped_writes |= writes;
            let next = node.succ(taken);
            let live = self.live_in[next as usize];
            if same_on(live, &st, entry) {
                best = Some(Skip {
                    to: next,
                    writes: skipped_writes,
                });
            }
            cur = next;
        }
        best
    }
}

/// Whether states `a` and `b` agree on the atoms of `set`.
pub(crate) fn same_on(set: AtomSet, a: &State, b: &State) -> bool {
    let mut bits = set;
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        if a[i] != b[i] {
            return false;
        }
    }
    true
}
