//! Tests of the typed collection layer (`pmemkv::collections`): strings, hashes, lists, sets,
//! sorted sets and streams against simple in-memory models (with Redis edge cases: negative
//! and out-of-range indices, empty-collection deletion, WRONGTYPE, duplicates, score updates,
//! ±inf, stream id ordering), persistence across reopen, whole-key expiry with a controlled
//! clock, orphan purging after O(1) deletes/overwrites, and a structural scaling check (an
//! insert into a 100k-element collection writes exactly what an insert into a 1k-element one
//! writes).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmemkv::collections::{
    keys, CollMeta, KeyTtl, KeyType, Meta, ScoreBound, SetOptions, StreamId, XAddId, XAddOptions, ZAddOptions,
    ZCompare, ZCondition,
};
use pmemkv::{Collections, Condition, Error, Expiry, Options, Store, ValueRef, WriteBatch};

// ---- helpers -------------------------------------------------------------------------------

fn small_opts() -> Options {
    Options { segment_size: 4 << 20, max_inline_value: 1 << 20, memtable_max_entries: 5_000, ..Options::default() }
}

fn open(dir: &Path, opts: Options) -> Collections {
    Collections::new(Arc::new(Store::open(dir, opts).unwrap()))
}

fn clocked(start: u64) -> (Options, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(start));
    let n2 = now.clone();
    (Options { clock: Arc::new(move || n2.load(Ordering::SeqCst)), ..small_opts() }, now)
}

fn b(v: &ValueRef) -> Vec<u8> {
    v.to_vec()
}

fn bs(vs: &[ValueRef]) -> Vec<Vec<u8>> {
    vs.iter().map(b).collect()
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn is_wrongtype<T: std::fmt::Debug>(r: pmemkv::Result<T>) -> bool {
    matches!(r, Err(Error::WrongType))
}

fn invalid_msg<T: std::fmt::Debug>(r: pmemkv::Result<T>) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// Periodic checkpoints and compactions during a model test, so reads are served from a mix
/// of memtable and (merged) index runs.
fn maintain(c: &Collections, step: u32) {
    if step % 400 == 399 {
        c.store().checkpoint().unwrap();
    }
    if step % 1_300 == 1_299 {
        c.store().compact(false).unwrap();
    }
}

/// Number of raw element and score-index keys in the store.
fn raw_elements(c: &Collections) -> usize {
    c.store().prefix(b"E").count() + c.store().prefix(b"Z").count()
}

// ---- strings -------------------------------------------------------------------------------

#[test]
fn strings() {
    let dir = tempfile::tempdir().unwrap();
    let (opts, now) = clocked(1_000_000);
    let c = open(dir.path(), opts);
    assert!(c.str_get(b"s").unwrap().is_none());
    assert!(c.str_set(b"s", b"hello", SetOptions::default()).unwrap().applied);
    let v = c.str_get(b"s").unwrap().unwrap();
    assert_eq!(&*v, b"hello");
    assert_eq!(c.key_type(b"s").unwrap(), Some(KeyType::String));

    // NX / XX.
    let nx = SetOptions { condition: Condition::IfAbsent, ..Default::default() };
    let xx = SetOptions { condition: Condition::IfPresent, ..Default::default() };
    assert!(!c.str_set(b"s", b"x", nx).unwrap().applied);
    assert!(!c.str_set(b"t", b"x", xx).unwrap().applied);
    assert!(c.str_set(b"t", b"x", nx).unwrap().applied);
    assert!(c.str_set(b"t", b"y", xx).unwrap().applied);
    assert_eq!(&*c.str_get(b"t").unwrap().unwrap(), b"y");

    // GET returns the old value; expiry and KEEPTTL.
    let out = c.str_set(b"s", b"v2", SetOptions { get: true, expiry: Expiry::At(1_000_500), ..Default::default() });
    assert_eq!(out.unwrap().old, Some(b"hello".to_vec()));
    assert_eq!(c.ttl(b"s").unwrap(), KeyTtl::ExpiresAt(1_000_500));
    c.str_set(b"s", b"v3", SetOptions { expiry: Expiry::Keep, ..Default::default() }).unwrap();
    assert_eq!(c.ttl(b"s").unwrap(), KeyTtl::ExpiresAt(1_000_500));
    c.str_set(b"s", b"v4", SetOptions::default()).unwrap();
    assert_eq!(c.ttl(b"s").unwrap(), KeyTtl::Persistent);
    assert_eq!(c.ttl(b"nope").unwrap(), KeyTtl::Missing);
    c.expire(b"s", Some(1_000_100)).unwrap();
    now.store(1_000_100, Ordering::SeqCst);
    assert!(c.str_get(b"s").unwrap().is_none());
    assert!(!c.exists(b"s").unwrap());

    // Empty values and empty keys are fine.
    c.str_set(b"", b"", SetOptions::default()).unwrap();
    assert_eq!(c.str_get(b"").unwrap().map(|v| v.len()), Some(0));

    // INCRBY / APPEND / GETDEL / MSET.
    assert_eq!(c.str_incr_by(b"n", 5).unwrap(), 5);
    assert_eq!(c.str_incr_by(b"n", -7).unwrap(), -2);
    assert_eq!(invalid_msg(c.str_incr_by(b"t", 1)), "value is not an integer or out of range");
    c.str_set(b"big", i64::MAX.to_string().as_bytes(), SetOptions::default()).unwrap();
    assert_eq!(invalid_msg(c.str_incr_by(b"big", 1)), "increment or decrement would overflow");
    c.str_set(b"lead", b"007", SetOptions::default()).unwrap();
    assert!(c.str_incr_by(b"lead", 1).is_err());
    assert_eq!(c.str_append(b"t", b"zz").unwrap(), 3);
    assert_eq!(&*c.str_get(b"t").unwrap().unwrap(), b"yzz");
    assert_eq!(c.str_getdel(b"t").unwrap(), Some(b"yzz".to_vec()));
    assert!(!c.exists(b"t").unwrap());
    assert!(c.str_mset(&[(b"a".as_slice(), b"1".as_slice()), (b"b", b"2")], false).unwrap());
    assert!(!c.str_mset(&[(b"c".as_slice(), b"3".as_slice()), (b"a", b"x")], true).unwrap());
    assert!(!c.exists(b"c").unwrap());
    assert_eq!(&*c.str_get(b"a").unwrap().unwrap(), b"1");

    // A string read of a collection is WRONGTYPE; a plain SET replaces any type.
    c.hset(b"h", &[(b"f", b"v")]).unwrap();
    assert!(is_wrongtype(c.str_get(b"h")));
    assert!(is_wrongtype(c.str_incr_by(b"h", 1)));
    assert!(is_wrongtype(c.str_set(b"h", b"x", SetOptions { get: true, ..Default::default() })));
    assert_eq!(c.hlen(b"h").unwrap(), 1, "a failed SET GET writes nothing");
    c.str_set(b"h", b"now a string", SetOptions::default()).unwrap();
    assert_eq!(c.key_type(b"h").unwrap(), Some(KeyType::String));
    assert!(is_wrongtype(c.hget(b"h", b"f")));
    // The string GET is zero-copy from the mapping.
    c.store().checkpoint().unwrap();
    assert!(c.str_get(b"h").unwrap().unwrap().is_mapped());
}

// ---- hashes --------------------------------------------------------------------------------

#[test]
fn hash_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let mut model: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys: Vec<Vec<u8>> = (0..4).map(|i| format!("hash{i}").into_bytes()).collect();
    for step in 0..3000 {
        let key = &keys[rng.below(keys.len() as u64) as usize];
        let field = |r: &mut Rng| format!("f{}", r.below(40)).into_bytes();
        match rng.below(10) {
            0..=3 => {
                let n = 1 + rng.below(4);
                let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    (0..n).map(|_| (field(&mut rng), format!("v{step}-{}", rng.below(1000)).into_bytes())).collect();
                let m = model.entry(key.clone()).or_default();
                let mut added = 0;
                for (f, v) in &pairs {
                    if m.insert(f.clone(), v.clone()).is_none() {
                        added += 1;
                    }
                }
                assert_eq!(c.hset(key, &pairs).unwrap(), added);
            }
            4..=6 => {
                let fields: Vec<Vec<u8>> = (0..1 + rng.below(5)).map(|_| field(&mut rng)).collect();
                let mut removed = 0;
                if let Some(m) = model.get_mut(key) {
                    for f in &fields {
                        removed += m.remove(f).is_some() as u64;
                    }
                    if m.is_empty() {
                        model.remove(key);
                    }
                }
                assert_eq!(c.hdel(key, &fields).unwrap(), removed);
            }
            7 => {
                let f = field(&mut rng);
                let exp = model.get(key).and_then(|m| m.get(&f)).is_none();
                assert_eq!(c.hsetnx(key, &f, b"nx").unwrap(), exp);
                if exp {
                    model.entry(key.clone()).or_default().insert(f, b"nx".to_vec());
                }
            }
            8 => {
                // HINCRBY on a numeric field.
                let f = format!("num{}", rng.below(3)).into_bytes();
                let m = model.entry(key.clone()).or_default();
                let cur: i64 = m.get(&f).map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                let n = cur + 3;
                m.insert(f.clone(), n.to_string().into_bytes());
                assert_eq!(c.hincr_by(key, &f, 3).unwrap(), n);
            }
            _ => {
                let f = field(&mut rng);
                let exp = model.get(key).and_then(|m| m.get(&f)).cloned();
                assert_eq!(c.hget(key, &f).unwrap().map(|v| b(&v)), exp);
                assert_eq!(c.hexists(key, &f).unwrap(), exp.is_some());
            }
        }
        maintain(&c, step);
        if step % 97 == 0 || step == 2999 {
            for k in &keys {
                let m = model.get(k);
                assert_eq!(c.hlen(k).unwrap(), m.map_or(0, |m| m.len() as u64));
                assert_eq!(c.key_type(k).unwrap(), m.map(|_| KeyType::Hash), "empty hashes do not exist");
                let all: Vec<(Vec<u8>, Vec<u8>)> = c.hgetall(k).unwrap().into_iter().map(|(f, v)| (f, b(&v))).collect();
                let exp: Vec<(Vec<u8>, Vec<u8>)> =
                    m.map(|m| m.iter().map(|(a, b)| (a.clone(), b.clone())).collect()).unwrap_or_default();
                assert_eq!(all, exp);
                // HSCAN in pages returns the same, each field once.
                let mut cursor = Vec::new();
                let mut scanned = Vec::new();
                loop {
                    let page = c.hscan(k, &cursor, 7).unwrap();
                    assert!(page.items.len() <= 7);
                    scanned.extend(page.items.into_iter().map(|(f, v)| (f, b(&v))));
                    match page.cursor {
                        Some(cur) => cursor = cur,
                        None => break,
                    }
                }
                assert_eq!(scanned, exp);
            }
        }
    }
    assert!(c.store().stats().checkpoints > 0, "the test should exercise checkpoints");
}

// ---- lists ---------------------------------------------------------------------------------

fn model_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

#[test]
fn list_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let mut model: BTreeMap<Vec<u8>, VecDeque<Vec<u8>>> = BTreeMap::new();
    let mut rng = Rng(42);
    let keys: Vec<Vec<u8>> = (0..3).map(|i| format!("list{i}").into_bytes()).collect();
    let mut counter = 0u64;
    for step in 0..3000 {
        let key = &keys[rng.below(keys.len() as u64) as usize];
        let len = model.get(key).map_or(0, |l| l.len()) as i64;
        match rng.below(12) {
            0..=2 => {
                let vals: Vec<Vec<u8>> = (0..1 + rng.below(4))
                    .map(|_| {
                        counter += 1;
                        format!("v{counter}").into_bytes()
                    })
                    .collect();
                let left = rng.below(2) == 0;
                let l = model.entry(key.clone()).or_default();
                for v in &vals {
                    if left {
                        l.push_front(v.clone());
                    } else {
                        l.push_back(v.clone());
                    }
                }
                let n = if left { c.lpush(key, &vals) } else { c.rpush(key, &vals) };
                assert_eq!(n.unwrap(), l.len() as u64);
            }
            3 => {
                // LPUSHX / RPUSHX.
                let exists = model.contains_key(key);
                let r = c.rpushx(key, &[b"x"]).unwrap();
                if exists {
                    let l = model.get_mut(key).unwrap();
                    l.push_back(b"x".to_vec());
                    assert_eq!(r, l.len() as u64);
                } else {
                    assert_eq!(r, 0);
                    assert!(!c.exists(key).unwrap());
                }
            }
            4..=5 => {
                let count = rng.below(4) as usize;
                let left = rng.below(2) == 0;
                let mut exp = Vec::new();
                if let Some(l) = model.get_mut(key) {
                    for _ in 0..count {
                        match if left { l.pop_front() } else { l.pop_back() } {
                            Some(v) => exp.push(v),
                            None => break,
                        }
                    }
                    if l.is_empty() {
                        model.remove(key);
                    }
                }
                let got = if left { c.lpop(key, count) } else { c.rpop(key, count) };
                assert_eq!(got.unwrap(), exp);
            }
            6 => {
                let i = rng.range(-len - 2, len + 2);
                let exp = model.get(key).and_then(|l| {
                    let j = if i < 0 { len + i } else { i };
                    (0..len).contains(&j).then(|| l[j as usize].clone())
                });
                if let Some(e) = &exp {
                    assert_eq!(c.lset(key, i, b"set").unwrap(), ());
                    let j = if i < 0 { len + i } else { i };
                    model.get_mut(key).unwrap()[j as usize] = b"set".to_vec();
                    let _ = e;
                } else if model.contains_key(key) {
                    assert_eq!(invalid_msg(c.lset(key, i, b"x")), "index out of range");
                } else {
                    assert_eq!(invalid_msg(c.lset(key, i, b"x")), "no such key");
                }
            }
            7 => {
                // LTRIM, rarely, with random bounds.
                if rng.below(4) == 0 {
                    let (s, e) = (rng.range(-len - 2, len + 2), rng.range(-len - 2, len + 2));
                    if let Some(l) = model.get_mut(key) {
                        match model_range(l.len(), s, e) {
                            Some((a, z)) => *l = l.iter().skip(a).take(z - a + 1).cloned().collect(),
                            None => l.clear(),
                        }
                        if l.is_empty() {
                            model.remove(key);
                        }
                    }
                    c.ltrim(key, s, e).unwrap();
                }
            }
            _ => {
                let i = rng.range(-len - 3, len + 3);
                let exp = model.get(key).and_then(|l| {
                    let j = if i < 0 { len + i } else { i };
                    (0..len).contains(&j).then(|| l[j as usize].clone())
                });
                assert_eq!(c.lindex(key, i).unwrap().map(|v| b(&v)), exp, "lindex {i} of {len}");
                let (s, e) = (rng.range(-len - 3, len + 3), rng.range(-len - 3, len + 3));
                let exp: Vec<Vec<u8>> = match (model.get(key), model_range(len as usize, s, e)) {
                    (Some(l), Some((a, z))) => l.iter().skip(a).take(z - a + 1).cloned().collect(),
                    _ => Vec::new(),
                };
                assert_eq!(bs(&c.lrange(key, s, e).unwrap()), exp, "lrange {s} {e} of {len}");
            }
        }
        maintain(&c, step);
        if step % 101 == 0 {
            for k in &keys {
                let l = model.get(k);
                assert_eq!(c.llen(k).unwrap(), l.map_or(0, |l| l.len() as u64));
                assert_eq!(c.key_type(k).unwrap(), l.map(|_| KeyType::List));
                let exp: Vec<Vec<u8>> = l.map(|l| l.iter().cloned().collect()).unwrap_or_default();
                assert_eq!(bs(&c.lrange(k, 0, -1).unwrap()), exp);
                assert_eq!(bs(&c.lrange(k, -1_000_000, 1_000_000).unwrap()), exp);
            }
        }
    }
    // Fixed edge cases on a fresh list.
    c.rpush(b"e", &[b"a", b"b", b"c"]).unwrap();
    assert_eq!(bs(&c.lrange(b"e", -2, -1).unwrap()), vec![b"b".to_vec(), b"c".to_vec()]);
    assert!(c.lrange(b"e", 2, 1).unwrap().is_empty());
    assert!(c.lrange(b"e", 5, 10).unwrap().is_empty());
    assert!(c.lrange(b"e", -10, -5).unwrap().is_empty());
    assert_eq!(bs(&c.lrange(b"e", -10, 0).unwrap()), vec![b"a".to_vec()]);
    assert_eq!(c.lindex(b"e", -3).unwrap().map(|v| b(&v)), Some(b"a".to_vec()));
    assert!(c.lindex(b"e", -4).unwrap().is_none());
    assert!(c.lindex(b"e", i64::MIN).unwrap().is_none());
    assert_eq!(c.lpop(b"e", 0).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(c.rpop(b"e", 10).unwrap(), vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    assert_eq!(c.key_type(b"e").unwrap(), None, "an empty list does not exist");
    assert_eq!(raw_elements(&c), raw_elements(&c)); // (no panics walking the spaces)
}

// ---- sets ----------------------------------------------------------------------------------

#[test]
fn set_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let mut model: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
    let mut rng = Rng(7);
    let keys: Vec<Vec<u8>> = (0..3).map(|i| format!("set{i}").into_bytes()).collect();
    for step in 0..3000 {
        let key = &keys[rng.below(3) as usize];
        let members: Vec<Vec<u8>> = (0..1 + rng.below(4)).map(|_| format!("m{}", rng.below(30)).into_bytes()).collect();
        match rng.below(5) {
            0..=1 => {
                let s = model.entry(key.clone()).or_default();
                let added = members.iter().filter(|m| s.insert((*m).clone())).count() as u64;
                assert_eq!(c.sadd(key, &members).unwrap(), added);
            }
            2..=3 => {
                let mut removed = 0;
                if let Some(s) = model.get_mut(key) {
                    removed = members.iter().filter(|m| s.remove(*m)).count() as u64;
                    if s.is_empty() {
                        model.remove(key);
                    }
                }
                assert_eq!(c.srem(key, &members).unwrap(), removed);
            }
            _ => {
                let m = &members[0];
                assert_eq!(c.sismember(key, m).unwrap(), model.get(key).is_some_and(|s| s.contains(m)));
            }
        }
        maintain(&c, step);
        if step % 89 == 0 {
            for k in &keys {
                let s = model.get(k);
                assert_eq!(c.scard(k).unwrap(), s.map_or(0, |s| s.len() as u64));
                assert_eq!(c.key_type(k).unwrap(), s.map(|_| KeyType::Set));
                let exp: Vec<Vec<u8>> = s.map(|s| s.iter().cloned().collect()).unwrap_or_default();
                assert_eq!(c.smembers(k).unwrap(), exp);
                let mut cursor = Vec::new();
                let mut scanned = Vec::new();
                loop {
                    let page = c.sscan(k, &cursor, 4).unwrap();
                    scanned.extend(page.items);
                    match page.cursor {
                        Some(cur) => cursor = cur,
                        None => break,
                    }
                }
                assert_eq!(scanned, exp);
            }
        }
    }
    // Duplicates within one call, and the empty member (also as a scan position).
    assert_eq!(c.sadd(b"d", &[b"x".as_slice(), b"x", b"", b""]).unwrap(), 2);
    assert_eq!(c.scard(b"d").unwrap(), 2);
    let page = c.sscan(b"d", &[], 1).unwrap();
    assert_eq!(page.items, vec![b"".to_vec()]);
    let page = c.sscan(b"d", &page.cursor.unwrap(), 1).unwrap();
    assert_eq!(page.items, vec![b"x".to_vec()]);
    assert!(c.sscan(b"d", b"bogus", 1).is_err());
}

// ---- sorted sets ---------------------------------------------------------------------------

type ZModel = BTreeMap<Vec<u8>, f64>;

fn zsorted(m: &ZModel) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn in_bound(s: f64, min: ScoreBound, max: ScoreBound) -> bool {
    let lo = match min {
        ScoreBound::Inclusive(v) => s >= v,
        ScoreBound::Exclusive(v) => s > v,
    };
    let hi = match max {
        ScoreBound::Inclusive(v) => s <= v,
        ScoreBound::Exclusive(v) => s < v,
    };
    lo && hi
}

#[test]
fn zset_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let mut model: BTreeMap<Vec<u8>, ZModel> = BTreeMap::new();
    let mut rng = Rng(0xdead_beef);
    let keys: Vec<Vec<u8>> = (0..3).map(|i| format!("z{i}").into_bytes()).collect();
    let scores = [f64::NEG_INFINITY, -1e9, -2.5, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0, 1e12, f64::INFINITY];
    let pick = |r: &mut Rng| scores[r.below(scores.len() as u64) as usize];
    let bound = |r: &mut Rng| {
        let v = scores[r.below(scores.len() as u64) as usize];
        if r.below(2) == 0 {
            ScoreBound::Inclusive(v)
        } else {
            ScoreBound::Exclusive(v)
        }
    };
    for step in 0..3000 {
        let key = &keys[rng.below(3) as usize];
        let member = |r: &mut Rng| format!("m{:02}", r.below(25)).into_bytes();
        match rng.below(12) {
            0..=3 => {
                let items: Vec<(f64, Vec<u8>)> =
                    (0..1 + rng.below(3)).map(|_| (pick(&mut rng), member(&mut rng))).collect();
                let opts = ZAddOptions {
                    condition: [ZCondition::Always, ZCondition::Always, ZCondition::IfAbsent, ZCondition::IfPresent]
                        [rng.below(4) as usize],
                    compare: [ZCompare::Any, ZCompare::Any, ZCompare::Greater, ZCompare::Less][rng.below(4) as usize],
                    changed: rng.below(2) == 0,
                };
                if opts.condition == ZCondition::IfAbsent && opts.compare != ZCompare::Any {
                    assert!(invalid_msg(c.zadd_with(key, &items, opts)).contains("not compatible"));
                    continue;
                }
                let z = model.entry(key.clone()).or_default();
                let (mut added, mut changed) = (0, 0);
                for (s, m) in &items {
                    match z.get(m).copied() {
                        Some(old) => {
                            let ok = opts.condition != ZCondition::IfAbsent
                                && match opts.compare {
                                    ZCompare::Any => true,
                                    ZCompare::Greater => *s > old,
                                    ZCompare::Less => *s < old,
                                };
                            if ok && *s != old {
                                z.insert(m.clone(), *s);
                                changed += 1;
                            }
                        }
                        None if opts.condition != ZCondition::IfPresent => {
                            z.insert(m.clone(), *s);
                            added += 1;
                        }
                        None => {}
                    }
                }
                if z.is_empty() {
                    model.remove(key);
                }
                let exp = if opts.changed { added + changed } else { added };
                assert_eq!(c.zadd_with(key, &items, opts).unwrap(), exp);
            }
            4..=5 => {
                let ms: Vec<Vec<u8>> = (0..1 + rng.below(3)).map(|_| member(&mut rng)).collect();
                let mut removed = 0;
                if let Some(z) = model.get_mut(key) {
                    for m in &ms {
                        removed += z.remove(m).is_some() as u64;
                    }
                    if z.is_empty() {
                        model.remove(key);
                    }
                }
                assert_eq!(c.zrem(key, &ms).unwrap(), removed);
            }
            6 => {
                let m = member(&mut rng);
                let d = [1.0, -0.5, 2.0][rng.below(3) as usize];
                let z = model.entry(key.clone()).or_default();
                let old = z.get(&m).copied().unwrap_or(0.0);
                let new = old + d;
                if new.is_nan() {
                    assert!(c.zincr_by(key, d, &m).is_err());
                } else {
                    z.insert(m.clone(), new);
                    assert_eq!(c.zincr_by(key, d, &m).unwrap(), new);
                }
                if z.is_empty() {
                    model.remove(key);
                }
            }
            7 => {
                if rng.below(3) == 0 {
                    let max = rng.below(2) == 0;
                    let n = rng.below(3) as usize;
                    let mut exp = Vec::new();
                    if let Some(z) = model.get_mut(key) {
                        let mut sorted = zsorted(z);
                        if max {
                            sorted.reverse();
                        }
                        for (m, s) in sorted.into_iter().take(n) {
                            z.remove(&m);
                            exp.push((m, s));
                        }
                        if z.is_empty() {
                            model.remove(key);
                        }
                    }
                    assert_eq!(c.zpop(key, n, max).unwrap(), exp);
                }
            }
            _ => {
                let empty = ZModel::new();
                let z = model.get(key).unwrap_or(&empty);
                let sorted = zsorted(z);
                let m = member(&mut rng);
                assert_eq!(c.zscore(key, &m).unwrap(), z.get(&m).copied());
                let rank = sorted.iter().position(|(x, _)| *x == m).map(|p| p as u64);
                assert_eq!(c.zrank(key, &m, false).unwrap(), rank);
                assert_eq!(c.zrank(key, &m, true).unwrap(), rank.map(|r| sorted.len() as u64 - 1 - r));
                // By score, with bounds, offset/limit, both directions.
                let (min, max) = (bound(&mut rng), bound(&mut rng));
                let offset = rng.below(3) as usize;
                let limit = if rng.below(2) == 0 { None } else { Some(rng.below(4) as usize) };
                let rev = rng.below(2) == 0;
                let mut exp: Vec<(Vec<u8>, f64)> =
                    sorted.iter().filter(|(_, s)| in_bound(*s, min, max)).cloned().collect();
                assert_eq!(c.zcount(key, min, max).unwrap(), exp.len() as u64);
                if rev {
                    exp.reverse();
                }
                let exp: Vec<_> = exp.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();
                assert_eq!(c.zrange_by_score(key, min, max, offset, limit, rev).unwrap(), exp, "{min:?} {max:?}");
                // By rank.
                let n = sorted.len() as i64;
                let (s, e) = (rng.range(-n - 2, n + 2), rng.range(-n - 2, n + 2));
                let mut base = sorted.clone();
                if rev {
                    base.reverse();
                }
                let exp: Vec<_> = match model_range(sorted.len(), s, e) {
                    Some((a, z)) => base[a..=z].to_vec(),
                    None => Vec::new(),
                };
                assert_eq!(c.zrange_by_rank(key, s, e, rev).unwrap(), exp, "rank {s}..{e} rev {rev} of {n}");
            }
        }
        maintain(&c, step);
        if step % 83 == 0 {
            for k in &keys {
                let z = model.get(k);
                assert_eq!(c.zcard(k).unwrap(), z.map_or(0, |z| z.len() as u64));
                assert_eq!(c.key_type(k).unwrap(), z.map(|_| KeyType::ZSet));
                let exp = z.map(zsorted).unwrap_or_default();
                assert_eq!(c.zrange_by_rank(k, 0, -1, false).unwrap(), exp);
                assert_eq!(c.zrange_by_score(k, ScoreBound::MIN, ScoreBound::MAX, 0, None, false).unwrap(), exp);
            }
        }
    }
    // Fixed edge cases.
    assert_eq!(invalid_msg(c.zadd(b"zz", &[(f64::NAN, b"a")])), "value is not a valid float");
    assert!(!c.exists(b"zz").unwrap(), "a rejected ZADD writes nothing");
    c.zadd(b"zz", &[(f64::INFINITY, b"a".as_slice()), (f64::NEG_INFINITY, b"b"), (-0.0, b"c")]).unwrap();
    assert_eq!(c.zscore(b"zz", b"c").unwrap(), Some(0.0));
    assert_eq!(
        c.zrange_by_rank(b"zz", 0, -1, false).unwrap(),
        vec![(b"b".to_vec(), f64::NEG_INFINITY), (b"c".to_vec(), 0.0), (b"a".to_vec(), f64::INFINITY)]
    );
    assert_eq!(invalid_msg(c.zincr_by(b"zz", f64::NEG_INFINITY, b"a")), "resulting score is not a number (NaN)");
    assert_eq!(c.zscore(b"zz", b"a").unwrap(), Some(f64::INFINITY));
    assert_eq!(
        c.zrange_by_score(
            b"zz",
            ScoreBound::Exclusive(f64::NEG_INFINITY),
            ScoreBound::Exclusive(f64::INFINITY),
            0,
            None,
            false
        )
        .unwrap(),
        vec![(b"c".to_vec(), 0.0)]
    );
    assert!(c
        .zrange_by_score(b"zz", ScoreBound::Inclusive(5.0), ScoreBound::Inclusive(1.0), 0, None, false)
        .unwrap()
        .is_empty());
    assert!(c.zrange_by_score(b"zz", ScoreBound::Inclusive(f64::NAN), ScoreBound::MAX, 0, None, false).is_err());
    // Score update moves the member in the index (no stale index entry remains).
    c.zadd(b"zz", &[(-5.0, b"a")]).unwrap();
    assert_eq!(c.zrank(b"zz", b"a", false).unwrap(), Some(1));
    assert_eq!(c.zcard(b"zz").unwrap(), 3);
    assert_eq!(c.zcount(b"zz", ScoreBound::MIN, ScoreBound::MAX).unwrap(), 3);
}

// ---- streams -------------------------------------------------------------------------------

#[test]
fn streams() {
    let dir = tempfile::tempdir().unwrap();
    let (opts, now) = clocked(5_000);
    let c = open(dir.path(), opts);
    let f = [(b"field".as_slice(), b"value".as_slice())];
    let id = |ms, seq| StreamId::new(ms, seq);
    assert_eq!(
        invalid_msg(c.xadd(b"s", XAddId::Explicit(id(0, 0)), &f)),
        "The ID specified in XADD must be greater than 0-0"
    );
    assert!(!c.exists(b"s").unwrap());
    assert_eq!(c.xadd(b"s", XAddId::AutoSeq(0), &f).unwrap(), id(0, 1));
    assert_eq!(c.xadd(b"s", XAddId::Explicit(id(1, 5)), &f).unwrap(), id(1, 5));
    let smaller = "The ID specified in XADD is equal or smaller than the target stream top item";
    assert_eq!(invalid_msg(c.xadd(b"s", XAddId::Explicit(id(1, 5)), &f)), smaller);
    assert_eq!(invalid_msg(c.xadd(b"s", XAddId::Explicit(id(1, 4)), &f)), smaller);
    assert_eq!(invalid_msg(c.xadd(b"s", XAddId::AutoSeq(0), &f)), smaller);
    assert_eq!(c.xadd(b"s", XAddId::AutoSeq(1), &f).unwrap(), id(1, 6));
    assert_eq!(c.xadd(b"s", XAddId::Auto, &f).unwrap(), id(5_000, 0));
    assert_eq!(c.xadd(b"s", XAddId::Auto, &f).unwrap(), id(5_000, 1), "same ms: next seq");
    now.store(4_000, Ordering::SeqCst); // the clock goes backwards: ids still increase
    assert_eq!(c.xadd(b"s", XAddId::Auto, &f).unwrap(), id(5_000, 2));
    now.store(9_000, Ordering::SeqCst);
    let multi = [(b"a".as_slice(), b"1".as_slice()), (b"b", b""), (b"", b"3")];
    assert_eq!(c.xadd(b"s", XAddId::Auto, &multi).unwrap(), id(9_000, 0));
    assert!(c.xadd(b"s", XAddId::Auto, &[] as &[(&[u8], &[u8])]).is_err());
    assert_eq!(c.xlen(b"s").unwrap(), 7);

    let ids = |v: Vec<pmemkv::collections::StreamEntry>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = vec![id(0, 1), id(1, 5), id(1, 6), id(5_000, 0), id(5_000, 1), id(5_000, 2), id(9_000, 0)];
    assert_eq!(ids(c.xrange(b"s", Bound::Unbounded, Bound::Unbounded, None).unwrap()), all);
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(ids(c.xrevrange(b"s", Bound::Unbounded, Bound::Unbounded, None).unwrap()), rev);
    assert_eq!(
        ids(c.xrange(b"s", Bound::Included(id(1, 0)), Bound::Included(id(5_000, 1)), None).unwrap()),
        all[1..5].to_vec()
    );
    assert_eq!(
        ids(c.xrange(b"s", Bound::Excluded(id(1, 5)), Bound::Excluded(id(5_000, 1)), Some(2)).unwrap()),
        all[2..4].to_vec()
    );
    assert_eq!(
        ids(c.xrevrange(b"s", Bound::Included(id(1, 0)), Bound::Unbounded, Some(3)).unwrap()),
        rev[..3].to_vec()
    );
    let last = c.xrange(b"s", Bound::Included(id(9_000, 0)), Bound::Unbounded, None).unwrap();
    assert_eq!(last[0].fields, multi.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect::<Vec<_>>());

    // XDEL, first id tracking, XTRIM; an emptied stream survives with its last id.
    assert_eq!(c.xdel(b"s", &[id(0, 1), id(0, 1), id(7, 7)]).unwrap(), 1);
    let info = c.stream_info(b"s").unwrap().unwrap();
    assert_eq!((info.length, info.first_id, info.max_deleted_id), (6, Some(id(1, 5)), id(0, 1)));
    assert_eq!(c.xtrim_maxlen(b"s", 4).unwrap(), 2);
    assert_eq!(ids(c.xrange(b"s", Bound::Unbounded, Bound::Unbounded, None).unwrap()), all[3..].to_vec());
    assert_eq!(c.stream_info(b"s").unwrap().unwrap().first_id, Some(id(5_000, 0)));
    assert_eq!(c.xtrim_maxlen(b"s", 10).unwrap(), 0);
    assert_eq!(c.xtrim_maxlen(b"s", 0).unwrap(), 4);
    assert_eq!(c.xlen(b"s").unwrap(), 0);
    assert_eq!(c.key_type(b"s").unwrap(), Some(KeyType::Stream));
    let info = c.stream_info(b"s").unwrap().unwrap();
    assert_eq!((info.first_id, info.last_id, info.entries_added), (None, id(9_000, 0), 7));
    assert_eq!(invalid_msg(c.xadd(b"s", XAddId::Explicit(id(9_000, 0)), &f)), smaller);
    assert_eq!(c.xadd(b"s", XAddId::Explicit(id(9_000, 1)), &f).unwrap(), id(9_000, 1));

    // NOMKSTREAM and MAXLEN.
    let nomk = XAddOptions { no_mkstream: true, ..Default::default() };
    assert!(c.xadd_with(b"t", XAddId::Auto, &f, nomk).unwrap().is_none());
    assert!(!c.exists(b"t").unwrap());
    let capped = XAddOptions { max_len: Some(3), ..Default::default() };
    for i in 1..=10 {
        c.xadd_with(b"t", XAddId::Explicit(id(i, 0)), &f, capped).unwrap();
    }
    assert_eq!(
        ids(c.xrange(b"t", Bound::Unbounded, Bound::Unbounded, None).unwrap()),
        vec![id(8, 0), id(9, 0), id(10, 0)]
    );
    assert_eq!(c.stream_info(b"t").unwrap().unwrap().first_id, Some(id(8, 0)));
    // Random ids against a model.
    let mut rng = Rng(99);
    let mut model: Vec<StreamId> = Vec::new();
    for _ in 0..500 {
        let cand = id(rng.below(50), rng.below(4));
        let last = model.last().copied().unwrap_or(StreamId::MIN);
        let r = c.xadd(b"r", XAddId::Explicit(cand), &f);
        if cand > last {
            assert_eq!(r.unwrap(), cand);
            model.push(cand);
        } else {
            assert!(r.is_err(), "{cand} after {last}");
        }
    }
    assert_eq!(ids(c.xrange(b"r", Bound::Unbounded, Bound::Unbounded, None).unwrap()), model);
}

// ---- WRONGTYPE -----------------------------------------------------------------------------

#[test]
fn wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    c.str_set(b"str", b"x", SetOptions::default()).unwrap();
    c.hset(b"hash", &[(b"f", b"v")]).unwrap();
    c.rpush(b"list", &[b"a"]).unwrap();
    c.sadd(b"set", &[b"a"]).unwrap();
    c.zadd(b"zset", &[(1.0, b"a")]).unwrap();
    c.xadd(b"stream", XAddId::Auto, &[(b"f", b"v")]).unwrap();
    let all: [&[u8]; 6] = [b"str", b"hash", b"list", b"set", b"zset", b"stream"];
    let types = [KeyType::String, KeyType::Hash, KeyType::List, KeyType::Set, KeyType::ZSet, KeyType::Stream];
    for (k, t) in all.iter().zip(types) {
        assert_eq!(c.key_type(k).unwrap(), Some(t));
        assert_eq!(
            t.as_str(),
            ["string", "hash", "list", "set", "zset", "stream"][types.iter().position(|x| *x == t).unwrap()]
        );
        if t != KeyType::String {
            assert!(is_wrongtype(c.str_get(k)));
        }
        if t != KeyType::Hash {
            assert!(is_wrongtype(c.hset(k, &[(b"f", b"v")])));
            assert!(is_wrongtype(c.hget(k, b"f")));
            assert!(is_wrongtype(c.hdel(k, &[b"f"])));
            assert!(is_wrongtype(c.hlen(k)));
            assert!(is_wrongtype(c.hgetall(k)));
            assert!(is_wrongtype(c.hscan(k, &[], 10)));
        }
        if t != KeyType::List {
            assert!(is_wrongtype(c.lpush(k, &[b"x"])));
            assert!(is_wrongtype(c.rpop(k, 1)));
            assert!(is_wrongtype(c.lrange(k, 0, -1)));
            assert!(is_wrongtype(c.lindex(k, 0)));
            assert!(is_wrongtype(c.llen(k)));
            assert!(is_wrongtype(c.lset(k, 0, b"x")));
        }
        if t != KeyType::Set {
            assert!(is_wrongtype(c.sadd(k, &[b"x"])));
            assert!(is_wrongtype(c.srem(k, &[b"x"])));
            assert!(is_wrongtype(c.sismember(k, b"x")));
            assert!(is_wrongtype(c.smembers(k)));
            assert!(is_wrongtype(c.scard(k)));
        }
        if t != KeyType::ZSet {
            assert!(is_wrongtype(c.zadd(k, &[(1.0, b"x")])));
            assert!(is_wrongtype(c.zrem(k, &[b"x"])));
            assert!(is_wrongtype(c.zscore(k, b"x")));
            assert!(is_wrongtype(c.zrange_by_rank(k, 0, -1, false)));
            assert!(is_wrongtype(c.zrange_by_score(k, ScoreBound::MIN, ScoreBound::MAX, 0, None, false)));
            assert!(is_wrongtype(c.zrank(k, b"x", false)));
        }
        if t != KeyType::Stream {
            assert!(is_wrongtype(c.xadd(k, XAddId::Auto, &[(b"f", b"v")])));
            assert!(is_wrongtype(c.xrange(k, Bound::Unbounded, Bound::Unbounded, None)));
            assert!(is_wrongtype(c.xlen(k)));
            assert!(is_wrongtype(c.xdel(k, &[StreamId::new(1, 1)])));
        }
    }
    // SCAN over user keys, in pages, each key once.
    let mut cursor = Vec::new();
    let mut seen = Vec::new();
    loop {
        let page = c.scan_keys(&cursor, 4).unwrap();
        assert!(page.items.len() <= 4);
        seen.extend(page.items);
        match page.cursor {
            Some(cur) => cursor = cur,
            None => break,
        }
    }
    let mut exp: Vec<Vec<u8>> = all.iter().map(|k| k.to_vec()).collect();
    exp.sort();
    assert_eq!(seen, exp);
    // Nothing above changed anything.
    assert_eq!(c.hlen(b"hash").unwrap(), 1);
    assert_eq!(c.llen(b"list").unwrap(), 1);
    assert_eq!(&*c.str_get(b"str").unwrap().unwrap(), b"x");
    // Reads of missing keys are empty, not errors.
    assert!(c.hget(b"missing", b"f").unwrap().is_none());
    assert!(c.lrange(b"missing", 0, -1).unwrap().is_empty());
    assert!(c.zrank(b"missing", b"m", false).unwrap().is_none());
    assert_eq!(c.xlen(b"missing").unwrap(), 0);
}

// ---- persistence ---------------------------------------------------------------------------

/// Fills one collection of each type with `n` elements, checkpointing half-way so that a
/// reopen reads index runs and replays a log tail (not left to the background thread's
/// timing).
fn fill_all_types(c: &Collections, n: usize) {
    let chunks: Vec<Vec<usize>> = (0..n).collect::<Vec<_>>().chunks(500).map(|c| c.to_vec()).collect();
    for (at, chunk) in chunks.iter().enumerate() {
        if at == chunks.len() / 2 {
            c.store().checkpoint().unwrap();
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            chunk.iter().map(|i| (format!("f{i:06}").into_bytes(), format!("v{i}").into_bytes())).collect();
        c.hset(b"h", &pairs).unwrap();
        let vals: Vec<Vec<u8>> = chunk.iter().map(|i| format!("l{i}").into_bytes()).collect();
        c.rpush(b"l", &vals).unwrap();
        c.lpush(b"l", &vals).unwrap();
        let members: Vec<Vec<u8>> = chunk.iter().map(|i| format!("m{i:06}").into_bytes()).collect();
        c.sadd(b"s", &members).unwrap();
        let items: Vec<(f64, Vec<u8>)> =
            chunk.iter().map(|i| ((*i % 97) as f64 - 48.0, format!("z{i:06}").into_bytes())).collect();
        c.zadd(b"z", &items).unwrap();
        for i in chunk.iter().step_by(5) {
            c.xadd(b"x", XAddId::Explicit(StreamId::new(*i as u64 + 1, 0)), &[(b"i", i.to_string().as_bytes())])
                .unwrap();
        }
    }
    c.str_set(b"str", b"persisted", SetOptions::default()).unwrap();
}

fn check_all_types(c: &Collections, n: usize) {
    assert_eq!(c.hlen(b"h").unwrap(), n as u64);
    assert_eq!(c.hget(b"h", b"f000007").unwrap().map(|v| b(&v)), Some(b"v7".to_vec()));
    assert_eq!(c.hgetall(b"h").unwrap().len(), n);
    assert_eq!(c.llen(b"l").unwrap(), 2 * n as u64);
    assert_eq!(c.lindex(b"l", 0).unwrap().map(|v| b(&v)), Some(format!("l{}", n - 1).into_bytes()));
    assert_eq!(c.lindex(b"l", -1).unwrap().map(|v| b(&v)), Some(format!("l{}", n - 1).into_bytes()));
    assert_eq!(bs(&c.lrange(b"l", n as i64, n as i64 + 1).unwrap()), vec![b"l0".to_vec(), b"l1".to_vec()]);
    assert_eq!(c.scard(b"s").unwrap(), n as u64);
    assert!(c.sismember(b"s", b"m000003").unwrap());
    assert_eq!(c.smembers(b"s").unwrap().len(), n);
    assert_eq!(c.zcard(b"z").unwrap(), n as u64);
    let all = c.zrange_by_rank(b"z", 0, -1, false).unwrap();
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| (w[0].1, &w[0].0) < (w[1].1, &w[1].0)));
    assert_eq!(c.zscore(b"z", b"z000100").unwrap(), Some((100 % 97) as f64 - 48.0));
    assert_eq!(c.xlen(b"x").unwrap(), n.div_ceil(5) as u64);
    assert_eq!(&*c.str_get(b"str").unwrap().unwrap(), b"persisted");
}

#[test]
fn persistence_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3_000;
    {
        let c = open(dir.path(), small_opts());
        fill_all_types(&c, n);
        check_all_types(&c, n);
        let st = c.store().stats();
        assert!(st.checkpoints > 0 && st.runs > 0, "{st:?}");
    }
    {
        let c = open(dir.path(), small_opts());
        check_all_types(&c, n);
        // Keep writing after the reopen: versions of new collections must not collide with
        // the old ones.
        assert!(c.delete_key(b"h").unwrap());
        c.hset(b"h", &[(b"new", b"1")]).unwrap();
        assert_eq!(c.hgetall(b"h").unwrap().len(), 1);
        c.store().compact(true).unwrap();
    }
    let c = open(dir.path(), small_opts());
    assert_eq!(c.hlen(b"h").unwrap(), 1);
    assert!(c.hget(b"h", b"f000007").unwrap().is_none());
    assert_eq!(c.llen(b"l").unwrap(), 2 * n as u64);
    assert_eq!(c.zcard(b"z").unwrap(), n as u64);
    c.store().verify().unwrap();
}

// ---- expiry --------------------------------------------------------------------------------

#[test]
fn collection_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (opts, now) = clocked(1_000_000);
    let c = open(dir.path(), opts.clone());
    let pairs: Vec<(String, String)> = (0..200).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
    c.hset(b"h", &pairs).unwrap();
    c.zadd(b"z", &[(1.0, b"a"), (2.0, b"b")]).unwrap();
    assert!(c.expire(b"h", Some(1_000_500)).unwrap());
    assert!(c.expire(b"z", Some(1_000_500)).unwrap());
    assert!(!c.expire(b"nothing", Some(1)).unwrap());
    // Updates keep the TTL (as in Redis).
    c.hset(b"h", &[("f0", "changed")]).unwrap();
    c.hdel(b"h", &["f1"]).unwrap();
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::ExpiresAt(1_000_500));
    assert_eq!(c.hlen(b"h").unwrap(), 199);
    now.store(1_000_499, Ordering::SeqCst);
    assert_eq!(c.hget(b"h", b"f0").unwrap().map(|v| b(&v)), Some(b"changed".to_vec()));
    now.store(1_000_500, Ordering::SeqCst);
    // The whole key vanishes at once.
    assert!(c.key_type(b"h").unwrap().is_none());
    assert!(c.hget(b"h", b"f0").unwrap().is_none());
    assert_eq!(c.hlen(b"h").unwrap(), 0);
    assert!(c.hgetall(b"h").unwrap().is_empty());
    assert_eq!(c.zcard(b"z").unwrap(), 0);
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::Missing);
    // Recreating it starts empty (old elements are orphans of the old version).
    assert_eq!(c.hset(b"h", &[("f5", "new")]).unwrap(), 1);
    assert_eq!(c.hlen(b"h").unwrap(), 1);
    assert!(c.hget(b"h", b"f6").unwrap().is_none());
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::Persistent);
    // PERSIST.
    c.sadd(b"s", &[b"m"]).unwrap();
    c.expire(b"s", Some(2_000_000)).unwrap();
    c.expire(b"s", None).unwrap();
    assert_eq!(c.ttl(b"s").unwrap(), KeyTtl::Persistent);
    // Expired elements are reclaimed by the purge: 199 hash fields + 2×2 zset keys.
    assert_eq!(c.purge_all_orphans(64).unwrap(), 199 + 4);
    assert_eq!(raw_elements(&c), 2);
    drop(c);
    let c = open(dir.path(), opts);
    assert_eq!(c.hgetall(b"h").unwrap().len(), 1);
    assert_eq!(c.zcard(b"z").unwrap(), 0);
}

// ---- orphan purge --------------------------------------------------------------------------

#[test]
fn purge_orphans_reclaims_deleted_collections() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let fields: Vec<(String, String)> = (0..2_000).map(|i| (format!("f{i:05}"), "x".repeat(20))).collect();
    c.hset(b"dead-hash", &fields).unwrap();
    c.hset(b"live-hash", &fields[..300]).unwrap();
    let members: Vec<(f64, String)> = (0..1_000).map(|i| (i as f64, format!("m{i}"))).collect();
    c.zadd(b"dead-zset", &members).unwrap();
    c.zadd(b"live-zset", &members[..100]).unwrap();
    c.rpush(b"overwritten", &fields.iter().map(|f| f.0.clone()).take(500).collect::<Vec<_>>()).unwrap();
    c.sadd(b"recreated", &["a", "b", "c"]).unwrap();
    let before = raw_elements(&c);
    assert_eq!(before, 2_000 + 300 + 2 * 1_000 + 2 * 100 + 500 + 3);

    // O(1) deletes: only metadata changes.
    let st = c.store().stats();
    assert!(c.delete_key(b"dead-hash").unwrap());
    assert!(c.delete_key(b"dead-zset").unwrap());
    c.str_set(b"overwritten", b"a string now", SetOptions::default()).unwrap();
    assert!(c.delete_key(b"recreated").unwrap());
    c.sadd(b"recreated", &["b"]).unwrap();
    let st2 = c.store().stats();
    assert_eq!(st2.batches - st.batches, 5);
    assert!(st2.log_bytes - st.log_bytes < 1_000, "deletes must not touch elements");
    assert!(!c.exists(b"dead-hash").unwrap());
    assert!(c.hget(b"dead-hash", b"f00001").unwrap().is_none());
    assert_eq!(c.scard(b"recreated").unwrap(), 1);
    assert!(!c.sismember(b"recreated", b"a").unwrap());
    assert_eq!(raw_elements(&c), before + 1, "orphans are still there");

    // Incremental purge with a small budget: several calls, each bounded.
    c.store().checkpoint().unwrap();
    let orphans = 2_000 + 2 * 1_000 + 500 + 3;
    let mut total = 0;
    let mut calls = 0;
    while total < orphans {
        let d = c.purge_orphans(300).unwrap();
        assert!(d <= 300);
        total += d;
        calls += 1;
        assert!(calls < 200, "purge makes no progress ({total} of {orphans})");
    }
    assert_eq!(total, orphans);
    assert!(calls >= orphans / 300);
    assert_eq!(raw_elements(&c), 300 + 2 * 100 + 1);
    // Nothing more to purge; live collections are intact.
    assert_eq!(c.purge_all_orphans(50).unwrap(), 0);
    for _ in 0..10 {
        assert_eq!(c.purge_orphans(7).unwrap(), 0);
    }
    assert_eq!(c.hlen(b"live-hash").unwrap(), 300);
    assert_eq!(c.hgetall(b"live-hash").unwrap().len(), 300);
    assert_eq!(c.zrange_by_rank(b"live-zset", 0, -1, false).unwrap().len(), 100);
    assert_eq!(c.smembers(b"recreated").unwrap(), vec![b"b".to_vec()]);
    assert_eq!(&*c.str_get(b"overwritten").unwrap().unwrap(), b"a string now");
    // The space is reclaimable by compaction now.
    c.store().compact(true).unwrap();
    assert_eq!(raw_elements(&c), 501);
    let c2 = Collections::new(c.store().clone());
    assert_eq!(c2.purge_all_orphans(1).unwrap(), 0);
}

/// A purge step's budget counts the tombstones it steps over: ten thousand popped list
/// elements (tombstones until a merge drops them) before the orphans make several small
/// steps that delete nothing, then the orphans go; the live list is never touched.
#[test]
fn purge_steps_are_bounded_by_tombstones_stepped_over() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), Options { background: false, ..small_opts() });
    let items: Vec<String> = (0..10_000).map(|i| format!("item{i}")).collect();
    // "a-queue" sorts before "zz-gone" (same length, which element keys encode first): its
    // tombstones come first in the walk.
    c.rpush(b"a-queue", &items).unwrap();
    c.rpush(b"a-queue", &["last"]).unwrap();
    assert_eq!(c.lpop(b"a-queue", 10_000).unwrap().len(), 10_000);
    let fields: Vec<(String, String)> = (0..50).map(|i| (format!("f{i}"), "v".into())).collect();
    c.hset(b"zz-gone", &fields).unwrap();
    c.delete_keys(&[b"zz-gone"]).unwrap();
    let mut empty_steps = 0;
    let mut total = 0;
    while total < 50 {
        let d = c.purge_orphans(500).unwrap();
        if d == 0 {
            empty_steps += 1;
        }
        total += d;
        assert!(empty_steps < 100, "the purge never got past the tombstones");
    }
    assert!(empty_steps >= 10_000 / 500 - 1, "tombstones were not counted: {empty_steps} empty steps");
    assert_eq!(total, 50);
    assert_eq!(c.lrange(b"a-queue", 0, -1).unwrap().iter().map(b).collect::<Vec<_>>(), vec![b"last".to_vec()]);
    assert_eq!(c.purge_all_orphans(100).unwrap(), 0);
}

// ---- scaling -------------------------------------------------------------------------------

/// Store writes of one operation: (batches, log bytes, memtable entries added).
fn cost(c: &Collections, op: impl FnOnce()) -> (u64, u64, usize) {
    c.store().checkpoint().unwrap();
    let a = c.store().stats();
    op();
    let z = c.store().stats();
    (z.batches - a.batches, z.log_bytes - a.log_bytes, z.memtable_entries - a.memtable_entries)
}

fn coll_meta(c: &Collections, key: &[u8]) -> CollMeta {
    match keys::decode_meta(&c.store().get(&keys::meta_key(key)).unwrap().unwrap()).unwrap() {
        Meta::Coll(m) => m,
        Meta::String => panic!("not a collection"),
    }
}

/// Grows the collections of the scaling test by writing their element keys and metadata
/// directly in the documented encoding (much faster in a debug build than per-element
/// transactions): the hash and the sorted set to `big` elements, the list, set and stream to
/// `small` (the engine's debug-build write path costs ~10 µs per key, and the test must stay
/// fast). Then checks them through the API.
fn bulk_grow(c: &Collections, big: u64, small: u64) {
    let store = c.store();
    let (h, z, l, s, x) =
        (coll_meta(c, b"h"), coll_meta(c, b"z"), coll_meta(c, b"l"), coll_meta(c, b"s"), coll_meta(c, b"x"));
    // Stream entry value with the single pair ("k", "v"): u32 count, then u32-length parts.
    let entry: Vec<u8> = [&1u32.to_be_bytes()[..], &1u32.to_be_bytes(), b"k", &1u32.to_be_bytes(), b"v"].concat();
    // Element numbers already used: 0 (the first element) up to the current bulk size.
    let (big_from, small_from) = (h.count.max(1), l.count.max(1));
    let mut wb = WriteBatch::new();
    let flush = |wb: &mut WriteBatch| {
        store.write(wb).unwrap();
        *wb = WriteBatch::new();
    };
    for j in big_from..big {
        wb.put(keys::elem_key(b"h", h.version, format!("f{j:08}").as_bytes()), b"v".to_vec());
        let (score, member) = (j as f64, format!("m{j:08}"));
        wb.put(keys::elem_key(b"z", z.version, member.as_bytes()), score.to_bits().to_be_bytes().to_vec());
        wb.put(keys::zindex_key(b"z", z.version, score, member.as_bytes()), Vec::new());
        if wb.len() >= 15_000 {
            flush(&mut wb);
        }
    }
    for j in small_from..small {
        wb.put(keys::list_key(b"l", l.version, l.tail + (j - small_from)), b"elem".to_vec());
        wb.put(keys::elem_key(b"s", s.version, format!("s{j:08}").as_bytes()), Vec::new());
        wb.put(keys::stream_key(b"x", x.version, StreamId::new(j + 1, 0)), entry.clone());
        if wb.len() >= 15_000 {
            flush(&mut wb);
        }
    }
    let (big_added, small_added) = (big.saturating_sub(big_from), small.saturating_sub(small_from));
    let mut h2 = h;
    h2.count += big_added;
    let mut z2 = z;
    z2.count += big_added;
    let mut s2 = s;
    s2.count += small_added;
    let mut l2 = l;
    l2.count += small_added;
    l2.tail += small_added;
    let mut x2 = x;
    x2.count += small_added;
    x2.stream.entries_added += small_added;
    x2.stream.last_id = x2.stream.last_id.max(StreamId::new(small, 0));
    for (key, m) in [(&b"h"[..], h2), (b"z", z2), (b"s", s2), (b"l", l2), (b"x", x2)] {
        wb.put(keys::meta_key(key), m.encode());
    }
    flush(&mut wb);
    store.checkpoint().unwrap();
    // The collections are coherent through the API.
    assert_eq!(c.hlen(b"h").unwrap(), h2.count);
    assert!(c.hexists(b"h", format!("f{:08}", big - 1).as_bytes()).unwrap());
    assert_eq!(c.zcard(b"z").unwrap(), z2.count);
    assert_eq!(
        c.zrange_by_rank(b"z", -1, -1, false).unwrap(),
        vec![(format!("m{:08}", big - 1).into_bytes(), (big - 1) as f64)]
    );
    assert_eq!(c.llen(b"l").unwrap(), l2.count);
    assert_eq!(c.lindex(b"l", -1).unwrap().map(|v| b(&v)), Some(b"elem".to_vec()));
    assert_eq!(c.scard(b"s").unwrap(), s2.count);
    assert!(c.sismember(b"s", format!("s{:08}", small - 1).as_bytes()).unwrap());
    assert_eq!(c.xlen(b"x").unwrap(), x2.count);
    let last = c.xrange(b"x", Bound::Excluded(StreamId::new(small - 1, 0)), Bound::Unbounded, Some(1)).unwrap();
    assert_eq!(last[0].id, StreamId::new(small, 0));
    assert_eq!(last[0].fields, vec![(b"k".to_vec(), b"v".to_vec())]);
}

#[test]
fn insert_cost_is_independent_of_collection_size() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { background: false, memtable_max_entries: 1 << 20, ..small_opts() };
    let c = open(dir.path(), opts);
    // Each collection starts with element 0 through the API (which assigns its version).
    c.hset(b"h", &[("f00000000", "v")]).unwrap();
    c.zadd(b"z", &[(0.0, "m00000000")]).unwrap();
    c.rpush(b"l", &["elem"]).unwrap();
    c.sadd(b"s", &["s00000000"]).unwrap();
    c.xadd(b"x", XAddId::Explicit(StreamId::new(1, 0)), &[("k", "v")]).unwrap();
    // Fixed-size ids for the measured XADDs, above every bulk id.
    let top = 1u64 << 40;
    let measure = |n: u64| {
        [
            cost(&c, || assert_eq!(c.hset(b"h", &[(format!("g{n:08}"), "v")]).unwrap(), 1)),
            cost(&c, || assert_eq!(c.zadd(b"z", &[(0.5, format!("y{n:08}"))]).unwrap(), 1)),
            cost(&c, || {
                c.lpush(b"l", &["elem"]).unwrap();
            }),
            cost(&c, || assert_eq!(c.sadd(b"s", &[format!("t{n:08}")]).unwrap(), 1)),
            cost(&c, || {
                c.xadd(b"x", XAddId::Explicit(StreamId::new(top + n, 0)), &[("k", "v")]).unwrap();
            }),
            // Updates and deletes of one element too.
            cost(&c, || assert_eq!(c.zadd(b"z", &[(7.0, format!("y{n:08}"))]).unwrap(), 0)),
            cost(&c, || assert_eq!(c.hdel(b"h", &[format!("g{n:08}")]).unwrap(), 1)),
            cost(&c, || assert_eq!(c.lpop(b"l", 1).unwrap().len(), 1)),
            cost(&c, || assert_eq!(c.srem(b"s", &[format!("t{n:08}")]).unwrap(), 1)),
            cost(&c, || assert_eq!(c.xdel(b"x", &[StreamId::new(top + n, 0)]).unwrap(), 1)),
        ]
    };
    bulk_grow(&c, 1_000, 1_000);
    let small = measure(1);
    bulk_grow(&c, 100_000, 25_000);
    let st = c.store().stats();
    assert!(st.run_entries >= 300_000 && st.memtable_entries == 0, "{st:?}");
    let large = measure(2);
    for (i, (s, l)) in small.iter().zip(&large).enumerate() {
        assert_eq!(s.0, 1, "op {i}: one atomic batch per operation");
        assert_eq!(s, l, "op {i}: an operation on a 100k-element collection writes what it writes on a 1k one");
        assert!(s.2 <= 3, "op {i}: at most metadata + element + score index: {s:?}");
    }
    // Ranges are served from the right position, not by a scan of the whole collection.
    let mid = c.zrange_by_score(b"z", ScoreBound::Inclusive(50_000.0), ScoreBound::Inclusive(50_002.0), 0, None, false);
    assert_eq!(mid.unwrap().len(), 3);
    assert_eq!(c.lrange(b"l", 20_000, 20_001).unwrap().len(), 2);
    assert_eq!(c.xrange(b"x", Bound::Included(StreamId::new(20_000, 0)), Bound::Unbounded, Some(2)).unwrap().len(), 2);
    assert_eq!(c.zrank(b"z", b"m00000003", false).unwrap(), Some(3));
    assert_eq!(c.zrank(b"z", b"m00099990", true).unwrap(), Some(9));
}
