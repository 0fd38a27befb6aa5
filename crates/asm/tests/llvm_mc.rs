//! Oracle test: every instruction form of `common::all_forms` is disassembled by LLVM's own
//! BPF disassembler (`llvm-mc --disassemble`, the printer `llvm-objdump` uses) and must read
//! exactly as [`format_insn`] prints it in LLVM syntax.
//!
//! LLVM 14 (`llvm-mc`) is the reference; the instructions it does not know (`mod`, `jset` and
//! the v4 ones: sign-extending moves and loads, signed division, `bswap`, `gotol`,
//! store-immediate, `callx` with the register in dst) are checked against LLVM 19
//! (`/usr/lib/llvm-19/bin/llvm-mc`) when present.
//! 32-bit atomics other than a plain add are checked against `-mattr=+alu32`, the only mode in
//! which LLVM decodes them (see `print_llvm.rs`).

mod common;

use bpfkit_asm::{format_insn, Syntax};
use bpfkit_isa::{
    encode, AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, MemSize,
};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

const MC14: &str = "llvm-mc";
const MC19: &str = "/usr/lib/llvm-19/bin/llvm-mc";

fn tool_works(mc: &str) -> bool {
    Command::new(mc)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Disassembles each instruction (one per input line); `None` where LLVM rejects it.
fn llvm_disassemble(mc: &str, mattr: Option<&str>, insns: &[Insn]) -> Vec<Option<String>> {
    let mut input = String::new();
    for i in insns {
        let bytes = encode(std::slice::from_ref(i));
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:#04x}")).collect();
        input.push_str(&hex.join(" "));
        input.push('\n');
    }
    let mut cmd = Command::new(mc);
    cmd.args(["--disassemble", "-triple=bpfel"]);
    if let Some(m) = mattr {
        cmd.arg(format!("-mattr={m}"));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llvm-mc");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write llvm-mc input");
    let out = child.wait_with_output().expect("llvm-mc output");
    // Rejected encodings are reported on stderr as `<stdin>:LINE:COL: warning: ...`.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rejected: BTreeSet<usize> = stderr
        .lines()
        .filter(|l| l.contains("invalid instruction encoding"))
        .filter_map(|l| l.strip_prefix("<stdin>:")?.split(':').next()?.parse().ok())
        .collect();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut texts = stdout
        .lines()
        .filter(|l| l.starts_with('\t') && !l.trim_start().starts_with('.'))
        .map(|l| l[1..].to_string());
    (1..=insns.len())
        .map(|line| {
            if rejected.contains(&line) {
                None
            } else {
                texts.next()
            }
        })
        .collect()
}

/// Instructions LLVM 14 cannot decode: the v4 additions, `mod` and `jset` (absent from its
/// decoder tables), and callx (whose register it reads from imm instead of dst).
fn needs_llvm19(i: &Insn) -> bool {
    match i {
        Insn::Alu { op, .. } => {
            matches!(op, AluOp::MovSx(_) | AluOp::SDiv | AluOp::SMod | AluOp::Mod)
        }
        Insn::Jmp { cond, .. } => *cond == JmpCond::Set,
        Insn::Ldx { signed, .. } => *signed,
        Insn::End { kind, .. } => *kind == Endian::Swap,
        Insn::Ja { long, .. } => *long,
        Insn::St { .. } | Insn::Call(CallTarget::Reg(_)) => true,
        _ => false,
    }
}

/// 32-bit atomics that LLVM only decodes with the alu32 feature.
fn needs_alu32(i: &Insn) -> bool {
    matches!(i, Insn::Atomic { size: MemSize::W, op, .. } if *op != AtomicOp::Add { fetch: false })
}

fn compare(mc: &str, mattr: Option<&str>, insns: &[Insn]) -> usize {
    let theirs = llvm_disassemble(mc, mattr, insns);
    let mut failures = Vec::new();
    for (i, want) in insns.iter().zip(theirs) {
        let ours = format_insn(i, Syntax::Llvm);
        match want {
            Some(t) if t == ours => {}
            other => failures.push(format!("{i:?}\n  ours:  {ours}\n  {mc}: {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches against {mc} {mattr:?}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    insns.len()
}

#[test]
fn llvm_syntax_matches_llvm_disassembler() {
    if !tool_works(MC14) {
        eprintln!("skipping: llvm-mc not found");
        return;
    }
    let forms: Vec<Insn> = common::all_forms()
        .into_iter()
        // ld_pseudo: LLVM prints only the low 32 bits; ours keeps all 64 (see print_llvm.rs).
        .filter(|i| !matches!(i, Insn::LdImm64 { kind, imm, .. } if *kind != LdImm64Kind::Imm && imm >> 32 != 0))
        .collect();
    let (v4, base): (Vec<Insn>, Vec<Insn>) = forms.into_iter().partition(needs_llvm19);
    let (alu32, plain): (Vec<Insn>, Vec<Insn>) = base.into_iter().partition(needs_alu32);
    let mut checked = compare(MC14, None, &plain);
    checked += compare(MC14, Some("+alu32"), &alu32);
    // (Without LLVM 19, the v4 forms, about 40, go unchecked.)
    let mut least = 450;
    if tool_works(MC19) {
        checked += compare(MC19, None, &v4);
        // LLVM 19 prints the LLVM 14 forms the same way.
        compare(MC19, None, &plain);
        least = 500;
    } else {
        eprintln!("skipping the v4 forms: {MC19} not found");
    }
    assert!(checked > least, "only {checked} forms checked");
}
