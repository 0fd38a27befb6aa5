//! Host-supplied specialisations of helper call sites: instead of calling the helper, the
//! code computes its result inline (as the kernel's verifier rewrites
//! `bpf_map_lookup_elem` on arrays into instructions, `array_map_gen_lookup`).
//!
//! The host knows what the JIT cannot: which map a call site always passes and how that
//! map stores its values. It promises, per call site, that the inline computation gives
//! exactly what the helper would return there; the JIT trusts that promise, so
//! specialisations are honoured only in unchecked code (see
//! [`JitProgram::compile_specialized`](crate::JitProgram::compile_specialized)).

use std::collections::BTreeMap;

/// What a `call <helper>` instruction computes instead of calling the helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Specialization {
    /// `r0 = (*(u32 *)r2 < len) ? base + (*(u32 *)r2) * stride : 0`: a lookup in an
    /// array of `len` values spaced `stride` bytes apart from `base` (the key is read
    /// through r2 as a native-endian `u32`). r1–r5 keep their values, as across a real
    /// helper call.
    ///
    /// `base`, `stride` and `len` are host values, not program-chosen, so the code carries
    /// them unblinded even under
    /// [`CompileOptions::blind_constants`](crate::CompileOptions::blind_constants).
    IndexedLookup {
        /// Address of element 0.
        base: u64,
        /// Bytes from one element to the next.
        stride: u32,
        /// Number of elements: keys from `len` on give NULL.
        len: u32,
    },
    /// `bpf_loop(nr_loops, callback, ctx, flags)` whose callback is the program's function
    /// at slot `callback` (the host promises r2 holds it): r0 = -EINVAL if r4 ≠ 0, -E2BIG if
    /// `nr_loops` (r1 as `u32`) exceeds 2^23, else the function is called as a bpf-to-bpf
    /// call with r1 = i, r2 = r3 (r3–r5 = 0) for i = 0, 1, … below `nr_loops` until it
    /// returns non-zero, and r0 = the number of calls made, as the helper (and the kernel's
    /// verifier, which inlines it the same way) does. r1–r5 keep their values.
    Loop {
        /// Slot index of the callback's first instruction.
        callback: usize,
    },
    /// `bpf_for_each_map_elem(map, callback, ctx, flags)` over a plain array of `len`
    /// values `stride` bytes apart from `base` (the host promises r1 is that map), with
    /// the program's function at slot `callback` (the host promises r2 holds it): r0 =
    /// -EINVAL if r4 ≠ 0, else the function is called as a bpf-to-bpf call with r1 = r1,
    /// r2 = a pointer to the key i (a `u32`), r3 = `base + i * stride`, r4 = r3 (r5 = 0)
    /// for i = 0, 1, … below `len` until it returns non-zero, and r0 = the number of
    /// calls made, as the helper does. The key lives in a frame of its own between the
    /// caller's and the callback's (stack memory of the run, so helpers may read it), so
    /// the callback runs one frame deeper than through the helper; where that would pass
    /// the frame limit, the helper is called instead. r1–r5 keep their values.
    ArrayForEach {
        /// Address of element 0.
        base: u64,
        /// Bytes from one element to the next.
        stride: u32,
        /// Number of elements.
        len: u32,
        /// Slot index of the callback's first instruction.
        callback: usize,
    },
    /// A direct call of the host function at `func`, an
    /// `unsafe extern "sysv64" fn(r1, r2, r3, r4, r5) -> r0` (all `u64`), for a helper
    /// whose result depends only on its arguments and the memory they point at (e.g.
    /// `bpf_csum_diff`): no run context, no memory map. The host promises that the
    /// function returns exactly what the helper would there, reads only memory a verifier
    /// proved the program may pass (this is for unchecked code), never unwinds and leaves
    /// the run's state alone. r1–r5 keep their values.
    PureCall {
        /// Address of the function.
        func: u64,
    },
    /// A direct call of the host function at `func` as for [`PureCall`](Self::PureCall),
    /// but with `r1` in place of the program's r1: for a helper whose first argument the
    /// host promises is always the same object at this site (a map), which the function
    /// then gets as its own host pointer (e.g. `bpf_map_lookup_elem` on a hash map, called
    /// as the map's lookup function as the kernel's JIT does). The function may read only
    /// memory a verifier proved the program passes, never unwinds and changes no run state
    /// but what the helper would. r1–r5 keep their values.
    BoundCall {
        /// Address of the function.
        func: u64,
        /// Its first argument.
        r1: u64,
    },
    /// A call through a host record whose address r1 holds (the host promises it does at
    /// this site, e.g. a map pointer that is the address of the map's cell): where the
    /// word at `r1 + func_at` is the address of a function, a
    /// [`BoundCall`](Self::BoundCall) of it with the word at `r1 + r1_at` as r1; where it
    /// is 0, a [`PlainCall`](Self::PlainCall). For a lookup in a map known only at run time
    /// (e.g. an inner map of a map of maps), called as the map's lookup function as the
    /// kernel's JIT does where the verifier knows the map's type. The function's promises
    /// are a bound call's; r1–r5 keep their values.
    IndirectCall {
        /// Offset of the function's address (or 0) in the record.
        func_at: i32,
        /// Offset of its first argument in the record.
        r1_at: i32,
    },
    /// A direct call of the host function at `func`, a [`HostFn`] taking `host`, then r1–r5,
    /// where `host` is the address of the helpers object the run was given (the `H` of
    /// [`JitProgram::run`](crate::JitProgram::run)): for a helper that needs the run's state
    /// but no [`HelperCtx`](bpfkit_vm::HelperCtx) and cannot fail (e.g.
    /// `bpf_xdp_adjust_head`), called without a trampoline as the kernel's JIT calls it. The
    /// host promises that every run of the code is given helpers of the type the function
    /// expects, that it returns exactly what the helper would, reads only memory a verifier
    /// proved the program passes and never unwinds. Code whose functions a helper may call
    /// back (a program that takes a function's address) gets a
    /// [`PlainCall`](Self::PlainCall) instead: a callback run has helpers of its own.
    /// r1–r5 keep their values.
    HostCall {
        /// Address of the function.
        func: u64,
    },
    /// An ordinary helper call that first offers the call to
    /// [`Helpers::call_plain`](bpfkit_vm::Helpers::call_plain), which runs helpers that
    /// need no [`HelperCtx`](bpfkit_vm::HelperCtx) without building one (e.g.
    /// `bpf_xdp_adjust_head`); the helper is called as usual when it declines.
    PlainCall,
    /// `bpf_tail_call(ctx, map, index)` through a program array the host promises r2
    /// is: in tail-callable code, from the main function of a run with tail calls (see
    /// [`JitProgram::run_with_tail_calls`](crate::JitProgram::run_with_tail_calls)), the
    /// code reads the slot itself and jumps, as the kernel's JIT does, without asking the
    /// host. `slots` is the address of the array's `len` slots, 64-bit words the host
    /// updates atomically: `1 << 32 | n` holds program number `n`, a word without bit 32
    /// is an empty slot (other words take the ordinary path). `programs` is the address of
    /// `count` words: for each program number, the address of a
    /// [`JitProgram`](crate::JitProgram) that lives as long as the code and is
    /// [`fast_tail_callable`](crate::JitProgram::fast_tail_callable), or 0. An index at or
    /// past `len`, an empty slot or the run's 34th tail call fails as the helper does
    /// (r0 = 0, the program goes on); a program number without such code takes the
    /// ordinary path (the host's [`TailCalls`](crate::TailCalls)).
    TailCall {
        /// Address of the program array's slots.
        slots: u64,
        /// Number of slots (`max_entries`).
        len: u32,
        /// Address of the table of compiled programs, by program number.
        programs: u64,
        /// Number of entries in that table.
        count: u32,
    },
}

/// The type of a [`Specialization::HostCall`]'s function: the run's helpers object, then
/// r1–r5; returns r0.
pub type HostFn = unsafe extern "sysv64" fn(*mut (), u64, u64, u64, u64, u64) -> u64;

/// Specialisations by call site: the slot index (pc) of each `call <helper>` instruction
/// to specialise.
///
/// ```
/// use bpfkit_jit::{CallSites, Specialization};
/// let mut sites = CallSites::new();
/// sites.insert(4, Specialization::IndexedLookup { base: 0x1000, stride: 8, len: 16 });
/// assert_eq!(sites.len(), 1);
/// assert!(sites.get(4).is_some() && sites.get(5).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallSites {
    sites: BTreeMap<usize, Specialization>,
    /// Helpers the host declared to read only their first n arguments.
    arguments: BTreeMap<i32, u8>,
}

impl CallSites {
    /// No specialisation.
    pub fn new() -> CallSites {
        CallSites::default()
    }

    /// Specialises the call at slot `pc`; returns what that site had before, if anything.
    pub fn insert(&mut self, pc: usize, specialization: Specialization) -> Option<Specialization> {
        self.sites.insert(pc, specialization)
    }

    /// The specialisation of the call at slot `pc`, if any.
    pub fn get(&self, pc: usize) -> Option<&Specialization> {
        self.sites.get(&pc)
    }

    /// Number of specialised sites.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether no site is specialised.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Declares that helper `id` reads only r1 to r`count` (its prototype's arguments,
    /// which a verifier checks), wherever it is called: unchecked code then keeps the
    /// others across an earlier helper call only if something else reads them. Honoured
    /// in unchecked code only; a helper that read more would see undefined values.
    pub fn declare_arguments(&mut self, id: i32, count: u8) {
        self.arguments.insert(id, count.min(5));
    }

    /// The arguments helper `id` was declared to read
    /// ([`declare_arguments`](Self::declare_arguments)).
    pub fn arguments(&self, id: i32) -> Option<u8> {
        self.arguments.get(&id).copied()
    }

    /// Every `(pc, specialisation)`, by increasing pc.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Specialization)> {
        self.sites.iter().map(|(&pc, s)| (pc, s))
    }
}
