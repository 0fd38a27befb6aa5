//! Array lookups inlined into unchecked JIT code: which call sites qualify, and that value
//! pointers the inline code produces work wherever the helper's would (in later helper
//! calls, also after a tail call from a program on another engine).
//!
//! Oracles: the interpreter, which always calls the helper (the corpus test `xdp_inline`
//! ties its results, and the JIT's, to the kernel's), and the call sites' own structure.

mod common;

use bpfkit_isa::{AluOp, CallTarget, Insn, JmpCond, MemSize, Operand, Reg, Width};
use bpfkit_object::{ld_map, MapDef, MapType, ObjectBuilder, ProgType, ProgramSection};
use bpfkit_runtime::{Engine, LoadedObject, Runtime, TestRun, Verification};

fn mov(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

fn add(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Imm(imm),
    }
}

fn call(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}

/// `if r0 == 0 goto +off`.
fn if_null(off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W64,
        cond: JmpCond::Eq,
        dst: Reg::R0,
        src: Operand::Imm(0),
        off,
    }
}

fn store_w(dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::St {
        size: MemSize::W,
        dst,
        off,
        imm,
    }
}

#[test]
fn corpus_lookups_are_inlined_except_where_the_map_depends_on_the_path() {
    let path = common::corpus_dir().join("xdp_inline.o");
    // Call sites of `bpf_map_lookup_elem` in xdp_inline.o (llvm-objdump): 23 (vals), 30 and
    // 78 (sums), 94 (evens or odds, chosen by a branch just before: a call through the map
    // pointer); 72 is `bpf_csum_diff`, a direct call of the pure helper; 55 and 66
    // `bpf_map_update_elem`, direct calls of the helper's body with the run's helpers.
    let ways = [
        (
            Engine::Jit,
            Verification::Verify,
            vec![23, 30, 72, 78],
            vec![55, 66],
            vec![94],
        ),
        (
            Engine::Jit,
            Verification::Unverified,
            vec![],
            vec![],
            vec![],
        ),
        (
            Engine::Interpreter,
            Verification::Verify,
            vec![],
            vec![],
            vec![],
        ),
    ];
    for (engine, verification, sites, host, indirect) in ways {
        let loaded = Runtime::new()
            .engine(engine)
            .verification(verification)
            .load_file(&path)
            .unwrap();
        let prog = loaded.program(Some("xdp_inline")).unwrap();
        assert_eq!(
            prog.inlined_call_sites(),
            sites,
            "{engine:?} {verification:?}"
        );
        assert_eq!(prog.host_call_sites(), host, "{engine:?} {verification:?}");
        assert_eq!(
            prog.plain_call_sites(),
            Vec::<usize>::new(),
            "{engine:?} {verification:?}"
        );
        assert_eq!(
            prog.indirect_call_sites(),
            indirect,
            "{engine:?} {verification:?}"
        );
    }
}

/// `bpf_map_update_elem(copy, <the key at r10 - 4>, r0, 0)`: copies the value r0 points at
/// into map `copy` under the key the program looked it up with (six instructions).
fn copy_value(copy: usize) -> [Insn; 6] {
    [
        mov(Reg::R3, Operand::Reg(Reg::R0)),
        ld_map(Reg::R1, copy),
        mov(Reg::R2, Operand::Reg(Reg::R10)),
        add(Reg::R2, -4),
        mov(Reg::R4, Operand::Imm(0)),
        call(2),
    ]
}

/// Maps: `arr` (ARRAY, 4 values of 12 bytes), `copy` (HASH of the same values), `jump`
/// (PROG_ARRAY). Programs:
/// - `target`: looks key 2 up in `arr` (a site that qualifies), writes 0x11223344 and
///   0x55667788 into the value's first and last words, copies the value into `copy` with
///   `bpf_map_update_elem` (the helper reads it through the pointer), returns 2 (3 if the
///   lookup failed);
/// - `entry`: tail-calls `jump[0]` (`target` once installed), else returns 1;
/// - `branchy`: as `target` with key 3, but the lookup is a jump target (a jump to the
///   next instruction right before it), so its r1 is not provably `arr`: not inlined.
fn object() -> bpfkit_object::Object {
    let mut b = ObjectBuilder::new("GPL");
    let arr = b.add_map(MapDef::new("arr", MapType::Array, 4, 12, 4));
    let copy = b.add_map(MapDef::new("copy", MapType::Hash, 4, 12, 8));
    let jump = b.add_map(MapDef::new("jump", MapType::ProgArray, 4, 4, 1));
    let xdp = || ProgramSection::for_type(ProgType::Xdp);
    let lookup_and_copy = |key: i32, branchy: bool| {
        let mut insns = vec![
            store_w(Reg::R10, -4, key),
            ld_map(Reg::R1, arr),
            mov(Reg::R2, Operand::Reg(Reg::R10)),
            add(Reg::R2, -4),
        ];
        if branchy {
            insns.push(mov(Reg::R3, Operand::Imm(5)));
            insns.push(Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R3,
                src: Operand::Imm(0),
                off: 0,
            });
        }
        insns.extend([
            call(1),
            if_null(11),
            store_w(Reg::R0, 0, 0x1122_3344),
            store_w(Reg::R0, 8, 0x5566_7788),
        ]);
        insns.extend(copy_value(copy));
        insns.extend([
            mov(Reg::R0, Operand::Imm(2)),
            Insn::Exit,
            mov(Reg::R0, Operand::Imm(3)),
            Insn::Exit,
        ]);
        insns
    };
    b.add_program("target", xdp(), lookup_and_copy(2, false));
    b.add_program(
        "entry",
        xdp(),
        vec![
            ld_map(Reg::R2, jump),
            mov(Reg::R3, Operand::Imm(0)),
            call(12),
            mov(Reg::R0, Operand::Imm(1)),
            Insn::Exit,
        ],
    );
    b.add_program("branchy", xdp(), lookup_and_copy(3, true));
    b.build().unwrap()
}

fn copied(loaded: &LoadedObject, key: u32) -> Option<Vec<u8>> {
    loaded.map("copy").unwrap().lookup(&key.to_ne_bytes()).ok()
}

#[test]
fn inline_value_pointers_reach_helpers_also_after_a_tail_call_from_another_engine() {
    let packet = [0u8; 64];
    let mut value = Vec::new();
    value.extend_from_slice(&0x1122_3344u32.to_ne_bytes());
    value.extend_from_slice(&[0; 4]);
    value.extend_from_slice(&0x5566_7788u32.to_ne_bytes());
    // (engine of `entry`, engine of the others): on the interpreter everything calls the
    // helper (the oracle); `entry` on the interpreter tail-calling inlined JIT code needs
    // the arrays registered although the program the run starts with inlines nothing.
    for (entry_engine, engine) in [
        (Engine::Interpreter, Engine::Interpreter),
        (Engine::Interpreter, Engine::Jit),
        (Engine::Jit, Engine::Jit),
    ] {
        let what = format!("entry on {entry_engine:?}, the others on {engine:?}");
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .program_engine("entry", entry_engine)
            .load(object())
            .unwrap();
        loaded.set_prog_array_slot("jump", 0, "target").unwrap();
        let (target, entry, branchy) = (
            loaded.program(Some("target")).unwrap(),
            loaded.program(Some("entry")).unwrap(),
            loaded.program(Some("branchy")).unwrap(),
        );
        // The lookup is at pc 5 (after a store, a two-slot lddw, a mov and an add).
        let inlined: Vec<usize> = if engine == Engine::Jit {
            vec![5]
        } else {
            vec![]
        };
        assert_eq!(target.inlined_call_sites(), inlined, "{what}");
        // The tail call at pc 3 reads the program array inline in JIT code.
        let entry_sites: Vec<usize> = if entry_engine == Engine::Jit {
            vec![3]
        } else {
            vec![]
        };
        assert_eq!(entry.inlined_call_sites(), entry_sites, "{what}");
        assert_eq!(branchy.inlined_call_sites(), Vec::<usize>::new(), "{what}");

        let out = entry.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 2, "{what}");
        assert_eq!(copied(&loaded, 2).as_deref(), Some(&value[..]), "{what}");
        assert_eq!(
            loaded
                .map("arr")
                .unwrap()
                .lookup(&2u32.to_ne_bytes())
                .unwrap(),
            value,
            "{what}"
        );

        assert_eq!(copied(&loaded, 3), None, "{what}");
        let out = branchy.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 2, "{what}");
        assert_eq!(copied(&loaded, 3).as_deref(), Some(&value[..]), "{what}");

        // Run directly too, repeated (the regions are registered once for all repeats).
        let out = target.test_run(&TestRun::new(&packet).repeat(5)).unwrap();
        assert_eq!(out.retval, 2, "{what}");

        // The inline tail call reads the slot at every call: emptied, the call fails and
        // the entry goes on (r0 = 1); filled again, it jumps again.
        let jump = loaded.map("jump").unwrap();
        jump.delete(&0u32.to_ne_bytes()).unwrap();
        let out = entry.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 1, "{what}: slot emptied");
        loaded.set_prog_array_slot("jump", 0, "target").unwrap();
        let out = entry.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 2, "{what}: slot filled again");
    }
}

/// `r0 = *(u32 *)(r10 + off)`.
fn load_stack_w(off: i16) -> Insn {
    Insn::Ldx {
        size: MemSize::W,
        signed: false,
        dst: Reg::R0,
        src: Reg::R10,
        off,
    }
}

/// Programs over a hash map `h` (key 1 holds a value the host puts there) whose lookups
/// unchecked code calls directly, or not (`kept` instead of `per_cpu` with `probe_read`):
/// - `direct`: copies the value found into `copy` with `bpf_map_update_elem` (the value
///   pointer as a verified argument), returns 2;
/// - `kept`: reads the value with `bpf_probe_read_kernel` (a pointer no verifier checks,
///   looked up in the run's memory map), returns its low word (7 if the read failed);
/// - `per_cpu`: looks up a per-CPU hash, whose lookup needs the CPU: returns 2 if found.
fn hash_object(probe_read: bool) -> bpfkit_object::Object {
    let mut b = ObjectBuilder::new("GPL");
    let h = b.add_map(MapDef::new("h", MapType::Hash, 4, 8, 4));
    let copy = b.add_map(MapDef::new("copy", MapType::Hash, 4, 8, 4));
    let pc = b.add_map(MapDef::new("pc", MapType::PercpuHash, 4, 8, 4));
    let xdp = || ProgramSection::for_type(ProgType::Xdp);
    let lookup = |map| {
        vec![
            store_w(Reg::R10, -4, 1),
            ld_map(Reg::R1, map),
            mov(Reg::R2, Operand::Reg(Reg::R10)),
            add(Reg::R2, -4),
            call(1),
        ]
    };
    let mut direct = lookup(h);
    direct.push(if_null(9));
    direct.extend(copy_value(copy));
    direct.extend([
        mov(Reg::R0, Operand::Imm(2)),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ]);
    let mut kept = lookup(h);
    kept.extend([
        if_null(10),
        mov(Reg::R3, Operand::Reg(Reg::R0)),
        mov(Reg::R1, Operand::Reg(Reg::R10)),
        add(Reg::R1, -16),
        mov(Reg::R2, Operand::Imm(8)),
        call(113),
        Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Ne,
            dst: Reg::R0,
            src: Operand::Imm(0),
            off: 2,
        },
        load_stack_w(-16),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(7)),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ]);
    let mut per_cpu = lookup(pc);
    per_cpu.extend([
        if_null(2),
        mov(Reg::R0, Operand::Imm(2)),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ]);
    b.add_program("direct", xdp(), direct);
    if probe_read {
        b.add_program("kept", xdp(), kept);
    } else {
        b.add_program("per_cpu", xdp(), per_cpu);
    }
    b.build().unwrap()
}

#[test]
fn hash_lookups_are_direct_calls_unless_the_object_reads_unchecked_pointers() {
    let packet = [0u8; 64];
    let value = 0x0bad_cafe_1234_5678u64.to_ne_bytes();
    let key = 1u32.to_ne_bytes();
    for engine in [Engine::Interpreter, Engine::Jit] {
        let load = |probe_read| {
            let loaded = Runtime::new()
                .ncpus(1)
                .engine(engine)
                .load(hash_object(probe_read))
                .unwrap();
            loaded
                .map("h")
                .unwrap()
                .update_host(&key, &value, 0)
                .unwrap();
            loaded
        };
        let (plain, kept) = (load(false), load(true));
        let map = |name| plain.map(name).unwrap();
        let program = |name| plain.program(Some(name)).unwrap();
        let jit = |sites: Vec<usize>| if engine == Engine::Jit { sites } else { vec![] };
        // Each program's lookup is at pc 5 (a store, a two-slot lddw, a mov and an add):
        // direct for the hash map; the update after it (pc 13) a direct call of the
        // helper's body, and the per-CPU lookup a plain helper call. In the object with
        // `probe_read` every lookup must register its value, so it stays a full call.
        assert_eq!(program("direct").inlined_call_sites(), jit(vec![5]));
        assert_eq!(program("direct").host_call_sites(), jit(vec![13]));
        assert_eq!(program("direct").plain_call_sites(), Vec::<usize>::new());
        assert_eq!(program("per_cpu").inlined_call_sites(), Vec::<usize>::new());
        assert_eq!(program("per_cpu").plain_call_sites(), jit(vec![5]));
        // The same `direct` next to `kept` keeps its lookup a full call too: a value it
        // found could reach `kept`'s read (through a map, in a privileged program).
        let next_to_kept = kept.program(Some("direct")).unwrap();
        assert_eq!(next_to_kept.inlined_call_sites(), Vec::<usize>::new());
        assert_eq!(next_to_kept.host_call_sites(), jit(vec![13]));
        let kept = kept.program(Some("kept")).unwrap();
        assert_eq!(kept.inlined_call_sites(), Vec::<usize>::new());
        assert_eq!(kept.plain_call_sites(), Vec::<usize>::new());

        // The directly found value, never registered in the memory map, reaches the
        // update helper as a trusted argument.
        let out = program("direct").test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 2, "{engine:?}");
        assert_eq!(map("copy").lookup(&key).unwrap(), value, "{engine:?}");
        // A missing key gives NULL through the direct call too.
        map("h").delete(&key).unwrap();
        let out = program("direct").test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 0, "{engine:?}: key deleted");

        // `bpf_probe_read_kernel` finds the value the helper registered.
        let out = kept.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 0x1234_5678, "{engine:?}");
        let out = program("per_cpu").test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 0, "{engine:?}");
        // One CPU: the host's value is one 8-byte slot.
        map("pc").update_host(&key, &value, 0).unwrap();
        let out = program("per_cpu").test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 2, "{engine:?}: per-CPU value found");
    }
}

/// `outer`, an array of maps (inner template: `inner`, two 8-byte values under 4-byte
/// keys), and the program `through_outer`: looks up `outer[0]` (directly in unchecked code:
/// the result is the inner map's cell), then key 1 in the inner map (through that cell),
/// adds 5 to the value and returns it (1 if `outer[0]` is empty, 2 if key 1 is missing).
fn outer_object(inner: MapType) -> bpfkit_object::Object {
    let mut b = ObjectBuilder::new("GPL");
    let mut outer = MapDef::new("outer", MapType::ArrayOfMaps, 4, 4, 2);
    outer.inner = Some(Box::new(MapDef::new("", inner, 4, 8, 2)));
    let outer = b.add_map(outer);
    let insns = vec![
        store_w(Reg::R10, -4, 0),
        ld_map(Reg::R1, outer),
        mov(Reg::R2, Operand::Reg(Reg::R10)),
        add(Reg::R2, -4),
        call(1),
        if_null(13),
        store_w(Reg::R10, -8, 1),
        mov(Reg::R1, Operand::Reg(Reg::R0)),
        mov(Reg::R2, Operand::Reg(Reg::R10)),
        add(Reg::R2, -8),
        call(1),
        if_null(5),
        Insn::Ldx {
            size: MemSize::DW,
            signed: false,
            dst: Reg::R1,
            src: Reg::R0,
            off: 0,
        },
        add(Reg::R1, 5),
        Insn::Stx {
            size: MemSize::DW,
            dst: Reg::R0,
            src: Reg::R1,
            off: 0,
        },
        mov(Reg::R0, Operand::Reg(Reg::R1)),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(2)),
        Insn::Exit,
        mov(Reg::R0, Operand::Imm(1)),
        Insn::Exit,
    ];
    b.add_program(
        "through_outer",
        ProgramSection::for_type(ProgType::Xdp),
        insns,
    );
    b.build().unwrap()
}

#[test]
fn inner_maps_the_host_made_are_reached_through_their_cells() {
    let packet = [0u8; 64];
    // Inner arrays and hashes have a direct lookup in their cells, per-CPU arrays none
    // (the JIT code takes the plain helper call then).
    let inner_types = [MapType::Array, MapType::Hash, MapType::PercpuArray];
    for ((engine, verification), inner_type) in [
        (Engine::Interpreter, Verification::Verify),
        (Engine::Jit, Verification::Verify),
        (Engine::Jit, Verification::Unverified),
    ]
    .into_iter()
    .flat_map(|way| inner_types.map(|t| (way, t)))
    {
        let what = format!("{engine:?} {verification:?} {inner_type:?}");
        let loaded = Runtime::new()
            .ncpus(1)
            .engine(engine)
            .verification(verification)
            .load(outer_object(inner_type))
            .unwrap();
        let program = loaded.program(Some("through_outer")).unwrap();
        let out = program.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 1, "{what}: empty outer slot");
        // An inner map only the host knows (no handle of the object's).
        let inner_type = bpfkit_maps::MapType::from_u32(inner_type as u32).unwrap();
        let spec = bpfkit_maps::MapSpec::new(inner_type, 4, 8, 2);
        let inner = bpfkit_maps::create(&spec, 1).unwrap();
        inner
            .update_host(&1u32.to_ne_bytes(), &37u64.to_ne_bytes(), 0)
            .unwrap();
        let outer = loaded.map("outer").unwrap().as_map_of_maps().unwrap();
        outer
            .set_inner(&0u32.to_ne_bytes(), inner.clone(), 0)
            .unwrap();
        let out = program.test_run(&TestRun::new(&packet).repeat(3)).unwrap();
        assert_eq!(out.retval, 52, "{what}: 37 + 3 * 5");
        assert_eq!(
            inner.lookup(&1u32.to_ne_bytes()).unwrap(),
            52u64.to_ne_bytes(),
            "{what}"
        );
        // The outer lookup (pc 5) calls the outer map's lookup; the inner one (pc 11) the
        // lookup in the cell the outer one found.
        let unchecked = engine == Engine::Jit && verification == Verification::Verify;
        let sites = |pc| if unchecked { vec![pc] } else { vec![] };
        assert_eq!(program.inlined_call_sites(), sites(5), "{what}");
        assert_eq!(program.indirect_call_sites(), sites(11), "{what}");
    }
}

#[test]
fn ring_buffer_helpers_are_plain_or_direct_calls_in_unchecked_code() {
    // xdp_ringbuf.o (llvm-objdump): reserve at 10 and 65, discard at 45 and 69, submit at
    // 49, output at 59, query at 75 and 80; the program reads through no unchecked
    // pointer, so its reserves register nothing and may be plain too. `bpf_ringbuf_output`
    // cannot fail for a verified program: a direct call of the helper's body.
    let path = common::corpus_dir().join("xdp_ringbuf.o");
    for (engine, verification, plain, host) in [
        (
            Engine::Jit,
            Verification::Verify,
            vec![10, 45, 49, 65, 69, 75, 80],
            vec![59],
        ),
        (Engine::Jit, Verification::Unverified, vec![], vec![]),
        (Engine::Interpreter, Verification::Verify, vec![], vec![]),
    ] {
        let loaded = Runtime::new()
            .engine(engine)
            .verification(verification)
            .load_file(&path)
            .unwrap();
        let prog = loaded.program(Some("xdp_ringbuf")).unwrap();
        let what = format!("{engine:?} {verification:?}");
        assert_eq!(prog.plain_call_sites(), plain, "{what}");
        assert_eq!(prog.host_call_sites(), host, "{what}");
    }
}

#[test]
fn xdp_helpers_are_direct_calls_only_where_every_run_is_an_xdp_run() {
    // `bpf_xdp_adjust_head(ctx, -8)` (pc 1) then `bpf_get_smp_processor_id` (pc 3); r0 =
    // the first result (0: moved). Next to a socket filter, a tail call could bring the
    // XDP program into a run of another kind, where the XDP helper fails: there it stays
    // a plain call (which declines, and the full call reports the failure); the CPU
    // number is a direct call either way.
    let prog = vec![
        mov(Reg::R2, Operand::Imm(-8)),
        call(44),
        mov(Reg::R6, Operand::Reg(Reg::R0)),
        call(8),
        mov(Reg::R0, Operand::Reg(Reg::R6)),
        Insn::Exit,
    ];
    let object = |with_filter: bool| {
        let mut b = ObjectBuilder::new("GPL");
        b.add_program(
            "adjust",
            ProgramSection::for_type(ProgType::Xdp),
            prog.clone(),
        );
        if with_filter {
            let filter = vec![mov(Reg::R0, Operand::Imm(0)), Insn::Exit];
            b.add_program(
                "filter",
                ProgramSection::for_type(ProgType::SocketFilter),
                filter,
            );
        }
        b.build().unwrap()
    };
    let packet = [0u8; 64];
    for (with_filter, host, plain) in [(false, vec![1, 3], vec![]), (true, vec![3], vec![1])] {
        let loaded = Runtime::new().ncpus(1).load(object(with_filter)).unwrap();
        let adjust = loaded.program(Some("adjust")).unwrap();
        assert_eq!(adjust.host_call_sites(), host, "filter {with_filter}");
        assert_eq!(adjust.plain_call_sites(), plain, "filter {with_filter}");
        let out = adjust.test_run(&TestRun::new(&packet)).unwrap();
        assert_eq!(out.retval, 0, "filter {with_filter}");
        assert_eq!(
            out.data_out.len(),
            72,
            "filter {with_filter}: 8 bytes pushed"
        );
    }
}
