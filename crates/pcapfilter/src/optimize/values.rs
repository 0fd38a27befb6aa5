//! Value numbering: every register content is named by a number that
//! stands for an expression over the packet (a load, a constant, an
//! operation on other values). Equal numbers mean equal contents on any
//! run, which is what lets the other passes see that a load repeats one
//! already done, that two branches test the same thing, or that a value is
//! a constant.
//!
//! The numbers are global (one table for the whole graph), so a load in
//! one block and the same load in another get the same number. The program
//! is acyclic, so a block's entry values follow from its predecessors'
//! exit values: where they all agree the value is kept, otherwise the
//! register gets a fresh number that stands for "whatever arrived here".
//!
//! [`Values::step`] evaluates one statement and, when asked to rewrite,
//! simplifies it: constant folding, removal of statements that leave a
//! register as it was (a repeated load, `add #0`, storing what is already
//! stored), `x`-operand instructions with a constant X turned into `k`
//! ones, indexed loads with a constant index turned into absolute ones.

use bpfkit_cbpf::op;

use super::graph::{NodeId, Stmt, A, ATOMS, X};
use super::hash::Map;
use crate::error::CompileError;

/// A value number.
pub(crate) type Val = u32;

/// The value of every atom at some point.
pub(crate) type State = [Val; ATOMS];

/// What a value number stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Expr {
    Const(u32),
    /// A load of the packet or its length: opcode, offset, index value
    /// (`NO_INDEX` unless indexed).
    Load {
        code: u16,
        k: u32,
        x: Val,
    },
    /// An ALU operation (`op` bits, plus the `k` source bit for shifts by
    /// 32 or more, which the interpreter treats differently).
    Alu {
        op: u16,
        a: Val,
        b: Val,
    },
    /// A register's content at entry to a node where paths disagree.
    Merge {
        node: NodeId,
        atom: u8,
    },
    /// A register's content when the program starts.
    Initial(u8),
    /// The result of a statement that cannot be expressed otherwise
    /// (out-of-range scratch index, division by zero): never equal to
    /// anything else.
    Opaque(u32),
}

const NO_INDEX: Val = Val::MAX;

/// The value-number table.
#[derive(Default)]
pub(crate) struct Values {
    exprs: Vec<Expr>,
    index: Map<Expr, Val>,
    consts: Map<u32, Val>,
    opaque: u32,
    /// An indexed load whose constant index plus offset passes 2^32 is
    /// taken to read at the wrapped-around offset (as the Linux kernel
    /// does; libpcap's interpreter fails it instead). Only allowed when
    /// failed loads need not be preserved.
    pub wrap_index: bool,
}

/// What became of a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep this (possibly rewritten) statement.
    Keep(Stmt),
    /// The statement has no effect: delete it.
    Delete,
}

impl Values {
    fn intern(&mut self, e: Expr) -> Val {
        if let Some(&v) = self.index.get(&e) {
            return v;
        }
        let v = self.exprs.len() as Val;
        self.exprs.push(e);
        self.index.insert(e, v);
        v
    }

    /// The number of constant `k`.
    pub fn konst(&mut self, k: u32) -> Val {
        // Asked for constantly (every `k` operand): a table of its own.
        if let Some(&v) = self.consts.get(&k) {
            return v;
        }
        let v = self.intern(Expr::Const(k));
        self.consts.insert(k, v);
        v
    }

    /// The constant `v` stands for, if it is one.
    pub fn const_of(&self, v: Val) -> Option<u32> {
        match self.exprs.get(v as usize) {
            Some(Expr::Const(k)) => Some(*k),
            _ => None,
        }
    }

    /// `(a, c)` if `v` is `a + c` for a constant `c`.
    pub fn as_add_const(&self, v: Val) -> Option<(Val, u32)> {
        match self.exprs[v as usize] {
            Expr::Alu { op: op::ADD, a, b } => match (self.const_of(a), self.const_of(b)) {
                (_, Some(c)) => Some((a, c)),
                (Some(c), _) => Some((b, c)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The largest number `v` can stand for (for proving that an addition
    /// cannot wrap around).
    pub fn max_of(&self, v: Val) -> u64 {
        const ALL: u64 = u32::MAX as u64;
        match self.exprs[v as usize] {
            Expr::Const(k) => u64::from(k),
            Expr::Load { code, .. } if code & 0x07 == op::LDX => 60,
            Expr::Load { code, .. } => match code & 0x18 {
                op::B if code & 0xe0 != op::LEN => 0xff,
                op::H => 0xffff,
                _ => ALL,
            },
            Expr::Alu { op: op::AND, a, b } => self.max_of(a).min(self.max_of(b)),
            Expr::Alu { op: op::ADD, a, b } => (self.max_of(a) + self.max_of(b)).min(ALL),
            Expr::Alu { op: op::RSH, a, b } => match self.const_of(b) {
                Some(k) if k < 32 => self.max_of(a) >> k,
                _ => ALL,
            },
            Expr::Alu { op: op::LSH, a, b } => match self.const_of(b) {
                Some(k) if k < 32 => (self.max_of(a) << k).min(ALL),
                _ => ALL,
            },
            Expr::Alu {
                op: op::OR | op::XOR,
                a,
                b,
            } => {
                // No bit above the highest bit of either operand.
                let m = self.max_of(a).max(self.max_of(b));
                (m + 1).next_power_of_two() - 1
            }
            _ => ALL,
        }
    }

    /// The entry state of the program: every atom unknown.
    pub fn initial(&mut self) -> State {
        std::array::from_fn(|atom| self.intern(Expr::Initial(atom as u8)))
    }

    /// Entry state of `node` from its predecessors' exit states.
    pub fn merge<'s>(&mut self, node: NodeId, mut exits: impl Iterator<Item = &'s State>) -> State {
        let Some(first) = exits.next() else {
            return self.initial();
        };
        let mut st = *first;
        let mut differs = [false; ATOMS];
        for e in exits {
            for atom in 0..ATOMS {
                differs[atom] |= e[atom] != st[atom];
            }
        }
        for atom in 0..ATOMS {
            if differs[atom] {
                st[atom] = self.intern(Expr::Merge {
                    node,
                    atom: atom as u8,
                });
            }
        }
        st
    }

    fn opaque(&mut self) -> Val {
        self.opaque += 1;
        self.intern(Expr::Opaque(self.opaque))
    }

    /// The value of ALU operation `alu` (operation bits) on values `a`, `b`,
    /// simplified; `Err` names a division by a constant zero.
    fn alu(&mut self, alu: u16, a: Val, b: Val, k_form: bool) -> Result<Val, &'static str> {
        let (ca, cb) = (self.const_of(a), self.const_of(b));
        if let (Some(x), Some(y)) = (ca, cb) {
            let r = match alu {
                op::ADD => x.wrapping_add(y),
                op::SUB => x.wrapping_sub(y),
                op::MUL => x.wrapping_mul(y),
                op::DIV => x.checked_div(y).ok_or("division by zero")?,
                op::MOD => x.checked_rem(y).ok_or("modulus by zero")?,
                op::AND => x & y,
                op::OR => x | y,
                op::XOR => x ^ y,
                // The interpreter shifts by a constant modulo 32, by X
                // of 32 or more to 0.
                op::LSH if k_form => x.wrapping_shl(y),
                op::RSH if k_form => x.wrapping_shr(y),
                op::LSH => x.checked_shl(y).unwrap_or(0),
                op::RSH => x.checked_shr(y).unwrap_or(0),
                _ => return Ok(self.opaque()),
            };
            return Ok(self.konst(r));
        }
        match (alu, cb) {
            (op::DIV, Some(0)) => return Err("division by zero"),
            (op::MOD, Some(0)) => return Err("modulus by zero"),
            (op::ADD | op::SUB | op::OR | op::XOR | op::LSH | op::RSH, Some(0)) => return Ok(a),
            (op::MUL | op::DIV, Some(1)) => return Ok(a),
            (op::AND, Some(u32::MAX)) => return Ok(a),
            (op::MUL | op::AND, Some(0)) => return Ok(b),
            _ => {}
        }
        match (alu, ca) {
            (op::ADD | op::OR | op::XOR, Some(0)) => return Ok(b),
            (op::MUL, Some(1)) => return Ok(b),
            (op::AND, Some(u32::MAX)) => return Ok(b),
            (op::MUL | op::AND, Some(0)) => return Ok(a),
            _ => {}
        }
        let key = match alu {
            op::ADD | op::MUL | op::AND | op::OR | op::XOR => Expr::Alu {
                op: alu,
                a: a.min(b),
                b: a.max(b),
            },
            op::LSH | op::RSH if k_form && cb.is_some_and(|k| k >= 32) => Expr::Alu {
                op: alu | op::ALU,
                a,
                b,
            },
            _ => Expr::Alu { op: alu, a, b },
        };
        Ok(self.intern(key))
    }

    /// Evaluates `s` on `st`. With `rewrite`, also simplifies it (see the
    /// module documentation) and reports constant divisions by zero and
    /// shifts by more than 31 as errors, as libpcap's optimizer does;
    /// without, leaves it as it is and gives such results values of their
    /// own.
    pub fn step(&mut self, s: Stmt, st: &mut State, rewrite: bool) -> Result<Step, CompileError> {
        let fail = |m: &str| Err(CompileError::Constant(m.to_string()));
        let class = s.code & 0x07;
        let mut out = s;
        // The atom written and its new value.
        let (atom, v) = match class {
            op::LD | op::LDX => {
                let atom = if class == op::LD { A } else { X };
                let v = match s.code & 0xe0 {
                    op::IMM => self.konst(s.k),
                    op::LEN => self.intern(Expr::Load {
                        code: op::LD | op::LEN,
                        k: 0,
                        x: NO_INDEX,
                    }),
                    op::MEM if s.k < op::MEMWORDS => {
                        let v = st[s.k as usize];
                        let other = if atom == A { X } else { A };
                        if rewrite {
                            if let Some(c) = self.const_of(v) {
                                out = Stmt {
                                    code: class | op::IMM,
                                    k: c,
                                };
                            } else if st[other] == v {
                                // Copy from the other register instead, so
                                // the store may become dead.
                                let misc = if atom == A { op::TXA } else { op::TAX };
                                out = Stmt {
                                    code: op::MISC | misc,
                                    k: 0,
                                };
                            }
                        }
                        v
                    }
                    op::IND => {
                        let x = st[X];
                        // With a constant index it is the absolute load
                        // (same bytes, same bounds check).
                        let wrap = self.wrap_index;
                        let offset = |c: u32| {
                            if wrap {
                                Some(s.k.wrapping_add(c))
                            } else {
                                s.k.checked_add(c)
                            }
                        };
                        match self.const_of(x).map(offset) {
                            Some(Some(k)) => {
                                let code = op::LD | op::ABS | (s.code & 0x18);
                                if rewrite {
                                    out = Stmt { code, k };
                                }
                                self.intern(Expr::Load {
                                    code,
                                    k,
                                    x: NO_INDEX,
                                })
                            }
                            _ => self.intern(Expr::Load {
                                code: s.code,
                                k: s.k,
                                x,
                            }),
                        }
                    }
                    op::ABS | op::MSH => self.intern(Expr::Load {
                        code: s.code,
                        k: s.k,
                        x: NO_INDEX,
                    }),
                    _ => self.opaque(),
                };
                (atom, v)
            }
            op::ST | op::STX => {
                if s.k >= op::MEMWORDS {
                    return Ok(Step::Keep(s));
                }
                let from = if class == op::ST { A } else { X };
                (s.k as usize, st[from])
            }
            op::MISC => {
                let (to, from) = if s.code & 0xf8 == op::TAX {
                    (X, A)
                } else {
                    (A, X)
                };
                let v = st[from];
                if rewrite {
                    // Load a constant or the length directly rather than
                    // copy it, so the other register may become dead.
                    let class = if to == A { op::LD } else { op::LDX };
                    if let Some(c) = self.const_of(v) {
                        out = Stmt {
                            code: class | op::IMM,
                            k: c,
                        };
                    } else if to == A
                        && self.exprs[v as usize]
                            == (Expr::Load {
                                code: op::LD | op::LEN,
                                k: 0,
                                x: NO_INDEX,
                            })
                    {
                        // (Not `ldx #pktlen`: valid, but unknown to
                        // libpcap's and bpfkit's disassemblers.)
                        out = Stmt {
                            code: class | op::LEN,
                            k: 0,
                        };
                    }
                }
                (to, v)
            }
            op::ALU => {
                let alu = s.code & 0xf0;
                let a = st[A];
                let v = if alu == op::NEG {
                    match self.const_of(a) {
                        Some(c) => {
                            let r = 0u32.wrapping_sub(c);
                            if rewrite {
                                out = Stmt {
                                    code: op::LD | op::IMM,
                                    k: r,
                                };
                            }
                            self.konst(r)
                        }
                        None => self.intern(Expr::Alu {
                            op: op::NEG,
                            a,
                            b: a,
                        }),
                    }
                } else {
                    let x_form = s.code & op::X != 0;
                    let b = if x_form { st[X] } else { self.konst(s.k) };
                    let cb = self.const_of(b);
                    // (libpcap folds constant shifts of constants of 32 or
                    // more to 0 without complaint.)
                    if rewrite && x_form && self.const_of(a).is_none() {
                        if let Some(c) = cb {
                            if matches!(alu, op::LSH | op::RSH) && c > 31 {
                                return fail("shift by more than 31 bits");
                            }
                            out = Stmt {
                                code: op::ALU | alu | op::K,
                                k: c,
                            };
                        }
                    }
                    let k_form = !x_form || out.code & op::X == 0;
                    match self.alu(alu, a, b, k_form) {
                        Ok(v) => {
                            if rewrite {
                                if let Some(c) = self.const_of(v) {
                                    out = Stmt {
                                        code: op::LD | op::IMM,
                                        k: c,
                                    };
                                } else if v == st[X] && x_form && cb.is_none() {
                                    // e.g. `add x` with A = 0.
                                    out = Stmt {
                                        code: op::MISC | op::TXA,
                                        k: 0,
                                    };
                                }
                            }
                            v
                        }
                        Err(m) if rewrite => return fail(m),
                        Err(_) => self.opaque(),
                    }
                };
                (A, v)
            }
            _ => return Ok(Step::Keep(s)),
        };
        if st[atom] == v && rewrite {
            // The register already holds this value (so any load or
            // division it repeats has already succeeded on this path).
            return Ok(Step::Delete);
        }
        st[atom] = v;
        Ok(Step::Keep(out))
    }
}
