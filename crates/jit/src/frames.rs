//! Local calls whose frames are known at compile time (unchecked code that zeroes no stack).
//!
//! A local call normally moves r10 one frame down and compares the new frame with the
//! run's context: past the deepest frame allowed (the interpreter's limit of
//! [`MAX_CALL_FRAMES`]) it fails, below the deepest zeroed one it zeroes that frame first.
//! When every call is a direct `call local` (no `callx`, no function address a helper could
//! call back) and the functions' call graph is acyclic and at most [`MAX_CALL_FRAMES`]
//! deep, no run can pass the limit; code that zeroes no stack has nothing left to check.
//!
//! A callee that never names r10 and calls no helper needs no frame either: its call leaves
//! r10 alone (no save, no move), so the frames of its own callees start right below its
//! caller's. Nothing can tell: such a function cannot reach its frame, and no helper sees
//! its r10. Helpers called deeper count the frames above them from r10 and so miss the
//! frameless ones; what asks the depth only asks whether it is more than none (a tail
//! call from a function), which still holds, or bounds callbacks, which are excluded here.

use crate::usage::{bit, named, FunctionWalk};
use bpfkit_isa::{CallTarget, Insn, LdImm64Kind, Reg, MAX_CALL_FRAMES};

/// How a local call sets up its callee's frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LocalCall {
    /// r10 one frame down, the frame checked at run time (depth limit, zeroing).
    #[default]
    Checked,
    /// r10 one frame down; no check (the depth is known, nothing is zeroed).
    Frame,
    /// r10 left alone: the callee never names it and calls no helper.
    Frameless,
}

/// What the code reachable from a function's entry does, without entering its calls.
struct Function {
    /// Names r10 or calls a helper (or anything but a local function).
    needs_frame: bool,
    /// Entries of the functions it calls.
    callees: Vec<usize>,
}

/// Per instruction index: how the local call there sets up its callee's frame (`Checked`
/// elsewhere). All `Checked` unless the program's calls are all direct and their graph is
/// acyclic and within the frame limit. `target(i)` is the entry a local call at `i`
/// enters; `successors(i)` the instructions control may reach next from `i` within its
/// function (a call falls through).
/// Where the work bound of [`FunctionWalk`] is reached, every call stays `Checked`.
pub(crate) fn local_calls(
    insns: &[Insn],
    target: impl Fn(usize) -> usize,
    successors: impl Fn(usize) -> [Option<usize>; 2],
) -> Vec<LocalCall> {
    let n = insns.len();
    let mut kinds = vec![LocalCall::Checked; n];
    let indirect = insns.iter().any(|insn| {
        matches!(
            insn,
            Insn::Call(CallTarget::Reg(_))
                | Insn::LdImm64 {
                    kind: LdImm64Kind::Func,
                    ..
                }
        )
    });
    if indirect || n == 0 {
        return kinds;
    }
    let Some(functions) = functions(insns, &target, &successors) else {
        return kinds;
    };
    let mut depth = vec![None; n];
    let mut on_path = vec![false; n];
    if frames_from(0, 1, &functions, &mut depth, &mut on_path).is_none() {
        return kinds;
    }
    for (i, insn) in insns.iter().enumerate() {
        if matches!(insn, Insn::Call(CallTarget::Local(_))) {
            let callee = functions[target(i)].as_ref().expect("entries are analysed");
            kinds[i] = match callee.needs_frame {
                true => LocalCall::Frame,
                false => LocalCall::Frameless,
            };
        }
    }
    kinds
}

/// Per instruction index: the function entered there (the main function at 0 and every
/// local call's target), or `None` when the work bound of [`FunctionWalk`] was reached.
fn functions(
    insns: &[Insn],
    target: &impl Fn(usize) -> usize,
    successors: &impl Fn(usize) -> [Option<usize>; 2],
) -> Option<Vec<Option<Function>>> {
    let n = insns.len();
    let mut functions: Vec<Option<Function>> = (0..n).map(|_| None).collect();
    let entries = std::iter::once(0).chain(
        (0..n)
            .filter(|&i| matches!(call_of(&insns[i]), Some(CallTarget::Local(_))))
            .map(target),
    );
    let mut walk = FunctionWalk::new(n);
    for entry in entries {
        if functions[entry].is_some() {
            continue;
        }
        let mut function = Function {
            needs_frame: false,
            callees: Vec::new(),
        };
        let whole = walk.walk(entry, successors, |i| {
            let insn = &insns[i];
            match call_of(insn) {
                Some(CallTarget::Local(_)) => function.callees.push(target(i)),
                Some(_) => function.needs_frame = true,
                None => {}
            }
            function.needs_frame |= named(insn) & bit(Reg::R10) != 0;
        });
        if !whole {
            return None;
        }
        functions[entry] = Some(function);
    }
    Some(functions)
}

/// The most frames a call of the function at `entry`, made in frame `level` (the main
/// function's is 1), can reach: `None` if that passes [`MAX_CALL_FRAMES`] or the function
/// can call itself. The recursion goes no deeper than the limit.
fn frames_from(
    entry: usize,
    level: usize,
    functions: &[Option<Function>],
    depth: &mut [Option<usize>],
    on_path: &mut [bool],
) -> Option<usize> {
    if on_path[entry] || level > MAX_CALL_FRAMES {
        return None;
    }
    // `depth` holds the frames below a function (its own included), whatever its level.
    if let Some(below) = depth[entry] {
        return (level + below - 1 <= MAX_CALL_FRAMES).then_some(level + below - 1);
    }
    on_path[entry] = true;
    let mut deepest = level;
    let function = functions[entry].as_ref()?;
    for &callee in &function.callees {
        deepest = deepest.max(frames_from(callee, level + 1, functions, depth, on_path)?);
    }
    on_path[entry] = false;
    depth[entry] = Some(deepest - level + 1);
    Some(deepest)
}

/// The call `insn` makes, if it is one.
fn call_of(insn: &Insn) -> Option<CallTarget> {
    match *insn {
        Insn::Call(target) => Some(target),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coalesce::tests::asm;
    use LocalCall::*;

    /// The kinds of the local calls of `text` (uBPF-syntax assembly without `lddw`), in order.
    fn kinds(text: &str) -> Vec<LocalCall> {
        let insns = asm(text);
        let n = insns.len();
        let target = |i: usize| {
            let off = match insns[i] {
                Insn::Call(CallTarget::Local(off)) => off as i64,
                Insn::Ja { off, .. } => off as i64,
                Insn::Jmp { off, .. } => off as i64,
                _ => unreachable!("not a jump: {i}"),
            };
            (i as i64 + 1 + off) as usize
        };
        let successors = |i: usize| {
            let next = (i + 1 < n).then_some(i + 1);
            match insns[i] {
                Insn::Exit => [None, None],
                Insn::Ja { .. } => [Some(target(i)), None],
                Insn::Jmp { .. } => [next, Some(target(i))],
                _ => [next, None],
            }
        };
        let kinds = local_calls(&insns, target, successors);
        (0..n)
            .filter(|&i| matches!(insns[i], Insn::Call(CallTarget::Local(_))))
            .map(|i| kinds[i])
            .collect()
    }

    #[test]
    fn callees_without_r10_or_helpers_get_no_frame() {
        // f names no r10 and calls no helper; g reads its frame; h calls a helper.
        let text = "
            call local f
            call local h
            exit
        f:
            mov %r0, %r1
            call local g
            exit
        g:
            stxdw [%r10-8], %r1
            exit
        h:
            call 1
            exit";
        assert_eq!(kinds(text), [Frameless, Frame, Frame]);
    }

    #[test]
    fn what_a_callee_reaches_through_jumps_counts() {
        // f's r10 use is only reachable through a jump; the code after f's exit is g's.
        let text = "
            call local f
            call local g
            exit
        f:
            jeq %r1, 0, +1
            exit
            mov %r0, %r10
            exit
        g:
            exit";
        assert_eq!(kinds(text), [Frame, Frameless]);
    }

    #[test]
    fn recursion_and_depth_past_the_limit_keep_every_check() {
        assert_eq!(
            kinds("call local f\nexit\nf:\ncall local f\nexit"),
            [Checked, Checked]
        );
        let mutual = "call local f\nexit\nf:\ncall local g\nexit\ng:\ncall local f\nexit";
        assert_eq!(kinds(mutual), [Checked; 3]);
        // A chain of n nested calls needs n + 1 frames: 7 fit the 8 frames, 8 do not.
        let chain = |calls: usize| {
            let mut text = String::new();
            for k in 0..calls {
                text.push_str(&format!("call local f{k}\nexit\nf{k}:\n"));
            }
            text.push_str("mov %r0, 1\nexit");
            kinds(&text)
        };
        assert_eq!(
            chain(MAX_CALL_FRAMES - 1),
            vec![Frameless; MAX_CALL_FRAMES - 1]
        );
        assert_eq!(chain(MAX_CALL_FRAMES), vec![Checked; MAX_CALL_FRAMES]);
    }

    #[test]
    fn shared_callees_count_at_their_deepest_level() {
        // g is called from the main function (2 frames) and, six calls down, at 8 frames:
        // within the limit; one more level in between would pass it.
        let deep = |levels: usize| {
            let mut text = String::from("call local g\ncall local f0\nexit\n");
            for k in 0..levels {
                text.push_str(&format!("f{k}:\ncall local f{}\nexit\n", k + 1));
            }
            text.push_str(&format!(
                "f{levels}:\ncall local g\nexit\ng:\nmov %r0, 2\nexit"
            ));
            kinds(&text)
        };
        assert!(deep(5).iter().all(|&k| k == Frameless), "{:?}", deep(5));
        assert!(deep(6).iter().all(|&k| k == Checked), "{:?}", deep(6));
    }

    #[test]
    fn computed_calls_keep_every_check() {
        let callx = "call local f\nexit\nf:\nmov %r2, 0\ncallx r2\nexit";
        assert_eq!(kinds(callx), [Checked]);
    }
}
