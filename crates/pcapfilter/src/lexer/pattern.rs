//! A tiny regular-expression engine that reports the *longest* match of a
//! pattern anchored at a position, which is what a flex scanner needs.
//!
//! Patterns are small (the scanner's token classes), so matching simulates
//! the pattern over a set of candidate end positions instead of compiling
//! an automaton.

/// A regular expression over bytes.
#[derive(Clone, Debug)]
pub(crate) enum Re {
    /// An exact byte string.
    Lit(&'static [u8]),
    /// One byte satisfying a predicate.
    Set(fn(u8) -> bool),
    /// Each part in turn.
    Seq(Vec<Re>),
    /// Any one of the alternatives.
    Alt(Vec<Re>),
    /// Between `min` and `max` (unbounded when `None`) repetitions.
    Rep(Box<Re>, usize, Option<usize>),
}

impl Re {
    /// Repetition helper.
    pub(crate) fn rep(re: Re, min: usize, max: Option<usize>) -> Re {
        Re::Rep(Box::new(re), min, max)
    }

    /// The length of the longest match of `self` starting at `start`.
    pub(crate) fn longest(&self, input: &[u8], start: usize) -> Option<usize> {
        // Tokens are short: positions up to 63 bytes past `start` fit in a
        // bit set, which needs no allocation; longer ones take the general
        // path.
        if let Some(ends) = self.ends_near(input, start, 1) {
            return (ends != 0).then(|| 63 - ends.leading_zeros() as usize);
        }
        self.ends(input, vec![start])
            .into_iter()
            .max()
            .map(|end| end - start)
    }

    /// [`Re::ends`] on a bit set of offsets from `base` (bit `i`: position
    /// `base + i`); `None` if a match would reach 64 bytes or more.
    fn ends_near(&self, input: &[u8], base: usize, starts: u64) -> Option<u64> {
        let at = |i: u32| input.get(base + i as usize..).unwrap_or(&[]);
        let mut out = 0u64;
        match self {
            Re::Lit(bytes) => {
                let mut set = starts;
                while set != 0 {
                    let i = set.trailing_zeros();
                    set &= set - 1;
                    if at(i).starts_with(bytes) {
                        let end = i as usize + bytes.len();
                        if end >= 64 {
                            return None;
                        }
                        out |= 1 << end;
                    }
                }
            }
            Re::Set(pred) => {
                let mut set = starts;
                while set != 0 {
                    let i = set.trailing_zeros();
                    set &= set - 1;
                    if at(i).first().is_some_and(|&b| pred(b)) {
                        if i + 1 >= 64 {
                            return None;
                        }
                        out |= 1 << (i + 1);
                    }
                }
            }
            Re::Seq(parts) => {
                out = starts;
                for part in parts {
                    if out == 0 {
                        break;
                    }
                    out = part.ends_near(input, base, out)?;
                }
            }
            Re::Alt(alts) => {
                for alt in alts {
                    out |= alt.ends_near(input, base, starts)?;
                }
            }
            Re::Rep(inner, min, max) => {
                // Each repetition consumes a byte (empty matches are
                // dropped), so the frontier moves right and this ends.
                let mut frontier = starts;
                let mut count = 0;
                while frontier != 0 {
                    if count >= *min {
                        out |= frontier;
                    }
                    if max.is_some_and(|m| count >= m) {
                        break;
                    }
                    let mut next = 0u64;
                    let mut set = frontier;
                    while set != 0 {
                        let i = set.trailing_zeros();
                        set &= set - 1;
                        // Only ends strictly after the start count.
                        let later = u64::MAX.checked_shl(i + 1).unwrap_or(0);
                        next |= inner.ends_near(input, base, 1 << i)? & later;
                    }
                    frontier = next;
                    count += 1;
                }
            }
        }
        Some(out)
    }

    /// All positions where a match starting at one of `starts` can end.
    fn ends(&self, input: &[u8], starts: Vec<usize>) -> Vec<usize> {
        let mut out = match self {
            Re::Lit(bytes) => starts
                .into_iter()
                .filter(|&s| input[s..].starts_with(bytes))
                .map(|s| s + bytes.len())
                .collect(),
            Re::Set(pred) => starts
                .into_iter()
                .filter(|&s| s < input.len() && pred(input[s]))
                .map(|s| s + 1)
                .collect(),
            Re::Seq(parts) => parts.iter().fold(starts, |cur, part| {
                if cur.is_empty() {
                    cur
                } else {
                    part.ends(input, cur)
                }
            }),
            Re::Alt(alts) => alts
                .iter()
                .flat_map(|alt| alt.ends(input, starts.clone()))
                .collect(),
            Re::Rep(inner, min, max) => {
                // Every repetition consumes at least one byte (empty matches
                // are dropped), so the frontier moves right and this ends.
                let mut all = Vec::new();
                let mut frontier = starts;
                let mut count = 0;
                while !frontier.is_empty() {
                    if count >= *min {
                        all.extend(frontier.iter().copied());
                    }
                    if max.is_some_and(|m| count >= m) {
                        break;
                    }
                    let mut next: Vec<usize> = Vec::new();
                    for &from in &frontier {
                        next.extend(
                            inner
                                .ends(input, vec![from])
                                .into_iter()
                                .filter(|&to| to > from),
                        );
                    }
                    next.sort_unstable();
                    next.dedup();
                    frontier = next;
                    count += 1;
                }
                all
            }
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(b: u8) -> bool {
        b.is_ascii_digit()
    }

    #[test]
    fn longest_of_alternatives_and_repeats() {
        let re = Re::Alt(vec![
            Re::rep(Re::Set(digit), 1, None),
            Re::Seq(vec![
                Re::Lit(b"0x"),
                Re::rep(Re::Set(|b| b.is_ascii_hexdigit()), 1, None),
            ]),
        ]);
        assert_eq!(re.longest(b"123abc", 0), Some(3));
        assert_eq!(re.longest(b"0x1fz", 0), Some(4));
        assert_eq!(re.longest(b"x", 0), None);
        let bounded = Re::rep(Re::Set(digit), 1, Some(2));
        assert_eq!(bounded.longest(b"12345", 0), Some(2));
        let optional = Re::Seq(vec![Re::Lit(b"a"), Re::rep(Re::Lit(b"b"), 0, Some(1))]);
        assert_eq!(optional.longest(b"ab", 0), Some(2));
        assert_eq!(optional.longest(b"ac", 0), Some(1));
    }
}
