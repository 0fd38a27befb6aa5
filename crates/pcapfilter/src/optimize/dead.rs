//! Liveness of registers, removal of statements whose result is never
//! used, and replacement of code that can only reject by `ret #0`.
//!
//! A statement may go if its result is dead. In exact mode it must also be
//! unable to end the run early: a dead packet load stays unless the packet
//! length it checks is already proven by an earlier load on every path,
//! or checked again by a later one on every path to acceptance. Otherwise
//! (libpcap's behaviour) dead loads go, so a packet too short for them may
//! be accepted where the unoptimized program rejects it.

use bpfkit_cbpf::op;

use super::graph::{abs_extent, branch_uses, def, may_abort, uses, AtomSet, Graph, Order, NO_NODE};

/// The atoms live at entry to each node (indexed by node).
pub(crate) fn liveness(g: &Graph, order: &Order) -> Vec<AtomSet> {
    let mut live_in = vec![0; g.nodes.len()];
    for &v in order.nodes.iter().rev() {
        let node = g.node(v);
        let mut live = live_out(g, v, &live_in) | branch_uses(node);
        for &s in node.stmts.iter().rev() {
            if let Some(d) = def(s) {
                live &= !(1 << d);
            }
            live |= uses(s);
        }
        live_in[v as usize] = live;
    }
    live_in
}

/// The atoms live at exit from `v`.
pub(crate) fn live_out(g: &Graph, v: u32, live_in: &[AtomSet]) -> AtomSet {
    let node = g.node(v);
    if node.is_ret() {
        0
    } else {
        live_in[node.jt as usize] | live_in[node.jf as usize]
    }
}

/// For each node, how many bytes of packet data every path to its entry
/// has already loaded successfully (so loads within that length cannot
/// fail there).
pub(crate) fn proven_length(g: &Graph, order: &Order) -> Vec<u32> {
    let mut at_entry = vec![0u32; g.nodes.len()];
    let mut at_exit = vec![0u32; g.nodes.len()];
    for &v in &order.nodes {
        let entry = order
            .preds(v)
            .iter()
            .map(|&(p, _)| at_exit[p as usize])
            .min()
            .unwrap_or(0);
        let exit = g
            .node(v)
            .stmts
            .iter()
            .filter_map(|&s| abs_extent(s))
            .fold(entry, u32::max);
        at_entry[v as usize] = entry;
        at_exit[v as usize] = exit;
    }
    at_entry
}

/// Whether a `ret` accepts (`ret #0` is the only rejecting one).
fn accepts(node: &super::graph::Node) -> bool {
    !(node.code == op::RET | op::K && node.k == 0)
}

/// For each node, the packet length that every path from its entry to an
/// accepting `ret` checks with an absolute load: the smallest, over those
/// paths, of the largest load extent on the path (`u32::MAX` if no path
/// accepts). A dead load needing no more than that can go: a packet too
/// short for it is still rejected, just later.
fn required_length(g: &Graph, order: &Order) -> Vec<u32> {
    let mut at_entry = vec![u32::MAX; g.nodes.len()];
    for &v in order.nodes.iter().rev() {
        let node = g.node(v);
        let mut need = if node.is_ret() {
            if accepts(node) {
                0
            } else {
                u32::MAX
            }
        } else {
            at_entry[node.jt as usize].min(at_entry[node.jf as usize])
        };
        for &s in node.stmts.iter().rev() {
            if let Some(e) = abs_extent(s) {
                need = need.max(e);
            }
        }
        at_entry[v as usize] = need;
    }
    at_entry
}

/// Deletes statements whose results are dead and that cannot fail (or
/// whose failure a later load on every accepting path repeats). Returns
/// whether anything was deleted.
pub(crate) fn remove_dead_statements(g: &mut Graph, order: &Order, exact: bool) -> bool {
    let live_in = liveness(g, order);
    let proven = proven_length(g, order);
    let mut required = required_length(g, order);
    let mut changed = false;
    // Successors first, so that `required` only counts loads that stay.
    for &v in order.nodes.iter().rev() {
        let out = live_out(g, v, &live_in);
        let node = g.node(v);
        let mut need = if node.is_ret() {
            if accepts(node) {
                0
            } else {
                u32::MAX
            }
        } else {
            required[node.jt as usize].min(required[node.jf as usize])
        };
        let node = g.node_mut(v);
        // Length proven before each statement.
        let mut before = Vec::with_capacity(node.stmts.len());
        let mut len = proven[v as usize];
        for &s in &node.stmts {
            before.push(len);
            len = abs_extent(s).map_or(len, |e| len.max(e));
        }
        let mut live = out | branch_uses(node);
        let mut keep = vec![true; node.stmts.len()];
        for (i, &s) in node.stmts.iter().enumerate().rev() {
            let extent = abs_extent(s);
            let safe =
                !exact || !may_abort(s) || extent.is_some_and(|e| e <= before[i] || e <= need);
            match def(s) {
                Some(d) if live & (1 << d) == 0 && safe => {
                    keep[i] = false;
                    changed = true;
                }
                d => {
                    if let Some(d) = d {
                        live &= !(1 << d);
                    }
                    live |= uses(s);
                    if let Some(e) = extent {
                        need = need.max(e);
                    }
                }
            }
        }
        required[v as usize] = need;
        if keep.contains(&false) {
            let mut i = 0;
            node.stmts.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
    }
    changed
}

/// Turns every node from which no path accepts into `ret #0` (an early end
/// of the run rejects too, so its statements do not matter). Returns
/// whether anything changed.
pub(crate) fn reject_dead_ends(g: &mut Graph, order: &Order) -> bool {
    let mut can_accept = vec![false; g.nodes.len()];
    let mut changed = false;
    for &v in order.nodes.iter().rev() {
        let node = g.node(v);
        let accepts = if node.is_ret() {
            !(node.code == op::RET | op::K && node.k == 0)
        } else {
            can_accept[node.jt as usize] || can_accept[node.jf as usize]
        };
        can_accept[v as usize] = accepts;
        let is_plain_reject = node.code == op::RET | op::K && node.k == 0 && node.stmts.is_empty();
        if !accepts && !is_plain_reject {
            let node = g.node_mut(v);
            node.stmts.clear();
            node.code = op::RET | op::K;
            node.k = 0;
            node.jt = NO_NODE;
            node.jf = NO_NODE;
            changed = true;
        }
    }
    changed
}

/// Deletes the statements of nodes that leave every register read after
/// them (by their branch or their successors) as it was on entry: e.g. a
/// header length computed again into X and the same field loaded again
/// into A. In exact mode, only if none of them could fail (a repeated load
/// or one within the proven length). Returns whether anything changed.
///
/// (This must not share a pass with jump threading: a redirected branch
/// may enter a node with other values than those it was judged on.)
pub(crate) fn remove_idle_statements(
    g: &mut Graph,
    order: &Order,
    num: &super::number::Numbering,
    vals: &mut super::values::Values,
    exact: bool,
) -> bool {
    let live_in = liveness(g, order);
    let proven = if exact {
        proven_length(g, order)
    } else {
        Vec::new()
    };
    let mut changed = false;
    for &v in &order.nodes {
        let node = g.node(v);
        if node.stmts.is_empty() {
            continue;
        }
        let (entry, exit) = (&num.entry[v as usize], &num.exit[v as usize]);
        let read = branch_uses(node) | live_out(g, v, &live_in);
        if !super::thread::same_on(read, exit, entry) {
            continue;
        }
        if exact {
            let mut st = *entry;
            let mut len = proven[v as usize];
            let mut safe = true;
            for &s in &node.stmts {
                let before = st;
                if vals.step(s, &mut st, false).is_err() {
                    safe = false;
                    break;
                }
                let repeated = def(s).is_some_and(|d| before[d] == st[d]);
                let covered = abs_extent(s).is_some_and(|e| e <= len);
                if may_abort(s) && !repeated && !covered {
                    safe = false;
                    break;
                }
                if let Some(e) = abs_extent(s) {
                    len = len.max(e);
                }
            }
            if !safe {
                continue;
            }
        }
        g.node_mut(v).stmts.clear();
        changed = true;
    }
    changed
}
