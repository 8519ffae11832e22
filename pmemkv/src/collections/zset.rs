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

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::ops::Bound;

use crate::collections::keys::{
    check_score, elem_key, meta_key, score_to_sortable, sortable_to_score, space_prefix, zindex_key, CollMeta, KeyType,
    ELEM_SPACE, ZINDEX_SPACE,
};
use crate::collections::list::normalize_range;
use crate::collections::member_sample::{check_draws, reservoir, walk_with, with_replacement, Sampler, DRAW_COST};
use crate::collections::set::draw_distinct;
use crate::collections::{
    coll_in, first_key, page, scan_range, tx_coll, tx_coll_or_new, tx_fresh_version, tx_store_meta, Collections,
    Reader, ScanResult,
};
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

/// One end of a lexicographic range (`ZRANGEBYLEX`): `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`: the member itself is in range.
    Inclusive(Vec<u8>),
    /// `(member`: the member itself is out of range.
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// True if `m` is at or above this bound used as a minimum.
    fn below_or_at(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Inclusive(x) => m >= x.as_slice(),
            LexBound::Exclusive(x) => m > x.as_slice(),
        }
    }

    /// True if `m` is at or below this bound used as a maximum.
    fn above_or_at(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(x) => m <= x.as_slice(),
            LexBound::Exclusive(x) => m < x.as_slice(),
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// Redis's `sdscmplex`: `-` and `+` compare below and above every string.
    fn cmp(&self, other: &LexBound) -> Ordering {
        use LexBound::*;
        match (self, other) {
            (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
            (NegInf, _) | (_, PosInf) => Ordering::Less,
            (PosInf, _) | (_, NegInf) => Ordering::Greater,
            (Inclusive(a) | Exclusive(a), Inclusive(b) | Exclusive(b)) => a.cmp(b),
        }
    }
}

/// True if no member can lie in `min..max` (Redis's early test).
fn lex_range_empty(min: &LexBound, max: &LexBound) -> bool {
    match min.cmp(max) {
        Ordering::Greater => true,
        Ordering::Equal => min.exclusive() || max.exclusive(),
        Ordering::Less => false,
    }
}

/// How `ZRANGE` and friends select members.
#[derive(Debug, Clone, PartialEq)]
pub enum ZRangeBy {
    /// Ranks `start..=stop` (negative from the end, clamped), ascending rank 0 = lowest score.
    Rank(i64, i64),
    /// Scores in `min..max`.
    Score(ScoreBound, ScoreBound),
    /// Members in `min..max` by byte order (meant for sets whose members all have the same
    /// score; otherwise Redis's rule applies: from the first member in score order at or
    /// above `min`, while members stay at or below `max`).
    Lex(LexBound, LexBound),
}

/// How `ZUNIONSTORE`/`ZINTERSTORE` combine the (weighted) scores of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// The sum (`+inf` + `-inf` gives 0, as in Redis).
    #[default]
    Sum,
    /// The lowest.
    Min,
    /// The highest.
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *acc {
                    *acc = v;
                }
            }
            Aggregate::Max => {
                if v > *acc {
                    *acc = v;
                }
            }
        }
    }
}

/// `ZUNIONSTORE` or `ZINTERSTORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZStoreOp {
    /// Members of any input.
    Union,
    /// Members of every input.
    Inter,
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
        Ok(self.zadd_incr(key, delta, member, ZAddOptions::default())?.expect("an unconditional increment applies"))
    }

    /// `ZADD … INCR`: adds `delta` to the score of `member` (an absent member is added with
    /// score `delta`) under the `NX`/`XX`/`GT`/`LT` conditions of `opts` (`CH` is
    /// irrelevant). Returns the new score, or `None` if a condition prevented the update
    /// (`XX` on an absent key creates nothing). Errors if the result is NaN.
    pub fn zadd_incr(&self, key: &[u8], delta: f64, member: &[u8], opts: ZAddOptions) -> Result<Option<f64>> {
        if opts.condition == ZCondition::IfAbsent && opts.compare != ZCompare::Any {
            return Err(Error::InvalidArgument("GT, LT, and/or NX options at the same time are not compatible".into()));
        }
        // A new member's reply is the increment itself, -0 included (Redis replies with the
        // double it computed); what is stored is normalized (0), as Redis's listpack does.
        let given = delta;
        let delta = check_score(delta)?;
        self.store.update(|txn| {
            let (mut m, expiry) = tx_coll_or_new(&self.store, txn, key, KeyType::ZSet)?;
            match self.zscore_in(txn, key, m.version, member)? {
                Some(old) => {
                    if opts.condition == ZCondition::IfAbsent {
                        return Ok(None);
                    }
                    let new = old + delta;
                    if new.is_nan() {
                        return Err(Error::InvalidArgument("resulting score is not a number (NaN)".into()));
                    }
                    let new = check_score(new)?;
                    let refused = match opts.compare {
                        ZCompare::Any => false,
                        ZCompare::Greater => new <= old,
                        ZCompare::Less => new >= old,
                    };
                    if refused {
                        return Ok(None);
                    }
                    if new != old {
                        set_score(txn, key, m.version, member, Some(old), new)?;
                    }
                    Ok(Some(new))
                }
                None if opts.condition == ZCondition::IfPresent => Ok(None),
                None => {
                    set_score(txn, key, m.version, member, None, delta)?;
                    m.count += 1;
                    tx_store_meta(txn, key, &m, expiry)?;
                    Ok(Some(given))
                }
            }
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
                    txn.delete_live(&elem_key(key, m.version, member))?;
                    txn.delete_live(&zindex_key(key, m.version, old, member))?;
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
                // Both just read: the index entry by the walk, the score key through it.
                txn.delete_live(zk)?;
                txn.delete_live(&elem_key(key, m.version, member))?;
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
        self.zrange(key, &ZRangeBy::Score(min, max), rev, offset, limit)
    }

    /// Members with ranks `start..=stop` (`ZRANGE` / `ZREVRANGE` with `rev`; Redis index
    /// semantics: negative ranks count from the end, bounds are clamped). Rank 0 is the
    /// lowest score (the highest with `rev`).
    ///
    /// Cost: O(log n + min(start, n − stop) + k) — the walk starts from the nearer end,
    /// because the index keeps no counts (see the module documentation).
    pub fn zrange_by_rank(&self, key: &[u8], start: i64, stop: i64, rev: bool) -> Result<Vec<(Vec<u8>, f64)>> {
        self.zrange(key, &ZRangeBy::Rank(start, stop), rev, 0, None)
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
    let ek = elem_key(key, version, member);
    if let Some(old) = old {
        // The member's score key says this index entry exists.
        txn.delete_live(&zindex_key(key, version, old, member))?;
        txn.put(&ek, &encode_score_value(score))?;
    } else {
        txn.put_new(&ek, &encode_score_value(score))?;
    }
    // The member's only index entry is under its old score (callers skip an unchanged score).
    txn.put_new(&zindex_key(key, version, score, member), &[])
}

impl Collections {
    /// The scores of `members` in sorted set `key` (`ZMSCORE`; a missing key is an empty
    /// set). O(log n) per member.
    pub fn zmscore<M: AsRef<[u8]>>(&self, key: &[u8], members: &[M]) -> Result<Vec<Option<f64>>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(vec![None; members.len()]) };
        let mut out = Vec::with_capacity(members.len());
        for x in members {
            out.push(match self.store.get(&elem_key(key, m.version, x.as_ref()))? {
                None => None,
                Some(v) => Some(decode_score_value(&v).ok_or_else(|| self.bad_score(key))?),
            });
        }
        Ok(out)
    }

    /// The members selected by `by` (`ZRANGE` with `BYSCORE`/`BYLEX`/`REV`/`LIMIT`,
    /// `ZRANGEBYSCORE`, `ZRANGEBYLEX` and their `REV` forms) with their scores. For score and
    /// lex ranges, `offset` members are skipped from the first one in range and at most
    /// `limit` returned (`LIMIT offset count`; rank ranges ignore both). With `rev` the walk
    /// goes from the highest; `by`'s bounds keep their meaning (min, max).
    ///
    /// Cost: O(log n + offset + k) for score ranges and for lex ranges of a set whose
    /// members share one score; ranks walk from the nearer end (see the module documentation).
    pub fn zrange(
        &self,
        key: &[u8],
        by: &ZRangeBy,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        if let ZRangeBy::Score(min, max) = by {
            check_bounds(*min, *max)?;
        }
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(Vec::new()) };
        self.range_in(&*self.store, key, &m, by, rev, offset, limit)
    }

    /// Number of members between `min` and `max` by byte order (`ZLEXCOUNT`; see
    /// [`ZRangeBy::Lex`]).
    pub fn zlexcount(&self, key: &[u8], min: &LexBound, max: &LexBound) -> Result<u64> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(0) };
        let mut n = 0u64;
        self.lex_walk(&*self.store, key, &m, min, max, false, 0, &mut |_| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Removes the members selected by `by` (`ZREMRANGEBYRANK`, `ZREMRANGEBYSCORE`,
    /// `ZREMRANGEBYLEX`); the set is deleted when it becomes empty (removing everything only
    /// deletes the metadata record). Returns the number removed.
    pub fn zrem_range(&self, key: &[u8], by: &ZRangeBy) -> Result<u64> {
        if let ZRangeBy::Score(min, max) = by {
            check_bounds(*min, *max)?;
        }
        self.store.update(|txn| {
            let Some((mut m, expiry)) = tx_coll(&self.store, txn, key, KeyType::ZSet)? else { return Ok(0) };
            if let ZRangeBy::Rank(s, e) = by {
                if normalize_range(*s, *e, m.count) == Some((0, m.count - 1)) {
                    txn.delete(&meta_key(key))?;
                    return Ok(m.count);
                }
            }
            let items = self.range_in(&*txn, key, &m, by, false, 0, None)?;
            let n = items.len() as u64;
            if n == m.count {
                txn.delete(&meta_key(key))?;
                return Ok(n);
            }
            for (member, score) in &items {
                txn.delete(&elem_key(key, m.version, member))?;
                txn.delete(&zindex_key(key, m.version, *score, member))?;
            }
            if n > 0 {
                m.count -= n;
                tx_store_meta(txn, key, &m, expiry)?;
            }
            Ok(n)
        })
    }

    /// Stores the members of `src` selected by `by` (as [`Collections::zrange`]) in `dst`
    /// (`ZRANGESTORE`), replacing whatever `dst` held; an empty result deletes `dst`.
    /// Returns the number stored.
    pub fn zrange_store(
        &self,
        dst: &[u8],
        src: &[u8],
        by: &ZRangeBy,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<u64> {
        if let ZRangeBy::Score(min, max) = by {
            check_bounds(*min, *max)?;
        }
        self.store.update(|txn| {
            let items = match tx_coll(&self.store, txn, src, KeyType::ZSet)? {
                Some((m, _)) => self.range_in(&*txn, src, &m, by, rev, offset, limit)?,
                None => Vec::new(),
            };
            self.write_zset(txn, dst, &items)
        })
    }

    /// Stores the union or intersection of `sources` (key and weight; sets count as sorted
    /// sets with score 1, a missing key as an empty set) in `dst` (`ZUNIONSTORE`,
    /// `ZINTERSTORE` with `WEIGHTS` and `AGGREGATE`), replacing whatever `dst` held; an empty
    /// result deletes `dst`. A weighted score that is NaN (`inf` × 0) counts as 0. Atomic;
    /// `dst` may be a source. Returns the result's size.
    ///
    /// The intersection walks the smallest input and probes the others (O(log n) each); the
    /// union merges the inputs' member-ordered streams.
    pub fn zstore<K: AsRef<[u8]>>(
        &self,
        dst: &[u8],
        op: ZStoreOp,
        sources: &[(K, f64)],
        agg: Aggregate,
    ) -> Result<u64> {
        self.store.update(|txn| {
            let mut srcs = Vec::with_capacity(sources.len());
            for (k, w) in sources {
                let k = k.as_ref();
                let m = coll_in(&self.store, &*txn, k, |t| t == KeyType::Set || t == KeyType::ZSet)?;
                srcs.push((k, m, *w));
            }
            srcs.sort_by_key(|(_, m, _)| m.map_or(0, |m| m.count));
            let result = match op {
                ZStoreOp::Inter => self.zinter_in(&*txn, &srcs, agg)?,
                ZStoreOp::Union => self.zunion_in(&*txn, &srcs, agg)?,
            };
            self.write_zset(txn, dst, &result)
        })
    }

    /// Random members of sorted set `key` with their scores (`ZRANDMEMBER key count`, Redis
    /// semantics: positive `count` distinct members, negative `-count` draws that may
    /// repeat); picked like [`Collections::srandmember`].
    pub fn zrandmember(&self, key: &[u8], count: i64) -> Result<Vec<(Vec<u8>, f64)>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else { return Ok(Vec::new()) };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let store = &*self.store;
        let score_of = |member: Vec<u8>| -> Result<Option<(Vec<u8>, f64)>> {
            Ok(match store.get(&elem_key(key, m.version, &member))? {
                Some(v) => Some((member, decode_score_value(&v).ok_or_else(|| self.bad_score(key))?)),
                None => None,
            })
        };
        let seek = |r: KeyRange, d: Direction| first_key(store, r, d);
        let walk = |r: KeyRange, n: usize| walk_with(store, r, n);
        let mut sampler = Sampler::new(prefix.clone(), &seek, &walk);
        let scored = || {
            store.iter_range(KeyRange::prefix(&prefix), Direction::Forward).map(|r| {
                let (k, v) = r?;
                Ok((k[prefix.len()..].to_vec(), decode_score_value(&v).ok_or_else(|| self.bad_score(key))?))
            })
        };
        let n = count.unsigned_abs();
        if count < 0 {
            check_draws(n)?;
        }
        let mut out = Vec::new();
        if count < 0 {
            if n.saturating_mul(DRAW_COST) > m.count {
                return with_replacement(scored(), m.count, n as usize, sampler.rng());
            }
            let none = HashSet::new();
            for _ in 0..n {
                let Some(x) = sampler.pick_excluding(&none)? else { break };
                out.extend(score_of(x)?);
            }
            return Ok(out);
        }
        if n.saturating_mul(DRAW_COST) > m.count {
            return reservoir(scored(), n as usize, sampler.rng());
        }
        for x in draw_distinct(&mut sampler, n)? {
            out.extend(score_of(x)?);
        }
        Ok(out)
    }

    /// One page of up to `count` members of sorted set `key` with their scores, in member
    /// byte order (`ZSCAN`); O(log n + count). See [`ScanResult`] for the cursor.
    pub fn zscan(&self, key: &[u8], cursor: &[u8], count: usize) -> Result<ScanResult<(Vec<u8>, f64)>> {
        let Some(m) = self.load_coll(key, KeyType::ZSet)? else {
            return Ok(ScanResult { items: Vec::new(), cursor: None });
        };
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let mut items = Vec::new();
        for r in self.store.iter_range(scan_range(&prefix, cursor)?, Direction::Forward) {
            let (k, v) = r?;
            items.push((k[prefix.len()..].to_vec(), decode_score_value(&v).ok_or_else(|| self.bad_score(key))?));
            if items.len() >= count.max(1) {
                break;
            }
        }
        Ok(page(items, count, |(m, _)| m.as_slice()))
    }

    // ---- internals -----------------------------------------------------------------------

    /// [`Collections::zrange`] on sorted set `key` (metadata `m`) through `r`.
    #[allow(clippy::too_many_arguments)]
    fn range_in<R: Reader + ?Sized>(
        &self,
        r: &R,
        key: &[u8],
        m: &CollMeta,
        by: &ZRangeBy,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let dir = if rev { Direction::Reverse } else { Direction::Forward };
        let take = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        match by {
            ZRangeBy::Rank(start, stop) => {
                let n = m.count;
                let Some((s, e)) = normalize_range(*start, *stop, n) else { return Ok(out) };
                // Ascending ranks fs..=fe.
                let (fs, fe) = if rev { (n - 1 - e, n - 1 - s) } else { (s, e) };
                let from_front = fs <= n - 1 - fe;
                let (dir, skip) = if from_front { (Direction::Forward, fs) } else { (Direction::Reverse, n - 1 - fe) };
                let take = (fe - fs + 1) as usize;
                out.reserve(take);
                for x in r.range(KeyRange::prefix(&prefix), dir).keys().skip(skip as usize).take(take) {
                    out.push(split_index_sub(&x?.0[prefix.len()..]));
                }
                // `out` is ascending if walked from the front; descending is wanted with `rev`.
                if from_front == rev {
                    out.reverse();
                }
            }
            ZRangeBy::Score(min, max) => {
                let Some(range) = score_range(&prefix, *min, *max)? else { return Ok(out) };
                for x in r.range(range, dir).keys().skip(offset).take(take) {
                    out.push(split_index_sub(&x?.0[prefix.len()..]));
                }
            }
            ZRangeBy::Lex(min, max) => {
                if take == 0 {
                    return Ok(out);
                }
                self.lex_walk(r, key, m, min, max, rev, offset, &mut |item| {
                    out.push(item);
                    out.len() < take
                })?;
            }
        }
        Ok(out)
    }

    /// Walks the members between `min` and `max` by byte order (Redis's rule, see
    /// [`ZRangeBy::Lex`]) in `rev` order, skipping `offset` from the first one in range,
    /// calling `f` with each until it returns false.
    #[allow(clippy::too_many_arguments)]
    fn lex_walk<R: Reader + ?Sized>(
        &self,
        r: &R,
        key: &[u8],
        m: &CollMeta,
        min: &LexBound,
        max: &LexBound,
        rev: bool,
        offset: usize,
        f: &mut dyn FnMut((Vec<u8>, f64)) -> bool,
    ) -> Result<()> {
        if lex_range_empty(min, max) {
            return Ok(());
        }
        let prefix = space_prefix(ZINDEX_SPACE, key, m.version);
        let all = KeyRange::prefix(&prefix);
        let Some(first) = first_key(r, all.clone(), Direction::Forward)? else { return Ok(()) };
        let Some(last) = first_key(r, all.clone(), Direction::Reverse)? else { return Ok(()) };
        let (first_member, first_score) = split_index_sub(&first[prefix.len()..]);
        let (last_member, last_score) = split_index_sub(&last[prefix.len()..]);
        if !min.below_or_at(&last_member) || !max.above_or_at(&first_member) {
            return Ok(());
        }
        let dir = if rev { Direction::Reverse } else { Direction::Forward };
        if first_score == last_score {
            // One score: the index is in member order, so the range is one seek.
            let s = score_to_sortable(first_score);
            let at = |x: &[u8]| {
                let mut k = prefix.clone();
                k.extend_from_slice(&s.to_be_bytes());
                k.extend_from_slice(x);
                k
            };
            let start = match min {
                LexBound::NegInf => Bound::Included(at(b"")),
                LexBound::Inclusive(x) => Bound::Included(at(x)),
                LexBound::Exclusive(x) => Bound::Excluded(at(x)),
                LexBound::PosInf => return Ok(()),
            };
            let end = match max {
                LexBound::PosInf => {
                    let mut k = prefix.clone();
                    k.extend_from_slice(&(s + 1).to_be_bytes());
                    Bound::Excluded(k)
                }
                LexBound::Inclusive(x) => Bound::Included(at(x)),
                LexBound::Exclusive(x) => Bound::Excluded(at(x)),
                LexBound::NegInf => return Ok(()),
            };
            for x in r.range(KeyRange { start, end }, dir).keys().skip(offset) {
                if !f(split_index_sub(&x?.0[prefix.len()..])) {
                    break;
                }
            }
            return Ok(());
        }
        // Mixed scores: Redis's walk in score order.
        // Entering the range is passing the bound the walk starts from; it stays in range
        // while it has not passed the other one.
        let enter = |x: &[u8]| if rev { max.above_or_at(x) } else { min.below_or_at(x) };
        let stay = |x: &[u8]| if rev { min.below_or_at(x) } else { max.above_or_at(x) };
        let mut started = false;
        let mut skip = offset;
        for x in r.range(all, dir).keys() {
            let item = split_index_sub(&x?.0[prefix.len()..]);
            if !started {
                if !enter(&item.0) {
                    continue;
                }
                if !stay(&item.0) {
                    break;
                }
                started = true;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if !stay(&item.0) || !f(item) {
                break;
            }
        }
        Ok(())
    }

    /// The members of a set or sorted set (`m`) with their scores (1 for sets), in member
    /// order.
    fn scored_members<'r, R: Reader + ?Sized>(
        &'r self,
        r: &'r R,
        key: &'r [u8],
        m: &CollMeta,
    ) -> impl Iterator<Item = Result<(Vec<u8>, f64)>> + 'r {
        let prefix = space_prefix(ELEM_SPACE, key, m.version);
        let zset = m.kind == KeyType::ZSet;
        r.range(KeyRange::prefix(&prefix), Direction::Forward).map(move |x| {
            let (k, v) = x?;
            let score = if zset { decode_score_value(&v).ok_or_else(|| self.bad_score(key))? } else { 1.0 };
            Ok((k[prefix.len()..].to_vec(), score))
        })
    }

    /// The score of `member` in a set or sorted set (`m`) through `r`.
    fn score_in<R: Reader + ?Sized>(&self, r: &R, key: &[u8], m: &CollMeta, member: &[u8]) -> Result<Option<f64>> {
        let ek = elem_key(key, m.version, member);
        if m.kind != KeyType::ZSet {
            return Ok(r.has(&ek)?.then_some(1.0));
        }
        match r.read(&ek)? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_score_value(&v).ok_or_else(|| self.bad_score(key))?)),
        }
    }

    /// `ZINTERSTORE`'s result: `srcs` are sorted by size (smallest first).
    fn zinter_in<R: Reader + ?Sized>(
        &self,
        r: &R,
        srcs: &[(&[u8], Option<CollMeta>, f64)],
        agg: Aggregate,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let mut out = Vec::new();
        let Some(&(k0, Some(m0), w0)) = srcs.first() else { return Ok(out) };
        if srcs.iter().any(|(_, m, _)| m.is_none()) {
            return Ok(out);
        }
        'next: for x in self.scored_members(r, k0, &m0) {
            let (member, s0) = x?;
            let mut score = w0 * s0;
            if score.is_nan() {
                score = 0.0;
            }
            for &(k, m, w) in &srcs[1..] {
                let m = m.expect("checked");
                let v = if k == k0 {
                    s0
                } else {
                    match self.score_in(r, k, &m, &member)? {
                        Some(v) => v,
                        None => continue 'next,
                    }
                };
                agg.apply(&mut score, v * w);
            }
            out.push((member, score));
        }
        Ok(out)
    }

    /// `ZUNIONSTORE`'s result: `srcs` are sorted by size (smallest first); each member's
    /// scores are aggregated in that order.
    fn zunion_in<R: Reader + ?Sized>(
        &self,
        r: &R,
        srcs: &[(&[u8], Option<CollMeta>, f64)],
        agg: Aggregate,
    ) -> Result<Vec<(Vec<u8>, f64)>> {
        let mut iters = Vec::new();
        let mut weights = Vec::new();
        for (k, m, w) in srcs {
            if let Some(m) = m {
                iters.push(self.scored_members(r, k, m));
                weights.push(*w);
            }
        }
        let mut heap = BinaryHeap::new();
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(x) = it.next() {
                let (member, s) = x?;
                heap.push(Reverse((member, i, s.to_bits())));
            }
        }
        let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
        while let Some(Reverse((member, i, bits))) = heap.pop() {
            if let Some(x) = iters[i].next() {
                let (next, s) = x?;
                heap.push(Reverse((next, i, s.to_bits())));
            }
            // Each weighted score that is NaN (0 × ±inf) counts as 0, as in Redis's union
            // (its intersection does so for the first set's score only).
            let v = f64::from_bits(bits) * weights[i];
            let v = if v.is_nan() { 0.0 } else { v };
            match out.last_mut() {
                Some((last, acc)) if *last == member => agg.apply(acc, v),
                _ => out.push((member, v)),
            }
        }
        Ok(out)
    }

    /// Replaces `dst` with a sorted set of `items` (distinct members) under a new version,
    /// or deletes it if `items` is empty. Returns the number of members.
    fn write_zset(&self, txn: &mut Txn<'_>, dst: &[u8], items: &[(Vec<u8>, f64)]) -> Result<u64> {
        if items.is_empty() {
            txn.delete(&meta_key(dst))?;
            return Ok(0);
        }
        let mut meta = CollMeta::new(KeyType::ZSet, tx_fresh_version(&self.store, txn, dst)?);
        for (member, score) in items {
            set_score(txn, dst, meta.version, member, None, check_score(*score)?)?;
        }
        meta.count = items.len() as u64;
        tx_store_meta(txn, dst, &meta, None)?;
        Ok(meta.count)
    }
}

/// Rejects NaN score bounds.
fn check_bounds(min: ScoreBound, max: ScoreBound) -> Result<()> {
    if min.value().is_nan() || max.value().is_nan() {
        return Err(Error::InvalidArgument("min or max is not a float".into()));
    }
    Ok(())
}
