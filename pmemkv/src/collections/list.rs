//! Lists: element `i` (0-based) is stored at position `head + i`, key `E…version ++
//! u64-BE(position)`; the metadata record holds `head` and `tail` (one past the last). Pushes
//! and pops at either end, `LINDEX` and `LSET` are O(log n) (one key each); `LRANGE` is one
//! ordered scan starting at the right position, O(log n + k). Positions start at
//! [`crate::collections::keys::LIST_BIAS`], so 2^63 pushes fit on each side.
//!
//! Not provided: `LINSERT`/`LREM` (they renumber the elements after the insertion point and
//! would be O(n) in this layout).

use crate::collections::keys::{list_key, CollMeta, KeyType};
use crate::collections::{tx_coll, tx_store_meta, Collections};
use crate::error::{Error, Result};
use crate::iter::{Direction, KeyRange};
use crate::value::ValueRef;
use std::ops::Bound;

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl Collections {
    /// Pushes `values` one by one at the head of list `key` (`LPUSH`; so the last value ends
    /// up first), creating the list if needed. Returns the new length.
    pub fn lpush<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, End::Left, false)
    }

    /// Pushes `values` at the tail of list `key` (`RPUSH`). Returns the new length.
    pub fn rpush<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, End::Right, false)
    }

    /// Like [`Collections::lpush`], but only if the list exists (`LPUSHX`); returns 0 if not.
    pub fn lpushx<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, End::Left, true)
    }

    /// Like [`Collections::rpush`], but only if the list exists (`RPUSHX`); returns 0 if not.
    pub fn rpushx<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, End::Right, true)
    }

    fn push<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V], end: End, only_existing: bool) -> Result<u64> {
        self.store.update(|txn| {
            let (mut m, expiry) = match tx_coll(&self.store, txn, key, KeyType::List)? {
                Some(x) => x,
                None if only_existing => return Ok(0),
                None => (CollMeta::new(KeyType::List, txn.version()), None),
            };
            let full = || Error::InvalidArgument("list is full".into());
            for v in values {
                let pos = match end {
                    End::Left => {
                        m.head = m.head.checked_sub(1).ok_or_else(full)?;
                        m.head
                    }
                    End::Right => {
                        let p = m.tail;
                        m.tail = m.tail.checked_add(1).ok_or_else(full)?;
                        p
                    }
                };
                txn.put(&list_key(key, m.version, pos), v.as_ref())?;
                m.count += 1;
            }
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(m.count)
        })
    }

    /// Removes and returns up to `count` elements from the head of list `key` (`LPOP`); the
    /// list is deleted when it becomes empty. O(count · log n).
    pub fn lpop(&self, key: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
        self.pop(key, count, End::Left)
    }

    /// Removes and returns up to `count` elements from the tail of list `key` (`RPOP`), last
    /// element first.
    pub fn rpop(&self, key: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
        self.pop(key, count, End::Right)
    }

    fn pop(&self, key: &[u8], count: usize, end: End) -> Result<Vec<Vec<u8>>> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(Vec::new()) };
            let n = (count as u64).min(m.count);
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let pos = match end {
                    End::Left => m.head,
                    End::Right => m.tail - 1,
                };
                let lk = list_key(key, m.version, pos);
                let v = txn.get(&lk)?.ok_or_else(|| self.missing_element(key, pos))?;
                out.push(v.to_vec());
                txn.delete(&lk)?;
                match end {
                    End::Left => m.head += 1,
                    End::Right => m.tail -= 1,
                }
                m.count -= 1;
            }
            if n > 0 {
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(out)
        })
    }

    /// Length of list `key` (`LLEN`); O(1).
    pub fn llen(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::List)?.map_or(0, |m| m.count))
    }

    /// Element `index` of list `key` (`LINDEX`; negative counts from the tail, -1 = last);
    /// `None` if out of range. O(log n).
    pub fn lindex(&self, key: &[u8], index: i64) -> Result<Option<ValueRef>> {
        let Some(m) = self.load_coll(key, KeyType::List)? else { return Ok(None) };
        let Some(i) = normalize_index(index, m.count) else { return Ok(None) };
        self.store.get(&list_key(key, m.version, m.head + i))
    }

    /// Elements `start..=stop` of list `key` (`LRANGE`, Redis index semantics: negative
    /// indices count from the tail, out-of-range bounds are clamped, an empty range gives
    /// nothing). O(log n + k).
    pub fn lrange(&self, key: &[u8], start: i64, stop: i64) -> Result<Vec<ValueRef>> {
        let Some(m) = self.load_coll(key, KeyType::List)? else { return Ok(Vec::new()) };
        let Some((s, e)) = normalize_range(start, stop, m.count) else { return Ok(Vec::new()) };
        let range = KeyRange {
            start: Bound::Included(list_key(key, m.version, m.head + s)),
            end: Bound::Included(list_key(key, m.version, m.head + e)),
        };
        self.store.iter_range(range, Direction::Forward).map(|r| r.map(|(_, v)| v)).collect()
    }

    /// Replaces element `index` of list `key` (`LSET`). Errors: `no such key` if the list
    /// does not exist, `index out of range`. O(log n).
    pub fn lset(&self, key: &[u8], index: i64, value: &[u8]) -> Result<()> {
        self.store.update(|txn| {
            let Some((m, _)) = tx_coll(&self.store, txn, key, KeyType::List)? else {
                return Err(Error::InvalidArgument("no such key".into()));
            };
            let i =
                normalize_index(index, m.count).ok_or_else(|| Error::InvalidArgument("index out of range".into()))?;
            txn.put(&list_key(key, m.version, m.head + i), value)
        })
    }

    /// Keeps only elements `start..=stop` of list `key` (`LTRIM`, Redis index semantics);
    /// the list is deleted if nothing is left. O((removed + 1) · log n).
    pub fn ltrim(&self, key: &[u8], start: i64, stop: i64) -> Result<()> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(()) };
            let (keep_from, keep_to) = match normalize_range(start, stop, m.count) {
                Some((s, e)) => (m.head + s, m.head + e + 1),
                None => (m.head, m.head),
            };
            for pos in (m.head..keep_from).chain(keep_to..m.tail) {
                txn.delete(&list_key(key, m.version, pos))?;
            }
            m.head = keep_from;
            m.tail = keep_to;
            m.count = keep_to - keep_from;
            tx_store_meta(txn, key, &m, expiry)
        })
    }

    fn missing_element(&self, key: &[u8], pos: u64) -> Error {
        Error::corruption(
            self.store.path(),
            0,
            format!("list {:?} has no element at position {pos} inside its bounds", String::from_utf8_lossy(key)),
        )
    }
}

/// A Redis list index (negative = from the end) as an offset in `0..len`.
fn normalize_index(index: i64, len: u64) -> Option<u64> {
    let i = if index < 0 { len as i128 + index as i128 } else { index as i128 };
    (0..len as i128).contains(&i).then_some(i as u64)
}

/// A Redis `start..=stop` range over `len` elements as clamped inclusive offsets, or `None`
/// if empty. Shared by lists and sorted-set ranks.
pub(crate) fn normalize_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i128;
    let fix = |i: i64| if i < 0 { len + i as i128 } else { i as i128 };
    let (s, e) = (fix(start).max(0), fix(stop).min(len - 1));
    (s <= e && s < len).then_some((s as u64, e as u64))
}
