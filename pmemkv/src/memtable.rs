//! The memtable: a lock-free skiplist of the index entries written since the last checkpoint.
//!
//! Readers never lock the skiplist; the single writer (under the store's write mutex) inserts.
//! At a checkpoint it is frozen and written out as an index run, then dropped.
//!
//! An overwrite updates the entry in its node rather than replacing the node:
//! `SkipMap::insert` on an existing key unlinks the old node before linking the new one, and a
//! reader looking the key up in between would miss the memtable and fall through to an older
//! entry in a run (a read going back in time, or a live key reported absent).

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;
use parking_lot::Mutex;

use crate::entry::Entry;

/// Approximate heap bytes per memtable entry beyond the key itself (skiplist node with its
/// tower, the `Vec` header and the entry).
pub const ENTRY_OVERHEAD: usize = 120;

/// Index entries written since the last checkpoint.
#[derive(Debug, Default)]
pub struct Memtable {
    map: SkipMap<Vec<u8>, Mutex<Entry>>,
    bytes: AtomicUsize,
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// The entry for `key`, if this memtable has one.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.map.get(key).map(|e| *e.value().lock())
    }

    /// Inserts or replaces the entry for `key` (single writer: callers hold the write mutex,
    /// or own the memtable during replay).
    pub fn insert(&self, key: &[u8], entry: Entry) {
        if let Some(e) = self.map.get(key) {
            *e.value().lock() = entry;
            return;
        }
        self.bytes.fetch_add(key.len() + ENTRY_OVERHEAD, Ordering::Relaxed);
        self.map.insert(key.to_vec(), Mutex::new(entry));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The first entry with key in `bound..` (forward) — copied out.
    pub fn seek_forward(&self, bound: Bound<&[u8]>) -> Option<(Vec<u8>, Entry)> {
        self.map.lower_bound(bound).map(|e| (e.key().clone(), *e.value().lock()))
    }

    /// The last entry with key in `..bound` (backward) — copied out.
    pub fn seek_backward(&self, bound: Bound<&[u8]>) -> Option<(Vec<u8>, Entry)> {
        self.map.upper_bound(bound).map(|e| (e.key().clone(), *e.value().lock()))
    }

    /// All entries in key order (used to write the memtable out as a run).
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, Entry)> + '_ {
        self.map.iter().map(|e| (e.key().clone(), *e.value().lock()))
    }
}
