//! Values known at compile time just before an instruction, from the straight-line code
//! before it in its block: a constant in a register (`mov r3, 2`), a stack address
//! (`r2 = r10; r2 += -4`) and a 32-bit constant stored there (`*(u32 *)(r10 - 4) = r1`
//! with `r1 = 0`). This is how `bpf_tail_call(ctx, &jump, 2)` and
//! `bpf_map_lookup_elem(&array, &zero)` name their slot; the emitter reads the slot's
//! address directly where it knows it.
//!
//! The scan stops where control may come from elsewhere (a block start) and at calls and
//! packet loads, which may change registers or memory it cannot see; a store through any
//! base but r10 ends it too (it may reach the stack through a copied pointer).

use crate::usage::{bit, written};
use bpfkit_isa::{AluOp, Insn, Operand, Reg, Width};

/// What a register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// This 64-bit value.
    Constant(u64),
    /// r10 plus this offset.
    Stack(i64),
}

/// Straight-line code ending before instruction `at`.
pub(crate) struct Before<'a> {
    insns: &'a [Insn],
    /// Whether control may reach an instruction from elsewhere than the one before it.
    block_start: &'a dyn Fn(usize) -> bool,
}

impl<'a> Before<'a> {
    pub(crate) fn new(insns: &'a [Insn], block_start: &'a dyn Fn(usize) -> bool) -> Self {
        Before { insns, block_start }
    }

    /// The instructions that certainly ran just before `at`, nearest first.
    fn straight_line(&self, at: usize) -> impl Iterator<Item = (usize, Insn)> + '_ {
        (0..at.min(self.insns.len()))
            .rev()
            .take_while(move |&i| !(self.block_start)(i + 1))
            .map(|i| (i, self.insns[i]))
            .take_while(|(_, insn)| {
                !matches!(
                    insn,
                    Insn::Call(_) | Insn::LdAbs { .. } | Insn::LdInd { .. }
                )
            })
    }

    /// What `reg` holds just before instruction `at`, if known.
    pub(crate) fn register(&self, at: usize, reg: Reg) -> Option<Known> {
        if reg == Reg::R10 {
            return Some(Known::Stack(0));
        }
        let (i, insn) = self
            .straight_line(at)
            .find(|(_, insn)| written(insn) & bit(reg) != 0)?;
        let Insn::Alu {
            width,
            op,
            dst,
            src,
        } = insn
        else {
            return None;
        };
        debug_assert_eq!(dst, reg);
        match (op, src) {
            (AluOp::Mov, Operand::Imm(k)) => Some(Known::Constant(match width {
                Width::W64 => k as i64 as u64,
                Width::W32 => k as u32 as u64,
            })),
            (AluOp::Mov, Operand::Reg(r)) if width == Width::W64 => self.register(i, r),
            (AluOp::Add, Operand::Imm(k)) if width == Width::W64 => match self.register(i, reg)? {
                Known::Constant(v) => Some(Known::Constant(v.wrapping_add(k as i64 as u64))),
                Known::Stack(off) => Some(Known::Stack(off + k as i64)),
            },
            _ => None,
        }
    }

    /// The 32-bit value at `[r10 + off]` just before instruction `at`, where a 4-byte store
    /// of a known constant in straight-line code put it there.
    pub(crate) fn stack_u32(&self, at: usize, off: i64) -> Option<u32> {
        for (i, insn) in self.straight_line(at) {
            let (size, dst, store_off, value) = match insn {
                Insn::St {
                    size,
                    dst,
                    off,
                    imm,
                } => (size, dst, off, Some(imm as u32)),
                Insn::Stx {
                    size,
                    dst,
                    src,
                    off,
                } => (size, dst, off, self.constant(i, src).map(|v| v as u32)),
                Insn::Atomic { .. } => return None,
                _ => continue,
            };
            if dst != Reg::R10 {
                return None;
            }
            let (from, to) = (store_off as i64, store_off as i64 + size.bytes() as i64);
            if to <= off || from >= off + 4 {
                continue;
            }
            return match from == off && to == off + 4 {
                true => value,
                false => None,
            };
        }
        None
    }

    /// The constant `reg` holds just before instruction `at`, if known.
    pub(crate) fn constant(&self, at: usize, reg: Reg) -> Option<u64> {
        match self.register(at, reg)? {
            Known::Constant(v) => Some(v),
            Known::Stack(_) => None,
        }
    }

    /// The 32-bit key a helper call at `at` finds at r2, where r2 points at a known
    /// constant on the stack (`bpf_map_lookup_elem(&map, &zero)`).
    pub(crate) fn stack_key_u32(&self, at: usize) -> Option<u32> {
        match self.register(at, Reg::R2)? {
            Known::Stack(off) => self.stack_u32(at, off),
            Known::Constant(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(src: &str) -> Vec<Insn> {
        bpfkit_asm::assemble(src).unwrap()
    }

    /// The facts before the last instruction of `src`, with blocks starting at `starts`.
    fn facts(src: &str, starts: &[usize]) -> (Option<u64>, Option<u32>) {
        let insns = text(src);
        let block_start = |i: usize| starts.contains(&i);
        let before = Before::new(&insns, &block_start);
        let at = insns.len() - 1;
        (before.constant(at, Reg::R3), before.stack_key_u32(at))
    }

    #[test]
    fn constants_and_stack_keys_in_straight_line_code() {
        let lookup =
            "mov %r1, 2\nstxw [%r10-4], %r1\nmov %r2, %r10\nadd %r2, -4\nmov %r3, 7\ncall 1";
        assert_eq!(facts(lookup, &[]), (Some(7), Some(2)));
        // A 32-bit mov zero-extends, a 64-bit one sign-extends.
        assert_eq!(facts("mov32 %r3, -1\ncall 1", &[]).0, Some(0xffff_ffff));
        assert_eq!(facts("mov %r3, -1\ncall 1", &[]).0, Some(u64::MAX));
        // Through a copy and an addition.
        assert_eq!(
            facts("mov %r4, 5\nmov %r3, %r4\nadd %r3, 1\ncall 1", &[]).0,
            Some(6)
        );
        // A store of an immediate, the address built in another register first.
        let st = "stw [%r10-8], 9\nmov %r5, %r10\nadd %r5, -8\nmov %r2, %r5\ncall 1";
        assert_eq!(facts(st, &[]).1, Some(9));
    }

    #[test]
    fn what_the_scan_cannot_see_is_unknown() {
        // A block start between the set-up and the call.
        let lookup =
            "mov %r1, 2\nstxw [%r10-4], %r1\nmov %r2, %r10\nadd %r2, -4\nmov %r3, 7\ncall 1";
        assert_eq!(facts(lookup, &[5]), (None, None));
        assert_eq!(facts(lookup, &[2]), (Some(7), None));
        // A later partial overwrite of the key, a wider store, a store through r2, an
        // atomic, a call in between.
        for after in [
            "stb [%r10-3], 1",
            "stdw [%r10-8], 1",
            "stb [%r2+0], 1",
            "mov %r0, 1\nlock add32 [%r10-4], %r0",
            "call 5",
        ] {
            let src = format!("stw [%r10-4], 2\nmov %r2, %r10\nadd %r2, -4\n{after}\ncall 1");
            assert_eq!(facts(&src, &[]).1, None, "{after}");
        }
        // Stores elsewhere on the stack do not matter.
        let src =
            "stw [%r10-4], 2\nstw [%r10-8], 3\nstb [%r10-9], 4\nmov %r2, %r10\nadd %r2, -4\ncall 1";
        assert_eq!(facts(src, &[]).1, Some(2));
        // Values not from a constant: loaded, computed, 32-bit additions.
        for set in [
            "ldxw %r3, [%r1+0]",
            "mov %r3, 1\nmul %r3, 3",
            "mov %r3, 1\nadd32 %r3, 1",
        ] {
            assert_eq!(facts(&format!("{set}\ncall 1"), &[]).0, None, "{set}");
        }
    }
}
