//! Text forms of a program, byte for byte as libpcap prints them
//! (`bpf_image` and `bpf_dump`, i.e. `tcpdump -d`, `-dd` and `-ddd`).

use crate::ancillary::{SKF_AD_MAX, SKF_AD_OFF};
use crate::insn::Insn;
use crate::op::*;
use std::fmt::Write;

/// Which of tcpdump's dump formats to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// `-d`: one [`image`] line per instruction.
    Image,
    /// `-dd`: C initializers, `{ 0x28, 0, 0, 0x0000000c },`.
    C,
    /// `-ddd`: the instruction count, then `code jt jf k` in decimal.
    Decimal,
}

/// The whole program in the given format, each line ending in `\n`, exactly
/// as `tcpdump -d`/`-dd`/`-ddd` prints it.
///
/// ```
/// use bpfkit_cbpf::{dump, DumpFormat, Insn, op};
/// let prog = [Insn::stmt(op::LD_H_ABS, 12), Insn::stmt(op::RET_K, 0)];
/// assert_eq!(dump(&prog, DumpFormat::Image), "(000) ldh      [12]\n(001) ret      #0\n");
/// assert_eq!(dump(&prog, DumpFormat::C), "{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00000000 },\n");
/// assert_eq!(dump(&prog, DumpFormat::Decimal), "2\n40 0 0 12\n6 0 0 0\n");
/// ```
pub fn dump(prog: &[Insn], format: DumpFormat) -> String {
    let mut out = String::new();
    if format == DumpFormat::Decimal {
        let _ = writeln!(out, "{}", prog.len());
    }
    for (n, ins) in prog.iter().enumerate() {
        let _ = match format {
            DumpFormat::Image => writeln!(out, "{}", image(ins, n)),
            DumpFormat::C => writeln!(
                out,
                "{{ {:#x}, {}, {}, 0x{:08x} }},",
                ins.code, ins.jt, ins.jf, ins.k
            ),
            DumpFormat::Decimal => {
                writeln!(out, "{} {} {} {}", ins.code, ins.jt, ins.jf, ins.k)
            }
        };
    }
    out
}

/// Names libpcap prints for the Linux ancillary offsets (`SKF_AD_OFF + n`).
fn ancillary_name(n: u32) -> Option<&'static str> {
    Some(match n {
        0 => "proto",
        4 => "type",
        8 => "ifidx",
        12 => "nla",
        16 => "nlan",
        20 => "mark",
        24 => "queue",
        28 => "hatype",
        32 => "rxhash",
        36 => "cpu",
        40 => "xor_x",
        44 => "vlan_tci",
        48 => "vlanp",
        52 => "poff",
        56 => "random",
        60 => "vlan_tpid",
        _ => return None,
    })
}

/// The operand of an absolute load: `[12]`, or `[vlanp]` for a known
/// ancillary offset. Offsets print as signed, like libpcap's `%d`.
fn abs_operand(k: u32) -> String {
    match k
        .checked_sub(SKF_AD_OFF)
        .filter(|&n| n < SKF_AD_MAX)
        .and_then(ancillary_name)
    {
        Some(name) => format!("[{name}]"),
        None => format!("[{}]", k as i32),
    }
}

/// One instruction as libpcap's `bpf_image(insn, n)` renders it, `n` being
/// its index (jump targets are printed as absolute indices).
///
/// ```
/// use bpfkit_cbpf::{image, Insn, op};
/// assert_eq!(image(&Insn::jump(op::JMP_JEQ_K, 0x800, 0, 3), 1),
///            "(001) jeq      #0x800           jt 2\tjf 5");
/// ```
pub fn image(ins: &Insn, n: usize) -> String {
    let k = ins.k;
    let signed = k as i32;
    let (op, operand): (&str, String) = match ins.code {
        RET_K => ("ret", format!("#{signed}")),
        RET_A => ("ret", String::new()),
        LD_W_ABS => ("ld", abs_operand(k)),
        LD_H_ABS => ("ldh", abs_operand(k)),
        LD_B_ABS => ("ldb", abs_operand(k)),
        LD_W_LEN => ("ld", "#pktlen".into()),
        LD_W_IND => ("ld", format!("[x + {signed}]")),
        LD_H_IND => ("ldh", format!("[x + {signed}]")),
        LD_B_IND => ("ldb", format!("[x + {signed}]")),
        LD_IMM => ("ld", format!("#{k:#x}")),
        LDX_IMM => ("ldx", format!("#{k:#x}")),
        LDX_B_MSH => ("ldxb", format!("4*([{signed}]&0xf)")),
        LD_MEM => ("ld", format!("M[{signed}]")),
        LDX_MEM => ("ldx", format!("M[{signed}]")),
        ST_MEM => ("st", format!("M[{signed}]")),
        STX_MEM => ("stx", format!("M[{signed}]")),
        // libpcap adds in unsigned int and prints with %d.
        JMP_JA => (
            "ja",
            format!("{}", (n as u32).wrapping_add(1).wrapping_add(k) as i32),
        ),
        JMP_JGT_K => ("jgt", format!("#{k:#x}")),
        JMP_JGE_K => ("jge", format!("#{k:#x}")),
        JMP_JEQ_K => ("jeq", format!("#{k:#x}")),
        JMP_JSET_K => ("jset", format!("#{k:#x}")),
        JMP_JGT_X => ("jgt", "x".into()),
        JMP_JGE_X => ("jge", "x".into()),
        JMP_JEQ_X => ("jeq", "x".into()),
        JMP_JSET_X => ("jset", "x".into()),
        ALU_ADD_X => ("add", "x".into()),
        ALU_SUB_X => ("sub", "x".into()),
        ALU_MUL_X => ("mul", "x".into()),
        ALU_DIV_X => ("div", "x".into()),
        ALU_MOD_X => ("mod", "x".into()),
        ALU_AND_X => ("and", "x".into()),
        ALU_OR_X => ("or", "x".into()),
        ALU_XOR_X => ("xor", "x".into()),
        ALU_LSH_X => ("lsh", "x".into()),
        ALU_RSH_X => ("rsh", "x".into()),
        ALU_ADD_K => ("add", format!("#{signed}")),
        ALU_SUB_K => ("sub", format!("#{signed}")),
        ALU_MUL_K => ("mul", format!("#{signed}")),
        ALU_DIV_K => ("div", format!("#{signed}")),
        ALU_MOD_K => ("mod", format!("#{signed}")),
        ALU_AND_K => ("and", format!("#{k:#x}")),
        ALU_OR_K => ("or", format!("#{k:#x}")),
        ALU_XOR_K => ("xor", format!("#{k:#x}")),
        ALU_LSH_K => ("lsh", format!("#{signed}")),
        ALU_RSH_K => ("rsh", format!("#{signed}")),
        ALU_NEG => ("neg", String::new()),
        MISC_TAX => ("tax", String::new()),
        MISC_TXA => ("txa", String::new()),
        code => ("unimp", format!("{code:#x}")),
    };
    // Every JMP-class code except ja gets the two targets, even unknown ones.
    let code = ins.code;
    if code & 0x07 == JMP && code & 0xf0 != JA {
        // libpcap's `n + 1 + jt` and `%03d`.
        format!(
            "({:03}) {:<8} {:<16} jt {}\tjf {}",
            n,
            op,
            operand,
            n + 1 + usize::from(ins.jt),
            n + 1 + usize::from(ins.jf)
        )
    } else {
        format!("({n:03}) {op:<8} {operand}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_printf() {
        // `#0x0` is what C's `%#x`-less "0x%x" gives for 0.
        assert_eq!(image(&Insn::stmt(LD_IMM, 0), 0), "(000) ld       #0x0");
        assert_eq!(image(&Insn::stmt(RET_A, 0), 7), "(007) ret      ");
        assert_eq!(
            image(&Insn::stmt(RET_K, u32::MAX), 1000),
            "(1000) ret      #-1"
        );
        assert_eq!(
            image(&Insn::stmt(LD_B_ABS, SKF_AD_OFF + 48), 0),
            "(000) ldb      [vlanp]"
        );
        assert_eq!(
            image(&Insn::stmt(LD_B_ABS, SKF_AD_OFF + 64), 0),
            "(000) ldb      [-4032]"
        );
        assert_eq!(image(&Insn::stmt(0x1234, 0), 0), "(000) unimp    0x1234");
        assert_eq!(
            image(&Insn::jump(0x55, 0, 1, 2), 3),
            "(003) unimp    0x55             jt 5\tjf 6"
        );
    }
}
