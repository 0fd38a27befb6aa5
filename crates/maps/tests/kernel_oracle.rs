//! Differential tests against the running kernel: the same map specs and the same
//! random operation sequences go to a kernel map (through bpf(2)) and to ours; the
//! errno of every operation, every returned value and the final contents must agree.
//! Needs root and a kernel that allows bpf(2); skips with a message otherwise.

#[path = "support/bpf_sys.rs"]
mod bpf_sys;

use bpf_sys::KernelMap;
use bpfkit_maps::map_flags::*;
use bpfkit_maps::{create, Map, MapError, MapSpec, MapType};

fn kernel_or_skip() -> bool {
    match bpf_sys::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipping: kernel oracle unavailable ({why})");
            false
        }
    }
}

/// xorshift64*: deterministic randomness without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

fn errno<T>(r: Result<T, MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno())
}

fn kernel_create(spec: &MapSpec) -> Result<KernelMap, i32> {
    bpf_sys::create(
        spec.map_type as u32,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
        spec.map_extra,
        -1,
    )
}

#[test]
fn creation_checks_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    use MapType::*;
    let s = |t, k, v, m| MapSpec::new(t, k, v, m);
    let cases = vec![
        s(Array, 4, 4, 1),
        s(Array, 8, 4, 1),
        s(Array, 4, 0, 1),
        s(Array, 4, 4, 0),
        s(Array, 4, 4, 1).with_flags(BPF_F_NO_PREALLOC),
        s(Array, 4, 4, 1).with_flags(BPF_F_MMAPABLE),
        s(Array, 4, 4, 1).with_flags(BPF_F_RDONLY | BPF_F_WRONLY),
        s(Array, 4, 4, 1).with_flags(BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG),
        s(Array, 4, 4, 1).with_flags(BPF_F_PRESERVE_ELEMS),
        s(Array, 4, 4, 1).with_map_extra(1),
        s(PercpuArray, 4, 32768, 1),
        s(PercpuArray, 4, 32769, 1),
        s(PercpuArray, 4, 8, 1).with_flags(BPF_F_MMAPABLE),
        s(Hash, 4, 8, 16),
        s(Hash, 0, 8, 16),
        s(Hash, 4, 0, 16),
        s(Hash, 4, 8, 0),
        s(Hash, 4, 8, 16).with_flags(BPF_F_NO_PREALLOC),
        s(Hash, 4, 8, 16).with_flags(BPF_F_NO_COMMON_LRU),
        s(Hash, 4, 8, 16).with_flags(BPF_F_ZERO_SEED),
        s(Hash, 4, 8, 16).with_flags(BPF_F_MMAPABLE),
        s(Hash, 4, 8, 16).with_flags(1 << 5),
        s(Hash, 4, 4_194_300, 1),
        s(Hash, 4, 8, (1 << 31) + 1).with_flags(BPF_F_NO_PREALLOC),
        s(PercpuHash, 4, 32768, 4),
        s(PercpuHash, 4, 32769, 4),
        s(LruHash, 4, 8, 16),
        s(LruHash, 4, 8, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LruHash, 4, 8, 16).with_flags(BPF_F_NO_COMMON_LRU),
        s(LruPercpuHash, 4, 8, 16).with_flags(BPF_F_NO_COMMON_LRU),
        s(LruPercpuHash, 4, 8, 16).with_flags(BPF_F_NUMA_NODE | BPF_F_NO_COMMON_LRU),
        s(LpmTrie, 8, 4, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 8, 4, 16),
        s(LpmTrie, 4, 4, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 5, 4, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 260, 4, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 261, 4, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 8, 0, 16).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 8, 4, 0).with_flags(BPF_F_NO_PREALLOC),
        s(LpmTrie, 8, 4, 16).with_flags(BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED),
        s(Queue, 0, 4, 8),
        s(Queue, 4, 4, 8),
        s(Queue, 0, 0, 8),
        s(Queue, 0, 4, 0),
        s(Queue, 0, 4, 8).with_flags(BPF_F_NO_PREALLOC),
        s(Stack, 0, 4, 8),
        s(Stack, 0, 4_194_305, 1),
        s(RingBuf, 0, 0, 4096),
        s(RingBuf, 0, 0, 8192),
        s(RingBuf, 0, 0, 2048),
        s(RingBuf, 0, 0, 12288),
        s(RingBuf, 4, 0, 4096),
        s(RingBuf, 0, 4, 4096),
        s(RingBuf, 0, 0, 0),
        s(RingBuf, 0, 0, 4096).with_flags(BPF_F_NO_PREALLOC),
        s(BloomFilter, 0, 4, 100),
        s(BloomFilter, 0, 4, 100).with_map_extra(3),
        s(BloomFilter, 0, 4, 100).with_map_extra(16),
        s(BloomFilter, 4, 4, 100),
        s(BloomFilter, 0, 0, 100),
        s(BloomFilter, 0, 4, 0),
        s(BloomFilter, 0, 4, 100).with_flags(BPF_F_ZERO_SEED),
        s(BloomFilter, 0, 4, 100).with_flags(BPF_F_NO_PREALLOC),
        s(ProgArray, 4, 4, 8),
        s(ProgArray, 4, 8, 8),
        s(ProgArray, 4, 4, 8).with_flags(BPF_F_RDONLY_PROG),
        s(ProgArray, 4, 4, 0),
    ];
    let ncpus = bpf_sys::possible_cpus();
    for spec in &cases {
        let kernel = kernel_create(spec).map(drop);
        let ours = errno(create(spec, ncpus)).map(drop);
        assert_eq!(ours, kernel, "BPF_MAP_CREATE result for {spec:?}");
    }
}

#[test]
fn map_in_map_creation_and_updates_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    let ncpus = bpf_sys::possible_cpus();
    let inner = MapSpec::new(MapType::Array, 4, 8, 4);
    let kinner = kernel_create(&inner).unwrap();
    for outer_type in [MapType::ArrayOfMaps, MapType::HashOfMaps] {
        // Missing inner map template: EBADF in the kernel (a descriptor that is not open).
        let bare = MapSpec::new(outer_type, 4, 4, 4);
        let k = bpf_sys::create(outer_type as u32, 4, 4, 4, 0, 0, 9999).map(drop);
        assert_eq!(errno(create(&bare, ncpus)).map(drop), k, "{bare:?}");
        // value_size must be 4.
        let bad = MapSpec::new(outer_type, 4, 8, 4).with_inner_map(inner.clone());
        let k = bpf_sys::create(outer_type as u32, 4, 8, 4, 0, 0, kinner.fd).map(drop);
        assert_eq!(errno(create(&bad, ncpus)).map(drop), k, "{bad:?}");

        let spec = MapSpec::new(outer_type, 4, 4, 2).with_inner_map(inner.clone());
        let kouter = bpf_sys::create(outer_type as u32, 4, 4, 2, 0, 0, kinner.fd).unwrap();
        let outer = create(&spec, ncpus).unwrap();
        let mom = outer.as_map_of_maps().unwrap();
        let ours_inner = create(&inner, ncpus).unwrap();
        let wrong = create(&MapSpec::new(MapType::Array, 4, 8, 5), ncpus).unwrap();
        let kwrong = kernel_create(&MapSpec::new(MapType::Array, 4, 8, 5)).unwrap();
        for (key, flags, good) in [
            (0u32, 0u64, true),
            (0, 1, true),
            (1, 2, true),
            (1, 0, false),
            (5, 0, true),
            (1, 0, true),
            (2, 0, true),
        ] {
            let kkey = key.to_ne_bytes();
            let (kfd, m) = if good {
                (kinner.fd, ours_inner.clone())
            } else {
                (kwrong.fd, wrong.clone())
            };
            let k = kouter.update(&kkey, &kfd.to_ne_bytes(), flags);
            let o = errno(mom.set_inner(&kkey, m, flags));
            assert_eq!(
                o, k,
                "{outer_type:?} set_inner key {key} flags {flags} good {good}"
            );
        }
        for key in [0u32, 1, 2, 7] {
            let k = kouter.lookup(&key.to_ne_bytes(), 4, 0).map(drop);
            let o = errno(outer.lookup(&key.to_ne_bytes())).map(drop);
            assert_eq!(o, k, "{outer_type:?} lookup {key}");
            let k = kouter.delete(&key.to_ne_bytes());
            let o = errno(outer.delete_host(&key.to_ne_bytes()));
            assert_eq!(o, k, "{outer_type:?} delete {key}");
        }
    }
}

/// How to compare get_next_key results.
#[derive(Clone, Copy, PartialEq)]
enum NextKey {
    /// Same iteration order as the kernel: compare keys (arrays, LPM trie).
    Exact,
    /// Order differs by design (hash maps): compare only the errno of a walk start.
    FirstOnlyErrno,
}

struct KeyedCase {
    spec: MapSpec,
    gen_key: fn(&mut Rng) -> Vec<u8>,
    next_key: NextKey,
    lookup_and_delete: bool,
    flags: &'static [u64],
}

fn run_keyed(case: &KeyedCase, seed: u64, nops: usize) {
    let ncpus = bpf_sys::possible_cpus();
    let kmap = kernel_create(&case.spec).expect("kernel map");
    let ours = create(&case.spec, ncpus).expect("our map");
    let vlen = ours.host_value_size();
    let mut rng = Rng(seed);
    // errno of every update (0 = success): the sequence must exercise both outcomes.
    let mut update_results = std::collections::BTreeMap::new();
    for step in 0..nops {
        let key = (case.gen_key)(&mut rng);
        let what = format!("{:?} seed {seed} step {step}", case.spec.map_type);
        match rng.below(10) {
            0..=3 => {
                let value = rng.bytes(vlen);
                let flags = rng.pick(case.flags);
                let k = kmap.update(&key, &value, flags);
                let o = errno(ours.update_host(&key, &value, flags));
                assert_eq!(o, k, "{what}: update {key:?} flags {flags}");
                *update_results.entry(k.err().unwrap_or(0)).or_insert(0) += 1;
            }
            4..=5 => {
                let k = kmap.lookup(&key, vlen, 0);
                let o = errno(ours.lookup(&key));
                assert_eq!(o, k, "{what}: lookup {key:?}");
            }
            6..=7 => {
                let k = kmap.delete(&key);
                let o = errno(ours.delete_host(&key));
                assert_eq!(o, k, "{what}: delete {key:?}");
            }
            8 if case.lookup_and_delete => {
                let k = kmap.lookup_and_delete(&key, vlen);
                let o = errno(ours.lookup_and_delete(&key));
                assert_eq!(o, k, "{what}: lookup_and_delete {key:?}");
            }
            _ => {
                let start = (rng.below(3) != 0).then_some(key);
                if case.next_key == NextKey::Exact || start.is_none() {
                    let k = kmap.get_next_key(start.as_deref());
                    let o = errno(ours.get_next_key(start.as_deref()));
                    if case.next_key == NextKey::Exact {
                        assert_eq!(o, k, "{what}: get_next_key {start:?}");
                    } else {
                        assert_eq!(o.is_ok(), k.is_ok(), "{what}: get_next_key(NULL)");
                    }
                }
            }
        }
    }
    eprintln!(
        "{:?} seed {seed}: update errno counts {update_results:?}",
        case.spec.map_type
    );
    assert!(update_results.contains_key(&0) && update_results.len() > 2);
    let mut kernel_contents = kmap.dump(vlen);
    let mut our_contents: Vec<_> = ours.iter().collect();
    kernel_contents.sort();
    our_contents.sort();
    assert_eq!(
        our_contents, kernel_contents,
        "{:?} seed {seed}: final contents",
        case.spec.map_type
    );
    if case.next_key == NextKey::Exact {
        // Same walk order too.
        let ours_walk: Vec<_> = walk(ours.as_ref());
        let kernel_walk: Vec<_> = kmap.dump(vlen).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            ours_walk, kernel_walk,
            "{:?} seed {seed}: get_next_key walk",
            case.spec.map_type
        );
    }
}

fn walk(map: &dyn Map) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    while let Ok(next) = map.get_next_key(key.as_deref()) {
        keys.push(next.clone());
        key = Some(next);
    }
    keys
}

fn small_u32_key(rng: &mut Rng) -> Vec<u8> {
    (rng.below(24) as u32).to_ne_bytes().to_vec()
}

fn small_6byte_key(rng: &mut Rng) -> Vec<u8> {
    let k = rng.below(40) as u8;
    vec![k, 0, k ^ 0x5a, 1, 2, k]
}

/// IPv4 LPM keys over a few overlapping prefixes, sometimes with an invalid length.
fn lpm_key(rng: &mut Rng) -> Vec<u8> {
    let bases: [[u8; 4]; 6] = [
        [10, 0, 0, 0],
        [10, 1, 0, 0],
        [10, 1, 2, 0],
        [10, 1, 2, 128],
        [192, 168, 1, 1],
        [0, 0, 0, 0],
    ];
    let mut data = rng.pick(&bases);
    if rng.below(4) == 0 {
        data[3] ^= rng.next() as u8;
    }
    let plen: u32 = match rng.below(8) {
        0 => 33,
        1 => rng.below(33) as u32,
        n => [0, 8, 16, 24, 25, 32][n as usize - 2],
    };
    let mut key = plen.to_ne_bytes().to_vec();
    key.extend_from_slice(&data);
    key
}

const ALL_FLAGS: &[u64] = &[0, 0, 0, 1, 1, 2, 2, 3, 4];

#[test]
fn array_maps_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    for (t, vsize) in [(MapType::Array, 12), (MapType::PercpuArray, 6)] {
        let case = KeyedCase {
            spec: MapSpec::new(t, 4, vsize, 16),
            gen_key: small_u32_key,
            next_key: NextKey::Exact,
            lookup_and_delete: false,
            flags: ALL_FLAGS,
        };
        for seed in 1..=4 {
            run_keyed(&case, seed, 400);
        }
    }
}

#[test]
fn hash_maps_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    for (t, flags) in [
        (MapType::Hash, 0),
        (MapType::Hash, BPF_F_NO_PREALLOC),
        (MapType::PercpuHash, 0),
    ] {
        let case = KeyedCase {
            spec: MapSpec::new(t, 6, 12, 16).with_flags(flags),
            gen_key: small_6byte_key,
            next_key: NextKey::FirstOnlyErrno,
            lookup_and_delete: true,
            flags: ALL_FLAGS,
        };
        for seed in 1..=4 {
            run_keyed(&case, seed * 7919, 500);
        }
    }
}

#[test]
fn lru_hash_maps_match_kernel_without_eviction() {
    if !kernel_or_skip() {
        return;
    }
    // The kernel's LRU lists are per CPU; stay on one CPU and below its local batch
    // (128 free nodes), so neither implementation evicts and contents must agree.
    std::thread::spawn(|| {
        bpf_sys::pin_to_cpu(0);
        for t in [MapType::LruHash, MapType::LruPercpuHash] {
            let case = KeyedCase {
                spec: MapSpec::new(t, 4, 8, 256),
                gen_key: small_u32_key,
                next_key: NextKey::FirstOnlyErrno,
                lookup_and_delete: true,
                flags: ALL_FLAGS,
            };
            for seed in 1..=3 {
                run_keyed(&case, seed * 104_729, 400);
            }
        }
    })
    .join()
    .unwrap();
}

#[test]
fn lpm_trie_matches_kernel() {
    if !kernel_or_skip() {
        return;
    }
    let case = KeyedCase {
        spec: MapSpec::new(MapType::LpmTrie, 8, 4, 12).with_flags(BPF_F_NO_PREALLOC),
        gen_key: lpm_key,
        next_key: NextKey::Exact,
        lookup_and_delete: false,
        flags: &[0, 0, 0, 1, 1, 2, 2, 3],
    };
    for seed in 1..=8 {
        run_keyed(&case, seed * 31337, 500);
    }
}

#[test]
fn queue_and_stack_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    let ncpus = bpf_sys::possible_cpus();
    for t in [MapType::Queue, MapType::Stack] {
        for seed in 1..=4u64 {
            let spec = MapSpec::new(t, 0, 6, 5);
            let kmap = kernel_create(&spec).unwrap();
            let ours = create(&spec, ncpus).unwrap();
            let mut rng = Rng(seed * 65537);
            for step in 0..400 {
                let what = format!("{t:?} seed {seed} step {step}");
                match rng.below(6) {
                    0..=2 => {
                        let value = rng.bytes(6);
                        let flags = rng.pick(&[0, 0, 2, 2, 1, 3, 4]);
                        let k = kmap.update(&[], &value, flags);
                        let o = errno(ours.update_host(&[], &value, flags));
                        assert_eq!(o, k, "{what}: push flags {flags}");
                    }
                    3 => {
                        let k = kmap.lookup(&[], 6, 0);
                        assert_eq!(errno(ours.lookup(&[])), k, "{what}: peek");
                    }
                    4 => {
                        let k = kmap.lookup_and_delete(&[], 6);
                        assert_eq!(errno(ours.lookup_and_delete(&[])), k, "{what}: pop");
                    }
                    _ => {
                        let k = kmap.delete(&[]);
                        assert_eq!(errno(ours.delete_host(&[])), k, "{what}: delete");
                        let k = kmap.get_next_key(None).map(drop);
                        assert_eq!(errno(ours.get_next_key(None)).map(drop), k, "{what}: next");
                    }
                }
            }
            loop {
                let k = kmap.lookup_and_delete(&[], 6);
                assert_eq!(errno(ours.lookup_and_delete(&[])), k, "{t:?} final drain");
                if k.is_err() {
                    break;
                }
            }
        }
    }
}

#[test]
fn bloom_filter_agrees_with_kernel_on_members_and_flags() {
    if !kernel_or_skip() {
        return;
    }
    let spec = MapSpec::new(MapType::BloomFilter, 0, 8, 64).with_map_extra(3);
    let kmap = kernel_create(&spec).unwrap();
    let ours = create(&spec, 1).unwrap();
    let mut rng = Rng(99);
    let mut members = Vec::new();
    for _ in 0..64 {
        let v = rng.bytes(8);
        let flags = rng.pick(&[0, 0, 0, 1, 2]);
        let k = kmap.update(&[], &v, flags);
        assert_eq!(
            errno(ours.update_host(&[], &v, flags)),
            k,
            "push flags {flags}"
        );
        if k.is_ok() {
            members.push(v);
        }
    }
    // No false negatives in either implementation.
    for v in &members {
        assert_eq!(kmap.bloom_peek(v), Ok(()));
        assert_eq!(errno(ours.peek(&mut v.clone())), Ok(()));
    }
    // Unsupported operations fail the same way.
    assert_eq!(errno(ours.delete_host(&[])), kmap.delete(&[]));
    assert_eq!(
        errno(ours.get_next_key(None)).map(drop),
        kmap.get_next_key(None).map(drop)
    );
    assert_eq!(
        errno(ours.lookup_and_delete(&[])).map(drop),
        kmap.lookup_and_delete(&[], 8).map(drop)
    );
}

#[test]
fn ringbuf_host_operations_fail_like_kernel() {
    if !kernel_or_skip() {
        return;
    }
    let spec = MapSpec::new(MapType::RingBuf, 0, 0, 4096);
    let kmap = kernel_create(&spec).unwrap();
    let ours = create(&spec, 1).unwrap();
    assert_eq!(
        errno(ours.lookup(&[])).map(drop),
        kmap.lookup(&[], 0, 0).map(drop)
    );
    assert_eq!(
        errno(ours.update_host(&[], &[], 0)),
        kmap.update(&[], &[], 0)
    );
    assert_eq!(errno(ours.delete_host(&[])), kmap.delete(&[]));
    assert_eq!(
        errno(ours.get_next_key(None)).map(drop),
        kmap.get_next_key(None).map(drop)
    );
}

#[test]
fn prog_array_host_errors_match_kernel() {
    if !kernel_or_skip() {
        return;
    }
    // Without real programs only the error paths are comparable: lookups and deletes
    // of empty or out-of-range slots, and walks.
    let spec = MapSpec::new(MapType::ProgArray, 4, 4, 4);
    let kmap = kernel_create(&spec).unwrap();
    let ours = create(&spec, 1).unwrap();
    for key in [0u32, 3, 4, 100] {
        let k = key.to_ne_bytes();
        assert_eq!(
            errno(ours.lookup(&k)).map(drop),
            kmap.lookup(&k, 4, 0).map(drop),
            "lookup {key}"
        );
        assert_eq!(errno(ours.delete_host(&k)), kmap.delete(&k), "delete {key}");
        assert_eq!(
            errno(ours.get_next_key(Some(&k))),
            kmap.get_next_key(Some(&k)),
            "next {key}"
        );
    }
}
