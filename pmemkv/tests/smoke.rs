//! Quick end-to-end smoke test of the store API.
use pmemkv::{Options, Store};

#[test]
fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let opts =
        Options { segment_size: 1 << 20, max_inline_value: 1 << 18, memtable_max_entries: 500, ..Options::default() };
    {
        let s = Store::open(dir.path(), opts.clone()).unwrap();
        for i in 0..3000u32 {
            s.put(format!("k{i:05}").as_bytes(), format!("v{i}").repeat(20).as_bytes()).unwrap();
        }
        assert_eq!(&*s.get(b"k00007").unwrap().unwrap(), "v7".repeat(20).as_bytes());
        s.delete(b"k00008").unwrap();
        s.checkpoint().unwrap();
        for i in 0..3000u32 {
            s.put(format!("k{i:05}").as_bytes(), b"new").unwrap();
        }
        s.compact(true).unwrap();
        println!("{:?}", s.stats());
        assert_eq!(s.prefix(b"k0001").count(), 10);
    }
    let s = Store::open(dir.path(), opts).unwrap();
    println!("{:?}", s.recovery_report());
    assert_eq!(&*s.get(b"k00007").unwrap().unwrap(), b"new");
    assert_eq!(s.iter().count(), 3000);
    let rev: Vec<_> = s.range_rev(b"k00010".as_slice()..b"k00013".as_slice()).map(|r| r.unwrap().0).collect();
    assert_eq!(rev, vec![b"k00012".to_vec(), b"k00011".to_vec(), b"k00010".to_vec()]);
    println!("{:?}", s.stats());
}
