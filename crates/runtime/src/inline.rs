//! Array lookups inlined into unchecked JIT code, as the kernel's verifier rewrites
//! `bpf_map_lookup_elem` on an array map into a bounds check and an address computation
//! (`array_map_gen_lookup`).
//!
//! A call site qualifies when its r1 is provably one map on every path: within its basic
//! block (no jump or call target in between, no call, exit or `goto` walked back over),
//! the last instruction writing r1 is `lddw r1, <map>`. If that map is a plain `ARRAY`
//! (not per-CPU, not of maps) with 4-byte keys, the call becomes
//! [`Specialization::IndexedLookup`] over the array's storage, which gives exactly the
//! pointer the helper would (the maps crate's [`ArrayStorage`](bpfkit_maps::ArrayStorage)
//! layout), or NULL out of range.
//!
//! The helper also registers the value in the run's memory map, so that later helper calls
//! may read or write through the pointer. The inline code cannot; instead a test-run in
//! which inlined code may run registers the whole storage of every inlined array once
//! ([`InlinedArrays::regions`]). The interpreter and checked code keep the helper's
//! per-value registration, so their fault detection stays exact.

use std::collections::BTreeSet;

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg};
use bpfkit_jit::{CallSites, Specialization};
use bpfkit_maps::{map_flags, MapType};
use bpfkit_vm::Access;

use crate::maptable::MapTable;

/// `bpf_map_lookup_elem`.
const MAP_LOOKUP_ELEM: i32 = 1;
/// `bpf_tail_call`.
const TAIL_CALL: i32 = 12;

/// For each `call bpf_map_lookup_elem` whose r1 is provably one map: `(pc, map index)`.
/// `insns` are the object's instructions, map references still symbolic
/// (`LdImm64Kind::MapIdx`).
pub(crate) fn fixed_map_lookups(insns: &[Insn]) -> Vec<(usize, usize)> {
    let mut pcs = Vec::with_capacity(insns.len() + 1);
    let mut pc = 0;
    for insn in insns {
        pcs.push(pc);
        pc += insn.slots();
    }
    pcs.push(pc);
    let mut targets = BTreeSet::new();
    for (insn, &pc) in insns.iter().zip(&pcs) {
        let off = match *insn {
            Insn::Ja { off, .. } => off as i64,
            Insn::Jmp { off, .. } => off as i64,
            Insn::Call(CallTarget::Local(off)) => off as i64,
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            } => imm as u32 as i32 as i64,
            _ => continue,
        };
        targets.insert(pc as i64 + 1 + off);
    }
    let mut out = Vec::new();
    for (i, insn) in insns.iter().enumerate() {
        if *insn != Insn::Call(CallTarget::Helper(MAP_LOOKUP_ELEM)) {
            continue;
        }
        if let Some(map) = r1_map(insns, &pcs, &targets, i) {
            out.push((pcs[i], map));
        }
    }
    out
}

/// The map `lddw r1, <map>` puts in r1 before instruction `i`, if on every path it is the
/// last write of r1 (found by walking back inside `i`'s basic block).
fn r1_map(insns: &[Insn], pcs: &[usize], targets: &BTreeSet<i64>, i: usize) -> Option<usize> {
    for k in (0..i).rev() {
        // Control may arrive at `k + 1` from elsewhere, with another r1.
        if targets.contains(&(pcs[k + 1] as i64)) {
            return None;
        }
        match insns[k] {
            // Calls may change r1 (a bpf-to-bpf callee's r1 is the caller's); after an exit
            // or a goto, `k + 1` is reached only by a jump, or not at all.
            Insn::Call(_) | Insn::Exit | Insn::Ja { .. } => return None,
            Insn::LdImm64 {
                dst: Reg::R1,
                kind: LdImm64Kind::MapIdx,
                imm,
            } => return Some(imm as u32 as usize),
            insn if insn.written_reg() == Some(Reg::R1) => return None,
            _ => {}
        }
    }
    // r1 at entry: the context.
    None
}

/// What [`specialize`] decided for one program: the sites to inline and the arrays they
/// look up (by map index).
#[derive(Debug, Default)]
pub(crate) struct InlinedLookups {
    pub(crate) sites: CallSites,
    pub(crate) maps: BTreeSet<usize>,
}

/// The inline array lookups of a program (its instructions before map resolution).
pub(crate) fn specialize(insns: &[Insn], maps: &MapTable) -> InlinedLookups {
    let mut out = InlinedLookups::default();
    for (pc, index) in fixed_map_lookups(insns) {
        let Some(slot) = maps.slots.get(index) else {
            continue;
        };
        let spec = slot.map.spec();
        if spec.map_type != MapType::Array || spec.key_size != 4 {
            continue;
        }
        let Some(storage) = slot.map.as_array().map(|a| a.storage()) else {
            continue;
        };
        let Ok(stride) = u32::try_from(storage.stride) else {
            continue;
        };
        out.sites.insert(
            pc,
            Specialization::IndexedLookup {
                base: storage.base.as_ptr() as u64,
                stride,
                len: storage.entries,
            },
        );
        out.maps.insert(index);
    }
    out
}

/// The arrays whose lookups some program of an object inlines, and whether a test-run
/// must register their storage.
#[derive(Debug, Default)]
pub(crate) struct InlinedArrays {
    /// `(address, length, access)` of each inlined array's storage (the one-entry arrays
    /// of global data excepted: their value is registered in every run anyway).
    pub(crate) regions: Vec<(u64, usize, Access)>,
    /// Whether some program may start another one in a run (`bpf_tail_call` or `callx`):
    /// then a run of any program may run inlined code.
    pub(crate) tail_calls: bool,
}

impl InlinedArrays {
    /// Collects the storage of the arrays in `inlined` (map indexes); `programs` are the
    /// object's programs (to find tail calls).
    pub(crate) fn new<'p>(
        maps: &MapTable,
        inlined: &BTreeSet<usize>,
        mut programs: impl Iterator<Item = &'p bpfkit_vm::Program>,
    ) -> InlinedArrays {
        let mut regions = Vec::new();
        for &index in inlined {
            let slot = &maps.slots[index];
            let Some(storage) = slot.map.as_array().map(|a| a.storage()) else {
                continue;
            };
            if slot.value_addr.is_some() {
                continue;
            }
            let access = if slot.map.spec().flags & map_flags::BPF_F_RDONLY_PROG != 0 {
                Access::ReadOnly
            } else {
                Access::ReadWrite
            };
            regions.push((storage.base.as_ptr() as u64, storage.len(), access));
        }
        let tail_calls = programs.any(|p| {
            p.insns().iter().any(|d| {
                matches!(
                    d.insn,
                    Insn::Call(CallTarget::Helper(TAIL_CALL) | CallTarget::Reg(_))
                )
            })
        });
        InlinedArrays {
            regions,
            tail_calls,
        }
    }

    /// Whether a test-run starting with a program that inlines lookups (`inlines`) must
    /// register the regions: when it does, or when it may tail-call one that does.
    pub(crate) fn needed(&self, inlines: bool) -> bool {
        !self.regions.is_empty() && (inlines || self.tail_calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_isa::{AluOp, JmpCond, Operand, Width};

    fn ld_map(dst: Reg, index: i32) -> Insn {
        Insn::LdImm64 {
            dst,
            kind: LdImm64Kind::MapIdx,
            imm: index as u32 as u64,
        }
    }

    fn mov(dst: Reg, src: Operand) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src,
        }
    }

    const LOOKUP: Insn = Insn::Call(CallTarget::Helper(1));

    #[test]
    fn only_sites_whose_r1_is_one_map_on_every_path_qualify() {
        let insns = [
            // 0: lddw r1, map 3 (slots 0-1); 2: r2 = r10; 3: call -> map 3 at pc 3.
            ld_map(Reg::R1, 3),
            mov(Reg::R2, Operand::Reg(Reg::R10)),
            LOOKUP,
            // 4: lddw r1, map 1; 6: r1 = r6 (overwritten); 7: call -> no.
            ld_map(Reg::R1, 1),
            mov(Reg::R1, Operand::Reg(Reg::R6)),
            LOOKUP,
            // 8: lddw r1, map 2; 10: if r0 == 0 goto 13; 11: lddw r1, map 4;
            // 13: call -> no (two maps reach it).
            ld_map(Reg::R1, 2),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R0,
                src: Operand::Imm(0),
                off: 2,
            },
            ld_map(Reg::R1, 4),
            LOOKUP,
            // 14: lddw r1, map 5; 16: if r0 != 0 goto 17 (a jump over nothing: target 17);
            // 17: call -> no (a jump target lies between).
            ld_map(Reg::R1, 5),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Ne,
                dst: Reg::R0,
                src: Operand::Imm(0),
                off: 0,
            },
            LOOKUP,
            // 18: lddw r1, map 6; 20: if r0 > 1 goto 23; 21: r2 = 1; 22: call -> map 6
            // (the jump leaves the block, the fall-through keeps r1).
            ld_map(Reg::R1, 6),
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst: Reg::R0,
                src: Operand::Imm(1),
                off: 2,
            },
            mov(Reg::R2, Operand::Imm(1)),
            LOOKUP,
            // 23: lddw r1, map 7; 25: call 5 (any call ends the walk); 26: call -> no.
            ld_map(Reg::R1, 7),
            Insn::Call(CallTarget::Helper(5)),
            LOOKUP,
            // 27: exit; 28: call, reached only by a jump if at all -> no.
            Insn::Exit,
            LOOKUP,
            Insn::Exit,
        ];
        assert_eq!(fixed_map_lookups(&insns), [(3, 3), (22, 6)]);
        // The first site alone: r1 as the program enters is no map.
        assert_eq!(fixed_map_lookups(&[LOOKUP, Insn::Exit]), []);
    }
}
