//! aya-obj's `Object::parse` on arbitrary bytes, for comparison with `parse_elf`
//! (see crates/object's docs and FUZZING.md): it is expected to find panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aya_obj::Object::parse(data);
});
