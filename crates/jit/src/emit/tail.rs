//! `bpf_tail_call` in tail-callable code: a jump into the target's code (see `crate::tail`).
//!
//! In the main function, when the run has a resolver, the call site saves r1–r5 and calls
//! the resolver with the context, the map handle (r2) and the index (r3), which are already
//! in the SysV argument registers 2 and 3. The resolver returns the target's tail entry
//! (jumped to; it resets rsp itself), [`FAILED`] (the tail call fails: r0 = 0 and the
//! program goes on, as the helper does) or [`HELPER`] (make the ordinary helper call, which
//! also serves runs without a resolver and tail calls from bpf-to-bpf functions, where the
//! runtime's helper reports them unsupported). A panic in the host's resolver is recorded
//! like a helper's: the status is set and the code leaves through the common exit.

use super::{asm, Emitter};
use crate::ctx::o;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

/// `BPF_FUNC_tail_call`.
pub(crate) const TAIL_CALL: i32 = 12;

/// Resolver result: no jump, make the helper call (or leave, if the status says so).
pub(crate) const HELPER: u64 = 0;
/// Resolver result: the tail call failed; r0 = 0, continue after the call.
pub(crate) const FAILED: u64 = 1;

impl Emitter<'_> {
    /// `call 12` at `pc`.
    pub(super) fn tail_call(&mut self, pc: u32) {
        let (helper, not_taken, check, done) = (
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
        );
        let exit = self.exit;
        asm!(self.asm
            ; mov r11, [r12 + o::TAIL_FN]
            ; test r11, r11
            ; jz =>helper
            // r10 is the stack top only in the main function.
            ; cmp rbp, [r12 + o::STACK_TOP]
            ; jne =>helper
            ; mov QWORD [r12 + o::CALL_PC], DWORD pc as i32
            ; push rdi
            ; push rsi
            ; push rdx
            ; push rcx
            ; push r8
            ; mov rdi, r12
            ; call r11
            ; pop r8
            ; pop rcx
            ; pop rdx
            ; pop rsi
            ; pop rdi
            ; cmp rax, FAILED as i32
            ; jbe =>not_taken
            ; jmp rax
            ; =>not_taken
            ; jb =>check
            ; xor eax, eax
            ; jmp =>done
            ; =>check
            ; cmp QWORD [r12 + o::STATUS], 0
            ; jne =>exit
            ; =>helper
        );
        self.call_helper(pc, Some(TAIL_CALL), Some(done));
    }
}
