//! Concurrency tests of the store: readers and writers (with a thread checkpointing and
//! compacting in a loop) on tiny segments, with self-checking values and per-key counters
//! that must never go backwards; group commit of `Durability::Always` writers; a `scan`
//! loop racing inserts and deletes; and zero-copy `ValueRef`s that outlive the compaction
//! (and unlink) of the segment they point into.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::{decode_value, encode_value, files_with_prefix, open, small_opts, Rng};
use pmemkv::{Durability, Options, Store};

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<pmemkv::ValueRef>();
}

fn writer_key(w: usize, i: usize) -> Vec<u8> {
    format!("w{w}/key{i:03}").into_bytes()
}

/// Keys per writer, ops per writer.
const KEYS_PER_WRITER: usize = 24;
const WRITER_OPS: usize = 2000;

/// What a writer left in each of its keys: `Some(counter)` or deleted.
type Final = Vec<Option<u64>>;

fn check_final(store: &Store, finals: &[Final]) {
    let mut live = 0;
    for (w, keys) in finals.iter().enumerate() {
        for (i, want) in keys.iter().enumerate() {
            let k = writer_key(w, i);
            let got = store.get(&k).unwrap();
            let got = got.map(|v| decode_value(&k, &v).unwrap());
            assert_eq!(got, *want, "final value of {:?}", String::from_utf8_lossy(&k));
            live += want.is_some() as u64;
        }
    }
    assert_eq!(store.verify().unwrap(), live, "verify() counts every live key once");
    assert_eq!(store.iter().count() as u64, live);
}

#[test]
fn readers_writers_and_maintenance() {
    const WRITERS: usize = 3;
    const READERS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { max_inline_value: 4 << 10, ..small_opts(64 << 10, 64, true) };
    let store = Arc::new(open(dir.path(), &opts));
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS + READERS + 1));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || -> Final {
                let mut rng = Rng::new(w as u64 + 1);
                let mut state: Final = vec![None; KEYS_PER_WRITER];
                let mut counters = [0u64; KEYS_PER_WRITER];
                start.wait();
                for op in 0..WRITER_OPS {
                    let i = rng.below(KEYS_PER_WRITER as u64) as usize;
                    let k = writer_key(w, i);
                    if rng.below(10) == 0 {
                        let was = store.delete(&k).unwrap();
                        assert_eq!(was, state[i].is_some(), "delete of {k:?} reported the wrong prior state");
                        state[i] = None;
                    } else {
                        counters[i] += 1;
                        let v = encode_value(&k, counters[i], 700);
                        if op % 5 == 0 {
                            // Same content through a batch touching two keys of this writer.
                            let j = (i + 1) % KEYS_PER_WRITER;
                            counters[j] += 1;
                            let k2 = writer_key(w, j);
                            let mut b = pmemkv::WriteBatch::new();
                            b.put(k.clone(), v).put(k2.clone(), encode_value(&k2, counters[j], 700));
                            store.write(&b).unwrap();
                            state[j] = Some(counters[j]);
                        } else {
                            store.put(&k, &v).unwrap();
                        }
                        state[i] = Some(counters[i]);
                    }
                    // Read-your-writes: nobody else writes this key.
                    let got = store.get(&k).unwrap().map(|v| decode_value(&k, &v).unwrap());
                    assert_eq!(got, state[i], "writer {w} does not read back its own write of {k:?}");
                }
                state
            })
        })
        .collect();

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (store, start, done) = (store.clone(), start.clone(), done.clone());
            std::thread::spawn(move || -> u64 {
                let mut rng = Rng::new(100 + r as u64);
                let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
                let mut reads = 0u64;
                start.wait();
                while !done.load(Ordering::Acquire) && reads < 200_000 {
                    let w = rng.below(WRITERS as u64) as usize;
                    if rng.below(50) == 0 {
                        // An iteration: every value must be well formed for its key.
                        for item in store.prefix(format!("w{w}/").as_bytes()) {
                            let (k, v) = item.unwrap();
                            if let Err(e) = decode_value(&k, &v) {
                                panic!("reader {r}: iteration returned a bad value: {e}");
                            }
                            reads += 1;
                        }
                        continue;
                    }
                    let k = writer_key(w, rng.below(KEYS_PER_WRITER as u64) as usize);
                    let got = if reads.is_multiple_of(2) {
                        store.get(&k).unwrap().map(|v| decode_value(&k, &v))
                    } else {
                        store.get_with(&k, |v| v.map(|v| decode_value(&k, v))).unwrap()
                    };
                    reads += 1;
                    if let Some(c) = got {
                        let c = c.unwrap_or_else(|e| panic!("reader {r}: {e}"));
                        let prev = seen.entry(k.clone()).or_insert(0);
                        assert!(c >= *prev, "reader {r}: counter of {k:?} went back from {} to {c}", *prev);
                        *prev = c;
                    }
                }
                reads
            })
        })
        .collect();

    let maint = {
        let (store, start, done) = (store.clone(), start.clone(), done.clone());
        std::thread::spawn(move || {
            start.wait();
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) {
                match rounds % 3 {
                    0 => store.checkpoint().unwrap(),
                    1 => store.compact(false).unwrap(),
                    _ => store.compact(true).unwrap(),
                }
                rounds += 1;
            }
            rounds
        })
    };

    let finals: Vec<Final> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    done.store(true, Ordering::Release);
    let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    let rounds = maint.join().unwrap();
    assert!(reads > 0 && rounds > 0);
    let stats = store.stats();
    assert!(stats.checkpoints > 0, "{stats:?}");

    check_final(&store, &finals);
    drop(Arc::try_unwrap(store).ok().expect("all threads joined"));
    let store = open(dir.path(), &opts);
    check_final(&store, &finals);
}

/// Overwrites of a key whose older versions sit in index runs: a reader must never see an
/// older version (or no value) while the memtable entry is being replaced.
#[test]
fn overwrite_never_exposes_an_older_version() {
    const READERS: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), &small_opts(16 << 20, 1_000_000, false)));
    for round in 0..3u64 {
        store.put(b"hot", &round.to_le_bytes()).unwrap();
        store.checkpoint().unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0u64;
                while !done.load(Ordering::Acquire) {
                    let v = store.get(b"hot").unwrap().expect("a live key read as absent during an overwrite");
                    let c = u64::from_le_bytes(v[..8].try_into().unwrap());
                    assert!(c >= last, "read version {c} after {last}");
                    last = c;
                    let exists = store.exists(b"hot").unwrap();
                    assert!(exists, "exists() false for a live key during an overwrite");
                }
            })
        })
        .collect();
    for i in 3..30_000u64 {
        store.put(b"hot", &i.to_le_bytes()).unwrap();
    }
    done.store(true, Ordering::Release);
    for h in readers {
        h.join().unwrap();
    }
}

#[test]
fn always_durability_shares_fsyncs() {
    const THREADS: usize = 32;
    const PUTS: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { durability: Durability::Always, ..small_opts(1 << 20, 100_000, false) };
    let store = Arc::new(open(dir.path(), &opts));
    let before = store.stats().syncs;
    let start = Arc::new(Barrier::new(THREADS));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, start, done_tx) = (store.clone(), start.clone(), done_tx.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..PUTS {
                    let k = format!("t{t:02}/{i:02}");
                    store.put(k.as_bytes(), &encode_value(k.as_bytes(), i as u64, 64)).unwrap();
                }
                let _ = done_tx.send(());
            })
        })
        .collect();
    // A writer whose wake-up got lost would wait forever: fail instead of hanging CI.
    for _ in 0..THREADS {
        done_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("a durable writer never returned (lost group-commit wake-up?)");
    }
    for h in handles {
        h.join().unwrap();
    }
    let syncs = store.stats().syncs - before;
    let writes = (THREADS * PUTS) as u64;
    assert!(syncs >= 1, "Always writes ran no fsync");
    assert!(syncs < writes, "{syncs} fsync rounds for {writes} writes: concurrent writers did not share fsyncs");
    drop(Arc::try_unwrap(store).ok().unwrap());
    let store = open(dir.path(), &opts);
    for t in 0..THREADS {
        for i in 0..PUTS {
            let k = format!("t{t:02}/{i:02}");
            let v = store.get(k.as_bytes()).unwrap().expect("acknowledged write lost");
            assert_eq!(decode_value(k.as_bytes(), &v).unwrap(), i as u64);
        }
    }
}

#[test]
fn scan_returns_every_key_present_throughout() {
    const STABLE: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), &small_opts(64 << 10, 50, true)));
    let stable: Vec<Vec<u8>> = (0..STABLE).map(|i| format!("k{:04}", i * 2).into_bytes()).collect();
    for k in &stable {
        store.put(k, b"stable").unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    // Churn: insert and delete keys that sort between the stable ones (and past both ends).
    let churn: Vec<_> = (0..2u64)
        .map(|t| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(7 + t);
                let mut n = 0u64;
                while !done.load(Ordering::Acquire) && n < 100_000 {
                    let i = rng.below(STABLE as u64 * 2 + 2);
                    let k = if i % 2 == 1 || i >= STABLE as u64 * 2 {
                        format!("k{i:04}").into_bytes()
                    } else {
                        format!("k{i:04}.{t}").into_bytes()
                    };
                    if rng.below(2) == 0 {
                        store.put(&k, &[b'x'; 40]).unwrap();
                    } else {
                        store.delete(&k).unwrap();
                    }
                    if n % 500 == 499 {
                        store.compact(n % 1000 == 999).unwrap();
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for round in 0..6 {
        let count = [1, 3, 7, 16, 50, 101][round];
        let mut cursor = Vec::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        loop {
            let page = store.scan(&cursor, count).unwrap();
            for k in &page.keys {
                if let Some(last) = got.last() {
                    assert!(k > last, "scan returned {k:?} after {last:?}");
                }
                got.push(k.clone());
            }
            match page.cursor {
                Some(c) => cursor = c,
                None => break,
            }
        }
        let got: std::collections::HashSet<Vec<u8>> = got.into_iter().collect();
        for k in &stable {
            assert!(got.contains(k), "scan (count {count}) missed {:?}", String::from_utf8_lossy(k));
        }
    }
    done.store(true, Ordering::Release);
    for h in churn {
        h.join().unwrap();
    }
    store.verify().unwrap();
}

#[test]
fn value_ref_outlives_compaction_of_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &small_opts(64 << 10, 100_000, false));
    let original: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    store.put(b"zero-copy", &original).unwrap();
    let held = store.get(b"zero-copy").unwrap().unwrap();
    assert!(held.is_mapped(), "a value read from the log should be zero-copy");
    let held_with_slice = held.slice(10..20);
    let first_segment = files_with_prefix(dir.path(), "seg-")[0].clone();
    // Overwrite it and fill several segments so the first one is sealed and all dead.
    for round in 0..60u32 {
        store.put(b"zero-copy", &vec![round as u8; 3000]).unwrap();
        store.put(format!("filler{}", round % 4).as_bytes(), &[0xAB; 2000]).unwrap();
    }
    assert!(files_with_prefix(dir.path(), "seg-").len() > 1, "the log never rotated");
    store.compact(true).unwrap();
    assert!(store.stats().segments_compacted > 0, "{:?}", store.stats());
    assert!(
        !files_with_prefix(dir.path(), "seg-").contains(&first_segment),
        "compaction did not unlink {first_segment}"
    );
    // Still readable, unchanged, though its file is gone.
    assert_eq!(&*held, original.as_slice());
    assert_eq!(&*held_with_slice, &original[10..20]);
    assert_eq!(&*store.get(b"zero-copy").unwrap().unwrap(), &[59u8; 3000][..]);
    store.verify().unwrap();
}

/// An iterator's view shares the live memtable, so it sees entries written after it was
/// made, including ones in segments (and blobs) created later. When compaction or a
/// checkpoint has since removed those, the iterator must still return every key (with a
/// current value), not a spurious corruption error.
#[test]
fn old_iterator_survives_removal_of_newer_segments_and_blobs() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &small_opts(64 << 10, 100_000, false));
    for i in 0..10u32 {
        store.put(format!("k{i}").as_bytes(), &[1u8; 1000]).unwrap();
    }
    let mut it = store.iter();
    assert_eq!(it.next().unwrap().unwrap().0, b"k0");
    // Rewrite the keys ahead of the iterator into new segments, and k9 as a blob.
    for r in 0..3u8 {
        for i in 1..9u32 {
            store.put(format!("k{i}").as_bytes(), &[2 + r; 3000]).unwrap();
        }
    }
    let mut b = store.blob_writer(b"k9").unwrap();
    b.write_all(&[7u8; 5000]).unwrap();
    b.commit().unwrap();
    store.checkpoint().unwrap();
    // Rewrite them again: the segments and the blob above become dead and are removed.
    for _ in 0..3 {
        for i in 1..10u32 {
            store.put(format!("k{i}").as_bytes(), &[9u8; 3000]).unwrap();
        }
    }
    store.compact(true).unwrap();
    assert!(files_with_prefix(dir.path(), "blob-").is_empty());
    let rest: Vec<(Vec<u8>, Vec<u8>)> =
        it.map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap_or_else(|e| panic!("old iterator failed: {e}"))).collect();
    let keys: Vec<Vec<u8>> = rest.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, (1..10).map(|i| format!("k{i}").into_bytes()).collect::<Vec<_>>());
    for (k, v) in &rest {
        let c = v[0];
        assert!(v.iter().all(|&b| b == c), "value of {k:?} is not one write's");
        assert!(c == 1 || c == 9 || (2..=4).contains(&c) && v.len() == 3000, "{k:?} has {c}");
    }
}

/// `Store::set_durability` changes what later writes wait for, and whether the background
/// flusher syncs every second.
#[test]
fn default_durability_changes_at_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { durability: Durability::Never, ..small_opts(1 << 20, 100_000, false) };
    let store = open(dir.path(), &opts);
    assert_eq!(store.durability(), Durability::Never);
    let syncs = |s: &pmemkv::Store| s.stats().syncs;

    let before = syncs(&store);
    for i in 0..5u32 {
        store.put(format!("never/{i}").as_bytes(), b"v").unwrap();
    }
    assert_eq!(syncs(&store), before, "Never writes ran an fsync");

    store.set_durability(Durability::Always);
    assert_eq!(store.durability(), Durability::Always);
    let before = syncs(&store);
    for i in 0..5u32 {
        store.put(format!("always/{i}").as_bytes(), b"v").unwrap();
    }
    assert_eq!(syncs(&store), before + 5, "each Always write from one thread waits for its own fsync");

    // Back to Never; a per-write override still wins.
    store.set_durability(Durability::Never);
    let before = syncs(&store);
    store.put(b"never/again", b"v").unwrap();
    assert_eq!(syncs(&store), before);
    store
        .put_with(b"override", b"v", pmemkv::PutOptions { durability: Some(Durability::Always), ..Default::default() })
        .unwrap();
    assert_eq!(syncs(&store), before + 1);
    drop(store);

    // With the background thread: switching to EverySec starts the once-a-second fsync.
    let opts = Options { durability: Durability::Never, ..small_opts(1 << 20, 100_000, true) };
    let store = open(dir.path(), &opts);
    store.put(b"unsynced", b"v").unwrap();
    let before = syncs(&store);
    store.set_durability(Durability::EverySec);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while syncs(&store) == before {
        assert!(std::time::Instant::now() < deadline, "the flusher never synced after switching to EverySec");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
