//! Helper calls inlined into unchecked JIT code. Array lookups: as the kernel's verifier rewrites
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
//!
//! Lookups in other maps known at load whose lookup needs no CPU number (hash and LRU
//! hash maps, maps of maps: [`Map::direct_lookup`](bpfkit_maps::Map::direct_lookup)) become
//! [`Specialization::BoundCall`]s of the map's lookup function, as the kernel's JIT calls
//! `map->ops->map_lookup_elem` directly. Their values are not registered in the memory
//! map: helpers called from unchecked code take verified pointer arguments without
//! checking them ([`HelperCtx::trust_arguments`](bpfkit_vm::HelperCtx::trust_arguments)),
//! and in objects with a program that may read through unverified pointers
//! (`bpf_probe_read*`, `%s` of `bpf_trace_printk`) every lookup keeps the helper, which
//! registers its value.
//!
//! `bpf_loop` whose callback r2 provably holds (`lddw r2, <function>` in the call's block)
//! becomes [`Specialization::Loop`], a counted loop of bpf-to-bpf calls, as the kernel's
//! verifier inlines it (`inline_bpf_loop`).
//!
//! Helpers whose result depends only on their arguments (`bpf_csum_diff`,
//! `bpf_strncmp`) become [`Specialization::PureCall`]s of direct functions, without the
//! trampoline and the memory map (the verifier proved their pointer arguments).
//!
//! Helpers that need no helper context (`bpf_xdp_adjust_head`, `bpf_ringbuf_submit`, the
//! map helpers, whose verified pointer arguments they access directly) become
//! [`Specialization::PlainCall`]s: still calls through a trampoline, but one that builds no
//! context ([`Helpers::call_plain`](bpfkit_vm::Helpers::call_plain)). Those of them that
//! cannot fail for a verified program (the map update, delete, push, pop and peek,
//! `bpf_ringbuf_output`, the CPU number, the XDP adjust helpers where every run is an XDP
//! run) are called without the trampoline: [`Specialization::HostCall`]s of the helper's
//! body with the run's `RunHelpers` (`helpers::host_helper`). A plain lookup or
//! ring buffer reservation registers nothing, like a direct lookup, so they are plain only
//! under the same condition. A lookup whose map is not known at load (e.g. an inner map
//! of a map of maps) becomes a [`Specialization::IndirectCall`] instead: its map pointer is
//! the address of a [`MapCell`], which starts with the map's direct lookup (if it has one).
//!
//! `bpf_for_each_map_elem` over a plain array whose map (r1) and callback (r2) are both
//! provably fixed becomes [`Specialization::ArrayForEach`], a counted loop of bpf-to-bpf
//! calls over the array's storage (which is then registered like an inlined lookup's).

use std::collections::BTreeSet;

use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg};
use bpfkit_jit::{CallSites, Specialization};
use bpfkit_maps::{map_flags, MapCell, MapType};
use bpfkit_vm::Access;

use crate::maptable::MapTable;

/// `bpf_map_lookup_elem`.
const MAP_LOOKUP_ELEM: i32 = 1;
/// `bpf_tail_call`.
const TAIL_CALL: i32 = 12;
/// `bpf_loop`.
const LOOP: i32 = 181;
/// `bpf_for_each_map_elem`.
const FOR_EACH_MAP_ELEM: i32 = 164;

/// A program's instructions with their slot indexes and jump targets, to walk back inside
/// basic blocks; built once per program, for every kind of site.
pub(crate) struct Blocks<'i> {
    insns: &'i [Insn],
    /// The slot index of each instruction, then the program's length in slots.
    pcs: Vec<usize>,
    /// Slot indexes control may reach other than by falling through.
    targets: BTreeSet<i64>,
}

impl<'i> Blocks<'i> {
    /// `insns` are the object's instructions, map references still symbolic
    /// (`LdImm64Kind::MapIdx`).
    pub(crate) fn new(insns: &'i [Insn]) -> Blocks<'i> {
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
        Blocks {
            insns,
            pcs,
            targets,
        }
    }

    /// The instruction that last writes `reg` before instruction `i` on every path, if it
    /// lies in `i`'s basic block (found by walking back).
    fn last_write(&self, i: usize, reg: Reg) -> Option<usize> {
        for k in (0..i).rev() {
            // Control may arrive at `k + 1` from elsewhere, with another value.
            if self.targets.contains(&(self.pcs[k + 1] as i64)) {
                return None;
            }
            match self.insns[k] {
                // Calls may change r1–r5 (a bpf-to-bpf callee's are the caller's); after an
                // exit or a goto, `k + 1` is reached only by a jump, or not at all.
                Insn::Call(_) | Insn::Exit | Insn::Ja { .. } => return None,
                insn if insn.written_reg() == Some(reg) => return Some(k),
                _ => {}
            }
        }
        // At entry: the context.
        None
    }

    /// The sites of `call <helper>` whose register `reg` is set, in its basic block, by
    /// `lddw reg` of `kind`: `(pc of the call, pc of the lddw, its immediate)`.
    fn fixed_operands(&self, helper: i32, reg: Reg, kind: LdImm64Kind) -> Vec<(usize, usize, u64)> {
        let mut out = Vec::new();
        for (i, insn) in self.insns.iter().enumerate() {
            if *insn != Insn::Call(CallTarget::Helper(helper)) {
                continue;
            }
            let Some(k) = self.last_write(i, reg) else {
                continue;
            };
            if let Insn::LdImm64 { kind: kk, imm, .. } = self.insns[k] {
                if kk == kind {
                    out.push((self.pcs[i], self.pcs[k], imm));
                }
            }
        }
        out
    }
}

impl Blocks<'_> {
    /// For each `call bpf_map_lookup_elem` whose r1 is provably one map: `(pc, map index)`.
    pub(crate) fn map_lookups(&self) -> Vec<(usize, usize)> {
        self.fixed_operands(MAP_LOOKUP_ELEM, Reg::R1, LdImm64Kind::MapIdx)
            .into_iter()
            .map(|(pc, _, imm)| (pc, imm as u32 as usize))
            .collect()
    }

    /// For each `call <helper>` whose r2 is provably one of the program's functions:
    /// `(pc, slot of the callback)`.
    fn fixed_callbacks(&self, helper: i32) -> Vec<(usize, usize)> {
        let len = *self.pcs.last().unwrap_or(&0) as i64;
        self.fixed_operands(helper, Reg::R2, LdImm64Kind::Func)
            .into_iter()
            .filter_map(|(pc, at, imm)| {
                let callback = at as i64 + 1 + imm as u32 as i32 as i64;
                (0..len)
                    .contains(&callback)
                    .then_some((pc, callback as usize))
            })
            .collect()
    }

    /// For each `call bpf_loop` whose r2 is provably one of the program's functions:
    /// `(pc, slot of the callback)`.
    pub(crate) fn loop_callbacks(&self) -> Vec<(usize, usize)> {
        self.fixed_callbacks(LOOP)
    }

    /// For each `call bpf_for_each_map_elem` whose r1 is provably one map and r2 one of the
    /// program's functions: `(pc, map index, slot of the callback)`.
    pub(crate) fn map_walks(&self) -> Vec<(usize, usize, usize)> {
        let maps = self.fixed_operands(FOR_EACH_MAP_ELEM, Reg::R1, LdImm64Kind::MapIdx);
        self.fixed_callbacks(FOR_EACH_MAP_ELEM)
            .into_iter()
            .filter_map(|(pc, callback)| {
                let &(_, _, map) = maps.iter().find(|&&(at, _, _)| at == pc)?;
                Some((pc, map as u32 as usize, callback))
            })
            .collect()
    }

    /// For each `call bpf_tail_call` whose r2 is provably one map: `(pc, map index)`.
    fn tail_calls(&self) -> Vec<(usize, usize)> {
        self.fixed_operands(TAIL_CALL, Reg::R2, LdImm64Kind::MapIdx)
            .into_iter()
            .map(|(pc, _, imm)| (pc, imm as u32 as usize))
            .collect()
    }
}

/// What [`specialize`] decided for one program: the sites to inline and the arrays they
/// look up (by map index).
#[derive(Debug, Default)]
pub(crate) struct InlinedLookups {
    pub(crate) sites: CallSites,
    pub(crate) maps: BTreeSet<usize>,
}

/// The object's table of code a tail call jumps into directly, by program number (`count`
/// words at `addr`, each the address of a `JitProgram` that is `fast_tail_callable`, or
/// 0), filled before any program runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TailTable {
    pub(crate) addr: u64,
    pub(crate) len: u32,
}

/// The helper calls of a program (its instructions before map resolution) that unchecked
/// code computes inline or calls directly; `tail` is the object's tail-call table, when
/// its code is tail-callable; `registers_values`: some program of the object reads through
/// unchecked pointers ([`reads_unchecked_pointers`]), so lookups must register their values;
/// `xdp_runs`: every run of the code is an XDP run (every program of the object is an XDP
/// program, so no tail call brings it into another kind of run).
pub(crate) fn specialize(
    insns: &[Insn],
    maps: &MapTable,
    tail: Option<TailTable>,
    registers_values: bool,
    xdp_runs: bool,
) -> InlinedLookups {
    let mut out = InlinedLookups::default();
    let blocks = Blocks::new(insns);
    // Lookups in a map known at load: inline for plain arrays, else a direct call of the
    // map's lookup where it has one (and values need no registration).
    let lookups = blocks.map_lookups();
    for &(pc, index) in &lookups {
        if let Some((base, stride, len)) = plain_array(maps, index) {
            out.sites
                .insert(pc, Specialization::IndexedLookup { base, stride, len });
            out.maps.insert(index);
            continue;
        }
        let direct = maps.slots.get(index).and_then(|s| s.map.direct_lookup());
        if let (false, Some(direct)) = (registers_values, direct) {
            let func = direct.lookup as usize as u64;
            let r1 = direct.map as u64;
            out.sites.insert(pc, Specialization::BoundCall { func, r1 });
        }
    }
    let known: BTreeSet<usize> = lookups.into_iter().map(|(pc, _)| pc).collect();
    for (pc, callback) in blocks.loop_callbacks() {
        out.sites.insert(pc, Specialization::Loop { callback });
    }
    for (insn, &pc) in insns.iter().zip(&blocks.pcs) {
        if let Insn::Call(CallTarget::Helper(id)) = *insn {
            if let Some(func) = crate::helpers::pure_helper(id) {
                out.sites.insert(pc, Specialization::PureCall { func });
            } else if let Some(func) = crate::helpers::host_helper(id, xdp_runs) {
                out.sites.insert(pc, Specialization::HostCall { func });
            } else if crate::helpers::plain_helper(id) {
                out.sites.insert(pc, Specialization::PlainCall);
            } else if crate::helpers::REGISTERING_HELPERS.contains(&id)
                && !registers_values
                && out.sites.get(pc).is_none()
            {
                // A lookup in a map not known here: its map pointer is a cell, which holds
                // the map's direct lookup (or none: then the plain call). A known map
                // without a direct lookup (per-CPU) takes the plain call at once.
                let site = match id {
                    MAP_LOOKUP_ELEM if !known.contains(&pc) => Specialization::IndirectCall {
                        func_at: MapCell::LOOKUP_OFFSET,
                        r1_at: MapCell::LOOKUP_MAP_OFFSET,
                    },
                    _ => Specialization::PlainCall,
                };
                out.sites.insert(pc, site);
            }
        }
    }
    if let Some(table) = tail {
        for (pc, index) in blocks.tail_calls() {
            let Some(slot) = maps.slots.get(index) else {
                continue;
            };
            let Some(array) = slot.map.as_prog_array() else {
                continue;
            };
            let (slots, len) = array.raw_slots();
            let fast = Specialization::TailCall {
                slots: slots as u64,
                len,
                programs: table.addr,
                count: table.len,
            };
            out.sites.insert(pc, fast);
        }
    }
    for (pc, index, callback) in blocks.map_walks() {
        let Some((base, stride, len)) = plain_array(maps, index) else {
            continue;
        };
        let walk = Specialization::ArrayForEach {
            base,
            stride,
            len,
            callback,
        };
        out.sites.insert(pc, walk);
        out.maps.insert(index);
    }
    let called: BTreeSet<i32> = insns
        .iter()
        .filter_map(|insn| match *insn {
            Insn::Call(CallTarget::Helper(id)) => Some(id),
            _ => None,
        })
        .collect();
    for id in called {
        if let Some(count) = helper_arguments(id) {
            out.sites.declare_arguments(id, count);
        }
    }
    out
}

/// `bpf_trace_printk`.
const TRACE_PRINTK: i32 = 6;

/// The arguments a call of helper `id` reads: its prototype's, which the verifier checked
/// the call to pass (so the JIT's code need keep no other r1–r5 for it). None for helpers
/// without a prototype, and for `bpf_trace_printk`, whose r3–r5 are the format's values
/// beyond the two arguments its prototype here checks.
fn helper_arguments(id: i32) -> Option<u8> {
    use bpfkit_verifier::helpers::{find, BASE, SOCKET_FILTER, TC, XDP};
    if id == TRACE_PRINTK {
        return None;
    }
    find(&[BASE, XDP, TC, SOCKET_FILTER], id).map(|proto| proto.args.len() as u8)
}

/// Helpers that read memory through a pointer no verifier checked (`bpf_probe_read*`'s
/// source, `bpf_trace_printk`'s `%s` arguments): they look it up in the run's memory map.
const UNCHECKED_POINTER_HELPERS: [i32; 4] = [4, 6, 112, 113];

/// Whether the program may call a helper that reads through an unchecked pointer (or
/// calls helpers by number in a register). Lookups then stay helper calls, which register
/// each value they return in the memory map; a direct lookup's value would be unknown
/// there, and such a read of it would fail where the kernel's succeeds.
pub(crate) fn reads_unchecked_pointers(insns: &[Insn]) -> bool {
    insns.iter().any(|insn| match *insn {
        Insn::Call(CallTarget::Helper(id)) => UNCHECKED_POINTER_HELPERS.contains(&id),
        Insn::Call(CallTarget::Reg(_)) => true,
        _ => false,
    })
}

/// `(base, stride, len)` of map `index` if it is a plain `ARRAY` (not per-CPU, not of
/// maps) with 4-byte keys.
fn plain_array(maps: &MapTable, index: usize) -> Option<(u64, u32, u32)> {
    let slot = maps.slots.get(index)?;
    let spec = slot.map.spec();
    if spec.map_type != MapType::Array || spec.key_size != 4 {
        return None;
    }
    let storage = slot.map.as_array()?.storage();
    let stride = u32::try_from(storage.stride).ok()?;
    Some((storage.base.as_ptr() as u64, stride, storage.entries))
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
        assert_eq!(Blocks::new(&insns).map_lookups(), [(3, 3), (22, 6)]);
        // The first site alone: r1 as the program enters is no map.
        assert_eq!(Blocks::new(&[LOOKUP, Insn::Exit]).map_lookups(), []);
    }

    /// `lddw r2, <function at +imm>`.
    fn func_r2(imm: i32) -> Insn {
        Insn::LdImm64 {
            dst: Reg::R2,
            kind: LdImm64Kind::Func,
            imm: imm as u32 as u64,
        }
    }

    #[test]
    fn loop_sites_need_r2_set_to_a_function_in_their_block() {
        let bpf_loop = Insn::Call(CallTarget::Helper(LOOP));
        let insns = [
            // 0: lddw r2, func +8 (slot 9); 2: r1 = 4; 3: call -> callback 9.
            func_r2(8),
            mov(Reg::R1, Operand::Imm(4)),
            bpf_loop,
            // 4: lddw r2, func; 6: r2 = r7 (overwritten); 7: call -> no.
            func_r2(3),
            mov(Reg::R2, Operand::Reg(Reg::R7)),
            bpf_loop,
            // 8: exit; 9: the callback: r0 = 0; exit.
            Insn::Exit,
            mov(Reg::R0, Operand::Imm(0)),
            Insn::Exit,
        ];
        assert_eq!(Blocks::new(&insns).loop_callbacks(), [(3, 9)]);
        // A function outside the program is no callback.
        assert_eq!(
            Blocks::new(&[func_r2(100), bpf_loop, Insn::Exit]).loop_callbacks(),
            []
        );
        // r2 set by a map lddw is no function either.
        assert_eq!(
            Blocks::new(&[ld_map(Reg::R2, 0), bpf_loop, Insn::Exit]).loop_callbacks(),
            []
        );
    }

    #[test]
    fn helper_arguments_come_from_the_prototypes_except_printk() {
        // map_lookup_elem(map, key), map_update_elem(map, key, value, flags),
        // xdp_adjust_head(ctx, delta); trace_printk reads up to five.
        assert_eq!(helper_arguments(1), Some(2));
        assert_eq!(helper_arguments(2), Some(4));
        assert_eq!(helper_arguments(44), Some(2));
        assert_eq!(helper_arguments(TRACE_PRINTK), None);
        assert_eq!(helper_arguments(9999), None);
    }

    #[test]
    fn walk_sites_need_both_the_map_and_the_callback_in_their_block() {
        let walk = Insn::Call(CallTarget::Helper(FOR_EACH_MAP_ELEM));
        let insns = [
            // 0: lddw r1, map 2; 2: lddw r2, func +6 (slot 9); 4: call -> (4, 2, 9).
            ld_map(Reg::R1, 2),
            func_r2(6),
            walk,
            // 5: lddw r2, func +3 (slot 9); 7: call -> no (r1 is not a map here).
            func_r2(3),
            walk,
            // 8: exit; 9: the callback.
            Insn::Exit,
            mov(Reg::R0, Operand::Imm(0)),
            Insn::Exit,
        ];
        assert_eq!(Blocks::new(&insns).map_walks(), [(4, 2, 9)]);
    }
}
