//! Verifies every program of ELF objects: `cargo run --example verify_object -- [--type T] [--log N] OBJ.o...`.
//! Prints one line per program (accepted with the processed count, or the rejection).

use bpfkit_verifier::object::{verify_program, Target};
use bpfkit_verifier::Options;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut target = None;
    let mut log_level = 0;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--type" => {
                target = Some(Target::from_name(&args.next().ok_or("--type T")?).ok_or("bad type")?)
            }
            "--log" => log_level = args.next().ok_or("--log N")?.parse()?,
            _ => files.push(a),
        }
    }
    let opts = Options {
        log_level,
        ..Options::default()
    };
    for f in files {
        let object = bpfkit_object::Object::parse(&std::fs::read(&f)?)?;
        for p in &object.programs {
            let t = std::time::Instant::now();
            let v = verify_program(&object, p, target, &opts)?;
            let dt = t.elapsed();
            print!("{}", v.log);
            match v.result {
                Ok(s) => println!(
                    "{f} {}: accepted, {} insns processed, {dt:?}",
                    p.name, s.insns_processed
                ),
                Err(e) => println!("{f} {}: REJECTED {e} ({dt:?})", p.name),
            }
        }
    }
    Ok(())
}
