//! Prints the program for a filter expression in `tcpdump -ddd` format.
//!
//! Usage: `pcapc [-y LINKTYPE] [-O] [-r|-R] [-d] EXPRESSION...`
//!
//! `-O` turns the optimizer off; `-d` prints `tcpdump -d`'s format; `-r` compiles for a capture file (`-R`: one
//! written in the other byte order). With `--batch`, reads
//! `LINKTYPE<TAB>EXPRESSION` lines from standard input and prints, for each,
//! one line: the instructions as `code jt jf k` separated by `,`, or
//! `error: MESSAGE` (for comparing many expressions with tcpdump quickly).

use std::io::BufRead;

use bpfkit_pcapfilter::{compile, CompileOptions, LinkType, PacketSource};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut linktype = LinkType::EN10MB;
    let mut opts = CompileOptions::default();
    let mut words = Vec::new();
    let mut batch = false;
    let mut image = false;
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
            "-r" => opts.source = PacketSource::Savefile { swapped: false },
            "-R" => opts.source = PacketSource::Savefile { swapped: true },
            "--batch" => batch = true,
            "-d" => image = true,
            _ => words.push(a),
        }
    }
    if batch {
        for line in std::io::stdin().lock().lines() {
            let line = line.expect("standard input");
            let (name, expr) = line.split_once('\t').unwrap_or(("EN10MB", &line));
            let Some(lt) = LinkType::from_name(name) else {
                println!("error: unknown link type {name}");
                continue;
            };
            match compile(expr, lt, &opts) {
                Ok(prog) => {
                    let insns: Vec<String> = prog
                        .iter()
                        .map(|i| format!("{} {} {} {}", i.code, i.jt, i.jf, i.k))
                        .collect();
                    println!("{}", insns.join(","));
                }
                Err(e) => println!("error: {e}"),
            }
        }
        return;
    }
    match compile(&words.join(" "), linktype, &opts) {
        Ok(prog) if image => print!(
            "{}",
            bpfkit_cbpf::dump(&prog, bpfkit_cbpf::DumpFormat::Image)
        ),
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
