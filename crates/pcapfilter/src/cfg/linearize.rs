//! Layout of a graph as a linear BPF program.
//!
//! The layout is libpcap's: blocks are placed from the end of the program
//! backwards in a depth-first post-order that visits the false successor
//! before the true one, so each block is followed by its true branch's
//! code. Branch offsets are 8 bits; a branch that cannot reach its target
//! gets an extra `ja` after it, which shifts everything, so layout is
//! repeated until no new long branch is discovered.

use super::{BlockId, Cfg};
use crate::error::CompileError;
use bpfkit_cbpf::{op, Insn};

/// Why one layout attempt stopped.
enum Attempt {
    /// A branch needs an extra `ja`; it has been marked, try again.
    Retry,
    /// The program cannot be laid out.
    Fail(CompileError),
}

impl Cfg {
    /// The program for the graph reachable from `root`.
    pub fn linearize(&mut self, root: BlockId) -> Result<Vec<Insn>, CompileError> {
        loop {
            match self.try_layout(root) {
                Ok(prog) => return Ok(prog),
                Err(Attempt::Retry) => continue,
                Err(Attempt::Fail(e)) => return Err(e),
            }
        }
    }

    /// Blocks reachable from `root` in placement order (post-order, false
    /// successor first); each appears once.
    pub fn post_order(&self, root: BlockId) -> Vec<BlockId> {
        enum Step {
            Visit(BlockId),
            Place(BlockId),
        }
        let mut seen = vec![false; self.block_count()];
        let mut order = Vec::new();
        let mut stack = vec![Step::Visit(root)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Visit(b) => {
                    if std::mem::replace(&mut seen[b.0 as usize], true) {
                        continue;
                    }
                    stack.push(Step::Place(b));
                    let blk = self.b(b);
                    // Pushed last, popped first: the false branch is laid out first.
                    if let Some(t) = blk.jt {
                        stack.push(Step::Visit(t));
                    }
                    if let Some(f) = blk.jf {
                        stack.push(Step::Visit(f));
                    }
                }
                Step::Place(b) => order.push(b),
            }
        }
        order
    }

    /// Emitted statements of `b` (deleted ones excluded).
    fn live_len(&self, b: BlockId) -> usize {
        self.list(self.b(b).stmts)
            .into_iter()
            .filter(|&s| !self.s(s).nop)
            .count()
    }

    fn try_layout(&mut self, root: BlockId) -> Result<Vec<Insn>, Attempt> {
        let order = self.post_order(root);
        let size = |cfg: &Cfg, b: BlockId| {
            let blk = cfg.b(b);
            cfg.live_len(b) + 1 + usize::from(blk.long_jt) + usize::from(blk.long_jf)
        };
        let total: usize = order.iter().map(|&b| size(self, b)).sum();
        let mut prog = vec![Insn::default(); total];
        let mut offset = vec![0usize; self.block_count()];
        let mut tail = total;
        // Newly found long branches are all marked in one pass (marks only
        // grow and each is justified by distances that can only increase,
        // so the final layout is the same as restarting at the first one,
        // as libpcap does, without its quadratic cost).
        let mut remark = false;
        for &b in &order {
            tail -= size(self, b);
            offset[b.0 as usize] = tail;
            let slen = self.live_len(b);
            self.emit_statements(b, &mut prog[tail..tail + slen])?;
            let at = tail + slen;
            let blk = self.b(b).clone();
            prog[at].code = blk.code;
            prog[at].k = blk.k;
            let (Some(jt), Some(jf)) = (blk.jt, blk.jf) else {
                continue;
            };
            let mut extra = 0usize;
            for (target, is_true) in [(jt, true), (jf, false)] {
                let off = offset[target.0 as usize] - at - 1;
                let field = if off >= 256 {
                    let marked = if is_true { blk.long_jt } else { blk.long_jf };
                    if !marked {
                        let blk = self.b_mut(b);
                        if is_true {
                            blk.long_jt = true;
                        } else {
                            blk.long_jf = true;
                        }
                        remark = true;
                        continue;
                    }
                    let skip = extra as u8;
                    extra += 1;
                    prog[at + extra] = Insn::stmt(op::JMP | op::JA, (off - extra) as u32);
                    skip
                } else {
                    off as u8
                };
                if is_true {
                    prog[at].jt = field;
                } else {
                    prog[at].jf = field;
                }
            }
        }
        if remark {
            return Err(Attempt::Retry);
        }
        Ok(prog)
    }

    /// Writes the statements of `b` into `out`, resolving jumps between
    /// statements of the same list.
    fn emit_statements(&self, b: BlockId, out: &mut [Insn]) -> Result<(), Attempt> {
        let all = self.list(self.b(b).stmts);
        let slen = out.len();
        // Positions are those of the raw list, as in libpcap.
        let position = |target: Option<crate::cfg::StmtId>| {
            all.iter().take(slen).position(|&s| Some(s) == target)
        };
        let fail = |index: usize, message: &str| {
            Attempt::Fail(CompileError::Layout {
                index,
                message: format!("{message} for block-local relative jump"),
            })
        };
        let mut off = 0usize;
        for &id in &all {
            let s = self.s(id);
            if s.nop {
                continue;
            }
            let insn = &mut out[off];
            insn.code = s.code;
            insn.k = s.k;
            let is_cond_jump = s.code & 0x07 == op::JMP && s.code != (op::JMP | op::JA);
            // libpcap leaves the second-to-last statement's jump offsets alone.
            if is_cond_jump && off != slen.wrapping_sub(2) {
                if s.jt.is_none() || s.jf.is_none() {
                    return Err(fail(off, "no jmp destination"));
                }
                let rel = |i: usize| i.wrapping_sub(off).wrapping_sub(1);
                let (Some(t), Some(f)) = (position(s.jt), position(s.jf)) else {
                    return Err(fail(off, "no destination found"));
                };
                if rel(t) >= 256 || rel(f) >= 256 {
                    return Err(fail(off, "out-of-range jump"));
                }
                insn.jt = rel(t) as u8;
                insn.jf = rel(f) as u8;
            }
            off += 1;
        }
        Ok(())
    }
}
