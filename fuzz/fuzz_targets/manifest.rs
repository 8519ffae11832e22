//! Fuzzes the manifest decoder: never panics; what decodes re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pmemkv::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(std::path::Path::new("MANIFEST-A"), data) {
        let again = m.encode();
        assert_eq!(Manifest::decode(std::path::Path::new("MANIFEST-A"), &again).unwrap(), m);
    }
});
