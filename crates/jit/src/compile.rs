//! From a loaded program to machine code: the block plan, then emission passes until the
//! jump encodings settle.
//!
//! Jumps start with 32-bit displacements. After each pass, every jump whose target lies within
//! an 8-bit displacement is switched to the short form for the next pass. Instructions only
//! shrink from pass to pass; the padding before loop heads may change (see
//! [`Plan::max_padding`]), so a jump turns short only if it still fits with every loop head
//! it spans fully padded. A distance that fit once then keeps fitting, and the passes stop as
//! soon as a pass switches nothing (typically after 2–3; at most [`MAX_PASSES`]). A final
//! check verifies every short jump against the final offsets.
//!
//! Loop heads (targets of backward jumps) start 24 bytes into a 64-byte block
//! ([`LOOP_OFFSET`](crate::emit::LOOP_OFFSET)): of the offsets swept, the one measured
//! fastest over the JIT benchmark's C loops on this project's machine (BENCHMARKS.md).

use crate::blind::Blinder;
use crate::coalesce;
use crate::combine::{self, Combine};
use crate::dead_stores;
use crate::emit::{Emitted, Emitter, FETCH_BLOCK};
use crate::error::JitError;
use crate::fold::{self, Fold};
use crate::forward;
use crate::frames::{self, LocalCall};
use crate::known;
use crate::reassociate;
use crate::rebase;
use crate::specialize::{CallSites, Specialization};
use crate::usage::{self, RegSet};
use bpfkit_isa::{CallTarget, Decoded, Insn, LdImm64Kind, Reg};
use bpfkit_vm::{Program, FUNC_ADDR_TAG};
use std::collections::BTreeMap;

/// Upper bound on emission passes (each pass can only shorten jumps).
pub(crate) const MAX_PASSES: usize = 16;

/// Longest loop body (in instructions, the jump back included) emitted twice.
const MAX_UNROLLED: u32 = 16;

/// How to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Check every memory access against the run's regions and meter the instruction
    /// budget, with the interpreter's errors (default). `false` is for programs a verifier
    /// accepted: accesses and loops are then trusted (call depth and packet bounds are still
    /// checked, they are cheap and keep the JIT's own stack safe), and so are the memory
    /// arguments of its helper calls ([`HelperCtx::trust_arguments`]).
    ///
    /// [`HelperCtx::trust_arguments`]: bpfkit_vm::HelperCtx::trust_arguments
    pub checked: bool,
    /// XOR every program-chosen immediate (ALU, jump, store, `lddw`, packet-load operands
    /// and helper numbers; not shift counts, which are masked to 0–63, nor 16-bit memory
    /// offsets, as in the kernel) with a random per-instruction key in the generated code:
    /// the kernel's constant blinding, against JIT spraying. Off by default.
    pub blind_constants: bool,
    /// Zero the bytes of each frame the program can reach before it uses the frame, so
    /// that a stack byte never written reads 0, as in the interpreter, and never host data
    /// (default). `false` is for programs a verifier proved never to read a stack byte they
    /// did not write (the kernel's unprivileged rule), where zeroing changes nothing the
    /// program can see; checked code zeroes whatever this says.
    pub zero_stack: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            checked: true,
            blind_constants: false,
            zero_stack: true,
        }
    }
}

/// A run of instructions entered only at its first: charged to the budget as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// Index (in `Plan::insns`) of its first instruction.
    pub first: u32,
    /// Number of instructions.
    pub len: u32,
}

const NONE: u32 = u32::MAX;

/// What emission needs to know beyond the instructions themselves.
pub(crate) struct Plan {
    pub insns: Vec<Decoded>,
    /// Instruction index of each jump's or local call's target.
    targets: Vec<u32>,
    /// Block starting at each instruction, if any.
    block_of: Vec<u32>,
    /// Per instruction: control may come to it other than from the instruction before (a
    /// jump, a local call or a function address goes there; everywhere with `callx`).
    pub jumped_to: Vec<bool>,
    pub blocks: Vec<Block>,
    /// Instruction index of each slot (`NONE` for `lddw` second halves).
    pub index_of_slot: Vec<u32>,
    /// Bytes at the top of each frame the program can reach ([`Program::stack_need`]):
    /// tells whether r10 escapes (all of it then).
    pub stack_need: usize,
    /// Bytes at the top of each frame zeroed before the frame is used: `stack_need`, or 0
    /// for unchecked code compiled without [`CompileOptions::zero_stack`].
    pub zero_need: usize,
    /// Whether the program has `ld_abs`/`ld_ind`.
    pub reads_packet: bool,
    /// Unchecked code without helper calls (`call <n>`, `callx`) or packet loads: it uses
    /// only the [`CoreCtx`](crate::ctx::CoreCtx) part of the run context.
    pub leaf: bool,
    /// Leaf code without calls that never names r10: it needs no stack, cannot fail, and
    /// reads only the `args` field of the context.
    pub stackless: bool,
    /// Unchecked code compiled so that tail calls jump into and out of it (see `tail`): a
    /// uniform prologue, a tail entry, and `bpf_tail_call` asking the host's resolver.
    pub tail_callable: bool,
    /// Per instruction: a conditional jump over the `ja` that follows it, emitted as the
    /// opposite condition to the `ja`'s target (unchecked code: the `ja` is then not
    /// emitted, which the budget would notice).
    pub inverted: Vec<bool>,
    /// Per instruction: a `ja` that an inverted jump before it replaces.
    pub skipped: Vec<bool>,
    /// Per instruction: address folding (unchecked, unblinded code only; see `fold`).
    pub folds: Vec<Fold>,
    /// Per instruction: load combining (unchecked code only; see `combine`).
    pub combines: Vec<Combine>,
    /// Per instruction: if it is a loop head (target of a backward jump), the index of the
    /// last jump back to it (else `NONE`).
    loop_last: Vec<u32>,
    /// Per instruction: the index of the jump back to it if it starts a loop emitted twice
    /// (unchecked code only; else `NONE`).
    unroll: Vec<u32>,
    /// Every register the program names (the prologue sets up only these).
    pub named: RegSet,
    /// Per instruction index: the r6–r9 that a function entered there may write (what a
    /// local call to it saves; all four where no local call goes).
    pub callee_writes: Vec<RegSet>,
    /// Per instruction index: the inline code of a specialised helper call (unchecked code
    /// only; see `specialize`).
    pub inline: Vec<Option<Specialization>>,
    /// Per instruction index: the registers code after it may read before writing them
    /// (unchecked code only, when the analysis settled): a helper call keeps only those of
    /// r1–r5 (a later helper call reads all five; a verifier lets none be read otherwise).
    pub live_out: Option<Vec<RegSet>>,
    /// The registers the code may read before writing them when entered at its first
    /// instruction (the main and tail entries set up only these; all in checked code).
    pub entry_live: RegSet,
    /// Per instruction index: whether a function may run it ([`Plan::function_code`];
    /// unchecked code only, else empty).
    pub in_function: Vec<bool>,
    /// Per helper call (instruction index) that indexes a map, where the index is known
    /// at compile time ([`known`]): r3 of `bpf_tail_call`, the key r2 points at for
    /// `bpf_map_lookup_elem` (unchecked code only).
    pub call_keys: BTreeMap<usize, u32>,
    /// Per instruction: a copy in a loop that coalescing made unnecessary (not emitted;
    /// see `coalesce`).
    pub elided: Vec<bool>,
    /// Per loop emitted twice (by the index of its jump back): the moves `(dst, src, k)`,
    /// `dst = src + k`, that its exit makes, in order, for the registers coalesced away or
    /// kept ahead (see `rebase`) that code after the loop reads.
    pub exit_moves: BTreeMap<usize, Vec<(Reg, Reg, i32)>>,
    /// Per loop emitted twice (by the index of its head): the additions `(iv, k)`, `iv +=
    /// k`, made as control falls into it, for the induction variables kept ahead.
    pub entry_moves: BTreeMap<usize, Vec<(Reg, i32)>>,
    /// Per instruction index: how a local call there sets up its callee's frame (see
    /// `frames`; all `Checked` but in unchecked code that zeroes no stack).
    pub local_calls: Vec<LocalCall>,
    /// Per instruction: the register a stack load reads instead of memory (see `forward`;
    /// unchecked code only).
    pub forwarded: Vec<Option<Reg>>,
    /// Per instruction: a stack store no load reads (not emitted; see `dead_stores`).
    pub dead_stores: Vec<bool>,
}

impl Plan {
    pub(crate) fn new(insns: &[Decoded], slots: usize) -> Result<Plan, JitError> {
        let n = insns.len();
        let mut index_of_slot = vec![NONE; slots];
        for (i, d) in insns.iter().enumerate() {
            index_of_slot[d.pc] = i as u32;
        }
        let resolve = |d: &Decoded, off: i64| -> Result<u32, JitError> {
            let slot = d.pc as i64 + 1 + off;
            usize::try_from(slot)
                .ok()
                .and_then(|s| index_of_slot.get(s).copied())
                .filter(|&i| i != NONE)
                .ok_or(JitError::Unsupported {
                    pc: d.pc,
                    what: "jump or call outside the program",
                })
        };
        let mut targets = vec![NONE; n];
        let mut leader = vec![false; n + 1];
        leader[0] = true;
        // A `callx` may enter any instruction.
        let callx = insns
            .iter()
            .any(|d| matches!(d.insn, Insn::Call(CallTarget::Reg(_))));
        let mut jumped_to = vec![callx; n];
        for (i, d) in insns.iter().enumerate() {
            let target = match d.insn {
                Insn::Ja { off, .. } => Some(off as i64),
                Insn::Jmp { off, .. } => Some(off as i64),
                Insn::Call(CallTarget::Local(off)) => Some(off as i64),
                Insn::LdImm64 {
                    kind: LdImm64Kind::Func,
                    imm,
                    ..
                } => Some(imm as u32 as i32 as i64),
                _ => None,
            };
            if let Some(off) = target {
                let t = resolve(d, off)?;
                targets[i] = t;
                leader[t as usize] = true;
                jumped_to[t as usize] = true;
            }
            // Control may leave or re-enter after these: end the block so that a block is
            // always charged exactly when all of it runs.
            if matches!(
                d.insn,
                Insn::Ja { .. }
                    | Insn::Jmp { .. }
                    | Insn::Exit
                    | Insn::Call(_)
                    | Insn::LdAbs { .. }
                    | Insn::LdInd { .. }
            ) {
                leader[i + 1] = true;
            }
        }
        let mut block_of = vec![NONE; n];
        let mut blocks = Vec::new();
        for i in 0..n {
            if leader[i] {
                block_of[i] = blocks.len() as u32;
                let len = (i + 1..=n).find(|&j| leader[j]).unwrap_or(n) - i;
                blocks.push(Block {
                    first: i as u32,
                    len: len as u32,
                });
            }
        }
        Ok(Plan {
            insns: insns.to_vec(),
            targets,
            block_of,
            jumped_to,
            blocks,
            index_of_slot,
            stack_need: bpfkit_isa::STACK_SIZE,
            zero_need: bpfkit_isa::STACK_SIZE,
            reads_packet: insns
                .iter()
                .any(|d| matches!(d.insn, Insn::LdAbs { .. } | Insn::LdInd { .. })),
            leaf: false,
            stackless: false,
            tail_callable: false,
            folds: vec![Fold::None; n],
            combines: vec![Combine::None; n],
            loop_last: vec![NONE; n],
            unroll: vec![NONE; n],
            inverted: vec![false; n],
            skipped: vec![false; n],
            named: insns.iter().fold(0, |set, d| set | usage::named(&d.insn)),
            callee_writes: Vec::new(),
            inline: vec![None; n],
            live_out: None,
            entry_live: usage::ALL,
            in_function: Vec::new(),
            call_keys: BTreeMap::new(),
            elided: vec![false; n],
            exit_moves: BTreeMap::new(),
            entry_moves: BTreeMap::new(),
            local_calls: vec![LocalCall::Checked; n],
            forwarded: vec![None; n],
            dead_stores: vec![false; n],
        })
    }

    /// `if cond goto L1; goto L2; L1:` becomes `if !cond goto L2; L1:` where nothing else
    /// jumps to the `goto` (the shape eBPF compilers give loop conditions).
    fn invert_jumps_over_ja(&mut self) {
        let n = self.insns.len();
        let mut targeted = vec![false; n];
        for &t in &self.targets {
            if t != NONE {
                targeted[t as usize] = true;
            }
        }
        for i in 0..n.saturating_sub(1) {
            if matches!(self.insns[i].insn, Insn::Jmp { .. })
                && self.targets[i] as usize == i + 2
                && matches!(self.insns[i + 1].insn, Insn::Ja { .. })
                && !targeted[i + 1]
                && !self.skipped[i]
            {
                self.targets[i] = self.targets[i + 1];
                self.inverted[i] = true;
                self.skipped[i + 1] = true;
            }
        }
    }

    /// Marks the targets of backward jumps (after inversion, which retargets jumps).
    fn mark_loop_heads(&mut self) {
        for i in 0..self.insns.len() {
            if self.is_jump(i) && !self.skipped[i] && self.target(i) <= i {
                let t = self.target(i);
                self.loop_last[t] = i as u32;
            }
        }
    }

    /// Whether instruction `i` is a loop head (its code is aligned).
    pub(crate) fn loop_head(&self, i: usize) -> bool {
        self.loop_last[i] != NONE
    }

    /// The most padding the emitter may put before instruction `i`.
    fn max_padding(&self, i: usize) -> usize {
        match self.loop_head(i) {
            true => FETCH_BLOCK - 1,
            false => 0,
        }
    }

    /// Marks the loops to emit twice: a block of 2 to [`MAX_UNROLLED`] instructions ending
    /// in a conditional jump back to its start, followed by an instruction to leave to.
    fn mark_unrolled(&mut self) {
        for b in &self.blocks {
            let (first, last) = (b.first as usize, (b.first + b.len - 1) as usize);
            if (2..=MAX_UNROLLED).contains(&b.len)
                && last + 1 < self.insns.len()
                && matches!(self.insns[last].insn, Insn::Jmp { .. })
                && self.targets[last] as usize == first
                && !self.inverted[last]
            {
                self.unroll[first] = last as u32;
            }
        }
    }

    /// Removes the copies back of accumulators and induction variables in loops emitted
    /// twice (see `coalesce`): after `mark_unrolled`, with register liveness settled.
    /// `live_in`: per instruction, the registers live on entry to it.
    fn coalesce_loops(&mut self, live_in: &[RegSet], rebase_offsets: bool) {
        let callx = self.has_callx();
        let Some(live) = self.live_out.as_mut() else {
            return;
        };
        let mut insns: Vec<Insn> = self.insns.iter().map(|d| d.insn).collect();
        // How many jumps and calls go to each instruction (counted once, not per loop).
        let mut sources = vec![0u32; insns.len()];
        for &t in self.targets.iter().filter(|&&t| t != NONE) {
            sources[t as usize] += 1;
        }
        // Instructions another transformation emits its own way (coalescing changes folds'
        // displacements only).
        let fixed: Vec<bool> = (0..insns.len())
            .map(|i| self.folds[i] != Fold::None || self.combines[i] != Combine::None)
            .collect();
        let fixed = |i: usize| fixed[i];
        for first in 0..insns.len() {
            let Some(&last) = self.unroll.get(first).filter(|&&l| l != NONE) else {
                continue;
            };
            let last = last as usize;
            let mut done = coalesce::coalesce_accumulators(&mut insns, first, last, &fixed);
            // Induction copies need the two registers equal on entry: the loop must be
            // entered only by falling into it, from the block before (whose code decides).
            // (The loop's own jump back is the one jump to its head.)
            let only_back = sources[first] == 1 && !callx;
            let falls_in = first > 0
                && !self.skipped[first - 1]
                && !matches!(
                    insns[first - 1],
                    Insn::Ja { .. } | Insn::Exit | Insn::Call(_)
                );
            let mut rebased = Vec::new();
            let accumulators = done.len();
            if only_back && falls_in {
                let start = (0..first).rev().find(|&j| self.block_of[j] != NONE);
                let preceding = insns[start.unwrap_or(0)..first].to_vec();
                let equal = |a: Reg, b: Reg| coalesce::equal_after(&preceding, a, b);
                done.extend(coalesce::coalesce_induction(
                    &mut insns,
                    &mut self.folds,
                    first,
                    last,
                    &equal,
                ));
                // Kept-ahead registers put their distance in the code as a constant, which
                // blinding would have to hide.
                if rebase_offsets {
                    // Registers coalescing moved stay as they are, but for the induction
                    // variable of a lag (its exit move to the lag takes the distance).
                    let temps = done.iter().fold(0, |set, c| set | usage::bit(c.temp));
                    let accs = done[..accumulators]
                        .iter()
                        .fold(0, |set, c| set | usage::bit(c.acc));
                    rebased = rebase::rebase_offsets(
                        &mut insns,
                        &mut self.folds,
                        first,
                        last,
                        &fixed,
                        temps | accs,
                    );
                }
            }
            let live_after = |r: Reg| {
                live_in
                    .get(last + 1)
                    .is_some_and(|l| l & usage::bit(r) != 0)
            };
            let mut moves = Vec::new();
            for c in done {
                self.elided[c.copy] = true;
                // `acc` now holds what the temporary held (more live is always safe).
                for out in &mut live[first..=last] {
                    *out |= usage::bit(c.acc);
                }
                // The loop's exit is the instruction after it.
                if live_after(c.temp) {
                    moves.push((c.temp, c.acc, 0));
                }
            }
            for r in &rebased {
                self.elided[r.def] = true;
                self.elided[r.def + 1] = true;
                // (`iv` was live throughout the loop already: its step reads it.)
                // Moves out of `iv` (to its lag) read its value, `k` behind its register.
                for m in moves.iter_mut().filter(|m| m.1 == r.iv) {
                    m.2 -= r.k;
                }
                if live_after(r.offset) {
                    moves.push((r.offset, r.iv, 0));
                }
            }
            for r in &rebased {
                if live_after(r.iv) {
                    moves.push((r.iv, r.iv, -r.k));
                }
            }
            if !rebased.is_empty() {
                self.entry_moves
                    .insert(first, rebased.iter().map(|r| (r.iv, r.k)).collect());
            }
            if !moves.is_empty() {
                self.exit_moves.insert(last, moves);
            }
        }
        for (d, insn) in self.insns.iter_mut().zip(insns) {
            d.insn = insn;
        }
    }

    /// The index of the loop's jump back if instruction `i` starts a loop emitted twice.
    pub(crate) fn unrolled(&self, i: usize) -> Option<usize> {
        Some(self.unroll[i])
            .filter(|&l| l != NONE)
            .map(|l| l as usize)
    }

    /// Jump site `site` (as indexed in [`Emitted::jump_ends`]): the index of its target, if
    /// the site exists.
    fn site_target(&self, site: usize) -> Option<usize> {
        let n = self.insns.len();
        if site < n {
            self.is_jump(site).then(|| self.target(site))
        } else {
            // The exit of an unrolled loop goes to the instruction after it.
            let last = site - n;
            (self.is_jump(last) && self.unroll[self.target(last)] == last as u32)
                .then_some(last + 1)
        }
    }

    /// Where control may go after instruction `i` inside its function (a local call
    /// continues after it; its callee is analysed on its own).
    pub(crate) fn successors(&self, i: usize) -> [Option<usize>; 2] {
        // An inverted jump falls through past the `ja` it replaces.
        let skip = self.inverted[i] as usize;
        let next = (i + 1 + skip < self.insns.len()).then_some(i + 1 + skip);
        match self.insns[i].insn {
            Insn::Exit => [None, None],
            Insn::Ja { .. } => [Some(self.target(i)), None],
            Insn::Jmp { .. } => [next, Some(self.target(i))],
            _ => [next, None],
        }
    }

    /// Per instruction index: whether a function may run it (see [`usage::function_code`]):
    /// code reachable from a local call's target or a function whose address an `lddw`
    /// loads; all code when the program has a `callx` (its target may be computed).
    fn function_code(&self) -> Vec<bool> {
        let n = self.insns.len();
        if self.has_callx() {
            return vec![true; n];
        }
        let entries = (0..n).filter_map(|i| match self.insns[i].insn {
            Insn::Call(CallTarget::Local(_)) => Some(self.target(i)),
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                ..
            } => {
                let slot = self.imm64(i).ok()? & 0xffff_ffff;
                let index = *self.index_of_slot.get(slot as usize)?;
                (index != NONE).then_some(index as usize)
            }
            _ => None,
        });
        usage::function_code(n, entries, |i| self.successors(i))
    }

    /// Whether the program has a `callx` (which may enter any instruction).
    fn has_callx(&self) -> bool {
        self.insns
            .iter()
            .any(|d| matches!(d.insn, Insn::Call(CallTarget::Reg(_))))
    }

    /// Whether the code has a call besides local calls of the kinds `exempt` accepts.
    pub(crate) fn has_calls_besides(&self, exempt: impl Fn(LocalCall) -> bool) -> bool {
        self.insns.iter().enumerate().any(|(i, d)| match d.insn {
            Insn::Call(CallTarget::Local(_)) => !exempt(self.local_calls[i]),
            Insn::Call(_) => true,
            _ => false,
        })
    }

    /// Index of the instruction a jump or local call at index `i` goes to.
    pub(crate) fn target(&self, i: usize) -> usize {
        self.targets[i] as usize
    }

    /// The block starting at instruction `i`, if one does.
    pub(crate) fn block_at(&self, i: usize) -> Option<u32> {
        Some(self.block_of[i]).filter(|&b| b != NONE)
    }

    /// The value an `lddw` at index `i` loads (function addresses as the interpreter tags them).
    pub(crate) fn imm64(&self, i: usize) -> Result<u64, JitError> {
        let d = self.insns[i];
        match d.insn {
            Insn::LdImm64 {
                kind: LdImm64Kind::Imm,
                imm,
                ..
            } => Ok(imm),
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                ..
            } => Ok(FUNC_ADDR_TAG | self.insns[self.target(i)].pc as u64),
            _ => Err(JitError::Unsupported {
                pc: d.pc,
                what: "unresolved pseudo lddw",
            }),
        }
    }

    /// The slot where the budget ran out: `remaining` instructions into block `block`.
    pub(crate) fn budget_pc(&self, block: usize, remaining: u64) -> usize {
        let b = self.blocks[block.min(self.blocks.len() - 1)];
        let i = b.first as usize + (remaining.min(b.len as u64 - 1)) as usize;
        self.insns[i].pc
    }

    /// Records the specialised call sites, each of which must be a `call <helper>`.
    fn specialize(&mut self, sites: &CallSites) -> Result<(), JitError> {
        for (pc, &specialization) in sites.iter() {
            let i = self
                .index_of_slot
                .get(pc)
                .copied()
                .filter(|&i| i != NONE)
                .filter(|&i| {
                    matches!(
                        self.insns[i as usize].insn,
                        Insn::Call(CallTarget::Helper(_))
                    )
                })
                .ok_or(JitError::Unsupported {
                    pc,
                    what: "a specialisation of an instruction other than `call <helper>`",
                })?;
            if let Specialization::Loop { callback }
            | Specialization::ArrayForEach { callback, .. } = specialization
            {
                self.index_of_slot
                    .get(callback)
                    .filter(|&&i| i != NONE)
                    .ok_or(JitError::Unsupported {
                        pc,
                        what: "a `bpf_loop` callback that is not an instruction",
                    })?;
            }
            self.inline[i as usize] = Some(specialization);
        }
        Ok(())
    }

    /// Whether instruction `i` is a jump (with a displacement the passes may shorten).
    fn is_jump(&self, i: usize) -> bool {
        matches!(self.insns[i].insn, Insn::Ja { .. } | Insn::Jmp { .. })
    }
}

/// Whether the program takes the address of one of its functions (for a helper's callback
/// or `callx`).
fn takes_function_addresses(insns: &[Decoded]) -> bool {
    insns.iter().any(|d| {
        matches!(
            d.insn,
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                ..
            }
        )
    })
}

/// Compiles `program` to machine code (position-independent: internal references are
/// relative; runtime addresses come from the run context).
/// `sites` are honoured in unchecked code only (checked code calls the helpers).
/// `tail_callable` asks for code that tail calls can jump into and out of; only unchecked
/// code honours it (checked code keeps `bpf_tail_call` an ordinary helper call).
pub(crate) fn compile(
    program: &Program,
    options: &CompileOptions,
    sites: &CallSites,
    tail_callable: bool,
) -> Result<(Plan, Emitted), JitError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(JitError::UnsupportedHost);
    }
    let mut plan = Plan::new(program.insns(), program.slot_count())?;
    plan.specialize(sites)?;
    if options.checked {
        // Checked code proves what it does at run time: it trusts no host promise.
        plan.inline.fill(None);
    }
    if takes_function_addresses(&plan.insns) {
        // Its functions may run as a helper's callbacks, with helpers of their own.
        for site in plan.inline.iter_mut() {
            if let Some(Specialization::HostCall { .. }) = site {
                *site = Some(Specialization::PlainCall);
            }
        }
    }
    let mut insns: Vec<Insn> = plan.insns.iter().map(|d| d.insn).collect();
    if !options.checked {
        plan.invert_jumps_over_ja();
    }
    plan.mark_loop_heads();
    if !options.checked {
        let starts: Vec<bool> = (0..insns.len())
            .map(|i| plan.block_at(i).is_some())
            .collect();
        let block_start = |i: usize| starts[i];
        let in_function = plan.function_code();
        // r1..rn for a helper declared to read n arguments, else all five; an inline array
        // lookup reads only r2 (the key's address), a call with the map bound all but r1.
        let call_reads = |i: usize, id| {
            let declared = sites
                .arguments(id)
                .map_or(usage::ARGS, |n| ((1 << n) - 1) << 1);
            match plan.inline[i] {
                Some(Specialization::IndexedLookup { .. }) => usage::bit(Reg::R2),
                Some(Specialization::BoundCall { .. }) => declared & !usage::bit(Reg::R1),
                _ => declared,
            }
        };
        let successors = |i| plan.successors(i);
        let mut live = fold::live_out(&insns, &successors, &in_function, &call_reads);
        if let Some(l) = &live {
            // Regrouping writes registers the code did not write there: liveness (and what
            // callees write, below) must see the new code.
            if reassociate::reassociate(&mut insns, &block_start, &l.out) {
                live = fold::live_out(&insns, &successors, &in_function, &call_reads);
            }
        }
        let mut live_in = Vec::new();
        if let Some(live) = live {
            if !options.blind_constants {
                plan.folds = fold::folds(&insns, &block_start, &live.out);
            }
            plan.combines = combine::combines(&insns, &block_start, &live.out, &plan.folds);
            plan.entry_live = live.entry;
            plan.live_out = Some(live.out);
            live_in = live.live_in;
        }
        plan.in_function = in_function;
        let before = known::Before::new(&insns, &block_start);
        for i in 0..insns.len() {
            let key = match plan.inline[i] {
                Some(Specialization::TailCall { .. }) => {
                    before.constant(i, Reg::R3).map(|k| k as u32)
                }
                Some(Specialization::IndexedLookup { .. }) => before.stack_key_u32(i),
                _ => None,
            };
            if let Some(key) = key {
                plan.call_keys.insert(i, key);
            }
        }
        for (d, &insn) in plan.insns.iter_mut().zip(&insns) {
            d.insn = insn;
        }
        plan.mark_unrolled();
        plan.coalesce_loops(&live_in, !options.blind_constants);
    }
    let entries = (0..plan.insns.len())
        .filter(|&i| matches!(plan.insns[i].insn, Insn::Call(CallTarget::Local(_))))
        .map(|i| plan.target(i));
    plan.callee_writes = usage::callee_writes(&insns, entries, |i| plan.successors(i));
    plan.stack_need = program.stack_need();
    plan.zero_need = match options.checked || options.zero_stack {
        true => plan.stack_need,
        false => 0,
    };
    if !options.checked && plan.stack_need < bpfkit_isa::STACK_SIZE {
        plan.forwarded = forward::forwarded(&plan);
        plan.dead_stores = dead_stores::dead_stores(&plan);
    }
    plan.tail_callable = tail_callable && !options.checked;
    // Inline loops move r10 themselves and tail calls reset it: their code keeps the checks.
    let moves_frames_itself = plan.inline.iter().any(|s| {
        matches!(
            s,
            Some(Specialization::Loop { .. } | Specialization::ArrayForEach { .. })
        )
    });
    if !options.checked && plan.zero_need == 0 && !plan.tail_callable && !moves_frames_itself {
        plan.local_calls = frames::local_calls(&insns, |i| plan.target(i), |i| plan.successors(i));
    }
    // Tail-callable code always runs with the whole context (a tail call may enter it).
    // Specialised helper calls call nothing (but an inline `for_each` may fall back to the
    // helper, a pure or bound call calls Rust, which needs rsp aligned, and a plain call is
    // a helper call): code whose only helper calls are the others is leaf.
    plan.leaf = !options.checked
        && !plan.tail_callable
        && !plan.reads_packet
        && !plan.insns.iter().zip(&plan.inline).any(|(d, inline)| {
            matches!(
                inline,
                None | Some(
                    Specialization::ArrayForEach { .. }
                        | Specialization::PureCall { .. }
                        | Specialization::BoundCall { .. }
                        | Specialization::PlainCall
                        | Specialization::HostCall { .. }
                        | Specialization::IndirectCall { .. }
                        | Specialization::TailCall { .. }
                )
            ) && matches!(
                d.insn,
                Insn::Call(CallTarget::Helper(_) | CallTarget::Reg(_) | CallTarget::Kfunc(_))
            )
        });
    // Set after `leaf`, which it refines.
    plan.stackless = plan.leaf
        && plan.named & 1 << 10 == 0
        && !plan.has_calls_besides(|kind| kind == LocalCall::Frameless);
    let n = plan.insns.len();
    // Jump sites: the instructions, then the exits of unrolled loops (by their last index).
    let targets: Vec<Option<usize>> = (0..2 * n).map(|s| plan.site_target(s)).collect();
    let mut short = vec![false; 2 * n];
    let mut blinder = options.blind_constants.then(Blinder::new);
    // The most padding before each instruction index, to bound what a jump spans.
    let mut padding_before = vec![0usize; n + 1];
    for i in 0..n {
        padding_before[i + 1] = padding_before[i] + plan.max_padding(i);
    }
    let mut pass = 1;
    let out = loop {
        let out = Emitter::emit(&plan, options.checked, &short, blinder.as_mut())?;
        let mut changed = false;
        for (site, short) in short.iter_mut().enumerate() {
            let Some(target) = targets[site] else {
                continue;
            };
            if *short {
                continue;
            }
            let from = site % n;
            let rel = out.offsets[target] as i64 - out.jump_ends[site] as i64;
            // Loop heads in between (forward: `(from, target]`; backward: `(target, from]`)
            // may get more padding in later passes.
            let (lo, hi) = if target > from {
                (from, target)
            } else {
                (target, from)
            };
            let slack = (padding_before[hi + 1] - padding_before[lo + 1]) as i64;
            let worst = if rel >= 0 { rel + slack } else { rel - slack };
            if i8::try_from(worst).is_ok() {
                *short = true;
                changed = true;
            }
        }
        if !changed || pass == MAX_PASSES {
            break out;
        }
        pass += 1;
    };
    // Final check: every short jump reaches its target from where it ended up.
    for site in (0..2 * n).filter(|&s| short[s]) {
        let (from, target) = (site % n, targets[site].unwrap_or(0));
        let rel = out.offsets[target] as i64 - out.jump_ends[site] as i64;
        // (A jump to the next instruction may be empty; an unrolled loop's exit never is.)
        if (site >= n || target != from + 1) && i8::try_from(rel).is_err() {
            return Err(JitError::Assemble(format!(
                "insn {}: short jump of {rel} bytes after {pass} passes",
                plan.insns[from].pc
            )));
        }
    }
    Ok((plan, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_isa::{AluOp, JmpCond, Operand, Reg, Width};

    fn plan(insns: &[Insn]) -> Plan {
        let p = Program::load(insns).unwrap();
        Plan::new(p.insns(), p.slot_count()).unwrap()
    }

    #[test]
    fn default_options_are_checked_and_unblinded() {
        let o = CompileOptions::default();
        assert!(o.checked && !o.blind_constants);
    }

    #[test]
    fn blocks_split_at_targets_and_after_control_flow() {
        let mov = Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(1),
        };
        let jeq = Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R1,
            src: Operand::Imm(0),
            off: -2,
        };
        // 0: mov  1: mov  2: jeq -> 1   3: mov  4: exit
        let p = plan(&[mov, mov, jeq, mov, Insn::Exit]);
        let got: Vec<(u32, u32)> = p.blocks.iter().map(|b| (b.first, b.len)).collect();
        assert_eq!(got, [(0, 1), (1, 2), (3, 2)]);
        assert_eq!(p.target(2), 1);
        assert_eq!(p.budget_pc(1, 1), 2);
    }
}
