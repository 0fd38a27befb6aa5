//! Merging of nodes.
//!
//! * Identical nodes: two nodes with the same statements, the same branch
//!   and the same successors behave the same on every input, so one can
//!   stand for both. Nodes are visited successors first, so chains of
//!   identical code collapse in one pass.
//! * Straight lines: a node whose branch goes the same way either way
//!   absorbs its successor when nothing else jumps there, or takes a copy
//!   of it when it is a `ret` (one instruction either way, and the jump is
//!   gone).

use super::hash::Map;

use super::graph::{Graph, Node, NodeId, Order, Stmt, NO_NODE};

/// Redirects every branch to the first of its identical nodes. Returns
/// whether anything changed.
pub(crate) fn merge_identical(g: &mut Graph, order: &Order) -> bool {
    let mut canon: Vec<NodeId> = (0..g.nodes.len() as NodeId).collect();
    let mut seen: Map<(&[Stmt], u16, u32, NodeId, NodeId), NodeId> = Map::default();
    let mut changed = false;
    for &v in order.nodes.iter().rev() {
        let node: &Node = &g.nodes[v as usize];
        let succ = |s: NodeId| if s == NO_NODE { s } else { canon[s as usize] };
        let key = (
            node.stmts.as_slice(),
            node.code,
            node.k,
            succ(node.jt),
            succ(node.jf),
        );
        match seen.get(&key) {
            Some(&first) => {
                canon[v as usize] = first;
                changed = true;
            }
            None => {
                seen.insert(key, v);
            }
        }
    }
    if changed {
        for &v in &order.nodes {
            let node = &mut g.nodes[v as usize];
            if node.jt != NO_NODE {
                node.jt = canon[node.jt as usize];
                node.jf = canon[node.jf as usize];
            }
        }
        g.root = canon[g.root as usize];
    }
    changed
}

/// Fuses each unconditional node with its successor (see the module
/// documentation). Returns whether anything changed.
pub(crate) fn fuse_straight_lines(g: &mut Graph, order: &Order) -> bool {
    let mut changed = false;
    // Predecessors first, so a chain collapses into its head.
    let mut absorbed = vec![false; g.nodes.len()];
    for &v in &order.nodes {
        if absorbed[v as usize] {
            continue;
        }
        loop {
            let node = &g.nodes[v as usize];
            if node.is_ret() || node.jt != node.jf {
                break;
            }
            let c = node.jt;
            let single_pred = order.preds(c).iter().all(|&(p, _)| p == v);
            let succ = g.nodes[c as usize].clone();
            if !(succ.is_ret() || (single_pred && c != g.root)) {
                break;
            }
            if !succ.is_ret() {
                absorbed[c as usize] = true;
            }
            let node = &mut g.nodes[v as usize];
            node.stmts.extend_from_slice(&succ.stmts);
            node.code = succ.code;
            node.k = succ.k;
            node.jt = succ.jt;
            node.jf = succ.jf;
            changed = true;
        }
    }
    changed
}
