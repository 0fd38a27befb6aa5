//! The eBPF → x86-64 register mapping (1:1, as the Linux kernel's x86-64 JIT does).
//!
//! | eBPF | x86-64 | why |
//! |------|--------|-----|
//! | r0   | rax    | return value in both ABIs |
//! | r1–r5 | rdi, rsi, rdx, rcx, r8 | the SysV argument registers, so a helper call only shifts them by one |
//! | r6–r9 | rbx, r13, r14, r15 | callee-saved in SysV: they survive calls into Rust |
//! | r10  | rbp    | callee-saved frame pointer |
//!
//! The rest is internal: r12 holds the run context ([`crate::ctx::JitCtx`], callee-saved so it
//! survives helper calls), r9 the remaining instruction budget in checked code, r10 and r11 are
//! scratch (address computation, blinded immediates, divisors, shift counts).

use bpfkit_isa::Reg;

/// x86-64 register numbers (the encoding's 4-bit register field).
pub(crate) const RAX: u8 = 0;
pub(crate) const RCX: u8 = 1;
pub(crate) const RDX: u8 = 2;
pub(crate) const RBX: u8 = 3;
pub(crate) const RBP: u8 = 5;
pub(crate) const RSI: u8 = 6;
pub(crate) const RDI: u8 = 7;
pub(crate) const R8: u8 = 8;
pub(crate) const R10: u8 = 10;
pub(crate) const R11: u8 = 11;
pub(crate) const R13: u8 = 13;
pub(crate) const R14: u8 = 14;
pub(crate) const R15: u8 = 15;

/// x86-64 register of each eBPF register, indexed by eBPF register number.
pub(crate) const MAP: [u8; 11] = [RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP];

/// The x86-64 register holding eBPF register `r`.
#[inline]
pub(crate) fn x(r: Reg) -> u8 {
    MAP[r.idx()]
}

#[cfg(test)]
mod tests {
    use super::*;

    // The internal registers, named statically in the emitters.
    const CTX: u8 = 12;
    const BUDGET: u8 = 9;
    const TMP: u8 = R11;
    const TMP2: u8 = R10;

    #[test]
    fn mapping_is_injective_and_avoids_internal_registers() {
        let mut seen = [false; 16];
        for &r in &MAP {
            assert!(!seen[r as usize], "x86 register {r} mapped twice");
            seen[r as usize] = true;
        }
        for internal in [CTX, BUDGET, TMP, TMP2, 4 /* rsp */] {
            assert!(
                !seen[internal as usize],
                "internal register {internal} is mapped"
            );
        }
        // Callee-saved eBPF registers and r10 must live in SysV callee-saved registers.
        for r in 6..=10u8 {
            let xr = x(Reg::new(r).unwrap());
            assert!([RBX, RBP, CTX, R13, R14, R15].contains(&xr), "r{r}");
        }
    }
}
