//! The `.data` format of the conformance vectors.
//!
//! `#` starts a comment; a line containing `--` starts a section (`asm`, `raw`, `mem`,
//! `result`, `error`; others such as `c` or `no register offset` are skipped).

use thiserror::Error;

/// One test vector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCase {
    /// The `-- asm` text (comments removed, line structure kept).
    pub asm: Option<String>,
    /// Line of the file where the asm text starts (1-based), for error messages.
    pub asm_line: usize,
    /// The `-- raw` 64-bit instruction words (opcode in bits 0-7); wins over `asm`.
    pub raw: Option<Vec<u64>>,
    /// The `-- mem` bytes (empty when absent).
    pub mem: Vec<u8>,
    /// The expected r0.
    pub result: Option<u64>,
    /// The expected error text, if the program must fail.
    pub error: Option<String>,
}

/// A malformed `.data` file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    Ignored,
}

fn section_of(header: &str) -> Section {
    // Matched as substrings, like the suite's own reader; `raw` before `asm` is irrelevant
    // since no name contains another.
    for (name, s) in [
        ("asm", Section::Asm),
        ("raw", Section::Raw),
        ("mem", Section::Mem),
        ("result", Section::Result),
        ("error", Section::Error),
    ] {
        if header.contains(name) {
            return s;
        }
    }
    Section::Ignored
}

/// Parses an integer written in hex (`0x` prefix) or decimal, optionally negative.
fn parse_int(word: &str) -> Option<u64> {
    let (neg, digits) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses the text of one `.data` file.
pub fn parse(text: &str) -> Result<TestCase, ParseError> {
    let mut case = TestCase::default();
    let mut section = Section::None;
    let mut asm = String::new();
    let mut error = String::new();
    let (mut has_asm, mut has_error) = (false, false);
    for (i, full) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = full.split('#').next().unwrap_or("");
        if line.contains("--") {
            section = section_of(line);
            match section {
                Section::Asm => {
                    has_asm = true;
                    case.asm_line = line_no + 1;
                }
                Section::Raw => case.raw = Some(Vec::new()),
                Section::Error => has_error = true,
                _ => {}
            }
            continue;
        }
        let err = |message: String| ParseError {
            line: line_no,
            message,
        };
        match section {
            Section::Asm => {
                asm.push_str(line);
                asm.push('\n');
            }
            Section::Raw => {
                let words = case.raw.get_or_insert_with(Vec::new);
                for w in line.split_whitespace() {
                    words.push(parse_int(w).ok_or_else(|| err(format!("bad raw word {w:?}")))?);
                }
            }
            Section::Mem => {
                for w in line.split_whitespace() {
                    let b = u8::from_str_radix(w, 16)
                        .map_err(|_| err(format!("bad memory byte {w:?}")))?;
                    case.mem.push(b);
                }
            }
            Section::Result => {
                for w in line.split_whitespace() {
                    if case.result.is_some() {
                        return Err(err("more than one result".into()));
                    }
                    case.result =
                        Some(parse_int(w).ok_or_else(|| err(format!("bad result {w:?}")))?);
                }
            }
            Section::Error => {
                if !line.trim().is_empty() {
                    if !error.is_empty() {
                        error.push('\n');
                    }
                    error.push_str(line.trim());
                }
            }
            Section::None => {
                if !line.trim().is_empty() {
                    return Err(err("text before the first section".into()));
                }
            }
            Section::Ignored => {}
        }
    }
    if has_asm {
        case.asm = Some(asm);
    }
    if has_error {
        case.error = Some(error);
    }
    if case.asm.is_none() && case.raw.is_none() {
        return Err(ParseError {
            line: text.lines().count(),
            message: "no program (neither asm nor raw section)".into(),
        });
    }
    if case.result.is_none() && case.error.is_none() {
        return Err(ParseError {
            line: text.lines().count(),
            message: "no expected result or error".into(),
        });
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section_kind() {
        let text = "# header\n-- c\nint main() { return 0; }\n-- asm\nmov %r0, 1 # one\nexit\n\
                    -- raw\n0x00000001000000b7 149\n-- mem\n00 ff\n 10\n-- result\n-1\n";
        let c = parse(text).unwrap();
        assert_eq!(c.asm.as_deref(), Some("mov %r0, 1 \nexit\n"));
        assert_eq!(c.asm_line, 5);
        assert_eq!(c.raw, Some(vec![0x1_0000_00b7, 0x95]));
        assert_eq!(c.mem, vec![0, 0xff, 0x10]);
        assert_eq!(c.result, Some(u64::MAX));
        assert_eq!(c.error, None);
    }

    #[test]
    fn error_section_and_ignored_sections() {
        let c = parse("-- asm\nexit\n-- no register offset\ncall instruction\n-- error\nboom\n")
            .unwrap();
        assert_eq!(c.error.as_deref(), Some("boom"));
        assert_eq!(c.result, None);
    }

    #[test]
    fn malformed_input_names_the_line() {
        let e = parse("-- asm\nexit\n-- mem\n0g\n-- result\n1\n").unwrap_err();
        assert_eq!(e.line, 4);
        let e = parse("-- asm\nexit\n-- result\n0xzz\n").unwrap_err();
        assert_eq!(e.to_string(), "line 4: bad result \"0xzz\"");
        assert!(parse("-- result\n1\n").is_err());
        assert!(parse("-- asm\nexit\n").is_err());
    }
}
