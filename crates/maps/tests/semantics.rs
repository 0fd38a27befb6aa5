//! Per-type rules: flags, limits, layouts and errors, each checked against the
//! kernel's documented behaviour (errno values are those of `linux/errno.h`).

use std::sync::atomic::{AtomicU64, Ordering};

use bpfkit_maps::map_flags::*;
use bpfkit_maps::ringbuf::*;
use bpfkit_maps::*;

const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const EAGAIN: i32 = 11;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;
const EPERM: i32 = 1;

fn errno<T: std::fmt::Debug>(r: Result<T, MapError>) -> i32 {
    r.expect_err("operation should fail").errno()
}

fn k32(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn new(t: MapType, k: u32, v: u32, max: u32) -> MapRef {
    create(&MapSpec::new(t, k, v, max), 2).unwrap()
}

// ---------- arrays ----------

#[test]
fn array_flags_limits_and_iteration() {
    let a = new(MapType::Array, 4, 12, 4);
    assert_eq!(
        a.lookup(&k32(3)).unwrap(),
        vec![0; 12],
        "arrays start zeroed"
    );
    assert_eq!(errno(a.lookup(&k32(4))), ENOENT);
    assert_eq!(errno(a.update_host(&k32(4), &[1; 12], BPF_ANY)), E2BIG);
    assert_eq!(errno(a.update_host(&k32(0), &[1; 12], BPF_NOEXIST)), EEXIST);
    assert_eq!(errno(a.update_host(&k32(0), &[1; 12], 3)), EINVAL);
    assert_eq!(errno(a.update_host(&k32(0), &[1; 12], BPF_F_LOCK)), EINVAL);
    a.update_host(&k32(0), &[1; 12], BPF_EXIST).unwrap();
    assert_eq!(a.lookup(&k32(0)).unwrap(), vec![1; 12]);
    assert_eq!(
        errno(a.delete_host(&k32(0))),
        EINVAL,
        "array elements cannot be deleted"
    );
    assert_eq!(
        errno(a.update_host(&k32(0), &[1; 11], BPF_ANY)),
        EINVAL,
        "short value"
    );
    // get_next_key: NULL or out of range -> 0, then 1, 2, 3, then ENOENT.
    assert_eq!(a.get_next_key(None).unwrap(), k32(0));
    assert_eq!(a.get_next_key(Some(&k32(99))).unwrap(), k32(0));
    assert_eq!(a.get_next_key(Some(&k32(2))).unwrap(), k32(3));
    assert_eq!(errno(a.get_next_key(Some(&k32(3)))), ENOENT);
    assert_eq!(a.iter().count(), 4);
}

#[test]
fn array_value_pointer_is_stable_and_shared() {
    let a = new(MapType::Array, 4, 8, 2);
    let guard = rcu_read_lock();
    let p1 = a.lookup_ptr(&k32(1), 0, &guard).unwrap().unwrap();
    assert_eq!(p1.len(), 8);
    assert_eq!(p1.addr() % 8, 0, "values are 8-byte aligned for atomics");
    p1.write(0, &7u64.to_ne_bytes()).unwrap();
    a.update_host(&k32(0), &[9; 8], BPF_ANY).unwrap();
    let p2 = a.lookup_ptr(&k32(1), 0, &guard).unwrap().unwrap();
    assert_eq!(p1, p2, "same element, same address");
    assert_eq!(a.lookup(&k32(1)).unwrap(), 7u64.to_ne_bytes());
    assert!(
        p1.write(4, &[0; 8]).is_err(),
        "writes past value_size are refused"
    );
    assert!(a.lookup_ptr(&k32(2), 0, &guard).unwrap().is_none());
}

#[test]
fn percpu_array_slots() {
    let a = create(&MapSpec::new(MapType::PercpuArray, 4, 6, 3), 3).unwrap();
    assert_eq!(a.host_value_size(), 3 * 8, "ncpus slots of round_up(6, 8)");
    a.update(&k32(1), &[5; 6], BPF_ANY, 1).unwrap();
    let all = a.lookup(&k32(1)).unwrap();
    assert_eq!(&all[0..8], &[0; 8]);
    assert_eq!(&all[8..16], &[5, 5, 5, 5, 5, 5, 0, 0]);
    assert_eq!(&all[16..24], &[0; 8]);
    let host: Vec<u8> = (0..24).collect();
    a.update_host(&k32(2), &host, BPF_ANY).unwrap();
    assert_eq!(a.lookup(&k32(2)).unwrap(), host, "host writes whole slots");
    let guard = rcu_read_lock();
    let p = a.lookup_ptr(&k32(2), 2, &guard).unwrap().unwrap();
    let mut buf = [0; 6];
    p.read(0, &mut buf).unwrap();
    assert_eq!(buf, [16, 17, 18, 19, 20, 21]);
    assert_eq!(
        errno(a.lookup_ptr(&k32(2), 3, &guard)),
        EINVAL,
        "cpu out of range"
    );
    assert_eq!(errno(a.update_host(&k32(2), &host[..8], BPF_ANY)), EINVAL);
    assert_eq!(errno(a.update_host(&k32(0), &host, BPF_F_LOCK)), EINVAL);
}

#[test]
fn spin_lock_field_is_skipped_by_copies_and_serialises() {
    let spec = MapSpec::new(MapType::Array, 4, 16, 1).with_spin_lock(0);
    let a = create(&spec, 1).unwrap();
    let guard = rcu_read_lock();
    let p = a.lookup_ptr(&k32(0), 0, &guard).unwrap().unwrap();
    spinlock::lock_in_value(&p, 0).unwrap();
    // A plain update does not touch the lock word; a lookup reports it as zero.
    let value: Vec<u8> = (1..=16).collect();
    a.update_host(&k32(0), &value, BPF_ANY).unwrap();
    let mut lock_word = [0; 4];
    p.read(0, &mut lock_word).unwrap();
    assert_eq!(u32::from_ne_bytes(lock_word), 1, "still locked");
    let back = a.lookup(&k32(0)).unwrap();
    assert_eq!(&back[..4], &[0; 4]);
    assert_eq!(&back[4..], &value[4..]);
    spinlock::unlock_in_value(&p, 0).unwrap();
    assert!(spinlock::lock_in_value(&p, 2).is_err(), "misaligned lock");
    drop(guard);

    // Two threads increment a counter under the value's lock.
    let counter_spec = MapSpec::new(MapType::Hash, 4, 16, 4).with_spin_lock(8);
    let h = create(&counter_spec, 2).unwrap();
    h.update_host(&k32(1), &[0; 16], BPF_ANY).unwrap();
    std::thread::scope(|s| {
        for cpu in 0..2 {
            let h = &h;
            s.spawn(move || {
                let guard = rcu_read_lock();
                let p = h.lookup_ptr(&k32(1), cpu, &guard).unwrap().unwrap();
                for _ in 0..20_000 {
                    spinlock::lock_in_value(&p, 8).unwrap();
                    let mut c = [0; 8];
                    p.read(0, &mut c).unwrap();
                    let c = u64::from_ne_bytes(c) + 1;
                    p.write(0, &c.to_ne_bytes()).unwrap();
                    spinlock::unlock_in_value(&p, 8).unwrap();
                }
            });
        }
    });
    let v = h.lookup_with_flags(&k32(1), BPF_F_LOCK).unwrap();
    assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 40_000);
    // BPF_F_LOCK updates go through the lock as well.
    h.update_host(&k32(1), &[3; 16], BPF_F_LOCK | BPF_EXIST)
        .unwrap();
    assert_eq!(&h.lookup(&k32(1)).unwrap()[..8], &[3; 8]);
    // Spin locks are only allowed in arrays and hashes.
    let bad = MapSpec::new(MapType::PercpuArray, 4, 16, 1).with_spin_lock(0);
    assert_eq!(errno(create(&bad, 1)), EINVAL);
}

#[test]
fn host_access_flags() {
    let ro = create(
        &MapSpec::new(MapType::Hash, 4, 4, 4).with_flags(BPF_F_RDONLY),
        1,
    )
    .unwrap();
    assert_eq!(errno(ro.update_host(&k32(1), &k32(1), BPF_ANY)), EPERM);
    assert_eq!(errno(ro.delete_host(&k32(1))), EPERM);
    ro.update(&k32(1), &k32(1), BPF_ANY, 0).unwrap(); // programs may still write
    assert_eq!(ro.lookup(&k32(1)).unwrap(), k32(1));
    let wo = create(
        &MapSpec::new(MapType::Array, 4, 4, 4).with_flags(BPF_F_WRONLY),
        1,
    )
    .unwrap();
    assert_eq!(errno(wo.lookup(&k32(1))), EPERM);
    assert_eq!(errno(wo.get_next_key(None)), EPERM);
    wo.update_host(&k32(1), &k32(1), BPF_ANY).unwrap();
}

// ---------- hashes ----------

#[test]
fn hash_flags_and_capacity() {
    let h = new(MapType::Hash, 4, 8, 2);
    assert_eq!(errno(h.update_host(&k32(1), &[1; 8], BPF_EXIST)), ENOENT);
    h.update_host(&k32(1), &[1; 8], BPF_NOEXIST).unwrap();
    assert_eq!(errno(h.update_host(&k32(1), &[2; 8], BPF_NOEXIST)), EEXIST);
    h.update_host(&k32(1), &[2; 8], BPF_EXIST).unwrap();
    h.update_host(&k32(2), &[3; 8], BPF_ANY).unwrap();
    assert_eq!(
        errno(h.update_host(&k32(3), &[4; 8], BPF_ANY)),
        E2BIG,
        "full"
    );
    assert_eq!(
        errno(h.update_host(&k32(3), &[4; 8], BPF_EXIST)),
        ENOENT,
        "flags first"
    );
    h.update_host(&k32(2), &[5; 8], BPF_ANY).unwrap(); // existing key: fine when full
    assert_eq!(errno(h.update_host(&k32(2), &[5; 8], 3)), EINVAL);
    assert_eq!(h.lookup(&k32(1)).unwrap(), vec![2; 8]);
    assert_eq!(h.lookup_and_delete(&k32(1)).unwrap(), vec![2; 8]);
    assert_eq!(errno(h.lookup(&k32(1))), ENOENT);
    assert_eq!(errno(h.delete_host(&k32(1))), ENOENT);
    h.update_host(&k32(3), &[4; 8], BPF_ANY).unwrap(); // room again after delete
    assert_eq!(errno(h.lookup(&[0; 3])), EINVAL, "wrong key size");
}

#[test]
fn hash_get_next_key_walks_every_key_once() {
    let h = new(MapType::Hash, 4, 4, 64);
    assert_eq!(errno(h.get_next_key(None)), ENOENT, "empty map");
    for i in 0..50 {
        h.update_host(&k32(i * 7), &k32(i), BPF_ANY).unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut key: Option<Vec<u8>> = None;
    while let Ok(next) = h.get_next_key(key.as_deref()) {
        assert!(seen.insert(next.clone()), "key visited twice");
        key = Some(next);
    }
    assert_eq!(seen.len(), 50);
    // An unknown key restarts from the first key.
    assert_eq!(
        h.get_next_key(Some(&k32(1))).unwrap(),
        h.get_next_key(None).unwrap()
    );
}

#[test]
fn hash_value_survives_delete_while_guard_held() {
    let h = new(MapType::Hash, 4, 8, 4);
    h.update_host(&k32(1), &11u64.to_ne_bytes(), BPF_ANY)
        .unwrap();
    let guard = rcu_read_lock();
    let p = h.lookup_ptr(&k32(1), 0, &guard).unwrap().unwrap();
    h.delete_host(&k32(1)).unwrap();
    // Reuse pressure: many inserts and deletes while the pointer is held.
    for i in 0..1000u32 {
        h.update_host(&k32(i % 4 + 2), &[0xee; 8], BPF_ANY).ok();
        h.delete_host(&k32(i % 4 + 2)).ok();
    }
    let mut buf = [0; 8];
    p.read(0, &mut buf).unwrap();
    assert_eq!(
        u64::from_ne_bytes(buf),
        11,
        "detached element keeps its value"
    );
    p.write(0, &[1; 8]).unwrap(); // still writable memory
    drop(guard);
    assert_eq!(errno(h.lookup(&k32(1))), ENOENT);
}

#[test]
fn percpu_hash_program_update_zeroes_other_cpus() {
    let h = create(&MapSpec::new(MapType::PercpuHash, 4, 4, 4), 2).unwrap();
    h.update(&k32(1), &[7; 4], BPF_ANY, 1).unwrap();
    assert_eq!(
        h.lookup(&k32(1)).unwrap(),
        [0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 0, 0, 0, 0]
    );
    h.update(&k32(1), &[9; 4], BPF_EXIST, 0).unwrap();
    assert_eq!(&h.lookup(&k32(1)).unwrap()[..8], &[9, 9, 9, 9, 0, 0, 0, 0]);
    assert_eq!(errno(h.update(&k32(1), &[9; 4], BPF_F_LOCK, 0)), EINVAL);
    assert_eq!(
        errno(h.update(&k32(1), &[9; 4], BPF_ANY, 2)),
        EINVAL,
        "cpu out of range"
    );
}

#[test]
fn lru_evicts_unreferenced_elements_first() {
    let max = 16u32;
    let h = new(MapType::LruHash, 4, 8, max);
    for i in 0..max {
        h.update_host(&k32(i), &[i as u8; 8], BPF_NOEXIST).unwrap();
    }
    let guard = rcu_read_lock();
    for i in 0..max / 2 {
        assert!(h.lookup_ptr(&k32(i), 0, &guard).unwrap().is_some());
    }
    drop(guard);
    // Half a map of new keys: no E2BIG, the unreferenced half goes.
    for i in 100..100 + max / 2 {
        h.update_host(&k32(i), &[1; 8], BPF_ANY).unwrap();
    }
    let keys: std::collections::BTreeSet<Vec<u8>> = h.iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys.len(),
        max as usize,
        "an LRU map stays full, never over"
    );
    for i in 0..max / 2 {
        assert!(
            keys.contains(k32(i).as_slice()),
            "referenced key {i} was evicted"
        );
    }
    for i in max / 2..max {
        assert!(
            !keys.contains(k32(i).as_slice()),
            "unreferenced key {i} survived"
        );
    }
    // NO_COMMON_LRU rounds max_entries up to a multiple of the CPU count.
    let spec = MapSpec::new(MapType::LruHash, 4, 8, 10).with_flags(BPF_F_NO_COMMON_LRU);
    assert_eq!(create(&spec, 3).unwrap().spec().max_entries, 12);
}

// ---------- LPM trie ----------

fn lpm_key(plen: u32, addr: [u8; 4]) -> Vec<u8> {
    let mut k = plen.to_ne_bytes().to_vec();
    k.extend_from_slice(&addr);
    k
}

#[test]
fn lpm_longest_prefix_match() {
    let spec = MapSpec::new(MapType::LpmTrie, 8, 4, 3).with_flags(BPF_F_NO_PREALLOC);
    let t = create(&spec, 1).unwrap();
    t.update_host(&lpm_key(16, [192, 168, 0, 0]), &k32(16), BPF_ANY)
        .unwrap();
    t.update_host(&lpm_key(24, [192, 168, 1, 0]), &k32(24), BPF_ANY)
        .unwrap();
    t.update_host(&lpm_key(0, [0, 0, 0, 0]), &k32(0), BPF_ANY)
        .unwrap();
    let q = |a: [u8; 4]| {
        t.lookup(&lpm_key(32, a))
            .map(|v| u32::from_ne_bytes(v.try_into().unwrap()))
    };
    assert_eq!(q([192, 168, 1, 77]).unwrap(), 24);
    assert_eq!(q([192, 168, 2, 1]).unwrap(), 16);
    assert_eq!(q([10, 0, 0, 1]).unwrap(), 0, "default route");
    // Full: a new prefix gives ENOSPC, replacing an existing one is fine.
    assert_eq!(
        errno(t.update_host(&lpm_key(8, [10, 0, 0, 0]), &k32(8), BPF_ANY)),
        ENOSPC
    );
    t.update_host(&lpm_key(24, [192, 168, 1, 0]), &k32(25), BPF_EXIST)
        .unwrap();
    assert_eq!(
        errno(t.update_host(&lpm_key(24, [192, 168, 1, 0]), &k32(1), BPF_NOEXIST)),
        EEXIST
    );
    assert_eq!(
        errno(t.update_host(&lpm_key(33, [0; 4]), &k32(1), BPF_ANY)),
        EINVAL
    );
    t.delete_host(&lpm_key(24, [192, 168, 1, 0])).unwrap();
    assert_eq!(q([192, 168, 1, 77]).unwrap(), 16);
    assert_eq!(errno(t.delete_host(&lpm_key(24, [192, 168, 1, 0]))), ENOENT);
    t.delete_host(&lpm_key(0, [0; 4])).unwrap();
    assert_eq!(errno(q([10, 0, 0, 1])), ENOENT);
    // Postorder walk: more specific prefixes before their ancestors.
    t.update_host(&lpm_key(24, [192, 168, 1, 0]), &k32(24), BPF_ANY)
        .unwrap();
    assert_eq!(t.get_next_key(None).unwrap(), lpm_key(24, [192, 168, 1, 0]));
    assert_eq!(
        t.get_next_key(Some(&lpm_key(24, [192, 168, 1, 0])))
            .unwrap(),
        lpm_key(16, [192, 168, 0, 0])
    );
    assert_eq!(
        errno(t.get_next_key(Some(&lpm_key(16, [192, 168, 0, 0])))),
        ENOENT
    );
}

// ---------- queue / stack ----------

#[test]
fn queue_and_stack_order_and_overwrite() {
    for (t, pop_order) in [(MapType::Queue, [2u8, 3, 4]), (MapType::Stack, [4u8, 3, 2])] {
        let q = new(t, 0, 1, 3);
        for v in 1..=3u8 {
            q.push(&[v], BPF_ANY).unwrap();
        }
        assert_eq!(errno(q.push(&[9], BPF_ANY)), E2BIG, "{t:?} full");
        assert_eq!(errno(q.push(&[9], BPF_NOEXIST)), EINVAL);
        assert_eq!(errno(q.push(&[9], 3)), EINVAL);
        q.push(&[4], BPF_EXIST).unwrap(); // drops the oldest (1)
        let mut out = [0];
        q.peek(&mut out).unwrap();
        assert_eq!(out[0], pop_order[0], "{t:?} peek");
        for want in pop_order {
            q.pop(&mut out).unwrap();
            assert_eq!(out[0], want, "{t:?} pop order");
        }
        assert_eq!(errno(q.pop(&mut out)), ENOENT);
        assert_eq!(errno(q.peek(&mut out)), ENOENT);
        assert_eq!(errno(q.delete_host(&[])), EINVAL);
        assert_eq!(errno(q.get_next_key(None)), EINVAL);
    }
}

#[test]
fn queue_and_stack_agree_with_a_model_on_multibyte_values() {
    // A list of elements, oldest first, against the map over a pseudo-random sequence of
    // pushes (with and without BPF_EXIST), pops, peeks and dumps.
    for t in [MapType::Queue, MapType::Stack] {
        let (size, max) = (3usize, 5usize);
        let q = new(t, 0, size as u32, max as u32);
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for step in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value: Vec<u8> = (0..size as u8)
                .map(|i| (step as u8).wrapping_add(i * 7))
                .collect();
            let newest = t == MapType::Stack;
            let what = format!("{t:?} step {step}");
            match x % 5 {
                0 | 1 => {
                    let flags = if x.is_multiple_of(2) {
                        BPF_EXIST
                    } else {
                        BPF_ANY
                    };
                    let r = q.push(&value, flags);
                    if model.len() == max && flags == BPF_ANY {
                        assert_eq!(errno(r), E2BIG, "{what}");
                    } else {
                        r.unwrap();
                        if model.len() == max {
                            model.remove(0);
                        }
                        model.push(value);
                    }
                }
                2 | 3 => {
                    let mut out = vec![0u8; size];
                    let pop = x % 5 == 2;
                    let r = if pop {
                        q.pop(&mut out)
                    } else {
                        q.peek(&mut out)
                    };
                    let at = if newest {
                        model.len().checked_sub(1)
                    } else {
                        Some(0)
                    };
                    match at.filter(|_| !model.is_empty()) {
                        None => assert_eq!(errno(r), ENOENT, "{what}"),
                        Some(at) => {
                            r.unwrap();
                            assert_eq!(out, model[at], "{what}");
                            if pop {
                                model.remove(at);
                            }
                        }
                    }
                }
                _ => {
                    let mut dumped: Vec<Vec<u8>> = q.iter().map(|(_, v)| v).collect();
                    if newest {
                        dumped.reverse();
                    }
                    assert_eq!(dumped, model, "{what}: dump");
                }
            }
        }
    }
}

// ---------- ring buffer ----------

fn ring(size: u32) -> MapRef {
    create(&MapSpec::new(MapType::RingBuf, 0, 0, size), 1).unwrap()
}

#[test]
fn ringbuf_record_layout_and_order() {
    let m = ring(4096);
    let rb = m.as_ringbuf().unwrap();
    let guard = rcu_read_lock();
    let a = rb.reserve(5, 0, &guard).unwrap();
    let b = rb.reserve(3, 0, &guard).unwrap();
    assert_eq!(
        b.addr() - a.addr(),
        16,
        "8-byte header + 5 bytes rounded to 8"
    );
    let mut hdr = [0; 8];
    // SAFETY: the header sits right before the sample, inside the ring.
    unsafe { std::ptr::copy_nonoverlapping((a.addr() - 8) as *const u8, hdr.as_mut_ptr(), 8) };
    assert_eq!(
        u32::from_ne_bytes(hdr[..4].try_into().unwrap()),
        5 | BPF_RINGBUF_BUSY_BIT
    );
    assert_eq!(
        u32::from_ne_bytes(hdr[4..].try_into().unwrap()),
        3,
        "page offset from ring start"
    );
    a.write(0, b"hello").unwrap();
    b.write(0, b"abc").unwrap();
    assert_eq!(rb.query(BPF_RB_PROD_POS), 32);
    assert_eq!(rb.query(BPF_RB_AVAIL_DATA), 32);
    assert_eq!(rb.query(BPF_RB_RING_SIZE), 4096);
    assert_eq!(rb.query(99), 0);
    rb.submit(b.addr(), 0).unwrap();
    assert_eq!(
        rb.consume(|_| panic!("a is still busy")),
        0,
        "busy record blocks the consumer"
    );
    rb.discard(a.addr(), 0).unwrap();
    let mut got = Vec::new();
    assert_eq!(rb.consume(|d| got.push(d.to_vec())), 1);
    assert_eq!(got, vec![b"abc".to_vec()], "discarded record skipped");
    assert_eq!(rb.query(BPF_RB_CONS_POS), 32);
    assert!(rb.submit(a.addr(), 0).is_err(), "double commit refused");
    assert!(rb.submit(12345, 0).is_err(), "foreign pointer refused");
    assert_eq!(errno(rb.reserve(1, 1, &guard)), EINVAL);
    assert!(rb.reserve(4096, 0, &guard).is_err(), "larger than the ring");
    assert_eq!(errno(rb.output(b"x", 4)), EINVAL);
}

#[test]
fn ringbuf_full_and_wraparound() {
    let m = ring(4096);
    let rb = m.as_ringbuf().unwrap();
    // 1000-byte samples take 1008 bytes: four fit (4032 < 4096), the fifth does not.
    for i in 0..4u8 {
        rb.output(&[i; 1000], 0).unwrap();
    }
    assert_eq!(errno(rb.output(&[9; 1000], 0)), EAGAIN);
    let mut n = 0;
    rb.consume(|d| {
        assert_eq!(d, &[n as u8; 1000][..]);
        n += 1;
    });
    assert_eq!(n, 4);
    // Many rounds: records straddle the end of the ring and must come back intact.
    for round in 0..50u32 {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + round) as u8).collect();
        rb.output(&data, 0).unwrap();
        let mut seen = 0;
        rb.consume(|d| {
            assert_eq!(d, &data[..], "round {round}");
            seen += 1;
        });
        assert_eq!(seen, 1);
    }
}

#[test]
fn ringbuf_producers_on_threads_and_poll() {
    let m = ring(1 << 14);
    let rb = m.as_ringbuf().unwrap();
    let per_thread = 2000u32;
    let mut received = std::collections::BTreeMap::<u32, u32>::new();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            s.spawn(move || {
                for i in 0..per_thread {
                    let rec = [t.to_ne_bytes(), i.to_ne_bytes()].concat();
                    while rb.output(&rec, 0).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
        }
        let mut total = 0;
        while total < 2 * per_thread {
            total += rb.poll(std::time::Duration::from_millis(50), |d| {
                let t = u32::from_ne_bytes(d[..4].try_into().unwrap());
                let i = u32::from_ne_bytes(d[4..].try_into().unwrap());
                let next = received.entry(t).or_insert(0);
                assert_eq!(i, *next, "per-producer order");
                *next += 1;
            }) as u32;
        }
    });
    assert_eq!(received.values().sum::<u32>(), 2 * per_thread);
}

// ---------- bloom filter ----------

#[test]
fn bloom_no_false_negatives_few_false_positives() {
    let b = new(MapType::BloomFilter, 0, 8, 1000);
    for i in 0..1000u64 {
        b.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    for i in 0..1000u64 {
        b.peek(&mut i.to_ne_bytes()).unwrap();
    }
    let false_pos = (1000..11_000u64)
        .filter(|i| b.peek(&mut i.to_ne_bytes()).is_ok())
        .count();
    // 5 hashes over 8192 bits with 1000 members: about 1% expected.
    assert!(false_pos < 500, "{false_pos} false positives out of 10000");
    assert_eq!(errno(b.push(&[0; 8], BPF_EXIST)), EINVAL);
    assert_eq!(errno(b.peek(&mut [0; 4])), EINVAL, "wrong value size");
    let bf = create(
        &MapSpec::new(MapType::BloomFilter, 0, 4, 10).with_map_extra(3),
        1,
    )
    .unwrap();
    assert!(format!("{bf:?}").contains("nr_hashes: 3"));
}

// ---------- program arrays and maps of maps ----------

#[test]
fn prog_array_slots() {
    let m = new(MapType::ProgArray, 4, 4, 4);
    let pa = m.as_prog_array().unwrap();
    assert_eq!(pa.get(1), None);
    m.update_host(&k32(1), &k32(0), BPF_ANY).unwrap();
    assert_eq!(pa.get(1), Some(0), "id 0 is a valid handle");
    assert_eq!(m.lookup(&k32(1)).unwrap(), k32(0));
    assert_eq!(errno(m.update_host(&k32(1), &k32(5), BPF_EXIST)), EINVAL);
    assert_eq!(errno(m.update_host(&k32(4), &k32(5), BPF_ANY)), E2BIG);
    pa.set(3, 77).unwrap();
    assert_eq!(pa.get(3), Some(77));
    m.delete_host(&k32(3)).unwrap();
    assert_eq!(errno(m.delete_host(&k32(3))), ENOENT);
    assert_eq!(pa.get(9), None);
}

#[test]
fn maps_of_maps_hold_matching_inner_maps() {
    let inner = MapSpec::new(MapType::Hash, 4, 4, 8);
    let outer = create(
        &MapSpec::new(MapType::HashOfMaps, 4, 4, 1).with_inner_map(inner.clone()),
        1,
    )
    .unwrap();
    let mom = outer.as_map_of_maps().unwrap();
    let a = create(&inner, 1).unwrap();
    let other_size = create(&MapSpec::new(MapType::Hash, 4, 4, 9), 1).unwrap();
    assert_eq!(errno(mom.set_inner(&k32(1), other_size, BPF_ANY)), EINVAL);
    mom.set_inner(&k32(1), a.clone(), BPF_NOEXIST).unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &mom.lookup_inner(&k32(1)).unwrap(),
        &a
    ));
    assert_eq!(outer.lookup(&k32(1)).unwrap(), a.id().to_ne_bytes());
    assert_eq!(errno(mom.set_inner(&k32(2), a.clone(), BPF_ANY)), E2BIG);
    assert_eq!(
        errno(mom.set_inner(&k32(1), a.clone(), BPF_NOEXIST)),
        EEXIST
    );
    outer.delete_host(&k32(1)).unwrap();
    assert!(mom.lookup_inner(&k32(1)).is_none());
    // BPF_F_INNER_MAP on the template lets max_entries differ.
    let tmpl = MapSpec::new(MapType::Array, 4, 4, 2).with_flags(BPF_F_INNER_MAP);
    let arr = create(
        &MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2).with_inner_map(tmpl),
        1,
    )
    .unwrap();
    let big = create(
        &MapSpec::new(MapType::Array, 4, 4, 50).with_flags(BPF_F_INNER_MAP),
        1,
    )
    .unwrap();
    arr.as_map_of_maps()
        .unwrap()
        .set_inner(&k32(0), big, BPF_ANY)
        .unwrap();
    assert_eq!(
        errno(create(&MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2), 1)),
        9,
        "EBADF"
    );
}

#[test]
fn map_types_and_raw_creation() {
    for t in MapType::ALL {
        assert_eq!(MapType::from_u32(t as u32), Some(t));
    }
    assert_eq!(
        MapType::from_u32(4),
        None,
        "perf event arrays are not implemented"
    );
    assert_eq!(
        create_raw(4, 4, 4, 1, 0, 1).unwrap_err(),
        MapError::UnknownMapType(4)
    );
    let m = create_raw(1, 4, 4, 1, 0, 1).unwrap();
    assert_eq!(m.spec().map_type, MapType::Hash);
    assert_eq!(
        errno(create(&MapSpec::new(MapType::Hash, 4, 4, 1), 0)),
        EINVAL,
        "no CPUs"
    );
}

#[test]
fn atomics_through_value_pointers() {
    let h = new(MapType::Hash, 4, 8, 4);
    h.update_host(&k32(0), &[0; 8], BPF_ANY).unwrap();
    std::thread::scope(|s| {
        for cpu in 0..2 {
            let h = &h;
            s.spawn(move || {
                for _ in 0..10_000 {
                    let guard = rcu_read_lock();
                    let p = h.lookup_ptr(&k32(0), cpu, &guard).unwrap().unwrap();
                    // SAFETY: 8-aligned, 8-byte value kept alive by the guard.
                    let c = unsafe { &*(p.as_ptr() as *const AtomicU64) };
                    c.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(h.lookup(&k32(0)).unwrap(), 20_000u64.to_ne_bytes());
}

// ---------- direct lookups ----------

#[test]
fn direct_lookups_find_what_lookup_ptr_finds() {
    for (t, direct) in [
        (MapType::Hash, true),
        (MapType::LruHash, true),
        (MapType::PercpuHash, false),
        (MapType::LruPercpuHash, false),
        (MapType::Array, true),
        (MapType::PercpuArray, false),
    ] {
        let array = matches!(t, MapType::Array | MapType::PercpuArray);
        for key_size in [4u32, 8, 12, 16, 64, 65] {
            // Arrays: 6 of 8 indexes written; an index at 8 or more is out of range.
            let max = if array { 6 } else { 16 };
            if array && key_size != 4 {
                continue;
            }
            let m = new(t, key_size, 8, max);
            let lookup = m.direct_lookup();
            assert_eq!(
                lookup.is_some(),
                direct && key_size <= 64,
                "{t:?} with {key_size}-byte keys"
            );
            let Some(lookup) = lookup else { continue };
            let key = |i: u8| -> Vec<u8> {
                match array {
                    true => u32::from(i).to_ne_bytes().to_vec(),
                    false => (0..key_size as u8).map(|b| b ^ i).collect(),
                }
            };
            for i in 0..6 {
                m.update_host(&key(i), &u64::from(i).to_ne_bytes(), BPF_ANY)
                    .unwrap();
            }
            let guard = rcu_read_lock();
            // Keys at every alignment (packet keys need not be aligned).
            let mut buf = vec![0u8; key_size as usize + 8];
            for i in 0..8 {
                for off in 0..8 {
                    buf[off..off + key_size as usize].copy_from_slice(&key(i));
                    // SAFETY: `m` is alive, the key readable and private, the guard held.
                    let found = unsafe { (lookup.lookup)(lookup.map, buf[off..].as_ptr()) };
                    let expected = m
                        .lookup_ptr(&key(i), 0, &guard)
                        .unwrap()
                        .map_or(0, |v| v.addr() as u64);
                    assert_eq!(found, expected, "{t:?}, key {i} at offset {off}");
                    assert_eq!(found != 0, i < 6, "{t:?}, key {i}");
                }
            }
        }
    }
}

#[test]
fn a_replaced_inner_map_lives_while_a_guard_from_before_lives() {
    let mut spec = MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2);
    spec = spec.with_inner_map(MapSpec::new(MapType::Array, 4, 8, 2));
    let outer = create(&spec, 1).unwrap();
    let mom = outer.as_map_of_maps().unwrap();
    let first = new(MapType::Array, 4, 8, 2);
    let weak = std::sync::Arc::downgrade(&first);
    mom.set_inner(&k32(0), first, BPF_ANY).unwrap();
    let guard = rcu_read_lock();
    let cell = mom.inner_cell(&k32(0), &guard).unwrap();
    // Replaced and deleted while the guard lives: the old cell still holds the old map.
    mom.set_inner(&k32(0), new(MapType::Array, 4, 8, 2), BPF_ANY)
        .unwrap();
    mom.delete(&k32(0)).unwrap();
    assert!(mom.inner_cell(&k32(0), &guard).is_none());
    assert!(weak.upgrade().is_some(), "freed under a guard");
    // SAFETY: the cell is retired, not freed, while `guard` lives.
    let old = unsafe { &*cell };
    assert!(std::sync::Arc::ptr_eq(old.map(), &weak.upgrade().unwrap()));
    assert_eq!(
        mom.map_in_cell(cell as u64).map(|_| ()),
        None,
        "no longer stored"
    );
    drop(guard);
}
