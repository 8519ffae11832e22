//! Logical databases and numeric scan cursors on top of the engine's collection layer.
//!
//! Redis has 16 numbered databases; pmemkv keeps them in one store by prefixing every user
//! key with its database number (one byte), so `SELECT` costs nothing and `FLUSHDB` is a
//! range delete. [`db_key`] builds the stored key.
//!
//! Redis's `SCAN` cursors are integers that clients parse as such (redis-py, redis-rs), but
//! the engine resumes a scan from a key. [`Cursors`] maps the integers handed out to the
//! positions they stand for, bounded in entries and bytes; a cursor that has been evicted
//! (or was never handed out) restarts the scan from the beginning, which keeps SCAN's
//! guarantee (every key present throughout is returned at least once) at the price of
//! duplicates. This is how Kvrocks serves SCAN on RocksDB.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

/// The stored key of `key` in database `db`.
pub fn db_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(db);
    k.extend_from_slice(key);
    k
}

/// Most cursors remembered at once.
const MAX_CURSORS: usize = 100_000;
/// Most bytes of positions remembered at once.
const MAX_CURSOR_BYTES: usize = 64 << 20;

/// Numeric scan cursors (see the module documentation).
#[derive(Debug)]
pub struct Cursors {
    inner: Mutex<CursorTable>,
}

#[derive(Debug)]
struct CursorTable {
    map: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    bytes: usize,
    /// The first cursor number handed out (cursors below it, or at/after `next`, were never
    /// issued by this process).
    first: u64,
    next: u64,
}

/// What a cursor number stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorLookup {
    /// 0: the start of a scan.
    Start,
    /// A position handed out earlier.
    At(Vec<u8>),
    /// A cursor handed out earlier and since evicted: the scan restarts (duplicates, no misses).
    Evicted,
    /// A number this process never handed out: like Redis with a cursor past the end of its
    /// table, the scan is over.
    Foreign,
}

impl Default for Cursors {
    fn default() -> Cursors {
        // Start somewhere that depends on the start time, so that a cursor kept by a client
        // across a server restart is unlikely to name a position of the new process.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Cursors {
            inner: Mutex::new(CursorTable {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                first: (seed % (1 << 40)) + 1,
                next: (seed % (1 << 40)) + 1,
            }),
        }
    }
}

impl Cursors {
    /// Remembers `position` and returns its cursor number (never 0).
    pub fn put(&self, position: Vec<u8>) -> u64 {
        let mut t = self.inner.lock();
        while t.map.len() >= MAX_CURSORS || (t.bytes + position.len() > MAX_CURSOR_BYTES && !t.order.is_empty()) {
            let Some(old) = t.order.pop_front() else { break };
            if let Some(p) = t.map.remove(&old) {
                t.bytes -= p.len();
            }
        }
        let n = t.next;
        t.next = t.next.wrapping_add(1).max(1);
        t.bytes += position.len();
        t.map.insert(n, position);
        t.order.push_back(n);
        n
    }

    /// The position of cursor `n`; `None` for 0 (start) and for unknown cursors, which
    /// restart the scan.
    pub fn get(&self, n: u64) -> Option<Vec<u8>> {
        if n == 0 {
            return None;
        }
        let t = self.inner.lock();
        let p = t.map.get(&n).cloned();
        if p.is_none() {
            tracing::debug!(cursor = n, "unknown scan cursor: restarting the scan");
        }
        p
    }

    /// What cursor `n` stands for.
    pub fn lookup(&self, n: u64) -> CursorLookup {
        if n == 0 {
            return CursorLookup::Start;
        }
        let t = self.inner.lock();
        match t.map.get(&n) {
            Some(p) => CursorLookup::At(p.clone()),
            None if n >= t.first && n < t.next => CursorLookup::Evicted,
            None => CursorLookup::Foreign,
        }
    }

    /// Number of cursors remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// True if no cursor is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_evict_oldest() {
        let c = Cursors::default();
        let a = c.put(b"a".to_vec());
        let b = c.put(b"b".to_vec());
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(c.get(a).as_deref(), Some(&b"a"[..]));
        assert_eq!(c.get(0), None);
        assert_eq!(c.get(a.wrapping_add(1000)), None);
        for i in 0..MAX_CURSORS {
            c.put(i.to_le_bytes().to_vec());
        }
        assert_eq!(c.get(a), None);
        assert_eq!(c.len(), MAX_CURSORS);
    }
}
