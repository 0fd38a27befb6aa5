//! Where a helper reads and writes its pointer arguments: through its helper context (in
//! the run's memory map, or directly once the context trusts them), or directly without a
//! context, in a plain call of a verified program ([`Helpers::call_plain`]).
//!
//! [`Helpers::call_plain`]: bpfkit_vm::Helpers::call_plain

use bpfkit_vm::{copy_from_shared, copy_to_shared, Access, HelperCtx, HelperError};

use super::{add_region, with_bytes, SMALL_KEY};

/// The memory of a helper's pointer arguments.
pub(crate) enum ArgMemory<'c, 'm, 'a> {
    /// Through the helper context.
    Ctx(&'c mut HelperCtx<'m, 'a>),
    /// Directly: a verifier proved every memory argument (a plain call).
    Verified,
}

impl ArgMemory<'_, '_, '_> {
    /// Whether a verifier proved the arguments (map handles included).
    #[inline(always)]
    pub(crate) fn trusted(&self) -> bool {
        match self {
            ArgMemory::Ctx(ctx) => ctx.trusts_arguments(),
            ArgMemory::Verified => true,
        }
    }

    /// Calls `f` with the `len` bytes of the memory argument at `addr`.
    #[inline(always)]
    pub(crate) fn with_bytes<R>(
        &self,
        addr: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, HelperError> {
        match self {
            ArgMemory::Ctx(ctx) => with_bytes(ctx, addr, len, f),
            ArgMemory::Verified if len <= SMALL_KEY => {
                let mut buf = [0u8; SMALL_KEY];
                // SAFETY: a verifier proved `len` readable bytes at `addr`, which other
                // threads access only atomically (`Verified`'s promise).
                unsafe { copy_from_shared(addr as *const u8, &mut buf[..len]) };
                Ok(f(&buf[..len]))
            }
            ArgMemory::Verified => {
                let mut v = vec![0; len];
                // SAFETY: as above.
                unsafe { copy_from_shared(addr as *const u8, &mut v) };
                Ok(f(&v))
            }
        }
    }

    /// Copies `out.len()` bytes of the memory argument at `addr`.
    #[inline(always)]
    pub(crate) fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), HelperError> {
        match self {
            ArgMemory::Ctx(ctx) => Ok(ctx.read_arg(addr, out)?),
            ArgMemory::Verified => {
                // SAFETY: as in `with_bytes`.
                unsafe { copy_from_shared(addr as *const u8, out) };
                Ok(())
            }
        }
    }

    /// Copies `data` into the memory argument at `addr`.
    #[inline(always)]
    pub(crate) fn write(&self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        match self {
            ArgMemory::Ctx(ctx) => Ok(ctx.write_arg(addr, data)?),
            ArgMemory::Verified => {
                // SAFETY: as in `with_bytes`, writable.
                unsafe { copy_to_shared(data, addr as *mut u8) };
                Ok(())
            }
        }
    }

    /// Registers memory the helper hands to the program (a map value) in the run's memory
    /// map, for later checked accesses; a plain call registers nothing (`inline` makes the
    /// lookups plain only in programs that never access memory through an unchecked
    /// pointer).
    ///
    /// # Safety
    /// As [`add_region`]'s.
    pub(crate) unsafe fn register(&mut self, addr: u64, len: usize, access: Access) {
        if let ArgMemory::Ctx(ctx) = self {
            // SAFETY: forwarded.
            unsafe { add_region(ctx, addr, len, access) };
        }
    }
}
