//! Static analyses that tell state pruning what it may ignore, per slot:
//!
//! - [`live_in`]: registers that may be read before being written (a dead value cannot make
//!   a path unsafe). Stack bytes are compared in full (no stack liveness yet).
//! - [`may_be_pointer`]: registers that may hold a pointer (a forward pass).
//! - [`precision`]: registers and stack slots whose exact value may matter later (an
//!   address, a helper argument, a return value, a decided jump), across bpf-to-bpf calls
//!   through per-function summaries; `+=`/`-=` of two registers make both operands matter
//!   only when one may be a pointer. Other scalars are pruned as "any number".

use crate::cfg::Cfg;
use bpfkit_isa::{AluOp, AtomicOp, CallTarget, Insn, Operand};

/// Bit set of registers r0..r10.
pub type RegSet = u16;

const ARGS: RegSet = 0b111110; // r1-r5
const CALLER_SAVED: RegSet = 0b111111; // r0-r5

fn bit(r: bpfkit_isa::Reg) -> RegSet {
    1 << r.num()
}

/// (used, defined) registers of one instruction; `helper_args` gives a helper's argument count.
fn use_def(insn: &Insn, helper_args: &dyn Fn(i32) -> usize) -> (RegSet, RegSet) {
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            let d = if matches!(op, AluOp::Mov | AluOp::MovSx(_)) {
                0
            } else {
                bit(dst)
            };
            (s | d, bit(dst))
        }
        Insn::End { dst, .. } => (bit(dst), bit(dst)),
        Insn::Ja { .. } => (0, 0),
        Insn::Jmp { dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            (bit(dst) | s, 0)
        }
        Insn::Call(CallTarget::Helper(id)) => {
            let n = helper_args(id).min(5);
            (((1u16 << n) - 1) << 1, CALLER_SAVED)
        }
        Insn::Call(CallTarget::Reg(r)) => (ARGS | bit(r), CALLER_SAVED),
        Insn::Call(_) => (ARGS, CALLER_SAVED),
        Insn::Exit => (1, 0),
        Insn::LdImm64 { dst, .. } => (0, bit(dst)),
        Insn::Ldx { dst, src, .. } => (bit(src), bit(dst)),
        Insn::St { dst, .. } => (bit(dst), 0),
        Insn::Stx { dst, src, .. } => (bit(dst) | bit(src), 0),
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::Cmpxchg => (bit(dst) | bit(src) | 1, 1),
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => (bit(dst) | bit(src), bit(src)),
            _ => (bit(dst) | bit(src), 0),
        },
        Insn::LdAbs { .. } => (1 << 6, CALLER_SAVED),
        Insn::LdInd { src, .. } => ((1 << 6) | bit(src), CALLER_SAVED),
    }
}

/// Registers live before each slot (r10 always counts as live).
pub fn live_in(cfg: &Cfg, helper_args: &dyn Fn(i32) -> usize) -> Vec<RegSet> {
    let n = cfg.slots.len();
    let mut live = vec![0 as RegSet; n];
    let ud: Vec<(RegSet, RegSet)> = cfg
        .slots
        .iter()
        .map(|s| {
            s.as_ref()
                .map(|i| use_def(i, helper_args))
                .unwrap_or((0, 0))
        })
        .collect();
    // Iterate to a fixpoint, walking backwards (fast for mostly-forward code).
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let Some(insn) = &cfg.slots[pc] else { continue };
            let mut out: RegSet = 0;
            let mut add = |t: usize| {
                if t < n {
                    out |= live[t];
                }
            };
            match *insn {
                Insn::Exit => {}
                Insn::Ja { off, .. } => add((pc as i64 + 1 + off as i64) as usize),
                Insn::Jmp { off, .. } => {
                    add(pc + 1);
                    add((pc as i64 + 1 + off as i64) as usize);
                }
                Insn::LdImm64 { .. } => add(pc + 2),
                _ => add(pc + 1),
            }
            let (u, d) = ud[pc];
            let new = u | (out & !d) | (1 << 10);
            if new != live[pc] {
                live[pc] = new;
                changed = true;
            }
        }
    }
    live
}

/// Stack slots of one frame as a bit set: bit `i` is the 8 bytes at `fp-8*(i+1)`.
pub type SlotSet = u64;

/// Which values may matter *precisely* before each slot (an over-approximation of the
/// kernel's precision tracking): registers and r10-relative stack slots whose value may
/// flow into a memory address, pointer arithmetic, a helper or function argument, a return
/// value, or the condition of a jump that was found *decided* (one outcome impossible) on
/// some path. Other scalars can be pruned as "any number": every path they could steer
/// was explored both ways.
#[derive(Clone, Debug)]
pub struct Precision {
    /// Registers whose exact scalar value may matter, before each slot.
    pub regs: Vec<RegSet>,
    /// Stack slots of the current frame whose value may matter, before each slot.
    pub slots: Vec<SlotSet>,
}

/// Slots touched by an access of `size` bytes at `fp + off` (empty when out of the frame).
fn slots_of(off: i64, size: usize) -> SlotSet {
    let mut set = 0;
    for a in off..off + size as i64 {
        if (-512..0).contains(&a) {
            set |= 1u64 << ((-a - 1) / 8);
        }
    }
    set
}

/// What the analyses need to know about the helpers of the program type.
pub trait HelperFacts {
    /// How many arguments helper `id` reads (5 when unknown).
    fn args(&self, id: i32) -> usize;
    /// Whether helper `id` calls back into the program.
    fn takes_callback(&self, id: i32) -> bool;
    /// Whether helper `id` may return a pointer.
    fn returns_pointer(&self, id: i32) -> bool;
}

/// Registers that may hold a pointer before each slot (a forward over-approximation).
///
/// Pointers come from r1 and r10 at entry, `lddw` of maps and functions, loads of 4 or 8
/// bytes (context pointer fields, filled spills), helpers that return pointers, function
/// arguments and return values; `+=`/`-=` with a pointer operand keep one. Everything else
/// (narrow loads, 32-bit arithmetic, other operators, atomics' fetched values) gives a
/// number or a rejection.
pub fn may_be_pointer(cfg: &Cfg, helpers: &dyn HelperFacts) -> Vec<RegSet> {
    const FP: RegSet = 1 << 10;
    let n = cfg.slots.len();
    let nsub = cfg.subprogs.len();
    let mut may = vec![0 as RegSet; n];
    let mut ret = vec![false; nsub];
    may[0] = (1 << 1) | FP;
    // Callbacks get their arguments from a helper: assume anything.
    for (pc, insn) in cfg.slots.iter().enumerate() {
        if let Some(Insn::LdImm64 {
            kind: bpfkit_isa::LdImm64Kind::Func,
            imm,
            ..
        }) = insn
        {
            if let Some(c) = cfg.subprog_at((pc as i64 + 1 + *imm as u32 as i32 as i64) as usize) {
                may[cfg.subprogs[c].start] |= ARGS | FP;
            }
        }
    }
    let mut changed = true;
    while changed {
        changed = false;
        for pc in 0..n {
            let Some(insn) = &cfg.slots[pc] else { continue };
            let m = may[pc];
            let has = |r: bpfkit_isa::Reg| m & bit(r) != 0;
            let set = |r: bpfkit_isa::Reg, p: bool| (m & !bit(r)) | if p { bit(r) } else { 0 };
            let mut flow = |t: usize, v: RegSet, may: &mut [RegSet]| {
                if t < n && may[t] | v != may[t] {
                    may[t] |= v;
                    changed = true;
                }
            };
            let out = match *insn {
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src,
                    ..
                } => {
                    let src_ptr = matches!(src, Operand::Reg(r) if has(r));
                    let p = match (width, op) {
                        (bpfkit_isa::Width::W32, _) => false,
                        (_, AluOp::Mov | AluOp::MovSx(_)) => src_ptr,
                        (_, AluOp::Add | AluOp::Sub) => has(dst) || src_ptr,
                        _ => false,
                    };
                    set(dst, p)
                }
                Insn::End { .. } => m,
                Insn::LdImm64 { dst, kind, .. } => set(dst, kind != bpfkit_isa::LdImm64Kind::Imm),
                Insn::Ldx { dst, size, .. } => set(dst, size.bytes() >= 4),
                Insn::Atomic { op, src, .. } => match op {
                    AtomicOp::Cmpxchg => set(bpfkit_isa::Reg::R0, false),
                    AtomicOp::Xchg
                    | AtomicOp::Add { fetch: true }
                    | AtomicOp::Or { fetch: true }
                    | AtomicOp::And { fetch: true }
                    | AtomicOp::Xor { fetch: true } => set(src, false),
                    _ => m,
                },
                Insn::LdAbs { .. } | Insn::LdInd { .. } => m & !CALLER_SAVED,
                Insn::Call(CallTarget::Helper(id)) => {
                    (m & !CALLER_SAVED) | helpers.returns_pointer(id) as RegSet
                }
                Insn::Call(CallTarget::Local(off)) => {
                    let callee = cfg.subprog_at((pc as i64 + 1 + off as i64) as usize);
                    if let Some(c) = callee {
                        flow(cfg.subprogs[c].start, (m & ARGS) | FP, &mut may);
                    }
                    (m & !CALLER_SAVED) | callee.map_or(1, |c| ret[c] as RegSet)
                }
                Insn::Call(_) => (m & !CALLER_SAVED) | 1,
                Insn::Exit => {
                    let sp = cfg.subprog_of(pc);
                    if m & 1 != 0 && !ret[sp] {
                        ret[sp] = true;
                        changed = true;
                    }
                    continue;
                }
                Insn::St { .. } | Insn::Stx { .. } | Insn::Ja { .. } | Insn::Jmp { .. } => m,
            };
            for t in successors(pc, insn) {
                flow(t, out, &mut may);
            }
        }
    }
    may
}

/// Successor slots inside the function (a call continues after itself).
fn successors(pc: usize, insn: &Insn) -> impl Iterator<Item = usize> {
    let (a, b) = match *insn {
        Insn::Exit => (None, None),
        Insn::Ja { off, .. } => (Some(pc as i64 + 1 + off as i64), None),
        Insn::Jmp { off, .. } => (Some(pc as i64 + 1), Some(pc as i64 + 1 + off as i64)),
        Insn::LdImm64 { .. } => (Some(pc as i64 + 2), None),
        _ => (Some(pc as i64 + 1), None),
    };
    a.into_iter().chain(b).map(|t| t as usize)
}

/// What the backward transfer needs to know about helpers and functions.
struct Context<'a> {
    helpers: &'a dyn HelperFacts,
    /// Registers that may hold pointers, before each slot.
    may_ptr: &'a [RegSet],
    /// Arguments (r1-r5) of each function that may matter precisely inside it.
    callee_args: Vec<RegSet>,
    /// Whether each function's return value may matter precisely to a caller.
    ret_precise: Vec<bool>,
}

/// Backward transfer of the instruction at `pc`: (precise regs, precise slots) after it to
/// before it.
fn precise_before(
    cfg: &Cfg,
    pc: usize,
    insn: &Insn,
    cx: &Context,
    decided: bool,
    (r, s): (RegSet, SlotSet),
) -> (RegSet, SlotSet) {
    let helper_args = |id| cx.helpers.args(id);
    let takes_callback = |id| cx.helpers.takes_callback(id);
    let has = |reg: bpfkit_isa::Reg| r & bit(reg) != 0;
    let reg_of = |o: Operand| match o {
        Operand::Reg(x) => bit(x),
        Operand::Imm(_) => 0,
    };
    match *insn {
        Insn::Alu { op, dst, src, .. } => match op {
            AluOp::Mov | AluOp::MovSx(_) => {
                let without = r & !bit(dst);
                if has(dst) {
                    (without | reg_of(src), s)
                } else {
                    (without, s)
                }
            }
            // Either side may be a pointer and the other its offset: both matter.
            AluOp::Add | AluOp::Sub
                if matches!(src, Operand::Reg(_))
                    && cx.may_ptr[pc] & (bit(dst) | reg_of(src)) != 0 =>
            {
                (r | bit(dst) | reg_of(src), s)
            }
            _ => {
                if has(dst) {
                    (r | reg_of(src), s)
                } else {
                    (r, s)
                }
            }
        },
        Insn::End { .. } => (r, s),
        Insn::Ja { .. } => (r, s),
        Insn::Jmp { dst, src, .. } if decided => (r | bit(dst) | reg_of(src), s),
        Insn::Jmp { .. } => (r, s),
        Insn::Call(CallTarget::Helper(id)) => {
            let n = helper_args(id).min(5);
            let args = ((1u16 << n) - 1) << 1;
            if takes_callback(id) {
                // The callback runs again from this instruction with the same arguments,
                // and may read any of our slots through its context pointer.
                (r | args, SlotSet::MAX)
            } else {
                ((r & !CALLER_SAVED) | args, s)
            }
        }
        // The arguments the callee needs exactly; it may read any of our slots through a
        // pointer argument.
        Insn::Call(CallTarget::Local(off)) => {
            let callee = cfg.subprog_at((pc as i64 + 1 + off as i64) as usize);
            let args = callee.map_or(ARGS, |c| cx.callee_args[c]);
            ((r & !CALLER_SAVED) | args, SlotSet::MAX)
        }
        Insn::Call(_) => ((r & !CALLER_SAVED) | ARGS, SlotSet::MAX),
        // r0 matters when some caller (or the program's end, or the callback's helper)
        // needs it exactly.
        Insn::Exit => (cx.ret_precise[cfg.subprog_of(pc)] as RegSet, 0),
        Insn::LdImm64 { dst, .. } => (r & !bit(dst), s),
        Insn::Ldx {
            dst,
            src,
            off,
            size,
            ..
        } => {
            let r2 = (r & !bit(dst)) | bit(src);
            if !has(dst) {
                (r2, s)
            } else if src == bpfkit_isa::Reg::R10 {
                (r2, s | slots_of(off as i64, size.bytes()))
            } else {
                // Possibly a stack pointer we cannot follow statically: every slot may matter.
                (r2, SlotSet::MAX)
            }
        }
        Insn::St { dst, off, size, .. } => {
            if dst == bpfkit_isa::Reg::R10 && size.bytes() == 8 {
                (r | bit(dst), s & !slots_of(off as i64, 8))
            } else {
                (r | bit(dst), s)
            }
        }
        Insn::Stx {
            dst,
            src,
            off,
            size,
            ..
        } => {
            let base = r | bit(dst);
            if dst == bpfkit_isa::Reg::R10 {
                let touched = slots_of(off as i64, size.bytes());
                let value = if s & touched != 0 { bit(src) } else { 0 };
                let s2 = if size.bytes() == 8 { s & !touched } else { s };
                (base | value, s2)
            } else if s != 0 {
                (base | bit(src), s)
            } else {
                (base, s)
            }
        }
        Insn::Atomic { dst, src, .. } => (r | bit(dst) | bit(src) | 1, s),
        Insn::LdAbs { .. } => ((r & !CALLER_SAVED) | (1 << 6), s),
        Insn::LdInd { src, .. } => ((r & !CALLER_SAVED) | (1 << 6) | bit(src), s),
    }
}

/// Computes [`Precision`] for every slot; `decided(pc)` tells whether the jump at `pc`
/// had an impossible outcome on some explored path; `may_ptr` is [`may_be_pointer`]'s result.
///
/// Across bpf-to-bpf calls the analysis is summarised per function: which arguments it
/// needs exactly, and whether any caller needs its return value exactly (the main program's
/// and callbacks' always count: they are checked against ranges).
pub fn precision(
    cfg: &Cfg,
    helpers: &dyn HelperFacts,
    may_ptr: &[RegSet],
    decided: &dyn Fn(usize) -> bool,
) -> Precision {
    let n = cfg.slots.len();
    let nsub = cfg.subprogs.len();
    let mut cx = Context {
        helpers,
        may_ptr,
        callee_args: vec![0; nsub],
        ret_precise: vec![false; nsub],
    };
    cx.ret_precise[0] = true;
    let mut calls = Vec::new();
    for (pc, insn) in cfg.slots.iter().enumerate() {
        match insn {
            Some(Insn::Call(CallTarget::Local(off))) => {
                if let Some(c) = cfg.subprog_at((pc as i64 + 1 + *off as i64) as usize) {
                    calls.push((pc, c));
                }
            }
            Some(Insn::LdImm64 {
                kind: bpfkit_isa::LdImm64Kind::Func,
                imm,
                ..
            }) => {
                if let Some(c) =
                    cfg.subprog_at((pc as i64 + 1 + *imm as u32 as i32 as i64) as usize)
                {
                    cx.ret_precise[c] = true;
                }
            }
            _ => {}
        }
    }
    let mut regs = vec![0 as RegSet; n];
    let mut slots = vec![0 as SlotSet; n];
    loop {
        within_functions(cfg, &cx, decided, &mut regs, &mut slots);
        let mut summaries_changed = false;
        for sp in 0..nsub {
            let args = regs[cfg.subprogs[sp].start] & ARGS;
            if args & !cx.callee_args[sp] != 0 {
                cx.callee_args[sp] |= args;
                summaries_changed = true;
            }
        }
        for &(pc, c) in &calls {
            if !cx.ret_precise[c] && pc + 1 < n && regs[pc + 1] & 1 != 0 {
                cx.ret_precise[c] = true;
                summaries_changed = true;
            }
        }
        if !summaries_changed {
            return Precision { regs, slots };
        }
    }
}

/// The backward fixpoint over every instruction, with the call summaries fixed.
fn within_functions(
    cfg: &Cfg,
    cx: &Context,
    decided: &dyn Fn(usize) -> bool,
    regs: &mut [RegSet],
    slots: &mut [SlotSet],
) {
    let n = cfg.slots.len();
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let Some(insn) = &cfg.slots[pc] else { continue };
            let (mut r, mut s) = (0 as RegSet, 0 as SlotSet);
            let mut add = |t: usize| {
                if t < n {
                    r |= regs[t];
                    s |= slots[t];
                }
            };
            match *insn {
                Insn::Exit => {}
                Insn::Ja { off, .. } => add((pc as i64 + 1 + off as i64) as usize),
                Insn::Jmp { off, .. } => {
                    add(pc + 1);
                    add((pc as i64 + 1 + off as i64) as usize);
                }
                Insn::LdImm64 { .. } => add(pc + 2),
                _ => add(pc + 1),
            }
            let (r, s) = precise_before(cfg, pc, insn, cx, decided(pc), (r, s));
            if r != regs[pc] || s != slots[pc] {
                regs[pc] = r;
                slots[pc] = s;
                changed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Helpers with five arguments that may return anything.
    struct AnyHelper;

    impl HelperFacts for AnyHelper {
        fn args(&self, _: i32) -> usize {
            5
        }
        fn takes_callback(&self, _: i32) -> bool {
            false
        }
        fn returns_pointer(&self, _: i32) -> bool {
            true
        }
    }

    #[test]
    fn precision_follows_data_into_addresses() {
        // r6 becomes a stack offset; r7 is only stored; the loaded byte is never used.
        let prog = bpfkit_asm::assemble(
            "r6 = *(u32 *)(r1 + 0)
             r7 = *(u32 *)(r1 + 4)
             *(u64 *)(r10 - 16) = r7
             r3 = r6
             r3 &= 7
             r2 = r10
             r2 += -8
             r2 += r3
             r4 = *(u8 *)(r2 + 0)
             r0 = 0
             exit",
        )
        .unwrap();
        let cfg = crate::cfg::build(&prog).unwrap();
        let p = precision(&cfg, &AnyHelper, &may_be_pointer(&cfg, &AnyHelper), &|_| {
            true
        });
        // Before `r3 = r6`, r6 matters (it becomes an offset); r7 never does.
        assert_ne!(p.regs[3] & (1 << 6), 0);
        assert_eq!(p.regs[3] & (1 << 7), 0);
        // The slot holding r7 at fp-16 (slot 1) is not precise either.
        assert_eq!(p.slots[3] & 0b10, 0);
    }
    use bpfkit_isa::{JmpCond, Reg, Width};

    #[test]
    fn pointers_flow_through_moves_adds_and_calls_only() {
        let prog = bpfkit_asm::assemble(
            "r2 = *(u8 *)(r1 + 0)
             r3 = r1
             r3 += r2
             w4 = w1
             r5 = *(u32 *)(r1 + 4)
             r1 = r2
             call f
             r6 = r0
             exit
             f:
             r0 = r1
             r0 *= 3
             exit",
        )
        .unwrap();
        let cfg = crate::cfg::build(&prog).unwrap();
        let may = may_be_pointer(&cfg, &AnyHelper);
        let has = |pc: usize, r: u8| may[pc] & (1 << r) != 0;
        // Entry: r1 (context) and r10.
        assert!(has(0, 1) && has(0, 10) && !has(0, 2));
        // A byte load is a number; r3 = r1 + r2 keeps the pointer.
        assert!(!has(1, 2) && has(3, 3));
        // 32-bit moves give numbers; a 4-byte load may be a context pointer field.
        assert!(!has(4, 4) && has(5, 5));
        // The callee gets r1 = a number and returns a number.
        assert!(!has(10, 1) && !has(7, 0));
    }

    #[test]
    fn precision_crosses_calls_only_when_the_result_matters() {
        let src = |use_result: &str| {
            format!(
                "r6 = *(u32 *)(r1 + 0)
                 r1 = r6
                 call f
                 {use_result}
                 exit
                 f:
                 r0 = r1
                 r0 *= 3
                 exit"
            )
        };
        // The result only goes back as the program's return value: it matters (the return
        // value is checked), so the argument does too.
        let returned = bpfkit_asm::assemble(&src("r0 &= 1")).unwrap();
        let cfg = crate::cfg::build(&returned).unwrap();
        let p = precision(&cfg, &AnyHelper, &may_be_pointer(&cfg, &AnyHelper), &|_| {
            false
        });
        assert_ne!(p.regs[2] & (1 << 1), 0, "r1 at the call");
        // The result is dropped: neither the argument nor the callee's r0 matter.
        let dropped = bpfkit_asm::assemble(&src("r0 = 0")).unwrap();
        let cfg = crate::cfg::build(&dropped).unwrap();
        let p = precision(&cfg, &AnyHelper, &may_be_pointer(&cfg, &AnyHelper), &|_| {
            false
        });
        assert_eq!(p.regs[2] & (1 << 1), 0, "r1 at the call");
        assert_eq!(p.regs[7] & 1, 0, "r0 at the callee's exit");
    }

    #[test]
    fn dead_after_overwrite() {
        let mov = |dst, imm| Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        };
        let prog = [
            mov(Reg::R1, 1),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R1,
                src: Operand::Imm(0),
                off: 1,
            },
            mov(Reg::R2, 0),
            mov(Reg::R0, 0),
            Insn::Exit,
        ];
        let cfg = crate::cfg::build(&prog).unwrap();
        let live = live_in(&cfg, &|_| 5);
        assert_eq!(live[1] & 0b111, 0b010); // r1 read by the jump; r0 and r2 dead
        assert_eq!(live[4] & 0b1, 1); // exit reads r0
        assert_eq!(live[3] & 0b1, 0);
    }
}
