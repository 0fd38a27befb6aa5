//! The way in and the ways out: the prologue (context, arguments, the call of the first
//! instruction), the epilogue, and the shared failure routines the out-of-line stubs jump
//! to, which record what happened in the context and leave through the common exit.

// dynasm's expansion converts register numbers with `.into()` even when they are already
// `u8`; the lint fires on generated code, not on anything written here.
#![allow(clippy::useless_conversion)]

use super::{asm, callee_saved, Emitter};
use crate::ctx::{o, status};
use crate::frames::LocalCall;
use crate::regs::x;
use crate::usage::{bit, RegSet, ALL, ARGS, CALLEE_SAVED};
use bpfkit_isa::{Reg, STACK_SIZE};
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

/// How the entry saves and sets up: the same for the main entry and the callback entry,
/// which share the epilogue.
struct Frame {
    /// The callee-saved x86 registers pushed (all of r6–r9 in tail-callable code).
    saved: Vec<u8>,
    uses_ctx: bool,
    uses_r10: bool,
    pad: bool,
}

impl Emitter<'_> {
    /// Entry: `extern "sysv64" fn(ctx: *mut JitCtx) -> u64` (r0).
    ///
    /// Saves the callee-saved registers the code uses (rbp, r12 and those of the r6–r9 the
    /// program names), loads r10 and the named r1–r5 from the context, zeroes r0 and the
    /// named r6–r9, and *calls* the first instruction, so that `exit` is a plain `ret` in
    /// the main function and in local functions alike (code that saves nothing and cannot
    /// fail runs straight into its first instruction instead). Failures anywhere jump to `exit`, which
    /// restores rsp from the context, so they unwind any number of local frames at once.
    ///
    /// Tail-callable code saves all of r6–r9 (the same pushes in every such program, so
    /// code a tail call jumped into can leave through the epilogue of the code the run
    /// entered) and ends with its tail entry, which runs into the first instruction.
    pub(super) fn prologue(&mut self) {
        let first = self.labels[0];
        let frame = self.frame();
        self.enter_frame(&frame, self.plan.entry_live);
        let pushes = frame.saved.len() + frame.uses_ctx as usize + frame.uses_r10 as usize;
        if pushes == 0 && !frame.pad && !self.checked {
            // Nothing to restore and no way to fail (the code has no context): the first
            // instruction follows, and the main function's `exit` returns to the caller.
            self.direct_entry = true;
            return;
        }
        asm!(self.asm; call =>first);
        let (exit, epilogue, returned) = (self.exit, self.asm.new_dynamic_label(), self.returned);
        asm!(self.asm; =>returned);
        if self.checked {
            asm!(self.asm; mov [r12 + o::BUDGET_LEFT], r9);
        }
        asm!(self.asm; =>epilogue);
        if frame.pad {
            asm!(self.asm; add rsp, 8);
        }
        for &r in frame.saved.iter().rev() {
            asm!(self.asm; pop Rq(r));
        }
        if frame.uses_ctx {
            asm!(self.asm; pop r12);
        }
        if frame.uses_r10 {
            asm!(self.asm; pop rbp);
        }
        // Failures jump here (never in code without a context: it cannot fail).
        asm!(self.asm
            ; ret
            ; =>exit
            ; mov rsp, [r12 + o::SAVED_RSP]
            ; jmp =>epilogue
        );
        if self.plan.tail_callable {
            self.tail_entry();
        }
    }

    /// The callback entry, for code whose helpers may call back into it (code that is not
    /// leaf code, see `Plan::leaf`): the main entry's set-up with r10 and r1–r5 from the
    /// context, then a call of the code address in the context's `callback_code`,
    /// returning through the main entry's epilogue. Returns its offset.
    pub(super) fn callback_entry(&mut self) -> Option<usize> {
        if self.plan.leaf || self.direct_entry {
            return None;
        }
        let frame = self.frame();
        let at = self.asm.offset().0;
        // Callbacks start elsewhere than the first instruction: every named register.
        self.enter_frame(&frame, ALL);
        let returned = self.returned;
        asm!(self.asm
            ; call QWORD [r12 + o::CALLBACK_CODE]
            ; jmp =>returned
        );
        Some(at)
    }

    /// What the entry saves: rbp and r12 unless leaf code does without them, the r6–r9
    /// the program names, and padding for rsp's alignment.
    fn frame(&self) -> Frame {
        let saved: Vec<u8> = match self.plan.tail_callable {
            true => callee_saved(CALLEE_SAVED),
            false => callee_saved(self.plan.named),
        };
        // Leaf code cannot fail but in a call that checks its frame: without one it needs no
        // context after the prologue, nor rsp aligned (it calls no Rust), nor r10 unless it
        // names it or a call moves it.
        let (uses_ctx, uses_r10, align) = match self.plan.leaf {
            true => (
                self.plan.has_calls_besides(|k| k != LocalCall::Checked),
                self.plan.has_calls_besides(|k| k == LocalCall::Frameless)
                    || self.plan.named & 1 << 10 != 0,
                false,
            ),
            false => (true, true, true),
        };
        let pushes = saved.len() + uses_ctx as usize + uses_r10 as usize;
        // rsp ≡ 8 (mod 16) at every function entry, as after a SysV call.
        let pad = align && pushes.is_multiple_of(2);
        Frame {
            saved,
            uses_ctx,
            uses_r10,
            pad,
        }
    }

    /// Saves registers and loads the initial state from the context (rdi): of the
    /// registers, those of `live` (see [`initial_registers`](Self::initial_registers)).
    fn enter_frame(&mut self, frame: &Frame, live: RegSet) {
        if frame.uses_r10 {
            asm!(self.asm; push rbp);
        }
        if frame.uses_ctx {
            asm!(self.asm; push r12);
        }
        for &r in &frame.saved {
            asm!(self.asm; push Rq(r));
        }
        if frame.pad {
            asm!(self.asm; sub rsp, 8);
        }
        if frame.uses_ctx {
            asm!(self.asm
                ; mov r12, rdi
                ; mov [r12 + o::SAVED_RSP], rsp
            );
        }
        if frame.uses_r10 {
            asm!(self.asm; mov rbp, [rdi + o::STACK_TOP]);
        }
        self.initial_registers(7, live);
        if self.checked {
            asm!(self.asm; mov r9, [r12 + o::BUDGET_LEFT]);
        }
    }

    /// r0 = 0, the r1–r5 the program names from the run's arguments (through the context
    /// pointer in x86 register `ctx`), the named r6–r9 zeroed: of these, the registers in
    /// `live`. Code that reads a register only after writing it needs no initial value in
    /// it (unchecked code entered at its first instruction: register liveness,
    /// `Plan::entry_live`; a verified program reads only r1 and r10 there).
    fn initial_registers(&mut self, ctx: u8, live: RegSet) {
        if live & 1 != 0 {
            asm!(self.asm; xor eax, eax);
        }
        let args = self.plan.named & live & ARGS;
        if args != 0 {
            asm!(self.asm; mov r11, [Rq(ctx) + o::ARGS]);
        }
        for (i, r) in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5]
            .into_iter()
            .enumerate()
        {
            if args & bit(r) != 0 {
                asm!(self.asm; mov Rq(x(r)), [r11 + 8 * i as i32]);
            }
        }
        for r in callee_saved(self.plan.named & live & CALLEE_SAVED) {
            asm!(self.asm; xor Rd(r), Rd(r));
        }
    }

    /// The tail entry, where tail calls jump (r12 = the run's context, any rsp; see
    /// `tail`): what the entry and `execute` do per program, then straight into the
    /// first instruction.
    ///
    /// rsp goes back to the main function's level, just below the return address that
    /// the code the run entered pushed with its `call` of its first instruction: this
    /// program's `exit` returns there, into that code's epilogue, which restores what
    /// every tail-callable prologue saves. Jumping in (not calling) keeps calls and
    /// returns paired, so the CPU predicts that return. The main frame's reachable bytes
    /// are zeroed (each program of a chain starts on a zeroed stack, as in the
    /// interpreter, where it is a new run); the resolver has reset the deeper frames'
    /// `zeroed_low`.
    ///
    /// The fast path of a tail call (`emit::tail`) jumps from the main function, where rsp
    /// and r10 are already what the first three instructions set: it enters after them.
    fn tail_entry(&mut self) {
        self.tail_entry = Some(self.asm.offset().0);
        asm!(self.asm
            ; mov rsp, [r12 + o::SAVED_RSP]
            ; sub rsp, 8
            ; mov rbp, [r12 + o::STACK_TOP]
        );
        self.fast_tail_entry = Some(self.asm.offset().0);
        let need = self.plan.zero_need.next_multiple_of(16) as i32;
        if need > 0 {
            // The code before the jump may have used the deeper frames: code that zeroes
            // them zeroes them again as it enters them. (Other code reads the mark only
            // to skip the frame limit check for frames at or above it, which holds for
            // any mark of the run; the resolver resets it on the ordinary path.)
            asm!(self.asm
                ; lea r11, [rbp - STACK_SIZE as i32]
                ; mov [r12 + o::ZEROED_LOW], r11
                // The stack top is 16-aligned; generated code uses no vector registers.
                ; pxor xmm0, xmm0
            );
        }
        for off in (-need..0).step_by(16) {
            asm!(self.asm; movdqu [rbp + off], xmm0);
        }
        self.initial_registers(12, self.plan.entry_live);
        // The first instruction follows.
    }

    /// The shared ends of the stubs: record what happened in the context and leave.
    pub(super) fn failure_routines(&mut self) {
        if self.direct_entry {
            // Nothing can fail in such code: the common exit is unreachable.
            let exit = self.exit;
            asm!(self.asm; =>exit; ud2);
        }
        // r10 = base of a frame never used in this run (just below `zeroed_low`); only the
        // part the program can reach is zeroed (its top `zero_need` bytes). xmm0 is free:
        // generated code uses no vector registers and the SysV caller saves them.
        let zero = self.zero_frame;
        let size = bpfkit_isa::STACK_SIZE as i32;
        let from = size - self.plan.zero_need.next_multiple_of(16) as i32;
        if from < size {
            asm!(self.asm; =>zero; pxor xmm0, xmm0);
        } else {
            asm!(self.asm; =>zero);
        }
        for off in (from..size).step_by(16) {
            asm!(self.asm; movdqu [r10 + off], xmm0);
        }
        asm!(self.asm; mov [r12 + o::ZEROED_LOW], r10; ret);
        let (exit, budget, depth, packet, callx, slow) = (
            self.exit,
            self.budget_fail,
            self.depth_fail,
            self.packet_fail,
            self.bad_callx,
            self.slow_check,
        );
        asm!(self.asm
            // r10 = block id
            ; =>budget
            ; mov [r12 + o::BUDGET_LEFT], r9
            ; mov [r12 + o::ERR_ARG], r10
            ; mov QWORD [r12 + o::STATUS], status::BUDGET as i32
            ; jmp =>exit
            // r10 = pc
            ; =>depth
            ; mov [r12 + o::ERR_ARG], r10
            ; mov QWORD [r12 + o::STATUS], status::CALL_DEPTH as i32
            ; jmp =>exit
            // r10 = pc, r11 = the value called
            ; =>callx
            ; mov [r12 + o::ERR_ARG], r10
            ; mov [r12 + o::ERR_VALUE], r11
            ; mov QWORD [r12 + o::STATUS], status::BAD_CALLX as i32
            ; jmp =>exit
        );
        // The routines below read context fields outside `CoreCtx`: leaf code (see
        // `Plan::leaf`) must not contain them, as its runs have no full context.
        if self.plan.reads_packet {
            asm!(self.asm
            // r10 = pc; out of bounds ends the program with r0 = 0 (as the kernel does)
            ; =>packet
            ; cmp QWORD [r12 + o::HAS_PACKET], 0
            ; je >no_packet
            ; xor eax, eax
            ; mov [r12 + o::BUDGET_LEFT], r9
            ; jmp =>exit
            ; no_packet:
            ; mov [r12 + o::ERR_ARG], r10
            ; mov QWORD [r12 + o::STATUS], status::NO_PACKET as i32
            ; jmp =>exit
            );
        }
        if self.checked {
            asm!(self.asm
            // Called with r11 = address, r10 = site (pc | size << 32 | kind << 40). Saves
            // every register Rust may clobber that holds eBPF state; rsp is 16-aligned at
            // the call because stubs are reached at rsp ≡ 8 and `call` pushed 8 more.
            ; =>slow
            ; push rax
            ; push rdi
            ; push rsi
            ; push rdx
            ; push rcx
            ; push r8
            ; push r9
            ; push r11
            ; mov rdi, r12
            ; mov rsi, r11
            ; mov rdx, r10
            ; mov rcx, rbp
            ; call QWORD [r12 + o::SLOW_FN]
            ; test eax, eax
            ; pop r11
            ; pop r9
            ; pop r8
            ; pop rcx
            ; pop rdx
            ; pop rsi
            ; pop rdi
            ; pop rax
            ; jnz =>exit
            ; ret
            );
        }
    }
}
