//! Memory per key of the pmemkv index (not a criterion benchmark: it prints a report).
//!
//! A counting global allocator tracks live heap bytes. The binary loads N keys (16-byte keys,
//! 100-byte values; N = 1 M, or 20 k in smoke mode, or `PMEMKV_BENCH_MEM_KEYS`) into a store
//! whose memtable is large enough to hold them all, and reports heap bytes per key and
//! `stats().memtable_bytes` per key; then it checkpoints (the index moves to a mapped run
//! file) and reports the heap again, the run-file bytes per key and the process RSS split
//! into anonymous and file-backed pages, before and after reading every key once. A second
//! phase loads the same keys with default options (background checkpoints every 200 k
//! entries) to show that the heap stays bounded by the memtable limit.
//!
//! Run: `cargo bench -p pmemkv-benches --bench memory` (add `-- --test` for the smoke size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pmemkv::{Durability, Options, Store, WriteBatch};
use pmemkv_benches::{fill_value, human_bytes, key, rss, scratch_dir, smoke, timed, VALUE_LEN};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn heap() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn load(st: &Store, n: u64) {
    let mut v = vec![0u8; VALUE_LEN];
    let mut i = 0;
    while i < n {
        let mut b = WriteBatch::new();
        for j in i..(i + 1000).min(n) {
            fill_value(j, &mut v);
            b.put(key(j), v.as_slice());
        }
        st.write(&b).expect("write");
        i += 1000;
    }
}

fn per_key(bytes: f64, n: u64) -> String {
    format!("{:.1} B/key", bytes / n as f64)
}

fn rss_line(what: &str) {
    let (total, anon, file) = rss();
    println!(
        "  RSS {what}: total {}, anonymous {}, file-backed {}",
        human_bytes(total),
        human_bytes(anon),
        human_bytes(file)
    );
}

fn main() {
    // Honour a criterion-style name filter: skip unless it matches "memory".
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "memory".contains(f.as_str())) {
        return;
    }
    let n: u64 = if smoke() {
        20_000
    } else {
        std::env::var("PMEMKV_BENCH_MEM_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
    };
    println!("memory per key: {n} keys of 16 B with {VALUE_LEN} B values");

    // Phase 1: everything in the memtable, then one checkpoint.
    let dir = scratch_dir();
    let opts = Options {
        durability: Durability::Never,
        memtable_max_entries: n as usize + 1,
        checkpoint_log_bytes: u64::MAX,
        background: false,
        ..Options::default()
    };
    let st = Store::open(dir.path(), opts).expect("open");
    rss_line("after open");
    let h0 = heap();
    let ((), t) = timed(|| load(&st, n));
    let h1 = heap();
    let s = st.stats();
    println!("phase 1: all {n} keys in the memtable (loaded in {t:.1?})");
    println!("  heap growth: {} = {}", human_bytes((h1 - h0) as u64), per_key((h1 - h0) as f64, n));
    println!(
        "  stats().memtable_bytes: {} = {} ({} entries)",
        human_bytes(s.memtable_bytes as u64),
        per_key(s.memtable_bytes as f64, n),
        s.memtable_entries
    );
    println!("  peak heap so far: {}", human_bytes(PEAK.load(Ordering::Relaxed) as u64));
    rss_line("with the memtable full");
    let ((), t) = timed(|| st.checkpoint().expect("checkpoint"));
    let h2 = heap();
    let s = st.stats();
    println!("after checkpoint ({t:.1?}): index in {} mapped run file(s)", s.runs);
    println!(
        "  heap over the empty store: {} = {} (memtable_bytes now {})",
        human_bytes(h2.saturating_sub(h0) as u64),
        per_key(h2.saturating_sub(h0) as f64, n),
        s.memtable_bytes
    );
    println!("  run-file bytes: {} = {}", human_bytes(s.run_bytes), per_key(s.run_bytes as f64, n));
    println!(
        "  log bytes: {} = {} (segment files preallocated: {})",
        human_bytes(s.log_bytes),
        per_key(s.log_bytes as f64, n),
        human_bytes(s.segment_file_bytes)
    );
    rss_line("after checkpoint");
    let mut sum = 0usize;
    for i in 0..n {
        sum += st.get_with(&key(i), |v| v.map_or(0, <[u8]>::len)).expect("get");
    }
    assert_eq!(sum, n as usize * VALUE_LEN);
    println!("  heap after reading every key once: {}", per_key(heap().saturating_sub(h0) as f64, n));
    rss_line("after reading every key once");
    st.close().expect("close");
    drop(dir);

    // Phase 2: default options (background checkpoints at 200 k memtable entries).
    let dir = scratch_dir();
    let st = Store::open(dir.path(), Options { durability: Durability::Never, ..Options::default() }).expect("open");
    let h0 = heap();
    PEAK.store(h0, Ordering::Relaxed);
    load(&st, n);
    let h1 = heap();
    let s = st.stats();
    println!("phase 2: default options ({} runs, {} memtable entries at the end)", s.runs, s.memtable_entries);
    println!(
        "  heap growth: {} = {}, peak heap growth {}",
        human_bytes(h1.saturating_sub(h0) as u64),
        per_key(h1.saturating_sub(h0) as f64, n),
        human_bytes(PEAK.load(Ordering::Relaxed).saturating_sub(h0) as u64)
    );
    rss_line("at the end");
    st.close().expect("close");
}
