//! The code-quality transformations against the reference interpreter (the oracle): loads
//! combined from byte pairs, loops emitted twice, copies in them coalesced, placed loop
//! heads. Each case runs on the interpreter and on checked and unchecked JIT code, which
//! must give the same r0 and memory (or, checked, the same error); cases come with the
//! near misses each transformation must leave alone. Where a case says whether a
//! transformation applies, the unchecked machine code, disassembled by binutils' `objdump`
//! (skipped with a message when absent), must show it applied or not: a transformation that
//! silently stopped applying would otherwise pass every comparison.

mod common;

use bpfkit_isa::Insn;
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::Program;
use common::check::{
    asm, check, check_text, check_zeroing, compiled, count, input, unchecked_listing,
    unchecked_listing_zeroing,
};
use common::disassemble;

/// Checks `body` (then `exit`) with r2 = 0 to 5 against the interpreter; returns the
/// unchecked code of `body` then `exit` with r2 as it comes, disassembled.
fn check_trip_counts(body: &str, mem: &[u8]) -> Option<Vec<String>> {
    for count in 0..=5 {
        let text = format!("mov %r2, {count}\n{body}\nexit");
        check_text(&text, mem).unwrap_or_else(|e| panic!("{e}: {text}"));
    }
    unchecked_listing(&format!("{body}\nexit"))
}

#[test]
fn combined_byte_loads_match_the_interpreter() {
    // r1 = a 32-byte buffer; each case leaves its value in r0 (r2-r5 hold junk first, so a
    // register the JIT failed to write shows). `r9` is read at the end: a live temporary.
    // (case, combined: whether it must become one 16-bit load)
    let cases = [
        // Big-endian, the checksum's order: high byte loaded second.
        ("ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", true),
        // Big-endian, high byte first; the shift after both loads or between them.
        ("ldxb %r0, [%r1+8]\nldxb %r6, [%r1+9]\nlsh %r0, 8\nor %r0, %r6", true),
        ("ldxb %r0, [%r1+8]\nlsh32 %r0, 8\nldxb %r6, [%r1+9]\nor32 %r0, %r6", true),
        // Little-endian (the high byte at the higher address); joins by + and ^.
        ("ldxb %r6, [%r1+3]\nldxb %r0, [%r1+4]\nlsh %r0, 8\nadd %r0, %r6", true),
        ("ldxb %r0, [%r1+4]\nlsh %r0, 8\nldxb %r6, [%r1+3]\nxor32 %r0, %r6", true),
        // The result in the register of the low byte.
        ("ldxb %r0, [%r1+10]\nldxb %r6, [%r1+11]\nlsh %r6, 8\nor %r0, %r6", true),
        // At a negative offset from a moved pointer, at a large offset, at offset 0.
        ("mov %r7, %r1\nadd %r7, 20\nldxb %r6, [%r7-5]\nldxb %r0, [%r7-6]\nlsh %r0, 8\nor %r0, %r6", true),
        ("mov %r7, %r1\nadd %r7, -1000\nldxb %r6, [%r7+1017]\nldxb %r0, [%r7+1016]\nlsh %r0, 8\nor %r0, %r6", true),
        ("ldxb %r6, [%r1+1]\nldxb %r0, [%r1+0]\nlsh %r0, 8\nor %r0, %r6", true),
        // Through a folded address (r7 = r1 + r4 only addresses the loads), as clang emits.
        ("mov %r4, 6\nmov %r7, %r1\nadd %r7, %r4\nldxb %r6, [%r7+9]\nldxb %r7, [%r7+8]\nlsh %r7, 8\nor %r7, %r6\nmov %r0, %r7", true),
        // The destination is the base of the second load.
        ("mov %r0, %r1\nldxb %r6, [%r0+9]\nldxb %r0, [%r0+8]\nlsh %r0, 8\nor %r0, %r6", true),
        // On the stack.
        ("ldxdw %r6, [%r1+0]\nstxdw [%r10-8], %r6\nldxb %r6, [%r10-3]\nldxb %r0, [%r10-4]\nlsh %r0, 8\nor %r0, %r6", true),
        // Near misses: the temporary is read afterwards.
        ("ldxb %r9, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r9", false),
        // Bytes two apart, the same byte twice, different base registers.
        ("ldxb %r6, [%r1+10]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("ldxb %r6, [%r1+8]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("mov %r7, %r1\nldxb %r6, [%r7+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("mov %r7, %r1\nadd %r7, 1\nldxb %r6, [%r7+8]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6\nadd %r0, %r7", false),
        // The first load overwrites the second's base (different base registers here: with
        // the same one, the second load would read at a byte's value, which faults; the unit
        // tests of `combine` cover that decision).
        ("mov %r6, %r1\nldxb %r6, [%r6+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("mov %r0, %r1\nldxb %r0, [%r0+8]\nlsh %r0, 8\nldxb %r6, [%r1+9]\nor %r0, %r6", false),
        // Another shift, a signed load, a 16-bit load, the join in the wrong register.
        ("ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 7\nor %r0, %r6", false),
        ("ldxb %r6, [%r1+9]\nldxsb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("ldxb %r6, [%r1+9]\nldxh %r0, [%r1+7]\nlsh %r0, 8\nor %r0, %r6", false),
        ("ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r6, %r6\nmov %r0, %r6", false),
        ("ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nsub %r0, %r6", false),
        // A jump target inside the pattern.
        ("ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nja +0\nlsh %r0, 8\nor %r0, %r6", false),
        ("ldxb %r6, [%r1+9]\njeq %r6, 0, l\nl:\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6", false),
        ("mov %r6, 99\nmov %r0, 5\njeq %r2, 32, l\nldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nl:\nlsh %r0, 8\nor %r0, %r6", false),
    ];
    let mem = input(32);
    for (case, combined) in cases {
        let text = format!(
            "mov %r3, -1\nmov %r4, -2\nmov %r5, -3\nmov %r9, 77\n{case}\nmul %r9, 31\nadd %r0, %r9\nexit"
        );
        check_text(&text, &mem).unwrap_or_else(|e| panic!("{e}: {text}"));
        // Combined: two byte loads (`movzbl`) fewer, one 16-bit load (`movzwl`) more.
        let Some(listing) = unchecked_listing(&text) else {
            continue;
        };
        let (bytes, words) = (case.matches("ldxb ").count(), case.matches("ldxh ").count());
        let want = match combined {
            true => (bytes - 2, words + 1),
            false => (bytes, words),
        };
        let got = (
            count(&listing, |l| l.starts_with("movzbl")),
            count(&listing, |l| l.starts_with("movzwl")),
        );
        assert_eq!(got, want, "(byte, 16-bit loads) of {text}:\n{listing:#?}");
    }
    // The values themselves, against the bytes (the oracle above agrees with the JIT; this
    // pins what the oracle computes): buffer bytes 8, 9 are 11 + 37 * 8, 11 + 37 * 9.
    let be = check_text(
        "ldxb %r6, [%r1+9]\nldxb %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r6\nexit",
        &mem,
    );
    assert_eq!(be, Ok(u16::from_be_bytes([mem[8], mem[9]]) as u64));
    let le = check_text(
        "ldxb %r6, [%r1+8]\nldxb %r0, [%r1+9]\nlsh %r0, 8\nor %r0, %r6\nexit",
        &mem,
    );
    assert_eq!(le, Ok(u16::from_le_bytes([mem[8], mem[9]]) as u64));
}

#[test]
fn combined_loads_at_the_end_of_memory_fail_like_the_interpreter() {
    // Checked code keeps the byte loads: a pair whose second byte lies outside the buffer
    // fails at that load with the interpreter's error, and one fully inside works.
    let mem = input(16);
    for (a, b) in [(16, 15), (15, 16), (15, 14), (-1, 0), (0, -1)] {
        let text =
            format!("ldxb %r6, [%r1{a:+}]\nldxb %r0, [%r1{b:+}]\nlsh %r0, 8\nor %r0, %r6\nexit");
        let inside = (0..16).contains(&a) && (0..16).contains(&b);
        let got = check_text(&text, &mem);
        assert_eq!(got.is_ok(), inside, "{text}: {got:?}");
        if !inside {
            let bad = if (0..16).contains(&a) { b } else { a };
            let pc = if bad == a { 0 } else { 1 };
            let err = got.unwrap_err();
            assert!(
                err.starts_with(&format!("insn {pc}: out-of-bounds read of 1 byte")),
                "{text}: {err}"
            );
        }
    }
}

#[test]
fn unrolled_loops_match_the_interpreter() {
    // Single-block loops are emitted twice in unchecked code: every trip count (0 to 5, so
    // both copies are left from), conditions on the flags of the previous operation,
    // 32-bit conditions, bodies with joined pairs, folds and combined loads, and loops that
    // are not single blocks. r2 = the trip count. Each loop body starts with the marker
    // `add %r8, 0x1357`: its x86 form appears twice per loop emitted twice, else once.
    let long = format!(
        "mov %r0, 0\nl:\nadd %r8, 0x1357\n{}sub %r2, 1\njsgt %r2, 0, l",
        "add %r0, %r2\n".repeat(14)
    );
    let loops = [
        // Counting down; the condition reuses the flags of `sub`.
        ("mov %r0, 0\nmov %r4, %r2\njeq %r4, 0, out\nl:\nadd %r8, 0x1357\nadd %r0, %r4\nmul %r0, 3\nsub %r4, 1\njne %r4, 0, l\nout:", 2),
        // Counting up with a 32-bit condition, a body storing to memory.
        ("mov %r0, 0\nmov %r4, 0\nl:\nadd %r8, 0x1357\nmov %r5, %r1\nadd %r5, %r4\nstxb [%r5+0], %r4\nadd32 %r4, 1\njlt32 %r4, %r2, l\nldxdw %r0, [%r1+0]", 2),
        // The checksum's shape: folded address, combined loads, copies at the end.
        ("mov %r0, 0\nmov %r4, 0\nmov %r5, 0\nmov %r3, 0\nl:\nadd %r8, 0x1357\nmov %r0, %r1\nadd %r0, %r4\nldxb %r6, [%r0+1]\nldxb %r0, [%r0+0]\nlsh %r0, 8\nor %r0, %r6\nadd %r0, %r5\nadd %r3, 2\nmov %r6, %r4\nadd %r6, 3\nmov %r4, %r3\nmov %r5, %r0\njlt %r6, %r2, l", 2),
        // Two-instruction body; a loop right after a loop.
        ("mov %r0, 1\nmov %r4, %r2\nl:\nadd %r8, 0x1357\nlsh %r0, 1\njgt %r4, %r0, l\nm:\nadd %r8, 0x1357\nadd %r0, 5\njlt %r0, 40, m", 4),
        // A body with a run of additions and a signed condition.
        ("mov %r0, 0\nmov %r4, %r2\nl:\nadd %r8, 0x1357\nadd %r0, %r4\nadd %r0, %r2\nadd %r0, %r1\nsub %r0, %r1\nsub %r4, 1\njsgt %r4, 0, l", 2),
        // Not single blocks: a jump inside the body; a `goto` back (not conditional).
        ("mov %r0, 0\nmov %r4, %r2\nl:\nadd %r8, 0x1357\njset %r4, 1, odd\nadd %r0, 10\nodd:\nadd %r0, 1\nsub %r4, 1\njsgt %r4, 0, l", 1),
        ("mov %r0, 0\nmov %r4, %r2\nl:\nadd %r8, 0x1357\njeq %r4, 0, out\nadd %r0, %r4\nsub %r4, 1\nja l\nout:", 1),
        // A loop of three instructions.
        ("mov %r0, 0\nl:\nadd %r8, 0x1357\nadd %r0, 7\nsub %r2, 1\njsgt %r2, 0, l", 2),
        // Near misses: a loop of one instruction (a jump to itself, never taken here) and
        // one of 17 (longer than the emitter copies).
        ("mov %r0, 3\nl:\njeq %r2, 99, l\nadd %r0, 1", 0),
        (long.as_str(), 1),
    ];
    let mem = input(32);
    for (body, copies) in loops {
        let text = format!("{body}\nexit");
        let Some(listing) = check_trip_counts(body, &mem) else {
            continue;
        };
        let marker = |l: &str| l == "add $0x1357,%r14";
        assert_eq!(
            count(&listing, marker),
            copies,
            "copies of the body of {text}"
        );
        // Checked code emits every loop once.
        let checked = disassemble(compiled(&asm(&text), true).machine_code()).unwrap();
        let once = body.matches("0x1357").count();
        assert_eq!(count(&checked, marker), once, "checked: {text}");
    }
}

#[test]
fn jumps_over_aligned_loop_heads_stay_in_reach() {
    // Loop heads are padded (up to 63 bytes); jumps across them are made short only if
    // they reach with the most padding. Forward and backward jumps of every length around
    // the 8-bit limit, over and into loops, must still land (and compile).
    let filler = "add %r0, %r3\nxor %r0, 5\n";
    for k in 0..40 {
        let pad = filler.repeat(k);
        let text = format!(
            "mov %r0, 0\nmov %r3, 1\nmov %r4, 3\n\
             jeq %r2, 0, skip\n{pad}\
             loop:\nadd %r0, %r4\nsub %r4, 1\njne %r4, 0, loop\n\
             {pad}inner:\nadd %r3, 1\njlt %r3, 4, inner\n\
             skip:\n{pad}jlt %r0, 1000, back\nexit\n\
             back:\nadd %r0, 1000\njgt %r2, 0, loop2\nexit\n\
             loop2:\nsub %r2, 1\nadd %r0, %r2\njgt %r2, 0, loop2\nexit"
        );
        for len in [0, 5] {
            check_text(&text, &input(len)).unwrap_or_else(|e| panic!("{e}: {text}"));
        }
        assert_loop_heads_placed(&asm(&text), &text);
    }
}

/// Every loop head (the target of a backward jump) starts 24 bytes into a 64-byte block of
/// the code, in checked and unchecked code.
fn assert_loop_heads_placed(insns: &[Insn], text: &str) {
    let mut pc = 0;
    let mut heads = Vec::new();
    for insn in insns {
        if let Some(off) = insn.jump_offset() {
            let target = pc as i64 + 1 + off as i64;
            if target <= pc as i64 {
                heads.push(target as usize);
            }
        }
        pc += insn.slots();
    }
    for checked in [false, true] {
        let jit = compiled(insns, checked);
        // The code sits at the start of its own pages.
        assert_eq!(jit.machine_code().as_ptr() as usize % 64, 0);
        for &head in &heads {
            let start = jit.code_offset(head).unwrap();
            assert_eq!(
                start % 64,
                24,
                "checked {checked}: head at {head} of {text}"
            );
        }
    }
}

/// A progs.c function as checked-in eBPF bytecode (the benchmark's), run on buffers
/// whose first 8 bytes give the payload length.
fn bench_program(file: &str) -> Vec<Insn> {
    let path = format!("{}/benches/c/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bpfkit_isa::decode(&bytes)
        .expect("decodes")
        .into_iter()
        .map(|d| d.insn)
        .collect()
}

#[test]
fn compiled_c_loops_match_the_interpreter_on_every_length() {
    // The benchmark's C functions (clang's loops: every transformation applies to them) on
    // payloads of every length up to 40 bytes and a few larger ones.
    for file in ["checksum.bin", "hash.bin", "sieve.bin", "memcpy.bin"] {
        let insns = bench_program(file);
        for len in (0..=40).chain([63, 64, 65, 255, 1000]) {
            let mut mem = (len as u64).to_le_bytes().to_vec();
            mem.extend(input(len));
            check(&insns, &mem, &format!("{file} on {len} bytes")).unwrap();
        }
    }
}

#[test]
fn helper_calls_keep_only_the_arguments_read_after_them() {
    // Helper 1 (common): r0 = r1 ^ rotl(r2, 7) ^ r5. Each case calls it, then reads some of
    // r1–r5 (or none); the unchecked code must push exactly those around the call (plus a
    // pad word for an even count), and all cases must give the interpreter's result.
    let setup = "mov %r2, 3\nmov %r3, 4\nmov %r4, 5\nmov %r5, 6\nmov %r6, %r1\n";
    // (program after the set-up, the registers pushed, the pad words pushed)
    let all: &[&str] = &["%rdi", "%rsi", "%rdx", "%rcx", "%r8"];
    let cases: [(&str, &[&str], usize); 6] = [
        // Nothing read after the call (r1–r5 are dead at the main function's exit).
        ("call 1\nexit", &[], 1),
        ("call 1\nadd %r0, %r3\nexit", &["%rdx"], 0),
        (
            "call 1\nadd %r0, %r1\nadd %r0, %r5\nexit",
            &["%rdi", "%r8"],
            1,
        ),
        // Written before read: dead.
        ("call 1\nmov %r2, 9\nadd %r0, %r2\nexit", &[], 1),
        // Read by the next helper call: all kept for it (the second keeps none).
        ("call 1\nmov %r6, %r0\ncall 1\nadd %r0, %r6\nexit", all, 1),
        // A function's exit returns to a caller that may read r1–r5: all kept there.
        ("call f\nexit\nf:\ncall 1\nexit", all, 0),
    ];
    for (body, kept, pad) in cases {
        let text = format!("{setup}{body}");
        let mem = input(16);
        let want = check_text(&text, &mem);
        assert!(want.is_ok(), "{text}: {want:?}");
        let Some(listing) = unchecked_listing(&text) else {
            return;
        };
        for reg in ["%rdi", "%rsi", "%rdx", "%rcx", "%r8"] {
            let pushes = count(&listing, |l| l == format!("push {reg}"));
            // The last case's local call pushes none of r1–r5 either.
            assert_eq!(pushes, kept.contains(&reg) as usize, "{reg} in {text}");
        }
        assert_eq!(count(&listing, |l| l == "push %r11"), pad, "{text}");
    }
}

#[test]
fn declared_helper_arguments_are_all_a_later_call_keeps_alive() {
    // Two calls of helper 1; between them nothing reads r1–r5. Undeclared, helper 1 reads
    // all five, so the first call keeps them all for the second; declared to read two, the
    // first call keeps r1 and r2 only (and a pad word).
    let text = "mov %r2, 3\nmov %r3, 4\nmov %r4, 5\nmov %r5, 6\ncall 1\nmov %r6, %r0\ncall 1\nadd %r0, %r6\nexit";
    let prog = Program::load(&asm(text)).unwrap();
    let unchecked = CompileOptions {
        checked: false,
        blind_constants: false,
        zero_stack: true,
    };
    let mut sites = bpfkit_jit::CallSites::new();
    sites.declare_arguments(1, 2);
    assert_eq!((sites.arguments(1), sites.arguments(2)), (Some(2), None));
    let jit = JitProgram::compile_specialized(&prog, &unchecked, &sites).unwrap();
    let Some(listing) = disassemble(jit.machine_code()) else {
        return;
    };
    for (reg, pushes) in [
        ("%rdi", 1),
        ("%rsi", 1),
        ("%rdx", 0),
        ("%rcx", 0),
        ("%r8", 0),
    ] {
        let got = count(&listing, |l| l == format!("push {reg}"));
        assert_eq!(got, pushes, "{reg}");
    }
    // One pad for the first call (two kept), one for the second (none kept).
    assert_eq!(count(&listing, |l| l == "push %r11"), 2);
    // Checked code ignores the declaration.
    let checked = CompileOptions {
        checked: true,
        ..unchecked
    };
    let declared = JitProgram::compile_specialized(&prog, &checked, &sites).unwrap();
    let plain = JitProgram::compile(&prog, &checked).unwrap();
    assert_eq!(declared.machine_code(), plain.machine_code());
}

#[test]
fn the_entry_sets_up_only_the_registers_read_before_written() {
    // (program, the argument registers loaded at entry, r0 zeroed, r6 zeroed). The run's
    // arguments are r1 = memory, r2 = its length, r3 = a read-only region, r4 = r5 = 0.
    let cases: [(&str, &[&str], bool, bool); 5] = [
        ("mov %r0, %r1\nexit", &["%rdi"], false, false),
        (
            "add %r0, %r2\nadd %r0, %r5\nexit",
            &["%rsi", "%r8"],
            true,
            false,
        ),
        // r2 is written before it is read.
        (
            "mov %r2, 1\nadd %r2, %r3\nmov %r0, %r2\nexit",
            &["%rdx"],
            false,
            false,
        ),
        ("add %r6, %r4\nmov %r0, %r6\nexit", &["%rcx"], false, true),
        // Each path reads its own.
        (
            "jeq %r1, 0, l\nmov %r0, %r2\nexit\nl:\nmov %r0, %r3\nexit",
            &["%rdi", "%rsi", "%rdx"],
            false,
            false,
        ),
    ];
    for (text, loaded, r0, r6) in cases {
        let mem = input(16);
        assert!(check_text(text, &mem).is_ok(), "{text}");
        let Some(listing) = unchecked_listing(text) else {
            return;
        };
        for reg in ["%rdi", "%rsi", "%rdx", "%rcx", "%r8"] {
            // Arguments are loaded through r11, which holds their address.
            let loads = count(&listing, |l| {
                l.starts_with("mov ") && l.contains("(%r11),") && l.ends_with(reg)
            });
            assert_eq!(loads, loaded.contains(&reg) as usize, "{reg} in {text}");
        }
        assert_eq!(
            count(&listing, |l| l == "xor %eax,%eax"),
            r0 as usize,
            "{text}"
        );
        assert_eq!(
            count(&listing, |l| l == "xor %ebx,%ebx"),
            r6 as usize,
            "{text}"
        );
    }
}

#[test]
fn register_writes_nothing_reads_are_not_emitted() {
    // (program, whether the `lddw` of 0x1234567890 is emitted, whether `mov $0x5` is).
    let cases = [
        (
            "mov %r3, 5\nlddw %r4, 0x1234567890\nmov %r0, 1\nexit",
            false,
            false,
        ),
        // Read later: kept.
        (
            "mov %r3, 5\nlddw %r4, 0x1234567890\nmov %r0, %r4\nadd %r0, %r3\nexit",
            true,
            true,
        ),
        // Overwritten before any read on one path, read on the other: kept.
        (
            "lddw %r4, 0x1234567890\njeq %r1, 0, l\nmov %r4, 5\nl:\nmov %r0, %r4\nexit",
            true,
            true,
        ),
        // Read only by a helper call (all its arguments): kept.
        ("lddw %r4, 0x1234567890\ncall 1\nexit", true, false),
    ];
    for (text, lddw, mov) in cases {
        let mem = input(16);
        assert!(check_text(text, &mem).is_ok(), "{text}");
        let Some(listing) = unchecked_listing(text) else {
            return;
        };
        let movabs = count(&listing, |l| l.starts_with("movabs $0x1234567890,"));
        assert_eq!(movabs, lddw as usize, "{text}");
        let mov5 = count(&listing, |l| l.starts_with("mov $0x5,"));
        assert_eq!(mov5, mov as usize, "{text}");
    }
}

#[test]
fn coalesced_loop_copies_match_the_interpreter() {
    // Loops emitted twice whose copy back `rA = rT` (accumulator) or `lag = iv` (induction)
    // the JIT removes, and near misses it must keep. r2 = the trip count or the length; each
    // case counts one x86 `mov` (the copy as written): twice when kept (two copies of the
    // body), and what is left when removed (0, or 1 where the loop's exit sets the
    // register because code after the loop reads it).
    // eBPF r0 r1 r2 r3 r4 r5 r6 are rax rdi rsi rdx rcx r8 rbx.
    let cases = [
        // The word copy's accumulator: `r4 = r0` goes; r0 is set at the exit.
        (
            "mov %r0, 0\nmov %r4, 0\nmov %r3, %r1\nmov %r1, 0\nl:\nldxdw %r0, [%r3+0]\nxor %r0, %r4\nadd %r3, 8\nmul %r0, 3\nadd %r1, 1\nmov %r4, %r0\njlt %r1, %r2, l",
            "mov %rax,%rcx",
            0,
        ),
        // ... and the exit's move (r0 = r4) is there once.
        (
            "mov %r0, 0\nmov %r4, 0\nmov %r3, %r1\nmov %r1, 0\nl:\nldxdw %r0, [%r3+0]\nxor %r0, %r4\nadd %r3, 8\nmul %r0, 3\nadd %r1, 1\nmov %r4, %r0\njlt %r1, %r2, l",
            "mov %rcx,%rax",
            1,
        ),
        // The checksum's shape: both copies go, and nothing after the loop reads r4 or r5.
        (
            "mov %r0, 0\nmov %r4, 0\nmov %r5, 0\nmov %r3, 0\nl:\nmov %r0, %r1\nadd %r0, %r4\nldxb %r6, [%r0+1]\nldxb %r0, [%r0+0]\nlsh %r0, 8\nor %r0, %r6\nadd %r0, %r5\nadd %r3, 2\nmov %r6, %r4\nadd %r6, 3\nmov %r4, %r3\nmov %r5, %r0\njlt %r6, %r2, l",
            "mov %rdx,%rcx",
            0,
        ),
        (
            "mov %r0, 0\nmov %r4, 0\nmov %r5, 0\nmov %r3, 0\nl:\nmov %r0, %r1\nadd %r0, %r4\nldxb %r6, [%r0+1]\nldxb %r0, [%r0+0]\nlsh %r0, 8\nor %r0, %r6\nadd %r0, %r5\nadd %r3, 2\nmov %r6, %r4\nadd %r6, 3\nmov %r4, %r3\nmov %r5, %r0\njlt %r6, %r2, l",
            "mov %rax,%r8",
            0,
        ),
        // A pointer walk: the load after the step reads [r3 - 1]; r4 is read after the loop
        // (the copy before the loop, and the exit's).
        (
            "mov %r0, 0\nmov %r9, %r1\nadd %r9, %r2\nmov %r3, %r1\nmov %r4, %r3\nl:\nldxb %r5, [%r4+0]\nadd %r3, 1\nldxb %r6, [%r4+0]\nadd %r0, %r5\nadd %r0, %r6\nmov %r4, %r3\njlt %r3, %r9, l\nsub %r4, %r1\nlsh %r4, 16\nadd %r0, %r4",
            "mov %rdx,%rcx",
            2,
        ),
        // Near misses. Unequal on entry (r4 = 1, r3 = 0).
        (
            "mov %r0, 0\nmov %r4, 1\nmov %r3, 0\nl:\nadd %r0, %r4\nadd %r3, 2\nmov %r4, %r3\njlt %r3, %r2, l",
            "mov %rdx,%rcx",
            2,
        ),
        // The lag read after the step as a value.
        (
            "mov %r0, 0\nmov %r4, 0\nmov %r3, 0\nl:\nadd %r3, 2\nadd %r0, %r4\nmov %r4, %r3\njlt %r3, %r2, l",
            "mov %rdx,%rcx",
            2,
        ),
        // Equal where the code before falls in, but also entered by a jump with r4 = 7.
        (
            "mov %r0, 0\nmov %r3, 0\nmov %r4, 7\njeq %r2, 3, l\nmov %r3, 0\nmov %r4, 0\nl:\nadd %r0, %r4\nadd %r3, 2\nmov %r4, %r3\njlt %r3, %r2, l",
            "mov %rdx,%rcx",
            2,
        ),
        // An accumulator through a subtraction (not commutative).
        (
            "mov %r0, 0\nmov %r4, 100\nmov %r3, %r1\nmov %r1, 0\nl:\nldxb %r0, [%r3+0]\nsub %r0, %r4\nadd %r3, 1\nadd %r1, 1\nmov %r4, %r0\njlt %r1, %r2, l",
            "mov %rax,%rcx",
            2,
        ),
        // The temporary read at the loop head (it carries a value as well).
        (
            "mov %r0, 5\nmov %r4, 0\nmov %r1, 0\nl:\nadd %r0, 1\nadd %r0, %r4\nadd %r1, 1\nmov %r4, %r0\njlt %r1, %r2, l",
            "mov %rax,%rcx",
            2,
        ),
    ];
    let mem = input(64);
    for (body, mov, left) in cases {
        let text = format!("{body}\nexit");
        let Some(listing) = check_trip_counts(body, &mem) else {
            continue;
        };
        assert_eq!(count(&listing, |l| l == mov), left, "`{mov}` in {text}");
    }
}

#[test]
fn offset_induction_variables_match_the_interpreter() {
    // Loops emitted twice that compute `d = iv + k` after the step of `iv` and read only
    // `d` (the loop test `i + 1 < n`): the JIT keeps `iv`'s register `k` ahead and drops
    // the `lea` computing `d` (see `rebase`), or must not. Each case counts x86 lines:
    // `d`'s `lea` (2: once per copy, kept; 0: gone) and the loop entry's or exit's
    // adjustment of `iv`. eBPF r0 r1 r2 r3 r4 r5 r6 r9 are rax rdi rsi rdx rcx r8 rbx r15.
    let walk = |before: &str, pair: &str, after: &str| {
        format!(
            "mov %r0, 0\nmov %r3, %r1\nmov %r9, %r1\nadd %r9, %r2\n{before}l:\nldxb %r5, [%r3+0]\n\
             add %r0, %r5\nadd %r3, 1\n{pair}jlt %r6, %r9, l\n{after}"
        )
    };
    let checksum = "mov %r0, 0\nmov %r4, 0\nmov %r5, 0\nmov %r3, 0\nl:\nmov %r0, %r1\nadd %r0, %r4\nldxb %r6, [%r0+1]\nldxb %r0, [%r0+0]\nlsh %r0, 8\nor %r0, %r6\nadd %r0, %r5\nadd %r3, 2\nmov %r6, %r4\nadd %r6, 3\nmov %r4, %r3\nmov %r5, %r0\njlt %r6, %r2, l";
    let pair = "mov %r6, %r3\nadd %r6, 2\n";
    let cases = [
        // The checksum's loop (after its copies are coalesced, r6 = r3 + 1): r3 enters 1
        // ahead; nothing after the loop reads r3 or r6.
        (checksum.to_string(), "lea 0x1(%rdx),%rbx", 0),
        (checksum.to_string(), "lea 0x1(%rdx),%rdx", 1),
        // ... with the lag r4 read after the loop: its exit move from r3 takes the distance.
        (format!("{checksum}\nadd %r0, %r4"), "lea -0x1(%rdx),%rcx", 1),
        // A pointer walk tested 2 bytes ahead; code after the loop reads neither.
        (walk("", pair, ""), "lea 0x2(%rdx),%rbx", 0),
        (walk("", pair, ""), "lea 0x2(%rdx),%rdx", 1),
        // ... reads both: the exit sets r6 from r3's register, then puts r3 back.
        (walk("", pair, "sub %r3, %r1\nadd %r0, %r3\nsub %r6, %r1\nlsh %r6, 8\nadd %r0, %r6\n"), "mov %rdx,%rbx", 1),
        (walk("", pair, "sub %r3, %r1\nadd %r0, %r3\nsub %r6, %r1\nlsh %r6, 8\nadd %r0, %r6\n"), "lea -0x2(%rdx),%rdx", 1),
        // A store through r3 and a pair based on it take the distance too.
        (walk("", &format!("stxb [%r3+0], %r5\nmov %r7, %r3\nadd %r7, 3\nldxb %r7, [%r7+0]\nadd %r0, %r7\n{pair}"), ""), "lea 0x2(%rdx),%rbx", 0),
        // A negative distance.
        (walk("", "mov %r6, %r3\nadd %r6, -1\n", "add %r0, %r6\n"), "lea -0x1(%rdx),%rdx", 1),
        // Near misses. r3's value is stored.
        (walk("", &format!("stxdw [%r10-8], %r3\n{pair}"), ""), "lea 0x2(%rdx),%rbx", 2),
        // r6 is read at the loop head: it carries a value.
        (walk("mov %r6, 0\n", &format!("add %r0, %r6\n{pair}"), ""), "lea 0x2(%rdx),%rbx", 2),
        // r3's value is used (added to r0).
        (walk("", &format!("add %r0, %r3\n{pair}"), ""), "lea 0x2(%rdx),%rbx", 2),
        // r3 steps twice.
        (walk("", &format!("add %r3, 1\n{pair}"), ""), "lea 0x2(%rdx),%rbx", 2),
        // The loop is also entered by a jump: the entry could not adjust r3 there.
        (walk("jeq %r2, 3, l\n", pair, ""), "lea 0x2(%rdx),%rbx", 2),
    ];
    let mem = input(64);
    for (body, line, want) in cases {
        let Some(listing) = check_trip_counts(&body, &mem) else {
            continue;
        };
        assert_eq!(count(&listing, |l| l == line), want, "`{line}` in {body}");
    }
}

/// Local calls whose depth is known (see the crate's `frames`): in code that zeroes no
/// stack they check nothing, and a callee that never names r10 and calls no helper gets
/// no frame. Each case runs on the interpreter, checked code, and unchecked code with and
/// without zeroing; the listings must show which calls still move r10 and check.
#[test]
fn local_calls_of_known_depth_match_the_interpreter() {
    let moves = |l: &[String]| count(l, |l| l.contains("sub $0x200,%rbp"));
    // The compare with the context's lowest zeroed frame.
    let checks = |l: &[String]| count(l, |l| l.contains("cmp 0x18(%r12),%r10"));
    // (program, calls moving r10 and calls checking in code that zeroes no stack)
    let cases = [
        // The bench's call loop: no stack anywhere, so no zeroing either way.
        (
            "mov %r6, 5\nmov %r7, 0\nloop:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\n\
             sub %r6, 1\njne %r6, 0, loop\nmov %r0, %r7\nexit\n\
             f:\nmov %r0, %r1\ncall local g\nadd %r0, 1\nexit\ng:\nand %r0, 7\nexit",
            0,
            0,
        ),
        // f gets no frame but passes a pointer into the main frame to g, which has one:
        // g's frame lies right below the main function's and must not overlap it.
        (
            "stdw [%r10-8], 40\nmov %r1, %r10\nadd %r1, -8\ncall local f\n\
             ldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n\
             f:\nmov %r2, 3\ncall local g\nexit\n\
             g:\nstxdw [%r10-8], %r2\nstxdw [%r10-512], %r2\nldxdw %r0, [%r1+0]\n\
             ldxdw %r3, [%r10-8]\nadd %r0, %r3\nadd %r3, 1\nstxdw [%r1+0], %r3\nexit",
            1,
            0,
        ),
        // Recursion: every call checks (seven nested calls here, eight frames: the limit).
        (
            "mov %r1, 6\ncall local f\nexit\n\
             f:\nstxdw [%r10-8], %r1\njeq %r1, 0, +4\nsub %r1, 1\ncall local f\n\
             ldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit",
            2,
            2,
        ),
        // Seven nested calls, only the deepest with a frame.
        (
            "call local f0\nexit\nf0:\ncall local f1\nexit\nf1:\ncall local f2\nexit\n\
             f2:\ncall local f3\nexit\nf3:\ncall local f4\nexit\nf4:\ncall local f5\n\
             exit\nf5:\ncall local f6\nexit\nf6:\nstdw [%r10-8], 6\nldxdw %r0, [%r10-8]\nexit",
            1,
            0,
        ),
    ];
    for (text, moving, checking) in cases {
        let insns = asm(text);
        for zero_stack in [false, true] {
            check_zeroing(&insns, &[0; 8], text, zero_stack)
                .unwrap_or_else(|e| panic!("{e}: {text}"));
        }
        let Some(unzeroed) = unchecked_listing_zeroing(text, false) else {
            return;
        };
        assert_eq!(moves(&unzeroed), moving, "frames moved: {text}");
        assert_eq!(checks(&unzeroed), checking, "frames checked: {text}");
    }
}

/// One instruction (or a `mov`/`add` pair) of a generated loop body: the shapes the loop
/// coalescing looks for (copies between accumulators, an induction step, its lagging
/// copy, loads through both pointers and a pair based on the lag) mixed with any ALU.
fn body_item() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let value = || prop::sample::select(vec![0u8, 5, 6, 7, 8]);
    let op = prop::sample::select(vec!["add", "or", "xor", "and", "mul", "sub"]);
    prop_oneof![
        (op.clone(), value(), value()).prop_map(|(o, d, s)| format!("{o} %r{d}, %r{s}")),
        (op, value(), -3i32..40).prop_map(|(o, d, k)| format!("{o} %r{d}, {k}")),
        (value(), value()).prop_map(|(d, s)| format!("mov %r{d}, %r{s}")),
        (value(), 0i16..8, prop::bool::ANY)
            .prop_map(|(d, off, lag)| format!("ldxb %r{d}, [%r{}+{off}]", if lag { 4 } else { 3 })),
        (1i32..3).prop_map(|c| format!("add %r3, {c}")),
        Just("mov %r4, %r3".to_string()),
        (0i32..5).prop_map(|k| format!("mov %r6, %r4\nadd %r6, {k}\nldxb %r6, [%r6+0]")),
    ]
}

/// A generated loop body: an accumulator motif (`t` loaded, `t op= acc`, ..., `acc = t`),
/// an induction motif (`r3 += c`, ..., `r4 = r3`) and an offset motif after the step (`r7 =
/// r3 + k`, ..., `r0 ^= r7`), each present or not, with [`body_item`]s between their parts
/// (which may break the shapes: near misses).
fn loop_body() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let fill = || proptest::collection::vec(body_item(), 0..3);
    let pair = prop::sample::subsequence(vec![0u8, 5, 6, 7, 8], 2).prop_shuffle();
    // Commutative operations, and two that are not (near misses).
    let op = prop::sample::select(vec!["add", "or", "xor", "and", "mul", "sub", "lsh"]);
    (
        (fill(), fill(), fill(), fill()),
        (prop::bool::ANY, pair, op, 0i16..8),
        (prop::bool::ANY, 1i32..3, prop::bool::ANY, -2i32..4),
    )
        .prop_map(
            |((f1, f2, f3, f4), (acc_motif, regs, op, off), (iv_motif, c, offset_motif, k))| {
                let (t, acc) = (regs[0], regs[1]);
                let mut out = f1;
                if acc_motif {
                    out.push(format!("ldxb %r{t}, [%r4+{off}]\n{op} %r{t}, %r{acc}"));
                }
                out.extend(f2);
                if iv_motif {
                    out.push(format!("add %r3, {c}"));
                }
                if offset_motif {
                    out.push(format!("mov %r7, %r3\nadd %r7, {k}"));
                }
                out.extend(f3);
                if acc_motif {
                    out.push(format!("mov %r{acc}, %r{t}"));
                }
                if iv_motif {
                    out.push("mov %r4, %r3".to_string());
                }
                out.extend(f4);
                if offset_motif {
                    out.push("xor %r0, %r7".to_string());
                }
                out.join("\n")
            },
        )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    /// Random single-block loops made of [`body_item`]s, entered with the lag equal to the
    /// induction variable or not, with some registers read after the loop: the unchecked
    /// code (with its copies coalesced and offsets kept ahead where the shapes allow) must
    /// agree with the interpreter for trip counts 1 to 5.
    #[test]
    fn random_loops_with_copies_match_the_interpreter(
        body in loop_body(),
        equal in proptest::bool::ANY,
        start in proptest::collection::vec(0i32..9, 5),
        after in proptest::collection::vec(proptest::sample::select(vec![3u8, 4, 5, 6, 7, 8]), 0..3),
    ) {
        let entry = if equal { "mov %r4, %r3" } else { "mov %r4, %r1\nadd %r4, 1" };
        let tail: String = after
            .iter()
            .map(|&r| match r {
                3 | 4 => format!("sub %r{r}, %r1\nadd %r0, %r{r}\n"),
                _ => format!("add %r0, %r{r}\n"),
            })
            .collect();
        let text = format!(
            "mov %r3, %r1\n{entry}\nmov %r0, {}\nmov %r5, {}\nmov %r6, {}\nmov %r7, {}\n\
             mov %r8, {}\nmov %r9, 0\nl:\n{body}\nadd %r9, 1\njlt %r9, %r2, l\n{tail}exit",
            start[0], start[1], start[2], start[3], start[4],
        );
        let mem = input(256);
        for count in 1..=5 {
            // An error (a load out of bounds) is the interpreter's, which checked code
            // matched; unchecked code runs only where the interpreter completes.
            let _ = check_text(&format!("mov %r2, {count}\n{text}"), &mem);
        }
    }
}

/// A program of `bodies.len()` functions (the first is the main function) from generated
/// steps `(kind, a, b)`. Each function keeps in r9 a pointer to an 8-byte stack slot of an
/// active frame that was written before (the main function's first, or one of the
/// caller's), and reads no stack byte it did not write, so that unchecked code that zeroes
/// no stack must agree with the interpreter. Functions call only later ones unless
/// `cycles`, with r1 = r9 or a written slot of their own frame; `frames[i]`: function i
/// uses a frame of its own (others never name r10, but may call helpers).
fn call_graph_program(bodies: &[Vec<(u8, u8, u8)>], frames: &[bool], cycles: bool) -> String {
    let n = bodies.len();
    let mut text = String::from("stdw [%r10-8], 5\nmov %r1, %r10\nadd %r1, -8\n");
    for (f, body) in bodies.iter().enumerate() {
        if f > 0 {
            text.push_str(&format!("f{f}:\n"));
        }
        text.push_str("mov %r9, %r1\n");
        let mut written: Vec<u8> = Vec::new();
        for &(kind, a, b) in body {
            let r = [0, 6, 7][a as usize % 3];
            let slot = 8 * (1 + b as usize % 4);
            match kind % 7 {
                0 => text.push_str(&format!("add %r{r}, {}\nxor %r0, %r{r}\n", b as i32 - 7)),
                1 if frames[f] => {
                    text.push_str(&format!("stxdw [%r10-{slot}], %r{r}\n"));
                    written.push(slot as u8);
                }
                2 if frames[f] && !written.is_empty() => {
                    let slot = written[b as usize % written.len()];
                    text.push_str(&format!("ldxdw %r{r}, [%r10-{slot}]\nadd %r0, %r{r}\n"));
                }
                3 if a % 2 == 0 => text.push_str("ldxdw %r2, [%r9+0]\nadd %r0, %r2\n"),
                3 => text.push_str(&format!("stxdw [%r9+0], %r{r}\n")),
                4 => {
                    let callee = match cycles {
                        true => b as usize % n,
                        false if f + 1 < n => f + 1 + b as usize % (n - f - 1),
                        false => continue,
                    };
                    if callee == 0 {
                        continue; // the main function is no call target
                    }
                    match written.first() {
                        Some(&slot) if a % 2 == 0 => {
                            text.push_str(&format!("mov %r1, %r10\nadd %r1, -{slot}\n"))
                        }
                        _ => text.push_str("mov %r1, %r9\n"),
                    }
                    text.push_str(&format!("call local f{callee}\nadd %r6, %r0\n"));
                }
                5 if a % 2 == 0 => {
                    text.push_str("mov %r1, %r9\nmov %r2, 8\ncall 2\nadd %r7, %r0\n")
                }
                // 1 where the helper found the stack aligned: any `push` too many shows.
                5 => text.push_str("call 9\nlsh %r0, 20\nadd %r7, %r0\n"),
                _ => text.push_str(&format!("mov %r0, %r{r}\n")),
            }
        }
        text.push_str("add %r0, %r6\nadd %r0, %r7\nexit\n");
    }
    text
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Random call graphs (acyclic or not, deep or not, functions with and without frames
    /// of their own, helper calls here and there): checked and unchecked code, zeroing the
    /// stack or not (which decides whether calls keep their frame checks, see `frames`),
    /// must agree with the interpreter.
    #[test]
    fn random_call_graphs_match_the_interpreter(
        bodies in proptest::collection::vec(
            proptest::collection::vec((0u8..7, 0u8..6, 0u8..8), 0..7),
            1..9,
        ),
        frames in proptest::collection::vec(proptest::bool::ANY, 9),
        cycles in proptest::bool::weighted(0.2),
    ) {
        let text = call_graph_program(&bodies, &frames, cycles);
        let insns = asm(&text);
        for zero_stack in [false, true] {
            let _ = check_zeroing(&insns, &input(16), &text, zero_stack);
        }
    }
}
