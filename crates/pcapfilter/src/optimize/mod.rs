//! The optimizer: rewrites the graph built by code generation into a
//! shorter program with the same verdicts.
//!
//! It works on its own copy of the graph ([`graph::Graph`], in which the
//! jumps inside statement lists that compute 802.11 and Geneve header
//! lengths become ordinary nodes) and repeats a round of small passes until
//! none changes anything:
//!
//! 1. [`values`], [`number`]: value numbering with constant and copy
//!    propagation;
//!    statements that recompute what a register already holds go, constants
//!    are folded, branches on constants are decided;
//! 2. [`peephole`]: a comparison absorbs the arithmetic before it
//!    (`sub #c; jeq #k` → `jeq #k+c`, `and #m; jeq #0` → `jset #m`), an
//!    indexed load absorbs a constant added to its index, a comparison with
//!    X swaps its operands when that saves a scratch store;
//! 3. [`dead`]: statements whose result is dead are removed; code from
//!    which every path rejects becomes `ret #0`;
//! 4. [`thread`]: jump threading on facts from dominating branches
//!    ([`dom`], [`facts`]), which removes redundant tests and skips nodes
//!    whose branch is decided (including unconditional ones); then
//!    statements that recompute what every register read later already
//!    holds are dropped ([`dead`]);
//! 5. [`subsume`]: a test whose outcome does not matter (the other branch
//!    leads to the same place anyway) is made unconditional;
//! 6. [`regroup`]: chains of tests sharing one exit are regrouped by the
//!    value they test, so one load serves several tests;
//! 7. [`intern`]: identical nodes are merged, and straight-line nodes
//!    fused.
//!
//! Finally [`spread`] gives long test chains copies of their shared `ret`
//! within branch range, which saves the layout's `ja` trampolines.
//!
//! Every pass is linear or `O(n log n)` in the size of the graph (plus
//! short, bounded walks per edge), and passes whose input did not change
//! do not recompute their analyses, so large expressions compile in
//! milliseconds. Everything is deterministic: no hash-table iteration
//! order is ever observed.
//!
//! Semantics: the optimized program gives the unoptimized program's
//! verdict on every packet, except that outside exact mode a packet on
//! which the unoptimized program reads past the captured data (and so
//! rejects) may be accepted: like libpcap, dead loads are dropped, decided
//! nodes are skipped even if they load, and tests are regrouped past loads
//! that could fail. The tests check both modes against the unoptimized
//! program on thousands of expressions and packets. Like libpcap, the
//! optimizer refuses programs it finds divide by a constant zero or shift
//! by more than 31; the caller refuses programs that reject every packet.
//! Unlike libpcap, it avoids its known wrong rewrites (`jset #0xffffffff`
//! is not "always", a value is never assumed equal to one computed from
//! another path's registers, constant offsets never wrap around).

mod dead;
mod dom;
mod facts;
mod graph;
mod hash;
mod intern;
mod number;
mod peephole;
mod regroup;
mod spread;
mod subsume;
mod thread;
mod values;

use bpfkit_cbpf::op;

use crate::cfg::{BlockId, Cfg};
use crate::error::CompileError;
use graph::{Graph, Order};
use number::Numbering;
use values::Values;

/// Upper bound on rounds (each makes progress; typical programs need a
/// handful).
const MAX_ROUNDS: usize = 64;

/// An optimized program, ready for layout.
pub(crate) struct Optimized {
    pub cfg: Cfg,
    pub root: BlockId,
    /// The program is a bare `ret #0`.
    pub rejects_all: bool,
}

/// Optimizes the program of `cfg` starting at `root`. With `exact`, the
/// result gives the unoptimized program's verdict on every packet; without,
/// it may accept a packet on which the unoptimized program reads past the
/// captured data (as libpcap's does).
/// `None` if the program has a loop (`protochain`), which the optimizer
/// does not handle (nor does libpcap's).
pub(crate) fn optimize(
    cfg: &Cfg,
    root: BlockId,
    exact: bool,
) -> Result<Option<Optimized>, CompileError> {
    let Some(mut g) = Graph::from_cfg(cfg, root) else {
        return Ok(None);
    };
    let mut vals = Values::default();
    vals.wrap_index = !exact;
    let mut num = Numbering::default();
    for _ in 0..MAX_ROUNDS {
        if !round(&mut g, &mut vals, &mut num, exact)? {
            break;
        }
    }
    let order = g.order();
    spread::spread_returns(&mut g, &order);
    let root = g.node(g.root);
    let rejects_all = root.code == op::RET | op::K && root.k == 0;
    let (cfg, root) = g.to_cfg();
    Ok(Some(Optimized {
        cfg,
        root,
        rejects_all,
    }))
}

/// One round of every pass; returns whether anything changed.
fn round(
    g: &mut Graph,
    vals: &mut Values,
    num: &mut Numbering,
    exact: bool,
) -> Result<bool, CompileError> {
    // Order and numbering are recomputed only after a pass changed the
    // graph (numbering also rewrites statements, which is a change).
    let mut order = g.order();
    let mut any = number::number(g, &order, vals, num)?;
    let mut dirty = peephole::absorb_arithmetic(g, &order, num, vals, exact);
    dirty |= dead::remove_dead_statements(g, &order, exact);
    dirty |= dead::reject_dead_ends(g, &order);
    any |= refresh(g, &mut order, vals, num, dirty)?;
    let dirty = thread::thread_jumps(g, &order, num, vals, exact);
    any |= refresh(g, &mut order, vals, num, dirty)?;
    let dirty = dead::remove_idle_statements(g, &order, num, vals, exact);
    any |= refresh(g, &mut order, vals, num, dirty)?;
    let dirty = subsume::remove_subsumed_tests(g, &order, num, vals);
    any |= refresh(g, &mut order, vals, num, dirty)?;
    if regroup::regroup_chains(g, &order, num, vals, exact) {
        order = g.order();
        any = true;
    }
    if intern::fuse_straight_lines(g, &order) {
        order = g.order();
        any = true;
    }
    any |= intern::merge_identical(g, &order);
    Ok(any)
}

/// After a pass that changed the graph (`dirty`), its order and numbering
/// again; returns `dirty`.
fn refresh(
    g: &mut Graph,
    order: &mut Order,
    vals: &mut Values,
    num: &mut Numbering,
    dirty: bool,
) -> Result<bool, CompileError> {
    if dirty {
        *order = g.order();
        number::number(g, order, vals, num)?;
    }
    Ok(dirty)
}
