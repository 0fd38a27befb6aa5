//! The optimizer's working form of a program: an arena of nodes, each a
//! list of straight-line statements ending in a two-way branch or a `ret`,
//! plus the analyses every pass needs (reachable order, predecessors) and
//! the facts about single instructions (which registers they read and
//! write, whether they can end the run).

use bpfkit_cbpf::op;

use crate::cfg::{BlockId, Cfg, StmtId};

/// Index of a node in [`Graph::nodes`].
pub(crate) type NodeId = u32;

/// Successor field of a `ret` node.
pub(crate) const NO_NODE: NodeId = u32::MAX;

/// Register numbers ("atoms"): scratch words 0..16, then A and X.
pub(crate) const A: usize = op::MEMWORDS as usize;
pub(crate) const X: usize = A + 1;
/// Number of atoms.
pub(crate) const ATOMS: usize = X + 1;

/// A set of atoms, one bit each.
pub(crate) type AtomSet = u32;

/// One straight-line instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Stmt {
    pub code: u16,
    pub k: u32,
}

/// A basic block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Node {
    pub stmts: Vec<Stmt>,
    /// The final branch (`jmp` class, never `ja`) or `ret`.
    pub code: u16,
    pub k: u32,
    /// Successors (both [`NO_NODE`] for a `ret`).
    pub jt: NodeId,
    pub jf: NodeId,
}

impl Node {
    pub fn is_ret(&self) -> bool {
        self.code & 0x07 == op::RET
    }

    /// A bare `ret #0`.
    pub fn is_reject(&self) -> bool {
        self.code == op::RET | op::K && self.k == 0 && self.stmts.is_empty()
    }

    /// The successor taken when the branch condition is `taken`.
    pub fn succ(&self, taken: bool) -> NodeId {
        if taken {
            self.jt
        } else {
            self.jf
        }
    }

    /// Whether the branch compares A with X (rather than with `k`).
    pub fn tests_x(&self) -> bool {
        !self.is_ret() && self.code & op::X != 0
    }
}

/// The program being optimized.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

/// Reachable nodes in topological order, with predecessor lists.
pub(crate) struct Order {
    /// Root first; every node after all its predecessors.
    pub nodes: Vec<NodeId>,
    /// Predecessors of node `v`: `pred[first[v]..first[v + 1]]`.
    first: Vec<u32>,
    pred: Vec<(NodeId, bool)>,
}

impl Order {
    /// `(predecessor, branch outcome)` of each edge into `v`, in the order
    /// of `nodes`; empty for unreachable nodes.
    pub fn preds(&self, v: NodeId) -> &[(NodeId, bool)] {
        let (a, b) = (self.first[v as usize], self.first[v as usize + 1]);
        &self.pred[a as usize..b as usize]
    }
}

impl Graph {
    /// The graph of the blocks reachable from `root` in `cfg` (deleted
    /// statements dropped). A block whose statements contain forward jumps
    /// (the run-time header-length code of 802.11 and Geneve) becomes
    /// several nodes, one per stretch between jumps and their targets;
    /// `None` if some block cannot be split so (a backward jump, as in
    /// `protochain`'s loop, or a jump without a target).
    pub fn from_cfg(cfg: &Cfg, root: BlockId) -> Option<Graph> {
        let order = cfg.post_order(root);
        // Statements and their split points, per block.
        let mut lists = Vec::with_capacity(order.len());
        let mut first = vec![NO_NODE; cfg.block_count()];
        let mut count = 0u32;
        for &b in &order {
            let list: Vec<StmtId> = cfg
                .list(cfg.b(b).stmts)
                .into_iter()
                .filter(|&s| !cfg.s(s).nop)
                .collect();
            let starts = split_points(cfg, &list)?;
            first[b.0 as usize] = count;
            count += starts.len() as u32;
            lists.push((list, starts));
        }
        let mut nodes = Vec::with_capacity(count as usize);
        for (&b, (list, starts)) in order.iter().zip(&lists) {
            let blk = cfg.b(b);
            let base = first[b.0 as usize];
            let succ = |t: Option<BlockId>| t.map_or(NO_NODE, |t| first[t.0 as usize]);
            // The node holding statement `i` of this block.
            let node_of = |i: usize| base + starts.partition_point(|&s| s <= i) as u32 - 1;
            for (seg, &start) in starts.iter().enumerate() {
                let end = starts.get(seg + 1).copied().unwrap_or(list.len());
                let last = (end > start).then(|| cfg.s(list[end - 1]));
                let is_jump = last.is_some_and(|l| is_block_jump(l.code));
                let body = if is_jump { start..end - 1 } else { start..end };
                let stmts = list[body]
                    .iter()
                    .map(|&s| Stmt {
                        code: cfg.s(s).code,
                        k: cfg.s(s).k,
                    })
                    .collect();
                let node = if end == list.len() && !is_jump {
                    // The block's own branch.
                    Node {
                        stmts,
                        code: blk.code,
                        k: blk.k,
                        jt: succ(blk.jt),
                        jf: succ(blk.jf),
                    }
                } else if let (true, Some(last)) = (is_jump && end - 1 != list.len() - 2, last) {
                    let target = |t: Option<StmtId>| {
                        let at = list.iter().position(|&x| Some(x) == t).expect("target");
                        node_of(at)
                    };
                    Node {
                        stmts,
                        code: last.code,
                        k: last.k,
                        jt: target(last.jt),
                        jf: target(last.jf),
                    }
                } else {
                    // A stretch that runs into the next one (also a jump
                    // in the second-to-last place, whose offsets libpcap's
                    // layout leaves at 0: it falls through either way).
                    let next = base + seg as u32 + 1;
                    let (code, k) = match last {
                        Some(l) if is_jump => (l.code, l.k),
                        _ => (op::JMP | op::JEQ | op::K, 0),
                    };
                    Node {
                        stmts,
                        code,
                        k,
                        jt: next,
                        jf: next,
                    }
                };
                nodes.push(node);
            }
        }
        Some(Graph {
            nodes,
            root: first[root.0 as usize],
        })
    }

    /// The graph as a [`Cfg`] for layout, with its entry block.
    pub fn to_cfg(&self) -> (Cfg, BlockId) {
        let order = self.order();
        let mut cfg = Cfg::new();
        let mut block = vec![None; self.nodes.len()];
        for &n in &order.nodes {
            let node = &self.nodes[n as usize];
            let mut first = None;
            for s in node.stmts.iter().rev() {
                let id = cfg.stmt(s.code, s.k);
                cfg.s_mut(id).next = first;
                first = Some(id);
            }
            let b = cfg.block(node.code, node.k);
            cfg.b_mut(b).stmts = first;
            block[n as usize] = Some(b);
        }
        for &n in &order.nodes {
            let node = &self.nodes[n as usize];
            if !node.is_ret() {
                let b = block[n as usize].expect("reachable");
                cfg.b_mut(b).jt = block[node.jt as usize];
                cfg.b_mut(b).jf = block[node.jf as usize];
            }
        }
        (cfg, block[self.root as usize].expect("root"))
    }

    pub fn node(&self, n: NodeId) -> &Node {
        &self.nodes[n as usize]
    }

    pub fn node_mut(&mut self, n: NodeId) -> &mut Node {
        &mut self.nodes[n as usize]
    }

    /// Points the `taken` branch of `n` to `to`.
    pub fn set_succ(&mut self, n: NodeId, taken: bool, to: NodeId) {
        let node = self.node_mut(n);
        if taken {
            node.jt = to;
        } else {
            node.jf = to;
        }
    }

    /// Reachable nodes in topological order and their predecessors.
    ///
    /// The order is the reverse of the layout's post-order, so passes that
    /// walk it visit nodes in a stable, layout-like order.
    pub fn order(&self) -> Order {
        let n = self.nodes.len();
        let mut seen = vec![false; n];
        let mut post = Vec::new();
        // Iterative DFS: (node, successors pushed yet?).
        let mut stack = vec![(self.root, false)];
        while let Some((v, expanded)) = stack.pop() {
            if expanded {
                post.push(v);
                continue;
            }
            if std::mem::replace(&mut seen[v as usize], true) {
                continue;
            }
            stack.push((v, true));
            let node = self.node(v);
            if !node.is_ret() {
                stack.push((node.jt, false));
                stack.push((node.jf, false));
            }
        }
        post.reverse();
        let mut first = vec![0u32; n + 1];
        for &v in &post {
            let node = self.node(v);
            if !node.is_ret() {
                first[node.jt as usize + 1] += 1;
                first[node.jf as usize + 1] += 1;
            }
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut pred = vec![(0, false); first[n] as usize];
        for &v in &post {
            let node = self.node(v);
            if !node.is_ret() {
                for (to, taken) in [(node.jt, true), (node.jf, false)] {
                    pred[fill[to as usize] as usize] = (v, taken);
                    fill[to as usize] += 1;
                }
            }
        }
        Order {
            nodes: post,
            first,
            pred,
        }
    }
}

/// The atom `s` writes, if any.
pub(crate) fn def(s: Stmt) -> Option<usize> {
    match s.code & 0x07 {
        op::LD | op::ALU => Some(A),
        op::LDX => Some(X),
        op::ST | op::STX => (s.k < op::MEMWORDS).then_some(s.k as usize),
        op::MISC => Some(if s.code & 0xf8 == op::TAX { X } else { A }),
        _ => None,
    }
}

/// The atoms `s` reads.
pub(crate) fn uses(s: Stmt) -> AtomSet {
    let bit = |a: usize| 1u32 << a;
    let mode = s.code & 0xe0;
    match s.code & 0x07 {
        op::LD | op::LDX => match mode {
            op::IND => bit(X),
            op::MEM if s.k < op::MEMWORDS => bit(s.k as usize),
            _ => 0,
        },
        op::ST => bit(A),
        op::STX => bit(X),
        op::ALU if s.code & 0xf0 == op::NEG => bit(A),
        op::ALU if s.code & op::X != 0 => bit(A) | bit(X),
        op::ALU => bit(A),
        op::MISC if s.code & 0xf8 == op::TAX => bit(A),
        op::MISC => bit(X),
        _ => 0,
    }
}

/// The atoms a node's statements read before writing them, and the atoms
/// they write.
pub(crate) fn effect(node: &Node) -> (AtomSet, AtomSet) {
    let (mut reads, mut writes) = (0, 0);
    for &s in &node.stmts {
        reads |= uses(s) & !writes;
        if let Some(d) = def(s) {
            writes |= 1 << d;
        }
    }
    (reads, writes)
}

/// The atoms a node's final branch reads (none if both ways lead to the
/// same place).
pub(crate) fn branch_uses(node: &Node) -> AtomSet {
    if !node.is_ret() && node.jt == node.jf {
        0
    } else if node.is_ret() {
        match node.code & 0x18 {
            op::A => 1 << A,
            op::X => 1 << X,
            _ => 0,
        }
    } else if node.tests_x() {
        (1 << A) | (1 << X)
    } else {
        1 << A
    }
}

/// Whether `s` may end the run (returning 0): packet loads that can be
/// out of bounds, division or modulo by a register that can be 0, scratch
/// indices out of range. Whether it actually can is for the caller to
/// decide from what is known.
pub(crate) fn may_abort(s: Stmt) -> bool {
    match s.code & 0x07 {
        op::LD | op::LDX => match s.code & 0xe0 {
            op::ABS | op::IND | op::MSH => true,
            op::MEM => s.k >= op::MEMWORDS,
            op::IMM | op::LEN => false,
            _ => true,
        },
        op::ST | op::STX => s.k >= op::MEMWORDS,
        op::ALU => matches!(s.code & 0xf0, op::DIV | op::MOD) && (s.code & op::X != 0 || s.k == 0),
        op::MISC => false,
        _ => true,
    }
}

/// For an absolute load (or `ldxb 4*([k]&0xf)`), how many bytes of the
/// packet it needs: a successful one proves the capture is at least that
/// long. `None` for other statements and for Linux's negative-offset and
/// metadata loads (which do not read the packet).
pub(crate) fn abs_extent(s: Stmt) -> Option<u32> {
    let size = match s.code {
        c if c == op::LD | op::ABS | op::W => 4,
        c if c == op::LD | op::ABS | op::H => 2,
        c if c == op::LD | op::ABS | op::B || c == op::LDX | op::MSH | op::B => 1,
        _ => return None,
    };
    // Offsets from 2^31 up are Linux's special areas.
    (s.k < 0x8000_0000).then(|| s.k + size)
}

/// Whether a statement is a conditional jump inside a block.
fn is_block_jump(code: u16) -> bool {
    code & 0x07 == op::JMP && code & 0xf0 != op::JA
}

/// Where the nodes of a block's statement list `list` start: at 0, after
/// each conditional jump and at each jump target. `None` if a jump goes
/// backwards, has no target in the list, or is an unconditional `ja` (only
/// `protochain`'s loop uses those).
fn split_points(cfg: &Cfg, list: &[StmtId]) -> Option<Vec<usize>> {
    let mut starts = vec![0];
    let n = list.len();
    for (i, &id) in list.iter().enumerate() {
        let s = cfg.s(id);
        if s.code & 0x07 != op::JMP {
            continue;
        }
        if !is_block_jump(s.code) {
            return None;
        }
        starts.push(i + 1);
        // (The layout ignores the targets of a jump in the second-to-last
        // place, so they need not exist.)
        if i + 2 == n {
            continue;
        }
        for t in [s.jt, s.jf] {
            let at = list.iter().position(|&x| Some(x) == t)?;
            if at <= i {
                return None;
            }
            starts.push(at);
        }
    }
    starts.sort_unstable();
    starts.dedup();
    // A jump that ends the list leaves an empty last stretch.
    if starts.last() == Some(&n) && n > 0 {
        starts.pop();
    }
    Some(starts)
}
