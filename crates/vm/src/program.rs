//! Loading: typed instructions to the validated, pre-decoded [`Program`].

use crate::error::{LoadError, LoadErrorKind};
use crate::helpers::Helpers;
use crate::op::{Op, T};
use bpfkit_isa::{
    decode, AluOp, CallTarget, Decoded, Endian, Insn, JmpCond, LdImm64Kind, MemSize, Operand, Reg,
    Width,
};

/// Tag of the values `lddw rN, <function>` (pseudo source 4) loads: `FUNC_ADDR_TAG | slot`.
///
/// `callx` (`call %rN`) calls the local function at `slot` when the register holds such a value;
/// any other value in `0..=i32::MAX` is a helper number (the conformance suite's convention:
/// `callx.data` puts 5 in the register to call helper 5). The tag's top 16 bits make it a
/// non-canonical address on 64-bit hosts, so it never equals a real pointer.
pub const FUNC_ADDR_TAG: u64 = 0x0bf0_0000_0000_0000;

/// A loaded program: validated and pre-decoded, ready to run any number of times.
///
/// `Program` is immutable, `Send` and `Sync`: share it (e.g. in an `Arc`) and run it on
/// several threads at once; each run has its own registers and stack.
#[derive(Clone, Debug)]
pub struct Program {
    /// One entry per slot (`lddw` second slots hold [`Op::LdImm64Tail`]).
    pub(crate) ops: Vec<Op>,
    insns: Vec<Decoded>,
    /// Bytes at the top of each frame the program can reach (see [`Program::stack_need`]).
    stack_need: usize,
}

impl Program {
    /// Loads a program given as instructions in order (slots are counted from them).
    pub fn load(insns: &[Insn]) -> Result<Program, LoadError> {
        let mut pc = 0;
        let decoded: Vec<Decoded> = insns
            .iter()
            .map(|&insn| {
                let d = Decoded { pc, insn };
                pc += insn.slots();
                d
            })
            .collect();
        Self::build(decoded)
    }

    /// Loads a program from [`decode`]'s output; the pcs must follow the slot sizes.
    pub fn from_decoded(decoded: &[Decoded]) -> Result<Program, LoadError> {
        let mut expected = 0;
        for d in decoded {
            if d.pc != expected {
                return Err(LoadError {
                    pc: d.pc,
                    kind: LoadErrorKind::BadSlotIndex {
                        found: d.pc,
                        expected,
                    },
                });
            }
            expected += d.insn.slots();
        }
        Self::build(decoded.to_vec())
    }

    /// Decodes and loads little-endian bytecode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, LoadError> {
        let decoded = decode(bytes).map_err(|e| LoadError {
            pc: e.index,
            kind: LoadErrorKind::Decode(e.kind),
        })?;
        Self::build(decoded)
    }

    /// The instructions with their slot indices, as loaded.
    pub fn insns(&self) -> &[Decoded] {
        &self.insns
    }

    /// Number of 8-byte slots (what jump offsets and error pcs count).
    pub fn slot_count(&self) -> usize {
        self.ops.len()
    }

    /// How many bytes at the top of each stack frame (below r10) the program can access:
    /// the deepest r10-relative access when r10 is only ever the base of loads, stores and
    /// atomics with constant offsets inside the frame and no helper is called, else
    /// [`STACK_SIZE`](bpfkit_isa::STACK_SIZE). Execution engines zero only these bytes of
    /// each frame: no other stack byte can be read, so the stack still reads as zeroed.
    pub fn stack_need(&self) -> usize {
        self.stack_need
    }

    /// Every `call <helper>` as `(pc, helper number)`.
    pub fn helper_calls(&self) -> impl Iterator<Item = (usize, i32)> + '_ {
        self.insns.iter().filter_map(|d| match d.insn {
            Insn::Call(CallTarget::Helper(id)) => Some((d.pc, id)),
            _ => None,
        })
    }

    /// Checks that every `call <helper>` names a helper `helpers` provides.
    ///
    /// (`callx` targets are only known at run time and checked then.)
    pub fn check_helpers<H: Helpers + ?Sized>(&self, helpers: &H) -> Result<(), LoadError> {
        match self.helper_calls().find(|&(_, id)| !helpers.is_known(id)) {
            Some((pc, id)) => Err(LoadError {
                pc,
                kind: LoadErrorKind::UnknownHelper(id),
            }),
            None => Ok(()),
        }
    }

    fn build(insns: Vec<Decoded>) -> Result<Program, LoadError> {
        let len = insns.last().map_or(0, |d| d.pc + d.insn.slots());
        if len == 0 {
            return Err(LoadError {
                pc: 0,
                kind: LoadErrorKind::Empty,
            });
        }
        if len > u32::MAX as usize {
            return Err(LoadError {
                pc: 0,
                kind: LoadErrorKind::TooLarge(len),
            });
        }
        let mut ops = vec![Op::LdImm64Tail; len];
        let mut is_start = vec![false; len];
        for d in &insns {
            is_start[d.pc] = true;
        }
        let targets = Targets { is_start, len };
        for d in &insns {
            ops[d.pc] = lower(d, &targets).map_err(|kind| LoadError { pc: d.pc, kind })?;
        }
        let last = insns[insns.len() - 1];
        if !last.insn.is_terminator() {
            return Err(LoadError {
                pc: last.pc,
                kind: LoadErrorKind::FallsOffEnd,
            });
        }
        let stack_need = crate::stack_use::stack_need(&insns);
        Ok(Program {
            ops,
            insns,
            stack_need,
        })
    }
}

/// Which slots may be jumped to.
struct Targets {
    is_start: Vec<bool>,
    len: usize,
}

impl Targets {
    /// The absolute slot `pc + 1 + off`, if it starts an instruction.
    fn resolve(&self, what: &'static str, pc: usize, off: i64) -> Result<T, LoadErrorKind> {
        let target = pc as i64 + 1 + off;
        if target < 0 || target >= self.len as i64 {
            return Err(LoadErrorKind::TargetOutOfRange {
                what,
                target,
                len: self.len,
            });
        }
        if !self.is_start[target as usize] {
            return Err(LoadErrorKind::TargetInLdImm64 {
                what,
                target: target as usize,
            });
        }
        Ok(target as T)
    }
}

fn invalid(what: &'static str) -> LoadErrorKind {
    LoadErrorKind::Invalid(what)
}

fn lower(d: &Decoded, targets: &Targets) -> Result<Op, LoadErrorKind> {
    if d.insn.written_reg() == Some(Reg::R10) {
        return Err(LoadErrorKind::WritesFramePointer);
    }
    Ok(match d.insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => lower_alu(width, op, dst.num(), src)?,
        Insn::End { kind, bits, dst } => lower_end(kind, bits, dst.num())?,
        Insn::Ja { off, .. } => Op::Ja(targets.resolve("jump", d.pc, off as i64)?),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let t = targets.resolve("jump", d.pc, off as i64)?;
            lower_jmp(width, cond, dst.num(), src, t)
        }
        Insn::Call(CallTarget::Helper(id)) => Op::CallHelper(id),
        Insn::Call(CallTarget::Local(off)) => {
            Op::CallLocal(targets.resolve("call", d.pc, off as i64)?)
        }
        Insn::Call(CallTarget::Reg(r)) => Op::CallReg(r.num()),
        Insn::Call(CallTarget::Kfunc(id)) => return Err(LoadErrorKind::Kfunc(id)),
        Insn::Exit => Op::Exit,
        Insn::LdImm64 { dst, kind, imm } => match kind {
            LdImm64Kind::Imm => Op::LdImm64(dst.num(), imm),
            LdImm64Kind::Func => {
                let t = targets.resolve("function address", d.pc, imm as u32 as i32 as i64)?;
                Op::LdImm64(dst.num(), FUNC_ADDR_TAG | t as u64)
            }
            other => return Err(LoadErrorKind::UnresolvedPseudo(other)),
        },
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let (d, s) = (dst.num(), src.num());
            match (size, signed) {
                (MemSize::B, false) => Op::LdxB(d, s, off),
                (MemSize::H, false) => Op::LdxH(d, s, off),
                (MemSize::W, false) => Op::LdxW(d, s, off),
                (MemSize::DW, false) => Op::LdxDW(d, s, off),
                (MemSize::B, true) => Op::LdxSB(d, s, off),
                (MemSize::H, true) => Op::LdxSH(d, s, off),
                (MemSize::W, true) => Op::LdxSW(d, s, off),
                (MemSize::DW, true) => return Err(invalid("ldxs of 8 bytes")),
            }
        }
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => {
            let (d, k) = (dst.num(), imm as i64 as u64);
            match size {
                MemSize::B => Op::StB(d, off, k),
                MemSize::H => Op::StH(d, off, k),
                MemSize::W => Op::StW(d, off, k),
                MemSize::DW => Op::StDW(d, off, k),
            }
        }
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => {
            let (d, s) = (dst.num(), src.num());
            match size {
                MemSize::B => Op::StxB(d, off, s),
                MemSize::H => Op::StxH(d, off, s),
                MemSize::W => Op::StxW(d, off, s),
                MemSize::DW => Op::StxDW(d, off, s),
            }
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            if !matches!(size, MemSize::W | MemSize::DW) {
                return Err(invalid("atomic of 1 or 2 bytes"));
            }
            Op::Atomic {
                size,
                op,
                dst: dst.num(),
                src: src.num(),
                off,
            }
        }
        Insn::LdAbs { size, imm } => {
            if size == MemSize::DW {
                return Err(invalid("ld_abs of 8 bytes"));
            }
            Op::LdAbs(size, imm)
        }
        Insn::LdInd { size, src, imm } => {
            if size == MemSize::DW {
                return Err(invalid("ld_ind of 8 bytes"));
            }
            Op::LdInd(size, src.num(), imm)
        }
    })
}

fn lower_alu(width: Width, op: AluOp, d: u8, src: Operand) -> Result<Op, LoadErrorKind> {
    use AluOp::*;
    if let MovSx(bits) = op {
        return match (width, src, bits) {
            (Width::W64, Operand::Reg(s), 8 | 16 | 32) => Ok(Op::MovSx64(d, s.num(), bits)),
            (Width::W32, Operand::Reg(s), 8 | 16) => Ok(Op::MovSx32(d, s.num(), bits)),
            (_, Operand::Imm(_), _) => Err(invalid("movsx of an immediate")),
            _ => Err(invalid("movsx width (8, 16, or 32 for 64-bit only)")),
        };
    }
    Ok(match (width, src) {
        (Width::W64, Operand::Imm(i)) => {
            let k = i as i64 as u64;
            match op {
                Add => Op::Add64K(d, k),
                Sub => Op::Sub64K(d, k),
                Mul => Op::Mul64K(d, k),
                Div => Op::Div64K(d, k),
                SDiv => Op::SDiv64K(d, k),
                Mod => Op::Mod64K(d, k),
                SMod => Op::SMod64K(d, k),
                Or => Op::Or64K(d, k),
                And => Op::And64K(d, k),
                Lsh => Op::Lsh64K(d, k),
                Rsh => Op::Rsh64K(d, k),
                Arsh => Op::Arsh64K(d, k),
                Xor => Op::Xor64K(d, k),
                Mov => Op::Mov64K(d, k),
                Neg | MovSx(_) => Op::Neg64(d),
            }
        }
        (Width::W64, Operand::Reg(s)) => {
            let s = s.num();
            match op {
                Add => Op::Add64X(d, s),
                Sub => Op::Sub64X(d, s),
                Mul => Op::Mul64X(d, s),
                Div => Op::Div64X(d, s),
                SDiv => Op::SDiv64X(d, s),
                Mod => Op::Mod64X(d, s),
                SMod => Op::SMod64X(d, s),
                Or => Op::Or64X(d, s),
                And => Op::And64X(d, s),
                Lsh => Op::Lsh64X(d, s),
                Rsh => Op::Rsh64X(d, s),
                Arsh => Op::Arsh64X(d, s),
                Xor => Op::Xor64X(d, s),
                Mov => Op::Mov64X(d, s),
                Neg | MovSx(_) => Op::Neg64(d),
            }
        }
        (Width::W32, Operand::Imm(i)) => {
            let k = i as u32;
            match op {
                Add => Op::Add32K(d, k),
                Sub => Op::Sub32K(d, k),
                Mul => Op::Mul32K(d, k),
                Div => Op::Div32K(d, k),
                SDiv => Op::SDiv32K(d, k),
                Mod => Op::Mod32K(d, k),
                SMod => Op::SMod32K(d, k),
                Or => Op::Or32K(d, k),
                And => Op::And32K(d, k),
                Lsh => Op::Lsh32K(d, k),
                Rsh => Op::Rsh32K(d, k),
                Arsh => Op::Arsh32K(d, k),
                Xor => Op::Xor32K(d, k),
                Mov => Op::Mov32K(d, k),
                Neg | MovSx(_) => Op::Neg32(d),
            }
        }
        (Width::W32, Operand::Reg(s)) => {
            let s = s.num();
            match op {
                Add => Op::Add32X(d, s),
                Sub => Op::Sub32X(d, s),
                Mul => Op::Mul32X(d, s),
                Div => Op::Div32X(d, s),
                SDiv => Op::SDiv32X(d, s),
                Mod => Op::Mod32X(d, s),
                SMod => Op::SMod32X(d, s),
                Or => Op::Or32X(d, s),
                And => Op::And32X(d, s),
                Lsh => Op::Lsh32X(d, s),
                Rsh => Op::Rsh32X(d, s),
                Arsh => Op::Arsh32X(d, s),
                Xor => Op::Xor32X(d, s),
                Mov => Op::Mov32X(d, s),
                Neg | MovSx(_) => Op::Neg32(d),
            }
        }
    })
}

fn lower_end(kind: Endian, bits: u8, d: u8) -> Result<Op, LoadErrorKind> {
    let swap = match kind {
        Endian::Swap => true,
        Endian::ToBe => cfg!(target_endian = "little"),
        Endian::ToLe => cfg!(target_endian = "big"),
    };
    Ok(match (bits, swap) {
        (16, false) => Op::Zext16(d),
        (32, false) => Op::Zext32(d),
        (64, false) => Op::Nop,
        (16, true) => Op::Bswap16(d),
        (32, true) => Op::Bswap32(d),
        (64, true) => Op::Bswap64(d),
        _ => return Err(invalid("byte-swap width (16, 32 or 64)")),
    })
}

fn lower_jmp(width: Width, cond: JmpCond, d: u8, src: Operand, t: T) -> Op {
    use JmpCond::*;
    match (width, src) {
        (Width::W64, Operand::Imm(i)) => {
            let k = i as i64 as u64;
            match cond {
                Eq => Op::Jeq64K(d, k, t),
                Ne => Op::Jne64K(d, k, t),
                Gt => Op::Jgt64K(d, k, t),
                Ge => Op::Jge64K(d, k, t),
                Lt => Op::Jlt64K(d, k, t),
                Le => Op::Jle64K(d, k, t),
                Set => Op::Jset64K(d, k, t),
                Sgt => Op::Jsgt64K(d, k, t),
                Sge => Op::Jsge64K(d, k, t),
                Slt => Op::Jslt64K(d, k, t),
                Sle => Op::Jsle64K(d, k, t),
            }
        }
        (Width::W64, Operand::Reg(s)) => {
            let s = s.num();
            match cond {
                Eq => Op::Jeq64X(d, s, t),
                Ne => Op::Jne64X(d, s, t),
                Gt => Op::Jgt64X(d, s, t),
                Ge => Op::Jge64X(d, s, t),
                Lt => Op::Jlt64X(d, s, t),
                Le => Op::Jle64X(d, s, t),
                Set => Op::Jset64X(d, s, t),
                Sgt => Op::Jsgt64X(d, s, t),
                Sge => Op::Jsge64X(d, s, t),
                Slt => Op::Jslt64X(d, s, t),
                Sle => Op::Jsle64X(d, s, t),
            }
        }
        (Width::W32, Operand::Imm(i)) => {
            let k = i as u32;
            match cond {
                Eq => Op::Jeq32K(d, k, t),
                Ne => Op::Jne32K(d, k, t),
                Gt => Op::Jgt32K(d, k, t),
                Ge => Op::Jge32K(d, k, t),
                Lt => Op::Jlt32K(d, k, t),
                Le => Op::Jle32K(d, k, t),
                Set => Op::Jset32K(d, k, t),
                Sgt => Op::Jsgt32K(d, k, t),
                Sge => Op::Jsge32K(d, k, t),
                Slt => Op::Jslt32K(d, k, t),
                Sle => Op::Jsle32K(d, k, t),
            }
        }
        (Width::W32, Operand::Reg(s)) => {
            let s = s.num();
            match cond {
                Eq => Op::Jeq32X(d, s, t),
                Ne => Op::Jne32X(d, s, t),
                Gt => Op::Jgt32X(d, s, t),
                Ge => Op::Jge32X(d, s, t),
                Lt => Op::Jlt32X(d, s, t),
                Le => Op::Jle32X(d, s, t),
                Set => Op::Jset32X(d, s, t),
                Sgt => Op::Jsgt32X(d, s, t),
                Sge => Op::Jsge32X(d, s, t),
                Slt => Op::Jslt32X(d, s, t),
                Sle => Op::Jsle32X(d, s, t),
            }
        }
    }
}
