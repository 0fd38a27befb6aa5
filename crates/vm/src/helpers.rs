//! Helper functions: the host side of `call <n>`.
//!
//! A host implements [`Helpers`] (or fills a [`HelperTable`] with closures). A helper gets the
//! five argument registers and a [`HelperCtx`], through which it can read and write program
//! memory (checked like the program's own accesses) and add regions for the rest of the run,
//! e.g. to return a pointer to a map value or to a buffer it allocated.

use crate::error::MemFault;
use crate::memory::MemoryMap;
use std::collections::BTreeMap;
use thiserror::Error;

/// What the program does after a helper returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperReturn {
    /// Continue with r0 set to this value.
    Value(u64),
    /// End the whole program now, successfully, with r0 set to this value.
    Stop(u64),
}

/// A helper call failed; the run stops with a [`VmError`](crate::VmError) at the call.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HelperError {
    /// No helper has this number.
    #[error("unknown helper")]
    Unknown,
    /// The helper's own memory access was refused.
    #[error("{0}")]
    Memory(#[from] MemFault),
    /// Any other failure, described.
    #[error("{0}")]
    Failed(String),
}

/// What a helper may touch during a call.
pub struct HelperCtx<'m, 'a> {
    /// The run's memory: read and write with [`MemoryMap::read`]/[`MemoryMap::write`];
    /// regions added here (e.g. [`MemoryMap::add_owned`]) last until the run ends.
    pub memory: &'m mut MemoryMap<'a>,
    pub(crate) pc: usize,
    pub(crate) depth: usize,
}

impl HelperCtx<'_, '_> {
    /// Slot index of the `call` instruction.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// Current number of bpf-to-bpf frames below the main one (0 in the main function).
    pub fn call_depth(&self) -> usize {
        self.depth
    }
}

/// The helper functions a host provides.
pub trait Helpers {
    /// Runs helper `id` with r1..r5 in `args`.
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError>;

    /// Whether helper `id` exists (used by [`Program::check_helpers`](crate::Program::check_helpers)).
    fn is_known(&self, id: i32) -> bool;
}

/// No helper at all: every call fails with "unknown helper".
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(
        &mut self,
        _id: i32,
        _args: [u64; 5],
        _ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        Err(HelperError::Unknown)
    }

    fn is_known(&self, _id: i32) -> bool {
        false
    }
}

/// The type of a helper in a [`HelperTable`].
pub type HelperFn =
    Box<dyn FnMut([u64; 5], &mut HelperCtx<'_, '_>) -> Result<HelperReturn, HelperError> + Send>;

/// Helpers as closures keyed by number.
///
/// ```
/// use bpfkit_vm::{HelperTable, HelperReturn};
/// let mut helpers = HelperTable::new();
/// helpers.register(1, |args, _ctx| Ok(HelperReturn::Value(args[0] + args[1])));
/// ```
#[derive(Default)]
pub struct HelperTable {
    fns: BTreeMap<i32, HelperFn>,
}

impl std::fmt::Debug for HelperTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperTable")
            .field("ids", &self.fns.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HelperTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) helper `id`.
    pub fn register<F>(&mut self, id: i32, f: F) -> &mut Self
    where
        F: FnMut([u64; 5], &mut HelperCtx<'_, '_>) -> Result<HelperReturn, HelperError>
            + Send
            + 'static,
    {
        self.fns.insert(id, Box::new(f));
        self
    }

    /// The registered numbers, ascending.
    pub fn ids(&self) -> impl Iterator<Item = i32> + '_ {
        self.fns.keys().copied()
    }
}

impl Helpers for HelperTable {
    fn call(
        &mut self,
        id: i32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match self.fns.get_mut(&id) {
            Some(f) => f(args, ctx),
            None => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        self.fns.contains_key(&id)
    }
}
