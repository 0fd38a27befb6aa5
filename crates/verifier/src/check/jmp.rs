//! Conditional jumps: scalar refinement, null checks and packet range learning.

use super::{Engine, Flow, Path, Res};
use crate::bounds::Scalar;
use crate::branch;
use crate::scalar_ops::{self, BinOp};
use crate::state::{RegState, RegType, State};
use bpfkit_isa::{Insn, JmpCond, Operand, Reg, Width};

/// Largest packet offset for which ranges are learned (the kernel's `MAX_PACKET_OFF`).
const MAX_PACKET_OFF: u64 = 0xffff;

/// Gives register `r` (whose link is `known`'s id and offset) the value set `v`, and every
/// scalar linked to it that value moved by the difference of their offsets.
fn set_scalar(st: &mut State, r: Option<Reg>, known: &RegState, v: Scalar) {
    if let Some(r) = r {
        st.cur_mut().regs[r.idx()].var = v;
    }
    if known.id != 0 {
        // The group's base value: 64-bit arithmetic, or 32-bit for a 32-bit offset (the
        // base then fits in 32 bits).
        let shift = |v: &Scalar, off: i64, in32: bool| {
            let width = if in32 { Width::W32 } else { Width::W64 };
            scalar_ops::binop(BinOp::Add, width, v, &Scalar::constant(off as u64))
        };
        let base = if known.off == 0 {
            v
        } else {
            shift(&v, -(known.off as i64), known.off32)
        };
        st.for_each_reg(|reg| {
            if reg.ty == RegType::Scalar && reg.id == known.id {
                reg.var = if reg.off == known.off && reg.off32 == known.off32 {
                    v
                } else if reg.off == 0 {
                    base
                } else {
                    shift(&base, reg.off as i64, reg.off32)
                };
            }
        });
    }
}

/// Resolves the null check of every pointer with `id`: NULL becomes the scalar 0
/// (releasing its reference), non-NULL drops the `_or_null`.
fn mark_null(st: &mut State, id: u32, is_null: bool) {
    let mut released = 0;
    st.for_each_reg(|reg| {
        if reg.nullable && reg.id == id {
            if is_null {
                released = reg.ref_id;
                *reg = RegState::scalar(Scalar::constant(0));
            } else {
                reg.nullable = false;
            }
        }
    });
    if released != 0 {
        st.refs.retain(|r| r.id != released);
    }
}

/// Raises the range of every packet pointer of type `ty` and id `id` to `range`.
fn set_range(st: &mut State, ty: RegType, id: u32, range: i32) {
    st.for_each_reg(|reg| {
        if reg.ty == ty && reg.id == id {
            reg.range = reg.range.max(range);
        }
    });
}

impl Engine<'_> {
    pub(super) fn check_jmp(&mut self, path: &mut Path, insn: &Insn) -> Res<Flow> {
        let Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } = *insn
        else {
            unreachable!("conditional jumps only")
        };
        let pc = path.pc;
        let target = (pc as i64 + 1 + off as i64) as usize;
        let d = self.read_reg(&path.state, pc, dst)?;
        let (s, src_reg) = match src {
            Operand::Reg(r) => (self.read_reg(&path.state, pc, r)?, Some(r)),
            Operand::Imm(i) => (RegState::scalar(Scalar::constant(i as i64 as u64)), None),
        };
        if d.ty == RegType::Scalar && s.ty == RegType::Scalar {
            // Refine first (cheap); clone the state only when both outcomes are possible.
            let apply = |st: &mut State, (a, b): (Scalar, Scalar)| {
                set_scalar(st, Some(dst), &d, a);
                if let Some(r) = src_reg {
                    set_scalar(st, Some(r), &s, b);
                }
            };
            let t = branch::refine(cond, width, &d.var, &s.var, true);
            let f = branch::refine(cond, width, &d.var, &s.var, false);
            if t.is_some() != f.is_some() {
                self.note_decided(pc);
            }
            return Ok(match (t, f) {
                (Some(t), Some(f)) => {
                    let mut taken = path.state.clone();
                    apply(&mut taken, t);
                    self.fork(path, target, taken);
                    apply(&mut path.state, f);
                    path.pc += 1;
                    Flow::Next
                }
                (Some(t), None) => {
                    apply(&mut path.state, t);
                    path.pc = target;
                    Flow::Next
                }
                (None, Some(f)) => {
                    apply(&mut path.state, f);
                    path.pc += 1;
                    Flow::Next
                }
                (None, None) => Flow::End,
            });
        }
        let (taken, fall) = self.pointer_branch(&path.state, width, cond, d, s);
        Ok(match (taken, fall) {
            (Some(t), Some(f)) => {
                self.fork(path, target, t);
                path.state = f;
                path.pc += 1;
                Flow::Next
            }
            (Some(t), None) => {
                path.state = t;
                path.pc = target;
                Flow::Next
            }
            (None, Some(f)) => {
                path.state = f;
                path.pc += 1;
                Flow::Next
            }
            (None, None) => Flow::End,
        })
    }

    /// Branches involving a pointer: null checks, packet bounds, or no information.
    fn pointer_branch(
        &mut self,
        st: &State,
        width: Width,
        cond: JmpCond,
        d: RegState,
        s: RegState,
    ) -> (Option<State>, Option<State>) {
        let both = || (Some(st.clone()), Some(st.clone()));
        // Pointer against the constant 0.
        let (ptr, other) = if d.ty.is_pointer() { (d, s) } else { (s, d) };
        if other.is_const(0) && matches!(cond, JmpCond::Eq | JmpCond::Ne) {
            if !ptr.nullable && width == Width::W64 {
                // Pointers we track are never NULL.
                let never_equal = (cond == JmpCond::Eq) as usize;
                return if never_equal == 1 {
                    (None, Some(st.clone()))
                } else {
                    (Some(st.clone()), None)
                };
            }
            if width == Width::W64 && ptr.id != 0 {
                let mut is_null = st.clone();
                mark_null(&mut is_null, ptr.id, true);
                let mut not_null = st.clone();
                mark_null(&mut not_null, ptr.id, false);
                return if cond == JmpCond::Eq {
                    (Some(is_null), Some(not_null))
                } else {
                    (Some(not_null), Some(is_null))
                };
            }
            return both();
        }
        if width == Width::W64 {
            if let Some(r) = self.packet_compare(st, cond, d, s) {
                return r;
            }
        }
        both()
    }

    /// `if pkt <op> pkt_end` (either order; also `pkt_meta` against `pkt`): the outcome
    /// where the pointer is below the end proves its bytes readable.
    fn packet_compare(
        &mut self,
        st: &State,
        cond: JmpCond,
        d: RegState,
        s: RegState,
    ) -> Option<(Option<State>, Option<State>)> {
        let bounded_by = |a: &RegState, e: &RegState| match (a.ty, e.ty) {
            (RegType::Packet, RegType::PacketEnd) => true,
            (RegType::PacketMeta, RegType::Packet) => e.off == 0 && e.var.as_const() == Some(0),
            _ => false,
        };
        // (pointer being bounded, it is on the left, condition)
        let (a, a_left) = if bounded_by(&d, &s) {
            (d, true)
        } else if bounded_by(&s, &d) {
            (s, false)
        } else {
            return None;
        };
        // Which outcome proves `a <= end` (range off) or `a < end` (range off + 1).
        use JmpCond::*;
        let (in_taken, strict) = match (cond, a_left) {
            (Gt, true) => (false, false),
            (Ge, true) => (false, true),
            (Lt, true) => (true, true),
            (Le, true) => (true, false),
            (Gt, false) => (true, true),
            (Ge, false) => (true, false),
            (Lt, false) => (false, false),
            (Le, false) => (false, true),
            _ => return None,
        };
        let mut learned = st.clone();
        let range = a.off as i64 + strict as i64;
        if a.off >= 0 && range > 0 && a.var.r64.umax.saturating_add(a.off as u64) <= MAX_PACKET_OFF
        {
            set_range(&mut learned, a.ty, a.id, range as i32);
        }
        Some(if in_taken {
            (Some(learned), Some(st.clone()))
        } else {
            (Some(st.clone()), Some(learned))
        })
    }
}
