//! Translation of classic BPF to eBPF.
//!
//! Calling convention of the produced program:
//!
//! | register | on entry |
//! |---|---|
//! | r1 | pointer to the captured packet bytes |
//! | r2 | number of captured bytes (the conformance-test convention: r1 = memory, r2 = its length) |
//! | r3 | the wire length, only with [`WireLen::InR3`]; otherwise `ld #pktlen` reads r2 |
//!
//! r0 on exit is what [`run`](crate::run) returns for the same program and
//! packet, for every instruction sequence, valid or not.
//!
//! Inside: A lives in r6 and X in r7 (callee-saved, so helper calls could
//! be added later), the 16 scratch words in the 64 bytes below r10, the
//! backward-jump budget (see [`MAX_BACKWARD_JUMPS`]) in r8; r4 and r5 are
//! temporaries. Every packet load is preceded by an explicit comparison of
//! its end with r2, so a verifier that tracks r1's size as r2 can accept it;
//! failing loads, division by zero and everything [`run`](crate::run)
//! rejects jump to one shared `r0 = 0; exit` block placed right after the
//! last instruction (falling off the end of the program lands there too).

use crate::insn::Insn as Cbpf;
use crate::interp::MAX_BACKWARD_JUMPS;
use crate::op::*;
use bpfkit_isa::{AluOp, Endian, Insn, JmpCond, MemSize, Operand, Reg, Width};

/// Where the translated program finds the wire length (`ld #pktlen`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WireLen {
    /// The wire length equals the captured length in r2 (conformance convention).
    #[default]
    SameAsCaptured,
    /// The caller passes the wire length in r3.
    InR3,
}

const PKT: Reg = Reg::R1;
const CAPLEN: Reg = Reg::R2;
const A: Reg = Reg::R6;
const X: Reg = Reg::R7;
const BUDGET: Reg = Reg::R8;
const T1: Reg = Reg::R4;
const T2: Reg = Reg::R5;

/// Translates `prog` with the wire length equal to the captured length.
///
/// ```
/// use bpfkit_cbpf::{to_ebpf, Insn, op};
/// let prog = [Insn::stmt(op::LD_B_ABS, 0), Insn::stmt(op::RET_A, 0)];
/// let ebpf = to_ebpf(&prog);
/// assert_eq!(ebpf.last(), Some(&bpfkit_isa::Insn::Exit));
/// ```
pub fn to_ebpf(prog: &[Cbpf]) -> Vec<Insn> {
    to_ebpf_with(prog, WireLen::SameAsCaptured)
}

/// Translates `prog`, reading the wire length as `wirelen` says.
pub fn to_ebpf_with(prog: &[Cbpf], wirelen: WireLen) -> Vec<Insn> {
    let mut t = Translator {
        items: Vec::new(),
        starts: Vec::with_capacity(prog.len()),
        len: prog.len(),
        wirelen,
    };
    t.prologue(prog);
    for (pc, ins) in prog.iter().enumerate() {
        t.starts.push(t.items.len());
        t.insn(pc, ins);
    }
    let reject = t.items.len();
    t.ret(Operand::Imm(0));
    layout(&t.items, &t.starts, reject)
}

/// A jump destination: a cBPF instruction or the shared reject block.
#[derive(Clone, Copy)]
enum Label {
    Insn(usize),
    Reject,
}

/// A conditional jump's test (the offset is filled in by [`layout`]).
#[derive(Clone, Copy)]
struct Test {
    width: Width,
    cond: JmpCond,
    dst: Reg,
    src: Operand,
}

enum Item {
    Plain(Insn),
    Jump(Option<Test>, Label),
}

struct Translator {
    items: Vec<Item>,
    /// Index in `items` of each cBPF instruction's first item.
    starts: Vec<usize>,
    len: usize,
    wirelen: WireLen,
}

fn alu32(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst,
        src,
    }
}

fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

/// Stack offset of scratch cell `k` (the 64 bytes below r10).
fn cell(k: u32) -> i16 {
    -64 + 4 * k as i16
}

fn mem_size(n: u64) -> MemSize {
    match n {
        1 => MemSize::B,
        2 => MemSize::H,
        _ => MemSize::W,
    }
}

impl Translator {
    fn emit(&mut self, insn: Insn) {
        self.items.push(Item::Plain(insn));
    }

    fn jump(&mut self, test: Option<Test>, label: Label) {
        self.items.push(Item::Jump(test, label));
    }

    /// The label of instruction `i`; past the end is the reject block.
    fn label(&self, i: i64) -> Label {
        if i >= 0 && (i as usize) < self.len {
            Label::Insn(i as usize)
        } else {
            Label::Reject
        }
    }

    fn prologue(&mut self, prog: &[Cbpf]) {
        self.emit(alu32(AluOp::Mov, A, Operand::Imm(0)));
        self.emit(alu32(AluOp::Mov, X, Operand::Imm(0)));
        // Zero only the scratch cells that some instruction reads.
        let mut read = [false; MEMWORDS as usize];
        for ins in prog {
            if matches!(ins.code, LD_MEM | LDX_MEM) && ins.k < MEMWORDS {
                read[ins.k as usize] = true;
            }
        }
        for k in (0..MEMWORDS).filter(|&k| read[k as usize]) {
            self.emit(Insn::St {
                size: MemSize::W,
                dst: Reg::R10,
                off: cell(k),
                imm: 0,
            });
        }
        if prog.iter().any(|i| i.code == JMP_JA && (i.k as i32) < 0) {
            self.emit(alu64(
                AluOp::Mov,
                BUDGET,
                Operand::Imm(MAX_BACKWARD_JUMPS as i32),
            ));
        }
    }

    fn ret(&mut self, value: Operand) {
        self.emit(alu32(AluOp::Mov, Reg::R0, value));
        self.emit(Insn::Exit);
    }

    /// `dst += k` for an unsigned 32-bit constant (imm is sign-extended).
    fn add_u32(&mut self, dst: Reg, k: u32) {
        if k <= i32::MAX as u32 {
            self.emit(alu64(AluOp::Add, dst, Operand::Imm(k as i32)));
        } else {
            self.emit(alu32(AluOp::Mov, T2, Operand::Imm(k as i32)));
            self.emit(alu64(AluOp::Add, dst, Operand::Reg(T2)));
        }
    }

    /// `dst = ntoh(*(size *)(base + off))`.
    fn load(&mut self, dst: Reg, base: Reg, off: i16, n: u64) {
        self.emit(Insn::Ldx {
            size: mem_size(n),
            signed: false,
            dst,
            src: base,
            off,
        });
        if n > 1 {
            self.emit(Insn::End {
                kind: Endian::ToBe,
                bits: (8 * n) as u8,
                dst,
            });
        }
    }

    /// `dst = packet[k .. k + n]` (big-endian), rejecting when out of bounds.
    fn load_abs(&mut self, dst: Reg, k: u32, n: u64) {
        let end = u64::from(k) + n;
        if end > u64::from(u32::MAX) {
            // No packet is 4 GiB long.
            self.jump(None, Label::Reject);
            return;
        }
        if end <= i32::MAX as u64 {
            let test = Test {
                width: Width::W64,
                cond: JmpCond::Lt,
                dst: CAPLEN,
                src: Operand::Imm(end as i32),
            };
            self.jump(Some(test), Label::Reject);
        } else {
            self.emit(alu32(AluOp::Mov, T1, Operand::Imm(end as i32)));
            let test = Test {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst: T1,
                src: Operand::Reg(CAPLEN),
            };
            self.jump(Some(test), Label::Reject);
        }
        if k <= i16::MAX as u32 {
            self.load(dst, PKT, k as i16, n);
        } else {
            self.emit(alu64(AluOp::Mov, T1, Operand::Reg(PKT)));
            self.add_u32(T1, k);
            self.load(dst, T1, 0, n);
        }
    }

    /// `A = packet[X + k .. X + k + n]`, the sum computed in 64 bits.
    fn load_ind(&mut self, k: u32, n: u64) {
        self.emit(alu64(AluOp::Mov, T1, Operand::Reg(X)));
        self.add_u32(T1, k);
        self.emit(alu64(AluOp::Mov, T2, Operand::Reg(T1)));
        self.emit(alu64(AluOp::Add, T2, Operand::Imm(n as i32)));
        let test = Test {
            width: Width::W64,
            cond: JmpCond::Gt,
            dst: T2,
            src: Operand::Reg(CAPLEN),
        };
        self.jump(Some(test), Label::Reject);
        self.emit(alu64(AluOp::Add, T1, Operand::Reg(PKT)));
        self.load(A, T1, 0, n);
    }

    /// A shift by X: libpcap gives 0 when X >= 32 (eBPF would mask).
    fn shift_x(&mut self, op: AluOp) {
        self.emit(Insn::Jmp {
            width: Width::W32,
            cond: JmpCond::Lt,
            dst: X,
            src: Operand::Imm(32),
            off: 2,
        });
        self.emit(alu32(AluOp::Mov, A, Operand::Imm(0)));
        self.emit(Insn::Ja {
            off: 1,
            long: false,
        });
        self.emit(alu32(op, A, Operand::Reg(X)));
    }

    /// Division or modulo by X: reject when X is 0.
    fn div_x(&mut self, op: AluOp) {
        let test = Test {
            width: Width::W32,
            cond: JmpCond::Eq,
            dst: X,
            src: Operand::Imm(0),
        };
        self.jump(Some(test), Label::Reject);
        self.emit(alu32(op, A, Operand::Reg(X)));
    }

    fn cond_jump(&mut self, pc: usize, ins: &Cbpf, cond: JmpCond, src: Operand) {
        let next = pc as i64 + 1;
        let taken = self.label(next + i64::from(ins.jt));
        let not_taken = self.label(next + i64::from(ins.jf));
        let test = Test {
            width: Width::W32,
            cond,
            dst: A,
            src,
        };
        if ins.jt == ins.jf {
            self.jump(None, taken);
            return;
        }
        self.jump(Some(test), taken);
        if ins.jf != 0 {
            self.jump(None, not_taken);
        }
    }

    fn insn(&mut self, pc: usize, ins: &Cbpf) {
        let k = ins.k;
        let imm = Operand::Imm(k as i32);
        let x = Operand::Reg(X);
        let alu_k = |op| alu32(op, A, imm);
        let alu_x = |op| alu32(op, A, x);
        match ins.code {
            RET_K => self.ret(imm),
            RET_A => self.ret(Operand::Reg(A)),
            LD_W_ABS => self.load_abs(A, k, 4),
            LD_H_ABS => self.load_abs(A, k, 2),
            LD_B_ABS => self.load_abs(A, k, 1),
            LD_W_IND => self.load_ind(k, 4),
            LD_H_IND => self.load_ind(k, 2),
            LD_B_IND => self.load_ind(k, 1),
            LDX_B_MSH => {
                self.load_abs(X, k, 1);
                self.emit(alu32(AluOp::And, X, Operand::Imm(0xf)));
                self.emit(alu32(AluOp::Lsh, X, Operand::Imm(2)));
            }
            LD_W_LEN | LDX_W_LEN => {
                let dst = if ins.code == LD_W_LEN { A } else { X };
                let src = match self.wirelen {
                    WireLen::SameAsCaptured => CAPLEN,
                    WireLen::InR3 => Reg::R3,
                };
                self.emit(alu32(AluOp::Mov, dst, Operand::Reg(src)));
            }
            LD_IMM => self.emit(alu32(AluOp::Mov, A, imm)),
            LDX_IMM => self.emit(alu32(AluOp::Mov, X, imm)),
            LD_MEM | LDX_MEM | ST_MEM | STX_MEM if k >= MEMWORDS => self.jump(None, Label::Reject),
            LD_MEM | LDX_MEM => {
                self.emit(Insn::Ldx {
                    size: MemSize::W,
                    signed: false,
                    dst: if ins.code == LD_MEM { A } else { X },
                    src: Reg::R10,
                    off: cell(k),
                });
            }
            ST_MEM | STX_MEM => self.emit(Insn::Stx {
                size: MemSize::W,
                dst: Reg::R10,
                src: if ins.code == ST_MEM { A } else { X },
                off: cell(k),
            }),
            JMP_JA => {
                let off = k as i32;
                if off < 0 {
                    let exhausted = Test {
                        width: Width::W64,
                        cond: JmpCond::Eq,
                        dst: BUDGET,
                        src: Operand::Imm(0),
                    };
                    self.jump(Some(exhausted), Label::Reject);
                    self.emit(alu64(AluOp::Sub, BUDGET, Operand::Imm(1)));
                }
                let target = self.label(pc as i64 + 1 + i64::from(off));
                self.jump(None, target);
            }
            JMP_JEQ_K => self.cond_jump(pc, ins, JmpCond::Eq, imm),
            JMP_JGT_K => self.cond_jump(pc, ins, JmpCond::Gt, imm),
            JMP_JGE_K => self.cond_jump(pc, ins, JmpCond::Ge, imm),
            JMP_JSET_K => self.cond_jump(pc, ins, JmpCond::Set, imm),
            JMP_JEQ_X => self.cond_jump(pc, ins, JmpCond::Eq, x),
            JMP_JGT_X => self.cond_jump(pc, ins, JmpCond::Gt, x),
            JMP_JGE_X => self.cond_jump(pc, ins, JmpCond::Ge, x),
            JMP_JSET_X => self.cond_jump(pc, ins, JmpCond::Set, x),
            ALU_DIV_K | ALU_MOD_K if k == 0 => self.jump(None, Label::Reject),
            ALU_ADD_K => self.emit(alu_k(AluOp::Add)),
            ALU_SUB_K => self.emit(alu_k(AluOp::Sub)),
            ALU_MUL_K => self.emit(alu_k(AluOp::Mul)),
            ALU_DIV_K => self.emit(alu_k(AluOp::Div)),
            ALU_MOD_K => self.emit(alu_k(AluOp::Mod)),
            ALU_AND_K => self.emit(alu_k(AluOp::And)),
            ALU_OR_K => self.emit(alu_k(AluOp::Or)),
            ALU_XOR_K => self.emit(alu_k(AluOp::Xor)),
            // The interpreter uses a constant shift count modulo 32.
            ALU_LSH_K => self.emit(alu32(AluOp::Lsh, A, Operand::Imm((k & 31) as i32))),
            ALU_RSH_K => self.emit(alu32(AluOp::Rsh, A, Operand::Imm((k & 31) as i32))),
            ALU_ADD_X => self.emit(alu_x(AluOp::Add)),
            ALU_SUB_X => self.emit(alu_x(AluOp::Sub)),
            ALU_MUL_X => self.emit(alu_x(AluOp::Mul)),
            ALU_DIV_X => self.div_x(AluOp::Div),
            ALU_MOD_X => self.div_x(AluOp::Mod),
            ALU_AND_X => self.emit(alu_x(AluOp::And)),
            ALU_OR_X => self.emit(alu_x(AluOp::Or)),
            ALU_XOR_X => self.emit(alu_x(AluOp::Xor)),
            ALU_LSH_X => self.shift_x(AluOp::Lsh),
            ALU_RSH_X => self.shift_x(AluOp::Rsh),
            ALU_NEG => self.emit(alu32(AluOp::Neg, A, Operand::Imm(0))),
            MISC_TAX => self.emit(alu32(AluOp::Mov, X, Operand::Reg(A))),
            MISC_TXA => self.emit(alu32(AluOp::Mov, A, Operand::Reg(X))),
            _ => self.jump(None, Label::Reject),
        }
    }
}

/// Slots an item takes; a conditional jump too far for 16 bits becomes
/// `jcond +1; ja +1; gotol target`.
fn size(item: &Item, far: bool) -> usize {
    match item {
        Item::Jump(Some(_), _) if far => 3,
        _ => 1,
    }
}

/// Resolves labels to offsets, widening conditional jumps whose distance
/// does not fit in 16 bits until no more need it (sizes only grow, so this
/// ends).
fn layout(items: &[Item], starts: &[usize], reject: usize) -> Vec<Insn> {
    let target_item = |label: Label| match label {
        Label::Insn(i) => starts[i],
        Label::Reject => reject,
    };
    let mut far = vec![false; items.len()];
    let mut pos = Vec::with_capacity(items.len() + 1);
    loop {
        pos.clear();
        let mut p = 0i64;
        for (item, &f) in items.iter().zip(&far) {
            pos.push(p);
            p += size(item, f) as i64;
        }
        pos.push(p);
        let mut changed = false;
        for (i, item) in items.iter().enumerate() {
            if let Item::Jump(Some(_), label) = item {
                let off = pos[target_item(*label)] - (pos[i] + 1);
                if !far[i] && i16::try_from(off).is_err() {
                    far[i] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut out = Vec::with_capacity(pos[items.len()] as usize);
    for (i, item) in items.iter().enumerate() {
        match *item {
            Item::Plain(insn) => out.push(insn),
            Item::Jump(test, label) => {
                let target = pos[target_item(label)];
                let here = pos[i];
                match test {
                    Some(t) if far[i] => {
                        out.push(jmp(t, 1));
                        out.push(Insn::Ja {
                            off: 1,
                            long: false,
                        });
                        out.push(ja(target - (here + 3)));
                    }
                    Some(t) => out.push(jmp(t, (target - (here + 1)) as i16)),
                    None => out.push(ja(target - (here + 1))),
                }
            }
        }
    }
    out
}

fn jmp(t: Test, off: i16) -> Insn {
    Insn::Jmp {
        width: t.width,
        cond: t.cond,
        dst: t.dst,
        src: t.src,
        off,
    }
}

fn ja(off: i64) -> Insn {
    Insn::Ja {
        off: off as i32,
        long: i16::try_from(off).is_err(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that every jump of `ebpf` lands inside it; returns how many
    /// 32-bit-offset `gotol`s it has.
    fn check_jumps(ebpf: &[Insn]) -> usize {
        let slots = ebpf.len() as i64;
        for (i, insn) in ebpf.iter().enumerate() {
            if let Some(off) = insn.jump_offset() {
                let t = i as i64 + 1 + i64::from(off);
                assert!((0..slots).contains(&t), "insn {i} jumps to {t}");
            }
        }
        ebpf.iter()
            .filter(|i| matches!(i, Insn::Ja { long: true, .. }))
            .count()
    }

    #[test]
    fn far_jumps_are_widened() {
        // The first load's bounds check jumps to the reject block past
        // 5000 indexed loads of 8 slots each: beyond a 16-bit offset.
        let mut prog = vec![Cbpf::stmt(LD_W_IND, 0); 5000];
        prog.push(Cbpf::stmt(RET_A, 0));
        let ebpf = to_ebpf(&prog);
        assert!(check_jumps(&ebpf) > 0);
        // A far conditional jump is `jcond +1; ja +1; gotol`.
        let first_far = ebpf
            .iter()
            .position(|i| matches!(i, Insn::Ja { long: true, .. }))
            .unwrap();
        assert!(matches!(
            ebpf[first_far - 1],
            Insn::Ja {
                off: 1,
                long: false
            }
        ));
        assert!(matches!(ebpf[first_far - 2], Insn::Jmp { off: 1, .. }));
        // A far unconditional jump is a single gotol.
        let mut prog = vec![Cbpf::stmt(JMP_JA, 5000)];
        prog.extend(vec![Cbpf::stmt(LD_W_IND, 0); 5000]);
        prog.push(Cbpf::stmt(RET_A, 0));
        let ebpf = to_ebpf(&prog);
        assert!(check_jumps(&ebpf) > 0);
        assert!(matches!(ebpf[2], Insn::Ja { long: true, .. }));
    }

    #[test]
    fn short_programs_use_only_near_jumps() {
        let prog = [
            Cbpf::stmt(LD_H_ABS, 12),
            Cbpf::jump(JMP_JEQ_K, 0x800, 0, 1),
            Cbpf::stmt(RET_K, 1),
            Cbpf::stmt(RET_K, 0),
        ];
        assert_eq!(check_jumps(&to_ebpf(&prog)), 0);
    }
}
