//! The error type shared by every map operation, with the kernel's errno for each case.

use crate::spec::MapType;

/// Kernel-internal `ENOTSUPP` (524): returned by some map operations, e.g. on ring buffers.
pub const ENOTSUPP: i32 = 524;

/// Why a map operation (or a map creation) failed.
///
/// Each variant corresponds to one errno value the kernel's `bpf(2)` syscall or
/// map helper would return in the same situation; [`MapError::errno`] gives it,
/// so a helper implementation can hand `-errno` back to the eBPF program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// No element for the key (`ENOENT`), or an empty queue/stack, or a bloom
    /// filter that certainly does not contain the value.
    #[error("no such element in {map_type:?} map")]
    NotFound {
        /// Type of the map that was searched.
        map_type: MapType,
    },
    /// The element already exists and `BPF_NOEXIST` was given (`EEXIST`).
    #[error("element already exists in {map_type:?} map (BPF_NOEXIST)")]
    Exists {
        /// Type of the map that was updated.
        map_type: MapType,
    },
    /// A size is too big (`E2BIG`).
    #[error("too big: {0}")]
    TooBig(String),
    /// The map holds `max_entries` elements already (`E2BIG`). A program meets this often
    /// (a full queue), so the message is built only when shown.
    #[error("too big: {map_type:?} map is full (max_entries = {max_entries})")]
    Full {
        /// Type of the map.
        map_type: MapType,
        /// Its `max_entries`.
        max_entries: u32,
    },
    /// An array index at or past `max_entries` (`E2BIG`).
    #[error("too big: index {index} out of range (max_entries = {max_entries})")]
    OutOfRange {
        /// The index.
        index: u64,
        /// The array's `max_entries`.
        max_entries: u32,
    },
    /// No room left in an LPM trie (`ENOSPC`).
    #[error("no space: LPM trie already holds max_entries = {max_entries} prefixes")]
    NoSpace {
        /// The trie's `max_entries`.
        max_entries: u32,
    },
    /// An invalid argument: bad flags, bad sizes, wrong key or value length (`EINVAL`).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The map type does not implement this operation (errno chosen as the kernel does:
    /// `EINVAL`, `EOPNOTSUPP` or `ENOTSUPP` depending on the map).
    #[error("{op} is not supported by {map_type:?} maps")]
    NotSupported {
        /// The operation that was attempted, e.g. `"delete"`.
        op: &'static str,
        /// Type of the map.
        map_type: MapType,
        /// The errno the kernel returns for it.
        errno: i32,
    },
    /// A ring buffer has no room for the record (`EAGAIN`, from `bpf_ringbuf_output`).
    #[error("ring buffer full: no room for a {size}-byte record")]
    Again {
        /// Requested record size.
        size: u64,
    },
    /// Memory for the map could not be allocated (`ENOMEM`).
    #[error("out of memory: {0}")]
    NoMemory(String),
    /// The map was created read-only or write-only for the host (`EPERM`).
    #[error("permission denied: {0}")]
    Permission(&'static str),
    /// The map type number is not one the kernel defines, or not one this crate implements.
    #[error("map type {0} is unknown or not implemented")]
    UnknownMapType(u32),
    /// A map-in-map was created without an inner map template (`EBADF`, as a bad
    /// `inner_map_fd` is in the kernel).
    #[error("map-in-map needs an inner map template (inner_map_fd)")]
    NoInnerMap,
}

impl MapError {
    /// The positive errno value the kernel would report for this error.
    pub fn errno(&self) -> i32 {
        match self {
            MapError::NotFound { .. } => 2, // ENOENT
            MapError::Exists { .. } => 17,  // EEXIST
            MapError::TooBig(_) | MapError::Full { .. } | MapError::OutOfRange { .. } => 7, // E2BIG
            MapError::NoSpace { .. } => 28, // ENOSPC
            MapError::Invalid(_) => 22,     // EINVAL
            MapError::NotSupported { errno, .. } => *errno,
            MapError::Again { .. } => 11,      // EAGAIN
            MapError::NoMemory(_) => 12,       // ENOMEM
            MapError::Permission(_) => 1,      // EPERM
            MapError::UnknownMapType(_) => 22, // EINVAL
            MapError::NoInnerMap => 9,         // EBADF
        }
    }

    pub(crate) fn not_supported(op: &'static str, map_type: MapType, errno: i32) -> Self {
        MapError::NotSupported {
            op,
            map_type,
            errno,
        }
    }
}

/// `EINVAL`, for [`MapError::NotSupported`] where the kernel reports an invalid argument.
pub(crate) const EINVAL: i32 = 22;
/// `EOPNOTSUPP`.
pub(crate) const EOPNOTSUPP: i32 = 95;

/// Checks that a caller-supplied buffer has exactly the length the map expects.
pub(crate) fn check_len(what: &str, got: usize, want: usize) -> Result<(), MapError> {
    if got == want {
        Ok(())
    } else {
        Err(MapError::Invalid(format!(
            "{what} is {got} bytes, the map expects {want}"
        )))
    }
}
