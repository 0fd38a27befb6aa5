use bpfkit_jit::{CompileOptions, JitProgram};
use bpfkit_vm::{Config, MemoryMap, NoHelpers};
fn main() {
    let insns = bpfkit_asm::assemble("mov %r0, 1\nexit\n").unwrap();
    let jit = JitProgram::from_insns(&insns, &CompileOptions::default()).unwrap();
    let mut mem = vec![0u8; 64];
    let mut map = MemoryMap::new();
    let addr = map.add_slice_mut(&mut mem);
    let n = 20_000_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            jit.run(
                [addr, 64, 0, 0, 0],
                &mut map,
                &mut NoHelpers,
                &Config::default(),
            )
            .unwrap(),
        );
    }
    println!("{:.1} ns", t.elapsed().as_secs_f64() / n as f64 * 1e9);
}
