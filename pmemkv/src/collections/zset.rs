//! Sorted sets: each member has two keys — the element `E…version ++ member` holding its
//! score (f64 bits, big-endian), and the score-index entry `Z…version ++ sortable(score) ++
//! member` (empty value), which orders members by score, then by member bytes.
//!
//! Costs: `ZADD`/`ZREM`/`ZINCRBY`/`ZSCORE` are O(log n) per member; range by score
//! (`ZRANGEBYSCORE`, `ZCOUNT`) is one seek plus the walk, O(log n + offset + k). Ranks are
//! *not* O(log n): the index stores no subtree counts, so `ZRANGE` by rank walks from the
//! nearer end of the set, O(log n + min(rank, n − rank) + k), and `ZRANK` walks from both
//! ends at once until it meets the member, O(log n + min(rank, n − rank)). Rank queries in
//! O(log n) would need an order-statistics index (counted B-tree nodes or a Fenwick tree
//! over score buckets) — future work.

use std::ops::Bound;

use crate::collections::keys::{
    check_score, elem_key, score_to_sortable, sortable_to_score, space_prefix, zindex_key, KeyType, ZINDEX_SPACE,
};
use crate::collections::list::normalize_range;
use crate::collections::{tx_coll, tx_coll_or_new, tx_store_meta, Collections};
use crate::error::{Error, Result};
use crate::iter::{Direction, KeyRange};
use crate::store::Txn;

/// One end of a score range (Redis `1.5` = inclusive, `(1.5` = exclusive; `-inf`/`+inf` are
/// `Inclusive(f64::NEG_INFINITY)` / `Inclusive(f64::INFINITY)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreBound {
    /// Scores equal to the value are in range.
    Inclusive(f64),
    /// Scores equal to the value are out of range.
    Exclusive(f64),
}

impl ScoreBound {
    /// The lowest bound: `-inf`, inclusive.
    pub const MIN: ScoreBound = ScoreBound::Inclusive(f64::NEG_INFINITY);
    /// The highest bound: `+inf`, inclusive.
    pub const MAX: ScoreBound = ScoreBound::Inclusive(f64::INFINITY);

    fn value(self) -> f64 {
        match self {
            ScoreBound::Inclusive(v) | ScoreBound::Exclusive(v) => v,
        }
    }
}

/// `ZADD`'s `NX` / `XX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZCondition {
    /// Add new members and update existing ones.
    #[default]
    Always,
    /// `NX`: only add new members, never update.
    IfAbsent,
    /// `XX`: only update existing members, never add.
    IfPresent,
}

/// `ZADD`'s `GT` / `LT`: when an existing member's score is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZCompare {
    /// Always.
    #[default]
    Any,
    /// `GT`: only if the new score is greater.
    Greater,
    /// `LT`: only if the new score is less.
    Less,
}

/// Options of [`Collections::zadd_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZAddOptions {
    /// `NX` / `XX`.
    pub condition: ZCondition,
    /// `GT` / `LT`.
    pub compare: ZCompare,
    /// `CH`: count members whose score changed in the result, not only added ones.
    pub changed: bool,
}

fn encode_score_value(score: f64) -> [u8; 8] {
    score.to_bits().to_be_bytes()
}

fn decode_score_value(v: &[u8]) -> Option<f64> {
    Some(f64::from_bits(u64::from_be_bytes(v.try_into().ok()?)))
}

/// Splits the part of a score-index key after its prefix into (member, score).
fn split_index_sub(sub: &[u8]) -> (Vec<u8>, f64) {
    let s = u64::from_be_bytes(sub[..8].try_into().expect("score-index key has a score"));
    (sub[8..].to_vec(), sortable_to_score(s))
}

/// The key range of score-index entries with scores in `min..max` under `prefix`; `None` if
/// empty.
fn score_range(prefix: &[u8], min: ScoreBound, max: ScoreBound) -> Result<Option<KeyRange>> {
    if min.value().is_nan() || max.value().is_nan() {
        return Err(Error::InvalidArgument("min or max is not a float".into()));
    }
    // Sortable scores never reach u64::MAX (the largest is +inf's), so +1 cannot overflow.
    let lo = match min {
        ScoreBound::Inclusive(v) => score_to_sortable(v),
        ScoreBound::Exclusive(v) => score_to_sortable(v) + 1,
    };
    let hi = match max {
        ScoreBound::Inclusive(v) => score_to_sortable(v) + 1,
        ScoreBound::Exclusive(v) => score_to_sortable(v),
    };
    if lo >= hi {
        return Ok(None);
    }
    let at = |s: u64| {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&s.to_be_bytes());
        k
    };
    Ok(Some(KeyRange { start: Bound::Included(at(lo)), end: Bound::Excluded(at(hi)) }))
}

impl Collections {
    /// Adds members with scores to sorted set `key` (`ZADD`), creating it if needed; an
    /// existing member gets the new score. Returns the number of members added. NaN scores
    /// are rejected (nothing is written).
    pub fn zadd<M: AsRef<[u8]>>(&self, key: &[u8], items: &[(f64, M)]) -> Result<u64> {
        self.zadd_with(key, items, ZAddOptions::default())
    }

    /// [`Collections::zadd`] with Redis's `NX`/`XX`, `GT`/`LT` and `CH` options. Returns
    /// the number added (plus the number whose score changed, with `CH`).
    pub fn zadd_with<M: AsRef<[u8]>>(&self, key: &[u8], items: &[(f64, M)], opts: ZAddOptions) -> Result<u64> {
        if opts.condition == ZCondition::IfAbsent && opts.compare != ZCompare::Any {
            return Err(Error::InvalidArgument("GT, LT, and/or NX options at the same time are not compatible".into()));
        }
        let scores = items.iter().map(|(s, _)| check_score(*s)).collect::<Result<Vec<f64>>>()?;
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::ZSet)?;
            let (mut added, mut changed) = (0, 0);
            for (score, (_, member)) in scores.into_iter().zip(items) {
                let member = member.as_ref();
                let old = self.zscore_in(txn, key, m.version, member)?;
                match old {
                    Some(old) => {
                        let allowed = opts.condition != ZCondition::IfAbsent
                            && match opts.compare {
                                ZCompare::Any => true,
                                ZCompare::Greater => score > old,
                                ZCompare::Less => score < old,
                            };
                        if allowed && old != score {
                            set_score(txn, key, m.version, member, Some(old), score)?;
                            changed += 1;
                        }
                    }
                    None if opts.condition != ZCondition::IfPresent => {
                        set_score(txn, key, m.version, member, None, score)?;
                        added += 1;
                    }
                    None => {}
                }
            }
            if added > 0 {
                m.count += added;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(if opts.changed { added + changed } else { added })
        })
    }

    /// Adds `delta` to the score of `member` (`ZINCRBY`; an absent member starts at 0) and
    /// returns the new score. Errors if the result is NaN (`+inf` + `-inf`).
    pub fn zincr_by(&self, key: &[u8], delta: f64, member: &[u8]) -> Result<f64> {
        let delta = check_score(delta)?;
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::ZSet)?;
            let old = self.zscore_in(txn, key, m.version, member)?;
            let new = old.unwrap_or(0.0) + delta;
            if new.is_nan() {
                return Err(Error::InvalidArgument("resulting score is not a number (NaN)".into()));
            }
            let new = check_score(new)?;
            if old != Some(new) {
                set_score(txn, key, m.version, member, old, new)?;
            }
            if old.is_none() {
                m.count += 1;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(new)
        })
    }

    /// Removes members from sorted set `key` (`ZREM`); the set is deleted when it becomes
    /// empty. Returns the number removed.
    pub fn zrem<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<u64> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::ZSet)? else { return Ok(0) };
            let mut removed = 0;
            for member in members {
                let member = member.as_ref();
                if let Some(old) = self.zscore_in(txn, key, m.version, member)? {
                    txn.delete(&elem_key(key, m.version, member))?;
                    txn.delete(&zindex_key(key, m.version, old, member))?;
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

    /// Removes and returns up to `count` members with the lowest (`ZPOPMIN`) or, with `max`,
    /// the highest (`ZPOPMAX`) scores, in pop order. O(log n + count · log n).
    pub fn zpop(&self, key: &[u8], count: usize, max: bool) -> Result<Vec<(Vec<u8>, f64)>> {
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::ZSet)? else { return Ok(Vec::new()) };
            let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
            let dir = if max { Direction::Reverse } else { Direction::Forward };
            let mut it = txn.iter_range(KeyRange::prefix(&prefix), dir).keys();
            let mut out = Vec::new();
            while out.len() < count {
                let Some(r) = it.next() else { break };
                let (k, _) = r?;
                out.push((k.clone(), split_index_sub(&k[prefix.len()..])));
            }
            for (zk, (member, _)) in &out {
                txn.delete(zk)?;
                txn.delete(&elem_key(key, m.version, member))?;
            }
            if !out.is_empty() {
                m.count -= out.len() as u64;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(out.into_iter().map(|(_, x)| x).collect())
        })
    }

    /// The score of `member` in sorted set `key` (`ZSCORE`); O(log n).
    pub fn zscore(&self, key: &[u8], member: &[u8]) -> Result<Option<f64>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(None) };
        match self.store.get(&elem_key(key, m.version, member))? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_score_value(&v).ok_or_else(|| self.bad_score(key))?)),
        }
    }

    /// Number of members of sorted set `key` (`ZCARD`); O(1).
    pub fn zcard(&self, key: &[u8]) -> Result<u64> {
        Ok(self.load_coll(key, KeyType::ZSet)?.map_or(0, |m| m.count))
    }

    /// Number of members with scores in `min..max` (`ZCOUNT`); O(log n + k).
    pub fn zcount(&self, key: &[u8], min: ScoreBound, max: ScoreBound) -> Result<u64> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(0) };
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let Some(range) = score_range(&prefix, min, max)? else { return Ok(0) };
        let mut n = 0;
        for r in self.store.iter_range(range, Direction::Forward).keys() {
            r?;
            n += 1;
        }
        Ok(n)
    }

    /// Members with scores in `min..max` (`ZRANGEBYSCORE` / `ZREVRANGEBYSCORE` with
    /// `rev`), ordered by (score, member) — descending with `rev` — after skipping `offset`
    /// and taking at most `limit` (`LIMIT offset count`). O(log n + offset + k).
    pub fn zrange_by_score(
        &self,
        key: &[u8],
        min: ScoreBound,
        max: ScoreBound,
        offset: usize,
        limit: Option<usize>,
        rev: bool,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let Some(range) = score_range(&prefix, min, max)? else { return Ok(Vec::new()) };
        let dir = if rev { Direction::Reverse } else { Direction::Forward };
        let mut out = Vec::new();
        for r in self.store.iter_range(range, dir).keys().skip(offset).take(limit.unwrap_or(usize::MAX)) {
            out.push(split_index_sub(&r?.0[prefix.len()..]));
        }
        Ok(out)
    }

    /// Members with ranks `start..=stop` (`ZRANGE` / `ZREVRANGE` with `rev`; Redis index
    /// semantics: negative ranks count from the end, bounds are clamped). Rank 0 is the
    /// lowest score (the highest with `rev`).
    ///
    /// Cost: O(log n + min(start, n − stop) + k) — the walk starts from the nearer end,
    /// because the index keeps no counts (see the module documentation).
    pub fn zrange_by_rank(&self, key: &[u8], start: i64, stop: i64, rev: bool) -> Result<Vec<(Vec<u8>, f64)>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(Vec::new()) };
        let n = m.count;
        let Some((s, e)) = normalize_range(start, stop, n) else { return Ok(Vec::new()) };
        // Ascending ranks fs..=fe.
        let (fs, fe) = if rev { (n - 1 - e, n - 1 - s) } else { (s, e) };
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let from_front = fs <= n - 1 - fe;
        let (dir, skip) = if from_front { (Direction::Forward, fs) } else { (Direction::Reverse, n - 1 - fe) };
        let take = (fe - fs + 1) as usize;
        let mut out = Vec::with_capacity(take);
        for r in self.store.iter_range(KeyRange::prefix(&prefix), dir).keys().skip(skip as usize).take(take) {
            out.push(split_index_sub(&r?.0[prefix.len()..]));
        }
        // `out` is ascending if walked from the front; the caller wants descending with `rev`.
        if from_front == rev {
            out.reverse();
        }
        Ok(out)
    }

    /// The rank of `member` (`ZRANK`, or `ZREVRANK` with `rev`): its 0-based position by
    /// (score, member). O(log n + min(rank, n − rank)): walks from both ends at once.
    pub fn zrank(&self, key: &[u8], member: &[u8], rev: bool) -> Result<Option<u64>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(None) };
        let Some(v) = self.store.get(&elem_key(key, m.version, member))? else { return Ok(None) };
        let score = decode_score_value(&v).ok_or_else(|| self.bad_score(key))?;
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let target = zindex_key(key, m.version, score, member);
        let all = KeyRange::prefix(&prefix);
        let mut below = self
            .store
            .iter_range(KeyRange { start: all.start.clone(), end: Bound::Excluded(target.clone()) }, Direction::Forward)
            .keys();
        let mut above =
            self.store.iter_range(KeyRange { start: Bound::Excluded(target), end: all.end }, Direction::Reverse).keys();
        let (mut nb, mut na) = (0u64, 0u64);
        let rank = loop {
            match below.next() {
                None => break nb,
                Some(r) => {
                    r?;
                    nb += 1;
                }
            }
            match above.next() {
                None => break m.count.saturating_sub(na + 1),
                Some(r) => {
                    r?;
                    na += 1;
                }
            }
        };
        Ok(Some(if rev { m.count.saturating_sub(rank + 1) } else { rank }))
    }

    /// The score of `member` inside a transaction.
    fn zscore_in(&self, txn: &Txn<'_>, key: &[u8], version: u64, member: &[u8]) -> Result<Option<f64>> {
        match txn.get(&elem_key(key, version, member))? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_score_value(&v).ok_or_else(|| self.bad_score(key))?)),
        }
    }

    fn bad_score(&self, key: &[u8]) -> Error {
        Error::corruption(
            self.store.path(),
            0,
            format!("sorted set {:?} has a score that is not 8 bytes", String::from_utf8_lossy(key)),
        )
    }
}

/// Writes `member`'s element and score-index keys for `score`, removing the index entry of
/// its `old` score.
fn set_score(txn: &mut Txn<'_>, key: &[u8], version: u64, member: &[u8], old: Option<f64>, score: f64) -> Result<()> {
    if let Some(old) = old {
        txn.delete(&zindex_key(key, version, old, member))?;
    }
    txn.put(&elem_key(key, version, member), &encode_score_value(score))?;
    txn.put(&zindex_key(key, version, score, member), &[])
}
