//! The engine: a depth-first walk over all paths with state pruning.
//!
//! Each path carries a [`State`]. Conditional jumps whose direction is unknown fork the
//! path (the jump target is pushed, the fall-through continues). At *prune points*
//! (jump targets, fall-throughs, after calls) the current state is compared with
//! checkpoints saved earlier at the same instruction: if a *complete* checkpoint (every
//! path from it fully verified) covers the current state, the path stops there. A
//! checkpoint whose exploration is still under way (an ancestor in a loop) that equals
//! the current state exactly means the loop cannot make progress: infinite loop.

mod alu;
mod call;
mod jmp;
mod mem;
mod prune;

use crate::cfg::{self, Cfg};
use crate::env::{Entry, MapInfo, MapRef, ProgramEnv};
use crate::error::{ErrorKind, VerifyError};
use crate::liveness::{self, RegSet};
use crate::log::Log;
use crate::state::{Frame, RegState, RegType, State};
use bpfkit_isa::{Insn, Reg};

/// In-progress checkpoints kept at each loop head whatever their misses (see `visit`).
const LOOP_ROUNDS_KEPT: usize = 4;

/// Rounds of callbacks still under way kept at a helper call that runs a callback (widening
/// needs the latest; the rounds of one call end within a few).
const CALLBACK_ROUNDS_KEPT: usize = 16;

/// Most instructions the engine processes (summed over all paths) before giving up.
pub const COMPLEXITY_LIMIT: u64 = 1_000_000;

/// Verification options.
#[derive(Clone, Debug)]
pub struct Options {
    /// 0: no log; 1: instructions on each path and the error; 2: plus the state after each instruction.
    pub log_level: u32,
    /// Processed-instruction budget (the kernel's is 1,000,000).
    pub complexity_limit: u64,
    /// Let programs read stack bytes they never wrote, as unknown values (the kernel allows
    /// it for a privileged loader, `CAP_PERFMON`). On by default, like the kernel as root;
    /// off gives the unprivileged rule (`invalid read from stack off -8+0 size 8`).
    pub allow_uninit_stack: bool,
    /// Prune paths covered by explored states (on by default). Turning it off explores every
    /// path separately: slow, but a reference for testing that pruning changes no decision.
    /// (The rounds of a callback are still compared at their helper call: it is how they end.)
    pub prune: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log_level: 0,
            complexity_limit: COMPLEXITY_LIMIT,
            allow_uninit_stack: true,
            prune: true,
        }
    }
}

/// Statistics of an accepted program (the kernel's summary line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instructions processed over all paths.
    pub insns_processed: u64,
    /// Checkpoints saved.
    pub total_states: u64,
    /// Most checkpoints alive at once.
    pub peak_states: u64,
    /// Most checkpoints at one instruction.
    pub max_states_per_insn: u64,
    /// Stack bytes used by each function (rounded up to 8).
    pub stack_depth: Vec<usize>,
}

impl Stats {
    /// The kernel's last log line: `processed N insns (limit 1000000) max_states_per_insn ...`.
    pub fn summary(&self, limit: u64) -> String {
        format!(
            "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {} mark_read 0",
            self.insns_processed, limit, self.max_states_per_insn, self.total_states, self.peak_states
        )
    }
}

/// A saved state at a prune point.
struct Checkpoint {
    state: State,
    /// The checkpoint this one was reached from.
    parent: Option<u32>,
    /// Paths from here still being explored; 0 means complete.
    branches: u32,
    /// Visits it pruned, and visits it failed to prune (for eviction).
    hits: u32,
    misses: u32,
    /// Callback rounds the path had finished when it got here (see [`Path::callback_returns`]).
    callback_returns: u64,
    /// [`prune::fingerprint`] of the state: a cheap filter before exact comparisons.
    fingerprint: u64,
}

/// A path waiting to be explored.
struct Path {
    pc: usize,
    state: State,
    /// Latest checkpoint on this path.
    parent: Option<u32>,
    /// Slot of the branch that created this path (for the log).
    from: usize,
    /// The path just returned from a callback to the helper call that runs it.
    from_callback: bool,
    /// Callback rounds finished on this path. A path that comes back to an unchanged state
    /// after a callback round has not looped endlessly: the helper bounds the rounds.
    callback_returns: u64,
}

/// What one instruction did to the path.
enum Flow {
    /// Continue at `path.pc`.
    Next,
    /// The path ended (program exit or an impossible branch).
    End,
}

pub(crate) type Res<T> = Result<T, VerifyError>;

/// Whether helper `id` takes a callback function.
fn takes_callback(env: &dyn ProgramEnv, id: i32) -> bool {
    env.helper(id)
        .is_some_and(|p| p.args.contains(&crate::env::ArgKind::Func))
}

/// The helper facts the static analyses use, from the environment's prototypes.
struct EnvHelpers<'e>(&'e dyn ProgramEnv);

impl liveness::HelperFacts for EnvHelpers<'_> {
    fn args(&self, id: i32) -> usize {
        self.0.helper(id).map(|p| p.args.len()).unwrap_or(5)
    }
    fn takes_callback(&self, id: i32) -> bool {
        takes_callback(self.0, id)
    }
    fn returns_pointer(&self, id: i32) -> bool {
        use crate::env::RetKind;
        self.0
            .helper(id)
            .is_none_or(|p| matches!(p.ret, RetKind::MapValueOrNull | RetKind::AllocMemOrNull))
    }
}

/// The verifier working on one program.
pub(crate) struct Engine<'a> {
    cfg: Cfg,
    env: &'a dyn ProgramEnv,
    opts: Options,
    /// The static analyses, computed at the first prune point (a program without one
    /// never needs them).
    live: Vec<RegSet>,
    /// Registers that may hold a pointer before each slot (for the precision analysis).
    may_ptr: Vec<RegSet>,
    precision: liveness::Precision,
    analysed: bool,
    /// Jumps found decided on some path (their scalar operands matter exactly).
    decided: Vec<bool>,
    /// `decided` changed since `precision` was computed.
    precision_stale: bool,
    /// Maps referenced by the program, in order of first use.
    pub(crate) maps: Vec<(MapRef, MapInfo)>,
    checkpoints: Vec<Checkpoint>,
    /// For each prune point, an index into `lists` (`u32::MAX` elsewhere).
    list_of: Vec<u32>,
    /// The checkpoints saved at each prune point.
    lists: Vec<Vec<u32>>,
    pending: Vec<Path>,
    processed: u64,
    next_id: u32,
    insns_since_cp: u32,
    jumps_since_cp: u32,
    /// Checkpoints currently usable for pruning.
    alive: u64,
    /// Slots of helper calls that run a callback (`bpf_loop`, `bpf_for_each_map_elem`).
    callback_call: Vec<bool>,
    stack_depth: Vec<usize>,
    pub(crate) log: Log,
    stats: Stats,
}

fn err(insn: usize, kind: ErrorKind, msg: impl Into<String>) -> VerifyError {
    VerifyError::new(insn, kind, msg)
}

impl<'a> Engine<'a> {
    fn new(insns: &[Insn], env: &'a dyn ProgramEnv, opts: Options) -> Res<Engine<'a>> {
        let mut cfg = cfg::build(insns)?;
        let takes_callback = |id| takes_callback(env, id);
        let n = cfg.slots.len();
        // A helper call that runs a callback is the head of a loop (call, callback, call
        // again...): states are compared there.
        let callback_call: Vec<bool> = cfg
            .slots
            .iter()
            .map(|s| matches!(s, Some(Insn::Call(bpfkit_isa::CallTarget::Helper(id))) if takes_callback(*id)))
            .collect();
        for (pc, &cb) in callback_call.iter().enumerate() {
            cfg.prune_point[pc] |= cb;
        }
        let mut lists = 0;
        let list_of = cfg
            .prune_point
            .iter()
            .map(|&p| {
                if p {
                    lists += 1;
                    lists - 1
                } else {
                    u32::MAX
                }
            })
            .collect();
        let subprogs = cfg.subprogs.len();
        Ok(Engine {
            cfg,
            env,
            live: Vec::new(),
            may_ptr: Vec::new(),
            precision: liveness::Precision {
                regs: Vec::new(),
                slots: Vec::new(),
            },
            analysed: false,
            decided: vec![false; n],
            precision_stale: false,
            maps: Vec::new(),
            checkpoints: Vec::new(),
            list_of,
            lists: vec![Vec::new(); lists as usize],
            pending: Vec::new(),
            processed: 0,
            next_id: 0,
            insns_since_cp: 0,
            jumps_since_cp: 0,
            alive: 0,
            callback_call,
            stack_depth: vec![0; subprogs],
            log: Log::new(opts.log_level),
            stats: Stats::default(),
            opts,
        })
    }

    /// A fresh identity for null checks, packet ranges, scalar links and references.
    pub(crate) fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn initial_state(&self) -> State {
        let mut frame = Frame::new(0, 0, 0);
        match self.env.entry() {
            Entry::Ctx => frame.regs[1] = RegState::pointer(RegType::Ctx, 0),
            Entry::Memory { size } => {
                frame.regs[1] = RegState::pointer(
                    RegType::Mem {
                        size,
                        ringbuf: false,
                    },
                    0,
                );
                frame.regs[2] = RegState::scalar(crate::bounds::Scalar::constant(size as u64));
            }
        }
        State {
            frames: vec![frame],
            refs: Vec::new(),
            lock: None,
        }
    }

    fn run(&mut self) -> Res<()> {
        let init = self.initial_state();
        self.log.line(|| format!("0: {}", init.describe()));
        self.pending.push(Path {
            pc: 0,
            state: init,
            parent: None,
            from: usize::MAX,
            from_callback: false,
            callback_returns: 0,
        });
        let mut first = true;
        while let Some(mut path) = self.pending.pop() {
            if !first {
                let (from, pc, st) = (path.from, path.pc, &path.state);
                self.log
                    .line(|| format!("from {from} to {pc}: {}", st.describe()));
            }
            first = false;
            loop {
                let pc = path.pc;
                // Callback rounds are compared even without pruning: it is how they end.
                let compare = self.opts.prune || self.callback_call[pc];
                if compare && self.cfg.prune_point[pc] && self.visit(&mut path)? {
                    self.log.line(|| format!("{pc}: safe"));
                    break;
                }
                self.processed += 1;
                if self.processed > self.opts.complexity_limit {
                    return Err(err(
                        pc,
                        ErrorKind::TooComplex,
                        format!(
                            "BPF program is too large. Processed {} insn",
                            self.processed
                        ),
                    ));
                }
                self.insns_since_cp += 1;
                let before = if self.log.level() >= 2 {
                    Some(path.state.cur().regs)
                } else {
                    None
                };
                let insn = *self.cfg.insn(pc);
                self.log.insn(pc, &insn);
                match self.step(&mut path, &insn)? {
                    Flow::Next => {
                        if let Some(before) = before {
                            self.log.changes(&before, &path.state);
                        }
                    }
                    Flow::End => break,
                }
            }
            self.end_path(path.parent);
        }
        Ok(())
    }

    /// Decrements the in-flight counts up the checkpoint chain when a path finishes.
    fn end_path(&mut self, mut parent: Option<u32>) {
        while let Some(id) = parent {
            let cp = &mut self.checkpoints[id as usize];
            cp.branches -= 1;
            if cp.branches > 0 {
                break;
            }
            parent = cp.parent;
        }
    }

    /// Records that the scalar jump at `pc` had an impossible outcome.
    pub(crate) fn note_decided(&mut self, pc: usize) {
        if !self.decided[pc] {
            self.decided[pc] = true;
            self.precision_stale = true;
        }
    }

    /// Pushes the other side of a branch as a new path.
    fn fork(&mut self, path: &Path, pc: usize, state: State) {
        if let Some(p) = path.parent {
            self.checkpoints[p as usize].branches += 1;
        }
        self.pending.push(Path {
            pc,
            state,
            parent: path.parent,
            from: path.pc,
            from_callback: false,
            callback_returns: path.callback_returns,
        });
    }

    /// Prune-point handling; `Ok(true)` when the path is covered by a complete checkpoint.
    fn visit(&mut self, path: &mut Path) -> Res<bool> {
        let pc = path.pc;
        if !self.analysed {
            let env = self.env;
            let helper_args = |id| env.helper(id).map(|p| p.args.len()).unwrap_or(5);
            self.live = liveness::live_in(&self.cfg, &helper_args);
            self.may_ptr = liveness::may_be_pointer(&self.cfg, &EnvHelpers(env));
            self.analysed = true;
            self.precision_stale = true;
        }
        if self.precision_stale {
            let decided = &self.decided;
            self.precision =
                liveness::precision(&self.cfg, &EnvHelpers(self.env), &self.may_ptr, &|p| {
                    decided[p]
                });
            self.precision_stale = false;
        }
        let live = self.frame_masks(&path.state, pc);
        let from_callback = std::mem::take(&mut path.from_callback);
        // Against a checkpoint still being explored, every value counts exactly: its
        // precision is not settled yet.
        let exact_values = live.map(|m| prune::FrameMask {
            precise: !0,
            slots: liveness::SlotSet::MAX,
            ..m
        });
        let mut pruned = false;
        let mut looping = false;
        let list = self.list_of[pc] as usize;
        let mut fingerprint = prune::fingerprint(&path.state, &live);
        for &id in &self.lists[list] {
            let cp = &mut self.checkpoints[id as usize];
            if cp.branches == 0 {
                if prune::states_equal(&cp.state, &path.state, &live, false) {
                    cp.hits += 1;
                    pruned = true;
                    break;
                }
            } else if from_callback {
                // Another round of the callback from a state an earlier round (whose
                // exploration is under way) covers: the helper bounds the rounds, so this
                // is no endless loop, and that exploration covers everything from here.
                if prune::states_equal(&cp.state, &path.state, &exact_values, false) {
                    cp.hits += 1;
                    pruned = true;
                    break;
                }
            } else if cp.fingerprint == fingerprint
                && cp.callback_returns == path.callback_returns
                && prune::states_equal(&cp.state, &path.state, &live, true)
            {
                // Checkpoints still under way are ancestors of this path (the walk is
                // depth-first): the path came back to one without changing anything.
                looping = true;
                break;
            }
            cp.misses += 1;
        }
        if looping {
            return Err(err(
                pc,
                ErrorKind::InfiniteLoop,
                format!("infinite loop detected at insn {pc}"),
            ));
        }
        // Forget checkpoints that rarely prune (the kernel's miss_cnt > hit_cnt * 3 + 3),
        // except the rounds of a callback still under way (widening needs them).
        let checkpoints = &mut self.checkpoints;
        let before = self.lists[list].len();
        let callback_call = self.callback_call[pc];
        // At a loop head, the newest rounds still under way stay too: a loop that cycles
        // through a few states without progress is found when one comes back.
        let loop_head = self.cfg.loop_head[pc];
        let recent = before.saturating_sub(LOOP_ROUNDS_KEPT);
        // Only the newest rounds of callbacks: older ones under way belong to earlier
        // passes of a loop around the helper call, and keeping them all makes every later
        // pass compare against a list that keeps growing.
        let recent_rounds = before.saturating_sub(CALLBACK_ROUNDS_KEPT);
        let mut index = 0;
        self.lists[list].retain(|&id| {
            let cp = &mut checkpoints[id as usize];
            let in_progress = cp.branches > 0;
            let keep = cp.misses <= cp.hits * 3 + 3
                || (callback_call && in_progress && index >= recent_rounds)
                || (loop_head && in_progress && index >= recent);
            index += 1;
            if !keep {
                // Never compared again: only its place in the parent chain remains.
                cp.state.frames = Vec::new();
                cp.state.refs = Vec::new();
            }
            keep
        });
        self.alive -= (before - self.lists[list].len()) as u64;
        if pruned {
            return Ok(true);
        }
        if from_callback {
            // Not covered by the round it came from: widen what changed, so that the
            // rounds reach a fixpoint.
            let round = self.lists[list].iter().rev().copied().find(|&id| {
                let cp = &self.checkpoints[id as usize];
                cp.branches > 0 && prune::same_shape(&cp.state, &path.state)
            });
            if let Some(id) = round {
                prune::widen(&self.checkpoints[id as usize].state, &mut path.state, &live);
                fingerprint = prune::fingerprint(&path.state, &live);
                let st = &path.state;
                self.log
                    .line(|| format!("{pc}: widened to {}", st.describe()));
            }
        }
        let add = self.callback_call[pc] || (self.jumps_since_cp >= 2 && self.insns_since_cp >= 8);
        if add {
            self.insns_since_cp = 0;
            self.jumps_since_cp = 0;
            let id = self.checkpoints.len() as u32;
            self.checkpoints.push(Checkpoint {
                state: path.state.clone(),
                parent: path.parent,
                branches: 1,
                hits: 0,
                misses: 0,
                callback_returns: path.callback_returns,
                fingerprint,
            });
            path.parent = Some(id);
            self.lists[list].push(id);
            self.stats.total_states += 1;
            self.alive += 1;
            self.stats.peak_states = self.stats.peak_states.max(self.alive);
            self.stats.max_states_per_insn = self
                .stats
                .max_states_per_insn
                .max(self.lists[list].len() as u64);
        }
        Ok(false)
    }

    /// What matters in each frame at `pc`: live and precise registers, precise slots.
    /// Outer frames: what survives their call; their stack is compared in full because a
    /// callee may read it through pointers.
    fn frame_masks(
        &self,
        st: &State,
        pc: usize,
    ) -> [prune::FrameMask; bpfkit_isa::MAX_CALL_FRAMES] {
        let n = st.frames.len();
        let mut out = [prune::FrameMask::default(); bpfkit_isa::MAX_CALL_FRAMES];
        for (i, m) in out.iter_mut().enumerate().take(n) {
            *m = if i + 1 == n {
                prune::FrameMask {
                    live: self.live[pc],
                    precise: self.precision.regs[pc],
                    slots: self.precision.slots[pc],
                }
            } else if self.callback_call[st.frames[i + 1].callsite] {
                // A callback returns to its helper call, arguments intact.
                let call = st.frames[i + 1].callsite;
                prune::FrameMask {
                    live: self.live[call],
                    precise: self.precision.regs[call],
                    slots: liveness::SlotSet::MAX,
                }
            } else {
                // r0-r5 are overwritten at the return; only r6-r10 carry over.
                let ret = st.frames[i + 1].callsite + 1;
                prune::FrameMask {
                    live: self.live[ret] & !0b11_1111,
                    precise: self.precision.regs[ret] & !0b11_1111,
                    slots: liveness::SlotSet::MAX,
                }
            };
        }
        out
    }

    /// Reads a register as a source: it must be initialized.
    pub(crate) fn read_reg(&self, st: &State, pc: usize, r: Reg) -> Res<RegState> {
        let reg = st.cur().regs[r.idx()];
        if reg.ty == RegType::NotInit {
            return Err(err(
                pc,
                ErrorKind::Register,
                format!("R{} !read_ok", r.num()),
            ));
        }
        Ok(reg)
    }

    /// Checks that `r` may be written (r10 may not).
    pub(crate) fn check_dst(&self, pc: usize, r: Reg) -> Res<()> {
        if r == Reg::R10 {
            return Err(err(pc, ErrorKind::Register, "frame pointer is read only"));
        }
        Ok(())
    }

    fn step(&mut self, path: &mut Path, insn: &Insn) -> Res<Flow> {
        let pc = path.pc;
        match *insn {
            Insn::Alu { .. } | Insn::End { .. } => {
                self.check_alu(&mut path.state, pc, insn)?;
                path.pc += 1;
                Ok(Flow::Next)
            }
            Insn::LdImm64 { dst, kind, imm } => {
                self.check_dst(pc, dst)?;
                let reg = self.ld_imm64(pc, kind, imm)?;
                path.state.cur_mut().regs[dst.idx()] = reg;
                path.pc += 2;
                Ok(Flow::Next)
            }
            Insn::Ldx { .. } | Insn::St { .. } | Insn::Stx { .. } | Insn::Atomic { .. } => {
                self.check_mem_insn(&mut path.state, pc, insn)?;
                self.note_stack_depth(&path.state);
                path.pc += 1;
                Ok(Flow::Next)
            }
            Insn::LdAbs { size, .. } | Insn::LdInd { size, .. } => {
                self.check_ld_abs(&mut path.state, pc, insn, size)?;
                path.pc += 1;
                Ok(Flow::Next)
            }
            // Like the kernel, every jump-class instruction (jumps, calls, exits) counts
            // towards the next checkpoint.
            Insn::Ja { off, .. } => {
                self.jumps_since_cp += 1;
                path.pc = (pc as i64 + 1 + off as i64) as usize;
                Ok(Flow::Next)
            }
            Insn::Jmp { .. } => {
                self.jumps_since_cp += 1;
                self.check_jmp(path, insn)
            }
            Insn::Call(target) => {
                self.jumps_since_cp += 1;
                self.check_call(path, target)
            }
            Insn::Exit => {
                self.jumps_since_cp += 1;
                self.check_exit(path)
            }
        }
    }

    fn note_stack_depth(&mut self, st: &State) {
        for f in &st.frames {
            let d = &mut self.stack_depth[f.subprog];
            *d = (*d).max(f.depth());
        }
    }

    /// The value an `lddw` loads.
    fn ld_imm64(&mut self, pc: usize, kind: bpfkit_isa::LdImm64Kind, imm: u64) -> Res<RegState> {
        use bpfkit_isa::LdImm64Kind as K;
        let map_ref = match kind {
            K::Imm => return Ok(RegState::scalar(crate::bounds::Scalar::constant(imm))),
            K::MapFd | K::MapValue => MapRef::Fd(imm as u32 as i32),
            K::MapIdx | K::MapIdxValue => MapRef::Idx(imm as u32),
            K::Func => {
                let target = pc as i64 + 1 + imm as u32 as i32 as i64;
                let subprog = self
                    .cfg
                    .subprog_at(target as usize)
                    .expect("cfg checked function pointers");
                return Ok(RegState::pointer(
                    RegType::Func {
                        subprog: subprog as u32,
                    },
                    0,
                ));
            }
            K::BtfId => {
                return Err(err(
                    pc,
                    ErrorKind::Unsupported,
                    "ld_imm64 of a kernel variable (BTF id) is not supported",
                ))
            }
        };
        let (map, info) = self.resolve_map(pc, map_ref)?;
        if matches!(kind, K::MapFd | K::MapIdx) {
            return Ok(RegState::pointer(RegType::MapPtr { map }, 0));
        }
        let off = (imm >> 32) as u32;
        if off >= info.value_size {
            return Err(err(
                pc,
                ErrorKind::MemoryAccess,
                format!(
                    "invalid access to map value pointer, value_size={} off={}",
                    info.value_size, off
                ),
            ));
        }
        Ok(RegState::pointer(RegType::MapValue { map }, off as i32))
    }

    fn resolve_map(&mut self, pc: usize, r: MapRef) -> Res<(u32, MapInfo)> {
        if let Some(i) = self.maps.iter().position(|(m, _)| *m == r) {
            return Ok((i as u32, self.maps[i].1));
        }
        let Some(info) = self.env.map(r) else {
            let msg = match r {
                MapRef::Fd(fd) => format!("fd {fd} is not pointing to valid bpf_map"),
                MapRef::Idx(i) => format!("map index {i} is not a map of this program"),
            };
            return Err(err(pc, ErrorKind::Unsupported, msg));
        };
        self.maps.push((r, info));
        Ok(((self.maps.len() - 1) as u32, info))
    }

    /// Information on the map with table index `map`.
    pub(crate) fn map_info(&self, map: u32) -> MapInfo {
        self.maps[map as usize].1
    }

    fn finish(&mut self) -> Res<Stats> {
        // Combined stack of the deepest call chain, each frame rounded up like the kernel (32 bytes).
        let (depth, calls) = self.max_chain_depth(0, 0);
        if depth > bpfkit_isa::STACK_SIZE {
            return Err(err(
                0,
                ErrorKind::MemoryAccess,
                format!("combined stack size of {calls} calls is {depth}. Too large"),
            ));
        }
        let mut stats = std::mem::take(&mut self.stats);
        stats.insns_processed = self.processed;
        stats.stack_depth = self.stack_depth.clone();
        Ok(stats)
    }

    /// (stack bytes, frames) of the deepest call chain starting at function `sp`.
    fn max_chain_depth(&self, sp: usize, level: usize) -> (usize, usize) {
        let own = self.stack_depth[sp].max(1).div_ceil(32) * 32;
        if level > bpfkit_isa::MAX_CALL_FRAMES {
            return (own, 1);
        }
        let range = self.cfg.subprogs[sp];
        let mut deepest = (0, 0);
        for pc in range.start..range.end {
            // Callbacks run on top of the frame that passes them, like calls.
            let off = match self.cfg.slots[pc] {
                Some(Insn::Call(bpfkit_isa::CallTarget::Local(off))) => off as i64,
                Some(Insn::LdImm64 {
                    kind: bpfkit_isa::LdImm64Kind::Func,
                    imm,
                    ..
                }) => imm as u32 as i32 as i64,
                _ => continue,
            };
            {
                let callee = (pc as i64 + 1 + off) as usize;
                if let Some(c) = self.cfg.subprog_at(callee) {
                    deepest = deepest.max(self.max_chain_depth(c, level + 1));
                }
            }
        }
        (own + deepest.0, 1 + deepest.1)
    }
}

/// The result of a verification with its log.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// Statistics when accepted, the reason when rejected.
    pub result: Result<Stats, VerifyError>,
    /// The work done either way (for a rejection: up to the error; no stack depths).
    pub stats: Stats,
    /// The log at the requested level (empty at level 0).
    pub log: String,
}

impl Verdict {
    /// The kernel's last log line for this verification, `processed N insns (limit ...) ...`.
    pub fn summary(&self, limit: u64) -> String {
        self.stats.summary(limit)
    }
}

/// Verifies `insns` for the program type described by `env`.
pub fn verify(insns: &[Insn], env: &dyn ProgramEnv) -> Result<Stats, VerifyError> {
    verify_with(insns, env, &Options::default()).result
}

/// Verifies with options, returning the log as well.
pub fn verify_with(insns: &[Insn], env: &dyn ProgramEnv, opts: &Options) -> Verdict {
    let mut engine = match Engine::new(insns, env, opts.clone()) {
        Ok(e) => e,
        Err(e) => {
            let log = if opts.log_level > 0 {
                format!("{}\n", e.message)
            } else {
                String::new()
            };
            return Verdict {
                result: Err(e),
                stats: Stats::default(),
                log,
            };
        }
    };
    let result = engine.run().and_then(|()| engine.finish());
    let stats = match &result {
        Ok(stats) => stats.clone(),
        Err(e) => {
            let msg = e.message.clone();
            engine.log.line(|| msg);
            Stats {
                insns_processed: engine.processed,
                ..engine.stats.clone()
            }
        }
    };
    let s = stats.summary(opts.complexity_limit);
    engine.log.line(|| s);
    Verdict {
        result,
        stats,
        log: engine.log.into_string(),
    }
}
