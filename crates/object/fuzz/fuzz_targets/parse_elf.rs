//! Arbitrary bytes into `Object::parse`: must return Ok or Err, never panic or hang.
//! When parsing succeeds, the object must be self-consistent and its map
//! references resolvable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = bpfkit_object::Object::parse(data) {
        assert!(obj.validate().is_ok());
        for p in &obj.programs {
            let resolved = p.resolve_maps(|i| i as i32 + 3);
            assert_eq!(resolved.len(), p.insns.len());
            let bytes = bpfkit_isa::encode(&resolved);
            assert_eq!(bytes.len(), p.slot_count() * 8);
        }
    }
});
