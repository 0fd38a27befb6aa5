//! `validate` against the running Linux kernel: a program is valid exactly
//! when `setsockopt(SO_ATTACH_FILTER)` accepts it.

mod common;

use bpfkit_cbpf::{dump, op, validate, DumpFormat, Insn, ValidateErrorKind};
use common::*;

/// Whether the kernel accepts `prog` as a socket filter: `Some(true)`,
/// `Some(false)` (EINVAL), or `None` when the attempt fails otherwise.
fn kernel_accepts(prog: &[Insn]) -> Option<bool> {
    // SAFETY: plain socket calls on a descriptor this function owns;
    // `filter` and `fprog` outlive the setsockopt call that reads them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return None;
        }
        let mut filter: Vec<libc::sock_filter> = prog
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        );
        let errno = std::io::Error::last_os_error().raw_os_error();
        libc::close(fd);
        match (rc, errno) {
            (0, _) => Some(true),
            (_, Some(libc::EINVAL)) => Some(false),
            _ => None,
        }
    }
}

#[test]
fn validate_agrees_with_the_kernel_on_random_programs() {
    if kernel_accepts(&[Insn::stmt(op::RET_K, 0)]) != Some(true) {
        eprintln!("skipping: cannot attach socket filters here");
        return;
    }
    let mut rng = Rng::new(0xc0ffee);
    let mut per_rule = std::collections::BTreeMap::new();
    let mut compared = 0;
    for i in 0..6000 {
        let shape = Shape {
            chaos: [0, 3, 10, 30][i % 4],
            max_len: 16,
        };
        let prog = random_program(&mut rng, shape);
        let Some(kernel) = kernel_accepts(&prog) else {
            continue;
        };
        let ours = validate(&prog);
        assert_eq!(
            ours.is_ok(),
            kernel,
            "ours: {ours:?}, kernel accepts: {kernel}\n{}",
            dump(&prog, DumpFormat::Image)
        );
        let rule = match ours {
            Ok(()) => "valid".to_owned(),
            Err(e) => format!("{:?}", e.kind)
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_owned(),
        };
        *per_rule.entry(rule).or_insert(0) += 1;
        compared += 1;
    }
    eprintln!("{compared} programs compared: {per_rule:?}");
    // Each rule was exercised, so agreement means something.
    for rule in [
        "valid",
        "UnknownOpcode",
        "JumpOutOfRange",
        "ScratchIndex",
        "DivisionByZero",
        "ShiftTooLarge",
        "UnknownAncillary",
        "LastNotReturn",
        "ScratchReadBeforeWrite",
    ] {
        assert!(
            per_rule.get(rule).copied().unwrap_or(0) > 0,
            "rule {rule} never hit"
        );
    }
}

#[test]
fn length_limits_agree_with_the_kernel() {
    if kernel_accepts(&[Insn::stmt(op::RET_K, 0)]) != Some(true) {
        eprintln!("skipping: cannot attach socket filters here");
        return;
    }
    let longest = vec![Insn::stmt(op::RET_K, 0); op::MAXINSNS];
    assert_eq!(validate(&longest), Ok(()));
    assert_eq!(kernel_accepts(&longest), Some(true));
    // One more than BPF_MAXINSNS: the kernel refuses it with EINVAL.
    let too_long = vec![Insn::stmt(op::RET_K, 0); op::MAXINSNS + 1];
    assert_eq!(kernel_accepts(&too_long), Some(false));
    assert!(matches!(
        validate(&too_long).unwrap_err().kind,
        ValidateErrorKind::TooLong { .. }
    ));
    assert_eq!(kernel_accepts(&[]), Some(false));
    assert!(validate(&[]).is_err());
}
