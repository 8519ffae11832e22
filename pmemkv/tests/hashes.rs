//! Tests of the hash operations added for the `HMGET`/`HKEYS`/`HVALS`/`HINCRBYFLOAT`/
//! `HRANDFIELD` commands: multi-field reads that tell a missing hash from missing fields,
//! keys-only and values-only reads, the atomic read-modify-write `hupdate` (expiry kept,
//! nothing written on error or no-op, WRONGTYPE), and random fields — exact for small hashes
//! and large shares, distinct or repeating, and close to uniform on large hashes of several
//! field layouts without reading them whole.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmemkv::collections::{KeyTtl, SetOptions};
use pmemkv::{Collections, Error, Options, Store};

fn small_opts() -> Options {
    Options { segment_size: 4 << 20, max_inline_value: 1 << 20, memtable_max_entries: 5_000, ..Options::default() }
}

fn open(dir: &Path, opts: Options) -> Collections {
    Collections::new(Arc::new(Store::open(dir, opts).unwrap()))
}

fn fill(c: &Collections, key: &[u8], fields: &[Vec<u8>]) {
    for chunk in fields.chunks(1000) {
        let pairs: Vec<(&[u8], Vec<u8>)> =
            chunk.iter().map(|f| (f.as_slice(), [b"v:", f.as_slice()].concat())).collect();
        c.hset(key, &pairs).unwrap();
    }
}

#[test]
fn hmget_hkeys_hvals() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    assert!(c.hmget(b"h", &[b"a"]).unwrap().is_none(), "a missing hash is None");
    c.hset(b"h", &[("a", "1"), ("b", "22"), ("c", "")]).unwrap();
    let got: Vec<Option<Vec<u8>>> = c
        .hmget(b"h", &["b", "zz", "a", "c", "b"])
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|v| v.map(|v| v.to_vec()))
        .collect();
    assert_eq!(got, vec![Some(b"22".to_vec()), None, Some(b"1".to_vec()), Some(Vec::new()), Some(b"22".to_vec())]);
    assert_eq!(c.hkeys(b"h").unwrap(), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let vals: Vec<Vec<u8>> = c.hvals(b"h").unwrap().iter().map(|v| v.to_vec()).collect();
    assert_eq!(vals, vec![b"1".to_vec(), b"22".to_vec(), Vec::new()]);
    assert!(c.hkeys(b"nope").unwrap().is_empty());
    assert!(c.hvals(b"nope").unwrap().is_empty());
    c.str_set(b"s", b"x", SetOptions::default()).unwrap();
    assert!(matches!(c.hmget(b"s", &[b"a"]), Err(Error::WrongType)));
    assert!(matches!(c.hkeys(b"s"), Err(Error::WrongType)));
    assert!(matches!(c.hvals(b"s"), Err(Error::WrongType)));
    assert!(matches!(c.hrandfield(b"s", 1, true, false, 1), Err(Error::WrongType)));
}

fn compact(c: &Collections, key: &[u8]) -> Option<Vec<(String, String)>> {
    c.hgetall_compact(key, 8, 16).unwrap().map(|items| {
        items
            .into_iter()
            .map(|(f, v)| (String::from_utf8(f).unwrap(), String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    })
}

fn owned(items: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(items.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect())
}

#[test]
fn small_hashes_keep_insertion_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    assert_eq!(compact(&c, b"h"), Some(Vec::new()), "a missing hash is empty");
    c.hset(b"h", &[("zeta", "1"), ("alpha", "2"), ("mid", "3")]).unwrap();
    assert_eq!(compact(&c, b"h"), owned(&[("zeta", "1"), ("alpha", "2"), ("mid", "3")]));
    // Updates keep the place; new fields (any way they come) go last; deleted ones vanish.
    c.hset(b"h", &[("alpha", "two"), ("beta", "4")]).unwrap();
    assert!(c.hsetnx(b"h", b"aaa", b"5").unwrap());
    assert!(!c.hsetnx(b"h", b"zeta", b"x").unwrap());
    assert_eq!(c.hincr_by(b"h", b"mid", 10).unwrap(), 13);
    assert_eq!(c.hincr_by(b"h", b"count", 1).unwrap(), 1);
    c.hupdate(b"h", b"zeta", |_| Ok((Some(b"z".to_vec()), ()))).unwrap();
    c.hupdate(b"h", b"last", |_| Ok((Some(b"L".to_vec()), ()))).unwrap();
    assert_eq!(c.hdel(b"h", &["beta"]).unwrap(), 1);
    c.hset(b"h", &[("beta", "again")]).unwrap();
    let expected = owned(&[
        ("zeta", "z"),
        ("alpha", "two"),
        ("mid", "13"),
        ("aaa", "5"),
        ("count", "1"),
        ("last", "L"),
        ("beta", "again"),
    ]);
    assert_eq!(compact(&c, b"h"), expected);
    // The field-order reads see the same contents, values without their insertion numbers.
    let all: Vec<(Vec<u8>, Vec<u8>)> = c.hgetall(b"h").unwrap().into_iter().map(|(f, v)| (f, v.to_vec())).collect();
    let mut sorted: Vec<(Vec<u8>, Vec<u8>)> =
        expected.clone().unwrap().into_iter().map(|(f, v)| (f.into_bytes(), v.into_bytes())).collect();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(c.hget(b"h", b"aaa").unwrap().map(|v| v.to_vec()), Some(b"5".to_vec()));
    let vals: Vec<Vec<u8>> = c.hvals(b"h").unwrap().iter().map(|v| v.to_vec()).collect();
    assert_eq!(vals, sorted.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
    let page = c.hscan(b"h", &[], 100).unwrap();
    assert_eq!(page.items.into_iter().map(|(f, v)| (f, v.to_vec())).collect::<Vec<_>>(), sorted);
    // The order survives a reopen and a copy.
    assert!(c.copy_key(b"h", b"copy", false).unwrap());
    drop(c);
    let c = open(dir.path(), small_opts());
    assert_eq!(compact(&c, b"h"), expected);
    assert_eq!(compact(&c, b"copy"), expected);
    // Too many fields, or a long field or value: not compact.
    c.hset(b"h", &[("eighth", "x")]).unwrap();
    assert!(compact(&c, b"h").is_some(), "8 fields");
    c.hset(b"h", &[("ninth", "x")]).unwrap();
    assert_eq!(compact(&c, b"h"), None, "9 fields > 8");
    c.hdel(b"h", &["eighth", "ninth"]).unwrap();
    assert_eq!(compact(&c, b"h"), expected);
    c.hset(b"h", &[("mid", "a value longer than 16")]).unwrap();
    assert_eq!(compact(&c, b"h"), None);
    c.hset(b"h", &[("mid", "13")]).unwrap();
    c.hset(b"h", &[("a field longer than 16", "v")]).unwrap();
    assert_eq!(compact(&c, b"h"), None);
    c.str_set(b"s", b"x", SetOptions::default()).unwrap();
    assert!(matches!(c.hgetall_compact(b"s", 8, 16), Err(Error::WrongType)));
}

#[test]
fn hupdate_is_atomic_and_keeps_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_000_000));
    let n2 = now.clone();
    let c = open(dir.path(), Options { clock: Arc::new(move || n2.load(Ordering::SeqCst)), ..small_opts() });
    // A no-op on a missing hash creates nothing.
    let r = c.hupdate(b"h", b"f", |cur| {
        assert!(cur.is_none());
        Ok((None, 7))
    });
    assert_eq!(r.unwrap(), 7);
    assert!(c.key_type(b"h").unwrap().is_none());
    // A write creates the hash.
    c.hupdate(b"h", b"f", |_| Ok((Some(b"1".to_vec()), ()))).unwrap();
    assert_eq!(c.hlen(b"h").unwrap(), 1);
    assert!(c.expire(b"h", Some(2_000_000)).unwrap());
    // Rewriting an existing field keeps the count and the expiry.
    let old = c.hupdate(b"h", b"f", |cur| Ok((Some(b"2".to_vec()), cur.map(<[u8]>::to_vec)))).unwrap();
    assert_eq!(old, Some(b"1".to_vec()));
    assert_eq!(c.hlen(b"h").unwrap(), 1);
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::ExpiresAt(2_000_000));
    // A new field adds one and keeps the expiry.
    c.hupdate(b"h", b"g", |_| Ok((Some(b"x".to_vec()), ()))).unwrap();
    assert_eq!(c.hlen(b"h").unwrap(), 2);
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::ExpiresAt(2_000_000));
    // An error writes nothing.
    let e = c.hupdate(b"h", b"new", |_| -> pmemkv::Result<(Option<Vec<u8>>, ())> {
        Err(Error::InvalidArgument("hash value is not a float".into()))
    });
    assert!(matches!(e, Err(Error::InvalidArgument(m)) if m == "hash value is not a float"));
    assert_eq!(c.hlen(b"h").unwrap(), 2);
    assert!(c.hget(b"h", b"new").unwrap().is_none());
    // WRONGTYPE before the closure runs.
    c.str_set(b"s", b"x", SetOptions::default()).unwrap();
    let e = c.hupdate(b"s", b"f", |_| -> pmemkv::Result<(Option<Vec<u8>>, ())> { panic!("must not run") });
    assert!(matches!(e, Err(Error::WrongType)));
    // After expiry the hash starts afresh.
    now.store(2_000_000, Ordering::SeqCst);
    c.hupdate(b"h", b"f", |cur| {
        assert!(cur.is_none());
        Ok((Some(b"3".to_vec()), ()))
    })
    .unwrap();
    assert_eq!(c.hlen(b"h").unwrap(), 1);
    assert_eq!(c.ttl(b"h").unwrap(), KeyTtl::Persistent);
    // Survives a reopen.
    drop(c);
    let c = open(dir.path(), small_opts());
    assert_eq!(c.hget(b"h", b"f").unwrap().map(|v| v.to_vec()), Some(b"3".to_vec()));
}

#[test]
fn hrandfield_small_and_exact_paths() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    assert!(c.hrandfield(b"h", 5, true, true, 1).unwrap().is_empty());
    let fields: Vec<Vec<u8>> = (0..10).map(|i| format!("f{i}").into_bytes()).collect();
    fill(&c, b"h", &fields);
    // count >= size: the whole hash, in field order, with values.
    let all = c.hrandfield(b"h", 100, true, true, 1).unwrap();
    assert_eq!(all.len(), 10);
    for (f, v) in &all {
        assert_eq!(v.as_ref().unwrap().to_vec(), [b"v:", f.as_slice()].concat());
    }
    assert_eq!(all.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(), fields);
    assert!(c.hrandfield(b"h", 0, true, false, 1).unwrap().is_empty());
    // Distinct picks are distinct, and every field comes up over many seeds.
    let mut seen = BTreeSet::new();
    for seed in 0..200 {
        let got = c.hrandfield(b"h", 3, true, false, seed).unwrap();
        assert_eq!(got.len(), 3);
        let set: BTreeSet<_> = got.iter().map(|(f, v)| (assert!(v.is_none()), f.clone()).1).collect();
        assert_eq!(set.len(), 3);
        seen.extend(set);
    }
    assert_eq!(seen.len(), 10);
    // Repeating picks: exactly `count`, with repetitions, roughly uniform.
    let got = c.hrandfield(b"h", 20_000, false, false, 7).unwrap();
    assert_eq!(got.len(), 20_000);
    let mut counts: HashMap<Vec<u8>, u32> = HashMap::new();
    for (f, _) in got {
        *counts.entry(f).or_default() += 1;
    }
    assert_eq!(counts.len(), 10);
    for (f, n) in &counts {
        assert!((1_700..2_300).contains(n), "{} came up {n} times of 20000", String::from_utf8_lossy(f));
    }
    // Large shares of a larger hash: the streaming exact sample.
    let big: Vec<Vec<u8>> = (0..3000).map(|i| format!("g{i}").into_bytes()).collect();
    fill(&c, b"g", &big);
    let got = c.hrandfield(b"g", 2000, true, true, 3).unwrap();
    let set: BTreeSet<Vec<u8>> = got.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(set.len(), 2000);
    assert!(set.iter().all(|f| f.starts_with(b"g")));
    let sorted: Vec<Vec<u8>> = set.into_iter().collect();
    assert_ne!(got.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(), sorted, "the sample is shuffled");
}

/// Picks `picks` random fields (in requests of 100 repeating picks, which share one walk
/// cache, and some single picks) and checks every field comes up and the counts pass a loose
/// chi-square bound (a sampler biased by the layout of the field space fails it).
fn check_uniform(c: &Collections, key: &[u8], fields: &[Vec<u8>], picks: u32, what: &str) {
    let n = fields.len() as u64;
    assert!(n > 4 * 100, "the hash must be large enough for the sampler path");
    let mut counts: HashMap<Vec<u8>, u32> = HashMap::new();
    for seed in 0..(picks / 100) as u64 {
        let got = c.hrandfield(key, 100, false, false, seed.wrapping_mul(0x9e37_79b9)).unwrap();
        assert_eq!(got.len(), 100);
        for (f, _) in got {
            *counts.entry(f).or_default() += 1;
        }
    }
    for seed in 0..(picks % 100) as u64 {
        let got = c.hrandfield(key, 1, false, false, !seed).unwrap();
        assert_eq!(got.len(), 1);
        *counts.entry(got.into_iter().next().unwrap().0).or_default() += 1;
    }
    let expected = picks as f64 / n as f64;
    let chi2: f64 = fields
        .iter()
        .map(|f| {
            let o = *counts.get(f).unwrap_or(&0) as f64;
            (o - expected).powi(2) / expected
        })
        .sum();
    let never = fields.iter().filter(|f| !counts.contains_key(*f)).count();
    let max = counts.values().max().copied().unwrap_or(0);
    assert_eq!(counts.values().sum::<u32>(), picks);
    // For a uniform pick chi2 ≈ n-1 ± sqrt(2(n-1)); allow a small systematic bias.
    let df = n as f64 - 1.0;
    let bound = 1.3 * df + 6.0 * (2.0 * df).sqrt();
    assert!(
        chi2 < bound && never == 0 && (max as f64) < 4.0 * expected,
        "{what}: chi2 {chi2:.0} (bound {bound:.0}), {never} fields never picked, max count {max} (expected {expected:.0})"
    );
}

#[test]
fn hrandfield_large_hash_picks_are_close_to_uniform() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let layouts: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("fixed-width counters", (0..1500).map(|i| format!("field:{i:06}").into_bytes()).collect()),
        ("variable-width counters", (0..1500).map(|i| format!("f{i}").into_bytes()).collect()),
        ("random binary", {
            let mut x = 0x1234_5678_9abc_def0u64;
            (0..1500)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_be_bytes()[..6].to_vec()
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }),
        ("words with a shared prefix", {
            let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
            (0..1500).map(|i| format!("user:{}:{}", words[i % 8], i / 8).into_bytes()).collect()
        }),
    ];
    for (i, (what, fields)) in layouts.iter().enumerate() {
        let key = format!("h{i}").into_bytes();
        fill(&c, &key, fields);
        check_uniform(&c, &key, fields, 30_050, what);
    }
}

#[test]
fn hrandfield_on_a_large_hash() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), small_opts());
    let fields: Vec<Vec<u8>> = (0..100_000).map(|i| format!("field:{i}").into_bytes()).collect();
    fill(&c, b"big", &fields);
    c.store().checkpoint().unwrap();
    // A few distinct picks (the seek path), with values.
    let got = c.hrandfield(b"big", 50, true, true, 42).unwrap();
    assert_eq!(got.len(), 50);
    let set: BTreeSet<Vec<u8>> = got.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(set.len(), 50);
    for (f, v) in &got {
        assert_eq!(v.as_ref().unwrap().to_vec(), [b"v:", f.as_slice()].concat());
    }
    // Repeating picks.
    let got = c.hrandfield(b"big", 100, false, false, 43).unwrap();
    assert_eq!(got.len(), 100);
    // Picks spread over the whole field space (first digit of the counter).
    let mut firsts = BTreeSet::new();
    for seed in 0..300 {
        let (f, _) = c.hrandfield(b"big", 1, false, false, seed).unwrap().pop().unwrap();
        firsts.insert(f[6]);
    }
    assert!((b'1'..=b'9').all(|d| firsts.contains(&d)), "every leading digit comes up: {firsts:?}");
}
