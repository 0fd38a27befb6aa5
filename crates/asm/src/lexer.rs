//! Splits one source line into tokens that remember their column.

use crate::error::AsmError;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A word: mnemonic, register, label, size keyword (`u32`), `goto`...
    Ident(String),
    /// An unsigned integer literal (decimal or `0x` hex); signs are separate tokens.
    Int(u64),
    /// Punctuation or an operator, longest match first (`<<=` before `<`).
    Punct(&'static str),
}

/// A token and the 1-based column of its first character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
}

/// Operators and punctuation, longest first so that the first match is the longest.
const PUNCTS: &[&str] = &[
    "<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "==", "!=", ">=", "<=", "=", "<",
    ">", "+", "-", "*", "/", "%", "|", "&", "^", "(", ")", "[", "]", ",", ":",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'
}

/// Removes a trailing comment (`#`, `;` or `//`) from a line.
pub(crate) fn strip_comment(line: &str) -> &str {
    let mut end = line.len();
    for pat in ["#", ";", "//"] {
        if let Some(i) = line.find(pat) {
            end = end.min(i);
        }
    }
    &line[..end]
}

/// Tokenizes one line (already stripped of its comment). `line_no` is 1-based, for errors.
pub(crate) fn tokenize(line: &str, line_no: usize) -> Result<Vec<Token>, AsmError> {
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            toks.push(Token {
                tok: Tok::Ident(word),
                col,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let value = parse_int(&text).ok_or_else(|| {
                AsmError::new(line_no, col, format!("invalid integer literal `{text}`"))
            })?;
            toks.push(Token {
                tok: Tok::Int(value),
                col,
            });
        } else {
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            let p = PUNCTS
                .iter()
                .find(|p| rest.starts_with(**p))
                .ok_or_else(|| {
                    AsmError::new(line_no, col, format!("unexpected character `{c}`"))
                })?;
            i += p.len();
            toks.push(Token {
                tok: Tok::Punct(p),
                col,
            });
        }
    }
    Ok(toks)
}

/// Parses a decimal or `0x`-prefixed hexadecimal literal that fits in 64 bits.
fn parse_int(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else {
        text.parse::<u64>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s, 1).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn longest_operator_wins() {
        assert_eq!(
            kinds("r0 s>>= 3"),
            vec![
                Tok::Ident("r0".into()),
                Tok::Ident("s".into()),
                Tok::Punct(">>="),
                Tok::Int(3)
            ]
        );
        assert_eq!(
            kinds("r0=-0x10"),
            vec![
                Tok::Ident("r0".into()),
                Tok::Punct("="),
                Tok::Punct("-"),
                Tok::Int(16)
            ]
        );
    }

    #[test]
    fn columns_are_one_based() {
        let t = tokenize("  ldxb %r0, [%r1+2]", 1).unwrap();
        assert_eq!(t[0].col, 3);
        assert_eq!(t[1].col, 8);
        assert_eq!(t[1].tok, Tok::Punct("%"));
    }

    #[test]
    fn bad_literals_and_characters_are_reported() {
        let e = tokenize("mov %r0, 12z", 4).unwrap_err();
        assert_eq!((e.line, e.column), (4, 10));
        let e = tokenize("mov %r0, @", 2).unwrap_err();
        assert_eq!(e.to_string(), "line 2, column 10: unexpected character `@`");
        assert!(tokenize("lddw %r0, 0x10000000000000000", 1).is_err());
    }

    #[test]
    fn comments_are_stripped() {
        assert_eq!(strip_comment("exit # done"), "exit ");
        assert_eq!(strip_comment("exit ; done"), "exit ");
        assert_eq!(strip_comment("r0 = 1 // x"), "r0 = 1 ");
    }
}
