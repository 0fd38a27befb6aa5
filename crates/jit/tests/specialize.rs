//! Specialised helper call sites (`JitProgram::compile_specialized`): an inline array lookup
//! must give what the helper gives. The oracle is the reference interpreter calling a
//! helper that implements the lookup over the same array, at the same address, so r0
//! (often a pointer into the array), the input buffer and the array's bytes afterwards
//! must all be equal.

mod common;

use bpfkit_isa::{Insn, MemSize};
use bpfkit_jit::{CallSites, CompileOptions, JitError, JitProgram, Specialization};
use bpfkit_vm::{
    Access, Config, Exit, HelperCtx, HelperError, HelperReturn, Helpers, MemoryMap, Program,
    VmError,
};

/// One array: `len` values `stride` bytes apart from `base`.
#[derive(Clone, Copy, Debug)]
struct Array {
    base: u64,
    stride: u32,
    len: u32,
}

impl Array {
    fn spec(self) -> Specialization {
        Specialization::IndexedLookup {
            base: self.base,
            stride: self.stride,
            len: self.len,
        }
    }
}

/// Helper 1 (`r1` = array number, `r2` = key pointer) looks the key up in `arrays[r1]`;
/// helper 2 sums `r2` bytes at `r1` (read through the memory map, so a pointer it gets
/// must be in a region); helper 3 returns 7 (for checked code, which must really call).
struct ArrayHelpers {
    arrays: Vec<Array>,
}

impl Helpers for ArrayHelpers {
    fn call(
        &mut self,
        id: i32,
        a: [u64; 5],
        ctx: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        match id {
            1 => {
                let array = self.arrays[a[0] as usize];
                let key = ctx.memory.load_uint(a[1], MemSize::W)?;
                Ok(HelperReturn::Value(if key < array.len as u64 {
                    array.base.wrapping_add(key * array.stride as u64)
                } else {
                    0
                }))
            }
            2 => {
                let bytes = ctx.memory.read_vec(a[0], a[1] as usize)?;
                Ok(HelperReturn::Value(bytes.iter().map(|&b| b as u64).sum()))
            }
            3 => Ok(HelperReturn::Value(7)),
            _ => Err(HelperError::Unknown),
        }
    }

    fn is_known(&self, id: i32) -> bool {
        (1..=3).contains(&id)
    }
}

/// Helpers that must not be called (code whose only helper calls are specialised).
struct NoCalls;

impl Helpers for NoCalls {
    fn call(
        &mut self,
        id: i32,
        _: [u64; 5],
        _: &mut HelperCtx<'_, '_>,
    ) -> Result<HelperReturn, HelperError> {
        panic!("helper {id} called")
    }

    fn is_known(&self, _: i32) -> bool {
        true
    }
}

/// Slot indexes of every `call 1`, specialised for `arrays[r1]`, where the program sets r1
/// with `mov %r1, n` right before (the tests' convention).
fn sites(insns: &[Insn], arrays: &[Array]) -> CallSites {
    let mut sites = CallSites::new();
    let mut pc = 0;
    let mut r1 = None;
    for insn in insns {
        match *insn {
            Insn::Alu {
                dst: bpfkit_isa::Reg::R1,
                src: bpfkit_isa::Operand::Imm(n),
                ..
            } => r1 = Some(n as usize),
            Insn::Call(bpfkit_isa::CallTarget::Helper(1)) => {
                sites.insert(pc, arrays[r1.expect("r1 set before call 1")].spec());
            }
            _ => {}
        }
        pc += insn.slots();
    }
    sites
}

/// What one run did.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    result: Result<Exit, VmError>,
    input: Vec<u8>,
    arrays: Vec<u8>,
}

/// Runs `run` with r1 = a copy of `input`, r2 = its length, the array memory reset to its
/// initial pattern and registered as one region.
fn outcome(
    input: &[u8],
    storage: &mut [u64],
    run: impl FnOnce([u64; 5], &mut MemoryMap<'_>) -> Result<Exit, VmError>,
) -> Outcome {
    for (i, w) in storage.iter_mut().enumerate() {
        *w = 0x0101_0101_0101_0101u64.wrapping_mul(i as u64 + 1);
    }
    let mut input = input.to_vec();
    let result = {
        let mut memory = MemoryMap::new();
        let len = input.len() as u64;
        let addr = memory.add_slice_mut(&mut input);
        // SAFETY: `storage` outlives the memory map and nothing else touches it meanwhile.
        unsafe {
            memory.add_raw(
                storage.as_mut_ptr().cast(),
                storage.len() * 8,
                Access::ReadWrite,
            )
        };
        run([addr, len, 0, 0, 0], &mut memory)
    };
    let arrays = storage.iter().flat_map(|w| w.to_ne_bytes()).collect();
    Outcome {
        result,
        input,
        arrays,
    }
}

fn options(checked: bool, blind_constants: bool) -> CompileOptions {
    CompileOptions {
        checked,
        blind_constants,
        zero_stack: true,
    }
}

/// Runs `text` on the interpreter and as unchecked JIT code with the lookups inline (with
/// and without blinding) over `storage`, on each input; asserts equal outcomes and returns
/// the interpreter's.
fn compare(text: &str, arrays: &[Array], storage: &mut [u64], inputs: &[Vec<u8>]) -> Vec<Outcome> {
    let insns = bpfkit_asm::assemble(text).expect("assembles");
    let prog = Program::load(&insns).unwrap();
    let sites = sites(&insns, arrays);
    assert!(!sites.is_empty());
    let mut out = Vec::new();
    for input in inputs {
        let mut helpers = ArrayHelpers {
            arrays: arrays.to_vec(),
        };
        let config = Config::default();
        let expected = outcome(input, storage, |args, memory| {
            prog.run(args, memory, &mut helpers, &config)
        });
        for blind in [false, true] {
            let jit =
                JitProgram::compile_specialized(&prog, &options(false, blind), &sites).unwrap();
            assert_eq!(jit.specializations(), &sites);
            let got = outcome(input, storage, |args, memory| {
                jit.run(args, memory, &mut helpers, &config)
            });
            let got = Outcome {
                // Unchecked code does not count instructions.
                result: got.result.map(|e| Exit {
                    executed: expected.result.as_ref().map_or(0, |x| x.executed),
                    ..e
                }),
                ..got
            };
            assert_eq!(expected, got, "input {input:?}, blinded: {blind}\n{text}");
        }
        out.push(expected);
    }
    out
}

fn key_inputs(keys: &[u32]) -> Vec<Vec<u8>> {
    keys.iter()
        .map(|k| {
            let mut v = k.to_ne_bytes().to_vec();
            v.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
            v
        })
        .collect()
}

/// An array of 8 values of 16 bytes over `storage` (16 words).
fn eight_values(storage: &[u64]) -> Array {
    assert_eq!(storage.len(), 16);
    Array {
        base: storage.as_ptr() as u64,
        stride: 16,
        len: 8,
    }
}

/// The second word of value `key` of [`eight_values`] as [`outcome`] fills it, or 0xdead
/// (what the tests return for NULL) past the end.
fn second_word(key: u32) -> u64 {
    match key < 8 {
        true => 0x0101_0101_0101_0101u64.wrapping_mul(2 * key as u64 + 2),
        false => 0xdead,
    }
}

#[test]
fn lookups_in_and_out_of_range_match_the_helper() {
    let mut storage = vec![0u64; 8 * 2];
    let arrays = [eight_values(&storage)];
    // Key at r10-4 (as compilers put it), r0 = the value's second word, or 0xdead for NULL.
    let text = "
        ldxw %r6, [%r1]
        stxw [%r10-4], %r6
        mov %r1, 0
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, null
        ldxdw %r0, [%r0+8]
        exit
    null:
        mov %r0, 0xdead
        exit
    ";
    let keys = [0, 1, 7, 8, 9, 0x7fff_ffff, 0x8000_0000, u32::MAX];
    let results = compare(text, &arrays, &mut storage, &key_inputs(&keys));
    // The oracle's own results: in range the pattern word 2k+1 (0-based), else NULL.
    for (key, r) in keys.iter().zip(&results) {
        assert_eq!(r.result.as_ref().unwrap().r0, second_word(*key));
    }
}

/// The null checks compilers emit after a lookup (`found`: r0 = the value's second word;
/// `null`: r0 = 0xdead), as 64-bit compares of both senses, one over a `ja` (emitted
/// inverted), and a 32-bit compare, which the code must still make.
const NULL_CHECKS: [&str; 4] = [
    "jeq %r0, 0, null\nja found",
    "jne %r0, 0, found\nja null",
    "jne %r0, 0, found\nmov %r0, 0xdead\nexit",
    "jeq32 %r0, 0, null\nja found",
];

#[test]
fn known_keys_and_the_null_checks_after_a_lookup_match_the_helper() {
    let mut storage = vec![0u64; 8 * 2];
    let arrays = [eight_values(&storage)];
    // The key is a constant stored at r10-4 (known at compile time), or read from the
    // input (not known).
    let keys = [0u32, 3, 7, 8, u32::MAX];
    for check in NULL_CHECKS {
        for key in keys.iter().map(|&k| Some(k)).chain([None]) {
            let set_key = match key {
                Some(k) => format!("mov32 %r6, {}", k as i32),
                None => "ldxw %r6, [%r1]".to_string(),
            };
            let text = format!(
                "
                {set_key}
                stxw [%r10-4], %r6
                mov %r1, 0
                mov %r2, %r10
                add %r2, -4
                call 1
                {check}
            null:
                mov %r0, 0xdead
                exit
            found:
                ldxdw %r0, [%r0+8]
                exit
                "
            );
            let inputs = key_inputs(match key {
                Some(_) => &[0],
                None => &keys,
            });
            let results = compare(&text, &arrays, &mut storage, &inputs);
            for (input, r) in inputs.iter().zip(&results) {
                let k = key.unwrap_or(u32::from_ne_bytes(input[..4].try_into().unwrap()));
                assert_eq!(r.result.as_ref().unwrap().r0, second_word(k), "{text}");
            }
            // With the key known, the code does not compare it.
            let insns = bpfkit_asm::assemble(&text).unwrap();
            let prog = Program::load(&insns).unwrap();
            let jit = JitProgram::compile_specialized(
                &prog,
                &options(false, false),
                &sites(&insns, &arrays),
            )
            .unwrap();
            let Some(listing) = common::disassemble(jit.machine_code()) else {
                eprintln!("skipping the code-shape check: objdump not found");
                return;
            };
            let compares = listing.iter().filter(|l| l.starts_with("cmp ")).count();
            let tests = listing.iter().filter(|l| l.starts_with("test ")).count();
            let known = key.is_some();
            let wide = !check.starts_with("jeq32");
            assert_eq!(compares, !known as usize, "{text}");
            // Otherwise the lookup leaves ZF telling whether r0 is 0 (a known key past the
            // end too): only the 32-bit check tests r0 itself.
            assert_eq!(tests, !wide as usize, "{text}");
        }
    }
}

#[test]
fn values_written_through_the_pointer_read_back_and_reach_helpers() {
    let mut storage = vec![0u64; 4 * 3 + 2 * 5];
    let base = storage.as_ptr() as u64;
    let arrays = [
        Array {
            base,
            stride: 24,
            len: 4,
        },
        Array {
            base: base + 4 * 24,
            stride: 40,
            len: 2,
        },
    ];
    // Key at r10-12 from the input's first word (array 0) and its second word (array 1);
    // writes through both pointers, reads back, passes a value to helper 2 (which reads
    // it through the memory map), and checks r1-r5 survived each lookup.
    let text = "
        mov %r9, %r1
        ldxw %r6, [%r1]
        stxw [%r10-12], %r6
        ldxw %r6, [%r1+4]
        stxw [%r10-20], %r6
        mov %r3, 33
        mov %r4, 44
        mov %r5, 55
        mov %r1, 0
        mov %r2, %r10
        add %r2, -12
        call 1
        jne %r3, 33, bad
        jne %r4, 44, bad
        jne %r5, 55, bad
        mov %r7, %r2
        sub %r7, %r10
        jne %r7, -12, bad
        mov %r6, %r0
        mov %r1, 1
        mov %r2, %r10
        add %r2, -20
        call 1
        jne %r1, 1, bad
        mov %r7, %r0
        mov %r0, 0
        jeq %r6, 0, second
        stdw [%r6+8], 0x1234
        ldxdw %r0, [%r6+8]
        stxb [%r9+4], %r0
        mov %r1, %r6
        mov %r2, 24
        call 2
        stxdw [%r6+16], %r0
    second:
        jeq %r7, 0, out
        ldxdw %r8, [%r7+32]
        add %r8, 1
        stxdw [%r7], %r8
        mov %r1, %r7
        mov %r2, 40
        call 2
        add %r0, %r8
    out:
        exit
    bad:
        mov %r0, -1
        exit
    ";
    let mut inputs = Vec::new();
    for a in [0u32, 1, 3, 4, 100] {
        for b in [0u32, 1, 2, u32::MAX] {
            let mut v = a.to_ne_bytes().to_vec();
            v.extend_from_slice(&b.to_ne_bytes());
            inputs.push(v);
        }
    }
    let results = compare(text, &arrays, &mut storage, &inputs);
    assert!(results
        .iter()
        .all(|r| r.result.as_ref().unwrap().r0 != u64::MAX));
    // Some inputs wrote into the arrays, others found nothing.
    let untouched = &results[inputs.len() - 1];
    assert!(results.iter().any(|r| r.arrays != untouched.arrays));
}

#[test]
fn every_stride_and_bound_gives_the_helpers_address() {
    // The program returns the pointer without using it: addresses may lie far beyond any
    // memory, which exercises every way the emitter scales the index.
    let text = "
        ldxw %r6, [%r1]
        stxw [%r10-8], %r6
        mov %r1, 0
        mov %r2, %r10
        add %r2, -8
        call 1
        exit
    ";
    let mut storage = vec![0u64; 1];
    let keys = [
        0,
        1,
        2,
        5,
        1000,
        0x7fff_ffff,
        0x8000_0000,
        u32::MAX - 1,
        u32::MAX,
    ];
    for stride in [
        0,
        1,
        2,
        3,
        4,
        8,
        12,
        16,
        24,
        64,
        4096,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        u32::MAX,
    ] {
        for len in [0, 1, 2, 1001, 0x8000_0000, u32::MAX] {
            let arrays = [Array {
                base: 0xffff_8000_1234_5000,
                stride,
                len,
            }];
            let results = compare(text, &arrays, &mut storage, &key_inputs(&keys));
            for (key, r) in keys.iter().zip(&results) {
                let r0 = r.result.as_ref().unwrap().r0;
                let want = if *key < len {
                    arrays[0].base.wrapping_add(*key as u64 * stride as u64)
                } else {
                    0
                };
                assert_eq!(r0, want, "stride {stride}, len {len}, key {key}");
            }
        }
    }
}

#[test]
fn only_unchecked_code_honours_specialisations() {
    // Helper 3 returns 7; the site claims an array at 0x1000 (key 0: r0 = 0x1000).
    let text = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\ncall 3\nexit\n";
    let prog = Program::load(&bpfkit_asm::assemble(text).unwrap()).unwrap();
    let mut sites = CallSites::new();
    let spec = Specialization::IndexedLookup {
        base: 0x1000,
        stride: 8,
        len: 1,
    };
    sites.insert(3, spec);
    let run = |checked: bool| {
        let jit = JitProgram::compile_specialized(&prog, &options(checked, false), &sites).unwrap();
        let r0 = jit.run(
            [0; 5],
            &mut MemoryMap::new(),
            &mut ArrayHelpers { arrays: Vec::new() },
            &Config::default(),
        );
        (r0.unwrap().r0, jit.specializations().len())
    };
    assert_eq!(run(true), (7, 0));
    assert_eq!(run(false), (0x1000, 1));
}

#[test]
fn code_whose_only_calls_are_specialised_calls_no_helper() {
    let mut storage = vec![5u64, 6, 7];
    let array = Array {
        base: storage.as_mut_ptr() as u64,
        stride: 8,
        len: 3,
    };
    let text = "
        stw [%r10-4], 2
        mov %r1, 0
        mov %r2, %r10
        add %r2, -4
        call 1
        ldxdw %r0, [%r0]
        exit
    ";
    let insns = bpfkit_asm::assemble(text).unwrap();
    let prog = Program::load(&insns).unwrap();
    let jit =
        JitProgram::compile_specialized(&prog, &options(false, false), &sites(&insns, &[array]))
            .unwrap();
    let exit = jit.run(
        [0; 5],
        &mut MemoryMap::new(),
        &mut NoCalls,
        &Config::default(),
    );
    assert_eq!(exit.unwrap().r0, 7);
    drop(storage);
}

#[test]
fn specialising_anything_but_a_helper_call_is_refused() {
    let text = "mov %r0, 0\ncall 1\nlddw %r1, 5\nexit\n";
    let prog = Program::load(&bpfkit_asm::assemble(text).unwrap()).unwrap();
    let spec = Specialization::IndexedLookup {
        base: 0,
        stride: 8,
        len: 1,
    };
    for pc in [0, 3, 4, 9] {
        let mut sites = CallSites::new();
        sites.insert(pc, spec);
        let err =
            JitProgram::compile_specialized(&prog, &options(false, false), &sites).unwrap_err();
        assert!(
            matches!(err, JitError::Unsupported { pc: p, .. } if p == pc),
            "pc {pc}: {err}"
        );
    }
    let mut sites = CallSites::new();
    sites.insert(1, spec);
    assert!(JitProgram::compile_specialized(&prog, &options(false, false), &sites).is_ok());
}
