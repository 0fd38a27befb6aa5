//! Stack stores no load reads (not emitted), reloads forwarded from registers, and add chains
//! regrouped off the accumulator, against the reference interpreter (the oracle): each case
//! runs on the interpreter and on checked and unchecked JIT code, which must agree; where a
//! case says how many stores or adds the unchecked code keeps, its listing (binutils'
//! `objdump`, skipped with a message when absent) must show that many.

mod common;

use common::check::{asm, check_zeroing, count, input, unchecked_listing_zeroing};

/// x86 stores into the stack frame (rbp is r10): `mov`/`movq`/`movl`... to `(%rbp...)`.
fn stack_stores(listing: &[String]) -> usize {
    count(listing, |l| {
        l.starts_with("mov") && l.ends_with("(%rbp,%riz,1)")
    })
}

/// Checks `text` against the interpreter, zeroing the stack and (if `initialised`: the
/// program reads no stack byte it did not write) not; returns the unchecked code's listing.
fn checked_listing(text: &str, initialised: bool) -> Option<Vec<String>> {
    let insns = asm(text);
    for zero_stack in [true, false] {
        if zero_stack || initialised {
            check_zeroing(&insns, &input(32), text, zero_stack)
                .unwrap_or_else(|e| panic!("{e}: {text}"));
        }
    }
    unchecked_listing_zeroing(text, !initialised)
}

#[test]
fn stores_no_load_reads_are_not_emitted() {
    // (program, whether it reads only stack bytes it wrote, stores left in unchecked code)
    let cases: [(&str, bool, usize); 10] = [
        // The bench's memory loop (emitted twice): both reloads are forwarded, so no store
        // has a reader left, and the last one never had one.
        (
            "mov %r0, 0\nmov %r6, 3\nloop:\nldxdw %r2, [%r1+0]\nldxw %r3, [%r1+8]\n\
             add %r2, %r6\nstxdw [%r10-8], %r2\nstxw [%r10-16], %r3\nldxdw %r4, [%r10-8]\n\
             ldxw %r5, [%r10-16]\nldxb %r7, [%r1+20]\nadd %r0, %r4\nadd %r0, %r5\n\
             add %r0, %r7\nstxdw [%r10-24], %r0\nsub %r6, 1\njne %r6, 0, loop\nexit",
            true,
            0,
        ),
        // Read after a jump (no forwarding across blocks): kept.
        (
            "stxdw [%r10-8], %r1\nja l\nl:\nldxdw %r0, [%r10-8]\nexit",
            true,
            1,
        ),
        // Skipped by a jump to the load: its value must not be forwarded there, and the
        // store before stays (read when the jump is taken, as it is: r1 is a pointer).
        (
            "stdw [%r10-8], 1\njne %r1, 0, l\nstxdw [%r10-8], %r1\nl:\nldxdw %r0, [%r10-8]\nexit",
            true,
            2,
        ),
        // Overwritten on one path only: both kept.
        (
            "stdw [%r10-8], 1\njeq %r1, 0, l\nstdw [%r10-8], 2\nl:\nldxdw %r0, [%r10-8]\nexit",
            true,
            2,
        ),
        // Overwritten before any read: the first goes.
        (
            "stdw [%r10-8], 1\nstdw [%r10-8], 2\nldxdw %r0, [%r10-8]\nexit",
            true,
            1,
        ),
        // Half overwritten: the other half is read, both stay.
        (
            "stxdw [%r10-8], %r1\nstxw [%r10-8], %r2\nldxdw %r0, [%r10-8]\nexit",
            true,
            2,
        ),
        // An atomic operation reads its operand: the store before it stays.
        (
            "stxdw [%r10-8], %r1\nmov %r2, 3\nlock add [%r10-8], %r2\nldxdw %r0, [%r10-8]\nexit",
            true,
            1,
        ),
        // Read by the next iteration of a loop (whose head is a block start): kept.
        (
            "mov %r0, 0\nstdw [%r10-8], 1\nmov %r6, 4\nloop:\nldxdw %r3, [%r10-8]\n\
             add %r0, %r3\nadd %r3, %r0\nstxdw [%r10-8], %r3\nsub %r6, 1\njne %r6, 0, loop\n\
             exit",
            true,
            3,
        ),
        // Before the exit, nothing reads the frame.
        (
            "stxdw [%r10-8], %r1\nstw [%r10-16], 3\nmov %r0, 1\nexit",
            true,
            0,
        ),
        // A callee reading its frame before writing it sees what the previous call at the
        // same depth left there (the interpreter keeps each frame): its store stays.
        (
            "mov %r1, 5\ncall local f\nmov %r1, 7\ncall local f\nexit\n\
             f:\nldxdw %r0, [%r10-8]\nstxdw [%r10-8], %r1\nexit",
            false,
            1,
        ),
    ];
    for (text, initialised, stores) in cases {
        let Some(listing) = checked_listing(text, initialised) else {
            return;
        };
        assert_eq!(stack_stores(&listing), stores, "{text}\n{listing:#?}");
    }
}

#[test]
fn a_callee_sees_its_previous_calls_stores() {
    // The oracle's answer, pinned: the second call returns what the first stored.
    let text = "mov %r1, 5\ncall local f\nmov %r1, 7\ncall local f\nexit\n\
                f:\nldxdw %r0, [%r10-8]\nstxdw [%r10-8], %r1\nexit";
    assert_eq!(check_zeroing(&asm(text), &[], text, true), Ok(5));
}

#[test]
fn regrouped_add_chains_match_the_interpreter() {
    // (program, adds into rax left in unchecked code)
    let cases = [
        // The terms sum to minus the accumulator: the zero test after the chain must see 0.
        (
            "mov %r0, 3\nmov %r4, -10\nmov %r5, 7\nadd %r0, %r4\nadd %r0, %r5\n\
             jne %r0, 0, l\nmov %r0, 99\nl:\nexit",
            1,
        ),
        // A jump lands inside the chain (r1 is a pointer, not 0): it stays as written.
        (
            "mov %r0, 1\nmov %r4, 2\nmov %r5, 3\njne %r1, 0, l\nadd %r0, %r4\nl:\n\
             add %r0, %r5\nexit",
            2,
        ),
        // Regrouped in a callee, the chain writes r6, which the call must then save.
        (
            "mov %r6, 10\nmov %r7, 20\nmov %r1, 1\ncall local f\nadd %r0, %r6\nexit\n\
             f:\nmov %r0, %r1\nadd %r0, %r6\nadd %r0, %r7\nexit",
            2,
        ),
        // 32-bit chain with a subtraction, wrapping.
        (
            "lddw %r0, 0x1ffffffff\nmov %r4, -1\nmov %r5, 2\nadd32 %r0, %r4\nsub32 %r0, %r5\n\
             add32 %r0, 9\nexit",
            1,
        ),
        // The first term is read afterwards: the chain stays as written.
        (
            "mov %r0, 1\nmov %r4, 2\nmov %r5, 3\nadd %r0, %r4\nadd %r0, %r5\nmul %r4, %r0\n\
             mov %r0, %r4\nexit",
            2,
        ),
        // A loop accumulating three terms (emitted twice): one add into rax per copy.
        (
            "mov %r0, 0\nmov %r6, 5\nloop:\nldxb %r4, [%r1+0]\nldxb %r5, [%r1+1]\n\
             ldxb %r7, [%r1+2]\nadd %r0, %r4\nadd %r0, %r5\nadd %r0, %r7\nsub %r6, 1\n\
             jne %r6, 0, loop\nexit",
            2,
        ),
    ];
    let adds = |l: &[String]| count(l, |l| l.starts_with("add") && l.ends_with(",%rax"));
    let adds32 = |l: &[String]| count(l, |l| l.starts_with("add") && l.ends_with(",%eax"));
    for (text, expected) in cases {
        let Some(listing) = checked_listing(text, true) else {
            return;
        };
        assert_eq!(
            adds(&listing) + adds32(&listing),
            expected,
            "{text}\n{listing:#?}"
        );
    }
}

/// One step of a generated program: stack stores and loads of every size at overlapping
/// offsets, adds into r0 (chains), copies, a conditional skip of the next step, or a call
/// of `f`, which uses its own frame.
fn step() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let reg = || prop::sample::select(vec![0u8, 2, 3, 4, 5, 6, 7, 8]);
    // Every access, of any size, lies in the 24 bytes the programs initialise.
    let off = || prop::sample::select(vec![-8i16, -9, -12, -13, -16, -20, -24]);
    let size = || prop::sample::select(vec!["b", "h", "w", "dw"]);
    prop_oneof![
        (size(), off(), reg()).prop_map(|(s, o, r)| format!("stx{s} [%r10{o}], %r{r}")),
        (size(), off(), -5i32..5).prop_map(|(s, o, k)| format!("st{s} [%r10{o}], {k}")),
        (size(), off(), reg()).prop_map(|(s, o, r)| format!("ldx{s} %r{r}, [%r10{o}]")),
        reg().prop_map(|r| format!("add %r0, %r{r}")),
        reg().prop_map(|r| format!("add32 %r0, %r{r}")),
        (reg(), reg()).prop_map(|(d, s)| format!("add %r{d}, %r{s}")),
        (reg(), reg()).prop_map(|(d, s)| format!("mov %r{d}, %r{s}")),
        (reg(), -3i32..3).prop_map(|(r, k)| format!("sub %r{r}, {k}")),
        (reg(), 0i32..3).prop_map(|(r, k)| format!("jeq %r{r}, {k}, +1")),
        Just("mov %r1, %r0\ncall local f".to_string()),
        Just("lock add [%r10-8], %r3".to_string()),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    /// Random loops of [`step`]s with a callee: with every frame written before it is read
    /// (zeroing the stack or not) or not (zeroing), unchecked code with its stores dropped,
    /// reloads forwarded and chains regrouped must agree with the interpreter, for 1 to 3
    /// trips; every register is summed into r0 at the end, or none.
    #[test]
    fn random_stack_traffic_matches_the_interpreter(
        body in proptest::collection::vec(step(), 1..14),
        callee in proptest::collection::vec(step(), 0..8),
        initialised in proptest::bool::ANY,
        trips in 1u32..4,
        sum_all in proptest::bool::ANY,
    ) {
        // A skip as the last step of a function would jump over its end.
        let body = body.join("\n") + "\nmov %r1, %r1";
        let callee: Vec<String> = callee
            .into_iter()
            .filter(|s| !s.contains("call"))
            .collect();
        let callee = callee.join("\n") + "\nmov %r1, %r1";
        let init = match initialised {
            true => "stdw [%r10-8], 1\nstdw [%r10-16], 2\nstdw [%r10-24], 3\n",
            false => "",
        };
        // Registers read after the loop (only r0 leaves more chains to regroup).
        let sum = match sum_all {
            true => "add %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nadd %r0, %r6\n\
                     add %r0, %r7\nadd %r0, %r8\n",
            false => "",
        };
        let text = format!(
            "{init}mov %r0, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\nmov %r6, 6\n\
             mov %r7, 7\nmov %r8, 8\nmov %r9, {trips}\nloop:\n{body}\nsub %r9, 1\n\
             jne %r9, 0, loop\n{sum}exit\n\
             f:\n{init}{callee}\nmov %r0, %r1\nexit"
        );
        let insns = asm(&text);
        for zero_stack in [true, false] {
            if zero_stack || initialised {
                check_zeroing(&insns, &input(32), &text, zero_stack)
                    .unwrap_or_else(|e| panic!("{e}: {text}"));
            }
        }
    }
}
