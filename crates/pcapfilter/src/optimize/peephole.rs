//! Rewrites that fold arithmetic into the instruction that consumes it,
//! when the intermediate value is not needed afterwards:
//!
//! * a comparison absorbs the constant operation before it: `sub #c;
//!   jeq #k` → `jeq #(k+c)`, likewise `add`, `xor`; `sub x; jeq #0` →
//!   `jeq x`; `and #m; jeq #0` → `jset #m` (branches swapped); `and #m;
//!   jset #k` → `jset #(m&k)`;
//! * an indexed load absorbs a constant added to its index: `ld #c;
//!   add x; tax; ldb [x+k]` → `ldb [x+(k+c)]` (the code generated for
//!   `tcp[c]`), when the addition provably cannot wrap around (or, for a
//!   negative `c` outside exact mode, when it wrapping around would make
//!   the old load fail anyway);
//! * a comparison with X swaps its operands when that saves saving A:
//!   `st M[k]; ld #pktlen; tax; ld M[k]; jgt x` → `tax; ld #pktlen;
//!   jge x` (branches swapped).

use bpfkit_cbpf::op;

use super::dead::{live_out, liveness};
use super::graph::{def, uses, Graph, Order, Stmt, A, X};
use super::number::Numbering;
use super::values::Values;

/// Applies the rewrites everywhere; returns whether anything changed.
pub(crate) fn absorb_arithmetic(
    g: &mut Graph,
    order: &Order,
    num: &Numbering,
    vals: &mut Values,
    exact: bool,
) -> bool {
    let live_in = liveness(g, order);
    let mut changed = false;
    for &v in &order.nodes {
        let out = live_out(g, v, &live_in);
        changed |= absorb_into_index(g, v, out, num, vals, exact);
        changed |= absorb_into_branch(g.node_mut(v), out);
        changed |= swap_operands(g.node_mut(v), out);
    }
    changed
}

/// `st M[k]; <A := b>; tax; ld M[k]; jcond x` (compare a, saved in
/// `M[k]`, with b) becomes `tax; <A := b>; jcond' x` comparing b with a:
/// `a > b` is `!(b >= a)`, `a >= b` is `!(b > a)`; `==` and `&` are
/// symmetric. A, X and `M[k]` must be dead after the node, and the statement
/// computing b must read neither X nor `M[k]`.
fn swap_operands(node: &mut super::graph::Node, live_out: u32) -> bool {
    let n = node.stmts.len();
    if node.is_ret() || !node.tests_x() || node.jt == node.jf || n < 4 {
        return false;
    }
    let [st, b, tax, ld] = [
        node.stmts[n - 4],
        node.stmts[n - 3],
        node.stmts[n - 2],
        node.stmts[n - 1],
    ];
    let slot = st.k;
    let ok = st.code == op::ST
        && slot < op::MEMWORDS
        && tax.code == op::MISC | op::TAX
        && ld
            == (Stmt {
                code: op::LD | op::MEM,
                k: slot,
            })
        && def(b) == Some(A)
        && uses(b) & ((1 << X) | (1 << slot)) == 0
        && live_out & ((1 << A) | (1 << X) | (1 << slot)) == 0;
    if !ok {
        return false;
    }
    let (code, swap) = match node.code & 0xf0 {
        op::JGT => (op::JGE, true),
        op::JGE => (op::JGT, true),
        c => (c, false),
    };
    node.stmts.truncate(n - 4);
    node.stmts.push(tax);
    node.stmts.push(b);
    node.code = op::JMP | code | op::X;
    if swap {
        std::mem::swap(&mut node.jt, &mut node.jf);
    }
    true
}

/// The comparison absorbs the last statement (A must be dead after it).
fn absorb_into_branch(node: &mut super::graph::Node, live_out: u32) -> bool {
    if node.is_ret() || node.tests_x() || live_out & (1 << A) != 0 {
        return false;
    }
    let Some(&last) = node.stmts.last() else {
        return false;
    };
    let cond = node.code & 0xf0;
    let alu = |o: u16| op::ALU | o | op::K;
    let k = node.k;
    let new_branch = match (cond, last.code) {
        (op::JEQ, c) if c == alu(op::SUB) => (op::JEQ | op::K, k.wrapping_add(last.k), false),
        (op::JEQ, c) if c == alu(op::ADD) => (op::JEQ | op::K, k.wrapping_sub(last.k), false),
        (op::JEQ, c) if c == alu(op::XOR) => (op::JEQ | op::K, k ^ last.k, false),
        (op::JEQ, c) if c == op::ALU | op::SUB | op::X && k == 0 => (op::JEQ | op::X, 0, false),
        (op::JEQ, c) if c == alu(op::AND) && k == 0 => (op::JSET | op::K, last.k, true),
        (op::JSET, c) if c == alu(op::AND) => (op::JSET | op::K, k & last.k, false),
        _ => return false,
    };
    let (code, k, swap) = new_branch;
    node.stmts.pop();
    node.code = op::JMP | code;
    node.k = k;
    if swap {
        std::mem::swap(&mut node.jt, &mut node.jf);
    }
    true
}

/// `tax` giving X = v + c before an indexed load is dropped and `c` moved
/// into the load's offset (X must be used by nothing else).
fn absorb_into_index(
    g: &mut Graph,
    v: u32,
    live_out: u32,
    num: &Numbering,
    vals: &mut Values,
    exact: bool,
) -> bool {
    let node = g.node(v);
    let stmts = &node.stmts;
    // Values before each statement.
    let mut st = num.entry[v as usize];
    let mut before = Vec::with_capacity(stmts.len());
    for &s in stmts {
        before.push(st);
        if vals.step(s, &mut st, false).is_err() {
            return false;
        }
    }
    let x_bit = 1u32 << X;
    let tail_uses = super::graph::branch_uses(node) | live_out;
    let tax = Stmt {
        code: op::MISC | op::TAX,
        k: 0,
    };
    for (j, &s) in stmts.iter().enumerate() {
        if s != tax {
            continue;
        }
        let Some((base, c)) = vals.as_add_const(before[j][A]) else {
            continue;
        };
        if before[j][X] != base {
            continue;
        }
        // The one indexed load that uses this X, and no other use of it.
        let mut load = None;
        let mut x_used_after = true;
        for (i, &t) in stmts.iter().enumerate().skip(j + 1) {
            let reads_x = uses(t) & x_bit != 0;
            let is_ind_load = t.code & 0x07 == op::LD && t.code & 0xe0 == op::IND;
            if reads_x && (load.is_some() || !is_ind_load) {
                load = None;
                break;
            }
            if reads_x {
                load = Some(i);
            }
            if def(t) == Some(X) {
                x_used_after = false;
                break;
            }
        }
        let Some(i) = load else {
            continue;
        };
        if x_used_after && tail_uses & x_bit != 0 {
            continue;
        }
        // The load reads at (base + c mod 2^32) + k (it fails past 2^32);
        // afterwards at base + (k + c).
        let signed = i64::from(c as i32);
        let new_k = i64::from(stmts[i].k) + signed;
        if !(0..=i64::from(u32::MAX)).contains(&new_k) {
            continue;
        }
        let same = if signed >= 0 {
            // base + c must not wrap around.
            vals.max_of(base) + u64::from(c) <= u64::from(u32::MAX)
        } else {
            // If base < |c| the old index wrapped around and the old load
            // fails where the new one may not: only a lenient mode allows it.
            !exact
        };
        if !same {
            continue;
        }
        let node = g.node_mut(v);
        node.stmts[i].k = new_k as u32;
        node.stmts.remove(j);
        return true;
    }
    false
}
