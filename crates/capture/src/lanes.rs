//! Visiting the records of a large in-memory pcap file in several lanes at once.
//!
//! Where a record starts is known only once the header before it has been
//! read, so reading records one after another waits on memory for each one,
//! unless every byte of the file is streamed through the cache. Lanes cut
//! the file into parts that are walked in turn, one record each: while one
//! lane's next header is on its way from memory, the others work. Only the
//! lines holding headers (and what the caller reads) are loaded.
//!
//! The cut points are found by looking for plausible record headers, and
//! then proven: a lane must end exactly where the next one starts, the first
//! starting where the reader stands. Anything short of that (damage, records
//! the reader would copy or cut, a cut point that was not a record boundary)
//! makes the walk report failure, and the caller reads the file normally.

use crate::pcap;
use crate::reader::{prefetch, Record};

/// Headers checked in a row before a position is taken as a record boundary.
const CHAIN: usize = 16;
/// How far past a guessed cut point a record boundary is looked for.
const SEARCH: usize = 1 << 16;
/// Lanes shorter than this are not worth the set-up.
const MIN_LANE: usize = 1 << 20;
/// How far (in seconds) from the first packet's time a cut point's packet may be.
const MAX_GAP: i64 = 366 * 86_400;

/// A classic pcap file in memory, cut into lanes; see [`Reader::lanes`](crate::Reader::lanes).
pub struct Lanes<'r, 'a> {
    state: &'r pcap::State,
    data: &'a [u8],
    /// Lane `i` is `bounds[i]..bounds[i + 1]`.
    bounds: Vec<usize>,
}

impl<'r, 'a> Lanes<'r, 'a> {
    /// Cuts `data` (starting at a record boundary) into at most `lanes` lanes.
    pub(crate) fn new(state: &'r pcap::State, data: &'a [u8], lanes: usize) -> Lanes<'r, 'a> {
        let lanes = lanes.clamp(1, (data.len() / MIN_LANE).max(1));
        let mut bounds = vec![0];
        let first_sec = state.seconds_at(data, 0).unwrap_or(0);
        for i in 1..lanes {
            let guess = data.len() / lanes * i;
            let last = *bounds.last().unwrap_or(&0);
            if let Some(at) = (guess..(guess + SEARCH).min(data.len()))
                .find(|&at| at > last && chain_holds(state, data, at, first_sec))
            {
                bounds.push(at);
            }
        }
        bounds.push(data.len());
        Lanes {
            state,
            data,
            bounds,
        }
    }

    /// How many lanes the file was cut into.
    pub fn count(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Calls `visit` once for every record, taking the lanes in turn (so not
    /// in file order), while it returns `true`.
    ///
    /// Returns `true` if every record was visited and the cut points proved
    /// right. Returns `false` if `visit` asked to stop or the walk met
    /// anything it cannot vouch for: then discard what `visit` saw and read
    /// the file with [`Reader::next_record`](crate::Reader::next_record),
    /// which the walk did not advance.
    pub fn visit_all(self, mut visit: impl FnMut(Record<'a>) -> bool) -> bool {
        let mut cursors: Vec<(usize, usize)> =
            self.bounds.windows(2).map(|w| (w[0], w[1])).collect();
        loop {
            let mut busy = false;
            for (at, end) in cursors.iter_mut() {
                if *at == *end {
                    continue;
                }
                busy = true;
                let Some((found, next)) = self.state.record_in_place(self.data, *at) else {
                    return false;
                };
                if next > *end {
                    return false;
                }
                // Ask for the lane's next header now; it is needed one round later.
                prefetch(self.data.as_ptr().wrapping_add(next));
                prefetch(self.data.as_ptr().wrapping_add(next + 64));
                *at = next;
                let record = Record {
                    ts: found.ts,
                    caplen: found.data.len() as u32,
                    wirelen: found.wirelen,
                    interface: found.interface,
                    link_type: found.link_type,
                    data: found.data,
                };
                if !visit(record) {
                    return false;
                }
            }
            if !busy {
                return true;
            }
        }
    }
}

/// Whether `CHAIN` plausible records follow one another from `at` (or reach the end).
fn chain_holds(state: &pcap::State, data: &[u8], mut at: usize, first_sec: i64) -> bool {
    for _ in 0..CHAIN {
        if at == data.len() {
            return true;
        }
        if !state.plausible_at(data, at, first_sec, MAX_GAP) {
            return false;
        }
        match state.record_in_place(data, at) {
            Some((_, next)) => at = next,
            None => return false,
        }
    }
    true
}
