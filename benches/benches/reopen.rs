//! Criterion benchmarks of the time to open an existing store of 1 M and 10 M keys, pmemkv
//! against redb and LMDB (heed), with a warm page cache and with the store's files evicted
//! from it first. pmemkv reopens after a clean close, so it maps its index runs and replays
//! no log; its open time should not grow with the number of keys. The stores are the cached
//! datasets under `target/bench-data/` (built on first use).

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode};
use pmemkv::{Options, Store};
use pmemkv_benches::{count_label, evict_page_cache, redb_open, sizes, Dataset, Engine, Lmdb, VALUE_LEN};

/// Times `iters` opens; closing (and evicting, if `cold`) happens outside the timed region.
fn time_opens<E>(dir: &Path, iters: u64, cold: bool, open: impl Fn(&Path) -> E, close: impl Fn(E)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if cold {
            evict_page_cache(dir);
        }
        let t = Instant::now();
        let e = open(dir);
        total += t.elapsed();
        close(e);
    }
    total
}

fn pmemkv_open_default(dir: &Path) -> Store {
    let st = Store::open(dir, Options::default()).expect("open pmemkv");
    assert_eq!(st.recovery_report().replayed_records, 0, "a clean reopen replays nothing");
    st
}

fn reopen(c: &mut Criterion) {
    let s = sizes();
    let datasets = [Dataset::new(s.hot_keys, VALUE_LEN), Dataset::new(s.large_keys, s.large_value_len)];
    for cold in [false, true] {
        let name = if cold { "reopen_cold" } else { "reopen" };
        let mut g = c.benchmark_group(name);
        g.sampling_mode(SamplingMode::Flat);
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(2));
        for ds in &datasets {
            let label = count_label(ds.n);
            for e in Engine::ALL {
                g.bench_function(BenchmarkId::new(e.name(), &label), |b| {
                    let dir = ds.ensure(e);
                    b.iter_custom(|iters| match e {
                        Engine::Pmemkv => time_opens(&dir, iters, cold, pmemkv_open_default, drop),
                        Engine::Redb => time_opens(&dir, iters, cold, redb_open, drop),
                        Engine::Lmdb => time_opens(&dir, iters, cold, Lmdb::open_existing, Lmdb::close),
                    });
                });
            }
        }
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    reopen(&mut c);
    c.final_summary();
}
