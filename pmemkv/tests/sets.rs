//! Engine tests of sets beyond add/remove: SMOVE, SPOP/SRANDMEMBER (counts, distinctness,
//! reachability of every member, no repeats across pops), set algebra and its STORE variants
//! against a `BTreeSet` model, SINTERCARD limits, WRONGTYPE, and collections re-created
//! inside one atomic group.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use pmemkv::collections::SetOp;
use pmemkv::{Collections, Error, Options, Store};

fn open(dir: &std::path::Path) -> Collections {
    let opts = Options { segment_size: 16 << 20, max_inline_value: 1 << 20, ..Options::default() };
    Collections::new(Arc::new(Store::open(dir, opts).unwrap()))
}

fn set(c: &Collections, key: &[u8]) -> BTreeSet<Vec<u8>> {
    c.set_op(SetOp::Union, &[key]).unwrap().into_iter().collect()
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn smove_and_smismember() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.sadd(b"a", &["x", "y"]).unwrap();
    c.str_set(b"str", b"v", Default::default()).unwrap();
    assert_eq!(c.smismember(b"a", &["x", "z", "y"]).unwrap(), vec![true, false, true]);
    assert_eq!(c.smismember(b"missing", &["x"]).unwrap(), vec![false]);
    assert!(matches!(c.smismember(b"str", &["x"]), Err(Error::WrongType)));

    assert!(c.smove(b"a", b"b", b"x").unwrap());
    assert_eq!(set(&c, b"a"), BTreeSet::from([b"y".to_vec()]));
    assert_eq!(set(&c, b"b"), BTreeSet::from([b"x".to_vec()]));
    assert!(!c.smove(b"a", b"b", b"nope").unwrap());
    // Moving the last member deletes the source; a member already in dst is not counted twice.
    c.sadd(b"b", &["y"]).unwrap();
    assert!(c.smove(b"a", b"b", b"y").unwrap());
    assert!(!c.exists(b"a").unwrap());
    assert_eq!(c.scard(b"b").unwrap(), 2);
    // Same set: a membership test.
    assert!(c.smove(b"b", b"b", b"x").unwrap());
    assert!(!c.smove(b"b", b"b", b"q").unwrap());
    // A missing source is 0 whatever dst holds; a wrong-typed key is an error otherwise.
    assert!(!c.smove(b"missing", b"str", b"x").unwrap());
    assert!(matches!(c.smove(b"b", b"str", b"x"), Err(Error::WrongType)));
    assert!(matches!(c.smove(b"str", b"b", b"x"), Err(Error::WrongType)));
    assert_eq!(c.scard(b"b").unwrap(), 2, "a failed move changes nothing");
}

#[test]
fn spop_counts_and_empties() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let members: Vec<String> = (0..6000).map(|i| format!("m{i:05}")).collect();
    c.sadd(b"s", &members).unwrap();
    let mut left: BTreeSet<Vec<u8>> = members.iter().map(|m| m.as_bytes().to_vec()).collect();
    // Few (trie draws), many (one walk), all: never a repeat, always real members.
    for n in [1u64, 7, 11, 100, 3000] {
        let popped = c.spop(b"s", n).unwrap();
        assert_eq!(popped.len() as u64, n.min(left.len() as u64));
        let distinct: BTreeSet<_> = popped.iter().cloned().collect();
        assert_eq!(distinct.len(), popped.len(), "no repeats");
        for p in &popped {
            assert!(left.remove(p), "{p:?} was in the set");
        }
        assert_eq!(c.scard(b"s").unwrap(), left.len() as u64);
        assert_eq!(set(&c, b"s"), left);
    }
    assert_eq!(c.spop(b"s", 0).unwrap(), Vec::<Vec<u8>>::new());
    let rest = c.spop(b"s", 10_000).unwrap();
    assert_eq!(rest.into_iter().collect::<BTreeSet<_>>(), left);
    assert!(!c.exists(b"s").unwrap());
    assert!(c.spop(b"s", 3).unwrap().is_empty());
}

#[test]
fn srandmember_counts() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let members: Vec<String> = (0..300).map(|i| format!("{i}")).collect();
    c.sadd(b"s", &members).unwrap();
    let all = set(&c, b"s");
    for n in [1i64, 5, 50, 99, 100, 250, 300, 1000] {
        let got = c.srandmember(b"s", n).unwrap();
        assert_eq!(got.len() as i64, n.min(300), "count {n}");
        let distinct: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(distinct.len(), got.len(), "count {n}: distinct");
        assert!(distinct.is_subset(&all));
    }
    let got = c.srandmember(b"s", -1000).unwrap();
    assert_eq!(got.len(), 1000);
    assert!(got.iter().all(|m| all.contains(m)));
    assert!(c.srandmember(b"s", 0).unwrap().is_empty());
    assert!(c.srandmember(b"missing", -5).unwrap().is_empty());
    assert_eq!(c.scard(b"s").unwrap(), 300, "read-only");
}

/// Every member can be drawn, also in lopsided sets (prefixes of other members, a member
/// after a wide gap, binary bytes), and evenly spread members come out near-uniformly (the
/// counts here are large for the sets, so the picks are exact walks; the trie draws have
/// their own unit tests in `collections::member_sample`).
#[test]
fn random_draws_reach_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let awkward: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"a\x00\x00".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"b".to_vec(),
        b"\xff\xff".to_vec(),
        b"zzzzzzzzzzzzzzzzzzzzzzzzzzzz".to_vec(),
    ];
    let mut members = awkward.clone();
    for i in 0..200u32 {
        members.push(i.to_be_bytes().to_vec());
    }
    c.sadd(b"s", &members).unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        for m in c.srandmember(b"s", -100).unwrap() {
            seen.insert(m);
        }
        if seen.len() == members.len() {
            break;
        }
    }
    let missing: Vec<_> = members.iter().filter(|m| !seen.contains(*m)).collect();
    assert!(missing.is_empty(), "never drawn: {missing:?}");

    // Dense binary members (more distinct first bytes than are enumerated).
    let mut rng = Rng(77);
    let binary: Vec<Vec<u8>> = (0..1000).map(|_| (0..8).map(|_| rng.below(256) as u8).collect()).collect();
    c.sadd(b"bin", &binary).unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        seen.extend(c.srandmember(b"bin", -1000).unwrap());
    }
    assert_eq!(seen.len(), binary.iter().collect::<BTreeSet<_>>().len());

    // Fixed-width ids: each of 100 members drawn 100 times on average; a uniform draw
    // stays within [40, 200] with overwhelming probability.
    let ids: Vec<String> = (0..100).map(|i| format!("user:{i:06}")).collect();
    c.sadd(b"ids", &ids).unwrap();
    let mut counts: HashMap<Vec<u8>, u32> = HashMap::new();
    for m in c.srandmember(b"ids", -10_000).unwrap() {
        *counts.entry(m).or_default() += 1;
    }
    assert_eq!(counts.len(), 100);
    for (m, n) in &counts {
        assert!((40..=200).contains(n), "{} drawn {n} times", String::from_utf8_lossy(m));
    }
}

#[test]
fn set_algebra_matches_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let mut rng = Rng(0x5eed);
    let names: Vec<Vec<u8>> = (0..5).map(|i| format!("k{i}").into_bytes()).collect();
    let mut model: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for round in 0..300 {
        // Mutate one key.
        let k = names[rng.below(5) as usize].clone();
        let m: Vec<Vec<u8>> = (0..rng.below(6)).map(|_| format!("m{}", rng.below(20)).into_bytes()).collect();
        if rng.below(3) == 0 {
            c.srem(&k, &m).unwrap();
            if let Some(s) = model.get_mut(&k) {
                for x in &m {
                    s.remove(x);
                }
                if s.is_empty() {
                    model.remove(&k);
                }
            }
        } else if !m.is_empty() {
            c.sadd(&k, &m).unwrap();
            model.entry(k.clone()).or_default().extend(m);
        }
        // Query a random selection of keys (repeats allowed, missing keys included).
        let sel: Vec<Vec<u8>> = (0..1 + rng.below(4)).map(|_| names[rng.below(5) as usize].clone()).collect();
        let get = |k: &Vec<u8>| model.get(k).cloned().unwrap_or_default();
        let inter = sel[1..].iter().fold(get(&sel[0]), |acc, k| acc.intersection(&get(k)).cloned().collect());
        let union = sel.iter().fold(BTreeSet::new(), |acc, k| acc.union(&get(k)).cloned().collect());
        let diff = sel[1..].iter().fold(get(&sel[0]), |acc, k| acc.difference(&get(k)).cloned().collect());
        for (op, exp) in [(SetOp::Inter, &inter), (SetOp::Union, &union), (SetOp::Diff, &diff)] {
            let got = c.set_op(op, &sel).unwrap();
            assert_eq!(got, exp.iter().cloned().collect::<Vec<_>>(), "round {round} {op:?} {sel:?}");
        }
        let limit = rng.below(4);
        let card = c.sinter_card(&sel, limit).unwrap();
        let full = inter.len() as u64;
        assert_eq!(card, if limit == 0 { full } else { full.min(limit) });
        // Store into a key that may be one of the inputs.
        let dst = names[rng.below(5) as usize].clone();
        let op = [SetOp::Inter, SetOp::Union, SetOp::Diff][rng.below(3) as usize];
        let exp = match op {
            SetOp::Inter => inter,
            SetOp::Union => union,
            SetOp::Diff => diff,
        };
        assert_eq!(c.set_op_store(op, &dst, &sel).unwrap(), exp.len() as u64);
        if exp.is_empty() {
            model.remove(&dst);
            assert!(!c.exists(&dst).unwrap());
        } else {
            model.insert(dst.clone(), exp);
        }
        for k in &names {
            assert_eq!(set(&c, k), model.get(k).cloned().unwrap_or_default(), "round {round} key {k:?}");
            assert_eq!(c.scard(k).unwrap(), model.get(k).map_or(0, |s| s.len() as u64));
        }
    }
}

#[test]
fn algebra_type_errors_and_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.sadd(b"a", &["1", "2"]).unwrap();
    c.str_set(b"str", b"v", Default::default()).unwrap();
    c.expire(b"a", Some(u64::MAX / 2)).unwrap();
    for op in [SetOp::Inter, SetOp::Union, SetOp::Diff] {
        // Every key is type-checked, even after a missing one.
        assert!(matches!(c.set_op(op, &[&b"missing"[..], b"str"]), Err(Error::WrongType)));
        assert!(matches!(c.set_op_store(op, b"d", &[&b"a"[..], b"str"]), Err(Error::WrongType)));
        assert!(matches!(c.sinter_card(&[&b"missing"[..], b"str"], 0), Err(Error::WrongType)));
    }
    // The destination may hold anything: it is replaced (without its expiry).
    assert_eq!(c.set_op_store(SetOp::Union, b"str", &[&b"a"[..]]).unwrap(), 2);
    assert_eq!(c.scard(b"str").unwrap(), 2);
    assert_eq!(c.set_op_store(SetOp::Union, b"a", &[&b"a"[..], b"str"]).unwrap(), 2);
    assert_eq!(c.ttl(b"a").unwrap(), pmemkv::collections::KeyTtl::Persistent);
    // SDIFF of a set with itself is empty.
    assert!(c.set_op(SetOp::Diff, &[&b"a"[..], b"a"]).unwrap().is_empty());
}

/// Inside one atomic group every write shares a version: a set deleted and created again
/// must not see its first incarnation's members.
#[test]
fn recreated_in_one_atomic_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.store()
        .atomic(|| {
            c.sadd(b"s", &["a", "b"])?;
            c.delete_key(b"s")?;
            c.sadd(b"s", &["c"])?;
            c.set_op_store(SetOp::Union, b"t", &[&b"s"[..]])?;
            c.set_op_store(SetOp::Union, b"t", &[&b"s"[..]])?;
            Ok(())
        })
        .unwrap();
    assert_eq!(set(&c, b"s"), BTreeSet::from([b"c".to_vec()]));
    assert_eq!(c.scard(b"s").unwrap(), 1);
    assert_eq!(set(&c, b"t"), BTreeSet::from([b"c".to_vec()]));
    // SPOP inside a group sees the group's earlier writes (trie draws through the
    // transaction's view).
    let big: Vec<String> = (0..6000).map(|i| format!("b{i:05}")).collect();
    let (popped, card) = c
        .store()
        .atomic(|| {
            c.sadd(b"big", &big)?;
            let p = c.spop(b"big", 5)?;
            Ok((p, c.scard(b"big")?))
        })
        .unwrap();
    assert_eq!(popped.len(), 5);
    assert_eq!(card, 5995);
    for p in &popped {
        assert!(big.iter().any(|b| b.as_bytes() == p.as_slice()));
        assert!(!c.sismember(b"big", p).unwrap());
    }
    // SPOP inside a group sees the group's earlier writes.
    let popped = c
        .store()
        .atomic(|| {
            c.sadd(b"g", &["x", "y", "z"])?;
            let p = c.spop(b"g", 2)?;
            let q = c.spop(b"g", 5)?;
            Ok((p, q))
        })
        .unwrap();
    let mut all: Vec<Vec<u8>> = popped.0.into_iter().chain(popped.1).collect();
    all.sort();
    assert_eq!(all, vec![b"x".to_vec(), b"y".to_vec(), b"z".to_vec()]);
    assert!(!c.exists(b"g").unwrap());
}

/// Creating many collections in one atomic group stays linear: each creation looks for
/// leftovers of its key under the group's version with a range lookup of the group's
/// pending writes, not a scan of them.
#[test]
fn many_collections_created_in_one_atomic_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let start = std::time::Instant::now();
    c.store()
        .atomic(|| {
            for i in 0..20_000 {
                c.sadd(format!("k{i}").as_bytes(), &["m"])?;
            }
            Ok(())
        })
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(60), "{:?}", start.elapsed());
    assert_eq!(c.scard(b"k0").unwrap(), 1);
    assert_eq!(c.scard(b"k19999").unwrap(), 1);
}

/// A transaction's iterator over odd ranges (reversed, empty, one key) of its own writes.
#[test]
fn transaction_iterators_over_odd_ranges() {
    use std::ops::Bound::{Excluded, Included, Unbounded};

    use pmemkv::{Direction, KeyRange};
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    c.store()
        .update(|txn| {
            for k in [&b"a"[..], b"b", b"c"] {
                txn.put(k, b"v")?;
            }
            let keys = |start, end| -> Vec<Vec<u8>> {
                txn.iter_range(KeyRange { start, end }, Direction::Forward).map(|r| r.unwrap().0).collect()
            };
            let v = |k: &[u8]| k.to_vec();
            assert!(keys(Included(v(b"c")), Included(v(b"a"))).is_empty());
            assert!(keys(Excluded(v(b"b")), Excluded(v(b"b"))).is_empty());
            assert!(keys(Included(v(b"b")), Excluded(v(b"b"))).is_empty());
            assert!(keys(Excluded(v(b"b")), Included(v(b"b"))).is_empty());
            assert_eq!(keys(Included(v(b"b")), Included(v(b"b"))), vec![v(b"b")]);
            assert_eq!(keys(Excluded(v(b"a")), Unbounded), vec![v(b"b"), v(b"c")]);
            assert_eq!(keys(Unbounded, Excluded(v(b"c"))), vec![v(b"a"), v(b"b")]);
            Ok(())
        })
        .unwrap();
}
