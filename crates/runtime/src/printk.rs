//! `bpf_trace_printk`'s format language: the kernel's subset of printf.
//!
//! Accepted, as in the kernel's `bpf_bprintf_prepare`: printable characters and spaces,
//! `%%`, optional `0 +-` flags and a width, and the conversions `%d %i %u %x %X` with
//! `l`/`ll` length modifiers, `%c`, `%s` (a string read from program memory; unreadable
//! memory prints nothing) and `%p` (printed as a plain hex address; the kernel prints a
//! hashed value), with at most three arguments. Anything else is `-EINVAL`.

/// Formats `fmt` (the bytes before its NUL) with `args`; `read_str` reads a C string at an
/// address (`None` if unreadable). `None` means the kernel would return `-EINVAL`.
pub(crate) fn format(
    fmt: &[u8],
    args: [u64; 3],
    mut read_str: impl FnMut(u64) -> Option<Vec<u8>>,
) -> Option<String> {
    let mut out = String::new();
    let mut next = 0;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if !(c.is_ascii_graphic() || c.is_ascii_whitespace()) {
            return None;
        }
        if c != b'%' {
            out.push(c as char);
            i += 1;
            continue;
        }
        i += 1;
        if fmt.get(i) == Some(&b'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f @ (b'0' | b'+' | b'-' | b' ')) = fmt.get(i) {
            match f {
                b'0' => spec.zero = true,
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                _ => spec.space = true,
            }
            i += 1;
        }
        while let Some(&d @ b'0'..=b'9') = fmt.get(i) {
            spec.width = spec.width * 10 + (d - b'0') as usize;
            i += 1;
        }
        if next == args.len() {
            return None;
        }
        let arg = args[next];
        next += 1;
        let mut longs = 0;
        while fmt.get(i) == Some(&b'l') && longs < 2 {
            longs += 1;
            i += 1;
        }
        let conv = *fmt.get(i)?;
        i += 1;
        let wide = longs > 0;
        let body = match (conv, longs) {
            (b'd' | b'i', _) => {
                let v = if wide { arg as i64 } else { arg as i32 as i64 };
                let sign = if v < 0 {
                    "-"
                } else if spec.plus {
                    "+"
                } else if spec.space {
                    " "
                } else {
                    ""
                };
                spec.number(sign, v.unsigned_abs().to_string())
            }
            (b'u', _) => spec.number("", if wide { arg } else { arg as u32 as u64 }.to_string()),
            (b'x', _) => spec.number(
                "",
                format!("{:x}", if wide { arg } else { arg as u32 as u64 }),
            ),
            (b'X', _) => spec.number(
                "",
                format!("{:X}", if wide { arg } else { arg as u32 as u64 }),
            ),
            (b'c', 0) => spec.pad((arg as u8 as char).to_string()),
            (b's', 0) => {
                let s = read_str(arg).unwrap_or_default();
                spec.pad(String::from_utf8_lossy(&s).into_owned())
            }
            (b'p', 0) => spec.pad(format!("0x{arg:x}")),
            _ => return None,
        };
        out.push_str(&body);
    }
    Some(out)
}

#[derive(Default)]
struct Spec {
    zero: bool,
    left: bool,
    plus: bool,
    space: bool,
    width: usize,
}

impl Spec {
    fn number(&self, sign: &str, digits: String) -> String {
        let len = sign.len() + digits.len();
        if self.zero && !self.left && len < self.width {
            format!("{sign}{}{digits}", "0".repeat(self.width - len))
        } else {
            self.pad(format!("{sign}{digits}"))
        }
    }

    fn pad(&self, s: String) -> String {
        let n = s.chars().count();
        if n >= self.width {
            s
        } else if self.left {
            format!("{s}{}", " ".repeat(self.width - n))
        } else {
            format!("{}{s}", " ".repeat(self.width - n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    fn f(fmt: &str, args: [u64; 3]) -> Option<String> {
        format(fmt.as_bytes(), args, |a| {
            (a == 0x10).then(|| b"hi".to_vec())
        })
    }

    #[test]
    fn conversions_follow_printf() {
        assert_eq!(
            f("a=%d b=%u c=%x\n", [-5i64 as u64, 7, 255]).unwrap(),
            "a=-5 b=7 c=ff\n"
        );
        assert_eq!(
            f("%ld %llu %lx", [-1i64 as u64, u64::MAX, 1 << 40]).unwrap(),
            "-1 18446744073709551615 10000000000"
        );
        assert_eq!(
            f("%05d|%-4d|%4x", [42, 7, 0xab,]).unwrap(),
            "00042|7   |  ab"
        );
        assert_eq!(f("%s %c %%", [0x10, b'z' as u64, 0]).unwrap(), "hi z %");
        assert_eq!(f("%s", [0x99, 0, 0]).unwrap(), "");
        assert_eq!(f("%p", [0xdead, 0, 0]).unwrap(), "0xdead");
    }

    #[test]
    fn kernel_rejections() {
        assert_eq!(f("%d %d %d %d", [0; 3]), None);
        assert_eq!(f("%q", [0; 3]), None);
        assert_eq!(f("bell\x07", [0; 3]), None);
        assert_eq!(f("%", [0; 3]), None);
    }
}
