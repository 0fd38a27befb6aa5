//! Prints the program for a filter expression in `tcpdump -ddd` format.
//!
//! Usage: `pcapc [-y LINKTYPE] [-O] EXPRESSION...`

use bpfkit_pcapfilter::{compile, CompileOptions, LinkType};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut linktype = LinkType::EN10MB;
    let mut opts = CompileOptions::default();
    let mut words = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-y" => {
                let name = args.next().unwrap_or_default();
                linktype = LinkType::from_name(&name).unwrap_or_else(|| {
                    eprintln!("unknown link type {name}");
                    std::process::exit(2)
                });
            }
            "-O" => opts.optimize = false,
            _ => words.push(a),
        }
    }
    match compile(&words.join(" "), linktype, &opts) {
        Ok(prog) => {
            println!("{}", prog.len());
            for i in prog {
                println!("{} {} {} {}", i.code, i.jt, i.jf, i.k);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
