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
use crate::program::jo;
use crate::specialize::Specialization;
use crate::tail::MAX_TAIL_CALLS;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi};

/// `BPF_FUNC_tail_call`.
pub(crate) const TAIL_CALL: i32 = 12;

/// Resolver result: no jump, make the helper call (or leave, if the status says so).
pub(crate) const HELPER: u64 = 0;
/// Resolver result: the tail call failed; r0 = 0, continue after the call.
pub(crate) const FAILED: u64 = 1;

impl Emitter<'_> {
    /// `call 12` at `pc`; with a [`Specialization::TailCall`], the fast path first.
    pub(super) fn tail_call(&mut self, pc: u32, fast: Option<Specialization>) {
        let (helper, not_taken, check, done) = (
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
            self.asm.new_dynamic_label(),
        );
        if let Some(Specialization::TailCall {
            slots,
            len,
            programs,
            count,
        }) = fast
        {
            self.tail_call_fast(slots, len, programs, count, done);
        }
        let exit = self.exit;
        asm!(self.asm
            ; mov r11, [r12 + o::TAIL_FN]
            ; test r11, r11
            ; jz =>helper
        );
        self.main_frame_or(helper);
        asm!(self.asm
            ; mov QWORD [r12 + o::CALL_PC], DWORD pc as i32
        );
        let keep = self.live_args();
        self.save_args_of(keep);
        asm!(self.asm
            ; mov rdi, r12
            ; call r11
        );
        self.restore_args_of(keep);
        asm!(self.asm
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

    /// The kernel's direct tail call: the slot read and the switch of the run's context
    /// to the target (what `tail::switch_to` does) inline, then the jump to its fast tail
    /// entry. Falls through to the ordinary path when the run has no resolver, outside
    /// the main function, or for a program number without fast code; for an index out of
    /// range, an empty slot or the limit, r0 = 0 and the program goes on at `done`.
    ///
    /// Where the index (r3) is known at compile time, as in `bpf_tail_call(ctx, &jump,
    /// 2)`, the slot's address is too: no bounds check is emitted.
    fn tail_call_fast(
        &mut self,
        slots: u64,
        len: u32,
        programs: u64,
        count: u32,
        done: DynamicLabel,
    ) {
        let (ordinary, failed) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        asm!(self.asm
            ; cmp QWORD [r12 + o::TAIL_FN], 0
            ; je =>ordinary
        );
        self.main_frame_or(ordinary);
        match self.plan.call_keys.get(&self.cur).copied() {
            Some(k) if k >= len => {
                // Always past the array: the failure, and no slot read after it.
                asm!(self.asm
                    ; xor eax, eax
                    ; jmp =>done
                    ; =>ordinary
                );
                return;
            }
            Some(k) => {
                let slot = slots + 8 * k as u64;
                asm!(self.asm
                    ; mov r10, QWORD slot as i64
                    ; mov r11, [r10]
                );
            }
            None => {
                asm!(self.asm
                    // r3 (rdx) is the index, as a u32.
                    ; mov r11d, edx
                    ; cmp r11d, len as i32
                    ; jae =>failed
                    ; mov r10, QWORD slots as i64
                    ; mov r11, [r10 + r11 * 8]
                );
            }
        }
        asm!(self.asm
            // `1 << 32 | n` holds program n; without bit 32 the slot is empty.
            ; btr r11, 32
            ; jnc =>failed
            ; cmp r11, count as i32
            ; jae =>ordinary
            ; mov r10, QWORD programs as i64
            ; mov r10, [r10 + r11 * 8]
            ; test r10, r10
            ; jz =>ordinary
            ; cmp DWORD [r12 + o::TAIL_CALLS], MAX_TAIL_CALLS as i32
            ; jae =>failed
            ; add DWORD [r12 + o::TAIL_CALLS], 1
            ; mov [r12 + o::JIT], r10
        );
        if self.plan.reads_packet {
            // A target with a fast entry reads no packet cache (the context says whether
            // the running code reads it: this code's plan says so until a jump).
            asm!(self.asm; mov BYTE [r12 + o::READS_PACKET], 0);
        }
        asm!(self.asm
            ; jmp QWORD [r10 + jo::FAST_ENTRY]
            ; =>failed
            ; xor eax, eax
            ; jmp =>done
            ; =>ordinary
        );
    }

    /// Jumps to `elsewhere` unless r10 is the stack top, as it is in the main function
    /// (nothing is emitted for code no function runs).
    fn main_frame_or(&mut self, elsewhere: DynamicLabel) {
        if self.plan.in_function.get(self.cur) == Some(&false) {
            return;
        }
        asm!(self.asm
            ; cmp rbp, [r12 + o::STACK_TOP]
            ; jne =>elsewhere
        );
    }
}
