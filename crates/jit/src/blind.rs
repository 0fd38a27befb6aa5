//! Constant blinding: immediates never appear verbatim in executable memory.
//!
//! As the kernel's `bpf_jit_blind_constants`: each immediate `k` is emitted as `k ^ key`
//! followed by `xor key` into a scratch register, with a fresh random key per instruction, so
//! a program cannot plant chosen byte sequences (JIT spraying gadgets) in the code.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A per-compile key stream (xorshift64*, seeded from the OS-random `RandomState`).
pub(crate) struct Blinder {
    state: u64,
}

impl Blinder {
    /// A new, randomly seeded stream.
    pub(crate) fn new() -> Blinder {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Blinder {
            state: h.finish() | 1,
        }
    }

    /// The next 64-bit key.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next 32-bit key.
    pub(crate) fn next_i32(&mut self) -> i32 {
        (self.next_u64() >> 32) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_between_compiles_and_within_one() {
        let (mut a, mut b) = (Blinder::new(), Blinder::new());
        let ka: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let kb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_ne!(ka, kb);
        assert_ne!(ka[0], ka[1]);
    }
}
