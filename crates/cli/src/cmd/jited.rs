//! `bpfkit disasm --jited`: the JIT's x86-64 code of a program, each eBPF instruction
//! followed by the machine instructions compiled from it (as `bpftool prog dump jited
//! opcodes` shows a kernel program's). Lines are `offset: bytes <tab> instruction` in AT&T
//! syntax, like `objdump -d`'s. The code before the first instruction's is the prologue;
//! the code after the last one's is out-of-line (failure paths, stubs) and a loop emitted
//! twice shows its second copy after its jump back.

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction};
use std::fmt::Write;

/// The listing of `code`. `insns` are the program's instructions as text with their slot
/// numbers; `offset(pc)` is where the code of the instruction at slot `pc` starts.
pub fn listing(
    code: &[u8],
    insns: &[(usize, String)],
    offset: &dyn Fn(usize) -> Option<usize>,
) -> String {
    let mut marks: Vec<(usize, String)> = vec![(0, "prologue".to_string())];
    marks.extend(
        insns
            .iter()
            .filter_map(|(pc, text)| Some((offset(*pc)?, format!("{pc}: {text}")))),
    );
    // In order of their code (stable: instructions sharing code keep their order).
    marks.sort_by_key(|&(at, _)| at);
    let mut formatter = GasFormatter::new();
    let options = formatter.options_mut();
    options.set_first_operand_char_index(7);
    options.set_uppercase_hex(false);
    options.set_branch_leading_zeros(false);
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let (mut insn, mut text, mut out) = (Instruction::default(), String::new(), String::new());
    let mut marks = marks.into_iter().peekable();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        let at = insn.ip() as usize;
        while let Some((_, mark)) = marks.next_if(|&(m, _)| m <= at) {
            let _ = writeln!(out, "; {mark}");
        }
        text.clear();
        match insn.is_invalid() {
            true => text.push_str("(bad)"),
            false => formatter.format(&insn, &mut text),
        }
        let bytes: Vec<String> = code[at..at + insn.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = writeln!(out, "{at:>6x}:\t{:<23}\t{text}", bytes.join(" "));
    }
    for (_, mark) in marks {
        let _ = writeln!(out, "; {mark}");
    }
    out
}
