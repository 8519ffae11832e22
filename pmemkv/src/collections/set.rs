//! Sets: each member is an element key `E…version ++ member` with an empty value; the
//! metadata record holds the member count. Add, remove, move and membership are O(log n)
//! per member; `SMEMBERS`/`SSCAN` are ordered scans (members come back in byte order).
//!
//! Set algebra streams over the members in order: `SINTER` walks the smallest set and probes
//! the others (O(log n) per probe), `SUNION` merges the sorted member streams, `SDIFF` walks
//! the first set and probes the others. Results come back in byte order. The `…STORE`
//! variants run in one transaction and write the destination under a new version (its old
//! elements become orphans, as after `DEL`).
//!
//! Random members (`SPOP`, `SRANDMEMBER`) are drawn by the trie walk of
//! [`crate::collections::member_sample`] (O(log n) seeks per draw, never the whole set in memory; its
//! module documentation describes the bias).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use crate::collections::keys::{elem_key, meta_key, space_prefix, CollMeta, KeyType, ELEM_SPACE};
use crate::collections::member_sample::{check_draws, reservoir, walk_with, with_replacement, Sampler, DRAW_COST};
use crate::collections::{
    coll_in, first_key, page, scan_range, tx_coll, tx_coll_or_new, tx_fresh_version, tx_store_meta, Collections,
    Reader, ScanResult,
};
use crate::error::Result;
use crate::iter::{Direction, KeyRange};

/// A set-algebra operation (`SINTER`, `SUNION`, `SDIFF` and their `…STORE` variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Members of every set (a missing key is an empty set, so the result is empty).
    Inter,
    /// Members of any set.
    Union,
    /// Members of the first set that are in none of the others.
    Diff,
}

impl Collections {
    /// Adds members to set `key` (`SADD`), creating it if needed. Returns the number of
    /// members that were new (a member given twice counts once).
    pub fn sadd<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<u64> {
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::Set)?;
            let mut added = 0;
            for member in members {
                let ek = elem_key(key, m.version, member.as_ref());
                if !txn.exists(&ek)? {
                    txn.put_new(&ek, &[])?;
                    added += 1;
                }
            }
            if added > 0 {
                m.count += added;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(added)
        })
    }

    /// Removes members from set `key` (`SREM`); the set is deleted when it becomes empty.
    /// Returns the number removed.
    pub fn srem<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Set)? else { return Ok(0) };
            let mut removed = 0;
            for member in members {
                if txn.delete(&elem_key(key, m.version, member.as_ref()))? {
                    removed += 1;
                }
            }
            if removed > 0 {
                m.count -= removed;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(removed)
        })
    }

    /// True if `member` is in set `key` (`SISMEMBER`); O(log n).
    pub fn sismember(&self, key: &[u8], member: &[u8]) -> Result<bool> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(false) };
        self.store.exists(&elem_key(key, m.version, member))
    }

    /// Number of members of set `key` (`SCARD`); O(1).
    pub fn scard(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::Set)?.map_or(0, |m| m.count))
    }

    /// All members of set `key` in byte order (`SMEMBERS`); O(log n + n).
    pub fn smembers(&self, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        self.store
            .iter_range(KeyRange::prefix(&prefix), Direction::Forward)
            .keys()
            .map(|r| r.map(|(k, _)| k[prefix.len()..].to_vec()))
            .collect()
    }

    /// One page of up to `count` members of set `key` in byte order (`SSCAN`); O(log n +
    /// count). See [`ScanResult`] for the cursor.
    pub fn sscan(&self, key: &[u8], cursor: &[u8], count: usize) -> Result<ScanResult<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else {
            return Ok(ScanResult { items: Vec::new(), cursor: None });
        };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut items = Vec::new();
        for r in self.store.iter_range(scan_range(&prefix, cursor)?, Direction::Forward).keys() {
            items.push(r?.0[prefix.len()..].to_vec());
            if items.len() >= count.max(1) {
                break;
            }
        }
        Ok(page(items, count, |k| k.as_slice()))
    }

    /// For each of `members`, whether it is in set `key` (`SMISMEMBER`; a missing key is an
    /// empty set). O(log n) per member.
    pub fn smismember<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<Vec<bool>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(vec![false; members.len()]) };
        members.iter().map(|x| self.store.exists(&elem_key(key, m.version, x.as_ref()))).collect()
    }

    /// Moves `member` from set `src` to set `dst` (`SMOVE`), atomically. Returns false if
    /// `src` does not exist (whatever `dst` holds) or does not contain `member`; `WrongType`
    /// if `src`, or `dst` when it exists, is not a set. Moving within one set only checks
    /// membership.
    pub fn smove(&self, src: &[u8], dst: &[u8], member: &[u8]) -> Result<bool> {
        self.store.update(|txn| {
            let Some((mut sm, sexp)) = tx_coll(&self.store, txn, src, KeyType::Set)? else { return Ok(false) };
            tx_coll(&self.store, txn, dst, KeyType::Set)?;
            if src == dst {
                return txn.exists(&elem_key(src, sm.version, member));
            }
            if !txn.delete(&elem_key(src, sm.version, member))? {
                return Ok(false);
            }
            sm.count -= 1;
            tx_store_meta(txn, src, &sm, sexp)?;
            let (mut dm, dexp) = tx_coll_or_new(&self.store, txn, dst, KeyType::Set)?;
            let dk = elem_key(dst, dm.version, member);
            if !txn.exists(&dk)? {
                txn.put(&dk, &[])?;
                dm.count += 1;
                tx_store_meta(txn, dst, &dm, dexp)?;
            }
            Ok(true)
        })
    }

    /// Removes and returns up to `count` random members of set `key` (`SPOP key count`); the
    /// set is deleted when it becomes empty (popping everything is O(1) writes: the elements
    /// become orphans). A few members are drawn with O(log n) seeks each (see
    /// [`crate::collections::member_sample`]); more than `n / 512` are picked exactly uniformly in
    /// one walk over the set (memory O(count)).
    pub fn spop(&self, key: &[u8], count: u64) -> Result<Vec<Vec<u8>>> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::Set)? else { return Ok(Vec::new()) };
            if count == 0 {
                return Ok(Vec::new());
            }
            let prefix = space_prefix(ELEM_SPACE, key, m.version);
            if count >= m.count {
                let all = members_of(txn, &prefix).collect::<Result<Vec<_>>>()?;
                txn.delete(&meta_key(key))?;
                return Ok(all);
            }
            let popped = {
                // Everything is drawn before anything is deleted, so the view stays still.
                // Inside an atomic group only the transaction sees the group's earlier writes;
                // otherwise the store's view is the same and cheaper to seek.
                let grouped = self.store.in_atomic_group();
                let seek = |r: KeyRange, d: Direction| {
                    if grouped {
                        first_key(&*txn, r, d)
                    } else {
                        first_key(&*self.store, r, d)
                    }
                };
                let walk = |r: KeyRange, n: usize| {
                    if grouped {
                        walk_with(&*txn, r, n)
                    } else {
                        walk_with(&*self.store, r, n)
                    }
                };
                let mut sampler = Sampler::new(prefix.clone(), &seek, &walk);
                if count.saturating_mul(DRAW_COST) > m.count {
                    reservoir(members_of(txn, &prefix), count as usize, sampler.rng())?
                } else {
                    draw_distinct(&mut sampler, count)?
                }
            };
            for x in &popped {
                txn.delete(&elem_key(key, m.version, x))?;
            }
            m.count -= popped.len() as u64;
            tx_store_meta(txn, key, &m, expiry)?;
            Ok(popped)
        })
    }

    /// Random members of set `key` (`SRANDMEMBER key count`, Redis semantics): a positive
    /// `count` gives up to `count` distinct members, a negative one exactly `-count` draws
    /// that may repeat. Up to `n / 512` members are drawn with O(log n) seeks each (see
    /// [`crate::collections::member_sample`] for the bias); more are picked exactly uniformly in
    /// one walk over the set (memory O(count)).
    pub fn srandmember(&self, key: &[u8], count: i64) -> Result<Vec<Vec<u8>>> {
        let Some(m) = self.load_coll(key, KeyType::Set)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let store = &*self.store;
        let seek = |r: KeyRange, d: Direction| first_key(store, r, d);
        let walk = |r: KeyRange, n: usize| walk_with(store, r, n);
        let mut sampler = Sampler::new(prefix.clone(), &seek, &walk);
        let n = count.unsigned_abs();
        if count < 0 {
            check_draws(n)?;
        }
        if count < 0 {
            if n.saturating_mul(DRAW_COST) > m.count {
                return with_replacement(members_of(store, &prefix), m.count, n as usize, sampler.rng());
            }
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                match sampler.pick_excluding(&HashSet::new())? {
                    Some(x) => out.push(x),
                    None => break,
                }
            }
            return Ok(out);
        }
        if n >= m.count {
            return members_of(store, &prefix).collect();
        }
        if n.saturating_mul(DRAW_COST) > m.count {
            return reservoir(members_of(store, &prefix), n as usize, sampler.rng());
        }
        draw_distinct(&mut sampler, n)
    }

    /// The members of `SINTER`/`SUNION`/`SDIFF` over `keys` (a missing key is an empty set;
    /// `WrongType` if any key holds another type), in byte order.
    pub fn set_op<K: AsRef<[u8]>>(&self, op: SetOp, keys: &[K]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.set_op_in(&*self.store, op, keys, &mut |m| {
            out.push(m.to_vec());
            true
        })?;
        Ok(out)
    }

    /// The size of the intersection of `keys` (`SINTERCARD`), counting no further than
    /// `limit` (0: no limit).
    pub fn sinter_card<K: AsRef<[u8]>>(&self, keys: &[K], limit: u64) -> Result<u64> {
        let mut n = 0u64;
        self.set_op_in(&*self.store, SetOp::Inter, keys, &mut |_| {
            n += 1;
            limit == 0 || n < limit
        })?;
        Ok(n)
    }

    /// Stores the result of `op` over `keys` in `dst` (`SINTERSTORE`, `SUNIONSTORE`,
    /// `SDIFFSTORE`), replacing whatever `dst` held (and its expiry); an empty result deletes
    /// `dst`. Atomic; `dst` may be one of `keys`. Returns the result's size.
    pub fn set_op_store<K: AsRef<[u8]>>(&self, op: SetOp, dst: &[u8], keys: &[K]) -> Result<u64> {
        self.store.update(|txn| {
            let mut result = Vec::new();
            self.set_op_in(&*txn, op, keys, &mut |m| {
                result.push(m.to_vec());
                true
            })?;
            if result.is_empty() {
                txn.delete(&meta_key(dst))?;
                return Ok(0);
            }
            let mut meta = CollMeta::new(KeyType::Set, tx_fresh_version(&self.store, txn, dst)?);
            for x in &result {
                txn.put(&elem_key(dst, meta.version, x), &[])?;
            }
            meta.count = result.len() as u64;
            tx_store_meta(txn, dst, &meta, None)?;
            Ok(meta.count)
        })
    }

    /// Runs `op` over `keys` through `r`, calling `emit` with each result member in byte
    /// order until it returns false.
    fn set_op_in<R: Reader + ?Sized, K: AsRef<[u8]>>(
        &self,
        r: &R,
        op: SetOp,
        keys: &[K],
        emit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<()> {
        let mut sets = Vec::with_capacity(keys.len());
        for k in keys {
            let k = k.as_ref();
            sets.push((k, coll_in(&self.store, r, k, |t| t == KeyType::Set)?));
        }
        let members = |k: &[u8], m: &CollMeta| {
            let prefix = space_prefix(ELEM_SPACE, k, m.version);
            let it = r.range(KeyRange::prefix(&prefix), Direction::Forward).keys();
            it.map(move |x| x.map(|(key, _)| key[prefix.len()..].to_vec()))
        };
        match op {
            SetOp::Inter => {
                if sets.is_empty() || sets.iter().any(|(_, m)| m.is_none()) {
                    return Ok(());
                }
                let mut sets: Vec<(&[u8], CollMeta)> =
                    sets.into_iter().map(|(k, m)| (k, m.expect("checked"))).collect();
                sets.sort_by_key(|(_, m)| m.count);
                let (k0, m0) = sets[0];
                'next: for x in members(k0, &m0) {
                    let x = x?;
                    for (k, m) in &sets[1..] {
                        if *k != k0 && !r.has(&elem_key(k, m.version, &x))? {
                            continue 'next;
                        }
                    }
                    if !emit(&x) {
                        return Ok(());
                    }
                }
            }
            SetOp::Diff => {
                let Some((k0, Some(m0))) = sets.first().copied() else { return Ok(()) };
                let others: Vec<(&[u8], CollMeta)> = sets[1..].iter().filter_map(|(k, m)| m.map(|m| (*k, m))).collect();
                if others.iter().any(|(k, _)| *k == k0) {
                    return Ok(());
                }
                'next: for x in members(k0, &m0) {
                    let x = x?;
                    for (k, m) in &others {
                        if r.has(&elem_key(k, m.version, &x))? {
                            continue 'next;
                        }
                    }
                    if !emit(&x) {
                        return Ok(());
                    }
                }
            }
            SetOp::Union => {
                let mut seen_keys = HashSet::new();
                let mut iters = Vec::new();
                for (k, m) in &sets {
                    if let Some(m) = m {
                        if seen_keys.insert(*k) {
                            iters.push(members(k, m));
                        }
                    }
                }
                let mut heap = BinaryHeap::new();
                for (i, it) in iters.iter_mut().enumerate() {
                    if let Some(x) = it.next() {
                        heap.push(Reverse((x?, i)));
                    }
                }
                let mut last: Option<Vec<u8>> = None;
                while let Some(Reverse((x, i))) = heap.pop() {
                    if let Some(next) = iters[i].next() {
                        heap.push(Reverse((next?, i)));
                    }
                    if last.as_ref() == Some(&x) {
                        continue;
                    }
                    if !emit(&x) {
                        return Ok(());
                    }
                    last = Some(x);
                }
            }
        }
        Ok(())
    }
}

/// The members under the element-space `prefix`, in byte order.
fn members_of<R: Reader + ?Sized>(r: &R, prefix: &[u8]) -> impl Iterator<Item = Result<Vec<u8>>> {
    let n = prefix.len();
    r.range(KeyRange::prefix(prefix), Direction::Forward).keys().map(move |x| x.map(|(k, _)| k[n..].to_vec()))
}

/// `n` distinct random members (fewer if the set is smaller), in draw order.
pub(crate) fn draw_distinct(sampler: &mut Sampler<'_>, n: u64) -> Result<Vec<Vec<u8>>> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    while (out.len() as u64) < n {
        let Some(x) = sampler.pick_excluding(&seen)? else { break };
        seen.insert(x.clone());
        out.push(x);
    }
    Ok(out)
}
