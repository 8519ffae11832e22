//! Lists: element `i` (0-based) is stored at position `head + i`, key `E…version ++
//! u64-BE(position)`; the metadata record holds `head` and `tail` (one past the last). Pushes
//! and pops at either end, `LINDEX` and `LSET` are O(log n) (one key each); `LRANGE` is one
//! ordered scan starting at the right position, O(log n + k). Positions start at
//! [`crate::collections::keys::LIST_BIAS`], so 2^63 pushes fit on each side.
//!
//! Changes in the middle (`LINSERT`, `LREM`) renumber the elements on one side of the change,
//! whichever side is shorter: an insertion at index `i` of `n` elements rewrites
//! `min(i, n - i)` elements, so a change near either end stays cheap (Redis's own commands
//! are O(n)). Like every write, each runs in one transaction, which must fit one log segment:
//! a renumbering too large for that fails with [`Error::BatchTooLarge`] and changes nothing.
//! `LTRIM` that drops more than it keeps copies the kept elements under a new version instead
//! of deleting the dropped ones (which become orphans, see
//! [`Collections::purge_orphans`]), so it costs O(min(kept, dropped)).

use crate::collections::keys::{list_key, CollMeta, KeyType, LIST_BIAS};
use crate::collections::{tx_coll, tx_fresh_version, tx_store_meta, Collections};
use crate::error::{Error, Result};
use crate::iter::{Direction, KeyRange};
use crate::record::OP_HEADER_LEN;
use crate::segment::SEGMENT_HEADER_LEN;
use crate::store::Txn;
use crate::value::ValueRef;
use std::ops::Bound;

/// The longest `LRANGE` that [`Collections::lrange_with`] reads as a batch of point lookups
/// rather than a scan.
pub const LRANGE_BATCH: u64 = 1024;

/// Which end of a list (Redis's `LEFT` = head, `RIGHT` = tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    /// The head (index 0).
    Left,
    /// The tail (index -1).
    Right,
}

/// Where `LINSERT` puts the new element relative to the pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertWhere {
    /// Before the pivot.
    Before,
    /// After the pivot.
    After,
}

/// Options of [`Collections::lpos`] (Redis's `LPOS … RANK COUNT MAXLEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LposOptions {
    /// Which match to start from: 1 = the first from the head, 2 = the second, …; negative
    /// counts matches from the tail (-1 = the last). Must not be 0.
    pub rank: i64,
    /// How many matches to return at most (0: all of them).
    pub count: u64,
    /// How many elements to compare at most, from where the search starts (0: all).
    pub maxlen: u64,
}

impl Default for LposOptions {
    fn default() -> LposOptions {
        LposOptions { rank: 1, count: 1, maxlen: 0 }
    }
}

impl Collections {
    /// Pushes `values` one by one at the head of list `key` (`LPUSH`; so the last value ends
    /// up first), creating the list if needed. Returns the new length.
    pub fn lpush<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, ListEnd::Left, false)
    }

    /// Pushes `values` at the tail of list `key` (`RPUSH`). Returns the new length.
    pub fn rpush<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, ListEnd::Right, false)
    }

    /// Like [`Collections::lpush`], but only if the list exists (`LPUSHX`); returns 0 if not.
    pub fn lpushx<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, ListEnd::Left, true)
    }

    /// Like [`Collections::rpush`], but only if the list exists (`RPUSHX`); returns 0 if not.
    pub fn rpushx<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V]) -> Result<u64> {
        self.push(key, values, ListEnd::Right, true)
    }

    fn push<V: AsRef<[u8]>>(&self, key: &[u8], values: &[V], end: ListEnd, only_existing: bool) -> Result<u64> {
        self.store.update(|txn| {
            let (mut m, expiry) = match tx_coll(&self.store, txn, key, KeyType::List)? {
                Some(x) => x,
                None if only_existing => return Ok(0),
                None => (CollMeta::new(KeyType::List, tx_fresh_version(&self.store, txn, key)?), None),
            };
            for v in values {
                push_one(txn, key, &mut m, end, v.as_ref())?;
            }
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(m.count)
        })
    }

    /// Removes and returns up to `count` elements from the head of list `key` (`LPOP`); the
    /// list is deleted when it becomes empty. O(count · log n).
    pub fn lpop(&self, key: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
        self.pop(key, count, ListEnd::Left)
    }

    /// Removes and returns up to `count` elements from the tail of list `key` (`RPOP`), last
    /// element first.
    pub fn rpop(&self, key: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
        self.pop(key, count, ListEnd::Right)
    }

    fn pop(&self, key: &[u8], count: usize, end: ListEnd) -> Result<Vec<Vec<u8>>> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(Vec::new()) };
            self.tx_pop_n(txn, key, &mut m, expiry, count, end)
        })
    }

    /// Pops up to `count` elements of list `key` (metadata `m`) from `end` and stores the
    /// metadata (deleting the key when empty).
    fn tx_pop_n(
        &self,
        txn: &mut Txn<'_>,
        key: &[u8],
        m: &mut CollMeta,
        expiry: Option<u64>,
        count: usize,
        end: ListEnd,
    ) -> Result<Vec<Vec<u8>>> {
        let n = (count as u64).min(m.count);
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            out.push(self.pop_one(txn, key, m, end)?);
        }
        if n > 0 {
            tx_store_meta(txn, key, m, expiry)?;
        }
        Ok(out)
    }

    /// Pops up to `count` elements from `end` of the first of `keys` that holds a non-empty
    /// list (`LMPOP`), in one transaction. Returns the index of that key in `keys` and the
    /// elements (in pop order), or `None` if every key is missing. A key of another type met
    /// before a list is found fails with `WrongType`.
    pub fn lmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: ListEnd,
        count: usize,
    ) -> Result<Option<(usize, Vec<Vec<u8>>)>> {
        self.store.update(|txn| {
            for (i, key) in keys.iter().enumerate() {
                let key = key.as_ref();
                let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { continue };
                if m.count == 0 {
                    continue;
                }
                let items = self.tx_pop_n(txn, key, &mut m, expiry, count, end)?;
                return Ok(Some((i, items)));
            }
            Ok(None)
        })
    }

    /// Atomically pops an element from `from` of list `src` and pushes it at `to` of list
    /// `dst` (`LMOVE`; `RPOPLPUSH` is `Right`, `Left`), creating `dst` if needed. `src` and
    /// `dst` may be the same list (a rotation). Returns the element, or `None` if `src` does
    /// not exist (whatever `dst` holds). Fails with `WrongType`, changing nothing, if either
    /// key holds another type. O(log n).
    pub fn lmove(&self, src: &[u8], dst: &[u8], from: ListEnd, to: ListEnd) -> Result<Option<Vec<u8>>> {
        self.store.update(|txn| {
            let Some((mut sm, s_exp)) = tx_coll(&self.store, txn, src, KeyType::List)? else { return Ok(None) };
            if sm.count == 0 {
                return Ok(None);
            }
            if src == dst {
                let v = self.pop_one(txn, src, &mut sm, from)?;
                push_one(txn, src, &mut sm, to, &v)?;
                tx_store_meta(txn, src, &sm, s_exp)?;
                return Ok(Some(v));
            }
            let (mut dm, d_exp) = match tx_coll(&self.store, txn, dst, KeyType::List)? {
                Some(x) => x,
                None => (CollMeta::new(KeyType::List, tx_fresh_version(&self.store, txn, dst)?), None),
            };
            let v = self.pop_one(txn, src, &mut sm, from)?;
            push_one(txn, dst, &mut dm, to, &v)?;
            tx_store_meta(txn, src, &sm, s_exp)?;
            tx_store_meta(txn, dst, &dm, d_exp)?;
            Ok(Some(v))
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
        self.scan_positions(key, &m, s, e)
    }

    /// Elements `s..=e` (normalized indices) of list `key` with metadata `m`, by one ordered
    /// scan.
    fn scan_positions(&self, key: &[u8], m: &CollMeta, s: u64, e: u64) -> Result<Vec<ValueRef>> {
        let range = KeyRange {
            start: Bound::Included(list_key(key, m.version, m.head + s)),
            end: Bound::Included(list_key(key, m.version, m.head + e)),
        };
        self.store.iter_range(range, Direction::Forward).map(|r| r.map(|(_, v)| v)).collect()
    }

    /// [`Collections::lrange`] without handles: calls `f` once with the elements' bytes,
    /// borrowed for the call. A range of up to [`LRANGE_BATCH`] elements is read as that
    /// many point lookups in one batch ([`Store::get_many_with`](crate::Store::get_many_with):
    /// positions are contiguous, so the keys are known), which overlaps their cache misses;
    /// a longer one is one ordered scan. An element popped meanwhile is left out, as a scan
    /// would.
    pub fn lrange_with<R>(&self, key: &[u8], start: i64, stop: i64, f: impl FnOnce(&[&[u8]]) -> R) -> Result<R> {
        let Some(m) = self.load_coll(key, KeyType::List)? else { return Ok(f(&[])) };
        let Some((s, e)) = normalize_range(start, stop, m.count) else { return Ok(f(&[])) };
        if e - s >= LRANGE_BATCH {
            let items = self.scan_positions(key, &m, s, e)?;
            let slices: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
            return Ok(f(&slices));
        }
        // The keys side by side in one buffer: one allocation, not one per element.
        let prefix = list_key(key, m.version, 0);
        let prefix = &prefix[..prefix.len() - 8];
        let stride = prefix.len() + 8;
        let mut keys = Vec::with_capacity(stride * (e - s + 1) as usize);
        for i in s..=e {
            keys.extend_from_slice(prefix);
            keys.extend_from_slice(&(m.head + i).to_be_bytes());
        }
        let refs: Vec<&[u8]> = keys.chunks_exact(stride).collect();
        self.store.get_many_with(&refs, |values| {
            let present: Vec<&[u8]> = values.iter().flatten().copied().collect();
            f(&present)
        })
    }

    /// Indices of elements of list `key` equal to `element` (`LPOS`), in search order: from
    /// the head for a positive rank, from the tail for a negative one, skipping the first
    /// `|rank| - 1` matches, at most `count` of them (0: all), comparing at most `maxlen`
    /// elements (0: all). Empty if the key does not exist. `rank` 0 is an invalid argument.
    /// O(elements compared).
    pub fn lpos(&self, key: &[u8], element: &[u8], opts: LposOptions) -> Result<Vec<u64>> {
        if opts.rank == 0 {
            return Err(Error::InvalidArgument("RANK can't be zero".into()));
        }
        let Some(m) = self.load_coll(key, KeyType::List)? else { return Ok(Vec::new()) };
        let dir = if opts.rank > 0 { Direction::Forward } else { Direction::Reverse };
        let skip = opts.rank.unsigned_abs() - 1;
        let scan = if opts.maxlen == 0 { m.count } else { opts.maxlen.min(m.count) };
        let mut out = Vec::new();
        let mut matches = 0u64;
        for (n, r) in self.store.iter_range(elements(key, &m), dir).take(scan as usize).enumerate() {
            let (_, v) = r?;
            if v.as_ref() != element {
                continue;
            }
            matches += 1;
            if matches <= skip {
                continue;
            }
            let n = n as u64;
            out.push(if dir == Direction::Forward { n } else { m.count - 1 - n });
            if opts.count != 0 && out.len() as u64 >= opts.count {
                break;
            }
        }
        Ok(out)
    }

    /// Inserts `element` before or after the first element equal to `pivot` (searching from
    /// the head) in list `key` (`LINSERT`). Returns the new length, 0 if the key does not
    /// exist, -1 if the pivot was not found. Costs the search plus a renumbering of the
    /// shorter side, O(min(i, n - i)) writes for an insertion at index `i`.
    pub fn linsert(&self, key: &[u8], at: InsertWhere, pivot: &[u8], element: &[u8]) -> Result<i64> {
        let budget = self.write_budget();
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(0) };
            let mut found = None;
            for (i, r) in txn.iter_range(elements(key, &m), Direction::Forward).enumerate() {
                if r?.1.as_ref() == pivot {
                    found = Some(i as u64);
                    break;
                }
            }
            let Some(i) = found else { return Ok(-1) };
            // The new element's index.
            let j = if at == InsertWhere::Before { i } else { i + 1 };
            let mut spent = 0u64;
            let full = || Error::InvalidArgument("list is full".into());
            if j <= m.count - j {
                // Elements 0..j move one position towards the head.
                let moved = self.read_span(txn, key, &m, 0, j)?;
                let new_head = m.head.checked_sub(1).ok_or_else(full)?;
                for (k, v) in moved.iter().enumerate() {
                    put_counted(txn, &list_key(key, m.version, new_head + k as u64), v, &mut spent, budget)?;
                }
                m.head = new_head;
            } else {
                // Elements j..n move one position towards the tail.
                let moved = self.read_span(txn, key, &m, j, m.count)?;
                let new_tail = m.tail.checked_add(1).ok_or_else(full)?;
                for (k, v) in moved.iter().enumerate() {
                    put_counted(txn, &list_key(key, m.version, m.head + j + 1 + k as u64), v, &mut spent, budget)?;
                }
                m.tail = new_tail;
            }
            put_counted(txn, &list_key(key, m.version, m.head + j), element, &mut spent, budget)?;
            m.count += 1;
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(m.count as i64)
        })
    }

    /// Removes elements equal to `element` from list `key` (`LREM`): the first `count` from
    /// the head for `count > 0`, the last `|count|` from the tail for `count < 0`, all of them
    /// for 0. Returns how many were removed; the list is deleted when it becomes empty. Costs
    /// the search plus a renumbering of the survivors on the cheaper side of the removed span.
    pub fn lrem(&self, key: &[u8], count: i64, element: &[u8]) -> Result<u64> {
        let budget = self.write_budget();
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(0) };
            let limit = if count == 0 { u64::MAX } else { count.unsigned_abs() };
            let dir = if count < 0 { Direction::Reverse } else { Direction::Forward };
            // Indices of the elements to remove.
            let mut hits: Vec<u64> = Vec::new();
            for (n, r) in txn.iter_range(elements(key, &m), dir).enumerate() {
                if r?.1.as_ref() == element {
                    let n = n as u64;
                    hits.push(if dir == Direction::Forward { n } else { m.count - 1 - n });
                    if hits.len() as u64 >= limit {
                        break;
                    }
                }
            }
            if hits.is_empty() {
                return Ok(0);
            }
            hits.sort_unstable();
            let k = hits.len() as u64;
            let (first, last) = (hits[0], hits[hits.len() - 1]);
            let mut spent = 0u64;
            // Survivors after the first hit (shift towards the head) or before the last one
            // (shift towards the tail): renumber the fewer.
            let after_first = m.count - 1 - first - (k - 1);
            let before_last = last - (k - 1);
            if after_first <= before_last {
                let span = self.read_span(txn, key, &m, first, m.count)?;
                let mut dst = first;
                let mut h = hits.iter().peekable();
                for (off, v) in span.iter().enumerate() {
                    let idx = first + off as u64;
                    if h.peek() == Some(&&idx) {
                        h.next();
                        continue;
                    }
                    put_counted(txn, &list_key(key, m.version, m.head + dst), v, &mut spent, budget)?;
                    dst += 1;
                }
                for pos in m.tail - k..m.tail {
                    del_counted(txn, &list_key(key, m.version, pos), &mut spent, budget)?;
                }
                m.tail -= k;
            } else {
                let span = self.read_span(txn, key, &m, 0, last + 1)?;
                let mut dst = last;
                let mut h = hits.iter().rev().peekable();
                for (idx, v) in span.iter().enumerate().rev() {
                    let idx = idx as u64;
                    if h.peek() == Some(&&idx) {
                        h.next();
                        continue;
                    }
                    put_counted(txn, &list_key(key, m.version, m.head + dst), v, &mut spent, budget)?;
                    dst -= 1;
                }
                for pos in m.head..m.head + k {
                    del_counted(txn, &list_key(key, m.version, pos), &mut spent, budget)?;
                }
                m.head += k;
            }
            m.count -= k;
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(k)
        })
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
    /// the list is deleted if nothing is left. Deletes the dropped elements, or — when it
    /// drops more than it keeps — copies the kept ones under a new version and leaves the
    /// rest as orphans: O(min(kept, dropped) · log n).
    pub fn ltrim(&self, key: &[u8], start: i64, stop: i64) -> Result<()> {
        let budget = self.write_budget();
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::List)? else { return Ok(()) };
            let Some((s, e)) = normalize_range(start, stop, m.count) else {
                // Nothing kept: like a delete, O(1) (the elements become orphans).
                m.count = 0;
                return tx_store_meta(txn, key, &m, expiry);
            };
            let kept = e - s + 1;
            let dropped = m.count - kept;
            if dropped == 0 {
                return Ok(());
            }
            let mut spent = 0u64;
            if kept < dropped {
                let span = self.read_span(txn, key, &m, s, e + 1)?;
                // A version whose element space is empty (inside an atomic group, this
                // transaction's version may be the list's own, or an earlier incarnation's).
                let version = tx_fresh_version(&self.store, txn, key)?;
                for (k, v) in span.iter().enumerate() {
                    put_counted(txn, &list_key(key, version, LIST_BIAS + k as u64), v, &mut spent, budget)?;
                }
                m.version = version;
                m.head = LIST_BIAS;
                m.tail = LIST_BIAS + kept;
            } else {
                let (keep_from, keep_to) = (m.head + s, m.head + e + 1);
                for pos in (m.head..keep_from).chain(keep_to..m.tail) {
                    del_counted(txn, &list_key(key, m.version, pos), &mut spent, budget)?;
                }
                m.head = keep_from;
                m.tail = keep_to;
            }
            m.count = kept;
            tx_store_meta(txn, key, &m, expiry)
        })
    }

    /// Pops one element of list `key` (metadata `m`, not empty) from `end`; the caller
    /// stores the metadata.
    fn pop_one(&self, txn: &mut Txn<'_>, key: &[u8], m: &mut CollMeta, end: ListEnd) -> Result<Vec<u8>> {
        let pos = match end {
            ListEnd::Left => m.head,
            ListEnd::Right => m.tail - 1,
        };
        let lk = list_key(key, m.version, pos);
        let v = txn.get(&lk)?.ok_or_else(|| self.missing_element(key, pos))?.to_vec();
        txn.delete_live(&lk)?;
        match end {
            ListEnd::Left => m.head += 1,
            ListEnd::Right => m.tail -= 1,
        }
        m.count -= 1;
        Ok(v)
    }

    /// The values of elements `from..to` of list `key` (metadata `m`), as seen by `txn`.
    fn read_span(&self, txn: &Txn<'_>, key: &[u8], m: &CollMeta, from: u64, to: u64) -> Result<Vec<ValueRef>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let range = KeyRange {
            start: Bound::Included(list_key(key, m.version, m.head + from)),
            end: Bound::Excluded(list_key(key, m.version, m.head + to)),
        };
        let out: Vec<ValueRef> =
            txn.iter_range(range, Direction::Forward).map(|r| r.map(|(_, v)| v)).collect::<Result<_>>()?;
        if out.len() as u64 != to - from {
            return Err(self.missing_element(key, m.head + from + out.len() as u64));
        }
        Ok(out)
    }

    /// The largest write a transaction may make (the payload of one log record).
    fn write_budget(&self) -> u64 {
        self.store.options().segment_size.saturating_sub(SEGMENT_HEADER_LEN)
    }

    fn missing_element(&self, key: &[u8], pos: u64) -> Error {
        Error::corruption(
            self.store.path(),
            0,
            format!("list {:?} has no element at position {pos} inside its bounds", String::from_utf8_lossy(key)),
        )
    }
}

/// Pushes `v` at `end` of list `key` (metadata `m`); the caller stores the metadata.
fn push_one(txn: &mut Txn<'_>, key: &[u8], m: &mut CollMeta, end: ListEnd, v: &[u8]) -> Result<()> {
    let full = || Error::InvalidArgument("list is full".into());
    let pos = match end {
        ListEnd::Left => {
            m.head = m.head.checked_sub(1).ok_or_else(full)?;
            m.head
        }
        ListEnd::Right => {
            let p = m.tail;
            m.tail = m.tail.checked_add(1).ok_or_else(full)?;
            p
        }
    };
    // Positions outside the list's bounds hold no value (pops and trims delete what they
    // remove; a new list's version has an empty element space).
    txn.put_new(&list_key(key, m.version, pos), v)?;
    m.count += 1;
    Ok(())
}

/// The key range of all elements of list `key` (metadata `m`).
fn elements(key: &[u8], m: &CollMeta) -> KeyRange {
    KeyRange {
        start: Bound::Included(list_key(key, m.version, m.head)),
        end: Bound::Excluded(list_key(key, m.version, m.tail)),
    }
}

/// `txn.put`, counting the bytes the transaction's log record will need at least, and
/// failing with `BatchTooLarge` as soon as they exceed `budget` (rather than building a huge
/// transaction in memory that cannot be committed).
fn put_counted(txn: &mut Txn<'_>, k: &[u8], v: &[u8], spent: &mut u64, budget: u64) -> Result<()> {
    charge(spent, (OP_HEADER_LEN + k.len() + v.len()) as u64, budget)?;
    txn.put(k, v)
}

/// `txn.delete`, counted like [`put_counted`].
fn del_counted(txn: &mut Txn<'_>, k: &[u8], spent: &mut u64, budget: u64) -> Result<()> {
    charge(spent, (OP_HEADER_LEN + k.len()) as u64, budget)?;
    txn.delete(k).map(|_| ())
}

fn charge(spent: &mut u64, n: u64, budget: u64) -> Result<()> {
    *spent += n;
    if *spent > budget {
        return Err(Error::BatchTooLarge { len: *spent, max: budget });
    }
    Ok(())
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
