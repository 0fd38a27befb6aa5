//! `LPM_TRIE`: longest-prefix-match map.
//!
//! Keys are `struct bpf_lpm_trie_key`: a native-endian `u32` prefix length followed
//! by `key_size - 4` data bytes, matched most-significant bit first (network order
//! for IP addresses). The trie is a path-compressed binary trie like the kernel's:
//! real nodes carry a value, intermediate nodes exist only to branch and always have
//! two children. A reader/writer lock protects the structure (lookups share it);
//! values live in their own buffers, which stay put while the node lives and are
//! retired through [`crate::rcu`] when the prefix is deleted.

use parking_lot::RwLock;

use crate::error::{check_len, MapError};
use crate::map::{check_host_read, check_host_write, next_map_id, Map, ValueCodec, ValuePtr};
use crate::rcu::{retire, RcuGuard};
use crate::shared::SharedBytes;
use crate::spec::{MapSpec, MapType, BPF_EXIST, BPF_NOEXIST};

struct Node {
    prefixlen: u32,
    data: Box<[u8]>,
    /// `None` for intermediate nodes.
    value: Option<SharedBytes>,
    child: [Option<Box<Node>>; 2],
}

#[derive(Default)]
struct Trie {
    root: Option<Box<Node>>,
    entries: u32,
}

/// A longest-prefix-match trie map.
pub struct LpmTrie {
    spec: MapSpec,
    id: u32,
    ncpus: usize,
    max_prefixlen: u32,
    codec: ValueCodec,
    trie: RwLock<Trie>,
}

impl std::fmt::Debug for LpmTrie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LpmTrie")
            .field("spec", &self.spec)
            .field("id", &self.id)
            .finish()
    }
}

/// Bit `index` of `data`, most significant bit of byte 0 first.
fn bit(data: &[u8], index: u32) -> usize {
    ((data[(index / 8) as usize] >> (7 - index % 8)) & 1) as usize
}

/// Number of leading bits `node` and the key have in common, up to the shorter prefix.
fn match_len(node: &Node, data: &[u8], prefixlen: u32) -> u32 {
    let limit = node.prefixlen.min(prefixlen);
    let mut n = 0;
    for (a, b) in node.data.iter().zip(data) {
        if n >= limit {
            break;
        }
        let diff = a ^ b;
        if diff != 0 {
            n += diff.leading_zeros();
            break;
        }
        n += 8;
    }
    n.min(limit)
}

/// The first real node in postorder below `node` (every leaf is real).
fn leftmost(mut node: &Node) -> &Node {
    loop {
        match (&node.child[0], &node.child[1]) {
            (Some(c), _) | (None, Some(c)) => node = c,
            (None, None) => return node,
        }
    }
}

/// Replaces an intermediate node left with fewer than two children by its child.
fn normalize(slot: &mut Option<Box<Node>>) {
    let Some(node) = slot else { return };
    if node.value.is_some() || (node.child[0].is_some() && node.child[1].is_some()) {
        return;
    }
    let only = node.child[0].take().or_else(|| node.child[1].take());
    *slot = only;
}

/// The slot reached from `root` by following `path` (child indices).
fn slot_at<'a>(root: &'a mut Option<Box<Node>>, path: &[usize]) -> &'a mut Option<Box<Node>> {
    let mut slot = root;
    for &b in path {
        match slot {
            Some(n) => slot = &mut n.child[b],
            None => break,
        }
    }
    slot
}

impl LpmTrie {
    /// Creates the map; `spec` must have passed [`crate::validate`].
    pub(crate) fn new(spec: MapSpec, ncpus: usize) -> Self {
        LpmTrie {
            max_prefixlen: (spec.key_size - 4) * 8,
            codec: ValueCodec::new(&spec),
            trie: RwLock::new(Trie::default()),
            id: next_map_id(),
            ncpus,
            spec,
        }
    }

    /// Splits a key into prefix length and data.
    fn split<'k>(&self, key: &'k [u8]) -> Result<(u32, &'k [u8]), MapError> {
        check_len("key", key.len(), self.spec.key_size as usize)?;
        let plen = u32::from_ne_bytes([key[0], key[1], key[2], key[3]]);
        Ok((plen, &key[4..]))
    }

    fn not_found(&self) -> MapError {
        MapError::NotFound {
            map_type: MapType::LpmTrie,
        }
    }

    /// The kernel's lookup walk: the deepest real node whose prefix matches.
    fn longest_match<'t>(&self, trie: &'t Trie, data: &[u8], plen: u32) -> Option<&'t Node> {
        if plen > self.max_prefixlen {
            return None;
        }
        let mut found = None;
        let mut cur = trie.root.as_deref();
        while let Some(node) = cur {
            let m = match_len(node, data, plen);
            if m == self.max_prefixlen {
                found = Some(node);
                break;
            }
            if m < node.prefixlen {
                break;
            }
            if node.value.is_some() {
                found = Some(node);
            }
            cur = node.child[bit(data, node.prefixlen)].as_deref();
        }
        found.filter(|n| n.value.is_some())
    }

    fn new_value(&self, value: &[u8]) -> Result<SharedBytes, MapError> {
        let v = SharedBytes::zeroed(self.spec.value_slot())?;
        // SAFETY: fresh buffer of value_slot >= value_size bytes.
        unsafe { self.codec.store(v.as_ptr(), value, 0) };
        Ok(v)
    }

    /// `trie_check_add_elem`: a new prefix needs `BPF_EXIST` unset and room.
    fn check_add(&self, trie: &mut Trie, flags: u64) -> Result<(), MapError> {
        if flags == BPF_EXIST {
            return Err(self.not_found());
        }
        if trie.entries == self.spec.max_entries {
            return Err(MapError::NoSpace {
                max_entries: self.spec.max_entries,
            });
        }
        trie.entries += 1;
        Ok(())
    }

    fn insert(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let (plen, data) = self.split(key)?;
        check_len("value", value.len(), self.spec.value_size as usize)?;
        if flags > BPF_EXIST {
            return Err(MapError::Invalid(format!("update flags {flags:#x}")));
        }
        if plen > self.max_prefixlen {
            return Err(MapError::Invalid(format!(
                "prefix length {plen} exceeds {} bits",
                self.max_prefixlen
            )));
        }
        let mut guard = self.trie.write();
        let trie = &mut *guard;
        // Walk down while the node is a proper prefix of the key.
        let mut path = Vec::new();
        let mut cur = trie.root.as_deref();
        while let Some(node) = cur {
            let m = match_len(node, data, plen);
            if node.prefixlen != m || node.prefixlen == plen {
                break;
            }
            let b = bit(data, node.prefixlen);
            path.push(b);
            cur = node.child[b].as_deref();
        }
        let matched = cur.map(|n| (n.prefixlen, match_len(n, data, plen), n.value.is_some()));
        let leaf = |v| Node {
            prefixlen: plen,
            data: data.into(),
            value: Some(v),
            child: [None, None],
        };
        match matched {
            None => {
                self.check_add(trie, flags)?;
                let v = self.new_value(value)?;
                *slot_at(&mut trie.root, &path) = Some(Box::new(leaf(v)));
            }
            Some((nplen, m, real)) if nplen == m => {
                // Same prefix: replace a real node's value, or fill an intermediate one.
                if real && flags == BPF_NOEXIST {
                    return Err(MapError::Exists {
                        map_type: MapType::LpmTrie,
                    });
                }
                if !real {
                    self.check_add(trie, flags)?;
                }
                let v = if real {
                    None
                } else {
                    Some(self.new_value(value)?)
                };
                if let Some(node) = slot_at(&mut trie.root, &path) {
                    node.data = data.into();
                    match v {
                        Some(v) => node.value = Some(v),
                        None => {
                            if let Some(old) = &node.value {
                                // SAFETY: a live value buffer of value_slot bytes.
                                unsafe { self.codec.store(old.as_ptr(), value, 0) }
                            }
                        }
                    }
                }
            }
            Some((_, m, _)) => {
                self.check_add(trie, flags)?;
                let v = self.new_value(value)?;
                let slot = slot_at(&mut trie.root, &path);
                let old = slot.take();
                *slot = Some(Box::new(match old {
                    // The key is a prefix of the node: the new node becomes its parent.
                    Some(old) if m == plen => {
                        let mut new = leaf(v);
                        let b = bit(&old.data, m);
                        new.child[b] = Some(old);
                        new
                    }
                    // They diverge at bit m: an intermediate node splits them.
                    old => {
                        let b = bit(data, m);
                        let mut im = Node {
                            prefixlen: m,
                            data: data.into(),
                            value: None,
                            child: [None, None],
                        };
                        im.child[b] = Some(Box::new(leaf(v)));
                        im.child[1 - b] = old;
                        im
                    }
                }));
            }
        }
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<(), MapError> {
        let (plen, data) = self.split(key)?;
        if plen > self.max_prefixlen {
            return Err(MapError::Invalid(format!(
                "prefix length {plen} exceeds {} bits",
                self.max_prefixlen
            )));
        }
        let mut guard = self.trie.write();
        let trie = &mut *guard;
        let mut path = Vec::new();
        let mut cur = trie.root.as_deref();
        let mut found = false;
        while let Some(node) = cur {
            let m = match_len(node, data, plen);
            if node.prefixlen != m {
                break;
            }
            if node.prefixlen == plen {
                found = node.value.is_some();
                break;
            }
            let b = bit(data, node.prefixlen);
            path.push(b);
            cur = node.child[b].as_deref();
        }
        if !found {
            return Err(self.not_found());
        }
        let slot = slot_at(&mut trie.root, &path);
        if let Some(node) = slot.as_mut() {
            if let Some(v) = node.value.take() {
                retire(v);
            }
        }
        trie.entries -= 1;
        // Only the node itself and its parent can be left as one-child intermediates.
        normalize(slot_at(&mut trie.root, &path));
        if let Some((_, parent)) = path.split_last() {
            normalize(slot_at(&mut trie.root, parent));
        }
        Ok(())
    }

    fn host_value(&self, node: &Node) -> Vec<u8> {
        let mut out = vec![0; self.spec.value_size as usize];
        if let Some(v) = &node.value {
            // SAFETY: live value buffer (we hold the trie lock).
            unsafe { self.codec.load(v.as_ptr(), &mut out, 0) };
        }
        out
    }

    fn key_of(node: &Node) -> Vec<u8> {
        let mut k = node.prefixlen.to_ne_bytes().to_vec();
        k.extend_from_slice(&node.data);
        k
    }

    /// The kernel's postorder `get_next_key` (more specific prefixes first).
    fn next(&self, trie: &Trie, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let Some(root) = trie.root.as_deref() else {
            return Ok(None);
        };
        let split = key.map(|k| self.split(k)).transpose()?;
        if let Some((plen, data)) = split.filter(|(p, _)| *p <= self.max_prefixlen) {
            let mut stack = vec![root];
            let mut node = root;
            let mut hit = true;
            loop {
                let m = match_len(node, data, plen);
                if node.prefixlen != m {
                    hit = false;
                    break;
                }
                if node.prefixlen == plen {
                    break;
                }
                match node.child[bit(data, node.prefixlen)].as_deref() {
                    Some(c) => {
                        stack.push(c);
                        node = c;
                    }
                    None => {
                        hit = false;
                        break;
                    }
                }
            }
            // Only an exact, real node continues the walk; anything else restarts.
            if hit && node.prefixlen == plen && node.value.is_some() {
                let mut cur = stack.pop().unwrap_or(root);
                while let Some(parent) = stack.pop() {
                    let is_left = parent.child[0]
                        .as_deref()
                        .is_some_and(|c| std::ptr::eq(c, cur));
                    if let (true, Some(right)) = (is_left, parent.child[1].as_deref()) {
                        return Ok(Some(Self::key_of(leftmost(right))));
                    }
                    if parent.value.is_some() {
                        return Ok(Some(Self::key_of(parent)));
                    }
                    cur = parent;
                }
                return Ok(None);
            }
        }
        Ok(Some(Self::key_of(leftmost(root))))
    }
}

impl Map for LpmTrie {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn ncpus(&self) -> usize {
        self.ncpus
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn lookup_ptr<'g>(
        &self,
        key: &[u8],
        _cpu: usize,
        _guard: &'g RcuGuard,
    ) -> Result<Option<ValuePtr<'g>>, MapError> {
        let (plen, data) = self.split(key)?;
        let trie = self.trie.read();
        Ok(self
            .longest_match(&trie, data, plen)
            .and_then(|n| n.value.as_ref())
            // SAFETY: the value buffer is retired through the epoch scheme when the
            // prefix is deleted, so it outlives the caller's guard.
            .map(|v| unsafe { ValuePtr::new(v.ptr_at(0), self.spec.value_size as usize) }))
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64, _cpu: usize) -> Result<(), MapError> {
        self.insert(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.remove(key)
    }

    fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let (plen, data) = self.split(key)?;
        self.codec.check_lock_flag(flags)?;
        if flags != 0 {
            return Err(MapError::Invalid(format!("lookup flags {flags:#x}")));
        }
        let trie = self.trie.read();
        self.longest_match(&trie, data, plen)
            .map(|n| self.host_value(n))
            .ok_or_else(|| self.not_found())
    }

    fn update_host(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_host_write(&self.spec)?;
        self.insert(key, value, flags)
    }

    fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        check_host_read(&self.spec)?;
        let trie = self.trie.read();
        self.next(&trie, key)?.ok_or_else(|| self.not_found())
    }

    fn iter(&self) -> std::vec::IntoIter<(Vec<u8>, Vec<u8>)> {
        fn walk(node: &Node, map: &LpmTrie, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
            let mut stack = vec![(node, false)];
            while let Some((n, expanded)) = stack.pop() {
                if expanded {
                    if n.value.is_some() {
                        out.push((LpmTrie::key_of(n), map.host_value(n)));
                    }
                    continue;
                }
                stack.push((n, true));
                for c in n.child.iter().rev().flatten() {
                    stack.push((c, false));
                }
            }
        }
        let trie = self.trie.read();
        let mut out = Vec::new();
        if let Some(root) = trie.root.as_deref() {
            walk(root, self, &mut out);
        }
        out.into_iter()
    }
}

impl Drop for LpmTrie {
    fn drop(&mut self) {
        // Dismantle iteratively: a deep trie would overflow the stack in Box's
        // recursive drop.
        let mut stack: Vec<Box<Node>> = self.trie.get_mut().root.take().into_iter().collect();
        while let Some(mut n) = stack.pop() {
            stack.extend(n.child.iter_mut().filter_map(Option::take));
        }
    }
}
