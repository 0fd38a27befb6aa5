//! Opcode field constants (the `BPF_*` macros of `<linux/filter.h>` / `<pcap/bpf.h>`).
#![allow(missing_docs)]

// Classes.
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;

// Sizes (ld/ldx).
pub const W: u16 = 0x00;
pub const H: u16 = 0x08;
pub const B: u16 = 0x10;

// Modes (ld/ldx).
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const IND: u16 = 0x40;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
pub const MSH: u16 = 0xa0;

// ALU / JMP operations.
pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const MOD: u16 = 0x90;
pub const XOR: u16 = 0xa0;

pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;

// Sources.
pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
/// RET source: the accumulator.
pub const A: u16 = 0x10;

// MISC operations.
pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// Number of scratch memory words (`BPF_MEMWORDS`).
pub const MEMWORDS: u32 = 16;
/// Maximum program length accepted by the kernel (`BPF_MAXINSNS`).
pub const MAXINSNS: usize = 4096;

// Complete opcodes (class | size | mode, or class | operation | source), one
// per instruction the kernel and libpcap accept. Named so they can be used as
// `match` patterns.
pub const LD_W_ABS: u16 = LD | W | ABS;
pub const LD_H_ABS: u16 = LD | H | ABS;
pub const LD_B_ABS: u16 = LD | B | ABS;
pub const LD_W_IND: u16 = LD | W | IND;
pub const LD_H_IND: u16 = LD | H | IND;
pub const LD_B_IND: u16 = LD | B | IND;
pub const LD_W_LEN: u16 = LD | W | LEN;
pub const LD_IMM: u16 = LD | IMM;
pub const LD_MEM: u16 = LD | MEM;
pub const LDX_W_LEN: u16 = LDX | W | LEN;
pub const LDX_B_MSH: u16 = LDX | B | MSH;
pub const LDX_IMM: u16 = LDX | IMM;
pub const LDX_MEM: u16 = LDX | MEM;
pub const ST_MEM: u16 = ST;
pub const STX_MEM: u16 = STX;
pub const ALU_ADD_K: u16 = ALU | ADD | K;
pub const ALU_SUB_K: u16 = ALU | SUB | K;
pub const ALU_MUL_K: u16 = ALU | MUL | K;
pub const ALU_DIV_K: u16 = ALU | DIV | K;
pub const ALU_MOD_K: u16 = ALU | MOD | K;
pub const ALU_AND_K: u16 = ALU | AND | K;
pub const ALU_OR_K: u16 = ALU | OR | K;
pub const ALU_XOR_K: u16 = ALU | XOR | K;
pub const ALU_LSH_K: u16 = ALU | LSH | K;
pub const ALU_RSH_K: u16 = ALU | RSH | K;
pub const ALU_ADD_X: u16 = ALU | ADD | X;
pub const ALU_SUB_X: u16 = ALU | SUB | X;
pub const ALU_MUL_X: u16 = ALU | MUL | X;
pub const ALU_DIV_X: u16 = ALU | DIV | X;
pub const ALU_MOD_X: u16 = ALU | MOD | X;
pub const ALU_AND_X: u16 = ALU | AND | X;
pub const ALU_OR_X: u16 = ALU | OR | X;
pub const ALU_XOR_X: u16 = ALU | XOR | X;
pub const ALU_LSH_X: u16 = ALU | LSH | X;
pub const ALU_RSH_X: u16 = ALU | RSH | X;
pub const ALU_NEG: u16 = ALU | NEG;
pub const JMP_JA: u16 = JMP | JA;
pub const JMP_JEQ_K: u16 = JMP | JEQ | K;
pub const JMP_JGT_K: u16 = JMP | JGT | K;
pub const JMP_JGE_K: u16 = JMP | JGE | K;
pub const JMP_JSET_K: u16 = JMP | JSET | K;
pub const JMP_JEQ_X: u16 = JMP | JEQ | X;
pub const JMP_JGT_X: u16 = JMP | JGT | X;
pub const JMP_JGE_X: u16 = JMP | JGE | X;
pub const JMP_JSET_X: u16 = JMP | JSET | X;
pub const RET_K: u16 = RET | K;
pub const RET_A: u16 = RET | A;
pub const MISC_TAX: u16 = MISC | TAX;
pub const MISC_TXA: u16 = MISC | TXA;

/// Every opcode the Linux kernel accepts in a socket filter (and libpcap's
/// interpreter executes), in numeric order.
pub const ALL: [u16; 49] = [
    LD_IMM, LDX_IMM, ST_MEM, STX_MEM, ALU_ADD_K, JMP_JA, RET_K, MISC_TAX, ALU_ADD_X, ALU_SUB_K,
    JMP_JEQ_K, RET_A, ALU_SUB_X, JMP_JEQ_X, LD_W_ABS, ALU_MUL_K, JMP_JGT_K, LD_H_ABS, ALU_MUL_X,
    JMP_JGT_X, LD_B_ABS, ALU_DIV_K, JMP_JGE_K, ALU_DIV_X, JMP_JGE_X, LD_W_IND, ALU_OR_K,
    JMP_JSET_K, LD_H_IND, ALU_OR_X, JMP_JSET_X, LD_B_IND, ALU_AND_K, ALU_AND_X, LD_MEM, LDX_MEM,
    ALU_LSH_K, ALU_LSH_X, ALU_RSH_K, ALU_RSH_X, LD_W_LEN, LDX_W_LEN, ALU_NEG, MISC_TXA, ALU_MOD_K,
    ALU_MOD_X, ALU_XOR_K, ALU_XOR_X, LDX_B_MSH,
];

/// Whether `code` is one of [`ALL`].
pub const fn is_known(code: u16) -> bool {
    let mut i = 0;
    while i < ALL.len() {
        if ALL[i] == code {
            return true;
        }
        i += 1;
    }
    false
}
