//! Edge cases of the public API: empty keys and values, size limits (`KeyTooLarge`,
//! `ValueTooLarge`, `BatchTooLarge` with nothing of the batch visible), `Locked` on a second
//! open, missing directories and invalid options, expiry semantics, range bounds, prefixes
//! of 0xff bytes, transactions seeing their own writes, streamed blobs (round trip, the old
//! blob file deleted after an overwrite and a checkpoint, no file left by a dropped writer),
//! stats, what a reopen replays (nothing after `close`, exactly the tail after a crash), and
//! `prefetch` on every kind of key.

mod common;

use std::io::{Read, Write};
use std::ops::Bound;
use std::path::Path;

use common::{files_with_prefix, open, small_opts, TestClock};
use pmemkv::{Condition, Direction, Error, Expiry, KeyRange, Options, PutOptions, Store, WriteBatch, MAX_KEY_LEN};

fn keys_of(it: pmemkv::Iter) -> Vec<Vec<u8>> {
    it.map(|r| r.unwrap().0).collect()
}

fn clocked(clock: &TestClock, segment_size: u64) -> Options {
    Options { clock: clock.clock(), ..small_opts(segment_size, 1000, false) }
}

#[test]
fn empty_key_and_empty_value() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    assert!(s.get(b"").unwrap().is_none());
    let v = s.put(b"", b"").unwrap();
    assert_eq!(s.get(b"").unwrap().as_deref(), Some(&b""[..]));
    assert!(s.exists(b"").unwrap());
    assert_eq!(s.meta(b"").unwrap().map(|m| (m.version, m.len)), Some((v, 0)));
    s.put(b"k", b"").unwrap();
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(keys_of(s.iter()), vec![b"".to_vec(), b"k".to_vec()]);
    // A scan whose first page ends at the empty key must go on (an empty cursor means start).
    let p = s.scan(b"", 1).unwrap();
    let mut all = p.keys.clone();
    if let Some(c) = p.cursor {
        all.extend(s.scan(&c, 10).unwrap().keys);
    }
    assert_eq!(all, vec![b"".to_vec(), b"k".to_vec()]);
    s.checkpoint().unwrap();
    assert_eq!(s.get(b"").unwrap().as_deref(), Some(&b""[..]));
    assert!(s.delete(b"").unwrap());
    assert!(!s.exists(b"").unwrap());
    assert!(!s.delete(b"").unwrap());
    s.put(b"", b"back").unwrap();
    drop(s);
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    assert_eq!(s.get(b"").unwrap().as_deref(), Some(&b"back"[..]));
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b""[..]));
}

#[test]
fn key_and_value_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(1 << 20, 1000, false);
    let s = open(dir.path(), &opts);
    let max_key = vec![b'k'; MAX_KEY_LEN];
    let long_key = vec![b'k'; MAX_KEY_LEN + 1];
    s.put(&max_key, b"max").unwrap();
    assert_eq!(s.get(&max_key).unwrap().as_deref(), Some(&b"max"[..]));
    let too_large = |r: pmemkv::Result<_>| matches!(r, Err(Error::KeyTooLarge { len, max }) if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN);
    assert!(too_large(s.put(&long_key, b"x").map(|_| ())));
    assert!(too_large(s.put_with(&long_key, b"x", PutOptions::default()).map(|_| ())));
    assert!(too_large(s.delete(&long_key).map(|_| ())));
    assert!(too_large(s.expire(&long_key, None).map(|_| ())));
    assert!(too_large(
        s.write(WriteBatch::new().put(b"ok".to_vec(), b"v".to_vec()).put(long_key.clone(), b"x".to_vec())).map(|_| ())
    ));
    assert!(too_large(s.update(|t| t.put(&long_key, b"x")).map(|_| ())));
    assert!(too_large(s.blob_writer(&long_key).map(|_| ())));
    assert!(!s.exists(b"ok").unwrap(), "a rejected batch applied a put");
    assert!(s.get(&long_key).unwrap().is_none());

    let max_val = vec![7u8; opts.max_inline_value as usize];
    s.put(b"big", &max_val).unwrap();
    assert_eq!(s.get(b"big").unwrap().unwrap().len(), max_val.len());
    let over = vec![7u8; opts.max_inline_value as usize + 1];
    let vtl = |r: pmemkv::Result<_>| matches!(r, Err(Error::ValueTooLarge { len, max }) if len == opts.max_inline_value + 1 && max == opts.max_inline_value);
    assert!(vtl(s.put(b"over", &over).map(|_| ())));
    assert!(vtl(s.put_with(b"big", &over, PutOptions::default()).map(|_| ())));
    assert!(vtl(s.write(WriteBatch::new().put(b"over".to_vec(), over.clone())).map(|_| ())));
    assert!(vtl(s.update(|t| t.put(b"over", &over)).map(|_| ())));
    assert!(!s.exists(b"over").unwrap());
    assert_eq!(s.get(b"big").unwrap().unwrap().len(), max_val.len(), "a rejected put changed the value");
    drop(s);
    let s = open(dir.path(), &opts);
    assert_eq!(s.get(&max_key).unwrap().as_deref(), Some(&b"max"[..]));
    s.verify().unwrap();
}

#[test]
fn batch_larger_than_a_segment_is_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(256 << 10, 1000, false);
    let s = open(dir.path(), &opts);
    s.put(b"before", b"1").unwrap();
    let next_seq = s.stats().next_seq;
    let mut b = WriteBatch::new();
    for i in 0..5 {
        b.put(format!("part{i}").into_bytes(), vec![i as u8; opts.max_inline_value as usize]);
    }
    b.delete(b"before".to_vec());
    match s.write(&b) {
        Err(Error::BatchTooLarge { len, max }) => assert!(len > max && max < opts.segment_size, "{len} {max}"),
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    for i in 0..5 {
        assert!(!s.exists(format!("part{i}").as_bytes()).unwrap(), "part of a rejected batch is visible");
    }
    assert!(s.exists(b"before").unwrap(), "the rejected batch's delete applied");
    assert_eq!(s.stats().next_seq, next_seq);
    assert!(s
        .update(|t| {
            for i in 0..5 {
                t.put(format!("txn{i}").as_bytes(), &vec![1u8; opts.max_inline_value as usize])?;
            }
            Ok(())
        })
        .is_err_and(|e| matches!(e, Error::BatchTooLarge { .. })));
    assert!(!s.exists(b"txn0").unwrap());
    // A batch that fits is fine (even if it has to start a new segment).
    let mut b = WriteBatch::new();
    for i in 0..3 {
        b.put(format!("part{i}").into_bytes(), vec![i as u8; opts.max_inline_value as usize]);
    }
    s.write(&b).unwrap();
    drop(s);
    let s = open(dir.path(), &opts);
    assert!(s.exists(b"part2").unwrap() && !s.exists(b"part3").unwrap() && s.exists(b"before").unwrap());
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(1 << 20, 1000, true);
    let s = open(dir.path(), &opts);
    s.put(b"a", b"1").unwrap();
    match Store::open(dir.path(), opts.clone()) {
        Err(Error::Locked { .. }) => {}
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    // The first handle is unaffected; after it is closed the directory opens again.
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    s.close().unwrap();
    let s = open(dir.path(), &opts);
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn missing_directory_and_invalid_options() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    let no_create = Options { create_if_missing: false, ..small_opts(1 << 20, 1000, false) };
    assert!(Store::open(&missing, no_create.clone()).is_err());
    assert!(!missing.exists(), "open with create_if_missing: false created the directory");
    // An existing directory without a store is "missing" too.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(Store::open(&empty, no_create.clone()).is_err(), "create_if_missing: false created a store");
    assert!(files_with_prefix(&empty, "seg-").is_empty());
    // With create_if_missing the default, both work, and then a no-create open works too.
    open(&missing, &small_opts(1 << 20, 1000, false)).close().unwrap();
    open(&missing, &no_create).close().unwrap();

    let base = small_opts(1 << 20, 1000, false);
    let bad: Vec<(&str, Options)> = vec![
        ("tiny segment", Options { segment_size: 1000, max_inline_value: 100, ..base.clone() }),
        (
            "segment just under the minimum",
            Options { segment_size: (64 << 10) - 1, max_inline_value: 100, ..base.clone() },
        ),
        ("4 GiB segment", Options { segment_size: 4 << 30, ..base.clone() }),
        ("inline limit above a quarter segment", Options { max_inline_value: (1 << 18) + 1, ..base.clone() }),
        ("zero gc ratio", Options { gc_dead_ratio: 0.0, ..base.clone() }),
        ("gc ratio above 1", Options { gc_dead_ratio: 1.5, ..base.clone() }),
        ("NaN gc ratio", Options { gc_dead_ratio: f64::NAN, ..base.clone() }),
        ("zero memtable", Options { memtable_max_entries: 0, ..base.clone() }),
    ];
    for (what, o) in bad {
        let dir = root.path().join(what.replace(' ', "_"));
        match Store::open(&dir, o) {
            Err(Error::InvalidArgument(_)) => {}
            other => panic!("{what}: expected InvalidArgument, got {:?}", other.map(|_| ())),
        }
        assert!(!dir.exists(), "{what}: an invalid open created the directory");
    }
    // The smallest valid segment works.
    let dir = root.path().join("min");
    let s = open(&dir, &Options { segment_size: 64 << 10, max_inline_value: 16 << 10, ..base });
    s.put(b"k", &[1; 16 << 10]).unwrap();
}

#[test]
fn expiry_semantics() {
    let clock = TestClock::new(10_000);
    let dir = tempfile::tempdir().unwrap();
    let opts = clocked(&clock, 1 << 20);
    let s = open(dir.path(), &opts);
    let now = clock.now();
    let with = |condition, expiry| PutOptions { condition, expiry, durability: None };

    // Expiry::At, then Keep keeps it; Keep on an absent key means no expiry.
    s.put_with(b"a", b"1", with(Condition::Always, Expiry::At(now + 100))).unwrap().unwrap();
    assert_eq!(s.meta(b"a").unwrap().unwrap().expire_at_ms, Some(now + 100));
    s.put_with(b"a", b"2", with(Condition::Always, Expiry::Keep)).unwrap().unwrap();
    assert_eq!(s.meta(b"a").unwrap().unwrap().expire_at_ms, Some(now + 100));
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"2"[..]));
    s.put_with(b"fresh", b"1", with(Condition::Always, Expiry::Keep)).unwrap().unwrap();
    assert_eq!(s.meta(b"fresh").unwrap().unwrap().expire_at_ms, None);
    // Never clears it.
    s.put_with(b"fresh", b"2", with(Condition::Always, Expiry::Never)).unwrap().unwrap();
    assert_eq!(s.meta(b"fresh").unwrap().unwrap().expire_at_ms, None);

    // expire on a missing key, persist.
    assert!(!s.expire(b"missing", Some(now + 5)).unwrap());
    assert!(!s.exists(b"missing").unwrap());
    s.put(b"p", b"v").unwrap();
    assert!(s.expire(b"p", Some(now + 50)).unwrap());
    assert_eq!(s.meta(b"p").unwrap().unwrap().expire_at_ms, Some(now + 50));
    assert!(s.expire(b"p", None).unwrap());
    assert_eq!(s.meta(b"p").unwrap().unwrap().expire_at_ms, None);

    // Expire in the past: gone at once, everywhere.
    s.put(b"gone", b"v").unwrap();
    assert!(s.expire(b"gone", Some(now - 1)).unwrap());
    assert!(s.get(b"gone").unwrap().is_none());
    assert!(!s.exists(b"gone").unwrap());
    assert!(s.meta(b"gone").unwrap().is_none());
    assert!(!keys_of(s.iter()).contains(&b"gone".to_vec()));
    assert!(!s.expire(b"gone", None).unwrap(), "persist revived an expired key");
    assert!(!s.delete(b"gone").unwrap(), "delete of an expired key reported it live");
    // A put with an expiry in the past is invisible at once too.
    s.put_with(b"past", b"v", with(Condition::Always, Expiry::At(now))).unwrap().unwrap();
    assert!(!s.exists(b"past").unwrap());

    // Time passes: "a" expires at now+100.
    clock.advance(99);
    assert!(s.exists(b"a").unwrap());
    clock.advance(1);
    assert!(!s.exists(b"a").unwrap());
    assert!(!s.delete(b"a").unwrap(), "delete of an expired key returned true");
    assert!(s.get(b"a").unwrap().is_none());
    // An expired key is absent for conditions.
    assert!(s.put_with(b"a", b"3", with(Condition::IfPresent, Expiry::Never)).unwrap().is_none());
    assert!(s.put_with(b"a", b"3", with(Condition::IfVersion(0), Expiry::Keep)).unwrap().is_some());
    assert_eq!(s.meta(b"a").unwrap().unwrap().expire_at_ms, None, "Keep kept the expiry of an expired value");
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"3"[..]));
    assert!(s.exists(b"p").unwrap(), "a persisted key expired");

    // Survives checkpoint, compaction and reopen.
    s.put_with(b"later", b"v", with(Condition::Always, Expiry::At(clock.now() + 1000))).unwrap().unwrap();
    s.compact(true).unwrap();
    drop(s);
    let s = open(dir.path(), &opts);
    assert_eq!(s.meta(b"later").unwrap().unwrap().expire_at_ms, Some(clock.now() + 1000));
    assert!(!s.exists(b"gone").unwrap() && !s.exists(b"past").unwrap());
    clock.advance(1000);
    assert!(!s.exists(b"later").unwrap());
    s.compact(true).unwrap();
    assert_eq!(keys_of(s.iter()), vec![b"a".to_vec(), b"fresh".to_vec(), b"p".to_vec()]);
}

#[test]
fn conditional_puts_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    let cond = |condition| PutOptions { condition, ..PutOptions::default() };
    assert!(s.put_with(b"k", b"x", cond(Condition::IfPresent)).unwrap().is_none());
    assert!(s.put_with(b"k", b"x", cond(Condition::IfVersion(1))).unwrap().is_none());
    let v1 = s.put_with(b"k", b"1", cond(Condition::IfAbsent)).unwrap().unwrap();
    assert!(s.put_with(b"k", b"x", cond(Condition::IfAbsent)).unwrap().is_none());
    assert!(s.put_with(b"k", b"x", cond(Condition::IfVersion(0))).unwrap().is_none());
    assert!(s.put_with(b"k", b"x", cond(Condition::IfVersion(v1 + 1))).unwrap().is_none());
    let v2 = s.put_with(b"k", b"2", cond(Condition::IfVersion(v1))).unwrap().unwrap();
    assert!(v2 > v1);
    assert!(s.put_with(b"k", b"x", cond(Condition::IfVersion(v1))).unwrap().is_none(), "stale CAS applied");
    let v3 = s.put_with(b"k", b"3", cond(Condition::IfPresent)).unwrap().unwrap();
    assert!(v3 > v2);
    assert_eq!(s.meta(b"k").unwrap().unwrap().version, v3);
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"3"[..]));
    // A batch gives all its writes one version.
    let vb = s.write(WriteBatch::new().put(b"b1".to_vec(), b"1".to_vec()).put(b"b2".to_vec(), b"2".to_vec())).unwrap();
    assert!(vb > v3);
    assert_eq!(s.meta(b"b1").unwrap().unwrap().version, vb);
    assert_eq!(s.meta(b"b2").unwrap().unwrap().version, vb);
    s.checkpoint().unwrap();
    let v4 = s.put(b"k", b"4").unwrap();
    assert!(v4 > vb);
    assert!(s.put_with(b"k", b"x", cond(Condition::IfVersion(v3))).unwrap().is_none());
    assert!(s.put_with(b"k", b"5", cond(Condition::IfVersion(v4))).unwrap().is_some());
}

#[test]
fn range_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    for k in [b"a", b"b", b"c", b"d", b"e"] {
        s.put(k, k).unwrap();
    }
    s.checkpoint().unwrap();
    s.put(b"c", b"C").unwrap(); // newest in the memtable, older in a run
    s.delete(b"e").unwrap();
    let ks = |v: &[&[u8]]| v.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    let (b, d): (&[u8], &[u8]) = (b"b", b"d");
    assert_eq!(keys_of(s.range(b..d)), ks(&[b"b", b"c"]));
    assert_eq!(keys_of(s.range(b..=d)), ks(&[b"b", b"c", b"d"]));
    assert_eq!(keys_of(s.range(b..)), ks(&[b"b", b"c", b"d"]));
    assert_eq!(keys_of(s.range(..d)), ks(&[b"a", b"b", b"c"]));
    assert_eq!(keys_of(s.range(..=d)), ks(&[b"a", b"b", b"c", b"d"]));
    assert_eq!(keys_of(s.range::<&[u8]>(..)), ks(&[b"a", b"b", b"c", b"d"]));
    assert_eq!(keys_of(s.range::<&[u8]>((Bound::Excluded(b), Bound::Included(d)))), ks(&[b"c", b"d"]));
    assert_eq!(keys_of(s.range::<&[u8]>((Bound::Excluded(b), Bound::Excluded(d)))), ks(&[b"c"]));
    assert_eq!(keys_of(s.range_rev(b..d)), ks(&[b"c", b"b"]));
    assert_eq!(keys_of(s.range_rev(b..=d)), ks(&[b"d", b"c", b"b"]));
    assert_eq!(keys_of(s.range_rev(..d)), ks(&[b"c", b"b", b"a"]));
    assert_eq!(keys_of(s.range_rev(b..)), ks(&[b"d", b"c", b"b"]));
    assert_eq!(keys_of(s.range_rev::<&[u8]>((Bound::Excluded(b), Bound::Unbounded))), ks(&[b"d", b"c"]));
    // Bounds between and beyond keys.
    let (bb, zz, empty): (&[u8], &[u8], &[u8]) = (b"bb", b"zz", b"");
    assert_eq!(keys_of(s.range(bb..zz)), ks(&[b"c", b"d"]));
    assert_eq!(keys_of(s.range_rev(empty..bb)), ks(&[b"b", b"a"]));
    // Reversed and empty ranges yield nothing (and do not panic).
    assert!(keys_of(s.range(d..b)).is_empty());
    assert!(keys_of(s.range_rev(d..b)).is_empty());
    assert!(keys_of(s.range(b..b)).is_empty());
    assert!(keys_of(s.range::<&[u8]>((Bound::Excluded(b), Bound::Excluded(b)))).is_empty());
    assert_eq!(keys_of(s.range(b..=b)), ks(&[b"b"]));
    assert_eq!(
        s.range(b"c".as_slice()..=b"c".as_slice()).next().unwrap().unwrap().1.to_vec(),
        b"C".to_vec(),
        "range read an old version"
    );
    let rev = KeyRange { start: Bound::Included(b"d".to_vec()), end: Bound::Included(b"b".to_vec()) };
    assert!(keys_of(s.iter_range(rev.clone(), Direction::Forward)).is_empty());
    assert!(keys_of(s.iter_range(rev, Direction::Reverse)).is_empty());
}

#[test]
fn prefix_with_ff_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    let keys: Vec<&[u8]> = vec![
        b"\xfe",
        b"\xfe\xff",
        b"\xff",
        b"\xff\x00",
        b"\xff\xfe",
        b"\xff\xff",
        b"\xff\xff\x00",
        b"\xff\xff\xff",
        b"a",
        b"a\xff",
        b"a\xff\xff",
        b"b",
    ];
    for (i, k) in keys.iter().enumerate() {
        s.put(k, &[i as u8]).unwrap();
        if i == 5 {
            s.checkpoint().unwrap();
        }
    }
    let ks = |v: &[&[u8]]| v.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    let mut all: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    all.sort();
    assert_eq!(keys_of(s.prefix(b"")), all);
    assert_eq!(
        keys_of(s.prefix(b"\xff")),
        ks(&[b"\xff", b"\xff\x00", b"\xff\xfe", b"\xff\xff", b"\xff\xff\x00", b"\xff\xff\xff"])
    );
    assert_eq!(keys_of(s.prefix(b"\xff\xff")), ks(&[b"\xff\xff", b"\xff\xff\x00", b"\xff\xff\xff"]));
    assert_eq!(keys_of(s.prefix(b"\xff\xff\xff")), ks(&[b"\xff\xff\xff"]));
    assert!(keys_of(s.prefix(b"\xff\xff\xff\xff")).is_empty());
    assert_eq!(keys_of(s.prefix(b"\xfe")), ks(&[b"\xfe", b"\xfe\xff"]));
    assert_eq!(keys_of(s.prefix(b"a\xff")), ks(&[b"a\xff", b"a\xff\xff"]));
    let rev = keys_of(s.iter_range(KeyRange::prefix(b"\xff"), Direction::Reverse));
    assert_eq!(rev, ks(&[b"\xff\xff\xff", b"\xff\xff\x00", b"\xff\xff", b"\xff\xfe", b"\xff\x00", b"\xff"]));
}

#[test]
fn transactions_see_their_own_writes() {
    let clock = TestClock::new(50_000);
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &clocked(&clock, 1 << 20));
    for k in [b"a", b"c", b"e", b"g"] {
        s.put(k, b"old").unwrap();
    }
    s.checkpoint().unwrap();
    s.put(b"x", b"old").unwrap();
    let now = clock.now();
    let base = s.stats().next_seq;
    let version = s
        .update(|t| {
            let v = t.version();
            assert!(t.get(b"b")?.is_none());
            t.put(b"b", b"new")?;
            assert_eq!(t.get(b"b")?.as_deref(), Some(&b"new"[..]));
            assert_eq!(t.meta(b"b")?.map(|m| (m.version, m.len)), Some((v, 3)));
            t.put(b"c", b"new")?;
            assert!(t.delete(b"e")?);
            assert!(!t.delete(b"e")?);
            assert!(t.get(b"e")?.is_none());
            assert!(t.expire(b"g", Some(now - 1))?, "expire of a live key");
            assert!(!t.exists(b"g")?);
            assert!(t.expire(b"x", Some(now + 10))?);
            assert_eq!(t.meta(b"x")?.unwrap().expire_at_ms, Some(now + 10));
            t.put_with_expiry(b"h", b"dead", Some(now))?;
            assert!(t.get(b"h")?.is_none());
            let fwd: Vec<(Vec<u8>, Vec<u8>)> = t
                .iter_range(KeyRange::all(), Direction::Forward)
                .map(|r| r.map(|(k, v)| (k, v.to_vec())))
                .collect::<Result<_, _>>()?;
            let want: Vec<(Vec<u8>, Vec<u8>)> = vec![
                (b"a".to_vec(), b"old".to_vec()),
                (b"b".to_vec(), b"new".to_vec()),
                (b"c".to_vec(), b"new".to_vec()),
                (b"x".to_vec(), b"old".to_vec()),
            ];
            assert_eq!(fwd, want);
            let rev: Vec<Vec<u8>> = t
                .iter_range(
                    KeyRange { start: Bound::Excluded(b"a".to_vec()), end: Bound::Included(b"c".to_vec()) },
                    Direction::Reverse,
                )
                .map(|r| r.map(|(k, _)| k))
                .collect::<Result<_, _>>()?;
            assert_eq!(rev, vec![b"c".to_vec(), b"b".to_vec()]);
            // Reversed or empty ranges are empty, like the store's own iterators.
            let reversed = KeyRange { start: Bound::Included(b"c".to_vec()), end: Bound::Included(b"a".to_vec()) };
            assert_eq!(t.iter_range(reversed, Direction::Forward).count(), 0);
            let empty = KeyRange { start: Bound::Excluded(b"b".to_vec()), end: Bound::Excluded(b"b".to_vec()) };
            assert_eq!(t.iter_range(empty, Direction::Reverse).count(), 0);
            Ok(v)
        })
        .unwrap();
    assert_eq!(version, base);
    assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(s.meta(b"b").unwrap().unwrap().version, version);
    assert_eq!(s.meta(b"c").unwrap().unwrap().version, version);
    assert_eq!(s.meta(b"x").unwrap().unwrap().version, version);
    assert!(!s.exists(b"e").unwrap() && !s.exists(b"g").unwrap() && !s.exists(b"h").unwrap());
    assert_eq!(s.stats().next_seq, base + 1, "a transaction commits as one batch");

    // An Err discards everything.
    let r: pmemkv::Result<()> = s.update(|t| {
        t.put(b"a", b"discarded")?;
        t.delete(b"b")?;
        Err(Error::InvalidArgument("abort".into()))
    });
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"old"[..]));
    assert!(s.exists(b"b").unwrap());
    assert_eq!(s.stats().next_seq, base + 1);
}

#[test]
fn blob_round_trip_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(1 << 20, 1000, false);
    let s = open(dir.path(), &opts);
    let len = 3 * (1 << 20) + 12_345;
    let data: Vec<u8> = (0..len).map(|i| ((i * 131) ^ (i >> 11)) as u8).collect();
    let mut w = s.blob_writer(b"blob").unwrap();
    let pieces = [1usize, 7919, 65_537, 3, 1 << 20, 100_003];
    let (mut at, mut i) = (0, 0);
    while at < len {
        let n = pieces[i % pieces.len()].min(len - at);
        w.write_all(&data[at..at + n]).unwrap();
        at += n;
        i += 1;
    }
    assert_eq!(w.written(), len as u64);
    assert!(!s.exists(b"blob").unwrap(), "an uncommitted blob is visible");
    let v = w.commit().unwrap();
    assert_eq!(s.meta(b"blob").unwrap().map(|m| (m.version, m.len)), Some((v, len as u64)));
    let blob_files = files_with_prefix(dir.path(), "blob-");
    assert_eq!(blob_files.len(), 1);

    let read_all = |s: &Store| {
        let mut r = s.blob_reader(b"blob").unwrap().expect("blob present");
        assert_eq!(r.len(), len as u64);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 54_321];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    };
    assert!(read_all(&s) == data, "streamed blob differs");
    assert!(*s.get(b"blob").unwrap().unwrap() == data[..], "get of a blob differs");
    drop(s);
    let s = open(dir.path(), &opts);
    assert!(read_all(&s) == data, "blob differs after reopen");
    assert_eq!(s.verify().unwrap(), 1);

    // A dropped, uncommitted writer leaves no file (and nothing visible).
    {
        let mut w = s.blob_writer(b"other").unwrap();
        w.write_all(&data[..(1 << 20) + 5]).unwrap();
    }
    assert_eq!(files_with_prefix(dir.path(), "blob-"), blob_files, "a dropped blob writer left a file");
    assert!(!s.exists(b"other").unwrap());

    // Overwriting the blob makes its file dead; a checkpoint deletes it.
    let held = s.get(b"blob").unwrap().unwrap();
    s.put(b"blob", b"small now").unwrap();
    s.checkpoint().unwrap();
    assert!(files_with_prefix(dir.path(), "blob-").is_empty(), "the overwritten blob's file was not deleted");
    assert!(*held == data[..], "a held blob value changed after its file was deleted");
    assert_eq!(s.get(b"blob").unwrap().as_deref(), Some(&b"small now"[..]));
    // blob_reader works for inline values too.
    let mut r = s.blob_reader(b"blob").unwrap().unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"small now");
    assert!(s.blob_reader(b"missing").unwrap().is_none());

    // Deleting a blob value deletes its file too.
    let mut w = s.blob_writer(b"b2").unwrap();
    w.write_all(&data[..1000]).unwrap();
    w.commit().unwrap();
    assert_eq!(files_with_prefix(dir.path(), "blob-").len(), 1);
    assert!(s.delete(b"b2").unwrap());
    s.checkpoint().unwrap();
    assert!(files_with_prefix(dir.path(), "blob-").is_empty());
    drop(s);
    let s = open(dir.path(), &opts);
    assert!(s.recovery_report().removed_blobs.is_empty());
    assert_eq!(s.get(b"blob").unwrap().as_deref(), Some(&b"small now"[..]));
}

#[test]
fn stats_sanity() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(64 << 10, 1_000_000, false);
    let s = open(dir.path(), &opts);
    let st = s.stats();
    assert_eq!((st.memtable_entries, st.runs, st.batches, st.checkpoints), (0, 0, 0, 0));
    assert_eq!(st.segments, 1);
    assert_eq!(st.segment_file_bytes, opts.segment_size);
    let first = st.next_seq;
    for i in 0..200u32 {
        s.put(format!("k{:03}", i % 100).as_bytes(), &[0u8; 900]).unwrap();
    }
    let st = s.stats();
    assert_eq!(st.batches, 200);
    assert_eq!(st.next_seq, first + 200);
    assert_eq!(st.memtable_entries, 100);
    assert!(st.memtable_bytes >= 100 * 4);
    assert!(st.segments >= 3, "200 × 900 bytes should span several 64 KiB segments: {st:?}");
    assert_eq!(st.segment_file_bytes, st.segments as u64 * opts.segment_size);
    assert!(st.log_bytes >= 200 * 900 && st.log_bytes <= st.segment_file_bytes, "{st:?}");
    assert!(st.log_dead_bytes >= 100 * 900 && st.log_dead_bytes < st.log_bytes, "{st:?}");
    s.checkpoint().unwrap();
    let st = s.stats();
    assert_eq!((st.memtable_entries, st.runs, st.run_entries, st.checkpoints), (0, 1, 100, 1));
    assert!(st.run_bytes > 0);
    for i in 0..100u32 {
        s.put(format!("k{i:03}").as_bytes(), b"x").unwrap();
    }
    s.compact(true).unwrap();
    let st = s.stats();
    assert!(st.segments_compacted > 0 && st.merges > 0, "{st:?}");
    assert_eq!((st.runs, st.run_entries), (1, 100));
    assert!(st.log_dead_bytes < 100 * 900, "compaction reclaimed nothing: {st:?}");
    assert_eq!(s.verify().unwrap(), 100);
}

#[test]
fn reopen_after_close_replays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_opts(64 << 10, 1_000_000, true);
    let s = open(dir.path(), &opts);
    for i in 0..300u32 {
        s.put(format!("k{i}").as_bytes(), &[i as u8; 300]).unwrap();
    }
    s.close().unwrap();
    let s = open(dir.path(), &opts);
    assert_eq!(s.recovery_report().replayed_records, 0);
    assert_eq!(s.recovery_report().torn_tail, None);
    assert_eq!(s.iter().count(), 300);
    assert_eq!(&*s.get(b"k299").unwrap().unwrap(), &[299u32 as u8; 300][..]);
}

const CHILD_ENV: &str = "PMEMKV_API_TEST_CHILD_DIR";
const TAIL_RECORDS: u64 = 30;

fn tail_opts() -> Options {
    small_opts(64 << 10, 1_000_000, false)
}

/// Run in a child process: writes, checkpoints, writes a tail and exits without dropping the
/// store (a crash as far as the store can tell).
fn crash_child(dir: &Path) -> ! {
    let s = Store::open(dir, tail_opts()).unwrap();
    for i in 0..200u32 {
        s.put(format!("k{i:03}").as_bytes(), &[1u8; 400]).unwrap();
    }
    s.checkpoint().unwrap();
    for i in 0..TAIL_RECORDS as u32 - 1 {
        s.put(format!("k{:03}", i * 7).as_bytes(), &[2u8; 400]).unwrap();
    }
    s.write(WriteBatch::new().delete(b"k001".to_vec()).put(b"tail".to_vec(), b"t".to_vec())).unwrap();
    s.sync().unwrap();
    std::process::exit(0);
}

#[test]
fn reopen_replays_the_tail_after_a_crash() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        crash_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "reopen_replays_the_tail_after_a_crash", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    let s = open(dir.path(), &tail_opts());
    let r = s.recovery_report();
    assert_eq!(r.replayed_records, TAIL_RECORDS, "replay should cover exactly the records after the checkpoint: {r:?}");
    assert!(r.replayed_bytes >= TAIL_RECORDS * 400 && r.replayed_bytes < TAIL_RECORDS * 600, "{r:?}");
    assert_eq!(r.torn_tail, None);
    for i in 0..200u32 {
        let k = format!("k{i:03}");
        let want: Option<Vec<u8>> = if i == 1 {
            None
        } else if i % 7 == 0 && i / 7 < TAIL_RECORDS as u32 - 1 {
            Some(vec![2u8; 400])
        } else {
            Some(vec![1u8; 400])
        };
        assert_eq!(s.get(k.as_bytes()).unwrap().map(|v| v.to_vec()), want, "{k}");
    }
    assert_eq!(s.get(b"tail").unwrap().as_deref(), Some(&b"t"[..]));
    assert_eq!(s.verify().unwrap(), 200);
    // And a clean reopen after that replays nothing.
    drop(s);
    let s = open(dir.path(), &tail_opts());
    assert_eq!(s.recovery_report().replayed_records, 0);
    assert_eq!(s.verify().unwrap(), 200);
}

const EXPIRY_CHILD_ENV: &str = "PMEMKV_API_TEST_EXPIRY_CHILD_DIR";
const EXPIRY_T0: u64 = 1_000_000;

fn expiry_opts(clock: &TestClock, background: bool) -> Options {
    Options { clock: clock.clock(), ..small_opts(1 << 20, 1_000_000, background) }
}

/// Child: a key with an expiry sits in an index run; it is persisted (expiry cleared, in the
/// memtable and the log tail), its old expiry passes, and a background merge of the runs
/// runs before any checkpoint. Then the process dies.
fn persist_child(dir: &Path) -> ! {
    let clock = TestClock::new(EXPIRY_T0);
    {
        let s = Store::open(dir, expiry_opts(&clock, false)).unwrap();
        let at = PutOptions { expiry: Expiry::At(EXPIRY_T0 + 100), ..PutOptions::default() };
        s.put_with(b"k", b"persisted", at).unwrap().unwrap();
        s.checkpoint().unwrap();
        s.put(b"other", b"o").unwrap();
        s.checkpoint().unwrap();
        s.close().unwrap();
    }
    // The background thread merges on a one-second timer; the writes below happen at once.
    let s = Store::open(dir, expiry_opts(&clock, true)).unwrap();
    assert!(s.expire(b"k", None).unwrap());
    clock.advance(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.stats().merges == 0 {
        assert!(std::time::Instant::now() < deadline, "no background merge happened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"persisted"[..]));
    s.sync().unwrap();
    std::process::exit(0);
}

#[test]
fn persisted_key_survives_a_merge_and_a_crash() {
    if let Some(dir) = std::env::var_os(EXPIRY_CHILD_ENV) {
        persist_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "persisted_key_survives_a_merge_and_a_crash", "--test-threads=1", "--nocapture"])
        .env(EXPIRY_CHILD_ENV, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    let clock = TestClock::new(EXPIRY_T0 + 200);
    let s = open(dir.path(), &expiry_opts(&clock, false));
    assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"persisted"[..]), "a persisted key was lost at replay");
    assert_eq!(s.meta(b"k").unwrap().unwrap().expire_at_ms, None);
    assert_eq!(s.get(b"other").unwrap().as_deref(), Some(&b"o"[..]));
}

/// `Txn::delete_live` deletes what the transaction just read, like `delete`, and survives a
/// reopen; on a key that is absent after all it leaves nothing visible and no key counted.
#[test]
fn txn_delete_live_removes_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    s.put(b"a", b"1").unwrap();
    s.put(b"b", b"2").unwrap();
    let before = s.key_count(b"").unwrap().0;
    s.update(|t| {
        assert_eq!(t.get(b"a")?.as_deref(), Some(&b"1"[..]));
        t.delete_live(b"a")?;
        assert!(t.get(b"a")?.is_none(), "the pending delete is visible in the transaction");
        t.delete_live(b"never-written")?;
        Ok(())
    })
    .unwrap();
    assert!(s.get(b"a").unwrap().is_none());
    assert!(s.get(b"never-written").unwrap().is_none());
    assert_eq!(s.key_count(b"").unwrap().0, before - 1);
    drop(s);
    let s = open(dir.path(), &small_opts(1 << 20, 1000, false));
    assert!(s.get(b"a").unwrap().is_none());
    assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(s.key_count(b"").unwrap().0, before - 1);
}

/// `Store::prefetch` looks keys up without reading their values: on every kind of key
/// (inline values small and large, one ending at the end of what was written, a blob, a
/// tombstone, an expired key, an absent key, keys in an index run after a checkpoint) it
/// returns without effect, and reads afterwards return what they did before.
#[test]
fn prefetch_on_every_kind_of_key_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000);
    let s = Store::open(dir.path(), clocked(&clock, 1 << 20)).unwrap();
    s.put(b"small", b"v").unwrap();
    s.put(b"empty", b"").unwrap();
    s.put(b"large", &vec![7u8; 100_000]).unwrap();
    s.put(b"gone", b"x").unwrap();
    s.delete(b"gone").unwrap();
    s.put_with(b"expired", b"e", PutOptions { expiry: Expiry::At(1_500), ..PutOptions::default() }).unwrap();
    let mut w = s.blob_writer(b"blob").unwrap();
    w.write_all(&vec![3u8; 300_000]).unwrap();
    w.commit().unwrap();
    s.put(b"last", &[9u8; 200]).unwrap();
    clock.advance(1_000);
    let keys: [&[u8]; 8] = [b"small", b"empty", b"large", b"gone", b"expired", b"blob", b"last", b"absent"];
    let read = |s: &Store| keys.iter().map(|k| s.get(k).unwrap().map(|v| v.to_vec())).collect::<Vec<_>>();
    let before = read(&s);
    assert_eq!(before.iter().filter(|v| v.is_some()).count(), 5);
    for k in keys {
        s.prefetch(k);
    }
    assert_eq!(read(&s), before);
    s.checkpoint().unwrap();
    for k in keys {
        s.prefetch(k);
    }
    assert_eq!(read(&s), before);
}

/// `get_with_ref` borrows short values and hands long ones (and blobs) over as handles that
/// outlive the call — and the key's overwrite, deletion and the compaction of its segment.
#[test]
fn get_with_ref_hands_long_values_over_as_handles_that_outlive_overwrites() {
    use pmemkv::ReadValue;
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &small_opts(64 << 10, 100, false));
    s.put(b"short", b"abc").unwrap();
    s.put(b"long", &[7u8; 5000]).unwrap();
    let kind = |key: &[u8]| {
        s.get_with_ref(key, 4096, |v| match v {
            None => "none",
            Some(ReadValue::Slice(b)) => {
                assert_eq!(b, b"abc");
                "slice"
            }
            Some(ReadValue::Ref(r)) => {
                assert_eq!(&r[..], &[7u8; 5000][..]);
                "ref"
            }
        })
        .unwrap()
    };
    assert_eq!(kind(b"short"), "slice");
    assert_eq!(kind(b"long"), "ref");
    assert_eq!(kind(b"missing"), "none");
    // Every value is borrowed below an unreachable threshold, as `get_with` does.
    assert!(s.get_with_ref(b"long", usize::MAX, |v| matches!(v, Some(ReadValue::Slice(_)))).unwrap());
    let kept = s.get_with_ref(b"long", 4096, |v| match v {
        Some(ReadValue::Ref(r)) => r,
        other => panic!("expected a handle, got {other:?}"),
    });
    let kept = kept.unwrap();
    for i in 0..200u32 {
        s.put(b"long", &vec![(i % 200) as u8; 5000]).unwrap();
    }
    s.delete(b"long").unwrap();
    s.checkpoint().unwrap();
    s.compact(true).unwrap();
    assert_eq!(&kept[..], &[7u8; 5000][..]);
    assert!(s.get_with_ref(b"long", 1, |v| v.is_none()).unwrap());
}

/// `get_many_with` returns, in order, what `get` returns for each key: absent, deleted and
/// expired keys as `None`, values in the memtable, in runs and in blob files.
#[test]
fn get_many_with_reads_like_get_for_each_key() {
    let clock = TestClock::new(10_000);
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &Options { max_inline_value: 1024, ..clocked(&clock, 1 << 20) });
    let big = vec![9u8; 50_000];
    s.put(b"old", b"in a run").unwrap();
    s.put(b"gone", b"x").unwrap();
    s.checkpoint().unwrap();
    s.put(b"new", b"in the memtable").unwrap();
    let mut w = s.blob_writer(b"blob").unwrap();
    w.write_all(&big).unwrap();
    w.commit().unwrap();
    s.delete(b"gone").unwrap();
    let at = PutOptions { condition: Condition::Always, expiry: Expiry::At(clock.now() + 10), durability: None };
    s.put_with(b"soon", b"expires", at).unwrap().unwrap();
    let keys: Vec<&[u8]> = vec![b"new", b"missing", b"old", b"gone", b"blob", b"soon", b"new"];
    let read = || s.get_many_with(&keys, |vs| vs.iter().map(|v| v.map(|b| b.to_vec())).collect::<Vec<_>>()).unwrap();
    let each = || keys.iter().map(|k| s.get(k).unwrap().map(|v| v.to_vec())).collect::<Vec<_>>();
    assert_eq!(read(), each());
    assert_eq!(read()[0].as_deref(), Some(&b"in the memtable"[..]));
    assert_eq!(read()[4].as_deref(), Some(&big[..]));
    assert_eq!(read()[5].as_deref(), Some(&b"expires"[..]));
    clock.advance(10);
    assert_eq!(read()[5], None);
    assert_eq!(read(), each());
    assert!(s.get_many_with(&[], |vs| vs.is_empty()).unwrap());
}

/// A store whose directory is removed (here: renamed away and replaced by an empty one)
/// while it is open refuses, with a clear error, every write that would create a file by
/// path — a segment, a run, a blob, a manifest — instead of scattering its state over two
/// directories; the moved directory still holds everything acknowledged.
#[test]
fn a_replaced_directory_is_refused_not_written_into() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let moved = tmp.path().join("db-moved");
    let store = Store::open(&dir, small_opts(1 << 20, 1000, false)).unwrap();
    for i in 0..100u32 {
        store.put(format!("k{i}").as_bytes(), b"before").unwrap();
    }
    store.checkpoint().unwrap();
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::create_dir(&dir).unwrap();
    // Appending into the segment already open still works (its file moved with it)...
    store.put(b"appended", b"after the move").unwrap();
    // ...but nothing creates files in the new directory.
    let err = store.checkpoint().unwrap_err();
    assert!(matches!(&err, Error::Poisoned(why) if why.contains("removed or replaced")), "{err}");
    assert!(matches!(store.put(b"k", b"v"), Err(Error::Poisoned(_))));
    assert!(matches!(store.stage_blob(), Err(Error::Poisoned(_))));
    drop(store);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "files were created in the replacement directory");
    let store = Store::open(&moved, small_opts(1 << 20, 1000, false)).unwrap();
    assert_eq!(&*store.get(b"k99").unwrap().unwrap(), b"before");
    assert_eq!(&*store.get(b"appended").unwrap().unwrap(), b"after the move");
}

/// `Store::thread_commits` moves with each batch this thread commits, and not for a write
/// that changed nothing (a failed condition, an empty batch) nor for another thread's.
#[test]
fn thread_commits_count_this_threads_batches() {
    let dir = tempfile::tempdir().unwrap();
    let st = std::sync::Arc::new(open(dir.path(), &small_opts(1 << 20, 1000, false)));
    let n0 = Store::thread_commits();
    st.put(b"a", b"1").unwrap();
    assert_eq!(Store::thread_commits(), n0 + 1);
    let absent = PutOptions { condition: Condition::IfAbsent, ..PutOptions::default() };
    assert_eq!(st.put_with(b"a", b"2", absent).unwrap(), None);
    st.write(&WriteBatch::new()).unwrap();
    assert_eq!(Store::thread_commits(), n0 + 1, "nothing was written");
    let other = st.clone();
    std::thread::spawn(move || other.put(b"b", b"1").unwrap()).join().unwrap();
    assert_eq!(Store::thread_commits(), n0 + 1, "another thread's commit");
    let mut batch = WriteBatch::new();
    batch.put(b"c", b"1");
    batch.delete(b"a");
    st.write(&batch).unwrap();
    assert_eq!(Store::thread_commits(), n0 + 2, "one batch, one commit");
}
