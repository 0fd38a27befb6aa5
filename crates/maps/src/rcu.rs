//! Read-side critical sections for programs, the user-space stand-in for the
//! kernel's `rcu_read_lock()` around a program run.
//!
//! **Reclamation rule.** An element removed from a map (deleted, evicted, or
//! replaced in a map of maps) is unlinked at once, so the map's element count and
//! `max_entries` limit behave exactly as in the kernel, but its memory is freed only
//! after every [`RcuGuard`] that existed at removal time has been dropped. A program
//! that obtained a value pointer from `lookup_ptr` under a guard can therefore keep
//! reading and writing it until the guard is dropped, even if the element is deleted
//! meanwhile (its writes then go to the detached copy, as in the kernel). This is
//! epoch-based reclamation (`crossbeam-epoch`); memory is reclaimed lazily as
//! threads pin and unpin.

use crossbeam_epoch::Guard;

/// Keeps map values found during a program run alive; hold one per program run.
///
/// Guards are per thread (`!Send`) and nest freely. Holding one for a very long time
/// delays freeing of removed elements on every map, so drop it when the run ends.
pub struct RcuGuard {
    pub(crate) guard: Guard,
}

impl std::fmt::Debug for RcuGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RcuGuard")
    }
}

/// Enters a read-side critical section: value pointers obtained under the returned
/// guard stay valid until it is dropped.
pub fn rcu_read_lock() -> RcuGuard {
    RcuGuard {
        guard: crossbeam_epoch::pin(),
    }
}

/// Frees `garbage` once no guard that exists now is still alive.
pub(crate) fn retire<T: Send + 'static>(garbage: T) {
    let guard = crossbeam_epoch::pin();
    guard.defer(move || drop(garbage));
}
