//! The cost of one element update in a collection of 1 k and of 1 M elements (list push/pop,
//! set add, sorted-set add, hash set, stream append): with the key-per-element encoding the
//! cost is O(log n), so the two sizes should cost about the same. Each collection is built
//! once per run in a temporary store (smoke mode: 1 k and 20 k).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use pmemkv::collections::XAddId;
use pmemkv::{Collections, Durability, Options, Store};
use pmemkv_benches::{scratch_dir, smoke};

static NEXT: AtomicU64 = AtomicU64::new(1 << 40);

fn member(i: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&pmemkv_benches::mix64(i).to_be_bytes());
    m[8..].copy_from_slice(&i.to_be_bytes());
    m
}

/// Builds list, set, zset, hash and stream `name` with `n` elements each.
fn build(c: &Collections, name: &str, n: u64) {
    const CHUNK: u64 = 5000;
    let mut i = 0;
    while i < n {
        let end = (i + CHUNK).min(n);
        let members: Vec<[u8; 16]> = (i..end).map(member).collect();
        c.rpush(format!("list:{name}").as_bytes(), &members).unwrap();
        c.sadd(format!("set:{name}").as_bytes(), &members).unwrap();
        let scored: Vec<(f64, [u8; 16])> = (i..end).map(|j| (pmemkv_benches::mix64(j) as f64, member(j))).collect();
        c.zadd(format!("zset:{name}").as_bytes(), &scored).unwrap();
        let pairs: Vec<([u8; 16], &[u8])> = members.iter().map(|m| (*m, &b"value"[..])).collect();
        c.hset(format!("hash:{name}").as_bytes(), &pairs).unwrap();
        for m in &members {
            c.xadd(format!("stream:{name}").as_bytes(), XAddId::Auto, &[(&b"m"[..], &m[..])]).unwrap();
        }
        i = end;
    }
    c.store().checkpoint().unwrap();
}

fn updates(cr: &mut Criterion) {
    let tmp = scratch_dir();
    let store = Arc::new(
        Store::open(tmp.path().join("store"), Options { durability: Durability::Never, ..Options::default() }).unwrap(),
    );
    let c = Collections::new(store.clone());
    let sizes: &[(u64, &str)] =
        if smoke() { &[(1_000, "1k"), (20_000, "20k")] } else { &[(1_000, "1k"), (1_000_000, "1M")] };
    for (n, label) in sizes {
        eprintln!("collections: building a list, set, zset, hash and stream of {label} elements");
        build(&c, label, *n);
    }
    let mut g = cr.benchmark_group("collection_update");
    g.measurement_time(Duration::from_secs(if smoke() { 1 } else { 3 }));
    for (_, label) in sizes {
        let list = format!("list:{label}");
        let set = format!("set:{label}");
        let zset = format!("zset:{label}");
        let hash = format!("hash:{label}");
        let stream = format!("stream:{label}");
        g.bench_function(BenchmarkId::new("list_push_pop", label), |b| {
            b.iter(|| {
                c.lpush(list.as_bytes(), &[b"x"]).unwrap();
                c.lpop(list.as_bytes(), 1).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("set_add_new", label), |b| {
            b.iter(|| c.sadd(set.as_bytes(), &[member(NEXT.fetch_add(1, Ordering::Relaxed))]).unwrap())
        });
        g.bench_function(BenchmarkId::new("zset_add_new", label), |b| {
            b.iter(|| {
                let i = NEXT.fetch_add(1, Ordering::Relaxed);
                c.zadd(zset.as_bytes(), &[(pmemkv_benches::mix64(i) as f64, member(i))]).unwrap()
            })
        });
        // What `redis-benchmark -t zadd -r 100000` does once the set is full: an existing
        // member gets a new random score (the old score's index entry goes, a new one comes).
        let members = if *label == "1k" { 1_000 } else { 100_000 };
        g.bench_function(BenchmarkId::new("zset_rescore", label), |b| {
            b.iter(|| {
                let i = NEXT.fetch_add(1, Ordering::Relaxed);
                c.zadd(zset.as_bytes(), &[(pmemkv_benches::mix64(i) as f64, member(i % members))]).unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("hash_set_new", label), |b| {
            b.iter(|| c.hset(hash.as_bytes(), &[(member(NEXT.fetch_add(1, Ordering::Relaxed)), b"v")]).unwrap())
        });
        g.bench_function(BenchmarkId::new("stream_append", label), |b| {
            b.iter(|| c.xadd(stream.as_bytes(), XAddId::Auto, &[(b"m", b"v")]).unwrap())
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    updates(&mut c);
    c.final_summary();
}
