//! Calls: helpers (through the Rust trampoline), bpf-to-bpf calls and `callx`.
//!
//! A local call pushes rbp and those of r6–r9 its callee may write (`usage`; all four for
//! `callx`), padded so that rsp stays ≡ 8 mod 16 at every function entry, moves r10 one
//! 512-byte frame down and `call`s the target; the target's `exit` is a `ret`, after which
//! the pops restore the caller's r6–r9 and r10. Before that,
//! one compare of the callee's frame against the zeroed part of the stack sends two rare
//! cases out of line: a frame this run never used (zeroed first) and a ninth frame (error).
//!
//! A helper call stores the helper number, pc and r10 in the context, saves r1–r5 (the
//! interpreter leaves them unchanged across helper calls, and so does the JIT; unchecked
//! code saves only those code after the call may read, by a liveness analysis: none in a
//! verified program), shifts them into the SysV argument registers after the context
//! pointer and calls the trampoline. The
//! trampoline returns r0; when the helper stopped the program or failed, it sets the
//! context's status and the code leaves through the common exit.
//!
//! A specialised helper call (unchecked code only, see `specialize`) is its inline code
//! instead: it writes r0 and the scratch registers r10/r11, nothing else.
//!
//! Tail calls (helper 12) arrive here as an ordinary helper call, except in tail-callable
//! code, where `tail` first tries a jump and falls back to this call.

use super::{asm, callee_saved, Emitter, Stub};
use crate::ctx::o;
use crate::frames::LocalCall;
use crate::program::jo;
use crate::regs::{x, R10};
use crate::specialize::Specialization;
use crate::usage::{bit, RegSet, ARGS, CALLEE_SAVED};
use bpfkit_isa::{Reg, STACK_SIZE};
use bpfkit_vm::FUNC_ADDR_TAG;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};

/// `BPF_FUNC_for_each_map_elem`.
const FOR_EACH_MAP_ELEM: i32 = 164;

/// r1–r5 in the order their values are pushed.
const ARG_REGS: [Reg; 5] = [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];

/// `-EINVAL`: what the inlined helpers return for flags they do not know.
const EINVAL: i32 = -22;

impl Emitter<'_> {
    /// Calls helper `id`, or the helper whose number is in r11 when `id` is `None`.
    /// `done` is bound after the call when given (for `callx`).
    pub(super) fn call_helper(&mut self, pc: u32, id: Option<i32>, done: Option<DynamicLabel>) {
        self.call_helper_through(pc, id, done, o::HELPER_FN)
    }

    /// [`call_helper`](Self::call_helper) through the trampoline at context offset
    /// `trampoline` (the full one, or the plain one of `Specialization::PlainCall`).
    fn call_helper_through(
        &mut self,
        pc: u32,
        id: Option<i32>,
        done: Option<DynamicLabel>,
        trampoline: i32,
    ) {
        if self.checked {
            asm!(self.asm; mov [r12 + o::BUDGET_LEFT], r9);
        }
        match id {
            // The helper number is program-chosen too: blind it like any immediate.
            Some(id) if self.blinding() => {
                self.load_imm(R10, id, true);
                asm!(self.asm; mov [r12 + o::CALL_ID], r10);
            }
            Some(id) => asm!(self.asm; mov QWORD [r12 + o::CALL_ID], DWORD id),
            None => asm!(self.asm; mov [r12 + o::CALL_ID], r11),
        }
        let exit = self.exit;
        asm!(self.asm
            ; mov QWORD [r12 + o::CALL_PC], DWORD pc as i32
            ; mov [r12 + o::CALL_R10], rbp
        );
        let keep = self.live_args();
        self.save_args_of(keep);
        self.args_after_first();
        asm!(self.asm
            ; mov rdi, r12
            ; call QWORD [r12 + trampoline]
        );
        self.restore_args_of(keep);
        asm!(self.asm
            ; cmp QWORD [r12 + o::STATUS], 0
            ; jne =>exit
        );
        if self.checked {
            // Callbacks run by the helper consumed budget too.
            asm!(self.asm; mov r9, [r12 + o::BUDGET_LEFT]);
        }
        if let Some(done) = done {
            asm!(self.asm; =>done);
        }
    }

    /// The inline code of a specialised call of helper `id`.
    pub(super) fn specialized_call(&mut self, pc: u32, id: i32, specialization: Specialization) {
        match specialization {
            Specialization::IndexedLookup { base, stride, len } => {
                self.indexed_lookup(base, stride, len)
            }
            Specialization::Loop { callback } => {
                let target = self.plan.index_of_slot[callback] as usize;
                self.inline_loop(pc, target)
            }
            // Outside tail-callable code a tail call is an ordinary helper call.
            Specialization::TailCall { .. } => self.call_helper(pc, Some(12), None),
            Specialization::PureCall { func } => self.direct_call(func, None),
            Specialization::BoundCall { func, r1 } => self.direct_call(func, Some(r1)),
            Specialization::PlainCall => self.call_helper_through(pc, Some(id), None, o::PLAIN_FN),
            Specialization::HostCall { func } => self.host_call(func),
            Specialization::IndirectCall { func_at, r1_at } => {
                self.indirect_call(pc, id, func_at, r1_at)
            }
            Specialization::ArrayForEach {
                base,
                stride,
                len,
                callback,
            } => {
                let target = self.plan.index_of_slot[callback] as usize;
                self.inline_array_for_each(pc, target, base, stride, len)
            }
        }
    }

    /// A direct call of a host function with r1–r5 (r1 replaced by `r1` if given), which
    /// keep their values (those code after the call may read).
    fn direct_call(&mut self, func: u64, r1: Option<u64>) {
        // r1–r5 are rdi, rsi, rdx, rcx, r8: already the SysV arguments.
        let keep = self.live_args();
        self.save_args_of(keep);
        if let Some(r1) = r1 {
            asm!(self.asm; mov rdi, QWORD r1 as i64);
        }
        asm!(self.asm
            ; mov rax, QWORD func as i64
            ; call rax
        );
        self.restore_args_of(keep);
    }

    /// A direct call of a host function with the run's helpers object before r1–r5 (see
    /// [`Specialization::HostCall`]), which keep their values (those code after the call
    /// may read).
    fn host_call(&mut self, func: u64) {
        let keep = self.live_args();
        self.save_args_of(keep);
        self.args_after_first();
        asm!(self.asm
            // The context holds the address of the run's `&mut H`, whose first word is the
            // object's address (a wide reference's too).
            ; mov rdi, [r12 + o::HELPERS]
            ; mov rdi, [rdi]
            ; mov rax, QWORD func as i64
            ; call rax
        );
        self.restore_args_of(keep);
    }

    /// r1–r5 (rdi, rsi, rdx, rcx, r8) moved one SysV argument register along, to rsi–r9:
    /// the callee takes a host pointer first.
    fn args_after_first(&mut self) {
        asm!(self.asm
            ; mov r9, r8
            ; mov r8, rcx
            ; mov rcx, rdx
            ; mov rdx, rsi
            ; mov rsi, rdi
        );
    }

    /// A call of the function whose address is at `r1 + func_at`, with r1 = the word at
    /// `r1 + r1_at`, or a plain call of helper `id` where that address is 0 (see
    /// [`Specialization::IndirectCall`]).
    fn indirect_call(&mut self, pc: u32, id: i32, func_at: i32, r1_at: i32) {
        let (plain, done) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        // r1 is rdi; r0 (rax) is the call's result anyway.
        asm!(self.asm
            ; mov rax, [rdi + func_at]
            ; test rax, rax
            ; jz =>plain
        );
        let keep = self.live_args();
        self.save_args_of(keep);
        asm!(self.asm
            ; mov rdi, [rdi + r1_at]
            ; call rax
        );
        self.restore_args_of(keep);
        asm!(self.asm
            ; jmp =>done
            ; =>plain
        );
        self.call_helper_through(pc, Some(id), Some(done), o::PLAIN_FN);
    }

    /// `bpf_for_each_map_elem` over an array as a counted loop of local calls (see
    /// [`Specialization::ArrayForEach`]). r1–r5 are saved on the native stack, then the
    /// map, the context and i (8 pushes: rsp keeps its alignment). r10 moves one frame
    /// down for the loop: the key lives at the top of that frame, and each call enters the
    /// frame below it. That frame is zeroed (when the code zeroes frames) before the key is
    /// first written, so the calls' own zeroing never reaches it.
    fn inline_array_for_each(&mut self, pc: u32, target: usize, base: u64, stride: u32, len: u32) {
        const FRAME: i32 = STACK_SIZE as i32;
        let (generic, again, stop, done) = (
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
        );
        // r1 = rdi (map), r3 = rdx (context), r4 = rcx (flags).
        asm!(self.asm
            ; mov rax, EINVAL
            ; test rcx, rcx
            ; jnz =>done
            // The callback's r10 would be two frames below this one.
            ; lea r10, [rbp - 2 * FRAME]
            ; cmp r10, [r12 + o::STACK_MIN_R10]
            ; jb =>generic
        );
        // Enter the key's frame as a call would (zeroing it if this run never used it).
        let (at, resume) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        asm!(self.asm
            ; lea r10, [rbp - 2 * FRAME]
            ; cmp r10, [r12 + o::ZEROED_LOW]
            ; jb =>at
            ; =>resume
        );
        self.stubs.push(Stub::CallSlow { at, resume, pc });
        self.save_args();
        asm!(self.asm
            ; push rdi
            ; push rdx
            ; push 0
            ; sub rbp, FRAME
            ; xor eax, eax
        );
        if len == 0 {
            asm!(self.asm; jmp =>stop);
        }
        asm!(self.asm
            ; =>again
            ; mov [rbp - 8], eax
            ; mov r11d, eax
            ; mov rdx, QWORD base as i64
        );
        match stride {
            8 => asm!(self.asm; lea rdx, [rdx + r11 * 8]),
            s if s <= i32::MAX as u32 => asm!(self.asm; imul r11, r11, s as i32; add rdx, r11),
            s => asm!(self.asm; mov r10d, s as i32; imul r11, r10; add rdx, r11),
        }
        asm!(self.asm
            ; mov rdi, [rsp + 16]
            ; lea rsi, [rbp - 8]
            ; mov rcx, [rsp + 8]
            ; xor r8d, r8d
        );
        let writes = self.plan.callee_writes[target];
        self.call_local(pc, Some(self.labels[target]), writes, LocalCall::Checked);
        asm!(self.asm
            ; mov r11, rax
            ; mov rax, [rsp]
            ; add rax, 1
            ; mov [rsp], rax
            ; test r11, r11
            ; jnz =>stop
            ; mov r11d, len as i32
            ; cmp rax, r11
            ; jb =>again
            ; =>stop
            ; add rbp, FRAME
        );
        self.leave_inline_loop();
        asm!(self.asm
            ; jmp =>done
            ; =>generic
        );
        self.call_helper(pc, Some(FOR_EACH_MAP_ELEM), Some(done));
    }

    /// `bpf_loop` as a counted loop of local calls (see [`Specialization::Loop`]). r1–r5
    /// are saved on the native stack, then the loop's state: the count, the context and i
    /// (8 pushes: rsp keeps its alignment for the calls).
    fn inline_loop(&mut self, pc: u32, target: usize) {
        const E2BIG: i32 = -7;
        const MAX_LOOPS: i32 = 1 << 23;
        let (again, stop, done) = (
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
        );
        // r1 = rdi, r3 = rdx, r4 = rcx.
        asm!(self.asm
            ; mov rax, EINVAL
            ; test rcx, rcx
            ; jnz =>done
            ; mov rax, E2BIG
            ; cmp edi, MAX_LOOPS
            ; ja =>done
        );
        self.save_args();
        asm!(self.asm
            ; mov eax, edi
            ; push rax
            ; push rdx
            ; push 0
            ; test eax, eax
            ; jz =>stop
            ; =>again
            ; mov rdi, [rsp]
            ; mov rsi, [rsp + 8]
            ; xor edx, edx
            ; xor ecx, ecx
            ; xor r8d, r8d
        );
        let writes = self.plan.callee_writes[target];
        self.call_local(pc, Some(self.labels[target]), writes, LocalCall::Checked);
        asm!(self.asm
            ; add QWORD [rsp], 1
            ; test rax, rax
            ; jnz =>stop
            ; mov rax, [rsp]
            ; cmp rax, [rsp + 16]
            ; jb =>again
            ; =>stop
        );
        self.leave_inline_loop();
        asm!(self.asm; =>done);
    }

    /// r1–r5 saved on the native stack (five pushes).
    pub(super) fn save_args(&mut self) {
        self.save_args_of(ARGS);
    }

    /// r1–r5 restored from [`save_args`](Self::save_args)'s pushes.
    pub(super) fn restore_args(&mut self) {
        self.restore_args_of(ARGS);
    }

    /// The r1–r5 that code after the instruction being emitted may read before writing
    /// them: what a call there must keep. All five in checked code (it keeps the
    /// interpreter's rule that helper calls leave them unchanged for any program); in
    /// unchecked code those the liveness analysis finds (none in a verified program, whose
    /// verifier makes them unreadable after a call, as the kernel's JIT assumes).
    pub(super) fn live_args(&self) -> RegSet {
        match &self.plan.live_out {
            Some(live) if !self.checked => live[self.cur] & ARGS,
            _ => ARGS,
        }
    }

    /// The registers of `keep` (of r1–r5) saved on the native stack, plus a pad word when
    /// their number is even: rsp ≡ 8 (mod 16) in a function's body, ≡ 0 for the call.
    pub(super) fn save_args_of(&mut self, keep: RegSet) {
        for r in ARG_REGS {
            if keep & bit(r) != 0 {
                asm!(self.asm; push Rq(x(r)));
            }
        }
        if keep.count_ones().is_multiple_of(2) {
            asm!(self.asm; push r11);
        }
    }

    /// The registers of `keep` restored from [`save_args_of`](Self::save_args_of)'s pushes.
    pub(super) fn restore_args_of(&mut self, keep: RegSet) {
        if keep.count_ones().is_multiple_of(2) {
            asm!(self.asm; pop r11);
        }
        for r in ARG_REGS.into_iter().rev() {
            if keep & bit(r) != 0 {
                asm!(self.asm; pop Rq(x(r)));
            }
        }
    }

    /// The end of an inline loop: r0 = the loop's count (its last state word), its other
    /// two words dropped, r1–r5 restored.
    fn leave_inline_loop(&mut self) {
        asm!(self.asm
            ; pop rax
            ; add rsp, 16
        );
        self.restore_args();
    }

    /// `r0 = (*(u32 *)r2 < len) ? base + (*(u32 *)r2) * stride : 0`, as the kernel's
    /// `array_map_gen_lookup`: one load, one compare, the scaled index added to the base.
    /// The product fits 64 bits (both factors are below 2^32). The null result is made out
    /// of line; both ends leave ZF telling whether r0 is 0, for the null check that follows
    /// (see `zf_of`). With the key known at compile time (`Plan::call_keys`), r0 is the
    /// element's address, known not to be null (`r0_nonzero`), or 0.
    fn indexed_lookup(&mut self, base: u64, stride: u32, len: u32) {
        let rax = x(Reg::R0);
        let key = self.plan.call_keys.get(&self.cur).copied();
        if let Some(key) = key.filter(|&k| k < len) {
            let at = base.wrapping_add(key as u64 * stride as u64);
            asm!(self.asm; mov rax, QWORD at as i64);
            self.r0_nonzero = true;
            return;
        }
        if key.is_some() || len == 0 {
            // A key past the end.
            asm!(self.asm; xor eax, eax);
            self.zf_of = Some((rax, true));
            return;
        }
        let (null, resume) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        // r2 is rsi; the key is zero-extended into r11. Below `len`, `cmp` leaves ZF clear.
        asm!(self.asm
            ; mov r11d, DWORD [rsi]
            ; cmp r11d, len as i32
            ; jae =>null
            ; mov rax, QWORD base as i64
        );
        self.stubs.push(Stub::NullLookup { at: null, resume });
        match stride {
            1 => asm!(self.asm; add rax, r11),
            2 => asm!(self.asm; lea rax, [rax + r11 * 2]),
            4 => asm!(self.asm; lea rax, [rax + r11 * 4]),
            8 => asm!(self.asm; lea rax, [rax + r11 * 8]),
            // `add` last: ZF is clear for the (non-null) sum.
            s if s.is_power_of_two() => {
                asm!(self.asm; shl r11, s.trailing_zeros() as i8; add rax, r11)
            }
            s if s <= i32::MAX as u32 => asm!(self.asm; imul r11, r11, s as i32; add rax, r11),
            s => asm!(self.asm; mov r10d, s as i32; imul r11, r10; add rax, r11),
        }
        asm!(self.asm; =>resume);
        self.zf_of = Some((rax, true));
    }

    /// Calls the local function at `target`, or at the code address in r11 when `None`;
    /// `writes` are the r6–r9 the callee may write (saved around the call with r10, unless
    /// `kind` is `Frameless`, which leaves r10 alone; see `frames`).
    pub(super) fn call_local(
        &mut self,
        pc: u32,
        target: Option<DynamicLabel>,
        writes: RegSet,
        kind: LocalCall,
    ) {
        if kind == LocalCall::Checked {
            let (at, resume) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
            // Frames are zeroed in order from the top, and all of them when a helper starts a
            // callback, so "the callee's frame lies below the zeroed part" also covers "the
            // callee would be a ninth frame": one compare serves both; the stub tells them
            // apart.
            asm!(self.asm
                ; lea r10, [rbp - 2 * STACK_SIZE as i32]
                ; cmp r10, [r12 + o::ZEROED_LOW]
                ; jb =>at
                ; =>resume
            );
            self.stubs.push(Stub::CallSlow { at, resume, pc });
        }
        let moves_r10 = kind != LocalCall::Frameless;
        if moves_r10 {
            asm!(self.asm; push rbp);
        }
        let saved = callee_saved(writes);
        for &r in &saved {
            asm!(self.asm; push Rq(r));
        }
        // Keeps rsp ≡ 8 (mod 16) at function entry, for calls into Rust (helpers, the slow
        // path); leaf code calls none.
        let pad = !self.plan.leaf && (saved.len() + moves_r10 as usize).is_multiple_of(2);
        if pad {
            asm!(self.asm; sub rsp, 8);
        }
        if moves_r10 {
            asm!(self.asm; sub rbp, STACK_SIZE as i32);
        }
        match target {
            Some(label) => asm!(self.asm; call =>label),
            None => asm!(self.asm; call r11),
        }
        if pad {
            asm!(self.asm; add rsp, 8);
        }
        for &r in saved.iter().rev() {
            asm!(self.asm; pop Rq(r));
        }
        if moves_r10 {
            asm!(self.asm; pop rbp);
        }
    }

    /// `callx`: a tagged function address (`lddw rN, <func>`) calls that slot's code through
    /// the context's table; a value up to `i32::MAX` is a helper number; anything else fails.
    pub(super) fn callx(&mut self, pc: u32, r: Reg) {
        let reg = x(r);
        let (helper, bad, done) = (
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
        );
        asm!(self.asm
            ; mov r11, Rq(reg)
            ; mov r10, r11
            ; shr r10, 32
            ; cmp r10d, DWORD (FUNC_ADDR_TAG >> 32) as i32
            ; jne =>helper
            ; mov r10d, r11d
            // The running program's table (`bad` takes the value from the register again).
            ; mov r11, [r12 + o::JIT]
            ; cmp r10, [r11 + jo::FUNC_TABLE_LEN]
            ; jae =>bad
            ; mov r11, [r11 + jo::FUNC_TABLE]
            ; mov r11, [r11 + r10 * 8]
            ; test r11, r11
            ; jz =>bad
        );
        self.call_local(pc, None, CALLEE_SAVED, LocalCall::Checked);
        asm!(self.asm
            ; jmp =>done
            ; =>helper
            ; cmp r11, DWORD i32::MAX
            ; ja =>bad
        );
        self.call_helper(pc, None, Some(done));
        self.stubs.push(Stub::BadCallx { at: bad, pc, reg });
    }
}
