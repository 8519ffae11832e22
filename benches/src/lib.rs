//! Shared helpers for the pmemkv benchmarks (see `benches/` and `docs/benchmarks.md`).
//!
//! Everything the benchmark binaries have in common lives here: the key and value generator
//! (16-byte keys, 100-byte values by default), a small deterministic RNG, the dataset sizes
//! (full, smoke and big modes), the on-disk cache of prebuilt datasets under
//! `target/bench-data/`, page-cache eviction for cold-read runs, and thin open/build wrappers
//! around pmemkv, redb and LMDB (heed) so every engine is driven the same way.
//!
//! # Modes
//!
//! * default (`cargo bench -p pmemkv-benches`): 1 M-key hot store, 10 M-key "large" store,
//!   1 GiB blob;
//! * smoke (`cargo bench -p pmemkv-benches -- --test`, or `PMEMKV_BENCH_SMOKE=1`): tiny
//!   datasets so the whole suite builds and runs each benchmark once in well under two minutes;
//! * big (`PMEMKV_BENCH_BIG=1`): the large store is made bigger than RAM
//!   (`PMEMKV_BENCH_BIG_KEYS` keys of `PMEMKV_BENCH_BIG_VALUE` bytes, default 30 M × 1000 B
//!   ≈ 31 GB per engine).

use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pmemkv::{Durability, Options, Store, WriteBatch};

/// Key length in bytes.
pub const KEY_LEN: usize = 16;
/// Value length of the default datasets, in bytes.
pub const VALUE_LEN: usize = 100;
/// Puts per transaction / batch when building a dataset.
const BUILD_BATCH: u64 = 10_000;
/// Bumped whenever the generator or the build procedure changes (invalidates cached datasets).
const DATASET_FORMAT: u32 = 1;
/// Version of the pmemkv build procedure (bumping it rebuilds only the pmemkv datasets).
const PMEMKV_BUILD: u32 = 3;
/// LMDB map size (virtual; the file only grows as needed).
pub const LMDB_MAP_SIZE: usize = 128 << 30;

/// SplitMix64: a fast, well-mixed 64-bit permutation.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of item `i`: 8 hashed bytes (so insertion order is random in key order) followed
/// by `i` big-endian (so keys are unique).
pub fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&mix64(i).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Fills `out` with the value of item `i` (pseudo-random bytes, so nothing compresses).
pub fn fill_value(i: u64, out: &mut [u8]) {
    let mut s = i ^ 0x5555_5555_5555_5555;
    for chunk in out.chunks_mut(8) {
        s = mix64(s);
        let b = s.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// The value of item `i` with `len` bytes.
pub fn value(i: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_value(i, &mut v);
    v
}

/// A small deterministic RNG (SplitMix64 stream).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// True when running in smoke mode: criterion's `--test` flag was passed, or
/// `PMEMKV_BENCH_SMOKE=1`.
pub fn smoke() -> bool {
    std::env::args().any(|a| a == "--test") || env_flag("PMEMKV_BENCH_SMOKE")
}

/// True when `PMEMKV_BENCH_BIG=1`: the large store is made bigger than RAM.
pub fn big() -> bool {
    env_flag("PMEMKV_BENCH_BIG")
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// Dataset sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Keys in the hot-read store (also the 1 M reopen store).
    pub hot_keys: u64,
    /// Keys the hot reads are drawn from (the first `hot_set` items).
    pub hot_set: u64,
    /// Keys in the large store (cold reads, 10 M reopen).
    pub large_keys: u64,
    /// Value length in the large store.
    pub large_value_len: usize,
    /// Puts per batch in the batched-write benchmark.
    pub batch: usize,
    /// Size of the big sequential value.
    pub blob_bytes: u64,
}

/// The sizes for this run's mode.
pub fn sizes() -> Sizes {
    if smoke() {
        return Sizes {
            hot_keys: 20_000,
            hot_set: 2_000,
            large_keys: 50_000,
            large_value_len: VALUE_LEN,
            batch: 1000,
            blob_bytes: 16 << 20,
        };
    }
    let (large_keys, large_value_len) = if big() {
        (env_u64("PMEMKV_BENCH_BIG_KEYS", 30_000_000), env_u64("PMEMKV_BENCH_BIG_VALUE", 1000) as usize)
    } else {
        (env_u64("PMEMKV_BENCH_LARGE_KEYS", 10_000_000), VALUE_LEN)
    };
    Sizes {
        hot_keys: env_u64("PMEMKV_BENCH_HOT_KEYS", 1_000_000),
        hot_set: 100_000,
        large_keys,
        large_value_len,
        batch: 1000,
        blob_bytes: env_u64("PMEMKV_BENCH_BLOB_BYTES", 1 << 30),
    }
}

/// Human-readable count: 1000000 → "1M".
pub fn count_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// Root of the benchmark data: `$PMEMKV_BENCH_DATA`, or `target/bench-data` of the workspace.
pub fn data_root() -> PathBuf {
    let root = match std::env::var_os("PMEMKV_BENCH_DATA") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
            target.join("bench-data")
        }
    };
    fs::create_dir_all(&root).expect("create bench data dir");
    root
}

/// A fresh temporary directory under [`data_root`] (same file system as the datasets).
pub fn scratch_dir() -> tempfile::TempDir {
    let tmp = data_root().join("tmp");
    fs::create_dir_all(&tmp).expect("create scratch dir");
    tempfile::tempdir_in(tmp).expect("create temp dir")
}

/// The engines under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// pmemkv (this workspace).
    Pmemkv,
    /// redb 2.
    Redb,
    /// LMDB through heed.
    Lmdb,
}

impl Engine {
    /// All engines, in report order.
    pub const ALL: [Engine; 3] = [Engine::Pmemkv, Engine::Redb, Engine::Lmdb];

    /// Lower-case name used in benchmark ids and directory names.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Pmemkv => "pmemkv",
            Engine::Redb => "redb",
            Engine::Lmdb => "lmdb",
        }
    }
}

/// A prebuilt dataset of `n` keys (items `0..n`, values of `value_len` bytes), cached under
/// [`data_root`] and reused across runs.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Directory holding one subdirectory per engine.
    pub dir: PathBuf,
    /// Number of keys.
    pub n: u64,
    /// Value length.
    pub value_len: usize,
}

impl Dataset {
    /// The dataset of `n` keys with `value_len`-byte values (not built yet).
    pub fn new(n: u64, value_len: usize) -> Dataset {
        let name = format!("ds-{}-v{}", count_label(n), value_len);
        Dataset { dir: data_root().join(name), n, value_len }
    }

    /// The engine's directory in this dataset.
    pub fn path(&self, e: Engine) -> PathBuf {
        self.dir.join(e.name())
    }

    fn marker(&self, e: Engine) -> PathBuf {
        self.dir.join(format!("{}.ready", e.name()))
    }

    fn marker_text(&self, e: Engine) -> String {
        let build = match e {
            Engine::Pmemkv => PMEMKV_BUILD,
            Engine::Redb | Engine::Lmdb => 1,
        };
        // The run format is part of the marker: a cached pmemkv dataset written in an older
        // run format would still open, but it would not measure the current read path.
        let runs = pmemkv::run::RUN_FORMAT_VERSION;
        format!("format={DATASET_FORMAT} build={build} runs={runs} n={} value_len={}\n", self.n, self.value_len)
    }

    /// Builds the engine's copy of the dataset unless a complete one is cached; returns its
    /// directory.
    pub fn ensure(&self, e: Engine) -> PathBuf {
        let path = self.path(e);
        if fs::read_to_string(self.marker(e)).ok().as_deref() == Some(self.marker_text(e).as_str()) {
            return path;
        }
        let _ = fs::remove_file(self.marker(e));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create dataset dir");
        eprintln!("building {} dataset of {} keys x {} B in {} ...", e.name(), self.n, self.value_len, path.display());
        let t = Instant::now();
        match e {
            Engine::Pmemkv => build_pmemkv(&path, self.n, self.value_len),
            Engine::Redb => build_redb(&path, self.n, self.value_len),
            Engine::Lmdb => build_lmdb(&path, self.n, self.value_len),
        }
        eprintln!("  built in {:.1?}, {} on disk", t.elapsed(), human_bytes(disk_usage(&path)));
        fs::write(self.marker(e), self.marker_text(e)).expect("write dataset marker");
        path
    }
}

/// "1.5 GiB" etc.
pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// Allocated bytes (st_blocks × 512) of all files under `path`.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(path) {
        for ent in rd.flatten() {
            let Ok(md) = ent.metadata() else { continue };
            if md.is_dir() {
                total += disk_usage(&ent.path());
            } else {
                total += md.blocks() * 512;
            }
        }
    }
    total
}

/// Copies a directory tree (regular files only).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy target");
    for ent in fs::read_dir(from).expect("read dir") {
        let ent = ent.expect("dir entry");
        let (src, dst) = (ent.path(), to.join(ent.file_name()));
        if ent.file_type().expect("file type").is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy file");
        }
    }
}

/// Drops the page-cache pages of every file under `path` with
/// `posix_fadvise(POSIX_FADV_DONTNEED)` (after `fdatasync`, so dirty pages are written and
/// can go). Pages still mapped by a live mapping are not dropped: close the store first.
/// With `PMEMKV_BENCH_DROP_CACHES=1` it also writes `1` to `/proc/sys/vm/drop_caches`
/// (whole machine; needs root).
pub fn evict_page_cache(path: &Path) {
    fn walk(p: &Path) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for ent in rd.flatten() {
            let p = ent.path();
            if ent.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p);
            } else if let Ok(f) = fs::OpenOptions::new().read(true).write(true).open(&p) {
                let _ = f.sync_data();
                let _ = rustix::fs::fadvise(&f, 0, None::<NonZeroU64>, rustix::fs::Advice::DontNeed);
            }
        }
    }
    walk(path);
    if env_flag("PMEMKV_BENCH_DROP_CACHES") {
        let _ = fs::write("/proc/sys/vm/drop_caches", "1");
    }
}

// ------------------------------------------------------------------------------------------
// pmemkv
// ------------------------------------------------------------------------------------------

/// Opens a pmemkv store with default options and the given durability.
pub fn pmemkv_open(dir: &Path, durability: Durability) -> Store {
    Store::open(dir, Options { durability, ..Options::default() }).expect("open pmemkv")
}

fn build_pmemkv(dir: &Path, n: u64, value_len: usize) {
    let store = pmemkv_open(dir, Durability::Never);
    let mut v = vec![0u8; value_len];
    let mut i = 0;
    while i < n {
        let mut b = WriteBatch::new();
        for j in i..(i + 1000).min(n) {
            fill_value(j, &mut v);
            b.put(key(j), v.as_slice());
        }
        store.write(&b).expect("pmemkv build write");
        i += 1000;
    }
    store.sync().expect("pmemkv sync");
    // Fully compacted: one index run (the benchmarks' "pmemkv_unmerged" variant measures the
    // state right after loading instead).
    store.compact(true).expect("pmemkv compact");
    let s = store.stats();
    eprintln!("  pmemkv: {} run(s), {} run entries, {} segments", s.runs, s.run_entries, s.segments);
    store.close().expect("pmemkv close");
}

// ------------------------------------------------------------------------------------------
// redb
// ------------------------------------------------------------------------------------------

/// The single redb table used by the benchmarks.
pub const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");

/// The redb database file inside an engine directory.
pub fn redb_file(dir: &Path) -> PathBuf {
    dir.join("db.redb")
}

/// Creates (or opens) a redb database in `dir` with the default cache (1 GiB).
pub fn redb_create(dir: &Path) -> redb::Database {
    fs::create_dir_all(dir).expect("create redb dir");
    let db = redb::Database::create(redb_file(dir)).expect("create redb");
    let tx = db.begin_write().expect("redb begin_write");
    tx.open_table(REDB_TABLE).expect("redb open_table");
    tx.commit().expect("redb commit");
    db
}

/// Opens an existing redb database in `dir`.
pub fn redb_open(dir: &Path) -> redb::Database {
    redb::Database::open(redb_file(dir)).expect("open redb")
}

fn build_redb(dir: &Path, n: u64, value_len: usize) {
    let db = redb_create(dir);
    let mut v = vec![0u8; value_len];
    let mut i = 0;
    while i < n {
        let tx = db.begin_write().expect("redb begin_write");
        {
            let mut t = tx.open_table(REDB_TABLE).expect("redb open_table");
            for j in i..(i + BUILD_BATCH).min(n) {
                fill_value(j, &mut v);
                t.insert(key(j).as_slice(), v.as_slice()).expect("redb insert");
            }
        }
        tx.commit().expect("redb commit");
        i += BUILD_BATCH;
    }
}

// ------------------------------------------------------------------------------------------
// LMDB (heed)
// ------------------------------------------------------------------------------------------

/// An open LMDB environment with its unnamed database.
pub struct Lmdb {
    /// The environment.
    pub env: heed::Env,
    /// The unnamed (main) database, raw bytes to raw bytes.
    pub db: heed::Database<heed::types::Bytes, heed::types::Bytes>,
}

impl Lmdb {
    /// Opens (creating if needed) the environment in `dir`. `no_sync` sets `MDB_NOSYNC`
    /// (commits are not fsynced); otherwise every commit is synced (LMDB's default).
    pub fn open(dir: &Path, no_sync: bool) -> Lmdb {
        fs::create_dir_all(dir).expect("create lmdb dir");
        let mut o = heed::EnvOpenOptions::new();
        o.map_size(LMDB_MAP_SIZE).max_dbs(1).max_readers(256);
        if no_sync {
            // SAFETY: MDB_NOSYNC only weakens durability; the benchmark states it.
            unsafe { o.flags(heed::EnvFlags::NO_SYNC) };
        }
        // SAFETY: nothing else modifies the files while the environment is open.
        let env = unsafe { o.open(dir) }.expect("open lmdb env");
        let mut w = env.write_txn().expect("lmdb write_txn");
        let db = env.create_database(&mut w, None).expect("lmdb create_database");
        w.commit().expect("lmdb commit");
        Lmdb { env, db }
    }

    /// Opens an existing environment in `dir` (synced commits) with a read transaction only,
    /// as a reader process or a restart would.
    pub fn open_existing(dir: &Path) -> Lmdb {
        let mut o = heed::EnvOpenOptions::new();
        o.map_size(LMDB_MAP_SIZE).max_dbs(1).max_readers(256);
        // SAFETY: nothing else modifies the files while the environment is open.
        let env = unsafe { o.open(dir) }.expect("open lmdb env");
        let rtxn = env.read_txn().expect("lmdb read_txn");
        let db = env.open_database(&rtxn, None).expect("lmdb open_database").expect("main database exists");
        drop(rtxn);
        Lmdb { env, db }
    }

    /// Closes the environment and waits until LMDB has really closed it (so it can be
    /// reopened and its pages evicted).
    pub fn close(self) {
        let Lmdb { env, .. } = self;
        env.prepare_for_closing().wait();
    }
}

fn build_lmdb(dir: &Path, n: u64, value_len: usize) {
    let l = Lmdb::open(dir, true);
    let mut v = vec![0u8; value_len];
    let mut i = 0;
    while i < n {
        let mut w = l.env.write_txn().expect("lmdb write_txn");
        for j in i..(i + BUILD_BATCH).min(n) {
            fill_value(j, &mut v);
            l.db.put(&mut w, &key(j), &v).expect("lmdb put");
        }
        w.commit().expect("lmdb commit");
        i += BUILD_BATCH;
    }
    l.env.force_sync().expect("lmdb sync");
    l.close();
}

/// Times `f` and returns its result with the elapsed time.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// Resident set size from `/proc/self/status`: (VmRSS, RssAnon, RssFile) in bytes.
pub fn rss() -> (u64, u64, u64) {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_values_deterministic() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            assert!(seen.insert(key(i)));
        }
        assert_eq!(value(7, 100), value(7, 100));
        assert_ne!(value(7, 100), value(8, 100));
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
    }
}
