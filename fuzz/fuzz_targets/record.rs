//! Fuzzes the log record decoder: `probe` must never panic, and a record it accepts must
//! decode into ops that stay inside it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pmemkv::record::{ops, probe, Probe};

fuzz_target!(|data: &[u8]| {
    if let Probe::Record { len, op_count, .. } = probe(data) {
        assert!(len <= data.len());
        let mut n = 0;
        for op in ops(&data[..len]) {
            let op = op.expect("a verified record decodes");
            assert!(op.value_offset + op.value.len() <= len);
            n += 1;
        }
        assert_eq!(n, op_count as usize);
    }
});
