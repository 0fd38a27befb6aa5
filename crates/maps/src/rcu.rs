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

impl RcuGuard {
    /// Passes through a quiescent state, as the kernel does between runs of a test-run
    /// when it reschedules: leaves the critical section and enters a new one, so memory
    /// removed before may be freed once other threads' guards allow it. Value pointers
    /// obtained under the guard before must not be used after (`&mut self`: nothing may
    /// borrow the guard across the call).
    pub fn quiesce(&mut self) {
        self.guard.repin();
        // Hands this thread's retired elements to the collector and lets it free what the
        // epochs allow (repinning alone collects only every 128 pins).
        self.guard.flush();
    }
}

/// Frees `garbage` once no guard that exists now is still alive.
pub(crate) fn retire<T: Send + 'static>(garbage: T) {
    let guard = crossbeam_epoch::pin();
    guard.defer(move || drop(garbage));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn retired_memory_waits_for_the_guard_or_a_quiescent_state() {
        let mut guard = rcu_read_lock();
        let freed = Arc::new(AtomicBool::new(false));
        retire(Flag(freed.clone()));
        // Held: never freed, however often others collect.
        for _ in 0..1000 {
            crossbeam_epoch::pin().flush();
        }
        assert!(!freed.load(Ordering::SeqCst));
        // Quiescent states let the epoch advance (other tests' guards may hold it a while).
        for _ in 0..100_000 {
            guard.quiesce();
            if freed.load(Ordering::SeqCst) {
                return;
            }
            std::thread::yield_now();
        }
        panic!("retired memory not freed after quiescent states");
    }
}
