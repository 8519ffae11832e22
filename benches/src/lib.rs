//! Shared helpers for the pmemkv benchmarks (see `benches/`).
