//! Which values of the log segments are known dead: a bitmap per segment, in RAM only.
//!
//! Compacting a partly live segment must find its live values. Without marks that is an
//! index lookup for every value in the segment — a segment of small records holds millions
//! of them, seconds of CPU — although compaction only takes segments that are mostly dead.
//! The writer already learns the exact location of every value it supersedes (the dead-space
//! accounting, [`crate::store::mark_dead`]); it also sets that value's bit here, and
//! compaction skips marked values without a lookup, so its lookups are proportional to the
//! values that are *not* known dead (the live ones, and values whose death predates the open).
//!
//! The marks are a hint that is only ever trusted in one direction: a marked value is dead
//! (a value, once superseded, never becomes current again — relocation writes a *new* copy),
//! an unmarked one is looked up as before. So losing marks is harmless: they are not
//! persisted (after a reopen, compaction of older segments falls back to lookups), and once
//! the marks of all segments take [`DEAD_MARKS_MAX_BYTES`] no new segment gets a bitmap.
//!
//! A bit stands for [`GRANULE`] bytes of value offset. Two values in a segment start at least
//! an op header ([`crate::record::OP_HEADER_LEN`], 25 bytes) apart, more than a granule, so
//! no two values share a bit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::record::OP_HEADER_LEN;

/// Bytes of segment offset per bit.
pub(crate) const GRANULE: u32 = 16;

const _: () = assert!(OP_HEADER_LEN as u32 > GRANULE, "two values must never share a bit");

/// Most heap bytes the bitmaps of all segments may take together: 64 MiB, enough for 64 full
/// bitmaps of the default 128 MiB segments (a bitmap takes 1/128 of its segment's size).
pub(crate) const DEAD_MARKS_MAX_BYTES: usize = 64 << 20;

/// The dead-value bitmaps of the log segments (owned by the writer, under its mutex).
#[derive(Debug)]
pub(crate) struct DeadMarks {
    segments: HashMap<u32, SegmentMarks>,
    bytes: usize,
    budget: usize,
    /// `bytes`, readable without the writer's mutex (for [`crate::Store::stats`]).
    gauge: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct SegmentMarks {
    bits: Vec<u64>,
    count: u64,
}

/// A copy of one segment's marks, taken when its compaction starts (marks only ever get
/// added, so a copy stays true).
#[derive(Debug, Default)]
pub(crate) struct MarksSnapshot {
    bits: Vec<u64>,
}

impl MarksSnapshot {
    /// True if the value starting at `offset` is marked dead.
    pub fn is_dead(&self, offset: u32) -> bool {
        let bit = (offset / GRANULE) as usize;
        self.bits.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
}

impl DeadMarks {
    /// No marks, with the default budget.
    pub fn new() -> DeadMarks {
        DeadMarks::with_budget(DEAD_MARKS_MAX_BYTES)
    }

    /// No marks; the bitmaps together take at most `budget` bytes.
    pub fn with_budget(budget: usize) -> DeadMarks {
        DeadMarks { segments: HashMap::new(), bytes: 0, budget, gauge: Arc::default() }
    }

    /// A gauge that follows [`DeadMarks::bytes`].
    pub fn gauge(&self) -> Arc<AtomicUsize> {
        self.gauge.clone()
    }

    /// Marks the value starting at `offset` in `segment` dead. Does nothing if the bitmap
    /// would have to grow past the budget.
    pub fn mark(&mut self, segment: u32, offset: u32) {
        let bit = (offset / GRANULE) as usize;
        let word = bit / 64;
        let marks = self.segments.entry(segment).or_default();
        if word >= marks.bits.len() {
            // Grow to the next power of two words (at least 64): bitmaps of segments written
            // front to back grow a few times, not once per word.
            let want = (word + 1).next_power_of_two().max(64);
            let grow = (want - marks.bits.len()) * 8;
            if self.bytes + grow > self.budget {
                return;
            }
            marks.bits.resize(want, 0);
            self.bytes += grow;
            self.gauge.store(self.bytes, Ordering::Relaxed);
        }
        let mask = 1u64 << (bit % 64);
        if marks.bits[word] & mask == 0 {
            marks.bits[word] |= mask;
            marks.count += 1;
        }
    }

    /// Number of values of `segment` marked dead.
    pub fn count(&self, segment: u32) -> u64 {
        self.segments.get(&segment).map_or(0, |m| m.count)
    }

    /// A copy of `segment`'s marks.
    pub fn snapshot(&self, segment: u32) -> MarksSnapshot {
        MarksSnapshot { bits: self.segments.get(&segment).map(|m| m.bits.clone()).unwrap_or_default() }
    }

    /// Forgets `segment` (deleted from disk).
    pub fn remove(&mut self, segment: u32) {
        if let Some(m) = self.segments.remove(&segment) {
            self.bytes -= m.bits.len() * 8;
            self.gauge.store(self.bytes, Ordering::Relaxed);
        }
    }

    /// Heap bytes the bitmaps take.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_per_segment_and_counted_once() {
        let mut m = DeadMarks::new();
        m.mark(3, 100);
        m.mark(3, 100);
        m.mark(3, 125);
        m.mark(4, 100);
        assert_eq!(m.count(3), 2);
        assert_eq!(m.count(4), 1);
        assert_eq!(m.count(5), 0);
        let s = m.snapshot(3);
        assert!(s.is_dead(100) && s.is_dead(125));
        assert!(!s.is_dead(150) && !s.is_dead(1 << 26));
        assert!(!m.snapshot(5).is_dead(100));
        let before = m.bytes();
        assert_eq!(m.gauge().load(Ordering::Relaxed), before);
        m.remove(3);
        assert_eq!(m.count(3), 0);
        assert!(m.bytes() < before);
        m.remove(4);
        assert_eq!(m.bytes(), 0);
        assert_eq!(m.gauge().load(Ordering::Relaxed), 0);
    }

    #[test]
    fn values_an_op_header_apart_never_share_a_bit() {
        let mut m = DeadMarks::new();
        let step = OP_HEADER_LEN as u32;
        for i in 0..10_000u32 {
            if i % 2 == 0 {
                m.mark(1, 32 + i * step);
            }
        }
        let s = m.snapshot(1);
        for i in 0..10_000u32 {
            assert_eq!(s.is_dead(32 + i * step), i % 2 == 0, "value {i}");
        }
        assert_eq!(m.count(1), 5_000);
    }

    #[test]
    fn the_budget_bounds_the_bitmaps() {
        let mut m = DeadMarks::with_budget(4096);
        m.mark(1, 0);
        let one = m.bytes();
        assert!(one > 0 && one <= 4096);
        // Far into a segment: the bitmap would outgrow the budget, so the mark is dropped.
        m.mark(1, 100 << 20);
        assert!(!m.snapshot(1).is_dead(100 << 20));
        assert_eq!(m.count(1), 1);
        assert!(m.bytes() <= 4096);
        // Marks within what is allocated still land.
        m.mark(1, 160);
        assert!(m.snapshot(1).is_dead(160));
    }
}
