//! Tests of the list layer beyond pushes and pops: `LPOS`, `LINSERT`, `LREM`, `LMOVE`,
//! `LMPOP` and `LTRIM` with Redis's edge cases, the cost of renumbering (the cheaper side of
//! a change is rewritten, never the whole list), a renumbering too large for one log segment
//! failing cleanly, crash consistency across a reopen, and a model-based property test of
//! random list operations against a `VecDeque`.

mod common;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use pmemkv::collections::{InsertWhere, ListEnd, LposOptions};
use pmemkv::{Collections, Error, Options, Store};
use proptest::prelude::*;

fn opts() -> Options {
    Options { segment_size: 4 << 20, max_inline_value: 1 << 20, memtable_max_entries: 5_000, ..Options::default() }
}

fn open(dir: &Path, o: Options) -> Collections {
    Collections::new(Arc::new(Store::open(dir, o).unwrap()))
}

fn all(c: &Collections, key: &[u8]) -> Vec<Vec<u8>> {
    c.lrange(key, 0, -1).unwrap().iter().map(|v| v.to_vec()).collect()
}

fn strs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn list(c: &Collections, key: &[u8], items: &[&str]) {
    c.rpush(key, items).unwrap();
}

fn pos(rank: i64, count: u64, maxlen: u64) -> LposOptions {
    LposOptions { rank, count, maxlen }
}

/// Keys written (memtable entries) by `op`, after a checkpoint emptied the memtable.
fn writes(c: &Collections, op: impl FnOnce()) -> usize {
    c.store().checkpoint().unwrap();
    let a = c.store().stats().memtable_entries;
    op();
    c.store().stats().memtable_entries - a
}

#[test]
fn lpos_rank_count_maxlen() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    list(&c, b"l", &["a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(c.lpos(b"l", b"c", LposOptions::default()).unwrap(), vec![2]);
    assert_eq!(c.lpos(b"l", b"c", pos(2, 1, 0)).unwrap(), vec![6]);
    assert_eq!(c.lpos(b"l", b"c", pos(-1, 1, 0)).unwrap(), vec![7]);
    assert_eq!(c.lpos(b"l", b"c", pos(-2, 1, 0)).unwrap(), vec![6]);
    assert_eq!(c.lpos(b"l", b"c", pos(1, 0, 0)).unwrap(), vec![2, 6, 7]);
    assert_eq!(c.lpos(b"l", b"c", pos(1, 2, 0)).unwrap(), vec![2, 6]);
    assert_eq!(c.lpos(b"l", b"c", pos(-1, 0, 0)).unwrap(), vec![7, 6, 2]);
    assert_eq!(c.lpos(b"l", b"c", pos(2, 0, 0)).unwrap(), vec![6, 7]);
    assert_eq!(c.lpos(b"l", b"c", pos(4, 0, 0)).unwrap(), Vec::<u64>::new());
    // MAXLEN bounds the elements compared, from where the search starts.
    assert_eq!(c.lpos(b"l", b"c", pos(1, 0, 2)).unwrap(), Vec::<u64>::new());
    assert_eq!(c.lpos(b"l", b"c", pos(1, 0, 3)).unwrap(), vec![2]);
    assert_eq!(c.lpos(b"l", b"c", pos(-1, 0, 1)).unwrap(), vec![7]);
    assert_eq!(c.lpos(b"l", b"a", pos(-1, 0, 7)).unwrap(), Vec::<u64>::new());
    assert_eq!(c.lpos(b"l", b"a", pos(-1, 0, 8)).unwrap(), vec![0]);
    assert_eq!(c.lpos(b"l", b"c", pos(i64::MIN, 0, 0)).unwrap(), Vec::<u64>::new());
    assert_eq!(c.lpos(b"l", b"x", pos(1, 0, 0)).unwrap(), Vec::<u64>::new());
    assert_eq!(c.lpos(b"missing", b"x", pos(1, 0, 0)).unwrap(), Vec::<u64>::new());
    assert!(matches!(c.lpos(b"l", b"c", pos(0, 0, 0)), Err(Error::InvalidArgument(_))));
    c.str_set(b"s", b"x", Default::default()).unwrap();
    assert!(matches!(c.lpos(b"s", b"x", LposOptions::default()), Err(Error::WrongType)));
}

#[test]
fn linsert_before_after_missing_pivot_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    assert_eq!(c.linsert(b"none", InsertWhere::Before, b"a", b"x").unwrap(), 0);
    assert!(!c.exists(b"none").unwrap());
    list(&c, b"l", &["a", "b", "c", "b"]);
    assert_eq!(c.linsert(b"l", InsertWhere::Before, b"zz", b"x").unwrap(), -1);
    assert_eq!(c.linsert(b"l", InsertWhere::Before, b"a", b"0").unwrap(), 5);
    assert_eq!(c.linsert(b"l", InsertWhere::After, b"b", b"b+").unwrap(), 6);
    assert_eq!(c.linsert(b"l", InsertWhere::After, b"b", b"b++").unwrap(), 7);
    assert_eq!(c.linsert(b"l", InsertWhere::Before, b"b", b"-b").unwrap(), 8);
    assert_eq!(c.linsert(b"l", InsertWhere::After, b"c", b"c+").unwrap(), 9);
    assert_eq!(c.linsert(b"l", InsertWhere::After, b"b", b"end").unwrap(), 10);
    assert_eq!(all(&c, b"l"), strs(&["0", "a", "-b", "b", "end", "b++", "b+", "c", "c+", "b"]));
    // After the last element, before the first.
    assert_eq!(c.linsert(b"l", InsertWhere::After, b"c+", b"y").unwrap(), 11);
    c.rpush(b"t", &["only"]).unwrap();
    assert_eq!(c.linsert(b"t", InsertWhere::After, b"only", b"last").unwrap(), 2);
    assert_eq!(c.linsert(b"t", InsertWhere::Before, b"only", b"first").unwrap(), 3);
    assert_eq!(all(&c, b"t"), strs(&["first", "only", "last"]));
    assert_eq!(c.lindex(b"t", -1).unwrap().unwrap().to_vec(), b"last".to_vec());
    c.str_set(b"s", b"x", Default::default()).unwrap();
    assert!(matches!(c.linsert(b"s", InsertWhere::Before, b"x", b"y"), Err(Error::WrongType)));
}

#[test]
fn lrem_from_head_tail_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    let base = ["x", "a", "x", "b", "x", "c", "x"];
    list(&c, b"l", &base);
    assert_eq!(c.lrem(b"l", 2, b"x").unwrap(), 2);
    assert_eq!(all(&c, b"l"), strs(&["a", "b", "x", "c", "x"]));
    assert_eq!(c.lrem(b"l", -1, b"x").unwrap(), 1);
    assert_eq!(all(&c, b"l"), strs(&["a", "b", "x", "c"]));
    assert_eq!(c.lrem(b"l", 0, b"zz").unwrap(), 0);
    assert_eq!(c.lrem(b"l", 0, b"x").unwrap(), 1);
    assert_eq!(all(&c, b"l"), strs(&["a", "b", "c"]));
    assert_eq!(c.lrem(b"l", 100, b"b").unwrap(), 1);
    assert_eq!(c.lrem(b"l", -100, b"a").unwrap(), 1);
    assert_eq!(c.lrem(b"l", 0, b"c").unwrap(), 1);
    assert!(!c.exists(b"l").unwrap(), "an emptied list is deleted");
    assert_eq!(c.lrem(b"l", 0, b"c").unwrap(), 0);
    list(&c, b"m", &base);
    assert_eq!(c.lrem(b"m", -3, b"x").unwrap(), 3);
    assert_eq!(all(&c, b"m"), strs(&["x", "a", "b", "c"]));
    assert_eq!(c.lrem(b"m", i64::MIN, b"x").unwrap(), 1);
    assert_eq!(c.llen(b"m").unwrap(), 3);
    c.str_set(b"s", b"x", Default::default()).unwrap();
    assert!(matches!(c.lrem(b"s", 0, b"x"), Err(Error::WrongType)));
}

#[test]
fn lmove_between_lists_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    assert_eq!(c.lmove(b"none", b"d", ListEnd::Right, ListEnd::Left).unwrap(), None);
    assert!(!c.exists(b"d").unwrap());
    list(&c, b"s", &["1", "2", "3"]);
    assert_eq!(c.lmove(b"s", b"d", ListEnd::Right, ListEnd::Left).unwrap(), Some(b"3".to_vec()));
    assert_eq!(c.lmove(b"s", b"d", ListEnd::Left, ListEnd::Right).unwrap(), Some(b"1".to_vec()));
    assert_eq!(all(&c, b"s"), strs(&["2"]));
    assert_eq!(all(&c, b"d"), strs(&["3", "1"]));
    // Rotation.
    list(&c, b"r", &["a", "b", "c"]);
    assert_eq!(c.lmove(b"r", b"r", ListEnd::Left, ListEnd::Right).unwrap(), Some(b"a".to_vec()));
    assert_eq!(all(&c, b"r"), strs(&["b", "c", "a"]));
    assert_eq!(c.lmove(b"r", b"r", ListEnd::Right, ListEnd::Left).unwrap(), Some(b"a".to_vec()));
    assert_eq!(all(&c, b"r"), strs(&["a", "b", "c"]));
    assert_eq!(c.lmove(b"r", b"r", ListEnd::Right, ListEnd::Right).unwrap(), Some(b"c".to_vec()));
    assert_eq!(all(&c, b"r"), strs(&["a", "b", "c"]));
    // A one-element list moved onto itself stays.
    assert_eq!(c.lmove(b"s", b"s", ListEnd::Left, ListEnd::Right).unwrap(), Some(b"2".to_vec()));
    assert_eq!(all(&c, b"s"), strs(&["2"]));
    // The last element moves out: the source is deleted.
    assert_eq!(c.lmove(b"s", b"d", ListEnd::Left, ListEnd::Left).unwrap(), Some(b"2".to_vec()));
    assert!(!c.exists(b"s").unwrap());
    assert_eq!(all(&c, b"d"), strs(&["2", "3", "1"]));
    // Wrong types change nothing.
    c.str_set(b"str", b"x", Default::default()).unwrap();
    assert!(matches!(c.lmove(b"d", b"str", ListEnd::Left, ListEnd::Left), Err(Error::WrongType)));
    assert_eq!(all(&c, b"d"), strs(&["2", "3", "1"]));
    assert!(matches!(c.lmove(b"str", b"d", ListEnd::Left, ListEnd::Left), Err(Error::WrongType)));
    // A missing source wins over a wrong-typed destination, as in Redis.
    assert_eq!(c.lmove(b"none", b"str", ListEnd::Left, ListEnd::Left).unwrap(), None);
}

#[test]
fn lmpop_takes_from_the_first_non_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    assert_eq!(c.lmpop(&[b"a", b"b"], ListEnd::Left, 1).unwrap(), None);
    list(&c, b"b", &["1", "2", "3"]);
    assert_eq!(c.lmpop(&[b"a", b"b"], ListEnd::Left, 2).unwrap(), Some((1, strs(&["1", "2"]))));
    assert_eq!(c.lmpop(&[b"a", b"b"], ListEnd::Right, 10).unwrap(), Some((1, strs(&["3"]))));
    assert!(!c.exists(b"b").unwrap());
    c.str_set(b"s", b"x", Default::default()).unwrap();
    list(&c, b"l", &["x", "y"]);
    assert!(matches!(c.lmpop(&[&b"s"[..], b"l"], ListEnd::Left, 1), Err(Error::WrongType)));
    assert_eq!(c.lmpop(&[&b"l"[..], b"s"], ListEnd::Right, 1).unwrap(), Some((0, strs(&["y"]))));
}

#[test]
fn ltrim_edges_and_reversioning() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    let items: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    c.rpush(b"l", &items).unwrap();
    // Keeps few: copied under a new version, the rest becomes orphans.
    c.ltrim(b"l", 10, 12).unwrap();
    assert_eq!(all(&c, b"l"), strs(&["10", "11", "12"]));
    assert_eq!(c.lindex(b"l", -1).unwrap().unwrap().to_vec(), b"12".to_vec());
    assert_eq!(c.purge_all_orphans(1000).unwrap(), 100);
    c.lpush(b"l", &["9"]).unwrap();
    c.rpush(b"l", &["13"]).unwrap();
    assert_eq!(all(&c, b"l"), strs(&["9", "10", "11", "12", "13"]));
    // Keeps most: deletes.
    c.ltrim(b"l", 1, -1).unwrap();
    assert_eq!(all(&c, b"l"), strs(&["10", "11", "12", "13"]));
    c.ltrim(b"l", 0, 100).unwrap();
    assert_eq!(c.llen(b"l").unwrap(), 4);
    c.ltrim(b"l", -2, -1).unwrap();
    assert_eq!(all(&c, b"l"), strs(&["12", "13"]));
    c.ltrim(b"l", 5, 10).unwrap();
    assert!(!c.exists(b"l").unwrap());
    c.rpush(b"l", &["a"]).unwrap();
    c.ltrim(b"l", 1, 0).unwrap();
    assert!(!c.exists(b"l").unwrap());
    assert_eq!(all(&c, b"l"), Vec::<Vec<u8>>::new());
    c.ltrim(b"missing", 0, 1).unwrap();
}

#[test]
fn renumbering_rewrites_only_the_shorter_side() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    let n = 4_000usize;
    let items: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    c.rpush(b"l", &items).unwrap();
    // Near the head: the two elements before move; plus the new one and the metadata.
    assert_eq!(writes(&c, || assert_eq!(c.linsert(b"l", InsertWhere::Before, b"e2", b"x").unwrap(), 4_001)), 4);
    // Near the tail.
    assert_eq!(writes(&c, || assert_eq!(c.linsert(b"l", InsertWhere::After, b"e3997", b"y").unwrap(), 4_002)), 4);
    // In the middle: half of the list.
    let w = writes(&c, || assert_eq!(c.linsert(b"l", InsertWhere::After, b"e2000", b"z").unwrap(), 4_003));
    assert!((1_900..=2_100).contains(&w), "{w}");
    // LREM near either end: the few survivors beyond the hit move, the vacated end goes.
    assert_eq!(writes(&c, || assert_eq!(c.lrem(b"l", 1, b"x").unwrap(), 1)), 4);
    assert_eq!(writes(&c, || assert_eq!(c.lrem(b"l", -1, b"y").unwrap(), 1)), 4);
    let mut model: Vec<String> = items.clone();
    model.insert(2001, "z".into());
    assert_eq!(all(&c, b"l"), model.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>());
    // LTRIM dropping most copies what it keeps.
    assert_eq!(writes(&c, || c.ltrim(b"l", -3, -1).unwrap()), 4);
    assert_eq!(all(&c, b"l"), strs(&["e3997", "e3998", "e3999"]));
}

#[test]
fn a_renumbering_too_large_for_one_record_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB segments; 600 elements of 4 KiB: moving half of them needs more than a segment.
    let c = open(dir.path(), Options { segment_size: 1 << 20, max_inline_value: 64 << 10, ..opts() });
    let big = vec![b'v'; 4096];
    for i in 0..600 {
        let mut v = big.clone();
        v.extend_from_slice(format!("{i}").as_bytes());
        c.rpush(b"l", &[v]).unwrap();
    }
    let mut pivot = big.clone();
    pivot.extend_from_slice(b"300");
    let before = all(&c, b"l");
    let r = c.linsert(b"l", InsertWhere::Before, &pivot, b"x");
    assert!(matches!(r, Err(Error::BatchTooLarge { .. })), "{r:?}");
    assert!(matches!(c.lrem(b"l", 1, &pivot), Err(Error::BatchTooLarge { .. })));
    assert!(all(&c, b"l") == before, "nothing changed");
    // Near an end the same operations fit.
    let mut near = big.clone();
    near.extend_from_slice(b"5");
    assert_eq!(c.linsert(b"l", InsertWhere::Before, &near, b"x").unwrap(), 601);
    assert_eq!(c.lindex(b"l", 5).unwrap().unwrap().to_vec(), b"x".to_vec());
    assert_eq!(c.lrem(b"l", 1, b"x").unwrap(), 1);
    assert!(all(&c, b"l") == before);
}

/// Copies a store directory (recursively) as a crash would leave it: the store stays open.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn changes_survive_a_crash_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    list(&c, b"l", &["a", "b", "c", "d", "e"]);
    c.linsert(b"l", InsertWhere::After, b"c", b"c2").unwrap();
    c.lrem(b"l", 0, b"b").unwrap();
    c.lmove(b"l", b"m", ListEnd::Left, ListEnd::Right).unwrap();
    c.lmove(b"l", b"l", ListEnd::Right, ListEnd::Left).unwrap();
    c.ltrim(b"l", 0, 2).unwrap();
    // The files as a process crash leaves them (no close, no checkpoint): recovery replays
    // the log.
    copy_dir(dir.path(), &crashed.path().join("s"));
    drop(c);
    for d in [crashed.path().join("s"), dir.path().to_path_buf()] {
        let c = open(&d, opts());
        assert_eq!(all(&c, b"l"), strs(&["e", "c", "c2"]), "{d:?}");
        assert_eq!(all(&c, b"m"), strs(&["a"]), "{d:?}");
    }
}

// ---- model-based property test -------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Push { key: usize, left: bool, vals: Vec<u8> },
    Pop { key: usize, left: bool, count: usize },
    Insert { key: usize, before: bool, pivot: u8, val: u8 },
    Rem { key: usize, count: i64, val: u8 },
    Move { src: usize, dst: usize, from_left: bool, to_left: bool },
    MPop { left: bool, count: usize },
    Trim { key: usize, start: i64, stop: i64 },
    Set { key: usize, index: i64, val: u8 },
    Pos { key: usize, val: u8, rank: i64, count: u64, maxlen: u64 },
    Checkpoint,
}

const KEYS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let val = 0u8..5;
    prop_oneof![
        4 => (key.clone(), any::<bool>(), prop::collection::vec(val.clone(), 1..6))
            .prop_map(|(key, left, vals)| Op::Push { key, left, vals }),
        2 => (key.clone(), any::<bool>(), 0usize..4).prop_map(|(key, left, count)| Op::Pop { key, left, count }),
        3 => (key.clone(), any::<bool>(), val.clone(), val.clone())
            .prop_map(|(key, before, pivot, val)| Op::Insert { key, before, pivot, val }),
        3 => (key.clone(), -3i64..4, val.clone()).prop_map(|(key, count, val)| Op::Rem { key, count, val }),
        2 => (key.clone(), key.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(src, dst, from_left, to_left)| Op::Move { src, dst, from_left, to_left }),
        1 => (any::<bool>(), 1usize..4).prop_map(|(left, count)| Op::MPop { left, count }),
        1 => (key.clone(), -8i64..8, -8i64..8).prop_map(|(key, start, stop)| Op::Trim { key, start, stop }),
        1 => (key.clone(), -8i64..8, val.clone()).prop_map(|(key, index, val)| Op::Set { key, index, val }),
        2 => (key, val, prop_oneof![-3i64..0, 1i64..4], 0u64..3, 0u64..6)
            .prop_map(|(key, val, rank, count, maxlen)| Op::Pos { key, val, rank, count, maxlen }),
        1 => Just(Op::Checkpoint),
    ]
}

fn key_name(k: usize) -> Vec<u8> {
    format!("list{k}").into_bytes()
}

fn redis_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 { (len + start).max(0) } else { start };
    let e = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

fn model_pos(l: &VecDeque<u8>, val: u8, rank: i64, count: u64, maxlen: u64) -> Vec<u64> {
    let n = l.len();
    let order: Vec<usize> = if rank > 0 { (0..n).collect() } else { (0..n).rev().collect() };
    let scan = if maxlen == 0 { n } else { (maxlen as usize).min(n) };
    let hits: Vec<u64> = order[..scan].iter().filter(|&&i| l[i] == val).map(|&i| i as u64).collect();
    let skip = (rank.unsigned_abs() - 1) as usize;
    let rest = hits.into_iter().skip(skip);
    if count == 0 {
        rest.collect()
    } else {
        rest.take(count as usize).collect()
    }
}

fn run_model(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), Options { memtable_max_entries: 300, ..opts() });
    let mut model: Vec<VecDeque<u8>> = vec![VecDeque::new(); KEYS];
    let end = |left: bool| if left { ListEnd::Left } else { ListEnd::Right };
    for (step, op) in ops.into_iter().enumerate() {
        match op.clone() {
            Op::Push { key, left, vals } => {
                let vs: Vec<Vec<u8>> = vals.iter().map(|v| vec![*v]).collect();
                let n = if left { c.lpush(&key_name(key), &vs) } else { c.rpush(&key_name(key), &vs) }.unwrap();
                for v in vals {
                    if left {
                        model[key].push_front(v)
                    } else {
                        model[key].push_back(v)
                    }
                }
                assert_eq!(n, model[key].len() as u64);
            }
            Op::Pop { key, left, count } => {
                let got = if left { c.lpop(&key_name(key), count) } else { c.rpop(&key_name(key), count) }.unwrap();
                let m = &mut model[key];
                let want: Vec<Vec<u8>> = (0..count.min(m.len()))
                    .map(|_| vec![if left { m.pop_front() } else { m.pop_back() }.unwrap()])
                    .collect();
                assert_eq!(got, want, "{op:?}");
            }
            Op::Insert { key, before, pivot, val } => {
                let at = if before { InsertWhere::Before } else { InsertWhere::After };
                let got = c.linsert(&key_name(key), at, &[pivot], &[val]).unwrap();
                let m = &mut model[key];
                let want = if m.is_empty() {
                    0
                } else if let Some(i) = m.iter().position(|&x| x == pivot) {
                    m.insert(if before { i } else { i + 1 }, val);
                    m.len() as i64
                } else {
                    -1
                };
                assert_eq!(got, want, "{op:?}");
            }
            Op::Rem { key, count, val } => {
                let got = c.lrem(&key_name(key), count, &[val]).unwrap();
                let m = &mut model[key];
                let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                let mut idx: Vec<usize> = if count >= 0 {
                    (0..m.len()).filter(|&i| m[i] == val).take(limit).collect()
                } else {
                    (0..m.len()).rev().filter(|&i| m[i] == val).take(limit).collect()
                };
                idx.sort_unstable();
                for i in idx.iter().rev() {
                    m.remove(*i);
                }
                assert_eq!(got, idx.len() as u64, "{op:?}");
            }
            Op::Move { src, dst, from_left, to_left } => {
                let got = c.lmove(&key_name(src), &key_name(dst), end(from_left), end(to_left)).unwrap();
                let v = if from_left { model[src].pop_front() } else { model[src].pop_back() };
                if let Some(v) = v {
                    if to_left {
                        model[dst].push_front(v)
                    } else {
                        model[dst].push_back(v)
                    }
                }
                assert_eq!(got, v.map(|v| vec![v]), "{op:?}");
            }
            Op::MPop { left, count } => {
                let keys: Vec<Vec<u8>> = (0..KEYS).map(key_name).collect();
                let got = c.lmpop(&keys, end(left), count).unwrap();
                let want = model.iter_mut().enumerate().find(|(_, m)| !m.is_empty()).map(|(i, m)| {
                    let items = (0..count.min(m.len()))
                        .map(|_| vec![if left { m.pop_front() } else { m.pop_back() }.unwrap()])
                        .collect();
                    (i, items)
                });
                assert_eq!(got, want, "{op:?}");
            }
            Op::Trim { key, start, stop } => {
                c.ltrim(&key_name(key), start, stop).unwrap();
                let m = &mut model[key];
                *m = match redis_range(start, stop, m.len()) {
                    Some((s, e)) => m.range(s..=e).copied().collect(),
                    None => VecDeque::new(),
                };
            }
            Op::Set { key, index, val } => {
                let got = c.lset(&key_name(key), index, &[val]);
                let m = &mut model[key];
                let i = if index < 0 { m.len() as i64 + index } else { index };
                if m.is_empty() {
                    assert!(matches!(got, Err(Error::InvalidArgument(ref s)) if s == "no such key"), "{got:?}");
                } else if (0..m.len() as i64).contains(&i) {
                    got.unwrap();
                    m[i as usize] = val;
                } else {
                    assert!(matches!(got, Err(Error::InvalidArgument(ref s)) if s == "index out of range"), "{got:?}");
                }
            }
            Op::Pos { key, val, rank, count, maxlen } => {
                let got = c.lpos(&key_name(key), &[val], LposOptions { rank, count, maxlen }).unwrap();
                assert_eq!(got, model_pos(&model[key], val, rank, count, maxlen), "{op:?}");
            }
            Op::Checkpoint => c.store().checkpoint().unwrap(),
        }
        // Every list matches its model after every step.
        for (k, m) in model.iter().enumerate() {
            let want: Vec<Vec<u8>> = m.iter().map(|v| vec![*v]).collect();
            assert_eq!(all(&c, &key_name(k)), want, "list {k} after step {step} ({op:?})");
            // The batched read of a range agrees with the scan, whole and in part.
            let with = |start: i64, stop: i64| {
                c.lrange_with(&key_name(k), start, stop, |items| items.iter().map(|v| v.to_vec()).collect::<Vec<_>>())
                    .unwrap()
            };
            assert_eq!(with(0, -1), want, "lrange_with, list {k} after step {step}");
            let inner: Vec<Vec<u8>> = match redis_range(1, -2, m.len()) {
                Some((s, e)) => want[s..=e].to_vec(),
                None => Vec::new(),
            };
            assert_eq!(with(1, -2), inner, "lrange_with 1 -2, list {k} after step {step}");
            assert_eq!(c.llen(&key_name(k)).unwrap(), m.len() as u64);
            assert_eq!(c.exists(&key_name(k)).unwrap(), !m.is_empty(), "empty lists are deleted");
            if let Some(last) = m.back() {
                assert_eq!(c.lindex(&key_name(k), -1).unwrap().unwrap().to_vec(), vec![*last]);
                assert_eq!(c.lindex(&key_name(k), 0).unwrap().unwrap().to_vec(), vec![m[0]]);
            }
        }
    }
    // Orphans left by trims are reclaimable without touching live elements.
    c.purge_all_orphans(100).unwrap();
    for (k, m) in model.iter().enumerate() {
        let want: Vec<Vec<u8>> = m.iter().map(|v| vec![*v]).collect();
        assert_eq!(all(&c, &key_name(k)), want, "list {k} after the orphan purge");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn lists_match_a_vecdeque_model(ops in prop::collection::vec(op(), 1..120)) {
        run_model(ops);
    }
}

/// `lrange_with` reads short ranges as a batch of point lookups and long ones as a scan; both
/// agree with `lrange`, inside a transaction group too (where reads see its own writes).
#[test]
fn lrange_with_agrees_with_lrange_short_long_and_in_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), opts());
    let n = pmemkv::collections::LRANGE_BATCH as usize * 3;
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
    c.rpush(b"l", &vals[..n / 2]).unwrap();
    c.store().checkpoint().unwrap();
    c.lpush(b"l", &vals[n / 2..]).unwrap();
    let collect = |items: &[&[u8]]| items.iter().map(|v| v.to_vec()).collect::<Vec<_>>();
    for (start, stop) in [(0, 99), (0, -1), (5, 5), (-100, -1), (100, 50), (0, n as i64 + 10), (1500, 1600)] {
        let want: Vec<Vec<u8>> = c.lrange(b"l", start, stop).unwrap().iter().map(|v| v.to_vec()).collect();
        assert_eq!(c.lrange_with(b"l", start, stop, collect).unwrap(), want, "{start} {stop}");
    }
    assert!(c.lrange_with(b"missing", 0, -1, |items| items.is_empty()).unwrap());
    c.store()
        .atomic(|| {
            c.rpush(b"l", &[b"tail".to_vec()])?;
            let last = c.lrange_with(b"l", -2, -1, collect)?;
            assert_eq!(last, vec![vals[n / 2 - 1].clone(), b"tail".to_vec()]);
            Ok(())
        })
        .unwrap();
}
