//! The verifier log, in the kernel's style.
//!
//! Level 1 shows each instruction as it is processed (`3: (b7) r0 = 0`), the state at the
//! start of each new path (`from 4 to 6: R0=...`) and the error. Level 2 adds the registers
//! an instruction changed (`; R0=0`).

use crate::state::{RegState, State};
use bpfkit_asm::{format_insn, Syntax};
use bpfkit_isa::Insn;
use std::fmt::Write;

/// An append-only log that costs nothing at level 0.
pub(crate) struct Log {
    level: u32,
    text: String,
    /// An instruction line waits for its level-2 change list.
    open: bool,
}

impl Log {
    pub(crate) fn new(level: u32) -> Log {
        Log {
            level,
            text: String::new(),
            open: false,
        }
    }

    pub(crate) fn level(&self) -> u32 {
        self.level
    }

    /// Appends a line built only when logging is on.
    pub(crate) fn line(&mut self, f: impl FnOnce() -> String) {
        if self.level > 0 {
            self.close();
            self.text.push_str(&f());
            self.text.push('\n');
        }
    }

    /// `pc: (opcode) text`.
    #[inline]
    pub(crate) fn insn(&mut self, pc: usize, insn: &Insn) {
        if self.level > 0 {
            self.insn_line(pc, insn);
        }
    }

    fn insn_line(&mut self, pc: usize, insn: &Insn) {
        self.close();
        let code = bpfkit_isa::encode(std::slice::from_ref(insn))[0];
        let _ = write!(
            self.text,
            "{pc}: ({code:02x}) {}",
            format_insn(insn, Syntax::Llvm)
        );
        if self.level < 2 {
            self.text.push('\n');
        } else {
            self.open = true;
        }
    }

    fn close(&mut self) {
        if self.open {
            self.text.push('\n');
            self.open = false;
        }
    }

    /// Level 2: ends the instruction line with the registers that changed.
    pub(crate) fn changes(&mut self, before: &[RegState; 11], st: &State) {
        if self.level < 2 || !self.open {
            return;
        }
        self.open = false;
        let after = &st.cur().regs;
        let mut parts = Vec::new();
        for i in 0..11 {
            if before[i] != after[i] && after[i].ty != crate::state::RegType::NotInit {
                parts.push(format!("R{i}={}", after[i]));
            }
        }
        if parts.is_empty() {
            self.text.push('\n');
        } else {
            let _ = writeln!(self.text, "\t; {}", parts.join(" "));
        }
    }

    pub(crate) fn into_string(mut self) -> String {
        self.close();
        self.text
    }
}
