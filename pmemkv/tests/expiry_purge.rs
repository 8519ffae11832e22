//! Active expiry: `Store::purge_expired` deletes expired keys still in the index, so they
//! stop counting as keys and their space is reclaimed, without touching live or rewritten keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmemkv::{Expiry, Options, PutOptions, Store};

#[test]
fn purge_deletes_only_expired_keys_and_fixes_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = now.clone();
    let opts =
        Options { background: false, clock: Arc::new(move || clock.load(Ordering::Relaxed)), ..Options::default() };
    let store = Store::open(tmp.path(), opts.clone()).unwrap();
    for i in 0..5000u32 {
        let expiry = if i % 2 == 0 { Expiry::At(1_000_500) } else { Expiry::Never };
        store.put_with(format!("k{i:05}").as_bytes(), b"v", PutOptions { expiry, ..Default::default() }).unwrap();
    }
    store.checkpoint().unwrap();
    assert_eq!(store.key_count(b"").unwrap(), (5000, 2500));
    now.store(1_001_000, Ordering::Relaxed);
    // Rewritten after expiring: live again, must survive the purge.
    store.put(b"k00000", b"back").unwrap();
    assert_eq!(store.key_count(b"").unwrap(), (5000, 2499), "expired keys count until reclaimed");
    let mut deleted = 0;
    for _ in 0..10 {
        deleted += store.purge_expired(1000).unwrap();
    }
    assert_eq!(deleted, 2499);
    assert_eq!(store.key_count(b"").unwrap(), (2501, 0));
    assert_eq!(&*store.get(b"k00000").unwrap().unwrap(), b"back");
    assert!(store.get(b"k00001").unwrap().is_some());
    assert!(store.get(b"k00002").unwrap().is_none());
    assert_eq!(store.purge_expired(100_000).unwrap(), 0, "nothing left to purge");
    store.close().unwrap();
    let store = Store::open(tmp.path(), opts).unwrap();
    assert_eq!(store.key_count(b"").unwrap(), (2501, 0), "counts survive a reopen");
    assert_eq!(store.key_count(b"k").unwrap(), (2501, 0));
    assert_eq!(store.key_count(b"k0"), None, "two-byte prefixes are counted only for the metadata space");
    assert_eq!(store.key_count(b"x").unwrap(), (0, 0));
}
