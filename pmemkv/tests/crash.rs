//! Crash tests with real processes and SIGKILL.
//!
//! `crash_cycles`: a child process (this test binary re-invoked on the ignored `crash_child`
//! test) writes with `Durability::Always` from two threads (single puts, overwrites, deletes,
//! write batches of 2–20 puts that all carry the batch id, batch deletes, values up to 64 KiB
//! and blob commits) while a third thread forces checkpoints, merges and compaction; segments
//! are 256 KiB, so rotations are frequent. Before each write the child prints an intent line,
//! after it returns an acknowledgement line. The parent SIGKILLs the child after a random
//! delay (0–300 ms), opens a copy of the directory and checks: every acknowledged write is
//! present and intact, an in-flight write is either entirely applied or not at all (never a
//! half-visible batch, never a damaged value), nothing else is visible, `verify()` passes, and
//! after a full compaction no orphan segment, run or blob file remains. The model carries over
//! cycles; the next child recovers the crashed original directory itself.
//!
//! Cycles: `PMEMKV_CRASH_CYCLES` (default 20); `scripts/crash-torture.sh` runs 1000 in release.
//!
//! Also deterministic tests of the on-disk states a kill can leave during store creation and
//! segment rotation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmemkv::{Durability, Options, Store, WriteBatch};

const ENV_DIR: &str = "PMEMKV_CRASH_CHILD_DIR";
const ENV_SEED: &str = "PMEMKV_CRASH_CHILD_SEED";
const ENV_BASE: &str = "PMEMKV_CRASH_CHILD_BASE";
const THREADS: u64 = 2;
const SINGLE_KEYS: u64 = 150;
const BLOB_KEYS: u64 = 2;
const MAX_KILL_DELAY_MS: u64 = 300;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

fn child_options() -> Options {
    Options {
        durability: Durability::Always,
        segment_size: 256 << 10,
        max_inline_value: 64 << 10,
        memtable_max_entries: 64,
        checkpoint_log_bytes: 512 << 10,
        background: true,
        ..Options::default()
    }
}

/// The value written by op `opid` to `key`: a header naming both, then `len` filler bytes
/// derived from them, so any mix-up or damage is detected.
fn value_for(key: &[u8], opid: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + key.len() + 20);
    v.extend_from_slice(key);
    v.extend_from_slice(format!("|{opid:x}|").as_bytes());
    let mut r =
        Rng(opid ^ key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)));
    while v.len() < len + key.len() + 20 {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(key.len() + 20 + len);
    v
}

fn single_key(t: u64, n: u64) -> Vec<u8> {
    format!("s{t}:{n:03}").into_bytes()
}

fn blob_key(t: u64, n: u64) -> Vec<u8> {
    format!("z{t}:{n}").into_bytes()
}

fn batch_key(batch: u64, i: usize) -> Vec<u8> {
    format!("b{batch:016x}:{i:02}").into_bytes()
}

/// Length of the filler of key `i` of batch `batch`.
fn batch_len(batch: u64, i: usize) -> usize {
    (Rng(batch.wrapping_mul(31).wrapping_add(i as u64)).next() % 1500) as usize
}

fn parse_batch_key(key: &[u8]) -> Option<(u64, usize)> {
    let s = std::str::from_utf8(key).ok()?.strip_prefix('b')?;
    let (id, i) = s.split_once(':')?;
    Some((u64::from_str_radix(id, 16).ok()?, i.parse().ok()?))
}

/// One write as announced by the child.
#[derive(Debug, Clone)]
enum Op {
    /// Single put of `value_for(key, opid, len)`.
    Put { key: Vec<u8>, len: usize },
    /// Delete of a single key.
    Delete { key: Vec<u8> },
    /// Write batch putting `batch_key(opid, i)` for `i < n`.
    Batch { n: usize },
    /// Write batch deleting every key of batch `batch`.
    DeleteBatch { batch: u64 },
    /// Blob commit of `value_for(key, opid, len)`.
    Blob { key: Vec<u8>, len: usize },
}

fn parse_intent(rest: &str) -> (u64, Op) {
    let f: Vec<&str> = rest.split(' ').collect();
    let opid: u64 = f[0].parse().expect("opid");
    let op = match f[1] {
        "P" => Op::Put { key: f[2].as_bytes().to_vec(), len: f[3].parse().unwrap() },
        "D" => Op::Delete { key: f[2].as_bytes().to_vec() },
        "B" => Op::Batch { n: f[2].parse().unwrap() },
        "X" => Op::DeleteBatch { batch: f[2].parse().unwrap() },
        "L" => Op::Blob { key: f[2].as_bytes().to_vec(), len: f[3].parse().unwrap() },
        other => panic!("unknown intent {other:?}"),
    };
    (opid, op)
}

// ------------------------------------------------------------------------------------------
// Child
// ------------------------------------------------------------------------------------------

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}

/// The child: writes until killed. Does nothing unless started by `crash_cycles`.
#[test]
#[ignore = "child process of crash_cycles"]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else { return };
    let seed: u64 = std::env::var(ENV_SEED).unwrap().parse().unwrap();
    let base: u64 = std::env::var(ENV_BASE).unwrap().parse().unwrap();
    let store = Arc::new(Store::open(&dir, child_options()).unwrap_or_else(|e| panic!("child open failed: {e}")));
    emit("@O");
    // Live batches, by owning thread.
    let mut batches: BTreeMap<u64, usize> = BTreeMap::new();
    for item in store.prefix(b"b").keys() {
        let (k, _) = item.unwrap();
        let (id, _) = parse_batch_key(&k).expect("batch key");
        *batches.entry(id).or_default() += 1;
    }
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let store = store.clone();
        let own: Vec<(u64, usize)> =
            batches.iter().filter(|(id, _)| *id % THREADS == t).map(|(a, b)| (*a, *b)).collect();
        handles
            .push(std::thread::spawn(move || child_writer(&store, t, seed ^ ((t + 1) * 0x1234_5678), base + t, own)));
    }
    {
        let store = store.clone();
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xdead_beef);
            loop {
                std::thread::sleep(Duration::from_millis(rng.range(5, 60)));
                let r = match rng.below(4) {
                    0 => store.checkpoint(),
                    1 => store.compact(true),
                    _ => store.compact(false),
                };
                r.unwrap_or_else(|e| panic!("child maintenance failed: {e}"));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}

fn child_writer(store: &Store, t: u64, seed: u64, first_opid: u64, mut own: Vec<(u64, usize)>) {
    let mut rng = Rng(seed);
    let mut opid = first_opid;
    loop {
        let id = opid;
        opid += THREADS;
        let roll = rng.below(100);
        let fail = |what: &str, e: pmemkv::Error| -> ! { panic!("child {what} (op {id}) failed: {e}") };
        if roll < 35 {
            let key = single_key(t, rng.below(SINGLE_KEYS));
            let len = match rng.below(100) {
                0..=79 => rng.range(0, 300),
                80..=94 => rng.range(300, 8 << 10),
                _ => rng.range(8 << 10, (64 << 10) - 64),
            } as usize;
            emit(&format!("@I {id} P {} {len}", String::from_utf8_lossy(&key)));
            store.put(&key, &value_for(&key, id, len)).unwrap_or_else(|e| fail("put", e));
        } else if roll < 45 {
            let key = single_key(t, rng.below(SINGLE_KEYS));
            emit(&format!("@I {id} D {}", String::from_utf8_lossy(&key)));
            store.delete(&key).unwrap_or_else(|e| fail("delete", e));
        } else if roll < 85 && !(own.len() > 40 && rng.below(2) == 0) {
            let n = rng.range(2, 20) as usize;
            emit(&format!("@I {id} B {n}"));
            let mut b = WriteBatch::new();
            for i in 0..n {
                let k = batch_key(id, i);
                let v = value_for(&k, id, batch_len(id, i));
                b.put(k, v);
            }
            store.write(&b).unwrap_or_else(|e| fail("batch", e));
            own.push((id, n));
        } else if roll < 97 {
            if own.is_empty() {
                continue;
            }
            let (batch, n) = own.swap_remove(rng.below(own.len() as u64) as usize);
            emit(&format!("@I {id} X {batch}"));
            let mut b = WriteBatch::new();
            for i in 0..n {
                b.delete(batch_key(batch, i));
            }
            store.write(&b).unwrap_or_else(|e| fail("batch delete", e));
        } else {
            let key = blob_key(t, rng.below(BLOB_KEYS));
            let len = rng.range(64 << 10, 400 << 10) as usize;
            emit(&format!("@I {id} L {} {len}", String::from_utf8_lossy(&key)));
            let value = value_for(&key, id, len);
            let mut w = store.blob_writer(&key).unwrap_or_else(|e| fail("blob_writer", e));
            for part in value.chunks(100_000) {
                w.write_all(part).unwrap();
            }
            w.commit().unwrap_or_else(|e| fail("blob commit", e));
        }
        emit(&format!("@A {id}"));
    }
}

// ------------------------------------------------------------------------------------------
// Parent
// ------------------------------------------------------------------------------------------

/// What the parent knows: the value (as `(opid, filler len)`) of every live key.
#[derive(Default)]
struct Model {
    values: BTreeMap<Vec<u8>, (u64, usize)>,
    batches: BTreeMap<u64, usize>,
}

impl Model {
    fn apply(&mut self, opid: u64, op: &Op) {
        match op {
            Op::Put { key, len } | Op::Blob { key, len } => {
                self.values.insert(key.clone(), (opid, *len));
            }
            Op::Delete { key } => {
                self.values.remove(key);
            }
            Op::Batch { n } => {
                for i in 0..*n {
                    self.values.insert(batch_key(opid, i), (opid, batch_len(opid, i)));
                }
                self.batches.insert(opid, *n);
            }
            Op::DeleteBatch { batch } => {
                let n = self.batches.remove(batch).unwrap_or_else(|| panic!("delete of unknown batch {batch}"));
                for i in 0..n {
                    self.values.remove(&batch_key(*batch, i));
                }
            }
        }
    }

    fn expected(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.values.get(key).map(|&(opid, len)| value_for(key, opid, len))
    }
}

#[derive(Default, Debug)]
struct Totals {
    cycles: u64,
    acked: u64,
    inflight_applied: u64,
    inflight_dropped: u64,
    killed_before_open: u64,
    torn_tails: u64,
    torn_manifests: u64,
    keys_checked: u64,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for ent in std::fs::read_dir(from).unwrap() {
        let ent = ent.unwrap();
        std::fs::copy(ent.path(), to.join(ent.file_name())).unwrap();
    }
}

fn count_files(dir: &Path, prefix: &str, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

struct CycleLog {
    intents: HashMap<u64, Op>,
    acks: Vec<u64>,
    opened: bool,
}

fn parse_lines(lines: &[String]) -> CycleLog {
    let mut log = CycleLog { intents: HashMap::new(), acks: Vec::new(), opened: false };
    for l in lines {
        // The test harness may print "test crash_child ... " before the first line.
        let Some(l) = l.find('@').map(|i| &l[i..]) else { continue };
        if l == "@O" {
            log.opened = true;
        } else if let Some(rest) = l.strip_prefix("@I ") {
            let (id, op) = parse_intent(rest);
            log.intents.insert(id, op);
        } else if let Some(rest) = l.strip_prefix("@A ") {
            log.acks.push(rest.parse().unwrap());
        }
    }
    log
}

/// Reads `key`, failing the test on an error.
fn read(store: &Store, key: &[u8], ctx: &str) -> Option<Vec<u8>> {
    store
        .get(key)
        .unwrap_or_else(|e| panic!("{ctx}: get({}) failed: {e}", String::from_utf8_lossy(key)))
        .map(|v| v.to_vec())
}

fn show(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => {
            let head = &v[..v.len().min(40)];
            format!("{} bytes {:?}", v.len(), String::from_utf8_lossy(head))
        }
    }
}

/// Decides whether the in-flight `op` was applied, checking all-or-nothing.
fn resolve_inflight(store: &Store, model: &Model, opid: u64, op: &Op, ctx: &str) -> bool {
    match op {
        Op::Put { key, len } | Op::Blob { key, len } => {
            let got = read(store, key, ctx);
            let new = Some(value_for(key, opid, *len));
            let old = model.expected(key);
            if got == new {
                true
            } else if got == old {
                false
            } else {
                panic!(
                    "{ctx}: in-flight write {opid} to {}: got {}, expected the old {} or the new value",
                    String::from_utf8_lossy(key),
                    show(&got),
                    show(&old)
                )
            }
        }
        Op::Delete { key } => {
            let got = read(store, key, ctx);
            let old = model.expected(key);
            if got.is_none() {
                true
            } else if got == old {
                false
            } else {
                panic!("{ctx}: in-flight delete {opid} of {}: got {}", String::from_utf8_lossy(key), show(&got))
            }
        }
        Op::Batch { n } => {
            let mut present = 0;
            for i in 0..*n {
                let k = batch_key(opid, i);
                match read(store, &k, ctx) {
                    None => {}
                    Some(v) => {
                        assert_eq!(
                            v,
                            value_for(&k, opid, batch_len(opid, i)),
                            "{ctx}: in-flight batch {opid} key {i} damaged"
                        );
                        present += 1;
                    }
                }
            }
            assert!(present == 0 || present == *n, "{ctx}: in-flight batch {opid} half visible: {present} of {n} keys");
            present == *n
        }
        Op::DeleteBatch { batch } => {
            let n = model.batches[batch];
            let mut present = 0;
            for i in 0..n {
                let k = batch_key(*batch, i);
                if let Some(v) = read(store, &k, ctx) {
                    assert_eq!(Some(v), model.expected(&k), "{ctx}: batch {batch} key {i} damaged");
                    present += 1;
                }
            }
            assert!(
                present == 0 || present == n,
                "{ctx}: in-flight delete of batch {batch} half applied: {present} of {n} keys left"
            );
            present == 0
        }
    }
}

/// Checks the crashed store (a copy) against the model and updates the model.
fn check_cycle(copy: &Path, model: &mut Model, log: &CycleLog, totals: &mut Totals, ctx: &str) {
    let opts = Options { background: false, ..child_options() };
    let store = Store::open(copy, opts).unwrap_or_else(|e| panic!("{ctx}: reopen after SIGKILL failed: {e}"));
    let report = store.recovery_report().clone();
    assert!(!report.discarded_valid_records, "{ctx}: {report:?}");
    // A kill while a manifest slot is written tears that slot; the other one is used.
    assert!(report.damaged_manifests.len() <= 1, "{ctx}: {report:?}");
    totals.torn_manifests += report.damaged_manifests.len() as u64;
    if report.torn_tail.is_some() {
        totals.torn_tails += 1;
    }
    // Acknowledged writes, in acknowledgement order (writes to one key come from one thread).
    let acked: BTreeSet<u64> = log.acks.iter().copied().collect();
    for id in &log.acks {
        let op = log.intents.get(id).unwrap_or_else(|| panic!("{ctx}: ack {id} without intent"));
        model.apply(*id, op);
        totals.acked += 1;
    }
    // Writes in flight at the kill: at most one per writer thread, disjoint keys.
    let mut inflight: Vec<(u64, Op)> =
        log.intents.iter().filter(|(id, _)| !acked.contains(id)).map(|(id, op)| (*id, op.clone())).collect();
    inflight.sort_by_key(|(id, _)| *id);
    assert!(inflight.len() as u64 <= THREADS, "{ctx}: more in-flight writes than writer threads: {inflight:?}");
    for (id, op) in &inflight {
        if resolve_inflight(&store, model, *id, op, ctx) {
            model.apply(*id, op);
            totals.inflight_applied += 1;
        } else {
            totals.inflight_dropped += 1;
        }
    }
    // Every key of the model by point lookup, then the whole store by iteration: exactly the
    // model, nothing else.
    for (k, &(opid, len)) in &model.values {
        let got = read(&store, k, ctx);
        if got.as_deref() != Some(&value_for(k, opid, len)[..]) {
            panic!(
                "{ctx}: acknowledged value of {} (op {opid}) lost or damaged: got {}",
                String::from_utf8_lossy(k),
                show(&got)
            );
        }
        totals.keys_checked += 1;
    }
    let mut seen = 0usize;
    for item in store.iter() {
        let (k, v) = item.unwrap_or_else(|e| panic!("{ctx}: iteration failed: {e}"));
        let want = model.expected(&k);
        assert!(
            want.as_deref() == Some(&*v),
            "{ctx}: iteration yields {} = {}, model has {}",
            String::from_utf8_lossy(&k),
            show(&Some(v.to_vec())),
            show(&want)
        );
        seen += 1;
    }
    assert_eq!(seen, model.values.len(), "{ctx}: iteration count");
    let n = store.verify().unwrap_or_else(|e| panic!("{ctx}: verify failed: {e}"));
    assert_eq!(n as usize, model.values.len(), "{ctx}: verify count");
    // After a full compaction, no orphan files: every segment, run and blob file is in use.
    store.compact(true).unwrap_or_else(|e| panic!("{ctx}: compact failed: {e}"));
    store.checkpoint().unwrap();
    let st = store.stats();
    let blobs = count_files(copy, "blob-", ".pkb");
    let live_blobs = model.values.keys().filter(|k| k.starts_with(b"z")).count();
    assert_eq!(blobs.len(), live_blobs, "{ctx}: blob files {blobs:?} for {live_blobs} live blob values");
    assert_eq!(count_files(copy, "seg-", ".pkl").len(), st.segments, "{ctx}: segment files vs {st:?}");
    assert_eq!(count_files(copy, "run-", ".pkr").len(), st.runs, "{ctx}: run files vs {st:?}");
    assert!(count_files(copy, "", ".tmp").is_empty(), "{ctx}: temporary files left");
    store.close().unwrap();
}

#[test]
fn crash_cycles() {
    let cycles: u64 = std::env::var("PMEMKV_CRASH_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let master_seed: u64 = std::env::var("PMEMKV_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c0de);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(master_seed);
    let mut model = Model::default();
    let mut totals = Totals::default();
    for cycle in 0..cycles {
        let seed = rng.next();
        let delay = Duration::from_millis(rng.below(MAX_KILL_DELAY_MS + 1));
        let ctx = format!("cycle {cycle} (master seed {master_seed}, child seed {seed}, kill after {delay:?})");
        let stderr_path = tmp.path().join("child-stderr.txt");
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env(ENV_DIR, &dir)
            .env(ENV_SEED, seed.to_string())
            .env(ENV_BASE, ((cycle + 1) << 32).to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            // Complete lines only: a line cut by the kill has no newline and is dropped.
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut buf = String::new();
            while r.read_line(&mut buf).unwrap_or(0) > 0 {
                if buf.ends_with('\n') {
                    lines.push(buf.trim_end().to_string());
                }
                buf.clear();
            }
            lines
        });
        std::thread::sleep(delay);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() != Some(9) {
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                panic!(
                    "{ctx}: child ended by itself ({status}) before the kill:\n{err}\nstdout:\n{}",
                    lines.join("\n")
                );
            }
        }
        let log = parse_lines(&lines);
        if !log.opened {
            totals.killed_before_open += 1;
        }
        if !dir.exists() {
            // Killed before the store directory was created.
            continue;
        }
        let copy = tmp.path().join(format!("check-{cycle}"));
        copy_dir(&dir, &copy);
        check_cycle(&copy, &mut model, &log, &mut totals, &ctx);
        std::fs::remove_dir_all(&copy).unwrap();
        totals.cycles += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "crash-torture summary: cycles={} acked_writes_verified={} inflight_applied={} inflight_dropped={} \
         killed_before_open={} torn_tails={} torn_manifests={} key_checks={} live_keys={} duration={secs:.1}s",
        totals.cycles,
        totals.acked,
        totals.inflight_applied,
        totals.inflight_dropped,
        totals.killed_before_open,
        totals.torn_tails,
        totals.torn_manifests,
        totals.keys_checked,
        model.values.len()
    );
    assert!(totals.acked > 0 || cycles < 5, "no acknowledged writes at all: {totals:?}");
}

// ------------------------------------------------------------------------------------------
// Deterministic states a kill can leave
// ------------------------------------------------------------------------------------------

fn small_opts() -> Options {
    Options { segment_size: 64 << 10, max_inline_value: 16 << 10, background: false, ..Options::default() }
}

/// A kill during store creation, after the first segment file was created but before the
/// first manifest was written, leaves a directory with only `seg-00000001.pkl` (empty, zero
/// header, or complete but without records). Nothing was ever acknowledged, so the store
/// must open as a new store.
#[test]
fn kill_during_store_creation_leaves_an_openable_store() {
    let tmp = tempfile::tempdir().unwrap();
    // The complete first segment, taken from a store created and never written.
    let model_dir = tmp.path().join("model");
    drop(Store::open(&model_dir, small_opts()).unwrap());
    let seg1 = std::fs::read(model_dir.join("seg-00000001.pkl")).unwrap();
    let states: [(&str, Vec<u8>); 3] =
        [("empty file", Vec::new()), ("preallocated, no header", vec![0u8; seg1.len()]), ("header only", seg1)];
    for (what, bytes) in states {
        let dir = tmp.path().join(what.replace([' ', ','], "_"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("LOCK"), b"").unwrap();
        std::fs::write(dir.join("seg-00000001.pkl"), &bytes).unwrap();
        let s = Store::open(&dir, small_opts()).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
        s.put(b"k", b"v").unwrap();
        s.close().unwrap();
        let s = Store::open(&dir, small_opts()).unwrap();
        assert_eq!(s.get(b"k").unwrap().as_deref(), Some(&b"v"[..]), "{what}");
    }
}

/// A kill during a segment rotation, after the new segment file was created but before its
/// header was written, leaves an empty or all-zero newest segment. Every acknowledged write
/// is in the older segments, so the store must open with all of them.
#[test]
fn kill_during_segment_rotation_leaves_an_openable_store() {
    for (what, len) in [("empty file", 0usize), ("preallocated, no header", 64 << 10), ("short", 10)] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().join("orig");
        let next_id = {
            let s = Store::open(dir, small_opts()).unwrap();
            for i in 0..300u32 {
                s.put(format!("k{i}").as_bytes(), &[i as u8; 500]).unwrap();
                if i == 100 {
                    s.checkpoint().unwrap();
                }
            }
            s.sync().unwrap();
            let segs = count_files(dir, "seg-", ".pkl");
            assert!(segs.len() >= 2);
            let last = segs.last().unwrap();
            // Simulate the kill: no clean close.
            std::mem::forget(s);
            u32::from_str_radix(&last[4..12], 16).unwrap() + 1
        };
        let copy = tmp.path().join("copy");
        copy_dir_flat(dir, &copy);
        std::fs::write(copy.join(format!("seg-{next_id:08x}.pkl")), vec![0u8; len]).unwrap();
        let s = Store::open(&copy, small_opts()).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
        for i in 0..300u32 {
            assert_eq!(
                s.get(format!("k{i}").as_bytes()).unwrap().as_deref(),
                Some(&[i as u8; 500][..]),
                "{what}: k{i}"
            );
        }
        s.put(b"after", b"x").unwrap();
        s.verify().unwrap();
    }
}

/// Copies the regular files of `from` (not subdirectories) into `to`.
fn copy_dir_flat(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for ent in std::fs::read_dir(from).unwrap() {
        let ent = ent.unwrap();
        if ent.file_type().unwrap().is_file() {
            std::fs::copy(ent.path(), to.join(ent.file_name())).unwrap();
        }
    }
}

/// A blob staged before a checkpoint and committed after it, or never, must be told apart
/// after a crash: the checkpoint's next blob id is past both, so only the manifest's list of
/// blobs outstanding at the checkpoint lets recovery delete the orphan (and keep the other).
#[test]
fn blob_staged_across_a_checkpoint_is_removed_if_never_committed() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let s = Store::open(&dir, Options::default()).unwrap();
    let stage = |byte: u8| {
        let mut st = s.stage_blob().unwrap();
        st.write_all(&vec![byte; 100_000]).unwrap();
        st.finish().unwrap()
    };
    let mut w = s.blob_writer(b"before").unwrap();
    w.write_all(&[1u8; 50_000]).unwrap();
    w.commit().unwrap();
    let orphan = stage(2);
    let late = stage(3);
    let early = stage(4);
    s.update(|t| t.put_blob(b"early", early, None)).unwrap();
    s.checkpoint().unwrap();
    s.update(|t| t.put_blob(b"late", late, None)).unwrap();
    assert_eq!(count_files(&dir, "blob-", ".pkb").len(), 4, "three committed blobs and the orphan");

    // The crash image: the orphan is complete on disk and not referenced by any record.
    let copy = tmp.path().join("copy");
    copy_dir_flat(&dir, &copy);
    let c = Store::open(&copy, Options::default()).unwrap();
    assert_eq!(c.recovery_report().removed_blobs.len(), 1, "{:?}", c.recovery_report());
    assert_eq!(count_files(&copy, "blob-", ".pkb").len(), 3);
    for (key, byte, len) in [(&b"before"[..], 1u8, 50_000), (b"early", 4, 100_000), (b"late", 3, 100_000)] {
        assert_eq!(c.get(key).unwrap().as_deref(), Some(&vec![byte; len][..]), "{}", String::from_utf8_lossy(key));
    }
    c.verify().unwrap();
    drop(c);

    // Without a crash, dropping the staged blob deletes its file at once.
    drop(orphan);
    assert_eq!(count_files(&dir, "blob-", ".pkb").len(), 3);
    s.close().unwrap();
    let s = Store::open(&dir, Options::default()).unwrap();
    assert!(s.recovery_report().removed_blobs.is_empty());
    assert_eq!(s.get(b"late").unwrap().as_deref(), Some(&vec![3u8; 100_000][..]));
}
