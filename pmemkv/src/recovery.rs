//! Opening a store: lock, manifest, runs, segments, and the bounded replay of the log tail.
//!
//! Replay starts at the log position recorded by the newest valid manifest and stops at the
//! first position that does not hold a verified record whose sequence number is the one after
//! the previous record's (sequence numbers are consecutive along the log, starting after the
//! manifest's `last_seq`). What follows that point decides what happens:
//! - nothing that verifies (a torn tail from an interrupted write): the tail is zeroed and
//!   later segments removed; the report says where;
//! - a record that verifies with a higher sequence number (damage in the middle of the log):
//!   opening fails with [`Error::Corruption`] unless [`Options::repair`] is set, in which case
//!   the rest of the log is discarded and the report says so.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};

use crate::blob;
use crate::error::{Error, Result};
use crate::io;
use crate::manifest::{self, Manifest, SegmentStats};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::record::{self, OpKind, Probe, RECORD_ALIGN};
use crate::run::{parse_run_file_name, run_file_name, Run};
use crate::segment::{self, Segment, SEGMENT_HEADER_LEN};
use crate::store::{
    apply_count_deltas, apply_op, key_bucket, Background, Counters, Inner, KeyCounts, Maint, RecoveryReport, Writer,
};
use crate::sync::{lsn, Poison, Syncer};
use crate::view::View;

/// Name of the lock file in a store directory.
pub const LOCK_FILE: &str = "LOCK";

fn check_options(opts: &Options) -> Result<()> {
    if !(64 << 10..=(4u64 << 30) - 1).contains(&opts.segment_size) {
        return Err(Error::InvalidArgument(format!(
            "segment_size must be between 64 KiB and 4 GiB, got {}",
            opts.segment_size
        )));
    }
    if opts.max_inline_value > opts.segment_size / 4 {
        return Err(Error::InvalidArgument(format!(
            "max_inline_value ({}) must be at most a quarter of segment_size ({})",
            opts.max_inline_value, opts.segment_size
        )));
    }
    if !(opts.gc_dead_ratio > 0.0 && opts.gc_dead_ratio <= 1.0) {
        return Err(Error::InvalidArgument("gc_dead_ratio must be in (0, 1]".into()));
    }
    if opts.memtable_max_entries == 0 {
        return Err(Error::InvalidArgument("memtable_max_entries must be positive".into()));
    }
    Ok(())
}

/// Opens or creates the store in `dir`.
pub(crate) fn open(dir: &Path, opts: Options) -> Result<Arc<Inner>> {
    let started = Instant::now();
    check_options(&opts)?;
    if !dir.exists() {
        if !opts.create_if_missing {
            return Err(Error::InvalidArgument(format!("store directory {} does not exist", dir.display())));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let dir = dir.canonicalize().map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path: dir.clone() }),
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(format!("locking {}", lock_path.display()), e)),
    }
    let sync_dir = || io::sync_dir(&dir).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e));

    let mut report = RecoveryReport::default();
    let loaded = manifest::load(&dir)?;
    report.damaged_manifests = loaded.damaged.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect();
    for (p, e) in &loaded.damaged {
        tracing::warn!(path = %p.display(), error = %e, "manifest slot damaged; using the other");
    }
    let mut seg_ids = segment::list_segments(&dir)?;
    let manifest = match loaded.manifest {
        Some(m) => m,
        None => {
            // A kill while the store was being created leaves segment 1 without any record
            // (perhaps without its header) and no valid manifest: nothing was ever written,
            // so creation starts over.
            if seg_ids == [1]
                && !has_run_files(&dir)?
                && is_zero_from(&dir.join(segment::segment_file_name(1)), SEGMENT_HEADER_LEN)?
            {
                tracing::warn!(dir = %dir.display(), "removing the empty first segment of an interrupted store creation");
                remove_if_exists(&dir.join(segment::segment_file_name(1)))?;
                seg_ids.clear();
            }
            if !seg_ids.is_empty() {
                return Err(Error::corruption(
                    dir.join(manifest::MANIFEST_FILES[0]),
                    0,
                    "no valid manifest, but log segments exist (both manifest slots are missing or damaged)",
                ));
            }
            if !opts.create_if_missing {
                return Err(Error::InvalidArgument(format!(
                    "no store in {} (create_if_missing is off)",
                    dir.display()
                )));
            }
            let seg = Segment::create(&dir, 1, opts.segment_size)?;
            drop(seg);
            sync_dir()?;
            let m = Manifest {
                generation: 1,
                last_seq: 0,
                log_segment: 1,
                log_offset: SEGMENT_HEADER_LEN as u32,
                next_segment_id: 2,
                next_run_id: 1,
                next_blob_id: 1,
                key_counts: Some(Vec::new()),
                ..Manifest::default()
            };
            m.write(&dir)?;
            sync_dir()?;
            tracing::info!(dir = %dir.display(), "created new store");
            seg_ids = vec![1];
            m
        }
    };
    report.manifest_generation = manifest.generation;

    // Finish deletions the last checkpoint recorded.
    let mut removed_any = false;
    for id in &manifest.pending_segments {
        removed_any |= remove_if_exists(&dir.join(segment::segment_file_name(*id)))?;
    }
    for id in &manifest.pending_blobs {
        removed_any |= remove_if_exists(&dir.join(blob::blob_file_name(*id)))?;
    }
    // Runs named by the manifest; other run files are leftovers of an interrupted
    // checkpoint or merge.
    let mut runs = Vec::with_capacity(manifest.runs.len());
    for id in &manifest.runs {
        let path = dir.join(run_file_name(*id));
        match Run::open(&path) {
            Ok(run) => runs.push(Arc::new(run)),
            // E.g. the newest manifest slot is damaged and the older one names runs that a
            // merge has since replaced.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::corruption(path, 0, "the manifest names a missing index run"));
            }
            Err(e) => return Err(e),
        }
    }
    let live_runs: HashSet<u64> = manifest.runs.iter().copied().collect();
    let mut max_run_id = 0;
    for ent in std::fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))? {
        let ent = ent.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = parse_run_file_name(name) {
            max_run_id = max_run_id.max(id);
            if !live_runs.contains(&id) {
                removed_any |= remove_if_exists(&ent.path())?;
            }
        } else if name.ends_with(".tmp") {
            removed_any |= remove_if_exists(&ent.path())?;
        }
    }

    let pending: HashSet<u32> = manifest.pending_segments.iter().copied().collect();
    let mut segments = BTreeMap::new();
    let newest = seg_ids.last().copied();
    for id in seg_ids.iter().copied().filter(|id| !pending.contains(id)) {
        match Segment::open(&dir, id) {
            Ok(seg) => {
                segments.insert(id, Arc::new(seg));
            }
            // A kill during a rotation, before the new segment's header was written, leaves
            // the newest segment empty or all zero: it never held a record, drop it.
            Err(e)
                if e.is_corruption()
                    && Some(id) == newest
                    && id > manifest.log_segment
                    && is_zero_from(&dir.join(segment::segment_file_name(id)), 0)? =>
            {
                tracing::warn!(segment = id, error = %e, "removing the blank segment of an interrupted rotation");
                removed_any |= remove_if_exists(&dir.join(segment::segment_file_name(id)))?;
            }
            Err(e) => return Err(e),
        }
    }
    if !segments.contains_key(&manifest.log_segment) {
        return Err(Error::corruption(
            dir.join(segment::segment_file_name(manifest.log_segment)),
            0,
            "the log segment the checkpoint replays from is missing",
        ));
    }

    let view = View {
        active: Arc::new(Memtable::with_capacity(opts.memtable_max_entries)),
        frozen: Vec::new(),
        runs,
        segments: Arc::new(segments.clone()),
    };
    let mut stats: BTreeMap<u32, SegmentStats> = manifest.segments.iter().map(|s| (s.id, *s)).collect();
    for id in segments.keys() {
        stats.entry(*id).or_insert(SegmentStats { id: *id, ..Default::default() });
    }
    let first = segments[&manifest.log_segment].clone();
    let mut w = Writer {
        active: first,
        pos: manifest.log_offset as u64,
        next_seq: manifest.last_seq + 1,
        next_segment_id: manifest.next_segment_id.max(seg_ids.last().map_or(1, |l| l + 1)),
        next_run_id: manifest.next_run_id.max(max_run_id + 1),
        next_blob_id: manifest.next_blob_id,
        stats,
        dead_blobs: Vec::new(),
        log_bytes_since_checkpoint: 0,
        buf: Vec::new(),
        positions: Vec::new(),
        count_deltas: Vec::new(),
        seg_ops: HashMap::new(),
        dead_marks: crate::dead_marks::DeadMarks::new(),
        compacting: false,
        append_map: None,
    };
    let mut key_counts: KeyCounts = match &manifest.key_counts {
        Some(c) => c.iter().map(|(b, k, e)| (*b, (*k, *e))).collect(),
        // A version-1 store: count the checkpointed keys once (O(keys), only at this upgrade).
        None => {
            tracing::warn!(dir = %dir.display(), "store written by an older version: counting its keys once");
            count_keys(&view)?
        }
    };

    // Replay the tail.
    let mut referenced_blobs = HashSet::new();
    let mut last_seq = manifest.last_seq;
    let tail: Vec<Arc<Segment>> = segments.range(manifest.log_segment..).map(|(_, s)| s.clone()).collect();
    // (tail index, offset, why, whether a valid record of the log starts right there)
    let mut damage: Option<(usize, u64, &'static str, bool)> = None;
    'segments: for (i, seg) in tail.iter().enumerate() {
        let mut pos = if i == 0 { manifest.log_offset as u64 } else { SEGMENT_HEADER_LEN };
        w.active = seg.clone();
        loop {
            let bytes = seg.bytes();
            if pos as usize > bytes.len() {
                damage = Some((i, pos, "replay position beyond segment end", false));
                break 'segments;
            }
            match record::probe(&bytes[pos as usize..]) {
                Probe::End => break,
                Probe::Record { seq, len, .. } if seq == last_seq + 1 => {
                    let rec = &bytes[pos as usize..pos as usize + len];
                    let at = lsn(seg.id(), pos + len as u64);
                    let (mut ops_len, mut ops_n) = (0u64, 0u64);
                    for op in record::ops(rec) {
                        let op = op.map_err(|why| Error::corruption(seg.path(), pos, why))?;
                        let loc = match op.kind {
                            OpKind::Put => Some(crate::entry::ValueLoc::Inline {
                                segment: seg.id(),
                                offset: (pos + op.value_offset as u64) as u32,
                                len: op.value.len() as u32,
                                crc: crc32fast::hash(op.value),
                            }),
                            OpKind::PutBlob => {
                                let loc = op.blob_loc();
                                if let Some(crate::entry::ValueLoc::Blob { id, .. }) = loc {
                                    referenced_blobs.insert(id);
                                    w.next_blob_id = w.next_blob_id.max(id + 1);
                                }
                                loc
                            }
                            _ => None,
                        };
                        let op_len = (record::OP_HEADER_LEN + op.key.len() + op.value.len()) as u64;
                        ops_len += op_len;
                        ops_n += 1;
                        apply_op(&mut w, &view, op.kind, op.key, op.version, op.expire_at_ms, loc, op_len, at, None);
                    }
                    crate::store::account_record(&mut w, seg.id(), len as u64, ops_len, ops_n);
                    last_seq = seq;
                    pos += len as u64;
                    report.replayed_records += 1;
                    report.replayed_bytes += len as u64;
                }
                // Sequence numbers are consecutive along the log, so a later one means records
                // are missing before it (e.g. a damaged record header that reads as the end of
                // its segment, after which replay moved on to the next segment).
                Probe::Record { seq, .. } if seq > last_seq => {
                    damage = Some((i, pos, "records missing before this one (sequence number gap)", true));
                    break 'segments;
                }
                Probe::Record { .. } => {
                    damage = Some((i, pos, "record with a stale sequence number", false));
                    break 'segments;
                }
                Probe::Invalid(why) => {
                    damage = Some((i, pos, why, false));
                    break 'segments;
                }
            }
        }
        w.pos = pos;
    }
    if let Some((i, pos, why, valid_here)) = damage {
        let seg = tail[i].clone();
        let later_valid = if valid_here { Some((seg.id(), pos)) } else { find_valid_after(&tail[i..], pos, last_seq) };
        if let Some((sid, off)) = later_valid {
            if !opts.repair {
                return Err(Error::corruption(
                    seg.path(),
                    pos,
                    format!(
                        "{why}; a valid record follows at segment {sid} offset {off}, so this is damage in the \
                         middle of the log, not a torn tail (open with Options::repair to discard the rest)"
                    ),
                ));
            }
            report.discarded_valid_records = true;
            tracing::error!(segment = seg.id(), offset = pos, %why, "repair: discarding the log after damaged record");
        } else {
            tracing::warn!(segment = seg.id(), offset = pos, %why, "torn log tail truncated");
        }
        report.torn_tail = Some((seg.id(), pos));
        zero_tail(&seg, pos)?;
        seg.sync()?;
        for later in &tail[i + 1..] {
            remove_if_exists(later.path())?;
            segments.remove(&later.id());
            w.stats.remove(&later.id());
            w.dead_marks.remove(later.id());
        }
        removed_any = true;
        w.active = seg;
        w.pos = pos;
    }
    apply_count_deltas(&mut key_counts, &mut w.count_deltas);
    w.next_seq = last_seq + 1;
    w.next_segment_id = w.next_segment_id.max(w.active.id() + 1);
    w.log_bytes_since_checkpoint = report.replayed_bytes;

    // Blobs: incomplete ones, and complete ones never committed: allocated after the
    // checkpoint, or outstanding at it, and not referenced by the replayed tail.
    let uncommitted: std::collections::HashSet<u64> = manifest.uncommitted_blobs.iter().copied().collect();
    let mut removed_blobs = blob::remove_incomplete_blobs(&dir)?;
    for ent in std::fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))? {
        let ent = ent.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if let Some(id) = ent.file_name().to_str().and_then(blob::parse_blob_file_name) {
            if (id >= manifest.next_blob_id || uncommitted.contains(&id)) && !referenced_blobs.contains(&id) {
                remove_if_exists(&ent.path())?;
                removed_blobs.push(id);
            } else {
                w.next_blob_id = w.next_blob_id.max(id + 1);
            }
        }
    }
    removed_any |= !removed_blobs.is_empty();
    report.removed_blobs = removed_blobs;
    if removed_any {
        sync_dir()?;
    }

    // The replayed tail may only be in the page cache (a crashed process): make it durable
    // before acknowledging anything that depends on it. With nothing replayed and nothing
    // zeroed, everything up to the checkpoint is durable already (the checkpoint waited for
    // it), and a clean reopen skips the fsync.
    if report.replayed_records > 0 || report.torn_tail.is_some() || report.discarded_valid_records {
        w.active.sync()?;
    }
    let durable = lsn(w.active.id(), w.pos);
    let next_blob_id = w.next_blob_id;
    let view = View { segments: Arc::new(segments), ..view };
    let syncer = Syncer::new(w.active.clone(), durable);
    report.duration = started.elapsed();
    tracing::info!(
        dir = %dir.display(),
        generation = manifest.generation,
        replayed_records = report.replayed_records,
        replayed_bytes = report.replayed_bytes,
        ms = report.duration.as_millis() as u64,
        "store opened"
    );
    let dead_marks_gauge = w.dead_marks.gauge();
    Ok(Arc::new(Inner {
        dir,
        durability: std::sync::atomic::AtomicU8::new(opts.durability.to_u8()),
        opts,
        lock_file: lock,
        view: ArcSwap::from_pointee(view),
        writer: Mutex::new(w),
        syncer,
        poison: Poison::default(),
        blobs: RwLock::new(Default::default()),
        maint: Mutex::new(Maint { manifest, relocated: Vec::new() }),
        merge_lock: Mutex::new(()),
        report,
        bg: Background::default(),
        counters: Counters::default(),
        dead_marks_bytes: dead_marks_gauge,
        group: Default::default(),
        key_counts: Mutex::new(key_counts),
        expire_cursor: Mutex::new(None),
        blob_ids: crate::blob_ids::BlobIds::new(next_blob_id),
        retired: Mutex::new(Vec::new()),
    }))
}

/// Counts the keys with a value in `view`'s index runs, by bucket (for stores whose manifest
/// predates key counts).
fn count_keys(view: &View) -> Result<KeyCounts> {
    let view = Arc::new(View {
        active: Arc::new(Memtable::new()),
        frozen: Vec::new(),
        runs: view.runs.clone(),
        segments: view.segments.clone(),
    });
    let mut it = crate::iter::MergeIter::new(view, crate::iter::KeyRange::all(), crate::iter::Direction::Forward, None);
    let mut counts = KeyCounts::new();
    while let Some((k, e)) = it.next_entry()? {
        if e.value.is_some() {
            let c = counts.entry(key_bucket(&k)).or_default();
            c.0 += 1;
            c.1 += (e.expire_at_ms != 0) as u64;
        }
    }
    Ok(counts)
}

/// True if every byte of the file at `path` from offset `from` on is zero (or there is none).
fn is_zero_from(path: &Path, from: u64) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let ctx = |e| Error::io(format!("reading {}", path.display()), e);
    let mut f = std::fs::File::open(path).map_err(ctx)?;
    f.seek(SeekFrom::Start(from)).map_err(ctx)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(ctx)?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

/// True if `dir` holds any index run file.
fn has_run_files(dir: &Path) -> Result<bool> {
    for ent in std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))? {
        let ent = ent.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if ent.file_name().to_str().and_then(parse_run_file_name).is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn remove_if_exists(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

/// Looks for a record that verifies, with a sequence number above `last_seq`, after `pos` in
/// `segs[0]` or anywhere in the later segments.
fn find_valid_after(segs: &[Arc<Segment>], pos: u64, last_seq: u64) -> Option<(u32, u64)> {
    for (i, seg) in segs.iter().enumerate() {
        let bytes = seg.bytes();
        let mut p = if i == 0 { pos as usize + RECORD_ALIGN } else { SEGMENT_HEADER_LEN as usize };
        p = p.div_ceil(RECORD_ALIGN) * RECORD_ALIGN;
        while p + record::RECORD_HEADER_LEN <= bytes.len() {
            if bytes[p + 8] == record::RECORD_KIND_BATCH {
                if let Probe::Record { seq, .. } = record::probe(&bytes[p..]) {
                    if seq > last_seq {
                        return Some((seg.id(), p as u64));
                    }
                }
            }
            p += RECORD_ALIGN;
        }
    }
    None
}

/// Zeroes a segment from `pos` to its end (skipping ranges that are already zero).
fn zero_tail(seg: &Segment, pos: u64) -> Result<()> {
    const STEP: usize = 1 << 20;
    let zeroes = vec![0u8; STEP];
    let bytes = seg.bytes();
    let mut p = pos as usize;
    while p < bytes.len() {
        let n = STEP.min(bytes.len() - p);
        if bytes[p..p + n].iter().any(|&b| b != 0) {
            seg.write_at(&zeroes[..n], p as u64)?;
        }
        p += n;
    }
    Ok(())
}
