//! ALU and byte-order instructions.
//!
//! x86 already has the eBPF semantics for most of them: 32-bit operations zero-extend their
//! result, and shift counts in `cl` are masked to 5 bits (32-bit operand) or 6 bits (64-bit),
//! exactly the eBPF masks. What needs care: division (x86 traps on a zero divisor and on
//! `INT_MIN / -1`; eBPF defines both), and shifts whose count must be in `cl` (= eBPF r4).

use super::{asm, Emitter};
use crate::error::JitError;
use crate::regs::{x, R10, R11, RAX, RCX, RDX};
use bpfkit_isa::{AluOp, Endian, Operand, Reg, Width};
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

/// `op dst, imm` choosing the sign-extended 8-bit immediate form when it fits.
macro_rules! binop_imm {
    ($e:expr, $op:ident, $wide:expr, $d:expr, $k:expr) => {
        match ($wide, i8::try_from($k)) {
            (true, Ok(b)) => asm!($e.asm; $op Rq($d), BYTE b),
            (true, Err(_)) => asm!($e.asm; $op Rq($d), DWORD $k),
            (false, Ok(b)) => asm!($e.asm; $op Rd($d), BYTE b),
            (false, Err(_)) => asm!($e.asm; $op Rd($d), DWORD $k),
        }
    };
}

/// `op dst, src` on 64 or 32 bits.
macro_rules! binop_reg {
    ($e:expr, $op:ident, $wide:expr, $d:expr, $s:expr) => {
        if $wide {
            asm!($e.asm; $op Rq($d), Rq($s))
        } else {
            asm!($e.asm; $op Rd($d), Rd($s))
        }
    };
}

impl Emitter<'_> {
    pub(super) fn alu(
        &mut self,
        pc: u32,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    ) -> Result<(), JitError> {
        let d = x(dst);
        let wide = width == Width::W64;
        match op {
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => {
                self.div(wide, op, d, src);
                return Ok(());
            }
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
                self.shift(wide, op, d, src);
                return Ok(());
            }
            AluOp::Mov => {
                self.mov(wide, d, src);
                return Ok(());
            }
            AluOp::Neg => {
                if wide {
                    asm!(self.asm; neg Rq(d));
                } else {
                    asm!(self.asm; neg Rd(d));
                }
                self.zf_of = Some((d, wide));
                return Ok(());
            }
            AluOp::MovSx(bits) => return self.movsx(pc, wide, bits, d, src),
            _ => {}
        }
        let s = match src {
            Operand::Reg(s) => x(s),
            Operand::Imm(k) if self.blinding() => {
                self.load_imm(R10, k, wide);
                R10
            }
            Operand::Imm(k) => {
                match op {
                    AluOp::Add => binop_imm!(self, add, wide, d, k),
                    AluOp::Sub => binop_imm!(self, sub, wide, d, k),
                    AluOp::Or => binop_imm!(self, or, wide, d, k),
                    AluOp::And => binop_imm!(self, and, wide, d, k),
                    AluOp::Xor => binop_imm!(self, xor, wide, d, k),
                    _ if self.mul_by_constant(wide, d, k) => return Ok(()),
                    _ if wide => asm!(self.asm; imul Rq(d), Rq(d), DWORD k),
                    _ => asm!(self.asm; imul Rd(d), Rd(d), DWORD k),
                }
                if op != AluOp::Mul {
                    self.zf_of = Some((d, wide));
                }
                return Ok(());
            }
        };
        match op {
            AluOp::Add => binop_reg!(self, add, wide, d, s),
            AluOp::Sub => binop_reg!(self, sub, wide, d, s),
            AluOp::Or => binop_reg!(self, or, wide, d, s),
            AluOp::And => binop_reg!(self, and, wide, d, s),
            AluOp::Xor => binop_reg!(self, xor, wide, d, s),
            _ => binop_reg!(self, imul, wide, d, s),
        }
        if op != AluOp::Mul {
            self.zf_of = Some((d, wide));
        }
        Ok(())
    }

    fn mov(&mut self, wide: bool, d: u8, src: Operand) {
        match src {
            Operand::Reg(s) => {
                let s = x(s);
                if !wide {
                    // Even `mov eax, eax` matters: it clears the upper half.
                    asm!(self.asm; mov Rd(d), Rd(s));
                } else if s != d {
                    asm!(self.asm; mov Rq(d), Rq(s));
                }
            }
            Operand::Imm(0) if !self.blinding() => asm!(self.asm; xor Rd(d), Rd(d)),
            Operand::Imm(k) => self.load_imm(d, k, wide),
        }
    }

    fn movsx(
        &mut self,
        pc: u32,
        wide: bool,
        bits: u8,
        d: u8,
        src: Operand,
    ) -> Result<(), JitError> {
        let Operand::Reg(s) = src else {
            return Err(JitError::Unsupported {
                pc: pc as usize,
                what: "movsx of an immediate",
            });
        };
        let s = x(s);
        match (wide, bits) {
            (true, 8) => asm!(self.asm; movsx Rq(d), Rb(s)),
            (true, 16) => asm!(self.asm; movsx Rq(d), Rw(s)),
            (true, 32) => asm!(self.asm; movsxd Rq(d), Rd(s)),
            (false, 8) => asm!(self.asm; movsx Rd(d), Rb(s)),
            (false, 16) => asm!(self.asm; movsx Rd(d), Rw(s)),
            _ => {
                return Err(JitError::Unsupported {
                    pc: pc as usize,
                    what: "movsx width",
                })
            }
        }
        Ok(())
    }

    /// Shifts. Immediate counts are masked here; register counts go through `cl`, saving
    /// r4 (rcx) in r11 when r4 is not the count.
    fn shift(&mut self, wide: bool, op: AluOp, d: u8, src: Operand) {
        macro_rules! sh {
            ($r:expr, cl) => {
                match (op, wide) {
                    (AluOp::Lsh, true) => asm!(self.asm; shl Rq($r), cl),
                    (AluOp::Rsh, true) => asm!(self.asm; shr Rq($r), cl),
                    (_, true) => asm!(self.asm; sar Rq($r), cl),
                    (AluOp::Lsh, false) => asm!(self.asm; shl Rd($r), cl),
                    (AluOp::Rsh, false) => asm!(self.asm; shr Rd($r), cl),
                    (_, false) => asm!(self.asm; sar Rd($r), cl),
                }
            };
        }
        match src {
            Operand::Imm(k) => {
                let count = (k as u32 & if wide { 63 } else { 31 }) as i8;
                match (op, wide, count) {
                    (_, true, 0) => {}
                    // A zero count must still zero-extend a 32-bit result.
                    (_, false, 0) => asm!(self.asm; mov Rd(d), Rd(d)),
                    (AluOp::Lsh, true, c) => asm!(self.asm; shl Rq(d), BYTE c),
                    (AluOp::Rsh, true, c) => asm!(self.asm; shr Rq(d), BYTE c),
                    (_, true, c) => asm!(self.asm; sar Rq(d), BYTE c),
                    (AluOp::Lsh, false, c) => asm!(self.asm; shl Rd(d), BYTE c),
                    (AluOp::Rsh, false, c) => asm!(self.asm; shr Rd(d), BYTE c),
                    (_, false, c) => asm!(self.asm; sar Rd(d), BYTE c),
                }
            }
            Operand::Reg(s) => {
                let s = x(s);
                if s == RCX {
                    sh!(d, cl);
                } else if d == RCX {
                    asm!(self.asm; mov r11, rcx; mov rcx, Rq(s));
                    sh!(R11, cl);
                    asm!(self.asm; mov rcx, r11);
                } else {
                    asm!(self.asm; mov r11, rcx; mov rcx, Rq(s));
                    sh!(d, cl);
                    asm!(self.asm; mov rcx, r11);
                }
                if !wide {
                    // A 32-bit shift by a zero count may leave the upper half: clear it.
                    asm!(self.asm; mov Rd(d), Rd(d));
                }
            }
        }
    }

    /// Division and modulo with the eBPF rules: x / 0 = 0, x % 0 = x, and for the signed
    /// forms INT_MIN / -1 = INT_MIN (negation) and INT_MIN % -1 = 0, where x86 would trap.
    fn div(&mut self, wide: bool, op: AluOp, d: u8, src: Operand) {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let quotient = matches!(op, AluOp::Div | AluOp::SDiv);
        // Divisor into r11; constant divisors settle the special cases now.
        let dynamic = match src {
            Operand::Imm(0) => return self.div_by_zero(wide, quotient, d),
            Operand::Imm(-1) if signed => return self.div_by_minus_one(wide, quotient, d),
            Operand::Imm(k) => {
                self.load_imm(R11, k, wide);
                false
            }
            Operand::Reg(s) => {
                let s = x(s);
                if wide {
                    asm!(self.asm; mov r11, Rq(s));
                } else {
                    asm!(self.asm; mov r11d, Rd(s));
                }
                true
            }
        };
        let zero = self.asm.new_dynamic_label();
        let minus_one = self.asm.new_dynamic_label();
        let done = self.asm.new_dynamic_label();
        if dynamic {
            if wide {
                asm!(self.asm; test r11, r11; jz =>zero);
            } else {
                asm!(self.asm; test r11d, r11d; jz =>zero);
            }
            if signed {
                if wide {
                    asm!(self.asm; cmp r11, -1; je =>minus_one);
                } else {
                    asm!(self.asm; cmp r11d, -1; je =>minus_one);
                }
            }
        }
        if d != RAX {
            asm!(self.asm; push rax);
        }
        if d != RDX {
            asm!(self.asm; push rdx);
        }
        if d != RAX {
            asm!(self.asm; mov rax, Rq(d));
        }
        match (signed, wide) {
            (false, true) => asm!(self.asm; xor edx, edx; div r11),
            (false, false) => asm!(self.asm; xor edx, edx; div r11d),
            (true, true) => asm!(self.asm; cqo; idiv r11),
            (true, false) => asm!(self.asm; cdq; idiv r11d),
        }
        // A 32-bit divide already left the upper halves of rax and rdx zero.
        let result = if quotient { RAX } else { RDX };
        if d != result {
            asm!(self.asm; mov Rq(d), Rq(result));
        }
        if d != RDX {
            asm!(self.asm; pop rdx);
        }
        if d != RAX {
            asm!(self.asm; pop rax);
        }
        if dynamic {
            asm!(self.asm; jmp =>done; =>zero);
            self.div_by_zero(wide, quotient, d);
            if signed {
                asm!(self.asm; jmp =>done; =>minus_one);
                self.div_by_minus_one(wide, quotient, d);
            }
            asm!(self.asm; =>done);
        }
    }

    fn div_by_zero(&mut self, wide: bool, quotient: bool, d: u8) {
        if quotient {
            asm!(self.asm; xor Rd(d), Rd(d));
        } else if !wide {
            asm!(self.asm; mov Rd(d), Rd(d));
        }
    }

    fn div_by_minus_one(&mut self, wide: bool, quotient: bool, d: u8) {
        match (quotient, wide) {
            (true, true) => asm!(self.asm; neg Rq(d)),
            (true, false) => asm!(self.asm; neg Rd(d)),
            (false, _) => asm!(self.asm; xor Rd(d), Rd(d)),
        }
    }

    /// `le`/`be`/`bswap` on a little-endian host: `le` only truncates, the others swap.
    pub(super) fn endian(
        &mut self,
        pc: u32,
        kind: Endian,
        bits: u8,
        dst: Reg,
    ) -> Result<(), JitError> {
        let d = x(dst);
        let swap = kind != Endian::ToLe;
        match (bits, swap) {
            (16, false) => asm!(self.asm; movzx Rd(d), Rw(d)),
            (32, false) => asm!(self.asm; mov Rd(d), Rd(d)),
            (64, false) => {}
            (16, true) => asm!(self.asm; ror Rw(d), 8; movzx Rd(d), Rw(d)),
            (32, true) => asm!(self.asm; bswap Rd(d)),
            (64, true) => asm!(self.asm; bswap Rq(d)),
            _ => {
                return Err(JitError::Unsupported {
                    pc: pc as usize,
                    what: "byte-swap width",
                })
            }
        }
        Ok(())
    }
}
