//! `QUEUE` (FIFO) and `STACK` (LIFO) maps: keyless, values are copied in and out.

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::error::{check_len, MapError, EINVAL};
use crate::map::{check_host_read, check_host_write, next_map_id, Map, ValuePtr};
use crate::rcu::RcuGuard;
use crate::spec::{MapSpec, MapType, BPF_EXIST, BPF_NOEXIST};

/// A queue or stack map. Elements are kept oldest first; a queue pops the oldest,
/// a stack the newest, and a push with `BPF_EXIST` on a full map drops the oldest
/// in both cases, as in the kernel.
pub struct QueueStack {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    /// The elements' bytes back to back, oldest first (one buffer: a push or pop
    /// allocates nothing once it has grown).
    items: Mutex<VecDeque<u8>>,
}

impl std::fmt::Debug for QueueStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStack")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .finish()
    }
}

impl QueueStack {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Self {
        QueueStack {
            items: Mutex::new(VecDeque::new()),
            id: next_map_id(),
            ncpus,
            spec,
        }
    }

    fn is_stack(&self) -> bool {
        self.spec.map_type == MapType::Stack
    }

    fn not_found(&self) -> MapError {
        MapError::NotFound {
            map_type: self.spec.map_type,
        }
    }

    fn size(&self) -> usize {
        self.spec.value_size as usize
    }

    fn take(&self, remove: bool, out: &mut [u8]) -> Result<(), MapError> {
        let size = self.size();
        check_len("value", out.len(), size)?;
        let mut items = self.items.lock();
        if items.is_empty() {
            return Err(self.not_found());
        }
        // A queue takes the oldest element, a stack the newest.
        let start = if self.is_stack() {
            items.len() - size
        } else {
            0
        };
        for (o, b) in out.iter_mut().zip(items.range(start..start + size)) {
            *o = *b;
        }
        if remove {
            items.drain(start..start + size);
        }
        Ok(())
    }

    fn host_key(&self, key: &[u8]) -> Result<(), MapError> {
        check_len("key", key.len(), 0)
    }
}

impl Map for QueueStack {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    /// Queues and stacks have no lookup from programs (the verifier forbids it).
    fn lookup_ptr<'g>(
        &self,
        _key: &[u8],
        _cpu: usize,
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        Ok(None)
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64, _cpu: usize) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "update",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::not_supported(
            "delete",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        check_len("value", value.len(), self.spec.value_size as usize)?;
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(MapError::Invalid(format!("push flags {flags:#x}")));
        }
        let mut items = self.items.lock();
        if items.len() >= self.spec.max_entries as usize * self.size() {
            if flags & BPF_EXIST == 0 {
                return Err(MapError::Full {
                    map_type: self.spec.map_type,
                    max_entries: self.spec.max_entries,
                });
            }
            items.drain(..self.size());
        }
        items.extend(value);
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(true, out)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(false, out)
    }

    /// Host lookup of a queue/stack is a peek.
    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        self.host_key(key)?;
        if flags != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        let mut out = vec![0; self.spec.value_size as usize];
        self.peek(&mut out)?;
        Ok(out)
    }

    /// Host update of a queue/stack is a push.
    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        self.host_key(key)?;
        self.push(value, flags)
    }

    fn lookup_and_delete(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        check_host_write(&self.spec)?;
        self.host_key(key)?;
        let mut out = vec![0; self.spec.value_size as usize];
        self.pop(&mut out)?;
        Ok(out)
    }

    fn get_next_key(&self, _key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        Err(MapError::not_supported(
            "get_next_key",
            self.spec.map_type,
            EINVAL,
        ))
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        let items = self.items.lock();
        let size = self.size().max(1);
        let bytes: Vec<u8> = items.iter().copied().collect();
        let mut out: Vec<_> = bytes
            .chunks_exact(size)
            .map(|v| (Vec::new(), v.to_vec()))
            .collect();
        if self.is_stack() {
            out.reverse();
        }
        out.into_iter()
    }
}
