//! Loads, stores and atomics: which memory a pointer may touch, and stack contents.

use super::{err, Engine, Res};
use crate::bounds::Scalar;
use crate::env::CtxField;
use crate::error::ErrorKind;
use crate::scalar_ops;
use crate::state::{ByteKind, RegState, RegType, StackSlot, State};
use bpfkit_isa::{AtomicOp, Insn, MemSize, Reg, Width, STACK_SIZE};

/// Direction of an access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Read,
    Write,
}

const MAX_VAR_OFF: i64 = 1 << 29;

/// A variable offset as the kernel prints it: the value when constant, else `(value; mask)`.
fn tnum_str(v: &Scalar) -> String {
    match v.as_const() {
        Some(c) => (c as i64).to_string(),
        None => v.var.to_string(),
    }
}

fn mem_err(pc: usize, m: String) -> crate::error::VerifyError {
    err(pc, ErrorKind::MemoryAccess, m)
}

/// A scalar as its low `size` bytes read back (zero-extended); a link to other registers
/// survives only when the value fits.
fn truncated(v: RegState, size: usize) -> RegState {
    if size >= 8 {
        return v;
    }
    let mask = (1u64 << (size * 8)) - 1;
    if v.var.r64.umax <= mask {
        return v;
    }
    RegState::scalar(scalar_ops::binop(
        scalar_ops::BinOp::And,
        Width::W64,
        &v.var,
        &Scalar::constant(mask),
    ))
}

/// An unknown value zero-extended from `size` bytes (or sign-extended for `ldsx`).
fn loaded(size: usize, signed: bool) -> Scalar {
    let v = if size >= 8 {
        Scalar::UNKNOWN
    } else {
        Scalar::urange(0, (1u64 << (size * 8)) - 1)
    };
    if signed && size < 8 {
        scalar_ops::movsx(Width::W64, (size * 8) as u8, &v)
    } else {
        v
    }
}

impl Engine<'_> {
    pub(super) fn check_mem_insn(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Res<()> {
        match *insn {
            Insn::Ldx {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let base = self.read_reg(st, pc, src)?;
                self.check_dst(pc, dst)?;
                let v = self.access(
                    st,
                    pc,
                    src,
                    base,
                    off as i64,
                    size.bytes(),
                    Access::Read,
                    None,
                )?;
                let mut v = v.expect("reads produce a value");
                if v.ty == RegType::Scalar && signed {
                    v = RegState::scalar(scalar_ops::movsx(
                        Width::W64,
                        (size.bytes() * 8) as u8,
                        &v.var,
                    ));
                }
                st.cur_mut().regs[dst.idx()] = v;
            }
            Insn::St {
                size,
                dst,
                off,
                imm,
            } => {
                let base = self.read_reg(st, pc, dst)?;
                let value = RegState::scalar(match size {
                    MemSize::DW => Scalar::constant(imm as i64 as u64),
                    _ => Scalar::constant(imm as i64 as u64 & ((1u64 << (size.bytes() * 8)) - 1)),
                });
                self.access(
                    st,
                    pc,
                    dst,
                    base,
                    off as i64,
                    size.bytes(),
                    Access::Write,
                    Some(value),
                )?;
            }
            Insn::Stx {
                size,
                dst,
                src,
                off,
            } => {
                let base = self.read_reg(st, pc, dst)?;
                let mut value = self.read_reg(st, pc, src)?;
                let fits = size == MemSize::DW || value.var.r64.umax < 1u64 << (8 * size.bytes());
                if matches!(base.ty, RegType::Stack { .. }) && base.var.as_const().is_some() && fits
                {
                    // As the kernel: a spill shares an id with its register, so that bounds
                    // the register learns later hold for the spilled copy too.
                    value = self.copy_reg(st, src, value);
                }
                self.access(
                    st,
                    pc,
                    dst,
                    base,
                    off as i64,
                    size.bytes(),
                    Access::Write,
                    Some(value),
                )?;
            }
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.check_atomic(st, pc, size, op, dst, src, off)?,
            _ => unreachable!("memory instructions only"),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn check_atomic(
        &mut self,
        st: &mut State,
        pc: usize,
        size: MemSize,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Res<()> {
        let base = self.read_reg(st, pc, dst)?;
        let value = self.read_reg(st, pc, src)?;
        if op == AtomicOp::Cmpxchg {
            self.read_reg(st, pc, Reg::R0)?;
        }
        if matches!(
            base.ty,
            RegType::Ctx | RegType::Packet | RegType::PacketMeta | RegType::PacketEnd
        ) && !base.nullable
        {
            return Err(mem_err(
                pc,
                format!(
                    "BPF_ATOMIC stores into R{} {} is not allowed",
                    dst.num(),
                    base.type_name()
                ),
            ));
        }
        if value.ty.is_pointer() && !self.env.allow_ptr_leaks() {
            return Err(err(
                pc,
                ErrorKind::PointerLeak,
                format!("R{} leaks addr into mem", src.num()),
            ));
        }
        let n = size.bytes();
        let total = base.off as i64 + off as i64;
        if !base
            .var
            .var
            .add(crate::tnum::Tnum::constant(total as u64))
            .is_aligned(n as u64)
            && base.ty.is_pointer()
        {
            return Err(mem_err(
                pc,
                format!(
                    "misaligned access off {}+{}+{} size {}",
                    base.var.var, base.off, off, n
                ),
            ));
        }
        self.access(st, pc, dst, base, off as i64, n, Access::Read, None)?;
        self.access(
            st,
            pc,
            dst,
            base,
            off as i64,
            n,
            Access::Write,
            Some(RegState::unknown()),
        )?;
        let fetched = RegState::scalar(loaded(n, false));
        match op {
            AtomicOp::Cmpxchg => st.cur_mut().regs[0] = fetched,
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => {
                self.check_dst(pc, src)?;
                st.cur_mut().regs[src.idx()] = fetched;
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks one access of `size` bytes at `base + off` through register `regno`; a read
    /// returns the loaded value, a write stores `value`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn access(
        &mut self,
        st: &mut State,
        pc: usize,
        regno: Reg,
        base: RegState,
        off: i64,
        size: usize,
        access: Access,
        value: Option<RegState>,
    ) -> Res<Option<RegState>> {
        let n = regno.num();
        if base.ty == RegType::NotInit {
            return Err(err(pc, ErrorKind::Register, format!("R{n} !read_ok")));
        }
        if !base.ty.is_pointer()
            || base.nullable
            || matches!(
                base.ty,
                RegType::PacketEnd | RegType::MapPtr { .. } | RegType::Func { .. }
            )
        {
            return Err(mem_err(
                pc,
                format!("R{n} invalid mem access '{}'", base.type_name()),
            ));
        }
        let unknown = RegState::scalar(loaded(size, false));
        match base.ty {
            RegType::Ctx => {
                if base.off != 0 {
                    return Err(mem_err(
                        pc,
                        format!(
                            "dereference of modified ctx ptr R{n} off={} disallowed",
                            base.off
                        ),
                    ));
                }
                if base.var.as_const() != Some(0) {
                    return Err(mem_err(
                        pc,
                        format!(
                            "variable ctx access var_off={} off={off} size={size}",
                            base.var.var
                        ),
                    ));
                }
                let field = self
                    .env
                    .ctx_access(off, size as u32, access == Access::Write)
                    .map_err(|m| {
                        if m.is_empty() {
                            mem_err(
                                pc,
                                format!("invalid bpf_context access off={off} size={size}"),
                            )
                        } else {
                            mem_err(pc, m)
                        }
                    })?;
                if access == Access::Write {
                    return Ok(None);
                }
                if field != CtxField::Scalar && size < 4 {
                    // Pointer fields are 32-bit loads; the static analyses rely on narrower
                    // loads giving numbers, whatever the environment says.
                    return Err(mem_err(
                        pc,
                        format!("invalid bpf_context access off={off} size={size}"),
                    ));
                }
                let ty = match field {
                    CtxField::Scalar => return Ok(Some(unknown)),
                    CtxField::PacketData => RegType::Packet,
                    CtxField::PacketEnd => RegType::PacketEnd,
                    CtxField::PacketMeta => RegType::PacketMeta,
                };
                Ok(Some(RegState::pointer(ty, 0)))
            }
            RegType::Stack { frame } => {
                self.stack_access(st, pc, n, base, frame, off, size, access, value)
            }
            RegType::Packet | RegType::PacketMeta => {
                if access == Access::Write && !self.env.packet_writable() {
                    return Err(mem_err(pc, "cannot write into packet".into()));
                }
                if base.var.r64.smin < 0 {
                    return Err(mem_err(pc, format!(
                        "R{n} min value is negative, either use unsigned index or do a if (index >=0) check."
                    )));
                }
                let total = off + base.off as i64;
                if total < 0 || total + size as i64 > base.range as i64 {
                    return Err(mem_err(
                        pc,
                        format!(
                            "invalid access to packet, off={total} size={size}, R{n}(id={},off={total},r={})",
                            base.id, base.range
                        ),
                    ));
                }
                Ok((access == Access::Read).then_some(unknown))
            }
            RegType::MapValue { map } => {
                let info = self.map_info(map);
                let limit = info.value_size as i64;
                if access == Access::Write && info.read_only {
                    return Err(mem_err(
                        pc,
                        format!(
                            "write into map forbidden, value_size={limit} off={} size={size}",
                            off + base.off as i64
                        ),
                    ));
                }
                self.region_check(pc, n, &base, off, size, limit, |o| {
                    format!("invalid access to map value, value_size={limit} off={o} size={size}")
                })?;
                Ok((access == Access::Read).then_some(unknown))
            }
            RegType::MapKey { map } => {
                if access == Access::Write {
                    return Err(mem_err(pc, format!("write to change key R{n} not allowed")));
                }
                let limit = self.map_info(map).key_size as i64;
                self.region_check(pc, n, &base, off, size, limit, |o| {
                    format!("invalid access to map key, key_size={limit} off={o} size={size}")
                })?;
                Ok((access == Access::Read).then_some(unknown))
            }
            RegType::Mem { size: limit, .. } => {
                let limit = limit as i64;
                self.region_check(pc, n, &base, off, size, limit, |o| {
                    format!("invalid access to memory, mem_size={limit} off={o} size={size}")
                })?;
                Ok((access == Access::Read).then_some(unknown))
            }
            RegType::NotInit
            | RegType::Scalar
            | RegType::PacketEnd
            | RegType::MapPtr { .. }
            | RegType::Func { .. } => {
                unreachable!("rejected above")
            }
        }
    }

    /// Bounds of an access to a region of `limit` bytes with a possibly variable offset
    /// (the kernel's `check_mem_region_access`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn region_check(
        &self,
        pc: usize,
        n: u8,
        base: &RegState,
        off: i64,
        size: usize,
        limit: i64,
        msg: impl Fn(i64) -> String,
    ) -> Res<()> {
        let off = off + base.off as i64;
        let size = size as i64;
        let ok = |o: i64| o >= 0 && o + size <= limit;
        if let Some(c) = base.var.as_const() {
            let o = off + c as i64;
            return if ok(o) {
                Ok(())
            } else {
                Err(mem_err(pc, msg(o)))
            };
        }
        let smin = base.var.r64.smin;
        if smin < 0
            && (smin == i64::MIN || smin + off < 0 || smin + off != (smin + off) as i32 as i64)
        {
            return Err(mem_err(pc, format!(
                "R{n} min value is negative, either use unsigned index or do a if (index >=0) check."
            )));
        }
        if !ok(smin + off) {
            return Err(mem_err(
                pc,
                format!("R{n} min value is outside of the allowed memory range"),
            ));
        }
        let umax = base.var.r64.umax;
        if umax >= MAX_VAR_OFF as u64 {
            return Err(mem_err(
                pc,
                format!("R{n} unbounded memory access, make sure to bounds check any such access"),
            ));
        }
        if !ok(umax as i64 + off) {
            return Err(mem_err(
                pc,
                format!("R{n} max value is outside of the allowed memory range"),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_access(
        &mut self,
        st: &mut State,
        pc: usize,
        n: u8,
        base: RegState,
        frame: u8,
        off: i64,
        size: usize,
        access: Access,
        value: Option<RegState>,
    ) -> Res<Option<RegState>> {
        let what = if access == Access::Read {
            " read from"
        } else {
            " write to"
        };
        let fixed = base.off as i64 + off;
        let Some(c) = base.var.as_const() else {
            return self.stack_var_access(st, pc, n, base, frame, fixed, size, access, what);
        };
        let start = fixed + c as i64;
        if !crate::tnum::Tnum::constant(start as u64).is_aligned(size as u64) {
            return Err(mem_err(
                pc,
                format!(
                    "misaligned stack access off {}+{}+{} size {size}",
                    tnum_str(&base.var),
                    base.off,
                    off
                ),
            ));
        }
        if start < -(STACK_SIZE as i64) || start + size as i64 > 0 {
            return Err(mem_err(
                pc,
                format!("invalid{what} stack R{n} off={start} size={size}"),
            ));
        }
        let fr = &mut st.frames[frame as usize];
        match access {
            Access::Write => {
                let value = value.expect("writes carry a value");
                if value.ty != RegType::Scalar && size != 8 {
                    return Err(mem_err(pc, "invalid size of register spill".into()));
                }
                if let RegType::Stack { frame: vf } = value.ty {
                    if vf > frame {
                        return Err(mem_err(
                            pc,
                            "cannot spill pointers to stack into stack frame of the caller".into(),
                        ));
                    }
                }
                let (slot, byte) = fr.slot_mut(start);
                if size == 8 {
                    *slot = StackSlot {
                        bytes: [ByteKind::Spill; 8],
                        spill: value,
                    };
                } else {
                    // A partial overwrite destroys the spilled register; a spilled
                    // constant leaves its bytes behind.
                    *slot = slot.as_bytes();
                    let konst = value.var.as_const();
                    let narrow = truncated(value, size);
                    // A value that says nothing (any number of that size, unlinked) is kept
                    // as plain unknown bytes, which compare more easily when pruning.
                    let informative = narrow.id != 0 || !narrow.var.includes(&loaded(size, false));
                    if konst.is_none() && byte == 0 && informative {
                        // A narrow spill (as the kernel's): the value, truncated, reads back
                        // with its bounds from the same place at the same or a smaller size.
                        slot.bytes[..size].fill(ByteKind::Spill);
                        slot.spill = narrow;
                    } else {
                        for (i, b) in slot.bytes[byte..byte + size].iter_mut().enumerate() {
                            *b = konst
                                .map_or(ByteKind::Misc, |c| ByteKind::known((c >> (8 * i)) as u8));
                        }
                    }
                }
                Ok(None)
            }
            Access::Read => {
                if let Some((slot, at)) = fr.slot(start).filter(|(s, _)| s.is_spill()) {
                    if slot.spill.ty != RegType::Scalar {
                        if size != 8 {
                            return Err(mem_err(pc, "invalid size of register fill".into()));
                        }
                        return Ok(Some(slot.spill));
                    }
                    if at == 0 && size <= slot.spill_len() {
                        return Ok(Some(truncated(slot.spill, size)));
                    }
                }
                // Known bytes (constants, zeros, bytes of a spilled constant) give a constant.
                let mut value = Some(0u64);
                for i in 0..size as i64 {
                    let known = match fr.byte(start + i) {
                        ByteKind::Invalid if !self.opts.allow_uninit_stack => {
                            return Err(mem_err(
                                pc,
                                format!("invalid read from stack off {start}+{i} size {size}"),
                            ))
                        }
                        ByteKind::Zero => Some(0),
                        ByteKind::Const(b) => Some(b),
                        ByteKind::Spill => {
                            let (slot, byte) = fr.slot(start + i).expect("spill exists");
                            let sp = slot.spill;
                            sp.var
                                .as_const()
                                .filter(|_| sp.ty == RegType::Scalar)
                                .map(|c| (c >> (8 * byte)) as u8)
                        }
                        _ => None,
                    };
                    value = value.zip(known).map(|(v, b)| v | (b as u64) << (8 * i));
                }
                Ok(Some(RegState::scalar(match value {
                    Some(v) => Scalar::constant(v),
                    None => loaded(size, false),
                })))
            }
        }
    }

    /// Stack access at a variable offset: every byte it may touch must be in bounds; reads
    /// need them all initialized; writes turn them into unknown bytes.
    #[allow(clippy::too_many_arguments)]
    fn stack_var_access(
        &mut self,
        st: &mut State,
        pc: usize,
        n: u8,
        base: RegState,
        frame: u8,
        fixed: i64,
        size: usize,
        access: Access,
        what: &str,
    ) -> Res<Option<RegState>> {
        let (smin, smax) = (base.var.r64.smin, base.var.r64.smax);
        if smax >= MAX_VAR_OFF || smin <= -MAX_VAR_OFF {
            return Err(mem_err(
                pc,
                format!("invalid unbounded variable-offset{what} stack R{n}"),
            ));
        }
        let lo = fixed.checked_add(smin);
        let hi = fixed
            .checked_add(smax)
            .and_then(|h| h.checked_add(size as i64));
        let in_bounds =
            matches!((lo, hi), (Some(l), Some(h)) if l >= -(STACK_SIZE as i64) && h <= 0);
        if !in_bounds {
            return Err(mem_err(
                pc,
                format!(
                    "invalid variable-offset{what} stack R{n} var_off={} off={fixed} size={size}",
                    base.var.var
                ),
            ));
        }
        let (lo, hi) = (lo.expect("checked"), hi.expect("checked"));
        let fr = &mut st.frames[frame as usize];
        match access {
            Access::Read => {
                for o in lo..hi {
                    if fr.byte(o) == ByteKind::Invalid && !self.opts.allow_uninit_stack {
                        return Err(mem_err(
                            pc,
                            format!(
                                "invalid variable-offset read from stack R{n} var_off={} off={fixed} size={size}",
                                base.var.var
                            ),
                        ));
                    }
                }
                Ok(Some(RegState::scalar(loaded(size, false))))
            }
            Access::Write => {
                for o in lo..hi {
                    let (slot, byte) = fr.slot_mut(o);
                    if slot.is_spill() {
                        *slot = slot.as_bytes();
                    }
                    // Bytes maybe not written keep their kind unless they were already data.
                    if matches!(slot.bytes[byte], ByteKind::Zero | ByteKind::Const(_)) {
                        slot.bytes[byte] = ByteKind::Misc;
                    }
                }
                Ok(None)
            }
        }
    }

    /// `ld_abs`/`ld_ind`: legacy packet loads through the skb in r6.
    pub(super) fn check_ld_abs(
        &mut self,
        st: &mut State,
        pc: usize,
        insn: &Insn,
        size: MemSize,
    ) -> Res<()> {
        if !self.env.allows_ld_abs() {
            return Err(err(
                pc,
                ErrorKind::Unsupported,
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            ));
        }
        if !st.refs.is_empty() {
            return Err(err(
                pc,
                ErrorKind::Reference,
                "BPF_LD_[ABS|IND] cannot be mixed with socket references",
            ));
        }
        if size == MemSize::DW {
            return Err(err(
                pc,
                ErrorKind::Unsupported,
                "invalid BPF_LD_[ABS|IND] size",
            ));
        }
        if let Insn::LdInd { src, .. } = *insn {
            self.read_reg(st, pc, src)?;
        }
        let r6 = self.read_reg(st, pc, Reg::R6)?;
        if r6.ty != RegType::Ctx {
            return Err(err(
                pc,
                ErrorKind::MemoryAccess,
                "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
            ));
        }
        let fr = st.cur_mut();
        for r in 1..=5 {
            fr.regs[r] = RegState::NOT_INIT;
        }
        fr.regs[0] = RegState::scalar(loaded(size.bytes(), false));
        Ok(())
    }
}
