//! Property test of the store against a `BTreeMap` model.
//!
//! Random sequences of puts (every [`Condition`], [`Expiry::At`] / [`Expiry::Keep`]), deletes,
//! expire/persist, write batches, update transactions (committed and aborted), clock
//! advances, checkpoints, compactions and reopens run on a store with tiny segments and
//! memtables (so rotation, checkpoints, run merges and segment GC all happen within a case).
//! After every op the touched keys and a few others are compared with the model (value,
//! `exists`, `meta`); periodically the whole contents are compared through `iter`, `keys`,
//! `range`, `range_rev`, `prefix`, a `scan` loop and `verify`. Versions returned by writes
//! must increase strictly and drive `IfVersion`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::ops::Bound;

use common::TestClock;
use pmemkv::{Condition, Direction, Error, Expiry, KeyMeta, KeyRange, Options, PutOptions, Store, WriteBatch};
use proptest::prelude::*;

const START_MS: u64 = 1_000_000;
const MAX_INLINE: u64 = 1536;

/// The key universe: awkward bytes (empty, 0x00, 0xff runs, a long key) and ordinary keys.
fn keys() -> Vec<Vec<u8>> {
    let mut k: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\x00".to_vec(),
        b"\x00\x00".to_vec(),
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"a\xff".to_vec(),
        b"a\xff\xff".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"b".to_vec(),
        b"\xfe\xff".to_vec(),
        b"\xff".to_vec(),
        b"\xff\x00".to_vec(),
        b"\xff\xff".to_vec(),
        b"\xff\xff\x01".to_vec(),
        vec![b'z'; 700],
    ];
    k.extend((0..24).map(|i| format!("key/{i:02}").into_bytes()));
    k
}

const PREFIXES: &[&[u8]] = &[b"", b"\x00", b"a", b"a\xff", b"\xff", b"\xff\xff", b"key/1", b"key/", b"zz", b"c"];

#[derive(Debug, Clone, Copy)]
struct Val {
    len: usize,
    seed: u8,
}

impl Val {
    fn bytes(self, key: usize) -> Vec<u8> {
        (0..self.len).map(|i| (i as u8).wrapping_mul(31) ^ self.seed ^ (key as u8).rotate_left(3)).collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum CondSpec {
    Always,
    IfAbsent,
    IfPresent,
    IfVersionCurrent,
    IfVersionStale,
    IfVersionZero,
}

#[derive(Debug, Clone, Copy)]
enum ExpSpec {
    Never,
    /// Relative to the clock when the op runs (may be in the past).
    At(i64),
    Keep,
}

#[derive(Debug, Clone, Copy)]
struct RangeSpec {
    lo: Option<(usize, bool)>,
    hi: Option<(usize, bool)>,
}

#[derive(Debug, Clone)]
enum BOp {
    Put(usize, Val, Option<i64>),
    Delete(usize),
}

#[derive(Debug, Clone)]
enum TOp {
    Get(usize),
    Meta(usize),
    Put(usize, Val, Option<i64>),
    Delete(usize),
    Expire(usize, Option<i64>),
    Iter(RangeSpec, bool),
}

#[derive(Debug, Clone)]
enum Op {
    Put(usize, Val),
    /// Puts `n` consecutive keys (wrapping) from `start`, one put each: log volume.
    Fill(usize, usize, Val),
    PutWith(usize, Val, CondSpec, ExpSpec),
    Delete(usize),
    Expire(usize, Option<i64>),
    /// A streamed value (any size) with an optional expiry.
    BlobPut(usize, Val, Option<i64>),
    Batch(Vec<BOp>),
    Txn(Vec<TOp>, bool),
    Advance(u64),
    Checkpoint,
    Compact(bool),
    Reopen(bool),
    FullCheck(usize, RangeSpec, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MEntry {
    value: Vec<u8>,
    version: u64,
    /// Absolute expiry, 0 = none.
    exp: u64,
    /// Written through the blob writer (its own file).
    blob: bool,
}

impl MEntry {
    fn live(&self, now: u64) -> bool {
        self.exp == 0 || self.exp > now
    }
}

type Map = BTreeMap<Vec<u8>, MEntry>;

fn live<'m>(m: &'m Map, k: &[u8], now: u64) -> Option<&'m MEntry> {
    m.get(k).filter(|e| e.live(now))
}

fn abs(now: u64, rel: i64) -> u64 {
    (now as i64 + rel).max(1) as u64
}

fn in_range(spec: RangeSpec, keys: &[Vec<u8>], k: &[u8]) -> bool {
    let lo_ok = match spec.lo {
        None => true,
        Some((i, true)) => k >= keys[i].as_slice(),
        Some((i, false)) => k > keys[i].as_slice(),
    };
    let hi_ok = match spec.hi {
        None => true,
        Some((i, true)) => k <= keys[i].as_slice(),
        Some((i, false)) => k < keys[i].as_slice(),
    };
    lo_ok && hi_ok
}

fn key_range(spec: RangeSpec, keys: &[Vec<u8>]) -> KeyRange {
    let b = |x: Option<(usize, bool)>| match x {
        None => Bound::Unbounded,
        Some((i, true)) => Bound::Included(keys[i].clone()),
        Some((i, false)) => Bound::Excluded(keys[i].clone()),
    };
    KeyRange { start: b(spec.lo), end: b(spec.hi) }
}

fn expected_meta(e: &MEntry) -> KeyMeta {
    KeyMeta { version: e.version, expire_at_ms: (e.exp != 0).then_some(e.exp), len: e.value.len() as u64 }
}

fn live_items(m: &Map, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().filter(|(_, e)| e.live(now)).map(|(k, e)| (k.clone(), e.value.clone())).collect()
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn val() -> impl Strategy<Value = Val> {
    (prop_oneof![3 => 0usize..256, 3 => 256usize..1600, 1 => 0usize..2048], any::<u8>())
        .prop_map(|(len, seed)| Val { len, seed })
}

fn rel() -> impl Strategy<Value = i64> {
    -5i64..60
}

fn range_spec(n: usize) -> impl Strategy<Value = RangeSpec> {
    let bound = prop::option::weighted(0.8, (0..n, any::<bool>()));
    (bound.clone(), bound).prop_map(|(lo, hi)| RangeSpec { lo, hi })
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    let k = 0..n;
    let cond = prop_oneof![
        Just(CondSpec::Always),
        Just(CondSpec::IfAbsent),
        Just(CondSpec::IfPresent),
        Just(CondSpec::IfVersionCurrent),
        Just(CondSpec::IfVersionStale),
        Just(CondSpec::IfVersionZero),
    ];
    let exp = prop_oneof![Just(ExpSpec::Never), rel().prop_map(ExpSpec::At), Just(ExpSpec::Keep)];
    let bop = prop_oneof![
        3 => (k.clone(), val(), prop::option::weighted(0.3, rel())).prop_map(|(k, v, e)| BOp::Put(k, v, e)),
        1 => k.clone().prop_map(BOp::Delete),
    ];
    let top = prop_oneof![
        2 => k.clone().prop_map(TOp::Get),
        1 => k.clone().prop_map(TOp::Meta),
        3 => (k.clone(), val(), prop::option::weighted(0.3, rel())).prop_map(|(k, v, e)| TOp::Put(k, v, e)),
        1 => k.clone().prop_map(TOp::Delete),
        1 => (k.clone(), prop::option::of(rel())).prop_map(|(k, e)| TOp::Expire(k, e)),
        1 => (range_spec(n), any::<bool>()).prop_map(|(r, rev)| TOp::Iter(r, rev)),
    ];
    prop_oneof![
        10 => (k.clone(), val()).prop_map(|(k, v)| Op::Put(k, v)),
        4 => (k.clone(), 5usize..40, val()).prop_map(|(k, n, v)| Op::Fill(k, n, v)),
        8 => (k.clone(), val(), cond, exp).prop_map(|(k, v, c, e)| Op::PutWith(k, v, c, e)),
        4 => k.clone().prop_map(Op::Delete),
        3 => (k.clone(), prop::option::weighted(0.7, rel())).prop_map(|(k, e)| Op::Expire(k, e)),
        3 => prop::collection::vec(bop, 1..8).prop_map(Op::Batch),
        2 => (k.clone(), val(), prop::option::weighted(0.2, rel())).prop_map(|(k, v, e)| Op::BlobPut(k, v, e)),
        3 => (prop::collection::vec(top, 0..10), prop::bool::weighted(0.3)).prop_map(|(t, a)| Op::Txn(t, a)),
        3 => (1u64..40).prop_map(Op::Advance),
        1 => Just(Op::Checkpoint),
        1 => any::<bool>().prop_map(Op::Compact),
        1 => any::<bool>().prop_map(Op::Reopen),
        2 => (1usize..8, range_spec(n), 0..PREFIXES.len()).prop_map(|(c, r, p)| Op::FullCheck(c, r, p)),
    ]
}

#[derive(Debug, Clone)]
struct Config {
    segment_size: u64,
    memtable_max_entries: usize,
    background: bool,
    gc_dead_ratio: f64,
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![3 => Just(64u64 << 10), 1 => Just(128 << 10), 1 => Just(256 << 10)],
        prop_oneof![Just(8usize), Just(50)],
        any::<bool>(),
        prop_oneof![Just(0.3), Just(0.5)],
    )
        .prop_map(|(segment_size, memtable_max_entries, background, gc_dead_ratio)| Config {
            segment_size,
            memtable_max_entries,
            background,
            gc_dead_ratio,
        })
}

// ---------------------------------------------------------------------------------------------
// The harness

struct Harness {
    keys: Vec<Vec<u8>>,
    dir: tempfile::TempDir,
    clock: TestClock,
    opts: Options,
    store: Option<Store>,
    model: Map,
    /// Highest version any write returned or was observed with.
    last_version: u64,
}

impl Harness {
    fn new(cfg: &Config) -> Harness {
        let clock = TestClock::new(START_MS);
        let opts = Options {
            segment_size: cfg.segment_size,
            max_inline_value: MAX_INLINE,
            memtable_max_entries: cfg.memtable_max_entries,
            gc_dead_ratio: cfg.gc_dead_ratio,
            background: cfg.background,
            clock: clock.clock(),
            ..Options::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        Harness { keys: keys(), dir, clock, opts, store: Some(store), model: Map::new(), last_version: 0 }
    }

    fn s(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn new_version(&mut self, v: u64, what: &str) {
        assert!(v > self.last_version, "{what} returned version {v}, not above the previous {}", self.last_version);
        self.last_version = v;
    }

    fn check_key(&self, k: &[u8]) {
        let now = self.now();
        let want = live(&self.model, k, now);
        let s = self.s();
        let got = s.get(k).unwrap();
        assert_eq!(got.as_deref(), want.map(|e| e.value.as_slice()), "get({k:?})");
        let got_with = s.get_with(k, |v| v.map(|v| v.to_vec())).unwrap();
        assert_eq!(got_with.as_deref(), want.map(|e| e.value.as_slice()), "get_with({k:?})");
        assert_eq!(s.exists(k).unwrap(), want.is_some(), "exists({k:?})");
        assert_eq!(s.meta(k).unwrap(), want.map(expected_meta), "meta({k:?})");
    }

    fn full_check(&self, scan_count: usize, range: RangeSpec, prefix: usize) {
        let now = self.now();
        let s = self.s();
        let want = live_items(&self.model, now);
        let got: Vec<(Vec<u8>, Vec<u8>)> = s.iter().map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap()).collect();
        assert_eq!(got, want, "iter()");

        // Key counts: every live key counts; expired ones count until a merge drops them.
        let live_n = self.model.values().filter(|e| e.live(now)).count() as u64;
        let live_exp = self.model.values().filter(|e| e.live(now) && e.exp != 0).count() as u64;
        let total = self.model.len() as u64;
        let total_exp = self.model.values().filter(|e| e.exp != 0).count() as u64;
        let (n, expiring) = s.key_count(b"").unwrap();
        assert!((live_n..=total).contains(&n), "key_count {n} outside {live_n}..={total}");
        assert!((live_exp..=total_exp).contains(&expiring), "expiring {expiring} outside {live_exp}..={total_exp}");

        let metas: Vec<(Vec<u8>, KeyMeta)> = s.iter().keys().map(|r| r.unwrap()).collect();
        let want_metas: Vec<(Vec<u8>, KeyMeta)> =
            self.model.iter().filter(|(_, e)| e.live(now)).map(|(k, e)| (k.clone(), expected_meta(e))).collect();
        assert_eq!(metas, want_metas, "iter().keys()");

        let in_r: Vec<(Vec<u8>, Vec<u8>)> =
            want.iter().filter(|(k, _)| in_range(range, &self.keys, k)).cloned().collect();
        let kr = key_range(range, &self.keys);
        let fwd: Vec<_> =
            s.range((kr.start.clone(), kr.end.clone())).map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap()).collect();
        assert_eq!(fwd, in_r, "range({range:?})");
        let rev: Vec<_> =
            s.range_rev((kr.start.clone(), kr.end.clone())).map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap()).collect();
        let mut want_rev = in_r.clone();
        want_rev.reverse();
        assert_eq!(rev, want_rev, "range_rev({range:?})");
        let mut it = s.iter_range(kr, Direction::Reverse);
        let mut rev_keys = Vec::new();
        while let Some((k, m)) = it.next_key().unwrap() {
            assert_eq!(Some(m), live(&self.model, &k, now).map(expected_meta), "next_key meta of {k:?}");
            rev_keys.push(k);
        }
        assert_eq!(rev_keys, want_rev.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), "reverse next_key");

        let p = PREFIXES[prefix];
        let pre: Vec<_> = s.prefix(p).map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap()).collect();
        let want_pre: Vec<_> = want.iter().filter(|(k, _)| k.starts_with(p)).cloned().collect();
        assert_eq!(pre, want_pre, "prefix({p:?})");

        let mut cursor: Vec<u8> = Vec::new();
        let mut scanned: Vec<Vec<u8>> = Vec::new();
        for pages in 0.. {
            assert!(pages <= want.len() + 1, "scan(count {scan_count}) does not terminate: {scanned:?}");
            let page = s.scan(&cursor, scan_count).unwrap();
            assert!(page.keys.len() <= scan_count + 1, "scan page larger than asked");
            scanned.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = c,
                None => break,
            }
        }
        assert_eq!(scanned, want.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), "scan(count {scan_count})");

        assert_eq!(s.verify().unwrap(), want.len() as u64, "verify()");
    }

    fn reopen(&mut self, background: bool) {
        drop(self.store.take());
        self.opts.background = background;
        let s = Store::open(self.dir.path(), self.opts.clone()).unwrap();
        assert_eq!(s.recovery_report().replayed_records, 0, "a clean drop left a log tail to replay");
        self.store = Some(s);
    }

    /// Runs one op against store and model; returns the keys it touched.
    fn apply(&mut self, op: &Op) -> Vec<usize> {
        let now = self.now();
        match op {
            Op::Put(k, v) => {
                let (key, value) = (self.keys[*k].clone(), v.bytes(*k));
                match self.s().put(&key, &value) {
                    Ok(ver) => {
                        assert!(value.len() as u64 <= MAX_INLINE);
                        self.new_version(ver, "put");
                        self.model.insert(key, MEntry { value, version: ver, exp: 0, blob: false });
                    }
                    Err(Error::ValueTooLarge { .. }) => assert!(value.len() as u64 > MAX_INLINE),
                    Err(e) => panic!("put: {e}"),
                }
                vec![*k]
            }
            Op::Fill(start, n, v) => {
                let len = self.keys.len();
                let ks: Vec<usize> = (0..*n).map(|i| (start + i) % len).collect();
                for (i, &k) in ks.iter().enumerate() {
                    let val =
                        Val { len: (v.len + i * 97) % (MAX_INLINE as usize + 1), seed: v.seed.wrapping_add(i as u8) };
                    let (key, value) = (self.keys[k].clone(), val.bytes(k));
                    let ver = self.s().put(&key, &value).unwrap();
                    self.new_version(ver, "put");
                    self.model.insert(key, MEntry { value, version: ver, exp: 0, blob: false });
                }
                ks
            }
            Op::PutWith(k, v, cond, exp) => {
                let (key, value) = (self.keys[*k].clone(), v.bytes(*k));
                let cur = live(&self.model, &key, now).cloned();
                let cur_version = cur.as_ref().map_or(0, |e| e.version);
                let condition = match cond {
                    CondSpec::Always => Condition::Always,
                    CondSpec::IfAbsent => Condition::IfAbsent,
                    CondSpec::IfPresent => Condition::IfPresent,
                    CondSpec::IfVersionCurrent => Condition::IfVersion(cur_version),
                    CondSpec::IfVersionStale => Condition::IfVersion(cur_version.saturating_sub(1).max(1)),
                    CondSpec::IfVersionZero => Condition::IfVersion(0),
                };
                let expiry = match exp {
                    ExpSpec::Never => Expiry::Never,
                    ExpSpec::At(r) => Expiry::At(abs(now, *r)),
                    ExpSpec::Keep => Expiry::Keep,
                };
                let applies = match condition {
                    Condition::Always => true,
                    Condition::IfAbsent => cur.is_none(),
                    Condition::IfPresent => cur.is_some(),
                    Condition::IfVersion(want) => want == cur_version,
                };
                let r = self.s().put_with(&key, &value, PutOptions { condition, expiry, durability: None });
                match r {
                    Err(Error::ValueTooLarge { .. }) => assert!(value.len() as u64 > MAX_INLINE),
                    Err(e) => panic!("put_with: {e}"),
                    Ok(got) => {
                        assert!(value.len() as u64 <= MAX_INLINE, "put_with accepted an oversized value");
                        assert_eq!(got.is_some(), applies, "put_with {condition:?} on {cur:?}");
                        if let Some(ver) = got {
                            self.new_version(ver, "put_with");
                            let exp = match expiry {
                                Expiry::Never => 0,
                                Expiry::At(t) => t,
                                Expiry::Keep => cur.map_or(0, |e| e.exp),
                            };
                            self.model.insert(key, MEntry { value, version: ver, exp, blob: false });
                        }
                    }
                }
                vec![*k]
            }
            Op::Delete(k) => {
                let key = self.keys[*k].clone();
                let was = live(&self.model, &key, now).is_some();
                assert_eq!(self.s().delete(&key).unwrap(), was, "delete({key:?})");
                self.model.remove(&key);
                vec![*k]
            }
            Op::Expire(k, rel) => {
                let key = self.keys[*k].clone();
                let was = live(&self.model, &key, now).is_some();
                let at = rel.map(|r| abs(now, r));
                assert_eq!(self.s().expire(&key, at).unwrap(), was, "expire({key:?})");
                if was {
                    let e = self.model.get_mut(&key).unwrap();
                    e.exp = at.unwrap_or(0);
                    if e.live(now) {
                        // The expiry change is a write of its own: learn its version.
                        let m = self.s().meta(&key).unwrap().expect("still live");
                        let e = self.model.get_mut(&key).unwrap();
                        e.version = m.version;
                        self.new_version(m.version, "expire");
                    }
                }
                vec![*k]
            }
            Op::BlobPut(k, v, rel) => {
                let (key, value) = (self.keys[*k].clone(), v.bytes(*k));
                let exp = rel.map(|r| abs(now, r));
                let mut w = self.s().blob_writer(&key).unwrap();
                let cut = value.len() / 3;
                w.write_all(&value[..cut]).unwrap();
                w.write_all(&value[cut..]).unwrap();
                w.set_expiry(exp);
                let ver = w.commit().unwrap();
                self.new_version(ver, "blob commit");
                self.model.insert(key, MEntry { value, version: ver, exp: exp.unwrap_or(0), blob: true });
                vec![*k]
            }
            Op::Batch(ops) => {
                let mut b = WriteBatch::new();
                let mut touched = Vec::new();
                let mut too_large = false;
                for o in ops {
                    match o {
                        BOp::Put(k, v, e) => {
                            let value = v.bytes(*k);
                            too_large |= value.len() as u64 > MAX_INLINE;
                            match e {
                                Some(r) => b.put_with_expiry(self.keys[*k].clone(), value, abs(now, *r)),
                                None => b.put(self.keys[*k].clone(), value),
                            };
                            touched.push(*k);
                        }
                        BOp::Delete(k) => {
                            b.delete(self.keys[*k].clone());
                            touched.push(*k);
                        }
                    }
                }
                match self.s().write(&b) {
                    Ok(ver) => {
                        assert!(!too_large, "batch with an oversized value accepted");
                        self.new_version(ver, "write");
                        for o in ops {
                            match o {
                                BOp::Put(k, v, e) => {
                                    let exp = e.map_or(0, |r| abs(now, r));
                                    self.model.insert(
                                        self.keys[*k].clone(),
                                        MEntry { value: v.bytes(*k), version: ver, exp, blob: false },
                                    );
                                }
                                BOp::Delete(k) => {
                                    self.model.remove(&self.keys[*k]);
                                }
                            }
                        }
                    }
                    Err(Error::ValueTooLarge { .. }) => assert!(too_large),
                    Err(e) => panic!("write: {e}"),
                }
                touched
            }
            Op::Txn(ops, abort) => self.txn(ops, *abort),
            Op::Advance(ms) => {
                self.clock.advance(*ms);
                // Keys that just expired.
                let now = self.now();
                (0..self.keys.len())
                    .filter(|&i| self.model.get(&self.keys[i]).is_some_and(|e| e.exp != 0 && e.exp <= now))
                    .collect()
            }
            Op::Checkpoint => {
                self.s().checkpoint().unwrap();
                // Overwritten and deleted blobs are deleted by the checkpoint; blobs of
                // expired values may linger until a merge drops them.
                let files = common::files_with_prefix(self.dir.path(), "blob-").len();
                let live_blobs = self.model.values().filter(|e| e.blob && e.live(now)).count();
                let all_blobs = self.model.values().filter(|e| e.blob).count();
                assert!(
                    (live_blobs..=all_blobs).contains(&files),
                    "{files} blob files for {live_blobs} live blob values ({all_blobs} with expired ones)"
                );
                if !self.opts.background {
                    // (The background thread's compaction may write relocations right after.)
                    assert_eq!(self.s().stats().memtable_entries, 0, "memtable not empty after a checkpoint");
                }
                vec![]
            }
            Op::Compact(full) => {
                self.s().compact(*full).unwrap();
                // (With the background thread a checkpoint may add a run right after.)
                if *full && !self.opts.background {
                    assert!(self.s().stats().runs <= 1, "full compaction left several runs");
                }
                vec![]
            }
            Op::Reopen(bg) => {
                self.reopen(*bg);
                vec![]
            }
            Op::FullCheck(c, r, p) => {
                self.full_check(*c, *r, *p);
                vec![]
            }
        }
    }

    fn txn(&mut self, ops: &[TOp], abort: bool) -> Vec<usize> {
        let now = self.now();
        let keys = self.keys.clone();
        let mut local = self.model.clone();
        let mut pending: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut touched = Vec::new();
        let mut version = 0;
        let mut expected_err = false;
        let last_version = self.last_version;
        let r = self.store.as_ref().unwrap().update(|txn| {
            version = txn.version();
            assert!(version > last_version, "txn.version() {version} not above {last_version}");
            for o in ops {
                match o {
                    TOp::Get(k) => {
                        let got = txn.get(&keys[*k])?;
                        let want = live(&local, &keys[*k], now).map(|e| e.value.as_slice());
                        assert_eq!(got.as_deref(), want, "txn.get({:?})", keys[*k]);
                        assert_eq!(txn.exists(&keys[*k])?, want.is_some(), "txn.exists");
                    }
                    TOp::Meta(k) => {
                        let want = live(&local, &keys[*k], now).map(expected_meta);
                        assert_eq!(txn.meta(&keys[*k])?, want, "txn.meta({:?})", keys[*k]);
                    }
                    TOp::Put(k, v, e) => {
                        touched.push(*k);
                        let value = v.bytes(*k);
                        let exp = e.map(|r| abs(now, r));
                        match txn.put_with_expiry(&keys[*k], &value, exp) {
                            Ok(()) => {
                                assert!(value.len() as u64 <= MAX_INLINE);
                                pending.insert(keys[*k].clone());
                                local.insert(
                                    keys[*k].clone(),
                                    MEntry { value, version, exp: exp.unwrap_or(0), blob: false },
                                );
                            }
                            Err(err @ Error::ValueTooLarge { .. }) => {
                                assert!(value.len() as u64 > MAX_INLINE);
                                expected_err = true;
                                return Err(err);
                            }
                            Err(err) => panic!("txn put: {err}"),
                        }
                    }
                    TOp::Delete(k) => {
                        touched.push(*k);
                        let was = live(&local, &keys[*k], now).is_some();
                        assert_eq!(txn.delete(&keys[*k])?, was, "txn.delete({:?})", keys[*k]);
                        if was {
                            pending.insert(keys[*k].clone());
                        }
                        local.remove(&keys[*k]);
                    }
                    TOp::Expire(k, rel) => {
                        touched.push(*k);
                        let was = live(&local, &keys[*k], now).is_some();
                        let at = rel.map(|r| abs(now, r));
                        assert_eq!(txn.expire(&keys[*k], at)?, was, "txn.expire({:?})", keys[*k]);
                        if was {
                            pending.insert(keys[*k].clone());
                            let e = local.get_mut(&keys[*k]).unwrap();
                            e.exp = at.unwrap_or(0);
                            e.version = version;
                        }
                    }
                    TOp::Iter(spec, rev) => {
                        let dir = if *rev { Direction::Reverse } else { Direction::Forward };
                        let got: Vec<(Vec<u8>, Vec<u8>)> = txn
                            .iter_range(key_range(*spec, &keys), dir)
                            .map(|r| r.map(|(k, v)| (k, v.to_vec())))
                            .collect::<Result<_, _>>()?;
                        let mut want: Vec<_> =
                            live_items(&local, now).into_iter().filter(|(k, _)| in_range(*spec, &keys, k)).collect();
                        if *rev {
                            want.reverse();
                        }
                        assert_eq!(got, want, "txn.iter_range({spec:?}, {dir:?})");
                    }
                }
            }
            if abort {
                expected_err = true;
                return Err(Error::InvalidArgument("abort".into()));
            }
            Ok(())
        });
        match r {
            Ok(()) => {
                assert!(!expected_err);
                if !pending.is_empty() {
                    self.new_version(version, "update");
                }
                self.model = local;
            }
            Err(e) => assert!(expected_err, "update failed: {e}"),
        }
        touched
    }
}

fn run_case(cfg: Config, ops: Vec<Op>) {
    let mut h = Harness::new(&cfg);
    let n = h.keys.len();
    for (step, op) in ops.iter().enumerate() {
        let touched = h.apply(op);
        for k in touched.into_iter().chain([(step * 7) % n, (step * 13 + 5) % n]) {
            let key = h.keys[k].clone();
            h.check_key(&key);
        }
    }
    h.full_check(3, RangeSpec { lo: None, hi: None }, 0);
    h.reopen(cfg.background);
    h.full_check(1, RangeSpec { lo: Some((3, true)), hi: Some((20, false)) }, 4);
    for k in h.keys.clone() {
        h.check_key(&k);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer soak runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_matches_model(cfg in config(), ops in prop::collection::vec(op(keys().len()), 10..200)) {
        run_case(cfg, ops);
    }
}
