//! libpcap's own `bpf_filter`, loaded at run time, as the reference to beat.
//!
//! Loading the shared library with `dlopen` rather than linking it keeps the
//! crate buildable without libpcap's development files; the benchmark skips
//! the libpcap column where the library is missing.

use bpfkit_cbpf::Insn;
use std::ffi::CStr;

/// `struct bpf_insn` as libpcap lays it out.
#[repr(C)]
#[derive(Clone, Copy)]
struct BpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `u_int bpf_filter(const struct bpf_insn *pc, const u_char *p, u_int wirelen, u_int buflen)`.
type BpfFilterFn = unsafe extern "C" fn(*const BpfInsn, *const u8, u32, u32) -> u32;

/// `int bpf_validate(const struct bpf_insn *f, int len)`.
type BpfValidateFn = unsafe extern "C" fn(*const BpfInsn, libc::c_int) -> libc::c_int;

/// libpcap's interpreter, found in the installed shared library.
#[derive(Clone, Copy)]
pub struct Libpcap {
    bpf_filter: BpfFilterFn,
    bpf_validate: BpfValidateFn,
}

/// A program libpcap's `bpf_validate` accepted, in libpcap's layout, for [`Libpcap::run`].
pub struct LibpcapProgram {
    insns: Vec<BpfInsn>,
}

impl Libpcap {
    /// Opens libpcap (the names Debian and others install it under); `None` if absent.
    pub fn load() -> Option<Libpcap> {
        const NAMES: [&CStr; 3] = [c"libpcap.so.0.8", c"libpcap.so.1", c"libpcap.so"];
        for name in NAMES {
            // SAFETY: dlopen with a valid C string; libpcap's initializers are harmless.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                continue;
            }
            // SAFETY: a valid handle and symbol names.
            let (filter, validate) = unsafe {
                (
                    libc::dlsym(handle, c"bpf_filter".as_ptr()),
                    libc::dlsym(handle, c"bpf_validate".as_ptr()),
                )
            };
            if filter.is_null() || validate.is_null() {
                continue;
            }
            // SAFETY: libpcap's functions have exactly these C signatures (pcap/bpf.h); the
            // library stays loaded (never dlclose'd).
            return Some(unsafe {
                Libpcap {
                    bpf_filter: std::mem::transmute::<*mut libc::c_void, BpfFilterFn>(filter),
                    bpf_validate: std::mem::transmute::<*mut libc::c_void, BpfValidateFn>(validate),
                }
            });
        }
        None
    }

    /// `prog` in libpcap's layout if libpcap's `bpf_validate` accepts it (as
    /// `pcap_setfilter` requires before `bpf_filter` may run it).
    pub fn program(&self, prog: &[Insn]) -> Option<LibpcapProgram> {
        let insns: Vec<BpfInsn> = prog
            .iter()
            .map(|i| BpfInsn {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let len = libc::c_int::try_from(insns.len()).ok()?;
        // SAFETY: a valid array of `len` instructions; bpf_validate only reads it.
        let ok = unsafe { (self.bpf_validate)(insns.as_ptr(), len) };
        (ok != 0).then_some(LibpcapProgram { insns })
    }

    /// Runs `prog` on a packet as libpcap's `pcap_offline_filter` does.
    pub fn run(&self, prog: &LibpcapProgram, packet: &[u8], wirelen: u32) -> u32 {
        // SAFETY: bpf_validate accepted the program (non-empty, jumps in range, ending in a
        // return), and bpf_filter checks every packet access against `buflen`.
        unsafe {
            (self.bpf_filter)(
                prog.insns.as_ptr(),
                packet.as_ptr(),
                wirelen,
                packet.len() as u32,
            )
        }
    }
}
