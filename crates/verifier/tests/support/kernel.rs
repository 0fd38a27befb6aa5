//! Loads a program into the running kernel with bpf(2) to record the kernel verifier's decision.

use bpfkit_isa::{encode, Insn, LdImm64Kind};
use bpfkit_verifier::{MapInfo, MapType};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;

fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> i64 {
    // SAFETY: `attr` is a zero-padded `union bpf_attr` image that outlives the call.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) as i64 }
}

fn put32(a: &mut [u8], off: usize, v: u32) {
    a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(a: &mut [u8], off: usize, v: u64) {
    a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Whether bpf(2) works here (root on Linux).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

struct Fds(Vec<i32>);

impl Drop for Fds {
    fn drop(&mut self) {
        for &fd in &self.0 {
            // SAFETY: closing descriptors this test created.
            unsafe { libc::close(fd) };
        }
    }
}

fn create_map(m: &MapInfo) -> Result<i32, String> {
    let mut attr = [0u8; 128];
    let (key, value, entries) = match m.map_type {
        MapType::Ringbuf => (0, 0, 4096),
        MapType::Queue | MapType::Stack => (0, m.value_size, m.max_entries),
        _ => (m.key_size, m.value_size, m.max_entries),
    };
    put32(&mut attr, 0, m.map_type.number());
    put32(&mut attr, 4, key);
    put32(&mut attr, 8, value);
    put32(&mut attr, 12, entries);
    if m.read_only {
        put32(&mut attr, 16, 0x80); // BPF_F_RDONLY_PROG
    }
    let fd = bpf(BPF_MAP_CREATE, &mut attr);
    if fd < 0 {
        return Err(format!(
            "map create failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(fd as i32)
}

/// Loads the program; returns (accepted, the kernel's verifier log).
pub fn load(prog_type: u32, insns: &[Insn], maps: &[MapInfo]) -> Result<(bool, String), String> {
    load_with_log_level(prog_type, insns, maps, 1)
}

/// Like [`load`] with a kernel log level (4: statistics only, with `verification time`).
pub fn load_with_log_level(
    prog_type: u32,
    insns: &[Insn],
    maps: &[MapInfo],
    level: u32,
) -> Result<(bool, String), String> {
    let mut fds = Fds(Vec::new());
    for m in maps {
        fds.0.push(create_map(m)?);
    }
    let patched: Vec<Insn> = insns
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::MapIdx,
                imm,
            } => Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::MapFd,
                imm: fds.0[imm as usize] as u64,
            },
            Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::MapIdxValue,
                imm,
            } => Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::MapValue,
                imm: (imm & !0xffff_ffff) | fds.0[(imm as u32) as usize] as u32 as u64,
            },
            other => other,
        })
        .collect();
    let code = encode(&patched);
    let license = b"GPL\0";
    let mut log = vec![0u8; 1 << 22];
    let mut attr = [0u8; 160];
    put32(&mut attr, 0, prog_type);
    put32(&mut attr, 4, (code.len() / 8) as u32);
    put64(&mut attr, 8, code.as_ptr() as u64);
    put64(&mut attr, 16, license.as_ptr() as u64);
    put32(&mut attr, 24, level);
    put32(&mut attr, 28, log.len() as u32);
    put64(&mut attr, 32, log.as_mut_ptr() as u64);
    let fd = bpf(BPF_PROG_LOAD, &mut attr);
    let errno = std::io::Error::last_os_error();
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).into_owned();
    if fd >= 0 {
        fds.0.push(fd as i32);
        return Ok((true, text));
    }
    let text = if text.is_empty() {
        format!("(no log: {errno})")
    } else {
        text
    };
    Ok((false, text))
}

/// The kernel's reason: the last message line before the summary, skipping the state
/// dumps that follow some errors.
pub fn reason(log: &str) -> String {
    let skip = [
        "processed ",
        "verification time",
        "stack depth",
        "cur state:",
        "old state:",
    ];
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("processed "))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .rev()
        .find(|l| !skip.iter().any(|s| l.starts_with(s)))
        .map(|s| s.to_string())
        .unwrap_or_default()
}
