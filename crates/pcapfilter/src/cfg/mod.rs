//! The control-flow graph that code generation builds and the (future)
//! optimizer rewrites.
//!
//! Blocks and statements live in arenas and are named by [`BlockId`] and
//! [`StmtId`]. A block is a list of straight-line statements followed by one
//! branch (a conditional jump with true/false successors, or a `ret`).
//! Statement lists are singly linked through [`Stmt::next`] because code
//! generation splices lists together the way libpcap does, and the layout
//! of the unoptimized program depends on those exact splices.
//!
//! While an expression is being built, its not-yet-resolved exits are kept
//! as a linked list threaded through the blocks' own successor fields:
//! [`Block::sense`] says which field (`jt` when false, `jf` when true) holds
//! the link. [`Cfg::and`], [`Cfg::or`] and [`Cfg::not`] combine expressions
//! by patching those lists, as in the original BPF compiler.

mod linearize;

/// Index of a block in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

/// Index of a statement in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StmtId(pub u32);

/// One straight-line instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// Opcode.
    pub code: u16,
    /// Operand.
    pub k: u32,
    /// For a jump inside a statement list: the statement reached when true.
    pub jt: Option<StmtId>,
    /// For a jump inside a statement list: the statement reached when false.
    pub jf: Option<StmtId>,
    /// The next statement of the list.
    pub next: Option<StmtId>,
    /// Deleted (by an optimizer); not emitted.
    pub nop: bool,
}

/// A basic block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// First statement, if any.
    pub stmts: Option<StmtId>,
    /// Opcode of the final branch (`jmp`-class or `ret`).
    pub code: u16,
    /// Operand of the final branch.
    pub k: u32,
    /// Successor when the branch is taken (or exit-list link, see module docs).
    pub jt: Option<BlockId>,
    /// Successor when the branch is not taken (or exit-list link).
    pub jf: Option<BlockId>,
    /// Which successor field carries the exit-list link while building.
    pub sense: bool,
    /// Entry block of the expression this block currently represents.
    pub head: BlockId,
    /// Layout: a `ja` must follow to reach the true successor.
    pub(crate) long_jt: bool,
    /// Layout: a `ja` must follow to reach the false successor.
    pub(crate) long_jf: bool,
}

/// The arena of blocks and statements.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    blocks: Vec<Block>,
    stmts: Vec<Stmt>,
}

impl Cfg {
    /// An empty graph.
    pub fn new() -> Cfg {
        Cfg::default()
    }

    /// A new statement.
    pub fn stmt(&mut self, code: u16, k: u32) -> StmtId {
        let id = StmtId(self.stmts.len() as u32);
        self.stmts.push(Stmt {
            code,
            k,
            jt: None,
            jf: None,
            next: None,
            nop: false,
        });
        id
    }

    /// A new block with branch `code`/`k` and no statements.
    pub fn block(&mut self, code: u16, k: u32) -> BlockId {
        let id = BlockId(self.blocks.len() as u32);
        self.blocks.push(Block {
            stmts: None,
            code,
            k,
            jt: None,
            jf: None,
            sense: false,
            head: id,
            long_jt: false,
            long_jf: false,
        });
        id
    }

    /// A new block whose statements are the list starting at `stmts`.
    pub fn block_with(&mut self, code: u16, k: u32, stmts: StmtId) -> BlockId {
        let b = self.block(code, k);
        self.blocks[b.0 as usize].stmts = Some(stmts);
        b
    }

    /// Read access to a statement.
    pub fn s(&self, id: StmtId) -> &Stmt {
        &self.stmts[id.0 as usize]
    }

    /// Write access to a statement.
    pub fn s_mut(&mut self, id: StmtId) -> &mut Stmt {
        &mut self.stmts[id.0 as usize]
    }

    /// Read access to a block.
    pub fn b(&self, id: BlockId) -> &Block {
        &self.blocks[id.0 as usize]
    }

    /// Write access to a block.
    pub fn b_mut(&mut self, id: BlockId) -> &mut Block {
        &mut self.blocks[id.0 as usize]
    }

    /// Number of blocks ever created.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The statements of the list starting at `first`, in order.
    pub fn list(&self, first: Option<StmtId>) -> Vec<StmtId> {
        let mut out = Vec::new();
        let mut cur = first;
        while let Some(s) = cur {
            out.push(s);
            cur = self.s(s).next;
        }
        out
    }

    /// Appends list `tail` to the end of the list starting at `list`.
    pub fn append(&mut self, list: StmtId, tail: Option<StmtId>) {
        let mut last = list;
        while let Some(next) = self.s(last).next {
            last = next;
        }
        self.s_mut(last).next = tail;
    }

    /// `list` followed by `tail`, where either may be empty.
    pub fn concat(&mut self, list: Option<StmtId>, tail: Option<StmtId>) -> Option<StmtId> {
        match list {
            Some(l) => {
                self.append(l, tail);
                Some(l)
            }
            None => tail,
        }
    }

    /// The exit-list link field of `b`.
    fn link(&self, b: BlockId) -> Option<BlockId> {
        let blk = self.b(b);
        if blk.sense {
            blk.jf
        } else {
            blk.jt
        }
    }

    fn set_link(&mut self, b: BlockId, to: Option<BlockId>) {
        let blk = self.b_mut(b);
        if blk.sense {
            blk.jf = to;
        } else {
            blk.jt = to;
        }
    }

    /// Points every exit on the list starting at `list` to `target`.
    pub fn backpatch(&mut self, list: BlockId, target: BlockId) {
        let mut cur = Some(list);
        while let Some(b) = cur {
            cur = self.link(b);
            self.set_link(b, Some(target));
        }
    }

    /// Appends exit list `b1` to the end of exit list `b0`.
    fn merge(&mut self, b0: BlockId, b1: BlockId) {
        let mut p = b0;
        while let Some(next) = self.link(p) {
            p = next;
        }
        self.set_link(p, Some(b1));
    }

    /// `b0 and b1`; the result is represented by `b1`.
    pub fn and(&mut self, b0: BlockId, b1: BlockId) {
        let b1_head = self.b(b1).head;
        self.backpatch(b0, b1_head);
        self.not(b0);
        self.not(b1);
        self.merge(b1, b0);
        self.not(b1);
        self.b_mut(b1).head = self.b(b0).head;
    }

    /// `b0 or b1`; the result is represented by `b1`.
    pub fn or(&mut self, b0: BlockId, b1: BlockId) {
        let b1_head = self.b(b1).head;
        self.not(b0);
        self.backpatch(b0, b1_head);
        self.not(b0);
        self.merge(b1, b0);
        self.b_mut(b1).head = self.b(b0).head;
    }

    /// Negates the expression represented by `b`.
    pub fn not(&mut self, b: BlockId) {
        let blk = self.b_mut(b);
        blk.sense = !blk.sense;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_cbpf::op;

    /// Atom `i`: bit `i` of the first packet byte is set.
    fn atom(cfg: &mut Cfg, i: u32) -> BlockId {
        let s = cfg.stmt(op::LD | op::ABS | op::B, 0);
        cfg.block_with(op::JMP | op::JSET | op::K, 1 << i, s)
    }

    /// Closes `b` with accept (1) / reject (0) returns and lays it out.
    fn finish(cfg: &mut Cfg, b: BlockId) -> Vec<bpfkit_cbpf::Insn> {
        let accept = cfg.block(op::RET | op::K, 1);
        cfg.backpatch(b, accept);
        cfg.not(b);
        let reject = cfg.block(op::RET | op::K, 0);
        cfg.backpatch(b, reject);
        let root = cfg.b(b).head;
        cfg.linearize(root).unwrap()
    }

    /// Every combination of three atoms under and/or/not evaluates like the
    /// boolean formula it was built from, for all eight inputs.
    #[test]
    fn exit_list_patching_implements_boolean_logic() {
        type Formula = fn(bool, bool, bool) -> bool;
        let cases: [(&str, Formula); 6] = [
            ("a and b and c", |a, b, c| a && b && c),
            ("a or b and c", |a, b, c| (a || b) && c),
            ("not a or b", |a, b, _| !a || b),
            ("a and not (b or c)", |a, b, c| a && !(b || c)),
            ("not (a and b) or c", |a, b, c| !(a && b) || c),
            ("not not a and c", |a, _, c| a && c),
        ];
        for (name, formula) in cases {
            let mut cfg = Cfg::new();
            let (a, b, c) = (atom(&mut cfg, 0), atom(&mut cfg, 1), atom(&mut cfg, 2));
            let root = match name {
                "a and b and c" => {
                    cfg.and(a, b);
                    cfg.and(b, c);
                    c
                }
                "a or b and c" => {
                    cfg.or(a, b);
                    cfg.and(b, c);
                    c
                }
                "not a or b" => {
                    cfg.not(a);
                    cfg.or(a, b);
                    b
                }
                "a and not (b or c)" => {
                    cfg.or(b, c);
                    cfg.not(c);
                    cfg.and(a, c);
                    c
                }
                "not (a and b) or c" => {
                    cfg.and(a, b);
                    cfg.not(b);
                    cfg.or(b, c);
                    c
                }
                _ => {
                    cfg.not(a);
                    cfg.not(a);
                    cfg.and(a, c);
                    c
                }
            };
            let prog = finish(&mut cfg, root);
            for bits in 0u8..8 {
                let want = formula(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                let got = bpfkit_cbpf::run(&prog, &[bits], 1) != 0;
                assert_eq!(got, want, "{name} on {bits:03b}");
            }
        }
    }

    /// A branch more than 255 instructions back gets a `ja` trampoline.
    #[test]
    fn far_branches_get_trampolines() {
        let mut cfg = Cfg::new();
        let first = atom(&mut cfg, 0);
        // A long run of statements between the test and the returns.
        let filler = cfg.stmt(op::LD | op::IMM, 0);
        for _ in 0..300 {
            let s = cfg.stmt(op::LD | op::IMM, 0);
            cfg.append(filler, Some(s));
        }
        let second = cfg.block_with(op::JMP | op::JEQ | op::K, 0, filler);
        cfg.and(first, second);
        let prog = finish(&mut cfg, second);
        assert_eq!(prog[1].code, op::JMP | op::JSET | op::K);
        assert_eq!(
            prog[2].code,
            op::JMP | op::JA,
            "trampoline after the far branch"
        );
        assert_eq!(bpfkit_cbpf::run(&prog, &[1], 1), 1);
        assert_eq!(bpfkit_cbpf::run(&prog, &[0], 1), 0);
    }
}
