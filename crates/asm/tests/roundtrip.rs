//! Round-trip properties: encode/decode identity, and printing in each syntax then
//! assembling gives back the same instructions.

mod common;

use bpfkit_asm::{assemble, assemble_with, disassemble, format_insn, DisasmOptions, Syntax};
use bpfkit_isa::{decode, encode, CallTarget, Insn, RawInsn};
use proptest::prelude::*;

/// What reading back the printed text must give. LLVM's syntax writes helper, local and
/// kfunc calls all as `call N`, which reads back as a helper call.
fn expected_back(insn: Insn, syntax: Syntax) -> Insn {
    match (syntax, insn) {
        (Syntax::Llvm, Insn::Call(CallTarget::Local(n) | CallTarget::Kfunc(n))) => {
            Insn::Call(CallTarget::Helper(n))
        }
        _ => insn,
    }
}

fn check_one(insn: Insn) {
    let bytes = encode(&[insn]);
    let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{insn:?}: {e}"));
    assert_eq!(decoded.len(), 1);
    assert_eq!(decoded[0].insn, insn);
    for syntax in [Syntax::Llvm, Syntax::Ubpf] {
        let text = format_insn(&decoded[0].insn, syntax);
        let want = vec![expected_back(insn, syntax)];
        let auto = assemble(&text).unwrap_or_else(|e| panic!("{syntax:?} `{text}`: {e}"));
        assert_eq!(auto, want, "{syntax:?} `{text}`");
        let forced = assemble_with(&text, syntax).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(forced, want, "{syntax:?} forced `{text}`");
    }
}

#[test]
fn every_form_round_trips() {
    let forms = common::all_forms();
    assert!(forms.len() > 600, "the form list covers every variant");
    for insn in forms {
        check_one(insn);
    }
}

/// Points every jump and local call of `prog` at an instruction start chosen by `picks`,
/// so that a labelled disassembly names every target.
fn aim_branches(prog: &mut [Insn], picks: &[usize]) {
    let mut pcs = Vec::with_capacity(prog.len());
    let mut pc = 0i64;
    for i in prog.iter() {
        pcs.push(pc);
        pc += i.slots() as i64;
    }
    for (k, insn) in prog.iter_mut().enumerate() {
        let target = pcs[picks[k] % pcs.len()];
        let off = target - (pcs[k] + 1);
        match insn {
            Insn::Ja { off: o, .. } => *o = off as i32,
            Insn::Jmp { off: o, .. } => *o = off as i16,
            Insn::Call(CallTarget::Local(o)) => *o = off as i32,
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// decode(encode(p)) == p for every valid program (the isa crate's identity).
    #[test]
    fn encode_decode_identity(prog in proptest::collection::vec(common::insn(), 0..40)) {
        let back: Vec<Insn> = decode(&encode(&prog)).unwrap().into_iter().map(|d| d.insn).collect();
        prop_assert_eq!(back, prog);
    }

    /// encode(decode(b)) == b for every slot sequence that decodes.
    #[test]
    fn decode_encode_identity(words in proptest::collection::vec(any::<[u8; 8]>(), 1..8)) {
        let bytes: Vec<u8> = words.concat();
        if let Ok(d) = decode(&bytes) {
            let insns: Vec<Insn> = d.into_iter().map(|d| d.insn).collect();
            prop_assert_eq!(encode(&insns), bytes);
        }
    }

    /// Single instructions: print in each syntax, assemble, compare.
    #[test]
    fn single_insn_round_trip(insn in common::insn()) {
        check_one(insn);
    }

    /// Whole programs with in-range branches, disassembled with labels and slot numbers:
    /// both syntaxes read back exactly (local calls included).
    #[test]
    fn program_round_trip(
        mut prog in proptest::collection::vec(common::insn(), 1..30),
        picks in proptest::collection::vec(any::<usize>(), 30),
        show_pc in any::<bool>(),
    ) {
        aim_branches(&mut prog, &picks);
        let decoded = decode(&encode(&prog)).unwrap();
        for syntax in [Syntax::Llvm, Syntax::Ubpf] {
            let opts = DisasmOptions { syntax, show_pc, labels: true };
            let text = disassemble(&decoded, &opts);
            let want: Vec<Insn> = prog
                .iter()
                .map(|i| match (syntax, *i) {
                    (Syntax::Llvm, Insn::Call(CallTarget::Kfunc(n))) => {
                        Insn::Call(CallTarget::Helper(n))
                    }
                    (_, other) => other,
                })
                .collect();
            let back = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, want, "{:?}\n{}", syntax, text);
        }
    }
}

#[test]
fn raw_word_helpers_agree() {
    // RawInsn's u64 form puts the opcode in the low byte, as the conformance files do.
    let w = RawInsn::from_u64(0x0000_0001_0000_00b7);
    assert_eq!((w.code, w.dst, w.src, w.off, w.imm), (0xb7, 0, 0, 0, 1));
}
