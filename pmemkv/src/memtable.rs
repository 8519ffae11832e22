//! The memtable: a lock-free skiplist of the index entries written since the last checkpoint.
//!
//! Readers never lock the skiplist; the single writer (under the store's write mutex) inserts.
//! At a checkpoint it is frozen and written out as an index run, then dropped.
//!
//! Point lookups go through a sharded hash index beside the skiplist (a skiplist search costs
//! dozens of key comparisons; a `GET` is one hash probe), updated by the single writer under
//! the shard's write lock; ordered reads use the skiplist.
//!
//! An overwrite updates the entry in its node rather than replacing the node:
//! `SkipMap::insert` on an existing key unlinks the old node before linking the new one, and a
//! reader looking the key up in between would miss the memtable and fall through to an older
//! entry in a run (a read going back in time, or a live key reported absent).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;
use parking_lot::{Mutex, RwLock};

use crate::entry::Entry;

/// Approximate heap bytes per memtable entry beyond the key itself (skiplist node with its
/// tower, the `Vec` header and the entry, plus the hash index's slot and second key copy —
/// counted once more below through the key length).
pub const ENTRY_OVERHEAD: usize = 200;

/// Shards of the hash index (a power of two).
const SHARDS: usize = 16;

/// xxh3 as a `Hasher` for the index (keys are hashed once per lookup; SipHash would cost more
/// than the probe).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
}

type Shard = RwLock<HashMap<Box<[u8]>, Entry, BuildHasherDefault<KeyHasher>>>;

/// Index entries written since the last checkpoint.
#[derive(Debug)]
pub struct Memtable {
    map: SkipMap<Vec<u8>, Mutex<Entry>>,
    index: Box<[Shard]>,
    bytes: AtomicUsize,
}

impl Default for Memtable {
    fn default() -> Memtable {
        Memtable {
            map: SkipMap::new(),
            index: (0..SHARDS).map(|_| Shard::default()).collect(),
            bytes: AtomicUsize::new(0),
        }
    }
}

fn shard_of(key: &[u8]) -> usize {
    (xxhash_rust::xxh3::xxh3_64(key) as usize) & (SHARDS - 1)
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// The entry for `key`, if this memtable has one.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.index[shard_of(key)].read().get(key).copied()
    }

    /// Inserts or replaces the entry for `key` (single writer: callers hold the write mutex,
    /// or own the memtable during replay).
    pub fn insert(&self, key: &[u8], entry: Entry) {
        let mut shard = self.index[shard_of(key)].write();
        if let Some(e) = shard.get_mut(key) {
            *e = entry;
            drop(shard);
            if let Some(n) = self.map.get(key) {
                *n.value().lock() = entry;
            }
            return;
        }
        shard.insert(key.into(), entry);
        drop(shard);
        self.bytes.fetch_add(2 * key.len() + ENTRY_OVERHEAD, Ordering::Relaxed);
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
