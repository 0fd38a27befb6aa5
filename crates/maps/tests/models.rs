//! Property tests against simple reference models: a `std` HashMap with the
//! kernel's update rules for hash maps, and a brute-force longest-prefix search for
//! the LPM trie.

use std::collections::HashMap as Model;

use bpfkit_maps::map_flags::BPF_F_NO_PREALLOC;
use bpfkit_maps::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Update(u8, u8, u64),
    Delete(u8),
    Lookup(u8),
    LookupAndDelete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, any::<u8>(), 0u64..4).prop_map(|(k, v, f)| Op::Update(k, v, f)),
        2 => (0u8..24).prop_map(Op::Delete),
        2 => (0u8..24).prop_map(Op::Lookup),
        1 => (0u8..24).prop_map(Op::LookupAndDelete),
    ]
}

const MAX: usize = 12;

/// The kernel's hash update rules, written from the man page / kernel source logic.
fn model_update(m: &mut Model<u8, u8>, k: u8, v: u8, flags: u64) -> Result<(), i32> {
    if flags > BPF_EXIST {
        return Err(22);
    }
    let exists = m.contains_key(&k);
    if exists && flags == BPF_NOEXIST {
        return Err(17);
    }
    if !exists && flags == BPF_EXIST {
        return Err(2);
    }
    if !exists && m.len() >= MAX {
        return Err(7);
    }
    m.insert(k, v);
    Ok(())
}

fn key(k: u8) -> [u8; 3] {
    [k, 0xab, k.wrapping_mul(3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hash_map_matches_model(ops in prop::collection::vec(op(), 1..200), prealloc in any::<bool>()) {
        let flags = if prealloc { 0 } else { BPF_F_NO_PREALLOC };
        let map = create(&MapSpec::new(MapType::Hash, 3, 1, MAX as u32).with_flags(flags), 1).unwrap();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Update(k, v, f) => {
                    let ours = map.update(&key(k), &[v], f, 0).map_err(|e| e.errno());
                    prop_assert_eq!(ours, model_update(&mut model, k, v, f));
                }
                Op::Delete(k) => {
                    let ours = map.delete(&key(k)).map_err(|e| e.errno());
                    prop_assert_eq!(ours, model.remove(&k).map(drop).ok_or(2));
                }
                Op::Lookup(k) => {
                    let ours = map.lookup(&key(k)).map_err(|e| e.errno());
                    prop_assert_eq!(ours, model.get(&k).map(|v| vec![*v]).ok_or(2));
                }
                Op::LookupAndDelete(k) => {
                    let ours = map.lookup_and_delete(&key(k)).map_err(|e| e.errno());
                    prop_assert_eq!(ours, model.remove(&k).map(|v| vec![v]).ok_or(2));
                }
            }
        }
        let mut ours: Vec<(Vec<u8>, Vec<u8>)> = map.iter().collect();
        ours.sort();
        let mut want: Vec<(Vec<u8>, Vec<u8>)> =
            model.iter().map(|(k, v)| (key(*k).to_vec(), vec![*v])).collect();
        want.sort();
        prop_assert_eq!(ours, want);
    }
}

/// A prefix over 16-bit addresses (key data of 2 bytes), stored as (len, bits).
#[derive(Debug, Clone, Copy)]
struct Prefix {
    len: u32,
    addr: u16,
}

impl Prefix {
    fn key(self) -> Vec<u8> {
        let mut k = self.len.to_ne_bytes().to_vec();
        k.extend_from_slice(&self.addr.to_be_bytes());
        k
    }
    fn masked(self) -> u16 {
        if self.len == 0 {
            0
        } else {
            self.addr & (u16::MAX << (16 - self.len))
        }
    }
    fn covers(self, addr: u16) -> bool {
        Prefix {
            len: self.len,
            addr,
        }
        .masked()
            == self.masked()
    }
}

fn prefix() -> impl Strategy<Value = Prefix> {
    // Few distinct high bits so prefixes nest and overlap often.
    (0u32..=16, 0u16..16, any::<u16>()).prop_map(|(len, hi, lo)| Prefix {
        len,
        addr: (hi << 12) | (lo & 0x0f0f),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn lpm_trie_matches_brute_force(
        inserts in prop::collection::vec((prefix(), any::<u8>()), 1..60),
        deletes in prop::collection::vec(prefix(), 0..30),
        queries in prop::collection::vec(any::<u16>(), 1..60),
    ) {
        let spec = MapSpec::new(MapType::LpmTrie, 6, 1, 1000).with_flags(BPF_F_NO_PREALLOC);
        let trie = create(&spec, 1).unwrap();
        // Model: masked prefix -> value.
        let mut model: Model<(u32, u16), u8> = Model::new();
        for (p, v) in &inserts {
            trie.update_host(&p.key(), &[*v], BPF_ANY).unwrap();
            model.insert((p.len, p.masked()), *v);
        }
        for p in &deletes {
            let ours = trie.delete_host(&p.key()).map_err(|e| e.errno());
            let want = model.remove(&(p.len, p.masked())).map(drop).ok_or(2);
            prop_assert_eq!(ours, want, "delete {:?}", p);
        }
        for q in queries {
            let best = model
                .iter()
                .filter(|((len, addr), _)| Prefix { len: *len, addr: *addr }.covers(q))
                .max_by_key(|((len, _), _)| *len)
                .map(|(_, v)| vec![*v]);
            let ours = trie.lookup(&Prefix { len: 16, addr: q }.key()).ok();
            prop_assert_eq!(ours, best, "query {:#06x}", q);
        }
        // Iteration (and the get_next_key walk) yields every stored prefix once.
        let mut walked = Vec::new();
        let mut k: Option<Vec<u8>> = None;
        while let Ok(next) = trie.get_next_key(k.as_deref()) {
            walked.push(next.clone());
            k = Some(next);
            prop_assert!(walked.len() <= model.len());
        }
        prop_assert_eq!(walked.len(), model.len());
        prop_assert_eq!(trie.iter().count(), model.len());
    }
}
