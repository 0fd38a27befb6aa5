//! Prints what bpfkit-object loads from an ELF file: `cargo run --example dump -- X.o`.

use bpfkit_object::Object;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE.o");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let obj = match Object::parse(&bytes) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "license {:?} version {:?} btf {}",
        obj.license,
        obj.kernel_version,
        obj.btf.is_some()
    );
    for (i, m) in obj.maps.iter().enumerate() {
        println!(
            "map {i} {} type={} key={} value={} max={} flags={:#x} pin={:?} origin={:?} btf=({:?},{:?}) data={} inner={:?} slots={:?}",
            m.name,
            m.kind().map_or_else(|| m.map_type.to_string(), |k| k.to_string()),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.map_flags,
            m.pinning,
            m.origin,
            m.btf_key_type_id,
            m.btf_value_type_id,
            m.data.as_ref().map_or(0, Vec::len),
            m.inner.as_ref().map(|i| (&i.name, i.map_type, i.key_size, i.value_size, i.max_entries)),
            m.initial_slots,
        );
    }
    for p in &obj.programs {
        println!(
            "prog {} section={} type={} attach={:?} target={:?} slots={} functions={:?}",
            p.name,
            p.section.name,
            p.prog_type(),
            p.section.attach_type,
            p.section.attach_target,
            p.slot_count(),
            p.functions
                .iter()
                .map(|f| (&f.name, f.start))
                .collect::<Vec<_>>()
        );
        for r in p.map_refs() {
            println!(
                "  pc {} -> map {} ({}) offset {:?}",
                r.pc, r.map, obj.maps[r.map].name, r.value_offset
            );
        }
    }
}
