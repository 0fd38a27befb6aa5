//! Differential: the eBPF translation run on bpfkit's VM returns what the
//! cBPF interpreter returns, for any instruction sequence and packet.
#![no_main]

use bpfkit_cbpf::{run, to_ebpf_with, WireLen};
use bpfkit_vm::{Config, MemoryMap, NoHelpers, Program};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((prog, packet, wirelen)) = common::split(data) else {
        return;
    };
    let ebpf = Program::load(&to_ebpf_with(&prog, WireLen::InR3)).expect("translation loads");
    let mut memory = MemoryMap::new();
    let addr = memory.add_slice(packet);
    let config = Config {
        budget: 1 << 30,
        ..Config::default()
    };
    let regs = [addr, packet.len() as u64, u64::from(wirelen), 0, 0];
    let exit = ebpf
        .run(regs, &mut memory, &mut NoHelpers, &config)
        .expect("the VM runs it");
    assert_eq!(exit.r0, u64::from(run(&prog, packet, wirelen)));
});
