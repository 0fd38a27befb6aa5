//! The optimizer: rewrites the graph built by code generation into a
//! shorter program that accepts exactly the same packets (truncated ones
//! included) and returns the same values.
//!
//! It works on its own copy of the graph ([`graph::Graph`]) and repeats a
//! round of small passes until none changes anything:
//!
//! 1. [`values`]: value numbering with constant and copy propagation;
//!    statements that recompute what a register already holds go, constants
//!    are folded, branches on constants are decided;
//! 2. [`peephole`]: a comparison absorbs the arithmetic before it
//!    (`sub #c; jeq #k` → `jeq #k+c`, `and #m; jeq #0` → `jset #m`), an
//!    indexed load absorbs a constant added to its index;
//! 3. [`dead`]: statements whose result is dead and that cannot fail are
//!    removed; code from which every path rejects becomes `ret #0`;
//! 4. [`thread`]: jump threading on facts from dominating branches
//!    ([`dom`], [`facts`]), which removes redundant tests and skips nodes
//!    whose branch is decided (including unconditional ones);
//! 5. [`subsume`]: a test whose outcome does not matter (the other branch
//!    leads to the same place anyway) is bypassed;
//! 6. [`regroup`]: in a chain of tests sharing one exit, tests of the
//!    value already loaded are moved up so the load is shared;
//! 7. [`intern`]: identical nodes are merged, and straight-line nodes
//!    fused.
//!
//! Every pass is linear or `O(n log n)` in the size of the graph, and the
//! number of rounds is bounded, so large expressions compile quickly.
//! Everything is deterministic (no hashing order is ever observed).
//!
//! Like libpcap, the optimizer refuses programs it finds divide by a
//! constant zero or shift by more than 31, and a caller refuses programs
//! that reject every packet. Unlike libpcap, it never drops a packet load
//! that could fail, so its programs agree with the unoptimized ones even
//! on truncated packets; and it avoids libpcap's known wrong rewrites
//! (`jset #0xffffffff` is not "always", merging paths is never assumed to
//! keep unrelated registers).

mod dead;
mod dom;
mod facts;
mod graph;
mod hash;
mod intern;
mod peephole;
mod regroup;
mod subsume;
mod thread;
mod values;

use bpfkit_cbpf::op;

use crate::cfg::{BlockId, Cfg};
use crate::error::CompileError;
use graph::Graph;
use values::{Numbering, Values};

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
pub(crate) fn optimize(cfg: &Cfg, root: BlockId, exact: bool) -> Result<Optimized, CompileError> {
    let mut g = Graph::from_cfg(cfg, root);
    let mut vals = Values::default();
    vals.wrap_index = !exact;
    let mut num = Numbering::default();
    for _ in 0..MAX_ROUNDS {
        if !round(&mut g, &mut vals, &mut num, exact)? {
            break;
        }
    }
    let root = g.node(g.root);
    let rejects_all = root.code == op::RET | op::K && root.k == 0;
    let (cfg, root) = g.to_cfg();
    Ok(Optimized {
        cfg,
        root,
        rejects_all,
    })
}

/// One round of every pass; returns whether anything changed.
fn round(
    g: &mut Graph,
    vals: &mut Values,
    num: &mut Numbering,
    exact: bool,
) -> Result<bool, CompileError> {
    let mut any = false;
    // Analyses are recomputed only after a pass changed the graph.
    let order = g.order();
    let c = values::number(g, &order, vals, num)?;
    any |= c;
    let mut dirty = peephole::absorb_arithmetic(g, &order, num, vals, exact);
    dirty |= dead::remove_dead_statements(g, &order, exact);
    dirty |= dead::reject_dead_ends(g, &order);
    let order = if dirty {
        let order = g.order();
        values::number(g, &order, vals, num)?;
        order
    } else {
        order
    };
    any |= dirty;
    let dirty = thread::thread_jumps(g, &order, num, vals, exact);
    let order = if dirty {
        let order = g.order();
        values::number(g, &order, vals, num)?;
        order
    } else {
        order
    };
    any |= dirty;
    let dirty = subsume::remove_subsumed_tests(g, &order, num, vals);
    let order = if dirty {
        let order = g.order();
        values::number(g, &order, vals, num)?;
        order
    } else {
        order
    };
    any |= dirty;
    let dirty = regroup::regroup_chains(g, &order, num, vals, exact);
    let order = if dirty { g.order() } else { order };
    any |= dirty;
    let dirty = intern::fuse_straight_lines(g, &order);
    let order = if dirty { g.order() } else { order };
    any |= dirty;
    let c = intern::merge_identical(g, &order);
    any |= c;
    Ok(any)
}
