//! The memtable: the index entries written since the last checkpoint.
//!
//! Two structures share the keys: a sharded hash table holds each key's entry (point reads,
//! and the writer's lookup of the previous entry, are one probe), and a B-tree set under a
//! reader-writer lock holds the keys in order (ordered reads look each key's entry up in the
//! hash table). The single writer (under the store's write mutex) inserts; point readers never
//! block on it for more than a shard's short read lock, ordered readers for more than one
//! B-tree insert.
//!
//! The ordered keys were a lock-free skiplist (`crossbeam_skiplist::SkipSet`) until
//! `perf` showed its search at 11–15% of the server's CPU under `ZADD` (every random score is
//! a new key: ~2 × log2 n dependent cache misses over 200 k keys per insert); the B-tree's
//! keys sit inline in its nodes, so a search reads a few nodes' contiguous key arrays instead.
//!
//! An overwrite only replaces the entry in the hash table: the key stays in the ordered set,
//! so a reader never misses a key that is being overwritten. A new key goes into the ordered
//! set first, then the hash table; an ordered reader that meets a key not yet in the hash
//! table skips it (its write has not completed).

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::entry::Entry;

/// Approximate heap bytes per memtable entry beyond the key itself (the ordered set's slot
/// with its inline key buffer and node overhead, the entry, plus the hash index's slot and second key copy —
/// counted once more below through the key length).
pub const ENTRY_OVERHEAD: usize = 216;

/// Shards of the hash index (a power of two), chosen by the top bits of the key's hash (the
/// table within a shard uses the low bits).
const SHARDS: usize = 16;

/// A key's hash: xxh3-64, the same function the index runs' hash tables use, so a lookup
/// through the memtables and every run hashes the key once ([`crate::view::View::lookup`]).
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Keys of up to 48 bytes are stored inline in the hash table's slot: comparing a key then
/// touches the slot's cache lines only, not a separate allocation (and inserting one
/// allocates nothing). Collections' element keys are mostly longer than 32 bytes (a prefix
/// of 13 bytes plus the user key, then the member; a sorted set's score index adds 8): with
/// 32 they spilled to the heap, and `ZADD -P 16` spent 9% in malloc/free and took a second
/// cache miss per comparison; at 48, its server CPU fell 8–25% (alternating builds), `GET`'s
/// did not change measurably. Each slot is 16 bytes larger (96).
type IndexKey = smallvec::SmallVec<[u8; 48]>;

type Shard = RwLock<HashTable<(IndexKey, Entry)>>;

/// The ordered set's keys: up to 48 bytes inline in the B-tree node, so that the comparisons
/// of a search (often over long shared prefixes such as a collection's element keys) read the
/// node's key array only, not separate allocations. It also saves an allocation per new key;
/// longer keys spill to the heap as a `Vec` would.
type OrderedKey = smallvec::SmallVec<[u8; 48]>;

/// The most keys [`Memtable::with_capacity`] reserves room for.
pub const PRESIZE_MAX: usize = 1 << 20;

/// Keys copied out per lock hold by [`Memtable::iter`].
const ITER_BATCH: usize = 1024;

/// How many keys ahead [`Memtable::iter`] prefetches their hash-table probes.
const ITER_PREFETCH: usize = 16;

/// Index entries written since the last checkpoint.
#[derive(Debug)]
pub struct Memtable {
    keys: RwLock<BTreeSet<OrderedKey>>,
    index: Box<[Shard]>,
    hints: Box<[ShardHint]>,
    bytes: AtomicUsize,
}

/// Where a shard's hash table keeps its slots, for [`Memtable::prefetch_hashed`]: the
/// address of its control bytes and its bucket mask, stored by the writer after each insert
/// of a new key (so after every growth). Read without the shard's lock: a stale pair only
/// makes a prefetch useless.
#[derive(Debug, Default)]
struct ShardHint {
    ctrl: AtomicUsize,
    mask: AtomicUsize,
}

/// Bytes of a hash-table slot.
const SLOT_LEN: usize = std::mem::size_of::<(IndexKey, Entry)>();

impl Default for Memtable {
    fn default() -> Memtable {
        Memtable {
            keys: RwLock::new(BTreeSet::new()),
            index: (0..SHARDS).map(|_| Shard::default()).collect(),
            hints: (0..SHARDS).map(|_| ShardHint::default()).collect(),
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

    /// An empty memtable whose hash index has room for `entries` keys before it grows (at
    /// most [`PRESIZE_MAX`]). Growing rehashes every key of a shard: `perf` under `ZADD`
    /// (new keys all the time) put the rehashes at 2% of the server's CPU. The slots' memory
    /// is reserved, not touched, until used.
    pub fn with_capacity(entries: usize) -> Memtable {
        let per_shard = entries.min(PRESIZE_MAX) / SHARDS + 1;
        Memtable {
            index: (0..SHARDS).map(|_| RwLock::new(HashTable::with_capacity(per_shard))).collect(),
            ..Memtable::default()
        }
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
        // The ordered set first, then the hash table (see the module documentation).
        self.keys.write().insert(OrderedKey::from_slice(key));
        {
            let mut table = shard.write();
            let slot = table.insert_unique(hash, (IndexKey::from_slice(key), entry), |(k, _)| key_hash(k));
            // hashbrown keeps slot `i` at `ctrl - (i + 1) * SLOT_LEN`, below its control
            // bytes (a layout detail: if it changed, prefetches would miss, nothing worse).
            let ctrl = (slot.get() as *const (IndexKey, Entry) as usize) + (slot.bucket_index() + 1) * SLOT_LEN;
            let mask = slot.into_table().num_buckets() - 1;
            let hint = &self.hints[shard_of(hash)];
            hint.ctrl.store(ctrl, Ordering::Relaxed);
            hint.mask.store(mask, Ordering::Relaxed);
        }
        self.bytes.fetch_add(2 * key.len() + ENTRY_OVERHEAD, Ordering::Relaxed);
    }

    /// Starts loading what a lookup of the key with `hash` will read (its control bytes and
    /// home slot) into the cache, without waiting for it and without a lock: a batch of
    /// reads issues this for every key first, so that their cache misses overlap.
    pub fn prefetch_hashed(&self, hash: u64) {
        let hint = &self.hints[shard_of(hash)];
        let ctrl = hint.ctrl.load(Ordering::Relaxed);
        if ctrl == 0 {
            return;
        }
        let pos = (hash as usize) & hint.mask.load(Ordering::Relaxed);
        crate::io::prefetch_addr(ctrl.wrapping_add(pos));
        let slot = ctrl.wrapping_sub((pos + 1).wrapping_mul(SLOT_LEN));
        crate::io::prefetch_addr(slot);
        crate::io::prefetch_addr(slot.wrapping_add(SLOT_LEN - 1));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.read().len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.keys.read().is_empty()
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Appends to `out` up to `max` keys beyond `bound`, ascending if `forward`, else
    /// descending. Returns true if there are no more keys in that direction (fewer than
    /// `max` were found). Keys only: a cursor looks each one's entry up when it gets there,
    /// so it never returns an entry older than the moment it reads it.
    pub fn keys_beyond(&self, bound: Bound<&[u8]>, forward: bool, max: usize, out: &mut Vec<Vec<u8>>) -> bool {
        let keys = self.keys.read();
        let before = out.len();
        if forward {
            out.extend(keys.range::<[u8], _>((bound, Bound::Unbounded)).take(max).map(|k| k.to_vec()));
        } else {
            out.extend(keys.range::<[u8], _>((Bound::Unbounded, bound)).rev().take(max).map(|k| k.to_vec()));
        }
        out.len() - before < max
    }

    /// All entries in key order (used to write a frozen memtable out as a run), copied out
    /// [`ITER_BATCH`] at a time so that no lock is held between batches.
    ///
    /// Each key's entry is a hash-table probe, a cache miss per key in key order; the probes
    /// of the next [`ITER_PREFETCH`] keys are prefetched ahead so that their misses overlap.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, Entry)> + '_ {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut hashes: Vec<u64> = Vec::new();
        let mut next = 0;
        let mut after: Option<Vec<u8>> = None;
        let mut done = false;
        std::iter::from_fn(move || loop {
            while next < keys.len() {
                if let Some(&h) = hashes.get(next + ITER_PREFETCH) {
                    self.prefetch_hashed(h);
                }
                let key = std::mem::take(&mut keys[next]);
                let hash = hashes[next];
                next += 1;
                if let Some(e) = self.get_hashed(&key, hash) {
                    return Some((key, e));
                }
            }
            if done {
                return None;
            }
            keys.clear();
            next = 0;
            let bound = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            done = self.keys_beyond(bound, true, ITER_BATCH, &mut keys);
            after = keys.last().cloned();
            hashes.clear();
            hashes.extend(keys.iter().map(|k| key_hash(k)));
            for &h in hashes.iter().take(ITER_PREFETCH) {
                self.prefetch_hashed(h);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64) -> Entry {
        Entry { version, expire_at_ms: 0, value: None }
    }

    /// `iter` copies batches of keys out; across batch boundaries it must return every key
    /// once, in order, with its newest entry.
    #[test]
    fn iter_returns_every_key_in_order_across_batches() {
        let m = Memtable::new();
        let n = 2 * ITER_BATCH as u64 + 17;
        // Inserted in a scrambled order, some overwritten.
        for i in 0..n {
            let k = (i * 7919) % n;
            m.insert(&k.to_be_bytes(), entry(k));
        }
        for k in (0..n).step_by(3) {
            m.insert(&k.to_be_bytes(), entry(k + 1_000_000));
        }
        let got: Vec<(Vec<u8>, Entry)> = m.iter().collect();
        assert_eq!(got.len() as u64, n);
        for (i, (k, e)) in got.iter().enumerate() {
            let i = i as u64;
            assert_eq!(k, &i.to_be_bytes());
            assert_eq!(e.version, if i.is_multiple_of(3) { i + 1_000_000 } else { i });
        }
        assert_eq!(m.len() as u64, n);
    }

    /// The prefetch hint relies on hashbrown's layout (slot `i` just below the control bytes,
    /// probing from `hash & mask`): if that changed, prefetches would silently miss. Most keys
    /// of a table less than half full sit in their home slot, which the hint must name.
    #[test]
    fn prefetch_hint_names_the_home_slot_of_most_keys() {
        let m = Memtable::new();
        let n = 5000u64;
        for i in 0..n {
            m.insert(&i.to_le_bytes(), entry(i));
        }
        let mut at_home = 0;
        for i in 0..n {
            let key = i.to_le_bytes();
            let hash = key_hash(&key);
            let hint = &m.hints[shard_of(hash)];
            let (ctrl, mask) = (hint.ctrl.load(Ordering::Relaxed), hint.mask.load(Ordering::Relaxed));
            let home = ctrl - (((hash as usize) & mask) + 1) * SLOT_LEN;
            let table = m.index[shard_of(hash)].read();
            let found = table.find(hash, |(k, _)| k.as_slice() == key).unwrap();
            if found as *const _ as usize == home {
                at_home += 1;
            }
        }
        assert!(at_home > n / 2, "only {at_home} of {n} keys in the slot the hint names");
    }

    #[test]
    fn keys_beyond_a_bound_in_each_direction() {
        let m = Memtable::new();
        for k in [b"b".as_slice(), b"d", b"f"] {
            m.insert(k, entry(1));
        }
        let beyond = |b: Bound<&[u8]>, forward: bool, max: usize| {
            let mut out = Vec::new();
            let exhausted = m.keys_beyond(b, forward, max, &mut out);
            (out.iter().map(|k| String::from_utf8(k.clone()).unwrap()).collect::<Vec<_>>().join(","), exhausted)
        };
        assert_eq!(beyond(Bound::Included(b"d"), true, 5), ("d,f".into(), true));
        assert_eq!(beyond(Bound::Excluded(b"d"), true, 5), ("f".into(), true));
        assert_eq!(beyond(Bound::Excluded(b"f"), true, 5), ("".into(), true));
        assert_eq!(beyond(Bound::Unbounded, true, 2), ("b,d".into(), false));
        assert_eq!(beyond(Bound::Included(b"d"), false, 5), ("d,b".into(), true));
        assert_eq!(beyond(Bound::Excluded(b"d"), false, 5), ("b".into(), true));
        assert_eq!(beyond(Bound::Excluded(b"b"), false, 5), ("".into(), true));
        assert_eq!(beyond(Bound::Unbounded, false, 1), ("f".into(), false));
        assert_eq!(beyond(Bound::Included(b"e"), false, 5), ("d,b".into(), true));
    }
}
