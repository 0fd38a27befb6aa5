//! Abstract machine state: registers, stack bytes, call frames, held references.

use crate::bounds::Scalar;
use bpfkit_isa::STACK_SIZE;
use std::fmt;

/// What a register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegType {
    /// Never written (or clobbered by a call): reading it is an error.
    NotInit,
    /// A number; its value set is the register's `var`.
    Scalar,
    /// The program context (`PTR_TO_CTX`).
    Ctx,
    /// A stack address in call frame `frame` (`PTR_TO_STACK`); `off` is relative to that frame's r10.
    Stack {
        /// Index of the frame the pointer points into.
        frame: u8,
    },
    /// Packet data (`PTR_TO_PACKET`), readable up to `range`.
    Packet,
    /// Packet metadata (`PTR_TO_PACKET_META`), readable up to `range`.
    PacketMeta,
    /// One past the packet (`PTR_TO_PACKET_END`); never dereferenced.
    PacketEnd,
    /// A map (`CONST_PTR_TO_MAP`), `map` indexes the verifier's map table.
    MapPtr {
        /// Map table index.
        map: u32,
    },
    /// An element value of a map (`PTR_TO_MAP_VALUE`).
    MapValue {
        /// Map table index.
        map: u32,
    },
    /// A map key (`PTR_TO_MAP_KEY`), as passed to callbacks.
    MapKey {
        /// Map table index.
        map: u32,
    },
    /// A function (`PTR_TO_FUNC`), loaded with `lddw rX, func` to be passed as a callback.
    Func {
        /// Index of the function (see [`crate::cfg::Cfg::subprogs`]).
        subprog: u32,
    },
    /// Memory of a known size (`PTR_TO_MEM`): the raw-memory region or a ringbuf record.
    Mem {
        /// Size in bytes.
        size: u32,
        /// A ringbuf record (printed `ringbuf_mem`), to be submitted or discarded.
        ringbuf: bool,
    },
}

impl RegType {
    /// Whether this is any kind of pointer.
    pub fn is_pointer(self) -> bool {
        !matches!(self, RegType::NotInit | RegType::Scalar)
    }

    /// Whether this is a packet data or metadata pointer (the ones with a range).
    pub fn is_packet(self) -> bool {
        matches!(self, RegType::Packet | RegType::PacketMeta)
    }
}

/// One register's abstract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegState {
    /// What it holds.
    pub ty: RegType,
    /// The pointer may be NULL (`*_or_null` types) until a null check.
    pub nullable: bool,
    /// Constant offset added to a pointer; for a linked scalar (`id` non-zero), its offset
    /// from the value the link started from (`rX += c` after `rX = rY`).
    pub off: i32,
    /// A linked scalar's `off` was added in 32 bits (`wX += c`): the value is the low 32
    /// bits of base + `off`, zero-extended.
    pub off32: bool,
    /// A scalar's value, or a pointer's variable offset.
    pub var: Scalar,
    /// Identity shared by copies: null checks and packet ranges apply to all registers with it.
    pub id: u32,
    /// Identity of the acquired reference this pointer belongs to (0: none).
    pub ref_id: u32,
    /// Packet pointers: bytes after `off`'s base known to be before `data_end`.
    pub range: i32,
}

impl RegState {
    /// An unreadable register.
    pub const NOT_INIT: RegState = RegState {
        ty: RegType::NotInit,
        nullable: false,
        off: 0,
        off32: false,
        var: Scalar::UNKNOWN,
        id: 0,
        ref_id: 0,
        range: 0,
    };

    /// A scalar with the given value set.
    pub const fn scalar(var: Scalar) -> RegState {
        RegState {
            ty: RegType::Scalar,
            var,
            ..RegState::NOT_INIT
        }
    }

    /// Any scalar.
    pub const fn unknown() -> RegState {
        RegState::scalar(Scalar::UNKNOWN)
    }

    /// A pointer of type `ty` at constant offset `off`.
    pub const fn pointer(ty: RegType, off: i32) -> RegState {
        RegState {
            ty,
            var: Scalar::constant(0),
            off,
            ..RegState::NOT_INIT
        }
    }

    /// Whether this is a scalar that is exactly `v`.
    pub fn is_const(&self, v: u64) -> bool {
        self.ty == RegType::Scalar && self.var.as_const() == Some(v)
    }

    /// The kernel's name for the type (`scalar`, `map_value_or_null`, `fp`, `pkt_end`...).
    pub fn type_name(&self) -> String {
        let base = match self.ty {
            RegType::NotInit => "?",
            RegType::Scalar => "scalar",
            RegType::Ctx => "ctx",
            RegType::Stack { .. } => "fp",
            RegType::Packet => "pkt",
            RegType::PacketMeta => "pkt_meta",
            RegType::PacketEnd => "pkt_end",
            RegType::MapPtr { .. } => "map_ptr",
            RegType::MapValue { .. } => "map_value",
            RegType::MapKey { .. } => "map_key",
            RegType::Func { .. } => "func",
            RegType::Mem { ringbuf: true, .. } => "ringbuf_mem",
            RegType::Mem { .. } => "mem",
        };
        if self.nullable && matches!(self.ty, RegType::MapPtr { .. }) {
            // The kernel's name for a map of maps' lookup result before its null check.
            "map_value_or_null".to_string()
        } else if self.nullable {
            format!("{base}_or_null")
        } else {
            base.to_string()
        }
    }
}

impl fmt::Display for RegState {
    /// Kernel log style: `ctx()`, `fp-8`, `pkt(off=14,r=14)`, `scalar(umax=255,...)`, `5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            RegType::NotInit => write!(f, "?"),
            RegType::Scalar => {
                if self.id != 0 && self.var.as_const().is_none() {
                    let s = self.var.to_string();
                    write!(f, "scalar(id={}", self.id)?;
                    let inner = &s["scalar(".len()..s.len() - 1];
                    if !inner.is_empty() {
                        write!(f, ",{inner}")?;
                    }
                    write!(f, ")")
                } else {
                    write!(f, "{}", self.var)
                }
            }
            RegType::Stack { frame } if self.var.as_const() == Some(0) => {
                if frame == 0 {
                    write!(f, "fp{}", self.off)
                } else {
                    write!(f, "fp[{frame}]{}", self.off)
                }
            }
            _ => {
                let mut parts = Vec::new();
                if self.id != 0 {
                    parts.push(format!("id={}", self.id));
                }
                if self.ref_id != 0 {
                    parts.push(format!("ref_obj_id={}", self.ref_id));
                }
                if self.off != 0 {
                    parts.push(format!("off={}", self.off));
                }
                if self.ty.is_packet() {
                    parts.push(format!("r={}", self.range));
                }
                match self.ty {
                    RegType::MapPtr { map }
                    | RegType::MapValue { map }
                    | RegType::MapKey { map } => parts.push(format!("map={map}")),
                    RegType::Mem { size, .. } => parts.push(format!("sz={size}")),
                    _ => {}
                }
                if self.var.as_const() != Some(0) {
                    let s = self.var.to_string();
                    if let Some(inner) = s.strip_prefix("scalar(") {
                        parts.push(inner[..inner.len() - 1].to_string());
                    } else {
                        parts.push(format!("imm={s}"));
                    }
                }
                write!(f, "{}({})", self.type_name(), parts.join(","))
            }
        }
    }
}

/// What one stack byte holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Never written: reading it is an error.
    Invalid,
    /// Some scalar bytes.
    Misc,
    /// Known zero.
    Zero,
    /// A known non-zero byte (from a narrow store of a constant).
    Const(u8),
    /// Part of a spilled 8-byte register (see [`StackSlot::spill`]).
    Spill,
}

impl ByteKind {
    /// The kind of a byte known to be `b`.
    pub fn known(b: u8) -> ByteKind {
        if b == 0 {
            ByteKind::Zero
        } else {
            ByteKind::Const(b)
        }
    }

    fn letter(self) -> char {
        match self {
            ByteKind::Invalid => '?',
            ByteKind::Misc => 'm',
            ByteKind::Zero => '0',
            ByteKind::Const(_) => 'c',
            ByteKind::Spill => 'r',
        }
    }
}

/// Eight stack bytes, `fp-8*(i+1) .. fp-8*i` for slot `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackSlot {
    /// Byte kinds, lowest address first.
    pub bytes: [ByteKind; 8],
    /// The spilled register when the low bytes are [`ByteKind::Spill`]: a whole register
    /// (all eight bytes), or a scalar stored narrower at the slot's start, kept truncated to
    /// its [`spill_len`](StackSlot::spill_len) bytes (the kernel's narrow spill).
    pub spill: RegState,
}

impl StackSlot {
    /// Eight never-written bytes.
    pub const EMPTY: StackSlot = StackSlot {
        bytes: [ByteKind::Invalid; 8],
        spill: RegState::NOT_INIT,
    };

    /// Whether the slot holds a spilled register (whole, or a narrow scalar).
    pub fn is_spill(&self) -> bool {
        self.bytes[0] == ByteKind::Spill
    }

    /// How many low bytes the spilled register covers: 8 for a whole register, 1, 2 or 4
    /// for a narrow scalar store, 0 without a spill.
    pub fn spill_len(&self) -> usize {
        self.bytes
            .iter()
            .take_while(|b| **b == ByteKind::Spill)
            .count()
    }

    /// The slot with a spilled scalar turned into the plain bytes it reads as byte by byte
    /// (known bytes of a constant, else unknown data, as when a store destroys a spilled
    /// pointer); for a scalar it covers the slot.
    pub fn as_bytes(&self) -> StackSlot {
        if !self.is_spill() {
            return *self;
        }
        let konst = self
            .spill
            .var
            .as_const()
            .filter(|_| self.spill.ty == RegType::Scalar);
        let mut out = StackSlot::EMPTY;
        for (i, (o, b)) in out.bytes.iter_mut().zip(self.bytes).enumerate() {
            *o = match b {
                ByteKind::Spill => {
                    konst.map_or(ByteKind::Misc, |c| ByteKind::known((c >> (8 * i)) as u8))
                }
                other => other,
            };
        }
        out
    }
}

/// One call frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// r0..r10.
    pub regs: [RegState; 11],
    /// Stack slots from r10 downwards; grows on demand.
    pub stack: Vec<StackSlot>,
    /// Slot of the call instruction that created the frame (0 for the main frame).
    pub callsite: usize,
    /// Index of the function running in this frame.
    pub subprog: usize,
    /// Index of this frame (0: main).
    pub frameno: u8,
}

impl Frame {
    /// A frame with all registers unreadable except r10.
    pub fn new(frameno: u8, callsite: usize, subprog: usize) -> Frame {
        let mut regs = [RegState::NOT_INIT; 11];
        regs[10] = RegState::pointer(RegType::Stack { frame: frameno }, 0);
        Frame {
            regs,
            stack: Vec::new(),
            callsite,
            subprog,
            frameno,
        }
    }

    /// The slot holding stack offset `off` (negative, relative to r10), creating it if needed.
    pub fn slot_mut(&mut self, off: i64) -> (&mut StackSlot, usize) {
        let depth = (-off - 1) as usize;
        let (i, byte) = (depth / 8, 7 - depth % 8);
        if self.stack.len() <= i {
            self.stack.resize(i + 1, StackSlot::EMPTY);
        }
        (&mut self.stack[i], byte)
    }

    /// The slot holding stack offset `off`, if it was ever written.
    pub fn slot(&self, off: i64) -> Option<(&StackSlot, usize)> {
        let depth = (-off - 1) as usize;
        let (i, byte) = (depth / 8, 7 - depth % 8);
        self.stack.get(i).map(|s| (s, byte))
    }

    /// The kind of the byte at stack offset `off`.
    pub fn byte(&self, off: i64) -> ByteKind {
        self.slot(off)
            .map(|(s, b)| s.bytes[b])
            .unwrap_or(ByteKind::Invalid)
    }

    /// Deepest byte touched so far, in bytes below r10.
    pub fn depth(&self) -> usize {
        (self.stack.len() * 8).min(STACK_SIZE)
    }
}

/// An acquired reference (ringbuf record) that must be released before exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefState {
    /// The reference id, as in [`RegState::ref_id`].
    pub id: u32,
    /// Slot of the instruction that acquired it.
    pub insn: usize,
    /// Call frame that acquired it (a callback must release what it acquired).
    pub frame: u8,
}

/// The whole abstract state of one path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Call frames, main first.
    pub frames: Vec<Frame>,
    /// References held.
    pub refs: Vec<RefState>,
    /// The `id` of the map value whose spin lock is held, if any.
    pub lock: Option<u32>,
}

impl State {
    /// The innermost frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a frame")
    }

    /// The innermost frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a frame")
    }

    /// Applies `f` to every register and spilled register of every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            for r in fr.regs.iter_mut() {
                f(r);
            }
            for s in fr.stack.iter_mut().filter(|s| s.is_spill()) {
                f(&mut s.spill);
            }
        }
    }

    /// Kernel-style register dump of the current frame: `R1=ctx() R10=fp0 fp-8=mmmmmmmm`.
    pub fn describe(&self) -> String {
        let fr = self.cur();
        let mut out = Vec::new();
        for (i, r) in fr.regs.iter().enumerate() {
            if r.ty != RegType::NotInit {
                out.push(format!("R{i}={r}"));
            }
        }
        for (i, s) in fr.stack.iter().enumerate() {
            if s.bytes.iter().all(|b| *b == ByteKind::Invalid) {
                continue;
            }
            let off = -8 * (i as i64 + 1);
            if s.is_spill() {
                // As the kernel prints a narrow spill: the other bytes, highest first.
                let rest: String = s.bytes[s.spill_len()..]
                    .iter()
                    .rev()
                    .map(|b| b.letter())
                    .collect();
                out.push(format!("fp{off}={rest}{}", s.spill));
            } else {
                let text: String = s.bytes.iter().rev().map(|b| b.letter()).collect();
                out.push(format!("fp{off}={text}"));
            }
        }
        if !self.refs.is_empty() {
            let ids: Vec<String> = self.refs.iter().map(|r| r.id.to_string()).collect();
            out.push(format!("refs={}", ids.join(",")));
        }
        out.join(" ")
    }
}
