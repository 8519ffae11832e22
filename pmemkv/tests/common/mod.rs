//! Helpers shared by the integration tests: a controllable clock, small-store options,
//! self-checking values and a tiny deterministic PRNG.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmemkv::{Options, Store};

/// A clock the test moves by hand (ms since the epoch), for [`Options::clock`].
#[derive(Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    /// A clock reading `start` ms.
    pub fn new(start: u64) -> TestClock {
        TestClock(Arc::new(AtomicU64::new(start)))
    }

    /// The current reading.
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// The clock as the store wants it.
    pub fn clock(&self) -> pmemkv::Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst))
    }
}

/// Options for a small store: tiny segments and memtables so rotation, checkpoints, merges
/// and compaction happen within a short test.
pub fn small_opts(segment_size: u64, memtable_max_entries: usize, background: bool) -> Options {
    Options { segment_size, max_inline_value: segment_size / 4, memtable_max_entries, background, ..Options::default() }
}

/// FNV-1a 64 over `bytes`.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A self-describing value for `key` at `counter`: `counter u64 | key | filler | fnv u64`,
/// with a filler length that varies with the counter (0..=pad_max bytes).
pub fn encode_value(key: &[u8], counter: u64, pad_max: usize) -> Vec<u8> {
    let pad = (fnv(&counter.to_le_bytes()) as usize) % (pad_max + 1);
    let mut v = Vec::with_capacity(16 + key.len() + pad);
    v.extend_from_slice(&counter.to_le_bytes());
    v.extend_from_slice(key);
    v.extend((0..pad).map(|i| (i as u8) ^ (counter as u8)));
    let h = fnv(&v);
    v.extend_from_slice(&h.to_le_bytes());
    v
}

/// Checks a value made by [`encode_value`] for `key`; returns its counter or a description of
/// what is wrong.
pub fn decode_value(key: &[u8], v: &[u8]) -> Result<u64, String> {
    if v.len() < 16 + key.len() {
        return Err(format!("value of {} bytes is too short for key {:?}", v.len(), key));
    }
    let (body, sum) = v.split_at(v.len() - 8);
    if fnv(body).to_le_bytes() != sum {
        return Err(format!("checksum mismatch in a value of key {key:?}"));
    }
    if &body[8..8 + key.len()] != key {
        return Err(format!("value of key {key:?} names key {:?}", &body[8..8 + key.len()]));
    }
    let counter = u64::from_le_bytes(body[..8].try_into().unwrap());
    if body[8 + key.len()..].iter().enumerate().any(|(i, &b)| b != (i as u8) ^ (counter as u8)) {
        return Err(format!("value of key {key:?} has a damaged filler"));
    }
    Ok(counter)
}

/// xorshift64* — deterministic, dependency-free randomness for the thread tests.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Names of the files in `dir` that start with `prefix`, sorted.
pub fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Opens `dir` with `opts`, panicking with the error on failure.
pub fn open(dir: &Path, opts: &Options) -> Store {
    Store::open(dir, opts.clone()).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}
