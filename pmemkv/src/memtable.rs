//! The memtable: the index entries written since the last checkpoint.
//!
//! Two structures share the keys: a sharded hash table holds each key's entry (point reads,
//! and the writer's lookup of the previous entry, are one probe), and a lock-free skiplist
//! holds the keys in order (ordered reads look each key's entry up in the hash table). The
//! single writer (under the store's write mutex) inserts; readers never block on it for more
//! than a shard's short read lock.
//!
//! An overwrite only replaces the entry in the hash table: the key stays in the skiplist, so
//! a reader never misses a key that is being overwritten (with `SkipMap::insert` the old node
//! is unlinked before the new one is linked, and a reader in between would fall through to an
//! older entry in a run — a read going back in time). A new key goes into the skiplist first,
//! then the hash table; an ordered reader that meets a key not yet in the hash table skips it
//! (its write has not completed).

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipSet;
use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::entry::Entry;

/// Approximate heap bytes per memtable entry beyond the key itself (skiplist node with its
/// tower and inline key buffer, the entry, plus the hash index's slot and second key copy —
/// counted once more below through the key length).
pub const ENTRY_OVERHEAD: usize = 200;

/// Shards of the hash index (a power of two), chosen by the top bits of the key's hash (the
/// table within a shard uses the low bits).
const SHARDS: usize = 16;

/// A key's hash: xxh3-64, the same function the index runs' hash tables use, so a lookup
/// through the memtables and every run hashes the key once ([`crate::view::View::lookup`]).
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Keys of up to 32 bytes are stored inline in the hash table's slot: comparing a key then
/// touches the slot's cache line only, not a separate allocation.
type IndexKey = smallvec::SmallVec<[u8; 32]>;

type Shard = RwLock<HashTable<(IndexKey, Entry)>>;

/// The skiplist's keys: up to 48 bytes inline in the node, so that each comparison of a
/// search (about 2 × log2 n of them per insert, often over long shared prefixes such as a
/// collection's element keys) touches the node only, not a separate allocation. It also
/// saves an allocation per new key; longer keys spill to the heap as a `Vec` would.
type SkipKey = smallvec::SmallVec<[u8; 48]>;

/// Index entries written since the last checkpoint.
#[derive(Debug)]
pub struct Memtable {
    keys: SkipSet<SkipKey>,
    index: Box<[Shard]>,
    bytes: AtomicUsize,
}

impl Default for Memtable {
    fn default() -> Memtable {
        Memtable {
            keys: SkipSet::new(),
            index: (0..SHARDS).map(|_| Shard::default()).collect(),
            bytes: AtomicUsize::new(0),
        }
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARDS.trailing_zeros())) as usize
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// The entry for `key`, if this memtable has one.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.get_hashed(key, key_hash(key))
    }

    /// [`Memtable::get`] with the key's [`key_hash`] already computed.
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<Entry> {
        self.index[shard_of(hash)].read().find(hash, |(k, _)| k.as_slice() == key).map(|(_, e)| *e)
    }

    /// Inserts or replaces the entry for `key` (single writer: callers hold the write mutex,
    /// or own the memtable during replay).
    pub fn insert(&self, key: &[u8], entry: Entry) {
        self.insert_hashed(key, key_hash(key), entry)
    }

    /// [`Memtable::insert`] with the key's [`key_hash`] already computed.
    pub fn insert_hashed(&self, key: &[u8], hash: u64, entry: Entry) {
        let shard = &self.index[shard_of(hash)];
        if let Some((_, e)) = shard.write().find_mut(hash, |(k, _)| k.as_slice() == key) {
            *e = entry;
            return;
        }
        // The skiplist first, then the hash table (see the module documentation).
        self.keys.insert(SkipKey::from_slice(key));
        shard.write().insert_unique(hash, (IndexKey::from_slice(key), entry), |(k, _)| key_hash(k));
        self.bytes.fetch_add(2 * key.len() + ENTRY_OVERHEAD, Ordering::Relaxed);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The first entry with key in `bound..` (forward) — copied out.
    pub fn seek_forward(&self, bound: Bound<&[u8]>) -> Option<(Vec<u8>, Entry)> {
        let mut k = self.keys.lower_bound(bound)?;
        loop {
            if let Some(e) = self.get(k.value()) {
                return Some((k.value().to_vec(), e));
            }
            k = k.next()?;
        }
    }

    /// The last entry with key in `..bound` (backward) — copied out.
    pub fn seek_backward(&self, bound: Bound<&[u8]>) -> Option<(Vec<u8>, Entry)> {
        let mut k = self.keys.upper_bound(bound)?;
        loop {
            if let Some(e) = self.get(k.value()) {
                return Some((k.value().to_vec(), e));
            }
            k = k.prev()?;
        }
    }

    /// All entries in key order (used to write the memtable out as a run).
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, Entry)> + '_ {
        self.keys.iter().filter_map(|k| self.get(k.value()).map(|e| (k.value().to_vec(), e)))
    }
}
