//! Strings larger than the inline value limit go to blob files transparently: set, get,
//! conditional set, append, mset, copy/rename, transactions and reopen all behave the same.

use std::sync::Arc;

use pmemkv::collections::SetOptions;
use pmemkv::{Collections, Condition, Error, Expiry, Options, Store};

fn open(dir: &std::path::Path) -> Arc<Store> {
    // A small inline limit makes "big" cheap to test.
    Arc::new(
        Store::open(
            dir,
            Options { max_inline_value: 4096, segment_size: 1 << 20, background: false, ..Options::default() },
        )
        .unwrap(),
    )
}

fn big(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn blob_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("blob-"))
        .count()
}

#[test]
fn big_strings_round_trip_through_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let c = Collections::new(store.clone());
    let v1 = big(100_000, 1);
    c.str_set(b"w", &v1, SetOptions::default()).unwrap();
    assert_eq!(&*c.str_get(b"w").unwrap().unwrap(), &v1[..]);
    // Conditional set and GET of the old value.
    let v2 = big(50_000, 2);
    let r =
        c.str_set(b"w", &v2, SetOptions { condition: Condition::IfAbsent, get: true, ..Default::default() }).unwrap();
    assert!(!r.applied);
    assert_eq!(r.old.as_deref(), Some(&v1[..]));
    let r =
        c.str_set(b"w", &v2, SetOptions { get: true, expiry: Expiry::At(u64::MAX / 2), ..Default::default() }).unwrap();
    assert_eq!(r.old.as_deref(), Some(&v1[..]));
    assert_eq!(&*c.str_get(b"w").unwrap().unwrap(), &v2[..]);
    // Append grows a small string into a big one.
    c.str_set(b"a", b"x", SetOptions::default()).unwrap();
    let n = c.str_append(b"a", &big(10_000, 3)).unwrap();
    assert_eq!(n, 10_001);
    // MSET with a big value, copy and rename.
    c.str_mset(&[(&b"m1"[..], &big(8_000, 4)[..]), (b"m2", b"small")], false).unwrap();
    assert!(c.copy_key(b"m1", b"m1copy", false).unwrap());
    assert_eq!(c.rename_key(b"w", b"w2", false).unwrap(), Some(true));
    assert_eq!(&*c.str_get(b"m1copy").unwrap().unwrap(), &big(8_000, 4)[..]);
    // Inside an atomic group, and a failed group leaves nothing.
    store.atomic(|| c.str_set(b"g", &big(20_000, 5), SetOptions::default()).map(drop)).unwrap();
    let r: Result<(), Error> = store.atomic(|| {
        c.str_set(b"never", &big(20_000, 6), SetOptions::default())?;
        Err(Error::InvalidArgument("abort".into()))
    });
    assert!(r.is_err());
    assert!(c.str_get(b"never").unwrap().is_none());
    // Everything survives a reopen; overwritten blobs are deleted by checkpoints.
    drop(c);
    Arc::try_unwrap(store).ok().unwrap().close().unwrap();
    let store = open(tmp.path());
    let c = Collections::new(store.clone());
    assert_eq!(&*c.str_get(b"w2").unwrap().unwrap(), &v2[..]);
    assert!(c.str_get(b"w").unwrap().is_none());
    assert_eq!(c.str_get(b"a").unwrap().unwrap().len(), 10_001);
    assert_eq!(&*c.str_get(b"m1").unwrap().unwrap(), &big(8_000, 4)[..]);
    assert_eq!(&*c.str_get(b"m2").unwrap().unwrap(), b"small");
    assert_eq!(c.str_get(b"g").unwrap().unwrap().len(), 20_000);
    // One blob per big value alive: w2, a, m1, m1copy, g (the aborted one was removed at open).
    assert_eq!(blob_files(tmp.path()), 5);
    for k in [&b"w2"[..], b"a", b"m1", b"m1copy", b"g"] {
        c.str_set(k, b"small now", SetOptions::default()).unwrap();
    }
    store.checkpoint().unwrap();
    assert_eq!(blob_files(tmp.path()), 0, "overwritten big strings leave no blob behind");
}
