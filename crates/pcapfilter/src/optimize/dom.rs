//! Dominators of nodes and of branch edges.
//!
//! Every edge (a node's true or false branch) gets a vertex of its own
//! between the node and its successor, so "every path to X passes through
//! this branch taken this way" is ordinary dominance in that graph. What a
//! dominating edge proves (its comparison had that outcome) then holds at
//! every vertex below it in the dominator tree.
//!
//! The graph is acyclic, so one pass in topological order computes the
//! immediate dominator of each vertex as the nearest common ancestor of its
//! predecessors; ancestors are found by binary lifting, which keeps the
//! whole computation at O(E log V).

use super::graph::{Graph, NodeId, Order};

/// Marker for "no vertex".
const NONE: u32 = u32::MAX;

/// The dominator tree of the graph with edge vertices.
pub(crate) struct DomTree {
    nodes: usize,
    depth: Vec<u32>,
    /// `up[j][v]`: the `2^j`-th ancestor of `v` (the root is its own).
    up: Vec<Vec<u32>>,
    /// Children of each vertex, in creation order.
    pub children: Vec<Vec<u32>>,
}

/// A vertex of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vertex {
    Node(NodeId),
    /// The branch of the node taken on this outcome.
    Edge(NodeId, bool),
}

impl DomTree {
    /// The vertex number of node `v` or of one of its edges.
    pub fn id(&self, x: Vertex) -> u32 {
        match x {
            Vertex::Node(v) => v,
            Vertex::Edge(v, taken) => self.nodes as u32 + 2 * v + u32::from(taken),
        }
    }

    /// What vertex number `id` stands for.
    pub fn vertex(&self, id: u32) -> Vertex {
        let n = self.nodes as u32;
        if id < n {
            Vertex::Node(id)
        } else {
            Vertex::Edge((id - n) / 2, (id - n) % 2 == 1)
        }
    }

    fn set_parent(&mut self, v: u32, parent: u32) {
        self.depth[v as usize] = self.depth[parent as usize] + 1;
        self.up[0][v as usize] = parent;
        for j in 1..self.up.len() {
            let mid = self.up[j - 1][v as usize];
            self.up[j][v as usize] = self.up[j - 1][mid as usize];
        }
        self.children[parent as usize].push(v);
    }

    /// Nearest common ancestor of `a` and `b`.
    fn nca(&self, mut a: u32, mut b: u32) -> u32 {
        if self.depth[a as usize] < self.depth[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        let diff = self.depth[a as usize] - self.depth[b as usize];
        for j in 0..self.up.len() {
            if diff & (1 << j) != 0 {
                a = self.up[j][a as usize];
            }
        }
        if a == b {
            return a;
        }
        for j in (0..self.up.len()).rev() {
            let (pa, pb) = (self.up[j][a as usize], self.up[j][b as usize]);
            if pa != pb {
                a = pa;
                b = pb;
            }
        }
        self.up[0][a as usize]
    }

    /// The dominator tree of the reachable part of `g`.
    pub fn build(g: &Graph, order: &Order) -> DomTree {
        let nodes = g.nodes.len();
        let total = 3 * nodes;
        let levels = (usize::BITS - total.max(2).leading_zeros()) as usize + 1;
        let mut t = DomTree {
            nodes,
            depth: vec![0; total],
            up: vec![vec![NONE; total]; levels],
            children: vec![Vec::new(); total],
        };
        for j in 0..levels {
            t.up[j][g.root as usize] = g.root;
        }
        for &v in &order.nodes {
            if v != g.root {
                let mut idom = NONE;
                for &(p, taken) in &order.preds[v as usize] {
                    let e = t.id(Vertex::Edge(p, taken));
                    idom = if idom == NONE { e } else { t.nca(idom, e) };
                }
                t.set_parent(v, idom);
            }
            let node = g.node(v);
            if !node.is_ret() {
                for taken in [true, false] {
                    let e = t.id(Vertex::Edge(v, taken));
                    t.set_parent(e, v);
                }
            }
        }
        t
    }
}
