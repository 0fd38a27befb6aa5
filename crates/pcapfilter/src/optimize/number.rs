//! Numbering of the whole graph: the values of every register at entry
//! to and exit from each node ([`Numbering`]), computed in topological
//! order with [`Values::step`] rewriting the statements on the way, and
//! branches on constants decided.

use bpfkit_cbpf::op;

use super::graph::{Graph, Node, Order, Stmt, A, ATOMS, X};
use super::values::{State, Step, Values};
use crate::error::CompileError;

/// Entry and exit values of every reachable node (kept between rounds so
/// that its buffers are reused, and so that a node entered with the same
/// values as last time, whose code did not change and was already as
/// simple as numbering makes it, is not evaluated again).
#[derive(Default)]
pub(crate) struct Numbering {
    pub entry: Vec<State>,
    pub exit: Vec<State>,
    /// Fingerprint of each node's code when last numbered, if numbering
    /// left it unchanged then.
    settled: Vec<Option<u64>>,
}

/// A fingerprint of a node's statements and branch.
fn fingerprint(node: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = super::hash::WordHasher::default();
    node.hash(&mut h);
    h.finish()
}

/// Numbers the values of the whole graph in topological order into `num`,
/// rewriting statements (see [`Values::step`]) and deciding branches whose
/// outcome is a constant (both successors then point to the one taken).
/// Returns whether anything changed.
pub(crate) fn number(
    g: &mut Graph,
    order: &Order,
    vals: &mut Values,
    num: &mut Numbering,
) -> Result<bool, CompileError> {
    let n = g.nodes.len();
    let zero: State = [0; ATOMS];
    num.entry.resize(n, zero);
    num.exit.resize(n, zero);
    num.settled.resize(n, None);
    let mut changed = false;
    for &v in &order.nodes {
        let exits = order.preds(v).iter().map(|&(p, _)| &num.exit[p as usize]);
        let entry = vals.merge(v, exits);
        let node = g.node_mut(v);
        let print = num.settled[v as usize];
        if print.is_some() && entry == num.entry[v as usize] && print == Some(fingerprint(node)) {
            // Same code, same entry values: same result, nothing to do.
            continue;
        }
        let mut st = entry;
        let mut node_changed = false;
        let mut stmts: Vec<Stmt> = Vec::with_capacity(node.stmts.len());
        for &s in &node.stmts {
            match vals.step(s, &mut st, true)? {
                Step::Keep(out) => {
                    node_changed |= out != s;
                    match (stmts.last(), commutative_x(out)) {
                        // `ld #c; add x` → `txa; add #c`: the same work,
                        // but a copy into A that may cancel with a `tax`.
                        (Some(&prev), Some(alu)) if prev.code == op::LD | op::IMM => {
                            let c = prev.k;
                            stmts.pop();
                            stmts.push(Stmt {
                                code: op::MISC | op::TXA,
                                k: 0,
                            });
                            stmts.push(Stmt {
                                code: op::ALU | alu | op::K,
                                k: c,
                            });
                            node_changed = true;
                        }
                        _ => stmts.push(out),
                    }
                }
                Step::Delete => node_changed = true,
            }
        }
        node.stmts = stmts;
        node_changed |= fold_branch(node, &st, vals);
        changed |= node_changed;
        num.settled[v as usize] = (!node_changed).then(|| fingerprint(node));
        num.entry[v as usize] = entry;
        num.exit[v as usize] = st;
    }
    Ok(changed)
}

/// Simplifies the final branch of `node` given the exit values `st`:
/// a constant X becomes the `k` operand; a decided condition makes both
/// successors the one taken.
fn fold_branch(node: &mut Node, st: &State, vals: &Values) -> bool {
    if node.is_ret() || node.jt == node.jf {
        return false;
    }
    let mut changed = false;
    if node.tests_x() {
        if let Some(c) = vals.const_of(st[X]) {
            node.code &= !op::X;
            node.k = c;
            changed = true;
        }
    }
    let a = vals.const_of(st[A]);
    let outcome = match (node.code & 0xf0, a) {
        _ if node.tests_x() => None,
        (op::JSET, _) if node.k == 0 => Some(false),
        (cond, Some(a)) => Some(match cond {
            op::JEQ => a == node.k,
            op::JGT => a > node.k,
            op::JGE => a >= node.k,
            _ => a & node.k != 0,
        }),
        _ => None,
    };
    if let Some(taken) = outcome {
        let to = node.succ(taken);
        node.jt = to;
        node.jf = to;
        changed = true;
    }
    changed
}

/// The operation of a commutative ALU instruction with an X operand.
fn commutative_x(s: Stmt) -> Option<u16> {
    let alu = s.code & 0xf0;
    let commutative = matches!(alu, op::ADD | op::MUL | op::AND | op::OR | op::XOR);
    (s.code & 0x07 == op::ALU && s.code & op::X != 0 && commutative).then_some(alu)
}
