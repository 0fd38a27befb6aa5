//! Lex, parse and compile arbitrary text as a filter expression.
//!
//! The whole input (lossily decoded as UTF-8) is the expression. It is
//! compiled for Ethernet and for one more supported link type chosen by its
//! length, as for a live capture and as for a capture file, with and
//! without optimization.
//!
//! Checked: nothing panics (lexer, parser, code generation, optimizer,
//! layout); an error that names a position names a character boundary of
//! the text, with the line and column of that offset; a parsed expression
//! never fails in layout (an internal error); when the unoptimized program
//! compiles, the optimized one compiles too, or is refused as rejecting
//! every packet or as a constant division/shift; every program passes the
//! kernel's socket-filter rules except the length limit, reading a scratch
//! cell before storing it (libpcap's own unoptimized header-length code does
//! that) and `protochain`'s backward jump (libpcap's loop).
#![no_main]

use bpfkit_cbpf::{validate, ValidateErrorKind};
use bpfkit_pcapfilter::{
    compile_with, lexer, parser, CompileError, CompileOptions, LinkType, PacketSource, Position,
    StaticResolver,
};
use libfuzzer_sys::fuzz_target;

/// Checks that an error's position, if it has one, is a real place in `text`.
fn check_position(text: &str, err: &CompileError) {
    let pos = match err {
        CompileError::Lex { pos, .. }
        | CompileError::Syntax { pos, .. }
        | CompileError::Semantic { pos, .. } => *pos,
        _ => return,
    };
    assert!(
        text.is_char_boundary(pos.offset),
        "{text:?}: error {err} at offset {} inside a character",
        pos.offset
    );
    assert_eq!(pos, Position::locate(text, pos.offset), "{text:?}: {err}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    if let Err(e) = lexer::tokenize(text) {
        check_position(text, &e);
    }
    if let Err(e) = parser::parse(text) {
        check_position(text, &e);
        return;
    }
    let types: Vec<LinkType> = LinkType::supported().collect();
    let other = types[text.len() % types.len()];
    let resolver = StaticResolver::new();
    for lt in [LinkType::EN10MB, other] {
        for source in [
            PacketSource::Live,
            PacketSource::Savefile { swapped: false },
        ] {
            let plain = CompileOptions {
                optimize: false,
                source,
                ..CompileOptions::default()
            };
            let optimized = CompileOptions {
                optimize: true,
                ..plain
            };
            let unopt = compile_with(text, lt, &plain, &resolver);
            let opt = compile_with(text, lt, &optimized, &resolver);
            for result in [&unopt, &opt] {
                match result {
                    Ok(prog) => {
                        if let Err(e) = validate(prog) {
                            // protochain's loop is libpcap's backward `ja`.
                            let backward_ja = e
                                .index
                                .is_some_and(|i| prog[i].code == 0x05 && (prog[i].k as i32) < 0);
                            assert!(
                                backward_ja
                                    || matches!(
                                        e.kind,
                                        ValidateErrorKind::TooLong { .. }
                                            | ValidateErrorKind::ScratchReadBeforeWrite { .. }
                                    ),
                                "{text:?} on {lt}: invalid program: {e}\n{prog:?}"
                            );
                        }
                    }
                    Err(e @ CompileError::Layout { .. }) => {
                        panic!("{text:?} on {lt}: {e}")
                    }
                    Err(e) => check_position(text, e),
                }
            }
            if unopt.is_ok() {
                match &opt {
                    Ok(_) | Err(CompileError::RejectsAll) | Err(CompileError::Constant(_)) => {}
                    Err(e) => {
                        panic!("{text:?} on {lt}: unoptimized compiles, optimized fails: {e}")
                    }
                }
            }
        }
    }
});
