//! What the verifier does not model is rejected with a message that says so, not with a
//! kernel message that would be wrong here (the kernel accepts these programs).

use bpfkit_isa::{AluOp, CallTarget, Insn, Operand, Reg, Width};
use bpfkit_verifier::{envs::TcEnv, verify, ErrorKind};

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

#[test]
fn dynptr_helpers_are_named_as_unsupported() {
    // bpf_dynptr_from_mem(fp-8, 8, 0, fp-24): valid for tc in the kernel.
    let prog = [
        mov(Reg::R1, Operand::Reg(Reg::R10)),
        add(Reg::R1, -8),
        mov(Reg::R2, Operand::Imm(8)),
        mov(Reg::R3, Operand::Imm(0)),
        mov(Reg::R4, Operand::Reg(Reg::R10)),
        add(Reg::R4, -24),
        Insn::Call(CallTarget::Helper(197)),
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ];
    let e = verify(&prog, &TcEnv::default()).unwrap_err();
    assert_eq!(e.insn, 6);
    assert_eq!(
        e.message,
        "bpf_dynptr_from_mem#197: dynptrs are not supported by bpfkit's verifier"
    );
}

#[test]
fn helpers_outside_the_tables_are_named_as_unsupported() {
    // bpf_get_current_task (35) exists in the kernel; no bpfkit table has it.
    let prog = [
        Insn::Call(CallTarget::Helper(35)),
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ];
    let e = verify(&prog, &TcEnv::default()).unwrap_err();
    assert_eq!(
        e.message,
        "helper bpf_get_current_task#35 is not supported by bpfkit's verifier"
    );
}

#[test]
fn kfuncs_are_rejected_as_unsupported() {
    let prog = [
        Insn::Call(CallTarget::Kfunc(1)),
        mov(Reg::R0, Operand::Imm(0)),
        Insn::Exit,
    ];
    let e = verify(&prog, &TcEnv::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.message, "calling kernel functions is not supported");
}
