//! Fuzzes recovery: a store directory whose only segment holds arbitrary bytes after a valid
//! header must open or fail with an error, never panic, and every value it serves verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pmemkv::{Options, Store};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { segment_size: 64 << 10, max_inline_value: 16 << 10, background: false, ..Options::default() };
    drop(Store::open(dir.path(), opts.clone()).unwrap());
    let seg = dir.path().join("seg-00000001.pkl");
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = data.len().min(bytes.len() - 64);
    bytes[64..64 + n].copy_from_slice(&data[..n]);
    std::fs::write(&seg, &bytes).unwrap();
    for repair in [false, true] {
        if let Ok(store) = Store::open(dir.path(), Options { repair, ..opts.clone() }) {
            for item in store.iter() {
                let _ = item;
            }
            let _ = store.verify();
        }
    }
});
