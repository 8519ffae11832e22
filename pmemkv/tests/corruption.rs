//! Corruption tests: stores are built (several segments, index runs, blobs, a log tail after
//! the last checkpoint), left as a crash would leave them, copied and damaged — truncated
//! files, flipped bytes, zeroed ranges, deleted manifest slots — and reopened.
//!
//! Random damage (seeded, about 200 cases): `Store::open` must return a clear error
//! (`Corruption`, `UnsupportedVersion`, or `Io` with a message) or open; a panic fails the test
//! with the seed. If it opens, no read ever returns a wrong value: every `get` and every
//! iterated entry must be `Err(Corruption)` or agree with one single prefix of the write
//! history (damage may cut the log tail, never reorder or resurrect), the prefix must be the
//! whole history unless the damage hit the log from the replay point on, and `verify()` is
//! `Ok` or `Err(Corruption)`.
//!
//! Specific cases with exact expectations: torn tail (truncated mid-record, garbage after the
//! last record), a damaged record in the middle of the tail (Corruption, or `repair`), both
//! manifest slots damaged, an unknown manifest version, one damaged slot, a flipped value
//! byte in a sealed segment, and damaged blobs.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pmemkv::manifest::{self, MANIFEST_FILES};
use pmemkv::record::{self, Probe};
use pmemkv::{Durability, Error, Options, Store, WriteBatch};

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
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

fn opts() -> Options {
    Options {
        durability: Durability::Never,
        segment_size: 64 << 10,
        max_inline_value: 16 << 10,
        memtable_max_entries: 100_000,
        background: false,
        ..Options::default()
    }
}

fn value(key: &[u8], step: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{}@{step}#", String::from_utf8_lossy(key)).into_bytes();
    let mut r = Rng(step as u64 * 7919 + key.len() as u64);
    while v.len() < len {
        v.push(b'a' + (r.next() % 26) as u8);
    }
    v
}

/// Per key: `(step, value after the step)`, in step order.
type History = BTreeMap<Vec<u8>, Vec<(usize, Option<Vec<u8>>)>>;
/// Per key: what a read returned.
type Observed = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// How a build ends before its tail.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// A plain checkpoint (the older manifest slot is consistent with the files).
    Checkpoint,
    /// A full compaction (GC and merges deleted files the older slot names).
    Compact,
}

/// A built store, closed as a crash would leave it (log tail after the last checkpoint).
struct Built {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// Per key: `(step, value after the step)`, in step order.
    history: History,
    /// Number of steps (each step is exactly one log record).
    steps: usize,
    /// Steps before the last checkpoint.
    ckpt_steps: usize,
    /// The tail records: `(segment id, offset, payload end)`, one per tail step.
    tail: Vec<(u32, u64, u64)>,
    /// Blob keys.
    blob_keys: Vec<Vec<u8>>,
}

impl Built {
    fn state_at(&self, cut: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        for (k, h) in &self.history {
            if let Some((_, Some(v))) = h.iter().rev().find(|(s, _)| *s < cut) {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

struct Builder<'a> {
    store: &'a Store,
    rng: Rng,
    step: usize,
    history: History,
    live: BTreeMap<Vec<u8>, Vec<u8>>,
    blob_keys: Vec<Vec<u8>>,
}

impl Builder<'_> {
    fn record(&mut self, key: &[u8], v: Option<Vec<u8>>) {
        self.history.entry(key.to_vec()).or_default().push((self.step, v.clone()));
        match v {
            Some(v) => self.live.insert(key.to_vec(), v),
            None => self.live.remove(key),
        };
    }

    /// One random step: exactly one log record.
    fn step(&mut self, keys: u64, big: bool) {
        let roll = self.rng.below(100);
        let key = format!("k{:03}", self.rng.below(keys)).into_bytes();
        if roll < 55 {
            let len = if big { self.rng.range(2000, 9000) } else { self.rng.range(20, 1500) } as usize;
            let v = value(&key, self.step, len);
            self.store.put(&key, &v).unwrap();
            self.record(&key, Some(v));
        } else if roll < 68 && self.live.contains_key(&key) {
            assert!(self.store.delete(&key).unwrap());
            self.record(&key, None);
        } else if roll < 97 {
            let n = self.rng.range(2, 6);
            let mut b = WriteBatch::new();
            let mut ops = BTreeMap::new();
            for _ in 0..n {
                let k = format!("k{:03}", self.rng.below(keys)).into_bytes();
                if self.rng.below(4) == 0 && self.live.contains_key(&k) {
                    b.delete(k.clone());
                    ops.insert(k, None);
                } else {
                    let v = value(&k, self.step, self.rng.range(10, 400) as usize);
                    b.put(k.clone(), v.clone());
                    ops.insert(k, Some(v));
                }
            }
            // Later ops on the same key win within a batch; the map keeps the last.
            self.store.write(&b).unwrap();
            for (k, v) in ops {
                self.record(&k, v);
            }
        } else {
            self.blob(None);
        }
        self.step += 1;
    }

    fn blob(&mut self, key: Option<&[u8]>) {
        let key = key.map_or_else(|| format!("blob{}", self.rng.below(2)).into_bytes(), |k| k.to_vec());
        let v = value(&key, self.step, self.rng.range(20_000, 120_000) as usize);
        let mut w = self.store.blob_writer(&key).unwrap();
        std::io::Write::write_all(&mut w, &v).unwrap();
        w.commit().unwrap();
        if !self.blob_keys.contains(&key) {
            self.blob_keys.push(key.clone());
        }
        self.record(&key, Some(v));
    }
}

fn build(seed: u64, ending: Ending, tail_steps: usize, big_tail: bool) -> Built {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = Store::open(&dir, opts()).unwrap();
    let mut b = Builder {
        store: &store,
        rng: Rng(seed),
        step: 0,
        history: BTreeMap::new(),
        live: BTreeMap::new(),
        blob_keys: Vec::new(),
    };
    b.blob(Some(b"blob0"));
    b.step += 1;
    for i in 0..400 {
        b.step(150, false);
        if i % 70 == 69 {
            store.checkpoint().unwrap();
        }
        if i == 250 {
            store.compact(false).unwrap();
        }
    }
    match ending {
        Ending::Checkpoint => store.checkpoint().unwrap(),
        Ending::Compact => {
            for _ in 0..20 {
                b.step(150, false);
            }
            store.checkpoint().unwrap();
            // The newest manifest slot is the compaction's: the older one names files it
            // deleted.
            store.compact(true).unwrap();
        }
    }
    let ckpt_steps = b.step;
    for _ in 0..tail_steps {
        b.step(150, big_tail);
    }
    store.sync().unwrap();
    let stats = store.stats();
    let (history, steps, blob_keys) = (std::mem::take(&mut b.history), b.step, std::mem::take(&mut b.blob_keys));
    // Leave the files as a kill would: no final checkpoint. The directory lock stays with the
    // leaked store; the damaged copies are not locked.
    std::mem::forget(store);
    let tail = tail_records(&dir);
    assert_eq!(tail.len(), steps - ckpt_steps, "one record per tail step");
    assert!(stats.segments >= 2 && stats.runs >= 1, "{stats:?}");
    Built { _tmp: tmp, dir, history, steps, ckpt_steps, tail, blob_keys }
}

fn seg_name(id: u32) -> String {
    format!("seg-{id:08x}.pkl")
}

/// The records after the newest manifest's replay position: `(segment, offset, payload end)`.
fn tail_records(dir: &Path) -> Vec<(u32, u64, u64)> {
    let m = manifest::load(dir).unwrap().manifest.unwrap();
    let mut out = Vec::new();
    let mut seg = m.log_segment;
    let mut pos = m.log_offset as u64;
    while let Ok(bytes) = std::fs::read(dir.join(seg_name(seg))) {
        loop {
            match record::probe(&bytes[pos as usize..]) {
                Probe::Record { len, .. } => {
                    let payload = u32::from_le_bytes(bytes[pos as usize + 4..pos as usize + 8].try_into().unwrap());
                    out.push((seg, pos, pos + record::RECORD_HEADER_LEN as u64 + payload as u64));
                    pos += len as u64;
                }
                Probe::End => break,
                Probe::Invalid(why) => panic!("undamaged store has an invalid record: {why}"),
            }
        }
        seg += 1;
        pos = 64;
    }
    out
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for ent in std::fs::read_dir(from).unwrap() {
        let ent = ent.unwrap();
        std::fs::copy(ent.path(), to.join(ent.file_name())).unwrap();
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "LOCK")
        .collect();
    v.sort();
    v
}

fn newest_manifest_slot(dir: &Path) -> usize {
    let m = manifest::load(dir).unwrap().manifest.unwrap();
    (m.generation % 2) as usize
}

fn is_clear_error(e: &Error) -> bool {
    match e {
        Error::Corruption { reason, .. } => !reason.is_empty(),
        Error::UnsupportedVersion { .. } => true,
        Error::Io { context, .. } => !context.is_empty(),
        _ => false,
    }
}

fn flip(path: &Path, at: usize, mask: u8) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= mask;
    std::fs::write(path, b).unwrap();
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// Reads every key; returns (observations, number of corruption errors).
fn observe(store: &Store, built: &Built) -> Result<(Observed, usize), String> {
    let mut seen = BTreeMap::new();
    let mut errors = 0;
    for k in built.history.keys() {
        match store.get(k) {
            Ok(v) => {
                seen.insert(k.clone(), v.map(|v| v.to_vec()));
            }
            Err(e) if e.is_corruption() => errors += 1,
            Err(e) => {
                return Err(format!("get({}) failed with a non-corruption error: {e}", String::from_utf8_lossy(k)))
            }
        }
    }
    Ok((seen, errors))
}

/// Half-open intervals of cut points `c` (state after the first `c` steps) at which `key`
/// has the value `v`.
fn cuts_for(built: &Built, key: &[u8], v: &Option<Vec<u8>>) -> Vec<(usize, usize)> {
    let end = built.steps + 1;
    let Some(h) = built.history.get(key) else {
        return if v.is_none() { vec![(0, end)] } else { vec![] };
    };
    let mut out = Vec::new();
    let mut prev_val: Option<Vec<u8>> = None;
    let mut from = 0;
    for (step, val) in h {
        if prev_val == *v && from < step + 1 {
            out.push((from, step + 1));
        }
        prev_val = val.clone();
        from = step + 1;
    }
    if prev_val == *v {
        out.push((from, end));
    }
    out
}

fn intersect(a: &[(usize, usize)], b: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo < hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The cut points consistent with all observations (errors excluded).
fn consistent_cuts(built: &Built, seen: &Observed) -> Result<Vec<(usize, usize)>, String> {
    let mut allowed = vec![(0, built.steps + 1)];
    for (k, v) in seen {
        let next = intersect(&allowed, &cuts_for(built, k, v));
        if next.is_empty() {
            let any = cuts_for(built, k, v);
            return Err(if any.is_empty() {
                format!("{} has a value never written to it: {}", String::from_utf8_lossy(k), show(v))
            } else {
                format!(
                    "{} = {} (true for cuts {any:?}) contradicts the other keys (cuts {allowed:?}); \
                     history has {} steps, checkpoint after {}",
                    String::from_utf8_lossy(k),
                    show(v),
                    built.steps,
                    built.ckpt_steps
                )
            });
        }
        allowed = next;
    }
    Ok(allowed)
}

fn show(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => format!("{:?} ({} bytes)", String::from_utf8_lossy(&v[..v.len().min(24)]), v.len()),
    }
}

/// The generic checks on a damaged copy. `min_cut`: the smallest prefix the damage may leave.
fn check_damaged(dir: &Path, built: &Built, min_cut: usize) -> Result<&'static str, String> {
    let store = match Store::open(dir, opts()) {
        Ok(s) => s,
        Err(e) if is_clear_error(&e) => {
            if std::env::var_os("PMEMKV_CORRUPTION_VERBOSE").is_some() {
                println!("open refused: {e}");
            }
            return Ok("open refused");
        }
        Err(e) => return Err(format!("open failed with an unclear error: {e:?}")),
    };
    let (seen, errors) = observe(&store, built)?;
    let cuts = consistent_cuts(built, &seen)?;
    if !cuts.iter().any(|&(_, hi)| hi > min_cut) {
        return Err(format!(
            "acknowledged writes lost: reads match only cuts {cuts:?}, but the damage may only cut the \
             history at {min_cut} or later (of {}); report {:?}",
            built.steps,
            store.recovery_report()
        ));
    }
    // Iteration: never a wrong value, never a key that is not in the history.
    let mut iter_seen = BTreeMap::new();
    for item in store.iter() {
        match item {
            Ok((k, v)) => {
                if !built.history.contains_key(&k) {
                    return Err(format!("iteration yields unknown key {}", String::from_utf8_lossy(&k)));
                }
                iter_seen.insert(k, Some(v.to_vec()));
            }
            Err(e) if e.is_corruption() => break,
            Err(e) => return Err(format!("iteration failed with a non-corruption error: {e}")),
        }
    }
    for (k, v) in &iter_seen {
        if let Some(Some(g)) = seen.get(k) {
            if Some(g) != v.as_ref() {
                return Err(format!("iteration and get disagree on {}", String::from_utf8_lossy(k)));
            }
        }
    }
    consistent_cuts(built, &iter_seen).map_err(|e| format!("iteration: {e}"))?;
    match store.verify() {
        Ok(_) => {}
        Err(e) if e.is_corruption() => {}
        Err(e) => return Err(format!("verify failed with a non-corruption error: {e}")),
    }
    let _ = store.stats();
    drop(store);
    Ok(if errors > 0 { "opened, some reads corrupt" } else { "opened" })
}

/// The region of `bytes` worth damaging: up to a little past the last nonzero byte.
fn written_len(bytes: &[u8]) -> usize {
    (bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1) + 64).min(bytes.len())
}

/// Applies one random damage to the store copy in `dir`; returns its description and the
/// smallest cut of the history it may legitimately cause.
fn random_damage(rng: &mut Rng, dir: &Path, built: &Built) -> (String, usize) {
    let m = manifest::load(dir).unwrap().manifest.unwrap();
    let names = files(dir);
    // Weighted choice of a file class.
    let class = rng.below(10);
    let pick = |rng: &mut Rng, f: &dyn Fn(&str) -> bool| -> Option<String> {
        let c: Vec<&String> = names.iter().filter(|n| f(n)).collect();
        (!c.is_empty()).then(|| c[rng.below(c.len() as u64) as usize].clone())
    };
    let name = match class {
        0..=4 => pick(rng, &|n: &str| n.starts_with("seg-")),
        5..=6 => pick(rng, &|n: &str| n.starts_with("run-")),
        7 => pick(rng, &|n: &str| n.starts_with("MANIFEST")),
        _ => pick(rng, &|n: &str| n.starts_with("blob-")),
    }
    .unwrap_or_else(|| names[rng.below(names.len() as u64) as usize].clone());
    let path = dir.join(&name);
    let min_cut = match name.strip_prefix("seg-").and_then(|s| s.strip_suffix(".pkl")) {
        Some(hex) if u32::from_str_radix(hex, 16).unwrap() >= m.log_segment => built.ckpt_steps,
        _ => built.steps,
    };
    let bytes = std::fs::read(&path).unwrap();
    let region = written_len(&bytes).max(1);
    let kind = if name.starts_with("MANIFEST") { rng.below(4) } else { rng.below(3) };
    let desc = match kind {
        0 => {
            let at = rng.below(region as u64 + 1);
            truncate(&path, at);
            format!("truncate {name} ({} bytes) to {at}", bytes.len())
        }
        1 => {
            let n = rng.range(1, 4);
            let mut b = bytes.clone();
            let mut at = Vec::new();
            for _ in 0..n {
                let p = rng.below(region as u64) as usize;
                b[p] ^= 1 << rng.below(8);
                at.push(p);
            }
            std::fs::write(&path, b).unwrap();
            format!("flip bits in {name} at {at:?}")
        }
        2 => {
            let start = rng.below(region as u64) as usize;
            let len = rng.range(1, 4096) as usize;
            let end = (start + len).min(bytes.len());
            let mut b = bytes.clone();
            b[start..end].fill(0);
            std::fs::write(&path, b).unwrap();
            format!("zero {name} [{start}, {end})")
        }
        _ => {
            std::fs::remove_file(&path).unwrap();
            format!("delete {name}")
        }
    };
    (desc, min_cut)
}

#[test]
fn random_damage_never_yields_a_wrong_value() {
    let cases: [(u64, Ending, usize, bool, usize); 3] = [
        (0xc0ff_ee01, Ending::Checkpoint, 40, false, 70),
        (0xc0ff_ee02, Ending::Compact, 60, false, 65),
        (0xc0ff_ee03, Ending::Checkpoint, 50, true, 65),
    ];
    // More rounds (each with other damage) for longer runs: PMEMKV_CORRUPTION_ROUNDS.
    let rounds: u64 = std::env::var("PMEMKV_CORRUPTION_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (round, (seed, ending, tail, big, iterations)) in (0..rounds).flat_map(|r| cases.iter().map(move |c| (r, *c))) {
        let seed = seed ^ round.wrapping_mul(0x9e37_79b9);
        let built = build(seed, ending, tail, big);
        let scratch = tempfile::tempdir().unwrap();
        let mut rng = Rng(seed ^ 0xdada);
        for it in 0..iterations {
            let copy = scratch.path().join(format!("c{it}"));
            copy_store(&built.dir, &copy);
            let (desc, min_cut) = random_damage(&mut rng, &copy, &built);
            let result = catch_unwind(AssertUnwindSafe(|| check_damaged(&copy, &built, min_cut)));
            match result {
                Ok(Ok(outcome)) => *outcomes.entry(outcome).or_default() += 1,
                Ok(Err(why)) => panic!("build seed {seed:#x}, iteration {it}: {desc}: {why}"),
                Err(_) => panic!("build seed {seed:#x}, iteration {it}: {desc}: PANIC (see above)"),
            }
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
    println!("random damage outcomes: {outcomes:?}");
    assert!(outcomes.get("opened").copied().unwrap_or(0) > 0, "{outcomes:?}");
    assert!(outcomes.get("open refused").copied().unwrap_or(0) > 0, "{outcomes:?}");
}

// ------------------------------------------------------------------------------------------
// Specific cases
// ------------------------------------------------------------------------------------------

fn damaged_copy(built: &Built, name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_store(&built.dir, &dir);
    (tmp, dir)
}

/// Asserts the store holds exactly the state after `cut` steps.
fn assert_state(store: &Store, built: &Built, cut: usize, ctx: &str) {
    let want = built.state_at(cut);
    for k in built.history.keys() {
        let got = store.get(k).unwrap_or_else(|e| panic!("{ctx}: get({}): {e}", String::from_utf8_lossy(k)));
        assert_eq!(got.map(|v| v.to_vec()), want.get(k).cloned(), "{ctx}: key {}", String::from_utf8_lossy(k));
    }
    let all: Vec<(Vec<u8>, Vec<u8>)> = store.iter().map(|r| r.map(|(k, v)| (k, v.to_vec())).unwrap()).collect();
    assert_eq!(all, want.into_iter().collect::<Vec<_>>(), "{ctx}: iteration");
    store.verify().unwrap_or_else(|e| panic!("{ctx}: verify: {e}"));
}

#[test]
fn torn_tail_truncated_mid_record_keeps_all_earlier_writes() {
    let built = build(11, Ending::Checkpoint, 30, false);
    let (_t, dir) = damaged_copy(&built, "torn");
    let &(seg, off, end) = built.tail.last().unwrap();
    truncate(&dir.join(seg_name(seg)), off + (end - off) / 2);
    let s = Store::open(&dir, opts()).unwrap();
    assert_eq!(s.recovery_report().torn_tail, Some((seg, off)), "{:?}", s.recovery_report());
    assert!(!s.recovery_report().discarded_valid_records);
    assert_state(&s, &built, built.steps - 1, "torn tail");
    // The store keeps working after the torn tail, also across another reopen.
    s.put(b"after", b"torn").unwrap();
    s.close().unwrap();
    let s = Store::open(&dir, opts()).unwrap();
    assert_eq!(s.get(b"after").unwrap().as_deref(), Some(&b"torn"[..]));
    assert!(s.recovery_report().torn_tail.is_none());
}

#[test]
fn garbage_after_last_record_is_a_torn_tail() {
    let built = build(12, Ending::Checkpoint, 30, false);
    let (_t, dir) = damaged_copy(&built, "garbage");
    let &(seg, off, end) = built.tail.last().unwrap();
    let next = record::align_up(end as usize);
    let path = dir.join(seg_name(seg));
    let mut b = std::fs::read(&path).unwrap();
    let mut rng = Rng(5);
    for x in &mut b[next..next + 200] {
        *x = rng.next() as u8 | 1;
    }
    std::fs::write(&path, b).unwrap();
    let s = Store::open(&dir, opts()).unwrap();
    assert_eq!(
        s.recovery_report().torn_tail,
        Some((seg, next as u64)),
        "{:?} (last record at {off})",
        s.recovery_report()
    );
    assert_state(&s, &built, built.steps, "garbage after tail");
}

#[test]
fn damaged_record_mid_tail_is_corruption_unless_repair() {
    let built = build(13, Ending::Checkpoint, 40, false);
    let j = built.tail.len() / 2;
    let (seg, off, end) = built.tail[j];
    let (_t, dir) = damaged_copy(&built, "mid");
    flip(&dir.join(seg_name(seg)), (off + (end - off) / 2) as usize, 0x20);
    match Store::open(&dir, opts()) {
        Err(e @ Error::Corruption { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("repair"), "the error should say how to proceed: {msg}");
        }
        Err(e) => panic!("expected Corruption, got {e:?}"),
        Ok(_) => panic!("damage in the middle of the log tail was silently accepted"),
    }
    let s = Store::open(&dir, Options { repair: true, ..opts() }).unwrap();
    let r = s.recovery_report().clone();
    assert!(r.discarded_valid_records, "{r:?}");
    assert_eq!(r.torn_tail, Some((seg, off)), "{r:?}");
    assert_state(&s, &built, built.ckpt_steps + j, "repair");
    s.close().unwrap();
    // Repair is durable: a normal open now succeeds with the same state.
    let s = Store::open(&dir, opts()).unwrap();
    assert_state(&s, &built, built.ckpt_steps + j, "after repair");
}

#[test]
fn damaged_record_in_an_earlier_tail_segment_is_corruption() {
    // A tail spanning several segments: zeroing a record header in a segment that is not the
    // last must not end replay silently there and continue with the next segment.
    let built = build(14, Ending::Checkpoint, 60, true);
    let first_seg = built.tail[0].0;
    let last_seg = built.tail.last().unwrap().0;
    assert!(last_seg > first_seg, "tail should span segments");
    let j = built.tail.iter().position(|t| t.0 > first_seg).unwrap() - 1;
    let (seg, off, _) = built.tail[j];
    for (what, damage) in [("zeroed header", 0u8), ("flipped header", 1)] {
        let (_t, dir) = damaged_copy(&built, "zero");
        let path = dir.join(seg_name(seg));
        let mut b = std::fs::read(&path).unwrap();
        if damage == 0 {
            b[off as usize..off as usize + 24].fill(0);
        } else {
            b[off as usize + 13] ^= 4;
        }
        std::fs::write(&path, b).unwrap();
        match Store::open(&dir, opts()) {
            Err(e) if e.is_corruption() => {}
            Err(e) => panic!("{what}: expected Corruption, got {e:?}"),
            Ok(s) => {
                let (seen, _) = observe(&s, &built).unwrap();
                let cuts = consistent_cuts(&built, &seen);
                panic!("{what}: opened although valid records follow the damage; consistent cuts: {cuts:?}")
            }
        }
        let s = Store::open(&dir, Options { repair: true, ..opts() }).unwrap();
        assert!(s.recovery_report().discarded_valid_records, "{what}");
        assert_state(&s, &built, built.ckpt_steps + j, what);
    }
}

#[test]
fn both_manifest_slots_damaged_is_corruption() {
    let built = build(15, Ending::Checkpoint, 10, false);
    for how in ["flip", "delete"] {
        let (_t, dir) = damaged_copy(&built, "manifests");
        for name in MANIFEST_FILES {
            let p = dir.join(name);
            if how == "flip" {
                flip(&p, 20, 0xff);
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
        match Store::open(&dir, opts()) {
            Err(e) if e.is_corruption() => {}
            Err(e) => panic!("{how}: expected Corruption, got {e:?}"),
            Ok(_) => panic!("{how}: opened without a manifest although segments exist"),
        }
        // Nothing was deleted or recreated by the failed open.
        assert_eq!(
            files(&dir).iter().filter(|n| n.starts_with("seg-")).count(),
            files(&built.dir).iter().filter(|n| n.starts_with("seg-")).count()
        );
    }
}

#[test]
fn unknown_manifest_version_is_unsupported() {
    let built = build(16, Ending::Checkpoint, 10, false);
    let (_t, dir) = damaged_copy(&built, "version");
    let slot = newest_manifest_slot(&dir);
    let p = dir.join(MANIFEST_FILES[slot]);
    let mut b = std::fs::read(&p).unwrap();
    b[8..12].copy_from_slice(&7u32.to_le_bytes());
    let end = b.len() - 4;
    let crc = crc32(&b[..end]);
    b[end..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&p, b).unwrap();
    match Store::open(&dir, opts()) {
        Err(Error::UnsupportedVersion { found: 7, supported: pmemkv::manifest::MANIFEST_FORMAT_VERSION, .. }) => {}
        other => panic!("expected UnsupportedVersion, got {:?}", other.map(|_| ())),
    }
}

/// CRC32 (IEEE), bitwise; test-only.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn one_damaged_manifest_slot_opens_from_the_other() {
    // The build ends with two plain checkpoints, so the older slot is consistent with the
    // files; damaging either slot loses nothing.
    let built = build(17, Ending::Checkpoint, 25, false);
    let newest = newest_manifest_slot(&built.dir);
    for (slot, how) in [(newest, "flip"), (1 - newest, "flip"), (newest, "truncate"), (1 - newest, "delete")] {
        let ctx = format!("{how} {}", MANIFEST_FILES[slot]);
        let (_t, dir) = damaged_copy(&built, "one");
        let p = dir.join(MANIFEST_FILES[slot]);
        match how {
            "flip" => flip(&p, 30, 0x01),
            "truncate" => truncate(&p, 17),
            _ => std::fs::remove_file(&p).unwrap(),
        }
        let s = Store::open(&dir, opts()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        if how != "delete" {
            assert_eq!(s.recovery_report().damaged_manifests.len(), 1, "{ctx}: {:?}", s.recovery_report());
        }
        assert_state(&s, &built, built.steps, &ctx);
        s.put(b"more", b"data").unwrap();
        s.close().unwrap();
        let s = Store::open(&dir, opts()).unwrap();
        assert_eq!(s.get(b"more").unwrap().as_deref(), Some(&b"data"[..]), "{ctx}");
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn flipped_value_byte_in_sealed_segment_fails_only_that_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let victim_value = value(b"victim", 999_999, 3000);
    let mut want = BTreeMap::new();
    {
        let s = Store::open(&dir, opts()).unwrap();
        s.put(b"victim", &victim_value).unwrap();
        for i in 0..300u32 {
            let k = format!("other{i:03}").into_bytes();
            let v = value(&k, i as usize, 800);
            s.put(&k, &v).unwrap();
            want.insert(k, v);
        }
        s.checkpoint().unwrap();
        s.put(b"tail", b"t").unwrap();
        s.sync().unwrap();
        std::mem::forget(s);
    }
    let copy = tmp.path().join("copy");
    copy_store(&dir, &copy);
    let dir = copy;
    let seg1 = dir.join(seg_name(1));
    let at = find(&std::fs::read(&seg1).unwrap(), &victim_value).unwrap();
    flip(&seg1, at + 1500, 0x08);
    let s = Store::open(&dir, opts()).unwrap();
    assert!(s.get(b"victim").unwrap_err().is_corruption());
    assert!(s.get_with(b"victim", |_| ()).unwrap_err().is_corruption());
    for (k, v) in &want {
        assert_eq!(s.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    assert_eq!(s.get(b"tail").unwrap().as_deref(), Some(&b"t"[..]));
    assert!(s.verify().unwrap_err().is_corruption());
    // Iteration reports the damaged value as an error, not as a wrong value.
    let items: Vec<_> = s.prefix(b"victim").collect();
    assert!(items.len() == 1 && items[0].as_ref().is_err_and(|e| e.is_corruption()));
    // Compaction does not spread or drop the damage silently, and keeps the other keys.
    s.compact(true).unwrap();
    assert!(s.get(b"victim").unwrap_err().is_corruption());
    for (k, v) in &want {
        assert_eq!(s.get(k).unwrap().as_deref(), Some(&v[..]));
    }
}

#[test]
fn damaged_blob_is_corruption() {
    let built = build(18, Ending::Checkpoint, 10, false);
    let key = &built.blob_keys[0];
    let want = built.state_at(built.steps);
    let v = want.get(key).unwrap();
    for how in ["flip data", "flip footer", "truncate"] {
        let (_t, dir) = damaged_copy(&built, "blob");
        // The blob file holding the key's current value.
        let name = files(&dir)
            .into_iter()
            .find(|n| n.starts_with("blob-") && find(&std::fs::read(dir.join(n)).unwrap(), &v[..64]).is_some())
            .unwrap();
        let p = dir.join(&name);
        let len = std::fs::metadata(&p).unwrap().len();
        match how {
            "flip data" => flip(&p, 64 + v.len() / 2, 0x10),
            "flip footer" => flip(&p, len as usize - 10, 0x10),
            _ => truncate(&p, len - 100),
        }
        let s = Store::open(&dir, opts()).unwrap_or_else(|e| panic!("{how}: {e}"));
        match s.get(key) {
            Err(e) if e.is_corruption() => {}
            other => {
                panic!("{how}: expected Err(Corruption) for the blob key, got {:?}", other.map(|o| o.map(|v| v.len())))
            }
        }
        assert!(s.verify().unwrap_err().is_corruption(), "{how}");
        for (k, val) in &want {
            if k != key {
                assert_eq!(s.get(k).unwrap().as_deref(), Some(&val[..]), "{how}");
            }
        }
    }
}
