//! Copies of `ret` near long test chains.
//!
//! A branch reaches at most 255 instructions ahead; a farther target costs
//! an extra `ja` (see the layout in `cfg`). In a long chain of tests that
//! share one exit (`host A or host B or ...`), every test jumps to the same
//! `ret`, which the layout puts after the whole chain, so most of them need
//! a `ja`. Giving each stretch of about 200 instructions of the chain its
//! own copy of the `ret` (one instruction, which the layout places right
//! after the stretch) removes those jumps. This runs once, after the other
//! passes (which would merge the copies back).

use super::graph::{Graph, NodeId, Order};

/// Instructions of chain per copy of the shared `ret`.
const STRETCH: usize = 200;

/// Gives long chains their own copies of their shared `ret` target.
/// Returns whether anything changed.
pub(crate) fn spread_returns(g: &mut Graph, order: &Order) -> bool {
    let mut in_chain = vec![false; g.nodes.len()];
    let mut changed = false;
    for &head in &order.nodes {
        for shared in [true, false] {
            if in_chain[head as usize] || continues_chain(g, order, head, shared) {
                continue;
            }
            let chain = chain(g, order, head, shared);
            let size: usize = chain.iter().map(|&c| g.node(c).stmts.len() + 1).sum();
            if size <= STRETCH {
                continue;
            }
            let target = g.node(head).succ(shared);
            if !g.node(target).is_ret() {
                continue;
            }
            for &c in &chain {
                in_chain[c as usize] = true;
            }
            let mut copy = NO_COPY;
            let mut stretch = STRETCH;
            for &c in &chain {
                if stretch >= STRETCH {
                    copy = g.nodes.len() as NodeId;
                    g.nodes.push(g.node(target).clone());
                    stretch = 0;
                }
                stretch += g.node(c).stmts.len() + 1;
                g.set_succ(c, shared, copy);
            }
            changed = true;
        }
    }
    changed
}

const NO_COPY: NodeId = NodeId::MAX;

/// Whether `b` continues a chain from its only predecessor.
fn continues_chain(g: &Graph, order: &Order, b: NodeId, shared: bool) -> bool {
    let preds = order.preds(b);
    let [(p, taken)] = preds else {
        return false;
    };
    let (node, pnode) = (g.node(b), g.node(*p));
    *taken != shared && is_link(node) && is_link(pnode) && pnode.succ(shared) == node.succ(shared)
}

fn is_link(node: &super::graph::Node) -> bool {
    !node.is_ret() && node.jt != node.jf
}

/// The maximal chain from `head` whose `shared` branches all go to the same
/// place, linked by the other branches.
fn chain(g: &Graph, order: &Order, head: NodeId, shared: bool) -> Vec<NodeId> {
    if !is_link(g.node(head)) {
        return Vec::new();
    }
    let target = g.node(head).succ(shared);
    let mut out = vec![head];
    let mut cur = head;
    loop {
        let next = g.node(cur).succ(!shared);
        let n = g.node(next);
        if next == g.root || order.preds(next).len() != 1 || !is_link(n) || n.succ(shared) != target
        {
            return out;
        }
        out.push(next);
        cur = next;
    }
}
