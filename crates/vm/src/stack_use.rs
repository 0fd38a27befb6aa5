//! How much of each stack frame a program can reach, so engines zero only that part.
//!
//! A run's stack must read as zero where the program has not written it. Zeroing the
//! whole 512-byte frame costs more than running a short program, yet most programs only
//! touch a few slots below r10. When r10 is never read except as the base of a load, store
//! or atomic with a constant offset, and no helper is called (a helper may reach the stack
//! through the memory map), every stack byte the program can read lies in
//! `[r10 - need, r10)` of some frame, with `need` the deepest such access: zeroing those
//! bytes of each frame is indistinguishable from zeroing it all.

use bpfkit_isa::{CallTarget, Decoded, Insn, Operand, Reg, STACK_SIZE};

/// Bytes at the top of each frame that `insns` may access (`STACK_SIZE` when unknown).
pub(crate) fn stack_need(insns: &[Decoded]) -> usize {
    let mut need = 0usize;
    // An r10-based access `[r10 + off, r10 + off + size)`; anything outside the frame may
    // reach a caller's frame (legal in a callee) or fail: then be conservative.
    let mut access = |off: i16, size: usize| -> bool {
        let (lo, hi) = (off as i64, off as i64 + size as i64);
        if lo < -(STACK_SIZE as i64) || hi > 0 {
            return false;
        }
        need = need.max((-lo) as usize);
        true
    };
    for d in insns {
        let reads_r10_otherwise = match d.insn {
            Insn::Ldx { src, off, size, .. } => src == Reg::R10 && !access(off, size.bytes()),
            Insn::St { dst, off, size, .. } => dst == Reg::R10 && !access(off, size.bytes()),
            Insn::Stx {
                dst,
                src,
                off,
                size,
            } => src == Reg::R10 || (dst == Reg::R10 && !access(off, size.bytes())),
            Insn::Atomic {
                dst,
                src,
                off,
                size,
                ..
            } => src == Reg::R10 || (dst == Reg::R10 && !access(off, size.bytes())),
            Insn::Alu { dst, src, .. } => dst == Reg::R10 || src == Operand::Reg(Reg::R10),
            Insn::Jmp { dst, src, .. } => dst == Reg::R10 || src == Operand::Reg(Reg::R10),
            Insn::End { dst, .. } => dst == Reg::R10,
            Insn::LdInd { src, .. } => src == Reg::R10,
            // Helpers see the stack through the memory map; callbacks use deeper frames.
            Insn::Call(CallTarget::Helper(_) | CallTarget::Reg(_) | CallTarget::Kfunc(_)) => true,
            Insn::Call(CallTarget::Local(_))
            | Insn::Exit
            | Insn::Ja { .. }
            | Insn::LdImm64 { .. }
            | Insn::LdAbs { .. } => false,
        };
        if reads_r10_otherwise {
            return STACK_SIZE;
        }
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_isa::{AluOp, MemSize, Width};

    fn need(insns: &[Insn]) -> usize {
        let decoded: Vec<Decoded> = insns
            .iter()
            .enumerate()
            .map(|(pc, &insn)| Decoded { pc, insn })
            .collect();
        stack_need(&decoded)
    }

    fn stx(off: i16, size: MemSize) -> Insn {
        Insn::Stx {
            size,
            dst: Reg::R10,
            src: Reg::R1,
            off,
        }
    }

    #[test]
    fn deepest_constant_offset_access_sets_the_need() {
        assert_eq!(need(&[Insn::Exit]), 0);
        let ldx = Insn::Ldx {
            size: MemSize::W,
            signed: false,
            dst: Reg::R0,
            src: Reg::R10,
            off: -20,
        };
        assert_eq!(need(&[stx(-8, MemSize::DW), ldx, Insn::Exit]), 20);
        assert_eq!(need(&[stx(-512, MemSize::DW), Insn::Exit]), STACK_SIZE);
    }

    #[test]
    fn escaping_r10_helpers_and_accesses_leaving_the_frame_need_all_of_it() {
        let copy = Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R1,
            src: Operand::Reg(Reg::R10),
        };
        assert_eq!(need(&[copy, Insn::Exit]), STACK_SIZE);
        let helper = Insn::Call(CallTarget::Helper(1));
        assert_eq!(
            need(&[stx(-8, MemSize::DW), helper, Insn::Exit]),
            STACK_SIZE
        );
        // Crosses r10: in a callee this reaches the caller's frame.
        assert_eq!(need(&[stx(-4, MemSize::DW), Insn::Exit]), STACK_SIZE);
        assert_eq!(need(&[stx(-520, MemSize::B), Insn::Exit]), STACK_SIZE);
        let store_r10 = Insn::Stx {
            size: MemSize::DW,
            dst: Reg::R1,
            src: Reg::R10,
            off: 0,
        };
        assert_eq!(need(&[store_r10, Insn::Exit]), STACK_SIZE);
    }
}
