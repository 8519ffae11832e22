//! The read view: the set of index structures and segments a reader consults.
//!
//! A `View` is immutable and published through an `ArcSwap`; readers load it without
//! locking. The active memtable inside it is shared with the writer (a lock-free skiplist),
//! so a reader sees new writes without a new view; structural changes (segment rotation,
//! checkpoint, merge, compaction) publish a new view.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::entry::Entry;
use crate::error::Result;
use crate::memtable::Memtable;
use crate::run::Run;
use crate::segment::Segment;

/// How many keys ahead [`View::lookup_each`] prefetches their index probes.
const LOOKUP_PREFETCH: usize = 16;

/// One consistent set of index structures, newest first.
#[derive(Clone)]
pub struct View {
    /// The memtable the writer inserts into.
    pub active: Arc<Memtable>,
    /// Frozen memtables being written out as runs, newest first.
    pub frozen: Vec<Arc<Memtable>>,
    /// Index runs, newest first.
    pub runs: Vec<Arc<Run>>,
    /// Open log segments by id.
    pub segments: Arc<BTreeMap<u32, Arc<Segment>>>,
}

impl View {
    /// The newest index entry for `key` (which may be a tombstone or expired).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.lookup_hashed(key, crate::memtable::key_hash(key))
    }

    /// [`View::lookup`] with the key's hash already computed: every source probes with it.
    pub fn lookup_hashed(&self, key: &[u8], hash: u64) -> Result<Option<Entry>> {
        if let Some(e) = self.active.get_hashed(key, hash) {
            return Ok(Some(e));
        }
        for m in &self.frozen {
            if let Some(e) = m.get_hashed(key, hash) {
                return Ok(Some(e));
            }
        }
        for r in &self.runs {
            if let Some(e) = r.get_hashed_prefetch(key, hash, |seg, off| self.prefetch_value(seg, off))? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Looks each of `keys` up in order ([`View::lookup`]), prefetching the index probes of
    /// the key [`LOOKUP_PREFETCH`] places ahead so that the lookups' cache misses overlap
    /// instead of following one another.
    pub(crate) fn lookup_each(&self, keys: &[&[u8]]) -> Vec<Result<Option<Entry>>> {
        let hashes: Vec<u64> = keys.iter().map(|k| crate::memtable::key_hash(k)).collect();
        for &h in hashes.iter().take(LOOKUP_PREFETCH) {
            self.prefetch_index(h);
        }
        keys.iter()
            .zip(&hashes)
            .enumerate()
            .map(|(i, (key, &hash))| {
                if let Some(&ahead) = hashes.get(i + LOOKUP_PREFETCH) {
                    self.prefetch_index(ahead);
                }
                self.lookup_hashed(key, hash)
            })
            .collect()
    }

    /// Starts loading into the cache what a lookup of the key with `hash` reads first in each
    /// index source (the memtables' slots, the runs' hash slots), without waiting (see
    /// [`crate::Store::prefetch_many`]). Sources beyond the first few are left alone: a key
    /// is most often found early, and every hint takes a line of the cache.
    pub(crate) fn prefetch_index(&self, hash: u64) {
        self.active.prefetch_hashed(hash);
        for m in self.frozen.iter().take(2) {
            m.prefetch_hashed(hash);
        }
        for r in self.runs.iter().take(4) {
            r.prefetch_hashed(hash);
        }
    }

    /// Starts loading the log bytes at `offset` of segment `segment` into the cache, if that
    /// position exists (an index run's value hint; nothing is read from it).
    pub(crate) fn prefetch_value(&self, segment: u32, offset: u32) {
        if let Some(byte) = self.segments.get(&segment).and_then(|s| s.bytes().get(offset as usize)) {
            crate::io::prefetch(byte);
        }
    }

    /// Number of index sources (memtables and runs).
    pub fn source_count(&self) -> usize {
        1 + self.frozen.len() + self.runs.len()
    }
}
