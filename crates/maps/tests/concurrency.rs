//! Several threads updating, deleting and looking up at once: no lost updates, no
//! overfull maps, and value pointers stay usable under churn.

use std::sync::atomic::{AtomicBool, Ordering};

use bpfkit_maps::*;

fn k32(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

#[test]
fn parallel_inserts_of_disjoint_keys_all_land() {
    let h = create(&MapSpec::new(MapType::Hash, 4, 8, 4000), 4).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let h = &h;
            s.spawn(move || {
                for i in 0..1000u32 {
                    let k = t * 1000 + i;
                    h.update(&k32(k), &(k as u64).to_ne_bytes(), BPF_NOEXIST, t as usize)
                        .unwrap();
                    // Read back our own and others' keys while everyone writes.
                    let guard = rcu_read_lock();
                    let p = h.lookup_ptr(&k32(k), t as usize, &guard).unwrap().unwrap();
                    let mut v = [0; 8];
                    p.read(0, &mut v).unwrap();
                    assert_eq!(u64::from_ne_bytes(v), k as u64);
                    let _ = h.lookup_ptr(&k32((k * 7) % 4000), 0, &guard).unwrap();
                }
            });
        }
    });
    assert_eq!(h.iter().count(), 4000);
    assert_eq!(
        errno_of(h.update_host(&k32(5000), &[0; 8], BPF_ANY)),
        7,
        "full after 4000 concurrent inserts"
    );
}

fn errno_of(r: Result<(), MapError>) -> i32 {
    r.err().map_or(0, |e| e.errno())
}

#[test]
fn churn_with_readers_holding_pointers() {
    let h = create(&MapSpec::new(MapType::Hash, 4, 16, 64), 2).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Writers: insert and delete a small key set over and over.
        for t in 0..2u32 {
            let h = &h;
            s.spawn(move || {
                for round in 0..20_000u32 {
                    let k = (round * 3 + t) % 32;
                    let v = [k as u8; 16];
                    match round % 3 {
                        0 | 1 => {
                            let _ = h.update(&k32(k), &v, BPF_ANY, t as usize);
                        }
                        _ => {
                            let _ = h.delete(&k32(k));
                        }
                    }
                }
            });
        }
        // Reader: every value it sees was written whole for that key or is detached
        // but still readable; all 16 bytes were written with the key's byte.
        let h = &h;
        let stop = &stop;
        s.spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) && seen < 200_000 {
                let guard = rcu_read_lock();
                for k in 0..32u32 {
                    if let Some(p) = h.lookup_ptr(&k32(k), 0, &guard).unwrap() {
                        let mut v = [0; 16];
                        p.read(0, &mut v).unwrap();
                        assert!(v.iter().all(|b| *b == k as u8), "key {k} value {v:?}");
                        seen += 1;
                    }
                }
            }
        });
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            stop.store(true, Ordering::Relaxed);
        });
    });
    // The count agrees with what iteration finds.
    let n = h.iter().count();
    let mut walked = 0;
    let mut key: Option<Vec<u8>> = None;
    while let Ok(next) = h.get_next_key(key.as_deref()) {
        walked += 1;
        key = Some(next);
    }
    assert_eq!(n, walked);
    assert!(n <= 32);
}

#[test]
fn lru_never_exceeds_capacity_under_parallel_inserts() {
    let lru = create(&MapSpec::new(MapType::LruHash, 4, 8, 100), 2).unwrap();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let lru = &lru;
            s.spawn(move || {
                for i in 0..5000u32 {
                    // Never E2BIG: a full LRU map makes room by evicting.
                    lru.update(&k32(t * 100_000 + i), &[1; 8], BPF_ANY, t as usize)
                        .unwrap();
                }
            });
        }
    });
    // Quiescent now: exactly full, with keys that were inserted.
    let keys: Vec<u32> = lru
        .iter()
        .map(|(k, _)| u32::from_ne_bytes(k.try_into().unwrap()))
        .collect();
    assert_eq!(keys.len(), 100);
    assert!(keys.iter().all(|k| k % 100_000 < 5000 && k / 100_000 < 2));
}

#[test]
fn lpm_and_queue_under_parallel_use() {
    let spec = MapSpec::new(MapType::LpmTrie, 8, 4, 4096).with_flags(map_flags::BPF_F_NO_PREALLOC);
    let trie = create(&spec, 2).unwrap();
    let q = create(&MapSpec::new(MapType::Queue, 0, 4, 100_000), 2).unwrap();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let (trie, q) = (&trie, &q);
            s.spawn(move || {
                for i in 0..2000u32 {
                    let mut key = 24u32.to_ne_bytes().to_vec();
                    key.extend_from_slice(&[10, t as u8, (i % 256) as u8, 0]);
                    trie.update(&key, &k32(i), BPF_ANY, t as usize).unwrap();
                    let mut probe = 32u32.to_ne_bytes().to_vec();
                    probe.extend_from_slice(&[10, t as u8, (i % 256) as u8, 9]);
                    let guard = rcu_read_lock();
                    assert!(trie
                        .lookup_ptr(&probe, t as usize, &guard)
                        .unwrap()
                        .is_some());
                    q.push(&k32(i), BPF_ANY).unwrap();
                }
            });
        }
    });
    assert_eq!(trie.iter().count(), 512);
    let mut popped = 0;
    let mut out = [0; 4];
    while q.pop(&mut out).is_ok() {
        popped += 1;
    }
    assert_eq!(popped, 4000);
}

#[test]
fn maps_of_maps_swap_inner_maps_under_readers() {
    // A writer replaces and deletes the inner maps of an array and a hash of maps while
    // readers look cells up and use them under guards: every cell a reader finds holds
    // one of the two inner maps, alive, whatever the writer does meanwhile.
    for outer_type in [MapType::ArrayOfMaps, MapType::HashOfMaps] {
        let inner_spec = MapSpec::new(MapType::Array, 4, 8, 1);
        let spec = MapSpec::new(outer_type, 4, 4, 4).with_inner_map(inner_spec.clone());
        let outer = create(&spec, 1).unwrap();
        let mom = outer.as_map_of_maps().unwrap();
        let inner: Vec<MapRef> = (0..2).map(|_| create(&inner_spec, 1).unwrap()).collect();
        let ids: Vec<u32> = inner.iter().map(|m| m.id()).collect();
        let values: Vec<u64> = inner
            .iter()
            .map(|m| {
                let guard = rcu_read_lock();
                let value = m.lookup_ptr(&k32(0), 0, &guard).unwrap().unwrap();
                value.addr() as u64
            })
            .collect();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (mom, inner, stop, values) = (mom, &inner, &stop, &values);
            s.spawn(move || {
                for i in 0..20_000usize {
                    let key = k32((i % 3) as u32);
                    if i % 5 == 4 {
                        let _ = mom.delete(&key);
                    } else {
                        mom.set_inner(&key, inner[i % 2].clone(), BPF_ANY).unwrap();
                    }
                }
                stop.store(true, Ordering::Relaxed);
            });
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let guard = rcu_read_lock();
                        for k in 0..4u32 {
                            if let Some(cell) = mom.inner_cell(&k32(k), &guard) {
                                // SAFETY: found under `guard`, which still lives.
                                let cell = unsafe { &*cell };
                                let at = ids.iter().position(|&id| id == cell.map().id());
                                let at = at.unwrap_or_else(|| panic!("{outer_type:?}"));
                                // The cell's own lookup reaches the same map's value.
                                let direct = cell.direct_lookup().unwrap();
                                // SAFETY: the cell (and its map) live under `guard`; the
                                // key is 4 private bytes.
                                let found = unsafe { (direct.lookup)(direct.map, k32(0).as_ptr()) };
                                assert_eq!(found, values[at], "{outer_type:?}");
                            }
                        }
                    }
                });
            }
        });
        // The writer's last acts: key 0 set to map 0 (i = 19998), key 1 deleted (19999),
        // key 2 set to map 1 (19997).
        let id_at = |k: u32| mom.lookup_inner(&k32(k)).map(|m| m.id());
        assert_eq!(
            [id_at(0), id_at(1), id_at(2)],
            [Some(ids[0]), None, Some(ids[1])],
            "{outer_type:?}"
        );
    }
}
