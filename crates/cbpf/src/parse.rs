//! Reading programs back from `tcpdump -ddd` and `tcpdump -dd` output.

use crate::insn::Insn;

/// A syntax error in dumped program text, with its 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line: usize, column: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        column,
        message: message.into(),
    }
}

/// Whitespace-separated fields of a line with their 1-based columns.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (col, (i, c)) in line.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((col + 1, i)),
            (true, Some((scol, si))) => {
                out.push((scol, &line[si..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((scol, si)) = start {
        out.push((scol, &line[si..]));
    }
    out
}

/// Parses an unsigned number (decimal, or hex with `0x`) that must fit `max`.
fn number(text: &str, max: u64, line: usize, column: usize) -> Result<u64, ParseError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse::<u64>(),
    };
    match parsed {
        Ok(v) if v <= max => Ok(v),
        Ok(_) => Err(err(line, column, format!("{text} does not fit in {max}"))),
        Err(_) => Err(err(
            line,
            column,
            format!("expected a number, found {text:?}"),
        )),
    }
}

fn insn_from(values: &[(usize, &str)], line: usize, eol_column: usize) -> Result<Insn, ParseError> {
    if values.len() != 4 {
        let column = values.get(4).map_or(eol_column, |v| v.0);
        return Err(err(
            line,
            column,
            format!("expected 4 fields (code jt jf k), found {}", values.len()),
        ));
    }
    let get = |i: usize, max: u64| number(values[i].1, max, line, values[i].0);
    Ok(Insn {
        code: get(0, u16::MAX.into())? as u16,
        jt: get(1, u8::MAX.into())? as u8,
        jf: get(2, u8::MAX.into())? as u8,
        k: get(3, u32::MAX.into())? as u32,
    })
}

/// Parses `tcpdump -ddd` output: a line with the instruction count, then one
/// line `code jt jf k` (decimal) per instruction. Blank lines are ignored;
/// the count must match.
///
/// ```
/// let prog = bpfkit_cbpf::parse_ddd("2\n40 0 0 12\n6 0 0 262144\n").unwrap();
/// assert_eq!(prog[0], bpfkit_cbpf::Insn::stmt(0x28, 12));
/// assert_eq!(prog.len(), 2);
/// ```
pub fn parse_ddd(text: &str) -> Result<Vec<Insn>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((count_line, first)) = lines.next() else {
        return Err(err(1, 1, "empty input: expected the instruction count"));
    };
    let count_fields = fields(first);
    if count_fields.len() != 1 {
        return Err(err(count_line, 1, "expected the instruction count alone"));
    }
    let (col, count_text) = count_fields[0];
    let count = number(count_text, u32::MAX.into(), count_line, col)? as usize;
    // Don't trust the count for the allocation: the lines bound it.
    let mut prog = Vec::with_capacity(count.min(text.len() / 8 + 1));
    let mut last_line = count_line;
    for (line, l) in lines {
        last_line = line;
        if prog.len() == count {
            return Err(err(
                line,
                1,
                format!("more instructions than the count {count}"),
            ));
        }
        prog.push(insn_from(&fields(l), line, l.chars().count() + 1)?);
    }
    if prog.len() != count {
        return Err(err(
            last_line + 1,
            1,
            format!("expected {count} instructions, found {}", prog.len()),
        ));
    }
    Ok(prog)
}

/// Parses `tcpdump -dd` output: one `{ code, jt, jf, k },` per line (numbers
/// in decimal or `0x` hex). Blank lines are ignored.
///
/// ```
/// let prog = bpfkit_cbpf::parse_dd("{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00040000 },\n").unwrap();
/// assert_eq!(prog[1], bpfkit_cbpf::Insn::stmt(6, 0x40000));
/// ```
pub fn parse_dd(text: &str) -> Result<Vec<Insn>, ParseError> {
    let mut prog = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = l.trim();
        if trimmed.is_empty() {
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        let body = trimmed
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix(','))
            .map(str::trim_end)
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| err(line, indent + 1, "expected `{ code, jt, jf, k },`"))?;
        // Columns: offset of each comma-separated field within the line.
        let base = indent + 2; // the column after `{`
        let mut values = Vec::new();
        let mut offset = base;
        for part in body.split(',') {
            let lead = part.len() - part.trim_start().len();
            values.push((offset + lead, part.trim()));
            offset += part.chars().count() + 1;
        }
        prog.push(insn_from(&values, line, l.chars().count() + 1)?);
    }
    Ok(prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddd_errors_name_line_and_column() {
        let e = parse_ddd("2\n40 0 0 12\n6 0 x 0\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 5));
        let e = parse_ddd("3\n40 0 0 12\n6 0 0 0\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("expected 3"), "{e}");
        let e = parse_ddd("1\n40 0 0\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 7));
        let e = parse_ddd("1\n40 256 0 0\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4));
        let e = parse_ddd("1\n6 0 0 0\n6 0 0 0\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_ddd("").is_err());
        assert_eq!(
            e.to_string(),
            "line 3, column 1: more instructions than the count 1"
        );
    }

    #[test]
    fn huge_count_does_not_allocate() {
        let e = parse_ddd("4294967295\n6 0 0 0\n").unwrap_err();
        assert!(e.message.contains("found 1"), "{e}");
    }

    #[test]
    fn dd_accepts_both_bases() {
        let prog = parse_dd("  { 0x15, 0, 3, 2048 },\n").unwrap();
        assert_eq!(prog, vec![Insn::jump(0x15, 2048, 0, 3)]);
        let e = parse_dd("{ 0x15, 0, 3 },\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_dd("{ 0x15, 0, zz, 1 },\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 12));
    }
}
