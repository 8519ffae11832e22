//! Random-input tests of every decoder of on-disk bytes (the stable-toolchain counterpart of
//! the cargo-fuzz targets in `fuzz/`): none may panic, and what they accept must be sound.

use pmemkv::manifest::Manifest;
use pmemkv::record::{encode_record, ops, probe, OpKind, OpRef, Probe};
use pmemkv::run::Run;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn record_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Probe::Record { len, op_count, .. } = probe(&data) {
            prop_assert!(len <= data.len());
            prop_assert_eq!(ops(&data[..len]).count(), op_count as usize);
        }
    }

    #[test]
    fn record_with_damage_is_rejected(
        key in proptest::collection::vec(any::<u8>(), 0..40),
        value in proptest::collection::vec(any::<u8>(), 0..200),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let op = OpRef { kind: OpKind::Put, key: &key, version: 3, expire_at_ms: 0, value: &value, blob: (0, 0) };
        let mut buf = Vec::new();
        let mut pos = Vec::new();
        encode_record(&mut buf, 9, &[op], &mut pos);
        let covered = 24 + 25 + key.len() + value.len();
        let valid = matches!(probe(&buf), Probe::Record { seq: 9, op_count: 1, .. });
        prop_assert!(valid);
        let i = flip.index(covered);
        buf[i] ^= 1 << bit;
        // CRC32 detects every single-bit error.
        let accepted = matches!(probe(&buf), Probe::Record { .. });
        prop_assert!(!accepted, "a flipped bit at {} went undetected", i);
    }

    #[test]
    fn manifest_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(m) = Manifest::decode(std::path::Path::new("m"), &data) {
            prop_assert_eq!(Manifest::decode(std::path::Path::new("m"), &m.encode()).unwrap(), m);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn run_open_never_panics(data in proptest::collection::vec(any::<u8>(), 0..9000), magic in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-0000000000000001.pkr");
        let mut data = data;
        if magic && data.len() >= 8 {
            data[..8].copy_from_slice(b"PMKVRUN\0");
        }
        std::fs::write(&path, &data).unwrap();
        if let Ok(run) = Run::open(&path) {
            let _ = run.get(b"k");
            let _ = run.lower_bound(b"k");
            let _ = run.verify();
        }
    }
}
