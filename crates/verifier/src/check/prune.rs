//! State comparison for pruning (`states_equal` / `regsafe` / `stacksafe` in kernel terms).
//!
//! `old` covers `cur` when every concrete machine state described by `cur` is described by
//! `old` — as far as the rest of the program can observe: dead registers are ignored,
//! never-written stack bytes in `old` match anything (the verified paths from `old` did
//! not read them), and identities (null-check and packet-range groups, linked scalars,
//! references) must correspond one-to-one.

use crate::bounds::Scalar;
use crate::liveness::{RegSet, SlotSet};

/// What matters in one frame at a prune point.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FrameMask {
    /// Registers that may be read later.
    pub live: RegSet,
    /// Registers whose scalar value may matter exactly.
    pub precise: RegSet,
    /// Stack slots whose scalar contents may matter exactly.
    pub slots: SlotSet,
}
use crate::state::{ByteKind, Frame, RegState, RegType, StackSlot, State};

/// A partial bijection between the ids of `old` and those of `cur`.
#[derive(Default)]
struct IdMap {
    pairs: Vec<(u32, u32)>,
    fresh: u32,
    /// Scalar ids that some exactly-mattering scalar of `old` carries: only links through
    /// these can carry bounds into a value that matters.
    precise_ids: Vec<u32>,
}

impl IdMap {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
        }
        for &(o, c) in &self.pairs {
            if o == old || c == cur {
                return o == old && c == cur;
            }
        }
        self.pairs.push((old, cur));
        true
    }

    /// Scalar ids: an id in `old` only constrains `cur` to keep the same grouping.
    fn check_scalar(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 {
            return true;
        }
        let cur = if cur == 0 {
            self.fresh += 1;
            u32::MAX - self.fresh
        } else {
            cur
        };
        self.check(old, cur)
    }
}

fn scalar_covers(old: &Scalar, cur: &Scalar, exact: bool) -> bool {
    if exact {
        old == cur
    } else {
        old.includes(cur)
    }
}

/// Linked scalars: the same grouping, each at the same offset from the group's base.
fn link_safe(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    ids.check_scalar(old.id, cur.id)
        && (old.id == 0 || (old.off == cur.off && old.off32 == cur.off32))
}

fn regsafe(old: &RegState, cur: &RegState, ids: &mut IdMap, exact: bool, precise: bool) -> bool {
    if old.ty == RegType::NotInit {
        return !exact || cur.ty == RegType::NotInit;
    }
    if old.ty != cur.ty {
        return false;
    }
    if old.ty == RegType::Scalar {
        if !precise && !exact {
            // No later use depends on the exact value: any number will do, as long as it is
            // linked to the same registers when a value that matters shares the link
            // (bounds learned through the link reach that value).
            return !ids.precise_ids.contains(&old.id) || link_safe(old, cur, ids);
        }
        return scalar_covers(&old.var, &cur.var, exact)
            && link_safe(old, cur, ids)
            && (!exact || (old.off == cur.off && old.off32 == cur.off32));
    }
    if old.nullable != cur.nullable || old.off != cur.off {
        return false;
    }
    if old.ty.is_packet()
        && (if exact {
            old.range != cur.range
        } else {
            old.range > cur.range
        })
    {
        return false;
    }
    scalar_covers(&old.var, &cur.var, exact)
        && ids.check(old.id, cur.id)
        && ids.check(old.ref_id, cur.ref_id)
}

fn slot_or_empty(f: &Frame, i: usize) -> StackSlot {
    f.stack.get(i).copied().unwrap_or(StackSlot::EMPTY)
}

fn slot_safe(
    old: &StackSlot,
    cur: &StackSlot,
    ids: &mut IdMap,
    exact: bool,
    precise: bool,
) -> bool {
    if exact {
        return old.bytes == cur.bytes
            && (!old.is_spill() || regsafe(&old.spill, &cur.spill, ids, true, true));
    }
    let (old_len, cur_len) = (old.spill_len(), cur.spill_len());
    if old_len > 0 && old_len == cur_len {
        return regsafe(&old.spill, &cur.spill, ids, false, precise)
            && bytes_safe(old, cur, old_len, precise);
    }
    if cur_len > 0 && cur_len < 8 {
        // A narrow spill reads like its bytes, except that it is more precise: those bytes
        // cover it.
        return slot_safe(old, &cur.as_bytes(), ids, false, precise);
    }
    if old_len == 0 {
        return bytes_safe(old, cur, 0, precise);
    }
    // A spilled scalar in `old` (whole or narrow) covers plain data bytes it includes.
    if old.spill.ty != RegType::Scalar {
        return false;
    }
    let cur = match cur.is_spill() {
        true if cur.spill.ty != RegType::Scalar => return false,
        true => cur.as_bytes(),
        false => *cur,
    };
    let head = &cur.bytes[..old_len];
    let data = |b: &ByteKind| matches!(b, ByteKind::Zero | ByteKind::Misc | ByteKind::Const(_));
    let covered = if !precise {
        head.iter().all(data)
    } else {
        let any = if old_len == 8 {
            Scalar::UNKNOWN
        } else {
            Scalar::urange(0, (1u64 << (8 * old_len)) - 1)
        };
        (head.iter().all(|b| *b == ByteKind::Zero)
            && old.spill.var.contains(0)
            && ids.check_scalar(old.spill.id, 0))
            || (head.iter().all(data) && old.spill.var.includes(&any) && old.spill.id == 0)
    };
    covered && bytes_safe(old, &cur, old_len, precise)
}

/// Bytes `from..8` of two slots, byte by byte (`old` has no spilled bytes there).
fn bytes_safe(old: &StackSlot, cur: &StackSlot, from: usize, precise: bool) -> bool {
    let data = |k: ByteKind| matches!(k, ByteKind::Misc | ByteKind::Zero | ByteKind::Const(_));
    for b in from..8 {
        let ok = match old.bytes[b] {
            ByteKind::Invalid => true,
            // Numbers nothing depends on: any data byte will do.
            o if data(o) && !precise => {
                data(cur.bytes[b])
                    || (cur.bytes[b] == ByteKind::Spill && cur.spill.ty == RegType::Scalar)
            }
            ByteKind::Misc => match cur.bytes[b] {
                ByteKind::Misc | ByteKind::Zero | ByteKind::Const(_) => true,
                ByteKind::Spill => cur.spill.ty == RegType::Scalar,
                ByteKind::Invalid => false,
            },
            ByteKind::Zero | ByteKind::Const(_) => {
                let want = match old.bytes[b] {
                    ByteKind::Const(v) => v,
                    _ => 0,
                };
                match cur.bytes[b] {
                    k @ (ByteKind::Zero | ByteKind::Const(_)) => k == old.bytes[b],
                    ByteKind::Spill => {
                        cur.spill.ty == RegType::Scalar
                            && cur.spill.var.as_const().map(|c| (c >> (8 * b)) as u8) == Some(want)
                    }
                    _ => false,
                }
            }
            ByteKind::Spill => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn frame_safe(old: &Frame, cur: &Frame, mask: FrameMask, ids: &mut IdMap, exact: bool) -> bool {
    if old.callsite != cur.callsite {
        return false;
    }
    for r in 0..11 {
        if mask.live & (1 << r) != 0
            && !regsafe(
                &old.regs[r],
                &cur.regs[r],
                ids,
                exact,
                mask.precise & (1 << r) != 0,
            )
        {
            return false;
        }
    }
    let n = old.stack.len().max(if exact { cur.stack.len() } else { 0 });
    (0..n).all(|i| {
        let precise = i >= 64 || mask.slots & (1u64 << i) != 0;
        slot_safe(
            &slot_or_empty(old, i),
            &slot_or_empty(cur, i),
            ids,
            exact,
            precise,
        )
    })
}

/// Whether `old` covers `cur` (`exact`: they are the same state, up to id renaming).
/// `masks[i]` says what matters in frame `i`.
pub(super) fn states_equal(old: &State, cur: &State, masks: &[FrameMask], exact: bool) -> bool {
    if old.frames.len() != cur.frames.len() || old.refs.len() != cur.refs.len() {
        return false;
    }
    if old.lock.is_some() != cur.lock.is_some() {
        return false;
    }
    let mut ids = IdMap::default();
    if !exact {
        ids.precise_ids = precise_scalar_ids(old, masks);
    }
    for (i, (o, c)) in old.frames.iter().zip(&cur.frames).enumerate() {
        if !frame_safe(o, c, masks[i], &mut ids, exact) {
            return false;
        }
    }
    old.refs
        .iter()
        .zip(&cur.refs)
        .all(|(o, c)| ids.check(o.id, c.id))
}

/// Ids of the linked scalars of `old` whose value matters exactly (registers and spills).
fn precise_scalar_ids(old: &State, masks: &[FrameMask]) -> Vec<u32> {
    let mut out = Vec::new();
    for (f, mask) in old.frames.iter().zip(masks) {
        for (r, reg) in f.regs.iter().enumerate() {
            let counts = mask.live & mask.precise & (1 << r) != 0;
            if counts && reg.ty == RegType::Scalar && reg.id != 0 {
                out.push(reg.id);
            }
        }
        for (i, slot) in f.stack.iter().enumerate() {
            let precise = i >= 64 || mask.slots & (1u64 << i) != 0;
            if precise && slot.is_spill() && slot.spill.ty == RegType::Scalar && slot.spill.id != 0
            {
                out.push(slot.spill.id);
            }
        }
    }
    out
}

/// Whether `a` and `b` have the same frames, references and lock (what [`widen`] needs).
pub(super) fn same_shape(a: &State, b: &State) -> bool {
    a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(&b.frames)
            .all(|(x, y)| x.callsite == y.callsite && x.subprog == y.subprog)
        && a.refs == b.refs
        && a.lock == b.lock
}

/// A byte that holds data in this slot (not a pointer, not unwritten).
fn data_byte(s: &StackSlot, b: usize) -> bool {
    match s.bytes[b] {
        ByteKind::Misc | ByteKind::Zero | ByteKind::Const(_) => true,
        ByteKind::Spill => s.spill.ty == RegType::Scalar,
        ByteKind::Invalid => false,
    }
}

/// Widening for the rounds of a callback: every part of `cur` that `old` covers exactly
/// becomes `old`'s, every other part becomes the least informative value of its kind (any
/// number, unknown data bytes, or unreadable). The result covers both states, and a chain of
/// widenings can only climb a few steps per register and stack byte, so the rounds end.
/// Requires [`same_shape`].
pub(super) fn widen(old: &State, cur: &mut State, masks: &[FrameMask]) {
    let mut ids = IdMap::default();
    for (i, (o, c)) in old.frames.iter().zip(cur.frames.iter_mut()).enumerate() {
        for r in 0..10 {
            if masks[i].live & (1 << r) == 0 {
                c.regs[r] = RegState::NOT_INIT;
            } else if regsafe(&o.regs[r], &c.regs[r], &mut ids, false, true) {
                c.regs[r] = o.regs[r];
            } else if o.regs[r].ty == RegType::Scalar && c.regs[r].ty == RegType::Scalar {
                c.regs[r] = RegState::unknown();
            } else {
                c.regs[r] = RegState::NOT_INIT;
            }
        }
        let n = o.stack.len().max(c.stack.len());
        let mut stack = Vec::with_capacity(n);
        for s in 0..n {
            let (os, cs) = (slot_or_empty(o, s), slot_or_empty(c, s));
            if slot_safe(&os, &cs, &mut ids, false, true) {
                stack.push(os);
                continue;
            }
            let mut top = StackSlot::EMPTY;
            for b in 0..8 {
                if data_byte(&os, b) && data_byte(&cs, b) {
                    top.bytes[b] = ByteKind::Misc;
                }
            }
            stack.push(top);
        }
        c.stack = stack;
    }
}

/// A hasher for [`fingerprint`] (multiply-rotate, as in rustc's FxHash).
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_i32(&mut self, v: i32) {
        self.write_u64(v as u64);
    }
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_isize(&mut self, v: isize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Part of what exact comparison looks at (type, offset, known bits): enough to tell most
/// different states apart, cheap to compute.
fn hash_reg(h: &mut Fx, r: &RegState) {
    use std::hash::{Hash, Hasher};
    r.ty.hash(h);
    if r.ty != RegType::NotInit {
        h.write_u64(r.off as u64);
        h.write_u64(r.var.var.value);
        h.write_u64(r.var.var.mask);
    }
}

/// A hash of what [`states_equal`] compares with `exact`, ids left out: states it finds
/// equal have equal fingerprints, so unequal fingerprints skip the comparison.
pub(super) fn fingerprint(st: &State, masks: &[FrameMask]) -> u64 {
    use std::hash::Hasher;
    let mut h = Fx(0);
    h.write_u64(st.frames.len() as u64);
    h.write_u64(st.refs.len() as u64);
    h.write_u64(st.lock.is_some() as u64);
    for (f, m) in st.frames.iter().zip(masks) {
        h.write_u64(f.callsite as u64);
        for (r, reg) in f.regs.iter().enumerate() {
            if m.live & (1 << r) != 0 {
                hash_reg(&mut h, reg);
            }
        }
        // Missing slots compare as empty ones: only written slots count.
        for (i, s) in f.stack.iter().enumerate() {
            if s.bytes.iter().any(|b| *b != ByteKind::Invalid) {
                h.write_u64(i as u64);
                for b in s.bytes {
                    std::hash::Hash::hash(&b, &mut h);
                }
                if s.is_spill() {
                    hash_reg(&mut h, &s.spill);
                }
            }
        }
    }
    h.finish()
}
