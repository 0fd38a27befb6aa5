//! Fuzz the interpreter: arbitrary bytecode on arbitrary memory with a small budget.
//!
//! Input layout: byte 0 = flags (bit 0: repair the program so it loads, bit 1: check
//! alignment), byte 1 = memory length, then that many memory bytes, then the program.
//! Properties: loading and running never panic, and never write outside the regions: the
//! input memory sits between two canary areas that are not regions and must stay intact, and
//! the read-only region must stay unchanged.
#![no_main]

use bpfkit_isa::{decode_raw, RawInsn};
use bpfkit_vm::{
    Access, Config, HelperReturn, HelperTable, LoadError, MemoryMap, Program, VmError,
};
use libfuzzer_sys::fuzz_target;

/// `mov64 r0, imm`: the replacement for a slot that does not decode or does not load.
fn filler(imm: i32) -> RawInsn {
    RawInsn::new(0xb7, 0, 0, 0, imm)
}

/// Replaces undecodable slots, then instructions the loader rejects, until the program loads.
fn repair(mut raw: Vec<RawInsn>) -> Option<Program> {
    raw.push(RawInsn::new(0x95, 0, 0, 0, 0)); // never fall off the end
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

fn helpers() -> HelperTable {
    let mut h = HelperTable::new();
    h.register(5, |a, _| {
        Ok(if a[0] == 0 {
            HelperReturn::Stop(0)
        } else {
            HelperReturn::Value(a[0])
        })
    });
    // A fresh buffer of r1 % 64 bytes, filled with r2's low byte.
    h.register(1, |a, ctx| {
        let buf = vec![a[1] as u8; (a[0] % 64) as usize];
        Ok(HelperReturn::Value(ctx.memory.add_owned(buf, Access::ReadWrite)))
    });
    // Sum of r2 % 32 bytes at r1, read through the checked map.
    h.register(2, |a, ctx| {
        let v = ctx.memory.read_vec(a[0], (a[1] % 32) as usize)?;
        Ok(HelperReturn::Value(v.iter().map(|&b| b as u64).sum()))
    });
    // Write r3's bytes at r1 (r2 % 9 of them).
    h.register(3, |a, ctx| {
        let bytes = a[2].to_le_bytes();
        ctx.memory.write(a[0], &bytes[..(a[1] % 9) as usize])?;
        Ok(HelperReturn::Value(0))
    });
    h
}

const CANARY: usize = 64;

/// Runs with r1 = `mem` (writable, placed between canaries), r2 = its length, r3 = a
/// read-only copy, and the copy as the packet; checks nothing outside `mem` changed.
fn run_checked(prog: &Program, mem: &[u8], config: &Config) -> Result<u64, VmError> {
    let mut buf = vec![0xa5u8; CANARY + mem.len() + CANARY];
    buf[CANARY..CANARY + mem.len()].copy_from_slice(mem);
    let packet = mem.to_vec();
    let result = {
        let (_, tail) = buf.split_at_mut(CANARY);
        let (inner, _) = tail.split_at_mut(mem.len());
        let mut map = MemoryMap::new();
        map.set_packet(&packet);
        let len = inner.len() as u64;
        let addr = map.add_slice_mut(inner);
        let ro = map.add_slice(&packet);
        prog.run([addr, len, ro, 0, 0], &mut map, &mut helpers(), config)
            .map(|e| e.r0)
    };
    assert!(buf[..CANARY].iter().all(|&b| b == 0xa5), "write below the region");
    assert!(buf[CANARY + mem.len()..].iter().all(|&b| b == 0xa5), "write above the region");
    assert_eq!(packet, mem, "read-only region changed");
    result
}

fuzz_target!(|data: &[u8]| {
    let (flags, mem_len, rest) = match data {
        [f, m, rest @ ..] => (*f, *m as usize, rest),
        _ => return,
    };
    let mem_len = mem_len.min(rest.len());
    let (mem, code) = rest.split_at(mem_len);
    let raw: Vec<RawInsn> = code
        .chunks_exact(8)
        .map(|c| RawInsn::from_bytes(c.try_into().unwrap()))
        .take(256)
        .collect();
    let prog = if flags & 1 != 0 {
        match repair(raw) {
            Some(p) => p,
            None => return,
        }
    } else {
        let bytes: Vec<u8> = raw.iter().flat_map(|r| r.to_bytes()).collect();
        match Program::from_bytes(&bytes) {
            Ok(p) => p,
            Err(_) => return,
        }
    };
    let config = Config {
        budget: 4096,
        check_alignment: flags & 2 != 0,
    };
    let _ = run_checked(&prog, mem, &config);
});
