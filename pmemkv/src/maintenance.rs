//! Background maintenance: checkpoints, index-run merges and value-log compaction.
//!
//! All three run under the maintenance mutex (never under the write mutex for long): they
//! take the write mutex only to freeze the memtable or to append relocated values, so writers
//! and readers keep going while runs are built and merged.
//!
//! Checkpoint order (see `docs/format.md`): freeze the memtable and note the log position →
//! fsync the log up to it → write and fsync the new run, fsync the directory → write and
//! fsync the manifest (the commit point) → publish the new view → unlink what the manifest
//! says is dead, fsync the directory.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::entry::{Entry, ValueLoc};
use crate::error::{Error, Result};
use crate::iter::{Direction, KeyRange, MergeIter};
use crate::manifest::{Manifest, SegmentStats};
use crate::memtable::Memtable;
use crate::options::Durability;
use crate::record::{self, OpKind, OpRef, Probe};
use crate::run::{run_file_name, Run, RunBuilder};
use crate::segment::{Segment, SEGMENT_HEADER_LEN};
use crate::store::{mark_dead, Inner, Maint, Writer};
use crate::sync::{lsn, Lsn};
use crate::view::View;

/// Merge all runs into one when there are more than this many.
const MAX_RUNS: usize = 10;
/// Relocate at most this many value bytes per hold of the write mutex.
const RELOCATE_CHUNK_BYTES: usize = 1 << 20;
/// Relocate at most this many values per hold of the write mutex: each costs an index lookup
/// and a memtable insert under it, and small values (a list's elements) would otherwise make a
/// 1 MiB chunk tens of thousands of them — a stall of tens of milliseconds for every writer
/// (and, with one connection thread, for every client).
const RELOCATE_CHUNK_VALUES: usize = 1024;

fn sync_dir(inner: &Inner) -> Result<()> {
    crate::io::sync_dir(&inner.dir).map_err(|e| Error::io(format!("syncing directory {}", inner.dir.display()), e))
}

/// Writes the given sorted entries as run `id`; returns the opened run.
fn write_run(inner: &Inner, id: u64, entries: impl Iterator<Item = Result<(Vec<u8>, Entry)>>) -> Result<Arc<Run>> {
    let path = inner.dir.join(run_file_name(id));
    let mut b = RunBuilder::create(&path, id)?;
    for item in entries {
        let (k, e) = item?;
        b.add(&k, &e)?;
    }
    b.finish()?;
    sync_dir(inner)?;
    Ok(Arc::new(Run::open(&path)?))
}

/// Writes a checkpoint.
pub(crate) fn checkpoint(inner: &Inner) -> Result<()> {
    let result = checkpoint_locked(inner, &mut inner.maint.lock());
    inner.release_retired();
    result
}

fn checkpoint_locked(inner: &Inner, maint: &mut Maint) -> Result<()> {
    inner.poison.check()?;
    inner.check_dir()?;
    let started = Instant::now();
    let old = &maint.manifest;
    let (
        frozen,
        at,
        last_seq,
        next_segment_id,
        run_id,
        (next_blob_id, uncommitted_blobs),
        stats,
        dead_blobs,
        key_counts,
    ) = {
        // Reserving the next memtable's hash index (16 allocations and ~256 KiB of control
        // bytes set: 0.2-0.3 ms) happens before the writer lock, which every writer waits on —
        // when there is something to checkpoint (else, rarely, under it below).
        let new_memtable = || Arc::new(Memtable::with_capacity(inner.opts.memtable_max_entries));
        let fresh = (!inner.view.load().active.is_empty()).then(new_memtable);
        let mut w = inner.writer.lock();
        let view = inner.view.load();
        let unchanged = w.active.id() == old.log_segment && w.pos == old.log_offset as u64;
        if view.active.is_empty() && unchanged && w.dead_blobs.is_empty() && maint.relocated.is_empty() {
            return Ok(());
        }
        let frozen = view.active.clone();
        let f2 = frozen.clone();
        let fresh = fresh.unwrap_or_else(new_memtable);
        inner.publish(move |v| {
            v.active = fresh.clone();
            v.frozen.insert(0, f2.clone());
        });
        w.log_bytes_since_checkpoint = 0;
        let run_id = w.next_run_id;
        w.next_run_id += 1;
        let dead: Vec<u64> = std::mem::take(&mut w.dead_blobs).into_iter().map(|(id, _)| id).collect();
        // Every commit flushed its count changes under this lock: the counts match `at`.
        let counts: Vec<([u8; 3], u64, u64)> = inner.key_counts.lock().iter().map(|(b, (k, e))| (*b, *k, *e)).collect();
        (
            frozen,
            lsn(w.active.id(), w.pos),
            w.next_seq - 1,
            w.next_segment_id,
            run_id,
            // Under the writer lock, like every commit that settles a blob: an id outstanding
            // here has its commit (if any) after `at` (see `blob_ids`).
            inner.blob_ids.snapshot(),
            w.stats.clone(),
            dead,
            counts,
        )
    };
    let result = (|| {
        inner.syncer.wait_durable(at, &inner.poison)?;
        let new_run = if frozen.is_empty() { None } else { Some(write_run(inner, run_id, frozen.iter().map(Ok))?) };
        let mut runs = old.runs.clone();
        if let Some(r) = &new_run {
            runs.insert(0, r.id());
        }
        let (ready, keep): (Vec<_>, Vec<_>) = maint.relocated.iter().partition(|(_, l)| *l <= at);
        let ready: Vec<u32> = ready.into_iter().map(|(s, _)| s).collect();
        let (log_segment, log_offset) = ((at >> 32) as u32, (at & 0xffff_ffff) as u32);
        let manifest = Manifest {
            generation: old.generation + 1,
            last_seq,
            log_segment,
            log_offset,
            next_segment_id,
            next_run_id: run_id + 1,
            next_blob_id,
            runs,
            segments: stats.values().filter(|s| !ready.contains(&s.id)).copied().collect(),
            pending_segments: ready.clone(),
            pending_blobs: dead_blobs.clone(),
            key_counts: Some(key_counts),
            uncommitted_blobs,
        };
        manifest.write(&inner.dir)?;
        Ok((manifest, new_run, ready, keep))
    })();
    let (manifest, new_run, ready, keep) = match result {
        Ok(x) => x,
        Err(e) => {
            inner.poison.set(format!("checkpoint failed: {e}"));
            return Err(e);
        }
    };
    // The manifest is durable: publish and clean up.
    let removed: Vec<Arc<Segment>> = {
        let view = inner.view.load();
        ready.iter().filter_map(|s| view.segments.get(s).cloned()).collect()
    };
    let ready2 = ready.clone();
    let frozen2 = frozen.clone();
    inner.publish(move |v| {
        v.frozen.retain(|m| !Arc::ptr_eq(m, &frozen2));
        if let Some(r) = &new_run {
            if !v.runs.iter().any(|x| x.id() == r.id()) {
                v.runs.insert(0, r.clone());
            }
        }
        if !ready2.is_empty() {
            let mut segs = (*v.segments).clone();
            for s in &ready2 {
                segs.remove(s);
            }
            v.segments = Arc::new(segs);
        }
    });
    inner.retire(frozen);
    for seg in removed {
        inner.retire(seg);
    }
    {
        let mut w = inner.writer.lock();
        for s in &ready {
            w.stats.remove(s);
            w.seg_ops.remove(s);
            w.dead_marks.remove(*s);
        }
    }
    for s in &ready {
        remove_file(&inner.dir.join(crate::segment::segment_file_name(*s)))?;
    }
    for b in &dead_blobs {
        inner.blobs.write().remove(b);
        remove_file(&inner.dir.join(crate::blob::blob_file_name(*b)))?;
    }
    if !ready.is_empty() || !dead_blobs.is_empty() {
        sync_dir(inner)?;
    }
    maint.relocated = keep;
    tracing::debug!(generation = manifest.generation, ms = started.elapsed().as_millis() as u64, "checkpoint written");
    maint.manifest = manifest;
    inner.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn remove_file(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

/// Merges index runs: the newest runs of similar size (or all, if `full` or too many).
///
/// Only one merge runs at a time (the merge mutex); the maintenance mutex is taken only to
/// install the result, so checkpoints go on while a large merge is built. A checkpoint can
/// only add runs in front of the merged group, and only merges remove runs, so the group is
/// still a contiguous run of the list when the merge installs.
fn merge(inner: &Inner, full: bool) -> Result<bool> {
    let _one_merge = inner.merge_lock.lock();
    let view = inner.view.load_full();
    let runs = view.runs.clone();
    let total: u64 = runs.iter().map(|r| r.len()).sum();
    let largest = runs.iter().map(|r| r.len()).max().unwrap_or(0);
    // All runs together holding more than twice the entries of the largest means much of the
    // index is shadowed (overwrites): merge everything. Without this, a small newest run (a
    // compaction's relocations) stops the size rule below and merges never happen.
    let k = if full || runs.len() > MAX_RUNS || total > 2 * largest {
        runs.len()
    } else {
        let mut k = 1;
        let mut sum = runs.first().map_or(0, |r| r.len());
        while k < runs.len() && sum * 2 >= runs[k].len() {
            sum += runs[k].len();
            k += 1;
        }
        k
    };
    if k < 2 && !(full && k == 1) {
        return Ok(false);
    }
    inner.check_dir()?;
    let group: Vec<Arc<Run>> = runs[..k].to_vec();
    let bottom = k == runs.len();
    let now = inner.now();
    let run_id = {
        let mut w = inner.writer.lock();
        let id = w.next_run_id;
        w.next_run_id += 1;
        id
    };
    let merge_view = Arc::new(View {
        active: Arc::new(Memtable::new()),
        frozen: Vec::new(),
        runs: group.clone(),
        segments: view.segments.clone(),
    });
    let mut it = MergeIter::new(merge_view, KeyRange::all(), Direction::Forward, None);
    let mut expired: Vec<(ValueLoc, Vec<u8>, u64, bool)> = Vec::new();
    let entries = std::iter::from_fn(|| loop {
        match it.next_entry() {
            Ok(Some((k, e))) => {
                if bottom && e.is_tombstone() {
                    continue;
                }
                if bottom && e.is_expired(now) {
                    expired.push((e.value.expect("not a tombstone"), k.clone(), e.version, e.expire_at_ms != 0));
                    continue;
                }
                return Some(Ok((k, e)));
            }
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        }
    });
    let new_run = write_run(inner, run_id, entries)?;
    let merged: Vec<u64> = group.iter().map(|r| r.id()).collect();
    let mut maint = inner.maint.lock();
    inner.poison.check()?;
    let mut new_runs: Vec<u64> = maint.manifest.runs.clone();
    let at = new_runs.iter().position(|id| merged.contains(id)).unwrap_or(new_runs.len());
    new_runs.retain(|id| !merged.contains(id));
    new_runs.insert(at.min(new_runs.len()), new_run.id());
    // Dropped expired entries stop counting as keys and their values become dead space —
    // unless a newer write of the same key shadows them: a put or delete already accounted
    // the old value dead (and the key), and an expiry change (`SetExpiry`, written while the
    // key was live) still points at the same value, which must stay live. The check, the
    // manifest and the install happen under the writer lock so no write interleaves.
    let mut w = inner.writer.lock();
    let mut drops: Vec<([u8; 3], i64, i64)> = Vec::new();
    let mut dead: Vec<(ValueLoc, usize)> = Vec::new();
    {
        let now_view = inner.view.load();
        for (loc, k, version, expiring) in &expired {
            if now_view.lookup(k)?.is_some_and(|cur| cur.version == *version) {
                drops.push((crate::store::key_bucket(k), -1, -(*expiring as i64)));
                dead.push((*loc, k.len()));
            }
        }
    }
    let mut manifest_counts: crate::store::KeyCounts =
        maint.manifest.key_counts.iter().flatten().map(|(b, k, e)| (*b, (*k, *e))).collect();
    crate::store::apply_count_deltas(&mut manifest_counts, &mut drops.clone());
    let manifest = Manifest {
        generation: maint.manifest.generation + 1,
        runs: new_runs,
        key_counts: Some(manifest_counts.iter().map(|(b, (k, e))| (*b, *k, *e)).collect()),
        ..maint.manifest.clone()
    };
    if let Err(e) = manifest.write(&inner.dir) {
        inner.poison.set(format!("manifest write failed during merge: {e}"));
        return Err(e);
    }
    maint.manifest = manifest;
    inner.publish(move |v| {
        let at = v.runs.iter().position(|r| merged.contains(&r.id())).unwrap_or(v.runs.len());
        v.runs.retain(|r| !merged.contains(&r.id()));
        v.runs.insert(at.min(v.runs.len()), new_run.clone());
    });
    crate::store::apply_count_deltas(&mut inner.key_counts.lock(), &mut drops);
    let at = inner.syncer.written();
    for (loc, key_len) in &dead {
        mark_dead(&mut w, *loc, *key_len, at);
    }
    drop(w);
    drop(maint);
    let dropped_expired = !expired.is_empty();
    for r in &group {
        remove_file(r.path())?;
        inner.retire(r.clone());
    }
    sync_dir(inner)?;
    if dropped_expired {
        // Persist the space accounting of the dropped values (no later write will account
        // them again) and delete expired blobs. Also when every dropped entry was shadowed:
        // an expiry change in the log tail is replayed onto the key's previous entry, which
        // this merge just removed from the runs — the checkpoint takes the change's full
        // entry out of the memtable first (`api.rs::persisted_key_survives_a_merge_and_a_crash`).
        checkpoint(inner)?;
    }
    inner.counters.merges.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(runs = k, bottom, "index runs merged");
    Ok(true)
}

/// Relocates live values out of sealed segments that are mostly dead.
fn gc_locked(inner: &Inner, maint: &mut Maint, full: bool, max_partial: usize) -> Result<usize> {
    let log_segment = maint.manifest.log_segment;
    let view = inner.view.load_full();
    // (segment, whether every byte of it is accounted dead), and the live bytes of the partly
    // live ones (what the round will copy)
    let (candidates, live_to_copy): (Vec<(u32, bool)>, u64) = {
        let w = inner.writer.lock();
        let on_disk = |s: &&SegmentStats| view.segments.contains_key(&s.id);
        let (total, dead) = w.log_space(&view);
        let eligible: Vec<&SegmentStats> = w
            .stats
            .values()
            .filter(|s| s.id < log_segment && s.id != w.active.id())
            .filter(on_disk)
            .filter(|s| !maint.relocated.iter().any(|(id, _)| *id == s.id))
            .collect();
        // A fully dead segment is free to drop, so it never waits; under overwrites most
        // segments get there on their own.
        let mut out: Vec<(u32, bool)> =
            eligible.iter().filter(|s| s.dead_bytes >= s.total_bytes).map(|s| (s.id, true)).collect();
        // Compacting a partly live segment costs an index lookup per op (a segment of small
        // records holds millions: seconds of CPU), so it waits for space pressure (the log
        // more dead than live plus a segment), takes the segments that reclaim the most bytes
        // per lookup first, and stops once the pressure is gone. `full` takes every one with
        // dead bytes.
        let mut partial: Vec<(u32, u64, u64, f64)> = eligible
            .iter()
            .filter(|s| s.dead_bytes < s.total_bytes && s.dead_bytes > 0)
            .filter(|s| full || s.dead_bytes as f64 >= inner.opts.gc_dead_ratio * s.total_bytes as f64)
            .map(|s| {
                // Ops written before this open are not counted: assume 128-byte ones. Values
                // marked dead cost no lookup.
                let ops = w.seg_ops.get(&s.id).copied().unwrap_or(s.total_bytes / 128);
                let lookups = ops.saturating_sub(w.dead_marks.count(s.id)).max(1);
                (s.id, s.dead_bytes, s.total_bytes - s.dead_bytes, lookups as f64 / s.dead_bytes as f64)
            })
            .collect();
        partial.sort_by(|a, b| a.3.total_cmp(&b.3));
        // Dropping the fully dead segments already relieves some of it.
        let freed: u64 = eligible.iter().filter(|s| s.dead_bytes >= s.total_bytes).map(|s| s.total_bytes).sum();
        // Copying starts past the bound the rotation checks (dead bytes over the live ones plus
        // one segment), not as soon as dead passes live: data that dies soon — a queue's
        // elements, popped minutes after their push — then usually dies before it is copied,
        // and its segments are dropped whole. (Copying at dead > live relocated every element
        // of 500 k LPUSH + 500 k RPUSH + 500 k LPOP + 500 k RPOP once: 100 MB; with the
        // segment of slack 26 MB, half the maintenance CPU, LPOP 56–64 k → 88–91 k req/s.)
        let slack = if full { 0 } else { inner.opts.segment_size as i128 };
        let mut excess = (dead - freed.min(dead)) as i128 - (total - dead) as i128 - slack;
        let mut live_to_copy = 0;
        for (taken, (id, seg_dead, seg_live, _)) in partial.into_iter().enumerate() {
            if !full && excess <= 0 {
                break;
            }
            if taken >= max_partial {
                // More is due: the next round continues at once (see `ROUND_SEGMENTS`).
                inner.bg.reclaim_wanted.store(true, Ordering::Release);
                break;
            }
            excess -= seg_dead as i128;
            live_to_copy += seg_live;
            out.push((id, false));
        }
        (out, live_to_copy)
    };
    // Values that survive until their segment is compacted tend to be long-lived. Copied to
    // the head of the log among new writes, they would share a segment with data that soon
    // dies, and be copied again when that segment is compacted — every segment, when the
    // live data is small next to one. So when a round copies a fair amount (an eighth of a
    // segment or more), the copies go to a segment of their own: the log rotates before the
    // first copy and after the round. Such a segment stays mostly live and below
    // `gc_dead_ratio`, so it is left alone until its values die.
    // A full compaction (`Store::compact(true)`) packs everything instead: it takes every
    // segment with dead bytes, so there is no newer mostly dead segment to spare.
    let mut cold = Segregation { wanted: !full && live_to_copy >= inner.opts.segment_size / 8, started: false };
    let mut done = 0;
    for (id, all_dead) in candidates {
        let seg = view.segments[&id].clone();
        let relocated = if all_dead {
            // Nothing to copy: every value of the segment was superseded or deleted (and its
            // record framing is accounted dead when written), so it needs no scan and no
            // index lookup per record. Debug builds (every test) check the accounting.
            if cfg!(debug_assertions) {
                let live = live_values(inner, &seg)?;
                assert_eq!(live, 0, "segment {id} is accounted fully dead but holds {live} live values");
            }
            Ok(inner.syncer.written())
        } else {
            relocate_segment(inner, maint, &seg, &mut cold)
        };
        match relocated {
            Ok(last) => {
                maint.relocated.push((id, last));
                done += 1;
                inner.counters.segments_compacted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(segment = id, error = %e, "compaction of segment failed; it is kept");
                if !e.is_corruption() {
                    return Err(e);
                }
            }
        }
    }
    if cold.started {
        // New writes go to a segment after the copies.
        let mut w = inner.writer.lock();
        if w.pos > SEGMENT_HEADER_LEN {
            as_compaction(&mut w, |w| inner.rotate(w))?;
        }
    }
    if done > 0 {
        checkpoint_locked(inner, maint)?;
    }
    Ok(done)
}

/// Runs `f` (compaction's appends and rotations) with [`Writer::compacting`] set, so that
/// the rotations it causes do not make the next foreground writer reclaim space itself.
fn as_compaction<T>(w: &mut Writer, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
    w.compacting = true;
    let result = f(w);
    w.compacting = false;
    result
}

/// True if `cur` (a key's newest index entry) is live and points at the value stored at
/// `loc`: that value must survive compaction.
fn is_current(cur: &Entry, loc: ValueLoc, now: u64) -> bool {
    if cur.is_expired(now) {
        return false;
    }
    match (cur.value, loc) {
        (Some(ValueLoc::Inline { segment, offset, .. }), ValueLoc::Inline { segment: s2, offset: o2, .. }) => {
            segment == s2 && offset == o2
        }
        (Some(ValueLoc::Blob { id, .. }), ValueLoc::Blob { id: id2, .. }) => id == id2,
        _ => false,
    }
}

/// True if `a` and `b` hold the same memtables and runs (so the same entries, but for
/// writes to the active memtable since).
fn same_index(a: &View, b: &View) -> bool {
    Arc::ptr_eq(&a.active, &b.active)
        && a.frozen.len() == b.frozen.len()
        && a.frozen.iter().zip(&b.frozen).all(|(x, y)| Arc::ptr_eq(x, y))
        && a.runs.len() == b.runs.len()
        && a.runs.iter().zip(&b.runs).all(|(x, y)| Arc::ptr_eq(x, y))
}

/// True if the index (`view`) still points `key` at the value stored at `loc`.
fn is_live(view: &View, key: &[u8], loc: ValueLoc, now: u64) -> Result<bool> {
    Ok(view.lookup(key)?.is_some_and(|cur| is_current(&cur, loc, now)))
}

/// Where op `op` of the record at `pos` in `seg` stored its value (`None` for ops without
/// one). The CRC is left 0: [`is_current`] compares locations only.
fn stored_value(seg: &Segment, pos: usize, op: &record::DecodedOp<'_>) -> Option<ValueLoc> {
    match op.kind {
        OpKind::Put => Some(ValueLoc::Inline {
            segment: seg.id(),
            offset: (pos + op.value_offset) as u32,
            len: op.value.len() as u32,
            crc: 0,
        }),
        OpKind::PutBlob => op.blob_loc(),
        _ => None,
    }
}

/// Number of values in `seg` that the index still points at (a full scan with one lookup
/// per value: the check of the dead-space accounting in debug builds).
fn live_values(inner: &Inner, seg: &Segment) -> Result<usize> {
    let view = inner.view.load();
    let now = inner.now();
    let bytes = seg.bytes();
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut live = 0;
    while let Probe::Record { len, .. } = record::probe(&bytes[pos..]) {
        for op in record::ops(&bytes[pos..pos + len]) {
            let op = op.map_err(|why| Error::corruption(seg.path(), pos as u64, why))?;
            let Some(loc) = stored_value(seg, pos, &op) else { continue };
            if is_live(&view, op.key, loc, now)? {
                live += 1;
            }
        }
        pos += len;
    }
    Ok(live)
}

/// Whether a compaction round's copies go to a segment of their own (see `gc_locked`).
struct Segregation {
    /// The round copies enough to be worth a segment.
    wanted: bool,
    /// The log has rotated before the first copy.
    started: bool,
}

/// Copies every live value of `seg` to the head of the log. Returns the LSN after the last
/// relocation record.
fn relocate_segment(inner: &Inner, maint: &mut Maint, seg: &Arc<Segment>, cold: &mut Segregation) -> Result<Lsn> {
    struct Cand {
        key: Vec<u8>,
        loc: ValueLoc,
        /// The key's index entry found by the check without the lock.
        cur: Option<Entry>,
    }
    let bytes = seg.bytes();
    // Values the writer has marked dead need no lookup (most of them: the segment was taken
    // because it is mostly dead).
    let marks = inner.writer.lock().dead_marks.snapshot(seg.id());
    let (mut skipped, mut looked_up, mut relocated) = (0u64, 0u64, 0u64);
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut chunk: Vec<Cand> = Vec::new();
    let mut chunk_bytes = 0;
    let mut last = inner.syncer.written();
    loop {
        let probe = record::probe(&bytes[pos..]);
        let (len, end) = match probe {
            Probe::Record { len, .. } => (len, false),
            Probe::End => (0, true),
            Probe::Invalid(why) => {
                return Err(Error::corruption(
                    seg.path(),
                    pos as u64,
                    format!("compaction found a damaged record: {why}"),
                ));
            }
        };
        if !end {
            let rec = &bytes[pos..pos + len];
            for op in record::ops(rec) {
                let op = op.map_err(|why| Error::corruption(seg.path(), pos as u64, why))?;
                let Some(loc) = stored_value(seg, pos, &op) else { continue };
                if let ValueLoc::Inline { offset, .. } = loc {
                    if marks.is_dead(offset) {
                        // Debug builds (every test) check that a marked value is dead indeed.
                        if cfg!(debug_assertions) {
                            assert!(
                                !is_live(&inner.view.load(), op.key, loc, inner.now())?,
                                "segment {} offset {offset} is marked dead but is current",
                                seg.id()
                            );
                        }
                        skipped += 1;
                        continue;
                    }
                }
                chunk_bytes += op.value.len() + op.key.len();
                chunk.push(Cand { key: op.key.to_vec(), loc, cur: None });
                looked_up += 1;
            }
            pos += len;
        }
        if chunk_bytes >= RELOCATE_CHUNK_BYTES || chunk.len() >= RELOCATE_CHUNK_VALUES || (end && !chunk.is_empty()) {
            // First, without the writer lock, drop the candidates already superseded (most of
            // them: the segment is mostly dead). Only the survivors are checked again under
            // the lock, so foreground writers wait for a fraction of the lookups.
            let checked = inner.view.load_full();
            {
                let now = inner.now();
                let mut live = Vec::with_capacity(chunk.len());
                let keys: Vec<&[u8]> = chunk.iter().map(|c| c.key.as_slice()).collect();
                let found = checked.lookup_each(&keys);
                drop(keys);
                for (mut c, cur) in chunk.drain(..).zip(found) {
                    c.cur = cur?;
                    if c.cur.is_some_and(|cur| is_current(&cur, c.loc, now)) {
                        live.push(c);
                    }
                }
                chunk = live;
            }
            let mut w = inner.writer.lock();
            let view = inner.view.load();
            let now = inner.now();
            // If no memtable was frozen and no run added or merged since the check, a newer
            // entry for a key can only be in the active memtable: one probe there instead of
            // a lookup through every run (list elements pushed long ago sit in the oldest).
            let unchanged = same_index(&checked, &view);
            let mut keep: Vec<(usize, Entry, &[u8])> = Vec::new();
            for (i, c) in chunk.iter().enumerate() {
                let found = match (unchanged, view.active.get(&c.key)) {
                    (_, Some(e)) => Some(e),
                    (true, None) => c.cur,
                    (false, None) => view.lookup(&c.key)?,
                };
                let Some(cur) = found else { continue };
                if !is_current(&cur, c.loc, now) {
                    continue;
                }
                let value: &[u8] = match cur.value {
                    Some(ValueLoc::Inline { offset, len, crc, .. }) => seg.read_verified(offset, len, crc)?,
                    _ => &[],
                };
                keep.push((i, cur, value));
                relocated += 1;
            }
            let mut ops: Vec<OpRef<'_>> = keep
                .iter()
                .map(|(i, cur, value)| {
                    let c = &chunk[*i];
                    match cur.value {
                        Some(ValueLoc::Blob { id, len }) => OpRef {
                            kind: OpKind::PutBlob,
                            key: &c.key,
                            version: cur.version,
                            expire_at_ms: cur.expire_at_ms,
                            value: &[],
                            blob: (id, len),
                        },
                        _ => OpRef {
                            kind: OpKind::Put,
                            key: &c.key,
                            version: cur.version,
                            expire_at_ms: cur.expire_at_ms,
                            value,
                            blob: (0, 0),
                        },
                    }
                })
                .collect();
            // A batch must fit in one segment; split if a chunk is unusually large.
            let max = (inner.opts.segment_size - SEGMENT_HEADER_LEN) as usize / 2;
            let mut start = 0;
            as_compaction(&mut w, |w| {
                while start < ops.len() {
                    let mut end_i = start;
                    let mut size = 0;
                    while end_i < ops.len() && (end_i == start || size + record::op_len(&ops[end_i]) < max) {
                        size += record::op_len(&ops[end_i]);
                        end_i += 1;
                    }
                    if cold.wanted && !cold.started {
                        // The copies start a segment of their own (see `gc_locked`).
                        cold.started = true;
                        if w.pos > SEGMENT_HEADER_LEN {
                            inner.rotate(w)?;
                        }
                    }
                    // Each op's current entry is known (checked above, under this lock hold).
                    let prevs: Vec<Option<Option<Entry>>> =
                        keep[start..end_i].iter().map(|(_, cur, _)| Some(Some(*cur))).collect();
                    if let Some(at) = inner.commit_locked_known(w, &mut ops[start..end_i], Some(&prevs))? {
                        last = at;
                    }
                    inner.counters.bytes_relocated.fetch_add(size as u64, Ordering::Relaxed);
                    start = end_i;
                }
                Ok(())
            })?;
            drop(w);
            chunk.clear();
            chunk_bytes = 0;
            // The copies enter the memtable like any write: a mostly live segment's would push
            // it past the limit where a foreground writer must checkpoint by itself (measured:
            // a 0.9 s stall of every client under LPOP after 1 M pushes). Checkpoint here.
            if inner.view.load().active.len() >= inner.opts.memtable_max_entries {
                checkpoint_locked(inner, maint)?;
            }
        }
        if end {
            break;
        }
    }
    inner.counters.compaction_lookups_skipped.fetch_add(skipped, Ordering::Relaxed);
    tracing::debug!(segment = seg.id(), skipped, looked_up, relocated, "segment relocated");
    Ok(last)
}

/// Runs compaction to completion.
///
/// The merge goes first: dropping expired entries and tombstones is what accounts their
/// values as dead, so the GC that follows reclaims their segments in the same call.
pub(crate) fn compact(inner: &Inner, full: bool) -> Result<()> {
    checkpoint(inner)?;
    merge(inner, full)?;
    let relocated = gc_locked(inner, &mut inner.maint.lock(), full, usize::MAX);
    inner.release_retired();
    if relocated? > 0 {
        // GC's checkpoint wrote a run of the relocated entries.
        merge(inner, full)?;
    }
    Ok(())
}

/// Partly live segments one background compaction round relocates; if more are due, the
/// round asks for the next one at once. A round holds the maintenance lock, which a writer
/// that finds the log past its hard space bound waits for (`reclaim_forced`): unbounded, a
/// round after 100 k 64 KiB SETs relocated 47 segments in 2.9 s, and the waiting writer
/// stalled every client of its connection thread for 4.7 s.
const ROUND_SEGMENTS: usize = 4;

/// Partly live segments a writer relocates when it reclaims space itself ([`reclaim`]): it
/// runs once per segment the writer fills, and two segments at least half dead free at
/// least one segment's worth, so the writer cannot outrun it; the background thread does
/// the rest.
const WRITER_ROUND_SEGMENTS: usize = 2;

/// Reclaims space now: a checkpoint (so that everything written so far may be compacted), a
/// GC pass and, if due, a merge of the index runs. Run by a writer when dead data piles up
/// faster than the background thread reclaims it.
///
/// Unless `wait`, returns `false`, having done nothing, if a checkpoint or compaction is
/// already running (the background thread is reclaiming: a writer waiting for it and then
/// compacting again would stall its request for seconds and reclaim little more).
pub(crate) fn reclaim(inner: &Inner, wait: bool) -> Result<bool> {
    {
        let mut m = match inner.maint.try_lock() {
            Some(m) => m,
            None if wait => inner.maint.lock(),
            None => return Ok(false),
        };
        let done =
            checkpoint_locked(inner, &mut m).and_then(|_| gc_locked(inner, &mut m, false, WRITER_ROUND_SEGMENTS));
        drop(m);
        inner.release_retired();
        done?;
    }
    merge(inner, false)?;
    Ok(true)
}

/// One round of background maintenance.
/// Index entries examined per background round by the purge of expired keys.
const EXPIRE_SCAN_BUDGET: usize = 2000;

/// Deletes expired keys still in the index (see [`crate::Store::purge_expired`]).
///
/// Candidates are collected without the writer lock; under it, each is looked up again and
/// deleted only if its newest entry is still the same expired one, so a key rewritten
/// meanwhile is left alone.
pub(crate) fn purge_expired(inner: &Inner, budget: usize) -> Result<usize> {
    if inner.key_counts.lock().values().all(|c| c.1 == 0) {
        return Ok(0);
    }
    let now = inner.now();
    let start = inner.expire_cursor.lock().clone();
    let range = KeyRange {
        start: start.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
        end: std::ops::Bound::Unbounded,
    };
    let mut it = MergeIter::new(inner.view.load_full(), range, Direction::Forward, None);
    let mut candidates: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut last = None;
    for _ in 0..budget.max(1) {
        match it.next_entry()? {
            Some((k, e)) => {
                if e.value.is_some() && e.is_expired(now) {
                    candidates.push((k.clone(), e.version));
                }
                last = Some(k);
            }
            None => {
                last = None;
                break;
            }
        }
    }
    *inner.expire_cursor.lock() = last;
    if candidates.is_empty() {
        return Ok(0);
    }
    let mut w = inner.writer.lock();
    let view = inner.view.load();
    let mut keys = Vec::new();
    for (k, version) in &candidates {
        if view.lookup(k)?.is_some_and(|cur| cur.version == *version && cur.value.is_some() && cur.is_expired(now)) {
            keys.push(k);
        }
    }
    let mut ops: Vec<OpRef<'_>> = keys
        .iter()
        .map(|k| OpRef { kind: OpKind::Delete, key: k, version: 0, expire_at_ms: 0, value: &[], blob: (0, 0) })
        .collect();
    inner.commit_locked(&mut w, &mut ops)?;
    Ok(keys.len())
}

fn maintain(inner: &Inner, now: Instant, last_gc: &mut Instant) -> Result<()> {
    inner.free_retired();
    purge_expired(inner, EXPIRE_SCAN_BUDGET)?;
    // A rotation found the log more dead than live: checkpoint (segments before the new log
    // position become eligible) and compact now, not at the next round.
    let reclaim = inner.bg.reclaim_wanted.swap(false, Ordering::AcqRel);
    let needs_checkpoint = reclaim || {
        let view = inner.view.load();
        let w = inner.writer.lock();
        view.active.len() >= inner.opts.memtable_max_entries
            || w.log_bytes_since_checkpoint >= inner.opts.checkpoint_log_bytes
    };
    if needs_checkpoint {
        checkpoint(inner)?;
    }
    // Merge and GC after every checkpoint (segments before the new log position became
    // eligible), and at least every second: on a timer alone, a fast writer fills the disk
    // with dead data between rounds.
    if needs_checkpoint || now.duration_since(*last_gc) >= Duration::from_secs(1) {
        *last_gc = now;
        merge(inner, false)?;
        let started = Instant::now();
        let compacted = gc_locked(inner, &mut inner.maint.lock(), false, ROUND_SEGMENTS);
        // Outside the maintenance lock, which a writer past the space bound waits for.
        inner.free_retired();
        let compacted = compacted?;
        if compacted > 0 {
            tracing::debug!(segments = compacted, ms = started.elapsed().as_millis() as u64, "log segments compacted");
        }
    }
    Ok(())
}

/// Starts the background thread.
pub(crate) fn start_background(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let handle = std::thread::Builder::new()
        .name("pmemkv-maint".into())
        .spawn(move || background_loop(weak))
        .expect("spawning the maintenance thread");
    *inner.bg.handle.lock() = Some(handle);
}

/// Lowers the calling thread's CPU priority by `levels` nice levels (Linux: nice values are
/// per thread). Best effort: a failure is logged and the thread keeps its priority.
fn lower_thread_priority(levels: i32) {
    if levels <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let tid = Some(rustix::thread::gettid());
        let res = rustix::process::getpriority_process(tid)
            .and_then(|cur| rustix::process::setpriority_process(tid, (cur + levels).min(19)));
        if let Err(e) = res {
            tracing::debug!(error = %e, "could not lower the maintenance thread's priority");
        }
    }
}

fn background_loop(weak: Weak<Inner>) {
    if let Some(inner) = weak.upgrade() {
        lower_thread_priority(inner.opts.background_nice);
    }
    let mut last_sync = Instant::now();
    let mut last_gc = Instant::now();
    let mut backoff_until = Instant::now();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        {
            let mut stop = inner.bg.stop.lock();
            if *stop {
                return;
            }
            // A round that left compaction due continues at once.
            if !inner.bg.reclaim_wanted.load(Ordering::Acquire) {
                inner.bg.cv.wait_for(&mut stop, Duration::from_millis(100));
            }
            if *stop {
                return;
            }
        }
        let now = Instant::now();
        if inner.default_durability() == Durability::EverySec && now.duration_since(last_sync) >= Duration::from_secs(1)
        {
            last_sync = now;
            if let Err(e) = inner.syncer.sync_all(&inner.poison) {
                tracing::error!(error = %e, "background fsync failed");
            }
        }
        if now >= backoff_until && inner.poison.check().is_ok() {
            if let Err(e) = maintain(&inner, now, &mut last_gc) {
                tracing::error!(error = %e, "background maintenance failed; retrying in 5 s");
                backoff_until = now + Duration::from_secs(5);
            }
        }
    }
}

/// Stops and joins the background thread (idempotent).
pub(crate) fn stop_background(inner: &Inner) {
    *inner.bg.stop.lock() = true;
    inner.bg.cv.notify_all();
    let handle = inner.bg.handle.lock().take();
    if let Some(h) = handle {
        if h.thread().id() != std::thread::current().id() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use crate::{Options, Store};

    /// A bottom merge drops an expired entry, but a newer expiry change of the same key (made
    /// while it was live, still in the memtable) keeps pointing at the value: the merge must
    /// not account that value dead, or compaction skips it and deletes its segment. (Found by
    /// the model test as "index points at missing log segment" once in ~10 runs.)
    #[test]
    fn merge_keeps_a_value_whose_expiry_was_changed_after_the_dropped_entry() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock = now.clone();
        let opts = Options {
            background: false,
            segment_size: 64 * 1024,
            max_inline_value: 16 * 1024,
            clock: Arc::new(move || clock.load(Ordering::SeqCst)),
            ..Options::default()
        };
        let store = Store::open(dir.path(), opts).unwrap();
        let big = vec![7u8; 4000];
        store.put(b"small", b"v").unwrap();
        store
            .put_with(b"k", &big, crate::PutOptions { expiry: crate::Expiry::At(1_000_100), ..Default::default() })
            .unwrap();
        store.checkpoint().unwrap();
        // Still live: push the expiry out. The new entry (same value) stays in the memtable.
        assert!(store.expire(b"k", Some(1_000_500)).unwrap());
        now.store(1_000_200, Ordering::SeqCst);
        // The run's entry of `k` has expired by its own expiry; the key has not.
        assert!(super::merge(&store.inner, true).unwrap());
        {
            let mut w = store.inner.writer.lock();
            store.inner.rotate(&mut w).unwrap();
        }
        store.compact(true).unwrap();
        assert_eq!(store.get(b"k").unwrap().as_deref(), Some(&big[..]));
        assert_eq!(store.get(b"small").unwrap().as_deref(), Some(&b"v"[..]));
        drop(store);
        let store = Store::open(dir.path(), Options { background: false, ..Options::default() }).unwrap();
        assert_eq!(store.get(b"small").unwrap().as_deref(), Some(&b"v"[..]));
    }

    /// An explicit checkpoint without the background thread frees the memtable it wrote
    /// out (most of the heap) when no reader holds it, and keeps it while one does.
    #[test]
    fn checkpoint_frees_the_written_memtable_unless_a_reader_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Options { background: false, ..Options::default() }).unwrap();
        for i in 0..1000u32 {
            store.put(&i.to_be_bytes(), b"value").unwrap();
        }
        let held = store.inner.view.load_full();
        store.checkpoint().unwrap();
        assert_eq!(store.inner.retired.lock().len(), 1, "the memtable a reader holds is kept");
        assert_eq!(held.active.len(), 1000);
        drop(held);
        store.put(b"more", b"value").unwrap();
        store.checkpoint().unwrap();
        assert!(store.inner.retired.lock().is_empty(), "both written memtables are freed");
    }
}
