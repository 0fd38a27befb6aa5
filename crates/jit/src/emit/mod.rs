//! Code generation, in the style of the kernel's `arch/x86/net/bpf_jit_comp.c`: one emitter
//! function per instruction class (`alu`, `jump`, `mem`, `call`), dispatched by one `match`
//! over [`Insn`]. This module holds what they share: labels, out-of-line stubs (slow paths
//! kept away from the hot code) and budget metering; `entry` has the prologue, the common
//! exit and the failure routines; `fuse` and `forward` the peepholes.
//!
//! Generated layout: prologue (`call` of the first instruction, then the common exit; in
//! tail-callable code then the tail entry, which runs into the first instruction), the
//! instructions in order, the out-of-line stubs, the shared failure routines.

// dynasm's expansion converts register numbers with `.into()` even when they are already
// `u8`; the lint fires on generated code, not on anything written here.
#![allow(clippy::useless_conversion)]

mod alu;
mod call;
mod encode;
mod entry;
mod forward;
mod fuse;
mod jump;
mod mem;
pub(crate) mod tail;

use crate::blind::Blinder;
use crate::combine::{self, Combine};
use crate::compile::Plan;
use crate::ctx::o;
use crate::error::JitError;
use crate::regs::x;
use crate::specialize::Specialization;
use crate::usage::RegSet;
use bpfkit_isa::{CallTarget, Insn, Reg};
use dynasmrt::{dynasm, x64::X64Relocation, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};
use encode::Operand as MemOperand;

/// The unit in which x86 cores fetch and cache decoded instructions, in bytes.
pub(crate) const FETCH_BLOCK: usize = 64;

/// Where in a [`FETCH_BLOCK`] loop heads (the targets of backward jumps) start, in bytes
/// (see `compile`).
pub(crate) const LOOP_OFFSET: usize = 24;

/// `dynasm!` for x86-64.
macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}
pub(crate) use asm;

/// The x86 registers of the r6–r9 in `set`, in order.
fn callee_saved(set: RegSet) -> Vec<u8> {
    [Reg::R6, Reg::R7, Reg::R8, Reg::R9]
        .into_iter()
        .filter(|r| set & 1 << r.idx() != 0)
        .map(x)
        .collect()
}

/// A slow path placed after the code, reached by a conditional jump.
enum Stub {
    /// The budget does not cover block `block`.
    Budget { at: DynamicLabel, block: u32 },
    /// A memory access the fast path did not prove safe: ask the memory map.
    Slow {
        at: DynamicLabel,
        resume: DynamicLabel,
        site: u64,
    },
    /// A local call from `pc` into a frame not zeroed yet in this run, or beyond the
    /// frame limit (r10 = base of the callee's frame).
    CallSlow {
        at: DynamicLabel,
        resume: DynamicLabel,
        pc: u32,
    },
    /// `ld_abs`/`ld_ind` at `pc` outside the packet (or without one).
    Packet { at: DynamicLabel, pc: u32 },
    /// `callx` at `pc` on a value in x86 register `reg` that is no valid target.
    BadCallx { at: DynamicLabel, pc: u32, reg: u8 },
    /// An inline array lookup's key is past the end: r0 = 0 (and ZF set).
    NullLookup {
        at: DynamicLabel,
        resume: DynamicLabel,
    },
}

/// What one emission pass produced.
pub(crate) struct Emitted {
    /// The machine code (entry at offset 0).
    pub bytes: Vec<u8>,
    /// Code offset of each instruction (by index in the plan).
    pub offsets: Vec<usize>,
    /// For each jump instruction, the offset right after its jump (else 0); then, at
    /// `n + last`, the same for the exit jump of the loop unrolled up to `last`
    /// ([`Plan::unrolled`]).
    pub jump_ends: Vec<usize>,
    /// Offset of the callback entry, if the code has one (see `entry`).
    pub callback_entry: Option<usize>,
    /// Offset of the tail entry (tail-callable code only).
    pub tail_entry: Option<usize>,
    /// Offset in the tail entry where jumps from the fast path enter (see `entry`).
    pub fast_tail_entry: Option<usize>,
}

/// One pass of code generation.
pub(crate) struct Emitter<'p> {
    asm: VecAssembler<X64Relocation>,
    plan: &'p Plan,
    checked: bool,
    /// Per jump site (indexed as [`Emitted::jump_ends`]): encode it with an 8-bit
    /// displacement (decided by earlier passes).
    short: &'p [bool],
    blinder: Option<&'p mut Blinder>,
    labels: Vec<DynamicLabel>,
    offsets: Vec<usize>,
    jump_ends: Vec<usize>,
    stubs: Vec<Stub>,
    exit: DynamicLabel,
    budget_fail: DynamicLabel,
    slow_check: DynamicLabel,
    packet_fail: DynamicLabel,
    depth_fail: DynamicLabel,
    bad_callx: DynamicLabel,
    zero_frame: DynamicLabel,
    /// Where the main entry's call of the code returns (the callback entry's too).
    returned: DynamicLabel,
    /// The last instruction left ZF set from this x86 register (at 64 bits if `true`).
    zf_of: Option<(u8, bool)>,
    /// The last instruction left r0 certainly not 0 (a pointer it computed).
    r0_nonzero: bool,
    /// Index of the instruction being emitted.
    cur: usize,
    /// The prologue runs straight into the first instruction (see `entry`).
    direct_entry: bool,
    /// Offsets of the tail entry and of its fast part, once emitted.
    tail_entry: Option<usize>,
    fast_tail_entry: Option<usize>,
    /// Emitting the second copy of an unrolled loop: its labels are the first copy's.
    copy: bool,
    /// The loop jump being emitted ends the first copy of an unrolled loop: it leaves the
    /// loop on the opposite condition.
    exit_jump: bool,
    /// Where the first copy's exit jump goes when the loop's exit makes moves
    /// ([`Plan::exit_moves`]); else to the instruction after the loop.
    loop_exit: Option<DynamicLabel>,
}

impl<'p> Emitter<'p> {
    /// Generates the whole program once.
    pub(crate) fn emit(
        plan: &'p Plan,
        checked: bool,
        short: &'p [bool],
        blinder: Option<&'p mut Blinder>,
    ) -> Result<Emitted, JitError> {
        let n = plan.insns.len();
        let mut asm = VecAssembler::new(0);
        let labels = (0..n).map(|_| asm.new_dynamic_label()).collect();
        let mut e = Emitter {
            plan,
            checked,
            short,
            blinder,
            labels,
            offsets: vec![0; n],
            jump_ends: vec![0; 2 * n],
            stubs: Vec::new(),
            exit: asm.new_dynamic_label(),
            budget_fail: asm.new_dynamic_label(),
            slow_check: asm.new_dynamic_label(),
            packet_fail: asm.new_dynamic_label(),
            depth_fail: asm.new_dynamic_label(),
            bad_callx: asm.new_dynamic_label(),
            zero_frame: asm.new_dynamic_label(),
            returned: asm.new_dynamic_label(),
            zf_of: None,
            r0_nonzero: false,
            cur: 0,
            direct_entry: false,
            tail_entry: None,
            fast_tail_entry: None,
            copy: false,
            exit_jump: false,
            loop_exit: None,
            asm,
        };
        e.prologue();
        let mut i = 0;
        while i < n {
            match plan.unrolled(i) {
                Some(last) => {
                    e.unrolled(i, last)?;
                    i = last + 1;
                }
                None => i += e.insn(i)?,
            }
        }
        e.stubs();
        e.failure_routines();
        let callback_entry = e.callback_entry();
        let bytes = e
            .asm
            .finalize()
            .map_err(|err| JitError::Assemble(err.to_string()))?;
        Ok(Emitted {
            bytes,
            offsets: e.offsets,
            jump_ends: e.jump_ends,
            callback_entry,
            tail_entry: e.tail_entry,
            fast_tail_entry: e.fast_tail_entry,
        })
    }

    /// Whether instruction `i` only writes a register that nothing reads afterwards
    /// (unchecked code: register liveness), so it need not run: an ALU operation, a byte
    /// swap or an `lddw`, none of which can fail. Clang leaves such writes where the JIT
    /// makes a helper call's argument unused: the map in r1 of an inline array lookup.
    fn dead_write(&self, i: usize) -> bool {
        let Some(live) = self.plan.live_out.as_ref().filter(|_| !self.checked) else {
            return false;
        };
        match self.plan.insns[i].insn {
            Insn::Alu { dst, .. } | Insn::End { dst, .. } | Insn::LdImm64 { dst, .. } => {
                live[i] & 1 << dst.idx() == 0
            }
            _ => false,
        }
    }

    /// One instruction: its label, the budget charge if it starts a block, its code.
    /// Returns how many instructions it emitted (more than 1 when a peephole joined them).
    fn insn(&mut self, i: usize) -> Result<usize, JitError> {
        if !self.copy {
            if self.plan.loop_head(i) {
                // Registers kept ahead in the loop (see `rebase`) get there on the way in.
                for &(iv, k) in self.plan.entry_moves.get(&i).into_iter().flatten() {
                    self.lea(true, x(iv), MemOperand::new(x(iv), None, k));
                }
                self.align_loop_head();
            }
            let label = self.labels[i];
            asm!(self.asm; =>label);
            self.offsets[i] = self.asm.offset().0;
        }
        self.cur = i;
        let block = self.plan.block_at(i);
        if self.checked {
            if let Some(block) = block {
                self.charge(block);
            }
        }
        if self.plan.elided[i] {
            // A copy made unnecessary (see `coalesce`): nothing to emit, flags and facts
            // stand.
            return Ok(1);
        }
        // Flags and facts survive only along straight-line code: into the next block
        // where only the instruction before leads (unchecked code, which charges no budget
        // there).
        let straight = block.is_none() || !self.checked && !self.plan.jumped_to[i];
        let zf = self.zf_of.take().filter(|_| straight);
        let r0_nonzero = std::mem::take(&mut self.r0_nonzero) && straight;
        if self.plan.dead_stores[i] {
            // Nothing reads what it stores (see `dead_stores`); a store sets no flags.
            self.zf_of = zf;
            self.r0_nonzero = r0_nonzero;
            return Ok(1);
        }
        if self.fused_mov_add(i) {
            return Ok(2);
        }
        if let Combine::Load16 { dst, lower, swap } = self.plan.combines[i] {
            self.combined_load(self.plan.insns[i].pc as u32, dst, lower, swap);
            self.zf_of = None;
            self.bind_following(i, combine::LEN);
            return Ok(combine::LEN);
        }
        if self.forwarded_load(i) || self.dead_write(i) {
            return Ok(1);
        }
        if self.plan.skipped[i] {
            // Replaced by the inverted jump before it.
            self.jump_ends[i] = self.asm.offset().0;
            return Ok(1);
        }
        let d = self.plan.insns[i];
        let pc = d.pc as u32;
        match d.insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(pc, width, op, dst, src)?,
            Insn::End { kind, bits, dst } => self.endian(pc, kind, bits, dst)?,
            Insn::Ja { .. } => self.ja(i),
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => self.jmp(i, width, cond, dst, src, zf, r0_nonzero),
            Insn::Call(CallTarget::Helper(tail::TAIL_CALL))
                if self.plan.tail_callable
                    && matches!(
                        self.plan.inline[i],
                        None | Some(Specialization::TailCall { .. })
                    ) =>
            {
                self.tail_call(pc, self.plan.inline[i])
            }
            Insn::Call(CallTarget::Helper(id)) => match self.plan.inline[i] {
                Some(specialization) => self.specialized_call(pc, id, specialization),
                None => self.call_helper(pc, Some(id), None),
            },
            Insn::Call(CallTarget::Local(_)) => {
                let target = self.plan.target(i);
                let writes = self.plan.callee_writes[target];
                let kind = self.plan.local_calls[i];
                self.call_local(pc, Some(self.labels[target]), writes, kind);
            }
            Insn::Call(CallTarget::Reg(r)) => self.callx(pc, r),
            Insn::Call(CallTarget::Kfunc(_)) => {
                return Err(JitError::Unsupported {
                    pc: d.pc,
                    what: "kfunc call",
                })
            }
            Insn::Exit => asm!(self.asm; ret),
            Insn::LdImm64 { dst, .. } => self.ld_imm64(dst, self.plan.imm64(i)?),
            Insn::Ldx {
                size,
                signed,
                dst,
                src,
                off,
            } => self.load(pc, size, signed, dst, src, off)?,
            Insn::St {
                size,
                dst,
                off,
                imm,
            } => self.store_imm(pc, size, dst, off, imm),
            Insn::Stx {
                size,
                dst,
                src,
                off,
            } => self.store(pc, size, dst, src, off),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(pc, size, op, dst, src, off)?,
            Insn::LdAbs { size, imm } => self.packet_load(pc, size, None, imm)?,
            Insn::LdInd { size, src, imm } => self.packet_load(pc, size, Some(src), imm)?,
        }
        Ok(1)
    }

    /// Binds the labels of instructions `i + 1 .. i + count` here, when one peephole
    /// emitted `count` instructions from `i` (for anything that names them: `callx` tables).
    fn bind_following(&mut self, i: usize, count: usize) {
        if self.copy {
            return;
        }
        for j in i + 1..i + count {
            let label = self.labels[j];
            asm!(self.asm; =>label);
            self.offsets[j] = self.asm.offset().0;
        }
    }

    /// A single-block loop from `first` to its jump back at `last`, emitted twice: the
    /// first copy leaves the loop on the opposite condition and runs into the second,
    /// whose jump goes back to the first (one taken jump per two iterations). Both copies
    /// leave through the loop's exit moves, if it has any.
    fn unrolled(&mut self, first: usize, last: usize) -> Result<(), JitError> {
        let moves = self.plan.exit_moves.get(&last);
        self.loop_exit = moves.map(|_| self.asm.new_dynamic_label());
        for copy in [false, true] {
            self.copy = copy;
            let mut j = first;
            while j < last {
                j += self.insn(j)?;
            }
            self.exit_jump = !copy;
            self.insn(last)?;
            self.exit_jump = false;
        }
        self.copy = false;
        if let (Some(label), Some(moves)) = (self.loop_exit.take(), moves) {
            asm!(self.asm; =>label);
            for &(dst, src, k) in moves {
                match k {
                    0 => asm!(self.asm; mov Rq(x(dst)), Rq(x(src))),
                    // `lea`, not `add`: the flags stand.
                    _ => self.lea(true, x(dst), MemOperand::new(x(src), None, k)),
                }
            }
        }
        Ok(())
    }

    /// Pads with `nop`s before a loop head, to the next [`LOOP_OFFSET`] in a fetch block.
    fn align_loop_head(&mut self) {
        // The recommended multi-byte nops (Intel SDM, `nop` with a memory operand), by length.
        const NOPS: [&[u8]; 8] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let at = self.asm.offset().0;
        let mut pad = (FETCH_BLOCK + LOOP_OFFSET - at % FETCH_BLOCK) % FETCH_BLOCK;
        while pad > 0 {
            let nop = NOPS[pad.min(NOPS.len()) - 1];
            self.asm.extend(nop.iter().copied());
            pad -= nop.len();
        }
    }

    /// Budget metering: charge a whole block on entry (`r9 -= len`); if that borrows, the
    /// block cannot complete and the run stops at the instruction where the budget ends.
    fn charge(&mut self, block: u32) {
        let len = self.plan.blocks[block as usize].len as i32;
        let at = self.asm.new_dynamic_label();
        match i8::try_from(len) {
            Ok(b) => asm!(self.asm; sub r9, BYTE b),
            Err(_) => asm!(self.asm; sub r9, DWORD len),
        }
        asm!(self.asm; jb =>at);
        self.stubs.push(Stub::Budget { at, block });
    }

    /// Loads `imm` into x86 register `reg`, sign-extended to 64 bits when `wide` (else
    /// zero-extended from 32), through a random key when blinding.
    fn load_imm(&mut self, reg: u8, imm: i32, wide: bool) {
        match self.blinder.as_mut().map(|b| b.next_i32()) {
            Some(key) => {
                let masked = imm ^ key;
                if wide {
                    asm!(self.asm; mov Rq(reg), DWORD masked; xor Rq(reg), DWORD key);
                } else {
                    asm!(self.asm; mov Rd(reg), DWORD masked; xor Rd(reg), DWORD key);
                }
            }
            None if wide && imm < 0 => asm!(self.asm; mov Rq(reg), DWORD imm),
            None => asm!(self.asm; mov Rd(reg), DWORD imm),
        }
    }

    fn blinding(&self) -> bool {
        self.blinder.is_some()
    }

    fn stubs(&mut self) {
        for stub in std::mem::take(&mut self.stubs) {
            match stub {
                Stub::Budget { at, block } => {
                    let fail = self.budget_fail;
                    asm!(self.asm; =>at; mov r10d, block as i32; jmp =>fail);
                }
                Stub::Slow { at, resume, site } => {
                    let check = self.slow_check;
                    asm!(self.asm
                        ; =>at
                        ; mov r10, QWORD site as i64
                        ; call =>check
                        ; jmp =>resume
                    );
                }
                Stub::CallSlow { at, resume, pc } => {
                    let (fail, zero) = (self.depth_fail, self.zero_frame);
                    let fresh = self.asm.new_dynamic_label();
                    asm!(self.asm
                        ; =>at
                        ; cmp rbp, [r12 + o::STACK_MIN_R10]
                        ; ja BYTE =>fresh
                        ; mov r10d, pc as i32
                        ; jmp =>fail
                        ; =>fresh
                        ; call =>zero
                        ; jmp =>resume
                    );
                }
                Stub::Packet { at, pc } => {
                    let fail = self.packet_fail;
                    asm!(self.asm; =>at; mov r10d, pc as i32; jmp =>fail);
                }
                Stub::NullLookup { at, resume } => {
                    asm!(self.asm; =>at; xor eax, eax; jmp =>resume);
                }
                Stub::BadCallx { at, pc, reg } => {
                    let fail = self.bad_callx;
                    asm!(self.asm; =>at; mov r11, Rq(reg); mov r10d, pc as i32; jmp =>fail);
                }
            }
        }
    }
}
