//! Fuzzes index run files: opening, looking up, walking and verifying arbitrary bytes never
//! panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pmemkv::run::Run;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run-0000000000000001.pkr");
    std::fs::write(&path, data).unwrap();
    if let Ok(run) = Run::open(&path) {
        let _ = run.get(b"key");
        let _ = run.lower_bound(b"k");
        for i in 0..run.len().min(64) {
            let _ = run.entry_at(i);
        }
        let _ = run.verify();
    }
});
