//! Hostile input: deep nesting, long inputs, arbitrary bytes. The compiler
//! must return an error or a program, never panic or overflow the stack.

use bpfkit_pcapfilter::{compile_with, CompileError, CompileOptions, LinkType, StaticResolver};
use proptest::prelude::*;

fn compile(expr: &str) -> Result<Vec<bpfkit_cbpf::Insn>, CompileError> {
    compile_with(
        expr,
        LinkType::EN10MB,
        &CompileOptions::default(),
        &StaticResolver::new(),
    )
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    for depth in [10, 100, 127, 129, 300, 20_000] {
        let parens = format!("{}tcp{}", "(".repeat(depth), ")".repeat(depth));
        let nots = format!("{}tcp", "not ".repeat(depth));
        let minus = format!("{}len = 0", "-".repeat(depth));
        let modulo = format!("len{} = 0", " % 1".repeat(depth));
        for e in [&parens, &nots, &minus, &modulo] {
            let r = compile(e);
            // (Deep `%` chains run out of scratch registers first, as in libpcap.)
            if depth <= 127 && e != &modulo {
                assert!(r.is_ok(), "depth {depth}: {:?}", r.err());
            } else if depth > 128 {
                let err = r.expect_err("too deep");
                assert!(err.to_string().contains("nested too deeply"), "{err}");
            }
        }
    }
}

#[test]
fn long_flat_expressions_compile() {
    // Thousands of terms in one and/or chain: no recursion per term, and
    // branches beyond 255 instructions get `ja` trampolines.
    let e = (0..2000)
        .map(|i| format!("host 10.0.{}.{}", i / 250, i % 250))
        .collect::<Vec<_>>()
        .join(" or ");
    let plain = compile_with(
        &e,
        LinkType::EN10MB,
        &CompileOptions {
            optimize: false,
            ..CompileOptions::default()
        },
        &StaticResolver::new(),
    )
    .expect("long chain");
    assert!(plain.len() > 20_000);
    let prog = compile(&e).expect("long chain, optimized");
    assert!(prog.len() < plain.len() / 2, "optimized: {}", prog.len());
    // An IPv4 frame to the last host is accepted, one to another host is not.
    let mut frame = vec![0u8; 34];
    frame[12] = 0x08;
    frame[14] = 0x45;
    frame[30..34].copy_from_slice(&[10, 0, 7, 249]);
    for p in [&plain, &prog] {
        frame[33] = 249;
        assert_eq!(bpfkit_cbpf::run(p, &frame, 34), 262_144);
        frame[33] = 250;
        assert_eq!(bpfkit_cbpf::run(p, &frame, 34), 0);
    }
    let sum = (0..3000)
        .map(|i| format!("ip[{}]", i % 60))
        .collect::<Vec<_>>()
        .join(" + ");
    assert!(compile(&format!("{sum} = 0")).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        let _ = compile(&s);
    }

    #[test]
    fn arbitrary_token_soup_never_panics(words in proptest::collection::vec(prop_oneof![
        Just("("), Just(")"), Just("and"), Just("or"), Just("not"), Just("host"), Just("tcp"),
        Just("port"), Just("80"), Just("1.2.3.4"), Just("ip[0]"), Just("="), Just("%"), Just("-"),
        Just("vlan"), Just("src"), Just("dst"), Just("len"), Just("["), Just("]"), Just(":"),
        Just("::1"), Just("0:1:2:3:4:5"), Just("ether"), Just("proto"), Just("net"), Just("/"),
        Just("8"), Just("mpls"), Just("geneve"), Just("llc"), Just("protochain"), Just("^"),
    ], 0..24)) {
        let _ = compile(&words.join(" "));
    }
}

/// Regression: `( len and` once reached an `unreachable!` in the parser.
#[test]
fn unfinished_chain_after_arithmetic_is_an_error() {
    for expr in [
        "( len and",
        "( len and len )",
        "( len or 1",
        "(len and tcp)",
    ] {
        let r = bpfkit_pcapfilter::compile(
            expr,
            bpfkit_pcapfilter::LinkType::EN10MB,
            &bpfkit_pcapfilter::CompileOptions::default(),
        );
        assert!(r.is_err(), "{expr}");
    }
}
