//! A program type defined outside the crate through `ProgramEnv`: a cgroup-skb-like type
//! whose programs must return 0 or 1. The expected messages are the ones Linux 6.18 prints
//! for `BPF_PROG_TYPE_CGROUP_SKB` programs doing the same thing.

use bpfkit_asm::assemble;
use bpfkit_verifier::{
    helpers, verify, verify_with, CtxField, ErrorKind, HelperProto, Options, ProgramEnv,
};

struct ZeroOrOne;

impl ProgramEnv for ZeroOrOne {
    fn name(&self) -> &str {
        "zero_or_one"
    }
    fn ctx_access(&self, off: i64, size: u32, write: bool) -> Result<CtxField, String> {
        if off == 0 && size == 4 && !write {
            Ok(CtxField::Scalar)
        } else {
            Err(format!("ctx field at {off} is not readable here"))
        }
    }
    fn helper(&self, id: i32) -> Option<HelperProto> {
        helpers::find(&[helpers::BASE], id)
    }
    fn return_range(&self) -> Option<(i64, i64)> {
        Some((0, 1))
    }
}

#[test]
fn return_range_is_enforced() {
    let ok = assemble("r0 = *(u32 *)(r1 + 0)\nr0 &= 1\nexit").unwrap();
    assert!(verify(&ok, &ZeroOrOne).is_ok());
    let two = assemble("r0 = 2\nexit").unwrap();
    let e = verify(&two, &ZeroOrOne).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReturnValue);
    assert_eq!(
        e.message,
        "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"
    );
    let ptr = assemble("r0 = r10\nexit").unwrap();
    assert_eq!(
        verify(&ptr, &ZeroOrOne).unwrap_err().message,
        "At program exit the register R0 is not a known value (fp)"
    );
}

#[test]
fn env_messages_replace_the_default() {
    let prog = assemble("r0 = *(u32 *)(r1 + 4)\nexit").unwrap();
    assert_eq!(
        verify(&prog, &ZeroOrOne).unwrap_err().message,
        "ctx field at 4 is not readable here"
    );
}

#[test]
fn log_shows_path_states_and_summary() {
    let prog = assemble("r0 = *(u32 *)(r1 + 0)\nif r0 > 1 goto +1\nexit\nr0 = 0\nexit").unwrap();
    let v = verify_with(
        &prog,
        &ZeroOrOne,
        &Options {
            log_level: 2,
            ..Options::default()
        },
    );
    let stats = v.result.expect("accepted");
    assert!(v.log.starts_with("0: R1=ctx() R10=fp0\n"), "{}", v.log);
    assert!(v.log.contains("0: (61) r0 = *(u32 *)(r1 + 0)"), "{}", v.log);
    assert!(v.log.contains("from 1 to 3: "), "{}", v.log);
    assert!(
        v.log.contains("R0=1") || v.log.contains("R0=scalar("),
        "{}",
        v.log
    );
    assert_eq!(stats.insns_processed, 5);
    assert!(
        v.log.trim_end().ends_with(&stats.summary(1_000_000)),
        "{}",
        v.log
    );
    assert!(v.log.contains("processed 5 insns (limit 1000000)"));
}
