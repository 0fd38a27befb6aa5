//! Calls (helpers and bpf-to-bpf) and exits.

use super::mem::Access;
use super::{err, Engine, Flow, Path, Res};
use crate::bounds::Scalar;
use crate::env::{ArgKind, MapInfo, MapType, RetKind};
use crate::error::ErrorKind;
use crate::names::helper_name;
use crate::state::{ByteKind, Frame, RefState, RegState, RegType, State};
use bpfkit_isa::{CallTarget, Reg, MAX_CALL_FRAMES, STACK_SIZE};

/// Largest size a helper memory argument may have (the kernel's `BPF_MAX_VAR_SIZ`).
const MAX_VAR_SIZE: u64 = 1 << 29;

fn call_err(pc: usize, m: String) -> crate::error::VerifyError {
    err(pc, ErrorKind::Call, m)
}

/// Facts gathered while checking one helper call's arguments.
#[derive(Default)]
struct CallMeta {
    map: Option<(u32, MapInfo)>,
    /// The memory argument waiting for its size: (register, state, helper writes it).
    mem: Option<(Reg, RegState, bool)>,
    alloc_size: Option<u64>,
    release: Option<u32>,
    lock_id: Option<u32>,
    /// The function a callback argument names.
    callback: Option<usize>,
}

/// Which helpers a map type works with (the kernel's `check_map_func_compatibility`).
fn map_compatible(map: MapType, helper: i32) -> bool {
    const KV: [i32; 3] = [1, 2, 3];
    const QUEUE: [i32; 3] = [87, 88, 89];
    const RINGBUF: [i32; 2] = [130, 131];
    match map {
        MapType::ProgArray => helper == 12,
        // Programs only look maps of maps up; a bloom filter takes push and peek.
        MapType::ArrayOfMaps | MapType::HashOfMaps => helper == 1,
        MapType::BloomFilter => matches!(helper, 87 | 89),
        _ if helper == 164 => map.is_key_value(),
        MapType::Ringbuf => RINGBUF.contains(&helper) || helper == 134,
        MapType::Queue | MapType::Stack => QUEUE.contains(&helper),
        _ => {
            let needs_kv = KV.contains(&helper) || helper == 164;
            let needs_other = helper == 12
                || RINGBUF.contains(&helper)
                || helper == 134
                || QUEUE.contains(&helper);
            if needs_other {
                false
            } else {
                !needs_kv || map.is_key_value() || matches!(map, MapType::Other(_))
            }
        }
    }
}

impl Engine<'_> {
    pub(super) fn check_call(&mut self, path: &mut Path, target: CallTarget) -> Res<Flow> {
        let pc = path.pc;
        match target {
            CallTarget::Helper(id) => {
                if let Some((round, start)) = self.check_helper(&mut path.state, pc, id)? {
                    // Explore one round of the callback first; the helper returning
                    // (after any number of rounds) continues after the call.
                    let done = std::mem::replace(&mut path.state, round);
                    self.fork(path, pc + 1, done);
                    path.pc = start;
                    return Ok(Flow::Next);
                }
                path.pc += 1;
                Ok(Flow::Next)
            }
            CallTarget::Local(off) => {
                let st = &mut path.state;
                if st.lock.is_some() {
                    return Err(call_err(
                        pc,
                        "function calls are not allowed while holding a lock".into(),
                    ));
                }
                if st.frames.len() >= MAX_CALL_FRAMES {
                    return Err(call_err(
                        pc,
                        format!(
                            "the call stack of {} frames is too deep !",
                            st.frames.len() + 1
                        ),
                    ));
                }
                let callee = (pc as i64 + 1 + off as i64) as usize;
                let sp = self
                    .cfg
                    .subprog_at(callee)
                    .expect("cfg checked call targets");
                let mut frame = Frame::new(st.frames.len() as u8, pc, sp);
                frame.regs[1..=5].copy_from_slice(&st.cur().regs[1..=5]);
                st.frames.push(frame);
                path.pc = callee;
                Ok(Flow::Next)
            }
            CallTarget::Kfunc(_) => Err(err(
                pc,
                ErrorKind::Unsupported,
                "calling kernel functions is not supported",
            )),
            CallTarget::Reg(_) => Err(err(
                pc,
                ErrorKind::Unsupported,
                "indirect calls (callx) are not supported",
            )),
        }
    }

    pub(super) fn check_exit(&mut self, path: &mut Path) -> Res<Flow> {
        let pc = path.pc;
        let st = &mut path.state;
        let r0 = self.read_reg(st, pc, Reg::R0)?;
        if st.frames.len() > 1 && self.callback_call[st.cur().callsite] {
            return self.callback_exit(path, r0);
        }
        if st.frames.len() > 1 {
            let callee = st.frames.pop().expect("a callee frame");
            if r0.ty
                == (RegType::Stack {
                    frame: callee.frameno,
                })
            {
                return Err(err(
                    pc,
                    ErrorKind::PointerLeak,
                    "cannot return stack pointer to the caller frame",
                ));
            }
            let caller = st.cur_mut();
            caller.regs[0] = r0;
            for r in 1..=5 {
                caller.regs[r] = RegState::NOT_INIT;
            }
            path.pc = callee.callsite + 1;
            return Ok(Flow::Next);
        }
        if st.lock.is_some() {
            return Err(err(pc, ErrorKind::Reference, "bpf_spin_unlock is missing"));
        }
        if let Some(r) = st.refs.first() {
            return Err(err(
                pc,
                ErrorKind::Reference,
                format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn),
            ));
        }
        if let Some((lo, hi)) = self.env.return_range() {
            if r0.ty != RegType::Scalar {
                return Err(err(
                    pc,
                    ErrorKind::ReturnValue,
                    format!(
                        "At program exit the register R0 is not a known value ({})",
                        r0.type_name()
                    ),
                ));
            }
            let (smin, smax) = (r0.var.r64.smin, r0.var.r64.smax);
            if smin < lo || smax > hi {
                return Err(err(
                    pc,
                    ErrorKind::ReturnValue,
                    format!(
                        "At program exit the register R0 has smin={smin} smax={smax} should have been in [{lo}, {hi}]"
                    ),
                ));
            }
        } else if r0.ty.is_pointer() && !self.env.allow_ptr_leaks() {
            return Err(err(
                pc,
                ErrorKind::PointerLeak,
                "R0 leaks addr as return value",
            ));
        }
        Ok(Flow::End)
    }

    /// The end of one round of a callback: `r0` must be 0 (go on) or 1 (stop), the
    /// callback must release what it acquired, and control returns to the helper call,
    /// which may run another round.
    fn callback_exit(&mut self, path: &mut Path, r0: RegState) -> Res<Flow> {
        let pc = path.pc;
        let st = &mut path.state;
        if r0.ty != RegType::Scalar {
            return Err(err(pc, ErrorKind::ReturnValue, "R0 not a scalar value"));
        }
        let (smin, smax) = (r0.var.r64.smin, r0.var.r64.smax);
        if smin < 0 || smax > 1 {
            return Err(err(
                pc,
                ErrorKind::ReturnValue,
                format!(
                    "At callback return the register R0 has smin={smin} smax={smax} should have been in [0, 1]"
                ),
            ));
        }
        if st.lock.is_some() {
            return Err(err(pc, ErrorKind::Reference, "bpf_spin_unlock is missing"));
        }
        let frame = st.cur().frameno;
        if let Some(r) = st.refs.iter().find(|r| r.frame >= frame) {
            return Err(err(
                pc,
                ErrorKind::Reference,
                format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn),
            ));
        }
        let callee = st.frames.pop().expect("a callback frame");
        path.pc = callee.callsite;
        path.from_callback = true;
        path.callback_returns += 1;
        Ok(Flow::Next)
    }

    /// The callback's frame for one round of helper `id`'s callback `subprog`, called
    /// from `pc`: its arguments in r1.. as the helper passes them.
    fn callback_frame(
        &mut self,
        st: &State,
        pc: usize,
        id: i32,
        subprog: usize,
        meta: &CallMeta,
    ) -> Res<Frame> {
        if st.frames.len() >= MAX_CALL_FRAMES {
            return Err(call_err(
                pc,
                format!(
                    "the call stack of {} frames is too deep !",
                    st.frames.len() + 1
                ),
            ));
        }
        let caller = &st.cur().regs;
        let mut frame = Frame::new(st.frames.len() as u8, pc, subprog);
        match id {
            // bpf_loop: long (*callback)(u64 index, void *ctx).
            181 => {
                frame.regs[1] = RegState::unknown();
                frame.regs[2] = caller[3];
            }
            // bpf_for_each_map_elem: long (*callback)(map, key, value, ctx).
            164 => {
                let (map, _) = meta.map.expect("for_each_map_elem takes a map");
                frame.regs[1] = RegState::pointer(RegType::MapPtr { map }, 0);
                frame.regs[2] = RegState::pointer(RegType::MapKey { map }, 0);
                frame.regs[3] = RegState::pointer(RegType::MapValue { map }, 0);
                frame.regs[4] = caller[3];
            }
            _ => {
                return Err(err(
                    pc,
                    ErrorKind::Unsupported,
                    format!("callbacks of {}#{id} are not supported", helper_name(id)),
                ))
            }
        }
        Ok(frame)
    }

    /// Checks a helper call and applies its effects to `st`; for a helper that runs a
    /// callback, also returns the state of the callback's first round and where it starts.
    fn check_helper(&mut self, st: &mut State, pc: usize, id: i32) -> Res<Option<(State, usize)>> {
        let Some(proto) = self.env.helper(id) else {
            let name = helper_name(id);
            return Err(call_err(
                pc,
                if name == "unknown" {
                    format!("invalid func unknown#{id}")
                } else if name.contains("dynptr") {
                    // Not the kernel's wording: the kernel has them, bpfkit does not.
                    format!("{name}#{id}: dynptrs are not supported by bpfkit's verifier")
                } else if crate::helpers::find(
                    &[
                        crate::helpers::BASE,
                        crate::helpers::SOCKET_FILTER,
                        crate::helpers::TC,
                        crate::helpers::XDP,
                    ],
                    id,
                )
                .is_none()
                {
                    format!("helper {name}#{id} is not supported by bpfkit's verifier")
                } else {
                    format!("program of this type cannot use helper {name}#{id}")
                },
            ));
        };
        if st.lock.is_some() && !matches!(id, 94) {
            return Err(call_err(
                pc,
                "function calls are not allowed while holding a lock".into(),
            ));
        }
        let mut meta = CallMeta::default();
        for (i, kind) in proto.args.iter().enumerate() {
            let r = Reg::new(i as u8 + 1).expect("r1-r5");
            let reg = self.read_reg(st, pc, r)?;
            self.check_arg(st, pc, r, reg, *kind, &mut meta)?;
        }
        if let Some((_, info)) = meta.map {
            if id == 12 && info.map_type != MapType::ProgArray {
                return Err(call_err(pc, "expected prog array map for tail call".into()));
            }
            if !map_compatible(info.map_type, id) {
                return Err(call_err(
                    pc,
                    format!(
                        "cannot pass map_type {} into func {}#{id}",
                        info.map_type.number(),
                        helper_name(id)
                    ),
                ));
            }
        }
        let round = match meta.callback {
            Some(sp) => {
                let frame = self.callback_frame(st, pc, id, sp, &meta)?;
                let mut round = st.clone();
                round.frames.push(frame);
                Some((round, self.cfg.subprogs[sp].start))
            }
            None => None,
        };
        if let Some(ref_id) = meta.release {
            st.refs.retain(|r| r.id != ref_id);
            st.for_each_reg(|reg| {
                if reg.ref_id == ref_id {
                    *reg = RegState::unknown();
                }
            });
        }
        match (id, meta.lock_id) {
            (93, Some(l)) => {
                if st.lock.is_some() {
                    return Err(call_err(
                        pc,
                        "Locking two bpf_spin_locks are not allowed".into(),
                    ));
                }
                st.lock = Some(l);
            }
            (94, Some(l)) => match st.lock {
                None => return Err(call_err(pc, "bpf_spin_unlock without taking a lock".into())),
                Some(held) if held != l => {
                    return Err(call_err(pc, "bpf_spin_unlock of different lock".into()))
                }
                _ => st.lock = None,
            },
            _ => {}
        }
        let fr = st.cur_mut();
        for r in 1..=5 {
            fr.regs[r] = RegState::NOT_INIT;
        }
        let r0 = match proto.ret {
            RetKind::Integer => RegState::unknown(),
            RetKind::IntegerIn(lo, hi) => {
                let mut v = Scalar::UNKNOWN;
                v.r64.smin = lo;
                v.r64.smax = hi;
                RegState::scalar(v.sync().unwrap_or(Scalar::UNKNOWN))
            }
            RetKind::Void => RegState::NOT_INIT,
            RetKind::MapValueOrNull => {
                let (map, info) = meta.map.expect("lookup helpers take a map");
                if info.map_type.is_map_in_map() {
                    // The value is an inner map, described by the template.
                    let Some(inner) = info.inner_map else {
                        return Err(call_err(
                            pc,
                            "map of maps without an inner map template".into(),
                        ));
                    };
                    let (inner, _) = self.resolve_map(pc, inner)?;
                    let id = self.new_id();
                    st.cur_mut().regs[0] = RegState {
                        nullable: true,
                        id,
                        ..RegState::pointer(RegType::MapPtr { map: inner }, 0)
                    };
                    return Ok(round);
                }
                RegState {
                    nullable: true,
                    id: self.new_id(),
                    ..RegState::pointer(RegType::MapValue { map }, 0)
                }
            }
            RetKind::AllocMemOrNull => {
                let size = meta.alloc_size.unwrap_or(0) as u32;
                let ref_id = self.new_id();
                let frame = (st.frames.len() - 1) as u8;
                st.refs.push(RefState {
                    id: ref_id,
                    insn: pc,
                    frame,
                });
                RegState {
                    nullable: true,
                    id: ref_id,
                    ref_id,
                    ..RegState::pointer(
                        RegType::Mem {
                            size,
                            ringbuf: true,
                        },
                        0,
                    )
                }
            }
        };
        st.cur_mut().regs[0] = r0;
        if proto.changes_pkt_data {
            st.for_each_reg(|reg| {
                if matches!(
                    reg.ty,
                    RegType::Packet | RegType::PacketMeta | RegType::PacketEnd
                ) {
                    *reg = RegState::unknown();
                }
            });
        }
        Ok(round)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        r: Reg,
        reg: RegState,
        kind: ArgKind,
        meta: &mut CallMeta,
    ) -> Res<()> {
        let n = r.num();
        let expect = |what: &str| -> Res<()> {
            Err(call_err(
                pc,
                format!("R{n} type={} expected={what}", reg.type_name()),
            ))
        };
        match kind {
            ArgKind::Anything => {}
            ArgKind::ConstMapPtr => match reg.ty {
                RegType::MapPtr { map } if !reg.nullable => {
                    meta.map = Some((map, self.map_info(map)))
                }
                _ => return expect("map_ptr"),
            },
            ArgKind::MapKey | ArgKind::MapValue | ArgKind::UninitMapValue => {
                let Some((_, info)) = meta.map else {
                    return Err(call_err(pc, "invalid map_ptr to access map->key".into()));
                };
                let (size, access) = match kind {
                    ArgKind::MapKey => (info.key_size, Access::Read),
                    ArgKind::MapValue => (info.value_size, Access::Read),
                    // A bloom filter's peek reads the value it looks for.
                    _ if info.map_type == MapType::BloomFilter => (info.value_size, Access::Read),
                    _ => (info.value_size, Access::Write),
                };
                self.helper_mem(st, pc, r, reg, size as u64, access)?;
            }
            ArgKind::MemRead | ArgKind::MemWrite => {
                meta.mem = Some((r, reg, kind == ArgKind::MemWrite));
            }
            ArgKind::ConstSize | ArgKind::ConstSizeOrZero => {
                if reg.ty != RegType::Scalar {
                    return expect("scalar");
                }
                let (mr, mreg, write) = meta.mem.take().expect("a size follows a memory argument");
                if reg.var.r64.smin < 0 {
                    return Err(call_err(pc, format!(
                        "R{n} min value is negative, either use unsigned index or do a if (index >=0) check."
                    )));
                }
                if reg.var.r64.umin == 0 && kind == ArgKind::ConstSize {
                    return Err(call_err(
                        pc,
                        format!(
                            "R{n} invalid zero-sized read: u64=[{},{}]",
                            reg.var.r64.umin, reg.var.r64.umax
                        ),
                    ));
                }
                let umax = reg.var.r64.umax;
                if umax >= MAX_VAR_SIZE {
                    return Err(call_err(
                        pc,
                        format!(
                        "R{n} unbounded memory access, use 'var &= const' or 'if (var < const)'"
                    ),
                    ));
                }
                if umax == 0 && mreg.is_const(0) {
                    return Ok(());
                }
                let access = if write { Access::Write } else { Access::Read };
                self.helper_mem(st, pc, mr, mreg, umax, access)?;
            }
            ArgKind::Ctx => {
                if reg.ty != RegType::Ctx {
                    return expect("ctx");
                }
                if reg.off != 0 || reg.var.as_const() != Some(0) {
                    return Err(call_err(
                        pc,
                        format!(
                            "dereference of modified ctx ptr R{n} off={} disallowed",
                            reg.off
                        ),
                    ));
                }
            }
            ArgKind::StackOrNull => {
                if !(reg.is_const(0) || matches!(reg.ty, RegType::Stack { .. })) {
                    return expect("fp");
                }
            }
            ArgKind::Func => match reg.ty {
                RegType::Func { subprog } => meta.callback = Some(subprog as usize),
                _ => return expect("func"),
            },
            ArgKind::ConstAllocSize => {
                if reg.ty != RegType::Scalar {
                    return expect("scalar");
                }
                match reg.var.as_const() {
                    Some(c) => meta.alloc_size = Some(c),
                    None => return Err(call_err(pc, format!("R{n} is not a known constant'"))),
                }
            }
            ArgKind::ReleaseAllocMem => {
                if !matches!(reg.ty, RegType::Mem { ringbuf: true, .. }) || reg.nullable {
                    return expect("ringbuf_mem");
                }
                if reg.ref_id == 0 || !st.refs.iter().any(|x| x.id == reg.ref_id) {
                    return Err(call_err(
                        pc,
                        format!("R{n} must be referenced when passed to release function"),
                    ));
                }
                if reg.off != 0 || reg.var.as_const() != Some(0) {
                    return Err(call_err(pc, format!(
                        "R{n} must have zero offset when passed to release func or trusted arg to kfunc"
                    )));
                }
                meta.release = Some(reg.ref_id);
            }
            ArgKind::SpinLock => {
                let RegType::MapValue { map } = reg.ty else {
                    return expect("map_value");
                };
                let info = self.map_info(map);
                let Some(c) = reg.var.as_const() else {
                    return Err(call_err(pc, format!(
                        "R{n} doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
                    )));
                };
                let Some(lock_off) = info.spin_lock_off else {
                    return Err(call_err(pc, "map has no valid bpf_spin_lock".into()));
                };
                if reg.off as i64 + c as i64 != lock_off as i64 {
                    return Err(call_err(
                        pc,
                        format!(
                            "off {} doesn't point to 'struct bpf_spin_lock' that is at {lock_off}",
                            reg.off as i64 + c as i64
                        ),
                    ));
                }
                if reg.id == 0 {
                    // A map value from an lddw: identify the lock by the map.
                    meta.lock_id = Some(u32::MAX - map);
                } else {
                    meta.lock_id = Some(reg.id);
                }
            }
            ArgKind::ConstStr => {
                if !matches!(reg.ty, RegType::MapValue { .. }) {
                    return expect("map_value");
                }
            }
        }
        Ok(())
    }

    /// `size` bytes at the pointer in `r` passed to a helper that reads or writes them.
    fn helper_mem(
        &mut self,
        st: &mut State,
        pc: usize,
        r: Reg,
        reg: RegState,
        size: u64,
        access: Access,
    ) -> Res<()> {
        let n = r.num();
        if size == 0 {
            return Ok(());
        }
        match reg.ty {
            RegType::Stack { frame } if !reg.nullable => {
                let Some(c) = reg.var.as_const() else {
                    return Err(call_err(pc, format!(
                        "R{n} variable stack access prohibited for helper arguments"
                    )));
                };
                let start = reg.off as i64 + c as i64;
                let end = start + size as i64;
                if start < -(STACK_SIZE as i64) || end > 0 {
                    let what = if access == Access::Write { "write to" } else { "read from" };
                    return Err(err(
                        pc,
                        ErrorKind::MemoryAccess,
                        format!("invalid {what} stack R{n} off={start} size={size}"),
                    ));
                }
                let fr = &mut st.frames[frame as usize];
                match access {
                    Access::Read => {
                        for o in start..end {
                            if fr.byte(o) == ByteKind::Invalid && !self.opts.allow_uninit_stack {
                                return Err(err(
                                    pc,
                                    ErrorKind::MemoryAccess,
                                    format!("invalid indirect read from stack R{n} off {start}+{} size {size}", o - start),
                                ));
                            }
                        }
                    }
                    Access::Write => {
                        for o in start..end {
                            let (slot, byte) = fr.slot_mut(o);
                            if slot.is_spill() {
                                *slot = slot.as_bytes();
                            }
                            slot.bytes[byte] = ByteKind::Misc;
                        }
                    }
                }
                self.note_stack_depth(st);
                Ok(())
            }
            RegType::Packet | RegType::PacketMeta | RegType::MapValue { .. } | RegType::MapKey { .. } | RegType::Mem { .. }
                if !reg.nullable =>
            {
                if access == Access::Write && reg.ty.is_packet() && !self.env.packet_writable() {
                    return Err(err(pc, ErrorKind::MemoryAccess, "cannot write into packet"));
                }
                if reg.ty.is_packet() {
                    let total = reg.off as i64;
                    if reg.var.r64.smin < 0 || total < 0 || total + size as i64 > reg.range as i64 {
                        return Err(err(
                            pc,
                            ErrorKind::MemoryAccess,
                            format!(
                                "invalid access to packet, off={total} size={size}, R{n}(id={},off={total},r={})",
                                reg.id, reg.range
                            ),
                        ));
                    }
                    return Ok(());
                }
                if access == Access::Write {
                    match reg.ty {
                        RegType::MapKey { .. } => {
                            return Err(err(
                                pc,
                                ErrorKind::MemoryAccess,
                                format!("R{n} cannot write into map_key"),
                            ))
                        }
                        RegType::MapValue { map } if self.map_info(map).read_only => {
                            let off = reg.off as i64 + reg.var.r64.smin;
                            return Err(err(
                                pc,
                                ErrorKind::MemoryAccess,
                                format!(
                                    "write into map forbidden, value_size={} off={off} size={size}",
                                    self.map_info(map).value_size
                                ),
                            ));
                        }
                        _ => {}
                    }
                }
                let limit = match reg.ty {
                    RegType::MapValue { map } => self.map_info(map).value_size,
                    RegType::MapKey { map } => self.map_info(map).key_size,
                    RegType::Mem { size, .. } => size,
                    _ => unreachable!(),
                } as i64;
                let what = match reg.ty {
                    RegType::MapValue { .. } => "map value, value_size",
                    RegType::MapKey { .. } => "map key, key_size",
                    _ => "memory, mem_size",
                };
                self.region_check(pc, n, &reg, 0, size as usize, limit, |o| {
                    format!("invalid access to {what}={limit} off={o} size={size}")
                })
            }
            _ => Err(call_err(
                pc,
                format!(
                    "R{n} type={} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                    reg.type_name()
                ),
            )),
        }
    }
}
