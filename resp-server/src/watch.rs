//! `WATCH` bookkeeping: which clients watch which keys, and flagging them when a key changes.
//!
//! Like Redis, a write command signals the keys it modified; every client watching one of
//! them gets its "dirty" flag set, and its next `EXEC` aborts. The registry is only consulted
//! when at least one key is watched (one relaxed load per write otherwise).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// A client's watch state, shared with the registry.
#[derive(Debug, Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    /// True once a watched key changed.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Clears the flag (after `EXEC`, `DISCARD`, `UNWATCH`).
    pub fn clear(&self) {
        self.dirty.store(false, Ordering::Release);
    }

    /// Sets the flag.
    pub fn set(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

/// The watchers of one key: client id and its flag.
type Watchers = Vec<(u64, Arc<WatchFlag>)>;

/// All watched keys.
#[derive(Debug, Default)]
pub struct Watches {
    map: Mutex<HashMap<(u8, Bytes), Watchers>>,
    count: AtomicUsize,
}

impl Watches {
    /// Registers client `id` as watching `key` in database `db`.
    pub fn watch(&self, db: u8, key: Bytes, id: u64, flag: &Arc<WatchFlag>) {
        let mut m = self.map.lock();
        let list = m.entry((db, key)).or_default();
        if !list.iter().any(|(c, _)| *c == id) {
            list.push((id, flag.clone()));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes client `id` from the watchers of `keys`.
    pub fn unwatch(&self, keys: &[(u8, Bytes)], id: u64) {
        if keys.is_empty() {
            return;
        }
        let mut m = self.map.lock();
        for k in keys {
            if let Some(list) = m.get_mut(k) {
                let before = list.len();
                list.retain(|(c, _)| *c != id);
                self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    m.remove(k);
                }
            }
        }
    }

    /// True if any key is watched.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Flags the watchers of `key` in `db`.
    pub fn touch(&self, db: u8, key: &[u8]) {
        if !self.any() {
            return;
        }
        let m = self.map.lock();
        if let Some(list) = m.get(&(db, Bytes::copy_from_slice(key))) {
            for (_, f) in list {
                f.set();
            }
        }
    }

    /// Flags the watchers of every key in `db` (`None`: in every database), as `FLUSHDB` and
    /// `FLUSHALL` do.
    pub fn touch_all(&self, db: Option<u8>) {
        if !self.any() {
            return;
        }
        let m = self.map.lock();
        for ((d, _), list) in m.iter() {
            if db.is_none_or(|x| x == *d) {
                for (_, f) in list {
                    f.set();
                }
            }
        }
    }
}
