//! Dead stack stores: a store to the stack whose bytes no later load of the same frame can
//! read is not emitted (unchecked code).
//!
//! Where `forward` turns the reloads of a spilled register into moves, the spill itself
//! often has no reader left, and a store the program makes before it exits has none at
//! all. Stores cost issue slots in the tightest loops, where the front end is the limit.
//!
//! The same conditions as forwarding hold (every stack access is r10-relative at a
//! constant offset, no helper call), so loads and stores name their bytes exactly and only
//! the frame's own code reaches them. A backward analysis per block finds the bytes a later
//! load may read (a forwarded load reads none, an atomic operation reads its operand); a
//! local call reads none of its caller's frame (the callee has its own). A frame ends at its
//! function's exit, except where the program may read stack bytes it did not write
//! ([`Plan::zero_need`] not 0): a callee's frame then keeps what it held for the next call
//! at the same depth, as in the interpreter, and a function's exit reads every byte.

use crate::compile::Plan;
use bpfkit_isa::{Insn, MemSize, Reg, STACK_SIZE};

/// Bytes of one frame, bit `b` for the byte at `r10 - STACK_SIZE + b`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Bytes([u64; STACK_SIZE / 64]);

impl Bytes {
    const ALL: Bytes = Bytes([u64::MAX; STACK_SIZE / 64]);

    fn range(off: i16, size: MemSize) -> Bytes {
        let mut set = Bytes::default();
        let lo = off as i64 + STACK_SIZE as i64;
        for b in lo..lo + size.bytes() as i64 {
            // Outside the frame only if the program reaches beyond it (excluded before).
            if let Ok(b) = usize::try_from(b) {
                if b < STACK_SIZE {
                    set.0[b / 64] |= 1 << (b % 64);
                }
            }
        }
        set
    }

    fn union(self, other: Bytes) -> Bytes {
        Bytes(std::array::from_fn(|w| self.0[w] | other.0[w]))
    }

    fn minus(self, other: Bytes) -> Bytes {
        Bytes(std::array::from_fn(|w| self.0[w] & !other.0[w]))
    }

    fn meets(self, other: Bytes) -> bool {
        (0..self.0.len()).any(|w| self.0[w] & other.0[w] != 0)
    }
}

/// Passes over the blocks before the analysis gives up (no store is then dropped).
const MAX_PASSES: usize = 32;

/// Per instruction of `plan` (final, its forwarded loads decided): whether it is a store to
/// the stack no load can read. All false unless the plan's conditions for it hold.
pub(crate) fn dead_stores(plan: &Plan) -> Vec<bool> {
    let n = plan.insns.len();
    let mut dead = vec![false; n];
    if plan.stack_need >= STACK_SIZE || plan.in_function.len() != n {
        return dead;
    }
    let exit_reads = |i: usize| match plan.in_function[i] && plan.zero_need > 0 {
        true => Bytes::ALL,
        false => Bytes::default(),
    };
    // Walks block `b` backwards from the bytes live after it; marks dead stores if asked.
    let walk = |b: usize, mut live: Bytes, dead: Option<&mut Vec<bool>>| -> Bytes {
        let block = plan.blocks[b];
        let (first, end) = (block.first as usize, (block.first + block.len) as usize);
        let mut dead = dead;
        for i in (first..end).rev() {
            match plan.insns[i].insn {
                Insn::Exit => live = exit_reads(i),
                Insn::Ldx {
                    src: Reg::R10,
                    off,
                    size,
                    ..
                } if plan.forwarded[i].is_none() => live = live.union(Bytes::range(off, size)),
                Insn::Atomic {
                    dst: Reg::R10,
                    off,
                    size,
                    ..
                } => live = live.union(Bytes::range(off, size)),
                Insn::St {
                    dst: Reg::R10,
                    off,
                    size,
                    ..
                }
                | Insn::Stx {
                    dst: Reg::R10,
                    off,
                    size,
                    ..
                } => {
                    let bytes = Bytes::range(off, size);
                    if let Some(dead) = dead.as_deref_mut() {
                        dead[i] = !live.meets(bytes);
                    }
                    live = live.minus(bytes);
                }
                _ => {}
            }
        }
        live
    };
    let successors = |b: usize| {
        let block = plan.blocks[b];
        plan.successors((block.first + block.len - 1) as usize)
    };
    let mut live_in = vec![Bytes::default(); plan.blocks.len()];
    let live_out = |b: usize, live_in: &[Bytes]| {
        successors(b)
            .into_iter()
            .flatten()
            .fold(Bytes::default(), |set, s| {
                // (Control only ever goes to the start of a block; anywhere else, assume all.)
                set.union(plan.block_at(s).map_or(Bytes::ALL, |s| live_in[s as usize]))
            })
    };
    let mut settled = false;
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        for b in (0..plan.blocks.len()).rev() {
            let live = walk(b, live_out(b, &live_in), None);
            if live != live_in[b] {
                live_in[b] = live;
                changed = true;
            }
        }
        if !changed {
            settled = true;
            break;
        }
    }
    if settled {
        for b in 0..plan.blocks.len() {
            walk(b, live_out(b, &live_in), Some(&mut dead));
        }
    }
    dead
}
