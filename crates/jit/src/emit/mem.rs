//! Loads, stores, atomics, packet loads and 64-bit immediates.
//!
//! Checked code computes each address into r11 and proves it safe before the access:
//! inline, against the primary region (`start <= addr <= last`, one `last` per size and
//! direction held in the context) and the stack window `[r10 - 512, top)`; otherwise an
//! out-of-line stub calls the memory map (which knows every region, including those helpers
//! added) and either returns to the access or ends the run with the interpreter's error.
//! Accesses at constant offsets inside the current frame (`r10 - 512 ..= r10 - size`,
//! naturally aligned) need no check at all.

use super::encode::Operand;
use super::{asm, Emitter, Stub};
use crate::ctx::{o, size_class};
use crate::error::JitError;
use crate::fold::Fold;
use crate::regs::{x, R10, R11, RAX, RBP};
use bpfkit_isa::{AtomicOp, Insn, MemSize, Reg, STACK_SIZE};
use bpfkit_vm::AccessKind;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

/// Emits an instruction with the memory operand `[m.base + m.index + m.disp]` between the
/// `pre` and `post` tokens, with an 8-bit displacement when it fits (dynasm would use 32
/// bits).
macro_rules! memop {
    ($e:expr, $m:expr, [$($pre:tt)*], [$($post:tt)*]) => {{
        let (b, o) = ($m.base, $m.disp);
        match ($m.index, i8::try_from(o)) {
            (None, Ok(o8)) => asm!($e.asm; $($pre)* [BYTE Rq(b) + o8] $($post)*),
            (None, Err(_)) => asm!($e.asm; $($pre)* [Rq(b) + o] $($post)*),
            (Some(ix), Ok(o8)) => asm!($e.asm; $($pre)* [BYTE Rq(b) + Rq(ix) + o8] $($post)*),
            (Some(ix), Err(_)) => asm!($e.asm; $($pre)* [Rq(b) + Rq(ix) + o] $($post)*),
        }
    }};
}

/// Where an access goes once proven safe: `[base + index + disp]`.
#[derive(Clone, Copy)]
struct Mem {
    base: u8,
    index: Option<u8>,
    disp: i32,
}

impl Mem {
    fn at(base: u8, disp: i32) -> Mem {
        Mem {
            base,
            index: None,
            disp,
        }
    }

    fn operand(self) -> Operand {
        Operand::new(self.base, self.index, self.disp)
    }
}

/// The slow-path site word: pc, access size and kind, decoded by `runtime::slow_check`.
pub(crate) fn site(pc: u32, size: usize, access: AccessKind) -> u64 {
    let kind = match access {
        AccessKind::Read => 0u64,
        AccessKind::Write => 1,
        AccessKind::Atomic => 2,
    };
    pc as u64 | (size as u64) << 32 | kind << 40
}

impl Emitter<'_> {
    /// Computes (and in checked code, checks) the address `base + off` of a `size`-byte access.
    /// `into_r11` forces the address into r11 even in unchecked code.
    fn address(
        &mut self,
        pc: u32,
        base: Reg,
        off: i16,
        size: usize,
        access: AccessKind,
        into_r11: bool,
    ) -> Mem {
        let (b, off, n) = (x(base), off as i32, size as i32);
        if !self.checked {
            if let Fold::Use { base, index, disp } = self.plan.folds[self.cur] {
                let m = Mem {
                    base: x(base),
                    index: index.map(x),
                    disp,
                };
                if !into_r11 {
                    return m;
                }
                self.lea(true, R11, m.operand());
                return Mem::at(R11, 0);
            }
        }
        if !self.checked && !into_r11 {
            return Mem::at(b, off);
        }
        let in_frame = base == Reg::R10 && off >= -(STACK_SIZE as i32) && off + n <= 0;
        if self.checked && in_frame && off % n == 0 {
            if into_r11 {
                asm!(self.asm; lea r11, [rbp + off]);
                return Mem::at(R11, 0);
            }
            return Mem::at(RBP, off);
        }
        self.lea(true, R11, Operand::new(b, None, off));
        if !self.checked {
            return Mem::at(R11, 0);
        }
        let (at, resume) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        if access == AccessKind::Atomic {
            asm!(self.asm; test r11b, BYTE (n - 1) as i8; jnz =>at);
        }
        let last = match access {
            AccessKind::Read => o::REGION0_READ_LAST,
            _ => o::REGION0_WRITE_LAST,
        } + 8 * size_class(size) as i32;
        let stack = self.asm.new_dynamic_label();
        asm!(self.asm
            // start <= addr <= last: inside the primary region.
            ; cmp r11, [r12 + o::REGION0_START]
            ; jb BYTE =>stack
            ; cmp r11, [r12 + last]
            ; jbe BYTE =>resume
            // rbp - 512 <= addr <= top - 8: inside the stack window.
            ; =>stack
            ; lea r10, [rbp - STACK_SIZE as i32]
            ; cmp r11, r10
            ; jb =>at
            ; cmp r11, [r12 + o::STACK_TOP_M8]
            ; ja =>at
            ; =>resume
        );
        self.stubs.push(Stub::Slow {
            at,
            resume,
            site: site(pc, size, access),
        });
        Mem::at(R11, 0)
    }

    pub(super) fn load(
        &mut self,
        pc: u32,
        size: MemSize,
        signed: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Result<(), JitError> {
        let m = self.address(pc, src, off, size.bytes(), AccessKind::Read, false);
        let d = x(dst);
        match (size, signed) {
            (MemSize::B, false) => memop!(self, m, [movzx Rd(d), BYTE], []),
            (MemSize::H, false) => memop!(self, m, [movzx Rd(d), WORD], []),
            (MemSize::W, false) => memop!(self, m, [mov Rd(d), DWORD], []),
            (MemSize::DW, false) => memop!(self, m, [mov Rq(d), QWORD], []),
            (MemSize::B, true) => memop!(self, m, [movsx Rq(d), BYTE], []),
            (MemSize::H, true) => memop!(self, m, [movsx Rq(d), WORD], []),
            (MemSize::W, true) => memop!(self, m, [movsxd Rq(d), DWORD], []),
            (MemSize::DW, true) => {
                return Err(JitError::Unsupported {
                    pc: pc as usize,
                    what: "sign-extending load of 8 bytes",
                })
            }
        }
        Ok(())
    }

    /// A 16-bit load replacing two byte loads and their join (see `combine`): from the
    /// address of the load at index `lower`, byte-swapped if `swap`. Unchecked code only.
    pub(super) fn combined_load(&mut self, pc: u32, dst: Reg, lower: usize, swap: bool) {
        let Insn::Ldx { src, off, .. } = self.plan.insns[lower].insn else {
            unreachable!("combine names a load")
        };
        // The address as that load computes it (folds are per instruction).
        let cur = std::mem::replace(&mut self.cur, lower);
        let m = self.address(pc, src, off, 2, AccessKind::Read, false);
        self.cur = cur;
        let d = x(dst);
        memop!(self, m, [movzx Rd(d), WORD], []);
        if swap {
            // The upper 48 bits stay zero: a 16-bit operation leaves them.
            asm!(self.asm; ror Rw(d), 8);
        }
    }

    pub(super) fn store(&mut self, pc: u32, size: MemSize, dst: Reg, src: Reg, off: i16) {
        let m = self.address(pc, dst, off, size.bytes(), AccessKind::Write, false);
        self.store_reg(size, m, x(src));
    }

    fn store_reg(&mut self, size: MemSize, m: Mem, s: u8) {
        match size {
            MemSize::B => memop!(self, m, [mov BYTE], [, Rb(s)]),
            MemSize::H => memop!(self, m, [mov WORD], [, Rw(s)]),
            MemSize::W => memop!(self, m, [mov DWORD], [, Rd(s)]),
            MemSize::DW => memop!(self, m, [mov QWORD], [, Rq(s)]),
        }
    }

    pub(super) fn store_imm(&mut self, pc: u32, size: MemSize, dst: Reg, off: i16, imm: i32) {
        let m = self.address(pc, dst, off, size.bytes(), AccessKind::Write, false);
        if self.blinding() {
            // r10 is free again once the address is checked.
            self.load_imm(R10, imm, size == MemSize::DW);
            return self.store_reg(size, m, R10);
        }
        match size {
            MemSize::B => memop!(self, m, [mov BYTE], [, imm as i8]),
            MemSize::H => memop!(self, m, [mov WORD], [, imm as i16]),
            MemSize::W => memop!(self, m, [mov DWORD], [, imm]),
            MemSize::DW => memop!(self, m, [mov QWORD], [, imm]),
        }
    }

    /// Atomic read-modify-write with `lock`. Add with fetch is `xadd`; or/and/xor with fetch
    /// have no x86 instruction returning the old value, so they loop on `cmpxchg`.
    pub(super) fn atomic(
        &mut self,
        pc: u32,
        size: MemSize,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Result<(), JitError> {
        let wide = match size {
            MemSize::W => false,
            MemSize::DW => true,
            _ => {
                return Err(JitError::Unsupported {
                    pc: pc as usize,
                    what: "atomic of 1 or 2 bytes",
                })
            }
        };
        let looped = matches!(
            op,
            AtomicOp::Or { fetch: true }
                | AtomicOp::And { fetch: true }
                | AtomicOp::Xor { fetch: true }
        );
        let m = self.address(pc, dst, off, size.bytes(), AccessKind::Atomic, looped);
        let s = x(src);
        macro_rules! rmw {
            ($op:ident) => {
                if wide {
                    memop!(self, m, [lock $op QWORD], [, Rq(s)])
                } else {
                    memop!(self, m, [lock $op DWORD], [, Rd(s)])
                }
            };
        }
        match op {
            AtomicOp::Add { fetch: false } => rmw!(add),
            AtomicOp::Or { fetch: false } => rmw!(or),
            AtomicOp::And { fetch: false } => rmw!(and),
            AtomicOp::Xor { fetch: false } => rmw!(xor),
            AtomicOp::Add { fetch: true } => rmw!(xadd),
            // xchg with memory is always locked.
            AtomicOp::Xchg if wide => memop!(self, m, [xchg QWORD], [, Rq(s)]),
            AtomicOp::Xchg => memop!(self, m, [xchg DWORD], [, Rd(s)]),
            AtomicOp::Cmpxchg => {
                rmw!(cmpxchg);
                if !wide {
                    // A successful 32-bit cmpxchg leaves rax's upper half: r0 gets the old
                    // value zero-extended either way.
                    asm!(self.asm; mov eax, eax);
                }
            }
            AtomicOp::Or { .. } | AtomicOp::And { .. } | AtomicOp::Xor { .. } => {
                self.fetch_loop(op, wide, s)
            }
        }
        Ok(())
    }

    /// `old = *r11; do new = old op src while !cmpxchg(r11, old, new); src = old`.
    /// rax (r0) is the comparand of cmpxchg, so r0 is kept in r10; r9 is borrowed as `new`.
    fn fetch_loop(&mut self, op: AtomicOp, wide: bool, s: u8) {
        let operand = if s == RAX { R10 } else { s };
        let again = self.asm.new_dynamic_label();
        asm!(self.asm; push r9; mov r10, rax);
        if wide {
            asm!(self.asm; mov rax, QWORD [r11]; =>again; mov r9, rax);
        } else {
            asm!(self.asm; mov eax, DWORD [r11]; =>again; mov r9d, eax);
        }
        match (op, wide) {
            (AtomicOp::Or { .. }, true) => asm!(self.asm; or r9, Rq(operand)),
            (AtomicOp::And { .. }, true) => asm!(self.asm; and r9, Rq(operand)),
            (_, true) => asm!(self.asm; xor r9, Rq(operand)),
            (AtomicOp::Or { .. }, false) => asm!(self.asm; or r9d, Rd(operand)),
            (AtomicOp::And { .. }, false) => asm!(self.asm; and r9d, Rd(operand)),
            (_, false) => asm!(self.asm; xor r9d, Rd(operand)),
        }
        if wide {
            asm!(self.asm; lock cmpxchg QWORD [r11], r9; jne BYTE =>again);
        } else {
            asm!(self.asm; lock cmpxchg DWORD [r11], r9d; jne BYTE =>again);
        }
        // rax = old value (zero-extended for 32 bits).
        if s != RAX {
            asm!(self.asm; mov Rq(s), rax; mov rax, r10);
        }
        asm!(self.asm; pop r9);
    }

    /// `ld_abs`/`ld_ind`: r0 = big-endian packet bytes at `imm` (+ the low 32 bits of `src`,
    /// 32-bit wrapping, sign-extended); out of bounds ends the program with r0 = 0.
    pub(super) fn packet_load(
        &mut self,
        pc: u32,
        size: MemSize,
        src: Option<Reg>,
        imm: i32,
    ) -> Result<(), JitError> {
        if size == MemSize::DW {
            return Err(JitError::Unsupported {
                pc: pc as usize,
                what: "packet load of 8 bytes",
            });
        }
        match src {
            None => self.load_imm(R11, imm, true),
            Some(r) => {
                asm!(self.asm; mov r11d, Rd(x(r)));
                if self.blinding() {
                    self.load_imm(R10, imm, false);
                    asm!(self.asm; add r11d, r10d);
                } else {
                    asm!(self.asm; add r11d, DWORD imm);
                }
                asm!(self.asm; movsxd r11, r11d);
            }
        }
        let at = self.asm.new_dynamic_label();
        let bound = o::PACKET_BOUND + 8 * size_class(size.bytes()) as i32;
        asm!(self.asm
            ; cmp r11, [r12 + bound]
            ; jae =>at
            ; mov r10, [r12 + o::PACKET_PTR]
        );
        match size {
            MemSize::B => asm!(self.asm; movzx eax, BYTE [r10 + r11]),
            MemSize::H => asm!(self.asm; movzx eax, WORD [r10 + r11]; ror ax, 8),
            _ => asm!(self.asm; mov eax, DWORD [r10 + r11]; bswap eax),
        }
        self.stubs.push(Stub::Packet { at, pc });
        Ok(())
    }

    /// `lddw`: `value` is the resolved constant (function addresses are tagged slots).
    pub(super) fn ld_imm64(&mut self, dst: Reg, value: u64) {
        let d = x(dst);
        if let Some(key) = self.blinder.as_mut().map(|b| b.next_u64()) {
            asm!(self.asm
                ; mov Rq(d), QWORD (value ^ key) as i64
                ; mov r10, QWORD key as i64
                ; xor Rq(d), r10
            );
        } else if value == 0 {
            asm!(self.asm; xor Rd(d), Rd(d));
        } else if value <= u32::MAX as u64 {
            asm!(self.asm; mov Rd(d), DWORD value as i32);
        } else if value as i64 >= i32::MIN as i64 && (value as i64) < 0 {
            asm!(self.asm; mov Rq(d), DWORD value as i32);
        } else {
            asm!(self.asm; mov Rq(d), QWORD value as i64);
        }
    }
}
