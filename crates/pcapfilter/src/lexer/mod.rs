//! The scanner: splits a filter expression into tokens exactly as libpcap's
//! flex scanner does (longest match wins; among equally long matches the
//! earlier rule wins; keywords are case-sensitive).

mod pattern;
mod token;

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use crate::error::{CompileError, Position};
use pattern::Re;
pub use token::{Kw, Tok, Token};
use token::{KEYWORDS, NAMED_NUMBERS};

/// Scanner rules that are patterns rather than literal words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PatternRule {
    Arcnet,
    Mac,
    Number,
    Ipv4,
    Ipv6,
    BogusMac,
    Name,
    EscapedName,
}

/// The pattern rules in scanner order, each with its regular expression.
static PATTERNS: LazyLock<Vec<(PatternRule, Re)>> = LazyLock::new(|| {
    use PatternRule::*;
    vec![
        (Arcnet, Re::Seq(vec![Re::Lit(b"$"), byte_b()])),
        (Mac, mac()),
        (Number, number()),
        (Ipv4, ipv4()),
        (Ipv6, ipv6()),
        (BogusMac, bogus_mac()),
        (Name, name()),
        (EscapedName, escaped_name()),
    ]
});

fn hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `B`: one or two hex digits.
fn byte_b() -> Re {
    Re::rep(Re::Set(hex), 1, Some(2))
}

/// `B2`: exactly four hex digits.
fn byte_b2() -> Re {
    Re::rep(Re::Set(hex), 4, Some(4))
}

/// `W`: one to four hex digits (an IPv6 group).
fn word_w() -> Re {
    Re::rep(Re::Set(hex), 1, Some(4))
}

/// `N`: a decimal/octal number or `0x`-prefixed hex number.
fn number() -> Re {
    Re::Alt(vec![
        Re::rep(Re::Set(|b| b.is_ascii_digit()), 1, None),
        Re::Seq(vec![
            Re::Alt(vec![Re::Lit(b"0X"), Re::Lit(b"0x")]),
            Re::rep(Re::Set(hex), 1, None),
        ]),
    ])
}

/// `parts` separated by `sep`.
fn joined(parts: Vec<Re>, sep: &'static [u8]) -> Re {
    let mut seq = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            seq.push(Re::Lit(sep));
        }
        seq.push(part);
    }
    Re::Seq(seq)
}

/// Six `B` bytes separated by `sep`.
fn six_bytes(sep: &'static [u8]) -> Re {
    joined((0..6).map(|_| byte_b()).collect(), sep)
}

fn mac() -> Re {
    Re::Alt(vec![
        six_bytes(b":"),
        six_bytes(b"-"),
        six_bytes(b"."),
        joined((0..3).map(|_| byte_b2()).collect(), b"."),
        Re::rep(byte_b2(), 3, Some(3)),
    ])
}

/// `N.N`, `N.N.N` or `N.N.N.N`.
fn ipv4() -> Re {
    Re::Alt(
        (2..=4)
            .map(|n| joined((0..n).map(|_| number()).collect(), b"."))
            .collect(),
    )
}

fn dotted_quad() -> Re {
    joined((0..4).map(|_| number()).collect(), b".")
}

/// The scanner's IPv6 forms: eight groups, or fewer with one `::`, each
/// optionally ending in a dotted quad in place of the last two groups.
fn ipv6() -> Re {
    let groups = |n: usize| (0..n).map(|_| word_w()).collect::<Vec<_>>();
    let mut alts = vec![joined(groups(8), b":")];
    for total in (0..=7).rev() {
        for before in 0..=total {
            alts.push(Re::Seq(vec![
                joined(groups(before), b":"),
                Re::Lit(b"::"),
                joined(groups(total - before), b":"),
            ]));
        }
    }
    let mut six = groups(6);
    six.push(dotted_quad());
    alts.push(joined(six, b":"));
    for total in (0..=5).rev() {
        for before in 0..=total {
            let mut after: Vec<Re> = Vec::new();
            for _ in 0..total - before {
                after.push(word_w());
                after.push(Re::Lit(b":"));
            }
            after.push(dotted_quad());
            alts.push(Re::Seq(vec![
                joined(groups(before), b":"),
                Re::Lit(b"::"),
                Re::Seq(after),
            ]));
        }
    }
    Re::Alt(alts)
}

/// `{B}:+({B}:+)+`: looks like a MAC address but is not one.
fn bogus_mac() -> Re {
    let colons = || Re::rep(Re::Lit(b":"), 1, None);
    Re::Seq(vec![
        byte_b(),
        colons(),
        Re::rep(Re::Seq(vec![byte_b(), colons()]), 1, None),
    ])
}

/// `[A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?`
fn name() -> Re {
    let inner = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
    let last = |b: u8| b.is_ascii_alphanumeric() || b == b'.';
    Re::Seq(vec![
        Re::Set(|b| b.is_ascii_alphanumeric()),
        Re::rep(
            Re::Seq(vec![Re::rep(Re::Set(inner), 0, None), Re::Set(last)]),
            0,
            Some(1),
        ),
    ])
}

/// A backslash followed by anything up to a blank, `!`, or parenthesis.
fn escaped_name() -> Re {
    Re::Seq(vec![
        Re::Lit(b"\\"),
        Re::rep(
            Re::Set(|b| !matches!(b, b' ' | b'!' | b'(' | b')' | b'\n' | b'\t')),
            1,
            None,
        ),
    ])
}

const PUNCT: &[u8] = b"+-*/%:[]!<>()&|^=";

const TWO_CHAR_OPS: &[(&[u8], Tok)] = &[
    (b">=", Tok::Geq),
    (b"<=", Tok::Leq),
    (b"!=", Tok::Neq),
    (b"==", Tok::Punct(b'=')),
    (b"<<", Tok::Lsh),
    (b">>", Tok::Rsh),
];

/// Which scanner rule produced the longest match.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Word(usize),
    Punct,
    TwoChar(usize),
    Pattern(PatternRule),
    Named(usize),
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(text: &str) -> Result<Vec<Token>, CompileError> {
    let input = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        if matches!(input[pos], b' ' | b'\r' | b'\n' | b'\t') {
            pos += 1;
            continue;
        }
        let Some((len, rule)) = longest_rule(input, pos) else {
            return Err(lex_error(
                text,
                pos,
                format!("unexpected character {:?}", char_at(text, pos)),
            ));
        };
        let lexeme = &text[pos..pos + len];
        let tok = make_token(text, pos, lexeme, rule)?;
        tokens.push(Token {
            tok,
            start: pos,
            end: pos + len,
        });
        pos += len;
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: input.len(),
        end: input.len(),
    });
    Ok(tokens)
}

fn char_at(text: &str, pos: usize) -> char {
    text.get(pos..)
        .and_then(|s| s.chars().next())
        .unwrap_or('\u{fffd}')
}

fn lex_error(text: &str, offset: usize, message: String) -> CompileError {
    CompileError::Lex {
        pos: Position::locate(text, offset),
        message,
    }
}

/// Longest match at `pos` over all rules; earlier rules win ties.
fn longest_rule(input: &[u8], pos: usize) -> Option<(usize, Rule)> {
    let mut best: Option<(usize, Rule)> = None;
    let mut offer = |len: usize, rule: Rule| {
        if len > 0 && best.is_none_or(|(l, _)| len > l) {
            best = Some((len, rule));
        }
    };
    let rest = &input[pos..];
    for (i, (word, _)) in KEYWORDS.iter().enumerate() {
        if word.as_bytes()[0] == rest[0] && rest.starts_with(word.as_bytes()) {
            offer(word.len(), Rule::Word(i));
        }
    }
    if PUNCT.contains(&rest[0]) {
        offer(1, Rule::Punct);
    }
    for (i, (op, _)) in TWO_CHAR_OPS.iter().enumerate() {
        if rest.starts_with(op) {
            offer(op.len(), Rule::TwoChar(i));
        }
    }
    for (rule, re) in PATTERNS.iter() {
        // The names come after the named numbers in the scanner.
        if *rule == PatternRule::Name {
            for (i, (word, _)) in NAMED_NUMBERS.iter().enumerate() {
                if word.as_bytes()[0] == rest[0] && rest.starts_with(word.as_bytes()) {
                    offer(word.len(), Rule::Named(i));
                }
            }
        }
        if may_match(*rule, rest) {
            if let Some(len) = re.longest(input, pos) {
                offer(len, Rule::Pattern(*rule));
            }
        }
    }
    best
}

/// A cheap necessary condition for `rule` to match at the start of `rest`,
/// which spares the pattern engine most of its work.
fn may_match(rule: PatternRule, rest: &[u8]) -> bool {
    let first = rest[0];
    // The address forms are made of hex digits and separators; their first
    // separator comes within five bytes and the longest form is shorter
    // than 64, so only a short prefix needs looking at.
    let run = |extra: &[u8]| {
        rest.iter()
            .take(64)
            .take_while(|b| b.is_ascii_hexdigit() || extra.contains(b))
            .count()
    };
    match rule {
        PatternRule::Arcnet => first == b'$',
        PatternRule::EscapedName => first == b'\\',
        PatternRule::Number | PatternRule::Ipv4 => first.is_ascii_digit(),
        PatternRule::Name => first.is_ascii_alphanumeric(),
        PatternRule::Mac => first.is_ascii_hexdigit() && (run(b":.-") >= 11 || run(b"") >= 12),
        PatternRule::Ipv6 | PatternRule::BogusMac => {
            (first.is_ascii_hexdigit() || first == b':') && rest[..run(b":.xX")].contains(&b':')
        }
    }
}

fn make_token(text: &str, pos: usize, lexeme: &str, rule: Rule) -> Result<Tok, CompileError> {
    Ok(match rule {
        Rule::Word(i) => KEYWORDS[i].1.clone(),
        Rule::Punct => {
            let c = lexeme.as_bytes()[0];
            if c == b'!' {
                Tok::Not
            } else {
                Tok::Punct(c)
            }
        }
        Rule::TwoChar(i) => TWO_CHAR_OPS[i].1.clone(),
        Rule::Named(i) => Tok::Num(NAMED_NUMBERS[i].1),
        Rule::Pattern(p) => match p {
            PatternRule::Arcnet => Tok::Aid(lexeme.to_string()),
            PatternRule::Mac => Tok::Eid(lexeme.to_string()),
            PatternRule::Number => {
                Tok::Num(parse_number(lexeme).map_err(|m| lex_error(text, pos, m))?)
            }
            PatternRule::Ipv4 => Tok::Hid(lexeme.to_string()),
            PatternRule::Ipv6 => {
                if lexeme.parse::<Ipv6Addr>().is_err() {
                    return Err(lex_error(text, pos, format!("bogus IPv6 address {lexeme}")));
                }
                Tok::Hid6(lexeme.to_string())
            }
            PatternRule::BogusMac => {
                return Err(lex_error(
                    text,
                    pos,
                    format!("bogus ethernet address {lexeme}"),
                ))
            }
            PatternRule::Name => Tok::Id(lexeme.to_string()),
            PatternRule::EscapedName => Tok::Id(lexeme[1..].to_string()),
        },
    })
}

/// Converts a number lexeme (decimal, `0`-prefixed octal, `0x` hex) to a
/// 32-bit value, refusing overflow and non-octal digits as libpcap does.
pub(crate) fn parse_number(s: &str) -> Result<u32, String> {
    let (digits, radix) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (hex, 16)
    } else if let Some(oct) = s.strip_prefix('0') {
        (oct, 8)
    } else {
        (s, 10)
    };
    let mut n: u32 = 0;
    for c in digits.chars() {
        let d = c
            .to_digit(radix)
            .ok_or_else(|| format!("number {s} contains non-octal digit"))?;
        n = n
            .checked_mul(radix)
            .and_then(|n| n.checked_add(d))
            .ok_or_else(|| format!("number {s} overflows 32 bits"))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn longest_match_and_rule_order() {
        assert_eq!(toks("tcp"), vec![Tok::Kw(Kw::Tcp), Tok::Eof]);
        assert_eq!(toks("tcpx"), vec![Tok::Id("tcpx".into()), Tok::Eof]);
        assert_eq!(toks("tcp-syn"), vec![Tok::Num(2), Tok::Eof]);
        assert_eq!(toks("TCP"), vec![Tok::Id("TCP".into()), Tok::Eof]);
        assert_eq!(toks("1.2.3.4"), vec![Tok::Hid("1.2.3.4".into()), Tok::Eof]);
        assert_eq!(
            toks("1.2.3.4.5"),
            vec![Tok::Id("1.2.3.4.5".into()), Tok::Eof]
        );
        assert_eq!(
            toks("001122334455"),
            vec![Tok::Eid("001122334455".into()), Tok::Eof]
        );
        assert_eq!(
            toks("1:2:3:4:5:6:7:8"),
            vec![Tok::Hid6("1:2:3:4:5:6:7:8".into()), Tok::Eof]
        );
        assert_eq!(
            toks("aa:bb:cc:dd:ee:ff"),
            vec![Tok::Eid("aa:bb:cc:dd:ee:ff".into()), Tok::Eof]
        );
        assert_eq!(
            toks("ether[1:2]"),
            vec![
                Tok::Kw(Kw::Link),
                Tok::Punct(b'['),
                Tok::Num(1),
                Tok::Punct(b':'),
                Tok::Num(2),
                Tok::Punct(b']'),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("a&&!b"),
            vec![
                Tok::Id("a".into()),
                Tok::And,
                Tok::Not,
                Tok::Id("b".into()),
                Tok::Eof
            ]
        );
        assert_eq!(toks("\\ip"), vec![Tok::Id("ip".into()), Tok::Eof]);
        assert_eq!(toks("0x1f 010"), vec![Tok::Num(31), Tok::Num(8), Tok::Eof]);
    }

    #[test]
    fn malformed_numbers_and_addresses() {
        assert!(tokenize("08").is_err());
        assert!(tokenize("4294967296").is_err());
        assert_eq!(toks("4294967295"), vec![Tok::Num(u32::MAX), Tok::Eof]);
        assert!(tokenize("aa:bb:cc:dd:ee:ff:11").is_err());
        let err = tokenize("host 1.2.3.4 ~").unwrap_err();
        assert!(err.to_string().starts_with("1:14:"), "{err}");
    }
}
