//! Reading a program given on the command line, in whichever form it comes.

use anyhow::{bail, Context, Result};
use bpfkit_isa::{decode, Insn};
use std::path::Path;

/// How a program file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// eBPF assembly, LLVM (`r0 = 1`) or uBPF (`mov %r0, 1`) syntax.
    Asm,
    /// Raw little-endian bytecode, 8 bytes a slot.
    Raw,
    /// An ELF object built by `clang -target bpf` (maps, global data, helpers).
    Elf,
}

/// Picks the format from `--format`, else the file name (`.s`, `.asm` → asm; `.bin` → raw),
/// else the content (text that is valid UTF-8 and has no NUL → asm).
pub fn detect(path: &Path, bytes: &[u8], format: Option<Format>) -> Format {
    if let Some(f) = format {
        return f;
    }
    if bytes.starts_with(b"\x7fELF") {
        return Format::Elf;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("s" | "asm" | "S") => Format::Asm,
        Some("bin" | "raw") => Format::Raw,
        _ if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() => Format::Asm,
        _ => Format::Raw,
    }
}

/// Reads and decodes (or assembles) the program in `path`; for an ELF object, the program
/// named `program` (the first one if `None`), linked, with map references left symbolic.
pub fn load_program(
    path: &Path,
    format: Option<Format>,
    program: Option<&str>,
) -> Result<Vec<Insn>> {
    program_from_bytes(path, &read(path)?, format, program)
}

/// The contents of `path`.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// [`load_program`] of the contents `bytes` of `path`, already read.
pub fn program_from_bytes(
    path: &Path,
    bytes: &[u8],
    format: Option<Format>,
    program: Option<&str>,
) -> Result<Vec<Insn>> {
    match detect(path, bytes, format) {
        Format::Elf => {
            let object =
                bpfkit_object::Object::parse(bytes).with_context(|| path.display().to_string())?;
            let prog = match program {
                Some(name) => object
                    .program(name)
                    .with_context(|| format!("{}: no program named {name}", path.display()))?,
                None => object
                    .programs
                    .first()
                    .with_context(|| format!("{}: no program", path.display()))?,
            };
            Ok(prog.insns.clone())
        }
        Format::Asm => {
            let text = std::str::from_utf8(bytes)
                .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
            bpfkit_asm::assemble(text).with_context(|| path.display().to_string())
        }
        Format::Raw => Ok(decode(bytes)
            .with_context(|| path.display().to_string())?
            .into_iter()
            .map(|d| d.insn)
            .collect()),
    }
}

/// Parses hex bytes separated by white space (`"aa bb 0c"`), also accepting runs (`"aabb0c"`).
pub fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (n, word) in text.split_whitespace().enumerate() {
        let word = word.trim_start_matches("0x");
        if word.len() % 2 != 0 {
            bail!(
                "--mem-hex: word {} ({word:?}) has an odd number of digits",
                n + 1
            );
        }
        for i in (0..word.len()).step_by(2) {
            let byte = u8::from_str_radix(&word[i..i + 2], 16)
                .with_context(|| format!("--mem-hex: word {} ({word:?}) is not hex", n + 1))?;
            out.push(byte);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_words_and_runs() {
        assert_eq!(parse_hex("aa bb\n0c").unwrap(), vec![0xaa, 0xbb, 0x0c]);
        assert_eq!(parse_hex("aabb 0x0c").unwrap(), vec![0xaa, 0xbb, 0x0c]);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
    }
}
