//! Differential fuzzing: arbitrary bytecode runs on the JIT (checked code) and on the
//! reference interpreter, which must agree exactly (r0, instruction count, memory, or the
//! same error at the same instruction; see `tests/common` for the one allowed difference).
//! Programs the interpreter completes also run as unchecked code, which must agree too
//! (with some helper calls plain: `common::plain_sites`).
//!
//! Input: byte 0 = flags (bit 0: check alignment, bit 1: blind constants, bit 2: set a
//! packet), byte 1 = memory length (≤ 64), then the memory, then the program. The program
//! is repaired until it loads (undecodable or rejected slots become `mov r0, imm`), and r10
//! is kept out of data positions (the engines' stacks live at different addresses, so a
//! program computing with r10 would legitimately differ).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use bpfkit_isa::{decode_raw, RawInsn};
use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, LoadError, Program};
use common::{assert_same, run, Buffers, Engine};
use libfuzzer_sys::fuzz_target;

fn filler(imm: i32) -> RawInsn {
    RawInsn::new(0xb7, 0, 0, 0, imm)
}

/// Moves r10 out of every position where its value would become data.
fn confine_r10(r: &mut RawInsn) {
    let class = r.code & 7;
    let is_x = r.code & 0x08 != 0;
    match class {
        // ALU, JMP32, JMP, ALU64: a register source; jumps also compare dst.
        4 | 6 | 5 | 7 => {
            if is_x && r.src == 10 {
                r.src = 0;
            }
            if matches!(class, 5 | 6) && r.dst == 10 {
                r.dst = 0;
            }
            // callx through r10
            if r.code == 0x8d && r.dst == 10 {
                r.dst = 0;
            }
        }
        // STX (stores and atomics): the stored/operand register.
        3 if r.src == 10 => r.src = 0,
        // ld_ind reads a register as an offset.
        0 | 1 | 2 if r.src == 10 => r.src = 0,
        _ => {}
    }
}

fn repair(mut raw: Vec<RawInsn>) -> Option<Program> {
    raw.push(RawInsn::new(0x95, 0, 0, 0, 0));
    raw.iter_mut().for_each(confine_r10);
    for _ in 0..=raw.len() {
        let decoded = match decode_raw(&raw) {
            Ok(d) => d,
            Err(e) => {
                let i = e.index.min(raw.len() - 1);
                raw[i] = filler(raw[i].imm);
                continue;
            }
        };
        match Program::from_decoded(&decoded) {
            Ok(p) => return Some(p),
            Err(LoadError { pc, .. }) => {
                let i = pc.min(raw.len() - 1);
                raw[i] = filler(raw[i].imm);
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let (flags, mem_len, rest) = match data {
        [f, m, rest @ ..] => (*f, (*m as usize) % 65, rest),
        _ => return,
    };
    let mem_len = mem_len.min(rest.len());
    let (mem, code) = rest.split_at(mem_len);
    let raw: Vec<RawInsn> = code
        .chunks_exact(8)
        .map(|c| RawInsn::from_bytes(c.try_into().unwrap()))
        .take(256)
        .collect();
    let Some(prog) = repair(raw) else { return };
    let config = Config {
        budget: 2048,
        check_alignment: flags & 1 != 0,
    };
    let blind = flags & 2 != 0;
    let packet: Option<Vec<u8>> = (flags & 4 != 0).then(|| mem.iter().rev().copied().collect());
    let packet = packet.as_deref();
    let mut bufs = Buffers::new(mem.len());
    let interp = run(Engine::Interpreter(&prog), &mut bufs, mem, packet, &config);
    let options = CompileOptions {
        checked: true,
        blind_constants: blind,
        zero_stack: true,
    };
    let jit = JitProgram::compile(&prog, &options).expect("every loadable program compiles");
    let got = run(Engine::Jit(&jit), &mut bufs, mem, packet, &config);
    assert_same(&interp, &got, &bufs, "fuzz input");
    if interp.result.is_ok() {
        let options = CompileOptions {
            checked: false,
            blind_constants: blind,
            zero_stack: true,
        };
        let sites = common::plain_sites(&prog);
        let fast = JitProgram::compile_specialized(&prog, &options, &sites)
            .expect("compiles unchecked");
        let got = run(Engine::Jit(&fast), &mut bufs, mem, packet, &config);
        let r0 = |o: &common::Outcome| o.result.as_ref().map(|e| e.r0).ok();
        assert_eq!(r0(&interp), r0(&got), "unchecked r0");
        assert_eq!(interp.memory, got.memory, "unchecked memory");
    }
});
