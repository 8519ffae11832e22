//! Engine tests of sorted sets: a proptest of random operations (ZADD with every option,
//! ZADD INCR, ZREM, ZREMRANGEBY*, ZPOP, ZRANGE by rank/score/lex with REV and LIMIT, ZRANK,
//! ZCOUNT, ZLEXCOUNT, ZRANGESTORE, ZUNIONSTORE/ZINTERSTORE with weights and aggregates)
//! against a `BTreeMap` model, plus Redis's lex rule on mixed scores, sets as
//! ZUNIONSTORE/ZINTERSTORE inputs, ZRANDMEMBER, ZSCAN and WRONGTYPE.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pmemkv::collections::{Aggregate, LexBound, ScoreBound, ZAddOptions, ZCompare, ZCondition, ZRangeBy, ZStoreOp};
use pmemkv::{Collections, Error, Options, Store};
use proptest::prelude::*;

fn open(dir: &std::path::Path) -> Collections {
    let opts = Options { segment_size: 16 << 20, max_inline_value: 1 << 20, ..Options::default() };
    Collections::new(Arc::new(Store::open(dir, opts).unwrap()))
}

type Model = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, f64>>;

const KEYS: [&[u8]; 3] = [b"z0", b"z1", b"z2"];
const MEMBERS: [&[u8]; 7] = [b"", b"a", b"ab", b"b", b"c", b"d\x00", b"\xff"];
const SCORES: [f64; 9] = [f64::NEG_INFINITY, -2.0, -0.5, 0.0, 0.0, 1.0, 1.5, 3.0, f64::INFINITY];

/// A sorted set in (score, member) order.
fn sorted(z: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn gte(s: f64, b: ScoreBound) -> bool {
    match b {
        ScoreBound::Inclusive(x) => s >= x,
        ScoreBound::Exclusive(x) => s > x,
    }
}

fn lte(s: f64, b: ScoreBound) -> bool {
    match b {
        ScoreBound::Inclusive(x) => s <= x,
        ScoreBound::Exclusive(x) => s < x,
    }
}

fn lex_gte(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::NegInf => true,
        LexBound::PosInf => false,
        LexBound::Inclusive(x) => m >= x.as_slice(),
        LexBound::Exclusive(x) => m > x.as_slice(),
    }
}

fn lex_lte(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::NegInf => false,
        LexBound::PosInf => true,
        LexBound::Inclusive(x) => m <= x.as_slice(),
        LexBound::Exclusive(x) => m < x.as_slice(),
    }
}

/// Redis's "range is empty" test for lex bounds.
fn lex_empty(min: &LexBound, max: &LexBound) -> bool {
    use LexBound::*;
    let v = |b: &LexBound| match b {
        NegInf => (0, Vec::new()),
        Inclusive(x) | Exclusive(x) => (1, x.clone()),
        PosInf => (2, Vec::new()),
    };
    let ex = |b: &LexBound| !matches!(b, Inclusive(_));
    match v(min).cmp(&v(max)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => ex(min) || ex(max),
        std::cmp::Ordering::Less => false,
    }
}

/// The model of `ZRANGE`: Redis's listpack walks, written out directly.
fn model_range(
    z: &BTreeMap<Vec<u8>, f64>,
    by: &ZRangeBy,
    rev: bool,
    offset: usize,
    limit: Option<usize>,
) -> Vec<(Vec<u8>, f64)> {
    let mut v = sorted(z);
    let n = v.len() as i64;
    match by {
        ZRangeBy::Rank(start, stop) => {
            let fix = |i: i64| if i < 0 { n + i } else { i };
            let (s, e) = (fix(*start).max(0), fix(*stop).min(n - 1));
            if s > e || s >= n {
                return Vec::new();
            }
            if rev {
                v.reverse();
            }
            v[s as usize..=e as usize].to_vec()
        }
        ZRangeBy::Score(min, max) => {
            if rev {
                v.reverse();
            }
            v.into_iter()
                .filter(|(_, s)| gte(*s, *min) && lte(*s, *max))
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .collect()
        }
        ZRangeBy::Lex(min, max) => {
            if lex_empty(min, max) || v.is_empty() {
                return Vec::new();
            }
            if !lex_gte(&v[v.len() - 1].0, min) || !lex_lte(&v[0].0, max) {
                return Vec::new();
            }
            if rev {
                v.reverse();
            }
            let enter = |m: &[u8]| if rev { lex_lte(m, max) } else { lex_gte(m, min) };
            let stay = |m: &[u8]| if rev { lex_gte(m, min) } else { lex_lte(m, max) };
            let Some(start) = v.iter().position(|(m, _)| enter(m)) else { return Vec::new() };
            if !stay(&v[start].0) {
                return Vec::new();
            }
            let mut out = Vec::new();
            for (m, s) in v.into_iter().skip(start + offset) {
                if out.len() >= limit.unwrap_or(usize::MAX) || !stay(&m) {
                    break;
                }
                out.push((m, s));
            }
            out
        }
    }
}

fn agg_apply(agg: Aggregate, acc: &mut f64, v: f64) {
    match agg {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v
            }
        }
    }
}

fn model_store(model: &Model, op: ZStoreOp, srcs: &[(usize, f64)], agg: Aggregate) -> BTreeMap<Vec<u8>, f64> {
    let empty = BTreeMap::new();
    let mut inputs: Vec<(&BTreeMap<Vec<u8>, f64>, f64)> =
        srcs.iter().map(|&(k, w)| (model.get(KEYS[k]).unwrap_or(&empty), w)).collect();
    inputs.sort_by_key(|(z, _)| z.len());
    let weigh = |s: f64, w: f64| {
        let x = s * w;
        if x.is_nan() {
            0.0
        } else {
            x
        }
    };
    let mut out = BTreeMap::new();
    match op {
        ZStoreOp::Inter => {
            'next: for (m, s) in inputs[0].0 {
                let mut acc = weigh(*s, inputs[0].1);
                for (z, w) in &inputs[1..] {
                    match z.get(m) {
                        Some(v) => agg_apply(agg, &mut acc, v * w),
                        None => continue 'next,
                    }
                }
                out.insert(m.clone(), acc);
            }
        }
        ZStoreOp::Union => {
            // Redis's union weighs every score with the NaN rule (0 × ±inf is 0), its
            // intersection only the first set's.
            for (z, w) in &inputs {
                for (m, s) in *z {
                    match out.get_mut(m) {
                        Some(acc) => agg_apply(agg, acc, weigh(*s, *w)),
                        None => {
                            out.insert(m.clone(), weigh(*s, *w));
                        }
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Op {
    Add { key: usize, items: Vec<(f64, usize)>, cond: u8, cmp: u8, ch: bool },
    Incr { key: usize, delta: f64, member: usize, cond: u8, cmp: u8 },
    Rem { key: usize, members: Vec<usize> },
    RemRange { key: usize, by: ZRangeBy },
    Pop { key: usize, count: usize, max: bool },
    Range { key: usize, by: ZRangeBy, rev: bool, offset: usize, limit: Option<usize> },
    Rank { key: usize, member: usize, rev: bool },
    Store { dst: usize, op: ZStoreOp, srcs: Vec<(usize, f64)>, agg: Aggregate },
    RangeStore { dst: usize, src: usize, by: ZRangeBy, rev: bool, offset: usize, limit: Option<usize> },
}

fn score_bound() -> impl Strategy<Value = ScoreBound> {
    (0..SCORES.len(), any::<bool>()).prop_map(|(i, ex)| {
        if ex {
            ScoreBound::Exclusive(SCORES[i])
        } else {
            ScoreBound::Inclusive(SCORES[i])
        }
    })
}

fn lex_bound() -> impl Strategy<Value = LexBound> {
    (0..MEMBERS.len() + 2, any::<bool>()).prop_map(|(i, ex)| match i {
        0 => LexBound::NegInf,
        1 => LexBound::PosInf,
        i if ex => LexBound::Exclusive(MEMBERS[i - 2].to_vec()),
        i => LexBound::Inclusive(MEMBERS[i - 2].to_vec()),
    })
}

fn range_by() -> impl Strategy<Value = ZRangeBy> {
    prop_oneof![
        (-9i64..9, -9i64..9).prop_map(|(a, b)| ZRangeBy::Rank(a, b)),
        (score_bound(), score_bound()).prop_map(|(a, b)| ZRangeBy::Score(a, b)),
        (lex_bound(), lex_bound()).prop_map(|(a, b)| ZRangeBy::Lex(a, b)),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    (0..SCORES.len()).prop_map(|i| SCORES[i])
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let member = 0..MEMBERS.len();
    let limit = prop_oneof![Just(None), (0usize..4).prop_map(Some)];
    prop_oneof![
        4 => (key.clone(), prop::collection::vec((score(), member.clone()), 1..5), 0u8..3, 0u8..3, any::<bool>())
            .prop_map(|(key, items, cond, cmp, ch)| Op::Add { key, items, cond, cmp, ch }),
        2 => (key.clone(), score(), member.clone(), 0u8..3, 0u8..3)
            .prop_map(|(key, delta, member, cond, cmp)| Op::Incr { key, delta, member, cond, cmp }),
        1 => (key.clone(), prop::collection::vec(member.clone(), 1..4)).prop_map(|(key, members)| Op::Rem { key, members }),
        1 => (key.clone(), range_by()).prop_map(|(key, by)| Op::RemRange { key, by }),
        1 => (key.clone(), 0usize..4, any::<bool>()).prop_map(|(key, count, max)| Op::Pop { key, count, max }),
        4 => (key.clone(), range_by(), any::<bool>(), 0usize..3, limit.clone())
            .prop_map(|(key, by, rev, offset, limit)| Op::Range { key, by, rev, offset, limit }),
        1 => (key.clone(), member.clone(), any::<bool>()).prop_map(|(key, member, rev)| Op::Rank { key, member, rev }),
        2 => (
            key.clone(),
            any::<bool>(),
            prop::collection::vec((key.clone(), prop_oneof![Just(1.0), Just(2.0), Just(-1.0), Just(0.0), Just(f64::INFINITY)]), 1..4),
            0u8..3
        )
            .prop_map(|(dst, union, srcs, agg)| Op::Store {
                dst,
                op: if union { ZStoreOp::Union } else { ZStoreOp::Inter },
                srcs,
                agg: [Aggregate::Sum, Aggregate::Min, Aggregate::Max][agg as usize],
            }),
        1 => (key.clone(), key, range_by(), any::<bool>(), 0usize..3, limit)
            .prop_map(|(dst, src, by, rev, offset, limit)| Op::RangeStore { dst, src, by, rev, offset, limit }),
    ]
}

fn opts(cond: u8, cmp: u8, ch: bool) -> ZAddOptions {
    ZAddOptions {
        condition: [ZCondition::Always, ZCondition::IfAbsent, ZCondition::IfPresent][cond as usize],
        compare: [ZCompare::Any, ZCompare::Greater, ZCompare::Less][cmp as usize],
        changed: ch,
    }
}

fn norm(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let mut model: Model = BTreeMap::new();
    for (i, op) in ops.into_iter().enumerate() {
        let ctx = format!("op {i}: {op:?}");
        match op {
            Op::Add { key, items, cond, cmp, ch } => {
                let o = opts(cond, cmp, ch);
                let items: Vec<(f64, &[u8])> = items.iter().map(|&(s, m)| (s, MEMBERS[m])).collect();
                let r = c.zadd_with(KEYS[key], &items, o);
                if o.condition == ZCondition::IfAbsent && o.compare != ZCompare::Any {
                    assert!(r.is_err(), "{ctx}");
                    continue;
                }
                let z = model.entry(KEYS[key].to_vec()).or_default();
                let (mut added, mut changed) = (0, 0);
                for (s, m) in items {
                    let s = norm(s);
                    match z.get(m).copied() {
                        Some(old) => {
                            let ok = o.condition != ZCondition::IfAbsent
                                && match o.compare {
                                    ZCompare::Any => true,
                                    ZCompare::Greater => s > old,
                                    ZCompare::Less => s < old,
                                };
                            if ok && old != s {
                                z.insert(m.to_vec(), s);
                                changed += 1;
                            }
                        }
                        None if o.condition != ZCondition::IfPresent => {
                            z.insert(m.to_vec(), s);
                            added += 1;
                        }
                        None => {}
                    }
                }
                assert_eq!(r.unwrap(), if ch { added + changed } else { added }, "{ctx}");
            }
            Op::Incr { key, delta, member, cond, cmp } => {
                let o = opts(cond, cmp, false);
                let r = c.zadd_incr(KEYS[key], delta, MEMBERS[member], o);
                if o.condition == ZCondition::IfAbsent && o.compare != ZCompare::Any {
                    assert!(r.is_err(), "{ctx}");
                    continue;
                }
                let z = model.entry(KEYS[key].to_vec()).or_default();
                let exp = match z.get(MEMBERS[member]).copied() {
                    Some(_) if o.condition == ZCondition::IfAbsent => Ok(None),
                    Some(old) => {
                        let new = old + delta;
                        if new.is_nan() {
                            Err(())
                        } else if (o.compare == ZCompare::Greater && new <= old)
                            || (o.compare == ZCompare::Less && new >= old)
                        {
                            Ok(None)
                        } else {
                            z.insert(MEMBERS[member].to_vec(), norm(new));
                            Ok(Some(norm(new)))
                        }
                    }
                    None if o.condition == ZCondition::IfPresent => Ok(None),
                    None => {
                        z.insert(MEMBERS[member].to_vec(), norm(delta));
                        Ok(Some(norm(delta)))
                    }
                };
                match exp {
                    Err(()) => assert_eq!(
                        r.unwrap_err().to_string(),
                        "invalid argument: resulting score is not a number (NaN)",
                        "{ctx}"
                    ),
                    Ok(e) => assert_eq!(r.unwrap(), e, "{ctx}"),
                }
            }
            Op::Rem { key, members } => {
                let ms: Vec<&[u8]> = members.iter().map(|&m| MEMBERS[m]).collect();
                let z = model.entry(KEYS[key].to_vec()).or_default();
                let exp = ms
                    .iter()
                    .copied()
                    .collect::<BTreeSet<&[u8]>>()
                    .into_iter()
                    .filter(|m| z.remove(*m).is_some())
                    .count();
                assert_eq!(c.zrem(KEYS[key], &ms).unwrap(), exp as u64, "{ctx}");
            }
            Op::RemRange { key, by } => {
                let z = model.entry(KEYS[key].to_vec()).or_default();
                let gone = model_range(z, &by, false, 0, None);
                for (m, _) in &gone {
                    z.remove(m);
                }
                assert_eq!(c.zrem_range(KEYS[key], &by).unwrap(), gone.len() as u64, "{ctx}");
            }
            Op::Pop { key, count, max } => {
                let z = model.entry(KEYS[key].to_vec()).or_default();
                let mut v = sorted(z);
                if max {
                    v.reverse();
                }
                v.truncate(count);
                for (m, _) in &v {
                    z.remove(m);
                }
                assert_eq!(c.zpop(KEYS[key], count, max).unwrap(), v, "{ctx}");
            }
            Op::Range { key, by, rev, offset, limit } => {
                let z = model.get(KEYS[key]).cloned().unwrap_or_default();
                let exp = model_range(&z, &by, rev, offset, limit);
                assert_eq!(c.zrange(KEYS[key], &by, rev, offset, limit).unwrap(), exp, "{ctx}");
                if let ZRangeBy::Lex(min, max) = &by {
                    let all = model_range(&z, &by, false, 0, None);
                    assert_eq!(c.zlexcount(KEYS[key], min, max).unwrap(), all.len() as u64, "{ctx}");
                }
                if let ZRangeBy::Score(min, max) = by {
                    let all = model_range(&z, &by, false, 0, None);
                    assert_eq!(c.zcount(KEYS[key], min, max).unwrap(), all.len() as u64, "{ctx}");
                }
            }
            Op::Rank { key, member, rev } => {
                let z = model.get(KEYS[key]).cloned().unwrap_or_default();
                let mut v = sorted(&z);
                if rev {
                    v.reverse();
                }
                let exp = v.iter().position(|(m, _)| m == MEMBERS[member]).map(|p| p as u64);
                assert_eq!(c.zrank(KEYS[key], MEMBERS[member], rev).unwrap(), exp, "{ctx}");
                assert_eq!(c.zscore(KEYS[key], MEMBERS[member]).unwrap(), z.get(MEMBERS[member]).copied(), "{ctx}");
            }
            Op::Store { dst, op, srcs, agg } => {
                let exp = model_store(&model, op, &srcs, agg);
                let sources: Vec<(&[u8], f64)> = srcs.iter().map(|&(k, w)| (KEYS[k], w)).collect();
                assert_eq!(c.zstore(KEYS[dst], op, &sources, agg).unwrap(), exp.len() as u64, "{ctx}");
                model.insert(KEYS[dst].to_vec(), exp);
            }
            Op::RangeStore { dst, src, by, rev, offset, limit } => {
                let z = model.get(KEYS[src]).cloned().unwrap_or_default();
                let exp: BTreeMap<Vec<u8>, f64> = model_range(&z, &by, rev, offset, limit).into_iter().collect();
                assert_eq!(
                    c.zrange_store(KEYS[dst], KEYS[src], &by, rev, offset, limit).unwrap(),
                    exp.len() as u64,
                    "{ctx}"
                );
                model.insert(KEYS[dst].to_vec(), exp);
            }
        }
        model.retain(|_, z| !z.is_empty());
        for k in KEYS {
            let exp = model.get(k).map(sorted).unwrap_or_default();
            assert_eq!(c.zrange(k, &ZRangeBy::Rank(0, -1), false, 0, None).unwrap(), exp, "{ctx}: key {k:?}");
            assert_eq!(c.zcard(k).unwrap(), exp.len() as u64, "{ctx}: card of {k:?}");
            assert_eq!(c.exists(k).unwrap(), !exp.is_empty(), "{ctx}: {k:?} exists");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn zsets_match_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

fn members(v: &[(Vec<u8>, f64)]) -> Vec<&str> {
    v.iter().map(|(m, _)| std::str::from_utf8(m).unwrap()).collect()
}

#[test]
fn lex_ranges_follow_redis() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let items: Vec<(f64, &str)> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|m| (0.0, *m)).collect();
    c.zadd(b"z", &items).unwrap();
    let lex = |min: LexBound, max: LexBound| ZRangeBy::Lex(min, max);
    let inc = |s: &str| LexBound::Inclusive(s.as_bytes().to_vec());
    let exc = |s: &str| LexBound::Exclusive(s.as_bytes().to_vec());
    let get = |by: &ZRangeBy, rev, off, lim| c.zrange(b"z", by, rev, off, lim).unwrap();
    assert_eq!(members(&get(&lex(LexBound::NegInf, inc("c")), false, 0, None)), ["a", "b", "c"]);
    assert_eq!(members(&get(&lex(LexBound::NegInf, exc("c")), false, 0, None)), ["a", "b"]);
    assert_eq!(members(&get(&lex(inc("aaa"), exc("g")), false, 0, None)), ["b", "c", "d", "e", "f"]);
    assert_eq!(members(&get(&lex(inc("b"), LexBound::PosInf), true, 1, Some(2))), ["f", "e"]);
    assert!(get(&lex(LexBound::PosInf, LexBound::NegInf), false, 0, None).is_empty());
    assert!(get(&lex(inc("c"), exc("c")), false, 0, None).is_empty());
    assert_eq!(members(&get(&lex(inc("c"), inc("c")), false, 0, None)), ["c"]);
    assert_eq!(c.zlexcount(b"z", &inc("b"), &exc("f")).unwrap(), 4);
    assert_eq!(c.zrem_range(b"z", &lex(exc("a"), inc("c"))).unwrap(), 2);
    assert_eq!(members(&get(&ZRangeBy::Rank(0, -1), false, 0, None)), ["a", "d", "e", "f", "g"]);

    // Mixed scores: from the first member in score order at or above min, while members
    // stay at or below max (what Redis does for small sorted sets).
    c.zadd(b"m", &[(1.0, "b"), (2.0, "a"), (3.0, "c"), (4.0, "d")]).unwrap();
    // (Checked against Redis 7.0: ZRANGEBYLEX m [b [c, ZREVRANGEBYLEX m [c [b, ZLEXCOUNT.)
    let by = lex(inc("b"), inc("c"));
    assert_eq!(members(&c.zrange(b"m", &by, false, 0, None).unwrap()), ["b", "a", "c"]);
    assert_eq!(members(&c.zrange(b"m", &by, true, 0, None).unwrap()), ["c"]);
    assert_eq!(c.zlexcount(b"m", &inc("b"), &inc("c")).unwrap(), 3);
    assert_eq!(members(&c.zrange(b"m", &lex(inc("a"), inc("c")), false, 0, None).unwrap()), ["b", "a", "c"]);
    assert_eq!(members(&c.zrange(b"m", &lex(inc("a"), inc("c")), true, 0, None).unwrap()), ["c", "a", "b"]);
}

#[test]
fn store_accepts_sets_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.sadd(b"s", &["a", "b", "c"]).unwrap();
    c.zadd(b"z", &[(10.0, "b"), (20.0, "c"), (30.0, "d")]).unwrap();
    c.str_set(b"str", b"v", Default::default()).unwrap();
    assert_eq!(c.zstore(b"u", ZStoreOp::Union, &[(&b"s"[..], 2.0), (b"z", 1.0)], Aggregate::Sum).unwrap(), 4);
    assert_eq!(
        c.zrange(b"u", &ZRangeBy::Rank(0, -1), false, 0, None).unwrap(),
        vec![(b"a".to_vec(), 2.0), (b"b".to_vec(), 12.0), (b"c".to_vec(), 22.0), (b"d".to_vec(), 30.0)]
    );
    assert_eq!(c.zstore(b"i", ZStoreOp::Inter, &[(&b"s"[..], 1.0), (b"z", 1.0)], Aggregate::Max).unwrap(), 2);
    assert_eq!(
        c.zrange(b"i", &ZRangeBy::Rank(0, -1), false, 0, None).unwrap(),
        vec![(b"b".to_vec(), 10.0), (b"c".to_vec(), 20.0)]
    );
    // inf × 0 is NaN: counted as 0.
    c.zadd(b"inf", &[(f64::INFINITY, "x")]).unwrap();
    assert_eq!(c.zstore(b"w", ZStoreOp::Union, &[(&b"inf"[..], 0.0)], Aggregate::Sum).unwrap(), 1);
    assert_eq!(c.zscore(b"w", b"x").unwrap(), Some(0.0));
    // Errors: any wrong-typed input; an empty result deletes dst (whatever it held).
    assert!(matches!(
        c.zstore(b"u", ZStoreOp::Union, &[(&b"missing"[..], 1.0), (b"str", 1.0)], Aggregate::Sum),
        Err(Error::WrongType)
    ));
    assert_eq!(c.zstore(b"str", ZStoreOp::Inter, &[(&b"missing"[..], 1.0), (b"z", 1.0)], Aggregate::Sum).unwrap(), 0);
    assert!(!c.exists(b"str").unwrap());
    // The destination can be an input.
    assert_eq!(c.zstore(b"z", ZStoreOp::Union, &[(&b"z"[..], 2.0)], Aggregate::Sum).unwrap(), 3);
    assert_eq!(c.zscore(b"z", b"d").unwrap(), Some(60.0));
}

#[test]
fn random_members_and_scan() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let items: Vec<(f64, String)> = (0..500).map(|i| (i as f64, format!("m{i:03}"))).collect();
    c.zadd(b"z", &items).unwrap();
    let score_of = |m: &[u8]| std::str::from_utf8(&m[1..]).unwrap().parse::<f64>().unwrap();
    for n in [1i64, 10, 100, 200, 499, 500, 600] {
        let got = c.zrandmember(b"z", n).unwrap();
        assert_eq!(got.len() as i64, n.min(500), "count {n}");
        assert_eq!(got.iter().map(|(m, _)| m).collect::<BTreeSet<_>>().len(), got.len(), "distinct");
        assert!(got.iter().all(|(m, s)| score_of(m) == *s));
    }
    let got = c.zrandmember(b"z", -2000).unwrap();
    assert_eq!(got.len(), 2000);
    assert!(got.iter().all(|(m, s)| score_of(m) == *s));
    assert!(got.iter().map(|(m, _)| m).collect::<BTreeSet<_>>().len() > 400);

    let mut cursor = Vec::new();
    let mut seen = Vec::new();
    loop {
        let page = c.zscan(b"z", &cursor, 64).unwrap();
        seen.extend(page.items);
        match page.cursor {
            Some(cur) => cursor = cur,
            None => break,
        }
    }
    let exp: Vec<(Vec<u8>, f64)> = items.iter().map(|(s, m)| (m.as_bytes().to_vec(), *s)).collect();
    assert_eq!(seen, exp);
    assert!(c.zrandmember(b"missing", 3).unwrap().is_empty());
    assert_eq!(c.zmscore(b"z", &["m001", "nope"]).unwrap(), vec![Some(1.0), None]);
    assert_eq!(c.zmscore(b"missing", &["m001"]).unwrap(), vec![None]);
    c.sadd(b"set", &["x"]).unwrap();
    assert!(matches!(c.zrandmember(b"set", 1), Err(Error::WrongType)));
    assert!(matches!(c.zscan(b"set", b"", 1), Err(Error::WrongType)));
    assert!(matches!(c.zmscore(b"set", &["x"]), Err(Error::WrongType)));
    assert!(matches!(c.zrange(b"set", &ZRangeBy::Rank(0, 1), false, 0, None), Err(Error::WrongType)));
    assert!(matches!(c.zrem_range(b"set", &ZRangeBy::Rank(0, 1)), Err(Error::WrongType)));
    assert!(matches!(c.zrange_store(b"d", b"set", &ZRangeBy::Rank(0, 1), false, 0, None), Err(Error::WrongType)));
}
