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
//! predecessors. Ancestors are found with skew-binary jump pointers (one
//! extra pointer per vertex, `O(log n)` steps per query), so a node with
//! thousands of predecessors far apart costs no more than that. `ret` nodes
//! are left out: nothing is decided below them.

use super::graph::{Graph, NodeId, Order};

/// Marker for "no vertex".
const NONE: u32 = u32::MAX;

/// The dominator tree of the graph with edge vertices (`ret` nodes left
/// out).
pub(crate) struct DomTree {
    nodes: usize,
    idom: Vec<u32>,
    depth: Vec<u32>,
    /// An ancestor further up (see `set_parent`).
    jump: Vec<u32>,
    /// Children of vertex `v`: `child[first[v]..first[v + 1]]`.
    first: Vec<u32>,
    child: Vec<u32>,
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

    /// The children of vertex `id`, in creation order.
    pub fn children(&self, id: u32) -> &[u32] {
        let (a, b) = (self.first[id as usize], self.first[id as usize + 1]);
        &self.child[a as usize..b as usize]
    }

    /// Links `v` below `parent`. The jump pointer skips a run of ancestors
    /// whose length only depends on the depth (skew-binary numbers), so
    /// vertices at equal depths jump to equal depths.
    fn set_parent(&mut self, v: u32, parent: u32) {
        let (p, vi) = (parent as usize, v as usize);
        self.idom[vi] = parent;
        self.depth[vi] = self.depth[p] + 1;
        let j = self.jump[p] as usize;
        let jj = self.jump[j] as usize;
        self.jump[vi] = if self.depth[p] - self.depth[j] == self.depth[j] - self.depth[jj] {
            jj as u32
        } else {
            parent
        };
    }

    /// The ancestor of `v` at depth `d` (at most `v`'s depth).
    fn ancestor_at(&self, mut v: u32, d: u32) -> u32 {
        while self.depth[v as usize] > d {
            let j = self.jump[v as usize];
            v = if self.depth[j as usize] >= d {
                j
            } else {
                self.idom[v as usize]
            };
        }
        v
    }

    /// Nearest common ancestor of `a` and `b`.
    fn nca(&self, a: u32, b: u32) -> u32 {
        let d = self.depth[a as usize].min(self.depth[b as usize]);
        let (mut a, mut b) = (self.ancestor_at(a, d), self.ancestor_at(b, d));
        while a != b {
            let (ja, jb) = (self.jump[a as usize], self.jump[b as usize]);
            if ja != jb {
                a = ja;
                b = jb;
            } else {
                a = self.idom[a as usize];
                b = self.idom[b as usize];
            }
        }
        a
    }

    /// The dominator tree of the reachable part of `g`.
    pub fn build(g: &Graph, order: &Order) -> DomTree {
        let nodes = g.nodes.len();
        let total = 3 * nodes;
        let mut t = DomTree {
            nodes,
            idom: vec![NONE; total],
            depth: vec![0; total],
            jump: vec![NONE; total],
            first: Vec::new(),
            child: Vec::new(),
        };
        t.jump[g.root as usize] = g.root;
        // Vertices in creation order (parents before children).
        let mut created: Vec<u32> = Vec::with_capacity(3 * order.nodes.len());
        for &v in &order.nodes {
            let node = g.node(v);
            if node.is_ret() {
                continue;
            }
            if v != g.root {
                let mut idom = NONE;
                for &(p, taken) in order.preds(v) {
                    let e = t.id(Vertex::Edge(p, taken));
                    idom = if idom == NONE { e } else { t.nca(idom, e) };
                }
                t.set_parent(v, idom);
            }
            created.push(v);
            for taken in [true, false] {
                let e = t.id(Vertex::Edge(v, taken));
                t.set_parent(e, v);
                created.push(e);
            }
        }
        // Children lists, compressed.
        let mut count = vec![0u32; total + 1];
        for &c in &created {
            let p = t.idom[c as usize];
            if p != NONE {
                count[p as usize + 1] += 1;
            }
        }
        for i in 0..total {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut child = vec![0u32; created.len()];
        for &c in &created {
            let p = t.idom[c as usize];
            if p != NONE {
                child[fill[p as usize] as usize] = c;
                fill[p as usize] += 1;
            }
        }
        t.first = count;
        t.child = child;
        t
    }
}
