//! Validation, interpretation (with and without ancillary data), printing
//! and parsing never panic; every program prints and parses back unchanged;
//! the pre-decoded `Filter` agrees with `run`.
#![no_main]

use bpfkit_cbpf::{
    dump, parse_dd, parse_ddd, run, run_with_ancillary, validate, Ancillary, DumpFormat, Filter,
};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((prog, packet, wirelen)) = common::split(data) else {
        return;
    };
    let valid = validate(&prog).is_ok();
    let plain = run(&prog, packet, wirelen);
    assert_eq!(Filter::new(&prog).run(packet, wirelen), plain);
    let anc = Ancillary {
        network_offset: 14,
        ..Ancillary::default()
    };
    let linux = run_with_ancillary(&prog, packet, wirelen, &anc);
    // Without ancillary or negative loads the two agree.
    if valid
        && !prog
            .iter()
            .any(|i| i.k >= 0x8000_0000 && i.code & 0x07 <= 1)
    {
        assert_eq!(plain, linux);
    }
    let _ = dump(&prog, DumpFormat::Image);
    assert_eq!(parse_ddd(&dump(&prog, DumpFormat::Decimal)).unwrap(), prog);
    assert_eq!(parse_dd(&dump(&prog, DumpFormat::C)).unwrap(), prog);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_ddd(text);
        let _ = parse_dd(text);
    }
});
