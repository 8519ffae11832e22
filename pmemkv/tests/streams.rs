//! Engine tests of stream consumer groups: the PEL, consumers and group counters against a
//! simple model, persistence across reopen, O(1)-per-id acks, orphaning of group keys when
//! the stream is deleted or overwritten (and their purge), RENAME keeping groups, and the
//! trimming strategies.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use common::TestClock;
use pmemkv::collections::{
    keys, ClaimOptions, GroupCreate, GroupOutcome, GroupRead, StreamId, StreamTrim, TrimStrategy, XAddId,
};
use pmemkv::{Collections, Options, Store};

fn opts(clock: &TestClock) -> Options {
    Options { segment_size: 4 << 20, max_inline_value: 1 << 20, clock: clock.clock(), ..Options::default() }
}

fn open(dir: &Path, clock: &TestClock) -> Collections {
    Collections::new(Arc::new(Store::open(dir, opts(clock)).unwrap()))
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn add(c: &Collections, key: &[u8], ms: u64) {
    c.xadd(key, XAddId::Explicit(id(ms, 0)), &[(b"n".as_slice(), ms.to_string().as_bytes())]).unwrap();
}

/// Group keys (the `G` space) of every stream in the store.
fn group_keys(c: &Collections) -> usize {
    c.store().prefix(&[keys::GROUP_SPACE]).count()
}

fn pending_of(c: &Collections, key: &[u8], group: &[u8]) -> BTreeMap<StreamId, (Vec<u8>, u64)> {
    c.xpending_range(key, group, StreamId::MIN, StreamId::MAX, usize::MAX, None, 0)
        .unwrap()
        .done()
        .unwrap()
        .into_iter()
        .map(|p| (p.id, (p.consumer, p.delivery_count)))
        .collect()
}

#[test]
fn group_state_is_persisted_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000_000);
    let c = open(dir.path(), &clock);
    for ms in 1..=10 {
        add(&c, b"s", ms);
    }
    assert_eq!(c.xgroup_create(b"s", b"g", Some(StreamId::MIN), None, false).unwrap(), GroupCreate::Created);
    assert_eq!(c.xgroup_create(b"s", b"g", None, None, false).unwrap(), GroupCreate::Exists);
    assert_eq!(c.xgroup_create(b"nokey", b"g", None, None, false).unwrap(), GroupCreate::NoStream);
    assert_eq!(c.xreadgroup(b"s", b"nog", b"a", GroupRead::New, None, false).unwrap(), GroupOutcome::NoGroup);

    let a = c.xreadgroup(b"s", b"g", b"a", GroupRead::New, Some(4), false).unwrap().done().unwrap();
    assert_eq!(a.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [1, 2, 3, 4]);
    clock.advance(500);
    let b = c.xreadgroup(b"s", b"g", b"b", GroupRead::New, Some(4), false).unwrap().done().unwrap();
    assert_eq!(b.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [5, 6, 7, 8]);
    // NOACK: delivered, not pending.
    let n = c.xreadgroup(b"s", b"g", b"b", GroupRead::New, Some(1), true).unwrap().done().unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(c.xack(b"s", b"g", &[id(2, 0), id(2, 0), id(6, 0), id(99, 0)]).unwrap(), 2);

    let check = |c: &Collections| {
        let p = pending_of(c, b"s", b"g");
        let expect: Vec<(u64, &[u8])> = vec![(1, b"a"), (3, b"a"), (4, b"a"), (5, b"b"), (7, b"b"), (8, b"b")];
        assert_eq!(p.iter().map(|(k, v)| (k.ms, v.0.as_slice())).collect::<Vec<_>>(), expect);
        let s = c.xpending_summary(b"s", b"g").unwrap().done().unwrap();
        assert_eq!(s.count, 6);
        assert_eq!(s.range, Some((id(1, 0), id(8, 0))));
        assert_eq!(s.consumers, vec![(b"a".to_vec(), 3), (b"b".to_vec(), 3)]);
        let g = &c.xinfo_groups(b"s").unwrap().unwrap()[0];
        assert_eq!((g.last_id, g.entries_read, g.pending, g.consumers, g.lag), (id(9, 0), Some(9), 6, 2, Some(1)));
        let cs = c.xinfo_consumers(b"s", b"g").unwrap().done().unwrap();
        assert_eq!(
            cs.iter().map(|x| (x.name.as_slice(), x.pending)).collect::<Vec<_>>(),
            [(&b"a"[..], 3), (&b"b"[..], 3)]
        );
        assert_eq!((cs[0].seen_time, cs[1].seen_time), (1_000_000, 1_000_500));
        let mine =
            c.xpending_range(b"s", b"g", StreamId::MIN, StreamId::MAX, 10, Some(b"b"), 0).unwrap().done().unwrap();
        assert_eq!(mine.iter().map(|p| p.id.ms).collect::<Vec<_>>(), [5, 7, 8]);
    };
    check(&c);
    drop(c);
    let c = open(dir.path(), &clock);
    check(&c);

    // History reads bump the delivery count; a deleted entry comes back without fields.
    c.xdel(b"s", &[id(3, 0)]).unwrap();
    let h = c.xreadgroup(b"s", b"g", b"a", GroupRead::History(StreamId::MIN), None, false).unwrap().done().unwrap();
    assert_eq!(h.iter().map(|e| (e.id.ms, e.fields.is_some())).collect::<Vec<_>>(), [(1, true), (3, false), (4, true)]);
    let p = pending_of(&c, b"s", b"g");
    assert_eq!((p[&id(1, 0)].1, p[&id(3, 0)].1), (2, 1));

    // Idle filter, XCLAIM and XAUTOCLAIM.
    clock.advance(10_000);
    let idle = c.xpending_range(b"s", b"g", StreamId::MIN, StreamId::MAX, 10, None, 5_000).unwrap().done().unwrap();
    assert_eq!(idle.iter().map(|p| p.id.ms).collect::<Vec<_>>(), [1, 3, 4, 5, 7, 8]);
    let claimed = c
        .xclaim(b"s", b"g", b"c", 5_000, &[id(3, 0), id(5, 0), id(6, 0)], ClaimOptions::default())
        .unwrap()
        .done()
        .unwrap();
    // 3 was deleted (dropped from the PEL), 6 is not pending (no FORCE).
    assert_eq!(claimed.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [5]);
    let forced = ClaimOptions { force: true, just_id: true, ..Default::default() };
    assert_eq!(c.xclaim(b"s", b"g", b"c", 0, &[id(6, 0)], forced).unwrap().done().unwrap().len(), 1);
    let r = c.xautoclaim(b"s", b"g", b"d", 5_000, StreamId::MIN, 2, false).unwrap().done().unwrap();
    assert_eq!(r.claimed.iter().map(|e| e.id.ms).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(r.next, id(5, 0));
    let p = pending_of(&c, b"s", b"g");
    assert_eq!(
        p.iter().map(|(k, v)| (k.ms, v.0.as_slice())).collect::<Vec<_>>(),
        [(1, &b"d"[..]), (4, b"d"), (5, b"c"), (6, b"c"), (7, b"b"), (8, b"b")]
    );
    drop(c);
    let c = open(dir.path(), &clock);
    let s = c.xpending_summary(b"s", b"g").unwrap().done().unwrap();
    assert_eq!(s.consumers, vec![(b"b".to_vec(), 2), (b"c".to_vec(), 2), (b"d".to_vec(), 2)]);
    assert_eq!(c.xgroup_del_consumer(b"s", b"g", b"c").unwrap(), GroupOutcome::Done(2));
    assert_eq!(c.xpending_summary(b"s", b"g").unwrap().done().unwrap().count, 4);
    assert_eq!(c.xinfo_groups(b"s").unwrap().unwrap()[0].consumers, 3);
}

#[test]
fn deleting_or_renaming_a_stream_handles_its_group_keys() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(5_000);
    let c = open(dir.path(), &clock);
    for ms in 1..=5 {
        add(&c, b"s", ms);
    }
    c.xgroup_create(b"s", b"g", Some(StreamId::MIN), None, false).unwrap();
    c.xreadgroup(b"s", b"g", b"a", GroupRead::New, None, false).unwrap();
    // Group record + consumer + 5 PEL entries + 5 index entries.
    assert_eq!(group_keys(&c), 12);

    // RENAME carries the groups along.
    assert_eq!(c.rename_key(b"s", b"t", false).unwrap(), Some(true));
    assert_eq!(c.xpending_summary(b"t", b"g").unwrap().done().unwrap().count, 5);
    assert_eq!(c.purge_all_orphans(3).unwrap(), 5 + 12);
    assert_eq!(group_keys(&c), 12);

    // DEL orphans them; a new stream under the name has no groups; the purge reclaims them.
    c.delete_key(b"t").unwrap();
    add(&c, b"t", 1);
    assert_eq!(c.xinfo_groups(b"t").unwrap().unwrap(), vec![]);
    assert_eq!(c.xpending_summary(b"t", b"g").unwrap(), GroupOutcome::NoGroup);
    assert_eq!(c.purge_all_orphans(4).unwrap(), 5 + 12);
    assert_eq!(group_keys(&c), 0);

    // DESTROY deletes the group's keys at once.
    c.xgroup_create(b"t", b"g", Some(StreamId::MIN), None, false).unwrap();
    c.xreadgroup(b"t", b"g", b"a", GroupRead::New, None, false).unwrap();
    assert_eq!(group_keys(&c), 4);
    assert_eq!(c.xgroup_destroy(b"t", b"g").unwrap(), Some(true));
    assert_eq!(group_keys(&c), 0);
    assert_eq!(c.xgroup_destroy(b"t", b"g").unwrap(), Some(false));
    assert_eq!(c.xgroup_destroy(b"nokey", b"g").unwrap(), None);
}

#[test]
fn acks_write_the_same_whatever_the_pel_size() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(5_000);
    let c = open(dir.path(), &clock);
    let mut written = Vec::new();
    for (key, n) in [(b"a", 20u64), (b"b", 2_000)] {
        for ms in 1..=n {
            add(&c, key, ms);
        }
        c.xgroup_create(key, b"g", Some(StreamId::MIN), None, false).unwrap();
        c.xreadgroup(key, b"g", b"c", GroupRead::New, None, false).unwrap();
        let before = c.store().stats().log_bytes;
        assert_eq!(c.xack(key, b"g", &[id(10, 0), id(11, 0), id(12, 0)]).unwrap(), 3);
        written.push(c.store().stats().log_bytes - before);
        assert_eq!(pending_of(&c, key, b"g").len() as u64, n - 3);
    }
    // k acks are k point updates (plus the group and consumer records), not a PEL rewrite.
    assert_eq!(written[0], written[1]);
}

#[test]
fn trimming_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(5_000);
    let c = open(dir.path(), &clock);
    for ms in 1..=250 {
        add(&c, b"s", ms);
    }
    let t = |strategy, approx, limit| StreamTrim { strategy, approx, limit };
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MaxLen(200), true, 0)).unwrap(), 0);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MaxLen(120), true, 0)).unwrap(), 100);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MinId(id(240, 0)), true, 0)).unwrap(), 100);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MinId(id(240, 0)), true, 0)).unwrap(), 0);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MinId(id(240, 0)), false, 0)).unwrap(), 39);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MaxLen(0), true, 5)).unwrap(), 0);
    assert_eq!(c.xtrim(b"s", t(TrimStrategy::MaxLen(3), false, 0)).unwrap(), 8);
    let left: Vec<u64> =
        c.xrange(b"s", Bound::Unbounded, Bound::Unbounded, None).unwrap().iter().map(|e| e.id.ms).collect();
    assert_eq!(left, [248, 249, 250]);
    assert_eq!(c.stream_info(b"s").unwrap().unwrap().first_id, Some(id(248, 0)));
}
