//! Emitter tests: the machine code of single instructions, disassembled by binutils'
//! `objdump` (the oracle for what the bytes mean), must be the x86 the register mapping
//! and the eBPF semantics call for; where dynasm's encoding is the canonical one, the bytes
//! must also equal what `llvm-mc` assembles from that text (the oracle for the encoding).
//! Skips (with a message) when the tools are absent.

use bpfkit_jit::{CompileOptions, JitProgram};
use std::process::Command;

/// The code of the instruction at slot 0 (unchecked: no checks or metering around it).
/// The unchecked code of the first instruction of `asm`. A local call follows it, which
/// (to the JIT's liveness) reads every register, then a helper call, which may read the
/// whole stack: results unread, stores to the stack included, would not be made.
fn code_of(asm: &str) -> Vec<u8> {
    let text = format!("{asm}\ncall keep\ncall 1\nexit\nkeep:\nexit\n");
    let insns = bpfkit_asm::assemble(&text).expect("assembles");
    let options = CompileOptions {
        checked: false,
        blind_constants: false,
        zero_stack: true,
    };
    let jit = JitProgram::from_insns(&insns, &options).expect("compiles");
    let start = jit.code_offset(0).unwrap();
    let end = jit.code_offset(insns[0].slots()).unwrap();
    jit.machine_code()[start..end].to_vec()
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

/// objdump's AT&T text of each instruction in `bytes` (spaces collapsed, a redundant `rex`
/// prefix noted as "" by objdump is kept so tests can see it).
fn disassemble(bytes: &[u8]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("bpfkit-jit-enc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "{:x}.bin",
        bytes.iter().fold(0u64, |h, &b| h.rotate_left(5) ^ b as u64)
    ));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("objdump")
        .args(["-D", "-b", "binary", "-mi386:x86-64"])
        .arg(&file)
        .output()
        .expect("objdump runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let addr = parts.next()?;
            if !addr.trim_end().ends_with(':')
                || !addr.trim().starts_with(|c: char| c.is_ascii_hexdigit())
            {
                return None;
            }
            let _bytes = parts.next()?;
            let insn = parts.next()?;
            let insn = insn.trim().trim_start_matches("rex ");
            Some(insn.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

/// llvm-mc's encoding of one AT&T instruction.
fn llvm_encoding(att: &str) -> Vec<u8> {
    let mut child = Command::new("llvm-mc")
        .args(["-triple=x86_64", "--show-encoding"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("llvm-mc runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{att}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let enc = text
        .split("encoding: [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no encoding for {att}: {text}"));
    enc.split(',')
        .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
        .collect()
}

/// (eBPF instruction, expected x86 from the mapping r0=rax r1=rdi r2=rsi r3=rdx r4=rcx
/// r5=r8 r6=rbx r7=r13 r8=r14 r9=r15 r10=rbp, byte-exact with llvm-mc?)
const CASES: &[(&str, &[&str], bool)] = &[
    ("add %r0, %r1", &["add %rdi,%rax"], true),
    ("sub %r9, %r6", &["sub %rbx,%r15"], true),
    ("mov %r7, %r8", &["mov %r14,%r13"], true),
    ("xor %r4, %r5", &["xor %r8,%rcx"], true),
    ("lsh %r6, 3", &["shl $0x3,%rbx"], true),
    ("arsh %r8, 63", &["sar $0x3f,%r14"], true),
    ("neg %r9", &["neg %r15"], true),
    ("mov %r7, -1", &["mov $0xffffffffffffffff,%r13"], true),
    ("mul %r6, %r7", &["imul %r13,%rbx"], true),
    ("be64 %r0", &["bswap %rax"], true),
    ("be64 %r9", &["bswap %r15"], true),
    ("bswap32 %r8", &["bswap %r14d"], true),
    ("le16 %r7", &["movzwl %r13w,%r13d"], true),
    ("exit", &["ret"], true),
    // 32-bit forms: dynasm adds a REX prefix for run-time registers even when none is
    // needed, so these are not byte-identical with llvm-mc (the instruction is the same).
    ("add32 %r2, %r3", &["add %edx,%esi"], false),
    ("mov32 %r0, %r0", &["mov %eax,%eax"], false),
    ("be16 %r1", &["ror $0x8,%di", "movzwl %di,%edi"], false),
    // Memory operands with a run-time base always get a SIB byte (dynasm cannot know at
    // its compile time whether the base needs one), with an 8-bit displacement when it fits.
    ("ldxdw %r0, [%r1+8]", &["mov 0x8(%rdi,%riz,1),%rax"], false),
    (
        "ldxb %r6, [%r10-1]",
        &["movzbl -0x1(%rbp,%riz,1),%ebx"],
        false,
    ),
    (
        "ldxsh %r2, [%r3+2]",
        &["movswq 0x2(%rdx,%riz,1),%rsi"],
        false,
    ),
    (
        "ldxsw %r2, [%r3+4]",
        &["movslq 0x4(%rdx,%riz,1),%rsi"],
        false,
    ),
    (
        "stxw [%r10-4], %r9",
        &["mov %r15d,-0x4(%rbp,%riz,1)"],
        false,
    ),
    ("stb [%r1+3], 7", &["movb $0x7,0x3(%rdi,%riz,1)"], false),
    // `lea` is encoded by hand in its shortest form: multiplication by 3, 5, 9 without a
    // displacement (one with a displacement takes twice as long on AMD Zen), except on r13
    // (r7), which needs one.
    ("mul %r0, 3", &["lea (%rax,%rax,2),%rax"], true),
    ("mul32 %r8, 5", &["lea (%r14,%r14,4),%r14d"], true),
    ("mul %r7, 9", &["lea 0x0(%r13,%r13,8),%r13"], true),
    (
        "lock add [%r1+0], %r2",
        &["lock add %rsi,0x0(%rdi,%riz,1)"],
        false,
    ),
    (
        "lock xchg32 [%r6+8], %r0",
        &["xchg %eax,0x8(%rbx,%riz,1)"],
        false,
    ),
    (
        "lock fetch add [%r10-8], %r4",
        &["lock xadd %rcx,-0x8(%rbp,%riz,1)"],
        false,
    ),
    (
        "lock cmpxchg [%r1+0], %r7",
        &["lock cmpxchg %r13,0x0(%rdi,%riz,1)"],
        false,
    ),
    (
        "stxb [%r1+300], %r2",
        &["mov %sil,0x12c(%rdi,%riz,1)"],
        false,
    ),
    // Compare-and-branch: an 8-bit immediate, or `test` against zero.
    ("jgt %r6, 100, +0", &["cmp $0x64,%rbx", "ja 0x6"], false),
    ("jeq32 %r9, 0, +0", &["test %r15d,%r15d", "je 0x5"], false),
    (
        "jslt %r7, -1000, +0",
        &["cmp $0xfffffffffffffc18,%r13", "jl 0x9"],
        false,
    ),
    // A register shift count goes through cl (= r4), saved in r11.
    (
        "lsh %r0, %r1",
        &[
            "mov %rcx,%r11",
            "mov %rdi,%rcx",
            "shl %cl,%rax",
            "mov %r11,%rcx",
        ],
        true,
    ),
];

#[test]
fn single_instructions_disassemble_to_the_expected_x86() {
    if !tool("objdump") {
        eprintln!("skipping: objdump not installed");
        return;
    }
    let check_bytes = tool("llvm-mc");
    if !check_bytes {
        eprintln!("skipping the byte comparison: llvm-mc not installed");
    }
    for &(ebpf, expected, exact) in CASES {
        let bytes = code_of(ebpf);
        let got = disassemble(&bytes);
        assert_eq!(got, expected, "{ebpf}: {bytes:02x?}");
        if exact && check_bytes {
            let want: Vec<u8> = expected.iter().flat_map(|t| llvm_encoding(t)).collect();
            assert_eq!(bytes, want, "{ebpf}: bytes differ from llvm-mc's");
        }
    }
}

#[test]
fn immediate_compares_use_the_short_canonical_encoding() {
    if !tool("llvm-mc") {
        eprintln!("skipping: llvm-mc not installed");
        return;
    }
    for (ebpf, att) in [
        ("jgt %r6, 100, +0", "cmp $0x64,%rbx"),
        ("jne %r8, -3, +0", "cmp $-3,%r14"),
        ("jlt32 %r0, 7, +0", "cmp $7,%eax"),
        ("jsgt32 %r5, 1, +0", "cmp $1,%r8d"),
    ] {
        let bytes = code_of(ebpf);
        let want = llvm_encoding(att);
        assert_eq!(&bytes[..want.len()], &want[..], "{ebpf}");
    }
}

#[test]
fn division_handles_zero_and_minus_one_before_dividing() {
    if !tool("objdump") {
        eprintln!("skipping: objdump not installed");
        return;
    }
    // Signed 64-bit division by a register: zero and -1 divisors branch away from idiv
    // (x86 traps on both where eBPF defines a result).
    let got = disassemble(&code_of("sdiv %r6, %r7"));
    let pos = |needle: &str| {
        got.iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in {got:?}"))
    };
    assert_eq!(got[0], "mov %r13,%r11");
    assert!(pos("test %r11,%r11") < pos("idiv %r11"));
    assert!(pos("cmp $0xffffffffffffffff,%r11") < pos("idiv %r11"));
    assert!(pos("cqto") < pos("idiv %r11"));
    assert!(
        got.iter().any(|l| l == "neg %rbx"),
        "INT_MIN / -1 path: {got:?}"
    );
}

#[test]
fn fetch_or_loops_on_cmpxchg() {
    if !tool("objdump") {
        eprintln!("skipping: objdump not installed");
        return;
    }
    let got = disassemble(&code_of("lock fetch or [%r1+0], %r2"));
    let cmpxchg = got
        .iter()
        .position(|l| l.starts_with("lock cmpxchg %r9,(%r11)"))
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(got[cmpxchg + 1].starts_with("jne"), "{got:?}");
    assert!(got.iter().any(|l| l == "or %rsi,%r9"), "{got:?}");
}
