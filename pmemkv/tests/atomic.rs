//! Atomic groups (`Store::atomic`): many operations by one thread, committed as one record.

use std::sync::Arc;

use pmemkv::collections::{StreamId, XAddId};
use pmemkv::{Collections, Error, Options, Store, WriteBatch};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options { background: false, ..Options::default() }).unwrap()
}

#[test]
fn group_writes_are_visible_inside_and_committed_as_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(open(tmp.path()));
    store.put(b"old", b"1").unwrap();
    store.put(b"gone", b"x").unwrap();
    let batches_before = store.stats().batches;
    let other = store.clone();
    store
        .atomic(|| {
            store.put(b"a", b"1")?;
            let mut b = WriteBatch::new();
            b.put("b", "2").delete("gone");
            store.write(&b)?;
            store.update(|t| {
                let a = t.get(b"a")?.expect("the group's put is visible to a transaction in it");
                t.put(b"c", &[&*a, b"+"].concat())
            })?;
            store.expire(b"old", Some(u64::MAX / 2))?;
            // This thread sees the group's writes through every read path.
            assert_eq!(&*store.get(b"c")?.unwrap(), b"1+");
            assert!(store.get(b"gone")?.is_none());
            assert!(store.meta(b"old")?.unwrap().expire_at_ms.is_some());
            let keys: Vec<Vec<u8>> = store.iter().keys().map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
            assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"old".to_vec()]);
            // Another thread sees none of it yet.
            let seen = std::thread::scope(|s| s.spawn(|| other.get(b"a").unwrap().is_some()).join().unwrap());
            assert!(!seen);
            let _ = store.stats(); // does not deadlock on the writer lock the group holds
            Ok(())
        })
        .unwrap();
    assert_eq!(store.stats().batches, batches_before + 1, "one record for the whole group");
    assert_eq!(&*store.get(b"c").unwrap().unwrap(), b"1+");
    assert!(store.get(b"gone").unwrap().is_none());
    drop(other);
    let store = Arc::try_unwrap(store).ok().unwrap();
    store.close().unwrap();
    let store = open(tmp.path());
    assert_eq!(&*store.get(b"b").unwrap().unwrap(), b"2");
    assert!(store.meta(b"old").unwrap().unwrap().expire_at_ms.is_some());
}

#[test]
fn a_failed_group_writes_nothing_and_a_failed_member_only_undoes_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let r: Result<(), Error> = store.atomic(|| {
        store.put(b"x", b"1")?;
        Err(Error::InvalidArgument("abort".into()))
    });
    assert!(r.is_err());
    assert!(store.get(b"x").unwrap().is_none());

    store
        .atomic(|| {
            store.put(b"k", b"before")?;
            let failed: Result<(), Error> = store.update(|t| {
                t.put(b"k", b"inside failed txn")?;
                t.put(b"other", b"y")?;
                t.delete(b"k")?;
                Err(Error::InvalidArgument("member fails".into()))
            });
            assert!(failed.is_err());
            assert_eq!(&*store.get(b"k")?.unwrap(), b"before", "the failed member's writes are undone");
            assert!(store.get(b"other")?.is_none());
            store.put(b"after", b"z")?;
            Ok(())
        })
        .unwrap();
    assert_eq!(&*store.get(b"k").unwrap().unwrap(), b"before");
    assert_eq!(&*store.get(b"after").unwrap().unwrap(), b"z");
    assert!(store.get(b"other").unwrap().is_none());
}

#[test]
fn collections_join_the_group() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(open(tmp.path()));
    let c = Collections::new(store.clone());
    c.hset(b"h", &[(b"f", b"0")]).unwrap();
    store
        .atomic(|| {
            c.hset(b"h", &[(b"f", b"1"), (b"g", b"2")])?;
            c.rpush(b"queue", &[b"job1", b"job2"])?;
            assert_eq!(c.lpop(b"queue", 1)?, vec![b"job1".to_vec()]);
            c.sadd(b"s", &[b"m"])?;
            assert_eq!(c.hlen(b"h")?, 2);
            assert_eq!(c.llen(b"queue")?, 1);
            Ok(())
        })
        .unwrap();
    assert_eq!(&*c.hget(b"h", b"f").unwrap().unwrap(), b"1");
    assert_eq!(
        c.lrange(b"queue", 0, -1).unwrap().iter().map(|v| v.to_vec()).collect::<Vec<_>>(),
        vec![b"job2".to_vec()]
    );
    let r: Result<(), Error> = store.atomic(|| {
        c.rpush(b"queue", &[b"job3"])?;
        c.sadd(b"s", &[b"n"])?;
        Err(Error::InvalidArgument("abort".into()))
    });
    assert!(r.is_err());
    assert_eq!(c.llen(b"queue").unwrap(), 1);
    assert_eq!(c.scard(b"s").unwrap(), 1);
}

#[test]
fn groups_refuse_what_cannot_be_grouped_and_nest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    store
        .atomic(|| {
            assert!(matches!(store.blob_writer(b"b"), Err(Error::InvalidArgument(_))));
            assert!(matches!(store.checkpoint(), Err(Error::InvalidArgument(_))));
            assert!(matches!(store.compact(true), Err(Error::InvalidArgument(_))));
            store.atomic(|| store.put(b"inner", b"1").map(drop))?;
            assert!(store.in_atomic_group());
            // A write through the store from inside a transaction's own closure is an error,
            // not a deadlock.
            let r = store.update(|_t| store.put(b"nested", b"1").map(drop));
            assert!(matches!(r, Err(Error::InvalidArgument(_))));
            Ok(())
        })
        .unwrap();
    assert!(!store.in_atomic_group());
    assert!(store.get(b"inner").unwrap().is_some());
    // A panic inside a group does not leave the thread in a group.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = store.atomic(|| -> Result<(), Error> { panic!("boom") });
    }));
    assert!(r.is_err());
    assert!(!store.in_atomic_group());
    store.put(b"after-panic", b"1").unwrap();
}

/// `key_count` inside a group counts the group's pending writes as committing them would
/// (the server's `DBSIZE` inside `MULTI`); other threads see only committed counts until the
/// group commits, and the totals after the commit are the same.
#[test]
fn key_count_inside_a_group_includes_its_pending_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(open(tmp.path()));
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.put(b"e", b"3").unwrap();
    store.expire(b"e", Some(u64::MAX / 2)).unwrap();
    assert_eq!(store.key_count(b""), Some((3, 1)));
    let other = store.clone();
    store
        .atomic(|| {
            store.delete(b"a")?;
            assert_eq!(store.key_count(b""), Some((2, 1)));
            store.put(b"new", b"x")?;
            store.expire(b"new", Some(u64::MAX / 2))?;
            assert_eq!(store.key_count(b""), Some((3, 2)));
            store.put(b"e", b"overwritten, no expiry")?;
            assert_eq!(store.key_count(b""), Some((3, 1)));
            store.expire(b"b", Some(u64::MAX / 2))?;
            assert_eq!(store.key_count(b""), Some((3, 2)));
            // A delete of an absent key and a prefix that matches nothing change nothing.
            store.delete(b"nope")?;
            assert_eq!(store.key_count(b""), Some((3, 2)));
            assert_eq!(store.key_count(b"n"), Some((1, 1)));
            assert_eq!(store.key_count(b"z"), Some((0, 0)));
            let seen = std::thread::scope(|s| s.spawn(|| other.key_count(b"")).join().unwrap());
            assert_eq!(seen, Some((3, 1)), "another thread sees the group's counts before it commits");
            Ok(())
        })
        .unwrap();
    assert_eq!(store.key_count(b""), Some((3, 2)));
    assert_eq!(store.key_count(b"n"), Some((1, 1)));
}

/// Renaming or copying a collection onto a key whose earlier collection was deleted in the
/// same group must not bring that collection's elements back: the group's transactions share
/// one version, so the copy needs a version whose element spaces are empty.
#[test]
fn a_collection_renamed_over_one_made_in_the_same_group_has_only_its_own_elements() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(open(tmp.path()));
    let c = Collections::new(store.clone());
    store
        .atomic(|| {
            c.hset(b"b", &[("old", "1")])?;
            c.hset(b"a", &[("new", "2")])?;
            c.rename_key(b"a", b"b", false)?;
            c.sadd(b"s", &["old"])?;
            c.delete_key(b"s")?;
            c.sadd(b"t", &["new"])?;
            c.copy_key(b"t", b"s", true)?;
            // A stream's consumer groups live in a third element space.
            c.xadd(b"x", XAddId::Auto, &[("f", "v")])?;
            c.xgroup_create(b"x", b"g", Some(StreamId::MIN), None, false)?;
            c.delete_key(b"x")?;
            c.xadd(b"x", XAddId::Auto, &[("f", "v")])?;
            Ok(())
        })
        .unwrap();
    let fields: Vec<Vec<u8>> = c.hgetall(b"b").unwrap().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec![b"new".to_vec()]);
    assert_eq!(c.hlen(b"b").unwrap(), 1);
    assert_eq!(c.smembers(b"s").unwrap(), vec![b"new".to_vec()]);
    assert!(c.xinfo_groups(b"x").unwrap().unwrap().is_empty(), "the deleted stream's group came back");
}
